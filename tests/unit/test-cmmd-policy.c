/*
 * Unit tests for qemu-cmmd's policy: synthetic guests, simulated time
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A small model of a guest under a footprint target stands in for QEMU:
 * the device releases unused pages first, then page cache (balloon
 * inflation), and cannot go below what the guest uses without the guest
 * swapping, which it reports as swap-in.  The policy sees only snapshots.
 */

#include "qemu/osdep.h"
#include "../../tools/cmmd/policy.h"

#define M           (1024 * 1024ULL)
#define G           (1024 * M)
#define TICK        1000
#define OVERHEAD    (64 * M)        /* QEMU's own memory per guest */

typedef struct Sim {
    uint64_t ram;
    uint64_t use;                   /* anonymous memory it needs */
    uint64_t cache;                 /* page cache it keeps if allowed */
    uint64_t unused;                /* marked unused, still resident */
    uint64_t tmem;                  /* ephemeral tmem bytes */
    uint64_t tmem_cap;
    uint64_t target;                /* 0: none */
    uint64_t footprint;
    int64_t swap_in;
    CmmdTargetStatus status;
    CmmdStallReason reason;
    bool stuck;                     /* the balloon does not move */
    bool dead;                      /* QMP does not answer */
    int64_t stale_avail;            /* > 0: the guest's stats are stuck */
    CmmdGuestLimits lim;
} Sim;

typedef struct World {
    CmmdPolicyConfig cfg;
    CmmdPolicyState ps;
    size_t n;
    Sim sim[8];
    CmmdGuestSnap snap[8];
    CmmdGuestState st[8];
    CmmdDecisions d;
    int64_t now;
    uint64_t budget;
    uint64_t max_step[8];           /* largest target change seen */
    uint64_t max_global;            /* largest sum of changes in a tick */
} World;

static void world_init(World *w, size_t n, uint64_t budget)
{
    memset(w, 0, sizeof(*w));
    w->cfg = (CmmdPolicyConfig) {
        .mode = CMMD_MODE_CMM, .budget = budget, .low = 0.90, .high = 0.95,
        .psi_threshold = 0, .tick_ms = TICK, .rate = 256 * M,
        .deadband = 16 * M, .stall_holdoff = 10, .reserve = 64 * M,
    };
    w->ps.last_ms = -1;
    w->n = n;
    w->budget = budget;
    for (size_t i = 0; i < n; i++) {
        w->sim[i] = (Sim) {
            .ram = 1 * G, .use = 200 * M, .cache = 100 * M,
            .lim = { .weight = 128, .floor = 0, .ceiling = 0,
                     .rate = 128 * M },
        };
        cmmd_guest_state_init(&w->st[i]);
    }
    cmmd_decisions_init(&w->d);
}

/* @n guests that each use @use and keep @cache of page cache if they may. */
static void world_setup(World *w, size_t n, uint64_t budget, uint64_t use,
                        uint64_t cache)
{
    world_init(w, n, budget);
    for (size_t i = 0; i < n; i++) {
        w->sim[i].use = use;
        w->sim[i].cache = cache;
    }
}

static void world_free(World *w)
{
    g_array_free(w->d.actions, true);
}

/* The device and the guest: the footprint follows the target. */
static void sim_settle(Sim *s)
{
    uint64_t want = s->use + s->cache + s->unused;
    uint64_t before = s->footprint;

    if (s->dead || s->stuck) {
        s->footprint = want;
        return;
    }
    if (s->target && want > s->target) {
        uint64_t over = want - s->target;
        uint64_t from_unused = MIN(over, s->unused);

        s->unused -= from_unused;
        over -= from_unused;
        s->cache -= MIN(over, s->cache);
        want = s->use + s->cache + s->unused;
    }
    s->footprint = s->target ? MIN(want, s->target) : want;
    if (s->target && s->target < s->use && s->footprint < before) {
        /* memory in use taken away: the guest swaps it out, once */
        s->swap_in += 100;
    }
    if (s->target && s->target < s->lim.floor && want > s->target) {
        s->status = CMMD_TARGET_STALLED;
        s->reason = CMMD_STALL_FLOOR;
        s->footprint = MIN(want, s->lim.floor);
    } else if (s->target) {
        s->status = CMMD_TARGET_REACHED;
        s->reason = CMMD_STALL_NONE;
    }
}

