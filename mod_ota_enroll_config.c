/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* mod_ota_enroll's directives: each setter validates its argument, loads
 * files once (here, at configuration time, as root) and names itself in
 * any error, so `apache2 -t` reports exactly what is wrong. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"

#include "mod_ota_enroll.h"
#include "ota_profile.h"
#include "scep_payload.h"
#include "ota_final.h"

APLOG_USE_MODULE(ota_enroll);

static apr_array_header_t *config_sections;
static int reading_config;

void ota_config_sections_reset(apr_pool_t *pconf)
{
    config_sections = apr_array_make(pconf, 16, sizeof(ota_conf *));
    reading_config = 1;
}

const apr_array_header_t *ota_config_sections(void)
{
    return config_sections;
}

void ota_config_read_done(void)
{
    reading_config = 0;
}

void *ota_create_dir_conf(apr_pool_t *p, char *dir)
{
    ota_conf *c = apr_pcalloc(p, sizeof(*c));

    c->challenge_lifetime = UNSET;
    c->max_body = UNSET;
    c->scep_key_size = UNSET;
    c->scep_key_usage = UNSET;
    c->scep_retries = UNSET;
    c->scep_retry_delay = UNSET;
    c->scep_dynamic = UNSET;
    c->cert_lifetime = UNSET;
    c->scep_front = UNSET;
    c->enrollment_window = UNSET;
    if (reading_config && config_sections) {
        APR_ARRAY_PUSH(config_sections, ota_conf *) = c;
    }
    return c;
}

#define PICK(field) (add->field ? add->field : base->field)
#define PICK_INT(field) (add->field != UNSET ? add->field : base->field)

void *ota_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    ota_conf *base = basev, *add = addv;
    ota_conf *c = apr_pcalloc(p, sizeof(*c));
    const ota_conf *signer = add->signing_cert_file || add->signing_key_file
                             ? add : base;
    const ota_conf *ca;

    c->signing_cert_file = signer->signing_cert_file;
    c->signing_key_file = signer->signing_key_file;
    c->identity = signer->identity;
    c->organization = PICK(organization);
    c->identifier = PICK(identifier);
    c->display_name = PICK(display_name);
    c->description = PICK(description);
    c->url = PICK(url);
    c->attributes = PICK(attributes);
    c->challenge_lifetime = PICK_INT(challenge_lifetime);
    c->device_ca_file = PICK(device_ca_file);
    c->device_trust = PICK(device_trust);
    c->max_body = PICK_INT(max_body);
    c->scep_url = PICK(scep_url);
    c->scep_name = PICK(scep_name);
    c->scep_subject_text = PICK(scep_subject_text);
    c->scep_subject = PICK(scep_subject);
    c->scep_san = PICK(scep_san);
    c->scep_dynamic = PICK_INT(scep_dynamic);
    c->scep_challenge = add->scep_dynamic != UNSET ? add->scep_challenge
                                                   : base->scep_challenge;
    c->scep_key_size = PICK_INT(scep_key_size);
    c->scep_key_usage = PICK_INT(scep_key_usage);
    c->scep_retries = PICK_INT(scep_retries);
    c->scep_retry_delay = PICK_INT(scep_retry_delay);
    c->scep_ca_fingerprint = PICK(scep_ca_fingerprint);
    c->scep_ca_certs = PICK(scep_ca_certs);
    ca = add->ca_cert_file || add->ca_key_file ? add : base;
    c->ca_cert_file = ca->ca_cert_file;
    c->ca_key_file = ca->ca_key_file;
    c->ca = ca->ca;
    c->ca_trust = ca->ca_trust;
    c->cert_lifetime = PICK_INT(cert_lifetime);
    c->scep_caps = PICK(scep_caps);
    c->scep_front = PICK_INT(scep_front);
    c->issuer_trust = PICK(issuer_trust);
    c->final_profile = PICK(final_profile);
    c->profile_cipher = PICK(profile_cipher);
    c->enrollment_window = PICK_INT(enrollment_window);
    c->caps = add->caps != CAPS_UNSET ? add->caps : base->caps;
    c->caps_list = add->caps != CAPS_UNSET ? add->caps_list : base->caps_list;
    return c;
}

/* ---- directives: each setter validates and names itself on error ---- */

