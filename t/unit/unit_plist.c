/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_plist: bounded XML property lists and the device attribute dict of
 * phase 2, with the real macOS 13 body's eContent. Usage: unit_plist T_DIR
 * (the t/ directory). */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "ota_cms.h"
#include "ota_plist.h"
#include "unit.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" " \
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n" \
    "<plist version=\"1.0\">\n"
#define TAIL "</plist>\n"
#define UDID "78897E40-F532-5DE0-A7DC-56BAC5CEEB9C"

/* The real body's eContent, re-typed (same DOCTYPE, same tabs). */
static const char real_shape[] = HEAD
    "<dict>\n"
    "\t<key>CHALLENGE</key>\n"
    "\t<string>8gLEIttrT7qbLOZs3XzL5XPgNXCliGwRLtn2Lfe4GBsa7g6MGm2sJjicKrLF"
    "al4D</string>\n"
    "\t<key>IMEI</key>\n"
    "\t<string></string>\n"
    "\t<key>MEID</key>\n"
    "\t<string></string>\n"
    "\t<key>NotOnConsole</key>\n"
    "\t<false/>\n"
    "\t<key>PRODUCT</key>\n"
    "\t<string>VirtualMac2,1</string>\n"
    "\t<key>SERIAL</key>\n"
    "\t<string>ZDL2M9PTJ3</string>\n"
    "\t<key>UDID</key>\n"
    "\t<string>" UDID "</string>\n"
    "\t<key>UserID</key>\n"
    "\t<string>D9DD912C-1B1E-413F-86A5-3BE29F13AB2D</string>\n"
    "\t<key>UserLongName</key>\n"
    "\t<string>admin</string>\n"
    "\t<key>UserShortName</key>\n"
    "\t<string>admin</string>\n"
    "\t<key>VERSION</key>\n"
    "\t<string>22A380</string>\n"
    "</dict>\n" TAIL;


static const ota_plist_limits big = {
    64 * 1024 * 1024, 1000000, 1000000, 1000000
};

/* HEAD <dict> BODY </dict> TAIL, at compile time (dict_of at run time). */
#define DICT(body) HEAD "<dict>\n" body "</dict>\n" TAIL

/* A whole document, whether the limits accept it, and what it shows. */
typedef struct {
    const char *xml;
    int accept;
    const char *name;
} parse_case;

/* ota_plist_parse of a NUL-terminated string: APR status, *why. */
static apr_status_t parse(plist_t *node, const char *xml,
                          const ota_plist_limits *limits, const char **why)
{
    plist_t dummy;

    *why = NULL;
    return ota_plist_parse(node ? node : &dummy, xml, strlen(xml), limits,
                           why, pool);
}

/* Refused with EINVAL and a reason. */
static void refused(const char *xml, const ota_plist_limits *limits,
                    const char *name)
{
    const char *why = NULL;
    apr_status_t rv = parse(NULL, xml, limits, &why);

    ok(rv == APR_EINVAL && why != NULL, name);
    if (why) {
        printf("#   why: %s\n", why);
    }
}

static void accepted(const char *xml, const ota_plist_limits *limits,
                     const char *name)
{
    const char *why = NULL;
    plist_t node = NULL;
    apr_status_t rv = parse(&node, xml, limits, &why);

    ok(rv == APR_SUCCESS && node != NULL, name);
    if (rv != APR_SUCCESS) {
        printf("#   why: %s\n", why ? why : "(null)");
    }
}

/* XML accepted or refused, as ACCEPT says: one assertion. */
static void parsed(const char *xml, int accept,
                   const ota_plist_limits *limits, const char *name)
{
    if (accept) {
        accepted(xml, limits, name);
    }
    else {
        refused(xml, limits, name);
    }
}

/* Each of the N CASES under LIMITS: an assertion each. */
static void parse_cases(const parse_case *cases, apr_size_t n,
                        const ota_plist_limits *limits)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        parsed(cases[i].xml, cases[i].accept, limits, cases[i].name);
    }
}

static const char *dict_of(const char *body)
{
    return apr_pstrcat(pool, HEAD "<dict>\n", body, "</dict>\n" TAIL, NULL);
}

static const char *repeat(const char *s, int n)
{
    apr_size_t len = strlen(s);
    char *out = apr_palloc(pool, len * n + 1);
    int i;

    for (i = 0; i < n; i++) {
        memcpy(out + i * len, s, len);
    }
    out[len * n] = '\0';
    return out;
}

