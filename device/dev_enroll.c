/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The enroll command: the device prepared, then phase 1, phase 2 and
 * SCEP (dev_phase2.c, dev_scep_client.c, dev_scep_enroll.c) and phase 3
 * (dev_phase3.c) in order. */
#include <stdio.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_tables.h>
#include <openssl/x509v3.h>

#include "dev.h"

/* ---- phase 1 ---- */

static int phase1_read(dev_ctx *ctx, plist_t root)
{
    plist_t content = plist_dict_get_item(root, "PayloadContent");
    const char *type = ota_plist_dict_get_string(root, "PayloadType",
                                                 ctx->p);
    const char *url;

    if (!type || strcmp(type, "Profile Service") != 0) {
        return cli_complain(EXIT_PHASE1, "phase 1: PayloadType is %s, not "
                            "Profile Service", type ? type : "missing");
    }
    if (!content || plist_get_node_type(content) != PLIST_DICT
        || !(url = ota_plist_dict_get_string(content, "URL", ctx->p))) {
        return cli_complain(EXIT_PHASE1, "phase 1: no PayloadContent.URL");
    }
    if (!(ctx->enroll_url = dev_url_resolve(ctx->url, url, ctx->p))) {
        return cli_complain(EXIT_PHASE1, "phase 1: bad URL %s", url);
    }
    ctx->challenge = ota_plist_dict_get_string(content, "Challenge", ctx->p);
    ctx->attributes = dev_string_array(plist_dict_get_item(content,
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
    printf("  DeviceAttributes: %s\n", dev_list_text(ctx->attributes, ctx->p));
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
    if ((rc = dev_profile_answer(&root, ctx, 1, dev_http_do(ctx, &rq))) != 0) {
        return rc;
    }
    return phase1_read(ctx, root);
}

/* ---- the command ---- */

/* What --phase3-only sends, phase 1 not having asked. */
static const char *const phase3_only_attributes[] = {
    "UDID", "VERSION", "PRODUCT", "SERIAL", "IMEI", "MEID", "DEVICE_NAME",
    NULL
};

/* The device's identity for phase 2 and, if given, the one for phase 3;
 * --phase3-only needs the latter only. */
static int enroll_identities(dev_ctx *ctx)
{
    const char *why = NULL;
    int rc;

    if (!ctx->p3_cert_file != !ctx->p3_key_file) {
        return cli_complain(EXIT_LOCAL, "--phase3-identity and --phase3-key "
                            "go together");
    }
    if (ctx->phase3_only && (!ctx->p3_cert_file || ctx->stop_after)) {
        return cli_complain(EXIT_LOCAL, "--phase3-only needs "
                            "--phase3-identity and --phase3-key, and no "
                            "--stop-after");
    }
    if (!ctx->phase3_only && (rc = dev_identity_load(ctx)) != 0) {
        return rc;
    }
    if (ctx->p3_cert_file
        && ota_identity_load(&ctx->p3_id, ctx->p3_cert_file,
                             ctx->p3_key_file, &why, ctx->p)
           != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "--phase3-identity: %s", why);
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

/* The device enroll and load play: --trust loaded, the emulated system's
 * PRODUCT and VERSION unless given, a SERIAL. */
int dev_device_setup(dev_ctx *ctx)
{
    const char *why = NULL;

    if (ctx->trust_file && ota_trust_load(&ctx->trust, ctx->trust_file,
                                          OTA_TRUST_STRICT, &why, ctx->p)
                           != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "--trust: %s", why);
    }
    if (ctx->trust) {
        /* devices accept any key usage on a profile signer (sites often
         * sign with their TLS certificate) */
        ota_trust_set_purpose(ctx->trust, X509_PURPOSE_ANY);
    }
    ctx->product = ctx->product ? ctx->product : ctx->os->product;
    ctx->version = ctx->version ? ctx->version : ctx->os->version;
    ctx->serial = ctx->serial ? ctx->serial : "OTAEMU000001";
    return 0;
}

int dev_enroll_prepare(dev_ctx *ctx)
{
    X509 *own;
    apr_status_t rv;
    int rc;

    if (!ctx->url || ctx->nargs) {
        return cli_complain(EXIT_LOCAL, "enroll needs --url and no other "
                            "argument (see --help)");
    }
    if ((rc = enroll_identities(ctx)) != 0
        || (rc = dev_device_setup(ctx)) != 0) {
        return rc;
    }
    if (ctx->save_dir && (rv = apr_dir_make_recursive(
                              ctx->save_dir, APR_FPROT_OS_DEFAULT, ctx->p))
                         != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot create %s: %s", ctx->save_dir,
                            cli_apr_error(rv, ctx->p));
    }
    own = ctx->phase3_only ? ctx->p3_id->cert : ctx->id->cert;
    if (!ctx->udid && !(ctx->udid = dev_cert_cn(own, ctx->p))) {
        return cli_complain(EXIT_LOCAL, "the identity has no CN: give --udid");
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
int dev_enroll_to_scep(dev_ctx *ctx)
{
    static int (*const steps[])(dev_ctx *) = {
        phase1, dev_phase2, dev_scep_getcacert, dev_scep_getcacaps,
        dev_scep_plan, NULL
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
    if ((rc = dev_scep_enroll(ctx)) != 0) {
        return rc;
    }
    if (ctx->stop_after == STOP_SCEP) {
        printf("phase 3: not sent (--stop-after scep)\n");
        printf("RESULT: enrolled\n");
        return -1;
    }
    return 0;
}

int dev_cmd_enroll(dev_ctx *ctx)
{
    int rc;

    if (ctx->md == EVP_md5()) {
        return cli_complain(EXIT_LOCAL, "enroll signs with sha1 or sha256; "
                            "md5 is for sign");
    }
    if ((rc = dev_enroll_prepare(ctx)) != 0) {
        return rc;
    }
    if (!ctx->phase3_only && (rc = dev_enroll_to_scep(ctx)) != 0) {
        return rc < 0 ? 0 : rc;
    }
    if ((rc = dev_phase3(ctx)) != 0) {
        return rc;
    }
    printf("RESULT: enrolled, final profile installed\n");
    return 0;
}
