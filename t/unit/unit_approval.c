/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The administrator's side of the registry (ota_store_approval.c) against
 * a scratch sqlite3 file: requests held, decided once, expired; devices
 * released and forgotten; the audit. Then the page's admin part
 * (ota_status_admin.c): buttons, escaping, the CSP's handler hash, and
 * the JSON. */
#include <stdlib.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "ota_challenge.h"
#include "ota_status.h"
#include "ota_store.h"
#include "ota_store_approval.h"
#include "unit.h"

static const apr_dbd_driver_t *drv;
static char dbpath[] = "/tmp/unit_approval.XXXXXX";
static ota_db db;
static apr_time_t t0;

/* First column of the first row of sql, or NULL. */
static const char *select1(const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;

    if (apr_dbd_select(drv, pool, db.handle, &res, sql, 1)) {
        return NULL;
    }
    if (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
        v = apr_dbd_get_entry(drv, row, 0);
        v = v ? apr_pstrdup(pool, v) : NULL;
        while (apr_dbd_get_row(drv, pool, res, &row, -1) == 0) {
            continue;
        }
    }
    return v;
}

static void sql(const char *text)
{
    int nrows;

    if (apr_dbd_query(drv, db.handle, &nrows, text)) {
        printf("# %s: %s\n", text, apr_dbd_error(drv, db.handle, 1));
    }
}

static ota_audit_entry *audit(const char *action, apr_time_t at)
{
    ota_audit_entry *e = apr_pcalloc(pool, sizeof(*e));

    e->at = at;
    e->admin = "alice";
    e->remote = "192.0.2.7";
    e->action = action;
    return e;
}

static ota_issue_verdict hold(const char *tid, const char *udid,
                              const char *challenge, apr_time_t expires)
{
    ota_pending_record rec;
    ota_issue_verdict verdict = OTA_ISSUE_CHALLENGE_GONE;
    const char *why = NULL;

    memset(&rec, 0, sizeof(rec));
    rec.transaction_id = tid;
    rec.udid = udid;
    rec.subject = apr_pstrcat(pool, "CN=", udid, ",O=Example", NULL);
    rec.requester = "ABCD";
    rec.csr = "-----BEGIN CERTIFICATE REQUEST-----\n";
    rec.expires = expires;
    if (ota_store_pending_add(&verdict, &db, challenge, &rec, t0, &why,
                              pool)) {
        printf("# %s\n", why);
        return -1;
    }
    return verdict;
}

static void test_hold(void)
{
    ota_pending_record *rec = NULL;
    apr_array_header_t *open;
    const char *why = NULL, *digest = ota_challenge_digest("scep-1", pool);

    sql(apr_psprintf(pool, "INSERT INTO ota_device (udid, serial, product, "
                     "version, username, phase, first_seen, last_seen) "
                     "VALUES ('U1', 'S1', 'iPhone15,2', '17', 'alice', 2, "
                     "1, 1), ('U2', 'S2', 'iPad7,1', '16', 'bob', 2, 1, 1)"));
    sql(apr_psprintf(pool, "INSERT INTO ota_scep_challenge (digest, udid, "
                     "subject, created, expires, used) VALUES ('%s', 'U1', "
                     "'CN=U1', 1, %" APR_INT64_T_FMT ", NULL)", digest,
                     apr_time_sec(t0) + 600));
    is_int(hold("T1", "U1", "scep-1", t0 + apr_time_from_sec(600)),
           OTA_ISSUE_OK, "a request is held");
    is_str(select1("SELECT used IS NOT NULL FROM ota_scep_challenge"), "1",
           "its SCEP challenge consumed with it");
    is_int(hold("T1b", "U1", "scep-1", t0 + apr_time_from_sec(600)),
           OTA_ISSUE_CHALLENGE_GONE, "the challenge cannot hold another");
    is_int(hold("T1", "U1", NULL, t0 + apr_time_from_sec(600)),
           OTA_ISSUE_REPLAY, "the same transaction again: a replay");
    is_int(hold("T2", "U2", NULL, t0 + apr_time_from_sec(600)),
           OTA_ISSUE_OK, "another device's request");
    is_int(hold("T3", "U2", NULL, t0 - apr_time_from_sec(1)), OTA_ISSUE_OK,
           "one that is already past its expiry");
    is_str(select1("SELECT COUNT(*) FROM ota_pending"), "3", "three held");
    ok(ota_store_pending_get(&rec, &db, "T1", &why, pool) == APR_SUCCESS
       && rec, "read back");
    if (rec) {
        is_str(apr_pstrcat(pool, rec->user, "/", rec->product, "/",
                           rec->subject, "/", rec->requester, NULL),
               "alice/iPhone15,2/CN=U1,O=Example/ABCD",
               "with the device's user and product");
        is_int(ota_pending_state_of(rec, t0), OTA_PENDING_OPEN, "open");
        is_int(ota_pending_state_of(rec, t0 + apr_time_from_sec(601)),
               OTA_PENDING_EXPIRED, "expired later");
    }
    ok(ota_store_pending_get(&rec, &db, "NOPE", &why, pool) == APR_SUCCESS
       && !rec, "an unknown transaction: none");
    ok(ota_store_pending_open(&open, &db, t0, 10, &why, pool) == APR_SUCCESS
       && open->nelts == 2, "two are waiting (the expired one is not)");
}

