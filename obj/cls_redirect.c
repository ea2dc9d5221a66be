// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls_redirect: tc classifier for the backend servers of a GUE load balancer.
 *
 * The director sends every client packet GUE-encapsulated to its first-choice
 * server, with a list of alternative servers ("hops").  The decision core
 * (cls_redirect_core.h; the man page, DECISION TABLE, has every check in
 * order) says what to do with each packet; this file is the tc entry point
 * and does it with what struct __sk_buff offers:
 *
 *   pass                           -> untouched (TC_ACT_UNSPEC)
 *   drop                           -> TC_ACT_SHOT, counted by cause
 *   accept                         -> decapsulate: IPv4 inside goes on up
 *                                     the stack (TC_ACT_OK), IPv6 inside is
 *                                     re-injected into the ingress of the
 *                                     same interface; for a service in
 *                                     another namespace: decapsulated and
 *                                     handed to the veth's peer
 *                                     (bpf_redirect_peer), both families
 *   forward                        -> to the next hop ("second chance"), GUE
 *                                     or, for the final hop, GRE, out of the
 *                                     same interface, or with route along
 *                                     the host's route to the next hop
 */
#include <stddef.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ------------------------------------------------ what the core needs -- */

#define CLS_REDIRECT_CTX struct __sk_buff

/* Offsets handed to the pointer helpers below are bounded by the core's
 * MAX_PARSE_OFF; they are declared here, before it, so spell it out. */
#define CTX_MAX_OFF 0x3fff

static __always_inline void *ctx_head(struct __sk_buff *skb, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + len <= end)
		return data;
	if (bpf_skb_pull_data(skb, len))
		return NULL;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	return data + len <= end ? data : NULL;
}

/*
 * Pointer to len bytes at frame offset off, pulled into the linear area if
 * they are not there yet.  Every pull invalidates earlier packet pointers, so
 * callers re-derive them after each call.  Forced inline because it returns a
 * packet pointer whose range the verifier must see at the call site.
 */
static __always_inline void *ctx_ptr(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	/* The compiler drops the bound check below where it can prove it (the
	 * hop count is at most 30), but not every verifier can: 6.12 loses the
	 * bound of a 32-bit offset spilled to the stack and then refuses the
	 * access.  barrier_var() keeps the check. */
	barrier_var(off);
	if (off > CTX_MAX_OFF)
		return NULL;
	if (data + off + len <= end)
		return data + off;
	if (off + len > skb->len || bpf_skb_pull_data(skb, off + len))
		return NULL;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + off + len > end)
		return NULL;
	return data + off;
}

/* Like ctx_ptr(), for bytes already made linear: never pulls, so packet
 * pointers the caller holds stay valid. */
static __always_inline void *ctx_ptr_linear(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	barrier_var(off);
	if (off > CTX_MAX_OFF || data + off + len > end)
		return NULL;
	return data + off;
}

#define ctx_load_bytes(skb, off, to, len) bpf_skb_load_bytes(skb, off, to, len)
#define ctx_len(skb) ((skb)->len)
#define ctx_is_ipv4(skb) ((skb)->protocol == bpf_htons(ETH_P_IP))
#define ctx_is_gso(skb) ((skb)->gso_size != 0)

#include "cls_redirect_core.h"

_Static_assert(CTX_MAX_OFF == MAX_PARSE_OFF, "the entry point bounds offsets as the core does");

/*
 * A decapsulated IPv6 packet is handed back to the ingress path of the same
 * device (see accept_locally), so this program sees it a second time.
 * tc_index is the one field that survives the re-injection, is writable from
 * tc, and means nothing on a clsact ingress hook; we mark the packet with it
 * and clear the mark on the second pass, so the packet is counted once and
 * the filters after this one see it as it would have arrived without
 * encapsulation.  (A decapsulated IPv4 packet goes straight on to the stack:
 * later filters on this hook never see it.)
 */
#define REENTRY_MARK 0xc15d

/* The XDP flavour decided and counted this packet already. */
static __always_inline bool xdp_decided(struct __sk_buff *skb)
{
	return xdp_marked((void *)(long)skb->data_meta, (void *)(long)skb->data);
}

static __always_inline int finish(struct packet *p, __u32 reason, int ret)
{
	count(p, reason);
	return ret;
}

/* -------------------------------------------------------------- actions -- */

