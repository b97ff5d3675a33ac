/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's actions, POSTed to an ota-status location
 * (mod_ota_enroll_action.c). */
#ifndef MOD_OTA_ENROLL_ACTION_H
#define MOD_OTA_ENROLL_ACTION_H

#include "httpd.h"

#include "ota_status.h"

#include "mod_ota_enroll_config.h"

/* Carries out a POSTed action and answers it: JSON, or for a form 303 See
 * Other back to the page. */
int ota_action_handler(request_rec *r, const ota_conf *c);

/* The token the page's forms carry for this user (this hour). */
int ota_action_token_for(request_rec *r, const ota_conf *c,
                         const char **token);

/* The page's admin part: the requests waiting for approval, the latest
 * audit rows and the forms' token. */
int ota_action_page_read(request_rec *r, const ota_conf *c,
                         ota_status_page *pg);

#endif
