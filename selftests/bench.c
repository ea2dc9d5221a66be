// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench: the measuring half of `make bench` (selftests/bench.sh drives it).
 *
 *   bench run [-n SAMPLES] [-p PASSES] [-o JSON] [-O OBJ] [-F FLOOR_OBJ] [-P PARTS_OBJ]
 *	Per-packet cost of every packet class through BPF_PROG_TEST_RUN,
 *	next to an empty tc program (selftests/floor.bpf.o), and of the parts
 *	(selftests/parts.bpf.o), in PASSES passes (5) of SAMPLES runs (5000);
 *	plus verifier cost, program sizes and load time of OBJ
 *	(obj/cls_redirect_btf.o).
 *   bench gen IFNAME CLASS SECONDS DSTMAC [CPORT SPORT]
 *	Real traffic: transmit CLASS frames out of IFNAME for SECONDS with
 *	selftests/xdpgen.bpf.o (XDP live frames); prints "sent N ns".
 *   bench proginfo PROG_ID
 *	Print "verified_insns xlated_bytes jited_bytes run_time_ns run_cnt".
 *   bench tcpflow
 *	Hold an established TCP connection on 127.0.0.1 (in the current
 *	namespace) and print "CPORT SPORT"; runs until killed.
 *
 * Method of `run`:
 *  - unshare(CLONE_NEWNET) first: the known-flow socket, and every socket
 *    lookup the classifier makes, live in a private namespace with only lo.
 *  - Both programs are loaded with libbpf with pinning cleared on every map:
 *    nothing touches bpffs.
 *  - One packet per run (repeat = 1): the kernel builds a fresh skb from
 *    data_in on every call, so the program always sees the original packet
 *    (with repeat > 1 it would see its own rewrite from the run before).
 *    opts.duration is then the kernel's own ktime around that single run.
 *  - Runs alternate floor, classifier, floor, classifier... on the same
 *    packet, and classes are interleaved round by round (each round starting
 *    one class further on), so drift on a shared machine hits every figure
 *    alike.  The process is pinned to one CPU.
 *  - Ratios are to the floor runs of all classes and parts together (the
 *    same empty program every time): more samples, and none of the few-ns
 *    offsets one packet's floor runs alone show on a coarse clock.  A random
 *    wait of up to about 60 ns before each run keeps the clock's steps from
 *    rounding one packet's runs the same way every time (see dither()).
 *  - Before timing, every class is run once and its verdict and the one
 *    outcome counter it moves are checked: a class that takes a different
 *    path than its name says aborts the benchmark.
 *  - The parts (selftests/parts.bpf.o: one helper, adjust_room, redirect,
 *    socket lookup hit and miss, each alone in a program) run in the same
 *    rounds on the frames of classes, so each class with a target splits
 *    into the calls it cannot do without and the classifier's own work.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "harness.h"
#include "pkt.h"

#define SRV_ADDR "192.0.2.1"
#define DIRECTOR "198.51.100.10"
#define CLIENT "203.0.113.5"
#define VIP "198.51.100.80"
#define CLIENT6 "2001:db8:c::5"
#define VIP6 "2001:db8:f::80"
#define GUE_PORT CLS_REDIRECT_GLB_PORT
#define TC_ACT_UNSPEC_RET 0xffffffffu

/* The address of the known flow: both ends on 127.0.0.1. */
struct flowports {
	uint16_t cport, sport;
};

struct pkt_class {
	const char *name;
	const char *what;
	unsigned int retval;
	int counter;      /* outcome counter the packet must move */
	double target;    /* ratio to the floor; 0 = none */
	double selftest;  /* the kernel selftest's ratio, for scale; 0 = n/a */
};

enum {
	C_NOT_OURS, C_OTHER_PORT, C_LAST_HOP4, C_LAST_HOP6, C_KNOWN_TCP, C_SYN,
	C_FWD, C_FWD_1, C_FWD_30, C_FWD_LISTENER, C_GRE, C_ICMP_PMTU, C_MALFORMED,
	C_COUNT
};

