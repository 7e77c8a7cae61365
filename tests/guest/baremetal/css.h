/*
 * Minimal channel-subsystem helpers for the bare-metal tests: find a
 * subchannel by SENSE ID, enable it, and run a channel program
 * synchronously (TEST SUBCHANNEL polled with I/O interruptions off).
 *
 * Layouts follow the z/Architecture Principles of Operation, chapters
 * 15-16 (SCHIB, ORB, format-1 CCW, IRB).  Only subchannel set 0 is used.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef CSS_H
#define CSS_H

#include <stdbool.h>
#include <stdint.h>

/* path-management control word (28 bytes) */
struct pmcw {
    uint32_t intparm;
    uint16_t flags;
    uint16_t devno;
    uint8_t lpm;
    uint8_t pnom;
    uint8_t lpum;
    uint8_t pim;
    uint16_t mbi;
    uint8_t pom;
    uint8_t pam;
    uint8_t chpid[8];
    uint32_t chars;
} __attribute__((packed));

#define PMCW_ISC_MASK       0x3800
#define PMCW_ISC_SHIFT      11
#define PMCW_ENABLED        0x0080
#define PMCW_DNV            0x0001      /* device number valid */

/* subchannel-status word, command mode (12 bytes) */
struct scsw {
    uint16_t flags;
    uint16_t ctrl;
    uint32_t cpa;
    uint8_t dstat;
    uint8_t cstat;
    uint16_t count;
} __attribute__((packed));

#define SCSW_FCTL_START     0x4000
#define SCSW_STCTL_ALERT    0x0010
#define SCSW_STCTL_PRIMARY  0x0004
#define SCSW_STCTL_PENDING  0x0001

#define DSTAT_ATTENTION     0x80
#define DSTAT_STATUS_MOD    0x40
#define DSTAT_CU_END        0x20
#define DSTAT_BUSY          0x10
#define DSTAT_CHANNEL_END   0x08
#define DSTAT_DEVICE_END    0x04
#define DSTAT_UNIT_CHECK    0x02
#define DSTAT_UNIT_EXCEPT   0x01

#define CSTAT_INCORR_LEN    0x40
#define CSTAT_PROG_CHECK    0x20
#define CSTAT_PROT_CHECK    0x10

struct schib {
    struct pmcw pmcw;
    struct scsw scsw;
    uint8_t mda[12];
} __attribute__((packed, aligned(4)));

/* operation-request block (32 bytes) */
struct orb {
    uint32_t intparm;
    uint16_t ctrl0;
    uint8_t lpm;
    uint8_t ctrl1;
    uint32_t cpa;
    uint32_t reserved[5];
} __attribute__((packed, aligned(4)));

#define ORB_CTRL0_FMT1      0x0080      /* format-1 CCWs */
#define ORB_CTRL0_PFCH      0x0040      /* prefetch allowed */

/* format-1 CCW */
struct ccw1 {
    uint8_t cmd;
    uint8_t flags;
    uint16_t count;
    uint32_t cda;
} __attribute__((packed, aligned(8)));

#define CCW_FLAG_CD         0x80
#define CCW_FLAG_CC         0x40
#define CCW_FLAG_SLI        0x20

#define CCW_CMD_SENSE_ID    0xe4

/* interruption-response block (96 bytes) */
struct irb {
    struct scsw scsw;
    uint32_t esw[5];
    uint32_t ecw[8];
    uint32_t emw[8];
} __attribute__((packed, aligned(4)));

/* SENSE ID data (first 8 bytes; CIWs follow) */
struct senseid {
    uint8_t reserved;           /* 0xff when valid */
    uint16_t cu_type;
    uint8_t cu_model;
    uint16_t dev_type;
    uint8_t dev_model;
    uint8_t unused;
    uint32_t ciw[62];
} __attribute__((packed, aligned(8)));

/* Subchannel identification word for subchannel set 0. */
#define CSS_SCHID(schno)    (0x00010000u | (uint16_t)(schno))

/* Result codes of css_run() (negative). */
#define CSS_ERR_CC          (-1)    /* SSCH/TSCH/STSCH gave a bad CC */
#define CSS_ERR_TIMEOUT     (-2)    /* no status within the timeout */
#define CSS_ERR_UNIT_CHECK  (-3)    /* e.g. command reject */
#define CSS_ERR_CHANNEL     (-4)    /* program/protection/... check */
#define CSS_ERR_STATUS      (-5)    /* unexpected device status */

int css_stsch(uint32_t schid, struct schib *schib);
int css_msch(uint32_t schid, struct schib *schib);
int css_ssch(uint32_t schid, struct orb *orb);
int css_tsch(uint32_t schid, struct irb *irb);

/*
 * Run the channel program at ccws (format 1, below 2 GiB) and wait up to
 * timeout_us for its final status.  Returns 0 on channel end + device end
 * without errors, else a CSS_ERR_* code.  The IRB is kept in *irb if irb
 * is not NULL (for sense details or the residual count).
 */
int css_run(uint32_t schid, struct ccw1 *ccws, struct irb *irb,
            uint64_t timeout_us);

/* Enable the subchannel for I/O (interruption subclass isc). */
int css_enable(uint32_t schid, unsigned isc);

/* Issue SENSE ID on an enabled subchannel. */
int css_sense_id(uint32_t schid, struct senseid *id);

/*
 * Find the n-th (from 0) subchannel whose device has control-unit type
 * cu_type and model cu_model and, unless devno is negative, that device
 * number.  The subchannel is enabled on the way.  Returns the subchannel
 * id, or 0 if there is none.
 */
uint32_t css_find(uint16_t cu_type, uint8_t cu_model, int devno, unsigned n);

/* Device number of a subchannel (from STSCH), -1 if not operational. */
int css_devno(uint32_t schid);

/* Human-readable name of a css_run() result. */
const char *css_strerror(int rc);

#endif /* CSS_H */