static void test_decide(void)
{
    ota_pending_record *rec = NULL;
    ota_decide_verdict v = OTA_DECIDE_UNKNOWN;
    apr_time_t decided = 1;
    const char *why = NULL;

    ota_store_pending_decide(&v, &rec, &db, "T1", 1, audit("approve", t0),
                             &why, pool);
    is_int(v, OTA_DECIDE_DONE, "approved");
    ok(rec && rec->decision && !strcmp(rec->decision, "approved")
       && !strcmp(rec->decided_by, "alice"), "by alice");
    ota_store_pending_decide(&v, &rec, &db, "T1", 0, audit("reject", t0),
                             &why, pool);
    is_int(v, OTA_DECIDE_DECIDED, "a decided request cannot be decided "
           "again");
    ok(rec && ota_pending_state_of(rec, t0) == OTA_PENDING_APPROVED,
       "it stays approved");
    ota_store_pending_decide(&v, &rec, &db, "T3", 1, audit("approve", t0),
                             &why, pool);
    is_int(v, OTA_DECIDE_EXPIRED, "an expired one cannot be approved");
    ota_store_pending_decide(&v, &rec, &db, "NOPE", 1, audit("approve", t0),
                             &why, pool);
    is_int(v, OTA_DECIDE_UNKNOWN, "an unknown one: unknown");
    ok(!rec, "and no record");
    is_str(select1("SELECT COUNT(*) FROM ota_audit"), "1",
           "only the decision that changed something is audited");
    sql("INSERT INTO ota_certificate (serial, transaction_id, udid, subject, "
        "issued, not_after, cert) VALUES ('AA01', 'T1', 'U1', 'CN=U1', 1, "
        "2, 'PEM'), ('AA02', 'T9', 'U2', 'CN=U2', 1, 2, 'PEM')");
    ota_store_pending_approved_at(&decided, &db, "AA01", &why, pool);
    is_int(apr_time_sec(decided), apr_time_sec(t0),
           "the approval time of a certificate issued after approval");
    ota_store_pending_approved_at(&decided, &db, "AA02", &why, pool);
    is_int(decided, 0, "none for one issued at once");
}

