// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench: the measuring half of `make bench` (selftests/bench/bench.sh drives it).
 *
 *   bench run [-X] [-n ROUNDS] [-k RUNS] [-p PASSES] [-c COPIES] [-o JSON] [-O OBJ]
 *             [-B BASE_OBJ] [-L BASE_LABEL] [-F FLOOR_OBJ] [-P PARTS_OBJ] [-D ROUNDS_FILE]
 *             [-T PREFIXES] [-S SERVICES]
 *	Per-packet cost of every packet class through BPF_PROG_TEST_RUN,
 *	next to an empty tc program (selftests/progs/floor.bpf.o) and, with -B, next
 *	to a second classifier (the base: another revision's object), in the
 *	same rounds; and of the parts (selftests/progs/parts.bpf.o).  ROUNDS rounds
 *	(10000) of RUNS runs per program (8), in PASSES passes (20) of COPIES
 *	fresh loads of each program (8); -D writes every round's sums.  Plus
 *	verifier cost, program sizes and load time of OBJ
 *	(obj/cls_redirect_btf.o), the floor and the base.
 *	-S N: N services listed in every classifier that has the services map
 *	(tc-cls-redirect.8, CONTAINERS), none a class's destination.
 *	-X: the XDP flavour (tc-cls-redirect.8, XDP): OBJ and BASE_OBJ are XDP
 *	objects (default obj/cls_redirect_xdp_btf.o), the floor an empty XDP
 *	program (selftests/progs/floor_xdp.bpf.o), the verdicts XDP's.
 *	-T N: each trust list of a classifier that has them holds N prefixes
 *	(the ones the packets match among them; see trust_prefix()) instead
 *	of 0.0.0.0/0: the cost of the checks with a fleet's lists.
 *   bench gen IFNAME CLASS SECONDS DSTMAC [CPORT SPORT]
 *	Real traffic: transmit CLASS frames out of IFNAME for SECONDS with
 *	selftests/progs/xdpgen.bpf.o (XDP live frames); prints "sent N ns".
 *   bench proginfo PROG_ID
 *	Print "verified_insns xlated_bytes jited_bytes run_time_ns run_cnt".
 *   bench tcpflow
 *	Hold an established TCP connection on 127.0.0.1 (in the current
 *	namespace) and print "CPORT SPORT"; runs until killed.
 *   bench stats
 *	Hold the BPF run-time statistics on (BPF_ENABLE_STATS) and print "on";
 *	runs until killed.
 *   bench sink PORT
 *	Read every TCP connection to PORT (IPv4) to its end, in the background;
 *	prints the pid.  bench upload ADDR PORT BYTES: send BYTES to it, print
 *	"BYTES NS" once the sink has read them (section 3c of bench.sh).
 *
 * Method of `run` (README.md, Performance, says why):
 *  - unshare(CLONE_NEWNET) first: the known-flow socket, and every socket
 *    lookup the classifier makes, live in a private namespace with only lo.
 *  - Every object is loaded with libbpf with pinning cleared on every map,
 *    so each brings its own maps and nothing touches bpffs.  The classifier
 *    is the program in section "classifier" (else the first tc program); its
 *    config map is written through the fd, and every trust list (an LPM trie
 *    keyed by prefix length and IPv4 address) gets 0.0.0.0/0: current and
 *    base are configured alike whatever maps their revision has.
 *  - One packet per run (repeat = 1): the kernel builds a fresh skb from
 *    data_in on every call, so the program always sees the original packet.
 *    opts.duration is the kernel's own clock around that single run.
 *  - A round takes every class and part in turn (each round starts one
 *    further on).  For each, RUNS times: the floor, the program and the base
 *    once each, in a random order, on the same packet, each timed run right
 *    after an untimed one of the same program (warm).  The round's ratio of
 *    a class is its summed time over the floor's summed time in that round;
 *    the figure is the median of those ratios over all rounds.  A round
 *    disturbed by the machine (an interrupt, a neighbour) moves its own ratio
 *    only, and the median ignores it: the figure holds still on a loaded
 *    machine where means of all runs do not.
 *  - Where the JIT puts a program moves its cost by a few ns: every pass
 *    loads COPIES fresh copies of the floor, the classifier and the base,
 *    used in turn.
 *  - A round during which the kernel's BPF run-time statistics were on (they
 *    add about 30 ns to every run) is left out while another round was not.
 *  - The CPU's speed is probed (a fixed loop of arithmetic and one copying
 *    memory, in user space) before and after each class or part of a
 *    round: where it ran slowed down (a VM's core shared with other work on
 *    the host) ratios move by 20 to 50 %, so those are left out; while more
 *    than half are, the run goes on for up to EXTEND times the passes asked.
 *  - The floor has a slow mode of its own (5 to 9 ns more for seconds to
 *    minutes, cause unknown) that the probes do not see.  A pass in which
 *    the part "call" or "redirect", programs that do more, comes out
 *    cheaper than the floor is left out (floor_part_gap()), and the run
 *    goes on for more passes as above; the output warns when the figures
 *    kept still show it (every pass in it).
 *  - Before timing, every class is run once through every copy: verdict and
 *    the outcome counter it moves are checked, and the base's output must be
 *    the current one's: a class that takes a different path than its name
 *    says aborts the benchmark.
 *  - The parts (selftests/progs/parts.bpf.o: one helper, adjust_room, redirect,
 *    socket lookup hit and miss, each alone in a program) run in the same
 *    rounds on the frames of classes, so each class with a target splits
 *    into the calls it cannot do without and the classifier's own work.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
	int set;          /* SET_ROUTE, SET_POD: run by copies configured for it,
			   * without a base; 0: the plain copies and the base */
};

enum { SET_PLAIN, SET_ROUTE, SET_POD };

enum {
	C_NOT_OURS, C_OTHER_PORT, C_LAST_HOP4, C_LAST_HOP6, C_KNOWN_TCP, C_SYN,
	C_FWD, C_FWD_1, C_FWD_30, C_FWD_LISTENER, C_GRE, C_ICMP_PMTU, C_MALFORMED, C_FWD_ROUTE, C_GRE_ROUTE,
	C_KNOWN_POD, C_COUNT
};

#define MC(id) CLS_REDIRECT_METRIC_##id

/* run -X: the classifiers timed are the XDP flavour. */
static int xdp_mode;
/* -S N: services listed in every classifier that has the map, none of them
 * a class's destination (tc-cls-redirect.8, CONTAINERS): what a listed
 * service costs the packets that are not for one. */
static int n_services;
/* -s N: services listed in the base instead (-1: as many as -S), so that
 * BASE=HEAD compares N services against none in the same rounds. */
