/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota-enroll: the administrator's command for mod_ota_enroll. It works on
 * the same pure core as the module, so what it makes is what the module
 * accepts.
 *
 * This file: main, the usage text and the dispatch to the commands, one
 * file each (cmd_init.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>

#include "admin.h"

#ifndef OTA_VERSION
#define OTA_VERSION "unknown"
#endif

static const char usage_head[] =
"usage: ota-enroll COMMAND [options]\n"
"       ota-enroll --help | --version\n"
"\n"
"Commands:\n"
"  init    make what /etc/apache2/ota-enroll/site.conf needs: the profile\n"
"          signing identity, the built-in CA, the users and admins files,\n"
"          a final profile and the site settings\n"
"\n";

static const char usage_tail[] =
"\n"
"exit status: 0 ok, 1 usage, 2 a file exists (see --force), 3 a file\n"
"could not be made, checked or written\n";

/* A command: its name and what runs it. */
typedef struct command {
    const char *name;
    int (*run)(int argc, const char *const *argv, apr_pool_t *p);
    const char *usage;
} command;

static const command commands[] = {
    { "init", adm_cmd_init, adm_init_usage },
    { NULL, NULL, NULL }
};

static void usage(FILE *out)
{
    const command *cmd;

    fputs(usage_head, out);
    for (cmd = commands; cmd->name; cmd++) {
        fputs(cmd->usage, out);
    }
    fputs(usage_tail, out);
}

static int dispatch(int argc, const char *const *argv, apr_pool_t *p)
{
    const command *cmd;

    if (argc < 2) {
        usage(stderr);
        return ADM_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return ADM_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ota-enroll %s\n", OTA_VERSION);
        return ADM_EXIT_OK;
    }
    for (cmd = commands; cmd->name && strcmp(cmd->name, argv[1]); cmd++) {
        continue;
    }
    if (!cmd->name) {
        usage(stderr);
        return cli_complain(ADM_EXIT_USAGE, "unknown command %s", argv[1]);
    }
    /* the command sees its own name as argv[0] */
    return cmd->run(argc - 1, argv + 1, p);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    int rc;

    if (cli_start("ota-enroll", &argc, &argv) != 0) {
        return ADM_EXIT_FAILED;
    }
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return cli_complain(ADM_EXIT_FAILED, "out of memory");
    }
    rc = dispatch(argc, argv, p);
    apr_pool_destroy(p);
    return rc;
}
