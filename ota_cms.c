/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* CMS SignedData: identities, the two trust stores, signing, verifying.
 * Only OpenSSL's CMS and X509 APIs are used: no hand-written ASN.1. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "ota_cms.h"
#include "ota_pool.h"

struct ota_trust {
    ota_trust_kind kind;
    STACK_OF(X509) *all;            /* every certificate of the file */
    X509_STORE *store;
    STACK_OF(X509) *untrusted;      /* intermediates supplied server-side */
    STACK_OF(X509) *issuing_cas;    /* the chain must pass through one */
    int min_rsa_bits;
    const int *digest_nids;         /* allow-list, NID_undef terminated */
};

static const int apple_digests[] = {
    NID_sha1, NID_sha256, NID_sha384, NID_sha512, NID_undef
};
static const int strict_digests[] = {
    NID_sha256, NID_sha384, NID_sha512, NID_undef
};

static apr_status_t free_store(void *s)
{
    X509_STORE_free(s);
    return APR_SUCCESS;
}

const char *ota_openssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (!e) {
        return "no OpenSSL error reported";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

apr_status_t ota_certs_load(STACK_OF(X509) **out, const char *file,
                            const char **why, apr_pool_t *p)
{
    BIO *bio;
    X509 *x;
    STACK_OF(X509) *certs;

    if (!(bio = BIO_new_file(file, "r"))) {
        *why = apr_psprintf(p, "cannot read %s: %s", file,
                            ota_openssl_error(p));
        return APR_ENOENT;
    }
    certs = sk_X509_new_null();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        sk_X509_push(certs, x);
    }
    ERR_clear_error();     /* the loop ends on "no start line" */
    BIO_free(bio);
    ota_own_certs(p, certs);
    if (sk_X509_num(certs) == 0) {
        *why = apr_psprintf(p, "%s holds no PEM certificate", file);
        return APR_EINVAL;
    }
    *out = certs;
    return APR_SUCCESS;
}

apr_status_t ota_key_load(EVP_PKEY **out, const char *file,
                          const char **why, apr_pool_t *p)
{
    BIO *bio;
    EVP_PKEY *key;

    if (!(bio = BIO_new_file(file, "r"))) {
        *why = apr_psprintf(p, "cannot read %s: %s", file,
                            ota_openssl_error(p));
        return APR_ENOENT;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!key) {
        *why = apr_psprintf(p, "%s holds no unencrypted PEM private key: %s",
                            file, ota_openssl_error(p));
        return APR_EINVAL;
    }
    ota_own_pkey(p, key);
    *out = key;
    return APR_SUCCESS;
}

