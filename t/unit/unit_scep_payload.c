/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* scep_payload: subject templates, GetCACaps capability strings, and the
 * com.apple.security.scep payload, serialized, parsed back, and checked
 * against Apple's schema (key spellings and value types). Usage:
 * unit_scep_payload T_DIR (the t/ directory). */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "ota_plist.h"
#include "ota_profile.h"
#include "scep_payload.h"
#include "unit.h"
#include "plist_check.h"

#define UDID "6A1B2C3D-0000-4000-8000-00000000D001"

static const ota_plist_limits loose = { 1024 * 1024, 16, 256, 4096 };

/* ---- ota_subject_parse / ota_template_fill ---- */

static const ota_subject_rdn *rdn_at(apr_array_header_t *rdns, int i)
{
    if (!rdns || i >= rdns->nelts) {
        return NULL;
    }
    return &APR_ARRAY_IDX(rdns, i, ota_subject_rdn);
}

static void subject_refused(const char *tmpl, const char *name)
{
    apr_array_header_t *rdns = NULL;
    const char *why = NULL;
    apr_status_t rv = ota_subject_parse(&rdns, tmpl, &why, pool);

    ok(rv == APR_EINVAL && why != NULL, name);
    printf("#   why: %s\n", why ? why : "(null)");
}

static void test_subject(void)
{
    apr_array_header_t *rdns = NULL;
    const ota_subject_rdn *r;
    const char *why = NULL;

    is_int(ota_subject_parse(&rdns, "O=Example/CN=%{UDID}", &why, pool),
           APR_SUCCESS, "O=Example/CN=%{UDID} parses");
    is_int(rdns ? rdns->nelts : 0, 2, "two RDNs");
    r = rdn_at(rdns, 0);
    is_str(r ? r->attribute : NULL, "O", "first attribute O");
    is_str(r ? r->value_template : NULL, "Example", "first value Example");
    r = rdn_at(rdns, 1);
    is_str(r ? r->attribute : NULL, "CN", "second attribute CN");
    is_str(r ? r->value_template : NULL, "%{UDID}",
           "second value keeps the template");

    rdns = NULL;
    is_int(ota_subject_parse(&rdns, "/C=US/O=Example Inc./CN=%{SERIAL}",
                             &why, pool),
           APR_SUCCESS, "a leading slash is accepted");
    is_int(rdns ? rdns->nelts : 0, 3, "three RDNs, none empty");
    r = rdn_at(rdns, 0);
    is_str(r ? r->attribute : NULL, "C", "first attribute C");
    r = rdn_at(rdns, 1);
    is_str(r ? r->value_template : NULL, "Example Inc.",
           "a value with a space and a dot");

    rdns = NULL;
    is_int(ota_subject_parse(&rdns, "0.9.2342.19200300.100.1.25=x", &why,
                             pool),
           APR_SUCCESS, "a dotted OID attribute is accepted");
    r = rdn_at(rdns, 0);
    is_str(r ? r->attribute : NULL, "0.9.2342.19200300.100.1.25",
           "the OID is kept");
    is_str(r ? r->value_template : NULL, "x", "its value");

    rdns = NULL;
    is_int(ota_subject_parse(&rdns, "CN=%{UDID} of %{REMOTE_USER}/OU="
                             "%{PRODUCT}%{VERSION}", &why, pool),
           APR_SUCCESS, "several fields and text in one template");
    is_int(rdns ? rdns->nelts : 0, 2, "two RDNs");

    subject_refused("", "empty template refused");
    subject_refused("/", "a lone slash refused");
    subject_refused("CN", "CN without = refused");
    subject_refused("CN=", "CN= without a value refused");
    subject_refused("O=Example/CN=", "a second RDN without value refused");
    subject_refused("=x", "no attribute name refused");
    subject_refused("C N=x", "a space in the attribute name refused");
    subject_refused("CN=%{NOPE}", "unknown field %{NOPE} refused");
    subject_refused("CN=%{udid}", "fields are case-sensitive: %{udid} "
                    "refused");
    subject_refused("CN=%{}", "an empty field name refused");
    subject_refused("CN=%{UDID", "unterminated %{UDID refused");
    subject_refused("CN=%{UDID}-%{SERIAL", "a second unterminated field "
                    "refused");
}

