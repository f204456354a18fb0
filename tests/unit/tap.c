/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static int tap_vok(int cond, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_count++;
    if (!cond) {
        tap_failed++;
    }
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    return cond;
}

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;

    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void tap_section(const char *name)
{
    printf("# --- %s\n", name);
}

/* Prints s[0..len) with non-printable bytes escaped, cut after 200. */
static void tap_print_escaped(const char *s, size_t len)
{
    size_t i;

    putchar('"');
    for (i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            printf("\\x%02x", c);
        }
        else {
            putchar(c);
        }
    }
    if (len > 200) {
        printf("...(%zu bytes)", len);
    }
    putchar('"');
}

int tap_mem_is(const char *got, size_t gotlen, const char *want,
               const char *fmt, ...)
{
    va_list ap;
    int cond;

    if (got == NULL || want == NULL) {
        cond = got == NULL && want == NULL;
    }
    else {
        cond = gotlen == strlen(want) && memcmp(got, want, gotlen) == 0;
    }
    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    if (!cond) {
        fputs("#   got:  ", stdout);
        if (got) tap_print_escaped(got, gotlen); else fputs("NULL", stdout);
        fputs("\n#   want: ", stdout);
        if (want) tap_print_escaped(want, strlen(want)); else fputs("NULL", stdout);
        putchar('\n');
    }
    return cond;
}

int tap_str_is(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    int cond;

    cond = (got == NULL || want == NULL) ? got == want
                                         : strcmp(got, want) == 0;
    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    if (!cond) {
        fputs("#   got:  ", stdout);
        if (got) tap_print_escaped(got, strlen(got)); else fputs("NULL", stdout);
        fputs("\n#   want: ", stdout);
        if (want) tap_print_escaped(want, strlen(want)); else fputs("NULL", stdout);
        putchar('\n');
    }
    return cond;
}

int tap_int_is(long long got, long long want, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (got != want) {
        printf("#   got:  %lld\n#   want: %lld\n", got, want);
    }
    return got == want;
}

int tap_done(void)
{
    printf("1..%d\n", tap_count);
    printf("%d passed, %d failed\n", tap_count - tap_failed, tap_failed);
    fflush(stdout);
    return tap_failed == 0 && tap_count > 0 ? 0 : 1;
}
