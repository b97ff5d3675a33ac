/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's part of the ota-status page: the requests waiting
 * for approval with their Approve/Reject buttons, the Revoke, Release and
 * Forget buttons of each device, the audit list, and their JSON. Every
 * button is a form POSTing the page's CSRF token; each asks for
 * confirmation through one constant inline handler, which the page's
 * Content-Security-Policy allows by its hash alone ('unsafe-hashes'): no
 * script element, no other handler. Pure C over APR. */
#include <string.h>

#include <apr_strings.h>

#include "ota_status.h"

/* The one handler every form carries, and its hash in the CSP. */
#define CONFIRM_HANDLER "return confirm(this.dataset.confirm)"
#define CONFIRM_HASH "sha256-dTmt1GaQA59s60BR0D/T1RIVNW1gkyjh5JCZ7pLDVEs="

const char *ota_status_confirm_handler(void)
{
    return CONFIRM_HANDLER;
}

const char *ota_status_csp(void)
{
    return "default-src 'none'; style-src 'unsafe-inline'; "
           "script-src 'unsafe-hashes' '" CONFIRM_HASH "'; "
           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
}

static const char *esc(const char *s, apr_pool_t *p)
{
    return ota_status_html_escape(s, p);
}

static const char *when(apr_time_t t, const char *fmt, apr_pool_t *p)
{
    apr_time_exp_t tm;
    apr_size_t n = 0;
    char out[40];

    if (!t) {
        return NULL;
    }
    apr_time_exp_gmt(&tm, t);
    apr_strftime(out, &n, sizeof(out), fmt, &tm);
    return apr_pstrmemdup(p, out, n);
}

#define HTML_TIME "%Y-%m-%d %H:%M:%S UTC"
#define JSON_TIME "%Y-%m-%dT%H:%M:%SZ"

static const char *cell(const char *cls, const char *text, apr_pool_t *p)
{
    return apr_pstrcat(p, cls ? "<td class=\"" : "<td>", cls ? cls : "",
                       cls ? "\">" : "", esc(text, p), "</td>", NULL);
}

/* One button: a form with the token, the action, its target (name=value)
 * and the question it asks first. */
static const char *button(const char *token, const char *action,
                          const char *name, const char *value,
                          const char *label, const char *question,
                          apr_pool_t *p)
{
    return apr_pstrcat(p, "<form method=\"post\" class=\"act\" "
                       "data-action=\"", action, "\" data-confirm=\"",
                       esc(question, p), "\" onsubmit=\"" CONFIRM_HANDLER
                       "\"><input type=\"hidden\" name=\"csrf\" value=\"",
                       esc(token, p), "\"><input type=\"hidden\" "
                       "name=\"action\" value=\"", action, "\"><input "
                       "type=\"hidden\" name=\"", name, "\" value=\"",
                       esc(value, p), "\"><button type=\"submit\">", label,
                       "</button></form>", NULL);
}

/* ---- HTML ---- */

const char *ota_status_html_device_actions(const ota_device_summary *d,
                                           const char *token, apr_pool_t *p)
{
    const char *out = "<td class=\"actions\">";
    const char *who = d->udid ? d->udid : "";

    if (token && d->udid && d->cert_serial && d->cert_not_after
        && !d->cert_revoked) {
        out = apr_pstrcat(p, out, button(token, "revoke", "serial",
                          d->cert_serial, "Revoke", apr_pstrcat(p, "Revoke "
                          "certificate ", d->cert_serial, " of device ",
                          who, "?", NULL), p), NULL);
    }
    if (token && d->udid && d->user) {
        out = apr_pstrcat(p, out, button(token, "release", "udid", d->udid,
                          "Release", apr_pstrcat(p, "Release device ", who,
                          " from ", d->user, "? Another user may enroll it "
                          "next.", NULL), p), NULL);
    }
    if (token && d->udid) {
        out = apr_pstrcat(p, out, button(token, "forget", "udid", d->udid,
                          "Forget", apr_pstrcat(p, "Forget device ", who,
                          "? Its certificates are revoked and its record "
                          "removed.", NULL), p), NULL);
    }
    return apr_pstrcat(p, out, "</td>", NULL);
}

/* A row of a table of an array's elements (token: the form token). */
typedef const char *row_fn(const void *elt, const char *token,
                           apr_pool_t *p);

/* head, a row of each element of a, the table's end and, when a has none,
 * the word that it is empty; "" when a is NULL (not read). */
static const char *html_table(const apr_array_header_t *a, const char *head,
                              row_fn *row, const char *token,
                              const char *empty, apr_pool_t *p)
{
    const char *out = head;
    int i;

    if (!a) {
        return "";
    }
    for (i = 0; i < a->nelts; i++) {
        out = apr_pstrcat(p, out, row(a->elts + i * a->elt_size, token, p),
                          NULL);
    }
    return apr_pstrcat(p, out, "</tbody></table>\n", a->nelts ? "" : empty,
                       NULL);
}

