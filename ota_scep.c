/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* SCEP (RFC 8894) pkiMessages over OpenSSL's CMS API. The two small
 * message-data types CMS does not know (IssuerAndSubject,
 * IssuerAndSerialNumber) use OpenSSL's ASN.1 templates. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ota_scep.h"
#include "ota_pool.h"

/* Said alike for every way the envelope can fail to open, so a peer
 * tampering with the ciphertext learns nothing (padding oracle). */
#define OPEN_FAILED "cannot decrypt the pkcsPKIEnvelope"

/* ---- message data: IssuerAndSubject, IssuerAndSerialNumber ---- */

/* A SEQUENCE of an issuer's name and one more field, with its static
 * d2i and i2d functions. */
#define ISSUER_AND(name, field, type)                                   \
    typedef struct {                                                    \
        X509_NAME *issuer;                                              \
        type *field;                                                    \
    } name;                                                             \
                                                                        \
    ASN1_SEQUENCE(name) = {                                             \
        ASN1_SIMPLE(name, issuer, X509_NAME),                           \
        ASN1_SIMPLE(name, field, type)                                  \
    } static_ASN1_SEQUENCE_END(name)                                    \
                                                                        \
    IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(name)

ISSUER_AND(OTA_ISSUER_AND_SUBJECT, subject, X509_NAME)
ISSUER_AND(OTA_ISSUER_AND_SERIAL, serial, ASN1_INTEGER)

/* ---- OIDs ---- */

static int initialised;
static int nid_message_type, nid_pki_status, nid_fail_info;
static int nid_sender_nonce, nid_recipient_nonce, nid_transaction_id;
static int nid_fail_info_text;

static const struct {
    int *nid;
    const char *oid, *sn, *ln;
} scep_oids[] = {
    { &nid_message_type, "2.16.840.1.113733.1.9.2",
      "scepMessageType", "SCEP messageType" },
    { &nid_pki_status, "2.16.840.1.113733.1.9.3",
      "scepPkiStatus", "SCEP pkiStatus" },
    { &nid_fail_info, "2.16.840.1.113733.1.9.4",
      "scepFailInfo", "SCEP failInfo" },
    { &nid_sender_nonce, "2.16.840.1.113733.1.9.5",
      "scepSenderNonce", "SCEP senderNonce" },
    { &nid_recipient_nonce, "2.16.840.1.113733.1.9.6",
      "scepRecipientNonce", "SCEP recipientNonce" },
    { &nid_transaction_id, "2.16.840.1.113733.1.9.7",
      "scepTransactionID", "SCEP transactionID" },
    { &nid_fail_info_text, "1.3.6.1.5.5.7.24.1",
      "scepFailInfoText", "SCEP failInfoText" }
};

apr_status_t ota_scep_init(void)
{
    apr_size_t i;
    int nid;

    if (initialised) {
        return APR_SUCCESS;
    }
    for (i = 0; i < sizeof(scep_oids) / sizeof(scep_oids[0]); i++) {
        nid = OBJ_txt2nid(scep_oids[i].oid);
        if (nid == NID_undef) {
            nid = OBJ_create(scep_oids[i].oid, scep_oids[i].sn,
                             scep_oids[i].ln);
        }
        if (nid == NID_undef) {
            return APR_EGENERAL;
        }
        *scep_oids[i].nid = nid;
    }
    ERR_clear_error();
    initialised = 1;
    return APR_SUCCESS;
}

const char *ota_scep_message_type_name(ota_scep_message_type t)
{
    switch (t) {
    case OTA_SCEP_CERT_REP:    return "CertRep";
    case OTA_SCEP_RENEWAL_REQ: return "RenewalReq";
    case OTA_SCEP_PKCS_REQ:    return "PKCSReq";
    case OTA_SCEP_CERT_POLL:   return "CertPoll";
    case OTA_SCEP_GET_CERT:    return "GetCert";
    case OTA_SCEP_GET_CRL:     return "GetCRL";
    default:                   return "unknown";
    }
}

const char *ota_scep_status_name(ota_scep_status s)
{
    switch (s) {
    case OTA_SCEP_SUCCESS: return "SUCCESS";
    case OTA_SCEP_FAILURE: return "FAILURE";
    case OTA_SCEP_PENDING: return "PENDING";
    default:               return "unknown";
    }
}

const char *ota_scep_fail_info_name(ota_scep_fail_info f)
{
    static const char *const names[] = {
        "badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId"
    };

    return (unsigned)f < sizeof(names) / sizeof(names[0])
           ? names[f] : "unknown";
}

/* ---- pool-owned message data (other objects: ota_pool.h) ---- */

static apr_status_t free_ias(void *a)
{
    ASN1_item_free(a, ASN1_ITEM_rptr(OTA_ISSUER_AND_SUBJECT));
    return APR_SUCCESS;
}

static apr_status_t free_isn(void *a)
{
    ASN1_item_free(a, ASN1_ITEM_rptr(OTA_ISSUER_AND_SERIAL));
    return APR_SUCCESS;
}

/* d2i of a whole buffer into a pool-owned CMS: NULL on trailing data. */
static CMS_ContentInfo *cms_parse(const unsigned char *der, apr_size_t len,
                                  apr_pool_t *p)
{
    const unsigned char *cursor = der;
    CMS_ContentInfo *cms;

    if (len == 0 || len > 0x7fffffff) {
        return NULL;
    }
    if (!(cms = d2i_CMS_ContentInfo(NULL, &cursor, (long)len))) {
        return NULL;
    }
    ota_own_cms(p, cms);
    return cursor == der + len ? cms : NULL;
}

static apr_status_t cms_der(const unsigned char **der, apr_size_t *len,
                            CMS_ContentInfo *cms, apr_pool_t *p)
{
    unsigned char *buf = NULL;
    int n = i2d_CMS_ContentInfo(cms, &buf);

    return ota_der_take(der, len, buf, n, p);
}

/* Completes cms, a partial SignedData, over the content env. */
static int signed_over(CMS_ContentInfo *cms, const unsigned char *env,
                       apr_size_t env_len)
{
    BIO *in = BIO_new_mem_buf(env, (int)env_len);
    int ok = in && CMS_final(cms, in, NULL, CMS_BINARY) == 1;

    BIO_free(in);
    return ok;
}

