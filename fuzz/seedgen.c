/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Writes the generated seeds of fuzz/corpus (files named gen-*): valid
 * inputs made with the module's own code and the fixed test PKI of
 * fuzz/pki, so that every tree decrypts and verifies them alike.
 * `make fuzz-seeds` runs it; the real fixtures are copied beside them.
 * Usage: seedgen TOP OUTDIR (OUTDIR/<target>/gen-*). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_base64.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ota_cms.h"
#include "ota_scep.h"

static apr_pool_t *pool;
static const char *top, *out;
static int written, failed;

static void put(const char *target, const char *name, const void *data,
                apr_size_t len)
{
    const char *dir = apr_pstrcat(pool, out, "/", target, NULL);
    const char *file = apr_pstrcat(pool, dir, "/gen-", name, NULL);
    FILE *f;

    mkdir(out, 0755);
    mkdir(dir, 0755);
    if (!data || !(f = fopen(file, "wb"))) {
        fprintf(stderr, "seedgen: cannot write %s\n", file);
        failed++;
        return;
    }
    if (fwrite(data, 1, len, f) != len) {
        failed++;
    }
    fclose(f);
    written++;
}

static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

static const char *pki(const char *name)
{
    return apr_pstrcat(pool, top, "/fuzz/pki/", name, NULL);
}

static ota_identity *identity(const char *name)
{
    ota_identity *id = NULL;
    const char *why = NULL;

    if (ota_identity_load(&id, pki(apr_pstrcat(pool, name, ".pem", NULL)),
                          pki(apr_pstrcat(pool, name, ".key", NULL)), &why,
                          pool) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: %s: %s\n", name, why ? why : "?");
        exit(1);
    }
    return id;
}

/* ---- device attributes (fuzz_device_plist, and signed: fuzz_phase2) ---- */

#define PLIST_HEAD \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" " \
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n" \
    "<plist version=\"1.0\">\n"

static const char *const attribute_plists[][2] = {
    { "ios4", PLIST_HEAD "<dict>\n"
      "\t<key>CHALLENGE</key>\n\t<string>q7Vd1Wn2kz9yH0sR4bXcLmPfTgE8uJaO"
      "</string>\n"
      "\t<key>IMEI</key>\n\t<string>01 234500 678901 2</string>\n"
      "\t<key>MEID</key>\n\t<string>A1000012345678</string>\n"
      "\t<key>PRODUCT</key>\n\t<string>iPhone3,1</string>\n"
      "\t<key>SERIAL</key>\n\t<string>C39ABCDEFGH</string>\n"
      "\t<key>UDID</key>\n"
      "\t<string>6a1b2c3d00004000800000000000d001aabbccdd</string>\n"
      "\t<key>VERSION</key>\n\t<string>8A293</string>\n"
      "\t<key>DEVICE_NAME</key>\n\t<string>Alice&apos;s iPhone</string>\n"
      "</dict>\n</plist>\n" },
    { "phase3", PLIST_HEAD "<dict>\n"
      "\t<key>PRODUCT</key>\n\t<string>iPad2,1</string>\n"
      "\t<key>UDID</key>\n"
      "\t<string>6A1B2C3D-0000-4000-8000-00000000D0CA</string>\n"
      "\t<key>VERSION</key>\n\t<string>9A334</string>\n"
      "</dict>\n</plist>\n" },
    { "macos-user", PLIST_HEAD "<dict>\n"
      "\t<key>CHALLENGE</key>\n\t<string>c</string>\n"
      "\t<key>NotOnConsole</key>\n\t<true/>\n"
      "\t<key>UDID</key>\n\t<string>78897E40-F532-5DE0-A7DC-56BAC5CEEB9C"
      "</string>\n"
      "\t<key>UserID</key>\n\t<string>D9DD912C-1B1E-413F-86A5-3BE29F13AB2D"
      "</string>\n"
      "\t<key>UserLongName</key>\n\t<string>J&#xF6;rg &amp; Co</string>\n"
      "\t<key>UserShortName</key>\n\t<string>jorg</string>\n"
      "\t<key>MAC_ADDRESS_EN0</key>\n\t<string>a4:83:e7:00:11:22</string>\n"
      "</dict>\n</plist>\n" },
    { "compact", "<plist><dict><key>UDID</key><string>0123456789abcdef"
      "</string><key>ICCID</key><string/></dict></plist>" },
    /* refused, each for one reason: the fuzzer starts next to the edges */
    { "no-udid", PLIST_HEAD "<dict><key>SERIAL</key><string>X</string>"
      "</dict></plist>" },
    { "udid-bad", "<plist><dict><key>UDID</key><string>not-hex!</string>"
      "</dict></plist>" },
    { "udid-int", "<plist><dict><key>UDID</key><integer>1</integer>"
      "</dict></plist>" },
    { "case-dup", "<plist><dict><key>UDID</key><string>0123456789</string>"
      "<key>udid</key><string>0123456789</string></dict></plist>" },
    { "dup-key", "<plist><dict><key>UDID</key><string>0123456789</string>"
      "<key>UDID</key><string>9876543210</string></dict></plist>" },
    { "control", "<plist><dict><key>UDID</key><string>0123456789</string>"
      "<key>SERIAL</key><string>a&#x9;b</string></dict></plist>" },
    { "doctype-subset", "<?xml version=\"1.0\"?><!DOCTYPE plist [<!ENTITY "
      "a \"aaaa\">]><plist><dict><key>UDID</key><string>&a;</string></dict>"
      "</plist>" },
    { "cdata", "<plist><dict><key>UDID</key><string><![CDATA[0123456789]]>"
      "</string></dict></plist>" },
    { "comment", "<plist><!-- <dict> --><dict><key>UDID</key><string>"
      "0123456789</string><!-- </dict> --></dict></plist>" },
    { "deep", "<plist><dict><key>a</key><array><dict><key>b</key><array>"
      "<dict/></array></dict></array><key>UDID</key><string>0123456789"
      "</string></dict></plist>" },
    { "array-root", "<plist><array><string>UDID</string></array></plist>" },
    { "key-attr", "<plist><dict><key a=\"1\">UDID</key><string>0123456789"
      "</string></dict></plist>" },
    { "types", "<plist><dict><key>UDID</key><string>0123456789</string>"
      "<key>n</key><real>1.5</real><key>d</key><date>2010-06-01T00:00:00Z"
      "</date><key>b</key><data>AAEC</data></dict></plist>" },
    { "bplist", "bplist00\xd1\x01\x02TUDIDZ0123456789\x08\x0b\x10\x00\x00"
      "\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x1b" },
};

