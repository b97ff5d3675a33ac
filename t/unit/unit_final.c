/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_final: loading the administrator's final profile (both shapes, and
 * the malformed files of t/fixtures/profiles), and building the phase-3
 * profile, read back with CMS_decrypt and with the real peer, `openssl
 * cms`. Usage: unit_final T_DIR (the t/ directory). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ota_final.h"
#include "ota_pool.h"
#include "unit.h"

#define UDID_A "6A1B2C3D-0000-4000-8000-00000000D0CA"
#define UDID_B "6A1B2C3D-0000-4000-8000-00000000D0CB"
#define WIFI_UUID "5B0E1C44-2F7A-4D2B-8C1E-9A6F3D2B7E02"

static X509 *dev_cert, *other_cert;
static EVP_PKEY *dev_key, *other_key;
static const ota_profile_meta meta = {
    "com.example.ota", "Example Org", "Device enrollment", "Final settings"
};

static const char *fixture(const char *name)
{
    return apr_pstrcat(pool, tdir, "/fixtures/profiles/", name, NULL);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;

    while (text && (text = strstr(text, needle)) != NULL) {
        n++;
        text += strlen(needle);
    }
    return n;
}

/* A self-signed P-256 certificate, made with the X509 API. */
static X509 *ec_cert(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);

    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"ec-device", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (!key || !X509_sign(x, key, EVP_sha256())) {
        X509_free(x);
        x = NULL;
    }
    EVP_PKEY_free(key);
    return ota_own_x509(pool, x);
}

static const char *str_at(plist_t dict, const char *key)
{
    return ota_plist_dict_get_string(dict, key, pool);
}

static ota_final_profile *load(const char *file)
{
    ota_final_profile *fp = NULL;
    const char *why = NULL;

    if (ota_final_load(&fp, file, &why, pool) != APR_SUCCESS) {
        printf("# %s refused: %s\n", file, why ? why : "(no why)");
        return NULL;
    }
    return fp;
}

static apr_table_t *fields(const char *udid, const char *user)
{
    apr_table_t *t = apr_table_make(pool, 8);

    if (udid) {
        apr_table_set(t, "UDID", udid);
    }
    apr_table_set(t, "REMOTE_USER", user);
    apr_table_set(t, "SERIAL", "C39ABCDEFGH");
    apr_table_set(t, "DEVICE_NAME", "Alice's iPhone");
    return t;
}

static plist_t build(const ota_final_profile *fp, const char *udid,
                     const char *user, const EVP_CIPHER *cipher)
{
    plist_t out = NULL;
    const char *why = NULL;

    if (!fp || ota_final_build(&out, fp, &meta, fields(udid, user), dev_cert,
                               cipher, &why, pool) != APR_SUCCESS) {
        printf("# build failed: %s\n", why ? why : "(no why)");
        return NULL;
    }
    return out;
}

/* The EnvelopedData DER of a built profile. */
static const char *envelope_of(plist_t outer, apr_size_t *len)
{
    plist_t data = outer ? plist_dict_get_item(outer,
                                               "EncryptedPayloadContent")
                         : NULL;
    uint64_t n = 0;
    const char *der;

    *len = 0;
    if (!data || plist_get_node_type(data) != PLIST_DATA) {
        return NULL;
    }
    der = plist_get_data_ptr(data, &n);
    *len = (apr_size_t)n;
    return der;
}

/* CMS_decrypt of a built profile's content; NULL if it fails. */
static const char *decrypt(plist_t outer, X509 *cert, EVP_PKEY *key,
                           apr_size_t *len)
{
    apr_size_t der_len;
    const char *der = envelope_of(outer, &der_len), *text = NULL;
    BIO *in = der ? BIO_new_mem_buf(der, (int)der_len) : NULL;
    BIO *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms = in ? d2i_CMS_bio(in, NULL) : NULL;
    char *mem;
    long n;

    if (cms && CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY)) {
        n = BIO_get_mem_data(out, &mem);
        text = apr_pstrmemdup(pool, mem, (apr_size_t)n);
        *len = (apr_size_t)n;
    }
    ERR_clear_error();
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    return text;
}

