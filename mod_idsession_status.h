/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession_status: what the two glue files share.  The counters that
 * mod_status and the idsession-metrics handler show, counted on the request
 * path with one atomic add each, and the numbers of the log messages.
 * Internal: not installed.
 */

#ifndef MOD_IDSESSION_STATUS_H
#define MOD_IDSESSION_STATUS_H

#include "httpd.h"
#include "apr_atomic.h"

/* A log message's stable number, listed in docs/operations.md ("Log messages"); a
 * number is never reused. */
#define IDS_LOGNO(n) "IDS" #n ": "

/* The counters, in the order of their ?auto lines. */
typedef enum {
    IDS_C_KEPT = 0,
    IDS_C_MINTED,
    IDS_C_REFUSED_MALFORMED,
    IDS_C_REFUSED_SIGNATURE,
    IDS_C_EXPIRED_IDLE,
    IDS_C_EXPIRED_LIFETIME,
    IDS_C_REVOKED_REFUSED,
    IDS_C_RENEWED,
    IDS_C_RESETS,
    IDS_C_RESETS_REFUSED,
    IDS_C_APP_ROTATIONS,
    IDS_C_RANDOM_FAILURES,
    IDS_C_STORE_ERRORS,
    IDS_C_STORE_BREAKER_OPEN,   /* a gauge: breakers open now */
    IDS_C_COUNT
} ids_counter;

/* Secrets a section may have: one IDSessionVerifiedKeyN each. */
#define IDS_KEYS_MAX 32

/* Shared by every process of the server, kept across graceful restarts. */
typedef struct {
    apr_uint64_t c[IDS_C_COUNT];
    apr_uint64_t key[IDS_KEYS_MAX];     /* by index in the section's ring */
} ids_counters;

/* The shared segment once post_config or pre_mpm found it; before, a
 * counter of this process that nobody reads, so that counting needs no
 * test. */
extern ids_counters *ids_ctr;

/* One relaxed atomic add: no lock, exact under any MPM.  The compiler's
 * builtin where there is one: inline, and seen by ThreadSanitizer. */
#if defined(__GNUC__)
#define ids_add_n(p, d) ((void)__atomic_fetch_add((p), (d), __ATOMIC_RELAXED))
#define ids_read(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#else
#define ids_add_n(p, d) ((void)apr_atomic_add64((p), (d)))
#define ids_read(p)     apr_atomic_read64(p)
#endif
#define ids_add(p)      ids_add_n((p), 1)

static APR_INLINE void ids_count(ids_counter i)
{
    ids_add(&ids_ctr->c[i]);
}

/* A gauge's step up or down (d is 1 or -1). */
static APR_INLINE void ids_gauge_add(ids_counter i, int d)
{
    ids_add_n(&ids_ctr->c[i], (apr_uint64_t)(apr_int64_t)d);
}

static APR_INLINE void ids_count_key(int k)
{
    ids_add(&ids_ctr->key[k]);
}

#define IDS_METRICS_HANDLER "idsession-metrics"

/* Registers the pre_mpm hook and the status_hook. */
void ids_status_register_hooks(void);

/* The idsession-metrics handler, for a request whose handler it is. */
int ids_metrics_handler(request_rec *r);

/* At each post_config: this generation's longest keyring (how many
 * IDSessionVerifiedKeyN lines) and the segment kept from the previous
 * generation, if any. */
void ids_status_post_config(server_rec *s, int keys);

#endif /* MOD_IDSESSION_STATUS_H */