static void test_devices(void)
{
    const char *why = NULL, *prior = NULL;
    int found = -1;

    sql("INSERT INTO ota_scep_challenge (digest, udid, subject, created, "
        "expires, used) VALUES ('d2', 'U2', 'CN=U2', 1, 99999999999, NULL)");
    ok(ota_store_device_release(&found, &prior, &db, "U2",
                                audit("release", t0), &why, pool)
       == APR_SUCCESS && found, "U2 released");
    is_str(prior, "bob", "from bob");
    is_str(select1("SELECT COALESCE(username, 'none') FROM ota_device "
                   "WHERE udid = 'U2'"), "none", "bound to nobody now");
    is_str(select1("SELECT used IS NOT NULL FROM ota_scep_challenge "
                   "WHERE digest = 'd2'"), "1",
           "its unused SCEP challenge retired");
    ok(ota_store_device_release(&found, &prior, &db, "NOPE",
                                audit("release", t0), &why, pool)
       == APR_SUCCESS && !found, "an unknown device: not found");
    ok(ota_store_device_forget(&found, &db, "U2", audit("forget", t0), &why,
                               pool) == APR_SUCCESS && found, "U2 forgotten");
    is_str(select1("SELECT COUNT(*) FROM ota_device WHERE udid = 'U2'"), "0",
           "its row is gone");
    is_str(select1("SELECT decision || '/' || decided_by FROM ota_pending "
                   "WHERE transaction_id = 'T2'"), "rejected/alice",
           "its waiting request rejected");
    is_str(select1("SELECT COUNT(*) FROM ota_certificate WHERE udid = 'U2'"),
           "1", "its certificates stay for the CRL");
    is_str(select1("SELECT COUNT(*) FROM ota_audit"), "3",
           "release and forget audited; the refusal not");
}

static void test_audit(void)
{
    apr_array_header_t *rows;
    ota_audit_entry *e = audit("revoke", t0 + apr_time_from_sec(5));
    const char *why = NULL;

    e->serial = "AA01";
    e->udid = "U1";
    e->detail = "keyCompromise";
    ok(ota_store_audit_add(&db, e, &why, pool) == APR_SUCCESS,
       "a revocation audited");
    ok(ota_store_audit_recent(&rows, &db, 3, &why, pool) == APR_SUCCESS
       && rows->nelts == 3, "the latest three");
    e = &APR_ARRAY_IDX(rows, 0, ota_audit_entry);
    is_str(apr_pstrcat(pool, e->action, "/", e->admin, "/", e->remote, "/",
                       e->serial, "/", e->udid, "/", e->detail, NULL),
           "revoke/alice/192.0.2.7/AA01/U1/keyCompromise",
           "newest first, every field kept");
    is_int(apr_time_sec(e->at), apr_time_sec(t0) + 5, "with its time");
}

/* ---- the page ---- */

static int has(const char *text, const char *needle, const char *name)
{
    int found = text && strstr(text, needle) != NULL;

    if (!ok(found, name)) {
        printf("#   '%s' not in: %.800s\n", needle, text ? text : "");
    }
    return found;
}

static void test_csp_hash(void)
{
    const char *h = ota_status_confirm_handler();
    unsigned char md[32], b64[64];
    const char *want;

    EVP_Digest(h, strlen(h), md, NULL, EVP_sha256(), NULL);
    EVP_EncodeBlock(b64, md, 32);
    want = apr_pstrcat(pool, "script-src 'unsafe-hashes' 'sha256-",
                       (const char *)b64, "'", NULL);
    has(ota_status_csp(), want, "the CSP carries the handler's hash");
    has(ota_status_csp(), "default-src 'none'", "and allows nothing else");
}

static ota_status_page *page_of(const char *token)
{
    ota_status_page *pg = apr_pcalloc(pool, sizeof(*pg));
    apr_array_header_t *pending = apr_array_make(pool, 1,
                                                 sizeof(ota_pending_record));
    apr_array_header_t *audit_rows = apr_array_make(pool, 1,
                                                    sizeof(ota_audit_entry));
    ota_pending_record *q = apr_array_push(pending);
    ota_audit_entry *e = apr_array_push(audit_rows);

    memset(q, 0, sizeof(*q));
    q->transaction_id = "T\"1";
    q->udid = "U<1>";
    q->subject = "CN=<b>x</b>";
    q->user = "al'ice";
    q->product = "iPhone15,2";
    q->requested = apr_time_from_sec(1800000000);
    q->expires = apr_time_from_sec(1800003600);
    memset(e, 0, sizeof(*e));
    e->at = apr_time_from_sec(1800000060);
    e->admin = "alice";
    e->remote = "192.0.2.7";
    e->action = "approve";
    e->transaction_id = "T\"1";
    pg->pending = pending;
    pg->audit = audit_rows;
    pg->token = token;
    return pg;
}

