/*
 * qemu-cmmd: the memory policy, a pure function of its inputs
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The cmm policy, per tick:
 *   1. Each guest's demand: what it uses (the guest's own figure when it
 *      reports one, else its stable resident pages) plus a reserve, more
 *      for a guest that shows pressure, within its floor and ceiling.
 *   2. Its fair share: the capacity under the low watermark, less what
 *      QEMU itself and unmanageable guests cost, water-filled over the
 *      guests in proportion to weight above their floors, never above
 *      demand while others still need memory.
 *   3. Over the high watermark (until back under the low one): release
 *      what guests marked unused (free), lower tmem caps, then lower the
 *      footprint targets towards the fair shares.  Under the low
 *      watermark: raise targets, guests under pressure first.  Rate caps
 *      bound every step, a deadband drops small ones.
 */

#include "qemu/osdep.h"
#include "policy.h"

#define MIB(x)          ((unsigned long long)((x) >> 20))
/* More major faults per second than this is a sign of thrashing. */
#define MAJFLT_PER_S    256

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t sat_mul_ms(uint64_t rate, uint64_t ms)
{
    if (!rate) {
        return UINT64_MAX;
    }
    if (ms && rate > UINT64_MAX / ms) {
        return UINT64_MAX;
    }
    return rate * ms / 1000;
}

static uint64_t frac_of(uint64_t v, double f)
{
    double r = (double)v * f;

    return r >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)r;
}

const char *cmmd_mode_name(CmmdMode mode)
{
    switch (mode) {
    case CMMD_MODE_CMM:
        return "cmm";
    case CMMD_MODE_MOM:
        return "mom";
    case CMMD_MODE_NONE:
        return "none";
    }
    return "?";
}

const char *cmmd_action_name(CmmdActionKind kind)
{
    switch (kind) {
    case CMMD_ACT_FLUSH:
        return "cmma-flush";
    case CMMD_ACT_TMEM_CAP:
        return "tmem-cap";
    case CMMD_ACT_TARGET:
        return "footprint-target";
    case CMMD_ACT_BALLOON:
        return "balloon";
    }
    return "?";
}

void cmmd_decisions_init(CmmdDecisions *d)
{
    memset(d, 0, sizeof(*d));
    d->actions = g_array_new(false, true, sizeof(CmmdAction));
}

void cmmd_decisions_clear(CmmdDecisions *d)
{
    GArray *a = d->actions;

    g_array_set_size(a, 0);
    memset(d, 0, sizeof(*d));
    d->actions = a;
}

void cmmd_guest_state_init(CmmdGuestState *st)
{
    memset(st, 0, sizeof(*st));
    st->last_pressure_ms = -1;
    st->last_growth_ms = -1;
    st->last.available = st->last.free = -1;
    st->last.major_faults = st->last.swap_in = -1;
    st->last.alloc_stalls = st->last.direct_reclaims = -1;
    st->last.oom_kills = -1;
}

static CmmdAction *add_action(CmmdDecisions *d, CmmdActionKind kind,
                              size_t guest, uint64_t value)
{
    CmmdAction a = { .kind = kind, .guest = guest, .value = value };

    g_array_append_val(d->actions, a);
    return &g_array_index(d->actions, CmmdAction, d->actions->len - 1);
}

static uint64_t ceiling_of(const CmmdGuestSnap *g)
{
    uint64_t c = g->limits.ceiling ? g->limits.ceiling : g->ram;

    return MIN(c, g->ram);
}

/* The least footprint target the policy ever sets: the floor. */
static uint64_t floor_of(const CmmdGuestSnap *g)
{
    return MAX(MIN(g->limits.floor, ceiling_of(g)), CMMD_MIN_TARGET);
}

uint64_t cmmd_guest_demand(const CmmdPolicyConfig *cfg,
                           const CmmdGuestSnap *g)
{
    uint64_t used;

    if (g->has_cmma) {
        used = sat_sub(g->footprint, g->unused_resident);
    } else {
        used = g->actual;
    }
    /*
     * The guest's own figure leaves out what it could drop (page cache):
     * trusted only to lower the estimate, and only within its size.
     */
    if (g->stats_valid && g->stats.available >= 0) {
        uint64_t avail = MIN((uint64_t)g->stats.available, g->actual);
        uint64_t guest_used = g->actual - avail;

        used = MIN(used, guest_used);
    }
    return MIN(sat_add(used, cfg->reserve), ceiling_of(g));
}

