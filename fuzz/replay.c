/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A plain driver for a fuzz target, without libFuzzer: feeds every file
 * named (directories: every regular file in them, in name order) to
 * LLVMFuzzerTestOneInput once. Built with gcc -fsanitize=address,undefined
 * for t/95-fuzz-corpus.t, so that replaying the corpus and the regression
 * inputs needs no clang. A sanitizer report or an abort ends it non-zero.
 * Usage: replay_TARGET FILE-OR-DIR... */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replayed;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *data;
    size_t got;

    if (!f || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f) {
            fclose(f);
        }
        return 0;
    }
    /* exactly the input's size, so ASan sees a read past its end */
    data = malloc(st.st_size ? (size_t)st.st_size : 1);
    got = data ? fread(data, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!data || got != (size_t)st.st_size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(data);
        return 0;
    }
    if (getenv("REPLAY_VERBOSE")) {
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, got);
    }
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    replayed++;
    return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir)
{
    struct dirent **names;
    char path[4096];
    struct stat st;
    int n, good = 1;

    if ((n = scandir(dir, &names, NULL, by_name)) < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0
            && S_ISREG(st.st_mode)) {
            good = run_file(path) && good;
        }
        free(names[i]);
    }
    free(names);
    return good;
}

int main(int argc, char **argv)
{
    struct stat st;
    int good = 1;

    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            good = 0;
        }
        else if (S_ISDIR(st.st_mode)) {
            good = run_dir(argv[i]) && good;
        }
        else {
            good = run_file(argv[i]) && good;
        }
    }
    printf("replayed %d inputs\n", replayed);
    return good ? 0 : 1;
}
