/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession_store: the revocation denylist behind IDSessionStore.
 *
 * One machine: an httpd socache provider (shmcb, dbm), looked up when the
 * directive is read, init'ed in post_config and, for providers that are not
 * thread-safe, guarded by the global mutex idsession-store, as mod_ssl's
 * ssl_scache.c does.  A fleet: Redis through hiredis, whose connect and
 * read timeouts are real (mod_socache_redis's are not; see docs/operations.md), with a
 * pool of connections per child process and the log ids sharded over the
 * servers listed.  Every Redis call has one deadline (the socache
 * providers are local: shmcb in shared memory, dbm a file under the global
 * mutex); a breaker per server stops asking a store that keeps failing, so
 * an outage costs a request nothing.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "util_mutex.h"
#include "apr_atomic.h"
#include "apr_global_mutex.h"
#include "apr_strings.h"

#include "idsession_core.h"
#include "mod_idsession_status.h"
#include "apr_thread_mutex.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <sys/socket.h>

#include "mod_idsession_store.h"

APLOG_USE_MODULE(idsession);

#define IDS_STORE_MUTEX   "idsession-store"
#define IDS_REDIS_PREFIX  "idsession:revoked:"
#define IDS_VALUE_MAX     24            /* a Unix second in decimal */

/* Consecutive failures and, once they reach the store's limit, the time
 * (apr_time_t) until which the store is not asked.  Per process. */
typedef struct {
    volatile apr_uint32_t fails;
    volatile apr_uint64_t until;
} ids_breaker;

/* A connection and the socket timeouts it has: setting them costs two
 * system calls, which a pooled connection skips while they fit. */
typedef struct {
    redisContext *c;
    apr_interval_time_t timeout;
} ids_redis_conn;

typedef struct {
    const char *host;           /* as configured */
    const char *ip;             /* resolved at startup: connect never
                                 * waits for DNS */
    apr_port_t port;
    ids_breaker brk;
    apr_thread_mutex_t *lock;   /* the idle connections; from child_init */
    ids_redis_conn *idle;
    int nidle;
    int cap;
} ids_redis;

struct ids_store {
    const char *name;           /* IDSessionStore's argument */
    int failures;               /* the breaker opens after this many */
    apr_interval_time_t retry;  /* ... for this long */
    int ready;                  /* post_config done (stores are shared by
                                 * the virtual hosts that inherit them) */
    int child_ready;            /* child_init done */
    /* socache */
    const ap_socache_provider_t *prov;
    ap_socache_instance_t *inst;
    apr_global_mutex_t *mutex;  /* AP_SOCACHE_FLAG_NOTMPSAFE only */
    ids_breaker brk;
    /* redis */
    ids_redis *servers;
    int nservers;
};

const char *ids_store_name(const ids_store *st)
{
    return st->name;
}

void ids_store_set_breaker(ids_store *st, int failures,
                           apr_interval_time_t retry)
{
    if (st->ready) {
        return;
    }
    st->failures = failures;
    st->retry = retry;
}

/* ---- the breaker -------------------------------------------------------- */

/* 1 if the store may be asked now.  Once open, one caller per retry
 * interval (the one that moves the time on) probes; the others skip. */
static int ids_breaker_allows(const ids_store *st, ids_breaker *b,
                              apr_time_t now)
{
    apr_uint64_t until;

    if (apr_atomic_read32(&b->fails) < (apr_uint32_t)st->failures) {
        return 1;
    }
    until = apr_atomic_read64(&b->until);
    if ((apr_uint64_t)now < until) {
        return 0;
    }
    return apr_atomic_cas64(&b->until, (apr_uint64_t)(now + st->retry),
                            until) == until;
}

/* IDSessionStoreBreakerOpen counts the breakers open now, in every child:
 * the call that opens one adds 1, the call that closes it (or the child's
 * exit) takes 1 off. */
static void ids_breaker_record(const ids_store *st, ids_breaker *b, int ok)
{
    apr_uint32_t was;

    if (ok) {
        if (apr_atomic_read32(&b->fails) != 0
            && apr_atomic_xchg32(&b->fails, 0) >= (apr_uint32_t)st->failures) {
            ids_gauge_add(IDS_C_STORE_BREAKER_OPEN, -1);
        }
        return;
    }
    ids_count(IDS_C_STORE_ERRORS);
    was = apr_atomic_inc32(&b->fails);
    if (was + 1 >= (apr_uint32_t)st->failures) {
        apr_atomic_set64(&b->until,
                         (apr_uint64_t)(apr_time_now() + st->retry));
        if (was + 1 == (apr_uint32_t)st->failures) {
            ids_gauge_add(IDS_C_STORE_BREAKER_OPEN, 1);
        }
    }
}

/* A child that exits with a breaker open takes it off the gauge. */
static apr_status_t ids_breakers_close(void *data)
{
    ids_store *st = data;
    int i;

    if (apr_atomic_read32(&st->brk.fails) >= (apr_uint32_t)st->failures) {
        ids_gauge_add(IDS_C_STORE_BREAKER_OPEN, -1);
    }
    for (i = 0; i < st->nservers; i++) {
        if (apr_atomic_read32(&st->servers[i].brk.fails)
            >= (apr_uint32_t)st->failures) {
            ids_gauge_add(IDS_C_STORE_BREAKER_OPEN, -1);
        }
    }
    return APR_SUCCESS;
}

/* ---- Redis -------------------------------------------------------------- */

static struct timeval ids_timeval(apr_interval_time_t t)
{
    struct timeval tv;

    tv.tv_sec = (long)apr_time_sec(t);
    tv.tv_usec = (long)apr_time_usec(t);
    return tv;
}

/* The time left before deadline as a timeval; 0 when none is left. */
static int ids_time_left(apr_time_t deadline, struct timeval *tv)
{
    apr_interval_time_t left = deadline - apr_time_now();

    if (left <= 0) {
        return 0;
    }
    *tv = ids_timeval(left);
    return 1;
}

/* An idle connection to rs (*pooled set), or a new one made before
 * deadline; 0 with *why when none could be made. */
static int ids_redis_get(ids_redis *rs, apr_time_t deadline,
                         ids_redis_conn *conn, int *pooled, apr_pool_t *p,
                         const char **why)
{
    struct timeval tv;
    int got = 0;

    if (*pooled && rs->lock && apr_thread_mutex_lock(rs->lock) == APR_SUCCESS) {
        if (rs->nidle > 0) {
            *conn = rs->idle[--rs->nidle];
            got = 1;
        }
        apr_thread_mutex_unlock(rs->lock);
    }
    *pooled = got;
    if (got) {
        return 1;
    }
    if (!ids_time_left(deadline, &tv)) {
        *why = "timed out";
        return 0;
    }
    conn->timeout = 0;
    conn->c = redisConnectWithTimeout(rs->ip, rs->port, tv);
    if (conn->c == NULL || conn->c->err) {
        *why = conn->c ? apr_psprintf(p, "connect: %s", conn->c->errstr)
                       : "connect: out of memory";
        if (conn->c) {
            redisFree(conn->c);
        }
        return 0;
    }
    return 1;
}

/* Gives conn back to rs's idle connections, or closes it. */
static void ids_redis_put(ids_redis *rs, ids_redis_conn *conn)
{
    if (conn->c->err == 0 && rs->lock
        && apr_thread_mutex_lock(rs->lock) == APR_SUCCESS) {
        if (rs->nidle < rs->cap) {
            rs->idle[rs->nidle++] = *conn;
            conn->c = NULL;
        }
        apr_thread_mutex_unlock(rs->lock);
    }
    if (conn->c) {
        redisFree(conn->c);
    }
}

/* Bounds conn's send and read by the socket's own timeouts: what is left
 * before deadline.  A pooled connection whose timeouts are within 1 ms of
 * that (the usual case: each call has the same budget) keeps them. */
static int ids_redis_bound(ids_redis_conn *conn, apr_time_t deadline)
{
    apr_interval_time_t left = deadline - apr_time_now();

    if (left <= 0) {
        return 0;
    }
    if (conn->timeout > left - 1000 && conn->timeout <= left + 1000) {
        return 1;
    }
    if (redisSetTimeout(conn->c, ids_timeval(left)) != REDIS_OK) {
        return 0;
    }
    conn->timeout = left;
    return 1;
}

/* Why a send or recv on conn failed, from errno. */
static apr_status_t ids_redis_errno(apr_pool_t *p, const char *what,
                                    const char **why)
{
    apr_status_t rv = APR_FROM_OS_ERROR(errno);

    if (APR_STATUS_IS_EAGAIN(rv)) {     /* SO_SNDTIMEO or SO_RCVTIMEO */
        *why = "timed out";
        return APR_TIMEUP;
    }
    *why = apr_psprintf(p, "%s: %pm", what, &rv);
    return rv;
}

/* Sends the n bytes of cmd on conn and reads one reply to buf
 * (IDS_RESP_REPLY_MAX bytes), before deadline: the socket's timeouts are
 * set to what is left (ids_redis_bound) before the send and again before
 * any further send or read, so a reply that trickles in is cut off at the
 * deadline too.  Usually one send and one recv, with no allocation:
 * hiredis's redisCommandArgv cost about 3,800 instructions more a call
 * (formatting, its buffers, the reply object).  hiredis only connects
 * these connections and sets their timeouts; its buffers are never used.
 * The reply is read into a buffer of this frame, so that the compiler
 * proves the recv in bounds (_FORTIFY_SOURCE has nothing left to check
 * at run time: see the package's lintian override), and is copied to buf
 * once whole.  On failure, *why says why. */
static apr_status_t ids_redis_io(ids_redis_conn *conn, const char *cmd,
                                 apr_size_t n, char *buf,
                                 ids_resp_reply *reply, apr_time_t deadline,
                                 apr_pool_t *p, const char **why)
{
    int fd = conn->c->fd;
    char in[IDS_RESP_REPLY_MAX];
    apr_size_t got = 0;
    apr_ssize_t k;

    if (!ids_redis_bound(conn, deadline)) {
        *why = "timed out";
        return APR_TIMEUP;
    }
    while (n > 0) {
        /* MSG_NOSIGNAL: a server gone away is an error, not SIGPIPE. */
        k = send(fd, cmd, n, MSG_NOSIGNAL);
        if (k >= 0) {
            cmd += k;
            n -= (apr_size_t)k;
        }
        else if (errno != EINTR) {
            return ids_redis_errno(p, "send", why);
        }
        if (n > 0 && !ids_redis_bound(conn, deadline)) {
            *why = "timed out";
            return APR_TIMEUP;
        }
    }
    for (;;) {
        k = recv(fd, in + got, sizeof(in) - 1 - got, 0);
        if (k > 0) {
            got += (apr_size_t)k;
            k = ids_resp_parse(in, got, reply);
            if (k > 0 && (apr_size_t)k == got) {
                memcpy(buf, in, got);
                if (reply->str) {
                    reply->str = buf + (reply->str - in);
                }
                return APR_SUCCESS;
            }
            if (k != 0 || got == sizeof(in) - 1) {
                *why = "protocol error";
                return APR_EGENERAL;
            }
        }
        else if (k == 0) {
            *why = "connection closed by the server";
            return APR_EOF;
        }
        else if (errno != EINTR) {
            return ids_redis_errno(p, "recv", why);
        }
        if (!ids_redis_bound(conn, deadline)) {
            *why = "timed out";
            return APR_TIMEUP;
        }
    }
}

/* Runs the command cmd (n bytes) on a connection to rs and reads its
 * reply to buf, all before deadline.  A pooled connection that fails
 * otherwise than by a timeout (the server restarted since) is replaced
 * once, in what is left of the time.  On failure, *why says why. */
static apr_status_t ids_redis_run(ids_redis *rs, const char *cmd, apr_size_t n,
                                  char *buf, ids_resp_reply *reply,
                                  apr_time_t deadline, apr_pool_t *p,
                                  const char **why)
{
    int pooled = 1, tries;
    apr_status_t rv = APR_EGENERAL;

    for (tries = 0; tries < 2; tries++) {
        ids_redis_conn conn;

        if (!ids_redis_get(rs, deadline, &conn, &pooled, p, why)) {
            return APR_EGENERAL;
        }
        rv = ids_redis_io(&conn, cmd, n, buf, reply, deadline, p, why);
        if (rv == APR_SUCCESS && reply->type != '-') {
            ids_redis_put(rs, &conn);
            return APR_SUCCESS;
        }
        redisFree(conn.c);
        if (rv == APR_SUCCESS) {
            *why = apr_pstrdup(p, reply->str);
            return APR_EGENERAL;
        }
        if (rv == APR_TIMEUP || !pooled) {
            break;
        }
        pooled = 0;
    }
    return rv;
}

/* The server that keeps log_id: its first digits pick one. */
static ids_redis *ids_redis_for(const ids_store *st, const char *log_id)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char ch = log_id[i];

        v = v * 16 + (unsigned)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
    }
    return &st->servers[v % (unsigned)st->nservers];
}

