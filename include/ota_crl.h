/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Revocation for the built-in CA: reason codes as RFC 5280 names them, and
 * the X.509 v2 CRL. The CRL is built when a revocation happens and when
 * its nextUpdate comes near, and lives in the shared store: never built
 * per request. Pure APR + OpenSSL (X509_CRL API only). */
#ifndef OTA_CRL_H
#define OTA_CRL_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "ota_ca.h"
#include "ota_revoked.h"

/* RFC 5280 5.3.1 CRLReason values an administrator may give a device
 * certificate (no CA, AA or hold reasons). */
#define OTA_REASON_UNSPECIFIED          0
#define OTA_REASON_KEY_COMPROMISE       1
#define OTA_REASON_AFFILIATION_CHANGED  3
#define OTA_REASON_SUPERSEDED           4
#define OTA_REASON_CESSATION            5
#define OTA_REASON_PRIVILEGE_WITHDRAWN  9

/* The code of a reason name ("keyCompromise", ...; exact spelling), -1
 * for anything else. */
int ota_reason_code(const char *name);

/* The name of a code, "unspecified" for an unknown one. */
const char *ota_reason_name(int code);

/* Every name accepted, comma-separated (for error messages). */
const char *ota_reason_names(void);



/* Builds and signs (SHA-256, the CA's key) a v2 CRL: issuer the CA's
 * subject, CRL number, authority key identifier (the CA's subject key id),
 * thisUpdate and nextUpdate, and one entry per revoked certificate with
 * its time and, unless unspecified, its reasonCode. *der is freed with p.
 * APR_EINVAL with *why for a serial that is not hex. */
apr_status_t ota_crl_build(const unsigned char **der, apr_size_t *len,
                           const char **why, const ota_ca *ca,
                           const ota_revoked *entries, int count,
                           apr_int64_t number, apr_time_t this_update,
                           apr_time_t next_update, apr_pool_t *p);

#endif
