/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The GUE wire format the director sends (man page, WIRE FORMAT), byte by byte.
 * Used by the classifier, the tests and the test encapsulator.
 *
 *   Ethernet | IPv4 (no options) | UDP (dst = configured port) |
 *   GUE base header | private header | N x IPv4 hop | inner IPv4/IPv6
 *
 * Bit fields are spelled as masks on whole bytes, never as C bit fields, so
 * the layout is the same on every host byte order.
 */
#ifndef CLS_REDIRECT_WIRE_H
#define CLS_REDIRECT_WIRE_H

#include <linux/types.h>

/* GUE base header, variant 0 (draft-ietf-intarea-gue). */
struct cls_redirect_gue {
	__u8 vchlen;      /* variant (2 high bits) | C (1) | hlen (5 low bits) */
	__u8 proto_ctype; /* 4 = IPv4 inside, 41 = IPv6 inside */
	__be16 flags;     /* no optional fields are defined: must be 0 */
};

#define GUE_VARIANT_MASK 0xc0
#define GUE_CONTROL_BIT 0x20
#define GUE_HLEN_MASK 0x1f

/*
 * Private data: GitHub GLB's "private data type (16) | next hop (8) | hop
 * count (8)", with the first byte reused for a version and two flags
 * (Cloudflare's extension).  All-zero first 16 bits = plain GLB.
 */
struct cls_redirect_priv {
	__u8 vflags;     /* version (high nibble) | forward_syn | last_hop_gre | 2 ignored bits */
	__u8 reserved;   /* must be 0 */
	__u8 next_hop;   /* index into the hop list of the next alternative */
	__u8 hop_count;  /* N */
};

#define PRIV_VERSION_MASK 0xf0
#define PRIV_F_FORWARD_SYN 0x08
#define PRIV_F_LAST_HOP_GRE 0x04

/* hlen counts 32-bit words after the base header: one for the private header
 * and one per hop.  Five bits cap the list at 30 hops. */
#define GUE_MAX_HOPS 30

#define ETH_HDR_LEN 14
#define OUTER_IP_LEN 20
#define OUTER_UDP_LEN 8
#define GUE_HDR_LEN ((int)sizeof(struct cls_redirect_gue))
#define PRIV_HDR_LEN ((int)sizeof(struct cls_redirect_priv))
#define HOP_LEN 4 /* one IPv4 address */
/* First byte of the outer IPv4 header: version 4, IHL 5 (no options), the
 * only form the director sends. */
#define OUTER_IP_VER_IHL 0x45
/* GRE (RFC 2784) without checksum, key or sequence number: flags and
 * version word, then the protocol type. */
#define GRE_HDR_LEN 4
/* Offsets from the start of the Ethernet frame. */
#define OFF_OUTER_IP ETH_HDR_LEN
#define OFF_UDP (OFF_OUTER_IP + OUTER_IP_LEN)
#define OFF_GUE (OFF_UDP + OUTER_UDP_LEN)
#define OFF_PRIV (OFF_GUE + GUE_HDR_LEN)
#define OFF_HOPS (OFF_PRIV + PRIV_HDR_LEN)
#define OFF_HOP(k) (OFF_HOPS + HOP_LEN * (k))
/* Bytes between the Ethernet header and the inner packet, for N hops. */
#define ENCAP_LEN(n) (OUTER_IP_LEN + OUTER_UDP_LEN + GUE_HDR_LEN + PRIV_HDR_LEN + HOP_LEN * (n))
/* Bytes a GRE forward removes: UDP, GUE, private header and hops give way
 * to a GRE header. */
#define GRE_SHRINK(n) (ENCAP_LEN(n) - OUTER_IP_LEN - GRE_HDR_LEN)

_Static_assert(sizeof(struct cls_redirect_gue) == 4, "GUE base header is 4 bytes");
_Static_assert(sizeof(struct cls_redirect_priv) == 4, "private header is 4 bytes");
_Static_assert(OFF_HOPS == 50, "hop list starts 50 bytes into the frame");

#endif /* CLS_REDIRECT_WIRE_H */
