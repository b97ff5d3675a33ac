/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* %{FIELD} templates (OTAEnrollSCEPSubject, the final profile's
 * strings): the input's first line is a template, each further line a
 * field as NAME=VALUE. Runs ota_template_check, ota_template_fill,
 * ota_subject_parse and ota_subject_canonical. Checks: a template without
 * %{ comes back as it is; a filled one is no longer than the template
 * plus its longest value for each %{. (A filled template may hold a %{ it
 * did not have: "%%{A}{B}" with A empty; nothing fills twice.) */
#include <string.h>

#include "scep_payload.h"
#include "fuzz.h"

static apr_size_t count_refs(const char *tmpl)
{
    apr_size_t n = 0;

    while ((tmpl = strstr(tmpl, "%{")) != NULL) {
        n++;
        tmpl += 2;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_table_t *fields;
    apr_array_header_t *rdns = NULL;
    const char *why = NULL, *filled, *canonical;
    char *text, *line, *state = NULL, *eq, *tmpl;
    apr_size_t longest = 0;
    apr_status_t checked;
    apr_pool_t *p;

    p = fuzz_input_pool();
    text = fuzz_text(data, size, p);
    tmpl = text;
    line = strchr(text, '\n');
    fields = apr_table_make(p, 8);
    if (line) {
        *line++ = '\0';
        for (line = apr_strtok(line, "\n", &state); line;
             line = apr_strtok(NULL, "\n", &state)) {
            if ((eq = strchr(line, '=')) != NULL) {
                *eq = '\0';
                apr_table_set(fields, line, eq + 1);
                if (strlen(eq + 1) > longest) {
                    longest = strlen(eq + 1);
                }
            }
        }
    }
    checked = ota_template_check(tmpl, &why, p);
    if (checked != APR_SUCCESS && !why) {
        abort();
    }
    filled = ota_template_fill(tmpl, fields, p);
    if (!filled || (!strstr(tmpl, "%{") && strcmp(filled, tmpl))
        || strlen(filled) > strlen(tmpl) + count_refs(tmpl) * longest) {
        abort();
    }
    why = NULL;
    if (ota_subject_parse(&rdns, tmpl, &why, p) == APR_SUCCESS) {
        if (!rdns || rdns->nelts < 1) {
            abort();
        }
        canonical = ota_subject_canonical(rdns, fields, p);
        if (!canonical || !*canonical) {
            abort();
        }
    }
    else if (!why) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
