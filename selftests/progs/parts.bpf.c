// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The parts the classifier's paths are built from, one kernel call per
 * program, for the "where the time goes" table of `make bench`.  Each is
 * timed like a packet class, side by side with the floor, so a class's
 * figure splits into the helpers it cannot do without and the rest (parsing,
 * deciding, counting).  The programs read only what they need from frames
 * whose layout bench.c built, with no validation beyond the verifier's.
 */
#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "cls_redirect_wire.h"

/* One helper call that does nothing: what any call and return cost. */
SEC("classifier")
int part_call(struct __sk_buff *skb)
{
	return bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) == 7 ? TC_ACT_SHOT : TC_ACT_OK;
}

static __always_inline struct cls_redirect_priv *priv_of(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + OFF_HOPS > end)
		return NULL;
	return data + OFF_PRIV;
}

/* Decapsulation as the classifier accepts: the encapsulation goes. */
SEC("classifier")
int part_decap(struct __sk_buff *skb)
{
	struct cls_redirect_priv *priv = priv_of(skb);

	if (!priv || priv->hop_count > GUE_MAX_HOPS)
		return TC_ACT_SHOT;
	if (bpf_skb_adjust_room(skb, -(int)ENCAP_LEN(priv->hop_count), BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* The verdict of an IPv6 accept and of every forward. */
SEC("classifier")
int part_redirect(struct __sk_buff *skb)
{
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
}

/* The socket lookup of a TCP packet that is not a SYN: TC_ACT_OK when a
 * socket matched (and was released), TC_ACT_UNSPEC when none did. */
SEC("classifier")
int part_lookup(struct __sk_buff *skb)
{
	struct cls_redirect_priv *priv = priv_of(skb);
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	struct iphdr *ip;
	__be16 *ports;
	void *data, *end;
	__u32 off;

	if (!priv || priv->hop_count > GUE_MAX_HOPS)
		return TC_ACT_SHOT;
	off = ETH_HDR_LEN + ENCAP_LEN(priv->hop_count);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + off;
	ports = data + off + sizeof(*ip);
	if ((void *)(ports + 2) > end)
		return TC_ACT_SHOT;
	t.ipv4.saddr = ip->saddr;
	t.ipv4.daddr = ip->daddr;
	t.ipv4.sport = ports[0];
	t.ipv4.dport = ports[1];
	sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return TC_ACT_UNSPEC;
	bpf_sk_release(sk);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
