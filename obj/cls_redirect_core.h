/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The decision core of cls_redirect: parsing, validation and classification,
 * the same for every attach point.  The man page, DECISION TABLE, lists every
 * check in the order this file makes them.
 *
 * An entry point (obj/cls_redirect.c for tc) includes this file after it has
 * defined what is specific to its program context:
 *
 *   CLS_REDIRECT_CTX                 the context type (struct __sk_buff, ...)
 *   ctx_head(ctx, len)               the first len bytes of the frame, made
 *                                    linear if needed, or NULL
 *   ctx_ptr(ctx, off, len)           len bytes at frame offset off, made
 *                                    linear if needed (invalidating earlier
 *                                    packet pointers), or NULL
 *   ctx_ptr_linear(ctx, off, len)    the same without making anything linear
 *                                    (earlier packet pointers stay valid)
 *   ctx_load_bytes(ctx, off, b, n)   copy n bytes at off to b; 0 or < 0
 *   ctx_len(ctx)                     the frame's length
 *   ctx_is_ipv4(ctx)                 the frame carries IPv4 (EtherType)
 *   ctx_is_gso(ctx)                  the packet is a GSO super-packet, cut
 *                                    to size on the way out
 *
 * decide() returns a struct verdict: what to do (pass, accept, forward, drop)
 * and why (the counter to bump).  The entry point acts on the action and
 * bumps the counter with count(); no decision depends on where a counter
 * sits in the list.  A lookup that classification needs (a socket, a map)
 * is a function here; what a verdict does to the packet (strip headers,
 * rewrite and send) belongs to the entry point.
 *
 * Everything the tools need lives in pinned maps (no .data/.rodata: tc pins
 * none of those, and the legacy loader cannot relocate them; the BTF
 * flavours keep only the trust lists' remembered addresses in .bss, which
 * nothing outside the program reads).  Only helpers available in Linux 5.10
 * are used.
 */
#ifndef CLS_REDIRECT_CORE_H
#define CLS_REDIRECT_CORE_H

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

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "cls_redirect_maps.h"

CLS_REDIRECT_MAP(cls_redirect_config, CLS_REDIRECT_CONFIG_MAP_TYPE, __u32, struct cls_redirect_config,
		 CLS_REDIRECT_SINGLE_ENTRY);
CLS_REDIRECT_MAP(cls_redirect_metrics, CLS_REDIRECT_METRICS_MAP_TYPE, __u32, struct cls_redirect_metrics,
		 CLS_REDIRECT_SINGLE_ENTRY);
CLS_REDIRECT_MAP_FLAGS(cls_redirect_sources, CLS_REDIRECT_TRUST_MAP_TYPE, struct cls_redirect_prefix,
		       struct cls_redirect_trust, CLS_REDIRECT_TRUST_ENTRIES, CLS_REDIRECT_TRUST_MAP_FLAGS);
CLS_REDIRECT_MAP_FLAGS(cls_redirect_hops, CLS_REDIRECT_TRUST_MAP_TYPE, struct cls_redirect_prefix,
		       struct cls_redirect_trust, CLS_REDIRECT_TRUST_ENTRIES, CLS_REDIRECT_TRUST_MAP_FLAGS);
/*
 * Addresses found in a trust list, see listed(): one 64-bit slot per hash,
 * 1 << TRUST_CACHE_BITS slots per list.  The BTF flavours keep them in the
 * object's global data (.bss, a one-entry array map libbpf creates with the
 * program and never pins): a slot is then one load from an address the
 * verifier checked once, where a map lookup spills the key to the stack and
 * reads it back (make bench: 1 to 2 ns less where one list is looked at,
 * 5 to 7.6 ns where both are: forward).
 * iproute2's legacy loader knows no global data; the legacy flavours keep a
 * private array map.
 */
#define TRUST_CACHE_BITS 10
#define TRUST_CACHE_SOURCES 0
#define TRUST_CACHE_HOPS 1
#ifdef CLS_REDIRECT_LEGACY_MAPS
CLS_REDIRECT_PRIVATE_MAP(cls_redirect_trust_cache, BPF_MAP_TYPE_ARRAY, __u32, __u64,
			 2 << TRUST_CACHE_BITS);
static __always_inline __u64 *trust_slot(__u32 slot)
{
	return bpf_map_lookup_elem(&cls_redirect_trust_cache, &slot);
}
#else
static __u64 trust_cache[2 << TRUST_CACHE_BITS];
static __always_inline __u64 *trust_slot(__u32 slot)
{
	return &trust_cache[slot];
}
#endif
CLS_REDIRECT_MAP(cls_redirect_services, CLS_REDIRECT_SERVICES_MAP_TYPE, struct cls_redirect_service_key,
		 struct cls_redirect_service, CLS_REDIRECT_SERVICES_MAX);

/* No libc on this side. */
#define CLS_REDIRECT_AF_INET 2
#define CLS_REDIRECT_ENODEV 19

/* Furthest frame offset we ever parse (IPv6 extension headers included);
 * a mask as well, see skip_ipv6_ext(). */
#define MAX_PARSE_OFF 0x3fff
#define MAX_IPV6_EXT_HDRS 8
/* A quoted packet is one this server sent: Linux puts at most a hop-by-hop
 * and a fragment header in front of TCP or UDP. */
#define MAX_QUOTED_EXT_HDRS 4

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define IP6_OFFSET 0xfff8
/* IPv6 fragment headers are remembered as "seen" | offset and M bits. */
#define FRAG6_SEEN 0x10000
/* RFC 8200 4.5: the fragment header is 8 bytes; other extension headers give
 * their length in 8-byte units, not counting the first 8. */
#define IPV6_EXT_UNIT 8
/* RFC 792 / 4443: the quote of an ICMP error starts after the 8-byte header. */
#define ICMP_ERR_HDR_LEN 8

