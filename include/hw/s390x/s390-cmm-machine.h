/*
 * qemu-cmm's own s390x machine type
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_S390X_S390_CMM_MACHINE_H
#define HW_S390X_S390_CMM_MACHINE_H

#include "hw/boards.h"

/* The machine type: s390-ccw-virtio-10.0 plus what qemu-cmm gives guests. */
#define S390_CMM_MACHINE_NAME "s390-ccw-virtio-cmm-10.0"

/* Called by the machine's class_init, after 10.0's class options. */
void s390_cmm_machine_class_options(MachineClass *mc);

/* Called by the machine's init, before the machine is built. */
void s390_cmm_machine_instance_options(MachineState *machine);

#endif
