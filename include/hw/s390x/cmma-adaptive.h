/*
 * s390x CMMA: the adaptive discard policy's decisions
 *
 * Pure logic, no locks and no clock of its own: the page-state table's
 * flush timer (main loop, BQL) feeds it the table's counters and the time,
 * and asks it which blocks of unused pages go back to the host now.
 * Unit-tested with synthetic page histories (tests/unit/test-cmma-adaptive.c).
 *
 * The idea: keep resident as many unused pages as the guest has recently
 * been taking back (its demand over a horizon), release the rest, oldest
 * first, in whole blocks.  A block of guest memory is considered when its
 * last page went unused some time ago: a whole unused block after
 * @quiet_ms, a partly unused one (releasing it would split a host huge
 * page) after @quiet_ms * @partial_factor.  The horizon follows the
 * refaults (released pages that the guest took back): frequent refaults
 * double it, rare ones shrink it.  Nothing is held longer than
 * @max_hold_ms, whatever the demand.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_S390X_CMMA_ADAPTIVE_H
#define HW_S390X_CMMA_ADAPTIVE_H

/* 2 MiB: a host huge page on x86-64, two on s390x (1 MiB segments). */
#define CMMA_ADAPT_BLOCK_PAGES  512

/* How often the timer decides while unused pages are resident. */
#define CMMA_ADAPT_TICK_MS      100

/* Ages are binned in powers of two of this many milliseconds. */
#define CMMA_ADAPT_AGE_UNIT_MS  16
#define CMMA_ADAPT_AGE_BINS     20

/* The demand is averaged over about this long. */
#define CMMA_ADAPT_DEMAND_TAU_MS    500
/* ... refaults and releases over this long. */
#define CMMA_ADAPT_REFAULT_TAU_MS   2000
/* The horizon is reconsidered this often. */
#define CMMA_ADAPT_PERIOD_MS        500
/* Refaults per released page above which the horizon doubles ... */
#define CMMA_ADAPT_REFAULT_HIGH     0.125
/* ... and below which it shrinks by a quarter. */
#define CMMA_ADAPT_REFAULT_LOW      0.03125

typedef struct CmmaAdaptive {
    /* limits, fixed after init */
    uint32_t quiet_ms;
    uint32_t partial_factor;
    uint32_t max_hold_ms;
    uint32_t min_horizon_ms;
    uint32_t max_horizon_ms;

    /* state */
    uint32_t horizon_ms;        /* the reserve covers this much demand */
    double demand;              /* pages per second taken back, averaged */
    double refault_rate;        /* refaults per second, averaged */
    double release_rate;        /* released pages per second, averaged */
    int64_t last_ms;            /* time of the last update */
    int64_t period_ms;          /* start of the horizon's period */
    uint64_t reuses_seen;       /* the counters at the last update */
    uint64_t refaults_seen;
    uint64_t released_seen;
} CmmaAdaptive;

static inline void cmma_adaptive_init(CmmaAdaptive *a, uint32_t quiet_ms,
                                      uint32_t max_hold_ms, int64_t now_ms)
{
    *a = (CmmaAdaptive) {
        .quiet_ms = quiet_ms,
        .partial_factor = 4,
        .max_hold_ms = MAX(max_hold_ms, quiet_ms * 4),
        .min_horizon_ms = 250,
        .max_horizon_ms = 8000,
        .horizon_ms = 1000,
        .last_ms = now_ms,
        .period_ms = now_ms,
    };
}

/* Forget the counters' history, e.g. after they were reset. */
static inline void cmma_adaptive_resync(CmmaAdaptive *a, int64_t now_ms,
                                        uint64_t reuses, uint64_t refaults,
                                        uint64_t released)
{
    a->last_ms = now_ms;
    a->reuses_seen = reuses;
    a->refaults_seen = refaults;
    a->released_seen = released;
}

/* Move @avg towards @sample over @tau_ms, after @dt_ms. */
static inline double cmma_adaptive_ewma(double avg, double sample,
                                        int64_t dt_ms, int64_t tau_ms)
{
    return avg + (sample - avg) * ((double)dt_ms / (double)(tau_ms + dt_ms));
}

/*
 * Feed the table's running totals at @now_ms: @reuses (unused pages set
 * stable again, released or not), @refaults (released pages set stable
 * again) and @released (pages released).  Totals that went backwards
 * (a reset) count as a new start.
 */