apr_status_t ota_identity_load(ota_identity **out, const char *cert_file,
                               const char *key_file, const char **why,
                               apr_pool_t *p)
{
    ota_identity *id = apr_pcalloc(p, sizeof(*id));
    STACK_OF(X509) *certs;
    apr_status_t rv;

    if ((rv = ota_certs_load(&certs, cert_file, why, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = ota_key_load(&id->key, key_file, why, p)) != APR_SUCCESS) {
        return rv;
    }
    /* The stack is freed with p; the identity borrows its members. */
    id->cert = sk_X509_value(certs, 0);
    id->chain = sk_X509_new_null();
    ota_own_stack(p, id->chain);
    /* CMS refuses a certificate twice: skip repeats of a bundle. */
    for (int i = 1; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        int seen = X509_cmp(x, id->cert) == 0;

        for (int j = 0; !seen && j < sk_X509_num(id->chain); j++) {
            seen = X509_cmp(x, sk_X509_value(id->chain, j)) == 0;
        }
        if (!seen) {
            sk_X509_push(id->chain, x);
        }
    }
    if (X509_check_private_key(id->cert, id->key) != 1) {
        ERR_clear_error();
        *why = apr_psprintf(p, "the key in %s does not match the "
                            "certificate in %s", key_file, cert_file);
        return APR_EINVAL;
    }
    *out = id;
    return APR_SUCCESS;
}

/* ---- trust stores ---- */

static int is_self_signed(X509 *x)
{
    return X509_check_issued(x, x) == X509_V_OK;
}

static int issues_another(X509 *ca, STACK_OF(X509) *certs)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *other = sk_X509_value(certs, i);
        if (other != ca && !is_self_signed(other)
            && X509_check_issued(ca, other) == X509_V_OK) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t trust_configure(ota_trust *t, const char **why,
                                    apr_pool_t *p)
{
    X509_VERIFY_PARAM *param = X509_STORE_get0_param(t->store);

    if (t->kind == OTA_TRUST_APPLE_DEVICE) {
        /* Apple's intermediates expired years ago and still issue SHA-1,
         * RSA-1024 identities whose EKU is TLS only: relax exactly that,
         * in this store alone. */
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
        X509_VERIFY_PARAM_set_auth_level(param, 0);
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
        t->min_rsa_bits = 1024;
        t->digest_nids = apple_digests;
    }
    else {
        X509_VERIFY_PARAM_set_auth_level(param, 2);
        /* the strict store checks identities our CA issued to devices */
        X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_CLIENT);
        t->min_rsa_bits = 2048;
        t->digest_nids = strict_digests;
    }
    /* Strict: every certificate of the file is configured trust, so an
     * issuing CA need not come with its root (partial chain). */
    if (t->kind == OTA_TRUST_STRICT
        && !X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT
                                               | X509_V_FLAG_PARTIAL_CHAIN)) {
        *why = ota_openssl_error(p);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t ota_trust_load(ota_trust **out, const char *chain_file,
                            ota_trust_kind kind, const char **why,
                            apr_pool_t *p)
{
    ota_trust *t = apr_pcalloc(p, sizeof(*t));
    STACK_OF(X509) *certs;
    apr_status_t rv;
    int anchors = 0;

    if ((rv = ota_certs_load(&certs, chain_file, why, p)) != APR_SUCCESS) {
        return rv;
    }
    t->kind = kind;
    t->all = certs;
    t->store = X509_STORE_new();
    apr_pool_cleanup_register(p, t->store, free_store, apr_pool_cleanup_null);
    t->untrusted = ota_own_stack(p, sk_X509_new_null());
    t->issuing_cas = ota_own_stack(p, sk_X509_new_null());
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        if (kind == OTA_TRUST_STRICT || is_self_signed(x)) {
            X509_STORE_add_cert(t->store, x);
            ++anchors;
        }
        else {
            sk_X509_push(t->untrusted, x);
            if (!issues_another(x, certs)) {
                sk_X509_push(t->issuing_cas, x);
            }
        }
    }
    if (kind == OTA_TRUST_APPLE_DEVICE && anchors == 0) {
        *why = apr_psprintf(p, "%s holds no self-signed root to anchor the "
                            "device chain", chain_file);
        return APR_EINVAL;
    }
    if (kind == OTA_TRUST_APPLE_DEVICE && sk_X509_num(t->issuing_cas) == 0) {
        *why = apr_psprintf(p, "%s holds no device CA (a CA certificate "
                            "below the root)", chain_file);
        return APR_EINVAL;
    }
    if ((rv = trust_configure(t, why, p)) != APR_SUCCESS) {
        return rv;
    }
    *out = t;
    return APR_SUCCESS;
}

void ota_trust_set_purpose(ota_trust *trust, int purpose)
{
    X509_VERIFY_PARAM_set_purpose(X509_STORE_get0_param(trust->store),
                                  purpose);
}

int ota_trust_count_issuing_cas(const ota_trust *trust)
{
    return sk_X509_num(trust->issuing_cas);
}

/* ---- verification ---- */

static const char *const verdict_names[] = {
    "ok", "malformed", "not-signed-data", "no-signer", "many-signers",
    "detached", "nested-content", "no-signer-certificate", "weak-digest",
    "bad-signature", "weak-key", "untrusted", "not-through-device-ca"
};

const char *ota_cms_verdict_name(ota_cms_verdict v)
{
    return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0])
           ? verdict_names[v] : "unknown";
}

int ota_cms_content_type_bound(CMS_ContentInfo *cms, CMS_SignerInfo *si)
{
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *value;
    int i;

    if (CMS_signed_get_attr_count(si) <= 0) {
        return 1;
    }
    i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1);
    if (i < 0 || CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, i)
                 >= 0) {
        return 0;
    }
    attr = CMS_signed_get_attr(si, i);
    if (X509_ATTRIBUTE_count(attr) != 1) {
        return 0;
    }
    value = X509_ATTRIBUTE_get0_type(attr, 0);
    return value && value->type == V_ASN1_OBJECT
           && OBJ_cmp(value->value.object, CMS_get0_eContentType(cms)) == 0;
}

int ota_cms_verdict_is_trust(ota_cms_verdict v)
{
    return v == OTA_CMS_UNTRUSTED || v == OTA_CMS_NOT_DEVICE_CA;
}

