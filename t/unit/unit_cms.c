/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_cms: identities, the two trust stores (README's "Trust"), signing, and
 * verifying what devices post, against a real Apple phase-2 body and the
 * real Apple chain, and against hostile shapes built here with OpenSSL's
 * CMS API. Usage: unit_cms T_DIR (the t/ directory). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ota_cms.h"
#include "ota_pool.h"
#include "unit.h"

#define REAL_UDID "78897E40-F532-5DE0-A7DC-56BAC5CEEB9C"
#define PAYLOAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<plist version=\"1.0\">\n<dict>\n\t<key>UDID</key>\n" \
    "\t<string>6A1B2C3D-0000-4000-8000-00000000D001</string>\n" \
    "\t<key>CHALLENGE</key>\n\t<string>abcdefghijklmnop</string>\n" \
    "</dict>\n</plist>\n"

static ota_trust *trust(const char *file, ota_trust_kind kind)
{
    ota_trust *t = NULL;
    const char *why = NULL;

    if (ota_trust_load(&t, file, kind, &why, pool) != APR_SUCCESS) {
        printf("# cannot load trust %s: %s\n", file, why ? why : "?");
        return NULL;
    }
    return t;
}

/* The verdict for a body, or -1 if ota_cms_verify itself failed. */
static int verdict_of(const unsigned char *der, apr_size_t len,
                      const ota_trust *t, ota_signed_message **out)
{
    ota_signed_message *m = NULL;

    if (!t || ota_cms_verify(&m, der, len, t, pool) != APR_SUCCESS || !m) {
        return -1;
    }
    if (m->verdict != OTA_CMS_OK) {
        printf("# verdict %s: %s\n", ota_cms_verdict_name(m->verdict),
               m->detail ? m->detail : "");
    }
    if (out) {
        *out = m;
    }
    return (int)m->verdict;
}

/* A body signed with ota_cms_sign, or NULL. */
static const unsigned char *sign(apr_size_t *len, const ota_identity *id,
                                 const EVP_MD *md, int attrs)
{
    const unsigned char *der = NULL;

    if (!id || ota_cms_sign(&der, len, id, PAYLOAD, strlen(PAYLOAD), md,
                            attrs, pool) != APR_SUCCESS) {
        *len = 0;
        return NULL;
    }
    return der;
}

/* DER of a CMS structure built here (frees it), or NULL. */
static BIO *payload_bio(void)
{
    return BIO_new_mem_buf(PAYLOAD, (int)strlen(PAYLOAD));
}

/* Signers (md per signer) over PAYLOAD; extra flags for CMS_sign/final. */
static unsigned char *craft(apr_size_t *len, ota_identity **ids, int nids,
                            const EVP_MD *md, int flags)
{
    int f = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP | flags;
    CMS_ContentInfo *cms;
    BIO *in = payload_bio();
    int i;

    for (i = 0; i < nids; i++) {
        if (!ids[i]) {
            BIO_free(in);
            *len = 0;
            return NULL;
        }
    }
    cms = CMS_sign(NULL, NULL, nids ? ids[0]->chain : NULL, NULL, f);
    for (i = 0; cms && i < nids; i++) {
        if (!CMS_add1_signer(cms, ids[i]->cert, ids[i]->key, md, f)) {
            CMS_ContentInfo_free(cms);
            cms = NULL;
        }
    }
    if (cms && CMS_final(cms, in, NULL, f & ~CMS_PARTIAL) != 1) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    BIO_free(in);
    return der_of(cms, len);
}

static const unsigned char *find(const unsigned char *hay, apr_size_t n,
                                 const void *needle, apr_size_t m,
                                 int last)
{
    const unsigned char *found = NULL;
    apr_size_t i;

    for (i = 0; m <= n && i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            found = hay + i;
            if (!last) {
                break;
            }
        }
    }
    return found;
}

static unsigned char *flipped(const unsigned char *der, apr_size_t len,
                              apr_size_t at)
{
    unsigned char *copy = apr_pmemdup(pool, der, len);

    copy[at] ^= 0x01;
    return copy;
}

/* Every proper prefix: how many verified OK, how many were not MALFORMED. */
static void truncations(const unsigned char *der, apr_size_t len,
                        const ota_trust *t, const char *what)
{
    apr_pool_t *sub;
    ota_signed_message *m;
    apr_size_t n;
    int oks = 0, others = 0, errors = 0;

    apr_pool_create(&sub, pool);
    for (n = 0; n < len; n++) {
        m = NULL;
        if (ota_cms_verify(&m, der, n, t, sub) != APR_SUCCESS || !m) {
            ++errors;
        }
        else if (m->verdict == OTA_CMS_OK) {
            ++oks;
        }
        else if (m->verdict != OTA_CMS_MALFORMED) {
            ++others;
        }
        apr_pool_clear(sub);
    }
    apr_pool_destroy(sub);
    is_int(oks, 0, apr_pstrcat(pool, what, ": no truncation verifies",
                               NULL));
    is_int(others + errors, 0, apr_pstrcat(pool, what, ": every truncation "
                                           "is malformed", NULL));
}

