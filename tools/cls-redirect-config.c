// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls-redirect-config: show, set and clear the configuration of the
 * cls_redirect classifier, the one-entry array pinned as
 * <pin dir>/cls_redirect_config (cls-redirect-config.8; the map:
 * tc-cls-redirect.8, MAPS).
 *
 * `set` may run before the filter is attached: it then creates the map with
 * exactly the type, sizes, entry count and flags the classifier declares and
 * pins it, and tc reuses that pin instead of creating an empty map, so the
 * classifier never runs unconfigured.  The value is written before the map is
 * pinned, so nobody can see a half-made map either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common.h"

#define MISSING_HINT                                                                               \
	"run cls-redirect-config set, or attach cls_redirect.o with tc (tc filter add dev DEV "  \
	"ingress bpf da obj cls_redirect.o)"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %1$s [OPTIONS] show\n"
		"       %1$s [OPTIONS] set [addr ADDR] [port PORT] [forward|no-forward] [mtu MTU]\n"
		"       %1$s [OPTIONS] clear\n"
		"\n"
		"Read and write the configuration of the cls_redirect tc classifier, the map\n"
		"pinned as PIN_DIR/" CLS_REDIRECT_CONFIG_MAP ".\n"
		"\n"
		"Commands:\n"
		"  show             print the configuration, as the keywords set takes\n"
		"                   (\"unconfigured\" when no address is set)\n"
		"  set              change the fields named, keep the others, print one line\n"
		"                   per field changed (\"mtu: 0 -> 1400\"); when unconfigured,\n"
		"                   addr and port are needed.  Creates and pins the map if\n"
		"                   the filter is not attached yet (tc then reuses it)\n"
		"    addr ADDR      this server's GUE endpoint: an IPv4 unicast address\n"
		"    port PORT      UDP destination port of the GUE packets, 1..65535\n"
		"                   (GLB's default is %2$d)\n"
		"    no-forward     never forward: every packet is handled as at its last hop\n"
		"    forward        forward again (the default)\n"
		"    mtu MTU        largest packet, in bytes, that may be forwarded,\n"
		"                   0 or 68..65535; 0 (the default) = no limit\n"
		"  clear            back to unconfigured: the classifier passes every packet\n"
		"                   (the counters stay; cls-redirect-stat --zero zeroes them)\n"
		"\n"
		"Options (before the command, or right after it):\n"
		"  -d, --pin-dir DIR  the maps are pinned in DIR\n"
		"                     (default ${TC_BPF_MNT:-" CLS_REDIRECT_BPFFS_DEFAULT
		"}/" CLS_REDIRECT_PIN_SUBDIR ")\n"
		"  -j, --json         show: print one JSON object\n"
		"  -p, --pretty       show: print indented JSON (implies -j)\n"
		"  -h, --help         print this help and exit\n"
		"  -V, --version      print the version and exit\n"
		"\n"
		"Exit status: 0 success; 1 usage or input error; 2 system or bpf() error\n"
		"(not root, bpffs or pin directory missing, map missing or not matching).\n",
		prog_name, CLS_REDIRECT_GLB_PORT);
}

static int parse_addr(const char *s, __be32 *addr)
{
	struct in_addr in;

	if (inet_pton(AF_INET, s, &in) != 1)
		return errorf(EXIT_USAGE, "addr '%s': not an IPv4 address (dotted quad, as 192.0.2.10)",
			      s);
	if (!cls_redirect_addr_is_unicast(in.s_addr))
		return errorf(EXIT_USAGE,
			      "addr %s: not a unicast address (0/8, 127/8, 224/4 and 240/4 are not "
			      "allowed; clear unconfigures)",
			      s);
	*addr = in.s_addr;
	return EXIT_OK;
}

/* What one "set" names: only these fields change (man page: CLS-REDIRECT-CONFIG). */
struct set_args {
	bool addr, port, mtu, forward; /* the field was named */
	struct cls_redirect_config v;  /* the named fields' new values */
};

/* set [addr A] [port P] [forward|no-forward] [mtu M], keywords in any
 * order, each field once, at least one. */