static uint64_t usage_of(World *w)
{
    uint64_t u = 0;

    for (size_t i = 0; i < w->n; i++) {
        u += w->sim[i].footprint + w->sim[i].tmem + OVERHEAD;
    }
    return u;
}

static void snap_of(World *w, size_t i)
{
    Sim *s = &w->sim[i];
    CmmdGuestSnap *g = &w->snap[i];
    uint64_t actual = s->target ? MAX(MIN(s->target, s->ram), s->use) : s->ram;

    *g = (CmmdGuestSnap) {
        .name = "g", .responsive = !s->dead, .has_balloon = true,
        .has_cmma = true, .ram = s->ram, .actual = actual,
        .footprint = s->footprint, .unused_resident = s->unused,
        .rss = s->footprint + OVERHEAD + s->tmem,
        .tmem_ephemeral = s->tmem, .tmem_bytes = s->tmem,
        .tmem_cap = s->tmem_cap,
        .target_status = s->target ? s->status : CMMD_TARGET_NONE,
        .stall_reason = s->reason, .target = s->target,
        .target_is_footprint = true,
        /* a balloon driver that does not respond sends no statistics */
        .stats_valid = !s->dead && !s->stuck,
        .limits = s->lim,
    };
    if (s->stuck) {
        g->target_status = CMMD_TARGET_STALLED;
        g->stall_reason = CMMD_STALL_GUEST_NOT_RESPONDING;
    }
    g->stats = (CmmdGuestStats) {
        .available = actual > s->use ? actual - s->use : 0,
        .free = actual > s->use + s->cache ? actual - s->use - s->cache : 0,
        .major_faults = 0, .swap_in = s->swap_in, .alloc_stalls = -1,
        .direct_reclaims = -1, .oom_kills = -1,
    };
    if (s->stale_avail > 0) {
        g->stats.available = s->stale_avail;
    }
}

/* One tick: snapshots, policy, actions applied, the model settles. */
static void step(World *w)
{
    CmmdHostSnap host;
    uint64_t moved = 0;
    uint64_t before[8];

    for (size_t i = 0; i < w->n; i++) {
        sim_settle(&w->sim[i]);
        snap_of(w, i);
        before[i] = w->st[i].target;
    }
    host = (CmmdHostSnap) { .budget = w->budget, .usage = usage_of(w),
                            .psi_some_avg10 = -1 };
    cmmd_policy_tick(&w->cfg, &host, w->snap, w->st, w->n, &w->ps, w->now,
                     &w->d);
    for (guint k = 0; k < w->d.actions->len; k++) {
        CmmdAction *a = &g_array_index(w->d.actions, CmmdAction, k);
        Sim *s = &w->sim[a->guest];

        g_assert_cmpuint(a->guest, <, w->n);
        g_assert_cmpstr(a->why, !=, "");
        switch (a->kind) {
        case CMMD_ACT_TARGET: {
            /* the first target starts from the footprint, not from RAM */
            uint64_t from = before[a->guest] ? before[a->guest] :
                            MIN(s->footprint, s->ram);
            uint64_t ch = a->value > from ? a->value - from : from - a->value;

            g_assert_false(s->dead);
            w->max_step[a->guest] = MAX(w->max_step[a->guest], ch);
            moved += ch;
            s->target = a->value;
            break;
        }
        case CMMD_ACT_FLUSH:
            s->unused = 0;
            break;
        case CMMD_ACT_TMEM_CAP:
            moved += s->tmem > a->value ? s->tmem - a->value : 0;
            s->tmem = MIN(s->tmem, a->value);
            s->tmem_cap = a->value;
            break;
        case CMMD_ACT_BALLOON:
            s->target = a->value;
            break;
        }
    }
    w->max_global = MAX(w->max_global, moved);
    for (size_t i = 0; i < w->n; i++) {
        sim_settle(&w->sim[i]);
    }
    w->now += TICK;
}

