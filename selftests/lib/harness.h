/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What every BPF_PROG_TEST_RUN test of the classifier needs: load the
 * object with pinning turned off (a test never touches bpffs), write the
 * config, run one frame, read the per-CPU metrics summed over CPUs, check the
 * counter invariant (tc-cls-redirect.8, METRICS), and move into a private network
 * namespace (so socket lookups see only the sockets the test makes).  And
 * what the C tests report with: a failure reason built check by check
 * (struct why, why_add) and a hexdump.
 *
 * Header-only, static functions: the Makefile builds each selftests/NAME.c into
 * one binary and knows nothing of extra objects.  Functions that fail return
 * -1 and leave a one-line reason in h->err (or in the buffer given), for the
 * caller to print in its own "FAIL ..." format.
 */
#ifndef CLS_REDIRECT_HARNESS_H
#define CLS_REDIRECT_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cls_redirect.h"
#include "cls_redirect_wire.h" /* OFF_GUE */
#include "pkt.h"

/* BPF_PROG_TEST_RUN return values (tc-cls-redirect.8, DECISION TABLE). */
#define HARNESS_RET_PASS 0xffffffffu   /* TC_ACT_UNSPEC */
#define HARNESS_RET_DROP 2u            /* TC_ACT_SHOT */
#define HARNESS_RET_REDIRECT 7u        /* TC_ACT_REDIRECT */
#define HARNESS_RET_OK 0u              /* TC_ACT_OK: accepted IPv4 goes on */

/* The same for the XDP flavour (man page, XDP): pass and accept go up
 * (XDP_PASS), forward is XDP_TX. */
#define HARNESS_XDP_DROP 1u
#define HARNESS_XDP_PASS 2u
#define HARNESS_XDP_TX 3u

/* The verdict of an accepted frame: an inner IPv4 packet goes on up the
 * stack (TC_ACT_OK), an inner IPv6 one is re-injected (TC_ACT_REDIRECT);
 * in XDP both go up. */
static inline unsigned int harness_accept_ret(const uint8_t *frame)
{
	return frame[OFF_GUE + 1] == 4 ? HARNESS_RET_OK : HARNESS_RET_REDIRECT;
}

#define HARNESS_DEFAULT_OBJ "obj/cls_redirect_btf.o"

static const char *const harness_metric_names[CLS_REDIRECT_METRIC_COUNT] __attribute__((unused)) = {
#define HARNESS_X(id, name, help) [CLS_REDIRECT_METRIC_##id] = #name,
	CLS_REDIRECT_METRICS(HARNESS_X)
#undef HARNESS_X
};

typedef uint64_t harness_metrics_t[CLS_REDIRECT_METRIC_COUNT];

struct harness {
	struct bpf_object *obj;
	struct bpf_program *prog;
	int prog_fd, cfg_fd, met_fd;
	int src_fd, hops_fd; /* the trust lists; -1 in objects that have none */
	/* The config's trust_gen, moved on as cls-redirect-config does whenever
	 * a list loses a prefix; and what each list holds (harness_set_list). */
	uint32_t trust_gen;
	char src_list[1024], hops_list[1024];
	int ncpus;
	struct cls_redirect_metrics *percpu; /* ncpus values, scratch of read_metrics */
	int xdp;      /* the program is the XDP flavour (section "xdp") */
	int meta_len; /* XDP: metadata bytes in front of the last output, -1 unknown */
	uint32_t meta; /* XDP: their first 4 bytes (host order), if meta_len >= 4 */
	char err[512];
};

static inline void harness_errf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void harness_errf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* The verdict that goes with an outcome class (0 passed, 1 accepted,
 * 2 forwarded, 3 errors) of frame, for the flavour h loaded. */
