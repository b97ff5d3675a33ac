/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_ota_enroll's configuration: the per-directory record and its merge,
 * the directives, the startup checks, and the accessors that resolve every
 * default (the only place that knows them). Each setter validates its
 * argument, loads files once (here, at configuration time, as root) and
 * names itself in any error, so `apache2 -t` reports exactly what is
 * wrong. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"

#include "ota_profile.h"
#include "scep_payload.h"
#include "ota_final.h"
#include "ota_getcacaps.h"

#include "mod_ota_enroll.h"
#include "mod_ota_enroll_config.h"

APLOG_USE_MODULE(ota_enroll);

#define UNSET (-1)
#define MAX_BODY_CEILING (1024 * 1024)

/* The defaults of the settings, used by the accessors below only. */
#define DEFAULT_CHALLENGE_LIFETIME 900          /* seconds */
#define DEFAULT_MAX_BODY 65536                  /* bytes */
#define DEFAULT_KEY_SIZE 2048
#define DEFAULT_KEY_USAGE 5                     /* signing and encryption */
#define DEFAULT_RETRIES 3
#define DEFAULT_RETRY_DELAY 10                  /* seconds */
#define DEFAULT_MANUAL_RETRY_DELAY 30           /* seconds, while held */
#define DEFAULT_PENDING_LIFETIME 3600           /* seconds */
#define DEFAULT_CERTIFICATE_LIFETIME 365        /* days */
#define DEFAULT_ENROLLMENT_WINDOW 3600          /* seconds */
#define DEFAULT_CRL_LIFETIME 86400              /* seconds */
#define DEFAULT_BODY_TIMEOUT 20                 /* seconds */
#define DEFAULT_RETENTION 7                     /* days */
#define MAX_RETENTION 3650                      /* days */
#define DEFAULT_SUBJECT "CN=%{UDID}"
#define DEFAULT_DISPLAY_NAME "Device enrollment"

static const char *const default_attributes[] = {
    "UDID", "VERSION", "PRODUCT", "SERIAL", "MEID", "IMEI", NULL
};

static const char *const default_capabilities[] = {
    "AES", "POSTPKIOperation", "SHA-256", "SHA-512", "Renewal",
    "SCEPStandard", NULL
};

static apr_array_header_t *config_sections;
static int reading_config;

/* OTAEnrollRetention: server-wide (the purge runs with the main
 * server's database), read again at every restart. */
static int retention_days;

void ota_config_sections_reset(apr_pool_t *pconf)
{
    config_sections = apr_array_make(pconf, 16, sizeof(ota_conf *));
    reading_config = 1;
    retention_days = UNSET;
}

const apr_array_header_t *ota_config_sections(void)
{
    return config_sections;
}

/* The settings merged one by one, the innermost section's value winning
 * where it set one: integers (UNSET until set) and pointers (NULL). What
 * travels together is merged by ota_merge_dir_conf itself. */
typedef struct merged_field {
    apr_size_t offset;
    int is_int;
} merged_field;

#define MERGE_PTR(field) { APR_OFFSETOF(ota_conf, field), 0 }
#define MERGE_INT(field) { APR_OFFSETOF(ota_conf, field), 1 }

static const merged_field merged_fields[] = {
    MERGE_PTR(organization), MERGE_PTR(identifier),
    MERGE_PTR(display_name), MERGE_PTR(description),
    /* phase 1 */
    MERGE_PTR(url), MERGE_PTR(attributes), MERGE_INT(challenge_lifetime),
    /* phase 2 */
    MERGE_PTR(device_ca_file), MERGE_PTR(device_trust), MERGE_INT(max_body),
    MERGE_PTR(scep_url), MERGE_PTR(scep_name),
    MERGE_PTR(scep_subject_text), MERGE_PTR(scep_subject),
    MERGE_PTR(scep_san), MERGE_INT(scep_dynamic), MERGE_INT(scep_key_size),
    MERGE_INT(scep_key_usage), MERGE_INT(scep_retries),
    MERGE_INT(scep_retry_delay), MERGE_PTR(scep_ca_fingerprint),
    MERGE_PTR(scep_ca_certs),
    /* the built-in CA and the front */
    MERGE_INT(cert_lifetime), MERGE_PTR(scep_caps), MERGE_INT(scep_front),
    /* revocation, approval, every handler */
    MERGE_PTR(crl_url), MERGE_PTR(ocsp_url), MERGE_INT(crl_lifetime),
    MERGE_INT(supersede), MERGE_INT(scep_approval),
    MERGE_INT(pending_lifetime), MERGE_INT(body_timeout),
    MERGE_INT(anonymous),
    /* phase 3 */
    MERGE_PTR(issuer_trust), MERGE_PTR(final_profile),
    MERGE_PTR(profile_cipher), MERGE_INT(enrollment_window)
};

#define MERGED_FIELDS (sizeof(merged_fields) / sizeof(merged_fields[0]))

void *ota_create_dir_conf(apr_pool_t *p, char *dir)
{
    ota_conf *c = apr_pcalloc(p, sizeof(*c));

    for (apr_size_t i = 0; i < MERGED_FIELDS; i++) {
        if (merged_fields[i].is_int) {
            *(int *)((char *)c + merged_fields[i].offset) = UNSET;
        }
    }
    if (reading_config && config_sections) {
        APR_ARRAY_PUSH(config_sections, ota_conf *) = c;
    }
    return c;
}