/* The decrypted payload array, parsed. */
static plist_t payloads_of(const char *xml, apr_size_t len)
{
    plist_t root = NULL;
    const char *why = NULL;

    if (!xml || ota_plist_parse(&root, xml, len, &ota_final_limits, &why,
                                pool) != APR_SUCCESS) {
        printf("# decrypted content refused: %s\n", why ? why : "");
        return NULL;
    }
    return plist_get_node_type(root) == PLIST_ARRAY ? root : NULL;
}

static plist_t payload_typed(plist_t array, const char *type)
{
    uint32_t n = array ? plist_array_get_size(array) : 0;
    const char *t;

    for (uint32_t i = 0; i < n; i++) {
        t = str_at(plist_array_get_item(array, i), "PayloadType");
        if (t && strcmp(t, type) == 0) {
            return plist_array_get_item(array, i);
        }
    }
    return NULL;
}

static void test_load_configuration(void)
{
    ota_final_profile *fp = load(fixture("configuration.mobileconfig"));
    plist_t item;

    if (!ok(fp != NULL, "full Configuration profile loads")) {
        return;
    }
    is_int(fp->count, 2, "its two payloads are taken");
    is_str(fp->identifier, "com.example.corp.final",
           "its PayloadIdentifier is kept");
    is_str(fp->display_name, "Example Corp", "its PayloadDisplayName");
    is_str(fp->organization, "Example Corp IT", "its PayloadOrganization");
    is_str(fp->description, "Wi-Fi and mail for %{REMOTE_USER}",
           "its PayloadDescription, still a template");
    item = plist_dict_get_item(fp->top, "PayloadRemovalDisallowed");
    ok(item && plist_get_node_type(item) == PLIST_BOOLEAN,
       "other top-level keys are kept");
    ok(!plist_dict_get_item(fp->top, "PayloadContent")
       && !plist_dict_get_item(fp->top, "PayloadUUID")
       && !plist_dict_get_item(fp->top, "PayloadIdentifier"),
       "keys the build sets are not in top");
}

static void test_load_array(void)
{
    ota_final_profile *fp = load(fixture("payloads.plist"));

    if (!ok(fp != NULL, "bare array of payloads loads")) {
        return;
    }
    is_int(fp->count, 2, "two payloads");
    ok(fp->identifier == NULL && fp->display_name == NULL
       && fp->organization == NULL && fp->description == NULL,
       "no profile-level strings from an array");
    is_int(plist_dict_get_size(fp->top), 0, "no top-level keys");
}

/* Refused, and the why says what is wrong. */
static void refused(const char *file, const char *want, const char *name)
{
    ota_final_profile *fp = NULL;
    const char *why = NULL;
    apr_status_t rv = ota_final_load(&fp, file, &why, pool);

    if (!ok(rv != APR_SUCCESS && fp == NULL && why
            && strstr(why, want) != NULL, name)) {
        printf("#   why: %s\n#   want: %s\n", why ? why : "(null)", want);
    }
}

