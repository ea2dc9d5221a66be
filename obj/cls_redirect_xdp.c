// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls_redirect, XDP flavour: the same decision core (cls_redirect_core.h)
 * as the tc classifier, acted on before the kernel allocates an skb
 * (man page, XDP):
 *
 *   pass     -> XDP_PASS, marked (below)
 *   drop     -> XDP_DROP, counted by cause
 *   accept   -> the outer headers are cut off (bpf_xdp_adjust_head), the
 *               Ethernet header is written again in front of the inner
 *               packet with the inner family's EtherType, XDP_PASS, marked:
 *               the stack sees the plain inner packet, IPv6 included, in one
 *               pass, and GRO can merge its TCP segments
 *   accept for a service in another namespace (man page, CONTAINERS)
 *            -> XDP_PASS unchanged and unmarked, nothing counted: XDP has
 *               no way into another namespace's stack (a redirect to the
 *               veth would arrive with our MAC address and be dropped as
 *               PACKET_OTHERHOST there), so the tc object decides again and
 *               delivers it with bpf_redirect_peer
 *   forward  -> GUE: headers and both checksums rewritten in place, XDP_TX;
 *               GRE: the packet shrunk (bpf_xdp_adjust_head) and rebuilt,
 *               XDP_TX
 *
 * With the config flag route (man page, ROUTE MODE) every packet goes to the
 * stack untouched, unmarked and uncounted: forwarding along the routing
 * table needs bpf_redirect_neigh(), which only tc has, and deciding here
 * first would count the packet's l3_ and l4_ counters twice.
 *
 * Every packet handed to the stack carries CLS_REDIRECT_XDP_MARK in its
 * metadata, so the tc object attached to the same device lets it through
 * uncounted.  The program is loaded without multi-buffer support (section
 * "xdp", not "xdp.frags"), so the kernel only ever gives it a whole frame
 * between data and data_end: nothing is ever out of reach, and no GSO
 * packet exists yet.  Only helpers of Linux 5.10 are used (no
 * bpf_xdp_load_bytes: it came in 5.18).
 */
#include <stdbool.h>
#include <stddef.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ------------------------------------------------ what the core needs -- */

#define CLS_REDIRECT_CTX struct xdp_md

/* The core's MAX_PARSE_OFF, declared before it (as in cls_redirect.c). */
#define CTX_MAX_OFF 0x3fff

/* len bytes at frame offset off, or NULL if the frame is shorter.  Nothing
 * to pull: an XDP frame is all there. */
static __always_inline void *ctx_ptr(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	/* Kept for the verifier, as in cls_redirect.c. */
	barrier_var(off);
	if (off > CTX_MAX_OFF || data + off + len > end)
		return NULL;
	return data + off;
}

#define ctx_ptr_linear(ctx, off, len) ctx_ptr(ctx, off, len)
#define ctx_head(ctx, len) ctx_ptr(ctx, 0, len)

/* Copies n bytes at off (n a constant at every call site of the core). */
#define ctx_load_bytes(ctx, off, to, n)                                                            \
	({                                                                                         \
		void *from_ = ctx_ptr(ctx, off, n);                                                \
		if (from_)                                                                         \
			__builtin_memcpy(to, from_, n);                                            \
		from_ ? 0 : -1;                                                                    \
	})

static __always_inline __u32 ctx_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

static __always_inline bool ctx_is_ipv4(struct xdp_md *ctx)
{
	struct ethhdr *eth = ctx_ptr(ctx, 0, sizeof(*eth));

	return eth && eth->h_proto == bpf_htons(ETH_P_IP);
}

#define ctx_is_gso(ctx) false

#include "cls_redirect_core.h"

_Static_assert(CTX_MAX_OFF == MAX_PARSE_OFF, "the entry point bounds offsets as the core does");

/* -------------------------------------------------------------- actions -- */

static __always_inline int finish(struct packet *p, __u32 reason, int ret)
{
	count(p, reason);
	return ret;
}

/*
 * Hands the packet to the stack marked as decided here, so the tc object,
 * if attached too, does not count it again.  A driver without metadata
 * support refuses bpf_xdp_adjust_meta; the packet then goes up unmarked
 * (man page, XDP, says where that happens).
 */
static __always_inline int hand_up(struct packet *p, __u32 reason)
{
	struct xdp_md *ctx = p->ctx;
	__u32 *meta;

	if (!bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta))) {
		meta = (void *)(long)ctx->data_meta;
		if ((void *)(meta + 1) <= (void *)(long)ctx->data)
			*meta = CLS_REDIRECT_XDP_MARK;
	}
	return finish(p, reason, XDP_PASS);
}

/* Decapsulate: the Ethernet header moves up to the inner packet and names
 * its family. */
