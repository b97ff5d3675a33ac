/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* SCEP (RFC 8894) pkiMessages: the server side (parse a PKIOperation,
 * build the CertRep) and the client side the device emulator uses (build
 * a request, read the CertRep). Pure APR + OpenSSL CMS: no httpd calls.
 * Everything returned lives in the pool given; OpenSSL objects are freed
 * by its cleanups. Errors are returned, never logged. */
#ifndef OTA_SCEP_H
#define OTA_SCEP_H

#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ota_cms.h"

/* messageType, RFC 8894 3.2.1.2 */
typedef enum {
    OTA_SCEP_UNKNOWN = 0,
    OTA_SCEP_CERT_REP = 3,
    OTA_SCEP_RENEWAL_REQ = 17,
    OTA_SCEP_PKCS_REQ = 19,
    OTA_SCEP_CERT_POLL = 20,            /* GetCertInitial */
    OTA_SCEP_GET_CERT = 21,
    OTA_SCEP_GET_CRL = 22
} ota_scep_message_type;

#define OTA_SCEP_GET_CERT_INITIAL OTA_SCEP_CERT_POLL

/* pkiStatus */
typedef enum {
    OTA_SCEP_SUCCESS = 0,
    OTA_SCEP_FAILURE = 2,
    OTA_SCEP_PENDING = 3
} ota_scep_status;

/* failInfo */
typedef enum {
    OTA_SCEP_BAD_ALG = 0,
    OTA_SCEP_BAD_MESSAGE_CHECK = 1,
    OTA_SCEP_BAD_REQUEST = 2,
    OTA_SCEP_BAD_TIME = 3,
    OTA_SCEP_BAD_CERT_ID = 4
} ota_scep_fail_info;

#define OTA_SCEP_NONCE_LEN        16    /* what we send */
#define OTA_SCEP_NONCE_MIN        8     /* what we accept */
#define OTA_SCEP_NONCE_MAX        64
#define OTA_SCEP_TID_MAX          128
#define OTA_SCEP_CHALLENGE_MAX    255
#define OTA_SCEP_FAIL_TEXT_MAX    255
#define OTA_SCEP_RECIPIENTS_MAX   16

/* Registers the SCEP attribute OIDs. Not thread-safe (OBJ_create is not):
 * call it once at startup (post_config), before any other ota_scep_*
 * function, which return APR_EINIT until it has run. Idempotent. */
apr_status_t ota_scep_init(void);

const char *ota_scep_message_type_name(ota_scep_message_type t);
const char *ota_scep_status_name(ota_scep_status s);
const char *ota_scep_fail_info_name(ota_scep_fail_info f);

/* ---- server side ---- */

/* What the server accepts beyond its fixed lists (digests SHA-256/384/512,
 * ciphers AES-128/192/256-CBC, RSA key transport only). MD5, single DES
 * and RC2 are never accepted. NULL means all zero. */
typedef struct ota_scep_policy {
    int allow_sha1;         /* set when SHA-1 is among the capabilities */
    int allow_3des;         /* DES-EDE3-CBC (capability DES3) */
    int min_rsa_bits;       /* signer key; 0 means 2048 */
} ota_scep_policy;

