/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Shared by the fuzz targets: process-wide setup done once (APR, the
 * fixed test PKI of fuzz/pki), a pool per input, and the entry point
 * libFuzzer (and fuzz/replay.c) call. Files are found under $OTA_FUZZ_TOP
 * (default: the current directory, the top of the source tree). */
#ifndef OTA_FUZZ_H
#define OTA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lives as long as the process: keys, stores, loaded once. */
static apr_pool_t *fuzz_pool;

static inline void fuzz_apr_init(void)
{
    if (!fuzz_pool) {
        apr_initialize();
        apr_pool_create(&fuzz_pool, NULL);
    }
}

/* The pool of one input, freed by the target when done with it. */
static inline apr_pool_t *fuzz_input_pool(void)
{
    apr_pool_t *p;

    fuzz_apr_init();
    apr_pool_create(&p, fuzz_pool);
    return p;
}

static inline const char *fuzz_path(const char *relative)
{
    const char *top = getenv("OTA_FUZZ_TOP");

    return apr_pstrcat(fuzz_pool, top && *top ? top : ".", "/", relative,
                       NULL);
}

/* Setup failures are the harness's, not a finding: say so and stop. */
static inline void fuzz_setup_failed(const char *what, const char *why)
{
    fprintf(stderr, "fuzz setup: %s: %s (run from the source tree or set "
            "OTA_FUZZ_TOP)\n", what, why ? why : "failed");
    exit(2);
}

/* The input as a NUL-terminated copy in p (the pure API takes C strings
 * where httpd gives them). */
static inline char *fuzz_text(const uint8_t *data, size_t size,
                              apr_pool_t *p)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

#endif
