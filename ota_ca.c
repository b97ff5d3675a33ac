/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in CA: its identity, judging requests, issuing certificates.
 * Only OpenSSL's X509, X509_REQ, X509V3 and EVP APIs: no hand-written
 * ASN.1. Everything per-CA (files, digests, the extensions every
 * certificate carries) is prepared once in ota_ca_load; ota_ca_issue costs
 * one key hash and one signature. */
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ota_ca.h"
#include "ota_pool.h"

#define OTA_CA_BACKDATE    (5 * 60)     /* seconds, for clock skew */
#define OTA_CA_MAX_DAYS    36500
#define OTA_CA_SERIAL_SIZE 16

struct ota_ca {
    ota_identity *id;
    STACK_OF(X509) *chain;              /* CA first, then its issuers */
    EVP_MD *md;                         /* SHA-256: signs certificates */
    EVP_MD *sha1;                       /* subject key ids (RFC 5280) */
    STACK_OF(X509_EXTENSION) *exts;     /* the same in every certificate */
    unsigned char *der;
    apr_size_t der_len;
};

static const int strong_digests[] = {
    NID_sha256, NID_sha384, NID_sha512, NID_undef
};
static const int ca_curves[] = {
    NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1, NID_undef
};
static const int csr_curves[] = {
    NID_X9_62_prime256v1, NID_secp384r1, NID_undef
};

/* ---- pool-owned OpenSSL objects ---- */

OTA_POOL_CLEANUP(free_md, EVP_MD_free)

static apr_status_t free_exts(void *s)
{
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
    return APR_SUCCESS;
}

/* ---- keys and algorithms ---- */

static int nid_in(int nid, const int *list)
{
    for (; *list != NID_undef; list++) {
        if (*list == nid) {
            return 1;
        }
    }
    return 0;
}

static int ec_curve(const EVP_PKEY *key)
{
    char name[80];

    /* Fails for explicit curve parameters: refused with the rest. */
    if (!EVP_PKEY_get_group_name(key, name, sizeof(name), NULL)) {
        ERR_clear_error();
        return NID_undef;
    }
    return OBJ_txt2nid(name);
}

static ota_ca_csr_verdict key_verdict(const EVP_PKEY *key, int min_rsa,
                                      const int *curves)
{
    if (!key) {
        return OTA_CA_CSR_BAD_ALGORITHM;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        return EVP_PKEY_get_bits(key) >= min_rsa ? OTA_CA_CSR_OK
                                                 : OTA_CA_CSR_WEAK_KEY;
    }
    if (!EVP_PKEY_is_a(key, "EC")) {
        return OTA_CA_CSR_BAD_ALGORITHM;
    }
    if (nid_in(ec_curve(key), curves)) {
        return OTA_CA_CSR_OK;
    }
    return EVP_PKEY_get_bits(key) < 256 ? OTA_CA_CSR_WEAK_KEY
                                        : OTA_CA_CSR_BAD_ALGORITHM;
}

/* ---- loading ---- */

static const char *ca_cert_problem(const ota_identity *id)
{
    X509 *x = id->cert;
    uint32_t flags = X509_get_extension_flags(x);  /* caches, for threads */
    int mdnid = NID_undef, pknid, secbits;
    uint32_t sigflags;

    if (flags & EXFLAG_INVALID) {
        return "its extensions are invalid";
    }
    if (!(flags & EXFLAG_CA)) {
        return "not a CA certificate (no basicConstraints CA:TRUE)";
    }
    if (!(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
        return "its keyUsage lacks keyCertSign";
    }
    if (key_verdict(X509_get0_pubkey(x), OTA_CA_MIN_RSA_BITS, ca_curves)
        != OTA_CA_CSR_OK) {
        return "its key is neither RSA of 2048 bits or more nor EC "
               "P-256, P-384 or P-521";
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) != 1) {
        return "it has expired";
    }
    if (!X509_get_signature_info(x, &mdnid, &pknid, &secbits, &sigflags)
        || !nid_in(mdnid, strong_digests)) {
        return "it is signed with a digest weaker than SHA-256";
    }
    if (sk_X509_num(id->chain) > 0
        && X509_check_issued(sk_X509_value(id->chain, 0), x) != X509_V_OK) {
        return "the second certificate in the file did not issue the first "
               "(the CA certificate comes first, then its issuers)";
    }
    return NULL;
}

