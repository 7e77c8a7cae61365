// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-tmem guest driver: request chains.
 *
 * A chain is: readable prefix and headers, readable PUT pages and NEW_POOL
 * payload; writable GET pages, then one footer per operation.  The device
 * is not trusted: a chain whose used length is wrong, or a status this
 * driver does not know, fails the operation; nothing it writes is used
 * beyond the footers and the GET pages it was given.
 */
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "tmem.h"

/* Footers start out as a value that is not a status (see the ABI). */
#define TMEM_NO_STATUS	0xffff

/* Virtqueue callback (interrupt context) and also polled by submitters. */
void tmem_vq_done(struct virtqueue *vq)
{
	struct tmem_dev *td = vq->vdev->priv;
	struct tmem_chain *c;
	unsigned long flags;
	unsigned int len;
	bool any = false;

	spin_lock_irqsave(&td->vq_lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((c = virtqueue_get_buf(vq, &len))) {
			c->used_len = len;
			complete(&c->done);
			any = true;
		}
	} while (!virtqueue_enable_cb(vq) && !virtqueue_is_broken(vq));
	spin_unlock_irqrestore(&td->vq_lock, flags);
	if (any)
		wake_up_all(&td->vq_wait);
}

static int tmem_add(struct tmem_dev *td, struct tmem_chain *c, bool *kick)
{
	struct scatterlist *sgs[2] = { c->out_sg, c->in_sg };
	unsigned long flags;
	int err;

	spin_lock_irqsave(&td->vq_lock, flags);
	err = virtqueue_add_sgs(td->vq, sgs, 1, 1, c, GFP_ATOMIC);
	if (!err)
		*kick = virtqueue_kick_prepare(td->vq);
	spin_unlock_irqrestore(&td->vq_lock, flags);
	return err;
}

/*
 * Send ops[0..n-1] of @c as one chain and wait for it.  Returns 0 when the
 * device answered (each op's status is then set), or a negative errno when
 * the chain as a whole failed (each op's status is then IOERR).
 */
int tmem_submit(struct tmem_dev *td, struct tmem_chain *c, unsigned int n)
{
	unsigned int i, nout = 1, nin = 0, wlen = 0, nsg_out = 1, nsg_in = 1;
	bool kick = false;
	int err;

	if (n == 0 || n > td->max_batch)
		return -EINVAL;

	for (i = 0; i < n; i++) {
		if (c->ops[i].op == VIRTIO_TMEM_OP_PUT ||
		    c->ops[i].op == VIRTIO_TMEM_OP_NEW_POOL)
			nsg_out++;
		else if (c->ops[i].op == VIRTIO_TMEM_OP_GET)
			nsg_in++;
	}
	sg_init_table(c->out_sg, nsg_out);
	sg_init_table(c->in_sg, nsg_in);

	memset(&c->req.prefix, 0, sizeof(c->req.prefix));
	c->req.prefix.count = cpu_to_le16(n);
	for (i = 0; i < n; i++) {
		struct virtio_tmem_hdr *h = &c->req.hdr[i];
		struct tmem_op *op = &c->ops[i];

		memset(h, 0, sizeof(*h));
		h->op = op->op;
		h->pool = cpu_to_le32(td->pool);
		h->index = cpu_to_le32(op->index);
		c->foot[i].status = cpu_to_le16(TMEM_NO_STATUS);
		c->foot[i].value = 0;
		switch (op->op) {
		case VIRTIO_TMEM_OP_PUT:
			h->len = cpu_to_le32(VIRTIO_TMEM_PAGE_SIZE);
			sg_set_page(&c->out_sg[nout++], op->page,
				    VIRTIO_TMEM_PAGE_SIZE, 0);
			break;
		case VIRTIO_TMEM_OP_GET:
			h->len = cpu_to_le32(VIRTIO_TMEM_PAGE_SIZE);
			sg_set_page(&c->in_sg[nin++], op->page,
				    VIRTIO_TMEM_PAGE_SIZE, 0);
			wlen += VIRTIO_TMEM_PAGE_SIZE;
			break;
		case VIRTIO_TMEM_OP_NEW_POOL:
			sg_set_buf(&c->out_sg[nout++], &c->np, sizeof(c->np));
			break;
		}
	}
	sg_set_buf(&c->out_sg[0], &c->req,
		   sizeof(c->req.prefix) + n * sizeof(c->req.hdr[0]));
	sg_set_buf(&c->in_sg[nin], c->foot, n * sizeof(c->foot[0]));
	wlen += n * sizeof(c->foot[0]);

	init_completion(&c->done);
	c->used_len = 0;
	while ((err = tmem_add(td, c, &kick)) == -ENOSPC)
		wait_event_timeout(td->vq_wait,
				   td->vq->num_free >= nsg_out + nsg_in ||
				   virtqueue_is_broken(td->vq), HZ / 10);
	if (err)
		goto fail;
	if (kick)
		virtqueue_notify(td->vq);

	/* The device often answers during the notify: look before sleeping. */
	tmem_vq_done(td->vq);
	while (!wait_for_completion_io_timeout(&c->done, HZ)) {
		if (virtqueue_is_broken(td->vq)) {
			/* the device will not touch the chain again */
			dev_err_ratelimited(&td->vdev->dev,
					    "device broken: request lost\n");
			err = -EIO;
			goto fail;
		}
	}

	if (c->used_len != wlen) {
		dev_err_ratelimited(&td->vdev->dev,
				    "used length %u, expected %u\n",
				    c->used_len, wlen);
		err = -EIO;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		u16 s = le16_to_cpu(c->foot[i].status);

		c->ops[i].status = s <= VIRTIO_TMEM_IOERR ? s : VIRTIO_TMEM_IOERR;
		c->ops[i].value = le32_to_cpu(c->foot[i].value);
	}
	return 0;

fail:
	for (i = 0; i < n; i++)
		c->ops[i].status = VIRTIO_TMEM_IOERR;
	atomic64_inc(&td->st.errors);
	return err;
}

int tmem_new_pool(struct tmem_dev *td, bool persistent, u32 *handle)
{
	struct tmem_chain *c;
	u32 flags = VIRTIO_TMEM_POOL_VERSION_1;
	int err;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	if (persistent)
		flags |= VIRTIO_TMEM_POOL_PERSISTENT;
	c->np.flags = cpu_to_le32(flags);
	c->ops[0].op = VIRTIO_TMEM_OP_NEW_POOL;
	err = tmem_submit(td, c, 1);
	if (!err && c->ops[0].status != VIRTIO_TMEM_OK) {
		dev_err(&td->vdev->dev, "NEW_POOL failed with status %u\n",
			c->ops[0].status);
		err = c->ops[0].status == VIRTIO_TMEM_DENIED ? -EPERM : -EIO;
	}
	if (!err)
		*handle = c->ops[0].value;
	kfree(c);
	return err;
}
