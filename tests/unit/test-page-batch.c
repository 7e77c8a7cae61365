/*
 * Unit tests for PageBatch
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/page-batch.h"

#define PS 4096

typedef struct Ranges {
    GArray *start;
    GArray *length;
} Ranges;

static void record(uint64_t start, uint64_t length, void *opaque)
{
    Ranges *r = opaque;

    g_array_append_val(r->start, start);
    g_array_append_val(r->length, length);
}

static void ranges_init(Ranges *r)
{
    r->start = g_array_new(false, false, sizeof(uint64_t));
    r->length = g_array_new(false, false, sizeof(uint64_t));
}

static void ranges_free(Ranges *r)
{
    g_array_free(r->start, true);
    g_array_free(r->length, true);
}

static uint64_t rs(Ranges *r, unsigned i)
{
    return g_array_index(r->start, uint64_t, i);
}

static uint64_t rl(Ranges *r, unsigned i)
{
    return g_array_index(r->length, uint64_t, i);
}

static void test_empty(void)
{
    PageBatch b;
    Ranges r;

    ranges_init(&r);
    page_batch_init(&b, 4, PS);
    g_assert_true(page_batch_is_empty(&b));
    g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, 0);
    g_assert_cmpuint(r.start->len, ==, 0);
    page_batch_destroy(&b);
    ranges_free(&r);
}

static void test_merge_and_dedup(void)
{
    static const uint64_t in[] = {
        5 * PS, 3 * PS + 17, 4 * PS, 9 * PS, 3 * PS, 10 * PS + PS - 1, 0,
    };
    PageBatch b;
    Ranges r;
    unsigned i;

    ranges_init(&r);
    page_batch_init(&b, 16, PS);
    for (i = 0; i < ARRAY_SIZE(in); i++) {
        g_assert_true(page_batch_add(&b, in[i]));
    }
    /* pages 0, 3-5 (3 twice, once unaligned), 9-10 */
    g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, 6);
    g_assert_cmpuint(r.start->len, ==, 3);
    g_assert_cmpuint(rs(&r, 0), ==, 0);
    g_assert_cmpuint(rl(&r, 0), ==, PS);
    g_assert_cmpuint(rs(&r, 1), ==, 3 * PS);
    g_assert_cmpuint(rl(&r, 1), ==, 3 * PS);
    g_assert_cmpuint(rs(&r, 2), ==, 9 * PS);
    g_assert_cmpuint(rl(&r, 2), ==, 2 * PS);
    g_assert_true(page_batch_is_empty(&b));
    page_batch_destroy(&b);
    ranges_free(&r);
}

static void test_full(void)
{
    PageBatch b;
    Ranges r;

    ranges_init(&r);
    page_batch_init(&b, 2, PS);
    g_assert_true(page_batch_add(&b, PS));
    g_assert_false(page_batch_is_full(&b));
    g_assert_true(page_batch_add(&b, 2 * PS));
    g_assert_true(page_batch_is_full(&b));
    g_assert_false(page_batch_add(&b, 7 * PS));
    g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, 2);
    g_assert_cmpuint(r.start->len, ==, 1);
    g_assert_true(page_batch_add(&b, 7 * PS));
    page_batch_destroy(&b);
    ranges_free(&r);
}

static void test_top_of_address_space(void)
{
    PageBatch b;
    Ranges r;

    ranges_init(&r);
    page_batch_init(&b, 4, PS);
    page_batch_add(&b, UINT64_MAX);
    page_batch_add(&b, UINT64_MAX - PS);
    page_batch_add(&b, 0);
    g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, 3);
    /* no wrap-around merge of the last page with page 0 */
    g_assert_cmpuint(r.start->len, ==, 2);
    g_assert_cmpuint(rs(&r, 0), ==, 0);
    g_assert_cmpuint(rs(&r, 1), ==, UINT64_MAX - 2 * PS + 1);
    g_assert_cmpuint(rl(&r, 1), ==, 2 * PS);
    page_batch_destroy(&b);
    ranges_free(&r);
}

/* Random batches against a bitmap model over a small address space. */
static void test_random_against_model(void)
{
    enum { NPAGES = 512, ROUNDS = 2000 };
    GRand *rand = g_rand_new_with_seed(20261122);
    PageBatch b;
    unsigned round;

    page_batch_init(&b, 64, PS);
    for (round = 0; round < ROUNDS; round++) {
        bool model[NPAGES] = { false };
        bool seen[NPAGES] = { false };
        unsigned n = g_rand_int_range(rand, 0, 65), i, distinct = 0;
        uint64_t prev_end = 0;
        Ranges r;

        ranges_init(&r);
        for (i = 0; i < n; i++) {
            /* cluster addresses so that runs and duplicates occur */
            unsigned page = g_rand_int_range(rand, 0, i % 3 ? 40 : NPAGES);

            g_assert_true(page_batch_add(&b, (uint64_t)page * PS +
                                         g_rand_int_range(rand, 0, PS)));
            model[page] = true;
        }
        for (i = 0; i < NPAGES; i++) {
            distinct += model[i];
        }
        g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, distinct);

        for (i = 0; i < r.start->len; i++) {
            uint64_t p;

            g_assert_cmpuint(rl(&r, i), >, 0);
            g_assert_cmpuint(rs(&r, i) % PS, ==, 0);
            g_assert_cmpuint(rl(&r, i) % PS, ==, 0);
            /* ascending and maximal: a gap separates neighbouring ranges */
            if (i) {
                g_assert_cmpuint(rs(&r, i), >, prev_end);
            }
            prev_end = rs(&r, i) + rl(&r, i);
            for (p = rs(&r, i) / PS; p < prev_end / PS; p++) {
                g_assert_true(model[p]);
                g_assert_false(seen[p]);
                seen[p] = true;
            }
        }
        for (i = 0; i < NPAGES; i++) {
            g_assert_cmpint(seen[i], ==, model[i]);
        }
        ranges_free(&r);
    }
    page_batch_destroy(&b);
    g_rand_free(rand);
}

static void test_page_size(void)
{
    PageBatch b;
    Ranges r;

    ranges_init(&r);
    page_batch_init(&b, 8, 2 * MiB);
    page_batch_add(&b, 2 * MiB + 5);
    page_batch_add(&b, 4 * MiB - 1);
    page_batch_add(&b, 4 * MiB);
    g_assert_cmpuint(page_batch_flush(&b, record, &r), ==, 2);
    g_assert_cmpuint(rs(&r, 0), ==, 2 * MiB);
    g_assert_cmpuint(rl(&r, 0), ==, 4 * MiB);
    page_batch_destroy(&b);
    ranges_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/page-batch/empty", test_empty);
    g_test_add_func("/page-batch/merge-and-dedup", test_merge_and_dedup);
    g_test_add_func("/page-batch/full", test_full);
    g_test_add_func("/page-batch/top-of-address-space",
                    test_top_of_address_space);
    g_test_add_func("/page-batch/page-size", test_page_size);
    g_test_add_func("/page-batch/random-against-model",
                    test_random_against_model);
    return g_test_run();
}
