// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared code of cls-redirect-config and cls-redirect-stat; see common.h.
 */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <mntent.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"

const char *prog_name = "cls-redirect";

/*
 * Every pinned map, as the classifier declares it (tc-cls-redirect.8, MAPS):
 * pin name, type, key, value, entries, flags.  A pin that differs in any of
 * them is refused by map_open().
 */
#define MAP_DESC(pin, map_type, key, value, entries, flags)                                     \
	{ .name = (pin), .type = (map_type), .key_size = sizeof(key), .value_size = sizeof(value), \
	  .max_entries = (entries), .map_flags = (flags) }

const struct map_desc config_map_desc = MAP_DESC(CLS_REDIRECT_CONFIG_MAP, CLS_REDIRECT_CONFIG_MAP_TYPE,
	__u32, struct cls_redirect_config, CLS_REDIRECT_SINGLE_ENTRY, 0);
const struct map_desc metrics_map_desc = MAP_DESC(CLS_REDIRECT_METRICS_MAP, CLS_REDIRECT_METRICS_MAP_TYPE,
	__u32, struct cls_redirect_metrics, CLS_REDIRECT_SINGLE_ENTRY, 0);
const struct map_desc sources_map_desc = MAP_DESC(CLS_REDIRECT_SOURCES_MAP, CLS_REDIRECT_TRUST_MAP_TYPE,
	struct cls_redirect_prefix, struct cls_redirect_trust, CLS_REDIRECT_TRUST_ENTRIES,
	CLS_REDIRECT_TRUST_MAP_FLAGS);
const struct map_desc hops_map_desc = MAP_DESC(CLS_REDIRECT_HOPS_MAP, CLS_REDIRECT_TRUST_MAP_TYPE,
	struct cls_redirect_prefix, struct cls_redirect_trust, CLS_REDIRECT_TRUST_ENTRIES,
	CLS_REDIRECT_TRUST_MAP_FLAGS);
const struct map_desc services_map_desc = MAP_DESC(CLS_REDIRECT_SERVICES_MAP,
	CLS_REDIRECT_SERVICES_MAP_TYPE, struct cls_redirect_service_key, struct cls_redirect_service,
	CLS_REDIRECT_SERVICES_MAX, 0);

bool config_is_configured(const struct cls_redirect_config *cfg)
{
	return cfg->version == CLS_REDIRECT_CONFIG_VERSION && cfg->addr != 0;
}

/*
 * Read, change and write back the pinned configuration, with the pin
 * directory locked: change() edits *cfg (and may refuse with an exit
 * status); only a changed value is written.  An absent config map is left
 * absent (0).  A failure names the map, after prefix and before why (what
 * the failure means for the operator).
 */
int config_edit(const char *dir, const char *prefix, const char *why,
		int (*change)(const char *dir, struct cls_redirect_config *cfg))
{
	struct cls_redirect_config cfg, was;
	__u32 key = 0;
	int fd, ret;

	ret = map_open(dir, &config_map_desc, false, true, "", &fd);
	if (ret || fd < 0)
		return ret;
	if (bpf_map_lookup_elem(fd, &key, &cfg)) {
		ret = syserr(errno, "%scannot read %s/%s%s", prefix, dir, CLS_REDIRECT_CONFIG_MAP, why);
		goto out;
	}
	was = cfg;
	ret = change(dir, &cfg);
	if (!ret && memcmp(&cfg, &was, sizeof(cfg)) && bpf_map_update_elem(fd, &key, &cfg, BPF_ANY))
		ret = syserr(errno, "%scannot write %s/%s%s", prefix, dir, CLS_REDIRECT_CONFIG_MAP, why);
out:
	close(fd);
	return ret;
}

/* The trust_gen that follows gen: never 0 ("remember nothing"), and no
 * value comes back before 2^32 - 1 deletes.  A running classifier only ever
 * reads the config map it was loaded with, so a map made anew may start
 * from 0 again. */
__u32 config_next_trust_gen(__u32 gen)
{
	return gen + 1 ? gen + 1 : 1;
}