static void test_refusals(void)
{
    static const struct { const char *file, *want; } bad[] = {
        { "bad-binary.plist", "binary property list" },
        { "bad-not-xml.txt", "not an XML property list" },
        { "bad-malformed.plist", "unbalanced" },
        { "bad-root-string.plist", "neither a Configuration profile" },
        { "bad-single-payload.plist", "one com.apple.wifi.managed payload, "
                                      "not a Configuration profile" },
        { "bad-no-content.plist", "PayloadContent is missing" },
        { "bad-content-dict.plist", "PayloadContent is not an array" },
        { "bad-empty.plist", "the array is empty" },
        { "bad-not-dict.plist", "payload 1 is not a dict" },
        { "bad-no-type.plist", "payload 1 has no PayloadType" },
        { "bad-no-identifier.plist", "has no PayloadIdentifier" },
        { "bad-version.plist", "PayloadVersion is not an integer" },
        { "bad-duplicate-identifier.plist",
          "payload 2 (com.apple.mail.managed): PayloadIdentifier "
          "com.example.ota.final.wifi is used twice" },
        { "bad-duplicate-key.plist", "duplicate key" },
        { "bad-nested.plist", "payload 2 is a Configuration profile" },
        { "bad-encrypted-payload.plist", "payload 1 (com.apple.wifi.managed)"
                                         " is encrypted" },
        { "bad-encrypted-profile.plist", "encrypted already" },
        { "bad-unknown-field.plist", "unknown field %{PASSWORD}; known: " },
        { "bad-unknown-field.plist", "in payload "
                                     "1/EAPClientConfiguration/UserPassword" },
        { "bad-unterminated-field.plist", "unterminated %{ in " },
        { "bad-unterminated-field.plist", "in payload 2/URL" },
        { "bad-templated-identifier.plist", "PayloadIdentifier cannot hold" },
        { "bad-display-name.plist", "PayloadDisplayName, PayloadOrganization "
          "and PayloadDescription must be strings" },
        { "bad-too-deep.plist", "nested too deeply" },
    };

    for (apr_size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        refused(fixture(bad[i].file), bad[i].want,
                apr_psprintf(pool, "%s refused: %s", bad[i].file,
                             bad[i].want));
    }
}

/* Nested n deep (root array and payload dict included). */
static const char *deep_profile(int n)
{
    const char *xml = "<string>x</string>";

    for (int i = 2; i < n; i++) {
        xml = apr_pstrcat(pool, "<array>", xml, "</array>", NULL);
    }
    return apr_pstrcat(pool, "<plist version=\"1.0\"><array><dict>"
                       "<key>PayloadType</key><string>t</string>"
                       "<key>PayloadIdentifier</key><string>i</string>"
                       "<key>Deep</key>", xml, "</dict></array></plist>",
                       NULL);
}

static void test_refusals_made_here(void)
{
    const char *big = scratch_file("big.plist");
    const char *bom = scratch_file("bom.plist");
    const char *deep = scratch_file("deep.plist");
    const char *blank = scratch_file("blank.plist");
    const char *signed_file = scratch_file("signed.mobileconfig");
    const char *xml = slurp_text(fixture("payloads.plist")), *cmd;
    char *pad = apr_palloc(pool, OTA_FINAL_MAX_FILE + 2);
    ota_final_profile *fp;

    memset(pad, ' ', OTA_FINAL_MAX_FILE + 1);
    pad[OTA_FINAL_MAX_FILE + 1] = '\0';
    ok(xml && spill(big, apr_pstrcat(pool, xml, pad, NULL),
                    strlen(xml) + OTA_FINAL_MAX_FILE + 1),
       "a file over 1 MiB written");
    refused(big, "larger than 1048576 bytes", "a file over 1 MiB refused");
    ok(spill(blank, " \n", 2), "a blank file written");
    refused(blank, "not an XML property list", "a blank file refused");
    refused(scratch_file("missing.plist"), "cannot read",
            "a missing file refused");
    refused(scratch, "not a regular file", "a directory refused");
    cmd = apr_psprintf(pool, "openssl cms -sign -nodetach -binary -outform DER"
                       " -in %s -signer %s -inkey %s -out %s 2>/dev/null",
                       fixture("payloads.plist"), pki_file("signing.pem"),
                       pki_file("signing.key"), signed_file);
    ok(system(cmd) == 0, "a signed profile made with openssl cms -sign");
    refused(signed_file, "signed (CMS) profile", "a signed profile refused");

    ok(xml && spill(bom, apr_pstrcat(pool, "\xEF\xBB\xBF", xml, NULL),
                    strlen(xml) + 3), "a file with a byte order mark");
    fp = load(bom);
    ok(fp && fp->count == 2, "a UTF-8 byte order mark is accepted");
    ok(spill(deep, deep_profile(16), strlen(deep_profile(16)))
       && load(deep) != NULL, "nesting 16 deep is accepted");
    ok(spill(deep, deep_profile(17), strlen(deep_profile(17))),
       "17 deep written");
    refused(deep, "nested too deeply", "nesting 17 deep is refused");
}

