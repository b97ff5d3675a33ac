/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota_ca: loading the built-in CA, judging requests, issuing. Requests and
 * odd CAs are built here with OpenSSL's X509 and X509_REQ APIs; issued
 * certificates are checked with X509_verify, a strict X509_STORE and the
 * real `openssl verify`. Usage: unit_ca T_DIR (the t/ directory). */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ota_ca.h"
#include "ota_pool.h"
#include "unit.h"

#define UDID "6A1B2C3D-0000-4000-8000-00000000D001"
#define ORG  "mod_ota_enroll test"

static long next_serial = 1;

/* The subject most tests request: O=..., CN=UDID (two RDNs), then the
 * { NULL } end entries() counts to. */
static const ota_ca_subject_entry device_subject[] = {
    { "O", ORG, 0 }, { "CN", UDID, 0 }, { NULL }
};

static EVP_PKEY *ec_key(const char *curve)
{
    return owned_key(EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve));
}

static int write_file(const char *file, const char *a, const char *b)
{
    char cmd[1024];

    apr_snprintf(cmd, sizeof(cmd), "cat %s %s > %s", a, b ? b : "", file);
    fflush(stdout);
    return system(cmd) == 0;
}

/* ---- requests ---- */

static X509_NAME *name_of(const ota_ca_subject_entry *e, int n, int type)
{
    X509_NAME *name = X509_NAME_new();
    int i;

    for (i = 0; name && i < n; i++) {
        if (!X509_NAME_add_entry_by_txt(name, e[i].type, type,
                                        (const unsigned char *)e[i].value,
                                        -1, -1, e[i].same_rdn ? -1 : 0)) {
            printf("# cannot add %s: %s\n", e[i].type,
                   ota_openssl_error(pool));
        }
    }
    return name;
}

/* Signs req (freeing it) and returns it after a trip through DER, as a
 * device would send it; NULL on failure. */
static X509_REQ *finish_csr(X509_REQ *req, EVP_PKEY *signer,
                            const EVP_MD *md)
{
    unsigned char *der = NULL;
    const unsigned char *cursor;
    X509_REQ *back = NULL;
    int n = 0;

    if (req && X509_REQ_sign(req, signer, md) > 0
        && (n = i2d_X509_REQ(req, &der)) > 0) {
        cursor = der;
        back = d2i_X509_REQ(NULL, &cursor, n);
    }
    OPENSSL_free(der);
    X509_REQ_free(req);
    if (!back) {
        printf("# cannot build a request: %s\n", ota_openssl_error(pool));
        return NULL;
    }
    return ota_own_x509_req(pool, back);
}

/* A request for pub's key with subject e[0..n) (string type as
 * X509_NAME_add_entry_by_txt takes it) and extensions exts, signed by
 * signer with md. */
static X509_REQ *csr_full(const ota_ca_subject_entry *e, int n, int type,
                          EVP_PKEY *pub, EVP_PKEY *signer, const EVP_MD *md,
                          STACK_OF(X509_EXTENSION) *exts)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = name_of(e, n, type);
    int ok;

    ok = req && name && pub && signer
         && X509_REQ_set_subject_name(req, name)
         && X509_REQ_set_pubkey(req, pub)
         && (!exts || X509_REQ_add_extensions(req, exts));
    X509_NAME_free(name);
    if (!ok) {
        X509_REQ_free(req);
        req = NULL;
    }
    return finish_csr(req, signer, md);
}

static X509_REQ *csr_for(EVP_PKEY *key, const EVP_MD *md)
{
    return csr_full(device_subject, 2, MBSTRING_UTF8, key, key, md, NULL);
}

static X509_REQ *csr_named(const ota_ca_subject_entry *e, int n,
                           EVP_PKEY *key)
{
    return csr_full(e, n, MBSTRING_UTF8, key, key, EVP_sha256(), NULL);
}

/* The verdict, or -1 if ota_ca_csr_check itself failed. */
static int verdict(X509_REQ *csr, const ota_ca_policy *policy)
{
    ota_ca_csr_verdict v;
    const char *detail = NULL;

    if (!csr || ota_ca_csr_check(&v, &detail, csr, policy, pool)
                != APR_SUCCESS) {
        return -1;
    }
    if (v != OTA_CA_CSR_OK) {
        printf("# %s: %s\n", ota_ca_csr_verdict_name(v),
               detail ? detail : "(no detail)");
    }
    return (int)v;
}

/* ---- CAs built here ---- */

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext;
    int ok;

    if (!value) {
        return 1;
    }
    ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A self-signed certificate named cn, valid from `from` to `to` days from
 * now, written to scratch as NAME.pem and NAME.key; returns NAME.pem. */
static const char *make_ca(const char *name, EVP_PKEY *key, const EVP_MD *md,
                           const char *bc, const char *ku, long from,
                           long to)
{
    X509 *x = X509_new();
    X509V3_CTX ctx;
    BIO *out;
    const char *pem = scratch_file(apr_pstrcat(pool, name, ".pem", NULL));
    int ok;

    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ok = x && key && X509_set_version(x, X509_VERSION_3)
         && ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++)
         && X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
                                       MBSTRING_UTF8,
                                       (const unsigned char *)name, -1, -1, 0)
         && X509_set_issuer_name(x, X509_get_subject_name(x))
         && X509_time_adj_ex(X509_getm_notBefore(x), from, 0, NULL)
         && X509_time_adj_ex(X509_getm_notAfter(x), to, 0, NULL)
         && X509_set_pubkey(x, key)
         && add_ext(x, &ctx, NID_basic_constraints, bc)
         && add_ext(x, &ctx, NID_key_usage, ku)
         && add_ext(x, &ctx, NID_subject_key_identifier, "hash")
         && X509_sign(x, key, md) > 0;
    if (ok && (ok = (out = BIO_new_file(pem, "w")) != NULL)) {
        ok = PEM_write_bio_X509(out, x);
        BIO_free(out);
    }
    if (ok && (ok = (out = BIO_new_file(scratch_file(apr_pstrcat(
                        pool, name, ".key", NULL)), "w")) != NULL)) {
        ok = PEM_write_bio_PrivateKey(out, key, NULL, NULL, 0, NULL, NULL);
        BIO_free(out);
    }
    X509_free(x);
    if (!ok) {
        printf("# cannot make CA %s: %s\n", name, ota_openssl_error(pool));
    }
    return pem;
}