/* A config map's value must be of a layout this tool knows before it is
 * shown or overwritten: version 0 (never written, or cleared) or ours. */
int config_check_value(const char *dir, const struct cls_redirect_config *cfg)
{
	static const __u32 zero[sizeof(cfg->reserved) / sizeof(cfg->reserved[0])];

	if (cfg->version != 0 && cfg->version != CLS_REDIRECT_CONFIG_VERSION)
		return errorf(EXIT_SYSTEM,
			      "%s/%s: refusing this map: config layout version %u, %s %s knows "
			      "version %d (use the cls-redirect-config of the attached classifier)",
			      dir, CLS_REDIRECT_CONFIG_MAP, cfg->version, prog_name,
			      CLS_REDIRECT_VERSION, CLS_REDIRECT_CONFIG_VERSION);
	if ((cfg->flags & ~CLS_REDIRECT_F_ALL) || memcmp(cfg->reserved, zero, sizeof(zero)))
		return errorf(EXIT_SYSTEM,
			      "%s/%s: refusing this map: unknown flags 0x%x or non-zero reserved "
			      "bytes in a version %u layout (written by a newer cls-redirect-config?)",
			      dir, CLS_REDIRECT_CONFIG_MAP, cfg->flags & ~CLS_REDIRECT_F_ALL,
			      cfg->version);
	return EXIT_OK;
}

int config_read(int fd, const char *dir, struct cls_redirect_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(fd, &key, cfg))
		return syserr(errno, "%s/%s: cannot read the configuration", dir,
			      CLS_REDIRECT_CONFIG_MAP);
	return config_check_value(dir, cfg);
}

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

	if (err == EPERM)
		hint = ": run as root, or grant CAP_BPF (a capability is missing)";
	else if (err == EACCES)
		hint = ": run as root (file permissions)";
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

/* The errno of the first failed write to stdout, for output_close(). */
static int output_errno;

void output_init(void)
{
	static char buf[1 << 16];

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
}

bool output_flush(void)
{
	if (fflush(stdout) && !output_errno)
		output_errno = errno;
	return !ferror(stdout);
}

int output_close(int status)
{
	/* ferror() remembers a failure of an earlier implicit flush; fflush()
	 * reports the last buffer; fclose() what only the close shows (NFS). */
	bool failed = !output_flush();

	if (fclose(stdout) && !failed) {
		failed = true;
		output_errno = errno;
	}
	if (!failed)
		return status;
	errorf(EXIT_SYSTEM, "cannot write to standard output: %s",
	       output_errno ? strerror(output_errno) : "write error");
	return EXIT_SYSTEM;
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

/* The long option a "--name[=value]" word names exactly, or NULL. */
static const struct option *long_exact(const char *word, const struct option *longopts)
{
	size_t len = strcspn(word + 2, "=");
	const struct option *o;

	for (o = longopts; o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, word + 2, len))
			return o;
	return NULL;
}

/* "unknown option '--ze' (did you mean --zero?)": the long options the
 * word is a prefix of, which glibc would have taken as abbreviations. */
static int unknown_long(const char *word, const struct option *longopts)
{
	size_t len = strcspn(word + 2, "="), n = 0, i = 0, off = 0;
	const struct option *o;
	char names[256] = "";

	for (o = longopts; o->name && len; o++)
		n += !strncmp(o->name, word + 2, len);
	for (o = longopts; o->name && n; o++) {
		if (strncmp(o->name, word + 2, len))
			continue;
		i++;
		if (off < sizeof(names))
			off += snprintf(names + off, sizeof(names) - off, "%s--%s",
					i == 1 ? "" : i == n ? " or " : ", ", o->name);
	}
	if (n)
		return errorf(EXIT_USAGE,
			      "unknown option '%.*s' (did you mean %s?): long options must be "
			      "spelt out; see %s --help",
			      (int)(len + 2), word, names, prog_name);
	return errorf(EXIT_USAGE, "unknown option '%.*s': see %s --help", (int)(len + 2), word,
		      prog_name);
}

/*
 * One line naming the option at fault.  word is the argv element getopt was
 * reading: "--name[=value]" for a long option, "-abc" for a cluster of short
 * ones (optopt is then the offending letter, wherever it is in the cluster).
 */
