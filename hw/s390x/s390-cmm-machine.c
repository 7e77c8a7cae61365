/*
 * qemu-cmm's own s390x machine type, s390-ccw-virtio-cmm-10.0
 *
 * A versioned machine type never changes its guest ABI: a guest pinned to
 * s390-ccw-virtio-10.0 must run, and migrate, exactly as on upstream 10.0.
 * What qemu-cmm adds for guests therefore lives in a machine type of its
 * own, which the unversioned alias s390-ccw-virtio names:
 *
 * - the "qemu" CPU model offers the CMM facilities (ESSA, ESSA code 7);
 * - DIAG 0x10 releases pages (the page-state table's diag10 property).
 *
 * Everything else is 10.0's.  Upstream QEMU does not know this machine, so
 * its migration stream is refused by an upstream destination at the first
 * section (the machine name in the configuration section).
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "cpu_models.h"
#include "hw/s390x/s390-cmm-machine.h"
#include "hw/s390x/s390-cmma.h"

void s390_cmm_machine_class_options(MachineClass *mc)
{
    static GlobalProperty props[] = {
        { TYPE_S390_CMMA, "diag10", "on" },
    };

    mc->desc = "Virtual s390x machine (version 10.0 with qemu-cmm: "
               "CMMA and DIAG 0x10)";
    mc->alias = "s390-ccw-virtio";
    mc->is_default = true;
    compat_props_add(mc->compat_props, props, G_N_ELEMENTS(props));
}

void s390_cmm_machine_instance_options(MachineState *machine)
{
    /* 10.0's qemu model (the 8561 GA1 base) with CMM and CMM-NT added */
    static const S390FeatInit qemu_cpu_feat = { S390_FEAT_LIST_QEMU_MAX };

    s390_set_qemu_cpu_model(0x8561, 15, 1, qemu_cpu_feat);
}
