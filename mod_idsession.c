/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession: every request gets a random session token.
 *
 * A fixups hook finds the client's session cookie or mints a new token,
 * and exposes it as SESSION_TOKEN in r->notes and r->subprocess_env.  The
 * idsession-reset handler swaps the token for a fresh one and redirects,
 * so an application can rotate the session at login (session fixation).
 * With IDSessionSecret the token carries an HMAC tag and only tokens this
 * site signed are accepted.  The token logic lives in idsession_core.c.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_atomic.h"
#include "apr_uri.h"
#include "util_script.h"

#include "mod_idsession.h"
#include "mod_idsession_status.h"
#include "idsession_core.h"
#include "mod_idsession_store.h"

#include <openssl/crypto.h>

module AP_MODULE_DECLARE_DATA idsession_module;

APLOG_USE_MODULE(idsession);

#define IDS_UNSET            (-1)
#define IDS_ADOPT_NONE       (-2)       /* IDSessionAdoptUntil none */
#define IDS_DEFAULT_PATH     "/"
#define IDS_DEFAULT_REDIRECT "/"
#define IDS_HANDLER          "idsession-reset"
#define IDS_FILTER           "IDSESSION"
#define IDS_FILTER_LATE      "IDSESSION_LATE"
#define IDS_APP_HEADER       "IDSession-Reset"
#define IDS_REVOKE_HEADER    "IDSession-Revoke"
#define IDS_REVOKE_HANDLER   "idsession-revoke"
#define IDS_REVOKE_BODY_MAX  65536
#define IDS_MAX_AGE_MAX      APR_INT64_C(2147483647)
#define IDS_SECRET_FILE_MAX  65536

/* The variables' names, in one object, so that a table key that points
 * into it is known to be one of them without reading it (ids_is_own_key). */
static const struct {
    char token[sizeof("SESSION_TOKEN")];
    char new_[sizeof("SESSION_TOKEN_NEW")];
    char next[sizeof("SESSION_TOKEN_NEXT")];
    char log_id[sizeof("SESSION_LOG_ID")];
    char store_key[sizeof("SESSION_STORE_KEY")];
    char withheld[sizeof("SESSION_COOKIE_WITHHELD")];
    char created[sizeof("SESSION_CREATED")];
    char expires[sizeof("SESSION_EXPIRES")];
    char expired[sizeof("SESSION_EXPIRED")];
    char key_index[sizeof("SESSION_KEY_INDEX")];
} ids_env = {
    "SESSION_TOKEN", "SESSION_TOKEN_NEW", "SESSION_TOKEN_NEXT",
    "SESSION_LOG_ID", "SESSION_STORE_KEY", "SESSION_COOKIE_WITHHELD",
    "SESSION_CREATED", "SESSION_EXPIRES", "SESSION_EXPIRED",
    "SESSION_KEY_INDEX"
};
#define IDS_ENV_TOKEN        ids_env.token
#define IDS_ENV_NEW          ids_env.new_
#define IDS_ENV_NEXT         ids_env.next
#define IDS_ENV_LOG_ID       ids_env.log_id
#define IDS_ENV_STORE_KEY    ids_env.store_key
#define IDS_ENV_WITHHELD     ids_env.withheld
#define IDS_ENV_CREATED      ids_env.created
#define IDS_ENV_EXPIRES      ids_env.expires
#define IDS_ENV_EXPIRED      ids_env.expired
#define IDS_ENV_KEY_INDEX    ids_env.key_index
#define IDS_RENEW_CAP        300    /* default renew interval at most */
/* How long a browser keeps a timed-out cookie: long enough to come back
 * and be told SESSION_EXPIRED, short enough not to carry it for ever. */
#define IDS_EXPIRED_GRACE    300
#define IDS_WARN_INTERVAL    60     /* seconds between repeated warnings */
#define IDS_STORE_TIMEOUT    250    /* ms, IDSessionStoreTimeout */
#define IDS_REVOKE_GRACE     10     /* s, IDSessionRevokeGrace */
#define IDS_REVOKE_KEEP      2592000 /* s (30 days), IDSessionRevokeKeep */
#define IDS_BREAKER_FAILURES 3      /* IDSessionStoreBreaker */
#define IDS_BREAKER_RETRY    5

typedef enum {
    IDS_SECURE_OFF = 0,
    IDS_SECURE_ON,
    IDS_SECURE_AUTO
} ids_secure;

/* What a cookie-name prefix makes browsers require, as flags:
 * __Secure- Secure; __Host- also Path=/ and no Domain; __Http- Secure and
 * HttpOnly; __Host-Http- all of them (draft-ietf-httpbis-layered-cookies). */
#define IDS_PREFIX_NONE      0
#define IDS_PREFIX_SECURE    1
#define IDS_PREFIX_HOST      2          /* Path=/, no Domain */
#define IDS_PREFIX_HTTP      4          /* HttpOnly */
typedef int ids_prefix;

/* How a request's Origin or Referer relates to its own origin. */
#define IDS_REL_SAME_ORIGIN  0
#define IDS_REL_SAME_SITE    1
#define IDS_REL_CROSS_SITE   2

/* Who may use the reset handler (IDSessionResetFrom). */
typedef enum {
    IDS_FROM_SAME_ORIGIN = 0,
    IDS_FROM_SAME_SITE,
    IDS_FROM_ANY
} ids_from;

/* The cookie name with what the request path needs of it, worked out once
 * when the directive is read. */
typedef struct {
    const char *s;
    apr_size_t len;
    ids_prefix prefix;
} ids_name;

static const ids_name ids_default_name = { "_session", 8, IDS_PREFIX_NONE };

/* The Set-Cookie attributes after the value but Max-Age, worked out at
 * startup for a server's settings: [1] over https, [0] otherwise; when
 * that is not a per-request question (!by_scheme), [0] is the one. */
typedef struct {
    const char *s[2];
    apr_size_t len[2];
    apr_size_t split;           /* where a Max-Age goes */
    int by_scheme;
} ids_tail;

/* Per-directory configuration; IDS_UNSET or NULL inherit from outside. */
typedef struct {
    int enabled;
    const ids_name *cookie_name;
    const char *cookie_path;
    const char *cookie_domain;
    int secure;                 /* ids_secure */
    int httponly;
    int samesite;               /* ids_samesite */
    apr_int64_t max_age;
    int token_bytes;
    const char *reset_redirect;
    const ids_keyring *ring;    /* keys[0] signs; NULL: inherit */
    const char *header;         /* "" : explicitly none */
    int app_reset;
    int partitioned;
    int reset_from;             /* ids_from */
    apr_int64_t idle_timeout;   /* seconds; 0: off */
    apr_int64_t max_lifetime;   /* seconds; 0: off */
    apr_int64_t renew_interval; /* seconds; IDS_UNSET: from idle_timeout */
    apr_int64_t adopt_until;    /* Unix seconds; IDS_UNSET (inherit) and
                                 * IDS_ADOPT_NONE: no adoption */
    int app_revoke;             /* IDSessionAppRevoke */
    int store_closed;           /* IDSessionStoreFailure closed */
    const ids_tail *tail;       /* NULL: the attributes are written whole */
} ids_dir_conf;

/* Per-server configuration: the revocation store.  Unset fields inherit
 * from the main server; post_config gives the rest their defaults. */
typedef struct {
    ids_store *store;           /* NULL: no revocation */
    apr_int64_t timeout;        /* ms */
    apr_int64_t grace;          /* seconds */
    apr_int64_t keep;           /* seconds */
    apr_int64_t breaker_failures;
    apr_int64_t breaker_retry;  /* seconds */
    apr_int64_t reuse;          /* seconds, IDSessionStoreReuse */
} ids_srv_conf;

/* The session of one request chain (main request, its subrequests and
 * internal redirects), kept in the chain's first request. */
typedef struct {
    const char *token;
    const char *log_id;
    const char *store_key;
    const char *next;           /* SESSION_TOKEN_NEXT, minted on demand */
    const char *cookie;         /* the Set-Cookie this chain sent, if any */
    const char *cookie_name;    /* ... and the name it was sent under */
    const ids_dir_conf *app;    /* where the next token was offered */
    /* The rules the token was read or minted under; a request of the
     * chain with other rules checks it against its own. */
    const ids_keyring *rule_ring;
    apr_size_t rule_nbytes;
    const char *header;         /* the IDSessionHeader it was put in */
    const request_rec *done;    /* the last request given (or denied) it */
    int minted;                 /* token is new in this chain */
    int withheld;               /* the browser may hold a cookie it did not
                                 * send: no Set-Cookie for the new token */
    int failed;                 /* the random source failed */
    /* With timeouts (IDSessionIdleTimeout, IDSessionMaxLifetime): */
    int timed;                  /* the cookie carries a stamp */
    int renewed_now;            /* a fresh stamp goes out with this chain */
    apr_int64_t created;        /* the stamp's times, Unix seconds */
    apr_int64_t renewed;
    apr_int64_t expires;        /* SESSION_EXPIRES */
    apr_int64_t end_idle;       /* ... under these timeouts */
    apr_int64_t end_life;
    const char *stamp;          /* the cookie's stamp, as the client sent
                                 * it (IDS_STAMP_CHARS); NULL: none */
    const char *created_s;      /* SESSION_CREATED and SESSION_EXPIRES */
    const char *expires_s;
    const char *expired;        /* SESSION_EXPIRED: "idle", "lifetime" or
                                 * "revoked" */
    /* With IDSessionStore: */
    int unavailable;            /* IDSessionStoreFailure closed refused it */
    int revoked_now;            /* the application revoked the token */
    int app_revoke;             /* IDSessionAppRevoke On in the chain */
    int key;                    /* SESSION_KEY_INDEX; -1: unsigned */
    /* The key index under the last other keyring a section of the chain
     * had (ids_key_under): one verification for its check and its
     * variable. */
    const ids_keyring *other_ring;
    int other_timed;            /* ... whose section had timeouts */
    int other_key;
} ids_state;

/* The last token a connection's client sent that was well-formed, so that
 * the next request on the connection skips the HMAC and the store key.
 * The keyring and size are part of the key, as locations may differ in
 * both.  Only the cookie value (compared in full) selects it, so a front
 * proxy that multiplexes clients on one connection gets fewer hits, never
 * another client's session. */
typedef struct {
    const ids_keyring *ring;
    apr_size_t nbytes;
    int timed;                  /* token is the cookie's token.stamp */
    int key;                    /* as ids_state's */
    apr_size_t len;
    char token[IDS_TOKEN_MAX_CHARS + 1 + IDS_STAMP_CHARS + 1];
    char store_key[IDS_STORE_KEY_CHARS + 1];
    apr_int64_t created;        /* the stamp's verified times, when timed */
    apr_int64_t renewed;
    /* ... and SESSION_CREATED and SESSION_EXPIRES of them: the digits of
     * created at times[created_at], of expires at
     * times[IDS_NUM_CHARS + expires_at], where expires is the end under
     * the timeouts of the request that verified it. */
    apr_int64_t expires;
    char times[2 * IDS_NUM_CHARS];
    unsigned char created_at;
    unsigned char expires_at;
    apr_int64_t clear_until;    /* IDSessionStoreReuse: clear_store said
                                 * "not revoked" for it, good until then */
    const ids_store *clear_store;
} ids_conn_memo;

/* One memo per client connection (the master connection of HTTP/2's
 * streams), made at pre_connection, when no stream can run yet.  Streams
 * run in parallel on other threads: a request takes the record with an
 * atomic exchange and gives it back after its scan, so one owner at a time
 * reads or writes it, without a lock; a request that finds it taken
 * verifies in full.  Memory: one record per connection. */
typedef struct {
    void *rec;                  /* the ids_conn_memo, NULL while taken */
    ids_conn_memo memo;
} ids_memo_slot;

/* The compiler's builtin where there is one: inline, and visible to
 * ThreadSanitizer, which cannot see into libapr's atomics. */
#if defined(__GNUC__)
#define ids_xchgptr(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#else
#define ids_xchgptr(p, v) apr_atomic_xchgptr((volatile void **)(p), (v))
#endif

/* For the branch of a hook that most requests skip: kept out of line, the
 * hook itself stays a few instructions without a stack frame. */
#if defined(__GNUC__)
#define IDS_NOINLINE __attribute__((noinline))
#else
#define IDS_NOINLINE
#endif

static ap_filter_rec_t *ids_filter_handle;
static ap_filter_rec_t *ids_late_handle;

/* Whether mod_cache is loaded; set in post_config, read-only afterwards. */
static int ids_have_cache;

/* Whether the configuration has an IDSessionStore or IDSessionAppRevoke
 * On anywhere: without, requests skip every revocation step.  Reset in
 * pre_config, set while the configuration is read. */
static int ids_revocation;

/* When each rate-limited message was last logged (apr_time_sec), per
 * process, one word per message so that neither hides the other; written
 * only on the message's own rare path. */
static volatile apr_uint32_t ids_unoffered_at;
static volatile apr_uint32_t ids_untimed_at;
static volatile apr_uint32_t ids_renew_at;
static volatile apr_uint32_t ids_malformed_at;
static volatile apr_uint32_t ids_forged_at;
static volatile apr_uint32_t ids_store_failed_at;

/* Warnings found while reading the configuration, logged once the error
 * log is open (post_config) and by apache2 -t (test_config).  Reset in
 * pre_config, written only while the configuration is read. */
static apr_array_header_t *ids_config_warnings;

/* The most IDSessionSecret lines of a section, for the counters; reset in
 * pre_config, written only while the configuration is read. */
static int ids_longest_ring;

/* Whether an IDSessionHeader is set outside any section (server config or
 * virtual host), the only settings in force at post_read_request; reset
 * in pre_config, set while the configuration is read (set_header). */
static int ids_server_header;

/* How long any section of the configuration may accept a session, for the
 * denylist: reset in pre_config, set while the configuration is read
 * (set_timeout, set_adopt_until). */
static struct {
    apr_int64_t longest;        /* the longest IDSessionMaxLifetime */
    int everywhere;             /* one in the main server's own settings */
    int zero;                   /* an IDSessionMaxLifetime 0 anywhere */
    apr_int64_t adopt;          /* the latest IDSessionAdoptUntil */
} ids_lifetimes;

/* ---- configuration ----------------------------------------------------- */

static void *ids_create_dir_conf(apr_pool_t *p, char *dir)
{
    ids_dir_conf *c = apr_pcalloc(p, sizeof(*c));

    c->enabled = IDS_UNSET;
    c->secure = IDS_UNSET;
    c->httponly = IDS_UNSET;
    c->samesite = IDS_UNSET;
    c->max_age = IDS_UNSET;
    c->token_bytes = IDS_UNSET;
    c->app_reset = IDS_UNSET;
    c->partitioned = IDS_UNSET;
    c->reset_from = IDS_UNSET;
    c->idle_timeout = IDS_UNSET;
    c->max_lifetime = IDS_UNSET;
    c->renew_interval = IDS_UNSET;
    c->adopt_until = IDS_UNSET;
    c->app_revoke = IDS_UNSET;
    c->store_closed = IDS_UNSET;
    return c;
}

/* 1 if add sets anything that ids_cookie_attrs_of reads but Max-Age
 * (which is not in the tail): the merge then cannot keep the tail worked
 * out for its base. */
static int ids_sets_cookie_attrs(const ids_dir_conf *add)
{
    return add->cookie_name || add->cookie_path || add->cookie_domain
           || add->secure != IDS_UNSET || add->httponly != IDS_UNSET
           || add->samesite != IDS_UNSET || add->partitioned != IDS_UNSET;
}

#define IDS_MERGE_INT(f)  c->f = add->f != IDS_UNSET ? add->f : base->f
#define IDS_MERGE_PTR(f)  c->f = add->f != NULL ? add->f : base->f

static void *ids_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ids_dir_conf *base = basev, *add = addv;
    ids_dir_conf *c = apr_palloc(p, sizeof(*c));

    IDS_MERGE_INT(enabled);
    IDS_MERGE_PTR(cookie_name);
    IDS_MERGE_PTR(cookie_path);
    IDS_MERGE_PTR(cookie_domain);
    IDS_MERGE_INT(secure);
    IDS_MERGE_INT(httponly);
    IDS_MERGE_INT(samesite);
    IDS_MERGE_INT(max_age);
    IDS_MERGE_INT(token_bytes);
    IDS_MERGE_PTR(reset_redirect);
    IDS_MERGE_PTR(ring);
    IDS_MERGE_PTR(header);
    IDS_MERGE_INT(app_reset);
    IDS_MERGE_INT(partitioned);
    IDS_MERGE_INT(reset_from);
    IDS_MERGE_INT(idle_timeout);
    IDS_MERGE_INT(max_lifetime);
    IDS_MERGE_INT(renew_interval);
    IDS_MERGE_INT(adopt_until);
    IDS_MERGE_INT(app_revoke);
    IDS_MERGE_INT(store_closed);
    c->tail = ids_sets_cookie_attrs(add) ? NULL : base->tail;
    return c;
}

static void *ids_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    ids_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    c->timeout = IDS_UNSET;
    c->grace = IDS_UNSET;
    c->keep = IDS_UNSET;
    c->breaker_failures = IDS_UNSET;
    c->breaker_retry = IDS_UNSET;
    c->reuse = IDS_UNSET;
    return c;
}

static void *ids_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const ids_srv_conf *base = basev, *add = addv;
    ids_srv_conf *c = apr_palloc(p, sizeof(*c));

    IDS_MERGE_PTR(store);
    IDS_MERGE_INT(timeout);
    IDS_MERGE_INT(grace);
    IDS_MERGE_INT(keep);
    IDS_MERGE_INT(breaker_failures);
    IDS_MERGE_INT(breaker_retry);
    IDS_MERGE_INT(reuse);
    return c;
}

static const ids_name *ids_cookie_name(const ids_dir_conf *c)
{
    return c->cookie_name ? c->cookie_name : &ids_default_name;
}

static apr_size_t ids_token_bytes(const ids_dir_conf *c)
{
    return c->token_bytes != IDS_UNSET ? (apr_size_t)c->token_bytes
                                       : IDS_TOKEN_BYTES_DEFAULT;
}

/* 1 if c signs tokens: an IDSessionSecret applies. */
static APR_INLINE int ids_signed(const ids_dir_conf *c)
{
    return c->ring != NULL && c->ring->n > 0;
}

/* 1 if c sets a timeout (IDSessionIdleTimeout, IDSessionMaxLifetime). */
static APR_INLINE int ids_timeouts_on(const ids_dir_conf *c)
{
    return c->idle_timeout > 0 || c->max_lifetime > 0;
}

/* 1 if sessions under c end: a timeout is on, with a key to stamp them
 * (startup, or ids_fixups for sections it cannot see, refuses a timeout
 * without IDSessionSecret). */
static APR_INLINE int ids_timed(const ids_dir_conf *c)
{
    return ids_timeouts_on(c) && ids_signed(c);
}

/* IDSessionRenewInterval, or its default: a quarter of the idle timeout,
 * at most IDS_RENEW_CAP, so a session ends at most 25 % early in the worst
 * case and an active client gets a Set-Cookie every few minutes at most. */
