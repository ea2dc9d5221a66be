// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls-redirect-stat: print and zero the counters of the cls_redirect
 * classifier, the per-CPU array pinned as <pin dir>/cls_redirect_metrics
 * (cls-redirect-stat.8; the counters: tc-cls-redirect.8, METRICS).
 *
 * The counter list is CLS_REDIRECT_METRICS() from cls_redirect.h, the same
 * X-macro the classifier's layout comes from, so names and order cannot
 * drift.  The tool never creates this map: only the classifier counts.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"

#define MISSING_HINT "is cls_redirect.o attached with tc?"
#define PROM_PREFIX "cls_redirect_"

static const struct metric {
	const char *name;
	const char *help;
} metrics[CLS_REDIRECT_METRIC_COUNT] = {
#define METRIC_ENTRY(id, name, help) [CLS_REDIRECT_METRIC_##id] = { #name, help },
	CLS_REDIRECT_METRICS(METRIC_ENTRY)
#undef METRIC_ENTRY
};

typedef unsigned long long counters_t[CLS_REDIRECT_METRIC_COUNT];

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS]\n"
		"\n"
		"Print the counters of the cls_redirect tc classifier, summed over all CPUs,\n"
		"from the map pinned as PIN_DIR/" CLS_REDIRECT_METRICS_MAP ".\n"
		"\n"
		"Options:\n"
		"  (none)               a table: counter name, packets\n"
		"  -j, --json           one JSON object: counter name -> packets\n"
		"  -p, --pretty         indented JSON (implies -j)\n"
		"      --prometheus     Prometheus text format: " PROM_PREFIX "<name>, with\n"
		"                       \"_total\" moved to the end of the name\n"
		"  -w, --watch SECONDS  print the table with per-second rates every SECONDS\n"
		"                       (1..3600) until interrupted (Ctrl-C)\n"
		"      --zero           set every counter on every CPU to zero\n"
		"                       (the configuration is not touched; the old name\n"
		"                       --reset is refused)\n"
		"  -d, --pin-dir DIR    the maps are pinned in DIR\n"
		"                       (default ${TC_BPF_MNT:-" CLS_REDIRECT_BPFFS_DEFAULT
		"}/" CLS_REDIRECT_PIN_SUBDIR ")\n"
		"  -h, --help           print this help and exit\n"
		"  -V, --version        print the version and exit\n"
		"\n"
		"Exit status: 0 success (also when -w is interrupted); 1 usage error;\n"
		"2 system or bpf() error (not root, pin directory or map missing, map not\n"
		"matching this version).\n",
		prog_name);
}

/* Per-CPU values come back as one slot per possible CPU. */
struct percpu {
	int ncpus;
	struct cls_redirect_metrics *values;
};

static int percpu_init(struct percpu *p)
{
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0)
		return syserr(-p->ncpus, "cannot count the possible CPUs");
	p->values = calloc(p->ncpus, sizeof(*p->values));
	if (!p->values)
		return syserr(ENOMEM, "cannot allocate %d per-CPU values", p->ncpus);
	return EXIT_OK;
}

static int read_counters(int fd, const char *dir, struct percpu *p, counters_t sum)
{
	__u32 key = 0;
	int cpu, i;

	if (bpf_map_lookup_elem(fd, &key, p->values))
		return syserr(errno, "%s/%s: cannot read the counters", dir,
			      CLS_REDIRECT_METRICS_MAP);
	memset(sum, 0, sizeof(counters_t));
	for (cpu = 0; cpu < p->ncpus; cpu++)
		for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
			sum[i] += p->values[cpu].counters[i];
	return EXIT_OK;
}

static void print_json(const counters_t c, bool pretty)
{
	struct json j;
	int i;

	json_begin(&j, stdout, pretty);
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		json_u64(&j, metrics[i].name, c[i]);
	json_end(&j);
}

/* Prometheus wants counters to end in "_total"; our names carry it in the
 * middle (accepted_packets_total_syn), so it moves to the end:
 * cls_redirect_accepted_packets_syn_total. */
static void prom_name(const char *name, char *buf, size_t size)
{
	const char *t = strstr(name, "_total");

	if (!t)
		snprintf(buf, size, PROM_PREFIX "%s_total", name);
	else
		snprintf(buf, size, PROM_PREFIX "%.*s%s_total", (int)(t - name), name, t + 6);
}

static void print_prometheus(const counters_t c)
{
	char name[128];
	const char *h;
	int i;

	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		prom_name(metrics[i].name, name, sizeof(name));
		printf("# HELP %s ", name);
		/* The exposition format escapes backslash and newline in HELP. */
		for (h = metrics[i].help; *h; h++) {
			if (*h == '\\')
				fputs("\\\\", stdout);
			else if (*h == '\n')
				fputs("\\n", stdout);
			else
				putchar(*h);
		}
		printf("\n# TYPE %s counter\n%s %llu\n", name, name, c[i]);
	}
}

#define NAME_WIDTH 40

