/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_status (escaping, the query, log ids, HTML and JSON) and the
 * status page's store functions against a scratch sqlite3 file. */
#include <stdlib.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_status.h"
#include "ota_store.h"
#include "unit.h"

#define HOSTILE "<script>alert(1)</script>"

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* A string in, the escaped string out. */
typedef struct {
    const char *in, *want, *name;
} escape_case;

static const escape_case html_cases[] = {
    { HOSTILE, "&lt;script&gt;alert(1)&lt;/script&gt;",
      "HTML: markup escaped" },
    { "a\"b'c&d", "a&quot;b&#39;c&amp;d", "HTML: quotes and ampersand" },
    { NULL, "", "HTML: NULL is empty" },
    { "caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80",
      "HTML: UTF-8 kept" },
    { "a\xFF" "b\xC0\xAF" "c\x01",
      "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD",
      "HTML: invalid UTF-8 and controls become U+FFFD" }
};

static const escape_case json_cases[] = {
    { "a\"b\\c", "\"a\\\"b\\\\c\"", "JSON: quote and backslash" },
    { HOSTILE, "\"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"",
      "JSON: markup made inert" },
    { "\n\t\x01\x7F&", "\"\\u000a\\u0009\\u0001\\u007f\\u0026\"",
      "JSON: controls" },
    { NULL, "null", "JSON: NULL is null" },
    { "\xED\xA0\x80x\xF4\x90\x80\x80",
      "\"\\ufffd\\ufffd\\ufffdx\\ufffd\\ufffd\\ufffd\\ufffd\"",
      "JSON: surrogates and code points past U+10FFFF refused" },
    { "\xE2\x80\xA8\xC3\xA9", "\"\\u2028\xC3\xA9\"",
      "JSON: U+2028 escaped, UTF-8 kept" }
};

static void test_escaping(void)
{
    apr_size_t i;

    for (i = 0; i < sizeof(html_cases) / sizeof(html_cases[0]); i++) {
        is_str(ota_status_html_escape(html_cases[i].in, pool),
               html_cases[i].want, html_cases[i].name);
    }
    for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        is_str(ota_status_json_string(json_cases[i].in, pool),
               json_cases[i].want, json_cases[i].name);
    }
}

static void test_query(void)
{
    ota_status_query q;
    const char *why = NULL;
    char *long_q = apr_palloc(pool, OTA_STATUS_MAX_QUERY + 4);
    const char *bad[] = {
        "page=0", "page=abc", "page=-1", "page=99999999999", "phase=5",
        "phase=x", "format=xml", "q=%zz", "q=%00", "q=%4", "page=2",
        "after=x", "after=:UDID", "after=1234567890123456789", "q=ab",
        "q=%C3%A9%C3%A9", NULL
    };
    int i;

    is_int(ota_status_query_parse(&q, NULL, &why, pool), APR_SUCCESS,
           "no query");
    ok(!*q.after && q.phase == 0 && !*q.q && !q.json, "defaults");
    is_int(ota_status_query_parse(&q, "after=1700000000%3AUDID-1&"
                                  "q=a%2Bb+c%25&phase=4&format=json&x=y&"
                                  "novalue", &why, pool),
           APR_SUCCESS, "full query");
    ok(q.cursor.n == 1700000000 && !strcmp(q.cursor.udid, "UDID-1")
       && q.phase == 4 && q.json, "cursor, phase and format");
    is_str(q.q, "a+b c%", "q decoded (form style)");
    is_int(ota_status_query_parse(&q, "phase=&page=&q=&after=", &why, pool),
           APR_SUCCESS, "empty values (the filter form's 'any')");
    ok(!*q.after && q.phase == 0, "empty values are the defaults");
    is_int(ota_status_query_parse(&q, "page=1&after=42&q=%C3%A9t%C3%A9",
                                  &why, pool), APR_SUCCESS,
           "page=1 (the first page) is still accepted, q of 3 characters");
    ok(q.cursor.n == 42 && !*q.cursor.udid, "a search's cursor: an id");
    for (i = 0; bad[i]; i++) {
        why = NULL;
        ok(ota_status_query_parse(&q, bad[i], &why, pool) == APR_EINVAL
           && why, apr_psprintf(pool, "refused: %s", bad[i]));
    }
    memset(long_q, 'a', OTA_STATUS_MAX_QUERY + 3);
    memcpy(long_q, "q=", 2);
    long_q[OTA_STATUS_MAX_QUERY + 3] = '\0';
    ok(ota_status_query_parse(&q, long_q, &why, pool) == APR_EINVAL,
       "q longer than the limit refused");
    long_q[OTA_STATUS_MAX_QUERY + 2] = '\0';
    ok(ota_status_query_parse(&q, long_q, &why, pool) == APR_SUCCESS,
       "q at the limit accepted");
}