static apr_int64_t ids_renew_interval(const ids_dir_conf *c)
{
    apr_int64_t v = c->idle_timeout / 4;

    if (c->renew_interval != IDS_UNSET) {
        return c->renew_interval;
    }
    return v > IDS_RENEW_CAP ? IDS_RENEW_CAP : v;
}

/* 1 if c's renew interval is not below its idle timeout: a session would
 * end before its first renewal, however active. */
static APR_INLINE int ids_renew_bad(const ids_dir_conf *c)
{
    return c->idle_timeout > 0 && c->renew_interval != IDS_UNSET
           && c->renew_interval >= c->idle_timeout;
}

/* When a session stamped created/renewed ends under c, and why. */
static apr_int64_t ids_session_end(const ids_dir_conf *c, apr_int64_t created,
                                   apr_int64_t renewed, const char **why)
{
    apr_int64_t end = APR_INT64_MAX;

    *why = NULL;
    if (c->max_lifetime > 0) {
        end = created + c->max_lifetime;
        *why = "lifetime";
    }
    if (c->idle_timeout > 0 && renewed + c->idle_timeout < end) {
        end = renewed + c->idle_timeout;
        *why = "idle";
    }
    return end;
}

/* What c's cookie settings contradict, or NULL; *wins (when not NULL)
 * says what the request path does about it.  A cookie-name prefix forbids
 * some settings, and browsers drop a SameSite=None cookie without
 * Secure. */
static const char *ids_conf_conflict(apr_pool_t *p, const ids_dir_conf *c,
                                     const char **wins)
{
    const ids_name *n = ids_cookie_name(c);
    const char *name = n->s;
    int host = (n->prefix & IDS_PREFIX_HOST) != 0;

    if (wins) {
        *wins = "the prefix wins";
    }
    if (n->prefix != IDS_PREFIX_NONE) {
        if ((n->prefix & IDS_PREFIX_HTTP) && c->httponly == 0) {
            return apr_psprintf(p, "IDSessionCookieHttpOnly Off contradicts "
                                "the cookie name %s, which requires "
                                "HttpOnly", name);
        }
        if (c->secure == IDS_SECURE_OFF) {
            return apr_psprintf(p, "IDSessionCookieSecure Off contradicts "
                                "the cookie name %s, which requires Secure",
                                name);
        }
        if (host && c->cookie_path && strcmp(c->cookie_path, "/") != 0) {
            return apr_psprintf(p, "IDSessionCookiePath %s contradicts the "
                                "cookie name %s, which requires Path=/",
                                c->cookie_path, name);
        }
        if (host && c->cookie_domain) {
            return apr_psprintf(p, "IDSessionCookieDomain %s contradicts "
                                "the cookie name %s, which forbids a Domain",
                                c->cookie_domain, name);
        }
    }
    /* SameSite=None sends Secure whatever the directive, and so
     * Partitioned too. */
    if (c->samesite == IDS_SAMESITE_NONE && c->secure == IDS_SECURE_OFF) {
        if (wins) {
            *wins = "Secure is sent all the same";
        }
        return "IDSessionCookieSameSite None contradicts IDSessionCookieSecure "
               "Off: browsers drop a SameSite=None cookie without Secure";
    }
    if (c->partitioned == 1 && c->secure == IDS_SECURE_OFF) {
        if (wins) {
            *wins = "Partitioned is not sent";
        }
        return "IDSessionCookiePartitioned On contradicts IDSessionCookieSecure "
               "Off: browsers refuse a Partitioned cookie without Secure";
    }
    return NULL;
}

/* 1 if a request for the URL path url sends a cookie with Path=path
 * (RFC 6265 5.1.4). */
static int ids_path_covers(const char *path, const char *url)
{
    apr_size_t n = strlen(path);

    return strncmp(url, path, n) == 0
           && (url[n] == '\0' || path[n - 1] == '/' || url[n] == '/');
}

/* ---- request-time helpers ---------------------------------------------- */

static ids_dir_conf *ids_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &idsession_module);
}

static ids_srv_conf *ids_srv_conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &idsession_module);
}

/* A copy of c in pool p, for a chain that outlives the subrequest whose
 * (possibly .htaccess-parsed) configuration c is. */
static const ids_dir_conf *ids_conf_dup(apr_pool_t *p, const ids_dir_conf *c)
{
    ids_dir_conf *d = apr_pmemdup(p, c, sizeof(*c));

    if (c->cookie_name) {
        ids_name *n = apr_pmemdup(p, c->cookie_name, sizeof(*n));
        n->s = apr_pstrdup(p, n->s);
        d->cookie_name = n;
    }
    d->cookie_path = apr_pstrdup(p, c->cookie_path);
    d->cookie_domain = apr_pstrdup(p, c->cookie_domain);
    d->reset_redirect = apr_pstrdup(p, c->reset_redirect);
    d->header = apr_pstrdup(p, c->header);
    return d;
}

/* The first request of the chain, where the chain's state lives. */
static request_rec *ids_chain_root(request_rec *r)
{
    for (;;) {
        if (r->main) {
            r = r->main;
        }
        else if (r->prev) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

/* The request whose response goes to the client.  Internal redirects
 * share err_headers_out with the request they replace. */
static request_rec *ids_response_req(request_rec *r)
{
    while (r->main) {
        r = r->main;
    }
    return r;
}

static ids_state *ids_state_get(request_rec *r)
{
    return ap_get_module_config(ids_chain_root(r)->request_config,
                                &idsession_module);
}

/* A zeroed state for root's chain, with extra bytes after it for the
 * caller (one allocation instead of two on every request). */
static ids_state *ids_state_new(request_rec *root, apr_size_t extra)
{
    ids_state *st = apr_palloc(root->pool, sizeof(*st) + extra);

    memset(st, 0, sizeof(*st));
    ap_set_module_config(root->request_config, &idsession_module, st);
    return st;
}

/* 1 if scheme is "https": compared in line, as a call to strcmp costs
 * more than the compare on every minted response. */
static APR_INLINE int ids_is_https(const char *s)
{
    return s[0] == 'h' && s[1] == 't' && s[2] == 't' && s[3] == 'p'
           && s[4] == 's' && s[5] == '\0';
}

/* The cookie attributes of c, over https or not, at now.  A field read
 * here must also be in ids_sets_cookie_attrs. */
static void ids_cookie_attrs_of(const ids_dir_conf *c, int https,
                                apr_time_t now, ids_cookie_attrs *a)
{
    a->path = c->cookie_path ? c->cookie_path : IDS_DEFAULT_PATH;
    a->domain = c->cookie_domain;
    a->max_age = c->max_age > 0 ? c->max_age : 0;
    a->now = now;
    a->httponly = c->httponly != 0;
    a->samesite = c->samesite != IDS_UNSET ? (ids_samesite)c->samesite
                                           : IDS_SAMESITE_LAX;
    switch (c->secure) {
    case IDS_SECURE_ON:  a->secure = 1; break;
    case IDS_SECURE_OFF: a->secure = 0; break;
    default:
        a->secure = https;
        break;
    }
    if (ids_cookie_name(c)->prefix != IDS_PREFIX_NONE) {
        ids_prefix pf = ids_cookie_name(c)->prefix;

        a->secure = 1;
        if (pf & IDS_PREFIX_HOST) {
            a->path = "/";
            a->domain = NULL;
        }
        if (pf & IDS_PREFIX_HTTP) {
            a->httponly = 1;
        }
    }
    /* Auto: Partitioned only where Secure is sent, as browsers require. */
    a->partitioned = c->partitioned == 1;
}

static void ids_cookie_attrs_for(request_rec *r, const ids_dir_conf *c,
                                 ids_cookie_attrs *a)
{
    ids_cookie_attrs_of(c, c->secure != IDS_SECURE_ON
                           && c->secure != IDS_SECURE_OFF
                           && ids_is_https(ap_http_scheme(r)),
                        r->request_time, a);
}

static IDS_NOINLINE void ids_drop_set_cookie_in(apr_pool_t *p,
                                                apr_table_t *t,
                                                const char *name)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    apr_size_t namelen;
    apr_array_header_t *keep;
    int i, hit = 0;

    if (apr_table_get(t, "Set-Cookie") == NULL) {
        return;
    }
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    namelen = strlen(name);
    for (i = 0; i < arr->nelts && !hit; i++) {
        hit = e[i].key && strcasecmp(e[i].key, "Set-Cookie") == 0
              && ids_set_cookie_is_for(e[i].val, name, namelen);
    }
    if (!hit) {
        return;
    }
    keep = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && strcasecmp(e[i].key, "Set-Cookie") == 0
            && !ids_set_cookie_is_for(e[i].val, name, namelen)) {
            APR_ARRAY_PUSH(keep, const char *) = e[i].val;
        }
    }
    apr_table_unset(t, "Set-Cookie");
    for (i = 0; i < keep->nelts; i++) {
        apr_table_addn(t, "Set-Cookie", APR_ARRAY_IDX(keep, i, const char *));
    }
}

/* Removes every Set-Cookie for name from t, keeping the others in order.
 * The usual table, still empty when fixups mint, costs no call. */
static APR_INLINE void ids_drop_set_cookie(apr_pool_t *p, apr_table_t *t,
                                           const char *name)
{
    if (apr_table_elts(t)->nelts != 0) {
        ids_drop_set_cookie_in(p, t, name);
    }
}

/* SESSION_CREATED and SESSION_EXPIRES of st under c, from pool p. */
static void ids_set_times(apr_pool_t *p, ids_state *st, const ids_dir_conf *c)
{
    const char *why;
    char *buf = apr_palloc(p, 2 * IDS_NUM_CHARS);

    st->expires = ids_session_end(c, st->created, st->renewed, &why);
    st->end_idle = c->idle_timeout;
    st->end_life = c->max_lifetime;
    st->created_s = ids_num(buf, st->created);
    st->expires_s = ids_num(buf + IDS_NUM_CHARS, st->expires);
}

/* The cookie's value and its length in *vlen: the token, with its stamp
 * when st is timed (signed with the first key of c, whose rules the
 * cookie is sent under). */
static const char *ids_cookie_value(apr_pool_t *p, const ids_state *st,
                                    const ids_dir_conf *c, apr_size_t *vlen)
{
    apr_size_t len = strlen(st->token);
    char *v;

    if (!st->timed) {
        *vlen = len;
        return st->token;
    }
    v = apr_palloc(p, len + 1 + IDS_STAMP_CHARS + 1);
    memcpy(v, st->token, len);
    v[len] = IDS_SEP;
    ids_stamp_make(&c->ring->keys[0], st->token, len,
                   (apr_uint64_t)st->created, (apr_uint64_t)st->renewed,
                   v + len + 1);
    *vlen = len + 1 + IDS_STAMP_CHARS;
    return v;
}

/* 1 if this chain sends a session Set-Cookie: a new token or a renewal. */
static APR_INLINE int ids_sets_cookie(const ids_state *st)
{
    return (st->minted || st->renewed_now) && st->cookie;
}

/* Sends the session in the response's one session Set-Cookie, replacing
 * any this chain (or the application) set before. */
static void ids_send_cookie(request_rec *r, ids_state *st,
                            const ids_dir_conf *c)
{
    request_rec *out = ids_response_req(r);
    const ids_name *nm = ids_cookie_name(c);
    const char *name = nm->s, *value;
    apr_size_t vlen;
    ids_cookie_attrs a;
    apr_int64_t age;

    /* out->pool, not r->pool: r may be a subrequest that dies first. */
    if (st->cookie) {
        ids_drop_set_cookie(out->pool, out->err_headers_out, st->cookie_name);
        ids_drop_set_cookie(out->pool, out->headers_out, st->cookie_name);
    }
    ids_drop_set_cookie(out->pool, out->err_headers_out, name);
    ids_drop_set_cookie(out->pool, out->headers_out, name);
    value = ids_cookie_value(out->pool, st, c, &vlen);
    /* A browser need not keep a cookie the server will refuse: unless
     * IDSessionCookieMaxAge says otherwise, until the session ends, and a
     * grace in which a return is told SESSION_EXPIRED. */
    age = c->max_age > 0 ? c->max_age : 0;
    if (st->timed && c->max_age == IDS_UNSET) {
        age = st->expires - apr_time_sec(r->request_time) + IDS_EXPIRED_GRACE;
    }
    /* The other attributes were written at startup (c->tail). */
    if (c->tail) {
        const ids_tail *t = c->tail;
        int h = t->by_scheme && ids_is_https(ap_http_scheme(r));

        st->cookie = ids_cookie_join(out->pool, name, nm->len, value, vlen,
                                     t->s[h], t->len[h], t->split, age,
                                     r->request_time);
    }
    else {
        ids_cookie_attrs_for(r, c, &a);
        a.max_age = age;
        st->cookie = ids_set_cookie(out->pool, name, value, &a);
    }
    st->cookie_name = r->pool == out->pool ? name
                                           : apr_pstrdup(out->pool, name);
    apr_table_addn(out->err_headers_out, "Set-Cookie", st->cookie);
    /* mod_cache's save filter runs before ours: tell it directly.  Only
     * then, as no_cache also makes httpd add an Expires header. */
    if (ids_have_cache) {
        out->no_cache = 1;
    }
    /* Only for a subrequest: a main request's body may have begun
     * (mod_proxy says so before its first pass) while its headers, with
     * this cookie, are still to go. */
    if (r != out && out->sent_bodyct) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, IDS_LOGNO(00002)
                      "session token minted in a subrequest after %s had "
                      "sent its headers; the cookie is lost: turn IDSession "
                      "On for the main request",
                      ap_escape_logitem(r->pool, out->uri));
    }
}

/* The length of c's tokens. */
static APR_INLINE apr_size_t ids_token_chars(const ids_dir_conf *c)
{
    return ids_token_len(ids_token_bytes(c), ids_signed(c));
}

/* Mints a token of c into t (ids_token_chars(c) + 1 bytes); 0 when the
 * random source failed, which is logged. */
static int ids_mint_into(request_rec *r, const ids_dir_conf *c,
                         const char *what, char *t)
{
    apr_status_t rv = ids_token_mint(t, ids_token_bytes(c), c->ring);

    if (rv != APR_SUCCESS) {
        ids_count(IDS_C_RANDOM_FAILURES);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, IDS_LOGNO(00003)
                      "cannot mint a %s: the random source failed; "
                      "answering 500 rather than using a weaker token", what);
        return 0;
    }
    return 1;
}

/* A new token from pool p, which must live as long as the chain. */
static const char *ids_new_token(request_rec *r, apr_pool_t *p,
                                 const ids_dir_conf *c, const char *what)
{
    char *t = apr_palloc(p, ids_token_chars(c) + 1);

    return ids_mint_into(r, c, what, t) ? t : NULL;
}

/* The log id from a store key, into buf (IDS_LOG_ID_CHARS + 1 bytes). */
static APR_INLINE const char *ids_log_id_from(char *buf, const char *key)
{
    memcpy(buf, key, IDS_LOG_ID_CHARS);
    buf[IDS_LOG_ID_CHARS] = '\0';
    return buf;
}

/* Bytes of a store key and a log id, each with its NUL. */
#define IDS_KEYS_SIZE  (IDS_STORE_KEY_CHARS + 1 + IDS_LOG_ID_CHARS + 1)

/* The store key and log id of st->token, len characters, into buf
 * (IDS_KEYS_SIZE bytes). */
static void ids_set_keys_in(ids_state *st, apr_size_t len, char *buf)
{
    ids_store_key(st->token, len, buf);
    st->store_key = buf;
    st->log_id = ids_log_id_from(buf + IDS_STORE_KEY_CHARS + 1, buf);
}

/* The store key and log id of st->token, from pool p. */
static void ids_set_keys(apr_pool_t *p, ids_state *st)
{
    ids_set_keys_in(st, strlen(st->token), apr_palloc(p, IDS_KEYS_SIZE));
}

/* Records the rules under which st->token was read or minted. */
static void ids_set_rules(ids_state *st, const ids_dir_conf *c)
{
    st->rule_ring = c->ring;
    st->rule_nbytes = ids_token_bytes(c);
}

/* SESSION_KEY_INDEX where c applies: the chain's where c has the chain's
 * secrets; else the position in c's list of the secret that verifies the
 * token's tag, and with timeouts there the stamp the client sent too, the
 * larger of the two (an internal redirect or subrequest into a section
 * that lists them otherwise); -1 if none does, or where c has no secret. */
static IDS_NOINLINE int ids_key_under_other(request_rec *r, ids_state *st,
                                            const ids_dir_conf *c)
{
    if (!ids_signed(c)) {
        return -1;
    }
    if (st->other_ring != c->ring || st->other_timed != ids_timed(c)) {
        apr_size_t len = strlen(st->token);
        int key = ids_token_verify(st->token, len, st->rule_nbytes, c->ring);

        if (key >= 0 && st->stamp && ids_timed(c)) {
            apr_uint64_t created, renewed;
            /* A chain's requests share the time the stamp was read at. */
            int sk = ids_stamp_verify(st->stamp, IDS_STAMP_CHARS, st->token,
                                      len, c->ring,
                                      (apr_uint64_t)apr_time_sec(r->request_time),
                                      &created, &renewed);

            key = sk < 0 ? -1 : sk > key ? sk : key;
        }
        st->other_key = key;
        st->other_ring = c->ring;
        st->other_timed = ids_timed(c);
    }
    return st->other_key;
}

static APR_INLINE int ids_key_under(request_rec *r, ids_state *st,
                                    const ids_dir_conf *c)
{
    return c->ring == st->rule_ring ? st->key : ids_key_under_other(r, st, c);
}

/* 1 if the chain's token is as strong as c's rules demand: at least as
 * many random bytes, and a tag that one of c's secrets verifies when c has
 * any.  Weaker rules take a stronger token, so a handler behind an internal
 * redirect (php-cgi through mod_actions, under the server's settings)
 * keeps the session of the location that was asked for. */
static int ids_rules_accept(request_rec *r, ids_state *st,
                            const ids_dir_conf *c)
{
    apr_size_t nbytes = ids_token_bytes(c);
    const char *why;

    if (nbytes > st->rule_nbytes) {
        return 0;
    }
    /* Timeouts are rules too: a chain read without a stamp, or whose
     * session has ended under c's timeouts, is not handed over. */
    if (ids_timed(c) && (!st->timed
                         || apr_time_sec(r->request_time)
                            >= ids_session_end(c, st->created, st->renewed,
                                               &why))) {
        return 0;
    }
    if (c->ring == st->rule_ring || !ids_signed(c)) {
        return 1;
    }
    return ids_key_under(r, st, c) >= 0;
}

typedef struct {
    const char *name;
    apr_size_t namelen;
    apr_size_t nbytes;
    const ids_keyring *ring;
    ids_conn_memo *memo;        /* taken from the connection's slot */
    const char *hint;           /* the memo's token, if its keys match */
    apr_size_t hintlen;
    const char *v;
    apr_size_t vlen;
    const char *bad;            /* the first value refused, for the log */
    apr_size_t badlen;
    int seen;
    int checked;                /* found by a check, not the memo */
    int key;                    /* the key that verified it, or -1 */
    apr_int64_t clear_until;    /* the memo's IDSessionStoreReuse answer
                                 * for it (a memo hit), else 0 */
    const ids_store *clear_store;   /* the store that gave that answer */
    /* With timeouts: */
    int timed;                  /* values are token.stamp */
    int stamped;                /* the value found has a stamp */
    apr_uint64_t now;
    apr_uint64_t created;       /* the stamp's times, once verified */
    apr_uint64_t renewed;
} ids_scan;

