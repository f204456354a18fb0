/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_set_cookie (attribute order: Path, Domain, Max-Age, Expires, Secure,
 * HttpOnly, Partitioned, SameSite) and ids_set_cookie_is_for.  Expected dates from
 * `date -u -d @SECONDS '+%a, %d %b %Y %H:%M:%S GMT'`.
 */

#include <string.h>
#include "apr_strings.h"
#include "apr_time.h"
#include "unit.h"

void test_set_cookie(apr_pool_t *p)
{
    static const struct {
        const char *what;
        const char *path, *domain;
        apr_int64_t max_age;
        apr_int64_t now_sec;
        int secure, httponly;
        ids_samesite samesite;
        const char *want;
    } cases[] = {
        { "module defaults", "/", NULL, 0, 1700000000, 0, 1, IDS_SAMESITE_LAX,
          "_session=" T1 "; Path=/; HttpOnly; SameSite=Lax" },
        { "every attribute", "/app", "example.com", 3600, 1700000000, 1, 1,
          IDS_SAMESITE_STRICT,
          "_session=" T1 "; Path=/app; Domain=example.com; Max-Age=3600; "
          "Expires=Tue, 14 Nov 2023 23:13:20 GMT; Secure; HttpOnly; SameSite=Strict" },
        { "SameSite=None adds Secure", "/", NULL, 0, 1700000000, 0, 1,
          IDS_SAMESITE_NONE, "_session=" T1 "; Path=/; Secure; HttpOnly; SameSite=None" },
        { "SameSite=None with Secure on: Secure once", "/", NULL, 0, 1700000000, 1, 0,
          IDS_SAMESITE_NONE, "_session=" T1 "; Path=/; Secure; SameSite=None" },
        { "SameSite Off, nothing else", NULL, NULL, 0, 1700000000, 0, 0,
          IDS_SAMESITE_OFF, "_session=" T1 },
        { "Secure only", "/", NULL, 0, 1700000000, 1, 0, IDS_SAMESITE_OFF,
          "_session=" T1 "; Path=/; Secure" },
        { "Domain without Path", NULL, ".example.org", 0, 1700000000, 0, 0,
          IDS_SAMESITE_LAX, "_session=" T1 "; Domain=.example.org; SameSite=Lax" },
        { "Max-Age 1", "/", NULL, 1, 1700000000, 0, 1, IDS_SAMESITE_LAX,
          "_session=" T1 "; Path=/; Max-Age=1; Expires=Tue, 14 Nov 2023 22:13:21 GMT; "
          "HttpOnly; SameSite=Lax" },
        { "Max-Age ten years", "/", NULL, 315360000, 1700000000, 0, 1, IDS_SAMESITE_LAX,
          "_session=" T1 "; Path=/; Max-Age=315360000; "
          "Expires=Fri, 11 Nov 2033 22:13:20 GMT; HttpOnly; SameSite=Lax" },
        { "Max-Age 2^31-1", "/", NULL, 2147483647, 1700000000, 0, 0, IDS_SAMESITE_OFF,
          "_session=" T1 "; Path=/; Max-Age=2147483647; "
          "Expires=Mon, 03 Dec 2091 01:27:27 GMT" },
        { "Max-Age from the epoch", "/", NULL, 86399, 0, 0, 0, IDS_SAMESITE_OFF,
          "_session=" T1 "; Path=/; Max-Age=86399; Expires=Thu, 01 Jan 1970 23:59:59 GMT" },
        { "negative Max-Age is a session cookie", "/", NULL, -5, 1700000000, 0, 1,
          IDS_SAMESITE_LAX, "_session=" T1 "; Path=/; HttpOnly; SameSite=Lax" },
        { "__Host- shape", "/", NULL, 0, 1700000000, 1, 1, IDS_SAMESITE_STRICT,
          "_session=" T1 "; Path=/; Secure; HttpOnly; SameSite=Strict" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ids_cookie_attrs a;

        memset(&a, 0, sizeof(a));
        a.path = cases[i].path;
        a.domain = cases[i].domain;
        a.max_age = cases[i].max_age;
        a.now = apr_time_from_sec(cases[i].now_sec);
        a.secure = cases[i].secure;
        a.httponly = cases[i].httponly;
        a.samesite = cases[i].samesite;
        tap_str_is(ids_set_cookie(p, "_session", T1, &a), cases[i].want,
                   "set-cookie: %s", cases[i].what);
    }

    /* Partitioned (CHIPS) goes after HttpOnly, and only with Secure, which
     * browsers require of it. */
    {
        static const struct {
            const char *what;
            int secure;
            ids_samesite samesite;
            const char *want;
        } pc[] = {
            { "Partitioned with Secure", 1, IDS_SAMESITE_LAX,
              "_session=" T1 "; Path=/; Secure; HttpOnly; Partitioned; SameSite=Lax" },
            { "Partitioned with SameSite=None", 0, IDS_SAMESITE_NONE,
              "_session=" T1 "; Path=/; Secure; HttpOnly; Partitioned; SameSite=None" },
            { "Partitioned without Secure is not sent", 0, IDS_SAMESITE_LAX,
              "_session=" T1 "; Path=/; HttpOnly; SameSite=Lax" },
        };
        size_t k;

        for (k = 0; k < sizeof(pc) / sizeof(pc[0]); k++) {
            ids_cookie_attrs a;

            memset(&a, 0, sizeof(a));
            a.path = "/";
            a.httponly = 1;
            a.secure = pc[k].secure;
            a.samesite = pc[k].samesite;
            a.partitioned = 1;
            tap_str_is(ids_set_cookie(p, "_session", T1, &a), pc[k].want,
                       "set-cookie: %s", pc[k].what);
        }
    }

    /* Sub-second parts of now are dropped from Expires. */
    {
        ids_cookie_attrs a;
        memset(&a, 0, sizeof(a));
        a.max_age = 3600;
        a.now = apr_time_from_sec(1700000000) + 999999;
        a.samesite = IDS_SAMESITE_OFF;
        tap_str_is(ids_set_cookie(p, "__Host-id", T1 "." T1_TAG1, &a),
                   "__Host-id=" T1 "." T1_TAG1 "; Max-Age=3600; "
                   "Expires=Tue, 14 Nov 2023 23:13:20 GMT",
                   "set-cookie: other name, signed value, now with microseconds");
    }

    /* Expires is what apr_rfc822_date gives, for a day every 7 days and
     * 13 hours from 1970 to past 2400 (leap days, century years and all
     * weekdays met), with Max-Age from 1 s to 2^31-1 s. */
    {
        static const apr_int64_t ages[] = { 1, 59, 3600, 86399, 2147483647 };
        apr_pool_t *sub;
        apr_int64_t day;
        int bad = 0, n = 0;

        apr_pool_create(&sub, p);
        for (day = 0; day < 160000 && !bad; day += 7) {
            size_t k;

            for (k = 0; k < sizeof(ages) / sizeof(ages[0]) && !bad; k++) {
                apr_int64_t now = day * 86400 + (day % 13) * 3600 + day % 61;
                char date[APR_RFC822_DATE_LEN];
                const char *got, *want;
                ids_cookie_attrs a;

                memset(&a, 0, sizeof(a));
                a.max_age = ages[k];
                a.now = apr_time_from_sec(now);
                a.samesite = IDS_SAMESITE_OFF;
                apr_rfc822_date(date, apr_time_from_sec(now + ages[k]));
                got = ids_set_cookie(sub, "n", "v", &a);
                want = apr_psprintf(sub, "n=v; Max-Age=%" APR_INT64_T_FMT
                                    "; Expires=%s", ages[k], date);
                bad = strcmp(got, want) != 0;
                if (bad) {
                    tap_diag("now %" APR_INT64_T_FMT ": got %s, want %s", now,
                             got, want);
                }
                n++;
            }
            apr_pool_clear(sub);
        }
        tap_ok(!bad, "set-cookie: Expires as apr_rfc822_date (%d times)", n);
        apr_pool_destroy(sub);
    }

    /* ids_cookie_tail with ids_cookie_join gives what ids_set_cookie
     * gives, for every combination of the attributes, Max-Age included. */
    {
        static const char *const paths[] = { NULL, "/", "/app" };
        static const char *const domains[] = { NULL, "example.com" };
        static const apr_int64_t ages[] = { 0, -5, 1, 1800 };
        static const ids_samesite sites[] = { IDS_SAMESITE_OFF,
            IDS_SAMESITE_STRICT, IDS_SAMESITE_LAX, IDS_SAMESITE_NONE };
        static const char *const names[] = { "_session", "__Host-id", "n" };
        static const char *const values[] = { T1, T1 "." T1_TAG1, "" };
        int combo, bad = 0, n = 0;

        for (combo = 0; combo < 3 * 2 * 4 * 2 * 2 * 4 * 2 && !bad; combo++) {
            ids_cookie_attrs a, ageless;
            const char *tail, *name, *value, *want, *got;
            int k = combo;

            memset(&a, 0, sizeof(a));
            a.path = paths[k % 3]; k /= 3;
            a.domain = domains[k % 2]; k /= 2;
            a.max_age = ages[k % 4]; k /= 4;
            a.secure = k % 2; k /= 2;
            a.httponly = k % 2; k /= 2;
            a.samesite = sites[k % 4]; k /= 4;
            a.partitioned = k % 2;
            a.now = apr_time_from_sec(1700000000);
            name = names[combo % 3];
            value = values[combo % 3 == 2 ? 2 : combo / 3 % 2];
            ageless = a;
            ageless.max_age = 0;
            tail = ids_cookie_tail(p, &ageless);
            want = ids_set_cookie(p, name, value, &a);
            got = ids_cookie_join(p, name, strlen(name), value, strlen(value),
                                  tail, strlen(tail),
                                  ids_cookie_tail_split(&ageless), a.max_age,
                                  a.now);
            bad = strcmp(got, want) != 0
                  || (*tail && strncmp(tail, "; ", 2) != 0);
            if (bad) {
                tap_diag("combination %d: got %s, want %s", combo, got, want);
            }
            n++;
        }
        tap_ok(!bad, "set-cookie: join with a worked-out tail, and a Max-Age, as written whole "
               "(%d combinations)", n);
    }
    tap_str_is(ids_cookie_tail(p, &(ids_cookie_attrs){ "/", NULL, 0, 0, 0, 1,
                                                       IDS_SAMESITE_LAX, 0 }),
               "; Path=/; HttpOnly; SameSite=Lax", "set-cookie: the default tail");
    tap_str_is(ids_cookie_tail(p, &(ids_cookie_attrs){ NULL, NULL, 0, 0, 0, 0,
                                                       IDS_SAMESITE_OFF, 0 }),
               "", "set-cookie: no attributes, an empty tail");

    /* ids_set_cookie_is_for */
    {
        static const struct {
            const char *hdr;
            int is_for;
        } cases2[] = {
            { "_session=" T1 "; Path=/; HttpOnly", 1 },
            { "_session=", 1 },
            { " _session=x", 1 },
            { "\t_session=x", 1 },
            { "_session =x", 1 },
            { "_session\t=x", 1 },
            { "_session2=x", 0 },
            { "_session_x=x", 0 },
            { "x_session=x", 0 },
            { "__session=x", 0 },
            { "_Session=x", 0 },
            { "_sessio=x", 0 },
            { "_session", 0 },
            { "_session x=1", 0 },
            { "", 0 },
            { "other=1; _session=x", 0 },
            { "other=_session=x", 0 },
        };

        for (i = 0; i < sizeof(cases2) / sizeof(cases2[0]); i++) {
            tap_int_is(ids_set_cookie_is_for(cases2[i].hdr, "_session", 8),
                       cases2[i].is_for, "set_cookie_is_for _session: \"%s\"",
                       cases2[i].hdr);
        }
        tap_int_is(ids_set_cookie_is_for("__Host-id=abc; Path=/", "__Host-id", 9),
                   1, "set_cookie_is_for __Host-id");
        tap_int_is(ids_set_cookie_is_for("__Host-id=abc", "__Host-i", 8),
                   0, "set_cookie_is_for a prefix of the name");
    }
}

/* ids_cache_control_private: whole directives only (RFC 9111 5.2). */
void test_cache_control(apr_pool_t *p)
{
    static const struct {
        const char *cc;
        int private_;
    } cases[] = {
        { "private", 1 },
        { "PRIVATE", 1 },
        { "no-store", 1 },
        { "public, max-age=60, private", 1 },
        { "max-age=0,no-store", 1 },
        { " \tprivate ", 1 },
        { "private , max-age=5", 1 },
        { "no-cache=\"a, private\", no-store", 1 },
        { "", 0 },
        { "public, max-age=60", 0 },
        { "no-cache=\"X-Private-Note\"", 0 },
        { "x-no-private-ext", 0 },
        { "privateer", 0 },
        { "private=\"Set-Cookie\"", 0 },
        { "private = \"X-Foo\"", 0 },
        { "no-store-ext", 0 },
        { "no-cache=\"private\"", 0 },
        { "no-cache=\"a\\\"private\"", 0 },
    };
    apr_size_t i;

    (void)p;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_int_is(ids_cache_control_private(cases[i].cc), cases[i].private_,
                   "cache_control_private: \"%s\"", cases[i].cc);
    }
}