static void test_log_ids(void)
{
    static const struct {
        const char *line;
        int id;
        const char *name;
    } ids[] = {
        { "OTA00037: refused device X", 37, "OTA00037" },
        { "OTA00099", 99, "OTA00099" },
        { "OTA00150: revoked", 150, "OTA00150" },
        { "OTA00250", -1, "beyond the ids counted" },
        { "OTA000123: x", -1, "OTA000123 is not ours" },
        { "OTA0003", -1, "short id" },
        { "AH00037: x", -1, "httpd's ids" },
        { " OTA00037", -1, "not at the start" },
        { NULL, -1, "NULL" }
    };
    ota_status_counter c[OTA_STATUS_LOG_IDS];
    apr_array_header_t *r;
    apr_size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        is_int(ota_status_log_id(ids[i].line), ids[i].id, ids[i].name);
    }
    is_str(ota_status_reason(37), "unknown challenge", "reason of OTA00037");
    ok(ota_status_reason(41) == NULL, "no reason for an info id");

    memset(c, 0, sizeof(c));
    c[23].count = 3, c[23].last = 1000;
    c[39].count = 1, c[39].last = 2000;
    c[10].count = 2, c[10].last = 1000;
    r = ota_status_rejections(c, OTA_STATUS_LOG_IDS, pool);
    is_int(r->nelts, 3, "only the ids counted");
    is_int(APR_ARRAY_IDX(r, 0, ota_status_rejection).id, 39,
           "most recent first");
    is_int(APR_ARRAY_IDX(r, 1, ota_status_rejection).id, 10,
           "same time: by id");
    ok(APR_ARRAY_IDX(r, 2, ota_status_rejection).count == 3
       && APR_ARRAY_IDX(r, 2, ota_status_rejection).last
          == apr_time_from_sec(1000), "count and time kept");
}

/* A page of 63 matching devices, two shown: a hostile one and one whose
 * certificate came from an external CA; after: the cursor it was asked
 * for ("" for the first page), more: whether a next page follows (its
 * cursor: id 12, q being a search). */
static void page_of(ota_status_page *pg, const char *after, int more)
{
    apr_array_header_t *devices = apr_array_make(pool, 2,
                                                 sizeof(ota_device_summary));
    ota_status_counter c[OTA_STATUS_LOG_IDS];
    ota_device_summary *d;

    memset(pg, 0, sizeof(*pg));
    pg->query.after = after;
    pg->query.q = "a&b";
    pg->self = "/ota/status";
    pg->more = more;
    pg->next.n = 12;
    pg->next.udid = "";
    pg->now = apr_time_from_sec(1700000000);
    pg->phase_count[2] = 60;
    pg->phase_count[4] = 3;
    d = apr_array_push(devices);
    memset(d, 0, sizeof(*d));
    d->udid = "UDID-<1>";
    d->product = HOSTILE;
    d->user = "a\"b\\c";
    d->phase = 4;
    d->cert_serial = "0A1B";
    d->last_seen = pg->now;
    d = apr_array_push(devices);
    memset(d, 0, sizeof(*d));
    d->udid = "UDID-2";
    d->phase = 4;
    d->cert_serial = "0C0D";
    d->cert_not_after = pg->now + apr_time_from_sec(86400);
    pg->devices = devices;
    memset(c, 0, sizeof(c));
    c[23].count = 2, c[23].last = 1700000000;
    pg->rejections = ota_status_rejections(c, OTA_STATUS_LOG_IDS, pool);
    pg->rejections_since = pg->now;
    pg->server = "host<x>";
}

