/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fuzzer of the operator tools: cls-redirect-config and
 * cls-redirect-stat built with AddressSanitizer (leak detection on) and
 * UndefinedBehaviorSanitizer (selftests/fuzz.mk), run on generated argument
 * vectors against pinned maps in a private bpffs, in states that include
 * every way a pin can be wrong, in a network namespace of its own (no
 * classifier attached; veths for the services commands).
 *
 * Each run checks:
 *   - the tool ends by itself (a -w run is interrupted with SIGINT) with
 *     status 0, 1 or 2, and no sanitizer reported anything;
 *   - a failure (1, 2) says why: stderr starts with "<tool>: ";
 *   - a failure changes nothing: same pins, same map ids, same config value,
 *     same counters on every CPU;
 *   - a success changes only what its command may: set / clear the config
 *     (set leaves version 1, a unicast address and a port; clear leaves all
 *     zero), --zero zeroes the counters, sources / hops add|del change that
 *     trust list, services add|del the services map, anything else changes
 *     nothing (the old names reset and --reset are refused);
 *   - sources / hops and services commands do what cls-redirect-config.8
 *     says (a model of the page predicts the outcome of every vector that
 *     has no option but -d): a bad prefix (malformed, length over 32, host
 *     bits set), a delete of a prefix not listed, a list that would hold
 *     more than 1024 prefixes, a bad service key, an interface that is not
 *     a veth with its peer in another namespace, a delete of a service not
 *     listed: exit 1 and nothing changed; otherwise the list or map is
 *     exactly the old one with the prefixes / entry added or deleted, and a
 *     del of prefixes moves the config's trust_gen on by one, nothing else;
 *   - while the config is configured, its flag bits 2 and 3 follow the
 *     services map after every successful set and services command;
 *   - a tool never succeeds on a map it must refuse (wrong type, sizes,
 *     entries, config layout version, unknown flags, a program pinned under
 *     the map's name), unless it only printed its help or version.
 *
 * Usage: test_fuzz_tools [-v] [-s SEED] [-t SECONDS] [-n RUNS]
 *   FUZZ_SEED / FUZZ_SECONDS as for test_fuzz; the bounded pass (make check)
 *   runs RUNS vectors (default 600).  FUZZ_TOOLS_DIR: use the sanitizer
 *   builds there instead of building them into a temporary directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cls_redirect.h"
#include "harness.h"

#define PIN_SUB "tc/globals"
#define CFG CLS_REDIRECT_CONFIG_MAP
#define MET CLS_REDIRECT_METRICS_MAP
#define SVC CLS_REDIRECT_SERVICES_MAP
#define OUT_MAX 65536
#define TRUST_MAX CLS_REDIRECT_TRUST_ENTRIES
#define SVC_SNAP_MAX 16
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char mnt[64], pin_dir[128], tools_dir[256];
static int verbose, ncpus;
static int n_fail;
/* Vectors the model predicted: [sources|hops, services][fails, succeeds]. */
static unsigned long long predicted[2][2];

/* The services commands' veth (setup): vpod, its peer in a pod namespace. */
static __u32 vpod_ifindex, vpod_netnsid;
static const char *const list_pin[2] = { CLS_REDIRECT_SOURCES_MAP, CLS_REDIRECT_HOPS_MAP };
static const char *const list_cmd[2] = { "sources", "hops" };

/* ---------------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------- */
/* pin states                                                              */

enum state {
	S_GOOD,          /* both maps, configured, counters non-zero */
	S_UNCONFIGURED,  /* both maps, config all zero */
	S_NO_DIR,        /* no tc/globals */
	S_EMPTY,         /* tc/globals, nothing in it */
	S_CFG_VALUE16,   /* config: array, value 16 */
	S_CFG_ENTRIES2,  /* config: array, 2 entries */
	S_CFG_HASH,      /* config: hash of the right sizes */
	S_CFG_VERSION2,  /* config: right map, layout version 2 */
	S_CFG_FLAGS,     /* config: version 1, unknown flags */
	S_CFG_RESERVED,  /* config: version 1, reserved non-zero */
	S_CFG_PROG,      /* a program pinned as the config map */
	S_MET_ARRAY,     /* metrics: plain array */
	S_MET_VALUE,     /* metrics: per-CPU array, value 8 bytes short */
	S_MET_PROG,      /* a program pinned as the metrics map */
	S_COUNT
};

static const char *const state_names[S_COUNT] = {
	"good", "unconfigured", "no-dir", "empty", "cfg-value16", "cfg-entries2", "cfg-hash",
	"cfg-version2", "cfg-flags", "cfg-reserved", "cfg-prog", "met-array", "met-value",
	"met-prog",
};

/* The trust lists and the services map, pinned next to the others unless
 * the state has no maps at all (no-dir, empty). */
enum list_state {
	L_ABSENT, /* not pinned */
	L_EMPTY,  /* pinned, no prefix */
	L_SOME,   /* some prefixes of the vectors' pool */
	L_FULL,   /* 1024 prefixes: not one more fits */
	L_HASH,   /* a hash map of the right sizes: refused */
	L_KEY20,  /* an LPM trie with IPv6-sized keys: refused */
	L_COUNT
};
static const char *const list_state_names[L_COUNT] = { "absent", "empty", "some", "full", "hash",
							"key20" };
enum svc_state { V_ABSENT, V_SOME, V_ARRAY, V_COUNT };
static const char *const svc_state_names[V_COUNT] = { "absent", "some", "array" };

struct pins {
	enum state st;
	enum list_state list[2]; /* sources, hops */
	enum svc_state svc;
};

/* Which map a state makes unacceptable: 'c' config, 'm' metrics, 0 none. */
static char state_bad(enum state s)
{
	if (s >= S_CFG_VALUE16 && s <= S_CFG_PROG)
		return 'c';
	if (s >= S_MET_ARRAY)
		return 'm';
	return 0;
}

/* Pins fd as pin_dir/name and closes it; -1 on failure. */
static int pin_fd(int fd, const char *name)
{
	char path[256];
	int err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	err = bpf_obj_pin(fd, path);
	close(fd);
	return err ? -1 : 0;
}

static int pin_new_map(const char *name, enum bpf_map_type t, __u32 vsize, __u32 entries,
		       const void *val)
{
	__u32 key = 0;
	int fd = bpf_map_create(t, name, 4, vsize, entries, NULL);

	if (fd < 0)
		return -1;
	if (val && bpf_map_update_elem(fd, &key, val, BPF_ANY)) {
		close(fd);
		return -1;
	}
	return pin_fd(fd, name);
}

static int pin_prog(const char *name)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "fuzz", "GPL", insns, 2, NULL);

	if (fd < 0)
		return -1;
	return pin_fd(fd, name);
}

