/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* SCEP: the device's enrollment within enroll: its PKCSReq,
 * GetCertInitial while PENDING, the identity kept for phase 3. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ota_pool.h"
#include "dev.h"

/* The PKCSReq a device builds from its SCEP payload. */
static int scep_request_prepare(dev_ctx *ctx, scep_op *op)
{
    scep_info *s = &ctx->scep;
    const char *cn = dev_name_cn(s->subject, ctx->p);
    EVP_PKEY *key;
    X509 *self;
    X509_REQ *csr;

    printf("SCEP enrollment: new RSA %d-bit key, CSR%s, signed by a "
           "self-signed certificate\n", s->keysize,
           s->challenge ? " with challengePassword" : "");
    if (!(key = dev_rsa_generate(s->keysize, ctx->p))) {
        return cli_complain(EXIT_LOCAL, "cannot generate an RSA key: %s",
                            ota_openssl_error(ctx->p));
    }
    if (ota_scep_self_signed(&self, key, cn ? cn : ctx->udid, 7, ctx->p)
        || ota_scep_csr_san(&csr, key, s->subject, s->challenge, s->san,
                            ctx->p)) {
        return cli_complain(EXIT_LOCAL, "cannot make the CSR or its signer: "
                            "%s", ota_openssl_error(ctx->p));
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
X509_NAME *dev_ca_name(X509 *recipient)
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
    op->c.issuer = dev_ca_name(s->recipient);
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
        if ((rc = dev_scep_op_run(ctx, op)) != 0) {
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
        return cli_complain(EXIT_SCEP, "SUCCESS without a certificate for our "
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
    return cli_complain(EXIT_SCEP, "the certificate issued is not signed by a "
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
    if ((rv = dev_key_write(key, op->csr_key, ctx->p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s", key,
                            cli_apr_error(rv, ctx->p));
    }
    if (!pem) {
        return cli_complain(EXIT_LOCAL, "cannot encode the certificate");
    }
    if ((rc = dev_save(ctx, "device-cert.pem", pem, strlen(pem))) != 0) {
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
    if (!(id->chain = ota_own_stack(ctx->p, sk_X509_new_null()))) {
        return cli_complain(EXIT_LOCAL, "out of memory");
    }
    id->cert = op->issued;
    id->key = op->csr_key;
    if (X509_cmp(ca, id->cert) != 0) {
        sk_X509_push(id->chain, ca);
    }
    ctx->p3_id = id;
    return 0;
}

int dev_scep_enroll(dev_ctx *ctx)
{
    scep_op op;
    X509 *ca = NULL;
    int rc;

    if ((rc = scep_request_prepare(ctx, &op)) != 0
        || (rc = dev_scep_op_run(ctx, &op)) != 0
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