/* One merged field. Pointers of every type are read and copied as the
 * bytes of a void *. */
static void merge_field(ota_conf *c, const ota_conf *base,
                        const ota_conf *add, const merged_field *f)
{
    const char *from = (const char *)add + f->offset;
    void *pointer;
    int set;

    if (f->is_int) {
        set = *(const int *)from != UNSET;
    }
    else {
        memcpy(&pointer, from, sizeof(pointer));
        set = pointer != NULL;
    }
    if (!set) {
        from = (const char *)base + f->offset;
    }
    memcpy((char *)c + f->offset, from,
           f->is_int ? sizeof(int) : sizeof(pointer));
}

void *ota_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ota_conf *base = basev, *add = addv;
    ota_conf *c = apr_pcalloc(p, sizeof(*c));
    const ota_conf *signer = add->signing_cert_file || add->signing_key_file
                             ? add : base;
    const ota_conf *ca = add->ca_cert_file || add->ca_key_file ? add : base;
    const ota_conf *ocsp = add->ocsp_cert_file || add->ocsp_key_file
                           ? add : base;

    for (apr_size_t i = 0; i < MERGED_FIELDS; i++) {
        merge_field(c, base, add, &merged_fields[i]);
    }
    c->signing_cert_file = signer->signing_cert_file;
    c->signing_key_file = signer->signing_key_file;
    c->identity = signer->identity;
    c->scep_challenge = add->scep_dynamic != UNSET ? add->scep_challenge
                                                   : base->scep_challenge;
    c->ca_cert_file = ca->ca_cert_file;
    c->ca_key_file = ca->ca_key_file;
    c->ca = ca->ca;
    c->ca_trust = ca->ca_trust;
    c->ocsp_cert_file = ocsp->ocsp_cert_file;
    c->ocsp_key_file = ocsp->ocsp_key_file;
    c->ocsp_identity = ocsp->ocsp_identity;
    c->caps = add->caps != OTA_CAPS_UNSET ? add->caps : base->caps;
    c->caps_list = add->caps != OTA_CAPS_UNSET ? add->caps_list
                                               : base->caps_list;
    return c;
}

/* ---- directives: each setter validates and names itself on error ---- */

static const char *directive_error(cmd_parms *cmd, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
}

/* File arguments are resolved against ServerRoot and loaded at once. */
static const char *file_error(cmd_parms *cmd, const char *why)
{
    return directive_error(cmd, why ? why : "bad path");
}

static const char *certs_arg(cmd_parms *cmd, const char *arg,
                             const char **file, STACK_OF(X509) **certs)
{
    const char *why = NULL;

    *file = ap_server_root_relative(cmd->pool, arg);
    if (!*file || ota_certs_load(certs, *file, &why, cmd->pool)) {
        return file_error(cmd, why);
    }
    return NULL;
}

static const char *key_arg(cmd_parms *cmd, const char *arg,
                           const char **file)
{
    const char *why = NULL;
    EVP_PKEY *key;

    *file = ap_server_root_relative(cmd->pool, arg);
    if (!*file || ota_key_load(&key, *file, &why, cmd->pool)) {
        return file_error(cmd, why);
    }
    return NULL;
}

static const char *trust_arg(cmd_parms *cmd, const char *arg,
                             ota_trust_kind kind, ota_trust **trust,
                             const char **file)
{
    const char *why = NULL;

    *file = ap_server_root_relative(cmd->pool, arg);
    if (!*file || ota_trust_load(trust, *file, kind, &why, cmd->pool)) {
        return file_error(cmd, why);
    }
    return NULL;
}

/* The field of the section dc at offset (cmd->info of the directives
 * that set one field). */
static void *conf_field(void *dc, apr_size_t offset)
{
    return (char *)dc + offset;
}

/* Loads a pair of certificate and key files into *loaded. */
typedef apr_status_t (*pair_load)(void *loaded, ota_conf *c,
                                  const char *cert, const char *key,
                                  const char **why, apr_pool_t *p);

static apr_status_t identity_load(void *loaded, ota_conf *c,
                                  const char *cert, const char *key,
                                  const char **why, apr_pool_t *p)
{
    return ota_identity_load(loaded, cert, key, why, p);
}

/* The built-in CA, and the strict store of its chain. */
static apr_status_t ca_load(void *loaded, ota_conf *c, const char *cert,
                            const char *key, const char **why, apr_pool_t *p)
{
    apr_status_t rv = ota_ca_load(loaded, cert, key, why, p);

    return rv ? rv : ota_trust_load(&c->ca_trust, cert, OTA_TRUST_STRICT,
                                    why, p);
}

/* The certificates and keys that come in pairs (the signing identity,
 * the built-in CA, the delegated OCSP responder), their directives in
 * either order: the one that completes the pair loads it. cmd->info
 * says where the files go and what they load. */
typedef struct file_pair {
    apr_size_t cert;
    apr_size_t key;
    apr_size_t loaded;
    pair_load load;
} file_pair;