static void clear_pins(void)
{
	static const char *const names[] = { CFG, MET, CLS_REDIRECT_SOURCES_MAP,
					     CLS_REDIRECT_HOPS_MAP, SVC };
	char path[256];
	size_t i;

	/* In the pin directory, and in the bpffs root, where -d may have
	 * put them. */
	for (i = 0; i < ARRAY_LEN(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", mnt, names[i]);
		unlink(path);
	}
	rmdir(pin_dir);
	snprintf(path, sizeof(path), "%s/tc", mnt);
	rmdir(path);
}

static int make_state(enum state s)
{
	struct cls_redirect_config cfg = { .version = CLS_REDIRECT_CONFIG_VERSION,
					   .port = htons(CLS_REDIRECT_GLB_PORT) };
	struct cls_redirect_metrics *met;
	char path[256];
	uint8_t v16[16] = { 1 };
	int c, i, err = 0;

	clear_pins();
	if (s == S_NO_DIR)
		return 0;
	snprintf(path, sizeof(path), "%s/tc", mnt);
	if ((mkdir(path, 0700) && errno != EEXIST) || (mkdir(pin_dir, 0700) && errno != EEXIST))
		return -1;
	if (s == S_EMPTY)
		return 0;
	cfg.addr = htonl(0xc000020a); /* 192.0.2.10 */
	met = calloc((size_t)ncpus, sizeof(*met));
	if (!met)
		return -1;
	for (c = 0; c < ncpus; c++)
		for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
			met[c].counters[i] = (uint64_t)(c + 1) * 1000 + (uint64_t)i;

	switch (s) {
	case S_UNCONFIGURED: memset(&cfg, 0, sizeof(cfg)); break;
	case S_CFG_VERSION2: cfg.version = 2; break;
	case S_CFG_FLAGS: cfg.flags = 0x8000; break;
	case S_CFG_RESERVED: cfg.reserved[2] = 1; break;
	default: break;
	}
	switch (s) {
	case S_CFG_VALUE16: err = pin_new_map(CFG, BPF_MAP_TYPE_ARRAY, 16, 1, v16); break;
	case S_CFG_ENTRIES2: err = pin_new_map(CFG, BPF_MAP_TYPE_ARRAY, sizeof(cfg), 2, &cfg); break;
	case S_CFG_HASH: err = pin_new_map(CFG, BPF_MAP_TYPE_HASH, sizeof(cfg), 1, &cfg); break;
	case S_CFG_PROG: err = pin_prog(CFG); break;
	default: err = pin_new_map(CFG, BPF_MAP_TYPE_ARRAY, sizeof(cfg), 1, &cfg); break;
	}
	if (!err) {
		switch (s) {
		case S_MET_ARRAY: err = pin_new_map(MET, BPF_MAP_TYPE_ARRAY, sizeof(*met), 1, met); break;
		case S_MET_VALUE:
			err = pin_new_map(MET, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(*met) - 8, 1, NULL);
			break;
		case S_MET_PROG: err = pin_prog(MET); break;
		default: err = pin_new_map(MET, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(*met), 1, met); break;
		}
	}
	free(met);
	return err;
}

/* The prefixes the vectors use: listed by L_SOME at random, added and
 * deleted by the sources and hops commands. */
static const char *const good_prefix[] = {
	"192.0.2.0/24", "192.0.2.10", "10.0.0.0/8", "0.0.0.0/0", "198.51.100.7/32",
	"203.0.113.128/25", "10.1.0.0/16", "192.0.2.10/32",
};
static const char *const bad_prefix[] = {
	"10.1.2.3/8", "192.0.2.1/33", "192.0.2.1/", "192.0.2.1/-1", "192.0.2/24", "192.0.2.0/024",
	"192.0.2.0/ 24", "192.0.2.0/2x", "::/0", "", "/8", "192.0.2.0/24/1", "300.0.0.0/8",
	"0x0a.0.0.0/8", "192.0.2.128/24", "0.0.0.1/0",
};

/*
 * PREFIX as cls-redirect-config.8 has it: A.B.C.D/LEN (LEN 0 to 32) or
 * A.B.C.D (a /32), host bits zero.  LEN is one or two decimal digits.
 * 1 and *p if valid.
 */
static int model_prefix(const char *w, struct cls_redirect_prefix *p)
{
	const char *slash = strchr(w, '/');
	size_t alen = slash ? (size_t)(slash - w) : strlen(w);
	char addr[INET_ADDRSTRLEN];
	unsigned int len = 32;

	if (alen >= sizeof(addr))
		return 0;
	memcpy(addr, w, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &p->addr) != 1)
		return 0;
	if (slash) {
		const char *d = slash + 1;
		size_t dl = strlen(d);

		if (dl < 1 || dl > 2 || d[0] < '0' || d[0] > '9' || (dl == 2 && (d[1] < '0' || d[1] > '9')))
			return 0;
		len = (unsigned int)atoi(d);
		if (len > 32)
			return 0;
	}
	p->prefixlen = len;
	return !(p->addr & (len ? ~htonl(~0u << (32 - len)) : ~0u));
}

static int pin_list(struct rng *r, const char *name, enum list_state ls)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = CLS_REDIRECT_TRUST_MAP_FLAGS);
	struct cls_redirect_trust zero = { 0 };
	struct cls_redirect_prefix p;
	size_t i;
	int fd;

	if (ls == L_ABSENT)
		return 0;
	if (ls == L_HASH)
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, sizeof(p), sizeof(zero), TRUST_MAX, &o);
	else
		fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, ls == L_KEY20 ? 20 : sizeof(p),
				    sizeof(zero), TRUST_MAX, &o);
	if (fd < 0)
		return -1;
	for (i = 0; ls == L_SOME && i < ARRAY_LEN(good_prefix); i++)
		if (rnd(r, 2) && model_prefix(good_prefix[i], &p) &&
		    bpf_map_update_elem(fd, &p, &zero, BPF_ANY))
			goto fail;
	for (i = 0; ls == L_FULL && i < TRUST_MAX; i++) {
		p.prefixlen = 24;
		p.addr = htonl(0x0a000000u | (__u32)(i + 1) << 8); /* 10.0.(i+1).0/24: not in the pool */
		if (bpf_map_update_elem(fd, &p, &zero, BPF_ANY))
			goto fail;
	}
	return pin_fd(fd, name);
fail:
	close(fd);
	return -1;
}

static void svc_key(struct cls_redirect_service_key *k, int v6, __u16 port, __u8 proto)
{
	memset(k, 0, sizeof(*k));
	k->family = v6 ? CLS_REDIRECT_SERVICE_V6 : CLS_REDIRECT_SERVICE_V4;
	k->proto = proto;
	k->port = htons(port);
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "fd00:99::1" : "10.99.0.1", k->addr);
}