static void test_page(void)
{
    ota_status_page *pg = page_of("abc123");
    ota_device_summary d;
    const char *html = ota_status_html_pending(pg, pool), *cell, *json;

    has(html, "<td class=\"mono transaction\">T&quot;1</td><td class=\"mono "
        "udid\">U&lt;1&gt;</td><td class=\"subject\">CN=&lt;b&gt;x&lt;/b&gt;"
        "</td><td>al&#39;ice</td>", "pending: escaped cells");
    has(html, "<input type=\"hidden\" name=\"csrf\" value=\"abc123\">",
        "each form carries the token");
    has(html, "data-confirm=\"Approve the certificate request of device "
        "U&lt;1&gt; for al&#39;ice? The CA issues its certificate.\" "
        "onsubmit=\"return confirm(this.dataset.confirm)\"",
        "Approve asks first, its question escaped");
    has(html, "<td>2027-01-15 08:00:00 UTC</td>", "requested time");
    has(ota_status_html_audit(pg, pool), "<td>2027-01-15 08:01:00 UTC</td>"
        "<td>alice</td><td class=\"mono\">192.0.2.7</td><td class=\"action\">"
        "approve</td>", "the audit row");
    memset(&d, 0, sizeof(d));
    d.udid = "U1";
    d.user = "bob";
    d.cert_serial = "AA01";
    d.cert_not_after = apr_time_from_sec(1900000000);
    cell = ota_status_html_device_actions(&d, "abc123", pool);
    has(cell, "name=\"serial\" value=\"AA01\"><button type=\"submit\">Revoke",
        "a device: Revoke its certificate");
    has(cell, ">Release</button>", "Release it");
    has(cell, ">Forget</button>", "Forget it");
    d.cert_revoked = d.cert_not_after;
    d.user = NULL;
    cell = ota_status_html_device_actions(&d, "abc123", pool);
    ok(!strstr(cell, "Revoke") && !strstr(cell, "Release")
       && strstr(cell, "Forget"), "revoked and unbound: Forget only");
    is_str(ota_status_html_device_actions(&d, NULL, pool),
           "<td class=\"actions\"></td>", "without a token: no buttons");
    ok(!strstr(ota_status_html_pending(page_of(NULL), pool), "<form"),
       "nor for pending requests");
    json = ota_status_json_admin(pg, pool);
    has(json, "\"pending\":[\n{\"transaction\":\"T\\\"1\",\"udid\":"
        "\"U\\u003c1\\u003e\"", "JSON: pending, escaped");
    has(json, "\"requested\":\"2027-01-15T08:00:00Z\"", "JSON: times");
    has(json, "\"audit\":[\n{\"at\":\"2027-01-15T08:01:00Z\",\"admin\":"
        "\"alice\",\"remote\":\"192.0.2.7\",\"action\":\"approve\","
        "\"udid\":null", "JSON: the audit");
    pg->pending = NULL;
    pg->audit = NULL;
    is_str(ota_status_json_admin(pg, pool), "\"pending\":null,\n"
           "\"audit\":null", "JSON: null when not read");
}

int main(int argc, char **argv)
{
    const char *why = NULL;
    int fd;

    unit_setup(argc, argv, 0);
    apr_dbd_init(pool);
    t0 = apr_time_from_sec(apr_time_sec(apr_time_now()));
    if ((fd = mkstemp(dbpath)) < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    memset(&db, 0, sizeof(db));
    if (ok(apr_dbd_get_driver(pool, "sqlite3", &drv) == APR_SUCCESS,
           "sqlite3 driver")
        && ok(apr_dbd_open(drv, pool, dbpath, &db.handle) == APR_SUCCESS,
              "database opened")) {
        db.driver = drv;
        if (ok(ota_store_connection_init(&db, &why, pool) == APR_SUCCESS,
               "schema and statements")) {
            test_hold();
            test_decide();
            test_devices();
            test_audit();
        }
        apr_dbd_close(drv, db.handle);
    }
    unlink(dbpath);
    test_csp_hash();
    test_page();
    return unit_done();
}