static inline unsigned int harness_class_ret(const struct harness *h, int cls, const uint8_t *frame)
{
	if (h->xdp)
		return cls == 3 ? HARNESS_XDP_DROP : cls == 2 ? HARNESS_XDP_TX : HARNESS_XDP_PASS;
	return cls == 0 ? HARNESS_RET_PASS : cls == 3 ? HARNESS_RET_DROP :
	       cls == 1 ? harness_accept_ret(frame) : HARNESS_RET_REDIRECT;
}

/* r is one of the verdicts the flavour h loaded gives. */
static inline int harness_ret_known(const struct harness *h, unsigned int r)
{
	if (h->xdp)
		return r == HARNESS_XDP_DROP || r == HARNESS_XDP_PASS || r == HARNESS_XDP_TX;
	return r == HARNESS_RET_PASS || r == HARNESS_RET_DROP || r == HARNESS_RET_REDIRECT || r == HARNESS_RET_OK;
}

/* system() on a printf-formatted command line (at most 511 bytes). */
static inline int harness_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static inline int harness_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

#define HARNESS_FAIL(h, ...) (harness_errf((h)->err, sizeof((h)->err), __VA_ARGS__), -1)

/*
 * Replaces the content of a trust list (fd; nothing if -1) with the
 * prefixes in list, separated by spaces ("A.B.C.D/LEN", or "" for none).
 */
static inline int harness_set_list(struct harness *h, int fd, const char *list)
{
	struct cls_redirect_trust val = { 0 };
	struct cls_redirect_prefix key, next;
	char buf[1024], *tok, *save = NULL, *held;
	struct cls_redirect_config cfg;
	__u32 key0 = 0;

	if (fd < 0)
		return 0;
	held = fd == h->src_fd ? h->src_list : h->hops_list;
	if (!strcmp(held, list) && *held)
		return 0;
	snprintf(held, sizeof(h->src_list), "%s", list);
	/* What the classifier remembered of the list goes with the old one. */
	h->trust_gen++;
	if (bpf_map_lookup_elem(h->cfg_fd, &key0, &cfg))
		return HARNESS_FAIL(h, "reading the config map: %s", strerror(errno));
	cfg.trust_gen = h->trust_gen;
	if (bpf_map_update_elem(h->cfg_fd, &key0, &cfg, BPF_ANY))
		return HARNESS_FAIL(h, "writing the config map: %s", strerror(errno));
	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			return HARNESS_FAIL(h, "emptying a trust list: %s", strerror(errno));
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *slash = strchr(tok, '/');

		*slash = 0;
		key.prefixlen = (uint32_t)atoi(slash + 1);
		if (inet_pton(AF_INET, tok, &key.addr) != 1)
			return HARNESS_FAIL(h, "bad prefix %s in a test's trust list", tok);
		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY))
			return HARNESS_FAIL(h, "adding %s/%u to a trust list: %s", tok, key.prefixlen,
					    strerror(errno));
	}
	return 0;
}

/* Opens path (NULL: $CLS_REDIRECT_OBJ, else HARNESS_DEFAULT_OBJ), clears the
 * pin path of every map, loads the one program as SCHED_CLS (XDP if its
 * section is "xdp") and finds both maps, checking their type and value size
 * against include/.  The trust lists, where the object has them, start
 * open: 0.0.0.0/0. */