/*
 * Strip outer IPv4, UDP, GUE, private header and hops; the stack sees the
 * inner packet arrive on this device, firewall and all.
 *
 * An IPv4 packet simply goes on: skb->protocol is already IPv4, and
 * adjust_room moved the network header onto the inner packet.  An IPv6
 * packet needs skb->protocol changed, which only a fresh pass through the
 * device's receive path does (eth_type_trans on the rewritten EtherType);
 * it is marked so this program lets it through uncounted on that pass.
 */
static __always_inline int accept_locally(struct packet *p, __u32 reason)
{
	struct __sk_buff *skb = p->ctx;
	struct ethhdr *eth;

	/* MAC mode keeps the Ethernet header and removes what follows it.
	 * FIXED_GSO keeps gso_size (the inner segments are what was sized).
	 * Without NO_CSUM_RESET the helper turns CHECKSUM_UNNECESSARY into
	 * CHECKSUM_NONE and adjusts a CHECKSUM_COMPLETE sum.  That is what
	 * NO_CSUM_RESET plus bpf_csum_level(DEC) would give for every GUE
	 * packet a NIC can hand us: a NIC verifies checksums inside UDP only
	 * for tunnel ports it was told about (VXLAN, GENEVE), so it reports
	 * csum_level 0 at most, the outer UDP checksum, which is now gone.
	 * It saves a helper call: 12 to 16 ns on a machine with return-stack
	 * mitigations (make bench). */
	if (bpf_skb_adjust_room(skb, -(int)ENCAP_LEN(p->hop_count), BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), TC_ACT_SHOT);
	if (p->inner_proto == IPPROTO_IPIP)
		return finish(p, reason, TC_ACT_OK);

	eth = ctx_ptr(skb, 0, sizeof(*eth));
	if (!eth)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), TC_ACT_SHOT);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	skb->tc_index = REENTRY_MARK;
	return finish(p, reason, bpf_redirect(skb->ifindex, BPF_F_INGRESS));
}

/*
 * Route mode (config flag route; tc-cls-redirect.8, ROUTE MODE): the packet
 * leaves along the route this host would take for a packet from our
 * encapsulation address to the hop, not back where it came from.
 *
 * bpf_fib_lookup() finds that route.  It is asked as an input lookup on lo
 * (ifindex 1), which is what the kernel's own output path does for a local
 * packet (iif lo, no oif): "from ADDR", "to PREFIX", "iif lo", tos and
 * ipproto rules apply as they would to the host's own packet.  Not the
 * BPF_FIB_LOOKUP_OUTPUT flavour: that one binds the lookup to params->ifindex,
 * so a route through any other interface would never be found.  Both refuse
 * (BPF_FIB_LKUP_RET_FWD_DISABLED) when forwarding is off on params->ifindex,
 * checked before anything else on every kernel from 5.10 to 6.12: so the
 * mode needs net.ipv4.conf.lo.forwarding=1, which forwards nothing received
 * from the network (only packets received on lo could be forwarded, and the
 * host's looped-back packets keep the route they were sent with).
 *
 * The found next hop (gateway, or the hop itself on a connected route) and
 * interface go to bpf_redirect_neigh(), which resolves and caches the
 * link-layer address through the kernel's neighbour table, queueing the
 * packet while ARP runs, and writes a fresh Ethernet header: a first packet
 * to a neighbour not yet in the cache goes out as well.  NO_NEIGH is such a
 * next hop, with the interface filled in (since 5.10); FRAG_NEEDED (the frame
 * is larger than the egress MTU) still names the route, and the packet is
 * sent as it would be without the flag: the configured mtu is the check.
 * Everything else (no route, unreachable, blackhole, prohibit, a local or
 * broadcast destination, forwarding off on lo) is no route.
 *
 * skb->mark goes into the lookup as the kernel's own routing uses it, so
 * fwmark rules apply: BPF_FIB_LOOKUP_MARK with params->mark (Linux 6.10; the
 * four bytes it shares with the output smac).  An older kernel refuses the
 * unknown flag with -EINVAL before looking at anything else, and the lookup
 * is made again without it (the mark then plays no part).  A packet without
 * a mark, the usual case, is looked up once, without the flag, the same on
 * every kernel: a mark of 0 is what the lookup uses without it.
 */
#define LOOPBACK_IFINDEX 1
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef BPF_FIB_LOOKUP_MARK
#define BPF_FIB_LOOKUP_MARK (1U << 5) /* the build's uapi headers may predate 6.10 */
#endif
#define FIB_EINVAL 22

