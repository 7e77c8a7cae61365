/*
 * virtio-balloon: cooperative memory
 *
 * Page-state reporting and footprint targets for a balloon linked to the
 * s390x CMMA page-state table (cmma=on), set-target with a rate cap and a
 * floor, and discards coalesced into ranges.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/madvise.h"
#include "qemu/page-batch.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-balloon-cmm.h"
#include "qapi/qapi-events-balloon-cmm.h"
#include "qobject/qdict.h"
#include "hw/boards.h"
#include "hw/virtio/virtio-balloon-cmm.h"
#include "migration/misc.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "exec/cpu-common.h"
#include "system/runstate.h"
#include "trace.h"
#ifdef TARGET_S390X
#include "hw/s390x/s390-cmma.h"
#include "target/s390x/cpu_models.h"
#endif

#define PAGE        ((uint64_t)1 << VIRTIO_BALLOON_PFN_SHIFT)

/* Control period while a target is set; page-state events otherwise. */
#define TICK_MS         50
#define HOLD_MS         250             /* ... once it is reached */
#define REPORT_MS       1000
/* A page-state event needs a change of at least RAM / this. */
#define EVENT_FRACTION  32

typedef struct BalloonCmm {
    VirtIOBalloon *dev;

    /* Coalescing: one kind of operation on one RAMBlock at a time. */
    PageBatch batch;
    RAMBlock *batch_rb;
    bool batch_inflate;
    RAMBlock *rep_rb;
    uint64_t rep_start, rep_len;

    /* The target (migrated) */
    bool active;
    uint32_t kind;
    uint64_t target, rate, floor;
    uint32_t status;
    uint64_t reclaimed;

    /* Control state */
    QEMUTimer *timer;
    int64_t last_tick_ms;
    int64_t tokens;             /* bytes that may still shift now */
    int64_t progress_ms;        /* when progress was last seen */
    uint32_t last_actual;
    uint64_t last_fp;
    bool floor_blocked;
    bool stall_sent;

    /* Reporting */
    int pagemap_fd;
    uint8_t *vec;               /* per host page: resident? */
    size_t vec_len;
    BalloonPageStates sent;
    uint64_t sent_footprint;
    int64_t sent_ms;
} BalloonCmm;

/* The one balloon (QEMU supports one), for balloon-set-target. */
static VirtIOBalloon *cmm_balloon;

static uint64_t ram_bytes(void)
{
    return MACHINE(qdev_get_machine())->ram_size;
}

static uint64_t logical_size(VirtIOBalloon *s)
{
    return ram_bytes() - (uint64_t)s->actual * PAGE;
}

#ifdef TARGET_S390X
static S390CmmaState *cmm_table(VirtIOBalloon *s)
{
    return s->cmma ? s390_cmma_get() : NULL;
}
#endif

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT      (1ULL << 63)
#define PM_EXCLUSIVE    (1ULL << 56)
#define PM_CHUNK        4096            /* entries read at a time */

/*
 * Guest RAM resident on the host; fills c->vec with one byte per host page,
 * 1 if resident.  pagemap tells pages of our own from mappings of the shared
 * zero page (which an incoming migration creates for every page it checks
 * for zeros, and which cost nothing); mincore() cannot, so it is only the
 * fallback.
 */
