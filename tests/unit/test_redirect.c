/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_local_path_ok, ids_query_arg and ids_redirect_config_ok: what an
 * attacker may put into ?next= (the catalogue of open-redirect tricks:
 * encoded and double-encoded slashes and backslashes, control characters,
 * schemes, overlong UTF-8).
 */

#include <string.h>
#include "unit.h"

static const struct {
    const char *target;
    int ok;
    const char *what;
} local_cases[] = {
    /* allowed */
    { "/", 1, "root" },
    { "/a", 1, "one segment" },
    { "/a/b?x=1#f", 1, "path, query and fragment" },
    { "/%41", 1, "an encoded letter" },
    { "/%2541", 1, "a double-encoded letter" },
    { "/path/to/page.html", 1, "a file" },
    { "/a/", 1, "trailing slash" },
    { "/a?next=/b", 1, "a path in the query" },
    { "/a?u=http://x", 1, "a URL in the query" },
    { "/a#//x", 1, "'//' in the fragment" },
    { "/?//evil", 1, "'//' in the query of the root" },
    { "/a:b", 1, "a colon in the path, no '//'" },
    { "/javascript:alert(1)", 1, "'javascript:' as a path segment (local)" },
    { "/a.b/..c/d../.e", 1, "dots inside segment names" },
    { "/a?x=/../..", 1, "dot segments in the query" },
    { "/a#/./x", 1, "a dot segment in the fragment" },
    { "/~user/x-y_z.html", 1, "tilde, dash, underscore" },
    { "/caf%C3%A9", 1, "encoded valid UTF-8" },
    { "/a%2Fb", 1, "an encoded slash inside the path" },
    { "/search?q=a+b&x=%26", 1, "'+' and an encoded '&' in the query" },
    /* refused: not one leading slash */
    { "", 0, "empty string" },
    { "a/b", 0, "relative path" },
    { "./x", 0, "dot-relative path" },
    { "../x", 0, "parent-relative path" },
    { "evil.com", 0, "a host name" },
    { " /a", 0, "leading space" },
    { "//evil", 0, "scheme-relative" },
    { "//evil.com/x", 0, "scheme-relative with path" },
    { "///evil", 0, "three slashes" },
    { "/\\evil", 0, "slash backslash" },
    { "\\\\evil", 0, "two backslashes" },
    { "/\\/evil", 0, "slash backslash slash" },
    { "%2F%2Fevil", 0, "encoded '//' without a raw slash" },
    { "%2F...", 0, "encoded leading slash" },
    /* refused: dot segments, which browsers remove (RFC 3986 5.2.4) */
    { "/a/../b", 0, "a '..' segment" },
    { "/./b", 0, "a '.' segment" },
    { "/.//evil.example", 0, "'.' then '//': the path //evil.example" },
    { "/..//evil.example", 0, "'..' then '//'" },
    { "/a/..//evil.example", 0, "'a/..' then '//'" },
    { "/a/.", 0, "a trailing '.'" },
    { "/a/..", 0, "a trailing '..'" },
    { "/a/..?x", 0, "'..' before the query" },
    { "/%2e%2e//evil.example", 0, "an encoded '..' then '//'" },
    { "/.%2E//evil.example", 0, "a half-encoded '..'" },
    { "/%252e//evil.example", 0, "a double-encoded '.'" },
    { "/.%2F%2Fevil.example", 0, "'.' and encoded slashes" },
    /* refused after one or two decodings */
    { "/%2F/evil", 0, "'/%2F' decodes to '//'" },
    { "/%2f%2fevil", 0, "lowercase encoded slashes" },
    { "/%252F%252Fevil", 0, "double-encoded '//'" },
    { "/%252F/evil", 0, "double-encoded slash after a raw one" },
    { "/%5Cevil", 0, "encoded backslash" },
    { "/%5cevil", 0, "lowercase encoded backslash" },
    { "/%255Cevil", 0, "double-encoded backslash" },
    { "/a%5Cb", 0, "encoded backslash inside the path" },
    /* control characters and whitespace */
    { "/\t/evil", 0, "raw tab after the slash" },
    { "/a\tb", 0, "raw tab" },
    { "/%09/evil", 0, "encoded tab" },
    { "/%2509/evil", 0, "double-encoded tab" },
    { "/a\r\nSet-Cookie: x=1", 0, "raw CR LF" },
    { "/a\nb", 0, "raw LF" },
    { "/a%0d%0aSet-Cookie:x=1", 0, "encoded CR LF" },
    { "/a%0Ab", 0, "encoded LF" },
    { "/a%250d%250ab", 0, "double-encoded CR LF" },
    { "/a b", 0, "raw space" },
    { "/a%20b", 0, "encoded space" },
    { "/a\x7f", 0, "raw DEL" },
    { "/a%7F", 0, "encoded DEL" },
    { "/a\x01", 0, "raw control character" },
    { "/%00", 0, "encoded NUL" },
    { "/%2500", 0, "double-encoded NUL" },
    /* schemes */
    { "javascript:alert(1)", 0, "javascript: URL" },
    { "JavaScript:alert(1)", 0, "javascript: URL, mixed case" },
    { "data:text/html,x", 0, "data: URL" },
    { "http://x", 0, "absolute http URL" },
    { "https://evil.com/", 0, "absolute https URL" },
    { "/x://y", 0, "a scheme-like 'x://' after the slash" },
    { "/x%3A//y", 0, "an encoded colon before '//'" },
    { "/x:%2F%2Fy", 0, "encoded '//' after a colon" },
    /* bad percent-encoding */
    { "/%", 0, "lone '%'" },
    { "/%4", 0, "'%' with one hex digit" },
    { "/%zz", 0, "'%' without hex digits" },
    { "/100%25", 0, "'%25' decodes to a lone '%'" },
    /* non-ASCII */
    { "/caf\xc3\xa9", 0, "raw UTF-8" },
    { "/\xff", 0, "raw 0xff" },
    { "/%C0%AF", 0, "overlong UTF-8 '/'" },
    { "/%C0%AE%C0%AE/", 0, "overlong UTF-8 '..'" },
    { "/%E0%80%AF", 0, "three-byte overlong '/'" },
    { "/%F0%80%80%AF", 0, "four-byte overlong '/'" },
    { "/%ED%A0%80", 0, "an encoded surrogate" },
    { "/%F4%90%80%80", 0, "above U+10FFFF" },
    { "/%C3", 0, "truncated UTF-8" },
    { "/%C3%28", 0, "bad continuation byte" },
    { "/%80", 0, "a lone continuation byte" },
    { "/%FF", 0, "encoded 0xff" },
    { "/%25C0%25AF", 0, "double-encoded overlong '/'" },
};