struct route {
	struct bpf_redir_neigh nh;
	__u32 ifindex;
};

/* 0 with rt filled in, or the counter of the drop. */
static __always_inline __u32 route_to_hop(struct packet *p, __u8 proto, struct route *rt)
{
	struct iphdr *ip = ctx_ptr(p->ctx, OFF_OUTER_IP, sizeof(*ip));
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.l4_protocol = proto,
		.ifindex = LOOPBACK_IFINDEX,
		.ipv4_src = p->addr,
		.ipv4_dst = p->hop,
	};
	__u32 mark = p->ctx->mark;
	long rc;

	if (!ip)
		return M(ERR_ENCAP_BUFFER_TOO_SMALL);
	fib.tos = ip->tos;
	rc = -FIB_EINVAL;
	if (mark) {
		__builtin_memcpy(fib.smac, &mark, sizeof(mark));
		rc = bpf_fib_lookup(p->ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_MARK);
	}
	if (rc == -FIB_EINVAL)
		rc = bpf_fib_lookup(p->ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH &&
	    rc != BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return M(ERR_NO_ROUTE);
	rt->ifindex = fib.ifindex;
	rt->nh.nh_family = AF_INET;
	rt->nh.ipv4_nh = fib.ipv4_dst; /* the gateway, if the route has one */
	return 0;
}

/*
 * Sends the rewritten packet along the route rt, or without one (NULL) back
 * out of the interface it came in on.  The rewrite swapped the MACs either
 * way: along a route the kernel replaces the Ethernet header, and its check
 * against a multicast destination sees the old source, never multicast.  rt
 * is a constant at every call site, so the MAC-swap path is compiled apart
 * and stays what it was before route mode (make bench: forward, gre).
 */
static __always_inline int send_to_hop(struct packet *p, const struct route *rt)
{
	if (rt)
		return bpf_redirect_neigh(rt->ifindex, (struct bpf_redir_neigh *)&rt->nh, sizeof(rt->nh), 0);
	return bpf_redirect(p->ctx->ifindex, 0);
}

/*
 * Delivery into a service's namespace (man page, CONTAINERS):
 * bpf_redirect_peer (Linux 5.10) moves the packet to the ingress of the
 * veth's peer, in the service's namespace, in the same softirq: no trip
 * through the veth's transmit path and the host's backlog, and the stack
 * there sees it arrive on its own interface.
 *
 * The receive path is not run again, so nothing recomputes skb->protocol
 * from the EtherType.  For an IPv6 inner packet it is set by
 * bpf_skb_change_proto(), which also inserts the 20 bytes an IPv6 header is
 * longer than an IPv4 one after the Ethernet header (zeros: the
 * CHECKSUM_COMPLETE sum stays) and turns a TCPV4 GSO type into TCPV6; the
 * shrink then takes those 20 bytes with the encapsulation.  The checksum and
 * GSO state go as in accept_locally().
 */
static __always_inline int deliver_to_service(struct packet *p, __u32 reason)
{
	struct __sk_buff *skb = p->ctx;
	bool v6 = p->inner_proto == IPPROTO_IPV6;
	__u32 grow = v6 ? sizeof(struct ipv6hdr) - sizeof(struct iphdr) : 0;
	struct ethhdr *eth;

	if (v6 && bpf_skb_change_proto(skb, bpf_htons(ETH_P_IPV6), 0))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), TC_ACT_SHOT);
	if (bpf_skb_adjust_room(skb, -(int)(ENCAP_LEN(p->hop_count) + grow), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), TC_ACT_SHOT);
	if (v6) {
		eth = ctx_ptr(skb, 0, sizeof(*eth));
		if (!eth)
			return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), TC_ACT_SHOT);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
	}
	return finish(p, reason, bpf_redirect_peer(p->svc_ifindex, 0));
}

/*
 * GUE forward: the packet keeps its size and its encapsulation; only the
 * outer addresses, next_hop and the checksums change (gue_rewrite), and it
 * leaves through the interface it came in on, or along rt (route mode).
 */