static const char *cn_of(X509 *x)
{
    char buf[256];

    if (!x || X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                        NID_commonName, buf,
                                        sizeof(buf)) < 0) {
        return NULL;
    }
    return apr_pstrdup(pool, buf);
}

static int cert_verdict(const ota_trust *t, X509 *x)
{
    ota_cms_verdict v;
    STACK_OF(X509) *chain = NULL;
    const char *detail = NULL;

    if (!t || !x || ota_trust_verify_cert(&v, &chain, &detail, t, x, NULL,
                                          pool) != APR_SUCCESS) {
        return -1;
    }
    if (v != OTA_CMS_OK) {
        printf("# %s: %s\n", ota_cms_verdict_name(v), detail ? detail : "");
    }
    return (int)v;
}

/* The verdict on a body ID signs with MD (signed attributes or not), by
 * the store T; -1 when ID cannot sign. */
static int body_verdict(const ota_identity *id, const EVP_MD *md, int attrs,
                        const ota_trust *t)
{
    apr_size_t len;
    const unsigned char *der = sign(&len, id, md, attrs);

    return der ? verdict_of(der, len, t, NULL) : -1;
}

/* A certificate of the test PKI, the store judging it, its verdict. */
typedef struct {
    const ota_trust *t;
    const char *file;
    int verdict;
    const char *name;
} cert_case;

/* Each of the N CASES: an assertion each. */
static void cert_cases(const cert_case *cases, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        is_int(cert_verdict(cases[i].t, cert_file(pki_file(cases[i].file))),
               cases[i].verdict, cases[i].name);
    }
}

/* ---- the real Apple device ---- */

static void test_real_fixture(const ota_trust *apple, const ota_trust *test)
{
    unsigned char *der = NULL;
    apr_size_t len = 0;
    ota_signed_message *m = NULL;
    const unsigned char *at;
    int v;

    ok(slurp(in_dir(tdir, "fixtures/apple-real/phase2-macos13-zentral.der"),
             &der, &len), "read the real phase-2 body");
    if (!der) {
        return;
    }
    is_int(verdict_of(der, len, apple, &m), OTA_CMS_OK,
           "real macOS 13 body verifies against the real Apple chain");
    ok(m && m->content && strstr(m->content, "<string>" REAL_UDID
                                 "</string>"),
       "its content holds the device's UDID");
    ok(m && m->content && m->content_len == strlen(m->content)
       && m->content_len == 790, "content length is the eContent's 790");
    is_str(m ? m->digest_name : NULL, "SHA1", "its digest is SHA1");
    is_str(m ? cn_of(m->signer) : NULL,
           "0B5938EB-A130-466F-BFA5-BFA950500D03", "signer is the device");
    is_int(m && m->chain ? sk_X509_num(m->chain) : 0, 4,
           "chain: device, device CA, iPhone CA, Apple Root");
    is_str(m && m->chain ? cn_of(sk_X509_value(m->chain, 1)) : NULL,
           "Apple iPhone Device CA", "chain passes through the device CA");

    is_int(verdict_of(der, len, test, NULL), OTA_CMS_UNTRUSTED,
           "real body against the test device chain: untrusted");

    at = find(der, len, REAL_UDID, strlen(REAL_UDID), 0);
    ok(at != NULL, "UDID found in the BER body");
    if (at) {
        is_int(verdict_of(flipped(der, len, at - der + 3), len, apple, NULL),
               OTA_CMS_BAD_SIGNATURE, "real body, one content bit flipped");
    }
    at = find(der, len, "\x04\x81\x80", 3, 1);
    ok(at != NULL && (apr_size_t)(at - der) + 3 + 128 + 6 == len,
       "signature octets found at the end of the BER body");
    if (at) {
        is_int(verdict_of(flipped(der, len, at - der + 3 + 64), len, apple,
                          NULL),
               OTA_CMS_BAD_SIGNATURE, "real body, one signature bit flipped");
    }
    truncations(der, len, apple, "real BER body");
    {
        unsigned char *longer = apr_palloc(pool, len + 2);

        memcpy(longer, der, len);
        longer[len] = 0;
        longer[len + 1] = 0;
        v = verdict_of(longer, len + 2, apple, NULL);
        is_int(v, OTA_CMS_MALFORMED, "real body + two NUL bytes: malformed");
        longer[len] = 0x30;
        longer[len + 1] = 0x00;
        is_int(verdict_of(longer, len + 2, apple, NULL), OTA_CMS_MALFORMED,
               "real body + an empty SEQUENCE: malformed");
    }
}

static void test_real_certs(const ota_trust *apple)
{
    static const char *const certs[] = {
        "device-iphone-2012-node-easyrsa.pem",
        "device-macos-2018-micromdm.pem",
        "device-appletv-2024-sha256-micromdm.pem",
        NULL
    };
    const cert_case ours[] = {
        { apple, "ourca-device.pem", OTA_CMS_UNTRUSTED,
          "our own CA's device cert vs Apple: untrusted" },
        { apple, "device.pem", OTA_CMS_UNTRUSTED,
          "test device cert vs real Apple: untrusted" }
    };
    const char *const *c;

    for (c = certs; *c; c++) {
        is_int(cert_verdict(apple, cert_file(in_dir(tdir,
                   apr_pstrcat(pool, "fixtures/apple-real/", *c, NULL)))),
               OTA_CMS_OK, apr_pstrcat(pool, "real device certificate ", *c,
                                       NULL));
    }
    cert_cases(ours, sizeof(ours) / sizeof(ours[0]));
}

