/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in CA's OCSP responder (mod_ota_enroll_ocsp.c). */
#ifndef MOD_OTA_ENROLL_OCSP_H
#define MOD_OTA_ENROLL_OCSP_H

#include "httpd.h"

/* The process's responders, built on first use. */
void ota_ocsp_child_init(apr_pool_t *pchild, server_rec *s);

int ota_ocsp_handler(request_rec *r);

#endif