static inline int harness_load(struct harness *h, const char *path)
{
	struct bpf_program *next;
	struct bpf_map *map;
	int err;

	memset(h, 0, sizeof(*h));
	h->prog_fd = h->cfg_fd = h->met_fd = h->src_fd = h->hops_fd = -1;
	h->trust_gen = 1;
	if (!path)
		path = getenv("CLS_REDIRECT_OBJ");
	if (!path)
		path = HARNESS_DEFAULT_OBJ;
	h->obj = bpf_object__open_file(path, NULL);
	if (!h->obj)
		return HARNESS_FAIL(h, "cannot open %s: %s (run make obj/cls_redirect_btf.o)", path,
				    strerror(errno));
	/* Nothing of a test may touch bpffs: private maps only. */
	bpf_object__for_each_map(map, h->obj) {
		if (bpf_map__set_pin_path(map, NULL))
			return HARNESS_FAIL(h, "cannot clear the pin path of map %s",
					    bpf_map__name(map));
	}
	h->prog = bpf_object__next_program(h->obj, NULL);
	next = h->prog ? bpf_object__next_program(h->obj, h->prog) : NULL;
	if (!h->prog || next)
		return HARNESS_FAIL(h, "%s must hold exactly one program", path);
	h->xdp = !strcmp(bpf_program__section_name(h->prog), "xdp");
	bpf_program__set_type(h->prog, h->xdp ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS);
	err = bpf_object__load(h->obj);
	if (err)
		return HARNESS_FAIL(h, "loading %s failed: %s", path, strerror(-err));
	h->prog_fd = bpf_program__fd(h->prog);

	map = bpf_object__find_map_by_name(h->obj, CLS_REDIRECT_CONFIG_MAP);
	if (!map)
		return HARNESS_FAIL(h, "no map %s in %s", CLS_REDIRECT_CONFIG_MAP, path);
	if (bpf_map__value_size(map) != sizeof(struct cls_redirect_config))
		return HARNESS_FAIL(h, "map %s: value size %u, expected %zu", CLS_REDIRECT_CONFIG_MAP,
				    bpf_map__value_size(map), sizeof(struct cls_redirect_config));
	h->cfg_fd = bpf_map__fd(map);

	map = bpf_object__find_map_by_name(h->obj, CLS_REDIRECT_METRICS_MAP);
	if (!map)
		return HARNESS_FAIL(h, "no map %s in %s", CLS_REDIRECT_METRICS_MAP, path);
	if (bpf_map__type(map) != BPF_MAP_TYPE_PERCPU_ARRAY ||
	    bpf_map__value_size(map) != sizeof(struct cls_redirect_metrics))
		return HARNESS_FAIL(h, "map %s: type %d value size %u, expected per-CPU array of %zu",
				    CLS_REDIRECT_METRICS_MAP, bpf_map__type(map),
				    bpf_map__value_size(map), sizeof(struct cls_redirect_metrics));
	h->met_fd = bpf_map__fd(map);

	/* Open trust lists (0.0.0.0/0) unless a test narrows them. */
	map = bpf_object__find_map_by_name(h->obj, CLS_REDIRECT_SOURCES_MAP);
	h->src_fd = map ? bpf_map__fd(map) : -1;
	map = bpf_object__find_map_by_name(h->obj, CLS_REDIRECT_HOPS_MAP);
	h->hops_fd = map ? bpf_map__fd(map) : -1;
	if (harness_set_list(h, h->src_fd, "0.0.0.0/0") || harness_set_list(h, h->hops_fd, "0.0.0.0/0"))
		return -1;

	h->ncpus = libbpf_num_possible_cpus();
	if (h->ncpus <= 0)
		return HARNESS_FAIL(h, "libbpf_num_possible_cpus: %d", h->ncpus);
	h->percpu = calloc((size_t)h->ncpus, sizeof(*h->percpu));
	if (!h->percpu)
		return HARNESS_FAIL(h, "out of memory");
	return 0;
}

static inline void harness_close(struct harness *h)
{
	free(h->percpu);
	h->percpu = NULL;
	bpf_object__close(h->obj);
	h->obj = NULL;
}

/* The usual configuration: version 1, addr and port network order. */
static inline struct cls_redirect_config harness_config(const uint8_t addr[4], uint16_t port)
{
	struct cls_redirect_config c;

	memset(&c, 0, sizeof(c));
	c.version = CLS_REDIRECT_CONFIG_VERSION;
	memcpy(&c.addr, addr, 4);
	c.port = htons(port);
	c.trust_gen = 1; /* as cls-redirect-config set starts it */
	return c;
}

