/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The status page's word on the store: whether the registry's database
 * works, and when it does not, the log id and the reason, for the HTML
 * page and the JSON object (ota_status.h). */
#include <apr_strings.h>

#include "ota_status.h"

const char *ota_status_html_store(const ota_status_page *pg, apr_pool_t *p)
{
    if (!pg->store_failure_id) {
        return "";
    }
    return apr_pstrcat(p, "<p id=\"store\" class=\"bad\" data-id=\"",
                       ota_status_html_escape(pg->store_failure_id, p),
                       "\"><strong>The registry&rsquo;s database is "
                       "failing</strong> (",
                       ota_status_html_escape(pg->store_failure_id, p),
                       " in the error log): ",
                       ota_status_html_escape(pg->store_failure, p),
                       ". Nothing is enrolled, issued or revoked until it "
                       "is fixed.</p>\n", NULL);
}

const char *ota_status_json_store(const ota_status_page *pg, apr_pool_t *p)
{
    if (!pg->store_failure_id) {
        return "\"store\":\"ok\",\"store_failure\":null";
    }
    return apr_pstrcat(p, "\"store\":\"failing\",\"store_failure\":{\"id\":",
                       ota_status_json_string(pg->store_failure_id, p),
                       ",\"reason\":",
                       ota_status_json_string(pg->store_failure, p), "}",
                       NULL);
}