#define M(id) CLS_REDIRECT_METRIC_##id

/* ------------------------------------------------------------ verdicts -- */

enum action {
	ACTION_PASS,    /* not ours: leave the packet untouched */
	ACTION_ACCEPT,  /* decapsulate and deliver locally (packet.svc_ifindex:
			 * into that service's namespace) */
	ACTION_FORWARD, /* send on to packet.hop (GUE, or GRE to the final hop) */
	ACTION_DROP,
};

/* 32-bit fields: 5.10 and 6.1 check 1,000 instructions fewer than with
 * bytes, which the compiler widens on every use. */
struct verdict {
	__u32 action; /* enum action */
	__u32 reason; /* enum cls_redirect_metric: the counter of the outcome */
};

#define VERDICT(act, id) ((struct verdict){ .action = ACTION_##act, .reason = M(id) })
#define PASS() VERDICT(PASS, PASSED)
#define ACCEPT(id) VERDICT(ACCEPT, id)
#define DROP(id) VERDICT(DROP, id)
/* Classification only says "not here"; decide_forward() checks the hop and
 * picks GUE or GRE. */
#define FORWARD() VERDICT(FORWARD, FORWARDED_GUE)

/*
 * An entry point sets ctx, metrics and svc_ifindex (0), and l4_metric (0) if
 * it reads it, and nothing else: decide() writes every other field before it
 * reads it.  Not zeroed as a whole, which cost every packet, passed ones too,
 * a store per 8 bytes (make bench).
 */
struct packet {
	CLS_REDIRECT_CTX *ctx;
	struct cls_redirect_metrics *metrics;
	__be32 addr;      /* our encapsulation endpoint */
	__u32 mtu;        /* 0 = unchecked */
	__u32 ip_end;     /* frame offset of the end of the outer IPv4 packet */
	__u32 inner_off;  /* frame offset of the inner packet */
	__be32 old_saddr; /* outer source as received */
	__be32 hop;       /* ACTION_FORWARD: where to */
	__u8 hop_count;
	__u8 next_hop;
	__u8 priv_flags;
	__u8 inner_proto; /* IPPROTO_IPIP or IPPROTO_IPV6 */
	bool last_hop;    /* no alternative left, or forwarding disabled */
	bool route;       /* CLS_REDIRECT_F_ROUTE: the entry point sends along the
			   * host's route to hop (tc-cls-redirect.8, ROUTE MODE) */
	/* The inner destination is a service (cls_redirect_services): socket
	 * lookups happen in namespace svc_netnsid, and an accepted packet is
	 * delivered through the veth svc_ifindex.  0 = the host namespace. */
	__u32 svc_ifindex;
	__u32 svc_netnsid;
	/* CLS_REDIRECT_F_SERVICES*: which lookups of the services map can hit */
	__u16 services;
	/* cls_redirect_config.trust_gen, read before any trust list */
	__u32 trust_gen;
	/* The l4_* counter classify() bumped (0: none), so an entry point that
	 * hands the decision on (XDP, for a service) can take it back.  Only
	 * such an entry point sets it to 0 first: tc never reads it. */
	__u32 l4_metric;
};

/* The inner packet's flow, as far as classification needs it. */
struct flow {
	struct bpf_sock_tuple tuple;
	bool v6;
	__u32 l3_off;
	__u32 l4_off;
	__u32 l4_end;
	__u8 l4_proto;
	bool fragment;        /* any fragment header / MF / offset */
	bool later_fragment;  /* offset != 0: no L4 header in this packet */
	/* IPv6: FRAG6_SEEN | the offset and M words of every fragment header,
	 * ORed; 0 if there is none. */
	__u32 frag6;
};

static __always_inline __u32 flow_tuple_len(const struct flow *f)
{
	return f->v6 ? sizeof(f->tuple.ipv6) : sizeof(f->tuple.ipv4);
}

/*
 * Counts the packet as processed and in the outcome counter named by reason,
 * together, when the outcome is final, so processed = sum of outcomes holds
 * for every reader.
 */
