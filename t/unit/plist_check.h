/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Typed look-ups in property lists, for the unit tests; included after
 * unit.h (its pool). Static inline: a test pays for no look-up it does
 * not use. */
#ifndef OTA_PLIST_CHECK_H
#define OTA_PLIST_CHECK_H

#include <apr_strings.h>
#include <plist/plist.h>

#include "ota_plist.h"

static inline plist_t item(plist_t dict, const char *key, plist_type type)
{
    plist_t v;

    if (!dict || plist_get_node_type(dict) != PLIST_DICT
        || !(v = plist_dict_get_item(dict, key))
        || plist_get_node_type(v) != type) {
        return NULL;
    }
    return v;
}

static inline long long uint_of(plist_t dict, const char *key)
{
    plist_t v = item(dict, key, PLIST_UINT);
    uint64_t n = 0;

    if (!v) {
        return -1;
    }
    plist_get_uint_val(v, &n);
    return (long long)n;
}

static inline const char *string_at(plist_t array, uint32_t i)
{
    plist_t v;
    uint64_t n = 0;
    const char *s;

    if (!array || plist_get_node_type(array) != PLIST_ARRAY
        || i >= plist_array_get_size(array)
        || !(v = plist_array_get_item(array, i))
        || plist_get_node_type(v) != PLIST_STRING
        || !(s = plist_get_string_ptr(v, &n))) {
        return NULL;
    }
    return apr_pstrmemdup(pool, s, n);
}

/* A string a dict must hold: its key, its value, what that shows. */
typedef struct {
    const char *key, *want, *name;
} dict_string;

/* Each of the N strings WANT in DICT (NULL: none): an assertion each. */
static inline void dict_strings(plist_t dict, const dict_string *want,
                                apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        is_str(dict ? ota_plist_dict_get_string(dict, want[i].key, pool)
                    : NULL, want[i].want, want[i].name);
    }
}

#endif
