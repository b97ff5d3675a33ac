/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota-device: plays an Apple device against a profile service (phases 1
 * and 2, then the SCEP requests a device makes before its PKIOperation),
 * and inspects or forges phase-2 bodies with the module's own CMS code.
 * A test tool: it prints every request so tests can count them, and never
 * prints a challenge or a key. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_getopt.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "ota_cms.h"
#include "ota_plist.h"
#include "scep_payload.h"

#define EXIT_LOCAL   1      /* usage, files; inspect: message refused */
#define EXIT_PHASE1  2
#define EXIT_PHASE2  3
#define EXIT_NETWORK 4      /* iOS 4 without an answer to GetCACaps */
#define EXIT_SCEP    5

#define MAX_BODY (1024 * 1024)
#define MAX_FILE (16 * 1024 * 1024)
#define PHASE_TIMEOUT_MS 30000
#define SCEP_TIMEOUT_MS 3000
#define EXCERPT_LEN 200

#define ASPEN_CONFIG "application/x-apple-aspen-config"
#define NETWORK_LOST "A network error has occurred. " \
                     "The network connection was lost"

static const char usage_text[] =
"usage: ota-device enroll --url URL --identity CERT --key KEY [options]\n"
"       ota-device inspect FILE [--device-ca FILE]\n"
"       ota-device sign --identity CERT --key KEY [--chain FILE]\n"
"                       [--digest sha1|sha256|md5] [--attributes] IN OUT\n"
"       ota-device --help\n"
"\n"
"enroll: plays an Apple device: phase 1 (GET URL), phase 2 (POST the\n"
"signed device attributes), then the SCEP requests a device makes before\n"
"its PKIOperation (GetCACert, GetCACaps); PKIOperation is not sent yet.\n"
"  --url URL            the profile service\n"
"  --user USER:PASS     HTTP basic authentication for phase 1\n"
"  --cacert FILE        CA certificates for the server's TLS\n"
"  --trust FILE         root the profiles must be signed under (strict\n"
"                       store); without it signatures are not checked\n"
"  --identity CERT      device identity certificate (PEM, may hold a chain)\n"
"  --key KEY            its private key (PEM)\n"
"  --chain FILE         more certificates to send with the signature\n"
"  --emulate OS         ios3, ios4 or current (default current)\n"
"  --udid U             default: the identity's CN\n"
"  --serial S           default OTAEMU000001\n"
"  --product P          default iPhone2,1 / iPhone3,1 / iPhone15,2\n"
"  --version V          default 7E18 / 8A293 / 21A329\n"
"  --digest sha1|sha256 phase-2 signature digest (default sha1)\n"
"  --attributes         add signed attributes (real devices send none)\n"
"  --save-dir DIR       keep phase1.der, phase1.plist, phase2-request.der,\n"
"                       phase2.der and phase2.plist in DIR\n"
"  --timeout SEC        bound of every request (default: 30 for phases\n"
"                       1 and 2, 3 for SCEP requests)\n"
"inspect: verifies a captured phase-2 body (DER or BER) as the module does\n"
"  --device-ca FILE     device CA chain (default " OTA_DEVICE_CA_DEFAULT ")\n"
"sign: signs IN as a device would (default sha1, no signed attributes)\n"
"\n"
"exit status: 0 ok, 1 usage or local error (inspect: refused), 2 phase 1\n"
"failed, 3 phase 2 failed, 4 network connection lost (iOS 4 without\n"
"GetCACaps), 5 SCEP request failed\n";

/* What differs between the emulated systems. */
typedef struct device_os {
    const char *name;
    const char *user_agent;
    const char *product;
    const char *version;
    int getcacaps_attempts;
    int fail_without_caps;      /* iOS 4 gives up instead of defaulting */
} device_os;

static const device_os device_oses[] = {
    { "ios3", "Mozilla/5.0 (iPhone; U; CPU iPhone OS 3_1_3 like Mac OS X; "
      "en-us) Profile/1.0", "iPhone2,1", "7E18", 2, 0 },
    { "ios4", "Mozilla/5.0 (iPhone; U; CPU iPhone OS 4_0 like Mac OS X; "
      "en-us) Profile/1.0", "iPhone3,1", "8A293", 3, 1 },
    { "current", "Profile/1.0 iPhone OS 17", "iPhone15,2", "21A329", 1, 0 },
    { NULL, NULL, NULL, NULL, 0, 0 }
};

/* The SCEP payload of phase 2 and what the device learns before
 * PKIOperation. */
typedef struct scep_info {
    const char *url;
    const char *name;
    const unsigned char *fingerprint;
    apr_size_t fingerprint_len;
    apr_array_header_t *payload_caps;   /* NULL: no GetCACaps key */
    apr_array_header_t *caps;           /* what the device uses */
    STACK_OF(X509) *ca_certs;           /* GetCACert's answer */
    const char *method;                 /* PKIOperation: GET or POST */
    const char *cipher;
    const char *digest;
} scep_info;

typedef struct dev_ctx {
    apr_pool_t *p;
    const char *command;
    /* options */
    const char *url, *user, *cacert, *trust_file, *device_ca;
    const char *identity_file, *key_file, *chain_file, *save_dir;
    const char *udid, *serial, *product, *version;
    const device_os *os;
    const EVP_MD *md;
    const char *md_name;
    int with_attributes;
    long timeout_ms;                    /* 0: the defaults */
    int help;
    const char *const *args;
    int nargs;
    /* state */
    ota_trust *trust;
    ota_identity *id;
    const char *enroll_url;
    const char *challenge;
    apr_array_header_t *attributes;     /* requested by phase 1 */
    scep_info scep;
} dev_ctx;

/* ---- small helpers ---- */

static int complain(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int complain(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("ota-device: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static const char *apr_error(apr_status_t rv, apr_pool_t *p)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

static apr_status_t file_read(const char **data, apr_size_t *len,
                              const char *path, apr_pool_t *p)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && fi.size > MAX_FILE) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        buf = apr_palloc(p, (apr_size_t)fi.size + 1);
        rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, len);
        buf[*len] = '\0';
        *data = buf;
    }
    apr_file_close(f);
    return rv;
}

static apr_status_t file_write(const char *path, const void *data,
                               apr_size_t len, apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE | APR_FOPEN_BINARY,
                       APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_write_full(f, data, len, NULL);
    apr_file_close(f);
    return rv;
}

