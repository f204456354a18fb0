/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * ids_resp_format and ids_resp_parse, the Redis protocol of the revocation
 * store.  The commands are checked byte for byte against hiredis's
 * redisFormatCommandArgv (the formatter the module replaced) and against
 * literal bytes; the parser on every reply kind and on what a broken or
 * hostile server may send.  Every input is parsed from a heap block of its
 * exact size, so ASan reports a read or write past it.
 */

#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "unit.h"

#define KEY "idsession:revoked:0123456789abcdef"

/* ---- format ------------------------------------------------------------- */

/* The command ids_resp_format writes into a block of exactly
 * IDS_RESP_CMD_MAX bytes, and its length (0: refused). */
static apr_size_t format(int argc, const char **argv, char **out)
{
    *out = malloc(IDS_RESP_CMD_MAX);
    return ids_resp_format(*out, argc, argv);
}

/* Checks that the command is formatted as hiredis formats it and, when
 * want is not NULL, as want. */
static void format_ok(int argc, const char **argv, const char *want,
                      const char *what)
{
    char *out, *ref = NULL;
    apr_size_t n = format(argc, argv, &out);
    int rn = redisFormatCommandArgv(&ref, argc, argv, NULL);

    tap_ok(n > 0 && rn > 0 && n == (apr_size_t)rn && memcmp(out, ref, n) == 0,
           "format: %s: as hiredis writes it", what);
    if (want) {
        tap_mem_is(out, n, want, "format: %s: the expected bytes", what);
    }
    if (rn > 0) {
        redisFreeCommand(ref);
    }
    free(out);
}

static void format_refused(int argc, const char **argv, const char *what)
{
    char *out;

    tap_int_is((long long)format(argc, argv, &out), 0,
               "format: %s: refused", what);
    free(out);
}

static void test_resp_format(void)
{
    static const char get_want[] =
        "*2\r\n$3\r\nGET\r\n$34\r\n" KEY "\r\n";
    static const char set_want[] =
        "*5\r\n$3\r\nSET\r\n$34\r\n" KEY "\r\n$10\r\n1800000000\r\n"
        "$2\r\nEX\r\n$5\r\n86400\r\n";
    const char *get[2] = { "GET", KEY };
    const char *set[5] = { "SET", KEY, "1800000000", "EX", "86400" };
    const char *longest[5] = { "SET", KEY, "-9223372036854775808", "EX",
                               "9223372036854775807" };
    const char *odd[4] = { "", "a\r\nb", "\x01\xff $-1", "*0" };
    const char *one[1];
    char word[IDS_RESP_CMD_MAX + 1];
    apr_size_t len, fit = 0;

    format_ok(2, get, get_want, "GET key");
    format_ok(5, set, set_want, "SET key value EX ttl");
    format_ok(5, longest, NULL,
              "SET with the longest value and ttl the store can send");
    format_ok(0, get, "*0\r\n", "no words");
    format_ok(4, odd, NULL, "empty word, CR LF, bytes >= 0x80 and RESP "
              "text inside words");

    /* Lengths of one to three digits, up to where a word is refused. */
    one[0] = word;
    for (len = 0; len < IDS_RESP_CMD_MAX; len++) {
        char *out;
        apr_size_t n;

        memset(word, 'w', len);
        word[len] = '\0';
        n = format(1, one, &out);
        free(out);
        if (n == 0) {
            break;
        }
        fit = len;
    }
    if (!tap_ok(fit >= 100 && fit + 1 < IDS_RESP_CMD_MAX,
                "one word of up to %lu bytes fits, a longer one does not",
                (unsigned long)fit)) {
        return;
    }
    memset(word, 'w', fit);
    word[fit] = '\0';
    format_ok(1, one, NULL, "the longest word that fits");
    word[fit] = 'w';
    word[fit + 1] = '\0';
    format_refused(1, one, "one byte longer");
    memset(word, 'w', IDS_RESP_CMD_MAX);
    word[IDS_RESP_CMD_MAX] = '\0';
    format_refused(1, one, "a word as long as the buffer");
    {
        const char *many[8] = { "SET", KEY, KEY, KEY, KEY, KEY, KEY, KEY };

        format_refused(8, many, "words that fit alone but not together");
    }
}

/* ---- parse -------------------------------------------------------------- */

/* A reply and what ids_resp_parse must make of it: the bytes taken (0
 * incomplete, -1 refused), the type and the text (len bytes; NULL for a
 * nil). */
typedef struct {
    const char *in;
    apr_size_t len;
    apr_ssize_t took;
    char type;
    const char *str;
    apr_size_t slen;
    const char *what;
} resp_case;

#define S(lit) lit, sizeof(lit) - 1