static int bad_option(int c, const char *word, const struct option *longopts)
{
	const struct option *lo;

	if (strncmp(word, "--", 2) || !word[2]) {
		if (c == ':')
			return errorf(EXIT_USAGE, "option '-%c' needs a value: see %s --help",
				      optopt, prog_name);
		return errorf(EXIT_USAGE, "unknown option '-%c': see %s --help", optopt, prog_name);
	}
	lo = long_exact(word, longopts);
	if (!lo)
		return unknown_long(word, longopts);
	if (c == ':')
		return errorf(EXIT_USAGE, "option '--%s' needs a value: see %s --help", lo->name,
			      prog_name);
	if (strchr(word, '=') && lo->has_arg == no_argument)
		return errorf(EXIT_USAGE, "option '--%s' takes no value: see %s --help", lo->name,
			      prog_name);
	return errorf(EXIT_USAGE, "unknown option '%s': see %s --help", word, prog_name);
}

int next_option(int argc, char *const argv[], const char *shortopts,
		const struct option *longopts)
{
	/* optind is the element getopt reads next, also while it is inside a
	 * cluster of short options ("-jp"); 0 asks it to start over at 1.
	 * Afterwards optind has moved on, so remember it now. */
	int at = optind ? optind : 1;
	const char *word = at < argc ? argv[at] : "";
	int c, idx = -1;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, &idx);
	if (c == '?' || c == ':') {
		bad_option(c, word, longopts);
		return '?';
	}
	/* glibc takes any unambiguous prefix of a long option ("--ze" for
	 * --zero): an operator's typo must not run a command. */
	if (c != -1 && idx >= 0 && long_exact(word, longopts) != &longopts[idx]) {
		unknown_long(word, longopts);
		return '?';
	}
	return c;
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

static void owner_names(const struct stat *st, char *user, char *group, size_t size)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);

	if (pw)
		snprintf(user, size, "%s", pw->pw_name);
	else
		snprintf(user, size, "%u", (unsigned int)st->st_uid);
	if (gr)
		snprintf(group, size, "%s", gr->gr_name);
	else
		snprintf(group, size, "%u", (unsigned int)st->st_gid);
}

int access_error(int err, const char *path, bool write, const char *what)
{
	char part[PATH_MAX], user[64], group[64];
	const char *need = write ? "writable" : "readable";
	struct stat st;
	char *p;
	int mode = write ? W_OK : R_OK, v = -1;
	FILE *f;

	if (err == EPERM && !has_bpf_capability()) {
		/* Before Linux 6.5 every bpf() command needed CAP_BPF while
		 * kernel.unprivileged_bpf_disabled is set; creating a map or
		 * reading a program by id still does. */
		f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = -1;
			fclose(f);
		}
		return errorf(EXIT_SYSTEM,
			      "%s %s: the kernel refused bpf() (EPERM): uid %u has neither CAP_BPF "
			      "nor CAP_SYS_ADMIN (kernel.unprivileged_bpf_disabled is %d): run as "
			      "root, or grant CAP_BPF",
			      what, path, (unsigned int)geteuid(), v);
	}
	if (err != EACCES)
		return syserr(err, "%s %s", what, path);
	/* The first component this process may not use: an ancestor it may not
	 * search, or the file itself it may not read (or write). */
	snprintf(part, sizeof(part), "%s", path);
	for (p = strchr(part + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (faccessat(AT_FDCWD, part, X_OK, AT_EACCESS) && errno == EACCES) {
			need = "searchable";
			goto found;
		}
		*p = '/';
	}
	snprintf(part, sizeof(part), "%s", path);
	if (!faccessat(AT_FDCWD, part, mode, AT_EACCESS) || errno != EACCES)
		return syserr(err, "%s %s", what, path);
found:
	if (stat(part, &st))
		return syserr(err, "%s %s", what, path);
	owner_names(&st, user, group, sizeof(user));
	return errorf(EXIT_SYSTEM,
		      "%s %s: permission denied by file modes: %s (owner %s, group %s, mode %04o) "
		      "is not %s for uid %u: run as root, or let a group read the pins "
		      "(cls-redirect-config set --group GROUP, as root) and run as a member",
		      what, path, part, user, group, (unsigned int)(st.st_mode & 07777), need,
		      (unsigned int)geteuid());
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
		return access_error(errno, path, true, "cannot create pin directory");
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
			if (errno == EACCES)
				return access_error(errno, dir, false, "pin directory");
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
	if (errno == EACCES)
		return access_error(errno, dir, false, "pin directory");
	if (errno != ENOENT)
		return syserr(errno, "pin directory %s", dir);
	if (!create)
		return errorf(EXIT_SYSTEM, "pin directory %s not found: %s", dir, hint);
	/* A directory made here would hold a map this process cannot create:
	 * refuse before leaving anything behind. */
	if (!has_bpf_capability())
		return errorf(EXIT_SYSTEM,
			      "pin directory %s not found, and creating the maps needs CAP_BPF or "
			      "CAP_SYS_ADMIN, which uid %u has neither of: run as root",
			      dir, (unsigned int)geteuid());
	snprintf(tc_dir, sizeof(tc_dir), "%s/tc", root);
	ret = make_dir(tc_dir);
	return ret ? ret : make_dir(dir);
}

