/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota-device: plays an Apple device against a profile service (phases 1
 * and 2, SCEP as the device does it: GetCACert, GetCACaps, PKIOperation,
 * then phase 3 and its encrypted final profile), sends single SCEP
 * requests for tests, and inspects or forges phase-2 bodies with the
 * module's own CMS code. A test tool: it prints every request so tests
 * can count them, and never prints a challenge or a key. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <apr_general.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_getopt.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ota_ca.h"
#include "ota_cms.h"
#include "ota_plist.h"
#include "ota_scep.h"
#include "scep_payload.h"

#define EXIT_LOCAL   1      /* usage, files; inspect: message refused */
#define EXIT_PHASE1  2
#define EXIT_PHASE2  3
#define EXIT_NETWORK 4      /* iOS 4 without an answer to GetCACaps */
#define EXIT_SCEP    5      /* no answer, HTTP error, CertRep refused;
                             * enroll: FAILURE too */
#define EXIT_SCEP_FAILURE 6 /* scep: the CertRep says FAILURE */
#define EXIT_SCEP_PENDING 7 /* scep: the CertRep says PENDING */
#define EXIT_PHASE3  8      /* HTTP error, signature refused, malformed or
                             * undecryptable final profile */
#define EXIT_LOAD    9      /* load: some answers were errors */

/* --stop-after */
#define STOP_NONE    0
#define STOP_PHASE2  1      /* before PKIOperation */
#define STOP_SCEP    2      /* before phase 3 */

#define MAX_BODY (1024 * 1024)
#define MAX_FILE (16 * 1024 * 1024)
#define PHASE_TIMEOUT_MS 30000
#define SCEP_TIMEOUT_MS 3000
#define EXCERPT_LEN 200

#define ASPEN_CONFIG "application/x-apple-aspen-config"
#define PKI_MESSAGE "application/x-pki-message"
#define NETWORK_LOST "A network error has occurred. " \
                     "The network connection was lost"

/* The payload's defaults (Apple's schema). */
#define DEFAULT_KEYSIZE     1024
#define DEFAULT_RETRIES     3
#define DEFAULT_RETRY_DELAY 10

static const char usage_text[] =
"usage: ota-device enroll --url URL --identity CERT --key KEY [options]\n"
"       ota-device enroll --phase3-only --url ENROLL-URL\n"
"                         --phase3-identity CERT --phase3-key KEY [options]\n"
"       ota-device scep --url SCEP-URL [options]\n"
"       ota-device inspect FILE [--device-ca FILE]\n"
"       ota-device sign --identity CERT --key KEY [--chain FILE]\n"
"                       [--digest sha1|sha256|md5] [--attributes] IN OUT\n"
"       ota-device load --phase 1|2|3|scep --url URL [--requests N]\n"
"                       [--concurrency C] [options]\n"
"       ota-device --help\n"
"\n"
"enroll: plays an Apple device: phase 1 (GET URL), phase 2 (POST the\n"
"signed device attributes), then SCEP as the device does it: GetCACert,\n"
"GetCACaps (unless the payload lists the capabilities), PKIOperation\n"
"(PKCSReq; GetCertInitial while PENDING, as Retries and RetryDelay say)\n"
"with a new key of the payload's Keysize for its Subject and Challenge,\n"
"then phase 3: POST the attributes again, without CHALLENGE, signed with\n"
"the identity obtained; the answer's EncryptedPayloadContent is decrypted\n"
"with it and the final payloads listed.\n"
"  --url URL            the profile service\n"
"  --user USER:PASS     HTTP basic authentication for phase 1\n"
"  --cacert FILE        CA certificates for the server's TLS\n"
"  --trust FILE         root the profiles must be signed under (strict\n"
"                       store); without it signatures are not checked\n"
"  --identity CERT      device identity certificate (PEM, may hold a chain)\n"
"  --key KEY            its private key (PEM)\n"
"  --chain FILE         more certificates to send with the signature\n"
"  --emulate OS         ios3, ios4 or current (default current)\n"
"  --udid U             default: the identity's CN (--phase3-only: the\n"
"                       phase-3 identity's)\n"
"  --serial S           default OTAEMU000001\n"
"  --product P          default iPhone2,1 / iPhone3,1 / iPhone15,2\n"
"  --version V          default 7E18 / 8A293 / 21A329\n"
"  --digest sha1|sha256 phase-2 signature digest (default sha1)\n"
"  --phase3-digest sha1|sha256\n"
"                       phase-3 signature digest (default sha256)\n"
"  --attributes         add signed attributes to phases 2 and 3 (real\n"
"                       devices send none in phase 2)\n"
"  --scep-legacy        accept a CertRep signed with SHA-1 and enciphered\n"
"                       with single DES (micromdm's scepserver)\n"
"  --stop-after phase2  stop before PKIOperation (after phase 2, GetCACert\n"
"                       and GetCACaps): RESULT: ready for SCEP\n"
"  --stop-after scep    stop before phase 3: RESULT: enrolled\n"
"  --phase3-identity CERT\n"
"  --phase3-key KEY     sign phase 3 with this identity (CERT may hold a\n"
"                       chain, sent too) and decrypt its answer with it,\n"
"                       instead of the identity SCEP gave\n"
"  --phase3-only        phase 3 alone: --url is the enrollment URL (phase\n"
"                       1's PayloadContent.URL); needs --phase3-identity\n"
"                       and --phase3-key, not --identity and --key; sends\n"
"                       UDID, VERSION, PRODUCT, SERIAL, IMEI, MEID and\n"
"                       DEVICE_NAME\n"
"  --save-dir DIR       keep phase1.der, phase1.plist, phase2-request.der,\n"
"                       phase2.der, phase2.plist, scep-request.der,\n"
"                       scep-reply.der, phase3-request.der, phase3.der,\n"
"                       phase3.plist (the final profile),\n"
"                       encrypted-content.der (its EnvelopedData) and\n"
"                       final-payloads.plist (the decrypted payloads) in\n"
"                       DIR, and the identity obtained: device-key.pem,\n"
"                       device-cert.pem\n"
"  --timeout SEC        bound of every request (default: 30 for phases\n"
"                       1, 2 and 3 and PKIOperation, 3 for GetCACert and\n"
"                       GetCACaps); also the longest RetryDelay waited\n"
"scep: one SCEP request, for tests\n"
"  --url URL            the SCEP URL\n"
"  --operation OP       GetCACaps, GetCACert or PKIOperation (default)\n"
"  --type T             pkcsreq (default), renewal or poll (GetCertInitial)\n"
"  --subject /O=x/CN=y  the CSR's subject (renewal default: the signer's),\n"
"                       or the one polled for; '+' joins a multi-valued\n"
"                       RDN, '\\' escapes\n"
"  --challenge C        the CSR's challengePassword\n"
"  --key FILE           the key to certify (default: a new RSA key)\n"
"  --keysize N          its size when generated (default 2048)\n"
"  --signer-cert FILE   the message's signer and its key (renewal: the\n"
"  --signer-key FILE    certificate being renewed); default: a\n"
"                       self-signed certificate for --key\n"
"  --csr-key FILE       make the CSR for this key instead, the message\n"
"                       still signed by the signer (proof-of-possession)\n"
"  --digest D           sha256 (default), sha1 or md5\n"
"  --cipher C           aes256 (default), aes128, des3 or des\n"
"  --method M           post (default) or get (base64 message=)\n"
"  --transaction-id ID  default: hex SHA-256 of the public key certified\n"
"                       (--csr-key, else --key): a renewal is a new\n"
"                       transaction, a poll repeats its request's\n"
"  --cacert FILE        the CA (or RA) certificate to encrypt to and to\n"
"                       verify the CertRep with (default: GetCACert's)\n"
"  --tls-cacert FILE    CA certificates for an https SCEP URL\n"
"  --save-request FILE  keep the pkiMessage sent\n"
"  --send FILE          send FILE as the PKIOperation instead of building\n"
"                       one (its CertRep is read when FILE carries SCEP\n"
"                       attributes and --key/--signer-* are its keys)\n"
"  --out-cert FILE      the certificate issued (GetCACert: every one), PEM\n"
"  --out-key FILE       the key to certify, PEM (written before sending)\n"
"  --scep-legacy        as for enroll\n"
"  --timeout SEC        bound of the request\n"
"inspect: verifies a captured phase-2 body (DER or BER) as the module does\n"
"  --device-ca FILE     device CA chain (default " OTA_DEVICE_CA_DEFAULT ")\n"
"sign: signs IN as a device would (default sha1, no signed attributes)\n"
"load: N valid requests, C in flight on keep-alive connections (libcurl's\n"
"multi interface), everything prepared before the clock starts; prints\n"
"requests/s, latency (p50, p99), errors (non-2xx, wrong Content-Type,\n"
"unreadable answer, SCEP FAILURE) and, with --pidfile or --server-pid,\n"
"the server's CPU time per request and its resident memory before and\n"
"after, as one line: LOAD key=value...\n"
"  --phase 1            GET URL (the profile service) N times\n"
"  --phase 2            first N phase-1 GETs of URL mint N challenges and\n"
"                       N attribute bodies (a new UDID each) are signed\n"
"                       with --identity/--key/--chain (--digest, default\n"
"                       sha1, no signed attributes); then they are posted\n"
"  --phase 3            one device enrolls first (phases 1, 2, SCEP, as\n"
"                       enroll does); then N phase-3 bodies signed by its\n"
"                       SCEP identity are posted\n"
"  --phase scep         URL is a SCEP URL: GetCACert (or --scep-cacert),\n"
"                       then N PKCSReq for one new key (--keysize, default\n"
"                       2048) with --challenge, each with its own subject\n"
"                       (--subject /O=x, plus a unique CN) and\n"
"                       transactionID (--digest default sha256, --cipher\n"
"                       default aes256), POSTed; every CertRep is read\n"
"                       (--scep-legacy for micromdm's scepserver)\n"
"  --requests N         default 1000\n"
"  --concurrency C      requests in flight, default 8\n"
"  --trust FILE         verify every answer's signature under this root\n"
"  --pidfile FILE       apache2's pid file: the parent and its apache2\n"
"                       children are sampled from /proc\n"
"  --server-pid PID     another server (and its children)\n"
"  --rss-every K        print the server's memory every K answers\n"
"  --deadline SEC       start no request after SEC seconds of the run;\n"
"                       report those answered (unsent=: the others)\n"
"  --start-after FILE   once prepared, print READY and wait for FILE to\n"
"                       exist before the clock starts (for profilers)\n"
"  --user, --cacert, --emulate, --attributes, --phase3-digest, --timeout\n"
"                       as for enroll\n"
"\n"
"exit status: 0 ok, 1 usage or local error (inspect: refused), 2 phase 1\n"
"failed, 3 phase 2 failed, 4 network connection lost (iOS 4 without\n"
"GetCACaps), 5 SCEP failed (no answer, HTTP error, CertRep unreadable;\n"
"enroll: FAILURE, still PENDING), 6 scep: FAILURE, 7 scep: PENDING,\n"
"8 phase 3 failed (HTTP error, signature refused, final profile malformed\n"
"or undecryptable), 9 load: some answers were errors\n";

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
    X509 *recipient;                    /* the CA (or RA) among them */
    X509 *signer;                       /* of CertReps: the CA (or RA) */
    X509_NAME *subject;                 /* what the CSR asks for */
    const char *challenge;
    int keysize, retries, retry_delay;
    int post;                           /* PKIOperation: POST, else GET */
    const EVP_CIPHER *cipher;
    const EVP_MD *md;
} scep_info;

/* The options of the load command. */
typedef struct load_opts {
    const char *phase;                  /* "1", "2", "3" or "scep" */
    int requests;
    int concurrency;
    const char *pidfile;                /* apache2: the parent's pid file */
    long server_pid;                    /* or any server process */
    int rss_every;                      /* RSS sample every N answers */
    const char *start_after;            /* wait for this file to exist */
    int deadline;                       /* seconds: no new request after */
} load_opts;

/* The options of the scep command. */
typedef struct scep_opts {
    const char *operation;
    ota_scep_message_type type;
    const char *subject, *challenge;
    const char *signer_cert, *signer_key, *csr_key, *ca_file;
    const char *transaction_id, *save_request, *send;
    const char *out_cert, *out_key;
    const EVP_CIPHER *cipher;           /* NULL: AES-256-CBC */
    int get;                            /* --method get */
    int keysize;
    int digest_set;                     /* --digest given */
} scep_opts;

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
    int scep_legacy;                    /* --scep-legacy */
    int stop_after;                     /* STOP_* */
    int phase3_only;
    const char *p3_cert_file, *p3_key_file;
    const EVP_MD *p3_md;
    const char *p3_md_name;
    long timeout_ms;                    /* 0: the defaults */
    scep_opts so;
    load_opts lo;
    int quiet;                          /* load: no per-request lines */
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
    ota_identity *p3_id;                /* signs phase 3, decrypts the
                                         * answer */
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

static apr_status_t file_write_perms(const char *path, const void *data,
                                     apr_size_t len, apr_fileperms_t perms,
                                     apr_pool_t *p)
{
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_TRUNCATE | APR_FOPEN_BINARY, perms, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_write_full(f, data, len, NULL);
    apr_file_close(f);
    return rv;
}

static apr_status_t file_write(const char *path, const void *data,
                               apr_size_t len, apr_pool_t *p)
{
    return file_write_perms(path, data, len, APR_FPROT_OS_DEFAULT, p);
}