static int base_services = -1;
static const struct pkt_class classes[C_COUNT] = {
	[C_NOT_OURS] = { "not_ours", "plain TCP, not to the GUE endpoint", TC_ACT_UNSPEC_RET, MC(PASSED), 1.2 },
	[C_OTHER_PORT] = { "other_port", "GUE to another UDP port", TC_ACT_UNSPEC_RET, MC(PASSED), 0 },
	[C_LAST_HOP4] = { "last_hop_v4", "last hop accept, inner IPv4 TCP", TC_ACT_OK, MC(ACCEPTED_LAST_HOP), 2.2 },
	[C_LAST_HOP6] = { "last_hop_v6", "last hop accept, inner IPv6 TCP", TC_ACT_REDIRECT,
			  MC(ACCEPTED_LAST_HOP), 2.2 },
	[C_KNOWN_TCP] = { "known_tcp", "established TCP flow accept (N=1)", TC_ACT_OK,
			  MC(ACCEPTED_ESTABLISHED), 3.8 },
	[C_SYN] = { "syn", "SYN accept (N=1)", TC_ACT_OK, MC(ACCEPTED_SYN), 0 },
	[C_FWD] = { "forward", "unknown flow forward, GUE (N=2)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 3.8 },
	[C_FWD_1] = { "forward_hops1", "unknown flow forward, GUE (N=1)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 0 },
	[C_FWD_30] = { "forward_hops30", "unknown flow forward, GUE (N=30)", TC_ACT_REDIRECT, MC(FORWARDED_GUE), 0 },
	[C_FWD_LISTENER] = { "forward_listener", "unknown flow to a listening port, GUE (N=1)", TC_ACT_REDIRECT,
			     MC(FORWARDED_GUE), 0 },
	[C_GRE] = { "gre", "last-hop GRE forward (N=1)", TC_ACT_REDIRECT, MC(FORWARDED_GRE), 6.0 },
	[C_ICMP_PMTU] = { "icmp_pmtu", "ICMP frag-needed quoting the known flow (N=1)", TC_ACT_OK,
			  MC(ACCEPTED_ESTABLISHED), 0 },
	[C_MALFORMED] = { "malformed", "GUE hlen != 1 + hop count: drop", TC_ACT_SHOT,
			  MC(ERR_MALFORMED_ENCAPSULATION), 0 },
	/* Route mode (tc-cls-redirect.8, ROUTE MODE), next to forward and gre:
	 * bpf_fib_lookup() finds 192.0.2.0/24 dev lo here (route_setup), and
	 * bpf_redirect_neigh() only records its target in BPF_PROG_TEST_RUN, so
	 * the neighbour work of a real send is not in the figure. */
	[C_FWD_ROUTE] = { "forward_route", "unknown flow forward, GUE (N=2), route: FIB lookup + redirect_neigh",
			  TC_ACT_REDIRECT, MC(FORWARDED_GUE), 0, SET_ROUTE },
	[C_GRE_ROUTE] = { "gre_route", "last-hop GRE forward (N=1), route", TC_ACT_REDIRECT, MC(FORWARDED_GRE), 0,
			  SET_ROUTE },
	/* known_tcp's flow, but its sockets live in a pod (pod_setup) listed
	 * in cls_redirect_services (tc-cls-redirect.8, CONTAINERS): the lookup
	 * goes to the pod's namespace, delivery is bpf_redirect_peer. */
	[C_KNOWN_POD] = { "known_tcp_pod", "established TCP flow in a service namespace accept (N=1), redirect_peer",
			  TC_ACT_REDIRECT, MC(ACCEPTED_ESTABLISHED), 0, SET_POD },
};

/*
 * The kernel calls the paths are built from (selftests/progs/parts.bpf.c), each
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

/* known_tcp_pod's flow, in the pod (pod_setup), and the pod's veth and
 * netnsid as the bench's namespace sees them. */
static struct flowports pod_flow;
static int pod_ifindex, pod_netnsid = -1;

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
	case C_KNOWN_POD:
		ilen = inner_tcp(inner, 0, "127.0.0.1", "127.0.0.1", pod_flow.cport, pod_flow.sport, PKT_TCP_ACK);
		break;
	case C_SYN:
		ilen = inner_tcp(inner, 0, CLIENT, VIP, 51000, 80, PKT_TCP_SYN);
		break;
	case C_FWD_ROUTE:
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
	case C_GRE_ROUTE:
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

/* What the route classes need in the bench's namespace: a route to their
 * hops (192.0.2.0/24 dev lo) and forwarding on lo, without which
 * bpf_fib_lookup() refuses (tc-cls-redirect.8, ROUTE MODE). */
static void route_setup(void)
{
	struct rtentry rt;
	struct sockaddr_in *sin;
	int fd = open("/proc/sys/net/ipv4/conf/lo/forwarding", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		die("cannot set net.ipv4.conf.lo.forwarding: %s", strerror(errno));
	close(fd);
	memset(&rt, 0, sizeof(rt));
	sin = (struct sockaddr_in *)&rt.rt_dst;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.0", &sin->sin_addr);
	sin = (struct sockaddr_in *)&rt.rt_genmask;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	rt.rt_flags = RTF_UP;
	rt.rt_dev = (char *)"lo";
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCADDRT, &rt))
		die("cannot add the route 192.0.2.0/24 dev lo: %s", strerror(errno));
	close(fd);
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

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), interpolated; v is left as it was. */
static double quantile(const double *v, size_t n, double q)
{
	double *s = malloc(n * sizeof(double)), pos, r;
	size_t i;

	if (!s)
		die("out of memory%s", "");
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_dbl);
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	r = i + 1 < n ? s[i] + (pos - (double)i) * (s[i + 1] - s[i]) : s[i];
	free(s);
	return r;
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

/* ------------------------------------------------- loading a classifier -- */

/* A classifier object of any revision, loaded with its own maps. */
struct cls_prog {
	const char *path;
	struct bpf_object *obj;
	int fd, met_fd;
	int ncounters;   /* __u64 counters in its metrics value */
	uint64_t *percpu; /* scratch for read_counters */
	int ncpus;
};

/*
 * Opens path with pinning off and loads the program in section "classifier"
 * (else the first tc program) as SCHED_CLS, nothing else.  Then configures
 * it as every revision is configured here: cfg written to its config map
 * (zero-extended or cut to that map's value size: the layout only ever grew
 * into reserved room), and 0.0.0.0/0 in every LPM trie keyed by prefix
 * length and IPv4 address (the trust lists of revisions that have them), so
 * that every class takes the same path in every revision.
 */
/* -T N: each trust list holds N prefixes instead of 0.0.0.0/0 (0). */
static int trust_prefixes;

/* The i-th prefix of a list of -T N: the director and the servers the hop
 * lists name as /32s first (the prefixes the packets match), then more
 * /32s beside them and /24s of other networks, so a lookup walks a trie as
 * deep as a real fleet's. */
static void trust_prefix(int i, __u32 *len, uint8_t a[4])
{
	static const uint8_t director[4] = { 198, 51, 100, 10 };

	*len = 32;
	if (i == 0) {
		memcpy(a, director, 4);
	} else if (i <= 30) {
		a[0] = 192, a[1] = 0, a[2] = 2, a[3] = (uint8_t)(9 + i); /* hops 192.0.2.10.. */
	} else if (i < 100) {
		a[0] = 198, a[1] = 51, a[2] = 100, a[3] = (uint8_t)(100 + i);
	} else {
		*len = 24;
		a[0] = 10, a[1] = (uint8_t)(i >> 8), a[2] = (uint8_t)i, a[3] = 0;
	}
}

/* The pod's service (SET_POD): known_tcp_pod's destination, in the pod. */
static void pod_service(struct cls_redirect_service_key *k, struct cls_redirect_service *v)
{
	__be32 lo = htonl(INADDR_LOOPBACK);

	memset(k, 0, sizeof(*k));
	k->family = CLS_REDIRECT_SERVICE_V4;
	k->proto = IPPROTO_TCP;
	k->port = htons(pod_flow.sport);
	memcpy(k->addr, &lo, 4);
	v->netnsid = (__u32)pod_netnsid;
	v->ifindex = (__u32)pod_ifindex;
}

/* nsvc: services listed besides (bench run -S, -s); pod: the pod's too. */
static void load_classifier(const char *path, const struct cls_redirect_config *cfg, struct cls_prog *cp, int nsvc,
			    int pod)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog, *pick = NULL;
	struct bpf_map *map;
	uint8_t val[256] = { 0 };
	__u32 key0 = 0;
	size_t vs;

	memset(cp, 0, sizeof(*cp));
	cp->path = path;
	if (!obj)
		die("cannot open %s", path);
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	bpf_object__for_each_program(prog, obj)
		if (!pick && !strcmp(bpf_program__section_name(prog), xdp_mode ? "xdp" : "classifier"))
			pick = prog;
	bpf_object__for_each_program(prog, obj)
		if (!pick && !xdp_mode && bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS)
			pick = prog;
	if (!pick)
		die("%s holds no program in the classifier's section (classifier, or xdp with -X)", path);
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, prog == pick);
	bpf_program__set_type(pick, xdp_mode ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS);
	if (bpf_object__load(obj))
		die("cannot load %s (see the verifier log above)", path);
	cp->obj = obj;
	cp->fd = bpf_program__fd(pick);

	map = bpf_object__find_map_by_name(obj, CLS_REDIRECT_CONFIG_MAP);
	vs = map ? bpf_map__value_size(map) : 0;
	if (!map || vs > sizeof(val))
		die("%s: no map " CLS_REDIRECT_CONFIG_MAP " of at most 256 bytes", path);
	memcpy(val, cfg, vs < sizeof(*cfg) ? vs : sizeof(*cfg));
	if (bpf_map_update_elem(bpf_map__fd(map), &key0, val, BPF_ANY))
		die("cannot write the config map of %s", path);

	bpf_object__for_each_map(map, obj) {
		struct {
			__u32 prefixlen;
			__u8 addr[4];
		} any = { 0, { 0 } };

		if (bpf_map__type(map) != BPF_MAP_TYPE_LPM_TRIE || bpf_map__key_size(map) != sizeof(any))
			continue;
		vs = bpf_map__value_size(map);
		memset(val, 0, sizeof(val));
		val[0] = 1;
		if (!trust_prefixes) {
			if (vs > sizeof(val) || bpf_map_update_elem(bpf_map__fd(map), &any, val, BPF_ANY))
				die("cannot put 0.0.0.0/0 into a trust list of %s", path);
			continue;
		}
		for (int i = 0; i < trust_prefixes; i++) {
			trust_prefix(i, &any.prefixlen, any.addr);
			if (vs > sizeof(val) || bpf_map_update_elem(bpf_map__fd(map), &any, val, BPF_ANY))
				die("cannot fill a trust list of %s (bench run -T)", path);
		}
	}

	map = bpf_object__find_map_by_name(obj, "cls_redirect_services");
	if (pod) {
		struct cls_redirect_service_key k;
		struct cls_redirect_service v;

		pod_service(&k, &v);
		if (!map || bpf_map__key_size(map) != sizeof(k) || bpf_map__value_size(map) != sizeof(v) ||
		    bpf_map_update_elem(bpf_map__fd(map), &k, &v, BPF_ANY))
			die("cannot list the pod's service in %s", path);
	}
	for (int i = 0; map && i < nsvc; i++) {
		/* 20-byte key: IPv4, TCP, port 80, 10.250.i/256.i%256; value:
		 * netnsid 0, ifindex 1 (never used: no class goes there). */
		__u8 k[20] = { 4, IPPROTO_TCP, 0, 80, 10, 250, (__u8)(i / 256), (__u8)i };
		__u32 v[2] = { 0, 1 };

		if (bpf_map__key_size(map) != sizeof(k) || bpf_map__value_size(map) != sizeof(v) ||
		    bpf_map_update_elem(bpf_map__fd(map), k, v, BPF_ANY))
			die("cannot list service in %s", path);
	}
	if (map && (nsvc || pod)) {
		/* As cls-redirect-config keeps it: services with a port are
		 * listed.  (val went to the trust lists since.) */
		memset(val, 0, sizeof(val));
		memcpy(val, cfg, sizeof(*cfg));
		((struct cls_redirect_config *)val)->flags |= CLS_REDIRECT_F_SERVICES;
		map = bpf_object__find_map_by_name(obj, CLS_REDIRECT_CONFIG_MAP);
		if (bpf_map_update_elem(bpf_map__fd(map), &key0, val, BPF_ANY))
			die("cannot write the config map of %s", path);
	}

	map = bpf_object__find_map_by_name(obj, CLS_REDIRECT_METRICS_MAP);
	if (!map || bpf_map__type(map) != BPF_MAP_TYPE_PERCPU_ARRAY || bpf_map__value_size(map) % 8)
		die("%s: no per-CPU map " CLS_REDIRECT_METRICS_MAP " of __u64 counters", path);
	cp->met_fd = bpf_map__fd(map);
	cp->ncounters = (int)(bpf_map__value_size(map) / 8);
	cp->ncpus = libbpf_num_possible_cpus();
	cp->percpu = calloc((size_t)(cp->ncpus > 0 ? cp->ncpus : 1) * cp->ncounters, sizeof(uint64_t));
	if (cp->ncpus <= 0 || !cp->percpu)
		die("cannot size the per-CPU counters of %s", path);
}

