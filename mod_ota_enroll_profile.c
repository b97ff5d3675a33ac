/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Phase 1 (handler ota-profile-service): an authenticated user fetches the
 * signed Profile Service payload, which carries a new one-time challenge
 * and the URL the device posts its attributes to. httpd glue only: the
 * payload is built by ota_profile.c. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "ota_profile.h"
#include "ota_store.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_profile.h"

APLOG_USE_MODULE(ota_enroll);

static const char *absolute_url(request_rec *r, const char *url)
{
    return url[0] == '/' ? ap_construct_url(r->pool, url, r) : url;
}

int ota_profile_handler(request_rec *r)
{
    ota_conf *c;
    ota_profile_meta meta;
    ota_db db;
    const char *challenge, *why = NULL;
    plist_t root;
    int rv, lifetime;

    if ((rv = ota_handler_check(r, "ota-profile-service", OTA_SERVES_GET,
                                "OTA00010")) != OK) {
        return rv;
    }
    c = ota_conf_of(r);
    if (!c->identity) {
        return ota_config_missing(r, "OTAEnrollSigningCertificate/Key");
    }
    if (!c->url) {
        return ota_config_missing(r, "OTAEnrollURL");
    }
    /* The challenge binds the device to whoever fetched it: without a
     * user, only where the administrator said so. */
    if ((!r->user || !*r->user) && !ota_cfg_anonymous(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "OTA00044: phase 1 "
                      "without an authenticated user refused: protect this "
                      "location with Apache authentication (Require "
                      "valid-user), or allow it with OTAEnrollAnonymous on");
        return HTTP_FORBIDDEN;
    }
    if ((rv = ota_db_open(&db, r)) != OK
        || (rv = ota_challenge_make(r, &challenge)) != OK) {
        return rv;
    }
    lifetime = ota_cfg_challenge_lifetime(c);
    if (ota_store_challenge_add(&db, challenge, r->user, apr_time_now(),
                                apr_time_from_sec(lifetime), &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    apr_table_setn(r->subprocess_env, "OTA_PHASE", "1");
    ota_cfg_profile_meta(&meta, c, r->server, r->pool);
    ota_profile_service_build(&root, &meta, absolute_url(r, c->url),
                              ota_cfg_device_attributes(c), challenge,
                              r->pool);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "OTA00011: profile service "
                  "sent, challenge valid %d s%s%s", lifetime,
                  r->user ? " for user " : "", r->user ? r->user : "");
    return ota_respond_signed(r, c, root);
}
