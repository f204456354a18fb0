/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * Unit tests of idsession_core: runs every group and prints TAP, then
 * "N passed, M failed".  Exits non-zero when any check failed.
 */

#include <stdio.h>
#include <string.h>
#include "apr_general.h"
#include "unit.h"

ids_key unit_key[3];

void unit_keys_init(void)
{
    static const char *secrets[3] = { SECRET1, SECRET2, SECRET3 };
    int i;

    for (i = 0; i < 3; i++) {
        ids_key_init(&unit_key[i], (const unsigned char *)secrets[i],
                     strlen(secrets[i]));
    }
}

int main(void)
{
    static const struct {
        const char *name;
        void (*run)(apr_pool_t *p);
    } groups[] = {
        { "encoding", test_encoding },
        { "tags", test_tags },
        { "tokens", test_tokens },
        { "cookie names", test_cookie_name },
        { "cookie scanning", test_cookie_find },
        { "set-cookie", test_set_cookie },
        { "cache-control", test_cache_control },
        { "redirect targets", test_redirect },
        { "token quality", test_token_quality },
        { "stamps", test_stamp },
        { "redis protocol", test_resp },
    };
    apr_pool_t *root;
    size_t i;
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "cannot initialise APR\n");
        return 2;
    }
    unit_keys_init();
    printf("TAP version 13\n");
    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        apr_pool_t *p;

        apr_pool_create(&p, root);
        tap_section(groups[i].name);
        groups[i].run(p);
        apr_pool_destroy(p);
    }
    apr_pool_destroy(root);
    apr_terminate();
    rc = tap_done();
    return rc;
}
