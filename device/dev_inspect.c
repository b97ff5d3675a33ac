/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The inspect and sign commands: a captured phase-2 body verified as the
 * module does, a body signed as a device would. */
#include <stdio.h>
#include <string.h>
#include <apr_tables.h>

#include "dev.h"

static void cert_print(X509 *x, int depth, apr_pool_t *p)
{
    EVP_PKEY *key = X509_get0_pubkey(x);

    printf("  [%d] subject: %s\n", depth,
           dev_name_text(X509_get_subject_name(x), p));
    printf("      issuer: %s\n", dev_name_text(X509_get_issuer_name(x), p));
    printf("      valid: %s .. %s\n", dev_time_text(X509_get0_notBefore(x), p),
           dev_time_text(X509_get0_notAfter(x), p));
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

int dev_cmd_inspect(dev_ctx *ctx)
{
    const char *ca = ctx->device_ca ? ctx->device_ca : OTA_DEVICE_CA_DEFAULT;
    const char *body, *why = NULL;
    ota_signed_message *m;
    ota_trust *trust;
    apr_size_t len;
    apr_status_t rv;

    if (ctx->nargs != 1) {
        return cli_complain(EXIT_LOCAL, "inspect needs one FILE (see --help)");
    }
    if ((rv = dev_file_read(&body, &len, ctx->args[0], ctx->p))
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot read %s: %s", ctx->args[0],
                            cli_apr_error(rv, ctx->p));
    }
    if (ota_trust_load(&trust, ca, OTA_TRUST_APPLE_DEVICE, &why, ctx->p)
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "device CA: %s", why);
    }
    printf("file: %s (%" APR_SIZE_T_FMT " bytes)\n", ctx->args[0], len);
    printf("device CA: %s (%d issuing CA%s)\n", ca,
           ota_trust_count_issuing_cas(trust),
           ota_trust_count_issuing_cas(trust) == 1 ? "" : "s");
    if (ota_cms_verify(&m, (const unsigned char *)body, len, trust, ctx->p)
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot verify: %s",
                            ota_openssl_error(ctx->p));
    }
    return inspect_report(m, ctx->p);
}

int dev_cmd_sign(dev_ctx *ctx)
{
    const unsigned char *der;
    const char *data;
    apr_size_t len, der_len;
    apr_status_t rv;
    int rc;

    if (ctx->nargs != 2) {
        return cli_complain(EXIT_LOCAL, "sign needs IN and OUT (see --help)");
    }
    if ((rc = dev_identity_load(ctx)) != 0) {
        return rc;
    }
    if ((rv = dev_file_read(&data, &len, ctx->args[0], ctx->p))
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot read %s: %s", ctx->args[0],
                            cli_apr_error(rv, ctx->p));
    }
    if (ota_cms_sign(&der, &der_len, ctx->id, data, len, ctx->md,
                     ctx->with_attributes, ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot sign with %s (ota_cms_sign "
                            "reports no reason)", ctx->md_name);
    }
    if ((rv = dev_file_write(ctx->args[1], der, der_len, ctx->p))
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s", ctx->args[1],
                            cli_apr_error(rv, ctx->p));
    }
    printf("signed %s -> %s: %" APR_SIZE_T_FMT " bytes, %s, %s, by %s\n",
           ctx->args[0], ctx->args[1], der_len, ctx->md_name,
           ctx->with_attributes ? "with signed attributes"
                                : "no signed attributes",
           dev_name_text(X509_get_subject_name(ctx->id->cert), ctx->p));
    return 0;
}
