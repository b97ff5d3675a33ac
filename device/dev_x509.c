/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Names, keys and identities: subjects parsed, built and printed, RSA
 * keys made, the device's identity loaded. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>

#include "ota_pool.h"
#include "dev.h"

static const char *bio_text(BIO *b, apr_pool_t *p)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    const char *s = apr_pstrmemdup(p, data ? data : "", n > 0 ? n : 0);

    BIO_free(b);
    return s;
}

const char *dev_name_text(const X509_NAME *name, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());

    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    return bio_text(b, p);
}

const char *dev_time_text(const ASN1_TIME *t, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());

    ASN1_TIME_print_ex(b, t, ASN1_DTFLGS_ISO8601);
    return bio_text(b, p);
}

const char *dev_name_cn(const X509_NAME *name, apr_pool_t *p)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    const char *cn = NULL;
    int n;

    if (i >= 0) {
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                           X509_NAME_get_entry(name, i)));
        if (n >= 0) {
            cn = apr_pstrmemdup(p, (const char *)utf8, n);
        }
    }
    OPENSSL_free(utf8);
    return cn;
}

const char *dev_cert_cn(X509 *x, apr_pool_t *p)
{
    return dev_name_cn(X509_get_subject_name(x), p);
}

static apr_status_t free_name(void *n)
{
    X509_NAME_free(n);
    return APR_SUCCESS;
}

X509_NAME *dev_name_new(apr_pool_t *p)
{
    X509_NAME *name = X509_NAME_new();

    if (name) {
        apr_pool_cleanup_register(p, name, free_name, apr_pool_cleanup_null);
    }
    return name;
}

/* One attribute of a subject; same_rdn joins the previous RDN. */
int dev_name_add(X509_NAME *name, const char *type, const char *value,
                 int same_rdn, const char **why, apr_pool_t *p)
{
    if (X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
                                   (const unsigned char *)value, -1, -1,
                                   same_rdn ? -1 : 0)) {
        return 1;
    }
    ERR_clear_error();
    *why = apr_psprintf(p, "cannot put %s=%s in a subject", type, value);
    return 0;
}

/* "/O=Example/OU=a+CN=b": '/' separates RDNs, '+' joins the pairs of a
 * multi-valued RDN, '\' escapes the next character. */
X509_NAME *dev_name_parse(const char *text, const char **why,
                          apr_pool_t *p)
{
    X509_NAME *name = dev_name_new(p);
    char *buf = apr_palloc(p, strlen(text) + 1), *o = buf, *start = buf;
    const char *s = *text == '/' ? text + 1 : text, *type = NULL;
    int same_rdn = 0;

    for (; name; s++) {
        if (*s == '\\' && s[1]) {
            *o++ = *++s;
            continue;
        }
        if (*s == '=' && !type) {
            *o++ = '\0';
            type = start;
            start = o;
            continue;
        }
        if (*s && *s != '/' && *s != '+') {
            *o++ = *s;
            continue;
        }
        *o++ = '\0';
        if (!type && !*s && !*start) {
            break;
        }
        if (!type || !*type) {
            *why = apr_psprintf(p, "ATTR=VALUE expected in %s", text);
            return NULL;
        }
        if (!dev_name_add(name, type, start, same_rdn, why, p)) {
            return NULL;
        }
        if (!*s) {
            break;
        }
        same_rdn = *s == '+';
        type = NULL;
        start = o;
    }
    return name;
}

EVP_PKEY *dev_rsa_generate(int bits, apr_pool_t *p)
{
    return ota_own_pkey(p, EVP_RSA_gen((unsigned int)bits));
}

/* Single DES needs OpenSSL's legacy provider; loading it explicitly
 * stops the default one from loading implicitly: load both. */
int dev_legacy_provider_load(void)
{
    static OSSL_PROVIDER *dflt, *legacy;

    if (!dflt) {
        dflt = OSSL_PROVIDER_load(NULL, "default");
    }
    if (!legacy) {
        legacy = OSSL_PROVIDER_load(NULL, "legacy");
    }
    return dflt && legacy;
}

/* Adds x to the identity's chain unless it is the leaf or already there:
 * OpenSSL 3.0's CMS refuses a certificate twice. */
static void chain_add(ota_identity *id, X509 *x)
{
    if (X509_cmp(x, id->cert) == 0) {
        return;
    }
    for (int i = 0; i < sk_X509_num(id->chain); i++) {
        if (X509_cmp(x, sk_X509_value(id->chain, i)) == 0) {
            return;
        }
    }
    sk_X509_push(id->chain, x);
}

/* The identity, its file's chain and --chain, each certificate once. */
int dev_identity_load(dev_ctx *ctx)
{
    STACK_OF(X509) *own, *extra = NULL;
    const char *why = NULL;

    if (!ctx->identity_file || !ctx->key_file) {
        return cli_complain(EXIT_LOCAL, "%s needs --identity and --key",
                            ctx->command);
    }
    if (ota_identity_load(&ctx->id, ctx->identity_file, ctx->key_file, &why,
                          ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "%s", why);
    }
    if (ctx->chain_file && ota_certs_load(&extra, ctx->chain_file, &why,
                                          ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "%s", why);
    }
    own = sk_X509_dup(ctx->id->chain);
    sk_X509_zero(ctx->id->chain);
    for (int i = 0; i < sk_X509_num(own); i++) {
        chain_add(ctx->id, sk_X509_value(own, i));
    }
    sk_X509_free(own);
    for (int i = 0; i < sk_X509_num(extra); i++) {
        chain_add(ctx->id, sk_X509_value(extra, i));
    }
    return 0;
}