/* Keeps a copy in --save-dir, if given. */
static int save(const dev_ctx *ctx, const char *name, const void *data,
                apr_size_t len)
{
    const char *path;
    apr_status_t rv;

    if (!ctx->save_dir) {
        return 0;
    }
    path = apr_pstrcat(ctx->p, ctx->save_dir, "/", name, NULL);
    if ((rv = file_write(path, data, len, ctx->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", path,
                        apr_error(rv, ctx->p));
    }
    return 0;
}

static const char *bio_text(BIO *b, apr_pool_t *p)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    const char *s = apr_pstrmemdup(p, data ? data : "", n > 0 ? n : 0);

    BIO_free(b);
    return s;
}

static const char *name_text(const X509_NAME *name, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());

    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
    return bio_text(b, p);
}

static const char *time_text(const ASN1_TIME *t, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());

    ASN1_TIME_print_ex(b, t, ASN1_DTFLGS_ISO8601);
    return bio_text(b, p);
}

static const char *cert_cn(X509 *x, apr_pool_t *p)
{
    X509_NAME *name = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    const char *cn = NULL;
    int n;

    if (i >= 0) {
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
                                           X509_NAME_get_entry(name, i)));
        if (n >= 0) {
            cn = apr_pstrmemdup(p, (const char *)utf8, n);
        }
    }
    OPENSSL_free(utf8);
    return cn;
}

static const char *hex_text(const unsigned char *data, apr_size_t len,
                            apr_pool_t *p)
{
    char *hex = apr_palloc(p, len * 2 + 1);

    for (apr_size_t i = 0; i < len; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02X", data[i]);
    }
    hex[len * 2] = '\0';
    return hex;
}

/* The start of an answer body, printable. */
static const char *excerpt(const char *body, apr_size_t len, apr_pool_t *p)
{
    apr_size_t n = len < EXCERPT_LEN ? len : EXCERPT_LEN;
    char *s = apr_pstrmemdup(p, body, n);

    if (len == 0) {
        return "(empty)";
    }
    for (apr_size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
            s[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : '.';
        }
    }
    return len > n ? apr_pstrcat(p, s, "...", NULL) : s;
}

static apr_status_t free_x509_stack(void *s)
{
    sk_X509_pop_free(s, X509_free);
    return APR_SUCCESS;
}

/* ---- HTTP, by libcurl ---- */

typedef struct http_request {
    const char *method;
    const char *url;
    const char *body;                   /* NULL: GET */
    apr_size_t len;
    const char *content_type;
    const char *user;                   /* USER:PASS or NULL */
    long timeout_ms;
} http_request;

typedef struct http_answer {
    const char *error;                  /* no answer: why */
    long status;
    const char *content_type;
    const char *body;
    apr_size_t len;
} http_answer;

typedef struct http_sink {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, size;
    int too_big;
} http_sink;

static size_t sink_write(char *data, size_t size, size_t n, void *ctx)
{
    http_sink *s = ctx;
    apr_size_t add = size * n;
    char *grown;

    if (s->len + add > MAX_BODY) {
        s->too_big = 1;
        return 0;
    }
    if (s->len + add + 1 > s->size) {
        s->size = (s->len + add + 1) * 2;
        grown = apr_palloc(s->p, s->size);
        if (s->len) {
            memcpy(grown, s->buf, s->len);
        }
        s->buf = grown;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

static void http_setup(CURL *curl, const dev_ctx *ctx,
                       const http_request *rq, http_sink *sink,
                       char *errbuf)
{
    curl_easy_setopt(curl, CURLOPT_URL, rq->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, ctx->os->user_agent);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    if (ctx->cacert) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, ctx->cacert);
    }
    if (rq->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, rq->user);
    }
    if (rq->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->len);
    }
}

static http_answer *http_do(const dev_ctx *ctx, const http_request *rq)
{
    http_answer *a = apr_pcalloc(ctx->p, sizeof(*a));
    http_sink sink = { ctx->p, NULL, 0, 0, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    CURL *curl = curl_easy_init();
    char *ct = NULL;
    CURLcode rc;

    if (!curl) {
        a->error = "cannot start libcurl";
        return a;
    }
    http_setup(curl, ctx, rq, &sink, errbuf);
    if (rq->body) {
        headers = curl_slist_append(headers, apr_pstrcat(ctx->p,
                                    "Content-Type: ", rq->content_type,
                                    NULL));
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
        a->content_type = apr_pstrdup(ctx->p, ct ? ct : "");
    }
    else {
        a->error = sink.too_big ? "answer larger than 1 MiB"
                   : apr_pstrdup(ctx->p, *errbuf ? errbuf
                                                 : curl_easy_strerror(rc));
    }
    a->body = sink.buf ? sink.buf : "";
    a->len = sink.len;
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return a;
}

static int media_type_is(const char *ct, const char *want)
{
    apr_size_t n = strlen(want);

    return ct && strncasecmp(ct, want, n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ref resolved against base, as a browser would. */
static const char *url_resolve(const char *base, const char *ref,
                               apr_pool_t *p)
{
    CURLU *u = curl_url();
    char *text = NULL;
    const char *out = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
        out = apr_pstrdup(p, text);
    }
    curl_free(text);
    curl_url_cleanup(u);
    return out;
}

/* SCEPURL?operation=OP&message=NAME, a space in NAME as %20 (a '+' is
 * not a space to every server). */
static const char *scep_url(const scep_info *s, const char *operation,
                            apr_pool_t *p)
{
    CURLU *u = curl_url();
    char *name = s->name ? curl_easy_escape(NULL, s->name, 0) : NULL;
    char *text = NULL;
    const char *out = NULL;

    if (u && (!s->name || name)
        && curl_url_set(u, CURLUPART_URL, s->url, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_QUERY,
                        apr_pstrcat(p, "operation=", operation, NULL),
                        CURLU_APPENDQUERY) == CURLUE_OK
        && (!name || curl_url_set(u, CURLUPART_QUERY,
                                  apr_pstrcat(p, "message=", name, NULL),
                                  CURLU_APPENDQUERY) == CURLUE_OK)
        && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
        out = apr_pstrdup(p, text);
    }
    curl_free(name);
    curl_free(text);
    curl_url_cleanup(u);
    return out;
}

/* ---- signed profiles (phases 1 and 2) ---- */

static const ota_plist_limits profile_limits = {
    1024 * 1024, 32, 4096, 65536
};

/* The eContent of a SignedData whose signature is not checked. */
static int cms_content_unchecked(const char **xml, apr_size_t *len,
                                 const http_answer *a, const char **why,
                                 apr_pool_t *p)
{
    const unsigned char *at = (const unsigned char *)a->body;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)a->len);
    ASN1_OCTET_STRING **content = NULL;
    int found;

    if (cms && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
        content = CMS_get0_content(cms);
    }
    if ((found = content && *content) != 0) {
        *len = ASN1_STRING_length(*content);
        *xml = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(*content),
                              *len);
        printf("signature not checked (no --trust)\n");
    }
    else {
        *why = cms ? "not a SignedData with content"
                   : apr_pstrcat(p, "not CMS: ", ota_openssl_error(p), NULL);
    }
    ERR_clear_error();
    CMS_ContentInfo_free(cms);
    return found;
}

