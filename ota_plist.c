/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Bounded XML property lists over libplist.
 *
 * libplist 2.2 (Debian 12) parses XML recursively with no depth limit and
 * keeps only the last of duplicate dict keys, so a short scan of the raw
 * XML comes first: it counts nesting, refuses DTD internal subsets, entity
 * declarations and CDATA, and sees duplicate keys before libplist merges
 * them. It is a tokenizer for those checks only; libplist does the
 * parsing. */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "ota_plist.h"
#include "ota_challenge.h"

const ota_plist_limits ota_plist_device_limits = {
    16384,   /* max_size: real phase-2 plists are under 1 KiB */
    4,       /* max_depth: the attributes are one flat dict */
    32,      /* max_keys */
    256      /* max_string */
};

#define MAX_SCAN_DEPTH 64

typedef struct xml_scan {
    const char *at;
    const char *end;
    int depth;
    apr_hash_t *keys[MAX_SCAN_DEPTH + 1];   /* per open dict, NULL for array */
    const ota_plist_limits *limits;
    apr_pool_t *p;
} xml_scan;

static apr_status_t scan_fail(const char **why, const char *reason)
{
    *why = reason;
    return APR_EINVAL;
}

static int starts(const xml_scan *s, const char *tag)
{
    apr_size_t n = strlen(tag);
    return (apr_size_t)(s->end - s->at) >= n && memcmp(s->at, tag, n) == 0;
}

/* Moves past the next occurrence of marker; 0 if there is none. */
static int skip_past(xml_scan *s, const char *marker)
{
    apr_size_t n = strlen(marker);
    const char *m = s->at;

    while ((apr_size_t)(s->end - m) >= n) {
        if (memcmp(m, marker, n) == 0) {
            s->at = m + n;
            return 1;
        }
        m++;
    }
    return 0;
}

static apr_status_t scan_declaration(xml_scan *s, const char **why)
{
    const char *close;

    if (starts(s, "<!--")) {
        return skip_past(s, "-->") ? APR_SUCCESS
                                   : scan_fail(why, "unterminated comment");
    }
    if (!starts(s, "<!DOCTYPE")) {
        return scan_fail(why, "entity declarations and CDATA are refused");
    }
    close = memchr(s->at, '>', s->end - s->at);
    if (!close) {
        return scan_fail(why, "unterminated DOCTYPE");
    }
    if (memchr(s->at, '[', close - s->at)) {
        return scan_fail(why, "DOCTYPE internal subsets are refused");
    }
    s->at = close + 1;
    return APR_SUCCESS;
}

static apr_status_t scan_open(xml_scan *s, int is_dict, const char **why)
{
    const char *close = memchr(s->at, '>', s->end - s->at);

    if (!close) {
        return scan_fail(why, "unterminated tag");
    }
    s->at = close + 1;
    if (close[-1] == '/') {
        return APR_SUCCESS;            /* <dict/>: empty, no nesting */
    }
    if (++s->depth > s->limits->max_depth || s->depth > MAX_SCAN_DEPTH) {
        return scan_fail(why, "property list nested too deeply");
    }
    s->keys[s->depth] = is_dict ? apr_hash_make(s->p) : NULL;
    return APR_SUCCESS;
}

static apr_status_t scan_key(xml_scan *s, const char **why)
{
    const char *start = s->at + strlen("<key>");
    const char *stop;
    apr_hash_t *seen;

    s->at = start;
    if (!skip_past(s, "</key>")) {
        return scan_fail(why, "unterminated key");
    }
    stop = s->at - strlen("</key>");
    if (memchr(start, '&', stop - start) || memchr(start, '<', stop - start)) {
        return scan_fail(why, "markup or references in a key are refused");
    }
    seen = s->depth > 0 ? s->keys[s->depth] : NULL;
    if (seen) {
        if (apr_hash_get(seen, start, stop - start)) {
            return scan_fail(why, "duplicate key in a dict");
        }
        apr_hash_set(seen, start, stop - start, "");
    }
    return APR_SUCCESS;
}

static apr_status_t scan_tag(xml_scan *s, const char **why)
{
    if (starts(s, "<?")) {
        return skip_past(s, "?>") ? APR_SUCCESS
                                  : scan_fail(why, "unterminated declaration");
    }
    if (starts(s, "<!")) {
        return scan_declaration(s, why);
    }
    if (starts(s, "<dict")) {
        return scan_open(s, 1, why);
    }
    if (starts(s, "<array")) {
        return scan_open(s, 0, why);
    }
    if (starts(s, "</dict>") || starts(s, "</array>")) {
        if (--s->depth < 0) {
            return scan_fail(why, "unbalanced closing tag");
        }
    }
    else if (starts(s, "<key>")) {
        return scan_key(s, why);
    }
    else if (starts(s, "<key")) {
        /* <key > or <key attr=...> would hide a duplicate from scan_key */
        return scan_fail(why, "unexpected markup in a key tag");
    }
    s->at++;
    return APR_SUCCESS;
}