static int pin_services(struct rng *r, enum svc_state vs)
{
	struct cls_redirect_service_key k;
	struct cls_redirect_service v = { .netnsid = vpod_netnsid, .ifindex = vpod_ifindex };
	__u32 key0 = 0;
	int fd;

	if (vs == V_ABSENT)
		return 0;
	if (vs == V_ARRAY) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, SVC, 4, sizeof(v), 1, NULL);
		if (fd < 0 || bpf_map_update_elem(fd, &key0, &v, BPF_ANY))
			goto fail;
		return pin_fd(fd, SVC);
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, SVC, sizeof(k), sizeof(v), CLS_REDIRECT_SERVICES_MAX, NULL);
	if (fd < 0)
		return -1;
	svc_key(&k, 0, 8080, IPPROTO_TCP);
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		goto fail;
	svc_key(&k, 1, 0, IPPROTO_UDP);
	if (rnd(r, 2) && bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		goto fail;
	return pin_fd(fd, SVC);
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The whole pin state: the config and metrics pins of p->st, then the
 * lists and the services map where the state has maps at all. */
static int make_pins(struct rng *r, const struct pins *p)
{
	int i;

	if (make_state(p->st))
		return -1;
	if (p->st == S_NO_DIR || p->st == S_EMPTY)
		return 0;
	for (i = 0; i < 2; i++)
		if (pin_list(r, list_pin[i], p->list[i]))
			return -1;
	return pin_services(r, p->svc);
}

/* What is pinned: names, ids, and the values of maps of our layout. */
struct svc_entry {
	struct cls_redirect_service_key k;
	struct cls_redirect_service v;
};

struct snap {
	char listing[1024];
	char name[16][64];
	__u32 id[16];
	int npins;
	int have_cfg, have_met;
	struct cls_redirect_config cfg;
	uint8_t met[4096];
	size_t met_len;
	struct {
		int have; /* an LPM trie with our key: its prefixes, sorted */
		size_t n;
		struct cls_redirect_prefix p[TRUST_MAX + 8];
	} list[2];
	int have_svc; /* a hash of our key and value: its entries, sorted */
	size_t nsvc;
	struct svc_entry svc[SVC_SNAP_MAX];
};

static int prefix_cmp(const void *a, const void *b)
{
	const struct cls_redirect_prefix *x = a, *y = b;

	if (x->addr != y->addr)
		return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
	return (int)x->prefixlen - (int)y->prefixlen;
}

static int svc_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct svc_entry));
}

static void snap_list(int fd, const struct bpf_map_info *info, struct snap *s, int l)
{
	struct cls_redirect_prefix key, next;
	int first = 1;

	if (info->type != BPF_MAP_TYPE_LPM_TRIE || info->key_size != sizeof(key))
		return;
	s->list[l].have = 1;
	while (s->list[l].n < ARRAY_LEN(s->list[l].p) &&
	       !bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		s->list[l].p[s->list[l].n++] = next;
		key = next;
		first = 0;
	}
	qsort(s->list[l].p, s->list[l].n, sizeof(key), prefix_cmp);
}

static void snap_services(int fd, const struct bpf_map_info *info, struct snap *s)
{
	struct cls_redirect_service_key key, next;
	int first = 1;

	if (info->type != BPF_MAP_TYPE_HASH || info->key_size != sizeof(key) ||
	    info->value_size != sizeof(struct cls_redirect_service))
		return;
	s->have_svc = 1;
	while (s->nsvc < SVC_SNAP_MAX && !bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		s->svc[s->nsvc].k = next;
		if (!bpf_map_lookup_elem(fd, &next, &s->svc[s->nsvc].v))
			s->nsvc++;
		key = next;
		first = 0;
	}
	qsort(s->svc, s->nsvc, sizeof(s->svc[0]), svc_cmp);
}

static void take_snap(struct snap *s)
{
	struct bpf_map_info info;
	__u32 len, key = 0;
	struct dirent *e;
	size_t used = 0;
	char path[512];
	DIR *d;
	int fd;

	memset(s, 0, sizeof(*s));
	d = opendir(pin_dir);
	if (!d) {
		snprintf(s->listing, sizeof(s->listing), "(no %s)", PIN_SUB);
		return;
	}
	while ((e = readdir(d))) {
		__u32 id = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				id = info.id;
			if (!strcmp(e->d_name, CFG) && info.type == BPF_MAP_TYPE_ARRAY &&
			    info.value_size == sizeof(s->cfg) && info.max_entries == 1 &&
			    !bpf_map_lookup_elem(fd, &key, &s->cfg))
				s->have_cfg = 1;
			if (!strcmp(e->d_name, MET) && info.type == BPF_MAP_TYPE_PERCPU_ARRAY &&
			    (size_t)info.value_size * ncpus <= sizeof(s->met) &&
			    !bpf_map_lookup_elem(fd, &key, s->met)) {
				s->have_met = 1;
				s->met_len = (size_t)info.value_size * ncpus;
			}
			if (!strcmp(e->d_name, list_pin[0]) || !strcmp(e->d_name, list_pin[1]))
				snap_list(fd, &info, s, !strcmp(e->d_name, list_pin[1]));
			if (!strcmp(e->d_name, SVC))
				snap_services(fd, &info, s);
			close(fd);
		}
		if (s->npins < (int)ARRAY_LEN(s->name)) {
			snprintf(s->name[s->npins], sizeof(s->name[0]), "%.63s", e->d_name);
			s->id[s->npins++] = id;
		}
		used += (size_t)snprintf(s->listing + used, sizeof(s->listing) - used, "%s#%u ",
					 e->d_name, id);
		if (used >= sizeof(s->listing))
			used = sizeof(s->listing) - 1;
	}
	closedir(d);
}

/* ---------------------------------------------------------------------- */
/* argument vectors                                                        */

static const char *const w_cmd[] = { "show", "set", "clear", "reset", "sho", "SET", "", "help", "set\n",
				      "sources", "hops", "services", "source", "add", "del" };
static const char *const w_kw[] = { "addr", "port", "mtu", "no-forward", "forward", "route", "no-route",
				     "ADDR", "addr=", "flags" };
static const char *const w_val[] = {
	"192.0.2.10", "10.0.0.1", "0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255",
	"1.2.3", "1.2.3.4.5", "::1", "192.0.2.256", " 192.0.2.1", "192.0.2.1 ", "0x7f.1.1.1",
	"19523", "0", "1", "65535", "65536", "-1", "+1", "0x10", "1e3", "", " ", "00019523",
	"4294967296", "18446744073709551616", "99999999999999999999999999", "%s%s%n%n", "\xff\xfe",
	"68", "1500", "3600", "3601",
};
static const char *const w_opt[] = {
	"-d", "--pin-dir", "-j", "-p", "-h", "-V", "--help", "--version", "--json", "--pretty",
	"--zero", "--reset", "--prometheus", "-w", "--watch", "--bogus", "-x", "--", "-", "-jp", "--json=1",
	"--zero=1", "--pin-dir=", "-dj", "--pin", "--pre", "-w0", "-w1", "--watch=1",
};

static char long_word[5000];
static char dir_word[8][4200];

static const char *pick_dir(struct rng *r)
{
	return dir_word[rnd(r, 8)];
}

static const char *pick_any(struct rng *r)
{
	switch (rnd(r, 6)) {
	case 0: return w_cmd[rnd(r, sizeof(w_cmd) / sizeof(w_cmd[0]))];
	case 1: return w_kw[rnd(r, sizeof(w_kw) / sizeof(w_kw[0]))];
	case 2: return w_val[rnd(r, sizeof(w_val) / sizeof(w_val[0]))];
	case 3: return w_opt[rnd(r, sizeof(w_opt) / sizeof(w_opt[0]))];
	case 4: return pick_dir(r);
	default: return rnd(r, 4) ? w_val[rnd(r, sizeof(w_val) / sizeof(w_val[0]))] : long_word;
	}
}

/* Words live in pool until the next vector. */
static char pool[32][4300];

static const char *mangle(struct rng *r, const char *w, int slot)
{
	char *p = pool[slot];
	size_t n = strlen(w);

	snprintf(p, sizeof(pool[0]), "%s", w);
	switch (rnd(r, 4)) {
	case 0:
		if (n)
			p[rnd(r, (uint32_t)n)] ^= (char)(1 << rnd(r, 7));
		break;
	case 1:
		p[rnd(r, (uint32_t)n + 1)] = '\0';
		break;
	case 2:
		if (n + 2 < sizeof(pool[0]))
			p[n] = "x0.-=9 "[rnd(r, 7)], p[n + 1] = '\0';
		break;
	default:
		break;
	}
	return p;
}

