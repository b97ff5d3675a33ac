/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* bench/floor.c: the cryptography each request needs, done with the
 * module's own core functions and nothing else, timed in one process: the
 * floor that make bench compares the server's CPU time per request with.
 *
 *   phase 1  one ota_cms_sign of a Profile Service payload
 *   phase 2  ota_cms_verify of a device's phase-2 body (device store) and
 *            ota_cms_sign of the answer (a Configuration holding the SCEP
 *            payload, built with scep_payload/ota_profile as the server
 *            builds it, so it has the server's size)
 *   phase 3  ota_cms_verify of a body signed by a SCEP identity (strict
 *            store), ota_final_build (the encryption) and ota_cms_sign
 *   scep     ota_scep_request_parse of a PKCSReq, ota_ca_issue and
 *            ota_scep_reply_build
 *
 * Inputs are made once, outside the clock, from the test PKI
 * (build/pki, t/pki.sh): the same identities, stores and profile as the
 * server of make bench. Each operation runs for --seconds of CPU after a
 * warm-up; its CPU time (CLOCK_PROCESS_CPUTIME_ID) per operation is what
 * counts, the wall time is printed beside it. One line per operation:
 *   FLOOR op=NAME us=CPU-US wall_us=WALL-US iterations=N bytes=ANSWER
 *
 * usage: floor PKI-DIR PROFILE [--seconds S] [--ec-cert F --ec-key K]
 *              [--real-body F --real-ca F] [--only OP --iterations N]
 * (--ec-*: also phase 2 answered by that signing identity, e.g. P-256;
 * --real-*: also the verification of a real device's phase-2 body, e.g.
 * t/fixtures/apple-real/phase2-macos13-zentral.der, in Apple's store;
 * --only OP --iterations N: that operation exactly N times, no warm-up,
 * for instruction counters such as callgrind --toggle-collect=op_phase2) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ota_ca.h"
#include "ota_challenge.h"
#include "ota_cms.h"
#include "ota_final.h"
#include "ota_plist.h"
#include "ota_profile.h"
#include "ota_scep.h"
#include "scep_payload.h"

#define UDID          "6A1B2C3D-0000-4000-8000-00000000F100"
#define SERVER        "http://127.0.0.1:8080"
#define SCEP_SECRET   "bench-secret"
#define CERT_DAYS     365

static const ota_ca_issue_opts issue_opts = { CERT_DAYS, NULL };

/* Everything the operations read, made before any clock starts. */
typedef struct floor_inputs {
    apr_pool_t *p;
    ota_identity *signer;           /* profiles: signing-chain.pem */
    ota_identity *ec_signer;        /* --ec-cert/--ec-key, or NULL */
    ota_trust *device_store;        /* phase 2: device-ca-chain.pem */
    ota_trust *ca_store;            /* phase 3: the CA, strict */
    ota_ca *ca;                     /* SCEP: signing-ca */
    ota_final_profile *final;
    ota_profile_meta meta;
    const char *phase1_xml;         /* Profile Service payload */
    apr_size_t phase1_len;
    const unsigned char *phase2_body;
    apr_size_t phase2_body_len;
    const char *phase2_xml;         /* the answer's plist */
    apr_size_t phase2_len;
    const unsigned char *phase3_body;
    apr_size_t phase3_body_len;
    apr_table_t *phase3_fields;
    const unsigned char *scep_body;
    apr_size_t scep_body_len;
    const char *real_body;          /* --real-body, or NULL */
    apr_size_t real_body_len;
    ota_trust *real_store;          /* --real-ca */
} floor_inputs;

typedef int (*floor_op)(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p);

static void die(const char *what, const char *why)
{
    fprintf(stderr, "floor: %s: %s\n", what, why ? why : "failed");
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static const char *in_dir(const char *dir, const char *name, apr_pool_t *p)
{
    return apr_pstrcat(p, dir, "/", name, NULL);
}

static apr_status_t read_file(const char **data, apr_size_t *len,
                              const char *file, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_status_t rv;

    if ((rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                            APR_FPROT_OS_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) == APR_SUCCESS) {
        buf = apr_palloc(p, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
        buf[*len] = '\0';
        *data = buf;
    }
    apr_file_close(f);
    return rv;
}

static ota_identity *identity(const char *cert, const char *key,
                              apr_pool_t *p)
{
    ota_identity *id;
    const char *why = NULL;

    if (ota_identity_load(&id, cert, key, &why, p) != APR_SUCCESS) {
        die(cert, why);
    }
    return id;
}

static const char *xml_of(plist_t root, apr_size_t *len, apr_pool_t *p)
{
    const char *xml;

    if (ota_plist_to_xml(&xml, len, root, p) != APR_SUCCESS) {
        die("plist", "cannot serialize");
    }
    return xml;
}

/* What a device posts: the attributes phase 1 asks for by default, and
 * CHALLENGE in phase 2. */
static const char *attributes(int with_challenge, apr_size_t *len,
                              apr_pool_t *p)
{
    plist_t dict = plist_new_dict();
    const char *challenge, *xml;

    ota_plist_dict_set_string(dict, "UDID", UDID);
    ota_plist_dict_set_string(dict, "VERSION", "21A329");
    ota_plist_dict_set_string(dict, "PRODUCT", "iPhone15,2");
    ota_plist_dict_set_string(dict, "SERIAL", "OTAEMU000001");
    ota_plist_dict_set_string(dict, "MEID", "");
    ota_plist_dict_set_string(dict, "IMEI", "");
    if (with_challenge) {
        if (ota_challenge_new(&challenge, p) != APR_SUCCESS) {
            die("challenge", NULL);
        }
        ota_plist_dict_set_string(dict, "CHALLENGE", challenge);
    }
    xml = xml_of(dict, len, p);
    plist_free(dict);
    return xml;
}

/* The phase-1 payload, as profile_service_handler builds it. */
static void phase1_prepare(floor_inputs *in)
{
    static const char *const names[] = {
        "UDID", "VERSION", "PRODUCT", "SERIAL", "MEID", "IMEI", NULL
    };
    apr_array_header_t *attrs = apr_array_make(in->p, 8, sizeof(char *));
    const char *challenge;
    plist_t root;

    for (const char *const *n = names; *n; n++) {
        APR_ARRAY_PUSH(attrs, const char *) = *n;
    }
    if (ota_challenge_new(&challenge, in->p) != APR_SUCCESS
        || ota_profile_service_build(&root, &in->meta,
                                     SERVER "/ota/enroll", attrs, challenge,
                                     in->p) != APR_SUCCESS) {
        die("phase 1 payload", NULL);
    }
    in->phase1_xml = xml_of(root, &in->phase1_len, in->p);
}

/* The phase-2 body, signed as a real device signs (SHA-1, no signed
 * attributes, the device CA chain sent along), and the answer's plist,
 * as enroll_handler builds it in front of the built-in CA. */
static void phase2_prepare(floor_inputs *in, const char *pki)
{
    ota_identity *device = identity(in_dir(pki, "device.pem", in->p),
                                    in_dir(pki, "device.key", in->p), in->p);
    static const char *const caps[] = {
        "AES", "POSTPKIOperation", "SHA-256", "SHA-512", "Renewal",
        "SCEPStandard", NULL
    };
    apr_array_header_t *getcacaps = apr_array_make(in->p, 8, sizeof(char *));
    apr_array_header_t *subject;
    STACK_OF(X509) *chain;
    ota_device_attributes *a;
    ota_scep_settings s;
    unsigned char fingerprint[20];
    const char *xml, *why = NULL, *scep_challenge;
    apr_size_t len;
    plist_t payload, payloads, root;

    if (ota_certs_load(&chain, in_dir(pki, "device-ca-chain.pem", in->p),
                       &why, in->p) != APR_SUCCESS) {
        die("device-ca-chain.pem", why);
    }
    for (int i = 0; i < sk_X509_num(chain); i++) {
        sk_X509_push(device->chain, sk_X509_value(chain, i));
    }
    xml = attributes(1, &len, in->p);
    if (ota_cms_sign(&in->phase2_body, &in->phase2_body_len, device, xml,
                     len, EVP_sha1(), 0, in->p) != APR_SUCCESS) {
        die("phase 2 body", "cannot sign");
    }
    if (ota_device_attributes_parse(&a, xml, len, &why, in->p)
        != APR_SUCCESS) {
        die("phase 2 attributes", why);
    }
    for (const char *const *c = caps; *c; c++) {
        APR_ARRAY_PUSH(getcacaps, const char *) = *c;
    }
    if (ota_subject_parse(&subject, "O=Example Inc./CN=%{UDID}", &why, in->p)
        != APR_SUCCESS
        || ota_challenge_new(&scep_challenge, in->p) != APR_SUCCESS
        || ota_cert_sha1(fingerprint, ota_ca_cert(in->ca)) != APR_SUCCESS) {
        die("SCEP payload", why);
    }
    memset(&s, 0, sizeof(s));
    s.url = SERVER "/scep";
    s.subject = subject;
    s.challenge = scep_challenge;
    s.key_size = 2048;
    s.key_usage = 5;
    s.ca_fingerprint = fingerprint;
    s.ca_fingerprint_len = sizeof(fingerprint);
    s.retries = 3;
    s.retry_delay = 10;
    s.getcacaps = getcacaps;
    payloads = plist_new_array();
    if (ota_scep_payload_build(&payload, &s, &in->meta, a->all, in->p)
        != APR_SUCCESS) {
        die("SCEP payload", NULL);
    }
    plist_array_append_item(payloads, payload);
    if (ota_profile_configuration_build(&root, &in->meta, "enrollment",
                                        payloads, in->p) != APR_SUCCESS) {
        die("phase 2 profile", NULL);
    }
    in->phase2_xml = xml_of(root, &in->phase2_len, in->p);
}

/* A device identity from the built-in CA, as SCEP gives it, and the
 * phase-3 body it signs (SHA-256, no signed attributes: ota-device's
 * defaults). */
static void phase3_prepare(floor_inputs *in)
{
    ota_identity *id = apr_pcalloc(in->p, sizeof(*id));
    X509_NAME *name = X509_NAME_new();
    ota_device_attributes *a;
    X509_REQ *csr;
    const char *xml, *why = NULL;
    apr_size_t len;

    id->key = EVP_RSA_gen(2048);
    id->chain = sk_X509_new_null();
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               (const unsigned char *)"Example Inc.", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)UDID, -1, -1, 0);
    if (!id->key || !id->chain
        || ota_scep_csr(&csr, id->key, name, NULL, in->p) != APR_SUCCESS
        || ota_ca_issue(&id->cert, NULL, &why, in->ca, csr, &issue_opts,
                        in->p) != APR_SUCCESS) {
        die("SCEP identity", why);
    }
    sk_X509_push(id->chain, ota_ca_cert(in->ca));
    xml = attributes(0, &len, in->p);
    if (ota_cms_sign(&in->phase3_body, &in->phase3_body_len, id, xml, len,
                     EVP_sha256(), 0, in->p) != APR_SUCCESS) {
        die("phase 3 body", "cannot sign");
    }
    if (ota_device_attributes_parse(&a, xml, len, &why, in->p)
        != APR_SUCCESS) {
        die("phase 3 attributes", why);
    }
    in->phase3_fields = a->all;
    X509_NAME_free(name);
    /* the key and stack live as long as the process */
}

/* A PKCSReq as ota-device load sends it: RSA 2048, AES-256, SHA-256,
 * the static challenge. */
static void scep_prepare(floor_inputs *in)
{
    ota_scep_client c;
    ota_scep_sent *sent;
    X509_NAME *name = X509_NAME_new();

    memset(&c, 0, sizeof(c));
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)"ota-floor", -1, -1,
                               0);
    c.key = EVP_RSA_gen(2048);
    c.recipient = ota_ca_cert(in->ca);
    c.type = OTA_SCEP_PKCS_REQ;
    c.md = EVP_sha256();
    c.cipher = EVP_aes_256_cbc();
    if (!c.key
        || ota_scep_self_signed(&c.cert, c.key, "ota-floor", 7, in->p)
        || ota_scep_csr(&c.csr, c.key, name, SCEP_SECRET, in->p)
        || ota_scep_request_build(&sent, &c, in->p) != APR_SUCCESS) {
        die("PKCSReq", NULL);
    }
    in->scep_body = sent->der;
    in->scep_body_len = sent->len;
    X509_NAME_free(name);
}