static void test_fill(void)
{
    apr_table_t *f = apr_table_make(pool, 4);
    const char *plain = "no fields here";

    apr_table_set(f, "UDID", UDID);
    apr_table_set(f, "SERIAL", "C02XL0GHJGH5");
    apr_table_set(f, "DEVICE_NAME", "%{SERIAL}");

    is_str(ota_template_fill("%{UDID}", f, pool), UDID, "a lone field");
    is_str(ota_template_fill("dev-%{UDID}-%{SERIAL}.x", f, pool),
           "dev-" UDID "-C02XL0GHJGH5.x", "two fields with text around");
    is_str(ota_template_fill("[%{IMEI}]", f, pool), "[]",
           "a missing field becomes empty");
    is_str(ota_template_fill("%{SERIAL}%{SERIAL}", f, pool),
           "C02XL0GHJGH5C02XL0GHJGH5", "the same field twice");
    is_str(ota_template_fill("%{DEVICE_NAME}/%{UDID}", f, pool),
           "%{SERIAL}/" UDID, "a value is not expanded again");
    is_str(ota_template_fill(plain, f, pool), plain,
           "a template without fields is unchanged");
    is_str(ota_template_fill("", f, pool), "", "empty template");
}

static void test_capabilities(void)
{
    static const char *const good[] = {
        "POSTPKIOperation", "GETPKIOperation", "Renewal", "SHA-1",
        "SHA-256", "AES", "DES3", "SCEPStandard", NULL
    };
    const char *const *c;
    char *long_cap = apr_palloc(pool, 66);

    for (c = good; *c; c++) {
        ok(ota_scep_capability_valid(*c),
           apr_pstrcat(pool, "capability ", *c, " valid", NULL));
    }
    memset(long_cap, 'A', 65);
    long_cap[65] = '\0';
    ok(!ota_scep_capability_valid(long_cap), "65 characters invalid");
    long_cap[64] = '\0';
    ok(ota_scep_capability_valid(long_cap), "64 characters valid");
    ok(!ota_scep_capability_valid(""), "empty invalid");
    ok(!ota_scep_capability_valid("SHA 1"), "a space invalid");
    ok(!ota_scep_capability_valid("Renewal\r"), "a CR invalid");
    ok(!ota_scep_capability_valid("Renewal\n"), "a LF invalid");
    ok(!ota_scep_capability_valid("\tAES"), "a tab invalid");
    ok(!ota_scep_capability_valid("AES\x7f"), "DEL invalid");
    ok(!ota_scep_capability_valid("Ren\xc3\xa9wal"), "non-ASCII invalid");
}

/* ---- the payload ---- */

static apr_array_header_t *caps(const char *a, const char *b, const char *c)
{
    apr_array_header_t *arr = apr_array_make(pool, 3, sizeof(const char *));

    APR_ARRAY_PUSH(arr, const char *) = a;
    APR_ARRAY_PUSH(arr, const char *) = b;
    APR_ARRAY_PUSH(arr, const char *) = c;
    return arr;
}