static bool has_action(World *w, CmmdActionKind kind, size_t guest)
{
    for (guint k = 0; k < w->d.actions->len; k++) {
        CmmdAction *a = &g_array_index(w->d.actions, CmmdAction, k);

        if (a->kind == kind && a->guest == guest) {
            return true;
        }
    }
    return false;
}

static int first_action(World *w, CmmdActionKind kind)
{
    for (guint k = 0; k < w->d.actions->len; k++) {
        if (g_array_index(w->d.actions, CmmdAction, k).kind == kind) {
            return k;
        }
    }
    return -1;
}

/* ---- tests -------------------------------------------------------------- */

/* A host with room: nobody gets a target, nothing is logged as an action. */
static void test_idle(void)
{
    World w;

    world_init(&w, 3, 4 * G);
    for (int t = 0; t < 50; t++) {
        step(&w);
        g_assert_cmpuint(w.d.actions->len, ==, 0);
    }
    for (size_t i = 0; i < 3; i++) {
        g_assert_cmpuint(w.sim[i].target, ==, 0);
    }
    g_assert_false(w.ps.squeezing);
    world_free(&w);
}

/*
 * Over the high watermark: unused pages first, tmem second, the balloon
 * last, and the balloon is not asked for what the cheaper steps cover.
 */
static void test_cost_order(void)
{
    World w;
    uint64_t usage;

    world_init(&w, 2, 2 * G);
    /* 2 x (600M resident + 350M tmem + 64M QEMU) = 2028M, high 1945M */
    for (size_t i = 0; i < 2; i++) {
        w.sim[i].use = 300 * M;
        w.sim[i].cache = 100 * M;
        w.sim[i].unused = 200 * M;
        w.sim[i].tmem = w.sim[i].tmem_cap = 350 * M;
    }
    step(&w);
    g_assert_true(w.d.over_high);
    g_assert_cmpint(first_action(&w, CMMD_ACT_FLUSH), ==, 0);
    g_assert_true(has_action(&w, CMMD_ACT_FLUSH, 0));
    g_assert_true(has_action(&w, CMMD_ACT_FLUSH, 1));
    g_assert_cmpuint(w.d.reclaim_free, ==, 400 * M);
    /* 2028 - 0.9 * 2048 = 184.8M over low; 400M unused covers it */
    g_assert_cmpint(first_action(&w, CMMD_ACT_TMEM_CAP), ==, -1);
    g_assert_cmpuint(w.d.reclaim_tmem, ==, 0);
    for (size_t i = 0; i < 2; i++) {
        /* no target below what the guest uses plus its cache */
        if (w.sim[i].target) {
            g_assert_cmpuint(w.sim[i].target, >=, 400 * M);
        }
        g_assert_cmpuint(w.sim[i].cache, ==, 100 * M);
    }
    world_free(&w);

    /* unused pages cover only part: tmem next, before any balloon */
    world_init(&w, 2, 2 * G);
    for (size_t i = 0; i < 2; i++) {
        w.sim[i].use = 300 * M;
        w.sim[i].cache = 200 * M;
        w.sim[i].unused = 50 * M;
        w.sim[i].tmem = w.sim[i].tmem_cap = 400 * M;
    }
    step(&w);
    g_assert_cmpint(first_action(&w, CMMD_ACT_FLUSH), <,
                    first_action(&w, CMMD_ACT_TMEM_CAP));
    g_assert_cmpuint(w.d.reclaim_free, ==, 100 * M);
    g_assert_cmpuint(w.d.reclaim_tmem, >, 0);
    /* usage was 2 x (550 + 400 + 64) = 2028M; low is 1843.2M */
    g_assert_cmpuint(w.d.reclaim_tmem, <=, 2028 * M - 1843 * M);
    for (int t = 0; t < 30; t++) {
        step(&w);
    }
    usage = usage_of(&w);
    g_assert_cmpuint(usage, <=, 2 * G * 95 / 100);
    world_free(&w);
}

