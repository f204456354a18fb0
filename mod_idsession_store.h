/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession_store: the revocation denylist (IDSessionStore), kept in
 * httpd's shared-object cache (socache) on one machine or in Redis across
 * a fleet.  Keys are SESSION_LOG_ID values; a value is the second from
 * which the session is refused.  No call waits longer than the timeout it
 * is given, and a per-process breaker skips a failing store for a while.
 */

#ifndef MOD_IDSESSION_STORE_H
#define MOD_IDSESSION_STORE_H

#include "httpd.h"
#include "http_config.h"

typedef struct ids_store ids_store;

/* Creates a store from IDSessionStore's argument, or returns why not. */
const char *ids_store_create(cmd_parms *cmd, const char *arg, ids_store **out);

/* The store's breaker: after failures consecutive failures, the store is
 * not asked for retry (apr time).  Set by the server that opens the store
 * (the first post_config): virtual hosts that inherit it share it. */
void ids_store_set_breaker(ids_store *st, int failures,
                           apr_interval_time_t retry);

/* The argument it was created from, for messages. */
const char *ids_store_name(const ids_store *st);

/* For the pre_config, post_config and child_init hooks. */
void ids_store_pre_config(apr_pool_t *pconf);
int ids_store_post_config(ids_store *st, server_rec *s, apr_pool_t *pconf,
                          apr_interval_time_t timeout);
void ids_store_child_init(ids_store *st, server_rec *s, apr_pool_t *p);

/* Looks up log_id (IDS_LOG_ID_CHARS hex digits), waiting at most timeout
 * for Redis (a socache provider is local and has no timeout):
 * APR_SUCCESS with *from, the Unix second from which the session is
 * refused; APR_NOTFOUND when it is not on the list; any other status when
 * the store did not answer, with *why saying why. */
apr_status_t ids_store_check(ids_store *st, request_rec *r, const char *log_id,
                             apr_interval_time_t timeout, apr_int64_t *from,
                             const char **why);

/* ids_store_revoke's flags: the timeout is for each id, not for all (an
 * administrator's long list); an id already on the list keeps its entry,
 * whose start is then never later than from (a replaced token's grace
 * window, which must not move a revocation or an earlier window). */
#define IDS_REVOKE_EACH     1
#define IDS_REVOKE_EARLIER  2

/* Puts the n log ids on the list, refused from the Unix second from and
 * kept until the Unix second until, within timeout in all (see the
 * flags); *done says how many are on it, in order; as ids_store_check for
 * the status and *why. */
apr_status_t ids_store_revoke(ids_store *st, request_rec *r,
                              const char *const *log_ids, int n,
                              apr_int64_t from, apr_int64_t until,
                              apr_interval_time_t timeout, int flags,
                              int *done, const char **why);

#endif /* MOD_IDSESSION_STORE_H */