#define FILE_PAIR(cert, key, loaded, load) {                            \
    APR_OFFSETOF(ota_conf, cert), APR_OFFSETOF(ota_conf, key),          \
    APR_OFFSETOF(ota_conf, loaded), load }

static const file_pair signing_pair = FILE_PAIR(
    signing_cert_file, signing_key_file, identity, identity_load);
static const file_pair ca_pair = FILE_PAIR(
    ca_cert_file, ca_key_file, ca, ca_load);
static const file_pair ocsp_pair = FILE_PAIR(
    ocsp_cert_file, ocsp_key_file, ocsp_identity, identity_load);

static const char *pair_complete(cmd_parms *cmd, void *dc,
                                 const file_pair *pair)
{
    const char *cert = *(const char **)conf_field(dc, pair->cert);
    const char *key = *(const char **)conf_field(dc, pair->key);
    const char *why = NULL;

    if (cert && key && pair->load(conf_field(dc, pair->loaded), dc, cert,
                                  key, &why, cmd->pool)) {
        return directive_error(cmd, why);
    }
    return NULL;
}

static const char *set_pair_cert(cmd_parms *cmd, void *dc, const char *arg)
{
    const file_pair *pair = cmd->info;
    STACK_OF(X509) *certs;
    const char *err = certs_arg(cmd, arg, conf_field(dc, pair->cert),
                                &certs);

    return err ? err : pair_complete(cmd, dc, pair);
}

static const char *set_pair_key(cmd_parms *cmd, void *dc, const char *arg)
{
    const file_pair *pair = cmd->info;
    const char *err = key_arg(cmd, arg, conf_field(dc, pair->key));

    return err ? err : pair_complete(cmd, dc, pair);
}

static const char *set_device_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;

    return trust_arg(cmd, arg, OTA_TRUST_APPLE_DEVICE, &c->device_trust,
                     &c->device_ca_file);
}

static const char *set_issuer_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file;

    return trust_arg(cmd, arg, OTA_TRUST_STRICT, &c->issuer_trust, &file);
}

static const char *set_scep_ca_certificate(cmd_parms *cmd, void *dc,
                                           const char *arg)
{
    ota_conf *c = dc;
    const char *file, *err;
    STACK_OF(X509) *certs;

    if ((err = certs_arg(cmd, arg, &file, &certs)) != NULL) {
        return err;
    }
    c->scep_ca_certs = certs;
    c->scep_ca_fingerprint = apr_palloc(cmd->pool, 20);
    if (ota_cert_sha1(c->scep_ca_fingerprint, sk_X509_value(certs, 0))) {
        return directive_error(cmd, "cannot fingerprint the certificate");
    }
    return NULL;
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;

    if (!file || ota_final_load(&c->final_profile, file, &why, cmd->pool)) {
        return file_error(cmd, why);
    }
    return NULL;
}

static const char *set_profile_cipher(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    ota_conf *c = dc;

    if (!(c->profile_cipher = ota_final_cipher(arg))) {
        return directive_error(cmd, "expects aes-256-cbc, aes-128-cbc or "
                               "des-ede3-cbc (for older devices)");
    }
    return NULL;
}

/* Capabilities the built-in CA may announce. DES3 and SHA-1 exist for old
 * devices only (a startup warning says so); single DES and MD5 never. */
/* RFC 8894's capabilities, and GETPKIOperation, which the iOS 4 story's
 * CA answered (seed: the GetCACaps written into the payload). */
static const char *const known_capabilities[] = {
    "AES", "DES3", "GetNextCACert", "POSTPKIOperation", "Renewal",
    "SHA-1", "SHA-256", "SHA-512", "SCEPStandard", "GETPKIOperation", NULL
};

static const char *capability_refused(cmd_parms *cmd, const char *arg)
{
    const char *const *k;

    for (k = known_capabilities; *k && strcmp(*k, arg); k++) {
        continue;
    }
    return *k ? NULL
           : directive_error(cmd, apr_psprintf(cmd->pool,
                             "'%s' is not a SCEP capability; known: AES DES3 "
                             "GetNextCACert POSTPKIOperation Renewal SHA-1 "
                             "SHA-256 SHA-512 SCEPStandard GETPKIOperation",
                             arg));
}

/* Inside <If>, <ElseIf> or <Else>: settings confined to some requests. */
static int in_if_section(cmd_parms *cmd)
{
    const ap_directive_t *d;

    for (d = cmd->directive ? cmd->directive->parent : NULL; d;
         d = d->parent) {
        if (!strcasecmp(d->directive, "<If") || !strcasecmp(d->directive,
                                                             "<ElseIf")
            || !strcasecmp(d->directive, "<Else")) {
            return 1;
        }
    }
    return 0;
}

static const char *set_scep_capabilities(cmd_parms *cmd, void *dc,
                                         const char *arg)
{
    ota_conf *c = dc;
    const char *err = capability_refused(cmd, arg);

    if (err) {
        return err;
    }
    c->scep_caps_confined = in_if_section(cmd);
    if (!c->scep_caps) {
        c->scep_caps = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->scep_caps, const char *) = arg;
    return NULL;
}