/* The CA's subject key id, or a hash of its key when it has none. */
static ASN1_OCTET_STRING *ca_key_id(const ota_ca *ca)
{
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca->id->cert);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASN1_OCTET_STRING *id;

    if (skid) {
        return ASN1_OCTET_STRING_dup(skid);
    }
    if (!X509_pubkey_digest(ca->id->cert, ca->sha1, md, &len)
        || !(id = ASN1_OCTET_STRING_new())) {
        return NULL;
    }
    if (!ASN1_OCTET_STRING_set(id, md, (int)len)) {
        ASN1_OCTET_STRING_free(id);
        return NULL;
    }
    return id;
}

static int push_ext(STACK_OF(X509_EXTENSION) *exts, int nid, int crit,
                    void *value)
{
    X509_EXTENSION *ext = X509V3_EXT_i2d(nid, crit, value);

    if (!ext || !sk_X509_EXTENSION_push(exts, ext)) {
        X509_EXTENSION_free(ext);
        return 0;
    }
    return 1;
}

/* basicConstraints, keyUsage, extendedKeyUsage, authorityKeyIdentifier:
 * built once, copied into each certificate. */
static apr_status_t fixed_extensions(ota_ca *ca, apr_pool_t *p)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();    /* CA:FALSE */
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    int ok;

    ca->exts = sk_X509_EXTENSION_new_null();
    ok = ca->exts && bc && ku && eku && akid
         && ASN1_BIT_STRING_set_bit(ku, 0, 1)       /* digitalSignature */
         && ASN1_BIT_STRING_set_bit(ku, 2, 1)       /* keyEncipherment */
         && sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth))
         && (akid->keyid = ca_key_id(ca)) != NULL
         && push_ext(ca->exts, NID_basic_constraints, 1, bc)
         && push_ext(ca->exts, NID_key_usage, 1, ku)
         && push_ext(ca->exts, NID_ext_key_usage, 0, eku)
         && push_ext(ca->exts, NID_authority_key_identifier, 0, akid);
    BASIC_CONSTRAINTS_free(bc);
    ASN1_BIT_STRING_free(ku);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
    AUTHORITY_KEYID_free(akid);
    ota_own(p, ca->exts, free_exts);
    return ok ? APR_SUCCESS : APR_ENOMEM;
}

static apr_status_t ca_prepare(ota_ca *ca, const char **why, apr_pool_t *p)
{
    unsigned char *der = NULL;
    int n;

    ca->md = ota_own(p, EVP_MD_fetch(NULL, "SHA256", NULL), free_md);
    ca->sha1 = ota_own(p, EVP_MD_fetch(NULL, "SHA1", NULL), free_md);
    ca->chain = ota_own_stack(p, sk_X509_dup(ca->id->chain));
    if (!ca->md || !ca->sha1 || !ca->chain
        || !sk_X509_unshift(ca->chain, ca->id->cert)
        || (n = i2d_X509(ca->id->cert, &der)) <= 0
        || fixed_extensions(ca, p) != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot prepare the CA: %s",
                            ota_openssl_error(p));
        OPENSSL_free(der);
        return APR_EGENERAL;
    }
    ca->der = apr_pmemdup(p, der, n);
    ca->der_len = (apr_size_t)n;
    OPENSSL_free(der);
    return APR_SUCCESS;
}

apr_status_t ota_ca_load(ota_ca **out, const char *cert_file,
                         const char *key_file, const char **why,
                         apr_pool_t *p)
{
    ota_ca *ca = apr_pcalloc(p, sizeof(*ca));
    const char *problem;
    apr_status_t rv;

    if ((rv = ota_identity_load(&ca->id, cert_file, key_file, why, p))
        != APR_SUCCESS) {
        return rv;
    }
    if ((problem = ca_cert_problem(ca->id)) != NULL) {
        ERR_clear_error();
        *why = apr_psprintf(p, "%s cannot be the CA: %s", cert_file,
                            problem);
        return APR_EINVAL;
    }
    if ((rv = ca_prepare(ca, why, p)) != APR_SUCCESS) {
        return rv;
    }
    *out = ca;
    return APR_SUCCESS;
}