#define N_PLISTS (sizeof(attribute_plists) / sizeof(attribute_plists[0]))

static void device_plists(void)
{
    for (apr_size_t i = 0; i < N_PLISTS; i++) {
        put_text("device_plist", apr_pstrcat(pool, attribute_plists[i][0],
                                             ".plist", NULL),
                 attribute_plists[i][1]);
    }
}

/* ---- phase 2 and 3 bodies ---- */

static void signed_body(const char *name, const ota_identity *id,
                        const char *xml, const EVP_MD *md, int attrs)
{
    const unsigned char *der = NULL;
    apr_size_t len = 0;

    if (ota_cms_sign(&der, &len, id, xml, strlen(xml), md, attrs, pool)
        != APR_SUCCESS) {
        fprintf(stderr, "seedgen: sign %s: %s\n", name,
                ota_openssl_error(pool));
        failed++;
        return;
    }
    put("phase2", name, der, len);
}

static void phase2_bodies(void)
{
    ota_identity *device = identity("device");
    ota_identity *rogue = identity("rogue-leaf");
    ota_identity *weak = identity("rsa512-device");
    ota_identity *ourca = identity("ourca-device");
    const char *ios4 = attribute_plists[0][1];

    /* as real devices sign: SHA-1, no signed attributes */
    signed_body("ios4-sha1.der", device, ios4, EVP_sha1(), 0);
    signed_body("ios4-sha256-attrs.der", device, ios4, EVP_sha256(), 1);
    signed_body("macos-sha1.der", device, attribute_plists[2][1],
                EVP_sha1(), 0);
    signed_body("no-udid.der", device, attribute_plists[4][1], EVP_sha1(),
                0);
    signed_body("dup-key.der", device, attribute_plists[8][1], EVP_sha1(),
                0);
    signed_body("md5.der", device, ios4, EVP_md5(), 0);
    signed_body("rogue-leaf.der", rogue, ios4, EVP_sha1(), 0);
    signed_body("rsa512.der", weak, ios4, EVP_sha1(), 0);
    /* phase 3: signed by an identity of the strict store's CA */
    signed_body("phase3-ourca.der", ourca, attribute_plists[1][1],
                EVP_sha256(), 1);
    signed_body("phase3-ourca-sha1.der", ourca, attribute_plists[1][1],
                EVP_sha1(), 0);
}

/* ---- SCEP pkiMessages, and the same sent by GET ---- */