static void test_outer(const ota_final_profile *fc,
                       const ota_final_profile *fa)
{
    plist_t a1 = build(fc, UDID_A, "alice", NULL);
    plist_t a2 = build(fc, UDID_A, "alice", NULL);
    plist_t b = build(fc, UDID_B, "bob", NULL);
    plist_t arr = build(fa, UDID_A, "alice", NULL);
    plist_t item = a1 ? plist_dict_get_item(a1, "IsEncrypted") : NULL;
    uint64_t version = 0;
    apr_size_t len = 0;

    if (!ok(a1 && a2 && b && arr, "final profiles built")) {
        return;
    }
    is_str(str_at(a1, "PayloadType"), "Configuration", "PayloadType");
    ok(item && plist_get_node_type(item) == PLIST_BOOLEAN
       && plist_bool_val_is_true(item), "IsEncrypted is true");
    ok(!plist_dict_get_item(a1, "PayloadContent"), "no PayloadContent");
    ok(envelope_of(a1, &len) && len > 256,
       "EncryptedPayloadContent is data");
    item = plist_dict_get_item(a1, "PayloadVersion");
    if (item && plist_get_node_type(item) == PLIST_UINT) {
        plist_get_uint_val(item, &version);
    }
    is_int(version, 1, "PayloadVersion 1");
    is_str(str_at(a1, "PayloadIdentifier"), "com.example.corp.final." UDID_A,
           "identifier: the file's, then the UDID");
    is_str(str_at(a2, "PayloadIdentifier"), str_at(a1, "PayloadIdentifier"),
           "the same identifier for the same device on a second run");
    is_str(str_at(b, "PayloadIdentifier"), "com.example.corp.final." UDID_B,
           "another for another device");
    ok(str_at(a1, "PayloadUUID") && str_at(a2, "PayloadUUID")
       && strcmp(str_at(a1, "PayloadUUID"), str_at(a2, "PayloadUUID")),
       "a new PayloadUUID on each run");
    is_str(str_at(a1, "PayloadDisplayName"), "Example Corp",
           "the file's PayloadDisplayName wins over the configuration's");
    is_str(str_at(a1, "PayloadDescription"), "Wi-Fi and mail for alice",
           "top-level strings are filled too");
    ok(plist_dict_get_item(a1, "PayloadRemovalDisallowed") != NULL,
       "other top-level keys of the file are carried over");
    is_str(str_at(arr, "PayloadIdentifier"), "com.example.ota.final." UDID_A,
           "array file: the configuration's identifier + .final + UDID");
    is_str(str_at(arr, "PayloadDisplayName"), "Device enrollment",
           "array file: PayloadDisplayName from the configuration");
    is_str(str_at(arr, "PayloadOrganization"), "Example Org",
           "array file: PayloadOrganization from the configuration");
    is_str(str_at(arr, "PayloadDescription"), "Final settings",
           "array file: PayloadDescription from the configuration");
    is_str(ota_final_identifier(fc, &meta, UDID_B, pool),
           "com.example.corp.final." UDID_B,
           "ota_final_identifier gives what the build writes");
}

