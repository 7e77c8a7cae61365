/*
 * Unit tests for the balloon's rate cap (include/hw/virtio/balloon-rate.h)
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/balloon-rate.h"

#define PAGE 4096

/* Over a simulated minute of 50 ms ticks, what may shift per second. */
static double shifted_per_second(uint64_t rate)
{
    BalloonRate r;
    double total = 0;           /* huge rates overflow any integer sum */
    int64_t t;

    balloon_rate_start(&r, rate, 1000);
    for (t = 1050; t <= 61000; t += 50) {
        uint64_t b;

        balloon_rate_refill(&r, t, PAGE);
        b = balloon_rate_budget(&r);
        balloon_rate_spend(&r, b);
        total += b;
    }
    return total / 60.0;
}

static void test_rate_kept(void)
{
    static const uint64_t rates[] = { 4096, 1 << 20, 64 << 20, 1ULL << 30 };

    for (unsigned i = 0; i < G_N_ELEMENTS(rates); i++) {
        double got = shifted_per_second(rates[i]);

        /* 85% of the cap, never above it */
        g_assert_cmpfloat(got, <=, rates[i]);
        g_assert_cmpfloat(got, >=, rates[i] * 0.8);
    }
}

/* Issue 11: about 1.1e17 B/s and up overflowed; INT64_MAX is accepted. */
static void test_rate_extremes(void)
{
    static const uint64_t rates[] = {
        110000000000000000ULL, 1ULL << 60, INT64_MAX - 1, INT64_MAX,
        UINT64_MAX,
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(rates); i++) {
        BalloonRate r;

        balloon_rate_start(&r, rates[i], 0);
        balloon_rate_refill(&r, 50, PAGE);
        /* a huge rate gives a huge budget, never a wrapped small one */
        g_assert_cmpuint(balloon_rate_budget(&r), >=, rates[i] / 1000 * 40);
        balloon_rate_refill(&r, 100, PAGE);
        balloon_rate_refill(&r, 1000000, PAGE);
        g_assert_cmpuint(balloon_rate_budget(&r), >=, rates[i] / 1000 * 80);
        g_assert_cmpuint(balloon_rate_budget(&r), <=, rates[i] / 10);
        balloon_rate_spend(&r, UINT64_MAX);
        g_assert_cmpuint(balloon_rate_budget(&r), ==, 0);
        g_assert_cmpfloat(shifted_per_second(rates[i]), >=, rates[i] * 0.8);
    }
}

static void test_time_oddities(void)
{
    BalloonRate r;

    balloon_rate_start(&r, 1 << 20, 5000);
    /* time going back earns nothing */
    balloon_rate_refill(&r, 1000, PAGE);
    g_assert_cmpuint(balloon_rate_budget(&r), ==, 0);
    /* a long gap (a paused guest) earns one burst, not the gap */
    balloon_rate_refill(&r, INT64_MAX, PAGE);
    g_assert_cmpuint(balloon_rate_budget(&r), <=, (1 << 20) / 10);
    g_assert_cmpuint(balloon_rate_budget(&r), >=, PAGE);
    /* a tiny rate still moves a page per burst */
    balloon_rate_start(&r, 4096, 0);
    balloon_rate_refill(&r, 100, PAGE);
    g_assert_cmpuint(balloon_rate_budget(&r), <=, PAGE);
    balloon_rate_refill(&r, 10000, PAGE);
    g_assert_cmpuint(balloon_rate_budget(&r), ==, PAGE);
}

static void test_no_cap(void)
{
    BalloonRate r;

    balloon_rate_start(&r, 0, 0);
    balloon_rate_refill(&r, 50, PAGE);
    g_assert_cmpuint(balloon_rate_budget(&r), ==, UINT64_MAX);
    balloon_rate_spend(&r, 1 << 30);
    g_assert_cmpuint(balloon_rate_budget(&r), ==, UINT64_MAX);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/balloon-rate/kept", test_rate_kept);
    g_test_add_func("/balloon-rate/extremes", test_rate_extremes);
    g_test_add_func("/balloon-rate/time-oddities", test_time_oddities);
    g_test_add_func("/balloon-rate/no-cap", test_no_cap);
    return g_test_run();
}
