/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cls-redirect: the one definition of everything the classifier and the
 * operator tools share: map names, pin paths, the configuration layout and
 * the metrics layout.  Included by obj/cls_redirect.c (BPF) and by the
 * tools and tests (user space); it needs nothing but <linux/types.h>.
 *
 * Changing a layout here changes what is pinned in bpffs.  The config map
 * carries CLS_REDIRECT_CONFIG_VERSION; bump it whenever struct
 * cls_redirect_config changes meaning.  The metrics map is identified by its
 * value size: counters are append-only, so a new counter changes the size and
 * an old tool refuses the new map instead of mislabelling counters.
 */
#ifndef CLS_REDIRECT_H
#define CLS_REDIRECT_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Where tc pins the maps: ${TC_BPF_MNT:-/sys/fs/bpf}/tc/globals/<name>. */
#define CLS_REDIRECT_BPFFS_DEFAULT "/sys/fs/bpf"
#define CLS_REDIRECT_PIN_SUBDIR "tc/globals"
#define CLS_REDIRECT_CONFIG_MAP "cls_redirect_config"
#define CLS_REDIRECT_METRICS_MAP "cls_redirect_metrics"

/*
 * Both maps are one-entry arrays at key 0; the classifier declares them and
 * the tools check a pinned map against the same values (type, key and value
 * size, entries; flags are always 0).
 */
#define CLS_REDIRECT_CONFIG_MAP_TYPE BPF_MAP_TYPE_ARRAY
#define CLS_REDIRECT_METRICS_MAP_TYPE BPF_MAP_TYPE_PERCPU_ARRAY
#define CLS_REDIRECT_SINGLE_ENTRY 1

/*
 * The trust lists (the man page, SECURITY): LPM tries of IPv4 prefixes.
 * cls_redirect_sources holds who may send us GUE (directors and the servers
 * that forward to us), cls_redirect_hops where we may forward to.  An empty
 * list allows nothing; 0.0.0.0/0 allows every address.  The kernel requires
 * BPF_F_NO_PREALLOC for an LPM trie.
 */
#define CLS_REDIRECT_SOURCES_MAP "cls_redirect_sources"
#define CLS_REDIRECT_HOPS_MAP "cls_redirect_hops"
#define CLS_REDIRECT_TRUST_MAP_TYPE BPF_MAP_TYPE_LPM_TRIE
#define CLS_REDIRECT_TRUST_MAP_FLAGS BPF_F_NO_PREALLOC
#define CLS_REDIRECT_TRUST_ENTRIES 1024

struct cls_redirect_prefix {
	__u32 prefixlen; /* 0..32: leading bits of addr that must match */
	__be32 addr;     /* network order, host bits zero */
};

/* The value of a trust list entry: zero, room for later per-prefix data. */
struct cls_redirect_trust {
	__u32 reserved;
};

/* Default GUE port of GitHub's GLB ("LB" as a u16, plus one). */
#define CLS_REDIRECT_GLB_PORT 19523

/* ---- configuration: BPF_MAP_TYPE_ARRAY, key __u32 0, one entry ---- */

#define CLS_REDIRECT_CONFIG_VERSION 1

/*
 * Forwarding-mode flags (cls_redirect_config.flags).
 *
 * NO_FORWARD: never forward.  Every packet is handled as if this server were
 * the last hop of its list: valid packets are delivered locally (counted as
 * accepted_packets_total_last_hop unless they are SYNs or echo requests),
 * malformed ones are still dropped.  For a fleet whose alternatives are known
 * to be unreachable, or to take a server out of a chain without touching the
 * director.
 */
#define CLS_REDIRECT_F_NO_FORWARD (1u << 0)
/*
 * ROUTE: a forwarded packet (GUE or GRE) leaves along the route this host
 * would use for a packet from addr to the next hop (policy rules included),
 * with the next hop's link-layer address resolved by the kernel
 * (bpf_fib_lookup, then bpf_redirect_neigh: Linux 5.10, tc only), instead of
 * going back out of the interface it came in on with its MAC addresses
 * swapped.  A hop without a usable route is dropped
 * (errors_total_no_route).  NO_FORWARD wins over it.
 *
 * Version 1 declared every unknown bit must-be-zero, so this bit needs no new
 * layout version: a version 1 value without it means what it always meant,
 * and tools that predate it refuse a value with it set.
 */