static const char *get_variant(const unsigned char *der, apr_size_t len,
                               int variant)
{
    char *b64 = apr_palloc(pool, apr_base64_encode_len((int)len));
    const char *args = "operation=PKIOperation&message=";
    char *enc, *e;

    apr_base64_encode(b64, (const char *)der, (int)len);
    switch (variant) {
    case 0:                         /* raw: '+' reads as a space */
        return apr_pstrcat(pool, args, b64, NULL);
    case 1:                         /* percent-encoded, message first */
        enc = e = apr_palloc(pool, strlen(b64) * 3 + 1);
        for (const char *c = b64; *c; c++) {
            if (*c == '+' || *c == '/' || *c == '=') {
                e += sprintf(e, "%%%02X", (unsigned char)*c);
            }
            else {
                *e++ = *c;
            }
        }
        *e = '\0';
        return apr_pstrcat(pool, "message=", enc,
                           "&operation=PKIOperation", NULL);
    default:                        /* line breaks every 64, as PEM */
        enc = e = apr_palloc(pool, strlen(b64) * 2 + 1);
        for (apr_size_t i = 0; b64[i]; i++) {
            if (i && i % 64 == 0) {
                e += sprintf(e, "%%0A");
            }
            *e++ = b64[i] == '+' ? ' ' : b64[i];
        }
        *e = '\0';
        return apr_pstrcat(pool, args, enc, NULL);
    }
}

static void scep(const char *name, const ota_scep_client *c, int get)
{
    ota_scep_sent *s = NULL;

    if (ota_scep_request_build(&s, c, pool) != APR_SUCCESS) {
        fprintf(stderr, "seedgen: scep %s: %s\n", name,
                ota_openssl_error(pool));
        failed++;
        return;
    }
    put("scep_pki", name, s->der, s->len);
    if (get >= 0) {
        put_text("scep_get", apr_pstrcat(pool, apr_pstrndup(pool, name,
                                                            strlen(name) - 4),
                                         ".query", NULL),
                 get_variant(s->der, s->len, get));
    }
}

static X509_NAME *subject(const char *cn)
{
    X509_NAME *n = X509_NAME_new();

    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                               (const unsigned char *)"Example", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    return n;
}

static void scep_messages(void)
{
    ota_identity *ca = identity("signing-ca");
    ota_identity *issued = identity("ourca-device");
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509_NAME *name = subject("6A1B2C3D-0000-4000-8000-00000000D001");
    X509_REQ *csr = NULL, *renew = NULL;
    X509 *self = NULL;
    ota_scep_client c;
    const unsigned char *der;
    apr_size_t len;

    if (!key || ota_scep_init() != APR_SUCCESS
        || ota_scep_self_signed(&self, key, "SCEP SIGNER", 1, pool)
        || ota_scep_csr(&csr, key, name, "fuzz-challenge", pool)
        || ota_scep_csr(&renew, key, X509_get_subject_name(issued->cert),
                        NULL, pool)) {
        fprintf(stderr, "seedgen: SCEP setup: %s\n", ota_openssl_error(pool));
        exit(1);
    }
    memset(&c, 0, sizeof(c));
    c.key = key;
    c.cert = self;
    c.recipient = ca->cert;
    c.type = OTA_SCEP_PKCS_REQ;
    c.csr = csr;
    scep("pkcsreq-sha256-aes256.der", &c, 0);
    c.md = EVP_sha512();
    c.cipher = EVP_aes_128_cbc();
    scep("pkcsreq-sha512-aes128.der", &c, 1);
    c.md = EVP_sha1();
    c.cipher = EVP_des_ede3_cbc();
    scep("pkcsreq-sha1-3des.der", &c, 2);
    c.md = NULL;
    c.cipher = NULL;
    c.transaction_id = "fuzz transaction id";
    scep("pkcsreq-tid-text.der", &c, -1);
    c.transaction_id = NULL;
    /* RenewalReq: signed by a certificate the CA issued, new key */
    c.type = OTA_SCEP_RENEWAL_REQ;
    c.key = issued->key;
    c.cert = issued->cert;
    c.csr = renew;
    scep("renewalreq.der", &c, 0);
    /* GetCertInitial, GetCert, GetCRL */
    c.key = key;
    c.cert = self;
    c.csr = NULL;
    c.type = OTA_SCEP_CERT_POLL;
    c.issuer = X509_get_subject_name(ca->cert);
    c.subject = name;
    c.transaction_id = ota_scep_transaction_id(key, pool);
    scep("certpoll.der", &c, 1);
    c.type = OTA_SCEP_GET_CERT;
    c.serial = X509_get0_serialNumber(issued->cert);
    scep("getcert.der", &c, 2);
    c.type = OTA_SCEP_GET_CRL;
    scep("getcrl.der", &c, -1);
    /* not a PKIOperation's: a certificates-only SignedData */
    if (ota_scep_certs_only(&der, &len, ca->chain, pool) == APR_SUCCESS) {
        put("scep_pki", "certs-only.der", der, len);
    }
    put_text("scep_get", "operation-only.query", "operation=PKIOperation");
    put_text("scep_get", "bad-escape.query",
             "operation=PKIOperation&message=MIIB%zzAA");
    put_text("scep_get", "nul-escape.query", "message=MII%00B");
    put_text("scep_get", "not-base64.query", "message=MIIB*AAA&x=1");
    put_text("scep_get", "padding.query", "message=YQ==&message=YWJj");
    X509_NAME_free(name);
    EVP_PKEY_free(key);
}