typedef struct ota_scep_request {
    /* The verdict. ok: every check passed and the fields below the
     * message data line are set. Otherwise fail_info is what the CertRep
     * says and detail is for the log only (never send it: decryption
     * failures all read the same on purpose). */
    int ok;
    ota_scep_fail_info fail_info;
    const char *detail;
    /* A CertRep FAILURE can answer: transactionID and senderNonce were
     * read (from signed attributes that may not have verified: the client
     * gets its own values back). When 0, answer HTTP 400. */
    int replyable;

    ota_scep_message_type type;
    const char *transaction_id;
    int transaction_id_type;            /* V_ASN1_*: echoed as received */
    const unsigned char *sender_nonce;
    apr_size_t sender_nonce_len;
    const char *digest_name;            /* SignerInfo digest, e.g. "SHA256" */
    int cipher_nid;                     /* envelope cipher, reused in reply */

    /* The signer: self-signed (PKCSReq) or issued earlier (RenewalReq),
     * its signature checked, its chain NOT: that is the caller's job with
     * a strict ota_trust (ota_trust_verify_cert with certs as extra). */
    X509 *signer;
    STACK_OF(X509) *certs;              /* the message's certificates, or
                                         * NULL */

    /* ---- message data (ok only) ---- */
    X509_REQ *csr;                      /* PKCSReq, RenewalReq: signature
                                         * verified */
    const char *challenge;              /* its challengePassword, or NULL */
    int signer_key_is_csr_key;          /* signer and CSR share the key */
    X509_NAME *issuer;                  /* CertPoll, GetCert, GetCRL */
    X509_NAME *subject;                 /* CertPoll */
    ASN1_INTEGER *serial;               /* GetCert, GetCRL */
} ota_scep_request;

/* Parses and checks a pkiMessage (the body of a PKIOperation), decrypting
 * its pkcsPKIEnvelope with the CA's certificate and key. Returns
 * APR_SUCCESS when a verdict was reached (see (*out)->ok), even for
 * garbage; an error only when memory or OpenSSL itself failed, or
 * APR_EINIT before ota_scep_init. */
apr_status_t ota_scep_request_parse(ota_scep_request **out,
                                    const unsigned char *der, apr_size_t len,
                                    const ota_identity *ca,
                                    const ota_scep_policy *policy,
                                    apr_pool_t *p);

/* Builds the CertRep answering req, signed by ca with SHA-256, ca's
 * certificate and chain included. SUCCESS: issued, in a certificates-only
 * SignedData (issued alone, so clients reading "the first certificate"
 * get it) enveloped to req->signer with the request's cipher. FAILURE:
 * fail (+ fail_text, may be NULL, as failInfoText). FAILURE and PENDING
 * carry an empty eContent, as micromdm and EJBCA do. APR_EINVAL when req is
 * not replyable, or SUCCESS is asked for a request that is not ok. */
apr_status_t ota_scep_reply_build(const unsigned char **der, apr_size_t *len,
                                  const ota_identity *ca,
                                  const ota_scep_request *req,
                                  ota_scep_status status,
                                  ota_scep_fail_info fail,
                                  const char *fail_text, X509 *issued,
                                  apr_pool_t *p);

/* GetCRL's SUCCESS CertRep: the CRL (DER) in a degenerate SignedData,
 * enveloped to the requester like an issued certificate. APR_EINVAL for
 * another request type or an unreadable CRL. */
apr_status_t ota_scep_reply_crl(const unsigned char **der, apr_size_t *len,
                                const ota_identity *ca,
                                const ota_scep_request *req,
                                const unsigned char *crl_der,
                                apr_size_t crl_len, apr_pool_t *p);

/* A certificates-only SignedData (no content, no signer): GetCACert with
 * a chain (application/x-x509-ca-ra-cert), and the CertRep's payload.
 * Note that CMS encodes certificates as a SET OF: DER order, not the
 * stack's. */
apr_status_t ota_scep_certs_only(const unsigned char **der, apr_size_t *len,
                                 STACK_OF(X509) *certs, apr_pool_t *p);

/* ---- client side (the device emulator, tests) ---- */

/* Upper-case hex SHA-256 of the key's SubjectPublicKeyInfo DER: a
 * transactionID stable per key. */
const char *ota_scep_transaction_id(EVP_PKEY *key, apr_pool_t *p);

/* A self-signed certificate for key (the PKCSReq signer), valid from an
 * hour ago for `days`, signed with SHA-256. */
apr_status_t ota_scep_self_signed(X509 **out, EVP_PKEY *key,
                                  const char *cn, int days, apr_pool_t *p);

