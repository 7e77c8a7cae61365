// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-tmem guest driver: swap to host memory through qemu-cmm's
 * virtio-tmem device (virtio device 63, docs/interop/virtio-tmem.rst).
 *
 * Each device becomes a block device /dev/tmemswapN for mkswap/swapon:
 *   mode=persistent (default): the pages live in a persistent tmem pool;
 *     the device is size_mb large, or as large as the host's cap.
 *   mode=ephemeral lower=/dev/vdX: write-through to the lower device, with
 *     an ephemeral pool as a cache the host may empty at any time.
 */
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/slab.h>

#include "tmem.h"

static char *mode = "persistent";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "persistent (pages in host memory) or ephemeral (write-through cache over lower)");

static char *lower;
module_param(lower, charp, 0444);
MODULE_PARM_DESC(lower, "ephemeral mode: the block device written through to, e.g. /dev/vda");

static unsigned long size_mb;
module_param(size_mb, ulong, 0444);
MODULE_PARM_DESC(size_mb, "persistent mode: device size in MiB (0: the host's limit)");

static bool flush_on_close = true;
module_param(flush_on_close, bool, 0444);
MODULE_PARM_DESC(flush_on_close, "flush all blocks but block 0 when the last opener (swapoff) closes the device");

#define TMEM_CFG(vdev, field) ({					\
	typeof_member(struct virtio_tmem_config, field) __v;		\
	virtio_cread_le((vdev), struct virtio_tmem_config, field, &__v);\
	__v; })

static struct tmem_dev *dev_to_tmem(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

#define TMEM_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n",				\
			  (long long)atomic64_read(&dev_to_tmem(dev)->st.name)); \
}									\
static DEVICE_ATTR_RO(name)

TMEM_STAT_ATTR(puts);
TMEM_STAT_ATTR(refused);
TMEM_STAT_ATTR(gets);
TMEM_STAT_ATTR(hits);
TMEM_STAT_ATTR(misses);
TMEM_STAT_ATTR(flushes);
TMEM_STAT_ATTR(errors);
TMEM_STAT_ATTR(lost);
TMEM_STAT_ATTR(lower_reads);
TMEM_STAT_ATTR(lower_writes);

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct tmem_dev *td = dev_to_tmem(dev);

	return sysfs_emit(buf, "%s\n", td->mode == TMEM_PERSISTENT ?
			  "persistent" : "ephemeral");
}
static DEVICE_ATTR_RO(mode);

static ssize_t lower_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n", dev_to_tmem(dev)->lower_path);
}
static DEVICE_ATTR_RO(lower);

static ssize_t pool_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "0x%08x\n", dev_to_tmem(dev)->pool);
}
static DEVICE_ATTR_RO(pool);

static ssize_t size_pages_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", dev_to_tmem(dev)->pages);
}
static DEVICE_ATTR_RO(size_pages);

/* The host's current persistent limit, beside the size, for the admin. */
static ssize_t cap_pages_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  TMEM_CFG(dev_to_tmem(dev)->vdev, pers_limit_pages));
}
static DEVICE_ATTR_RO(cap_pages);

static ssize_t eph_target_pages_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  TMEM_CFG(dev_to_tmem(dev)->vdev, eph_target_pages));
}
static DEVICE_ATTR_RO(eph_target_pages);

static ssize_t frozen_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	u32 st = TMEM_CFG(dev_to_tmem(dev)->vdev, status);

	return sysfs_emit(buf, "%u\n", !!(st & VIRTIO_TMEM_S_FROZEN));
}
static DEVICE_ATTR_RO(frozen);

static ssize_t epoch_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%u\n", TMEM_CFG(dev_to_tmem(dev)->vdev, epoch));
}
static DEVICE_ATTR_RO(epoch);

static struct attribute *tmem_attrs[] = {
	&dev_attr_mode.attr,
	&dev_attr_lower.attr,
	&dev_attr_pool.attr,
	&dev_attr_size_pages.attr,
	&dev_attr_cap_pages.attr,
	&dev_attr_eph_target_pages.attr,
	&dev_attr_frozen.attr,
	&dev_attr_epoch.attr,
	&dev_attr_puts.attr,
	&dev_attr_refused.attr,
	&dev_attr_gets.attr,
	&dev_attr_hits.attr,
	&dev_attr_misses.attr,
	&dev_attr_flushes.attr,
	&dev_attr_errors.attr,
	&dev_attr_lost.attr,
	&dev_attr_lower_reads.attr,
	&dev_attr_lower_writes.attr,
	NULL,
};

static const struct attribute_group tmem_attr_group = {
	.name = "tmem",
	.attrs = tmem_attrs,
};

static const struct attribute_group *tmem_attr_groups[] = {
	&tmem_attr_group,
	NULL,
};

