/*
 * s390x TCG: EXTRACT AND SET STORAGE ATTRIBUTES (ESSA)
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
#include "exec/helper-proto.h"
#include "exec/exec-all.h"
#include "hw/s390x/s390-cmma.h"

/*
 * ESSA R1,R2,M3: the exceptions come in KVM's order, which is what guests
 * are tested against: operation (no CMM facility) before privileged
 * operation before specification before addressing.  R2 holds a guest
 * absolute address; its low 12 bits are ignored.  The condition code is
 * left alone.
 */
uint64_t HELPER(essa)(CPUS390XState *env, uint64_t r2, uint32_t orc)
{
    uintptr_t ra = GETPC();
    S390CmmaState *cmma = s390_cmma_get();
    uint64_t gfn = r2 / CMMA_PAGE_SIZE;

    if (!s390_has_feat(S390_FEAT_CMM) || !cmma) {
        tcg_s390_program_interrupt(env, PGM_OPERATION, ra);
    }
    if (env->psw.mask & PSW_MASK_PSTATE) {
        tcg_s390_program_interrupt(env, PGM_PRIVILEGED, ra);
    }
    if (orc > ESSA_SET_STABLE_NODAT ||
        (orc == ESSA_SET_STABLE_NODAT && !s390_has_feat(S390_FEAT_CMM_NT))) {
        qemu_log_mask(LOG_GUEST_ERROR, "ESSA: invalid request code %u\n", orc);
        tcg_s390_program_interrupt(env, PGM_SPECIFICATION, ra);
    }
    if (!s390_cmma_gfn_valid(cmma, gfn) ||
        !mmu_absolute_addr_valid(gfn * CMMA_PAGE_SIZE, false)) {
        qemu_log_mask(LOG_GUEST_ERROR, "ESSA: block 0x%" PRIx64
                      " is outside guest memory\n", gfn * CMMA_PAGE_SIZE);
        tcg_s390_program_interrupt(env, PGM_ADDRESSING, ra);
    }
    return s390_cmma_essa(cmma, env_cpu(env)->cpu_index, gfn, orc);
}