/* A part a page must hold, and what it shows. */
typedef struct {
    const char *part, *name;
} part_case;

/* Each of the N PARTS in TEXT: an assertion each. */
static void contains_all(const char *text, const part_case *parts,
                         apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        ok(contains(text, parts[i].part), parts[i].name);
    }
}

/* The first HTML page of page_of. */
static const part_case html_first[] = {
    { "<td class=\"product\">&lt;script&gt;alert(1)&lt;/script&gt;</td>",
      "HTML: product escaped" },
    { "value=\"a&amp;b\"", "HTML: q escaped in the form" },
    { "<a rel=\"next\" href=\"?after=12&amp;q=a%26b\">",
      "HTML: next link (its cursor) keeps the (encoded) filter" },
    { "63 devices, the devices recorded last first", "HTML: page info" },
    { "unknown (not issued here)",
      "HTML: external CA's certificate: expiry unknown" },
    { "2023-11-15 22:13:20 UTC", "HTML: expiry shown" },
    { "<tr data-phase=\"4\"><td>4 enrolled</td><td class=\"num\">3</td>"
      "</tr>", "HTML: phase count" },
    { "<tr data-id=\"OTA00023\"><td class=\"mono\">OTA00023</td>"
      "<td>not CMS</td><td class=\"num\">2</td>", "HTML: rejection row" }
};

/* The first page of page_of in PG, as JSON or HTML: the text, its
 * length checked. */
static const char *first_page(ota_status_page *pg, int json)
{
    const char *text = NULL;
    apr_size_t len = 0;

    page_of(pg, "", 1);
    if (json) {
        ota_status_json(&text, &len, pg, pool);
    }
    else {
        ota_status_html(&text, &len, pg, pool);
    }
    ok(text && len == strlen(text), "length");
    return text;
}

static void test_html(void)
{
    ota_store_tally tally = { 1000001, 2, 3, 4, 5, 6, { 0 } };
    ota_status_page pg;
    const char *html = first_page(&pg, 0);
    apr_size_t len;

    is_int(ota_status_total(&pg), 63, "total over the phases");
    ok(!contains(html, "<script"), "HTML: no script element");
    ok(contains(html, "UDID-&lt;1&gt;") && contains(html, "a&quot;b\\c")
       && contains(html, "host&lt;x&gt;"), "HTML: other strings escaped");
    ok(!contains(html, "rel=\"first\""), "HTML: no way back on page 1");
    contains_all(html, html_first, sizeof(html_first) / sizeof(html_first[0]));
    page_of(&pg, "12", 0);
    ota_status_html(&html, &len, &pg, pool);
    ok(contains(html, "<a rel=\"first\" href=\"?q=a%26b\">")
       && !contains(html, "rel=\"next\""), "HTML: the last page links back");
    ok(contains(html, "href=\"?format=json&amp;after=12&amp;q=a%26b\">"
                "This page as JSON"), "HTML: this page as JSON, its cursor");
    page_of(&pg, "9999", 0);
    pg.query.phase = 4;
    ota_status_html(&html, &len, &pg, pool);
    ok(contains(html, "href=\"?q=a%26b&amp;phase=4\">&larr;"),
       "HTML: past the end, the way back keeps the filters");
    pg.counts_capped = 1;
    ota_status_html(&html, &len, &pg, pool);
    ok(contains(html, "<th class=\"num\">more than 1000</th>")
       && contains(html, "More than 1000 devices"),
       "HTML: a search's count capped is said");
    ok(!contains(html, "id=\"tables\""), "HTML: no tallies, no table");
    pg.tally = &tally;
    ota_status_html(&html, &len, &pg, pool);
    ok(contains(html, "<tr data-table=\"ota_challenge\"><td class=\"mono\">"
                "ota_challenge</td><td class=\"num\">1000001</td></tr>")
       && contains(html, "<tr data-table=\"ota_audit\">"),
       "HTML: rows per table");
    pg.rejections = NULL;
    ota_status_html(&html, &len, &pg, pool);
    ok(contains(html, "Not counted"), "HTML: counters missing said");
}