static int parse_set(int argc, char **argv, struct set_args *a)
{
	unsigned long v;
	int i, ret;

	memset(a, 0, sizeof(*a));
	if (!argc)
		return errorf(EXIT_USAGE,
			      "set: nothing to set (keywords: addr ADDR, port PORT, forward, "
			      "no-forward, mtu MTU)");
	for (i = 0; i < argc; i++) {
		const char *kw = argv[i];
		bool takes_value = !strcmp(kw, "addr") || !strcmp(kw, "port") || !strcmp(kw, "mtu");
		bool fwd_kw = !strcmp(kw, "forward") || !strcmp(kw, "no-forward");

		if (takes_value && i + 1 >= argc)
			return errorf(EXIT_USAGE, "set: '%s' needs a value", kw);
		if ((!strcmp(kw, "addr") && a->addr) || (!strcmp(kw, "port") && a->port) ||
		    (!strcmp(kw, "mtu") && a->mtu))
			return errorf(EXIT_USAGE, "set: '%s' given twice", kw);
		if (fwd_kw && a->forward)
			return errorf(EXIT_USAGE,
				      "set: '%s' given twice, or with its opposite (forward, no-forward)",
				      kw);

		if (!strcmp(kw, "addr")) {
			ret = parse_addr(argv[++i], &a->v.addr);
			a->addr = true;
		} else if (!strcmp(kw, "port")) {
			ret = parse_ulong("port", argv[++i], 1, 65535, &v);
			a->v.port = htons(v);
			a->port = true;
		} else if (!strcmp(kw, "mtu")) {
			ret = parse_ulong("mtu", argv[++i], 0, 65535, &v);
			/* A typo such as "mtu 1" would drop every forwarded packet. */
			if (!ret && v && v < 68)
				ret = errorf(EXIT_USAGE,
					     "mtu %lu: below 68, the smallest IPv4 MTU (RFC 791); "
					     "0 means no limit",
					     v);
			a->v.mtu = v;
			a->mtu = true;
		} else if (fwd_kw) {
			if (!strcmp(kw, "no-forward"))
				a->v.flags |= CLS_REDIRECT_F_NO_FORWARD;
			a->forward = true;
			ret = EXIT_OK;
		} else {
			ret = errorf(EXIT_USAGE,
				     "set: unknown keyword '%s' (expected addr, port, forward, "
				     "no-forward or mtu)",
				     kw);
		}
		if (ret)
			return ret;
	}
	return EXIT_OK;
}

static bool is_configured(const struct cls_redirect_config *cfg)
{
	/* The classifier's own test (tc-cls-redirect.8, DECISION TABLE, check 1). */
	return cfg->version == CLS_REDIRECT_CONFIG_VERSION && cfg->addr != 0;
}

/* The configuration after "set": old with the named fields replaced.  An
 * unconfigured classifier needs both addr and port: a port alone would
 * leave it passing every packet, silently. */
static int merge(const struct cls_redirect_config *old, const struct set_args *a,
		 struct cls_redirect_config *cfg)
{
	*cfg = *old;
	if (!is_configured(old)) {
		memset(cfg, 0, sizeof(*cfg));
		if (!a->addr || !a->port)
			return errorf(EXIT_USAGE,
				      "set: unconfigured: give 'addr ADDR' and 'port PORT' (GLB's "
				      "default is %d) before a single field can be changed",
				      CLS_REDIRECT_GLB_PORT);
	}
	cfg->version = CLS_REDIRECT_CONFIG_VERSION;
	if (a->addr)
		cfg->addr = a->v.addr;
	if (a->port)
		cfg->port = a->v.port;
	if (a->mtu)
		cfg->mtu = a->v.mtu;
	if (a->forward)
		cfg->flags = (cfg->flags & ~CLS_REDIRECT_F_NO_FORWARD) |
			     (a->v.flags & CLS_REDIRECT_F_NO_FORWARD);
	return EXIT_OK;
}

