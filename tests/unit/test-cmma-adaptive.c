/*
 * Unit tests for the adaptive CMMA discard policy
 * (include/hw/s390x/cmma-adaptive.h), with synthetic page histories.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/s390x/cmma-adaptive.h"

#define BLOCK CMMA_ADAPT_BLOCK_PAGES
#define MIB_PAGES 256

/*
 * A guest of @nblocks blocks as the table sees it: per block the unused
 * resident pages and when the last went unused, and whether the block's
 * pages are released; plus the table's running totals.
 */
typedef struct Sim {
    CmmaAdaptive a;
    unsigned nblocks;
    uint32_t *pending;
    int64_t *last;
    bool *released;
    uint64_t reuses, refaults, released_pages;
    int64_t now;
} Sim;

static void sim_init(Sim *s, unsigned nblocks)
{
    *s = (Sim) { .nblocks = nblocks };
    s->pending = g_new0(uint32_t, nblocks);
    s->last = g_new0(int64_t, nblocks);
    s->released = g_new0(bool, nblocks);
    cmma_adaptive_init(&s->a, 200, 30000, 0);
}

static void sim_destroy(Sim *s)
{
    g_free(s->pending);
    g_free(s->last);
    g_free(s->released);
}

/* The guest frees block @b whole. */
static void sim_free(Sim *s, unsigned b)
{
    s->pending[b] = BLOCK;
    s->last[b] = s->now;
    s->released[b] = false;
}

/* The guest takes block @b back (allocates every page of it). */
static void sim_alloc(Sim *s, unsigned b)
{
    if (s->released[b]) {
        s->refaults += BLOCK;
        s->reuses += BLOCK;
    } else if (s->pending[b]) {
        s->reuses += s->pending[b];
    }
    s->pending[b] = 0;
    s->released[b] = false;
}

static uint64_t sim_resident_unused(Sim *s)
{
    uint64_t n = 0;

    for (unsigned b = 0; b < s->nblocks; b++) {
        n += s->released[b] ? 0 : s->pending[b];
    }
    return n;
}

/* One timer tick at s->now, as the table's flush timer runs it. */
static void sim_tick(Sim *s)
{
    CmmaAdaptivePlan p;
    unsigned b;

    cmma_adaptive_update(&s->a, s->now, s->reuses, s->refaults,
                         s->released_pages);
    cmma_adaptive_plan_begin(&p, s->now);
    for (b = 0; b < s->nblocks; b++) {
        if (!s->released[b]) {
            cmma_adaptive_plan_add(&p, &s->a, s->pending[b], s->last[b]);
        }
    }
    cmma_adaptive_plan_finish(&p, &s->a, sim_resident_unused(s));
    for (b = 0; b < s->nblocks; b++) {
        if (!s->released[b] &&
            cmma_adaptive_plan_release(&p, &s->a, s->pending[b], s->last[b])) {
            s->released[b] = true;
            s->released_pages += s->pending[b];
        }
    }
}

static uint64_t sim_released_blocks(Sim *s)
{
    uint64_t n = 0;

    for (unsigned b = 0; b < s->nblocks; b++) {
        n += s->released[b];
    }
    return n;
}

/*
 * A 2 GiB guest fills 1.5 GiB over 3 s (taking unused pages back), frees
 * it and idles: at least 95% of it is released within 2 s.
 */
static void test_idle_returns_fast(void)
{
    Sim s;
    unsigned nb = 2048 * MIB_PAGES / BLOCK, fill = 1536 * MIB_PAGES / BLOCK;
    unsigned b, i;

    sim_init(&s, nb);
    for (b = 0; b < nb; b++) {
        sim_free(&s, b);            /* boot: every free page is unused */
    }
    for (; s.now < 5000; s.now += CMMA_ADAPT_TICK_MS) {
        sim_tick(&s);               /* boot: the guest idles 5 s */
    }
    g_assert_cmpuint(sim_released_blocks(&s), ==, nb);
    for (i = 0; i < 30; i++, s.now += CMMA_ADAPT_TICK_MS) {
        for (b = i * fill / 30; b < (i + 1) * fill / 30; b++) {
            sim_alloc(&s, b);
        }
        sim_tick(&s);
    }
    for (b = 0; b < fill; b++) {
        sim_free(&s, b);
    }
    int64_t freed = s.now;
    for (; s.now <= freed + 2000; s.now += CMMA_ADAPT_TICK_MS) {
        sim_tick(&s);
    }
    uint64_t back = 0;
    for (b = 0; b < fill; b++) {
        back += s.released[b];
    }
    g_assert_cmpuint(back * 100, >=, (uint64_t)fill * 95);
    sim_destroy(&s);
}

