/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The admin view (mod_ota_enroll_status.c). */
#ifndef MOD_OTA_ENROLL_STATUS_H
#define MOD_OTA_ENROLL_STATUS_H

#include "httpd.h"

/* The handler ota-status: HTML, or JSON with ?format=json. */
int ota_status_handler(request_rec *r);

/* Its own hooks: the shared counters (post_config) and the error_log
 * hook that counts refusals. */
void ota_status_register_hooks(apr_pool_t *p);

#endif