int pin_dir_lock(const char *dir, int *lock_fd)
{
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return access_error(errno, dir, false, "cannot open pin directory");
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

static bool map_is(__u32 id, const struct map_desc *d)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	bool ok;
	int fd;

	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == d->type &&
	     info.key_size == d->key_size && info.value_size == d->value_size &&
	     info.max_entries == d->max_entries && info.map_flags == d->map_flags &&
	     /* The kernel keeps 15 characters; tc's legacy loader names none. */
	     (!info.name[0] || !strncmp(info.name, d->name, sizeof(info.name) - 1));
	close(fd);
	return ok;
}

/* nftw() has no argument for its callback: the map ids looked for. */
static __u32 walk_want[2];
static bool walk_found[2];

static int walk_pin(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	/* Read-only: a program or link pin then fails to open (EINVAL), which
	 * is as well, only maps are looked for. */
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, i;

	(void)st;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (i = 0; i < 2; i++)
			walk_found[i] |= info.id == walk_want[i];
	close(fd);
	return walk_found[0] && walk_found[1]; /* non-zero ends the walk */
}

/* Are both maps pinned in some bpffs of this mount namespace?  Then the
 * program is another deployment's (another TC_BPF_MNT, or another bpffs as
 * each server of selftests/test_e2e.sh has), not one whose pins are gone. */
static bool maps_pinned(const struct loaded_classifier *lc)
{
	struct mntent *m;
	FILE *f;

	walk_want[0] = lc->config_id;
	walk_want[1] = lc->metrics_id;
	walk_found[0] = walk_found[1] = false;
	f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return false;
	while (!(walk_found[0] && walk_found[1]) && (m = getmntent(f)))
		if (!strcmp(m->mnt_type, "bpf"))
			nftw(m->mnt_dir, walk_pin, 16, FTW_PHYS | FTW_MOUNT);
	endmntent(f);
	return walk_found[0] && walk_found[1];
}

/* Does program id look like the classifier: a tc program named cls_redirect
 * (tc's legacy loader names none) that uses a map of each of our shapes? */
static bool prog_is_classifier(__u32 id, struct loaded_classifier *lc)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), map_ids[64], i;
	bool ok = false;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = (__u64)(unsigned long)map_ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_PROG_TYPE_SCHED_CLS ||
	    (info.name[0] && strcmp(info.name, "cls_redirect")))
		goto out;
	lc->prog_id = id;
	lc->config_id = lc->metrics_id = 0;
	for (i = 0; i < info.nr_map_ids && i < sizeof(map_ids) / sizeof(map_ids[0]); i++) {
		if (!lc->config_id && map_is(map_ids[i], &config_map_desc))
			lc->config_id = map_ids[i];
		else if (!lc->metrics_id && map_is(map_ids[i], &metrics_map_desc))
			lc->metrics_id = map_ids[i];
	}
	ok = lc->config_id && lc->metrics_id;
