/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Learning a SCEP CA's capabilities (GetCACaps) so they can be written
 * into the phase-2 payload and devices never need to ask. One cache per
 * process; a background thread refreshes it so requests never wait on the
 * CA once it has answered. Pure APR + libcurl. */
#ifndef OTA_GETCACAPS_H
#define OTA_GETCACAPS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define OTA_GETCACAPS_MAX_BODY 4096
#define OTA_GETCACAPS_MAX_CAPS 32

/* Splits a GetCACaps answer (one capability per line, CRLF or LF). Empty
 * answers and invalid capabilities give APR_EINVAL. */
apr_status_t ota_getcacaps_parse(apr_array_header_t **caps, const char *body,
                                 apr_size_t len, const char **why,
                                 apr_pool_t *p);

/* What a device assumes when the CA does not answer: GET, 3DES, SHA-1.
 * Every SCEP CA supports it. */
apr_array_header_t *ota_getcacaps_fallback(apr_pool_t *p);

/* One HTTP GET of URL?operation=GetCACaps, bounded by timeout. */
apr_status_t ota_getcacaps_fetch(apr_array_header_t **caps,
                                 const char *scep_url,
                                 apr_interval_time_t timeout,
                                 const char **why, apr_pool_t *p);

typedef struct ota_getcacaps_cache ota_getcacaps_cache;

/* Starts the refresher thread of one SCEP URL. refresh: how long an answer
 * is kept before asking again; timeout: one fetch's bound. */
apr_status_t ota_getcacaps_cache_start(ota_getcacaps_cache **out,
                                       const char *scep_url,
                                       apr_interval_time_t refresh,
                                       apr_interval_time_t timeout,
                                       apr_pool_t *p);

typedef enum {
    OTA_CAPS_FROM_CA = 0,
    OTA_CAPS_FALLBACK
} ota_caps_source;

/* The capabilities to write, copied into p. Waits for the first answer at
 * most `timeout` once per process; after that never blocks. *why holds the
 * CA's failure when the fallback is returned. */
apr_array_header_t *ota_getcacaps_cache_get(ota_getcacaps_cache *cache,
                                            ota_caps_source *source,
                                            const char **why,
                                            apr_pool_t *p);

/* True exactly once per cache after the fallback was first used: the glue
 * logs it once. */
int ota_getcacaps_cache_fallback_first(ota_getcacaps_cache *cache);

#endif