/* Counter i summed over CPUs into sum[i], i < ncounters. */
static void read_counters(struct cls_prog *cp, uint64_t *sum)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(cp->met_fd, &key, cp->percpu))
		die("cannot read the metrics map of %s", cp->path);
	memset(sum, 0, sizeof(uint64_t) * cp->ncounters);
	for (int c = 0; c < cp->ncpus; c++)
		for (int i = 0; i < cp->ncounters; i++)
			sum[i] += cp->percpu[(size_t)c * cp->ncounters + i];
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
	oc->load_ms = quantile(ms, 5, 0.5);
}

static struct flowports tcp_flow(void);

/* harness_pod's fn: known_tcp_pod's flow, made in the pod. */
static void pod_flow_make(void *fp)
{
	*(struct flowports *)fp = tcp_flow();
}

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
 * some machines the TSC moves 26 cycles, 10 ns, at a time).  The path from
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

static uint8_t run_out[PKT_MAX + 256];
static __u32 run_out_len;

/* One run of fd on pkt; its output stays in run_out[0..run_out_len). */
static int run_once(int fd, const uint8_t *pkt, size_t len, __u32 *dur, __u32 *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .data_out = run_out,
		    .data_size_out = sizeof(run_out), .repeat = 1);

	dither();
	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	*dur = o.duration;
	run_out_len = o.data_size_out;
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

/* The verdict of class c: the tc one, or XDP's for its outcome. */
static unsigned int class_ret(int c)
{
	int cls = harness_outcome_class(classes[c].counter);

	if (!xdp_mode)
		return classes[c].retval;
	/* Route mode, and a packet for a service: XDP hands it to tc,
	 * uncounted (tc-cls-redirect.8, XDP). */
	if (classes[c].set)
		return HARNESS_XDP_PASS;
	return cls == CLS_REDIRECT_OUTCOME_ERROR ? HARNESS_XDP_DROP :
	       cls == CLS_REDIRECT_OUTCOME_FORWARDED ? HARNESS_XDP_TX : HARNESS_XDP_PASS;
}

/*
 * Checks every class through one loaded classifier: it must return the
 * class's verdict and move processed_packets_total and the class's outcome
 * counter by one, no other outcome counter (counters past the end of an
 * older revision's list are not checked: the list is append-only).  With
 * record, the output of each class is kept in outs; without, it must equal
 * the one kept (the current object's: the base must decide alike).  Returns
 * the number of mismatches, each told on stderr.
 */
/* Checks the classes of configuration set (the others need another). */
static int check_classes(const char *who, struct cls_prog *cp, int set, uint8_t (*pkts)[PKT_MAX],
			 const size_t *lens, uint8_t (*outs)[PKT_MAX + 256], __u32 *out_lens, int record)
{
	uint64_t before[256], after[256];
	int bad = 0, n = cp->ncounters < CLS_REDIRECT_METRIC_COUNT ? cp->ncounters : CLS_REDIRECT_METRIC_COUNT;

	if (cp->ncounters > 256)
		die("%s: more than 256 counters", cp->path);
	for (int c = 0; c < C_COUNT; c++) {
		__u32 d, ret;

		if (classes[c].set != set)
			continue;
		read_counters(cp, before);
		if (run_once(cp->fd, pkts[c], lens[c], &d, &ret))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		if (record) {
			memcpy(outs[c], run_out, run_out_len);
			out_lens[c] = run_out_len;
		} else if (run_out_len != out_lens[c] || memcmp(outs[c], run_out, run_out_len)) {
			fprintf(stderr, "bench: %s: class %s: output differs from the current object's\n", who,
				classes[c].name);
			bad++;
		}
		read_counters(cp, after);
		for (int i = 0; i < n; i++) {
			__u64 want = !(xdp_mode && classes[c].set) &&
				     (i == MC(PROCESSED) || i == classes[c].counter);

			/* l3_ / l4_ counters describe, they are not outcomes. */
			if (i >= MC(L3_IPV4) && i <= MC(L4_ICMP))
				continue;
			if (after[i] - before[i] != want) {
				fprintf(stderr, "bench: %s: class %s moved %s by %llu (expected %llu)\n", who,
					classes[c].name, harness_metric_names[i],
					(unsigned long long)(after[i] - before[i]), (unsigned long long)want);
				bad++;
			}
		}
		if (ret != class_ret(c)) {
			fprintf(stderr, "bench: %s: class %s returned %d, expected %d\n", who, classes[c].name,
				(int)ret, (int)class_ret(c));
			bad++;
		}
	}
	return bad;
}

/* ------------------------------------------------------------ figures -- */

/* Programs timed side by side in a round. */
enum { G_FLOOR, G_CUR, G_BASE, G_COUNT };

/*
 * A figure from per-round values v[0..rounds): the median over all rounds,
 * the interquartile range of the rounds, and the lowest and highest median
 * of the passes (equal stretches of consecutive rounds).
 */
struct fig {
	double med, q25, q75, lo, hi;
};

static struct fig figure(const double *v, int rounds, int passes)
{
	double *ok = malloc((size_t)rounds * sizeof(double));
	struct fig f = { 0, 0, 0, 1e300, -1e300 };
	int n = 0;

	if (!ok)
		die("out of memory%s", "");
	/* Rounds left out (NaN) count in no figure. */
	for (int p = 0; p < passes; p++) {
		int a = p * rounds / passes, b = (p + 1) * rounds / passes, n0 = n;

		for (int r = a; r < b; r++)
			if (v[r] == v[r])
				ok[n++] = v[r];
		/* A pass left with few rounds (most of it slowed down, say)
		 * has no median worth the name. */
		if (n > n0 && n - n0 >= (b - a + 3) / 4) {
			double m = quantile(ok + n0, (size_t)(n - n0), 0.5);

			f.lo = m < f.lo ? m : f.lo;
			f.hi = m > f.hi ? m : f.hi;
		}
	}
	if (n) {
		f.med = quantile(ok, (size_t)n, 0.5);
		f.q25 = quantile(ok, (size_t)n, 0.25);
		f.q75 = quantile(ok, (size_t)n, 0.75);
		if (f.lo > f.hi)
			f.lo = f.hi = f.med;
	} else {
		f.lo = f.hi = 0;
	}
	free(ok);
	return f;
}

/* Per round: num / den (ratio), or (num - den) / runs (ns above), or
 * num / runs (ns per run, den NULL).  A round left out has den (or num)
 * zero. */
static struct fig round_figure(const uint32_t *num, const uint32_t *den, int rounds, int passes, int runs,
			       int ratio)
{
	double *v = malloc((size_t)rounds * sizeof(double));
	struct fig f;

	if (!v)
		die("out of memory%s", "");
	for (int r = 0; r < rounds; r++) {
		if (!num[r] || (den && !den[r]))
			v[r] = NAN;
		else if (ratio)
			v[r] = (double)num[r] / den[r];
		else
			v[r] = ((double)num[r] - (den ? (double)den[r] : 0)) / runs;
	}
	f = figure(v, rounds, passes);
	free(v);
	return f;
}

static void json_fig(FILE *f, const char *name, struct fig x)
{
	fprintf(f, ",\"%s\":%.4f,\"%s_pass_lo\":%.4f,\"%s_pass_hi\":%.4f,\"%s_q25\":%.4f,\"%s_q75\":%.4f", name, x.med,
		name, x.lo, name, x.hi, name, x.q25, name, x.q75);
}

static void split_names(const struct split *s, char *names, size_t size)
{
	names[0] = 0;
	for (int p = 0; p < P_COUNT; p++)
		if (s->parts & PART(p))
			snprintf(names + strlen(names), size - strlen(names), "%s%s", names[0] ? " + " : "",
				 parts[p].name);
}

/*
 * Where the time goes: every part above the floor, and every class with a
 * target split into the parts it cannot do without and the rest.
 * "calls only" is the ratio a program doing nothing but those calls would
 * reach: the best this kernel and CPU allow for the class.  above[u]: ns
 * above the floor of unit u; fl[u]: the floor's ns next to it.
 */
static double split_calls(const struct split *s, const double *above)
{
	double sum = 0;

	for (int p = 0; p < P_COUNT; p++)
		if (s->parts & PART(p))
			sum += above[C_COUNT + p];
	return sum;
}

static void print_parts(const double *above, const double *fl)
{
	printf("\nWhere the time goes: the kernel calls the paths are built from, each timed alone in a\n"
	       "program (selftests/progs/parts.bpf.c) in the same rounds, ns above the floor (median of the\n"
	       "rounds).  A part also reads what its call needs, so calls slightly overstates the calls\n"
	       "and rest (parsing, deciding, counting: the classifier's own work) understates the rest.\n"
	       "calls only: the ratio of a program that made those calls and nothing else.\n\n");
	printf("%-12s %6s  %s\n", "part", "ns", "what");
	for (int p = 0; p < P_COUNT; p++)
		printf("%-12s %6.1f  %s\n", parts[p].name, above[C_COUNT + p], parts[p].what);
	printf("\n%-17s %6s %6s %6s %6s %10s %7s  %s\n", "class", "floor", "above", "calls", "rest", "calls only",
	       "target", "calls");
	for (int i = 0; i < SPLIT_COUNT; i++) {
		const struct split *s = &splits[i];
		double calls = split_calls(s, above);
		char names[64], tgt[16] = "-";

		split_names(s, names, sizeof(names));
		if (classes[s->cls].target)
			snprintf(tgt, sizeof(tgt), "%.1fx", classes[s->cls].target);
		printf("%-17s %6.1f %6.1f %6.1f %6.1f %9.2fx %7s  %s\n", classes[s->cls].name, fl[s->cls],
		       above[s->cls], calls, above[s->cls] - calls, (fl[s->cls] + calls) / fl[s->cls], tgt,
		       names[0] ? names : "none");
	}
}