/* The key index of v[0..len) if it is a signed token with a valid stamp,
 * or without one (for adoption, or to be told its session ended); else -1.
 * The index is the larger of the tag's and the stamp's: the oldest secret
 * that the cookie needs. */
static IDS_NOINLINE int ids_timed_key(ids_scan *s, const char *v,
                                      apr_size_t len)
{
    apr_size_t tlen = ids_token_len(s->nbytes, 1);
    int tag, stamp;

    if (len == tlen) {
        s->stamped = 0;
        return ids_token_verify(v, len, s->nbytes, s->ring);
    }
    s->stamped = 1;
    if (len != tlen + 1 + IDS_STAMP_CHARS || v[tlen] != IDS_SEP
        || (tag = ids_token_verify(v, tlen, s->nbytes, s->ring)) < 0
        || (stamp = ids_stamp_verify(v + tlen + 1, IDS_STAMP_CHARS, v, tlen,
                                     s->ring, s->now, &s->created,
                                     &s->renewed)) < 0) {
        return -1;
    }
    return tag > stamp ? tag : stamp;
}

static int ids_scan_accept(const char *v, apr_size_t len, void *ctx)
{
    ids_scan *s = ctx;
    int key = s->timed ? ids_timed_key(s, v, len)
                       : ids_token_verify(v, len, s->nbytes, s->ring);

    if (key >= 0) {
        s->checked = 1;
        s->key = s->ring && s->ring->n > 0 ? key : -1;
        return 1;
    }
    if (s->bad == NULL) {
        s->bad = v;
        s->badlen = len;
    }
    return 0;
}

/* Remembers in m, taken by this request, the cookie value the scan
 * verified (the token, or token.stamp with the stamp's times and their
 * digits, the end under c's timeouts) and its store key, so that the next
 * request on the connection with this cookie skips the HMACs, SHA-256 and
 * the decimal conversions.  An unstamped value under timeouts (adopted) is
 * not kept: its answer depends on the time. */
static void ids_memo_store(ids_conn_memo *m, const ids_scan *s,
                           const char *store_key, const ids_dir_conf *c)
{
    const char *why;

    m->ring = s->ring;
    m->nbytes = s->nbytes;
    m->timed = s->timed;
    m->key = s->key;
    m->len = s->vlen;
    memcpy(m->token, s->v, s->vlen);
    m->token[s->vlen] = '\0';
    memcpy(m->store_key, store_key, IDS_STORE_KEY_CHARS + 1);
    m->clear_until = 0;
    m->clear_store = NULL;
    if (s->timed) {
        m->created = (apr_int64_t)s->created;
        m->renewed = (apr_int64_t)s->renewed;
        m->expires = ids_session_end(c, m->created, m->renewed, &why);
        m->created_at = (unsigned char)(ids_num(m->times, m->created)
                                        - m->times);
        m->expires_at = (unsigned char)(ids_num(m->times + IDS_NUM_CHARS,
                                                m->expires)
                                        - (m->times + IDS_NUM_CHARS));
    }
}

/* Where the digits of a timed state's SESSION_CREATED and SESSION_EXPIRES
 * go: ids_state_found leaves 2 * IDS_NUM_CHARS bytes after its log id. */
static APR_INLINE char *ids_times_room(const ids_state *st)
{
    return (char *)st->log_id + IDS_LOG_ID_CHARS + 1;
}

/* The memo's SESSION_CREATED and SESSION_EXPIRES, copied for st into the
 * room ids_state_found left; ids_session_times keeps them while the
 * session's end is the memo's. */
static APR_INLINE void ids_times_from_memo(ids_state *st,
                                           const ids_conn_memo *m)
{
    char *buf = ids_times_room(st);

    memcpy(buf, m->times, sizeof(m->times));
    st->expires = m->expires;
    st->created_s = buf + m->created_at;
    st->expires_s = buf + IDS_NUM_CHARS + m->expires_at;
}

/* The memo slot of the client connection that c serves (c itself, or the
 * master of an HTTP/2 stream); NULL if none was made. */
static APR_INLINE ids_memo_slot *ids_memo_slot_of(conn_rec *c)
{
    while (c->master) {
        c = c->master;
    }
    return ap_get_module_config(c->conn_config, &idsession_module);
}

static int ids_pre_connection(conn_rec *c, void *csd)
{
    ids_memo_slot *slot;

    if (c->master == NULL) {
        slot = apr_palloc(c->pool, sizeof(*slot));
        slot->memo.ring = NULL;
        slot->memo.nbytes = 0;      /* matches no location */
        slot->memo.len = 0;
        slot->rec = &slot->memo;
        ap_set_module_config(c->conn_config, &idsession_module, slot);
    }
    return OK;
}

/* 1 if k is "Cookie" in any case: a byte compare per header in place of
 * apr_table_get's checksum and strcasecmp. */
static int ids_is_cookie_key(const char *k)
{
    return k && (k[0] | 0x20) == 'c' && (k[1] | 0x20) == 'o'
           && (k[2] | 0x20) == 'o' && (k[3] | 0x20) == 'k'
           && (k[4] | 0x20) == 'i' && (k[5] | 0x20) == 'e' && k[6] == '\0';
}

/* Every Cookie header in order (httpd merges repeated ones, but a module
 * may add more), until one holds a well-formed token. */
static void ids_scan_cookies(const apr_table_t *t, ids_scan *s)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (ids_is_cookie_key(e[i].key) && e[i].val) {
            s->v = ids_cookie_find_hint(e[i].val, s->name, s->namelen,
                                        s->hint, s->hintlen, ids_scan_accept,
                                        s, &s->vlen, &s->seen);
            if (s->v) {
                return;
            }
        }
    }
}

/* Why the first cookie the scan refused was not taken; forged: it has
 * the form of a signed token (ids_value_form_ok). */
static const char *ids_reject_reason(request_rec *r, const ids_scan *s,
                                     int forged)
{
    apr_size_t want = ids_token_len(s->nbytes, s->ring && s->ring->n > 0);

    if (forged) {
        return s->timed ? "no IDSessionSecret verifies its tag and stamp, "
                          "or the stamp's times are impossible"
                        : "its tag does not verify under any IDSessionSecret";
    }
    if (s->timed) {
        return apr_psprintf(r->pool, "%" APR_SIZE_T_FMT " characters; not "
                            "a signed token, with or without a stamp",
                            s->badlen);
    }
    if (s->badlen != want) {
        return apr_psprintf(r->pool, "%" APR_SIZE_T_FMT " characters, not %"
                            APR_SIZE_T_FMT, s->badlen, want);
    }
    return "not the base64url this module mints";
}

/* 1 at most once per IDS_WARN_INTERVAL in this process, so that a message
 * that every request may cause shows without flooding the log. */
static int ids_warn_due(request_rec *r, volatile apr_uint32_t *at)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(r->request_time);
    apr_uint32_t last = apr_atomic_read32(at);

    if (last != 0 && now - last < IDS_WARN_INTERVAL) {
        return 0;
    }
    return apr_atomic_cas32(at, now, last) == last;
}

/* Counts the cookie the scan refused first, and logs why: at info at most
 * once a minute per process and kind, so that a node with the wrong secret
 * shows without debug logging; at debug every time. */
static IDS_NOINLINE void ids_refused_cookie(request_rec *r, const ids_scan *s)
{
    int forged = ids_value_form_ok(s->bad, s->badlen, s->nbytes,
                                   s->ring && s->ring->n > 0, s->timed);
    int level = APLOG_DEBUG;

    ids_count(forged ? IDS_C_REFUSED_SIGNATURE : IDS_C_REFUSED_MALFORMED);
    if (APLOGrinfo(r)
        && ids_warn_due(r, forged ? &ids_forged_at : &ids_malformed_at)) {
        level = APLOG_INFO;
    }
    else if (!APLOGrdebug(r)) {
        return;
    }
    ap_log_rerror(APLOG_MARK, level, 0, r, "%ssession cookie %s rejected (%d "
                  "seen; first: %s); minting a new token%s",
                  forged ? IDS_LOGNO(00008) : IDS_LOGNO(00007), s->name,
                  s->seen, ids_reject_reason(r, s, forged),
                  level == APLOG_INFO ? " (logged at info at most once a "
                  "minute per process; LogLevel idsession:debug logs each)"
                  : "");
}

/* 1 if k starts with SESSION_ in any case; bytes compared in line, as
 * SSL_* and SERVER_* names would send strncasecmp's call to most keys. */
static APR_INLINE int ids_is_session_key(const char *k)
{
    return k && (k[0] | 0x20) == 's' && (k[1] | 0x20) == 'e'
           && (k[2] | 0x20) == 's' && (k[3] | 0x20) == 's'
           && (k[4] | 0x20) == 'i' && (k[5] | 0x20) == 'o'
           && (k[6] | 0x20) == 'n' && k[7] == '_';
}

/* 1 if k is one of the names this module sets, as it set it: a pointer
 * into ids_env (a SESSION_* key from elsewhere is not). */
static APR_INLINE int ids_is_own_key(const char *k)
{
    return (apr_uintptr_t)k - (apr_uintptr_t)&ids_env < sizeof(ids_env);
}

/* 1 if t holds no SESSION_* key, as a fresh request's notes and env do.
 * Then apr_table_addn does what setn's search per key would: all
 * SESSION_* names share one APR checksum, so each setn compares them by
 * name. */
static int ids_no_session_keys(const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (ids_is_session_key(e[i].key)) {
            return 0;
        }
    }
    return 1;
}

/* SESSION_CREATED, SESSION_EXPIRES and SESSION_EXPIRED into t, replacing
 * or removing what was there, like ids_put_token_vars: whatever an internal
 * redirect copied or a RewriteRule's E= planted is not the module's. */
static IDS_NOINLINE void ids_put_time_vars(apr_table_t *t,
                                           const ids_state *st)
{
    if (st->timed) {
        apr_table_setn(t, IDS_ENV_CREATED, st->created_s);
        apr_table_setn(t, IDS_ENV_EXPIRES, st->expires_s);
    }
    else {
        apr_table_unset(t, IDS_ENV_CREATED);
        apr_table_unset(t, IDS_ENV_EXPIRES);
    }
    if (st->expired) {
        apr_table_setn(t, IDS_ENV_EXPIRED, st->expired);
    }
    else {
        apr_table_unset(t, IDS_ENV_EXPIRED);
    }
}

/* SESSION_KEY_INDEX's values, without an allocation. */
static const char *const ids_key_index[IDS_KEYS_MAX] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
    "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24",
    "25", "26", "27", "28", "29", "30", "31"
};

/* SESSION_TOKEN, SESSION_STORE_KEY, SESSION_LOG_ID, SESSION_KEY_INDEX and
 * SESSION_TOKEN_NEW (and the time variables) into t.  A
 * SESSION_TOKEN_NEW or SESSION_TOKEN_NEXT from elsewhere (a server-context
 * RewriteRule's E=, say) goes; ids_publish sets the next token again where
 * one is offered. */
static APR_INLINE void ids_put_token_vars(apr_table_t *t, const ids_state *st,
                                          int key)
{
    if (ids_no_session_keys(t)) {
        apr_table_addn(t, IDS_ENV_TOKEN, st->token);
        apr_table_addn(t, IDS_ENV_STORE_KEY, st->store_key);
        apr_table_addn(t, IDS_ENV_LOG_ID, st->log_id);
        if (key >= 0) {
            apr_table_addn(t, IDS_ENV_KEY_INDEX, ids_key_index[key]);
        }
        if (st->minted) {
            apr_table_addn(t, IDS_ENV_NEW, "1");
            if (st->withheld) {
                apr_table_addn(t, IDS_ENV_WITHHELD, "1");
            }
            /* An ended session (idle, lifetime, revoked) gets a new token. */
            if (st->expired) {
                apr_table_addn(t, IDS_ENV_EXPIRED, st->expired);
            }
        }
        if (st->timed) {
            apr_table_addn(t, IDS_ENV_CREATED, st->created_s);
            apr_table_addn(t, IDS_ENV_EXPIRES, st->expires_s);
        }
        return;
    }
    apr_table_setn(t, IDS_ENV_TOKEN, st->token);
    apr_table_setn(t, IDS_ENV_STORE_KEY, st->store_key);
    apr_table_setn(t, IDS_ENV_LOG_ID, st->log_id);
    if (key >= 0) {
        apr_table_setn(t, IDS_ENV_KEY_INDEX, ids_key_index[key]);
    }
    else {
        apr_table_unset(t, IDS_ENV_KEY_INDEX);
    }
    apr_table_unset(t, IDS_ENV_NEXT);
    if (st->minted) {
        apr_table_setn(t, IDS_ENV_NEW, "1");
    }
    else {
        apr_table_unset(t, IDS_ENV_NEW);
    }
    if (st->withheld) {
        apr_table_setn(t, IDS_ENV_WITHHELD, "1");
    }
    else {
        apr_table_unset(t, IDS_ENV_WITHHELD);
    }
    ids_put_time_vars(t, st);
}

/* The token's variables, in notes and env, with key as SESSION_KEY_INDEX. */
static void ids_set_token_vars(request_rec *r, const ids_state *st, int key)
{
    ids_put_token_vars(r->notes, st, key);
    ids_put_token_vars(r->subprocess_env, st, key);
}

static IDS_NOINLINE void ids_publish_header(request_rec *r, ids_state *st,
                                            const ids_dir_conf *c)
{
    request_rec *root = ids_chain_root(r);

    apr_table_setn(r->headers_in, c->header, st->token);
    if (st->header == NULL) {
        st->header = r->pool == root->pool ? c->header
                                           : apr_pstrdup(root->pool, c->header);
    }
}

/* SESSION_EXPIRES where a chain reaches other timeouts than those the
 * session's end was worked out under (an ErrorDocument, an SSI include). */
static IDS_NOINLINE void ids_publish_end(request_rec *r, const ids_state *st,
                                         const ids_dir_conf *c)
{
    const char *why, *v;
    apr_int64_t end = ids_session_end(c, st->created, st->renewed, &why);

    if (end != st->expires) {
        v = ids_num(apr_palloc(r->pool, IDS_NUM_CHARS), end);
        apr_table_setn(r->notes, IDS_ENV_EXPIRES, v);
        apr_table_setn(r->subprocess_env, IDS_ENV_EXPIRES, v);
    }
}

/* The session as r, under c, sees it: its variables (SESSION_EXPIRES by
 * c's timeouts) and IDSessionHeader. */
static APR_INLINE void ids_publish_session(request_rec *r, ids_state *st,
                                           const ids_dir_conf *c)
{
    ids_set_token_vars(r, st, ids_key_under(r, st, c));
    if (st->timed && (c->idle_timeout != st->end_idle
                      || c->max_lifetime != st->end_life)
        && ids_timed(c)) {
        ids_publish_end(r, st, c);
    }
    if (c->header && *c->header) {
        ids_publish_header(r, st, c);
    }
}

/* ... and the next token where the application may rotate. */
static APR_INLINE void ids_publish(request_rec *r, ids_state *st,
                                   const ids_dir_conf *c)
{
    ids_publish_session(r, st, c);
    if (st->next && st->app) {
        apr_table_setn(r->notes, IDS_ENV_NEXT, st->next);
        apr_table_setn(r->subprocess_env, IDS_ENV_NEXT, st->next);
    }
}

/* 1 if a and b name the same header to a CGI-style backend, which maps
 * '-' and '_' alike and ignores case. */
static int ids_same_header(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a == '_') ? '-' : apr_tolower(*a);
        char y = (*b == '_') ? '-' : apr_tolower(*b);
        if (x != y) {
            return 0;
        }
    }
    return *a == *b;
}

/* k less the REDIRECT_ prefixes that internal redirects give the
 * environment they copy. */
static const char *ids_unredirected(const char *k)
{
    while (strncasecmp(k, "REDIRECT_", 9) == 0) {
        k += 9;
    }
    return k;
}

/* 1 if k is the CGI variable of header name (REDIRECT_ copies included):
 * HTTP_ and the name, in any case, '-' and '_' alike. */
static int ids_is_header_var(const char *k, const char *name)
{
    k = ids_unredirected(k);
    return strncasecmp(k, "HTTP_", 5) == 0 && ids_same_header(k + 5, name);
}

typedef int (*ids_key_match)(const char *key, const char *arg);

/* Removes every entry of t whose key match(key, arg) accepts. */
static void ids_unset_where(apr_table_t *t, ids_key_match match,
                            const char *arg)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    for (i = arr->nelts - 1; i >= 0; i--) {
        if (e[i].key && match(e[i].key, arg)) {
            apr_table_unset(t, e[i].key);
            arr = apr_table_elts(t);
            e = (const apr_table_entry_t *)arr->elts;
            i = arr->nelts;
        }
    }
}

/* Takes name off the request's Connection list: mod_proxy_http drops each
 * header a client names there, the one this module sets included. */
static void ids_unlist_connection(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_in, "Connection"), *out = NULL;
    char *item, *last;

    if (v == NULL || !ap_find_token(r->pool, v, name)) {
        return;
    }
    for (item = apr_strtok(apr_pstrdup(r->pool, v), ", \t", &last); item;
         item = apr_strtok(NULL, ", \t", &last)) {
        if (strcasecmp(item, name) != 0) {
            out = out ? apr_pstrcat(r->pool, out, ", ", item, NULL) : item;
        }
    }
    if (out) {
        apr_table_setn(r->headers_in, "Connection", out);
    }
    else {
        apr_table_unset(r->headers_in, "Connection");
    }
}

/* Removes every client copy of the token header, X_Token for X-Token
 * included, and the HTTP_X_TOKEN variables made of a copy before: an SSI
 * page's subrequests and an internal redirect start from its
 * environment. */
static IDS_NOINLINE void ids_strip_header(request_rec *r, const char *name)
{
    ids_unset_where(r->headers_in, ids_same_header, name);
    ids_unset_where(r->subprocess_env, ids_is_header_var, name);
    ids_unlist_connection(r, name);
}

/* 1 if k (REDIRECT_ copies included) is one of the variables this module
 * sets. */