/* The first JSON page of page_of. */
static const part_case json_first[] = {
    { "\"product\":\"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"",
      "JSON: product escaped" },
    { "\"user\":\"a\\\"b\\\\c\"", "JSON: quote and backslash escaped" },
    { "\"certificate_serial\":\"0A1B\",\"certificate_expires\":null",
      "JSON: external CA's certificate: expiry null" },
    { "\"certificate_expires\":\"2023-11-15T22:13:20Z\"", "JSON: expiry" },
    { "\"serial\":null", "JSON: missing serial is null" },
    { "\"page\":{\"size\":50,\"devices\":63,\"after\":null,"
      "\"next\":\"/ota/status?format=json\\u0026after=12\\u0026q=a%26b\"}",
      "JSON: page info, next with its cursor" },
    { "\"counts\":{\"by_phase\":{\"2\":60,\"3\":0,\"4\":3},"
      "\"total\":63,\"capped\":false}", "JSON: counts" },
    { "\"tables\":null", "JSON: no tallies" },
    { "\"by_id\":[{\"id\":\"OTA00023\",\"reason\":\"not CMS\",\"count\":2,"
      "\"last_seen\":\"2023-11-14T22:13:20Z\"}]", "JSON: rejections" },
    { "\"filter\":{\"q\":\"a\\u0026b\",\"phase\":null}", "JSON: filter" }
};

static void test_json(void)
{
    ota_store_tally tally = { 7, 0, 63, 1, 0, 0, { 0 } };
    ota_status_page pg;
    const char *json = first_page(&pg, 1);
    apr_size_t len;

    contains_all(json, json_first, sizeof(json_first) / sizeof(json_first[0]));
    pg.rejections = NULL;
    ota_status_json(&json, &len, &pg, pool);
    ok(contains(json, "\"rejections\":null"), "JSON: counters missing");
    page_of(&pg, "12", 0);
    pg.tally = &tally;
    pg.counts_capped = 1;
    ota_status_json(&json, &len, &pg, pool);
    ok(contains(json, "\"page\":{\"size\":50,\"devices\":63,"
                "\"after\":\"12\"}"), "JSON: the last page has no next");
    ok(contains(json, "\"capped\":true}"), "JSON: a capped count says so");
    ok(contains(json, "\"tables\":{\"ota_challenge\":7,\"ota_scep_challenge\":"
                "0,\"ota_device\":63,\"ota_certificate\":1,\"ota_pending\":"
                "0,\"ota_audit\":0}"), "JSON: rows per table");
}

/* ---- the store ---- */

static const apr_dbd_driver_t *drv;
static ota_db db;

static int sql(const char *stmt)
{
    int nrows = 0;

    return apr_dbd_query(drv, db.handle, &nrows, stmt);
}

/* 60 plain devices, phase 2, last seen 1000 + i; four special ones. */
static int fill(void)
{
    int rc = sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                 "FROM n WHERE i < 60) INSERT INTO ota_device (udid, serial, "
                 "product, version, username, phase, first_seen, last_seen) "
                 "SELECT printf('UDID-%03d', i), printf('SN%03d', i), "
                 "'iPhone15,2', '17.1', 'bob', 2, 1, 1000 + i FROM n");

    rc = rc || sql("INSERT INTO ota_device (udid, serial, product, version, "
                   "username, phase, first_seen, last_seen, cert_serial) "
                   "VALUES ('HOSTILE', NULL, '<script>x</script>', '1', "
                   "'Eve_100%', 4, 1, 5000, 'ABCD01'), "
                   "('EXTERNAL', 'SNX', 'iPad7,1', '9', 'carol', 4, 1, 4000, "
                   "'EEEE02'), "
                   "('REVOKED', 'SNR', 'Mac', '14', 'dave', 3, 1, 3000, "
                   "'ABCD03'), "
                   "('EVE100X', 'SNE', 'Mac', '14', 'evex1', 3, 1, 2000, "
                   "NULL)");
    rc = rc || sql("INSERT INTO ota_certificate (serial, transaction_id, "
                   "udid, subject, issued, not_after, revoked, cert) VALUES "
                   "('ABCD01', 't1', 'HOSTILE', 'CN=x', 1, 1800000000, "
                   "NULL, 'PEM'), "
                   "('ABCD03', 't3', 'REVOKED', 'CN=y', 1, 1800000000, "
                   "1700000000, 'PEM')");
    return rc;
}

