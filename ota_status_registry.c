/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The status page at any size: the cursors of its keyset pages (the next
 * link carries the key of the last device shown), and the rows each table
 * of the registry holds, from the tallies (ota_store_list.c). */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>

#include "ota_status.h"

const char *ota_status_cursor_text(const ota_device_cursor *c, int search,
                                   apr_pool_t *p)
{
    if (search) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, c->n);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT ":%s", c->n,
                        c->udid ? c->udid : "");
}

/* "N" or "N:UDID", N 1 to 18 digits; the UDID may be anything a device
 * sent (it is a statement parameter, never SQL). */
apr_status_t ota_status_cursor_parse(ota_device_cursor *c, const char *text,
                                     apr_pool_t *p)
{
    apr_size_t digits = strspn(text, "0123456789");

    if (digits == 0 || digits > 18
        || (text[digits] != '\0' && text[digits] != ':')) {
        return APR_EINVAL;
    }
    c->n = apr_atoi64(text);
    c->udid = text[digits] == ':' ? text + digits + 1 : "";
    if (p) {
        c->udid = apr_pstrdup(p, c->udid);
    }
    return APR_SUCCESS;
}

static const struct {
    const char *table;
    apr_size_t offset;
} tables[] = {
    { "ota_challenge", offsetof(ota_store_tally, challenges) },
    { "ota_scep_challenge", offsetof(ota_store_tally, scep_challenges) },
    { "ota_device", offsetof(ota_store_tally, devices) },
    { "ota_certificate", offsetof(ota_store_tally, certificates) },
    { "ota_pending", offsetof(ota_store_tally, pending) },
    { "ota_audit", offsetof(ota_store_tally, audit) },
    { NULL, 0 }
};

static apr_int64_t rows_of(const ota_store_tally *t, int i)
{
    return *(const apr_int64_t *)((const char *)t + tables[i].offset);
}

const char *ota_status_html_tables(const ota_status_page *pg, apr_pool_t *p)
{
    const char *out;
    int i;

    if (!pg->tally) {
        return "";
    }
    out = "<h2>Registry</h2>\n<table id=\"tables\"><thead><tr><th>table"
          "</th><th>rows</th></tr></thead><tbody>\n";
    for (i = 0; tables[i].table; i++) {
        out = apr_psprintf(p, "%s<tr data-table=\"%s\"><td class=\"mono\">"
                           "%s</td><td class=\"num\">%" APR_INT64_T_FMT
                           "</td></tr>\n", out, tables[i].table,
                           tables[i].table, rows_of(pg->tally, i));
    }
    return apr_pstrcat(p, out, "</tbody></table>\n<p class=\"muted\">Used "
                       "and expired challenges are deleted after "
                       "OTAEnrollRetention; devices and certificates are "
                       "kept.</p>\n", NULL);
}

const char *ota_status_json_tables(const ota_status_page *pg, apr_pool_t *p)
{
    const char *out = "\"tables\":{";
    int i;

    if (!pg->tally) {
        return "\"tables\":null";
    }
    for (i = 0; tables[i].table; i++) {
        out = apr_psprintf(p, "%s%s\"%s\":%" APR_INT64_T_FMT, out,
                           i ? "," : "", tables[i].table,
                           rows_of(pg->tally, i));
    }
    return apr_pstrcat(p, out, "}", NULL);
}