const ota_identity *ota_ca_identity(const ota_ca *ca)
{
    return ca->id;
}

X509 *ota_ca_cert(const ota_ca *ca)
{
    return ca->id->cert;
}

STACK_OF(X509) *ota_ca_chain(const ota_ca *ca)
{
    return ca->chain;
}

int ota_ca_has_issuers(const ota_ca *ca)
{
    return sk_X509_num(ca->chain) > 1;
}

const unsigned char *ota_ca_cert_der(const ota_ca *ca, apr_size_t *len)
{
    *len = ca->der_len;
    return ca->der;
}

/* ---- judging requests ---- */

static const char *const verdict_names[] = {
    "ok", "bad-pop", "weak-key", "bad-algorithm", "bad-subject",
    "subject-mismatch", "key-mismatch", "bad-extensions"
};

const char *ota_ca_csr_verdict_name(ota_ca_csr_verdict v)
{
    return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0])
           ? verdict_names[v] : "unknown";
}

/* The UTF-8 of an entry's value: its length, or -1 when unreadable or
 * holding a NUL. *utf8 (OPENSSL_free it) only when asked for. */
static int entry_utf8(unsigned char **utf8, const X509_NAME_ENTRY *e)
{
    unsigned char *s = NULL;
    int len = ASN1_STRING_to_UTF8(&s, X509_NAME_ENTRY_get_data(e));

    if (len > 0 && memchr(s, 0, len)) {
        len = -1;
    }
    if (utf8 && len >= 0) {
        *utf8 = s;
    }
    else {
        OPENSSL_free(s);
    }
    return len;
}

static int entry_is(const X509_NAME_ENTRY *e, const ota_ca_subject_entry *want)
{
    ASN1_OBJECT *type = want->type ? OBJ_txt2obj(want->type, 0) : NULL;
    unsigned char *value = NULL;
    int len = -1, same;

    same = type && want->value
           && OBJ_cmp(type, X509_NAME_ENTRY_get_object(e)) == 0
           && (len = entry_utf8(&value, e)) >= 0
           && (size_t)len == strlen(want->value)
           && memcmp(value, want->value, len) == 0;
    ASN1_OBJECT_free(type);
    OPENSSL_free(value);
    return same;
}

/* Same entries in the same RDNs in the same order; inside an RDN (a SET)
 * any order, since DER sorts it. */
