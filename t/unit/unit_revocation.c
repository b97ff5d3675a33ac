/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The CRL and the OCSP responder of the built-in CA, read back by
 * `openssl crl`, `openssl verify -crl_check` and `openssl ocsp`: what
 * relying parties run, not our own parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ota_ca.h"
#include "ota_crl.h"
#include "ota_ocsp.h"
#include "ota_scep.h"
#include "unit.h"

/* Runs a shell command, its output (stdout and stderr) as a string. */
static const char *run(const char *cmd)
{
    FILE *f;
    char buf[4096];
    const char *out = "";
    size_t n;

    fflush(stdout);
    if (!(f = popen(apr_pstrcat(pool, cmd, " 2>&1", NULL), "r"))) {
        return "";
    }
    while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
        buf[n] = '\0';
        out = apr_pstrcat(pool, out, buf, NULL);
    }
    pclose(f);
    return out;
}

static int has(const char *text, const char *needle, const char *name)
{
    int found = strstr(text, needle) != NULL;

    if (!ok(found, name)) {
        printf("#   '%s' not in: %.600s\n", needle, text);
    }
    return found;
}

/* A certificate of the CA for a new key, written as NAME.pem. */
static X509 *issued(const ota_ca *ca, const char *name,
                    const ota_ca_issue_opts *opts)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509_NAME *subject = X509_NAME_new();
    X509_REQ *csr = NULL;
    X509 *cert = NULL;
    const char *why = NULL;
    FILE *f;

    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               (const unsigned char *)name, -1, -1, 0);
    if (key && ota_scep_csr(&csr, key, subject, NULL, pool) == APR_SUCCESS
        && ota_ca_issue(&cert, NULL, &why, ca, csr, opts, pool)
           == APR_SUCCESS
        && (f = fopen(scratch_file(apr_pstrcat(pool, name, ".pem", NULL)),
                      "w")) != NULL) {
        PEM_write_X509(f, cert);
        fclose(f);
    }
    else {
        printf("# cannot issue %s: %s\n", name, why ? why : "?");
        cert = NULL;
    }
    X509_NAME_free(subject);
    EVP_PKEY_free(key);
    return cert;
}

static void test_reasons(void)
{
    ok(ota_reason_code("keyCompromise") == 1
       && ota_reason_code("superseded") == 4
       && ota_reason_code("privilegeWithdrawn") == 9
       && ota_reason_code("unspecified") == 0, "reason names to codes");
    ok(ota_reason_code("cACompromise") == -1
       && ota_reason_code("certificateHold") == -1
       && ota_reason_code("KeyCompromise") == -1
       && ota_reason_code(NULL) == -1,
       "CA, hold, misspelt and missing reasons are refused");
    is_str(ota_reason_name(5), "cessationOfOperation", "code 5's name");
    is_str(ota_reason_name(77), "unspecified", "an unknown code's name");
}

/* The CA's CRL over these entries, written as DER and PEM: the PEM path. */
static const char *crl_written(const ota_ca *ca, const ota_revoked *e,
                               int n, apr_int64_t number)
{
    const unsigned char *der = NULL, *cursor;
    apr_size_t len = 0;
    const char *why = NULL, *pem = scratch_file("crl.pem");
    apr_time_t now = apr_time_now();
    X509_CRL *crl;
    FILE *f;

    if (ota_crl_build(&der, &len, &why, ca, e, n, number, now,
                      now + apr_time_from_sec(86400), pool) != APR_SUCCESS) {
        printf("# ota_crl_build: %s\n", why ? why : "?");
        return NULL;
    }
    spill(scratch_file("crl.der"), der, len);
    cursor = der;
    crl = d2i_X509_CRL(NULL, &cursor, (long)len);
    if (crl && (f = fopen(pem, "w")) != NULL) {
        PEM_write_X509_CRL(f, crl);
        fclose(f);
    }
    X509_CRL_free(crl);
    return pem;
}

