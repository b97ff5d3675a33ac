/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_profile (the phase-1 Profile Service payload, Configuration
 * profiles, UUIDs) and ota_challenge (challenges and their digests).
 * Usage: unit_profile T_DIR (the t/ directory). */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_base64.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ota_challenge.h"
#include "ota_plist.h"
#include "ota_profile.h"
#include "unit.h"
#include "plist_check.h"

static const ota_plist_limits loose = { 1024 * 1024, 16, 256, 4096 };

static const ota_profile_meta meta = {
    "com.example.ota", "Example Inc.", "Example enrollment",
    "Enrolls this device"
};

/* ---- helpers ---- */

static int uuid_shaped(const char *u)
{
    int i;

    if (!u || strlen(u) != 36) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-') {
                return 0;
            }
        }
        else if (!apr_isxdigit(u[i]) || apr_islower(u[i])) {
            return 0;
        }
    }
    return 1;
}

/* Serialized and parsed back (what a device would read), or NULL. */
static plist_t round_trip(plist_t node)
{
    const char *xml = NULL, *why = NULL;
    apr_size_t len = 0;
    plist_t back = NULL;

    if (!node || ota_plist_to_xml(&xml, &len, node, pool) != APR_SUCCESS
        || ota_plist_parse(&back, xml, len, &loose, &why, pool)
           != APR_SUCCESS) {
        printf("# round trip failed: %s\n", why ? why : "?");
        return NULL;
    }
    return back;
}


static const char *get(plist_t dict, const char *key)
{
    return ota_plist_dict_get_string(dict, key, pool);
}

/* ---- ota_profile ---- */

static void test_uuid(void)
{
    const char *a = ota_uuid_new(pool), *b = ota_uuid_new(pool);

    ok(uuid_shaped(a), "ota_uuid_new: 36 characters, 8-4-4-4-12 hex digits,"
       " upper case");
    printf("#   %s\n", a ? a : "(null)");
    ok(uuid_shaped(b), "a second UUID is well-formed too");
    ok(a && b && strcmp(a, b) != 0, "two UUIDs differ");
}

static void test_attribute_known(void)
{
    static const char *const known[] = {
        "UDID", "VERSION", "PRODUCT", "SERIAL", "MEID", "IMEI", "ICCID",
        "MAC_ADDRESS_EN0", "DEVICE_NAME", NULL
    };
    static const char *const unknown[] = {
        "udid", "", "UDIDX", "UDI", "CHALLENGE", "Serial", " UDID", NULL
    };
    const char *const *a;

    for (a = known; *a; a++) {
        ok(ota_profile_attribute_known(*a),
           apr_pstrcat(pool, "attribute ", *a, " known", NULL));
    }
    for (a = unknown; *a; a++) {
        ok(!ota_profile_attribute_known(*a),
           apr_pstrcat(pool, "attribute '", *a, "' not known", NULL));
    }
}

/* The names of meta's profiles. */
static const dict_string named[] = {
    { "PayloadDisplayName", "Example enrollment", "PayloadDisplayName" },
    { "PayloadOrganization", "Example Inc.", "PayloadOrganization" },
    { "PayloadDescription", "Enrolls this device", "PayloadDescription" }
};