/* Built, serialized, parsed back: the parsed root, or NULL. */
static plist_t build(const ota_scep_settings *s, const apr_table_t *fields,
                     const char **xml_out)
{
    ota_profile_meta meta = {
        "com.example.ota", "Example Inc.", "Example enrollment", "desc"
    };
    plist_t payload = NULL, back = NULL;
    const char *xml = NULL, *why = NULL;
    apr_size_t len = 0;

    if (ota_scep_payload_build(&payload, s, &meta, fields, pool)
        != APR_SUCCESS || !payload) {
        printf("# ota_scep_payload_build failed\n");
        return NULL;
    }
    /* The caller owns the payload (it goes into a profile's array). */
    ota_plist_free_with_pool(payload, pool);
    if (ota_plist_to_xml(&xml, &len, payload, pool) != APR_SUCCESS) {
        printf("# ota_plist_to_xml failed\n");
        return NULL;
    }
    if (ota_plist_parse(&back, xml, len, &loose, &why, pool)
        != APR_SUCCESS) {
        printf("# parse back failed: %s\n", why ? why : "?");
        return NULL;
    }
    if (xml_out) {
        *xml_out = xml;
    }
    return back;
}


/* Subject[i] must be [[attr, value]]. */
static void check_rdn(plist_t subject, uint32_t i, const char *attr,
                      const char *value)
{
    plist_t set = NULL, pair = NULL;

    if (subject && i < plist_array_get_size(subject)) {
        set = plist_array_get_item(subject, i);
    }
    ok(set && plist_get_node_type(set) == PLIST_ARRAY
       && plist_array_get_size(set) == 1,
       apr_psprintf(pool, "Subject[%u] is an array of one pair", i));
    if (set && plist_get_node_type(set) == PLIST_ARRAY
        && plist_array_get_size(set) > 0) {
        pair = plist_array_get_item(set, 0);
    }
    ok(pair && plist_get_node_type(pair) == PLIST_ARRAY
       && plist_array_get_size(pair) == 2,
       apr_psprintf(pool, "Subject[%u][0] is a pair", i));
    is_str(string_at(pair, 0), attr,
           apr_psprintf(pool, "Subject[%u] attribute", i));
    is_str(string_at(pair, 1), value,
           apr_psprintf(pool, "Subject[%u] value", i));
}

/* Schema: the "- key: NAME" entries of a yaml file and their "type:". */
typedef struct schema_key {
    const char *name;
    const char *type;      /* "<string>", "<integer>", ... or NULL */
} schema_key;

static apr_array_header_t *schema_read(const char *file)
{
    apr_array_header_t *keys;
    apr_file_t *f;
    char line[1024];
    schema_key *last = NULL;
    char *s, *e;

    if (apr_file_open(&f, file, APR_FOPEN_READ, APR_OS_DEFAULT, pool)
        != APR_SUCCESS) {
        return NULL;
    }
    keys = apr_array_make(pool, 32, sizeof(schema_key));
    while (apr_file_gets(line, sizeof(line), f) == APR_SUCCESS) {
        for (e = line + strlen(line); e > line && (e[-1] == '\n'
                                                  || e[-1] == '\r'
                                                  || e[-1] == ' ');) {
            *--e = '\0';
        }
        for (s = line; *s == ' '; s++) {
        }
        if (strncmp(s, "- key: ", 7) == 0) {
            last = apr_array_push(keys);
            last->name = apr_pstrdup(pool, s + 7);
            last->type = NULL;
        }
        else if (last && !last->type && strncmp(s, "type: ", 6) == 0) {
            last->type = apr_pstrdup(pool, s + 6);
        }
    }
    apr_file_close(f);
    return keys;
}

static const schema_key *schema_find(apr_array_header_t *keys,
                                     const char *name)
{
    int i;

    for (i = 0; keys && i < keys->nelts; i++) {
        const schema_key *k = &APR_ARRAY_IDX(keys, i, schema_key);
        if (strcmp(k->name, name) == 0) {
            return k;
        }
    }
    return NULL;
}

static const char *schema_type_of(plist_t v)
{
    switch (plist_get_node_type(v)) {
    case PLIST_STRING:  return "<string>";
    case PLIST_UINT:    return "<integer>";
    case PLIST_BOOLEAN: return "<boolean>";
    case PLIST_DATA:    return "<data>";
    case PLIST_ARRAY:   return "<array>";
    case PLIST_DICT:    return "<dictionary>";
    default:            return "?";
    }
}