/* A private key, readable by its owner only. */
static apr_status_t key_write(const char *path, EVP_PKEY *key, apr_pool_t *p)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    apr_status_t rv = APR_ENOMEM;

    if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
        && (n = BIO_get_mem_data(b, &data)) > 0) {
        rv = file_write_perms(path, data, (apr_size_t)n,
                              APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    }
    BIO_free(b);
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

static const char *name_cn(const X509_NAME *name, apr_pool_t *p)
{
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

static const char *cert_cn(X509 *x, apr_pool_t *p)
{
    return name_cn(X509_get_subject_name(x), p);
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

/* A stack whose certificates belong to others. */
static apr_status_t free_x509_stack_shallow(void *s)
{
    sk_X509_free(s);
    return APR_SUCCESS;
}

static apr_status_t free_pkey(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static apr_status_t free_name(void *n)
{
    X509_NAME_free(n);
    return APR_SUCCESS;
}

static X509_NAME *name_new(apr_pool_t *p)
{
    X509_NAME *name = X509_NAME_new();

    if (name) {
        apr_pool_cleanup_register(p, name, free_name, apr_pool_cleanup_null);
    }
    return name;
}

/* One attribute of a subject; same_rdn joins the previous RDN. */
static int name_add(X509_NAME *name, const char *type, const char *value,
                    int same_rdn, const char **why, apr_pool_t *p)
{
    if (X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
                                   (const unsigned char *)value, -1, -1,
                                   same_rdn ? -1 : 0)) {
        return 1;
    }
    ERR_clear_error();
    *why = apr_psprintf(p, "cannot put %s=%s in a subject", type, value);
    return 0;
}

/* "/O=Example/OU=a+CN=b": '/' separates RDNs, '+' joins the pairs of a
 * multi-valued RDN, '\' escapes the next character. */
static X509_NAME *name_parse(const char *text, const char **why,
                             apr_pool_t *p)
{
    X509_NAME *name = name_new(p);
    char *buf = apr_palloc(p, strlen(text) + 1), *o = buf, *start = buf;
    const char *s = *text == '/' ? text + 1 : text, *type = NULL;
    int same_rdn = 0;

    for (; name; s++) {
        if (*s == '\\' && s[1]) {
            *o++ = *++s;
            continue;
        }
        if (*s == '=' && !type) {
            *o++ = '\0';
            type = start;
            start = o;
            continue;
        }
        if (*s && *s != '/' && *s != '+') {
            *o++ = *s;
            continue;
        }
        *o++ = '\0';
        if (!type && !*s && !*start) {
            break;
        }
        if (!type || !*type) {
            *why = apr_psprintf(p, "ATTR=VALUE expected in %s", text);
            return NULL;
        }
        if (!name_add(name, type, start, same_rdn, why, p)) {
            return NULL;
        }
        if (!*s) {
            break;
        }
        same_rdn = *s == '+';
        type = NULL;
        start = o;
    }
    return name;
}

static EVP_PKEY *rsa_generate(int bits, apr_pool_t *p)
{
    EVP_PKEY *key = EVP_RSA_gen((unsigned int)bits);

    if (key) {
        apr_pool_cleanup_register(p, key, free_pkey, apr_pool_cleanup_null);
    }
    return key;
}

/* Single DES needs OpenSSL's legacy provider; loading it explicitly
 * stops the default one from loading implicitly: load both. */
static int legacy_provider_load(void)
{
    static OSSL_PROVIDER *dflt, *legacy;

    if (!dflt) {
        dflt = OSSL_PROVIDER_load(NULL, "default");
    }
    if (!legacy) {
        legacy = OSSL_PROVIDER_load(NULL, "legacy");
    }
    return dflt && legacy;
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

/* URL?operation=OP&message=MESSAGE (the CA name, or a GET PKIOperation's
 * base64 pkiMessage), percent-encoded: a space as %20 (a '+' is not a
 * space to every server), and base64's '+', '/' and '='. */
static const char *scep_url_build(const char *base, const char *operation,
                                  const char *message, apr_pool_t *p)
{
    CURLU *u = curl_url();
    char *msg = message ? curl_easy_escape(NULL, message, 0) : NULL;
    char *text = NULL;
    const char *out = NULL;

    if (u && (!message || msg)
        && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_QUERY,
                        apr_pstrcat(p, "operation=", operation, NULL),
                        CURLU_APPENDQUERY) == CURLUE_OK
        && (!msg || curl_url_set(u, CURLUPART_QUERY,
                                 apr_pstrcat(p, "message=", msg, NULL),
                                 CURLU_APPENDQUERY) == CURLUE_OK)
        && curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
        out = apr_pstrdup(p, text);
    }
    curl_free(msg);
    curl_free(text);
    curl_url_cleanup(u);
    return out;
}

static const char *scep_url(const scep_info *s, const char *operation,
                            apr_pool_t *p)
{
    return scep_url_build(s->url, operation, s->name, p);
}

/* ---- signed profiles (phases 1, 2 and 3) ---- */

static const ota_plist_limits profile_limits = {
    1024 * 1024, 32, 4096, 65536
};

/* Phase 3's profile and payloads: certificates and PKCS#12 in <data>,
 * and the EnvelopedData of all of them in one. */
static const ota_plist_limits final_limits = {
    MAX_BODY, 32, 4096, MAX_BODY
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

/* Checks a phase-1, -2 or -3 answer and parses the profile in it. */
static int profile_answer(plist_t *root, const dev_ctx *ctx, int phase,
                          const http_answer *a)
{
    int code = phase == 1 ? EXIT_PHASE1 : phase == 2 ? EXIT_PHASE2
                                                     : EXIT_PHASE3;
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
    if (ota_plist_parse(root, xml, len,
                        phase == 3 ? &final_limits : &profile_limits, &why,
                        ctx->p) != APR_SUCCESS
        || plist_get_node_type(*root) != PLIST_DICT) {
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

/* The attributes phase 1 asked for; phase 2 adds its CHALLENGE. */
static int attributes_build(const char **xml, apr_size_t *len,
                            const dev_ctx *ctx, int with_challenge)
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
        else if (!ctx->quiet) {
            printf("  not sent: %s (unknown to the emulator)\n", name);
        }
    }
    if (with_challenge && ctx->challenge) {
        ota_plist_dict_set_string(dict, "CHALLENGE", ctx->challenge);
        APR_ARRAY_PUSH(sent, const char *) = "CHALLENGE";
    }
    if (!ctx->quiet) {
        printf("  attributes: %s\n", list_text(sent, ctx->p));
    }
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

/* Apple's Subject as a name: an array of RDNs, each an array of [oid,
 * value] pairs (several pairs: a multi-valued RDN). Absent: empty. */
static X509_NAME *subject_name(plist_t subject, const char **why,
                               apr_pool_t *p)
{
    X509_NAME *name = name_new(p);
    apr_array_header_t *pair;
    plist_t rdn;
    uint32_t n;

    *why = "Subject is not an array of arrays of [oid, value] pairs";
    if (!name || !subject) {
        return name;
    }
    if (plist_get_node_type(subject) != PLIST_ARRAY) {
        return NULL;
    }
    for (uint32_t i = 0; i < plist_array_get_size(subject); i++) {
        rdn = plist_array_get_item(subject, i);
        if (plist_get_node_type(rdn) != PLIST_ARRAY
            || (n = plist_array_get_size(rdn)) == 0) {
            return NULL;
        }
        for (uint32_t j = 0; j < n; j++) {
            pair = string_array(plist_array_get_item(rdn, j), p);
            if (!pair || pair->nelts != 2
                || !name_add(name, APR_ARRAY_IDX(pair, 0, const char *),
                             APR_ARRAY_IDX(pair, 1, const char *), j > 0,
                             why, p)) {
                return NULL;
            }
        }
    }
    return name;
}

/* An integer of the payload, or its default. */
static int uint_get(plist_t dict, const char *key, int dflt)
{
    plist_t node = plist_dict_get_item(dict, key);
    uint64_t v = 0;

    if (!node || plist_get_node_type(node) != PLIST_UINT) {
        return dflt;
    }
    plist_get_uint_val(node, &v);
    return v > 100000 ? 100000 : (int)v;
}

/* What the device needs for its request. */
static int scep_request_read(scep_info *s, plist_t c, apr_pool_t *p)
{
    const char *why = NULL;

    if (!(s->subject = subject_name(plist_dict_get_item(c, "Subject"), &why,
                                    p))) {
        return complain(EXIT_PHASE2, "phase 2: %s", why);
    }
    s->challenge = ota_plist_dict_get_string(c, "Challenge", p);
    s->keysize = uint_get(c, "Keysize", DEFAULT_KEYSIZE);
    s->retries = uint_get(c, "Retries", DEFAULT_RETRIES);
    s->retry_delay = uint_get(c, "RetryDelay", DEFAULT_RETRY_DELAY);
    if (s->keysize < 1024 || s->keysize > 4096) {
        return complain(EXIT_PHASE2, "phase 2: Keysize %d: a device asks "
                        "for 1024 to 4096 bits", s->keysize);
    }
    return 0;
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
    return scep_request_read(&ctx->scep, content, ctx->p);
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
    if ((rc = attributes_build(&xml, &xml_len, ctx, 1)) != 0) {
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

/* Among GetCACert's certificates, the one to encrypt to (usage
 * KU_KEY_ENCIPHERMENT) or to verify CertReps with (KU_DIGITAL_SIGNATURE):
 * an RA (a certificate that is no CA), the one with that key usage when
 * there are two; else the lowest CA (one that issued none of the others).
 * CMS keeps certificates in DER order: the order says nothing. */
static X509 *scep_pick(STACK_OF(X509) *certs, uint32_t usage)
{
    X509 *x, *ra = NULL;
    int i, j, n = sk_X509_num(certs);

    for (i = 0; i < n; i++) {
        x = sk_X509_value(certs, i);
        if (X509_check_ca(x) == 0
            && (!ra || (!(X509_get_key_usage(ra) & usage)
                        && (X509_get_key_usage(x) & usage)))) {
            ra = x;
        }
    }
    for (i = 0; !ra && i < n; i++) {
        x = sk_X509_value(certs, i);
        for (j = 0; j < n; j++) {
            if (j != i && X509_check_issued(x, sk_X509_value(certs, j))
                              == X509_V_OK) {
                break;
            }
        }
        ra = j == n ? x : NULL;
    }
    return ra ? ra : sk_X509_value(certs, 0);
}

/* GetCACert at URL (with its operation) into *certs. */
static int ca_certs_fetch(dev_ctx *ctx, const char *url,
                          STACK_OF(X509) **certs)
{
    http_request rq = { "GET", url, NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a;

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
    if (!(*certs = ca_certs_parse(a, ctx->p))) {
        return complain(EXIT_SCEP, "GetCACert: no certificate in the answer");
    }
    return 0;
}

/* The recipient and the CertRep signer among certs, printed. */
static void scep_peers(X509 **recipient, X509 **signer,
                       STACK_OF(X509) *certs, apr_pool_t *p)
{
    *recipient = scep_pick(certs, KU_KEY_ENCIPHERMENT);
    *signer = scep_pick(certs, KU_DIGITAL_SIGNATURE);
    printf("SCEP recipient: %s (%s)\n",
           name_text(X509_get_subject_name(*recipient), p),
           X509_check_ca(*recipient) ? "CA" : "RA");
    if (*signer != *recipient) {
        printf("SCEP signer: %s (RA)\n",
               name_text(X509_get_subject_name(*signer), p));
    }
}

static int scep_getcacert(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    const char *url = scep_url(s, "GetCACert", ctx->p);
    int rc;

    if (!url) {
        return complain(EXIT_SCEP, "bad SCEP URL %s", s->url);
    }
    printf("SCEP: %s (CA name %s)\n", s->url, s->name ? s->name : "none");
    if ((rc = ca_certs_fetch(ctx, url, &s->ca_certs)) != 0) {
        return rc;
    }
    scep_peers(&s->recipient, &s->signer, s->ca_certs, ctx->p);
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

/* What the device picks from the capabilities. SCEPStandard implies
 * POSTPKIOperation, AES and SHA-256 (RFC 8894 3.5.2). Without any: GET,
 * 3DES, SHA-1. */
static int scep_plan(dev_ctx *ctx)
{
    scep_info *s = &ctx->scep;
    int standard = cap_present(s->caps, "SCEPStandard");
    int aes = standard || cap_present(s->caps, "AES");
    int sha256 = standard || cap_present(s->caps, "SHA-256");

    s->post = standard || cap_present(s->caps, "POSTPKIOperation");
    s->cipher = aes ? EVP_aes_256_cbc() : EVP_des_ede3_cbc();
    s->md = sha256 ? EVP_sha256() : EVP_sha1();
    printf("capabilities: %s\n", s->caps->nelts
           ? list_text(s->caps, ctx->p)
           : "none (device defaults: GET, 3DES, SHA-1)");
    printf("PKIOperation: method %s, cipher %s, digest %s\n",
           s->post ? "POST" : "GET", aes ? "AES" : "3DES",
           sha256 ? "SHA-256" : "SHA-1");
    return 0;
}

/* ---- SCEP: PKIOperation ---- */

/* One PKIOperation exchange, for enroll and scep alike. */
typedef struct scep_op {
    ota_scep_client c;
    const char *url;                    /* the SCEP URL */
    int post;
    int flags;                          /* of ota_scep_reply_parse */
    X509 *signer;                       /* of the CertRep: the CA or RA */
    EVP_PKEY *csr_key;                  /* the key to be certified */
    const unsigned char *raw;           /* --send: sent as they are */
    apr_size_t raw_len;
    const char *raw_file;
    const char *save_request, *save_reply;
    ota_scep_sent *sent;
    ota_scep_reply *reply;
    X509 *issued;                       /* SUCCESS: for csr_key */
} scep_op;

/* A signed attribute of a pkiMessage, single-valued, of that type. */
static ASN1_STRING *attr_of(CMS_SignerInfo *si, const char *oid, int type)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_STRING *v = obj ? CMS_signed_get0_data_by_OBJ(si, obj, -3, type)
                         : NULL;

    ASN1_OBJECT_free(obj);
    return v;
}

/* What a pkiMessage built elsewhere (--send) says its CertRep must echo,
 * from its signed attributes; NULL when it has none we can use. */
static ota_scep_sent *sent_from_der(const unsigned char *der,
                                    apr_size_t len, apr_pool_t *p)
{
    const unsigned char *at = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)len);
    STACK_OF(CMS_SignerInfo) *sis = cms ? CMS_get0_SignerInfos(cms) : NULL;
    CMS_SignerInfo *si = NULL;
    ASN1_STRING *type = NULL, *tid = NULL, *nonce = NULL;
    ota_scep_sent *s = NULL;

    if (sk_CMS_SignerInfo_num(sis) == 1) {
        si = sk_CMS_SignerInfo_value(sis, 0);
        type = attr_of(si, "2.16.840.1.113733.1.9.2", V_ASN1_PRINTABLESTRING);
        tid = attr_of(si, "2.16.840.1.113733.1.9.7", V_ASN1_PRINTABLESTRING);
        nonce = attr_of(si, "2.16.840.1.113733.1.9.5", V_ASN1_OCTET_STRING);
    }
    if (type && tid && nonce
        && ASN1_STRING_length(nonce) == OTA_SCEP_NONCE_LEN) {
        s = apr_pcalloc(p, sizeof(*s));
        s->der = der;
        s->len = len;
        s->type = atoi(apr_pstrmemdup(p, (const char *)
                                      ASN1_STRING_get0_data(type),
                                      ASN1_STRING_length(type)));
        s->transaction_id = apr_pstrmemdup(p, (const char *)
                                           ASN1_STRING_get0_data(tid),
                                           ASN1_STRING_length(tid));
        memcpy(s->sender_nonce, ASN1_STRING_get0_data(nonce),
               OTA_SCEP_NONCE_LEN);
    }
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return s;
}

/* Builds the request (--send: reads what its CertRep must echo). */
static int scep_op_build(dev_ctx *ctx, scep_op *op)
{
    apr_status_t rv;

    if (op->raw) {
        op->sent = sent_from_der(op->raw, op->raw_len, ctx->p);
        return 0;
    }
    if ((rv = ota_scep_request_build(&op->sent, &op->c, ctx->p))
        != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot build the %s: %s",
                        ota_scep_message_type_name(op->c.type),
                        rv == APR_EINVAL ? "incomplete request"
                                         : ota_openssl_error(ctx->p));
    }
    if (op->save_request && (rv = file_write(op->save_request, op->sent->der,
                                             op->sent->len, ctx->p))
                            != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", op->save_request,
                        apr_error(rv, ctx->p));
    }
    return 0;
}

static void scep_op_announce(const scep_op *op, apr_size_t len)
{
    const char *method = op->post ? "POST" : "GET";

    if (op->raw) {
        printf("-> PKIOperation (%s, %s as it is)\n", method, op->raw_file);
    }
    else {
        printf("-> PKIOperation (%s, %s, %s)\n", method,
               EVP_MD_get0_name(op->c.md ? op->c.md : EVP_sha256()),
               EVP_CIPHER_get0_name(op->c.cipher ? op->c.cipher
                                                 : EVP_aes_256_cbc()));
    }
    if (op->sent) {
        printf("   %s, transactionID %s, %" APR_SIZE_T_FMT " bytes\n",
               ota_scep_message_type_name(op->sent->type),
               op->sent->transaction_id, len);
    }
}

/* POST the DER, or GET it in base64 as message=. */
static http_answer *scep_op_send(dev_ctx *ctx, const scep_op *op)
{
    const unsigned char *der = op->raw ? op->raw : op->sent->der;
    apr_size_t len = op->raw ? op->raw_len : op->sent->len;
    http_request rq = { "POST", NULL, NULL, 0, PKI_MESSAGE, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms
                                        : PHASE_TIMEOUT_MS };
    http_answer *a;
    char *b64;

    scep_op_announce(op, len);
    if (op->post) {
        rq.url = scep_url_build(op->url, "PKIOperation", NULL, ctx->p);
        rq.body = (const char *)der;
        rq.len = len;
    }
    else {
        b64 = apr_palloc(ctx->p, apr_base64_encode_len((int)len));
        apr_base64_encode_binary(b64, der, (int)len);
        rq.method = "GET";
        rq.url = scep_url_build(op->url, "PKIOperation", b64, ctx->p);
    }
    if (!rq.url) {
        a = apr_pcalloc(ctx->p, sizeof(*a));
        a->error = apr_pstrcat(ctx->p, "bad SCEP URL ", op->url, NULL);
        return a;
    }
    return http_do(ctx, &rq);
}

/* The certificate of the reply for that key, or NULL. */
static X509 *cert_for_key(STACK_OF(X509) *certs, EVP_PKEY *key)
{
    X509 *x;

    for (int i = 0; key && i < sk_X509_num(certs); i++) {
        x = sk_X509_value(certs, i);
        if (EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1) {
            return x;
        }
    }
    return NULL;
}

static void reply_print(const scep_op *op, apr_pool_t *p)
{
    const ota_scep_reply *r = op->reply;
    X509 *x = op->issued ? op->issued : r->cert;

    printf("status: %s\n", ota_scep_status_name(r->status));
    printf("CertRep: signed with %s%s%s\n", r->digest_name,
           r->status == OTA_SCEP_SUCCESS ? ", enciphered with " : "",
           r->status == OTA_SCEP_SUCCESS ? OBJ_nid2sn(r->cipher_nid) : "");
    if (r->status == OTA_SCEP_FAILURE) {
        printf("failInfo: %s\n", ota_scep_fail_info_name(r->fail_info));
        if (r->fail_text) {
            printf("failInfoText: %s\n", r->fail_text);
        }
    }
    if (r->status == OTA_SCEP_SUCCESS && x) {
        printf("subject: %s\n", name_text(X509_get_subject_name(x), p));
        printf("serial: %s\n", ota_ca_serial_hex(x, p));
        printf("issuer: %s\n", name_text(X509_get_issuer_name(x), p));
        printf("notAfter: %s\n", time_text(X509_get0_notAfter(x), p));
    }
}

/* Reads the CertRep: 0 when it was read and verified (op->reply->status
 * says what it holds), EXIT_SCEP when there was none to read. */
static int scep_op_answer(dev_ctx *ctx, scep_op *op, const http_answer *a)
{
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        printf("SCEP: PKIOperation not answered (%s)\n", a->error);
        return EXIT_SCEP;
    }
    printf("<- HTTP %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", excerpt(a->body, a->len, ctx->p));
        printf("SCEP: PKIOperation not answered (HTTP %ld)\n", a->status);
        return EXIT_SCEP;
    }
    if (op->save_reply && save(ctx, op->save_reply, a->body, a->len)) {
        return EXIT_LOCAL;
    }
    if (!media_type_is(a->content_type, PKI_MESSAGE)) {
        printf("   (Content-Type is not " PKI_MESSAGE ")\n");
    }
    if (!op->sent) {
        printf("status: not read (what was sent carries no SCEP "
               "attributes to match)\n");
        return EXIT_SCEP;
    }
    if (ota_scep_reply_parse(&op->reply, (const unsigned char *)a->body,
                             a->len, op->sent, &op->c, op->signer,
                             op->flags, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot read the CertRep: %s",
                        ota_openssl_error(ctx->p));
    }
    if (!op->reply->ok) {
        printf("status: unreadable (%s)\n", op->reply->detail);
        printf("SCEP: CertRep refused: %s\n", op->reply->detail);
        return EXIT_SCEP;
    }
    op->issued = cert_for_key(op->reply->certs, op->csr_key);
    reply_print(op, ctx->p);
    return 0;
}

static int scep_op_run(dev_ctx *ctx, scep_op *op)
{
    int rc = scep_op_build(ctx, op);

    return rc ? rc : scep_op_answer(ctx, op, scep_op_send(ctx, op));
}

/* ---- SCEP: the device's enrollment ---- */

/* The PKCSReq a device builds from its SCEP payload. */
static int scep_request_prepare(dev_ctx *ctx, scep_op *op)
{
    scep_info *s = &ctx->scep;
    const char *cn = name_cn(s->subject, ctx->p);
    EVP_PKEY *key;
    X509 *self;
    X509_REQ *csr;

    printf("SCEP enrollment: new RSA %d-bit key, CSR%s, signed by a "
           "self-signed certificate\n", s->keysize,
           s->challenge ? " with challengePassword" : "");
    if (!(key = rsa_generate(s->keysize, ctx->p))) {
        return complain(EXIT_LOCAL, "cannot generate an RSA key: %s",
                        ota_openssl_error(ctx->p));
    }
    if (ota_scep_self_signed(&self, key, cn ? cn : ctx->udid, 7, ctx->p)
        || ota_scep_csr(&csr, key, s->subject, s->challenge, ctx->p)) {
        return complain(EXIT_LOCAL, "cannot make the CSR or its signer: %s",
                        ota_openssl_error(ctx->p));
    }
    memset(op, 0, sizeof(*op));
    op->c.key = key;
    op->c.cert = self;
    op->c.recipient = s->recipient;
    op->c.type = OTA_SCEP_PKCS_REQ;
    op->c.csr = csr;
    op->c.md = s->md;
    op->c.cipher = s->cipher;
    op->url = s->url;
    op->post = s->post;
    op->flags = ctx->scep_legacy ? OTA_SCEP_ACCEPT_SHA1 | OTA_SCEP_ACCEPT_DES
                                 : 0;
    op->signer = s->signer;
    op->csr_key = key;
    if (ctx->save_dir) {
        op->save_request = apr_pstrcat(ctx->p, ctx->save_dir,
                                       "/scep-request.der", NULL);
        op->save_reply = "scep-reply.der";
    }
    return 0;
}

/* The CA's name: the recipient's, or its issuer's when it is an RA. */
static X509_NAME *ca_name(X509 *recipient)
{
    return X509_check_ca(recipient) ? X509_get_subject_name(recipient)
                                    : X509_get_issuer_name(recipient);
}

/* PENDING: GetCertInitial every RetryDelay (at most --timeout), Retries
 * times at most. */
static int scep_poll(dev_ctx *ctx, scep_op *op)
{
    scep_info *s = &ctx->scep;
    apr_interval_time_t delay = apr_time_from_sec(s->retry_delay);
    int rc;

    if (ctx->timeout_ms && delay > ctx->timeout_ms * (apr_time_t)1000) {
        delay = ctx->timeout_ms * (apr_time_t)1000;
    }
    op->c.type = OTA_SCEP_CERT_POLL;
    op->c.transaction_id = op->sent->transaction_id;
    op->c.issuer = ca_name(s->recipient);
    op->c.subject = s->subject;
    for (int i = 1; op->reply->status == OTA_SCEP_PENDING; i++) {
        if (i > s->retries) {
            printf("SCEP: still PENDING after %d retr%s\n", s->retries,
                   s->retries == 1 ? "y" : "ies");
            return EXIT_SCEP;
        }
        printf("PENDING: GetCertInitial %d of %d in %.1f s\n", i,
               s->retries, (double)delay / APR_USEC_PER_SEC);
        apr_sleep(delay);
        if ((rc = scep_op_run(ctx, op)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* The certificate is for our key and signed by a CA of GetCACert,
 * *issuer. */
static int scep_issued_check(X509 **issuer, const scep_info *s, X509 *x)
{
    X509 *ca;

    if (!x) {
        return complain(EXIT_SCEP, "SUCCESS without a certificate for our "
                        "key");
    }
    for (int i = 0; i < sk_X509_num(s->ca_certs); i++) {
        ca = sk_X509_value(s->ca_certs, i);
        if (X509_check_issued(ca, x) == X509_V_OK
            && X509_verify(x, X509_get0_pubkey(ca)) == 1) {
            *issuer = ca;
            return 0;
        }
    }
    ERR_clear_error();
    return complain(EXIT_SCEP, "the certificate issued is not signed by a "
                    "GetCACert certificate");
}

/* Keeps the identity phase 3 signs with. */
static int scep_identity_save(dev_ctx *ctx, const scep_op *op)
{
    const char *key = apr_pstrcat(ctx->p, ctx->save_dir, "/device-key.pem",
                                  NULL);
    const char *pem = ota_cert_pem(op->issued, ctx->p);
    apr_status_t rv;
    int rc;

    if (!ctx->save_dir) {
        printf("identity: not kept (no --save-dir)\n");
        return 0;
    }
    if ((rv = key_write(key, op->csr_key, ctx->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", key,
                        apr_error(rv, ctx->p));
    }
    if (!pem) {
        return complain(EXIT_LOCAL, "cannot encode the certificate");
    }
    if ((rc = save(ctx, "device-cert.pem", pem, strlen(pem))) != 0) {
        return rc;
    }
    printf("identity: %s/device-key.pem, %s/device-cert.pem\n",
           ctx->save_dir, ctx->save_dir);
    return 0;
}

/* The identity phase 3 signs with, unless --phase3-identity gave one:
 * the certificate issued, its key, and the CA that issued it. */
static int scep_identity_keep(dev_ctx *ctx, const scep_op *op, X509 *ca)
{
    ota_identity *id;

    if (ctx->p3_id) {
        return 0;
    }
    id = apr_pcalloc(ctx->p, sizeof(*id));
    if (!(id->chain = sk_X509_new_null())) {
        return complain(EXIT_LOCAL, "out of memory");
    }
    apr_pool_cleanup_register(ctx->p, id->chain, free_x509_stack_shallow,
                              apr_pool_cleanup_null);
    id->cert = op->issued;
    id->key = op->csr_key;
    if (X509_cmp(ca, id->cert) != 0) {
        sk_X509_push(id->chain, ca);
    }
    ctx->p3_id = id;
    return 0;
}

static int scep_enroll(dev_ctx *ctx)
{
    scep_op op;
    X509 *ca = NULL;
    int rc;

    if ((rc = scep_request_prepare(ctx, &op)) != 0
        || (rc = scep_op_run(ctx, &op)) != 0
        || (rc = scep_poll(ctx, &op)) != 0) {
        return rc;
    }
    if (op.reply->status == OTA_SCEP_FAILURE) {
        printf("SCEP: FAILURE %s%s%s\n",
               ota_scep_fail_info_name(op.reply->fail_info),
               op.reply->fail_text ? ": " : "",
               op.reply->fail_text ? op.reply->fail_text : "");
        return EXIT_SCEP;
    }
    if ((rc = scep_issued_check(&ca, &ctx->scep, op.issued)) != 0
        || (rc = scep_identity_save(ctx, &op)) != 0) {
        return rc;
    }
    return scep_identity_keep(ctx, &op, ca);
}

/* ---- phase 3 ---- */

/* What --phase3-only sends, phase 1 not having asked. */
static const char *const phase3_only_attributes[] = {
    "UDID", "VERSION", "PRODUCT", "SERIAL", "IMEI", "MEID", "DEVICE_NAME",
    NULL
};

static const char *key_text(EVP_PKEY *key, apr_pool_t *p)
{
    const char *type = EVP_PKEY_get0_type_name(key);

    return apr_psprintf(p, "%s %d", type ? type : "key",
                        EVP_PKEY_get_bits(key));
}

/* The attributes without CHALLENGE, signed with the phase-3 identity. */
static int phase3_request(const unsigned char **der, apr_size_t *len,
                          const dev_ctx *ctx)
{
    const ota_identity *id = ctx->p3_id;
    const char *xml;
    apr_size_t xml_len;
    int rc;

    if ((rc = attributes_build(&xml, &xml_len, ctx, 0)) != 0) {
        return rc;
    }
    if (ota_cms_sign(der, len, id, xml, xml_len, ctx->p3_md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot sign phase 3 with %s (%s)",
                        ctx->p3_md_name, ota_openssl_error(ctx->p));
    }
    printf("  signed: %" APR_SIZE_T_FMT " bytes, %s, %s, by %s (%s)\n",
           *len, ctx->p3_md_name, ctx->with_attributes
                                  ? "with signed attributes"
                                  : "no signed attributes",
           name_text(X509_get_subject_name(id->cert), ctx->p),
           key_text(id->key, ctx->p));
    return 0;
}

/* Whom the EnvelopedData is for: 1 when one of them is us. */
static int recipients_print(CMS_ContentInfo *cms, const ota_identity *id,
                            apr_pool_t *p)
{
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
    CMS_RecipientInfo *ri;
    X509_NAME *issuer;
    ASN1_INTEGER *serial;
    BIGNUM *bn;
    char *hex;
    int ours, found = 0;

    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
        ri = sk_CMS_RecipientInfo_value(ris, i);
        issuer = NULL;
        serial = NULL;
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS
            || !CMS_RecipientInfo_ktri_get0_signer_id(ri, NULL, &issuer,
                                                      &serial)
            || !issuer || !serial) {
            printf("  recipient %d: not by issuer and serial (type %d)\n",
                   i + 1, CMS_RecipientInfo_type(ri));
            continue;
        }
        bn = ASN1_INTEGER_to_BN(serial, NULL);
        hex = bn ? BN_bn2hex(bn) : NULL;
        ours = CMS_RecipientInfo_ktri_cert_cmp(ri, id->cert) == 0;
        printf("  recipient %d: serial %s, issuer %s%s\n", i + 1,
               hex ? hex : "?", name_text(issuer, p),
               ours ? " (this device)" : "");
        found |= ours;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    ERR_clear_error();
    return found;
}

/* A DER EnvelopedData, nothing after it. */
static CMS_ContentInfo *envelope_parse(const unsigned char *der,
                                       apr_size_t len, const char **why,
                                       apr_pool_t *p)
{
    const unsigned char *at = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &at, (long)len);
    int nid;

    if (!cms) {
        *why = apr_pstrcat(p, "not CMS: ", ota_openssl_error(p), NULL);
        return NULL;
    }
    if ((nid = OBJ_obj2nid(CMS_get0_type(cms))) != NID_pkcs7_enveloped) {
        *why = apr_psprintf(p, "a %s, not an EnvelopedData",
                            OBJ_nid2sn(nid));
    }
    else if (at != der + len) {
        *why = "bytes after the EnvelopedData";
    }
    else {
        return cms;
    }
    CMS_ContentInfo_free(cms);
    return NULL;
}

/* Decrypts EncryptedPayloadContent with the phase-3 identity, as the
 * device does with the key it just had certified. */
static int envelope_open(const char **xml, apr_size_t *len,
                         const dev_ctx *ctx, const unsigned char *der,
                         apr_size_t der_len)
{
    CMS_ContentInfo *cms;
    BIO *out;
    char *data = NULL;
    const char *why = NULL;
    long n = 0;

    if (!(cms = envelope_parse(der, der_len, &why, ctx->p))) {
        return complain(EXIT_PHASE3, "phase 3: EncryptedPayloadContent: "
                        "%s", why);
    }
    printf("  EncryptedPayloadContent: EnvelopedData, %" APR_SIZE_T_FMT
           " bytes, %d recipient(s)\n", der_len,
           sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)));
    out = BIO_new(BIO_s_mem());
    /* OpenSSL says nothing when no recipient is ours: say it first */
    if (!recipients_print(cms, ctx->p3_id, ctx->p)) {
        why = "not encrypted to this device's certificate";
    }
    else if (!out || CMS_decrypt(cms, ctx->p3_id->key, ctx->p3_id->cert,
                                 NULL, out, CMS_BINARY) != 1) {
        why = ota_openssl_error(ctx->p);
    }
    else if ((n = BIO_get_mem_data(out, &data)) <= 0) {
        why = "nothing inside";
    }
    *len = n > 0 ? (apr_size_t)n : 0;
    *xml = apr_pstrmemdup(ctx->p, data ? data : "", *len);
    BIO_free(out);
    CMS_ContentInfo_free(cms);
    if (why) {
        return complain(EXIT_PHASE3, "phase 3: cannot decrypt "
                        "EncryptedPayloadContent: %s", why);
    }
    printf("  decrypted: %" APR_SIZE_T_FMT " bytes\n", *len);
    return 0;
}

/* The decrypted payloads: an array of dicts, each with a PayloadType and
 * a PayloadIdentifier. */
static int final_payloads_check(plist_t list, apr_pool_t *p)
{
    plist_t item;
    uint32_t n;

    if (plist_get_node_type(list) != PLIST_ARRAY) {
        return complain(EXIT_PHASE3, "phase 3: the decrypted content is "
                        "not an array of payloads");
    }
    if ((n = plist_array_get_size(list)) == 0) {
        return complain(EXIT_PHASE3, "phase 3: no payload in the decrypted "
                        "content");
    }
    for (uint32_t i = 0; i < n; i++) {
        item = plist_array_get_item(list, i);
        if (plist_get_node_type(item) != PLIST_DICT) {
            return complain(EXIT_PHASE3, "phase 3: payload %u is not a "
                            "dict", i + 1);
        }
        if (!ota_plist_dict_get_string(item, "PayloadType", p)
            || !ota_plist_dict_get_string(item, "PayloadIdentifier", p)) {
            return complain(EXIT_PHASE3, "phase 3: payload %u has no "
                            "PayloadType or PayloadIdentifier", i + 1);
        }
    }
    return 0;
}

static int final_payloads(const dev_ctx *ctx, const char *identifier,
                          const char *xml, apr_size_t len)
{
    plist_t list = NULL, item;
    const char *why = NULL, *name;
    uint32_t n;
    int rc;

    if (ota_plist_parse(&list, xml, len, &final_limits, &why, ctx->p)
        != APR_SUCCESS) {
        return complain(EXIT_PHASE3, "phase 3: decrypted content refused: "
                        "%s", why ? why : "not a property list");
    }
    if ((rc = final_payloads_check(list, ctx->p)) != 0) {
        return rc;
    }
    n = plist_array_get_size(list);
    printf("final profile: PayloadIdentifier %s, %u payload(s)\n",
           identifier, n);
    for (uint32_t i = 0; i < n; i++) {
        item = plist_array_get_item(list, i);
        name = ota_plist_dict_get_string(item, "PayloadDisplayName", ctx->p);
        printf("  payload %u: PayloadType %s, PayloadIdentifier %s, "
               "PayloadDisplayName %s\n", i + 1,
               ota_plist_dict_get_string(item, "PayloadType", ctx->p),
               ota_plist_dict_get_string(item, "PayloadIdentifier", ctx->p),
               name ? name : "(absent)");
    }
    return 0;
}

/* The final profile: a Configuration with IsEncrypted true and its
 * payloads in EncryptedPayloadContent only. */
static int phase3_profile(const unsigned char **der, apr_size_t *len,
                          const dev_ctx *ctx, plist_t root)
{
    const char *type = ota_plist_dict_get_string(root, "PayloadType",
                                                 ctx->p);
    plist_t flag = plist_dict_get_item(root, "IsEncrypted");
    plist_t data = plist_dict_get_item(root, "EncryptedPayloadContent");
    uint8_t encrypted = 0;
    uint64_t n = 0;

    if (!type || strcmp(type, "Configuration") != 0) {
        return complain(EXIT_PHASE3, "phase 3: PayloadType is %s, not "
                        "Configuration", type ? type : "missing");
    }
    if (flag && plist_get_node_type(flag) == PLIST_BOOLEAN) {
        plist_get_bool_val(flag, &encrypted);
    }
    if (!encrypted) {
        return complain(EXIT_PHASE3, "phase 3: IsEncrypted is %s",
                        flag ? "not true" : "missing");
    }
    if (plist_dict_get_item(root, "PayloadContent")) {
        return complain(EXIT_PHASE3, "phase 3: PayloadContent beside "
                        "EncryptedPayloadContent");
    }
    if (!data || plist_get_node_type(data) != PLIST_DATA
        || !(*der = (const unsigned char *)plist_get_data_ptr(data, &n))
        || n == 0) {
        return complain(EXIT_PHASE3, "phase 3: no EncryptedPayloadContent "
                        "data");
    }
    *len = (apr_size_t)n;
    return 0;
}

static int phase3_read(const dev_ctx *ctx, plist_t root)
{
    const char *identifier = ota_plist_dict_get_string(
                                 root, "PayloadIdentifier", ctx->p);
    const unsigned char *der = NULL;
    const char *xml = NULL;
    apr_size_t der_len = 0, xml_len = 0;
    int rc;

    if (!identifier) {
        return complain(EXIT_PHASE3, "phase 3: no PayloadIdentifier");
    }
    if ((rc = phase3_profile(&der, &der_len, ctx, root)) != 0
        || (rc = save(ctx, "encrypted-content.der", der, der_len)) != 0
        || (rc = envelope_open(&xml, &xml_len, ctx, der, der_len)) != 0
        || (rc = save(ctx, "final-payloads.plist", xml, xml_len)) != 0) {
        return rc;
    }
    return final_payloads(ctx, identifier, xml, xml_len);
}

static int phase3(dev_ctx *ctx)
{
    http_request rq = { "POST", ctx->enroll_url, NULL, 0,
                        "application/pkcs7-signature", NULL,
                        ctx->timeout_ms ? ctx->timeout_ms
                                        : PHASE_TIMEOUT_MS };
    const unsigned char *der;
    plist_t root = NULL;
    int rc;

    printf("phase 3: POST %s\n", ctx->enroll_url);
    if ((rc = phase3_request(&der, &rq.len, ctx)) != 0) {
        return rc;
    }
    rq.body = (const char *)der;
    if ((rc = save(ctx, "phase3-request.der", der, rq.len)) != 0
        || (rc = profile_answer(&root, ctx, 3, http_do(ctx, &rq))) != 0) {
        return rc;
    }
    return phase3_read(ctx, root);
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

/* The device's identity for phase 2 and, if given, the one for phase 3;
 * --phase3-only needs the latter only. */
static int enroll_identities(dev_ctx *ctx)
{
    const char *why = NULL;
    int rc;

    if (!ctx->p3_cert_file != !ctx->p3_key_file) {
        return complain(EXIT_LOCAL, "--phase3-identity and --phase3-key go "
                        "together");
    }
    if (ctx->phase3_only && (!ctx->p3_cert_file || ctx->stop_after)) {
        return complain(EXIT_LOCAL, "--phase3-only needs --phase3-identity "
                        "and --phase3-key, and no --stop-after");
    }
    if (!ctx->phase3_only && (rc = identity_load(ctx)) != 0) {
        return rc;
    }
    if (ctx->p3_cert_file
        && ota_identity_load(&ctx->p3_id, ctx->p3_cert_file,
                             ctx->p3_key_file, &why, ctx->p)
           != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "--phase3-identity: %s", why);
    }
    return 0;
}

/* --phase3-only: --url is where phase 3 goes; phase 1 asked nothing. */
static void phase3_only_prepare(dev_ctx *ctx)
{
    ctx->enroll_url = ctx->url;
    ctx->attributes = apr_array_make(ctx->p, 8, sizeof(const char *));
    for (int i = 0; phase3_only_attributes[i]; i++) {
        APR_ARRAY_PUSH(ctx->attributes, const char *) =
            phase3_only_attributes[i];
    }
}

static int enroll_prepare(dev_ctx *ctx)
{
    const char *why = NULL;
    X509 *own;
    apr_status_t rv;
    int rc;

    if (!ctx->url || ctx->nargs) {
        return complain(EXIT_LOCAL, "enroll needs --url and no other "
                        "argument (see --help)");
    }
    if ((rc = enroll_identities(ctx)) != 0) {
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
    own = ctx->phase3_only ? ctx->p3_id->cert : ctx->id->cert;
    if (!ctx->udid && !(ctx->udid = cert_cn(own, ctx->p))) {
        return complain(EXIT_LOCAL, "the identity has no CN: give --udid");
    }
    if (ctx->phase3_only) {
        phase3_only_prepare(ctx);
    }
    printf("device: %s, %s %s, UDID %s\n", ctx->os->name, ctx->product,
           ctx->version, ctx->udid);
    printf("User-Agent: %s\n", ctx->os->user_agent);
    return 0;
}

/* Phases 1 and 2, and SCEP: 0 to go on to phase 3, -1 when
 * --stop-after said to stop (with success), else the exit status. */
static int enroll_to_scep(dev_ctx *ctx)
{
    static int (*const steps[])(dev_ctx *) = {
        phase1, phase2, scep_getcacert, scep_getcacaps, scep_plan, NULL
    };
    int rc;

    for (int i = 0; steps[i]; i++) {
        if ((rc = steps[i](ctx)) != 0) {
            return rc;
        }
    }
    if (ctx->stop_after == STOP_PHASE2) {
        printf("SCEP: stopping before PKIOperation (--stop-after phase2)\n");
        printf("RESULT: ready for SCEP\n");
        return -1;
    }
    if ((rc = scep_enroll(ctx)) != 0) {
        return rc;
    }
    if (ctx->stop_after == STOP_SCEP) {
        printf("phase 3: not sent (--stop-after scep)\n");
        printf("RESULT: enrolled\n");
        return -1;
    }
    return 0;
}

static int cmd_enroll(dev_ctx *ctx)
{
    int rc;

    if (ctx->md == EVP_md5()) {
        return complain(EXIT_LOCAL, "enroll signs with sha1 or sha256; "
                        "md5 is for sign");
    }
    if ((rc = enroll_prepare(ctx)) != 0) {
        return rc;
    }
    if (!ctx->phase3_only && (rc = enroll_to_scep(ctx)) != 0) {
        return rc < 0 ? 0 : rc;
    }
    if ((rc = phase3(ctx)) != 0) {
        return rc;
    }
    printf("RESULT: enrolled, final profile installed\n");
    return 0;
}

/* ---- scep: one request, for tests ---- */

static int scep_show_caps(dev_ctx *ctx)
{
    http_request rq = { "GET", scep_url_build(ctx->url, "GetCACaps", NULL,
                                              ctx->p),
                        NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a;
    char *copy, *state = NULL, *line;

    printf("-> GetCACaps\n");
    a = http_do(ctx, &rq);
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return EXIT_SCEP;
    }
    printf("<- HTTP %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", excerpt(a->body, a->len, ctx->p));
        return EXIT_SCEP;
    }
    copy = apr_pstrmemdup(ctx->p, a->body, a->len);
    for (line = apr_strtok(copy, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        if (*(line = trim(line))) {
            printf("%s\n", line);
        }
    }
    return 0;
}

static int pem_write(const char *path, const char *pem, apr_pool_t *p)
{
    apr_status_t rv;

    if (!pem) {
        return complain(EXIT_LOCAL, "cannot encode a certificate");
    }
    if ((rv = file_write(path, pem, strlen(pem), p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", path,
                        apr_error(rv, p));
    }
    return 0;
}

static int cert_write(const char *path, X509 *x, apr_pool_t *p)
{
    return pem_write(path, x ? ota_cert_pem(x, p) : NULL, p);
}

static int certs_write(const char *path, STACK_OF(X509) *certs,
                       apr_pool_t *p)
{
    const char *pem = "", *one;

    for (int i = 0; pem && i < sk_X509_num(certs); i++) {
        one = ota_cert_pem(sk_X509_value(certs, i), p);
        pem = one ? apr_pstrcat(p, pem, one, NULL) : NULL;
    }
    return pem_write(path, pem, p);
}

static int scep_show_cacert(dev_ctx *ctx)
{
    STACK_OF(X509) *certs;
    X509 *x, *signer;
    int rc;

    if ((rc = ca_certs_fetch(ctx, scep_url_build(ctx->url, "GetCACert",
                                                 NULL, ctx->p),
                             &certs)) != 0) {
        return rc;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        x = sk_X509_value(certs, i);
        printf("subject: %s%s\n", name_text(X509_get_subject_name(x), ctx->p),
               X509_check_ca(x) ? " (CA)" : "");
    }
    scep_peers(&x, &signer, certs, ctx->p);
    return ctx->so.out_cert ? certs_write(ctx->so.out_cert, certs, ctx->p)
                            : 0;
}

/* The CA (or RA) to encrypt to and to verify with: --cacert or
 * GetCACert's. */
static int scep_cli_ca(dev_ctx *ctx, scep_op *op)
{
    STACK_OF(X509) *certs = NULL;
    const char *why = NULL;
    int rc;

    if (ctx->so.ca_file) {
        if (ota_certs_load(&certs, ctx->so.ca_file, &why, ctx->p)
            != APR_SUCCESS) {
            return complain(EXIT_LOCAL, "--cacert: %s", why);
        }
    }
    else if ((rc = ca_certs_fetch(ctx, scep_url_build(ctx->url, "GetCACert",
                                                      NULL, ctx->p),
                                  &certs)) != 0) {
        return rc;
    }
    scep_peers(&op->c.recipient, &op->signer, certs, ctx->p);
    return 0;
}

/* A key from FILE, else a new one of bits (0: none). */
static int key_get(dev_ctx *ctx, EVP_PKEY **key, const char *file,
                   const char *option, int bits)
{
    const char *why = NULL;

    *key = NULL;
    if (file && ota_key_load(key, file, &why, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "%s: %s", option, why);
    }
    if (!file && bits) {
        if (!(*key = rsa_generate(bits, ctx->p))) {
            return complain(EXIT_LOCAL, "cannot generate an RSA key: %s",
                            ota_openssl_error(ctx->p));
        }
        printf("key: new RSA %d bits\n", bits);
    }
    return 0;
}

static int cert_get(dev_ctx *ctx, X509 **cert, const char *file,
                    const char *option)
{
    STACK_OF(X509) *certs;
    const char *why = NULL;

    *cert = NULL;
    if (file && ota_certs_load(&certs, file, &why, ctx->p) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "%s: %s", option, why);
    }
    *cert = file ? sk_X509_value(certs, 0) : NULL;
    return 0;
}

/* The key certified, the signer (given, or self-signed for the key) and
 * the key the CSR is made for. */
static int scep_cli_keys(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;
    EVP_PKEY *key, *signer_key;
    X509 *signer;
    apr_status_t rv;
    int rc;

    if ((o->signer_cert != NULL) != (o->signer_key != NULL) && !op->raw) {
        return complain(EXIT_LOCAL, "--signer-cert and --signer-key go "
                        "together");
    }
    if (o->type == OTA_SCEP_RENEWAL_REQ && !o->signer_cert && !op->raw) {
        return complain(EXIT_LOCAL, "renewal needs --signer-cert and "
                        "--signer-key: the certificate being renewed");
    }
    if ((rc = key_get(ctx, &key, ctx->key_file, "--key",
                      op->raw ? 0 : o->keysize)) != 0
        || (rc = key_get(ctx, &signer_key, o->signer_key, "--signer-key", 0))
           != 0
        || (rc = key_get(ctx, &op->csr_key, o->csr_key, "--csr-key", 0)) != 0
        || (rc = cert_get(ctx, &signer, o->signer_cert, "--signer-cert"))
           != 0) {
        return rc;
    }
    op->c.key = signer_key ? signer_key : key;
    op->c.cert = signer;
    op->csr_key = op->csr_key ? op->csr_key : key;
    if (o->out_key && key
        && (rv = key_write(o->out_key, key, ctx->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot write %s: %s", o->out_key,
                        apr_error(rv, ctx->p));
    }
    return 0;
}

/* The message: its subject, its signer, the CSR or the names polled. */
static int scep_cli_message(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;
    X509_NAME *subject = NULL;
    const char *why = NULL, *cn;

    if (o->subject && !(subject = name_parse(o->subject, &why, ctx->p))) {
        return complain(EXIT_LOCAL, "--subject: %s",
                        why ? why : "out of memory");
    }
    if (!subject && o->type == OTA_SCEP_RENEWAL_REQ) {
        subject = X509_get_subject_name(op->c.cert);
    }
    if (!subject) {
        return complain(EXIT_LOCAL, "%s needs --subject",
                        ota_scep_message_type_name(o->type));
    }
    cn = name_cn(subject, ctx->p);
    if (!op->c.cert && ota_scep_self_signed(&op->c.cert, op->c.key,
                                            cn ? cn : "ota-device", 7,
                                            ctx->p)) {
        return complain(EXIT_LOCAL, "cannot make a self-signed signer: %s",
                        ota_openssl_error(ctx->p));
    }
    op->c.type = o->type;
    op->c.subject = subject;
    if (!op->c.transaction_id) {
        op->c.transaction_id = ota_scep_transaction_id(op->csr_key, ctx->p);
    }
    op->c.issuer = ca_name(op->c.recipient);
    if (o->type != OTA_SCEP_CERT_POLL
        && ota_scep_csr(&op->c.csr, op->csr_key, subject, o->challenge,
                        ctx->p)) {
        return complain(EXIT_LOCAL, "cannot make the CSR: %s",
                        ota_openssl_error(ctx->p));
    }
    return 0;
}

/* The rest of the request: how it is sent, digest, cipher. */
static int scep_cli_setup(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;
    const char *data;
    apr_status_t rv;

    op->url = ctx->url;
    op->post = !o->get;
    op->flags = ctx->scep_legacy ? OTA_SCEP_ACCEPT_SHA1 | OTA_SCEP_ACCEPT_DES
                                 : 0;
    op->c.md = o->digest_set ? ctx->md : EVP_sha256();
    op->c.cipher = o->cipher ? o->cipher : EVP_aes_256_cbc();
    op->c.transaction_id = o->transaction_id;
    op->save_request = o->save_request;
    if (o->cipher == EVP_des_cbc() && !legacy_provider_load()) {
        return complain(EXIT_LOCAL, "single DES needs OpenSSL's legacy "
                        "provider: %s", ota_openssl_error(ctx->p));
    }
    if (!o->send) {
        return 0;
    }
    if ((rv = file_read(&data, &op->raw_len, o->send, ctx->p))
        != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "cannot read %s: %s", o->send,
                        apr_error(rv, ctx->p));
    }
    op->raw = (const unsigned char *)data;
    op->raw_file = o->send;
    return 0;
}

static int scep_pkioperation(dev_ctx *ctx)
{
    scep_op op;
    int rc;

    memset(&op, 0, sizeof(op));
    if ((rc = scep_cli_setup(ctx, &op)) != 0
        || (rc = scep_cli_ca(ctx, &op)) != 0
        || (rc = scep_cli_keys(ctx, &op)) != 0
        || (!op.raw && (rc = scep_cli_message(ctx, &op)) != 0)
        || (rc = scep_op_run(ctx, &op)) != 0) {
        return rc;
    }
    switch (op.reply->status) {
    case OTA_SCEP_SUCCESS:
        break;
    case OTA_SCEP_PENDING:
        return EXIT_SCEP_PENDING;
    default:
        return EXIT_SCEP_FAILURE;
    }
    return ctx->so.out_cert ? cert_write(ctx->so.out_cert, op.issued
                                         ? op.issued : op.reply->cert,
                                         ctx->p)
                            : 0;
}

static int cmd_scep(dev_ctx *ctx)
{
    const char *op = ctx->so.operation;

    if (!ctx->url || ctx->nargs) {
        return complain(EXIT_LOCAL, "scep needs --url and no other argument "
                        "(see --help)");
    }
    if (op && strcmp(op, "GetCACaps") == 0) {
        return scep_show_caps(ctx);
    }
    if (op && strcmp(op, "GetCACert") == 0) {
        return scep_show_cacert(ctx);
    }
    return scep_pkioperation(ctx);
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

/* ---- load: many valid requests at a time, for make bench ---- */

#define LOAD_MAX_REQUESTS    10000000
#define LOAD_MAX_CONCURRENCY 256
#define LOAD_KEEP_PHASE1     5000       /* phase-1 answers kept to check */
#define PKCS7_SIGNATURE      "application/pkcs7-signature"

/* One request of a run, ready before the clock starts. */
typedef struct load_req {
    const char *url;
    const char *body;                   /* NULL: GET */
    apr_size_t len;
} load_req;

/* Its answer. */
typedef struct load_res {
    long status;                        /* 0: no answer */
    int type_ok;                        /* the Content-Type expected */
    const char *body;                   /* when the run keeps bodies */
    apr_size_t len;
    apr_interval_time_t latency;        /* microseconds */
} load_res;

/* One transfer in flight; its easy handle is reused request after
 * request, so the multi handle's connections stay open (keep-alive). */
typedef struct load_slot {
    CURL *easy;
    http_sink sink;
    int index;
    apr_time_t started;
    char errbuf[CURL_ERROR_SIZE];
} load_slot;

/* The server's processes at one instant. ticks: user + system CPU time
 * of every process (all its threads), plus, for the parent, that of the
 * children it has reaped, so a child that exits during a run still
 * counts; in clock ticks. */
typedef struct server_sample {
    int procs;
    apr_uint64_t ticks;
    apr_uint64_t sys_ticks;             /* the system part of ticks */
    apr_uint64_t rss_sum_kb, rss_max_kb;
} server_sample;

typedef struct load_ctx {
    dev_ctx *dc;
    apr_pool_t *p;
    CURLM *multi;
    load_slot *slots;
    int concurrency;
    int keep;                           /* keep the bodies, to check them */
    const char *want_type;
    struct curl_slist *headers;         /* POST: Content-Type, no Expect */
    const char *first_error;
    long server;                        /* pid sampled, 0: none */
    const char *server_comm;            /* its children's name, or NULL */
    int rss_every;
    apr_time_t deadline;                /* no request started after it */
    int started;                        /* by the last run */
    apr_uint32_t run_id;                /* makes UDIDs and subjects unique */
} load_ctx;

/* What a timed run measured. */
typedef struct load_timing {
    int requests;                       /* sent and answered */
    int unsent;                         /* left when the deadline passed */
    double seconds;
    double client_cpu_us;
    server_sample before, after;
    int sampled;
} load_timing;

static apr_time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static double rusage_us(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec * 1e6 + ru->ru_utime.tv_usec
           + (double)ru->ru_stime.tv_sec * 1e6 + ru->ru_stime.tv_usec;
}

/* One process, from /proc/PID/stat. */
typedef struct proc_info {
    char comm[64];
    long ppid;
    apr_uint64_t user, sys;             /* its CPU ticks, all threads */
    apr_uint64_t reaped_user, reaped_sys;   /* of children it reaped */
    long rss;                           /* resident pages */
} proc_info;

/* 0 when the process is gone or unreadable. */
static int proc_read(proc_info *pi, long pid)
{
    char path[64], buf[1024], *lp, *rp;
    unsigned long long ut = 0, st = 0;
    long long cut = 0, cst = 0;
    apr_size_t n;
    FILE *f;

    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r"))) {
        return 0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the name is in parentheses and may hold anything: the last ')' */
    lp = strchr(buf, '(');
    rp = strrchr(buf, ')');
    if (!lp || !rp || rp < lp || !rp[1]) {
        return 0;
    }
    n = (apr_size_t)(rp - lp - 1);
    n = n < sizeof(pi->comm) ? n : sizeof(pi->comm) - 1;
    memcpy(pi->comm, lp + 1, n);
    pi->comm[n] = '\0';
    /* fields 3 to 24 of proc(5): state, ppid, ..., utime (14), stime,
     * cutime, cstime, ..., rss (24) */
    if (sscanf(rp + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
               "%llu %llu %lld %lld %*d %*d %*d %*d %*u %*u %ld", &pi->ppid,
               &ut, &st, &cut, &cst, &pi->rss) != 6) {
        return 0;
    }
    pi->user = ut;
    pi->sys = st;
    pi->reaped_user = cut > 0 ? (apr_uint64_t)cut : 0;
    pi->reaped_sys = cst > 0 ? (apr_uint64_t)cst : 0;
    return 1;
}

/* The server: the process `server` and its children (named comm, when
 * comm is given). */
static void server_sample_take(server_sample *out, const load_ctx *lc)
{
    long page_kb = sysconf(_SC_PAGESIZE) / 1024, pid;
    apr_uint64_t kb;
    struct dirent *e;
    proc_info pi;
    char *end;
    DIR *d;

    memset(out, 0, sizeof(*out));
    if (!lc->server || !(d = opendir("/proc"))) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || !proc_read(&pi, pid)) {
            continue;
        }
        if (pid != lc->server
            && (pi.ppid != lc->server
                || (lc->server_comm && strcmp(pi.comm, lc->server_comm)))) {
            continue;
        }
        out->procs++;
        out->ticks += pi.user + pi.sys;
        out->sys_ticks += pi.sys;
        if (pid == lc->server) {
            out->ticks += pi.reaped_user + pi.reaped_sys;
            out->sys_ticks += pi.reaped_sys;
        }
        kb = (apr_uint64_t)(pi.rss > 0 ? pi.rss : 0) * (apr_uint64_t)page_kb;
        out->rss_sum_kb += kb;
        out->rss_max_kb = kb > out->rss_max_kb ? kb : out->rss_max_kb;
    }
    closedir(d);
}

static void rss_print(const load_ctx *lc, int answers)
{
    server_sample s;

    server_sample_take(&s, lc);
    printf("RSS answers=%d procs=%d sum_kb=%" APR_UINT64_T_FMT
           " max_kb=%" APR_UINT64_T_FMT "\n", answers, s.procs,
           s.rss_sum_kb, s.rss_max_kb);
}

/* Bodies are kept (for the checks after the run) or only counted. */
static size_t load_write(char *data, size_t size, size_t n, void *ctx)
{
    http_sink *s = ctx;

    if (!s->p) {
        s->len += size * n;
        return size * n;
    }
    return sink_write(data, size, n, ctx);
}

static void load_start(load_ctx *lc, load_slot *s, const load_req *rq,
                       int index)
{
    const dev_ctx *ctx = lc->dc;
    CURL *c = s->easy;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, ctx->os->user_agent);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ctx->timeout_ms
                                            ? ctx->timeout_ms
                                            : (long)PHASE_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, load_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s->sink);
    curl_easy_setopt(c, CURLOPT_PRIVATE, s);
    if (ctx->cacert) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ctx->cacert);
    }
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, lc->headers);
    }
    else if (ctx->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, ctx->user);
    }
    memset(&s->sink, 0, sizeof(s->sink));
    s->sink.p = lc->keep ? lc->p : NULL;
    s->errbuf[0] = '\0';
    s->index = index;
    s->started = mono_now();
    curl_multi_add_handle(lc->multi, c);
}