/* One line per field that changed, "mtu: 0 -> 1400", or "unchanged". */
static void print_changes(const struct cls_redirect_config *old,
			  const struct cls_redirect_config *cfg)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	bool was = is_configured(old), any = false;
	bool nf_old = was && (old->flags & CLS_REDIRECT_F_NO_FORWARD);
	bool nf_new = cfg->flags & CLS_REDIRECT_F_NO_FORWARD;
	unsigned int mtu_old = was ? old->mtu : 0;

	if (!was || old->addr != cfg->addr) {
		inet_ntop(AF_INET, &old->addr, a, sizeof(a));
		inet_ntop(AF_INET, &cfg->addr, b, sizeof(b));
		printf("addr: %s -> %s\n", was ? a : "unconfigured", b);
		any = true;
	}
	if (!was || old->port != cfg->port) {
		if (was)
			printf("port: %u -> %u\n", ntohs(old->port), ntohs(cfg->port));
		else
			printf("port: unconfigured -> %u\n", ntohs(cfg->port));
		any = true;
	}
	if (nf_old != nf_new) {
		printf("forwarding: %s -> %s\n", nf_old ? "no-forward" : "forward",
		       nf_new ? "no-forward" : "forward");
		any = true;
	}
	if (mtu_old != cfg->mtu) {
		printf("mtu: %u -> %u\n", mtu_old, cfg->mtu);
		any = true;
	}
	if (!any)
		printf("unchanged\n");
}

/* A config map's value must be of a layout this tool knows before it is
 * shown or overwritten: version 0 (never written, or cleared) or ours. */
static int check_value(const char *dir, const struct cls_redirect_config *cfg)
{
	static const __u32 zero[4];

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

static int read_value(int fd, const char *dir, struct cls_redirect_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(fd, &key, cfg))
		return syserr(errno, "%s/%s: cannot read the configuration", dir,
			      CLS_REDIRECT_CONFIG_MAP);
	return check_value(dir, cfg);
}

static int write_value(int fd, const char *dir, const struct cls_redirect_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_update_elem(fd, &key, cfg, BPF_ANY))
		return syserr(errno, "%s/%s: cannot write the configuration", dir,
			      CLS_REDIRECT_CONFIG_MAP);
	return EXIT_OK;
}

static int cmd_show(const struct common_opts *o, const char *dir)
{
	struct cls_redirect_config cfg;
	char addr[INET_ADDRSTRLEN];
	bool configured;
	int fd, ret;

	ret = map_open(dir, &config_map_desc, true, false, MISSING_HINT, &fd);
	if (ret)
		return ret;
	ret = read_value(fd, dir, &cfg);
	close(fd);
	if (ret)
		return ret;

	configured = is_configured(&cfg);
	inet_ntop(AF_INET, &cfg.addr, addr, sizeof(addr));
	if (o->json) {
		struct json j;

		json_begin(&j, stdout, o->pretty);
		json_bool(&j, "configured", configured);
		json_str(&j, "addr", addr);
		json_u64(&j, "port", ntohs(cfg.port));
		json_bool(&j, "no_forward", cfg.flags & CLS_REDIRECT_F_NO_FORWARD);
		json_u64(&j, "mtu", cfg.mtu);
		json_end(&j);
	} else if (!configured) {
		printf("unconfigured\n");
	} else {
		printf("addr %s port %u", addr, ntohs(cfg.port));
		if (cfg.flags & CLS_REDIRECT_F_NO_FORWARD)
			printf(" no-forward");
		if (cfg.mtu)
			printf(" mtu %u", cfg.mtu);
		printf("\n");
	}
	return EXIT_OK;
}

/* Update an existing map after checking what it holds: set (a != NULL)
 * replaces the fields it names and says what changed, clear (a == NULL)
 * writes zeros. */
static int update_existing(int fd, const char *dir, const struct set_args *a)
{
	struct cls_redirect_config old, cfg = {};
	int ret;

	ret = read_value(fd, dir, &old);
	if (!ret && a)
		ret = merge(&old, a, &cfg);
	if (!ret)
		ret = write_value(fd, dir, &cfg);
	if (!ret && a)
		print_changes(&old, &cfg);
	return ret;
}

