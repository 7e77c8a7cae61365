/*
 * s390x CMMA page-state table for TCG
 *
 * The storage-attribute backend used when KVM does not keep the states: one
 * byte per guest page, changed by the ESSA helper from any vCPU, read by
 * migration and the monitor.  Pages the guest marks unused are released to
 * the host in coalesced ranges.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "hw/s390x/s390-cmma.h"
#include "hw/s390x/s390-virtio-ccw.h"
#include "exec/exec-all.h"
#include "exec/memory.h"
#include "migration/misc.h"
#include "system/runstate.h"
#include "trace.h"

S390CmmaState *s390_cmma_get(void)
{
    static S390CmmaState *cmma;

    if (!cmma) {
        cmma = (S390CmmaState *)object_resolve_path_type("", TYPE_S390_CMMA,
                                                         NULL);
    }
    return cmma;
}

static void block_pending_inc(S390CmmaState *s, uint64_t gfn)
{
    uint64_t b = gfn / CMMA_ADAPT_BLOCK_PAGES;

    qatomic_set(&s->blocks[b].last_unused_ms,
                qemu_clock_get_ms(QEMU_CLOCK_REALTIME));
    qatomic_inc(&s->blocks[b].pending);
    set_bit_atomic(b, s->pending_blocks);
}

/* Keep the census in step with page @gfn going from @old to @new. */
static void census_move(S390CmmaState *s, uint64_t gfn, uint8_t old,
                        uint8_t new)
{
    CmmaCensus *c = &s->census;
    uint64_t b = gfn / CMMA_ADAPT_BLOCK_PAGES;

    /* a plain read first: in a busy block the bit is already set */
    if (!test_bit(b, s->changed_blocks)) {
        set_bit_atomic(b, s->changed_blocks);
    }

    if ((old ^ new) & CMMA_USAGE_MASK) {
        qatomic_dec(&c->usage[old & CMMA_USAGE_MASK]);
        qatomic_inc(&c->usage[new & CMMA_USAGE_MASK]);
    }
    if ((old ^ new) & CMMA_NODAT) {
        if (new & CMMA_NODAT) {
            qatomic_inc(&c->nodat);
        } else {
            qatomic_dec(&c->nodat);
        }
    }
    if ((old ^ new) & CMMA_DISCARDED) {
        if (new & CMMA_DISCARDED) {
            qatomic_inc(&c->discarded);
        } else {
            qatomic_dec(&c->discarded);
        }
    }
    if ((old ^ new) & CMMA_REPORTED) {
        if (new & CMMA_REPORTED) {
            qatomic_inc(&c->reported);
        } else {
            qatomic_dec(&c->reported);
        }
    }
    if (cmma_is_pending(old) != cmma_is_pending(new)) {
        if (cmma_is_pending(new)) {
            qatomic_inc(&c->pending);
            block_pending_inc(s, gfn);
        } else {
            qatomic_dec(&c->pending);
            qatomic_dec(&s->blocks[gfn / CMMA_ADAPT_BLOCK_PAGES].pending);
        }
    }
    /* the guest takes back a page it had given up: is it reused soon? */
    if ((old & CMMA_USAGE_MASK) == CMMA_USAGE_UNUSED &&
        (new & CMMA_USAGE_MASK) == CMMA_USAGE_STABLE) {
        qatomic_inc(&c->reused);
        if ((old & CMMA_DISCARDED) && !(old & CMMA_REPORTED)) {
            qatomic_inc(&c->refaulted);
        }
    }
}

static void mark_dirty(S390CmmaState *s, uint64_t gfn)
{
    unsigned long mask = BIT_MASK(gfn);

    if (!(qatomic_fetch_or(&s->dirty[BIT_WORD(gfn)], mask) & mask)) {
        qatomic_inc(&s->dirty_count);
    }
}

/*
 * Change a page's state with compare-and-swap so that vCPUs and the discard
 * path never lose each other's updates.  Returns the old state.
 */
