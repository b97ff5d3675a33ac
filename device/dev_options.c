/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The options of every command: one table, each option with the commands
 * that accept it (apr_getopt sees only those), and what each option sets
 * in the context. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_getopt.h>
#include <apr_strings.h>

#include "dev.h"

/* The systems --emulate knows; "current" is the default. */
static const device_os device_oses[] = {
    { "ios3", "Mozilla/5.0 (iPhone; U; CPU iPhone OS 3_1_3 like Mac OS X; "
      "en-us) Profile/1.0", "iPhone2,1", "7E18", 2, 0 },
    { "ios4", "Mozilla/5.0 (iPhone; U; CPU iPhone OS 4_0 like Mac OS X; "
      "en-us) Profile/1.0", "iPhone3,1", "8A293", 3, 1 },
    { "current", "Profile/1.0 iPhone OS 17", "iPhone15,2", "21A329", 1, 0 },
    { NULL, NULL, NULL, NULL, 0, 0 }
};

enum {
    OPT_URL = 256, OPT_USER, OPT_CACERT, OPT_TRUST, OPT_IDENTITY, OPT_KEY,
    OPT_CHAIN, OPT_EMULATE, OPT_UDID, OPT_SERIAL, OPT_PRODUCT, OPT_VERSION,
    OPT_DIGEST, OPT_ATTRIBUTES, OPT_SAVE_DIR, OPT_TIMEOUT, OPT_DEVICE_CA,
    OPT_SCEP_LEGACY, OPT_STOP_AFTER, OPT_OPERATION, OPT_TYPE, OPT_SUBJECT,
    OPT_CHALLENGE, OPT_KEYSIZE, OPT_SIGNER_CERT, OPT_SIGNER_KEY,
    OPT_CSR_KEY, OPT_CSR, OPT_CIPHER, OPT_METHOD, OPT_TRANSACTION_ID,
    OPT_SAVE_REQUEST, OPT_SEND, OPT_OUT_CERT, OPT_OUT_KEY, OPT_SCEP_CACERT,
    OPT_PHASE3_DIGEST, OPT_PHASE3_IDENTITY, OPT_PHASE3_KEY, OPT_PHASE3_ONLY,
    OPT_PHASE, OPT_REQUESTS, OPT_CONCURRENCY, OPT_PIDFILE, OPT_SERVER_PID,
    OPT_RSS_EVERY, OPT_START_AFTER, OPT_DEADLINE
};

/* The commands that accept an option, as DEV_CMD_* bits. */
#define ENROLL  DEV_CMD_ENROLL
#define SCEP    DEV_CMD_SCEP
#define INSPECT DEV_CMD_INSPECT
#define SIGN    DEV_CMD_SIGN
#define LOAD    DEV_CMD_LOAD

typedef struct dev_option {
    apr_getopt_option_t opt;
    unsigned commands;                  /* DEV_CMD_* that accept it */
} dev_option;

/* Every option of every command, once, but --cacert: the server's TLS CA
 * for enroll and load, the SCEP CA for scep (whose --tls-cacert is the
 * former; load's --scep-cacert is the latter). */