#define CLS_REDIRECT_F_ROUTE (1u << 1)
/*
 * SERVICES: the cls_redirect_services map has an entry with a port;
 * SERVICES_ANY_PORT: it has one with port 0.  Not keywords of set:
 * cls-redirect-config keeps them true (services add and del, and every set),
 * so that the classifier makes only the hash lookups of the services map
 * that can hit (each about 17 ns a packet): none on a host that lists no
 * service.  Like ROUTE, no new layout version.
 */
#define CLS_REDIRECT_F_SERVICES (1u << 2)
#define CLS_REDIRECT_F_SERVICES_ANY_PORT (1u << 3)
#define CLS_REDIRECT_F_ALL                                                                         \
	(CLS_REDIRECT_F_NO_FORWARD | CLS_REDIRECT_F_ROUTE | CLS_REDIRECT_F_SERVICES |               \
	 CLS_REDIRECT_F_SERVICES_ANY_PORT)

struct cls_redirect_config {
	/* CLS_REDIRECT_CONFIG_VERSION once written; 0 = never configured. */
	__u32 version;
	/* This server's encapsulation endpoint, network order; 0 = unconfigured:
	 * the classifier then passes every packet untouched. */
	__be32 addr;
	/* UDP destination port of GUE packets, network order. */
	__be16 port;
	/* CLS_REDIRECT_F_*; unknown bits must be zero. */
	__u16 flags;
	/* Largest IPv4 packet (outer header included) that may be forwarded, in
	 * bytes; 0 = no limit.  Forwarding leaves a packet's size unchanged
	 * (GUE) or shrinks it (GRE), so this only matters where the next hops
	 * sit behind a smaller MTU than the one the packet arrived on.  GSO
	 * packets are segmented later by the stack and are not checked. */
	__u32 mtu;
	/* Generation of the trust lists (the man page, SECURITY): the classifier
	 * remembers which addresses it found in a list, tagged with this value,
	 * and cls-redirect-config moves it on whenever it deletes a prefix, so
	 * nothing remembered outlives a delete.  0 = remember nothing.  The tools
	 * keep it across set and clear and never reuse a value. */
	__u32 trust_gen;
	/* Zero; room for later fields without a layout change. */
	__u32 reserved[3];
};

/* ---- services: BPF_MAP_TYPE_HASH, destinations in other namespaces ---- */

/*
 * cls_redirect_services: inner destinations whose sockets live in another
 * network namespace (a container, a pod) behind a veth (man page,
 * CONTAINERS).  The classifier looks the inner destination up with its port
 * first, then with port 0 ("every port of the address"); a hit makes its
 * socket lookups happen in that namespace and an accepted packet is
 * delivered there through the veth.
 */
#define CLS_REDIRECT_SERVICES_MAP "cls_redirect_services"
#define CLS_REDIRECT_SERVICES_MAP_TYPE BPF_MAP_TYPE_HASH
#define CLS_REDIRECT_SERVICES_MAX 4096

/* cls_redirect_service_key.family: the IP version, not an AF_ value (the
 * BPF side has no libc to take AF_INET6 from). */
#define CLS_REDIRECT_SERVICE_V4 4
#define CLS_REDIRECT_SERVICE_V6 6

struct cls_redirect_service_key {
	__u8 family;   /* CLS_REDIRECT_SERVICE_V4 or _V6 */
	__u8 proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 port;   /* network order; 0 = every port of addr */
	__u8 addr[16]; /* IPv4: the first 4 bytes, the other 12 zero */
};

struct cls_redirect_service {
	/* The namespace's id as the classifier's namespace sees it (the
	 * IFLA_LINK_NETNSID of the veth). */
	__u32 netnsid;
	/* The host-side veth, in the classifier's namespace. */
	__u32 ifindex;
};

/* ---- metrics: BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 0, one entry ---- */

#define CLS_REDIRECT_ECHO_METRIC(X)                                                                \
	X(ACCEPTED_ICMP_ECHO_REQUEST, accepted_packets_total_icmp_echo_request,                    \
	  "ICMP and ICMPv6 echo requests delivered locally")

