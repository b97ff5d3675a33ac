/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* An RFC 6960 OCSP responder for the built-in CA, in two steps so the
 * registry lookup stays in the caller: ota_ocsp_request_read judges a
 * request and lists the serials it asks about; the caller finds each
 * one's status; ota_ocsp_response_build answers, signed by the CA or by a
 * delegated responder (id-kp-OCSPSigning, issued by the CA). Pure APR +
 * OpenSSL's OCSP API. */
#ifndef OTA_OCSP_H
#define OTA_OCSP_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/ocsp.h>

#include "ota_ca.h"

/* Bounds on what a request may ask in one go. */
#define OTA_OCSP_MAX_IDS       16
#define OTA_OCSP_MAX_NONCE     32      /* RFC 8954: 1 to 32 octets */

typedef struct ota_ocsp_responder ota_ocsp_responder;

/* The responder of a CA: signer NULL means the CA signs; otherwise the
 * delegated certificate (issued by the CA, extendedKeyUsage OCSPSigning,
 * valid now) and its key. Everything a request needs is computed here
 * (issuer name and key hashes in SHA-1 and SHA-256). APR_EINVAL with
 * *why for a delegated certificate that does not qualify. */
apr_status_t ota_ocsp_responder_new(ota_ocsp_responder **out,
                                    const ota_ca *ca,
                                    const ota_identity *signer,
                                    const char **why, apr_pool_t *p);

typedef enum {
    OTA_OCSP_READ_OK = 0,
    OTA_OCSP_READ_MALFORMED,      /* not an OCSPRequest, no or too many
                                   * ids, unknown hash, bad nonce */
    OTA_OCSP_READ_UNAUTHORIZED    /* an id for another issuer */
} ota_ocsp_read_verdict;

typedef struct ota_ocsp_request {
    ota_ocsp_read_verdict verdict;
    const char *detail;           /* why, for the log */
    int count;                    /* ids asked about */
    const char **serials;         /* upper-case hex, as the registry */
    const int *hash_nids;         /* each CertID's hash (SHA-1, SHA-256) */
    int nonce;                    /* the request carries a nonce */
    OCSP_REQUEST *req;            /* owned by the pool */
} ota_ocsp_request;

/* Reads a DER OCSPRequest (the body of a POST, or the decoded GET path).
 * Returns APR_SUCCESS with (*out)->verdict; errors only for memory. */
apr_status_t ota_ocsp_request_read(ota_ocsp_request **out,
                                   const unsigned char *der, apr_size_t len,
                                   const ota_ocsp_responder *r,
                                   apr_pool_t *p);

/* 1 when der is one whole DER OCSPRequest and nothing after it (to find
 * a GET request's base64 in a path). */
int ota_ocsp_request_is_whole(const unsigned char *der, apr_size_t len);

typedef enum {
    OTA_OCSP_GOOD = 0,
    OTA_OCSP_REVOKED,
    OTA_OCSP_UNKNOWN              /* never issued here */
} ota_ocsp_cert_status;

typedef struct ota_ocsp_status {
    ota_ocsp_cert_status status;
    apr_time_t revoked;           /* OTA_OCSP_REVOKED */
    int reason;                   /* OTA_REASON_*; unspecified: omitted */
} ota_ocsp_status;

/* A successful response for req, statuses[i] for req->serials[i]:
 * thisUpdate now, nextUpdate now + validity (0: none), the request's
 * nonce echoed, responderID by key hash, signed with SHA-256, the
 * signer's certificate included. *der is freed with p. */
apr_status_t ota_ocsp_response_build(const unsigned char **der,
                                     apr_size_t *len,
                                     const ota_ocsp_request *req,
                                     const ota_ocsp_status *statuses,
                                     const ota_ocsp_responder *r,
                                     apr_time_t now,
                                     apr_interval_time_t validity,
                                     apr_pool_t *p);

/* An unsuccessful response: OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
 * _UNAUTHORIZED, _INTERNALERROR or _TRYLATER (no body, not signed). */
apr_status_t ota_ocsp_error_build(const unsigned char **der, apr_size_t *len,
                                  int status, apr_pool_t *p);

#endif