static int cms_content(const char **xml, apr_size_t *len,
                       const dev_ctx *ctx, const http_answer *a,
                       const char **why)
{
    ota_signed_message *m;

    if (!ctx->trust) {
        return cms_content_unchecked(xml, len, a, why, ctx->p);
    }
    if (ota_cms_verify(&m, (const unsigned char *)a->body, a->len,
                       ctx->trust, ctx->p) != APR_SUCCESS) {
        *why = apr_pstrcat(ctx->p, "cannot verify: ",
                           ota_openssl_error(ctx->p), NULL);
        return 0;
    }
    if (m->verdict != OTA_CMS_OK) {
        *why = apr_psprintf(ctx->p, "signature refused: %s (%s)",
                            ota_cms_verdict_name(m->verdict),
                            m->detail ? m->detail : "");
        return 0;
    }
    printf("signature: ok, signed by %s (%s)\n",
           name_text(X509_get_subject_name(m->signer), ctx->p),
           m->digest_name);
    *xml = m->content;
    *len = m->content_len;
    return 1;
}

/* Checks a phase-1 or phase-2 answer and parses the profile in it. */
static int profile_answer(plist_t *root, const dev_ctx *ctx, int phase,
                          const http_answer *a)
{
    int code = phase == 1 ? EXIT_PHASE1 : EXIT_PHASE2;
    const char *xml = NULL, *why = NULL;
    apr_size_t len = 0;
    int rc;

    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return complain(code, "phase %d: no answer: %s", phase, a->error);
    }
    printf("<- %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", excerpt(a->body, a->len, ctx->p));
        return complain(code, "phase %d: HTTP %ld", phase, a->status);
    }
    if (!media_type_is(a->content_type, ASPEN_CONFIG)) {
        return complain(code, "phase %d: Content-Type %s, not "
                        ASPEN_CONFIG, phase, a->content_type);
    }
    if ((rc = save(ctx, apr_psprintf(ctx->p, "phase%d.der", phase),
                   a->body, a->len)) != 0) {
        return rc;
    }
    if (!cms_content(&xml, &len, ctx, a, &why)) {
        return complain(code, "phase %d: %s", phase, why);
    }
    if ((rc = save(ctx, apr_psprintf(ctx->p, "phase%d.plist", phase),
                   xml, len)) != 0) {
        return rc;
    }
    if (ota_plist_parse(root, xml, len, &profile_limits, &why, ctx->p)
        != APR_SUCCESS || plist_get_node_type(*root) != PLIST_DICT) {
        return complain(code, "phase %d: property list refused: %s", phase,
                        why ? why : "not a dict");
    }
    return 0;
}

static apr_array_header_t *string_array(plist_t node, apr_pool_t *p)
{
    apr_array_header_t *out;
    uint32_t n;
    uint64_t len = 0;
    const char *s;

    if (!node || plist_get_node_type(node) != PLIST_ARRAY) {
        return NULL;
    }
    n = plist_array_get_size(node);
    out = apr_array_make(p, n ? n : 1, sizeof(const char *));
    for (uint32_t i = 0; i < n; i++) {
        plist_t item = plist_array_get_item(node, i);

        if (plist_get_node_type(item) != PLIST_STRING) {
            return NULL;
        }
        s = plist_get_string_ptr(item, &len);
        APR_ARRAY_PUSH(out, const char *) = apr_pstrmemdup(p, s, len);
    }
    return out;
}

static const char *list_text(const apr_array_header_t *a, apr_pool_t *p)
{
    const char *out;

    if (!a) {
        return "(absent)";
    }
    if (!a->nelts) {
        return "(empty)";
    }
    out = APR_ARRAY_IDX(a, 0, const char *);
    for (int i = 1; i < a->nelts; i++) {
        out = apr_pstrcat(p, out, ", ", APR_ARRAY_IDX(a, i, const char *),
                          NULL);
    }
    return out;
}

/* ---- phase 1 ---- */

static int phase1_read(dev_ctx *ctx, plist_t root)
{
    plist_t content = plist_dict_get_item(root, "PayloadContent");
    const char *type = ota_plist_dict_get_string(root, "PayloadType",
                                                 ctx->p);
    const char *url;

    if (!type || strcmp(type, "Profile Service") != 0) {
        return complain(EXIT_PHASE1, "phase 1: PayloadType is %s, not "
                        "Profile Service", type ? type : "missing");
    }
    if (!content || plist_get_node_type(content) != PLIST_DICT
        || !(url = ota_plist_dict_get_string(content, "URL", ctx->p))) {
        return complain(EXIT_PHASE1, "phase 1: no PayloadContent.URL");
    }
    if (!(ctx->enroll_url = url_resolve(ctx->url, url, ctx->p))) {
        return complain(EXIT_PHASE1, "phase 1: bad URL %s", url);
    }
    ctx->challenge = ota_plist_dict_get_string(content, "Challenge", ctx->p);
    ctx->attributes = string_array(plist_dict_get_item(content,
                                                       "DeviceAttributes"),
                                   ctx->p);
    printf("Profile Service: %s\n", ota_plist_dict_get_string(
               root, "PayloadIdentifier", ctx->p));
    printf("  URL: %s\n", ctx->enroll_url);
    if (ctx->challenge) {
        printf("  Challenge: <present, %" APR_SIZE_T_FMT " chars>\n",
               strlen(ctx->challenge));
    }
    else {
        printf("  Challenge: (absent)\n");
    }
    printf("  DeviceAttributes: %s\n", list_text(ctx->attributes, ctx->p));
    return 0;
}

static int phase1(dev_ctx *ctx)
{
    http_request rq = { "GET", ctx->url, NULL, 0, NULL, ctx->user,
                        ctx->timeout_ms ? ctx->timeout_ms
                                        : PHASE_TIMEOUT_MS };
    plist_t root = NULL;
    int rc;

    printf("phase 1: GET %s\n", ctx->url);
    if ((rc = profile_answer(&root, ctx, 1, http_do(ctx, &rq))) != 0) {
        return rc;
    }
    return phase1_read(ctx, root);
}