/*
 * Test builds only (-DCLS_REDIRECT_TEST_EXTRA_COUNTER): a counter is inserted
 * among the accepted ones, and the echo request counter moves to the end,
 * after the errors, where an accepted_* counter added later would land.  The
 * fixtures must pass unchanged: no decision depends on where a counter sits.
 */
#ifdef CLS_REDIRECT_TEST_EXTRA_COUNTER
#define CLS_REDIRECT_TEST_EXTRA_METRIC(X) \
	X(TEST_EXTRA, accepted_packets_total_test_extra, "Test builds only: never moves")
#define CLS_REDIRECT_ECHO_METRIC_HERE(X)
#define CLS_REDIRECT_ECHO_METRIC_LAST(X) CLS_REDIRECT_ECHO_METRIC(X)
#else
#define CLS_REDIRECT_TEST_EXTRA_METRIC(X)
#define CLS_REDIRECT_ECHO_METRIC_HERE(X) CLS_REDIRECT_ECHO_METRIC(X)
#define CLS_REDIRECT_ECHO_METRIC_LAST(X)
#endif

/*
 * X(enum suffix, counter name, help text).  The order is the layout of the
 * per-CPU value: append only.  The names are part of the interface (JSON keys,
 * Prometheus series with a "cls_redirect_" prefix).
 *
 * Every packet is counted once in processed_packets_total and once in exactly
 * one outcome counter (passed, accepted_*, forwarded_*, errors_*); the l3_ and
 * l4_ counters describe what was inside encapsulated packets and are not
 * outcomes.
 */