/* ---- the Apple-like test PKI ---- */

/* DER (a body of PAYLOAD) with one bit flipped in its content, when found
 * (then 1), and in its signature: bad signatures, named with WHAT. */
static int bits_flipped(const unsigned char *der, apr_size_t len,
                        const ota_trust *t, const char *what)
{
    const unsigned char *at = find(der, len, "abcdefghijklmnop", 16, 0);

    if (at) {
        is_int(verdict_of(flipped(der, len, at - der + 5), len, t, NULL),
               OTA_CMS_BAD_SIGNATURE,
               apr_psprintf(pool, "content bit flipped (%s)", what));
    }
    is_int(verdict_of(flipped(der, len, len - 10), len, t, NULL),
           OTA_CMS_BAD_SIGNATURE,
           apr_psprintf(pool, "signature bit flipped (%s)", what));
    return at != NULL;
}

static void test_device_bodies(const ota_trust *dev, const ota_trust *apple)
{
    ota_identity *device = identity("device-bundle.pem", "device.key");
    ota_identity *leaf_only = identity("device.pem", "device.key");
    ota_identity *dev256 = identity("device-sha256.pem", "device-sha256.key");
    ota_identity *rogue = identity("rogue-leaf.pem", "rogue-leaf.key");
    ota_identity *self = identity("selfsigned-device.pem",
                                  "selfsigned-device.key");
    ota_identity *rsa512 = identity("rsa512-device.pem", "rsa512-device.key");
    ota_signed_message *m = NULL;
    const unsigned char *der;
    apr_size_t len;

    is_int(ota_trust_count_issuing_cas(dev), 1,
           "test device chain names one device CA");
    is_int(ota_trust_count_issuing_cas(apple), 1,
           "real Apple chain names one device CA");

    der = sign(&len, device, EVP_sha1(), 0);
    ok(der != NULL, "device signs SHA-1 without attributes");
    is_int(verdict_of(der, len, dev, &m), OTA_CMS_OK,
           "device body (SHA-1, no attributes) verifies");
    is_str(m ? m->digest_name : NULL, "SHA1", "digest SHA1");
    ok(m && m->content_len == strlen(PAYLOAD)
       && memcmp(m->content, PAYLOAD, m->content_len) == 0,
       "content comes back byte for byte");
    ok(m && device && m->signer && X509_cmp(m->signer, device->cert) == 0,
       "signer is device.pem");
    is_int(verdict_of(der, len, apple, NULL), OTA_CMS_UNTRUSTED,
           "test device body against the real Apple chain: untrusted");
    if (der) {
        ok(bits_flipped(der, len, dev, "no attrs"),
           "content found in the DER");
        truncations(der, len, dev, "device DER body");
        {
            unsigned char *longer = apr_palloc(pool, len + 7);

            memcpy(longer, der, len);
            memcpy(longer + len, "garbage", 7);
            is_int(verdict_of(longer, len + 7, dev, NULL), OTA_CMS_MALFORMED,
                   "trailing garbage: malformed");
        }
    }

    der = sign(&len, device, EVP_sha256(), 1);
    is_int(verdict_of(der, len, dev, &m), OTA_CMS_OK,
           "device body (SHA-256, signed attributes) verifies");
    is_str(m ? m->digest_name : NULL, "SHA256", "digest SHA256");
    if (der) {
        bits_flipped(der, len, dev, "attrs");
    }

    is_int(body_verdict(dev256, EVP_sha256(), 0, dev), OTA_CMS_OK,
           "device-sha256 body verifies");
    is_int(body_verdict(leaf_only, EVP_sha1(), 0, dev), OTA_CMS_OK,
           "leaf-only body (old macOS) verifies with server-side "
           "intermediates");

    is_int(body_verdict(rogue, EVP_sha1(), 0, dev), OTA_CMS_NOT_DEVICE_CA,
           "rogue leaf (iPhone CA, not device CA): not through device CA");
    is_int(body_verdict(self, EVP_sha1(), 0, dev), OTA_CMS_UNTRUSTED,
           "self-signed device: untrusted");
    der = sign(&len, rsa512, EVP_sha1(), 0);
    ok(der != NULL, "RSA-512 device can sign");
    is_int(verdict_of(der, len, dev, NULL), OTA_CMS_WEAK_KEY,
           "RSA-512 device: weak key");

    is_int(verdict_of((const unsigned char *)"", 0, dev, NULL),
           OTA_CMS_MALFORMED, "empty input: malformed");
    is_int(verdict_of((const unsigned char *)PAYLOAD, strlen(PAYLOAD), dev,
                      NULL),
           OTA_CMS_MALFORMED, "bare XML: malformed");
}

