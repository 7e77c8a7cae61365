/*
 * qemu-cmm: virtio-tmem request layout check
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/tmem-request.h"

uint64_t tmem_req_payload_in(const struct virtio_tmem_hdr *h)
{
    switch (h->op) {
    case VIRTIO_TMEM_OP_PUT:
        return le32_to_cpu(h->len);
    case VIRTIO_TMEM_OP_NEW_POOL:
        return sizeof(struct virtio_tmem_new_pool);
    default:
        return 0;
    }
}

uint64_t tmem_req_payload_out(const struct virtio_tmem_hdr *h)
{
    return h->op == VIRTIO_TMEM_OP_GET ? le32_to_cpu(h->len) : 0;
}

const char *tmem_req_check(const uint8_t *buf, size_t out_len, size_t in_len,
                           unsigned max_batch, bool batch, unsigned *count)
{
    struct virtio_tmem_batch b;
    const struct virtio_tmem_hdr *hdrs;
    uint64_t need_out, need_in;
    unsigned n, i;

    if (out_len < sizeof(b) || out_len > TMEM_REQ_MAX_READ ||
        in_len > TMEM_REQ_MAX_WRITE) {
        return "chain length";
    }
    memcpy(&b, buf, sizeof(b));
    n = le16_to_cpu(b.count);
    if (!n || n > max_batch || b.reserved0 || b.reserved1 ||
        (n > 1 && !batch)) {
        return "batch prefix";
    }
    if (out_len < sizeof(b) + n * sizeof(*hdrs)) {
        return "headers";
    }
    hdrs = (const struct virtio_tmem_hdr *)(buf + sizeof(b));
    need_out = sizeof(b) + n * sizeof(*hdrs);
    need_in = n * sizeof(struct virtio_tmem_footer);
    /* at most 64 operations of at most 4 GiB each: no overflow */
    for (i = 0; i < n; i++) {
        need_out += tmem_req_payload_in(&hdrs[i]);
        need_in += tmem_req_payload_out(&hdrs[i]);
    }
    if (need_out != out_len || need_in != in_len) {
        return "layout does not match the headers";
    }
    *count = n;
    return NULL;
}
