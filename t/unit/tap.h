/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A minimal TAP producer for the C unit tests (read by prove). */
#ifndef OTA_TAP_H
#define OTA_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
    tap_is_int((long)(got), (long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) \
    tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

static int tap_ok(int pass, const char *file, int line, const char *name, ...)
{
    ++tap_run;
    printf("%sok %d - %s\n", pass ? "" : "not ", tap_run, name);
    if (!pass) {
        ++tap_failed;
        printf("#   failed at %s:%d\n", file, line);
    }
    return pass;
}

static int tap_is_int(long got, long want, const char *file, int line,
                      const char *name, ...)
{
    int pass = tap_ok(got == want, file, line, name);
    if (!pass) {
        printf("#   got %ld, want %ld\n", got, want);
    }
    return pass;
}

static int tap_is_str(const char *got, const char *want, const char *file,
                      int line, const char *name, ...)
{
    int pass = tap_ok(got && want && strcmp(got, want) == 0, file, line,
                      name);
    if (!pass) {
        printf("#   got '%s', want '%s'\n", got ? got : "(null)",
               want ? want : "(null)");
    }
    return pass;
}

static int tap_done(void)
{
    printf("1..%d\n", tap_run);
    return tap_failed ? 1 : 0;
}

#endif