/*
 * A target stalled with guest-not-responding while the driver still sends
 * statistics: the driver lives, the guest has no free page left to give.
 * That is pressure, not a dead balloon.
 */
static bool balloon_cannot_give(const CmmdGuestSnap *g)
{
    return g->target_status == CMMD_TARGET_STALLED &&
           g->stall_reason == CMMD_STALL_GUEST_NOT_RESPONDING &&
           g->stats_valid;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t median_of(const uint64_t *v, size_t n)
{
    uint64_t sorted[CMMD_OVERHEAD_HOLD];

    n = MIN(n, CMMD_OVERHEAD_HOLD);
    memcpy(sorted, v, n * sizeof(*v));
    qsort(sorted, n, sizeof(*sorted), cmp_u64);
    return n ? sorted[n / 2] : 0;
}

static int64_t delta(int64_t now, int64_t before)
{
    return now >= 0 && before >= 0 && now > before ? now - before : 0;
}

/* Signs that the guest lacks memory; fills @why when there are some. */
static bool guest_pressure(const CmmdPolicyConfig *cfg,
                           const CmmdGuestSnap *g, const CmmdGuestState *st,
                           uint64_t dt_ms, char *why, size_t len)
{
    const CmmdGuestStats *s = &g->stats, *l = &st->last;
    int64_t majflt;

    if (g->target_status == CMMD_TARGET_STALLED &&
        g->stall_reason == CMMD_STALL_FLOOR) {
        snprintf(why, len, "target stalled at its floor");
        return true;
    }
    if (balloon_cannot_give(g)) {
        snprintf(why, len, "balloon stalled: the guest has nothing to give");
        return true;
    }
    if (!g->stats_valid) {
        return false;
    }
    if (delta(s->oom_kills, l->oom_kills)) {
        snprintf(why, len, "oom-kills +%" PRId64,
                 delta(s->oom_kills, l->oom_kills));
        return true;
    }
    if (delta(s->alloc_stalls, l->alloc_stalls)) {
        snprintf(why, len, "alloc-stalls +%" PRId64,
                 delta(s->alloc_stalls, l->alloc_stalls));
        return true;
    }
    if (delta(s->direct_reclaims, l->direct_reclaims)) {
        snprintf(why, len, "direct-reclaims +%" PRId64,
                 delta(s->direct_reclaims, l->direct_reclaims));
        return true;
    }
    if (delta(s->swap_in, l->swap_in)) {
        snprintf(why, len, "swap-in +%" PRId64, delta(s->swap_in, l->swap_in));
        return true;
    }
    majflt = delta(s->major_faults, l->major_faults);
    if (majflt > (int64_t)(MAJFLT_PER_S * MAX(dt_ms, 1) / 1000)) {
        snprintf(why, len, "major-faults +%" PRId64, majflt);
        return true;
    }
    if (s->available >= 0 && (uint64_t)s->available < cfg->reserve / 2 &&
        g->actual < ceiling_of(g)) {
        snprintf(why, len, "available %lluM under half the reserve",
                 MIB((uint64_t)s->available));
        return true;
    }
    return false;
}

/*
 * Water-fill @cap over guests: alloc[i] = clamp(lo[i] + w[i] * L, lo[i],
 * hi[i]) with L chosen so the sum is @cap (or every guest is at hi).
 * Returns what was not given out.
 */
static uint64_t water_fill(const uint64_t *lo, const uint64_t *hi,
                           const unsigned *w, const bool *in, size_t n,
                           uint64_t cap, uint64_t *alloc)
{
    double sum_lo = 0, sum_hi = 0, l = 0, r = 0, c = (double)cap;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!in[i]) {
            continue;
        }
        sum_lo += lo[i];
        sum_hi += hi[i];
        if (w[i]) {
            r = MAX(r, (double)(hi[i] - lo[i]) / w[i]);
        }
    }
    if (sum_hi <= c) {
        for (i = 0; i < n; i++) {
            if (in[i]) {
                alloc[i] = hi[i];
            }
        }
        return cap - (uint64_t)sum_hi;
    }
    if (sum_lo >= c) {
        for (i = 0; i < n; i++) {
            if (in[i]) {
                alloc[i] = lo[i];
            }
        }
        return 0;
    }
    for (int iter = 0; iter < 100; iter++) {
        double m = (l + r) / 2, s = 0;

        for (i = 0; i < n; i++) {
            if (in[i]) {
                s += MIN((double)hi[i], lo[i] + w[i] * m);
            }
        }
        if (s > c) {
            r = m;
        } else {
            l = m;
        }
    }
    for (i = 0; i < n; i++) {
        if (in[i]) {
            alloc[i] = MIN(hi[i], lo[i] + (uint64_t)(w[i] * l));
        }
    }
    return 0;
}