/* The copy of Apple's schemas kept in the project (apple/schemas). */
static const char *schema_dir(void)
{
    return apr_pstrcat(pool, tdir, "/../apple/schemas", NULL);
}

/* Every key of dict (but GetCACaps) is in the schema with its type. */
static void check_against_schema(plist_t dict, apr_array_header_t *keys,
                                 const char *where)
{
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t v = NULL;
    const schema_key *k;
    int n = 0, missing = 0, mistyped = 0;

    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &v); key;
         plist_dict_next_item(dict, it, &key, &v)) {
        if (strcmp(key, "GetCACaps") != 0) {
            ++n;
            if (!(k = schema_find(keys, key))) {
                ++missing;
                printf("#   %s: key '%s' not in Apple's schema\n", where,
                       key);
            }
            else if (!k->type || strcmp(k->type, schema_type_of(v)) != 0) {
                ++mistyped;
                printf("#   %s: key '%s' is %s, schema says %s\n", where,
                       key, schema_type_of(v), k->type ? k->type : "?");
            }
        }
        free(key);
        key = NULL;
    }
    free(key);
    free(it);
    ok(n > 0, apr_psprintf(pool, "%s: %d keys checked", where, n));
    is_int(missing, 0, apr_psprintf(pool, "%s: every key is spelled as in "
                                    "Apple's schema", where));
    is_int(mistyped, 0, apr_psprintf(pool, "%s: every value has the "
                                     "schema's type", where));
}

/* OTAEnrollSCEPSubjectAltName: the payload's SubjectAltName and the text
 * the CA binds are the same names. */
static void test_san(void)
{
    apr_array_header_t *rdns = NULL;
    apr_array_header_t *names = apr_array_make(pool, 4,
                                               sizeof(ota_subject_rdn));
    apr_table_t *fields = apr_table_make(pool, 4);
    ota_scep_settings s;
    plist_t root, content, san, v;
    const char *why = NULL;

    apr_table_set(fields, "UDID", UDID);
    apr_table_set(fields, "REMOTE_USER", "alice");
    ok(ota_san_template_add(names, "rfc822Name=%{REMOTE_USER}@corp.example",
                            &why, pool) == APR_SUCCESS
       && ota_san_template_add(names, "dNSName=%{UDID}.devices.example",
                               &why, pool) == APR_SUCCESS
       && ota_san_template_add(names, "dNSName=static.example", &why, pool)
          == APR_SUCCESS
       && ota_san_template_add(names, "ntPrincipalName=%{IMEI}", &why, pool)
          == APR_SUCCESS, "four name templates");
    ok(ota_san_template_add(names, "iPAddress=10.0.0.1", &why, pool)
       == APR_EINVAL && strstr(why, "iPAddress"), "iPAddress refused");
    ok(ota_san_template_add(names, "dNSName=%{NOPE}", &why, pool)
       == APR_EINVAL && strstr(why, "NOPE"), "unknown field refused");
    ok(ota_san_template_add(names, "dNSName", &why, pool) == APR_EINVAL,
       "no value refused");
    is_str(ota_san_canonical(names, fields, pool),
           "rfc822Name=alice@corp.example\n"
           "dNSName=" UDID ".devices.example\ndNSName=static.example",
           "canonical text; the name without a value (no IMEI) left out");
    ota_subject_parse(&rdns, "CN=%{UDID}", &why, pool);
    memset(&s, 0, sizeof(s));
    s.url = "https://ca.example.com/scep";
    s.subject = rdns;
    s.san = names;
    s.key_size = 2048;
    root = build(&s, fields, NULL);
    content = root ? item(root, "PayloadContent", PLIST_DICT) : NULL;
    san = content ? item(content, "SubjectAltName", PLIST_DICT) : NULL;
    ok(san != NULL, "SubjectAltName is a dict");
    is_str(san ? ota_plist_dict_get_string(san, "rfc822Name", pool) : NULL,
           "alice@corp.example", "rfc822Name: one string");
    v = san ? item(san, "dNSName", PLIST_ARRAY) : NULL;
    is_int(v ? plist_array_get_size(v) : 0, 2, "dNSName: an array of two");
    ok(san && !plist_dict_get_item(san, "ntPrincipalName"),
       "no ntPrincipalName without an IMEI");
    s.san = NULL;
    root = build(&s, fields, NULL);
    content = root ? item(root, "PayloadContent", PLIST_DICT) : NULL;
    ok(content && !plist_dict_get_item(content, "SubjectAltName"),
       "no names: no SubjectAltName key");
}