static const char *url_check(cmd_parms *cmd, const char *arg, int path_ok)
{
    apr_uri_t uri;

    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS
        || (!uri.scheme && !(path_ok && arg[0] == '/'))
        || (uri.scheme && strcasecmp(uri.scheme, "https")
            && strcasecmp(uri.scheme, "http"))
        || (uri.scheme && !uri.hostname)) {
        return directive_error(cmd, path_ok
                               ? "expects an http(s) URL or a path "
                                 "starting with /"
                               : "expects an absolute http(s) URL");
    }
    return NULL;
}

static const char *set_url(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *err = url_check(cmd, arg, 1);

    c->url = err ? c->url : arg;
    return err;
}

static const char *set_scep_url(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *err = url_check(cmd, arg, 0);

    c->scep_url = err ? c->scep_url : arg;
    return err;
}

/* OTAEnrollCRLURL, OTAEnrollOCSPURL: absolute URLs written into every
 * certificate; cmd->info is the field. */
static const char *set_abs_url(cmd_parms *cmd, void *dc, const char *arg)
{
    const char **slot = conf_field(dc, (apr_size_t)cmd->info);
    const char *err = url_check(cmd, arg, 0);

    if (!err && strchr(arg, ',')) {
        err = directive_error(cmd, "a URL written into certificates may "
                              "not contain a comma");
    }
    *slot = err ? *slot : arg;
    return err;
}

/* On/Off directives: cmd->info is the field. */
static const char *set_flag(cmd_parms *cmd, void *dc, int on)
{
    *(int *)conf_field(dc, (apr_size_t)cmd->info) = on;
    return NULL;
}

static const char *set_text(cmd_parms *cmd, void *dc, const char *arg)
{
    const char **slot = conf_field(dc, (apr_size_t)cmd->info);

    if (!*arg || strlen(arg) > 256) {
        return directive_error(cmd, "expects 1 to 256 characters");
    }
    for (const char *s = arg; *s; s++) {
        if ((unsigned char)*s < 0x20) {
            return directive_error(cmd, "control characters not allowed");
        }
    }
    *slot = arg;
    return NULL;
}

static const char *set_identifier(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;

    if (!*arg || strlen(arg) > 128 || arg[0] == '.'
        || arg[strlen(arg) - 1] == '.' || strstr(arg, "..")
        || strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-") != strlen(arg)) {
        return directive_error(cmd, "expects a reverse-DNS identifier such "
                               "as com.example.ota");
    }
    c->identifier = arg;
    return NULL;
}

/* Integer directives: cmd->info points at a range description. */
typedef struct int_range {
    apr_size_t offset;
    long min;
    long max;
} int_range;

static const int_range lifetime_range = {
    APR_OFFSETOF(ota_conf, challenge_lifetime), 30, 86400 };
static const int_range body_range = {
    APR_OFFSETOF(ota_conf, max_body), 1024, MAX_BODY_CEILING };
static const int_range usage_range = {
    APR_OFFSETOF(ota_conf, scep_key_usage), 0, 5 };
static const int_range retries_range = {
    APR_OFFSETOF(ota_conf, scep_retries), 0, 10000 };
static const int_range cert_lifetime_range = {
    APR_OFFSETOF(ota_conf, cert_lifetime), 1, 3650 };
static const int_range window_range = {
    APR_OFFSETOF(ota_conf, enrollment_window), 60, 7 * 86400 };
static const int_range delay_range = {
    APR_OFFSETOF(ota_conf, scep_retry_delay), 0, 86400 };
static const int_range crl_lifetime_range = {
    APR_OFFSETOF(ota_conf, crl_lifetime), 300, 30 * 86400 };
static const int_range body_timeout_range = {
    APR_OFFSETOF(ota_conf, body_timeout), 1, 300 };
static const int_range pending_lifetime_range = {
    APR_OFFSETOF(ota_conf, pending_lifetime), 10, 30 * 86400 };

static const char *set_int(cmd_parms *cmd, void *dc, const char *arg)
{
    const int_range *range = cmd->info;
    char *end = NULL;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < range->min || v > range->max) {
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "expects a number from %ld to %ld",
                               range->min, range->max));
    }
    *(int *)conf_field(dc, range->offset) = (int)v;
    return NULL;
}

static const char *set_key_size(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;

    if (strcmp(arg, "1024") && strcmp(arg, "2048") && strcmp(arg, "4096")) {
        return directive_error(cmd, "expects 1024, 2048 or 4096 (Apple's "
                               "allowed key sizes)");
    }
    c->scep_key_size = atoi(arg);
    return NULL;
}

static const char *set_attributes(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;

    if (!ota_profile_attribute_known(arg)) {
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "unknown device attribute '%s'; known: UDID "
                               "VERSION PRODUCT SERIAL MEID IMEI ICCID "
                               "MAC_ADDRESS_EN0 DEVICE_NAME", arg));
    }
    if (!c->attributes) {
        c->attributes = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->attributes, const char *) = arg;
    return NULL;
}

static const char *set_subject(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *why = NULL;

    if (ota_subject_parse(&c->scep_subject, arg, &why, cmd->pool)) {
        return directive_error(cmd, why);
    }
    c->scep_subject_text = arg;
    return NULL;
}

