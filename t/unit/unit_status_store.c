/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_status_store: the status page's banner and JSON members for a
 * working and a failing store, the reason escaped for where it goes. */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "ota_status.h"
#include "unit.h"

static void test_working(void)
{
    ota_status_page pg;

    memset(&pg, 0, sizeof(pg));
    is_str(ota_status_html_store(&pg, pool), "", "working: no banner");
    is_str(ota_status_json_store(&pg, pool),
           "\"store\":\"ok\",\"store_failure\":null",
           "working: \"store\": \"ok\"");
}

static void test_failing(void)
{
    ota_status_page pg;

    memset(&pg, 0, sizeof(pg));
    pg.store_failure_id = "OTA00007";
    pg.store_failure = "the database /srv/<x>&\"y\".db is read-only";
    is_str(ota_status_html_store(&pg, pool),
           "<p id=\"store\" class=\"bad\" data-id=\"OTA00007\"><strong>The "
           "registry&rsquo;s database is failing</strong> (OTA00007 in the "
           "error log): the database /srv/&lt;x&gt;&amp;&quot;y&quot;.db is "
           "read-only. Nothing is enrolled, issued or revoked until it is "
           "fixed.</p>\n", "failing: the banner, the reason escaped");
    is_str(ota_status_json_store(&pg, pool),
           "\"store\":\"failing\",\"store_failure\":{\"id\":\"OTA00007\","
           "\"reason\":\"the database /srv/\\u003cx\\u003e\\u0026\\\"y\\\""
           ".db is read-only\"}", "failing: JSON, the reason escaped");
    pg.store_failure = NULL;
    ok(strstr(ota_status_json_store(&pg, pool), "\"reason\":null") != NULL,
       "failing without a reason: null");
    is_int(strncmp(ota_status_html_store(&pg, pool), "<p id=\"store\"", 13),
           0, "failing without a reason: still a banner");
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        test_working, test_failing, NULL
    };

    return unit_main(argc, argv, 0, tests);
}