static ota_ca *load(const char *cert, const char *key, const char **why)
{
    ota_ca *ca = NULL;

    *why = NULL;
    if (ota_ca_load(&ca, cert, key, why, pool) != APR_SUCCESS) {
        printf("# %s\n", *why ? *why : "(no why)");
        return NULL;
    }
    return ca;
}

/* Loading must fail, and why must contain `says`. */
static void refused(const char *cert, const char *key, const char *says,
                    const char *what)
{
    const char *why = NULL;
    ota_ca *ca = load(cert, key, &why);

    ok(ca == NULL, apr_pstrcat(pool, "load refuses ", what, NULL));
    ok(why && strstr(why, says),
       apr_pstrcat(pool, what, ": why says '", says, "'", NULL));
}

/* ---- checks on issued certificates ---- */

static int store_verifies(X509 *cert, X509 *anchor, X509 *untrusted,
                          int purpose, unsigned long flags)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = sk_X509_new_null();
    X509_VERIFY_PARAM *param;
    int ok = 0;

    if (store && ctx && chain && anchor && X509_STORE_add_cert(store, anchor)
        && (!untrusted || sk_X509_push(chain, untrusted))
        && X509_STORE_CTX_init(ctx, store, cert, chain)) {
        param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_auth_level(param, 2);
        X509_VERIFY_PARAM_set_purpose(param, purpose);
        if (flags) {
            X509_VERIFY_PARAM_set_flags(param, flags);
        }
        ok = X509_verify_cert(ctx) == 1;
        if (!ok) {
            printf("# X509_verify_cert: %s\n", X509_verify_cert_error_string(
                       X509_STORE_CTX_get_error(ctx)));
        }
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(chain);
    ERR_clear_error();
    return ok;
}

static void check_verifies(const ota_ca *ca, X509 *cert, X509 *anchor,
                           const char *what)
{
    X509 *ca_cert = ota_ca_cert(ca);
    X509 *untrusted = anchor == ca_cert ? NULL : ca_cert;

    ok(X509_verify(cert, X509_get0_pubkey(ca_cert)) == 1,
       apr_pstrcat(pool, what, ": X509_verify with the CA key", NULL));
    ok(store_verifies(cert, anchor, untrusted, X509_PURPOSE_SSL_CLIENT, 0),
       apr_pstrcat(pool, what, ": strict store (default flags, auth "
                   "level 2, SSL client) accepts it", NULL));
    ok(store_verifies(cert, anchor, untrusted, X509_PURPOSE_SSL_CLIENT,
                      X509_V_FLAG_X509_STRICT),
       apr_pstrcat(pool, what, ": and with X509_V_FLAG_X509_STRICT", NULL));
    ok(!store_verifies(cert, anchor, untrusted, X509_PURPOSE_SSL_SERVER, 0),
       apr_pstrcat(pool, what, ": not as a TLS server (EKU clientAuth)",
                   NULL));
}

static int critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);

    return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void check_key_ids(const ota_ca *ca, X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);
    const ASN1_OCTET_STRING *akid = X509_get0_authority_key_id(cert);
    const ASN1_OCTET_STRING *ca_skid;

    ca_skid = X509_get0_subject_key_id(ota_ca_cert(ca));
    ok(X509_pubkey_digest(cert, EVP_sha1(), md, &len) && skid
       && ASN1_STRING_length(skid) == (int)len
       && memcmp(ASN1_STRING_get0_data(skid), md, len) == 0,
       "subjectKeyIdentifier: SHA-1 of the key (RFC 5280 method 1)");
    ok(akid && ca_skid && ASN1_OCTET_STRING_cmp(akid, ca_skid) == 0,
       "authorityKeyIdentifier: the CA's key id");
    ok(X509_get0_authority_issuer(cert) == NULL
       && X509_get0_authority_serial(cert) == NULL,
       "authorityKeyIdentifier: keyid only");
    is_int(critical(cert, NID_subject_key_identifier), 0, "SKID not critical");
}

static void check_extensions(const ota_ca *ca, X509 *cert, int with_san)
{
    uint32_t flags = X509_get_extension_flags(cert);

    is_int(X509_get_ext_count(cert), with_san ? 6 : 5,
           with_san ? "6 extensions (SAN included)" : "5 extensions");
    ok((flags & EXFLAG_BCONS) && !(flags & EXFLAG_CA),
       "basicConstraints CA:FALSE");
    is_int(critical(cert, NID_basic_constraints), 1,
           "basicConstraints critical");
    is_int(X509_get_key_usage(cert),
           KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
           "keyUsage digitalSignature, keyEncipherment");
    is_int(critical(cert, NID_key_usage), 1, "keyUsage critical");
    is_int(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT,
           "extendedKeyUsage clientAuth alone");
    is_int(critical(cert, NID_ext_key_usage), 0, "EKU not critical");
    check_key_ids(ca, cert);
    if (!with_san) {
        is_int(critical(cert, NID_subject_alt_name), -1, "no SAN");
    }
}

