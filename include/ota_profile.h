/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The property lists the server sends: the phase-1 Profile Service payload
 * and the Configuration profiles of later phases. Pure APR + libplist. */
#ifndef OTA_PROFILE_H
#define OTA_PROFILE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <plist/plist.h>

typedef struct ota_profile_meta {
    const char *identifier;      /* reverse-DNS prefix, e.g. com.example.ota */
    const char *organization;
    const char *display_name;
    const char *description;
} ota_profile_meta;

/* Device attributes a Profile Service may ask for (Apple's spelling). */
int ota_profile_attribute_known(const char *name);

/* A new random UUID, upper case as Apple writes them. */
const char *ota_uuid_new(apr_pool_t *p);

/* Phase 1: the Profile Service payload. */
apr_status_t ota_profile_service_build(plist_t *out,
                                       const ota_profile_meta *meta,
                                       const char *url,
                                       const apr_array_header_t *attributes,
                                       const char *challenge,
                                       apr_pool_t *p);

/* A Configuration profile around an array of payloads. identifier_suffix
 * is appended to meta->identifier ("scep", "final"). Takes ownership of
 * payloads. */
apr_status_t ota_profile_configuration_build(plist_t *out,
                                             const ota_profile_meta *meta,
                                             const char *identifier_suffix,
                                             plist_t payloads,
                                             apr_pool_t *p);

#endif
