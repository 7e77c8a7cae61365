/*
 * Minimal channel-subsystem helpers for the bare-metal tests.
 *
 * Everything is synchronous: START SUBCHANNEL, then TEST SUBCHANNEL in a
 * loop with I/O interruptions disabled (the I/O new PSW of the runtime is
 * a failure stop), until the final status arrives or a timeout expires.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "rt.h"
#include "css.h"

/* Stop scanning after this many non-operational subchannels in a row:
 * QEMU hands out subchannel numbers densely from 0. */
#define SCAN_GAP        64

int css_stsch(uint32_t schid, struct schib *schib)
{
    register uint64_t r1 asm("1") = schid;
    int cc;

    asm volatile("  stsch %[s]\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "=d"(cc), [s] "=Q"(*schib)
                 : "d"(r1)
                 : "cc", "memory");
    return cc;
}

int css_msch(uint32_t schid, struct schib *schib)
{
    register uint64_t r1 asm("1") = schid;
    int cc;

    asm volatile("  msch  %[s]\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "=d"(cc)
                 : "d"(r1), [s] "Q"(*schib)
                 : "cc", "memory");
    return cc;
}

int css_ssch(uint32_t schid, struct orb *orb)
{
    register uint64_t r1 asm("1") = schid;
    int cc;

    asm volatile("  ssch  %[o]\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "=d"(cc)
                 : "d"(r1), [o] "Q"(*orb)
                 : "cc", "memory");
    return cc;
}

int css_tsch(uint32_t schid, struct irb *irb)
{
    register uint64_t r1 asm("1") = schid;
    int cc;

    asm volatile("  tsch  %[i]\n"
                 "  ipm   %[cc]\n"
                 "  srl   %[cc],28\n"
                 : [cc] "=d"(cc), [i] "=Q"(*irb)
                 : "d"(r1)
                 : "cc", "memory");
    return cc;
}

const char *css_strerror(int rc)
{
    switch (rc) {
    case 0:                  return "ok";
    case CSS_ERR_CC:         return "bad condition code";
    case CSS_ERR_TIMEOUT:    return "timeout";
    case CSS_ERR_UNIT_CHECK: return "unit check";
    case CSS_ERR_CHANNEL:    return "channel check";
    case CSS_ERR_STATUS:     return "unexpected status";
    default:                 return "?";
    }
}

int css_run(uint32_t schid, struct ccw1 *ccws, struct irb *irb,
            uint64_t timeout_us)
{
    static struct orb orb;
    static struct irb tmp;
    uint64_t start;
    int cc, tries;

    if (!irb) {
        irb = &tmp;
    }
    memset(&orb, 0, sizeof(orb));
    orb.intparm = schid;
    orb.ctrl0 = ORB_CTRL0_FMT1 | ORB_CTRL0_PFCH;
    orb.lpm = 0xff;
    orb.cpa = (uint32_t)(uintptr_t)ccws;

    for (tries = 0; tries < 4; tries++) {
        cc = css_ssch(schid, &orb);
        if (cc != 1) {
            break;
        }
        /* status pending from an earlier operation: clear it, retry */
        css_tsch(schid, irb);
    }
    if (cc) {
        diag("css: SSCH on 0x%x: CC %d", schid, cc);
        return CSS_ERR_CC;
    }

    start = rt_now_us();
    for (;;) {
        cc = css_tsch(schid, irb);
        if (cc == 3) {
            diag("css: TSCH on 0x%x: not operational", schid);
            return CSS_ERR_CC;
        }
        /* only final status ends the operation, not intermediate */
        if (cc == 0 && (irb->scsw.ctrl & (SCSW_STCTL_PRIMARY |
                                           SCSW_STCTL_ALERT))) {
            break;
        }
        if (rt_now_us() - start > timeout_us) {
            diag("css: no status from 0x%x within %lu us", schid,
                 timeout_us);
            return CSS_ERR_TIMEOUT;
        }
    }

    if (irb->scsw.dstat & DSTAT_UNIT_CHECK) {
        return CSS_ERR_UNIT_CHECK;
    }
    if (irb->scsw.cstat & ~CSTAT_INCORR_LEN) {
        return CSS_ERR_CHANNEL;
    }
    if ((irb->scsw.dstat & (DSTAT_CHANNEL_END | DSTAT_DEVICE_END)) !=
        (DSTAT_CHANNEL_END | DSTAT_DEVICE_END)) {
        return CSS_ERR_STATUS;
    }
    return 0;
}

int css_enable(uint32_t schid, unsigned isc)
{
    static struct schib schib;
    int cc, tries;

    for (tries = 0; tries < 8; tries++) {
        if (css_stsch(schid, &schib)) {
            return CSS_ERR_CC;
        }
        if ((schib.pmcw.flags & PMCW_ENABLED) &&
            ((schib.pmcw.flags & PMCW_ISC_MASK) >> PMCW_ISC_SHIFT) == isc) {
            return 0;
        }
        schib.pmcw.flags &= ~PMCW_ISC_MASK;
        schib.pmcw.flags |= PMCW_ENABLED | ((isc << PMCW_ISC_SHIFT) &
                                            PMCW_ISC_MASK);
        schib.pmcw.intparm = schid;
        cc = css_msch(schid, &schib);
        if (cc == 1) {
            /* status pending: clear it and try again */
            static struct irb irb;

            css_tsch(schid, &irb);
        } else if (cc) {
            return CSS_ERR_CC;
        }
    }
    return CSS_ERR_STATUS;
}

static void css_disable(uint32_t schid)
{
    static struct schib schib;

    if (css_stsch(schid, &schib) == 0 && (schib.pmcw.flags & PMCW_ENABLED)) {
        schib.pmcw.flags &= ~PMCW_ENABLED;
        css_msch(schid, &schib);
    }
}

int css_sense_id(uint32_t schid, struct senseid *id)
{
    static struct ccw1 ccw;

    memset(id, 0, sizeof(*id));
    ccw.cmd = CCW_CMD_SENSE_ID;
    /* the device stores as much as it has: accept a short transfer */
    ccw.flags = CCW_FLAG_SLI;
    ccw.count = sizeof(*id);
    ccw.cda = (uint32_t)(uintptr_t)id;
    return css_run(schid, &ccw, NULL, 1000000);
}

int css_devno(uint32_t schid)
{
    static struct schib schib;

    if (css_stsch(schid, &schib)) {
        return -1;
    }
    return (schib.pmcw.flags & PMCW_DNV) ? schib.pmcw.devno : -1;
}

uint32_t css_find(uint16_t cu_type, uint8_t cu_model, int devno, unsigned n)
{
    static struct schib schib;
    static struct senseid id;
    unsigned schno, gap = 0;

    for (schno = 0; schno <= 0xffff && gap < SCAN_GAP; schno++) {
        uint32_t schid = CSS_SCHID(schno);
        bool was_enabled;

        if (css_stsch(schid, &schib)) {
            gap++;
            continue;
        }
        gap = 0;
        if (!(schib.pmcw.flags & PMCW_DNV)) {
            continue;
        }
        if (devno >= 0 && schib.pmcw.devno != devno) {
            continue;
        }
        was_enabled = schib.pmcw.flags & PMCW_ENABLED;
        if (css_enable(schid, 3)) {
            continue;
        }
        if (css_sense_id(schid, &id) == 0 && id.reserved == 0xff &&
            id.cu_type == cu_type && id.cu_model == cu_model) {
            if (n-- == 0) {
                return schid;
            }
        }
        if (!was_enabled) {
            css_disable(schid);
        }
    }
    return 0;
}