/* HEAD, then REP N times, then TAIL. */
static const char *spelled(const char *head, const char *rep, int n,
                           const char *tail)
{
    return apr_pstrcat(pool, head, repeat(rep, n), tail, NULL);
}

static const char *nested(const char *open, const char *close, int n)
{
    return apr_pstrcat(pool, HEAD, repeat(open, n), repeat(close, n), TAIL,
                       NULL);
}

/* ---- ota_plist_parse ---- */

static const parse_case good[] = {
    { HEAD "<array>\n\t<string>a</string>\n\t<integer>1</integer>\n"
      "</array>\n" TAIL, 1, "an array root parses" },
    { DICT("\t<key>A</key>\n\t<dict/>\n\t<key>B</key>\n\t<array/>\n"), 1,
      "empty <dict/> and <array/> parse" },
    { DICT("<!-- a comment with <dict> inside -->\n"
           "\t<key>A</key>\n\t<string>x</string>\n"), 1,
      "a comment with markup is skipped" },
    { DICT("\t<key>A</key>\n\t<string>x</string>\n"
           "\t<key>a</key>\n\t<string>y</string>\n"), 1,
      "keys differing in case are distinct" },
    { DICT("\t<key>A</key>\n\t<dict>\n\t\t<key>X</key>\n"
           "\t\t<string>1</string>\n\t</dict>\n"
           "\t<key>B</key>\n\t<dict>\n\t\t<key>X</key>\n"
           "\t\t<string>2</string>\n\t</dict>\n"), 1,
      "the same key in two sibling dicts is no duplicate" },
    { DICT("\t<key>A</key>\n\t<string>x &amp; y</string>\n"), 1,
      "&amp; in a string value parses" }
};

static void test_parse_good(void)
{
    plist_t node = NULL;
    const char *why = NULL, *xml = NULL;
    apr_size_t len = 0;
    plist_t again = NULL;

    is_int(parse(&node, real_shape, &ota_plist_device_limits, &why),
           APR_SUCCESS, "the real eContent shape parses");
    ok(node && plist_get_node_type(node) == PLIST_DICT, "it is a dict");
    is_str(ota_plist_dict_get_string(node, "UDID", pool), UDID,
           "dict_get_string UDID");
    is_int(node ? plist_dict_get_size(node) : 0, 11, "all 11 keys kept");
    ok(ota_plist_dict_get_string(node, "NotOnConsole", pool) == NULL,
       "dict_get_string of a boolean: NULL");
    ok(ota_plist_dict_get_string(node, "NOPE", pool) == NULL,
       "dict_get_string of a missing key: NULL");
    is_int(ota_plist_to_xml(&xml, &len, node, pool), APR_SUCCESS,
           "serialized back");
    ok(xml && len == strlen(xml) && strstr(xml, "<key>UserShortName</key>"),
       "serialization holds the keys");
    is_int(ota_plist_parse(&again, xml, len, &ota_plist_device_limits, &why,
                           pool),
           APR_SUCCESS, "our own serialization parses again");
    parse_cases(good, sizeof(good) / sizeof(good[0]),
                &ota_plist_device_limits);
}