static int ids_is_session_var(const char *k, const char *unused)
{
    static const char *const names[] = {
        IDS_ENV_TOKEN, IDS_ENV_NEW, IDS_ENV_NEXT, IDS_ENV_LOG_ID,
        IDS_ENV_STORE_KEY, IDS_ENV_WITHHELD, IDS_ENV_CREATED,
        IDS_ENV_EXPIRES, IDS_ENV_EXPIRED, IDS_ENV_KEY_INDEX, NULL
    };
    int i;

    k = ids_unredirected(k);
    for (i = 0; names[i]; i++) {
        if (strcasecmp(k, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A request whose own rules refuse the chain's token gets none: not in
 * its variables, nor those an internal redirect or subrequest copied, nor
 * in the header the chain put it in. */
static IDS_NOINLINE void ids_withhold(request_rec *r, const ids_state *st,
                                      const ids_dir_conf *c)
{
    ids_unset_where(r->notes, ids_is_session_var, NULL);
    ids_unset_where(r->subprocess_env, ids_is_session_var, NULL);
    if (st->header) {
        ids_strip_header(r, st->header);
    }
    if (c->header && *c->header) {
        ids_strip_header(r, c->header);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "the session token of this request chain (log id %s) was "
                  "read under other rules, which those of %s refuse: no "
                  "token here", st->log_id, ap_escape_logitem(r->pool, r->uri));
}

/* Adds the filter of handle h to r unless it is there already. */
static void ids_ensure_filter(request_rec *r, ap_filter_rec_t *h)
{
    ap_filter_t *f;

    for (f = r->output_filters; f; f = f->next) {
        if (f->frec == h) {
            return;
        }
    }
    ap_add_output_filter_handle(h, NULL, r, r->connection);
}

/* The filters a response of a chain with session st needs.  Where the
 * application may rotate, IDSESSION does it before mod_headers' filters,
 * so that "Header always edit Set-Cookie" sees the rotated cookie too.
 * Always IDSESSION_LATE, after every content filter: it drops any
 * IDSession-Reset left (and rotates on one that a filter such as
 * mod_headers added), and Cache-Control must see their headers. */
static void ids_ensure_filters(request_rec *r, const ids_state *st)
{
    if (st->app) {
        ids_ensure_filter(r, ids_filter_handle);
    }
    ids_ensure_filter(r, ids_late_handle);
}

/* The registrable domain of host, approximated without the Public Suffix
 * List by its last two labels; an IP address stands for itself. */
static const char *ids_site_of(const char *host)
{
    const char *last = strrchr(host, '.'), *p;

    if (last == NULL || last == host || strchr(host, ':')
        || apr_isdigit(last[1])) {
        return host;
    }
    for (p = last - 1; p > host && p[-1] != '.'; p--) {
        continue;
    }
    return p > host ? p : host;
}

/* How the origin of url (an Origin or Referer value) relates to the
 * request's own: scheme, host and port as httpd sees them; same-site
 * compares schemes and registrable domains.  "null" and anything that does
 * not parse are cross-site. */
static int ids_relation(request_rec *r, const char *url)
{
    const char *host = ap_get_server_name(r);   /* IPv6 without [] */
    apr_uri_t uri;
    apr_port_t port;

    if (apr_uri_parse(r->pool, url, &uri) != APR_SUCCESS
        || uri.scheme == NULL || uri.hostname == NULL
        || strcasecmp(uri.scheme, ap_http_scheme(r)) != 0) {
        return IDS_REL_CROSS_SITE;
    }
    port = uri.port ? uri.port : apr_uri_port_of_scheme(uri.scheme);
    if (!strcasecmp(uri.hostname, host) && port == ap_get_server_port(r)) {
        return IDS_REL_SAME_ORIGIN;
    }
    return strcasecmp(ids_site_of(uri.hostname), ids_site_of(host)) == 0
           ? IDS_REL_SAME_SITE : IDS_REL_CROSS_SITE;
}

/* The SameSite value a browser applies: without the attribute, Lax. */
static ids_samesite ids_samesite_of(const ids_dir_conf *c)
{
    return c->samesite == IDS_UNSET || c->samesite == IDS_SAMESITE_OFF
           ? IDS_SAMESITE_LAX : (ids_samesite)c->samesite;
}

/* 1 if Fetch Metadata says the browser may hold a session cookie that
 * SameSite kept it from sending here: then a Set-Cookie for a new token
 * would end that session.  Lax cookies go with top-level GET and HEAD
 * navigations only (HEAD is M_GET in httpd). */
static int ids_cookie_withheld(request_rec *r, const ids_dir_conf *c)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *mode, *dest, *url;

    if (site == NULL) {
        /* Over plain HTTP browsers send no Fetch Metadata, but a form
         * POST or fetch() from another site still carries Origin, and a
         * link from another site (which takes no Strict cookie along) its
         * Referer, unless a Referrer-Policy hides it. */
        ids_samesite ss = ids_samesite_of(c);

        if (r->method_number != M_GET) {
            url = apr_table_get(r->headers_in, "Origin");
        }
        else {
            url = ss == IDS_SAMESITE_STRICT
                  ? apr_table_get(r->headers_in, "Referer") : NULL;
        }
        return url && ss != IDS_SAMESITE_NONE
               && ids_relation(r, url) == IDS_REL_CROSS_SITE;
    }
    if (strcasecmp(site, "cross-site") != 0) {
        return 0;
    }
    switch (ids_samesite_of(c)) {
    case IDS_SAMESITE_STRICT:
        return 1;
    case IDS_SAMESITE_LAX:
        /* A navigation of an iframe is not top-level: Sec-Fetch-Dest. */
        mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
        dest = apr_table_get(r->headers_in, "Sec-Fetch-Dest");
        return !(mode && strcasecmp(mode, "navigate") == 0
                 && (dest == NULL || strcasecmp(dest, "document") == 0)
                 && r->method_number == M_GET);
    default:
        return 0;
    }
}

/* A state in place of a session that this request's rules refuse. */
static ids_state ids_refused;

/* A new session for root's chain, with its Set-Cookie; expired says why
 * the client's session ended (NULL: it sent none that verified).  NULL
 * when the random source failed. */
static ids_state *ids_mint_session(request_rec *r, request_rec *root,
                                   const ids_dir_conf *c, const ids_scan *s,
                                   const char *expired)
{
    apr_size_t tlen = ids_token_chars(c);
    ids_state *st;
    char *buf;

    if (expired) {
        ids_count(expired[0] == 'i' ? IDS_C_EXPIRED_IDLE
                  : expired[0] == 'r' ? IDS_C_REVOKED_REFUSED
                                      : IDS_C_EXPIRED_LIFETIME);
    }
    else if (s->bad) {
        ids_refused_cookie(r, s);
    }
    /* One allocation: the state, then the token and its keys. */
    st = ids_state_new(root, tlen + 1 + IDS_KEYS_SIZE);
    buf = (char *)(st + 1);
    if (!ids_mint_into(r, c, "session token", buf)) {
        st->failed = 1;
        return NULL;
    }
    st->token = buf;
    ids_count(IDS_C_MINTED);
    st->minted = 1;
    st->key = ids_signed(c) ? 0 : -1;
    st->expired = expired;
    ids_set_keys_in(st, tlen, buf + tlen + 1);
    ids_set_rules(st, c);
    if (ids_timed(c)) {
        st->timed = 1;
        st->created = st->renewed = apr_time_sec(r->request_time);
        ids_set_times(root->pool, st, c);
    }
    st->withheld = ids_cookie_withheld(r, c);
    if (st->withheld) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "cross-site request without a session cookie, "
                      "which the browser may have withheld "
                      "(SameSite): no Set-Cookie for the new token");
    }
    else {
        ids_send_cookie(r, st, c);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "session token minted (log id %s)", st->log_id);
    return st;
}

/* The state of a cookie the scan found, for root's chain: its token
 * (the value less any stamp), with the store key from the memo (key) or
 * computed (key NULL), and the log id.  Copied, not pointed to: with
 * pipelining, the next request on the connection may change the memo
 * before this one is logged. */
static APR_INLINE ids_state *ids_state_found(request_rec *root, const ids_scan *s,
                                  const char *key)
{
    apr_size_t tlen = s->timed ? ids_token_len(s->nbytes, 1) : s->vlen;
    ids_state *st = ids_state_new(root, tlen + 1 + IDS_STORE_KEY_CHARS + 1
                                        + IDS_LOG_ID_CHARS + 1
                                        + (s->timed ? 2 * IDS_NUM_CHARS : 0));
    char *buf = (char *)(st + 1), *k = buf + tlen + 1;

    memcpy(buf, s->v, tlen);
    buf[tlen] = '\0';
    if (key) {
        memcpy(k, key, IDS_STORE_KEY_CHARS + 1);
    }
    else {
        ids_store_key(buf, tlen, k);
    }
    st->token = buf;
    st->store_key = k;
    st->log_id = ids_log_id_from(k + IDS_STORE_KEY_CHARS + 1, k);
    st->rule_ring = s->ring;
    st->rule_nbytes = s->nbytes;
    st->key = s->key;
    return st;
}

/* SESSION_CREATED and SESSION_EXPIRES of st, in the room ids_state_found
 * left for their digits. */
static void ids_put_found_times(ids_state *st, apr_int64_t expires)
{
    char *buf = ids_times_room(st);

    st->expires = expires;
    st->created_s = ids_num(buf, st->created);
    st->expires_s = ids_num(buf + IDS_NUM_CHARS, expires);
}

/* Applies c's timeouts to the session st that the cookie carried: NULL,
 * with *expired saying why, when it has ended; else st, marked renewed
 * when its stamp is IDSessionRenewInterval old (ids_session sends the
 * Set-Cookie once the store, if any, has had its word). */
static IDS_NOINLINE ids_state *ids_session_times(request_rec *r,
                                                 const ids_dir_conf *c,
                                                 ids_state *st,
                                                 const ids_scan *s,
                                                 const char **expired)
{
    apr_int64_t now = (apr_int64_t)s->now, end = 0;
    const char *why;
    int renew;

    if (!s->stamped) {
        /* A client that strips the stamp escapes the timeouts only until
         * the adoption window closes. */
        if (c->adopt_until < 0 || now >= c->adopt_until) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "session cookie without a stamp (log id %s), "
                          "outside IDSessionAdoptUntil: its session has "
                          "ended", st->log_id);
            *expired = "lifetime";
            return NULL;
        }
        st->created = st->renewed = now;
        renew = 1;
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "session (log id %s) adopted: stamped as created now",
                      st->log_id);
    }
    else {
        st->created = (apr_int64_t)s->created;
        st->renewed = (apr_int64_t)s->renewed;
        end = ids_session_end(c, st->created, st->renewed, &why);
        if (now >= end) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "session (log id %s) has ended (%s); minting a "
                          "new token", st->log_id, why);
            *expired = why;
            return NULL;
        }
        renew = c->idle_timeout > 0
                && now - st->renewed >= ids_renew_interval(c);
    }
    st->timed = 1;
    /* For a section of the chain with other secrets (ids_key_under): the
     * root's own Cookie header lives as long as st; a subrequest's copy
     * of it may not. */
    if (s->stamped) {
        const char *sp = s->v + s->vlen - IDS_STAMP_CHARS;
        request_rec *root = ids_chain_root(r);

        st->stamp = r == root ? sp : apr_pmemdup(root->pool, sp,
                                                 IDS_STAMP_CHARS);
    }
    if (renew) {
        ids_count(IDS_C_RENEWED);
        st->renewed = now;
        st->renewed_now = 1;
    }
    /* The memo's digits (ids_times_from_memo) are those of this end
     * unless the stamp is renewed or the section's timeouts differ. */
    if (renew || st->expires_s == NULL || st->expires != end) {
        ids_put_found_times(st, ids_session_end(c, st->created,
                                                st->renewed, &why));
    }
    st->end_idle = c->idle_timeout;
    st->end_life = c->max_lifetime;
    return st;
}


/* Logs why the store did not answer, at most once a minute. */
static void ids_store_warn(request_rec *r, const ids_srv_conf *sc,
                           const char *what, const char *why, int closed)
{
    if (ids_warn_due(r, &ids_store_failed_at)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, IDS_LOGNO(00016)
                      "IDSessionStore %s: cannot %s: %s; %s (logged at most "
                      "once a minute)", ids_store_name(sc->store), what, why,
                      closed ? "IDSessionStoreFailure closed: answering 503 "
                               "to requests with a session"
                             : "sessions are taken as not revoked");
    }
}

/* The store's word on the session st that the cookie carried: NULL, with
 * *expired = "revoked", when it is revoked; st when it is not (*clear
 * set), or still in its grace window (then not renewed: a renewal would
 * put the old token back over the new one); st marked unavailable when
 * the store did not answer and IDSessionStoreFailure closed applies. */
static ids_state *ids_store_verdict(request_rec *r, const ids_dir_conf *c,
                                    const ids_srv_conf *sc, ids_state *st,
                                    const ids_scan *s, const char **expired,
                                    int *clear)
{
    apr_int64_t from = 0, now = apr_time_sec(r->request_time);
    const char *why = "unknown error";
    apr_status_t rv = ids_store_check(sc->store, r, st->log_id,
                                      sc->timeout * 1000, &from, &why);

    if (rv == APR_NOTFOUND) {
        *clear = 1;
        return st;
    }
    if (rv != APR_SUCCESS) {
        ids_store_warn(r, sc, "check a session", why, c->store_closed == 1);
        if (c->store_closed == 1) {
            st->failed = 1;
            st->unavailable = 1;
        }
        return st;
    }
    if (now >= from) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "session (log id %s) "
                      "is revoked; minting a new token", st->log_id);
        *expired = "revoked";
        return NULL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "session (log id %s) is "
                  "replaced; kept for %" APR_INT64_T_FMT " more seconds",
                  st->log_id, from - now);
    if (st->renewed_now) {
        st->renewed_now = 0;
        if (s->stamped) {
            st->renewed = (apr_int64_t)s->renewed;
            ids_set_times(ids_chain_root(r)->pool, st, c);
        }
    }
    return st;
}

/* IDSessionStoreReuse: records in the connection's memo that the store
 * said "not revoked" for the cookie value s found, until then.  The memo
 * is taken and given back as in ids_session, which reads the answer back
 * while it holds the memo; when another stream holds it, nothing is
 * recorded. */
static void ids_memo_clear(conn_rec *conn, const ids_scan *s,
                           const ids_store *store, apr_int64_t until)
{
    ids_memo_slot *slot = ids_memo_slot_of(conn);
    ids_conn_memo *m = slot ? ids_xchgptr(&slot->rec, NULL) : NULL;

    if (m == NULL) {
        return;
    }
    if (m->ring == s->ring && m->nbytes == s->nbytes && m->timed == s->timed
        && m->len == s->vlen && CRYPTO_memcmp(m->token, s->v, s->vlen) == 0) {
        m->clear_until = until;
        m->clear_store = store;
    }
    (void)ids_xchgptr(&slot->rec, m);
}

/* The store's word on the session st that the cookie carried, where
 * revocation is configured (ids_store_verdict).  With IDSessionStoreReuse,
 * a "not revoked" answer is reused on the same connection for that many
 * seconds. */
static IDS_NOINLINE ids_state *ids_revocation_check(request_rec *r,
                                                    const ids_dir_conf *c,
                                                    ids_state *st,
                                                    const ids_scan *s,
                                                    const char **expired)
{
    const ids_srv_conf *sc = ids_srv_conf_of(r->server);
    apr_int64_t now = apr_time_sec(r->request_time);

    /* Only the answer of this server's store: one connection can reach
     * virtual hosts with stores of their own. */
    if (sc->store && !(sc->reuse > 0 && now < s->clear_until
                       && s->clear_store == sc->store)) {
        int clear = 0;

        st = ids_store_verdict(r, c, sc, st, s, expired, &clear);
        /* Only a plain "not on the list" is reused: not a grace window,
         * not a failure. */
        if (clear && sc->reuse > 0) {
            ids_memo_clear(r->connection, s, sc->store, now + sc->reuse);
        }
    }
    return st;
}

/* When a denylist entry for a session created at created (now when
 * unknown) may go: once no section of the configuration would accept it,
 * that is the longest IDSessionMaxLifetime after created, or after the
 * latest IDSessionAdoptUntil, as a section may adopt the token without its
 * stamp until then.  Where some section has no lifetime (the main server's
 * own settings set none, or one says 0) it accepts the token for ever:
 * IDSessionRevokeKeep from now, or that end if later.  Never before
 * from. */
static apr_int64_t ids_revoke_until(const ids_srv_conf *sc,
                                    apr_int64_t created, apr_int64_t now,
                                    apr_int64_t from)
{
    apr_int64_t until = now + sc->keep;

    if (ids_lifetimes.longest > 0) {
        apr_int64_t end = (created > ids_lifetimes.adopt
                           ? created : ids_lifetimes.adopt)
                          + ids_lifetimes.longest;

        /* Where a section has none, the keep is only a floor: a section
         * with a lifetime longer than it accepts the token until then. */
        if ((ids_lifetimes.everywhere && !ids_lifetimes.zero) || end > until) {
            until = end;
        }
    }
    return until > from ? until : from + 1;
}

/* Puts the n log ids on the server's denylist from the Unix second from,
 * the first *done of them when the store fails (logged), with the store's
 * timeout and ids_store_revoke's flags. */
static apr_status_t ids_revoke_ids(request_rec *r, const char *const *ids,
                                   int n, apr_int64_t from, apr_int64_t until,
                                   int flags, int *done)
{
    const ids_srv_conf *sc = ids_srv_conf_of(r->server);
    const char *why = "unknown error";
    apr_status_t rv = ids_store_revoke(sc->store, r, ids, n, from, until,
                                       sc->timeout * 1000, flags, done, &why);

    if (rv != APR_SUCCESS) {
        ids_store_warn(r, sc, "revoke", why, 0);
    }
    return rv;
}

/* The token st is being replaced: refuse it everywhere once the grace
 * window has passed.  A token new in this chain was never sent. */
static void ids_revoke_replaced(request_rec *r, const ids_state *st)
{
    const ids_srv_conf *sc = ids_srv_conf_of(r->server);
    apr_int64_t now = apr_time_sec(r->request_time), from;
    int done;

    if (sc->store == NULL || st->token == NULL || st->minted
        || st->revoked_now || st->failed) {
        return;
    }
    from = now + sc->grace;
    /* An entry already there started no later: a revocation, or the window
     * of an earlier rotation of this token, which must not be moved on. */
    (void)ids_revoke_ids(r, &st->log_id, 1, from,
                         ids_revoke_until(sc, st->timed ? st->created : now,
                                          now, from),
                         IDS_REVOKE_EARLIER, &done);
}

/* The chain's session: the client's well-formed token, or a new one with
 * its Set-Cookie.  NULL when the random source failed; &ids_refused when
 * the chain's token was read under rules that c's refuse. */
