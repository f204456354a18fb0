/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_idsession_test: a tiny module that uses mod_idsession's optional
 * functions the way another module would, for the e2e tests
 * (tests/e2e/test_ecosystem_api.py).  Not installed; built by `make test`.
 *
 *   LoadModule idsession_test_module tests/mod/.libs/mod_idsession_test.so
 *   <Location /api>
 *       SetHandler idsession-test
 *   </Location>
 *
 * GET /api               token=<idsession_get_token(r)>
 * GET /api?reset=N       also calls idsession_reset_token(r) N times (1..3)
 *                        and prints reset=<new token> for each, then
 *                        after=<idsession_get_token(r)>
 * GET /api?other=1&...   first adds a Set-Cookie of its own (other=1), which
 *                        the resets must leave alone
 * GET /api?late=1        sends the headers (a flush) before it resets, which
 *                        must fail: prints reset=<NULL> and the token after
 * GET /api?sub=1         runs a subrequest for /api/sub?reset=1 first (a
 *                        reset inside it), then prints main_env=<its
 *                        environment's SESSION_TOKEN> beside the notes
 * SetEnv IDS_TEST_FIXUP_RESET 1 in a section: a fixup after mod_idsession's
 *                        resets the token there (as a single sign-on module
 *                        might at login) and notes it as IDS_TEST_RESET
 * Every answer also prints note=<r->notes SESSION_TOKEN> and
 * new=<r->notes SESSION_TOKEN_NEW>, as the module left them.  When
 * mod_idsession is not loaded the functions are missing: 500.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional.h"
#include "apr_strings.h"

#include "mod_idsession.h"

#define IDS_TEST_HANDLER "idsession-test"
#define IDS_TEST_MAX_RESETS 3

module AP_MODULE_DECLARE_DATA idsession_test_module;

APLOG_USE_MODULE(idsession_test);

static APR_OPTIONAL_FN_TYPE(idsession_get_token) *ids_get_token;
static APR_OPTIONAL_FN_TYPE(idsession_reset_token) *ids_reset_token;

/* Runs once all modules are loaded, whatever their LoadModule order. */
static void ids_test_retrieve(void)
{
    ids_get_token = APR_RETRIEVE_OPTIONAL_FN(idsession_get_token);
    ids_reset_token = APR_RETRIEVE_OPTIONAL_FN(idsession_reset_token);
}

/* The number in query argument name=N, or 0 (also when it is absent). */
static int ids_test_arg(const request_rec *r, const char *name)
{
    apr_size_t len = strlen(name);
    const char *a = r->args;

    while (a && *a) {
        if (strncmp(a, name, len) == 0 && a[len] == '=') {
            int n = atoi(a + len + 1);
            return n < 0 ? 0 : n;
        }
        a = strchr(a, '&');
        a = a ? a + 1 : NULL;
    }
    return 0;
}

static const char *ids_test_note(const request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->notes, name);

    return v ? v : "<unset>";
}

static int ids_test_handler(request_rec *r)
{
    const char *token, *after = NULL, *sub_env = NULL;
    const char *resets[IDS_TEST_MAX_RESETS];
    int i, n;

    if (r->handler == NULL || strcmp(r->handler, IDS_TEST_HANDLER) != 0) {
        return DECLINED;
    }
    if (ids_get_token == NULL || ids_reset_token == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "mod_idsession's optional functions are missing "
                      "(is idsession_module loaded?)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    token = ids_get_token(r);
    if (token == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Every header change comes before the first byte of the body. */
    if (ids_test_arg(r, "other")) {
        apr_table_addn(r->err_headers_out, "Set-Cookie", "other=1; Path=/");
    }
    n = ids_test_arg(r, "reset");
    if (n > IDS_TEST_MAX_RESETS) {
        n = IDS_TEST_MAX_RESETS;
    }
    for (i = 0; i < n; i++) {
        resets[i] = ids_reset_token(r);
        if (resets[i] == NULL) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (n > 0) {
        after = ids_get_token(r);
    }
    if (ids_test_arg(r, "sub")) {
        request_rec *sub = ap_sub_req_lookup_uri("/api/sub?reset=1", r,
                                                 r->output_filters);

        if (sub->status == HTTP_OK) {
            ap_run_sub_req(sub);
        }
        ap_destroy_sub_req(sub);
        sub_env = apr_table_get(r->subprocess_env, "SESSION_TOKEN");
    }

    ap_set_content_type(r, "text/plain");
    if (r->header_only) {
        return OK;
    }
    if (ids_test_arg(r, "late")) {
        const char *late;

        ap_rprintf(r, "token=%s\n", token);
        ap_rflush(r);
        late = ids_reset_token(r);
        ap_rprintf(r, "reset=%s\n", late ? late : "<NULL>");
        ap_rprintf(r, "after=%s\n", ids_get_token(r));
        return OK;
    }
    if (r->main) {
        return OK;          /* /api/sub: the reset is all it is for */
    }
    ap_rprintf(r, "token=%s\n", token);
    for (i = 0; i < n; i++) {
        ap_rprintf(r, "reset=%s\n", resets[i]);
    }
    if (after) {
        ap_rprintf(r, "after=%s\n", after);
    }
    ap_rprintf(r, "note=%s\n", ids_test_note(r, "SESSION_TOKEN"));
    ap_rprintf(r, "new=%s\n", ids_test_note(r, "SESSION_TOKEN_NEW"));
    ap_rprintf(r, "log_id=%s\n", ids_test_note(r, "SESSION_LOG_ID"));
    if (sub_env) {
        ap_rprintf(r, "main_env=%s\n", sub_env);
    }
    return OK;
}

/* After mod_idsession's fixups: a reset before the handler runs. */
static int ids_test_fixup(request_rec *r)
{
    if (ids_reset_token && r->main == NULL
        && apr_table_get(r->subprocess_env, "IDS_TEST_FIXUP_RESET")) {
        const char *t = ids_reset_token(r);

        apr_table_setn(r->notes, "IDS_TEST_RESET", t ? t : "<NULL>");
    }
    return DECLINED;
}

static void ids_test_register_hooks(apr_pool_t *p)
{
    ap_hook_optional_fn_retrieve(ids_test_retrieve, NULL, NULL,
                                 APR_HOOK_MIDDLE);
    ap_hook_handler(ids_test_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(ids_test_fixup, NULL, NULL, APR_HOOK_LAST);
}

module AP_MODULE_DECLARE_DATA idsession_test_module = {
    STANDARD20_MODULE_STUFF,
    NULL,                       /* create per-directory config */
    NULL,                       /* merge per-directory config */
    NULL,                       /* create per-server config */
    NULL,                       /* merge per-server config */
    NULL,                       /* directives */
    ids_test_register_hooks     /* register hooks */
};
