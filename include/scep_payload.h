/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The phase-2 com.apple.security.scep payload, GetCACaps included
 * (README's introduction; Apple's key spellings, apple/schemas). Pure APR +
 * libplist. */
#ifndef SCEP_PAYLOAD_H
#define SCEP_PAYLOAD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <plist/plist.h>
#include "ota_profile.h"

/* One relative distinguished name of the Subject template: an attribute
 * (short name such as CN, or a dotted OID) and a value that may contain
 * %{FIELD} references. */
typedef struct ota_subject_rdn {
    const char *attribute;
    const char *value_template;
} ota_subject_rdn;

/* Parses "O=Example/CN=%{UDID}". Fields allowed: UDID, SERIAL, PRODUCT,
 * VERSION, IMEI, MEID, DEVICE_NAME, REMOTE_USER. Returns APR_EINVAL and
 * *why on a bad template. */
apr_status_t ota_subject_parse(apr_array_header_t **rdns, const char *tmpl,
                               const char **why, apr_pool_t *p);

/* Checks every %{FIELD} of a template against the fields above. */
apr_status_t ota_template_check(const char *tmpl, const char **why,
                                apr_pool_t *p);

/* Fills %{FIELD} from fields (missing fields become ""). */
const char *ota_template_fill(const char *tmpl, const apr_table_t *fields,
                              apr_pool_t *p);

/* The subject a device is told to request, filled from fields, as the
 * text the built-in CA compares its request with: one "type=value" line
 * per RDN, types as OpenSSL names them. */
const char *ota_subject_canonical(const apr_array_header_t *rdns,
                                  const apr_table_t *fields, apr_pool_t *p);

/* OTAEnrollSCEPSubjectAltName: appends one KEY=TEMPLATE (keys as
 * ota_san.h; the template's fields as the subject's) to names, an array
 * of ota_subject_rdn. APR_EINVAL and *why on a bad argument. */
apr_status_t ota_san_template_add(apr_array_header_t *names, const char *arg,
                                  const char **why, apr_pool_t *p);

/* The names a device is told to request, filled from fields, as the
 * text ota_san_names reads: one "key=value" line each. A name whose
 * filled value cannot be written (empty: the device did not send that
 * field; control characters) is left out here and in the payload alike.
 * "" for none. */
const char *ota_san_canonical(const apr_array_header_t *names,
                              const apr_table_t *fields, apr_pool_t *p);

/* Validates one GetCACaps capability string (printable, no spaces). */
int ota_scep_capability_valid(const char *cap);

typedef struct ota_scep_settings {
    const char *url;
    const char *name;                 /* the CA's name (SCEP "message") */
    const apr_array_header_t *subject;  /* of ota_subject_rdn */
    const apr_array_header_t *san;      /* of ota_subject_rdn; NULL: none */
    const char *challenge;            /* NULL: no Challenge key */
    int key_size;
    int key_usage;                    /* 1 sign, 4 encrypt, 5 both */
    const unsigned char *ca_fingerprint;  /* NULL: none */
    apr_size_t ca_fingerprint_len;
    int retries;
    int retry_delay;
    const apr_array_header_t *getcacaps;  /* of const char *; NULL: omit */
} ota_scep_settings;

/* The com.apple.security.scep payload dict for one device. The caller owns
 * it: append it to a profile's payload array, or plist_free it. */
apr_status_t ota_scep_payload_build(plist_t *out,
                                    const ota_scep_settings *settings,
                                    const ota_profile_meta *meta,
                                    const apr_table_t *fields,
                                    apr_pool_t *p);

#endif
