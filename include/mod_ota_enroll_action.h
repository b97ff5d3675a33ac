/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's actions, POSTed to an ota-status location
 * (mod_ota_enroll_action.c). */
#ifndef MOD_OTA_ENROLL_ACTION_H
#define MOD_OTA_ENROLL_ACTION_H

#include "httpd.h"

#include "mod_ota_enroll_config.h"

/* Carries out a POSTed action and answers it (JSON). */
int ota_action_handler(request_rec *r, const ota_conf *c);

/* The token the page's forms carry for this user (this hour). */
int ota_action_token_for(request_rec *r, const ota_conf *c,
                         const char **token);

#endif
