/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The ota-status page, rendered from plain structs. Every string that
 * reaches the page goes through html_add or json_add: device attributes
 * are whatever a device (or whoever holds a device identity) sent. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "ota_status.h"

/* ---- a growing buffer ---- */

typedef struct buf {
    char *s;
    apr_size_t len;
    apr_size_t cap;
    apr_pool_t *p;
} buf;

static void buf_init(buf *b, apr_size_t cap, apr_pool_t *p)
{
    b->p = p;
    b->cap = cap;
    b->len = 0;
    b->s = apr_palloc(p, cap);
    b->s[0] = '\0';                     /* nothing added is "" */
}

static void buf_addn(buf *b, const char *s, apr_size_t n)
{
    char *bigger;

    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap) {
            b->cap *= 2;
        }
        bigger = apr_palloc(b->p, b->cap);
        memcpy(bigger, b->s, b->len);
        b->s = bigger;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_add(buf *b, const char *s)
{
    buf_addn(b, s, strlen(s));
}

static void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_add(b, apr_pvsprintf(b->p, fmt, ap));
    va_end(ap);
}

/* ---- escaping ---- */

#define REPLACEMENT "\xEF\xBF\xBD"      /* U+FFFD */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), 0 when there is
 * none: no overlong forms, surrogates or code points past U+10FFFF. */
static apr_size_t utf8_len(const unsigned char *s)
{
    apr_size_t n, i;
    apr_uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2, cp = s[0] & 0x1F;
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3, cp = s[0] & 0x0F;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4, cp = s[0] & 0x07;
    }
    else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
        return 0;
    }
    return n;
}

static void html_add(buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    apr_size_t n;

    while (*u) {
        n = utf8_len(u);
        if (n == 0 || (*u < 0x20 && *u != '\t' && *u != '\n')
            || *u == 0x7F) {
            buf_add(b, REPLACEMENT);
            u++;
            continue;
        }
        switch (*u) {
        case '&': buf_add(b, "&amp;"); break;
        case '<': buf_add(b, "&lt;"); break;
        case '>': buf_add(b, "&gt;"); break;
        case '"': buf_add(b, "&quot;"); break;
        case '\'': buf_add(b, "&#39;"); break;
        default: buf_addn(b, (const char *)u, n); break;
        }
        u += n;
    }
}

/* '<', '>' and '&' are escaped too, so the JSON stays inert if something
 * ever shows it as HTML; so are U+2028/2029 (not valid in JavaScript). */
static void json_add(buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t n;

    if (!s) {
        buf_add(b, "null");
        return;
    }
    buf_add(b, "\"");
    for (; *u; u += n ? n : 1) {
        n = utf8_len(u);
        if (n == 0) {
            buf_add(b, "\\ufffd");
        }
        else if (*u == '"' || *u == '\\') {
            buf_printf(b, "\\%c", *u);
        }
        else if (*u < 0x20 || *u == 0x7F || *u == '<' || *u == '>'
                 || *u == '&') {
            buf_printf(b, "\\u%04x", *u);
        }
        else if (n == 3 && u[0] == 0xE2 && u[1] == 0x80
                 && (u[2] == 0xA8 || u[2] == 0xA9)) {
            buf_printf(b, "\\u%04x", u[2] == 0xA8 ? 0x2028 : 0x2029);
        }
        else {
            buf_addn(b, (const char *)u, n);
        }
    }
    buf_add(b, "\"");
}

const char *ota_status_html_escape(const char *s, apr_pool_t *p)
{
    buf b;

    buf_init(&b, 64, p);
    html_add(&b, s);
    return b.s;
}

const char *ota_status_json_string(const char *s, apr_pool_t *p)
{
    buf b;

    buf_init(&b, 64, p);
    json_add(&b, s);
    return b.s;
}

/* For links: everything but RFC 3986's unreserved characters. */
static const char *url_encode(const char *s, apr_pool_t *p)
{
    buf b;

    buf_init(&b, 64, p);
    for (; *s; s++) {
        if (apr_isalnum(*s) || strchr("-._~", *s)) {
            buf_addn(&b, s, 1);
        }
        else {
            buf_printf(&b, "%%%02X", (unsigned char)*s);
        }
    }
    return b.s;
}