static uint8_t state_update(S390CmmaState *s, uint64_t gfn, unsigned orc)
{
    uint8_t old = qatomic_read(&s->state[gfn]), new, seen;

    for (;;) {
        new = cmma_essa_next(old, orc);
        if (new == old) {
            return old;
        }
        seen = qatomic_cmpxchg(&s->state[gfn], old, new);
        if (seen == old) {
            break;
        }
        old = seen;
    }
    census_move(s, gfn, old, new);
    if (qatomic_read(&s->migration_mode) &&
        ((old ^ new) & CMMA_MIGRATION_MASK)) {
        mark_dirty(s, gfn);
    }
    return old;
}

/* Discard */

/* Can guest RAM be released to the host right now? */
static RAMBlock *discard_block(S390CmmaState *s)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    RAMBlock *rb = ms->ram->ram_block;

    /*
     * Not with vfio and friends; not while migrating out (the destination
     * would keep stale data) nor in (a page's new content can arrive before
     * its new state, and would be released); not for shared backends
     * (another process sees the memory) and not for huge pages (a 4 KiB
     * page cannot be released alone).
     */
    if (ram_block_discard_is_disabled() || migration_is_running() ||
        runstate_check(RUN_STATE_INMIGRATE) ||
        migration_in_incoming_postcopy() || qemu_ram_is_shared(rb) ||
        qemu_ram_pagesize(rb) != CMMA_PAGE_SIZE) {
        return NULL;
    }
    return rb;
}

typedef struct DiscardRun {
    S390CmmaState *s;
    RAMBlock *rb;
    uint64_t bytes;
} DiscardRun;

/* End the discard of pages [start, start + length): logically zero if done. */
static void discard_finish(S390CmmaState *s, uint64_t start, uint64_t length,
                           bool done)
{
    uint64_t gfn;

    for (gfn = start / CMMA_PAGE_SIZE;
         gfn < (start + length) / CMMA_PAGE_SIZE; gfn++) {
        uint8_t old = qatomic_read(&s->state[gfn]), new, seen;

        /*
         * A page set stable meanwhile is the guest's again: its vCPU waits
         * for discard_lock before it can write, so it only ever sees zeros.
         */
        while (old & CMMA_INFLIGHT) {
            new = old & ~CMMA_INFLIGHT;
            if (done && (old & CMMA_USAGE_MASK) != CMMA_USAGE_STABLE) {
                new |= CMMA_DISCARDED;
            }
            seen = qatomic_cmpxchg(&s->state[gfn], old, new);
            if (seen == old) {
                census_move(s, gfn, old, new);
                break;
            }
            old = seen;
        }
    }
}

static void discard_range(uint64_t start, uint64_t length, void *opaque)
{
    DiscardRun *run = opaque;
    bool done = false;

    /* Device memory above initial RAM is not ours to release. */
    if (start + length <= qemu_ram_get_used_length(run->rb) &&
        !ram_block_discard_range(run->rb, start, length)) {
        /* Translated code from these pages must not outlive their content. */
        tb_invalidate_phys_range(qemu_ram_get_offset(run->rb) + start,
                                 qemu_ram_get_offset(run->rb) + start +
                                 length - 1);
        run->bytes += length;
        done = true;
        trace_s390_cmma_discard(start, length);
    }
    discard_finish(run->s, start, length, done);
}

/*
 * Release the pending pages of @batch, which is emptied.  Each page is
 * marked in flight under discard_lock before it is released and keeps the
 * mark until its range is done; any ESSA that takes a marked page out of
 * the unused state waits for the lock (see s390_cmma_essa()), so no write
 * of the guest ever lands in a page that is being released, however many
 * vCPUs change it meanwhile.
 */
static uint64_t discard_batch(S390CmmaState *s, PageBatch *batch, RAMBlock *rb)
{
    DiscardRun run = { .s = s, .rb = rb };
    unsigned i, n = 0;

    qemu_mutex_lock(&s->discard_lock);
    for (i = 0; i < batch->count; i++) {
        uint64_t gfn = batch->pages[i] / CMMA_PAGE_SIZE;
        uint8_t old = qatomic_read(&s->state[gfn]);

        while (cmma_is_pending(old) && !(old & CMMA_INFLIGHT)) {
            uint8_t seen = qatomic_cmpxchg(&s->state[gfn], old,
                                           old | CMMA_INFLIGHT);
            if (seen == old) {
                batch->pages[n++] = batch->pages[i];   /* keep, compacted */
                break;
            }
            old = seen;
        }
    }
    batch->count = n;
    page_batch_flush(batch, discard_range, &run);
    qemu_mutex_unlock(&s->discard_lock);
    qatomic_add(&s->census.discarded_bytes_total, run.bytes);
    return run.bytes;
}