static const char *set_subject_alt_name(cmd_parms *cmd, void *dc,
                                        const char *arg)
{
    ota_conf *c = dc;
    const char *why = NULL;

    if (!c->scep_san) {
        c->scep_san = apr_array_make(cmd->pool, 2, sizeof(ota_subject_rdn));
    }
    if (strcasecmp(arg, "none") == 0) {
        return NULL;
    }
    if (ota_san_template_add(c->scep_san, arg, &why, cmd->pool)) {
        return directive_error(cmd, why);
    }
    return NULL;
}

static const char *set_scep_challenge(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    ota_conf *c = dc;

    if (strcasecmp(arg, "dynamic") == 0) {
        c->scep_dynamic = 1;
        c->scep_challenge = NULL;
        return NULL;
    }
    if (!*arg || strlen(arg) > 255) {
        return directive_error(cmd, "expects 'dynamic' or a secret of 1 to "
                               "255 characters");
    }
    c->scep_dynamic = 0;
    c->scep_challenge = arg;
    return NULL;
}

static const char *set_scep_approval(cmd_parms *cmd, void *dc,
                                     const char *arg)
{
    ota_conf *c = dc;

    if (strcasecmp(arg, "auto") && strcasecmp(arg, "manual")) {
        return directive_error(cmd, "expects auto (issue at once) or manual "
                               "(hold every request for an administrator)");
    }
    c->scep_approval = !strcasecmp(arg, "manual");
    return NULL;
}

static const char *set_getcacaps(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *err;

    if (!strcasecmp(arg, "auto") || !strcasecmp(arg, "off")) {
        if (c->caps != OTA_CAPS_UNSET) {
            return directive_error(cmd, "'auto' and 'off' stand alone");
        }
        c->caps = strcasecmp(arg, "auto") ? OTA_CAPS_OFF : OTA_CAPS_AUTO;
        return NULL;
    }
    if (c->caps == OTA_CAPS_AUTO || c->caps == OTA_CAPS_OFF) {
        return directive_error(cmd, "'auto' and 'off' stand alone");
    }
    if (!ota_scep_capability_valid(arg)) {
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "'%s' is not a capability name", arg));
    }
    if ((err = capability_refused(cmd, arg))) {
        return err;
    }
    if (!c->caps_list) {
        c->caps_list = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    c->caps = OTA_CAPS_LIST;
    APR_ARRAY_PUSH(c->caps_list, const char *) = arg;
    return NULL;
}

static const char *set_retention(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end = NULL;
    long v = strtol(arg, &end, 10);

    if (err) {
        return err;
    }
    if (!*arg || *end || v < 0 || v > MAX_RETENTION) {
        return directive_error(cmd, apr_psprintf(cmd->pool, "expects a "
                               "number of days from 0 to %d", MAX_RETENTION));
    }
    retention_days = (int)v;
    return NULL;
}

#define CONF_OFFSET(f) (void *)APR_OFFSETOF(ota_conf, f)
#define WHERE (RSRC_CONF | ACCESS_CONF)