static const dev_option options[] = {
    { { "url", OPT_URL, 1, NULL }, ENROLL | SCEP | LOAD },
    { { "user", OPT_USER, 1, NULL }, ENROLL | LOAD },
    { { "cacert", OPT_CACERT, 1, NULL }, ENROLL | LOAD },
    { { "cacert", OPT_SCEP_CACERT, 1, NULL }, SCEP },
    { { "tls-cacert", OPT_CACERT, 1, NULL }, SCEP },
    { { "scep-cacert", OPT_SCEP_CACERT, 1, NULL }, LOAD },
    { { "trust", OPT_TRUST, 1, NULL }, ENROLL | LOAD },
    { { "identity", OPT_IDENTITY, 1, NULL }, ENROLL | SIGN | LOAD },
    { { "key", OPT_KEY, 1, NULL }, ENROLL | SCEP | SIGN | LOAD },
    { { "chain", OPT_CHAIN, 1, NULL }, ENROLL | SIGN | LOAD },
    { { "emulate", OPT_EMULATE, 1, NULL }, ENROLL | LOAD },
    { { "udid", OPT_UDID, 1, NULL }, ENROLL },
    { { "serial", OPT_SERIAL, 1, NULL }, ENROLL },
    { { "product", OPT_PRODUCT, 1, NULL }, ENROLL },
    { { "version", OPT_VERSION, 1, NULL }, ENROLL },
    { { "digest", OPT_DIGEST, 1, NULL }, ENROLL | SCEP | SIGN | LOAD },
    { { "attributes", OPT_ATTRIBUTES, 0, NULL }, ENROLL | SIGN | LOAD },
    { { "save-dir", OPT_SAVE_DIR, 1, NULL }, ENROLL },
    { { "scep-legacy", OPT_SCEP_LEGACY, 0, NULL }, ENROLL | SCEP | LOAD },
    { { "stop-after", OPT_STOP_AFTER, 1, NULL }, ENROLL },
    { { "phase3-digest", OPT_PHASE3_DIGEST, 1, NULL }, ENROLL | LOAD },
    { { "phase3-identity", OPT_PHASE3_IDENTITY, 1, NULL }, ENROLL },
    { { "phase3-key", OPT_PHASE3_KEY, 1, NULL }, ENROLL },
    { { "phase3-only", OPT_PHASE3_ONLY, 0, NULL }, ENROLL },
    { { "subject", OPT_SUBJECT, 1, NULL }, SCEP | LOAD },
    { { "challenge", OPT_CHALLENGE, 1, NULL }, SCEP | LOAD },
    { { "keysize", OPT_KEYSIZE, 1, NULL }, SCEP | LOAD },
    { { "cipher", OPT_CIPHER, 1, NULL }, SCEP | LOAD },
    { { "operation", OPT_OPERATION, 1, NULL }, SCEP },
    { { "type", OPT_TYPE, 1, NULL }, SCEP },
    { { "signer-cert", OPT_SIGNER_CERT, 1, NULL }, SCEP },
    { { "signer-key", OPT_SIGNER_KEY, 1, NULL }, SCEP },
    { { "csr-key", OPT_CSR_KEY, 1, NULL }, SCEP },
    { { "csr", OPT_CSR, 1, NULL }, SCEP },
    { { "method", OPT_METHOD, 1, NULL }, SCEP },
    { { "transaction-id", OPT_TRANSACTION_ID, 1, NULL }, SCEP },
    { { "save-request", OPT_SAVE_REQUEST, 1, NULL }, SCEP },
    { { "send", OPT_SEND, 1, NULL }, SCEP },
    { { "out-cert", OPT_OUT_CERT, 1, NULL }, SCEP },
    { { "out-key", OPT_OUT_KEY, 1, NULL }, SCEP },
    { { "device-ca", OPT_DEVICE_CA, 1, NULL }, INSPECT },
    { { "phase", OPT_PHASE, 1, NULL }, LOAD },
    { { "requests", OPT_REQUESTS, 1, NULL }, LOAD },
    { { "concurrency", OPT_CONCURRENCY, 1, NULL }, LOAD },
    { { "pidfile", OPT_PIDFILE, 1, NULL }, LOAD },
    { { "server-pid", OPT_SERVER_PID, 1, NULL }, LOAD },
    { { "rss-every", OPT_RSS_EVERY, 1, NULL }, LOAD },
    { { "start-after", OPT_START_AFTER, 1, NULL }, LOAD },
    { { "deadline", OPT_DEADLINE, 1, NULL }, LOAD },
    { { "timeout", OPT_TIMEOUT, 1, NULL }, ENROLL | SCEP | LOAD },
    { { "help", 'h', 0, NULL }, ENROLL | SCEP | INSPECT | SIGN | LOAD },
    { { NULL, 0, 0, NULL }, 0 }
};

/* --digest (sha1, sha256 or md5) and --phase3-digest (sha1 or sha256). */
static int option_md(const EVP_MD **md, const char **md_name,
                     const char *option, const char *name, int md5_ok)
{
    *md = strcasecmp(name, "sha1") == 0 ? EVP_sha1()
          : strcasecmp(name, "sha256") == 0 ? EVP_sha256()
          : md5_ok && strcasecmp(name, "md5") == 0 ? EVP_md5() : NULL;
    if (!*md) {
        return cli_complain(EXIT_LOCAL, "--%s: %s, not %s", option,
                            md5_ok ? "sha1, sha256 or md5" : "sha1 or sha256",
                            name);
    }
    *md_name = EVP_MD_get0_name(*md);
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
    return cli_complain(EXIT_LOCAL, "--emulate: ios3, ios4 or current, not %s",
                        name);
}

static int option_timeout(dev_ctx *ctx, const char *text)
{
    char *end = NULL;
    double sec = strtod(text, &end);

    if (end == text || *end || !(sec > 0.0 && sec <= 3600.0)) {
        return cli_complain(EXIT_LOCAL, "--timeout: seconds, not %s", text);
    }
    ctx->timeout_ms = (long)(sec * 1000.0 + 0.5);
    ctx->timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : 1;
    return 0;
}

static int option_keysize(dev_ctx *ctx, const char *text)
{
    char *end = NULL;
    long bits = strtol(text, &end, 10);

    if (end == text || *end || bits < 512 || bits > 8192) {
        return cli_complain(EXIT_LOCAL, "--keysize: bits (512-8192), not %s",
                            text);
    }
    ctx->so.keysize = (int)bits;
    return 0;
}

