/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_cookie_name_ok and ids_cookie_find over many Cookie headers, with the
 * token validator the module uses.
 */

#include <stdlib.h>
#include <string.h>
#include "apr_strings.h"
#include "unit.h"

void test_cookie_name(apr_pool_t *p)
{
    static const struct {
        const char *name;
        int ok;
    } cases[] = {
        { "_session", 1 }, { "a", 1 }, { "SESSION", 1 }, { "__Host-id", 1 },
        { "__Secure-id", 1 }, { "x.y", 1 }, { "0", 1 },
        { "!#$%&'*+-.^_`|~", 1 },
        { "", 0 }, { "a b", 0 }, { " a", 0 }, { "a ", 0 }, { "a;b", 0 },
        { "a=b", 0 }, { "a,b", 0 }, { "a\"b", 0 }, { "a\tb", 0 },
        { "a\r\nb", 0 }, { "a\x7f", 0 }, { "a\x01", 0 }, { "caf\xc3\xa9", 0 },
        { "(a)", 0 }, { "a<b>", 0 }, { "a@b", 0 }, { "a:b", 0 },
        { "a\\b", 0 }, { "a/b", 0 }, { "[a]", 0 }, { "a?", 0 }, { "{a}", 0 },
    };
    size_t i;

    (void)p;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_int_is(ids_cookie_name_ok(cases[i].name), cases[i].ok,
                   "cookie name #%zu %s", i, cases[i].ok ? "allowed" : "refused");
    }
}

/* The validator the module passes: a well-formed token for ctx's size and
 * keyring. */
typedef struct {
    apr_size_t nbytes;
    const ids_keyring *ring;
} token_ctx;

static int accept_token(const char *v, apr_size_t len, void *ctx)
{
    token_ctx *t = ctx;
    return ids_token_ok(v, len, t->nbytes, t->ring);
}

#define BAD_PAD "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPR"   /* padding bits */
#define STD_B64 "abcdefghijklmnopqrstuvwxyz+/CDEFGHIJKLMNOPQ"   /* '+' and '/' */

/* One header, and what scanning it for name must give. */
typedef struct {
    const char *what;
    const char *hdr;
    const char *name;
    const char *want;       /* the value found, NULL for none */
    int seen;               /* the count of cookies called name scanned */
    int is_signed;
} cookie_case;

