/*
 * s390x CMMA page-state table: QMP and HMP commands
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-cmma-target.h"
#include "qobject/qdict.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "hw/s390x/s390-cmma.h"

static S390CmmaState *cmma_or_error(Error **errp)
{
    S390CmmaState *s = s390_cmma_get();

    if (!s) {
        error_setg(errp, "CMMA page states are not kept by QEMU here "
                   "(KVM keeps them)");
    }
    return s;
}

CmmaInfo *qmp_query_cmma(Error **errp)
{
    S390CmmaState *s = cmma_or_error(errp);
    CmmaInfo *info;
    CmmaCensus c;
    int i;

    if (!s) {
        return NULL;
    }
    s390_cmma_census(s, &c);
    info = g_new0(CmmaInfo, 1);
    info->total = c.pages * CMMA_PAGE_SIZE;
    info->stable = c.usage[CMMA_USAGE_STABLE] * CMMA_PAGE_SIZE;
    info->unused = c.usage[CMMA_USAGE_UNUSED] * CMMA_PAGE_SIZE;
    info->potentially_volatile = c.usage[CMMA_USAGE_POT_VOL] *
                                 CMMA_PAGE_SIZE;
    info->q_volatile = c.usage[CMMA_USAGE_VOLATILE] * CMMA_PAGE_SIZE;
    info->no_dat = c.nodat * CMMA_PAGE_SIZE;
    info->discarded = c.discarded * CMMA_PAGE_SIZE;
    info->pending_discard = c.pending * CMMA_PAGE_SIZE;
    info->released = c.discarded_bytes_total;
    info->diag10 = c.diag10;
    info->diag10_released = c.diag10_bytes_total;
    info->discard_policy = qatomic_read(&s->discard);
    info->reused = c.reused * CMMA_PAGE_SIZE;
    info->refaulted = c.refaulted * CMMA_PAGE_SIZE;
    if (info->discard_policy == CMMA_DISCARD_POLICY_ADAPTIVE) {
        CmmaAdaptive a;

        s390_cmma_adaptive_state(s, &a);
        info->adaptive = g_new0(CmmaAdaptiveInfo, 1);
        info->adaptive->demand = MIN(a.demand, (double)(UINT64_MAX /
                                                       CMMA_PAGE_SIZE)) *
                                 CMMA_PAGE_SIZE;
        info->adaptive->horizon_ms = a.horizon_ms;
        info->adaptive->reserve = MIN(cmma_adaptive_reserve(&a),
                                      c.pages) * CMMA_PAGE_SIZE;
        info->adaptive->refault_ratio = cmma_adaptive_refault_ratio(&a);
    }
    for (i = ESSA_ORC_COUNT - 1; i >= 0; i--) {
        QAPI_LIST_PREPEND(info->essa, c.essa[i]);
    }
    return info;
}

CmmaFlushResult *qmp_cmma_flush(Error **errp)
{
    S390CmmaState *s = cmma_or_error(errp);
    CmmaFlushResult *res;

    if (!s) {
        return NULL;
    }
    res = g_new0(CmmaFlushResult, 1);
    res->released = s390_cmma_flush(s);
    return res;
}

static void hmp_bytes(Monitor *mon, const char *what, uint64_t bytes)
{
    monitor_printf(mon, "%-22s %10" PRIu64 " MiB (%" PRIu64 " pages)\n",
                   what, bytes / MiB, bytes / CMMA_PAGE_SIZE);
}

void hmp_info_cmma_stats(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(CmmaInfo) info = qmp_query_cmma(&err);
    uint64List *e;
    int orc = 0;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    hmp_bytes(mon, "total:", info->total);
    hmp_bytes(mon, "stable:", info->stable);
    hmp_bytes(mon, "unused:", info->unused);
    hmp_bytes(mon, "potentially volatile:", info->potentially_volatile);
    hmp_bytes(mon, "volatile:", info->q_volatile);
    hmp_bytes(mon, "no-DAT:", info->no_dat);
    hmp_bytes(mon, "discarded:", info->discarded);
    hmp_bytes(mon, "pending discard:", info->pending_discard);
    hmp_bytes(mon, "released (total):", info->released);
    hmp_bytes(mon, "DIAG 0x10 released:", info->diag10_released);
    monitor_printf(mon, "DIAG 0x10 executions:  %" PRIu64 "\n", info->diag10);
    monitor_printf(mon, "discard policy:        %s\n",
                   CmmaDiscardPolicy_str(info->discard_policy));
    hmp_bytes(mon, "reused:", info->reused);
    hmp_bytes(mon, "refaulted:", info->refaulted);
    if (info->adaptive) {
        hmp_bytes(mon, "adaptive demand/s:", info->adaptive->demand);
        hmp_bytes(mon, "adaptive reserve:", info->adaptive->reserve);
        monitor_printf(mon, "adaptive horizon:      %" PRIu32 " ms\n",
                       info->adaptive->horizon_ms);
        monitor_printf(mon, "adaptive refaults:     %.3f per released page\n",
                       info->adaptive->refault_ratio);
    }
    monitor_printf(mon, "ESSA per request code:");
    for (e = info->essa; e; e = e->next) {
        monitor_printf(mon, " %d:%" PRIu64, orc++, e->value);
    }
    monitor_printf(mon, "\n");
}

void hmp_cmma_flush(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(CmmaFlushResult) res = qmp_cmma_flush(&err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "released %" PRIu64 " MiB (%" PRIu64 " pages)\n",
                   res->released / MiB, res->released / CMMA_PAGE_SIZE);
}