/* rates NULL: no rate column; rates[i] < 0: not known yet. */
static void print_table(const counters_t c, const double *rates)
{
	int i;

	printf("%-*s %16s", NAME_WIDTH, "counter", "packets");
	if (rates)
		printf(" %12s", "per-second");
	printf("\n");
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		printf("%-*s %16llu", NAME_WIDTH, metrics[i].name, c[i]);
		if (rates && rates[i] >= 0)
			printf(" %12.1f", rates[i]);
		else if (rates)
			printf(" %12s", "-");
		printf("\n");
	}
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int watch(int fd, const char *dir, struct percpu *p, unsigned long seconds)
{
	/* No SA_RESTART: the signal must cut the sleep short. */
	struct sigaction sa = { .sa_handler = on_signal };
	counters_t prev, cur;
	double rates[CLS_REDIRECT_METRIC_COUNT], t_prev = 0, t_cur;
	bool tty = isatty(STDOUT_FILENO);
	int i, ret, round;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		rates[i] = -1;
	for (round = 0; !stop; round++) {
		if (round) {
			struct timespec ts = { .tv_sec = seconds };

			if (nanosleep(&ts, NULL) && stop)
				break;
		}
		ret = read_counters(fd, dir, p, cur);
		if (ret)
			return ret;
		t_cur = now();
		/* A counter that went down was reset: no rate this round. */
		for (i = 0; round && i < CLS_REDIRECT_METRIC_COUNT; i++)
			rates[i] = cur[i] >= prev[i] ? (cur[i] - prev[i]) / (t_cur - t_prev) : -1;
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (round)
			putchar('\n');
		print_table(cur, rates);
		/* A closed pipe or a full disk ends the watch (exit 2), as it
		 * would end any other output. */
		if (!output_flush())
			return EXIT_SYSTEM; /* output_close() reports it */
		memcpy(prev, cur, sizeof(prev));
		t_prev = t_cur;
	}
	return EXIT_OK;
}

static int zero(const char *dir, struct percpu *p)
{
	__u32 key = 0;
	int fd, lock_fd, ret;

	ret = pin_dir_lock(dir, &lock_fd);
	if (ret)
		return ret;
	ret = map_open(dir, &metrics_map_desc, false, false, MISSING_HINT, &fd);
	if (ret)
		goto out;
	/* One update writes the value of every CPU. */
	memset(p->values, 0, p->ncpus * sizeof(*p->values));
	if (bpf_map_update_elem(fd, &key, p->values, BPF_ANY))
		ret = syserr(errno, "%s/%s: cannot zero the counters", dir,
			     CLS_REDIRECT_METRICS_MAP);
	close(fd);
out:
	pin_dir_unlock(lock_fd);
	return ret;
}

enum { OPT_PROMETHEUS = 256, OPT_ZERO, OPT_RESET };

static int run(int argc, char **argv)
{
	static const struct option long_opts[] = {
		COMMON_LONG_OPTS,
		{ "watch", required_argument, NULL, 'w' },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ "zero", no_argument, NULL, OPT_ZERO },
		/* Renamed: "reset" read as well as "unconfigure". */
		{ "reset", no_argument, NULL, OPT_RESET },
		{},
	};
	struct common_opts o = {};
	bool prometheus = false, do_zero = false;
	unsigned long seconds = 0;
	struct percpu p = {};
	counters_t sum;
	char dir[PATH_MAX];
	int c, fd, ret;

	prog_name = "cls-redirect-stat";
	while ((c = next_option(argc, argv, "+:" COMMON_SHORT_OPTS "w:", long_opts)) != -1) {
		switch (c) {
		case 'w':
			ret = parse_ulong("-w", optarg, 1, 3600, &seconds);
			if (ret)
				return ret;
			break;
		case OPT_PROMETHEUS:
			prometheus = true;
			break;
		case OPT_ZERO:
			do_zero = true;
			break;
		case OPT_RESET:
			return errorf(EXIT_USAGE,
				      "--reset is now --zero (zero the counters: cls-redirect-stat "
				      "--zero); to unconfigure: cls-redirect-config clear");
		case '?':
			return EXIT_USAGE;
		default:
			ret = common_opt(c, optarg, &o, usage);
			if (ret >= 0)
				return ret;
		}
	}
	if (optind < argc)
		return errorf(EXIT_USAGE, "unexpected argument '%s': see %s --help", argv[optind],
			      prog_name);
	if (o.json + prometheus + (seconds > 0) + do_zero > 1)
		return errorf(EXIT_USAGE,
			      "use one of -j/-p, --prometheus, -w and --zero at a time");

	ret = check_privileges();
	if (!ret)
		ret = pin_dir_resolve(&o, false, MISSING_HINT, dir, sizeof(dir));
	if (!ret)
		ret = percpu_init(&p);
	if (ret)
		return ret;
	if (do_zero) {
		ret = zero(dir, &p);
		goto out;
	}

	ret = map_open(dir, &metrics_map_desc, true, false, MISSING_HINT, &fd);
	if (ret)
		goto out;
	if (seconds)
		ret = watch(fd, dir, &p, seconds);
	else
		ret = read_counters(fd, dir, &p, sum);
	close(fd);
	if (ret || seconds)
		goto out;
	if (o.json)
		print_json(sum, o.pretty);
	else if (prometheus)
		print_prometheus(sum);
	else
		print_table(sum, NULL);
out:
	free(p.values);
	return ret;
}

int main(int argc, char **argv)
{
	return output_close(run(argc, argv));
}
