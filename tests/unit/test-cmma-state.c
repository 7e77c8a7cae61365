/*
 * Unit tests for the CMMA page-state transitions of ESSA
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/s390x/cmma-state.h"

#define U(x) CMMA_USAGE_##x

/* Resident pages: the usage state each request code gives (KVM's table). */
static void test_resident_transitions(void)
{
    static const struct {
        unsigned orc;
        uint8_t usage;
    } t[] = {
        { ESSA_SET_STABLE, U(STABLE) },
        { ESSA_SET_UNUSED, U(UNUSED) },
        { ESSA_SET_VOLATILE, U(VOLATILE) },
        { ESSA_SET_POT_VOLATILE, U(POT_VOL) },
        { ESSA_SET_STABLE_RESIDENT, U(STABLE) },
        { ESSA_SET_STABLE_IF_RESIDENT, U(STABLE) },
        { ESSA_SET_STABLE_NODAT, U(STABLE) },
    };
    unsigned i, from;

    for (from = 0; from < 4; from++) {
        for (i = 0; i < ARRAY_SIZE(t); i++) {
            uint8_t next = cmma_essa_next(from, t[i].orc);

            g_assert_cmpuint(next & CMMA_USAGE_MASK, ==, t[i].usage);
            g_assert_false(next & CMMA_DISCARDED);
        }
        /* extract changes nothing */
        g_assert_cmpuint(cmma_essa_next(from, ESSA_GET_STATE), ==, from);
        g_assert_cmpuint(cmma_essa_next(from | CMMA_NODAT | CMMA_DISCARDED,
                                        ESSA_GET_STATE), ==,
                         from | CMMA_NODAT | CMMA_DISCARDED);
    }
}

/* Only SET_STABLE clears no-DAT; 7 sets it; 2-6 keep it. */
static void test_nodat(void)
{
    unsigned orc;

    g_assert_true(cmma_essa_next(0, ESSA_SET_STABLE_NODAT) & CMMA_NODAT);
    g_assert_false(cmma_essa_next(CMMA_NODAT, ESSA_SET_STABLE) & CMMA_NODAT);
    for (orc = ESSA_SET_UNUSED; orc <= ESSA_SET_STABLE_IF_RESIDENT; orc++) {
        g_assert_true(cmma_essa_next(CMMA_NODAT, orc) & CMMA_NODAT);
        g_assert_false(cmma_essa_next(0, orc) & CMMA_NODAT);
    }
}

/* A discarded (logically zero) page is not resident. */
static void test_discarded(void)
{
    uint8_t gone = U(UNUSED) | CMMA_DISCARDED;

    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_STABLE_IF_RESIDENT), ==,
                     gone);
    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_POT_VOLATILE), ==,
                     U(VOLATILE) | CMMA_DISCARDED);
    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_VOLATILE), ==,
                     U(VOLATILE) | CMMA_DISCARDED);
    /* set-stable brings it back; content is the guest's again */
    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_STABLE), ==, U(STABLE));
    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_STABLE_RESIDENT), ==,
                     U(STABLE));
    g_assert_cmpuint(cmma_essa_next(gone, ESSA_SET_STABLE_NODAT), ==,
                     U(STABLE) | CMMA_NODAT);
    g_assert_false(cmma_is_pending(gone));
    g_assert_true(cmma_is_pending(U(UNUSED)));
    g_assert_true(cmma_is_pending(U(UNUSED) | CMMA_NODAT));
    g_assert_false(cmma_is_pending(U(VOLATILE)));
}

