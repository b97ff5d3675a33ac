/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in SCEP CA: loading its identity once, judging certificate
 * requests, and issuing device certificates. Pure APR + OpenSSL: no httpd
 * calls. Everything is owned by the pool it was created in (cleanups);
 * errors are returned with a `why` text, never logged. An ota_ca is
 * read-only after ota_ca_load, so threads may share it. */
#ifndef OTA_CA_H
#define OTA_CA_H

#include <apr_pools.h>
#include <openssl/x509.h>
#include <openssl/evp.h>

#include "ota_cms.h"
#include "ota_san.h"

/* Bounds on a requested subject (entries, not RDNs: a multi-valued RDN
 * counts once per entry) and on each value, in UTF-8 bytes. */
#define OTA_CA_MAX_SUBJECT_ENTRIES 8
#define OTA_CA_MAX_SUBJECT_VALUE   128
#define OTA_CA_MIN_RSA_BITS        2048

typedef struct ota_ca ota_ca;

/* Loads the CA certificate (the file may hold its issuers after it, CA
 * first) and key, and refuses: a key that does not match, a certificate
 * without basicConstraints CA:TRUE or whose keyUsage lacks keyCertSign,
 * RSA below 2048 bits or EC other than P-256/P-384/P-521, an expired
 * certificate, a signature digest weaker than SHA-256, a second certificate
 * that did not issue the first. Everything ota_ca_issue needs is parsed
 * and fetched here. */
apr_status_t ota_ca_load(ota_ca **out, const char *cert_file,
                         const char *key_file, const char **why,
                         apr_pool_t *p);

/* The CA's signing identity (for the CMS of a CertRep); its chain holds
 * the issuers found after the CA certificate. */
const ota_identity *ota_ca_identity(const ota_ca *ca);
X509 *ota_ca_cert(const ota_ca *ca);

/* The CA certificate and its issuers, CA first (GetCACert with a chain
 * answers these as a degenerate PKCS#7). */
STACK_OF(X509) *ota_ca_chain(const ota_ca *ca);

/* 1 when the certificate file held issuers after the CA certificate. */
int ota_ca_has_issuers(const ota_ca *ca);

/* DER of the CA certificate alone (GetCACert, application/x-x509-ca-cert).
 * Computed once at load. */
const unsigned char *ota_ca_cert_der(const ota_ca *ca, apr_size_t *len);

/* ---- judging a certificate request ---- */

typedef enum {
    OTA_CA_CSR_OK = 0,
    OTA_CA_CSR_BAD_POP,           /* not signed by its own key */
    OTA_CA_CSR_WEAK_KEY,          /* RSA below the minimum, EC below 256 */
    OTA_CA_CSR_BAD_ALGORITHM,     /* key type, curve or digest refused */
    OTA_CA_CSR_BAD_SUBJECT,       /* empty, too many entries, bad value */
    OTA_CA_CSR_SUBJECT_MISMATCH,  /* not the subject the device was given */
    OTA_CA_CSR_KEY_MISMATCH,      /* not the expected key */
    OTA_CA_CSR_BAD_EXTENSIONS     /* unreadable extension request or SAN */
} ota_ca_csr_verdict;

/* One entry of an expected subject, in order. type: a short name ("CN"),
 * long name ("commonName") or dotted OID ("2.5.4.3"); value: UTF-8.
 * same_rdn: 1 when this entry joins the previous one in a multi-valued
 * RDN (Apple's Subject: an RDN is an inner array of [oid, value] pairs;
 * every pair after the first of an RDN has same_rdn 1). */
typedef struct ota_ca_subject_entry {
    const char *type;
    const char *value;
    int same_rdn;
} ota_ca_subject_entry;

typedef struct ota_ca_policy {
    int min_rsa_bits;     /* 0: 2048; can raise the minimum, never lower */
    int allow_sha1;       /* accept SHA-1 signed requests (old devices) */
    const ota_ca_subject_entry *subject;  /* NULL: any subject */
    int subject_count;
    EVP_PKEY *key;        /* NULL: any key; else the request's must equal */
    const GENERAL_NAMES *san;  /* the names bound to the device: a request
                                * may ask for exactly these or for none;
                                * NULL: it may ask for none */
} ota_ca_policy;

