/*
 * virtio-balloon: the rate cap of a set-target, as a token bucket
 *
 * Pure arithmetic, unit-tested (tests/unit/test-balloon-rate.c).  A rate
 * is any byte count per second the QAPI schema accepts, up to INT64_MAX:
 * every step saturates or is bounded, nothing overflows.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_BALLOON_RATE_H
#define HW_VIRTIO_BALLOON_RATE_H

#include "qemu/host-utils.h"

/* The bucket holds two 50 ms control ticks' worth. */
#define BALLOON_RATE_BURST_MS   100

typedef struct BalloonRate {
    uint64_t rate;              /* bytes per second; 0: no cap */
    int64_t last_ms;            /* time of the last refill */
    uint64_t tokens;            /* bytes that may still shift now */
} BalloonRate;

static inline void balloon_rate_start(BalloonRate *r, uint64_t rate,
                                      int64_t now_ms)
{
    r->rate = rate;
    r->last_ms = now_ms;
    r->tokens = 0;
}

/*
 * Add what @now_ms - last refill earned: 85% of the rate, so that neither
 * timer jitter nor a guest lagging a step pushes a second over, with a
 * burst of BALLOON_RATE_BURST_MS but at least @min_burst (a page).
 */
static inline void balloon_rate_refill(BalloonRate *r, int64_t now_ms,
                                       uint64_t min_burst)
{
    int64_t dt = now_ms - r->last_ms;
    uint64_t eff, cap, add;

    r->last_ms = now_ms;
    if (!r->rate) {
        return;
    }
    eff = r->rate - r->rate / 100 * 15;
    cap = MAX(muldiv64(eff, BALLOON_RATE_BURST_MS, 1000), min_burst);
    /*
     * Time going back earns nothing; a minute fills any bucket (a page at
     * the lowest rate takes about 1.2 s), and keeps eff * dt / 1000 within
     * 64 bits for any rate below UINT64_MAX / 60.
     */
    dt = MIN(MAX(dt, 0), 60000);
    add = eff > UINT64_MAX / 60 ? cap : muldiv64(eff, dt, 1000);
    /* tokens <= cap and add <= cap <= UINT64_MAX / 10: no overflow */
    r->tokens = MIN(cap, r->tokens + MIN(add, cap));
}

/* Bytes that may shift now: unlimited without a rate. */
static inline uint64_t balloon_rate_budget(const BalloonRate *r)
{
    return r->rate ? r->tokens : UINT64_MAX;
}

static inline void balloon_rate_spend(BalloonRate *r, uint64_t bytes)
{
    if (r->rate) {
        r->tokens -= MIN(bytes, r->tokens);
    }
}

#endif
