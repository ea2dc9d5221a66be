// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared code of cls-redirect-config and cls-redirect-stat; see common.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"

const char *prog_name = "cls-redirect";

const struct map_desc config_map_desc = {
	.name = CLS_REDIRECT_CONFIG_MAP,
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(struct cls_redirect_config),
	.max_entries = 1,
};

const struct map_desc metrics_map_desc = {
	.name = CLS_REDIRECT_METRICS_MAP,
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(struct cls_redirect_metrics),
	.max_entries = 1,
};

static void vreport(const char *fmt, va_list ap, const char *suffix)
{
	/* One write per message, so lines from concurrent runs do not mix. */
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf), "%s: ", prog_name);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n < (int)sizeof(buf) && suffix)
		snprintf(buf + n, sizeof(buf) - n, "%s", suffix);
	fprintf(stderr, "%s\n", buf);
}

int errorf(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fmt, ap, NULL);
	va_end(ap);
	return status;
}

int syserr(int err, const char *fmt, ...)
{
	char suffix[256];
	const char *hint = "";
	va_list ap;

	if (err == EPERM || err == EACCES)
		hint = ": run as root (bpf() on pinned maps needs CAP_BPF and CAP_SYS_ADMIN)";
	snprintf(suffix, sizeof(suffix), ": %s%s", strerror(err), hint);
	va_start(ap, fmt);
	vreport(fmt, ap, suffix);
	va_end(ap);
	return EXIT_SYSTEM;
}

int parse_ulong(const char *what, const char *s, unsigned long min, unsigned long max,
		unsigned long *out)
{
	unsigned long v;
	char *end;

	/* strtoul alone would take "", " 1", "-1" (as ULONG_MAX) and "0x10". */
	if (s[0] < '0' || s[0] > '9')
		return errorf(EXIT_USAGE, "%s '%s': not a decimal number", what, s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return errorf(EXIT_USAGE, "%s '%s': not a decimal number", what, s);
	if (errno == ERANGE || v < min || v > max)
		return errorf(EXIT_USAGE, "%s %s: out of range %lu..%lu", what, s, min, max);
	*out = v;
	return EXIT_OK;
}

void print_version(void)
{
	printf("%s %s (config layout %d, %d counters, libbpf %s)\n", prog_name,
	       CLS_REDIRECT_VERSION, CLS_REDIRECT_CONFIG_VERSION, CLS_REDIRECT_METRIC_COUNT,
	       libbpf_version_string());
}

int common_opt(int c, const char *arg, struct common_opts *o, void (*usage)(FILE *))
{
	switch (c) {
	case 'd':
		o->pin_dir = arg;
		return -1;
	case 'j':
		o->json = true;
		return -1;
	case 'p':
		o->json = o->pretty = true;
		return -1;
	case 'h':
		usage(stdout);
		return EXIT_OK;
	case 'V':
		print_version();
		return EXIT_OK;
	default:
		return EXIT_USAGE;
	}
}

int bad_option(int c, char *const argv[])
{
	/* getopt_long ran with opterr = 0 and a leading ':' in the option
	 * string; argv[optind - 1] is the word it stopped at. */
	const char *word = argv[optind - 1];
	bool is_long = strncmp(word, "--", 2) == 0;
	const char *eq = strchr(word, '=');

	if (c == ':' && is_long)
		return errorf(EXIT_USAGE, "option '%s' needs a value: see %s --help", word,
			      prog_name);
	if (c == ':')
		return errorf(EXIT_USAGE, "option '-%c' needs a value: see %s --help", optopt,
			      prog_name);
	if (is_long && optopt && eq)
		return errorf(EXIT_USAGE, "option '%.*s' takes no value: see %s --help",
			      (int)(eq - word), word, prog_name);
	if (is_long)
		return errorf(EXIT_USAGE, "unknown option '%s': see %s --help", word, prog_name);
	return errorf(EXIT_USAGE, "unknown option '-%c': see %s --help", optopt, prog_name);
}

/* CapEff from /proc/self/status: root without capabilities (a restricted
 * container) fails bpf() as surely as an ordinary user. */
static bool has_bpf_capability(void)
{
	unsigned long long eff = 0;
	char line[256];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found)
		return geteuid() == 0;
	/* CAP_SYS_ADMIN = 21, CAP_BPF = 39 (Linux 5.8+). */
	return eff & (1ULL << 21 | 1ULL << 39);
}