#define MC(id) CLS_REDIRECT_METRIC_##id
static const struct pkt_class classes[C_COUNT] = {
	[C_NOT_OURS] = { "not_ours", "plain TCP, not to the GUE endpoint", TC_ACT_UNSPEC_RET, MC(PASSED), 1.2, 1.4 },
	[C_OTHER_PORT] = { "other_port", "GUE to another UDP port", TC_ACT_UNSPEC_RET, MC(PASSED), 0, 0 },
	[C_LAST_HOP4] = { "last_hop_v4", "last hop accept, inner IPv4 TCP", TC_ACT_OK,
			  MC(ACCEPTED_LAST_HOP), 2.2, 2.7 },
	[C_LAST_HOP6] = { "last_hop_v6", "last hop accept, inner IPv6 TCP", TC_ACT_REDIRECT,
			  MC(ACCEPTED_LAST_HOP), 2.2, 2.7 },
	[C_KNOWN_TCP] = { "known_tcp", "established TCP flow accept (N=1)", TC_ACT_OK,
			  MC(ACCEPTED_ESTABLISHED), 3.8, 4.7 },
	[C_SYN] = { "syn", "SYN accept (N=1)", TC_ACT_OK, MC(ACCEPTED_SYN), 0, 0 },
	[C_FWD] = { "forward", "unknown flow forward, GUE (N=2)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 3.8, 4.8 },
	[C_FWD_1] = { "forward_hops1", "unknown flow forward, GUE (N=1)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 0, 0 },
	[C_FWD_30] = { "forward_hops30", "unknown flow forward, GUE (N=30)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 0, 0 },
	[C_FWD_LISTENER] = { "forward_listener", "unknown flow to a listening port, GUE (N=1)", TC_ACT_REDIRECT,
			     MC(FORWARDED_GUE), 0, 0 },
	[C_GRE] = { "gre", "last-hop GRE forward (N=1)", TC_ACT_REDIRECT, MC(FORWARDED_GRE), 6.0, 7.3 },
	[C_ICMP_PMTU] = { "icmp_pmtu", "ICMP frag-needed quoting the known flow (N=1)", TC_ACT_OK,
			  MC(ACCEPTED_ESTABLISHED), 0, 0 },
	[C_MALFORMED] = { "malformed", "GUE hlen != 1 + hop count: drop", TC_ACT_SHOT,
			  MC(ERR_MALFORMED_ENCAPSULATION), 0, 0 },
};

/*
 * The kernel calls the paths are built from (selftests/parts.bpf.c), each
 * timed alone on the frame of a class, in the same rounds as the classes.
 */
struct part {
	const char *name;  /* short name in the table */
	const char *prog;  /* program in parts.bpf.o */
	const char *what;
	int cls;           /* the class whose frame it runs on */
	unsigned int retval;
};

enum { P_CALL, P_DECAP, P_REDIRECT, P_HIT, P_MISS, P_COUNT };

static const struct part parts[P_COUNT] = {
	[P_CALL] = { "call", "part_call", "a helper that does nothing (bpf_csum_level query): call and return",
		     C_LAST_HOP4, TC_ACT_OK },
	[P_DECAP] = { "decap", "part_decap", "bpf_skb_adjust_room, MAC mode, 40 bytes off (N=1)", C_LAST_HOP4,
		      TC_ACT_OK },
	[P_REDIRECT] = { "redirect", "part_redirect", "bpf_redirect", C_LAST_HOP6, TC_ACT_REDIRECT },
	[P_HIT] = { "lookup_hit", "part_lookup", "bpf_skc_lookup_tcp + bpf_sk_release, established socket",
		    C_KNOWN_TCP, TC_ACT_OK },
	[P_MISS] = { "lookup_miss", "part_lookup", "bpf_skc_lookup_tcp finding no socket", C_FWD_1,
		     TC_ACT_UNSPEC_RET },
};

/* The parts a class cannot do without, for the classes with a target.  A
 * GUE forward with a zero UDP checksum also calls bpf_csum_update, which
 * keeps a CHECKSUM_COMPLETE sum true and does nothing otherwise: one call. */
#define PART(p) (1u << (p))
static const struct split {
	int cls;
	unsigned int parts;
} splits[] = {
	{ C_NOT_OURS, 0 },
	{ C_LAST_HOP4, PART(P_DECAP) },
	{ C_LAST_HOP6, PART(P_DECAP) | PART(P_REDIRECT) },
	{ C_KNOWN_TCP, PART(P_HIT) | PART(P_DECAP) },
	{ C_SYN, PART(P_DECAP) },
	{ C_FWD, PART(P_MISS) | PART(P_REDIRECT) | PART(P_CALL) },
};
#define SPLIT_COUNT (int)(sizeof(splits) / sizeof(splits[0]))
#define U_COUNT (C_COUNT + P_COUNT)

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "bench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

/* ------------------------------------------------------------ packets -- */

static struct pkt_encap encap(int n_hops, int next_hop)
{
	struct pkt_encap e = pkt_encap(DIRECTOR, SRV_ADDR, GUE_PORT);
	int i;

	e.n_hops = n_hops;
	e.next_hop = (uint8_t)next_hop;
	for (i = 0; i < n_hops; i++) {
		uint8_t hop[4] = { 192, 0, 2, (uint8_t)(10 + i) };

		memcpy(e.hops[i], hop, 4);
	}
	return e;
}

/* Inner TCP packet; v6 picks the address family. */
static size_t inner_tcp(uint8_t *out, int v6, const char *src, const char *dst, uint16_t sport,
			uint16_t dport, uint8_t flags)
{
	struct pkt_ip ip = v6 ? pkt_ip6(src, dst) : pkt_ip4(src, dst);
	struct pkt_tcp t = pkt_tcp(sport, dport, flags);
	uint8_t l4[64];
	size_t l4len = pkt_tcp_build(l4, &t, NULL, 0);

	return pkt_ip_build(out, &ip, IPPROTO_TCP, l4, l4len);
}

/* The frame of a class.  dmac: destination MAC (NULL: the builder's). */
static size_t build_class(int c, uint8_t *out, const struct flowports *fp, const uint8_t *dmac)
{
	uint8_t inner[PKT_MAX];
	struct pkt_encap e = encap(1, 0);
	size_t ilen = 0, len;

	switch (c) {
	case C_NOT_OURS: {
		struct pkt_ip ip = pkt_ip4(CLIENT, VIP);
		struct pkt_tcp t = pkt_tcp(51000, 80, PKT_TCP_ACK);
		uint8_t l4[64];
		size_t l4len = pkt_tcp_build(l4, &t, NULL, 0);

		len = pkt_eth_build(out, e.dst_mac, e.src_mac, 0x0800);
		len += pkt_ip_build(out + len, &ip, IPPROTO_TCP, l4, l4len);
		goto mac;
	}
	case C_OTHER_PORT:
		e.dport = GUE_PORT + 1;
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_LAST_HOP4:
		e.next_hop = 1;
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_LAST_HOP6:
		e.next_hop = 1;
		ilen = inner_tcp(inner, 1, CLIENT6, VIP6, 51000, 80, PKT_TCP_ACK);
		break;
	case C_KNOWN_TCP:
		ilen = inner_tcp(inner, 0, "127.0.0.1", "127.0.0.1", fp->cport, fp->sport, PKT_TCP_ACK);
		break;
	case C_SYN:
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_SYN);
		break;
	case C_FWD:
		e = encap(2, 0);
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_FWD_1:
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_FWD_30:
		e = encap(30, 0);
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_FWD_LISTENER:
		/* Same server port as the known flow, another client port: the
		 * lookup finds the listener and runs the syncookie check. */
		ilen = inner_tcp(inner, 0, "127.0.0.1", "127.0.0.1", (uint16_t)(fp->cport ^ 0x4000), fp->sport,
				 PKT_TCP_ACK);
		break;
	case C_GRE:
		e.priv_vflags = PRIV_F_LAST_HOP_GRE;
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	case C_ICMP_PMTU: {
		/* What the server sent on the known flow, quoted by a router. */
		uint8_t quote[128], icmp[256];
		struct pkt_ip ip = pkt_ip4("127.0.0.1", "127.0.0.1");
		size_t qlen = inner_tcp(quote, 0, "127.0.0.1", "127.0.0.1", fp->sport, fp->cport, PKT_TCP_ACK);
		size_t icmplen = pkt_icmp_build(icmp, 3, 4, 1400, quote, qlen);

		ilen = pkt_ip_build(inner, &ip, IPPROTO_ICMP, icmp, icmplen);
		break;
	}
	case C_MALFORMED:
		e.hlen = 3;
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_ACK);
		break;
	}
	len = pkt_frame_build(out, &e, inner, ilen);
mac:
	if (dmac)
		memcpy(out, dmac, 6);
	return len;
}

static int class_by_name(const char *name)
{
	for (int c = 0; c < C_COUNT; c++)
		if (!strcmp(classes[c].name, name))
			return c;
	return -1;
}

/* ------------------------------------------------------------- helpers -- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double cmp_pct(uint32_t *v, size_t n, double pct)
{
	size_t i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);

	return v[i];
}

/* Mean of the sorted samples between p10 and p90: the kernel's clock ticks
 * in steps of ~10 ns here, so medians are quantised; this is not. */
static double tmean(uint32_t *v, size_t n)
{
	double s = 0;
	size_t i, m = 0;

	for (i = n / 10; i < n - n / 10; i++, m++)
		s += v[i];
	return m ? s / (double)m : 0;
}

static double cmp_dbl_med(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

#define MAX_PASSES 20
#define FLOOR_COPIES 4

/*
 * A pass is one stretch of rounds.  Its ratio for unit u is u's tmean over
 * the tmean of all floor runs of the same pass; the median pass is the
 * figure, the lowest and highest show how far the machine moved meanwhile.
 * Samples are in pass order: pass p is [p * n, (p + 1) * n).
 */
static void pass_ratios(uint32_t *const *cls_ns, uint32_t *const *floor_ns, int n, int passes, double *rmed,
			double *rmin, double *rmax)
{
	uint32_t *fl = calloc((size_t)n * U_COUNT, sizeof(uint32_t));
	uint32_t *seg = calloc(n, sizeof(uint32_t));
	static double r[U_COUNT][MAX_PASSES];

	if (!fl || !seg)
		die("out of memory%s", "");
	for (int p = 0; p < passes; p++) {
		double ft;

		for (int u = 0; u < U_COUNT; u++)
			memcpy(fl + (size_t)u * n, floor_ns[u] + (size_t)p * n, n * sizeof(uint32_t));
		qsort(fl, (size_t)n * U_COUNT, sizeof(uint32_t), cmp_u32);
		ft = tmean(fl, (size_t)n * U_COUNT);
		for (int u = 0; u < U_COUNT; u++) {
			memcpy(seg, cls_ns[u] + (size_t)p * n, n * sizeof(uint32_t));
			qsort(seg, n, sizeof(uint32_t), cmp_u32);
			r[u][p] = tmean(seg, n) / ft;
		}
	}
	for (int u = 0; u < U_COUNT; u++) {
		rmed[u] = cmp_dbl_med(r[u], passes);
		rmin[u] = r[u][0];
		rmax[u] = r[u][passes - 1];
	}
	free(fl);
	free(seg);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Opens and loads obj with every map's pinning cleared: nothing in bpffs. */
static struct bpf_object *load_obj(const char *path, double *ms)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_map *map;
	double t0;

	if (!obj)
		die("cannot open %s", path);
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	t0 = now_ms();
	if (bpf_object__load(obj))
		die("cannot load %s (see the verifier log above)", path);
	if (ms)
		*ms = now_ms() - t0;
	return obj;
}

static int first_prog_fd(struct bpf_object *obj)
{
	struct bpf_program *prog = bpf_object__next_program(obj, NULL);

	return prog ? bpf_program__fd(prog) : -1;
}

/* ---------------------------------------------------------- test run -- */

struct obj_cost {
	const char *path;
	__u32 verified_insns, xlated, jited;
	double load_ms;
};

static void obj_cost(const char *path, struct obj_cost *oc)
{
	double ms[5];
	int i;

	oc->path = path;
	for (i = 0; i < 5; i++) {
		struct bpf_object *obj = load_obj(path, &ms[i]);
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (i == 0) {
			if (bpf_obj_get_info_by_fd(first_prog_fd(obj), &info, &len))
				die("bpf_prog_info of %s", path);
			oc->verified_insns = info.verified_insns;
			oc->xlated = info.xlated_prog_len;
			oc->jited = info.jited_prog_len;
		}
		bpf_object__close(obj);
	}
	oc->load_ms = cmp_dbl_med(ms, 5);
}

/* A real established connection on 127.0.0.1; the sockets stay open until
 * the process exits. */
static struct flowports tcp_flow(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in b;
	socklen_t alen = sizeof(a);
	struct flowports fp;
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 8) ||
	    getsockname(l, (void *)&a, &alen) || connect(c, (void *)&a, sizeof(a)))
		die("cannot make a TCP connection on 127.0.0.1: %s", strerror(errno));
	s = accept(l, NULL, NULL);
	alen = sizeof(b);
	if (s < 0 || getsockname(c, (void *)&b, &alen))
		die("accept: %s", strerror(errno));
	fp.sport = ntohs(a.sin_port);
	fp.cport = ntohs(b.sin_port);
	return fp;
}