static apr_status_t xml_precheck(const char *xml, apr_size_t len,
                                 const ota_plist_limits *limits,
                                 const char **why, apr_pool_t *p)
{
    xml_scan s;
    apr_status_t rv;

    if (len == 0) {
        return scan_fail(why, "empty property list");
    }
    if (len > limits->max_size) {
        return scan_fail(why, "property list too large");
    }
    if (len >= 6 && memcmp(xml, "bplist", 6) == 0) {
        return scan_fail(why, "binary property lists are refused");
    }
    if (memchr(xml, '\0', len)) {
        return scan_fail(why, "NUL byte in the property list");
    }
    memset(&s, 0, sizeof(s));
    s.at = xml;
    s.end = xml + len;
    s.limits = limits;
    s.p = p;
    while ((s.at = memchr(s.at, '<', s.end - s.at)) != NULL) {
        if ((rv = scan_tag(&s, why)) != APR_SUCCESS) {
            return rv;
        }
    }
    return s.depth == 0 ? APR_SUCCESS
                        : scan_fail(why, "unbalanced dict or array");
}

/* ---- after libplist: sizes of what it built ---- */

/* depth: how many dicts and arrays enclose node, as the pre-scan counts. */
static apr_status_t walk_limits(plist_t node, const ota_plist_limits *limits,
                                int depth, const char **why)
{
    plist_type type = plist_get_node_type(node);
    uint64_t n = 0;
    apr_status_t rv = APR_SUCCESS;

    if ((type == PLIST_DICT || type == PLIST_ARRAY)
        && depth + 1 > limits->max_depth) {
        return scan_fail(why, "property list nested too deeply");
    }
    if (type == PLIST_STRING || type == PLIST_DATA || type == PLIST_KEY) {
        if (type == PLIST_DATA) {
            plist_get_data_ptr(node, &n);
        }
        else {
            plist_get_string_ptr(node, &n);
        }
        return n > limits->max_string ? scan_fail(why, "string too long")
                                      : APR_SUCCESS;
    }
    if (type == PLIST_DICT) {
        plist_dict_iter it = NULL;
        char *key = NULL;
        plist_t value = NULL;

        if (plist_dict_get_size(node) > (uint32_t)limits->max_keys) {
            return scan_fail(why, "too many keys in a dict");
        }
        plist_dict_new_iter(node, &it);
        for (plist_dict_next_item(node, it, &key, &value);
             key && rv == APR_SUCCESS;
             plist_dict_next_item(node, it, &key, &value)) {
            rv = strlen(key) > limits->max_string
                 ? scan_fail(why, "key too long")
                 : walk_limits(value, limits, depth + 1, why);
            free(key);
            key = NULL;
        }
        free(key);
        free(it);
        return rv;
    }
    if (type == PLIST_ARRAY) {
        uint32_t count = plist_array_get_size(node);

        if (count > (uint32_t)limits->max_keys) {
            return scan_fail(why, "too many items in an array");
        }
        for (uint32_t i = 0; i < count && rv == APR_SUCCESS; i++) {
            rv = walk_limits(plist_array_get_item(node, i), limits,
                             depth + 1, why);
        }
    }
    return rv;
}

static apr_status_t free_plist(void *node)
{
    plist_free(node);
    return APR_SUCCESS;
}

plist_t ota_plist_free_with_pool(plist_t node, apr_pool_t *p)
{
    if (node) {
        apr_pool_cleanup_register(p, node, free_plist, apr_pool_cleanup_null);
    }
    return node;
}

apr_status_t ota_plist_parse(plist_t *out, const char *xml, apr_size_t len,
                             const ota_plist_limits *limits,
                             const char **why, apr_pool_t *p)
{
    plist_t node = NULL;
    apr_status_t rv;

    *out = NULL;
    if ((rv = xml_precheck(xml, len, limits, why, p)) != APR_SUCCESS) {
        return rv;
    }
    plist_from_xml(xml, (uint32_t)len, &node);
    if (!node) {
        return scan_fail(why, "not a well-formed XML property list");
    }
    ota_plist_free_with_pool(node, p);
    if ((rv = walk_limits(node, limits, 0, why)) != APR_SUCCESS) {
        return rv;
    }
    *out = node;
    return APR_SUCCESS;
}

apr_status_t ota_plist_to_xml(const char **xml, apr_size_t *len,
                              plist_t node, apr_pool_t *p)
{
    char *buf = NULL;
    uint32_t n = 0;

    plist_to_xml(node, &buf, &n);
    if (!buf) {
        return APR_EGENERAL;
    }
    *xml = apr_pstrmemdup(p, buf, n);
    *len = n;
    plist_to_xml_free(buf);
    return APR_SUCCESS;
}

void ota_plist_dict_set_string(plist_t dict, const char *key,
                               const char *value)
{
    plist_dict_set_item(dict, key, plist_new_string(value));
}

void ota_plist_dict_set_uint(plist_t dict, const char *key, uint64_t value)
{
    plist_dict_set_item(dict, key, plist_new_uint(value));
}

