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
#include "hw/s390x/diag10-range.h"
#include "diag10.h"

int s390_tcg_diag10(CPUS390XState *env, uint32_t r1, uint32_t r3,
                    uintptr_t ra)
{
    S390CmmaState *cmma = s390_cmma_get();
    Diag10Range r[3];
    int i, n;

    if (!s390_cmma_diag10_enabled(cmma)) {
        return -1;
    }
    n = diag10_ranges(env->regs[r1], env->regs[r3], env->psa, r);
    if (n < 0) {
        qemu_log_mask(LOG_GUEST_ERROR, "DIAG 0x10: bad range 0x%" PRIx64
                      "-0x%" PRIx64 "\n", env->regs[r1], env->regs[r3]);
        tcg_s390_program_interrupt(env, PGM_SPECIFICATION, ra);
    }
    for (i = 0; i < n; i++) {
        s390_cmma_release(cmma, r[i].start, r[i].length);
    }
    return 0;
}