/* Judges a request: key, signature digest, proof of possession, extension
 * request (a subjectAltName other than the policy's is refused), subject
 * bounds, then the policy's subject and key, stopping at the first
 * refusal. Returns APR_SUCCESS with *verdict and *detail, for the log:
 * why when refused; when accepted, NULL or the other extensions the
 * request asked for, which are never issued. APR_EINVAL for a NULL csr.
 * policy NULL: the
 * defaults. Subject values are compared byte for byte in UTF-8, whatever
 * ASN.1 string type the request used; inside a multi-valued RDN, entries
 * may come in any order. */
apr_status_t ota_ca_csr_check(ota_ca_csr_verdict *verdict,
                              const char **detail, X509_REQ *csr,
                              const ota_ca_policy *policy, apr_pool_t *p);

/* Stable names: "ok", "bad-pop", "weak-key", "bad-algorithm",
 * "bad-subject", "subject-mismatch", "key-mismatch", "bad-extensions". */
const char *ota_ca_csr_verdict_name(ota_ca_csr_verdict v);

/* ---- issuing ---- */

/* What the CA writes into a certificate beyond its fixed extensions. */
typedef struct ota_ca_issue_opts {
    int lifetime_days;         /* 1 to 36500; never past the CA's notAfter */
    const GENERAL_NAMES *san;  /* the names bound to the device, or NULL */
    /* where relying parties learn of revocation: ota_ca_url_extensions */
    const STACK_OF(X509_EXTENSION) *urls;
} ota_ca_issue_opts;

/* The cRLDistributionPoints (crl_url) and authorityInfoAccess OCSP
 * (ocsp_url) extensions, either URL may be NULL; built once per
 * configuration, added to every certificate issued with them. *out (NULL
 * when both are NULL) is freed with p. */
apr_status_t ota_ca_url_extensions(STACK_OF(X509_EXTENSION) **out,
                                   const char *crl_url, const char *ocsp_url,
                                   apr_pool_t *p);

/* The authorityKeyIdentifier every certificate of this CA carries (the
 * CRL carries it too). Owned by the CA. */
X509_EXTENSION *ota_ca_authority_key_id(const ota_ca *ca);

/* The digest the CA signs with (SHA-256). */
const EVP_MD *ota_ca_digest(const ota_ca *ca);

/* Issues a certificate for a request that passed ota_ca_csr_check (it is
 * not judged again): version 3, random positive serial of at most 128
 * bits, the request's subject and key, valid from 5 minutes ago for
 * opts->lifetime_days, basicConstraints CA:FALSE and keyUsage
 * digitalSignature+keyEncipherment (both critical), extendedKeyUsage
 * clientAuth, subject and authority key ids, and opts->san. Nothing else
 * the request asked for is copied. Signed with SHA-256. Refused
 * (APR_EINVAL) once the CA has expired. *serial_hex (may be NULL): the
 * serial in upper-case hex, as `openssl x509 -serial` prints it. *out is
 * freed with p. */
apr_status_t ota_ca_issue(X509 **out, const char **serial_hex,
                          const char **why, const ota_ca *ca, X509_REQ *csr,
                          const ota_ca_issue_opts *opts, apr_pool_t *p);

/* A certificate's serial in upper-case hex (NULL on failure). */
const char *ota_ca_serial_hex(X509 *cert, apr_pool_t *p);

/* RenewalReq: the new request names the same subject as the old
 * certificate. GetCertInitial: the certificate has that subject. */
int ota_ca_same_subject(X509_REQ *csr, X509 *cert);
int ota_ca_cert_has_subject(X509 *cert, X509_NAME *name);

/* The certificate's subject is exactly these entries (phase 3 from an
 * external CA: the subject the device was told to request). */
int ota_ca_cert_subject_is(X509 *cert, const ota_ca_subject_entry *entries,
                           int count);

/* A request as PEM text, and back (freed with p; NULL if not one): a
 * request held for approval waits in the registry. */
const char *ota_ca_csr_pem(X509_REQ *csr, apr_pool_t *p);
X509_REQ *ota_ca_csr_from_pem(const char *pem, apr_pool_t *p);

/* GetCertInitial for a held request: the request has that subject. */
int ota_ca_csr_has_subject(X509_REQ *csr, X509_NAME *name);

/* RFC 2253 text of a name, for logs and the registry. */
const char *ota_ca_name_text(X509_NAME *name, apr_pool_t *p);

/* The expected subject stored with a SCEP challenge: one "type=value" line
 * per single-valued RDN, in order (see ota_subject_canonical). */
apr_status_t ota_ca_subject_entries(const ota_ca_subject_entry **out,
                                    int *count, const char *text,
                                    apr_pool_t *p);

#endif
