/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The device emulator's private header: its exit statuses and limits,
 * the context every command shares (struct dev_ctx) and the functions
 * its files share, grouped by file. */
#ifndef DEV_H
#define DEV_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <plist/plist.h>

#include "ota_cms.h"
#include "ota_plist.h"
#include "ota_san.h"
#include "ota_scep.h"
#include "cli.h"

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

/* load: the bounds of --requests and --concurrency */
#define LOAD_MAX_REQUESTS    10000000
#define LOAD_MAX_CONCURRENCY 256

/* The commands, as bits: which of them accept an option. */
#define DEV_CMD_ENROLL  0x01
#define DEV_CMD_SCEP    0x02
#define DEV_CMD_INSPECT 0x04
#define DEV_CMD_SIGN    0x08
#define DEV_CMD_LOAD    0x10

/* What differs between the emulated systems. */
typedef struct device_os {
    const char *name;
    const char *user_agent;
    const char *product;
    const char *version;
    int getcacaps_attempts;
    int fail_without_caps;      /* iOS 4 gives up instead of defaulting */
} device_os;

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
    GENERAL_NAMES *san;                 /* the payload's SubjectAltName */
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
    const char *transaction_id, *save_request, *send, *csr_file;
    const char *out_cert, *out_key;
    const EVP_CIPHER *cipher;           /* NULL: AES-256-CBC */
    int get;                            /* --method get */
    int keysize;
    int digest_set;                     /* --digest given */
} scep_opts;

/* Everything a command knows: its options, then what it learns. */
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

/* HTTP, by libcurl: one request, its answer, and where its body goes. */
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

/* dev_options.c: the options of every command */
void dev_options_init(dev_ctx *ctx);
int dev_options_parse(dev_ctx *ctx, unsigned command, int argc,
                      const char *const *argv);

/* dev_util.c: files, printable text (messages: cli.h) */
apr_status_t dev_file_read(const char **data, apr_size_t *len,
                           const char *path, apr_pool_t *p);
apr_status_t dev_file_write(const char *path, const void *data,
                            apr_size_t len, apr_pool_t *p);
apr_status_t dev_key_write(const char *path, EVP_PKEY *key, apr_pool_t *p);
int dev_save(const dev_ctx *ctx, const char *name, const void *data,
             apr_size_t len);
const char *dev_hex_text(const unsigned char *data, apr_size_t len,
                         apr_pool_t *p);
const char *dev_excerpt(const char *body, apr_size_t len, apr_pool_t *p);

/* dev_x509.c: names, keys and identities */
const char *dev_name_text(const X509_NAME *name, apr_pool_t *p);
const char *dev_time_text(const ASN1_TIME *t, apr_pool_t *p);
const char *dev_name_cn(const X509_NAME *name, apr_pool_t *p);
const char *dev_cert_cn(X509 *x, apr_pool_t *p);
X509_NAME *dev_name_new(apr_pool_t *p);
int dev_name_add(X509_NAME *name, const char *type, const char *value,
                 int same_rdn, const char **why, apr_pool_t *p);
X509_NAME *dev_name_parse(const char *text, const char **why,
                          apr_pool_t *p);
EVP_PKEY *dev_rsa_generate(int bits, apr_pool_t *p);
int dev_legacy_provider_load(void);
int dev_identity_load(dev_ctx *ctx);

/* dev_http.c: HTTP, by libcurl */
size_t dev_sink_write(char *data, size_t size, size_t n, void *ctx);
http_answer *dev_http_do(const dev_ctx *ctx, const http_request *rq);
int dev_media_type_is(const char *ct, const char *want);
const char *dev_url_resolve(const char *base, const char *ref,
                            apr_pool_t *p);
const char *dev_scep_url_build(const char *base, const char *operation,
                               const char *message, apr_pool_t *p);

/* dev_profile.c: signed profiles (phases 1, 2 and 3) */
extern const ota_plist_limits dev_profile_limits;
extern const ota_plist_limits dev_final_limits;
int dev_profile_answer(plist_t *root, const dev_ctx *ctx, int phase,
                       const http_answer *a);
/* Phase 2 or 3: POSTs the signed body der (saved first as
 * phaseN-request.der) to the enrollment URL, then dev_profile_answer. */
int dev_profile_post(plist_t *root, const dev_ctx *ctx, int phase,
                     const unsigned char *der, apr_size_t len);
/* 0 for a Configuration profile, else the phase's exit status after
 * saying what it is. */
int dev_profile_is_configuration(plist_t root, const dev_ctx *ctx,
                                 int phase);
apr_array_header_t *dev_string_array(plist_t node, apr_pool_t *p);
const char *dev_list_text(const apr_array_header_t *a, apr_pool_t *p);

/* dev_enroll.c: the enroll command */
int dev_device_setup(dev_ctx *ctx);
int dev_enroll_prepare(dev_ctx *ctx);
int dev_enroll_to_scep(dev_ctx *ctx);
int dev_cmd_enroll(dev_ctx *ctx);

/* dev_phase2.c: phase 2 */
int dev_attributes_build(const char **xml, apr_size_t *len,
                         const dev_ctx *ctx, int with_challenge);
plist_t dev_scep_payload_find(plist_t root, apr_pool_t *p);
int dev_phase2(dev_ctx *ctx);

/* dev_phase3.c: phase 3 */
int dev_phase3_request(const unsigned char **der, apr_size_t *len,
                       const dev_ctx *ctx);
int dev_phase3_read(const dev_ctx *ctx, plist_t root);
int dev_phase3(dev_ctx *ctx);

/* dev_scep_client.c: SCEP: GetCACert, GetCACaps, PKIOperation */
int dev_ca_certs_fetch(dev_ctx *ctx, const char *url,
                       STACK_OF(X509) **certs);
void dev_scep_peers(X509 **recipient, X509 **signer,
                    STACK_OF(X509) *certs, apr_pool_t *p);
int dev_scep_getcacert(dev_ctx *ctx);
char *dev_trim(char *s);
int dev_scep_getcacaps(dev_ctx *ctx);
int dev_scep_plan(dev_ctx *ctx);
X509 *dev_cert_for_key(STACK_OF(X509) *certs, EVP_PKEY *key);
int dev_scep_op_run(dev_ctx *ctx, scep_op *op);

/* dev_scep_enroll.c: SCEP: the device's enrollment */
X509_NAME *dev_ca_name(X509 *recipient);
int dev_scep_enroll(dev_ctx *ctx);

/* dev_scep.c: the scep command */
int dev_scep_cli_ca(dev_ctx *ctx, scep_op *op);
int dev_scep_cli_algorithms(dev_ctx *ctx, scep_op *op);
int dev_cmd_scep(dev_ctx *ctx);

/* dev_inspect.c: the inspect and sign commands */
int dev_cmd_inspect(dev_ctx *ctx);
int dev_cmd_sign(dev_ctx *ctx);

/* dev_load.c: the load command */
int dev_cmd_load(dev_ctx *ctx);

#endif
