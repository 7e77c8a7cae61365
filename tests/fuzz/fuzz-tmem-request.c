/*
 * Fuzz the virtio-tmem request layout check (hw/virtio/virtio-tmem-request.c)
 * against a model of the ABI: accepted means the batch prefix is clean,
 * the count within the limits, and the chain lengths exactly what the
 * headers ask for; everything else is refused, nothing is read outside
 * the request (ASan watches the copy's bounds).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/virtio/tmem-request.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    unsigned max_batch = fuzz_u8(&in) % VIRTIO_TMEM_MAX_BATCH + 1;
    bool batch = fuzz_u8(&in) & 1;
    size_t in_len = fuzz_u64(&in) % (TMEM_REQ_MAX_WRITE + 64);
    size_t out_len = in.left;
    uint8_t *buf;
    const char *why;
    unsigned count = 0;

    if (fuzz_u8(&in) & 1) {
        /* lengths that fit the headers: let the fuzzer reach the ops */
        in_len = 0;
    }
    out_len = in.left;
    /* an exact-size copy, as the device makes: ASan sees any overread */
    buf = malloc(out_len ? out_len : 1);
    memcpy(buf, in.p, out_len);
    why = tmem_req_check(buf, out_len, in_len, max_batch, batch, &count);
    if (!why) {
        const struct virtio_tmem_batch *b = (const void *)buf;
        const struct virtio_tmem_hdr *h = (const void *)(buf + sizeof(*b));
        uint64_t need_out = sizeof(*b), need_in = 0;

        FUZZ_CHECK(count == le16_to_cpu(b->count) && count >= 1 &&
                   count <= max_batch && (count == 1 || batch),
                   "count %u accepted", count);
        FUZZ_CHECK(!b->reserved0 && !b->reserved1, "reserved bits");
        for (unsigned i = 0; i < count; i++) {
            need_out += sizeof(*h) + tmem_req_payload_in(&h[i]);
            need_in += sizeof(struct virtio_tmem_footer) +
                       tmem_req_payload_out(&h[i]);
        }
        FUZZ_CHECK(need_out == out_len && need_in == in_len,
                   "layout %lu/%lu accepted for %lu/%lu",
                   (unsigned long)out_len, (unsigned long)in_len,
                   (unsigned long)need_out, (unsigned long)need_in);
        FUZZ_CHECK(out_len <= TMEM_REQ_MAX_READ &&
                   in_len <= TMEM_REQ_MAX_WRITE, "oversized accepted");
    }
    free(buf);
    return 0;
}
