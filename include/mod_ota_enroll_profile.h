/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 1 (mod_ota_enroll_profile.c): the handler ota-profile-service. */
#ifndef MOD_OTA_ENROLL_PROFILE_H
#define MOD_OTA_ENROLL_PROFILE_H

#include "httpd.h"

/* GET: a signed Profile Service payload carrying a new challenge. */
int ota_profile_handler(request_rec *r);

#endif
