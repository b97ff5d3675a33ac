/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* `ota-enroll init`: makes what /etc/apache2/ota-enroll/site.conf names,
 * checks it with the module's own loaders, writes it all or nothing,
 * and prints the next steps. It never overwrites a file without
 * --force. */
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_getopt.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "init.h"
#include "ota_keygen.h"

const char adm_init_usage[] =
"\n"
"ota-enroll init [--dir DIR] [--url https://HOST[:PORT]]\n"
"                [--organization NAME] [--identifier ID]\n"
"                [--signing-cert FILE --signing-key FILE]\n"
"                [--ca-days N] [--signing-days N] [--group GROUP] [--force]\n"
"  --dir DIR            where to write (default " ADM_DEFAULT_DIR ")\n"
"  --url URL            this server as devices reach it (default:\n"
"                       https:// and this machine's host name)\n"
"  --organization NAME  what devices show (default: the host name)\n"
"  --identifier ID      reverse-DNS prefix of the profiles' identifiers\n"
"                       (default: the host name reversed, then .ota)\n"
"  --signing-cert FILE  the site's profile signing certificate (and its\n"
"  --signing-key FILE   chain) and key, copied; default: a new self-signed\n"
"                       identity (devices show \"Not Verified\")\n"
"  --ca-days N          the built-in CA's validity (default 3650)\n"
"  --signing-days N     the self-signed identity's (default 1095)\n"
"  --group GROUP        may read the users and admins files (default\n"
"                       " ADM_APACHE_GROUP ")\n"
"  --force              overwrite existing files (a new CA invalidates\n"
"                       every certificate the old one issued)\n";

const char *const init_file_names[INIT_NFILES] = {
    "signing-chain.pem", "signing.key", "ca.pem", "ca.key", "users",
    "admins", "final.mobileconfig", "settings.conf"
};

enum {
    OPT_DIR = 256, OPT_URL, OPT_ORGANIZATION, OPT_IDENTIFIER,
    OPT_SIGNING_CERT, OPT_SIGNING_KEY, OPT_CA_DAYS, OPT_SIGNING_DAYS,
    OPT_GROUP, OPT_FORCE, OPT_HELP
};

static const apr_getopt_option_t options[] = {
    { "dir", OPT_DIR, 1, NULL },
    { "url", OPT_URL, 1, NULL },
    { "organization", OPT_ORGANIZATION, 1, NULL },
    { "identifier", OPT_IDENTIFIER, 1, NULL },
    { "signing-cert", OPT_SIGNING_CERT, 1, NULL },
    { "signing-key", OPT_SIGNING_KEY, 1, NULL },
    { "ca-days", OPT_CA_DAYS, 1, NULL },
    { "signing-days", OPT_SIGNING_DAYS, 1, NULL },
    { "group", OPT_GROUP, 1, NULL },
    { "force", OPT_FORCE, 0, NULL },
    { "help", OPT_HELP, 0, NULL },
    { NULL, 0, 0, NULL }
};

static int parse_days(int *out, const char *arg, const char *name)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (!*arg || *end || v < 1 || v > OTA_KEYGEN_MAX_DAYS) {
        return cli_complain(ADM_EXIT_USAGE, "%s %s: expected 1 to %d days",
                            name, arg, OTA_KEYGEN_MAX_DAYS);
    }
    *out = (int)v;
    return 0;
}

static int set_option(init_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case OPT_DIR:           o->dir = arg; break;
    case OPT_URL:           o->url = arg; break;
    case OPT_ORGANIZATION:  o->organization = arg; break;
    case OPT_IDENTIFIER:    o->identifier = arg; break;
    case OPT_SIGNING_CERT:  o->signing_cert = arg; break;
    case OPT_SIGNING_KEY:   o->signing_key = arg; break;
    case OPT_GROUP:         o->group = arg; break;
    case OPT_FORCE:         o->force = 1; break;
    case OPT_CA_DAYS:
        return parse_days(&o->ca_days, arg, "--ca-days");
    case OPT_SIGNING_DAYS:
        return parse_days(&o->signing_days, arg, "--signing-days");
    default:
        return ADM_EXIT_USAGE;
    }
    return 0;
}

/* Returns -1 for --help, else 0 or an exit status. */
static int parse_options(init_opts *o, int argc, const char *const *argv,
                         apr_pool_t *p)
{
    apr_getopt_t *g;
    const char *arg;
    int opt, rc;
    apr_status_t rv;

    o->dir = ADM_DEFAULT_DIR;
    o->group = ADM_APACHE_GROUP;
    o->ca_days = INIT_CA_DAYS;
    o->signing_days = INIT_SIGNING_DAYS;
    apr_getopt_init(&g, p, argc, argv);
    g->errfn = NULL;
    while ((rv = apr_getopt_long(g, options, &opt, &arg)) == APR_SUCCESS) {
        if (opt == OPT_HELP) {
            return -1;
        }
        if ((rc = set_option(o, opt, arg)) != 0) {
            return rc;
        }
    }
    if (rv != APR_EOF) {
        return cli_complain(ADM_EXIT_USAGE, "init: bad option %s (see "
                            "ota-enroll --help)", argv[g->ind - 1]);
    }
    if (g->ind < argc) {
        return cli_complain(ADM_EXIT_USAGE, "init: unexpected argument %s",
                            argv[g->ind]);
    }
    if (!o->signing_cert != !o->signing_key) {
        return cli_complain(ADM_EXIT_USAGE, "init: --signing-cert and "
                            "--signing-key go together");
    }
    return 0;
}

