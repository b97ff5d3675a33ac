/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* OpenSSL objects owned by an APR pool: each function registers the
 * object's free function as a cleanup of p and returns the object (NULL
 * stays NULL, registering nothing). */
#ifndef OTA_POOL_H
#define OTA_POOL_H

#include <apr_pools.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Defines name, a pool cleanup that frees its object with free_fn, an
 * OpenSSL free function of one argument. */
#define OTA_POOL_CLEANUP(name, free_fn)         \
    static apr_status_t name(void *obj)         \
    {                                           \
        free_fn(obj);                           \
        return APR_SUCCESS;                     \
    }

/* obj, its cleanup registered on p (NULL stays NULL, registering
 * nothing). */
void *ota_own(apr_pool_t *p, void *obj, apr_status_t (*cleanup)(void *));

X509 *ota_own_x509(apr_pool_t *p, X509 *x);
X509_REQ *ota_own_x509_req(apr_pool_t *p, X509_REQ *req);
EVP_PKEY *ota_own_pkey(apr_pool_t *p, EVP_PKEY *key);
CMS_ContentInfo *ota_own_cms(apr_pool_t *p, CMS_ContentInfo *cms);
/* A stack and the certificates in it. */
STACK_OF(X509) *ota_own_certs(apr_pool_t *p, STACK_OF(X509) *certs);
/* Only the stack: its certificates belong to someone else. */
STACK_OF(X509) *ota_own_stack(apr_pool_t *p, STACK_OF(X509) *certs);

/* What OpenSSL wrote, copied into p. The n bytes an i2d function
 * allocated at buf (n <= 0: it failed, APR_EGENERAL), buf then freed. */
apr_status_t ota_der_take(const unsigned char **der, apr_size_t *len,
                          unsigned char *buf, int n, apr_pool_t *p);
/* The text in bio, a memory BIO, when written is true (else NULL), bio
 * then freed. */
const char *ota_bio_text(BIO *bio, int written, apr_pool_t *p);

#endif
