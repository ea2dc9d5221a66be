/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet builder for the cls-redirect tests, benchmarks and fuzzers.
 *
 *   Ethernet | outer IPv4 | UDP | GUE | private | N hops | inner IPv4/IPv6
 *   (options / extension headers) | TCP / UDP / ICMP / ICMPv6
 *
 * Everything is built valid by default: IPv4 header checksums, TCP / UDP /
 * ICMPv6 checksums over their pseudo-headers, ICMP checksums, and optionally
 * a non-zero outer UDP checksum.  Malformed variants come from the override
 * fields (-1 = computed) or from patching bytes after the build and calling
 * pkt_ipv4_fix_csum().
 *
 * Header-only, static functions, no allocation: a builder writes into a
 * caller buffer of at least PKT_MAX bytes and returns the length written.
 * All multi-byte fields are written byte by byte in network order, so the
 * buffers need no alignment.  Addresses in struct fields are network order
 * (as inet_pton() gives them); ports and flag words are host order.
 */
#ifndef CLS_REDIRECT_PKT_H
#define CLS_REDIRECT_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cls_redirect_wire.h"

/* BPF_PROG_TEST_RUN takes at most a page minus head- and tailroom. */
#define PKT_MAX 4096
#define PKT_MAX_EXT 12

#define PKT_IP_DF 0x4000
#define PKT_IP_MF 0x2000

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* ---- byte access ---- */

static inline void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void pkt_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v & 0xff;
}

static inline uint16_t pkt_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pkt_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- Internet checksum (RFC 1071), in host-order 16-bit words ---- */

/* Adds len bytes to a running sum.  Chain only even-length pieces, except
 * the last one. */
static inline uint32_t pkt_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* The checksum field value for a sum taken with the field zeroed. */
static inline uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the pseudo-header of RFC 768 / RFC 793 (IPv4) or RFC 8200 8.1. */
static inline uint32_t pkt_pseudo_sum(int v6, const uint8_t *src, const uint8_t *dst,
				      uint8_t proto, uint32_t len)
{
	uint8_t ph[8] = { 0 };
	uint32_t s;

	s = pkt_csum_add(0, src, v6 ? 16 : 4);
	s = pkt_csum_add(s, dst, v6 ? 16 : 4);
	if (v6) {
		pkt_put32(ph, len);
		ph[7] = proto;
		return pkt_csum_add(s, ph, 8);
	}
	ph[1] = proto;
	pkt_put16(ph + 2, (uint16_t)len);
	return pkt_csum_add(s, ph, 4);
}

/* Offset of the checksum field in an L4 header, or -1. */
static inline int pkt_l4_csum_off(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	}
	return -1;
}

/* Writes the checksum of an L4 segment of len bytes in place.  ICMP (v4)
 * has no pseudo-header; a computed UDP checksum of 0 is sent as 0xffff. */
static inline void pkt_l4_fill_csum(int v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
				    uint8_t *l4, size_t len)
{
	int off = pkt_l4_csum_off(proto);
	uint32_t s;
	uint16_t c;

	if (off < 0 || len < (size_t)off + 2)
		return;
	pkt_put16(l4 + off, 0);
	s = proto == IPPROTO_ICMP ? 0 : pkt_pseudo_sum(v6, src, dst, proto, (uint32_t)len);
	c = pkt_csum_fold(pkt_csum_add(s, l4, len));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	pkt_put16(l4 + off, c);
}

/* True if an L4 segment's checksum (field included) verifies. */
static inline int pkt_l4_csum_ok(int v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
				 const uint8_t *l4, size_t len)
{
	uint32_t s = proto == IPPROTO_ICMP ? 0 : pkt_pseudo_sum(v6, src, dst, proto, (uint32_t)len);

	return pkt_csum_fold(pkt_csum_add(s, l4, len)) == 0;
}

/* Recomputes the checksum of an IPv4 header (IHL taken from the header). */
static inline void pkt_ipv4_fix_csum(uint8_t *iph)
{
	size_t hl = (size_t)(iph[0] & 0x0f) * 4;

	if (hl < 20)
		hl = 20;
	pkt_put16(iph + 10, 0);
	pkt_put16(iph + 10, pkt_csum_fold(pkt_csum_add(0, iph, hl)));
}

static inline int pkt_ipv4_csum_ok(const uint8_t *iph)
{
	size_t hl = (size_t)(iph[0] & 0x0f) * 4;

	return hl >= 20 && pkt_csum_fold(pkt_csum_add(0, iph, hl)) == 0;
}