static void test_crl(const ota_ca *ca)
{
    static const ota_ca_issue_opts opts = { 30, NULL, NULL };
    X509 *good = issued(ca, "good", &opts), *lost = issued(ca, "lost", &opts);
    X509 *old = issued(ca, "old", &opts);
    ota_revoked e[3];
    const char *pem, *out, *cafile = pki_file("signing-ca.pem");
    const unsigned char *der;
    apr_size_t len;
    const char *why = NULL;

    if (!ok(good && lost && old, "three certificates issued")) {
        return;
    }
    e[0].serial = ota_ca_serial_hex(lost, pool);
    e[0].when = apr_time_now() - apr_time_from_sec(60);
    e[0].reason = OTA_REASON_KEY_COMPROMISE;
    e[1].serial = ota_ca_serial_hex(old, pool);
    e[1].when = e[0].when;
    e[1].reason = OTA_REASON_SUPERSEDED;
    e[2].serial = "0A0B0C";
    e[2].when = e[0].when;
    e[2].reason = OTA_REASON_UNSPECIFIED;
    pem = crl_written(ca, e, 3, 42);
    if (!ok(pem != NULL, "CRL built for 3 entries")) {
        return;
    }
    out = run(apr_psprintf(pool, "openssl crl -in %s -CAfile %s -noout",
                           pem, cafile));
    has(out, "verify OK", "openssl crl -CAfile: verify OK");
    out = run(apr_psprintf(pool, "openssl crl -in %s -noout -text", pem));
    has(out, "Version 2", "a v2 CRL");
    has(out, "X509v3 CRL Number: \n                42",
        "CRL number 42");
    has(out, "X509v3 Authority Key Identifier", "authority key identifier");
    has(out, "Next Update:", "nextUpdate");
    has(out, "Key Compromise", "a keyCompromise entry");
    has(out, "Superseded", "a superseded entry");
    has(out, "Serial Number: 0A0B0C", "the unspecified entry");
    ok(strstr(out, "Unspecified") == NULL,
       "unspecified: no reasonCode extension (RFC 5280 5.3.1)");
    /* the CA is an intermediate: the root anchors, the CA is untrusted */
    out = run(apr_psprintf(pool, "openssl verify -crl_check -CAfile "
                           "%s/signing-root.pem -untrusted %s -CRLfile %s "
                           "%s/lost.pem", pki, cafile, pem, scratch));
    has(out, "certificate revoked", "openssl verify -crl_check: revoked");
    out = run(apr_psprintf(pool, "openssl verify -crl_check -CAfile "
                           "%s/signing-root.pem -untrusted %s -CRLfile %s "
                           "%s/good.pem", pki, cafile, pem, scratch));
    has(out, ": OK", "openssl verify -crl_check: another device is OK");
    pem = crl_written(ca, NULL, 0, 43);
    out = pem ? run(apr_psprintf(pool, "openssl crl -in %s -noout -text "
                                 "-CAfile %s", pem, cafile)) : "";
    has(out, "No Revoked Certificates", "an empty CRL is a valid CRL");
    e[0].serial = "NOT-HEX";
    ok(ota_crl_build(&der, &len, &why, ca, e, 1, 1, 0, 1, pool) == APR_EINVAL
       && why && strstr(why, "NOT-HEX"), "a serial that is not hex");
}

static void test_urls(const ota_ca *ca)
{
    STACK_OF(X509_EXTENSION) *urls = NULL;
    ota_ca_issue_opts opts = { 30, NULL, NULL };
    const char *out;
    X509 *cert;

    ok(ota_ca_url_extensions(&urls, "http://ca.example/ota/crl",
                             "http://ca.example/ota/ocsp", pool)
       == APR_SUCCESS && urls && sk_X509_EXTENSION_num(urls) == 2,
       "CRL and OCSP URL extensions built");
    opts.urls = urls;
    cert = issued(ca, "with-urls", &opts);
    out = cert ? run(apr_psprintf(pool, "openssl x509 -in %s/with-urls.pem "
                                  "-noout -text", scratch)) : "";
    has(out, "X509v3 CRL Distribution Points", "cRLDistributionPoints");
    has(out, "URI:http://ca.example/ota/crl", "... with the CRL URL");
    has(out, "OCSP - URI:http://ca.example/ota/ocsp",
        "authorityInfoAccess OCSP with the URL");
    out = run(apr_psprintf(pool, "openssl x509 -in %s/with-urls.pem -noout "
                           "-ocsp_uri", scratch));
    has(out, "http://ca.example/ota/ocsp", "openssl x509 -ocsp_uri reads it");
    ok(ota_ca_url_extensions(&urls, NULL, NULL, pool) == APR_SUCCESS
       && urls == NULL, "no URLs: no extensions");
}

static ota_ocsp_request *read_req(const ota_ocsp_responder *r,
                                  const char *file)
{
    apr_size_t n = 0;
    unsigned char *der = NULL;
    ota_ocsp_request *q = NULL;

    if (!slurp(file, &der, &n)
        || ota_ocsp_request_read(&q, der, n, r, pool) != APR_SUCCESS) {
        return NULL;
    }
    if (q->verdict != OTA_OCSP_READ_OK) {
        printf("# request: %s\n", q->detail);
    }
    return q;
}