/* Called with the pin directory locked. */
static int store(const char *dir, const struct set_args *a)
{
	char path[PATH_MAX + sizeof(CLS_REDIRECT_CONFIG_MAP)];
	struct cls_redirect_config none = {}, cfg;
	struct loaded_classifier lc;
	int fd, ret;

	ret = map_open(dir, &config_map_desc, false, a != NULL, MISSING_HINT, &fd);
	if (ret)
		return ret;
	if (fd >= 0)
		goto update;

	/* Not pinned: only a complete configuration makes a new map. */
	ret = merge(&none, a, &cfg);
	if (ret)
		return ret;
	/* The classifier may still run here with a config map whose pin was
	 * removed: a new map would be one it never reads, and the "success" a
	 * lie.  Its maps have to be pinned back instead. */
	snprintf(path, sizeof(path), "%s/%s", dir, CLS_REDIRECT_CONFIG_MAP);
	if (find_loaded_classifier(&lc))
		return classifier_unpinned(dir, path, &lc);
	/* Make it, fill it, then publish it. */
	ret = map_create(&config_map_desc, &fd);
	if (ret)
		return ret;
	ret = write_value(fd, dir, &cfg);
	if (ret)
		goto out;
	if (bpf_obj_pin(fd, path) == 0) {
		print_changes(&none, &cfg);
		goto out;
	}
	if (errno != EEXIST) {
		ret = syserr(errno, "cannot pin the configuration map at %s", path);
		goto out;
	}
	/* tc does not take our lock: it pinned its map in the meantime. */
	close(fd);
	ret = map_open(dir, &config_map_desc, false, false, MISSING_HINT, &fd);
	if (ret)
		return ret;
update:
	ret = update_existing(fd, dir, a);
out:
	close(fd);
	return ret;
}

static int cmd_write(const char *dir, const struct set_args *a)
{
	int lock_fd, ret;

	ret = pin_dir_lock(dir, &lock_fd);
	if (ret)
		return ret;
	ret = store(dir, a);
	pin_dir_unlock(lock_fd);
	return ret;
}

static const struct option long_opts[] = { COMMON_LONG_OPTS, {} };

/* getopt_long over argv; returns -1 to go on, or the exit status. */
static int parse_opts(int argc, char **argv, struct common_opts *o)
{
	int c, ret;

	while ((c = next_option(argc, argv, "+:" COMMON_SHORT_OPTS, long_opts)) != -1) {
		if (c == '?')
			return EXIT_USAGE;
		ret = common_opt(c, optarg, o, usage);
		if (ret >= 0)
			return ret;
	}
	return -1;
}

static int run(int argc, char **argv)
{
	struct common_opts o = {};
	struct set_args set;
	char dir[PATH_MAX];
	const char *cmd;
	int ret;

	prog_name = "cls-redirect-config";
	ret = parse_opts(argc, argv, &o);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return errorf(EXIT_USAGE, "missing command: show, set or clear (see %s --help)",
			      prog_name);
	/* Options may follow the command word too: parse again from there. */
	argc -= optind;
	argv += optind;
	cmd = argv[0];
	optind = 0;
	ret = parse_opts(argc, argv, &o);
	if (ret >= 0)
		return ret;
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "set")) {
		ret = parse_set(argc, argv, &set);
	} else if (!strcmp(cmd, "show") || !strcmp(cmd, "clear")) {
		ret = argc ? errorf(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, argv[0]) : 0;
	} else if (!strcmp(cmd, "reset")) {
		/* Renamed: "reset" read as well as "zero the counters". */
		ret = errorf(EXIT_USAGE,
			     "'reset' is now 'clear' (back to unconfigured: cls-redirect-config "
			     "clear); to zero the counters: cls-redirect-stat --zero");
	} else {
		ret = errorf(EXIT_USAGE, "unknown command '%s' (expected show, set or clear)", cmd);
	}
	if (!ret && o.json && strcmp(cmd, "show"))
		ret = errorf(EXIT_USAGE, "%s: -j and -p apply to show only", cmd);
	if (ret)
		return ret;

	ret = check_privileges();
	if (!ret)
		/* Only a complete configuration may make the directory: a
		 * single field has nothing to change there. */
		ret = pin_dir_resolve(&o, !strcmp(cmd, "set") && set.addr && set.port, MISSING_HINT,
				      dir, sizeof(dir));
	if (ret)
		return ret;
	if (!strcmp(cmd, "show"))
		return cmd_show(&o, dir);
	return cmd_write(dir, !strcmp(cmd, "set") ? &set : NULL);
}

int main(int argc, char **argv)
{
	return output_close(run(argc, argv));
}
