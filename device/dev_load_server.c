/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* load: the server's processes sampled from /proc, their CPU time and
 * resident memory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>

#include "dev.h"
#include "dev_load.h"

/* One process, from /proc/PID/stat. */
typedef struct proc_info {
    char comm[64];
    long ppid;
    apr_uint64_t user, sys;             /* its CPU ticks, all threads */
    apr_uint64_t reaped_user, reaped_sys;   /* of children it reaped */
    long rss;                           /* resident pages */
} proc_info;

/* 0 when the process is gone or unreadable. */
static int proc_read(proc_info *pi, long pid)
{
    char path[64], buf[1024], *lp, *rp;
    unsigned long long ut = 0, st = 0;
    long long cut = 0, cst = 0;
    apr_size_t n;
    FILE *f;

    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r"))) {
        return 0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the name is in parentheses and may hold anything: the last ')' */
    lp = strchr(buf, '(');
    rp = strrchr(buf, ')');
    if (!lp || !rp || rp < lp || !rp[1]) {
        return 0;
    }
    n = (apr_size_t)(rp - lp - 1);
    n = n < sizeof(pi->comm) ? n : sizeof(pi->comm) - 1;
    memcpy(pi->comm, lp + 1, n);
    pi->comm[n] = '\0';
    /* fields 3 to 24 of proc(5): state, ppid, ..., utime (14), stime,
     * cutime, cstime, ..., rss (24) */
    if (sscanf(rp + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
               "%llu %llu %lld %lld %*d %*d %*d %*d %*u %*u %ld", &pi->ppid,
               &ut, &st, &cut, &cst, &pi->rss) != 6) {
        return 0;
    }
    pi->user = ut;
    pi->sys = st;
    pi->reaped_user = cut > 0 ? (apr_uint64_t)cut : 0;
    pi->reaped_sys = cst > 0 ? (apr_uint64_t)cst : 0;
    return 1;
}

/* The server: the process `server` and its children (named comm, when
 * comm is given). */
void dev_server_sample_take(server_sample *out, const load_ctx *lc)
{
    long page_kb = sysconf(_SC_PAGESIZE) / 1024, pid;
    apr_uint64_t kb;
    struct dirent *e;
    proc_info pi;
    char *end;
    DIR *d;

    memset(out, 0, sizeof(*out));
    if (!lc->server || !(d = opendir("/proc"))) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || !proc_read(&pi, pid)) {
            continue;
        }
        if (pid != lc->server
            && (pi.ppid != lc->server
                || (lc->server_comm && strcmp(pi.comm, lc->server_comm)))) {
            continue;
        }
        out->procs++;
        out->ticks += pi.user + pi.sys;
        out->sys_ticks += pi.sys;
        if (pid == lc->server) {
            out->ticks += pi.reaped_user + pi.reaped_sys;
            out->sys_ticks += pi.reaped_sys;
        }
        kb = (apr_uint64_t)(pi.rss > 0 ? pi.rss : 0) * (apr_uint64_t)page_kb;
        out->rss_sum_kb += kb;
        out->rss_max_kb = kb > out->rss_max_kb ? kb : out->rss_max_kb;
    }
    closedir(d);
}

void dev_rss_print(const load_ctx *lc, int answers)
{
    server_sample s;

    dev_server_sample_take(&s, lc);
    printf("RSS answers=%d procs=%d sum_kb=%" APR_UINT64_T_FMT
           " max_kb=%" APR_UINT64_T_FMT "\n", answers, s.procs,
           s.rss_sum_kb, s.rss_max_kb);
}

/* The server to sample: --pidfile (apache2 and its apache2 children) or
 * --server-pid (a process and all its children). */
int dev_load_server(load_ctx *lc)
{
    const load_opts *o = &lc->dc->lo;
    const char *text;
    apr_size_t len;
    apr_status_t rv;

    if (o->server_pid) {
        lc->server = o->server_pid;
        return 0;
    }
    if (!o->pidfile) {
        return 0;
    }
    if ((rv = dev_file_read(&text, &len, o->pidfile, lc->p)) != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "--pidfile %s: %s", o->pidfile,
                            cli_apr_error(rv, lc->p));
    }
    lc->server = strtol(text, NULL, 10);
    lc->server_comm = "apache2";
    if (lc->server <= 0) {
        return cli_complain(EXIT_LOCAL, "--pidfile %s holds no pid",
                            o->pidfile);
    }
    return 0;
}
