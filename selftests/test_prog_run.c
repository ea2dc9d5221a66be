/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * BPF_PROG_TEST_RUN suite of the classifier (every row of
 * tc-cls-redirect.8, DECISION TABLE, and every counter of METRICS; the exact behaviour and order of checks: tc-cls-redirect.8, DECISION TABLE).
 *
 * Loads obj/cls_redirect_btf.o with pinning turned off, moves into a
 * private network namespace (so the classifier's socket lookups see the
 * sockets this process creates and nothing else, and sysctls we change stay
 * private), then runs one packet per fixture and asserts, for each:
 *
 *   - the verdict (pass 0xffffffff, drop 2, accept / forward 7);
 *   - the exact output bytes (pass and drop: unchanged; accept: Ethernet +
 *     inner packet; forward: the GUE or GRE frame computed here, with its
 *     checksums verified independently as well);
 *   - the exact delta of every counter of the metrics map, summed over CPUs,
 *     and processed = passed + accepted + forwarded + errors.
 *
 * Output: one "PASS <name>" or "FAIL <name>: <why>" line per fixture.
 *
 * Usage: test_prog_run [-v] [-l] [NAME_OR_GLOB...]
 *   -v  hexdump input, expected and actual output of every fixture run
 *   -l  list fixture names and exit
 *   CLS_REDIRECT_OBJ overrides the object (default obj/cls_redirect_btf.o).
 *
 * The XDP flavour (CLS_REDIRECT_OBJ=obj/cls_redirect_xdp_btf.o, section
 * "xdp") runs the same fixtures with the same counter deltas and the XDP
 * equivalent of each verdict and output (tc-cls-redirect.8, XDP): pass and
 * accept are XDP_PASS with the packet marked for the tc flavour in its
 * metadata (checked), an accepted IPv6 packet goes up as it is instead of
 * being re-injected, forward is XDP_TX, drop XDP_DROP.  Fixtures of GSO
 * packets, which do not exist before the stack, are listed as not run.
 * Names are prefixed with "xdp:".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "harness.h"
#include "pkt.h"

#define M(x) CLS_REDIRECT_METRIC_##x
#define NO (-1)
#define L3V4 M(L3_IPV4)
#define L3V6 M(L3_IPV6)
#define L4T M(L4_TCP)
#define L4U M(L4_UDP)
#define L4I M(L4_ICMP)

#define RET_PASS HARNESS_RET_PASS
#define RET_DROP HARNESS_RET_DROP
#define RET_REDIRECT HARNESS_RET_REDIRECT

/* Addresses: the director sends to OUR:PORT; hops are 198.51.100.1... */
#define OUR "192.0.2.10"
#define DIRECTOR "192.0.2.1"
#define PORT CLS_REDIRECT_GLB_PORT
/* Local sockets (loopback of the private netns). */
#define SRV4 "127.0.0.1"
#define CLI4 "127.0.0.3"
#define SRV6 "::1"
#define CLI6 "::1"
/* A peer nothing local knows about. */
#define FAR4 "198.18.0.5"
#define FAR6 "2001:db8::5"

/* Ports of the sockets set up in setup_sockets(). */
enum {
	P_EST = 10001,       /* TCP established: SRV:10001 <- CLI:20001 (v4 and v6) */
	P_EST_CLI = 20001,
	P_LISTEN = 10002,    /* TCP listener that never saw a SYN */
	P_SYNRECV = 10003,   /* TCP listener with a request socket from SYNRECV_PEER */
	P_SYNRECV_CLI = 30003,
	P_TW = 10004,        /* TIME_WAIT: SRV:10004 <- CLI:20004, server closed first */
	P_TW_CLI = 20004,
	P_COOKIE = 10005,    /* TCP listener that sent a SYN cookie to COOKIE_PEER */
	P_COOKIE_CLI = 30005,
	P_UDP_CONN = 10006,  /* UDP SRV:10006 connected to CLI:20006 (v4 and v6) */
	P_UDP_CONN_CLI = 20006,
	P_UDP_BOUND = 10007, /* UDP bound SRV:10007, unconnected */
	P_NONE = 10099,      /* nothing */
	P_CLI = 44444,
};
/* Sockets in the service namespace (setup_services()); the host namespace
 * has none on these ports. */
enum {
	P_SVC = 10201,      /* TCP SRV:10201 <- CLI:20201 established (v4, v6) */
	P_SVC_CLI = 20201,
	P_SVC_UDP = 10202,  /* UDP SRV:10202 connected to CLI:20202 (v4, v6) */
	P_SVC_UDP_CLI = 20202,
	P_SVC_ANY = 10203,  /* TCP SRV6:10203 <- CLI6:20203, listed as port 0 */
	P_SVC_ANY_CLI = 20203,
};
#define SVC_VETH "crsvc0"
#define SVC_PEER "crsvc1"
#define SVC_GONE "crsvc2"
static int svc_ifindex, svc_netnsid = -1, svc_gone_ifindex;
#define SYNRECV_PEER "10.99.0.2"
#define COOKIE_PEER "127.0.0.9"
#define COOKIE_ISN 1000u

/* V_SERVICE: accepted for a service in another namespace (tc-cls-redirect.8,
 * CONTAINERS): tc decapsulates and returns TC_ACT_REDIRECT (bpf_redirect_peer);
 * XDP passes the packet up unchanged, unmarked and uncounted, for tc. */
enum verdict { V_PASS, V_DROP, V_ACCEPT, V_GUE, V_GRE, V_SERVICE };

#define metric_names harness_metric_names

static int verbose, list_only;
static char **filters;
static int n_filters;
static struct harness H;
static int n_pass, n_fail, n_run;
static struct cls_redirect_config g_cfg;
/* The trust lists written before each fixture (harness_set_list format). */
static const char *g_sources, *g_hops;
static struct __sk_buff *g_ctx; /* ctx_in of the next run, or NULL */
static uint8_t our_addr[4];
static uint32_t cookie_synack_seq; /* sequence number of the SYN-ACK carrying the cookie */
static const char *names_seen[1024];
static uint64_t moved[CLS_REDIRECT_METRIC_COUNT]; /* total deltas over the fixtures run */
static int n_names;

/* ---------------------------------------------------------------------- */
/* reporting                                                               */

/* Fixture names built at run time; they live until exit. */
static const char *nm(const char *fmt, ...)
{
	static char pool[32768];
	static size_t used;
	va_list ap;
	char *p = pool + used;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(p, sizeof(pool) - used, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r + 1 > sizeof(pool) - used) {
		fprintf(stderr, "test_prog_run: fixture name pool exhausted\n");
		exit(2);
	}
	used += (size_t)r + 1;
	return p;
}

static int selected(const char *name)
{
	int i;

	if (!n_filters)
		return 1;
	for (i = 0; i < n_filters; i++)
		if (!strcmp(filters[i], name) || !fnmatch(filters[i], name, 0))
			return 1;
	return 0;
}

static void setup_fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL setup_%s: ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	n_fail++;
}

/* ---------------------------------------------------------------------- */
/* the classifier                                                          */

static int read_metrics(uint64_t *sum)
{
	return harness_read_metrics(&H, sum);
}

static int write_config(void)
{
	return harness_set_config(&H, &g_cfg) || harness_set_list(&H, H.src_fd, g_sources) ||
	       harness_set_list(&H, H.hops_fd, g_hops);
}

/* Open lists: every fixture outside fx_trust() is about something else. */
static void config_default(void)
{
	g_cfg = harness_config(our_addr, PORT);
	g_sources = g_hops = "0.0.0.0/0";
}

static int load(const char *path)
{
	if (harness_load(&H, path)) {
		setup_fail("load", "%s", H.err);
		return -1;
	}
	if (strcmp(bpf_program__section_name(H.prog), "classifier") && !H.xdp)
		setup_fail("section", "program section is \"%s\", expected \"classifier\" or \"xdp\"",
			   bpf_program__section_name(H.prog));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* one fixture                                                             */

static void check_counters(struct why *w, const uint64_t *before, const uint64_t *after,
			   const int64_t *exp)
{
	char inv[256];
	int i;

	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		int64_t d = (int64_t)(after[i] - before[i]);

		if (d != exp[i])
			why_add(w, "counter %s: expected %+lld, got %+lld", metric_names[i],
				(long long)exp[i], (long long)d);
	}
	if (harness_invariant(after, inv, sizeof(inv)))
		why_add(w, "%s", inv);
}

static void check_bytes(struct why *w, const uint8_t *exp, size_t exp_len, const uint8_t *got,
			size_t got_len)
{
	size_t i, n = exp_len < got_len ? exp_len : got_len;

	if (exp_len != got_len)
		why_add(w, "output length: expected %zu, got %zu", exp_len, got_len);
	for (i = 0; i < n; i++) {
		if (exp[i] != got[i]) {
			why_add(w, "output differs first at byte %zu: expected 0x%02x, got 0x%02x", i,
				exp[i], got[i]);
			return;
		}
	}
}

/* Checksums of a forwarded frame, verified from the output alone. */
static void check_forward_csums(struct why *w, enum verdict v, const uint8_t *out, size_t len)
{
	const uint8_t *ip = out + OFF_OUTER_IP;

	if (len < OFF_UDP + 8)
		return;
	if (!pkt_ipv4_csum_ok(ip))
		why_add(w, "outer IPv4 checksum 0x%04x invalid", pkt_get16(ip + 10));
	if (v == V_GUE) {
		size_t ulen = pkt_get16(ip + 2) - 20;

		if (pkt_get16(out + OFF_UDP + 6) && ulen <= len - OFF_UDP &&
		    !pkt_l4_csum_ok(0, ip + 12, ip + 16, IPPROTO_UDP, out + OFF_UDP, ulen))
			why_add(w, "outer UDP checksum 0x%04x invalid", pkt_get16(out + OFF_UDP + 6));
	} else if (v == V_GRE && pkt_get16(out + OFF_UDP + 2) == 0x0800 && len >= OFF_UDP + 24) {
		if (!pkt_ipv4_csum_ok(out + OFF_UDP + 4))
			why_add(w, "inner IPv4 checksum 0x%04x invalid", pkt_get16(out + OFF_UDP + 14));
	}
}

/* XDP: what goes up the stack carries the mark for the tc flavour in its
 * metadata (tc-cls-redirect.8, XDP), and nothing else does. */
static void check_xdp_mark(struct why *w, enum verdict v)
{
	int up = v == V_PASS || v == V_ACCEPT;

	if (H.meta_len < 0)
		return; /* kernel before 5.13: the run does not show metadata */
	if (up && (H.meta_len != 4 || H.meta != CLS_REDIRECT_XDP_MARK))
		why_add(w, "metadata: expected the 4-byte mark 0x%08x, got %d bytes (0x%08x)",
			CLS_REDIRECT_XDP_MARK, H.meta_len, H.meta);
	if (!up && H.meta_len)
		why_add(w, "metadata: expected none, got %d bytes", H.meta_len);
}

static void check(const char *name, const uint8_t *in, size_t len, enum verdict v, int outcome,
		  int l3, int l4)
{
	static uint8_t exp[PKT_MAX], got[PKT_MAX * 2];
	uint64_t before[CLS_REDIRECT_METRIC_COUNT], after[CLS_REDIRECT_METRIC_COUNT];
	int64_t dexp[CLS_REDIRECT_METRIC_COUNT] = { 0 };
	struct why w = { .len = 0 };
	uint32_t exp_ret, retval = 0;
	size_t exp_len, got_len = 0;
	int i, ran = 0, defer;

	for (i = 0; i < n_names; i++)
		if (!strcmp(names_seen[i], name)) {
			printf("FAIL %s: duplicate fixture name (the runner and filters need unique names)\n",
			       name);
			n_fail++;
		}
	if (n_names < (int)(sizeof(names_seen) / sizeof(names_seen[0])))
		names_seen[n_names++] = name;
	if (!selected(name))
		return;
	if (list_only) {
		printf("%s\n", name);
		return;
	}
	if (H.xdp && g_ctx) {
		printf("# xdp:%s not run: it sets __sk_buff fields (GSO: XDP sees no GSO packet, GRO comes after it; skb->mark)\n",
		       name);
		return;
	}
	n_run++;

	switch (v) {
	case V_PASS:
		exp_ret = RET_PASS;
		memcpy(exp, in, len);
		exp_len = len;
		break;
	case V_DROP:
		exp_ret = RET_DROP;
		memcpy(exp, in, len);
		exp_len = len;
		break;
	case V_ACCEPT:
		exp_ret = harness_accept_ret(in);
		exp_len = pkt_expect_accept(exp, in, len);
		break;
	case V_GUE:
		exp_ret = RET_REDIRECT;
		exp_len = pkt_expect_gue_forward(exp, in, len, our_addr);
		break;
	case V_SERVICE:
		exp_ret = RET_REDIRECT;
		exp_len = pkt_expect_accept(exp, in, len);
		if (H.xdp) {
			memcpy(exp, in, len);
			exp_len = len;
		}
		break;
	default:
		exp_ret = RET_REDIRECT;
		exp_len = pkt_expect_gre_forward(exp, in, len, our_addr);
		break;
	}
	if (H.xdp && v == V_SERVICE)
		exp_ret = XDP_PASS;
	else if (H.xdp)
		exp_ret = harness_class_ret(&H, v == V_PASS ? 0 : v == V_ACCEPT ? 1 : v == V_DROP ? 3 : 2, in);
	/* XDP in route mode hands every packet to the stack untouched, unmarked
	 * and uncounted, for the tc flavour (tc-cls-redirect.8, ROUTE MODE). */
	defer = H.xdp && (g_cfg.flags & CLS_REDIRECT_F_ROUTE);
	if (defer) {
		exp_ret = harness_class_ret(&H, 0, in);
		memcpy(exp, in, len);
		exp_len = len;
	}
	if (!defer && !(H.xdp && v == V_SERVICE)) {
		dexp[M(PROCESSED)] = 1;
		dexp[outcome]++;
		if (l3 >= 0)
			dexp[l3]++;
		if (l4 >= 0)
			dexp[l4]++;
	}

	if (write_config() || read_metrics(before) ||
	    harness_run(&H, in, len, got, sizeof(got), &got_len, &retval, g_ctx) ||
	    read_metrics(after)) {
		why_add(&w, "%s", H.err);
		goto out;
	}
	if (retval != exp_ret)
		why_add(&w, "verdict: expected 0x%x, got 0x%x", exp_ret, retval);
	check_bytes(&w, exp, exp_len, got, got_len);
	if (defer) {
		if (H.meta_len > 0) /* < 0: kernel before 5.13, see check_xdp_mark() */
			why_add(&w, "route mode: XDP handed the packet up with %d bytes of metadata, expected none",
				H.meta_len);
	} else if (H.xdp)
		check_xdp_mark(&w, v);
	if ((v == V_GUE || v == V_GRE) && !defer)
		check_forward_csums(&w, v, got, got_len);
	check_counters(&w, before, after, dexp);
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		moved[i] += after[i] - before[i];
	ran = 1;
out:
	if (w.len) {
		printf("FAIL %s%s: %.*s\n", H.xdp ? "xdp:" : "", name, (int)w.len, w.buf);
		n_fail++;
	} else {
		printf("PASS %s%s\n", H.xdp ? "xdp:" : "", name);
		n_pass++;
	}
	if (verbose && ran) {
		harness_hexdump(stdout, "input", in, len);
		harness_hexdump(stdout, "expected", exp, exp_len);
		harness_hexdump(stdout, "got", got, got_len);
	}
}