/* Two guests that want everything, weights 1:3: shares end near 1:3. */
static void test_weights(void)
{
    World w;
    double ratio;

    world_init(&w, 2, 2 * G);
    for (size_t i = 0; i < 2; i++) {
        w.sim[i].ram = 2 * G;
        w.sim[i].use = 1800 * M;
    }
    w.sim[0].lim.weight = 1;
    w.sim[1].lim.weight = 3;
    for (int t = 0; t < 300; t++) {
        step(&w);
    }
    /* the shares above the floor (1 MiB) */
    ratio = (double)(w.sim[1].target - M) / (w.sim[0].target - M);
    g_assert_cmpfloat(ratio, >, 2.7);
    g_assert_cmpfloat(ratio, <, 3.3);
    g_assert_cmpuint(usage_of(&w), <=, 2 * G * 95 / 100);
    world_free(&w);
}

/* Floors hold under any overcommit; rate caps hold on every tick. */
static void test_floors_and_rates(void)
{
    World w;

    world_init(&w, 4, 2 * G);
    for (size_t i = 0; i < 4; i++) {
        w.sim[i].use = 500 * M;
        w.sim[i].cache = 400 * M;
        w.sim[i].lim.floor = 384 * M;
        w.sim[i].lim.rate = 32 * M;
    }
    w.cfg.rate = 96 * M;
    for (int t = 0; t < 300; t++) {
        step(&w);
        for (size_t i = 0; i < 4; i++) {
            if (w.sim[i].target) {
                g_assert_cmpuint(w.sim[i].target, >=, 384 * M);
            }
        }
        if (t == 150) {
            /* a burst, then it goes: the caps hold both ways */
            w.sim[2].use = 900 * M;
        }
        if (t == 220) {
            w.sim[2].use = 300 * M;
        }
    }
    for (size_t i = 0; i < 4; i++) {
        g_assert_cmpuint(w.max_step[i], <=, 32 * M);
    }
    g_assert_cmpuint(w.max_global, <=, 96 * M);
    world_free(&w);
}

/* A ceiling holds even when the host has room: the guest is brought down. */
static void test_ceiling(void)
{
    World w;

    world_init(&w, 2, 8 * G);
    w.sim[0].use = 300 * M;
    w.sim[0].cache = 500 * M;
    w.sim[0].lim.ceiling = 512 * M;
    w.sim[0].lim.rate = 64 * M;
    for (int t = 0; t < 20; t++) {
        step(&w);
        g_assert_false(w.ps.squeezing);
        g_assert_cmpuint(w.max_step[0], <=, 64 * M);
    }
    g_assert_cmpuint(w.sim[0].target, ==, 512 * M);
    g_assert_cmpuint(w.sim[0].footprint, <=, 512 * M);
    g_assert_nonnull(strstr(w.st[0].why, "ceiling"));
    /* the other one, without a ceiling, is left alone */
    g_assert_cmpuint(w.sim[1].target, ==, 0);
    world_free(&w);
}

