/*
 * s390x TCG: DIAGNOSE 0x10, release pages
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TARGET_S390X_TCG_DIAG10_H
#define TARGET_S390X_TCG_DIAG10_H

/*
 * s390_tcg_diag10: DIAG 0x10 with registers @r1 (first page) and @r3 (last
 * page), called by the DIAG helper of the issuing vCPU, without the BQL.
 * Raises the architected specification exception (through @ra) for a bad
 * range.
 * Returns: 0 if handled, -1 if the machine type leaves DIAG 0x10 to
 * upstream's handling (a specification exception).
 */
int s390_tcg_diag10(CPUS390XState *env, uint32_t r1, uint32_t r3,
                    uintptr_t ra);

#endif