/* openssl ocsp ARGS -reqout FILE: the request a relying party sends. */
static ota_ocsp_request *asked(const ota_ocsp_responder *r, const char *args)
{
    const char *file = scratch_file("req.der");

    const char *out;

    unlink(file);
    out = run(apr_psprintf(pool, "cd %s && openssl ocsp %s -reqout %s",
                           scratch, args, file));
    if (access(file, R_OK) != 0) {
        printf("# openssl ocsp made no request: %.300s\n", out);
    }
    return read_req(r, file);
}

/* Answers q: good, then revoked (keyCompromise), then unknown, repeating;
 * writes resp.der and returns what `openssl ocsp -respin` says of it. */
static const char *answered(const ota_ocsp_responder *r, ota_ocsp_request *q,
                            const char *check_args)
{
    ota_ocsp_status st[OTA_OCSP_MAX_IDS];
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    int i;

    memset(st, 0, sizeof(st));
    for (i = 0; q && i < q->count; i++) {
        st[i].status = (ota_ocsp_cert_status)(i % 3);
        st[i].revoked = apr_time_now() - apr_time_from_sec(3600);
        st[i].reason = OTA_REASON_KEY_COMPROMISE;
    }
    if (!q || ota_ocsp_response_build(&der, &len, q, st, r, apr_time_now(),
                                      0, pool) != APR_SUCCESS) {
        return "(no response)";
    }
    spill(scratch_file("resp.der"), der, len);
    /* The request's nonce is checked apart: openssl would compare the
     * answer's with a nonce of its own. */
    return run(apr_psprintf(pool, "cd %s && openssl ocsp -respin resp.der "
                            "-no_nonce %s", scratch, check_args));
}

static int nonce_echoed(void)
{
    apr_size_t qlen = 0, rlen = 0;
    unsigned char *qbuf = NULL, *abuf = NULL;
    const unsigned char *q = slurp(scratch_file("req.der"), &qbuf, &qlen)
                             ? qbuf : NULL;
    const unsigned char *a = slurp(scratch_file("resp.der"), &abuf, &rlen)
                             ? abuf : NULL;
    OCSP_REQUEST *req = q ? d2i_OCSP_REQUEST(NULL, &q, (long)qlen) : NULL;
    OCSP_RESPONSE *resp = a ? d2i_OCSP_RESPONSE(NULL, &a, (long)rlen) : NULL;
    OCSP_BASICRESP *bs = resp ? OCSP_response_get1_basic(resp) : NULL;
    int checked = req && bs ? OCSP_check_nonce(req, bs) : -9;

    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    return checked == 1;
}

/* The CA is an intermediate: a relying party anchors at the root, so the
 * responses are checked against CA + root (OpenSSL 3.0.22 and later no
 * longer accept the intermediate alone as the anchor). */
static const char *ca_and_root(void)
{
    const char *file = scratch_file("ca-and-root.pem");

    run(apr_psprintf(pool, "cat %s/signing-ca.pem %s/signing-root.pem >%s",
                     pki, pki, file));
    return file;
}

static void test_ocsp_statuses(const ota_ocsp_responder *r, const char *ca)
{
    const char *ids = apr_psprintf(pool, "-issuer %s -cert good.pem "
                                   "-cert lost.pem -serial 0x0D0E0F", ca);
    const char *check = apr_psprintf(pool, "%s -CAfile %s", ids,
                                     ca_and_root());
    ota_ocsp_request *q = asked(r, ids);
    const char *out;

    ok(q && q->verdict == OTA_OCSP_READ_OK,
       "openssl ocsp's request (SHA-1 CertIDs) is read");
    is_int(q ? q->count : 0, 3, "with its 3 CertIDs");
    is_str(q && q->count == 3 ? q->serials[2] : NULL, "0D0E0F",
           "its serials, in the registry's hex");
    out = answered(r, q, check);
    has(out, "Response verify OK", "openssl ocsp: Response verify OK");
    has(out, "good.pem: good", "good");
    has(out, "lost.pem: revoked", "revoked");
    has(out, "Reason: keyCompromise", "with its reason");
    has(out, "Revocation Time:", "and its time");
    has(out, "0x0D0E0F: unknown", "a serial never issued: unknown");
    ok(nonce_echoed(), "the request's nonce is echoed");
    q = asked(r, apr_pstrcat(pool, "-sha256 ", ids, NULL));
    ok(q && q->verdict == OTA_OCSP_READ_OK && q->count == 3,
       "SHA-256 CertIDs are read");
    out = answered(r, q, apr_pstrcat(pool, "-sha256 ", check, NULL));
    has(out, "Response verify OK", "SHA-256 CertIDs: Response verify OK");
    has(out, "good.pem: good", "SHA-256: good");
    q = asked(r, apr_pstrcat(pool, ids, " -no_nonce", NULL));
    out = answered(r, q, check);
    has(out, "Response verify OK", "a request without a nonce is answered");
}

