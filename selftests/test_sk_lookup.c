/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The classifier and an sk_lookup dispatcher together (tc-cls-redirect.8,
 * CONTAINERS, "sk_lookup"): a real BPF_PROG_TYPE_SK_LOOKUP program
 * (selftests/progs/sk_lookup.bpf.o) steers TCP and UDP for 10.99.0.1:80 to
 * sockets bound to 127.0.0.1:7000 and :7001, first in the test's own
 * namespace, then in a service namespace listed in cls_redirect_services.
 * The classifier runs through BPF_PROG_TEST_RUN, each case checking the
 * verdict and the outcome counter:
 *
 *   - TCP: the connection the steered listener accepted counts as local
 *     (accepted_packets_total_established) while an alternative is left; a
 *     flow it does not know is forwarded (the listener alone is not enough);
 *     the ACK completing a handshake the steered listener answered with a
 *     SYN cookie (net.ipv4.tcp_syncookies=2, a raw SYN from 127.0.0.9) is
 *     local too (accepted_packets_total_syn_cookies), and one with a wrong
 *     cookie is forwarded.
 *   - UDP: sk_lookup can only steer to an unconnected socket, so a flow is
 *     forwarded while an alternative is left and accepted at the last hop;
 *     a datagram sent to 10.99.0.1:80 reaches the steered socket.
 *
 * Usage: test_sk_lookup   (root, from the top of the tree)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h"
#include "harness.h"
#include "pkt.h"

#define M(x) CLS_REDIRECT_METRIC_##x
#define OUR "192.0.2.10"
#define DIRECTOR "192.0.2.1"
#define VIP "10.99.0.1"
#define VIP_PORT 80
#define ELSE "127.0.0.1"
#define TCP_ELSE 7000
#define UDP_ELSE 7001
#define CLI "127.0.0.3"
/* The SYN cookie's client: local, so the SYN-ACK comes back on lo. */
#define COOKIE_CLI "127.0.0.9"
#define COOKIE_PORT 30005
#define COOKIE_ISN 1000u
#define SK_LOOKUP_OBJ "selftests/progs/sk_lookup.bpf.o"

static struct harness H;
static int n_fail;

static void result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS %s\n", name);
		return;
	}
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	n_fail++;
}

/* A GUE frame from src:sport to the VIP; next_hop k of 1; seq and ack
 * (TCP) if ack is not 0. */
static size_t frame_from(uint8_t *f, int k, uint8_t proto, const char *src, uint16_t sport, uint8_t flags,
			 uint32_t seq, uint32_t ack)
{
	struct pkt_encap e = pkt_encap(DIRECTOR, OUR, CLS_REDIRECT_GLB_PORT);
	struct pkt_ip ip = pkt_ip4(src, VIP);
	uint8_t l4[128], in[256];
	struct pkt_tcp t = pkt_tcp(sport, VIP_PORT, flags);
	size_t n;

	if (ack)
		t.seq = seq, t.ack = ack;
	e.n_hops = 1;
	e.next_hop = (uint8_t)k;
	inet_pton(AF_INET, "198.51.100.1", e.hops[0]);
	if (proto == IPPROTO_TCP)
		n = pkt_tcp_build(l4, &t, "hi", 2);
	else
		n = pkt_udp_build(l4, sport, VIP_PORT, -1, "hi", 2);
	n = pkt_ip_build(in, &ip, proto, l4, n);
	return pkt_frame_build(f, &e, in, n);
}

static size_t frame(uint8_t *f, int k, uint8_t proto, uint16_t sport, uint8_t flags)
{
	return frame_from(f, k, proto, CLI, sport, flags, 0, 0);
}

/* One run: verdict want_ret, processed and the outcome counter +1. */
static void expect(const char *name, const uint8_t *f, size_t n, uint32_t want_ret, int outcome)
{
	uint64_t before[CLS_REDIRECT_METRIC_COUNT], after[CLS_REDIRECT_METRIC_COUNT];
	uint8_t out[512];
	size_t out_len;
	uint32_t ret;

	if (harness_read_metrics(&H, before) || harness_run(&H, f, n, out, sizeof(out), &out_len, &ret, NULL) ||
	    harness_read_metrics(&H, after)) {
		result(0, name, "%s", H.err);
		return;
	}
	result(ret == want_ret && after[outcome] - before[outcome] == 1 &&
		       after[M(PROCESSED)] - before[M(PROCESSED)] == 1,
	       name, "verdict %u (expected %u), %s %+lld (expected +1)", ret, want_ret, harness_metric_names[outcome],
	       (long long)(after[outcome] - before[outcome]));
}

