/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* What the two commands, the emulator ota-device (device/) and the admin
 * command ota-enroll (admin/), share: their start, their messages and
 * their --help. */
#ifndef CLI_H
#define CLI_H

#include <apr_pools.h>

/* The start of main: APR initialized (terminated at exit), stdout line
 * buffered, messages named after the program name. Non-zero after saying
 * why APR could not start. */
int cli_start(const char *name, int *argc, const char *const **argv);

/* Prints "NAME: MESSAGE" on stderr and returns code. */
int cli_complain(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *cli_apr_error(apr_status_t rv, apr_pool_t *p);

/* Whether a command word asks for the usage (--help, -h, help). */
int cli_is_help(const char *word);

#endif
