/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_scep: SCEP pkiMessages from client to server and back, the refusals
 * of RFC 8894's weak or unexpected shapes (built here with OpenSSL's CMS
 * API), and requests and replies of a real peer, micromdm's scepclient
 * and scepserver 2.1.0 (t/fixtures/scep). Usage: unit_scep T_DIR. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ota_cms.h"
#include "ota_scep.h"
#include "ota_pool.h"
#include "unit.h"

#define OID_MESSAGE_TYPE "2.16.840.1.113733.1.9.2"
#define OID_SENDER_NONCE "2.16.840.1.113733.1.9.5"
#define OID_TID          "2.16.840.1.113733.1.9.7"
#define CHALLENGE        "s3cret-Challenge"

static ota_identity *ca, *other;

typedef struct device {
    EVP_PKEY *key;
    X509 *self;
    X509_REQ *csr;
    ota_scep_client c;
} device;

/* ---- helpers ---- */

static X509_NAME *subject_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();

    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                               (const unsigned char *)"mod_ota_enroll test",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    return n;
}

/* A device with a fresh RSA key, its self-signed signer and a CSR. */
static device *device_new(const char *cn, const char *challenge,
                          unsigned bits)
{
    device *d = apr_pcalloc(pool, sizeof(*d));
    X509_NAME *name = subject_name(cn);
    apr_status_t rv;

    d->key = owned_key(EVP_RSA_gen(bits));
    rv = d->key ? ota_scep_self_signed(&d->self, d->key, "SCEP SIGNER", 1,
                                       pool) : APR_ENOMEM;
    if (rv == APR_SUCCESS) {
        rv = ota_scep_csr(&d->csr, d->key, name, challenge, pool);
    }
    X509_NAME_free(name);
    if (rv != APR_SUCCESS) {
        printf("# device %s: %s\n", cn, ota_openssl_error(pool));
        return NULL;
    }
    d->c.key = d->key;
    d->c.cert = d->self;
    d->c.recipient = ca->cert;
    d->c.type = OTA_SCEP_PKCS_REQ;
    d->c.csr = d->csr;
    return d;
}

static ota_scep_sent *send_req(const ota_scep_client *c)
{
    ota_scep_sent *s = NULL;

    if (ota_scep_request_build(&s, c, pool) != APR_SUCCESS) {
        printf("# request_build: %s\n", ota_openssl_error(pool));
        return NULL;
    }
    return s;
}

/* The server's verdict: -1 ok, else the failInfo; -2 if parse failed. */
static int quiet;

static int verdict(const unsigned char *der, apr_size_t len,
                   const ota_scep_policy *policy, ota_scep_request **out)
{
    ota_scep_request *r = NULL;

    if (ota_scep_request_parse(&r, der, len, ca, policy, pool)
        != APR_SUCCESS || !r || !r->detail) {
        return -2;
    }
    if (out) {
        *out = r;
    }
    if (!r->ok && !quiet) {
        printf("# %s: %s\n", ota_scep_fail_info_name(r->fail_info),
               r->detail);
    }
    return r->ok ? -1 : (int)r->fail_info;
}

static int verdict_of(const ota_scep_sent *s, const ota_scep_policy *policy,
                      ota_scep_request **out)
{
    return s ? verdict(s->der, s->len, policy, out) : -3;
}

/* A certificate for the CSR, issued by the test CA with the X509 API. */
static X509 *issue(X509_REQ *csr)
{
    X509 *x = X509_new();
    int ok = x && X509_set_version(x, X509_VERSION_3)
             && ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5CE9)
             && X509_set_issuer_name(x, X509_get_subject_name(ca->cert))
             && X509_set_subject_name(x, X509_REQ_get_subject_name(csr))
             && X509_set_pubkey(x, X509_REQ_get0_pubkey(csr))
             && X509_gmtime_adj(X509_getm_notBefore(x), -60)
             && X509_gmtime_adj(X509_getm_notAfter(x), 86400)
             && X509_sign(x, ca->key, EVP_sha256()) > 0;

    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return ota_own_x509(pool, x);
}

static const unsigned char *reply(apr_size_t *len, const ota_scep_request *r,
                                  ota_scep_status st, ota_scep_fail_info f,
                                  const char *text, X509 *issued)
{
    const unsigned char *der = NULL;

    if (ota_scep_reply_build(&der, len, ca, r, st, f, text, issued, pool)
        != APR_SUCCESS) {
        printf("# reply_build: %s\n", ota_openssl_error(pool));
        *len = 0;
        return NULL;
    }
    return der;
}

static ota_scep_reply *read_reply(const unsigned char *der, apr_size_t len,
                                  const ota_scep_sent *s, device *d,
                                  X509 *signer, int flags)
{
    ota_scep_reply *rep = NULL;

    if (!der || !s || ota_scep_reply_parse(&rep, der, len, s, &d->c, signer,
                                           flags, pool) != APR_SUCCESS) {
        return NULL;
    }
    if (!rep->ok) {
        printf("# reply refused: %s\n", rep->detail);
    }
    return rep;
}

static int same_nonce(const ota_scep_request *r, const ota_scep_sent *s)
{
    return r && s && r->sender_nonce_len == sizeof(s->sender_nonce)
           && memcmp(r->sender_nonce, s->sender_nonce,
                     sizeof(s->sender_nonce)) == 0;
}

/* ---- hand-built messages ---- */

static unsigned char *csr_der(X509_REQ *csr, apr_size_t *len)
{
    unsigned char *buf = NULL, *copy;
    int n = i2d_X509_REQ(csr, &buf);

    *len = n > 0 ? (apr_size_t)n : 0;
    copy = n > 0 ? apr_pmemdup(pool, buf, n) : NULL;
    OPENSSL_free(buf);
    return copy;
}