/* ---- phase 2 ---- */

static const char *attribute_value(const dev_ctx *ctx, const char *name)
{
    if (strcmp(name, "UDID") == 0) {
        return ctx->udid;
    }
    if (strcmp(name, "SERIAL") == 0) {
        return ctx->serial;
    }
    if (strcmp(name, "PRODUCT") == 0) {
        return ctx->product;
    }
    if (strcmp(name, "VERSION") == 0) {
        return ctx->version;
    }
    if (strcmp(name, "IMEI") == 0 || strcmp(name, "MEID") == 0) {
        return "";
    }
    if (strcmp(name, "DEVICE_NAME") == 0) {
        return "Test iPhone";
    }
    return NULL;
}

static int attributes_build(const char **xml, apr_size_t *len,
                            const dev_ctx *ctx)
{
    plist_t dict = plist_new_dict();
    apr_array_header_t *sent = apr_array_make(ctx->p, 8, sizeof(char *));
    const char *name, *value;

    ota_plist_free_with_pool(dict, ctx->p);
    for (int i = 0; ctx->attributes && i < ctx->attributes->nelts; i++) {
        name = APR_ARRAY_IDX(ctx->attributes, i, const char *);
        if ((value = attribute_value(ctx, name)) != NULL) {
            ota_plist_dict_set_string(dict, name, value);
            APR_ARRAY_PUSH(sent, const char *) = name;
        }
        else {
            printf("  not sent: %s (unknown to the emulator)\n", name);
        }
    }
    if (ctx->challenge) {
        ota_plist_dict_set_string(dict, "CHALLENGE", ctx->challenge);
        APR_ARRAY_PUSH(sent, const char *) = "CHALLENGE";
    }
    printf("  attributes: %s\n", list_text(sent, ctx->p));
    return ota_plist_to_xml(xml, len, dict, ctx->p) == APR_SUCCESS ? 0
           : complain(EXIT_LOCAL, "cannot serialize the attributes");
}

static plist_t scep_payload_find(plist_t root, apr_pool_t *p)
{
    plist_t list = plist_dict_get_item(root, "PayloadContent");
    plist_t item, content;
    const char *type;

    if (!list || plist_get_node_type(list) != PLIST_ARRAY) {
        return NULL;
    }
    for (uint32_t i = 0; i < plist_array_get_size(list); i++) {
        item = plist_array_get_item(list, i);
        type = ota_plist_dict_get_string(item, "PayloadType", p);
        content = type && strcmp(type, "com.apple.security.scep") == 0
                  ? plist_dict_get_item(item, "PayloadContent") : NULL;
        if (content && plist_get_node_type(content) == PLIST_DICT) {
            return content;
        }
    }
    return NULL;
}

static const char *uint_text(plist_t dict, const char *key, apr_pool_t *p)
{
    plist_t node = plist_dict_get_item(dict, key);
    uint64_t v = 0;

    if (!node) {
        return "(absent)";
    }
    if (plist_get_node_type(node) != PLIST_UINT) {
        return "(not an integer)";
    }
    plist_get_uint_val(node, &v);
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)v);
}

/* [[[oid, value]], ...] as /oid=value/... */
static const char *subject_text(plist_t subject, apr_pool_t *p)
{
    const char *out = "";
    apr_array_header_t *pair;
    plist_t rdn;

    if (!subject) {
        return "(absent)";
    }
    if (plist_get_node_type(subject) != PLIST_ARRAY) {
        return "(malformed)";
    }
    for (uint32_t i = 0; i < plist_array_get_size(subject); i++) {
        rdn = plist_array_get_item(subject, i);
        if (plist_get_node_type(rdn) != PLIST_ARRAY) {
            return "(malformed)";
        }
        for (uint32_t j = 0; j < plist_array_get_size(rdn); j++) {
            pair = string_array(plist_array_get_item(rdn, j), p);
            if (!pair || pair->nelts != 2) {
                return "(malformed)";
            }
            out = apr_pstrcat(p, out, j ? "+" : "/",
                              APR_ARRAY_IDX(pair, 0, const char *), "=",
                              APR_ARRAY_IDX(pair, 1, const char *), NULL);
        }
    }
    return out;
}

static int scep_payload_read(scep_info *s, plist_t c, apr_pool_t *p)
{
    plist_t fp = plist_dict_get_item(c, "CAFingerprint");
    plist_t caps = plist_dict_get_item(c, "GetCACaps");
    uint64_t len = 0;

    if (!(s->url = ota_plist_dict_get_string(c, "URL", p))) {
        return complain(EXIT_PHASE2, "phase 2: the SCEP payload has no URL");
    }
    s->name = ota_plist_dict_get_string(c, "Name", p);
    if (fp && plist_get_node_type(fp) == PLIST_DATA) {
        s->fingerprint = (const unsigned char *)plist_get_data_ptr(fp, &len);
        s->fingerprint = apr_pmemdup(p, s->fingerprint, len);
        s->fingerprint_len = len;
    }
    s->payload_caps = string_array(caps, p);
    if (caps && !s->payload_caps) {
        printf("  GetCACaps is not an array of strings: ignored\n");
    }
    return 0;
}

static void scep_payload_print(const scep_info *s, plist_t c, apr_pool_t *p)
{
    const char *challenge = ota_plist_dict_get_string(c, "Challenge", p);

    printf("SCEP payload:\n");
    printf("  URL: %s\n", s->url);
    printf("  Name: %s\n", s->name ? s->name : "(absent)");
    printf("  Subject: %s\n",
           subject_text(plist_dict_get_item(c, "Subject"), p));
    if (challenge) {
        printf("  Challenge: <present, %" APR_SIZE_T_FMT " chars>\n",
               strlen(challenge));
    }
    else {
        printf("  Challenge: (absent)\n");
    }
    printf("  Keysize: %s\n", uint_text(c, "Keysize", p));
    printf("  Key Type: %s\n", ota_plist_dict_get_string(c, "Key Type", p));
    printf("  Key Usage: %s\n", uint_text(c, "Key Usage", p));
    printf("  CAFingerprint: %s\n", s->fingerprint
           ? hex_text(s->fingerprint, s->fingerprint_len, p) : "(absent)");
    printf("  Retries: %s\n", uint_text(c, "Retries", p));
    printf("  RetryDelay: %s\n", uint_text(c, "RetryDelay", p));
    if (plist_dict_get_item(c, "SubjectAltName")) {
        printf("  SubjectAltName: (present)\n");
    }
    printf("  GetCACaps: %s\n", list_text(s->payload_caps, p));
}

