// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kload: load a BPF object into the running kernel and report what the
 * verifier made of it, for the kernel matrix (selftests/test_kernels.sh).
 *
 *   kload OBJ
 *
 * Opens OBJ with libbpf, turns map pinning off (nothing is left behind in the
 * bpffs), loads every program with the verifier's statistics log
 * (BPF_LOG_STATS), and prints one line per program:
 *
 *   PROG NAME verified_insns N processed N load_us N verify_us N
 *
 * verified_insns is bpf_prog_info's (Linux 5.16+; 0 before), processed and
 * verify_us are the verifier's own "processed N insns" and "verification
 * time N usec" lines, load_us is the wall time of bpf_object__load (maps,
 * BTF and every program).  If the load fails it prints
 *
 *   REJECTED <the verifier's message, its last lines joined by " | ">
 *
 * and exits 1; 2 for any other error.  Linked statically, so it runs in the
 * kernel matrix's initramfs with no libraries.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (1 << 20)
#define MAX_PROGS 16
/* The statistics only: "processed N insns", "verification time N usec" and,
 * on a rejection, the error itself; not the instruction trace of level 1. */
#define BPF_LOG_STATS 4

static char logs[MAX_PROGS][LOG_SIZE];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long find_num(const char *log, const char *prefix)
{
	const char *p = strstr(log, prefix);

	return p ? strtoll(p + strlen(prefix), NULL, 10) : -1;
}

static int is_stats_line(const char *line)
{
	static const char *const stats[] = { "verification time ", "stack depth ", "processed " };
	unsigned int i;

	for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
		if (!strncmp(line, stats[i], strlen(stats[i])))
			return 1;
	return 0;
}

/* The verifier's error: the last lines of its log, without the statistics
 * that follow it, joined by " | " (the error is the last line, the
 * instructions leading to it come before). */
static void print_error(char *log)
{
	char *lines[4], *line, *save = NULL;
	int n = 0, i;

	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (is_stats_line(line) || !*line)
			continue;
		if (n == 4)
			memmove(lines, lines + 1, 3 * sizeof(lines[0])), n = 3;
		lines[n++] = line;
	}
	for (i = 0; i < n; i++)
		printf("%s%s", i ? " | " : "", lines[i]);
}

int main(int argc, char **argv)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	long long t0, t1;
	int n = 0, err;

	if (argc != 2) {
		fprintf(stderr, "usage: kload OBJ\n");
		return 2;
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		printf("ERROR cannot open %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	bpf_object__for_each_program(prog, obj) {
		if (n == MAX_PROGS)
			break;
		bpf_program__set_log_buf(prog, logs[n], LOG_SIZE);
		bpf_program__set_log_level(prog, BPF_LOG_STATS);
		n++;
	}
	t0 = now_us();
	err = bpf_object__load(obj);
	t1 = now_us();
	n = 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		char *log = logs[n++];

		if (err) {
			if (!*log)
				continue;
			printf("REJECTED %s: ", bpf_program__name(prog));
			print_error(log);
			putchar('\n');
			continue;
		}
		bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
		printf("PROG %s verified_insns %u processed %lld load_us %lld verify_us %lld\n",
		       bpf_program__name(prog), info.verified_insns, find_num(log, "processed "),
		       t1 - t0, find_num(log, "verification time "));
	}
	if (err) {
		printf("REJECTED load failed: %s\n", strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	bpf_object__close(obj);
	return 0;
}
