// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet generator of `make bench`, run by selftests/bench/bench (gen mode) with
 * BPF_PROG_TEST_RUN in live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES): the
 * kernel hands this program the same few pages over and over, and XDP_TX
 * sends each one out of the interface named in the context, here one end of
 * a veth pair; the classifier sits on the other end.
 *
 * Pages are recycled without being re-initialised, and the receiving side
 * rewrites what it gets (decapsulation, GUE forward), so the program writes
 * the whole frame from the template on every pass instead of trusting what
 * the page still holds.  The frame length is the template's: the test run is
 * started with the template itself as its data.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define XDPGEN_MAX 512

struct xdpgen_frame {
	__u32 len;
	__u8 data[XDPGEN_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpgen_frame);
	__uint(max_entries, 1);
} xdpgen_template SEC(".maps");

SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xdpgen_frame *t;
	__u32 key = 0, i;

	t = bpf_map_lookup_elem(&xdpgen_template, &key);
	if (!t)
		return XDP_ABORTED;
	/* Whole 8-byte words, then the tail byte by byte. */
	for (i = 0; i < XDPGEN_MAX / 8; i++) {
		if (data + (i + 1) * 8 > end)
			break;
		((__u64 *)data)[i] = ((__u64 *)t->data)[i];
	}
	for (i = i * 8; i < XDPGEN_MAX; i++) {
		if (data + i + 1 > end)
			break;
		((__u8 *)data)[i] = t->data[i];
	}
	return XDP_TX;
}

char _license[] SEC("license") = "Dual BSD/GPL";