static void bio_take(BIO *b, const unsigned char **out, apr_size_t *len,
                     apr_pool_t *p)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);

    *out = apr_pmemdup(p, data, n > 0 ? n : 0);
    *len = n > 0 ? n : 0;
}

static int nid_in(int nid, const int *list)
{
    for (; *list != NID_undef; list++) {
        if (*list == nid) {
            return 1;
        }
    }
    return 0;
}

/* When OpenSSL cannot run a cipher (DES and RC2 need the legacy
 * provider), only its fetch error names it: keep that for the log. */
static const char *unfetchable_cipher(apr_pool_t *p)
{
    const char *data, *name = "unknown", *at, *end;
    int flags;

    while (ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) {
        if ((flags & ERR_TXT_STRING) && (at = strstr(data, "Algorithm ("))
            && (end = strchr(at + 11, ' ')) && end - at < 48) {
            name = apr_pstrmemdup(p, at + 11, end - at - 11);
        }
    }
    return name;
}

/* The content-encryption algorithm of an EnvelopedData, before any key is
 * known. OpenSSL 3.0 has no getter; CMS_dataInit sets up the decrypting
 * BIO (with a random key until a recipient is opened) and its cipher
 * context names the algorithm. NID_undef when OpenSSL cannot run it. */
static int envelope_cipher(CMS_ContentInfo *env, const char **name,
                           apr_pool_t *p)
{
    BIO *chain = CMS_dataInit(env, NULL);
    BIO *cb;
    EVP_CIPHER_CTX *ctx = NULL;
    int nid = NID_undef;

    if (chain && (cb = BIO_find_type(chain, BIO_TYPE_CIPHER)) != NULL
        && BIO_get_cipher_ctx(cb, &ctx) == 1 && ctx) {
        nid = EVP_CIPHER_CTX_get_type(ctx);
    }
    BIO_free_all(chain);
    *name = nid != NID_undef ? OBJ_nid2sn(nid) : unfetchable_cipher(p);
    ERR_clear_error();
    return nid;
}

/* ---- signed attributes ---- */

/* The single value of a signed attribute that must occur once; NULL with
 * *why set when absent, repeated, multi-valued or of another type. */
static ASN1_STRING *attr_get(CMS_SignerInfo *si, int nid, int type_mask,
                             const char **why)
{
    ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;
    int i = CMS_signed_get_attr_by_OBJ(si, obj, -1);

    if (i < 0) {
        *why = "absent";
        return NULL;
    }
    if (CMS_signed_get_attr_by_OBJ(si, obj, i) >= 0) {
        *why = "repeated";
        return NULL;
    }
    a = CMS_signed_get_attr(si, i);
    if (X509_ATTRIBUTE_count(a) != 1 || !(t = X509_ATTRIBUTE_get0_type(a, 0))
        || t->type < 0 || t->type > 30 || !(ASN1_tag2bit(t->type)
                                             & type_mask)) {
        *why = "malformed";
        return NULL;
    }
    return t->value.asn1_string;
}

static int printable_ascii(const unsigned char *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* A small decimal in a PrintableString (messageType, pkiStatus, failInfo);
 * -1 when it is not one. */
static int attr_number(CMS_SignerInfo *si, int nid, const char **why)
{
    ASN1_STRING *s = attr_get(si, nid, B_ASN1_PRINTABLESTRING, why);
    const unsigned char *d;
    int n, v = 0;

    if (!s) {
        return -1;
    }
    d = ASN1_STRING_get0_data(s);
    n = ASN1_STRING_length(s);
    if (n < 1 || n > 2) {
        *why = "malformed";
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') {
            *why = "malformed";
            return -1;
        }
        v = v * 10 + d[i] - '0';
    }
    return v;
}

static const unsigned char *attr_nonce(CMS_SignerInfo *si, int nid,
                                       apr_size_t *len, const char **why,
                                       apr_pool_t *p)
{
    ASN1_STRING *s = attr_get(si, nid, B_ASN1_OCTET_STRING, why);
    int n;

    if (!s) {
        return NULL;
    }
    n = ASN1_STRING_length(s);
    if (n < OTA_SCEP_NONCE_MIN || n > OTA_SCEP_NONCE_MAX) {
        *why = "of a bad length";
        return NULL;
    }
    *len = n;
    return apr_pmemdup(p, ASN1_STRING_get0_data(s), n);
}

static const char *attr_tid(CMS_SignerInfo *si, int *type, const char **why,
                            apr_pool_t *p)
{
    ASN1_STRING *s = attr_get(si, nid_transaction_id,
                              B_ASN1_PRINTABLESTRING | B_ASN1_UTF8STRING
                              | B_ASN1_IA5STRING, why);
    int n;

    if (!s) {
        return NULL;
    }
    n = ASN1_STRING_length(s);
    if (n < 1 || n > OTA_SCEP_TID_MAX
        || !printable_ascii(ASN1_STRING_get0_data(s), n)) {
        *why = "malformed";
        return NULL;
    }
    *type = ASN1_STRING_type(s);
    return apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(s), n);
}

static int attr_add(CMS_SignerInfo *si, int nid, int type, const void *data,
                    apr_size_t len)
{
    return CMS_signed_add1_attr_by_OBJ(si, OBJ_nid2obj(nid), type, data,
                                       (int)len) == 1;
}

static int attr_add_text(CMS_SignerInfo *si, int nid, int type,
                         const char *text)
{
    return attr_add(si, nid, type, text, strlen(text));
}

/* ---- server side: parsing a request ---- */

static const int digests_sha2[] = {
    NID_sha256, NID_sha384, NID_sha512, NID_undef
};
static const int digests_sha1[] = {
    NID_sha1, NID_sha256, NID_sha384, NID_sha512, NID_undef
};
static const int ciphers_aes[] = {
    NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc, NID_undef
};
static const int ciphers_3des[] = {
    NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc, NID_des_ede3_cbc,
    NID_undef
};
static const int ciphers_des[] = {
    NID_aes_128_cbc, NID_aes_192_cbc, NID_aes_256_cbc, NID_des_ede3_cbc,
    NID_des_cbc, NID_undef
};

static int refuse(ota_scep_request *r, ota_scep_fail_info f,
                  const char *detail)
{
    r->ok = 0;
    r->fail_info = f;
    r->detail = detail;
    return 0;
}

/* The SignerInfo's digest, and the one named by its signature algorithm
 * (sha1WithRSA, ...), must both be allowed; the signature must be RSA. */