static __always_inline void count(struct packet *p, __u32 reason)
{
	__u64 idx = reason;

	p->metrics->counters[M(PROCESSED)]++;
	/* A reason the compiler knows (pass, forward) needs no check: a
	 * constant offset, and no common block with a variable index that
	 * every path would jump to (make bench: not_ours 1.9 ns less). */
	if (__builtin_constant_p(reason)) {
		p->metrics->counters[reason]++;
		return;
	}
	/* The compiler knows every reason is in range and would drop the
	 * check, or make it on a copy of the value; the verifier needs it on
	 * the register that indexes (64 bits wide: no zero extension between
	 * the check and the use). */
	barrier_var(idx);
	if (idx < CLS_REDIRECT_METRIC_COUNT) {
		barrier_var(idx);
		p->metrics->counters[idx]++;
	}
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
 * packet.  Extension headers are rare, so they are copied instead of being
 * made linear.
 */
static __always_inline int skip_ipv6_ext(CLS_REDIRECT_CTX *ctx, __u8 nexthdr, __u32 *off, __u32 end,
					 struct flow *f, const int max)
{
	__u32 pos = *off;

	/*
	 * Forget where the walk starts: pos ^ end ^ end is pos, but the
	 * verifier only keeps the bits known in both operands of a xor, and
	 * end comes from the packet, so to it pos is now any 32-bit value,
	 * after the first header as well (an addition to such a value can
	 * wrap).  Every chain length, none included, then ends in the same
	 * state, which the verifier follows through the rest of the program
	 * once, instead of once per chain length (on Linux 6.18 26,116
	 * instructions instead of 15,443).  A mask (pos &= MAX_PARSE_OFF)
	 * would not do: the verifier keeps the tighter of the two bounds.
	 * Every use of the offset is bounded where it is made: ctx_ptr()
	 * checks it against MAX_PARSE_OFF, a helper takes any offset.  Inline
	 * asm, so that the compiler, which sees a no-op, keeps it.
	 */
	asm volatile("%0 ^= %1; %0 ^= %1" : "+r"(pos) : "r"(end));
	/* Unrolled (max is a constant at each call site): 5.10 and 6.1 refuse
	 * a loop whose back edge is the fall-through of a helper call. */
#pragma unroll
	for (int i = 0; i < max + 1; i++) {
		__u8 hdr[4];

		if (!is_ext_hdr(nexthdr)) {
			*off = pos;
			return nexthdr;
		}
		if (i == max || pos + IPV6_EXT_UNIT > end || ctx_load_bytes(ctx, pos, hdr, sizeof(hdr)))
			return -1;
		if (nexthdr == IPPROTO_FRAGMENT) {
			/* Offset in the top 13 bits.  Kept as packet data, not
			 * as a flag set on this branch: the verifier then sees
			 * one state after the walk, not one per position of the
			 * fragment header.  ORed, so that a later header with
			 * offset 0 cannot hide an earlier non-first fragment. */
			f->frag6 |= FRAG6_SEEN | hdr[2] << 8 | hdr[3];
			pos += IPV6_EXT_UNIT;
		} else {
			pos += (hdr[1] + 1) * IPV6_EXT_UNIT;
		}
		nexthdr = hdr[0];
		if (pos > end || pos > MAX_PARSE_OFF)
			return -1;
	}
	return -1;
}

/* Parses the inner IPv4 header at f->l3_off, bounded by end. */
static __always_inline bool parse_ipv4(CLS_REDIRECT_CTX *ctx, struct flow *f, __u32 end)
{
	struct iphdr *ip = ctx_ptr(ctx, f->l3_off, sizeof(*ip));
	__u32 hlen, tot;

	if (!ip || f->l3_off + sizeof(*ip) > end || ip->version != 4 || ip->ihl < 5)
		return false;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || f->l3_off + tot > end)
		return false;
	f->fragment = ip->frag_off & bpf_htons(IP_MF | IP_OFFSET);
	f->later_fragment = ip->frag_off & bpf_htons(IP_OFFSET);
	f->l4_proto = ip->protocol;
	f->l4_off = f->l3_off + hlen;
	f->l4_end = f->l3_off + tot;
	f->tuple.ipv4.saddr = ip->saddr;
	f->tuple.ipv4.daddr = ip->daddr;
	f->v6 = false;
	return true;
}

static __always_inline bool parse_ipv6(CLS_REDIRECT_CTX *ctx, struct flow *f, __u32 end)
{
	struct ipv6hdr *ip6 = ctx_ptr(ctx, f->l3_off, sizeof(*ip6));
	__u32 off = f->l3_off + sizeof(*ip6);
	__u8 nexthdr;
	int proto;

	if (!ip6 || off > end || ip6->version != 6 || off + bpf_ntohs(ip6->payload_len) > end)
		return false;
	f->l4_end = off + bpf_ntohs(ip6->payload_len);
	__builtin_memcpy(f->tuple.ipv6.saddr, &ip6->saddr, 16);
	__builtin_memcpy(f->tuple.ipv6.daddr, &ip6->daddr, 16);
	f->v6 = true;
	nexthdr = ip6->nexthdr;
	proto = skip_ipv6_ext(ctx, nexthdr, &off, f->l4_end, f, MAX_IPV6_EXT_HDRS);
	if (proto < 0)
		return false;
	f->fragment = f->frag6 != 0;
	f->later_fragment = f->frag6 & IP6_OFFSET;
	f->l4_proto = proto;
	f->l4_off = off;
	return true;
}

/* ------------------------------------------------------- socket lookups -- */

/*
 * Whether the inner destination (f's daddr, proto, port in network order) is
 * a service in another namespace: its port first, then port 0 of the
 * address.  A hit points p's socket lookups and delivery at the service;
 * a miss leaves everything as for a host socket.  The first hit wins: an
 * echo request tries TCP, then UDP.
 */
static __always_inline void find_service(struct packet *p, const struct flow *f, __u8 proto, __be16 port)
{
	struct cls_redirect_service_key key = {};
	struct cls_redirect_service *svc;

	if (!p->services || p->svc_ifindex)
		return;
	key.proto = proto;
	/* Only the lookups that can hit: a port if some entry has one, port
	 * 0 if some entry has port 0. */
	key.port = (p->services & CLS_REDIRECT_F_SERVICES) ? port : 0;
	if (f->v6) {
		key.family = CLS_REDIRECT_SERVICE_V6;
		__builtin_memcpy(key.addr, f->tuple.ipv6.daddr, 16);
	} else {
		key.family = CLS_REDIRECT_SERVICE_V4;
		__builtin_memcpy(key.addr, &f->tuple.ipv4.daddr, 4);
	}
	if (key.port || (p->services & CLS_REDIRECT_F_SERVICES_ANY_PORT))
		svc = bpf_map_lookup_elem(&cls_redirect_services, &key);
	else
		svc = NULL;
	if (!svc && key.port && (p->services & CLS_REDIRECT_F_SERVICES_ANY_PORT)) {
		key.port = 0;
		svc = bpf_map_lookup_elem(&cls_redirect_services, &key);
	}
	if (svc && svc->ifindex) {
		p->svc_netnsid = svc->netnsid;
		p->svc_ifindex = svc->ifindex;
	}
}

/* The namespace socket lookups search: the service's (a netnsid, as the
 * device's namespace sees it), else the device's own.  A netnsid whose
 * namespace is gone finds no socket: such a flow is unknown here. */
static __always_inline __u64 lookup_netns(const struct packet *p)
{
	return p->svc_ifindex ? p->svc_netnsid : BPF_F_CURRENT_NETNS;
}