static ota_device_summary *last;    /* of the page read last */
static int more;                    /* devices follow it */

/* A page of at most limit devices after the cursor (NULL: the first). */
static ota_device_summary *page(int *n, const char *q, int phase, int limit,
                                const ota_device_cursor *after)
{
    apr_array_header_t *out = NULL;
    const char *why = NULL;

    if (ota_store_device_page(&out, &more, &db, q, phase, after, limit,
                              &why, pool) != APR_SUCCESS) {
        printf("# %s\n", why ? why : "?");
        *n = -1;
        return NULL;
    }
    *n = out->nelts;
    last = out->nelts ? &APR_ARRAY_IDX(out, out->nelts - 1,
                                       ota_device_summary) : NULL;
    return (ota_device_summary *)out->elts;
}

/* Keyset pages of a search, 4 at a time: every match once, none
 * skipped, in the order the devices were recorded, last first. */
static void test_store_search_pages(void)
{
    ota_device_cursor c;
    ota_device_summary *d;
    apr_array_header_t *out;
    const char *seen = "", *why = NULL;
    int n, pages = 0, total = 0;

    d = page(&n, "udid-0", 0, 4, NULL);
    while (n > 0 && pages < 20) {
        pages++;
        total += n;
        seen = apr_pstrcat(pool, seen, d[0].udid, " ", NULL);
        if (!more) {
            break;
        }
        ota_store_cursor_after(&c, last, 1);
        d = page(&n, "udid-0", 0, 4, &c);
    }
    is_int(total, 60, "a search paged by its cursor: all 60 matches");
    is_int(pages, 15, "in 15 pages of 4");
    ok(!strncmp(seen, "UDID-060 UDID-056 ", 18),
       "recorded last first (UDID-060, then UDID-056)");
    ok(ota_store_device_page(&out, &more, &db, "ab", 0, NULL, 4, &why, pool)
       == APR_EINVAL, "a search of 2 characters is refused");
}

static void test_store_page(void)
{
    /* The first page's size with a search Q and a PHASE (0: any). */
    static const struct {
        const char *q;
        int phase, n;
        const char *name;
    } searches[] = {
        { "udid-04", 0, 10, "q on the UDID, case-insensitive" },
        { "sn00", 0, 9, "q on the serial" },
        { "IPAD", 0, 1, "q on the product" },
        { "carol", 0, 1, "q on the user" },
        { "ABCD", 0, 2, "q on the certificate serial" },
        { "100%", 0, 1, "'%' is a plain character" },
        { "e_1", 0, 1, "'_' is a plain character" },
        { "'; DROP TABLE ota_device; --", 0, 0, "q is a parameter, not SQL" },
        { "\"x\" OR y", 0, 0, "q is a phrase, not an FTS5 query" },
        { "", 4, 2, "phase filter" },
        { "mac", 3, 2, "both filters" }
    };
    ota_device_cursor c;
    ota_device_summary *d;
    apr_size_t i;
    int n;

    d = page(&n, "", 0, 50, NULL);
    is_int(n, 50, "first page: 50 devices");
    ok(more, "more devices follow");
    ok(n == 50 && !strcmp(d[0].udid, "HOSTILE")
       && !strcmp(d[4].udid, "UDID-060"), "last seen first");
    ok(n == 50 && !strcmp(d[0].product, "<script>x</script>")
       && !strcmp(d[0].user, "Eve_100%") && d[0].phase == 4
       && !d[0].serial, "columns as stored, NULL serial");
    ok(n == 50 && d[0].cert_not_after == apr_time_from_sec(1800000000)
       && !d[0].cert_revoked, "certificate expiry from the registry");
    ok(n == 50 && !strcmp(d[1].cert_serial, "EEEE02")
       && !d[1].cert_not_after, "external CA: serial, no expiry");
    ok(n == 50 && d[2].cert_revoked == apr_time_from_sec(1700000000),
       "revoked");
    ok(n == 50 && d[3].cert_serial == NULL && d[4].last_seen
       == apr_time_from_sec(1060), "no certificate; last seen");
    ota_store_cursor_after(&c, last, 0);
    ok(c.n == 1015 && !strcmp(c.udid, "UDID-015"),
       "the cursor: the last device's (last seen, UDID)");
    d = page(&n, "", 0, 50, &c);
    is_int(n, 14, "second page: the rest");
    ok(n == 14 && !strcmp(d[13].udid, "UDID-001"), "down to the oldest");
    ok(!more, "nothing follows the last page");
    c.n = 1030;
    c.udid = "";
    d = page(&n, "", 0, 50, &c);
    ok(n == 29 && !strcmp(d[0].udid, "UDID-029"),
       "a cursor is a key, not a position: after last seen 1030");
    for (i = 0; i < sizeof(searches) / sizeof(searches[0]); i++) {
        page(&n, searches[i].q, searches[i].phase, 50, NULL);
        is_int(n, searches[i].n, searches[i].name);
    }
    test_store_search_pages();
}