static void test_ocsp_refusals(const ota_ocsp_responder *r)
{
    static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    ota_ocsp_request *q;
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    int i;
    const char *many = "";

    q = asked(r, apr_psprintf(pool, "-issuer %s/signing-root.pem "
                              "-serial 0x01", pki));
    ok(q && q->verdict == OTA_OCSP_READ_UNAUTHORIZED,
       "a CertID of another issuer: unauthorized");
    ota_ocsp_request_read(&q, junk, sizeof(junk), r, pool);
    ok(q->verdict == OTA_OCSP_READ_MALFORMED, "malformed DER: malformed");
    ota_ocsp_request_read(&q, (const unsigned char *)"", 0, r, pool);
    ok(q->verdict == OTA_OCSP_READ_MALFORMED, "an empty body: malformed");
    for (i = 0; i < OTA_OCSP_MAX_IDS + 1; i++) {
        many = apr_psprintf(pool, "%s -serial 0x%X", many, i + 1);
    }
    q = asked(r, apr_psprintf(pool, "-issuer %s/signing-ca.pem %s", pki,
                              many));
    ok(q && q->verdict == OTA_OCSP_READ_MALFORMED,
       "17 CertIDs: malformed");
    ok(ota_ocsp_error_build(&der, &len, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST,
                            pool) == APR_SUCCESS
       && spill(scratch_file("err.der"), der, len),
       "a malformedRequest answer is built");
    has(run(apr_psprintf(pool, "openssl ocsp -respin %s/err.der -resp_text "
                         "-noverify", scratch)), "malformedrequest (1)",
        "openssl reads malformedRequest");
}

static void test_ocsp_delegated(const ota_ca *ca)
{
    ota_identity *id = NULL, *wrong = NULL;
    ota_ocsp_responder *r = NULL;
    const char *why = NULL, *out, *cafile = ca_and_root();

    ota_identity_load(&id, pki_file("ocsp-responder.pem"),
                      pki_file("ocsp-responder.key"), &why, pool);
    ok(id && ota_ocsp_responder_new(&r, ca, id, &why, pool) == APR_SUCCESS,
       "a delegated responder (OCSPSigning, issued by the CA) is taken");
    out = r ? answered(r, asked(r, apr_psprintf(pool, "-issuer %s -cert "
                                                "good.pem", cafile)),
                       apr_psprintf(pool, "-issuer %s -cert good.pem "
                                    "-CAfile %s", cafile, cafile))
            : "";
    has(out, "Response verify OK", "delegated: Response verify OK");
    has(out, "good.pem: good", "delegated: good");
    ota_identity_load(&wrong, pki_file("signing.pem"),
                      pki_file("signing.key"), &why, pool);
    ok(wrong && ota_ocsp_responder_new(&r, ca, wrong, &why, pool)
                == APR_EINVAL && strstr(why, "OCSPSigning"),
       "a certificate without OCSPSigning is refused as responder");
    ota_identity_load(&wrong, pki_file("server.pem"),
                      pki_file("server.key"), &why, pool);
    ok(wrong && ota_ocsp_responder_new(&r, ca, wrong, &why, pool)
                == APR_EINVAL, "... and so is the TLS server's");
}

int main(int argc, char **argv)
{
    const char *why = NULL;
    static const ota_ca_issue_opts opts = { 30, NULL, NULL };
    ota_ocsp_responder *r = NULL;
    ota_ca *ca = NULL;

    if (unit_setup(argc, argv, UNIT_PKI)
        && ok((pki = realpath(pki, NULL)) != NULL, "its absolute path")
        && unit_scratch(argv[0])
        && ok(ota_ca_load(&ca, pki_file("signing-ca.pem"),
                          pki_file("signing-ca.key"), &why, pool)
              == APR_SUCCESS, "the CA loads")) {
        test_reasons();
        test_crl(ca);
        test_urls(ca);
        ok(ota_ocsp_responder_new(&r, ca, NULL, &why, pool) == APR_SUCCESS,
           "the CA's own responder");
        ok(issued(ca, "good", &opts) && issued(ca, "lost", &opts),
           "certificates to ask about");
        test_ocsp_statuses(r, pki_file("signing-ca.pem"));
        test_ocsp_refusals(r);
        test_ocsp_delegated(ca);
    }
    return unit_done();
}