static uint64_t footprint(BalloonCmm *c)
{
    MemoryRegion *ram = MACHINE(qdev_get_machine())->ram;
    uint8_t *host = memory_region_get_ram_ptr(ram);
    size_t len = memory_region_size(ram);
    size_t host_page = qemu_real_host_page_size();
    size_t n = DIV_ROUND_UP(len, host_page), i, j;
    uint64_t resident = 0;

    if (c->vec_len != n) {
        g_free(c->vec);
        c->vec = g_malloc(n);
        c->vec_len = n;
    }
    if (c->pagemap_fd >= 0) {
        g_autofree uint64_t *pm = g_new(uint64_t, PM_CHUNK);
        off_t base = (uintptr_t)host / host_page * sizeof(uint64_t);

        for (i = 0; i < n; i += PM_CHUNK) {
            size_t cnt = MIN(PM_CHUNK, n - i);
            ssize_t got = pread(c->pagemap_fd, pm, cnt * sizeof(uint64_t),
                                base + i * sizeof(uint64_t));

            if (got != cnt * sizeof(uint64_t)) {
                break;
            }
            for (j = 0; j < cnt; j++) {
                c->vec[i + j] = (pm[j] & (PM_PRESENT | PM_EXCLUSIVE)) ==
                                (PM_PRESENT | PM_EXCLUSIVE);
                resident += c->vec[i + j];
            }
        }
        if (i >= n) {
            return resident * host_page;
        }
        resident = 0;
    }
    if (mincore(host, len, c->vec)) {
        memset(c->vec, 1, n);
        return len;                 /* cannot tell: assume the worst */
    }
    for (i = 0; i < n; i++) {
        c->vec[i] &= 1;
        resident += c->vec[i];
    }
    return resident * host_page;
}

static void page_states(VirtIOBalloon *s, BalloonPageStates *ps)
{
    uint64_t ballooned = (uint64_t)s->actual * PAGE;

    memset(ps, 0, sizeof(*ps));
    ps->ballooned = ballooned;
#ifdef TARGET_S390X
    S390CmmaState *t = cmm_table(s);
    CmmaCensus cs;

    if (t) {
        s390_cmma_census(t, &cs);
        ps->stable = cs.usage[CMMA_USAGE_STABLE] * CMMA_PAGE_SIZE;
        ps->stable -= MIN(ps->stable, ballooned);
        ps->unused_resident = cs.pending * CMMA_PAGE_SIZE;
        ps->reported = cs.reported * CMMA_PAGE_SIZE;
        ps->discarded = (cs.discarded - MIN(cs.discarded, cs.reported)) *
                        CMMA_PAGE_SIZE;
    }
#endif
}

/* Coalesced discards */

static void inflate_range(uint64_t start, uint64_t length, void *opaque)
{
    RAMBlock *rb = opaque;

    trace_virtio_balloon_cmm_discard(1, start, length);
    /* Errors are reported by the callee and are not fatal, as upstream. */
    ram_block_discard_range(rb, start, length);
}

static void deflate_range(uint64_t start, uint64_t length, void *opaque)
{
    RAMBlock *rb = opaque;
    void *host = qemu_ram_get_host_addr(rb) + start;

    trace_virtio_balloon_cmm_discard(0, start, length);
    if (qemu_madvise(host, length, QEMU_MADV_WILLNEED) < 0) {
        error_report_once("virtio-balloon: failed to hint %" PRIu64
                          " deflated bytes: %s", length, strerror(errno));
    }
}

static void flush_pages(BalloonCmm *c)
{
    if (!page_batch_is_empty(&c->batch)) {
        page_batch_flush(&c->batch, c->batch_inflate ? inflate_range
                                                     : deflate_range,
                         c->batch_rb);
    }
}

static void flush_report(VirtIOBalloon *s, BalloonCmm *c)
{
    if (!c->rep_len) {
        return;
    }
    trace_virtio_balloon_cmm_discard(2, c->rep_start, c->rep_len);
    if (!ram_block_discard_range(c->rep_rb, c->rep_start, c->rep_len)) {
#ifdef TARGET_S390X
        S390CmmaState *t = cmm_table(s);

        if (t && c->rep_rb == MACHINE(qdev_get_machine())->ram->ram_block) {
            s390_cmma_note_reported(t, c->rep_start, c->rep_len);
        }
#endif
    }
    c->rep_len = 0;
}