static void pass(const char *name, const uint8_t *f, size_t n)
{
	check(name, f, n, V_PASS, M(PASSED), NO, NO);
}

static void drop(const char *name, const uint8_t *f, size_t n, int err, int l3, int l4)
{
	check(name, f, n, V_DROP, err, l3, l4);
}

static void acc(const char *name, const uint8_t *f, size_t n, int why, int l3, int l4)
{
	check(name, f, n, V_ACCEPT, why, l3, l4);
}

static void gue(const char *name, const uint8_t *f, size_t n, int l3, int l4)
{
	check(name, f, n, V_GUE, M(FORWARDED_GUE), l3, l4);
}

static void gre(const char *name, const uint8_t *f, size_t n, int l3, int l4)
{
	check(name, f, n, V_GRE, M(FORWARDED_GRE), l3, l4);
}

static void svc(const char *name, const uint8_t *f, size_t n, int why, int l3, int l4)
{
	check(name, f, n, V_SERVICE, why, l3, l4);
}

/* ---------------------------------------------------------------------- */
/* packet shorthands                                                       */

static const char payload[] = "hello";

/* Encapsulation with n hops 198.51.100.1..n, next_hop k. */
static struct pkt_encap enc(int n, int k)
{
	struct pkt_encap e = pkt_encap(DIRECTOR, OUR, PORT);
	int i;

	e.n_hops = n;
	e.next_hop = (uint8_t)k;
	for (i = 0; i < n && i < GUE_MAX_HOPS + 2; i++) {
		e.hops[i][0] = 198;
		e.hops[i][1] = 51;
		e.hops[i][2] = 100;
		e.hops[i][3] = (uint8_t)(i + 1);
	}
	return e;
}

static void set_hop(struct pkt_encap *e, int k, const char *addr)
{
	inet_pton(AF_INET, addr, e->hops[k]);
}

static struct pkt_ip ipx(int v6, const char *src, const char *dst)
{
	return v6 ? pkt_ip6(src, dst) : pkt_ip4(src, dst);
}

static size_t ip_tcp(uint8_t *out, const struct pkt_ip *ip, const struct pkt_tcp *t)
{
	uint8_t l4[128];
	size_t n = pkt_tcp_build(l4, t, payload, 5);

	return pkt_ip_build(out, ip, IPPROTO_TCP, l4, n);
}

static size_t ip_udp(uint8_t *out, const struct pkt_ip *ip, uint16_t sport, uint16_t dport)
{
	uint8_t l4[64];
	size_t n = pkt_udp_build(l4, sport, dport, -1, payload, 5);

	return pkt_ip_build(out, ip, IPPROTO_UDP, l4, n);
}

static size_t ip_icmp(uint8_t *out, const struct pkt_ip *ip, uint8_t type, uint8_t code,
		      uint32_t rest, const uint8_t *quote, size_t qlen)
{
	uint8_t l4[PKT_MAX];
	size_t n = pkt_icmp_build(l4, type, code, rest, quote, qlen);

	return pkt_ip_build(out, ip, ip->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, l4, n);
}

static size_t ip_raw(uint8_t *out, const struct pkt_ip *ip, uint8_t proto, const void *l4,
		     size_t l4_len)
{
	return pkt_ip_build(out, ip, proto, l4, l4_len);
}

/* A whole frame: TCP flow src:sp -> dst:dp, flags, in e. */
static size_t f_tcp(uint8_t *f, const struct pkt_encap *e, int v6, const char *src, uint16_t sp,
		    const char *dst, uint16_t dp, uint8_t flags)
{
	uint8_t in[PKT_MAX];
	struct pkt_ip ip = ipx(v6, src, dst);
	struct pkt_tcp t = pkt_tcp(sp, dp, flags);

	return pkt_frame_build(f, e, in, ip_tcp(in, &ip, &t));
}

static size_t f_udp(uint8_t *f, const struct pkt_encap *e, int v6, const char *src, uint16_t sp,
		    const char *dst, uint16_t dp)
{
	uint8_t in[PKT_MAX];
	struct pkt_ip ip = ipx(v6, src, dst);

	return pkt_frame_build(f, e, in, ip_udp(in, &ip, sp, dp));
}

static size_t f_icmp(uint8_t *f, const struct pkt_encap *e, int v6, uint8_t type, uint8_t code,
		     uint32_t rest, const uint8_t *quote, size_t qlen)
{
	uint8_t in[PKT_MAX];
	struct pkt_ip ip = v6 ? pkt_ip6(FAR6, SRV6) : pkt_ip4(FAR4, SRV4);

	return pkt_frame_build(f, e, in, ip_icmp(in, &ip, type, code, rest, quote, qlen));
}

static size_t f_inner(uint8_t *f, const struct pkt_encap *e, const uint8_t *in, size_t n)
{
	return pkt_frame_build(f, e, in, n);
}

/* Quoted packets: what this server sent, src:sp -> dst:dp (whole packet; the
 * ICMP errors below quote all of it unless truncated). */
static size_t q_tcp(uint8_t *q, int v6, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
	struct pkt_ip ip = ipx(v6, src, dst);
	struct pkt_tcp t = pkt_tcp(sp, dp, PKT_TCP_ACK | PKT_TCP_PSH);

	return ip_tcp(q, &ip, &t);
}

static size_t q_udp(uint8_t *q, int v6, const char *src, uint16_t sp, const char *dst, uint16_t dp)
{
	struct pkt_ip ip = ipx(v6, src, dst);

	return ip_udp(q, &ip, sp, dp);
}

/* Patches a frame's outer IPv4 header and fixes its checksum. */
static void outer_patch(uint8_t *f, int off, uint8_t val)
{
	f[OFF_OUTER_IP + off] = val;
	pkt_ipv4_fix_csum(f + OFF_OUTER_IP);
}

/* ---------------------------------------------------------------------- */
/* fixtures                                                                */

static void fx_pass(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX];
	struct pkt_encap e = enc(0, 0);
	struct pkt_ip ip;
	size_t n;

	/* Not IPv4: ARP. */
	memset(f, 0, 60);
	pkt_eth_build(f, e.dst_mac, e.src_mac, 0x0806);
	pass("pass_not_ipv4_arp", f, 60);

	/* Not IPv4: an IPv6 frame carrying UDP to the GUE port. */
	ip = pkt_ip6(FAR6, SRV6);
	n = pkt_eth_build(f, e.dst_mac, e.src_mac, 0x86dd);
	n += ip_udp(f + n, &ip, 40000, PORT);
	pass("pass_not_ipv4_ipv6", f, n);

	/* A GUE packet in an 802.1Q-less frame whose EtherType says IPv6. */
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pkt_put16(f + 12, 0x86dd);
	pass("pass_gue_with_ethertype_ipv6", f, n);

	/* Too short: 49 bytes, addressed to us and to the port. */
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pkt_put16(f + OFF_OUTER_IP + 2, 49 - 14);
	pkt_put16(f + OFF_UDP + 4, 49 - 34);
	pkt_ipv4_fix_csum(f + OFF_OUTER_IP);
	pass("pass_too_short_49", f, 49);
	/* BPF_PROG_TEST_RUN refuses IPv4 frames shorter than 34 bytes. */
	pass("pass_too_short_34", f, 34);
	pass("pass_too_short_42", f, 42);

	/* Other address, other port, not UDP. */
	e = enc(0, 0);
	inet_pton(AF_INET, "192.0.2.11", e.daddr);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pass("pass_other_address", f, n);
	e = enc(0, 0);
	e.dport = PORT + 1;
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pass("pass_other_port", f, n);
	e = enc(0, 0);
	e.dport = 53;
	e.sport = PORT;
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pass("pass_source_port_only", f, n);
	e = enc(0, 0);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	outer_patch(f, 9, IPPROTO_TCP);
	pass("pass_not_udp_tcp", f, n);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	outer_patch(f, 9, IPPROTO_GRE);
	pass("pass_not_udp_gre", f, n);

	/* IHL < 5: the UDP header cannot be located. */
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	outer_patch(f, 0, 0x44);
	pass("pass_outer_ihl_4", f, n);

	/* Options: the UDP header is located with the IHL, so a port-looking
	 * value where UDP would be without options does not make it ours. */
	e = enc(0, 0);
	e.opt_len = 4;
	e.dport = 53;
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pkt_put16(f + OFF_UDP + 2, PORT); /* option bytes 2-3 */
	pkt_ipv4_fix_csum(f + OFF_OUTER_IP);
	pass("pass_outer_options_port_in_options", f, n);

	/* Unconfigured: zeroed config, version != 1, addr 0. */
	e = enc(0, 0);
	ip = pkt_ip4(FAR4, SRV4);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	memset(&g_cfg, 0, sizeof(g_cfg));
	pass("pass_unconfigured_zero", f, n);
	config_default();
	g_cfg.version = CLS_REDIRECT_CONFIG_VERSION + 1;
	pass("pass_unconfigured_version", f, n);
	config_default();
	g_cfg.addr = 0;
	e = enc(0, 0);
	inet_pton(AF_INET, "0.0.0.0", e.daddr);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	pass("pass_unconfigured_addr_0", f, n);
	config_default();

	/* Configured port is used, not the GLB default. */
	g_cfg.port = htons(6080);
	e = enc(0, 0);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	pass("pass_configured_port_differs", f, n);
	e.dport = 6080;
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	acc("config_port_6080_echo", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
	config_default();
	(void)in;
}

