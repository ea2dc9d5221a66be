// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of `make bench`: an empty tc program.  Measured side by side with
 * the classifier, it is the cost of BPF_PROG_TEST_RUN (or of the tc hook)
 * itself, so every classifier figure can be given as a ratio to it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int floor_prog(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