static void ids_redis_key(char *key, const char *log_id)
{
    memcpy(key, IDS_REDIS_PREFIX, sizeof(IDS_REDIS_PREFIX) - 1);
    memcpy(key + sizeof(IDS_REDIS_PREFIX) - 1, log_id, IDS_LOG_ID_CHARS);
    key[sizeof(IDS_REDIS_PREFIX) - 1 + IDS_LOG_ID_CHARS] = '\0';
}

/* The command of argc words whose argv[1], the key, is log_id's (written
 * here), run on the server that keeps log_id behind its breaker, with
 * *why naming the server; *reply points into buf (IDS_RESP_REPLY_MAX
 * bytes). */
static apr_status_t ids_redis_ask(ids_store *st, request_rec *r,
                                  const char *log_id, int argc,
                                  const char **argv, char *buf,
                                  ids_resp_reply *reply, apr_time_t deadline,
                                  const char **why)
{
    ids_redis *rs = ids_redis_for(st, log_id);
    char key[sizeof(IDS_REDIS_PREFIX) + IDS_LOG_ID_CHARS];
    char cmd[IDS_RESP_CMD_MAX];
    apr_size_t n;
    apr_status_t rv;

    if (!ids_breaker_allows(st, &rs->brk, apr_time_now())) {
        *why = apr_psprintf(r->pool, "redis %s:%d failed just before and "
                            "is not asked again yet", rs->host, rs->port);
        return APR_EAGAIN;
    }
    ids_redis_key(key, log_id);
    argv[1] = key;
    n = ids_resp_format(cmd, argc, argv);
    if (n == 0) {
        *why = "command too long";
        return APR_EGENERAL;
    }
    rv = ids_redis_run(rs, cmd, n, buf, reply, deadline, r->pool, why);
    ids_breaker_record(st, &rs->brk, rv == APR_SUCCESS);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(r->pool, "redis %s:%d: %s", rs->host, rs->port,
                            *why);
    }
    return rv;
}