/* ---- L4 headers (checksum left 0: pkt_ip_build() fills it) ---- */

struct pkt_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;   /* PKT_TCP_* */
	uint16_t window;
	int doff;        /* -1: 5; 6..15 add NOP options; else only the field is set */
};

static inline struct pkt_tcp pkt_tcp(uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pkt_tcp t = {
		.sport = sport, .dport = dport, .seq = 0x01020304, .ack = 0,
		.flags = flags, .window = 65535, .doff = -1,
	};

	if (flags & PKT_TCP_ACK)
		t.ack = 0x0a0b0c0d;
	return t;
}

static inline size_t pkt_tcp_build(uint8_t *out, const struct pkt_tcp *t, const void *payload,
				   size_t plen)
{
	int doff = t->doff < 0 ? 5 : t->doff;
	size_t hl = doff >= 5 && doff <= 15 ? (size_t)doff * 4 : 20;

	memset(out, 0, hl);
	pkt_put16(out, t->sport);
	pkt_put16(out + 2, t->dport);
	pkt_put32(out + 4, t->seq);
	pkt_put32(out + 8, t->ack);
	out[12] = (uint8_t)((doff & 0x0f) << 4);
	out[13] = t->flags;
	pkt_put16(out + 14, t->window);
	memset(out + 20, 1 /* NOP */, hl - 20);
	if (plen)
		memcpy(out + hl, payload, plen);
	return hl + plen;
}

/* UDP header + payload; len = -1: 8 + plen. */
static inline size_t pkt_udp_build(uint8_t *out, uint16_t sport, uint16_t dport, int len,
				   const void *payload, size_t plen)
{
	pkt_put16(out, sport);
	pkt_put16(out + 2, dport);
	pkt_put16(out + 4, (uint16_t)(len < 0 ? (int)(8 + plen) : len));
	pkt_put16(out + 6, 0);
	if (plen)
		memcpy(out + 8, payload, plen);
	return 8 + plen;
}

/* ICMP or ICMPv6: type, code, checksum, 4 bytes "rest of header" (echo id /
 * sequence, next-hop MTU, pointer...), then payload (e.g. a quoted packet). */
static inline size_t pkt_icmp_build(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest,
				    const void *payload, size_t plen)
{
	out[0] = type;
	out[1] = code;
	pkt_put16(out + 2, 0);
	pkt_put32(out + 4, rest);
	if (plen)
		memcpy(out + 8, payload, plen);
	return 8 + plen;
}

/* ---- IPv4 / IPv6 packets ---- */

struct pkt_ext {
	uint8_t type;   /* 0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts, 135 mobility */
	uint8_t len8;   /* Hdr Ext Len: (len8 + 1) * 8 bytes; ignored for 44 */
	uint16_t frag;  /* 44: offset (8-byte units) << 3 | M */
};

struct pkt_ip {
	int v6;
	uint8_t src[16], dst[16];  /* IPv4 uses the first 4 bytes */
	uint8_t ttl;               /* TTL / hop limit */
	uint8_t tos;               /* TOS / traffic class */
	uint16_t id;               /* IPv4 ID; IPv6 fragment identification */
	uint16_t frag;             /* IPv4 flags | offset in 8-byte units (PKT_IP_MF...) */
	uint8_t opt_len;           /* IPv4 option bytes (multiple of 4, NOPs) */
	uint8_t n_ext;             /* IPv6 extension headers, in order */
	struct pkt_ext ext[PKT_MAX_EXT];
	/* Overrides, -1 = computed. */
	int version;
	int ihl;                   /* IPv4 IHL field */
	int len;                   /* IPv4 tot_len / IPv6 payload_len */
	int proto;                 /* IPv4 protocol / last next-header of the chain */
	int no_l4_csum;            /* leave the L4 checksum as the L4 builder wrote it */
};

static inline struct pkt_ip pkt_ip4(const char *src, const char *dst)
{
	struct pkt_ip ip = { .ttl = 64, .id = 0x4242, .version = -1, .ihl = -1, .len = -1,
			     .proto = -1 };

	inet_pton(AF_INET, src, ip.src);
	inet_pton(AF_INET, dst, ip.dst);
	return ip;
}

static inline struct pkt_ip pkt_ip6(const char *src, const char *dst)
{
	struct pkt_ip ip = { .v6 = 1, .ttl = 64, .id = 0x4242, .version = -1, .ihl = -1,
			     .len = -1, .proto = -1 };

	inet_pton(AF_INET6, src, ip.src);
	inet_pton(AF_INET6, dst, ip.dst);
	return ip;
}

