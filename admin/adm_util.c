/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* Small helpers of the admin command: messages. */
#include <stdarg.h>
#include <stdio.h>
#include <apr_strings.h>

#include "admin.h"

int adm_complain(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("ota-enroll: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

const char *adm_apr_error(apr_status_t rv, apr_pool_t *p)
{
    char buf[256];

    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}
