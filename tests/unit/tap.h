/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * A very small TAP producer for the unit tests: one "ok N - ..." or
 * "not ok N - ..." line per check, "# ..." diagnostics, and at the end the
 * plan and a closing "N passed, M failed" line.
 */

#ifndef IDS_TAP_H
#define IDS_TAP_H

#include <stddef.h>

/* Records one check; prints its TAP line; returns cond. */
int tap_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a "# " diagnostic line. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a section header as a diagnostic. */
void tap_section(const char *name);

/* Checks that got[0..gotlen) equals the NUL-terminated want (either may be
 * NULL, meaning "no value"), printing both on failure. */
int tap_mem_is(const char *got, size_t gotlen, const char *want,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Same for two NUL-terminated strings. */
int tap_str_is(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Same for two integers. */
int tap_int_is(long long got, long long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints the plan and the closing line; returns the process exit code. */
int tap_done(void);

#endif /* IDS_TAP_H */