/* ---- the operations ---- */

static int sign(const ota_identity *id, const char *xml, apr_size_t len,
                apr_size_t *bytes, apr_pool_t *p)
{
    const unsigned char *der;

    /* as ota_sign_profile: SHA-256, signed attributes */
    if (ota_cms_sign(&der, bytes, id, xml, len, NULL, 1, p) != APR_SUCCESS) {
        die("ota_cms_sign", NULL);
    }
    return 0;
}

static void verified(const ota_signed_message *m, const char *what)
{
    char why[512];

    if (m->verdict != OTA_CMS_OK) {
        snprintf(why, sizeof(why), "%s (%s)",
                 ota_cms_verdict_name(m->verdict),
                 m->detail ? m->detail : "");
        die(what, why);
    }
}

static int op_phase1(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p)
{
    return sign(in->signer, in->phase1_xml, in->phase1_len, bytes, p);
}

static int op_phase2_verify(floor_inputs *in, apr_size_t *bytes,
                            apr_pool_t *p)
{
    ota_signed_message *m;

    if (ota_cms_verify(&m, in->phase2_body, in->phase2_body_len,
                       in->device_store, p) != APR_SUCCESS) {
        die("ota_cms_verify", NULL);
    }
    verified(m, "phase-2 body");
    *bytes = in->phase2_body_len;
    return 0;
}