/* A host with less memory than the budget promises: its memory is the limit. */
static void test_mem_available(void)
{
    World w;
    CmmdHostSnap host;

    world_setup(&w, 2, 4 * G, 300 * M, 500 * M);
    for (int t = 0; t < 5; t++) {
        step(&w);
        g_assert_false(w.ps.squeezing);
    }
    /* 1.7 GiB used of 4 GiB, but the host has only 20 MiB left */
    for (size_t i = 0; i < 2; i++) {
        snap_of(&w, i);
    }
    host = (CmmdHostSnap) { .budget = 4 * G, .usage = usage_of(&w),
                            .psi_some_avg10 = -1, .mem_available = 20 * M };
    cmmd_policy_tick(&w.cfg, &host, w.snap, w.st, w.n, &w.ps, w.now, &w.d);
    g_assert_true(w.d.budget_capped);
    g_assert_true(w.ps.squeezing);
    g_assert_true(has_action(&w, CMMD_ACT_TARGET, 0));
    g_assert_nonnull(strstr(w.d.summary, "MemAvailable"));
    /* plenty available: the budget is the budget */
    host.mem_available = 64 * G;
    w.ps.squeezing = false;
    cmmd_policy_tick(&w.cfg, &host, w.snap, w.st, w.n, &w.ps, w.now + TICK,
                     &w.d);
    g_assert_false(w.d.budget_capped);
    world_free(&w);
}

/* No oscillation: 1000 ticks of noise move no target back and forth. */
static void test_deadband(void)
{
    World w;
    int reversals[4] = { 0 }, dir[4] = { 0 };
    uint64_t last[4] = { 0 };
    uint32_t seed = 1;

    world_setup(&w, 4, 3 * G, 500 * M, 300 * M);
    for (int t = 0; t < 60; t++) {
        step(&w);
    }
    for (size_t i = 0; i < 4; i++) {
        last[i] = w.sim[i].target;
    }
    for (int t = 0; t < 1000; t++) {
        for (size_t i = 0; i < 4; i++) {
            seed = seed * 1103515245 + 12345;
            /* +- 6 MiB of noise in what the guest uses */
            w.sim[i].use = 500 * M + ((seed >> 8) % (12 * M)) - 6 * M;
            w.sim[i].cache = 300 * M;
        }
        step(&w);
        for (size_t i = 0; i < 4; i++) {
            int d = w.sim[i].target > last[i] ? 1 :
                    w.sim[i].target < last[i] ? -1 : 0;

            if (d && dir[i] && d != dir[i]) {
                reversals[i]++;
            }
            if (d) {
                dir[i] = d;
            }
            last[i] = w.sim[i].target;
        }
    }
    for (size_t i = 0; i < 4; i++) {
        g_assert_cmpint(reversals[i], <=, 2);
    }
    world_free(&w);
}

/* A guest whose balloon does not respond is routed around and reported. */
static void test_routed_around(void)
{
    World w;

    world_setup(&w, 3, 2 * G, 300 * M, 400 * M);
    w.sim[1].stuck = true;
    w.sim[1].target = 500 * M;
    for (int t = 0; t < 60; t++) {
        step(&w);
        g_assert_false(has_action(&w, CMMD_ACT_TARGET, 1));
    }
    g_assert_true(w.st[1].routed_around);
    g_assert_nonnull(strstr(w.st[1].why, "routed around"));
    g_assert_false(w.st[0].routed_around);
    /* the others gave what it could not */
    g_assert_cmpuint(usage_of(&w), <=, 2 * G * 95 / 100);
    g_assert_cmpuint(w.sim[0].target, <, 700 * M);
    g_assert_cmpuint(w.sim[2].target, <, 700 * M);

    /* a guest whose QMP stopped answering: same, and no command to it */
    w.sim[0].dead = true;
    for (int t = 0; t < 10; t++) {
        step(&w);
        g_assert_false(has_action(&w, CMMD_ACT_TARGET, 0));
        g_assert_false(has_action(&w, CMMD_ACT_FLUSH, 0));
    }
    g_assert_true(w.st[0].routed_around);
    world_free(&w);
}

