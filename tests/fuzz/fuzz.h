/*
 * qemu-cmm fuzz targets: what every target shares
 *
 * Each fuzz-NAME.c defines LLVMFuzzerTestOneInput(); built with clang's
 * libFuzzer (tests/fuzz/Makefile), or with standalone.c where libFuzzer
 * is missing.  A finding aborts: FUZZ_CHECK prints what broke.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...) do {                                      \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
            abort();                                                    \
        }                                                               \
    } while (0)

/* The input, read a byte or a word at a time; zeros once it is used up. */
typedef struct FuzzIn {
    const uint8_t *p;
    size_t left;
} FuzzIn;

static inline uint8_t fuzz_u8(FuzzIn *in)
{
    if (!in->left) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

static inline uint64_t fuzz_u64(FuzzIn *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | fuzz_u8(in);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
