/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 3 (mod_ota_enroll_final.c): the final profile, encrypted to the
 * identity the device obtained by SCEP. */
#ifndef MOD_OTA_ENROLL_FINAL_H
#define MOD_OTA_ENROLL_FINAL_H

#include "httpd.h"

#include "ota_cms.h"
#include "ota_plist.h"

#include "mod_ota_enroll_config.h"

/* A phase-3 post of the ota-enroll handler: msg was verified in the
 * issuer's strict store, a holds the device's attributes. */
int ota_phase3(request_rec *r, const ota_conf *c, ota_signed_message *msg,
               ota_device_attributes *a);

#endif