static void test_local_path(apr_pool_t *p)
{
    size_t i;

    for (i = 0; i < sizeof(local_cases) / sizeof(local_cases[0]); i++) {
        tap_int_is(ids_local_path_ok(p, local_cases[i].target),
                   local_cases[i].ok, "local path %s: %s",
                   local_cases[i].ok ? "allowed" : "refused",
                   local_cases[i].what);
    }
    tap_int_is(ids_local_path_ok(p, NULL), 0, "local path refused: NULL");
}

static void test_query_arg(apr_pool_t *p)
{
    static const struct {
        const char *args;
        const char *want;
        const char *what;
    } cases[] = {
        { "next=/a", "/a", "alone" },
        { "next=/a&x=1", "/a", "first" },
        { "x=1&next=%2Fa", "/a", "last, decoded once" },
        { "next=%252F", "%2F", "decoded only once" },
        { "nextx=1&next=/b", "/b", "a longer key first" },
        { "xnext=/a", NULL, "a key ending in the name" },
        { "next", NULL, "the key without '='" },
        { "next&next=/c", "/c", "the bare key, then a value" },
        { "next=", "", "an empty value" },
        { "next=%zz", NULL, "bad percent-encoding" },
        { "next=%4", NULL, "truncated percent-encoding" },
        { "next=%00", NULL, "an encoded NUL" },
        { "a=1&&next=/c", "/c", "an empty pair" },
        { "&next=/x", "/x", "a leading '&'" },
        { "next=/a&next=/b", "/a", "the first of two" },
        { "next=a+b", "a+b", "'+' is kept" },
        { "next=%2B", "+", "an encoded '+'" },
        { "next=/a%26b=c", "/a&b=c", "an encoded '&' and a raw '='" },
        { "NEXT=/a", NULL, "the key is case-sensitive" },
        { "", NULL, "empty query" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_str_is(ids_query_arg(p, cases[i].args, "next"), cases[i].want,
                   "query arg: %s", cases[i].what);
    }
    tap_str_is(ids_query_arg(p, NULL, "next"), NULL, "query arg: no query");

    /* What the reset handler does: decode the query value once, then
     * check it. */
    {
        static const struct {
            const char *args;
            int ok;
        } chain[] = {
            { "next=/account", 1 },
            { "next=%2Faccount%3Fa%3D1", 1 },
            { "next=//evil.com", 0 },
            { "next=%2F%2Fevil.com", 0 },
            { "next=%2F%252Fevil.com", 0 },
            { "next=%2F%25252Fevil.com", 0 },
            { "next=/%5Cevil.com", 0 },
            { "next=https%3A%2F%2Fevil.com", 0 },
            { "next=%2F%09%2Fevil.com", 0 },
            { "next=/a%0D%0ALocation:x", 0 },
        };
        for (i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
            const char *t = ids_query_arg(p, chain[i].args, "next");
            tap_int_is(t != NULL && ids_local_path_ok(p, t), chain[i].ok,
                       "?%s %s", chain[i].args,
                       chain[i].ok ? "honoured" : "refused");
        }
    }
}

static void test_redirect_config(apr_pool_t *p)
{
    static const struct {
        const char *target;
        int ok;
    } cases[] = {
        { "/", 1 },
        { "/welcome?x=1", 1 },
        { "http://example.com", 1 },
        { "https://example.com/", 1 },
        { "https://example.com:8443/a?b=c#d", 1 },
        { "HTTPS://Example.COM/", 1 },
        { "http://[::1]/", 1 },
        { "//evil.com", 0 },
        { "/\\evil", 0 },
        { "ftp://example.com/", 0 },
        { "javascript:alert(1)", 0 },
        { "https://", 0 },
        { "http:///path", 0 },
        { "http:example.com", 0 },
        { "https://user@example.com/", 0 },
        { "https://user:pw@example.com/", 0 },
        { "https://exa mple.com/", 0 },
        { "https://example.com/\tx", 0 },
        { "https://example.com/\r\n", 0 },
        { "https://example.com\\@evil.com/", 0 },
        { "https://ex\xc3\xa4mple.com/", 0 },
        { "example.com", 0 },
        { "relative/path", 0 },
        { "", 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tap_int_is(ids_redirect_config_ok(p, cases[i].target), cases[i].ok,
                   "redirect config %s: #%zu", cases[i].ok ? "allowed" : "refused",
                   i);
    }
}

void test_redirect(apr_pool_t *p)
{
    test_local_path(p);
    test_query_arg(p);
    test_redirect_config(p);
}