static inline void cmma_adaptive_update(CmmaAdaptive *a, int64_t now_ms,
                                        uint64_t reuses, uint64_t refaults,
                                        uint64_t released)
{
    int64_t dt = now_ms - a->last_ms;
    double ratio;

    if (reuses < a->reuses_seen || refaults < a->refaults_seen ||
        released < a->released_seen) {
        cmma_adaptive_resync(a, now_ms, reuses, refaults, released);
        return;
    }
    if (dt <= 0) {
        return;
    }
    a->demand = cmma_adaptive_ewma(a->demand,
                                   (reuses - a->reuses_seen) * 1000.0 / dt,
                                   dt, CMMA_ADAPT_DEMAND_TAU_MS);
    a->refault_rate = cmma_adaptive_ewma(a->refault_rate,
                                         (refaults - a->refaults_seen) *
                                         1000.0 / dt,
                                         dt, CMMA_ADAPT_REFAULT_TAU_MS);
    a->release_rate = cmma_adaptive_ewma(a->release_rate,
                                         (released - a->released_seen) *
                                         1000.0 / dt,
                                         dt, CMMA_ADAPT_REFAULT_TAU_MS);
    cmma_adaptive_resync(a, now_ms, reuses, refaults, released);

    if (now_ms - a->period_ms < CMMA_ADAPT_PERIOD_MS) {
        return;
    }
    a->period_ms = now_ms;
    /* less than a page a second either way is no evidence */
    if (a->refault_rate < 1.0 && a->release_rate < 1.0) {
        ratio = 0;
    } else {
        ratio = a->refault_rate / MAX(a->release_rate, 1.0);
    }
    if (ratio > CMMA_ADAPT_REFAULT_HIGH) {
        a->horizon_ms = MIN(a->horizon_ms * 2, a->max_horizon_ms);
    } else if (ratio < CMMA_ADAPT_REFAULT_LOW) {
        a->horizon_ms = MAX(a->horizon_ms - a->horizon_ms / 4,
                            a->min_horizon_ms);
    }
}

/* Refaults per released page, recently; 0 without evidence. */
static inline double cmma_adaptive_refault_ratio(const CmmaAdaptive *a)
{
    if (a->refault_rate < 1.0 && a->release_rate < 1.0) {
        return 0;
    }
    return a->refault_rate / MAX(a->release_rate, 1.0);
}

/* Unused pages to keep resident now: the demand over the horizon. */
static inline uint64_t cmma_adaptive_reserve(const CmmaAdaptive *a)
{
    double r = a->demand * a->horizon_ms / 1000.0;

    return r >= (double)UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

/*
 * One decision, in two passes over the blocks that hold unused resident
 * pages: cmma_adaptive_plan_add() for each, cmma_adaptive_plan_finish(),
 * then cmma_adaptive_plan_release() for each says whether to release it.
 * A block may change between the passes; the caller checks each page's
 * state when it releases it.
 */
typedef struct CmmaAdaptivePlan {
    int64_t now_ms;
    uint64_t eligible[CMMA_ADAPT_AGE_BINS]; /* pending pages by age bin */
    int cutoff;                 /* release eligible blocks in bins >= this */
} CmmaAdaptivePlan;

static inline int cmma_adaptive_age_bin(int64_t age_ms)
{
    uint64_t units = age_ms > 0 ? age_ms / CMMA_ADAPT_AGE_UNIT_MS : 0;
    int bin = 0;

    while (units && bin < CMMA_ADAPT_AGE_BINS - 1) {
        units >>= 1;
        bin++;
    }
    return bin;
}

/* Has a block with @pending unused pages, the last since @last_ms, waited
 * long enough to be considered at all? */
static inline bool cmma_adaptive_quiet(const CmmaAdaptive *a,
                                       uint32_t pending, int64_t last_ms,
                                       int64_t now_ms)
{
    int64_t age = now_ms - last_ms;
    uint64_t wait = a->quiet_ms;

    if (pending < CMMA_ADAPT_BLOCK_PAGES) {
        wait *= a->partial_factor;
    }
    return pending && age >= (int64_t)wait;
}

static inline void cmma_adaptive_plan_begin(CmmaAdaptivePlan *p,
                                            int64_t now_ms)
{
    *p = (CmmaAdaptivePlan) { .now_ms = now_ms, .cutoff = CMMA_ADAPT_AGE_BINS };
}

static inline void cmma_adaptive_plan_add(CmmaAdaptivePlan *p,
                                          const CmmaAdaptive *a,
                                          uint32_t pending, int64_t last_ms)
{
    if (cmma_adaptive_quiet(a, pending, last_ms, p->now_ms)) {
        p->eligible[cmma_adaptive_age_bin(p->now_ms - last_ms)] += pending;
    }
}

/*
 * @resident_unused: all unused resident pages of the table.  Release the
 * oldest eligible blocks until what stays is about the reserve.
 */
static inline void cmma_adaptive_plan_finish(CmmaAdaptivePlan *p,
                                             const CmmaAdaptive *a,
                                             uint64_t resident_unused)
{
    uint64_t reserve = cmma_adaptive_reserve(a);
    uint64_t excess = resident_unused > reserve ?
                      resident_unused - reserve : 0;
    uint64_t sum = 0;
    int bin;

    p->cutoff = CMMA_ADAPT_AGE_BINS;
    for (bin = CMMA_ADAPT_AGE_BINS - 1; bin >= 0 && sum < excess; bin--) {
        if (p->eligible[bin]) {
            sum += p->eligible[bin];
            p->cutoff = bin;
        }
    }
}

static inline bool cmma_adaptive_plan_release(const CmmaAdaptivePlan *p,
                                              const CmmaAdaptive *a,
                                              uint32_t pending,
                                              int64_t last_ms)
{
    int64_t age = p->now_ms - last_ms;

    if (!cmma_adaptive_quiet(a, pending, last_ms, p->now_ms)) {
        return false;
    }
    return age >= (int64_t)a->max_hold_ms ||
           cmma_adaptive_age_bin(age) >= p->cutoff;
}

#endif