static inline void pkt_ip_add_ext(struct pkt_ip *ip, uint8_t type, uint8_t len8, uint16_t frag)
{
	if (ip->n_ext < PKT_MAX_EXT)
		ip->ext[ip->n_ext++] = (struct pkt_ext){ .type = type, .len8 = len8, .frag = frag };
}

static inline size_t pkt_ext_len(const struct pkt_ext *x)
{
	return x->type == 44 ? 8 : ((size_t)x->len8 + 1) * 8;
}

/* Writes a 20-byte IPv4 header plus opt_len NOP option bytes (checksum 0);
 * version, ihl and tot_len are -1 for "computed".  Shared by the inner and
 * the outer header. */
static inline size_t pkt_ipv4_hdr_put(uint8_t *out, int version, int ihl, int tot_len,
				      size_t payload_len, uint8_t tos, uint16_t id, uint16_t frag,
				      uint8_t ttl, uint8_t proto, const uint8_t *src,
				      const uint8_t *dst, uint8_t opt_len)
{
	size_t hl = 20 + opt_len;

	memset(out, 0, hl);
	out[0] = (uint8_t)((version < 0 ? 4 : version) << 4 |
			   ((ihl < 0 ? (int)(hl / 4) : ihl) & 0x0f));
	out[1] = tos;
	pkt_put16(out + 2, (uint16_t)(tot_len < 0 ? (int)(hl + payload_len) : tot_len));
	pkt_put16(out + 4, id);
	pkt_put16(out + 6, frag);
	out[8] = ttl;
	out[9] = proto;
	memcpy(out + 12, src, 4);
	memcpy(out + 16, dst, 4);
	memset(out + 20, 1 /* NOP */, opt_len);
	return hl;
}

/* Writes the IP header(s) and l4 after them, then the L4 checksum and the
 * IPv4 header checksum.  proto is the L4 protocol (ip->proto overrides the
 * value written).  Returns the packet length. */
static inline size_t pkt_ip_build(uint8_t *out, const struct pkt_ip *ip, uint8_t proto,
				  const void *l4, size_t l4_len)
{
	uint8_t wproto = ip->proto < 0 ? proto : (uint8_t)ip->proto;
	size_t hl, i;
	uint8_t *p;

	if (!ip->v6) {
		hl = pkt_ipv4_hdr_put(out, ip->version, ip->ihl, ip->len, l4_len, ip->tos, ip->id,
				      ip->frag, ip->ttl, wproto, ip->src, ip->dst, ip->opt_len);
		if (l4_len)
		memcpy(out + hl, l4, l4_len);
		if (!ip->no_l4_csum)
			pkt_l4_fill_csum(0, ip->src, ip->dst, proto, out + hl, l4_len);
		pkt_ipv4_fix_csum(out);
		return hl + l4_len;
	}

	hl = 40;
	for (i = 0; i < ip->n_ext; i++)
		hl += pkt_ext_len(&ip->ext[i]);
	memset(out, 0, hl);
	out[0] = (uint8_t)((ip->version < 0 ? 6 : ip->version) << 4 | ip->tos >> 4);
	out[1] = (uint8_t)(ip->tos << 4);
	pkt_put16(out + 4, (uint16_t)(ip->len < 0 ? (int)(hl - 40 + l4_len) : ip->len));
	out[6] = ip->n_ext ? ip->ext[0].type : wproto;
	out[7] = ip->ttl;
	memcpy(out + 8, ip->src, 16);
	memcpy(out + 24, ip->dst, 16);
	p = out + 40;
	for (i = 0; i < ip->n_ext; i++) {
		const struct pkt_ext *x = &ip->ext[i];
		size_t xl = pkt_ext_len(x);

		p[0] = i + 1 < ip->n_ext ? ip->ext[i + 1].type : wproto;
		switch (x->type) {
		case 44: /* fragment */
			pkt_put16(p + 2, x->frag);
			pkt_put32(p + 4, 0x01020304u + ip->id);
			break;
		case 43: /* routing: type 253 (RFC 4727 experiment), segments left 0 */
			p[1] = x->len8;
			p[2] = 253;
			break;
		case 135: /* mobility: MH type 0 (binding refresh request) */
			p[1] = x->len8;
			break;
		default: /* hop-by-hop, dest opts: one PadN option filling the header */
			p[1] = x->len8;
			p[2] = 1;
			p[3] = (uint8_t)(xl - 4);
			break;
		}
		p += xl;
	}
	if (l4_len)
		memcpy(out + hl, l4, l4_len);
	if (!ip->no_l4_csum)
		pkt_l4_fill_csum(1, ip->src, ip->dst, proto, out + hl, l4_len);
	return hl + l4_len;
}

