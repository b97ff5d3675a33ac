/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* The database under a running server. sqlite3 keeps writing to a file
 * that was deleted or replaced while it is open, so each connection
 * mod_dbd opens is tied (in mod_dbd's post_connect hook) to the file it
 * opened, each server generation to the file at DBDParams when it started
 * (the parent creates it when missing), and every request compares both
 * with what the path names now: one stat(). A mismatch is answered with
 * 503 until the server's file is back at its path (a connection on
 * another file is then reopened on it) or Apache is restarted. Database
 * errors are told apart by what fixes them. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "unixd.h"
#include "apr_hash.h"
#include "apr_optional_hooks.h"
#include "apr_strings.h"
#include "apr_user.h"
#if APR_HAS_THREADS
#include "apr_thread_mutex.h"
#endif

#include "ota_dbfile.h"

#include "mod_ota_enroll_dbcheck.h"

APLOG_USE_MODULE(ota_enroll);

#define DBFILE_KEY "mod_ota_enroll.dbfile"       /* dbd->pool: dbfile_conn */
#define DBPATH_KEY "mod_ota_enroll.dbpath"       /* r->pool: its path */
#define NOTE_ID "ota-store-id"
#define NOTE_REASON "ota-store-reason"

/* A connection's file, in its pool. */
typedef struct dbfile_conn {
    dbd_cfg_t *cfg;           /* mod_dbd's, for a reopen */
    const char *path;
    ota_dbfile_id id;         /* the file it opened */
    ota_dbfile_id pin;        /* the server's file for that path */
} dbfile_conn;

/* path -> ota_dbfile_id: set by the parent at post_config (children
 * inherit it), else (a file it could not create) by a process's first
 * connection to the path. */
static apr_hash_t *pins;
static apr_pool_t *pins_pool;
#if APR_HAS_THREADS
static apr_thread_mutex_t *pins_lock;
#endif

/* The server's file for path; id becomes it when there is none yet. */
static void pin_get(const char *path, const ota_dbfile_id *id,
                    ota_dbfile_id *pin)
{
    ota_dbfile_id *known;

    *pin = *id;
    if (!pins) {
        return;
    }
#if APR_HAS_THREADS
    apr_thread_mutex_lock(pins_lock);
#endif
    if ((known = apr_hash_get(pins, path, APR_HASH_KEY_STRING))) {
        *pin = *known;
    }
    else if (id->found) {
        known = apr_pmemdup(pins_pool, id, sizeof(*id));
        apr_hash_set(pins, apr_pstrdup(pins_pool, path),
                     APR_HASH_KEY_STRING, known);
    }
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(pins_lock);
#endif
}

/* The database a server (or virtual host) uses, as mod_dbd merges it. */
typedef struct dbd_scope {
    const char *driver;
    const char *params;
} dbd_scope;

/* The server's file for path from the start: created when missing (as
 * sqlite3 would at the first connection, but once, by the parent, owned
 * by the server's user), so that every child agrees on it. */
static void pin_file(const char *path)
{
    ota_dbfile_id id;
    int fd;

    if (ota_dbfile_id_of(&id, path) != APR_SUCCESS) {
        return;
    }
    if (!id.found) {
        /* left to sqlite3 to report when this fails */
        if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644)) < 0) {
            return;
        }
        if (geteuid() == 0 && fchown(fd, ap_unixd_config.user_id,
                                     ap_unixd_config.group_id) != 0) {
            close(fd);
            unlink(path);     /* not left to the server as root's */
            return;
        }
        close(fd);
        ota_dbfile_id_of(&id, path);
    }
    if (id.found && !apr_hash_get(pins, path, APR_HASH_KEY_STRING)) {
        apr_hash_set(pins, apr_pstrdup(pins_pool, path), APR_HASH_KEY_STRING,
                     apr_pmemdup(pins_pool, &id, sizeof(id)));
    }
}

static void pin_scope(const dbd_scope *sc)
{
    if (sc->driver && !strcasecmp(sc->driver, "sqlite3")
        && ota_dbfile_is_path(sc->params)) {
        pin_file(sc->params);
    }
}

/* DBDriver and DBDParams of one scope: the configuration's top level
 * (the sections the parser kept, <IfModule> and the like, included) or a
 * <VirtualHost>'s contents; vhosts is called for the virtual hosts met. */
static void scope_read(const ap_directive_t *d, dbd_scope *sc,
                       void (*vhosts)(const ap_directive_t *,
                                      const dbd_scope *, apr_pool_t *),
                       const dbd_scope *outer, apr_pool_t *ptemp)
{
    const char *args;

    for (; d; d = d->next) {
        args = d->args ? d->args : "";
        if (!strcasecmp(d->directive, "DBDriver")) {
            sc->driver = ap_getword_conf(ptemp, &args);
        }
        else if (!strcasecmp(d->directive, "DBDParams")) {
            sc->params = ap_getword_conf(ptemp, &args);
        }
        else if (!strcasecmp(d->directive, "<VirtualHost")) {
            if (vhosts) {
                vhosts(d, outer, ptemp);
            }
        }
        else if (d->first_child) {
            scope_read(d->first_child, sc, vhosts, outer, ptemp);
        }
    }
}