/* Writes cfg with the trust_gen that goes with the lists (see
 * harness_set_list). */
static inline int harness_set_config(struct harness *h, const struct cls_redirect_config *cfg)
{
	struct cls_redirect_config c = *cfg;
	__u32 key = 0;

	c.trust_gen = h->trust_gen;
	if (bpf_map_update_elem(h->cfg_fd, &key, &c, BPF_ANY))
		return HARNESS_FAIL(h, "writing the config map: %s", strerror(errno));
	return 0;
}

/* Every counter, summed across CPUs. */
static inline int harness_read_metrics(struct harness *h, uint64_t *sum)
{
	__u32 key = 0;
	int c, i;

	if (bpf_map_lookup_elem(h->met_fd, &key, h->percpu))
		return HARNESS_FAIL(h, "reading the metrics map: %s", strerror(errno));
	memset(sum, 0, sizeof(uint64_t) * CLS_REDIRECT_METRIC_COUNT);
	for (c = 0; c < h->ncpus; c++)
		for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
			sum[i] += h->percpu[c].counters[i];
	return 0;
}

/* Sets every counter on every CPU to zero. */
static inline int harness_reset_metrics(struct harness *h)
{
	__u32 key = 0;

	memset(h->percpu, 0, sizeof(*h->percpu) * (size_t)h->ncpus);
	if (bpf_map_update_elem(h->met_fd, &key, h->percpu, BPF_ANY))
		return HARNESS_FAIL(h, "zeroing the metrics map: %s", strerror(errno));
	return 0;
}

/* The outcome class of a counter, from its name (the man page, METRICS):
 * 0 passed, 1 accepted, 2 forwarded, 3 errors; -1 for processed and the
 * l3 / l4 counters. */
static inline int harness_outcome_class(int i)
{
	return cls_redirect_metric_outcome(harness_metric_names[i], NULL);
}

/* processed = passed + accepted + forwarded + errors (the man page, METRICS);
 * 0 if it holds, else -1 with the four sums in err. */
static inline int harness_invariant(const uint64_t *m, char *err, size_t size)
{
	uint64_t sum[4] = { 0 };
	int i;

	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		if (harness_outcome_class(i) >= 0)
			sum[harness_outcome_class(i)] += m[i];
	if (m[CLS_REDIRECT_METRIC_PROCESSED] == sum[0] + sum[1] + sum[2] + sum[3])
		return 0;
	harness_errf(err, size,
		     "invariant broken: processed %llu != passed %llu + accepted %llu + "
		     "forwarded %llu + errors %llu",
		     (unsigned long long)m[CLS_REDIRECT_METRIC_PROCESSED],
		     (unsigned long long)sum[0], (unsigned long long)sum[1],
		     (unsigned long long)sum[2], (unsigned long long)sum[3]);
	return -1;
}

/*
 * XDP: the kernel copies out the metadata the program left in front of the
 * frame as well (since 5.13: the run takes a struct xdp_md saying where the
 * frame starts).  Moves it from the output into h->meta_len / h->meta; on a
 * kernel without xdp_md in test runs the output is the frame alone and
 * meta_len is -1.
 */
static inline int harness_run_xdp(struct harness *h, struct bpf_test_run_opts *opts, size_t len)
{
	struct xdp_md md_in = { .data_end = (__u32)len }, md_out;
	uint8_t *out = opts->data_out;

	opts->ctx_in = &md_in;
	opts->ctx_size_in = sizeof(md_in);
	opts->ctx_out = &md_out;
	opts->ctx_size_out = sizeof(md_out);
	h->meta_len = -1;
	if (!bpf_prog_test_run_opts(h->prog_fd, opts)) {
		h->meta_len = (int)md_out.data;
		if (md_out.data > opts->data_size_out)
			return HARNESS_FAIL(h, "xdp_md data %u beyond the output", md_out.data);
		h->meta = 0;
		if (h->meta_len >= 4)
			memcpy(&h->meta, out, 4);
		memmove(out, out + md_out.data, opts->data_size_out - md_out.data);
		opts->data_size_out -= md_out.data;
		return 0;
	}
	if (errno != EINVAL)
		return -1;
	opts->ctx_in = opts->ctx_out = NULL;
	opts->ctx_size_in = opts->ctx_size_out = 0;
	return bpf_prog_test_run_opts(h->prog_fd, opts);
}