/* An EnvelopedData of d's CSR to certs with cipher. */
static unsigned char *envelope(apr_size_t *len, device *d, X509 *to,
                               const EVP_CIPHER *cipher)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    apr_size_t n;
    unsigned char *data = csr_der(d->csr, &n);
    BIO *in = BIO_new_mem_buf(data, (int)n);
    CMS_ContentInfo *cms;

    sk_X509_push(certs, to);
    cms = CMS_encrypt(certs, in, cipher, CMS_BINARY);
    BIO_free(in);
    sk_X509_free(certs);
    return der_of(cms, len);
}

/* The same CSR behind a password (PWRI) or in an AuthEnvelopedData. */
static unsigned char *envelope_other(apr_size_t *len, device *d, int auth)
{
    apr_size_t n;
    unsigned char *data = csr_der(d->csr, &n);
    BIO *in = BIO_new_mem_buf(data, (int)n);
    CMS_ContentInfo *cms;
    int ok;

    if (auth) {
        cms = CMS_AuthEnvelopedData_create(EVP_aes_256_gcm());
        ok = cms && CMS_add1_recipient_cert(cms, ca->cert, 0);
    }
    else {
        cms = CMS_EnvelopedData_create(EVP_aes_256_cbc());
        ok = cms && CMS_add0_recipient_password(
                        cms, -1, NID_undef, NID_undef,
                        (unsigned char *)OPENSSL_strdup("password"), 8, NULL);
    }
    if (!ok || CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    BIO_free(in);
    return der_of(cms, len);
}

typedef struct {
    const char *type;           /* messageType, NULL: none */
    const char *tid;            /* transactionID, NULL: none */
    int nonce;                  /* add a senderNonce */
    const EVP_MD *md;
    int flags;                  /* for CMS_add1_signer: CMS_NOCERTS */
    int two_signers;            /* `other` signs too */
} hand;

/* A pkiMessage signed by d around content, with the attributes asked. */
static unsigned char *signed_by(apr_size_t *len, device *d,
                                const unsigned char *content, apr_size_t n,
                                const hand *h)
{
    int f = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    unsigned char nonce[16] = "0123456789abcdef";
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, f);
    CMS_SignerInfo *si;
    BIO *in = BIO_new_mem_buf(content, (int)n);
    int ok;

    si = cms && content ? CMS_add1_signer(cms, d->self, d->key, h->md,
                                          f | h->flags) : NULL;
    ok = si
         && (!h->type || CMS_signed_add1_attr_by_txt(
                             si, OID_MESSAGE_TYPE, V_ASN1_PRINTABLESTRING,
                             h->type, (int)strlen(h->type)))
         && (!h->tid || CMS_signed_add1_attr_by_txt(
                            si, OID_TID, V_ASN1_PRINTABLESTRING, h->tid,
                            (int)strlen(h->tid)))
         && (!h->nonce || CMS_signed_add1_attr_by_txt(
                              si, OID_SENDER_NONCE, V_ASN1_OCTET_STRING,
                              nonce, 16))
         && (!h->two_signers
             || CMS_add1_signer(cms, other->cert, other->key, h->md, f))
         && CMS_final(cms, in, NULL, CMS_BINARY) == 1;
    BIO_free(in);
    if (!ok) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    return der_of(cms, len);
}

static const hand full = { "19", "TID-HAND-1", 1, NULL, 0, 0 };

static int hand_verdict(device *d, const unsigned char *env, apr_size_t n,
                        const hand *h, ota_scep_request **r)
{
    hand with_md = *h;
    apr_size_t len;
    unsigned char *der;

    with_md.md = h->md ? h->md : EVP_sha256();
    der = signed_by(&len, d, env, n, &with_md);
    return der ? verdict(der, len, NULL, r) : -3;
}

/* ---- tests ---- */

static void test_init(void)
{
    ota_scep_request *r = NULL;
    ota_scep_sent *s = NULL;
    ota_scep_client c;

    memset(&c, 0, sizeof(c));
    is_int(ota_scep_request_parse(&r, (const unsigned char *)"x", 1, ca,
                                  NULL, pool), APR_EINIT,
           "parse before ota_scep_init: APR_EINIT");
    is_int(ota_scep_request_build(&s, &c, pool), APR_EINIT,
           "build before ota_scep_init: APR_EINIT");
    is_int(ota_scep_init(), APR_SUCCESS, "ota_scep_init");
    is_int(ota_scep_init(), APR_SUCCESS, "ota_scep_init again (idempotent)");
    is_str(OBJ_nid2sn(OBJ_txt2nid(OID_TID)), "scepTransactionID",
           "transactionID OID registered once");
    is_str(OBJ_nid2sn(OBJ_txt2nid("1.3.6.1.5.5.7.24.1")), "scepFailInfoText",
           "failInfoText OID registered");
    is_str(ota_scep_fail_info_name(OTA_SCEP_BAD_MESSAGE_CHECK),
           "badMessageCheck", "failInfo names");
    is_str(ota_scep_message_type_name(OTA_SCEP_GET_CERT_INITIAL), "CertPoll",
           "GetCertInitial is CertPoll (20)");
    ok(OTA_SCEP_CERT_REP == 3 && OTA_SCEP_RENEWAL_REQ == 17
       && OTA_SCEP_PKCS_REQ == 19 && OTA_SCEP_CERT_POLL == 20
       && OTA_SCEP_GET_CERT == 21 && OTA_SCEP_GET_CRL == 22
       && OTA_SCEP_SUCCESS == 0 && OTA_SCEP_FAILURE == 2
       && OTA_SCEP_PENDING == 3 && OTA_SCEP_BAD_ALG == 0
       && OTA_SCEP_BAD_CERT_ID == 4, "RFC 8894 values");
}

