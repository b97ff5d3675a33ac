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

X509 *ota_own_x509(apr_pool_t *p, X509 *x);
X509_REQ *ota_own_x509_req(apr_pool_t *p, X509_REQ *req);
EVP_PKEY *ota_own_pkey(apr_pool_t *p, EVP_PKEY *key);
CMS_ContentInfo *ota_own_cms(apr_pool_t *p, CMS_ContentInfo *cms);
/* A stack and the certificates in it. */
STACK_OF(X509) *ota_own_certs(apr_pool_t *p, STACK_OF(X509) *certs);
/* Only the stack: its certificates belong to someone else. */
STACK_OF(X509) *ota_own_stack(apr_pool_t *p, STACK_OF(X509) *certs);

#endif