static void test_store_phases(void)
{
    int counts[OTA_STATUS_MAX_PHASE + 1], capped = -1;
    ota_store_tally t;
    const char *why = NULL;

    is_int(ota_store_device_phases(counts, OTA_STATUS_MAX_PHASE, &capped,
                                   &db, "", &why, pool), APR_SUCCESS,
           "phase counts");
    ok(counts[2] == 60 && counts[3] == 2 && counts[4] == 2 && !counts[0]
       && !counts[1] && !capped, "by phase (the tallies)");
    ota_store_device_phases(counts, OTA_STATUS_MAX_PHASE, &capped, &db,
                            "mac", &why, pool);
    ok(counts[2] == 0 && counts[3] == 2 && counts[4] == 0 && !capped,
       "matching q only");
    sql("UPDATE ota_device SET phase = 9 WHERE udid = 'UDID-001'");
    ota_store_device_phases(counts, OTA_STATUS_MAX_PHASE, &capped, &db, "",
                            &why, pool);
    is_int(counts[2], 59, "a phase past the array is not counted");
    ota_store_tally_get(&t, &db, &why, pool);
    ok(t.devices == 64 && t.certificates == 2 && t.challenges == 0,
       "rows per table");
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 1001) INSERT INTO ota_device (udid, serial, product, "
        "version, username, phase, first_seen, last_seen) SELECT "
        "printf('MANY-%04d', i), NULL, 'Watch', '1', NULL, 3, 1, 1 FROM n");
    ota_store_device_phases(counts, OTA_STATUS_MAX_PHASE, &capped, &db,
                            "watch", &why, pool);
    ok(capped && counts[3] == OTA_STORE_COUNT_CAP + 1,
       "a search counts up to its cap, and says so");
    sql("DELETE FROM ota_device WHERE udid LIKE 'MANY-%'");
    ota_store_tally_get(&t, &db, &why, pool);
    ok(t.devices == 64 && t.phase[3] == 2, "deletes are tallied");
}

static void test_store(void)
{
    char path[] = "/tmp/unit_status.XXXXXX";
    const char *why = NULL;
    int fd;

    if ((fd = mkstemp(path)) >= 0) {
        close(fd);
    }
    if (!ok(apr_dbd_get_driver(pool, "sqlite3", &drv) == APR_SUCCESS
            && apr_dbd_open(drv, pool, path, &db.handle) == APR_SUCCESS,
            "sqlite3 scratch database")) {
        unlink(path);
        return;
    }
    db.driver = drv;
    ok(ota_store_connection_init(&db, &why, pool) == APR_SUCCESS,
       "schema and statements");
    if (ok(fill() == 0, "64 devices inserted")) {
        test_store_page();
        test_store_phases();
    }
    apr_dbd_close(drv, db.handle);
    unlink(path);
}

int main(int argc, char **argv)
{
    unit_setup(argc, argv, 0);
    apr_dbd_init(pool);
    test_escaping();
    test_query();
    test_log_ids();
    test_html();
    test_json();
    test_store();
    return unit_done();
}