/* A restarted daemon starts from the targets in force: no jump. */
static void test_restart(void)
{
    World w;
    uint64_t t0[3];

    world_init(&w, 3, 2 * G);
    for (size_t i = 0; i < 3; i++) {
        w.sim[i].use = 300 * M;
        w.sim[i].cache = 500 * M;
        w.sim[i].lim.rate = 16 * M;
    }
    for (int t = 0; t < 100; t++) {
        step(&w);
    }
    for (size_t i = 0; i < 3; i++) {
        t0[i] = w.sim[i].target;
        g_assert_cmpuint(t0[i], >, 0);
        /* the daemon's memory is gone; the device kept the target */
        cmmd_guest_state_init(&w.st[i]);
        w.max_step[i] = 0;
    }
    w.ps = (CmmdPolicyState) { .last_ms = -1 };
    w.sim[0].use = 350 * M;             /* and the world moved a bit */
    for (int t = 0; t < 20; t++) {
        step(&w);
    }
    for (size_t i = 0; i < 3; i++) {
        g_assert_cmpuint(w.max_step[i], <=, 16 * M);
        g_assert_true(w.st[i].known);
    }
    world_free(&w);
}

/* Floors above the budget: say so, hold the floors, do nothing worse. */
static void test_all_at_floor(void)
{
    World w;

    world_init(&w, 3, 1536 * M);
    for (size_t i = 0; i < 3; i++) {
        w.sim[i].use = 700 * M;
        w.sim[i].cache = 100 * M;
        w.sim[i].lim.floor = 600 * M;
    }
    for (int t = 0; t < 100; t++) {
        step(&w);
    }
    g_assert_true(w.d.all_at_floor);
    g_assert_true(w.ps.all_at_floor);
    g_assert_nonnull(strstr(w.d.summary, "FLOORS"));
    for (size_t i = 0; i < 3; i++) {
        g_assert_cmpuint(w.sim[i].target, >=, 600 * M);
    }
    world_free(&w);
}

/*
 * Three guests, one bursts: it gets memory from the others, the budget
 * holds again within what the rate caps allow, and it is given back after.
 */
static void test_burst(void)
{
    World w;
    int back = -1;
    uint64_t high;

    world_init(&w, 3, 2 * G);
    high = 2 * G * 95 / 100;
    for (size_t i = 0; i < 3; i++) {
        w.sim[i].use = 250 * M;
        w.sim[i].cache = 300 * M;
    }
    for (int t = 0; t < 30; t++) {
        step(&w);
    }
    w.sim[0].use = 900 * M;         /* +650M at once */
    for (int t = 0; t < 60; t++) {
        step(&w);
        if (back < 0 && usage_of(&w) <= high) {
            back = t;
        }
    }
    /* 650M over at 2 x 128M/s from the others: a few seconds */
    g_assert_cmpint(back, >=, 0);
    g_assert_cmpint(back, <=, 10);
    g_assert_cmpuint(w.sim[0].footprint, >=, 900 * M);
    g_assert_cmpuint(w.sim[1].cache, <, 300 * M);
    g_assert_cmpint(w.sim[0].swap_in, ==, 0);
    g_assert_cmpint(w.sim[1].swap_in, ==, 0);
    g_assert_cmpint(w.sim[2].swap_in, ==, 0);
    /* the burst ends: the others get room back */
    w.sim[0].use = 250 * M;
    w.sim[0].unused = 650 * M;
    for (int t = 0; t < 60; t++) {
        step(&w);
    }
    g_assert_cmpuint(w.sim[1].target, >=, 250 * M + 300 * M);
    g_assert_cmpuint(usage_of(&w), <=, high);
    world_free(&w);
}

/*
 * A guest that grows while its own statistics lag (they come every few
 * seconds) is judged by what the host sees: the idle guests give.
 */