static const char *signer_algs_refusal(CMS_SignerInfo *si, const int *digests,
                                       const char **digest_name,
                                       apr_pool_t *p)
{
    X509_ALGOR *dig = NULL, *sig = NULL;
    int dnid, snid, sig_dnid = NID_undef, pknid = NID_undef;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
    dnid = OBJ_obj2nid(dig->algorithm);
    *digest_name = OBJ_nid2sn(dnid);
    if (!nid_in(dnid, digests)) {
        return apr_psprintf(p, "digest %s not allowed", *digest_name);
    }
    snid = OBJ_obj2nid(sig->algorithm);
    if (snid == NID_rsaEncryption) {
        return NULL;
    }
    if (!OBJ_find_sigid_algs(snid, &sig_dnid, &pknid)
        || pknid != NID_rsaEncryption || !nid_in(sig_dnid, digests)) {
        return apr_psprintf(p, "signature algorithm %s not allowed",
                            OBJ_nid2sn(snid));
    }
    return NULL;
}

static int outer_check(ota_scep_request *r, CMS_ContentInfo **cms,
                       CMS_SignerInfo **si, const unsigned char *der,
                       apr_size_t len, apr_pool_t *p)
{
    STACK_OF(CMS_SignerInfo) *sis;
    ASN1_OCTET_STRING **content;

    if (!(*cms = cms_parse(der, len, p))) {
        ERR_clear_error();
        return refuse(r, OTA_SCEP_BAD_REQUEST, "not a DER CMS message");
    }
    if (OBJ_obj2nid(CMS_get0_type(*cms)) != NID_pkcs7_signed) {
        return refuse(r, OTA_SCEP_BAD_REQUEST, "not a SignedData");
    }
    sis = CMS_get0_SignerInfos(*cms);
    if (sk_CMS_SignerInfo_num(sis) != 1) {
        return refuse(r, OTA_SCEP_BAD_REQUEST, "not exactly one SignerInfo");
    }
    *si = sk_CMS_SignerInfo_value(sis, 0);
    content = CMS_get0_content(*cms);
    if (OBJ_obj2nid(CMS_get0_eContentType(*cms)) != NID_pkcs7_data
        || !content || !*content || ASN1_STRING_length(*content) == 0) {
        return refuse(r, OTA_SCEP_BAD_REQUEST,
                      "no pkcsPKIEnvelope in the SignedData");
    }
    r->certs = CMS_get1_certs(*cms);
    if (r->certs) {
        ota_own_certs(p, r->certs);
    }
    return 1;
}

/* Reads what a CertRep needs before anything is verified, so even a
 * refused request can be answered; returns why one is missing, or NULL. */
static const char *read_attributes(ota_scep_request *r, CMS_SignerInfo *si,
                                   apr_pool_t *p)
{
    const char *why_t = NULL, *why_n = NULL, *why_m = NULL;
    int type;

    r->transaction_id = attr_tid(si, &r->transaction_id_type, &why_t, p);
    r->sender_nonce = attr_nonce(si, nid_sender_nonce,
                                 &r->sender_nonce_len, &why_n, p);
    r->replyable = r->transaction_id && r->sender_nonce;
    type = attr_number(si, nid_message_type, &why_m);
    switch (type) {
    case OTA_SCEP_RENEWAL_REQ: case OTA_SCEP_PKCS_REQ:
    case OTA_SCEP_CERT_POLL: case OTA_SCEP_GET_CERT: case OTA_SCEP_GET_CRL:
        r->type = type;
        break;
    default:
        if (type >= 0) {
            why_m = apr_psprintf(p, "%d, not a request", type);
        }
    }
    if (!r->transaction_id) {
        return apr_pstrcat(p, "transactionID ", why_t, NULL);
    }
    if (!r->sender_nonce) {
        return apr_pstrcat(p, "senderNonce ", why_n, NULL);
    }
    return r->type ? NULL : apr_pstrcat(p, "messageType ", why_m, NULL);
}

static int signer_check(ota_scep_request *r, CMS_ContentInfo *cms,
                        CMS_SignerInfo *si, const ota_scep_policy *policy,
                        apr_pool_t *p)
{
    const char *why;
    EVP_PKEY *key;
    int min_bits = policy->min_rsa_bits ? policy->min_rsa_bits : 2048;

    why = signer_algs_refusal(si, policy->allow_sha1 ? digests_sha1
                                                     : digests_sha2,
                              &r->digest_name, p);
    if (why) {
        return refuse(r, OTA_SCEP_BAD_ALG, why);
    }
    CMS_set1_signers_certs(cms, NULL, 0);
    ERR_clear_error();
    CMS_SignerInfo_get0_algs(si, NULL, &r->signer, NULL, NULL);
    if (!r->signer) {
        return refuse(r, OTA_SCEP_BAD_REQUEST,
                      "signer certificate not in the message");
    }
    X509_up_ref(r->signer);
    ota_own_x509(p, r->signer);
    key = X509_get0_pubkey(r->signer);
    if (!key || !EVP_PKEY_is_a(key, "RSA")) {
        return refuse(r, OTA_SCEP_BAD_ALG, "signer key is not RSA");
    }
    if (EVP_PKEY_get_bits(key) < min_bits) {
        return refuse(r, OTA_SCEP_BAD_ALG,
                      apr_psprintf(p, "signer key of %d bits, below %d",
                                   EVP_PKEY_get_bits(key), min_bits));
    }
    return 1;
}

static int signature_check(ota_scep_request *r, CMS_ContentInfo *cms,
                           CMS_SignerInfo *si, BIO *content, apr_pool_t *p)
{
    if (CMS_verify(cms, NULL, NULL, NULL, content,
                   CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK,
                      apr_pstrcat(p, "signature does not verify: ",
                                  ota_openssl_error(p), NULL));
    }
    if (!ota_cms_content_type_bound(cms, si)) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, "the signed contentType "
                      "attribute is missing, repeated or not the content's "
                      "type");
    }
    return 1;
}

static const char *ri_kind(int type)
{
    switch (type) {
    case CMS_RECIPINFO_AGREE: return "key agreement (KARI)";
    case CMS_RECIPINFO_KEK:   return "key encryption key (KEK)";
    case CMS_RECIPINFO_PASS:  return "password (PWRI)";
    default:                  return "other";
    }
}

