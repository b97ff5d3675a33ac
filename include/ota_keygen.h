/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Making keys and self-signed certificates for a new installation
 * (`ota-enroll init`): the built-in CA that ota_ca_load accepts and the
 * identity that signs profiles. Pure APR + OpenSSL: no httpd calls;
 * objects are freed by cleanups of the pool they were made in, errors are
 * returned with a `why` text. */
#ifndef OTA_KEYGEN_H
#define OTA_KEYGEN_H

#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define OTA_KEYGEN_MIN_RSA_BITS 2048
#define OTA_KEYGEN_MAX_RSA_BITS 8192
#define OTA_KEYGEN_MAX_DAYS     36500

typedef enum {
    /* basicConstraints CA:TRUE, pathlen 0; keyUsage keyCertSign, cRLSign,
     * digitalSignature (it signs certificates, CRLs and CertReps) */
    OTA_KEYGEN_CA = 0,
    /* basicConstraints CA:FALSE; keyUsage digitalSignature: signs
     * profiles */
    OTA_KEYGEN_SIGNER = 1
} ota_keygen_kind;

typedef struct ota_keygen_spec {
    ota_keygen_kind kind;
    const char *organization;   /* O=, UTF-8; NULL or "" for none */
    const char *common_name;    /* CN=, UTF-8, required */
    int days;                   /* 1 to OTA_KEYGEN_MAX_DAYS */
} ota_keygen_spec;

/* A new RSA key of bits (OTA_KEYGEN_MIN_RSA_BITS to _MAX_, a multiple of
 * 1024). */
apr_status_t ota_keygen_rsa(EVP_PKEY **out, int bits, const char **why,
                            apr_pool_t *p);

/* A self-signed X.509 v3 certificate for key as spec says: random
 * positive 127-bit serial, valid from 5 minutes ago for spec->days,
 * subject and authority key identifiers, signed with SHA-256. */
apr_status_t ota_keygen_self_signed(X509 **out, const ota_keygen_spec *spec,
                                    EVP_PKEY *key, const char **why,
                                    apr_pool_t *p);

/* The unencrypted PKCS#8 PEM text of a private key, in p. The caller
 * writes it where only root can read it. */
apr_status_t ota_keygen_key_pem(const char **pem, EVP_PKEY *key,
                                const char **why, apr_pool_t *p);

#endif