static const char *directive_error(cmd_parms *cmd, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
}

/* The certificate and key directives may come in either order: the one
 * that completes the pair loads and checks the identity. */
static const char *identity_complete(cmd_parms *cmd, ota_conf *c)
{
    const char *why = NULL;

    if (!c->signing_cert_file || !c->signing_key_file) {
        return NULL;
    }
    if (ota_identity_load(&c->identity, c->signing_cert_file,
                          c->signing_key_file, &why, cmd->pool)) {
        return directive_error(cmd, why);
    }
    return NULL;
}

/* The CA certificate and key may come in either order; the one that
 * completes the pair loads the CA. */
static const char *ca_complete(cmd_parms *cmd, ota_conf *c)
{
    const char *why = NULL;

    if (!c->ca_cert_file || !c->ca_key_file) {
        return NULL;
    }
    if (ota_ca_load(&c->ca, c->ca_cert_file, c->ca_key_file, &why,
                    cmd->pool)
        || ota_trust_load(&c->ca_trust, c->ca_cert_file, OTA_TRUST_STRICT,
                          &why, cmd->pool)) {
        return directive_error(cmd, why);
    }
    return NULL;
}

static const char *set_ca_certificate(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    ota_conf *c = dc;
    const char *why = NULL;
    STACK_OF(X509) *certs;

    c->ca_cert_file = ap_server_root_relative(cmd->pool, arg);
    if (!c->ca_cert_file
        || ota_certs_load(&certs, c->ca_cert_file, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    return ca_complete(cmd, c);
}

static const char *set_ca_key(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;
    EVP_PKEY *key;

    if (!file || ota_key_load(&key, file, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    c->ca_key_file = file;
    return ca_complete(cmd, c);
}

/* Capabilities the built-in CA may announce. DES3 and SHA-1 exist for old
 * devices only (a startup warning says so); single DES and MD5 never. */
static const char *const known_capabilities[] = {
    "AES", "DES3", "GetNextCACert", "POSTPKIOperation", "Renewal",
    "SHA-1", "SHA-256", "SHA-512", "SCEPStandard", NULL
};

static const char *set_scep_capabilities(cmd_parms *cmd, void *dc,
                                         const char *arg)
{
    ota_conf *c = dc;
    const char *const *k;

    for (k = known_capabilities; *k && strcmp(*k, arg); k++) {
        continue;
    }
    if (!*k) {
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "'%s' is not a capability the built-in CA "
                               "has; known: AES DES3 GetNextCACert "
                               "POSTPKIOperation Renewal SHA-1 SHA-256 "
                               "SHA-512 SCEPStandard", arg));
    }
    if (!c->scep_caps) {
        c->scep_caps = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->scep_caps, const char *) = arg;
    return NULL;
}

static const char *set_scep_front(cmd_parms *cmd, void *dc, int on)
{
    ((ota_conf *)dc)->scep_front = on;
    return NULL;
}

static const char *set_issuer_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;

    if (!file || ota_trust_load(&c->issuer_trust, file, OTA_TRUST_STRICT,
                                &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    return NULL;
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;

    if (!file || ota_final_load(&c->final_profile, file, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
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

/* Resolves a certificate file against ServerRoot and loads it. */
static const char *certs_arg(cmd_parms *cmd, const char *arg,
                             const char **file, STACK_OF(X509) **certs)
{
    const char *why = NULL;

    *file = ap_server_root_relative(cmd->pool, arg);
    if (!*file || ota_certs_load(certs, *file, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    return NULL;
}

static const char *set_signing_certificate(cmd_parms *cmd, void *dc,
                                           const char *arg)
{
    ota_conf *c = dc;
    STACK_OF(X509) *certs;
    const char *err = certs_arg(cmd, arg, &c->signing_cert_file, &certs);

    return err ? err : identity_complete(cmd, c);
}

static const char *set_signing_key(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;
    EVP_PKEY *key;

    if (!file || ota_key_load(&key, file, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    c->signing_key_file = file;
    return identity_complete(cmd, c);
}

static const char *set_device_ca(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;
    const char *file = ap_server_root_relative(cmd->pool, arg), *why = NULL;

    if (!file || ota_trust_load(&c->device_trust, file,
                                OTA_TRUST_APPLE_DEVICE, &why, cmd->pool)) {
        return directive_error(cmd, why ? why : "bad path");
    }
    c->device_ca_file = file;
    return NULL;
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

static const char *set_text(cmd_parms *cmd, void *dc, const char *arg)
{
    const char **slot = (const char **)((char *)dc + (apr_size_t)cmd->info);

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
    APR_OFFSETOF(ota_conf, scep_retries), 0, 100 };
static const int_range cert_lifetime_range = {
    APR_OFFSETOF(ota_conf, cert_lifetime), 1, 3650 };
static const int_range window_range = {
    APR_OFFSETOF(ota_conf, enrollment_window), 60, 7 * 86400 };
static const int_range delay_range = {
    APR_OFFSETOF(ota_conf, scep_retry_delay), 0, 86400 };

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
    *(int *)((char *)dc + range->offset) = (int)v;
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

static const char *set_getcacaps(cmd_parms *cmd, void *dc, const char *arg)
{
    ota_conf *c = dc;

    if (!strcasecmp(arg, "auto") || !strcasecmp(arg, "off")) {
        if (c->caps != CAPS_UNSET) {
            return directive_error(cmd, "'auto' and 'off' stand alone");
        }
        c->caps = strcasecmp(arg, "auto") ? CAPS_OFF : CAPS_AUTO;
        return NULL;
    }
    if (c->caps == CAPS_AUTO || c->caps == CAPS_OFF) {
        return directive_error(cmd, "'auto' and 'off' stand alone");
    }
    if (!ota_scep_capability_valid(arg)) {
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "'%s' is not a capability name", arg));
    }
    if (!c->caps_list) {
        c->caps_list = apr_array_make(cmd->pool, 8, sizeof(const char *));
    }
    c->caps = CAPS_LIST;
    APR_ARRAY_PUSH(c->caps_list, const char *) = arg;
    return NULL;
}

#define CONF_OFFSET(f) (void *)APR_OFFSETOF(ota_conf, f)
#define WHERE (RSRC_CONF | ACCESS_CONF)

const command_rec ota_cmds[] = {
    AP_INIT_TAKE1("OTAEnrollSigningCertificate", set_signing_certificate,
                  NULL, WHERE, "PEM file: the certificate that signs "
                  "profiles, followed by its chain"),
    AP_INIT_TAKE1("OTAEnrollSigningKey", set_signing_key, NULL, WHERE,
                  "PEM file: the signing certificate's private key"),
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
    AP_INIT_TAKE1("OTAEnrollCACertificate", set_ca_certificate, NULL,
                  WHERE, "PEM file: the built-in CA's certificate, then its "
                  "issuers"),
    AP_INIT_TAKE1("OTAEnrollCAKey", set_ca_key, NULL, WHERE,
                  "PEM file: the built-in CA's private key"),
    AP_INIT_TAKE1("OTAEnrollCertificateLifetime", set_int,
                  (void *)&cert_lifetime_range, WHERE,
                  "days a certificate from the built-in CA is valid"),
    AP_INIT_ITERATE("OTAEnrollSCEPCapabilities", set_scep_capabilities, NULL,
                    WHERE, "what GetCACaps answers (built-in CA or front)"),
    AP_INIT_FLAG("OTAEnrollSCEPFront", set_scep_front, NULL, WHERE,
                 "On: answer GetCACaps (and GetCACert) here, pass the rest "
                 "of SCEP to mod_proxy"),
    AP_INIT_TAKE1("OTAEnrollIssuerCA", set_issuer_ca, NULL, WHERE,
                  "PEM file: the CA that issues device identities (phase 3 "
                  "signers); default: the built-in CA"),
    AP_INIT_TAKE1("OTAEnrollProfile", set_profile, NULL, WHERE,
                  "XML plist file: the final payloads, a Configuration "
                  "profile or an array of payloads"),
    AP_INIT_TAKE1("OTAEnrollProfileCipher", set_profile_cipher, NULL, WHERE,
                  "cipher of the final profile: aes-256-cbc (default), "
                  "aes-128-cbc or des-ede3-cbc"),
    AP_INIT_TAKE1("OTAEnrollEnrollmentWindow", set_int,
                  (void *)&window_range, WHERE,
                  "seconds after phase 2 in which phase 3 is accepted"),
    {NULL}
};