int check_privileges(void)
{
	if (has_bpf_capability())
		return EXIT_OK;
	return errorf(EXIT_SYSTEM,
		      "must be run as root (uid %u has neither CAP_SYS_ADMIN nor CAP_BPF): "
		      "try sudo %s",
		      (unsigned int)geteuid(), prog_name);
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int make_dir(const char *path)
{
	/* tc creates its directories 0700 as well. */
	if (mkdir(path, 0700) && errno != EEXIST)
		return syserr(errno, "cannot create pin directory %s", path);
	return EXIT_OK;
}

int pin_dir_resolve(const struct common_opts *o, bool create, const char *hint, char *dir,
		    size_t size)
{
	const char *root;
	struct stat st;
	char tc_dir[PATH_MAX];
	int ret;

	if (o->pin_dir) {
		if (snprintf(dir, size, "%s", o->pin_dir) >= (int)size)
			return errorf(EXIT_USAGE, "pin directory '%s': path too long", o->pin_dir);
		if (stat(dir, &st)) {
			if (errno == ENOENT)
				return errorf(EXIT_SYSTEM,
					      "pin directory %s not found: create it on a bpffs, "
					      "or leave out -d for ${TC_BPF_MNT:-%s}/%s",
					      dir, CLS_REDIRECT_BPFFS_DEFAULT, CLS_REDIRECT_PIN_SUBDIR);
			return syserr(errno, "pin directory %s", dir);
		}
		if (!S_ISDIR(st.st_mode))
			return errorf(EXIT_SYSTEM, "pin directory %s: not a directory", dir);
		if (!is_bpffs(dir))
			return errorf(EXIT_SYSTEM,
				      "pin directory %s is not on a bpffs: give a directory under a "
				      "bpffs mount (mount -t bpf bpf DIR)",
				      dir);
		return EXIT_OK;
	}

	root = getenv("TC_BPF_MNT");
	if (!root || !*root)
		root = CLS_REDIRECT_BPFFS_DEFAULT;
	if (snprintf(dir, size, "%s/%s", root, CLS_REDIRECT_PIN_SUBDIR) >= (int)size)
		return errorf(EXIT_USAGE, "TC_BPF_MNT '%s': path too long", root);
	if (!is_bpffs(root))
		return errorf(EXIT_SYSTEM, "bpffs not mounted at %s? mount -t bpf bpf %s", root,
			      root);
	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return errorf(EXIT_SYSTEM, "pin directory %s: not a directory", dir);
		return EXIT_OK;
	}
	if (errno != ENOENT)
		return syserr(errno, "pin directory %s", dir);
	if (!create)
		return errorf(EXIT_SYSTEM, "pin directory %s not found: %s", dir, hint);
	snprintf(tc_dir, sizeof(tc_dir), "%s/tc", root);
	ret = make_dir(tc_dir);
	return ret ? ret : make_dir(dir);
}

int pin_dir_lock(const char *dir, int *lock_fd)
{
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return syserr(errno, "cannot open pin directory %s", dir);
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int err = errno;

			close(fd);
			return syserr(err, "cannot lock pin directory %s", dir);
		}
	}
	*lock_fd = fd;
	return EXIT_OK;
}

void pin_dir_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd);
}

static const char *map_type_name(enum bpf_map_type t, char *buf, size_t size)
{
	const char *s = libbpf_bpf_map_type_str(t);

	if (s)
		return s;
	snprintf(buf, size, "type %u", (unsigned int)t);
	return buf;
}

/* A bpffs pin can hold a program or a link as well; its fd then says so. */
static bool fd_is_map(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return true; /* no /proc: let the info check decide */
	target[n] = '\0';
	return strcmp(target, "anon_inode:bpf-map") == 0;
}

static int map_check(int fd, const char *path, const struct map_desc *d)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char b1[32], b2[32];

	if (!fd_is_map(fd))
		return errorf(EXIT_SYSTEM,
			      "%s: refusing it: a pinned BPF object but not a map; remove the stale "
			      "pin (rm %s) and attach cls_redirect.o again",
			      path, path);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return syserr(errno, "%s: cannot read map info", path);
	if (info.type == d->type && info.key_size == d->key_size &&
	    info.value_size == d->value_size && info.max_entries == d->max_entries &&
	    info.map_flags == d->map_flags)
		return EXIT_OK;
	return errorf(EXIT_SYSTEM,
		      "%s: refusing this map: %s %s expects %s key %u value %u entries %u "
		      "flags 0x%x, found %s key %u value %u entries %u flags 0x%x (a foreign map, "
		      "or one left by another version of cls_redirect?)",
		      path, prog_name, CLS_REDIRECT_VERSION, map_type_name(d->type, b1, sizeof(b1)),
		      d->key_size, d->value_size, d->max_entries, d->map_flags,
		      map_type_name(info.type, b2, sizeof(b2)), info.key_size, info.value_size,
		      info.max_entries, info.map_flags);
}

int map_open(const char *dir, const struct map_desc *desc, bool rdonly, bool missing_ok,
	     const char *hint, int *fd)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = rdonly ? BPF_F_RDONLY : 0);
	char path[PATH_MAX];
	int ret;

	*fd = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, desc->name) >= (int)sizeof(path))
		return errorf(EXIT_USAGE, "pin directory '%s': path too long", dir);
	*fd = bpf_obj_get_opts(path, &opts);
	if (*fd < 0) {
		int err = errno;

		*fd = -1;
		if (err == ENOENT && missing_ok)
			return EXIT_OK;
		if (err == ENOENT)
			return errorf(EXIT_SYSTEM, "%s not found: %s", path, hint);
		if (err == EINVAL)
			return errorf(EXIT_SYSTEM,
				      "%s: not a pinned BPF object (is %s on a bpffs?)", path, dir);
		return syserr(err, "%s", path);
	}
	ret = map_check(*fd, path, desc);
	if (ret) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

int map_create(const struct map_desc *d, int *fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = d->map_flags);

	/* The kernel keeps 15 characters of the name; libbpf truncates. */
	*fd = bpf_map_create(d->type, d->name, d->key_size, d->value_size, d->max_entries, &opts);
	if (*fd < 0) {
		*fd = -1;
		return syserr(errno, "cannot create map %s", d->name);
	}
	return EXIT_OK;
}

static void json_sep(struct json *j, const char *key)
{
	if (j->members++)
		fputc(',', j->f);
	if (j->pretty)
		fprintf(j->f, "\n    \"%s\": ", key);
	else
		fprintf(j->f, "\"%s\":", key);
}

void json_begin(struct json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->members = 0;
	fputc('{', f);
}

void json_u64(struct json *j, const char *key, unsigned long long v)
{
	json_sep(j, key);
	fprintf(j->f, "%llu", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_sep(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_str(struct json *j, const char *key, const char *v)
{
	json_sep(j, key);
	fprintf(j->f, "\"%s\"", v);
}

void json_end(struct json *j)
{
	fputs(j->pretty && j->members ? "\n}\n" : "}\n", j->f);
}