static void test_transaction_id(void)
{
    device *d = device_new("tid", NULL, 2048);
    const char *t1 = d ? ota_scep_transaction_id(d->key, pool) : NULL;
    const char *t2 = d ? ota_scep_transaction_id(d->key, pool) : NULL;
    device *e = device_new("tid2", NULL, 2048);

    ok(t1 && strlen(t1) == 64 && strspn(t1, "0123456789ABCDEF") == 64,
       "transactionID: 64 hex digits (SHA-256 of the public key)");
    is_str(t1, t2, "transactionID stable per key");
    ok(e && t1 && strcmp(t1, ota_scep_transaction_id(e->key, pool)) != 0,
       "transactionID differs between keys");
}

static void check_success_reply(device *d, ota_scep_sent *s,
                                ota_scep_request *r, X509 *issued)
{
    apr_size_t len;
    const unsigned char *der = reply(&len, r, OTA_SCEP_SUCCESS, 0, NULL,
                                     issued);
    ota_scep_reply *rep = read_reply(der, len, s, d, ca->cert, 0);

    ok(rep && rep->ok, "PKCSReq: client reads the CertRep");
    is_int(rep ? (int)rep->status : -1, OTA_SCEP_SUCCESS, "CertRep SUCCESS");
    ok(rep && rep->cert && X509_cmp(rep->cert, issued) == 0,
       "the issued certificate comes back");
    is_int(rep && rep->certs ? sk_X509_num(rep->certs) : -1, 1,
           "the payload holds the issued certificate alone");
    is_str(rep ? rep->digest_name : NULL, "SHA256", "CertRep signed SHA-256");
    is_int(rep ? rep->cipher_nid : 0, NID_aes_256_cbc,
           "CertRep enciphered like the request (AES-256-CBC)");
    ok(rep && rep->sender_nonce_len == 16
       && memcmp(rep->sender_nonce, s->sender_nonce, 16) != 0,
       "CertRep carries a fresh 16-byte senderNonce");
    rep = read_reply(der, len, s, d, other->cert, 0);
    ok(rep && !rep->ok, "CertRep refused when another cert must sign it");
}

static X509 *test_pkcsreq(device *d)
{
    ota_scep_sent *s = d ? send_req(&d->c) : NULL;
    ota_scep_request *r = NULL;
    X509 *issued;

    is_int(verdict_of(s, NULL, &r), -1, "PKCSReq round trip: server ok");
    if (!r || !r->ok) {
        return NULL;
    }
    is_int(r->type, OTA_SCEP_PKCS_REQ, "messageType PKCSReq");
    is_str(r->transaction_id, ota_scep_transaction_id(d->key, pool),
           "transactionID read");
    ok(same_nonce(r, s), "senderNonce read (16 bytes)");
    is_str(r->challenge, CHALLENGE, "challengePassword read from the CSR");
    ok(r->signer && X509_cmp(r->signer, d->self) == 0,
       "signer is the self-signed certificate");
    ok(r->signer_key_is_csr_key, "signer key is the CSR key");
    ok(r->csr && X509_NAME_cmp(X509_REQ_get_subject_name(r->csr),
                               X509_REQ_get_subject_name(d->csr)) == 0,
       "CSR subject read");
    is_int(r->certs ? sk_X509_num(r->certs) : -1, 1,
           "certificates of the message exposed");
    is_str(r->digest_name, "SHA256", "digest SHA-256");
    is_int(r->cipher_nid, NID_aes_256_cbc, "cipher AES-256-CBC");
    ok(r->replyable, "replyable");
    issued = issue(r->csr);
    ok(issued != NULL, "test CA issues a certificate for the CSR");
    if (issued) {
        check_success_reply(d, s, r, issued);
    }
    return issued;
}

static void test_failure_pending(device *d)
{
    ota_scep_sent *s = d ? send_req(&d->c) : NULL;
    ota_scep_request *r = NULL;
    ota_scep_reply *rep;
    const unsigned char *der;
    apr_size_t len = 0;

    verdict_of(s, NULL, &r);
    der = r ? reply(&len, r, OTA_SCEP_FAILURE, OTA_SCEP_BAD_REQUEST,
                    "challenge expired", NULL) : NULL;
    rep = read_reply(der, len, s, d, ca->cert, 0);
    ok(rep && rep->ok, "FAILURE CertRep read");
    is_int(rep ? (int)rep->status : -1, OTA_SCEP_FAILURE, "pkiStatus FAILURE");
    is_int(rep ? (int)rep->fail_info : -1, OTA_SCEP_BAD_REQUEST,
           "failInfo badRequest");
    is_str(rep ? rep->fail_text : NULL, "challenge expired",
           "failInfoText read");
    ok(rep && !rep->cert, "FAILURE holds no certificate");
    der = r ? reply(&len, r, OTA_SCEP_PENDING, 0, NULL, NULL) : NULL;
    rep = read_reply(der, len, s, d, ca->cert, 0);
    ok(rep && rep->ok && rep->status == OTA_SCEP_PENDING && !rep->cert,
       "PENDING CertRep read, no certificate");
    ok(r && ota_scep_reply_build(&der, &len, ca, r, OTA_SCEP_SUCCESS, 0,
                                 NULL, NULL, pool) == APR_EINVAL,
       "SUCCESS without a certificate: APR_EINVAL");
}

