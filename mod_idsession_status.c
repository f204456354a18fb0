/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession_status: the module's counters, for operators.
 *
 * The counters live in an anonymous shared memory segment of the parent's
 * process pool, which every child inherits and adds to with atomic adds.
 * Like the scoreboard it outlives a graceful restart: the new generation's
 * post_config finds it in the pool's userdata, and only pre_mpm, which the
 * MPMs run at a start and a full restart but not at a graceful one, zeroes
 * it.  mod_status shows them (status_hook: a section of server-status, and
 * "Name: value" lines in ?auto); the idsession-metrics handler prints them
 * in Prometheus's text format.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "scoreboard.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "mod_status.h"

#include "mod_idsession.h"
#include "mod_idsession_status.h"

extern module AP_MODULE_DECLARE_DATA idsession_module;

APLOG_USE_MODULE(idsession);

/* The userdata key of the segment; a new layout of ids_counters needs a
 * new key, so that a graceful restart into a newer module makes a segment
 * of its own rather than reading the old one wrongly. */
#define IDS_SHM_KEY          "mod_idsession counters v1"

static ids_counters ids_ctr_unshared;
ids_counters *ids_ctr = &ids_ctr_unshared;

/* How many IDSessionVerifiedKeyN lines: this generation's longest ring. */
static int ids_keys_shown;

typedef struct {
    const char *name;           /* the ?auto line */
    const char *metric;         /* the Prometheus name */
    const char *help;
} ids_counter_info;

static const ids_counter_info ids_counter_infos[IDS_C_COUNT] = {
    { "IDSessionKept", "idsession_kept_total",
      "Requests whose valid session token was kept." },
    { "IDSessionMinted", "idsession_minted_total",
      "Tokens minted because the request had no valid token (first visits, "
      "refused cookies, ended sessions)." },
    { "IDSessionRefusedMalformed", "idsession_refused_malformed_total",
      "Cookies refused for their format (length, alphabet, padding bits)." },
    { "IDSessionRefusedSignature", "idsession_refused_signature_total",
      "Cookies refused because no secret verifies their tag or stamp." },
    { "IDSessionExpiredIdle", "idsession_expired_idle_total",
      "Sessions ended by IDSessionIdleTimeout." },
    { "IDSessionExpiredLifetime", "idsession_expired_lifetime_total",
      "Sessions ended by IDSessionMaxLifetime (or a stamp stripped after "
      "IDSessionAdoptUntil)." },
    { "IDSessionRevokedRefused", "idsession_revoked_refused_total",
      "Tokens refused as revoked (IDSessionStore)." },
    { "IDSessionRenewed", "idsession_renewed_total",
      "Stamps renewed (or given to an adopted token)." },
    { "IDSessionResets", "idsession_resets_total",
      "Resets through the idsession-reset handler or idsession_reset_token()." },
    { "IDSessionResetsRefused", "idsession_resets_refused_total",
      "Resets refused as cross-site (IDSessionResetFrom)." },
    { "IDSessionAppRotations", "idsession_app_rotations_total",
      "Rotations the application asked for with IDSession-Reset: 1." },
    { "IDSessionRandomFailures", "idsession_random_failures_total",
      "Failures of the random source." },
    { "IDSessionStoreErrors", "idsession_store_errors_total",
      "IDSessionStore calls that failed or timed out." },
    { "IDSessionStoreBreakerOpen", "idsession_store_breaker_open",
      "Store circuit breakers open now (one per child process and store "
      "server; 0 when every one is closed)." },
};

#define IDS_KEY_HELP "Tokens verified and kept, by the index of the " \
                     "IDSessionSecret that verified them, in configuration " \
                     "order."

/* ---- the segment ------------------------------------------------------- */

void ids_status_post_config(server_rec *s, int keys)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    ids_keys_shown = keys;
    apr_pool_userdata_get((void **)&shm, IDS_SHM_KEY, pp);
    if (shm == NULL) {
        rv = apr_shm_create(&shm, sizeof(ids_counters), NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, IDS_LOGNO(00015)
                         "cannot make the shared memory for the counters: "
                         "each process counts for itself, and server-status "
                         "shows only the counts of the process that answers");
            return;
        }
        memset(apr_shm_baseaddr_get(shm), 0, sizeof(ids_counters));
        /* apr_pool_userdata_set copies the key: this module's text goes
         * at the next restart, the process pool stays. */
        apr_pool_userdata_set(shm, IDS_SHM_KEY, apr_pool_cleanup_null, pp);
    }
    ids_ctr = apr_shm_baseaddr_get(shm);
}

