/*
 * s390x CMMA page-state table for TCG
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_S390X_S390_CMMA_H
#define HW_S390X_S390_CMMA_H

#include "hw/s390x/cmma-adaptive.h"
#include "hw/s390x/cmma-state.h"
#include "hw/s390x/storage-attributes.h"
#include "qapi/qapi-types-cmma-target.h"
#include "qemu/page-batch.h"
#include "qemu/thread.h"
#include "qom/object.h"

/*
 * Concurrency contract
 *
 * Who calls what:
 * - vCPU threads, without the BQL: s390_cmma_essa() (ESSA) and
 *   s390_cmma_release() (DIAG 0x10), for any page, concurrently.
 * - The main loop, with the BQL: the flush timer, s390_cmma_flush(),
 *   s390_cmma_reclaim(), s390_cmma_note_reported() (the balloon),
 *   s390_cmma_reset_states() (machine reset), QMP/HMP, realize.
 * - The migration thread: the storage-attribute hooks (get/peek/set
 *   stattr, migration mode, dirty count), with or without the BQL as
 *   upstream's s390-stattrib.c calls them.
 *
 * Page states change only by compare-and-swap (qatomic_cmpxchg), so vCPUs,
 * releases and migration never lose each other's updates; the census
 * counters are atomic.  A page is marked CMMA_INFLIGHT, under
 * discard_lock, before it is released, and an ESSA that takes a marked
 * page out of the unused state takes discard_lock once before it returns:
 * no guest write lands in a page being released.
 *
 * Blocks (adaptive policy and table scans): whoever makes a page pending
 * counts it in its block, stamps the block's time and then sets the
 * block's bit in pending_blocks; a scan clears a bit before it reads the
 * block's count and sets it again if the count is not zero, so a block
 * with pending pages always has its bit.  The adaptive state belongs to
 * the flush timer and the monitor (BQL).
 *
 * Lock order: a vCPU queue's lock before discard_lock (a full queue is
 * released while its lock is held); nothing takes a queue lock while
 * holding discard_lock.
 *
 * s390_cmma_reset_states() may use plain stores (memset and the census):
 * it runs at machine reset, with every vCPU stopped, under the BQL (so no
 * timer, reclaim or report runs) and under discard_lock (so no release is
 * in flight); the migration thread reads single bytes, and the old and the
 * new value of each are both valid states; every page is marked dirty
 * afterwards, so a migration sends the reset states.
 */

#define TYPE_S390_CMMA "s390-storage_attributes-tcg"
OBJECT_DECLARE_SIMPLE_TYPE(S390CmmaState, S390_CMMA)

/* How many pages a vCPU queues before it releases them (like the CBRL). */
#define CMMA_QUEUE_PAGES 512

typedef struct CmmaQueue {
    QemuMutex lock;
    PageBatch batch;
} CmmaQueue;

typedef struct CmmaCensus {
    uint64_t pages;                 /* pages in the table */
    uint64_t usage[4];              /* pages per usage state */
    uint64_t nodat;
    uint64_t discarded;             /* pages released to the host */
    uint64_t reported;              /* ... of which by free-page reporting */
    uint64_t pending;               /* unused pages still resident */
    uint64_t essa[ESSA_ORC_COUNT];  /* ESSA executions per request code */
    uint64_t discarded_bytes_total; /* released since start, cumulative */
    uint64_t diag10;                /* DIAG 0x10 executions */
    uint64_t diag10_bytes_total;    /* ... and the bytes they released */
    uint64_t reused;                /* unused pages set stable again */
    uint64_t refaulted;             /* ... of which released ones */
} CmmaCensus;

/*
 * A block of CMMA_ADAPT_BLOCK_PAGES pages: its pending (unused, resident)
 * pages, counted with the census, and when one last became pending.
 */
typedef struct CmmaBlock {
    uint32_t pending;
    int64_t last_unused_ms;         /* QEMU_CLOCK_REALTIME */
} CmmaBlock;

struct S390CmmaState {
    S390StAttribState parent_obj;

    /* properties */
    CmmaDiscardPolicy discard;
    uint32_t discard_delay_ms;
    uint32_t discard_hold_max_ms;   /* adaptive: the longest a page waits */
    bool diag10;                    /* DIAG 0x10 releases pages (cmm machine) */

    uint8_t *state;                 /* one byte per page */
    uint64_t npages;
    CmmaCensus census;              /* updated with qatomic_* */
    CmmaBlock *blocks;              /* updated with qatomic_* */
    uint64_t nblocks;
    unsigned long *pending_blocks;  /* blocks that may have pending pages */
    unsigned long *changed_blocks;  /* blocks with a state change, for
                                       s390_cmma_take_changed() */
    CmmaAdaptive adaptive;          /* the flush timer's, under the BQL */