static void test_echo(device *d)
{
    ota_scep_sent *s = d ? send_req(&d->c) : NULL;
    ota_scep_sent forged;
    ota_scep_request *r = NULL;
    ota_scep_reply *rep;
    const unsigned char *der;
    apr_size_t len = 0;

    verdict_of(s, NULL, &r);
    der = r ? reply(&len, r, OTA_SCEP_PENDING, 0, NULL, NULL) : NULL;
    if (!der) {
        ok(0, "reply to check echoes");
        return;
    }
    forged = *s;
    forged.sender_nonce[3] ^= 1;
    rep = read_reply(der, len, &forged, d, ca->cert, 0);
    ok(rep && !rep->ok, "client refuses a recipientNonce not its own");
    forged = *s;
    forged.transaction_id = "another";
    rep = read_reply(der, len, &forged, d, ca->cert, 0);
    ok(rep && !rep->ok, "client refuses another transactionID");
}

static void test_tampered(device *d)
{
    ota_scep_sent *s = d ? send_req(&d->c) : NULL;
    unsigned char *copy;
    ota_scep_request *r = NULL;

    if (!s) {
        ok(0, "request to tamper with");
        return;
    }
    copy = apr_pmemdup(pool, s->der, s->len);
    copy[s->len - 8] ^= 0x01;     /* inside the SignerInfo's signature */
    is_int(verdict(copy, s->len, NULL, &r), OTA_SCEP_BAD_MESSAGE_CHECK,
           "flipped signature byte: badMessageCheck");
    ok(r && r->replyable, "... and still answerable");
}

/* A signed contentType attribute that names another type than the
 * content (RFC 5652 5.3; OpenSSL's CMS_verify does not check it). */
static void test_content_type_bound(device *d)
{
    ota_scep_client c;
    ota_scep_sent *s;
    ota_scep_request *r = NULL;

    if (!d) {
        ok(0, "device for the contentType forgery");
        return;
    }
    c = d->c;
    c.forged_content_type = NID_id_smime_ct_TSTInfo;
    s = send_req(&c);
    is_int(verdict_of(s, NULL, &r), OTA_SCEP_BAD_MESSAGE_CHECK,
           "signed contentType TSTInfo over id-data: badMessageCheck");
    ok(r && r->detail && strstr(r->detail, "contentType"),
       "... saying the contentType attribute");
    c.forged_content_type = 0;
    is_int(verdict_of(send_req(&c), NULL, NULL), -1,
           "the same request, not forged: ok (control)");
}

/* Enveloped to another certificate, or with a corrupted ciphertext: the
 * same verdict and the same words, so neither says which. */
static void test_no_oracle(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_request *r1 = NULL, *r2 = NULL, *r3 = NULL;
    apr_size_t n;
    unsigned char *env = envelope(&n, d, ca->cert, EVP_aes_256_cbc());

    c.recipient = other->cert;
    is_int(verdict_of(send_req(&c), NULL, &r1), OTA_SCEP_BAD_MESSAGE_CHECK,
           "enveloped to another certificate: badMessageCheck");
    if (env) {
        env[n - 20] ^= 0x40;
    }
    is_int(hand_verdict(d, env, n, &full, &r2), OTA_SCEP_BAD_MESSAGE_CHECK,
           "corrupted ciphertext: badMessageCheck");
    ok(r1 && r2 && strcmp(r1->detail, r2->detail) == 0,
       "... with the same detail text");
    if (env) {
        env[n - 1] ^= 0x01;     /* the last block: the padding */
    }
    is_int(hand_verdict(d, env, n, &full, &r3), OTA_SCEP_BAD_MESSAGE_CHECK,
           "corrupted padding: badMessageCheck");
    ok(r1 && r3 && strcmp(r1->detail, r3->detail) == 0,
       "... with the same detail text");
}

static void test_recipient_kinds(device *d)
{
    EVP_PKEY *ec = owned_key(EVP_EC_gen("P-256"));
    X509 *ec_cert = NULL;
    apr_size_t n = 0;
    unsigned char *env;

    env = envelope_other(&n, d, 0);
    is_int(hand_verdict(d, env, n, &full, NULL), OTA_SCEP_BAD_ALG,
           "password recipient (PWRI): badAlg");
    env = envelope_other(&n, d, 1);
    is_int(hand_verdict(d, env, n, &full, NULL), OTA_SCEP_BAD_ALG,
           "AuthEnvelopedData: badAlg");
    if (ec) {
        ota_scep_self_signed(&ec_cert, ec, "EC recipient", 1, pool);
    }
    env = ec_cert ? envelope(&n, d, ec_cert, EVP_aes_256_cbc()) : NULL;
    is_int(hand_verdict(d, env, n, &full, NULL), OTA_SCEP_BAD_ALG,
           "key agreement recipient (KARI, EC): badAlg");
    env = envelope(&n, d, ca->cert, EVP_aes_256_cbc());
    is_int(hand_verdict(d, env, n, &full, NULL), -1,
           "the same request by hand, key transport: ok");
}

static void test_ciphers(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_policy triple = { 0, 1, 0 };
    ota_scep_request *r = NULL;
    ota_scep_sent *s;
    ota_scep_reply *rep;
    const unsigned char *der;
    apr_size_t len = 0;

    c.cipher = EVP_des_ede3_cbc();
    s = send_req(&c);
    is_int(verdict_of(s, NULL, NULL), OTA_SCEP_BAD_ALG,
           "3DES request refused by default: badAlg");
    is_int(verdict_of(s, &triple, &r), -1, "3DES accepted when allowed");
    der = r && r->ok ? reply(&len, r, OTA_SCEP_SUCCESS, 0, NULL,
                             issue(r->csr)) : NULL;
    rep = read_reply(der, len, s, d, ca->cert, 0);
    ok(rep && rep->ok && rep->cert, "3DES client reads its certificate");
    is_int(rep ? rep->cipher_nid : 0, NID_des_ede3_cbc,
           "reply enciphered with 3DES, as the request was");
    c.cipher = EVP_aes_128_cbc();
    s = send_req(&c);
    is_int(verdict_of(s, NULL, &r), -1, "AES-128-CBC accepted");
    der = r && r->ok ? reply(&len, r, OTA_SCEP_SUCCESS, 0, NULL,
                             issue(r->csr)) : NULL;
    rep = read_reply(der, len, s, d, ca->cert, 0);
    is_int(rep ? rep->cipher_nid : 0, NID_aes_128_cbc,
           "reply enciphered with AES-128-CBC, as the request was");
    c.cipher = EVP_aes_256_gcm();
    is_int(verdict_of(send_req(&c), NULL, NULL), OTA_SCEP_BAD_ALG,
           "AES-256-GCM (an AuthEnvelopedData): badAlg");
}