static int phase2_read(dev_ctx *ctx, plist_t root)
{
    const char *type = ota_plist_dict_get_string(root, "PayloadType",
                                                 ctx->p);
    plist_t content;
    int rc;

    if (!type || strcmp(type, "Configuration") != 0) {
        return complain(EXIT_PHASE2, "phase 2: PayloadType is %s, not "
                        "Configuration", type ? type : "missing");
    }
    if (!(content = scep_payload_find(root, ctx->p))) {
        return complain(EXIT_PHASE2, "phase 2: no com.apple.security.scep "
                        "payload");
    }
    if ((rc = scep_payload_read(&ctx->scep, content, ctx->p)) != 0) {
        return rc;
    }
    if (!(ctx->scep.url = url_resolve(ctx->enroll_url, ctx->scep.url,
                                      ctx->p))) {
        return complain(EXIT_PHASE2, "phase 2: bad SCEP URL");
    }
    scep_payload_print(&ctx->scep, content, ctx->p);
    return 0;
}

static int phase2(dev_ctx *ctx)
{
    http_request rq = { "POST", ctx->enroll_url, NULL, 0,
                        "application/pkcs7-signature", NULL,
                        ctx->timeout_ms ? ctx->timeout_ms
                                        : PHASE_TIMEOUT_MS };
    const unsigned char *der;
    const char *xml;
    apr_size_t xml_len;
    plist_t root = NULL;
    int rc;

    printf("phase 2: POST %s\n", ctx->enroll_url);
    if ((rc = attributes_build(&xml, &xml_len, ctx)) != 0) {
        return rc;
    }
    if (ota_cms_sign(&der, &rq.len, ctx->id, xml, xml_len, ctx->md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot sign the attributes with %s "
                        "(ota_cms_sign reports no reason)", ctx->md_name);
    }
    printf("  signed: %" APR_SIZE_T_FMT " bytes, %s, %s\n", rq.len,
           ctx->md_name, ctx->with_attributes ? "with signed attributes"
                                              : "no signed attributes");
    rq.body = (const char *)der;
    if ((rc = save(ctx, "phase2-request.der", der, rq.len)) != 0
        || (rc = profile_answer(&root, ctx, 2, http_do(ctx, &rq))) != 0) {
        return rc;
    }
    return phase2_read(ctx, root);
}

/* ---- SCEP: what a device does before PKIOperation ---- */

/* GetCACert answers one DER certificate or a certs-only SignedData. */
static STACK_OF(X509) *ca_certs_parse(const http_answer *a, apr_pool_t *p)
{
    const unsigned char *at = (const unsigned char *)a->body;
    X509 *x = d2i_X509(NULL, &at, (long)a->len);
    STACK_OF(X509) *certs = NULL;
    CMS_ContentInfo *cms;

    if (x) {
        certs = sk_X509_new_null();
        sk_X509_push(certs, x);
    }
    else {
        at = (const unsigned char *)a->body;
        if ((cms = d2i_CMS_ContentInfo(NULL, &at, (long)a->len)) != NULL) {
            certs = CMS_get1_certs(cms);
            CMS_ContentInfo_free(cms);
        }
    }
    ERR_clear_error();
    if (certs) {
        apr_pool_cleanup_register(p, certs, free_x509_stack,
                                  apr_pool_cleanup_null);
    }
    return certs && sk_X509_num(certs) > 0 ? certs : NULL;
}

/* A device refuses a CA that does not match the payload's CAFingerprint
 * (MD5, SHA-1 or SHA-256, told apart by length). */
static int fingerprint_check(const scep_info *s, apr_pool_t *p)
{
    const EVP_MD *md = s->fingerprint_len == 16 ? EVP_md5()
                       : s->fingerprint_len == 20 ? EVP_sha1()
                       : s->fingerprint_len == 32 ? EVP_sha256() : NULL;
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int n;
    X509 *x;

    if (!s->fingerprint) {
        printf("CAFingerprint: none in the payload, CA not pinned\n");
        return 0;
    }
    for (int i = 0; md && i < sk_X509_num(s->ca_certs); i++) {
        x = sk_X509_value(s->ca_certs, i);
        if (X509_digest(x, md, buf, &n) == 1 && n == s->fingerprint_len
            && memcmp(buf, s->fingerprint, n) == 0) {
            printf("CAFingerprint: matches %s\n",
                   name_text(X509_get_subject_name(x), p));
            return 0;
        }
    }
    return complain(EXIT_SCEP, "GetCACert: no certificate matches "
                    "CAFingerprint");
}

static int scep_getcacert(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    http_request rq = { "GET", scep_url(s, "GetCACert", ctx->p), NULL, 0,
                        NULL, NULL, ctx->timeout_ms ? ctx->timeout_ms
                                                    : SCEP_TIMEOUT_MS };
    http_answer *a;

    if (!rq.url) {
        return complain(EXIT_SCEP, "bad SCEP URL %s", s->url);
    }
    printf("SCEP: %s (CA name %s)\n", s->url, s->name ? s->name : "none");
    printf("-> GetCACert\n");
    a = http_do(ctx, &rq);
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return complain(EXIT_SCEP, "GetCACert: no answer: %s", a->error);
    }
    printf("<- %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", excerpt(a->body, a->len, ctx->p));
        return complain(EXIT_SCEP, "GetCACert: HTTP %ld", a->status);
    }
    if (!(s->ca_certs = ca_certs_parse(a, ctx->p))) {
        return complain(EXIT_SCEP, "GetCACert: no certificate in the answer");
    }
    return fingerprint_check(s, ctx->p);
}

