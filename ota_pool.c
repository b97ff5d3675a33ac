/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include <apr_strings.h>

#include "ota_pool.h"

OTA_POOL_CLEANUP(free_x509, X509_free)
OTA_POOL_CLEANUP(free_x509_req, X509_REQ_free)
OTA_POOL_CLEANUP(free_pkey, EVP_PKEY_free)
OTA_POOL_CLEANUP(free_cms, CMS_ContentInfo_free)
OTA_POOL_CLEANUP(free_stack, sk_X509_free)

static apr_status_t free_certs(void *certs)
{
    sk_X509_pop_free(certs, X509_free);
    return APR_SUCCESS;
}

void *ota_own(apr_pool_t *p, void *obj, apr_status_t (*cleanup)(void *))
{
    if (obj) {
        apr_pool_cleanup_register(p, obj, cleanup, apr_pool_cleanup_null);
    }
    return obj;
}

X509 *ota_own_x509(apr_pool_t *p, X509 *x)
{
    return ota_own(p, x, free_x509);
}

X509_REQ *ota_own_x509_req(apr_pool_t *p, X509_REQ *req)
{
    return ota_own(p, req, free_x509_req);
}

EVP_PKEY *ota_own_pkey(apr_pool_t *p, EVP_PKEY *key)
{
    return ota_own(p, key, free_pkey);
}

CMS_ContentInfo *ota_own_cms(apr_pool_t *p, CMS_ContentInfo *cms)
{
    return ota_own(p, cms, free_cms);
}

STACK_OF(X509) *ota_own_certs(apr_pool_t *p, STACK_OF(X509) *certs)
{
    return ota_own(p, certs, free_certs);
}

STACK_OF(X509) *ota_own_stack(apr_pool_t *p, STACK_OF(X509) *certs)
{
    return ota_own(p, certs, free_stack);
}

apr_status_t ota_der_take(const unsigned char **der, apr_size_t *len,
                          unsigned char *buf, int n, apr_pool_t *p)
{
    if (n <= 0) {
        return APR_EGENERAL;
    }
    *der = apr_pmemdup(p, buf, n);
    *len = n;
    OPENSSL_free(buf);
    return APR_SUCCESS;
}

const char *ota_bio_text(BIO *bio, int written, apr_pool_t *p)
{
    const char *text = NULL;
    char *data;
    long n;

    if (written) {
        n = BIO_get_mem_data(bio, &data);
        text = apr_pstrmemdup(p, data, n);
    }
    BIO_free(bio);
    return text;
}