static ids_state *ids_session(request_rec *r, const ids_dir_conf *c)
{
    request_rec *root = ids_chain_root(r);
    ids_state *st = ap_get_module_config(root->request_config,
                                         &idsession_module);
    ids_scan s;

    if (st == NULL) {
        const char *expired = NULL;
        ids_memo_slot *slot;

        s.name = ids_cookie_name(c)->s;
        s.namelen = ids_cookie_name(c)->len;
        s.nbytes = ids_token_bytes(c);
        s.ring = c->ring;
        s.timed = ids_timed(c);
        slot = ids_memo_slot_of(r->connection);
        s.memo = slot ? ids_xchgptr(&slot->rec, NULL) : NULL;
        /* Verified on this connection before, under the same keys: the
         * scanner compares it in place and skips the check. */
        s.hint = NULL;
        s.hintlen = 0;
        if (s.memo && s.memo->ring == s.ring && s.memo->nbytes == s.nbytes
            && s.memo->timed == s.timed) {
            s.hint = s.memo->token;
            s.hintlen = s.memo->len;
        }
        s.v = NULL;
        s.bad = NULL;
        s.badlen = 0;
        s.seen = 0;
        s.checked = 0;
        s.clear_until = 0;
        s.clear_store = NULL;
        s.key = -1;
        if (s.timed) {
            s.now = (apr_uint64_t)apr_time_sec(r->request_time);
            s.stamped = 0;
        }
        ids_scan_cookies(r->headers_in, &s);

        if (s.v && !s.checked) {
            /* The memo's own value: no HMAC, no SHA-256. */
            s.key = s.memo->key;
            s.clear_until = s.memo->clear_until;
            s.clear_store = s.memo->clear_store;
            st = ids_state_found(root, &s, s.memo->store_key);
            if (s.timed) {
                s.stamped = 1;
                s.created = (apr_uint64_t)s.memo->created;
                s.renewed = (apr_uint64_t)s.memo->renewed;
                ids_times_from_memo(st, s.memo);
            }
        }
        else if (s.v) {
            st = ids_state_found(root, &s, NULL);
            if (s.memo && (!s.timed || s.stamped)) {
                ids_memo_store(s.memo, &s, st->store_key, c);
                if (s.timed) {
                    ids_times_from_memo(st, s.memo);
                }
            }
        }
        if (s.memo) {
            (void)ids_xchgptr(&slot->rec, s.memo);
        }
        if (st) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                          "session cookie %s found (log id %s)",
                          s.name, st->log_id);
        }
        if (st && s.timed) {
            st = ids_session_times(r, c, st, &s, &expired);
        }
        /* Only an otherwise valid token asks the store, once a chain. */
        if (st && ids_revocation) {
            st = ids_revocation_check(r, c, st, &s, &expired);
            if (st && st->unavailable) {
                return NULL;
            }
        }
        if (st) {
            ids_count(IDS_C_KEPT);
            if (st->key >= 0) {
                ids_count_key(st->key);
            }
            /* A renewed stamp, unless the store undid it (grace). */
            if (st->renewed_now) {
                ids_send_cookie(r, st, c);
            }
        }
        else {
            st = ids_mint_session(r, root, c, &s, expired);
            if (st == NULL) {
                return NULL;
            }
        }
    }
    else if (st->failed) {
        return NULL;
    }
    else if (!ids_rules_accept(r, st, c)) {
        return &ids_refused;
    }
    if (c->app_revoke == 1) {
        st->app_revoke = 1;
    }
    if (c->app_reset == 1 && st->next == NULL) {
        st->next = ids_new_token(r, root->pool, c, "next session token");
        if (st->next == NULL) {
            return NULL;
        }
        st->app = r->pool == root->pool ? c : ids_conf_dup(root->pool, c);
    }
    return st;
}

/* Makes token the session from this response on. */
static void ids_switch(request_rec *r, ids_state *st, const ids_dir_conf *c,
                       const char *token)
{
    request_rec *root = ids_chain_root(r), *m;

    ids_revoke_replaced(r, st);
    st->token = token;
    st->other_ring = NULL;
    st->stamp = NULL;           /* the new session's is not the client's */
    ids_set_keys(root->pool, st);
    ids_set_rules(st, c);
    st->key = ids_signed(c) ? 0 : -1;
    st->minted = 1;
    st->withheld = 0;
    st->expired = NULL;
    /* A new session: its own created time. */
    st->timed = ids_timed(c);
    if (st->timed) {
        st->created = st->renewed = apr_time_sec(r->request_time);
        ids_set_times(root->pool, st, c);
    }
    ids_send_cookie(r, st, c);
    /* r, and the requests a subrequest runs inside, which read their
     * variables afterwards (SSI, the access log): the reset is the whole
     * chain's. */
    for (m = r; m; m = m->main) {
        const ids_dir_conf *mc = m == r ? c : ids_conf(m);

        if (m != r && !ids_rules_accept(m, st, mc)) {
            ids_withhold(m, st, mc);
            continue;
        }
        ids_publish_session(m, st, mc);
    }
}

/* A fresh token for this response; NULL when the random source failed. */
static const char *ids_rotate(request_rec *r, const ids_dir_conf *c)
{
    request_rec *root = ids_chain_root(r);
    ids_state *st = ap_get_module_config(root->request_config,
                                         &idsession_module);
    const char *token = ids_new_token(r, root->pool, c, "session token");
    const char *old = st ? st->log_id : NULL;

    if (token == NULL) {
        return NULL;
    }
    if (st == NULL) {
        st = ids_state_new(root, 0);
    }
    st->failed = 0;
    ids_switch(r, st, c, token);
    ids_count(IDS_C_RESETS);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "session reset: log id %s replaces %s", st->log_id,
                  old ? old : "none");
    return token;
}

/* 1 if k is "Cache-Control" in any case; Content-* and Connection part
 * from it at the second byte, before strcasecmp. */
static int ids_is_cc_key(const char *k)
{
    return k && (k[0] | 0x20) == 'c' && (k[1] | 0x20) == 'a'
           && strcasecmp(k, "Cache-Control") == 0;
}

/* 0: t has no Cache-Control; 1: it has, none private; 2: one says private
 * or no-store. */
static int ids_cc_state(const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i, any = 0;

    for (i = 0; i < arr->nelts; i++) {
        if (ids_is_cc_key(e[i].key)) {
            if (ids_cache_control_private(e[i].val)) {
                return 2;
            }
            any = 1;
        }
    }
    return any;
}

/* Appends private to every Cache-Control line of t (apr_table_mergen
 * would reach only the first). */
static void ids_cc_add_private(apr_pool_t *p, const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    apr_table_entry_t *e = (apr_table_entry_t *)arr->elts;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (ids_is_cc_key(e[i].key)) {
            e[i].val = apr_pstrcat(p, e[i].val, ", private", NULL);
        }
    }
}

/* A response that sets the session cookie must not be stored by a shared
 * cache and replayed to someone else; the handler's directives stay, and
 * every Cache-Control line says private, for caches that read only one. */
static void ids_make_private(request_rec *r)
{
    int out, err;

    /* The usual case, found through the tables' index: none at all. */
    if (apr_table_get(r->headers_out, "Cache-Control") == NULL
        && apr_table_get(r->err_headers_out, "Cache-Control") == NULL) {
        apr_table_addn(r->headers_out, "Cache-Control", "private");
        return;
    }
    out = ids_cc_state(r->headers_out);
    err = out == 2 ? 2 : ids_cc_state(r->err_headers_out);
    if (out == 2 || err == 2) {
        return;
    }
    if (err) {
        ids_cc_add_private(r->pool, r->err_headers_out);
    }
    if (out) {
        ids_cc_add_private(r->pool, r->headers_out);
    }
}

/* 1 if v is "1", or a list of "1"s (a header sent twice is merged). */
static int ids_is_one(const char *v)
{
    if (v == NULL) {
        return 0;
    }
    for (;;) {
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (*v != '1') {
            return 0;
        }
        v++;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (*v == '\0') {
            return 1;
        }
        if (*v++ != ',') {
            return 0;
        }
    }
}

/* The application's IDSession-Reset response header: -1 absent, 1 for
 * "1", 0 for anything else.  It never reaches the client. */
/* Takes the application's header name off the response: 0 when neither
 * headers_out nor err_headers_out had it, else 1 with their values in *v
 * and *ev (either may be NULL). */
static APR_INLINE int ids_take_resp_header(request_rec *r, const char *name,
                                           const char **v, const char **ev)
{
    /* apr_table_get answers at once for a table without an 'I' key;
     * err_headers_out is mostly empty. */
    *v = apr_table_get(r->headers_out, name);
    *ev = apr_table_elts(r->err_headers_out)->nelts == 0 ? NULL
          : apr_table_get(r->err_headers_out, name);
    if (*v == NULL && *ev == NULL) {
        return 0;
    }
    apr_table_unset(r->headers_out, name);
    apr_table_unset(r->err_headers_out, name);
    /* mod_cache's save filter may have stored the header already (it runs
     * before IDSESSION_LATE): its providers drop what is not committed. */
    if (ids_have_cache) {
        r->no_cache = 1;
    }
    return 1;
}

static int ids_app_header_value(request_rec *r)
{
    const char *v, *ev;

    if (!ids_take_resp_header(r, IDS_APP_HEADER, &v, &ev)) {
        return -1;
    }
    return ids_is_one(v) || ids_is_one(ev);
}

/* The application asked for rotation; the location gave it no next
 * token. */
static IDS_NOINLINE void ids_app_reset_unoffered(request_rec *r)
{
    if (ids_warn_due(r, &ids_unoffered_at)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, IDS_LOGNO(00004)
                      "%s: 1 in the response to %s was dropped and the "
                      "session was NOT rotated: IDSessionAppReset is not On "
                      "there, so no SESSION_TOKEN_NEXT was offered (note "
                      "that <Location \"/login\"> does not match "
                      "/login.php; use <Location \"/login.php\"> or "
                      "<Files>).  Logged at most once a minute.",
                      IDS_APP_HEADER, ap_escape_logitem(r->pool, r->uri));
    }
}

/* ---- hooks and handler ------------------------------------------------- */

/* A client never chooses what anyone sees as the token: its copies of
 * IDSessionHeader go before server-context rewrites (post_read_request,
 * server settings) and, in every request of a chain (subrequests and
 * internal redirects too, which header_parser skips), as soon as the
 * location's settings are known: before authorization and any handler. */
static int ids_strip_client_header(request_rec *r)
{
    const ids_dir_conf *c = ids_conf(r);

    if (c->header && *c->header) {
        ids_strip_header(r, c->header);
    }
    return DECLINED;
}

/* Timeouts that cannot work as configured, brought by sections that the
 * startup check cannot see (regex, <Files>, <If>): a timeout where no
 * secret applies (sessions would never end), or a renew interval not
 * below the idle timeout (active sessions would end).  The request fails
 * instead, and says why. */
static IDS_NOINLINE int ids_timeouts_refusal(request_rec *r,
                                             const ids_dir_conf *c)
{
    if (!ids_signed(c)) {
        if (ids_warn_due(r, &ids_untimed_at)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, IDS_LOGNO(00005)
                          "%s: IDSessionIdleTimeout or IDSessionMaxLifetime "
                          "applies here, but no IDSessionSecret does, so "
                          "sessions could not end: answering 500 (logged "
                          "at most once a minute)",
                          ap_escape_logitem(r->pool, r->uri));
        }
    }
    else if (ids_warn_due(r, &ids_renew_at)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, IDS_LOGNO(00023)
                      "%s: IDSessionRenewInterval %" APR_INT64_T_FMT " is "
                      "not smaller than IDSessionIdleTimeout %"
                      APR_INT64_T_FMT " here, so active sessions would "
                      "end: answering 500 (logged at most once a minute)",
                      ap_escape_logitem(r->pool, r->uri), c->renew_interval,
                      c->idle_timeout);
    }
    return r->prev ? DECLINED : HTTP_INTERNAL_SERVER_ERROR;
}

static int ids_fixups(request_rec *r)
{
    const ids_dir_conf *c = ids_conf(r);
    ids_state *st;

    if (c->enabled != 1) {
        /* A subrequest or internal redirect (php-cgi through mod_actions,
         * an ErrorDocument) keeps the session its chain already has. */
        st = (r->main || r->prev) ? ids_state_get(r) : NULL;
        if (st && st->token && !st->failed) {
            ids_publish(r, st, c);
            st->done = r;
        }
        return DECLINED;
    }
    if (ids_timeouts_on(c) && (!ids_signed(c) || ids_renew_bad(c))) {
        return ids_timeouts_refusal(r, c);
    }
    st = ids_session(r, c);
    if (st == NULL) {
        /* The ErrorDocument of our own 500 must not fail again. */
        if (r->prev) {
            return DECLINED;
        }
        st = ids_state_get(r);
        return st && st->unavailable ? HTTP_SERVICE_UNAVAILABLE
                                     : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st == &ids_refused) {
        st = ids_state_get(r);
        ids_withhold(r, st, c);
        st->done = r;
        return DECLINED;
    }
    ids_publish(r, st, c);
    st->done = r;
    return DECLINED;
}

/* mod_dir's fast redirect (a fixup after ours) gives r the settings of a
 * subrequest, and overlays that subrequest's environment on r's, but not
 * its headers: r's handler must see what r's new settings say. */
static IDS_NOINLINE void ids_recheck(request_rec *r, ids_state *st)
{
    const ids_dir_conf *c = ids_conf(r);

    ids_strip_client_header(r);
    if (st->token && !st->failed) {
        if (c->enabled == 1 && !ids_rules_accept(r, st, c)) {
            ids_withhold(r, st, c);
        }
        else {
            ids_publish(r, st, c);
        }
    }
    st->done = r;
}

/* For the request that answers, after mod_dir's fast redirect and any
 * internal redirect; also for error responses, which drop filters.  Every
 * response of a chain with a session gets the filter, as any of them may
 * carry the application's IDSession-Reset. */
static void ids_insert_filter(request_rec *r)
{
    ids_state *st;

    /* Subrequests too: an SSI include of a directory is fast-redirected
     * by mod_dir like a main request. */
    if ((st = ids_state_get(r)) == NULL) {
        /* No session, but maybe a fast redirect into IDSessionHeader. */
        ids_strip_client_header(r);
        return;
    }
    /* A subrequest ran fixups after r's: a fast redirect, perhaps. */
    if (st->done != r) {
        ids_recheck(r, st);
    }
    if (r->main != NULL) {
        return;
    }
    /* mod_dir's fast redirect gave r the subrequest's no_cache (0), over
     * the one ids_send_cookie set. */
    if (ids_have_cache && ids_sets_cookie(st)) {
        r->no_cache = 1;
    }
    /* Nothing has added the filters to r yet: the optional functions run
     * later, in the handler. */
    if (st->app) {
        ap_add_output_filter_handle(ids_filter_handle, st, r, r->connection);
    }
    ap_add_output_filter_handle(ids_late_handle, st, r, r->connection);
}

static void ids_insert_error_filter(request_rec *r)
{
    const ids_state *st;

    if (r->main == NULL && (st = ids_state_get(r)) != NULL) {
        /* IDSESSION also puts a Set-Cookie back where mod_headers' error
         * filter looks (ids_cookie_to_err_headers). */
        if (st->app || st->cookie) {
            ids_ensure_filter(r, ids_filter_handle);
        }
        ids_ensure_filter(r, ids_late_handle);
    }
}

/* ap_send_error_response() makes err_headers_out the response's
 * headers_out after the error filters are inserted, and mod_headers'
 * FIXUP_HEADERS_ERR then edits the fresh, empty err_headers_out: put the
 * session's Set-Cookie back where "Header always" finds it. */
static void ids_cookie_to_err_headers(request_rec *r, const ids_state *st)
{
    const char *name = st->cookie_name;
    const apr_array_header_t *arr = apr_table_elts(r->err_headers_out);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i;

    if (st->cookie == NULL || apr_table_get(r->headers_out, "Set-Cookie") == NULL) {
        return;
    }
    ids_drop_set_cookie(r->pool, r->headers_out, name);
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && strcasecmp(e[i].key, "Set-Cookie") == 0
            && strcmp(e[i].val, st->cookie) == 0) {
            return;
        }
    }
    apr_table_addn(r->err_headers_out, "Set-Cookie", st->cookie);
}

/* The application's rotation, or the warning that it could not happen. */
static IDS_NOINLINE void ids_app_rotate(request_rec *r, ids_state *st)
{
    const char *old = st->log_id;

    if (st->app == NULL || st->next == NULL) {
        ids_app_reset_unoffered(r);
        return;
    }
    /* The settings of the location that offered the next token, even
     * when an internal redirect (php-cgi, ErrorDocument) answers. */
    ids_switch(r, st, st->app, st->next);
    st->next = NULL;
    ids_count(IDS_C_APP_ROTATIONS);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "session rotated by the application: log id %s "
                  "replaces %s", st->log_id, old);
}

/* The log ids an IDSession-Revoke value v names, "current" being the
 * chain's session; NULL when an item is neither. */
static apr_array_header_t *ids_revoke_list(request_rec *r, const ids_state *st,
                                           const char *v)
{
    apr_array_header_t *ids = apr_array_make(r->pool, 2, sizeof(char *));
    char *last, *item = apr_strtok(apr_pstrdup(r->pool, v), ", \t", &last);

    for (; item; item = apr_strtok(NULL, ", \t", &last)) {
        char *id = apr_palloc(r->pool, IDS_LOG_ID_CHARS + 1);

        if (!strcasecmp(item, "current") && st->token && !st->failed) {
            id = (char *)st->log_id;
        }
        else if (!ids_log_id_parse(item, strlen(item), id)) {
            return NULL;
        }
        APR_ARRAY_PUSH(ids, char *) = id;
    }
    return ids;
}

/* The application's IDSession-Revoke, taken off the response: the sessions
 * it names are refused from now on, where IDSessionAppRevoke On applies. */
static IDS_NOINLINE void ids_app_revoke(request_rec *r, ids_state *st,
                                        const char *v)
{
    const ids_srv_conf *sc = ids_srv_conf_of(r->server);
    apr_array_header_t *ids = ids_revoke_list(r, st, v);
    apr_int64_t now = apr_time_sec(r->request_time);
    int i, done;

    if (ids == NULL || !st->app_revoke || sc->store == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, IDS_LOGNO(00017)
                      IDS_REVOKE_HEADER " in the response to %s was dropped and nothing was "
                      "revoked: %s", ap_escape_logitem(r->pool, r->uri),
                      ids == NULL ? "an item is neither a log id (16 hex "
                                    "digits) nor current"
                      : !st->app_revoke ? "IDSessionAppRevoke is not On there"
                                        : "no IDSessionStore applies");
        return;
    }
    if (ids->nelts == 0 || ids_revoke_ids(r, (const char *const *)ids->elts,
                                          ids->nelts, now,
                                          ids_revoke_until(sc, now, now, now),
                                          0, &done) != APR_SUCCESS) {
        return;
    }
    /* By value: the application may name its own session by its log id,
     * and the rotation that may follow must not write a later start over
     * this one. */
    for (i = 0; i < ids->nelts; i++) {
        if (st->log_id && !st->failed
            && strcmp(APR_ARRAY_IDX(ids, i, const char *), st->log_id) == 0) {
            st->revoked_now = 1;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "the application revoked "
                  "%d session(s): %s", ids->nelts,
                  ap_escape_logitem(r->pool, v));
}

/* IDSession-Revoke never reaches the client; it is looked for where a
 * store or IDSessionAppRevoke applies, so that others pay nothing. */
static APR_INLINE void ids_take_revoke_header(request_rec *r, ids_state *st)
{
    const char *v, *ev;

    if (!ids_revocation
        || (!st->app_revoke && ids_srv_conf_of(r->server)->store == NULL)) {
        return;
    }
    if (!ids_take_resp_header(r, IDS_REVOKE_HEADER, &v, &ev)) {
        return;
    }
    ids_app_revoke(r, st, v && ev ? apr_pstrcat(r->pool, v, ",", ev, NULL)
                                  : v ? v : ev);
}

/* Takes the application's IDSession-Revoke and IDSession-Reset off the
 * response; revokes what the first names (before a rotation replaces the
 * current session) and rotates when the second says 1. */
