// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A floor that is not empty, for test_bench only: 40 dependent multiplies
 * (tens of ns) make it dearer than the part "call", which is what a floor in
 * its slow mode looks like to `bench run` (README.md, Performance): every
 * pass it can tell must be taken for the slow mode.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int floor_dear(struct __sk_buff *skb)
{
	__u32 x = skb->len;

#pragma unroll
	for (int i = 0; i < 40; i++)
		asm volatile("%0 *= 7" : "+r"(x));
	return x == 0 ? TC_ACT_SHOT : TC_ACT_OK; /* never 0: len is not, 7^40 is odd */
}

char _license[] SEC("license") = "Dual BSD/GPL";
