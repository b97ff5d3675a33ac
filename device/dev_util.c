/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Small helpers of the emulator: files, printable text. */
#include <stdio.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "dev.h"

#define EXCERPT_LEN 200

apr_status_t dev_file_read(const char **data, apr_size_t *len,
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

apr_status_t dev_file_write(const char *path, const void *data,
                            apr_size_t len, apr_pool_t *p)
{
    return file_write_perms(path, data, len, APR_FPROT_OS_DEFAULT, p);
}

/* A private key, readable by its owner only. */
apr_status_t dev_key_write(const char *path, EVP_PKEY *key, apr_pool_t *p)
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
int dev_save(const dev_ctx *ctx, const char *name, const void *data,
             apr_size_t len)
{
    const char *path;
    apr_status_t rv;

    if (!ctx->save_dir) {
        return 0;
    }
    path = apr_pstrcat(ctx->p, ctx->save_dir, "/", name, NULL);
    if ((rv = dev_file_write(path, data, len, ctx->p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot write %s: %s", path,
                            cli_apr_error(rv, ctx->p));
    }
    return 0;
}

const char *dev_hex_text(const unsigned char *data, apr_size_t len,
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
const char *dev_excerpt(const char *body, apr_size_t len, apr_pool_t *p)
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