static int bound(int type, const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, type, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

/*
 * In the current namespace: the VIP on lo, the sockets bound elsewhere, the
 * sk_lookup program attached to the namespace, a TCP connection to the
 * VIP that the steered listener accepted, and the SYN cookie it answered
 * COOKIE_CLI's SYN with (*cookie).  Returns the client's port, or 0.
 */
static uint16_t steer_here(const char *where, int *udp_fd, uint32_t *cookie)
{
	struct sockaddr_in vip = { .sin_family = AF_INET, .sin_port = htons(VIP_PORT) }, me;
	socklen_t len = sizeof(me);
	struct bpf_object *obj;
	struct bpf_program *prog;
	int l, c, netns, map, key;
	__u64 val;
	char name[64], err[256];

	snprintf(name, sizeof(name), "%s_setup", where);
	inet_pton(AF_INET, VIP, &vip.sin_addr);
	if (harness_sh("ip link set lo up && ip addr add " VIP "/32 dev lo")) {
		result(0, name, "ip addr add " VIP "/32 dev lo failed");
		return 0;
	}
	l = bound(SOCK_STREAM, ELSE, TCP_ELSE);
	*udp_fd = bound(SOCK_DGRAM, ELSE, UDP_ELSE);
	if (l < 0 || *udp_fd < 0 || listen(l, 8)) {
		result(0, name, "sockets on " ELSE ": %s", strerror(errno));
		return 0;
	}
	obj = bpf_object__open_file(SK_LOOKUP_OBJ, NULL);
	if (!obj || bpf_object__load(obj)) {
		result(0, name, "cannot load " SK_LOOKUP_OBJ " (make tests)");
		return 0;
	}
	prog = bpf_object__find_program_by_name(obj, "steer");
	map = bpf_map__fd(bpf_object__find_map_by_name(obj, "steer_socks"));
	key = 0;
	val = (__u64)l;
	if (bpf_map_update_elem(map, &key, &val, BPF_ANY)) {
		result(0, name, "sockmap: %s", strerror(errno));
		return 0;
	}
	key = 1;
	val = (__u64)*udp_fd;
	if (bpf_map_update_elem(map, &key, &val, BPF_ANY)) {
		result(0, name, "sockmap: %s", strerror(errno));
		return 0;
	}
	netns = open("/proc/self/ns/net", O_RDONLY);
	if (netns < 0 || bpf_link_create(bpf_program__fd(prog), netns, BPF_SK_LOOKUP, NULL) < 0) {
		result(0, name, "attaching the sk_lookup program: %s (Linux 5.9 or later)", strerror(errno));
		return 0;
	}
	c = bound(SOCK_STREAM, CLI, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&vip, sizeof(vip)) || accept(l, NULL, NULL) < 0 ||
	    getsockname(c, (struct sockaddr *)&me, &len)) {
		result(0, name, "connecting to " VIP ":80 through the steered listener: %s", strerror(errno));
		return 0;
	}
	if (harness_syn_cookie(COOKIE_CLI, COOKIE_PORT, VIP, VIP_PORT, COOKIE_ISN, cookie, err, sizeof(err))) {
		result(0, name, "a SYN cookie from the steered listener: %s", err);
		return 0;
	}
	result(1, name, "");
	return ntohs(me.sin_port);
}

/* A datagram to the VIP reaches the steered, unconnected socket: what the
 * stack does with a packet the classifier accepted at the last hop. */
static void udp_delivered(const char *name, int udp_fd)
{
	struct sockaddr_in vip = { .sin_family = AF_INET, .sin_port = htons(VIP_PORT) };
	struct pollfd p = { .fd = udp_fd, .events = POLLIN };
	char buf[8] = "";
	int s = bound(SOCK_DGRAM, CLI, 0);

	inet_pton(AF_INET, VIP, &vip.sin_addr);
	if (s < 0 || sendto(s, "hi", 2, 0, (struct sockaddr *)&vip, sizeof(vip)) != 2) {
		result(0, name, "sendto: %s", strerror(errno));
		return;
	}
	result(poll(&p, 1, 2000) == 1 && recv(udp_fd, buf, sizeof(buf), 0) == 2 && !memcmp(buf, "hi", 2), name,
	       "nothing arrived on " ELSE ":%d within 2 s", UDP_ELSE);
	close(s);
}