/*
 * Rounds of "free 512 MiB, then take it back over 2 s, most recently
 * freed first": after the first round's refaults the policy keeps what
 * the guest reuses, so the later rounds refault (almost) nothing.
 */
static void test_reuse_backs_off(void)
{
    Sim s;
    unsigned nb = 512 * MIB_PAGES / BLOCK;
    uint64_t refaults[4];
    unsigned b, r, i;

    sim_init(&s, nb);
    for (r = 0; r < 4; r++) {
        uint64_t before = s.refaults;

        for (b = 0; b < nb; b++) {
            sim_free(&s, b);
        }
        for (i = 0; i < 20; i++, s.now += CMMA_ADAPT_TICK_MS) {
            sim_tick(&s);
            for (b = nb - 1 - i * nb / 20; b + 1 > nb - (i + 1) * nb / 20;
                 b--) {
                sim_alloc(&s, b);
            }
        }
        refaults[r] = s.refaults - before;
    }
    g_test_message("refaulted pages per round: %" PRIu64 " %" PRIu64 " %" PRIu64
                   " %" PRIu64 ", horizon %u ms", refaults[0], refaults[1],
                   refaults[2], refaults[3], s.a.horizon_ms);
    /* the first round pays; from the third on nothing is refaulted */
    g_assert_cmpuint(refaults[0], >, 0);
    g_assert_cmpuint(refaults[2] + refaults[3], ==, 0);
    g_assert_cmpuint(s.a.horizon_ms, >, 1000);
    sim_destroy(&s);
}

/* A partly unused block waits partial_factor times longer than a whole. */
static void test_partial_waits_longer(void)
{
    Sim s;

    sim_init(&s, 2);
    sim_free(&s, 0);
    s.pending[1] = 1;               /* one page of block 1 */
    s.last[1] = 0;
    s.now = s.a.quiet_ms;
    sim_tick(&s);
    g_assert_true(s.released[0]);
    g_assert_false(s.released[1]);
    s.now = s.a.quiet_ms * s.a.partial_factor - 1;
    sim_tick(&s);
    g_assert_false(s.released[1]);
    s.now = s.a.quiet_ms * s.a.partial_factor;
    sim_tick(&s);
    g_assert_true(s.released[1]);
    sim_destroy(&s);
}

/* Whatever the demand, nothing is held beyond max_hold_ms. */
static void test_max_hold(void)
{
    Sim s;

    sim_init(&s, 1);
    s.a.horizon_ms = s.a.max_horizon_ms;
    sim_free(&s, 0);
    for (s.now = 0; s.now < s.a.max_hold_ms; s.now += CMMA_ADAPT_TICK_MS) {
        s.reuses += 1u << 30;       /* a huge, steady demand elsewhere */
        sim_tick(&s);
        g_assert_false(s.released[0]);
    }
    s.reuses += 1u << 30;
    sim_tick(&s);
    g_assert_true(s.released[0]);
    sim_destroy(&s);
}