static void test_decrypted(const ota_final_profile *fc)
{
    plist_t a = build(fc, UDID_A, "alice", NULL);
    plist_t b = build(fc, UDID_B, "bob", NULL);
    apr_size_t la = 0, lb = 0;
    const char *xa = decrypt(a, dev_cert, dev_key, &la);
    const char *xb = decrypt(b, dev_cert, dev_key, &lb);
    plist_t pa = payloads_of(xa, la), pb = payloads_of(xb, lb);
    plist_t wifi = payload_typed(pa, "com.apple.wifi.managed");
    plist_t mail = payload_typed(pa, "com.apple.mail.managed");
    plist_t mail_b = payload_typed(pb, "com.apple.mail.managed");
    plist_t eap = wifi ? plist_dict_get_item(wifi, "EAPClientConfiguration")
                       : NULL;
    const char *uuid = mail ? str_at(mail, "PayloadUUID") : NULL;

    ok(xa && strncmp(xa, "<?xml", 5) == 0, "decrypts with the device key");
    ok(pa && plist_array_get_size(pa) == 2, "to an XML array of payloads");
    ok(xa && !strstr(xa, "%{") && xb && !strstr(xb, "%{"),
       "no template is left");
    is_str(eap ? str_at(eap, "UserName") : NULL, "alice",
           "%{REMOTE_USER} filled in a nested dict");
    is_str(wifi ? str_at(wifi, "PayloadDescription") : NULL,
           "Corporate Wi-Fi for alice on device " UDID_A,
           "%{REMOTE_USER} and %{UDID} filled in one string");
    is_str(mail ? str_at(mail, "EmailAddress") : NULL, "alice@example.com",
           "filled in the second payload");
    is_str(wifi ? str_at(wifi, "PayloadUUID") : NULL, WIFI_UUID,
           "the file's PayloadUUID is kept");
    ok(uuid && strlen(uuid) == 36, "a missing PayloadUUID is generated");
    ok(uuid && mail_b && str_at(mail_b, "PayloadUUID")
       && strcmp(uuid, str_at(mail_b, "PayloadUUID")) != 0,
       "generated PayloadUUIDs differ between devices");
    is_str(mail_b ? str_at(mail_b, "EmailAddress") : NULL,
           "bob@example.com", "the other device has its own user");
    ok(!plist_dict_get_item(plist_array_get_item(fc->payloads, 1),
                            "PayloadUUID"),
       "the loaded profile is not changed by builds (no UUID added)");
    is_str(str_at(plist_dict_get_item(plist_array_get_item(fc->payloads, 0),
                                      "EAPClientConfiguration"), "UserName"),
           "%{REMOTE_USER}", "the loaded profile keeps its templates");
    ok(decrypt(a, other_cert, other_key, &la) == NULL,
       "another certificate and key cannot decrypt");
    ok(decrypt(a, dev_cert, other_key, &la) == NULL,
       "the device certificate with another key cannot decrypt");
}

/* `openssl cms` reads the envelope: decrypts it, prints it. cipher NULL:
 * the default, which must be AES-256-CBC. */
static void test_openssl(const ota_final_profile *fc, const char *name)
{
    const char *cipher = name ? name : "aes-256-cbc";
    plist_t outer = build(fc, UDID_A, "alice",
                          name ? ota_final_cipher(name) : NULL);
    const char *env = scratch_file("env.der");
    const char *out = scratch_file("out.xml");
    const char *print = scratch_file("print.txt");
    const char *der, *text, *cmd;
    apr_size_t len = 0;

    der = envelope_of(outer, &len);
    ok(der && spill(env, der, len),
       apr_psprintf(pool, "%s: envelope written", cipher));
    cmd = apr_psprintf(pool, "openssl cms -decrypt -binary -inform DER -in %s"
                       " -inkey %s -recip %s -out %s", env,
                       pki_file("ourca-device.key"),
                       pki_file("ourca-device.pem"), out);
    ok(system(cmd) == 0, "openssl cms -decrypt with the device key");
    text = slurp_text(out);
    ok(text && strncmp(text, "<?xml", 5) == 0 && strstr(text, "<array>")
       && strstr(text, "<string>alice</string>")
       && strstr(text, "com.apple.wifi.managed"),
       "openssl outputs the filled payload array");
    cmd = apr_psprintf(pool, "openssl cms -decrypt -binary -inform DER -in %s"
                       " -inkey %s -recip %s -out %s 2>/dev/null", env,
                       pki_file("selfsigned-device.key"),
                       pki_file("selfsigned-device.pem"), out);
    ok(system(cmd) != 0, "openssl cms -decrypt with another key fails");
    cmd = apr_psprintf(pool, "openssl cms -cmsout -print -inform DER -in %s "
                       "-out %s", env, print);
    text = system(cmd) == 0 ? slurp_text(print) : NULL;
    ok(text && strstr(text, "pkcs7-envelopedData"), "an EnvelopedData");
    is_int(count_of(text, "d.ktri:"), 1, "exactly one recipient, "
           "KeyTransRecipientInfo");
    ok(text && !strstr(text, "d.kari") && !strstr(text, "d.kekri")
       && !strstr(text, "d.pwri") && !strstr(text, "d.ori"),
       "no recipient of another kind");
    ok(text && strstr(text, apr_pstrcat(pool, "algorithm: ", cipher, " (",
                                        NULL)),
       apr_psprintf(pool, "content enciphered with %s%s", cipher,
                    name ? "" : " (the default)"));
}

