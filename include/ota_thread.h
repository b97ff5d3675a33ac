/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A worker thread's orderly end, shared by the GetCACaps refresher and the
 * registry's retention purge. */
#ifndef OTA_THREAD_H
#define OTA_THREAD_H

#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

/* Stops a worker thread that waits on cond until *stop is set: sets it
 * under mutex, wakes every waiter and joins the thread. */
void ota_thread_stop(apr_thread_t *thread, apr_thread_mutex_t *mutex,
                     apr_thread_cond_t *cond, volatile apr_uint32_t *stop);

#endif