static void json_parts(FILE *f, const double *above, const double *fl)
{
	fprintf(f, "],\n\"parts\":[");
	for (int p = 0; p < P_COUNT; p++) {
		fprintf(f, "%s\n {\"name\":", p ? "," : "");
		json_str(f, parts[p].name);
		fprintf(f, ",\"what\":");
		json_str(f, parts[p].what);
		fprintf(f, ",\"floor_ns\":%.1f,\"above_floor_ns\":%.1f}", fl[C_COUNT + p], above[C_COUNT + p]);
	}
	fprintf(f, "],\n\"splits\":[");
	for (int i = 0; i < SPLIT_COUNT; i++) {
		const struct split *s = &splits[i];
		double calls = split_calls(s, above);
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
			above[s->cls] - calls, (fl[s->cls] + calls) / fl[s->cls]);
	}
}

static void obj_line(const struct obj_cost *o, const char *note)
{
	printf("%-28s %14u %10u B %9u B %6.1f ms%s\n", o->path, o->verified_insns, o->xlated, o->jited, o->load_ms,
	       note);
}

static void json_obj(FILE *f, const struct obj_cost *o, int first)
{
	fprintf(f, "%s\n {\"object\":", first ? "" : ",");
	json_str(f, o->path);
	fprintf(f, ",\"loader\":\"libbpf\",\"verified_insns\":%u,\"xlated_bytes\":%u,\"jited_bytes\":%u,\"load_ms\":%.2f}",
		o->verified_insns, o->xlated, o->jited, o->load_ms);
}

#define MAX_PASSES 100
/* At most EXTEND times the passes asked for (see cmd_run). */
#define EXTEND 3
#define MAX_COPIES 64

/* What one pass times: fresh loads of every program (see cmd_run). */
struct progset {
	struct cls_prog cur[MAX_COPIES], base[MAX_COPIES];
	struct cls_prog route[MAX_COPIES]; /* the current object, configured with route */
	struct cls_prog pod[MAX_COPIES];   /* the current object, with the pod's service listed */
	struct bpf_object *floor[MAX_COPIES], *parts;
	int part_fd[P_COUNT];
};

struct run_setup {
	const char *objpath, *basepath, *floorpath, *partspath;
	struct cls_redirect_config cfg;
	struct cls_redirect_config route_cfg; /* cfg with route */
	int copies;
	uint8_t pkts[C_COUNT][PKT_MAX];
	size_t lens[C_COUNT];
	uint8_t outs[C_COUNT][PKT_MAX + 256]; /* the current object's output per class */
	__u32 out_lens[C_COUNT];
	int have_outs;
};

static void close_classifier(struct cls_prog *cp)
{
	bpf_object__close(cp->obj);
	free(cp->percpu);
	memset(cp, 0, sizeof(*cp));
}

/*
 * Loads copies of the floor, the classifier and the base, in a random order
 * (the JIT starts each image at a random offset: every load is a new
 * placement), and the parts; checks every class and part through each.
 */
static void progset_load(struct run_setup *s, struct progset *ps, struct rng *rng)
{
	int bad = 0;

	for (int i = 0; i < s->copies; i++) {
		int order[3] = { G_FLOOR, G_CUR, G_BASE };

		for (int j = 2; j > 0; j--) {
			int x = (int)rnd(rng, (uint32_t)j + 1), t = order[j];

			order[j] = order[x];
			order[x] = t;
		}
		for (int j = 0; j < 3; j++) {
			if (order[j] == G_FLOOR) {
				ps->floor[i] = load_obj(s->floorpath, NULL);
				if (first_prog_fd(ps->floor[i]) < 0)
					die("no program in %s", s->floorpath);
			} else if (order[j] == G_CUR) {
				load_classifier(s->objpath, &s->cfg, &ps->cur[i], n_services, 0);
				load_classifier(s->objpath, &s->route_cfg, &ps->route[i], n_services, 0);
				load_classifier(s->objpath, &s->cfg, &ps->pod[i], n_services, 1);
				if (ps->cur[i].ncounters != CLS_REDIRECT_METRIC_COUNT)
					die("%s has another counter list than include/cls_redirect.h: run make",
					    s->objpath);
			} else if (s->basepath) {
				load_classifier(s->basepath, &s->cfg, &ps->base[i],
						base_services < 0 ? n_services : base_services, 0);
			}
		}
	}
	ps->parts = load_obj(s->partspath, NULL);
	for (int p = 0; p < P_COUNT; p++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(ps->parts, parts[p].prog);

		if (!prog)
			die("no program %s in the parts object", parts[p].prog);
		ps->part_fd[p] = bpf_program__fd(prog);
	}

	for (int i = 0; i < s->copies; i++) {
		bad += check_classes("current", &ps->cur[i], 0, s->pkts, s->lens, s->outs, s->out_lens, !s->have_outs);
		bad += check_classes("current, route", &ps->route[i], SET_ROUTE, s->pkts, s->lens, s->outs,
				     s->out_lens, !s->have_outs);
		bad += check_classes("current, pod", &ps->pod[i], SET_POD, s->pkts, s->lens, s->outs, s->out_lens,
				     !s->have_outs);
		s->have_outs = 1;
		if (s->basepath)
			bad += check_classes("base", &ps->base[i], 0, s->pkts, s->lens, s->outs, s->out_lens, 0);
	}
	for (int p = 0; p < P_COUNT; p++) {
		__u32 d, ret;

		if (run_once(ps->part_fd[p], s->pkts[parts[p].cls], s->lens[parts[p].cls], &d, &ret))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		if (ret != parts[p].retval) {
			fprintf(stderr, "bench: part %s returned %d, expected %d\n", parts[p].name, (int)ret,
				(int)parts[p].retval);
			bad++;
		}
	}
	if (bad)
		die("a packet class does not take the path it is named for in every object%s", "");
}


/*
 * The kernel's BPF run-time statistics (kernel.bpf_stats_enabled, or a
 * BPF_ENABLE_STATS fd held by any process: another benchmark's real-traffic
 * part, say) make every run of every program also read the clock twice and
 * count, about 30 ns here, which no packet pays otherwise.  They are on when
 * a run moves a program's run_cnt.
 */
static __u64 run_cnt(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("bpf_prog_info: %s", strerror(errno));
	return info.run_cnt;
}

/* Waits for the statistics to be off, 10 s at most over the whole run; 1 if
 * they stay on. */
static int stats_wait(struct run_setup *s, int fd)
{
	static int tries = 100;

	for (;;) {
		__u64 before = run_cnt(fd);
		__u32 d;

		if (run_once(fd, s->pkts[0], s->lens[0], &d, NULL))
			die("BPF_PROG_TEST_RUN: %s", strerror(errno));
		if (run_cnt(fd) == before)
			return 0;
		if (tries-- <= 0)
			return 1;
		usleep(100000);
	}
}

static void progset_close(struct run_setup *s, struct progset *ps)
{
	for (int i = 0; i < s->copies; i++) {
		close_classifier(&ps->cur[i]);
		close_classifier(&ps->route[i]);
		close_classifier(&ps->pod[i]);
		if (s->basepath)
			close_classifier(&ps->base[i]);
		bpf_object__close(ps->floor[i]);
	}
	bpf_object__close(ps->parts);
}

/* run_cnt summed over the floor's copies: it moves only while the
 * statistics are on. */
static __u64 floor_run_cnt(struct run_setup *s, struct progset *ps)
{
	__u64 n = 0;

	for (int i = 0; i < s->copies; i++)
		n += run_cnt(first_prog_fd(ps->floor[i]));
	return n;
}

/* Context switches of this thread so far. */
static long switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		die("getrusage: %s", strerror(errno));
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

/*
 * The CPU's speed, seen from user space, in tenths of ns: K_ALU times a
 * fixed loop of 200 steps of integer arithmetic, K_MEM six copies of 4 KiB
 * within the L1 cache.  Neither makes a call, so only the core's own speed
 * moves them: on a VM whose virtual CPU shares a core with other work on
 * the host (another hyperthread) they take longer while that work runs,
 * the first when it computes, the second when it moves memory, and every
 * program then runs slower by more than that, by an amount that depends on
 * the program (README.md, Performance).
 */
enum { K_ALU, K_MEM, K_COUNT };

static uint8_t probe_buf[2][4096];