/* The cases; svc: the flows are a service's (accepted = redirected). */
static void cases(const char *where, uint16_t cport, uint32_t cookie, int svc)
{
	uint32_t acc = svc ? HARNESS_RET_REDIRECT : 0; /* TC_ACT_OK for IPv4 on the host */
	char name[128];
	uint8_t f[512];
	size_t n;

	n = frame(f, 0, IPPROTO_TCP, cport, PKT_TCP_ACK);
	snprintf(name, sizeof(name), "%s_tcp_steered_connection_is_local", where);
	expect(name, f, n, acc, M(ACCEPTED_ESTABLISHED));
	n = frame(f, 0, IPPROTO_TCP, 5555, PKT_TCP_ACK);
	snprintf(name, sizeof(name), "%s_tcp_unknown_flow_forwarded", where);
	expect(name, f, n, HARNESS_RET_REDIRECT, M(FORWARDED_GUE));
	n = frame(f, 0, IPPROTO_TCP, 5555, PKT_TCP_SYN);
	snprintf(name, sizeof(name), "%s_tcp_syn_accepted", where);
	expect(name, f, n, acc, M(ACCEPTED_SYN));
	n = frame_from(f, 0, IPPROTO_TCP, COOKIE_CLI, COOKIE_PORT, PKT_TCP_ACK, COOKIE_ISN + 1, cookie + 1);
	snprintf(name, sizeof(name), "%s_tcp_syn_cookie_of_steered_listener_is_local", where);
	expect(name, f, n, acc, M(ACCEPTED_SYN_COOKIES));
	n = frame_from(f, 0, IPPROTO_TCP, COOKIE_CLI, COOKIE_PORT, PKT_TCP_ACK, COOKIE_ISN + 1,
		       cookie + 1 + 0x10000000u);
	snprintf(name, sizeof(name), "%s_tcp_wrong_syn_cookie_forwarded", where);
	expect(name, f, n, HARNESS_RET_REDIRECT, M(FORWARDED_GUE));
	n = frame(f, 0, IPPROTO_UDP, 5555, 0);
	snprintf(name, sizeof(name), "%s_udp_steered_unconnected_forwarded", where);
	expect(name, f, n, HARNESS_RET_REDIRECT, M(FORWARDED_GUE));
	n = frame(f, 1, IPPROTO_UDP, 5555, 0);
	snprintf(name, sizeof(name), "%s_udp_last_hop_accepted", where);
	expect(name, f, n, acc, M(ACCEPTED_LAST_HOP));
}

static void put_service(uint8_t proto, int ifindex, int netnsid)
{
	struct cls_redirect_service_key k = { .family = 4, .proto = proto, .port = htons(VIP_PORT) };
	struct cls_redirect_service v = { .netnsid = (__u32)netnsid, .ifindex = (__u32)ifindex };
	struct bpf_map *m = bpf_object__find_map_by_name(H.obj, CLS_REDIRECT_SERVICES_MAP);

	inet_pton(AF_INET, VIP, k.addr);
	if (!m || bpf_map_update_elem(bpf_map__fd(m), &k, &v, BPF_ANY))
		result(0, "pod_services", "cannot write %s", CLS_REDIRECT_SERVICES_MAP);
}

/* What steer_here() sets up in the pod (harness_pod runs it there). */
struct steered {
	uint16_t cport;
	int udp_fd;
	uint32_t cookie;
};

static void steer_in_pod(void *arg)
{
	struct steered *st = arg;

	st->cport = steer_here("pod", &st->udp_fd, &st->cookie);
	if (st->cport)
		udp_delivered("pod_udp_steered_socket_receives", st->udp_fd);
}

int main(void)
{
	const char *what;
	char err[256];
	uint8_t our[4];
	struct cls_redirect_config cfg;
	struct steered pod = { 0 };
	int udp_fd, ifindex, netnsid;
	uint32_t cookie;
	uint16_t cport;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (harness_netns(1, &what, err, sizeof(err)) && strcmp(what, "default_route")) {
		printf("FAIL setup_%s: %s\n", what, err);
		return 1;
	}
	if (harness_load(&H, "obj/cls_redirect_btf.o")) {
		printf("FAIL setup_load: %s\n", H.err);
		return 1;
	}
	inet_pton(AF_INET, OUR, our);
	cfg = harness_config(our, CLS_REDIRECT_GLB_PORT);
	if (harness_set_config(&H, &cfg)) {
		printf("FAIL setup_config: %s\n", H.err);
		return 1;
	}

	/* In this namespace. */
	cport = steer_here("host", &udp_fd, &cookie);
	if (cport) {
		cases("host", cport, cookie, 0);
		udp_delivered("host_udp_steered_socket_receives", udp_fd);
	}

	/* In a service namespace behind a veth, listed as the VIP's service. */
	if (harness_pod("crskl0", "crskl1", steer_in_pod, &pod, &ifindex, &netnsid, err, sizeof(err))) {
		printf("FAIL setup_pod: %s\n", err);
		return 1;
	}
	put_service(IPPROTO_TCP, ifindex, netnsid);
	put_service(IPPROTO_UDP, ifindex, netnsid);
	cfg.flags |= CLS_REDIRECT_F_SERVICES; /* as cls-redirect-config keeps it: a port */
	if (harness_set_config(&H, &cfg)) {
		printf("FAIL setup_config: %s\n", H.err);
		return 1;
	}
	if (pod.cport)
		cases("pod", pod.cport, pod.cookie, 1);
	return n_fail ? 1 : 0;
}