/* Every setting given: the subject RDNS, the CA's fingerprint FP of
 * FP_LEN bytes. */
static void every_setting(ota_scep_settings *s,
                          const apr_array_header_t *rdns,
                          const unsigned char *fp, apr_size_t fp_len)
{
    memset(s, 0, sizeof(*s));
    s->url = "https://ca.example.com/scep";
    s->name = "EXAMPLE-CA";
    s->subject = rdns;
    s->challenge = "s3cret-challenge";
    s->key_size = 2048;
    s->key_usage = 5;
    s->ca_fingerprint = fp;
    s->ca_fingerprint_len = fp_len;
    s->retries = 3;
    s->retry_delay = 10;
    s->getcacaps = caps("POSTPKIOperation", "Renewal", "SHA-1");
}

/* The PayloadContent of every_setting's payload; FP its 20 bytes. */
static void check_content(plist_t content, const unsigned char *fp)
{
    static const dict_string strings[] = {
        { "URL", "https://ca.example.com/scep", "URL" },
        { "Name", "EXAMPLE-CA", "Name" },
        { "Challenge", "s3cret-challenge", "Challenge" },
        { "Key Type", "RSA", "Key Type RSA" }
    };
    static const struct {
        const char *key;
        long long want;
        const char *name;
    } integers[] = {
        { "Keysize", 2048, "Keysize is the integer 2048" },
        { "Key Usage", 5, "Key Usage is the integer 5" },
        { "Retries", 3, "Retries 3" },
        { "RetryDelay", 10, "RetryDelay 10" }
    };
    plist_t subject, v;
    char *data = NULL;
    uint64_t n = 0;
    apr_size_t i;

    dict_strings(content, strings, sizeof(strings) / sizeof(strings[0]));
    for (i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
        is_int(uint_of(content, integers[i].key), integers[i].want,
               integers[i].name);
    }
    v = item(content, "CAFingerprint", PLIST_DATA);
    ok(v != NULL, "CAFingerprint is data");
    if (v) {
        plist_get_data_val(v, &data, &n);
    }
    ok(n == 20 && data && memcmp(data, fp, 20) == 0,
       "CAFingerprint holds the 20 bytes given");
    free(data);

    subject = item(content, "Subject", PLIST_ARRAY);
    ok(subject != NULL, "Subject is an array");
    is_int(subject ? plist_array_get_size(subject) : 0, 3,
           "Subject has one entry per RDN");
    check_rdn(subject, 0, "O", "Example");
    check_rdn(subject, 1, "OU", "C02XL0GHJGH5");
    check_rdn(subject, 2, "CN", UDID);

    v = item(content, "GetCACaps", PLIST_ARRAY);
    ok(v != NULL, "GetCACaps is an array");
    is_int(v ? plist_array_get_size(v) : 0, 3, "GetCACaps has 3 strings");
    is_str(string_at(v, 0), "POSTPKIOperation", "GetCACaps[0]");
    is_str(string_at(v, 1), "Renewal", "GetCACaps[1]");
    is_str(string_at(v, 2), "SHA-1", "GetCACaps[2]");
}

