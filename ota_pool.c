/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
#include "ota_pool.h"

static apr_status_t free_x509(void *x)
{
    X509_free(x);
    return APR_SUCCESS;
}

static apr_status_t free_x509_req(void *req)
{
    X509_REQ_free(req);
    return APR_SUCCESS;
}

static apr_status_t free_pkey(void *key)
{
    EVP_PKEY_free(key);
    return APR_SUCCESS;
}

static apr_status_t free_cms(void *cms)
{
    CMS_ContentInfo_free(cms);
    return APR_SUCCESS;
}

static apr_status_t free_certs(void *certs)
{
    sk_X509_pop_free(certs, X509_free);
    return APR_SUCCESS;
}

static apr_status_t free_stack(void *certs)
{
    sk_X509_free(certs);
    return APR_SUCCESS;
}

static void *own(apr_pool_t *p, void *obj, apr_status_t (*fn)(void *))
{
    if (obj) {
        apr_pool_cleanup_register(p, obj, fn, apr_pool_cleanup_null);
    }
    return obj;
}

X509 *ota_own_x509(apr_pool_t *p, X509 *x)
{
    return own(p, x, free_x509);
}

X509_REQ *ota_own_x509_req(apr_pool_t *p, X509_REQ *req)
{
    return own(p, req, free_x509_req);
}

EVP_PKEY *ota_own_pkey(apr_pool_t *p, EVP_PKEY *key)
{
    return own(p, key, free_pkey);
}

CMS_ContentInfo *ota_own_cms(apr_pool_t *p, CMS_ContentInfo *cms)
{
    return own(p, cms, free_cms);
}

STACK_OF(X509) *ota_own_certs(apr_pool_t *p, STACK_OF(X509) *certs)
{
    return own(p, certs, free_certs);
}

STACK_OF(X509) *ota_own_stack(apr_pool_t *p, STACK_OF(X509) *certs)
{
    return own(p, certs, free_stack);
}