bool virtio_balloon_cmm_queue_page(VirtIOBalloon *s, bool inflate,
                                   MemoryRegion *mr, hwaddr offset)
{
    BalloonCmm *c = s->cmm;
    ram_addr_t rb_offset;
    RAMBlock *rb;

    rb = qemu_ram_block_from_host(memory_region_get_ram_ptr(mr) + offset,
                                  false, &rb_offset);
    if (!rb || qemu_ram_pagesize(rb) != PAGE) {
        return false;
    }
    if (rb != c->batch_rb || inflate != c->batch_inflate ||
        page_batch_is_full(&c->batch)) {
        flush_pages(c);
        c->batch_rb = rb;
        c->batch_inflate = inflate;
    }
    page_batch_add(&c->batch, rb_offset);
    return true;
}

void virtio_balloon_cmm_queue_report(VirtIOBalloon *s, RAMBlock *rb,
                                     ram_addr_t offset, size_t size)
{
    BalloonCmm *c = s->cmm;

    if (c->rep_len && rb == c->rep_rb && offset == c->rep_start + c->rep_len) {
        c->rep_len += size;
        return;
    }
    flush_report(s, c);
    c->rep_rb = rb;
    c->rep_start = offset;
    c->rep_len = size;
}

void virtio_balloon_cmm_flush(VirtIOBalloon *s)
{
    flush_pages(s->cmm);
    flush_report(s, s->cmm);
}

/* Page-state events */

static bool differs(uint64_t a, uint64_t b, uint64_t by)
{
    return (a > b ? a - b : b - a) >= by;
}

static void maybe_report(VirtIOBalloon *s, BalloonCmm *c, uint64_t fp,
                         int64_t now)
{
    uint64_t by = ram_bytes() / EVENT_FRACTION;
    BalloonPageStates ps;

    if (!s->cmma || now - c->sent_ms < REPORT_MS) {
        return;
    }
    page_states(s, &ps);
    if (c->sent_ms && !differs(fp, c->sent_footprint, by) &&
        !differs(ps.stable, c->sent.stable, by) &&
        !differs(ps.unused_resident, c->sent.unused_resident, by) &&
        !differs(ps.discarded, c->sent.discarded, by) &&
        !differs(ps.reported, c->sent.reported, by) &&
        !differs(ps.ballooned, c->sent.ballooned, by)) {
        return;
    }
    c->sent = ps;
    c->sent_footprint = fp;
    c->sent_ms = now;
    qapi_event_send_balloon_page_states(fp, logical_size(s), &ps);
}

/* The control loop */

static void set_num_pages(VirtIOBalloon *s, uint64_t pages)
{
    s->num_pages = pages;
    virtio_notify_config(VIRTIO_DEVICE(s));
}

/*
 * The cap's budget: 85% of the rate with a burst of two ticks, so that
 * neither timer jitter nor a guest lagging one step pushes a second over.
 */
static void refill(BalloonCmm *c, int64_t now)
{
    int64_t dt = now - c->last_tick_ms, cap, rate;

    c->last_tick_ms = now;
    if (!c->rate) {
        c->tokens = INT64_MAX;
        return;
    }
    rate = c->rate - c->rate * 15 / 100;
    cap = MAX(rate * 2 * TICK_MS / 1000, (int64_t)PAGE);
    if (c->tokens == INT64_MAX) {
        c->tokens = 0;
    }
    c->tokens = MIN(cap, c->tokens + rate * MAX(dt, 0) / 1000);
}

static uint64_t budget_pages(BalloonCmm *c)
{
    return c->tokens > 0 ? (uint64_t)c->tokens / PAGE : 0;
}

static void spend(BalloonCmm *c, uint64_t bytes)
{
    if (c->tokens != INT64_MAX) {
        c->tokens = MAX(c->tokens - (int64_t)bytes, 0);
    }
}

/* Move the balloon towards @want pages, within the budget. */
static void steer(VirtIOBalloon *s, BalloonCmm *c, uint64_t want)
{
    uint64_t cur = s->num_pages, step;

    if (s->actual != s->num_pages || want == cur) {
        return;                     /* the guest has not caught up yet */
    }
    step = MIN(want > cur ? want - cur : cur - want, budget_pages(c));
    if (!step) {
        return;
    }
    spend(c, step * PAGE);
    set_num_pages(s, want > cur ? cur + step : cur - step);
}