static int digest_allowed(const ota_trust *t, int nid)
{
    for (const int *n = t->digest_nids; *n != NID_undef; n++) {
        if (*n == nid) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t refuse(ota_signed_message *m, ota_cms_verdict v,
                           const char *detail)
{
    m->verdict = v;
    m->detail = detail;
    return APR_SUCCESS;
}

/* The digest of the SignerInfo and the one inside its signature algorithm
 * (sha1WithRSA, ...) must both be on the store's list: OpenSSL's auth level
 * does not look at CMS digests, and accepts MD5 by default. */
static int signer_algorithms_allowed(const ota_trust *t, CMS_SignerInfo *si,
                                     const char **digest_name)
{
    X509_ALGOR *dig = NULL, *sig = NULL;
    int dnid, sig_dnid = NID_undef, pknid;

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
    dnid = OBJ_obj2nid(dig->algorithm);
    *digest_name = OBJ_nid2sn(dnid);
    if (!digest_allowed(t, dnid)) {
        return 0;
    }
    if (OBJ_find_sigid_algs(OBJ_obj2nid(sig->algorithm), &sig_dnid, &pknid)
        && sig_dnid != NID_undef && !digest_allowed(t, sig_dnid)) {
        return 0;
    }
    return 1;
}

static int key_strong_enough(const ota_trust *t, X509 *signer)
{
    EVP_PKEY *key = X509_get0_pubkey(signer);

    if (!key) {
        return 0;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        return EVP_PKEY_get_bits(key) >= t->min_rsa_bits;
    }
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) >= 256;
}

static int chain_through_issuing_ca(const ota_trust *t, STACK_OF(X509) *chain)
{
    for (int i = 1; i < sk_X509_num(chain); i++) {
        for (int j = 0; j < sk_X509_num(t->issuing_cas); j++) {
            if (X509_cmp(sk_X509_value(chain, i),
                         sk_X509_value(t->issuing_cas, j)) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

apr_status_t ota_trust_verify_cert(ota_cms_verdict *verdict,
                                   STACK_OF(X509) **chain,
                                   const char **detail, const ota_trust *t,
                                   X509 *cert, STACK_OF(X509) *extra,
                                   apr_pool_t *p)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_dup(t->untrusted);
    int ok;

    if (!ctx || !untrusted) {
        X509_STORE_CTX_free(ctx);
        sk_X509_free(untrusted);
        return APR_ENOMEM;
    }
    for (int i = 0; extra && i < sk_X509_num(extra); i++) {
        sk_X509_push(untrusted, sk_X509_value(extra, i));
    }
    *chain = NULL;
    *verdict = OTA_CMS_OK;
    ok = X509_STORE_CTX_init(ctx, t->store, cert, untrusted)
         && X509_verify_cert(ctx) == 1;
    if (ok) {
        *chain = ota_own_certs(p, X509_STORE_CTX_get1_chain(ctx));
        if (t->kind == OTA_TRUST_APPLE_DEVICE
            && !chain_through_issuing_ca(t, *chain)) {
            *verdict = OTA_CMS_NOT_DEVICE_CA;
            *detail = "signer chains to the root but not through the "
                      "configured device CA";
        }
        else if (!key_strong_enough(t, cert)) {
            *verdict = OTA_CMS_WEAK_KEY;
            *detail = "signer key too small";
        }
    }
    else {
        *verdict = OTA_CMS_UNTRUSTED;
        *detail = X509_verify_cert_error_string(
                      X509_STORE_CTX_get_error(ctx));
    }
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    ERR_clear_error();
    return APR_SUCCESS;
}

static apr_status_t verify_chain(ota_signed_message *m, CMS_ContentInfo *cms,
                                 const ota_trust *t, apr_pool_t *p)
{
    STACK_OF(X509) *sent = CMS_get1_certs(cms);
    apr_status_t rv;

    rv = ota_trust_verify_cert(&m->verdict, &m->chain, &m->detail, t,
                               m->signer, sent, p);
    sk_X509_pop_free(sent, X509_free);
    return rv;
}

static apr_status_t verify_signature(ota_signed_message *m,
                                     CMS_ContentInfo *cms, apr_pool_t *p)
{
    BIO *out = BIO_new(BIO_s_mem());
    char *data;
    long n;

    if (CMS_verify(cms, NULL, NULL, NULL, out,
                   CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
        BIO_free(out);
        return refuse(m, OTA_CMS_BAD_SIGNATURE, ota_openssl_error(p));
    }
    n = BIO_get_mem_data(out, &data);
    m->content = apr_pstrmemdup(p, data, n);
    m->content_len = n;
    BIO_free(out);
    return APR_SUCCESS;
}

/* Trust-independent shape of the message, and its signer certificate. */
static apr_status_t verify_structure(ota_signed_message *m,
                                     CMS_ContentInfo *cms,
                                     CMS_SignerInfo **si, apr_pool_t *p)
{
    STACK_OF(CMS_SignerInfo) *signers;
    ASN1_OCTET_STRING **content;

    if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
        return refuse(m, OTA_CMS_NOT_SIGNED_DATA,
                      OBJ_nid2sn(OBJ_obj2nid(CMS_get0_type(cms))));
    }
    if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
        return refuse(m, OTA_CMS_NESTED, "encapsulated content is not data");
    }
    content = CMS_get0_content(cms);
    if (!content || !*content) {
        return refuse(m, OTA_CMS_DETACHED, "no encapsulated content");
    }
    signers = CMS_get0_SignerInfos(cms);
    if (sk_CMS_SignerInfo_num(signers) < 1) {
        return refuse(m, OTA_CMS_NO_SIGNER, "no SignerInfo");
    }
    if (sk_CMS_SignerInfo_num(signers) > 1) {
        return refuse(m, OTA_CMS_MANY_SIGNERS, "more than one SignerInfo");
    }
    *si = sk_CMS_SignerInfo_value(signers, 0);
    if (!ota_cms_content_type_bound(cms, *si)) {
        return refuse(m, OTA_CMS_BAD_SIGNATURE, "the signed contentType "
                      "attribute is missing, repeated or not the content's "
                      "type");
    }
    CMS_set1_signers_certs(cms, NULL, 0);
    ERR_clear_error();
    CMS_SignerInfo_get0_algs(*si, NULL, &m->signer, NULL, NULL);
    if (!m->signer) {
        return refuse(m, OTA_CMS_NO_SIGNER_CERT,
                      "signer certificate not in the message");
    }
    X509_up_ref(m->signer);
    ota_own_x509(p, m->signer);
    return APR_SUCCESS;
}

/* The store whose certificates issued the signer (the Apple device store
 * for phase 2, the CA's for phase 3), else the first. */
static const ota_trust *trust_for(X509 *signer, const ota_trust *const *trusts,
                                  int n)
{
    for (int i = 0; signer && i < n; i++) {
        for (int j = 0; j < sk_X509_num(trusts[i]->all); j++) {
            if (X509_check_issued(sk_X509_value(trusts[i]->all, j), signer)
                == X509_V_OK) {
                return trusts[i];
            }
        }
    }
    return trusts[0];
}

/* The chosen store's algorithm policy. */
static apr_status_t verify_policy(ota_signed_message *m, CMS_SignerInfo *si,
                                  const ota_trust *t)
{
    if (!signer_algorithms_allowed(t, si, &m->digest_name)) {
        return refuse(m, OTA_CMS_WEAK_DIGEST, m->digest_name);
    }
    if (!key_strong_enough(t, m->signer)) {
        return refuse(m, OTA_CMS_WEAK_KEY, "signer key too small");
    }
    return APR_SUCCESS;
}

apr_status_t ota_cms_verify_any(ota_signed_message **out,
                                const unsigned char *der, apr_size_t len,
                                const ota_trust *const *trusts, int n,
                                apr_pool_t *p)
{
    ota_signed_message *m = apr_pcalloc(p, sizeof(*m));
    const unsigned char *cursor = der;
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si = NULL;
    apr_status_t rv;

    *out = m;
    m->trust = trusts[0];
    cms = d2i_CMS_ContentInfo(NULL, &cursor, (long)len);
    if (!cms) {
        return refuse(m, OTA_CMS_MALFORMED, ota_openssl_error(p));
    }
    ota_own_cms(p, cms);
    if (cursor != der + len) {
        return refuse(m, OTA_CMS_MALFORMED, "trailing data after the CMS");
    }
    if ((rv = verify_structure(m, cms, &si, p)) != APR_SUCCESS
        || m->verdict != OTA_CMS_OK) {
        return rv;
    }
    m->trust = trust_for(m->signer, trusts, n);
    if ((rv = verify_policy(m, si, m->trust)) != APR_SUCCESS
        || m->verdict != OTA_CMS_OK
        || (rv = verify_signature(m, cms, p)) != APR_SUCCESS
        || m->verdict != OTA_CMS_OK) {
        return rv;
    }
    return verify_chain(m, cms, m->trust, p);
}

apr_status_t ota_cms_verify(ota_signed_message **out,
                            const unsigned char *der, apr_size_t len,
                            const ota_trust *trust, apr_pool_t *p)
{
    return ota_cms_verify_any(out, der, len, &trust, 1, p);
}

/* ---- signing ---- */

apr_status_t ota_cms_sign(const unsigned char **der, apr_size_t *der_len,
                          const ota_identity *id, const void *data,
                          apr_size_t len, const EVP_MD *md,
                          int with_attributes, apr_pool_t *p)
{
    int flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP;
    BIO *in = BIO_new_mem_buf(data, (int)len);
    BIO *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms = NULL;
    apr_status_t rv = APR_EGENERAL;
    char *buf;
    long n;

    cms = CMS_sign(NULL, NULL, id->chain, NULL, flags);
    if (cms
        && CMS_add1_signer(cms, id->cert, id->key, md ? md : EVP_sha256(),
                           flags | (with_attributes ? 0 : CMS_NOATTR))
        && CMS_final(cms, in, NULL, CMS_BINARY) == 1
        && i2d_CMS_bio(out, cms) == 1) {
        n = BIO_get_mem_data(out, &buf);
        *der = apr_pmemdup(p, buf, n);
        *der_len = n;
        rv = APR_SUCCESS;
    }
    /* On failure the error queue stays for ota_openssl_error(). */
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    return rv;
}

apr_status_t ota_cert_sha1(unsigned char *out, X509 *cert)
{
    unsigned int n = 0;

    return X509_digest(cert, EVP_sha1(), out, &n) == 1 && n == 20
           ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t ota_identity_secret(unsigned char *out, const ota_identity *id)
{
    static const char label[] = "mod_ota_enroll form tokens";
    unsigned char *der = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int len = id ? i2d_PrivateKey(id->key, &der) : -1, ok;

    ok = ctx && len > 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)
         && EVP_DigestUpdate(ctx, label, sizeof(label))
         && EVP_DigestUpdate(ctx, der, (size_t)len)
         && EVP_DigestFinal_ex(ctx, out, NULL);
    OPENSSL_clear_free(der, len > 0 ? (size_t)len : 0);
    EVP_MD_CTX_free(ctx);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

const char *ota_key_digest_hex(EVP_PKEY *key, apr_pool_t *p)
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    char *hex;
    int len = key ? i2d_PUBKEY(key, &der) : -1;

    if (len <= 0 || !SHA256(der, (size_t)len, md)) {
        OPENSSL_free(der);
        return NULL;
    }
    OPENSSL_free(der);
    hex = apr_palloc(p, 2 * sizeof(md) + 1);
    for (size_t i = 0; i < sizeof(md); i++) {
        apr_snprintf(hex + 2 * i, 3, "%02X", md[i]);
    }
    return hex;
}

/* The certificate already holds its SubjectPublicKeyInfo: encoding it
 * back from the ASN.1 structure costs a few thousand instructions, where
 * i2d_PUBKEY of the EVP_PKEY goes through OpenSSL 3's encoders (about a
 * million, 6% of a phase-2 request). Same bytes, same digest. */
const char *ota_cert_key_digest_hex(X509 *cert, apr_pool_t *p)
{
    unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
    X509_PUBKEY *spki = cert ? X509_get_X509_PUBKEY(cert) : NULL;
    char *hex;
    int len = spki ? i2d_X509_PUBKEY(spki, &der) : -1;
    size_t i;

    if (len <= 0 || !SHA256(der, (size_t)len, md)) {
        OPENSSL_free(der);
        return NULL;
    }
    OPENSSL_free(der);
    hex = apr_palloc(p, 2 * sizeof(md) + 1);
    for (i = 0; i < sizeof(md); i++) {
        apr_snprintf(hex + 2 * i, 3, "%02X", md[i]);
    }
    return hex;
}

const char *ota_cert_pem(X509 *cert, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int written = bio && PEM_write_bio_X509(bio, cert);

    return ota_bio_text(bio, written, p);
}

X509 *ota_cert_from_pem(const char *pem, apr_pool_t *p)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    ERR_clear_error();
    return ota_own_x509(p, x);
}

apr_status_t ota_cert_der(const unsigned char **der, apr_size_t *len,
                          X509 *cert, apr_pool_t *p)
{
    unsigned char *buf = NULL;
    int n = i2d_X509(cert, &buf);

    return ota_der_take(der, len, buf, n, p);
}
