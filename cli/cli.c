/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What ota-device and ota-enroll share: their start, their messages and
 * their --help. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "cli.h"

/* The program's name in its messages. */
static const char *program = "?";

int cli_start(const char *name, int *argc, const char *const **argv)
{
    program = name;
    if (apr_app_initialize(argc, argv, NULL) != APR_SUCCESS) {
        fprintf(stderr, "%s: cannot initialize APR\n", name);
        return 1;
    }
    atexit(apr_terminate);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
}

int cli_complain(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

const char *cli_apr_error(apr_status_t rv, apr_pool_t *p)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}

int cli_is_help(const char *word)
{
    return !strcmp(word, "--help") || !strcmp(word, "-h")
           || !strcmp(word, "help");
}