/* This machine's fully qualified name, or its plain host name. */
static const char *host_name(apr_pool_t *p)
{
    char buf[256];
    struct addrinfo hints, *res = NULL;
    const char *name;

    if (gethostname(buf, sizeof(buf) - 1) != 0) {
        return "localhost";
    }
    buf[sizeof(buf) - 1] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_CANONNAME;
    name = buf;
    if (getaddrinfo(buf, NULL, &hints, &res) == 0 && res->ai_canonname
        && strchr(res->ai_canonname, '.')) {
        name = res->ai_canonname;
    }
    name = apr_pstrdup(p, name);
    if (res) {
        freeaddrinfo(res);
    }
    return name;
}

/* The host name reversed, then "ota": as the module's own default. */
static const char *reversed(const char *host, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, host), *state = NULL, *label;
    const char *out = "ota";

    if (strspn(host, "0123456789.:[]") == strlen(host)) {
        return "local.ota";
    }
    for (label = apr_strtok(copy, ".", &state); label;
         label = apr_strtok(NULL, ".", &state)) {
        out = apr_pstrcat(p, label, ".", out, NULL);
    }
    return out;
}

static int check_url(init_opts *o, apr_pool_t *p)
{
    apr_uri_t uri;
    size_t n;

    if (!o->url) {
        o->url = apr_pstrcat(p, "https://", host_name(p), NULL);
    }
    n = strlen(o->url);
    if (n && o->url[n - 1] == '/') {
        o->url = apr_pstrndup(p, o->url, n - 1);
    }
    if (apr_uri_parse(p, o->url, &uri) != APR_SUCCESS || !uri.scheme
        || strcasecmp(uri.scheme, "https") || !uri.hostname
        || !*uri.hostname || (uri.path && *uri.path) || uri.query
        || uri.fragment || uri.user || strpbrk(o->url, " \t\"\\")) {
        return cli_complain(ADM_EXIT_USAGE, "--url %s: expected "
                            "https://HOST or https://HOST:PORT (devices "
                            "enroll over TLS only)", o->url);
    }
    o->host = uri.hostname;
    return 0;
}

/* What a quoted Apache argument, a subject and a plist all carry. */
static int text_ok(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\'
            || *s == 0x7f || (s[0] == '%' && s[1] == '{')) {
            return 0;
        }
    }
    return 1;
}

static int check_names(init_opts *o, apr_pool_t *p)
{
    const char *id;

    if (!o->organization) {
        o->organization = strlen(o->host) <= INIT_MAX_NAME ? o->host
                                                           : "Intranet";
    }
    if (!*o->organization || strlen(o->organization) > INIT_MAX_NAME
        || !text_ok(o->organization)) {
        return cli_complain(ADM_EXIT_USAGE, "--organization: expected 1 "
                            "to %d characters, without quotes, "
                            "backslashes, control characters or %%{",
                            INIT_MAX_NAME);
    }
    id = o->identifier = o->identifier ? o->identifier
                                       : reversed(o->host, p);
    if (!*id || strlen(id) > 120 || id[0] == '.' || strstr(id, "..")
        || id[strlen(id) - 1] == '.'
        || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-") != strlen(id)) {
        return cli_complain(ADM_EXIT_USAGE, "--identifier %s: expected a "
                            "reverse-DNS identifier such as "
                            "com.example.ota", id);
    }
    return 0;
}

static void empty_auth_file(adm_file *f, const char *what)
{
    f->what = what;
    f->content = "";
    f->perms = APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD;
    f->apache_group = 1;
}

/* Makes every file in memory. */
static int make_files(adm_file *files, init_opts *o, apr_pool_t *p)
{
    const char *why = NULL;

    if (init_signing(files, o, &why, p) != APR_SUCCESS
        || init_ca(files, o, &why, p) != APR_SUCCESS
        || init_final_profile(files, o, &why, p) != APR_SUCCESS
        || init_settings(files, o, &why, p) != APR_SUCCESS) {
        return cli_complain(ADM_EXIT_FAILED, "%s", why ? why : "failed");
    }
    empty_auth_file(&files[INIT_USERS],
                    "who may enroll (Basic auth, empty: use htpasswd)");
    empty_auth_file(&files[INIT_ADMINS],
                    "who may read /ota/status (Basic auth, empty)");
    return 0;
}