#define CLS_REDIRECT_METRICS(X)                                                                    \
	X(PROCESSED, processed_packets_total,                                                      \
	  "Packets seen on the wire by the classifier (decapsulated packets re-entering are not counted again)") \
	X(L3_IPV4, l3_protocol_packets_total_ipv4, "Encapsulated packets with an inner IPv4 header") \
	X(L3_IPV6, l3_protocol_packets_total_ipv6, "Encapsulated packets with an inner IPv6 header") \
	X(L4_TCP, l4_protocol_packets_total_tcp,                                                    \
	  "Encapsulated packets carrying TCP (not counted for fragments or ICMP quotes)")           \
	X(L4_UDP, l4_protocol_packets_total_udp,                                                    \
	  "Encapsulated packets carrying UDP (not counted for fragments or ICMP quotes)")           \
	X(L4_ICMP, l4_protocol_packets_total_icmp, "Encapsulated packets carrying ICMP or ICMPv6")  \
	X(PASSED, passed_packets_total,                                                            \
	  "Packets left untouched: not IPv4, too short, not for the configured address and port, or unconfigured") \
	X(ACCEPTED_SYN, accepted_packets_total_syn, "TCP SYNs (without ACK) delivered locally")   \
	CLS_REDIRECT_TEST_EXTRA_METRIC(X)                                                          \
	X(ACCEPTED_SYN_COOKIES, accepted_packets_total_syn_cookies,                                \
	  "TCP ACKs carrying a valid SYN cookie of a local listener, delivered locally")          \
	X(ACCEPTED_ESTABLISHED, accepted_packets_total_established,                                \
	  "Packets of a local TCP connection or connected UDP socket (or ICMP errors quoting one), delivered locally") \
	CLS_REDIRECT_ECHO_METRIC_HERE(X)                                                           \
	X(ACCEPTED_LAST_HOP, accepted_packets_total_last_hop,                                      \
	  "Packets with no alternative left (or with no-forward set) delivered locally without a socket lookup") \
	X(FORWARDED_GUE, forwarded_packets_total_gue, "Packets forwarded to the next hop, GUE-encapsulated") \
	X(FORWARDED_GRE, forwarded_packets_total_gre, "Packets forwarded to the final hop as GRE")  \
	X(ERR_UNKNOWN_L3_PROTO, errors_total_unknown_l3_proto,                                     \
	  "Dropped: GUE inner protocol (proto/ctype) is neither 4 (IPv4) nor 41 (IPv6)")            \
	X(ERR_UNKNOWN_L4_PROTO, errors_total_unknown_l4_proto,                                     \
	  "Dropped: inner packet is not TCP, UDP or ICMP of its IP version")                      \
	X(ERR_MALFORMED_IP, errors_total_malformed_ip,                                             \
	  "Dropped: inner IPv4/IPv6 header truncated, wrong version or lengths, bad extension headers") \
	X(ERR_FRAGMENTED_IP, errors_total_fragmented_ip,                                           \
	  "Dropped: inner fragment while an alternative is left, or an ICMP error quoting a non-first fragment") \
	X(ERR_MALFORMED_ICMP, errors_total_malformed_icmp,                                         \
	  "Dropped: ICMP/ICMPv6 header truncated, or an ICMP error (other than PMTU) with an unreadable quote") \
	X(ERR_UNWANTED_ICMP, errors_total_unwanted_icmp,                                           \
	  "Dropped: ICMP/ICMPv6 type not handled (redirect, neighbour discovery, ...) or an error quoting neither TCP nor UDP") \
	X(ERR_MALFORMED_ICMP_PKT_TOO_BIG, errors_total_malformed_icmp_pkt_too_big,                 \
	  "Dropped: fragmentation-needed / packet-too-big with an unreadable quoted packet")      \
	X(ERR_MALFORMED_TCP, errors_total_malformed_tcp, "Dropped: inner TCP header truncated or bad data offset") \
	X(ERR_MALFORMED_UDP, errors_total_malformed_udp, "Dropped: inner UDP header truncated or bad length") \
	X(ERR_ICMP_ECHO_REPLIES, errors_total_icmp_echo_replies, "Dropped: ICMP/ICMPv6 echo replies") \
	X(ERR_MALFORMED_ENCAPSULATION, errors_total_malformed_encapsulation,                       \
	  "Dropped: bad GUE or private header (variant, control bit, flags, hlen, version, reserved byte, hop list length)") \
	X(ERR_ENCAP_ADJUST_FAILED, errors_total_encap_adjust_failed,                               \
	  "Dropped: the kernel refused to resize the packet (decapsulation or GRE conversion)")   \
	X(ERR_ENCAP_BUFFER_TOO_SMALL, errors_total_encap_buffer_too_small,                         \
	  "Dropped: headers could not be made linear and writable")                                \
	X(ERR_REDIRECT_LOOP, errors_total_redirect_loop,                                           \
	  "Dropped: next hop is this server's own address, or the inner TTL/hop limit ran out on the GRE path") \
	X(ERR_ENCAP_MTU_VIOLATE, errors_total_encap_mtu_violate,                                   \
	  "Dropped: forwarded packet would exceed the configured mtu")                             \
	X(ERR_INVALID_HOP, errors_total_invalid_hop,                                               \
	  "Dropped: next hop address is 0.0.0.0/8, loopback, multicast, reserved or broadcast")    \
	X(ERR_INVALID_NEXT_HOP, errors_total_invalid_next_hop,                                     \
	  "Dropped: private header next_hop is larger than hop_count")                             \
	X(ERR_MALFORMED_OUTER_IP, errors_total_malformed_outer_ip,                                 \
	  "Dropped: outer IPv4 version, options, total length or UDP length inconsistent with the packet") \
	X(ERR_FRAGMENTED_OUTER_IP, errors_total_fragmented_outer_ip, "Dropped: outer IPv4 fragment") \
	X(ERR_NO_ROUTE, errors_total_no_route,                                                     \
	  "Dropped: route mode, and the host has no usable route to the next hop (none, unreachable, blackhole, prohibit, or forwarding off on lo)") \
	X(ERR_SERVICE_GONE, errors_total_service_gone,                                             \
	  "Dropped: would be delivered to a service whose veth (or namespace) no longer exists") \
	X(ERR_UNTRUSTED_SOURCE, errors_total_untrusted_source,                                     \
	  "Dropped: GUE from an outer source address outside cls_redirect_sources")              \
	X(ERR_FORBIDDEN_HOP, errors_total_forbidden_hop,                                           \
	  "Dropped: next hop (GUE or GRE) outside cls_redirect_hops")                             \
	CLS_REDIRECT_ECHO_METRIC_LAST(X)

enum cls_redirect_metric {
#define CLS_REDIRECT_METRIC_ENUM(id, name, help) CLS_REDIRECT_METRIC_##id,
	CLS_REDIRECT_METRICS(CLS_REDIRECT_METRIC_ENUM)
#undef CLS_REDIRECT_METRIC_ENUM
	CLS_REDIRECT_METRIC_COUNT
};

