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

static const char *nested(const char *open, const char *close, int n)
{
    return apr_pstrcat(pool, HEAD, repeat(open, n), repeat(close, n), TAIL,
                       NULL);
}

/* ---- ota_plist_parse ---- */

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

    accepted(HEAD "<array>\n\t<string>a</string>\n\t<integer>1</integer>\n"
             "</array>\n" TAIL, &ota_plist_device_limits,
             "an array root parses");
    accepted(dict_of("\t<key>A</key>\n\t<dict/>\n\t<key>B</key>\n"
                     "\t<array/>\n"), &ota_plist_device_limits,
             "empty <dict/> and <array/> parse");
    accepted(dict_of("<!-- a comment with <dict> inside -->\n"
                     "\t<key>A</key>\n\t<string>x</string>\n"),
             &ota_plist_device_limits, "a comment with markup is skipped");
    accepted(dict_of("\t<key>A</key>\n\t<string>x</string>\n"
                     "\t<key>a</key>\n\t<string>y</string>\n"),
             &ota_plist_device_limits, "keys differing in case are distinct");
    accepted(dict_of("\t<key>A</key>\n\t<dict>\n\t\t<key>X</key>\n"
                     "\t\t<string>1</string>\n\t</dict>\n"
                     "\t<key>B</key>\n\t<dict>\n\t\t<key>X</key>\n"
                     "\t\t<string>2</string>\n\t</dict>\n"),
             &ota_plist_device_limits,
             "the same key in two sibling dicts is no duplicate");
    accepted(dict_of("\t<key>A</key>\n\t<string>x &amp; y</string>\n"),
             &ota_plist_device_limits, "&amp; in a string value parses");
}

static void test_parse_refused(void)
{
    const ota_plist_limits *dev = &ota_plist_device_limits;
    const char *why = NULL;
    plist_t node = (plist_t)&why;
    const char *dup_nested;
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

    refused("<?xml version=\"1.0\"?>\n<!DOCTYPE plist [\n"
            "<!ENTITY a \"aaaaaaaaaa\">\n]>\n<plist version=\"1.0\">\n"
            "<dict><key>A</key><string>&a;</string></dict>\n" TAIL, dev,
            "DOCTYPE with an internal subset refused");
    refused("<?xml version=\"1.0\"?>\n<!DOCTYPE plist PUBLIC "
            "\"-//Apple//DTD PLIST 1.0//EN\" \"x.dtd\" [ ]>\n"
            "<plist version=\"1.0\"><dict/></plist>\n", dev,
            "DOCTYPE PUBLIC with an empty internal subset refused");
    refused("<?xml version=\"1.0\"?>\n<!ENTITY a \"b\">\n"
            "<plist version=\"1.0\"><dict/></plist>\n", dev,
            "<!ENTITY refused");
    refused(dict_of("\t<key>A</key>\n\t<string><![CDATA[<x>]]></string>\n"),
            dev, "CDATA refused");
    refused(dict_of("\t<key>UDID</key>\n\t<string>A</string>\n"
                    "\t<key>UDID</key>\n\t<string>B</string>\n"),
            dev, "duplicate keys refused");
    dup_nested = dict_of("\t<key>A</key>\n\t<dict>\n"
                         "\t\t<key>X</key>\n\t\t<string>1</string>\n"
                         "\t\t<key>X</key>\n\t\t<string>2</string>\n"
                         "\t</dict>\n");
    refused(dup_nested, dev, "duplicate keys in a nested dict refused");
    refused(dict_of("\t<key>A</key>\n\t<array>\n\t\t<dict>\n"
                    "\t\t\t<key>X</key>\n\t\t\t<string>1</string>\n"
                    "\t\t\t<key>X</key>\n\t\t\t<string>2</string>\n"
                    "\t\t</dict>\n\t</array>\n"),
            dev, "duplicate keys in a dict inside an array refused");
    refused(dict_of("\t<key>A</key>\n\t<dict>\n"
                    "\t\t<key>X</key>\n\t\t<string>1</string>\n\t</dict>\n"
                    "\t<key>B</key>\n\t<string>2</string>\n"
                    "\t<key>A</key>\n\t<string>3</string>\n"),
            dev, "a duplicate after a nested dict refused");
    /* "<key >" is valid XML that libplist accepts: the pre-scan must not
     * let it hide a duplicate. */
    refused(dict_of("\t<key >UDID</key>\n\t<string>AAAAAAAA</string>\n"
                    "\t<key>UDID</key>\n\t<string>BBBBBBBB</string>\n"),
            dev, "duplicate key spelled <key > refused");
    refused(dict_of("\t<key>A&amp;B</key>\n\t<string>x</string>\n"), dev,
            "a key containing &amp; refused");
    refused(dict_of("\t<key>A&#66;</key>\n\t<string>x</string>\n"), dev,
            "a key containing a character reference refused");
    refused(HEAD "<dict>\n\t<key>A</key>\n\t<string>x</string>\n" TAIL, dev,
            "unclosed <dict> refused");
    refused(HEAD "<dict/>\n</dict>\n" TAIL, dev,
            "a stray </dict> refused");
    refused(HEAD "<array>\n\t<string>x</string>\n</dict>\n" TAIL, dev,
            "<array> closed by </dict> refused");
    refused(HEAD "<dict>\n\t<key>A</key>\n\t<string>x</string>\n" TAIL
            "</dict>\n", dev, "</dict> after </plist> refused");
    refused(HEAD "<dict>\n\t<key>A</key>\n\t<string>x\n</dict>\n" TAIL, dev,
            "unclosed <string> refused");
    refused("not a plist at all", dev, "text refused");
    refused(HEAD "<dict>\n<!-- never closed\n</dict>\n" TAIL, dev,
            "unterminated comment refused");
}