/* MD5 signature made by the openssl command (fallback). */
static unsigned char *md5_by_command(apr_size_t *len, int attrs)
{
    const char *in = scratch_file("payload.xml");
    const char *out = scratch_file(attrs ? "md5a.der" : "md5.der");
    const char *cmd;
    unsigned char *der = NULL;
    apr_file_t *f;
    apr_size_t n = strlen(PAYLOAD);

    if (apr_file_open(&f, in, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                      | APR_FOPEN_TRUNCATE, APR_OS_DEFAULT, pool)
        != APR_SUCCESS) {
        return NULL;
    }
    apr_file_write_full(f, PAYLOAD, n, NULL);
    apr_file_close(f);
    cmd = apr_psprintf(pool, "openssl cms -sign -binary -nodetach -md md5 %s"
                       " -in %s -signer %s -inkey %s -certfile %s "
                       "-outform DER -out %s", attrs ? "" : "-noattr", in,
                       pki_file("device.pem"), pki_file("device.key"),
                       pki_file("device-ca-chain.pem"), out);
    if (system(cmd) != 0 || !slurp(out, &der, len)) {
        return NULL;
    }
    return der;
}

/* A one-signer body with its SignerInfo taken out while encoding (put
 * back before freeing: there is no public CMS_SignerInfo_free). */
static unsigned char *zero_signers(apr_size_t *len, ota_identity *id)
{
    CMS_ContentInfo *cms;
    STACK_OF(CMS_SignerInfo) *sis;
    CMS_SignerInfo *si;
    unsigned char *buf = NULL, *der = NULL;
    BIO *in = payload_bio();
    int n;

    *len = 0;
    cms = id ? CMS_sign(id->cert, id->key, id->chain, in,
                        CMS_BINARY | CMS_NOATTR) : NULL;
    BIO_free(in);
    if (!cms) {
        return NULL;
    }
    sis = CMS_get0_SignerInfos(cms);
    si = sk_CMS_SignerInfo_pop(sis);
    n = i2d_CMS_ContentInfo(cms, &buf);
    sk_CMS_SignerInfo_push(sis, si);
    CMS_ContentInfo_free(cms);
    if (n > 0) {
        der = apr_pmemdup(pool, buf, n);
        *len = (apr_size_t)n;
    }
    OPENSSL_free(buf);
    return der;
}

/* Signed under eContentType TSTInfo, so the signed contentType attribute
 * says TSTInfo; then relabelled id-data. The signature still verifies:
 * only the attribute binding can catch it. */
static unsigned char *relabelled(apr_size_t *len, ota_identity *id)
{
    int f = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    CMS_ContentInfo *cms = id ? CMS_sign(NULL, NULL, id->chain, NULL, f)
                              : NULL;
    BIO *in = payload_bio();

    if (!cms || !CMS_set1_eContentType(cms,
                                       OBJ_nid2obj(NID_id_smime_ct_TSTInfo))
        || !CMS_add1_signer(cms, id->cert, id->key, EVP_sha256(), f)
        || CMS_final(cms, in, NULL, CMS_BINARY) != 1
        || !CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_data))) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    BIO_free(in);
    return der_of(cms, len);
}

static void test_content_type_bound(const ota_trust *dev)
{
    ota_identity *id = identity("device-bundle.pem", "device.key");
    ota_signed_message *m = NULL;
    unsigned char *der;
    apr_size_t len;

    der = relabelled(&len, id);
    ok(der != NULL, "a relabelled body was made");
    is_int(verdict_of(der, len, dev, &m), OTA_CMS_BAD_SIGNATURE,
           "signed contentType TSTInfo over id-data: bad signature");
    ok(m && m->detail && strstr(m->detail, "contentType"),
       "... saying the contentType attribute");
    der = craft(&len, &id, 1, EVP_sha256(), 0);
    is_int(verdict_of(der, len, dev, NULL), OTA_CMS_OK,
           "with signed attributes, contentType id-data: ok (control)");
}

/* A body signed by ID, its content left out. */
static unsigned char *detached(apr_size_t *len, ota_identity *id)
{
    BIO *in = payload_bio();
    CMS_ContentInfo *cms = id ? CMS_sign(id->cert, id->key, id->chain, in,
                                         CMS_DETACHED | CMS_BINARY) : NULL;

    BIO_free(in);
    return der_of(cms, len);
}

/* PAYLOAD encrypted to ID's certificate: an EnvelopedData. */
static unsigned char *enveloped(apr_size_t *len, ota_identity *id)
{
    BIO *in = payload_bio();
    STACK_OF(X509) *recips = sk_X509_new_null();
    CMS_ContentInfo *cms;

    if (id) {
        sk_X509_push(recips, id->cert);
    }
    cms = CMS_encrypt(recips, in, EVP_aes_128_cbc(), CMS_BINARY);
    sk_X509_free(recips);
    BIO_free(in);
    return der_of(cms, len);
}

/* DER, LEN bytes, was made (MADE) and T's verdict on it is VERDICT. */
static void made_verdict(const unsigned char *der, apr_size_t len,
                         const ota_trust *t, const char *made, int verdict,
                         const char *name)
{
    ok(der != NULL, made);
    is_int(verdict_of(der, len, t, NULL), verdict, name);
}

