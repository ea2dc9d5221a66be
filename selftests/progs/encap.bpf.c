/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The test director: a GUE encapsulator in the style of GitHub GLB's director,
 * attached with tc to the ingress of the director's interface toward the
 * client.  Every packet for the VIP (IPv4 or IPv6) gets
 *
 *   outer IPv4 (director -> first choice, TTL 64, DF) |
 *   UDP (flow-hash source port, configured destination port, checksum 0) |
 *   GUE (hlen = 1 + N, proto 4 or 41) | private header | N hops
 *
 * in front of it and is sent straight out of the interface the director's FIB
 * names for the first choice, with that neighbour's MAC address.  Everything
 * else (the servers' direct replies, traffic for the director itself) is left
 * to the stack.  The configuration is a map the test rewrites while traffic
 * flows (selftests/bin/encapctl), so "B only" can become "A first, then B" in the
 * middle of a connection, which is the event second chance exists for.
 *
 * Only packets a real director would send are produced: no GSO packets (the
 * client's interface has segmentation and checksum offload off, so every
 * packet is on the wire as it would be on a real link); a GSO packet is
 * counted as an error and dropped rather than encapsulated into something no
 * director sends.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "cls_redirect_wire.h"
#include "encap.h"

#define AF_INET 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct encap_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} encap_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, ENCAP_STAT_COUNT);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} encap_stats SEC(".maps");

/* Everything between the Ethernet header and the inner packet. */
struct encap_hdr {
	struct iphdr ip;
	struct udphdr udp;
	struct cls_redirect_gue gue;
	struct cls_redirect_priv priv;
	__be32 hops[GUE_MAX_HOPS];
};

_Static_assert(sizeof(struct encap_hdr) == ENCAP_LEN(GUE_MAX_HOPS), "headers are back to back");

static void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&encap_stats, &stat);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static int is_vip6(const struct encap_config *cfg, const struct ipv6hdr *ip6)
{
	const __u8 *a = cfg->vip6, *b = ip6->daddr.s6_addr;
	__u8 any = 0, diff = 0;

	for (int i = 0; i < 16; i++) {
		any |= a[i];
		diff |= a[i] ^ b[i];
	}
	return any && !diff;
}

SEC("classifier")
int encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct encap_config *cfg;
	struct bpf_fib_lookup fib = {};
	struct encap_hdr h = {};
	__u32 key = 0, inner_len, hdr_len, n, stat;
	__u8 proto;

	cfg = bpf_map_lookup_elem(&encap_config, &key);
	if (!cfg || !cfg->first)
		return TC_ACT_OK;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || !cfg->vip4 || ip->daddr != cfg->vip4)
			return TC_ACT_OK;
		proto = 4;
		stat = ENCAP_STAT_IPV4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || !is_vip6(cfg, ip6))
			return TC_ACT_OK;
		proto = 41;
		stat = ENCAP_STAT_IPV6;
	} else {
		return TC_ACT_OK;
	}

	n = cfg->hop_count;
	if (n > GUE_MAX_HOPS || skb->gso_segs > 1)
		goto err;
	inner_len = skb->len - ETH_HDR_LEN;
	hdr_len = ENCAP_LEN(n);
	if (inner_len + hdr_len > 0xffff)
		goto err;

	h.ip.version = 4;
	h.ip.ihl = 5;
	h.ip.tot_len = bpf_htons(inner_len + hdr_len);
	h.ip.frag_off = bpf_htons(0x4000); /* DF, as GLB's director sends */
	h.ip.ttl = 64;
	h.ip.protocol = IPPROTO_UDP;
	h.ip.saddr = cfg->saddr;
	h.ip.daddr = cfg->first;
	h.ip.check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)&h.ip, sizeof(h.ip), 0));
	/* The flow hash of the inner packet, so one flow keeps one source port
	 * (and one RSS queue on the server), as GLB and Unimog do. */
	h.udp.source = bpf_htons(32768 | (bpf_get_hash_recalc(skb) & 0x7fff));
	h.udp.dest = cfg->port;
	h.udp.len = bpf_htons(inner_len + hdr_len - sizeof(h.ip));
	h.udp.check = 0;
	h.gue.vchlen = 1 + n;
	h.gue.proto_ctype = proto;
	h.priv.vflags = cfg->priv_flags;
	h.priv.next_hop = cfg->next_hop;
	h.priv.hop_count = n;
	for (__u32 i = 0; i < GUE_MAX_HOPS && i < n; i++)
		h.hops[i] = cfg->hops[i];

	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_UDP;
	fib.tot_len = inner_len + hdr_len;
	fib.ifindex = skb->ingress_ifindex;
	fib.ipv4_src = cfg->saddr;
	fib.ipv4_dst = cfg->first;
	/* The servers' neighbour entries are permanent, so anything but
	 * success (no route, no neighbour, too big) is a broken topology. */
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		goto err;

	if (bpf_skb_adjust_room(skb, hdr_len, BPF_ADJ_ROOM_MAC, 0))
		goto err;
	if (hdr_len > sizeof(h) || bpf_skb_store_bytes(skb, ETH_HDR_LEN, &h, hdr_len, 0))
		goto err;
	/* For an IPv6 inner packet the frame becomes IPv4.  skb->protocol stays
	 * ETH_P_IPV6 until the receiving veth parses the frame again, and
	 * nothing on the way to it looks at it (no checksum or GSO work). */
	struct {
		__u8 dst[ETH_ALEN], src[ETH_ALEN];
		__be16 proto;
	} l2;
	__builtin_memcpy(l2.dst, fib.dmac, ETH_ALEN);
	__builtin_memcpy(l2.src, fib.smac, ETH_ALEN);
	l2.proto = bpf_htons(ETH_P_IP);
	if (bpf_skb_store_bytes(skb, 0, &l2, sizeof(l2), 0))
		goto err;
	count(stat);
	return bpf_redirect(fib.ifindex, 0);
err:
	count(ENCAP_STAT_ERRORS);
	return TC_ACT_SHOT;
}

char _license[] SEC("license") = "Dual BSD/GPL";
