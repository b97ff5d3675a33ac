/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The device attributes of phases 2 and 3 as raw XML, past the signature
 * that keeps fuzz_phase2 from reaching them: ota_device_attributes_parse,
 * and the bounded parser under it (ota_plist_parse with the device
 * limits, its pre-scan first) followed by ota_plist_to_xml. */
#include <string.h>

#include "ota_plist.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ota_device_attributes *a = NULL;
    plist_t node = NULL;
    const char *why = NULL, *xml = NULL, *text;
    apr_size_t len = 0;
    apr_pool_t *p;

    p = fuzz_input_pool();
    /* as the handler passes it: a NUL-terminated copy and its length */
    text = fuzz_text(data, size, p);
    if (ota_device_attributes_parse(&a, text, size, &why, p)
        == APR_SUCCESS) {
        if (!a->udid || strlen(a->udid) < 8 || !a->all) {
            abort();                    /* accepted without a UDID */
        }
    }
    else if (!why) {
        abort();
    }
    why = NULL;
    if (ota_plist_parse(&node, text, size, &ota_plist_device_limits, &why,
                        p) == APR_SUCCESS) {
        if (!node || ota_plist_to_xml(&xml, &len, node, p) != APR_SUCCESS) {
            abort();
        }
    }
    else if (!why) {
        abort();
    }
    apr_pool_destroy(p);
    return 0;
}