void ota_plist_dict_set_bool(plist_t dict, const char *key, int value)
{
    plist_dict_set_item(dict, key, plist_new_bool(value ? 1 : 0));
}

const char *ota_plist_dict_get_string(plist_t dict, const char *key,
                                      apr_pool_t *p)
{
    plist_t item;
    const char *s;
    uint64_t n = 0;

    if (!dict || plist_get_node_type(dict) != PLIST_DICT
        || !(item = plist_dict_get_item(dict, key))
        || plist_get_node_type(item) != PLIST_STRING
        || !(s = plist_get_string_ptr(item, &n))) {
        return NULL;
    }
    return apr_pstrmemdup(p, s, n);
}

/* ---- device attributes ---- */

static int text_acceptable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int udid_acceptable(const char *s)
{
    apr_size_t n = strlen(s);

    if (n < 8 || n > 64) {
        return 0;
    }
    return strspn(s, "0123456789abcdefABCDEF-") == n;
}

/* Attributes the protocol defines as strings. */
static const char *const string_attributes[] = {
    "UDID", "CHALLENGE", "SERIAL", "PRODUCT", "VERSION", "IMEI", "MEID",
    "ICCID", "MAC_ADDRESS_EN0", "DEVICE_NAME", "UserID", "UserShortName",
    "UserLongName", NULL
};

static int must_be_string(const char *key)
{
    for (const char *const *k = string_attributes; *k; k++) {
        if (strcmp(*k, key) == 0) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t attribute_collect(ota_device_attributes *a,
                                      const char *key, plist_t value,
                                      const char **why, apr_pool_t *p)
{
    plist_type type = plist_get_node_type(value);
    const char *s;
    uint64_t n = 0;

    /* apr_table ignores case: UDID and udid must not both be there. */
    if (apr_table_get(a->all, key)) {
        *why = apr_psprintf(p, "attribute names differ only in case: %.64s",
                            key);
        return APR_EINVAL;
    }
    if (type == PLIST_BOOLEAN && !must_be_string(key)) {
        apr_table_setn(a->all, apr_pstrdup(p, key),
                       plist_bool_val_is_true(value) ? "true" : "false");
        return APR_SUCCESS;
    }
    if (type != PLIST_STRING) {
        *why = apr_psprintf(p, "attribute %.64s has a wrong value type",
                            key);
        return APR_EINVAL;
    }
    s = plist_get_string_ptr(value, &n);
    s = apr_pstrmemdup(p, s, n);
    if (!text_acceptable(s) || !text_acceptable(key)) {
        *why = apr_psprintf(p, "attribute %.64s holds control characters",
                            key);
        return APR_EINVAL;
    }
    apr_table_setn(a->all, apr_pstrdup(p, key), s);
    return APR_SUCCESS;
}

static apr_status_t attributes_check(ota_device_attributes *a,
                                     const char **why)
{
    if (!a->udid) {
        return scan_fail(why, "UDID missing");
    }
    if (!udid_acceptable(a->udid)) {
        return scan_fail(why, "UDID malformed");
    }
    if (a->challenge && strlen(a->challenge) > OTA_CHALLENGE_MAX_LEN) {
        return scan_fail(why, "CHALLENGE too long");
    }
    return APR_SUCCESS;
}

apr_status_t ota_device_attributes_parse(ota_device_attributes **out,
                                         const char *xml, apr_size_t len,
                                         const char **why, apr_pool_t *p)
{
    ota_device_attributes *a = apr_pcalloc(p, sizeof(*a));
    plist_t root;
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t value = NULL;
    apr_status_t rv;

    rv = ota_plist_parse(&root, xml, len, &ota_plist_device_limits, why, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (plist_get_node_type(root) != PLIST_DICT) {
        return scan_fail(why, "device attributes are not a dict");
    }
    a->all = apr_table_make(p, 16);
    plist_dict_new_iter(root, &it);
    for (plist_dict_next_item(root, it, &key, &value);
         key && rv == APR_SUCCESS;
         plist_dict_next_item(root, it, &key, &value)) {
        rv = attribute_collect(a, key, value, why, p);
        free(key);
        key = NULL;
    }
    free(key);
    free(it);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    a->udid = apr_table_get(a->all, "UDID");
    a->serial = apr_table_get(a->all, "SERIAL");
    a->product = apr_table_get(a->all, "PRODUCT");
    a->version = apr_table_get(a->all, "VERSION");
    a->imei = apr_table_get(a->all, "IMEI");
    a->meid = apr_table_get(a->all, "MEID");
    a->device_name = apr_table_get(a->all, "DEVICE_NAME");
    a->challenge = apr_table_get(a->all, "CHALLENGE");
    a->user_short_name = apr_table_get(a->all, "UserShortName");
    if ((rv = attributes_check(a, why)) != APR_SUCCESS) {
        return rv;
    }
    *out = a;
    return APR_SUCCESS;
}