/* ---- Ethernet + outer IPv4 + UDP + GUE + private + hops ---- */

struct pkt_encap {
	uint8_t dst_mac[6], src_mac[6];
	uint16_t ethertype;
	uint8_t saddr[4], daddr[4];
	uint16_t sport, dport;
	uint8_t ttl, tos;
	uint16_t id, frag;
	uint8_t opt_len;           /* outer IPv4 options (NOPs): malformed for the classifier */
	int udp_csum;              /* compute a non-zero outer UDP checksum */
	uint8_t gue_bits;          /* OR'd into GUE byte 0: variant (0xc0), C (0x20) */
	uint16_t gue_flags;
	uint8_t priv_vflags;       /* version nibble | PRIV_F_* | 2 ignored bits */
	uint8_t priv_reserved;
	uint8_t next_hop;
	int n_hops;                /* hops written */
	uint8_t hops[GUE_MAX_HOPS + 2][4];
	size_t pad;                /* bytes after the IP packet (Ethernet padding), 0xee */
	/* Overrides, -1 = computed. */
	int version, ihl, tot_len, udp_len;
	int hlen;                  /* -1: 1 + n_hops */
	int proto_ctype;           /* -1: 4 or 41 from the inner version nibble */
	int hop_count;             /* -1: n_hops */
};

static inline struct pkt_encap pkt_encap(const char *saddr, const char *daddr, uint16_t dport)
{
	struct pkt_encap e = {
		.dst_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
		.src_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
		.ethertype = 0x0800, .sport = 40000, .dport = dport, .ttl = 63,
		.id = 0x1234, .frag = PKT_IP_DF,
		.version = -1, .ihl = -1, .tot_len = -1, .udp_len = -1, .hlen = -1,
		.proto_ctype = -1, .hop_count = -1,
	};

	inet_pton(AF_INET, saddr, e.saddr);
	inet_pton(AF_INET, daddr, e.daddr);
	return e;
}

static inline size_t pkt_eth_build(uint8_t *out, const uint8_t *dst, const uint8_t *src,
				   uint16_t type)
{
	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	pkt_put16(out + 12, type);
	return 14;
}

/* Recomputes the outer UDP checksum of a frame (IHL-located UDP, length
 * from the IPv4 tot_len). */
static inline void pkt_outer_fix_udp_csum(uint8_t *f)
{
	uint8_t *ip = f + ETH_HDR_LEN;
	size_t hl = (size_t)(ip[0] & 0x0f) * 4;
	size_t len = pkt_get16(ip + 2) - hl;

	pkt_l4_fill_csum(0, ip + 12, ip + 16, IPPROTO_UDP, ip + hl, len);
}

static inline size_t pkt_frame_build(uint8_t *out, const struct pkt_encap *e, const void *inner,
				     size_t inner_len)
{
	size_t iphl = 20 + e->opt_len;
	size_t udp_off = ETH_HDR_LEN + iphl;
	size_t gue_off = udp_off + 8;
	size_t hops_len = (size_t)e->n_hops * 4;
	size_t ip_len = iphl + 8 + 8 + hops_len + inner_len;
	uint8_t *ip = out + ETH_HDR_LEN, *g = out + gue_off;
	int n;

	pkt_eth_build(out, e->dst_mac, e->src_mac, e->ethertype);
	pkt_ipv4_hdr_put(ip, e->version, e->ihl, e->tot_len, ip_len - iphl, e->tos, e->id, e->frag,
			 e->ttl, IPPROTO_UDP, e->saddr, e->daddr, e->opt_len);

	pkt_put16(out + udp_off, e->sport);
	pkt_put16(out + udp_off + 2, e->dport);
	pkt_put16(out + udp_off + 4,
		  (uint16_t)(e->udp_len < 0 ? (int)(ip_len - iphl) : e->udp_len));
	pkt_put16(out + udp_off + 6, 0);

	n = e->hop_count < 0 ? e->n_hops : e->hop_count;
	g[0] = (uint8_t)(e->gue_bits | ((e->hlen < 0 ? 1 + e->n_hops : e->hlen) & GUE_HLEN_MASK));
	if (e->proto_ctype >= 0)
		g[1] = (uint8_t)e->proto_ctype;
	else
		g[1] = inner_len && (((const uint8_t *)inner)[0] >> 4) == 6 ? 41 : 4;
	pkt_put16(g + 2, e->gue_flags);
	g[4] = e->priv_vflags;
	g[5] = e->priv_reserved;
	g[6] = e->next_hop;
	g[7] = (uint8_t)n;
	memcpy(g + 8, e->hops, hops_len);
	if (inner_len)
		memcpy(g + 8 + hops_len, inner, inner_len);
	memset(out + ETH_HDR_LEN + ip_len, 0xee, e->pad);

	pkt_ipv4_fix_csum(ip);
	if (e->udp_csum)
		pkt_l4_fill_csum(0, ip + 12, ip + 16, IPPROTO_UDP, out + udp_off, ip_len - iphl);
	return ETH_HDR_LEN + ip_len + e->pad;
}