static long from_now(const ASN1_TIME *t)
{
    int days = 0, secs = 0;

    if (!ASN1_TIME_diff(&days, &secs, NULL, t)) {
        return -999999999L;
    }
    return days * 86400L + secs;
}

static void check_times(X509 *cert, int days)
{
    long nb = from_now(X509_get0_notBefore(cert));
    long na = from_now(X509_get0_notAfter(cert));

    if (!ok(nb <= -300 && nb >= -330, "notBefore: 5 minutes ago")) {
        printf("#   notBefore is %ld s from now\n", nb);
    }
    if (!ok(na <= days * 86400L && na >= days * 86400L - 30,
            apr_psprintf(pool, "notAfter: %d days from now", days))) {
        printf("#   notAfter is %ld s from now\n", na);
    }
}

static const char *write_pem(X509 *cert, const char *name)
{
    const char *file = scratch_file(name);
    BIO *out = BIO_new_file(file, "w");
    int ok = out && PEM_write_bio_X509(out, cert);

    BIO_free(out);
    return ok ? file : NULL;
}

/* Runs cmd; on an unexpected result shows its output as TAP comments. */
static int run(const char *cmd, int expect_success)
{
    const char *log = scratch_file("run.log");
    int rc;

    fflush(stdout);
    rc = system(apr_psprintf(pool, "%s >%s 2>&1", cmd, log));
    if ((rc == 0) != expect_success
        && system(apr_psprintf(pool, "sed 's/^/#   /' %s", log))) {
        printf("# (no output)\n");
    }
    return rc == 0;
}

/* `openssl x509 -serial` and `openssl verify`: the real peer. */
static void check_with_openssl(X509 *cert, const char *hex)
{
    const char *file = write_pem(cert, "issued.pem");
    const char *bundle = scratch_file("signing-ca-and-root.pem");
    char line[256] = "";
    FILE *f;

    if (!ok(file != NULL, "issued certificate written as PEM")) {
        return;
    }
    f = popen(apr_psprintf(pool, "openssl x509 -serial -noout -in %s", file),
              "r");
    if (f) {
        if (!fgets(line, sizeof(line), f)) {
            line[0] = '\0';
        }
        line[strcspn(line, "\n")] = '\0';
        pclose(f);
    }
    is_str(line, apr_pstrcat(pool, "serial=", hex, NULL),
           "openssl x509 -serial prints the same serial text");
    ok(run(apr_psprintf(pool, "openssl verify -CAfile %s -purpose sslclient "
                        "-x509_strict %s", bundle, file), 1),
       "openssl verify -purpose sslclient -x509_strict accepts it");
    ok(!run(apr_psprintf(pool, "openssl verify -CAfile %s -purpose "
                         "sslserver %s", bundle, file), 0),
       "openssl verify -purpose sslserver refuses it");
}

/* ---- loading ---- */

static void test_load_good(void)
{
    const char *why;
    ota_ca *ca;
    apr_size_t len = 0;
    const unsigned char *der, *cursor;
    X509 *back;

    ca = load(pki_file("signing-ca.pem"), pki_file("signing-ca.key"), &why);
    if (!ok(ca != NULL, "signing-ca loads as the CA")) {
        return;
    }
    ok(!ota_ca_has_issuers(ca), "signing-ca.pem alone: no issuers");
    is_int(sk_X509_num(ota_ca_chain(ca)), 1, "the chain is the CA alone");
    der = ota_ca_cert_der(ca, &len);
    cursor = der;
    back = der ? d2i_X509(NULL, &cursor, (long)len) : NULL;
    ok(back && cursor == der + len
       && X509_cmp(back, cert_file(pki_file("signing-ca.pem"))) == 0,
       "ota_ca_cert_der: the CA certificate's DER");
    X509_free(back);
    ok(X509_check_private_key(ota_ca_cert(ca), ota_ca_identity(ca)->key),
       "identity: the CA certificate and its key");

    ca = load(scratch_file("signing-ca-and-root.pem"),
              pki_file("signing-ca.key"), &why);
    ok(ca && ota_ca_has_issuers(ca), "CA then root: has issuers");
    ok(ca && sk_X509_num(ota_ca_chain(ca)) == 2
       && sk_X509_value(ota_ca_chain(ca), 0) == ota_ca_cert(ca)
       && X509_cmp(sk_X509_value(ota_ca_chain(ca), 1),
                   cert_file(pki_file("signing-root.pem"))) == 0,
       "chain: the CA first, then the root");
    ok(ca && sk_X509_num(ota_ca_identity(ca)->chain) == 1,
       "identity chain: the root alone (for the CMS of a CertRep)");
}

