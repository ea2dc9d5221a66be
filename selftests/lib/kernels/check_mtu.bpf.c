// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The deliberately incompatible build of the kernel matrix: a tc program
 * that calls bpf_check_mtu(), a helper of Linux 5.12.  tc-cls-redirect.8, KERNELS,
 * rules out such helpers in the classifier; the matrix must show that 5.10
 * rejects this object (the verifier knows no helper 163) while 6.1 and later
 * load it, so a newer helper slipping into obj/cls_redirect.c would turn
 * kernel-5.10 red.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int check_mtu(struct __sk_buff *skb)
{
	__u32 mtu_len = 0;

	if (bpf_check_mtu(skb, skb->ifindex, &mtu_len, 0, 0))
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "Dual BSD/GPL";