static uint32_t probe(int kind)
{
	struct timespec a, b;
	uint64_t p = 1, q = 2, r = 3, u = 4;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (kind == K_ALU) {
		for (uint64_t j = 0; j < 200; j++) {
			p += q ^ j;
			q += r ^ p;
			r += u ^ j;
			u += p ^ r;
		}
		/* The loop's results are needed before the second reading. */
		__asm__ volatile("" : : "r"(p), "r"(q), "r"(r), "r"(u));
	} else {
		for (int j = 0; j < 6; j++) {
			memcpy(probe_buf[j & 1], probe_buf[!(j & 1)], sizeof(probe_buf[0]));
			__asm__ volatile("" : : : "memory");
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (uint32_t)(((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec)) * 10);
}

/* The fastest of two probes: an interrupt slows one, rarely both. */
static uint32_t probe2(int kind)
{
	uint32_t a = probe(kind), b = probe(kind);

	return a < b ? a : b;
}

/*
 * Rounds [r0, r1) of a pass, after r1 - r0 / 10 rounds of warm-up that are
 * not kept.  A round takes every unit (the classes, then the parts) in turn,
 * each round starting one unit further on; for each, RUNS times the floor,
 * the program and the base once each, in a random order, the copies in
 * turn.  Each timed run comes right after an untimed run of the same program
 * on the same packet: a run leaves its traces in the caches and branch
 * predictors, and what ran before (another program, the probe, user space)
 * moved the floor's time by 10 % from run to run of the benchmark, the
 * classes' much less; so every program is timed warm, after itself, as in
 * a stream of packets of one class.  sums[g][u][r] gets program g's time summed
 * over the runs of unit u in round r, or 0 when the unit is left out: the
 * CPU went to another task during it or during the unit before (which
 * leaves the caches to the other task and the first runs after it cold).
 * speed[k][u][r] gets the slower of the probes of kind k (probe2) just
 * before and just after the unit's runs: the CPU's speed while they ran.  stats[r] is set
 * when the BPF run-time statistics were on during round r (the floors'
 * run_cnt moved).  Returns the number of units left out.
 */
static long time_rounds(struct run_setup *s, struct progset *ps, int r0, int r1, int runs,
			uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], uint32_t *held[][U_COUNT],
			unsigned char *stats, struct rng *rng)
{
	int ng_cls = s->basepath ? G_COUNT : G_BASE, spoilt = 0;
	long out = 0, sw = switches();
	__u64 cnt = floor_run_cnt(s, ps), cnt1;

	for (int r = r0 - (r1 - r0) / 10; r < r1; r++) {
		for (int k = 0; k < U_COUNT; k++) {
			int u = ((k + r) % U_COUNT + U_COUNT) % U_COUNT;
			int set = u < C_COUNT ? classes[u].set : SET_PLAIN, ng = u < C_COUNT && !set ? ng_cls : G_BASE;
			int pkt = u < C_COUNT ? u : parts[u - C_COUNT].cls, now;
			uint32_t sum[G_COUNT] = { 0 }, sp0[K_COUNT], sp1[K_COUNT];
			long sw1;

			for (int k = 0; k < K_COUNT; k++)
				sp0[k] = probe2(k);
			for (int j = 0; j < runs; j++) {
				int order[G_COUNT] = { G_FLOOR, G_CUR, G_BASE };
				int copy = ((j + r) % s->copies + s->copies) % s->copies;

				for (int i = ng - 1; i > 0; i--) {
					int x = (int)rnd(rng, (uint32_t)i + 1), t = order[i];

					order[i] = order[x];
					order[x] = t;
				}
				for (int i = 0; i < ng; i++) {
					int g = order[i];
					int fd = g == G_FLOOR ? first_prog_fd(ps->floor[copy]) :
						 g == G_BASE ? ps->base[copy].fd :
						 set == SET_ROUTE ? ps->route[copy].fd :
						 set == SET_POD ? ps->pod[copy].fd :
						 u < C_COUNT ? ps->cur[copy].fd : ps->part_fd[u - C_COUNT];
					__u32 d;

					/* Untimed, then timed: see above. */
					if (run_once(fd, s->pkts[pkt], s->lens[pkt], &d, NULL) ||
					    run_once(fd, s->pkts[pkt], s->lens[pkt], &d, NULL))
						die("BPF_PROG_TEST_RUN: %s", strerror(errno));
					sum[g] += d;
				}
			}
			for (int k = 0; k < K_COUNT; k++)
				sp1[k] = probe2(k);
			sw1 = switches();
			now = sw1 != sw;
			sw = sw1;
			if (r < r0)
				continue;
			if (now || spoilt) {
				for (int g = 0; g < ng; g++)
					held[g][u][r] = sum[g];
				memset(sum, 0, sizeof(sum));
				out++;
			}
			spoilt = now;
			for (int g = 0; g < ng; g++)
				sums[g][u][r] = sum[g];
			for (int k = 0; k < K_COUNT; k++)
				speed[k][u][r] = sp0[k] > sp1[k] ? sp0[k] : sp1[k];
		}
		cnt1 = floor_run_cnt(s, ps);
		if (r >= r0)
			stats[r] = cnt1 != cnt;
		cnt = cnt1;
	}
	return out;
}

/*
 * The CPU runs in one of two states (README.md, Performance): at full speed,
 * or slowed down by work outside this machine that shares its core; slowed
 * down, every program runs slower, and by a share that differs from program
 * to program, so ratios measured then differ from those at full speed by 20
 * to 50 %, and how much of a run falls in it is up to the host.  The probe
 * tells them apart: at full speed it stays within a per cent or two of its
 * fastest, slowed down it takes 5 to 60 % longer.  A unit whose probe took
 * more than SPEED_TOL above the run's fastest (its 1st percentile) is left
 * out.
 */
#define SPEED_TOL 0.025

/* The fastest probe of each kind (best[k], ns) of the units in rounds
 * [0, rounds) not left out, and the limits (limit[k], ns); returns the
 * number of units within both.  Rounds with skip[r] set (skip may be NULL) (the floor in its
 * slow mode, see floor_part_gap()) count in neither. */
static long speed_limit(uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], int rounds, double *best,
			double *limit, const unsigned char *skip)
{
	double *v = malloc((size_t)rounds * U_COUNT * sizeof(double) + 1);
	long fast = 0;

	if (!v)
		die("out of memory%s", "");
	for (int k = 0; k < K_COUNT; k++) {
		size_t n = 0;

		for (int u = 0; u < U_COUNT; u++)
			for (int r = 0; r < rounds; r++)
				if (sums[G_FLOOR][u][r] && !(skip && skip[r]))
					v[n++] = speed[k][u][r] / 10.0;
		best[k] = n ? quantile(v, n, 0.01) : 0;
		limit[k] = best[k] * (1 + SPEED_TOL);
	}
	free(v);
	for (int u = 0; u < U_COUNT; u++)
		for (int r = 0; r < rounds; r++)
			fast += sums[G_FLOOR][u][r] && !(skip && skip[r]) && speed[K_ALU][u][r] / 10.0 <= limit[K_ALU] &&
				speed[K_MEM][u][r] / 10.0 <= limit[K_MEM];
	return fast;
}

/* Whether unit u has a round at full speed (probes within limit) that is
 * not left out already and has no skip[r] set (skip may be NULL). */
static int unit_has_fast_round(uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], int u, int rounds,
			       const double *limit, const unsigned char *skip)
{
	for (int r = 0; r < rounds; r++)
		if (sums[G_FLOOR][u][r] && !(skip && skip[r]) && speed[K_ALU][u][r] / 10.0 <= limit[K_ALU] &&
		    speed[K_MEM][u][r] / 10.0 <= limit[K_MEM])
			return 1;
	return 0;
}

/* Whether some unit would have no round at full speed left once the rounds
 * with skip[r] set are left out. */
static int units_left_bare(uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], int rounds, const double *limit,
			   const unsigned char *skip)
{
	for (int u = 0; u < U_COUNT; u++)
		if (!unit_has_fast_round(sums, speed, u, rounds, limit, skip))
			return 1;
	return 0;
}

/* Leaves out (zeroes) every unit with a probe above its limit, but for a
 * class or part that would have nothing left: that one keeps its rounds
 * (the run then warns that the CPU ran slowed down); *out gets their
 * number, *slow_floor the floor's ns per run in them (median; 0 if
 * none). */
static void speed_leave_out(uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], int rounds, int runs,
			    const double *limit, long *out, double *slow_floor)
{
	double *v = malloc((size_t)rounds * U_COUNT * sizeof(double) + 1);
	size_t ns = 0;

	if (!v)
		die("out of memory%s", "");
	*slow_floor = 0;
	for (int u = 0; u < U_COUNT; u++) {
		if (!unit_has_fast_round(sums, speed, u, rounds, limit, NULL))
			continue; /* nothing would be left: keep them all */
		for (int r = 0; r < rounds; r++) {
			if (!sums[G_FLOOR][u][r] || (speed[K_ALU][u][r] / 10.0 <= limit[K_ALU] &&
						     speed[K_MEM][u][r] / 10.0 <= limit[K_MEM]))
				continue;
			v[ns++] = (double)sums[G_FLOOR][u][r] / runs;
			for (int g = 0; g < G_COUNT; g++)
				sums[g][u][r] = 0;
		}
	}
	*out = (long)ns;
	if (ns)
		*slow_floor = quantile(v, ns, 0.5);
	free(v);
}

/*
 * The floor has a slow mode of its own (README.md, Performance): for seconds
 * to minutes at a time its images run 5 to 9 ns slower, and every ratio
 * comes out 8 to 16 % lower.  The speed probes do not see it (the CPU is not
 * slower) and the classes' times do not move with it.  It shows in the parts
 * "call" and "redirect", the floor plus one helper call, 1 to 6 ns dearer
 * than the floor outside the slow mode over a pass: in it, one or both come
 * out cheaper than the floor (-3 to -7 ns; the slow mode can take "call"
 * along).  A pass (tc: the XDP flavour has no parts) where either's median
 * over the pass's rounds at full speed, minus the floor's, is below
 * FLOOR_SLOW_NS (a margin for the noise of a pass's median) is in the slow
 * mode.  The run goes on for more passes, as when the CPU ran slowed down,
 * and its rounds are left out if some other pass was seen out of the slow
 * mode.  A part with fewer than FLOOR_SLOW_MIN such rounds in the pass cannot
 * tell.  Returns the smaller median (NAN: neither can tell).
 */