static void queue_flush_locked(S390CmmaState *s, CmmaQueue *q)
{
    RAMBlock *rb;

    if (page_batch_is_empty(&q->batch)) {
        return;
    }
    rb = NULL;
    if (qatomic_read(&s->discard) == CMMA_DISCARD_POLICY_EAGER) {
        rb = discard_block(s);
    }
    if (rb) {
        discard_batch(s, &q->batch, rb);
    }
    /* Whatever could not be released stays pending for a later flush. */
    q->batch.count = 0;
}

/* While releasing is blocked (a migration runs), look again this often. */
#define CMMA_RETRY_MS 1000

static void arm_flush_timer(S390CmmaState *s, int64_t delay_ms)
{
    if (!timer_pending(s->flush_timer)) {
        timer_mod(s->flush_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + delay_ms);
    }
}

/*
 * Collect block @b's pending pages into @batch, releasing whenever it
 * fills.  Returns the bytes released; stops once @charged reaches @max.
 */
static uint64_t release_block(S390CmmaState *s, uint64_t b, PageBatch *batch,
                              RAMBlock *rb, uint64_t max,
                              const uint8_t *resident, uint64_t *charged)
{
    uint64_t gfn = b * CMMA_ADAPT_BLOCK_PAGES;
    uint64_t end = MIN(gfn + CMMA_ADAPT_BLOCK_PAGES, s->npages);
    uint64_t bytes = 0;

    for (; gfn < end && *charged < max; gfn++) {
        if (cmma_is_pending(qatomic_read(&s->state[gfn]))) {
            page_batch_add(batch, gfn * CMMA_PAGE_SIZE);
            if (!resident || resident[gfn]) {
                *charged += CMMA_PAGE_SIZE;
            }
            if (page_batch_is_full(batch) || *charged >= max) {
                bytes += discard_batch(s, batch, rb);
            }
        }
    }
    return bytes;
}

/*
 * Next block after @b (inclusive) that has pending pages, or nblocks.
 * Clears the bits of blocks found empty (see the concurrency contract).
 */
static uint64_t next_pending_block(S390CmmaState *s, uint64_t b)
{
    for (;;) {
        b = find_next_bit(s->pending_blocks, s->nblocks, b);
        if (b >= s->nblocks) {
            return b;
        }
        clear_bit_atomic(b, s->pending_blocks);
        if (qatomic_read(&s->blocks[b].pending)) {
            set_bit_atomic(b, s->pending_blocks);
            return b;
        }
        b++;
    }
}

/* One decision of the adaptive policy: release what it says is due. */
static void adaptive_tick(S390CmmaState *s, RAMBlock *rb, int64_t now)
{
    CmmaAdaptive *a = &s->adaptive;
    CmmaAdaptivePlan plan;
    PageBatch batch;
    uint64_t b, bytes = 0, charged = 0, pending;

    cmma_adaptive_update(a, now, qatomic_read(&s->census.reused),
                         qatomic_read(&s->census.refaulted),
                         qatomic_read(&s->census.discarded_bytes_total) /
                         CMMA_PAGE_SIZE);
    pending = qatomic_read(&s->census.pending);
    if (!rb || !pending) {
        return;
    }
    cmma_adaptive_plan_begin(&plan, now);
    for (b = next_pending_block(s, 0); b < s->nblocks;
         b = next_pending_block(s, b + 1)) {
        cmma_adaptive_plan_add(&plan, a, qatomic_read(&s->blocks[b].pending),
                               qatomic_read(&s->blocks[b].last_unused_ms));
    }
    cmma_adaptive_plan_finish(&plan, a, pending);

    page_batch_init(&batch, CMMA_QUEUE_PAGES, CMMA_PAGE_SIZE);
    for (b = next_pending_block(s, 0); b < s->nblocks;
         b = next_pending_block(s, b + 1)) {
        if (cmma_adaptive_plan_release(&plan, a,
                                       qatomic_read(&s->blocks[b].pending),
                                       qatomic_read(&s->blocks[b].last_unused_ms))) {
            bytes += release_block(s, b, &batch, rb, UINT64_MAX, NULL,
                                   &charged);
        }
    }
    bytes += discard_batch(s, &batch, rb);
    page_batch_destroy(&batch);
    trace_s390_cmma_adaptive(pending, cmma_adaptive_reserve(a),
                             a->horizon_ms,
                             MIN(cmma_adaptive_refault_ratio(a) * 1000,
                                 UINT32_MAX), bytes);
}