static const parse_case bad[] = {
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE plist [\n"
      "<!ENTITY a \"aaaaaaaaaa\">\n]>\n<plist version=\"1.0\">\n"
      "<dict><key>A</key><string>&a;</string></dict>\n" TAIL, 0,
      "DOCTYPE with an internal subset refused" },
    { "<?xml version=\"1.0\"?>\n<!DOCTYPE plist PUBLIC "
      "\"-//Apple//DTD PLIST 1.0//EN\" \"x.dtd\" [ ]>\n"
      "<plist version=\"1.0\"><dict/></plist>\n", 0,
      "DOCTYPE PUBLIC with an empty internal subset refused" },
    { "<?xml version=\"1.0\"?>\n<!ENTITY a \"b\">\n"
      "<plist version=\"1.0\"><dict/></plist>\n", 0, "<!ENTITY refused" },
    { DICT("\t<key>A</key>\n\t<string><![CDATA[<x>]]></string>\n"), 0,
      "CDATA refused" },
    { DICT("\t<key>UDID</key>\n\t<string>A</string>\n"
           "\t<key>UDID</key>\n\t<string>B</string>\n"), 0,
      "duplicate keys refused" },
    { DICT("\t<key>A</key>\n\t<dict>\n"
           "\t\t<key>X</key>\n\t\t<string>1</string>\n"
           "\t\t<key>X</key>\n\t\t<string>2</string>\n\t</dict>\n"), 0,
      "duplicate keys in a nested dict refused" },
    { DICT("\t<key>A</key>\n\t<array>\n\t\t<dict>\n"
           "\t\t\t<key>X</key>\n\t\t\t<string>1</string>\n"
           "\t\t\t<key>X</key>\n\t\t\t<string>2</string>\n"
           "\t\t</dict>\n\t</array>\n"), 0,
      "duplicate keys in a dict inside an array refused" },
    { DICT("\t<key>A</key>\n\t<dict>\n"
           "\t\t<key>X</key>\n\t\t<string>1</string>\n\t</dict>\n"
           "\t<key>B</key>\n\t<string>2</string>\n"
           "\t<key>A</key>\n\t<string>3</string>\n"), 0,
      "a duplicate after a nested dict refused" },
    /* "<key >" is valid XML that libplist accepts: the pre-scan must not
     * let it hide a duplicate. */
    { DICT("\t<key >UDID</key>\n\t<string>AAAAAAAA</string>\n"
           "\t<key>UDID</key>\n\t<string>BBBBBBBB</string>\n"), 0,
      "duplicate key spelled <key > refused" },
    { DICT("\t<key>A&amp;B</key>\n\t<string>x</string>\n"), 0,
      "a key containing &amp; refused" },
    { DICT("\t<key>A&#66;</key>\n\t<string>x</string>\n"), 0,
      "a key containing a character reference refused" },
    { HEAD "<dict>\n\t<key>A</key>\n\t<string>x</string>\n" TAIL, 0,
      "unclosed <dict> refused" },
    { HEAD "<dict/>\n</dict>\n" TAIL, 0, "a stray </dict> refused" },
    { HEAD "<array>\n\t<string>x</string>\n</dict>\n" TAIL, 0,
      "<array> closed by </dict> refused" },
    { HEAD "<dict>\n\t<key>A</key>\n\t<string>x</string>\n" TAIL
      "</dict>\n", 0, "</dict> after </plist> refused" },
    { HEAD "<dict>\n\t<key>A</key>\n\t<string>x\n</dict>\n" TAIL, 0,
      "unclosed <string> refused" },
    { "not a plist at all", 0, "text refused" },
    { HEAD "<dict>\n<!-- never closed\n</dict>\n" TAIL, 0,
      "unterminated comment refused" }
};

static void test_parse_refused(void)
{
    const ota_plist_limits *dev = &ota_plist_device_limits;
    const char *why = NULL;
    plist_t node = (plist_t)&why;
    static const char bplist[] = "bplist00\xd1\x01\x02TUDID_\x10\x24"
        "78897E40-F532-5DE0-A7DC-56BAC5CEEB9C\x08\x0b\x10\x00\x00";

    is_int(ota_plist_parse(&node, bplist, sizeof(bplist) - 1, dev, &why,
                           pool),
           APR_EINVAL, "binary plist refused");
    ok(node == NULL, "and *out is NULL");
    is_int(ota_plist_parse(&node, "", 0, dev, &why, pool), APR_EINVAL,
           "empty input refused");
    is_int(ota_plist_parse(&node, real_shape, sizeof(real_shape), dev, &why,
                           pool),
           APR_EINVAL, "a NUL byte (the terminator counted) refused");
    parse_cases(bad, sizeof(bad) / sizeof(bad[0]), dev);
}

/* max_depth is the "nesting of dict/array" (ota_plist.h); leaf values are
 * no level of their own. */
static const parse_case depth_one[] = {
    { DICT("\t<key>A</key>\n\t<string>x</string>\n"), 1,
      "max_depth 1: a flat dict of strings is accepted" },
    { HEAD "<dict/>\n" TAIL, 1, "max_depth 1: an empty dict" },
    { DICT("\t<key>A</key>\n\t<dict/>\n"), 0,
      "max_depth 1: a dict in a dict refused" }
};