#define FLOOR_SLOW_NS (-1.0)
#define FLOOR_SLOW_MIN 16

static double floor_part_gap(uint32_t *sums[][U_COUNT], uint32_t *speed[][U_COUNT], int r0, int r1, int runs,
			     const double *limit)
{
	static const int probe_parts[] = { P_CALL, P_REDIRECT };
	double *v = malloc((size_t)(r1 - r0) * sizeof(double) + 1), gap = NAN;

	if (!v)
		die("out of memory%s", "");
	for (size_t i = 0; i < sizeof(probe_parts) / sizeof(probe_parts[0]); i++) {
		int u = C_COUNT + probe_parts[i];
		size_t n = 0;
		double m;

		for (int r = r0; r < r1; r++)
			if (sums[G_FLOOR][u][r] && speed[K_ALU][u][r] / 10.0 <= limit[K_ALU] &&
			    speed[K_MEM][u][r] / 10.0 <= limit[K_MEM])
				v[n++] = ((double)sums[G_CUR][u][r] - sums[G_FLOOR][u][r]) / runs;
		if (n < FLOOR_SLOW_MIN)
			continue;
		m = quantile(v, n, 0.5);
		if (!(gap <= m))
			gap = m;
	}
	free(v);
	return gap;
}

#define USAGE_RUN                                                                                        \
	"bench run [-X] [-n ROUNDS] [-k RUNS] [-p PASSES] [-c COPIES] [-o JSON] [-O OBJ] [-B BASE_OBJ]\n"     \
	"          [-L BASE_LABEL] [-F FLOOR_OBJ] [-P PARTS_OBJ] [-D ROUNDS_FILE] [-T PREFIXES] [-S SERVICES]\n"      \
	"          [-s BASE_SERVICES]"