/*
 * The clock the kernel times a run with can advance in coarse steps (on
 * this machine the TSC moves 26 cycles, 10 ns, at a time).  The path from
 * the system call to the start of the timed run is nearly the same every
 * time, so without help each packet would start its runs at about the same
 * point of a step and its figures would be rounded the same way, up or down
 * by a few ns, run after run.  A random wait of 0 to about 60 ns before each
 * run spreads the start over the step, and the rounding averages out.
 */
static void dither(void)
{
	static struct rng r = { 0x5eed };
	uint32_t n = rnd(&r, 32);

	for (volatile uint32_t i = 0; i < n; i++)
		;
}

static int run_once(int fd, const uint8_t *pkt, size_t len, __u32 *dur, __u32 *ret)
{
	static uint8_t out[PKT_MAX + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	dither();
	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	*dur = o.duration;
	if (ret)
		*ret = o.retval;
	return 0;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* ns above the floor (all its runs) of unit u (class or part), from the tmeans. */
static double above(const double *tm, double ftm, int u)
{
	return tm[u] - ftm;
}

static double split_calls(const struct split *s, const double *tm, double ftm)
{
	double sum = 0;

	for (int p = 0; p < P_COUNT; p++)
		if (s->parts & PART(p))
			sum += above(tm, ftm, C_COUNT + p);
	return sum;
}

/*
 * Where the time goes: every part above the floor, and every class with a
 * target split into the parts it cannot do without and the rest.
 * "calls only" is the ratio a program doing nothing but those calls would
 * reach: the best this kernel and CPU allow for the class.
 */
static void print_parts(const double *tm, double ftm)
{
	printf("\nWhere the time goes: the kernel calls the paths are built from, each timed alone in a\n"
	       "program (selftests/parts.bpf.c) in the same rounds, ns above the floor (tmean).  A part also\n"
	       "reads what its call needs, so calls slightly overstates the calls and rest (parsing,\n"
	       "deciding, counting: the classifier's own work) understates the rest.  calls only: the ratio\n"
	       "of a program that made those calls and nothing else.\n\n");
	printf("%-12s %6s  %s\n", "part", "ns", "what");
	for (int p = 0; p < P_COUNT; p++)
		printf("%-12s %6.1f  %s\n", parts[p].name, above(tm, ftm, C_COUNT + p), parts[p].what);
	printf("\n%-17s %6s %6s %6s %6s %10s %7s  %s\n", "class", "tmean", "floor", "calls", "rest", "calls only",
	       "target", "calls");
	for (int i = 0; i < SPLIT_COUNT; i++) {
		const struct split *s = &splits[i];
		double calls = split_calls(s, tm, ftm);
		char names[64] = "", tgt[16] = "-";

		for (int p = 0; p < P_COUNT; p++)
			if (s->parts & PART(p))
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 names[0] ? " + " : "", parts[p].name);
		if (classes[s->cls].target)
			snprintf(tgt, sizeof(tgt), "%.1fx", classes[s->cls].target);
		printf("%-17s %6.1f %6.1f %6.1f %6.1f %9.2fx %7s  %s\n", classes[s->cls].name, tm[s->cls], ftm, calls,
		       above(tm, ftm, s->cls) - calls, (ftm + calls) / ftm, tgt,
		       names[0] ? names : "none");
	}
}

static void json_parts(FILE *f, const double *tm, double ftm)
{
	fprintf(f, "],\n\"parts\":[");
	for (int p = 0; p < P_COUNT; p++) {
		fprintf(f, "%s\n {\"name\":", p ? "," : "");
		json_str(f, parts[p].name);
		fprintf(f, ",\"what\":");
		json_str(f, parts[p].what);
		fprintf(f, ",\"tmean_ns\":%.1f,\"floor_tmean_ns\":%.1f,\"above_floor_ns\":%.1f}", tm[C_COUNT + p],
			ftm, above(tm, ftm, C_COUNT + p));
	}
	fprintf(f, "],\n\"splits\":[");
	for (int i = 0; i < SPLIT_COUNT; i++) {
		const struct split *s = &splits[i];
		double calls = split_calls(s, tm, ftm);
		int first = 1;

		fprintf(f, "%s\n {\"class\":", i ? "," : "");
		json_str(f, classes[s->cls].name);
		fprintf(f, ",\"parts\":[");
		for (int p = 0; p < P_COUNT; p++)
			if (s->parts & PART(p)) {
				fprintf(f, "%s", first ? "" : ",");
				json_str(f, parts[p].name);
				first = 0;
			}
		fprintf(f, "],\"calls_ns\":%.1f,\"rest_ns\":%.1f,\"calls_only_ratio\":%.3f}", calls,
			above(tm, ftm, s->cls) - calls, (ftm + calls) / ftm);
	}
}

#define USAGE_RUN "bench run [-n SAMPLES] [-p PASSES] [-o JSON] [-O OBJ] [-F FLOOR_OBJ] [-P PARTS_OBJ]"

static int cmd_run(int argc, char **argv)
{
	const char *json = NULL, *objpath = "obj/cls_redirect_btf.o", *floorpath = "selftests/floor.bpf.o";
	const char *partspath = "selftests/parts.bpf.o";
	static uint8_t pkts[C_COUNT][PKT_MAX];
	size_t lens[C_COUNT];
	/* Units: the classes, then the parts. */
	uint32_t *cls_ns[U_COUNT], *floor_ns[U_COUNT], *all_floor;
	double med[U_COUNT], p10[U_COUNT], p90[U_COUNT], fmed[U_COUNT], ratio[U_COUNT];
	/* tm: tmean of each unit; own_ftm: of the floor runs next to the unit
	 * alone; floor_tm: of all floor runs, what every ratio is judged against. */
	double tm[U_COUNT], own_ftm[U_COUNT], floor_tm;
	/* The tmean ratio of the median pass, and of the lowest and highest. */
	double rmed[U_COUNT], rmin[U_COUNT], rmax[U_COUNT];
	int ufd[U_COUNT], upkt[U_COUNT];
	struct bpf_object *pobj;
	double floor_med, floor_p10, floor_p90;
	struct obj_cost oc_cls, oc_floor;
	struct cls_redirect_config cfg;
	struct harness h;
	struct flowports fp;
	harness_metrics_t before, after;
	uint8_t srv[4];
	const char *what;
	char err[256];
	int n = 5000, passes = 5, opt, cfd, ffd[FLOOR_COPIES], cpu, bad = 0;
	size_t all;
	cpu_set_t set;

	while ((opt = getopt(argc, argv, "n:p:o:O:F:P:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'p': passes = atoi(optarg); break;
		case 'o': json = optarg; break;
		case 'O': objpath = optarg; break;
		case 'F': floorpath = optarg; break;
		case 'P': partspath = optarg; break;
		default:
			fprintf(stderr, "usage: " USAGE_RUN "\n");
			return 1;
		}
	}
	if (n < 100 || passes < 1 || passes > MAX_PASSES) {
		fprintf(stderr, "bench: -n %d -p %d: give at least 100 samples and 1 to %d passes\n", n, passes,
			MAX_PASSES);
		return 1;
	}
	all = (size_t)n * passes;
	if (harness_netns(0, &what, err, sizeof(err)))
		die("%s", err);
	fp = tcp_flow();
	libbpf_set_print(libbpf_quiet);

	/* Verifier cost and load time first, in a quiet moment. */
	obj_cost(objpath, &oc_cls);
	obj_cost(floorpath, &oc_floor);

	if (harness_load(&h, objpath))
		die("%s", h.err);
	cfd = h.prog_fd;
	/* Where the JIT puts a program moves its cost by a few ns (copies of the
	 * empty program measured 67 to 72 ns here): the floor is several copies,
	 * used in turn, so no one placement sets the scale. */
	for (int i = 0; i < FLOOR_COPIES; i++) {
		ffd[i] = first_prog_fd(load_obj(floorpath, NULL));
		if (ffd[i] < 0)
			die("no program in %s", floorpath);
	}
	pobj = load_obj(partspath, NULL);
	for (int u = 0; u < U_COUNT; u++) {
		struct bpf_program *prog;

		ufd[u] = cfd;
		upkt[u] = u;
		if (u < C_COUNT)
			continue;
		prog = bpf_object__find_program_by_name(pobj, parts[u - C_COUNT].prog);
		if (!prog)
			die("no program %s in the parts object", parts[u - C_COUNT].prog);
		ufd[u] = bpf_program__fd(prog);
		upkt[u] = parts[u - C_COUNT].cls;
	}
	inet_pton(AF_INET, SRV_ADDR, srv);
	cfg = harness_config(srv, GUE_PORT);
	if (harness_set_config(&h, &cfg))
		die("%s", h.err);

	/* Pin to one CPU, so per-CPU counters and caches stay put: the last one
	 * we may run on, since CPU 0 usually takes more of the interrupts. */
	cpu = sched_getcpu();
	if (!sched_getaffinity(0, sizeof(set), &set))
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpu = c;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);

	for (int c = 0; c < C_COUNT; c++) {
		__u32 d, ret;

		lens[c] = build_class(c, pkts[c], &fp, NULL);
		if (harness_read_metrics(&h, before))
			die("%s", h.err);
		if (run_once(cfd, pkts[c], lens[c], &d, &ret))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		if (harness_read_metrics(&h, after))
			die("%s", h.err);
		for (int i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
			__u64 want = i == MC(PROCESSED) || i == classes[c].counter;

			/* l3_ / l4_ counters describe, they are not outcomes. */
			if (i >= MC(L3_IPV4) && i <= MC(L4_ICMP))
				continue;
			if (after[i] - before[i] != want) {
				fprintf(stderr, "bench: class %s moved %s by %llu (expected %llu)\n",
					classes[c].name, harness_metric_names[i],
					(unsigned long long)(after[i] - before[i]), (unsigned long long)want);
				bad = 1;
			}
		}
		if (ret != classes[c].retval) {
			fprintf(stderr, "bench: class %s returned %d, expected %d\n", classes[c].name, (int)ret,
				(int)classes[c].retval);
			bad = 1;
		}
	}
	for (int u = 0; u < U_COUNT; u++) {
		__u32 d, ret;

		if (u >= C_COUNT) {
			const struct part *pt = &parts[u - C_COUNT];

			if (run_once(ufd[u], pkts[pt->cls], lens[pt->cls], &d, &ret))
				die("BPF_PROG_TEST_RUN: %s", strerror(errno));
			if (ret != pt->retval) {
				fprintf(stderr, "bench: part %s returned %d, expected %d\n", pt->name, (int)ret,
					(int)pt->retval);
				bad = 1;
			}
		}
		cls_ns[u] = calloc(all, sizeof(uint32_t));
		floor_ns[u] = calloc(all, sizeof(uint32_t));
		if (!cls_ns[u] || !floor_ns[u])
			die("out of memory%s", "");
	}
	if (bad)
		die("a packet class does not take the path it is named for%s", "");

	/* Warm up, then A B A B ..., classes and parts interleaved round by
	 * round.  Each round starts one unit further on: a floor run follows
	 * the run of the unit before it, whose traces in the caches would
	 * otherwise bias the floor of every unit in the same direction. */
	for (int i = -n / 10; i < (int)all; i++) {
		for (int k = 0; k < U_COUNT; k++) {
			int c = (k + i + n) % U_COUNT;
			__u32 df, dc;

			if (run_once(ffd[(i + n + k) % FLOOR_COPIES], pkts[upkt[c]], lens[upkt[c]], &df, NULL) ||
			    run_once(ufd[c], pkts[upkt[c]], lens[upkt[c]], &dc, NULL))
				die("BPF_PROG_TEST_RUN: %s", strerror(errno));
			if (i >= 0) {
				floor_ns[c][i] = df;
				cls_ns[c][i] = dc;
			}
		}
	}

	/* Every ratio is to the floor runs of all units together: the floor
	 * program is the same for all of them, and the clock's ~10 ns steps
	 * make the floor of one unit alone move by a few ns from run to run. */
	pass_ratios(cls_ns, floor_ns, n, passes, rmed, rmin, rmax);
	all_floor = calloc(all * U_COUNT, sizeof(uint32_t));
	if (!all_floor)
		die("out of memory%s", "");
	for (int c = 0; c < U_COUNT; c++) {
		memcpy(all_floor + (size_t)c * all, floor_ns[c], all * sizeof(uint32_t));
		qsort(cls_ns[c], all, sizeof(uint32_t), cmp_u32);
		qsort(floor_ns[c], all, sizeof(uint32_t), cmp_u32);
		med[c] = cmp_pct(cls_ns[c], all, 50);
		p10[c] = cmp_pct(cls_ns[c], all, 10);
		p90[c] = cmp_pct(cls_ns[c], all, 90);
		fmed[c] = cmp_pct(floor_ns[c], all, 50);
		tm[c] = tmean(cls_ns[c], all);
		own_ftm[c] = tmean(floor_ns[c], all);
	}
	qsort(all_floor, all * U_COUNT, sizeof(uint32_t), cmp_u32);
	floor_med = cmp_pct(all_floor, all * U_COUNT, 50);
	floor_p10 = cmp_pct(all_floor, all * U_COUNT, 10);
	floor_p90 = cmp_pct(all_floor, all * U_COUNT, 90);
	floor_tm = tmean(all_floor, all * U_COUNT);
	for (int c = 0; c < U_COUNT; c++)
		ratio[c] = med[c] / floor_med;

	printf("BPF_PROG_TEST_RUN, one packet per run (repeat = 1, fresh skb each run), %d passes of %d\n"
	       "runs per class and program, floor and classifier alternating, pinned to CPU %d.\n"
	       "Floor (empty tc program, all its runs): median %.0f ns, p10-p90 %.0f-%.0f ns, tmean %.1f ns.\n"
	       "ns: median and p10-p90 of all passes; ratio: median / floor median; tmean: mean of the\n"
	       "p10-p90 samples; its ratio to the floor's is that of the median pass, and spread gives the\n"
	       "lowest and the highest pass.  The kernel clock ticks in ~10 ns steps here, so medians are\n"
	       "coarse: targets are judged on the tmean ratio.\n\n",
	       passes, n, cpu, floor_med, floor_p10, floor_p90, floor_tm);
	printf("%-17s %6s %9s %6s %6s %7s %11s %9s %8s  %s\n", "class", "median", "p10-p90", "ratio", "tmean", "ratio",
	       "spread", "target", "selftest", "path");
	for (int c = 0; c < C_COUNT; c++) {
		char range[32], spread[32], tgt[16] = "-", st[16] = "-";

		snprintf(range, sizeof(range), "%.0f-%.0f", p10[c], p90[c]);
		snprintf(spread, sizeof(spread), "%.3f-%.3f", rmin[c], rmax[c]);
		if (classes[c].target)
			snprintf(tgt, sizeof(tgt), "%.1fx %s", classes[c].target,
				 rmed[c] <= classes[c].target ? "ok" : "MISS");
		if (classes[c].selftest)
			snprintf(st, sizeof(st), "%.1fx", classes[c].selftest);
		printf("%-17s %6.0f %9s %5.2fx %6.1f %6.3fx %11s %9s %8s  %s\n", classes[c].name, med[c], range,
		       ratio[c], tm[c], rmed[c], spread, tgt, st, classes[c].what);
	}
	print_parts(tm, floor_tm);
	printf("\n%-28s %14s %12s %11s %9s\n", "object", "verified_insns", "xlated", "jited", "load");
	printf("%-28s %14u %10u B %9u B %6.1f ms  (target < 20000 insns: %s; selftest 49661)\n", oc_cls.path,
	       oc_cls.verified_insns, oc_cls.xlated, oc_cls.jited, oc_cls.load_ms,
	       oc_cls.verified_insns < 20000 ? "ok" : "MISS");
	printf("%-28s %14u %10u B %9u B %6.1f ms\n", oc_floor.path, oc_floor.verified_insns, oc_floor.xlated,
	       oc_floor.jited, oc_floor.load_ms);

	if (json) {
		FILE *f = fopen(json, "w");
		struct utsname u;

		if (!f)
			die("cannot write %s", json);
		uname(&u);
		fprintf(f, "{\"method\":{\"runs_per_class\":%d,\"passes\":%d,\"repeat\":1,\"cpu\":%d,\"kernel\":", n, passes,
			cpu);
		json_str(f, u.release);
		fprintf(f, "},\n\"floor\":{\"median_ns\":%.0f,\"p10_ns\":%.0f,\"p90_ns\":%.0f,\"tmean_ns\":%.1f,\"runs\":\"all units\"},\n\"classes\":[",
			floor_med, floor_p10, floor_p90, floor_tm);
		for (int c = 0; c < C_COUNT; c++) {
			fprintf(f, "%s\n {\"name\":", c ? "," : "");
			json_str(f, classes[c].name);
			fprintf(f, ",\"path\":");
			json_str(f, classes[c].what);
			fprintf(f, ",\"counter\":");
			json_str(f, harness_metric_names[classes[c].counter]);
			fprintf(f, ",\"retval\":%d,\"median_ns\":%.0f,\"p10_ns\":%.0f,\"p90_ns\":%.0f,"
				   "\"floor_median_ns\":%.0f,\"ratio\":%.3f,\"tmean_ns\":%.1f,\"floor_tmean_ns\":%.1f,"
				   "\"tmean_ratio\":%.3f",
				(int)classes[c].retval, med[c], p10[c], p90[c], fmed[c], ratio[c], tm[c], own_ftm[c],
				rmed[c]);
			fprintf(f, ",\"tmean_ratio_min\":%.3f,\"tmean_ratio_max\":%.3f", rmin[c], rmax[c]);
			if (classes[c].target)
				fprintf(f, ",\"target\":%.1f,\"met\":%s", classes[c].target,
					rmed[c] <= classes[c].target ? "true" : "false");
			if (classes[c].selftest)
				fprintf(f, ",\"selftest_ratio\":%.1f", classes[c].selftest);
			fputc('}', f);
		}
		json_parts(f, tm, floor_tm);
		fprintf(f, "],\n\"objects\":[");
		for (int i = 0; i < 2; i++) {
			struct obj_cost *o = i ? &oc_floor : &oc_cls;

			fprintf(f, "%s\n {\"object\":", i ? "," : "");
			json_str(f, o->path);
			fprintf(f, ",\"loader\":\"libbpf\",\"verified_insns\":%u,\"xlated_bytes\":%u,"
				   "\"jited_bytes\":%u,\"load_ms\":%.2f}",
				o->verified_insns, o->xlated, o->jited, o->load_ms);
		}
		fprintf(f, "]}\n");
		fclose(f);
	}
	return 0;
}

/* ------------------------------------------------------- real traffic -- */

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

#define XDPGEN_MAX 512
struct xdpgen_frame {
	__u32 len;
	__u8 data[XDPGEN_MAX];
};

static int cmd_gen(int argc, char **argv)
{
	const char *genpath = "selftests/xdpgen.bpf.o";
	struct flowports fp = { 0, 0 };
	struct xdpgen_frame t = {};
	struct xdp_md ctx = {};
	struct bpf_object *obj;
	uint8_t mac[6];
	double secs, t0, el;
	unsigned long long sent = 0;
	int c, fd, mfd;
	__u32 key = 0;

	if (argc < 5 || (c = class_by_name(argv[2])) < 0 || parse_mac(argv[4], mac)) {
		fprintf(stderr, "usage: bench gen IFNAME CLASS SECONDS DSTMAC [CPORT SPORT]\n");
		return 1;
	}
	secs = atof(argv[3]);
	if (argc >= 7) {
		fp.cport = (uint16_t)atoi(argv[5]);
		fp.sport = (uint16_t)atoi(argv[6]);
	}
	ctx.ingress_ifindex = if_nametoindex(argv[1]);
	if (!ctx.ingress_ifindex)
		die("no interface %s", argv[1]);
	t.len = (__u32)build_class(c, t.data, &fp, mac);
	ctx.data_end = t.len; /* the kernel insists: data_end = data_size_in */
	libbpf_set_print(libbpf_quiet);
	obj = load_obj(genpath, NULL);
	fd = first_prog_fd(obj);
	mfd = bpf_object__find_map_fd_by_name(obj, "xdpgen_template");
	if (fd < 0 || mfd < 0 || bpf_map_update_elem(mfd, &key, &t, BPF_ANY))
		die("cannot set up %s", genpath);

	t0 = now_ms();
	do {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = t.data, .data_size_in = t.len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1 << 16, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = 64);

		if (bpf_prog_test_run_opts(fd, &o))
			die("BPF_PROG_TEST_RUN (XDP live frames): %s", strerror(errno));
		sent += 1 << 16;
		el = now_ms() - t0;
	} while (el < secs * 1e3);
	printf("%llu %.0f\n", sent, el * 1e6);
	return 0;
}