static apr_status_t ids_redis_check(ids_store *st, request_rec *r,
                                    const char *log_id, apr_time_t deadline,
                                    apr_int64_t *from, const char **why)
{
    const char *argv[2] = { "GET", NULL };
    char buf[IDS_RESP_REPLY_MAX];
    ids_resp_reply reply;
    apr_status_t rv;

    rv = ids_redis_ask(st, r, log_id, 2, argv, buf, &reply, deadline, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (reply.type != '$') {
        *why = "redis: unexpected reply to GET";
        return APR_EGENERAL;
    }
    if (reply.str == NULL) {
        return APR_NOTFOUND;
    }
    *from = apr_atoi64(reply.str);
    return APR_SUCCESS;
}

static apr_status_t ids_redis_revoke(ids_store *st, request_rec *r,
                                     const char *const *log_ids, int n,
                                     apr_int64_t from, apr_int64_t until,
                                     apr_interval_time_t timeout, int flags,
                                     int *done, const char **why)
{
    apr_time_t deadline = apr_time_now() + timeout;
    int argc = flags & IDS_REVOKE_EARLIER ? 6 : 5;
    apr_int64_t ttl = until - apr_time_sec(apr_time_now());
    const char *value = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, from);
    const char *ex = apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                  ttl > 0 ? ttl : 1);
    int i;

    /* One command per id, to its own server: an application names few;
     * an administrator's list of thousands gets a timeout for each. */
    for (i = 0; i < n; i++) {
        const char *argv[6] = { "SET", NULL, value, "EX", ex, "NX" };
        char buf[IDS_RESP_REPLY_MAX];
        ids_resp_reply reply;
        apr_status_t rv;

        if ((flags & IDS_REVOKE_EACH) && i > 0) {
            deadline = apr_time_now() + timeout;
        }
        rv = ids_redis_ask(st, r, log_ids[i], argc, argv, buf, &reply,
                           deadline, why);
        if (rv != APR_SUCCESS) {
            *done = i;
            return rv;
        }
    }
    *done = n;
    return APR_SUCCESS;
}

