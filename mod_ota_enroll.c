/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_ota_enroll: Apple over-the-air enrollment for Apache httpd.
 *
 * This file holds the module record and its wiring only: the hooks, and
 * the startup phases that call into the glue files. The glue depends one
 * way: this root, then the handlers (mod_ota_enroll_profile.c phase 1,
 * mod_ota_enroll_phase2.c phase 2, mod_ota_enroll_final.c phase 3,
 * mod_ota_enroll_scep.c the built-in CA, mod_ota_enroll_status.c the
 * admin view and its actions, mod_ota_enroll_revoke.c the CRL,
 * mod_ota_enroll_ocsp.c the OCSP responder), then
 * mod_ota_enroll_request.c (what the handlers share), then
 * mod_ota_enroll_dbcheck.c (the database file under a running server,
 * database errors) and mod_ota_enroll_registry.c (the sqlite3 write lock,
 * the retention purge), then mod_ota_enroll_config.c (directives and
 * defaults). The protocol logic lives in the ota_*.c and scep_payload.c
 * files, which do not call httpd. */
#include "httpd.h"
#include "http_config.h"

#include "mod_ota_enroll.h"
#include "mod_ota_enroll_check.h"
#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_dbcheck.h"
#include "mod_ota_enroll_registry.h"
#include "mod_ota_enroll_profile.h"
#include "mod_ota_enroll_phase2.h"
#include "mod_ota_enroll_scep.h"
#include "mod_ota_enroll_status.h"
#include "mod_ota_enroll_revoke.h"
#include "mod_ota_enroll_ocsp.h"

static int ota_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    ota_config_sections_reset(pconf);
    return OK;
}

static int ota_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    int rv;

    if ((rv = ota_request_post_config(s)) != OK
        || (rv = ota_dbcheck_post_config(pconf, ptemp, s)) != OK
        || (rv = ota_config_post_config(pconf, s)) != OK
        || (rv = ota_scep_post_config(s)) != OK) {
        return rv;
    }
    return OK;
}

static void ota_child_init(apr_pool_t *pchild, server_rec *s)
{
    ota_phase2_child_init(pchild, s);
    ota_revoke_child_init(pchild, s);
    ota_ocsp_child_init(pchild, s);
}

static void ota_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ota_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ota_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ota_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ota_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_profile_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_enroll_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_scep_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_crl_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(ota_ocsp_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ota_status_register_hooks(p);      /* the error_log hook that counts */
    ota_dbcheck_register_hooks(p);     /* mod_dbd's post_connect */
    ota_registry_register_hooks(p);    /* the write lock, the purge */
    ap_hook_handler(ota_scep_front_handler, NULL, NULL,
                    APR_HOOK_REALLY_FIRST);
}

AP_DECLARE_MODULE(ota_enroll) = {
    STANDARD20_MODULE_STUFF,
    ota_create_dir_conf,
    ota_merge_dir_conf,
    NULL,
    NULL,
    ota_cmds,
    ota_register_hooks
};