/*
 * Whether the service's veth still exists.  A deleted pod takes its veth
 * pair with it, and a redirect to a missing device would drop the packet
 * uncounted.  bpf_fib_lookup() looks the device up by ifindex first and
 * fails with -ENODEV when it is not there (Linux 4.18, tc and XDP alike);
 * it is only called for packets accepted for a service.
 */
static __always_inline bool service_present(struct packet *p)
{
	struct bpf_fib_lookup fib = {};

	fib.family = CLS_REDIRECT_AF_INET;
	fib.ifindex = p->svc_ifindex;
	return bpf_fib_lookup(p->ctx, &fib, sizeof(fib), 0) != -CLS_REDIRECT_ENODEV;
}

static __always_inline void set_ports(struct flow *f, __be16 sport, __be16 dport)
{
	if (f->v6) {
		f->tuple.ipv6.sport = sport;
		f->tuple.ipv6.dport = dport;
	} else {
		f->tuple.ipv4.sport = sport;
		f->tuple.ipv4.dport = dport;
	}
}

/*
 * A TCP flow is local if any non-listening socket matches it: established,
 * SYN-received (request sockets live in the established hash), time-wait,
 * closing.  bpf_skc_lookup_tcp finds all of those, in the namespace of the
 * device or of the service (lookup_netns).  A listener alone means "unknown", unless this is the ACK
 * completing a SYN-cookie handshake with it (the kernel keeps no state for
 * those, so only the cookie shows the connection is ours).
 */
static __always_inline struct verdict lookup_tcp(struct packet *p, struct flow *f, void *iph, __u32 iph_len,
						 struct tcphdr *th)
{
	struct verdict v = FORWARD();
	struct bpf_sock *sk;

	/* Two calls with constant sizes: the verifier wants a known size. */
	sk = f->v6 ? bpf_skc_lookup_tcp(p->ctx, &f->tuple, sizeof(f->tuple.ipv6), lookup_netns(p), 0) :
		     bpf_skc_lookup_tcp(p->ctx, &f->tuple, sizeof(f->tuple.ipv4), lookup_netns(p), 0);
	if (!sk)
		return v;
	if (sk->state != BPF_TCP_LISTEN)
		v = ACCEPT(ACCEPTED_ESTABLISHED);
	else if (th && bpf_tcp_check_syncookie(sk, iph, iph_len, th, sizeof(*th)) == 0)
		v = ACCEPT(ACCEPTED_SYN_COOKIES);
	bpf_sk_release(sk);
	return v;
}

/* UDP flows are local only for a connected socket: an unconnected one would
 * match every client and keep all of them here, drained or not. */
static __always_inline struct verdict lookup_udp(struct packet *p, struct flow *f)
{
	struct verdict v = FORWARD();
	struct bpf_sock *sk;

	sk = f->v6 ? bpf_sk_lookup_udp(p->ctx, &f->tuple, sizeof(f->tuple.ipv6), lookup_netns(p), 0) :
		     bpf_sk_lookup_udp(p->ctx, &f->tuple, sizeof(f->tuple.ipv4), lookup_netns(p), 0);
	if (!sk)
		return v;
	if (sk->state == BPF_TCP_ESTABLISHED)
		v = ACCEPT(ACCEPTED_ESTABLISHED);
	bpf_sk_release(sk);
	return v;
}

/* ------------------------------------------------------------ classify -- */

static __always_inline struct verdict classify_tcp(struct packet *p, struct flow *f)
{
	struct tcphdr *th = ctx_ptr(p->ctx, f->l4_off, sizeof(*th));
	void *iph;

	if (!th || f->l4_off + sizeof(*th) > f->l4_end || th->doff < 5 ||
	    f->l4_off + th->doff * 4 > f->l4_end)
		return DROP(ERR_MALFORMED_TCP);
	/* Before the SYN and last-hop rows: those go to the service too. */
	find_service(p, f, IPPROTO_TCP, th->dest);
	/* Only a SYN without ACK opens a connection; a SYN-ACK belongs to one. */
	if (th->syn && !th->ack) {
		if (!p->last_hop && (p->priv_flags & PRIV_F_FORWARD_SYN))
			return FORWARD();
		return ACCEPT(ACCEPTED_SYN);
	}
	if (p->last_hop)
		return ACCEPT(ACCEPTED_LAST_HOP);
	set_ports(f, th->source, th->dest);
	/* The syncookie helper reads the addresses from the IP header, which
	 * lies before th in the linear area. */
	if (f->v6) {
		iph = ctx_ptr_linear(p->ctx, f->l3_off, sizeof(struct ipv6hdr));
		return iph ? lookup_tcp(p, f, iph, sizeof(struct ipv6hdr), th) : DROP(ERR_MALFORMED_TCP);
	}
	iph = ctx_ptr_linear(p->ctx, f->l3_off, sizeof(struct iphdr));
	return iph ? lookup_tcp(p, f, iph, sizeof(struct iphdr), th) : DROP(ERR_MALFORMED_TCP);
}

static __always_inline struct verdict classify_udp(struct packet *p, struct flow *f)
{
	struct udphdr *uh = ctx_ptr(p->ctx, f->l4_off, sizeof(*uh));
	__u32 len;

	if (!uh || f->l4_off + sizeof(*uh) > f->l4_end)
		return DROP(ERR_MALFORMED_UDP);
	len = bpf_ntohs(uh->len);
	if (len < sizeof(*uh) || f->l4_off + len > f->l4_end)
		return DROP(ERR_MALFORMED_UDP);
	find_service(p, f, IPPROTO_UDP, uh->dest);
	if (p->last_hop)
		return ACCEPT(ACCEPTED_LAST_HOP);
	set_ports(f, uh->source, uh->dest);
	return lookup_udp(p, f);
}

