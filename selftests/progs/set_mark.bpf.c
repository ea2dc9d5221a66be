// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Sets skb->mark to 0x2a and hands the packet to the next filter.  Attached
 * before the classifier on a server's ingress hook (test_route.sh), it plays
 * whatever marks packets there in production (a tc action, another
 * program): route mode looks the next hop up with the mark, so an
 * `ip rule fwmark` applies (tc-cls-redirect.8, ROUTE MODE).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int set_mark(struct __sk_buff *skb)
{
	skb->mark = 0x2a;
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "Dual BSD/GPL";