const command_rec ota_cmds[] = {
    AP_INIT_TAKE1("OTAEnrollSigningCertificate", set_pair_cert,
                  (void *)&signing_pair, WHERE, "PEM file: the "
                  "certificate that signs profiles, followed by its chain"),
    AP_INIT_TAKE1("OTAEnrollSigningKey", set_pair_key, (void *)&signing_pair,
                  WHERE, "PEM file: the signing certificate's private key"),
    AP_INIT_TAKE1("OTAEnrollOrganization", set_text,
                  CONF_OFFSET(organization), WHERE,
                  "organization shown on the profiles"),
    AP_INIT_TAKE1("OTAEnrollIdentifier", set_identifier, NULL, WHERE,
                  "reverse-DNS prefix of the profile identifiers"),
    AP_INIT_TAKE1("OTAEnrollDisplayName", set_text,
                  CONF_OFFSET(display_name), WHERE,
                  "name of the profiles as the device shows it"),
    AP_INIT_TAKE1("OTAEnrollDescription", set_text,
                  CONF_OFFSET(description), WHERE,
                  "description of the profiles as the device shows it"),
    AP_INIT_TAKE1("OTAEnrollURL", set_url, NULL, WHERE,
                  "where devices post their attributes (an ota-enroll "
                  "location); a path is taken relative to this server"),
    AP_INIT_ITERATE("OTAEnrollDeviceAttributes", set_attributes, NULL, WHERE,
                    "device attributes to ask for in phase 1"),
    AP_INIT_TAKE1("OTAEnrollChallengeLifetime", set_int,
                  (void *)&lifetime_range, WHERE,
                  "seconds an enrollment challenge stays valid"),
    AP_INIT_TAKE1("OTAEnrollDeviceCA", set_device_ca, NULL, WHERE,
                  "PEM file: the device CA chain (root included) that "
                  "phase-2 signers must chain through"),
    AP_INIT_TAKE1("OTAEnrollMaxBodySize", set_int, (void *)&body_range,
                  WHERE, "largest request body accepted, in bytes"),
    AP_INIT_TAKE1("OTAEnrollSCEPURL", set_scep_url, NULL, WHERE,
                  "the SCEP URL devices enroll at"),
    AP_INIT_TAKE1("OTAEnrollSCEPName", set_text, CONF_OFFSET(scep_name),
                  WHERE, "the CA name sent in SCEP requests"),
    AP_INIT_TAKE1("OTAEnrollSCEPSubject", set_subject, NULL, WHERE,
                  "subject template, e.g. O=Example/CN=%{UDID}"),
    AP_INIT_ITERATE("OTAEnrollSCEPSubjectAltName", set_subject_alt_name,
                    NULL, WHERE, "subjectAltName templates, KIND=VALUE "
                    "(rfc822Name, dNSName, uniformResourceIdentifier, "
                    "ntPrincipalName), or none"),
    AP_INIT_TAKE1("OTAEnrollSCEPChallenge", set_scep_challenge, NULL, WHERE,
                  "the SCEP challenge password devices send to the CA"),
    AP_INIT_TAKE1("OTAEnrollSCEPKeySize", set_key_size, NULL, WHERE,
                  "RSA key size devices generate: 1024, 2048 or 4096"),
    AP_INIT_TAKE1("OTAEnrollSCEPKeyUsage", set_int, (void *)&usage_range,
                  WHERE, "key usage bitmask: 1 signing, 4 encryption, 5 both"),
    AP_INIT_TAKE1("OTAEnrollSCEPRetries", set_int, (void *)&retries_range,
                  WHERE, "how often a device retries a PENDING answer"),
    AP_INIT_TAKE1("OTAEnrollSCEPRetryDelay", set_int, (void *)&delay_range,
                  WHERE, "seconds between those retries"),
    AP_INIT_TAKE1("OTAEnrollSCEPCACertificate", set_scep_ca_certificate,
                  NULL, WHERE, "PEM file: the SCEP CA's certificate, "
                  "written into the payload as CAFingerprint"),
    AP_INIT_ITERATE("OTAEnrollGetCACaps", set_getcacaps, NULL, WHERE,
                    "auto (ask the CA), off, or the capabilities to write "
                    "into the SCEP payload"),
    AP_INIT_TAKE1("OTAEnrollCACertificate", set_pair_cert,
                  (void *)&ca_pair, WHERE, "PEM file: the built-in "
                  "CA's certificate, then its issuers"),
    AP_INIT_TAKE1("OTAEnrollCAKey", set_pair_key, (void *)&ca_pair, WHERE,
                  "PEM file: the built-in CA's private key"),
    AP_INIT_TAKE1("OTAEnrollCertificateLifetime", set_int,
                  (void *)&cert_lifetime_range, WHERE,
                  "days a certificate from the built-in CA is valid"),
    AP_INIT_ITERATE("OTAEnrollSCEPCapabilities", set_scep_capabilities, NULL,
                    WHERE, "what GetCACaps answers (built-in CA or front)"),
    AP_INIT_FLAG("OTAEnrollSCEPFront", set_flag, CONF_OFFSET(scep_front),
                 WHERE, "On: answer GetCACaps (and GetCACert) here, pass "
                 "the rest of SCEP to mod_proxy"),
    AP_INIT_TAKE1("OTAEnrollIssuerCA", set_issuer_ca, NULL, WHERE,
                  "PEM file: the CA that issues device identities (phase 3 "
                  "signers); default: the built-in CA"),
    AP_INIT_TAKE1("OTAEnrollProfile", set_profile, NULL, WHERE,
                  "XML plist file: the final payloads, a Configuration "
                  "profile or an array of payloads"),
    AP_INIT_TAKE1("OTAEnrollProfileCipher", set_profile_cipher, NULL, WHERE,
                  "cipher of the final profile: aes-256-cbc (default), "
                  "aes-128-cbc or des-ede3-cbc"),
    AP_INIT_TAKE1("OTAEnrollEnrollmentWindow", set_int, (void *)&window_range,
                  WHERE, "seconds after phase 2 in which phase 3 is "
                  "accepted"),
    AP_INIT_TAKE1("OTAEnrollCRLURL", set_abs_url,
                  CONF_OFFSET(crl_url), WHERE,
                  "the CRL's URL, written into every certificate the "
                  "built-in CA issues"),
    AP_INIT_TAKE1("OTAEnrollOCSPURL", set_abs_url,
                  CONF_OFFSET(ocsp_url), WHERE,
                  "the OCSP responder's URL, written into every certificate "
                  "the built-in CA issues"),
    AP_INIT_TAKE1("OTAEnrollCRLLifetime", set_int,
                  (void *)&crl_lifetime_range, WHERE,
                  "seconds from a CRL's thisUpdate to its nextUpdate"),
    AP_INIT_TAKE1("OTAEnrollOCSPSigningCertificate", set_pair_cert,
                  (void *)&ocsp_pair, WHERE,
                  "PEM file: a delegated OCSP responder certificate "
                  "(id-kp-OCSPSigning, issued by the built-in CA)"),
    AP_INIT_TAKE1("OTAEnrollOCSPSigningKey", set_pair_key, (void *)&ocsp_pair,
                  WHERE, "PEM file: the delegated OCSP responder's private "
                  "key"),
    AP_INIT_FLAG("OTAEnrollSupersede", set_flag,
                 CONF_OFFSET(supersede), WHERE,
                 "On (default): a device's older certificates are revoked "
                 "as superseded when the built-in CA issues it a new one"),
    AP_INIT_TAKE1("OTAEnrollSCEPApproval", set_scep_approval, NULL, WHERE,
                  "auto, or manual: the built-in CA answers PENDING until "
                  "an administrator approves or rejects the request"),
    AP_INIT_TAKE1("OTAEnrollPendingLifetime", set_int,
                  (void *)&pending_lifetime_range, WHERE,
                  "seconds a request held for approval waits for a "
                  "decision"),
    AP_INIT_TAKE1("OTAEnrollBodyTimeout", set_int,
                  (void *)&body_timeout_range, WHERE,
                  "seconds a request body may take to arrive (408 after)"),
    AP_INIT_FLAG("OTAEnrollAnonymous", set_flag,
                 CONF_OFFSET(anonymous), WHERE,
                 "On: serve phase 1 without an authenticated user (anyone "
                 "who reaches the URL may enroll a device)"),
    AP_INIT_TAKE1("OTAEnrollRetention", set_retention, NULL, RSRC_CONF,
                  "days used and expired challenges are kept after they "
                  "expired (server-wide; 0: deleted at the next pass)"),
    {NULL}
};