static int op_phase2_verify_real(floor_inputs *in, apr_size_t *bytes,
                                 apr_pool_t *p)
{
    ota_signed_message *m;

    if (ota_cms_verify(&m, (const unsigned char *)in->real_body,
                       in->real_body_len, in->real_store, p)
        != APR_SUCCESS) {
        die("ota_cms_verify", NULL);
    }
    verified(m, "real phase-2 body");
    *bytes = in->real_body_len;
    return 0;
}

static int op_phase2_sign(floor_inputs *in, apr_size_t *bytes,
                          apr_pool_t *p)
{
    return sign(in->signer, in->phase2_xml, in->phase2_len, bytes, p);
}

static int op_phase2(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p)
{
    op_phase2_verify(in, bytes, p);
    return op_phase2_sign(in, bytes, p);
}

static int op_phase2_ec(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p)
{
    op_phase2_verify(in, bytes, p);
    return sign(in->ec_signer, in->phase2_xml, in->phase2_len, bytes, p);
}

static int op_phase3(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p)
{
    ota_signed_message *m;
    const char *why = NULL, *xml;
    apr_size_t len;
    plist_t root;

    if (ota_cms_verify(&m, in->phase3_body, in->phase3_body_len,
                       in->ca_store, p) != APR_SUCCESS) {
        die("ota_cms_verify", NULL);
    }
    verified(m, "phase-3 body");
    if (ota_final_build(&root, in->final, &in->meta, in->phase3_fields,
                        m->signer, NULL, &why, p) != APR_SUCCESS) {
        die("ota_final_build", why);
    }
    xml = xml_of(root, &len, p);
    return sign(in->signer, xml, len, bytes, p);
}