static __always_inline int accept_locally(struct packet *p, __u32 reason)
{
	struct xdp_md *ctx = p->ctx;
	struct ethhdr eth, *to;
	struct ethhdr *from = ctx_head(ctx, sizeof(eth));

	if (!from)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), XDP_DROP);
	__builtin_memcpy(&eth, from, sizeof(eth));
	eth.h_proto = p->inner_proto == IPPROTO_IPV6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);
	if (bpf_xdp_adjust_head(ctx, (int)ENCAP_LEN(p->hop_count)))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), XDP_DROP);
	to = ctx_head(ctx, sizeof(*to));
	if (!to)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), XDP_DROP);
	__builtin_memcpy(to, &eth, sizeof(eth));
	return hand_up(p, reason);
}

/* Leaves a packet for a service to the tc object, as if XDP had not seen
 * it: the l3_ and l4_ counters classify() bumped are taken back, since tc
 * counts them again. */
static __always_inline int leave_to_tc(struct packet *p)
{
	p->metrics->counters[p->inner_proto == IPPROTO_IPV6 ? M(L3_IPV6) : M(L3_IPV4)]--;
	/* Constant indices: a bound check on a variable one is what the
	 * compiler may prove away and 5.10 to 6.12 then refuse. */
	switch (p->l4_metric) {
	case M(L4_TCP):
		p->metrics->counters[M(L4_TCP)]--;
		break;
	case M(L4_UDP):
		p->metrics->counters[M(L4_UDP)]--;
		break;
	case M(L4_ICMP):
		p->metrics->counters[M(L4_ICMP)]--;
		break;
	}
	return XDP_PASS;
}

/*
 * GUE forward in place.  No skb, so no checksum state to keep but the UDP
 * checksum field itself, updated like the IPv4 one (RFC 1624); 0 means
 * "none" in UDP over IPv4 and stays 0, and a computed 0 is sent as 0xffff
 * (RFC 768).
 */
static __always_inline int forward_gue(struct packet *p, __u32 reason)
{
	__u16 old_word, new_word, check;
	struct udphdr *udp;
	void *frame;

	frame = ctx_ptr(p->ctx, 0, OFF_HOPS);
	if (!frame)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), XDP_DROP);
	udp = frame + OFF_UDP;
	gue_rewrite(p, frame, &old_word, &new_word);
	if (udp->check) {
		check = csum_apply(udp->check, csum_diff4(p->old_saddr, p->hop) + csum_diff2(old_word, new_word));
		udp->check = check ? check : 0xffff;
	}
	return finish(p, reason, XDP_TX);
}

/* GRE forward: the Ethernet and outer IPv4 headers move up by the bytes the
 * GRE header saves, then gre_rewrite() makes the frame tc's forward_gre()
 * sends. */
static __always_inline int forward_gre(struct packet *p, __u32 reason)
{
	struct xdp_md *ctx = p->ctx;
	__u8 head[OFF_UDP];
	void *frame;

	frame = ctx_head(ctx, sizeof(head));
	if (!frame)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), XDP_DROP);
	__builtin_memcpy(head, frame, sizeof(head));
	if (bpf_xdp_adjust_head(ctx, (int)GRE_SHRINK(p->hop_count)))
		return finish(p, M(ERR_ENCAP_ADJUST_FAILED), XDP_DROP);
	frame = ctx_head(ctx, GRE_REWRITE_LEN);
	if (!frame)
		return finish(p, M(ERR_ENCAP_BUFFER_TOO_SMALL), XDP_DROP);
	__builtin_memcpy(frame, head, sizeof(head));
	gre_rewrite(p, frame);
	return finish(p, reason, XDP_TX);
}

SEC("xdp")
int cls_redirect_xdp(struct xdp_md *ctx)
{
	struct packet p; /* not zeroed: see struct packet in the core */
	const struct cls_redirect_config *cfg;
	struct verdict v;
	__u32 key = 0;

	p.ctx = ctx;
	p.svc_ifindex = 0;
	p.l4_metric = 0;

	/* Decided by an earlier copy of this program: two copies run in one
	 * dispatcher while xdp-loader replaces one with the other. */
	if (xdp_marked((void *)(long)ctx->data_meta, (void *)(long)ctx->data))
		return XDP_PASS;
	cfg = bpf_map_lookup_elem(&cls_redirect_config, &key);
	if (cfg && (cfg->flags & CLS_REDIRECT_F_ROUTE))
		return XDP_PASS;
	p.metrics = bpf_map_lookup_elem(&cls_redirect_metrics, &key);
	if (!p.metrics)
		return XDP_PASS; /* cannot happen: one-entry array */

	v = decide(&p);
	switch (v.action) {
	case ACTION_ACCEPT:
		if (p.svc_ifindex)
			return leave_to_tc(&p);
		return accept_locally(&p, v.reason);
	case ACTION_FORWARD:
		return v.reason == M(FORWARDED_GRE) ? forward_gre(&p, M(FORWARDED_GRE)) :
						      forward_gue(&p, M(FORWARDED_GUE));
	case ACTION_DROP:
		return finish(&p, v.reason, XDP_DROP);
	}
	return hand_up(&p, M(PASSED));
}

char _license[] SEC("license") = "Dual BSD/GPL";