static void test_digests(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_policy sha1 = { 1, 0, 0 };
    ota_scep_sent *s;
    ota_scep_request *r = NULL;

    c.md = EVP_sha1();
    s = send_req(&c);
    is_int(verdict_of(s, NULL, &r), OTA_SCEP_BAD_ALG,
           "SHA-1 refused by default: badAlg");
    ok(r && r->replyable, "... answerable");
    is_int(verdict_of(s, &sha1, NULL), -1, "SHA-1 accepted when allowed");
    c.md = EVP_sha512();
    is_int(verdict_of(send_req(&c), NULL, NULL), -1, "SHA-512 accepted");
    c.md = EVP_md5();
    s = send_req(&c);
    is_int(verdict_of(s, &sha1, NULL), OTA_SCEP_BAD_ALG,
           "MD5 refused even when SHA-1 is allowed: badAlg");
}

static void test_shapes(device *d)
{
    apr_size_t n;
    unsigned char *env = envelope(&n, d, ca->cert, EVP_aes_256_cbc());
    hand h;
    ota_scep_request *r = NULL;
    const unsigned char *der = NULL;
    apr_size_t len = 0;

    h = full;
    h.tid = NULL;
    is_int(hand_verdict(d, env, n, &h, &r), OTA_SCEP_BAD_REQUEST,
           "no transactionID: badRequest");
    ok(r && !r->replyable, "... and no CertRep can answer it");
    ok(r && ota_scep_reply_build(&der, &len, ca, r, OTA_SCEP_FAILURE,
                                 OTA_SCEP_BAD_REQUEST, NULL, NULL, pool)
            == APR_EINVAL, "... reply_build says APR_EINVAL");
    h = full;
    h.type = NULL;
    is_int(hand_verdict(d, env, n, &h, &r), OTA_SCEP_BAD_REQUEST,
           "no messageType: badRequest");
    ok(r && r->replyable, "... answerable (transactionID and nonce known)");
    h = full;
    h.nonce = 0;
    is_int(hand_verdict(d, env, n, &h, &r), OTA_SCEP_BAD_REQUEST,
           "no senderNonce: badRequest");
    h = full;
    h.type = "3";
    is_int(hand_verdict(d, env, n, &h, NULL), OTA_SCEP_BAD_REQUEST,
           "messageType CertRep sent to the server: badRequest");
    h = full;
    h.type = "19x";
    is_int(hand_verdict(d, env, n, &h, NULL), OTA_SCEP_BAD_REQUEST,
           "messageType not a number: badRequest");
    h = full;
    h.tid = "tid\x01";
    is_int(hand_verdict(d, env, n, &h, NULL), OTA_SCEP_BAD_REQUEST,
           "transactionID with a control character: badRequest");
    is_int(hand_verdict(d, (const unsigned char *)"hello", 5, &full, NULL),
           OTA_SCEP_BAD_REQUEST, "content not CMS: badRequest");
    h = full;
    h.md = EVP_sha256();
    der = signed_by(&len, d, env, n, &h);
    is_int(hand_verdict(d, der, len, &full, NULL), OTA_SCEP_BAD_REQUEST,
           "content a SignedData, not an EnvelopedData: badRequest");
    h = full;
    h.two_signers = 1;
    is_int(hand_verdict(d, env, n, &h, NULL), OTA_SCEP_BAD_REQUEST,
           "two SignerInfos: badRequest");
    h = full;
    h.flags = CMS_NOCERTS;
    is_int(hand_verdict(d, env, n, &h, &r), OTA_SCEP_BAD_REQUEST,
           "signer certificate left out: badRequest");
    ok(r && r->replyable, "... answerable");
}

static int defined_verdict(const unsigned char *der, apr_size_t len)
{
    int v = verdict(der, len, NULL, NULL);

    return v == -1 || (v >= OTA_SCEP_BAD_ALG && v <= OTA_SCEP_BAD_CERT_ID);
}

static void test_garbage(device *d)
{
    ota_scep_sent *s = d ? send_req(&d->c) : NULL;
    unsigned char junk[1024], *copy, *longer;
    apr_size_t i, bad = 0, flips = 0;

    RAND_bytes(junk, sizeof(junk));
    junk[0] = 0x30;
    is_int(verdict(junk, sizeof(junk), NULL, NULL), OTA_SCEP_BAD_REQUEST,
           "random bytes: badRequest");
    is_int(verdict(junk, 0, NULL, NULL), OTA_SCEP_BAD_REQUEST,
           "empty body: badRequest");
    if (!s) {
        ok(0, "request to cut");
        return;
    }
    quiet = 1;
    for (i = 0; i < s->len; i++) {
        bad += verdict(s->der, i, NULL, NULL) == OTA_SCEP_BAD_REQUEST;
    }
    is_int(bad, s->len, "every truncation refused (badRequest)");
    longer = apr_palloc(pool, s->len + 1);
    memcpy(longer, s->der, s->len);
    longer[s->len] = 0;
    is_int(verdict(longer, s->len + 1, NULL, NULL), OTA_SCEP_BAD_REQUEST,
           "trailing byte: badRequest");
    copy = apr_palloc(pool, s->len);
    for (i = 0; i < s->len; i += 37) {
        memcpy(copy, s->der, s->len);
        copy[i] ^= 0xA5;
        flips += defined_verdict(copy, s->len);
    }
    quiet = 0;
    is_int(flips, (s->len + 36) / 37, "byte flips: defined verdicts only");
}