/* The adaptive policy has something to watch: pages or fading rates. */
static bool adaptive_busy(S390CmmaState *s)
{
    CmmaAdaptive *a = &s->adaptive;

    return qatomic_read(&s->census.pending) || a->demand >= 1.0 ||
           a->refault_rate >= 1.0 || a->release_rate >= 1.0;
}

static void flush_timer_cb(void *opaque)
{
    S390CmmaState *s = opaque;
    CmmaDiscardPolicy policy = qatomic_read(&s->discard);
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    RAMBlock *rb;
    unsigned i;

    for (i = 0; i < s->nqueues; i++) {
        qemu_mutex_lock(&s->queues[i].lock);
        queue_flush_locked(s, &s->queues[i]);
        qemu_mutex_unlock(&s->queues[i].lock);
    }
    if (policy == CMMA_DISCARD_POLICY_ADAPTIVE) {
        rb = discard_block(s);
        adaptive_tick(s, rb, now);
        if (adaptive_busy(s)) {
            timer_mod(s->flush_timer, now + (rb ? CMMA_ADAPT_TICK_MS
                                                : CMMA_RETRY_MS));
        }
        return;
    }
    /*
     * Pages the queues could not release (queued while releasing was
     * blocked, or received unused from a migration source) are found by a
     * scan of the blocks that hold pending pages.
     */
    if (policy != CMMA_DISCARD_POLICY_EAGER ||
        !qatomic_read(&s->census.pending)) {
        return;
    }
    if (discard_block(s)) {
        s390_cmma_flush(s);
    } else {
        arm_flush_timer(s, CMMA_RETRY_MS);
    }
}

static void queue_page(S390CmmaState *s, unsigned cpu_index, uint64_t gfn)
{
    CmmaQueue *q = &s->queues[cpu_index % s->nqueues];

    qemu_mutex_lock(&q->lock);
    page_batch_add(&q->batch, gfn * CMMA_PAGE_SIZE);
    if (page_batch_is_full(&q->batch)) {
        queue_flush_locked(s, q);
    }
    qemu_mutex_unlock(&q->lock);
    arm_flush_timer(s, s->discard_delay_ms);
}

uint64_t s390_cmma_reclaim(S390CmmaState *s, uint64_t max,
                           const uint8_t *resident)
{
    RAMBlock *rb = discard_block(s);
    PageBatch batch;
    uint64_t b, bytes = 0, charged = 0;

    if (!rb) {
        return 0;
    }
    page_batch_init(&batch, CMMA_QUEUE_PAGES, CMMA_PAGE_SIZE);
    /* only blocks with pending pages: the cost follows them, not RAM */
    for (b = next_pending_block(s, 0); b < s->nblocks && charged < max;
         b = next_pending_block(s, b + 1)) {
        bytes += release_block(s, b, &batch, rb, max, resident, &charged);
    }
    bytes += discard_batch(s, &batch, rb);
    page_batch_destroy(&batch);
    trace_s390_cmma_flush(bytes);
    return resident ? MIN(charged, bytes) : bytes;
}

uint64_t s390_cmma_flush(S390CmmaState *s)
{
    return s390_cmma_reclaim(s, UINT64_MAX, NULL);
}

