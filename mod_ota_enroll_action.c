/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's actions: POSTs to an ota-status location. A JSON
 * object (Content-Type application/json: another site's page cannot send
 * one without a CORS preflight, which nothing here answers) or an HTML
 * form carrying the token of the page it came from; any other POST is
 * refused. Who may POST is Apache's business (Require, <Limit>). Each
 * action is logged with the administrator, the address and what it
 * changed, and audited in the shared store. JSON clients get JSON; a
 * form gets 303 See Other back to the page, or a short HTML page when
 * refused. */
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
#include "ota_store_approval.h"

#include "mod_ota_enroll_config.h"
#include "mod_ota_enroll_request.h"
#include "mod_ota_enroll_revoke.h"
#include "mod_ota_enroll_action.h"

APLOG_USE_MODULE(ota_enroll);

static const char *admin_of(request_rec *r)
{
    return r->user && *r->user ? r->user : "(anonymous)";
}

/* Whether the action came as a form (answered for a browser). */
static int is_form(request_rec *r)
{
    return apr_table_get(r->notes, "ota-action-form") != NULL;
}

/* A refusal with its status and log id: {"error": why}, or for a form a
 * page saying why with a link back. DONE: answered. */
static int action_error(request_rec *r, int status, const char *id,
                        const char *why)
{
    const char *html;

    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s: admin action by %s "
                  "refused: %s", id, admin_of(r), why);
    if (!is_form(r)) {
        ota_send_json_status(r, status, apr_psprintf(r->pool,
                             "{\"error\":%s}",
                             ota_status_json_string(why, r->pool)));
        return DONE;
    }
    html = apr_pstrcat(r->pool, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                       "<meta charset=\"utf-8\"><title>Action refused"
                       "</title></head><body><h1>Action refused</h1><p>",
                       ota_status_html_escape(why, r->pool), "</p><p><a "
                       "href=\"", ota_status_html_escape(r->uri, r->pool),
                       "\">Back to the status page</a></p></body></html>\n",
                       NULL);
    r->status = status;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; frame-ancestors 'none'");
    ota_send_bytes(r, OTA_MEDIA_HTML, html, strlen(html));
    return DONE;
}

/* Done: the JSON answer, or for a form 303 See Other back to the page
 * (the same view: its query kept). */
static int action_done(request_rec *r, const char *json)
{
    if (is_form(r)) {
        apr_table_setn(r->headers_out, "Location", r->unparsed_uri);
        apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
        return HTTP_SEE_OTHER;
    }
    return ota_send_json_status(r, HTTP_OK, json);
}

/* What the audit keeps of this request's action. */
static ota_audit_entry *audit_of(request_rec *r, const char *action,
                                 const char *udid, const char *serial,
                                 const char *transaction, const char *detail)
{
    ota_audit_entry *e = apr_pcalloc(r->pool, sizeof(*e));

    e->at = apr_time_now();
    e->admin = admin_of(r);
    e->remote = r->useragent_ip;
    e->action = action;
    e->udid = udid;
    e->serial = serial;
    e->transaction_id = transaction;
    e->detail = detail;
    return e;
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
    if (*form) {
        apr_table_setn(r->notes, "ota-action-form", "1");
    }
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

/* Each certificate revoked now: logged, and audited with its device
 * (looked up when revoked by serial). */
static int revoked_record(request_rec *r, ota_db *db,
                          const apr_array_header_t *serials,
                          const char *udid, int reason, const char *via)
{
    ota_cert_status st;
    const char *serial, *device, *why = NULL;
    int i;

    for (i = 0; i < serials->nelts; i++) {
        serial = APR_ARRAY_IDX(serials, i, const char *);
        device = udid;
        if (!device && ota_store_certificate_status(&st, db, serial, &why,
                                                    r->pool) == APR_SUCCESS) {
            device = st.udid;
        }
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "OTA00110: certificate "
                      "%s%s%s revoked (%s%s) by %s from %s", serial,
                      udid ? " of device " : "", udid ? udid : "",
                      ota_reason_name(reason), via, admin_of(r),
                      r->useragent_ip);
        if (ota_store_audit_add(db, audit_of(r, "revoke", device, serial,
                                             NULL, apr_pstrcat(r->pool,
                                             ota_reason_name(reason), via,
                                             NULL)), &why, r->pool)) {
            return ota_db_failed(r, why);
        }
    }
    return OK;
}

