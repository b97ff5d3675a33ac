/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bounded XML property lists. Debian's libplist recurses without limit and
 * silently merges duplicate keys, so input is pre-checked here before
 * libplist sees it. Pure APR + libplist. */
#ifndef OTA_PLIST_H
#define OTA_PLIST_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <plist/plist.h>

typedef struct ota_plist_limits {
    apr_size_t max_size;     /* bytes of XML */
    int max_depth;           /* nesting of dict/array */
    int max_keys;            /* keys per dict, items per array */
    apr_size_t max_string;   /* bytes of one string, key or data */
} ota_plist_limits;

/* Limits for what devices post in phases 2 and 3. */
extern const ota_plist_limits ota_plist_device_limits;

/* Parses an XML plist within limits. Binary plists, DOCTYPE internal
 * subsets, entity declarations, CDATA and duplicate dict keys are refused.
 * On refusal returns APR_EINVAL and sets *why. The node is freed with p. */
apr_status_t ota_plist_parse(plist_t *out, const char *xml, apr_size_t len,
                             const ota_plist_limits *limits,
                             const char **why, apr_pool_t *p);

/* Serializes to XML in p. */
apr_status_t ota_plist_to_xml(const char **xml, apr_size_t *len,
                              plist_t node, apr_pool_t *p);

/* Frees node when p is cleared; returns it. */
plist_t ota_plist_free_with_pool(plist_t node, apr_pool_t *p);

/* What a device tells about itself in phase 2 (and phase 3). */
typedef struct ota_device_attributes {
    const char *udid, *serial, *product, *version;
    const char *imei, *meid, *device_name;
    const char *challenge;
    const char *user_short_name;   /* macOS user enrollment */
    apr_table_t *all;              /* every string attribute */
} ota_device_attributes;

/* Parses and validates a device's attribute dict: root dict of strings and
 * booleans only, UDID present and well-formed, lengths bounded. */
apr_status_t ota_device_attributes_parse(ota_device_attributes **out,
                                         const char *xml, apr_size_t len,
                                         const char **why, apr_pool_t *p);

/* Dict helpers for building profiles. */
void ota_plist_dict_set_string(plist_t dict, const char *key,
                               const char *value);
void ota_plist_dict_set_uint(plist_t dict, const char *key, uint64_t value);
void ota_plist_dict_set_bool(plist_t dict, const char *key, int value);
const char *ota_plist_dict_get_string(plist_t dict, const char *key,
                                      apr_pool_t *p);

#endif