typedef struct Work {
    bool manage;                /* its target may be moved */
    bool pressure;              /* pressure seen this tick */
    bool holdoff;               /* pressure within stall-holdoff ticks */
    bool forced;                /* squeezed in holdoff: the others could
                                 * not cover the budget */
    bool over_ceiling;          /* brought down to its ceiling */
    uint64_t cur;               /* effective target now */
    uint64_t next;              /* effective target after this tick */
    uint64_t lo, hi, ceil;
    uint64_t room;              /* per-guest rate budget left this tick */
    char pwhy[64];
} Work;

static void target_action(CmmdDecisions *d, const CmmdGuestSnap *g,
                          CmmdGuestState *st, Work *w, size_t i,
                          const char *fmt, ...) G_GNUC_PRINTF(6, 7);

static void target_action(CmmdDecisions *d, const CmmdGuestSnap *g,
                          CmmdGuestState *st, Work *w, size_t i,
                          const char *fmt, ...)
{
    CmmdAction *a = add_action(d, CMMD_ACT_TARGET, i, w->next);
    va_list ap;

    a->rate = g->limits.rate;
    a->floor = MIN(g->limits.floor, g->ram);
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof(a->why), fmt, ap);
    va_end(ap);
    st->target = w->next;
    g_strlcpy(st->why, a->why, sizeof(st->why));
}