/* Released by free-page reporting: gone like a discard until reused. */
static void test_reported(void)
{
    uint8_t rep = U(UNUSED) | CMMA_DISCARDED | CMMA_REPORTED;

    g_assert_false(cmma_is_pending(rep));
    g_assert_cmpuint(cmma_essa_next(rep, ESSA_SET_UNUSED), ==, rep);
    g_assert_cmpuint(cmma_essa_next(rep, ESSA_SET_STABLE_IF_RESIDENT), ==,
                     rep);
    g_assert_cmpuint(cmma_essa_next(rep, ESSA_SET_STABLE), ==, U(STABLE));
    g_assert_cmpuint(cmma_essa_next(rep, ESSA_SET_STABLE_RESIDENT), ==,
                     U(STABLE));
    g_assert_cmpuint(cmma_essa_next(rep, ESSA_SET_STABLE_NODAT), ==,
                     U(STABLE) | CMMA_NODAT);
    /* never leaves the table */
    g_assert_cmpuint(rep & CMMA_MIGRATION_MASK, ==, U(UNUSED));
}

/*
 * A discard under way keeps its mark whatever the guest requests, and any
 * request that takes the page out of the unused state must wait for it.
 */
static void test_inflight(void)
{
    uint8_t busy = U(UNUSED) | CMMA_INFLIGHT;
    unsigned orc;

    for (orc = 0; orc < ESSA_ORC_COUNT; orc++) {
        uint8_t next = cmma_essa_next(busy, orc);

        g_assert_true(next & CMMA_INFLIGHT);
        g_assert_cmpint(cmma_must_wait(busy, next), ==,
                        (next & CMMA_USAGE_MASK) != CMMA_USAGE_UNUSED);
    }
    g_assert_true(cmma_must_wait(busy, cmma_essa_next(busy, ESSA_SET_STABLE)));
    /* stable again, then unused, then stable: still waits (the race) */
    g_assert_true(cmma_must_wait(
        cmma_essa_next(cmma_essa_next(busy, ESSA_SET_STABLE), ESSA_SET_UNUSED),
        cmma_essa_next(cmma_essa_next(cmma_essa_next(busy, ESSA_SET_STABLE),
                                      ESSA_SET_UNUSED), ESSA_SET_STABLE)));
    g_assert_false(cmma_must_wait(U(UNUSED), U(STABLE)));
    g_assert_false(cmma_must_wait(busy, busy));
}

/* R1: bits 58 no-DAT, 60-61 usage, 62-63 content; nothing else. */
static void test_r1_layout(void)
{
    unsigned s;

    g_assert_cmpuint(cmma_essa_r1(0), ==, 0);
    g_assert_cmpuint(cmma_essa_r1(U(UNUSED)), ==, 0x04);
    g_assert_cmpuint(cmma_essa_r1(U(POT_VOL)), ==, 0x08);
    g_assert_cmpuint(cmma_essa_r1(U(VOLATILE)), ==, 0x0c);
    g_assert_cmpuint(cmma_essa_r1(CMMA_NODAT), ==, 0x20);
    g_assert_cmpuint(cmma_essa_r1(U(UNUSED) | CMMA_DISCARDED), ==, 0x07);
    for (s = 0; s < 256; s++) {
        uint64_t r1 = cmma_essa_r1(s);

        g_assert_cmpuint(r1 & ~0x2fULL, ==, 0);     /* no exception bit */
        g_assert_cmpuint(r1 & 3, !=, 1);            /* content never 1 */
        g_assert_cmpuint(r1 & 3, !=, 2);            /* nothing is paged */
    }
}

/* The migration byte keeps exactly usage and no-DAT. */
static void test_migration_mask(void)
{
    g_assert_cmpuint((U(VOLATILE) | CMMA_NODAT | CMMA_DISCARDED |
                      CMMA_INFLIGHT) & CMMA_MIGRATION_MASK, ==, 0x43);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmma-state/resident", test_resident_transitions);
    g_test_add_func("/cmma-state/nodat", test_nodat);
    g_test_add_func("/cmma-state/discarded", test_discarded);
    g_test_add_func("/cmma-state/reported", test_reported);
    g_test_add_func("/cmma-state/inflight", test_inflight);
    g_test_add_func("/cmma-state/r1-layout", test_r1_layout);
    g_test_add_func("/cmma-state/migration-mask", test_migration_mask);
    return g_test_run();
}