static void fx_outer(void)
{
	uint8_t f[PKT_MAX];
	struct pkt_encap e;
	size_t n;

	/* 50 bytes: the smallest frame that is ours; no inner packet at all. */
	e = enc(0, 0);
	n = pkt_frame_build(f, &e, NULL, 0);
	drop("outer_50_bytes_no_inner", f, n, M(ERR_MALFORMED_IP), L3V4, NO);

	e = enc(0, 0);
	e.version = 6;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_version_6", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);
	e.version = 0;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_version_0", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);

	e = enc(0, 0);
	e.opt_len = 4;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_options", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);
	e.frag = PKT_IP_MF;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_options_before_fragment", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);

	e = enc(0, 0);
	e.frag = PKT_IP_MF;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_fragment_mf", f, n, M(ERR_FRAGMENTED_OUTER_IP), NO, NO);
	e.frag = 185;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_fragment_offset", f, n, M(ERR_FRAGMENTED_OUTER_IP), NO, NO);
	e.frag = PKT_IP_MF | 1;
	e.tot_len = 4000;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_fragment_before_lengths", f, n, M(ERR_FRAGMENTED_OUTER_IP), NO, NO);

	e = enc(0, 0);
	e.tot_len = 35;
	e.udp_len = 15;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_tot_len_35", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);
	e = enc(0, 0);
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	e.tot_len = (int)n - 14 + 1;
	e.udp_len = e.tot_len - 20;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_tot_len_beyond_frame", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);
	e = enc(0, 0);
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	e.udp_len = (int)n - 34 - 1;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_udp_len_short", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);
	e.udp_len = (int)n - 34 + 1;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("outer_udp_len_long", f, n, M(ERR_MALFORMED_OUTER_IP), NO, NO);

	/* Allowed: trailing Ethernet padding, a wrong outer IPv4 checksum (not
	 * verified), DF set or clear. */
	e = enc(0, 0);
	e.pad = 10;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	acc("outer_ethernet_padding", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
	e = enc(0, 0);
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	f[OFF_OUTER_IP + 10] ^= 0x5a;
	acc("outer_bad_ip_checksum_ignored", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
	e.frag = 0;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	acc("outer_no_df", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
}

static void fx_encap(void)
{
	uint8_t f[PKT_MAX];
	struct pkt_encap e;
	size_t n;

#define ENC_DROP(name, stmt, err)                                                                  \
	do {                                                                                       \
		e = enc(1, 0);                                                                     \
		stmt;                                                                              \
		n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);                      \
		drop(name, f, n, err, NO, NO);                                                     \
	} while (0)

	ENC_DROP("gue_variant_1", e.gue_bits = 0x40, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_variant_3", e.gue_bits = 0xc0, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_control_bit", e.gue_bits = 0x20, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_flags_low", e.gue_flags = 0x0001, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_flags_high", e.gue_flags = 0x8000, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("priv_version_1", e.priv_vflags = 0x10, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("priv_version_15", e.priv_vflags = 0xf0, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("priv_reserved", e.priv_reserved = 0x01, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("priv_reserved_high", e.priv_reserved = 0x80, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_hlen_too_small", e.hlen = 1, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_hlen_too_big", e.hlen = 3, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_hlen_0", e.hlen = 0, M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("gue_hop_count_mismatch", e.hop_count = 2, M(ERR_MALFORMED_ENCAPSULATION));
	/* Order: encapsulation before next_hop, next_hop before proto_ctype. */
	ENC_DROP("order_encap_before_next_hop", (e.gue_flags = 1, e.next_hop = 5),
		 M(ERR_MALFORMED_ENCAPSULATION));
	ENC_DROP("next_hop_gt_n_1", e.next_hop = 2, M(ERR_INVALID_NEXT_HOP));
	ENC_DROP("next_hop_255", e.next_hop = 255, M(ERR_INVALID_NEXT_HOP));
	ENC_DROP("order_next_hop_before_l3_proto", (e.next_hop = 2, e.proto_ctype = 17),
		 M(ERR_INVALID_NEXT_HOP));
	ENC_DROP("unknown_l3_proto_17", e.proto_ctype = 17, M(ERR_UNKNOWN_L3_PROTO));
	ENC_DROP("unknown_l3_proto_0", e.proto_ctype = 0, M(ERR_UNKNOWN_L3_PROTO));
	ENC_DROP("unknown_l3_proto_6", e.proto_ctype = 6, M(ERR_UNKNOWN_L3_PROTO));
	ENC_DROP("unknown_l3_proto_last_hop", (e.proto_ctype = 47, e.next_hop = 1),
		 M(ERR_UNKNOWN_L3_PROTO));
#undef ENC_DROP

	e = enc(0, 1);
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	drop("next_hop_gt_n_0", f, n, M(ERR_INVALID_NEXT_HOP), NO, NO);
	e = enc(30, 31);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("next_hop_gt_n_30", f, n, M(ERR_INVALID_NEXT_HOP), NO, NO);

	/* hop_count 3 (hlen 4 agrees) but tot_len only holds two hops. */
	e = enc(2, 0);
	e.hop_count = 3;
	e.hlen = 4;
	n = pkt_frame_build(f, &e, NULL, 0);
	drop("gue_hops_beyond_tot_len", f, n, M(ERR_MALFORMED_ENCAPSULATION), NO, NO);
	/* Same, with Ethernet padding that would hold the hop: tot_len counts. */
	e.pad = 8;
	n = pkt_frame_build(f, &e, NULL, 0);
	drop("gue_hops_in_padding_only", f, n, M(ERR_MALFORMED_ENCAPSULATION), NO, NO);

	/* The two low bits of private byte 0 are ignored; GLB's all-zero first
	 * 16 bits is the default everywhere else. */
	e = enc(0, 0);
	e.priv_vflags = 0x03;
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	acc("priv_ignored_bits_accept", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
	e = enc(2, 0);
	e.priv_vflags = 0x03;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("priv_ignored_bits_forward", f, n, L3V4, L4T);
}

static void fx_inner_ip(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX], l4[PKT_MAX];
	struct pkt_encap e = enc(1, 0), last = enc(1, 1);
	struct pkt_ip ip;
	struct pkt_tcp t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	size_t n, m;
	int i;

	/* IPv4 header checks. */
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, 19);
	drop("inner_v4_truncated_19", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip.version = 5;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("inner_v4_version_5", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip = pkt_ip4(FAR4, SRV4);
	ip.ihl = 4;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("inner_v4_ihl_4", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip = pkt_ip4(FAR4, SRV4);
	ip.ihl = 15;
	m = pkt_ip_build(in, &ip, IPPROTO_UDP, l4, pkt_udp_build(l4, 1, 2, -1, NULL, 0));
	n = f_inner(f, &e, in, m);
	drop("inner_v4_ihl_beyond_packet", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip = pkt_ip4(FAR4, SRV4);
	ip.len = 19;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("inner_v4_tot_len_below_ihl", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_tcp(in, &ip, &t);
	ip.len = (int)m + 1;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("inner_v4_tot_len_beyond", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	/* An IPv6 packet announced as IPv4 and vice versa. */
	ip = pkt_ip6(FAR6, SRV6);
	m = ip_tcp(in, &ip, &t);
	e.proto_ctype = 4;
	n = f_inner(f, &e, in, m);
	drop("inner_v6_under_ctype_4", f, n, M(ERR_MALFORMED_IP), L3V4, NO);
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_tcp(in, &ip, &t);
	e.proto_ctype = 41;
	n = f_inner(f, &e, in, m);
	drop("inner_v4_under_ctype_41", f, n, M(ERR_MALFORMED_IP), L3V6, NO);
	e.proto_ctype = -1;

	/* Valid: options, trailing bytes after tot_len, DF. */
	ip = pkt_ip4(FAR4, SRV4);
	ip.opt_len = 8;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	acc("inner_v4_options_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	ip = pkt_ip4(CLI4, SRV4);
	ip.opt_len = 4;
	t = pkt_tcp(P_EST_CLI, P_EST, PKT_TCP_ACK);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	acc("inner_v4_options_established", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_tcp(in, &ip, &t);
	memset(in + m, 0xab, 6);
	n = f_inner(f, &last, in, m + 6);
	acc("inner_v4_trailing_bytes", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	ip.frag = PKT_IP_DF;
	t.flags = PKT_TCP_SYN;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	acc("inner_v4_df_is_not_fragment", f, n, M(ACCEPTED_SYN), L3V4, L4T);

	/* IPv6 header checks. */
	t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	ip = pkt_ip6(FAR6, SRV6);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, 39);
	f[OFF_GUE + 1] = 41;
	drop("inner_v6_truncated_39", f, n, M(ERR_MALFORMED_IP), L3V6, NO);
	ip.version = 7;
	m = ip_tcp(in, &ip, &t);
	e.proto_ctype = 41;
	n = f_inner(f, &e, in, m);
	e.proto_ctype = -1;
	drop("inner_v6_version_7", f, n, M(ERR_MALFORMED_IP), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	m = ip_tcp(in, &ip, &t);
	ip.len = (int)m - 40 + 1;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("inner_v6_payload_len_beyond", f, n, M(ERR_MALFORMED_IP), L3V6, NO);

	/* Extension headers. */
	ip = pkt_ip6(CLI6, SRV6);
	pkt_ip_add_ext(&ip, 0, 0, 0);
	pkt_ip_add_ext(&ip, 60, 1, 0);
	t = pkt_tcp(P_EST_CLI, P_EST, PKT_TCP_ACK);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	acc("inner_v6_hbh_dstopts_tcp_established", f, n, M(ACCEPTED_ESTABLISHED), L3V6, L4T);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 43, 0, 0);
	pkt_ip_add_ext(&ip, 135, 1, 0);
	m = ip_udp(in, &ip, P_CLI, P_NONE);
	n = f_inner(f, &last, in, m);
	acc("inner_v6_routing_mobility_udp_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4U);
	ip = pkt_ip6(FAR6, SRV6);
	for (i = 0; i < 8; i++)
		pkt_ip_add_ext(&ip, 60, 0, 0);
	t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	acc("inner_v6_8_ext_headers", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4T);
	pkt_ip_add_ext(&ip, 60, 0, 0);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	drop("inner_v6_9_ext_headers", f, n, M(ERR_MALFORMED_IP), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 60, 3, 0); /* 32 bytes, 16 present */
	m = pkt_ip_build(in, &ip, IPPROTO_NONE, NULL, 0);
	pkt_put16(in + 4, 16);
	n = f_inner(f, &last, in, 56);
	drop("inner_v6_ext_header_truncated", f, n, M(ERR_MALFORMED_IP), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 0, 0, 0);
	m = pkt_ip_build(in, &ip, IPPROTO_TCP, NULL, 0);
	n = f_inner(f, &last, in, m);
	drop("inner_v6_ext_then_no_tcp", f, n, M(ERR_MALFORMED_TCP), L3V6, L4T);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 60, 0, 0);
	pkt_ip_add_ext(&ip, 60, 1, 0); /* 16 bytes, only 8 in payload_len */
	m = ip_tcp(in, &ip, &t);
	pkt_put16(in + 4, 16);
	n = f_inner(f, &last, in, m);
	drop("inner_v6_ext_beyond_payload_len", f, n, M(ERR_MALFORMED_IP), L3V6, NO);

	/* Fragments: accepted at the last hop, dropped while a hop is left. */
	t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	ip = pkt_ip4(FAR4, SRV4);
	ip.frag = PKT_IP_MF;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	acc("frag_v4_mf_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, NO);
	n = f_inner(f, &e, in, m);
	drop("frag_v4_mf_not_last_hop", f, n, M(ERR_FRAGMENTED_IP), L3V4, NO);
	g_cfg.flags = CLS_REDIRECT_F_NO_FORWARD;
	acc("frag_v4_mf_no_forward", f, n, M(ACCEPTED_LAST_HOP), L3V4, NO);
	config_default();
	ip.frag = 3;
	m = ip_raw(in, &ip, IPPROTO_TCP, payload, 5);
	n = f_inner(f, &last, in, m);
	acc("frag_v4_offset_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, NO);
	n = f_inner(f, &e, in, m);
	drop("frag_v4_offset_not_last_hop", f, n, M(ERR_FRAGMENTED_IP), L3V4, NO);
	ip.frag = PKT_IP_MF | 7;
	m = ip_raw(in, &ip, IPPROTO_GRE, payload, 5);
	n = f_inner(f, &last, in, m);
	acc("frag_v4_other_proto_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 44, 0, 1);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	acc("frag_v6_first_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, NO);
	n = f_inner(f, &e, in, m);
	drop("frag_v6_first_not_last_hop", f, n, M(ERR_FRAGMENTED_IP), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 44, 0, 100 << 3);
	m = ip_raw(in, &ip, IPPROTO_TCP, payload, 5);
	n = f_inner(f, &e, in, m);
	drop("frag_v6_last_fragment_not_last_hop", f, n, M(ERR_FRAGMENTED_IP), L3V6, NO);
	n = f_inner(f, &last, in, m);
	acc("frag_v6_last_fragment_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 0, 0, 0);
	pkt_ip_add_ext(&ip, 44, 0, 0); /* atomic fragment */
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("frag_v6_atomic_not_last_hop", f, n, M(ERR_FRAGMENTED_IP), L3V6, NO);

	/* Unknown L4. */
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_raw(in, &ip, IPPROTO_GRE, payload, 5);
	n = f_inner(f, &e, in, m);
	drop("l4_unknown_v4_gre", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V4, NO);
	n = f_inner(f, &last, in, m);
	drop("l4_unknown_v4_last_hop", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V4, NO);
	m = pkt_icmp_build(l4, 128, 0, 1, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_ICMPV6, l4, m);
	n = f_inner(f, &e, in, m);
	drop("l4_icmpv6_in_ipv4", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V4, NO);
	ip = pkt_ip6(FAR6, SRV6);
	m = pkt_icmp_build(l4, 8, 0, 1, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_ICMP, l4, m);
	n = f_inner(f, &e, in, m);
	drop("l4_icmp_in_ipv6", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V6, NO);
	m = ip_raw(in, &ip, IPPROTO_NONE, NULL, 0);
	n = f_inner(f, &last, in, m);
	drop("l4_v6_no_next_header", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V6, NO);
	ip = pkt_ip6(FAR6, SRV6);
	pkt_ip_add_ext(&ip, 60, 0, 0);
	m = ip_raw(in, &ip, IPPROTO_SCTP, payload, 5);
	n = f_inner(f, &e, in, m);
	drop("l4_unknown_v6_after_ext", f, n, M(ERR_UNKNOWN_L4_PROTO), L3V6, NO);
}

static void fx_tcp(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX], l4[PKT_MAX];
	struct pkt_encap e = enc(1, 0), last = enc(1, 1), e0 = enc(0, 0);
	struct pkt_ip ip;
	struct pkt_tcp t;
	size_t n, m;
	int v6;

	/* Malformed TCP. */
	for (v6 = 0; v6 < 2; v6++) {
		const int l3 = v6 ? L3V6 : L3V4;

		ip = v6 ? pkt_ip6(FAR6, SRV6) : pkt_ip4(FAR4, SRV4);
		t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
		pkt_tcp_build(l4, &t, NULL, 0);
		m = ip_raw(in, &ip, IPPROTO_TCP, l4, 12);
		n = f_inner(f, &e, in, m);
		drop(v6 ? "tcp_v6_truncated_12" : "tcp_v4_truncated_12", f, n, M(ERR_MALFORMED_TCP),
		     l3, L4T);
		m = ip_raw(in, &ip, IPPROTO_TCP, l4, 19);
		n = f_inner(f, &last, in, m);
		drop(v6 ? "tcp_v6_truncated_19_last_hop" : "tcp_v4_truncated_19_last_hop", f, n,
		     M(ERR_MALFORMED_TCP), l3, L4T);
		t.doff = 4;
		m = ip_tcp(in, &ip, &t);
		n = f_inner(f, &e, in, m);
		drop(v6 ? "tcp_v6_doff_4" : "tcp_v4_doff_4", f, n, M(ERR_MALFORMED_TCP), l3, L4T);
		/* 60 bytes claimed, 20 + 5 present */
		t.doff = -1;
		m = pkt_tcp_build(l4, &t, payload, 5);
		l4[12] = 15 << 4;
		m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
		n = f_inner(f, &e, in, m);
		drop(v6 ? "tcp_v6_doff_beyond" : "tcp_v4_doff_beyond", f, n, M(ERR_MALFORMED_TCP),
		     l3, L4T);
	}
	/* Data offset counts against the L4 length from the IP header, not the
	 * frame: 24-byte header claimed, 24 bytes in the frame, tot_len says 20. */
	ip = pkt_ip4(FAR4, SRV4);
	t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	t.doff = 6;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	ip.len = 40;
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &last, in, m);
	drop("tcp_v4_doff_beyond_tot_len", f, n, M(ERR_MALFORMED_TCP), L3V4, L4T);
	t.doff = 6;
	ip = pkt_ip4(FAR4, SRV4);
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &last, in, m);
	acc("tcp_v4_doff_6_options", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);

	/* SYN. */
	for (v6 = 0; v6 < 2; v6++) {
		const int l3 = v6 ? L3V6 : L3V4;
		const char *far = v6 ? FAR6 : FAR4, *srv = v6 ? SRV6 : SRV4;

		n = f_tcp(f, &e, v6, far, P_CLI, srv, P_NONE, PKT_TCP_SYN);
		acc(v6 ? "tcp_v6_syn" : "tcp_v4_syn", f, n, M(ACCEPTED_SYN), l3, L4T);
		n = f_tcp(f, &last, v6, far, P_CLI, srv, P_NONE, PKT_TCP_SYN);
		acc(v6 ? "tcp_v6_syn_last_hop" : "tcp_v4_syn_last_hop", f, n, M(ACCEPTED_SYN), l3,
		       L4T);
		n = f_tcp(f, &e0, v6, far, P_CLI, srv, P_NONE, PKT_TCP_SYN);
		acc(v6 ? "tcp_v6_syn_n0" : "tcp_v4_syn_n0", f, n, M(ACCEPTED_SYN), l3, L4T);
		e.priv_vflags = PRIV_F_FORWARD_SYN;
		n = f_tcp(f, &e, v6, far, P_CLI, srv, P_NONE, PKT_TCP_SYN);
		gue(v6 ? "tcp_v6_syn_forward_syn" : "tcp_v4_syn_forward_syn", f, n, l3, L4T);
		e.priv_vflags = 0;
	}
	e = enc(1, 0);
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_SYN);
	acc("tcp_syn_for_existing_socket", f, n, M(ACCEPTED_SYN), L3V4, L4T);
	last.priv_vflags = PRIV_F_FORWARD_SYN;
	n = f_tcp(f, &last, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	acc("tcp_syn_forward_syn_last_hop", f, n, M(ACCEPTED_SYN), L3V4, L4T);
	last.priv_vflags = 0;
	e.priv_vflags = PRIV_F_FORWARD_SYN;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	g_cfg.flags = CLS_REDIRECT_F_NO_FORWARD;
	acc("tcp_syn_forward_syn_no_forward_config", f, n, M(ACCEPTED_SYN), L3V4, L4T);
	config_default();
	e = enc(3, 2);
	e.priv_vflags = PRIV_F_FORWARD_SYN;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	gue("tcp_syn_forward_syn_n3_k2", f, n, L3V4, L4T);
	e = enc(1, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN | PKT_TCP_ACK);
	gue("tcp_synack_no_socket", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN | PKT_TCP_RST);
	acc("tcp_syn_rst_is_syn", f, n, M(ACCEPTED_SYN), L3V4, L4T);

	/* Sockets. */
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_ACK | PKT_TCP_PSH);
	acc("tcp_v4_established", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	n = f_tcp(f, &e, 1, CLI6, P_EST_CLI, SRV6, P_EST, PKT_TCP_ACK | PKT_TCP_PSH);
	acc("tcp_v6_established", f, n, M(ACCEPTED_ESTABLISHED), L3V6, L4T);
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_ACK | PKT_TCP_FIN);
	acc("tcp_v4_established_fin", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_RST);
	acc("tcp_v4_established_rst", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	n = f_tcp(f, &last, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_ACK);
	acc("tcp_v4_established_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI + 1, SRV4, P_EST, PKT_TCP_ACK);
	gue("tcp_v4_established_other_port", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 0, SYNRECV_PEER, P_SYNRECV_CLI, SRV4, P_SYNRECV, PKT_TCP_ACK);
	acc("tcp_v4_syn_received", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	n = f_tcp(f, &e, 0, CLI4, P_TW_CLI, SRV4, P_TW, PKT_TCP_ACK | PKT_TCP_FIN);
	acc("tcp_v4_time_wait", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_LISTEN, PKT_TCP_ACK);
	gue("tcp_v4_listener_no_cookie", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("tcp_v4_no_socket", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gue("tcp_v6_no_socket", f, n, L3V6, L4T);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_EST, PKT_TCP_ACK);
	gue("tcp_v6_listener_no_cookie", f, n, L3V6, L4T);
	n = f_tcp(f, &last, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	acc("tcp_v4_no_socket_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	n = f_tcp(f, &last, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	acc("tcp_v6_no_socket_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4T);
	e = enc(3, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	g_cfg.flags = CLS_REDIRECT_F_NO_FORWARD;
	acc("tcp_v4_no_socket_no_forward_config", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	config_default();

	/* SYN cookies: the ACK of the handshake whose SYN-ACK the listener sent
	 * with a cookie (seq = ISN + 1, ack = cookie + 1). */
	e = enc(1, 0);
	ip = pkt_ip4(COOKIE_PEER, SRV4);
	t = pkt_tcp(P_COOKIE_CLI, P_COOKIE, PKT_TCP_ACK);
	t.seq = COOKIE_ISN + 1;
	t.ack = cookie_synack_seq + 1;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &e, in, m);
	acc("tcp_v4_syn_cookie_valid", f, n, M(ACCEPTED_SYN_COOKIES), L3V4, L4T);
	t.ack = cookie_synack_seq + 1 + 0x10000000u;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &e, in, m);
	gue("tcp_v4_syn_cookie_invalid", f, n, L3V4, L4T);
	t.ack = cookie_synack_seq + 1;
	t.seq = COOKIE_ISN + 2;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &e, in, m);
	gue("tcp_v4_syn_cookie_wrong_seq", f, n, L3V4, L4T);
	t.seq = COOKIE_ISN + 1;
	t.sport = P_COOKIE_CLI + 1;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &e, in, m);
	gue("tcp_v4_syn_cookie_other_port", f, n, L3V4, L4T);
	t.sport = P_COOKIE_CLI;
	m = pkt_tcp_build(l4, &t, NULL, 0);
	m = ip_raw(in, &ip, IPPROTO_TCP, l4, m);
	n = f_inner(f, &last, in, m);
	acc("tcp_v4_syn_cookie_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
}

static void fx_udp(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX], l4[PKT_MAX];
	struct pkt_encap e = enc(1, 0), last = enc(1, 1);
	struct pkt_ip ip;
	size_t n, m;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		const int l3 = v6 ? L3V6 : L3V4;

		ip = v6 ? pkt_ip6(FAR6, SRV6) : pkt_ip4(FAR4, SRV4);
		pkt_udp_build(l4, P_CLI, P_NONE, -1, NULL, 0);
		m = ip_raw(in, &ip, IPPROTO_UDP, l4, 4);
		n = f_inner(f, &e, in, m);
		drop(v6 ? "udp_v6_truncated_4" : "udp_v4_truncated_4", f, n, M(ERR_MALFORMED_UDP), l3,
		     L4U);
		m = pkt_udp_build(l4, P_CLI, P_NONE, 7, payload, 5);
		m = ip_raw(in, &ip, IPPROTO_UDP, l4, m);
		n = f_inner(f, &e, in, m);
		drop(v6 ? "udp_v6_len_7" : "udp_v4_len_7", f, n, M(ERR_MALFORMED_UDP), l3, L4U);
		m = pkt_udp_build(l4, P_CLI, P_NONE, 14, payload, 5);
		m = ip_raw(in, &ip, IPPROTO_UDP, l4, m);
		n = f_inner(f, &last, in, m);
		drop(v6 ? "udp_v6_len_beyond" : "udp_v4_len_beyond", f, n, M(ERR_MALFORMED_UDP), l3,
		     L4U);
		m = pkt_udp_build(l4, P_CLI, P_NONE, 9, payload, 5);
		m = ip_raw(in, &ip, IPPROTO_UDP, l4, m);
		n = f_inner(f, &last, in, m);
		acc(v6 ? "udp_v6_len_short_of_l4" : "udp_v4_len_short_of_l4", f, n,
		       M(ACCEPTED_LAST_HOP), l3, L4U);
	}
	n = f_udp(f, &e, 0, CLI4, P_UDP_CONN_CLI, SRV4, P_UDP_CONN);
	acc("udp_v4_connected", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4U);
	n = f_udp(f, &e, 1, CLI6, P_UDP_CONN_CLI, SRV6, P_UDP_CONN);
	acc("udp_v6_connected", f, n, M(ACCEPTED_ESTABLISHED), L3V6, L4U);
	n = f_udp(f, &e, 0, FAR4, P_UDP_CONN_CLI, SRV4, P_UDP_CONN);
	gue("udp_v4_connected_other_peer", f, n, L3V4, L4U);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_UDP_BOUND);
	gue("udp_v4_unconnected", f, n, L3V4, L4U);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	gue("udp_v4_no_socket", f, n, L3V4, L4U);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	gue("udp_v6_no_socket", f, n, L3V6, L4U);
	n = f_udp(f, &last, 0, FAR4, P_CLI, SRV4, P_NONE);
	acc("udp_v4_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4U);
	n = f_udp(f, &last, 1, FAR6, P_CLI, SRV6, P_NONE);
	acc("udp_v6_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4U);
	n = f_udp(f, &last, 0, CLI4, P_UDP_CONN_CLI, SRV4, P_UDP_CONN);
	acc("udp_v4_connected_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4U);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	g_cfg.flags = CLS_REDIRECT_F_NO_FORWARD;
	acc("udp_v4_no_socket_no_forward_config", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4U);
	config_default();
}

/* ICMP errors: type / code for each version. */
struct icmp_err {
	const char *tag;
	uint8_t type, code;
	int pmtu;
};

static const struct icmp_err icmp4_errs[] = {
	{ "frag_needed", 3, 4, 1 },
	{ "port_unreachable", 3, 3, 0 },
	{ "host_unreachable", 3, 1, 0 },
	{ "time_exceeded", 11, 0, 0 },
	{ "param_problem", 12, 0, 0 },
};

static const struct icmp_err icmp6_errs[] = {
	{ "packet_too_big", 2, 0, 1 },
	{ "dest_unreachable", 1, 4, 0 },
	{ "time_exceeded", 3, 0, 0 },
	{ "param_problem", 4, 0, 0 },
};

static void fx_icmp(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX], q[PKT_MAX];
	struct pkt_encap e = enc(1, 0), last = enc(1, 1), e0 = enc(0, 0);
	struct pkt_ip ip;
	size_t n, m, qn;
	unsigned i;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		const int l3 = v6 ? L3V6 : L3V4;
		const char *vs = v6 ? "icmpv6" : "icmp";
		const uint8_t echo = v6 ? 128 : 8, reply = v6 ? 129 : 0;

		ip = v6 ? pkt_ip6(FAR6, SRV6) : pkt_ip4(FAR4, SRV4);
		m = pkt_icmp_build(q, echo, 0, 0x00010001, NULL, 0);
		m = ip_raw(in, &ip, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, q, 4);
		n = f_inner(f, &e, in, m);
		drop(nm("%s_truncated_4", vs), f, n, M(ERR_MALFORMED_ICMP), l3, L4I);

		n = f_icmp(f, &e0, v6, echo, 0, 0x00010001, (const uint8_t *)payload, 5);
		acc(nm("%s_echo_request_n0", vs), f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), l3, L4I);
		n = f_icmp(f, &e, v6, echo, 0, 0x00010001, (const uint8_t *)payload, 5);
		acc(nm("%s_echo_request_n1", vs), f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), l3, L4I);
		n = f_icmp(f, &last, v6, echo, 0, 0x00010001, (const uint8_t *)payload, 5);
		acc(nm("%s_echo_request_last_hop", vs), f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), l3, L4I);
		n = f_icmp(f, &e, v6, reply, 0, 0x00010001, (const uint8_t *)payload, 5);
		drop(nm("%s_echo_reply", vs), f, n, M(ERR_ICMP_ECHO_REPLIES), l3, L4I);
		n = f_icmp(f, &last, v6, reply, 0, 0x00010001, (const uint8_t *)payload, 5);
		drop(nm("%s_echo_reply_last_hop", vs), f, n, M(ERR_ICMP_ECHO_REPLIES), l3, L4I);

		/* Errors quoting flows. */
		for (i = 0; i < (v6 ? 4u : 5u); i++) {
			const struct icmp_err *ie = v6 ? &icmp6_errs[i] : &icmp4_errs[i];
			const char *srv = v6 ? SRV6 : SRV4, *cli = v6 ? CLI6 : CLI4;
			const char *far = v6 ? FAR6 : FAR4;
			const uint32_t rest = ie->pmtu ? 1400 : 0;
			const int bad = ie->pmtu ? M(ERR_MALFORMED_ICMP_PKT_TOO_BIG) : M(ERR_MALFORMED_ICMP);

#define NAME(suffix) nm("%s_%s_%s", vs, ie->tag, suffix)
			qn = q_tcp(q, v6, srv, P_EST, cli, P_EST_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			acc(NAME("tcp_established"), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
			qn = q_tcp(q, v6, srv, P_NONE, far, P_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			gue(NAME("tcp_unknown"), f, n, l3, L4I);
			n = f_icmp(f, &last, v6, ie->type, ie->code, rest, q, qn);
			acc(NAME("tcp_unknown_last_hop"), f, n, M(ACCEPTED_LAST_HOP), l3, L4I);
			qn = q_udp(q, v6, srv, P_UDP_CONN, cli, P_UDP_CONN_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			acc(NAME("udp_connected"), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
			qn = q_udp(q, v6, srv, P_NONE, far, P_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			gue(NAME("udp_unknown"), f, n, l3, L4I);
			/* Quote of something that is not TCP / UDP. */
			ip = ipx(v6, srv, far);
			qn = ip_icmp(q, &ip, v6 ? 128 : 8, 0, 1, NULL, 0);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			drop(NAME("quoting_icmp"), f, n, M(ERR_UNWANTED_ICMP), l3, L4I);
			/* Truncated quotes: no room for the IP header, no room for ports. */
			qn = q_tcp(q, v6, srv, P_EST, cli, P_EST_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, v6 ? 39 : 19);
			drop(NAME("quote_truncated_ip"), f, n, bad, l3, L4I);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, v6 ? 43 : 23);
			drop(NAME("quote_truncated_ports"), f, n, bad, l3, L4I);
			n = f_icmp(f, &last, v6, ie->type, ie->code, rest, q, v6 ? 43 : 23);
			drop(NAME("quote_truncated_last_hop"), f, n, bad, l3, L4I);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, NULL, 0);
			drop(NAME("quote_empty"), f, n, bad, l3, L4I);
			/* Minimal quote: IP header + the 4 port bytes. */
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, v6 ? 44 : 24);
			acc(NAME("quote_minimal"), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
			/* Quote of the other IP version. */
			qn = q_tcp(q, !v6, v6 ? SRV4 : SRV6, P_EST, v6 ? CLI4 : CLI6, P_EST_CLI);
			n = f_icmp(f, &e, v6, ie->type, ie->code, rest, q, qn);
			drop(NAME("quote_other_version"), f, n, bad, l3, L4I);
#undef NAME
		}

		/* Quotes with a bad IP header. */
		{
			const char *srv = v6 ? SRV6 : SRV4, *cli = v6 ? CLI6 : CLI4;
			const uint8_t unr = v6 ? 1 : 3, ptb = v6 ? 2 : 3, ptb_code = v6 ? 0 : 4;

			ip = ipx(v6, srv, cli);
			ip.version = 5;
			qn = ip_udp(q, &ip, P_UDP_CONN, P_UDP_CONN_CLI);
			n = f_icmp(f, &e, v6, unr, 3, 0, q, qn);
			drop(nm("%s_quote_version_5", vs), f, n, M(ERR_MALFORMED_ICMP), l3, L4I);
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			drop(nm("%s_pmtu_quote_version_5", vs), f, n, M(ERR_MALFORMED_ICMP_PKT_TOO_BIG), l3, L4I);

			/* Quote with extension headers / options. */
			ip = ipx(v6, srv, cli);
			if (v6)
				pkt_ip_add_ext(&ip, 60, 0, 0);
			else
				ip.opt_len = 4;
			{
				struct pkt_tcp t = pkt_tcp(P_EST, P_EST_CLI, PKT_TCP_ACK);

				qn = ip_tcp(q, &ip, &t);
			}
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			acc(nm("%s_pmtu_quote_%s", vs, v6 ? "ext_header" : "ip_options"), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);

			/* Quoted fragments: the first one shows the flow. */
			ip = ipx(v6, srv, cli);
			if (v6)
				pkt_ip_add_ext(&ip, 44, 0, 1);
			else
				ip.frag = PKT_IP_MF;
			{
				struct pkt_tcp t = pkt_tcp(P_EST, P_EST_CLI, PKT_TCP_ACK);

				qn = ip_tcp(q, &ip, &t);
			}
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			acc(nm("%s_pmtu_quote_first_fragment", vs), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
			ip = ipx(v6, srv, cli);
			if (v6)
				pkt_ip_add_ext(&ip, 44, 0, 185 << 3);
			else
				ip.frag = 185;
			qn = ip_raw(q, &ip, IPPROTO_TCP, "0123456789abcdef", 16);
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			drop(nm("%s_pmtu_quote_non_first_fragment", vs), f, n, M(ERR_FRAGMENTED_IP), l3, L4I);
			n = f_icmp(f, &e, v6, unr, 3, 0, q, qn);
			drop(nm("%s_unreachable_quote_non_first_fragment", vs), f, n, M(ERR_FRAGMENTED_IP), l3, L4I);

			/* Quoted flow towards a listener: no SYN cookie check. */
			qn = q_tcp(q, v6, srv, v6 ? P_EST : P_LISTEN, v6 ? FAR6 : FAR4, P_CLI);
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			gue(nm("%s_pmtu_quote_listener", vs), f, n, l3, L4I);
			/* Quoted unconnected UDP socket. */
			qn = q_udp(q, v6, srv, P_UDP_BOUND, v6 ? FAR6 : FAR4, P_CLI);
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			gue(nm("%s_pmtu_quote_udp_unconnected", vs), f, n, l3, L4I);
			/* No-forward: like the last hop. */
			qn = q_tcp(q, v6, srv, P_NONE, v6 ? FAR6 : FAR4, P_CLI);
			n = f_icmp(f, &e, v6, ptb, ptb_code, 1400, q, qn);
			g_cfg.flags = CLS_REDIRECT_F_NO_FORWARD;
			acc(nm("%s_pmtu_unknown_no_forward_config", vs), f, n, M(ACCEPTED_LAST_HOP), l3, L4I);
			config_default();
			/* Quoting a quoted-GRE packet: unwanted. */
			ip = ipx(v6, srv, cli);
			qn = ip_raw(q, &ip, IPPROTO_GRE, "0123456789abcdef", 16);
			n = f_icmp(f, &last, v6, unr, 3, 0, q, qn);
			drop(nm("%s_unreachable_quoting_gre_last_hop", vs), f, n, M(ERR_UNWANTED_ICMP), l3, L4I);
		}
	}

	/* Quoted flows of request and time-wait sockets: non-listening. */
	qn = q_tcp(q, 0, SRV4, P_TW, CLI4, P_TW_CLI);
	n = f_icmp(f, &e, 0, 3, 4, 1400, q, qn);
	acc("icmp_frag_needed_quote_time_wait", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4I);
	qn = q_tcp(q, 0, SRV4, P_SYNRECV, SYNRECV_PEER, P_SYNRECV_CLI);
	n = f_icmp(f, &e, 0, 3, 4, 1400, q, qn);
	acc("icmp_frag_needed_quote_syn_received", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4I);

	/* IPv4 quote with IHL < 5. */
	ip = pkt_ip4(SRV4, CLI4);
	ip.ihl = 4;
	qn = ip_udp(q, &ip, P_UDP_CONN, P_UDP_CONN_CLI);
	n = f_icmp(f, &e, 0, 11, 0, 0, q, qn);
	drop("icmp_time_exceeded_quote_ihl_4", f, n, M(ERR_MALFORMED_ICMP), L3V4, L4I);
	/* IPv4 quote with options but only 4 bytes after the 20-byte header. */
	ip = pkt_ip4(SRV4, CLI4);
	ip.opt_len = 8;
	qn = ip_udp(q, &ip, P_UDP_CONN, P_UDP_CONN_CLI);
	n = f_icmp(f, &e, 0, 3, 4, 1400, q, 24);
	drop("icmp_frag_needed_quote_options_truncated", f, n, M(ERR_MALFORMED_ICMP_PKT_TOO_BIG),
	     L3V4, L4I);
	/* Quote of ICMPv6 inside ICMPv6 and of TCP-looking protocol 6 in v6
	 * after a routing header. */
	ip = pkt_ip6(SRV6, CLI6);
	pkt_ip_add_ext(&ip, 43, 0, 0);
	{
		struct pkt_tcp t = pkt_tcp(P_EST, P_EST_CLI, PKT_TCP_ACK);

		qn = ip_tcp(q, &ip, &t);
	}
	n = f_icmp(f, &e, 1, 1, 0, 0, q, qn);
	acc("icmpv6_dest_unreachable_quote_routing_header", f, n, M(ACCEPTED_ESTABLISHED), L3V6,
	       L4I);
	ip = pkt_ip6(SRV6, CLI6);
	for (i = 0; i < 9; i++)
		pkt_ip_add_ext(&ip, 60, 0, 0);
	{
		struct pkt_tcp t = pkt_tcp(P_EST, P_EST_CLI, PKT_TCP_ACK);

		qn = ip_tcp(q, &ip, &t);
	}
	n = f_icmp(f, &e, 1, 2, 0, 1400, q, qn);
	drop("icmpv6_packet_too_big_quote_9_ext_headers", f, n, M(ERR_MALFORMED_ICMP_PKT_TOO_BIG),
	     L3V6, L4I);

	/* Unwanted types, also at the last hop. */
	{
		static const struct { const char *name; int v6; uint8_t type, code; } unw[] = {
			{ "icmp_redirect", 0, 5, 1 },
			{ "icmp_source_quench", 0, 4, 0 },
			{ "icmp_timestamp", 0, 13, 0 },
			{ "icmp_router_advertisement", 0, 9, 0 },
			{ "icmpv6_neighbour_solicitation", 1, 135, 0 },
			{ "icmpv6_neighbour_advertisement", 1, 136, 0 },
			{ "icmpv6_router_advertisement", 1, 134, 0 },
			{ "icmpv6_redirect", 1, 137, 0 },
			{ "icmpv6_mld_query", 1, 130, 0 },
		};

		for (i = 0; i < sizeof(unw) / sizeof(unw[0]); i++) {
			qn = q_tcp(q, unw[i].v6, unw[i].v6 ? SRV6 : SRV4, P_EST,
				   unw[i].v6 ? CLI6 : CLI4, P_EST_CLI);
			n = f_icmp(f, &e, unw[i].v6, unw[i].type, unw[i].code, 0, q, qn);
			drop(unw[i].name, f, n, M(ERR_UNWANTED_ICMP), unw[i].v6 ? L3V6 : L3V4, L4I);
			n = f_icmp(f, &last, unw[i].v6, unw[i].type, unw[i].code, 0, q, qn);
			drop(nm("%s_last_hop", unw[i].name), f, n, M(ERR_UNWANTED_ICMP), unw[i].v6 ? L3V6 : L3V4, L4I);
		}
	}
	(void)m;
}

static void fx_forward(void)
{
	static const int lens[] = { 1, 3, 30 };
	static const char *const bad_hops[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1",
		"239.255.255.255", "240.0.0.1", "255.255.255.255",
	};
	static const char *const good_hops[] = {
		"1.0.0.1", "126.255.255.255", "128.0.0.1", "223.255.255.254", "10.0.0.1",
	};
	uint8_t f[PKT_MAX];
	struct pkt_encap e;
	struct __sk_buff ctx;
	const char *name;
	unsigned i;
	size_t n;
	int k;

	e = enc(0, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	acc("hops_n0_k0_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	acc("hops_n0_k0_last_hop_v6", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4T);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		const int N = lens[i];

		for (k = 0; k <= N + 1; k++) {
			if (N == 30 && k > 2 && k != 15 && k < 28)
				continue;
			e = enc(N, k);
			n = f_tcp(f, &e, k & 1, k & 1 ? FAR6 : FAR4, P_CLI, k & 1 ? SRV6 : SRV4, P_NONE,
				  PKT_TCP_ACK);
			name = nm("hops_n%d_k%d", N, k);
			if (k < N)
				gue(name, f, n, k & 1 ? L3V6 : L3V4, L4T);
			else if (k == N)
				acc(name, f, n, M(ACCEPTED_LAST_HOP), k & 1 ? L3V6 : L3V4, L4T);
			else
				drop(name, f, n, M(ERR_INVALID_NEXT_HOP), NO, NO);
		}
	}

	for (i = 0; i < sizeof(bad_hops) / sizeof(bad_hops[0]); i++) {
		e = enc(2, 1);
		set_hop(&e, 1, bad_hops[i]);
		n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
		drop(nm("hop_invalid_%s", bad_hops[i]), f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	}
	for (i = 0; i < sizeof(good_hops) / sizeof(good_hops[0]); i++) {
		e = enc(2, 1);
		set_hop(&e, 1, good_hops[i]);
		n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
		gue(nm("hop_valid_%s", good_hops[i]), f, n, L3V4, L4T);
	}
	e = enc(2, 1);
	set_hop(&e, 1, OUR);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("hop_own_address", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	e = enc(2, 1);
	set_hop(&e, 0, "127.0.0.1");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("hop_only_hop_k_matters", f, n, L3V4, L4T);
	e = enc(2, 0);
	set_hop(&e, 0, "255.255.255.255");
	n = f_icmp(f, &e, 0, 8, 0, 1, NULL, 0);
	acc("hop_invalid_echo_request_not_forwarded", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4,
	       L4I);
	e = enc(1, 0);
	set_hop(&e, 0, "0.0.0.0");
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	drop("hop_invalid_v6_udp", f, n, M(ERR_INVALID_HOP), L3V6, L4U);

	/* Outer UDP checksum: fixed when non-zero, zero stays zero. */
	e = enc(3, 1);
	e.udp_csum = 1;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("udp_checksum_nonzero_forward", f, n, L3V4, L4T);
	e = enc(30, 29);
	e.udp_csum = 1;
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gue("udp_checksum_nonzero_forward_n30_k29", f, n, L3V6, L4T);
	e = enc(3, 1);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("udp_checksum_zero_forward", f, n, L3V4, L4T);
	e = enc(1, 0);
	e.udp_csum = 1;
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	gue("udp_checksum_nonzero_forward_udp", f, n, L3V4, L4U);
	e = enc(1, 1);
	e.udp_csum = 1;
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	acc("udp_checksum_nonzero_accept", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4U);

	/* Everything else identical: TTL 1, TOS, padding, other ports. */
	e = enc(2, 0);
	e.ttl = 1;
	e.tos = 0xb8;
	e.sport = 1;
	e.pad = 6;
	e.udp_csum = 1;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("forward_keeps_ttl_tos_padding", f, n, L3V4, L4T);
	e = enc(2, 0);
	e.frag = 0;
	n = f_icmp(f, &e, 0, 3, 4, 1400, NULL, 0);
	drop("forward_none_for_malformed", f, n, M(ERR_MALFORMED_ICMP_PKT_TOO_BIG), L3V4, L4I);

	/* MTU of the config: outgoing IPv4 length (tot_len for GUE). */
	e = enc(2, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	g_cfg.mtu = (uint32_t)(n - 14);
	gue("mtu_equal_forward", f, n, L3V4, L4T);
	g_cfg.mtu = (uint32_t)(n - 14 - 1);
	drop("mtu_exceeded", f, n, M(ERR_ENCAP_MTU_VIOLATE), L3V4, L4T);
	memset(&ctx, 0, sizeof(ctx));
	ctx.gso_size = 100;
	ctx.gso_segs = 2;
	g_ctx = &ctx;
	gue("mtu_exceeded_gso_exempt", f, n, L3V4, L4T);
	g_ctx = NULL;
	/* Order: hop validity and own address before the MTU. */
	e = enc(2, 0);
	set_hop(&e, 0, "127.0.0.1");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	g_cfg.mtu = 68;
	drop("order_invalid_hop_before_mtu", f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	set_hop(&e, 0, OUR);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("order_own_address_before_mtu", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	e = enc(2, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	acc("mtu_not_checked_on_accept", f, n, M(ACCEPTED_SYN), L3V4, L4T);
	config_default();

	/* Decapsulation refused by the kernel: BPF_PROG_TEST_RUN's GSO packets
	 * have no gso_type, and bpf_skb_adjust_room() refuses to shrink a GSO
	 * packet that is neither TCP nor fixed-size UDP GSO. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.gso_size = 100;
	ctx.gso_segs = 2;
	g_ctx = &ctx;
	e = enc(1, 1);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("encap_adjust_failed_gso_decap", f, n, M(ERR_ENCAP_ADJUST_FAILED), L3V4, L4T);
	e = enc(1, 0);
	e.priv_vflags = PRIV_F_LAST_HOP_GRE;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("encap_adjust_failed_gso_gre", f, n, M(ERR_ENCAP_ADJUST_FAILED), L3V4, L4T);
	g_ctx = NULL;
}

static void fx_gre(void)
{
	uint8_t f[PKT_MAX], in[PKT_MAX];
	struct pkt_encap e;
	struct pkt_ip ip;
	struct pkt_tcp t = pkt_tcp(P_CLI, P_NONE, PKT_TCP_ACK);
	size_t n, m;

#define GREENC(N, K)                                                                               \
	do {                                                                                       \
		e = enc(N, K);                                                                     \
		e.priv_vflags = PRIV_F_LAST_HOP_GRE;                                               \
	} while (0)
	GREENC(1, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gre("gre_v4_tcp", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gre("gre_v6_tcp", f, n, L3V6, L4T);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_UDP_BOUND);
	gre("gre_v4_udp", f, n, L3V4, L4U);
	e.udp_csum = 1;
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	gre("gre_v6_udp_outer_checksum", f, n, L3V6, L4U);
	GREENC(3, 2);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gre("gre_n3_k2", f, n, L3V4, L4T);
	GREENC(3, 1);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("gre_flag_n3_k1_is_gue", f, n, L3V4, L4T);
	GREENC(3, 3);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	acc("gre_flag_n3_k3_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	GREENC(30, 29);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gre("gre_n30_k29", f, n, L3V6, L4T);
	GREENC(1, 0);
	e.priv_vflags |= PRIV_F_FORWARD_SYN;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	gre("gre_forward_syn", f, n, L3V4, L4T);
	GREENC(1, 0);
	{
		uint8_t q[PKT_MAX];
		size_t qn = q_tcp(q, 0, SRV4, P_NONE, FAR4, P_CLI);

		n = f_icmp(f, &e, 0, 3, 4, 1400, q, qn);
		gre("gre_icmp_frag_needed_unknown", f, n, L3V4, L4I);
	}
	GREENC(1, 0);
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_ACK);
	acc("gre_flag_established_accepted", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);

	/* TTL / hop limit: 2 still goes (leaves with 1), 1 and 0 do not. */
	GREENC(1, 0);
	ip = pkt_ip4(FAR4, SRV4);
	ip.ttl = 2;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	gre("gre_v4_ttl_2", f, n, L3V4, L4T);
	ip.ttl = 1;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("gre_v4_ttl_1", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	ip.ttl = 0;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("gre_v4_ttl_0", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	e.priv_vflags = 0;
	ip.ttl = 1;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	gue("gue_v4_ttl_1_unchanged", f, n, L3V4, L4T);
	GREENC(1, 0);
	ip = pkt_ip6(FAR6, SRV6);
	ip.ttl = 2;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	gre("gre_v6_hop_limit_2", f, n, L3V6, L4T);
	ip.ttl = 1;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("gre_v6_hop_limit_1", f, n, M(ERR_REDIRECT_LOOP), L3V6, L4T);
	ip.ttl = 0;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	drop("gre_v6_hop_limit_0", f, n, M(ERR_REDIRECT_LOOP), L3V6, L4T);
	ip = pkt_ip4(FAR4, SRV4);
	ip.ttl = 255;
	m = ip_tcp(in, &ip, &t);
	n = f_inner(f, &e, in, m);
	gre("gre_v4_ttl_255", f, n, L3V4, L4T);

	/* Hop checks apply to GRE too. */
	GREENC(1, 0);
	set_hop(&e, 0, "127.0.0.1");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("gre_invalid_hop", f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	GREENC(1, 0);
	set_hop(&e, 0, OUR);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("gre_own_address", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);

	/* MTU: the GRE packet is 12 + 4N bytes shorter than what came in. */
	GREENC(3, 2);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	g_cfg.mtu = (uint32_t)(n - 14 - 12 - 12);
	gre("gre_mtu_equal", f, n, L3V4, L4T);
	g_cfg.mtu = (uint32_t)(n - 14 - 1);
	gre("gre_mtu_below_gue_length", f, n, L3V4, L4T);
	g_cfg.mtu = (uint32_t)(n - 14 - 12 - 12 - 1);
	drop("gre_mtu_exceeded", f, n, M(ERR_ENCAP_MTU_VIOLATE), L3V4, L4T);
	config_default();
#undef GREENC
}

static int write_file(const char *path, const char *val);

/* ---------------------------------------------------------------------- */
/* route mode: the host's routing table of the fixture namespace           */

/*
 * One rtnetlink request (RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWRULE, ...) with
 * up to three 32-bit attributes; 0 or -errno from the kernel's answer.
 */
static int rtnl(uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len,
		const uint16_t *attr_types, const uint32_t *attr_vals, int n_attrs)
{
	struct {
		struct nlmsghdr nh;
		char buf[256];
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char ans[512];
	struct rtattr *rta;
	int fd, i, ret;
	ssize_t r;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	req.nh.nlmsg_len = NLMSG_LENGTH(hdr_len);
	memcpy(NLMSG_DATA(&req.nh), hdr, hdr_len);
	for (i = 0; i < n_attrs; i++) {
		rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
		rta->rta_type = attr_types[i];
		rta->rta_len = RTA_LENGTH(sizeof(uint32_t));
		memcpy(RTA_DATA(rta), &attr_vals[i], sizeof(uint32_t));
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	ret = -EIO;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
	} else if ((r = recv(fd, ans, sizeof(ans), 0)) >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		struct nlmsghdr *a = (struct nlmsghdr *)ans;

		if (a->nlmsg_type == NLMSG_ERROR)
			ret = ((struct nlmsgerr *)NLMSG_DATA(a))->error;
	}
	close(fd);
	return ret;
}

/* ip route add|del TYPE ADDR/32 [dev lo] table TABLE */
static int route32(int add, uint8_t rtn_type, const char *addr, uint32_t table)
{
	struct rtmsg rm = {
		.rtm_family = AF_INET,
		.rtm_dst_len = 32,
		.rtm_table = RT_TABLE_UNSPEC,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = rtn_type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
		.rtm_type = rtn_type,
	};
	uint16_t t[3] = { RTA_DST, RTA_TABLE, RTA_OIF };
	uint32_t v[3] = { 0, table, 1 /* lo */ };

	inet_pton(AF_INET, addr, &v[0]);
	return rtnl(add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &rm,
		    sizeof(rm), t, v, rtn_type == RTN_UNICAST ? 3 : 2);
}

/* ip rule add|del from SRC/32 lookup TABLE priority PRIO */
static int rule_from(int add, const char *src, uint32_t table, uint32_t prio)
{
	struct fib_rule_hdr fr = {
		.family = AF_INET,
		.src_len = 32,
		.action = FR_ACT_TO_TBL,
	};
	uint16_t t[3] = { FRA_SRC, FRA_TABLE, FRA_PRIORITY };
	uint32_t v[3] = { 0, table, prio };

	inet_pton(AF_INET, src, &v[0]);
	return rtnl(add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &fr,
		    sizeof(fr), t, v, 3);
}

/* ip rule add|del fwmark MARK lookup TABLE priority PRIO */
static int rule_fwmark(int add, uint32_t mark, uint32_t table, uint32_t prio)
{
	struct fib_rule_hdr fr = {
		.family = AF_INET,
		.action = FR_ACT_TO_TBL,
	};
	uint16_t t[3] = { FRA_FWMARK, FRA_TABLE, FRA_PRIORITY };
	uint32_t v[3] = { mark, table, prio };

	return rtnl(add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &fr,
		    sizeof(fr), t, v, 3);
}

/* Whether the running kernel is Linux MAJ.MIN or later (uname). */
static int kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return 0;
	return a > maj || (a == maj && b >= min);
}

/* The default route out of lo that harness_netns() added (SIOCADDRT). */
static int default_route_lo(int add)
{
	struct rtentry rt;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	memset(&rt, 0, sizeof(rt));
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	rt.rt_flags = RTF_UP;
	rt.rt_dev = (char *)"lo";
	ret = ioctl(fd, add ? SIOCADDRT : SIOCDELRT, &rt) ? -errno : 0;
	close(fd);
	return ret;
}

#define LO_FORWARDING "/proc/sys/net/ipv4/conf/lo/forwarding"
#define ROUTE_TABLE 100
/* Hops with a route of each kind that has no way out, and the policy
 * rule's hops. */
#define HOP_BLACKHOLE "203.0.113.1"
#define HOP_UNREACHABLE "203.0.113.2"
#define HOP_PROHIBIT "203.0.113.3"
#define HOP_POLICY "203.0.113.4"  /* unreachable in ROUTE_TABLE: from OUR only */
#define HOP_OTHER_SRC "203.0.113.5" /* unreachable in ROUTE_TABLE + 1: from FAR4 only */
#define HOP_ON_LINK "203.0.113.6" /* a route of its own, dev lo */
#define HOP_MARK "203.0.113.7" /* unreachable in ROUTE_TABLE + 2: for MARK_RULE only */
#define MARK_RULE 0x2a

/*
 * The routing part of route mode, with the verdicts and bytes of
 * BPF_PROG_TEST_RUN: there bpf_redirect_neigh() only records the target and
 * returns TC_ACT_REDIRECT (nothing is sent, so the neighbour part is the end
 * to end test's, selftests/test_route.sh), but bpf_fib_lookup() consults the
 * real FIB of this namespace: lo, a default route out of lo, and the routes
 * and rules made here.  The bytes are those of a MAC-swap forward (the kernel
 * replaces the Ethernet header when it sends along the route).
 */
static void fx_route(void)
{
	static const struct {
		const char *hop;
		uint8_t type;
		const char *name;
	} dead[] = {
		{ HOP_BLACKHOLE, RTN_BLACKHOLE, "blackhole" },
		{ HOP_UNREACHABLE, RTN_UNREACHABLE, "unreachable" },
		{ HOP_PROHIBIT, RTN_PROHIBIT, "prohibit" },
	};
	uint8_t f[PKT_MAX];
	struct pkt_encap e;
	struct __sk_buff ctx;
	unsigned i;
	size_t n;
	int err;

	if (!list_only) {
		for (i = 0; i < sizeof(dead) / sizeof(dead[0]); i++)
			if ((err = route32(1, dead[i].type, dead[i].hop, RT_TABLE_MAIN)))
				setup_fail("route_setup", "ip route add %s %s: %s", dead[i].name, dead[i].hop,
					   strerror(-err));
		if ((err = route32(1, RTN_UNREACHABLE, HOP_POLICY, ROUTE_TABLE)) ||
		    (err = route32(1, RTN_UNREACHABLE, HOP_OTHER_SRC, ROUTE_TABLE + 1)) ||
		    (err = route32(1, RTN_UNICAST, HOP_ON_LINK, RT_TABLE_MAIN)) ||
		    (err = rule_from(1, OUR, ROUTE_TABLE, 1000)) ||
		    (err = rule_from(1, FAR4, ROUTE_TABLE + 1, 1001)) ||
		    (err = route32(1, RTN_UNREACHABLE, HOP_MARK, ROUTE_TABLE + 2)) ||
		    (err = rule_fwmark(1, MARK_RULE, ROUTE_TABLE + 2, 1002)))
			setup_fail("route_setup", "routes and rules: %s", strerror(-err));
		if (write_file(LO_FORWARDING, "1"))
			setup_fail("route_setup", "writing %s: %s", LO_FORWARDING, strerror(errno));
	}
	g_cfg.flags = CLS_REDIRECT_F_ROUTE;

	/* Found: the default route out of lo, or a route of the hop's own. */
	e = enc(1, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("route_gue_v4_tcp", f, n, L3V4, L4T);
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gue("route_gue_v6_tcp", f, n, L3V6, L4T);
	e = enc(3, 1);
	e.udp_csum = 1;
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	gue("route_gue_v4_udp_checksum", f, n, L3V4, L4U);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	gue("route_gue_v6_udp_checksum", f, n, L3V6, L4U);
	e = enc(2, 0);
	set_hop(&e, 0, HOP_ON_LINK);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("route_gue_own_route", f, n, L3V4, L4T);
	e = enc(1, 0);
	e.priv_vflags = PRIV_F_LAST_HOP_GRE;
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gre("route_gre_v4_tcp", f, n, L3V4, L4T);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	gre("route_gre_v6_udp", f, n, L3V6, L4U);

	/* No way out: dropped as received, GUE and GRE. */
	for (i = 0; i < sizeof(dead) / sizeof(dead[0]); i++) {
		e = enc(2, 0);
		set_hop(&e, 0, dead[i].hop);
		n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
		drop(nm("route_%s", dead[i].name), f, n, M(ERR_NO_ROUTE), L3V4, L4T);
		e = enc(1, 0);
		set_hop(&e, 0, dead[i].hop);
		e.priv_vflags = PRIV_F_LAST_HOP_GRE;
		n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
		drop(nm("route_%s_gre", dead[i].name), f, n, M(ERR_NO_ROUTE), L3V6, L4U);
	}

	/* Policy routing: the lookup is from our encapsulation address. */
	e = enc(1, 0);
	set_hop(&e, 0, HOP_POLICY);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_rule_from_our_address_applies", f, n, M(ERR_NO_ROUTE), L3V4, L4T);
	set_hop(&e, 0, HOP_OTHER_SRC);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("route_rule_from_another_address_does_not", f, n, L3V4, L4T);

	/*
	 * fwmark rules: skb->mark is part of the lookup where the kernel takes
	 * BPF_FIB_LOOKUP_MARK (Linux 6.10).  An older one refuses the flag and
	 * the classifier looks up again without it: the rule cannot match
	 * there, and the packet is forwarded as if unmarked (tc-cls-redirect.8,
	 * ROUTE MODE).
	 */
	memset(&ctx, 0, sizeof(ctx));
	g_ctx = &ctx;
	e = enc(1, 0);
	set_hop(&e, 0, HOP_MARK);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	ctx.mark = MARK_RULE;
	if (kernel_at_least(6, 10))
		drop("route_fwmark_rule_applies_from_6_10", f, n, M(ERR_NO_ROUTE), L3V4, L4T);
	else
		gue("route_fwmark_rule_applies_from_6_10", f, n, L3V4, L4T);
	ctx.mark = MARK_RULE + 1;
	gue("route_fwmark_other_mark_no_rule", f, n, L3V4, L4T);
	ctx.mark = 0;
	gue("route_fwmark_no_mark_no_rule", f, n, L3V4, L4T);
	/* A marked packet is still looked up, on every kernel. */
	ctx.mark = MARK_RULE + 1;
	set_hop(&e, 0, HOP_BLACKHOLE);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_fwmark_marked_blackhole", f, n, M(ERR_NO_ROUTE), L3V4, L4T);
	e = enc(1, 0);
	e.priv_vflags = PRIV_F_LAST_HOP_GRE;
	set_hop(&e, 0, HOP_MARK);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	ctx.mark = MARK_RULE;
	if (kernel_at_least(6, 10))
		drop("route_fwmark_rule_applies_gre_from_6_10", f, n, M(ERR_NO_ROUTE), L3V6, L4U);
	else
		gre("route_fwmark_rule_applies_gre_from_6_10", f, n, L3V6, L4U);
	g_ctx = NULL;

	/* The hop checks and the mtu come first; no-forward wins; accepting
	 * is unchanged. */
	e = enc(2, 0);
	set_hop(&e, 0, "127.0.0.1");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_invalid_hop_before_lookup", f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	set_hop(&e, 0, OUR);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_own_address_before_lookup", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	e = enc(2, 0);
	set_hop(&e, 0, HOP_BLACKHOLE);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	g_cfg.mtu = (uint32_t)(n - 14 - 1);
	drop("route_mtu_before_lookup", f, n, M(ERR_ENCAP_MTU_VIOLATE), L3V4, L4T);
	e = enc(2, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_mtu_still_applies", f, n, M(ERR_ENCAP_MTU_VIOLATE), L3V4, L4T);
	g_cfg.mtu = (uint32_t)(n - 14);
	gue("route_mtu_equal_forward", f, n, L3V4, L4T);
	g_cfg.mtu = 0;
	g_cfg.flags = CLS_REDIRECT_F_ROUTE | CLS_REDIRECT_F_NO_FORWARD;
	acc("route_no_forward_wins", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	g_cfg.flags = CLS_REDIRECT_F_ROUTE;
	n = f_tcp(f, &e, 0, CLI4, P_EST_CLI, SRV4, P_EST, PKT_TCP_ACK);
	acc("route_established_accepted", f, n, M(ACCEPTED_ESTABLISHED), L3V4, L4T);
	e = enc(1, 1);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	acc("route_last_hop_accepted_v6", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4U);

	/* No route at all (the default route removed). */
	if (!list_only && (err = default_route_lo(0)))
		setup_fail("route_setup", "deleting the default route: %s", strerror(-err));
	e = enc(1, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_none", f, n, M(ERR_NO_ROUTE), L3V4, L4T);
	set_hop(&e, 0, HOP_ON_LINK);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("route_none_but_the_hops_own", f, n, L3V4, L4T);
	if (!list_only && (err = default_route_lo(1)))
		setup_fail("route_setup", "restoring the default route: %s", strerror(-err));

	/*
	 * bpf_fib_lookup() refuses any lookup "on" a device with forwarding off
	 * (FWD_DISABLED, checked before the lookup on 5.10 to 6.12), and the
	 * classifier looks up as the host does for its own packets, on lo:
	 * net.ipv4.conf.lo.forwarding must be 1 (tc-cls-redirect.8, ROUTE MODE).
	 */
	if (!list_only && write_file(LO_FORWARDING, "0"))
		setup_fail("route_setup", "writing %s: %s", LO_FORWARDING, strerror(errno));
	e = enc(1, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("route_lo_forwarding_off", f, n, M(ERR_NO_ROUTE), L3V4, L4T);
	g_cfg.flags = 0;
	gue("route_flag_off_lo_forwarding_off", f, n, L3V4, L4T);
	config_default();
}

/* ---------------------------------------------------------------------- */
/* environment: private netns, sockets                                     */

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = write(fd, val, strlen(val));
	close(fd);
	return r == (ssize_t)strlen(val) ? 0 : -1;
}

static int setup_netns(void)
{
	const char *what;
	char err[256];

	if (!harness_netns(1, &what, err, sizeof(err)))
		return 0;
	setup_fail(what, "%s", err);
	/* Without the default route only the SYN-received fixtures suffer. */
	return strcmp(what, "default_route") ? -1 : 0;
}

static socklen_t mkaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, addr, &s4->sin_addr);
	return sizeof(*s4);
}

static int sock_bound(const char *what, int type, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(addr, port, &ss);
	int one = 1, fd;

	fd = socket(ss.ss_family, type, 0);
	if (fd < 0) {
		setup_fail(what, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		setup_fail(what, "bind %s:%u: %s", addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int sock_connect(const char *what, int fd, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(addr, port, &ss);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&ss, len)) {
		setup_fail(what, "connect %s:%u: %s", addr, port, strerror(errno));
		return -1;
	}
	return fd;
}

static int tcp_listener(const char *what, const char *addr, uint16_t port)
{
	int fd = sock_bound(what, SOCK_STREAM, addr, port);

	if (fd >= 0 && listen(fd, 16)) {
		setup_fail(what, "listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits until /proc/net/tcp{,6} shows a socket in state st with these ports. */
static int tcp_state_wait(int v6, uint16_t lport, uint16_t rport, unsigned st)
{
	char line[512];
	int i;

	for (i = 0; i < 300; i++) {
		FILE *fp = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "r");
		unsigned lp, rp, s;
		int found = 0;

		if (!fp)
			return -1;
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x", &lp, &rp, &s) == 3 &&
			    lp == lport && rp == rport && s == st)
				found = 1;
		fclose(fp);
		if (found)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int send_raw_syn(const char *src, uint16_t sport, const char *dst, uint16_t dport,
			uint32_t seq)
{
	uint8_t l4[64], pkt[128];
	struct pkt_tcp t = pkt_tcp(sport, dport, PKT_TCP_SYN);
	struct pkt_ip ip = pkt_ip4(src, dst);
	struct sockaddr_storage ss;
	socklen_t sl = mkaddr(dst, 0, &ss);
	size_t n;
	int fd, r;

	t.seq = seq;
	n = pkt_tcp_build(l4, &t, NULL, 0);
	n = pkt_ip_build(pkt, &ip, IPPROTO_TCP, l4, n);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0)
		return -1;
	r = sendto(fd, pkt, n, 0, (struct sockaddr *)&ss, sl) == (ssize_t)n ? 0 : -1;
	close(fd);
	return r;
}

static void setup_sockets(void)
{
	char err[256];
	int l, c, a;

	/* Established, v4 and v6. */
	l = tcp_listener("tcp4_established", SRV4, P_EST);
	c = sock_connect("tcp4_established", sock_bound("tcp4_established", SOCK_STREAM, CLI4,
							 P_EST_CLI), SRV4, P_EST);
	if (l >= 0 && c >= 0 && accept(l, NULL, NULL) < 0)
		setup_fail("tcp4_established", "accept: %s", strerror(errno));
	l = tcp_listener("tcp6_established", SRV6, P_EST);
	c = sock_connect("tcp6_established", sock_bound("tcp6_established", SOCK_STREAM, CLI6,
							 P_EST_CLI), SRV6, P_EST);
	if (l >= 0 && c >= 0 && accept(l, NULL, NULL) < 0)
		setup_fail("tcp6_established", "accept: %s", strerror(errno));

	/* A listener that never sees a SYN. */
	tcp_listener("tcp4_listener", SRV4, P_LISTEN);

	/* SYN-received: no cookies, a SYN from a peer whose SYN-ACK leaves
	 * through the default route and is never answered. */
	if (write_file("/proc/sys/net/ipv4/tcp_syncookies", "0"))
		setup_fail("syncookies_0", "writing net.ipv4.tcp_syncookies: %s", strerror(errno));
	l = tcp_listener("tcp4_syn_received", SRV4, P_SYNRECV);
	if (l >= 0) {
		if (send_raw_syn(SYNRECV_PEER, P_SYNRECV_CLI, SRV4, P_SYNRECV, 5000))
			setup_fail("tcp4_syn_received", "raw SYN: %s", strerror(errno));
		else if (tcp_state_wait(0, P_SYNRECV, P_SYNRECV_CLI, 3 /* TCP_SYN_RECV */))
			setup_fail("tcp4_syn_received", "no request socket %s:%u <- %s:%u after 3 s",
				   SRV4, P_SYNRECV, SYNRECV_PEER, P_SYNRECV_CLI);
	}

	/* TIME_WAIT on the server side: it closes first. */
	l = tcp_listener("tcp4_time_wait", SRV4, P_TW);
	c = sock_connect("tcp4_time_wait", sock_bound("tcp4_time_wait", SOCK_STREAM, CLI4, P_TW_CLI),
			 SRV4, P_TW);
	a = l >= 0 && c >= 0 ? accept(l, NULL, NULL) : -1;
	if (a >= 0) {
		char buf[16];

		close(a);
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
		if (tcp_state_wait(0, P_TW, P_TW_CLI, 6 /* TCP_TIME_WAIT */))
			setup_fail("tcp4_time_wait", "no TIME_WAIT socket %s:%u after 3 s", SRV4, P_TW);
	} else {
		setup_fail("tcp4_time_wait", "no connection");
	}

	/* SYN cookie: always send cookies, capture the SYN-ACK. */
	l = tcp_listener("tcp4_syn_cookie", SRV4, P_COOKIE);
	if (l >= 0 && harness_syn_cookie(COOKIE_PEER, P_COOKIE_CLI, SRV4, P_COOKIE, COOKIE_ISN, &cookie_synack_seq,
					 err, sizeof(err)))
		setup_fail("tcp4_syn_cookie", "%s", err);

	/* UDP: connected (v4, v6) and bound only. */
	sock_connect("udp4_connected", sock_bound("udp4_connected", SOCK_DGRAM, SRV4, P_UDP_CONN),
		     CLI4, P_UDP_CONN_CLI);
	sock_connect("udp6_connected", sock_bound("udp6_connected", SOCK_DGRAM, SRV6, P_UDP_CONN),
		     CLI6, P_UDP_CONN_CLI);
	sock_bound("udp4_bound", SOCK_DGRAM, SRV4, P_UDP_BOUND);
	sock_bound("udp6_bound", SOCK_DGRAM, SRV6, P_UDP_BOUND);
	/* Sockets stay open until exit. */
}

/* ---------------------------------------------------------------------- */

/*
 * The service namespace: a pod (harness_pod) of the private namespace
 * holding the sockets of the svc_ fixtures, behind the veth pair SVC_VETH
 * (here) - SVC_PEER (there), with the netnsid the kernel gives it in our
 * namespace (IFLA_LINK_NETNSID, as ip link shows it).  A second pod's veth
 * is made and deleted for the "pod gone" fixtures.
 */
/* The ip of iproute2: $CLS_REDIRECT_IP in the kernel matrix's guest, whose
 * shell would otherwise pick busybox's applet. */
static const char *ip_cmd(void)
{
	const char *ip = getenv("CLS_REDIRECT_IP");

	return ip && *ip ? ip : "ip";
}

static void services_sockets(void *unused)
{
	int l, c;

	l = tcp_listener("svc_tcp4", SRV4, P_SVC);
	c = sock_connect("svc_tcp4", sock_bound("svc_tcp4", SOCK_STREAM, CLI4, P_SVC_CLI), SRV4, P_SVC);
	if (l >= 0 && c >= 0 && accept(l, NULL, NULL) < 0)
		setup_fail("svc_tcp4", "accept: %s", strerror(errno));
	l = tcp_listener("svc_tcp6", SRV6, P_SVC);
	c = sock_connect("svc_tcp6", sock_bound("svc_tcp6", SOCK_STREAM, CLI6, P_SVC_CLI), SRV6, P_SVC);
	if (l >= 0 && c >= 0 && accept(l, NULL, NULL) < 0)
		setup_fail("svc_tcp6", "accept: %s", strerror(errno));
	l = tcp_listener("svc_tcp6_any", SRV6, P_SVC_ANY);
	c = sock_connect("svc_tcp6_any", sock_bound("svc_tcp6_any", SOCK_STREAM, CLI6, P_SVC_ANY_CLI), SRV6,
			 P_SVC_ANY);
	if (l >= 0 && c >= 0 && accept(l, NULL, NULL) < 0)
		setup_fail("svc_tcp6_any", "accept: %s", strerror(errno));
	sock_connect("svc_udp4", sock_bound("svc_udp4", SOCK_DGRAM, SRV4, P_SVC_UDP), CLI4, P_SVC_UDP_CLI);
	sock_connect("svc_udp6", sock_bound("svc_udp6", SOCK_DGRAM, SRV6, P_SVC_UDP), CLI6, P_SVC_UDP_CLI);
}

static void setup_services(void)
{
	char err[256];
	int gone_netnsid;

	if (harness_pod(SVC_VETH, SVC_PEER, services_sockets, NULL, &svc_ifindex, &svc_netnsid, err, sizeof(err)))
		setup_fail("services_netns", "%s", err);
	if (harness_pod(SVC_GONE, "crsvc3", NULL, NULL, &svc_gone_ifindex, &gone_netnsid, err, sizeof(err)))
		setup_fail("services_veth", "%s", err);
	else if (harness_sh("%s link del " SVC_GONE, ip_cmd()))
		setup_fail("services_veth", "ip link del %s failed", SVC_GONE);
}

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: test_prog_run [-v] [-l] [NAME_OR_GLOB...]\n"
		"  Runs the BPF_PROG_TEST_RUN fixtures of obj/cls_redirect_btf.o (or $CLS_REDIRECT_OBJ)\n"
		"  in a private network namespace; must run as root from the repository root.\n"
		"  -v  hexdump input, expected and actual output\n"
		"  -l  list the fixture names\n");
}

/* After a full run: every counter must have moved in some fixture (every
 * counter of tc-cls-redirect.8, METRICS, is exercised). */
static void check_coverage(void)
{
	int i;

	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		if (moved[i])
			continue;
#ifdef CLS_REDIRECT_TEST_EXTRA_COUNTER
		if (i == M(TEST_EXTRA))
			continue; /* must never move: no decision names it */
#endif
		if (H.xdp && i == M(ERR_ENCAP_ADJUST_FAILED)) {
			/* Only the GSO fixtures move it in tc.  bpf_xdp_adjust_head()
			 * refuses to leave less than an Ethernet header, and a
			 * valid inner packet is longer than that. */
			printf("# note: xdp:%s is not exercised: bpf_xdp_adjust_head() cannot fail on "
			       "a packet the core accepted or forwards\n", metric_names[i]);
			continue;
		}
		if (H.xdp && i == M(ERR_NO_ROUTE)) {
			/* Route mode is the tc flavour's: with it, XDP hands every
			 * packet up uncounted (the route_* fixtures check that). */
			printf("# note: xdp:%s is not exercised: route mode forwards in tc only\n",
			       metric_names[i]);
			continue;
		}
		if (i == M(ERR_ENCAP_BUFFER_TOO_SMALL)) {
			/* Only a failing bpf_skb_pull_data() (out of memory) moves
			 * it; BPF_PROG_TEST_RUN skbs are linear and writable, and
			 * this kernel has no fault injection.  Not a test: a note. */
			printf("# note: %s is not exercised: only an allocation failure in "
			       "bpf_skb_pull_data() moves it\n", metric_names[i]);
			continue;
		}
		printf("FAIL coverage_%s: no fixture moved this counter\n", metric_names[i]);
		n_fail++;
	}
}

/* ---------------------------------------------------------------------- */
/* services (tc-cls-redirect.8, CONTAINERS)                                */

static int svc_put(int v6, const char *addr, uint8_t proto, uint16_t port, int ifindex, int netnsid)
{
	struct cls_redirect_service_key k = { .family = v6 ? 6 : 4, .proto = proto, .port = htons(port) };
	struct cls_redirect_service v = { .netnsid = (uint32_t)netnsid, .ifindex = (uint32_t)ifindex };
	struct bpf_map *map = bpf_object__find_map_by_name(H.obj, CLS_REDIRECT_SERVICES_MAP);

	inet_pton(v6 ? AF_INET6 : AF_INET, addr, k.addr);
	if (!map || bpf_map_update_elem(bpf_map__fd(map), &k, &v, BPF_ANY)) {
		setup_fail("services_map", "cannot write %s: %s", CLS_REDIRECT_SERVICES_MAP, strerror(errno));
		return -1;
	}
	return 0;
}

static void svc_clear(void)
{
	struct bpf_map *map = bpf_object__find_map_by_name(H.obj, CLS_REDIRECT_SERVICES_MAP);
	struct cls_redirect_service_key k;

	while (map && !bpf_map_get_next_key(bpf_map__fd(map), NULL, &k))
		if (bpf_map_delete_elem(bpf_map__fd(map), &k))
			break;
}

static void fx_services(void)
{
	uint8_t f[PKT_MAX], q[PKT_MAX];
	struct pkt_encap e = enc(1, 0), last = enc(1, 1);
	size_t n, qn;
	int v6;

	if (!list_only && (svc_ifindex <= 0 || svc_netnsid < 0)) {
		setup_fail("services", "no service namespace (see setup_services above)");
		return;
	}
	if (!list_only) {
		svc_clear();
		svc_put(0, SRV4, IPPROTO_TCP, P_SVC, svc_ifindex, svc_netnsid);
		svc_put(1, SRV6, IPPROTO_TCP, P_SVC, svc_ifindex, svc_netnsid);
		svc_put(0, SRV4, IPPROTO_UDP, P_SVC_UDP, svc_ifindex, svc_netnsid);
		svc_put(1, SRV6, IPPROTO_UDP, P_SVC_UDP, svc_ifindex, svc_netnsid);
		/* Every TCP port of SRV6, and every UDP port of SRV4 (echo). */
		svc_put(1, SRV6, IPPROTO_TCP, 0, svc_ifindex, svc_netnsid);
		svc_put(0, SRV4, IPPROTO_UDP, 0, svc_ifindex, svc_netnsid);
		/* A pod that is gone: its veth was deleted. */
		svc_put(0, FAR4, IPPROTO_TCP, 0, svc_gone_ifindex, svc_netnsid);
		/* Port 0 of SRV4 TCP points at the gone veth; the specific
		 * port P_SVC above must win. */
		svc_put(0, SRV4, IPPROTO_TCP, 0, svc_gone_ifindex, svc_netnsid);
	}
	/* Listed, but the configuration does not say so (the tools keep the
	 * flag true): the classifier does not look services up. */
	n = f_tcp(f, &e, 0, CLI4, P_SVC_CLI, SRV4, P_SVC, PKT_TCP_ACK);
	gue("svc_flag_off_not_looked_up", f, n, L3V4, L4T);
	g_cfg.flags |= CLS_REDIRECT_F_SERVICES | CLS_REDIRECT_F_SERVICES_ANY_PORT;
	for (v6 = 0; v6 < 2; v6++) {
		const int l3 = v6 ? L3V6 : L3V4;
		const char *srv = v6 ? SRV6 : SRV4, *cli = v6 ? CLI6 : CLI4, *far = v6 ? FAR6 : FAR4;
		const char *vs = v6 ? "v6" : "v4";

		/* Established only in the service namespace. */
		n = f_tcp(f, &e, v6, cli, P_SVC_CLI, srv, P_SVC, PKT_TCP_ACK);
		svc(nm("svc_tcp_%s_established", vs), f, n, M(ACCEPTED_ESTABLISHED), l3, L4T);
		n = f_tcp(f, &e, v6, far, P_CLI, srv, P_SVC, PKT_TCP_ACK);
		gue(nm("svc_tcp_%s_unknown", vs), f, n, l3, L4T);
		n = f_tcp(f, &e, v6, far, P_CLI, srv, P_SVC, PKT_TCP_SYN);
		svc(nm("svc_tcp_%s_syn", vs), f, n, M(ACCEPTED_SYN), l3, L4T);
		n = f_tcp(f, &last, v6, far, P_CLI, srv, P_SVC, PKT_TCP_ACK);
		svc(nm("svc_tcp_%s_last_hop", vs), f, n, M(ACCEPTED_LAST_HOP), l3, L4T);
		n = f_udp(f, &e, v6, cli, P_SVC_UDP_CLI, srv, P_SVC_UDP);
		svc(nm("svc_udp_%s_connected", vs), f, n, M(ACCEPTED_ESTABLISHED), l3, L4U);
		n = f_udp(f, &e, v6, far, P_CLI, srv, P_SVC_UDP);
		gue(nm("svc_udp_%s_unknown", vs), f, n, l3, L4U);
		n = f_udp(f, &last, v6, far, P_CLI, srv, P_SVC_UDP);
		svc(nm("svc_udp_%s_last_hop", vs), f, n, M(ACCEPTED_LAST_HOP), l3, L4U);
		/* TCP port 0 of both addresses is listed: the host's own
		 * established socket on P_EST is looked up in the service
		 * namespace, where it does not exist. */
		n = f_tcp(f, &e, v6, cli, P_EST_CLI, srv, P_EST, PKT_TCP_ACK);
		gue(nm("svc_tcp_%s_port0_hides_host_socket", vs), f, n, l3, L4T);
		/* Frag-needed / packet-too-big quoting the service's flow. */
		qn = q_tcp(q, v6, srv, P_SVC, cli, P_SVC_CLI);
		n = f_icmp(f, &e, v6, v6 ? 2 : 3, v6 ? 0 : 4, 1400, q, qn);
		svc(nm("svc_icmp_%s_pmtu_tcp_established", vs), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
		qn = q_udp(q, v6, srv, P_SVC_UDP, cli, P_SVC_UDP_CLI);
		n = f_icmp(f, &e, v6, v6 ? 2 : 3, v6 ? 0 : 4, 1400, q, qn);
		svc(nm("svc_icmp_%s_pmtu_udp_connected", vs), f, n, M(ACCEPTED_ESTABLISHED), l3, L4I);
	}
	/* Port 0: every TCP port of SRV6. */
	n = f_tcp(f, &e, 1, CLI6, P_SVC_ANY_CLI, SRV6, P_SVC_ANY, PKT_TCP_ACK);
	svc("svc_tcp_v6_port0_established", f, n, M(ACCEPTED_ESTABLISHED), L3V6, L4T);
	/* Echo requests go where the address's port-0 entry says. */
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, (const uint8_t *)payload, 5);
	/* TCP before UDP: SRV4's port-0 TCP entry is the gone pod. */
	drop("svc_icmp_v4_echo_request_tcp_port0_gone", f, n, M(ERR_SERVICE_GONE), L3V4, L4I);
	n = f_icmp(f, &e, 1, 128, 0, 0x00010001, (const uint8_t *)payload, 5);
	svc("svc_icmp_v6_echo_request_tcp_port0", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V6, L4I);
	/* The gone pod: accepted packets dropped and counted, the others
	 * forwarded as unknown flows, nothing delivered to the host. */
	n = f_tcp(f, &e, 0, SYNRECV_PEER, P_CLI, FAR4, P_SVC, PKT_TCP_SYN);
	drop("svc_gone_tcp_syn", f, n, M(ERR_SERVICE_GONE), L3V4, L4T);
	n = f_tcp(f, &last, 0, SYNRECV_PEER, P_CLI, FAR4, P_SVC, PKT_TCP_ACK);
	drop("svc_gone_tcp_last_hop", f, n, M(ERR_SERVICE_GONE), L3V4, L4T);
	n = f_tcp(f, &e, 0, SYNRECV_PEER, P_CLI, FAR4, P_SVC, PKT_TCP_ACK);
	gue("svc_gone_tcp_unknown_forwarded", f, n, L3V4, L4T);
	/* A listed address, unlisted protocol and port: as today. */
	n = f_udp(f, &last, 1, FAR6, P_CLI, SRV6, P_NONE);
	acc("svc_udp_v6_not_listed_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V6, L4U);
	if (!list_only)
		svc_clear();
	config_default();
}

/*
 * The trust lists (tc-cls-redirect.8, SECURITY): the outer source of every
 * GUE packet for us must be in cls_redirect_sources, checked right after the
 * outer IPv4 and UDP headers; every next hop (GUE or GRE) in
 * cls_redirect_hops, after the unicast and own-address checks.
 */
static void fx_trust(void)
{
	uint8_t f[PKT_MAX];
	struct pkt_encap e;
	size_t n;

	/* Empty source list: nothing is trusted, whatever the packet holds. */
	g_sources = "";
	e = enc(0, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_sources_empty_last_hop", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	n = f_icmp(f, &e, 1, 128, 0, 0x00010001, NULL, 0);
	drop("trust_sources_empty_echo_v6", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	e = enc(2, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	drop("trust_sources_empty_syn", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_sources_empty_forward", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	e.gue_flags = 1; /* malformed GUE: the source check comes first */
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_sources_empty_malformed_gue", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	e = enc(2, 5); /* next_hop > hop_count */
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_sources_empty_invalid_next_hop", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	e = enc(0, 0);
	e.frag = 0x2000; /* outer checks come before it */
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_sources_empty_outer_fragment", f, n, M(ERR_FRAGMENTED_OUTER_IP), NO, NO);
	e = enc(0, 0);
	e.dport = PORT + 1; /* not ours: passed, not judged */
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	pass("trust_sources_empty_other_port", f, n);

	/* The director alone (/32), or its network; another source is refused. */
	g_sources = DIRECTOR "/32";
	e = enc(0, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	acc("trust_sources_32_listed_last_hop", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	e = enc(2, 0);
	n = f_udp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE);
	gue("trust_sources_32_listed_forward_v6", f, n, L3V6, L4U);
	inet_pton(AF_INET, "192.0.2.2", e.saddr);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_sources_32_neighbour_refused", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	/* Longest prefix: 192.0.2.0/31 holds .0 and .1, not .2; a /24 of
	 * another network changes nothing. */
	g_sources = "198.51.100.0/24 192.0.2.0/31";
	e = enc(0, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	acc("trust_sources_31_listed_syn", f, n, M(ACCEPTED_SYN), L3V4, L4T);
	inet_pton(AF_INET, "192.0.2.2", e.saddr);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_SYN);
	drop("trust_sources_31_outside", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	inet_pton(AF_INET, "198.51.100.77", e.saddr);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	acc("trust_sources_24_listed_echo", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);
	g_sources = "0.0.0.0/0";
	inet_pton(AF_INET, "203.0.113.200", e.saddr);
	n = f_icmp(f, &e, 0, 8, 0, 0x00010001, NULL, 0);
	acc("trust_sources_0_everyone", f, n, M(ACCEPTED_ICMP_ECHO_REQUEST), L3V4, L4I);

	/* Hops: enc() writes 198.51.100.1..N. */
	g_sources = DIRECTOR "/32";
	g_hops = "";
	e = enc(2, 0);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_hops_empty_gue", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4U);
	e.priv_vflags = PRIV_F_LAST_HOP_GRE;
	e.next_hop = 1;
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_hops_empty_gre", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4U);
	e = enc(2, 2);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	acc("trust_hops_empty_last_hop_accepted", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4U);
	g_hops = "198.51.100.2/32";
	e = enc(3, 1);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("trust_hops_32_listed_gue", f, n, L3V4, L4T);
	e = enc(3, 2);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_hops_32_other_hop", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4T);
	e = enc(2, 1);
	e.priv_vflags = PRIV_F_LAST_HOP_GRE;
	n = f_tcp(f, &e, 1, FAR6, P_CLI, SRV6, P_NONE, PKT_TCP_ACK);
	gre("trust_hops_32_listed_gre_v6", f, n, L3V6, L4T);
	g_hops = "198.51.100.0/30";
	e = enc(4, 2);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("trust_hops_30_listed", f, n, L3V4, L4T);
	e = enc(4, 3);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_hops_30_outside", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4T);
	/* Never-valid hops keep their own counter, listed or not. */
	g_hops = "0.0.0.0/0";
	e = enc(2, 1);
	set_hop(&e, 1, "127.0.0.1");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_hops_0_loopback_invalid", f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	set_hop(&e, 1, OUR);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_hops_0_own_address_loop", f, n, M(ERR_REDIRECT_LOOP), L3V4, L4T);
	set_hop(&e, 1, "203.0.113.9");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	gue("trust_hops_0_everyone", f, n, L3V4, L4T);
	g_hops = "198.51.100.0/24";
	set_hop(&e, 1, "224.0.0.5");
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	drop("trust_hops_unlisted_multicast_invalid", f, n, M(ERR_INVALID_HOP), L3V4, L4T);
	/* The hop check comes before the mtu check. */
	g_hops = "";
	g_cfg.mtu = 68;
	e = enc(2, 0);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	drop("trust_hops_empty_before_mtu", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4U);
	config_default();

	/* What the classifier remembers of the lists: an address found listed
	 * is believed without the trie until trust_gen moves on, which
	 * cls-redirect-config does after every delete (harness_set_list as
	 * well); then it is refused at once. */
	g_sources = DIRECTOR "/32 203.0.113.0/24";
	e = enc(0, 0);
	n = f_tcp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE, PKT_TCP_ACK);
	acc("trust_remembered_source_found", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	acc("trust_remembered_source_again", f, n, M(ACCEPTED_LAST_HOP), L3V4, L4T);
	g_sources = "203.0.113.0/24";
	drop("trust_remembered_source_deleted", f, n, M(ERR_UNTRUSTED_SOURCE), NO, NO);
	g_sources = DIRECTOR "/32";
	g_hops = "198.51.100.1/32 198.51.100.2/32";
	e = enc(2, 0);
	n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	gue("trust_remembered_hop_found", f, n, L3V4, L4U);
	gue("trust_remembered_hop_again", f, n, L3V4, L4U);
	g_hops = "198.51.100.2/32";
	drop("trust_remembered_hop_deleted", f, n, M(ERR_FORBIDDEN_HOP), L3V4, L4U);
	/* Only trust_gen makes it forget: a prefix deleted behind the tools'
	 * back (as here) is still believed for an address found before, which
	 * is why the man page says to edit the lists with cls-redirect-config.
	 * This also shows that the remembering is there at all. */
	g_hops = "198.51.100.1/32";
	gue("trust_remembered_hop_found_2", f, n, L3V4, L4U);
	if (!list_only && selected("trust_remembered_without_new_gen")) {
		struct cls_redirect_prefix k = { .prefixlen = 32 };
		uint8_t out[2 * PKT_MAX];
		size_t out_len;
		uint32_t ret;

		/* Found once (again, should a filter have skipped the fixture
		 * above), then deleted behind the harness's back. */
		inet_pton(AF_INET, "198.51.100.1", &k.addr);
		if (write_config() || harness_run(&H, f, n, out, sizeof(out), &out_len, &ret, NULL))
			setup_fail("trust_remembered", "%s", H.err);
		else if (bpf_map_delete_elem(H.hops_fd, &k))
			setup_fail("trust_remembered", "deleting 198.51.100.1/32: %s", strerror(errno));
	}
	gue("trust_remembered_without_new_gen", f, n, L3V4, L4U);
	H.hops_list[0] = 0; /* the list is not what the harness wrote any more */
	g_hops = "198.51.100.1/32";
	gue("trust_remembered_listed_again", f, n, L3V4, L4U);
	config_default();
}

/*
 * XDP only: a frame whose metadata already carries the mark was decided by
 * an earlier copy of the XDP flavour (two copies in one xdp-loader
 * dispatcher while one replaces the other: tc-cls-redirect.8, XDP).  It is
 * passed up as it is and counted by neither, so each packet is counted once.
 * The same frame without the mark is forwarded (XDP_TX) first.
 */
static void fx_xdp_marked(void)
{
	static const char name[] = "xdp_marked_by_an_earlier_copy";
	uint64_t before[CLS_REDIRECT_METRIC_COUNT], after[CLS_REDIRECT_METRIC_COUNT];
	uint8_t f[PKT_MAX], in[PKT_MAX + 4], out[2 * PKT_MAX + 4];
	struct xdp_md md = { .data = 4 }, md_out = { 0 };
	uint32_t mark = CLS_REDIRECT_XDP_MARK;
	struct pkt_encap e = enc(2, 0);
	size_t n = f_udp(f, &e, 0, FAR4, P_CLI, SRV4, P_NONE);
	LIBBPF_OPTS(bpf_test_run_opts, o);
	const char *bad = NULL;
	int i;

	if (!H.xdp)
		return;
	gue("xdp_unmarked_forwarded", f, n, L3V4, L4U);
	if (!selected(name))
		return;
	if (list_only) {
		printf("%s\n", name);
		return;
	}
	memcpy(in, &mark, 4);
	memcpy(in + 4, f, n);
	md.data_end = (__u32)(n + 4);
	o.data_in = in;
	o.data_size_in = (__u32)(n + 4);
	o.data_out = out;
	o.data_size_out = sizeof(out);
	o.ctx_in = &md;
	o.ctx_size_in = sizeof(md);
	o.ctx_out = &md_out;
	o.ctx_size_out = sizeof(md_out);
	o.repeat = 1;
	if (write_config() || read_metrics(before)) {
		setup_fail("xdp_marked", "%s", H.err);
		return;
	}
	if (bpf_prog_test_run_opts(H.prog_fd, &o)) {
		if (errno == EINVAL) {
			printf("# xdp:%s not run: this kernel takes no metadata in test runs "
			       "(xdp_md, Linux 5.13)\n", name);
			return;
		}
		bad = "BPF_PROG_TEST_RUN failed";
	} else if (read_metrics(after)) {
		bad = "cannot read the counters";
	} else if (o.retval != XDP_PASS) {
		bad = "not XDP_PASS";
	} else if (md_out.data != 4 || o.data_size_out != n + 4 || memcmp(out, in, n + 4)) {
		bad = "the frame or its metadata changed";
	} else {
		for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
			if (after[i] != before[i])
				bad = "a counter moved";
	}
	n_run++;
	if (bad) {
		printf("FAIL xdp:%s: %s (retval %u)\n", name, bad, o.retval);
		n_fail++;
	} else {
		printf("PASS xdp:%s\n", name);
		n_pass++;
	}
}

static void run_all(void)
{
	config_default();
	fx_pass();
	fx_outer();
	fx_encap();
	fx_inner_ip();
	fx_tcp();
	fx_udp();
	fx_icmp();
	fx_forward();
	fx_gre();
	fx_route();
	fx_services();
	fx_trust();
	fx_xdp_marked();
}

int main(int argc, char **argv)
{
	const char *path = getenv("CLS_REDIRECT_OBJ");
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else if (!strcmp(argv[i], "-l")) {
			list_only = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 1;
		} else {
			break;
		}
	}
	filters = argv + i;
	n_filters = argc - i;
	inet_pton(AF_INET, OUR, our_addr);

	if (list_only) {
		run_all();
		return 0;
	}
	if (!path)
#ifdef CLS_REDIRECT_TEST_EXTRA_COUNTER
		path = "selftests/cls_redirect_extra.o";
#else
		path = "obj/cls_redirect_btf.o";
#endif
	if (setup_netns())
		return 1;
	setup_sockets();
	setup_services();
	if (load(path))
		return 1;
	run_all();
	if (!n_run) {
		fprintf(stderr, "test_prog_run: no fixture matches the names given (-l lists them)\n");
		return 1;
	}
	if (!n_filters)
		check_coverage();
	printf("# %d fixtures: %d passed, %d failed\n", n_run, n_pass, n_run - n_pass);
	return n_fail ? 1 : 0;
}