static void load_finish(load_ctx *lc, load_slot *s, CURLcode rc,
                        load_res *r)
{
    char *ct = NULL;

    r->latency = mono_now() - s->started;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(s->easy, CURLINFO_CONTENT_TYPE, &ct);
        r->type_ok = media_type_is(ct, lc->want_type);
    }
    else if (!lc->first_error) {
        lc->first_error = apr_psprintf(lc->p, "request %d: %s", s->index,
                                       *s->errbuf ? s->errbuf
                                       : curl_easy_strerror(rc));
    }
    r->body = s->sink.buf;
    r->len = s->sink.len;
}

/* n requests, concurrency at a time, each slot starting the next request
 * as soon as its answer is in; none started after the deadline (the
 * first lc->started were sent, and answered or timed out). */
static int load_run(load_ctx *lc, const load_req *reqs, load_res *res,
                    int n, int timed)
{
    CURLMsg *m;
    CURLcode result;
    load_slot *s;
    void *priv;
    int next = 0, done = 0, left, running;

    for (int i = 0; i < lc->concurrency && next < n; i++, next++) {
        load_start(lc, &lc->slots[i], &reqs[next], next);
    }
    while (done < next) {
        if (curl_multi_perform(lc->multi, &running) != CURLM_OK) {
            return complain(EXIT_LOCAL, "libcurl's multi interface failed");
        }
        while ((m = curl_multi_info_read(lc->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            priv = NULL;
            result = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            s = priv;
            load_finish(lc, s, result, &res[s->index]);
            curl_multi_remove_handle(lc->multi, s->easy);
            done++;
            if (timed && lc->rss_every && done % lc->rss_every == 0) {
                rss_print(lc, done);
            }
            if (next < n && !(lc->deadline && mono_now() > lc->deadline)) {
                load_start(lc, s, &reqs[next], next);
                next++;
            }
        }
        if (done < next && curl_multi_poll(lc->multi, NULL, 0, 1000, NULL)
                        != CURLM_OK) {
            return complain(EXIT_LOCAL, "libcurl's multi interface failed");
        }
    }
    lc->started = next;
    return 0;
}

/* --start-after: everything is prepared; a profiler may attach now. */
static int load_wait(const load_ctx *lc)
{
    const char *file = lc->dc->lo.start_after;
    apr_finfo_t fi;

    if (!file) {
        return 0;
    }
    printf("READY: waiting for %s\n", file);
    for (int i = 0; i < 6000; i++) {
        if (apr_stat(&fi, file, APR_FINFO_TYPE, lc->p) == APR_SUCCESS) {
            return 0;
        }
        apr_sleep(apr_time_from_msec(100));
    }
    return complain(EXIT_LOCAL, "--start-after: %s did not appear in 10 "
                    "minutes", file);
}

/* The timed part: the server sampled just before the first request and
 * just after the last answer; nothing else happens in between. */
static int load_timed(load_ctx *lc, const load_req *reqs, load_res *res,
                      int n, load_timing *t)
{
    struct rusage ru0, ru1;
    apr_time_t t0, t1;
    int rc;

    memset(t, 0, sizeof(*t));
    if ((rc = load_wait(lc)) != 0) {
        return rc;
    }
    printf("run: %d requests, %d at a time\n", n, lc->concurrency);
    server_sample_take(&t->before, lc);
    getrusage(RUSAGE_SELF, &ru0);
    t0 = mono_now();
    lc->deadline = lc->dc->lo.deadline
                   ? t0 + apr_time_from_sec(lc->dc->lo.deadline) : 0;
    rc = load_run(lc, reqs, res, n, 1);
    lc->deadline = 0;
    t1 = mono_now();
    getrusage(RUSAGE_SELF, &ru1);
    server_sample_take(&t->after, lc);
    t->requests = lc->started;
    t->unsent = n - lc->started;
    if (t->unsent) {
        printf("deadline: %d requests answered in %d s, %d not sent\n",
               t->requests, lc->dc->lo.deadline, t->unsent);
    }
    t->seconds = (double)(t1 - t0) / APR_USEC_PER_SEC;
    t->client_cpu_us = (rusage_us(&ru1) - rusage_us(&ru0))
                       / (t->requests ? t->requests : 1);
    t->sampled = t->before.procs > 0 && t->after.procs > 0;
    return rc;
}

static int latency_cmp(const void *a, const void *b)
{
    apr_interval_time_t x = *(const apr_interval_time_t *)a;
    apr_interval_time_t y = *(const apr_interval_time_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double percentile_ms(const apr_interval_time_t *sorted, int n,
                            int pct)
{
    int rank = (int)(((apr_int64_t)pct * n + 99) / 100);

    return n ? (double)sorted[rank > 0 ? rank - 1 : 0] / 1000.0 : 0.0;
}

/* One line for the scripts (LOAD key=value ...), after the run's checks
 * counted bad answers in `bad`. */
static int load_report(load_ctx *lc, const char *phase, const load_res *res,
                       int n, int bad, const load_timing *t)
{
    apr_interval_time_t *lat = apr_palloc(lc->p, n * sizeof(*lat));
    long hz = sysconf(_SC_CLK_TCK);
    apr_uint64_t bytes = 0;
    double sum = 0, cpu = 0, sys = 0;
    int errors = bad;

    for (int i = 0; i < n; i++) {
        lat[i] = res[i].latency;
        sum += (double)res[i].latency;
        bytes += res[i].len;
    }
    qsort(lat, n, sizeof(*lat), latency_cmp);
    for (int i = 0; i < n; i++) {
        if (res[i].status < 200 || res[i].status > 299 || !res[i].type_ok) {
            errors++;
        }
    }
    if (t->sampled && hz > 0 && t->after.ticks >= t->before.ticks
        && t->after.sys_ticks >= t->before.sys_ticks) {
        cpu = (double)(t->after.ticks - t->before.ticks) * 1e6 / hz / n;
        sys = (double)(t->after.sys_ticks - t->before.sys_ticks) * 1e6 / hz
              / n;
    }
    if (lc->first_error) {
        printf("first error: %s\n", lc->first_error);
    }
    printf("LOAD phase=%s requests=%d unsent=%d concurrency=%d ok=%d "
           "errors=%d seconds=%.3f rps=%.1f p50_ms=%.2f p99_ms=%.2f "
           "mean_ms=%.2f answer_bytes=%" APR_UINT64_T_FMT
           " client_cpu_us=%.0f",
           phase, n, t->unsent, lc->concurrency,
           n - errors > 0 ? n - errors : 0, errors, t->seconds,
           t->seconds > 0 ? n / t->seconds : 0.0, percentile_ms(lat, n, 50),
           percentile_ms(lat, n, 99),
           sum / n / 1000.0, bytes / (apr_uint64_t)n, t->client_cpu_us);
    if (t->sampled) {
        printf(" server_cpu_us=%.0f server_sys_us=%.0f procs_before=%d "
               "procs_after=%d "
               "rss_before_sum_kb=%" APR_UINT64_T_FMT
               " rss_before_max_kb=%" APR_UINT64_T_FMT
               " rss_after_sum_kb=%" APR_UINT64_T_FMT
               " rss_after_max_kb=%" APR_UINT64_T_FMT, cpu, sys,
               t->before.procs, t->after.procs, t->before.rss_sum_kb,
               t->before.rss_max_kb, t->after.rss_sum_kb,
               t->after.rss_max_kb);
    }
    printf("\n");
    return errors || t->unsent ? EXIT_LOAD : 0;
}

/* The profile in an answer: its signature checked when --trust was
 * given (quietly: there are thousands), its property list parsed. */
static int load_profile(plist_t *root, const load_ctx *lc,
                        const load_res *r, const ota_plist_limits *limits,
                        const char **why)
{
    const dev_ctx *ctx = lc->dc;
    const unsigned char *at = (const unsigned char *)r->body;
    CMS_ContentInfo *cms;
    ASN1_OCTET_STRING **content;
    ota_signed_message *m;
    const char *xml = NULL;
    apr_size_t len = 0;

    if (!r->body || !r->len) {
        *why = "empty answer";
        return 0;
    }
    if (ctx->trust) {
        if (ota_cms_verify(&m, at, r->len, ctx->trust, lc->p) != APR_SUCCESS
            || m->verdict != OTA_CMS_OK) {
            *why = "signature refused";
            return 0;
        }
        xml = m->content;
        len = m->content_len;
    }
    else {
        cms = d2i_CMS_ContentInfo(NULL, &at, (long)r->len);
        content = cms ? CMS_get0_content(cms) : NULL;
        if (content && *content) {
            len = ASN1_STRING_length(*content);
            xml = apr_pstrmemdup(lc->p, (const char *)
                                 ASN1_STRING_get0_data(*content), len);
        }
        CMS_ContentInfo_free(cms);
        ERR_clear_error();
        if (!xml) {
            *why = "not a SignedData with content";
            return 0;
        }
    }
    if (ota_plist_parse(root, xml, len, limits, why, lc->p) != APR_SUCCESS
        || plist_get_node_type(*root) != PLIST_DICT) {
        *why = *why ? *why : "not a dict";
        return 0;
    }
    return 1;
}

/* Counts a bad answer, keeping the first reason. */
static int load_bad(load_ctx *lc, int i, const char *why)
{
    if (!lc->first_error) {
        lc->first_error = apr_psprintf(lc->p, "answer %d: %s", i, why);
    }
    return 1;
}

/* An answer that passed the HTTP checks (2xx, Content-Type). */
static int load_http_ok(const load_res *r)
{
    return r->status >= 200 && r->status <= 299 && r->type_ok;
}

static int load_type_is(plist_t root, const char *want, apr_pool_t *p)
{
    const char *type = ota_plist_dict_get_string(root, "PayloadType", p);

    return type && strcmp(type, want) == 0;
}

/* A device UDID per request, unique across runs. */
static const char *load_udid(const load_ctx *lc, int i)
{
    return apr_psprintf(lc->p, "%08X-0000-4000-8000-%012X",
                        (unsigned)lc->run_id, (unsigned)i);
}

/* Phase 1: N GETs of --url. Up to LOAD_KEEP_PHASE1 answers are kept and
 * read; beyond, only status and Content-Type are checked. */
static int load_phase1(load_ctx *lc, int n)
{
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    const char *why = NULL;
    load_timing t;
    plist_t root, content;
    int bad = 0, rc;

    for (int i = 0; i < n; i++) {
        reqs[i].url = lc->dc->url;
    }
    lc->keep = n <= LOAD_KEEP_PHASE1;
    lc->want_type = ASPEN_CONFIG;
    if ((rc = load_timed(lc, reqs, res, n, &t)) != 0) {
        return rc;
    }
    n = t.requests;
    for (int i = 0; lc->keep && i < n; i++) {
        why = NULL;
        if (!load_http_ok(&res[i])) {
            continue;
        }
        if (!load_profile(&root, lc, &res[i], &profile_limits, &why)) {
            bad += load_bad(lc, i, why);
        }
        else if (!load_type_is(root, "Profile Service", lc->p)
                 || !(content = plist_dict_get_item(root, "PayloadContent"))
                 || !ota_plist_dict_get_string(content, "Challenge",
                                               lc->p)) {
            bad += load_bad(lc, i, "not a Profile Service with a "
                            "challenge");
        }
    }
    printf("check: %s\n", lc->keep ? "every answer read"
                                   : "status and Content-Type only");
    return load_report(lc, "1", res, n, bad, &t);
}

/* Phase 2, before the clock: N challenges minted by phase-1 GETs, and N
 * attribute bodies (a new UDID each) signed as a real device signs. */
static int load_phase2_prepare(load_ctx *lc, load_req *reqs, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *mint = apr_pcalloc(lc->p, n * sizeof(*mint));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    const char *why = NULL, *url, *xml;
    const unsigned char *der;
    apr_size_t xml_len, der_len;
    apr_time_t t0 = mono_now();
    plist_t root, content;
    int rc;

    for (int i = 0; i < n; i++) {
        mint[i].url = ctx->url;
    }
    ctx->quiet = 1;
    lc->keep = 1;
    lc->want_type = ASPEN_CONFIG;
    if ((rc = load_run(lc, mint, res, n, 0)) != 0) {
        return rc;
    }
    for (int i = 0; i < n; i++) {
        if (!load_http_ok(&res[i])) {
            return complain(EXIT_PHASE1, "minting challenge %d: HTTP %ld%s%s",
                            i, res[i].status, lc->first_error ? ": " : "",
                            lc->first_error ? lc->first_error : "");
        }
        if (!load_profile(&root, lc, &res[i], &profile_limits, &why)
            || !(content = plist_dict_get_item(root, "PayloadContent"))
            || plist_get_node_type(content) != PLIST_DICT
            || !(ctx->challenge = ota_plist_dict_get_string(
                                      content, "Challenge", lc->p))
            || !(url = ota_plist_dict_get_string(content, "URL", lc->p))) {
            return complain(EXIT_PHASE1, "minting challenge %d: %s", i,
                            why ? why : "no Challenge or URL");
        }
        if (i == 0) {
            ctx->enroll_url = url_resolve(ctx->url, url, lc->p);
            ctx->attributes = string_array(plist_dict_get_item(
                                  content, "DeviceAttributes"), lc->p);
            if (!ctx->enroll_url) {
                return complain(EXIT_PHASE1, "phase 1: bad URL %s", url);
            }
        }
        ctx->udid = load_udid(lc, i);
        if ((rc = attributes_build(&xml, &xml_len, ctx, 1)) != 0) {
            return rc;
        }
        if (ota_cms_sign(&der, &der_len, ctx->id, xml, xml_len, ctx->md,
                         ctx->with_attributes, lc->p) != APR_SUCCESS) {
            return complain(EXIT_LOCAL, "cannot sign the attributes: %s",
                            ota_openssl_error(lc->p));
        }
        reqs[i].url = ctx->enroll_url;
        reqs[i].body = (const char *)der;
        reqs[i].len = der_len;
    }
    printf("prepare: %d challenges minted by phase-1 GETs and %d bodies "
           "signed (%s, %s, %" APR_SIZE_T_FMT " bytes) in %.1f s\n", n, n,
           ctx->md_name, ctx->with_attributes ? "signed attributes"
                                              : "no signed attributes",
           reqs[0].len, (double)(mono_now() - t0) / APR_USEC_PER_SEC);
    printf("enrollment URL: %s\n", ctx->enroll_url);
    lc->first_error = NULL;
    return 0;
}

static int load_phase2(load_ctx *lc, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    const char *why = NULL;
    load_timing t;
    plist_t root;
    int bad = 0, rc;

    if ((rc = identity_load(ctx)) != 0
        || (rc = load_phase2_prepare(lc, reqs, n)) != 0) {
        return rc;
    }
    lc->headers = curl_slist_append(lc->headers, "Content-Type: "
                                    PKCS7_SIGNATURE);
    if ((rc = load_timed(lc, reqs, res, n, &t)) != 0) {
        return rc;
    }
    n = t.requests;
    for (int i = 0; i < n; i++) {
        why = NULL;
        if (!load_http_ok(&res[i])) {
            continue;
        }
        if (!load_profile(&root, lc, &res[i], &profile_limits, &why)) {
            bad += load_bad(lc, i, why);
        }
        else if (!load_type_is(root, "Configuration", lc->p)
                 || !scep_payload_find(root, lc->p)) {
            bad += load_bad(lc, i, "not a Configuration with a SCEP "
                            "payload");
        }
    }
    printf("check: every answer read%s\n", ctx->trust
           ? ", its signature verified" : "");
    return load_report(lc, "2", res, n, bad, &t);
}

/* A phase-3 answer: an encrypted Configuration. */
static int load_phase3_answer(load_ctx *lc, int i, const load_res *r)
{
    const char *why = NULL;
    plist_t root, flag;
    uint8_t encrypted = 0;

    if (!load_profile(&root, lc, r, &final_limits, &why)) {
        return load_bad(lc, i, why);
    }
    flag = plist_dict_get_item(root, "IsEncrypted");
    if (flag && plist_get_node_type(flag) == PLIST_BOOLEAN) {
        plist_get_bool_val(flag, &encrypted);
    }
    if (!load_type_is(root, "Configuration", lc->p) || !encrypted
        || !plist_dict_get_item(root, "EncryptedPayloadContent")) {
        return load_bad(lc, i, "not an encrypted Configuration");
    }
    /* the first one is opened as the device would */
    return i == 0 && phase3_read(lc->dc, root) != 0
           ? load_bad(lc, i, "cannot open EncryptedPayloadContent") : 0;
}

/* Phase 3: one device enrolled first (phases 1, 2 and SCEP, printed as
 * enroll prints them), then N phase-3 posts signed by its SCEP
 * identity. */
static int load_phase3(load_ctx *lc, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    const unsigned char *der = NULL;
    apr_size_t len = 0;
    apr_time_t t0 = mono_now();
    load_timing t;
    int bad = 0, rc;

    printf("prepare: one device through phases 1, 2 and SCEP\n");
    if ((rc = enroll_prepare(ctx)) != 0
        || (rc = enroll_to_scep(ctx)) != 0) {
        return rc < 0 ? EXIT_LOCAL : rc;
    }
    ctx->quiet = 1;
    for (int i = 0; i < n; i++) {
        /* without signed attributes every signature is the same bytes */
        if ((i == 0 || ctx->with_attributes)
            && (rc = phase3_request(&der, &len, ctx)) != 0) {
            return rc;
        }
        reqs[i].url = ctx->enroll_url;
        reqs[i].body = (const char *)der;
        reqs[i].len = len;
    }
    printf("prepare: %d phase-3 bodies (%s, %" APR_SIZE_T_FMT " bytes) in "
           "%.1f s\n", n, ctx->p3_md_name, len,
           (double)(mono_now() - t0) / APR_USEC_PER_SEC);
    lc->keep = 1;
    lc->want_type = ASPEN_CONFIG;
    lc->headers = curl_slist_append(lc->headers, "Content-Type: "
                                    PKCS7_SIGNATURE);
    if ((rc = load_timed(lc, reqs, res, n, &t)) != 0) {
        return rc;
    }
    n = t.requests;
    for (int i = 0; i < n; i++) {
        if (load_http_ok(&res[i])) {
            bad += load_phase3_answer(lc, i, &res[i]);
        }
    }
    printf("check: every answer read%s, the first one decrypted\n",
           ctx->trust ? ", its signature verified" : "");
    return load_report(lc, "3", res, n, bad, &t);
}

/* One PKCSReq per request: one key, self-signed signer and challenge for
 * all, a new subject (CN) and transactionID each, so none is a replay
 * and no CA finds a second certificate for a subject. */
static int load_scep_prepare(load_ctx *lc, scep_op *op,
                             ota_scep_client *clients, ota_scep_sent **sent,
                             load_req *reqs, int n)
{
    dev_ctx *ctx = lc->dc;
    const scep_opts *o = &ctx->so;
    const char *url = scep_url_build(ctx->url, "PKIOperation", NULL, lc->p);
    const char *why = NULL;
    apr_time_t t0 = mono_now();
    X509_NAME *name;
    int rc;

    if (!url) {
        return complain(EXIT_LOCAL, "bad SCEP URL %s", ctx->url);
    }
    if ((rc = scep_cli_ca(ctx, op)) != 0) {
        return rc;
    }
    if (!(op->csr_key = rsa_generate(o->keysize, lc->p))
        || ota_scep_self_signed(&op->c.cert, op->csr_key, "ota-device load",
                                7, lc->p)) {
        return complain(EXIT_LOCAL, "cannot make the key or its signer: %s",
                        ota_openssl_error(lc->p));
    }
    op->c.key = op->csr_key;
    op->c.type = OTA_SCEP_PKCS_REQ;
    op->c.md = o->digest_set ? ctx->md : EVP_sha256();
    op->c.cipher = o->cipher ? o->cipher : EVP_aes_256_cbc();
    if (op->c.cipher == EVP_des_cbc() && !legacy_provider_load()) {
        return complain(EXIT_LOCAL, "single DES needs OpenSSL's legacy "
                        "provider: %s", ota_openssl_error(lc->p));
    }
    for (int i = 0; i < n; i++) {
        if (!(name = o->subject ? name_parse(o->subject, &why, lc->p)
                                : name_new(lc->p))
            || !name_add(name, "CN", apr_psprintf(lc->p, "ota-load-%08X-%d",
                                                  (unsigned)lc->run_id, i),
                         0, &why, lc->p)) {
            return complain(EXIT_LOCAL, "--subject: %s",
                            why ? why : "out of memory");
        }
        clients[i] = op->c;
        clients[i].transaction_id = apr_psprintf(lc->p, "OTALOAD%08X%08X",
                                                 (unsigned)lc->run_id,
                                                 (unsigned)i);
        if (ota_scep_csr(&clients[i].csr, op->csr_key, name, o->challenge,
                         lc->p)
            || ota_scep_request_build(&sent[i], &clients[i], lc->p)) {
            return complain(EXIT_LOCAL, "cannot build PKCSReq %d: %s", i,
                            ota_openssl_error(lc->p));
        }
        reqs[i].url = url;
        reqs[i].body = (const char *)sent[i]->der;
        reqs[i].len = sent[i]->len;
    }
    printf("prepare: %d PKCSReq (RSA %d, %s, %s, %" APR_SIZE_T_FMT
           " bytes) in %.1f s\n", n, o->keysize,
           EVP_MD_get0_name(op->c.md), EVP_CIPHER_get0_name(op->c.cipher),
           reqs[0].len, (double)(mono_now() - t0) / APR_USEC_PER_SEC);
    return 0;
}

/* A CertRep: SUCCESS with a certificate for our key. */
static int load_scep_answer(load_ctx *lc, int i, const load_res *r,
                            const scep_op *op, const ota_scep_client *c,
                            const ota_scep_sent *sent)
{
    ota_scep_reply *reply;

    if (ota_scep_reply_parse(&reply, (const unsigned char *)r->body, r->len,
                             sent, c, op->signer, op->flags, lc->p)
        != APR_SUCCESS || !reply->ok) {
        return load_bad(lc, i, apr_pstrcat(lc->p, "CertRep unreadable: ",
                                           reply && reply->detail
                                           ? reply->detail : "", NULL));
    }
    if (reply->status != OTA_SCEP_SUCCESS) {
        return load_bad(lc, i, apr_psprintf(lc->p, "%s %s%s%s",
                        ota_scep_status_name(reply->status),
                        ota_scep_fail_info_name(reply->fail_info),
                        reply->fail_text ? ": " : "",
                        reply->fail_text ? reply->fail_text : ""));
    }
    return cert_for_key(reply->certs, op->csr_key) ? 0
           : load_bad(lc, i, "SUCCESS without a certificate for our key");
}

static int load_scep(load_ctx *lc, int n)
{
    dev_ctx *ctx = lc->dc;
    load_req *reqs = apr_pcalloc(lc->p, n * sizeof(*reqs));
    load_res *res = apr_pcalloc(lc->p, n * sizeof(*res));
    ota_scep_client *clients = apr_pcalloc(lc->p, n * sizeof(*clients));
    ota_scep_sent **sent = apr_pcalloc(lc->p, n * sizeof(*sent));
    scep_op op;
    load_timing t;
    int bad = 0, rc;

    memset(&op, 0, sizeof(op));
    op.flags = ctx->scep_legacy ? OTA_SCEP_ACCEPT_SHA1 | OTA_SCEP_ACCEPT_DES
                                : 0;
    if ((rc = load_scep_prepare(lc, &op, clients, sent, reqs, n)) != 0) {
        return rc;
    }
    lc->keep = 1;
    lc->want_type = PKI_MESSAGE;
    lc->headers = curl_slist_append(lc->headers, "Content-Type: "
                                    PKI_MESSAGE);
    if ((rc = load_timed(lc, reqs, res, n, &t)) != 0) {
        return rc;
    }
    n = t.requests;
    for (int i = 0; i < n; i++) {
        if (load_http_ok(&res[i])) {
            bad += load_scep_answer(lc, i, &res[i], &op, &clients[i],
                                    sent[i]);
        }
    }
    printf("check: every CertRep verified and opened\n");
    return load_report(lc, "scep", res, n, bad, &t);
}

/* The server to sample: --pidfile (apache2 and its apache2 children) or
 * --server-pid (a process and all its children). */
static int load_server(load_ctx *lc)
{
    const load_opts *o = &lc->dc->lo;
    const char *text;
    apr_size_t len;
    apr_status_t rv;

    if (o->server_pid) {
        lc->server = o->server_pid;
        return 0;
    }
    if (!o->pidfile) {
        return 0;
    }
    if ((rv = file_read(&text, &len, o->pidfile, lc->p)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "--pidfile %s: %s", o->pidfile,
                        apr_error(rv, lc->p));
    }
    lc->server = strtol(text, NULL, 10);
    lc->server_comm = "apache2";
    if (lc->server <= 0) {
        return complain(EXIT_LOCAL, "--pidfile %s holds no pid", o->pidfile);
    }
    return 0;
}

static int load_setup(load_ctx *lc, dev_ctx *ctx, int n)
{
    const char *why = NULL;
    unsigned char rnd[4];

    memset(lc, 0, sizeof(*lc));
    lc->dc = ctx;
    lc->p = ctx->p;
    lc->concurrency = ctx->lo.concurrency < n ? ctx->lo.concurrency : n;
    lc->rss_every = ctx->lo.rss_every;
    lc->headers = curl_slist_append(NULL, "Expect:");
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "the random generator failed");
    }
    lc->run_id = ((apr_uint32_t)rnd[0] << 24) | (rnd[1] << 16)
                 | (rnd[2] << 8) | rnd[3];
    if (!(lc->multi = curl_multi_init())) {
        return complain(EXIT_LOCAL, "cannot start libcurl");
    }
    curl_multi_setopt(lc->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)lc->concurrency);
    curl_multi_setopt(lc->multi, CURLMOPT_MAXCONNECTS, (long)lc->concurrency);
    lc->slots = apr_pcalloc(lc->p, lc->concurrency * sizeof(*lc->slots));
    for (int i = 0; i < lc->concurrency; i++) {
        if (!(lc->slots[i].easy = curl_easy_init())) {
            return complain(EXIT_LOCAL, "cannot start libcurl");
        }
    }
    if (ctx->trust_file && ota_trust_load(&ctx->trust, ctx->trust_file,
                                          OTA_TRUST_STRICT, &why, ctx->p)
                           != APR_SUCCESS) {
        return complain(EXIT_LOCAL, "--trust: %s", why);
    }
    if (ctx->trust) {
        ota_trust_set_purpose(ctx->trust, X509_PURPOSE_ANY);
    }
    ctx->product = ctx->product ? ctx->product : ctx->os->product;
    ctx->version = ctx->version ? ctx->version : ctx->os->version;
    ctx->serial = ctx->serial ? ctx->serial : "OTAEMU000001";
    return load_server(lc);
}

static void load_cleanup(load_ctx *lc)
{
    for (int i = 0; lc->slots && i < lc->concurrency; i++) {
        if (lc->slots[i].easy) {
            curl_multi_remove_handle(lc->multi, lc->slots[i].easy);
            curl_easy_cleanup(lc->slots[i].easy);
        }
    }
    if (lc->multi) {
        curl_multi_cleanup(lc->multi);
    }
    curl_slist_free_all(lc->headers);
}

static int cmd_load(dev_ctx *ctx)
{
    const load_opts *o = &ctx->lo;
    load_ctx lc;
    int n = o->requests, rc;

    if (!ctx->url || ctx->nargs || !o->phase) {
        return complain(EXIT_LOCAL, "load needs --url and --phase, and no "
                        "other argument (see --help)");
    }
    if (ctx->md == EVP_md5()) {
        return complain(EXIT_LOCAL, "load signs with sha1 or sha256");
    }
    printf("load: phase %s, %d requests, concurrency %d, %s\n", o->phase,
           n, o->concurrency < n ? o->concurrency : n, ctx->url);
    if ((rc = load_setup(&lc, ctx, n)) == 0) {
        rc = !strcmp(o->phase, "1") ? load_phase1(&lc, n)
             : !strcmp(o->phase, "2") ? load_phase2(&lc, n)
             : !strcmp(o->phase, "3") ? load_phase3(&lc, n)
             : load_scep(&lc, n);
    }
    load_cleanup(&lc);
    return rc;
}

/* ---- options ---- */

enum {
    OPT_URL = 256, OPT_USER, OPT_CACERT, OPT_TRUST, OPT_IDENTITY, OPT_KEY,
    OPT_CHAIN, OPT_EMULATE, OPT_UDID, OPT_SERIAL, OPT_PRODUCT, OPT_VERSION,
    OPT_DIGEST, OPT_ATTRIBUTES, OPT_SAVE_DIR, OPT_TIMEOUT, OPT_DEVICE_CA,
    OPT_SCEP_LEGACY, OPT_STOP_AFTER, OPT_OPERATION, OPT_TYPE, OPT_SUBJECT,
    OPT_CHALLENGE, OPT_KEYSIZE, OPT_SIGNER_CERT, OPT_SIGNER_KEY,
    OPT_CSR_KEY, OPT_CIPHER, OPT_METHOD, OPT_TRANSACTION_ID,
    OPT_SAVE_REQUEST, OPT_SEND, OPT_OUT_CERT, OPT_OUT_KEY, OPT_SCEP_CACERT,
    OPT_PHASE3_DIGEST, OPT_PHASE3_IDENTITY, OPT_PHASE3_KEY, OPT_PHASE3_ONLY,
    OPT_PHASE, OPT_REQUESTS, OPT_CONCURRENCY, OPT_PIDFILE, OPT_SERVER_PID,
    OPT_RSS_EVERY, OPT_START_AFTER, OPT_DEADLINE
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
    { "scep-legacy", OPT_SCEP_LEGACY, 0, NULL },
    { "stop-after", OPT_STOP_AFTER, 1, NULL },
    { "phase3-digest", OPT_PHASE3_DIGEST, 1, NULL },
    { "phase3-identity", OPT_PHASE3_IDENTITY, 1, NULL },
    { "phase3-key", OPT_PHASE3_KEY, 1, NULL },
    { "phase3-only", OPT_PHASE3_ONLY, 0, NULL },
    { "timeout", OPT_TIMEOUT, 1, NULL }, { "help", 'h', 0, NULL },
    { NULL, 0, 0, NULL }
};

static const apr_getopt_option_t scep_options[] = {
    { "url", OPT_URL, 1, NULL }, { "operation", OPT_OPERATION, 1, NULL },
    { "type", OPT_TYPE, 1, NULL }, { "subject", OPT_SUBJECT, 1, NULL },
    { "challenge", OPT_CHALLENGE, 1, NULL }, { "key", OPT_KEY, 1, NULL },
    { "keysize", OPT_KEYSIZE, 1, NULL },
    { "signer-cert", OPT_SIGNER_CERT, 1, NULL },
    { "signer-key", OPT_SIGNER_KEY, 1, NULL },
    { "csr-key", OPT_CSR_KEY, 1, NULL }, { "digest", OPT_DIGEST, 1, NULL },
    { "cipher", OPT_CIPHER, 1, NULL }, { "method", OPT_METHOD, 1, NULL },
    { "transaction-id", OPT_TRANSACTION_ID, 1, NULL },
    { "cacert", OPT_SCEP_CACERT, 1, NULL },
    { "tls-cacert", OPT_CACERT, 1, NULL },
    { "save-request", OPT_SAVE_REQUEST, 1, NULL },
    { "send", OPT_SEND, 1, NULL }, { "out-cert", OPT_OUT_CERT, 1, NULL },
    { "out-key", OPT_OUT_KEY, 1, NULL },
    { "scep-legacy", OPT_SCEP_LEGACY, 0, NULL },
    { "timeout", OPT_TIMEOUT, 1, NULL }, { "help", 'h', 0, NULL },
    { NULL, 0, 0, NULL }
};

static const apr_getopt_option_t load_options[] = {
    { "url", OPT_URL, 1, NULL }, { "phase", OPT_PHASE, 1, NULL },
    { "requests", OPT_REQUESTS, 1, NULL },
    { "concurrency", OPT_CONCURRENCY, 1, NULL },
    { "user", OPT_USER, 1, NULL }, { "cacert", OPT_CACERT, 1, NULL },
    { "trust", OPT_TRUST, 1, NULL }, { "identity", OPT_IDENTITY, 1, NULL },
    { "key", OPT_KEY, 1, NULL }, { "chain", OPT_CHAIN, 1, NULL },
    { "emulate", OPT_EMULATE, 1, NULL }, { "digest", OPT_DIGEST, 1, NULL },
    { "attributes", OPT_ATTRIBUTES, 0, NULL },
    { "phase3-digest", OPT_PHASE3_DIGEST, 1, NULL },
    { "challenge", OPT_CHALLENGE, 1, NULL },
    { "subject", OPT_SUBJECT, 1, NULL }, { "keysize", OPT_KEYSIZE, 1, NULL },
    { "cipher", OPT_CIPHER, 1, NULL },
    { "scep-cacert", OPT_SCEP_CACERT, 1, NULL },
    { "scep-legacy", OPT_SCEP_LEGACY, 0, NULL },
    { "pidfile", OPT_PIDFILE, 1, NULL },
    { "server-pid", OPT_SERVER_PID, 1, NULL },
    { "rss-every", OPT_RSS_EVERY, 1, NULL },
    { "start-after", OPT_START_AFTER, 1, NULL },
    { "deadline", OPT_DEADLINE, 1, NULL },
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

static int option_phase3_digest(dev_ctx *ctx, const char *name)
{
    ctx->p3_md = strcasecmp(name, "sha1") == 0 ? EVP_sha1()
                 : strcasecmp(name, "sha256") == 0 ? EVP_sha256() : NULL;
    if (!ctx->p3_md) {
        return complain(EXIT_LOCAL, "--phase3-digest: sha1 or sha256, not "
                        "%s", name);
    }
    ctx->p3_md_name = EVP_MD_get0_name(ctx->p3_md);
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

/* A word of a closed list: its index, or -1 after complaining. */
static int option_word(const char *option, const char *arg,
                       const char *const *words)
{
    for (int i = 0; words[i]; i++) {
        if (strcasecmp(words[i], arg) == 0) {
            return i;
        }
    }
    complain(EXIT_LOCAL, "--%s: %s is not among the choices (see --help)",
             option, arg);
    return -1;
}

static int option_stop_after(dev_ctx *ctx, const char *arg)
{
    static const char *const stops[] = { "phase2", "scep", NULL };
    int i = option_word("stop-after", arg, stops);

    if (i < 0) {
        return EXIT_LOCAL;
    }
    ctx->stop_after = i == 0 ? STOP_PHASE2 : STOP_SCEP;
    return 0;
}

static int option_keysize(dev_ctx *ctx, const char *text)
{
    char *end = NULL;
    long bits = strtol(text, &end, 10);

    if (end == text || *end || bits < 512 || bits > 8192) {
        return complain(EXIT_LOCAL, "--keysize: bits (512-8192), not %s",
                        text);
    }
    ctx->so.keysize = (int)bits;
    return 0;
}

static int option_scep_choice(dev_ctx *ctx, int code, const char *arg)
{
    static const char *const ops[] = {
        "GetCACaps", "GetCACert", "PKIOperation", NULL
    };
    static const char *const types[] = { "pkcsreq", "renewal", "poll", NULL };
    static const ota_scep_message_type type_of[] = {
        OTA_SCEP_PKCS_REQ, OTA_SCEP_RENEWAL_REQ, OTA_SCEP_CERT_POLL
    };
    static const char *const ciphers[] = {
        "aes256", "aes128", "des3", "des", NULL
    };
    static const char *const methods[] = { "post", "get", NULL };
    int i;

    switch (code) {
    case OPT_OPERATION:
        if ((i = option_word("operation", arg, ops)) < 0) {
            return EXIT_LOCAL;
        }
        ctx->so.operation = ops[i];
        return 0;
    case OPT_TYPE:
        if ((i = option_word("type", arg, types)) < 0) {
            return EXIT_LOCAL;
        }
        ctx->so.type = type_of[i];
        return 0;
    case OPT_CIPHER:
        if ((i = option_word("cipher", arg, ciphers)) < 0) {
            return EXIT_LOCAL;
        }
        ctx->so.cipher = i == 0 ? EVP_aes_256_cbc() : i == 1
                         ? EVP_aes_128_cbc() : i == 2 ? EVP_des_ede3_cbc()
                         : EVP_des_cbc();
        return 0;
    case OPT_METHOD:
        if ((i = option_word("method", arg, methods)) < 0) {
            return EXIT_LOCAL;
        }
        ctx->so.get = i == 1;
        return 0;
    }
    return 0;
}

/* The options of the scep command that only set a string. */
static const char **option_scep_string(dev_ctx *ctx, int code)
{
    scep_opts *o = &ctx->so;

    switch (code) {
    case OPT_SUBJECT:        return &o->subject;
    case OPT_CHALLENGE:      return &o->challenge;
    case OPT_SIGNER_CERT:    return &o->signer_cert;
    case OPT_SIGNER_KEY:     return &o->signer_key;
    case OPT_CSR_KEY:        return &o->csr_key;
    case OPT_TRANSACTION_ID: return &o->transaction_id;
    case OPT_SAVE_REQUEST:   return &o->save_request;
    case OPT_SEND:           return &o->send;
    case OPT_OUT_CERT:       return &o->out_cert;
    case OPT_OUT_KEY:        return &o->out_key;
    case OPT_SCEP_CACERT:    return &o->ca_file;
    default:                 return NULL;
    }
}

static int option_scep(dev_ctx *ctx, int code, const char *arg)
{
    const char **field = option_scep_string(ctx, code);

    if (field) {
        *field = arg;
        return 0;
    }
    switch (code) {
    case OPT_SCEP_LEGACY:
        ctx->scep_legacy = 1;
        return 0;
    case OPT_STOP_AFTER:
        return option_stop_after(ctx, arg);
    case OPT_KEYSIZE:
        return option_keysize(ctx, arg);
    }
    return option_scep_choice(ctx, code, arg);
}

/* A whole number in [min, max]. */
static int option_number(long *out, const char *option, const char *text,
                         long min, long max)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);

    if (end == text || *end || v < min || v > max) {
        return complain(EXIT_LOCAL, "--%s: a number from %ld to %ld, not %s",
                        option, min, max, text);
    }
    *out = v;
    return 0;
}

static int option_load(dev_ctx *ctx, int code, const char *arg)
{
    static const char *const phases[] = { "1", "2", "3", "scep", NULL };
    load_opts *o = &ctx->lo;
    long v = 0;
    int i, rc = 0;

    switch (code) {
    case OPT_PHASE:
        if ((i = option_word("phase", arg, phases)) < 0) {
            return EXIT_LOCAL;
        }
        o->phase = phases[i];
        return 0;
    case OPT_PIDFILE:
        o->pidfile = arg;
        return 0;
    case OPT_START_AFTER:
        o->start_after = arg;
        return 0;
    case OPT_REQUESTS:
        rc = option_number(&v, "requests", arg, 1, LOAD_MAX_REQUESTS);
        o->requests = (int)v;
        return rc;
    case OPT_CONCURRENCY:
        rc = option_number(&v, "concurrency", arg, 1, LOAD_MAX_CONCURRENCY);
        o->concurrency = (int)v;
        return rc;
    case OPT_SERVER_PID:
        rc = option_number(&v, "server-pid", arg, 1, 1L << 30);
        o->server_pid = v;
        return rc;
    case OPT_RSS_EVERY:
        rc = option_number(&v, "rss-every", arg, 1, LOAD_MAX_REQUESTS);
        o->rss_every = (int)v;
        return rc;
    case OPT_DEADLINE:
        rc = option_number(&v, "deadline", arg, 1, 86400);
        o->deadline = (int)v;
        return rc;
    }
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
    case OPT_PHASE3_IDENTITY: ctx->p3_cert_file = arg; break;
    case OPT_PHASE3_KEY:      ctx->p3_key_file = arg;  break;
    case OPT_PHASE3_ONLY:     ctx->phase3_only = 1;    break;
    case 'h':           ctx->help = 1;             break;
    case OPT_EMULATE:
        return option_emulate(ctx, arg);
    case OPT_DIGEST:
        ctx->so.digest_set = 1;
        return option_digest(ctx, arg);
    case OPT_TIMEOUT:
        return option_timeout(ctx, arg);
    case OPT_PHASE3_DIGEST:
        return option_phase3_digest(ctx, arg);
    case OPT_PHASE: case OPT_REQUESTS: case OPT_CONCURRENCY:
    case OPT_PIDFILE: case OPT_SERVER_PID: case OPT_RSS_EVERY:
    case OPT_START_AFTER: case OPT_DEADLINE:
        return option_load(ctx, code, arg);
    default:
        return option_scep(ctx, code, arg);
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
    { "scep", scep_options, cmd_scep },
    { "inspect", inspect_options, cmd_inspect },
    { "sign", sign_options, cmd_sign },
    { "load", load_options, cmd_load },
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
    ctx->so.type = OTA_SCEP_PKCS_REQ;
    ctx->so.keysize = 2048;
    ctx->lo.requests = 1000;
    ctx->lo.concurrency = 8;
    option_digest(ctx, "sha1");
    option_phase3_digest(ctx, "sha256");
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
        || apr_pool_create(&p, NULL) != APR_SUCCESS
        || ota_scep_init() != APR_SUCCESS) {
        fprintf(stderr, "ota-device: cannot initialize libcurl or the "
                "SCEP OIDs\n");
        return EXIT_LOCAL;
    }
    rc = dispatch(argc, argv, p);
    apr_pool_destroy(p);
    curl_global_cleanup();
    return rc;
}
