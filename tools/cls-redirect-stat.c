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
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
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
		"      --prometheus     Prometheus text format: " PROM_PREFIX "packets_total\n"
		"                       {outcome,reason}, " PROM_PREFIX "processed_packets_total,\n"
		"                       " PROM_PREFIX "build_info, " PROM_PREFIX "configured,\n"
		"                       " PROM_PREFIX "attached{device} ...\n"
		"      --output FILE    write the table, -j or --prometheus output to FILE\n"
		"                       atomically (temporary file, fsync, rename), for\n"
		"                       node_exporter's textfile collector\n"
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

static void print_json(FILE *f, const counters_t c, bool pretty)
{
	struct json j;
	int i;

	json_begin(&j, f, pretty);
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++)
		json_u64(&j, metrics[i].name, c[i]);
	json_end(&j);
}

/*
 * Prometheus series (man page: CLS-REDIRECT-STAT, PROMETHEUS).  The outcome
 * counters form one family with labels, so that "all errors" is
 * sum(cls_redirect_packets_total{outcome="error"}), not a regular
 * expression over names; what a counter's name starts with says where it
 * goes, so a counter appended to CLS_REDIRECT_METRICS() finds its family
 * without a change here.
 */
static const struct family {
	const char *prefix; /* counter name prefix; the rest is the label value */
	const char *series; /* Prometheus name, without cls_redirect_ */
	const char *label;  /* "outcome" families also get reason */
	const char *value;  /* outcome label value */
	const char *help;   /* family help, before the per-counter texts */
} families[] = {
	{ "processed_packets_total", "processed_packets_total", NULL, NULL, NULL },
	{ "passed_packets_total", "packets_total", "outcome", "passed",
	  "Packets by outcome and reason: every processed packet is counted once here." },
	{ "accepted_packets_total_", "packets_total", "outcome", "accepted", NULL },
	{ "forwarded_packets_total_", "packets_total", "outcome", "forwarded", NULL },
	{ "errors_total_", "packets_total", "outcome", "error", NULL },
	{ "l3_protocol_packets_total_", "l3_protocol_packets_total", "protocol", NULL,
	  "Encapsulated packets by inner IP version (not an outcome)." },
	{ "l4_protocol_packets_total_", "l4_protocol_packets_total", "protocol", NULL,
	  "Encapsulated packets by inner protocol (not an outcome)." },
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* The family counter i belongs to, or NULL (a flat series of its own). */
static const struct family *family_of(int i, const char **rest)
{
	const char *name = metrics[i].name;
	size_t k, len;

	for (k = 0; k < NFAMILIES; k++) {
		len = strlen(families[k].prefix);
		if (!strncmp(name, families[k].prefix, len) &&
		    (families[k].prefix[len - 1] == '_' || !name[len])) {
			*rest = name + len;
			return &families[k];
		}
	}
	return NULL;
}

/* The exposition format escapes backslash and newline in HELP. */
static void prom_escape(FILE *f, const char *h)
{
	for (; *h; h++) {
		if (*h == '\\')
			fputs("\\\\", f);
		else if (*h == '\n')
			fputs("\\n", f);
		else
			fputc(*h, f);
	}
}

/* HELP and TYPE of a family: its own sentence, then "label: text" for each
 * of its counters, from the help texts of cls_redirect.h. */
static void prom_family_head(FILE *f, const struct family *fam)
{
	const struct family *g;
	const char *rest;
	bool first = true;
	int i;

	fprintf(f, "# HELP " PROM_PREFIX "%s ", fam->series);
	if (fam->help)
		prom_escape(f, fam->help);
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		g = family_of(i, &rest);
		if (!g || strcmp(g->series, fam->series))
			continue;
		if (!g->label) { /* a family of one: its text alone */
			prom_escape(f, metrics[i].help);
			break;
		}
		fputs(first && !fam->help ? "" : " ", f);
		if (g->value)
			fprintf(f, "%s%s%s: ", g->value, *rest ? "/" : "", rest);
		else
			fprintf(f, "%s: ", rest);
		prom_escape(f, metrics[i].help);
		fputc('.', f);
		first = false;
	}
	fprintf(f, "\n# TYPE " PROM_PREFIX "%s counter\n", fam->series);
}

/* A counter no family takes: cls_redirect_<name>, "_total" moved to the end. */
static void prom_flat(FILE *f, int i, unsigned long long v)
{
	const char *name = metrics[i].name, *t = strstr(name, "_total");
	char buf[128];

	if (!t)
		snprintf(buf, sizeof(buf), PROM_PREFIX "%s_total", name);
	else
		snprintf(buf, sizeof(buf), PROM_PREFIX "%.*s%s_total", (int)(t - name), name, t + 6);
	fprintf(f, "# HELP %s ", buf);
	prom_escape(f, metrics[i].help);
	fprintf(f, "\n# TYPE %s counter\n%s %llu\n", buf, buf, v);
}

