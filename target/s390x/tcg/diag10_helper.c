/*
 * s390x TCG: DIAGNOSE 0x10, release pages (z/VM CMM-1)
 *
 * Linux's cmm driver (/proc/sys/vm/cmm_pages) allocates pages and gives
 * each back to the hypervisor with DIAG 0x10.  KVM implements it
 * (arch/s390/kvm/diag.c); upstream TCG answers with a specification
 * exception that the guest's fixup swallows, so the guest believes it gave
 * memory back and the host gets nothing.  This is KVM's behaviour under
 * TCG, enabled by the qemu-cmm machine type only.
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "cpu.h"
#include "s390x-internal.h"
#include "tcg_s390x.h"
#include "hw/s390x/s390-cmma.h"
#include "diag10.h"

#define PAGE 4096ULL

/*
 * Release real [start, end) of the issuing CPU.  Real addresses of the
 * prefix area map to absolute 0-8 KiB, and real 0-8 KiB to the prefix area
 * (the CPU's lowcore): as start is at least 8 KiB, the lowcore is never
 * released, and the real prefix pages release absolute 0-8 KiB, as on KVM.
 */
static void release_real(S390CmmaState *cmma, uint64_t prefix,
                         uint64_t start, uint64_t end)
{
    uint64_t lo, hi;

    /* below the prefix area */
    if (start < MIN(end, prefix)) {
        s390_cmma_release(cmma, start, MIN(end, prefix) - start);
    }
    /* the prefix area itself: absolute 0-8 KiB */
    lo = MAX(start, prefix);
    hi = MIN(end, prefix + 2 * PAGE);
    if (lo < hi) {
        s390_cmma_release(cmma, lo - prefix, hi - lo);
    }
    /* above it */
    lo = MAX(start, prefix + 2 * PAGE);
    if (lo < end) {
        s390_cmma_release(cmma, lo, end - lo);
    }
}

int s390_tcg_diag10(CPUS390XState *env, uint32_t r1, uint32_t r3,
                    uintptr_t ra)
{
    S390CmmaState *cmma = s390_cmma_get();
    uint64_t start = env->regs[r1];
    uint64_t end = env->regs[r3] + PAGE;     /* R3 names the last page */

    if (!s390_cmma_diag10_enabled(cmma)) {
        return -1;
    }
    /* KVM's checks: a last page at the top of storage wraps, and is refused */
    if ((start | end) & (PAGE - 1) || start >= end || start < 2 * PAGE) {
        qemu_log_mask(LOG_GUEST_ERROR, "DIAG 0x10: bad range 0x%" PRIx64
                      "-0x%" PRIx64 "\n", start, env->regs[r3]);
        tcg_s390_program_interrupt(env, PGM_SPECIFICATION, ra);
    }
    release_real(cmma, env->psa, start, end);
    return 0;
}