/* ---- socache ------------------------------------------------------------ */

static apr_status_t ids_socache_lock(ids_store *st)
{
    return st->mutex ? apr_global_mutex_lock(st->mutex) : APR_SUCCESS;
}

static void ids_socache_unlock(ids_store *st)
{
    if (st->mutex) {
        apr_global_mutex_unlock(st->mutex);
    }
}

/* log_id's entry into buf (*len bytes at most, then its length), the lock
 * held; APR_NOTFOUND when there is none. */
static apr_status_t ids_socache_get(ids_store *st, request_rec *r,
                                    const char *log_id, unsigned char *buf,
                                    unsigned int *len)
{
    apr_status_t rv = st->prov->retrieve(st->inst, r->server,
                                         (const unsigned char *)log_id,
                                         IDS_LOG_ID_CHARS, buf, len, r->pool);

    /* mod_socache_dbm answers a missing key with APR_EGENERAL (its fetch
     * gives an empty datum); it logs real failures itself. */
    return rv == APR_EGENERAL ? APR_NOTFOUND : rv;
}

static apr_status_t ids_socache_check(ids_store *st, request_rec *r,
                                      const char *log_id, apr_int64_t *from,
                                      const char **why)
{
    unsigned char buf[IDS_VALUE_MAX];
    unsigned int len = sizeof(buf) - 1;
    apr_status_t rv;

    if (!ids_breaker_allows(st, &st->brk, apr_time_now())) {
        *why = "it failed just before and is not asked again yet";
        return APR_EAGAIN;
    }
    if ((rv = ids_socache_lock(st)) == APR_SUCCESS) {
        rv = ids_socache_get(st, r, log_id, buf, &len);
        ids_socache_unlock(st);
    }
    ids_breaker_record(st, &st->brk, rv == APR_SUCCESS || rv == APR_NOTFOUND);
    if (rv == APR_SUCCESS) {
        buf[len] = '\0';
        *from = apr_atoi64((const char *)buf);
    }
    else if (rv != APR_NOTFOUND) {
        *why = apr_psprintf(r->pool, "retrieve: %pm", &rv);
    }
    return rv;
}