/* ---- what the classifier must emit (tc-cls-redirect.8, DECISION TABLE: forward and accept) ---- */

/* Accept: the frame minus the 36 + 4N bytes after the Ethernet header, with
 * EtherType 0x86dd for proto_ctype 41. */
static inline size_t pkt_expect_accept(uint8_t *out, const uint8_t *in, size_t len)
{
	size_t cut = ENCAP_LEN(in[OFF_PRIV + 3]);

	memcpy(out, in, 12);
	pkt_put16(out + 12, in[OFF_GUE + 1] == 41 ? 0x86dd : 0x0800);
	memcpy(out + 14, in + 14 + cut, len - 14 - cut);
	return len - cut;
}

static inline void pkt_swap_macs(uint8_t *out, const uint8_t *in)
{
	memcpy(out, in + 6, 6);
	memcpy(out + 6, in, 6);
}

/* GUE forward to hop[next_hop]: MACs swapped, saddr = addr (network order),
 * daddr = hop, next_hop + 1, IPv4 checksum fixed, UDP checksum fixed if it
 * was non-zero. */
static inline size_t pkt_expect_gue_forward(uint8_t *out, const uint8_t *in, size_t len,
					    const uint8_t *addr)
{
	uint8_t k = in[OFF_PRIV + 2];

	memcpy(out, in, len);
	pkt_swap_macs(out, in);
	memcpy(out + OFF_OUTER_IP + 12, addr, 4);
	memcpy(out + OFF_OUTER_IP + 16, in + OFF_HOPS + 4 * k, 4);
	out[OFF_PRIV + 2] = k + 1;
	pkt_ipv4_fix_csum(out + OFF_OUTER_IP);
	if (pkt_get16(in + OFF_UDP + 6))
		pkt_outer_fix_udp_csum(out);
	return len;
}

/* GRE forward to hop[next_hop]: outer IPv4 kept but protocol 47, saddr =
 * addr, daddr = hop, tot_len - 12 - 4N; GRE 00 00 08 00 / 00 00 86 dd; inner
 * TTL / hop limit - 1. */
static inline size_t pkt_expect_gre_forward(uint8_t *out, const uint8_t *in, size_t len,
					    const uint8_t *addr)
{
	uint8_t k = in[OFF_PRIV + 2], n = in[OFF_PRIV + 3];
	size_t cut = 12 + 4 * (size_t)n;
	int v6 = in[OFF_GUE + 1] == 41;
	uint8_t *inner = out + OFF_UDP + 4;

	memcpy(out, in, OFF_UDP);
	pkt_swap_macs(out, in);
	out[OFF_OUTER_IP + 9] = 47;
	memcpy(out + OFF_OUTER_IP + 12, addr, 4);
	memcpy(out + OFF_OUTER_IP + 16, in + OFF_HOPS + 4 * k, 4);
	pkt_put16(out + OFF_OUTER_IP + 2, (uint16_t)(pkt_get16(in + OFF_OUTER_IP + 2) - cut));
	pkt_ipv4_fix_csum(out + OFF_OUTER_IP);
	pkt_put16(out + OFF_UDP, 0);
	pkt_put16(out + OFF_UDP + 2, v6 ? 0x86dd : 0x0800);
	memcpy(inner, in + OFF_HOPS + 4 * n, len - (OFF_HOPS + 4 * (size_t)n));
	if (v6) {
		inner[7]--;
	} else {
		inner[8]--;
		pkt_ipv4_fix_csum(inner);
	}
	return len - cut;
}

/* The value of one hex digit, or -1. */
static inline int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

#endif /* CLS_REDIRECT_PKT_H */
