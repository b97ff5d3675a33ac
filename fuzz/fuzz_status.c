/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The ota-status page, where what devices sent is shown to an admin: the
 * input's first line is the query string (ota_status_query_parse), each
 * further line a device's UDID, serial, product, version and user
 * separated by tabs. Both renderings are built; the escapers must leave
 * no markup in HTML text and no raw control character in JSON. */
#include <string.h>

#include "ota_status.h"
#include "fuzz.h"

static const char *field(char **state)
{
    /* apr_strtok leaves no state once it found nothing */
    const char *f = *state ? apr_strtok(NULL, "\t", state) : NULL;

    return f ? f : "";
}

static void escapes(const char *s, apr_pool_t *p)
{
    const char *html = ota_status_html_escape(s, p);
    const char *json = ota_status_json_string(s, p);
    apr_size_t n;

    if (!html || strpbrk(html, "<>\"'") || !json) {
        abort();
    }
    n = strlen(json);
    if (n < 2 || json[0] != '"' || json[n - 1] != '"') {
        abort();
    }
    for (; *json; json++) {
        if ((unsigned char)*json < 0x20) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ota_status_page pg;
    ota_device_summary *d;
    apr_array_header_t *devices;
    const char *why = NULL, *out = NULL;
    char *text, *line, *lines = NULL, *cols = NULL;
    apr_size_t len = 0;
    apr_pool_t *p;
    int i = 0;

    p = fuzz_input_pool();
    text = fuzz_text(data, size, p);
    memset(&pg, 0, sizeof(pg));
    devices = apr_array_make(p, 4, sizeof(ota_device_summary));
    line = strchr(text, '\n');
    if (line) {
        *line++ = '\0';
    }
    if (ota_status_query_parse(&pg.query, text, &why, p) != APR_SUCCESS) {
        if (!why) {
            abort();
        }
        memset(&pg.query, 0, sizeof(pg.query));   /* the defaults */
        pg.query.after = "";
        pg.query.q = "";
    }
    for (line = line ? apr_strtok(line, "\n", &lines) : NULL; line;
         line = apr_strtok(NULL, "\n", &lines)) {
        escapes(line, p);
        d = apr_array_push(devices);
        memset(d, 0, sizeof(*d));
        cols = NULL;
        d->udid = apr_strtok(line, "\t", &cols);
        if (!d->udid) {
            d->udid = "";
            cols = NULL;
        }
        d->serial = field(&cols);
        d->product = field(&cols);
        d->version = field(&cols);
        d->user = field(&cols);
        d->phase = i % (OTA_STATUS_MAX_PHASE + 1);
        d->cert_serial = i % 2 ? d->serial : NULL;
        d->cert_not_after = i % 3 ? apr_time_from_sec(2000000000) : 0;
        d->last_seen = apr_time_from_sec(1700000000 + i);
        pg.phase_count[d->phase]++;
        i++;
    }
    pg.devices = devices;
    pg.more = i > 1;               /* the next link, its cursor the last's */
    if (pg.more) {
        ota_store_cursor_after(&pg.next, &APR_ARRAY_IDX(devices,
                               devices->nelts - 1, ota_device_summary),
                               *pg.query.q != '\0');
    }
    pg.self = "/ota/status";
    pg.server = "fuzz";
    pg.now = apr_time_from_sec(1800000000);
    if (ota_status_html(&out, &len, &pg, p) != APR_SUCCESS || !out
        || ota_status_json(&out, &len, &pg, p) != APR_SUCCESS || !out) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
