/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet fuzzer of the classifier, through BPF_PROG_TEST_RUN.
 *
 * Builds valid encapsulated packets of every class (TCP, UDP, ICMP echo and
 * errors with quotes, IPv4 and IPv6, IPv6 extension chains, fragments, long
 * hop lists, GRE last hops, plain traffic, random frames), mutates them (bit
 * flips, bytes, truncation, insertion and deletion, field-aware changes of
 * lengths, hlen, hop_count, next_hop, protocols, flags, extension headers and
 * ICMP quotes, with or without fixing the checksums up afterwards), runs each
 * one under a randomly chosen configuration (sometimes as a GSO packet), and
 * checks every run:
 *
 *   - the verdict is pass, drop or redirect, and matches the outcome counter
 *     that moved (passed -> pass, errors_* -> drop, accepted / forwarded ->
 *     redirect);
 *   - processed_packets_total moved by one, exactly one outcome counter moved
 *     by one, no counter moved by more, and the invariant of tc-cls-redirect.8, METRICS, holds;
 *   - a passed or dropped packet is byte-for-byte unchanged;
 *   - an accepted packet is exactly the Ethernet header + the inner packet;
 *   - a forwarded packet differs from its input only where tc-cls-redirect.8, DECISION TABLE, allows
 *     (MACs swapped, outer saddr / daddr, next_hop; GRE: the header swap and
 *     the inner TTL) and its checksums are valid (when the input's were);
 *   - the outcome, and the l3 / l4 counters, are the ones a reference model
 *     of the DECISION TABLE of tc-cls-redirect.8 computes for the input.
 *     The test runs in a network namespace of its own with no socket in it,
 *     so every socket lookup misses and the model is exact.  Where the man page leaves an
 *     order of checks open, the model allows each reading;
 *   - services (tc-cls-redirect.8, CONTAINERS): a quarter of the runs list
 *     random services, mostly for the frame's own destination (or an ICMP
 *     quote's source), in a pod of the namespace (a child namespace behind a
 *     veth, no socket either) or behind a veth that is gone.  The model finds
 *     the service each packet goes to as the man page says (its port, else
 *     port 0; an echo request: port 0, TCP before UDP; a fragment at the
 *     last hop: port 0 of its protocol): an accepted packet for a pod is
 *     redirected into it (tc; XDP leaves it to tc untouched and uncounted),
 *     one for a pod that is gone is dropped as errors_total_service_gone;
 *     an IPv6 one whose decapsulation fails (GSO) is dropped with the room
 *     bpf_skb_change_proto() made for the longer header.
 *
 * First replays every file in selftests/crashes/ (PASS/FAIL replay-NAME);
 * then the seeded pass: truncation of one base packet per class at every
 * offset, then random mutants (PASS/FAIL fuzz-CLASS).  A failing input is
 * written to the crash directory as a text fixture (config, GSO flag and
 * frame in hex) that later runs replay.
 *
 * Usage: test_fuzz [-v] [-s SEED] [-t SECONDS] [-n RUNS] [-d DIR] [FILE...]
 *   -s / FUZZ_SEED      seed (default: fixed, so make check is repeatable)
 *   -t / FUZZ_SECONDS   run for this long, round-robin over the classes,
 *                       instead of the bounded pass
 *   -n                  random runs per class in the bounded pass (20000)
 *   -d / FUZZ_CRASH_DIR where fixtures are read and written
 *                       (selftests/crashes)
 *   FILE...             replay only these fixtures
 *   -v                  hexdump every failure
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "harness.h"
#include "pkt.h"

#define M(x) CLS_REDIRECT_METRIC_##x
#define NO (-1)

#define OUR "192.0.2.10"
#define PORT CLS_REDIRECT_GLB_PORT
#define FRAME_MAX 3000 /* BPF_PROG_TEST_RUN takes a page minus head- and tailroom */

static struct harness H;
static uint8_t our_addr[4];
static int verbose;
static const char *crash_dir = "selftests/crashes";
static int n_saved;

/* Random numbers: struct rng, rnd64() and rnd() from harness.h, one stream
 * per (seed, class, run). */

/* True with probability 1/n. */
static int one_in(struct rng *r, uint32_t n)
{
	return rnd(r, n) == 0;
}

/* ---------------------------------------------------------------------- */
/* one case: configuration, GSO flag, frame                                */

struct fcase {
	struct cls_redirect_config cfg;
	/* The trust lists, "A.B.C.D/LEN ..." ("" = empty; harness_set_list). */
	char sources[128], hops[128];
	/* The services, "ADDR PORT tcp|udp live|gone" separated by commas ("" =
	 * none): live in the pod, gone behind a deleted veth (set_services). */
	char services[192];
	int gso;
	size_t len;
	uint8_t f[FRAME_MAX];
};

/* ---------------------------------------------------------------------- */
/* reference model of the man page's DECISION TABLE, with no local sockets                  */

struct exp {
	int out, l3, l4;
	int svc; /* accepted for a live service: delivered into its pod */
};

/* Orders of checks the man page leaves open; the model runs once per
 * combination and allows each result. */
enum {
	A_UDP_UNREADABLE = 1 << 0, /* dport beyond the frame: pass (else check 2) */
	A_FRAG_STOP = 1 << 1,      /* IPv6 walk stops at a fragment header */
	A_GRE_TTL_FIRST = 1 << 2,  /* GRE: TTL checked before the MTU */
	A_QPORTS_LAST = 1 << 3,    /* quote: fragment and protocol checked before the
				    * 4 port bytes (one reading lists the ports first) */
	A_ALL = (1 << 4) - 1,
};

static int is_ext(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 135;
}

/* Walks at most max IPv6 extension headers of p[off..end).  Returns 0 and sets *nh,
 * *off, *frag (fragment header seen; *frag_off: with offset != 0), or -1 if
 * malformed (too many, or one does not fit). */
static int walk_ext(const uint8_t *p, size_t end, uint8_t *nh, size_t *off, int *frag,
		    int *frag_off, int alt, int max)
{
	int cnt = 0;
	size_t hl;

	*frag = *frag_off = 0;
	while (is_ext(*nh)) {
		if (*frag && (alt & A_FRAG_STOP))
			break;
		if (cnt == max)
			return -1;
		if (*nh == 44) {
			hl = 8;
		} else {
			if (*off + 2 > end)
				return -1;
			hl = ((size_t)p[*off + 1] + 1) * 8;
		}
		if (*off + hl > end)
			return -1;
		if (*nh == 44) {
			*frag = 1;
			if (pkt_get16(p + *off + 2) >> 3)
				*frag_off = 1;
		}
		*nh = p[*off];
		*off += hl;
		cnt++;
	}
	return 0;
}

#define R(o, a, b) ((struct exp){ (o), (a), (b), 0 })

enum { SVC_NONE, SVC_LIVE, SVC_GONE };

/*
 * The service a packet for addr (4 or 16 bytes), proto, port goes to, as
 * the classifier finds it (tc-cls-redirect.8, CONTAINERS): the entry with
 * that port, else the one with port 0.  A key written twice holds the last
 * entry written.
 */
static int svc_find(const struct fcase *c, int v6, const uint8_t *addr, uint8_t proto, uint16_t port)
{
	char buf[sizeof(c->services)], *ent, *save = NULL;
	int exact = SVC_NONE, any = SVC_NONE;

	snprintf(buf, sizeof(buf), "%s", c->services);
	for (ent = strtok_r(buf, ",", &save); ent; ent = strtok_r(NULL, ",", &save)) {
		char a[64], pr[8], st[8];
		unsigned int pt;
		uint8_t bin[16];
		int ev6;

		if (sscanf(ent, "%63s %u %7s %7s", a, &pt, pr, st) != 4)
			continue;
		ev6 = strchr(a, ':') != NULL;
		if (ev6 != v6 || inet_pton(ev6 ? AF_INET6 : AF_INET, a, bin) != 1 ||
		    memcmp(bin, addr, v6 ? 16 : 4) || (pr[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP) != proto)
			continue;
		if (pt == port && port)
			exact = st[0] == 'l' ? SVC_LIVE : SVC_GONE;
		else if (!pt)
			any = st[0] == 'l' ? SVC_LIVE : SVC_GONE;
	}
	return exact ? exact : any;
}

/* An accepted packet, for svc: a pod that is gone drops it (checked before
 * anything is changed), GSO makes the decapsulation fail, else it is
 * delivered (into the pod for a live service; svc is also kept on the
 * failure, whose output differs for a pod: see run_case). */
static struct exp accepted(int out, int l3, int l4, int svc, int gso)
{
	struct exp e = R(gso ? M(ERR_ENCAP_ADJUST_FAILED) : out, l3, l4);

	if (svc == SVC_GONE)
		return R(M(ERR_SERVICE_GONE), l3, l4);
	e.svc = svc == SVC_LIVE;
	return e;
}

/* Whether the address at a (4 bytes, network order) falls in a prefix of
 * the list (the man page, SECURITY: any prefix that matches allows it). */
static int in_list(const char *list, const uint8_t *a)
{
	char buf[128], *tok, *save = NULL;
	uint32_t addr = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct in_addr in;
		char *slash = strchr(tok, '/');
		unsigned len = (unsigned)atoi(slash + 1);
		uint32_t mask = len ? ~0u << (32 - len) : 0;

		*slash = 0;
		inet_pton(AF_INET, tok, &in);
		if ((addr & mask) == (ntohl(in.s_addr) & mask))
			return 1;
	}
	return 0;
}

static struct exp model(const struct fcase *c, int alt)
{
	const struct cls_redirect_config *cfg = &c->cfg;
	const uint8_t *f = c->f, *ip = f + OFF_OUTER_IP, *g = f + OFF_GUE, *p, *l4, *hop;
	size_t len = c->len, ihl, uoff, tot, n, k, io, avail, l4len, off, end;
	int last, v6, l3, frag, frag_off, gre, tcp, udp, icmp, t, code, ptb, bad, svc = SVC_NONE;
	uint8_t proto, nh;