/* Room for the words gen_trust makes up (pool slots 8 to 15). */
#define POOL_MADE 8

/* sources|hops add|del PREFIX...: prefixes of the pool (listed or not),
 * random valid ones, and bad ones. */
static int gen_trust(struct rng *r, const char **av, int n)
{
	int k, i;

	av[n++] = list_cmd[rnd(r, 2)];
	av[n++] = rnd(r, 2) ? "add" : "del";
	for (k = 1 + (int)rnd(r, rnd(r, 8) ? 3 : 6), i = 0; k; k--, i++) {
		switch (rnd(r, 6)) {
		case 0:
			av[n++] = bad_prefix[rnd(r, ARRAY_LEN(bad_prefix))];
			break;
		case 1: { /* a random valid prefix */
			__u32 len = rnd(r, 33), a = (__u32)rnd64(r);
			char *w = pool[POOL_MADE + (i % 8)];

			a &= len ? ~0u << (32 - len) : 0;
			snprintf(w, sizeof(pool[0]), "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255, len);
			av[n++] = w;
			break;
		}
		default:
			av[n++] = good_prefix[rnd(r, ARRAY_LEN(good_prefix))];
			break;
		}
	}
	return n;
}

/* services add ADDR PORT tcp|udp dev IFNAME, services del ADDR PORT tcp|udp. */
static int gen_services(struct rng *r, const char **av, int n)
{
	/* The first few of each are valid; one of them is picked 7 times
	 * in 8, so that whole valid commands are frequent. */
	static const char *const addr[] = { "10.99.0.1", "fd00:99::1", "10.99.0.2", "::ffff:10.99.0.1",
					    "10.99.0", "fd00::99::1", "" };
	static const char *const port[] = { "8080", "0", "65535", "08080", "65536", "-1", "0x50", "",
					    "99999999999999999999" };
	static const char *const proto[] = { "tcp", "udp", "sctp", "TCP" };
	static const char *const dev[] = { "vpod", "vhost", "lo", "nosuch", "vpod0", "" };
#define PICK(a, valid) (a)[rnd(r, 8) ? rnd(r, valid) : rnd(r, ARRAY_LEN(a))]
	int add = rnd(r, 3) != 0;

	av[n++] = "services";
	av[n++] = add ? "add" : "del";
	av[n++] = PICK(addr, 4);
	av[n++] = PICK(port, 4);
	av[n++] = PICK(proto, 2);
	if (add || !rnd(r, 8)) {
		av[n++] = rnd(r, 8) ? "dev" : "device";
		av[n++] = PICK(dev, 1);
	}
#undef PICK
	return n;
}

/* A vector: mostly a valid command with something wrong, sometimes noise. */
static int gen_argv(struct rng *r, int stat, const char **av)
{
	int n = 1, i, k, model = 0;

	av[0] = stat ? "cls-redirect-stat" : "cls-redirect-config";
	if (rnd(r, 3) == 0) {
		for (k = (int)rnd(r, 8); k; k--)
			av[n++] = pick_any(r);
	} else if (stat) {
		static const char *const base[][3] = {
			{ NULL }, { "-j", NULL }, { "-p", NULL }, { "--prometheus", NULL },
			{ "--zero", NULL }, { "-w", "1", NULL }, { "-d", "@", NULL },
		};
		const char *const *b = base[rnd(r, sizeof(base) / sizeof(base[0]))];

		for (i = 0; b[i]; i++)
			av[n++] = !strcmp(b[i], "@") ? pin_dir : b[i];
	} else {
		switch (rnd(r, 10)) {
		case 5:
		case 6:
		case 7: n = gen_trust(r, av, n), model = 1; break;
		case 8:
		case 9: n = gen_services(r, av, n), model = 1; break;
		case 0: av[n++] = "show"; if (rnd(r, 2)) av[n++] = "-j"; break;
		case 1: av[n++] = "clear"; break;
		case 2: /* one field alone */
			av[n++] = "set";
			if (rnd(r, 2))
				av[n++] = rnd(r, 2) ? "no-forward" : "forward";
			if (rnd(r, 2))
				av[n++] = rnd(r, 2) ? "route" : "no-route";
			else
				av[n++] = rnd(r, 2) ? "route" : "no-route";
			break;
		default:
			av[n++] = "set";
			av[n++] = "addr";
			av[n++] = rnd(r, 2) ? "192.0.2.10" : "10.1.2.3";
			av[n++] = "port";
			av[n++] = "19523";
			if (rnd(r, 2))
				av[n++] = rnd(r, 2) ? "no-forward" : "forward";
			if (rnd(r, 2))
				av[n++] = "mtu", av[n++] = "1500";
			break;
		}
		if (rnd(r, 4) == 0)
			av[n++] = "-d", av[n++] = pin_dir;
	}
	/* Damage: mangle, insert, delete or swap words; 3 in 4 of the vectors
	 * the model predicts stay whole. */
	for (k = model && rnd(r, 4) ? 0 : (int)rnd(r, 4); k && n > 1; k--) {
		i = 1 + (int)rnd(r, (uint32_t)n - 1 + (n == 1));
		if (i >= n)
			i = n - 1;
		switch (rnd(r, 4)) {
		case 0: av[i] = mangle(r, av[i], k); break;
		case 1:
			if (n < 30) {
				memmove(av + i + 1, av + i, sizeof(*av) * (size_t)(n - i));
				av[i] = pick_any(r);
				n++;
			}
			break;
		case 2:
			memmove(av + i, av + i + 1, sizeof(*av) * (size_t)(n - i - 1));
			n--;
			break;
		default: {
			int j = 1 + (int)rnd(r, (uint32_t)n - 1);
			const char *t = av[i];

			av[i] = av[j];
			av[j] = t;
		}
		}
	}
	av[n] = NULL;
	return n;
}

/* ---------------------------------------------------------------------- */
/* one run                                                                 */

struct result {
	int status;      /* exit status, or -signal */
	int interrupted; /* we sent SIGINT (a -w run) */
	char out[OUT_MAX], err[OUT_MAX];
};

static void drain(int fd, char *buf, size_t *len)
{
	ssize_t n;

	while (*len + 1 < OUT_MAX && (n = read(fd, buf + *len, OUT_MAX - 1 - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
}

static int run_tool(int stat, const char *const *av, struct result *res)
{
	char path[512];
	int po[2], pe[2], wst = 0, done = 0, watch = 0, i;
	size_t lo = 0, le = 0;
	double t0 = now(), limit;
	pid_t pid;

	for (i = 1; av[i]; i++)
		if (!strncmp(av[i], "-w", 2) || !strncmp(av[i], "--watch", 7) ||
		    (!strncmp(av[i], "--w", 3) && strlen(av[i]) <= 7))
			watch = 1;
	limit = watch ? 0.4 : 10;
	snprintf(path, sizeof(path), "%s/%s", tools_dir, stat ? "cls-redirect-stat" : "cls-redirect-config");
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		setenv("TC_BPF_MNT", mnt, 1);
		setenv("ASAN_OPTIONS", "detect_leaks=1:exitcode=99:abort_on_error=0:"
				       "handle_abort=1:allocator_may_return_null=0", 1);
		setenv("UBSAN_OPTIONS", "halt_on_error=1:exitcode=98:print_stacktrace=1", 1);
		setenv("LSAN_OPTIONS", "exitcode=97", 1);
		execv(path, (char *const *)av);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	res->interrupted = 0;
	while (!done) {
		struct pollfd p[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };

		poll(p, 2, 20);
		drain(po[0], res->out, &lo);
		drain(pe[0], res->err, &le);
		if (waitpid(pid, &wst, WNOHANG) == pid) {
			done = 1;
		} else if (now() - t0 > limit) {
			if (!res->interrupted) {
				kill(pid, watch ? SIGINT : SIGKILL);
				res->interrupted = watch ? 1 : 2;
				t0 = now();
				limit = 5;
			} else {
				kill(pid, SIGKILL);
				waitpid(pid, &wst, 0);
				done = 1;
				res->interrupted = 2;
			}
		}
	}
	fcntl(po[0], F_SETFL, 0);
	fcntl(pe[0], F_SETFL, 0);
	drain(po[0], res->out, &lo);
	drain(pe[0], res->err, &le);
	close(po[0]);
	close(pe[0]);
	res->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : -WTERMSIG(wst);
	return 0;
}

static int has_word(const char *const *av, const char *w)
{
	int i;

	for (i = 1; av[i]; i++)
		if (!strcmp(av[i], w))
			return 1;
	return 0;
}

/* Quoted, shell-like, for the report. */
static void argv_str(const char *const *av, char *buf, size_t size)
{
	size_t used = 0;
	int i;

	for (i = 0; av[i] && used + 8 < size; i++) {
		const char *a = av[i];

		used += (size_t)snprintf(buf + used, size - used, "%s'", i ? " " : "");
		for (; *a && used + 8 < size; a++) {
			if (*a == '\'' )
				used += (size_t)snprintf(buf + used, size - used, "'\\''");
			else if ((unsigned char)*a < 0x20 || (unsigned char)*a >= 0x7f)
				used += (size_t)snprintf(buf + used, size - used, "\\x%02x", (unsigned char)*a);
			else
				buf[used++] = *a;
		}
		if (strlen(av[i]) > 64 && used > 70) {
			/* keep the report readable */
		}
		used += (size_t)snprintf(buf + used, size - used, "'");
	}
	buf[used < size ? used : size - 1] = '\0';
}

/* ---------------------------------------------------------------------- */
/* the model of sources, hops and services (cls-redirect-config.8)          */

enum { M_UNKNOWN, M_FAIL, M_OK };

/*
 * The words of a vector without its -d option: options come before the
 * command word or right after it (SYNOPSIS); from the first word after the
 * command that is not an option on, every word is an operand.  *with_d is
 * 1 for -d PIN_DIR, 2 for another directory.  -1 if it has any other
 * option: getopt's business, no prediction.
 */
static int plain_words(const char *const *av, const char **w, int *with_d)
{
	int i, n = 0, operands = 0;

	*with_d = 0;
	for (i = 1; av[i]; i++) {
		if (!operands && (!strcmp(av[i], "-d") || !strcmp(av[i], "--pin-dir")) && av[i + 1]) {
			*with_d = strcmp(av[i + 1], pin_dir) ? 2 : 1;
			i++;
			continue;
		}
		if (!operands && av[i][0] == '-' && av[i][1]) {
			if (strncmp(av[i], "--pin-dir=", 10) && strncmp(av[i], "-d", 2))
				return -1;
			*with_d = 2;
			continue;
		}
		operands |= n >= 1;
		w[n++] = av[i];
	}
	return n;
}

static int prefix_in(const struct cls_redirect_prefix *l, size_t n, const struct cls_redirect_prefix *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i].prefixlen == p->prefixlen && l[i].addr == p->addr)
			return 1;
	return 0;
}

/* Whether the pin directory is missing for a command: -d names it as it
 * is, and only add makes it (cls-redirect-config.8, OPTIONS). */
static int dir_missing(const struct pins *pp, int with_d, int add)
{
	return pp->st == S_NO_DIR && (with_d || !add);
}

/* Whether the state has maps besides config and metrics at all. */
static int has_extras(const struct pins *pp)
{
	return pp->st != S_NO_DIR && pp->st != S_EMPTY;
}

/*
 * sources|hops add|del PREFIX...: M_FAIL with the exit status in *want (0:
 * any failure), or M_OK with the list it leaves in after (sorted).
 */
static int model_trust(const struct pins *pp, const struct snap *a, const char **w, int n,
		       int with_d, int l, struct cls_redirect_prefix *after, size_t *nafter, int *want)
{
	struct cls_redirect_prefix p;
	int add, i;
	size_t j;

	*want = 1;
	if (n < 2 || (strcmp(w[1], "add") && strcmp(w[1], "del")) || n < 3)
		return M_FAIL;
	add = !strcmp(w[1], "add");
	for (i = 2; i < n; i++)
		if (!model_prefix(w[i], &p))
			return M_FAIL;
	*want = 0;
	if (dir_missing(pp, with_d, add))
		return M_FAIL;
	if (has_extras(pp) && (pp->list[l] == L_HASH || pp->list[l] == L_KEY20))
		return M_FAIL;
	*want = 1;
	*nafter = 0;
	if (has_extras(pp) && pp->list[l] != L_ABSENT) {
		if (!a->list[l].have)
			return M_UNKNOWN;
		*nafter = a->list[l].n;
		memcpy(after, a->list[l].p, *nafter * sizeof(p));
	} else if (!add) {
		return M_FAIL; /* nothing is listed */
	}
	for (i = 2; i < n; i++) {
		model_prefix(w[i], &p);
		if (add) {
			if (!prefix_in(after, *nafter, &p)) {
				if (*nafter >= TRUST_MAX)
					return M_FAIL; /* full */
				after[(*nafter)++] = p;
			}
			continue;
		}
		if (!prefix_in(a->list[l].p, a->list[l].n, &p))
			return M_FAIL; /* not listed */
		for (j = 0; j < *nafter; j++)
			if (after[j].prefixlen == p.prefixlen && after[j].addr == p.addr)
				after[j] = after[--*nafter];
	}
	/* A delete moves the config's trust_gen on; a config map it cannot
	 * write, or of another layout version, fails it (exit status 2) and
	 * the prefixes are listed again. */
	*want = 0;
	if (!add && (pp->st == S_CFG_VALUE16 || pp->st == S_CFG_ENTRIES2 || pp->st == S_CFG_HASH ||
		     pp->st == S_CFG_PROG || pp->st == S_CFG_VERSION2))
		return M_FAIL;
	qsort(after, *nafter, sizeof(p), prefix_cmp);
	return M_OK;
}

/* PORT: decimal digits only, 0 to 65535. */
static int model_port(const char *s, __u16 *port)
{
	size_t i, len = strlen(s);

	if (!len)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	while (len > 1 && *s == '0')
		s++, len--;
	if (len > 5 || atol(s) > 65535)
		return 0;
	*port = (__u16)atol(s);
	return 1;
}

/*
 * services add ADDR PORT tcp|udp dev IFNAME, services del ADDR PORT
 * tcp|udp: M_FAIL (*want as for model_trust), or M_OK with the entries it
 * leaves (sorted): an added one names vpod and its pod's netnsid.
 */
static int model_services(const struct pins *pp, const struct snap *a, const char **w, int n,
			  int with_d, struct svc_entry *after, size_t *nafter, int *want)
{
	struct cls_redirect_service_key k = { 0 };
	size_t j;
	int add;

	*want = 1;
	if (n < 2 || (strcmp(w[1], "add") && strcmp(w[1], "del")))
		return M_FAIL;
	add = !strcmp(w[1], "add");
	if (n < 5)
		return M_FAIL;
	if (inet_pton(AF_INET, w[2], k.addr) == 1)
		k.family = CLS_REDIRECT_SERVICE_V4;
	else if (inet_pton(AF_INET6, w[2], k.addr) == 1)
		k.family = CLS_REDIRECT_SERVICE_V6;
	else
		return M_FAIL;
	if (!model_port(w[3], &k.port))
		return M_FAIL;
	k.port = htons(k.port);
	if (strcmp(w[4], "tcp") && strcmp(w[4], "udp"))
		return M_FAIL;
	k.proto = strcmp(w[4], "tcp") ? IPPROTO_UDP : IPPROTO_TCP;
	if (add ? n != 7 || strcmp(w[5], "dev") : n != 5)
		return M_FAIL;
	*want = 0;
	if (add && strcmp(w[6], "vpod"))
		return M_FAIL; /* not a veth with its peer in another namespace */
	if (dir_missing(pp, with_d, add))
		return M_FAIL;
	if (has_extras(pp) && pp->svc == V_ARRAY)
		return M_FAIL;
	/* Both commands keep the config's services flag bits: a config pin or
	 * value the tools refuse is refused first. */
	if (state_bad(pp->st) == 'c')
		return M_FAIL;
	*want = 1;
	*nafter = 0;
	if (has_extras(pp) && pp->svc == V_SOME) {
		if (!a->have_svc)
			return M_UNKNOWN;
		*nafter = a->nsvc;
		memcpy(after, a->svc, *nafter * sizeof(*after));
	}
	for (j = 0; j < *nafter; j++)
		if (!memcmp(&after[j].k, &k, sizeof(k)))
			break;
	if (!add && j == *nafter)
		return M_FAIL; /* not listed */
	if (!add) {
		after[j] = after[--*nafter];
	} else {
		if (j == *nafter)
			(*nafter)++;
		after[j].k = k;
		after[j].v.ifindex = vpod_ifindex;
		after[j].v.netnsid = vpod_netnsid;
	}
	qsort(after, *nafter, sizeof(*after), svc_cmp);
	return M_OK;
}

/* Pins removed or replaced, or new ones other than may[0..]: the first
 * such name, or NULL. */
static const char *pins_moved(const struct snap *a, const struct snap *b, const char *const *may, int any)
{
	int i, j, k;

	for (i = 0; i < a->npins; i++) {
		for (j = 0; j < b->npins && strcmp(a->name[i], b->name[j]); j++)
			;
		if (j == b->npins || a->id[i] != b->id[j])
			return a->name[i];
	}
	for (j = 0; j < b->npins && !any; j++) {
		for (i = 0; i < a->npins && strcmp(a->name[i], b->name[j]); i++)
			;
		if (i < a->npins)
			continue;
		for (k = 0; may[k] && strcmp(may[k], b->name[j]); k++)
			;
		if (!may[k])
			return b->name[j];
	}
	return NULL;
}

static int list_changed(const struct snap *a, const struct snap *b, int l)
{
	return a->list[l].have != b->list[l].have || a->list[l].n != b->list[l].n ||
	       memcmp(a->list[l].p, b->list[l].p, a->list[l].n * sizeof(a->list[l].p[0]));
}

static int svc_changed(const struct snap *a, const struct snap *b)
{
	return a->have_svc != b->have_svc || a->nsvc != b->nsvc ||
	       memcmp(a->svc, b->svc, a->nsvc * sizeof(a->svc[0]));
}

/* The model's verdict on a config vector that is a sources, hops or
 * services command without options but -d. */
static void check_model(const struct pins *pp, const char *const *av, const struct snap *a,
			const struct snap *b, int s, struct why *w)
{
	static struct cls_redirect_prefix after[TRUST_MAX + 8];
	struct svc_entry safter[SVC_SNAP_MAX + 1];
	const char *words[40];
	size_t nafter = 0;
	int n, with_d, want = 1, m = M_UNKNOWN, l = -1;

	n = plain_words(av, words, &with_d);
	if (n < 1 || with_d == 2)
		return;
	if (!strcmp(words[0], "sources") || !strcmp(words[0], "hops")) {
		l = !strcmp(words[0], "hops");
		m = model_trust(pp, a, words, n, with_d, l, after, &nafter, &want);
	} else if (!strcmp(words[0], "services")) {
		m = model_services(pp, a, words, n, with_d, safter, &nafter, &want);
	}
	if (m != M_UNKNOWN)
		predicted[l < 0][m == M_OK]++;
	if (m == M_FAIL && (s == 0 || (want && s != want)))
		why_add(w, "the man page says this fails%s; exit %d", want ? " with exit status 1" : "", s);
	if (m != M_OK)
		return;
	if (s != 0) {
		why_add(w, "the man page says this succeeds; exit %d", s);
		return;
	}
	if (l >= 0) {
		struct cls_redirect_config cfg = a->cfg;

		if (!b->list[l].have || b->list[l].n != nafter ||
		    memcmp(b->list[l].p, after, nafter * sizeof(after[0])))
			why_add(w, "%s holds %zu prefixes, the man page says %zu", list_pin[l], b->list[l].n,
				nafter);
		if (!strcmp(words[1], "del"))
			cfg.trust_gen = cfg.trust_gen + 1 ? cfg.trust_gen + 1 : 1;
		if (a->have_cfg && (!b->have_cfg || memcmp(&b->cfg, &cfg, sizeof(cfg))))
			why_add(w, "config trust_gen %u -> %u (or more changed), the man page says %u",
				a->cfg.trust_gen, b->cfg.trust_gen, cfg.trust_gen);
		return;
	}
	if (!b->have_svc || b->nsvc != nafter || memcmp(b->svc, safter, nafter * sizeof(safter[0])))
		why_add(w, "the services map holds %zu entries (or other ones), the man page says %zu",
			b->nsvc, nafter);
}

/* While configured, flag bits 2 and 3 say whether the services map has
 * an entry with a port, with port 0 (cls-redirect-config.8, services). */
static void check_services_flags(const struct snap *b, struct why *w)
{
	__u32 bits = 0;
	size_t i;

	if (!b->have_cfg || b->cfg.version != CLS_REDIRECT_CONFIG_VERSION || !b->cfg.addr)
		return;
	for (i = 0; i < b->nsvc; i++)
		bits |= b->svc[i].k.port ? CLS_REDIRECT_F_SERVICES : CLS_REDIRECT_F_SERVICES_ANY_PORT;
	if ((b->cfg.flags & (CLS_REDIRECT_F_SERVICES | CLS_REDIRECT_F_SERVICES_ANY_PORT)) != bits)
		why_add(w, "config flags 0x%x after a successful command, the services map says bits 0x%x",
			b->cfg.flags, bits);
}

static int check_run(int stat, const struct pins *pp, const char *const *av, const struct snap *a,
		     const struct snap *b, const struct result *res, struct why *w)
{
	enum state st = pp->st;
	const char *tool = stat ? "cls-redirect-stat" : "cls-redirect-config";
	char prefix[64];
	int s = res->status, changed_cfg, changed_met, changed_pins, changed_lists, changed_svc;
	int info_only = !strncmp(res->out, "Usage:", 6) || strstr(res->out, "(config layout");

	snprintf(prefix, sizeof(prefix), "%s: ", tool);
	if (strstr(res->err, "Sanitizer") || strstr(res->err, "runtime error"))
		why_add(w, "sanitizer: %.600s", strstr(res->err, "ERROR") ? strstr(res->err, "ERROR") :
						    res->err);
	if (res->interrupted == 2)
		why_add(w, "did not end (killed after the time limit)");
	else if (s < 0)
		why_add(w, "killed by signal %d", -s);
	else if (s > 2)
		why_add(w, "exit status %d", s);
	if (s == 1 || s == 2) {
		if (strncmp(res->err, prefix, strlen(prefix)))
			why_add(w, "failed (%d) without saying why on stderr as '%s...': '%.200s'", s,
				prefix, res->err);
	}
	changed_pins = strcmp(a->listing, b->listing) != 0;
	changed_lists = list_changed(a, b, 0) || list_changed(a, b, 1);
	changed_svc = svc_changed(a, b);
	changed_cfg = a->have_cfg != b->have_cfg ||
		      (a->have_cfg && memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)));
	changed_met = a->have_met != b->have_met || a->met_len != b->met_len ||
		      memcmp(a->met, b->met, a->met_len);
	if (!stat)
		check_model(pp, av, a, b, s, w);
	if (s != 0) {
		if (changed_pins || changed_cfg || changed_met || changed_lists || changed_svc)
			why_add(w, "failed (%d) but changed the pins or a map: pins '%s' -> '%s'%s%s%s%s", s,
				a->listing, b->listing, changed_cfg ? ", config value" : "",
				changed_met ? ", counters" : "", changed_lists ? ", a trust list" : "",
				changed_svc ? ", the services map" : "");
		return w->len ? -1 : 0;
	}
	/* Success.  sources and hops use no config (cls-redirect-config.8). */
	{
		const char *words[40];
		int with_d, n = plain_words(av, words, &with_d);

		if (!stat && n > 0 && (!strcmp(words[0], "sources") || !strcmp(words[0], "hops")))
			info_only = 1;
	}
	if (!info_only && state_bad(st) == (stat ? 'm' : 'c'))
		why_add(w, "succeeded on a %s pin it must refuse", state_names[st]);
	if (!info_only && !stat && (st == S_CFG_VERSION2 || st == S_CFG_FLAGS || st == S_CFG_RESERVED))
		why_add(w, "succeeded on a config value it must refuse (%s)", state_names[st]);
	if (stat) {
		if (changed_pins || changed_cfg || changed_lists || changed_svc)
			why_add(w, "cls-redirect-stat changed the pins, the config, a list or the services");
		if (changed_met) {
			size_t i;

			if (!has_word(av, "--zero"))
				why_add(w, "counters changed without --zero");
			for (i = 0; i < b->met_len; i++)
				if (b->met[i]) {
					why_add(w, "--zero left a counter non-zero");
					break;
				}
		}
	} else {
		int set = has_word(av, "set"), clear = has_word(av, "clear");
		int add = has_word(av, "add"), del = has_word(av, "del"), svc = has_word(av, "services");
		const char *may[4] = { NULL }, *moved, *words[40];
		int nm = 0, l, n, with_d;

		for (l = 0; l < 2; l++) {
			if (has_word(av, list_cmd[l]) && add)
				may[nm++] = list_pin[l];
			if (list_changed(a, b, l) && !(has_word(av, list_cmd[l]) && (add || del)))
				why_add(w, "%s changed by a command that is not %s add|del", list_pin[l],
					list_cmd[l]);
		}
		if (svc && add)
			may[nm++] = SVC;
		if (changed_svc && !(svc && (add || del)))
			why_add(w, "the services map changed by a command that is not services add|del");
		if (changed_met)
			why_add(w, "cls-redirect-config changed the counters");
		moved = pins_moved(a, b, may, set && !a->have_cfg);
		if (moved)
			why_add(w, "pins changed (%s): '%s' -> '%s'", moved, a->listing, b->listing);
		n = plain_words(av, words, &with_d);
		if (n > 0 && (!strcmp(words[0], "set") || !strcmp(words[0], "services")))
			check_services_flags(b, w);
		if (changed_cfg && !set && !clear) {
			struct cls_redirect_config x = a->cfg, y = b->cfg;
			__u32 bits = CLS_REDIRECT_F_SERVICES | CLS_REDIRECT_F_SERVICES_ANY_PORT;
			int trust = has_word(av, list_cmd[0]) || has_word(av, list_cmd[1]);

			/* services add|del keep the services flag bits, sources|hops
			 * del move trust_gen on: nothing else. */
			if (svc) {
				x.flags &= ~bits;
				y.flags &= ~bits;
			}
			if (trust && del)
				x.trust_gen = y.trust_gen;
			if (!(svc || (trust && del)) || !a->have_cfg || !b->have_cfg || memcmp(&x, &y, sizeof(x)))
				why_add(w, "config changed by a command that is neither set nor clear");
		}
		if (changed_cfg && set && !clear &&
		    (b->cfg.version != CLS_REDIRECT_CONFIG_VERSION || !b->cfg.addr || !b->cfg.port ||
		     (ntohl(b->cfg.addr) >> 24) == 127 || (ntohl(b->cfg.addr) >> 24) >= 224))
			why_add(w, "set wrote a config the classifier cannot use: version %u addr 0x%08x port %u",
				b->cfg.version, ntohl(b->cfg.addr), ntohs(b->cfg.port));
		if (changed_cfg && clear && !set) {
			static const struct cls_redirect_config zero;

			if (memcmp(&b->cfg, &zero, sizeof(zero)))
				why_add(w, "clear did not leave the config all zero");
		}
	}
	return w->len ? -1 : 0;
}