static int action_revoke(request_rec *r, const ota_conf *c, ota_db *db,
                         const ota_action *a)
{
    ota_revoke_verdict verdict;
    apr_array_header_t *serials;
    const char *why = NULL;
    int rv;

    if (a->serial) {
        serials = apr_array_make(r->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(serials, const char *) = a->serial;
        rv = ota_store_revoke_serial(&verdict, db, a->serial, a->reason,
                                     apr_time_now(), &why, r->pool);
        if (verdict != OTA_REVOKE_DONE) {
            serials->nelts = 0;
        }
    }
    else {
        rv = ota_store_revoke_device(&verdict, &serials, db, a->udid,
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
    if ((rv = revoked_record(r, db, serials, a->udid, a->reason, "")) != OK
        || (serials->nelts && (rv = ota_crl_revoked(r, c, db)) != OK)) {
        return rv;
    }
    return action_done(r, apr_psprintf(r->pool, "{\"revoked\":%s}",
                                       json_strings(serials, r->pool)));
}

/* approve, reject: a waiting request, once. */
static int action_decide(request_rec *r, ota_db *db, const ota_action *a,
                         int approve)
{
    const char *verb = approve ? OTA_DECISION_APPROVED
                               : OTA_DECISION_REJECTED;
    ota_pending_record *rec;
    ota_decide_verdict verdict;
    const char *why = NULL;

    if (ota_store_pending_decide(&verdict, &rec, db, a->transaction,
                                 approve, audit_of(r, ota_action_name(a->kind),
                                                   NULL, NULL,
                                                   a->transaction, NULL),
                                 &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (verdict == OTA_DECIDE_UNKNOWN || !rec) {
        return action_error(r, HTTP_NOT_FOUND, "OTA00113", apr_psprintf(
                            r->pool, "no held request %s", a->transaction));
    }
    if (verdict != OTA_DECIDE_DONE) {
        return action_error(r, HTTP_CONFLICT, "OTA00124", apr_psprintf(
                            r->pool, "request %s cannot be %s: %s%s%s",
                            a->transaction, verb,
                            ota_decide_verdict_name(verdict),
                            rec->decision ? " " : "",
                            rec->decision ? apr_pstrcat(r->pool,
                                rec->decision, " by ", rec->decided_by ?
                                rec->decided_by : "?", NULL) : ""));
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "%s: request %s for %s%s%s "
                  "%s by %s from %s", approve ? "OTA00120" : "OTA00121",
                  a->transaction, rec->subject,
                  rec->udid ? ", device " : "", rec->udid ? rec->udid : "",
                  verb, admin_of(r), r->useragent_ip);
    return action_done(r, apr_psprintf(r->pool, "{\"%s\":%s,\"udid\":%s}",
                       verb, ota_status_json_string(a->transaction, r->pool),
                       ota_status_json_string(rec->udid, r->pool)));
}

/* release: the device may be enrolled by another user next. */
static int action_release(request_rec *r, ota_db *db, const ota_action *a)
{
    const char *prior = NULL, *why = NULL;
    int found;

    if (ota_store_device_release(&found, &prior, db, a->udid,
                                 audit_of(r, "release", a->udid, NULL, NULL,
                                          NULL), &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    if (!found) {
        return action_error(r, HTTP_NOT_FOUND, "OTA00113", apr_psprintf(
                            r->pool, "no device %s in the registry",
                            a->udid));
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "OTA00122: device %s "
                  "released from %s by %s from %s", a->udid,
                  prior ? prior : "no user", admin_of(r), r->useragent_ip);
    return action_done(r, apr_psprintf(r->pool, "{\"released\":%s,"
                       "\"user\":%s}",
                       ota_status_json_string(a->udid, r->pool),
                       ota_status_json_string(prior, r->pool)));
}

/* forget: its certificates revoked, then the device removed. */
static int action_forget(request_rec *r, const ota_conf *c, ota_db *db,
                         const ota_action *a)
{
    ota_revoke_verdict verdict;
    apr_array_header_t *serials;
    const char *why = NULL;
    int rv, found;

    if (ota_store_revoke_device(&verdict, &serials, db, a->udid,
                                OTA_REASON_CESSATION, apr_time_now(), &why,
                                r->pool)) {
        return ota_db_failed(r, why);
    }
    if (verdict == OTA_REVOKE_UNKNOWN) {
        return action_error(r, HTTP_NOT_FOUND, "OTA00113", apr_psprintf(
                            r->pool, "no device %s in the registry",
                            a->udid));
    }
    if ((rv = revoked_record(r, db, serials, a->udid, OTA_REASON_CESSATION,
                             ", forgotten")) != OK) {
        return rv;
    }
    if (ota_store_device_forget(&found, db, a->udid,
                                audit_of(r, "forget", a->udid, NULL, NULL,
                                         apr_psprintf(r->pool, "%d "
                                         "certificates revoked",
                                         serials->nelts)), &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "OTA00123: device %s "
                  "forgotten (%d certificates revoked) by %s from %s",
                  a->udid, serials->nelts, admin_of(r), r->useragent_ip);
    if (serials->nelts && (rv = ota_crl_revoked(r, c, db)) != OK) {
        return rv;
    }
    return action_done(r, apr_psprintf(r->pool, "{\"forgotten\":%s,"
                       "\"revoked\":%s}",
                       ota_status_json_string(a->udid, r->pool),
                       json_strings(serials, r->pool)));
}

#define PENDING_SHOWN 200
#define AUDIT_SHOWN 50

int ota_action_page_read(request_rec *r, const ota_conf *c,
                         ota_status_page *pg)
{
    apr_array_header_t *pending, *audit;
    const char *why = NULL;
    ota_db db;
    int rv;

    if ((rv = ota_db_open(&db, r)) != OK) {
        return rv;
    }
    if (ota_store_pending_open(&pending, &db, apr_time_now(), PENDING_SHOWN,
                               &why, r->pool)
        || ota_store_audit_recent(&audit, &db, AUDIT_SHOWN, &why, r->pool)) {
        return ota_db_failed(r, why);
    }
    pg->pending = pending;
    pg->audit = audit;
    if (ota_action_token_for(r, c, &pg->token) != OK) {
        pg->token = NULL;             /* no signing identity: no buttons */
    }
    return OK;
}

int ota_action_handler(request_rec *r, const ota_conf *c)
{
    ota_action a;
    ota_db db;
    int rv, form;

    if ((rv = action_read(r, c, &a, &form)) == OK
        && (rv = ota_db_open(&db, r)) == OK) {
        switch (a.kind) {
        case OTA_ACTION_REVOKE:
            rv = action_revoke(r, c, &db, &a);
            break;
        case OTA_ACTION_APPROVE:
        case OTA_ACTION_REJECT:
            rv = action_decide(r, &db, &a, a.kind == OTA_ACTION_APPROVE);
            break;
        case OTA_ACTION_RELEASE:
            rv = action_release(r, &db, &a);
            break;
        case OTA_ACTION_FORGET:
            rv = action_forget(r, c, &db, &a);
            break;
        }
    }
    return rv == DONE ? OK : rv;
}