uint64_t s390_cmma_release(S390CmmaState *s, uint64_t start, uint64_t length)
{
    uint64_t gfn, end, ram_end = s->npages * CMMA_PAGE_SIZE;
    DiscardRun run = { .s = s };

    qatomic_inc(&s->census.diag10);
    end = start < ram_end ? MIN(ram_end, start + MIN(length, ram_end)) : start;
    run.rb = discard_block(s);
    if (!run.rb || end <= start) {
        trace_s390_cmma_diag10(start, length, 0);
        return 0;
    }
    /*
     * The pages are the guest's (stable, usually); unused ones among them
     * are marked in flight as a queued discard would mark them, so the
     * census sees them released and ESSA waits for the lock.
     */
    qemu_mutex_lock(&s->discard_lock);
    for (gfn = start / CMMA_PAGE_SIZE; gfn < end / CMMA_PAGE_SIZE; gfn++) {
        uint8_t old = qatomic_read(&s->state[gfn]);

        while (cmma_is_pending(old) && !(old & CMMA_INFLIGHT)) {
            uint8_t seen = qatomic_cmpxchg(&s->state[gfn], old,
                                           old | CMMA_INFLIGHT);
            if (seen == old) {
                break;
            }
            old = seen;
        }
    }
    discard_range(start, end - start, &run);
    qemu_mutex_unlock(&s->discard_lock);
    qatomic_add(&s->census.diag10_bytes_total, run.bytes);
    trace_s390_cmma_diag10(start, end - start, run.bytes);
    return run.bytes;
}

uint64_t s390_cmma_note_reported(S390CmmaState *s, uint64_t start,
                                 uint64_t length)
{
    uint64_t gfn, end = MIN(start + length, s->npages * CMMA_PAGE_SIZE);
    uint64_t n = 0;

    for (gfn = start / CMMA_PAGE_SIZE; gfn < end / CMMA_PAGE_SIZE; gfn++) {
        uint8_t old = qatomic_read(&s->state[gfn]), new, seen;

        /* A page the guest took back meanwhile keeps its state. */
        while (cmma_is_pending(old) && !(old & CMMA_INFLIGHT)) {
            new = old | CMMA_DISCARDED | CMMA_REPORTED;
            seen = qatomic_cmpxchg(&s->state[gfn], old, new);
            if (seen == old) {
                census_move(s, gfn, old, new);
                n++;
                break;
            }
            old = seen;
        }
    }
    return n;
}

uint64_t s390_cmma_essa(S390CmmaState *s, unsigned cpu_index, uint64_t gfn,
                        unsigned orc)
{
    uint8_t old, new;

    qatomic_inc(&s->census.essa[orc]);
    old = state_update(s, gfn, orc);
    new = cmma_essa_next(old, orc);

    if (cmma_must_wait(old, new)) {
        /* Being released right now: wait until it is over. */
        qemu_mutex_lock(&s->discard_lock);
        qemu_mutex_unlock(&s->discard_lock);
    }
    if (cmma_is_pending(new) && !cmma_is_pending(old)) {
        switch (qatomic_read(&s->discard)) {
        case CMMA_DISCARD_POLICY_EAGER:
            queue_page(s, cpu_index, gfn);
            break;
        case CMMA_DISCARD_POLICY_ADAPTIVE:
            arm_flush_timer(s, CMMA_ADAPT_TICK_MS);
            break;
        default:
            break;
        }
    }
    return cmma_essa_r1(old);
}

void s390_cmma_reset_states(S390CmmaState *s)
{
    uint64_t i;

    for (i = 0; i < s->nqueues; i++) {
        qemu_mutex_lock(&s->queues[i].lock);
        s->queues[i].batch.count = 0;
        qemu_mutex_unlock(&s->queues[i].lock);
    }
    qemu_mutex_lock(&s->discard_lock);
    memset(s->state, 0, s->npages);
    s->census.usage[CMMA_USAGE_STABLE] = s->npages;
    for (i = 1; i < ARRAY_SIZE(s->census.usage); i++) {
        s->census.usage[i] = 0;
    }
    s->census.nodat = 0;
    s->census.discarded = 0;
    s->census.reported = 0;
    s->census.pending = 0;
    for (i = 0; i < s->nblocks; i++) {
        s->blocks[i].pending = 0;
    }
    bitmap_zero(s->pending_blocks, s->nblocks);
    bitmap_fill(s->changed_blocks, s->nblocks);
    if (s->migration_mode) {
        bitmap_set(s->dirty, 0, s->npages);
        s->dirty_count = s->npages;
    }
    qemu_mutex_unlock(&s->discard_lock);
    trace_s390_cmma_reset(s->npages);
}