static void test_poll(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_request *r = NULL;
    ota_scep_sent *s;
    ota_scep_reply *rep;
    const unsigned char *der;
    apr_size_t len = 0;
    ASN1_INTEGER *serial = ASN1_INTEGER_new();

    c.type = OTA_SCEP_GET_CERT_INITIAL;
    c.csr = NULL;
    c.issuer = X509_get_subject_name(ca->cert);
    c.subject = X509_REQ_get_subject_name(d->csr);
    s = send_req(&c);
    is_int(verdict_of(s, NULL, &r), -1, "GetCertInitial: server ok");
    ok(r && r->type == OTA_SCEP_CERT_POLL && r->issuer && r->subject
       && X509_NAME_cmp(r->issuer, c.issuer) == 0
       && X509_NAME_cmp(r->subject, c.subject) == 0 && !r->csr,
       "GetCertInitial: issuer and subject read");
    der = r && r->ok ? reply(&len, r, OTA_SCEP_SUCCESS, 0, NULL,
                             issue(d->csr)) : NULL;
    rep = read_reply(der, len, s, d, ca->cert, 0);
    ok(rep && rep->ok && rep->status == OTA_SCEP_SUCCESS && rep->cert
       && EVP_PKEY_eq(X509_get0_pubkey(rep->cert), d->key) == 1,
       "GetCertInitial: the certificate comes back");
    ASN1_INTEGER_set(serial, 0x5CE9);
    c.type = OTA_SCEP_GET_CERT;
    c.subject = NULL;
    c.serial = serial;
    is_int(verdict_of(send_req(&c), NULL, &r), -1, "GetCert: server ok");
    ok(r && r->serial && ASN1_INTEGER_cmp(r->serial, serial) == 0
       && X509_NAME_cmp(r->issuer, c.issuer) == 0,
       "GetCert: issuer and serial read");
    ASN1_INTEGER_free(serial);
}

/* A CRL of the test CA with one entry, DER. */
static const unsigned char *test_crl(apr_size_t *len)
{
    X509_CRL *crl = X509_CRL_new();
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = ASN1_INTEGER_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    unsigned char *der = NULL;
    const unsigned char *copy = NULL;
    int n = -1;

    if (crl && rev && serial && now && ASN1_INTEGER_set(serial, 0x77)
        && X509_REVOKED_set_serialNumber(rev, serial)
        && X509_REVOKED_set_revocationDate(rev, now)
        && X509_CRL_add0_revoked(crl, rev)
        && X509_CRL_set_version(crl, X509_CRL_VERSION_2)
        && X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert))
        && X509_CRL_set1_lastUpdate(crl, now)
        && X509_CRL_sign(crl, ca->key, EVP_sha256())) {
        rev = NULL;
        n = i2d_X509_CRL(crl, &der);
    }
    if (n > 0) {
        copy = apr_pmemdup(pool, der, n);
        *len = (apr_size_t)n;
    }
    OPENSSL_free(der);
    X509_REVOKED_free(rev);
    X509_CRL_free(crl);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(now);
    return copy;
}