/* Parses in[0..len) from an exactly sized heap copy. */
static apr_ssize_t parse_copy(const char *in, apr_size_t len, char **copy,
                              ids_resp_reply *reply)
{
    *copy = malloc(len ? len : 1);
    memcpy(*copy, in, len);
    reply->type = '?';
    reply->str = (const char *)reply;       /* not NULL, not in the copy */
    return ids_resp_parse(*copy, len, reply);
}

static void check_case(const resp_case *c)
{
    ids_resp_reply reply;
    char *buf;
    apr_ssize_t k = parse_copy(c->in, c->len, &buf, &reply);

    if (!tap_int_is(k, c->took, "parse: %s", c->what) || k <= 0) {
        free(buf);
        return;
    }
    tap_ok(reply.type == c->type, "parse: %s: type '%c'", c->what, c->type);
    if (c->str == NULL) {
        tap_ok(reply.str == NULL, "parse: %s: str is NULL", c->what);
    }
    else {
        tap_ok(reply.str >= buf && reply.str + c->slen < buf + k
               && memcmp(reply.str, c->str, c->slen) == 0
               && reply.str[c->slen] == '\0',
               "parse: %s: its text, NUL-terminated in the bytes taken",
               c->what);
    }
    free(buf);
}

static const resp_case whole[] = {
    { S("+OK\r\n"), 5, '+', S("OK"), "simple string" },
    { S("+\r\n"), 3, '+', S(""), "empty simple string" },
    { S("-ERR out of luck\r\n"), 18, '-', S("ERR out of luck"), "error" },
    { S(":1000\r\n"), 7, ':', S("1000"), "integer" },
    { S(":-1\r\n"), 5, ':', S("-1"), "negative integer" },
    { S("$10\r\n1000000000\r\n"), 17, '$', S("1000000000"), "bulk string" },
    { S("$0\r\n\r\n"), 6, '$', S(""), "empty bulk string" },
    { S("$-1\r\n"), 5, '$', NULL, 0, "nil" },
    { S("$8\r\na\r\nb\0c\nd\r\n"), 14, '$', S("a\r\nb\0c\nd"),
      "bulk string holding CR, LF and NUL" },
    { S("$2\r\n\r\n\r\n"), 8, '$', S("\r\n"), "bulk string that is CRLF" },
    { S("$5\r\n$-1\r\n\r\n"), 11, '$', S("$-1\r\n"),
      "bulk string holding a nil" },
    { S("$007\r\n1234567\r\n"), 15, '$', S("1234567"),
      "bulk length with leading zeros" },
};

static const resp_case broken[] = {
    /* trailing bytes: the first reply is taken, the rest left */
    { S("+OK\r\nXYZ"), 5, '+', S("OK"), "trailing bytes after +OK" },
    { S("$-1\r\n$-1\r\n"), 5, '$', NULL, 0, "two nils: the first" },
    { S("$3\r\nabc\r\n+OK\r\n"), 9, '$', S("abc"),
      "a bulk string and then +OK" },
    /* CRLF */
    { S("+OK\n"), -1, 0, NULL, 0, "LF without CR" },
    { S("\n"), -1, 0, NULL, 0, "a lone LF" },
    { S("\r\n"), -1, 0, NULL, 0, "an empty line" },
    { S("$3\nabc\r\n"), -1, 0, NULL, 0, "bulk header ending in LF alone" },
    { S("$3\r\nabcXY"), -1, 0, NULL, 0, "bulk string not ending in CRLF" },
    { S("$3\r\nabc\n\r"), -1, 0, NULL, 0, "bulk string ending in LF CR" },
    { S("$3\r\nabc\rX"), -1, 0, NULL, 0, "bulk string ending in CR X" },
    { S("$3\r\nabcd\r\n"), -1, 0, NULL, 0, "bulk string one byte long" },
    { S("$3\r\nab\r\n"), 0, 0, NULL, 0,
      "bulk string one byte short: waits for more" },
    /* bulk lengths */
    { S("$\r\n"), -1, 0, NULL, 0, "no bulk length" },
    { S("$-2\r\n"), -1, 0, NULL, 0, "bulk length -2" },
    { S("$-0\r\n"), -1, 0, NULL, 0, "bulk length -0" },
    { S("$-10\r\n"), -1, 0, NULL, 0, "bulk length -10" },
    { S("$-\r\n"), -1, 0, NULL, 0, "bulk length '-'" },
    { S("$-1 \r\n"), -1, 0, NULL, 0, "nil with a space" },
    { S("$+1\r\nx\r\n"), -1, 0, NULL, 0, "bulk length +1" },
    { S("$ 1\r\nx\r\n"), -1, 0, NULL, 0, "bulk length after a space" },
    { S("$1a\r\nx\r\n"), -1, 0, NULL, 0, "bulk length 1a" },
    { S("$0x1\r\nx\r\n"), -1, 0, NULL, 0, "bulk length 0x1" },
    { S("$1\0\r\nx\r\n"), -1, 0, NULL, 0, "bulk length with a NUL" },
    { S("$248\r\n"), -1, 0, NULL, 0,
      "bulk length 248: longer than the store's buffer, refused at once" },
    { S("$300\r\nabc"), -1, 0, NULL, 0,
      "bulk length 300 with a few bytes: refused, not waited for" },
    { S("$2569\r\n"), -1, 0, NULL, 0, "bulk length 2569" },
    { S("$999999999999\r\n"), -1, 0, NULL, 0, "bulk length of 12 nines" },
    { S("$18446744073709551617\r\nx\r\n"), -1, 0, NULL, 0,
      "bulk length 2^64 + 1 (would wrap to 1)" },
    { S("$99999999999999999999999999999999\r\n"), -1, 0, NULL, 0,
      "bulk length of 32 digits" },
    /* kinds the store never asks for */
    { S("*1\r\n$1\r\nx\r\n"), -1, 0, NULL, 0, "an array" },
    { S("*-1\r\n"), -1, 0, NULL, 0, "a nil array" },
    { S("_\r\n"), -1, 0, NULL, 0, "a RESP3 null" },
    { S(",1.5\r\n"), -1, 0, NULL, 0, "a RESP3 double" },
    { S("#t\r\n"), -1, 0, NULL, 0, "a RESP3 boolean" },
    { S("hello\r\n"), -1, 0, NULL, 0, "an inline reply" },
    { S("\0+OK\r\n"), -1, 0, NULL, 0, "a NUL before the type" },
    /* no LF yet: nothing can be said */
    { "", 0, 0, 0, NULL, 0, "empty input" },
    { S("+OK"), 0, 0, NULL, 0, "+OK without CRLF" },
    { S("garbage without a line end"), 0, 0, NULL, 0,
      "garbage without LF: waits (the caller's buffer bounds it)" },
};

