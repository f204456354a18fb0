/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * The input is a redirect target, as the reset handler would get it:
 *  - raw, through ids_local_path_ok (and ids_redirect_config_ok);
 *  - as the value of "next=" + input, through ids_query_arg and then
 *    ids_local_path_ok, exactly the handler's path;
 *  - as a whole query string, through ids_query_arg.
 * Whatever is accepted must start with one '/', never "//" or "/\", hold no
 * control character, space, backslash or raw non-ASCII byte, and keep that
 * shape after one and two rounds of percent-decoding, with no "scheme://"
 * and no "." or ".." segment before the query.  ids_query_arg must agree with a reference decoder.
 */

#include <strings.h>
#include "fuzz_common.h"

/* The shape every accepted stage has. */
static void check_stage(const char *s, int raw)
{
    const unsigned char *c;
    size_t plen = strcspn(s, "?#");
    const char *sch;

    FUZZ_ASSERT(s[0] == '/');
    FUZZ_ASSERT(s[1] != '/' && s[1] != '\\');
    for (c = (const unsigned char *)s; *c; c++) {
        FUZZ_ASSERT(*c >= 0x20 && *c != 0x7f && *c != '\\' && *c != ' ');
        FUZZ_ASSERT(!raw || *c < 0x80);
    }
    sch = strstr(s, "://");
    FUZZ_ASSERT(sch == NULL || (size_t)(sch - s) >= plen);
    /* No dot segment, which a browser would remove (RFC 3986 5.2.4): with
     * a '/' after the path, every segment stands between two. */
    {
        char *path = malloc(plen + 2);

        if (path == NULL) {
            abort();
        }
        memcpy(path, s, plen);
        memcpy(path + plen, "/", 2);
        FUZZ_ASSERT(strstr(path, "/./") == NULL);
        FUZZ_ASSERT(strstr(path, "/../") == NULL);
        free(path);
    }
}

static void check_local_ok(const char *target)
{
    char *d1, *d2;

    check_stage(target, 1);
    d1 = fuzz_pct_decode(target, strlen(target));
    FUZZ_ASSERT(d1 != NULL);
    check_stage(d1, 0);
    d2 = fuzz_pct_decode(d1, strlen(d1));
    FUZZ_ASSERT(d2 != NULL);
    check_stage(d2, 0);
    free(d2);
    free(d1);
}

/* The first "key=" pair of args, decoded once; NULL when absent. */
static char *ref_query_arg(const char *args, const char *key, int *absent)
{
    size_t klen = strlen(key);
    const char *s = args;

    while (*s) {
        const char *end = strchr(s, '&');
        size_t len = end ? (size_t)(end - s) : strlen(s);

        if (len > klen && memcmp(s, key, klen) == 0 && s[klen] == '=') {
            *absent = 0;
            return fuzz_pct_decode(s + klen + 1, len - klen - 1);
        }
        if (end == NULL) {
            break;
        }
        s = end + 1;
    }
    *absent = 1;
    return NULL;
}

static void check_query(apr_pool_t *p, const char *args)
{
    int absent;
    char *want = ref_query_arg(args, "next", &absent);
    char *got = ids_query_arg(p, args, "next");

    FUZZ_ASSERT((got == NULL) == (want == NULL));
    if (got != NULL) {
        FUZZ_ASSERT(strcmp(got, want) == 0);
        if (ids_local_path_ok(p, got)) {
            check_local_ok(got);
        }
    }
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *target, *args;
    int ok, cfg;
    size_t len;

    fuzz_init();
    target = fuzz_cstr(data, size);
    len = strlen(target);

    ok = ids_local_path_ok(fuzz_pool, target);
    if (ok) {
        check_local_ok(target);
    }

    cfg = ids_redirect_config_ok(fuzz_pool, target);
    if (target[0] == '/') {
        FUZZ_ASSERT(cfg == ok);
    }
    else if (cfg) {
        const unsigned char *c;
        FUZZ_ASSERT(strncasecmp(target, "http://", 7) == 0
                    || strncasecmp(target, "https://", 8) == 0);
        for (c = (const unsigned char *)target; *c; c++) {
            FUZZ_ASSERT(*c > 0x20 && *c < 0x7f && *c != '\\');
        }
    }

    /* The reset handler's path: ?next=<input>. */
    args = malloc(len + 6);
    memcpy(args, "next=", 5);
    memcpy(args + 5, target, len + 1);
    check_query(fuzz_pool, args);
    free(args);

    /* The input as the whole query string. */
    check_query(fuzz_pool, target);

    apr_pool_clear(fuzz_pool);
    free(target);
    return 0;
}