/* "verified_insns xlated jited run_time_ns run_cnt" of a loaded program. */
static int cmd_proginfo(const char *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id((__u32)atoi(id));

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		die("no BPF program with id %s", id);
	printf("%u %u %u %llu %llu\n", info.verified_insns, info.xlated_prog_len, info.jited_prog_len,
	       (unsigned long long)info.run_time_ns, (unsigned long long)info.run_cnt);
	return 0;
}

static __attribute__((noreturn)) void cmd_tcpflow(void)
{
	struct flowports fp = tcp_flow();

	printf("%u %u\n", fp.cport, fp.sport);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "tcpflow"))
		cmd_tcpflow();
	if (argc >= 3 && !strcmp(argv[1], "proginfo"))
		return cmd_proginfo(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "classes")) {
		for (int c = 0; c < C_COUNT; c++)
			printf("%s\t%s\n", classes[c].name, classes[c].what);
		return 0;
	}
	fprintf(stderr, "usage: " USAGE_RUN "\n"
			"       bench gen IFNAME CLASS SECONDS DSTMAC [CPORT SPORT]\n"
			"       bench tcpflow\n"
			"       bench proginfo PROG_ID\n"
			"       bench classes\n"
			"(see selftests/bench.sh; run as root)\n");
	return 1;
}
