/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * mod_ids_floor: what mod_idsession's contract costs a returning visitor's
 * request at the least, for the "contract floor" rows of `make bench` only.
 * Not installed, not a session module: it checks nothing, keeps nothing.
 *
 * For a request whose Cookie header holds _session=<the IDSFloorToken
 * value>, found with strstr and compared with strncmp, it does the work no
 * implementation of the contract can skip, through the cheapest httpd API
 * for each part:
 *   - the IDSFloorVars variables (the token in the first, a constant in
 *     the others) in r->notes and r->subprocess_env, with apr_table_addn;
 *   - one output filter that takes IDSession-Reset off the response.
 * Without that cookie, what a new visitor's response needs besides minting
 * the token and hashing it: the same, SESSION_TOKEN_NEW too, and a fixed
 * Set-Cookie: _session=<the token> (so that the bench fetches its hot
 * cookie the way it does from every variant) with Cache-Control: private.
 *
 *   LoadModule ids_floor_module bench/floor/.libs/mod_ids_floor.so
 *   IDSFloorToken <the cookie's value>
 *   IDSFloorVars SESSION_TOKEN SESSION_STORE_KEY SESSION_LOG_ID
 */

#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

module AP_MODULE_DECLARE_DATA ids_floor_module;

#define FLOOR_NAME "_session="
#define FLOOR_NAME_LEN (sizeof(FLOOR_NAME) - 1)

#define FLOOR_VARS_MAX 8

typedef struct {
    const char *token;
    apr_size_t len;
    const char *set_cookie;
    const char *vars[FLOOR_VARS_MAX];
    int nvars;
} floor_conf;

static ap_filter_rec_t *floor_filter_handle;

/* Constant, as a verified token's store key and log id would be in the
 * module's connection memo. */
static const char floor_value[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void *floor_create(apr_pool_t *p, server_rec *s)
{
    return apr_pcalloc(p, sizeof(floor_conf));
}

static const char *set_token(cmd_parms *cmd, void *dv, const char *arg)
{
    floor_conf *c = ap_get_module_config(cmd->server->module_config,
                                         &ids_floor_module);

    c->token = arg;
    c->len = strlen(arg);
    c->set_cookie = apr_pstrcat(cmd->pool, FLOOR_NAME, arg,
                                "; Path=/; HttpOnly; SameSite=Lax", NULL);
    return NULL;
}

static const char *add_var(cmd_parms *cmd, void *dv, const char *arg)
{
    floor_conf *c = ap_get_module_config(cmd->server->module_config,
                                         &ids_floor_module);

    if (c->nvars == FLOOR_VARS_MAX) {
        return "IDSFloorVars: too many variables";
    }
    c->vars[c->nvars++] = arg;
    return NULL;
}

static void floor_put(apr_table_t *t, const floor_conf *c)
{
    int i;

    for (i = 0; i < c->nvars; i++) {
        apr_table_addn(t, c->vars[i], i == 0 ? c->token : floor_value);
    }
}

static int floor_fixups(request_rec *r)
{
    const floor_conf *c = ap_get_module_config(r->server->module_config,
                                               &ids_floor_module);
    const char *h = apr_table_get(r->headers_in, "Cookie");
    const char *v = h ? strstr(h, FLOOR_NAME) : NULL;

    if (c->token == NULL) {
        return DECLINED;
    }
    if (v == NULL || strncmp(v + FLOOR_NAME_LEN, c->token, c->len) != 0
        || (v[FLOOR_NAME_LEN + c->len] != '\0'
            && v[FLOOR_NAME_LEN + c->len] != ';')) {
        apr_table_addn(r->err_headers_out, "Set-Cookie", c->set_cookie);
        apr_table_addn(r->headers_out, "Cache-Control", "private");
        apr_table_addn(r->notes, "SESSION_TOKEN_NEW", "1");
        apr_table_addn(r->subprocess_env, "SESSION_TOKEN_NEW", "1");
    }
    floor_put(r->notes, c);
    floor_put(r->subprocess_env, c);
    ap_add_output_filter_handle(floor_filter_handle, NULL, r, r->connection);
    return DECLINED;
}

static apr_status_t floor_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;

    if (apr_table_get(r->headers_out, "IDSession-Reset")) {
        apr_table_unset(r->headers_out, "IDSession-Reset");
    }
    if (!apr_is_empty_table(r->err_headers_out)
        && apr_table_get(r->err_headers_out, "IDSession-Reset")) {
        apr_table_unset(r->err_headers_out, "IDSession-Reset");
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static const command_rec floor_cmds[] = {
    AP_INIT_TAKE1("IDSFloorToken", set_token, NULL, RSRC_CONF,
                  "the hot cookie's value"),
    AP_INIT_ITERATE("IDSFloorVars", add_var, NULL, RSRC_CONF,
                    "the variables to set, the token's first"),
    {NULL}
};

static void floor_hooks(apr_pool_t *p)
{
    ap_hook_fixups(floor_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    /* Where mod_idsession's IDSESSION_LATE runs. */
    floor_filter_handle = ap_register_output_filter("IDS_FLOOR",
                                                    floor_filter, NULL,
                                                    AP_FTYPE_PROTOCOL - 1);
}

AP_DECLARE_MODULE(ids_floor) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    floor_create,
    NULL,
    floor_cmds,
    floor_hooks
};