/* A virtual host inherits what it does not set. */
static void pin_vhost(const ap_directive_t *d, const dbd_scope *outer,
                      apr_pool_t *ptemp)
{
    dbd_scope sc = *outer;

    scope_read(d->first_child, &sc, NULL, NULL, ptemp);
    pin_scope(&sc);
}

int ota_dbcheck_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                            server_rec *s)
{
    dbd_scope top = { NULL, NULL }, none = { NULL, NULL };

    pins = NULL;
    if (apr_pool_create(&pins_pool, pconf) != APR_SUCCESS) {
        return OK;
    }
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&pins_lock, APR_THREAD_MUTEX_DEFAULT,
                                pconf) != APR_SUCCESS) {
        return OK;
    }
#endif
    pins = apr_hash_make(pins_pool);
    /* the top level first: virtual hosts inherit it, wherever they are */
    scope_read(ap_conftree, &top, NULL, NULL, ptemp);
    pin_scope(&top);
    scope_read(ap_conftree, &none, pin_vhost, &top, ptemp);
    return OK;
}

/* mod_dbd's post_connect: right after the open, the file the path names
 * is the one the connection opened. */
static apr_status_t dbcheck_post_connect(apr_pool_t *p, dbd_cfg_t *cfg,
                                         ap_dbd_t *dbd)
{
    dbfile_conn *f;

    if (!cfg->name || strcasecmp(cfg->name, "sqlite3")
        || !ota_dbfile_is_path(cfg->params)) {
        return APR_SUCCESS;
    }
    f = apr_pcalloc(dbd->pool, sizeof(*f));
    f->cfg = cfg;
    f->path = cfg->params;
    ota_dbfile_id_of(&f->id, f->path);
    pin_get(f->path, &f->id, &f->pin);
    apr_pool_userdata_setn(f, DBFILE_KEY, NULL, dbd->pool);
    return APR_SUCCESS;
}

void ota_dbcheck_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(dbd, post_connect, dbcheck_post_connect, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

int ota_dbcheck_unavailable(request_rec *r, const char *id,
                            const char *reason)
{
    apr_table_setn(r->err_headers_out, "Retry-After", OTA_DB_RETRY_AFTER);
    apr_table_setn(r->notes, NOTE_ID, id);
    apr_table_setn(r->notes, NOTE_REASON, reason);
    return HTTP_SERVICE_UNAVAILABLE;
}

/* dbd's handle replaced by a new one on the file at the path, with what
 * mod_dbd gives a new connection: its DBDPrepareSQL statements and the
 * post_connect hooks (DBDInitSQL, and ours, which ties it anew). The old
 * handle is closed: sqlite3 sees its file has moved and checkpoints
 * nothing into it. */
static apr_status_t reopen(ap_dbd_t *dbd, dbd_cfg_t *cfg, const char **err)
{
    apr_array_header_t *hooks;
    apr_hash_index_t *hi;
    apr_dbd_prepared_t *st;
    apr_dbd_t *handle = NULL;
    apr_status_t rv;
    const void *label;
    void *sql;
    int i;

    rv = apr_dbd_open_ex(dbd->driver, dbd->pool, cfg->params, &handle, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_dbd_close(dbd->driver, dbd->handle);
    dbd->handle = handle;
    dbd->prepared = apr_hash_make(dbd->pool);
    for (hi = apr_hash_first(dbd->pool, cfg->queries); hi;
         hi = apr_hash_next(hi)) {
        apr_hash_this(hi, &label, NULL, &sql);
        st = NULL;
        if (*(const char *)sql
            && apr_dbd_prepare(dbd->driver, dbd->pool, handle, sql, label,
                               &st) == 0) {
            apr_hash_set(dbd->prepared, label, APR_HASH_KEY_STRING, st);
        }
    }
    if ((hooks = apr_optional_hook_get("post_connect"))) {
        for (i = 0; i < hooks->nelts; i++) {
            ((dbd_LINK_post_connect_t *)hooks->elts)[i].pFunc(dbd->pool,
                                                              cfg, dbd);
        }
    }
    return APR_SUCCESS;
}

/* The server's file is at its path again, but this connection opened
 * another one while it was away. */
static int connection_reopen(request_rec *r, ap_dbd_t *dbd, dbfile_conn *f)
{
    const char *err = NULL;
    apr_status_t rv = reopen(dbd, f->cfg, &err);

    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "OTA00006: %s is back, "
                      "but a connection opened while it was away could not "
                      "be reopened on it: %s", f->path, err ? err : "");
        return ota_dbcheck_unavailable(r, "OTA00006", apr_pstrcat(r->pool,
                                       "cannot reopen ", f->path, NULL));
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "OTA00018: a database "
                  "connection opened while %s was away was reopened on it",
                  f->path);
    return OK;
}

static int file_gone(request_rec *r, const dbfile_conn *f, apr_status_t rv)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "OTA00005: the sqlite3 "
                  "database %s is gone (deleted or moved while Apache runs); "
                  "nothing is written until it is back: move it back, or "
                  "restart Apache to start an empty registry", f->path);
    return ota_dbcheck_unavailable(r, "OTA00005", apr_pstrcat(r->pool,
                                   "the database file ", f->path,
                                   " is gone (deleted or moved)", NULL));
}