/* ---------------------------------------------------------------------- */

static int setup(char *err, size_t size)
{
	char tmpl[] = "/tmp/cls-redirect-fuzz-tools.XXXXXX";
	const char *env = getenv("FUZZ_TOOLS_DIR");
	char cmd[1024];
	int i, ifindex, netnsid;

	/* A network namespace of its own: no classifier attached here, and
	 * room for the services commands' interfaces: vpod, its peer in a pod
	 * (harness_pod), and vhost, its peer here. */
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		snprintf(err, size, "private mount and network namespace: %s (must run as root)",
			 strerror(errno));
		return -1;
	}
	if (harness_pod("vpod", "eth0", NULL, NULL, &ifindex, &netnsid, err, size))
		return -1;
	vpod_ifindex = (__u32)ifindex;
	vpod_netnsid = (__u32)netnsid;
	if (harness_sh("ip link add vhost type veth peer name vhost1")) {
		snprintf(err, size, "ip link add vhost type veth peer name vhost1 failed");
		return -1;
	}
	snprintf(mnt, sizeof(mnt), "/tmp/cls-redirect-bpffs.XXXXXX");
	if (!mkdtemp(mnt) || mount("bpf", mnt, "bpf", 0, NULL)) {
		snprintf(err, size, "mounting a bpffs on %s: %s", mnt, strerror(errno));
		return -1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s/%s", mnt, PIN_SUB);
	if (env && *env) {
		snprintf(tools_dir, sizeof(tools_dir), "%s", env);
	} else {
		if (!mkdtemp(tmpl)) {
			snprintf(err, size, "mkdtemp: %s", strerror(errno));
			return -1;
		}
		snprintf(tools_dir, sizeof(tools_dir), "%s", tmpl);
		snprintf(cmd, sizeof(cmd),
			 "make -s --no-print-directory -f selftests/fuzz.mk fuzz-tools FUZZ_TOOLS_DIR=%s >%s/build.log 2>&1",
			 tools_dir, tools_dir);
		if (system(cmd)) {
			snprintf(cmd, sizeof(cmd), "cat %s/build.log >&2", tools_dir);
			if (system(cmd)) {
			}
			snprintf(err, size, "building the tools with -fsanitize=address,undefined failed "
					    "(libclang-rt-14-dev missing? make deps)");
			return -1;
		}
	}
	ncpus = libbpf_num_possible_cpus();
	memset(long_word, 'A', sizeof(long_word) - 1);
	snprintf(dir_word[0], sizeof(dir_word[0]), "%s", pin_dir);
	snprintf(dir_word[1], sizeof(dir_word[1]), "%s", mnt);
	snprintf(dir_word[2], sizeof(dir_word[2]), "/tmp");
	snprintf(dir_word[3], sizeof(dir_word[3]), "/nonexistent/dir");
	snprintf(dir_word[4], sizeof(dir_word[4]), "/etc/passwd");
	snprintf(dir_word[5], sizeof(dir_word[5]), "%s/%s", pin_dir, CFG);
	snprintf(dir_word[6], sizeof(dir_word[6]), "%s/", pin_dir);
	for (i = 0; i < 4090; i++)
		dir_word[7][i] = i % 2 ? '/' : 'a';
	return 0;
}