static const parse_case depth_four[] = {
    { HEAD "<dict><key>k</key><dict><key>k</key><dict><key>k</key>"
      "</dict></dict></dict>" TAIL, 1,
      "max_depth 4: 3 nested dicts (no leaf) accepted" },
    { HEAD "<array><array><array><array><string>x</string>"
      "</array></array></array></array>" TAIL, 1,
      "max_depth 4: 4 nested arrays around a string accepted" },
    { HEAD "<array><array><array><array><array><string>x</string>"
      "</array></array></array></array></array>" TAIL, 0,
      "max_depth 4: 5 nested arrays refused" },
    { HEAD "<array><array><array><array><array/>"
      "</array></array></array></array>" TAIL, 0,
      "max_depth 4: an empty <array/> as a 5th level refused" }
};

static void test_depth(void)
{
    static const int depths[] = { 10000, 100000 };
    static const ota_plist_limits one = { 16384, 1, 32, 256 };
    static const ota_plist_limits four = { 16384, 4, 32, 256 };
    apr_time_t t0;
    const char *xml;
    int i;

    for (i = 0; i < 2; i++) {
        xml = nested("<array>", "</array>", depths[i]);
        t0 = apr_time_now();
        refused(xml, &ota_plist_device_limits,
                apr_psprintf(pool, "%d nested arrays refused (device "
                             "limits)", depths[i]));
        refused(xml, &big, apr_psprintf(pool, "%d nested arrays refused "
                                        "(limits of a million)", depths[i]));
        xml = nested("<dict><key>k</key>", "</dict>", depths[i]);
        refused(xml, &big, apr_psprintf(pool, "%d nested dicts refused "
                                        "(limits of a million)", depths[i]));
        ok(apr_time_now() - t0 < apr_time_from_sec(1),
           apr_psprintf(pool, "depth %d refused within a second",
                        depths[i]));
        printf("#   %" APR_TIME_T_FMT " us\n", apr_time_now() - t0);
    }
    refused(nested("<array>", "</array>", 65), &big,
            "65 nested arrays refused even when the limit allows more");
    parse_cases(depth_one, sizeof(depth_one) / sizeof(depth_one[0]), &one);
    parse_cases(depth_four, sizeof(depth_four) / sizeof(depth_four[0]),
                &four);
}

/* Bodies of a dict around a long run: HEAD, REP N times, TAIL. */
static const struct {
    const char *head, *rep;
    int n;
    const char *tail;
    int accept;
    const char *name;
} long_runs[] = {
    { "\t<key>A</key>\n\t<array>\n", "\t\t<string>v</string>\n", 33,
      "\t</array>\n", 0, "33 array items refused" },
    { "\t<key>A</key>\n\t<string>", "s", 256, "</string>\n", 1,
      "a 256-byte string accepted" },
    { "\t<key>A</key>\n\t<string>", "s", 257, "</string>\n", 0,
      "a 257-byte string refused" },
    { "\t<key>", "k", 257, "</key>\n\t<string>x</string>\n", 0,
      "a 257-byte key refused" },
    { "\t<key>A</key>\n\t<data>", "QUFB", 90, "</data>\n", 0,
      "270 bytes of data refused" }
};

static void test_sizes(void)
{
    const ota_plist_limits *dev = &ota_plist_device_limits;
    ota_plist_limits exact;
    const char *xml, *body;
    int i;

    xml = dict_of("\t<key>A</key>\n\t<string>x</string>\n");
    exact = *dev;
    exact.max_size = strlen(xml);
    accepted(xml, &exact, "exactly max_size bytes accepted");
    exact.max_size = strlen(xml) - 1;
    refused(xml, &exact, "max_size + 1 bytes refused");
    refused(dict_of(spelled("<!-- ", "x", 16384, " -->\n\t<key>A</key>\n"
                            "\t<string>x</string>\n")),
            dev, "over the device max_size (16 KiB) refused");

    body = "";
    for (i = 0; i < 32; i++) {
        body = apr_psprintf(pool, "%s\t<key>K%d</key>\n\t<string>v</string>"
                            "\n", body, i);
    }
    accepted(dict_of(body), dev, "32 keys accepted");
    refused(dict_of(apr_pstrcat(pool, body, "\t<key>K32</key>\n"
                                "\t<string>v</string>\n", NULL)),
            dev, "33 keys refused");
    for (i = 0; i < (int)(sizeof(long_runs) / sizeof(long_runs[0])); i++) {
        parsed(dict_of(spelled(long_runs[i].head, long_runs[i].rep,
                               long_runs[i].n, long_runs[i].tail)),
               long_runs[i].accept, dev, long_runs[i].name);
    }
}

