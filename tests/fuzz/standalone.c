/*
 * A driver for the fuzz targets where libFuzzer is not available: runs
 * each corpus file given, then mutations of them (and random inputs) for
 * the seconds given by -max_total_time=N, as libFuzzer's option reads.
 * It finds less than libFuzzer (no coverage feedback) but runs the same
 * checks under the same sanitizers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define MAXLEN 65536

static uint8_t *seeds[256];
static size_t seed_len[256];
static unsigned nseeds;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(MAXLEN);
    size_t n;

    if (!f) {
        perror(path);
        exit(2);
    }
    n = fread(buf, 1, MAXLEN, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    if (nseeds < 256) {
        seeds[nseeds] = buf;
        seed_len[nseeds++] = n;
    } else {
        free(buf);
    }
}

int main(int argc, char **argv)
{
    long seconds = 10;
    unsigned long execs = 0;
    uint8_t *buf = malloc(MAXLEN);
    time_t end;

    for (int i = 1; i < argc; i++) {
        DIR *d;
        struct dirent *e;

        if (!strncmp(argv[i], "-max_total_time=", 16)) {
            seconds = atol(argv[i] + 16);
            continue;
        }
        if (argv[i][0] == '-') {
            continue;               /* other libFuzzer options */
        }
        d = opendir(argv[i]);
        if (!d) {
            run_file(argv[i]);
            execs++;
            continue;
        }
        while ((e = readdir(d))) {
            char path[4096];

            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            run_file(path);
            execs++;
        }
        closedir(d);
    }
    end = time(NULL) + seconds;
    while (time(NULL) < end) {
        for (int k = 0; k < 1000; k++, execs++) {
            size_t n;

            if (nseeds && next() % 4) {
                unsigned s = next() % nseeds;

                n = seed_len[s];
                memcpy(buf, seeds[s], n);
                for (unsigned m = next() % 8 + 1; m && n; m--) {
                    buf[next() % n] ^= 1u << (next() % 8);
                }
                if (next() % 8 == 0 && n < MAXLEN - 64) {
                    n += next() % 64;       /* grow with random bytes */
                    for (size_t j = seed_len[s]; j < n; j++) {
                        buf[j] = next();
                    }
                }
            } else {
                n = next() % 4096;
                for (size_t j = 0; j < n; j++) {
                    buf[j] = next();
                }
            }
            LLVMFuzzerTestOneInput(buf, n);
        }
    }
    printf("standalone: %lu executions in %ld s\n", execs, seconds);
    return 0;
}