static void test_depth(void)
{
    static const int depths[] = { 10000, 100000 };
    ota_plist_limits one = { 16384, 1, 32, 256 };
    ota_plist_limits four = { 16384, 4, 32, 256 };
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

    /* max_depth is the "nesting of dict/array" (ota_plist.h). */
    /* Leaf values are no level of their own. */
    accepted(dict_of("\t<key>A</key>\n\t<string>x</string>\n"), &one,
             "max_depth 1: a flat dict of strings is accepted");
    accepted(HEAD "<dict/>\n" TAIL, &one, "max_depth 1: an empty dict");
    refused(dict_of("\t<key>A</key>\n\t<dict/>\n"), &one,
            "max_depth 1: a dict in a dict refused");
    accepted(nested("<dict><key>k</key>", "</dict>", 3), &four,
             "max_depth 4: 3 nested dicts (no leaf) accepted");
    accepted(HEAD "<array><array><array><array><string>x</string>"
             "</array></array></array></array>" TAIL, &four,
             "max_depth 4: 4 nested arrays around a string accepted");
    refused(HEAD "<array><array><array><array><array><string>x</string>"
            "</array></array></array></array></array>" TAIL, &four,
            "max_depth 4: 5 nested arrays refused");
    refused(HEAD "<array><array><array><array><array/>"
            "</array></array></array></array>" TAIL, &four,
            "max_depth 4: an empty <array/> as a 5th level refused");
}

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
    xml = dict_of(apr_pstrcat(pool, "<!-- ", repeat("x", 16384), " -->\n",
                              "\t<key>A</key>\n\t<string>x</string>\n",
                              NULL));
    refused(xml, dev, "over the device max_size (16 KiB) refused");

    body = "";
    for (i = 0; i < 32; i++) {
        body = apr_psprintf(pool, "%s\t<key>K%d</key>\n\t<string>v</string>"
                            "\n", body, i);
    }
    accepted(dict_of(body), dev, "32 keys accepted");
    refused(dict_of(apr_pstrcat(pool, body, "\t<key>K32</key>\n"
                                "\t<string>v</string>\n", NULL)),
            dev, "33 keys refused");
    refused(dict_of(apr_pstrcat(pool, "\t<key>A</key>\n\t<array>\n",
                                repeat("\t\t<string>v</string>\n", 33),
                                "\t</array>\n", NULL)),
            dev, "33 array items refused");
    accepted(dict_of(apr_pstrcat(pool, "\t<key>A</key>\n\t<string>",
                                 repeat("s", 256), "</string>\n", NULL)),
             dev, "a 256-byte string accepted");
    refused(dict_of(apr_pstrcat(pool, "\t<key>A</key>\n\t<string>",
                                repeat("s", 257), "</string>\n", NULL)),
            dev, "a 257-byte string refused");
    refused(dict_of(apr_pstrcat(pool, "\t<key>", repeat("k", 257),
                                "</key>\n\t<string>x</string>\n", NULL)),
            dev, "a 257-byte key refused");
    refused(dict_of(apr_pstrcat(pool, "\t<key>A</key>\n\t<data>",
                                repeat("QUFB", 90), "</data>\n", NULL)),
            dev, "270 bytes of data refused");
}