static int subject_matches(X509_NAME *name, const ota_ca_subject_entry *want,
                           int n)
{
    unsigned int used = 0;
    int i, j, rdn, found;

    if (n != X509_NAME_entry_count(name) || n > OTA_CA_MAX_SUBJECT_ENTRIES) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        int joined = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i))
                     == X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i - 1));
        if (joined != !!want[i].same_rdn) {
            return 0;
        }
    }
    for (i = 0; i < n; i++) {
        rdn = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i));
        for (found = 0, j = 0; !found && j < n; j++) {
            X509_NAME_ENTRY *e = X509_NAME_get_entry(name, j);
            if (!(used & (1u << j)) && X509_NAME_ENTRY_set(e) == rdn
                && entry_is(e, &want[i])) {
                used |= 1u << j;
                found = 1;
            }
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

const char *ota_ca_name_text(X509_NAME *name, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int written = bio
                  && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0;
    const char *text = ota_bio_text(bio, written, p);

    return text ? text : "?";
}

static ota_ca_csr_verdict check_subject(X509_REQ *csr,
                                        const ota_ca_policy *pol,
                                        const char **detail, apr_pool_t *p)
{
    X509_NAME *name = X509_REQ_get_subject_name(csr);
    int n = X509_NAME_entry_count(name), i, len;

    if (n < 1 || n > OTA_CA_MAX_SUBJECT_ENTRIES) {
        *detail = apr_psprintf(p, "the subject has %d entries (1 to %d "
                               "allowed)", n, OTA_CA_MAX_SUBJECT_ENTRIES);
        return OTA_CA_CSR_BAD_SUBJECT;
    }
    for (i = 0; i < n; i++) {
        len = entry_utf8(NULL, X509_NAME_get_entry(name, i));
        if (len < 1 || len > OTA_CA_MAX_SUBJECT_VALUE) {
            *detail = apr_psprintf(p, "subject entry %d is empty, unreadable "
                                   "or longer than %d bytes", i + 1,
                                   OTA_CA_MAX_SUBJECT_VALUE);
            return OTA_CA_CSR_BAD_SUBJECT;
        }
    }
    if (pol->subject
        && !subject_matches(name, pol->subject, pol->subject_count)) {
        *detail = apr_psprintf(p, "the subject %s is not the one the device "
                               "was given", ota_ca_name_text(name, p));
        return OTA_CA_CSR_SUBJECT_MISMATCH;
    }
    return OTA_CA_CSR_OK;
}

static ota_ca_csr_verdict check_key_and_pop(X509_REQ *csr,
                                            const ota_ca_policy *pol,
                                            const char **detail,
                                            apr_pool_t *p)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
    int min = pol->min_rsa_bits > OTA_CA_MIN_RSA_BITS ? pol->min_rsa_bits
                                                      : OTA_CA_MIN_RSA_BITS;
    int sig = X509_REQ_get_signature_nid(csr), md = NID_undef, pk;
    ota_ca_csr_verdict v = key_verdict(key, min, csr_curves);
    const char *type = key ? EVP_PKEY_get0_type_name(key) : NULL;

    if (v != OTA_CA_CSR_OK) {
        *detail = apr_psprintf(p, "%s key of %d bits refused",
                               type ? type : "unreadable",
                               key ? EVP_PKEY_get_bits(key) : 0);
        return v;
    }
    if (!OBJ_find_sigid_algs(sig, &md, &pk)
        || !(nid_in(md, strong_digests)
             || (pol->allow_sha1 && md == NID_sha1))) {
        *detail = apr_psprintf(p, "signature algorithm %s refused",
                               OBJ_nid2sn(sig));
        return OTA_CA_CSR_BAD_ALGORITHM;
    }
    if (X509_REQ_verify(csr, key) != 1) {
        *detail = apr_psprintf(p, "not signed by its own key (no proof of "
                               "possession): %s", ota_openssl_error(p));
        return OTA_CA_CSR_BAD_POP;
    }
    return OTA_CA_CSR_OK;
}

/* The subjectAltName a request asks for must be the one bound to the
 * device (none when none is bound): the CA never issues names a request
 * chose. Other extensions it asks for are ignored (*ignored names them). */
static ota_ca_csr_verdict check_extensions(X509_REQ *csr,
                                           const ota_ca_policy *pol,
                                           const char **ignored,
                                           const char **detail,
                                           apr_pool_t *p)
{
    GENERAL_NAMES *san = NULL;

    if (!ota_san_requested(&san, ignored, csr, p)) {
        *detail = "the extension request or its subjectAltName is "
                  "unreadable, empty or repeated";
        return OTA_CA_CSR_BAD_EXTENSIONS;
    }
    if (san && !ota_san_equal(san, pol->san)) {
        *detail = pol->san ? "the requested subjectAltName is not the one "
                             "bound to the device"
                           : "a subjectAltName was requested, and none is "
                             "bound to the device";
        return OTA_CA_CSR_BAD_EXTENSIONS;
    }
    return OTA_CA_CSR_OK;
}