static void test_load_refused(void)
{
    EVP_PKEY *root = key_file(pki_file("signing-root.key"));
    const char *ca_ext = "critical,CA:TRUE";
    const char *ku = "critical,keyCertSign,cRLSign";
    const char *why;
    apr_size_t i;
    /* The certificate and key, what why must say, what they are. */
    const struct {
        const char *cert, *key, *says, *what;
    } cases[] = {
        { pki_file("signing.pem"), pki_file("signing.key"), "not a CA",
          "a leaf (signing.pem)" },
        { pki_file("signing-ca.pem"), pki_file("signing.key"),
          "does not match", "a key that does not match" },
        { pki_file("no-such.pem"), pki_file("signing-ca.key"),
          "no-such.pem", "a missing file" },
        { scratch_file("ca-then-leaf.pem"), pki_file("signing-ca.key"),
          "did not issue", "a second certificate that is not the issuer" },
        { make_ca("expired-ca", root, EVP_sha256(), ca_ext, ku, -30, -1),
          scratch_file("expired-ca.key"), "expired", "an expired CA" },
        { make_ca("rsa1024-ca", key_file(pki_file("device.key")),
                  EVP_sha256(), ca_ext, ku, -1, 365),
          scratch_file("rsa1024-ca.key"), "its key", "an RSA-1024 CA" },
        { make_ca("k1-ca", ec_key("secp256k1"), EVP_sha256(), ca_ext, ku,
                  -1, 365),
          scratch_file("k1-ca.key"), "its key", "an EC secp256k1 CA" },
        { make_ca("sha1-ca", root, EVP_sha1(), ca_ext, ku, -1, 365),
          scratch_file("sha1-ca.key"), "SHA-256", "a SHA-1 signed CA" },
        { make_ca("no-certsign-ca", root, EVP_sha256(), ca_ext,
                  "critical,digitalSignature", -1, 365),
          scratch_file("no-certsign-ca.key"), "keyCertSign",
          "a CA whose keyUsage lacks keyCertSign" },
        { make_ca("not-ca", root, EVP_sha256(), "critical,CA:FALSE", NULL,
                  -1, 365),
          scratch_file("not-ca.key"), "not a CA", "CA:FALSE" }
    };

    write_file(scratch_file("ca-then-leaf.pem"), pki_file("signing-ca.pem"),
               pki_file("signing.pem"));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        refused(cases[i].cert, cases[i].key, cases[i].says, cases[i].what);
    }
    ok(load(make_ca("no-ku-ca", root, EVP_sha256(), ca_ext, NULL, -1, 365),
            scratch_file("no-ku-ca.key"), &why) != NULL,
       "a CA without keyUsage loads (keyUsage is optional)");
    ok(load(make_ca("p384-ca", ec_key("P-384"), EVP_sha384(), ca_ext, ku,
                    -1, 365), scratch_file("p384-ca.key"), &why) != NULL,
       "an EC P-384 CA loads");
}

/* ---- issuing ---- */

static const ota_ca_issue_opts *days_opts(int days)
{
    static ota_ca_issue_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.lifetime_days = days;
    return &opts;
}

static X509 *issue(const ota_ca *ca, X509_REQ *csr, int days,
                   const char **hex)
{
    X509 *cert = NULL;
    const char *why = NULL;

    if (!csr || ota_ca_issue(&cert, hex, &why, ca, csr, days_opts(days), pool)
                != APR_SUCCESS) {
        printf("# issue: %s\n", why ? why : "(no request)");
        return NULL;
    }
    return cert;
}

static void test_issue(const ota_ca *ca, EVP_PKEY *key)
{
    X509_REQ *csr = csr_for(key, EVP_sha256());
    X509 *root = cert_file(pki_file("signing-root.pem"));
    const char *hex = NULL;
    X509 *cert;

    is_int(verdict(csr, NULL), OTA_CA_CSR_OK, "RSA-2048 request: ok");
    cert = issue(ca, csr, 365, &hex);
    if (!ok(cert != NULL, "issued from an RSA-2048 request")) {
        return;
    }
    check_verifies(ca, cert, root, "issued");
    is_int(X509_get_version(cert), X509_VERSION_3, "version 3");
    ok(X509_NAME_cmp(X509_get_subject_name(cert),
                     X509_REQ_get_subject_name(csr)) == 0,
       "subject: the request's");
    ok(X509_NAME_cmp(X509_get_issuer_name(cert),
                     X509_get_subject_name(ota_ca_cert(ca))) == 0,
       "issuer: the CA's subject");
    is_int(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1, "the request's key");
    is_int(X509_get_signature_nid(cert), NID_sha256WithRSAEncryption,
           "signed sha256WithRSAEncryption");
    check_times(cert, 365);
    check_extensions(ca, cert, 0);
    is_str(hex, ota_ca_serial_hex(cert, pool),
           "serial text: ota_ca_serial_hex of the certificate");
    ok(hex && strspn(hex, "0123456789ABCDEF") == strlen(hex),
       "serial text: upper-case hex");
    check_with_openssl(cert, hex ? hex : "?");
}

static STACK_OF(X509_EXTENSION) *asked_extensions(void)
{
    static const struct { int nid; const char *value; } asked[] = {
        { NID_subject_alt_name, "DNS:device.example.com,"
          "email:user@example.com,URI:urn:uuid:" UDID },
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_key_usage, "critical,keyCertSign,cRLSign" },
        { NID_ext_key_usage, "serverAuth,codeSigning" },
        { NID_netscape_comment, "asked for, never copied" }
    };
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    size_t i;

    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    for (i = 0; exts && i < sizeof(asked) / sizeof(asked[0]); i++) {
        ext = X509V3_EXT_nconf_nid(NULL, &ctx, asked[i].nid,
                                   asked[i].value);
        if (!ext || !sk_X509_EXTENSION_push(exts, ext)) {
            printf("# cannot make extension %s\n", asked[i].value);
            X509_EXTENSION_free(ext);
        }
    }
    return exts;
}

/* The names a device is bound to, as the registry stores them: the same
 * three the asked_extensions() request asks for, in another order. */
#define BOUND_SAN "uniformResourceIdentifier=urn:uuid:" UDID "\n" \
                  "rfc822Name=user@example.com\ndNSName=device.example.com"

static GENERAL_NAMES *names(const char *text)
{
    GENERAL_NAMES *out = NULL;
    const char *why = NULL;

    if (ota_san_names(&out, text, &why, pool) != APR_SUCCESS) {
        printf("# ota_san_names: %s\n", why ? why : "?");
    }
    return out;
}

static int cert_san_is(X509 *cert, const GENERAL_NAMES *want)
{
    GENERAL_NAMES *got = ota_san_of_cert(cert, pool);

    return got && ota_san_equal(got, want);
}