static APR_INLINE void ids_take_app_header(request_rec *r, ids_state *st)
{
    int ask;

    ids_take_revoke_header(r, st);
    ask = ids_app_header_value(r);

    if (ask == 1) {
        ids_app_rotate(r, st);
    }
    else if (ask == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      IDS_APP_HEADER " ignored: its value is not 1");
    }
}

static apr_status_t ids_out_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    ids_state *st = ids_state_get(r);

    if (st) {
        ids_cookie_to_err_headers(r, st);
        ids_take_app_header(r, st);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

#define IDS_H2_NOTES_AT 64

/* Passes bb on from an HTTP/2 stream.  mod_http2 copies r->notes into the
 * record of the response headers, twice (h2_headers_create), where only
 * its own notes are read; the module's SESSION_* notes made that copy most
 * of a session's cost on HTTP/2.  For the pass that makes the record, r
 * holds a copy of its notes without them, and gets back what the pass
 * added.  Not when bb carries an error, or the request a Range (the
 * byterange filter's 416): mod_http2 then runs the whole error response
 * (ap_die) inside the pass, where the notes must be whole. */
static IDS_NOINLINE apr_status_t ids_pass_h2(ap_filter_t *f,
                                             apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_table_t *notes = r->notes, *lean;
    const apr_array_header_t *arr = apr_table_elts(notes), *after;
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts, *a;
    /* at[j]: the entry of notes that lean's j-th copies, while notes has
     * at most IDS_H2_NOTES_AT entries. */
    unsigned char at[IDS_H2_NOTES_AT];
    apr_bucket *b;
    apr_status_t rv;
    int i, j, n, nelts = arr->nelts, same;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (AP_BUCKET_IS_ERROR(b)) {
            return ap_pass_brigade(f->next, bb);
        }
    }
    if (apr_table_get(r->headers_in, "Range")) {
        return ap_pass_brigade(f->next, bb);
    }
    lean = apr_table_make(r->pool, nelts);
    for (i = 0, n = 0; i < nelts; i++) {
        /* Most SESSION_* notes are the module's own: a pointer compare. */
        if (!ids_is_own_key(e[i].key) && !ids_is_session_key(e[i].key)) {
            apr_table_addn(lean, e[i].key, e[i].val);
            if (nelts <= IDS_H2_NOTES_AT) {
                at[n] = (unsigned char)i;
            }
            n++;
        }
    }
    r->notes = lean;
    rv = ap_pass_brigade(f->next, bb);
    r->notes = notes;
    arr = apr_table_elts(notes);
    after = apr_table_elts(lean);
    a = (const apr_table_entry_t *)after->elts;
    /* Usually the pass only added notes, or none.  It saw lean, not notes:
     * at[] holds unless a stale pointer changed notes meanwhile. */
    same = after->nelts >= n;
    if (nelts <= IDS_H2_NOTES_AT && arr->nelts == nelts
        && arr->elts == (const char *)e) {
        for (j = 0; same && j < n; j++) {
            same = a[j].key == e[at[j]].key && a[j].val == e[at[j]].val;
        }
    }
    else {
        e = (const apr_table_entry_t *)arr->elts;
        for (i = 0, j = 0; same && i < arr->nelts; i++) {
            if (!ids_is_session_key(e[i].key)) {
                same = j < n && a[j].key == e[i].key && a[j].val == e[i].val;
                j++;
            }
        }
    }
    if (same) {
        for (i = n; i < after->nelts; i++) {
            if (ids_is_session_key(a[i].key)) {
                apr_table_setn(notes, a[i].key, a[i].val);
            }
            else {
                apr_table_addn(notes, a[i].key, a[i].val);
            }
        }
        return rv;
    }
    /* It changed or removed some: its notes, with the module's it lacks. */
    r->notes = apr_table_copy(r->pool, lean);
    for (i = 0; i < arr->nelts; i++) {
        if (ids_is_session_key(e[i].key) && !apr_table_get(lean, e[i].key)) {
            apr_table_addn(r->notes, e[i].key, e[i].val);
        }
    }
    return rv;
}

/* The context of an IDSESSION_LATE that has done its work. */
static const char ids_late_done;

static apr_status_t ids_late_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    ids_state *st;

    if (f->ctx == &ids_late_done) {
        return ap_pass_brigade(f->next, bb);
    }
    st = f->ctx ? f->ctx : ids_state_get(r);
    if (st) {
        ids_take_app_header(r, st);
        if (ids_sets_cookie(st)) {
            ids_make_private(r);
        }
    }
    /* Its work is done at the first brigade.  One that ends the response
     * is the last (an error response starts from the protocol filters):
     * then marking it done costs less than taking it out of the chain. */
    if (!APR_BRIGADE_EMPTY(bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(bb))) {
        f->ctx = (void *)&ids_late_done;
    }
    else {
        ap_remove_output_filter(f);
    }
    if (r->connection->master) {
        return ids_pass_h2(f, bb);
    }
    return ap_pass_brigade(f->next, bb);
}

/* Why the request may not reset the session (IDSessionResetFrom), or NULL:
 * Sec-Fetch-Site when the browser sends it; else Origin, else Referer,
 * compared with the request's own origin (browsers send Fetch Metadata
 * over HTTPS only); with none of them (curl, scripts), NULL. */
static const char *ids_reset_refusal(request_rec *r, const ids_dir_conf *c)
{
    int from = c->reset_from == IDS_UNSET ? IDS_FROM_SAME_ORIGIN
                                          : c->reset_from;
    const char *site, *hdr = "Origin", *url;
    int rel;

    if (from == IDS_FROM_ANY) {
        return NULL;
    }
    site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    if (site) {
        if (!strcasecmp(site, "same-origin") || !strcasecmp(site, "none")
            || (from == IDS_FROM_SAME_SITE && !strcasecmp(site, "same-site"))) {
            return NULL;
        }
        return apr_psprintf(r->pool, "Sec-Fetch-Site: %s",
                            ap_escape_logitem(r->pool, site));
    }
    url = apr_table_get(r->headers_in, hdr);
    if (url == NULL) {
        hdr = "Referer";
        url = apr_table_get(r->headers_in, hdr);
    }
    if (url == NULL) {
        return NULL;
    }
    rel = ids_relation(r, url);
    if (rel == IDS_REL_SAME_ORIGIN
        || (rel == IDS_REL_SAME_SITE && from == IDS_FROM_SAME_SITE)) {
        return NULL;
    }
    return apr_psprintf(r->pool, "%s: %s is not %s", hdr,
                        ap_escape_logitem(r->pool, url),
                        from == IDS_FROM_SAME_SITE ? "same-site"
                                                   : "this origin");
}

/* A refused reset changes nothing: not even a token this request's
 * fixups minted reaches the client. */
static void ids_reset_refused(request_rec *r, const char *why)
{
    ids_state *st = ids_state_get(r);
    request_rec *out = ids_response_req(r);

    if (st && st->cookie) {
        ids_drop_set_cookie(out->pool, out->err_headers_out, st->cookie_name);
        ids_drop_set_cookie(out->pool, out->headers_out, st->cookie_name);
        st->cookie = NULL;
    }
    ids_count(IDS_C_RESETS_REFUSED);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, IDS_LOGNO(00006)
                  "session reset refused as cross-site (%s); see "
                  "IDSessionResetFrom", why);
}

static IDS_NOINLINE int ids_reset(request_rec *r)
{
    const ids_dir_conf *c;
    const char *target, *next, *why;
    int rv;

    ap_allow_methods(r, REPLACE_ALLOW, "GET", "POST", NULL);
    if (r->method_number != M_GET && r->method_number != M_POST) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if ((rv = ap_discard_request_body(r)) != OK) {
        return rv;
    }
    c = ids_conf(r);
    if ((why = ids_reset_refusal(r, c)) != NULL) {
        ids_reset_refused(r, why);
        apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
        return HTTP_FORBIDDEN;
    }
    if (ids_rotate(r, c) == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    target = c->reset_redirect ? c->reset_redirect : IDS_DEFAULT_REDIRECT;
    next = r->args ? ids_query_arg(r->pool, r->args, "next") : NULL;
    if (next && ids_local_path_ok(r->pool, next)) {
        target = next;
    }
    else if (next) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "reset: next is not a safe local path; "
                      "redirecting to the default");
    }
    apr_table_setn(r->headers_out, "Location", target);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return r->method_number == M_POST ? HTTP_SEE_OTHER
                                      : HTTP_MOVED_TEMPORARILY;
}

/* The log ids of a POST body's log_id fields, each once; NULL when a
 * field is anything else or malformed. */
static apr_array_header_t *ids_form_log_ids(request_rec *r,
                                            apr_array_header_t *pairs)
{
    apr_array_header_t *ids = apr_array_make(r->pool, 4, sizeof(char *));
    apr_hash_t *seen = apr_hash_make(r->pool);
    int i;

    /* In the body's order, which a partial failure reports in. */
    for (i = 0; pairs && i < pairs->nelts; i++) {
        ap_form_pair_t *pair = &APR_ARRAY_IDX(pairs, i, ap_form_pair_t);
        char *v, *id = apr_palloc(r->pool, IDS_LOG_ID_CHARS + 1);
        apr_off_t len;
        apr_size_t size;

        if (strcmp(pair->name, "log_id") != 0
            || apr_brigade_length(pair->value, 1, &len) != APR_SUCCESS
            || len > IDS_LOG_ID_CHARS) {
            return NULL;
        }
        size = (apr_size_t)len;
        v = apr_palloc(r->pool, size + 1);
        if (apr_brigade_flatten(pair->value, v, &size) != APR_SUCCESS
            || !ids_log_id_parse(v, size, id)) {
            return NULL;
        }
        /* A repeated id is one session, revoked and counted once. */
        if (apr_hash_get(seen, id, IDS_LOG_ID_CHARS) == NULL) {
            apr_hash_set(seen, id, IDS_LOG_ID_CHARS, id);
            APR_ARRAY_PUSH(ids, char *) = id;
        }
    }
    return ids;
}

/* SetHandler idsession-revoke: a POST of log_id=<16 hex digits>, repeatable,
 * revokes those sessions at once and answers {"revoked": N}.  Who may use
 * it is for Require to say. */
static IDS_NOINLINE int ids_revoke_admin(request_rec *r)
{
    const ids_srv_conf *sc = ids_srv_conf_of(r->server);
    apr_array_header_t *pairs = NULL, *ids;
    apr_int64_t now = apr_time_sec(r->request_time);
    int rv, done = 0;

    ap_allow_methods(r, REPLACE_ALLOW, "POST", NULL);
    if (r->method_number != M_POST) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (sc->store == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, IDS_LOGNO(00018) "SetHandler "
                      IDS_REVOKE_HANDLER " needs an IDSessionStore");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = ap_parse_form_data(r, NULL, &pairs, -1, IDS_REVOKE_BODY_MAX))
        != OK) {
        return rv;
    }
    ids = ids_form_log_ids(r, pairs);
    if (ids == NULL || ids->nelts == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "revocation refused: "
                      "the body must be log_id=<16 hex digits> fields "
                      "(application/x-www-form-urlencoded)");
        return HTTP_BAD_REQUEST;
    }
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (ids_revoke_ids(r, (const char *const *)ids->elts, ids->nelts, now,
                       ids_revoke_until(sc, now, now, now),
                       IDS_REVOKE_EACH, &done) != APR_SUCCESS) {
        /* Which are on the list: the ids are written in the body's order
         * (repeating a list is safe). */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%d of %d session(s) "
                      "revoked before the store failed", done, ids->nelts);
        r->status = HTTP_SERVICE_UNAVAILABLE;
        ap_rprintf(r, "{\"revoked\": %d, \"failed\": %d}\n", done,
                   ids->nelts - done);
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%d session(s) revoked",
                  ids->nelts);
    ap_rprintf(r, "{\"revoked\": %d}\n", ids->nelts);
    return OK;
}

/* The handler named like ours (first byte checked): which of the three. */
static IDS_NOINLINE int ids_handler_named(request_rec *r)
{
    if (strcmp(r->handler, IDS_HANDLER) == 0) {
        return ids_reset(r);
    }
    if (strcmp(r->handler, IDS_REVOKE_HANDLER) == 0) {
        return ids_revoke_admin(r);
    }
    return strcmp(r->handler, IDS_METRICS_HANDLER) == 0 ? ids_metrics_handler(r)
                                                         : DECLINED;
}

/* idsession-reset, idsession-revoke and idsession-metrics: one hook, a
 * byte for the rest. */
static int ids_handler(request_rec *r)
{
    if (r->handler == NULL || r->handler[0] != IDS_HANDLER[0]) {
        return DECLINED;
    }
    return ids_handler_named(r);
}

/* ---- optional functions ------------------------------------------------ */

static const char *idsession_get_token(request_rec *r)
{
    const ids_dir_conf *c = ids_conf(r);
    ids_state *st = ids_session(r, c);

    if (st == NULL || st == &ids_refused) {
        return NULL;
    }
    ids_publish(r, st, c);
    ids_ensure_filters(ids_response_req(r), st);
    return st->token;
}

static const char *idsession_reset_token(request_rec *r)
{
    const ids_dir_conf *c = ids_conf(r);
    const char *why;
    const char *token;

    /* Once the body has begun (httpd's own test for sent headers), the
     * Set-Cookie may not reach the client, which would keep the old token;
     * with a store that one would then be revoked. */
    if (ids_response_req(r)->sent_bodyct) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, IDS_LOGNO(00024)
                      "idsession_reset_token() called after the response "
                      "to %s had begun: the session was NOT reset; call "
                      "it before the response starts",
                      ap_escape_logitem(r->pool, ids_response_req(r)->uri));
        return NULL;
    }
    why = ids_reset_refusal(r, c);
    if (why) {
        ids_reset_refused(r, why);
        return NULL;
    }
    token = ids_rotate(r, c);
    if (token) {
        ids_ensure_filters(ids_response_req(r), ids_state_get(r));
    }
    return token;
}

/* ---- directives -------------------------------------------------------- */

static const char *ids_conflict_check(cmd_parms *cmd, const ids_dir_conf *c)
{
    const char *why = ids_conf_conflict(cmd->temp_pool, c, NULL);

    return why ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", why,
                             " (in the same section)", NULL) : NULL;
}

static const char *ids_bad(cmd_parms *cmd, const char *arg, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->cmd->name,
                        ap_escape_logitem(cmd->temp_pool, arg), why);
}

static const char *set_cookie_name(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    ids_name *n;

    if (!ids_cookie_name_ok(arg)) {
        return ids_bad(cmd, arg, "is not a cookie name: use an RFC 6265 "
                       "token (letters, digits and !#$%&'*+-.^_`|~)");
    }
    n = apr_palloc(cmd->pool, sizeof(*n));
    n->s = arg;
    n->len = strlen(arg);
    /* Browsers match the prefixes case-insensitively (RFC 6265bis). */
    n->prefix = strncasecmp(arg, "__Host-Http-", 12) == 0
                    ? IDS_PREFIX_SECURE | IDS_PREFIX_HOST | IDS_PREFIX_HTTP
              : strncasecmp(arg, "__Host-", 7) == 0
                    ? IDS_PREFIX_SECURE | IDS_PREFIX_HOST
              : strncasecmp(arg, "__Http-", 7) == 0
                    ? IDS_PREFIX_SECURE | IDS_PREFIX_HTTP
              : strncasecmp(arg, "__Secure-", 9) == 0 ? IDS_PREFIX_SECURE
              : IDS_PREFIX_NONE;
    c->cookie_name = n;
    return ids_conflict_check(cmd, c);
}

static const char *set_cookie_path(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    const unsigned char *s;

    if (arg[0] != '/') {
        return ids_bad(cmd, arg, "is not a path: it must start with /");
    }
    for (s = (const unsigned char *)arg; *s; s++) {
        if (*s <= 0x20 || *s >= 0x7f || *s == ';') {
            return ids_bad(cmd, arg, "may not hold ';', spaces, control "
                           "characters or non-ASCII bytes");
        }
    }
    c->cookie_path = arg;
    return ids_conflict_check(cmd, c);
}

static const char *set_cookie_domain(cmd_parms *cmd, void *dv,
                                     const char *arg)
{
    ids_dir_conf *c = dv;
    const char *s = arg[0] == '.' ? arg + 1 : arg;
    const char *p;

    if (!*s || strlen(s) > 253 || *s == '.' || *s == '-'
        || strstr(s, "..") || strstr(s, "-.") || strstr(s, ".-")
        || s[strlen(s) - 1] == '.' || s[strlen(s) - 1] == '-') {
        return ids_bad(cmd, arg, "is not a domain name");
    }
    for (p = s; *p; p++) {
        if (!apr_isalnum(*p) && *p != '-' && *p != '.') {
            return ids_bad(cmd, arg, "is not a domain name: use letters, "
                           "digits, '-' and '.'");
        }
    }
    if (strchr(s, '.') == NULL) {
        return ids_bad(cmd, arg, "is a single label: browsers refuse a "
                       "Domain without a dot (leave the directive out for "
                       "a host-only cookie)");
    }
    /* No top-level domain is all digits: this is an IPv4 address. */
    for (p = strrchr(s, '.') + 1; apr_isdigit(*p); p++) {
        continue;
    }
    if (*p == '\0') {
        return ids_bad(cmd, arg, "is an IP address: browsers refuse a "
                       "Domain that is not a host name (leave the directive "
                       "out for a host-only cookie)");
    }
    c->cookie_domain = arg;
    return ids_conflict_check(cmd, c);
}

/* A directive's keywords and the values they stand for. */
typedef struct {
    const char *word;
    int value;
} ids_keyword;

/* Sets *out to the value of keyword arg (any case) from words, or returns
 * an error naming the directive and its keywords. */
static const char *ids_parse_keyword(cmd_parms *cmd, const char *arg,
                                     const ids_keyword *words, int *out)
{
    const char *list = "";
    int i;

    for (i = 0; words[i].word; i++) {
        if (!strcasecmp(arg, words[i].word)) {
            *out = words[i].value;
            return NULL;
        }
    }
    for (i = 0; words[i].word; i++) {
        list = apr_pstrcat(cmd->temp_pool, list, i == 0 ? ""
                           : words[i + 1].word ? ", " : " or ",
                           words[i].word, NULL);
    }
    return ids_bad(cmd, arg, apr_pstrcat(cmd->temp_pool, "must be ", list,
                                         NULL));
}

static const char *set_cookie_secure(cmd_parms *cmd, void *dv,
                                     const char *arg)
{
    static const ids_keyword words[] = {
        { "On", IDS_SECURE_ON }, { "Off", IDS_SECURE_OFF },
        { "Auto", IDS_SECURE_AUTO }, { NULL, 0 }
    };
    ids_dir_conf *c = dv;
    const char *err = ids_parse_keyword(cmd, arg, words, &c->secure);

    return err ? err : ids_conflict_check(cmd, c);
}

static const char *set_cookie_samesite(cmd_parms *cmd, void *dv,
                                       const char *arg)
{
    static const ids_keyword words[] = {
        { "Strict", IDS_SAMESITE_STRICT }, { "Lax", IDS_SAMESITE_LAX },
        { "None", IDS_SAMESITE_NONE }, { "Off", IDS_SAMESITE_OFF },
        { NULL, 0 }
    };
    ids_dir_conf *c = dv;
    const char *err = ids_parse_keyword(cmd, arg, words, &c->samesite);

    return err ? err : ids_conflict_check(cmd, c);
}