static const char *pending_row(const void *elt, const char *token,
                               apr_pool_t *p)
{
    const ota_pending_record *q = elt;
    const char *about = apr_pstrcat(p, "the certificate request of ",
                                    q->udid ? "device " : "",
                                    q->udid ? q->udid : q->subject,
                                    q->user ? " for " : "",
                                    q->user ? q->user : "", NULL);

    return apr_pstrcat(p, "<tr class=\"pending\">",
                       cell("mono transaction", q->transaction_id, p),
                       cell("mono udid", q->udid, p),
                       cell("subject", q->subject, p), cell(NULL, q->user, p),
                       cell("product", q->product, p),
                       cell(NULL, when(q->requested, HTML_TIME, p), p),
                       cell(NULL, when(q->expires, HTML_TIME, p), p),
                       "<td class=\"actions\">",
                       token ? button(token, "approve", "transaction",
                                      q->transaction_id, "Approve",
                                      apr_pstrcat(p, "Approve ", about,
                                                  "? The CA issues its "
                                                  "certificate.", NULL), p)
                             : "",
                       token ? button(token, "reject", "transaction",
                                      q->transaction_id, "Reject",
                                      apr_pstrcat(p, "Reject ", about, "?",
                                                  NULL), p)
                             : "",
                       "</td></tr>\n", NULL);
}

const char *ota_status_html_pending(const ota_status_page *pg,
                                    apr_pool_t *p)
{
    if (!pg->pending) {
        return "";
    }
    return html_table(pg->pending,
                      apr_psprintf(p, "<h2>Waiting for approval (%d)</h2>\n"
                                   "<table id=\"pending\"><thead><tr><th>"
                                   "transaction</th><th>UDID</th><th>subject"
                                   "</th><th>user</th><th>product</th><th>"
                                   "requested</th><th>expires</th><th>"
                                   "decision</th></tr></thead><tbody>\n",
                                   pg->pending->nelts),
                      pending_row, pg->token,
                      "<p class=\"muted\">No request is waiting.</p>\n", p);
}

static const char *audit_row(const void *elt, const char *token,
                             apr_pool_t *p)
{
    const ota_audit_entry *e = elt;

    return apr_pstrcat(p, "<tr class=\"audit\">",
                       cell(NULL, when(e->at, HTML_TIME, p), p),
                       cell(NULL, e->admin, p), cell("mono", e->remote, p),
                       cell("action", e->action, p),
                       cell("mono udid", e->udid, p),
                       cell("mono", e->serial, p),
                       cell("mono", e->transaction_id, p),
                       cell(NULL, e->detail, p), "</tr>\n", NULL);
}

const char *ota_status_html_audit(const ota_status_page *pg, apr_pool_t *p)
{
    return html_table(pg->audit, "<h2>Audit of admin actions</h2>\n<p "
                      "class=\"muted\">The latest, newest first, from the "
                      "shared registry (every server shows the same).</p>\n"
                      "<table id=\"audit\"><thead><tr><th>when</th><th>admin"
                      "</th><th>from</th><th>action</th><th>device</th><th>"
                      "certificate</th><th>transaction</th><th>detail</th>"
                      "</tr></thead><tbody>\n", audit_row, NULL,
                      "<p class=\"muted\">No action yet.</p>\n", p);
}

/* ---- JSON ---- */

static const char *json_time(apr_time_t t, apr_pool_t *p)
{
    return t ? apr_pstrcat(p, "\"", when(t, JSON_TIME, p), "\"", NULL)
             : "null";
}

static const char *js(const char *s, apr_pool_t *p)
{
    return ota_status_json_string(s, p);
}

static const char *pending_json(const ota_pending_record *q, apr_pool_t *p)
{
    return apr_pstrcat(p, "{\"transaction\":", js(q->transaction_id, p),
                       ",\"udid\":", js(q->udid, p), ",\"subject\":",
                       js(q->subject, p), ",\"user\":", js(q->user, p),
                       ",\"product\":", js(q->product, p), ",\"requested\":",
                       json_time(q->requested, p), ",\"expires\":",
                       json_time(q->expires, p), "}", NULL);
}

static const char *audit_json(const ota_audit_entry *e, apr_pool_t *p)
{
    return apr_pstrcat(p, "{\"at\":", json_time(e->at, p), ",\"admin\":",
                       js(e->admin, p), ",\"remote\":", js(e->remote, p),
                       ",\"action\":", js(e->action, p), ",\"udid\":",
                       js(e->udid, p), ",\"serial\":", js(e->serial, p),
                       ",\"transaction\":", js(e->transaction_id, p),
                       ",\"detail\":", js(e->detail, p), "}", NULL);
}

const char *ota_status_json_admin(const ota_status_page *pg, apr_pool_t *p)
{
    const char *out = "\"pending\":";
    int i;

    if (!pg->pending) {
        out = apr_pstrcat(p, out, "null", NULL);
    }
    for (i = 0; pg->pending && i < pg->pending->nelts; i++) {
        out = apr_pstrcat(p, out, i ? ",\n" : "[\n", pending_json(
                          &APR_ARRAY_IDX(pg->pending, i, ota_pending_record),
                          p), NULL);
    }
    if (pg->pending) {
        out = apr_pstrcat(p, out, pg->pending->nelts ? "]" : "[]", NULL);
    }
    out = apr_pstrcat(p, out, ",\n\"audit\":", pg->audit ? "" : "null", NULL);
    for (i = 0; pg->audit && i < pg->audit->nelts; i++) {
        out = apr_pstrcat(p, out, i ? ",\n" : "[\n", audit_json(
                          &APR_ARRAY_IDX(pg->audit, i, ota_audit_entry), p),
                          NULL);
    }
    if (pg->audit) {
        out = apr_pstrcat(p, out, pg->audit->nelts ? "]" : "[]", NULL);
    }
    return out;
}