static apr_status_t ids_socache_revoke(ids_store *st, request_rec *r,
                                       const char *const *log_ids, int n,
                                       apr_int64_t from, apr_int64_t until,
                                       int flags, int *done, const char **why)
{
    char *value = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, from);
    unsigned char buf[IDS_VALUE_MAX];
    unsigned int len;
    apr_status_t rv = APR_SUCCESS;
    int i;

    *done = 0;
    if (!ids_breaker_allows(st, &st->brk, apr_time_now())) {
        *why = "it failed just before and is not asked again yet";
        return APR_EAGAIN;
    }
    for (i = 0; i < n && rv == APR_SUCCESS; i++) {
        if ((rv = ids_socache_lock(st)) == APR_SUCCESS) {
            len = sizeof(buf) - 1;
            /* A failed lookup counts as none: the store call says why. */
            if (!(flags & IDS_REVOKE_EARLIER)
                || ids_socache_get(st, r, log_ids[i], buf, &len)
                   != APR_SUCCESS) {
                rv = st->prov->store(st->inst, r->server,
                                     (const unsigned char *)log_ids[i],
                                     IDS_LOG_ID_CHARS, apr_time_from_sec(until),
                                     (unsigned char *)value,
                                     (unsigned int)strlen(value), r->pool);
            }
            ids_socache_unlock(st);
        }
        if (rv == APR_SUCCESS) {
            *done = i + 1;
        }
    }
    ids_breaker_record(st, &st->brk, rv == APR_SUCCESS);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(r->pool, "store: %pm", &rv);
    }
    return rv;
}