static int op_scep(floor_inputs *in, apr_size_t *bytes, apr_pool_t *p)
{
    ota_scep_request *req;
    const unsigned char *der;
    const char *why = NULL;
    X509 *issued;

    if (ota_scep_request_parse(&req, in->scep_body, in->scep_body_len,
                               ota_ca_identity(in->ca), NULL, p)
        != APR_SUCCESS || !req->ok) {
        die("ota_scep_request_parse", req ? req->detail : NULL);
    }
    if (ota_ca_issue(&issued, NULL, &why, in->ca, req->csr, &issue_opts, p)
        != APR_SUCCESS) {
        die("ota_ca_issue", why);
    }
    if (ota_scep_reply_build(&der, bytes, ota_ca_identity(in->ca), req,
                             OTA_SCEP_SUCCESS, 0, NULL, issued, p)
        != APR_SUCCESS) {
        die("ota_scep_reply_build", NULL);
    }
    return 0;
}

/* What to run: every operation for `seconds` of CPU time after a
 * warm-up, or only one, exactly `iterations` times. */
typedef struct floor_plan {
    double seconds;
    const char *only;
    long iterations;
} floor_plan;

/* Runs op as planned; a pool cleared at every iteration frees what it
 * made, as a request pool does. */
static void measure(const char *name, floor_op op, floor_inputs *in,
                    const floor_plan *plan)
{
    apr_pool_t *it;
    apr_size_t bytes = 0;
    double c0, w0, c1, w1;
    long n = 0;

    if (plan->only && strcmp(plan->only, name)) {
        return;
    }
    apr_pool_create(&it, in->p);
    for (int i = 0; !plan->iterations && i < 5; i++) {
        op(in, &bytes, it);
        apr_pool_clear(it);
    }
    c0 = cpu_now();
    w0 = wall_now();
    do {
        op(in, &bytes, it);
        apr_pool_clear(it);
        n++;
        c1 = cpu_now();
    } while (plan->iterations ? n < plan->iterations
                              : c1 - c0 < plan->seconds * 1e6);
    w1 = wall_now();
    printf("FLOOR op=%s us=%.1f wall_us=%.1f iterations=%ld bytes=%"
           APR_SIZE_T_FMT "\n", name, (c1 - c0) / n, (w1 - w0) / n, n,
           bytes);
    apr_pool_destroy(it);
}