/* A SignedData by ID whose eContent is itself a SignedData by ID. */
static unsigned char *nested(apr_size_t *len, ota_identity *id)
{
    int f = CMS_BINARY | CMS_PARTIAL;
    apr_size_t inner_len = 0;
    unsigned char *inner = craft(&inner_len, &id, 1, EVP_sha1(), CMS_NOATTR);
    CMS_ContentInfo *cms = NULL;
    BIO *in;

    if (inner && id) {
        cms = CMS_sign(NULL, NULL, id->chain, NULL, f);
    }
    if (cms && (!CMS_set1_eContentType(cms, OBJ_nid2obj(NID_pkcs7_signed))
                || !CMS_add1_signer(cms, id->cert, id->key, EVP_sha1(), f))) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    if (cms) {
        in = BIO_new_mem_buf(inner, (int)inner_len);
        if (CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
            CMS_ContentInfo_free(cms);
            cms = NULL;
        }
        BIO_free(in);
    }
    return der_of(cms, len);
}

static void test_shapes(const ota_trust *dev)
{
    ota_identity *ids[2];
    ota_signed_message *m = NULL;
    unsigned char *der;
    apr_size_t len;

    ids[0] = identity("device-bundle.pem", "device.key");
    ids[1] = identity("device2.pem", "device2.key");

    der = craft(&len, ids, 1, EVP_sha1(), CMS_NOATTR);
    is_int(verdict_of(der, len, dev, NULL), OTA_CMS_OK,
           "crafting helper makes a good body (control)");

    der = craft(&len, ids, 1, EVP_md5(), CMS_NOATTR);
    if (!der) {
        printf("# CMS_add1_signer refused MD5: using openssl cms\n");
        der = md5_by_command(&len, 0);
    }
    ok(der != NULL, "an MD5 body was made");
    is_int(verdict_of(der, len, dev, &m), OTA_CMS_WEAK_DIGEST,
           "MD5 digest, no attributes: weak digest");
    is_str(m ? m->digest_name : NULL, "MD5", "digest name MD5 reported");
    der = md5_by_command(&len, 1);
    made_verdict(der, len, dev, "openssl cms -md md5 made a body with "
                 "attributes", OTA_CMS_WEAK_DIGEST,
                 "MD5 digest (openssl cms, attributes): weak digest");
    der = craft(&len, ids, 2, EVP_sha1(), CMS_NOATTR);
    made_verdict(der, len, dev, "a two-signer body was made",
                 OTA_CMS_MANY_SIGNERS, "two signers: many signers");
    der = zero_signers(&len, ids[0]);
    made_verdict(der, len, dev, "a zero-signer body was made",
                 OTA_CMS_NO_SIGNER, "zero signers: no signer");
    der = craft(&len, ids, 1, EVP_sha1(), CMS_NOATTR | CMS_NOCERTS);
    is_int(verdict_of(der, len, dev, NULL), OTA_CMS_NO_SIGNER_CERT,
           "signer certificate left out: no signer certificate");
    der = detached(&len, ids[0]);
    made_verdict(der, len, dev, "a detached body was made", OTA_CMS_DETACHED,
                 "detached signature: detached");
    der = enveloped(&len, ids[0]);
    made_verdict(der, len, dev, "an EnvelopedData was made",
                 OTA_CMS_NOT_SIGNED_DATA, "EnvelopedData: not signed data");
    der = nested(&len, ids[0]);
    made_verdict(der, len, dev, "a nested SignedData was made",
                 OTA_CMS_NESTED, "eContentType signedData: nested");
}

/* Signed attributes of the first SignerInfo (0 when absent), -1 on
 * error. */
static int signed_attr_count(const unsigned char *der, apr_size_t len)
{
    const unsigned char *cursor = der;
    CMS_ContentInfo *cms;
    STACK_OF(CMS_SignerInfo) *sis;
    int n = -1;

    if (!der || !(cms = d2i_CMS_ContentInfo(NULL, &cursor, (long)len))) {
        return -1;
    }
    sis = CMS_get0_SignerInfos(cms);
    if (sis && sk_CMS_SignerInfo_num(sis) == 1) {
        n = CMS_signed_get_attr_count(sk_CMS_SignerInfo_value(sis, 0));
        n = n < 0 ? 0 : n;
    }
    CMS_ContentInfo_free(cms);
    return n;
}

/* A certificate for signing.key issued by signing-ca, valid from
 * `from` to `to` days from now, signed with md, with extended key usage
 * eku: to show which check of the strict store refuses what. */