/* One frame through the program.  out must hold out_size bytes (the kernel
 * refuses a run whose output does not fit: give 2 * PKT_MAX); on return
 * *out_len is the output length and *retval the verdict.  ctx (optional, tc
 * only) is the __sk_buff given to the run (gso_size, gso_segs...). */
static inline int harness_run(struct harness *h, const void *in, size_t len, void *out, size_t out_size,
		       size_t *out_len, uint32_t *retval, struct __sk_buff *ctx)
{
	struct __sk_buff ctx_out;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	opts.data_in = in;
	opts.data_size_in = (__u32)len;
	opts.data_out = out;
	opts.data_size_out = (__u32)out_size;
	opts.repeat = 1;
	if (h->xdp) {
		if (ctx)
			return HARNESS_FAIL(h, "an XDP program takes no __sk_buff");
		if (harness_run_xdp(h, &opts, len))
			return HARNESS_FAIL(h, "BPF_PROG_TEST_RUN failed: %s", strerror(errno));
		*out_len = opts.data_size_out;
		*retval = opts.retval;
		return 0;
	}
	if (ctx) {
		opts.ctx_in = ctx;
		opts.ctx_size_in = sizeof(*ctx);
		opts.ctx_out = &ctx_out;
		opts.ctx_size_out = sizeof(ctx_out);
	}
	if (bpf_prog_test_run_opts(h->prog_fd, &opts))
		return HARNESS_FAIL(h, "BPF_PROG_TEST_RUN failed: %s", strerror(errno));
	*out_len = opts.data_size_out;
	*retval = opts.retval;
	return 0;
}

/* The reason a case failed, built up as checks fail: "a; b; c", cut at
 * the end of buf rather than overflowing it. */
struct why {
	char buf[2048];
	size_t len;
};

static inline void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void why_add(struct why *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (w->len >= sizeof(w->buf) - 1)
		return;
	if (w->len) {
		w->buf[w->len++] = ';';
		w->buf[w->len++] = ' ';
	}
	va_start(ap, fmt);
	r = vsnprintf(w->buf + w->len, sizeof(w->buf) - w->len, fmt, ap);
	va_end(ap);
	if (r > 0)
		w->len += (size_t)r;
	if (w->len > sizeof(w->buf) - 1)
		w->len = sizeof(w->buf) - 1;
}

static inline void harness_hexdump(FILE *f, const char *title, const uint8_t *p, size_t len)
{
	size_t i;

	fprintf(f, "# %s (%zu bytes)\n", title, len);
	for (i = 0; i < len; i++) {
		if (i % 16 == 0)
			fprintf(f, "#  %04zx:", i);
		fprintf(f, " %02x", p[i]);
		if (i % 16 == 15 || i + 1 == len)
			fprintf(f, "\n");
	}
}

/* Moves the process into a new network namespace with lo up.  With
 * default_route_lo, adds a default route out of lo as well: replies to peers
 * that are not local leave and vanish instead of being answered with a RST
 * by our own stack.  Needs root.  Returns 0, or -1 with the reason in err
 * (*what names the step: "netns" or "default_route"; the namespace is
 * entered in the second case). */