static const cookie_case cookie_cases[] = {
    { "alone", "_session=" T1, "_session", T1, 1, 0 },
    { "leading space", " _session=" T1, "_session", T1, 1, 0 },
    { "leading tab", "\t_session=" T1, "_session", T1, 1, 0 },
    { "first of two", "_session=" T1 "; other=1", "_session", T1, 1, 0 },
    { "second of two", "other=1; _session=" T1, "_session", T1, 1, 0 },
    { "';' without space", "other=1;_session=" T1, "_session", T1, 1, 0 },
    /* ',' belongs to the value (RFC 6265 4.2.1): never a pair separator */
    { "',' without space", "other=1,_session=" T1, "_session", NULL, 0, 0 },
    { "', ' as httpd merges headers", "other=1, _session=" T1, "_session", NULL, 0, 0 },
    { "planted through ',' before the real one",
      "pref=x,_session=" T2 "; _session=" T1, "_session", T1, 1, 0 },
    { "planted through ',' under __Host-",
      "pref=x,__Host-session=" T2 "; __Host-session=" T1, "__Host-session", T1, 1, 0 },
    { "',' after the value", "_session=" T1 ",x=1", "_session", NULL, 1, 0 },
    { "tab after ';'", "a=1;\t_session=" T1, "_session", T1, 1, 0 },
    { "spaces and tabs everywhere", " \t a=1 \t ; \t _session \t = \t " T1 " \t ; b=2 ",
      "_session", T1, 1, 0 },
    { "spaces around '='", "_session = " T1, "_session", T1, 1, 0 },
    { "space before ';'", "_session=" T1 " ; x=1", "_session", T1, 1, 0 },
    { "trailing tab", "_session=" T1 "\t", "_session", T1, 1, 0 },
    { "trailing ';'", "_session=" T1 ";", "_session", T1, 1, 0 },
    { "trailing separators", "_session=" T1 ";;;,,, ", "_session", T1, 1, 0 },
    { "';' runs in between", "a=1;;; ;_session=" T1 ";;x=1", "_session", T1, 1, 0 },
    { "',' in the runs in between", "a=1;,; ,_session=" T1 ",;x=1", "_session", NULL, 0, 0 },
    /* duplicates: the first well-formed value wins */
    { "duplicate, both valid", "_session=" T1 "; _session=" T2, "_session", T1, 1, 0 },
    { "duplicate joined by ',' is one value", "_session=" T2 ", _session=" T1, "_session",
      NULL, 1, 0 },
    { "invalid then valid", "_session=bad; _session=" T1, "_session", T1, 2, 0 },
    { "valid then invalid", "_session=" T1 "; _session=bad", "_session", T1, 1, 0 },
    { "empty then valid", "_session=; _session=" T1, "_session", T1, 2, 0 },
    { "padding bits then valid", "_session=" BAD_PAD "; _session=" T2, "_session", T2, 2, 0 },
    { "three, only the last valid", "a=1;_session=bad; _session=\"" T1 "\"; _session=" T2,
      "_session", T2, 3, 0 },
    { "',' pairs inside one value", "a=1,_session=bad, _session=\"" T1 "\"; _session=" T2,
      "_session", T2, 1, 0 },
    { "split over merged headers", "a=1; _session=x, b=2, _session=" T1, "_session", NULL, 1, 0 },
    /* names that are not the name */
    { "prefix name x_session", "x_session=" T1, "_session", NULL, 0, 0 },
    { "suffix name _session2", "_session2=" T1, "_session", NULL, 0, 0 },
    { "__session", "__session=" T1, "_session", NULL, 0, 0 },
    { "case differs", "_Session=" T1, "_session", NULL, 0, 0 },
    { "prefix and suffix names, then the name",
      "x_session=" T2 "; _session2=" T2 "; _session=" T1, "_session", T1, 1, 0 },
    { "name inside another cookie's value", "a=_session=" T1, "_session", NULL, 0, 0 },
    { "name after a space inside a value", "a=x _session=" T1, "_session", NULL, 0, 0 },
    { "name inside a quoted value", "a=\"_session=" T1 "\"", "_session", NULL, 0, 0 },
    { "name glued to the previous value", "_session=" T1 "_session=" T2, "_session", NULL, 1, 0 },
    { "name with a space inside", "foo _session=" T1, "_session", NULL, 0, 0 },
    { "value with '=' in another cookie first", "a=b=c; _session=" T1, "_session", T1, 1, 0 },
    /* values that are not tokens */
    { "quoted value", "_session=\"" T1 "\"", "_session", NULL, 1, 0 },
    { "empty value", "_session=", "_session", NULL, 1, 0 },
    { "empty value before ';'", "_session=;", "_session", NULL, 1, 0 },
    { "only spaces as value", "_session=   ", "_session", NULL, 1, 0 },
    { "padding bits set", "_session=" BAD_PAD, "_session", NULL, 1, 0 },
    { "standard base64 alphabet", "_session=" STD_B64, "_session", NULL, 1, 0 },
    { "'=' padding", "_session=" T1 "=", "_session", NULL, 1, 0 },
    { "'==' value start", "_session==" T1, "_session", NULL, 1, 0 },
    { "one character long", "_session=" T1 "A", "_session", NULL, 1, 0 },
    { "one character short", "_session=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
      "_session", NULL, 1, 0 },
    { "space inside the value", "_session=" T1 " x", "_session", NULL, 1, 0 },
    { "non-ASCII value", "_session=\xc3\xa9\xc3\xa9", "_session", NULL, 1, 0 },
    /* degenerate headers */
    { "empty header", "", "_session", NULL, 0, 0 },
    { "only spaces", "   \t ", "_session", NULL, 0, 0 },
    { "only separators", ";;;, ,;\t,", "_session", NULL, 0, 0 },
    { "no '=' anywhere", "foo bar baz", "_session", NULL, 0, 0 },
    { "pairs without '=' before the cookie", "foo; bar; _session=" T1, "_session", T1, 1, 0 },
    { "the bare name without '='", "_session; a=1", "_session", NULL, 0, 0 },
    { "the bare name, then the cookie", "_session; _session=" T1, "_session", T1, 1, 0 },
    { "the bare name, ',', then the cookie", "_session, _session=" T1, "_session", NULL, 0, 0 },
    { "empty names", "=" T2 "; =; _session=" T1, "_session", T1, 1, 0 },
    /* other names */
    { "__Host- name", "a=1; __Host-id=" T1, "__Host-id", T1, 1, 0 },
    { "__Host- name, case differs", "__host-id=" T1, "__Host-id", NULL, 0, 0 },
    { "a one-letter name", "aa=" T2 "; a=" T1, "a", T1, 1, 0 },
    /* signed tokens */
    { "signed, key 1", "_session=" T1 "." T1_TAG1, "_session", T1 "." T1_TAG1, 1, 1 },
    { "signed, key 2 of 2", "_session=" T1 "." T1_TAG2, "_session", T1 "." T1_TAG2, 1, 1 },
    { "signed, unknown key", "_session=" T1 "." T1_TAG3, "_session", NULL, 1, 1 },
    { "signed: unsigned token refused", "_session=" T1, "_session", NULL, 1, 1 },
    { "signed: unsigned, forged, then valid",
      "_session=" T1 "; _session=" T1 ".rcVI8LhpGgvPnCyKMbLzUQ; _session=" T1 "." T1_TAG2,
      "_session", T1 "." T1_TAG2, 3, 1 },
    { "signed token where unsigned expected", "_session=" T1 "." T1_TAG1, "_session", NULL, 1, 0 },
};