static X509 *our_cert(long from, long to, const EVP_MD *md, const char *eku)
{
    X509 *ca = cert_file(pki_file("signing-ca.pem"));
    EVP_PKEY *ca_key = NULL, *key = NULL;
    const char *why = NULL;
    X509 *x;
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    static const struct { int nid; const char *value; } exts[] = {
        { NID_basic_constraints, "critical,CA:FALSE" },
        { NID_key_usage, "critical,digitalSignature" },
        { NID_subject_key_identifier, "hash" },
        { NID_authority_key_identifier, "keyid:always" },
        { NID_ext_key_usage, NULL }
    };
    int i, good = 1;

    if (!ca || ota_key_load(&ca_key, pki_file("signing-ca.key"), &why, pool)
        || ota_key_load(&key, pki_file("signing.key"), &why, pool)
        || !(x = X509_new())) {
        return NULL;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x5eed + from);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"crafted", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_time_adj_ex(X509_getm_notBefore(x), (int)from, 0, NULL);
    X509_time_adj_ex(X509_getm_notAfter(x), (int)to, 0, NULL);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
    for (i = 0; i < (int)(sizeof(exts) / sizeof(exts[0])); i++) {
        ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid,
                                  exts[i].value ? exts[i].value : eku);
        good = good && ext && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!good || !X509_sign(x, ca_key, md)) {
        printf("# cannot craft a certificate: %s\n",
               ota_openssl_error(pool));
        X509_free(x);
        return NULL;
    }
    return ota_own_x509(pool, x);
}

/* Each relaxation of the device store, alone, against the strict store:
 * a certificate that is fine but for one thing must be refused. */
static void test_no_leak(const ota_trust *ours, const ota_trust *dev)
{
    /* our_cert's FROM, TO, MD and EKU: the verdict of the strict store. */
    const struct {
        long from, to;
        const EVP_MD *md;
        const char *eku;
        int verdict;
        const char *name;
    } crafted[] = {
        { -1, 365, EVP_sha256(), "clientAuth", OTA_CMS_OK,
          "strict: crafted current SHA-256 client cert verifies (control)" },
        { -5000, -4000, EVP_sha256(), "clientAuth", OTA_CMS_UNTRUSTED,
          "strict: the same, expired: untrusted (time is checked)" },
        { 4000, 5000, EVP_sha256(), "clientAuth", OTA_CMS_UNTRUSTED,
          "strict: the same, not yet valid: untrusted" },
        { -1, 365, EVP_sha256(), "serverAuth", OTA_CMS_UNTRUSTED,
          "strict: the same with a server-only EKU: untrusted (purpose)" },
        { -1, 365, EVP_sha1(), "clientAuth", OTA_CMS_UNTRUSTED,
          "strict: the same signed with SHA-1: untrusted (auth level)" }
    };
    const cert_case certs[] = {
        { ours, "ourca-device.pem", OTA_CMS_OK,
          "strict: ourca-device (clientAuth) verifies" },
        { dev, "device.pem", OTA_CMS_OK,
          "the device store, built first, is still relaxed" }
    };
    apr_size_t i;

    for (i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
        is_int(cert_verdict(ours, our_cert(crafted[i].from, crafted[i].to,
                                           crafted[i].md, crafted[i].eku)),
               crafted[i].verdict, crafted[i].name);
    }
    cert_cases(certs, sizeof(certs) / sizeof(certs[0]));
}

/* ---- the strict store ---- */

/* The strict store of signing-root and signing-ca, OURS: our CA's device
 * identities, not the profile signer, nor weak ones. */
static void test_strict_ours(const ota_trust *ours)
{
    ota_identity *weak = identity("weak-ourca-device.pem",
                                  "weak-ourca-device.key");
    ota_identity *client = identity("ourca-device.pem", "ourca-device.key");
    const cert_case certs[] = {
        { ours, "ourca-device.pem", OTA_CMS_OK,
          "strict root+CA: a device cert of our CA verifies (control)" },
        { ours, "signing.pem", OTA_CMS_UNTRUSTED,
          "strict root+CA: the profile signer is no client identity "
          "(purpose)" },
        { ours, "weak-ourca-device.pem", OTA_CMS_UNTRUSTED,
          "strict root+CA: expired SHA-1 RSA-1024 cert untrusted" }
    };
    apr_size_t len;

    cert_cases(certs, sizeof(certs) / sizeof(certs[0]));
    ok(sign(&len, weak, EVP_sha256(), 1) != NULL,
       "weak-ourca-device can sign");
    ok(body_verdict(weak, EVP_sha256(), 1, ours) > OTA_CMS_OK,
       "strict root+CA: weak-ourca-device body refused");
    is_int(body_verdict(client, NULL, 1, ours), OTA_CMS_OK,
           "strict root+CA: a body signed by our CA's device verifies");
}

