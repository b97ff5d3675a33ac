/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* A worker thread's orderly end (ota_thread.h). */
#include <apr_atomic.h>

#include "ota_thread.h"

void ota_thread_stop(apr_thread_t *thread, apr_thread_mutex_t *mutex,
                     apr_thread_cond_t *cond, volatile apr_uint32_t *stop)
{
    apr_status_t ignored;

    apr_thread_mutex_lock(mutex);
    apr_atomic_set32(stop, 1);
    apr_thread_cond_broadcast(cond);
    apr_thread_mutex_unlock(mutex);
    apr_thread_join(&ignored, thread);
}
