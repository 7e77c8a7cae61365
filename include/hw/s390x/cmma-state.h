/*
 * s390x CMMA page states: encoding and ESSA transitions
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_S390X_CMMA_STATE_H
#define HW_S390X_CMMA_STATE_H

/*
 * One byte per 4 KiB page.  The low bits are KVM's migration byte format
 * (usage state in bits 0-1, no-DAT in 0x40); the others are ours and never
 * leave the table.
 */
#define CMMA_USAGE_MASK     0x03
#define CMMA_USAGE_STABLE   0x00
#define CMMA_USAGE_UNUSED   0x01
#define CMMA_USAGE_POT_VOL  0x02
#define CMMA_USAGE_VOLATILE 0x03
#define CMMA_INFLIGHT       0x04    /* a discard of this page is under way */
#define CMMA_REPORTED       0x08    /* released by free-page reporting */
#define CMMA_NODAT          0x40
#define CMMA_DISCARDED      0x80    /* content is logically zero */
#define CMMA_MIGRATION_MASK (CMMA_USAGE_MASK | CMMA_NODAT)

/* ESSA works on 4 KiB blocks, whatever the host page size. */
#define CMMA_PAGE_SIZE      4096

/* ESSA operation request codes */
enum {
    ESSA_GET_STATE = 0,
    ESSA_SET_STABLE = 1,
    ESSA_SET_UNUSED = 2,
    ESSA_SET_VOLATILE = 3,
    ESSA_SET_POT_VOLATILE = 4,
    ESSA_SET_STABLE_RESIDENT = 5,
    ESSA_SET_STABLE_IF_RESIDENT = 6,
    ESSA_SET_STABLE_NODAT = 7,
    ESSA_ORC_COUNT = 8,
};

/* Fields of the value ESSA puts in R1 (the state before the request). */
#define ESSA_R1_NODAT       0x20
#define ESSA_R1_USAGE_SHIFT 2
#define ESSA_R1_CONTENT_ZERO 0x03   /* block-content state "logically zero" */

/*
 * The state a page gets from request @orc, following KVM: set-stable
 * requests clear "discarded" since the guest is about to use the page, only
 * SET_STABLE clears no-DAT, and a discarded page is not resident, so
 * SET_STABLE_IF_RESIDENT leaves it alone and SET_POT_VOLATILE makes it
 * volatile.  The in-flight mark stays until the release of the page is
 * over, whatever the guest requests meanwhile (see cmma_must_wait()).
 */
static inline uint8_t cmma_essa_next(uint8_t old, unsigned orc)
{
    uint8_t keep = old & ~CMMA_USAGE_MASK;
    uint8_t stable = keep & ~(CMMA_DISCARDED | CMMA_REPORTED);

    switch (orc) {
    case ESSA_SET_STABLE:
        return (stable & ~CMMA_NODAT) | CMMA_USAGE_STABLE;
    case ESSA_SET_UNUSED:
        return keep | CMMA_USAGE_UNUSED;
    case ESSA_SET_VOLATILE:
        return keep | CMMA_USAGE_VOLATILE;
    case ESSA_SET_POT_VOLATILE:
        return keep | (old & CMMA_DISCARDED ? CMMA_USAGE_VOLATILE
                                            : CMMA_USAGE_POT_VOL);
    case ESSA_SET_STABLE_RESIDENT:
        return stable | CMMA_USAGE_STABLE;
    case ESSA_SET_STABLE_IF_RESIDENT:
        return old & CMMA_DISCARDED ? old : stable | CMMA_USAGE_STABLE;
    case ESSA_SET_STABLE_NODAT:
        return stable | CMMA_NODAT | CMMA_USAGE_STABLE;
    default:
        return old;
    }
}

/*
 * A page whose release is under way may be written by the guest once it
 * leaves the unused state: the ESSA that takes it out must not return
 * before the release is over.
 */
static inline bool cmma_must_wait(uint8_t old, uint8_t new)
{
    return (new & CMMA_INFLIGHT) &&
           (new & CMMA_USAGE_MASK) != CMMA_USAGE_UNUSED;
}

/* The R1 value ESSA returns for a page in state @state. */
static inline uint64_t cmma_essa_r1(uint8_t state)
{
    return (state & CMMA_NODAT ? ESSA_R1_NODAT : 0) |
           (state & CMMA_USAGE_MASK) << ESSA_R1_USAGE_SHIFT |
           (state & CMMA_DISCARDED ? ESSA_R1_CONTENT_ZERO : 0);
}

/* Unused and still resident: what a discard would release. */
static inline bool cmma_is_pending(uint8_t state)
{
    return (state & CMMA_USAGE_MASK) == CMMA_USAGE_UNUSED &&
           !(state & CMMA_DISCARDED);
}

#endif