out:
	close(fd);
	return ok;
}

bool filter_uses_map(const struct tc_filter *f, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), map_ids[64], i;
	const char *base;
	bool uses = false;
	int fd;

	fd = bpf_prog_get_fd_by_id(f->prog_id);
	if (fd < 0) {
		/* Reading a program by id needs CAP_SYS_ADMIN, which a
		 * monitoring user has not: judge by the name tc gave the
		 * filter, "<object file>:[section]", the object being one of
		 * ours (cls_redirect.o, cls_redirect_btf.o, ...). */
		base = strrchr(f->name, '/');
		base = base ? base + 1 : f->name;
		return errno == EPERM && !strncmp(base, "cls_redirect", 12);
	}
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = (__u64)(unsigned long)map_ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (i = 0; i < info.nr_map_ids && i < sizeof(map_ids) / sizeof(map_ids[0]); i++)
			uses |= map_ids[i] == map_id;
	close(fd);
	return uses;
}

__u32 map_id_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

bool find_loaded_classifier(struct loaded_classifier *lc)
{
	struct tc_filter *f = NULL;
	size_t n = 0, i;
	bool found = false;

	/* Attached filters, not loaded programs: a program id is global, and
	 * one of another deployment (another netns, a container, a test) must
	 * not block this one.  The netlink view also drops a filter the
	 * moment tc filter del returns, while the program itself is freed
	 * later (after an RCU grace period). */
	if (tc_bpf_filters(&f, &n))
		return false;
	for (i = 0; i < n && !found; i++)
		if (prog_is_classifier(f[i].prog_id, lc) && !maps_pinned(lc)) {
			snprintf(lc->dev, sizeof(lc->dev), "%s", f[i].dev);
			found = true;
		}
	free(f);
	return found;
}

int classifier_unpinned(const char *dir, const char *path, const struct loaded_classifier *lc)
{
	return errorf(EXIT_SYSTEM,
		      "%s not found, but cls_redirect program id %u attached on %s uses maps %u "
		      "(config) and %u (metrics), pinned nowhere: its pins were removed; re-pin "
		      "them with: bpftool map pin id %u %s/%s; bpftool map pin id %u %s/%s (or tc "
		      "filter replace its filter to start over with new, unconfigured maps)",
		      path, lc->prog_id, lc->dev, lc->config_id, lc->metrics_id, lc->config_id,
		      dir, CLS_REDIRECT_CONFIG_MAP, lc->metrics_id, dir, CLS_REDIRECT_METRICS_MAP);
}

/* ---- rtnetlink: the bpf filters of this network namespace ---- */

struct nl {
	int fd;
	__u32 seq;
	char *buf; /* NL_BUF bytes */
};

#define NL_BUF 65536