apr_status_t ota_ca_csr_check(ota_ca_csr_verdict *verdict,
                              const char **detail, X509_REQ *csr,
                              const ota_ca_policy *policy, apr_pool_t *p)
{
    static const ota_ca_policy defaults = { 0 };
    const ota_ca_policy *pol = policy ? policy : &defaults;
    const char *ignored = NULL;
    ota_ca_csr_verdict v;

    *detail = NULL;
    if (!csr) {
        return APR_EINVAL;
    }
    v = check_key_and_pop(csr, pol, detail, p);
    if (v == OTA_CA_CSR_OK) {
        v = check_extensions(csr, pol, &ignored, detail, p);
    }
    if (v == OTA_CA_CSR_OK) {
        v = check_subject(csr, pol, detail, p);
    }
    if (v == OTA_CA_CSR_OK && pol->key
        && EVP_PKEY_eq(pol->key, X509_REQ_get0_pubkey(csr)) != 1) {
        *detail = "the request's key is not the expected one";
        v = OTA_CA_CSR_KEY_MISMATCH;
    }
    ERR_clear_error();
    if (v == OTA_CA_CSR_OK && ignored) {
        *detail = apr_pstrcat(p, "ignored what the request asked for: ",
                              ignored, NULL);
    }
    *verdict = v;
    return APR_SUCCESS;
}

/* ---- issuing ---- */

const char *ota_ca_serial_hex(X509 *cert, apr_pool_t *p)
{
    BIGNUM *bn = cert ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert),
                                           NULL)
                      : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *copy = hex ? apr_pstrdup(p, hex) : NULL;

    OPENSSL_free(hex);
    BN_free(bn);
    return copy;
}

/* 16 random bytes, top bit cleared: positive, nonzero, at most 16 bytes
 * of DER content (RFC 5280 allows 20). */
static int set_serial(X509 *x)
{
    unsigned char buf[OTA_CA_SERIAL_SIZE];
    BIGNUM *bn = BN_new();
    ASN1_INTEGER *serial = NULL;
    int ok;

    do {
        if (!bn || RAND_bytes(buf, sizeof(buf)) != 1) {
            BN_free(bn);
            return 0;
        }
        buf[0] &= 0x7f;
    } while (BN_bin2bn(buf, sizeof(buf), bn) == NULL || BN_is_zero(bn));
    ok = (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL
         && X509_set_serialNumber(x, serial);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return ok;
}

static int set_validity(X509 *x, const ota_ca *ca, int days)
{
    const ASN1_TIME *ca_end = X509_get0_notAfter(ca->id->cert);
    time_t now = time(NULL);
    time_t end = now + (time_t)days * 86400;

    if (!X509_time_adj_ex(X509_getm_notBefore(x), 0, -OTA_CA_BACKDATE, &now)) {
        return 0;
    }
    /* Never outlive the CA. */
    if (X509_cmp_time(ca_end, &end) != 1) {
        return X509_set1_notAfter(x, ca_end);
    }
    return X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) != NULL;
}

static int add_subject_key_id(X509 *x, const ota_ca *ca)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
    int ok;

    ok = id && X509_pubkey_digest(x, ca->sha1, md, &len)
         && ASN1_OCTET_STRING_set(id, md, (int)len)
         && X509_add1_ext_i2d(x, NID_subject_key_identifier, id, 0,
                              X509V3_ADD_REPLACE) == 1;
    ASN1_OCTET_STRING_free(id);
    return ok;
}

/* The fixed extensions, the key id, and the names bound to the device:
 * nothing comes from the request but its subject and key. */
static int set_extensions(X509 *x, const ota_ca *ca,
                          const ota_ca_issue_opts *opts)
{
    int i;

    for (i = 0; i < sk_X509_EXTENSION_num(ca->exts); i++) {
        if (!X509_add_ext(x, sk_X509_EXTENSION_value(ca->exts, i), -1)) {
            return 0;
        }
    }
    for (i = 0; opts->urls && i < sk_X509_EXTENSION_num(opts->urls); i++) {
        if (!X509_add_ext(x, sk_X509_EXTENSION_value(opts->urls, i), -1)) {
            return 0;
        }
    }
    return add_subject_key_id(x, ca)
           && (!opts->san
               || X509_add1_ext_i2d(x, NID_subject_alt_name,
                                    (void *)opts->san, 0,
                                    X509V3_ADD_REPLACE) == 1);
}

static GENERAL_NAMES *uri_names(const char *url)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

    if (names && gn && uri && ASN1_STRING_set(uri, url, -1)) {
        GENERAL_NAME_set0_value(gn, GEN_URI, uri);
        if (sk_GENERAL_NAME_push(names, gn)) {
            return names;
        }
        uri = NULL;
    }
    ASN1_IA5STRING_free(uri);
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(names);
    return NULL;
}