static void check_case(const cookie_case *c, const token_ctx *ctx)
{
    apr_size_t vlen = 0;
    int seen = 0;
    size_t hlen = strlen(c->hdr);
    char *hdr = malloc(hlen + 1);        /* exact size, for ASan */
    const char *v;

    memcpy(hdr, c->hdr, hlen + 1);
    v = ids_cookie_find(hdr, c->name, strlen(c->name), accept_token,
                        (void *)ctx, &vlen, &seen);
    if (v != NULL && (v < hdr || v + vlen > hdr + hlen)) {
        tap_ok(0, "cookie: %s (value outside the header)", c->what);
    }
    else {
        tap_mem_is(v, vlen, c->want, "cookie: %s", c->what);
    }
    tap_int_is(seen, c->seen, "cookie: %s, seen count", c->what);
    /* The expected value as the hint changes nothing. */
    if (c->want != NULL) {
        apr_size_t hlen2 = 0;
        int seen2 = 0;
        const char *v2 = ids_cookie_find_hint(hdr, c->name, strlen(c->name),
                                              c->want, strlen(c->want),
                                              accept_token, (void *)ctx,
                                              &hlen2, &seen2);

        tap_ok(v2 == v && hlen2 == vlen && seen2 == seen,
               "cookie: %s, same answer with it as the hint", c->what);
    }
    free(hdr);
}

static int accept_calls;

static int accept_counted(const char *v, apr_size_t len, void *ctx)
{
    accept_calls++;
    return accept_token(v, len, ctx);
}

static int accept_any_counted(const char *v, apr_size_t len, void *ctx)
{
    (void)v;
    (void)len;
    (void)ctx;
    accept_calls++;
    return 1;
}

/* ids_cookie_find_hint: the hint is taken in place, only as a whole
 * value, and never ahead of an earlier acceptable cookie. */