uint64_t s390_cmma_pending_resident(S390CmmaState *s, const uint8_t *resident,
                                    uint64_t npages)
{
    uint64_t b, gfn, end, n = 0;

    if (!resident || npages != s->npages) {
        return qatomic_read(&s->census.pending);
    }
    for (b = next_pending_block(s, 0); b < s->nblocks;
         b = next_pending_block(s, b + 1)) {
        end = MIN((b + 1) * CMMA_ADAPT_BLOCK_PAGES, npages);
        for (gfn = b * CMMA_ADAPT_BLOCK_PAGES; gfn < end; gfn++) {
            n += resident[gfn] &&
                 cmma_is_pending(qatomic_read(&s->state[gfn]));
        }
    }
    return n;
}

void s390_cmma_census(S390CmmaState *s, CmmaCensus *out)
{
    unsigned i;

    out->pages = s->npages;
    for (i = 0; i < ARRAY_SIZE(out->usage); i++) {
        out->usage[i] = qatomic_read(&s->census.usage[i]);
    }
    out->nodat = qatomic_read(&s->census.nodat);
    out->discarded = qatomic_read(&s->census.discarded);
    out->reported = qatomic_read(&s->census.reported);
    out->pending = qatomic_read(&s->census.pending);
    for (i = 0; i < ESSA_ORC_COUNT; i++) {
        out->essa[i] = qatomic_read(&s->census.essa[i]);
    }
    out->discarded_bytes_total =
        qatomic_read(&s->census.discarded_bytes_total);
    out->diag10 = qatomic_read(&s->census.diag10);
    out->diag10_bytes_total = qatomic_read(&s->census.diag10_bytes_total);
    out->reused = qatomic_read(&s->census.reused);
    out->refaulted = qatomic_read(&s->census.refaulted);
}

uint64_t s390_cmma_take_changed(S390CmmaState *s, unsigned long *out,
                                uint64_t nbits)
{
    uint64_t i, n = MIN(BITS_TO_LONGS(nbits), BITS_TO_LONGS(s->nblocks));
    unsigned orc;
    bool used = false;

    for (orc = 0; orc < ESSA_ORC_COUNT && !used; orc++) {
        used = qatomic_read(&s->census.essa[orc]) != 0;
    }
    if (!used) {
        return 0;
    }
    for (i = 0; out && i < n; i++) {
        if (qatomic_read(&s->changed_blocks[i])) {
            out[i] |= qatomic_xchg(&s->changed_blocks[i], 0);
        }
    }
    return CMMA_ADAPT_BLOCK_PAGES * CMMA_PAGE_SIZE;
}

void s390_cmma_adaptive_state(S390CmmaState *s, CmmaAdaptive *out)
{
    *out = s->adaptive;
}

/* Storage-attribute class hooks (migration, monitor) */

/* KVM leaves runs of up to this many clean pages inside one answer. */
#define CMMA_MAX_CLEAN_RUN 16

static int cmma_get_stattr(S390StAttribState *sa, uint64_t *start_gfn,
                           uint32_t count, uint8_t *values)
{
    S390CmmaState *s = S390_CMMA(sa);
    uint64_t gfn, last_dirty;
    uint32_t n = 0;

    if (!s->migration_mode || !qatomic_read(&s->dirty_count)) {
        return 0;
    }
    gfn = *start_gfn < s->npages ? find_next_bit(s->dirty, s->npages,
                                                 *start_gfn) : s->npages;
    if (gfn >= s->npages) {
        gfn = find_first_bit(s->dirty, s->npages);
        if (gfn >= s->npages) {
            return 0;
        }
    }
    *start_gfn = gfn;
    last_dirty = gfn;
    while (n < count && gfn < s->npages &&
           gfn - last_dirty <= CMMA_MAX_CLEAN_RUN) {
        unsigned long mask = BIT_MASK(gfn);

        /* Clear first: a change after this read marks the page again. */
        if (qatomic_fetch_and(&s->dirty[BIT_WORD(gfn)], ~mask) & mask) {
            qatomic_dec(&s->dirty_count);
            last_dirty = gfn;
        }
        values[n++] = qatomic_read(&s->state[gfn]) & CMMA_MIGRATION_MASK;
        gfn++;
    }
    /* End on the last dirty page, as KVM does. */
    return last_dirty - *start_gfn + 1;
}