    bool migration_mode;
    unsigned long *dirty;           /* pages whose state changed since sent */
    int64_t dirty_count;

    CmmaQueue *queues;              /* one per possible vCPU */
    unsigned nqueues;
    QemuMutex discard_lock;         /* held while a range is released */
    QEMUTimer *flush_timer;
};

/* The machine's page-state table, or NULL when another backend (KVM) runs. */
S390CmmaState *s390_cmma_get(void);

/*
 * s390_cmma_essa: perform an ESSA request on one page
 * @s: the table
 * @cpu_index: the vCPU issuing it, for its discard queue
 * @gfn: the page frame number, already checked by s390_cmma_gfn_valid()
 * @orc: the operation request code, already checked (0-7)
 *
 * Returns: the page's state before the request, in ESSA's R1 layout.
 */
uint64_t s390_cmma_essa(S390CmmaState *s, unsigned cpu_index, uint64_t gfn,
                        unsigned orc);

static inline bool s390_cmma_gfn_valid(S390CmmaState *s, uint64_t gfn)
{
    return gfn < s->npages;
}

/* Set every page stable and clear no-DAT; drops queued discards. */
void s390_cmma_reset_states(S390CmmaState *s);

/*
 * s390_cmma_flush: release every unused page that is still resident now
 * Returns: the number of bytes released.
 */
uint64_t s390_cmma_flush(S390CmmaState *s);

/*
 * s390_cmma_reclaim: like s390_cmma_flush(), but stop after about @max bytes
 * @resident: if not NULL, one byte per page, non-zero for pages resident on
 * the host; only those count towards @max and the result (releasing the
 * others costs the host nothing).
 * Returns: the number of bytes released.
 */
uint64_t s390_cmma_reclaim(S390CmmaState *s, uint64_t max,
                           const uint8_t *resident);

/*
 * s390_cmma_note_reported: free-page reporting released [@start, @start +
 * @length) of guest RAM; its unused pages are now logically zero.
 * Returns: the number of pages newly accounted as released.
 */
uint64_t s390_cmma_note_reported(S390CmmaState *s, uint64_t start,
                                 uint64_t length);

/*
 * s390_cmma_diag10_enabled: does DIAG 0x10 release pages on this machine?
 * Upstream's machine types answer it with a specification exception; the
 * qemu-cmm machine type turns it on (the table's "diag10" property).
 */
static inline bool s390_cmma_diag10_enabled(S390CmmaState *s)
{
    return s && s->diag10;
}

/*
 * s390_cmma_release: DIAG 0x10 gives absolute [@start, @start + @length)
 * back to the host.  Called by a vCPU without the BQL.  Released under the
 * same gate as unused pages (nothing while migrating, nor with discards
 * disabled, shared or huge-page memory); what was released reads as zeros.
 * The part beyond guest RAM is ignored, as KVM does.
 * Returns: the number of bytes released.
 */
uint64_t s390_cmma_release(S390CmmaState *s, uint64_t start, uint64_t length);

/*
 * s390_cmma_pending_resident: unused pages that are still resident
 * @resident: one byte per page, non-zero if resident on the host; the
 * pending count alone is used when it is NULL or @npages is not the
 * table's size (the pending count can include pages the host never had).
 * Returns: the number of pages.
 */
uint64_t s390_cmma_pending_resident(S390CmmaState *s, const uint8_t *resident,
                                    uint64_t npages);

/* Make the table the virtio-balloon's page-state provider. */
void s390_cmma_balloon_register(S390CmmaState *s);

/* A consistent-enough snapshot of the counters. */
void s390_cmma_census(S390CmmaState *s, CmmaCensus *out);

/*
 * s390_cmma_take_changed: OR into @out (@nbits long) the blocks of
 * CMMA_ADAPT_BLOCK_PAGES pages where a page changed state since the last
 * call, and clear them.  @out NULL: only the answer.
 * Returns: the block size in bytes, or 0 while the guest has never
 * executed ESSA (a guest that does not use CMMA changes memory unseen).
 */
uint64_t s390_cmma_take_changed(S390CmmaState *s, unsigned long *out,
                                uint64_t nbits);

/* The adaptive policy's state; call with the BQL. */
void s390_cmma_adaptive_state(S390CmmaState *s, CmmaAdaptive *out);

void hmp_info_cmma_stats(Monitor *mon, const QDict *qdict);
void hmp_cmma_flush(Monitor *mon, const QDict *qdict);

#endif