/* What cls-redirect-stat knows besides the counters, for --prometheus. */
struct state {
	bool configured;
	char (*attached)[16]; /* devices with a filter using our maps */
	size_t nattached;
};

static void print_prometheus(FILE *f, const counters_t c, const struct state *st)
{
	const struct family *fam, *g;
	const char *rest;
	bool done[NFAMILIES] = {};
	size_t k;
	int i, j;

	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		fam = family_of(i, &rest);
		if (!fam) {
			prom_flat(f, i, c[i]);
			continue;
		}
		/* A family is printed whole, at its first counter. */
		for (k = 0; k < NFAMILIES; k++)
			if (!strcmp(families[k].series, fam->series) && done[k])
				break;
		if (k < NFAMILIES)
			continue;
		for (k = 0; k < NFAMILIES; k++)
			if (!strcmp(families[k].series, fam->series)) {
				done[k] = true;
				if (families[k].help)
					fam = &families[k];
			}
		prom_family_head(f, fam);
		for (j = i; j < CLS_REDIRECT_METRIC_COUNT; j++) {
			g = family_of(j, &rest);
			if (!g || strcmp(g->series, fam->series))
				continue;
			fprintf(f, PROM_PREFIX "%s", g->series);
			if (g->value)
				fprintf(f, "{%s=\"%s\",reason=\"%s\"}", g->label, g->value, rest);
			else if (g->label)
				fprintf(f, "{%s=\"%s\"}", g->label, rest);
			fprintf(f, " %llu\n", c[j]);
		}
	}
	fprintf(f,
		"# HELP " PROM_PREFIX "build_info Version of the cls-redirect tools that wrote "
		"these series.\n"
		"# TYPE " PROM_PREFIX "build_info gauge\n" PROM_PREFIX
		"build_info{version=\"%s\"} 1\n",
		CLS_REDIRECT_VERSION);
	fprintf(f,
		"# HELP " PROM_PREFIX "configured 1 while an encapsulation address is configured, "
		"0 while the classifier passes every packet (cls-redirect-config clear, or no "
		"config map).\n"
		"# TYPE " PROM_PREFIX "configured gauge\n" PROM_PREFIX "configured %d\n",
		st->configured);
	fprintf(f, "# HELP " PROM_PREFIX "attached 1 for each interface of this network "
		   "namespace with a tc filter whose program uses these maps; no series when "
		   "none.\n"
		   "# TYPE " PROM_PREFIX "attached gauge\n");
	for (k = 0; k < st->nattached; k++) {
		const char *d;

		fputs(PROM_PREFIX "attached{device=\"", f);
		/* A label value escapes backslash, quote and newline. */
		for (d = st->attached[k]; *d; d++) {
			if (*d == '\\' || *d == '"')
				fputc('\\', f);
			fputc(*d, f);
		}
		fputs("\"} 1\n", f);
	}
}

/* For --prometheus: is the classifier configured, and where is a filter
 * whose program uses the metrics map we read (map id)?  Failing to tell is
 * an error: a metric that says "not attached" when it does not know would
 * page someone for nothing. */
static int read_state(const char *dir, __u32 map_id, struct state *st)
{
	struct cls_redirect_config cfg;
	struct tc_filter *f;
	size_t n, i, k;
	__u32 key = 0;
	int fd, ret;

	memset(st, 0, sizeof(*st));
	ret = map_open(dir, &config_map_desc, true, true, MISSING_HINT, &fd);
	if (ret)
		return ret;
	if (fd >= 0) {
		if (bpf_map_lookup_elem(fd, &key, &cfg))
			ret = syserr(errno, "%s/%s: cannot read the configuration", dir,
				     CLS_REDIRECT_CONFIG_MAP);
		close(fd);
		if (ret)
			return ret;
		st->configured = config_is_configured(&cfg);
	}
	ret = tc_bpf_filters(&f, &n);
	if (ret)
		return syserr(-ret, "cannot list the tc filters of this network namespace "
				    "(rtnetlink)");
	st->attached = calloc(n ? n : 1, sizeof(*st->attached));
	if (!st->attached) {
		free(f);
		return syserr(ENOMEM, "cannot list the tc filters");
	}
	for (i = 0; i < n; i++) {
		if (!filter_uses_map(&f[i], map_id))
			continue;
		for (k = 0; k < st->nattached; k++)
			if (!strcmp(st->attached[k], f[i].dev))
				break;
		if (k == st->nattached)
			memcpy(st->attached[st->nattached++], f[i].dev, sizeof(f[i].dev));
	}
	free(f);
	return EXIT_OK;
}

