/*
 * Entry code of the qemu-cmm bare-metal test runtime.
 *
 * QEMU starts the ELF entry point in 64-bit supervisor state with DAT and
 * all interruptions off (hw/s390x/ipl.c).  We clear .bss, set up a stack,
 * fill in the lowcore new PSWs and call rt_start() in C.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "lowcore.h"

    .section .text.start, "ax"
    .globl  _start
_start:
    /* clear .bss (it holds the stacks, which are not in use yet) */
    lghi    %r0, 0
    larl    %r2, __bss_start
    larl    %r3, __bss_end
0:  clgr    %r2, %r3
    jhe     1f
    stg     %r0, 0(%r2)
    aghi    %r2, 8
    j       0b
1:
    /* lowcore: new PSWs and the runtime's failure PSWs */
    larl    %r1, rt_lowcore_psws
    mvc     LC_RESTART_NEW(16), 0(%r1)
    mvc     LC_EXT_NEW(16), 16(%r1)
    mvc     LC_SVC_NEW(16), 32(%r1)
    mvc     LC_PGM_NEW(16), 48(%r1)
    mvc     LC_MCCK_NEW(16), 64(%r1)
    mvc     LC_IO_NEW(16), 80(%r1)
    mvc     LC_NESTED_PSW(16), 96(%r1)
    mvc     LC_BADSVC_PSW(16), 112(%r1)
    stg     %r0, LC_PGM_NEST

    /* stack with a zero back chain */
    larl    %r15, rt_stack + RT_STACK_SIZE - 160
    stg     %r0, 0(%r15)
    brasl   %r14, rt_start
    larl    %r1, .Lreturn_psw
    lpswe   0(%r1)

/*
 * Program-interruption entry.  Saves the GRs in lowcore, detects nesting
 * (a program interruption inside the handler stops at once with a
 * disabled wait, so a fault loop cannot hang the test), switches to a
 * private stack and calls rt_pgm_handler(), which returns only if the
 * interruption was expected.
 */
    .text
    .globl  rt_pgm_entry
rt_pgm_entry:
    stmg    %r0, %r15, LC_PGM_SAVE
    lg      %r1, LC_PGM_NEST
    aghi    %r1, 1
    stg     %r1, LC_PGM_NEST
    cghi    %r1, 1
    jne     .Lpgm_nested
    larl    %r15, rt_irq_stack + RT_IRQ_STACK_SIZE - 160
    lghi    %r0, 0
    stg     %r0, 0(%r15)
    brasl   %r14, rt_pgm_handler
    lghi    %r1, 0
    stg     %r1, LC_PGM_NEST
    lmg     %r0, %r15, LC_PGM_SAVE
    lpswe   LC_PGM_OLD
.Lpgm_nested:
    lpswe   LC_NESTED_PSW

/*
 * SVC entry.  SVC 1 returns to the caller in supervisor state (used to
 * leave problem state); anything else stops with a failure.
 */
    .globl  rt_svc_entry
rt_svc_entry:
    cli     LC_SVC_CODE, 0
    jne     .Lsvc_bad
    cli     LC_SVC_CODE + 1, 1
    jne     .Lsvc_bad
    ni      LC_SVC_OLD + 1, 0xfe        /* clear PSW bit 15 (problem state) */
    lpswe   LC_SVC_OLD
.Lsvc_bad:
    lpswe   LC_BADSVC_PSW

/*
 * unsigned rt_wait_ext(void): wait, enabled for service-signal external
 * interruptions only, for one external interruption and return its code.
 * Afterwards the CPU is disabled again and the external new PSW is the
 * failure stop again.
 */
    .globl  rt_wait_ext
rt_wait_ext:
    larl    %r1, .Lext_resume_psw
    mvc     LC_EXT_NEW(16), 0(%r1)
    larl    %r1, .Lcr0_save
    stctg   %c0, %c0, 0(%r1)
    lg      %r0, 0(%r1)
    oill    %r0, 0x0200                 /* CR0 bit 54: service signal */
    stg     %r0, 8(%r1)
    lctlg   %c0, %c0, 8(%r1)
    larl    %r1, .Lext_wait_psw
    lpswe   0(%r1)
.Lext_resume:
    larl    %r1, .Lcr0_save
    lctlg   %c0, %c0, 0(%r1)
    larl    %r1, rt_lowcore_psws
    mvc     LC_EXT_NEW(16), 16(%r1)
    llgh    %r2, LC_EXT_CODE
    br      %r14

    .section .rodata
    .balign 16
rt_lowcore_psws:
    .quad   RT_MASK_WAIT, RT_STOP_RESTART       /* restart new */
    .quad   RT_MASK_WAIT, RT_STOP_EXT           /* external new */
    .quad   RT_MASK_SUP, rt_svc_entry           /* SVC new */
    .quad   RT_MASK_SUP, rt_pgm_entry           /* program new */
    .quad   RT_MASK_WAIT, RT_STOP_MCCK          /* machine-check new */
    .quad   RT_MASK_WAIT, RT_STOP_IO            /* I/O new */
    .quad   RT_MASK_WAIT, RT_STOP_PGM_NESTED
    .quad   RT_MASK_WAIT, RT_STOP_BAD_SVC
.Lreturn_psw:
    .quad   RT_MASK_WAIT, RT_STOP_RETURN
.Lext_resume_psw:
    .quad   RT_MASK_SUP, .Lext_resume
.Lext_wait_psw:
    .quad   RT_MASK_EXT_WAIT, 0

    .data
    .balign 8
.Lcr0_save:
    .quad   0, 0

    .section .bss
    .balign 4096
    .globl  rt_stack, rt_irq_stack
rt_stack:
    .skip   RT_STACK_SIZE
rt_irq_stack:
    .skip   RT_IRQ_STACK_SIZE