/* Balloon pages that would shrink the guest below max(target, floor). */
static uint64_t max_pages(BalloonCmm *c)
{
    uint64_t ram = ram_bytes(), keep = MAX(c->target, c->floor);

    return keep >= ram ? 0 : (ram - keep) / PAGE;
}

/* Returns: how far the guest is from the target, in bytes (0 if met). */
static uint64_t control_logical(VirtIOBalloon *s, BalloonCmm *c)
{
    uint64_t want = max_pages(c);

    steer(s, c, want);
    c->floor_blocked = false;
    if (s->actual == want && s->num_pages == want) {
        return 0;
    }
    return (s->actual > want ? s->actual - want : want - s->actual) * PAGE;
}

static uint64_t control_footprint(VirtIOBalloon *s, BalloonCmm *c,
                                  uint64_t *fp)
{
    uint64_t ram = ram_bytes();
    uint64_t margin = MAX(16 * MiB, ram / 64);
    uint64_t limit = max_pages(c);

    c->floor_blocked = false;
    if (*fp > c->target) {
        uint64_t over = *fp - c->target, r = 0;

#ifdef TARGET_S390X
        S390CmmaState *t = cmm_table(s);

        /*
         * Reclaim first: what the guest marked unused costs it nothing.  All
         * of it, not just the excess: kept resident, it would only bring the
         * footprint back to the target sooner.
         */
        bool can = t && qatomic_read(&t->discard) != CMMA_DISCARD_POLICY_OFF;
        CmmaCensus cs;

        if (can && budget_pages(c)) {
            r = s390_cmma_reclaim(t, budget_pages(c) * PAGE,
                                  c->vec_len == t->npages ? c->vec : NULL);
            spend(c, r);
            c->reclaimed += r;
            if (r) {
                trace_virtio_balloon_cmm_reclaim(r);
                *fp = footprint(c);
                over = *fp > c->target ? *fp - c->target : 0;
            }
        }
        if (can) {
            /* Inflate only for what reclaiming cannot give. */
            s390_cmma_census(t, &cs);
            if (cs.pending) {
                return over;
            }
        }
#endif
        if (over) {
            /* Free guest pages go first and are not resident: step on. */
            uint64_t want = MIN(s->num_pages + DIV_ROUND_UP(over, PAGE),
                                limit);
            if (want > s->num_pages) {
                steer(s, c, want);
            } else {
                c->floor_blocked = c->floor > c->target;
            }
        }
        return over;
    }
    if (s->num_pages && s->actual == s->num_pages) {
        /*
         * Below the target: give back what keeps the guest from being
         * squeezed (less than @margin of room it does not use), as long as
         * that room fits under the target.
         */
        uint64_t room = logical_size(s) - MIN(logical_size(s), *fp);
        uint64_t under = c->target - *fp;

        if (room < margin && under > margin / 2) {
            uint64_t give = MIN(margin - room, under - margin / 2) / PAGE;

            steer(s, c, s->num_pages - MIN(give, s->num_pages));
        }
    }
    return 0;
}