/* Only key transport to an RSA key, as RFC 8894 has it: no password,
 * key agreement or KEK recipients. */
static int recipients_check(ota_scep_request *r, CMS_ContentInfo *env,
                            apr_pool_t *p)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(env);
    CMS_RecipientInfo *ri;
    X509_ALGOR *alg;
    int n = sk_CMS_RecipientInfo_num(ris), type, nid;

    if (n < 1 || n > OTA_SCEP_RECIPIENTS_MAX) {
        return refuse(r, OTA_SCEP_BAD_REQUEST,
                      apr_psprintf(p, "%d recipients", n));
    }
    for (int i = 0; i < n; i++) {
        ri = sk_CMS_RecipientInfo_value(ris, i);
        type = CMS_RecipientInfo_type(ri);
        if (type != CMS_RECIPINFO_TRANS) {
            return refuse(r, OTA_SCEP_BAD_ALG,
                          apr_pstrcat(p, ri_kind(type), " recipient, not "
                                      "key transport", NULL));
        }
        alg = NULL;
        CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg);
        nid = alg ? OBJ_obj2nid(alg->algorithm) : NID_undef;
        if (nid != NID_rsaEncryption && nid != NID_rsaesOaep) {
            return refuse(r, OTA_SCEP_BAD_ALG,
                          apr_psprintf(p, "key transport %s not allowed",
                                       OBJ_nid2sn(nid)));
        }
    }
    return 1;
}

static int envelope_open(ota_scep_request *r, const unsigned char *der,
                         apr_size_t len, const ota_identity *ca,
                         const ota_scep_policy *policy,
                         const unsigned char **plain, apr_size_t *plain_len,
                         apr_pool_t *p)
{
    CMS_ContentInfo *env = cms_parse(der, len, p);
    const char *name;
    BIO *out;
    int nid, opened;

    if (!env) {
        ERR_clear_error();
        return refuse(r, OTA_SCEP_BAD_REQUEST, "pkcsPKIEnvelope is not CMS");
    }
    nid = OBJ_obj2nid(CMS_get0_type(env));
    if (nid == NID_id_smime_ct_authEnvelopedData) {
        return refuse(r, OTA_SCEP_BAD_ALG, "AuthEnvelopedData not allowed");
    }
    if (nid != NID_pkcs7_enveloped) {
        return refuse(r, OTA_SCEP_BAD_REQUEST,
                      "pkcsPKIEnvelope is not an EnvelopedData");
    }
    if (!recipients_check(r, env, p)) {
        return 0;
    }
    r->cipher_nid = envelope_cipher(env, &name, p);
    if (!nid_in(r->cipher_nid, policy->allow_3des ? ciphers_3des
                                                  : ciphers_aes)) {
        return refuse(r, OTA_SCEP_BAD_ALG,
                      apr_psprintf(p, "cipher %s not allowed", name));
    }
    if (!(out = BIO_new(BIO_s_mem()))) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, "out of memory");
    }
    opened = CMS_decrypt(env, ca->key, ca->cert, NULL, out, CMS_BINARY);
    ERR_clear_error();
    if (opened == 1) {
        bio_take(out, plain, plain_len, p);
    }
    BIO_free(out);
    return opened == 1 ? 1 : refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK,
                                    OPEN_FAILED);
}

/* challengePassword: one value, a DirectoryString (or IA5String), read as
 * UTF-8. Absent is fine. */
static int csr_challenge(ota_scep_request *r, X509_REQ *csr, apr_pool_t *p)
{
    int i = X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, -1);
    int mask = B_ASN1_DIRECTORYSTRING | B_ASN1_IA5STRING, n;
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;
    unsigned char *utf8 = NULL;

    if (i < 0) {
        return 1;
    }
    a = X509_REQ_get_attr(csr, i);
    if (X509_REQ_get_attr_by_NID(csr, NID_pkcs9_challengePassword, i) >= 0
        || X509_ATTRIBUTE_count(a) != 1
        || !(t = X509_ATTRIBUTE_get0_type(a, 0)) || t->type < 0
        || t->type > 30 || !(ASN1_tag2bit(t->type) & mask)) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK,
                      "malformed challengePassword");
    }
    n = ASN1_STRING_to_UTF8(&utf8, t->value.asn1_string);
    if (n < 1 || n > OTA_SCEP_CHALLENGE_MAX || memchr(utf8, 0, n)) {
        OPENSSL_free(utf8);
        ERR_clear_error();
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK,
                      "malformed challengePassword");
    }
    r->challenge = apr_pstrmemdup(p, (const char *)utf8, n);
    OPENSSL_free(utf8);
    return 1;
}

static int csr_read(ota_scep_request *r, const unsigned char *der,
                    apr_size_t len, apr_pool_t *p)
{
    const unsigned char *cursor = der;
    EVP_PKEY *key;

    r->csr = d2i_X509_REQ(NULL, &cursor, (long)len);
    if (!r->csr) {
        ERR_clear_error();
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, OPEN_FAILED);
    }
    ota_own_x509_req(p, r->csr);
    if (cursor != der + len) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, OPEN_FAILED);
    }
    key = X509_REQ_get0_pubkey(r->csr);
    if (!key || X509_REQ_verify(r->csr, key) != 1) {
        ERR_clear_error();
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK,
                      "CSR signature does not verify");
    }
    r->signer_key_is_csr_key =
        EVP_PKEY_eq(key, X509_get0_pubkey(r->signer)) == 1;
    return csr_challenge(r, r->csr, p);
}

static int names_read(ota_scep_request *r, const unsigned char *der,
                      apr_size_t len, apr_pool_t *p)
{
    const unsigned char *cursor = der;
    OTA_ISSUER_AND_SUBJECT *ias;
    OTA_ISSUER_AND_SERIAL *isn;

    if (r->type == OTA_SCEP_CERT_POLL) {
        ias = d2i_OTA_ISSUER_AND_SUBJECT(NULL, &cursor, (long)len);
        if (ias) {
            ota_own(p, ias, free_ias);
            r->issuer = ias->issuer;
            r->subject = ias->subject;
        }
    }
    else {
        isn = d2i_OTA_ISSUER_AND_SERIAL(NULL, &cursor, (long)len);
        if (isn) {
            ota_own(p, isn, free_isn);
            r->issuer = isn->issuer;
            r->serial = isn->serial;
        }
    }
    ERR_clear_error();
    if (!r->issuer || cursor != der + len) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, OPEN_FAILED);
    }
    return 1;
}