/* A request asking for names and CA powers gets neither by asking: a
 * subjectAltName is issued only when bound to the device, and only as
 * bound (the hole where the CA copied the request's SAN). */
static void test_requested_extensions(const ota_ca *ca, EVP_PKEY *key)
{
    STACK_OF(X509_EXTENSION) *exts = asked_extensions();
    X509_REQ *csr = csr_full(device_subject, 2, MBSTRING_UTF8, key, key,
                             EVP_sha256(), exts);
    X509_REQ *plain = csr_for(key, EVP_sha256());
    GENERAL_NAMES *bound = names(BOUND_SAN), *other;
    ota_ca_policy policy;
    ota_ca_issue_opts opts;
    const char *why = NULL;
    X509 *cert = NULL;

    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    memset(&policy, 0, sizeof(policy));
    is_int(verdict(csr, &policy), OTA_CA_CSR_BAD_EXTENSIONS,
           "SAN asked for, none bound: bad-extensions");
    other = names("dNSName=vpn.corp.example\nrfc822Name=ceo@corp.example");
    policy.san = other;
    is_int(verdict(csr, &policy), OTA_CA_CSR_BAD_EXTENSIONS,
           "SAN asked for, other names bound: bad-extensions");
    policy.san = bound;
    is_int(verdict(csr, &policy), OTA_CA_CSR_OK,
           "the bound SAN in another order, CA:TRUE, keyCertSign, "
           "serverAuth asked for: ok");
    memset(&opts, 0, sizeof(opts));
    opts.lifetime_days = 30;
    opts.san = bound;
    ok(ota_ca_issue(&cert, NULL, &why, ca, csr, &opts, pool) == APR_SUCCESS,
       "issued with the bound names");
    if (!ok(cert != NULL, "issued from a request asking for extensions")) {
        return;
    }
    ok(cert_san_is(cert, bound), "SAN: the bound names (3)");
    is_int(critical(cert, NID_subject_alt_name), 0, "SAN not critical");
    is_int(critical(cert, NID_netscape_comment), -1,
           "other asked-for extensions not copied");
    check_extensions(ca, cert, 1);
    check_verifies(ca, cert, cert_file(pki_file("signing-root.pem")),
                   "issued with SAN");
    /* Bound names reach a request that asks for none. */
    cert = issue(ca, plain, 30, NULL);
    ok(cert && ota_san_of_cert(cert, pool) == NULL,
       "no names bound, none asked: no SAN");
    opts.san = other;
    ok(ota_ca_issue(&cert, NULL, &why, ca, plain, &opts, pool) == APR_SUCCESS
       && cert_san_is(cert, other), "names bound, none asked: the bound SAN");
}

static void test_san_text(void)
{
    GENERAL_NAMES *out = NULL;
    const char *why = NULL;

    ok(ota_san_names(&out, "ntPrincipalName=alice@corp.example", &why, pool)
       == APR_SUCCESS && out && sk_GENERAL_NAME_num(out) == 1
       && sk_GENERAL_NAME_value(out, 0)->type == GEN_OTHERNAME,
       "ntPrincipalName: an otherName (UPN)");
    ok(ota_san_names(&out, "", &why, pool) == APR_SUCCESS && !out,
       "empty text: no names");
    ok(ota_san_names(&out, "iPAddress=10.0.0.1", &why, pool) == APR_EINVAL
       && why && strstr(why, "iPAddress"), "an unknown kind is refused");
    ok(ota_san_names(&out, "dNSName=caf\xc3\xa9.example", &why, pool)
       == APR_EINVAL, "a dNSName outside ASCII is refused");
    ok(ota_san_names(&out, "dNSName=", &why, pool) == APR_EINVAL,
       "an empty value is refused");
    ok(ota_san_equal(names("dNSName=a.example"), names("dNSName=a.example"))
       && !ota_san_equal(names("dNSName=a.example"),
                         names("rfc822Name=a.example"))
       && !ota_san_equal(names("dNSName=a.example"), NULL)
       && ota_san_equal(NULL, NULL), "ota_san_equal: kind and value count");
}