static int prepare_dir(const init_opts *o, apr_pool_t *p)
{
    apr_status_t rv;

    rv = apr_dir_make_recursive(o->dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                | APR_FPROT_GEXECUTE | APR_FPROT_WREAD
                                | APR_FPROT_WEXECUTE, p);
    if (rv != APR_SUCCESS) {
        return cli_complain(ADM_EXIT_FAILED, "cannot make %s: %s", o->dir,
                            cli_apr_error(rv, p));
    }
    return 0;
}

static void state_dir_note(void)
{
    struct stat st;
    struct passwd *pw = getpwnam(ADM_APACHE_GROUP);

    if (stat(ADM_STATE_DIR, &st) != 0 || !S_ISDIR(st.st_mode)
        || (pw && st.st_uid != pw->pw_uid)) {
        printf("\nNote: the module keeps its database in %s (see\n"
               "/etc/apache2/mods-available/ota_enroll.conf); make it a "
               "directory owned by %s:\n    install -d -o %s -g %s -m 750 "
               "%s\n", ADM_STATE_DIR, ADM_APACHE_GROUP, ADM_APACHE_GROUP,
               ADM_APACHE_GROUP, ADM_STATE_DIR);
    }
}

static void next_steps(const adm_file *files, const init_opts *o,
                       const char *note, apr_pool_t *p)
{
    printf("Made in %s:\n", o->dir);
    for (int i = 0; i < INIT_NFILES; i++) {
        printf("  %-20s %s\n", files[i].name, files[i].what);
    }
    if (note) {
        printf("Note: %s.\n", note);
    }
    if (o->self_signed) {
        printf("\nThe profile signing identity is self-signed: devices show "
               "every profile as\n\"Not Verified\". For \"Verified\", "
               "replace signing-chain.pem (a certificate\nfrom a CA the "
               "devices trust, then its chain) and signing.key.\n");
    }
    if (strcmp(o->dir, ADM_DEFAULT_DIR)) {
        printf("\nsite.conf names %s: change its paths to %s.\n",
               ADM_DEFAULT_DIR, o->dir);
    }
    printf("\nNext steps:\n"
           "  1. Inside the TLS virtual host devices reach as %s\n"
           "     (e.g. /etc/apache2/sites-available/default-ssl.conf), "
           "add the line\n"
           "         Include " ADM_DEFAULT_DIR "/site.conf\n"
           "  2. Add who may enroll, and who may read the status page:\n"
           "         htpasswd %s USER\n"
           "         htpasswd %s ADMIN\n"
           "  3. apache2ctl configtest && systemctl reload apache2\n"
           "  4. On the device, open %s/ota/profile\n",
           o->url, adm_path(o->dir, "users", p),
           adm_path(o->dir, "admins", p), o->url);
    state_dir_note();
}

static int write_files(adm_file *files, const init_opts *o,
                       const char **note, apr_pool_t *p)
{
    const char *why = NULL;

    if (adm_files_stage(files, INIT_NFILES, o->dir, o->group, note, &why, p)
        != APR_SUCCESS) {
        return cli_complain(ADM_EXIT_FAILED, "%s", why);
    }
    if (init_check_staged(files, &why, p) != APR_SUCCESS) {
        adm_files_discard(files, INIT_NFILES);
        return cli_complain(ADM_EXIT_FAILED, "refused by the module's "
                            "checks, nothing written: %s", why);
    }
    if (adm_files_commit(files, INIT_NFILES, o->dir, &why, p)
        != APR_SUCCESS) {
        return cli_complain(ADM_EXIT_FAILED, "%s", why);
    }
    return 0;
}

int adm_cmd_init(int argc, const char *const *argv, apr_pool_t *p)
{
    init_opts o;
    adm_file files[INIT_NFILES];
    const char *note = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    if ((rc = parse_options(&o, argc, argv, p)) != 0) {
        if (rc < 0) {
            fputs(adm_init_usage + 1, stdout);
            return ADM_EXIT_OK;
        }
        return rc;
    }
    if ((rc = check_url(&o, p)) != 0 || (rc = check_names(&o, p)) != 0) {
        return rc;
    }
    memset(files, 0, sizeof(files));
    for (int i = 0; i < INIT_NFILES; i++) {
        files[i].name = init_file_names[i];
    }
    if (!o.force && adm_files_existing(files, INIT_NFILES, o.dir, p) > 0) {
        return cli_complain(ADM_EXIT_EXISTS, "init: nothing written; "
                            "--force overwrites (a new CA invalidates the "
                            "certificates the old one issued)");
    }
    if ((rc = make_files(files, &o, p)) != 0) {
        return rc;
    }
    umask(022);
    if ((rc = prepare_dir(&o, p)) != 0
        || (rc = write_files(files, &o, &note, p)) != 0) {
        return rc;
    }
    next_steps(files, &o, note, p);
    return ADM_EXIT_OK;
}