static const char *set_cookie_httponly(cmd_parms *cmd, void *dv, int on)
{
    ids_dir_conf *c = dv;

    c->httponly = on;
    return ids_conflict_check(cmd, c);
}

static const char *set_cookie_partitioned(cmd_parms *cmd, void *dv, int on)
{
    ids_dir_conf *c = dv;

    c->partitioned = on;
    return ids_conflict_check(cmd, c);
}

static const char *set_reset_from(cmd_parms *cmd, void *dv, const char *arg)
{
    static const ids_keyword words[] = {
        { "same-origin", IDS_FROM_SAME_ORIGIN },
        { "same-site", IDS_FROM_SAME_SITE }, { "any", IDS_FROM_ANY },
        { NULL, 0 }
    };
    ids_dir_conf *c = dv;

    return ids_parse_keyword(cmd, arg, words, &c->reset_from);
}

/* A decimal integer in [lo, hi], or an error naming the directive. */
static const char *ids_parse_int(cmd_parms *cmd, const char *arg,
                                 apr_int64_t lo, apr_int64_t hi,
                                 apr_int64_t *out)
{
    char *end;
    apr_int64_t v;
    const char *s;

    for (s = arg; *s; s++) {
        if (!apr_isdigit(*s)) {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a number from %"
                                APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                                cmd->cmd->name,
                                ap_escape_logitem(cmd->temp_pool, arg),
                                lo, hi);
        }
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (!*arg || *end || errno || v < lo || v > hi) {
        return apr_psprintf(cmd->pool, "%s: '%s' is out of range (%"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT ")",
                            cmd->cmd->name,
                            ap_escape_logitem(cmd->temp_pool, arg), lo, hi);
    }
    *out = v;
    return NULL;
}

static const char *set_max_age(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;

    return ids_parse_int(cmd, arg, 0, IDS_MAX_AGE_MAX, &c->max_age);
}

/* The renew interval must be shorter than the idle timeout, or a session
 * would end before its first renewal. */
static const char *ids_renew_error(apr_pool_t *p, const ids_dir_conf *c)
{
    if (ids_renew_bad(c)) {
        return apr_psprintf(p, "IDSessionRenewInterval %" APR_INT64_T_FMT
                            " is not smaller than IDSessionIdleTimeout %"
                            APR_INT64_T_FMT, c->renew_interval,
                            c->idle_timeout);
    }
    return NULL;
}

static const char *set_timeout(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    apr_int64_t *field = (apr_int64_t *)((char *)c + (apr_size_t)cmd->info);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    /* Not even through AllowOverrideList: the denylist's entries are
     * sized by every lifetime, read once at startup. */
    if (err != NULL) {
        return err;
    }
    err = ids_parse_int(cmd, arg, 0, IDS_MAX_AGE_MAX, field);

    if (err == NULL && (err = ids_renew_error(cmd->temp_pool, c)) != NULL) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err,
                           " (in the same section)", NULL);
    }
    if (err == NULL && field == &c->max_lifetime) {
        if (*field == 0) {
            ids_lifetimes.zero = 1;
        }
        else if (*field > ids_lifetimes.longest) {
            ids_lifetimes.longest = *field;
        }
        /* Every section and virtual host inherits the main server's. */
        if (*field > 0 && cmd->path == NULL && !cmd->server->is_virtual) {
            ids_lifetimes.everywhere = 1;
        }
    }
    return err;
}

static const char *set_adopt_until(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    if (err != NULL) {
        return err;
    }

    /* none: an inner section ends an outer one's adoption window. */
    if (!strcasecmp(arg, "none")) {
        c->adopt_until = IDS_ADOPT_NONE;
        return NULL;
    }
    if (ids_parse_utc(arg, &c->adopt_until) != APR_SUCCESS) {
        return ids_bad(cmd, arg, "is neither none nor an RFC 3339 UTC time "
                       "such as 2030-01-31T12:00:00Z");
    }
    if (c->adopt_until > ids_lifetimes.adopt) {
        ids_lifetimes.adopt = c->adopt_until;
    }
    return NULL;
}

static const char *set_token_bytes(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    apr_int64_t v;
    const char *err = ids_parse_int(cmd, arg, IDS_TOKEN_BYTES_MIN,
                                    IDS_TOKEN_BYTES_MAX, &v);

    if (err == NULL) {
        c->token_bytes = (int)v;
    }
    return err;
}

static const char *set_reset_redirect(cmd_parms *cmd, void *dv,
                                      const char *arg)
{
    ids_dir_conf *c = dv;

    if (!ids_redirect_config_ok(cmd->temp_pool, arg)) {
        return ids_bad(cmd, arg, "is neither a safe local path (/...) nor "
                       "an absolute http(s) URL");
    }
    c->reset_redirect = arg;
    return NULL;
}

static const char *ids_secret_file_error(cmd_parms *cmd, const char *fn,
                                         apr_status_t rv)
{
    char err[128];

    return apr_psprintf(cmd->pool, "%s: cannot read secret file %s: %s",
                        cmd->cmd->name, fn,
                        apr_strerror(rv, err, sizeof(err)));
}

/* Keeps a warning about the configuration for post_config. */
static void ids_config_warn(cmd_parms *cmd, const char *msg)
{
    if (ids_config_warnings == NULL) {
        ids_config_warnings = apr_array_make(cmd->pool, 2, sizeof(char *));
    }
    APR_ARRAY_PUSH(ids_config_warnings, const char *) =
        apr_psprintf(cmd->pool, "%s (%s:%d)", msg,
                     cmd->directive->filename, cmd->directive->line_num);
}

/* The octal mode of APR permission bits (a hex digit per class). */
static unsigned ids_file_mode(apr_fileperms_t prot)
{
    return ((prot >> 8) & 7) << 6 | ((prot >> 4) & 7) << 3 | (prot & 7);
}

/* Reads a secret file; trailing whitespace is not part of the secret. */
static const char *ids_read_secret_file(cmd_parms *cmd, const char *path,
                                        unsigned char **out, apr_size_t *len)
{
    const char *fn = ap_server_root_relative(cmd->temp_pool, path);
    apr_file_t *fd;
    apr_finfo_t fi;
    apr_status_t rv;
    unsigned char *buf;
    apr_size_t n;

    if (fn == NULL || !*path) {
        return apr_psprintf(cmd->pool, "%s: invalid file path '%s'",
                            cmd->cmd->name, path);
    }
    rv = apr_file_open(&fd, fn, APR_FOPEN_READ, APR_OS_DEFAULT,
                       cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return ids_secret_file_error(cmd, fn, rv);
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_PROT, fd);
    if (rv == APR_SUCCESS
        && (fi.protection & (APR_GREAD | APR_WREAD | APR_GWRITE
                             | APR_WWRITE))) {
        ids_config_warn(cmd, apr_psprintf(cmd->temp_pool, IDS_LOGNO(00011)
                        "%s: secret file "
                        "%s has mode %04o: others than its owner can read "
                        "or change it; chmod 600 (or 640 root:root with "
                        "httpd starting as root) is enough",
                        cmd->cmd->name, fn,
                        ids_file_mode(fi.protection)));
    }
    if (rv == APR_SUCCESS && fi.size > IDS_SECRET_FILE_MAX) {
        apr_file_close(fd);
        return apr_psprintf(cmd->pool, "%s: secret file %s is larger "
                            "than %d bytes", cmd->cmd->name, fn,
                            IDS_SECRET_FILE_MAX);
    }
    n = rv == APR_SUCCESS ? (apr_size_t)fi.size : 0;
    buf = apr_palloc(cmd->temp_pool, n + 1);
    if (rv == APR_SUCCESS && n > 0) {
        rv = apr_file_read_full(fd, buf, n, &n);
    }
    apr_file_close(fd);
    if (rv != APR_SUCCESS) {
        return ids_secret_file_error(cmd, fn, rv);
    }
    while (n > 0 && apr_isspace(buf[n - 1])) {
        n--;
    }
    *out = buf;
    *len = n;
    return NULL;
}

/* The keys are as good as the secret: wipe them with the configuration. */
static apr_status_t ids_ring_cleanse(void *data)
{
    const ids_keyring *ring = data;

    OPENSSL_cleanse((void *)ring->keys, sizeof(ids_key) * ring->n);
    return APR_SUCCESS;
}

static const char *add_secret(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_dir_conf *c = dv;
    const unsigned char *secret;
    unsigned char *file_buf = NULL;
    apr_size_t len;
    ids_keyring *ring;
    ids_key *keys;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    if (err != NULL) {
        return err;
    }
    if (strncmp(arg, "file:", 5) == 0) {
        err = ids_read_secret_file(cmd, arg + 5, &file_buf, &len);
        if (err) {
            return err;
        }
        secret = file_buf;
        if (len < IDS_SECRET_MIN) {
            OPENSSL_cleanse(file_buf, len);
            return apr_psprintf(cmd->pool, "%s: the secret in %s is %"
                                APR_SIZE_T_FMT " bytes; at least %d are "
                                "needed", cmd->cmd->name, arg + 5, len,
                                IDS_SECRET_MIN);
        }
    }
    else {
        secret = (const unsigned char *)arg;
        len = strlen(arg);
        if (len < IDS_SECRET_MIN) {
            return apr_psprintf(cmd->pool, "%s: a secret must be at least "
                                "%d bytes (this one has %" APR_SIZE_T_FMT
                                "); the secret is not shown",
                                cmd->cmd->name, IDS_SECRET_MIN, len);
        }
    }
    if (c->ring && c->ring->n >= IDS_KEYS_MAX) {
        return apr_psprintf(cmd->pool, "%s: at most %d secrets in a "
                            "section (each costs an HMAC per refused "
                            "cookie)", cmd->cmd->name, IDS_KEYS_MAX);
    }
    /* Each directive copies the ring, so a ring that requests may share
     * is never written after it is built. */
    ring = apr_palloc(cmd->pool, sizeof(*ring));
    ring->n = (c->ring ? c->ring->n : 0) + 1;
    if (ring->n > ids_longest_ring) {
        ids_longest_ring = ring->n;
    }
    keys = apr_palloc(cmd->pool, sizeof(ids_key) * ring->n);
    if (c->ring) {
        memcpy(keys, c->ring->keys, sizeof(ids_key) * c->ring->n);
    }
    ids_key_init(&keys[ring->n - 1], secret, len);
    ring->keys = keys;
    c->ring = ring;
    apr_pool_cleanup_register(cmd->pool, ring, ids_ring_cleanse,
                              apr_pool_cleanup_null);
    if (file_buf) {
        OPENSSL_cleanse(file_buf, len);
    }
    else {
        /* Wipe the copies within reach: the argument, and the directive's
         * text in the configuration tree (which mod_info's ?config and
         * -DDUMP_CONFIG would also print).  The reader's line buffer and
         * mod_macro's copies are out of reach: warn. */
        ap_directive_t *d = (ap_directive_t *)cmd->directive;

        OPENSSL_cleanse((char *)arg, len);
        if (d->args != arg) {
            OPENSSL_cleanse((char *)d->args, strlen(d->args));
        }
        d->args = "(secret not shown)";
        ids_config_warn(cmd, apr_psprintf(cmd->temp_pool, IDS_LOGNO(00012)
                        "%s: a literal "
                        "secret may stay in httpd's memory, where the "
                        "configuration reader's buffers held it; use "
                        "IDSessionSecret file:/path instead",
                        cmd->cmd->name));
    }
    return NULL;
}

static const char *set_header(cmd_parms *cmd, void *dv, const char *arg)
{
    static const char *const reserved[] = {
        "Host", "Cookie", "Authorization", "Proxy-Authorization",
        "Content-Length", "Content-Type", "Transfer-Encoding", "Connection",
        "Keep-Alive", "Upgrade", "TE", "Trailer", "Expect", NULL
    };
    ids_dir_conf *c = dv;
    int i;

    if (!strcasecmp(arg, "none")) {
        c->header = "";
        return NULL;
    }
    if (!ids_cookie_name_ok(arg)) {
        return ids_bad(cmd, arg, "is not an HTTP header name");
    }
    for (i = 0; reserved[i]; i++) {
        if (ids_same_header(arg, reserved[i])) {
            return ids_bad(cmd, arg, "is a header httpd or the backend "
                           "relies on; choose a name of your own, such as "
                           "X-Session-Token");
        }
    }
    c->header = arg;
    /* Its strip at post_read_request is registered here, for the
     * configurations that need it; others do not pay for the hook's call
     * on every request.  Hooks added while the configuration is read are
     * sorted after it, and all go at the next restart, before pre_config
     * resets the flag.  Really first: a hook added now would otherwise run
     * after every other module's MIDDLE one, mod_setenvif's included. */
    if (cmd->path == NULL && !ids_server_header) {
        ids_server_header = 1;
        ap_hook_post_read_request(ids_strip_client_header, NULL, NULL,
                                  APR_HOOK_REALLY_FIRST);
    }
    return NULL;
}

static const char *set_store(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_srv_conf *sc = ids_srv_conf_of(cmd->server);

    ids_revocation = 1;
    return ids_store_create(cmd, arg, &sc->store);
}

static const char *set_app_revoke(cmd_parms *cmd, void *dv, int on)
{
    ids_dir_conf *c = dv;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_HTACCESS);

    if (err != NULL) {
        return err;
    }

    c->app_revoke = on;
    ids_revocation |= on;
    return NULL;
}

/* A server-wide number in [0, IDS_MAX_AGE_MAX] (cmd->info: its offset);
 * IDSessionStoreTimeout is at least 1 ms. */
static const char *set_srv_int(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_srv_conf *sc = ids_srv_conf_of(cmd->server);
    apr_size_t off = (apr_size_t)cmd->info;

    return ids_parse_int(cmd, arg,
                         off == APR_OFFSETOF(ids_srv_conf, timeout) ? 1 : 0,
                         IDS_MAX_AGE_MAX, (apr_int64_t *)((char *)sc + off));
}

static const char *set_reuse(cmd_parms *cmd, void *dv, const char *arg)
{
    ids_srv_conf *sc = ids_srv_conf_of(cmd->server);

    return ids_parse_int(cmd, arg, 0, 300, &sc->reuse);
}

static const char *set_breaker(cmd_parms *cmd, void *dv, const char *fails,
                               const char *secs)
{
    ids_srv_conf *sc = ids_srv_conf_of(cmd->server);
    const char *err = ids_parse_int(cmd, fails, 1, 1000,
                                    &sc->breaker_failures);

    return err ? err : ids_parse_int(cmd, secs, 1, 3600, &sc->breaker_retry);
}

static const char *set_store_failure(cmd_parms *cmd, void *dv,
                                     const char *arg)
{
    static const ids_keyword words[] = {
        { "open", 0 }, { "closed", 1 }, { NULL, 0 }
    };
    ids_dir_conf *c = dv;

    return ids_parse_keyword(cmd, arg, words, &c->store_closed);
}

static const command_rec ids_cmds[] = {
    AP_INIT_FLAG("IDSession", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(ids_dir_conf, enabled), OR_FILEINFO,
                 "On to give every request a session token (default Off)"),
    AP_INIT_TAKE1("IDSessionCookieName", set_cookie_name, NULL, OR_FILEINFO,
                  "Name of the session cookie (default _session)"),
    AP_INIT_TAKE1("IDSessionCookiePath", set_cookie_path, NULL, OR_FILEINFO,
                  "Path attribute of the session cookie (default /)"),
    AP_INIT_TAKE1("IDSessionCookieDomain", set_cookie_domain, NULL,
                  OR_FILEINFO,
                  "Domain attribute of the session cookie (default none)"),
    AP_INIT_TAKE1("IDSessionCookieSecure", set_cookie_secure, NULL,
                  OR_FILEINFO,
                  "On, Off or Auto: Secure over TLS only (default Auto)"),
    AP_INIT_FLAG("IDSessionCookieHttpOnly", set_cookie_httponly, NULL,
                 OR_FILEINFO,
                 "HttpOnly attribute of the session cookie (default On)"),
    AP_INIT_FLAG("IDSessionCookiePartitioned", set_cookie_partitioned, NULL,
                 OR_FILEINFO,
                 "Partitioned attribute (CHIPS), sent with Secure only "
                 "(default Off)"),
    AP_INIT_TAKE1("IDSessionCookieSameSite", set_cookie_samesite, NULL,
                  OR_FILEINFO, "Strict, Lax, None or Off (default Lax)"),
    AP_INIT_TAKE1("IDSessionCookieMaxAge", set_max_age, NULL, OR_FILEINFO,
                  "Cookie lifetime in seconds, 0 for a browser-session "
                  "cookie (default none: a browser-session cookie; under a "
                  "timeout, the session's end plus 300 s)"),
    AP_INIT_TAKE1("IDSessionTokenBytes", set_token_bytes, NULL, OR_FILEINFO,
                  "Random bytes per token, 16 to 192 (default 32)"),
    AP_INIT_TAKE1("IDSessionResetRedirect", set_reset_redirect, NULL,
                  OR_FILEINFO,
                  "Where idsession-reset redirects to (default /)"),
    AP_INIT_TAKE1("IDSessionResetFrom", set_reset_from, NULL, OR_FILEINFO,
                  "Who may reset: same-origin, same-site or any "
                  "(default same-origin)"),
    AP_INIT_TAKE1("IDSessionSecret", add_secret, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "HMAC secret (or file:/path); the first signs, all verify "
                  "(default none)"),
    AP_INIT_TAKE1("IDSessionHeader", set_header, NULL, OR_FILEINFO,
                  "Request header that carries the token to the handler "
                  "or backend (default none)"),
    AP_INIT_TAKE1("IDSessionIdleTimeout", set_timeout,
                  (void *)APR_OFFSETOF(ids_dir_conf, idle_timeout),
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds without renewal after which a session has ended; "
                  "needs IDSessionSecret (default 0: off)"),
    AP_INIT_TAKE1("IDSessionMaxLifetime", set_timeout,
                  (void *)APR_OFFSETOF(ids_dir_conf, max_lifetime),
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds after its creation at which a session has ended; "
                  "needs IDSessionSecret (default 0: off)"),
    AP_INIT_TAKE1("IDSessionRenewInterval", set_timeout,
                  (void *)APR_OFFSETOF(ids_dir_conf, renew_interval),
                  RSRC_CONF | ACCESS_CONF,
                  "Seconds between renewals of an active session's stamp "
                  "(default none: a quarter of IDSessionIdleTimeout, at most "
                  "300)"),
    AP_INIT_TAKE1("IDSessionAdoptUntil", set_adopt_until, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "RFC 3339 UTC time until which a signed token without a "
                  "stamp is adopted (default none: never)"),
    AP_INIT_FLAG("IDSessionAppReset", ap_set_flag_slot,
                 (void *)APR_OFFSETOF(ids_dir_conf, app_reset), OR_FILEINFO,
                 "On to offer SESSION_TOKEN_NEXT and honour the "
                 "application's IDSession-Reset response header "
                 "(default Off)"),
    AP_INIT_TAKE1("IDSessionStore", set_store, NULL, RSRC_CONF,
                  "Where revoked sessions are listed: shmcb:/path(bytes), "
                  "dbm:/path or redis:host:port[,host:port...] "
                  "(default none)"),
    AP_INIT_TAKE1("IDSessionStoreTimeout", set_srv_int,
                  (void *)APR_OFFSETOF(ids_srv_conf, timeout), RSRC_CONF,
                  "Milliseconds a request waits for the store at most "
                  "(default 250)"),
    AP_INIT_TAKE2("IDSessionStoreBreaker", set_breaker, NULL, RSRC_CONF,
                  "Consecutive failures after which the store is not asked, "
                  "and for how many seconds (default 3 5)"),
    AP_INIT_TAKE1("IDSessionStoreReuse", set_reuse, NULL, RSRC_CONF,
                  "Seconds a connection reuses the store's \"not revoked\" "
                  "for its token, 0 to 300 (default 0: asks every time)"),
    AP_INIT_TAKE1("IDSessionStoreFailure", set_store_failure, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "open (a session is taken as not revoked) or closed (503) "
                  "while the store does not answer (default open)"),
    AP_INIT_TAKE1("IDSessionRevokeGrace", set_srv_int,
                  (void *)APR_OFFSETOF(ids_srv_conf, grace), RSRC_CONF,
                  "Seconds a token replaced by a reset is still accepted "
                  "(default 10)"),
    AP_INIT_TAKE1("IDSessionRevokeKeep", set_srv_int,
                  (void *)APR_OFFSETOF(ids_srv_conf, keep), RSRC_CONF,
                  "Seconds a revocation is kept without IDSessionMaxLifetime "
                  "(default 2592000: 30 days)"),
    AP_INIT_FLAG("IDSessionAppRevoke", set_app_revoke, NULL,
                 RSRC_CONF | ACCESS_CONF,
                 "On to honour the application's IDSession-Revoke response "
                 "header (default Off)"),
    { NULL }
};

