/*
 * qemu-cmm: virtio-tmem request layout check
 *
 * Pure: checks a request the device has copied into host memory against
 * the ABI (docs/interop/virtio-tmem.rst), without device state, so that a
 * fuzzer can drive it alone (tests/fuzz/fuzz-tmem-request.c).
 *
 * Copyright (c) 2026 qemu-cmm contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_TMEM_REQUEST_H
#define HW_VIRTIO_TMEM_REQUEST_H

#include "hw/virtio/tmem-abi.h"

/* The most a request may carry: a full batch of PUTs, or of GETs. */
#define TMEM_REQ_MAX_READ   (sizeof(struct virtio_tmem_batch) + \
                             VIRTIO_TMEM_MAX_BATCH * \
                             (sizeof(struct virtio_tmem_hdr) + \
                              VIRTIO_TMEM_PAGE_SIZE))
#define TMEM_REQ_MAX_WRITE  (VIRTIO_TMEM_MAX_BATCH * \
                             (VIRTIO_TMEM_PAGE_SIZE + \
                              sizeof(struct virtio_tmem_footer)))

/* Payload bytes an operation carries to the device and back. */
uint64_t tmem_req_payload_in(const struct virtio_tmem_hdr *h);
uint64_t tmem_req_payload_out(const struct virtio_tmem_hdr *h);

/*
 * tmem_req_check: does the request's layout match its headers exactly?
 * @buf: the @out_len bytes the guest wrote (already copied)
 * @in_len: the bytes the guest offers for the answer
 * @max_batch: the device's limit; @batch: the guest negotiated batching
 * @count: set to the number of operations when the layout is good
 * Returns: NULL if good, else why not (for the guest-error log).
 */
const char *tmem_req_check(const uint8_t *buf, size_t out_len, size_t in_len,
                           unsigned max_batch, bool batch, unsigned *count);

#endif
