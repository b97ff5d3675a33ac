/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Gives every apr_palloc() its own malloc() block, so that AddressSanitizer
 * sees an overflow of a pool allocation (APR carves them out of 8 KiB
 * nodes, where ASan sees nothing) and a use after the pool is gone.
 *
 * Linked into the fuzz targets, their replay drivers and the ASan unit
 * tests (never into the module: httpd's own apr_palloc wins there). An
 * executable's definition interposes libapr's own calls, which all go
 * through the PLT. Blocks are freed when their pool is cleared or
 * destroyed, after its cleanups ran, as APR frees its nodes; subpools are
 * destroyed through the PLT too. One lock over the block list: threads
 * use pools of their own (unit_getcacaps runs a server thread). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_pools.h>

typedef struct shim_block {
    apr_pool_t *pool;
    void *mem;
} shim_block;

static shim_block *blocks;
static size_t nblocks, capacity;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *shim_next(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    if (!fn) {
        fprintf(stderr, "poolshim: no %s after this one\n", name);
        abort();
    }
    return fn;
}

/* Takes the blocks of a pool out of the list, before the pool goes: in
 * another thread a new pool may get its address as soon as it is gone. */
static void **shim_detach(apr_pool_t *pool, size_t *n)
{
    size_t kept = 0;
    void **mine = NULL;

    *n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nblocks; i++) {
        if (blocks[i].pool != pool) {
            blocks[kept++] = blocks[i];
            continue;
        }
        if (*n % 64 == 0 && !(mine = realloc(mine, (*n + 64)
                                                   * sizeof(*mine)))) {
            abort();
        }
        mine[(*n)++] = blocks[i].mem;
    }
    nblocks = kept;
    pthread_mutex_unlock(&lock);
    return mine;
}

/* After the pool's cleanups ran, as APR frees its nodes. */
static void shim_free(void **mine, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(mine[i]);
    }
    free(mine);
}

void *apr_palloc(apr_pool_t *pool, apr_size_t size)
{
    void *mem = malloc(size ? size : 1);

    if (!mem) {
        abort();
    }
    pthread_mutex_lock(&lock);
    if (nblocks == capacity) {
        capacity = capacity ? capacity * 2 : 4096;
        blocks = realloc(blocks, capacity * sizeof(*blocks));
        if (!blocks) {
            abort();
        }
    }
    blocks[nblocks].pool = pool;
    blocks[nblocks].mem = mem;
    nblocks++;
    pthread_mutex_unlock(&lock);
    return mem;
}

#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *pool, apr_size_t size)
{
    return memset(apr_palloc(pool, size), 0, size);
}

/* apr_pool_destroy and apr_pool_clear: libapr's own (name, looked up
 * once into *next), then the pool's blocks freed. */
static void shim_release(apr_pool_t *pool, const char *name,
                         void (**next)(apr_pool_t *))
{
    void **mine;
    size_t n;

    if (!*next) {
        *next = (void (*)(apr_pool_t *))shim_next(name);
    }
    mine = shim_detach(pool, &n);
    (*next)(pool);
    shim_free(mine, n);
}

void apr_pool_destroy(apr_pool_t *pool)
{
    static void (*next)(apr_pool_t *);

    shim_release(pool, "apr_pool_destroy", &next);
}

void apr_pool_clear(apr_pool_t *pool)
{
    static void (*next)(apr_pool_t *);

    shim_release(pool, "apr_pool_clear", &next);
}