static int cmma_peek_stattr(S390StAttribState *sa, uint64_t start_gfn,
                            uint32_t count, uint8_t *values)
{
    S390CmmaState *s = S390_CMMA(sa);
    uint32_t i;

    if (start_gfn >= s->npages) {
        return 0;
    }
    count = MIN(count, s->npages - start_gfn);
    for (i = 0; i < count; i++) {
        values[i] = qatomic_read(&s->state[start_gfn + i]) &
                    CMMA_MIGRATION_MASK;
    }
    return count;
}

static int cmma_set_stattr(S390StAttribState *sa, uint64_t start_gfn,
                           uint32_t count, uint8_t *values)
{
    S390CmmaState *s = S390_CMMA(sa);
    uint32_t i;

    if (start_gfn >= s->npages || count > s->npages - start_gfn) {
        error_report("s390-cmma: incoming states for pages 0x%" PRIx64
                     "+%u beyond the %" PRIu64 " pages of this machine",
                     start_gfn, count, s->npages);
        return -EINVAL;
    }
    for (i = 0; i < count; i++) {
        uint8_t new = values[i] & CMMA_MIGRATION_MASK;
        uint8_t old = qatomic_xchg(&s->state[start_gfn + i], new);

        census_move(s, start_gfn + i, old, new);
    }
    /* Unused pages from the source go back to the host here too. */
    if (qatomic_read(&s->census.pending)) {
        arm_flush_timer(s, s->discard_delay_ms);
    }
    return 0;
}

static void cmma_synchronize(S390StAttribState *sa)
{
}

static int cmma_set_migrationmode(S390StAttribState *sa, bool value,
                                  Error **errp)
{
    S390CmmaState *s = S390_CMMA(sa);

    if (value == s->migration_mode) {
        return 0;
    }
    if (value) {
        bitmap_set_atomic(s->dirty, 0, s->npages);
        qatomic_set(&s->dirty_count, s->npages);
    }
    qatomic_set(&s->migration_mode, value);
    if (!value) {
        bitmap_zero(s->dirty, s->npages);
        qatomic_set(&s->dirty_count, 0);
    }
    trace_s390_cmma_migration_mode(value);
    return 0;
}

static int cmma_get_active(S390StAttribState *sa)
{
    return sa->migration_enabled;
}

static long long cmma_get_dirtycount(S390StAttribState *sa)
{
    S390CmmaState *s = S390_CMMA(sa);

    return s->migration_mode ? qatomic_read(&s->dirty_count) : 0;
}

/* QOM */

static int cmma_get_discard(Object *obj, Error **errp)
{
    return qatomic_read(&S390_CMMA(obj)->discard);
}

static void cmma_set_discard(Object *obj, int value, Error **errp)
{
    S390CmmaState *s = S390_CMMA(obj);

    qatomic_set(&s->discard, value);
    /* pages that went unused under another policy are the new one's too */
    if (s->flush_timer && value != CMMA_DISCARD_POLICY_LAZY &&
        value != CMMA_DISCARD_POLICY_OFF) {
        arm_flush_timer(s, CMMA_ADAPT_TICK_MS);
    }
}