static void test_growth_beats_stale_stats(void)
{
    World w;

    world_setup(&w, 3, 2 * G, 200 * M, 350 * M);
    for (int t = 0; t < 10; t++) {
        step(&w);
    }
    w.sim[0].stale_avail = 1 * G - 200 * M;     /* still says "idle" */
    w.sim[0].use = 800 * M;
    for (int t = 0; t < 20; t++) {
        step(&w);
        if (w.sim[0].target) {
            g_assert_cmpuint(w.sim[0].target, >=, 800 * M);
        }
    }
    g_assert_cmpint(w.sim[0].swap_in, ==, 0);
    g_assert_cmpuint(w.sim[1].cache, <, 350 * M);
    g_assert_cmpuint(usage_of(&w), <=, 2 * G * 95 / 100);
    world_free(&w);
}

/* A guest under pressure gets memory back first, and is not squeezed. */
static void test_pressure(void)
{
    World w;
    uint64_t t1;

    world_setup(&w, 2, 2 * G, 400 * M, 600 * M);
    for (int t = 0; t < 60; t++) {
        step(&w);
    }
    t1 = w.sim[1].target;
    /* the guest swaps (the model's stand-in for any stall signal) */
    w.sim[1].swap_in += 1000;
    step(&w);
    g_assert_cmpint(w.st[1].last_pressure_ms, ==, w.now - TICK);
    g_assert_cmpuint(w.sim[1].target, >, t1);
    g_assert_nonnull(strstr(w.st[1].why, "pressure"));
    g_assert_nonnull(strstr(w.st[1].why, "swap-in"));
    for (int t = 0; t < 9; t++) {
        uint64_t before = w.sim[1].target;

        step(&w);
        g_assert_cmpuint(w.sim[1].target, >=, before);
    }
    world_free(&w);
}

/*
 * A balloon that stalls while its driver still reports: the guest has
 * nothing left to give.  Pressure, not a dead balloon: it gets room back.
 */
static void test_cannot_give(void)
{
    World w;
    uint64_t t0;

    world_setup(&w, 2, 2 * G, 400 * M, 600 * M);
    for (int t = 0; t < 60; t++) {
        step(&w);
    }
    t0 = w.sim[0].target;
    g_assert_cmpuint(t0, >, 0);
    w.sim[0].status = CMMD_TARGET_STALLED;
    w.sim[0].reason = CMMD_STALL_GUEST_NOT_RESPONDING;
    /* the next snapshot shows the stall; the model clears it on settle */
    snap_of(&w, 0);
    {
        CmmdHostSnap host = { .budget = w.budget, .usage = usage_of(&w),
                              .psi_some_avg10 = -1 };

        snap_of(&w, 1);
        cmmd_policy_tick(&w.cfg, &host, w.snap, w.st, w.n, &w.ps, w.now,
                         &w.d);
    }
    g_assert_false(w.st[0].routed_around);
    g_assert_cmpuint(w.st[0].pressure_events, >, 0);
    g_assert_nonnull(strstr(w.st[0].why, "nothing to give"));
    g_assert_true(has_action(&w, CMMD_ACT_TARGET, 0));
    g_assert_cmpuint(w.st[0].target, >, t0);
    world_free(&w);
}

/* A guest gone from the list and a new one: state is per slot. */
static void test_guest_comes_and_goes(void)
{
    World w;

    world_setup(&w, 2, 2 * G, 400 * M, 600 * M);
    for (int t = 0; t < 40; t++) {
        step(&w);
    }
    /* guest 1 goes; a new guest 2 comes, with no target */
    w.n = 3;
    w.sim[1].dead = true;
    w.sim[2] = w.sim[0];
    w.sim[2].dead = false;
    w.sim[2].target = 0;
    w.sim[2].footprint = 0;
    cmmd_guest_state_init(&w.st[2]);
    for (int t = 0; t < 60; t++) {
        step(&w);
    }
    g_assert_true(w.st[2].known);
    g_assert_cmpuint(usage_of(&w), <=, 2 * G * 95 / 100);
    world_free(&w);
}