static void test_lifetimes(const ota_ca *ca, EVP_PKEY *key)
{
    static const int refused_days[] = { 0, -1, 36501 };
    X509_REQ *csr = csr_for(key, EVP_sha256());
    EVP_PKEY *root = key_file(pki_file("signing-root.key"));
    const char *why = NULL;
    ota_ca *short_ca;
    X509 *cert;
    apr_size_t i;

    cert = issue(ca, csr, 20000, NULL);
    ok(cert && ASN1_TIME_compare(X509_get0_notAfter(cert),
                                 X509_get0_notAfter(ota_ca_cert(ca))) == 0,
       "20000 days: notAfter clamped to the CA's notAfter");
    short_ca = load(make_ca("short-ca", root, EVP_sha256(),
                            "critical,CA:TRUE", "critical,keyCertSign", -1,
                            30),
                    scratch_file("short-ca.key"), &why);
    ok(short_ca != NULL, "a CA ending in 30 days loads");
    cert = short_ca ? issue(short_ca, csr, 365, NULL) : NULL;
    ok(cert && ASN1_TIME_compare(X509_get0_notAfter(cert),
                                 X509_get0_notAfter(ota_ca_cert(short_ca)))
               == 0,
       "365 days from a CA ending in 30: clamped to the CA's notAfter");
    cert = short_ca ? issue(short_ca, csr, 10, NULL) : NULL;
    if (cert) {
        check_times(cert, 10);
    }
    else {
        ok(0, "10 days from a CA ending in 30");
    }
    for (i = 0; i < sizeof(refused_days) / sizeof(refused_days[0]); i++) {
        why = NULL;
        ok(ota_ca_issue(&cert, NULL, &why, ca, csr, days_opts(refused_days[i]),
                        pool) == APR_EINVAL && why,
           apr_psprintf(pool, "lifetime %d refused", refused_days[i]));
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_serials(const ota_ca *ca, EVP_PKEY *key)
{
    X509_REQ *csr = csr_for(key, EVP_sha256());
    const char *hexes[100], *hex, *why;
    apr_pool_t *sub;
    X509 *cert;
    BIGNUM *bn;
    const ASN1_INTEGER *serial;
    int i, n = 0, bad = 0, dups = 0, maxbits = 0;

    apr_pool_create(&sub, pool);
    for (i = 0; csr && i < 100; i++) {
        if (ota_ca_issue(&cert, &hex, &why, ca, csr, days_opts(30), sub)
            != APR_SUCCESS) {
            continue;
        }
        serial = X509_get0_serialNumber(cert);
        bn = ASN1_INTEGER_to_BN(serial, NULL);
        if (!bn || BN_is_negative(bn) || BN_is_zero(bn)
            || BN_num_bytes(bn) > 16 || i2d_ASN1_INTEGER(serial, NULL) > 18) {
            ++bad;
        }
        maxbits = bn && BN_num_bits(bn) > maxbits ? BN_num_bits(bn) : maxbits;
        BN_free(bn);
        hexes[n++] = apr_pstrdup(pool, hex);
        apr_pool_clear(sub);
    }
    apr_pool_destroy(sub);
    is_int(n, 100, "100 issuances");
    is_int(bad, 0, "every serial positive, nonzero, 16 bytes or fewer");
    qsort(hexes, n, sizeof(hexes[0]), cmp_str);
    for (i = 1; i < n; i++) {
        dups += strcmp(hexes[i - 1], hexes[i]) == 0;
    }
    is_int(dups, 0, "100 serials, all distinct");
    ok(maxbits > 120 && maxbits <= 127, "serials carry up to 127 random bits");
}

static void test_ec_ca(EVP_PKEY *rsa)
{
    const char *why = NULL;
    ota_ca *ca;
    X509 *cert;

    ca = load(make_ca("ec-ca", ec_key("P-256"), EVP_sha256(),
                      "critical,CA:TRUE", "critical,keyCertSign", -1, 365),
              scratch_file("ec-ca.key"), &why);
    if (!ok(ca != NULL, "an EC P-256 CA loads")) {
        return;
    }
    cert = issue(ca, csr_for(rsa, EVP_sha256()), 30, NULL);
    if (!ok(cert != NULL, "the EC CA issues for an RSA key")) {
        return;
    }
    is_int(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256,
           "EC CA: signed ecdsa-with-SHA256");
    check_verifies(ca, cert, ota_ca_cert(ca), "EC CA");
}

/* ---- judging requests ---- */

static void test_csr_keys(EVP_PKEY *a, EVP_PKEY *b)
{
    ota_ca_policy pol = { 0 };
    EVP_PKEY *rsa1024 = key_file(pki_file("device.key"));
    /* A request for KEY signed with MD, judged under a policy asking for
     * MIN_RSA_BITS (0: no policy). */
    const struct {
        EVP_PKEY *key;
        const EVP_MD *md;
        int min_rsa_bits, want;
        const char *name;
    } cases[] = {
        { rsa1024, EVP_sha256(), 0, OTA_CA_CSR_WEAK_KEY,
          "RSA-1024: weak-key" },
        { rsa1024, EVP_sha256(), 1024, OTA_CA_CSR_WEAK_KEY,
          "a policy cannot lower the minimum" },
        { a, EVP_sha256(), 3072, OTA_CA_CSR_WEAK_KEY,
          "policy minimum 3072: RSA-2048 is weak-key" },
        { a, EVP_sha256(), 2048, OTA_CA_CSR_OK,
          "policy minimum 2048: RSA-2048 ok" },
        { ec_key("P-256"), EVP_sha256(), 0, OTA_CA_CSR_OK, "EC P-256: ok" },
        { ec_key("P-384"), EVP_sha384(), 0, OTA_CA_CSR_OK, "EC P-384: ok" },
        { ec_key("P-224"), EVP_sha256(), 0, OTA_CA_CSR_WEAK_KEY,
          "EC P-224: weak-key" },
        { ec_key("secp256k1"), EVP_sha256(), 0, OTA_CA_CSR_BAD_ALGORITHM,
          "EC secp256k1: bad-algorithm" },
        { ec_key("P-521"), EVP_sha512(), 0, OTA_CA_CSR_BAD_ALGORITHM,
          "EC P-521: bad-algorithm" },
        { owned_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")), NULL, 0,
          OTA_CA_CSR_BAD_ALGORITHM, "Ed25519: bad-algorithm" }
    };
    apr_size_t i;

    is_int(verdict(csr_full(device_subject, 2, MBSTRING_UTF8, a, b,
                            EVP_sha256(), NULL), NULL),
           OTA_CA_CSR_BAD_POP, "key A signed with key B: bad-pop");
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pol.min_rsa_bits = cases[i].min_rsa_bits;
        is_int(verdict(csr_for(cases[i].key, cases[i].md),
                       cases[i].min_rsa_bits ? &pol : NULL),
               cases[i].want, cases[i].name);
    }
}

static void test_csr_digests(EVP_PKEY *a)
{
    ota_ca_policy pol = { 0 };
    /* A request signed with MD, judged with or without ALLOW_SHA1. */
    const struct {
        const EVP_MD *md;
        int allow_sha1, want;
        const char *name;
    } cases[] = {
        { EVP_sha1(), 0, OTA_CA_CSR_BAD_ALGORITHM,
          "SHA-1 signed: bad-algorithm by default" },
        { EVP_sha1(), 1, OTA_CA_CSR_OK,
          "SHA-1 signed: ok when the policy allows it" },
        { EVP_md5(), 1, OTA_CA_CSR_BAD_ALGORITHM,
          "MD5 signed: bad-algorithm even when SHA-1 is allowed" },
        { EVP_sha224(), 0, OTA_CA_CSR_BAD_ALGORITHM,
          "SHA-224 signed: bad-algorithm" },
        { EVP_sha384(), 0, OTA_CA_CSR_OK, "SHA-384 signed: ok" },
        { EVP_sha512(), 0, OTA_CA_CSR_OK, "SHA-512 signed: ok" }
    };
    apr_size_t i;

    pol.allow_sha1 = 1;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(verdict(csr_for(a, cases[i].md),
                       cases[i].allow_sha1 ? &pol : NULL),
               cases[i].want, cases[i].name);
    }
}

