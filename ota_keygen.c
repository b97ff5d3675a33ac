/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Keys and self-signed certificates for a new installation (see
 * include/ota_keygen.h). */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <apr_strings.h>

#include "ota_cms.h"
#include "ota_keygen.h"
#include "ota_pool.h"

#define SERIAL_BITS 127          /* positive, at most 16 octets in DER */
#define BACKDATE_SECONDS 300     /* a little slack for clocks behind */

apr_status_t ota_keygen_rsa(EVP_PKEY **out, int bits, const char **why,
                            apr_pool_t *p)
{
    EVP_PKEY *key;

    if (bits < OTA_KEYGEN_MIN_RSA_BITS || bits > OTA_KEYGEN_MAX_RSA_BITS
        || bits % 1024) {
        *why = apr_psprintf(p, "RSA key size %d: expected a multiple of "
                            "1024 from %d to %d", bits,
                            OTA_KEYGEN_MIN_RSA_BITS,
                            OTA_KEYGEN_MAX_RSA_BITS);
        return APR_EINVAL;
    }
    key = ota_own_pkey(p, EVP_RSA_gen((unsigned int)bits));
    if (!key) {
        *why = apr_pstrcat(p, "cannot generate an RSA key: ",
                           ota_openssl_error(p), NULL);
        return APR_EGENERAL;
    }
    *out = key;
    return APR_SUCCESS;
}

static int name_add(X509_NAME *name, int nid, const char *value)
{
    return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                      (const unsigned char *)value, -1,
                                      -1, 0);
}

static int set_subject(X509 *x, const ota_keygen_spec *spec)
{
    X509_NAME *name = X509_NAME_new();
    int ok;

    ok = name != NULL
         && (!spec->organization || !*spec->organization
             || name_add(name, NID_organizationName, spec->organization))
         && name_add(name, NID_commonName, spec->common_name)
         && X509_set_subject_name(x, name)
         && X509_set_issuer_name(x, name);
    X509_NAME_free(name);
    return ok;
}

static int set_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = 0;

    for (int i = 0; bn && i < 8 && !ok; i++) {
        ok = BN_rand(bn, SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
             && !BN_is_zero(bn);
    }
    ok = ok && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(x, ext, -1);

    X509_EXTENSION_free(ext);
    return ok;
}

static int set_extensions(X509 *x, ota_keygen_kind kind)
{
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509V3_set_ctx_nodb(&ctx);
    if (kind == OTA_KEYGEN_CA) {
        return add_ext(x, &ctx, NID_basic_constraints,
                       "critical,CA:TRUE,pathlen:0")
               && add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,"
                          "cRLSign,digitalSignature")
               && add_ext(x, &ctx, NID_subject_key_identifier, "hash")
               && add_ext(x, &ctx, NID_authority_key_identifier,
                          "keyid:always");
    }
    return add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")
           && add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")
           && add_ext(x, &ctx, NID_subject_key_identifier, "hash")
           && add_ext(x, &ctx, NID_authority_key_identifier,
                      "keyid:always");
}

apr_status_t ota_keygen_self_signed(X509 **out, const ota_keygen_spec *spec,
                                    EVP_PKEY *key, const char **why,
                                    apr_pool_t *p)
{
    X509 *x;

    if (!spec->common_name || !*spec->common_name) {
        *why = "a certificate needs a common name";
        return APR_EINVAL;
    }
    if (spec->days < 1 || spec->days > OTA_KEYGEN_MAX_DAYS) {
        *why = apr_psprintf(p, "validity of %d days: expected 1 to %d",
                            spec->days, OTA_KEYGEN_MAX_DAYS);
        return APR_EINVAL;
    }
    x = ota_own_x509(p, X509_new());
    if (!x || !X509_set_version(x, 2) || !set_serial(x)
        || !set_subject(x, spec)
        || !X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS)
        || !X509_time_adj_ex(X509_getm_notAfter(x), spec->days, 0, NULL)
        || !X509_set_pubkey(x, key)
        || !set_extensions(x, spec->kind)
        || X509_sign(x, key, EVP_sha256()) <= 0) {
        *why = apr_pstrcat(p, "cannot make the certificate for CN=",
                           spec->common_name, ": ", ota_openssl_error(p),
                           NULL);
        return APR_EGENERAL;
    }
    *out = x;
    return APR_SUCCESS;
}

apr_status_t ota_keygen_key_pem(const char **pem, EVP_PKEY *key,
                                const char **why, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    apr_status_t rv = APR_EGENERAL;

    if (bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
        && (len = BIO_get_mem_data(bio, &data)) > 0) {
        *pem = apr_pstrmemdup(p, data, (apr_size_t)len);
        rv = APR_SUCCESS;
    }
    else {
        *why = apr_pstrcat(p, "cannot encode the private key: ",
                           ota_openssl_error(p), NULL);
    }
    /* the memory BIO held the key in clear: wipe it before freeing */
    if (bio && BIO_get_mem_data(bio, &data) > 0) {
        OPENSSL_cleanse(data, (size_t)BIO_get_mem_data(bio, &data));
    }
    BIO_free(bio);
    return rv;
}
