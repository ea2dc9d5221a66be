// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Passes every packet.  Attached to the veth peer of a server that runs the
 * XDP flavour (test_e2e_xdp.sh): a frame sent back with XDP_TX reaches a
 * veth peer only if that peer has an XDP program of its own
 * (tc-cls-redirect.8, XDP).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