/* ---- ota_device_attributes_parse ---- */

static apr_status_t attrs(ota_device_attributes **a, const char *xml,
                          const char **why)
{
    *a = NULL;
    *why = NULL;
    return ota_device_attributes_parse(a, xml, strlen(xml), why, pool);
}

static void attrs_refused(const char *body, const char *name)
{
    ota_device_attributes *a;
    const char *why;
    apr_status_t rv = attrs(&a, dict_of(body), &why);

    ok(rv == APR_EINVAL && why != NULL, name);
    printf("#   why: %s\n", why ? why : "(null)");
}

static const char *real_content(apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    unsigned char *der;
    ota_trust *t = NULL;
    ota_signed_message *m = NULL;
    const char *why = NULL;
    const char *file = apr_pstrcat(pool, tdir, "/fixtures/apple-real/"
                                   "phase2-macos13-zentral.der", NULL);

    if (apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_OS_DEFAULT, pool) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        apr_file_close(f);
        return NULL;
    }
    der = apr_palloc(pool, (apr_size_t)fi.size);
    if (apr_file_read_full(f, der, (apr_size_t)fi.size, NULL)
        != APR_SUCCESS) {
        apr_file_close(f);
        return NULL;
    }
    apr_file_close(f);
    if (ota_trust_load(&t, apr_pstrcat(pool, tdir, "/../apple/"
                                       "apple-device-ca-chain.pem", NULL),
                       OTA_TRUST_APPLE_DEVICE, &why, pool) != APR_SUCCESS
        || ota_cms_verify(&m, der, (apr_size_t)fi.size, t, pool)
           != APR_SUCCESS
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
    is_str(a->udid, UDID, "UDID");
    is_str(a->serial, "ZDL2M9PTJ3", "SERIAL");
    is_str(a->product, "VirtualMac2,1", "PRODUCT");
    is_str(a->version, "22A380", "VERSION");
    is_str(a->challenge, "8gLEIttrT7qbLOZs3XzL5XPgNXCliGwRLtn2Lfe4GBsa7g6M"
           "Gm2sJjicKrLFal4D", "CHALLENGE");
    is_str(a->user_short_name, "admin", "UserShortName");
    is_str(a->imei, "", "IMEI is the empty string");
    is_str(a->meid, "", "MEID is the empty string");
    ok(a->device_name == NULL, "DEVICE_NAME absent: NULL");
    is_str(apr_table_get(a->all, "NotOnConsole"), "false",
           "the boolean NotOnConsole is kept as false");
    is_str(apr_table_get(a->all, "UserID"),
           "D9DD912C-1B1E-413F-86A5-3BE29F13AB2D", "UserID in all");
    is_int(apr_table_elts(a->all)->nelts, 11, "all 11 attributes in all");
}