	/* 1. not ours: pass */
	if (cfg->version != CLS_REDIRECT_CONFIG_VERSION || !cfg->addr)
		return R(M(PASSED), NO, NO);
	if (len < 14 || pkt_get16(f + 12) != 0x0800 || len < 50)
		return R(M(PASSED), NO, NO);
	if (memcmp(ip + 16, &cfg->addr, 4) || ip[9] != IPPROTO_UDP)
		return R(M(PASSED), NO, NO);
	ihl = ip[0] & 0x0f;
	if (ihl < 5)
		return R(M(PASSED), NO, NO);
	uoff = OFF_OUTER_IP + ihl * 4;
	if (uoff + 4 > len) {
		if (alt & A_UDP_UNREADABLE)
			return R(M(PASSED), NO, NO);
	} else if (pkt_get16(f + uoff + 2) != ntohs(cfg->port)) {
		return R(M(PASSED), NO, NO);
	}
	/* 2.-4. outer header */
	if (ihl != 5 || ip[0] >> 4 != 4)
		return R(M(ERR_MALFORMED_OUTER_IP), NO, NO);
	if (pkt_get16(ip + 6) & 0x3fff)
		return R(M(ERR_FRAGMENTED_OUTER_IP), NO, NO);
	tot = pkt_get16(ip + 2);
	if (tot < 36 || tot > len - 14 || pkt_get16(ip + 24) != tot - 20)
		return R(M(ERR_MALFORMED_OUTER_IP), NO, NO);
	/* SECURITY: the outer source, before the GUE header is believed */
	if (!in_list(c->sources, ip + 12))
		return R(M(ERR_UNTRUSTED_SOURCE), NO, NO);
	/* 5.-9. GUE and private header */
	if ((g[0] & (GUE_VARIANT_MASK | GUE_CONTROL_BIT)) || pkt_get16(g + 2))
		return R(M(ERR_MALFORMED_ENCAPSULATION), NO, NO);
	if ((g[4] & PRIV_VERSION_MASK) || g[5])
		return R(M(ERR_MALFORMED_ENCAPSULATION), NO, NO);
	n = g[7];
	k = g[6];
	if ((size_t)(g[0] & GUE_HLEN_MASK) != 1 + n || 36 + 4 * n > tot)
		return R(M(ERR_MALFORMED_ENCAPSULATION), NO, NO);
	if (k > n)
		return R(M(ERR_INVALID_NEXT_HOP), NO, NO);
	if (g[1] != 4 && g[1] != 41)
		return R(M(ERR_UNKNOWN_L3_PROTO), NO, NO);

