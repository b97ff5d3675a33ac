/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The built-in SCEP CA and the GetCACaps front (mod_ota_enroll_scep.c). */
#ifndef MOD_OTA_ENROLL_SCEP_H
#define MOD_OTA_ENROLL_SCEP_H

#include "httpd.h"

/* post_config: registers the SCEP object identifiers with OpenSSL
 * (OTA00003 when it cannot). */
int ota_scep_post_config(server_rec *s);

/* The handler ota-scep: GetCACaps, GetCACert and PKIOperation. */
int ota_scep_handler(request_rec *r);

/* Runs before mod_proxy where OTAEnrollSCEPFront is on: answers GetCACaps
 * (and GetCACert) for the external CA behind it. */
int ota_scep_front_handler(request_rec *r);

#endif