/* The entries of E, up to its { NULL } end. */
static int entries(const ota_ca_subject_entry *e)
{
    int n = 0;

    while (e[n].type) {
        n++;
    }
    return n;
}

/* The verdict for a request with subject got, expected subject want (both
 * ending in { NULL }). */
static int match(const ota_ca_subject_entry *got,
                 const ota_ca_subject_entry *want, EVP_PKEY *key)
{
    ota_ca_policy pol = { 0 };

    pol.subject = want;
    pol.subject_count = entries(want);
    return verdict(csr_named(got, entries(got), key), &pol);
}

static void test_csr_subjects(EVP_PKEY *a)
{
    static const ota_ca_subject_entry reversed[] = {
        { "CN", UDID, 0 }, { "O", ORG, 0 }, { NULL } };
    static const ota_ca_subject_entry other_cn[] = {
        { "O", ORG, 0 }, { "CN", "6A1B2C3D-0000-4000-8000-00000000D002", 0 },
        { NULL } };
    static const ota_ca_subject_entry extra[] = {
        { "O", ORG, 0 }, { "OU", "devices", 0 }, { "CN", UDID, 0 },
        { NULL } };
    static const ota_ca_subject_entry by_oid[] = {
        { "2.5.4.10", ORG, 0 }, { "commonName", UDID, 0 }, { NULL } };
    static const ota_ca_subject_entry upper[] = {
        { "O", "MOD_OTA_ENROLL TEST", 0 }, { "CN", UDID, 0 }, { NULL } };
    static const ota_ca_subject_entry unknown[] = {
        { "XYZ", ORG, 0 }, { "CN", UDID, 0 }, { NULL } };
    static const ota_ca_subject_entry multi[] = {
        { "O", ORG, 0 }, { "CN", UDID, 1 }, { NULL } };
    static const ota_ca_subject_entry multi_swapped[] = {
        { "CN", UDID, 0 }, { "O", ORG, 1 }, { NULL } };
    static const ota_ca_subject_entry printable[] = {
        { "O", "Example Inc", 0 }, { "CN", UDID, 0 } };
    /* A request named GOT judged against WANT: the verdict. */
    static const struct {
        const ota_ca_subject_entry *got, *want;
        int verdict;
        const char *name;
    } cases[] = {
        { device_subject, device_subject, OTA_CA_CSR_OK,
          "subject as expected: ok" },
        { device_subject, by_oid, OTA_CA_CSR_OK,
          "expected by OID and long name: ok" },
        { reversed, device_subject, OTA_CA_CSR_SUBJECT_MISMATCH,
          "same entries, other order: subject-mismatch" },
        { other_cn, device_subject, OTA_CA_CSR_SUBJECT_MISMATCH,
          "other CN: subject-mismatch" },
        { extra, device_subject, OTA_CA_CSR_SUBJECT_MISMATCH,
          "an extra OU: subject-mismatch" },
        { device_subject + 1, device_subject, OTA_CA_CSR_SUBJECT_MISMATCH,
          "CN alone: subject-mismatch" },
        { device_subject, upper, OTA_CA_CSR_SUBJECT_MISMATCH,
          "values compared with case: subject-mismatch" },
        { device_subject, unknown, OTA_CA_CSR_SUBJECT_MISMATCH,
          "unknown attribute type: subject-mismatch" },
        { multi, device_subject, OTA_CA_CSR_SUBJECT_MISMATCH,
          "O+CN in one RDN vs two RDNs: subject-mismatch" },
        { device_subject, multi, OTA_CA_CSR_SUBJECT_MISMATCH,
          "two RDNs vs O+CN in one: subject-mismatch" },
        { multi, multi, OTA_CA_CSR_OK, "multi-valued RDN as expected: ok" },
        { multi, multi_swapped, OTA_CA_CSR_OK,
          "order inside a multi-valued RDN does not matter" }
    };
    ota_ca_policy pol = { 0 };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_int(match(cases[i].got, cases[i].want, a), cases[i].verdict,
               cases[i].name);
    }
    pol.subject = printable;
    pol.subject_count = 2;
    is_int(verdict(csr_full(printable, 2, V_ASN1_PRINTABLESTRING, a, a,
                            EVP_sha256(), NULL), &pol),
           OTA_CA_CSR_OK, "PrintableString values match UTF-8 expected ones");
}