	/* 10. inner IP */
	last = k == n || (cfg->flags & CLS_REDIRECT_F_NO_FORWARD);
	v6 = g[1] == 41;
	l3 = v6 ? M(L3_IPV6) : M(L3_IPV4);
	io = OFF_HOPS + 4 * n;
	avail = tot - 36 - 4 * n;
	p = f + io;
	if (!v6) {
		size_t ihl4, itot;

		if (avail < 20 || p[0] >> 4 != 4)
			return R(M(ERR_MALFORMED_IP), l3, NO);
		ihl4 = (size_t)(p[0] & 0x0f) * 4;
		if (ihl4 < 20 || ihl4 > avail)
			return R(M(ERR_MALFORMED_IP), l3, NO);
		itot = pkt_get16(p + 2);
		if (itot < ihl4 || itot > avail)
			return R(M(ERR_MALFORMED_IP), l3, NO);
		frag = (pkt_get16(p + 6) & 0x3fff) != 0;
		proto = p[9];
		l4 = p + ihl4;
		l4len = itot - ihl4;
	} else {
		if (avail < 40 || p[0] >> 4 != 6)
			return R(M(ERR_MALFORMED_IP), l3, NO);
		end = 40 + (size_t)pkt_get16(p + 4);
		if (end > avail)
			return R(M(ERR_MALFORMED_IP), l3, NO);
		nh = p[6];
		off = 40;
		if (walk_ext(p, end, &nh, &off, &frag, &frag_off, alt, 8))
			return R(M(ERR_MALFORMED_IP), l3, NO);
		proto = nh;
		l4 = p + off;
		l4len = end - off;
	}
	if (frag) {
		if (!last)
			return R(M(ERR_FRAGMENTED_IP), l3, NO);
		if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
			svc = svc_find(c, v6, p + (v6 ? 24 : 16), proto, 0);
		goto accept_last_hop;
	}
	tcp = proto == IPPROTO_TCP;
	udp = proto == IPPROTO_UDP;
	icmp = proto == (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	if (!tcp && !udp && !icmp)
		return R(M(ERR_UNKNOWN_L4_PROTO), l3, NO);

	if (tcp) {
		/* 11. */
		int doff;

		if (l4len < 20)
			return R(M(ERR_MALFORMED_TCP), l3, M(L4_TCP));
		doff = l4[12] >> 4;
		if (doff < 5 || (size_t)doff * 4 > l4len)
			return R(M(ERR_MALFORMED_TCP), l3, M(L4_TCP));
		svc = svc_find(c, v6, p + (v6 ? 24 : 16), IPPROTO_TCP, pkt_get16(l4 + 2));
		if ((l4[13] & PKT_TCP_SYN) && !(l4[13] & PKT_TCP_ACK)) {
			if (!last && (g[4] & PRIV_F_FORWARD_SYN))
				goto forward;
			return accepted(M(ACCEPTED_SYN), l3, M(L4_TCP), svc, c->gso);
		}
		if (last)
			goto accept_last_hop;
		goto forward;
	}
	if (udp) {
		/* 12. */
		size_t ulen;

		if (l4len < 8)
			return R(M(ERR_MALFORMED_UDP), l3, M(L4_UDP));
		ulen = pkt_get16(l4 + 4);
		if (ulen < 8 || ulen > l4len)
			return R(M(ERR_MALFORMED_UDP), l3, M(L4_UDP));
		svc = svc_find(c, v6, p + (v6 ? 24 : 16), IPPROTO_UDP, pkt_get16(l4 + 2));
		if (last)
			goto accept_last_hop;
		goto forward;
	}

	/* 13. ICMP / ICMPv6 */
	if (l4len < 8)
		return R(M(ERR_MALFORMED_ICMP), l3, M(L4_ICMP));
	t = l4[0];
	code = l4[1];
	if (t == (v6 ? 128 : 8)) {
		/* A health check: the address's port-0 service, TCP first. */
		svc = svc_find(c, v6, p + (v6 ? 24 : 16), IPPROTO_TCP, 0);
		if (!svc)
			svc = svc_find(c, v6, p + (v6 ? 24 : 16), IPPROTO_UDP, 0);
		return accepted(M(ACCEPTED_ICMP_ECHO_REQUEST), l3, M(L4_ICMP), svc, c->gso);
	}
	if (t == (v6 ? 129 : 0))
		return R(M(ERR_ICMP_ECHO_REPLIES), l3, M(L4_ICMP));
	if (v6 ? !(t >= 1 && t <= 4) : !(t == 3 || t == 11 || t == 12))
		return R(M(ERR_UNWANTED_ICMP), l3, M(L4_ICMP));
	ptb = v6 ? t == 2 : (t == 3 && code == 4);
	bad = ptb ? M(ERR_MALFORMED_ICMP_PKT_TOO_BIG) : M(ERR_MALFORMED_ICMP);
	{
		const uint8_t *q = l4 + 8;
		size_t qa = l4len - 8, qoff;
		int qfrag, qfrag_off, ports_ok;

		if (!v6) {
			if (qa < 20 || q[0] >> 4 != 4 || (q[0] & 0x0f) < 5)
				return R(bad, l3, M(L4_ICMP));
			qoff = (size_t)(q[0] & 0x0f) * 4;
			qfrag_off = (pkt_get16(q + 6) & 0x1fff) != 0;
			proto = q[9];
		} else {
			if (qa < 40 || q[0] >> 4 != 6)
				return R(bad, l3, M(L4_ICMP));
			proto = q[6];
			qoff = 40;
			/* A first fragment still carries the ports: walk on.  At
			 * most 4 headers: the quote is a packet this server sent. */
			if (walk_ext(q, qa, &proto, &qoff, &qfrag, &qfrag_off, alt & ~A_FRAG_STOP, 4))
				return R(bad, l3, M(L4_ICMP));
		}
		ports_ok = qoff + 4 <= qa;
		if (!(alt & A_QPORTS_LAST) && !ports_ok)
			return R(bad, l3, M(L4_ICMP));
		if (qfrag_off)
			return R(M(ERR_FRAGMENTED_IP), l3, M(L4_ICMP));
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
			return R(M(ERR_UNWANTED_ICMP), l3, M(L4_ICMP));
		if (!ports_ok)
			return R(bad, l3, M(L4_ICMP));
		/* The quoted packet left the service: its source and port. */
		svc = svc_find(c, v6 ? 1 : 0, q + (v6 ? 8 : 12), proto, pkt_get16(q + qoff));
	}
	if (last)
		goto accept_last_hop;
	/* fall through: forward */

forward:
	/* 14. */
	{
		int l4c = tcp ? M(L4_TCP) : udp ? M(L4_UDP) : icmp ? M(L4_ICMP) : NO;
		size_t out;
		uint8_t ttl;

		hop = f + OFF_HOPS + 4 * k;
		if (hop[0] == 0 || hop[0] == 127 || hop[0] >= 224)
			return R(M(ERR_INVALID_HOP), l3, l4c);
		if (!memcmp(hop, &cfg->addr, 4))
			return R(M(ERR_REDIRECT_LOOP), l3, l4c);
		if (!in_list(c->hops, hop))
			return R(M(ERR_FORBIDDEN_HOP), l3, l4c);
		gre = (g[4] & PRIV_F_LAST_HOP_GRE) && k + 1 == n;
		ttl = v6 ? p[7] : p[8];
		if (gre && (alt & A_GRE_TTL_FIRST) && ttl <= 1)
			return R(M(ERR_REDIRECT_LOOP), l3, l4c);
		out = gre ? tot - 12 - 4 * n : tot;
		if (cfg->mtu && !c->gso && out > cfg->mtu)
			return R(M(ERR_ENCAP_MTU_VIOLATE), l3, l4c);
		if (gre && ttl <= 1)
			return R(M(ERR_REDIRECT_LOOP), l3, l4c);
		/* Route mode: this namespace has no route to anywhere (and
		 * forwarding off on lo), so the lookup, made before the packet
		 * is changed, always fails (tc-cls-redirect.8, ROUTE MODE). */
		if (cfg->flags & CLS_REDIRECT_F_ROUTE)
			return R(M(ERR_NO_ROUTE), l3, l4c);
		if (gre && c->gso)
			return R(M(ERR_ENCAP_ADJUST_FAILED), l3, l4c);
		return R(gre ? M(FORWARDED_GRE) : M(FORWARDED_GUE), l3, l4c);
	}

accept_last_hop:
	{
		int l4c = frag ? NO : tcp ? M(L4_TCP) : udp ? M(L4_UDP) : M(L4_ICMP);

		return accepted(M(ACCEPTED_LAST_HOP), l3, l4c, svc, c->gso);
	}
}

/* ---------------------------------------------------------------------- */
/* running and checking one case                                           */

static const char *mname(int i)
{
	return i < 0 ? "none" : harness_metric_names[i];
}

/* Compares got with exp, skipping the 2-byte fields at the offsets in skip
 * (-1 ends the list). */
static void cmp_bytes(struct why *w, const uint8_t *exp, size_t exp_len, const uint8_t *got,
		      size_t got_len, const int *skip)
{
	size_t i, n = exp_len < got_len ? exp_len : got_len;
	const int *s;

	if (exp_len != got_len)
		why_add(w, "output length: expected %zu, got %zu", exp_len, got_len);
	for (i = 0; i < n; i++) {
		int skipped = 0;

		for (s = skip; s && *s >= 0; s++)
			if (i == (size_t)*s || i == (size_t)*s + 1)
				skipped = 1;
		if (!skipped && exp[i] != got[i]) {
			why_add(w, "output differs first at byte %zu: expected 0x%02x, got 0x%02x", i,
				exp[i], got[i]);
			return;
		}
	}
}

static uint64_t runs_total;
static uint64_t outcome_hits[CLS_REDIRECT_METRIC_COUNT];
static struct cls_redirect_config cur_cfg;
static char cur_sources[128], cur_hops[128], cur_services[192];
static int cfg_written;

/* The pod of the services (main): its veth here and its netnsid; and the
 * ifindex of a veth that was deleted (a pod that is gone). */
static int svc_fd = -1, pod_ifindex, pod_netnsid = -1, gone_ifindex;

/* Replaces the content of the services map with list (fcase.services). */
static int set_services(const char *list, struct why *w)
{
	struct cls_redirect_service_key k, next;
	char buf[192], *ent, *save = NULL;

	while (!bpf_map_get_next_key(svc_fd, NULL, &next))
		if (bpf_map_delete_elem(svc_fd, &next)) {
			why_add(w, "cannot empty the services map: %s", strerror(errno));
			return -1;
		}
	snprintf(buf, sizeof(buf), "%s", list);
	for (ent = strtok_r(buf, ",", &save); ent; ent = strtok_r(NULL, ",", &save)) {
		struct cls_redirect_service v = { .netnsid = (uint32_t)pod_netnsid };
		char a[64], pr[8], st[8];
		unsigned int pt;

		memset(&k, 0, sizeof(k));
		if (sscanf(ent, "%63s %u %7s %7s", a, &pt, pr, st) != 4 || pt > 65535 ||
		    inet_pton(strchr(a, ':') ? AF_INET6 : AF_INET, a, k.addr) != 1) {
			why_add(w, "not a service: '%s'", ent);
			return -1;
		}
		k.family = strchr(a, ':') ? CLS_REDIRECT_SERVICE_V6 : CLS_REDIRECT_SERVICE_V4;
		k.proto = pr[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
		k.port = htons((uint16_t)pt);
		v.ifindex = (uint32_t)(st[0] == 'l' ? pod_ifindex : gone_ifindex);
		if (bpf_map_update_elem(svc_fd, &k, &v, BPF_ANY)) {
			why_add(w, "cannot list service '%s': %s", ent, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Runs c and checks it; 0 if fine, else -1 with the reasons in w; 1 if the
 * kernel refused the frame (too short for its EtherType): not a run. */
static int run_case(const struct fcase *c, struct why *w, uint8_t *got, size_t *got_len,
		    uint32_t *retval)
{
	static uint8_t exp[FRAME_MAX];
	uint64_t before[CLS_REDIRECT_METRIC_COUNT], after[CLS_REDIRECT_METRIC_COUNT];
	struct __sk_buff ctx;
	int64_t d[CLS_REDIRECT_METRIC_COUNT];
	int i, moved = -1, n_moved = 0, cls = -1, alt, ok, svc_fail;
	struct exp e, want[A_ALL + 1];
	int n_want = 0;
	char inv[256];

	if (!cfg_written || memcmp(&cur_cfg, &c->cfg, sizeof(cur_cfg)) ||
	    strcmp(cur_sources, c->sources) || strcmp(cur_hops, c->hops) || strcmp(cur_services, c->services)) {
		if (harness_set_config(&H, &c->cfg) || harness_set_list(&H, H.src_fd, c->sources) ||
		    harness_set_list(&H, H.hops_fd, c->hops)) {
			why_add(w, "%s", H.err);
			return -1;
		}
		if (set_services(c->services, w))
			return -1;
		cur_cfg = c->cfg;
		memcpy(cur_sources, c->sources, sizeof(cur_sources));
		memcpy(cur_hops, c->hops, sizeof(cur_hops));
		memcpy(cur_services, c->services, sizeof(cur_services));
		cfg_written = 1;
	}
	if (c->gso && H.xdp)
		return 1; /* a saved GSO case: XDP never sees one */
	memset(&ctx, 0, sizeof(ctx));
	if (c->gso) {
		ctx.gso_size = 100;
		ctx.gso_segs = 2;
	}
	if (harness_read_metrics(&H, before)) {
		why_add(w, "%s", H.err);
		return -1;
	}
	if (harness_run(&H, c->f, c->len, got, 2 * FRAME_MAX, got_len, retval, c->gso ? &ctx : NULL)) {
		uint16_t et = c->len >= 14 ? pkt_get16(c->f + 12) : 0;

		/* bpf_prog_test_run_skb() wants an Ethernet header and, for
		 * IPv4 / IPv6, the fixed IP header. */
		if (errno == EINVAL && (c->len < 14 || (et == 0x0800 && c->len < 34) ||
					(et == 0x86dd && c->len < 54)))
			return 1;
		why_add(w, "%s", H.err);
		return -1;
	}
	runs_total++;
	if (harness_read_metrics(&H, after)) {
		why_add(w, "%s", H.err);
		return -1;
	}

	/* The reference model, every reading of it. */
	for (alt = 0; alt <= A_ALL; alt++) {
		e = model(c, alt);
		for (i = 0; i < n_want; i++)
			if (!memcmp(&want[i], &e, sizeof(e)))
				break;
		if (i == n_want)
			want[n_want++] = e;
	}
	/* XDP leaves a packet for a pod to tc: untouched, uncounted. */
	if (H.xdp && *retval == HARNESS_XDP_PASS && after[M(PROCESSED)] == before[M(PROCESSED)]) {
		for (i = 0, ok = 0; i < n_want; i++)
			ok |= want[i].svc;
		for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
			if (after[i] != before[i])
				why_add(w, "counter %s moved by %+lld with nothing processed", mname(i),
					(long long)(after[i] - before[i]));
		if (!ok)
			why_add(w, "passed up uncounted, but the model says %s (l3 %s, l4 %s), for no pod",
				mname(want[0].out), mname(want[0].l3), mname(want[0].l4));
		cmp_bytes(w, c->f, c->len, got, *got_len, NULL);
		for (i = 0; i < n_want; i++)
			if (want[i].svc) {
				outcome_hits[want[i].out]++;
				break;
			}
		return w->len ? -1 : 0;
	}

	/* Counters: processed +1, one outcome +1, l3 / l4 at most +1. */
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		d[i] = (int64_t)(after[i] - before[i]);
		if (d[i] < 0 || d[i] > 1)
			why_add(w, "counter %s moved by %+lld", mname(i), (long long)d[i]);
		if (d[i] && harness_outcome_class(i) >= 0) {
			moved = i;
			n_moved++;
		}
	}
	if (d[M(PROCESSED)] != 1)
		why_add(w, "processed_packets_total moved by %+lld, not +1", (long long)d[M(PROCESSED)]);
	if (n_moved != 1)
		why_add(w, "%d outcome counters moved, not exactly one", n_moved);
	if (d[M(L3_IPV4)] + d[M(L3_IPV6)] > 1 || d[M(L4_TCP)] + d[M(L4_UDP)] + d[M(L4_ICMP)] > 1)
		why_add(w, "more than one l3 or l4 counter moved");
	if (harness_invariant(after, inv, sizeof(inv)))
		why_add(w, "%s", inv);
	if (n_moved == 1) {
		cls = harness_outcome_class(moved);
		outcome_hits[moved]++;
	}

	/* Verdict and output bytes. */
	if (!harness_ret_known(&H, *retval))
		why_add(w, "verdict 0x%x is none of those of the %s flavour", *retval, H.xdp ? "XDP" : "tc");
	/* (An accepted packet for a pod is redirected: checked with the model.) */
	else if (cls >= 0 && *retval != harness_class_ret(&H, cls, c->f) &&
		 !(cls == 1 && !H.xdp && *retval == HARNESS_RET_REDIRECT))
		why_add(w, "verdict 0x%x does not go with counter %s", *retval, mname(moved));
	/* Passed and dropped packets are left as they are (XDP passes an
	 * accepted one as well, changed). */
	for (i = 0, svc_fail = 0; i < n_want; i++)
		svc_fail |= want[i].svc && want[i].out == M(ERR_ENCAP_ADJUST_FAILED);
	if (!H.xdp && moved == M(ERR_ENCAP_ADJUST_FAILED) && svc_fail && c->f[OFF_GUE + 1] == IPPROTO_IPV6 &&
	    *got_len == c->len + 20) {
		/* An IPv6 packet for a pod whose decapsulation failed (GSO) is
		 * dropped as bpf_skb_change_proto() left it: 20 zero bytes after
		 * the Ethernet header, the room for the longer header. */
		memcpy(exp, c->f, 14);
		memset(exp + 14, 0, 20);
		memcpy(exp + 34, c->f + 14, c->len - 14);
		cmp_bytes(w, exp, c->len + 20, got, *got_len, NULL);
	} else if (H.xdp ? cls == 0 || *retval == HARNESS_XDP_DROP :
			   *retval == HARNESS_RET_PASS || *retval == HARNESS_RET_DROP) {
		cmp_bytes(w, c->f, c->len, got, *got_len, NULL);
	} else if (cls == 1) {
		size_t n = pkt_expect_accept(exp, c->f, c->len);

		cmp_bytes(w, exp, n, got, *got_len, NULL);
	} else if (moved == M(FORWARDED_GUE)) {
		const uint8_t *ip = c->f + OFF_OUTER_IP;
		int skip[] = { OFF_OUTER_IP + 10, OFF_UDP + 6, -1 };
		size_t n = pkt_expect_gue_forward(exp, c->f, c->len, (const uint8_t *)&c->cfg.addr);
		size_t ulen = pkt_get16(ip + 2) - 20;
		const uint8_t *gip = got + OFF_OUTER_IP;

		cmp_bytes(w, exp, n, got, *got_len, skip);
		if (*got_len == n) {
			if (pkt_ipv4_csum_ok(ip) && !pkt_ipv4_csum_ok(gip))
				why_add(w, "outer IPv4 checksum 0x%04x invalid", pkt_get16(gip + 10));
			if (!pkt_get16(c->f + OFF_UDP + 6)) {
				if (pkt_get16(got + OFF_UDP + 6))
					why_add(w, "outer UDP checksum was 0, is 0x%04x",
						pkt_get16(got + OFF_UDP + 6));
			} else if (pkt_l4_csum_ok(0, ip + 12, ip + 16, IPPROTO_UDP, c->f + OFF_UDP, ulen) &&
				   !pkt_l4_csum_ok(0, gip + 12, gip + 16, IPPROTO_UDP, got + OFF_UDP, ulen)) {
				why_add(w, "outer UDP checksum 0x%04x invalid", pkt_get16(got + OFF_UDP + 6));
			}
		}
	} else if (moved == M(FORWARDED_GRE)) {
		const uint8_t *ip = c->f + OFF_OUTER_IP;
		size_t n = pkt_expect_gre_forward(exp, c->f, c->len, (const uint8_t *)&c->cfg.addr);
		int v4 = pkt_get16(exp + OFF_UDP + 2) == 0x0800;
		int skip[] = { OFF_OUTER_IP + 10, v4 ? OFF_UDP + 4 + 10 : -1, -1 };
		const uint8_t *in_inner = c->f + OFF_HOPS + 4 * (size_t)c->f[OFF_PRIV + 3];

		cmp_bytes(w, exp, n, got, *got_len, skip);
		if (*got_len == n) {
			if (pkt_ipv4_csum_ok(ip) && !pkt_ipv4_csum_ok(got + OFF_OUTER_IP))
				why_add(w, "outer IPv4 checksum 0x%04x invalid",
					pkt_get16(got + OFF_OUTER_IP + 10));
			if (v4 && pkt_ipv4_csum_ok(in_inner) && !pkt_ipv4_csum_ok(got + OFF_UDP + 4))
				why_add(w, "inner IPv4 checksum 0x%04x invalid",
					pkt_get16(got + OFF_UDP + 14));
		}
	}

	/* The model: outcome, l3 and l4, and for an accepted packet where it
	 * goes (into a pod: redirected; else as harness_class_ret says). */
	ok = 0;
	for (i = 0; i < n_want; i++)
		if (n_moved == 1 && moved == want[i].out &&
		    d[M(L3_IPV4)] == (want[i].l3 == M(L3_IPV4)) &&
		    d[M(L3_IPV6)] == (want[i].l3 == M(L3_IPV6)) &&
		    d[M(L4_TCP)] == (want[i].l4 == M(L4_TCP)) &&
		    d[M(L4_UDP)] == (want[i].l4 == M(L4_UDP)) &&
		    d[M(L4_ICMP)] == (want[i].l4 == M(L4_ICMP)) &&
		    (cls != 1 || *retval == (want[i].svc ? HARNESS_RET_REDIRECT : harness_class_ret(&H, 1, c->f))))
			ok = 1;
	if (!ok) {
		int l3 = d[M(L3_IPV4)] ? M(L3_IPV4) : d[M(L3_IPV6)] ? M(L3_IPV6) : NO;
		int l4 = d[M(L4_TCP)] ? M(L4_TCP) : d[M(L4_UDP)] ? M(L4_UDP) :
			 d[M(L4_ICMP)] ? M(L4_ICMP) : NO;

		why_add(w, "the model says %s (l3 %s, l4 %s%s)%s, the classifier counted %s (l3 %s, l4 %s, verdict 0x%x)",
			mname(want[0].out), mname(want[0].l3), mname(want[0].l4), want[0].svc ? ", into the pod" : "",
			n_want > 1 ? " or another reading" : "", n_moved == 1 ? mname(moved) : "?",
			mname(l3), mname(l4), *retval);
	}
	return w->len ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* fixtures on disk                                                        */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* Writes c to the crash directory; returns the path (static) or NULL. */
static const char *save_case(const struct fcase *c, const char *origin, const char *why)
{
	static char path[4096];
	char addr[INET_ADDRSTRLEN];
	FILE *fp;
	size_t i;

	mkdir(crash_dir, 0755);
	snprintf(path, sizeof(path), "%s/fuzz-%016llx.txt", crash_dir,
		 (unsigned long long)(fnv1a(c->f, c->len) ^ fnv1a((const uint8_t *)&c->cfg,
								  sizeof(c->cfg)) ^ (uint64_t)c->gso));
	fp = fopen(path, "w");
	if (!fp)
		return NULL;
	inet_ntop(AF_INET, &c->cfg.addr, addr, sizeof(addr));
	fprintf(fp, "# cls-redirect packet fuzzer input (selftests/test_fuzz.c), replayed by make check\n");
	fprintf(fp, "# found by: %s\n# failure: %s\n", origin, why);
	fprintf(fp, "config version %u addr %s port %u flags %u mtu %u\n", c->cfg.version, addr,
		ntohs(c->cfg.port), c->cfg.flags, c->cfg.mtu);
	fprintf(fp, "sources %s\nhops %s\n", c->sources, c->hops);
	if (c->services[0])
		fprintf(fp, "services %s\n", c->services);
	fprintf(fp, "gso %d\nframe ", c->gso);
	for (i = 0; i < c->len; i++)
		fprintf(fp, "%02x", c->f[i]);
	fprintf(fp, "\n");
	if (fclose(fp))
		return NULL;
	n_saved++;
	return path;
}

static int load_case(const char *path, struct fcase *c, char *err, size_t size)
{
	char line[2 * FRAME_MAX + 64], addr[64];
	unsigned int ver, port, flags, mtu;
	int have_cfg = 0, have_frame = 0;
	FILE *fp = fopen(path, "r");

	memset(c, 0, sizeof(*c));
	/* Fixtures from before the trust lists: both open. */
	strcpy(c->sources, "0.0.0.0/0");
	strcpy(c->hops, "0.0.0.0/0");
	if (!fp) {
		snprintf(err, size, "cannot open: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "config version %u addr %63s port %u flags %u mtu %u", &ver, addr,
			   &port, &flags, &mtu) == 5) {
			c->cfg.version = ver;
			if (inet_pton(AF_INET, addr, &c->cfg.addr) != 1)
				break;
			c->cfg.port = htons((uint16_t)port);
			c->cfg.flags = (uint16_t)flags;
			c->cfg.mtu = mtu;
			have_cfg = 1;
		} else if (!strncmp(line, "sources", 7) && (line[7] == ' ' || line[7] == '\n')) {
			snprintf(c->sources, sizeof(c->sources), "%.127s", line[7] == ' ' ? line + 8 : "");
			c->sources[strcspn(c->sources, "\n")] = 0;
		} else if (!strncmp(line, "hops", 4) && (line[4] == ' ' || line[4] == '\n')) {
			snprintf(c->hops, sizeof(c->hops), "%.127s", line[4] == ' ' ? line + 5 : "");
			c->hops[strcspn(c->hops, "\n")] = 0;
		} else if (!strncmp(line, "services ", 9)) {
			snprintf(c->services, sizeof(c->services), "%.191s", line + 9);
			c->services[strcspn(c->services, "\n")] = 0;
		} else if (sscanf(line, "gso %d", &c->gso) == 1) {
		} else if (!strncmp(line, "frame ", 6)) {
			const char *s = line + 6;

			while (hexval(s[0]) >= 0 && hexval(s[1]) >= 0 && c->len < FRAME_MAX) {
				c->f[c->len++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
				s += 2;
			}
			have_frame = *s == '\n' || *s == '\0';
		}
	}
	fclose(fp);
	if (!have_cfg || !have_frame) {
		snprintf(err, size, "not a fixture: needs 'config version V addr A port P flags F mtu M' "
				    "and 'frame HEX' lines");
		return -1;
	}
	return 0;
}

static void print_failure(const struct fcase *c, const uint8_t *got, size_t got_len)
{
	if (!verbose)
		return;
	harness_hexdump(stdout, "input", c->f, c->len);
	harness_hexdump(stdout, "output", got, got_len);
}

static int replay(const char *path)
{
	static uint8_t got[2 * FRAME_MAX];
	static struct fcase c;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct why w = { .len = 0 };
	char err[256];
	size_t got_len = 0;
	uint32_t ret = 0;
	int r;

	if (load_case(path, &c, err, sizeof(err))) {
		printf("FAIL replay-%s: %s: %s\n", base, path, err);
		return -1;
	}
	r = run_case(&c, &w, got, &got_len, &ret);
	if (r < 0) {
		printf("FAIL replay-%s: verdict 0x%x, %zu bytes out: %.*s\n", base, ret, got_len,
		       (int)w.len, w.buf);
		print_failure(&c, got, got_len);
		return -1;
	}
	printf("PASS replay-%s%s\n", base, r ? " (frame refused by the kernel)" : "");
	return 0;
}

static int replay_dir(void)
{
	struct dirent **ents;
	char path[4096];
	int i, n, fails = 0;

	n = scandir(crash_dir, &ents, NULL, alphasort);
	if (n < 0)
		return 0;
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);

		if (nm[0] != '.' && l > 4 && !strcmp(nm + l - 4, ".txt")) {
			snprintf(path, sizeof(path), "%s/%s", crash_dir, nm);
			if (replay(path))
				fails++;
		}
		free(ents[i]);
	}
	free(ents);
	return fails;
}

/* ---------------------------------------------------------------------- */
/* generators                                                              */

/* Where the headers of a generated frame are, for field-aware mutations. */
struct layout {
	int v6;          /* inner IPv6 */
	size_t inner;    /* inner IP header */
	size_t l4;       /* L4 header, 0 if none */
	size_t quote;    /* quoted packet of an ICMP error, 0 if none */
	int quote_v6;
	size_t ext[PKT_MAX_EXT];
	int n_ext;
};

enum cls {
	C_TCP4, C_TCP6, C_UDP4, C_UDP6, C_ICMP4, C_ICMP6, C_EXT6, C_FRAG, C_HOPS, C_GRE,
	C_PLAIN, C_RANDOM, C_COUNT
};

static const char *const cls_names[C_COUNT] = {
	"tcp4", "tcp6", "udp4", "udp6", "icmp4", "icmp6", "ext6", "frag", "hops", "gre",
	"plain", "random",
};

static const char *const srcs4[] = { "198.18.0.5", "127.0.0.1", "10.0.0.1", "0.0.0.0" };
static const char *const dsts4[] = { "127.0.0.1", "192.0.2.10", "10.0.0.2", "255.255.255.255" };
static const char *const srcs6[] = { "2001:db8::5", "::1", "fe80::1", "::" };
static const char *const dsts6[] = { "::1", "2001:db8::10", "ff02::1", "fe80::2" };

static struct pkt_ip gen_ip(struct rng *r, int v6)
{
	struct pkt_ip ip = v6 ? pkt_ip6(srcs6[rnd(r, 4)], dsts6[rnd(r, 4)]) :
				pkt_ip4(srcs4[rnd(r, 4)], dsts4[rnd(r, 4)]);

	ip.ttl = one_in(r, 4) ? (uint8_t)rnd(r, 3) : 64;
	ip.tos = (uint8_t)rnd(r, 256);
	ip.id = (uint16_t)rnd(r, 65536);
	if (!v6 && one_in(r, 4))
		ip.opt_len = (uint8_t)(4 * (1 + rnd(r, 10)));
	return ip;
}

static const uint8_t tcp_flag_sets[] = {
	PKT_TCP_SYN, PKT_TCP_ACK, PKT_TCP_SYN | PKT_TCP_ACK, PKT_TCP_RST, PKT_TCP_FIN | PKT_TCP_ACK,
	PKT_TCP_PSH | PKT_TCP_ACK, 0, 0xff,
};

/* An L4 segment of proto into l4; returns its length. */
static size_t gen_l4(struct rng *r, uint8_t proto, int v6, uint8_t *l4, size_t *quote_off,
		     int *quote_v6, int icmp_kind)
{
	uint8_t pay[256], q[1024];
	size_t plen = rnd(r, 4) ? rnd(r, 64) : rnd(r, 256), i, n;

	for (i = 0; i < plen; i++)
		pay[i] = (uint8_t)rnd64(r);
	*quote_off = 0;
	if (proto == IPPROTO_TCP) {
		struct pkt_tcp t = pkt_tcp((uint16_t)rnd(r, 65536), (uint16_t)rnd(r, 65536),
					   tcp_flag_sets[rnd(r, sizeof(tcp_flag_sets))]);

		if (one_in(r, 4))
			t.doff = 5 + (int)rnd(r, 11);
		return pkt_tcp_build(l4, &t, pay, plen);
	}
	if (proto == IPPROTO_UDP)
		return pkt_udp_build(l4, (uint16_t)rnd(r, 65536), (uint16_t)rnd(r, 65536), -1, pay, plen);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		static const uint8_t t4[] = { 8, 0, 3, 3, 11, 12, 5, 13, 4 };
		static const uint8_t t6[] = { 128, 129, 1, 2, 3, 4, 135, 136, 133 };
		uint8_t type = v6 ? t6[rnd(r, sizeof(t6))] : t4[rnd(r, sizeof(t4))];
		uint8_t code = type == 3 && !v6 ? (uint8_t)(rnd(r, 2) ? 4 : rnd(r, 16)) : (uint8_t)rnd(r, 2);
		int err = v6 ? type >= 1 && type <= 4 : type == 3 || type == 11 || type == 12;

		if (icmp_kind == 1 && !err) /* caller wants an error */
			type = v6 ? 2 : 3, code = 4, err = 1;
		if (icmp_kind == 2) /* inside a quote: no quote in the quote */
			err = 0;
		if (!err)
			return pkt_icmp_build(l4, type, code, (uint32_t)rnd64(r), pay, plen);
		{
			/* Quote: what this server sent; mostly the same IP version. */
			int qv6 = one_in(r, 8) ? !v6 : v6;
			struct pkt_ip qip = gen_ip(r, qv6);
			uint8_t qp = rnd(r, 5) ? (rnd(r, 2) ? IPPROTO_TCP : IPPROTO_UDP) :
					   (uint8_t)(rnd(r, 2) ? (qv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) : rnd(r, 256));
			uint8_t ql4[600];
			size_t ql4n, qn;
			size_t dummy;
			int dv6;

			if (qv6 && one_in(r, 3)) {
				int k, ne = (int)rnd(r, 4);

				for (k = 0; k < ne; k++) {
					static const uint8_t xt[] = { 0, 43, 44, 60, 135 };
					uint8_t x = xt[rnd(r, 5)];

					pkt_ip_add_ext(&qip, x, (uint8_t)rnd(r, 3),
						       x == 44 ? (uint16_t)(rnd(r, 2) ? 0 : rnd(r, 65536)) : 0);
				}
			}
			if (!qv6 && one_in(r, 6))
				qip.frag = (uint16_t)(rnd(r, 2) ? PKT_IP_MF : rnd(r, 0x4000));
			ql4n = gen_l4(r, qp, qv6, ql4, &dummy, &dv6, 2);
			qn = pkt_ip_build(q, &qip, qp, ql4, ql4n);
			if (rnd(r, 2))
				qn = rnd(r, (uint32_t)qn + 1); /* truncated quote */
			if (qn > sizeof(q))
				qn = sizeof(q);
			*quote_off = 8;
			*quote_v6 = qv6;
			n = pkt_icmp_build(l4, type, code, type == 2 || code == 4 ? 1280 : 0, q, qn);
			return n;
		}
	}
	/* Something else: raw bytes. */
	memcpy(l4, pay, plen);
	return plen;
}

/* Encapsulation with N hops, next_hop k, random but mostly valid hops. */
static struct pkt_encap gen_encap(struct rng *r, int n, int k)
{
	struct pkt_encap e = pkt_encap("192.0.2.1", OUR, PORT);
	int i;

	e.n_hops = n;
	e.next_hop = (uint8_t)k;
	for (i = 0; i < n; i++) {
		e.hops[i][0] = 198;
		e.hops[i][1] = 51;
		e.hops[i][2] = 100;
		e.hops[i][3] = (uint8_t)(i + 1);
		if (one_in(r, 16)) {
			static const char *const bad[] = { "0.0.0.0", "127.0.0.1", "224.0.0.1",
							   "255.255.255.255", OUR, "240.0.0.1",
							   "0.1.2.3", "223.255.255.255" };

			inet_pton(AF_INET, bad[rnd(r, 8)], e.hops[i]);
		}
	}
	e.udp_csum = rnd(r, 2);
	e.ttl = (uint8_t)rnd(r, 256);
	e.tos = (uint8_t)rnd(r, 256);
	e.id = (uint16_t)rnd(r, 65536);
	e.frag = rnd(r, 2) ? PKT_IP_DF : 0;
	e.sport = (uint16_t)rnd(r, 65536);
	if (one_in(r, 4))
		e.priv_vflags |= PRIV_F_FORWARD_SYN;
	if (one_in(r, 4))
		e.priv_vflags |= PRIV_F_LAST_HOP_GRE;
	if (one_in(r, 8))
		e.priv_vflags |= (uint8_t)rnd(r, 4); /* ignored bits */
	if (one_in(r, 8))
		e.pad = rnd(r, 32);
	return e;
}

/* N: mostly short, sometimes up to the maximum; k: anywhere in 0..N. */
static void gen_nk(struct rng *r, int *n, int *k)
{
	*n = rnd(r, 4) ? (int)rnd(r, 4) : (int)rnd(r, GUE_MAX_HOPS + 1);
	*k = rnd(r, 2) ? *n : (int)rnd(r, (uint32_t)*n + 1);
}

/* Builds an encapsulated frame of class cls; fills L. */
static size_t gen_frame(struct rng *r, int cls, uint8_t *f, struct layout *L)
{
	static uint8_t inner[PKT_MAX], l4[PKT_MAX];
	struct pkt_encap e;
	struct pkt_ip ip;
	size_t l4n, n, quote_off = 0, hl, i;
	int nh, kh, v6 = 0, quote_v6 = 0;
	uint8_t proto;

	memset(L, 0, sizeof(*L));
	gen_nk(r, &nh, &kh);
	switch (cls) {
	case C_TCP4: case C_TCP6: proto = IPPROTO_TCP; v6 = cls == C_TCP6; break;
	case C_UDP4: case C_UDP6: proto = IPPROTO_UDP; v6 = cls == C_UDP6; break;
	case C_ICMP4: proto = IPPROTO_ICMP; break;
	case C_ICMP6: proto = IPPROTO_ICMPV6; v6 = 1; break;
	case C_HOPS:
		nh = 1 + (int)rnd(r, GUE_MAX_HOPS);
		kh = (int)rnd(r, (uint32_t)nh + 1);
		/* fall through */
	default:
		v6 = (int)rnd(r, 2);
		proto = (uint8_t[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 }[rnd(r, 4)];
		if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
			proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		break;
	}
	if (cls == C_EXT6)
		v6 = 1, proto = (uint8_t[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 }[rnd(r, 3)];
	if (cls == C_GRE) {
		nh = 1 + (int)rnd(r, rnd(r, 4) ? 3 : GUE_MAX_HOPS);
		kh = rnd(r, 4) ? nh - 1 : (int)rnd(r, (uint32_t)nh + 1);
	}
	e = gen_encap(r, nh, kh);
	if (cls == C_GRE)
		e.priv_vflags |= PRIV_F_LAST_HOP_GRE;
	if (cls == C_HOPS && one_in(r, 2))
		e.priv_vflags |= PRIV_F_FORWARD_SYN;

	ip = gen_ip(r, v6);
	if (cls == C_GRE && one_in(r, 3))
		ip.ttl = (uint8_t)rnd(r, 3);
	if (v6 && (cls == C_EXT6 || one_in(r, 8))) {
		int k, ne = cls == C_EXT6 ? (int)rnd(r, 10) : 1 + (int)rnd(r, 2);

		for (k = 0; k < ne && k < PKT_MAX_EXT; k++) {
			static const uint8_t xt[] = { 0, 43, 60, 135, 44 };
			uint8_t x = xt[rnd(r, cls == C_FRAG ? 5 : 4)];

			pkt_ip_add_ext(&ip, x, (uint8_t)(rnd(r, 4) ? rnd(r, 2) : rnd(r, 8)), 0);
		}
	}
	if (cls == C_FRAG) {
		if (v6)
			pkt_ip_add_ext(&ip, 44, 0, (uint16_t)(rnd(r, 2) ? 1 : rnd(r, 65536)));
		else
			ip.frag = (uint16_t)(rnd(r, 2) ? PKT_IP_MF : rnd(r, 65536));
	}
	l4n = gen_l4(r, proto, v6, l4, &quote_off, &quote_v6, cls == C_ICMP4 || cls == C_ICMP6 ? rnd(r, 2) : 0);
	n = pkt_ip_build(inner, &ip, proto, l4, l4n);
	if (n > 1400)
		n = 1400;
	hl = v6 ? 40 : 20 + ip.opt_len;
	if (v6) {
		size_t off = 40;

		for (i = 0; i < ip.n_ext; i++) {
			L->ext[L->n_ext++] = off;
			off += pkt_ext_len(&ip.ext[i]);
		}
		hl = off;
	}
	L->v6 = v6;
	L->inner = OFF_HOPS + 4 * (size_t)nh;
	L->l4 = hl < n ? L->inner + hl : 0;
	L->quote = quote_off && L->l4 ? L->l4 + quote_off : 0;
	L->quote_v6 = quote_v6;
	for (i = 0; i < (size_t)L->n_ext; i++)
		L->ext[i] += L->inner;
	return pkt_frame_build(f, &e, inner, n);
}

/* Plain traffic: near misses of "ours". */
static size_t gen_plain(struct rng *r, uint8_t *f)
{
	uint8_t inner[256], l4[128];
	struct pkt_encap e = gen_encap(r, (int)rnd(r, 3), 0);
	struct pkt_ip ip = pkt_ip4("198.18.0.5", "127.0.0.1");
	size_t n, l4n, d, q;

	l4n = pkt_udp_build(l4, 1, 2, -1, "x", 1);
	n = pkt_ip_build(inner, &ip, IPPROTO_UDP, l4, l4n);
	switch (rnd(r, 6)) {
	case 0: inet_pton(AF_INET, "192.0.2.11", e.daddr); break;
	case 1: e.dport = (uint16_t)(PORT + 1 + rnd(r, 10)); break;
	case 2: e.dport = 53; e.sport = PORT; break;
	case 3: e.ethertype = (uint16_t[]){ 0x86dd, 0x0806, 0x8100, 0x0000, 0x05dc, 0x88cc }[rnd(r, 6)]; break;
	case 4: e.opt_len = (uint8_t)(4 * (1 + rnd(r, 10))); e.dport = (uint16_t)rnd(r, 65536); break;
	default: break;
	}
	d = pkt_frame_build(f, &e, inner, n);
	if (rnd(r, 3) == 0) {
		/* not UDP */
		f[OFF_OUTER_IP + 9] = (uint8_t)rnd(r, 256);
		pkt_ipv4_fix_csum(f + OFF_OUTER_IP);
	}
	q = rnd(r, 5) ? d : 14 + rnd(r, (uint32_t)d - 13);
	return q;
}

/* Random bytes, often with enough structure to reach past check 1. */
static size_t gen_random(struct rng *r, uint8_t *f)
{
	size_t n = 14 + rnd(r, rnd(r, 4) ? 200 : 1500), i;

	for (i = 0; i < n; i++)
		f[i] = (uint8_t)rnd64(r);
	if (rnd(r, 4)) {
		pkt_put16(f + 12, 0x0800);
		if (n >= 34 && rnd(r, 2)) {
			f[OFF_OUTER_IP] = rnd(r, 2) ? 0x45 : f[OFF_OUTER_IP];
			f[OFF_OUTER_IP + 9] = IPPROTO_UDP;
			memcpy(f + OFF_OUTER_IP + 16, our_addr, 4);
			if (n >= OFF_UDP + 4)
				pkt_put16(f + OFF_UDP + 2, PORT);
			if (rnd(r, 2) && n >= OFF_UDP + 8) {
				pkt_put16(f + OFF_OUTER_IP + 2, (uint16_t)(n - 14));
				pkt_put16(f + OFF_OUTER_IP + 6, 0);
				pkt_put16(f + OFF_UDP + 4, (uint16_t)(n - 34));
			}
		}
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* mutations                                                               */

static const uint32_t interesting[] = { 0, 1, 2, 4, 5, 6, 8, 0x0f, 0x10, 0x1f, 0x20, 0x28, 0x29,
					0x2c, 0x3a, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
					0xfffe, 0xffff };

/* Writes v into size bytes at off, if they are inside the frame. */
static void put_field(struct fcase *c, size_t off, int size, uint32_t v)
{
	if (off + (size_t)size > c->len)
		return;
	if (size == 1)
		c->f[off] = (uint8_t)v;
	else if (size == 2)
		pkt_put16(c->f + off, (uint16_t)v);
	else
		pkt_put32(c->f + off, v);
}

static uint32_t get_field(const struct fcase *c, size_t off, int size)
{
	if (off + (size_t)size > c->len)
		return 0;
	return size == 1 ? c->f[off] : size == 2 ? pkt_get16(c->f + off) : pkt_get32(c->f + off);
}

/* A new value for a field: near the old one, interesting, or random. */
static uint32_t new_value(struct rng *r, uint32_t old, int size)
{
	uint32_t mask = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffff;

	switch (rnd(r, 5)) {
	case 0: return (old + 1) & mask;
	case 1: return (old - 1) & mask;
	case 2: return (old + (uint32_t)rnd(r, 64) - 32) & mask;
	case 3: return interesting[rnd(r, sizeof(interesting) / sizeof(interesting[0]))] & mask;
	default: return (uint32_t)rnd64(r) & mask;
	}
}

/* Sets the outer lengths from the frame length (minus any padding). */
static void fix_outer_lengths(struct fcase *c)
{
	if (c->len < OFF_UDP + 8)
		return;
	pkt_put16(c->f + OFF_OUTER_IP + 2, (uint16_t)(c->len - 14));
	pkt_put16(c->f + OFF_UDP + 4, (uint16_t)(c->len - 34));
}

static void fix_csums(struct fcase *c, const struct layout *L)
{
	if (c->len >= OFF_UDP && (c->f[OFF_OUTER_IP] & 0x0f) >= 5 &&
	    OFF_OUTER_IP + (size_t)(c->f[OFF_OUTER_IP] & 0x0f) * 4 <= c->len)
		pkt_ipv4_fix_csum(c->f + OFF_OUTER_IP);
	if (!L->v6 && L->inner + 20 <= c->len && (c->f[L->inner] & 0x0f) >= 5 &&
	    L->inner + (size_t)(c->f[L->inner] & 0x0f) * 4 <= c->len)
		pkt_ipv4_fix_csum(c->f + L->inner);
	if (c->len >= OFF_UDP + 8 && pkt_get16(c->f + OFF_UDP + 6) && c->f[OFF_OUTER_IP] == 0x45) {
		size_t ulen = pkt_get16(c->f + OFF_OUTER_IP + 2);

		if (ulen >= 28 && ulen + 14 <= c->len)
			pkt_outer_fix_udp_csum(c->f);
	}
}

/* One field-aware change. */
static void mutate_field(struct rng *r, struct fcase *c, struct layout *L)
{
	struct {
		size_t off;
		int size;
	} fl[64];
	int nf = 0, i, n = c->len > OFF_PRIV + 3 ? c->f[OFF_PRIV + 3] : 0;
	size_t in = L->inner, off;

#define F(o, s) do { if (nf < 64) { fl[nf].off = (o); fl[nf].size = (s); nf++; } } while (0)
	F(OFF_OUTER_IP, 1); F(OFF_OUTER_IP + 2, 2); F(OFF_OUTER_IP + 6, 2); F(OFF_OUTER_IP + 9, 1);
	F(OFF_OUTER_IP + 16, 4); F(OFF_UDP + 2, 2); F(OFF_UDP + 4, 2); F(OFF_UDP + 6, 2);
	F(OFF_GUE, 1); F(OFF_GUE + 1, 1); F(OFF_GUE + 2, 2); F(OFF_PRIV, 1); F(OFF_PRIV + 1, 1);
	F(OFF_PRIV + 2, 1); F(OFF_PRIV + 3, 1); F(12, 2);
	if (n)
		F(OFF_HOPS + 4 * rnd(r, (uint32_t)n), 4);
	if (L->v6) {
		F(in, 1); F(in + 4, 2); F(in + 6, 1); F(in + 7, 1);
		for (i = 0; i < L->n_ext; i++) {
			F(L->ext[i], 1); F(L->ext[i] + 1, 1); F(L->ext[i] + 2, 2);
		}
	} else {
		F(in, 1); F(in + 2, 2); F(in + 6, 2); F(in + 8, 1); F(in + 9, 1);
	}
	if (L->l4) {
		F(L->l4, 1); F(L->l4 + 1, 1); F(L->l4 + 4, 2); F(L->l4 + 12, 1); F(L->l4 + 13, 1);
	}
	if (L->quote) {
		off = L->quote;
		F(off, 1);
		if (L->quote_v6) {
			F(off + 4, 2); F(off + 6, 1); F(off + 40, 1); F(off + 41, 1); F(off + 42, 2);
		} else {
			F(off + 6, 2); F(off + 9, 1);
		}
	}
#undef F
	i = (int)rnd(r, (uint32_t)nf);
	put_field(c, fl[i].off, fl[i].size, new_value(r, get_field(c, fl[i].off, fl[i].size), fl[i].size));
}

/* hop_count / hlen / next_hop kept or made consistent, the hop list grown
 * or shrunk to match. */
static void mutate_hops(struct rng *r, struct fcase *c, struct layout *L)
{
	int n, nn, k;
	size_t at;

	if (c->len < OFF_HOPS)
		return;
	n = c->f[OFF_PRIV + 3];
	switch (rnd(r, 4)) {
	case 0: /* next_hop anywhere near the range */
		k = (int)rnd(r, (uint32_t)n + 3);
		c->f[OFF_PRIV + 2] = (uint8_t)k;
		return;
	case 1: /* hop_count and hlen disagree by one */
		c->f[OFF_PRIV + 3] = (uint8_t)(n + (rnd(r, 2) ? 1 : -1));
		return;
	default: /* a new N, consistently: hlen, hop_count, hop list, lengths */
		nn = (int)rnd(r, GUE_MAX_HOPS + 2);
		at = OFF_HOPS + 4 * (size_t)n;
		if (at > c->len)
			return;
		if (nn > n) {
			size_t grow = 4 * (size_t)(nn - n);

			if (c->len + grow > FRAME_MAX)
				return;
			memmove(c->f + at + grow, c->f + at, c->len - at);
			memset(c->f + at, 0, grow);
			for (k = n; k < nn; k++) {
				c->f[OFF_HOPS + 4 * k] = 198;
				c->f[OFF_HOPS + 4 * k + 1] = 51;
				c->f[OFF_HOPS + 4 * k + 2] = 100;
				c->f[OFF_HOPS + 4 * k + 3] = (uint8_t)(k + 1);
			}
			c->len += grow;
		} else {
			size_t shrink = 4 * (size_t)(n - nn);

			memmove(c->f + at - shrink, c->f + at, c->len - at);
			c->len -= shrink;
		}
		c->f[OFF_GUE] = (uint8_t)((c->f[OFF_GUE] & ~GUE_HLEN_MASK) | ((1 + nn) & GUE_HLEN_MASK));
		c->f[OFF_PRIV + 3] = (uint8_t)nn;
		c->f[OFF_PRIV + 2] = (uint8_t)(rnd(r, 2) ? (uint32_t)nn : rnd(r, (uint32_t)nn + 1));
		L->inner = OFF_HOPS + 4 * (size_t)nn;
		L->l4 = L->quote = 0;
		L->n_ext = 0;
		fix_outer_lengths(c);
		return;
	}
}

/* Inner length fields: IPv4 tot_len / IPv6 payload_len, L4 lengths; the
 * outer lengths follow or not. */
static void mutate_inner_len(struct rng *r, struct fcase *c, const struct layout *L)
{
	size_t off = L->v6 ? L->inner + 4 : L->inner + 2;
	uint32_t v = get_field(c, off, 2);

	if (rnd(r, 2) && L->l4) {
		/* UDP length or the TCP data offset */
		put_field(c, L->l4 + 4, 2, new_value(r, get_field(c, L->l4 + 4, 2), 2));
		return;
	}
	put_field(c, off, 2, new_value(r, v, 2));
}

static void mutate(struct rng *r, struct fcase *c, struct layout *L)
{
	size_t at, n, i;

	if (c->len < 14)
		return;

	switch (rnd(r, 10)) {
	case 0: /* bit flips */
		for (n = 1 + rnd(r, 4); n && c->len; n--) {
			at = rnd(r, (uint32_t)c->len);
			c->f[at] ^= (uint8_t)(1u << rnd(r, 8));
		}
		break;
	case 1: /* one byte */
		if (c->len)
			c->f[rnd(r, (uint32_t)c->len)] = (uint8_t)new_value(r, 0, 1);
		break;
	case 2: /* truncation, lengths kept or made to fit */
		c->len = 14 + rnd(r, (uint32_t)(c->len - 13));
		if (rnd(r, 2))
			fix_outer_lengths(c);
		break;
	case 3: /* insert or delete bytes somewhere, lengths made to fit */
		at = 14 + rnd(r, (uint32_t)(c->len - 13));
		n = 1 + rnd(r, 16);
		if (rnd(r, 2)) {
			if (c->len + n > FRAME_MAX)
				break;
			memmove(c->f + at + n, c->f + at, c->len - at);
			for (i = 0; i < n; i++)
				c->f[at + i] = (uint8_t)rnd64(r);
			c->len += n;
		} else {
			if (at + n > c->len)
				n = c->len - at;
			memmove(c->f + at, c->f + at + n, c->len - at - n);
			c->len -= n;
		}
		fix_outer_lengths(c);
		break;
	case 4: /* Ethernet padding or trailing bytes */
		n = 1 + rnd(r, 64);
		if (c->len + n <= FRAME_MAX) {
			memset(c->f + c->len, rnd(r, 2) ? 0 : 0xee, n);
			c->len += n;
			if (rnd(r, 2))
				fix_outer_lengths(c);
		}
		break;
	case 5:
		mutate_hops(r, c, L);
		break;
	case 6:
		mutate_inner_len(r, c, L);
		break;
	default:
		mutate_field(r, c, L);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* the passes                                                              */

/* A random trust list: mostly open; sometimes empty; sometimes a few
 * prefixes of random length around addr (the outer source, or the next hop;
 * NULL if the frame has none), one bit flipped inside or outside the prefix,
 * plus an unrelated one. */
static void pick_list(struct rng *r, char *list, size_t size, const uint8_t *addr)
{
	uint32_t a;
	unsigned len, i, n;
	size_t used = 0;

	switch (rnd(r, 8)) {
	case 0:
		list[0] = 0;
		return;
	case 1: case 2:
		break;
	default:
		snprintf(list, size, "0.0.0.0/0");
		return;
	}
	list[0] = 0;
	n = 1 + rnd(r, 3);
	for (i = 0; i < n; i++) {
		len = rnd(r, 33);
		a = addr && rnd(r, 4) ? (uint32_t)addr[0] << 24 | addr[1] << 16 | addr[2] << 8 | addr[3] :
					(uint32_t)rnd64(r);
		if (rnd(r, 2))
			a ^= 1u << rnd(r, 32);
		a &= len ? ~0u << (32 - len) : 0;
		used += (size_t)snprintf(list + used, size - used, "%s%u.%u.%u.%u/%u", used ? " " : "",
					 a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, len);
	}
}

static void pick_config(struct rng *r, struct fcase *c)
{
	c->cfg = harness_config(our_addr, PORT);
	switch (rnd(r, 20)) {
	case 0: case 1: c->cfg.flags = CLS_REDIRECT_F_NO_FORWARD; break;
	case 2: case 3: c->cfg.mtu = 68 + rnd(r, 1500); break;
	case 4: c->cfg.version = rnd(r, 2) ? 0 : 2; break;
	case 5: c->cfg.addr = 0; break;
	case 6:
		/* XDP hands everything to tc in route mode (the fixtures check
		 * that): no decision of its own to fuzz. */
		if (!H.xdp)
			c->cfg.flags = CLS_REDIRECT_F_ROUTE;
		break;
	default: break;
	}
	/* XDP sees no GSO packet (tc-cls-redirect.8, XDP). */
	c->gso = one_in(r, 20) && !H.xdp;
	pick_list(r, c->sources, sizeof(c->sources), c->len >= 30 ? c->f + 26 : NULL);
	pick_list(r, c->hops, sizeof(c->hops),
		  c->len >= OFF_HOPS + 4 * (size_t)c->f[OFF_PRIV + 2] + 4 ?
			  c->f + OFF_HOPS + 4 * c->f[OFF_PRIV + 2] : NULL);
}

/*
 * Random services, in a quarter of the runs: one to three, for the frame's
 * inner destination (or an ICMP error's quoted source) mostly, with its
 * port, port 0 or another, TCP or UDP, in the pod or gone.  The
 * configuration's flags say what is listed, as cls-redirect-config keeps
 * them (bit 2: an entry with a port, bit 3: one with port 0).
 */
static void pick_services(struct rng *r, struct fcase *c, const struct layout *L)
{
	size_t used = 0;
	int n;

	c->services[0] = 0;
	if (rnd(r, 4))
		return;
	for (n = 1 + (int)rnd(r, 3); n; n--) {
		char a[INET6_ADDRSTRLEN];
		const uint8_t *at = NULL, *portp = NULL;
		int v6 = (int)rnd(r, 2);
		uint16_t port;

		/* (Only bytes of the frame: what lies beyond is another run's.) */
		if (rnd(r, 3) && L->inner && L->inner + 40 <= c->len) {
			v6 = L->v6;
			at = c->f + L->inner + (v6 ? 24 : 16);
			portp = L->l4 && L->l4 + 4 <= c->len ? c->f + L->l4 + 2 : NULL;
			if (L->quote && L->quote + 44 <= c->len && rnd(r, 2)) {
				v6 = L->quote_v6;
				at = c->f + L->quote + (v6 ? 8 : 12);
				portp = c->f + L->quote + (v6 ? 40 : 20);
			}
		}
		if (at)
			inet_ntop(v6 ? AF_INET6 : AF_INET, at, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "%s", v6 ? (rnd(r, 2) ? dsts6 : srcs6)[rnd(r, 4)] :
							    (rnd(r, 2) ? dsts4 : srcs4)[rnd(r, 4)]);
		port = portp && rnd(r, 2) ? pkt_get16(portp) : rnd(r, 2) ? 0 : (uint16_t)rnd(r, 65536);
		c->cfg.flags |= port ? CLS_REDIRECT_F_SERVICES : CLS_REDIRECT_F_SERVICES_ANY_PORT;
		used += (size_t)snprintf(c->services + used, sizeof(c->services) - used, "%s%s %u %s %s",
					 used ? "," : "", a, port, rnd(r, 2) ? "tcp" : "udp",
					 rnd(r, 2) ? "live" : "gone");
	}
}

struct stats {
	uint64_t runs, fails, refused;
	char first[1400];
	char saved[4200];
};

static void record(struct stats *s, const struct fcase *c, const char *origin, const struct why *w,
		   const uint8_t *got, size_t got_len, uint32_t ret)
{
	const char *path = NULL;
	char buf[1200];

	s->fails++;
	snprintf(buf, sizeof(buf), "verdict 0x%x, %zu bytes out: %.*s", ret, got_len, (int)w->len,
		 w->buf);
	if (n_saved < 50)
		path = save_case(c, origin, buf);
	if (s->fails == 1) {
		snprintf(s->first, sizeof(s->first), "%s (%s)", buf, origin);
		snprintf(s->saved, sizeof(s->saved), "%s", path ? path : "(not saved)");
	}
	if (verbose) {
		printf("# failure %s: %s\n", origin, buf);
		print_failure(c, got, got_len);
	}
}

static void one(struct stats *s, const struct fcase *c, const char *origin)
{
	static uint8_t got[2 * FRAME_MAX];
	struct why w = { .len = 0 };
	size_t got_len = 0;
	uint32_t ret = 0;
	int r = run_case(c, &w, got, &got_len, &ret);

	if (r > 0) {
		s->refused++;
		return;
	}
	s->runs++;
	if (r < 0)
		record(s, c, origin, &w, got, got_len, ret);
}

/* The base packet of a class, under the default config. */
static void base_case(struct rng *r, int cls, struct fcase *c, struct layout *L)
{
	memset(L, 0, sizeof(*L));
	c->cfg = harness_config(our_addr, PORT);
	strcpy(c->sources, "0.0.0.0/0");
	strcpy(c->hops, "0.0.0.0/0");
	c->services[0] = 0;
	c->gso = 0;
	if (cls == C_PLAIN)
		c->len = gen_plain(r, c->f);
	else if (cls == C_RANDOM)
		c->len = gen_random(r, c->f);
	else
		c->len = gen_frame(r, cls, c->f, L);
}

/* Run number run of class cls under seed: reproducible on its own. */
static void random_case(uint64_t seed, int cls, uint64_t run, struct fcase *c)
{
	struct rng r = { seed ^ ((uint64_t)cls << 56) ^ (run * 0x2545f4914f6cdd1dull) };
	struct layout L;
	int n;

	base_case(&r, cls, c, &L);
	pick_config(&r, c);
	pick_services(&r, c, &L);
	if (cls != C_RANDOM && one_in(&r, 10))
		return; /* the valid packet itself */
	for (n = 1 + (int)rnd(&r, 4); n; n--)
		mutate(&r, c, &L);
	if (rnd(&r, 2))
		fix_csums(c, &L);
}

static int report(int cls, const struct stats *s, uint64_t seed, const char *mode)
{
	if (s->fails) {
		printf("FAIL fuzz-%s: %llu of %llu runs failed (seed 0x%llx, %s); first: %s; saved %s\n",
		       cls_names[cls], (unsigned long long)s->fails, (unsigned long long)s->runs,
		       (unsigned long long)seed, mode, s->first, s->saved);
		return 1;
	}
	printf("PASS fuzz-%s (%llu runs, seed 0x%llx, %s)\n", cls_names[cls],
	       (unsigned long long)s->runs, (unsigned long long)seed, mode);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int coverage(void)
{
	int i, bad = 0;

	printf("# outcomes reached:");
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		if (harness_outcome_class(i) >= 0)
			printf(" %s=%llu", harness_metric_names[i], (unsigned long long)outcome_hits[i]);
	printf("\n");
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		if (harness_outcome_class(i) < 0)
			continue;
		/* No local socket: established and syn_cookies cannot happen;
		 * buffer_too_small needs an allocation failure. */
		if (outcome_hits[i] || i == M(ACCEPTED_ESTABLISHED) ||
		    i == M(ACCEPTED_SYN_COOKIES) || i == M(ERR_ENCAP_BUFFER_TOO_SMALL) ||
		    (H.xdp && i == M(ERR_ENCAP_ADJUST_FAILED)) || /* GSO only */
		    (H.xdp && i == M(ERR_NO_ROUTE))) /* route mode is tc's */
			continue;
		printf("FAIL fuzz-coverage: no run reached %s (the generators have rotted)\n",
		       harness_metric_names[i]);
		bad++;
	}
	if (!bad)
		printf("PASS fuzz-coverage\n");
	return bad;
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: test_fuzz [-v] [-s SEED] [-t SECONDS] [-n RUNS] [-d DIR] [FIXTURE...]\n"
		"  Fuzzes obj/cls_redirect_btf.o (or $CLS_REDIRECT_OBJ) through BPF_PROG_TEST_RUN;\n"
		"  must run as root from the repository root.\n"
		"  -s SEED     seed (env FUZZ_SEED; default fixed)\n"
		"  -t SECONDS  run this long (env FUZZ_SECONDS) instead of the bounded pass\n"
		"  -n RUNS     random runs per class in the bounded pass (default 20000)\n"
		"  -d DIR      fixture directory (env FUZZ_CRASH_DIR; default selftests/crashes)\n"
		"  -v          hexdump failing inputs and outputs\n"
		"  FIXTURE...  replay only these files\n");
}

int main(int argc, char **argv)
{
	uint64_t seed = 0xc15d2024ull, per_class = 20000, run;
	double seconds = 0, t0, t1;
	const char *what, *env;
	static struct fcase c;
	struct stats st[C_COUNT];
	char err[256];
	int opt, cls, fails = 0, gone_netnsid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_fuzz_env(&seed, &seconds);
	if ((env = getenv("FUZZ_CRASH_DIR")) && *env)
		crash_dir = env;
	while ((opt = getopt(argc, argv, "vs:t:n:d:h")) != -1) {
		if (harness_fuzz_opt(opt, optarg, &verbose, &seed, &seconds))
			continue;
		switch (opt) {
		case 'n': per_class = strtoull(optarg, NULL, 0); break;
		case 'd': crash_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	inet_pton(AF_INET, OUR, our_addr);
	/* No socket in here: every lookup of the classifier misses. */
	if (harness_netns(0, &what, err, sizeof(err))) {
		printf("FAIL fuzz-setup: %s: %s\n", what, err);
		return 1;
	}
	/* The services' pod (no socket in it either), and a pod that is gone:
	 * one whose veth was deleted. */
	if (harness_pod("fzpod0", "eth0", NULL, NULL, &pod_ifindex, &pod_netnsid, err, sizeof(err)) ||
	    harness_pod("fzgone0", "eth0", NULL, NULL, &gone_ifindex, &gone_netnsid, err, sizeof(err)) ||
	    (harness_sh("ip link del fzgone0") && snprintf(err, sizeof(err), "ip link del fzgone0 failed"))) {
		printf("FAIL fuzz-setup: %s\n", err);
		return 1;
	}
	if (harness_load(&H, NULL)) {
		printf("FAIL fuzz-setup: %s\n", H.err);
		return 1;
	}
	svc_fd = bpf_object__find_map_fd_by_name(H.obj, CLS_REDIRECT_SERVICES_MAP);
	if (svc_fd < 0) {
		printf("FAIL fuzz-setup: the classifier has no map %s\n", CLS_REDIRECT_SERVICES_MAP);
		return 1;
	}

	if (optind < argc) {
		for (; optind < argc; optind++)
			fails += replay(argv[optind]) ? 1 : 0;
		return fails ? 1 : 0;
	}
	fails += replay_dir();

	memset(st, 0, sizeof(st));
	t0 = now();
	if (seconds > 0) {
		/* Long run: round-robin until the time is up. */
		for (run = 0; now() - t0 < seconds; run++) {
			char origin[128];

			for (cls = 0; cls < C_COUNT; cls++) {
				random_case(seed, cls, run, &c);
				snprintf(origin, sizeof(origin), "seed 0x%llx class %s run %llu",
					 (unsigned long long)seed, cls_names[cls], (unsigned long long)run);
				one(&st[cls], &c, origin);
			}
		}
	} else {
		for (cls = 0; cls < C_COUNT; cls++) {
			struct rng r = { seed ^ ((uint64_t)cls << 48) ^ 0x7e57 };
			static struct fcase base;
			struct layout L;
			char origin[128];
			size_t cut;

			/* Truncation of a valid packet at every offset, with the
			 * lengths kept (inconsistent) and made to fit. */
			base_case(&r, cls, &base, &L);
			for (cut = 14; cut <= base.len; cut++) {
				int fit;

				for (fit = 0; fit < 2; fit++) {
					c = base;
					c.len = cut;
					if (fit) {
						fix_outer_lengths(&c);
						fix_csums(&c, &L);
					}
					snprintf(origin, sizeof(origin), "seed 0x%llx class %s truncated at %zu%s",
						 (unsigned long long)seed, cls_names[cls], cut,
						 fit ? " (lengths fitted)" : "");
					one(&st[cls], &c, origin);
				}
			}
			for (run = 0; run < per_class; run++) {
				random_case(seed, cls, run, &c);
				snprintf(origin, sizeof(origin), "seed 0x%llx class %s run %llu",
					 (unsigned long long)seed, cls_names[cls], (unsigned long long)run);
				one(&st[cls], &c, origin);
			}
		}
	}
	t1 = now();
	for (cls = 0; cls < C_COUNT; cls++)
		fails += report(cls, &st[cls], seed, seconds > 0 ? "timed" : "bounded");
	fails += coverage();
	printf("# fuzz: %llu runs in %.1f s (%.0f runs/s), seed 0x%llx, %d inputs saved in %s\n",
	       (unsigned long long)runs_total, t1 - t0, runs_total / (t1 - t0 > 0 ? t1 - t0 : 1),
	       (unsigned long long)seed, n_saved, crash_dir);
	harness_close(&H);
	return fails ? 1 : 0;
}