/* The CRLs in a CertRep's envelope, opened with the device's key. */
static int reply_crls(const unsigned char *der, apr_size_t len, device *d)
{
    const unsigned char *p = der;
    CMS_ContentInfo *rep = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    CMS_ContentInfo *env = NULL, *inner = NULL;
    BIO *content = BIO_new(BIO_s_mem()), *plain = BIO_new(BIO_s_mem());
    STACK_OF(X509_CRL) *crls = NULL;
    int n = -1;

    if (rep && content && plain
        && CMS_verify(rep, NULL, NULL, NULL, content,
                      CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1
        && (env = d2i_CMS_bio(content, NULL)) != NULL
        && CMS_decrypt(env, d->key, d->self, NULL, plain, CMS_BINARY) == 1
        && (inner = d2i_CMS_bio(plain, NULL)) != NULL
        && (crls = CMS_get1_crls(inner)) != NULL) {
        n = sk_X509_CRL_num(crls);
    }
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    CMS_ContentInfo_free(inner);
    CMS_ContentInfo_free(env);
    CMS_ContentInfo_free(rep);
    BIO_free(content);
    BIO_free(plain);
    return n;
}

/* GetCRL: read like GetCert, answered with the CRL enveloped to the
 * requester. */
static void test_get_crl(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_request *r = NULL;
    const unsigned char *crl, *der = NULL;
    apr_size_t crl_len = 0, len = 0;
    ASN1_INTEGER *serial = ASN1_INTEGER_new();

    ASN1_INTEGER_set(serial, 0x5CE9);
    c.type = OTA_SCEP_GET_CRL;
    c.csr = NULL;
    c.issuer = X509_get_subject_name(ca->cert);
    c.serial = serial;
    is_int(verdict_of(send_req(&c), NULL, &r), -1, "GetCRL: server ok");
    crl = test_crl(&crl_len);
    ok(r && crl && ota_scep_reply_crl(&der, &len, ca, r, crl, crl_len, pool)
                   == APR_SUCCESS, "GetCRL: CertRep with the CRL built");
    is_int(der ? reply_crls(der, len, d) : -1, 1,
           "GetCRL: the requester opens it and finds the one CRL");
    ok(r && ota_scep_reply_crl(&der, &len, ca, r,
                               (const unsigned char *)"junk", 4, pool)
            == APR_EINVAL, "GetCRL: an unreadable CRL is refused");
    ASN1_INTEGER_free(serial);
}

static void test_renewal(device *d, X509 *issued)
{
    device *n = device_new("renewed", NULL, 2048);
    ota_scep_request *r = NULL;

    if (!n || !issued) {
        ok(0, "renewal set up");
        return;
    }
    n->c.type = OTA_SCEP_RENEWAL_REQ;
    n->c.key = d->key;
    n->c.cert = issued;
    is_int(verdict_of(send_req(&n->c), NULL, &r), -1,
           "RenewalReq signed by the issued certificate: ok");
    ok(r && r->type == OTA_SCEP_RENEWAL_REQ && !r->challenge,
       "RenewalReq, no challenge");
    ok(r && r->signer && X509_cmp(r->signer, issued) == 0
       && !r->signer_key_is_csr_key,
       "signer is the old certificate, the CSR has a new key");
}

static void test_key_size(void)
{
    device *small = device_new("small", CHALLENGE, 1024);
    ota_scep_policy p1024 = { 0, 0, 1024 };
    ota_scep_sent *s = small ? send_req(&small->c) : NULL;

    is_int(verdict_of(s, NULL, NULL), OTA_SCEP_BAD_ALG,
           "RSA-1024 signer refused by default: badAlg");
    is_int(verdict_of(s, &p1024, NULL), -1,
           "RSA-1024 accepted when the policy allows 1024");
}

/* The verdict on d's request with a CSR carrying attribute a. */
static int csr_attr_verdict(device *d, X509_ATTRIBUTE *a,
                            ota_scep_request **r)
{
    X509_REQ *csr = X509_REQ_new();
    X509_REQ *saved = d->csr;
    int v = -3;

    if (a && csr
        && X509_REQ_set_subject_name(csr, X509_REQ_get_subject_name(saved))
        && X509_REQ_set_pubkey(csr, d->key) && X509_REQ_add1_attr(csr, a)
        && X509_REQ_sign(csr, d->key, EVP_sha256()) > 0) {
        d->c.csr = csr;
        v = verdict_of(send_req(&d->c), NULL, r);
        d->c.csr = saved;
    }
    X509_ATTRIBUTE_free(a);
    X509_REQ_free(csr);
    return v;
}

static X509_ATTRIBUTE *challenge_attr(int type, const char *value)
{
    return X509_ATTRIBUTE_create_by_NID(NULL, NID_pkcs9_challengePassword,
                                        type, value, (int)strlen(value));
}

/* challengePassword as older clients send it, and malformed. */
static void test_challenge_forms(device *d)
{
    ota_scep_request *r = NULL;
    X509_ATTRIBUTE *two = challenge_attr(V_ASN1_UTF8STRING, "one");

    is_int(csr_attr_verdict(d, challenge_attr(V_ASN1_PRINTABLESTRING,
                                              "Printable1"), &r), -1,
           "challengePassword as PrintableString: ok");
    is_str(r ? r->challenge : NULL, "Printable1", "... and read");
    if (two) {
        X509_ATTRIBUTE_set1_data(two, V_ASN1_UTF8STRING, "two", 3);
    }
    is_int(csr_attr_verdict(d, two, NULL), OTA_SCEP_BAD_MESSAGE_CHECK,
           "challengePassword with two values: badMessageCheck");
    is_int(csr_attr_verdict(d, challenge_attr(V_ASN1_OCTET_STRING, "bin"),
                            NULL), OTA_SCEP_BAD_MESSAGE_CHECK,
           "challengePassword as OCTET STRING: badMessageCheck");
    is_int(csr_attr_verdict(d, challenge_attr(V_ASN1_UTF8STRING, ""), NULL),
           OTA_SCEP_BAD_MESSAGE_CHECK,
           "empty challengePassword: badMessageCheck");
}

static void test_certs_only(void)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    const char *file = scratch_file("chain.p7");
    const char *cmd;

    sk_X509_push(certs, ca->cert);
    sk_X509_push(certs, sk_X509_value(ca->chain, 0) ? sk_X509_value(ca->chain,
                                                                     0)
                                                    : other->cert);
    is_int(ota_scep_certs_only(&der, &len, certs, pool), APR_SUCCESS,
           "certificates-only SignedData built");
    sk_X509_free(certs);
    cmd = apr_psprintf(pool, "openssl pkcs7 -inform DER -in %s -print_certs "
                       "-noout | grep -c '^subject=' | grep -qx 2", file);
    ok(der && spill(file, der, len) && system(cmd) == 0,
       "openssl pkcs7 reads it: two certificates");
}

/* What `openssl cms` makes of a SUCCESS CertRep: another reader than ours. */
static void test_openssl_reads(device *d)
{
    ota_scep_sent *s = send_req(&d->c);
    ota_scep_request *r = NULL;
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    BIO *b;
    const char *cmd;

    verdict_of(s, NULL, &r);
    der = r && r->ok ? reply(&len, r, OTA_SCEP_SUCCESS, 0, NULL,
                             issue(r->csr)) : NULL;
    b = BIO_new_file(scratch_file("dev.pem"), "w");
    PEM_write_bio_X509(b, d->self);
    PEM_write_bio_PrivateKey(b, d->key, NULL, NULL, 0, NULL, NULL);
    BIO_free(b);
    cmd = apr_psprintf(pool, "cd %s && openssl cms -verify -noverify "
                       "-inform DER -in rep.der -binary -out env.der "
                       "2>/dev/null && openssl cms -decrypt -inform DER "
                       "-in env.der -recip dev.pem -binary -out deg.der && "
                       "openssl pkcs7 -inform DER -in deg.der -print_certs "
                       "-noout | grep -q 'CN *= *device'", scratch);
    ok(der && spill(scratch_file("rep.der"), der, len)
       && system(cmd) == 0,
       "openssl cms verifies and decrypts the CertRep");
}