/* ---- templates and final profiles ---- */

static void templates(void)
{
    put_text("template", "subject.txt",
             "O=Example/CN=%{UDID}\nUDID=6A1B2C3D-0000-4000-8000-00000000D001"
             "\n");
    put_text("template", "all-fields.txt",
             "CN=%{UDID}/OU=%{SERIAL}/O=%{PRODUCT} %{VERSION}/"
             "1.2.840.113549.1.9.1=%{REMOTE_USER}@example.com/L=%{IMEI}"
             "%{MEID}/E=%{DEVICE_NAME}\nUDID=abc\nSERIAL=C39\nPRODUCT=iPad\n"
             "VERSION=9A\nREMOTE_USER=alice\nIMEI=1\nMEID=2\n"
             "DEVICE_NAME=A's\n");
    put_text("template", "unknown.txt", "CN=%{PASSWORD}\nPASSWORD=x\n");
    put_text("template", "unterminated.txt", "CN=%{UDID\nUDID=x\n");
    put_text("template", "nested.txt", "CN=%{%{UDID}}\nUDID=%{UDID}\n");
    put_text("template", "empty-rdn.txt", "CN=/O=\n");
    put_text("template", "no-template.txt", "https://example.com/a?b=c\n");
}

static void profiles(void)
{
    put_text("final", "minimal-array.plist",
             "<plist><array><dict><key>PayloadType</key><string>"
             "com.apple.webClip.managed</string><key>PayloadIdentifier"
             "</key><string>a.b</string><key>URL</key><string>"
             "https://x/%{UDID}?u=%{REMOTE_USER}</string></dict></array>"
             "</plist>");
    put_text("final", "configuration.plist",
             "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict>"
             "<key>PayloadType</key><string>Configuration</string>"
             "<key>PayloadIdentifier</key><string>org.example.final</string>"
             "<key>PayloadDisplayName</key><string>Hi %{DEVICE_NAME}"
             "</string><key>PayloadRemovalDisallowed</key><true/>"
             "<key>PayloadContent</key><array><dict><key>PayloadType</key>"
             "<string>com.apple.mail.managed</string><key>"
             "PayloadIdentifier</key><string>m</string><key>PayloadUUID"
             "</key><string>5B0E1C44-2F7A-4D2B-8C1E-9A6F3D2B7E02</string>"
             "<key>PayloadVersion</key><integer>1</integer><key>"
             "EmailAddress</key><string>%{REMOTE_USER}@example.com</string>"
             "<key>Nested</key><array><dict><key>k</key><string>%{SERIAL}"
             "%{IMEI}%{MEID}%{PRODUCT}%{VERSION}</string></dict></array>"
             "<key>Cert</key><data>MIIBAA==</data></dict></array></dict>"
             "</plist>");
}

static void status_pages(void)
{
    put_text("status", "devices.txt",
             "page=1&phase=2&q=iPhone\n"
             "6A1B2C3D-0000-4000-8000-00000000D001\tC39ABCDEFGH\tiPhone3,1"
             "\t8A293\talice\n"
             "<script>alert(1)</script>\t\"'&\tcaf\xc3\xa9\t\xff\xc0\xaf"
             "\t\xe2\x80\xa8" "bob\n");
    put_text("status", "json.txt", "format=json&q=%3Cb%3E&page=2\n"
             "a\tb\tc\td\te\n");
    put_text("status", "bad-query.txt", "page=0&phase=9&q=\n");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: seedgen TOP OUTDIR\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&pool, NULL);
    top = argv[1];
    out = argv[2];
    device_plists();
    phase2_bodies();
    scep_messages();
    templates();
    profiles();
    status_pages();
    printf("seedgen: %d seeds written to %s\n", written, out);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed ? 1 : 0;
}