static int file_replaced(request_rec *r, const dbfile_conn *f)
{
    const char *base = strrchr(f->path, '/');

    base = base ? base + 1 : f->path;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00006: %s is not the "
                  "sqlite3 database this server opened (replaced while "
                  "Apache runs); nothing is written to either: restart "
                  "Apache to use the new file, with its own %s-wal and "
                  "%s-shm or none (sqlite3 applies the -wal it finds to "
                  "the file it finds)", f->path, base, base);
    return ota_dbcheck_unavailable(r, "OTA00006", apr_pstrcat(r->pool,
                                   "the database file ", f->path, " was "
                                   "replaced while Apache runs", NULL));
}

int ota_dbcheck_connection(request_rec *r, ap_dbd_t *dbd)
{
    dbfile_conn *f = NULL;
    ota_dbfile_id now;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&f, DBFILE_KEY, dbd->pool);
    if (!f) {
        return OK;
    }
    /* for the diagnoses of a failure later in the request */
    apr_pool_userdata_setn(f->path, DBPATH_KEY, NULL, r->pool);
    rv = ota_dbfile_id_of(&now, f->path);
    if (rv == APR_SUCCESS && ota_dbfile_id_same(&now, &f->pin)) {
        return ota_dbfile_id_same(&f->id, &f->pin) ? OK
               : connection_reopen(r, dbd, f);
    }
    if (rv != APR_SUCCESS || !now.found) {
        return file_gone(r, f, rv);
    }
    return file_replaced(r, f);
}

/* The name of the user this process runs as. */
static const char *process_user(apr_pool_t *p)
{
    apr_uid_t uid;
    apr_gid_t gid;
    char *name = NULL;

    if (apr_uid_current(&uid, &gid, p) != APR_SUCCESS
        || apr_uid_name_get(&name, uid, p) != APR_SUCCESS) {
        return "the Apache user";
    }
    return name;
}

static int read_only(request_rec *r, const char *path, const char *why)
{
    const char *base = strrchr(path, '/');
    const char *user = process_user(r->pool);
    const char *files = ota_dbfile_unwritable(path, r->pool);

    base = base ? base + 1 : path;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00007: the sqlite3 "
                  "database %s is read-only for %s (%s): make %s, %s-wal "
                  "and %s-shm and their directory writable by %s%s%s", path,
                  user, why, base, base, base, user,
                  files ? "; not writable now: " : "", files ? files : "");
    return ota_dbcheck_unavailable(r, "OTA00007", apr_psprintf(r->pool,
                                   "the database %s is read-only for %s%s%s",
                                   path, user, files ? ": " : "",
                                   files ? files : ""));
}

int ota_dbcheck_error(request_rec *r, const char *why)
{
    const char *path = NULL;

    why = why ? why : "unknown";
    apr_pool_userdata_get((void **)&path, DBPATH_KEY, r->pool);
    switch (path ? ota_dbfile_error_kind(why) : OTA_DBFILE_ERROR_OTHER) {
    case OTA_DBFILE_ERROR_READONLY:
        return read_only(r, path, why);
    case OTA_DBFILE_ERROR_DISK:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00008: the disk "
                      "under the sqlite3 database %s failed (%s): free "
                      "space on its file system, or check the disk", path,
                      why);
        return ota_dbcheck_unavailable(r, "OTA00008", why);
    case OTA_DBFILE_ERROR_DAMAGED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00009: the sqlite3 "
                      "database %s is damaged (%s): restore it from a "
                      "backup (sqlite3 %s 'PRAGMA integrity_check' shows "
                      "what is wrong)", path, why, path);
        return ota_dbcheck_unavailable(r, "OTA00009", why);
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "OTA00014: database "
                      "error: %s", why);
        return ota_dbcheck_unavailable(r, "OTA00014", why);
    }
}

int ota_dbcheck_store_failing(request_rec *r, const char **id,
                              const char **reason)
{
    const char *path = NULL, *files;
    apr_uint64_t avail;

    if ((*id = apr_table_get(r->notes, NOTE_ID))) {
        *reason = apr_table_get(r->notes, NOTE_REASON);
        return 1;
    }
    apr_pool_userdata_get((void **)&path, DBPATH_KEY, r->pool);
    if (!path) {
        return 0;
    }
    if ((files = ota_dbfile_unwritable(path, r->pool))) {
        *id = "OTA00007";
        *reason = apr_psprintf(r->pool, "the database %s is read-only for "
                               "%s: %s", path, process_user(r->pool), files);
        return 1;
    }
    if (ota_dbfile_space(&avail, path, r->pool) == APR_SUCCESS
        && avail < OTA_DBFILE_MIN_FREE) {
        *id = "OTA00008";
        *reason = apr_psprintf(r->pool, "the file system of %s is full (%"
                               APR_UINT64_T_FMT " bytes free)", path, avail);
        return 1;
    }
    return 0;
}