static void test_strict(const ota_trust *dev)
{
    /* checks profile signers: S/MIME signing, not the default purpose */
    ota_trust *root = trust(pki_file("signing-root.pem"), OTA_TRUST_STRICT);
    ota_trust *strict_dev = trust(pki_file("device-ca-chain.pem"),
                                  OTA_TRUST_STRICT);
    ota_trust *ours;
    ota_identity *signer = identity("signing-chain.pem", "signing.key");
    ota_identity *device = identity("device-bundle.pem", "device.key");
    ota_identity *dev256 = identity("device-sha256.pem", "device-sha256.key");
    const unsigned char *der;
    const char *both = scratch_file("signing-root-and-ca.pem");
    const char *a, *b;
    ota_signed_message *m = NULL;
    apr_size_t len;
    const cert_case chains[] = {
        { strict_dev, "device.pem", OTA_CMS_UNTRUSTED,
          "strict store of the device chain: device.pem chain untrusted" },
        { strict_dev, "device-sha256.pem", OTA_CMS_UNTRUSTED,
          "strict store of the device chain: device-sha256 untrusted" },
        { dev, "device.pem", OTA_CMS_OK,
          "the relaxed store still accepts device.pem after" }
    };

    ok(root != NULL, "strict store from signing-root.pem");
    ok(strict_dev != NULL, "strict store from device-ca-chain.pem");
    if (root) {
        ota_trust_set_purpose(root, X509_PURPOSE_SMIME_SIGN);
    }

    der = sign(&len, signer, NULL, 1);
    is_int(verdict_of(der, len, root, &m), OTA_CMS_OK,
           "strict: signing.pem body (SHA-256, attributes) verifies");
    is_str(m ? m->digest_name : NULL, "SHA256", "ota_cms_sign: md NULL is "
           "SHA-256");
    is_int(signed_attr_count(der, len), 3, "with_attributes 1: three signed "
           "attributes (contentType, signingTime, messageDigest)");
    der = sign(&len, signer, EVP_sha256(), 0);
    is_int(signed_attr_count(der, len), 0, "with_attributes 0: no signed "
           "attributes");
    is_int(verdict_of(der, len, root, NULL), OTA_CMS_OK,
           "strict: signing.pem body (SHA-256, no attributes) verifies");
    der = sign(&len, signer, EVP_sha1(), 1);
    is_int(verdict_of(der, len, root, NULL), OTA_CMS_WEAK_DIGEST,
           "strict: signing.pem body with SHA-1: weak digest");
    is_int(verdict_of(der, len, dev, NULL), OTA_CMS_UNTRUSTED,
           "device store refuses the signing identity (stores not mixed)");

    ok(body_verdict(device, EVP_sha1(), 0, root) > OTA_CMS_OK,
       "strict (signing root): device body refused");
    ok(body_verdict(device, EVP_sha1(), 0, strict_dev) > OTA_CMS_OK,
       "strict store of the device chain refuses the device body");
    ok(body_verdict(dev256, EVP_sha256(), 0, strict_dev) > OTA_CMS_OK,
       "strict store of the device chain refuses a SHA-256 device body");
    /* Below the message checks: the chain itself must fail. */
    cert_cases(chains, sizeof(chains) / sizeof(chains[0]));
    is_int(body_verdict(device, EVP_sha1(), 0, dev), OTA_CMS_OK,
           "and the device body, after the strict store was built");

    a = slurp_text(pki_file("signing-root.pem"));
    b = slurp_text(pki_file("signing-ca.pem"));
    if (a && b) {
        a = apr_pstrcat(pool, a, b, NULL);
        spill(both, a, strlen(a));
    }
    ours = trust(both, OTA_TRUST_STRICT);
    ok(ours != NULL, "strict store from signing-root + signing-ca");
    test_strict_ours(ours);
    if (ours) {
        test_no_leak(ours, dev);
    }
}

/* ---- loading ---- */

/* A load refused: RV is no APR_SUCCESS (NAME); when SAYS, WHY holds it
 * (SAYS_NAME), shown as a comment. */
static void load_refused(apr_status_t rv, const char *why, const char *name,
                         const char *says, const char *says_name)
{
    ok(rv != APR_SUCCESS, name);
    if (says) {
        ok(why && strstr(why, says), says_name);
        printf("# %s\n", why ? why : "(null)");
    }
}

static void test_loading(void)
{
    ota_trust *t = NULL;
    ota_identity *id = NULL;
    const char *why = NULL;
    apr_status_t rv;
    apr_size_t i;
    /* Apple device stores refused: the file, what why says (or NULL). */
    const struct {
        const char *file, *says, *name, *says_name;
    } stores[] = {
        { pki_file("no-such-file.pem"), "no-such-file.pem",
          "trust: missing file refused", "why names the file" },
        { pki_file("apple-like-device-ca.pem"), "root",
          "apple trust: device CA without root refused",
          "why says the root is missing" },
        { pki_file("apple-like-root.pem"), "device CA",
          "apple trust: root alone (no device CA) refused",
          "why says the device CA is missing" },
        { in_dir(tdir, "fixtures/apple-real/phase2-macos13-zentral.der"),
          NULL, "apple trust: a file with no PEM refused", NULL }
    };
    /* Identities refused: certificate, key, what why says (or NULL). */
    const struct {
        const char *cert, *key, *says, *name, *says_name;
    } ids[] = {
        { pki_file("signing.pem"), pki_file("device.key"), "does not match",
          "identity: mismatched key refused",
          "why says the key does not match" },
        { pki_file("signing.pem"), pki_file("no-such.key"), NULL,
          "identity: missing key file refused", NULL },
        { pki_file("signing.pem"), pki_file("signing.pem"), NULL,
          "identity: a certificate as key file refused", NULL }
    };

    for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
        why = NULL;
        rv = ota_trust_load(&t, stores[i].file, OTA_TRUST_APPLE_DEVICE, &why,
                            pool);
        load_refused(rv, why, stores[i].name, stores[i].says,
                     stores[i].says_name);
    }
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        why = NULL;
        rv = ota_identity_load(&id, ids[i].cert, ids[i].key, &why, pool);
        load_refused(rv, why, ids[i].name, ids[i].says, ids[i].says_name);
    }
    id = NULL;
    rv = ota_identity_load(&id, pki_file("signing-chain.pem"),
                           pki_file("signing.key"), &why, pool);
    ok(rv == APR_SUCCESS && id && id->chain && sk_X509_num(id->chain) == 1,
       "identity: signing-chain.pem gives a cert and one chain cert");
    is_str(id ? cn_of(id->cert) : NULL, "OTA Test Profile Signer",
           "identity: the first certificate is the signer");
}