static void test_attributes(void)
{
    ota_device_attributes *a = NULL;
    const char *why = NULL;
    const char *udid = "\t<key>UDID</key>\n\t<string>" UDID "</string>\n";

    is_int(attrs(&a, dict_of(apr_pstrcat(pool, udid,
                                         "\t<key>NotOnConsole</key>\n"
                                         "\t<true/>\n", NULL)), &why),
           APR_SUCCESS, "a boolean attribute is accepted");
    is_str(a ? apr_table_get(a->all, "NotOnConsole") : NULL, "true",
           "NotOnConsole true");
    is_int(attrs(&a, dict_of(apr_pstrcat(pool, udid,
                                         "\t<key>DEVICE_NAME</key>\n"
                                         "\t<string>J\xc3\xb6rg\xe2\x80\x99s"
                                         " iPhone</string>\n", NULL)), &why),
           APR_SUCCESS, "a UTF-8 device name is accepted");
    is_str(a ? a->device_name : NULL, "J\xc3\xb6rg\xe2\x80\x99s iPhone",
           "DEVICE_NAME kept as sent");
    is_int(attrs(&a, dict_of("\t<key>UDID</key>\n"
                             "\t<string>00008030-001A2D8E0C38802E</string>\n"),
                 &why),
           APR_SUCCESS, "a modern iPhone UDID (8-16) is accepted");
    is_int(attrs(&a, dict_of("\t<key>UDID</key>\n\t<string>"
                             "0123456789abcdef0123456789abcdef01234567"
                             "</string>\n"), &why),
           APR_SUCCESS, "a 40-hex-digit UDID is accepted");
    is_int(attrs(&a, dict_of(apr_pstrcat(pool, udid,
                                         "\t<key>CHALLENGE</key>\n"
                                         "\t<string>", repeat("c", 128),
                                         "</string>\n", NULL)), &why),
           APR_SUCCESS, "a 128-byte CHALLENGE is accepted");

    attrs_refused("\t<key>SERIAL</key>\n\t<string>X</string>\n",
                  "UDID missing refused");
    attrs_refused("\t<key>UDID</key>\n\t<string>78897E40 F532</string>\n",
                  "UDID with a space refused");
    attrs_refused(apr_pstrcat(pool, "\t<key>UDID</key>\n\t<string>",
                              repeat("A", 65), "</string>\n", NULL),
                  "UDID of 65 characters refused");
    attrs_refused("\t<key>UDID</key>\n\t<string>ABCDEF1</string>\n",
                  "UDID of 7 characters refused");
    attrs_refused("\t<key>UDID</key>\n\t<string>../../etc/passwd</string>\n",
                  "UDID with path characters refused");
    attrs_refused("\t<key>UDID</key>\n\t<string></string>\n",
                  "empty UDID refused");
    attrs_refused("\t<key>UDID</key>\n\t<integer>12345678</integer>\n",
                  "UDID as an integer refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<integer>7</integer>\n", NULL),
                  "an integer value refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<dict/>\n", NULL),
                  "a dict value refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<array><string>x</string></array>\n", NULL),
                  "an array value refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<data>QUFB</data>\n", NULL),
                  "a data value refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<string>A&#1;B</string>\n", NULL),
                  "a control character (&#1;) refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<string>A\nB</string>\n", NULL),
                  "a newline in a value refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<string>A\x1b[2JB</string>\n", NULL),
                  "an escape sequence refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>SERIAL</key>\n"
                              "\t<string>A&#127;B</string>\n", NULL),
                  "DEL refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>A&#9;B</key>\n"
                              "\t<string>x</string>\n", NULL),
                  "a key with a character reference refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>CHALLENGE</key>\n"
                              "\t<string>", repeat("c", 129),
                              "</string>\n", NULL),
                  "a 129-byte CHALLENGE refused");
    attrs_refused(apr_pstrcat(pool, udid, "\t<key>UDID</key>\n"
                              "\t<string>" UDID "</string>\n", NULL),
                  "a repeated UDID refused");
    is_int(attrs(&a, HEAD "<array>\n\t<string>" UDID "</string>\n</array>\n"
                 TAIL, &why),
           APR_EINVAL, "an array root refused");
    is_int(attrs(&a, HEAD "<string>" UDID "</string>\n" TAIL, &why),
           APR_EINVAL, "a string root refused");
    is_int(attrs(&a, "bplist00", &why), APR_EINVAL,
           "binary attributes refused");

    /* The attributes are looked up case-insensitively, so keys that differ
     * only in case ("UDID" and a later "udid") could swap the UDID. */
    a = NULL;
    is_int(attrs(&a, dict_of(apr_pstrcat(pool, udid,
                                         "\t<key>udid</key>\n"
                                         "\t<string>0000000000000000</string>"
                                         "\n", NULL)), &why),
           APR_EINVAL, "keys UDID and udid: refused");
    ok(a == NULL, "no attributes returned");
    is_int(attrs(&a, dict_of("\t<key>UDID</key>\n\t<true/>\n"), &why),
           APR_EINVAL, "a boolean where UDID must be a string: refused");
}

int main(int argc, char **argv)
{
    unit_setup(argc, argv, 0);
    test_parse_good();
    test_parse_refused();
    test_depth();
    test_sizes();
    test_attributes_real();
    test_attributes();
    return unit_done();
}