/* A start or a full restart, not a graceful one: counting begins anew. */
static int ids_status_pre_mpm(apr_pool_t *p, ap_scoreboard_e sb_type)
{
    memset(ids_ctr, 0, sizeof(*ids_ctr));
    return OK;
}

/* The counters as they are now, each read atomically. */
static void ids_snapshot(apr_uint64_t *c, apr_uint64_t *key)
{
    int i;

    for (i = 0; i < IDS_C_COUNT; i++) {
        c[i] = ids_read(&ids_ctr->c[i]);
    }
    for (i = 0; i < ids_keys_shown; i++) {
        key[i] = ids_read(&ids_ctr->key[i]);
    }
}

/* ---- mod_status -------------------------------------------------------- */

static int ids_status_hook(request_rec *r, int flags)
{
    apr_uint64_t c[IDS_C_COUNT], key[IDS_KEYS_MAX];
    int i;

    ids_snapshot(c, key);
    /* ?auto and ?notable: a line each, as mod_status's own. */
    if (flags & (AP_STATUS_SHORT | AP_STATUS_NOTABLE)) {
        const char *eol = (flags & AP_STATUS_SHORT) ? "\n" : "<br />\n";

        if (!(flags & AP_STATUS_SHORT)) {
            ap_rputs("<hr />\n<h2>mod_idsession " IDSESSION_VERSION "</h2>\n",
                     r);
        }
        for (i = 0; i < IDS_C_COUNT; i++) {
            ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "%s",
                       ids_counter_infos[i].name, c[i], eol);
        }
        for (i = 0; i < ids_keys_shown; i++) {
            ap_rprintf(r, "IDSessionVerifiedKey%d: %" APR_UINT64_T_FMT "%s",
                       i, key[i], eol);
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_idsession " IDSESSION_VERSION "</h2>\n", r);
    ap_rputs("<table border=\"0\">\n<tr><th>Counter</th><th>Value</th>"
             "<th>Counts</th></tr>\n", r);
    for (i = 0; i < IDS_C_COUNT; i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td>"
                   "<td>%s</td></tr>\n", ids_counter_infos[i].name, c[i],
                   ids_counter_infos[i].help);
    }
    for (i = 0; i < ids_keys_shown; i++) {
        ap_rprintf(r, "<tr><td>IDSessionVerifiedKey%d</td><td>%"
                   APR_UINT64_T_FMT "</td><td>Tokens verified and kept by "
                   "IDSessionSecret number %d (from 0) of their section"
                   "</td></tr>\n", i, key[i], i);
    }
    ap_rputs("</table>\n", r);
    return OK;
}

/* ---- the idsession-metrics handler ------------------------------------- */

/* The counters in Prometheus's text exposition format (0.0.4). */
static void ids_metrics_write(request_rec *r)
{
    apr_uint64_t c[IDS_C_COUNT], key[IDS_KEYS_MAX];
    int i;

    ids_snapshot(c, key);
    for (i = 0; i < IDS_C_COUNT; i++) {
        const ids_counter_info *m = &ids_counter_infos[i];

        ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n%s %" APR_UINT64_T_FMT "\n",
                   m->metric, m->help, m->metric,
                   i == IDS_C_STORE_BREAKER_OPEN ? "gauge" : "counter",
                   m->metric, c[i]);
    }
    if (ids_keys_shown > 0) {
        ap_rputs("# HELP idsession_verified_key_total " IDS_KEY_HELP "\n"
                 "# TYPE idsession_verified_key_total counter\n", r);
    }
    for (i = 0; i < ids_keys_shown; i++) {
        ap_rprintf(r, "idsession_verified_key_total{key=\"%d\"} %"
                   APR_UINT64_T_FMT "\n", i, key[i]);
    }
    ap_rputs("# HELP idsession_info The version of mod_idsession.\n"
             "# TYPE idsession_info gauge\n"
             "idsession_info{version=\"" IDSESSION_VERSION "\"} 1\n", r);
}

int ids_metrics_handler(request_rec *r)
{
    ap_allow_methods(r, REPLACE_ALLOW, "GET", NULL);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ids_metrics_write(r);
    }
    return OK;
}

void ids_status_register_hooks(void)
{
    ap_hook_pre_mpm(ids_status_pre_mpm, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, ids_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