/*
 * An ICMP error quotes a packet this server sent to the client.  Classify the
 * flow it belongs to, seen from the client: source and destination swapped.
 * This way frag-needed / packet-too-big reach the server that holds the
 * connection, and PMTU discovery keeps working across the chain.
 *
 * Left to the compiler, which keeps it out of line (the error paths are
 * cold); a BPF function that is not inlined cannot return a struct, so the
 * verdict comes back through *out.  Written this way, with *out set before
 * every return, the verifier checks 1,000 instructions fewer than with a
 * by-value body in a wrapper.
 */
static int classify_icmp_error(struct packet *p, struct flow *f, bool pmtu, struct verdict *out)
{
	struct verdict malformed = pmtu ? DROP(ERR_MALFORMED_ICMP_PKT_TOO_BIG) : DROP(ERR_MALFORMED_ICMP);
	struct flow q = {};
	__u32 off = f->l4_off + ICMP_ERR_HDR_LEN;
	__be16 ports[2];

	*out = malformed;
	if (!f->v6) {
		struct iphdr ip;

		if (off + sizeof(ip) > f->l4_end || ctx_load_bytes(p->ctx, off, &ip, sizeof(ip)) ||
		    ip.version != 4 || ip.ihl < 5)
			return 0;
		if (ip.frag_off & bpf_htons(IP_OFFSET)) {
			*out = DROP(ERR_FRAGMENTED_IP);
			return 0;
		}
		q.l4_proto = ip.protocol;
		q.tuple.ipv4.saddr = ip.daddr;
		q.tuple.ipv4.daddr = ip.saddr;
		q.v6 = false;
		off += ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;
		int proto;

		if (off + sizeof(ip6) > f->l4_end || ctx_load_bytes(p->ctx, off, &ip6, sizeof(ip6)) ||
		    ip6.version != 6)
			return 0;
		off += sizeof(ip6);
		proto = skip_ipv6_ext(p->ctx, ip6.nexthdr, &off, f->l4_end, &q, MAX_QUOTED_EXT_HDRS);
		if (proto < 0)
			return 0;
		if (q.frag6 & IP6_OFFSET) {
			*out = DROP(ERR_FRAGMENTED_IP);
			return 0;
		}
		q.l4_proto = proto;
		__builtin_memcpy(q.tuple.ipv6.saddr, &ip6.daddr, 16);
		__builtin_memcpy(q.tuple.ipv6.daddr, &ip6.saddr, 16);
		q.v6 = true;
	}
	if (q.l4_proto != IPPROTO_TCP && q.l4_proto != IPPROTO_UDP) {
		*out = DROP(ERR_UNWANTED_ICMP);
		return 0;
	}
	/* RFC 792 / 4443: at least the first 8 bytes of the L4 header are
	 * quoted; we need the ports. */
	if (off + sizeof(ports) > f->l4_end || ctx_load_bytes(p->ctx, off, ports, sizeof(ports)))
		return 0;
	/* The quoted packet left the service: its source is the service. */
	find_service(p, &q, q.l4_proto, ports[0]);
	if (p->last_hop) {
		*out = ACCEPT(ACCEPTED_LAST_HOP);
		return 0;
	}
	set_ports(&q, ports[1], ports[0]);
	*out = q.l4_proto == IPPROTO_TCP ? lookup_tcp(p, &q, NULL, 0, NULL) : lookup_udp(p, &q);
	return 0;
}

/* An echo request (a health check) is answered by the namespace holding
 * the address's port-0 service, TCP before UDP, else by the host. */
static __always_inline struct verdict echo_request(struct packet *p, struct flow *f)
{
	find_service(p, f, IPPROTO_TCP, 0);
	find_service(p, f, IPPROTO_UDP, 0);
	return ACCEPT(ACCEPTED_ICMP_ECHO_REQUEST);
}

static __always_inline struct verdict classify_icmp(struct packet *p, struct flow *f)
{
	struct icmphdr *ih = ctx_ptr(p->ctx, f->l4_off, sizeof(*ih));
	struct verdict v;
	__u8 type, code;
	bool pmtu;

	if (!ih || f->l4_off + sizeof(*ih) > f->l4_end)
		return DROP(ERR_MALFORMED_ICMP);
	type = ih->type;
	code = ih->code;
	if (!f->v6) {
		switch (type) {
		case ICMP_ECHO:
			return echo_request(p, f);
		case ICMP_ECHOREPLY:
			return DROP(ERR_ICMP_ECHO_REPLIES);
		case ICMP_DEST_UNREACH:
		case ICMP_TIME_EXCEEDED:
		case ICMP_PARAMETERPROB:
			pmtu = type == ICMP_DEST_UNREACH && code == ICMP_FRAG_NEEDED;
			classify_icmp_error(p, f, pmtu, &v);
			return v;
		}
	} else {
		switch (type) {
		case ICMPV6_ECHO_REQUEST:
			return echo_request(p, f);
		case ICMPV6_ECHO_REPLY:
			return DROP(ERR_ICMP_ECHO_REPLIES);
		case ICMPV6_DEST_UNREACH:
		case ICMPV6_PKT_TOOBIG:
		case ICMPV6_TIME_EXCEED:
		case ICMPV6_PARAMPROB:
			classify_icmp_error(p, f, type == ICMPV6_PKT_TOOBIG, &v);
			return v;
		}
	}
	return DROP(ERR_UNWANTED_ICMP);
}