static BalloonStallReason stall_reason(VirtIOBalloon *s, BalloonCmm *c)
{
    if (!(VIRTIO_DEVICE(s)->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return BALLOON_STALL_REASON_DRIVER_NOT_READY;
    }
    if (c->floor_blocked) {
        return BALLOON_STALL_REASON_FLOOR;
    }
    if (ram_block_discard_is_disabled() || migration_is_running() ||
        migration_in_incoming_postcopy()) {
        return BALLOON_STALL_REASON_DISCARD_DISABLED;
    }
    return BALLOON_STALL_REASON_GUEST_NOT_RESPONDING;
}

static void set_status(BalloonCmm *c, BalloonTargetStatus status)
{
    if (c->status != status) {
        trace_virtio_balloon_cmm_status(BalloonTargetStatus_str(status));
        c->status = status;
    }
}

static void control(VirtIOBalloon *s, BalloonCmm *c, uint64_t fp,
                    int64_t now)
{
    uint64_t ram = ram_bytes();
    uint64_t tolerance = MAX(4 * MiB, ram / 256), deficit;
    uint64_t reclaimed = c->reclaimed;
    bool met;

    refill(c, now);
    if (c->kind == BALLOON_TARGET_KIND_FOOTPRINT) {
        deficit = control_footprint(s, c, &fp);
        /* Once met, a footprint target is lost only beyond a tolerance. */
        met = c->status == BALLOON_TARGET_STATUS_REACHED ?
              fp <= c->target + tolerance : !deficit;
    } else {
        deficit = control_logical(s, c);
        met = !deficit;
    }
    trace_virtio_balloon_cmm_tick(fp, s->num_pages, s->actual, c->tokens);

    if (met) {
        if (c->status != BALLOON_TARGET_STATUS_REACHED) {
            set_status(c, BALLOON_TARGET_STATUS_REACHED);
            qapi_event_send_balloon_target_reached(c->kind, c->target,
                                                   logical_size(s), fp);
        }
        c->progress_ms = now;
        c->last_fp = fp;
        c->stall_sent = false;
        return;
    }
    if (c->status == BALLOON_TARGET_STATUS_REACHED) {
        set_status(c, BALLOON_TARGET_STATUS_ACTIVE);
    }
    if (s->actual != c->last_actual || c->reclaimed != reclaimed ||
        fp + MiB < c->last_fp) {
        c->last_actual = s->actual;
        c->last_fp = fp;
        c->progress_ms = now;
        c->stall_sent = false;
        set_status(c, BALLOON_TARGET_STATUS_ACTIVE);
        return;
    }
    if (!c->stall_sent && now - c->progress_ms >= s->target_stall_ms) {
        c->stall_sent = true;
        set_status(c, BALLOON_TARGET_STATUS_STALLED);
        qapi_event_send_balloon_target_stalled(c->kind, c->target,
                                               stall_reason(s, c), deficit);
    }
}

static void arm(BalloonCmm *c, int64_t delay_ms)
{
    timer_mod(c->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + delay_ms);
}

static void tick(void *opaque)
{
    VirtIOBalloon *s = opaque;
    BalloonCmm *c = s->cmm;
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    uint64_t fp;

    if (!runstate_is_running()) {
        /* Paused time is neither progress nor stall. */
        c->progress_ms = now;
        c->last_tick_ms = now;
    } else if (c->active || s->cmma) {
        fp = footprint(c);
        if (c->active) {
            control(s, c, fp, now);
        }
        maybe_report(s, c, fp, now);
    }
    if (c->active) {
        arm(c, c->status == BALLOON_TARGET_STATUS_REACHED ? HOLD_MS : TICK_MS);
    } else if (s->cmma) {
        arm(c, REPORT_MS);
    }
}

static void start_target(BalloonCmm *c)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    c->last_tick_ms = now;
    c->progress_ms = now;
    c->tokens = 0;
    c->last_actual = c->dev->actual;
    c->last_fp = UINT64_MAX;
    c->stall_sent = false;
    arm(c, 0);
}

void virtio_balloon_cmm_cancel(VirtIOBalloon *s)
{
    if (s->cmm->active) {
        trace_virtio_balloon_cmm_cancel();
        s->cmm->active = false;
    }
}

/* QMP and HMP */