#define NAME_WIDTH 40

/* rates NULL: no rate column; rates[i] < 0: not known yet. */
static void print_table(FILE *f, const counters_t c, const double *rates)
{
	int i;

	fprintf(f, "%-*s %16s", NAME_WIDTH, "counter", "packets");
	if (rates)
		fprintf(f, " %12s", "per-second");
	fprintf(f, "\n");
	for (i = 0; i < CLS_REDIRECT_METRIC_COUNT; i++) {
		fprintf(f, "%-*s %16llu", NAME_WIDTH, metrics[i].name, c[i]);
		if (rates && rates[i] >= 0)
			fprintf(f, " %12.1f", rates[i]);
		else if (rates)
			fprintf(f, " %12s", "-");
		fprintf(f, "\n");
	}
}

enum format { TABLE, JSON, PROMETHEUS };

static void print_any(FILE *f, enum format fmt, bool pretty, const counters_t c,
		      const struct state *st)
{
	if (fmt == JSON)
		print_json(f, c, pretty);
	else if (fmt == PROMETHEUS)
		print_prometheus(f, c, st);
	else
		print_table(f, c, NULL);
}

/*
 * --output FILE: node_exporter's textfile collector may read FILE at any
 * moment, so it must never see it half written, and a full disk must not
 * leave an empty file behind a success.  Write a temporary file in the same
 * directory (rename is atomic only within one filesystem; its name does not
 * end in .prom, so the collector ignores it), check every write, fsync it,
 * rename it over FILE, fsync the directory.
 */
static int write_file(const char *path, enum format fmt, bool pretty, const counters_t c,
		      const struct state *st)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	mode_t mask;
	FILE *f;
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return errorf(EXIT_USAGE, "--output '%s': path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return syserr(errno, "--output %s: cannot create a temporary file %s", path, tmp);
	/* mkstemp makes it 0600; the collector runs as another user. */
	mask = umask(0);
	umask(mask);
	f = fdopen(fd, "w");
	if (!f || fchmod(fd, 0644 & ~mask)) {
		err = errno;
		if (f)
			fclose(f);
		else
			close(fd);
		goto fail;
	}
	print_any(f, fmt, pretty, c, st);
	if (fflush(f) || ferror(f) || fsync(fd)) {
		err = errno ? errno : EIO;
		fclose(f);
		goto fail;
	}
	if (fclose(f)) {
		err = errno;
		goto fail;
	}
	if (rename(tmp, path)) {
		err = errno;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		err = errno;
		if (dfd >= 0)
			close(dfd);
		return syserr(err, "--output %s: written, but cannot sync its directory %s", path,
			      dir);
	}
	close(dfd);
	return EXIT_OK;
fail:
	unlink(tmp);
	return syserr(err, "--output %s: cannot write %s (%s left as it was)", path, tmp, path);
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
		print_table(stdout, cur, rates);
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

enum { OPT_PROMETHEUS = 256, OPT_ZERO, OPT_RESET, OPT_OUTPUT };

static int run(int argc, char **argv)
{
	static const struct option long_opts[] = {
		COMMON_LONG_OPTS,
		{ "watch", required_argument, NULL, 'w' },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ "zero", no_argument, NULL, OPT_ZERO },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		/* Renamed: "reset" read as well as "unconfigure". */
		{ "reset", no_argument, NULL, OPT_RESET },
		{},
	};
	struct common_opts o = {};
	bool prometheus = false, do_zero = false;
	const char *output = NULL;
	struct state st = {};
	enum format fmt;
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
		case OPT_OUTPUT:
			if (!*optarg)
				return errorf(EXIT_USAGE, "--output: empty file name");
			output = optarg;
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
	if (output && (seconds || do_zero))
		return errorf(EXIT_USAGE, "--output goes with the table, -j/-p or --prometheus, "
					  "not with -w or --zero");
	fmt = o.json ? JSON : prometheus ? PROMETHEUS : TABLE;

	/* No capability check up front: read-only commands work for any user
	 * the pins' file modes allow (set --group); a refusal names its cause. */
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
	if (!ret && fmt == PROMETHEUS)
		ret = read_state(dir, map_id_of(fd), &st);
	close(fd);
	if (ret || seconds)
		goto out;
	if (output)
		ret = write_file(output, fmt, o.pretty, sum, &st);
	else
		print_any(stdout, fmt, o.pretty, sum, &st);
out:
	free(st.attached);
	free(p.values);
	return ret;
}

int main(int argc, char **argv)
{
	output_init();
	return output_close(run(argc, argv));
}