int main(int argc, const char *const *argv)
{
    floor_inputs in;
    const char *pki, *profile, *why = NULL;
    const char *ec_cert = NULL, *ec_key = NULL;
    const char *real_body = NULL, *real_ca = NULL;
    floor_plan plan = { 1.0, NULL, 0 };
    int i;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        return 1;
    }
    atexit(apr_terminate);
    if (argc < 3) {
        fprintf(stderr, "usage: floor PKI-DIR PROFILE [--seconds S] "
                "[--ec-cert F --ec-key K]\n");
        return 2;
    }
    pki = argv[1];
    profile = argv[2];
    for (i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) {
            plan.seconds = atof(argv[i + 1]);
        }
        else if (!strcmp(argv[i], "--only")) {
            plan.only = argv[i + 1];
        }
        else if (!strcmp(argv[i], "--iterations")) {
            plan.iterations = atol(argv[i + 1]);
        }
        else if (!strcmp(argv[i], "--ec-cert")) {
            ec_cert = argv[i + 1];
        }
        else if (!strcmp(argv[i], "--ec-key")) {
            ec_key = argv[i + 1];
        }
        else if (!strcmp(argv[i], "--real-body")) {
            real_body = argv[i + 1];
        }
        else if (!strcmp(argv[i], "--real-ca")) {
            real_ca = argv[i + 1];
        }
        else {
            die(argv[i], "unknown option");
        }
    }
    if (i != argc || !(plan.seconds > 0.0) || plan.iterations < 0
        || !ec_cert != !ec_key || !real_body != !real_ca
        || !plan.only != !plan.iterations) {
        die("options", "--seconds S, --ec-cert F --ec-key K, --real-body F "
            "--real-ca F, --only OP --iterations N");
    }
    memset(&in, 0, sizeof(in));
    if (apr_pool_create(&in.p, NULL) != APR_SUCCESS
        || ota_scep_init() != APR_SUCCESS) {
        die("init", NULL);
    }
    in.meta.identifier = "org.example.bench.ota";
    in.meta.organization = "mod_ota_enroll bench";
    in.meta.display_name = "Device enrollment";
    in.signer = identity(in_dir(pki, "signing-chain.pem", in.p),
                         in_dir(pki, "signing.key", in.p), in.p);
    if (ec_cert) {
        in.ec_signer = identity(ec_cert, ec_key, in.p);
    }
    if (ota_trust_load(&in.device_store, in_dir(pki, "device-ca-chain.pem",
                                                in.p),
                       OTA_TRUST_APPLE_DEVICE, &why, in.p) != APR_SUCCESS
        || ota_trust_load(&in.ca_store, in_dir(pki, "signing-ca.pem", in.p),
                          OTA_TRUST_STRICT, &why, in.p) != APR_SUCCESS
        || ota_ca_load(&in.ca, in_dir(pki, "signing-ca.pem", in.p),
                       in_dir(pki, "signing-ca.key", in.p), &why, in.p)
           != APR_SUCCESS
        || ota_final_load(&in.final, profile, &why, in.p) != APR_SUCCESS) {
        die("stores, CA or profile", why);
    }
    if (real_body
        && (ota_trust_load(&in.real_store, real_ca, OTA_TRUST_APPLE_DEVICE,
                           &why, in.p) != APR_SUCCESS
            || read_file(&in.real_body, &in.real_body_len, real_body,
                         in.p) != APR_SUCCESS)) {
        die(real_body, why);
    }
    phase1_prepare(&in);
    phase2_prepare(&in, pki);
    phase3_prepare(&in);
    scep_prepare(&in);
    printf("floor: %s, phase-2 body %" APR_SIZE_T_FMT " bytes, phase-3 body "
           "%" APR_SIZE_T_FMT " bytes, PKCSReq %" APR_SIZE_T_FMT " bytes, "
           "%s\n", OpenSSL_version(OPENSSL_VERSION), in.phase2_body_len,
           in.phase3_body_len, in.scep_body_len,
           plan.only ? apr_psprintf(in.p, "%s %ld times", plan.only,
                                    plan.iterations)
                     : apr_psprintf(in.p, "%.1f s of CPU per operation",
                                    plan.seconds));
    measure("phase1", op_phase1, &in, &plan);
    measure("phase2_verify", op_phase2_verify, &in, &plan);
    measure("phase2_sign", op_phase2_sign, &in, &plan);
    measure("phase2", op_phase2, &in, &plan);
    measure("phase3", op_phase3, &in, &plan);
    measure("scep", op_scep, &in, &plan);
    if (in.ec_signer) {
        measure("phase2_ec", op_phase2_ec, &in, &plan);
    }
    if (in.real_body) {
        measure("phase2_verify_real", op_phase2_verify_real, &in, &plan);
    }
    apr_pool_destroy(in.p);
    return 0;
}