/* The oldest blocks go first, and only the excess over the reserve. */
static void test_oldest_first(void)
{
    CmmaAdaptive a;
    CmmaAdaptivePlan p;

    cmma_adaptive_init(&a, 200, 30000, 0);
    a.demand = 2 * BLOCK;           /* pages/s; horizon 1 s: keep 2 blocks */
    cmma_adaptive_plan_begin(&p, 10000);
    cmma_adaptive_plan_add(&p, &a, BLOCK, 0);        /* 10 s old */
    cmma_adaptive_plan_add(&p, &a, BLOCK, 9000);     /* 1 s */
    cmma_adaptive_plan_add(&p, &a, BLOCK, 9700);     /* 300 ms */
    cmma_adaptive_plan_add(&p, &a, BLOCK, 9900);     /* too young */
    cmma_adaptive_plan_finish(&p, &a, 4 * BLOCK);
    /* 4 blocks, 2 to keep: the two oldest go */
    g_assert_true(cmma_adaptive_plan_release(&p, &a, BLOCK, 0));
    g_assert_true(cmma_adaptive_plan_release(&p, &a, BLOCK, 9000));
    g_assert_false(cmma_adaptive_plan_release(&p, &a, BLOCK, 9700));
    g_assert_false(cmma_adaptive_plan_release(&p, &a, BLOCK, 9900));
}

/* The horizon: up on refaults, down to its floor without, bounded. */
static void test_horizon(void)
{
    CmmaAdaptive a;
    uint64_t rel = 0, ref = 0;
    int64_t t;

    cmma_adaptive_init(&a, 200, 30000, 0);
    for (t = 100; t <= 10000; t += 100) {
        rel += 1000;
        ref += 500;                 /* half of what goes comes back */
        cmma_adaptive_update(&a, t, ref, ref, rel);
    }
    g_assert_cmpuint(a.horizon_ms, ==, a.max_horizon_ms);
    g_assert_cmpfloat(cmma_adaptive_refault_ratio(&a), >, 0.4);
    for (; t <= 40000; t += 100) {
        rel += 1000;                /* released, never back */
        cmma_adaptive_update(&a, t, ref, ref, rel);
    }
    g_assert_cmpuint(a.horizon_ms, ==, a.min_horizon_ms);
    g_assert_cmpfloat(cmma_adaptive_refault_ratio(&a), <, 0.01);
    /* counters that go backwards (a reset) restart the history */
    cmma_adaptive_update(&a, t + 100, 0, 0, 0);
    g_assert_cmpuint(a.reuses_seen, ==, 0);
    g_assert_cmpuint(a.released_seen, ==, 0);
    /* time that stands still or goes back changes nothing */
    double d = a.demand;
    cmma_adaptive_update(&a, t, 1 << 20, 0, 0);
    g_assert_cmpfloat(a.demand, ==, d);
}

/* Bins grow with age and saturate; the reserve saturates. */
static void test_bounds(void)
{
    CmmaAdaptive a;

    g_assert_cmpint(cmma_adaptive_age_bin(-5), ==, 0);
    g_assert_cmpint(cmma_adaptive_age_bin(0), ==, 0);
    for (int64_t t = 1; t < INT64_MAX / 4; t *= 3) {
        g_assert_cmpint(cmma_adaptive_age_bin(t), <=,
                        cmma_adaptive_age_bin(t * 3));
    }
    g_assert_cmpint(cmma_adaptive_age_bin(INT64_MAX), ==,
                    CMMA_ADAPT_AGE_BINS - 1);
    cmma_adaptive_init(&a, 200, 30000, 0);
    a.demand = 1e300;
    g_assert_cmpuint(cmma_adaptive_reserve(&a), ==, UINT64_MAX);
    /* a hold shorter than a partial block's wait is raised to it */
    cmma_adaptive_init(&a, 1000, 10, 0);
    g_assert_cmpuint(a.max_hold_ms, ==, 4000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmma-adaptive/idle-returns-fast", test_idle_returns_fast);
    g_test_add_func("/cmma-adaptive/reuse-backs-off", test_reuse_backs_off);
    g_test_add_func("/cmma-adaptive/partial-waits-longer",
                    test_partial_waits_longer);
    g_test_add_func("/cmma-adaptive/max-hold", test_max_hold);
    g_test_add_func("/cmma-adaptive/oldest-first", test_oldest_first);
    g_test_add_func("/cmma-adaptive/horizon", test_horizon);
    g_test_add_func("/cmma-adaptive/bounds", test_bounds);
    return g_test_run();
}
