/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The startup checks that `apache2 -t` runs too (mod_ota_enroll_check.c). */
#ifndef MOD_OTA_ENROLL_CHECK_H
#define MOD_OTA_ENROLL_CHECK_H

#include "httpd.h"

/* check_config: mod_dbd is loaded (OTA00001), certificate and key
 * directives come in pairs (OTA00002), each handler has what it needs
 * (OTA00004). */
int ota_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                     server_rec *s);

#endif