/* The payload ROOT and its CONTENT against Apple's schema. */
static void check_schema(plist_t root, plist_t content)
{
    const char *dir = schema_dir();
    apr_array_header_t *schema, *common;

    schema = schema_read(apr_pstrcat(pool, dir,
                                     "/com.apple.security.scep.yaml", NULL));
    common = schema_read(apr_pstrcat(pool, dir, "/CommonPayloadKeys.yaml",
                                     NULL));
    ok(schema && schema_find(schema, "Key Usage")
       && schema_find(schema, "CAFingerprint"),
       "Apple's SCEP schema read");
    if (schema && common) {
        apr_array_cat(common, schema);
    }
    check_against_schema(content, schema, "PayloadContent");
    check_against_schema(root, common, "payload");
}

/* S without its optional settings, FIELDS empty: those keys left out. */
static void check_optional(ota_scep_settings *s, apr_table_t *fields)
{
    plist_t root, content;

    s->getcacaps = NULL;
    s->challenge = NULL;
    s->ca_fingerprint = NULL;
    s->name = NULL;
    apr_table_clear(fields);
    root = build(s, fields, NULL);
    content = item(root, "PayloadContent", PLIST_DICT);
    ok(content != NULL, "payload without optional keys built");
    ok(content && !plist_dict_get_item(content, "GetCACaps"),
       "getcacaps NULL: no GetCACaps key");
    ok(content && !plist_dict_get_item(content, "Challenge"),
       "challenge NULL: no Challenge key");
    ok(content && !plist_dict_get_item(content, "CAFingerprint"),
       "ca_fingerprint NULL: no CAFingerprint key");
    ok(content && !plist_dict_get_item(content, "Name"),
       "name NULL: no Name key");
    is_str(ota_plist_dict_get_string(content, "URL", pool),
           "https://ca.example.com/scep", "URL still there");
    check_rdn(item(content, "Subject", PLIST_ARRAY), 2, "CN", "");
}

static void test_payload(void)
{
    static const dict_string top[] = {
        { "PayloadType", "com.apple.security.scep", "PayloadType" },
        { "PayloadIdentifier", "com.example.ota.scep",
          "PayloadIdentifier under the prefix" },
        { "PayloadOrganization", "Example Inc.", "PayloadOrganization" }
    };
    apr_array_header_t *rdns = NULL;
    apr_table_t *fields = apr_table_make(pool, 4);
    unsigned char fp[20];
    ota_scep_settings s;
    plist_t root, content, v;
    const char *why = NULL, *xml = NULL;
    uint32_t i;

    for (i = 0; i < sizeof(fp); i++) {
        fp[i] = (unsigned char)(0xA0 + i);
    }
    apr_table_set(fields, "UDID", UDID);
    apr_table_set(fields, "SERIAL", "C02XL0GHJGH5");
    ok(ota_subject_parse(&rdns, "O=Example/OU=%{SERIAL}/CN=%{UDID}", &why,
                         pool) == APR_SUCCESS, "subject for the payload");
    every_setting(&s, rdns, fp, sizeof(fp));

    root = build(&s, fields, &xml);
    ok(root != NULL, "payload built, serialized and parsed back");
    ok(xml && strstr(xml, "<key>Key Type</key>")
       && strstr(xml, "<key>Key Usage</key>"),
       "the XML spells 'Key Type' and 'Key Usage' with a space");
    dict_strings(root, top, sizeof(top) / sizeof(top[0]));
    v = item(root, "PayloadUUID", PLIST_STRING);
    ok(v && strlen(ota_plist_dict_get_string(root, "PayloadUUID", pool))
       == 36, "PayloadUUID is a UUID");
    is_int(uint_of(root, "PayloadVersion"), 1, "PayloadVersion 1");
    content = item(root, "PayloadContent", PLIST_DICT);
    ok(content != NULL, "PayloadContent is a dict");
    check_content(content, fp);
    check_schema(root, content);
    check_optional(&s, fields);
}

int main(int argc, char **argv)
{
    static const unit_test tests[] = {
        test_subject, test_fill, test_capabilities, test_payload,
        test_san, NULL
    };

    return unit_main(argc, argv, 0, tests);
}