static int message_data(ota_scep_request *r, const unsigned char *der,
                        apr_size_t len, apr_pool_t *p)
{
    if (len == 0) {
        return refuse(r, OTA_SCEP_BAD_MESSAGE_CHECK, OPEN_FAILED);
    }
    if (r->type == OTA_SCEP_PKCS_REQ || r->type == OTA_SCEP_RENEWAL_REQ) {
        return csr_read(r, der, len, p);
    }
    return names_read(r, der, len, p);
}

apr_status_t ota_scep_request_parse(ota_scep_request **out,
                                    const unsigned char *der, apr_size_t len,
                                    const ota_identity *ca,
                                    const ota_scep_policy *policy,
                                    apr_pool_t *p)
{
    static const ota_scep_policy strict = { 0, 0, 0 };
    ota_scep_request *r = apr_pcalloc(p, sizeof(*r));
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si = NULL;
    const unsigned char *env = NULL, *plain = NULL;
    apr_size_t env_len = 0, plain_len = 0;
    const char *missing;
    BIO *content;
    int verified;

    if (!initialised) {
        return APR_EINIT;
    }
    *out = r;
    policy = policy ? policy : &strict;
    if (!outer_check(r, &cms, &si, der, len, p)) {
        return APR_SUCCESS;
    }
    missing = read_attributes(r, si, p);
    if (!signer_check(r, cms, si, policy, p)) {
        return APR_SUCCESS;
    }
    if (!(content = BIO_new(BIO_s_mem()))) {
        return APR_ENOMEM;
    }
    verified = signature_check(r, cms, si, content, p);
    bio_take(content, &env, &env_len, p);
    BIO_free(content);
    if (!verified) {
        return APR_SUCCESS;
    }
    if (missing) {
        refuse(r, OTA_SCEP_BAD_REQUEST, missing);
        return APR_SUCCESS;
    }
    if (envelope_open(r, env, env_len, ca, policy, &plain, &plain_len, p)
        && message_data(r, plain, plain_len, p)) {
        r->ok = 1;
        r->detail = "ok";
    }
    return APR_SUCCESS;
}

/* ---- server side: the CertRep ---- */

apr_status_t ota_scep_certs_only(const unsigned char **der, apr_size_t *len,
                                 STACK_OF(X509) *certs, apr_pool_t *p)
{
    CMS_ContentInfo *cms;
    apr_status_t rv = APR_EGENERAL;

    if (sk_X509_num(certs) < 1) {
        return APR_EINVAL;
    }
    cms = CMS_sign(NULL, NULL, certs, NULL, CMS_PARTIAL | CMS_BINARY);
    /* Degenerate SignedData: eContent absent, as RFC 8894 3.4 shows. */
    if (cms && CMS_set_detached(cms, 1) == 1) {
        rv = cms_der(der, len, cms, p);
    }
    CMS_ContentInfo_free(cms);
    return rv;
}

/* The request's own cipher, so a client reads what it can write; never
 * one outside the server's lists. */
static const EVP_CIPHER *reply_cipher(int nid)
{
    return nid_in(nid, ciphers_3des) ? EVP_get_cipherbynid(nid)
                                     : EVP_aes_256_cbc();
}

/* A degenerate SignedData holding one CRL (GetCRL's answer). */
static apr_status_t crl_only(const unsigned char **der, apr_size_t *len,
                             X509_CRL *crl, apr_pool_t *p)
{
    CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
                                    CMS_PARTIAL | CMS_BINARY);
    apr_status_t rv = APR_EGENERAL;

    if (cms && CMS_add1_crl(cms, crl) == 1 && CMS_set_detached(cms, 1) == 1) {
        rv = cms_der(der, len, cms, p);
    }
    CMS_ContentInfo_free(cms);
    return rv;
}

/* The issued certificate, or the CRL, enveloped to the requester. */
static apr_status_t reply_envelope(const unsigned char **der, apr_size_t *len,
                                   const ota_scep_request *req, X509 *issued,
                                   X509_CRL *crl, apr_pool_t *p)
{
    STACK_OF(X509) *certs = sk_X509_new_null(), *to = sk_X509_new_null();
    const unsigned char *inner;
    apr_size_t inner_len;
    CMS_ContentInfo *env = NULL;
    BIO *in = NULL;
    apr_status_t rv = APR_ENOMEM;

    if (certs && to && (crl || sk_X509_push(certs, issued))
        && sk_X509_push(to, req->signer)
        && (rv = crl ? crl_only(&inner, &inner_len, crl, p)
                     : ota_scep_certs_only(&inner, &inner_len, certs, p))
           == APR_SUCCESS) {
        rv = APR_EGENERAL;
        in = BIO_new_mem_buf(inner, (int)inner_len);
        env = in ? CMS_encrypt(to, in, reply_cipher(req->cipher_nid),
                               CMS_BINARY) : NULL;
        if (env) {
            rv = cms_der(der, len, env, p);
        }
    }
    CMS_ContentInfo_free(env);
    BIO_free(in);
    sk_X509_free(certs);
    sk_X509_free(to);
    return rv;
}

static int reply_attributes(CMS_SignerInfo *si, const ota_scep_request *req,
                            ota_scep_status status, ota_scep_fail_info fail,
                            const char *fail_text)
{
    unsigned char nonce[OTA_SCEP_NONCE_LEN];
    char num[8];

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return 0;
    }
    apr_snprintf(num, sizeof(num), "%d", (int)status);
    if (!attr_add_text(si, nid_message_type, V_ASN1_PRINTABLESTRING, "3")
        || !attr_add_text(si, nid_pki_status, V_ASN1_PRINTABLESTRING, num)
        || !attr_add_text(si, nid_transaction_id, req->transaction_id_type,
                          req->transaction_id)
        || !attr_add(si, nid_recipient_nonce, V_ASN1_OCTET_STRING,
                     req->sender_nonce, req->sender_nonce_len)
        || !attr_add(si, nid_sender_nonce, V_ASN1_OCTET_STRING, nonce,
                     sizeof(nonce))) {
        return 0;
    }
    if (status != OTA_SCEP_FAILURE) {
        return 1;
    }
    apr_snprintf(num, sizeof(num), "%d", (int)fail);
    return attr_add_text(si, nid_fail_info, V_ASN1_PRINTABLESTRING, num)
           && (!fail_text || attr_add_text(si, nid_fail_info_text,
                                           V_ASN1_UTF8STRING, fail_text));
}

