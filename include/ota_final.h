/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3: the final profile (README: Phase 3). The administrator's payloads
 * are read and checked once, at startup; per device they are copied, their
 * %{FIELD} templates filled, and the payload array is encrypted (CMS
 * EnvelopedData) to the device's certificate inside a Configuration profile
 * that the caller signs. Pure APR + OpenSSL + libplist. */
#ifndef OTA_FINAL_H
#define OTA_FINAL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <plist/plist.h>

#include "ota_plist.h"
#include "ota_profile.h"

/* Largest profile file read. */
#define OTA_FINAL_MAX_FILE (1024 * 1024)

/* Limits for the administrator's file: generous, still bounded. */
extern const ota_plist_limits ota_final_limits;

/* A loaded profile file. Read-only once loaded: requests of every thread
 * share it, ota_final_build only copies from it. Everything lives in the
 * pool given to ota_final_load. */
typedef struct ota_final_profile {
    const char *file;
    plist_t payloads;          /* array of payload dicts, as in the file */
    int count;                 /* payloads in it */
    plist_t top;               /* a Configuration file's other top-level
                                * keys (PayloadDisplayName,
                                * PayloadRemovalDisallowed, ...); empty dict
                                * for a bare array */
    const char *identifier;    /* the file's PayloadIdentifier, or NULL */
    const char *display_name;  /* the file's values, or NULL (they are in */
    const char *organization;  /* top too; here to be shown) */
    const char *description;
} ota_final_profile;

/* Reads an XML property list file: either a Configuration profile (its
 * PayloadContent array is taken, its other top-level keys kept), or a bare
 * array of payload dicts. Every payload needs a string PayloadType and a
 * PayloadIdentifier unique in the file; a missing PayloadUUID is generated
 * per device. Every string value is a template: %{UDID}, %{SERIAL},
 * %{PRODUCT}, %{VERSION}, %{DEVICE_NAME}, %{REMOTE_USER}, %{IMEI},
 * %{MEID}; dict keys are not templates. Refused, with *why: binary or
 * signed profiles, no array of payloads, an empty one, nested
 * Configuration or encrypted payloads, unknown or unterminated fields, a
 * templated profile PayloadIdentifier. */
apr_status_t ota_final_load(ota_final_profile **out, const char *file,
                            const char **why, apr_pool_t *p);

/* The profile's PayloadIdentifier for a device, the same on every run so
 * that a device replaces its final profile instead of adding one: the
 * file's PayloadIdentifier, else meta->identifier + ".final", then "." and
 * the UDID. NULL when there is no identifier to start from. */
const char *ota_final_identifier(const ota_final_profile *fp,
                                 const ota_profile_meta *meta,
                                 const char *udid, apr_pool_t *p);

/* The final profile for one device, unsigned: a Configuration dict with
 * IsEncrypted true and EncryptedPayloadContent the DER EnvelopedData, to
 * device_cert (RSA) only, of the XML plist of the filled payload array; no
 * PayloadContent. fields holds the %{FIELD} values (UDID required; missing
 * others become ""). PayloadDisplayName, PayloadOrganization and
 * PayloadDescription come from the file, else from meta. cipher NULL means
 * AES-256-CBC; only the ciphers ota_final_cipher names are accepted. One CMS
 * encryption per call; the file is not parsed again. *out is freed with
 * p. */
apr_status_t ota_final_build(plist_t *out, const ota_final_profile *fp,
                             const ota_profile_meta *meta,
                             const apr_table_t *fields, X509 *device_cert,
                             const EVP_CIPHER *cipher, const char **why,
                             apr_pool_t *p);

/* The content cipher named by a configuration value: "aes-256-cbc" (the
 * default), "aes-128-cbc", "des-ede3-cbc" (older devices); case is
 * ignored. NULL for anything else: single DES and RC2 never. */
const EVP_CIPHER *ota_final_cipher(const char *name);

#endif