/* The options that take a word of a closed list. */
static const char *const stops[] = { "phase2", "scep", NULL };
static const char *const operations[] = {
    "GetCACaps", "GetCACert", "PKIOperation", NULL
};
static const char *const types[] = { "pkcsreq", "renewal", "poll", NULL };
static const char *const ciphers[] = {
    "aes256", "aes128", "des3", "des", NULL
};
static const char *const methods[] = { "post", "get", NULL };
static const char *const phases[] = { "1", "2", "3", "scep", NULL };

static const struct {
    int code;
    const char *name;
    const char *const *words;
} choices[] = {
    { OPT_STOP_AFTER, "stop-after", stops },
    { OPT_OPERATION, "operation", operations },
    { OPT_TYPE, "type", types },
    { OPT_CIPHER, "cipher", ciphers },
    { OPT_METHOD, "method", methods },
    { OPT_PHASE, "phase", phases },
    { 0, NULL, NULL }
};

/* What the word at index i of a choice option's list sets. */
static void option_chosen(dev_ctx *ctx, int code, int i)
{
    static const ota_scep_message_type type_of[] = {
        OTA_SCEP_PKCS_REQ, OTA_SCEP_RENEWAL_REQ, OTA_SCEP_CERT_POLL
    };

    switch (code) {
    case OPT_STOP_AFTER:
        ctx->stop_after = i == 0 ? STOP_PHASE2 : STOP_SCEP;
        break;
    case OPT_OPERATION:
        ctx->so.operation = operations[i];
        break;
    case OPT_TYPE:
        ctx->so.type = type_of[i];
        break;
    case OPT_CIPHER:
        ctx->so.cipher = i == 0 ? EVP_aes_256_cbc() : i == 1
                         ? EVP_aes_128_cbc() : i == 2 ? EVP_des_ede3_cbc()
                         : EVP_des_cbc();
        break;
    case OPT_METHOD:
        ctx->so.get = i == 1;
        break;
    case OPT_PHASE:
        ctx->lo.phase = phases[i];
        break;
    }
}

/* A choice option's word: its index in the list, or -1 after
 * complaining. */
static int option_word(const char *option, const char *arg,
                       const char *const *words)
{
    for (int i = 0; words[i]; i++) {
        if (strcasecmp(words[i], arg) == 0) {
            return i;
        }
    }
    cli_complain(EXIT_LOCAL, "--%s: %s is not among the choices (see --help)",
                 option, arg);
    return -1;
}

/* The load options that take a whole number, and its bounds. */
static const struct {
    int code;
    const char *name;
    long min, max;
} numbers[] = {
    { OPT_REQUESTS, "requests", 1, LOAD_MAX_REQUESTS },
    { OPT_CONCURRENCY, "concurrency", 1, LOAD_MAX_CONCURRENCY },
    { OPT_SERVER_PID, "server-pid", 1, 1L << 30 },
    { OPT_RSS_EVERY, "rss-every", 1, LOAD_MAX_REQUESTS },
    { OPT_DEADLINE, "deadline", 1, 86400 },
    { 0, NULL, 0, 0 }
};

static void option_counted(dev_ctx *ctx, int code, long v)
{
    load_opts *o = &ctx->lo;

    switch (code) {
    case OPT_REQUESTS:    o->requests = (int)v;    break;
    case OPT_CONCURRENCY: o->concurrency = (int)v; break;
    case OPT_SERVER_PID:  o->server_pid = v;       break;
    case OPT_RSS_EVERY:   o->rss_every = (int)v;   break;
    case OPT_DEADLINE:    o->deadline = (int)v;    break;
    }
}

/* A whole number in [min, max]. */
static int option_number(long *out, const char *option, const char *text,
                         long min, long max)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);

    if (end == text || *end || v < min || v > max) {
        return cli_complain(EXIT_LOCAL, "--%s: a number from %ld to %ld, "
                            "not %s", option, min, max, text);
    }
    *out = v;
    return 0;
}

/* A choice or a number option (the options left once the others are
 * set). */
static int option_listed(dev_ctx *ctx, int code, const char *arg)
{
    long v = 0;
    int i, rc;

    for (i = 0; choices[i].name && choices[i].code != code; i++) {
        continue;
    }
    if (choices[i].name) {
        if ((i = option_word(choices[i].name, arg, choices[i].words)) < 0) {
            return EXIT_LOCAL;
        }
        option_chosen(ctx, code, i);
        return 0;
    }
    for (i = 0; numbers[i].name && numbers[i].code != code; i++) {
        continue;
    }
    if (!numbers[i].name) {
        return 0;
    }
    if ((rc = option_number(&v, numbers[i].name, arg, numbers[i].min,
                            numbers[i].max)) != 0) {
        return rc;
    }
    option_counted(ctx, code, v);
    return 0;
}