static int cmd_run(int argc, char **argv)
{
	const char *json = NULL, *baselabel = NULL, *rawpath = NULL;
	static struct run_setup s = { .objpath = "obj/cls_redirect_btf.o", .floorpath = "selftests/progs/floor.bpf.o",
				      .partspath = "selftests/progs/parts.bpf.o", .copies = 8 };
	static struct progset ps;
	/* sums[g][u][r]: program g's time summed over the runs of unit u in
	 * round r (units: the classes, then the parts). */
	uint32_t *sums[G_COUNT][U_COUNT];
	/* speed[k][u][r]: the CPU's speed (probe of kind k, tenths of ns)
	 * while unit u of round r ran. */
	uint32_t *speed[K_COUNT][U_COUNT];
	/* Figures of each unit: ns per run of floor, program, base; the ratios
	 * program / floor, base / floor, program / base; ns above the floor;
	 * ns above the base. */
	struct fig fl[U_COUNT], ns[U_COUNT], bns[U_COUNT], ratio[U_COUNT], bratio[U_COUNT], cb[U_COUNT], cbns[U_COUNT];
	/* known_tcp_pod over known_tcp, the classifier's time in the same
	 * rounds: ratio and ns more. */
	struct fig pod_ratio, pod_ns;
	double above[U_COUNT], flmed[U_COUNT], *pool;
	struct fig floor_all;
	struct obj_cost oc_cls, oc_floor, oc_base;
	struct flowports fp;
	struct rng rng = { 0x0de5 };
	uint8_t srv[4];
	const char *what;
	char err[256];
	int rounds = 10000, runs = 8, passes = 20, opt, cpu, stats_passes = 0, passes_used, p, per, passes_asked;
	unsigned char stats_pass[MAX_PASSES * EXTEND], *stats_round;
	/* Per round: its pass had the floor in its slow mode (floor_part_gap()). */
	unsigned char *floor_slow;
	/* held[g][u][r]: sums[g][u][r] as measured where time_rounds() left it
	 * out (another task ran on this CPU), else 0. */
	uint32_t *held[G_COUNT][U_COUNT];
	int floor_slow_passes = 0, floor_fast_passes = 0, floor_slow_kept, floor_slow_out, cheap_part;
	long stats_rounds = 0, fast;
	long left_out = 0, slow_out;
	double speed_best[K_COUNT], speed_lim[K_COUNT], slow_floor;
	cpu_set_t set;

	while ((opt = getopt(argc, argv, "Xn:k:p:c:o:O:B:L:F:P:D:T:S:s:")) != -1) {
		switch (opt) {
		case 'X':
			xdp_mode = 1;
			s.objpath = "obj/cls_redirect_xdp_btf.o";
			s.floorpath = "selftests/progs/floor_xdp.bpf.o";
			break;
		case 'n': rounds = atoi(optarg); break;
		case 'k': runs = atoi(optarg); break;
		case 'p': passes = atoi(optarg); break;
		case 'c': s.copies = atoi(optarg); break;
		case 'o': json = optarg; break;
		case 'O': s.objpath = optarg; break;
		case 'B': s.basepath = optarg; break;
		case 'L': baselabel = optarg; break;
		case 'F': s.floorpath = optarg; break;
		case 'P': s.partspath = optarg; break;
		case 'D': rawpath = optarg; break;
		case 'T': trust_prefixes = atoi(optarg); break;
		case 'S': n_services = atoi(optarg); break;
		case 's': base_services = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: " USAGE_RUN "\n");
			return 1;
		}
	}
	if (trust_prefixes < 0 || trust_prefixes > CLS_REDIRECT_TRUST_ENTRIES) {
		fprintf(stderr, "bench: -T %d: a trust list holds 0 (then 0.0.0.0/0) to %d prefixes\n",
			trust_prefixes, CLS_REDIRECT_TRUST_ENTRIES);
		return 1;
	}
	if (n_services < 0 || n_services > CLS_REDIRECT_SERVICES_MAX - 1 || base_services < -1 ||
	    base_services > CLS_REDIRECT_SERVICES_MAX - 1) {
		fprintf(stderr, "bench: -S %d -s %d: give 0 to %d services (the pod's takes one more entry)\n",
			n_services, base_services, CLS_REDIRECT_SERVICES_MAX - 1);
		return 1;
	}
	if (runs < 1 || runs > 1000 || passes < 1 || passes > MAX_PASSES || rounds < passes * 10 || rounds % passes ||
	    s.copies < 1 || s.copies > MAX_COPIES) {
		fprintf(stderr,
			"bench: -n %d -k %d -p %d -c %d: give 1 to %d passes of at least 10 rounds each, rounds a multiple of passes, 1 to 1000 "
			"runs per round and 1 to %d copies\n",
			rounds, runs, passes, s.copies, MAX_PASSES, MAX_COPIES);
		return 1;
	}
	if (!baselabel)
		baselabel = s.basepath;
	if (harness_netns(0, &what, err, sizeof(err)))
		die("%s", err);
	fp = tcp_flow();
	if (harness_pod("clsbpod0", "eth0", pod_flow_make, &pod_flow, &pod_ifindex, &pod_netnsid, err, sizeof(err)))
		die("known_tcp_pod: %s", err);
	libbpf_set_print(libbpf_quiet);

	/* Verifier cost and load time first, in a quiet moment. */
	obj_cost(s.objpath, &oc_cls);
	obj_cost(s.floorpath, &oc_floor);
	if (s.basepath) {
		obj_cost(s.basepath, &oc_base);
		oc_base.path = baselabel;
	}

	inet_pton(AF_INET, SRV_ADDR, srv);
	s.cfg = harness_config(srv, GUE_PORT);
	s.route_cfg = s.cfg;
	s.route_cfg.flags = CLS_REDIRECT_F_ROUTE;
	route_setup();
	for (int c = 0; c < C_COUNT; c++)
		s.lens[c] = build_class(c, s.pkts[c], &fp, NULL);
	for (int g = 0; g < G_COUNT; g++)
		for (int u = 0; u < U_COUNT; u++) {
			sums[g][u] = calloc((size_t)rounds * EXTEND, sizeof(uint32_t));
			held[g][u] = calloc((size_t)rounds * EXTEND, sizeof(uint32_t));
			if (!sums[g][u] || !held[g][u])
				die("out of memory%s", "");
		}
	for (int k = 0; k < K_COUNT; k++)
		for (int u = 0; u < U_COUNT; u++)
			if (!(speed[k][u] = calloc((size_t)rounds * EXTEND, sizeof(uint32_t))))
				die("out of memory%s", "");
	if (!(stats_round = calloc((size_t)rounds * EXTEND, 1)))
		die("out of memory%s", "");
	if (!(floor_slow = calloc((size_t)rounds * EXTEND, 1)))
		die("out of memory%s", "");
	per = rounds / passes;
	passes_asked = passes;

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

	/* Where the JIT puts a program moves its cost by several ns, and the
	 * same image loaded twice lands elsewhere: every pass times fresh
	 * copies, so a figure is an average over passes * copies placements.
	 * A round during which the run-time statistics were on, even for a
	 * moment, is not used while other rounds were clean of them. */
	for (p = 0; p < passes * EXTEND; p++) {
		int r0 = p * per, r1 = (p + 1) * per;

		/* Slowed down for much of the time: more passes, until half
		 * the units planned ran at full speed. */
		if (p >= passes && speed_limit(sums, speed, r0, speed_best, speed_lim, floor_slow) >= (long)rounds * U_COUNT / 2)
			break;
		progset_load(&s, &ps, &rng);
		stats_wait(&s, first_prog_fd(ps.floor[0]));
		left_out += time_rounds(&s, &ps, r0, r1, runs, sums, speed, held, stats_round, &rng);
		stats_pass[p] = 0;
		for (int r = r0; r < r1; r++) {
			stats_rounds += stats_round[r];
			stats_pass[p] |= stats_round[r];
		}
		stats_passes += stats_pass[p];
		progset_close(&s, &ps);
		if (!xdp_mode) {
			double gap;

			speed_limit(sums, speed, r1, speed_best, speed_lim, floor_slow);
			gap = floor_part_gap(sums, speed, r0, r1, runs, speed_lim);
			if (gap < FLOOR_SLOW_NS) {
				memset(floor_slow + r0, 1, (size_t)per);
				floor_slow_passes++;
			} else if (gap == gap) {
				floor_fast_passes++;
			}
		}
	}
	passes = p;
	rounds = p * per;
	/* The shares spoilt by another task stay left out, but for a class or
	 * part that has none left (a CPU busy with other work all along): that
	 * one gets them back. */
	for (int u = 0; u < U_COUNT; u++) {
		int r = 0;

		while (r < rounds && !sums[G_FLOOR][u][r])
			r++;
		for (int q = 0; r == rounds && q < rounds; q++) {
			left_out -= held[G_FLOOR][u][q] != 0;
			for (int g = 0; g < G_COUNT; g++)
				if (held[g][u][q])
					sums[g][u][q] = held[g][u][q];
		}
	}
	if (rawpath) {
		FILE *f = fopen(rawpath, "w");

		if (!f)
			die("cannot write %s", rawpath);
		fprintf(f, "round unit floor current base stats alu mem floor_slow\n");
		for (int r = 0; r < rounds; r++)
			for (int u = 0; u < U_COUNT; u++)
				fprintf(f, "%d %s %u %u %u %d %u %u %d\n", r, u < C_COUNT ? classes[u].name : parts[u - C_COUNT].name,
					sums[G_FLOOR][u][r], sums[G_CUR][u][r], sums[G_BASE][u][r], stats_round[r],
					speed[K_ALU][u][r], speed[K_MEM][u][r], floor_slow[r]);
		if (ferror(f) | fclose(f))
			die("cannot write %s", rawpath);
	}

	/* From here on, only the rounds clean of run-time statistics, if any. */
	if (stats_rounds && stats_rounds < rounds)
		for (int r = 0; r < rounds; r++)
			for (int u = 0; stats_round[r] && u < U_COUNT; u++)
				for (int g = 0; g < G_COUNT; g++)
					sums[g][u][r] = 0;
	passes_used = 0;
	for (int q = 0; q < passes; q++) {
		int clean = stats_rounds == rounds;

		for (int r = q * per; r < (q + 1) * per; r++)
			clean |= !stats_round[r];
		passes_used += clean;
	}

	/* From here on, only the units the CPU ran at full speed (fast counts
	 * them, the floor's slow mode or not). */
	fast = speed_limit(sums, speed, rounds, speed_best, speed_lim, NULL);
	/* The passes the floor spent in its slow mode are left out, if another
	 * pass was seen out of it and every class and part keeps a round at
	 * full speed without them; else all are kept, and the warning below
	 * says so. */
	floor_slow_out = floor_fast_passes && floor_slow_passes &&
			 !units_left_bare(sums, speed, rounds, speed_lim, floor_slow);
	if (floor_slow_out)
		for (int r = 0; r < rounds; r++)
			for (int u = 0; floor_slow[r] && u < U_COUNT; u++)
				for (int g = 0; g < G_COUNT; g++)
					sums[g][u][r] = 0;
	speed_leave_out(sums, speed, rounds, runs, speed_lim, &slow_out, &slow_floor);

	pool = malloc((size_t)rounds * U_COUNT * sizeof(double));
	if (!pool)
		die("out of memory%s", "");
	for (int u = 0; u < U_COUNT; u++) {
		fl[u] = round_figure(sums[G_FLOOR][u], NULL, rounds, passes, runs, 0);
		ns[u] = round_figure(sums[G_CUR][u], NULL, rounds, passes, runs, 0);
		ratio[u] = round_figure(sums[G_CUR][u], sums[G_FLOOR][u], rounds, passes, runs, 1);
		above[u] = round_figure(sums[G_CUR][u], sums[G_FLOOR][u], rounds, passes, runs, 0).med;
		flmed[u] = fl[u].med;
		if (s.basepath && u < C_COUNT && !classes[u].set) {
			bns[u] = round_figure(sums[G_BASE][u], NULL, rounds, passes, runs, 0);
			bratio[u] = round_figure(sums[G_BASE][u], sums[G_FLOOR][u], rounds, passes, runs, 1);
			cb[u] = round_figure(sums[G_CUR][u], sums[G_BASE][u], rounds, passes, runs, 1);
			cbns[u] = round_figure(sums[G_CUR][u], sums[G_BASE][u], rounds, passes, runs, 0);
		}
		for (int r = 0; r < rounds; r++)
			pool[(size_t)u * rounds + r] = sums[G_FLOOR][u][r] ? (double)sums[G_FLOOR][u][r] / runs : NAN;
	}
	floor_all = figure(pool, rounds * U_COUNT, 1);
	/* The part that came out cheapest against the floor (floor_part_gap()). */
	cheap_part = above[C_COUNT + P_CALL] < above[C_COUNT + P_REDIRECT] ? P_CALL : P_REDIRECT;
	floor_slow_kept = !xdp_mode && above[C_COUNT + cheap_part] < FLOOR_SLOW_NS;
	pod_ratio = round_figure(sums[G_CUR][C_KNOWN_POD], sums[G_CUR][C_KNOWN_TCP], rounds, passes, runs, 1);
	pod_ns = round_figure(sums[G_CUR][C_KNOWN_POD], sums[G_CUR][C_KNOWN_TCP], rounds, passes, runs, 0);

	printf("BPF_PROG_TEST_RUN, one packet per run (repeat = 1, fresh skb each run), pinned to CPU %d.\n"
	       "%d rounds; in each, every class and part runs %d times next to the floor (an empty %s program)%s,\n"
	       "one run of each after the other on the same packet, in a random order, each timed right after\n"
	       "an untimed run of the same program (warm).  ns: the median over\n"
	       "the rounds of a program's mean time per run.  ratio: the median over the rounds of the\n"
	       "round's time of the program over the floor's in the same round (the judged figure).\n"
	       "spread: the lowest and highest median of %d passes%s (equal stretches of the rounds, each\n"
	       "with %d fresh loads of every program: where the JIT puts a program moves its cost).\n"
	       "Floor: %.1f ns per run (interquartile range of the rounds %.1f-%.1f).\n",
	       cpu, rounds, runs, xdp_mode ? "XDP" : "tc", s.basepath ? " and the base" : "", passes,
	       passes > passes_asked ? " (more than asked, see below)" : "", s.copies, floor_all.med,
	       floor_all.q25, floor_all.q75);
	printf("CPU speed: two fixed loops timed in user space before and after each class or part of a\n"
	       "round, one of arithmetic, one copying memory within the L1 cache, took %.1f and %.1f ns at\n"
	       "best.  One of them took more than %.1f %% longer around %ld of the %ld (%.0f %%): there\n"
	       "the CPU ran slowed down by other work on its core, outside this machine, and the floor\n"
	       "took %.1f ns.  Those are left out, and %ld in or right after which this CPU ran another task.\n",
	       speed_best[K_ALU], speed_best[K_MEM], 100 * SPEED_TOL, slow_out, (long)rounds * U_COUNT,
	       100.0 * slow_out / ((double)rounds * U_COUNT), slow_floor, left_out);
	if (!xdp_mode)
		printf("The floor's slow mode (README.md, Performance): the part \"call\" or \"redirect\", programs\n"
		       "that do more, came out over %.1f ns cheaper than the floor in %d of %d passes%s.\n",
		       -FLOOR_SLOW_NS, floor_slow_passes, passes,
		       !floor_slow_passes ? "" : floor_slow_out ? ": those are left out" : ": all kept, see below");
	if (fast < (long)passes_asked * per * U_COUNT / 2)
		printf("WARNING: the CPU ran slowed down during most of the run, even with %d times the passes\n"
		       "asked (work outside this machine on its core): the figures come from the rest, and if it\n"
		       "never ran at full speed they are not comparable with another run's.  Compare the speed\n"
		       "probes' fastest with theirs.\n", EXTEND);
	/* The floor's slow mode (floor_part_gap()) in the figures kept: a
	 * part that does more comes out cheaper than the floor. */
	if (floor_slow_kept)
		printf("WARNING: the floor ran slower than the part \"%s\" (%.1f ns), a program that does more:\n"
		       "the floor was in its slow mode for much of the run, and every ratio is 8 to 16 %% lower\n"
		       "than in a run without.  Compare ratios only between runs without this warning.\n",
		       parts[cheap_part].name, above[C_COUNT + cheap_part]);
	if (stats_rounds == rounds)
		printf("WARNING: the kernel's BPF run-time statistics were on during every round (kernel.bpf_stats_enabled,\n"
		       "or BPF_ENABLE_STATS held by another process): every run paid for them, so the floor is\n"
		       "higher and every ratio lower than without.  Run again when they are off.\n");
	else if (stats_rounds)
		printf("The kernel's BPF run-time statistics were on during %ld of %d rounds (another process):\n"
		       "the figures are from the other %ld.\n",
		       stats_rounds, rounds, rounds - stats_rounds);
	if (s.basepath)
		printf("base: %s.  cur/base: the median over the rounds of the program's time over the base's;\n"
		       "+ns: the same of the program's ns per run minus the base's.\n",
		       baselabel);
	if (n_services || base_services > 0)
		printf("Services listed, none a class's destination: %d in the program, %d in the base.\n", n_services,
		       base_services < 0 ? n_services : base_services);
	printf("\n%-17s %6s %6s %7s %13s", "class", "floor", "ns", "ratio", "spread");
	if (s.basepath)
		printf(" %6s %7s %8s %13s %6s", "base", "ratio", "cur/base", "spread", "+ns");
	printf(" %9s  %s\n", "target", "path");
	for (int c = 0; c < C_COUNT; c++) {
		char spread[32], tgt[16] = "-";

		snprintf(spread, sizeof(spread), "%.3f-%.3f", ratio[c].lo, ratio[c].hi);
		/* The targets are the tc flavour's, over the tc floor. */
		if (classes[c].target && !xdp_mode)
			snprintf(tgt, sizeof(tgt), "%.1fx %s", classes[c].target,
				 ratio[c].med <= classes[c].target ? "ok" : "MISS");
		printf("%-17s %6.1f %6.1f %6.3fx %13s", classes[c].name, fl[c].med, ns[c].med, ratio[c].med, spread);
		/* The route and pod classes have no base: a revision without route
		 * would only swap MAC addresses (their MAC-swap twins are forward,
		 * gre), and one without services would forward the pod's flow. */
		if (s.basepath && classes[c].set) {
			printf(" %6s %7s %8s %13s %6s", "-", "-", "-", "-", "-");
		} else if (s.basepath) {
			snprintf(spread, sizeof(spread), "%.3f-%.3f", cb[c].lo, cb[c].hi);
			printf(" %6.1f %6.3fx %7.3fx %13s %6.1f", bns[c].med, bratio[c].med, cb[c].med, spread, cbns[c].med);
		}
		printf(" %9s  %s\n", tgt, classes[c].what);
	}
	printf("\nThe known flow in a pod against the same flow in the host namespace (known_tcp_pod over\n"
	       "known_tcp, the classifier's time in the same rounds): %.3fx (spread %.3f-%.3f), %+.1f ns.\n",
	       pod_ratio.med, pod_ratio.lo, pod_ratio.hi, pod_ns.med);
	/* The parts are tc programs: beside the XDP floor they say nothing. */
	if (!xdp_mode)
		print_parts(above, flmed);
	printf("\n%-28s %14s %12s %11s %9s\n", "object", "verified_insns", "xlated", "jited", "load");
	obj_line(&oc_cls, oc_cls.verified_insns < 20000 ? "  (target < 20000 insns: ok)" :
							   "  (target < 20000 insns: MISS)");
	if (s.basepath)
		obj_line(&oc_base, "  (base)");
	obj_line(&oc_floor, "");

	if (json) {
		FILE *f = fopen(json, "w");
		struct utsname un;

		if (!f)
			die("cannot write %s", json);
		uname(&un);
		fprintf(f, "{\"method\":{\"rounds\":%d,\"runs_per_round\":%d,\"passes\":%d,\"passes_asked\":%d,"
			   "\"repeat\":1,\"copies\":%d,"
			   "\"passes_with_bpf_stats\":%d,\"passes_used\":%d,\"rounds_with_bpf_stats\":%ld,"
			   "\"rounds_left_out\":%ld,\"speed_probe_ns\":%.1f,\"speed_limit_ns\":%.1f,"
			   "\"memory_probe_ns\":%.1f,\"memory_limit_ns\":%.1f,\"units\":%ld,"
			   "\"units_slowed\":%ld,\"slowed_floor_ns\":%.1f,\"floor_slow_passes\":%d,\"floor_slow_mode\":%s,\"cpu\":%d,"
			   "\"services\":%d,\"base_services\":%d,\"kernel\":",
			rounds, runs, passes, passes_asked, s.copies, stats_passes, passes_used, stats_rounds, left_out, speed_best[K_ALU],
			speed_lim[K_ALU], speed_best[K_MEM], speed_lim[K_MEM], (long)rounds * U_COUNT, slow_out, slow_floor,
			floor_slow_passes,
			floor_slow_kept ? "true" : "false", cpu, n_services,
			base_services < 0 ? n_services : base_services);
		json_str(f, un.release);
		fprintf(f, "},\n\"floor\":{\"ns\":%.2f,\"ns_q25\":%.2f,\"ns_q75\":%.2f},\n", floor_all.med,
			floor_all.q25, floor_all.q75);
		if (s.basepath) {
			fprintf(f, "\"base\":{\"label\":");
			json_str(f, baselabel);
			fprintf(f, ",\"object\":");
			json_str(f, s.basepath);
			fprintf(f, "},\n");
		}
		fprintf(f, "\"classes\":[");
		for (int c = 0; c < C_COUNT; c++) {
			fprintf(f, "%s\n {\"name\":", c ? "," : "");
			json_str(f, classes[c].name);
			fprintf(f, ",\"path\":");
			json_str(f, classes[c].what);
			fprintf(f, ",\"counter\":");
			json_str(f, harness_metric_names[classes[c].counter]);
			fprintf(f, ",\"retval\":%d,\"floor_ns\":%.2f,\"ns\":%.2f", (int)class_ret(c), fl[c].med,
				ns[c].med);
			json_fig(f, "ratio", ratio[c]);
			if (classes[c].target && !xdp_mode)
				fprintf(f, ",\"target\":%.1f,\"met\":%s", classes[c].target,
					ratio[c].med <= classes[c].target ? "true" : "false");
			if (s.basepath && !classes[c].set) {
				fprintf(f, ",\"base_ns\":%.2f", bns[c].med);
				json_fig(f, "base_ratio", bratio[c]);
				json_fig(f, "cur_over_base", cb[c]);
				json_fig(f, "cur_minus_base_ns", cbns[c]);
			}
			fputc('}', f);
		}
		json_parts(f, above, flmed);
		fprintf(f, "],\n\"objects\":[");
		json_obj(f, &oc_cls, 1);
		json_obj(f, &oc_floor, 0);
		if (s.basepath)
			json_obj(f, &oc_base, 0);
		fprintf(f, "],\n\"pod_over_host\":{\"classes\":[\"known_tcp_pod\",\"known_tcp\"]");
		json_fig(f, "ratio", pod_ratio);
		json_fig(f, "ns_more", pod_ns);
		fprintf(f, "}}\n");
		if (ferror(f) | fclose(f))
			die("cannot write %s", json);
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
	const char *genpath = "selftests/progs/xdpgen.bpf.o";
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

/* Keeps the BPF run-time statistics on (run_time_ns, run_cnt) while it runs:
 * the kernel counts the fds, so they go off when the last holder exits, however
 * it exits, and kernel.bpf_stats_enabled is never written. */
static __attribute__((noreturn)) void cmd_stats(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0)
		die("BPF_ENABLE_STATS: %s", strerror(errno));
	printf("on\n");
	fflush(stdout);
	for (;;)
		pause();
}

static __attribute__((noreturn)) void cmd_tcpflow(void)
{
	struct flowports fp = tcp_flow();

	printf("%u %u\n", fp.cport, fp.sport);
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * The receiving end of the upload of section 3c: listens on PORT (any IPv4
 * address), prints its pid once it listens and goes on in the background;
 * reads every connection to its end and closes it.  Its own CPU time is in
 * /proc/PID/schedstat.
 */
static int cmd_sink(const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	static char buf[1 << 18];
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (void *)&a, sizeof(a)) || listen(l, 8))
		die("sink: cannot listen on TCP port %s", port);
	pid = fork();
	if (pid < 0)
		die("sink: fork: %s", strerror(errno));
	if (pid) {
		printf("%d\n", (int)pid);
		return 0;
	}
	fclose(stdout);
	for (;;) {
		int s = accept(l, NULL, NULL);

		if (s < 0)
			continue;
		while (read(s, buf, sizeof(buf)) > 0)
			;
		close(s);
	}
}

