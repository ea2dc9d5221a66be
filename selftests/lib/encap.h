/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The test director's configuration: shared by selftests/progs/encap.bpf.c (the
 * GUE encapsulator on the director's interface toward the client) and
 * selftests/bin/encapctl.c (which the end-to-end tests use to steer it).
 *
 * The director sends every packet for the VIP (IPv4 or IPv6) to `first`,
 * with `hops` as the alternatives, exactly as a GLB director does with the
 * first two entries of its forwarding table row.
 */
#ifndef ENCAP_H
#define ENCAP_H

#include <linux/types.h>
#include "cls_redirect_wire.h"

#define ENCAP_CONFIG_MAP "encap_config"
#define ENCAP_STATS_MAP "encap_stats"

struct encap_config {
	__be32 vip4;       /* 0 = no IPv4 VIP */
	__u8 vip6[16];     /* all zero = no IPv6 VIP */
	__be32 saddr;      /* outer source: the director */
	__be32 first;      /* outer destination: first choice; 0 = pass everything */
	__be16 port;       /* outer UDP destination port */
	__u8 priv_flags;   /* private header byte 0 (forward_syn, last_hop_gre) */
	__u8 next_hop;     /* initial next_hop, normally 0 */
	__u8 hop_count;    /* N */
	__u8 pad[3];
	__be32 hops[GUE_MAX_HOPS];
};

enum encap_stat {
	ENCAP_STAT_IPV4,   /* IPv4 packets for the VIP encapsulated and sent */
	ENCAP_STAT_IPV6,   /* IPv6 packets for the VIP encapsulated and sent */
	ENCAP_STAT_ERRORS, /* packets for the VIP dropped (GSO, no route, ...) */
	ENCAP_STAT_COUNT
};

_Static_assert(sizeof(struct encap_config) == 36 + 4 * GUE_MAX_HOPS, "no hidden padding");

#endif