/* Send one dump request and call cb for each answer; 0 or -errno. */
static int nl_dump(struct nl *nl, struct nlmsghdr *req, int (*cb)(struct nlmsghdr *, void *),
		   void *arg)
{
	struct nlmsghdr *h;
	ssize_t n;
	int ret;

	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = ++nl->seq;
	if (send(nl->fd, req, req->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(nl->fd, nl->buf, NL_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO;
		for (h = (struct nlmsghdr *)nl->buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != nl->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			ret = cb(h, arg);
			if (ret)
				return ret;
		}
	}
}

/* Room in *items (an array of *cap elements of size bytes, n used) for one
 * more: 0, or -ENOMEM with *items unchanged. */
static int grow(void *items, size_t *cap, size_t n, size_t size)
{
	void **p = items, *m;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 16;
	m = realloc(*p, c * size);
	if (!m)
		return -ENOMEM;
	*p = m;
	*cap = c;
	return 0;
}

struct link {
	int ifindex;
	char name[16];
	__u32 xdp_prog;
	__u8 xdp_mode; /* XDP_ATTACHED_* */
};

struct links {
	struct link *l;
	size_t n, cap;
};

static int on_link(struct nlmsghdr *h, void *arg)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = IFLA_PAYLOAD(h);
	struct links *ls = arg;
	struct link *l;
	struct rtattr *a;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (grow(&ls->l, &ls->cap, ls->n, sizeof(*ls->l)))
		return -ENOMEM;
	l = &ls->l[ls->n];
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	snprintf(l->name, sizeof(l->name), "if%d", ifi->ifi_index);
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			snprintf(l->name, sizeof(l->name), "%.*s",
				 (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
		if ((a->rta_type & NLA_TYPE_MASK) == IFLA_XDP) {
			int xlen = RTA_PAYLOAD(a);
			struct rtattr *x;

			for (x = RTA_DATA(a); RTA_OK(x, xlen); x = RTA_NEXT(x, xlen)) {
				if (x->rta_type == IFLA_XDP_ATTACHED && RTA_PAYLOAD(x) >= 1)
					l->xdp_mode = *(__u8 *)RTA_DATA(x);
				if (x->rta_type == IFLA_XDP_PROG_ID && RTA_PAYLOAD(x) >= 4)
					memcpy(&l->xdp_prog, RTA_DATA(x), 4);
			}
		}
	}
	ls->n++;
	return 0;
}

struct filters {
	struct tc_filter *f;
	size_t n, cap;
	struct tc_filter cur; /* ifindex, dev, egress of the dump */
};

static int on_filter(struct nlmsghdr *h, void *arg)
{
	struct tcmsg *t = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
	struct filters *fs = arg;
	struct tc_filter f = fs->cur;
	struct rtattr *a, *o;
	bool bpf = false;
	int olen;

	if (h->nlmsg_type != RTM_NEWTFILTER || len < 0)
		return 0;
	f.pref = TC_H_MAJ(t->tcm_info) >> 16;
	f.handle = t->tcm_handle;
	for (a = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t))); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND)
			bpf = !strncmp(RTA_DATA(a), "bpf", RTA_PAYLOAD(a));
		if ((a->rta_type & NLA_TYPE_MASK) != TCA_OPTIONS)
			continue;
		olen = RTA_PAYLOAD(a);
		for (o = RTA_DATA(a); RTA_OK(o, olen); o = RTA_NEXT(o, olen)) {
			switch (o->rta_type & NLA_TYPE_MASK) {
			case TCA_BPF_ID:
				if (RTA_PAYLOAD(o) >= 4)
					memcpy(&f.prog_id, RTA_DATA(o), 4);
				break;
			case TCA_BPF_TAG:
				if (RTA_PAYLOAD(o) >= sizeof(f.tag))
					memcpy(f.tag, RTA_DATA(o), sizeof(f.tag));
				break;
			case TCA_BPF_NAME:
				snprintf(f.name, sizeof(f.name), "%.*s", (int)RTA_PAYLOAD(o),
					 (char *)RTA_DATA(o));
				break;
			case TCA_BPF_FLAGS:
				if (RTA_PAYLOAD(o) >= 4)
					f.direct_action = *(__u32 *)RTA_DATA(o) & TCA_BPF_FLAG_ACT_DIRECT;
				break;
			}
		}
	}
	/* The dump also lists each chain/pref as a filter without a handle. */
	if (!bpf || !f.prog_id)
		return 0;
	if (grow(&fs->f, &fs->cap, fs->n, sizeof(*fs->f)))
		return -ENOMEM;
	fs->f[fs->n++] = f;
	return 0;
}