void qmp_balloon_set_target(BalloonTargetKind kind, int64_t target,
                            bool has_rate, int64_t rate,
                            bool has_floor, int64_t floor, Error **errp)
{
    VirtIOBalloon *s = cmm_balloon;
    uint64_t ram = ram_bytes();
    BalloonCmm *c;

    if (!s) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_ACTIVE,
                  "No balloon device has been activated");
        return;
    }
    if (target < (int64_t)MiB || target > ram) {
        error_setg(errp, "Parameter 'target' must be between 1 MiB and the "
                   "guest's RAM (%" PRIu64 " bytes), not %" PRId64,
                   ram, target);
        return;
    }
    if (has_rate && rate < (int64_t)PAGE) {
        error_setg(errp, "Parameter 'rate' must be at least %" PRIu64
                   " bytes per second, not %" PRId64, PAGE, rate);
        return;
    }
    if (has_floor && (floor < 0 || floor > ram)) {
        error_setg(errp, "Parameter 'floor' must be between 0 and the "
                   "guest's RAM (%" PRIu64 " bytes), not %" PRId64,
                   ram, floor);
        return;
    }
    /* A footprint may sit below the floor; a logical size cannot. */
    if (has_floor && kind == BALLOON_TARGET_KIND_LOGICAL && floor > target) {
        error_setg(errp, "Parameter 'floor' (%" PRId64 ") is above the "
                   "logical target %" PRId64, floor, target);
        return;
    }
    if (kind == BALLOON_TARGET_KIND_FOOTPRINT && !s->cmma) {
        error_setg(errp, "A footprint target needs the balloon device's "
                   "'cmma' property on");
        return;
    }
    c = s->cmm;
    c->active = true;
    c->kind = kind;
    c->target = target;
    c->rate = has_rate ? rate : 0;
    c->floor = has_floor ? floor : 0;
    c->reclaimed = 0;
    c->status = BALLOON_TARGET_STATUS_ACTIVE;
    trace_virtio_balloon_cmm_set_target(BalloonTargetKind_str(kind), target,
                                        c->rate, c->floor);
    start_target(c);
}

void virtio_balloon_cmm_stat(VirtIOBalloon *s, BalloonInfo *info)
{
    BalloonCmm *c = s->cmm;

    if (s->cmma) {
        info->has_footprint = true;
        info->footprint = footprint(c);
        info->page_states = g_new0(BalloonPageStates, 1);
        page_states(s, info->page_states);
    }
    if (c->active) {
        BalloonTargetInfo *t = g_new0(BalloonTargetInfo, 1);

        t->kind = c->kind;
        t->target = c->target;
        t->has_rate = c->rate != 0;
        t->rate = c->rate;
        t->has_floor = c->floor != 0;
        t->floor = c->floor;
        t->status = c->status;
        t->reclaimed = c->reclaimed;
        info->target = t;
    }
}

void hmp_info_balloon_cmm(Monitor *mon, BalloonInfo *info)
{
    BalloonPageStates *ps = info->page_states;
    BalloonTargetInfo *t = info->target;

    if (info->has_footprint) {
        monitor_printf(mon, "footprint=%" PRIu64 " MiB\n",
                       info->footprint / MiB);
    }
    if (ps) {
        monitor_printf(mon, "page states (MiB): stable=%" PRIu64
                       " unused-resident=%" PRIu64 " discarded=%" PRIu64
                       " reported=%" PRIu64 " ballooned=%" PRIu64 "\n",
                       ps->stable / MiB, ps->unused_resident / MiB,
                       ps->discarded / MiB, ps->reported / MiB,
                       ps->ballooned / MiB);
    }
    if (t) {
        monitor_printf(mon, "target: %s %" PRIu64 " MiB, %s",
                       BalloonTargetKind_str(t->kind), t->target / MiB,
                       BalloonTargetStatus_str(t->status));
        if (t->has_rate) {
            monitor_printf(mon, ", rate %" PRIu64 " KiB/s", t->rate / KiB);
        }
        if (t->has_floor) {
            monitor_printf(mon, ", floor %" PRIu64 " MiB", t->floor / MiB);
        }
        monitor_printf(mon, ", reclaimed %" PRIu64 " MiB\n",
                       t->reclaimed / MiB);
    }
}

