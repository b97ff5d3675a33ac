/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What every unit test shares, included once by each t/unit/unit_*.c
 * (after its own headers): APR and a pool, the t/ directory (argv[1],
 * "t" unless given: the t/unit_*.t wrappers pass it), the test PKI
 * (t/pki.sh into build/pki) and a scratch directory when asked for, the
 * teardown that ends the TAP output, and the helpers around them:
 *
 *   int main(int argc, char **argv)
 *   {
 *       if (unit_setup(argc, argv, UNIT_PKI | UNIT_SCRATCH)) {
 *           test_something();
 *       }
 *       return unit_done();
 *   }
 *
 * or, when the tests need nothing more, unit_main with a list of them:
 *
 *   static const unit_test tests[] = { test_this, test_that, NULL };
 *
 *   return unit_main(argc, argv, UNIT_SCRATCH, tests);
 *
 * Everything is static inline: unit_setup's assertions count in the
 * including test's TAP numbering (tap.h), and a test pays for no helper
 * it does not use. */
#ifndef OTA_UNIT_H
#define OTA_UNIT_H

#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/cms.h>

#include "ota_cms.h"
#include "ota_pool.h"
#include "tap.h"

#define UNIT_PKI     1      /* build the test PKI: "test PKI built" */
#define UNIT_SCRATCH 2      /* make a scratch directory: "scratch directory" */

static apr_pool_t *pool;    /* until unit_done */
static const char *tdir;    /* the t/ directory */
static const char *pki;     /* the test PKI (UNIT_PKI) */
static const char *scratch; /* removed by unit_done (UNIT_SCRATCH) */

/* DIR/NAME */
static inline const char *in_dir(const char *dir, const char *name)
{
    return apr_pstrcat(pool, dir, "/", name, NULL);
}

static inline const char *pki_file(const char *name)
{
    return in_dir(pki, name);
}

static inline const char *scratch_file(const char *name)
{
    return in_dir(scratch, name);
}

/* A scratch directory for the test PROGRAM (argv[0]): an assertion; 0 when
 * it failed. */
static inline int unit_scratch(const char *program)
{
    const char *tmp = NULL;
    char *tmpl;

    if (apr_temp_dir_get(&tmp, pool) != APR_SUCCESS) {
        tmp = "/tmp";
    }
    tmpl = apr_psprintf(pool, "%s/%s.XXXXXX", tmp,
                        apr_filepath_name_get(program));
    return ok((scratch = mkdtemp(tmpl)) != NULL, "scratch directory");
}

/* APR, the pool, tdir; the test PKI and the scratch directory as NEEDS
 * says, each an assertion. 0 when one of them failed. */
static inline int unit_setup(int argc, char **argv, int needs)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    tdir = argc > 1 ? argv[1] : "t";
    if (needs & UNIT_PKI) {
        pki = in_dir(tdir, "../build/pki");
        fflush(stdout);
        if (!ok(system(apr_psprintf(pool, "bash %s/pki.sh %s", tdir, pki))
                == 0, "test PKI built")) {
            return 0;
        }
    }
    return !(needs & UNIT_SCRATCH) || unit_scratch(argv[0]);
}

/* Removes the scratch directory, ends APR and the TAP output: main's
 * exit status. */
static inline int unit_done(void)
{
    if (scratch && system(apr_psprintf(pool, "rm -rf %s", scratch)) != 0) {
        printf("# could not remove %s\n", scratch);
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return tap_done();
}

/* A test: its assertions, in the TAP numbering. */
typedef void (*unit_test)(void);

/* unit_setup, then each of TESTS (up to a NULL) if it succeeded, then
 * unit_done: main's exit status. */
static inline int unit_main(int argc, char **argv, int needs,
                            const unit_test *tests)
{
    if (unit_setup(argc, argv, needs)) {
        for (; *tests; tests++) {
            (*tests)();
        }
    }
    return unit_done();
}

/* ---- files ---- */

/* FILE's bytes in *BUF (NUL-terminated, in the pool), their number in
 * *LEN; 0 when it cannot be read. */
static inline int slurp(const char *file, unsigned char **buf,
                        apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    int good;

    if (apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_OS_DEFAULT, pool) != APR_SUCCESS) {
        return 0;
    }
    good = apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS;
    if (good) {
        *len = (apr_size_t)fi.size;
        *buf = apr_pcalloc(pool, *len + 1);
        good = apr_file_read_full(f, *buf, *len, NULL) == APR_SUCCESS;
    }
    apr_file_close(f);
    return good;
}

/* FILE as a string, or NULL. */
static inline const char *slurp_text(const char *file)
{
    unsigned char *buf;
    apr_size_t len;

    return slurp(file, &buf, &len) ? (const char *)buf : NULL;
}

/* Writes LEN bytes of DATA to FILE; 0 on failure. */
static inline int spill(const char *file, const void *data, apr_size_t len)
{
    FILE *f = fopen(file, "wb");
    int good;

    if (!f) {
        return 0;
    }
    good = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && good;
}

/* ---- OpenSSL objects, owned by the pool ---- */

/* The first certificate in FILE (PEM), or NULL (why, as a comment). */
static inline X509 *cert_file(const char *file)
{
    STACK_OF(X509) *certs = NULL;
    const char *why = NULL;

    if (ota_certs_load(&certs, file, &why, pool) != APR_SUCCESS) {
        printf("# %s\n", why ? why : "?");
        return NULL;
    }
    return sk_X509_value(certs, 0);
}

/* The private key in FILE (PEM), or NULL (why, as a comment). */
static inline EVP_PKEY *key_file(const char *file)
{
    EVP_PKEY *key = NULL;
    const char *why = NULL;

    if (ota_key_load(&key, file, &why, pool) != APR_SUCCESS) {
        printf("# %s\n", why ? why : "?");
        return NULL;
    }
    return key;
}

/* A test PKI identity: certificate (chain) CERT and key KEY, or NULL. */
static inline ota_identity *identity(const char *cert, const char *key)
{
    ota_identity *id = NULL;
    const char *why = NULL;

    if (ota_identity_load(&id, pki_file(cert), pki_file(key), &why, pool)
        != APR_SUCCESS) {
        printf("# cannot load identity %s: %s\n", cert, why ? why : "?");
        return NULL;
    }
    return id;
}

/* KEY, freed with the pool (a generated one: NULL says why). */
static inline EVP_PKEY *owned_key(EVP_PKEY *key)
{
    if (!ota_own_pkey(pool, key)) {
        printf("# key generation: %s\n", ota_openssl_error(pool));
    }
    return key;
}

/* CMS's DER in the pool, CMS freed; NULL (and why) on failure. */
static inline unsigned char *der_of(CMS_ContentInfo *cms, apr_size_t *len)
{
    unsigned char *buf = NULL, *copy = NULL;
    int n = cms ? i2d_CMS_ContentInfo(cms, &buf) : -1;

    *len = 0;
    if (n > 0) {
        copy = apr_pmemdup(pool, buf, n);
        *len = (apr_size_t)n;
    }
    else {
        printf("# OpenSSL: %s\n", ota_openssl_error(pool));
    }
    OPENSSL_free(buf);
    CMS_ContentInfo_free(cms);
    return copy;
}

#endif