static char *trim(char *s)
{
    char *end;

    while (apr_isspace(*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* One capability a line; an answer with anything else is no answer. */
static apr_array_header_t *caps_parse(const http_answer *a, const char **why,
                                      apr_pool_t *p)
{
    apr_array_header_t *caps = apr_array_make(p, 8, sizeof(char *));
    char *copy = apr_pstrmemdup(p, a->body, a->len), *state = NULL, *line;

    for (line = apr_strtok(copy, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        if (!*(line = trim(line))) {
            continue;
        }
        if (!ota_scep_capability_valid(line)) {
            *why = "HTTP 200, not a capability list";
            return NULL;
        }
        APR_ARRAY_PUSH(caps, const char *) = line;
    }
    if (caps->nelts == 0) {
        *why = "HTTP 200 with an empty body";
        return NULL;
    }
    return caps;
}

static int caps_ask(dev_ctx *ctx, const char **why)
{
    http_request rq = { "GET", scep_url(&ctx->scep, "GetCACaps", ctx->p),
                        NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a = http_do(ctx, &rq);

    if (a->error) {
        *why = a->error;
        return 0;
    }
    if (a->status != 200) {
        *why = apr_psprintf(ctx->p, "HTTP %ld", a->status);
        return 0;
    }
    if (!(ctx->scep.caps = caps_parse(a, why, ctx->p))) {
        return 0;
    }
    printf("<- 200 %s\n", list_text(ctx->scep.caps, ctx->p));
    return 1;
}

static int scep_getcacaps(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    const char *why = NULL;
    int i;

    if (s->payload_caps) {
        s->caps = s->payload_caps;
        printf("GetCACaps: from the payload, not asked\n");
        return 0;
    }
    for (i = 1; i <= ctx->os->getcacaps_attempts; i++) {
        printf("-> GetCACaps (attempt %d)\n", i);
        if (caps_ask(ctx, &why)) {
            return 0;
        }
        printf("<- no answer (%s)\n", why);
    }
    if (ctx->os->fail_without_caps) {
        printf("RESULT: failed: GetCACaps unanswered %d times\n", i - 1);
        fprintf(stderr, "%s\n", NETWORK_LOST);
        return EXIT_NETWORK;
    }
    printf("GetCACaps: no answer after %d attempt%s, falling back to "
           "GET, 3DES, SHA-1\n", i - 1, i - 1 == 1 ? "" : "s");
    s->caps = apr_array_make(ctx->p, 1, sizeof(const char *));
    return 0;
}

static int cap_present(const apr_array_header_t *caps, const char *cap)
{
    for (int i = 0; i < caps->nelts; i++) {
        if (strcasecmp(APR_ARRAY_IDX(caps, i, const char *), cap) == 0) {
            return 1;
        }
    }
    return 0;
}

static int scep_plan(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;

    s->method = cap_present(s->caps, "POSTPKIOperation") ? "POST" : "GET";
    s->cipher = cap_present(s->caps, "AES") ? "AES" : "3DES";
    s->digest = cap_present(s->caps, "SHA-256") ? "SHA-256" : "SHA-1";
    printf("capabilities: %s\n", s->caps->nelts
           ? list_text(s->caps, ctx->p)
           : "none (device defaults: GET, 3DES, SHA-1)");
    printf("PKIOperation: method %s, cipher %s, digest %s\n", s->method,
           s->cipher, s->digest);
    return 0;
}

/* ---- commands ---- */

/* Adds x to the identity's chain unless it is the leaf or already there:
 * OpenSSL 3.0's CMS refuses a certificate twice. */
static void chain_add(ota_identity *id, X509 *x)
{
    if (X509_cmp(x, id->cert) == 0) {
        return;
    }
    for (int i = 0; i < sk_X509_num(id->chain); i++) {
        if (X509_cmp(x, sk_X509_value(id->chain, i)) == 0) {
            return;
        }
    }
    sk_X509_push(id->chain, x);
}

/* The identity, its file's chain and --chain, each certificate once. */
static int identity_load(dev_ctx *ctx)
{
    STACK_OF(X509) *own, *extra = NULL;
    const char *why = NULL;

    if (!ctx->identity_file || !ctx->key_file) {
        return complain(EXIT_LOCAL, "%s needs --identity and --key",
                        ctx->command);
    }
    if (ota_identity_load(&ctx->id, ctx->identity_file, ctx->key_file, &why,
                          ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "%s", why);
    }
    if (ctx->chain_file && ota_certs_load(&extra, ctx->chain_file, &why,
                                          ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "%s", why);
    }
    own = sk_X509_dup(ctx->id->chain);
    sk_X509_zero(ctx->id->chain);
    for (int i = 0; i < sk_X509_num(own); i++) {
        chain_add(ctx->id, sk_X509_value(own, i));
    }
    sk_X509_free(own);
    for (int i = 0; i < sk_X509_num(extra); i++) {
        chain_add(ctx->id, sk_X509_value(extra, i));
    }
    return 0;
}

static int enroll_prepare(dev_ctx *ctx)
{
    const char *why = NULL;
    apr_status_t rv;
    int rc;

    if (!ctx->url || ctx->nargs) {
        return complain(EXIT_LOCAL, "enroll needs --url and no other "
                        "argument (see --help)");
    }
    if ((rc = identity_load(ctx)) != 0) {
        return rc;
    }
    if (ctx->trust_file && ota_trust_load(&ctx->trust, ctx->trust_file,
                                          OTA_TRUST_STRICT, &why, ctx->p)
                           != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "--trust: %s", why);
    }
    if (ctx->trust) {
        /* devices accept any key usage on a profile signer (sites often
         * sign with their TLS certificate) */
        ota_trust_set_purpose(ctx->trust, X509_PURPOSE_ANY);
    }
    if (ctx->save_dir && (rv = apr_dir_make_recursive(
                              ctx->save_dir, APR_FPROT_OS_DEFAULT, ctx->p))
                         != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot create %s: %s", ctx->save_dir,
                        apr_error(rv, ctx->p));
    }
    ctx->product = ctx->product ? ctx->product : ctx->os->product;
    ctx->version = ctx->version ? ctx->version : ctx->os->version;
    ctx->serial = ctx->serial ? ctx->serial : "OTAEMU000001";
    if (!ctx->udid && !(ctx->udid = cert_cn(ctx->id->cert, ctx->p))) {
        return complain(EXIT_LOCAL, "the identity has no CN: give --udid");
    }
    printf("device: %s, %s %s, UDID %s\n", ctx->os->name, ctx->product,
           ctx->version, ctx->udid);
    printf("User-Agent: %s\n", ctx->os->user_agent);
    return 0;
}

static int cmd_enroll(dev_ctx *ctx)
{
    /* A PKIOperation step goes after scep_plan. */
    static int (*const steps[])(dev_ctx *) = {
        enroll_prepare, phase1, phase2, scep_getcacert, scep_getcacaps,
        scep_plan, NULL
    };
    int rc;

    if (ctx->md == EVP_md5()) {
        return complain(EXIT_LOCAL, "enroll signs with sha1 or sha256; "
                        "md5 is for sign");
    }
    for (int i = 0; steps[i]; i++) {
        if ((rc = steps[i](ctx)) != 0) {
            return rc;
        }
    }
    printf("SCEP enrollment: not built yet (PKIOperation not sent)\n");
    printf("RESULT: ready for SCEP\n");
    return 0;
}

static void cert_print(X509 *x, int depth, apr_pool_t *p)
{
    EVP_PKEY *key = X509_get0_pubkey(x);

    printf("  [%d] subject: %s\n", depth,
           name_text(X509_get_subject_name(x), p));
    printf("      issuer: %s\n", name_text(X509_get_issuer_name(x), p));
    printf("      valid: %s .. %s\n", time_text(X509_get0_notBefore(x), p),
           time_text(X509_get0_notAfter(x), p));
    printf("      key: %s %d bits\n",
           key ? EVP_PKEY_get0_type_name(key) : "unknown",
           key ? EVP_PKEY_get_bits(key) : 0);
    printf("      signature: %s\n",
           OBJ_nid2ln(X509_get_signature_nid(x)));
}

/* Prints the device attributes; returns the refusal or NULL. */
static const char *attributes_print(const ota_signed_message *m,
                                    apr_pool_t *p)
{
    ota_device_attributes *a;
    const apr_array_header_t *elts;
    const apr_table_entry_t *e;
    const char *why = NULL;

    if (ota_device_attributes_parse(&a, m->content, m->content_len, &why, p)
        != APR_SUCCESS) {
        printf("attributes: refused (%s)\n", why);
        return why ? why : "no reason given";
    }
    printf("attributes:\n");
    elts = apr_table_elts(a->all);
    e = (const apr_table_entry_t *)elts->elts;
    for (int i = 0; i < elts->nelts; i++) {
        if (strcmp(e[i].key, "CHALLENGE") == 0) {
            printf("  CHALLENGE: <present, %" APR_SIZE_T_FMT " chars>\n",
                   strlen(e[i].val));
        }
        else {
            printf("  %s: %s\n", e[i].key, e[i].val);
        }
    }
    return NULL;
}

static int inspect_report(const ota_signed_message *m, apr_pool_t *p)
{
    const char *refused = NULL;

    if (m->chain) {
        printf("signer chain:\n");
        for (int i = 0; i < sk_X509_num(m->chain); i++) {
            cert_print(sk_X509_value(m->chain, i), i, p);
        }
    }
    else if (m->signer) {
        printf("signer (no verified chain):\n");
        cert_print(m->signer, 0, p);
    }
    else {
        printf("signer: none found\n");
    }
    printf("digest: %s\n", m->digest_name ? m->digest_name : "unknown");
    if (m->content) {
        refused = attributes_print(m, p);
    }
    if (m->verdict != OTA_CMS_OK) {
        printf("VERDICT: %s (%s)\n", ota_cms_verdict_name(m->verdict),
               m->detail ? m->detail : "");
        return EXIT_LOCAL;
    }
    if (refused) {
        printf("VERDICT: attributes refused (%s)\n", refused);
        return EXIT_LOCAL;
    }
    printf("VERDICT: ok\n");
    return 0;
}

static int cmd_inspect(dev_ctx *ctx)
{
    const char *ca = ctx->device_ca ? ctx->device_ca : OTA_DEVICE_CA_DEFAULT;
    const char *body, *why = NULL;
    ota_signed_message *m;
    ota_trust *trust;
    apr_size_t len;
    apr_status_t rv;

    if (ctx->nargs != 1) {
        return complain(EXIT_LOCAL, "inspect needs one FILE (see --help)");
    }
    if ((rv = file_read(&body, &len, ctx->args[0], ctx->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot read %s: %s", ctx->args[0],
                        apr_error(rv, ctx->p));
    }
    if (ota_trust_load(&trust, ca, OTA_TRUST_APPLE_DEVICE, &why, ctx->p)
        != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "device CA: %s", why);
    }
    printf("file: %s (%" APR_SIZE_T_FMT " bytes)\n", ctx->args[0], len);
    printf("device CA: %s (%d issuing CA%s)\n", ca,
           ota_trust_count_issuing_cas(trust),
           ota_trust_count_issuing_cas(trust) == 1 ? "" : "s");
    if (ota_cms_verify(&m, (const unsigned char *)body, len, trust, ctx->p)
        != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot verify: %s",
                        ota_openssl_error(ctx->p));
    }
    return inspect_report(m, ctx->p);
}

static int cmd_sign(dev_ctx *ctx)
{
    const unsigned char *der;
    const char *data;
    apr_size_t len, der_len;
    apr_status_t rv;
    int rc;

    if (ctx->nargs != 2) {
        return complain(EXIT_LOCAL, "sign needs IN and OUT (see --help)");
    }
    if ((rc = identity_load(ctx)) != 0) {
        return rc;
    }
    if ((rv = file_read(&data, &len, ctx->args[0], ctx->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot read %s: %s", ctx->args[0],
                        apr_error(rv, ctx->p));
    }
    if (ota_cms_sign(&der, &der_len, ctx->id, data, len, ctx->md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot sign with %s (ota_cms_sign "
                        "reports no reason)", ctx->md_name);
    }
    if ((rv = file_write(ctx->args[1], der, der_len, ctx->p))
        != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", ctx->args[1],
                        apr_error(rv, ctx->p));
    }
    printf("signed %s -> %s: %" APR_SIZE_T_FMT " bytes, %s, %s, by %s\n",
           ctx->args[0], ctx->args[1], der_len, ctx->md_name,
           ctx->with_attributes ? "with signed attributes"
                                : "no signed attributes",
           name_text(X509_get_subject_name(ctx->id->cert), ctx->p));
    return 0;
}

/* ---- options ---- */

enum {
    OPT_URL = 256, OPT_USER, OPT_CACERT, OPT_TRUST, OPT_IDENTITY, OPT_KEY,
    OPT_CHAIN, OPT_EMULATE, OPT_UDID, OPT_SERIAL, OPT_PRODUCT, OPT_VERSION,
    OPT_DIGEST, OPT_ATTRIBUTES, OPT_SAVE_DIR, OPT_TIMEOUT, OPT_DEVICE_CA
};

static const apr_getopt_option_t enroll_options[] = {
    { "url", OPT_URL, 1, NULL }, { "user", OPT_USER, 1, NULL },
    { "cacert", OPT_CACERT, 1, NULL }, { "trust", OPT_TRUST, 1, NULL },
    { "identity", OPT_IDENTITY, 1, NULL }, { "key", OPT_KEY, 1, NULL },
    { "chain", OPT_CHAIN, 1, NULL }, { "emulate", OPT_EMULATE, 1, NULL },
    { "udid", OPT_UDID, 1, NULL }, { "serial", OPT_SERIAL, 1, NULL },
    { "product", OPT_PRODUCT, 1, NULL }, { "version", OPT_VERSION, 1, NULL },
    { "digest", OPT_DIGEST, 1, NULL },
    { "attributes", OPT_ATTRIBUTES, 0, NULL },
    { "save-dir", OPT_SAVE_DIR, 1, NULL },
    { "timeout", OPT_TIMEOUT, 1, NULL }, { "help", 'h', 0, NULL },
    { NULL, 0, 0, NULL }
};

static const apr_getopt_option_t inspect_options[] = {
    { "device-ca", OPT_DEVICE_CA, 1, NULL }, { "help", 'h', 0, NULL },
    { NULL, 0, 0, NULL }
};

static const apr_getopt_option_t sign_options[] = {
    { "identity", OPT_IDENTITY, 1, NULL }, { "key", OPT_KEY, 1, NULL },
    { "chain", OPT_CHAIN, 1, NULL }, { "digest", OPT_DIGEST, 1, NULL },
    { "attributes", OPT_ATTRIBUTES, 0, NULL }, { "help", 'h', 0, NULL },
    { NULL, 0, 0, NULL }
};

static int option_digest(dev_ctx *ctx, const char *name)
{
    ctx->md = strcasecmp(name, "sha1") == 0 ? EVP_sha1()
              : strcasecmp(name, "sha256") == 0 ? EVP_sha256()
              : strcasecmp(name, "md5") == 0 ? EVP_md5() : NULL;
    if (!ctx->md) {
        return complain(EXIT_LOCAL, "--digest: sha1, sha256 or md5, not %s",
                        name);
    }
    ctx->md_name = EVP_MD_get0_name(ctx->md);
    return 0;
}

static int option_emulate(dev_ctx *ctx, const char *name)
{
    for (const device_os *os = device_oses; os->name; os++) {
        if (strcmp(os->name, name) == 0) {
            ctx->os = os;
            return 0;
        }
    }
    return complain(EXIT_LOCAL, "--emulate: ios3, ios4 or current, not %s",
                    name);
}

static int option_timeout(dev_ctx *ctx, const char *text)
{
    char *end = NULL;
    double sec = strtod(text, &end);

    if (end == text || *end || !(sec > 0.0 && sec <= 3600.0)) {
        return complain(EXIT_LOCAL, "--timeout: seconds, not %s", text);
    }
    ctx->timeout_ms = (long)(sec * 1000.0 + 0.5);
    ctx->timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : 1;
    return 0;
}

static int option_set(dev_ctx *ctx, int code, const char *arg)
{
    switch (code) {
    case OPT_URL:       ctx->url = arg;            break;
    case OPT_USER:      ctx->user = arg;           break;
    case OPT_CACERT:    ctx->cacert = arg;         break;
    case OPT_TRUST:     ctx->trust_file = arg;     break;
    case OPT_IDENTITY:  ctx->identity_file = arg;  break;
    case OPT_KEY:       ctx->key_file = arg;       break;
    case OPT_CHAIN:     ctx->chain_file = arg;     break;
    case OPT_UDID:      ctx->udid = arg;           break;
    case OPT_SERIAL:    ctx->serial = arg;         break;
    case OPT_PRODUCT:   ctx->product = arg;        break;
    case OPT_VERSION:   ctx->version = arg;        break;
    case OPT_SAVE_DIR:  ctx->save_dir = arg;       break;
    case OPT_DEVICE_CA: ctx->device_ca = arg;      break;
    case OPT_ATTRIBUTES: ctx->with_attributes = 1; break;
    case 'h':           ctx->help = 1;             break;
    case OPT_EMULATE:
        return option_emulate(ctx, arg);
    case OPT_DIGEST:
        return option_digest(ctx, arg);
    case OPT_TIMEOUT:
        return option_timeout(ctx, arg);
    }
    return 0;
}

static int options_parse(dev_ctx *ctx, const apr_getopt_option_t *table,
                         int argc, const char *const *argv)
{
    const char **args = apr_pcalloc(ctx->p, (argc + 1) * sizeof(char *));
    apr_getopt_t *g;
    const char *arg;
    apr_status_t rv;
    int code, rc;

    /* apr_getopt names the program by argv[0] in its messages */
    args[0] = apr_pstrcat(ctx->p, "ota-device ", argv[1], NULL);
    memcpy(args + 1, argv + 2, (argc - 2) * sizeof(char *));
    apr_getopt_init(&g, ctx->p, argc - 1, args);
    g->interleave = 1;
    while ((rv = apr_getopt_long(g, table, &code, &arg)) == APR_SUCCESS) {
        if ((rc = option_set(ctx, code, arg)) != 0) {
            return rc;
        }
    }
    if (rv != APR_EOF) {
        return EXIT_LOCAL;
    }
    ctx->args = g->argv + g->ind;
    ctx->nargs = g->argc - g->ind;
    return 0;
}

typedef struct command {
    const char *name;
    const apr_getopt_option_t *options;
    int (*run)(dev_ctx *ctx);
} command;

static const command commands[] = {
    { "enroll", enroll_options, cmd_enroll },
    { "inspect", inspect_options, cmd_inspect },
    { "sign", sign_options, cmd_sign },
    { NULL, NULL, NULL }
};

static int dispatch(int argc, const char *const *argv, apr_pool_t *p)
{
    dev_ctx *ctx = apr_pcalloc(p, sizeof(*ctx));
    const command *cmd;
    int rc;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_LOCAL;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")
        || !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    cmd = commands;
    while (cmd->name && strcmp(cmd->name, argv[1]) != 0) {
        cmd++;
    }
    if (!cmd->name) {
        fputs(usage_text, stderr);
        return complain(EXIT_LOCAL, "unknown command %s", argv[1]);
    }
    ctx->p = p;
    ctx->command = cmd->name;
    ctx->os = &device_oses[2];
    option_digest(ctx, "sha1");
    if ((rc = options_parse(ctx, cmd->options, argc, argv)) != 0) {
        fprintf(stderr, "(see ota-device --help)\n");
        return rc;
    }
    if (ctx->help) {
        fputs(usage_text, stdout);
        return 0;
    }
    return cmd->run(ctx);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    int rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fprintf(stderr, "ota-device: cannot initialize APR\n");
        return EXIT_LOCAL;
    }
    atexit(apr_terminate);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fprintf(stderr, "ota-device: cannot initialize libcurl\n");
        return EXIT_LOCAL;
    }
    rc = dispatch(argc, argv, p);
    apr_pool_destroy(p);
    curl_global_cleanup();
    return rc;
}
