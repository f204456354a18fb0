/* Licensed under the Apache License, Version 2.0 (the "License"); see LICENSE. */

/*
 * A replay driver without libFuzzer: feeds each file named on the command
 * line (or each file in a directory named there) to LLVMFuzzerTestOneInput
 * once, from an exactly sized heap buffer so that ASan sees any overread.
 * A failed invariant or sanitizer report aborts the process.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        return 1;
    }
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    free(buf);
    printf("replayed %s (%ld bytes)\n", path, size);
    return 0;
}

int main(int argc, char **argv)
{
    int i, rc = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;

            while (d != NULL && (e = readdir(d)) != NULL) {
                char path[4096];
                if (e->d_name[0] == '.') {
                    continue;
                }
                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                rc |= replay_file(path);
            }
            if (d != NULL) {
                closedir(d);
            }
        }
        else {
            rc |= replay_file(argv[i]);
        }
    }
    return rc;
}