/* ---- a real peer: micromdm's scepclient and scepserver 2.1.0 ---- */

static void test_scepclient_request(void)
{
    const char *file = in_dir(tdir, "fixtures/scep/scepclient-pkcsreq.der");
    ota_scep_policy sha1 = { 1, 1, 1024 };
    ota_scep_request *r = NULL;
    unsigned char *der;
    apr_size_t len, rlen = 0;

    if (!ok(slurp(file, &der, &len), "scepclient's PKCSReq fixture")) {
        return;
    }
    is_int(verdict(der, len, NULL, &r), OTA_SCEP_BAD_ALG,
           "scepclient's PKCSReq (SHA-1): badAlg by default");
    ok(r && r->replyable && r->sender_nonce_len == 16,
       "... answerable, 16-byte senderNonce");
    is_str(r ? r->transaction_id : NULL, "qOzRD1DzLzt8/FpqJ3vAFD2M8u4=",
           "... its base64 transactionID read");
    is_int(r ? r->type : 0, OTA_SCEP_PKCS_REQ, "... messageType PKCSReq");
    is_int(verdict(der, len, &sha1, &r), OTA_SCEP_BAD_ALG,
           "with SHA-1 and 3DES allowed: badAlg still (single DES)");
    is_str(r ? r->detail : NULL, "cipher DES-CBC not allowed",
           "... refused for its cipher, named");
    ok(r && reply(&rlen, r, OTA_SCEP_FAILURE, OTA_SCEP_BAD_ALG, NULL, NULL)
       && rlen > 0, "a FAILURE CertRep answers it");
}

static void test_scepserver_reply(void)
{
    const char *dir = in_dir(tdir, "fixtures/scep");
    device d;
    ota_scep_request *r = NULL;
    ota_scep_sent sent;
    ota_scep_reply *rep;
    unsigned char *req, *rsp;
    apr_size_t req_len, rsp_len;
    X509 *server = cert_file(in_dir(dir, "scepserver-ca.pem"));

    memset(&d, 0, sizeof(d));
    d.c.key = key_file(in_dir(dir, "client.key"));
    d.c.cert = cert_file(in_dir(dir, "client.pem"));
    if (!ok(server && d.c.key && d.c.cert
            && slurp(in_dir(dir, "client-pkcsreq.der"), &req, &req_len)
            && slurp(in_dir(dir, "scepserver-certrep.der"), &rsp, &rsp_len),
            "scepserver fixtures")) {
        return;
    }
    verdict(req, req_len, NULL, &r);   /* for its transactionID and nonce */
    memset(&sent, 0, sizeof(sent));
    sent.type = OTA_SCEP_PKCS_REQ;
    sent.transaction_id = r ? r->transaction_id : "";
    if (r && r->sender_nonce_len == 16) {
        memcpy(sent.sender_nonce, r->sender_nonce, 16);
    }
    rep = read_reply(rsp, rsp_len, &sent, &d, server, 0);
    ok(rep && !rep->ok, "scepserver's CertRep (SHA-1) refused by default");
    rep = read_reply(rsp, rsp_len, &sent, &d, server, OTA_SCEP_ACCEPT_SHA1);
    ok(rep && !rep->ok && strstr(rep->detail, "DES-CBC"),
       "... with SHA-1 accepted: refused for single DES");
    rep = read_reply(rsp, rsp_len, &sent, &d, server,
                     OTA_SCEP_ACCEPT_SHA1 | OTA_SCEP_ACCEPT_DES);
    ok(rep && rep->ok && rep->status == OTA_SCEP_SUCCESS,
       "... with SHA-1 and DES accepted (legacy provider): SUCCESS");
    is_int(rep ? rep->cipher_nid : 0, NID_des_cbc, "... enciphered DES-CBC");
    ok(rep && rep->cert && EVP_PKEY_eq(X509_get0_pubkey(rep->cert),
                                       d.c.key) == 1,
       "... the certificate scepserver issued for our key");
}

/* With the legacy provider now loaded, the server still refuses DES. */
static void test_des_stays_refused(device *d)
{
    ota_scep_client c = d->c;
    ota_scep_policy lax = { 1, 1, 1024 };
    ota_scep_request *r = NULL;

    c.cipher = EVP_des_cbc();
    is_int(verdict_of(send_req(&c), &lax, &r), OTA_SCEP_BAD_ALG,
           "legacy provider loaded: single-DES request still badAlg");
    ok(r && r->detail && strstr(r->detail, "DES-CBC"),
       "... named in the detail");
}

static void run(void)
{
    device *d;
    X509 *issued;

    test_init();
    test_transaction_id();
    d = device_new("device 1", CHALLENGE, 2048);
    ok(d != NULL, "device key, self-signed certificate and CSR");
    if (!d) {
        return;
    }
    issued = test_pkcsreq(d);
    test_failure_pending(d);
    test_echo(d);
    test_tampered(d);
    test_no_oracle(d);
    test_recipient_kinds(d);
    test_ciphers(d);
    test_digests(d);
    test_shapes(d);
    test_garbage(d);
    test_content_type_bound(d);
    test_poll(d);
    test_get_crl(d);
    test_renewal(d, issued);
    test_key_size();
    test_challenge_forms(d);
    test_certs_only();
    test_openssl_reads(d);
    test_scepclient_request();
    test_scepserver_reply();
    test_des_stays_refused(d);
}

int main(int argc, char **argv)
{
    if (unit_setup(argc, argv, UNIT_PKI | UNIT_SCRATCH)
        && ok((ca = identity("signing-ca.pem", "signing-ca.key")) != NULL
              && (other = identity("signing.pem", "signing.key")) != NULL,
              "CA and another identity load")) {
        run();
    }
    return unit_done();
}
