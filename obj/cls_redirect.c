// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls_redirect: tc classifier for the backend servers of a GUE load balancer.
 *
 * The director sends every client packet GUE-encapsulated to its first-choice
 * server, with a list of alternative servers ("hops").  Per packet this
 * program decides (the man page, DECISION TABLE, has every check in order):
 *
 *   not for us                     -> pass untouched (TC_ACT_UNSPEC)
 *   malformed or unwanted          -> drop (TC_ACT_SHOT), counted by cause
 *   the flow lives here, or no     -> decapsulate: IPv4 inside goes on up
 *   alternative is left               the stack (TC_ACT_OK), IPv6 inside is
 *                                     re-injected into the ingress of the
 *                                     same interface
 *   otherwise                      -> forward to the next hop ("second
 *                                     chance"), GUE or, for the final hop,
 *                                     GRE, out of the same interface
 *
 * Everything the tools need lives in pinned maps (no .data/.bss/.rodata: tc
 * pins none of those, and the legacy loader cannot relocate them).  Only
 * helpers available in Linux 5.10 are used.
 */
#include <stdbool.h>
#include <stddef.h>

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "cls_redirect_maps.h"

CLS_REDIRECT_MAP(cls_redirect_config, BPF_MAP_TYPE_ARRAY, __u32, struct cls_redirect_config, 1);
CLS_REDIRECT_MAP(cls_redirect_metrics, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct cls_redirect_metrics, 1);

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

/* Furthest frame offset we ever parse (IPv6 extension headers included). */
#define MAX_PARSE_OFF 0x3fff
#define MAX_IPV6_EXT_HDRS 8
/* A quoted packet is one this server sent: Linux puts at most a hop-by-hop
 * and a fragment header in front of TCP or UDP. */
#define MAX_QUOTED_EXT_HDRS 4

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define IP6_OFFSET 0xfff8

#define M(id) CLS_REDIRECT_METRIC_##id
/* classify() returns the counter of the outcome; this one means "forward",
 * and forward() then picks GUE or GRE. */
#define VERDICT_FORWARD M(FORWARDED_GUE)

struct packet {
	struct __sk_buff *skb;
	struct cls_redirect_metrics *metrics;
	__be32 addr;      /* our encapsulation endpoint */
	__u32 mtu;        /* 0 = unchecked */
	__u32 ip_end;     /* frame offset of the end of the outer IPv4 packet */
	__u32 inner_off;  /* frame offset of the inner packet */
	__be32 old_saddr; /* outer source as received */
	__u8 hop_count;
	__u8 next_hop;
	__u8 priv_flags;
	__u8 inner_proto; /* IPPROTO_IPIP or IPPROTO_IPV6 */
	bool last_hop;    /* no alternative left, or forwarding disabled */
};

/* The inner packet's flow, as far as classification needs it. */
struct flow {
	struct bpf_sock_tuple tuple;
	__u32 tuple_len;
	__u32 l3_off;
	__u32 l4_off;
	__u32 l4_end;
	__u8 l4_proto;
	bool fragment;        /* any fragment header / MF / offset */
	bool later_fragment;  /* offset != 0: no L4 header in this packet */
	/* IPv6: 0x10000 | the offset and M words of every fragment header, ORed;
	 * 0 if there is none. */
	__u32 frag6;
};

static __always_inline int finish(struct packet *p, int counter, int verdict)
{
	/* Counted together, when the outcome is final, so processed = sum of
	 * outcomes holds for every reader. */
	p->metrics->counters[M(PROCESSED)]++;
	if (counter >= 0 && counter < CLS_REDIRECT_METRIC_COUNT)
		p->metrics->counters[counter]++;
	return verdict;
}

#define drop(p, id) finish(p, id, TC_ACT_SHOT)

/*
 * Pointer to len bytes at frame offset off, pulled into the linear area if
 * they are not there yet.  Every pull invalidates earlier packet pointers, so
 * callers re-derive them after each call.  Forced inline because it returns a
 * packet pointer whose range the verifier must see at the call site.
 */
static __always_inline void *pkt_ptr(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	/* The compiler drops the bound check below where it can prove it (the
	 * hop count is at most 30), but not every verifier can: 6.12 loses the
	 * bound of a 32-bit offset spilled to the stack and then refuses the
	 * access.  barrier_var() keeps the check. */
	barrier_var(off);
	if (off > MAX_PARSE_OFF)
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

/* Like pkt_ptr(), for bytes already made linear: never pulls, so packet
 * pointers the caller holds stay valid. */
static __always_inline void *pkt_ptr_linear(struct __sk_buff *skb, __u32 off, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	barrier_var(off);
	if (off > MAX_PARSE_OFF || data + off + len > end)
		return NULL;
	return data + off;
}

/* RFC 1624 incremental update of a 16-bit one's complement checksum, with
 * values as they sit in memory (the byte order cancels out). */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __u32 csum_diff2(__u16 from, __u16 to)
{
	return (__u16)~from + (__u32)to;
}

static __always_inline __u32 csum_diff4(__be32 from, __be32 to)
{
	return csum_diff2(from & 0xffff, to & 0xffff) + csum_diff2(from >> 16, to >> 16);
}

static __always_inline __u16 csum_apply(__u16 check, __u32 diff)
{
	return ~csum_fold((__u16)~check + diff);
}

/* ---------------------------------------------------------------- inner -- */

static __always_inline bool is_ext_hdr(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS ||
	       nexthdr == IPPROTO_MH;
}

/*
 * Walk IPv6 extension headers from *off up to end.  Returns the upper-layer
 * protocol, or -1 if the chain is longer than max headers or leaves the
 * packet.  Extension headers are rare, so they are copied with
 * bpf_skb_load_bytes instead of being pulled into the linear area.
 */
static __always_inline int skip_ipv6_ext(struct __sk_buff *skb, __u8 nexthdr, __u32 *off, __u32 end,
			 struct flow *f, const int max)
{
	__u32 pos = *off;

	/* Unrolled (max is a constant at each call site): 5.10 and 6.1 refuse
	 * a loop whose back edge is the fall-through of a helper call. */
#pragma unroll
	for (int i = 0; i < max + 1; i++) {
		__u8 hdr[4];

		if (!is_ext_hdr(nexthdr)) {
			*off = pos;
			return nexthdr;
		}
		if (i == max || pos + 8 > end ||
		    bpf_skb_load_bytes(skb, pos, hdr, sizeof(hdr)))
			return -1;
		if (nexthdr == IPPROTO_FRAGMENT) {
			/* RFC 8200 4.5: fixed 8 bytes; offset in the top 13 bits.
			 * Kept as packet data, not as a flag set on this branch:
			 * the verifier then sees one state after the walk, not
			 * one per position of the fragment header.  ORed, so that
			 * a later header with offset 0 cannot hide an earlier
			 * non-first fragment. */
			f->frag6 |= 0x10000 | hdr[2] << 8 | hdr[3];
			pos += 8;
		} else {
			pos += (hdr[1] + 1) * 8;
		}
		nexthdr = hdr[0];
		if (pos > end || pos > MAX_PARSE_OFF)
			return -1;
		/*
		 * Forget how far the walk got: a no-op on the value (pos <=
		 * MAX_PARSE_OFF = 0x3fff here), but it leaves the verifier one
		 * state per walk instead of one per chain length, each of
		 * which it would otherwise follow through the whole rest of
		 * the program (without it the verifier checked three times as
		 * many instructions).  Inline asm so the compiler, which knows
		 * it is a no-op, keeps it.
		 */
		asm volatile("%0 &= 0x3fff" : "+r"(pos));
	}
	return -1;
}

/* Parses the inner IPv4 header at f->l3_off, bounded by end. */
static __always_inline int parse_ipv4(struct __sk_buff *skb, struct flow *f, __u32 end)
{
	struct iphdr *ip = pkt_ptr(skb, f->l3_off, sizeof(*ip));
	__u32 hlen, tot;

	if (!ip || f->l3_off + sizeof(*ip) > end || ip->version != 4 || ip->ihl < 5)
		return M(ERR_MALFORMED_IP);
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || f->l3_off + tot > end)
		return M(ERR_MALFORMED_IP);
	f->fragment = ip->frag_off & bpf_htons(IP_MF | IP_OFFSET);
	f->later_fragment = ip->frag_off & bpf_htons(IP_OFFSET);
	f->l4_proto = ip->protocol;
	f->l4_off = f->l3_off + hlen;
	f->l4_end = f->l3_off + tot;
	f->tuple.ipv4.saddr = ip->saddr;
	f->tuple.ipv4.daddr = ip->daddr;
	f->tuple_len = sizeof(f->tuple.ipv4);
	return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct flow *f, __u32 end)
{
	struct ipv6hdr *ip6 = pkt_ptr(skb, f->l3_off, sizeof(*ip6));
	__u32 off = f->l3_off + sizeof(*ip6);
	__u8 nexthdr;
	int proto;

	if (!ip6 || off > end || ip6->version != 6 || off + bpf_ntohs(ip6->payload_len) > end)
		return M(ERR_MALFORMED_IP);
	f->l4_end = off + bpf_ntohs(ip6->payload_len);
	__builtin_memcpy(f->tuple.ipv6.saddr, &ip6->saddr, 16);
	__builtin_memcpy(f->tuple.ipv6.daddr, &ip6->daddr, 16);
	f->tuple_len = sizeof(f->tuple.ipv6);
	nexthdr = ip6->nexthdr;
	proto = skip_ipv6_ext(skb, nexthdr, &off, f->l4_end, f, MAX_IPV6_EXT_HDRS);
	if (proto < 0)
		return M(ERR_MALFORMED_IP);
	f->fragment = f->frag6 != 0;
	f->later_fragment = f->frag6 & IP6_OFFSET;
	f->l4_proto = proto;
	f->l4_off = off;
	return 0;
}

/* ------------------------------------------------------- socket lookups -- */

static __always_inline void set_ports(struct flow *f, __be16 sport, __be16 dport)
{
	if (f->tuple_len == sizeof(f->tuple.ipv4)) {
		f->tuple.ipv4.sport = sport;
		f->tuple.ipv4.dport = dport;
	} else {
		f->tuple.ipv6.sport = sport;
		f->tuple.ipv6.dport = dport;
	}
}

/*
 * A TCP flow is local if any non-listening socket matches it: established,
 * SYN-received (request sockets live in the established hash), time-wait,
 * closing.  bpf_skc_lookup_tcp finds all of those, in the namespace of the
 * device.  A listener alone means "unknown", unless this is the ACK
 * completing a SYN-cookie handshake with it (the kernel keeps no state for
 * those, so only the cookie shows the connection is ours).
 */
static __always_inline int lookup_tcp(struct packet *p, struct flow *f, void *iph, __u32 iph_len,
				      struct tcphdr *th)
{
	struct bpf_sock *sk;
	int verdict = VERDICT_FORWARD;

	sk = f->tuple_len == sizeof(f->tuple.ipv4) ?
		     bpf_skc_lookup_tcp(p->skb, &f->tuple, sizeof(f->tuple.ipv4), BPF_F_CURRENT_NETNS, 0) :
		     bpf_skc_lookup_tcp(p->skb, &f->tuple, sizeof(f->tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return VERDICT_FORWARD;
	if (sk->state != BPF_TCP_LISTEN)
		verdict = M(ACCEPTED_ESTABLISHED);
	else if (th && bpf_tcp_check_syncookie(sk, iph, iph_len, th, sizeof(*th)) == 0)
		verdict = M(ACCEPTED_SYN_COOKIES);
	bpf_sk_release(sk);
	return verdict;
}

/* UDP flows are local only for a connected socket: an unconnected one would
 * match every client and keep all of them here, drained or not. */
static __always_inline int lookup_udp(struct packet *p, struct flow *f)
{
	struct bpf_sock *sk;
	int verdict = VERDICT_FORWARD;

	sk = f->tuple_len == sizeof(f->tuple.ipv4) ?
		     bpf_sk_lookup_udp(p->skb, &f->tuple, sizeof(f->tuple.ipv4), BPF_F_CURRENT_NETNS, 0) :
		     bpf_sk_lookup_udp(p->skb, &f->tuple, sizeof(f->tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return VERDICT_FORWARD;
	if (sk->state == BPF_TCP_ESTABLISHED)
		verdict = M(ACCEPTED_ESTABLISHED);
	bpf_sk_release(sk);
	return verdict;
}

/* ------------------------------------------------------------ classify -- */

static __always_inline int classify_tcp(struct packet *p, struct flow *f)
{
	struct tcphdr *th = pkt_ptr(p->skb, f->l4_off, sizeof(*th));
	void *iph;

	if (!th || f->l4_off + sizeof(*th) > f->l4_end || th->doff < 5 ||
	    f->l4_off + th->doff * 4 > f->l4_end)
		return M(ERR_MALFORMED_TCP);
	/* Only a SYN without ACK opens a connection; a SYN-ACK belongs to one. */
	if (th->syn && !th->ack) {
		if (!p->last_hop && (p->priv_flags & PRIV_F_FORWARD_SYN))
			return VERDICT_FORWARD;
		return M(ACCEPTED_SYN);
	}
	if (p->last_hop)
		return M(ACCEPTED_LAST_HOP);
	set_ports(f, th->source, th->dest);
	/* The syncookie helper reads the addresses from the IP header, which
	 * lies before th in the linear area. */
	if (f->tuple_len == sizeof(f->tuple.ipv4)) {
		iph = pkt_ptr_linear(p->skb, f->l3_off, sizeof(struct iphdr));
		return iph ? lookup_tcp(p, f, iph, sizeof(struct iphdr), th) : M(ERR_MALFORMED_TCP);
	}
	iph = pkt_ptr_linear(p->skb, f->l3_off, sizeof(struct ipv6hdr));
	return iph ? lookup_tcp(p, f, iph, sizeof(struct ipv6hdr), th) : M(ERR_MALFORMED_TCP);
}

static __always_inline int classify_udp(struct packet *p, struct flow *f)
{
	struct udphdr *uh = pkt_ptr(p->skb, f->l4_off, sizeof(*uh));
	__u32 len;

	if (!uh || f->l4_off + sizeof(*uh) > f->l4_end)
		return M(ERR_MALFORMED_UDP);
	len = bpf_ntohs(uh->len);
	if (len < sizeof(*uh) || f->l4_off + len > f->l4_end)
		return M(ERR_MALFORMED_UDP);
	if (p->last_hop)
		return M(ACCEPTED_LAST_HOP);
	set_ports(f, uh->source, uh->dest);
	return lookup_udp(p, f);
}

/*
 * An ICMP error quotes a packet this server sent to the client.  Classify the
 * flow it belongs to, seen from the client: source and destination swapped.
 * This way frag-needed / packet-too-big reach the server that holds the
 * connection, and PMTU discovery keeps working across the chain.
 */
static int classify_icmp_error(struct packet *p, struct flow *f, bool pmtu)
{
	struct flow q = {};
	int malformed = pmtu ? M(ERR_MALFORMED_ICMP_PKT_TOO_BIG) : M(ERR_MALFORMED_ICMP);
	__u32 off = f->l4_off + 8;
	__be16 ports[2];

	if (f->tuple_len == sizeof(f->tuple.ipv4)) {
		struct iphdr ip;

		if (off + sizeof(ip) > f->l4_end || bpf_skb_load_bytes(p->skb, off, &ip, sizeof(ip)) ||
		    ip.version != 4 || ip.ihl < 5)
			return malformed;
		if (ip.frag_off & bpf_htons(IP_OFFSET))
			return M(ERR_FRAGMENTED_IP);
		q.l4_proto = ip.protocol;
		q.tuple.ipv4.saddr = ip.daddr;
		q.tuple.ipv4.daddr = ip.saddr;
		q.tuple_len = sizeof(q.tuple.ipv4);
		off += ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;
		int proto;

		if (off + sizeof(ip6) > f->l4_end || bpf_skb_load_bytes(p->skb, off, &ip6, sizeof(ip6)) ||
		    ip6.version != 6)
			return malformed;
		off += sizeof(ip6);
		proto = skip_ipv6_ext(p->skb, ip6.nexthdr, &off, f->l4_end, &q, MAX_QUOTED_EXT_HDRS);
		if (proto < 0)
			return malformed;
		if (q.frag6 & IP6_OFFSET)
			return M(ERR_FRAGMENTED_IP);
		q.l4_proto = proto;
		__builtin_memcpy(q.tuple.ipv6.saddr, &ip6.daddr, 16);
		__builtin_memcpy(q.tuple.ipv6.daddr, &ip6.saddr, 16);
		q.tuple_len = sizeof(q.tuple.ipv6);
	}
	if (q.l4_proto != IPPROTO_TCP && q.l4_proto != IPPROTO_UDP)
		return M(ERR_UNWANTED_ICMP);
	/* RFC 792 / 4443: at least the first 8 bytes of the L4 header are
	 * quoted; we need the ports. */
	if (off + sizeof(ports) > f->l4_end || bpf_skb_load_bytes(p->skb, off, ports, sizeof(ports)))
		return malformed;
	if (p->last_hop)
		return M(ACCEPTED_LAST_HOP);
	set_ports(&q, ports[1], ports[0]);
	if (q.l4_proto == IPPROTO_TCP)
		return lookup_tcp(p, &q, NULL, 0, NULL);
	return lookup_udp(p, &q);
}

static __always_inline int classify_icmp(struct packet *p, struct flow *f)
{
	struct icmphdr *ih = pkt_ptr(p->skb, f->l4_off, sizeof(*ih));
	__u8 type, code;

	if (!ih || f->l4_off + sizeof(*ih) > f->l4_end)
		return M(ERR_MALFORMED_ICMP);
	type = ih->type;
	code = ih->code;
	if (f->tuple_len == sizeof(f->tuple.ipv4)) {
		switch (type) {
		case ICMP_ECHO:
			return M(ACCEPTED_ICMP_ECHO_REQUEST);
		case ICMP_ECHOREPLY:
			return M(ERR_ICMP_ECHO_REPLIES);
		case ICMP_DEST_UNREACH:
		case ICMP_TIME_EXCEEDED:
		case ICMP_PARAMETERPROB:
			return classify_icmp_error(p, f, type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED);
		}
	} else {
		switch (type) {
		case ICMPV6_ECHO_REQUEST:
			return M(ACCEPTED_ICMP_ECHO_REQUEST);
		case ICMPV6_ECHO_REPLY:
			return M(ERR_ICMP_ECHO_REPLIES);
		case ICMPV6_DEST_UNREACH:
		case ICMPV6_PKT_TOOBIG:
		case ICMPV6_TIME_EXCEED:
		case ICMPV6_PARAMPROB:
			return classify_icmp_error(p, f, type == ICMPV6_PKT_TOOBIG);
		}
	}
	return M(ERR_UNWANTED_ICMP);
}

/* Decides the fate of a valid encapsulated packet from its inner packet.
 * Returns the counter of the outcome (VERDICT_FORWARD: forward). */
static __always_inline int classify(struct packet *p)
{
	struct flow f = { .l3_off = p->inner_off };
	bool v4 = p->inner_proto == IPPROTO_IPIP;
	int err;

	if (v4) {
		p->metrics->counters[M(L3_IPV4)]++;
		err = parse_ipv4(p->skb, &f, p->ip_end);
	} else {
		p->metrics->counters[M(L3_IPV6)]++;
		err = parse_ipv6(p->skb, &f, p->ip_end);
	}
	if (err)
		return err;
	/* A fragment does not show which flow it belongs to; only the last hop
	 * may take it, and the local stack reassembles it. */
	if (f.fragment)
		return p->last_hop ? M(ACCEPTED_LAST_HOP) : M(ERR_FRAGMENTED_IP);

	switch (f.l4_proto) {
	case IPPROTO_TCP:
		p->metrics->counters[M(L4_TCP)]++;
		return classify_tcp(p, &f);
	case IPPROTO_UDP:
		p->metrics->counters[M(L4_UDP)]++;
		return classify_udp(p, &f);
	case IPPROTO_ICMP:
		if (!v4)
			break;
		p->metrics->counters[M(L4_ICMP)]++;
		return classify_icmp(p, &f);
	case IPPROTO_ICMPV6:
		if (v4)
			break;
		p->metrics->counters[M(L4_ICMP)]++;
		return classify_icmp(p, &f);
	}
	return M(ERR_UNKNOWN_L4_PROTO);
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
static __always_inline int accept_locally(struct packet *p, int counter)
{
	struct __sk_buff *skb = p->skb;
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
		return drop(p, M(ERR_ENCAP_ADJUST_FAILED));
	if (p->inner_proto == IPPROTO_IPIP)
		return finish(p, counter, TC_ACT_OK);

	eth = pkt_ptr(skb, 0, sizeof(*eth));
	if (!eth)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	skb->tc_index = REENTRY_MARK;
	return finish(p, counter, bpf_redirect(skb->ifindex, BPF_F_INGRESS));
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Never send to an address that cannot be a server: this network, loopback,
 * multicast, reserved and broadcast. */
static __always_inline bool hop_is_unicast(__be32 hop)
{
	__u8 first = bpf_ntohl(hop) >> 24;

	return first != 0 && first != 127 && first < 224;
}

/*
 * GUE forward: the packet keeps its size and its encapsulation; only the
 * outer addresses, next_hop and the checksums change, and it leaves through
 * the interface it came in on, back to the router it came from (MACs
 * swapped: no neighbour lookup in the fast path).
 */
static __always_inline int forward_gue(struct packet *p, __be32 hop)
{
	struct __sk_buff *skb = p->skb;
	struct cls_redirect_priv *priv;
	struct ethhdr *eth;
	struct iphdr *ip;
	__u16 old_word, new_word;
	bool udp_csum;

	eth = pkt_ptr(skb, 0, OFF_HOPS);
	if (!eth)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	ip = (void *)eth + OFF_OUTER_IP;
	priv = (void *)eth + OFF_PRIV;
	udp_csum = ((struct udphdr *)((void *)eth + OFF_UDP))->check != 0;

	swap_macs(eth);
	/* saddr: old source -> our address (= old destination); daddr: ours ->
	 * hop.  Net change to the header sum: old source -> hop. */
	ip->check = csum_apply(ip->check, csum_diff4(p->old_saddr, hop));
	ip->saddr = p->addr;
	ip->daddr = hop;
	old_word = *(__u16 *)&priv->next_hop;
	priv->next_hop++;
	new_word = *(__u16 *)&priv->next_hop;

	if (udp_csum) {
		/* The helpers know the skb's checksum state: in CHECKSUM_PARTIAL
		 * only the pseudo-header part is in the field, and in
		 * CHECKSUM_COMPLETE skb->csum follows the field. */
		if (bpf_l4_csum_replace(skb, OFF_UDP + offsetof(struct udphdr, check), p->old_saddr, hop,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | sizeof(hop)) ||
		    bpf_l4_csum_replace(skb, OFF_UDP + offsetof(struct udphdr, check), old_word, new_word,
					BPF_F_MARK_MANGLED_0 | sizeof(old_word)))
			return drop(p, M(ERR_ENCAP_ADJUST_FAILED));
	} else {
		/* Nothing in the packet compensates the next_hop change: keep a
		 * CHECKSUM_COMPLETE skb->csum true (no-op in other states). */
		bpf_csum_update(skb, csum_diff2(old_word, new_word));
	}
	return finish(p, M(FORWARDED_GUE), bpf_redirect(skb->ifindex, 0));
}

/*
 * GRE forward to the final hop, for servers that terminate plain GRE:
 * UDP, GUE, private header and hops are replaced by a 4-byte GRE header.  The
 * packet only shrinks.  The inner TTL is decremented like a router would,
 * since nothing else stops a GRE loop.
 */
static __always_inline int forward_gre(struct packet *p, __be32 hop)
{
	struct __sk_buff *skb = p->skb;
	bool v6 = p->inner_proto == IPPROTO_IPV6;
	__u32 shrink = ENCAP_LEN(p->hop_count) - OUTER_IP_LEN - 4;
	__u32 ttl_off = p->inner_off + (v6 ? offsetof(struct ipv6hdr, hop_limit) : offsetof(struct iphdr, ttl));
	__u32 csum_diff = 0;
	struct ethhdr *eth;
	struct iphdr *ip;
	__be16 *gre;
	__u8 *ttl;
	__u16 word;
	__u32 sum = 0;

	ttl = pkt_ptr(skb, ttl_off, 1);
	if (!ttl)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	if (*ttl <= 1)
		return drop(p, M(ERR_REDIRECT_LOOP));

	/* The checksum state goes as in accept_locally(). */
	if (bpf_skb_adjust_room(skb, -(int)shrink, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_FIXED_GSO))
		return drop(p, M(ERR_ENCAP_ADJUST_FAILED));

	/* Ethernet, IPv4, GRE and the inner header up to its checksum. */
	eth = pkt_ptr(skb, 0, ETH_HDR_LEN + OUTER_IP_LEN + 4 + 12);
	if (!eth)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	swap_macs(eth);

	ip = (void *)eth + OFF_OUTER_IP;
	ip->protocol = IPPROTO_GRE;
	ip->saddr = p->addr;
	ip->daddr = hop;
	ip->tot_len = bpf_htons(p->ip_end - ETH_HDR_LEN - shrink);
	ip->check = 0;
#pragma unroll
	for (int i = 0; i < OUTER_IP_LEN / 2; i++)
		sum += ((__u16 *)ip)[i];
	ip->check = ~csum_fold(sum);

	gre = (void *)eth + OFF_UDP;
	csum_diff += csum_diff4(*(__be32 *)gre, v6 ? bpf_htonl(ETH_P_IPV6) : bpf_htonl(ETH_P_IP));
	gre[0] = 0;
	gre[1] = v6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);

	if (v6) {
		struct ipv6hdr *ip6 = (void *)(gre + 2);

		word = *(__u16 *)&ip6->nexthdr;
		ip6->hop_limit--;
		csum_diff += csum_diff2(word, *(__u16 *)&ip6->nexthdr);
	} else {
		struct iphdr *inner = (void *)(gre + 2);

		/* TTL and checksum change together: the header's sum stays. */
		word = *(__u16 *)&inner->ttl;
		inner->ttl--;
		inner->check = csum_apply(inner->check, csum_diff2(word, *(__u16 *)&inner->ttl));
	}
	bpf_csum_update(skb, csum_diff);
	return finish(p, M(FORWARDED_GRE), bpf_redirect(skb->ifindex, 0));
}

static __always_inline int forward(struct packet *p)
{
	struct __sk_buff *skb = p->skb;
	__u32 k = p->next_hop;
	bool gre = (p->priv_flags & PRIV_F_LAST_HOP_GRE) && k + 1 == p->hop_count;
	__u32 out_len = p->ip_end - ETH_HDR_LEN;
	__be32 *hopp;
	__be32 hop;

	if (k >= GUE_MAX_HOPS)
		return drop(p, M(ERR_INVALID_NEXT_HOP));
	hopp = pkt_ptr(skb, OFF_HOPS + k * 4, sizeof(hop));
	if (!hopp)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	hop = *hopp;
	if (!hop_is_unicast(hop))
		return drop(p, M(ERR_INVALID_HOP));
	if (hop == p->addr)
		return drop(p, M(ERR_REDIRECT_LOOP));
	if (gre)
		out_len -= ENCAP_LEN(p->hop_count) - OUTER_IP_LEN - 4;
	/* GSO packets are cut to size by the stack on the way out. */
	if (p->mtu && out_len > p->mtu && !skb->gso_size)
		return drop(p, M(ERR_ENCAP_MTU_VIOLATE));
	return gre ? forward_gre(p, hop) : forward_gue(p, hop);
}

/* ---------------------------------------------------------------- outer -- */

/*
 * The outer header is not the plain 20-byte IPv4 header we expect.  If the
 * packet is still addressed to our UDP port it is ours and malformed (the
 * director never sends IP options); otherwise it is somebody else's.
 */
static int outer_not_plain(struct packet *p, __u8 ver_ihl, __be16 port)
{
	__u32 ihl = ver_ihl & 0x0f;
	__be16 dport;

	if (ihl < 5)
		return finish(p, M(PASSED), TC_ACT_UNSPEC);
	if (bpf_skb_load_bytes(p->skb, ETH_HDR_LEN + ihl * 4 + offsetof(struct udphdr, dest), &dport,
			       sizeof(dport)) ||
	    dport != port)
		return finish(p, M(PASSED), TC_ACT_UNSPEC);
	return drop(p, M(ERR_MALFORMED_OUTER_IP));
}

/*
 * Validates outer IPv4, UDP, GUE and private header of a packet addressed to
 * us (the first 50 bytes are linear); then classifies and acts.
 *
 * It reads the forwarding settings from the config map itself, and in the
 * legacy flavour it is never inlined: iproute2's legacy ELF loader only loads
 * the subprograms in .text (classify_icmp_error, outer_not_plain) when .text
 * has relocations of its own, and a map reference is the one kind it accepts
 * there.  The BTF flavour inlines it and saves a call (a BPF-to-BPF call and
 * its return cost about 10 ns on a machine with return-stack mitigations).
 * The second lookup of a one-entry array costs a few instructions (the
 * verifier inlines it) and only on our own traffic.
 */
#ifdef CLS_REDIRECT_LEGACY_MAPS
#define HANDLE_ENCAPSULATED_INLINE __attribute__((noinline))
#else
#define HANDLE_ENCAPSULATED_INLINE __always_inline
#endif
static HANDLE_ENCAPSULATED_INLINE int handle_encapsulated(struct packet *p)
{
	const struct cls_redirect_config *cfg;
	__u32 key = 0;
	struct __sk_buff *skb = p->skb;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct cls_redirect_priv *priv;
	struct cls_redirect_gue *gue;
	struct udphdr *udp;
	struct iphdr *ip;
	__u32 ip_len, n;
	int verdict;

	cfg = bpf_map_lookup_elem(&cls_redirect_config, &key);
	if (cfg) {
		p->mtu = cfg->mtu;
		p->last_hop = cfg->flags & CLS_REDIRECT_F_NO_FORWARD;
	}
	if (data + OFF_HOPS > end)
		return drop(p, M(ERR_ENCAP_BUFFER_TOO_SMALL));
	ip = data + OFF_OUTER_IP;
	udp = data + OFF_UDP;
	gue = data + OFF_GUE;
	priv = data + OFF_PRIV;

	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return drop(p, M(ERR_FRAGMENTED_OUTER_IP));
	ip_len = bpf_ntohs(ip->tot_len);
	if (ip_len < OFF_HOPS - ETH_HDR_LEN || ip_len > skb->len - ETH_HDR_LEN ||
	    bpf_ntohs(udp->len) != ip_len - OUTER_IP_LEN)
		return drop(p, M(ERR_MALFORMED_OUTER_IP));

	if ((gue->vchlen & (GUE_VARIANT_MASK | GUE_CONTROL_BIT)) || gue->flags ||
	    (priv->vflags & PRIV_VERSION_MASK) || priv->reserved)
		return drop(p, M(ERR_MALFORMED_ENCAPSULATION));
	n = priv->hop_count;
	if ((gue->vchlen & GUE_HLEN_MASK) != n + 1 || ENCAP_LEN(n) > ip_len)
		return drop(p, M(ERR_MALFORMED_ENCAPSULATION));
	if (priv->next_hop > n)
		return drop(p, M(ERR_INVALID_NEXT_HOP));
	if (gue->proto_ctype != IPPROTO_IPIP && gue->proto_ctype != IPPROTO_IPV6)
		return drop(p, M(ERR_UNKNOWN_L3_PROTO));

	p->ip_end = ETH_HDR_LEN + ip_len;
	p->inner_off = ETH_HDR_LEN + ENCAP_LEN(n);
	p->old_saddr = ip->saddr;
	p->hop_count = n;
	p->next_hop = priv->next_hop;
	p->priv_flags = priv->vflags;
	p->inner_proto = gue->proto_ctype;
	p->last_hop = p->last_hop || priv->next_hop == n;

	verdict = classify(p);
	if (verdict == VERDICT_FORWARD)
		return forward(p);
	if (verdict >= CLS_REDIRECT_METRIC_FIRST_ACCEPTED && verdict < CLS_REDIRECT_METRIC_FIRST_FORWARDED)
		return accept_locally(p, verdict);
	return drop(p, verdict);
}

SEC("classifier")
int cls_redirect(struct __sk_buff *skb)
{
	const struct cls_redirect_config *cfg;
	struct packet p = { .skb = skb };
	__u32 key = 0;
	void *data, *end;
	struct udphdr *udp;
	struct iphdr *ip;

	if (skb->tc_index == REENTRY_MARK) {
		skb->tc_index = 0;
		return TC_ACT_UNSPEC;
	}
	p.metrics = bpf_map_lookup_elem(&cls_redirect_metrics, &key);
	if (!p.metrics)
		return TC_ACT_UNSPEC; /* cannot happen: one-entry array */
	cfg = bpf_map_lookup_elem(&cls_redirect_config, &key);
	if (!cfg || cfg->version != CLS_REDIRECT_CONFIG_VERSION || !cfg->addr ||
	    skb->protocol != bpf_htons(ETH_P_IP) || skb->len < OFF_HOPS)
		return finish(&p, M(PASSED), TC_ACT_UNSPEC);

	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + OFF_HOPS > end) {
		if (bpf_skb_pull_data(skb, OFF_HOPS))
			return finish(&p, M(PASSED), TC_ACT_UNSPEC);
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + OFF_HOPS > end)
			return finish(&p, M(PASSED), TC_ACT_UNSPEC);
	}
	ip = data + OFF_OUTER_IP;
	udp = data + OFF_UDP;
	if (ip->daddr != cfg->addr || ip->protocol != IPPROTO_UDP)
		return finish(&p, M(PASSED), TC_ACT_UNSPEC);
	p.addr = cfg->addr;
	if (*(__u8 *)ip != 0x45)
		return outer_not_plain(&p, *(__u8 *)ip, cfg->port);
	if (udp->dest != cfg->port)
		return finish(&p, M(PASSED), TC_ACT_UNSPEC);
	return handle_encapsulated(&p);
}

char _license[] SEC("license") = "Dual BSD/GPL";