/* Decides the fate of a valid encapsulated packet from its inner packet. */
static __always_inline struct verdict classify(struct packet *p)
{
	struct flow f = { .l3_off = p->inner_off };
	bool v4 = p->inner_proto == IPPROTO_IPIP;
	bool ok;

	if (v4) {
		p->metrics->counters[M(L3_IPV4)]++;
		ok = parse_ipv4(p->ctx, &f, p->ip_end);
	} else {
		p->metrics->counters[M(L3_IPV6)]++;
		ok = parse_ipv6(p->ctx, &f, p->ip_end);
	}
	if (!ok)
		return DROP(ERR_MALFORMED_IP);
	/* A fragment does not show which flow it belongs to; only the last hop
	 * may take it, and the local stack reassembles it. */
	if (f.fragment) {
		/* No port in a later fragment: the address's port-0 service
		 * of its protocol, if any, takes it. */
		if (p->last_hop && (f.l4_proto == IPPROTO_TCP || f.l4_proto == IPPROTO_UDP))
			find_service(p, &f, f.l4_proto, 0);
		return p->last_hop ? ACCEPT(ACCEPTED_LAST_HOP) : DROP(ERR_FRAGMENTED_IP);
	}

	switch (f.l4_proto) {
	case IPPROTO_TCP:
		p->l4_metric = M(L4_TCP);
		p->metrics->counters[M(L4_TCP)]++;
		return classify_tcp(p, &f);
	case IPPROTO_UDP:
		p->l4_metric = M(L4_UDP);
		p->metrics->counters[M(L4_UDP)]++;
		return classify_udp(p, &f);
	case IPPROTO_ICMP:
		if (!v4)
			break;
		p->l4_metric = M(L4_ICMP);
		p->metrics->counters[M(L4_ICMP)]++;
		return classify_icmp(p, &f);
	case IPPROTO_ICMPV6:
		if (v4)
			break;
		p->l4_metric = M(L4_ICMP);
		p->metrics->counters[M(L4_ICMP)]++;
		return classify_icmp(p, &f);
	}
	return DROP(ERR_UNKNOWN_L4_PROTO);
}

/* ---------------------------------------------------------------- trust -- */

/*
 * Whether addr falls in one of the prefixes of a trust list (the man page,
 * SECURITY).  An empty list holds nothing, so it allows nothing.
 *
 * A trie lookup costs more than everything else a forwarded packet does, so
 * addresses found in a list are remembered in a direct-mapped array, one
 * slot per hash of the address and list, as (gen << 32 | addr) where gen is
 * the config's trust_gen, read before the trie.  cls-redirect-config writes a
 * new trust_gen after every delete, so a remembered address is believed only
 * while no prefix has gone since it was found; a prefix added meanwhile
 * cannot make a remembered "listed" wrong.  Only hits are remembered: an
 * unlisted sender costs one trie lookup, as without the array, and writes
 * nothing.  A slot is one 64-bit store, so a reader sees one writer's value
 * whole.  trust_gen 0 (a list edited by other means) remembers nothing.
 */
static __always_inline bool listed(void *list, __u32 which, __u32 gen, __be32 addr)
{
	struct cls_redirect_prefix key = { .prefixlen = 32, .addr = addr };
	__u32 slot = which << TRUST_CACHE_BITS |
		     ((__u32)addr * 0x9e3779b1u) >> (32 - TRUST_CACHE_BITS);
	__u64 tag = (__u64)gen << 32 | (__u32)addr;
	__u64 *seen = gen ? trust_slot(slot) : NULL;

	if (seen && *seen == tag)
		return true;
	if (!bpf_map_lookup_elem(list, &key))
		return false;
	if (seen)
		*seen = tag;
	return true;
}

/* ------------------------------------------------------------- forward -- */

/* Whether the final hop gets plain GRE instead of GUE. */
static __always_inline bool forward_as_gre(const struct packet *p)
{
	return (p->priv_flags & PRIV_F_LAST_HOP_GRE) && p->next_hop + 1 == p->hop_count;
}

/*
 * Where a packet that is not ours goes, and whether it may: the next hop must
 * be a unicast address other than ours and in the hops list, the forwarded
 * packet must fit the configured mtu, and a GRE packet must have TTL left.
 * Sets p->hop.
 */
static __always_inline struct verdict decide_forward(struct packet *p)
{
	__u32 k = p->next_hop;
	bool gre = forward_as_gre(p);
	__u32 out_len = p->ip_end - ETH_HDR_LEN;
	__be32 *hopp;

	if (k >= GUE_MAX_HOPS)
		return DROP(ERR_INVALID_NEXT_HOP);
	hopp = ctx_ptr(p->ctx, OFF_HOP(k), HOP_LEN);
	if (!hopp)
		return DROP(ERR_ENCAP_BUFFER_TOO_SMALL);
	p->hop = *hopp;
	if (!cls_redirect_addr_is_unicast(p->hop))
		return DROP(ERR_INVALID_HOP);
	if (p->hop == p->addr)
		return DROP(ERR_REDIRECT_LOOP);
	/* Only to the fleet: a hop list is written by whoever sent the packet,
	 * and without this check the server would be a reflector. */
	if (!listed(&cls_redirect_hops, TRUST_CACHE_HOPS, p->trust_gen, p->hop))
		return DROP(ERR_FORBIDDEN_HOP);
	if (gre)
		out_len -= GRE_SHRINK(p->hop_count);
	/* GSO packets are cut to size by the stack on the way out. */
	if (p->mtu && out_len > p->mtu && !ctx_is_gso(p->ctx))
		return DROP(ERR_ENCAP_MTU_VIOLATE);
	if (gre) {
		/* The inner TTL is decremented like a router would, since
		 * nothing else stops a GRE loop (RFC 1812: drop at 1). */
		__u32 ttl_off = p->inner_off + (p->inner_proto == IPPROTO_IPV6 ?
							 offsetof(struct ipv6hdr, hop_limit) :
							 offsetof(struct iphdr, ttl));
		__u8 *ttl = ctx_ptr(p->ctx, ttl_off, 1);

		if (!ttl)
			return DROP(ERR_ENCAP_BUFFER_TOO_SMALL);
		if (*ttl <= 1)
			return DROP(ERR_REDIRECT_LOOP);
		return VERDICT(FORWARD, FORWARDED_GRE);
	}
	return FORWARD();
}