static void policy_cmm(const CmmdPolicyConfig *cfg, const CmmdHostSnap *host,
                       const CmmdGuestSnap *guests, CmmdGuestState *states,
                       size_t n, CmmdPolicyState *ps, uint64_t dt_ms,
                       int64_t now_ms, CmmdDecisions *d)
{
    g_autofree Work *w = g_new0(Work, n);
    g_autofree uint64_t *lo = g_new0(uint64_t, n);
    g_autofree uint64_t *hi = g_new0(uint64_t, n);
    g_autofree uint64_t *alloc = g_new0(uint64_t, n);
    g_autofree unsigned *wt = g_new0(unsigned, n);
    g_autofree bool *in = g_new0(bool, n);
    uint64_t low = frac_of(host->budget, cfg->low);
    uint64_t high = frac_of(host->budget, cfg->high);
    uint64_t global = sat_mul_ms(cfg->rate, dt_ms);
    uint64_t sum_fp = 0, fixed = 0, overhead, capacity, need;
    uint64_t dec_total = 0, ephemeral = 0, tmem_take = 0, spare;
    bool psi = cfg->psi_threshold > 0 && host->psi_some_avg10 >= 0 &&
               host->psi_some_avg10 > cfg->psi_threshold;
    bool any_pressure = false, all_floor = true;
    size_t i, nmanaged = 0;

    if (host->usage > high || psi) {
        ps->squeezing = true;
    } else if (host->usage <= low) {
        ps->squeezing = false;
    }
    d->over_high = host->usage > high || psi;

    /* 1. who can be managed, what each needs */
    for (i = 0; i < n; i++) {
        const CmmdGuestSnap *g = &guests[i];
        CmmdGuestState *st = &states[i];
        Work *x = &w[i];

        sum_fp = sat_add(sum_fp, g->footprint);
        x->ceil = ceiling_of(g);
        x->cur = st->target ? st->target : x->ceil;
        x->next = x->cur;
        x->room = sat_mul_ms(g->limits.rate, dt_ms);
        x->pressure = g->responsive &&
                      guest_pressure(cfg, g, st, dt_ms, x->pwhy,
                                     sizeof(x->pwhy));
        if (x->pressure) {
            st->last_pressure_ms = now_ms;
            st->pressure_events++;
            any_pressure = true;
        }
        x->holdoff = st->last_pressure_ms >= 0 &&
                     now_ms - st->last_pressure_ms <
                     (int64_t)(cfg->stall_holdoff * cfg->tick_ms);

        st->routed_around = !g->responsive || !g->has_balloon ||
                            !g->has_cmma ||
                            (g->target_status == CMMD_TARGET_STALLED &&
                             g->stall_reason != CMMD_STALL_FLOOR &&
                             !balloon_cannot_give(g));
        x->manage = !st->routed_around;
        if (!x->manage) {
            fixed = sat_add(fixed, g->footprint);
            snprintf(st->why, sizeof(st->why), "routed around: %s",
                     !g->responsive ? "QMP does not answer" :
                     !g->has_balloon ? "no balloon device" :
                     !g->has_cmma ? "balloon without cmma=on" :
                     g->stall_reason == CMMD_STALL_DRIVER_NOT_READY ?
                     "balloon driver not ready" :
                     g->stall_reason == CMMD_STALL_DISCARD_DISABLED ?
                     "discard disabled (migrating?)" :
                     "balloon target stalled, guest not responding");
            continue;
        }
        nmanaged++;
        /*
         * The highest estimate of the last few ticks: the guest's figures
         * lag the host's by up to a polling interval, and a dip while the
         * balloon inflates is not a drop in need.
         */
        st->demand_hist[st->demand_pos++ % CMMD_DEMAND_HOLD] =
            cmmd_guest_demand(cfg, g);
        st->demand = 0;
        for (unsigned k = 0; k < CMMD_DEMAND_HOLD; k++) {
            st->demand = MAX(st->demand, st->demand_hist[k]);
        }
        if (st->last_footprint &&
            g->footprint > sat_add(st->last_footprint, cfg->deadband)) {
            st->last_growth_ms = now_ms;
        }
        if (st->last_growth_ms >= 0 && now_ms - st->last_growth_ms <
            (int64_t)(cfg->stall_holdoff * cfg->tick_ms)) {
            /* growing: its own statistics lag, the host's figure does not */
            st->demand = MAX(st->demand,
                             MIN(sat_add(sat_sub(g->footprint,
                                                 g->unused_resident),
                                         cfg->reserve), x->ceil));
        }
        if (x->holdoff) {
            /* more than it has now: it is short of memory */
            st->demand = MIN(MAX(st->demand,
                                 sat_add(g->footprint, 2 * cfg->reserve)),
                             x->ceil);
        }
        lo[i] = floor_of(g);
        hi[i] = MAX(st->demand, lo[i]);
        wt[i] = g->limits.weight;
        in[i] = true;
        ephemeral = sat_add(ephemeral, g->tmem_ephemeral);
    }

    /* 2. over the high watermark: what is free to take, then tmem */
    need = sat_sub(host->usage, low);
    if (ps->squeezing) {
        for (i = 0; i < n; i++) {
            const CmmdGuestSnap *g = &guests[i];
            CmmdAction *a;

            if (!g->responsive || !g->has_cmma ||
                g->unused_resident < MAX(cfg->deadband, CMMD_MIB)) {
                continue;
            }
            a = add_action(d, CMMD_ACT_FLUSH, i, g->unused_resident);
            snprintf(a->why, sizeof(a->why),
                     "over budget: release %lluM the guest marked unused "
                     "(free to take)", MIB(g->unused_resident));
            g_strlcpy(states[i].why, a->why, sizeof(states[i].why));
            d->reclaim_free = sat_add(d->reclaim_free, g->unused_resident);
        }
        need = sat_sub(need, d->reclaim_free);
        if (need && ephemeral) {
            uint64_t want = MIN(need, ephemeral);

            for (i = 0; i < n; i++) {
                const CmmdGuestSnap *g = &guests[i];
                CmmdGuestState *st = &states[i];
                uint64_t take, cap;
                CmmdAction *a;

                if (!g->responsive || !g->tmem_ephemeral) {
                    continue;
                }
                take = (uint64_t)((double)want * g->tmem_ephemeral /
                                  ephemeral);
                take = MIN(MIN(take, g->tmem_ephemeral), w[i].room);
                take = MIN(take, global);
                if (take < CMMD_MIB) {
                    continue;
                }
                cap = MAX(sat_sub(g->tmem_bytes, take), CMMD_MIN_TMEM_CAP);
                take = sat_sub(g->tmem_bytes, cap);
                if (!take) {
                    continue;
                }
                if (!st->tmem_cap) {
                    st->orig_tmem_cap = g->tmem_cap;
                }
                st->tmem_cap = cap;
                w[i].room -= take;
                global -= MIN(global, take);
                tmem_take += take;
                a = add_action(d, CMMD_ACT_TMEM_CAP, i, cap);
                snprintf(a->why, sizeof(a->why),
                         "over budget: drop %lluM of ephemeral tmem pages "
                         "(cap %lluM -> %lluM)", MIB(take),
                         MIB(g->tmem_bytes), MIB(cap));
                g_strlcpy(st->why, a->why, sizeof(st->why));
            }
            d->reclaim_tmem = tmem_take;
        }
    }

    /* 3. the fair shares */
    /*
     * What the guests do not control.  The usage is read now, the
     * footprints come from polls up to a tick old: while a guest grows or
     * shrinks fast the difference swings by hundreds of MiB.  QEMU's own
     * memory moves slowly, so the median of the last few ticks is used.
     */
    ps->overhead_hist[ps->overhead_pos++ % CMMD_OVERHEAD_HOLD] =
        sat_sub(host->usage, sum_fp);
    overhead = median_of(ps->overhead_hist,
                         MIN(ps->overhead_pos, CMMD_OVERHEAD_HOLD));
    overhead = sat_sub(overhead, tmem_take);
    capacity = sat_sub(sat_sub(low, overhead), fixed);
    spare = water_fill(lo, hi, wt, in, n, capacity, alloc);
    if (spare) {
        /* what nobody needs goes out by weight, up to each ceiling */
        g_autofree uint64_t *top = g_new0(uint64_t, n);
        g_autofree uint64_t *extra = g_new0(uint64_t, n);

        for (i = 0; i < n; i++) {
            top[i] = in[i] ? MAX(w[i].ceil, alloc[i]) : 0;
        }
        water_fill(alloc, top, wt, in, n, capacity, extra);
        for (i = 0; i < n; i++) {
            if (in[i]) {
                alloc[i] = extra[i];
            }
        }
    }
    for (i = 0; i < n; i++) {
        if (in[i]) {
            states[i].alloc = alloc[i];
            if (alloc[i] > lo[i] + cfg->deadband) {
                all_floor = false;
            }
        }
    }

    /*
     * 4. lower targets, only while squeezing.  A guest in holdoff is
     * spared while the others can cover what is over: the budget is a
     * hard limit (a memory cgroup OOM-kills a QEMU), a guest's comfort not.
     */
    if (ps->squeezing) {
        g_autofree uint64_t *dec = g_new0(uint64_t, n);
        g_autofree uint64_t *from = g_new0(uint64_t, n);
        uint64_t want = 0, cover = 0;
        bool spare_holdoff;

        for (i = 0; i < n; i++) {
            if (!in[i]) {
                continue;
            }
            /* a guest without a target starts from what it has */
            from[i] = MIN(w[i].cur, MAX(guests[i].footprint, alloc[i]));
            if (!w[i].holdoff && from[i] > alloc[i]) {
                cover = sat_add(cover, from[i] - alloc[i]);
            }
        }
        spare_holdoff = cover >= need;
        for (i = 0; i < n; i++) {
            Work *x = &w[i];

            if (!in[i] || (x->holdoff && spare_holdoff) ||
                from[i] <= alloc[i] || from[i] - alloc[i] < cfg->deadband) {
                continue;
            }
            dec[i] = MIN(from[i] - alloc[i], x->room);
            x->next = from[i];
            x->forced = x->holdoff;
            want = sat_add(want, dec[i]);
        }
        for (i = 0; i < n; i++) {
            Work *x = &w[i];

            if (want > global && dec[i]) {
                dec[i] = (uint64_t)((double)dec[i] * global / want);
            }
            x->next = sat_sub(x->next, dec[i]);
            x->room -= MIN(x->room, dec[i]);
            dec_total += dec[i];
        }
        global -= MIN(global, dec_total);
    }
    /*
     * 4b. a guest above its ceiling is brought down to it, squeezing or
     * not: the ceiling is the most the host ever gives it.
     */
    for (i = 0; i < n && !ps->squeezing; i++) {
        Work *x = &w[i];
        uint64_t from, dec;

        if (!in[i]) {
            continue;
        }
        /* without a target of ours it is held by nothing */
        from = states[i].target ? MIN(x->cur, guests[i].footprint) :
                                  guests[i].footprint;
        if (from <= x->ceil || from - x->ceil < cfg->deadband) {
            continue;
        }
        dec = MIN(MIN(from - x->ceil, x->room), global);
        x->next = from - dec;
        x->room -= dec;
        global -= dec;
        x->over_ceiling = true;
        dec_total += dec;
    }
    d->reclaim_balloon = dec_total;

    /*
     * 5. raise targets: guests under pressure first (up to the high
     * watermark), the others only under the low one.
     */
    for (int pass = 0; pass < 2; pass++) {
        uint64_t limit = pass == 0 ? high : low;
        uint64_t room = sat_add(sat_sub(limit, host->usage), dec_total);

        if (pass == 1 && ps->squeezing) {
            break;
        }
        for (i = 0; i < n && room && global; i++) {
            Work *x = &w[i];
            uint64_t up, goal;

            if (!in[i] || x->holdoff != (pass == 0)) {
                continue;
            }
            goal = MIN(alloc[i], x->ceil);
            if (goal <= x->next || goal - x->next < cfg->deadband) {
                continue;
            }
            /* a target already far above the footprint gives nothing */
            if (x->next >= x->ceil) {
                continue;
            }
            up = MIN(MIN(goal - x->next, x->room), MIN(room, global));
            if (pass == 1 && up < cfg->deadband && goal != x->ceil) {
                continue;
            }
            x->next += up;
            x->room -= up;
            room -= up;
            global -= up;
            d->give_back = sat_add(d->give_back, up);
        }
    }

    /* 6. tmem caps back, gradually, once nobody is short of memory */
    if (!ps->squeezing && !any_pressure && host->usage < low) {
        uint64_t room = low - host->usage;

        for (i = 0; i < n && room; i++) {
            CmmdGuestState *st = &states[i];
            uint64_t cap, up;
            CmmdAction *a;

            if (!st->tmem_cap || !guests[i].responsive) {
                continue;
            }
            up = MIN(MIN(sat_sub(st->orig_tmem_cap, st->tmem_cap), room),
                     MIN(w[i].room, global));
            if (!up && st->tmem_cap < st->orig_tmem_cap) {
                continue;
            }
            cap = st->tmem_cap + up;
            a = add_action(d, CMMD_ACT_TMEM_CAP, i, cap);
            snprintf(a->why, sizeof(a->why),
                     "under the low watermark: tmem cap back up %lluM -> "
                     "%lluM", MIB(st->tmem_cap), MIB(cap));
            g_strlcpy(st->why, a->why, sizeof(st->why));
            st->tmem_cap = cap >= st->orig_tmem_cap ? 0 : cap;
            room -= up;
            global -= MIN(global, up);
        }
    }

    /* 7. the target actions, with their reasons */
    for (i = 0; i < n; i++) {
        const CmmdGuestSnap *g = &guests[i];
        CmmdGuestState *st = &states[i];
        Work *x = &w[i];

        if (!in[i] || (x->next == x->cur && !x->over_ceiling)) {
            if (in[i] && x->holdoff && x->pressure) {
                snprintf(st->why, sizeof(st->why),
                         "pressure (%s): not squeezed for %u ticks",
                         x->pwhy, cfg->stall_holdoff);
            }
            continue;
        }
        if (x->over_ceiling) {
            target_action(d, g, st, x, i,
                          "above its ceiling %lluM: footprint %lluM -> %lluM",
                          MIB(x->ceil), MIB(g->footprint), MIB(x->next));
        } else if (x->next < x->cur) {
            target_action(d, g, st, x, i,
                          "over budget (usage %lluM, high %lluM)%s: "
                          "footprint %lluM -> %lluM towards fair share "
                          "%lluM (demand %lluM, weight %u, floor %lluM)",
                          MIB(host->usage), MIB(high),
                          x->forced ? ", others cannot cover it, despite "
                          "pressure" : "", MIB(g->footprint),
                          MIB(x->next), MIB(alloc[i]), MIB(st->demand),
                          g->limits.weight, MIB(lo[i]));
        } else if (x->holdoff) {
            target_action(d, g, st, x, i,
                          "pressure (%s): give back %lluM -> %lluM (fair "
                          "share %lluM)", x->pressure ? x->pwhy : "recent",
                          MIB(x->cur), MIB(x->next), MIB(alloc[i]));
        } else {
            target_action(d, g, st, x, i,
                          "under the low watermark (usage %lluM, low "
                          "%lluM): release %lluM -> %lluM towards fair "
                          "share %lluM", MIB(host->usage), MIB(low),
                          MIB(x->cur), MIB(x->next), MIB(alloc[i]));
        }
    }

    d->all_at_floor = ps->squeezing && nmanaged && all_floor &&
                      host->usage > high;
    ps->all_at_floor = d->all_at_floor;
    snprintf(d->summary, sizeof(d->summary),
             "usage %lluM of budget %lluM%s (low %lluM, high %lluM)%s%s; "
             "capacity %lluM for %zu managed guests, overhead %lluM, "
             "fixed %lluM",
             MIB(host->usage), MIB(host->budget),
             d->budget_capped ? " (cut to the host's MemAvailable)" : "",
             MIB(low), MIB(high),
             ps->squeezing ? ", squeezing" : "",
             d->all_at_floor ? ", ALL GUESTS AT THEIR FLOORS" : "",
             MIB(capacity), nmanaged, MIB(overhead), MIB(fixed));
}