static void test_service(void)
{
    static const dict_string service[] = {
        { "URL", "https://mdm.example.com/ota/enroll", "PayloadContent URL" },
        { "Challenge", "c-h-a-l", "PayloadContent Challenge" }
    };
    apr_array_header_t *attrs = apr_array_make(pool, 4, sizeof(char *));
    ota_profile_meta nodesc = meta;
    plist_t root = NULL, back, content, list;
    const char *id, *uuid1;

    APR_ARRAY_PUSH(attrs, const char *) = "UDID";
    APR_ARRAY_PUSH(attrs, const char *) = "VERSION";
    APR_ARRAY_PUSH(attrs, const char *) = "PRODUCT";
    APR_ARRAY_PUSH(attrs, const char *) = "SERIAL";

    is_int(ota_profile_service_build(&root, &meta,
                                     "https://mdm.example.com/ota/enroll",
                                     attrs, "c-h-a-l", pool),
           APR_SUCCESS, "Profile Service built");
    back = round_trip(root);
    ok(back && plist_get_node_type(back) == PLIST_DICT,
       "serialized and parsed back as a dict");
    is_str(get(back, "PayloadType"), "Profile Service", "PayloadType");
    is_int(uint_of(back, "PayloadVersion"), 1, "PayloadVersion is the "
           "integer 1");
    id = get(back, "PayloadIdentifier");
    ok(id && strncmp(id, "com.example.ota.", 16) == 0 && strlen(id) > 16,
       "PayloadIdentifier is the prefix plus a suffix");
    printf("#   %s\n", id ? id : "(null)");
    uuid1 = get(back, "PayloadUUID");
    ok(uuid_shaped(uuid1), "PayloadUUID is an upper-case UUID");
    dict_strings(back, named, sizeof(named) / sizeof(named[0]));
    content = item(back, "PayloadContent", PLIST_DICT);
    ok(content != NULL, "PayloadContent is a dict");
    dict_strings(content, service, sizeof(service) / sizeof(service[0]));
    list = item(content, "DeviceAttributes", PLIST_ARRAY);
    ok(list != NULL, "DeviceAttributes is an array");
    is_int(list ? plist_array_get_size(list) : 0, 4,
           "DeviceAttributes has the 4 attributes asked for");
    is_str(string_at(list, 0), "UDID", "DeviceAttributes[0]");
    is_str(string_at(list, 3), "SERIAL", "DeviceAttributes[3]");
    is_int(content ? plist_dict_get_size(content) : 0, 3,
           "PayloadContent holds URL, DeviceAttributes, Challenge only");

    root = NULL;
    nodesc.description = NULL;
    ota_profile_service_build(&root, &nodesc, "https://x/", attrs, "c",
                              pool);
    back = round_trip(root);
    ok(back && !plist_dict_get_item(back, "PayloadDescription"),
       "description NULL: no PayloadDescription");
    ok(uuid1 && get(back, "PayloadUUID")
       && strcmp(uuid1, get(back, "PayloadUUID")) != 0,
       "each Profile Service gets its own PayloadUUID");
    is_str(get(back, "PayloadIdentifier"), id,
           "the same PayloadIdentifier every time");
}

static void test_configuration(void)
{
    plist_t payloads = plist_new_array();
    plist_t inner = plist_new_dict();
    plist_t root = NULL, back, content, first;

    ota_plist_dict_set_string(inner, "PayloadType", "com.apple.security.scep");
    ota_plist_dict_set_uint(inner, "PayloadVersion", 1);
    ota_plist_dict_set_bool(inner, "IsTest", 1);
    plist_array_append_item(payloads, inner);

    is_int(ota_profile_configuration_build(&root, &meta, "enrollment",
                                           payloads, pool),
           APR_SUCCESS, "Configuration built");
    back = round_trip(root);
    is_str(get(back, "PayloadType"), "Configuration", "PayloadType");
    is_str(get(back, "PayloadIdentifier"), "com.example.ota.enrollment",
           "PayloadIdentifier is prefix.suffix");
    ok(uuid_shaped(get(back, "PayloadUUID")), "PayloadUUID");
    is_int(uint_of(back, "PayloadVersion"), 1, "PayloadVersion 1");
    dict_strings(back, named, 2);   /* display name and organization */
    content = item(back, "PayloadContent", PLIST_ARRAY);
    ok(content && plist_array_get_size(content) == 1,
       "PayloadContent is the array of one payload");
    first = content ? plist_array_get_item(content, 0) : NULL;
    is_str(get(first, "PayloadType"), "com.apple.security.scep",
           "the payload inside is the one given");
    ok(item(first, "IsTest", PLIST_BOOLEAN) != NULL,
       "dict_set_bool wrote a boolean");

    root = NULL;
    ota_profile_configuration_build(&root, &meta, "final",
                                    plist_new_array(), pool);
    is_str(get(root, "PayloadIdentifier"), "com.example.ota.final",
           "suffix final");
}

/* ---- ota_challenge ---- */

static int base64url_only(const char *s)
{
    for (; *s; s++) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_') {
            return 0;
        }
    }
    return 1;
}