/* The extension nid, a SEQUENCE OF (seq) its one element (an item),
 * pushed onto exts. element (NULL: it could not be made) is handed over
 * or freed. */
static int push_one_element(STACK_OF(X509_EXTENSION) *exts, int nid,
                            const ASN1_ITEM *seq, const ASN1_ITEM *item,
                            ASN1_VALUE *element)
{
    OPENSSL_STACK *sk = OPENSSL_sk_new_null();
    int ok = 0;

    if (sk && element && OPENSSL_sk_push(sk, element)) {
        element = NULL;
        ok = push_ext(exts, nid, 0, sk);
    }
    ASN1_item_free(element, item);
    ASN1_item_free((ASN1_VALUE *)sk, seq);
    return ok;
}

/* A distribution point whose full name is url. */
static DIST_POINT *dist_point(const char *url)
{
    DIST_POINT *dp = DIST_POINT_new();

    if (dp && (dp->distpoint = DIST_POINT_NAME_new()) != NULL
        && (dp->distpoint->name.fullname = uri_names(url)) != NULL) {
        dp->distpoint->type = 0;            /* fullName */
        return dp;
    }
    DIST_POINT_free(dp);
    return NULL;
}

/* The OCSP responder at url. */
static ACCESS_DESCRIPTION *ocsp_access(const char *url)
{
    ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
    GENERAL_NAMES *names = uri_names(url);

    if (ad && names) {
        ad->method = OBJ_nid2obj(NID_ad_OCSP);
        GENERAL_NAME_free(ad->location);
        ad->location = sk_GENERAL_NAME_shift(names);
    }
    else {
        ACCESS_DESCRIPTION_free(ad);
        ad = NULL;
    }
    GENERAL_NAMES_free(names);
    return ad;
}

static int push_crl_url(STACK_OF(X509_EXTENSION) *exts, const char *url)
{
    return push_one_element(exts, NID_crl_distribution_points,
                            ASN1_ITEM_rptr(CRL_DIST_POINTS),
                            ASN1_ITEM_rptr(DIST_POINT),
                            (ASN1_VALUE *)dist_point(url));
}

static int push_ocsp_url(STACK_OF(X509_EXTENSION) *exts, const char *url)
{
    return push_one_element(exts, NID_info_access,
                            ASN1_ITEM_rptr(AUTHORITY_INFO_ACCESS),
                            ASN1_ITEM_rptr(ACCESS_DESCRIPTION),
                            (ASN1_VALUE *)ocsp_access(url));
}

apr_status_t ota_ca_url_extensions(STACK_OF(X509_EXTENSION) **out,
                                   const char *crl_url, const char *ocsp_url,
                                   apr_pool_t *p)
{
    STACK_OF(X509_EXTENSION) *exts;

    *out = NULL;
    if (!crl_url && !ocsp_url) {
        return APR_SUCCESS;
    }
    if (!(exts = sk_X509_EXTENSION_new_null())) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, exts, free_exts, apr_pool_cleanup_null);
    if ((crl_url && !push_crl_url(exts, crl_url))
        || (ocsp_url && !push_ocsp_url(exts, ocsp_url))) {
        ERR_clear_error();
        return APR_EGENERAL;
    }
    *out = exts;
    return APR_SUCCESS;
}

X509_EXTENSION *ota_ca_authority_key_id(const ota_ca *ca)
{
    int i;

    for (i = 0; i < sk_X509_EXTENSION_num(ca->exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(ca->exts, i);

        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext))
            == NID_authority_key_identifier) {
            return ext;
        }
    }
    return NULL;
}

const EVP_MD *ota_ca_digest(const ota_ca *ca)
{
    return ca->md;
}

static apr_status_t issue_fail(const char **why, const char *what,
                               apr_pool_t *p)
{
    *why = apr_psprintf(p, "cannot issue: %s: %s", what,
                        ota_openssl_error(p));
    return APR_EGENERAL;
}