/* ---- ota_device_attributes_parse ---- */

#define UDID_KV "\t<key>UDID</key>\n\t<string>" UDID "</string>\n"

static apr_status_t attrs(ota_device_attributes **a, const char *xml,
                          const char **why)
{
    *a = NULL;
    *why = NULL;
    return ota_device_attributes_parse(a, xml, strlen(xml), why, pool);
}

/* The document XML refused with a reason. */
static void attrs_refused(const char *xml, const char *name)
{
    ota_device_attributes *a;
    const char *why;
    apr_status_t rv = attrs(&a, xml, &why);

    ok(rv == APR_EINVAL && why != NULL, name);
    printf("#   why: %s\n", why ? why : "(null)");
}

/* The dict of BODY accepted: the attributes, or NULL. */
static ota_device_attributes *attrs_accepted(const char *body,
                                             const char *name)
{
    ota_device_attributes *a;
    const char *why;

    is_int(attrs(&a, dict_of(body), &why), APR_SUCCESS, name);
    return a;
}

static const char *real_content(apr_size_t *len)
{
    unsigned char *der;
    apr_size_t der_len;
    ota_trust *t = NULL;
    ota_signed_message *m = NULL;
    const char *why = NULL;

    if (!slurp(in_dir(tdir, "fixtures/apple-real/"
                      "phase2-macos13-zentral.der"), &der, &der_len)) {
        return NULL;
    }
    if (ota_trust_load(&t, in_dir(tdir, "../apple/"
                                  "apple-device-ca-chain.pem"),
                       OTA_TRUST_APPLE_DEVICE, &why, pool) != APR_SUCCESS
        || ota_cms_verify(&m, der, der_len, t, pool) != APR_SUCCESS
        || m->verdict != OTA_CMS_OK) {
        printf("# cannot verify the real body: %s\n", why ? why
               : m && m->detail ? m->detail : "?");
        return NULL;
    }
    *len = m->content_len;
    return m->content;
}

static void test_attributes_real(void)
{
    ota_device_attributes *a = NULL;
    const char *why = NULL, *xml;
    apr_size_t len = 0;
    int i;

    xml = real_content(&len);
    ok(xml != NULL, "the real body's eContent extracted with ota_cms_verify");
    if (!xml) {
        return;
    }
    ok(strcmp(xml, real_shape) == 0,
       "the re-typed shape is byte for byte the real eContent");
    is_int(ota_device_attributes_parse(&a, xml, len, &why, pool),
           APR_SUCCESS, "real attributes parse");
    if (!a) {
        printf("#   why: %s\n", why ? why : "(null)");
        return;
    }
    {
        const char *fields[][3] = {
            { a->udid, UDID, "UDID" },
            { a->serial, "ZDL2M9PTJ3", "SERIAL" },
            { a->product, "VirtualMac2,1", "PRODUCT" },
            { a->version, "22A380", "VERSION" },
            { a->challenge, "8gLEIttrT7qbLOZs3XzL5XPgNXCliGwRLtn2Lfe4GBsa"
              "7g6MGm2sJjicKrLFal4D", "CHALLENGE" },
            { a->user_short_name, "admin", "UserShortName" },
            { a->imei, "", "IMEI is the empty string" },
            { a->meid, "", "MEID is the empty string" }
        };

        for (i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++) {
            is_str(fields[i][0], fields[i][1], fields[i][2]);
        }
    }
    ok(a->device_name == NULL, "DEVICE_NAME absent: NULL");
    is_str(apr_table_get(a->all, "NotOnConsole"), "false",
           "the boolean NotOnConsole is kept as false");
    is_str(apr_table_get(a->all, "UserID"),
           "D9DD912C-1B1E-413F-86A5-3BE29F13AB2D", "UserID in all");
    is_int(apr_table_elts(a->all)->nelts, 11, "all 11 attributes in all");
}