/*
 * oVirt MOM's balloon rules (doc/balloon.rules), on the logical balloon:
 * below 20% host free every guest shrinks towards its use plus a free
 * share scaled by host pressure, at most 5% a tick; otherwise guests grow
 * 5% a tick.  Changes under 0.25% are skipped.  No weights, no stall
 * handling: the same code path as cmm, for the density benchmark.
 */
#define MOM_PRESSURE    0.20
#define MOM_CRITICAL    0.05
#define MOM_GUEST_FREE  0.20
#define MOM_MAX_CHANGE  0.05
#define MOM_MIN_CHANGE  0.0025

static void policy_mom(const CmmdPolicyConfig *cfg, const CmmdHostSnap *host,
                       const CmmdGuestSnap *guests, CmmdGuestState *states,
                       size_t n, CmmdDecisions *d)
{
    double host_free = host->budget ?
        ((double)host->budget - (double)host->usage) / host->budget : 0;
    bool pressure = host_free < MOM_PRESSURE;
    double free_pct = host_free <= MOM_CRITICAL ? host_free - 0.05 :
                      MOM_GUEST_FREE * host_free / MOM_PRESSURE;

    d->over_high = pressure;
    for (size_t i = 0; i < n; i++) {
        const CmmdGuestSnap *g = &guests[i];
        CmmdGuestState *st = &states[i];
        double cur = g->actual, used, min_size, size;
        CmmdAction *a;

        if (!g->responsive || !g->has_balloon || !g->stats_valid ||
            g->stats.free < 0) {
            continue;
        }
        used = cur - MIN((double)g->stats.free, cur);
        if (pressure) {
            min_size = used + free_pct * cur;
            size = MAX(cur * (1 - MOM_MAX_CHANGE), min_size);
            if (size > cur) {
                continue;
            }
        } else {
            if (g->actual >= g->ram) {
                continue;
            }
            min_size = used + MOM_GUEST_FREE * cur;
            size = MIN(cur * (1 + MOM_MAX_CHANGE), (double)g->ram);
            size = MAX(size, min_size);
        }
        size = MAX(size, (double)MAX(g->limits.floor, CMMD_MIN_TARGET));
        size = MIN(size, (double)g->ram);
        if ((size > cur ? size - cur : cur - size) <= MOM_MIN_CHANGE * cur) {
            continue;
        }
        a = add_action(d, CMMD_ACT_BALLOON, i, (uint64_t)size & ~4095ULL);
        snprintf(a->why, sizeof(a->why),
                 "mom: host free %.0f%% %s 20%%: logical %lluM -> %lluM "
                 "(used %lluM)", host_free * 100, pressure ? "<" : ">=",
                 MIB(g->actual), MIB(a->value), MIB((uint64_t)used));
        st->target = a->value;
        g_strlcpy(st->why, a->why, sizeof(st->why));
    }
    snprintf(d->summary, sizeof(d->summary),
             "mom: usage %lluM of budget %lluM, host free %.1f%%%s",
             MIB(host->usage), MIB(host->budget), host_free * 100,
             pressure ? ", pressure" : "");
}