/* ---- startup: every section checked, the defaults built once ---- */

/* Capabilities only old devices need: allowed, but said at startup (a
 * front only describes another CA). */
static void warn_weak_capabilities(server_rec *s, const ota_conf *c)
{
    for (int i = 0; !ota_cfg_scep_front(c) && !c->scep_caps_confined
                    && c->scep_caps && i < c->scep_caps->nelts; i++) {
        const char *cap = APR_ARRAY_IDX(c->scep_caps, i, const char *);

        if (!strcmp(cap, "DES3") || !strcmp(cap, "SHA-1")) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "OTA00075: "
                         "OTAEnrollSCEPCapabilities %s: the built-in CA "
                         "accepts this legacy algorithm where it is "
                         "configured; confine it (e.g. with <If>) to the "
                         "devices that need it", cap);
        }
    }
}

/* The pairs of certificate and key are checked by check_config
 * (mod_ota_enroll_check.c), for apache2 -t too; here, what is only said. */
static int check_sections(server_rec *s)
{
    for (int i = 0; i < config_sections->nelts; i++) {
        warn_weak_capabilities(s, APR_ARRAY_IDX(config_sections, i,
                                                ota_conf *));
    }
    return OK;
}

/* What the accessors hand out for settings left unset: built by
 * post_config in the configuration pool, read-only in the children. */
static struct {
    apr_array_header_t *attributes;
    apr_array_header_t *scep_caps;
    apr_array_header_t *caps_fallback;
    apr_array_header_t *subject;
    ota_trust *device_trust;
} defaults;

static apr_array_header_t *list_of(const char *const *names, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));

    for (; *names; names++) {
        APR_ARRAY_PUSH(a, const char *) = *names;
    }
    return a;
}

static void defaults_build(apr_pool_t *pconf)
{
    const char *why = NULL;

    defaults.attributes = list_of(default_attributes, pconf);
    defaults.scep_caps = list_of(default_capabilities, pconf);
    defaults.caps_fallback = ota_getcacaps_fallback(pconf);
    defaults.subject = NULL;
    ota_subject_parse(&defaults.subject, DEFAULT_SUBJECT, &why, pconf);
    /* The Apple device store installed with the module: only an error when
     * a location that needs it has no OTAEnrollDeviceCA (logged then). */
    defaults.device_trust = NULL;
    if (ota_trust_load(&defaults.device_trust, OTA_DEVICE_CA_DEFAULT,
                       OTA_TRUST_APPLE_DEVICE, &why, pconf)) {
        defaults.device_trust = NULL;
    }
}

int ota_config_post_config(apr_pool_t *pconf, server_rec *s)
{
    int rv;

    reading_config = 0;
    if ((rv = check_sections(s)) != OK) {
        return rv;
    }
    defaults_build(pconf);
    return OK;
}

/* ---- accessors ---- */

#define OR_DEFAULT(value, dflt) ((value) != UNSET ? (value) : (dflt))

ota_conf *ota_conf_of(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &ota_enroll_module);
}

/* The server name reversed (www.example.com -> com.example.www.ota). */
static const char *default_identifier(server_rec *s, apr_pool_t *p)
{
    const char *host = s->server_hostname ? s->server_hostname
                                          : "localhost";
    char *copy = apr_pstrdup(p, host), *state = NULL, *label;
    const char *out = "ota";

    if (strspn(host, "0123456789.:[]") == strlen(host)) {
        return "local.ota";          /* an address has no domain to reverse */
    }
    for (label = apr_strtok(copy, ".", &state); label;
         label = apr_strtok(NULL, ".", &state)) {
        out = apr_pstrcat(p, label, ".", out, NULL);
    }
    return out;
}