/* Documents the attributes refuse, each with a reason. */
static const struct {
    const char *xml, *name;
} attrs_bad[] = {
    { DICT("\t<key>SERIAL</key>\n\t<string>X</string>\n"),
      "UDID missing refused" },
    { DICT("\t<key>UDID</key>\n\t<string>78897E40 F532</string>\n"),
      "UDID with a space refused" },
    { DICT("\t<key>UDID</key>\n\t<string>ABCDEF1</string>\n"),
      "UDID of 7 characters refused" },
    { DICT("\t<key>UDID</key>\n\t<string>../../etc/passwd</string>\n"),
      "UDID with path characters refused" },
    { DICT("\t<key>UDID</key>\n\t<string></string>\n"),
      "empty UDID refused" },
    { DICT("\t<key>UDID</key>\n\t<integer>12345678</integer>\n"),
      "UDID as an integer refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<integer>7</integer>\n"),
      "an integer value refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<dict/>\n"),
      "a dict value refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n"
           "\t<array><string>x</string></array>\n"),
      "an array value refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<data>QUFB</data>\n"),
      "a data value refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<string>A&#1;B</string>\n"),
      "a control character (&#1;) refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<string>A\nB</string>\n"),
      "a newline in a value refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<string>A\x1b[2JB</string>\n"),
      "an escape sequence refused" },
    { DICT(UDID_KV "\t<key>SERIAL</key>\n\t<string>A&#127;B</string>\n"),
      "DEL refused" },
    { DICT(UDID_KV "\t<key>A&#9;B</key>\n\t<string>x</string>\n"),
      "a key with a character reference refused" },
    { DICT(UDID_KV UDID_KV), "a repeated UDID refused" },
    { HEAD "<array>\n\t<string>" UDID "</string>\n</array>\n" TAIL,
      "an array root refused" },
    { HEAD "<string>" UDID "</string>\n" TAIL, "a string root refused" },
    { "bplist00", "binary attributes refused" },
    { DICT("\t<key>UDID</key>\n\t<true/>\n"),
      "a boolean where UDID must be a string: refused" }
};

static void test_attributes(void)
{
    ota_device_attributes *a = NULL;
    const char *why = NULL;
    int i;

    a = attrs_accepted(UDID_KV "\t<key>NotOnConsole</key>\n\t<true/>\n",
                       "a boolean attribute is accepted");
    is_str(a ? apr_table_get(a->all, "NotOnConsole") : NULL, "true",
           "NotOnConsole true");
    a = attrs_accepted(UDID_KV "\t<key>DEVICE_NAME</key>\n"
                       "\t<string>J\xc3\xb6rg\xe2\x80\x99s iPhone</string>\n",
                       "a UTF-8 device name is accepted");
    is_str(a ? a->device_name : NULL, "J\xc3\xb6rg\xe2\x80\x99s iPhone",
           "DEVICE_NAME kept as sent");
    attrs_accepted("\t<key>UDID</key>\n"
                   "\t<string>00008030-001A2D8E0C38802E</string>\n",
                   "a modern iPhone UDID (8-16) is accepted");
    attrs_accepted("\t<key>UDID</key>\n\t<string>"
                   "0123456789abcdef0123456789abcdef01234567</string>\n",
                   "a 40-hex-digit UDID is accepted");
    attrs_accepted(spelled(UDID_KV "\t<key>CHALLENGE</key>\n\t<string>",
                           "c", 128, "</string>\n"),
                   "a 128-byte CHALLENGE is accepted");

    for (i = 0; i < (int)(sizeof(attrs_bad) / sizeof(attrs_bad[0])); i++) {
        attrs_refused(attrs_bad[i].xml, attrs_bad[i].name);
    }
    attrs_refused(dict_of(spelled("\t<key>UDID</key>\n\t<string>", "A", 65,
                                  "</string>\n")),
                  "UDID of 65 characters refused");
    attrs_refused(dict_of(spelled(UDID_KV "\t<key>CHALLENGE</key>\n"
                                  "\t<string>", "c", 129, "</string>\n")),
                  "a 129-byte CHALLENGE refused");

    /* The attributes are looked up case-insensitively, so keys that differ
     * only in case ("UDID" and a later "udid") could swap the UDID. */
    a = NULL;
    is_int(attrs(&a, DICT(UDID_KV "\t<key>udid</key>\n"
                          "\t<string>0000000000000000</string>\n"), &why),
           APR_EINVAL, "keys UDID and udid: refused");
    ok(a == NULL, "no attributes returned");
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        test_parse_good, test_parse_refused, test_depth, test_sizes,
        test_attributes_real, test_attributes, NULL
    };

    return unit_main(argc, argv, 0, tests);
}