int tc_bpf_filters(struct tc_filter **list, size_t *n)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifinfomsg ifi;
			struct tcmsg t;
		};
	} req;
	struct nl nl = { .fd = -1 };
	struct links l = {};
	struct filters fs = {};
	size_t i;
	int dir, ret;

	*list = NULL;
	*n = 0;
	nl.buf = malloc(NL_BUF);
	nl.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (!nl.buf || nl.fd < 0) {
		ret = nl.buf ? -errno : -ENOMEM;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.h.nlmsg_type = RTM_GETLINK;
	ret = nl_dump(&nl, &req.h, on_link, &l);
	for (i = 0; !ret && i < l.n; i++) {
		for (dir = 0; !ret && dir < 2; dir++) {
			memset(&req, 0, sizeof(req));
			req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.t));
			req.h.nlmsg_type = RTM_GETTFILTER;
			req.t.tcm_family = AF_UNSPEC;
			req.t.tcm_ifindex = l.l[i].ifindex;
			req.t.tcm_parent =
				TC_H_MAKE(TC_H_CLSACT, dir ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
			memset(&fs.cur, 0, sizeof(fs.cur));
			fs.cur.ifindex = l.l[i].ifindex;
			memcpy(fs.cur.dev, l.l[i].name, sizeof(fs.cur.dev));
			fs.cur.egress = dir;
			ret = nl_dump(&nl, &req.h, on_filter, &fs);
			/* An interface gone since the link dump has no filters. */
			if (ret == -ENODEV || ret == -EINVAL || ret == -ENOENT)
				ret = 0;
		}
	}
	for (i = 0; !ret && i < l.n; i++) {
		static const char *const mode[] = {
			[XDP_ATTACHED_DRV] = "xdp", [XDP_ATTACHED_SKB] = "xdpgeneric",
			[XDP_ATTACHED_HW] = "xdpoffload", [XDP_ATTACHED_MULTI] = "xdp",
		};
		struct tc_filter *nf;

		if (!l.l[i].xdp_prog)
			continue;
		ret = grow(&fs.f, &fs.cap, fs.n, sizeof(*fs.f));
		if (ret)
			break;
		nf = &fs.f[fs.n++];
		memset(nf, 0, sizeof(*nf));
		nf->ifindex = l.l[i].ifindex;
		memcpy(nf->dev, l.l[i].name, sizeof(nf->dev));
		nf->prog_id = l.l[i].xdp_prog;
		nf->xdp = l.l[i].xdp_mode < sizeof(mode) / sizeof(mode[0]) && mode[l.l[i].xdp_mode] ?
				  mode[l.l[i].xdp_mode] : "xdp";
	}
out:
	if (nl.fd >= 0)
		close(nl.fd);
	free(nl.buf);
	free(l.l);
	if (ret) {
		free(fs.f);
		return ret;
	}
	*list = fs.f;
	*n = fs.n;
	return 0;
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
		if (err == ENOENT) {
			struct loaded_classifier lc;

			if (find_loaded_classifier(&lc))
				return classifier_unpinned(dir, path, &lc);
			return errorf(EXIT_SYSTEM, "%s not found: %s", path, hint);
		}
		if (err == EINVAL)
			return errorf(EXIT_SYSTEM,
				      "%s: not a pinned BPF object (is %s on a bpffs?)", path, dir);
		return access_error(err, path, !rdonly, "map");
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
		return access_error(errno, d->name, true, "cannot create map");
	}
	return EXIT_OK;
}

static void json_indent(struct json *j, int depth)
{
	fputc('\n', j->f);
	while (depth-- > 0)
		fputs("    ", j->f);
}

static void json_sep(struct json *j, const char *key)
{
	if (j->members[j->depth]++)
		fputc(',', j->f);
	if (j->pretty)
		json_indent(j, j->depth + 1);
	if (key)
		fprintf(j->f, j->pretty ? "\"%s\": " : "\"%s\":", key);
}

void json_begin(struct json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
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

void json_null(struct json *j, const char *key)
{
	json_sep(j, key);
	fputs("null", j->f);
}

void json_str(struct json *j, const char *key, const char *v)
{
	json_sep(j, key);
	fputc('"', j->f);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(j->f, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			fprintf(j->f, "\\u%04x", *v);
		else
			fputc(*v, j->f);
	}
	fputc('"', j->f);
}

static void json_open(struct json *j, const char *key, char c)
{
	json_sep(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH) {
		j->members[++j->depth] = 0;
		j->array[j->depth] = c == '[';
	}
}

void json_obj(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

void json_arr(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

static void json_close_with(struct json *j, char c)
{
	if (j->pretty && j->members[j->depth])
		json_indent(j, j->depth);
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_close(struct json *j)
{
	json_close_with(j, j->array[j->depth] ? ']' : '}');
}

void json_end(struct json *j)
{
	json_close_with(j, '}');
	fputc('\n', j->f);
}
