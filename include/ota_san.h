/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* subjectAltName of issued certificates. The built-in CA writes only the
 * names bound to a device (OTAEnrollSCEPSubjectAltName, filled at phase 2
 * and stored with the SCEP challenge), never what a request asks for.
 * Names travel as text, one "key=value" line each, keys as Apple's SCEP
 * payload spells them: rfc822Name, dNSName, uniformResourceIdentifier,
 * ntPrincipalName (a Microsoft UPN otherName). Pure APR + OpenSSL. */
#ifndef OTA_SAN_H
#define OTA_SAN_H

#include <apr_pools.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define OTA_SAN_MAX_NAMES 8
#define OTA_SAN_MAX_VALUE 255

/* 1 when key is one of the four names above. */
int ota_san_key_known(const char *key);

/* 1 when value may be written as a name of that kind: 1 to
 * OTA_SAN_MAX_VALUE bytes, printable ASCII (UTF-8 for ntPrincipalName),
 * no control characters. */
int ota_san_value_valid(const char *key, const char *value);

/* The names of a "key=value" text (NULL or "": *out NULL). APR_EINVAL
 * with *why: unknown key, empty or over-long value, a value that is not
 * printable ASCII (the three IA5String kinds), more than OTA_SAN_MAX_NAMES.
 * *out is freed with p. */
apr_status_t ota_san_names(GENERAL_NAMES **out, const char *text,
                           const char **why, apr_pool_t *p);

/* The same names, in any order (NULL is the empty set). */
int ota_san_equal(const GENERAL_NAMES *a, const GENERAL_NAMES *b);

/* What a request asks for. *san: its subjectAltName (NULL: none; freed
 * with p); *others: the names of the other extensions it asks for,
 * comma-separated (NULL: none). Returns 0 when the extension request is
 * unreadable or names the subjectAltName twice or empty. */
int ota_san_requested(GENERAL_NAMES **san, const char **others,
                      X509_REQ *csr, apr_pool_t *p);

/* A certificate's subjectAltName (NULL: none; freed with p). */
GENERAL_NAMES *ota_san_of_cert(X509 *cert, apr_pool_t *p);

#endif