/* ---- the interface ------------------------------------------------------ */

apr_status_t ids_store_check(ids_store *st, request_rec *r, const char *log_id,
                             apr_interval_time_t timeout, apr_int64_t *from,
                             const char **why)
{
    if (st->prov) {
        return ids_socache_check(st, r, log_id, from, why);
    }
    return ids_redis_check(st, r, log_id, apr_time_now() + timeout, from, why);
}

apr_status_t ids_store_revoke(ids_store *st, request_rec *r,
                              const char *const *log_ids, int n,
                              apr_int64_t from, apr_int64_t until,
                              apr_interval_time_t timeout, int flags,
                              int *done, const char **why)
{
    if (st->prov) {
        return ids_socache_revoke(st, r, log_ids, n, from, until, flags, done,
                                  why);
    }
    return ids_redis_revoke(st, r, log_ids, n, from, until, timeout, flags,
                            done, why);
}

/* redis:host:port,host:port,... */
static const char *ids_redis_parse(cmd_parms *cmd, ids_store *st,
                                   const char *list)
{
    char *copy = apr_pstrdup(cmd->temp_pool, list), *last, *item;
    apr_array_header_t *a = apr_array_make(cmd->pool, 2, sizeof(ids_redis));

    for (item = apr_strtok(copy, ",", &last); item;
         item = apr_strtok(NULL, ",", &last)) {
        ids_redis *rs = apr_array_push(a);
        char *scope;

        memset(rs, 0, sizeof(*rs));
        if (apr_parse_addr_port((char **)&rs->host, &scope, &rs->port, item,
                                cmd->pool) != APR_SUCCESS
            || rs->host == NULL || rs->port == 0 || scope) {
            return apr_psprintf(cmd->pool, "IDSessionStore: '%s' is not "
                                "host:port", item);
        }
    }
    if (a->nelts == 0) {
        return "IDSessionStore: redis: needs host:port[,host:port...]";
    }
    st->servers = (ids_redis *)a->elts;
    st->nservers = a->nelts;
    return NULL;
}

const char *ids_store_create(cmd_parms *cmd, const char *arg, ids_store **out)
{
    ids_store *st = apr_pcalloc(cmd->pool, sizeof(*st));
    const char *sep = ap_strchr_c(arg, ':');
    const char *kind = sep ? apr_pstrmemdup(cmd->temp_pool, arg, sep - arg)
                           : arg;
    const char *args = sep ? sep + 1 : NULL;
    const char *err;

    st->name = apr_pstrdup(cmd->pool, arg);
    st->failures = 3;
    st->retry = apr_time_from_sec(5);
    *out = st;
    if (!strcasecmp(kind, "redis")) {
        return ids_redis_parse(cmd, st, args ? args : "");
    }
    if (!strcasecmp(kind, "memcache")) {
        return "IDSessionStore: memcache is not supported: "
               "mod_socache_memcache sets no read timeout, so a frozen "
               "memcached would hold every request; use redis";
    }
    st->prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, kind,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (st->prov == NULL) {
        return apr_psprintf(cmd->pool, "IDSessionStore: the socache provider "
                            "'%s' is not loaded: load mod_socache_%s first "
                            "(LoadModule socache_%s_module "
                            "modules/mod_socache_%s.so, or a2enmod "
                            "socache_%s)", kind, kind, kind, kind, kind);
    }
    err = st->prov->create(&st->inst, args, cmd->temp_pool, cmd->pool);
    if (err) {
        return apr_psprintf(cmd->pool, "IDSessionStore %s: %s", arg, err);
    }
    return NULL;
}

void ids_store_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, IDS_STORE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t ids_socache_destroy(void *data)
{
    ids_store *st = data;

    if (st->inst) {
        st->prov->destroy(st->inst, NULL);
        st->inst = NULL;
    }
    return APR_SUCCESS;
}

/* Resolves rs's host once, and says at startup when it does not answer:
 * httpd starts all the same. */