static int reply_args_ok(const ota_scep_request *req, ota_scep_status status,
                         ota_scep_fail_info fail, const char *fail_text,
                         X509 *issued)
{
    if (!req || !req->replyable) {
        return 0;
    }
    switch (status) {
    case OTA_SCEP_SUCCESS:
        return req->ok && req->signer && issued;
    case OTA_SCEP_FAILURE:
        return (unsigned)fail <= OTA_SCEP_BAD_CERT_ID
               && (!fail_text || strlen(fail_text) <= OTA_SCEP_FAIL_TEXT_MAX);
    case OTA_SCEP_PENDING:
        return 1;
    default:
        return 0;
    }
}

static apr_status_t reply_sign(const unsigned char **der, apr_size_t *len,
                               const ota_identity *ca,
                               const ota_scep_request *req,
                               ota_scep_status status,
                               ota_scep_fail_info fail, const char *fail_text,
                               X509 *issued, X509_CRL *crl, apr_pool_t *p);

apr_status_t ota_scep_reply_build(const unsigned char **der,
                                  apr_size_t *len, const ota_identity *ca,
                                  const ota_scep_request *req,
                                  ota_scep_status status,
                                  ota_scep_fail_info fail,
                                  const char *fail_text, X509 *issued,
                                  apr_pool_t *p)
{
    return reply_sign(der, len, ca, req, status, fail, fail_text, issued,
                      NULL, p);
}

apr_status_t ota_scep_reply_crl(const unsigned char **der, apr_size_t *len,
                                const ota_identity *ca,
                                const ota_scep_request *req,
                                const unsigned char *crl_der,
                                apr_size_t crl_len, apr_pool_t *p)
{
    const unsigned char *cursor = crl_der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &cursor, (long)crl_len);
    apr_status_t rv;

    if (!crl || !req || req->type != OTA_SCEP_GET_CRL || !req->ok) {
        X509_CRL_free(crl);
        return APR_EINVAL;
    }
    rv = reply_sign(der, len, ca, req, OTA_SCEP_SUCCESS, 0, NULL, NULL, crl,
                    p);
    X509_CRL_free(crl);
    return rv;
}

static apr_status_t reply_sign(const unsigned char **der, apr_size_t *len,
                               const ota_identity *ca,
                               const ota_scep_request *req,
                               ota_scep_status status,
                               ota_scep_fail_info fail, const char *fail_text,
                               X509 *issued, X509_CRL *crl, apr_pool_t *p)
{
    int flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    const unsigned char *env = (const unsigned char *)"";
    apr_size_t env_len = 0;
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si;
    apr_status_t rv;

    if (!initialised) {
        return APR_EINIT;
    }
    if (!crl && !reply_args_ok(req, status, fail, fail_text, issued)) {
        return APR_EINVAL;
    }
    if (status == OTA_SCEP_SUCCESS
        && (rv = reply_envelope(&env, &env_len, req, issued, crl, p))
           != APR_SUCCESS) {
        return rv;
    }
    rv = APR_EGENERAL;
    cms = CMS_sign(NULL, NULL, ca->chain, NULL, flags);
    if (cms && (si = CMS_add1_signer(cms, ca->cert, ca->key, EVP_sha256(),
                                     flags)) != NULL
        && reply_attributes(si, req, status, fail, fail_text)
        && signed_over(cms, env, env_len)) {
        rv = cms_der(der, len, cms, p);
    }
    CMS_ContentInfo_free(cms);
    return rv;
}

/* ---- client side: keys, certificates, requests ---- */

const char *ota_scep_transaction_id(EVP_PKEY *key, apr_pool_t *p)
{
    return ota_key_digest_hex(key, p);
}

static int random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
             && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));

    BN_free(bn);
    return ok;
}

apr_status_t ota_scep_self_signed(X509 **out, EVP_PKEY *key,
                                  const char *cn, int days, apr_pool_t *p)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok;

    ok = x && name && X509_set_version(x, X509_VERSION_3) && random_serial(x)
         && X509_gmtime_adj(X509_getm_notBefore(x), -3600)
         && X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL)
         && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                       (const unsigned char *)cn, -1, -1, 0)
         && X509_set_subject_name(x, name) && X509_set_issuer_name(x, name)
         && X509_set_pubkey(x, key) && X509_sign(x, key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return APR_EGENERAL;
    }
    ota_own_x509(p, x);
    *out = x;
    return APR_SUCCESS;
}

apr_status_t ota_scep_csr(X509_REQ **out, EVP_PKEY *key,
                          const X509_NAME *subject, const char *challenge,
                          apr_pool_t *p)
{
    return ota_scep_csr_san(out, key, subject, challenge, NULL, p);
}

/* The subjectAltName as an extension request, as devices send what their
 * SCEP payload's SubjectAltName says. */
static int csr_add_san(X509_REQ *req, const GENERAL_NAMES *san)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0,
                                         (void *)san);
    int ok = exts && ext && sk_X509_EXTENSION_push(exts, ext);

    if (!ok) {
        X509_EXTENSION_free(ext);
    }
    ok = ok && X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

apr_status_t ota_scep_csr_san(X509_REQ **out, EVP_PKEY *key,
                              const X509_NAME *subject,
                              const char *challenge,
                              const GENERAL_NAMES *san, apr_pool_t *p)
{
    X509_REQ *req = X509_REQ_new();
    int ok;

    ok = req && X509_REQ_set_version(req, X509_REQ_VERSION_1)
         && X509_REQ_set_subject_name(req, subject)
         && X509_REQ_set_pubkey(req, key)
         && (!san || csr_add_san(req, san))
         && (!challenge
             || X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
                                          V_ASN1_UTF8STRING,
                                          (const unsigned char *)challenge,
                                          (int)strlen(challenge)))
         && X509_REQ_sign(req, key, EVP_sha256()) > 0;
    if (!ok) {
        X509_REQ_free(req);
        return APR_EGENERAL;
    }
    ota_own_x509_req(p, req);
    *out = req;
    return APR_SUCCESS;
}