/* ---------------------------------------------------------------- outer -- */

/*
 * The outer header is not the plain 20-byte IPv4 header we expect.  If the
 * packet is still addressed to our UDP port it is ours and malformed (the
 * director never sends IP options); otherwise it is somebody else's.
 * Out of line, as classify_icmp_error().
 */
static int outer_not_plain(struct packet *p, __u8 ver_ihl, __be16 port, struct verdict *out)
{
	__u32 ihl = ver_ihl & 0x0f;
	__be16 dport;

	*out = PASS();
	if (ihl < 5)
		return 0;
	if (ctx_load_bytes(p->ctx, ETH_HDR_LEN + ihl * 4 + offsetof(struct udphdr, dest), &dport,
			   sizeof(dport)) ||
	    dport != port)
		return 0;
	*out = DROP(ERR_MALFORMED_OUTER_IP);
	return 0;
}

/*
 * Validates outer IPv4, UDP, GUE and private header of a packet addressed to
 * us (data: the first OFF_HOPS bytes of the frame, linear), then classifies
 * it and, if it is not ours, checks where it would go.
 *
 * decide() has filled in the forwarding settings from the config.  In the
 * legacy flavour this runs out of line, as decide_encapsulated(), whose
 * verdict comes back through *out: iproute2's legacy ELF loader only loads
 * the subprograms in .text (classify_icmp_error, outer_not_plain) when .text
 * has relocations of its own, and a map reference is the one kind it accepts
 * there (the trust lists' lookups are those).  The BTF flavour inlines it
 * and saves a call (a BPF-to-BPF call and its return cost about 10 ns on a
 * machine with return-stack mitigations).
 */
static __always_inline struct verdict encapsulated_verdict(struct packet *p, void *data)
{
	struct cls_redirect_priv *priv;
	struct cls_redirect_gue *gue;
	struct udphdr *udp;
	struct iphdr *ip;
	__u32 ip_len, n;
	struct verdict v;

	if (!data)
		return DROP(ERR_ENCAP_BUFFER_TOO_SMALL);
	ip = data + OFF_OUTER_IP;
	udp = data + OFF_UDP;
	gue = data + OFF_GUE;
	priv = data + OFF_PRIV;

	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return DROP(ERR_FRAGMENTED_OUTER_IP);
	ip_len = bpf_ntohs(ip->tot_len);
	if (ip_len < OFF_HOPS - ETH_HDR_LEN || ip_len > ctx_len(p->ctx) - ETH_HDR_LEN ||
	    bpf_ntohs(udp->len) != ip_len - OUTER_IP_LEN)
		return DROP(ERR_MALFORMED_OUTER_IP);
	/* Only from the fleet, before anything in the GUE header is believed:
	 * an inner packet goes to the local stack with its own source address,
	 * past every filter that sees only the outer one. */
	if (!listed(&cls_redirect_sources, TRUST_CACHE_SOURCES, p->trust_gen, ip->saddr))
		return DROP(ERR_UNTRUSTED_SOURCE);

	if ((gue->vchlen & (GUE_VARIANT_MASK | GUE_CONTROL_BIT)) || gue->flags ||
	    (priv->vflags & PRIV_VERSION_MASK) || priv->reserved)
		return DROP(ERR_MALFORMED_ENCAPSULATION);
	n = priv->hop_count;
	/* hlen counts the private header and the hops, in 32-bit words. */
	if ((gue->vchlen & GUE_HLEN_MASK) != n + PRIV_HDR_LEN / HOP_LEN || ENCAP_LEN(n) > ip_len)
		return DROP(ERR_MALFORMED_ENCAPSULATION);
	if (priv->next_hop > n)
		return DROP(ERR_INVALID_NEXT_HOP);
	if (gue->proto_ctype != IPPROTO_IPIP && gue->proto_ctype != IPPROTO_IPV6)
		return DROP(ERR_UNKNOWN_L3_PROTO);

	p->ip_end = ETH_HDR_LEN + ip_len;
	p->inner_off = ETH_HDR_LEN + ENCAP_LEN(n);
	p->old_saddr = ip->saddr;
	p->hop_count = n;
	p->next_hop = priv->next_hop;
	p->priv_flags = priv->vflags;
	p->inner_proto = gue->proto_ctype;
	/* A bitwise or, not ||: the value stored is never one the verifier
	 * knows to be 0 (the flag from the config is unknown to it), so it
	 * follows one state through the classification.  With || the
	 * compiler branches on the flag first, and the path on which both are
	 * false stores a known 0: the verifier followed that state next to the
	 * other one, up to the last test of last_hop (on Linux 6.18 15,443
	 * instructions instead of 9,315). */
	p->last_hop |= priv->next_hop == n;

	v = classify(p);
	if (v.action == ACTION_FORWARD)
		return decide_forward(p);
	/* Nothing for a service may reach the host's own stack instead. */
	if (v.action == ACTION_ACCEPT && p->svc_ifindex && !service_present(p))
		return DROP(ERR_SERVICE_GONE);
	return v;
}

#ifdef CLS_REDIRECT_LEGACY_MAPS
static __attribute__((noinline)) int decide_encapsulated(struct packet *p, struct verdict *out)
{
	/* decide() made them linear, nothing has pulled since; its
	 * pointer does not cross the call. */
	*out = encapsulated_verdict(p, ctx_ptr_linear(p->ctx, 0, OFF_HOPS));
	return 0;
}
#endif

/*
 * The whole decision for one frame, on a packet set up as struct packet
 * says; the verdict's reason is the counter the entry point bumps once it
 * has acted.
 */
