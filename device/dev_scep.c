/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The scep command: one SCEP request, for tests. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ota_pool.h"
#include "dev.h"

static int scep_show_caps(dev_ctx *ctx)
{
    http_request rq = { "GET", dev_scep_url_build(ctx->url, "GetCACaps", NULL,
                                                  ctx->p),
                        NULL, 0, NULL, NULL,
                        ctx->timeout_ms ? ctx->timeout_ms : SCEP_TIMEOUT_MS };
    http_answer *a;
    char *copy, *state = NULL, *line;

    printf("-> GetCACaps\n");
    a = dev_http_do(ctx, &rq);
    if (a->error) {
        printf("<- no answer (%s)\n", a->error);
        return EXIT_SCEP;
    }
    printf("<- HTTP %ld %s, %" APR_SIZE_T_FMT " bytes\n", a->status,
           *a->content_type ? a->content_type : "(no Content-Type)", a->len);
    if (a->status != 200) {
        printf("body: %s\n", dev_excerpt(a->body, a->len, ctx->p));
        return EXIT_SCEP;
    }
    copy = apr_pstrmemdup(ctx->p, a->body, a->len);
    for (line = apr_strtok(copy, "\r\n", &state); line;
         line = apr_strtok(NULL, "\r\n", &state)) {
        if (*(line = dev_trim(line))) {
            printf("%s\n", line);
        }
    }
    return 0;
}