/* The options that only set a string: where. */
static const char **option_string(dev_ctx *ctx, int code)
{
    scep_opts *o = &ctx->so;

    switch (code) {
    case OPT_URL:            return &ctx->url;
    case OPT_USER:           return &ctx->user;
    case OPT_CACERT:         return &ctx->cacert;
    case OPT_TRUST:          return &ctx->trust_file;
    case OPT_IDENTITY:       return &ctx->identity_file;
    case OPT_KEY:            return &ctx->key_file;
    case OPT_CHAIN:          return &ctx->chain_file;
    case OPT_UDID:           return &ctx->udid;
    case OPT_SERIAL:         return &ctx->serial;
    case OPT_PRODUCT:        return &ctx->product;
    case OPT_VERSION:        return &ctx->version;
    case OPT_SAVE_DIR:       return &ctx->save_dir;
    case OPT_DEVICE_CA:      return &ctx->device_ca;
    case OPT_PHASE3_IDENTITY: return &ctx->p3_cert_file;
    case OPT_PHASE3_KEY:     return &ctx->p3_key_file;
    case OPT_PIDFILE:        return &ctx->lo.pidfile;
    case OPT_START_AFTER:    return &ctx->lo.start_after;
    case OPT_SUBJECT:        return &o->subject;
    case OPT_CHALLENGE:      return &o->challenge;
    case OPT_SIGNER_CERT:    return &o->signer_cert;
    case OPT_SIGNER_KEY:     return &o->signer_key;
    case OPT_CSR_KEY:        return &o->csr_key;
    case OPT_CSR:            return &o->csr_file;
    case OPT_TRANSACTION_ID: return &o->transaction_id;
    case OPT_SAVE_REQUEST:   return &o->save_request;
    case OPT_SEND:           return &o->send;
    case OPT_OUT_CERT:       return &o->out_cert;
    case OPT_OUT_KEY:        return &o->out_key;
    case OPT_SCEP_CACERT:    return &o->ca_file;
    default:                 return NULL;
    }
}

/* The options without an argument: what they set. */
static int *option_flag(dev_ctx *ctx, int code)
{
    switch (code) {
    case OPT_ATTRIBUTES:  return &ctx->with_attributes;
    case OPT_PHASE3_ONLY: return &ctx->phase3_only;
    case OPT_SCEP_LEGACY: return &ctx->scep_legacy;
    case 'h':             return &ctx->help;
    default:              return NULL;
    }
}

static int option_set(dev_ctx *ctx, int code, const char *arg)
{
    const char **text = option_string(ctx, code);
    int *flag = option_flag(ctx, code);

    if (text) {
        *text = arg;
        return 0;
    }
    if (flag) {
        *flag = 1;
        return 0;
    }
    switch (code) {
    case OPT_EMULATE:
        return option_emulate(ctx, arg);
    case OPT_DIGEST:
        ctx->so.digest_set = 1;
        return option_md(&ctx->md, &ctx->md_name, "digest", arg, 1);
    case OPT_PHASE3_DIGEST:
        return option_md(&ctx->p3_md, &ctx->p3_md_name, "phase3-digest", arg,
                         0);
    case OPT_TIMEOUT:
        return option_timeout(ctx, arg);
    case OPT_KEYSIZE:
        return option_keysize(ctx, arg);
    default:
        return option_listed(ctx, code, arg);
    }
}

/* The getopt table of one command: the options it accepts, then a
 * zeroed entry. */
static const apr_getopt_option_t *options_of(unsigned command,
                                             apr_pool_t *p)
{
    apr_size_t all = sizeof(options) / sizeof(options[0]);
    apr_getopt_option_t *table = apr_pcalloc(p, all * sizeof(*table));
    int n = 0;

    for (const dev_option *o = options; o->opt.name; o++) {
        if (o->commands & command) {
            table[n++] = o->opt;
        }
    }
    return table;
}

/* The defaults, before the options: the current system, sha1 for phase
 * 2 (sha256 for phase 3), a PKCSReq for a new 2048-bit key, 1000 requests
 * 8 at a time. */
void dev_options_init(dev_ctx *ctx)
{
    ctx->os = &device_oses[2];
    ctx->so.type = OTA_SCEP_PKCS_REQ;
    ctx->so.keysize = 2048;
    ctx->lo.requests = 1000;
    ctx->lo.concurrency = 8;
    option_md(&ctx->md, &ctx->md_name, "digest", "sha1", 1);
    option_md(&ctx->p3_md, &ctx->p3_md_name, "phase3-digest", "sha256", 0);
}

/* argv[1] is the command; its options (command: its DEV_CMD_* bit) are
 * read into ctx, the other arguments left in ctx->args. */
int dev_options_parse(dev_ctx *ctx, unsigned command, int argc,
                      const char *const *argv)
{
    const apr_getopt_option_t *table = options_of(command, ctx->p);
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