static void cmma_realize(DeviceState *dev, Error **errp)
{
    S390CmmaState *s = S390_CMMA(dev);
    S390StAttribClass *sac = S390_STATTRIB_GET_CLASS(dev);
    DeviceClass *parent = DEVICE_CLASS(object_class_get_parent(
                                           OBJECT_CLASS(sac)));
    MachineState *ms = MACHINE(qdev_get_machine());
    unsigned i;

    ERRP_GUARD();
    if (s->discard_delay_ms < 1 || s->discard_delay_ms > 10000) {
        error_setg(errp, "discard-delay-ms must be 1 to 10000, not %u",
                   s->discard_delay_ms);
        return;
    }
    if (s->discard_hold_max_ms < 1000 || s->discard_hold_max_ms > 3600000) {
        error_setg(errp, "discard-hold-max-ms must be 1000 to 3600000, "
                   "not %u", s->discard_hold_max_ms);
        return;
    }
    parent->realize(dev, errp);
    if (*errp) {
        return;
    }
    s->npages = s390_get_memory_limit(S390_CCW_MACHINE(ms)) /
                CMMA_PAGE_SIZE;
    /* Zero pages are stable with no-DAT off: the power-on state. */
    s->state = g_malloc0(s->npages);
    s->census.pages = s->npages;
    s->census.usage[CMMA_USAGE_STABLE] = s->npages;
    s->dirty = bitmap_new(s->npages);
    s->nblocks = DIV_ROUND_UP(s->npages, CMMA_ADAPT_BLOCK_PAGES);
    s->blocks = g_new0(CmmaBlock, s->nblocks);
    s->pending_blocks = bitmap_new(s->nblocks);
    s->changed_blocks = bitmap_new(s->nblocks);
    cmma_adaptive_init(&s->adaptive, s->discard_delay_ms,
                       s->discard_hold_max_ms,
                       qemu_clock_get_ms(QEMU_CLOCK_REALTIME));

    s->nqueues = MAX(ms->smp.max_cpus, 1);
    s->queues = g_new0(CmmaQueue, s->nqueues);
    for (i = 0; i < s->nqueues; i++) {
        qemu_mutex_init(&s->queues[i].lock);
        page_batch_init(&s->queues[i].batch, CMMA_QUEUE_PAGES,
                        CMMA_PAGE_SIZE);
    }
    qemu_mutex_init(&s->discard_lock);
    s->flush_timer = timer_new_ms(QEMU_CLOCK_REALTIME, flush_timer_cb, s);
    s390_cmma_balloon_register(s);
}

static const Property cmma_props[] = {
    DEFINE_PROP_UINT32("discard-delay-ms", S390CmmaState, discard_delay_ms,
                       200),
    DEFINE_PROP_UINT32("discard-hold-max-ms", S390CmmaState,
                       discard_hold_max_ms, 30000),
    /* Off: upstream's machine types answer DIAG 0x10 as upstream does. */
    DEFINE_PROP_BOOL("diag10", S390CmmaState, diag10, false),
};

static void cmma_instance_init(Object *obj)
{
    S390CmmaState *s = S390_CMMA(obj);

    s->discard = CMMA_DISCARD_POLICY_ADAPTIVE;
}

static void cmma_class_init(ObjectClass *oc, void *data)
{
    S390StAttribClass *sac = S390_STATTRIB_CLASS(oc);
    DeviceClass *dc = DEVICE_CLASS(oc);

    sac->get_stattr = cmma_get_stattr;
    sac->peek_stattr = cmma_peek_stattr;
    sac->set_stattr = cmma_set_stattr;
    sac->synchronize = cmma_synchronize;
    sac->set_migrationmode = cmma_set_migrationmode;
    sac->get_active = cmma_get_active;
    sac->get_dirtycount = cmma_get_dirtycount;

    dc->realize = cmma_realize;
    device_class_set_props(dc, cmma_props);
    object_class_property_add_enum(oc, "discard", "CmmaDiscardPolicy",
                                   &CmmaDiscardPolicy_lookup,
                                   cmma_get_discard, cmma_set_discard);
    object_class_property_set_description(oc, "discard",
        "When pages the guest marks unused go back to the host: "
        "eager (within discard-delay-ms), adaptive (what the guest does "
        "not soon reuse), lazy (on request) or off");
    /* Reason: created once by the machine */
    dc->user_creatable = false;
}

static const TypeInfo cmma_info = {
    .name = TYPE_S390_CMMA,
    .parent = TYPE_S390_STATTRIB,
    .instance_size = sizeof(S390CmmaState),
    .instance_init = cmma_instance_init,
    .class_init = cmma_class_init,
    .class_size = sizeof(S390StAttribClass),
};

static void cmma_register_types(void)
{
    type_register_static(&cmma_info);
}

type_init(cmma_register_types)