/* Arrays, keys, data, escaping: an inline profile. */
static const char inline_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n"
    "<array><dict>"
    "<key>PayloadType</key><string>com.example.test</string>"
    "<key>PayloadIdentifier</key><string>com.example.test.%{UDID}</string>"
    "<key>Items</key><array><string>a-%{UDID}</string>"
    "<array><string>nested-%{REMOTE_USER}</string></array></array>"
    "<key>%{UDID}</key><string>keys are not templates</string>"
    "<key>%{NOPE}</key><string>unknown fields in keys do not matter</string>"
    "<key>Plain</key><string>50% off {x} %</string>"
    "<key>Missing</key><string>[%{IMEI}]</string>"
    "<key>Blob</key><data>AAEC/w==</data>"
    "<key>Port</key><integer>8443</integer>"
    "</dict></array></plist>\n";

static void test_inline(void)
{
    const char *file = scratch_file("inline.plist");
    ota_final_profile *fp = NULL;
    plist_t outer, arr, d, item;
    const char *xml, *blob = NULL;
    apr_size_t len = 0;
    uint64_t n = 0;

    ok(spill(file, inline_xml, strlen(inline_xml))
       && (fp = load(file)) != NULL, "inline profile loads");
    outer = build(fp, UDID_A, "o'brien & <co>", NULL);
    xml = decrypt(outer, dev_cert, dev_key, &len);
    arr = payloads_of(xml, len);
    d = arr ? plist_array_get_item(arr, 0) : NULL;
    is_str(str_at(d, "PayloadIdentifier"), "com.example.test." UDID_A,
           "a payload's PayloadIdentifier may be a template");
    item = d ? plist_access_path(d, 2, "Items", 0) : NULL;
    is_str(item ? plist_get_string_ptr(item, NULL) : NULL, "a-" UDID_A,
           "array items are filled");
    item = d ? plist_access_path(d, 3, "Items", 1, 0) : NULL;
    is_str(item ? plist_get_string_ptr(item, NULL) : NULL,
           "nested-o'brien & <co>", "nested arrays are filled; XML escaped");
    is_str(str_at(d, "%{UDID}"), "keys are not templates",
           "keys stay as written");
    is_str(str_at(d, "Plain"), "50% off {x} %", "a lone % stays");
    is_str(str_at(d, "Missing"), "[]", "a field the device did not send "
           "is empty");
    item = d ? plist_dict_get_item(d, "Blob") : NULL;
    if (item && plist_get_node_type(item) == PLIST_DATA) {
        blob = plist_get_data_ptr(item, &n);
    }
    ok(blob && n == 4 && memcmp(blob, "\x00\x01\x02\xff", 4) == 0,
       "data is carried through");
    item = d ? plist_dict_get_item(d, "Port") : NULL;
    n = 0;
    if (item && plist_get_node_type(item) == PLIST_UINT) {
        plist_get_uint_val(item, &n);
    }
    is_int(n, 8443, "integers are carried through");
}

/* A build refused, and why. */
static void build_refused(const ota_final_profile *fp,
                          const ota_profile_meta *m, apr_table_t *f,
                          X509 *cert, const EVP_CIPHER *cipher,
                          const char *want, const char *name)
{
    plist_t out = NULL;
    const char *why = NULL;
    apr_status_t rv = fp ? ota_final_build(&out, fp, m, f, cert, cipher,
                                           &why, pool)
                         : APR_EGENERAL;

    if (!ok(rv != APR_SUCCESS && out == NULL && why && strstr(why, want),
            name)) {
        printf("#   why: %s\n#   want: %s\n", why ? why : "(null)", want);
    }
}