static inline int harness_netns(int default_route_lo, const char **what, char *err, size_t size)
{
	struct ifreq ifr;
	struct rtentry rt;
	struct sockaddr_in *sin;
	int fd;

	*what = "netns";
	if (unshare(CLONE_NEWNET)) {
		harness_errf(err, size, "unshare(CLONE_NEWNET): %s (must run as root)",
			     strerror(errno));
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		harness_errf(err, size, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		harness_errf(err, size, "bringing lo up: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (default_route_lo) {
		memset(&rt, 0, sizeof(rt));
		sin = (struct sockaddr_in *)&rt.rt_dst;
		sin->sin_family = AF_INET;
		sin = (struct sockaddr_in *)&rt.rt_genmask;
		sin->sin_family = AF_INET;
		rt.rt_flags = RTF_UP;
		rt.rt_dev = (char *)"lo";
		if (ioctl(fd, SIOCADDRT, &rt)) {
			*what = "default_route";
			harness_errf(err, size, "SIOCADDRT default dev lo: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/*
 * A pod, as a container runtime makes one (tc-cls-redirect.8, CONTAINERS):
 * a new network namespace with lo up, linked to the current one by a veth
 * pair, host_if here and peer_if there.  fn(arg), if given, runs inside the
 * pod first (the sockets it makes live there).  Returns 0 with the host
 * side's ifindex and the pod's netnsid as this namespace sees it (the
 * link-netnsid of ip link, which the kernel assigns when it reports the
 * peer), or -1 with the reason in err.  Uses ip, or $CLS_REDIRECT_IP.
 * The pod lives as long as this process: a namespace no process, socket or
 * fd holds is torn down, and its end of the veth pair with it, so the fd
 * that enters it stays open.
 */
static inline int harness_pod(const char *host_if, const char *peer_if, void (*fn)(void *), void *arg, int *ifindex,
			      int *netnsid, char *err, size_t size)
{
	const char *ip = getenv("CLS_REDIRECT_IP");
	int host = open("/proc/self/ns/net", O_RDONLY), pod = -1, up = 0;
	char line[512];
	FILE *fp;

	ip = ip && *ip ? ip : "ip";
	*ifindex = 0;
	*netnsid = -1;
	if (host < 0 || unshare(CLONE_NEWNET)) {
		harness_errf(err, size, "unshare(CLONE_NEWNET) for a pod: %s", strerror(errno));
		if (host >= 0)
			close(host);
		return -1;
	}
	pod = open("/proc/self/ns/net", O_RDONLY);
	up = pod >= 0 && !harness_sh("%s link set lo up", ip);
	if (!up)
		harness_errf(err, size, "bringing up lo in the pod failed");
	else if (fn)
		fn(arg);
	if (setns(host, CLONE_NEWNET)) {
		/* Nothing sensible can go on in the wrong namespace. */
		fprintf(stderr, "harness_pod: back to the namespace before: %s\n", strerror(errno));
		exit(2);
	}
	close(host);
	if (!up)
		goto out;
	if (harness_sh("%s link add %s type veth peer name %s netns /proc/%d/fd/%d", ip, host_if, peer_if, getpid(),
		       pod) ||
	    harness_sh("%s link set %s up", ip, host_if)) {
		harness_errf(err, size, "ip link add %s type veth peer name %s (in the pod) failed", host_if, peer_if);
		goto out;
	}
	*ifindex = (int)if_nametoindex(host_if);
	/* stderr: ip maps netnsids to the names in /run/netns and complains
	 * about those of other namespaces. */
	snprintf(line, sizeof(line), "%s -o link show dev %s 2>/dev/null", ip, host_if);
	fp = popen(line, "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		char *id = strstr(line, "link-netnsid ");

		if (id)
			*netnsid = atoi(id + strlen("link-netnsid "));
	}
	if (fp)
		pclose(fp);
	if (*ifindex <= 0 || *netnsid < 0)
		harness_errf(err, size, "%s: no ifindex or no link-netnsid (ip -o link show dev %s)", host_if, host_if);
	else
		return 0;
out:
	if (pod >= 0)
		close(pod);
	return -1;
}

/*
 * A SYN cookie, as under a SYN flood: net.ipv4.tcp_syncookies=2 in this
 * namespace (every SYN is answered with a cookie, no request socket kept),
 * a SYN sent on a raw socket from src:sport with sequence number isn to
 * dst:dport (IPv4), and the sequence number of the SYN-ACK that answers it,
 * the cookie, read on another raw socket (src must be local: 127.0.0.9,
 * say).  The ACK of seq isn + 1, ack *cookie + 1 completes that handshake.
 * Returns 0, or -1 with the reason in err.
 */
static inline int harness_syn_cookie(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint32_t isn,
				     uint32_t *cookie, char *err, size_t size)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct pkt_ip ip = pkt_ip4(src, dst);
	struct pkt_tcp t = pkt_tcp(sport, dport, PKT_TCP_SYN);
	uint8_t l4[64], pkt[128], buf[256];
	int tx, rx, i, fd = open("/proc/sys/net/ipv4/tcp_syncookies", O_WRONLY);
	size_t n;

	*cookie = 0;
	if (fd < 0 || write(fd, "2", 1) != 1) {
		harness_errf(err, size, "writing net.ipv4.tcp_syncookies: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	t.seq = isn;
	n = pkt_ip_build(pkt, &ip, IPPROTO_TCP, l4, pkt_tcp_build(l4, &t, NULL, 0));
	inet_pton(AF_INET, dst, &to.sin_addr);
	rx = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	tx = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (rx < 0 || tx < 0 || sendto(tx, pkt, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n) {
		harness_errf(err, size, "raw SYN %s:%u -> %s:%u: %s", src, sport, dst, dport, strerror(errno));
		goto out;
	}
	for (i = 0; i < 50 && !*cookie; i++) {
		struct pollfd pfd = { .fd = rx, .events = POLLIN };
		const uint8_t *th;
		ssize_t r;

		if (poll(&pfd, 1, 100) <= 0 || (r = recv(rx, buf, sizeof(buf), 0)) < 40)
			continue;
		th = buf + (buf[0] & 0x0f) * 4;
		if (th + 20 <= buf + r && pkt_get16(th) == dport && pkt_get16(th + 2) == sport &&
		    (th[13] & (PKT_TCP_SYN | PKT_TCP_ACK)) == (PKT_TCP_SYN | PKT_TCP_ACK))
			*cookie = pkt_get32(th + 4);
	}
	if (!*cookie)
		harness_errf(err, size, "no SYN-ACK from %s:%u to %s:%u within 5 s", dst, dport, src, sport);
out:
	if (rx >= 0)
		close(rx);
	if (tx >= 0)
		close(tx);
	return *cookie ? 0 : -1;
}

/* The fuzzers' common settings: FUZZ_SEED and FUZZ_SECONDS from the
 * environment, then -v, -s SEED and -t SECONDS; harness_fuzz_opt returns 1
 * for an option it took. */
static inline void harness_fuzz_env(uint64_t *seed, double *seconds)
{
	const char *env;

	if ((env = getenv("FUZZ_SEED")) && *env)
		*seed = strtoull(env, NULL, 0);
	if ((env = getenv("FUZZ_SECONDS")) && *env)
		*seconds = strtod(env, NULL);
}

static inline int harness_fuzz_opt(int opt, const char *arg, int *verbose, uint64_t *seed, double *seconds)
{
	switch (opt) {
	case 'v': *verbose = 1; return 1;
	case 's': *seed = strtoull(arg, NULL, 0); return 1;
	case 't': *seconds = strtod(arg, NULL); return 1;
	default: return 0;
	}
}

/* The fuzzers' random numbers: splitmix64, seeded by the caller, so a run
 * can be replayed from its seed. */
struct rng {
	uint64_t s;
};

static inline uint64_t rnd64(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static inline uint32_t rnd(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd64(r) % n);
}

#endif /* CLS_REDIRECT_HARNESS_H */
