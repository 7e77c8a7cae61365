/*
 * z/Architecture lowcore offsets (prefix area, real address 0 with prefix 0)
 * used by the bare-metal test runtime, and the runtime's private slots in
 * the area 0x200-0x11ff that the architecture leaves to the program.
 * Usable from C and assembler.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef LOWCORE_H
#define LOWCORE_H

#define LC_EXT_PARAM        0x080   /* 4: external-interruption parameter */
#define LC_EXT_CODE         0x086   /* 2: external-interruption code */
#define LC_SVC_ILC          0x089   /* 1 */
#define LC_SVC_CODE         0x08a   /* 2 */
#define LC_PGM_ILC          0x08d   /* 1: ILC in bits 5-6 */
#define LC_PGM_CODE         0x08e   /* 2 */
#define LC_TRANS_EXC_ID     0x0a8   /* 8 */

#define LC_RESTART_OLD      0x120
#define LC_EXT_OLD          0x130
#define LC_SVC_OLD          0x140
#define LC_PGM_OLD          0x150
#define LC_MCCK_OLD         0x160
#define LC_IO_OLD           0x170
#define LC_RESTART_NEW      0x1a0
#define LC_EXT_NEW          0x1b0
#define LC_SVC_NEW          0x1c0
#define LC_PGM_NEW          0x1d0
#define LC_MCCK_NEW         0x1e0
#define LC_IO_NEW           0x1f0

/* runtime private */
#define LC_PGM_SAVE         0x200   /* 128: GRs 0-15 at a program interruption */
#define LC_PGM_NEST         0x280   /* 8: program-interruption nesting depth */
#define LC_NESTED_PSW       0x290   /* 16: disabled wait for a nested pgm int */
#define LC_BADSVC_PSW       0x2a0   /* 16: disabled wait for an unknown SVC */
#define LC_RT_STACK         0x300   /* 8: another CPU's initial stack pointer */
#define LC_RT_FN            0x308   /* 8: ... and the job it runs */

/* PSW masks */
#define RT_MASK_SUP         0x0000000180000000  /* 64-bit, all disabled */
#define RT_MASK_WAIT        0x0002000180000000  /* disabled wait */
#define RT_MASK_EXT_WAIT    0x0102000180000000  /* wait, external enabled */

/* Disabled-wait addresses of the runtime's failure stops (0xbadNNN). */
#define RT_STOP_FAIL        0xbad000    /* test failed (rt_exit/rt_bail) */
#define RT_STOP_RESTART     0xbad001
#define RT_STOP_EXT         0xbad002    /* unexpected external interruption */
#define RT_STOP_MCCK        0xbad003
#define RT_STOP_IO          0xbad004
#define RT_STOP_PGM_NESTED  0xbad005    /* program interruption in the handler */
#define RT_STOP_BAD_SVC     0xbad006
#define RT_STOP_CONSOLE     0xbad007    /* SCLP console unusable */
#define RT_STOP_RETURN      0xbad008    /* rt_start returned */

#define RT_STACK_SIZE       0x10000
#define RT_IRQ_STACK_SIZE   0x4000

#endif