void hmp_balloon_set_target(Monitor *mon, const QDict *qdict)
{
    const char *kind_str = qdict_get_str(qdict, "kind");
    bool has_rate = qdict_haskey(qdict, "rate");
    bool has_floor = qdict_haskey(qdict, "floor");
    Error *err = NULL;
    int kind;

    kind = qapi_enum_parse(&BalloonTargetKind_lookup, kind_str, -1, &err);
    if (kind >= 0) {
        qmp_balloon_set_target(kind, qdict_get_int(qdict, "target"),
                               has_rate,
                               has_rate ? qdict_get_int(qdict, "rate") : 0,
                               has_floor,
                               has_floor ? qdict_get_int(qdict, "floor") : 0,
                               &err);
    }
    hmp_handle_error(mon, err);
}

/* Migration: the target and its progress */

static int cmm_post_load(void *opaque, int version_id)
{
    BalloonCmm *c = opaque;

    if (c->kind >= BALLOON_TARGET_KIND__MAX ||
        c->status >= BALLOON_TARGET_STATUS__MAX) {
        error_report("virtio-balloon: bad incoming target kind %u or "
                     "status %u", c->kind, c->status);
        return -EINVAL;
    }
    if (c->active) {
        start_target(c);
    } else if (c->dev->cmma) {
        arm(c, REPORT_MS);
    }
    return 0;
}

static const VMStateDescription vmstate_balloon_cmm_state = {
    .name = "virtio-balloon-cmm-state",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = cmm_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(active, BalloonCmm),
        VMSTATE_UINT32(kind, BalloonCmm),
        VMSTATE_UINT64(target, BalloonCmm),
        VMSTATE_UINT64(rate, BalloonCmm),
        VMSTATE_UINT64(floor, BalloonCmm),
        VMSTATE_UINT32(status, BalloonCmm),
        VMSTATE_UINT64(reclaimed, BalloonCmm),
        VMSTATE_END_OF_LIST()
    }
};

/* Only when in use, so that the stream stays upstream's otherwise. */
static bool cmm_needed(void *opaque)
{
    VirtIOBalloon *s = opaque;

    return s->cmma || s->cmm->active;
}

const VMStateDescription vmstate_virtio_balloon_cmm = {
    .name = "virtio-balloon-device/cmm",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = cmm_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(cmm, VirtIOBalloon, vmstate_balloon_cmm_state,
                               BalloonCmm),
        VMSTATE_END_OF_LIST()
    }
};

/* Life cycle */

bool virtio_balloon_cmm_realize(VirtIOBalloon *s, Error **errp)
{
    BalloonCmm *c;

    if (s->target_stall_ms < TICK_MS * 2) {
        error_setg(errp, "target-stall-ms must be at least %d, not %" PRIu32,
                   TICK_MS * 2, s->target_stall_ms);
        return false;
    }
    if (s->cmma) {
#ifdef TARGET_S390X
        if (!s390_has_feat(S390_FEAT_CMM)) {
            error_setg(errp, "cmma=on needs the CPU feature 'cmm' (use "
                       "-cpu max, or the qemu CPU model of machine 10.0)");
            return false;
        }
        if (!s390_cmma_get()) {
            error_setg(errp, "cmma=on needs qemu-cmm's CMMA page-state "
                       "table, which only TCG provides");
            return false;
        }
#else
        error_setg(errp, "cmma=on is only available on s390x");
        return false;
#endif
    }
    c = g_new0(BalloonCmm, 1);
    c->dev = s;
    c->pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
    page_batch_init(&c->batch, VIRTQUEUE_MAX_SIZE, PAGE);
    c->timer = timer_new_ms(QEMU_CLOCK_REALTIME, tick, s);
    s->cmm = c;
    cmm_balloon = s;
    if (s->cmma) {
        arm(c, REPORT_MS);
    }
    return true;
}

void virtio_balloon_cmm_unrealize(VirtIOBalloon *s)
{
    BalloonCmm *c = s->cmm;

    if (!c) {
        return;
    }
    if (cmm_balloon == s) {
        cmm_balloon = NULL;
    }
    timer_free(c->timer);
    if (c->pagemap_fd >= 0) {
        close(c->pagemap_fd);
    }
    page_batch_destroy(&c->batch);
    g_free(c->vec);
    g_free(c);
    s->cmm = NULL;
}