static __always_inline int forward_gue(struct packet *p, __u32 reason, const struct route *rt)
{
	struct __sk_buff *skb = p->ctx;
	__u16 old_word, new_word;
	void *frame;
	bool udp_csum;

	frame = ctx_ptr(skb, 0, OFF_HOPS);
	if (!frame)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), TC_ACT_SHOT);
	udp_csum = ((struct udphdr *)(frame + OFF_UDP))->check != 0;
	gue_rewrite(p, frame, &old_word, &new_word);

	if (udp_csum) {
		/* The helpers know the skb's checksum state: in CHECKSUM_PARTIAL
		 * only the pseudo-header part is in the field, and in
		 * CHECKSUM_COMPLETE skb->csum follows the field. */
		if (bpf_l4_csum_replace(skb, OFF_UDP + offsetof(struct udphdr, check), p->old_saddr, p->hop,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(p->hop)) ||
		    bpf_l4_csum_replace(skb, OFF_UDP + offsetof(struct udphdr, check), old_word, new_word,
					BPF_F_MARK_MANGLED_0 | sizeof(old_word)))
			return finish(p, M(ERR_ENCAP_ADJUST_FAILED), TC_ACT_SHOT);
	} else {
		/* Nothing in the packet compensates the next_hop change: keep a
		 * CHECKSUM_COMPLETE skb->csum true (no-op in other states). */
		bpf_csum_update(skb, csum_diff2(old_word, new_word));
	}
	return finish(p, reason, send_to_hop(p, rt));
}

/*
 * GRE forward to the final hop, for servers that terminate plain GRE:
 * UDP, GUE, private header and hops give way to a GRE header (gre_rewrite).
 * The packet only shrinks.  Sent as forward_gue() sends.
 */
static __always_inline int forward_gre(struct packet *p, __u32 reason, const struct route *rt)
{
	struct __sk_buff *skb = p->ctx;
	void *frame;

	/* The checksum state goes as in accept_locally(). */
	if (bpf_skb_adjust_room(skb, -(int)GRE_SHRINK(p->hop_count), BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), TC_ACT_SHOT);
	frame = ctx_ptr(skb, 0, GRE_REWRITE_LEN);
	if (!frame)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), TC_ACT_SHOT);
	bpf_csum_update(skb, gre_rewrite(p, frame));
	return finish(p, reason, send_to_hop(p, rt));
}

/*
 * Route mode: the route is found before anything is changed, so a packet
 * dropped for want of one is dropped as it came.  Out of line: a
 * subprogram of its own leaves the MAC-swap path as compact as before route
 * mode existed (inlined, the forward and gre classes of make bench were 2
 * to 4% slower without the flag).
 */
static __attribute__((noinline)) int forward_route(struct packet *p, __u32 reason)
{
	bool gre = reason == M(FORWARDED_GRE);
	struct route rt;
	__u32 err = route_to_hop(p, gre ? IPPROTO_GRE : IPPROTO_UDP, &rt);

	if (err)
		return finish(p, err, TC_ACT_SHOT);
	return gre ? forward_gre(p, reason, &rt) : forward_gue(p, reason, &rt);
}

SEC("classifier")
int cls_redirect(struct __sk_buff *skb)
{
	struct packet p; /* not zeroed: see struct packet in the core */
	struct verdict v;
	__u32 key = 0;

	p.ctx = skb;
	p.svc_ifindex = 0;

	if (skb->tc_index == REENTRY_MARK) {
		skb->tc_index = 0;
		return TC_ACT_UNSPEC;
	}
	if (xdp_decided(skb))
		return TC_ACT_UNSPEC;
	p.metrics = bpf_map_lookup_elem(&cls_redirect_metrics, &key);
	if (!p.metrics)
		return TC_ACT_UNSPEC; /* cannot happen: one-entry array */

	v = decide(&p);
	switch (v.action) {
	case ACTION_ACCEPT:
		if (p.svc_ifindex)
			return deliver_to_service(&p, v.reason);
		return accept_locally(&p, v.reason);
	case ACTION_FORWARD:
		if (p.route)
			return forward_route(&p, v.reason);
		/* Constant counters: each path bumps its own. */
		return v.reason == M(FORWARDED_GRE) ? forward_gre(&p, M(FORWARDED_GRE), NULL) :
						      forward_gue(&p, M(FORWARDED_GUE), NULL);
	case ACTION_DROP:
		return finish(&p, v.reason, TC_ACT_SHOT);
	}
	return finish(&p, M(PASSED), TC_ACT_UNSPEC);
}

char _license[] SEC("license") = "Dual BSD/GPL";