struct cls_redirect_metrics {
	__u64 counters[CLS_REDIRECT_METRIC_COUNT];
};

/*
 * Which outcome a counter belongs to follows from its name alone, never from
 * its position in the list: passed_*, accepted_*, forwarded_* and errors_*
 * are outcomes (processed = the sum of all of them), the rest describe what
 * was inside.  The classifier does not use this: its decisions carry their
 * action (pass, accept, forward, drop) and name the counter only as the
 * reason, so a counter added anywhere cannot change what happens to a packet.
 */
enum cls_redirect_outcome {
	CLS_REDIRECT_OUTCOME_NONE = -1, /* processed, l3_*, l4_* */
	CLS_REDIRECT_OUTCOME_PASSED,
	CLS_REDIRECT_OUTCOME_ACCEPTED,
	CLS_REDIRECT_OUTCOME_FORWARDED,
	CLS_REDIRECT_OUTCOME_ERROR,
	CLS_REDIRECT_OUTCOME_COUNT
};

#ifndef __bpf__
#include <string.h>

/* The outcome of the counter called name; *reason (if not NULL) points at the
 * rest of the name after the outcome's prefix ("syn" for
 * accepted_packets_total_syn, "" for passed_packets_total). */
static inline enum cls_redirect_outcome cls_redirect_metric_outcome(const char *name, const char **reason)
{
	static const struct {
		const char *prefix;
		enum cls_redirect_outcome outcome;
	} prefixes[] = {
		{ "passed_packets_total", CLS_REDIRECT_OUTCOME_PASSED },
		{ "accepted_packets_total_", CLS_REDIRECT_OUTCOME_ACCEPTED },
		{ "forwarded_packets_total_", CLS_REDIRECT_OUTCOME_FORWARDED },
		{ "errors_total_", CLS_REDIRECT_OUTCOME_ERROR },
	};
	size_t i, n;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i].prefix);
		if (!strncmp(name, prefixes[i].prefix, n)) {
			if (reason)
				*reason = name + n;
			return prefixes[i].outcome;
		}
	}
	if (reason)
		*reason = "";
	return CLS_REDIRECT_OUTCOME_NONE;
}
#endif

/*
 * The addresses a packet can never be sent to as its unicast destination:
 * this network (0/8), loopback (127/8), multicast (224/4), reserved (240/4)
 * and broadcast.  cls-redirect-config refuses them as the encapsulation
 * address and the classifier as next hops.  addr is in network order.
 */
static inline int cls_redirect_addr_is_unicast(__be32 addr)
{
	__u8 first = ((const __u8 *)&addr)[0];

	return first != 0 && first != 127 && first < 224;
}

/*
 * The XDP flavour hands every packet it passes to the stack (not ours, or
 * decapsulated) with this value in the first 4 bytes of the packet's
 * metadata (bpf_xdp_adjust_meta); the tc flavour, attached to the same
 * device as well, lets such a packet through uncounted, so each packet is
 * counted once whichever flavour decided it (man page, XDP).
 */
#define CLS_REDIRECT_XDP_MARK 0xc15d0a0du

/* See CLS_REDIRECT_TEST_EXTRA_METRIC. */
#ifdef CLS_REDIRECT_TEST_EXTRA_COUNTER
#define CLS_REDIRECT_EXTRA_METRICS 1
#else
#define CLS_REDIRECT_EXTRA_METRICS 0
#endif

_Static_assert(sizeof(struct cls_redirect_config) == 32, "config layout is pinned ABI");
_Static_assert(CLS_REDIRECT_METRIC_COUNT == 37 + CLS_REDIRECT_EXTRA_METRICS, "counters are append-only: update this and the man page");
_Static_assert(sizeof(struct cls_redirect_service_key) == 20 &&
		       __builtin_offsetof(struct cls_redirect_service_key, addr) == 4,
	       "services key is pinned ABI, without holes (hashed as bytes)");
_Static_assert(sizeof(struct cls_redirect_service) == 8, "services value is pinned ABI");
_Static_assert(sizeof(struct cls_redirect_prefix) == 8, "LPM key: prefix length, then the address");
_Static_assert(sizeof(struct cls_redirect_metrics) == CLS_REDIRECT_METRIC_COUNT * 8,
	       "metrics value is a plain array of __u64");

#endif /* CLS_REDIRECT_H */