/* Bytes of randomness a challenge decodes to, or -1. */
static int decoded_bytes(const char *c)
{
    char *b64 = apr_pstrcat(pool, c, "===", NULL);
    char *x;
    unsigned char *raw;
    apr_size_t n = strlen(c);

    b64[n + (4 - n % 4) % 4] = '\0';
    for (x = b64; *x; x++) {
        if (*x == '-') {
            *x = '+';
        }
        else if (*x == '_') {
            *x = '/';
        }
    }
    raw = apr_palloc(pool, apr_base64_decode_len(b64));
    return apr_base64_decode_binary(raw, b64);
}

static const char *sha256sum(const char *s)
{
    char line[256];
    const char *cmd;
    FILE *f;
    char *sp;

    cmd = apr_psprintf(pool, "printf %%s '%s' | sha256sum", s);
    if (!(f = popen(cmd, "r"))) {
        return NULL;
    }
    if (!fgets(line, sizeof(line), f)) {
        pclose(f);
        return NULL;
    }
    pclose(f);
    if ((sp = strchr(line, ' ')) != NULL) {
        *sp = '\0';
    }
    return apr_pstrdup(pool, line);
}

static int lower_hex64(const char *s)
{
    int i;

    if (!s || strlen(s) != 64) {
        return 0;
    }
    for (i = 0; i < 64; i++) {
        if (!apr_isdigit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) {
            return 0;
        }
    }
    return 1;
}

static void test_challenge(void)
{
    const char *a = NULL, *b = NULL, *c, *d;
    apr_hash_t *seen = apr_hash_make(pool);
    int i, bad = 0, dups = 0, dash = 0, underscore = 0;

    is_int(ota_challenge_new(&a, pool), APR_SUCCESS, "ota_challenge_new");
    is_int(ota_challenge_new(&b, pool), APR_SUCCESS, "a second challenge");
    printf("#   %s\n", a ? a : "(null)");
    is_int(a ? strlen(a) : 0, 43, "43 base64url characters");
    ok(a && base64url_only(a), "only [A-Za-z0-9_-]");
    ok(a && decoded_bytes(a) >= 16, "decodes to at least 128 bits");
    is_int(a ? decoded_bytes(a) : 0, OTA_CHALLENGE_BYTES,
           "decodes to OTA_CHALLENGE_BYTES bytes");
    ok(a && b && strcmp(a, b) != 0, "two challenges differ");
    ok(a && strlen(a) <= OTA_CHALLENGE_MAX_LEN,
       "within OTA_CHALLENGE_MAX_LEN");

    for (i = 0; i < 2000; i++) {
        c = NULL;
        if (ota_challenge_new(&c, pool) != APR_SUCCESS || !c
            || strlen(c) != 43 || !base64url_only(c)) {
            ++bad;
            continue;
        }
        if (apr_hash_get(seen, c, APR_HASH_KEY_STRING)) {
            ++dups;
        }
        apr_hash_set(seen, c, APR_HASH_KEY_STRING, c);
        dash += strchr(c, '-') != NULL;
        underscore += strchr(c, '_') != NULL;
    }
    is_int(bad, 0, "2000 challenges: all 43 base64url characters");
    is_int(dups, 0, "2000 challenges: no repeats");
    ok(dash > 0 && underscore > 0, "'-' and '_' occur (the two letters "
       "that differ from base64)");

    c = ota_challenge_digest(a, pool);
    ok(lower_hex64(c), "digest: 64 lower-case hex digits");
    d = sha256sum(a);
    is_str(c, d, "digest equals printf %s CHALLENGE | sha256sum");
    is_str(ota_challenge_digest("", pool), sha256sum(""),
           "digest of the empty string");
    is_str(ota_challenge_digest("abc", pool),
           sha256sum("abc"), "digest of abc");
    ok(strcmp(ota_challenge_digest(a, pool), ota_challenge_digest(b, pool))
       != 0, "different challenges, different digests");
    is_str(ota_challenge_digest(a, pool), c, "the digest is stable");
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        test_uuid, test_attribute_known, test_service,
        test_configuration, test_challenge, NULL
    };

    return unit_main(argc, argv, 0, tests);
}