static void cleanup(void)
{
	char cmd[600];

	clear_pins();
	umount(mnt);
	rmdir(mnt);
	if (!getenv("FUZZ_TOOLS_DIR") && tools_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tools_dir);
		if (system(cmd)) {
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t seed = 0xc15d2024ull, runs = 600, run, fails[2] = { 0 }, done[2] = { 0 };
	double seconds = 0, t0, t1;
	static struct result res;
	char err[512], first[2][1600] = { "", "" };
	const char *av[40];
	int opt, stat;

	setvbuf(stdout, NULL, _IOLBF, 0);
	harness_fuzz_env(&seed, &seconds);
	while ((opt = getopt(argc, argv, "vs:t:n:h")) != -1) {
		if (harness_fuzz_opt(opt, optarg, &verbose, &seed, &seconds))
			continue;
		switch (opt) {
		case 'n': runs = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: test_fuzz_tools [-v] [-s SEED] [-t SECONDS] [-n RUNS]\n");
			return opt == 'h' ? 0 : 1;
		}
	}
	if (setup(err, sizeof(err))) {
		printf("FAIL fuzz-tools-setup: %s\n", err);
		cleanup();
		return 1;
	}
	t0 = now();
	for (run = 0; seconds > 0 ? now() - t0 < seconds : run < runs; run++) {
		struct rng r = { seed ^ (run * 0x2545f4914f6cdd1dull) };
		enum state st = (enum state)(rnd(&r, 3) ? (rnd(&r, 2) ? S_GOOD : S_UNCONFIGURED) :
						  rnd(&r, S_COUNT));
		struct pins pp = { .st = st };
		static struct snap a, b;
		struct why w = { .len = 0 };
		int l;

		for (l = 0; l < 2; l++)
			pp.list[l] = rnd(&r, 3) ? (rnd(&r, 2) ? L_SOME : L_ABSENT) :
						  (enum list_state)rnd(&r, L_COUNT);
		pp.svc = rnd(&r, 3) ? (rnd(&r, 2) ? V_SOME : V_ABSENT) : (enum svc_state)rnd(&r, V_COUNT);
		stat = (int)rnd(&r, 2);
		gen_argv(&r, stat, av);
		if (make_pins(&r, &pp)) {
			printf("FAIL fuzz-tools-setup: cannot make pin state %s: %s\n", state_names[st],
			       strerror(errno));
			n_fail++;
			break;
		}
		take_snap(&a);
		if (run_tool(stat, av, &res)) {
			printf("FAIL fuzz-tools-setup: cannot run %s: %s\n", av[0], strerror(errno));
			n_fail++;
			break;
		}
		take_snap(&b);
		done[stat]++;
		if (check_run(stat, &pp, av, &a, &b, &res, &w)) {
			char args[1200];

			argv_str(av, args, sizeof(args));
			fails[stat]++;
			if (!first[stat][0] || verbose) {
				snprintf(first[stat], sizeof(first[stat]),
					 "seed 0x%llx run %llu, pins %s (sources %s, hops %s, services %s): "
					 "%.400s -> exit %d: %.600s",
					 (unsigned long long)seed, (unsigned long long)run, state_names[st],
					 list_state_names[pp.list[0]], list_state_names[pp.list[1]],
					 svc_state_names[pp.svc], args, res.status, w.buf);
				if (verbose)
					printf("# %s\n# stderr: %.2000s\n", first[stat], res.err);
			}
		}
	}
	t1 = now();
	/* A pass long enough to matter must have seen the model's both ways. */
	if (!n_fail && done[0] >= 200 &&
	    (!predicted[0][0] || !predicted[0][1] || !predicted[1][0] || !predicted[1][1])) {
		printf("FAIL fuzz-tools-model: %llu config vectors, and the model predicted a failure "
		       "and a success of sources/hops %llu/%llu times, of services %llu/%llu: the "
		       "vectors do not exercise the commands\n",
		       (unsigned long long)done[0], predicted[0][0], predicted[0][1], predicted[1][0],
		       predicted[1][1]);
		n_fail++;
	}
	for (stat = 0; stat < 2; stat++) {
		const char *name = stat ? "fuzz-tools-stat" : "fuzz-tools-config";

		if (fails[stat]) {
			printf("FAIL %s: %llu of %llu argument vectors failed; first: %s\n", name,
			       (unsigned long long)fails[stat], (unsigned long long)done[stat], first[stat]);
			n_fail++;
		} else {
			printf("PASS %s (%llu argument vectors under ASan+UBSan, seed 0x%llx)\n", name,
			       (unsigned long long)done[stat], (unsigned long long)seed);
		if (!stat)
			printf("# the model of cls-redirect-config.8 predicted %llu sources/hops "
			       "vectors (%llu succeed) and %llu services vectors (%llu succeed)\n",
			       predicted[0][0] + predicted[0][1], predicted[0][1],
			       predicted[1][0] + predicted[1][1], predicted[1][1]);
		}
	}
	printf("# fuzz-tools: %llu runs in %.1f s (%.0f runs/s)\n",
	       (unsigned long long)(done[0] + done[1]), t1 - t0,
	       (done[0] + done[1]) / (t1 - t0 > 0 ? t1 - t0 : 1));
	cleanup();
	return n_fail ? 1 : 0;
}
