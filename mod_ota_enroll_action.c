/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's actions: POSTs to an ota-status location. A JSON
 * object (Content-Type application/json: another site's page cannot send
 * one without a CORS preflight, which nothing here answers) or an HTML
 * form carrying the token of the page it came from; any other POST is
 * refused. Who may POST is Apache's business (Require, <Limit>). Each
 * action is logged with the administrator, the address and what it
 * changed. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_strings.h"

#include "ota_action.h"
#include "ota_crl.h"
#include "ota_media.h"
#include "ota_status.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_revoke.h"
#include "mod_ota_enroll_action.h"

APLOG_USE_MODULE(ota_enroll);

static const char *admin_of(request_rec *r)
{
    return r->user && *r->user ? r->user : "(anonymous)";
}

/* {"error": why}, with the status and its log id. DONE: answered. */
static int action_error(request_rec *r, int status, const char *id,
                        const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: admin action by %s "
                  "refused: %s", id, admin_of(r), why);
    ota_send_json_status(r, status, apr_psprintf(r->pool, "{\"error\":%s}",
                         ota_status_json_string(why, r->pool)));
    return DONE;
}

int ota_action_token_for(request_rec *r, const ota_conf *c,
                         const char **token)
{
    unsigned char key[32];

    *token = NULL;
    if (!c->identity || ota_identity_secret(key, c->identity)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    *token = ota_action_token(key, sizeof(key), r->user, apr_time_now(),
                              r->pool);
    return *token ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int token_ok(request_rec *r, const ota_conf *c, const char *token)
{
    unsigned char key[32];

    return c->identity && ota_identity_secret(key, c->identity) == OK
           && ota_action_token_ok(key, sizeof(key), r->user, token,
                                  apr_time_now(), r->pool);
}

/* The media type without its parameters, lower-cased. */
static const char *media_type(request_rec *r)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    char *copy, *semi;

    if (!type) {
        return "";
    }
    copy = apr_pstrdup(r->pool, type);
    if ((semi = strchr(copy, ';'))) {
        *semi = '\0';
    }
    apr_collapse_spaces(copy, copy);
    ap_str_tolower(copy);
    return copy;
}

/* Reads and parses the action; a refusal has been answered unless OK. */
static int action_read(request_rec *r, const ota_conf *c, ota_action *a,
                       int *form)
{
    const char *type = media_type(r), *body, *why = NULL;
    apr_size_t len;
    apr_status_t parsed;
    int rv;

    *form = !strcmp(type, "application/x-www-form-urlencoded");
    if (strcmp(type, OTA_MEDIA_JSON) && !*form) {
        return action_error(r, HTTP_FORBIDDEN, "OTA00111", apr_psprintf(
                            r->pool, "a POST with Content-Type '%.60s': "
                            "actions are application/json, or a form of "
                            "this page", type));
    }
    if ((rv = ota_read_body(r, OTA_ACTION_MAX_BODY, &body, &len)) != OK) {
        return rv;
    }
    parsed = *form ? ota_action_parse_form(a, body, len, &why, r->pool)
                   : ota_action_parse_json(a, body, len, &why, r->pool);
    if (*form && !token_ok(r, c, a->token)) {
        return action_error(r, HTTP_FORBIDDEN, "OTA00111", "a form without "
                            "this page's token (CSRF)");
    }
    if (parsed != APR_SUCCESS) {
        return action_error(r, HTTP_BAD_REQUEST, "OTA00112", why);
    }
    return OK;
}

/* A JSON array of strings. */
static const char *json_strings(const apr_array_header_t *a, apr_pool_t *p)
{
    const char *out = "[";

    for (int i = 0; a && i < a->nelts; i++) {
        out = apr_pstrcat(p, out, i ? "," : "",
                          ota_status_json_string(APR_ARRAY_IDX(a, i,
                                                               const char *),
                                                 p), NULL);
    }
    return apr_pstrcat(p, out, "]", NULL);
}

static int action_revoke(request_rec *r, const ota_conf *c, const ota_action *a)
{
    ota_revoke_verdict verdict;
    apr_array_header_t *serials;
    const char *why = NULL;
    ota_db db;
    int rv, i;

    if ((rv = ota_db_open(&db, r)) != OK) {
        return rv;
    }
    if (a->serial) {
        serials = apr_array_make(r->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(serials, const char *) = a->serial;
        rv = ota_store_revoke_serial(&verdict, &db, a->serial, a->reason,
                                     apr_time_now(), &why, r->pool);
        if (verdict != OTA_REVOKE_DONE) {
            serials->nelts = 0;
        }
    }
    else {
        rv = ota_store_revoke_device(&verdict, &serials, &db, a->udid,
                                     a->reason, apr_time_now(), &why,
                                     r->pool);
    }
    if (rv != APR_SUCCESS) {
        return ota_db_failed(r, why);
    }
    if (verdict == OTA_REVOKE_UNKNOWN) {
        return action_error(r, HTTP_NOT_FOUND, "OTA00113", apr_psprintf(
                            r->pool, "no %s %s in the registry",
                            a->serial ? "certificate" : "device",
                            a->serial ? a->serial : a->udid));
    }
    for (i = 0; i < serials->nelts; i++) {
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "OTA00110: certificate "
                      "%s%s%s revoked (%s) by %s from %s",
                      APR_ARRAY_IDX(serials, i, const char *),
                      a->udid ? " of device " : "", a->udid ? a->udid : "",
                      ota_reason_name(a->reason), admin_of(r),
                      r->useragent_ip);
    }
    if (serials->nelts && (rv = ota_crl_revoked(r, c, &db)) != OK) {
        return rv;
    }
    return ota_send_json_status(r, HTTP_OK, apr_psprintf(r->pool,
                                "{\"revoked\":%s}",
                                json_strings(serials, r->pool)));
}

int ota_action_handler(request_rec *r, const ota_conf *c)
{
    ota_action a;
    int rv, form;

    if ((rv = action_read(r, c, &a, &form)) == OK) {
        switch (a.kind) {
        case OTA_ACTION_REVOKE:
            rv = action_revoke(r, c, &a);
            break;
        default:
            rv = action_error(r, HTTP_BAD_REQUEST, "OTA00112", apr_psprintf(
                              r->pool, "action %s is not available",
                              ota_action_name(a.kind)));
        }
    }
    return rv == DONE ? OK : rv;
}