apr_status_t ota_ca_issue(X509 **out, const char **serial_hex,
                          const char **why, const ota_ca *ca, X509_REQ *csr,
                          const ota_ca_issue_opts *opts, apr_pool_t *p)
{
    int lifetime_days = opts->lifetime_days;
    X509 *x;

    if (lifetime_days < 1 || lifetime_days > OTA_CA_MAX_DAYS) {
        *why = apr_psprintf(p, "cannot issue: a lifetime of %d days (1 to "
                            "%d allowed)", lifetime_days, OTA_CA_MAX_DAYS);
        return APR_EINVAL;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(ca->id->cert)) != 1) {
        *why = "cannot issue: the CA certificate has expired";
        return APR_EINVAL;
    }
    if (!(x = X509_new())) {
        return issue_fail(why, "out of memory", p);
    }
    ota_own_x509(p, x);
    if (!X509_set_version(x, X509_VERSION_3) || !set_serial(x)
        || !X509_set_subject_name(x, X509_REQ_get_subject_name(csr))
        || !X509_set_issuer_name(x, X509_get_subject_name(ca->id->cert))
        || !X509_set_pubkey(x, X509_REQ_get0_pubkey(csr))
        || !set_validity(x, ca, lifetime_days)) {
        return issue_fail(why, "building the certificate", p);
    }
    if (!set_extensions(x, ca, opts)) {
        return issue_fail(why, "adding extensions", p);
    }
    if (X509_sign(x, ca->id->key, ca->md) <= 0) {
        return issue_fail(why, "signing", p);
    }
    if (serial_hex && !(*serial_hex = ota_ca_serial_hex(x, p))) {
        return issue_fail(why, "printing the serial", p);
    }
    *out = x;
    return APR_SUCCESS;
}

apr_status_t ota_ca_subject_entries(const ota_ca_subject_entry **out,
                                    int *count, const char *text,
                                    apr_pool_t *p)
{
    apr_array_header_t *entries = apr_array_make(p, 4,
                                                 sizeof(ota_ca_subject_entry));
    char *copy = apr_pstrdup(p, text), *state = NULL, *line, *eq;
    ota_ca_subject_entry *e;

    for (line = apr_strtok(copy, "\n", &state); line;
         line = apr_strtok(NULL, "\n", &state)) {
        if (!(eq = strchr(line, '=')) || eq == line
            || entries->nelts == OTA_CA_MAX_SUBJECT_ENTRIES) {
            return APR_EINVAL;
        }
        *eq = '\0';
        e = apr_array_push(entries);
        e->type = line;
        e->value = eq + 1;
        e->same_rdn = 0;
    }
    if (entries->nelts == 0) {
        return APR_EINVAL;
    }
    *out = (const ota_ca_subject_entry *)entries->elts;
    *count = entries->nelts;
    return APR_SUCCESS;
}

int ota_ca_same_subject(X509_REQ *csr, X509 *cert)
{
    return X509_NAME_cmp(X509_REQ_get_subject_name(csr),
                         X509_get_subject_name(cert)) == 0;
}

int ota_ca_cert_has_subject(X509 *cert, X509_NAME *name)
{
    return name && X509_NAME_cmp(X509_get_subject_name(cert), name) == 0;
}

int ota_ca_cert_subject_is(X509 *cert, const ota_ca_subject_entry *entries,
                           int count)
{
    return subject_matches(X509_get_subject_name(cert), entries, count);
}

/* ---- requests kept for later (held for approval) ---- */

const char *ota_ca_csr_pem(X509_REQ *csr, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int written = bio && PEM_write_bio_X509_REQ(bio, csr);

    return ota_bio_text(bio, written, p);
}

X509_REQ *ota_ca_csr_from_pem(const char *pem, apr_pool_t *p)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509_REQ *csr = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)
                        : NULL;

    BIO_free(bio);
    ERR_clear_error();
    return ota_own_x509_req(p, csr);
}

int ota_ca_csr_has_subject(X509_REQ *csr, X509_NAME *name)
{
    return name && X509_NAME_cmp(X509_REQ_get_subject_name(csr), name) == 0;
}