void ota_cfg_profile_meta(ota_profile_meta *meta, const ota_conf *c,
                          server_rec *s, apr_pool_t *p)
{
    meta->identifier = c->identifier ? c->identifier
                                     : default_identifier(s, p);
    meta->organization = c->organization ? c->organization
                                         : s->server_hostname;
    meta->display_name = c->display_name ? c->display_name
                                         : DEFAULT_DISPLAY_NAME;
    meta->description = c->description;
}

const apr_array_header_t *ota_cfg_device_attributes(const ota_conf *c)
{
    return c->attributes ? c->attributes : defaults.attributes;
}

int ota_cfg_challenge_lifetime(const ota_conf *c)
{
    return OR_DEFAULT(c->challenge_lifetime, DEFAULT_CHALLENGE_LIFETIME);
}

apr_size_t ota_cfg_max_body(const ota_conf *c)
{
    return (apr_size_t)OR_DEFAULT(c->max_body, DEFAULT_MAX_BODY);
}

const ota_trust *ota_cfg_device_trust(const ota_conf *c)
{
    return c->device_trust ? c->device_trust : defaults.device_trust;
}

const apr_array_header_t *ota_cfg_scep_subject(const ota_conf *c)
{
    return c->scep_subject ? c->scep_subject : defaults.subject;
}

int ota_cfg_key_size(const ota_conf *c)
{
    return OR_DEFAULT(c->scep_key_size, DEFAULT_KEY_SIZE);
}

int ota_cfg_key_usage(const ota_conf *c)
{
    return OR_DEFAULT(c->scep_key_usage, DEFAULT_KEY_USAGE);
}

/* Held requests wait for a person: the device polls every RetryDelay
 * until the request expires, instead of giving up after 3 tries. */
int ota_cfg_retry_delay(const ota_conf *c, const ota_conf *ca)
{
    int held = ca && ota_cfg_scep_manual(ca);

    return OR_DEFAULT(c->scep_retry_delay, held ? DEFAULT_MANUAL_RETRY_DELAY
                                                : DEFAULT_RETRY_DELAY);
}

int ota_cfg_retries(const ota_conf *c, const ota_conf *ca)
{
    int delay = ota_cfg_retry_delay(c, ca);

    if (c->scep_retries != UNSET || !ca || !ota_cfg_scep_manual(ca)) {
        return OR_DEFAULT(c->scep_retries, DEFAULT_RETRIES);
    }
    delay = delay > 0 ? delay : 1;
    return (ota_cfg_pending_lifetime(ca) + delay - 1) / delay + 1;
}

int ota_cfg_scep_dynamic(const ota_conf *c, const ota_conf *ca)
{
    if (c->scep_dynamic != UNSET) {
        return c->scep_dynamic;
    }
    return ca && ca->scep_dynamic != 0;
}

ota_caps_mode ota_cfg_getcacaps(const ota_conf *c,
                                const apr_array_header_t **list)
{
    *list = c->caps == OTA_CAPS_LIST ? c->caps_list : NULL;
    return c->caps == OTA_CAPS_UNSET ? OTA_CAPS_AUTO : c->caps;
}

const apr_array_header_t *ota_cfg_caps_fallback(void)
{
    return defaults.caps_fallback;
}

const apr_array_header_t *ota_cfg_scep_capabilities(const ota_conf *c)
{
    return c->scep_caps ? c->scep_caps : defaults.scep_caps;
}

int ota_cfg_cert_lifetime(const ota_conf *c)
{
    return OR_DEFAULT(c->cert_lifetime, DEFAULT_CERTIFICATE_LIFETIME);
}

int ota_cfg_scep_front(const ota_conf *c)
{
    return c->scep_front == 1;
}

const apr_array_header_t *ota_cfg_front_capabilities(const ota_conf *c)
{
    return c->scep_caps ? c->scep_caps : ota_cfg_caps_fallback();
}

int ota_cfg_enrollment_window(const ota_conf *c)
{
    return OR_DEFAULT(c->enrollment_window, DEFAULT_ENROLLMENT_WINDOW);
}

int ota_cfg_crl_lifetime(const ota_conf *c)
{
    return OR_DEFAULT(c->crl_lifetime, DEFAULT_CRL_LIFETIME);
}

int ota_cfg_supersede(const ota_conf *c)
{
    return OR_DEFAULT(c->supersede, 1);
}

int ota_cfg_scep_manual(const ota_conf *c)
{
    return c->scep_approval == 1;
}

int ota_cfg_pending_lifetime(const ota_conf *c)
{
    return OR_DEFAULT(c->pending_lifetime, DEFAULT_PENDING_LIFETIME);
}

apr_interval_time_t ota_cfg_body_timeout(const ota_conf *c)
{
    return apr_time_from_sec(OR_DEFAULT(c->body_timeout,
                                        DEFAULT_BODY_TIMEOUT));
}

int ota_cfg_anonymous(const ota_conf *c)
{
    return OR_DEFAULT(c->anonymous, 0);
}

apr_interval_time_t ota_cfg_retention(void)
{
    return apr_time_from_sec((apr_int64_t)OR_DEFAULT(retention_days,
                                                     DEFAULT_RETENTION)
                             * 86400);
}
