/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phases 2 and 3 (mod_ota_enroll_phase2.c): the handler ota-enroll, and
 * the GetCACaps caches phase 2 reads. */
#ifndef MOD_OTA_ENROLL_PHASE2_H
#define MOD_OTA_ENROLL_PHASE2_H

#include "httpd.h"

/* child_init: one GetCACaps cache per external SCEP URL configured with
 * OTAEnrollGetCACaps auto. */
void ota_phase2_child_init(apr_pool_t *pchild, server_rec *s);

/* POST: phase 2 (device attributes in, SCEP payload out) or, for a
 * device signing with the identity SCEP gave it, phase 3. */
int ota_enroll_handler(request_rec *r);

#endif
