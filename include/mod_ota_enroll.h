/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The module record of mod_ota_enroll, the one symbol mod_ota_enroll.c
 * exports. The glue below it reaches its configuration through
 * mod_ota_enroll_config.h. */
#ifndef MOD_OTA_ENROLL_H
#define MOD_OTA_ENROLL_H

#include "httpd.h"
#include "http_config.h"

extern module AP_MODULE_DECLARE_DATA ota_enroll_module;

#endif