/* A CSR for key with that subject and an optional challengePassword
 * (UTF8String), signed with SHA-256. */
apr_status_t ota_scep_csr(X509_REQ **out, EVP_PKEY *key,
                          const X509_NAME *subject, const char *challenge,
                          apr_pool_t *p);

/* The same with a subjectAltName extension request (san may be NULL). */
apr_status_t ota_scep_csr_san(X509_REQ **out, EVP_PKEY *key,
                              const X509_NAME *subject,
                              const char *challenge,
                              const GENERAL_NAMES *san, apr_pool_t *p);

typedef struct ota_scep_client {
    EVP_PKEY *key;                  /* the client's RSA key */
    X509 *cert;                     /* its signer certificate */
    X509 *recipient;                /* the CA (or RA) certificate */
    ota_scep_message_type type;
    X509_REQ *csr;                  /* PKCSReq, RenewalReq */
    X509_NAME *issuer;              /* CertPoll, GetCert, GetCRL */
    X509_NAME *subject;             /* CertPoll */
    const ASN1_INTEGER *serial;     /* GetCert, GetCRL */
    const char *transaction_id;     /* NULL: ota_scep_transaction_id of
                                     * the CSR's key (else of key) */
    const EVP_MD *md;               /* NULL: SHA-256 */
    const EVP_CIPHER *cipher;       /* NULL: AES-256-CBC */
    int forged_content_type;        /* 0. Tests: a NID the signed
                                     * contentType attribute names while
                                     * the content stays id-data */
} ota_scep_client;

/* A request as sent: what the CertRep must echo. */
typedef struct ota_scep_sent {
    const unsigned char *der;
    apr_size_t len;
    ota_scep_message_type type;
    const char *transaction_id;
    unsigned char sender_nonce[OTA_SCEP_NONCE_LEN];
} ota_scep_sent;

/* Builds a pkiMessage. The digest and cipher are used as given (tests
 * build refused ones too): the caller picks from the CA's capabilities. */
apr_status_t ota_scep_request_build(ota_scep_sent **out,
                                    const ota_scep_client *c,
                                    apr_pool_t *p);

/* Flags of ota_scep_reply_parse. micromdm's scepserver signs its CertRep
 * with SHA-1 and enciphers it with single DES-CBC: reading that needs
 * both flags, and DES loads OpenSSL's legacy provider into the default
 * library context (once, for the rest of the process). */
#define OTA_SCEP_ACCEPT_SHA1    0x01
#define OTA_SCEP_ACCEPT_DES     0x02

typedef struct ota_scep_reply {
    /* ok: signed by the expected certificate, a CertRep echoing our
     * transactionID and nonce, a known pkiStatus, and on SUCCESS an
     * envelope we could open. detail says why not. */
    int ok;
    const char *detail;
    ota_scep_status status;
    ota_scep_fail_info fail_info;       /* FAILURE */
    const char *fail_text;              /* FAILURE, failInfoText or NULL */
    const unsigned char *sender_nonce;  /* the server's */
    apr_size_t sender_nonce_len;
    const char *digest_name;
    int cipher_nid;                     /* SUCCESS */
    STACK_OF(X509) *certs;              /* SUCCESS: the payload's certs */
    X509 *cert;                         /* SUCCESS: the one for our key (or
                                         * the first, for GetCert) */
} ota_scep_reply;

/* Reads a CertRep answering `sent`. signer: the certificate that must
 * have signed it (the CA's, or the RA's). Returns APR_SUCCESS when a
 * verdict was reached (see (*out)->ok). */
apr_status_t ota_scep_reply_parse(ota_scep_reply **out,
                                  const unsigned char *der, apr_size_t len,
                                  const ota_scep_sent *sent,
                                  const ota_scep_client *c, X509 *signer,
                                  int flags, apr_pool_t *p);

#endif