/* Every proper prefix of each complete reply is incomplete (0), and
 * leaves the buffer as it was: the store parses the whole buffer again
 * after each recv. */
static void test_resp_split(void)
{
    size_t i;

    for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        const resp_case *c = &whole[i];
        apr_size_t cut;
        int bad = 0;

        for (cut = 0; cut < c->len; cut++) {
            ids_resp_reply reply;
            char *buf;
            apr_ssize_t k = parse_copy(c->in, cut, &buf, &reply);

            if (k != 0 || memcmp(buf, c->in, cut) != 0) {
                tap_diag("%s: prefix of %lu bytes gave %ld", c->what,
                         (unsigned long)cut, (long)k);
                bad++;
            }
            free(buf);
        }
        tap_int_is(bad, 0, "parse: %s: each of its %lu prefixes is "
                   "incomplete, and left unchanged", c->what,
                   (unsigned long)c->len);
    }
}

/* What the store's buffer can hold: IDS_RESP_REPLY_MAX - 1 bytes. */
static void test_resp_max(void)
{
    apr_size_t max = IDS_RESP_REPLY_MAX - 1, n = max - 8;   /* "$247\r\n" */
    char *in = malloc(max), *big = malloc(max);
    ids_resp_reply reply;
    char *buf;
    apr_ssize_t k;

    memcpy(in, "$247\r\n", 6);
    memset(in + 6, '7', n);
    memcpy(in + 6 + n, "\r\n", 2);
    tap_int_is((long long)n, 247, "the longest bulk string the store "
               "reads is 247 bytes");
    k = parse_copy(in, max, &buf, &reply);
    tap_ok(k == (apr_ssize_t)max && reply.type == '$'
           && reply.str == buf + 6 && strlen(reply.str) == n,
           "parse: a bulk string filling the store's buffer");
    free(buf);
    k = parse_copy(in, max - 1, &buf, &reply);
    tap_int_is(k, 0, "parse: the same less its LF: incomplete");
    free(buf);

    big[0] = '-';
    memset(big + 1, 'E', max - 3);
    memcpy(big + max - 2, "\r\n", 2);
    k = parse_copy(big, max, &buf, &reply);
    tap_ok(k == (apr_ssize_t)max && reply.type == '-'
           && strlen(reply.str) == max - 3,
           "parse: an error line filling the store's buffer");
    free(buf);
    free(big);
    free(in);
}

static void test_resp_parse(void)
{
    size_t i;

    for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        check_case(&whole[i]);
    }
    for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        check_case(&broken[i]);
    }
    {
        /* Trailing bytes are not touched. */
        ids_resp_reply reply;
        char *buf;

        parse_copy(S("$3\r\nabc\r\n+OK\r\n"), &buf, &reply);
        tap_ok(memcmp(buf + 9, "+OK\r\n", 5) == 0,
               "parse: the bytes after the reply are left as they were");
        free(buf);
    }
}

void test_resp(apr_pool_t *p)
{
    test_resp_format();
    test_resp_parse();
    test_resp_split();
    test_resp_max();
}