static int tmem_setup(struct tmem_dev *td)
{
	struct virtio_device *vdev = td->vdev;
	u64 limit;

	if (!strcmp(mode, "persistent")) {
		td->mode = TMEM_PERSISTENT;
	} else if (!strcmp(mode, "ephemeral")) {
		td->mode = TMEM_EPHEMERAL;
	} else {
		dev_err(&vdev->dev, "mode=%s: not persistent or ephemeral\n",
			mode);
		return -EINVAL;
	}

	td->flush_on_close = flush_on_close;
	td->max_batch = 1;
	if (virtio_has_feature(vdev, VIRTIO_TMEM_F_BATCH))
		td->max_batch = clamp_t(u32, TMEM_CFG(vdev, max_batch), 1,
					VIRTIO_TMEM_MAX_BATCH);

	if (td->mode == TMEM_PERSISTENT) {
		if (!virtio_has_feature(vdev, VIRTIO_TMEM_F_PERSISTENT)) {
			dev_err(&vdev->dev,
				"the host offers no persistent pools (use mode=ephemeral)\n");
			return -EOPNOTSUPP;
		}
		limit = TMEM_CFG(vdev, pers_limit_pages);
		td->pages = size_mb ? (u64)size_mb << (20 - PAGE_SHIFT) : limit;
		if (!td->pages) {
			dev_err(&vdev->dev, "the host's persistent limit is 0 pages: set size_mb\n");
			return -EINVAL;
		}
	} else {
		int err;

		if (!lower || !*lower) {
			dev_err(&vdev->dev, "mode=ephemeral needs lower=/dev/...\n");
			return -EINVAL;
		}
		err = tmem_lower_open(td, lower);
		if (err) {
			dev_err(&vdev->dev, "cannot open lower=%s: %d\n", lower,
				err);
			return err;
		}
		td->pages = bdev_nr_sectors(td->lower) >> (PAGE_SHIFT - SECTOR_SHIFT);
	}
	/* block n is index n of one object: 32-bit indexes */
	td->pages = min_t(u64, td->pages, U32_MAX);
	return 0;
}

static int tmem_probe(struct virtio_device *vdev)
{
	struct tmem_dev *td;
	int err;

	td = kzalloc(sizeof(*td), GFP_KERNEL);
	if (!td)
		return -ENOMEM;
	td->vdev = vdev;
	vdev->priv = td;
	spin_lock_init(&td->vq_lock);
	init_waitqueue_head(&td->vq_wait);

	err = tmem_setup(td);
	if (err)
		goto free;

	td->vq = virtio_find_single_vq(vdev, tmem_vq_done, "requests");
	if (IS_ERR(td->vq)) {
		err = PTR_ERR(td->vq);
		goto close;
	}
	virtio_device_ready(vdev);

	err = tmem_new_pool(td, td->mode == TMEM_PERSISTENT, &td->pool);
	if (err)
		goto reset;
	err = tmem_blk_add(td, tmem_attr_groups);
	if (err)
		goto reset;
	dev_info(&vdev->dev, "%s: %s, %llu MiB, pool 0x%08x, %u pages per request%s%s\n",
		 td->disk->disk_name,
		 td->mode == TMEM_PERSISTENT ? "persistent" : "ephemeral",
		 td->pages >> (20 - PAGE_SHIFT), td->pool, td->max_batch,
		 td->lower ? ", lower " : "", td->lower_path);
	return 0;

reset:
	/* the reset destroys the pool, if any */
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
close:
	tmem_lower_close(td);
free:
	kfree(td);
	vdev->priv = NULL;
	return err;
}

static void tmem_remove(struct virtio_device *vdev)
{
	struct tmem_dev *td = vdev->priv;

	/*
	 * Swap still active here (a forced unbind or a hot-unplug) loses its
	 * device: its reads and writes fail from now on, which the swap code
	 * reports; nothing reads stale data.
	 */
	tmem_blk_remove(td);
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
	tmem_lower_close(td);
	kfree(td);
}

static void tmem_config_changed(struct virtio_device *vdev)
{
	/* sysfs reads the configuration when asked: nothing is cached */
}

static const struct virtio_device_id tmem_id_table[] = {
	{ VIRTIO_ID_TMEM, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int tmem_features[] = {
	VIRTIO_TMEM_F_PERSISTENT,
	VIRTIO_TMEM_F_BATCH,
	VIRTIO_TMEM_F_EPOCH,
};

static struct virtio_driver tmem_driver = {
	.feature_table = tmem_features,
	.feature_table_size = ARRAY_SIZE(tmem_features),
	.driver.name = "virtio_tmem",
	.driver.owner = THIS_MODULE,
	.id_table = tmem_id_table,
	.probe = tmem_probe,
	.remove = tmem_remove,
	.config_changed = tmem_config_changed,
};

static int __init tmem_init(void)
{
	int err = tmem_blk_init();

	if (err)
		return err;
	err = register_virtio_driver(&tmem_driver);
	if (err)
		tmem_blk_exit();
	return err;
}

static void __exit tmem_exit(void)
{
	unregister_virtio_driver(&tmem_driver);
	tmem_blk_exit();
}

module_init(tmem_init);
module_exit(tmem_exit);
MODULE_DEVICE_TABLE(virtio, tmem_id_table);
MODULE_DESCRIPTION("virtio-tmem: swap to host memory (qemu-cmm)");
MODULE_LICENSE("GPL");