static void test_hint(apr_pool_t *pool_for_hint, const token_ctx *ctx)
{
    static const struct {
        const char *what;
        const char *hdr;
        const char *want;
        int calls;
    } cases[] = {
        { "hint taken without the check", "_session=" T1, T1, 0 },
        { "hint before spaces and ';'", "_session=" T1 " \t; a=1", T1, 0 },
        { "hint after ',' is no pair", "a=1, _session=" T1 "; b=2", NULL, 0 },
        { "hint followed by ','", "_session=" T1 ",x; _session=" T1, T1, 1 },
        { "hint as a prefix of a longer value", "_session=" T1 "x; _session=" T1,
          T1, 1 },
        { "earlier valid cookie wins over the hint", "_session=" T2 "; _session=" T1,
          T2, 1 },
        { "name as a prefix of the first name", "_sessionX=" T1 "; _session=" T1,
          T1, 0 },
        { "name at the start without '='", "_session; _session=" T1, T1, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_size_t vlen = 0;
        const char *v;

        accept_calls = 0;
        v = ids_cookie_find_hint(cases[i].hdr, "_session", 8, T1, strlen(T1),
                                 accept_counted, (void *)ctx, &vlen, NULL);
        tap_mem_is(v, vlen, cases[i].want, "cookie hint: %s", cases[i].what);
        tap_int_is(accept_calls, cases[i].calls, "cookie hint: %s, checks",
                   cases[i].what);
    }
    /* The in-place compare at every length class (under a word, one word,
     * words plus an overlapping tail) and with one byte off at the start,
     * inside, and at the end: only an equal value skips the check. */
    {
        static const char *vals[] = { "abc", "abcdefg", "abcdefgh", "abcdefghi",
                                      "abcdefghijklmnop", T1 };
        size_t j, k;
        int ok = 1;

        for (j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            size_t n = strlen(vals[j]);
            size_t offs[4] = { (size_t)-1, 0, n / 2, n - 1 };

            for (k = 0; k < 4; k++) {
                char *hdr = apr_pstrcat(pool_for_hint, "_session=", vals[j], NULL);
                apr_size_t vlen = 0;
                const char *v;

                if (offs[k] != (size_t)-1) {
                    hdr[9 + offs[k]] ^= 1;
                }
                accept_calls = 0;
                v = ids_cookie_find_hint(hdr, "_session", 8, vals[j], n,
                                         accept_any_counted, NULL, &vlen, NULL);
                ok &= v == hdr + 9 && vlen == n
                      && accept_calls == (offs[k] == (size_t)-1 ? 0 : 1);
            }
        }
        tap_ok(ok, "cookie hint: compared whole, at 3 to 43 bytes, one byte off "
               "anywhere");
    }
    /* An empty hint is no hint: an empty value is still checked. */
    {
        apr_size_t vlen = 0;

        accept_calls = 0;
        tap_ok(ids_cookie_find_hint("_session=; a=1", "_session", 8, "", 0,
                                    accept_counted, (void *)ctx, &vlen, NULL)
               == NULL && accept_calls == 1,
               "cookie hint: an empty hint takes no empty value");
    }
}

/* Headers too long to write out. */
static void test_long_headers(apr_pool_t *p, const token_ctx *ctx)
{
    char *hdr = "";
    const char *v;
    apr_size_t vlen = 0;
    int i, seen;

    for (i = 0; i < 300; i++) {
        hdr = apr_psprintf(p, "%sc%d=value%d; ", hdr, i, i);
    }
    hdr = apr_pstrcat(p, hdr, "_session=", T1, NULL);
    v = ids_cookie_find(hdr, "_session", 8, accept_token, (void *)ctx,
                        &vlen, NULL);
    tap_mem_is(v, vlen, T1, "cookie: last of 301 cookies (%zu bytes)",
               strlen(hdr));

    {
        size_t n = 100000;
        char *big = apr_palloc(p, n + 64);
        memcpy(big, "_session=", 9);
        memset(big + 9, 'A', n);
        strcpy(big + 9 + n, "; _session=" T1);
        seen = 0;
        v = ids_cookie_find(big, "_session", 8, accept_token, (void *)ctx,
                            &vlen, &seen);
        tap_ok(v != NULL && vlen == 43 && memcmp(v, T1, 43) == 0 && seen == 2,
               "cookie: a 100000-character value, then a valid one");
        big[9 + n] = '\0';
        seen = 0;
        v = ids_cookie_find(big, "_session", 8, accept_token, (void *)ctx,
                            &vlen, &seen);
        tap_ok(v == NULL && seen == 1, "cookie: only a 100000-character value");
    }
    {
        size_t n = 50000;
        char *seps = apr_palloc(p, n + 1);
        for (i = 0; i < (int)n; i++) {
            seps[i] = "; \t;"[i % 4];
        }
        seps[n] = '\0';
        seen = 0;
        v = ids_cookie_find(seps, "_session", 8, accept_token, (void *)ctx,
                            &vlen, &seen);
        tap_ok(v == NULL && seen == 0, "cookie: 50000 separators");
        hdr = apr_pstrcat(p, seps, "_session=", T1, seps, NULL);
        v = ids_cookie_find(hdr, "_session", 8, accept_token, (void *)ctx,
                            &vlen, &seen);
        tap_mem_is(v, vlen, T1, "cookie: between 50000 separators each side");
    }
    {
        /* 1000 invalid duplicates before the valid one */
        hdr = "";
        for (i = 0; i < 1000; i++) {
            hdr = apr_pstrcat(p, hdr, "_session=", i % 2 ? BAD_PAD : STD_B64,
                              "; ", NULL);
        }
        hdr = apr_pstrcat(p, hdr, "_session=", T2, NULL);
        seen = 0;
        v = ids_cookie_find(hdr, "_session", 8, accept_token, (void *)ctx,
                            &vlen, &seen);
        tap_ok(v != NULL && vlen == 43 && memcmp(v, T2, 43) == 0 && seen == 1001,
               "cookie: 1000 malformed duplicates, then a valid one");
    }
}

unsigned long ids_bytes_read;

/* Bytes the scan reads (count_reads.h) for a header of n bytes made of
 * "_session=A; " pairs and a valid token at the end, with T1 as the
 * hint. */
static double scan_reads_per_byte(apr_pool_t *p, const token_ctx *ctx,
                                  size_t n)
{
    static const char pair[] = "_session=A; ";
    size_t k = n / (sizeof(pair) - 1), i;
    char *hdr = apr_palloc(p, k * (sizeof(pair) - 1) + 10 + 43 + 1);
    apr_size_t vlen = 0;
    const char *v;

    for (i = 0; i < k; i++) {
        memcpy(hdr + i * (sizeof(pair) - 1), pair, sizeof(pair) - 1);
    }
    strcpy(hdr + k * (sizeof(pair) - 1), "_session=" T1);
    ids_bytes_read = 0;
    v = ids_cookie_find_hint(hdr, "_session", 8, T1, 43, accept_token,
                             (void *)ctx, &vlen, NULL);
    if (v == NULL || vlen != 43) {
        return -1;
    }
    return (double)ids_bytes_read / (double)strlen(hdr);
}

/* With a hint, every pair of the name compares at most hintlen bytes: the
 * bytes read per header byte stay the same from 4 KiB to 1 MiB (a read to
 * the end of the header per pair made 1 MiB take 100 times 10 KiB's time
 * per byte). */
static void test_linear_scan(apr_pool_t *p, const token_ctx *ctx)
{
    double small = scan_reads_per_byte(p, ctx, 4096);
    double big = scan_reads_per_byte(p, ctx, 1 << 20);

    tap_ok(small > 0 && big > 0 && small < 8 && big < 8,
           "cookie: a scan reads under 8 bytes per header byte "
           "(4 KiB: %.2f, 1 MiB: %.2f)", small, big);
    tap_ok(big < small * 1.5,
           "cookie: reads grow linearly with the header, 4 KiB to 1 MiB");
}

void test_cookie_find(apr_pool_t *p)
{
    const ids_keyring ring12 = { unit_key, 2 };
    token_ctx unsigned_ctx = { 32, NULL };
    token_ctx signed_ctx = { 32, &ring12 };
    size_t i;

    for (i = 0; i < sizeof(cookie_cases) / sizeof(cookie_cases[0]); i++) {
        check_case(&cookie_cases[i],
                   cookie_cases[i].is_signed ? &signed_ctx : &unsigned_ctx);
    }
    test_long_headers(p, &unsigned_ctx);
    test_hint(p, &unsigned_ctx);
    test_linear_scan(p, &unsigned_ctx);

    /* Without a validator, the first value is returned as it stands. */
    {
        const char *hdr = "a=1; _session = \"quoted\" ; _session=" T1;
        apr_size_t vlen = 0;
        int seen = 0;
        const char *v = ids_cookie_find(hdr, "_session", 8, NULL, NULL,
                                        &vlen, &seen);
        tap_mem_is(v, vlen, "\"quoted\"", "cookie: no validator, first value");
        tap_ok(v == hdr + 16 && seen == 1,
               "cookie: no validator, value points into the header");
    }
    /* seen may be NULL, and counts on from the caller's value. */
    {
        apr_size_t vlen = 0;
        int seen = 5;
        const char *v = ids_cookie_find("_session=x; _session=" T1, "_session",
                                        8, accept_token, &unsigned_ctx,
                                        &vlen, NULL);
        tap_mem_is(v, vlen, T1, "cookie: seen may be NULL");
        ids_cookie_find("_session=x; _session=y", "_session", 8, accept_token,
                        &unsigned_ctx, &vlen, &seen);
        tap_int_is(seen, 7, "cookie: seen is added to, not reset");
    }
    /* 16-byte tokens: a 32-byte token is not one. */
    {
        token_ctx ctx16 = { 16, NULL };
        apr_size_t vlen = 0;
        const char *v = ids_cookie_find(
            "_session=" T1 "; _session=AAECAwQFBgcICQoLDA0ODw", "_session", 8,
            accept_token, &ctx16, &vlen, NULL);
        tap_mem_is(v, vlen, "AAECAwQFBgcICQoLDA0ODw",
                   "cookie: 16-byte size skips a 32-byte token");
    }
}