static apr_status_t message_data_der(const unsigned char **der,
                                     apr_size_t *len,
                                     const ota_scep_client *c, apr_pool_t *p)
{
    unsigned char *buf = NULL;
    int n = -1;
    OTA_ISSUER_AND_SUBJECT ias;
    OTA_ISSUER_AND_SERIAL isn;

    switch (c->type) {
    case OTA_SCEP_PKCS_REQ: case OTA_SCEP_RENEWAL_REQ:
        n = c->csr ? i2d_X509_REQ(c->csr, &buf) : -1;
        break;
    case OTA_SCEP_CERT_POLL:
        ias.issuer = c->issuer;
        ias.subject = c->subject;
        n = c->issuer && c->subject ? i2d_OTA_ISSUER_AND_SUBJECT(&ias, &buf)
                                    : -1;
        break;
    case OTA_SCEP_GET_CERT: case OTA_SCEP_GET_CRL:
        isn.issuer = c->issuer;
        isn.serial = (ASN1_INTEGER *)c->serial;
        n = c->issuer && c->serial ? i2d_OTA_ISSUER_AND_SERIAL(&isn, &buf)
                                   : -1;
        break;
    default:
        break;
    }
    return n <= 0 ? APR_EINVAL : ota_der_take(der, len, buf, n, p);
}

static apr_status_t request_envelope(const unsigned char **der,
                                     apr_size_t *len,
                                     const ota_scep_client *c, apr_pool_t *p)
{
    const unsigned char *data;
    apr_size_t data_len;
    STACK_OF(X509) *to = sk_X509_new_null();
    CMS_ContentInfo *env = NULL;
    BIO *in = NULL;
    apr_status_t rv;

    rv = message_data_der(&data, &data_len, c, p);
    if (rv == APR_SUCCESS) {
        rv = APR_EGENERAL;
        if (to && sk_X509_push(to, c->recipient)
            && (in = BIO_new_mem_buf(data, (int)data_len)) != NULL
            && (env = CMS_encrypt(to, in, c->cipher ? c->cipher
                                                    : EVP_aes_256_cbc(),
                                  CMS_BINARY)) != NULL) {
            rv = cms_der(der, len, env, p);
        }
    }
    CMS_ContentInfo_free(env);
    BIO_free(in);
    sk_X509_free(to);
    return rv;
}

static int request_attributes(CMS_SignerInfo *si, ota_scep_sent *s)
{
    char num[8];

    apr_snprintf(num, sizeof(num), "%d", (int)s->type);
    return RAND_bytes(s->sender_nonce, sizeof(s->sender_nonce)) == 1
           && attr_add_text(si, nid_message_type, V_ASN1_PRINTABLESTRING,
                            num)
           && attr_add_text(si, nid_transaction_id, V_ASN1_PRINTABLESTRING,
                            s->transaction_id)
           && attr_add(si, nid_sender_nonce, V_ASN1_OCTET_STRING,
                       s->sender_nonce, sizeof(s->sender_nonce));
}

apr_status_t ota_scep_request_build(ota_scep_sent **out,
                                    const ota_scep_client *c,
                                    apr_pool_t *p)
{
    int flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    ota_scep_sent *s = apr_pcalloc(p, sizeof(*s));
    const unsigned char *env;
    apr_size_t env_len;
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si;
    apr_status_t rv;

    if (!initialised) {
        return APR_EINIT;
    }
    s->type = c->type;
    /* The key being certified names the transaction: a renewal (signed
     * with the old key) is a new one. */
    s->transaction_id = c->transaction_id ? c->transaction_id
                        : ota_scep_transaction_id(
                              c->csr ? X509_REQ_get0_pubkey(c->csr) : c->key,
                              p);
    if (!s->transaction_id || !c->key || !c->cert || !c->recipient) {
        return APR_EINVAL;
    }
    if ((rv = request_envelope(&env, &env_len, c, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = APR_EGENERAL;
    cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
    /* CMS_final writes the contentType attribute from the eContentType:
     * a forgery signs under another type, then relabels the content. */
    if (cms && c->forged_content_type
        && !CMS_set1_eContentType(cms,
                                  OBJ_nid2obj(c->forged_content_type))) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    if (cms && (si = CMS_add1_signer(cms, c->cert, c->key,
                                     c->md ? c->md : EVP_sha256(), flags))
               != NULL
        && request_attributes(si, s)
        && signed_over(cms, env, env_len)
        && (!c->forged_content_type
            || CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_data)))
        && (rv = cms_der(&s->der, &s->len, cms, p)) == APR_SUCCESS) {
        *out = s;
    }
    CMS_ContentInfo_free(cms);
    return rv;
}

/* ---- client side: reading the CertRep ---- */

static OSSL_PROVIDER *legacy_provider, *default_provider;

/* Loading "legacy" explicitly stops the default provider from loading
 * implicitly: load both. Not thread-safe; the emulator is single-threaded. */
static int legacy_load(void)
{
    if (!default_provider) {
        default_provider = OSSL_PROVIDER_load(NULL, "default");
    }
    if (!legacy_provider) {
        legacy_provider = OSSL_PROVIDER_load(NULL, "legacy");
    }
    return default_provider && legacy_provider;
}

static int reject(ota_scep_reply *r, const char *detail)
{
    r->ok = 0;
    r->detail = detail;
    return 0;
}

static int reply_verify(ota_scep_reply *r, CMS_ContentInfo *cms,
                        X509 *signer, int flags, BIO *content, apr_pool_t *p)
{
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    STACK_OF(X509) *want;
    const char *why;
    int ok;

    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed
        || sk_CMS_SignerInfo_num(sis) != 1) {
        return reject(r, "not a SignedData with one signer");
    }
    why = signer_algs_refusal(sk_CMS_SignerInfo_value(sis, 0),
                              flags & OTA_SCEP_ACCEPT_SHA1 ? digests_sha1
                                                           : digests_sha2,
                              &r->digest_name, p);
    if (why) {
        return reject(r, why);
    }
    if (!(want = sk_X509_new_null()) || !sk_X509_push(want, signer)) {
        sk_X509_free(want);
        return reject(r, "out of memory");
    }
    /* NOINTERN: the signer must be the certificate given, not one the
     * message brings along. */
    ok = CMS_verify(cms, want, NULL, NULL, content,
                    CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY);
    sk_X509_free(want);
    if (ok != 1) {
        return reject(r, apr_pstrcat(p, "CertRep signature: ",
                                     ota_openssl_error(p), NULL));
    }
    return 1;
}