static __always_inline struct verdict decide(struct packet *p)
{
	const struct cls_redirect_config *cfg;
	struct verdict v;
	__u32 key = 0;
	void *data;
	struct udphdr *udp;
	struct iphdr *ip;

	cfg = bpf_map_lookup_elem(&cls_redirect_config, &key);
	if (!cfg || cfg->version != CLS_REDIRECT_CONFIG_VERSION || !cfg->addr || !ctx_is_ipv4(p->ctx) ||
	    ctx_len(p->ctx) < OFF_HOPS)
		return PASS();
	data = ctx_head(p->ctx, OFF_HOPS);
	if (!data)
		return PASS();
	ip = data + OFF_OUTER_IP;
	udp = data + OFF_UDP;
	if (ip->daddr != cfg->addr || ip->protocol != IPPROTO_UDP)
		return PASS();
	p->addr = cfg->addr;
	if (*(__u8 *)ip != OUTER_IP_VER_IHL) {
		outer_not_plain(p, *(__u8 *)ip, cfg->port, &v);
		return v;
	}
	if (udp->dest != cfg->port)
		return PASS();
	p->mtu = cfg->mtu;
	p->last_hop = cfg->flags & CLS_REDIRECT_F_NO_FORWARD;
	p->route = cfg->flags & CLS_REDIRECT_F_ROUTE;
	p->services = cfg->flags & (CLS_REDIRECT_F_SERVICES | CLS_REDIRECT_F_SERVICES_ANY_PORT);
	p->trust_gen = cfg->trust_gen;
#ifdef CLS_REDIRECT_LEGACY_MAPS
	decide_encapsulated(p, &v);
	return v;
#else
	return encapsulated_verdict(p, data);
#endif
}


/* Whether the metadata before a frame (meta up to data) carries the XDP
 * flavour's mark, CLS_REDIRECT_XDP_MARK in the 32 bits right before it: an
 * earlier program decided and counted the frame already. */
static __always_inline bool xdp_marked(void *meta, void *data)
{
	return meta + sizeof(__u32) <= data && *(__u32 *)meta == CLS_REDIRECT_XDP_MARK;
}

/* ------------------------------------------------------------ rewrites -- */

/*
 * The header rewrites of a forward, the same for every entry point; how the
 * packet is shrunk, how the checksums the frame does not carry itself are
 * kept, and how it is sent belong to the entry point.
 */

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/*
 * GUE forward, on the first OFF_HOPS bytes of the frame: MACs swapped (back
 * to the router it came from: no neighbour lookup in the fast path), outer
 * addresses and next_hop rewritten, the outer IPv4 checksum updated.  The
 * UDP checksum is left to the caller, which gets the 16-bit word holding
 * next_hop before and after.
 */
static __always_inline void gue_rewrite(struct packet *p, void *frame, __u16 *old_word, __u16 *new_word)
{
	struct cls_redirect_priv *priv = frame + OFF_PRIV;
	struct iphdr *ip = frame + OFF_OUTER_IP;

	swap_macs(frame);
	/* saddr: old source -> our address (= old destination); daddr: ours ->
	 * hop.  Net change to the header sum: old source -> hop. */
	ip->check = csum_apply(ip->check, csum_diff4(p->old_saddr, p->hop));
	ip->saddr = p->addr;
	ip->daddr = p->hop;
	*old_word = *(__u16 *)&priv->next_hop;
	priv->next_hop++;
	*new_word = *(__u16 *)&priv->next_hop;
}

/* The bytes of the frame gre_rewrite() touches: Ethernet, IPv4, GRE and the
 * inner header up to and including its checksum (IPv4) or hop limit (IPv6),
 * both within 12 bytes. */
#define GRE_REWRITE_LEN (OFF_UDP + GRE_HDR_LEN + offsetof(struct iphdr, check) + sizeof(__sum16))

/*
 * GRE forward to the final hop, on a frame already shrunk by
 * GRE_SHRINK(hop_count) right after its outer IPv4 header: MACs swapped, the
 * outer header made GRE to the hop, a GRE header written and the inner TTL
 * decremented (decide_forward() checked it).  Returns the change to the sum
 * over the bytes after the outer IPv4 header, for a caller that keeps one.
 */
static __always_inline __u32 gre_rewrite(struct packet *p, void *frame)
{
	bool v6 = p->inner_proto == IPPROTO_IPV6;
	struct iphdr *ip = frame + OFF_OUTER_IP;
	__be16 *gre = frame + OFF_UDP;
	__u32 csum_diff = 0;
	__u32 sum = 0;
	__u16 word;

	swap_macs(frame);
	ip->protocol = IPPROTO_GRE;
	ip->saddr = p->addr;
	ip->daddr = p->hop;
	ip->tot_len = bpf_htons(p->ip_end - ETH_HDR_LEN - GRE_SHRINK(p->hop_count));
	ip->check = 0;
#pragma unroll
	for (int i = 0; i < OUTER_IP_LEN / 2; i++)
		sum += ((__u16 *)ip)[i];
	ip->check = ~csum_fold(sum);

	csum_diff += csum_diff4(*(__be32 *)gre, v6 ? bpf_htonl(ETH_P_IPV6) : bpf_htonl(ETH_P_IP));
	gre[0] = 0;
	gre[1] = v6 ? bpf_htons(ETH_P_IPV6) : bpf_htons(ETH_P_IP);

	if (v6) {
		struct ipv6hdr *ip6 = (void *)gre + GRE_HDR_LEN;

		word = *(__u16 *)&ip6->nexthdr;
		ip6->hop_limit--;
		csum_diff += csum_diff2(word, *(__u16 *)&ip6->nexthdr);
	} else {
		struct iphdr *inner = (void *)gre + GRE_HDR_LEN;

		/* TTL and checksum change together: the header's sum stays. */
		word = *(__u16 *)&inner->ttl;
		inner->ttl--;
		inner->check = csum_apply(inner->check, csum_diff2(word, *(__u16 *)&inner->ttl));
	}
	return csum_diff;
}

#endif /* CLS_REDIRECT_CORE_H */