/* The sending end: connects to ADDR:PORT, prints "connected", waits for a
 * line on stdin (time to change the director's row: a second chance for
 * this connection), sends BYTES, waits for the sink to close (it has read
 * them all) and prints "BYTES NS". */
static int cmd_upload(const char *addr, const char *port, const char *bytes)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	static char buf[1 << 18];
	unsigned long long left = strtoull(bytes, NULL, 0), total = left;
	double t0;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		die("upload: %s is not an IPv4 address", addr);
	if (s < 0 || connect(s, (void *)&a, sizeof(a)))
		die("upload: cannot connect to %s", addr);
	printf("connected\n");
	fflush(stdout);
	if (!fgets(buf, sizeof(buf), stdin))
		die("upload: %s", "no go-ahead line on stdin");
	t0 = now_ms();
	while (left) {
		ssize_t n = write(s, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0)
			die("upload: write: %s", strerror(errno));
		left -= (unsigned long long)n;
	}
	if (shutdown(s, SHUT_WR))
		die("upload: shutdown: %s", strerror(errno));
	while (read(s, buf, sizeof(buf)) > 0)
		;
	printf("%llu %.0f\n", total, (now_ms() - t0) * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "tcpflow"))
		cmd_tcpflow();
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		cmd_stats();
	if (argc >= 3 && !strcmp(argv[1], "proginfo"))
		return cmd_proginfo(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return cmd_sink(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "upload"))
		return cmd_upload(argv[2], argv[3], argv[4]);
	if (argc >= 2 && !strcmp(argv[1], "classes")) {
		for (int c = 0; c < C_COUNT; c++)
			printf("%s\t%s\n", classes[c].name, classes[c].what);
		return 0;
	}
	fprintf(stderr, "usage: " USAGE_RUN "\n"
			"       bench gen IFNAME CLASS SECONDS DSTMAC [CPORT SPORT]\n"
			"       bench tcpflow\n"
			"       bench stats\n"
			"       bench proginfo PROG_ID\n"
			"       bench sink PORT\n"
			"       bench upload ADDR PORT BYTES\n"
			"       bench classes\n"
			"(see selftests/bench/bench.sh; run as root)\n");
	return 1;
}