static void test_build_refusals(const ota_final_profile *fc,
                                const ota_final_profile *fa)
{
    ota_profile_meta bare = { NULL, "Example Org", "Device enrollment",
                              NULL };

    build_refused(fc, &meta, fields(NULL, "alice"), dev_cert, NULL,
                  "UDID is missing", "no UDID: refused");
    build_refused(fc, &meta, fields("../../etc", "alice"), dev_cert, NULL,
                  "UDID is missing or malformed", "a UDID with / refused");
    build_refused(fc, &meta, fields(UDID_A, "al\001ice"), dev_cert, NULL,
                  "filled into payload 1/PayloadDescription holds control "
                  "characters", "a control character from a field refused");
    build_refused(fc, &meta, fields(UDID_A, "alice"), NULL, NULL,
                  "no device certificate", "no certificate: refused");
    build_refused(fc, &meta, fields(UDID_A, "alice"), ec_cert(), NULL,
                  "not RSA", "an EC device certificate refused");
    build_refused(fc, &meta, fields(UDID_A, "alice"), dev_cert,
                  EVP_des_cbc(), "DES-CBC is not allowed",
                  "single DES refused by the build too");
    build_refused(fa, &bare, fields(UDID_A, "alice"), dev_cert, NULL,
                  "no PayloadIdentifier prefix",
                  "no identifier anywhere: refused");
    ok(build(fc, UDID_A, "alice", NULL) != NULL,
       "the same file still builds after refusals");
}

static void test_cipher_names(void)
{
    const EVP_CIPHER *c;

    c = ota_final_cipher("aes-256-cbc");
    is_int(c ? EVP_CIPHER_get_nid(c) : 0, NID_aes_256_cbc, "aes-256-cbc");
    c = ota_final_cipher("AES-128-CBC");
    is_int(c ? EVP_CIPHER_get_nid(c) : 0, NID_aes_128_cbc,
           "AES-128-CBC, case ignored");
    c = ota_final_cipher("des-ede3-cbc");
    is_int(c ? EVP_CIPHER_get_nid(c) : 0, NID_des_ede3_cbc, "des-ede3-cbc");
    ok(ota_final_cipher("des-cbc") == NULL, "single DES: unknown");
    ok(ota_final_cipher("rc2-cbc") == NULL, "RC2: unknown");
    ok(ota_final_cipher("aes-256-gcm") == NULL, "AES-GCM: unknown");
    ok(ota_final_cipher("") == NULL && ota_final_cipher(NULL) == NULL,
       "empty and NULL: unknown");
}

static void run(void)
{
    ota_final_profile *fc, *fa;

    dev_cert = cert_file(pki_file("ourca-device.pem"));
    dev_key = key_file(pki_file("ourca-device.key"));
    other_cert = cert_file(pki_file("selfsigned-device.pem"));
    other_key = key_file(pki_file("selfsigned-device.key"));
    if (!ok(dev_cert && dev_key && other_cert && other_key,
            "device identities loaded")) {
        return;
    }
    test_load_configuration();
    test_load_array();
    test_refusals();
    test_refusals_made_here();
    fc = load(fixture("configuration.mobileconfig"));
    fa = load(fixture("payloads.plist"));
    if (!ok(fc && fa, "fixtures loaded for building")) {
        return;
    }
    test_outer(fc, fa);
    test_decrypted(fc);
    test_openssl(fc, NULL);
    test_openssl(fc, "des-ede3-cbc");
    test_openssl(fc, "aes-128-cbc");
    test_inline();
    test_build_refusals(fc, fa);
    test_cipher_names();
}

int main(int argc, char **argv)
{
    if (unit_setup(argc, argv, UNIT_PKI | UNIT_SCRATCH)) {
        run();
    }
    return unit_done();
}