/* ---- the query ---- */

static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* In place, form style ('+' is a space); -1 on a bad escape or a NUL. */
static int url_decode(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        }
        else if (*s != '%') {
            *o++ = *s;
        }
        else if (apr_isxdigit(s[1]) && apr_isxdigit(s[2])
                 && (s[1] != '0' || s[2] != '0')) {
            *o++ = (char)(hex_value(s[1]) * 16 + hex_value(s[2]));
            s += 2;
        }
        else {
            return -1;
        }
    }
    *o = '\0';
    return 0;
}

/* "" gives dflt; otherwise digits only, within min..max. */
static int number_of(int *out, const char *v, int dflt, int min, int max)
{
    long n;

    if (!*v) {
        *out = dflt;
        return 0;
    }
    if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 9) {
        return -1;
    }
    n = strtol(v, NULL, 10);
    if (n < min || n > max) {
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Characters, not bytes: UTF-8 continuation bytes are not counted. */
static apr_size_t utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* Keyset pages have no numbers: a deep page is reached through the next
 * links (after=), never by counting rows. */
static int page_refused(const char *value)
{
    return *value && strcmp(value, "1");
}

static apr_status_t query_pair(ota_status_query *out, const char *key,
                               const char *value, const char **why)
{
    if (!strcmp(key, "page") && page_refused(value)) {
        *why = "page=N is not supported: follow the next link (after=)";
    }
    else if (!strcmp(key, "after") && *value
             && (strlen(value) > OTA_STATUS_MAX_CURSOR
                 || ota_status_cursor_parse(&out->cursor, value, NULL))) {
        *why = "after is not a cursor of this page";
    }
    else if (!strcmp(key, "q") && *value
             && utf8_chars(value) < OTA_STORE_SEARCH_MIN) {
        *why = "q needs at least 3 characters";
    }
    else if (!strcmp(key, "phase")
             && number_of(&out->phase, value, 0, 0, OTA_STATUS_MAX_PHASE)) {
        *why = "phase must be a number from 1 to 4 (empty or 0: any)";
    }
    else if (!strcmp(key, "format") && strcmp(value, "json")
             && strcmp(value, "html") && *value) {
        *why = "format must be html or json";
    }
    else if (!strcmp(key, "q") && strlen(value) > OTA_STATUS_MAX_QUERY) {
        *why = "q is too long";
    }
    else {
        if (!strcmp(key, "format")) {
            out->json = !strcmp(value, "json");
        }
        else if (!strcmp(key, "q")) {
            out->q = value;
        }
        else if (!strcmp(key, "after")) {
            out->after = value;
        }
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

apr_status_t ota_status_query_parse(ota_status_query *out, const char *args,
                                    const char **why, apr_pool_t *p)
{
    char *copy, *state = NULL, *pair, *value;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->after = "";
    out->q = "";
    copy = apr_pstrdup(p, args ? args : "");
    for (pair = apr_strtok(copy, "&", &state); pair;
         pair = apr_strtok(NULL, "&", &state)) {
        value = strchr(pair, '=');
        if (value) {
            *value++ = '\0';
        }
        if (url_decode(pair) || (value && url_decode(value))) {
            *why = "malformed percent-encoding in the query";
            return APR_EINVAL;
        }
        if ((rv = query_pair(out, pair, value ? value : "", why))) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ---- log ids ---- */

int ota_status_log_id(const char *text)
{
    int id = 0, i;

    if (!text || strncmp(text, "OTA", 3)) {
        return -1;
    }
    for (i = 3; i < 8; i++) {
        if (!apr_isdigit(text[i])) {
            return -1;
        }
        id = id * 10 + (text[i] - '0');
    }
    /* text[8] exists: text[3..7] were digits */
    return !apr_isdigit(text[8]) && id < OTA_STATUS_LOG_IDS ? id : -1;
}

/* The README's log ids table, short: the warn lines, which are what the
 * page counts. */
static const struct {
    int id;
    const char *text;
} reasons[] = {
    { 10, "phase 1: method other than GET" },
    { 20, "phase 2: method other than POST" },
    { 17, "body timed out" },
    { 21, "body too large" },
    { 22, "body could not be read" },
    { 23, "not CMS" },
    { 24, "CMS but not SignedData" },
    { 25, "SignedData without signer" },
    { 26, "more than one signer" },
    { 27, "detached signature" },
    { 28, "content is not data" },
    { 29, "signer certificate missing" },
    { 30, "digest not allowed" },
    { 31, "signature does not match" },
    { 32, "signer key too small" },
    { 33, "signer does not chain to the device CA's root" },
    { 34, "signer not issued through the device CA" },
    { 35, "device attributes refused" },
    { 36, "no CHALLENGE in phase 2" },
    { 37, "unknown challenge" },
    { 38, "challenge expired" },
    { 39, "challenge already used" },
    { 40, "challenge bound to another user" },
    { 42, "phase 2: the device is another user's" },
    { 43, "phase 2: same user, another device identity" },
    { 44, "phase 1 without an authenticated user" },
    { 50, "the CA did not answer GetCACaps" },
    { 61, "SCEP: method not allowed" },
    { 62, "SCEP: unknown operation" },
    { 63, "SCEP message refused" },
    { 64, "SCEP: replayed transaction" },
    { 65, "SCEP challenge missing, unknown, used or expired" },
    { 66, "SCEP: wrong static challenge" },
    { 67, "SCEP: CSR refused" },
    { 68, "SCEP: RenewalReq signer not valid" },
    { 70, "SCEP: GetCertInitial for an unknown transaction" },
    { 71, "SCEP: message type not supported" },
    { 72, "SCEP: GET without a message" },
    { 75, "DES3 or SHA-1 enabled" },
    { 80, "phase 3: device did not pass phase 2" },
    { 81, "phase 3: after the enrollment window" },
    { 82, "phase 3: revoked certificate" },
    { 83, "phase 3: another device's certificate" },
    { 84, "phase 3: certificate unknown to the registry" },
    { 90, "status page: method not allowed" },
    { 91, "status page: bad query" },
    { 100, "CRL: method not allowed" },
    { 105, "OCSP: method not allowed" },
    { 106, "OCSP: wrong Content-Type" },
    { 107, "OCSP: malformed request" },
    { 108, "OCSP: another issuer" },
    { 111, "admin action: no JSON type or form token" },
    { 112, "admin action: malformed" },
    { 113, "admin action: unknown serial or device" },
    { 124, "admin action: request already decided or expired" },
    { 126, "SCEP: held request rejected" },
    { 127, "SCEP: held request expired undecided" },
    { 0, NULL }
};

const char *ota_status_reason(int id)
{
    int i;

    for (i = 0; reasons[i].text; i++) {
        if (reasons[i].id == id) {
            return reasons[i].text;
        }
    }
    return NULL;
}

static int newest_first(const void *a, const void *b)
{
    const ota_status_rejection *x = a, *y = b;

    if (x->last != y->last) {
        return x->last > y->last ? -1 : 1;
    }
    return x->id - y->id;
}

apr_array_header_t *ota_status_rejections(const ota_status_counter *c,
                                          int n, apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 16,
                                             sizeof(ota_status_rejection));
    ota_status_rejection *r;
    int i;

    for (i = 0; i < n; i++) {
        if (c[i].count) {
            r = apr_array_push(out);
            r->id = i;
            r->count = c[i].count;
            r->last = apr_time_from_sec(c[i].last);
        }
    }
    qsort(out->elts, out->nelts, sizeof(ota_status_rejection), newest_first);
    return out;
}

/* ---- shared by both renderings ---- */

/* ota_device records phases 2 to 4 (see ota_store.h). */
static const char *const phase_names[] = {
    "unknown", "challenge issued", "attributes accepted",
    "certificate issued", "enrolled"
};

int ota_status_total(const ota_status_page *pg)
{
    int i, total = 0;

    if (pg->query.phase > 0 && pg->query.phase <= OTA_STATUS_MAX_PHASE) {
        return pg->phase_count[pg->query.phase];
    }
    for (i = 0; i <= OTA_STATUS_MAX_PHASE; i++) {
        total += pg->phase_count[i];
    }
    return total;
}

/* Phases 2 to 4 always, others when some device has them. */
static int phase_shown(const ota_status_page *pg, int phase)
{
    return phase >= 2 || pg->phase_count[phase] > 0;
}

static const char *time_text(apr_time_t t, const char *fmt, apr_pool_t *p)
{
    apr_time_exp_t tm;
    apr_size_t n = 0;
    char out[40];

    apr_time_exp_gmt(&tm, t);
    apr_strftime(out, &n, sizeof(out), fmt, &tm);
    return apr_pstrmemdup(p, out, n);
}

#define HTML_TIME "%Y-%m-%d %H:%M:%S UTC"
#define JSON_TIME "%Y-%m-%dT%H:%M:%SZ"

/* A link to a page of the same view (after a cursor; NULL: the first
 * page), unescaped, relative to the page ("?..."). */
static const char *link_to(const ota_status_page *pg, const char *after,
                           int json, apr_pool_t *p)
{
    const ota_status_query *q = &pg->query;
    const char *link;

    link = apr_pstrcat(p, json ? "format=json&" : "",
                       after ? "after=" : "", after ? url_encode(after, p)
                                                    : "",
                       *q->q ? "&q=" : "", *q->q ? url_encode(q->q, p) : "",
                       q->phase ? apr_psprintf(p, "&phase=%d", q->phase)
                                : "", NULL);
    if (*link == '&') {
        link++;
    }
    return apr_pstrcat(p, "?", link, NULL);
}

/* The cursor of the next page, NULL on the last one. */
static const char *next_cursor(const ota_status_page *pg, apr_pool_t *p)
{
    return pg->more ? ota_status_cursor_text(&pg->next, *pg->query.q != '\0',
                                             p)
                    : NULL;
}

/* ---- HTML ---- */

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}"
    "table{border-collapse:collapse;font-size:.85em}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;"
    "vertical-align:top}"
    "th{background:#eef1f4}td.num{text-align:right}"
    ".mono{font-family:monospace}.muted{color:#777}.bad{color:#a00}"
    "nav a{margin-left:1em}form{margin:.5em 0}"
    "form.act{display:inline;margin:0 .25em 0 0}";

static void html_cell(buf *b, const char *cls, const char *text)
{
    buf_add(b, cls ? apr_pstrcat(b->p, "<td class=\"", cls, "\">", NULL)
                   : "<td>");
    html_add(b, text);
    buf_add(b, "</td>");
}

static const char *phase_text(int phase, apr_pool_t *p)
{
    if (phase < 0 || phase > OTA_STATUS_MAX_PHASE) {
        return apr_itoa(p, phase);
    }
    return apr_psprintf(p, "%d %s", phase, phase_names[phase]);
}

static void html_head(buf *b, const ota_status_page *pg)
{
    buf_add(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
            "<meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\">"
            "<title>OTA enrollment status</title><style>");
    buf_add(b, style);
    buf_add(b, "</style></head><body>\n<h1>OTA enrollment status</h1>\n"
            "<p class=\"muted\">Generated ");
    buf_add(b, time_text(pg->now, HTML_TIME, b->p));
    buf_add(b, ". <a href=\"");
    html_add(b, link_to(pg, *pg->query.after ? pg->query.after : NULL, 1,
                        b->p));
    buf_add(b, "\">This page as JSON</a></p>\n");
}

static void html_counts(buf *b, const ota_status_page *pg)
{
    int i, total = 0;

    buf_add(b, "<h2>Devices by phase");
    if (*pg->query.q) {
        buf_add(b, " matching &ldquo;");
        html_add(b, pg->query.q);
        buf_add(b, "&rdquo;");
    }
    buf_add(b, "</h2>\n<table id=\"phases\"><thead><tr><th>phase</th>"
            "<th>devices</th></tr></thead><tbody>\n");
    for (i = 0; i <= OTA_STATUS_MAX_PHASE; i++) {
        total += pg->phase_count[i];
        if (phase_shown(pg, i)) {
            buf_printf(b, "<tr data-phase=\"%d\">", i);
            html_cell(b, NULL, phase_text(i, b->p));
            html_cell(b, "num", apr_itoa(b->p, pg->phase_count[i]));
            buf_add(b, "</tr>\n");
        }
    }
    buf_add(b, "<tr data-phase=\"all\"><th>all</th><th class=\"num\">");
    buf_add(b, pg->counts_capped ? apr_psprintf(b->p, "more than %d",
                                                OTA_STORE_COUNT_CAP)
                                 : apr_itoa(b->p, total));
    buf_add(b, "</th></tr>\n</tbody></table>\n");
    if (pg->counts_capped) {
        buf_printf(b, "<p class=\"muted\">A search counts its first %d "
                   "matches only.</p>\n", OTA_STORE_COUNT_CAP);
    }
}

static void html_filter(buf *b, const ota_status_page *pg)
{
    int i;

    buf_add(b, "<form method=\"get\"><label>UDID, serial, product, user or "
            "certificate serial contains (3 characters or more) "
            "<input type=\"search\" name=\"q\" minlength=\"3\" value=\"");
    html_add(b, pg->query.q);
    buf_add(b, "\"></label> <label>phase <select name=\"phase\">"
            "<option value=\"\">any</option>");
    for (i = 2; i <= OTA_STATUS_MAX_PHASE; i++) {
        buf_printf(b, "<option value=\"%d\"%s>", i,
                   pg->query.phase == i ? " selected" : "");
        html_add(b, phase_text(i, b->p));
        buf_add(b, "</option>");
    }
    buf_add(b, "</select></label> <button type=\"submit\">Filter</button>"
            "</form>\n");
}

static void html_expiry(buf *b, const ota_device_summary *d, apr_time_t now)
{
    apr_pool_t *p = b->p;

    if (!d->cert_serial) {
        html_cell(b, NULL, "");
    }
    else if (d->cert_revoked) {
        html_cell(b, "bad", apr_pstrcat(p, "revoked ", time_text(
                  d->cert_revoked, HTML_TIME, p), NULL));
    }
    else if (!d->cert_not_after) {
        html_cell(b, "muted", "unknown (not issued here)");
    }
    else if (d->cert_not_after < now) {
        html_cell(b, "bad", apr_pstrcat(p, "expired ", time_text(
                  d->cert_not_after, HTML_TIME, p), NULL));
    }
    else {
        html_cell(b, NULL, time_text(d->cert_not_after, HTML_TIME, p));
    }
}

static void html_device(buf *b, const ota_device_summary *d,
                        const ota_status_page *pg)
{
    buf_add(b, "<tr class=\"device\">");
    html_cell(b, "mono udid", d->udid);
    html_cell(b, "mono", d->serial);
    html_cell(b, "product", d->product);
    html_cell(b, NULL, d->version);
    html_cell(b, NULL, d->user);
    html_cell(b, "phase", phase_text(d->phase, b->p));
    html_cell(b, "mono", d->cert_serial);
    html_expiry(b, d, pg->now);
    html_cell(b, NULL, d->last_seen ? time_text(d->last_seen, HTML_TIME,
                                                b->p) : "");
    buf_add(b, ota_status_html_device_actions(d, pg->token, b->p));
    buf_add(b, "</tr>\n");
}

/* Keyset pages: the first page and the next one, no numbers. */
static void html_pager(buf *b, const ota_status_page *pg)
{
    const char *next = next_cursor(pg, b->p);
    int total = ota_status_total(pg);

    buf_add(b, "<nav class=\"pages\">");
    if (pg->counts_capped) {
        buf_printf(b, "More than %d devices", OTA_STORE_COUNT_CAP);
    }
    else {
        buf_printf(b, "%d device%s", total, total == 1 ? "" : "s");
    }
    buf_add(b, *pg->query.q ? ", the devices recorded last first"
                            : ", last seen first");
    if (*pg->query.after) {
        buf_add(b, "<a rel=\"first\" href=\"");
        html_add(b, link_to(pg, NULL, 0, b->p));
        buf_add(b, "\">&larr; first page</a>");
    }
    if (next) {
        buf_add(b, "<a rel=\"next\" href=\"");
        html_add(b, link_to(pg, next, 0, b->p));
        buf_add(b, "\">next &rarr;</a>");
    }
    buf_add(b, "</nav>\n");
}

static void html_devices(buf *b, const ota_status_page *pg)
{
    int i;

    buf_add(b, "<h2>Devices</h2>\n");
    html_filter(b, pg);
    html_pager(b, pg);
    buf_add(b, "<table id=\"devices\"><thead><tr><th>UDID</th>"
            "<th>serial</th><th>product</th><th>OS version</th><th>user</th>"
            "<th>phase</th><th>certificate serial</th><th>certificate "
            "expires</th><th>last seen</th><th>actions</th></tr></thead>"
            "<tbody>\n");
    for (i = 0; i < pg->devices->nelts; i++) {
        html_device(b, &APR_ARRAY_IDX(pg->devices, i, ota_device_summary),
                    pg);
    }
    buf_add(b, "</tbody></table>\n");
    if (!pg->devices->nelts) {
        buf_add(b, "<p class=\"muted\">No device on this page.</p>\n");
    }
}

static void html_rejection(buf *b, const ota_status_rejection *r)
{
    const char *id = apr_psprintf(b->p, "OTA%05d", r->id);
    const char *reason = ota_status_reason(r->id);

    buf_printf(b, "<tr data-id=\"%s\">", id);
    html_cell(b, "mono", id);
    html_cell(b, NULL, reason ? reason : "see the README");
    html_cell(b, "num", apr_psprintf(b->p, "%u", r->count));
    html_cell(b, NULL, time_text(r->last, HTML_TIME, b->p));
    buf_add(b, "</tr>\n");
}

static void html_rejections(buf *b, const ota_status_page *pg)
{
    int i;

    buf_add(b, "<h2>Recent rejections by reason</h2>\n");
    if (!pg->rejections) {
        buf_add(b, "<p class=\"bad\">Not counted: the counters could not "
                "be set up (see OTA00092 in the error log).</p>\n");
        return;
    }
    buf_add(b, "<p class=\"muted\">Warnings in the error log, counted by "
            "this Apache server (");
    html_add(b, pg->server);
    buf_add(b, ") since ");
    buf_add(b, time_text(pg->rejections_since, HTML_TIME, b->p));
    buf_add(b, "; each server behind a load balancer counts its own.</p>\n"
            "<table id=\"rejections\"><thead><tr><th>log id</th>"
            "<th>reason</th><th>count</th><th>last seen</th></tr></thead>"
            "<tbody>\n");
    for (i = 0; i < pg->rejections->nelts; i++) {
        html_rejection(b, &APR_ARRAY_IDX(pg->rejections, i,
                                         ota_status_rejection));
    }
    buf_add(b, "</tbody></table>\n");
    if (!pg->rejections->nelts) {
        buf_add(b, "<p class=\"muted\">None.</p>\n");
    }
}

apr_status_t ota_status_html(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p)
{
    buf b;

    buf_init(&b, 16384, p);
    html_head(&b, pg);
    buf_add(&b, ota_status_html_store(pg, p));
    buf_add(&b, ota_status_html_pending(pg, p));
    html_counts(&b, pg);
    buf_add(&b, ota_status_html_tables(pg, p));
    html_rejections(&b, pg);         /* the summaries first, then the list */
    html_devices(&b, pg);
    buf_add(&b, ota_status_html_audit(pg, p));
    buf_add(&b, "</body></html>\n");
    *out = b.s;
    *len = b.len;
    return APR_SUCCESS;
}

/* ---- JSON ---- */

/* A time as JSON: its ISO 8601 string, null when there is none. */
static const char *json_time_value(apr_time_t t, apr_pool_t *p)
{
    return t ? apr_pstrcat(p, "\"", time_text(t, JSON_TIME, p), "\"", NULL)
             : "null";
}

static void json_time(buf *b, apr_time_t t)
{
    buf_add(b, json_time_value(t, b->p));
}

static const char *js(const char *s, apr_pool_t *p)
{
    return ota_status_json_string(s, p);
}

static void json_device(buf *b, const ota_device_summary *d)
{
    apr_pool_t *p = b->p;

    buf_printf(b, "{\"udid\":%s,\"serial\":%s,\"product\":%s,\"version\":%s,"
               "\"user\":%s,\"phase\":%d,\"certificate_serial\":%s,"
               "\"certificate_expires\":%s,\"certificate_revoked\":%s,"
               "\"last_seen\":%s}",
               js(d->udid, p), js(d->serial, p), js(d->product, p),
               js(d->version, p), js(d->user, p), d->phase,
               js(d->cert_serial, p), json_time_value(d->cert_not_after, p),
               json_time_value(d->cert_revoked, p),
               json_time_value(d->last_seen, p));
}

/* "next" (the next page's URL, its cursor in after=) is absent on the
 * last page. */
static void json_page(buf *b, const ota_status_page *pg)
{
    const char *next = next_cursor(pg, b->p);

    buf_printf(b, "\"page\":{\"size\":%d,\"devices\":%d,\"after\":",
               OTA_STATUS_PAGE_SIZE, ota_status_total(pg));
    json_add(b, *pg->query.after ? pg->query.after : NULL);
    if (next) {
        buf_add(b, ",\"next\":");
        json_add(b, apr_pstrcat(b->p, pg->self ? pg->self : "",
                                link_to(pg, next, 1, b->p), NULL));
    }
    buf_add(b, "}");
}

static void json_counts(buf *b, const ota_status_page *pg)
{
    int i, total = 0, first = 1;

    buf_add(b, "\"counts\":{\"by_phase\":{");
    for (i = 0; i <= OTA_STATUS_MAX_PHASE; i++) {
        total += pg->phase_count[i];
        if (phase_shown(pg, i)) {
            buf_printf(b, "%s\"%d\":%d", first ? "" : ",", i,
                       pg->phase_count[i]);
            first = 0;
        }
    }
    buf_printf(b, "},\"total\":%d,\"capped\":%s}", total,
               pg->counts_capped ? "true" : "false");
}

static void json_rejections(buf *b, const ota_status_page *pg)
{
    const ota_status_rejection *r;
    int i;

    if (!pg->rejections) {
        buf_add(b, "\"rejections\":null");
        return;
    }
    buf_add(b, "\"rejections\":{\"server\":");
    json_add(b, pg->server);
    buf_add(b, ",\"since\":");
    json_time(b, pg->rejections_since);
    buf_add(b, ",\"by_id\":[");
    for (i = 0; i < pg->rejections->nelts; i++) {
        r = &APR_ARRAY_IDX(pg->rejections, i, ota_status_rejection);
        buf_printf(b, "%s{\"id\":\"OTA%05d\",\"reason\":", i ? "," : "",
                   r->id);
        json_add(b, ota_status_reason(r->id));
        buf_printf(b, ",\"count\":%u,\"last_seen\":", r->count);
        json_time(b, r->last);
        buf_add(b, "}");
    }
    buf_add(b, "]}");
}

apr_status_t ota_status_json(const char **out, apr_size_t *len,
                             const ota_status_page *pg, apr_pool_t *p)
{
    buf b;
    int i;

    buf_init(&b, 16384, p);
    buf_add(&b, "{\"generated\":");
    json_time(&b, pg->now);
    buf_add(&b, ",");
    buf_add(&b, ota_status_json_store(pg, p));
    buf_add(&b, ",\"filter\":{\"q\":");
    json_add(&b, pg->query.q);
    buf_add(&b, ",\"phase\":");
    buf_add(&b, pg->query.phase ? apr_itoa(p, pg->query.phase) : "null");
    buf_add(&b, "},");
    json_page(&b, pg);
    buf_add(&b, ",");
    json_counts(&b, pg);
    buf_add(&b, ",");
    buf_add(&b, ota_status_json_tables(pg, p));
    buf_add(&b, ",\"devices\":[");
    for (i = 0; i < pg->devices->nelts; i++) {
        buf_add(&b, i ? ",\n" : "\n");
        json_device(&b, &APR_ARRAY_IDX(pg->devices, i, ota_device_summary));
    }
    buf_add(&b, "],\n");
    json_rejections(&b, pg);
    buf_add(&b, ",\n");
    buf_add(&b, ota_status_json_admin(pg, p));
    buf_add(&b, "}\n");
    *out = b.s;
    *len = b.len;
    return APR_SUCCESS;
}