/* ---- startup ----------------------------------------------------------- */

/* One <Directory> or <Location> section, for the startup check. */
typedef struct {
    const ids_dir_conf *conf;
    const char *key;            /* directory path, or DocumentRoot + URL */
    const char *url;            /* the URL it covers; NULL: not known */
    const char *label;
    int is_url;
    int warned;                 /* contradicts the server's settings */
} ids_section;

static void ids_warn_once(apr_hash_t *seen, server_rec *s, const char *msg)
{
    if (!apr_hash_get(seen, msg, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, msg, APR_HASH_KEY_STRING, msg);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "%s", msg);
    }
}

/* Warns about the settings m that merging where gives, for the URL url
 * (NULL: unknown).  Returns 1 if they contradict each other. */
static int ids_check_merged(apr_hash_t *seen, server_rec *s, apr_pool_t *p,
                            const ids_dir_conf *m, const char *where,
                            const char *url)
{
    const char *wins;
    const char *why = ids_conf_conflict(p, m, &wins);

    if (why) {
        ids_warn_once(seen, s, apr_pstrcat(p, IDS_LOGNO(00009), why,
                                           " after merging ", where, "; ",
                                           wins, NULL));
    }
    /* A __Host- name sends Path=/ whatever the directive says. */
    if (m->enabled == 1 && m->cookie_path && url
        && !(ids_cookie_name(m)->prefix & IDS_PREFIX_HOST)
        && !ids_path_covers(m->cookie_path, url)) {
        ids_warn_once(seen, s, apr_psprintf(p, IDS_LOGNO(00010)
                      "IDSessionCookiePath %s does "
                      "not cover %s, where IDSession is On after merging %s: "
                      "browsers do not send the cookie there, so every "
                      "request there gets a new token", m->cookie_path, url,
                      where));
    }
    return why != NULL;
}

/* The URL a <Directory> under DocumentRoot serves, or NULL. */
static const char *ids_dir_url(apr_pool_t *p, const char *docroot,
                               const char *dir)
{
    apr_size_t n = strlen(docroot);

    while (n > 0 && docroot[n - 1] == '/') {
        n--;
    }
    if (strncmp(dir, docroot, n) != 0 || (dir[n] != '/' && dir[n] != '\0')) {
        return NULL;
    }
    return dir[n] == '/' ? dir + n : "/";
}

/* 1 if httpd merges section a (index i) before b (index j) when both
 * apply: directories before locations, outer before inner, then in the
 * order of the file. */
static int ids_merges_before(const ids_section *a, int i,
                             const ids_section *b, int j)
{
    apr_size_t la = strlen(a->key), lb = strlen(b->key);

    if (a->is_url != b->is_url) {
        return a->is_url < b->is_url;
    }
    return la != lb ? la < lb : i < j;
}

static int ids_nested(const char *a, const char *b)
{
    apr_size_t la = strlen(a), lb = strlen(b);

    return strncmp(a, b, la < lb ? la : lb) == 0;
}

/* The <Directory> and <Location> sections of s with settings of this
 * module (no regex or wildcard sections: their nesting is not known),
 * less those whose own cookie settings contradict each other when
 * skip_conflicts. */
static apr_array_header_t *ids_sections(apr_pool_t *p, server_rec *s,
                                        int skip_conflicts)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    apr_array_header_t *secs = apr_array_make(p, 8, sizeof(ids_section));
    apr_array_header_t *lists[2];
    ids_section *sec;
    int l, i;

    lists[0] = core->sec_dir;
    lists[1] = core->sec_url;
    for (l = 0; l < 2; l++) {
        ap_conf_vector_t **v = (ap_conf_vector_t **)lists[l]->elts;
        for (i = 0; i < lists[l]->nelts; i++) {
            core_dir_config *cd = ap_get_core_module_config(v[i]);
            ids_dir_conf *c = ap_get_module_config(v[i], &idsession_module);
            if (c == NULL || cd == NULL || cd->d == NULL || cd->r
                || cd->d_is_fnmatch
                || (skip_conflicts && ids_conf_conflict(p, c, NULL))) {
                continue;
            }
            sec = apr_array_push(secs);
            sec->conf = c;
            sec->is_url = l;
            sec->warned = 0;
            sec->label = apr_psprintf(p, "<%s %s>",
                                      l ? "Location" : "Directory", cd->d);
            sec->key = l ? apr_pstrcat(p, core->ap_document_root, cd->d,
                                       NULL) : cd->d;
            sec->url = l ? cd->d : ids_dir_url(p, core->ap_document_root,
                                               cd->d);
        }
    }
    return secs;
}

/* Warns once for each combination of sections whose merged cookie
 * settings contradict each other (a __Host-/__Secure- prefix, SameSite=None
 * without Secure) or whose IDSessionCookiePath does not cover where
 * IDSession is On: the server's own settings, the server's with one
 * section, and two nested sections (a <Directory> and a <Location> are
 * matched through DocumentRoot).  A contradiction within one section
 * already failed at parse time; at request time the cookie gets what
 * browsers require whatever the sections, also those only .htaccess files
 * bring. */
static void ids_warn_merged_conflicts(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(p);

    for (; s; s = s->next) {
        ids_dir_conf *base = ap_get_module_config(s->lookup_defaults,
                                                  &idsession_module);
        apr_array_header_t *secs;
        ids_section *sec;
        int i, j;

        if (ids_check_merged(seen, s, p, base, "the main server's and the "
                             "virtual host's settings", "/")) {
            continue;
        }
        secs = ids_sections(p, s, 1);
        sec = (ids_section *)secs->elts;
        for (i = 0; i < secs->nelts; i++) {
            sec[i].warned = ids_check_merged(seen, s, p,
                ids_merge_dir_conf(p, base, (void *)sec[i].conf),
                apr_pstrcat(p, sec[i].label, " with the server's settings",
                            NULL), sec[i].url);
        }
        for (i = 0; i < secs->nelts; i++) {
            for (j = 0; j < secs->nelts; j++) {
                const ids_section *a = &sec[i], *b = &sec[j];
                const ids_section *inner;

                if (i == j || a->warned || b->warned
                    || !ids_merges_before(a, i, b, j)
                    || !ids_nested(a->key, b->key)) {
                    continue;
                }
                inner = strlen(a->key) > strlen(b->key) ? a : b;
                ids_check_merged(seen, s, p,
                    ids_merge_dir_conf(p, ids_merge_dir_conf(p, base,
                                       (void *)a->conf), (void *)b->conf),
                    apr_pstrcat(p, a->label, " and ", b->label, NULL),
                    inner->url);
            }
        }
    }
}

/* What is wrong with the timeouts that merging where gives, or NULL. */
static const char *ids_timeout_error(apr_pool_t *p, const ids_dir_conf *m,
                                     const char *where)
{
    const char *why;

    if (ids_timeouts_on(m) && !ids_signed(m)) {
        return apr_psprintf(p, IDS_LOGNO(00013) "%s %" APR_INT64_T_FMT " needs "
                            "IDSessionSecret, and none applies after "
                            "merging %s: a session's times are signed",
                            m->idle_timeout > 0 ? "IDSessionIdleTimeout"
                                                : "IDSessionMaxLifetime",
                            m->idle_timeout > 0 ? m->idle_timeout
                                                : m->max_lifetime, where);
    }
    why = ids_renew_error(p, m);
    return why ? apr_pstrcat(p, IDS_LOGNO(00014), why, " after merging ",
                             where, NULL) : NULL;
}

/* Logs one error and counts it, once per message. */
static int ids_fail_once(apr_hash_t *seen, const char *msg)
{
    if (msg == NULL || apr_hash_get(seen, msg, APR_HASH_KEY_STRING)) {
        return 0;
    }
    apr_hash_set(seen, msg, APR_HASH_KEY_STRING, msg);
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL, "%s", msg);
    return 1;
}

/* The indexes of secs in httpd's merge order (insertion sort: a
 * configuration has few sections). */
static int *ids_merge_order(apr_pool_t *p, const apr_array_header_t *secs)
{
    const ids_section *sec = (const ids_section *)secs->elts;
    int *order = apr_palloc(p, sizeof(int) * (secs->nelts + 1));
    int i, k;

    for (i = 0; i < secs->nelts; i++) {
        for (k = i; k > 0 && ids_merges_before(&sec[i], i, &sec[order[k - 1]],
                                               order[k - 1]); k--) {
            order[k] = order[k - 1];
        }
        order[k] = i;
    }
    return order;
}

/* The timeouts are enforced with signed stamps: settings that leave a
 * timeout without IDSessionSecret, or a renew interval not below the idle
 * timeout, stop httpd (and apache2 -t).  Each section is checked as it
 * applies: the server's settings, then every section around it (a
 * <Directory> and a <Location> matched through DocumentRoot) in httpd's
 * merge order, then the section itself. */
static int ids_check_timeouts(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(p);
    int errors = 0;

    for (; s; s = s->next) {
        ids_dir_conf *base = ap_get_module_config(s->lookup_defaults,
                                                  &idsession_module);
        apr_array_header_t *secs = ids_sections(p, s, 0);
        const ids_section *sec = (const ids_section *)secs->elts;
        int *order = ids_merge_order(p, secs);
        int i, j;

        errors += ids_fail_once(seen, ids_timeout_error(p, base,
                                "the main server's and the virtual host's "
                                "settings"));
        for (j = 0; j < secs->nelts; j++) {
            const ids_dir_conf *m = base;
            const char *where = "";

            for (i = 0; order[i] != j; i++) {
                if (ids_nested(sec[order[i]].key, sec[j].key)) {
                    m = ids_merge_dir_conf(p, (void *)m,
                                           (void *)sec[order[i]].conf);
                    where = apr_pstrcat(p, where, sec[order[i]].label, ", ",
                                        NULL);
                }
            }
            m = ids_merge_dir_conf(p, (void *)m, (void *)sec[j].conf);
            errors += ids_fail_once(seen, ids_timeout_error(p, m,
                apr_pstrcat(p, "the server's settings, ", where,
                            sec[j].label, NULL)));
        }
    }
    return errors ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

/* Runs for apache2 -t and at every start, once the virtual hosts have
 * their merged settings. */
static int ids_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    return ids_check_timeouts(ptemp, s);
}

static void ids_log_config_warnings(apr_pool_t *p, server_rec *s)
{
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; ids_config_warnings && i < ids_config_warnings->nelts; i++) {
        ids_warn_once(seen, s, APR_ARRAY_IDX(ids_config_warnings, i,
                                             const char *));
    }
}

static int ids_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    ids_config_warnings = NULL;
    ids_longest_ring = 0;
    ids_revocation = 0;
    ids_server_header = 0;
    memset(&ids_lifetimes, 0, sizeof(ids_lifetimes));
    ids_store_pre_config(pconf);
    return OK;
}

/* Every server's store settings, with their defaults, and its store
 * opened (a virtual host without IDSessionStore shares the main
 * server's). */
static int ids_stores_post_config(apr_pool_t *pconf, server_rec *s)
{
    int rv = OK;

    for (; s && rv == OK; s = s->next) {
        ids_srv_conf *sc = ids_srv_conf_of(s);

        if (sc->timeout == IDS_UNSET) {
            sc->timeout = IDS_STORE_TIMEOUT;
        }
        if (sc->grace == IDS_UNSET) {
            sc->grace = IDS_REVOKE_GRACE;
        }
        if (sc->keep == IDS_UNSET) {
            sc->keep = IDS_REVOKE_KEEP;
        }
        if (sc->reuse == IDS_UNSET) {
            sc->reuse = 0;
        }
        if (sc->breaker_failures == IDS_UNSET) {
            sc->breaker_failures = IDS_BREAKER_FAILURES;
            sc->breaker_retry = IDS_BREAKER_RETRY;
        }
        if (sc->store) {
            ids_store_set_breaker(sc->store, (int)sc->breaker_failures,
                                  apr_time_from_sec(sc->breaker_retry));
            rv = ids_store_post_config(sc->store, s, pconf,
                                       sc->timeout * 1000);
        }
    }
    return rv;
}

static void ids_child_init(apr_pool_t *p, server_rec *s)
{
    for (; s; s = s->next) {
        ids_srv_conf *sc = ids_srv_conf_of(s);

        if (sc->store) {
            ids_store_child_init(sc->store, s, p);
        }
    }
}

static int ids_servername_https(const server_rec *s)
{
    return s->server_scheme != NULL && ids_is_https(s->server_scheme);
}

/* Every request's ap_http_scheme, when it is known now: 1 https, 0 http,
 * -1 not known.  Known when no module but mod_http answers it (no mod_ssl
 * or mod_tls, as behind a TLS-terminating proxy) and every ServerName has
 * the same scheme: a server without the module's directives shares the
 * main server's settings, so a per-server answer could not be kept. */
static int ids_fixed_scheme(server_rec *s)
{
    apr_array_header_t *hooks = ap_hook_get_http_scheme();
    const ap_LINK_http_scheme_t *h;
    int i, https = ids_servername_https(s);

    if (hooks == NULL) {
        return -1;
    }
    h = (const ap_LINK_http_scheme_t *)hooks->elts;
    for (i = 0; i < hooks->nelts; i++) {
        if (h[i].szName == NULL || strcmp(h[i].szName, "http_core.c") != 0) {
            return -1;
        }
    }
    for (s = s->next; s; s = s->next) {
        if (ids_servername_https(s) != https) {
            return -1;
        }
    }
    return https;
}

/* Each server's cookie attributes but Max-Age as its tail; sections that
 * set none inherit it when merged. */
static void ids_make_tails(apr_pool_t *p, server_rec *s)
{
    int fixed = ids_fixed_scheme(s);

    for (; s; s = s->next) {
        ids_dir_conf *c = ap_get_module_config(s->lookup_defaults,
                                               &idsession_module);
        ids_tail *t;
        ids_cookie_attrs a;
        int h;

        if (c == NULL) {
            continue;
        }
        t = apr_palloc(p, sizeof(*t));
        for (h = 0; h < 2; h++) {
            ids_cookie_attrs_of(c, h, 0, &a);
            a.max_age = 0;
            t->s[h] = ids_cookie_tail(p, &a);
            t->len[h] = strlen(t->s[h]);
        }
        t->split = ids_cookie_tail_split(&a);
        t->by_scheme = strcmp(t->s[0], t->s[1]) != 0;
        if (t->by_scheme && fixed >= 0) {
            t->by_scheme = 0;
            t->s[0] = t->s[fixed];
            t->len[0] = t->len[fixed];
        }
        c->tail = t;
    }
}

static int ids_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    /* The first pass only checks the configuration. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ids_log_config_warnings(ptemp, s);
    ids_warn_merged_conflicts(ptemp, s);
    ids_make_tails(pconf, s);
    ids_have_cache = ap_find_linked_module("mod_cache.c") != NULL;
    ids_status_post_config(s, ids_longest_ring);
    /* In the server's description: mod_info, server-status, and httpd's
     * own startup notice; the Server header only with ServerTokens Full. */
    ap_add_version_component(pconf, "mod_idsession/" IDSESSION_VERSION);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, IDS_LOGNO(00001)
                 "mod_idsession/" IDSESSION_VERSION " configured: counters "
                 "in shared memory, with %d IDSessionVerifiedKey lines (the "
                 "longest IDSessionSecret list)", ids_longest_ring);
    return ids_stores_post_config(pconf, s);
}

/* apache2 -t shows the same warnings. */
static void ids_test_config(apr_pool_t *pconf, server_rec *s)
{
    ids_log_config_warnings(pconf, s);
    ids_warn_merged_conflicts(pconf, s);
}

static void ids_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(ids_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_connection(ids_pre_connection, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ids_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(ids_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ids_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* ids_strip_client_header at post_read_request: set_header registers
     * it where a server-wide IDSessionHeader needs it. */
    ap_hook_post_perdir_config(ids_strip_client_header, NULL, NULL,
                               APR_HOOK_FIRST);
    /* Really first, so that a redirect from mod_rewrite's per-directory
     * rules, also a fixup, carries the cookie. */
    ap_hook_fixups(ids_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(ids_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ids_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(ids_insert_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(ids_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    /* Before mod_headers (AP_FTYPE_CONTENT_SET), so that its edits of
     * Set-Cookie apply to a rotated cookie; the Cache-Control guard after
     * every content filter, so that it sees their headers. */
    ids_filter_handle = ap_register_output_filter(IDS_FILTER, ids_out_filter,
                                                  NULL,
                                                  AP_FTYPE_CONTENT_SET - 1);
    ids_late_handle = ap_register_output_filter(IDS_FILTER_LATE,
                                                ids_late_filter, NULL,
                                                AP_FTYPE_PROTOCOL - 1);
    ids_status_register_hooks();
    APR_REGISTER_OPTIONAL_FN(idsession_get_token);
    APR_REGISTER_OPTIONAL_FN(idsession_reset_token);
}

module AP_MODULE_DECLARE_DATA idsession_module = {
    STANDARD20_MODULE_STUFF,
    ids_create_dir_conf,        /* create per-directory config */
    ids_merge_dir_conf,         /* merge per-directory config */
    ids_create_srv_conf,        /* create per-server config */
    ids_merge_srv_conf,         /* merge per-server config */
    ids_cmds,                   /* directives */
    ids_register_hooks          /* register hooks */
};