void cmmd_policy_tick(const CmmdPolicyConfig *cfg, const CmmdHostSnap *host,
                      const CmmdGuestSnap *guests, CmmdGuestState *states,
                      size_t n, CmmdPolicyState *ps, int64_t now_ms,
                      CmmdDecisions *d)
{
    uint64_t dt_ms = cfg->tick_ms;
    CmmdHostSnap eff;

    cmmd_decisions_clear(d);
    if (ps->last_ms >= 0 && now_ms > ps->last_ms) {
        /* a late tick may move more, but never more than ten ticks' worth */
        dt_ms = MIN((uint64_t)(now_ms - ps->last_ms), 10 * cfg->tick_ms);
    }
    ps->last_ms = now_ms;

    for (size_t i = 0; i < n; i++) {
        CmmdGuestState *st = &states[i];
        const CmmdGuestSnap *g = &guests[i];

        if (!st->known) {
            /* a target in force (a restart, or set by hand) is the start */
            st->known = true;
            st->target = g->target_status != CMMD_TARGET_NONE &&
                         g->target_is_footprint ? g->target : 0;
            if (g->stats_valid) {
                st->last = g->stats;
            }
        } else if (st->target && g->responsive && g->has_balloon &&
                   (g->target_status == CMMD_TARGET_NONE ||
                    !g->target_is_footprint) && cfg->mode == CMMD_MODE_CMM) {
            /*
             * Someone else ended our target (the balloon command, virsh
             * setmem): the guest is unconstrained now, start from there.
             */
            st->target = 0;
            snprintf(st->why, sizeof(st->why),
                     "its footprint target was ended from outside");
        }
    }

    /*
     * The budget cannot promise memory the host does not have: when what
     * is left of it exceeds MemAvailable, the budget ends where the
     * host's memory does.
     */
    eff = *host;
    if (host->mem_available && host->usage < host->budget &&
        host->budget - host->usage > host->mem_available) {
        eff.budget = host->usage + host->mem_available;
        d->budget_capped = true;
    }

    switch (cfg->mode) {
    case CMMD_MODE_CMM:
        policy_cmm(cfg, &eff, guests, states, n, ps, dt_ms, now_ms, d);
        break;
    case CMMD_MODE_MOM:
        policy_mom(cfg, &eff, guests, states, n, d);
        break;
    case CMMD_MODE_NONE:
        snprintf(d->summary, sizeof(d->summary),
                 "watching only: usage %lluM of budget %lluM",
                 MIB(host->usage), MIB(host->budget));
        break;
    }

    for (size_t i = 0; i < n; i++) {
        if (guests[i].stats_valid) {
            states[i].last = guests[i].stats;
        }
        states[i].last_footprint = guests[i].footprint;
    }
}