static int pem_write(const char *path, const char *pem, apr_pool_t *p)
{
    apr_status_t rv;

    if (!pem) {
        return cli_complain(EXIT_LOCAL, "cannot encode a certificate");
    }
    if ((rv = dev_file_write(path, pem, strlen(pem), p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s", path,
                            cli_apr_error(rv, p));
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

/* GetCACert at --url. */
static int cacert_fetch(dev_ctx *ctx, STACK_OF(X509) **certs)
{
    return dev_ca_certs_fetch(ctx, dev_scep_url_build(ctx->url, "GetCACert",
                                                      NULL, ctx->p), certs);
}

static int scep_show_cacert(dev_ctx *ctx)
{
    STACK_OF(X509) *certs;
    X509 *x, *signer;
    int rc;

    if ((rc = cacert_fetch(ctx, &certs)) != 0) {
        return rc;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        x = sk_X509_value(certs, i);
        printf("subject: %s%s\n",
               dev_name_text(X509_get_subject_name(x), ctx->p),
               X509_check_ca(x) ? " (CA)" : "");
    }
    dev_scep_peers(&x, &signer, certs, ctx->p);
    return ctx->so.out_cert ? certs_write(ctx->so.out_cert, certs, ctx->p)
                            : 0;
}

/* The CA (or RA) to encrypt to and to verify with: --cacert or
 * GetCACert's. */
int dev_scep_cli_ca(dev_ctx *ctx, scep_op *op)
{
    STACK_OF(X509) *certs = NULL;
    const char *why = NULL;
    int rc;

    if (ctx->so.ca_file) {
        if (ota_certs_load(&certs, ctx->so.ca_file, &why, ctx->p)
            != APR_SUCCESS) {
            return cli_complain(EXIT_LOCAL, "--cacert: %s", why);
        }
    }
    else if ((rc = cacert_fetch(ctx, &certs)) != 0) {
        return rc;
    }
    dev_scep_peers(&op->c.recipient, &op->signer, certs, ctx->p);
    return 0;
}

/* A key from FILE, else a new one of bits (0: none). */
static int key_get(dev_ctx *ctx, EVP_PKEY **key, const char *file,
                   const char *option, int bits)
{
    const char *why = NULL;

    *key = NULL;
    if (file && ota_key_load(key, file, &why, ctx->p) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "%s: %s", option, why);
    }
    if (!file && bits) {
        if (!(*key = dev_rsa_generate(bits, ctx->p))) {
            return cli_complain(EXIT_LOCAL, "cannot generate an RSA key: %s",
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
        return cli_complain(EXIT_LOCAL, "%s: %s", option, why);
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
        return cli_complain(EXIT_LOCAL, "--signer-cert and --signer-key go "
                            "together");
    }
    if (o->type == OTA_SCEP_RENEWAL_REQ && !o->signer_cert && !op->raw) {
        return cli_complain(EXIT_LOCAL, "renewal needs --signer-cert and "
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
        && (rv = dev_key_write(o->out_key, key, ctx->p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s", o->out_key,
                            cli_apr_error(rv, ctx->p));
    }
    return 0;
}

/* --csr: a CSR made elsewhere, sent as it is. */
static int csr_read(dev_ctx *ctx, scep_op *op, const char *file)
{
    BIO *in = BIO_new_file(file, "r");
    X509_REQ *csr = in ? PEM_read_bio_X509_REQ(in, NULL, NULL, NULL) : NULL;

    BIO_free(in);
    if (!csr) {
        return cli_complain(EXIT_LOCAL, "--csr: no PEM certificate request "
                            "in %s", file);
    }
    op->c.csr = ota_own_x509_req(ctx->p, csr);
    return 0;
}

/* The message: its subject, its signer, the CSR or the names polled. */
static int scep_cli_message(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;
    X509_NAME *subject = NULL;
    const char *why = NULL, *cn;
    int rc;

    if (o->csr_file && o->type != OTA_SCEP_CERT_POLL) {
        if ((rc = csr_read(ctx, op, o->csr_file)) != 0) {
            return rc;
        }
        subject = X509_REQ_get_subject_name(op->c.csr);
    }
    if (o->subject && !(subject = dev_name_parse(o->subject, &why, ctx->p))) {
        return cli_complain(EXIT_LOCAL, "--subject: %s",
                            why ? why : "out of memory");
    }
    if (!subject && o->type == OTA_SCEP_RENEWAL_REQ) {
        subject = X509_get_subject_name(op->c.cert);
    }
    if (!subject) {
        return cli_complain(EXIT_LOCAL, "%s needs --subject",
                            ota_scep_message_type_name(o->type));
    }
    cn = dev_name_cn(subject, ctx->p);
    if (!op->c.cert && ota_scep_self_signed(&op->c.cert, op->c.key,
                                            cn ? cn : "ota-device", 7,
                                            ctx->p)) {
        return cli_complain(EXIT_LOCAL, "cannot make a self-signed signer: %s",
                            ota_openssl_error(ctx->p));
    }
    op->c.type = o->type;
    op->c.subject = subject;
    if (!op->c.transaction_id) {
        op->c.transaction_id = ota_scep_transaction_id(op->csr_key, ctx->p);
    }
    op->c.issuer = dev_ca_name(op->c.recipient);
    if (!op->c.csr && o->type != OTA_SCEP_CERT_POLL
        && ota_scep_csr(&op->c.csr, op->csr_key, subject, o->challenge,
                        ctx->p)) {
        return cli_complain(EXIT_LOCAL, "cannot make the CSR: %s",
                            ota_openssl_error(ctx->p));
    }
    return 0;
}

/* The algorithms of the request and of its CertRep, for scep and load:
 * --digest (default sha256), --cipher (default aes256), --scep-legacy. */
int dev_scep_cli_algorithms(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;

    op->flags = ctx->scep_legacy ? OTA_SCEP_ACCEPT_SHA1 | OTA_SCEP_ACCEPT_DES
                                 : 0;
    op->c.md = o->digest_set ? ctx->md : EVP_sha256();
    op->c.cipher = o->cipher ? o->cipher : EVP_aes_256_cbc();
    if (op->c.cipher == EVP_des_cbc() && !dev_legacy_provider_load()) {
        return cli_complain(EXIT_LOCAL, "single DES needs OpenSSL's legacy "
                            "provider: %s", ota_openssl_error(ctx->p));
    }
    return 0;
}

/* The rest of the request: how it is sent, digest, cipher. */
static int scep_cli_setup(dev_ctx *ctx, scep_op *op)
{
    const scep_opts *o = &ctx->so;
    const char *data;
    apr_status_t rv;
    int rc;

    op->url = ctx->url;
    op->post = !o->get;
    op->c.transaction_id = o->transaction_id;
    op->save_request = o->save_request;
    if ((rc = dev_scep_cli_algorithms(ctx, op)) != 0) {
        return rc;
    }
    if (!o->send) {
        return 0;
    }
    if ((rv = dev_file_read(&data, &op->raw_len, o->send, ctx->p))
        != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot read %s: %s", o->send,
                            cli_apr_error(rv, ctx->p));
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
        || (rc = dev_scep_cli_ca(ctx, &op)) != 0
        || (rc = scep_cli_keys(ctx, &op)) != 0
        || (!op.raw && (rc = scep_cli_message(ctx, &op)) != 0)
        || (rc = dev_scep_op_run(ctx, &op)) != 0) {
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

int dev_cmd_scep(dev_ctx *ctx)
{
    const char *op = ctx->so.operation;

    if (!ctx->url || ctx->nargs) {
        return cli_complain(EXIT_LOCAL, "scep needs --url and no other "
                            "argument (see --help)");
    }
    if (op && strcmp(op, "GetCACaps") == 0) {
        return scep_show_caps(ctx);
    }
    if (op && strcmp(op, "GetCACert") == 0) {
        return scep_show_cacert(ctx);
    }
    return scep_pkioperation(ctx);
}