static void test_csr_bounds(EVP_PKEY *a)
{
    ota_ca_subject_entry e[9];
    char v128[129], v129[130];
    /* The first N entries, the first of them TYPE=VALUE. */
    const struct {
        const char *type, *value;
        int n, want;
        const char *name;
    } cases[] = {
        { "OU", "unit 0", 0, OTA_CA_CSR_BAD_SUBJECT,
          "empty subject: bad-subject" },
        { "OU", "unit 0", 8, OTA_CA_CSR_OK, "8 entries: ok" },
        { "OU", "unit 0", 9, OTA_CA_CSR_BAD_SUBJECT,
          "9 entries: bad-subject" },
        /* UID: CN is capped at 64 on creation */
        { "UID", v128, 1, OTA_CA_CSR_OK, "a 128-byte value: ok" },
        { "UID", v129, 1, OTA_CA_CSR_BAD_SUBJECT,
          "a 129-byte value: bad-subject" },
        { "UID", "", 1, OTA_CA_CSR_BAD_SUBJECT,
          "an empty value: bad-subject" }
    };
    apr_size_t i;

    for (i = 0; i < 9; i++) {
        e[i].type = "OU";
        e[i].value = apr_psprintf(pool, "unit %d", (int)i);
        e[i].same_rdn = 0;
    }
    memset(v128, 'x', 128);
    v128[128] = '\0';
    memset(v129, 'x', 129);
    v129[129] = '\0';
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        e[0].type = cases[i].type;
        e[0].value = cases[i].value;
        is_int(verdict(csr_named(e, cases[i].n, a), NULL), cases[i].want,
               cases[i].name);
    }
}

static void test_csr_key_match(EVP_PKEY *a, EVP_PKEY *b)
{
    ota_ca_policy pol = { 0 };
    X509_REQ *csr = csr_for(a, EVP_sha256());
    X509_REQ *again = csr_for(a, EVP_sha384());

    pol.key = b;
    is_int(verdict(csr, &pol), OTA_CA_CSR_KEY_MISMATCH,
           "another key expected: key-mismatch");
    pol.key = a;
    is_int(verdict(csr, &pol), OTA_CA_CSR_OK, "the same key expected: ok");
    pol.key = again ? X509_REQ_get0_pubkey(again) : NULL;
    is_int(verdict(csr, &pol), OTA_CA_CSR_OK,
           "the same public key from another request: ok");
}

/* A request whose extension request is a UTF8String, not a SEQUENCE. */
static X509_REQ *csr_junk_extensions(EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = name_of(device_subject, 2, MBSTRING_UTF8);
    int ok;

    ok = req && name && X509_REQ_set_subject_name(req, name)
         && X509_REQ_set_pubkey(req, key)
         && X509_REQ_add1_attr_by_NID(req, NID_ext_req, V_ASN1_UTF8STRING,
                                      (const unsigned char *)"junk", 4);
    X509_NAME_free(name);
    if (!ok) {
        X509_REQ_free(req);
        req = NULL;
    }
    return finish_csr(req, key, EVP_sha256());
}

static void test_csr_extensions(const ota_ca *ca, EVP_PKEY *a)
{
    STACK_OF(X509_EXTENSION) *exts = asked_extensions();
    X509_REQ *junk = csr_junk_extensions(a);
    X509_REQ *two;
    X509 *cert = NULL;
    const char *why = NULL;

    /* A second SAN after the first. */
    if (exts) {
        sk_X509_EXTENSION_push(exts, X509_EXTENSION_dup(
                                   sk_X509_EXTENSION_value(exts, 0)));
    }
    two = csr_full(device_subject, 2, MBSTRING_UTF8, a, a, EVP_sha256(),
                   exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    is_int(verdict(junk, NULL), OTA_CA_CSR_BAD_EXTENSIONS,
           "unreadable extension request: bad-extensions");
    is_int(verdict(two, NULL), OTA_CA_CSR_BAD_EXTENSIONS,
           "SAN asked for twice: bad-extensions");
    ok(junk && ca && ota_ca_issue(&cert, NULL, &why, ca, junk, days_opts(30),
                                  pool) == APR_SUCCESS
       && X509_get_ext_count(cert) == 5,
       "issue never reads the extension request: the 5 fixed extensions");
}

static void test_names(void)
{
    static const char *const names[] = {
        "ok", "bad-pop", "weak-key", "bad-algorithm", "bad-subject",
        "subject-mismatch", "key-mismatch", "bad-extensions"
    };
    int i, same = 0;
    ota_ca_csr_verdict v;
    const char *detail;

    for (i = 0; i < 8; i++) {
        same += strcmp(ota_ca_csr_verdict_name((ota_ca_csr_verdict)i),
                       names[i]) == 0;
    }
    is_int(same, 8, "the 8 verdict names");
    is_str(ota_ca_csr_verdict_name((ota_ca_csr_verdict)99), "unknown",
           "out-of-range verdict: unknown");
    is_int(ota_ca_csr_check(&v, &detail, NULL, NULL, pool), APR_EINVAL,
           "no request: APR_EINVAL");
}

int main(int argc, char **argv)
{
    const char *why;
    ota_ca *ca;
    EVP_PKEY *a, *b;

    if (!unit_setup(argc, argv, UNIT_PKI | UNIT_SCRATCH)) {
        return unit_done();
    }
    ok(write_file(scratch_file("signing-ca-and-root.pem"),
                  pki_file("signing-ca.pem"), pki_file("signing-root.pem")),
       "signing-ca-and-root.pem written");
    a = owned_key(EVP_RSA_gen(2048));
    b = key_file(pki_file("server.key"));

    test_load_good();
    test_load_refused();
    ca = load(pki_file("signing-ca.pem"), pki_file("signing-ca.key"), &why);
    if (ok(ca != NULL && a != NULL, "signing-ca and an RSA-2048 key")) {
        test_issue(ca, a);
        test_requested_extensions(ca, a);
        test_lifetimes(ca, a);
        test_serials(ca, a);
    }
    test_ec_ca(b);
    test_csr_keys(a, b);
    test_csr_digests(a);
    test_csr_subjects(a);
    test_csr_bounds(a);
    test_csr_key_match(a, b);
    test_csr_extensions(ca, a);
    test_names();
    test_san_text();
    return unit_done();
}