static void ids_redis_start(ids_redis *rs, server_rec *s, apr_pool_t *pconf,
                            apr_interval_time_t timeout)
{
    apr_sockaddr_t *sa;
    redisContext *c;
    redisReply *reply;
    const char *why = NULL;
    struct timeval tv;
    apr_status_t rv;

    rv = apr_sockaddr_info_get(&sa, rs->host, APR_UNSPEC, rs->port, 0, pconf);
    if (rv != APR_SUCCESS || apr_sockaddr_ip_get((char **)&rs->ip, sa)
                             != APR_SUCCESS) {
        rs->ip = rs->host;
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, IDS_LOGNO(00019) "IDSessionStore: "
                     "cannot resolve %s; connecting by name", rs->host);
    }
    tv = ids_timeval(timeout);
    c = redisConnectWithTimeout(rs->ip, rs->port, tv);
    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK) {
        reply = redisCommand(c, "PING");
        if (reply == NULL) {
            why = c->errstr;
        }
        else {
            freeReplyObject(reply);
        }
    }
    else {
        why = c ? c->errstr : "out of memory";
    }
    if (why) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, IDS_LOGNO(00022) "IDSessionStore: "
                     "redis %s:%d does not answer (%s); httpd starts, and "
                     "IDSessionStoreFailure applies until it does",
                     rs->host, rs->port, why);
    }
    if (c) {
        redisFree(c);
    }
}

int ids_store_post_config(ids_store *st, server_rec *s, apr_pool_t *pconf,
                          apr_interval_time_t timeout)
{
    /* dbm sweeps its expired entries at most this often. */
    struct ap_socache_hints hints = { IDS_LOG_ID_CHARS, 12, apr_time_from_sec(30) };
    apr_status_t rv;
    int i;

    if (st->ready) {
        return OK;
    }
    st->ready = 1;
    if (st->prov == NULL) {
        for (i = 0; i < st->nservers; i++) {
            ids_redis_start(&st->servers[i], s, pconf, timeout);
        }
        return OK;
    }
    if (st->prov->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&st->mutex, NULL, IDS_STORE_MUTEX, NULL,
                                    s, pconf, 0);
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    rv = st->prov->init(st->inst, "mod_idsession-store", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, IDS_LOGNO(00020) "IDSessionStore %s: "
                     "cannot initialise the cache", st->name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* mod_socache_dbm's destroy deletes its file, and the denylist must
     * outlive a restart: its entries expire on their own. */
    if (strcmp(st->prov->name, "dbm") != 0) {
        apr_pool_cleanup_register(pconf, st, ids_socache_destroy,
                                  apr_pool_cleanup_null);
    }
    return OK;
}

static apr_status_t ids_redis_close_idle(void *data)
{
    ids_redis *rs = data;

    while (rs->nidle > 0) {
        redisFree(rs->idle[--rs->nidle].c);
    }
    return APR_SUCCESS;
}

void ids_store_child_init(ids_store *st, server_rec *s, apr_pool_t *p)
{
    int threads = 1, i;
    apr_status_t rv;

    if (st->child_ready) {
        return;
    }
    st->child_ready = 1;
    apr_pool_cleanup_register(p, st, ids_breakers_close,
                              apr_pool_cleanup_null);
    if (st->mutex) {
        rv = apr_global_mutex_child_init(&st->mutex,
                                         apr_global_mutex_lockfile(st->mutex),
                                         p);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, IDS_LOGNO(00021) "IDSessionStore: "
                         "cannot attach to the idsession-store mutex");
        }
        return;
    }
    if (st->prov) {
        return;
    }
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    for (i = 0; i < st->nservers; i++) {
        ids_redis *rs = &st->servers[i];

        /* One idle connection per thread at most. */
        rs->cap = threads > 0 ? threads : 1;
        rs->idle = apr_pcalloc(p, rs->cap * sizeof(*rs->idle));
        if (apr_thread_mutex_create(&rs->lock, APR_THREAD_MUTEX_DEFAULT, p)
            != APR_SUCCESS) {
            rs->lock = NULL;
        }
        apr_pool_cleanup_register(p, rs, ids_redis_close_idle,
                                  apr_pool_cleanup_null);
    }
}