static const char *reply_fail_text(CMS_SignerInfo *si, apr_pool_t *p)
{
    const char *why;
    ASN1_STRING *s = attr_get(si, nid_fail_info_text, B_ASN1_UTF8STRING,
                              &why);
    int n = s ? ASN1_STRING_length(s) : 0;

    if (n < 1 || n > OTA_SCEP_FAIL_TEXT_MAX
        || memchr(ASN1_STRING_get0_data(s), 0, n)) {
        return NULL;
    }
    return apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(s), n);
}

static int reply_attributes_check(ota_scep_reply *r, CMS_SignerInfo *si,
                                  const ota_scep_sent *sent, apr_pool_t *p)
{
    const char *why = NULL, *tid;
    const unsigned char *nonce;
    apr_size_t nonce_len = 0;
    int status, fail, tid_type;

    if (attr_number(si, nid_message_type, &why) != OTA_SCEP_CERT_REP) {
        return reject(r, "messageType is not CertRep");
    }
    tid = attr_tid(si, &tid_type, &why, p);
    if (!tid || strcmp(tid, sent->transaction_id) != 0) {
        return reject(r, "transactionID does not match the request");
    }
    nonce = attr_nonce(si, nid_recipient_nonce, &nonce_len, &why, p);
    if (!nonce || nonce_len != sizeof(sent->sender_nonce)
        || memcmp(nonce, sent->sender_nonce, nonce_len) != 0) {
        return reject(r, "recipientNonce does not match our senderNonce");
    }
    r->sender_nonce = attr_nonce(si, nid_sender_nonce, &r->sender_nonce_len,
                                 &why, p);
    if (!r->sender_nonce) {
        return reject(r, apr_pstrcat(p, "senderNonce ", why, NULL));
    }
    status = attr_number(si, nid_pki_status, &why);
    if (status != OTA_SCEP_SUCCESS && status != OTA_SCEP_FAILURE
        && status != OTA_SCEP_PENDING) {
        return reject(r, "unknown pkiStatus");
    }
    r->status = status;
    if (status == OTA_SCEP_FAILURE) {
        fail = attr_number(si, nid_fail_info, &why);
        if (fail < 0 || fail > OTA_SCEP_BAD_CERT_ID) {
            return reject(r, "FAILURE without a known failInfo");
        }
        r->fail_info = fail;
        r->fail_text = reply_fail_text(si, p);
    }
    return 1;
}

/* The certificate for our key, else the first (GetCert asks for another's). */
static X509 *reply_pick(STACK_OF(X509) *certs, EVP_PKEY *key)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        if (EVP_PKEY_eq(X509_get0_pubkey(sk_X509_value(certs, i)), key) == 1) {
            return sk_X509_value(certs, i);
        }
    }
    return sk_X509_value(certs, 0);
}

static int reply_open(ota_scep_reply *r, const unsigned char *der,
                      apr_size_t len, const ota_scep_client *c, int flags,
                      apr_pool_t *p)
{
    CMS_ContentInfo *env = cms_parse(der, len, p), *deg;
    const unsigned char *plain = NULL;
    apr_size_t plain_len = 0;
    const char *name;
    BIO *out;
    int opened;

    if (!env || OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
        ERR_clear_error();
        return reject(r, "SUCCESS without an EnvelopedData");
    }
    if ((flags & OTA_SCEP_ACCEPT_DES) && !legacy_load()) {
        return reject(r, apr_pstrcat(p, "cannot load the legacy provider: ",
                                     ota_openssl_error(p), NULL));
    }
    r->cipher_nid = envelope_cipher(env, &name, p);
    if (!nid_in(r->cipher_nid, flags & OTA_SCEP_ACCEPT_DES ? ciphers_des
                                                          : ciphers_3des)) {
        return reject(r, apr_psprintf(p, "reply cipher %s not accepted",
                                      name));
    }
    if (!(out = BIO_new(BIO_s_mem()))) {
        return reject(r, "out of memory");
    }
    opened = CMS_decrypt(env, c->key, c->cert, NULL, out,
                         CMS_BINARY | CMS_DEBUG_DECRYPT);
    bio_take(out, &plain, &plain_len, p);
    BIO_free(out);
    if (opened != 1) {
        return reject(r, apr_pstrcat(p, "cannot decrypt the reply: ",
                                     ota_openssl_error(p), NULL));
    }
    deg = cms_parse(plain, plain_len, p);
    if (!deg || OBJ_obj2nid(CMS_get0_type(deg)) != NID_pkcs7_signed
        || !(r->certs = CMS_get1_certs(deg))) {
        ERR_clear_error();
        return reject(r, "the reply holds no certificate");
    }
    ota_own_certs(p, r->certs);
    r->cert = reply_pick(r->certs, c->key);
    return 1;
}

apr_status_t ota_scep_reply_parse(ota_scep_reply **out,
                                  const unsigned char *der, apr_size_t len,
                                  const ota_scep_sent *sent,
                                  const ota_scep_client *c, X509 *signer,
                                  int flags, apr_pool_t *p)
{
    ota_scep_reply *r = apr_pcalloc(p, sizeof(*r));
    CMS_ContentInfo *cms;
    const unsigned char *env = NULL;
    apr_size_t env_len = 0;
    BIO *content;
    int verified;

    if (!initialised) {
        return APR_EINIT;
    }
    *out = r;
    if (!(cms = cms_parse(der, len, p))) {
        ERR_clear_error();
        reject(r, "not a DER CMS message");
        return APR_SUCCESS;
    }
    if (!(content = BIO_new(BIO_s_mem()))) {
        return APR_ENOMEM;
    }
    verified = reply_verify(r, cms, signer, flags, content, p);
    bio_take(content, &env, &env_len, p);
    BIO_free(content);
    if (!verified
        || !reply_attributes_check(r, sk_CMS_SignerInfo_value(
                                          CMS_get0_SignerInfos(cms), 0),
                                   sent, p)) {
        return APR_SUCCESS;
    }
    if (r->status == OTA_SCEP_SUCCESS
        && !reply_open(r, env, env_len, c, flags, p)) {
        return APR_SUCCESS;
    }
    r->ok = 1;
    r->detail = "ok";
    return APR_SUCCESS;
}