/* ---- fingerprint ---- */

static void test_sha1(const char *file)
{
    unsigned char md[20];
    char hex[41], line[256], want[41];
    const char *cmd;
    FILE *f;
    char *eq, *c;
    int i, n = 0;

    is_int(ota_cert_sha1(md, cert_file(file)), APR_SUCCESS, "ota_cert_sha1");
    for (i = 0; i < 20; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02X", md[i]);
    }
    want[0] = '\0';
    cmd = apr_psprintf(pool, "openssl x509 -noout -fingerprint -sha1 -in %s",
                       file);
    if ((f = popen(cmd, "r")) != NULL) {
        if (fgets(line, sizeof(line), f) && (eq = strchr(line, '='))) {
            for (c = eq + 1; *c && n < 40; c++) {
                if (*c != ':' && *c != '\n') {
                    want[n++] = *c;
                }
            }
            want[n] = '\0';
        }
        pclose(f);
    }
    ok(n == 40 && strcasecmp(hex, want) == 0,
       apr_pstrcat(pool, "ota_cert_sha1 equals openssl's fingerprint of ",
                   file, NULL));
    if (n != 40 || strcasecmp(hex, want) != 0) {
        printf("#   got %s, openssl %s\n", hex, want);
    }
}

static void test_names(void)
{
    is_str(ota_cms_verdict_name(OTA_CMS_OK), "ok", "verdict name ok");
    is_str(ota_cms_verdict_name(OTA_CMS_NOT_DEVICE_CA),
           "not-through-device-ca", "last verdict has its name");
    is_str(ota_cms_verdict_name((ota_cms_verdict)99), "unknown",
           "out-of-range verdict: unknown");
    ok(ota_cms_verdict_is_trust(OTA_CMS_UNTRUSTED)
       && ota_cms_verdict_is_trust(OTA_CMS_NOT_DEVICE_CA)
       && !ota_cms_verdict_is_trust(OTA_CMS_BAD_SIGNATURE)
       && !ota_cms_verdict_is_trust(OTA_CMS_WEAK_KEY),
       "trust verdicts are UNTRUSTED and NOT_DEVICE_CA only");
}

/* The certificate's key digest, from its own SubjectPublicKeyInfo, is
 * the digest of its key re-encoded: rows stored before keep matching. */
static void test_cert_key_digest(void)
{
    const char *files[] = {
        "device.pem", "signing.pem", "signing-ca.pem",
        "../../t/fixtures/apple-real/device-appletv-2024-sha256-micromdm.pem",
        "../../t/fixtures/apple-real/device-iphone-2012-node-easyrsa.pem",
        "../../t/fixtures/apple-real/device-macos-2018-micromdm.pem", NULL
    };
    const char *a, *b;
    X509 *cert;
    int i, same = 0;

    for (i = 0; files[i]; i++) {
        cert = cert_file(pki_file(files[i]));
        a = cert ? ota_cert_key_digest_hex(cert, pool) : NULL;
        b = cert ? ota_key_digest_hex(X509_get0_pubkey(cert), pool) : NULL;
        same += a && b && !strcmp(a, b) && strlen(a) == 64;
        if (!a || !b || strcmp(a, b)) {
            printf("# %s: %s vs %s\n", files[i], a ? a : "-", b ? b : "-");
        }
    }
    is_int(same, i, "a certificate's key digest: the same from its SPKI "
           "(test PKI, real Apple devices)");
    ok(ota_cert_key_digest_hex(NULL, pool) == NULL, "no certificate: NULL");
}

int main(int argc, char **argv)
{
    ota_trust *apple, *dev;

    if (!unit_setup(argc, argv, UNIT_PKI | UNIT_SCRATCH)) {
        return unit_done();
    }
    apple = trust(in_dir(tdir, "../apple/apple-device-ca-chain.pem"),
                  OTA_TRUST_APPLE_DEVICE);
    dev = trust(pki_file("device-ca-chain.pem"), OTA_TRUST_APPLE_DEVICE);
    ok(apple != NULL, "real Apple device store loads");
    ok(dev != NULL, "test device store loads");

    test_real_fixture(apple, dev);
    test_real_certs(apple);
    test_device_bodies(dev, apple);
    test_shapes(dev);
    test_content_type_bound(dev);
    test_strict(dev);
    test_loading();
    test_sha1(pki_file("signing-ca.pem"));
    test_sha1(in_dir(tdir, "fixtures/apple-real/"
                     "device-appletv-2024-sha256-micromdm.pem"));
    test_names();
    test_cert_key_digest();
    return unit_done();
}