/* MOM's rules: at most 5% a tick, only under 20% host free, no weights. */
static void test_mom(void)
{
    World w;
    uint64_t prev[2];

    world_init(&w, 2, 1536 * M);
    w.cfg.mode = CMMD_MODE_MOM;
    for (size_t i = 0; i < 2; i++) {
        w.sim[i].use = 300 * M;
        w.sim[i].cache = 400 * M;
        prev[i] = w.sim[i].ram;
    }
    w.sim[0].lim.weight = 1;
    w.sim[1].lim.weight = 255;
    for (int t = 0; t < 40; t++) {
        step(&w);
        for (size_t i = 0; i < 2; i++) {
            uint64_t now = w.sim[i].target ? w.sim[i].target : w.sim[i].ram;

            g_assert_cmpuint(now, >=, prev[i] - prev[i] / 20 - 4096);
            prev[i] = now;
        }
        g_assert_true(first_action(&w, CMMD_ACT_TARGET) < 0);
        g_assert_true(first_action(&w, CMMD_ACT_FLUSH) < 0);
    }
    /* the same rule for both, whatever their weights */
    g_assert_cmpuint(w.sim[0].target, ==, w.sim[1].target);
    g_assert_cmpuint(w.sim[0].target, <, 1 * G);
    world_free(&w);
}

/* Watching only: never an action. */
static void test_none(void)
{
    World w;

    world_init(&w, 2, 512 * M);
    w.cfg.mode = CMMD_MODE_NONE;
    for (int t = 0; t < 20; t++) {
        step(&w);
        g_assert_cmpuint(w.d.actions->len, ==, 0);
    }
    world_free(&w);
}

/* Guest figures are hints: a guest claiming more than it has is bounded. */
static void test_demand_bounds(void)
{
    CmmdPolicyConfig cfg = { .reserve = 64 * M };
    CmmdGuestSnap g = {
        .ram = 1 * G, .actual = 1 * G, .has_cmma = true,
        .footprint = 600 * M, .unused_resident = 100 * M,
        .stats_valid = true, .limits = { .ceiling = 768 * M },
    };

    g.stats.available = 300 * M;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 500 * M + 64 * M);
    g.stats.available = -1;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 500 * M + 64 * M);
    /* claims to use nothing: the host's own figure is not raised by it */
    g.stats.available = INT64_MAX;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 64 * M);
    /* claims to use all: bounded by the host's view */
    g.stats.available = 0;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 564 * M);
    g.footprint = 2 * G;
    g.unused_resident = 0;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 768 * M);
    cfg.reserve = UINT64_MAX;
    g_assert_cmpuint(cmmd_guest_demand(&cfg, &g), ==, 768 * M);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmmd/policy/idle", test_idle);
    g_test_add_func("/cmmd/policy/cost-order", test_cost_order);
    g_test_add_func("/cmmd/policy/weights", test_weights);
    g_test_add_func("/cmmd/policy/floors-and-rates", test_floors_and_rates);
    g_test_add_func("/cmmd/policy/deadband", test_deadband);
    g_test_add_func("/cmmd/policy/ceiling", test_ceiling);
    g_test_add_func("/cmmd/policy/mem-available", test_mem_available);
    g_test_add_func("/cmmd/policy/routed-around", test_routed_around);
    g_test_add_func("/cmmd/policy/restart", test_restart);
    g_test_add_func("/cmmd/policy/all-at-floor", test_all_at_floor);
    g_test_add_func("/cmmd/policy/burst", test_burst);
    g_test_add_func("/cmmd/policy/pressure", test_pressure);
    g_test_add_func("/cmmd/policy/cannot-give", test_cannot_give);
    g_test_add_func("/cmmd/policy/growth-beats-stale-stats",
                    test_growth_beats_stale_stats);
    g_test_add_func("/cmmd/policy/guest-comes-and-goes",
                    test_guest_comes_and_goes);
    g_test_add_func("/cmmd/policy/mom", test_mom);
    g_test_add_func("/cmmd/policy/none", test_none);
    g_test_add_func("/cmmd/policy/demand-bounds", test_demand_bounds);
    return g_test_run();
}
