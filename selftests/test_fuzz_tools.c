/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Fuzzer of the operator tools: cls-redirect-config and
 * cls-redirect-stat built with AddressSanitizer (leak detection on) and
 * UndefinedBehaviorSanitizer (selftests/fuzz.mk), run on generated argument
 * vectors against pinned maps in a private bpffs, in states that include
 * every way a pin can be wrong.
 *
 * Each run checks:
 *   - the tool ends by itself (a -w run is interrupted with SIGINT) with
 *     status 0, 1 or 2, and no sanitizer reported anything;
 *   - a failure (1, 2) says why: stderr starts with "<tool>: ";
 *   - a failure changes nothing: same pins, same map ids, same config value,
 *     same counters on every CPU;
 *   - a success changes only what its command may: set / clear the config
 *     (set leaves version 1, a unicast address and a port; clear leaves all
 *     zero), --zero zeroes the counters, anything else changes nothing (the
 *     old names reset and --reset are refused);
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
#define OUT_MAX 65536

static char mnt[64], pin_dir[128], tools_dir[256];
static int verbose, ncpus;
static int n_fail;

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
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, CFG);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", pin_dir, MET);
	unlink(path);
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

/* What is pinned: names, ids, and the values of maps of our layout. */
struct snap {
	char listing[1024];
	int have_cfg, have_met;
	struct cls_redirect_config cfg;
	uint8_t met[4096];
	size_t met_len;
};

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
			close(fd);
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

static const char *const w_cmd[] = { "show", "set", "clear", "reset", "sho", "SET", "", "help", "set\n" };
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

/* A vector: mostly a valid command with something wrong, sometimes noise. */
static int gen_argv(struct rng *r, int stat, const char **av)
{
	int n = 1, i, k;

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
		switch (rnd(r, 5)) {
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
	/* Damage: mangle, insert, delete or swap words. */
	for (k = (int)rnd(r, 4); k && n > 1; k--) {
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

static int check_run(int stat, enum state st, const char *const *av, const struct snap *a,
		     const struct snap *b, const struct result *res, struct why *w)
{
	const char *tool = stat ? "cls-redirect-stat" : "cls-redirect-config";
	char prefix[64];
	int s = res->status, changed_cfg, changed_met, changed_pins;
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
	changed_cfg = a->have_cfg != b->have_cfg ||
		      (a->have_cfg && memcmp(&a->cfg, &b->cfg, sizeof(a->cfg)));
	changed_met = a->have_met != b->have_met || a->met_len != b->met_len ||
		      memcmp(a->met, b->met, a->met_len);
	if (s != 0) {
		if (changed_pins || changed_cfg || changed_met)
			why_add(w, "failed (%d) but changed the pins or a map: pins '%s' -> '%s'%s%s", s,
				a->listing, b->listing, changed_cfg ? ", config value" : "",
				changed_met ? ", counters" : "");
		return w->len ? -1 : 0;
	}
	/* Success. */
	if (!info_only && state_bad(st) == (stat ? 'm' : 'c'))
		why_add(w, "succeeded on a %s pin it must refuse", state_names[st]);
	if (!info_only && !stat && (st == S_CFG_VERSION2 || st == S_CFG_FLAGS || st == S_CFG_RESERVED))
		why_add(w, "succeeded on a config value it must refuse (%s)", state_names[st]);
	if (stat) {
		if (changed_pins || changed_cfg)
			why_add(w, "cls-redirect-stat changed the pins or the config");
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

		if (changed_met)
			why_add(w, "cls-redirect-config changed the counters");
		if (changed_pins && !(set && !a->have_cfg))
			why_add(w, "pins changed: '%s' -> '%s'", a->listing, b->listing);
		if (changed_cfg && !set && !clear)
			why_add(w, "config changed by a command that is neither set nor clear");
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
	int i;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		snprintf(err, size, "private mount namespace: %s (must run as root)", strerror(errno));
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
	const char *env, *av[40];
	int opt, stat;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((env = getenv("FUZZ_SEED")) && *env)
		seed = strtoull(env, NULL, 0);
	if ((env = getenv("FUZZ_SECONDS")) && *env)
		seconds = strtod(env, NULL);
	while ((opt = getopt(argc, argv, "vs:t:n:h")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': seconds = strtod(optarg, NULL); break;
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
		struct snap a, b;
		struct why w = { .len = 0 };

		stat = (int)rnd(&r, 2);
		gen_argv(&r, stat, av);
		if (make_state(st)) {
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
		if (check_run(stat, st, av, &a, &b, &res, &w)) {
			char args[1200];

			argv_str(av, args, sizeof(args));
			fails[stat]++;
			if (!first[stat][0] || verbose) {
				snprintf(first[stat], sizeof(first[stat]),
					 "seed 0x%llx run %llu, pins %s: %.400s -> exit %d: %.600s",
					 (unsigned long long)seed, (unsigned long long)run,
					 state_names[st], args, res.status, w.buf);
				if (verbose)
					printf("# %s\n# stderr: %.2000s\n", first[stat], res.err);
			}
		}
	}
	t1 = now();
	for (stat = 0; stat < 2; stat++) {
		const char *name = stat ? "fuzz-tools-stat" : "fuzz-tools-config";

		if (fails[stat]) {
			printf("FAIL %s: %llu of %llu argument vectors failed; first: %s\n", name,
			       (unsigned long long)fails[stat], (unsigned long long)done[stat], first[stat]);
			n_fail++;
		} else {
			printf("PASS %s (%llu argument vectors under ASan+UBSan, seed 0x%llx)\n", name,
			       (unsigned long long)done[stat], (unsigned long long)seed);
		}
	}
	printf("# fuzz-tools: %llu runs in %.1f s (%.0f runs/s)\n",
	       (unsigned long long)(done[0] + done[1]), t1 - t0,
	       (done[0] + done[1]) / (t1 - t0 > 0 ? t1 - t0 : 1));
	cleanup();
	return n_fail ? 1 : 0;
}
