/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* CMS SignedData for the enrollment protocol: loading identities and
 * trust stores once, signing profiles, and verifying what devices post.
 * Pure APR + OpenSSL: no httpd calls. OpenSSL objects are freed by pool
 * cleanups of the pool they were created in. */
#ifndef OTA_CMS_H
#define OTA_CMS_H

#include <apr_pools.h>
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

/* A signing identity: certificate, key, and the rest of the chain found in
 * the certificate file (sent in every signature so devices can build the
 * path to a root they trust). */
typedef struct ota_identity {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
} ota_identity;

/* The two trust stores (README: Trust) share one shape. A relaxed store
 * (the Apple device store) skips time and purpose checks and accepts SHA-1
 * and RSA-1024; it also names the issuing CAs a signer's chain must pass
 * through. A strict store checks everything. */
typedef struct ota_trust ota_trust;

typedef enum {
    OTA_TRUST_STRICT = 0,
    OTA_TRUST_APPLE_DEVICE = 1
} ota_trust_kind;

/* Why a posted SignedData was refused. 400-class verdicts describe a
 * broken message; 403-class ones a well-formed message from a signer we do
 * not trust (see ota_cms_verdict_is_trust). */
typedef enum {
    OTA_CMS_OK = 0,
    OTA_CMS_MALFORMED,        /* not DER/BER CMS at all, or trailing garbage */
    OTA_CMS_NOT_SIGNED_DATA,  /* EnvelopedData, Data, ... in its place */
    OTA_CMS_NO_SIGNER,        /* zero SignerInfos */
    OTA_CMS_MANY_SIGNERS,     /* more than one SignerInfo */
    OTA_CMS_DETACHED,         /* no encapsulated content */
    OTA_CMS_NESTED,           /* eContent is not id-data */
    OTA_CMS_NO_SIGNER_CERT,   /* signer certificate not in the message */
    OTA_CMS_WEAK_DIGEST,      /* digest outside the allow-list (MD5, ...) */
    OTA_CMS_BAD_SIGNATURE,    /* signature or message digest does not match */
    OTA_CMS_WEAK_KEY,         /* signer key below the store's minimum */
    OTA_CMS_UNTRUSTED,        /* signer does not chain to the anchor */
    OTA_CMS_NOT_DEVICE_CA     /* chains to the anchor, not through the device CA */
} ota_cms_verdict;

typedef struct ota_signed_message {
    ota_cms_verdict verdict;
    const char *detail;             /* OpenSSL's reason, for the log */
    const char *content;            /* eContent, NUL-terminated copy */
    apr_size_t content_len;
    X509 *signer;                   /* owned by the message's pool */
    STACK_OF(X509) *chain;          /* verified chain, signer first */
    const char *digest_name;        /* e.g. "SHA1" */
    const ota_trust *trust;         /* the store the signer was checked in */
} ota_signed_message;

apr_status_t ota_certs_load(STACK_OF(X509) **out, const char *file,
                            const char **why, apr_pool_t *p);
apr_status_t ota_key_load(EVP_PKEY **out, const char *file,
                          const char **why, apr_pool_t *p);
apr_status_t ota_identity_load(ota_identity **out, const char *cert_file,
                               const char *key_file, const char **why,
                               apr_pool_t *p);
apr_status_t ota_trust_load(ota_trust **out, const char *chain_file,
                            ota_trust_kind kind, const char **why,
                            apr_pool_t *p);
int ota_trust_count_issuing_cas(const ota_trust *trust);

/* The strict store checks for X509_PURPOSE_SSL_CLIENT (device identities
 * from our CA); another use (profile signers) sets its own purpose. */
void ota_trust_set_purpose(ota_trust *trust, int purpose);

/* Verifies a certificate against a store (extra: untrusted certificates
 * that may help build the chain). *verdict is OTA_CMS_OK, _UNTRUSTED,
 * _NOT_DEVICE_CA or _WEAK_KEY; *chain the verified chain. */
apr_status_t ota_trust_verify_cert(ota_cms_verdict *verdict,
                                   STACK_OF(X509) **chain,
                                   const char **detail, const ota_trust *t,
                                   X509 *cert, STACK_OF(X509) *extra,
                                   apr_pool_t *p);

/* Verifies a posted body. Returns APR_SUCCESS when the verdict was
 * reached (look at (*out)->verdict), an error only when memory or OpenSSL
 * itself failed. */
apr_status_t ota_cms_verify(ota_signed_message **out,
                            const unsigned char *der, apr_size_t len,
                            const ota_trust *trust, apr_pool_t *p);

/* The same against the first of several stores whose certificates issued
 * the signer (the first store when none did): phase 2 and phase 3 share a
 * URL and are told apart by the signer's issuer. (*out)->trust says which
 * store was used. */
apr_status_t ota_cms_verify_any(ota_signed_message **out,
                                const unsigned char *der, apr_size_t len,
                                const ota_trust *const *trusts, int n,
                                apr_pool_t *p);

/* Signs data as an opaque (non-detached) SignedData in DER. md NULL means
 * SHA-256. with_attributes 0 leaves out signed attributes, as real devices
 * do. */
apr_status_t ota_cms_sign(const unsigned char **der, apr_size_t *der_len,
                          const ota_identity *id, const void *data,
                          apr_size_t len, const EVP_MD *md,
                          int with_attributes, apr_pool_t *p);

const char *ota_cms_verdict_name(ota_cms_verdict v);

/* RFC 5652 5.3: a SignerInfo with signed attributes carries exactly one
 * contentType attribute, and its value is the SignedData's eContentType.
 * OpenSSL's CMS_verify checks the message digest but not this binding, so
 * every verifier here calls it. 1: bound (or no signed attributes). */
int ota_cms_content_type_bound(CMS_ContentInfo *cms, CMS_SignerInfo *si);
int ota_cms_verdict_is_trust(ota_cms_verdict v);

/* SHA-1 fingerprint of a certificate's DER, for the SCEP payload's
 * CAFingerprint. out must hold 20 bytes. */
apr_status_t ota_cert_sha1(unsigned char *out, X509 *cert);

/* DER of a certificate, in p. */
apr_status_t ota_cert_der(const unsigned char **der, apr_size_t *len,
                          X509 *cert, apr_pool_t *p);

/* PEM text of a certificate, and back (freed with p; NULL if not PEM). */
const char *ota_cert_pem(X509 *cert, apr_pool_t *p);

/* 32 secret bytes derived from an identity's private key (SHA-256 under a
 * label): the same on every server that shares the identity, unknown to
 * anyone without the key. Form tokens are keyed with it. */
apr_status_t ota_identity_secret(unsigned char *out, const ota_identity *id);

/* Upper-case hex SHA-256 of a public key's SubjectPublicKeyInfo DER: what
 * the registry keeps to recognise a key, and the SCEP transaction id of a
 * request for it (NULL on failure). */
const char *ota_key_digest_hex(EVP_PKEY *key, apr_pool_t *p);
/* The same digest of a certificate's key, from the certificate's own
 * SubjectPublicKeyInfo (no re-encoding of the key: much cheaper). */
const char *ota_cert_key_digest_hex(X509 *cert, apr_pool_t *p);
X509 *ota_cert_from_pem(const char *pem, apr_pool_t *p);

/* Text of the last OpenSSL error (and clears the queue). */
const char *ota_openssl_error(apr_pool_t *p);

#endif
