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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "services.h"
#include "trust.h"

#define MISSING_HINT                                                                               \
	"run cls-redirect-config set, or attach cls_redirect.o with tc (tc filter add dev DEV "  \
	"ingress bpf da obj cls_redirect.o)"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %1$s [OPTIONS] show\n"
		"       %1$s [OPTIONS] status\n"
		"       %1$s [OPTIONS] set [--group GROUP] [addr ADDR] [port PORT]\n"
		"                 [forward|no-forward] [route|no-route] [mtu MTU]\n"
		"       %1$s [OPTIONS] clear\n"
		"       %1$s [OPTIONS] services add ADDR PORT tcp|udp dev IFNAME\n"
		"       %1$s [OPTIONS] services del ADDR PORT tcp|udp\n"
		"       %1$s [OPTIONS] sources add|del PREFIX...\n"
		"       %1$s [OPTIONS] hops add|del PREFIX...\n"
		"\n"
		"Read and write the configuration of the cls_redirect tc classifier, the map\n"
		"pinned as PIN_DIR/" CLS_REDIRECT_CONFIG_MAP ".\n"
		"\n"
		"Commands:\n"
		"  show             print the configuration, as the keywords set takes\n"
		"                   (\"unconfigured\" when no address is set), and the\n"
		"                   services, one \"service\" line each\n"
		"  status           health check: where the classifier is attached (device,\n"
		"                   direction, pref, handle, program id and tag, and whether\n"
		"                   the tag is the installed object's: $CLS_REDIRECT_OBJ or\n"
		"                   cls_redirect.o in ../obj or ../lib/bpf next to this tool),\n"
		"                   the config, the pins, trust lists and services when\n"
		"                   pinned, and host checks (the address is local, rp_filter\n"
		"                   not strict); one \"attention:\" line per problem\n"
		"  set              change the fields named, keep the others, print one line\n"
		"                   per field changed (\"mtu: 0 -> 1400\"); when unconfigured,\n"
		"                   addr and port are needed.  Creates and pins the map if\n"
		"                   the filter is not attached yet (tc then reuses it)\n"
		"    addr ADDR      this server's GUE endpoint: an IPv4 unicast address\n"
		"    port PORT      UDP destination port of the GUE packets, 1..65535\n"
		"                   (GLB's default is %2$d)\n"
		"    no-forward     never forward: every packet is handled as at its last hop\n"
		"    forward        forward again (the default)\n"
		"    route          forward along the host's route to the next hop, the kernel\n"
		"                   resolving its MAC address (needs net.ipv4.conf.lo.forwarding=1)\n"
		"    no-route       swap MAC addresses, send back where it came from (the default)\n"
		"    mtu MTU        largest packet, in bytes, that may be forwarded,\n"
		"                   0 or 68..65535; 0 (the default) = no limit\n"
		"  clear            back to unconfigured: the classifier passes every packet\n"
		"                   (the counters stay; cls-redirect-stat --zero zeroes them;\n"
		"                   the trust lists stay)\n"
		"  sources add|del PREFIX...\n"
		"                   the outer source addresses GUE is accepted from (directors\n"
		"                   and peer servers); empty = none: every GUE packet is\n"
		"                   dropped.  PREFIX is A.B.C.D/LEN or A.B.C.D (/32);\n"
		"                   0.0.0.0/0 allows every address\n"
		"  hops add|del PREFIX...\n"
		"                   the next hops packets may be forwarded to (peer servers);\n"
		"                   empty = none: nothing is forwarded\n"
		"  services add ADDR PORT tcp|udp dev IFNAME\n"
		"                   ADDR (IPv4 or IPv6) PORT (0 = every port) lives in the\n"
		"                   network namespace behind the veth IFNAME (its host-side\n"
		"                   end): socket lookups and delivery happen there; replaces\n"
		"                   an entry with the same ADDR PORT and protocol\n"
		"  services del ADDR PORT tcp|udp\n"
		"                   remove that entry\n"
		"\n"
		"Options (before the command, or right after it):\n"
		"  -d, --pin-dir DIR  the maps are pinned in DIR\n"
		"                     (default ${TC_BPF_MNT:-" CLS_REDIRECT_BPFFS_DEFAULT
		"}/" CLS_REDIRECT_PIN_SUBDIR ")\n"
		"      --group GROUP  set: let GROUP read the pins (directory 0750, pins\n"
		"                     0640, group GROUP), so its members can run show,\n"
		"                     status and cls-redirect-stat without privileges;\n"
		"                     alone (set --group GROUP) it changes no field\n"
		"  -j, --json         show, status: print one JSON object\n"
		"  -p, --pretty       show, status: print indented JSON (implies -j)\n"
		"  -h, --help         print this help and exit\n"
		"  -V, --version      print the version and exit\n"
		"\n"
		"Exit status: 0 success (status: healthy); 1 usage or input error; 2 system\n"
		"or bpf() error (not root, bpffs or pin directory missing, map missing or not\n"
		"matching, a failed write); 3 status: needs attention.\n",
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
	bool any;                      /* a field was named */
	bool addr, port, mtu, forward, route; /* the field was named */
	struct cls_redirect_config v;  /* the named fields' new values */
};

/* set [addr A] [port P] [forward|no-forward] [route|no-route] [mtu M],
 * keywords in any order, each field once, at least one. */
static int parse_set(int argc, char **argv, const char *group, struct set_args *a)
{
	unsigned long v;
	int i, ret;

	memset(a, 0, sizeof(*a));
	if (!argc && !group)
		return errorf(EXIT_USAGE,
			      "set: nothing to set (keywords: addr ADDR, port PORT, forward, "
			      "no-forward, route, no-route, mtu MTU; or --group GROUP)");
	a->any = argc > 0;
	for (i = 0; i < argc; i++) {
		const char *kw = argv[i];
		bool takes_value = !strcmp(kw, "addr") || !strcmp(kw, "port") || !strcmp(kw, "mtu");
		bool fwd_kw = !strcmp(kw, "forward") || !strcmp(kw, "no-forward");
		bool route_kw = !strcmp(kw, "route") || !strcmp(kw, "no-route");

		if (takes_value && i + 1 >= argc)
			return errorf(EXIT_USAGE, "set: '%s' needs a value", kw);
		if ((!strcmp(kw, "addr") && a->addr) || (!strcmp(kw, "port") && a->port) ||
		    (!strcmp(kw, "mtu") && a->mtu))
			return errorf(EXIT_USAGE, "set: '%s' given twice", kw);
		if (fwd_kw && a->forward)
			return errorf(EXIT_USAGE,
				      "set: '%s' given twice, or with its opposite (forward, no-forward)",
				      kw);
		if (route_kw && a->route)
			return errorf(EXIT_USAGE,
				      "set: '%s' given twice, or with its opposite (route, no-route)", kw);

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
		} else if (route_kw) {
			if (!strcmp(kw, "route"))
				a->v.flags |= CLS_REDIRECT_F_ROUTE;
			a->route = true;
			ret = EXIT_OK;
		} else {
			ret = errorf(EXIT_USAGE,
				     "set: unknown keyword '%s' (expected addr, port, forward, "
				     "no-forward, route, no-route or mtu)",
				     kw);
		}
		if (ret)
			return ret;
	}
	return EXIT_OK;
}

/* The configuration after "set": old with the named fields replaced.  An
 * unconfigured classifier needs both addr and port: a port alone would
 * leave it passing every packet, silently. */
static int merge(const struct cls_redirect_config *old, const struct set_args *a,
		 struct cls_redirect_config *cfg)
{
	*cfg = *old;
	if (!config_is_configured(old)) {
		memset(cfg, 0, sizeof(*cfg));
		cfg->trust_gen = old->trust_gen;
		if (!a->addr || !a->port)
			return errorf(EXIT_USAGE,
				      "set: unconfigured: give 'addr ADDR' and 'port PORT' (GLB's "
				      "default is %d) before a single field can be changed",
				      CLS_REDIRECT_GLB_PORT);
	}
	cfg->version = CLS_REDIRECT_CONFIG_VERSION;
	/* A classifier remembers nothing under 0: start the generations. */
	if (!cfg->trust_gen)
		cfg->trust_gen = config_next_trust_gen(0);
	if (a->addr)
		cfg->addr = a->v.addr;
	if (a->port)
		cfg->port = a->v.port;
	if (a->mtu)
		cfg->mtu = a->v.mtu;
	if (a->forward)
		cfg->flags = (cfg->flags & ~CLS_REDIRECT_F_NO_FORWARD) |
			     (a->v.flags & CLS_REDIRECT_F_NO_FORWARD);
	if (a->route)
		cfg->flags = (cfg->flags & ~CLS_REDIRECT_F_ROUTE) | (a->v.flags & CLS_REDIRECT_F_ROUTE);
	return EXIT_OK;
}

/* One line per field that changed, "mtu: 0 -> 1400", or "unchanged". */
static void print_changes(const struct cls_redirect_config *old,
			  const struct cls_redirect_config *cfg)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	bool was = config_is_configured(old), any = false;
	bool nf_old = was && (old->flags & CLS_REDIRECT_F_NO_FORWARD);
	bool nf_new = cfg->flags & CLS_REDIRECT_F_NO_FORWARD;
	bool rt_old = was && (old->flags & CLS_REDIRECT_F_ROUTE);
	bool rt_new = cfg->flags & CLS_REDIRECT_F_ROUTE;
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
	if (rt_old != rt_new) {
		printf("route: %s -> %s\n", rt_old ? "route" : "no-route", rt_new ? "route" : "no-route");
		any = true;
	}
	if (mtu_old != cfg->mtu) {
		printf("mtu: %u -> %u\n", mtu_old, cfg->mtu);
		any = true;
	}
	if (!any)
		printf("unchanged\n");
}

static int write_value(int fd, const char *dir, const struct cls_redirect_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_update_elem(fd, &key, cfg, BPF_ANY))
		return syserr(errno, "%s/%s: cannot write the configuration", dir,
			      CLS_REDIRECT_CONFIG_MAP);
	return EXIT_OK;
}

/* An array of the list's prefixes, as strings. */
static void json_list(struct json *j, const char *name, const struct trust_list *l)
{
	size_t i;

	json_arr(j, name);
	for (i = 0; i < l->n; i++)
		json_str(j, NULL, l->str[i]);
	json_close(j);
}

/* "sources 192.0.2.0/24 198.51.100.7/32", or "sources none". */
static void show_list(const char *name, const struct trust_list *l)
{
	size_t i;

	printf("%s", name);
	if (!l->n)
		printf(" none");
	for (i = 0; i < l->n; i++)
		printf(" %s", l->str[i]);
	printf("\n");
}

static int cmd_show(const struct common_opts *o, const char *dir)
{
	static struct trust_list sources, hops;
	struct cls_redirect_config cfg;
	char addr[INET_ADDRSTRLEN];
	bool configured;
	int fd, ret;

	ret = map_open(dir, &config_map_desc, true, false, MISSING_HINT, &fd);
	if (ret)
		return ret;
	ret = config_read(fd, dir, &cfg);
	close(fd);
	if (ret)
		return ret;
	ret = trust_read(dir, &sources_map_desc, &sources);
	if (ret)
		return ret;
	ret = trust_read(dir, &hops_map_desc, &hops);
	if (ret)
		goto out;

	configured = config_is_configured(&cfg);
	inet_ntop(AF_INET, &cfg.addr, addr, sizeof(addr));
	if (o->json) {
		struct json j;

		json_begin(&j, stdout, o->pretty);
		json_bool(&j, "configured", configured);
		json_str(&j, "addr", addr);
		json_u64(&j, "port", ntohs(cfg.port));
		json_bool(&j, "no_forward", cfg.flags & CLS_REDIRECT_F_NO_FORWARD);
		json_bool(&j, "route", cfg.flags & CLS_REDIRECT_F_ROUTE);
		json_u64(&j, "mtu", cfg.mtu);
		json_list(&j, "sources", &sources);
		json_list(&j, "hops", &hops);
		ret = services_show(dir, &j);
		json_end(&j);
		goto done;
	}
	if (!configured) {
		printf("unconfigured\n");
	} else {
		printf("addr %s port %u", addr, ntohs(cfg.port));
		if (cfg.flags & CLS_REDIRECT_F_NO_FORWARD)
			printf(" no-forward");
		if (cfg.flags & CLS_REDIRECT_F_ROUTE)
			printf(" route");
		if (cfg.mtu)
			printf(" mtu %u", cfg.mtu);
		printf("\n");
	}
	show_list("sources", &sources);
	show_list("hops", &hops);
	ret = services_show(dir, NULL);
done:
	trust_free(&hops);
out:
	trust_free(&sources);
	return ret;
}

/* Update an existing map after checking what it holds: set (a != NULL)
 * replaces the fields it names and says what changed, clear (a == NULL)
 * writes zeros. */
static int update_existing(int fd, const char *dir, const struct set_args *a)
{
	struct cls_redirect_config old, cfg = {};
	int ret;

	ret = config_read(fd, dir, &old);
	/* clear keeps trust_gen: what the classifier remembered of the lists,
	 * which clear leaves alone, must not become true again. */
	cfg.trust_gen = old.trust_gen;
	if (!ret && a)
		ret = merge(&old, a, &cfg);
	if (!ret && a)
		ret = services_flag(dir, &cfg);
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
	if (!ret)
		ret = services_flag(dir, &cfg);
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

/* --group (man page: PERMISSIONS): the group may read the pins.  tc and
 * bpf_obj_pin() make pins 0600 and tc its directories 0700, root's; the
 * directory becomes group GROUP 0750 and every pin in it GROUP 0640, so a
 * member can open them read-only (BPF_F_RDONLY needs no capability since
 * Linux 6.5).  The directories above it on the same bpffs get search
 * permission for others (o+x, no listing) where they lack it: a path must
 * be searchable all the way down.  Called with the pin directory locked. */
static int share_pins(const char *dir, const char *group, gid_t gid)
{
	char up[PATH_MAX], opened[PATH_MAX] = "", *slash;
	unsigned int pins = 0;
	struct dirent *e;
	struct statfs fs;
	struct stat st;
	DIR *d;
	size_t off = 0;

	d = opendir(dir);
	if (!d)
		return access_error(errno, dir, false, "cannot list pin directory");
	while ((e = readdir(d))) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (fchownat(dirfd(d), e->d_name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) ||
		    fchmodat(dirfd(d), e->d_name, 0640, 0)) {
			int err = errno;

			closedir(d);
			return syserr(err, "cannot give group %s the pin %s/%s", group, dir, e->d_name);
		}
		pins++;
	}
	closedir(d);
	if (chown(dir, (uid_t)-1, gid) || chmod(dir, 0750))
		return syserr(errno, "cannot give group %s the pin directory %s", group, dir);
	snprintf(up, sizeof(up), "%s", dir);
	while ((slash = strrchr(up, '/')) && slash != up) {
		*slash = '\0';
		if (statfs(up, &fs) || fs.f_type != BPF_FS_MAGIC || stat(up, &st))
			break;
		if (!(st.st_mode & S_IXOTH)) {
			if (chmod(up, (st.st_mode & 07777) | S_IXOTH))
				return syserr(errno, "cannot add search permission to %s", up);
			off += snprintf(opened + off, off < sizeof(opened) ? sizeof(opened) - off : 0,
					"%s%s", off ? ", " : "", up);
		}
	}
	printf("group: %s may read %s (directory 0750, %u pins 0640)", group, dir, pins);
	if (off)
		printf("; search permission for others (o+x) added to %s", opened);
	printf("\n");
	return EXIT_OK;
}

static int cmd_write(const char *dir, const struct set_args *a, const char *group, gid_t gid)
{
	int lock_fd, ret;

	ret = pin_dir_lock(dir, &lock_fd);
	if (ret)
		return ret;
	/* set --group alone changes no field. */
	ret = a && !a->any ? EXIT_OK : store(dir, a);
	if (!ret && group)
		ret = share_pins(dir, group, gid);
	pin_dir_unlock(lock_fd);
	return ret;
}

/* ---- status (man page: CLS-REDIRECT-CONFIG, status) ---- */

/* deploy.sh's slot: a program there that does not use our maps is in the
 * place where the classifier should run. */
#define DEPLOY_PREF 1000
#define DEPLOY_HANDLE 0xc15d

#define MAX_REASONS 16

/* What needs attention: a short code (JSON) and one line for a human. */
struct reasons {
	int n;
	const char *code[MAX_REASONS];
	char text[MAX_REASONS][512];
};

static void reason(struct reasons *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reason(struct reasons *r, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (r->n == MAX_REASONS)
		return;
	r->code[r->n] = code;
	va_start(ap, fmt);
	vsnprintf(r->text[r->n], sizeof(r->text[0]), fmt, ap);
	va_end(ap);
	r->n++;
}

/* Maps beside the config and metrics: the trust lists (an absent list is an
 * empty one: it allows nothing) and the services (shown when pinned). */
static const struct extra_map {
	const char *name;
	const char *key; /* JSON key and the word in the text output */
	bool trust_list;  /* an LPM trie of IPv4 prefixes; empty allows nothing */
} extra_maps[] = {
	{ "cls_redirect_sources", "sources", true },
	{ "cls_redirect_hops", "hops", true },
	{ "cls_redirect_services", "services", false },
};
#define NEXTRA (sizeof(extra_maps) / sizeof(extra_maps[0]))
#define MAX_PREFIXES 4096

struct extra {
	bool pinned;
	__u32 id;
	__u32 count;      /* entries */
	char (*prefix)[20]; /* trust lists with the usual LPM key: A.B.C.D/LEN */
	__u32 nprefix;
};

/* Read one extra map: its entries, and for a trust list (LPM trie keyed by
 * prefix length + IPv4 address) the prefixes themselves. */
static int read_extra(const char *dir, const struct extra_map *m, struct extra *e)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX], key[64], next[64];
	void *prev = NULL;
	int fd;

	memset(e, 0, sizeof(*e));
	snprintf(path, sizeof(path), "%s/%s", dir, m->name);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0)
		return errno == ENOENT ? EXIT_OK : syserr(errno, "%s", path);
	e->pinned = true;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.key_size > sizeof(key)) {
		close(fd);
		return errorf(EXIT_SYSTEM, "%s: not a map this version can read", path);
	}
	e->id = info.id;
	if (m->trust_list && info.type == BPF_MAP_TYPE_LPM_TRIE && info.key_size == 8)
		e->prefix = calloc(MAX_PREFIXES, sizeof(*e->prefix));
	while (e->count < 1u << 20 && !bpf_map_get_next_key(fd, prev, next)) {
		if (e->prefix && e->nprefix < MAX_PREFIXES) {
			__u32 plen;
			char a[INET_ADDRSTRLEN];

			memcpy(&plen, next, 4);
			inet_ntop(AF_INET, next + 4, a, sizeof(a));
			snprintf(e->prefix[e->nprefix++], sizeof(e->prefix[0]), "%s/%u", a, plen);
		}
		e->count++;
		memcpy(key, next, info.key_size);
		prev = key;
	}
	close(fd);
	return EXIT_OK;
}

/*
 * "Is the program attached the installed one?": the kernel's program tag is
 * a hash of the instructions with map references zeroed, so loading the
 * object (maps created unpinned, freed at once) gives the tag any tc load of
 * it gives.  The object is $CLS_REDIRECT_OBJ, else the first of
 * cls_redirect.o in ../obj (the source tree) and ../lib/bpf (make install)
 * next to this tool.  Only a libbpf-loadable (BTF) object can be compared.
 */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static bool object_path(char *path, size_t size)
{
	static const char *const rel[] = { "../obj/cls_redirect.o", "../lib/bpf/cls_redirect.o" };
	const char *env = getenv("CLS_REDIRECT_OBJ");
	char exe[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	if (env && *env) {
		snprintf(path, size, "%s", env);
		return true;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (snprintf(path, size, "%s/%s", exe, rel[i]) >= (int)size)
			continue;
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* 0 and the tag, or -errno (why in *why). */
static int object_tag(const char *path, __u8 tag[8], const char **why)
{
	libbpf_print_fn_t old = libbpf_set_print(libbpf_quiet);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct bpf_program *prog, *cls = NULL;
	struct bpf_object *obj;
	struct bpf_map *map;
	int ret;

	*why = "cannot open it";
	obj = bpf_object__open_file(path, NULL);
	ret = libbpf_get_error(obj);
	if (ret) {
		*why = "libbpf cannot open it (a legacy-maps object cannot be compared)";
		libbpf_set_print(old);
		return ret;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL); /* never touch anyone's pins */
	bpf_object__for_each_program(prog, obj) {
		if (!cls && bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS)
			cls = prog;
		else
			bpf_program__set_autoload(prog, false);
	}
	ret = -ENOENT;
	*why = "no tc program in it";
	if (cls) {
		ret = bpf_object__load(obj);
		*why = "loading it failed";
	}
	if (!ret) {
		ret = bpf_obj_get_info_by_fd(bpf_program__fd(cls), &info, &len) ? -errno : 0;
		memcpy(tag, info.tag, 8);
	}
	bpf_object__close(obj);
	libbpf_set_print(old);
	return ret;
}

/* The tag of program id (netlink gives none for XDP); zeros if unreadable. */
static void prog_tag(__u32 id, __u8 tag[8])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		memcpy(tag, info.tag, 8);
	close(fd);
}

static void hex_tag(const __u8 tag[8], char out[17])
{
	int i;

	for (i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", tag[i]);
}

/* net.ipv4.conf.DEV.KEY, or -1 when unreadable. */
static int ipv4_conf(const char *dev, const char *key)
{
	char path[128];
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", dev, key);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* net.ipv4.conf.DEV.rp_filter: the kernel uses the larger of all's and DEV's. */
static int rp_filter(const char *dev)
{
	return ipv4_conf(dev, "rp_filter");
}

/* The interface addr is assigned to in this network namespace, or NULL. */
static bool addr_local(__be32 addr, char dev[IF_NAMESIZE])
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr) {
			snprintf(dev, IF_NAMESIZE, "%s", i->ifa_name);
			found = true;
		}
	freeifaddrs(ifa);
	return found;
}

struct status {
	const char *dir;
	__u32 config_id, metrics_id;
	bool have_cfg;
	struct cls_redirect_config cfg;
	struct extra extra[NEXTRA];
	struct tc_filter *filters;
	size_t nfilters;
	bool *ours;
	char obj[PATH_MAX];
	bool have_obj, have_tag;
	__u8 obj_tag[8];
	const char *obj_why;
	char addr_dev[IF_NAMESIZE];
	bool addr_is_local;
	int rp_all;
	int lo_forwarding; /* net.ipv4.conf.lo.forwarding, which route needs */
	struct reasons r;
};

static int gather(struct status *s)
{
	int cfg_fd, met_fd, ret;
	size_t i, k;

	ret = map_open(s->dir, &config_map_desc, true, true, MISSING_HINT, &cfg_fd);
	if (ret)
		return ret;
	ret = map_open(s->dir, &metrics_map_desc, true, true, MISSING_HINT, &met_fd);
	if (ret)
		goto out;
	if (cfg_fd < 0 && met_fd < 0) {
		struct loaded_classifier lc;
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/%s", s->dir, CLS_REDIRECT_CONFIG_MAP);
		if (find_loaded_classifier(&lc))
			return classifier_unpinned(s->dir, path, &lc);
		return errorf(EXIT_SYSTEM, "no cls_redirect maps pinned in %s: %s", s->dir,
			      MISSING_HINT);
	}
	if (cfg_fd >= 0) {
		s->config_id = map_id_of(cfg_fd);
		ret = config_read(cfg_fd, s->dir, &s->cfg);
		if (ret)
			goto out;
		s->have_cfg = true;
	}
	if (met_fd >= 0)
		s->metrics_id = map_id_of(met_fd);
	for (i = 0; i < NEXTRA && !ret; i++)
		ret = read_extra(s->dir, &extra_maps[i], &s->extra[i]);
	if (ret)
		goto out;
	ret = tc_bpf_filters(&s->filters, &s->nfilters);
	if (ret) {
		ret = syserr(-ret, "cannot list the tc filters of this network namespace (rtnetlink)");
		goto out;
	}
	s->ours = calloc(s->nfilters + 1, sizeof(*s->ours));
	if (!s->ours) {
		ret = syserr(ENOMEM, "status");
		goto out;
	}
	for (i = 0; i < s->nfilters; i++)
		s->ours[i] = (s->config_id && filter_uses_map(&s->filters[i], s->config_id)) ||
			     (s->metrics_id && filter_uses_map(&s->filters[i], s->metrics_id));
	for (i = 0; i < s->nfilters; i++)
		if (s->ours[i] && s->filters[i].xdp)
			prog_tag(s->filters[i].prog_id, s->filters[i].tag);
	for (i = 0; i < s->nfilters && !s->have_obj; i++)
		if (s->ours[i] && !s->filters[i].xdp) {
			s->have_obj = object_path(s->obj, sizeof(s->obj));
			s->obj_why = "no object found (set CLS_REDIRECT_OBJ)";
			if (s->have_obj)
				s->have_tag = !object_tag(s->obj, s->obj_tag, &s->obj_why);
			break;
		}

	/* What needs attention, in the order an operator fixes it. */
	for (k = 0, i = 0; i < s->nfilters; i++)
		k += s->ours[i];
	if (!k)
		reason(&s->r, "not_attached",
		       "not attached: no tc filter in this network namespace uses the maps in %s "
		       "(examples/deploy.sh DEV ADDR PORT, or tc filter add dev DEV ingress bpf da "
		       "obj cls_redirect.o)",
		       s->dir);
	for (i = 0; i < s->nfilters; i++) {
		const struct tc_filter *f = &s->filters[i];

		if (!s->ours[i] && !f->xdp && !f->egress && f->pref == DEPLOY_PREF &&
		    f->handle == DEPLOY_HANDLE)
			reason(&s->r, "foreign_program",
			       "foreign program: %s ingress pref %u handle 0x%x (deploy.sh's slot) "
			       "runs program id %u (%s), which does not use the maps in %s",
			       f->dev, f->pref, f->handle, f->prog_id, f->name[0] ? f->name : "?",
			       s->dir);
	}
	if (!s->have_cfg || !config_is_configured(&s->cfg))
		reason(&s->r, "unconfigured",
		       "unconfigured: the classifier passes every packet (cls-redirect-config set "
		       "addr ADDR port PORT)");
	/* An empty (or absent) trust list allows nothing. */
	for (i = 0; i < NEXTRA; i++)
		if (extra_maps[i].trust_list && !s->extra[i].count)
			reason(&s->r, "trust_list_empty",
			       "%s list empty: it allows nothing (cls-redirect-config %s add PREFIX; "
			       "0.0.0.0/0 allows everyone)",
			       extra_maps[i].key, extra_maps[i].key);
	if (s->have_cfg && config_is_configured(&s->cfg)) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->cfg.addr, a, sizeof(a));
		s->addr_is_local = addr_local(s->cfg.addr, s->addr_dev);
		if (!s->addr_is_local)
			reason(&s->r, "address_not_local",
			       "address not local: %s is not assigned to any interface of this network "
			       "namespace, so decapsulated packets for it are not delivered (ip addr "
			       "add %s/32 dev lo)",
			       a, a);
	}
	s->rp_all = rp_filter("all");
	for (i = 0; i < s->nfilters; i++) {
		const struct tc_filter *f = &s->filters[i];
		int dev = rp_filter(f->dev), eff = dev > s->rp_all ? dev : s->rp_all;

		for (k = 0; k < i; k++) /* once per device */
			if (s->ours[k] && !s->filters[k].egress && !strcmp(s->filters[k].dev, f->dev))
				break;
		if (!s->ours[i] || f->egress || k < i || eff != 1)
			continue;
		reason(&s->r, "rp_filter_strict",
		       "rp_filter strict on %s (all %d, %s %d; the kernel uses the larger): "
		       "decapsulated packets are dropped after being counted as accepted "
		       "(sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2, "
		       "or 0)",
		       f->dev, s->rp_all, f->dev, dev, f->dev);
	}
	s->lo_forwarding = ipv4_conf("lo", "forwarding");
	if (s->have_cfg && config_is_configured(&s->cfg) && (s->cfg.flags & CLS_REDIRECT_F_ROUTE) &&
	    !(s->cfg.flags & CLS_REDIRECT_F_NO_FORWARD) && s->lo_forwarding != 1)
		reason(&s->r, "route_lo_forwarding_off",
		       "route set, but net.ipv4.conf.lo.forwarding is %d: bpf_fib_lookup() refuses, and "
		       "every forward is dropped as errors_total_no_route (sysctl -w "
		       "net.ipv4.conf.lo.forwarding=1, after any ip_forward change; tc-cls-redirect.8, "
		       "ROUTE MODE)",
		       s->lo_forwarding);
	ret = EXIT_OK;
out:
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (met_fd >= 0)
		close(met_fd);
	return ret;
}

static void status_text(const struct status *s)
{
	char a[INET_ADDRSTRLEN], tag[17];
	size_t i, k, n = 0;

	printf("pins: %s\n", s->dir);
	if (s->config_id)
		printf("  %s map id %u\n", CLS_REDIRECT_CONFIG_MAP, s->config_id);
	else
		printf("  %s not pinned\n", CLS_REDIRECT_CONFIG_MAP);
	if (s->metrics_id)
		printf("  %s map id %u\n", CLS_REDIRECT_METRICS_MAP, s->metrics_id);
	else
		printf("  %s not pinned\n", CLS_REDIRECT_METRICS_MAP);
	for (i = 0; i < NEXTRA; i++)
		if (s->extra[i].pinned)
			printf("  %s map id %u\n", extra_maps[i].name, s->extra[i].id);
	inet_ntop(AF_INET, &s->cfg.addr, a, sizeof(a));
	if (!s->have_cfg || !config_is_configured(&s->cfg)) {
		printf("config: unconfigured\n");
	} else {
		printf("config: addr %s port %u", a, ntohs(s->cfg.port));
		if (s->cfg.flags & CLS_REDIRECT_F_NO_FORWARD)
			printf(" no-forward");
		if (s->cfg.flags & CLS_REDIRECT_F_ROUTE)
			printf(" route");
		if (s->cfg.mtu)
			printf(" mtu %u", s->cfg.mtu);
		printf("\n");
	}
	for (i = 0; i < s->nfilters; i++) {
		const struct tc_filter *f = &s->filters[i];

		if (!s->ours[i])
			continue;
		n++;
		hex_tag(f->tag, tag);
		if (f->xdp) {
			/* XDP: no pref, handle or name; the tc object's tag
			 * says nothing about the XDP object's. */
			printf("attached: %s %s prog id %u tag %s\n", f->dev, f->xdp, f->prog_id,
			       tag);
			continue;
		}
		printf("attached: %s %s pref %u handle 0x%x prog id %u tag %s%s%s", f->dev,
		       f->egress ? "egress" : "ingress", f->pref, f->handle, f->prog_id, tag,
		       f->direct_action ? " direct-action" : "", f->name[0] ? " " : "");
		printf("%s", f->name);
		if (s->have_tag)
			printf(", %s %s", memcmp(f->tag, s->obj_tag, 8) ? "tag differs from" :
									  "tag of",
			       s->obj);
		else
			printf(", tag not compared: %s%s%s", s->have_obj ? s->obj : "",
			       s->have_obj ? ": " : "", s->obj_why);
		printf("\n");
	}
	if (!n)
		printf("attached: nowhere\n");
	for (i = 0; i < NEXTRA; i++) {
		const struct extra *e = &s->extra[i];

		if (!e->pinned)
			continue;
		printf("%s:", extra_maps[i].key);
		if (!e->count)
			printf(" empty");
		else if (e->prefix)
			for (k = 0; k < e->nprefix; k++)
				printf(" %s", e->prefix[k]);
		else
			printf(" %u entries", e->count);
		printf("\n");
	}
	if (s->have_cfg && config_is_configured(&s->cfg)) {
		if (s->addr_is_local)
			printf("host: %s is assigned to %s\n", a, s->addr_dev);
		else
			printf("host: %s is not assigned locally\n", a);
	}
	printf("host: rp_filter all %d", s->rp_all);
	for (i = 0; i < s->nfilters; i++)
		if (s->ours[i] && !s->filters[i].egress)
			printf(", %s %d", s->filters[i].dev, rp_filter(s->filters[i].dev));
	printf("\n");
	if (s->cfg.flags & CLS_REDIRECT_F_ROUTE)
		printf("host: net.ipv4.conf.lo.forwarding %d (route needs 1)\n", s->lo_forwarding);
	for (i = 0; i < (size_t)s->r.n; i++)
		printf("attention: %s\n", s->r.text[i]);
	printf("status: %s\n", s->r.n ? "needs attention" : "healthy");
}

static void status_json(const struct status *s, bool pretty)
{
	char a[INET_ADDRSTRLEN], tag[17];
	struct json j;
	size_t i, k;

	json_begin(&j, stdout, pretty);
	json_bool(&j, "healthy", !s->r.n);
	json_arr(&j, "attention");
	for (i = 0; i < (size_t)s->r.n; i++) {
		json_obj(&j, NULL);
		json_str(&j, "reason", s->r.code[i]);
		json_str(&j, "message", s->r.text[i]);
		json_close(&j);
	}
	json_close(&j);
	json_str(&j, "pin_dir", s->dir);
	json_obj(&j, "pins");
	if (s->config_id)
		json_u64(&j, CLS_REDIRECT_CONFIG_MAP, s->config_id);
	else
		json_null(&j, CLS_REDIRECT_CONFIG_MAP);
	if (s->metrics_id)
		json_u64(&j, CLS_REDIRECT_METRICS_MAP, s->metrics_id);
	else
		json_null(&j, CLS_REDIRECT_METRICS_MAP);
	for (i = 0; i < NEXTRA; i++)
		if (s->extra[i].pinned)
			json_u64(&j, extra_maps[i].name, s->extra[i].id);
	json_close(&j);
	inet_ntop(AF_INET, &s->cfg.addr, a, sizeof(a));
	json_obj(&j, "config");
	json_bool(&j, "configured", s->have_cfg && config_is_configured(&s->cfg));
	json_str(&j, "addr", a);
	json_u64(&j, "port", ntohs(s->cfg.port));
	json_bool(&j, "no_forward", s->cfg.flags & CLS_REDIRECT_F_NO_FORWARD);
	json_bool(&j, "route", s->cfg.flags & CLS_REDIRECT_F_ROUTE);
	json_u64(&j, "mtu", s->cfg.mtu);
	json_close(&j);
	json_arr(&j, "attached");
	for (i = 0; i < s->nfilters; i++) {
		const struct tc_filter *f = &s->filters[i];

		if (!s->ours[i])
			continue;
		hex_tag(f->tag, tag);
		json_obj(&j, NULL);
		json_str(&j, "device", f->dev);
		json_str(&j, "direction", f->xdp ? f->xdp : f->egress ? "egress" : "ingress");
		json_u64(&j, "pref", f->pref);
		json_u64(&j, "handle", f->handle);
		json_u64(&j, "prog_id", f->prog_id);
		json_str(&j, "tag", tag);
		json_str(&j, "name", f->name);
		json_bool(&j, "direct_action", f->direct_action);
		if (s->have_tag && !f->xdp)
			json_bool(&j, "tag_matches_object", !memcmp(f->tag, s->obj_tag, 8));
		else
			json_null(&j, "tag_matches_object");
		json_close(&j);
	}
	json_close(&j);
	json_obj(&j, "object");
	if (s->have_obj)
		json_str(&j, "path", s->obj);
	else
		json_null(&j, "path");
	if (s->have_tag) {
		hex_tag(s->obj_tag, tag);
		json_str(&j, "tag", tag);
	} else {
		json_null(&j, "tag");
	}
	json_close(&j);
	for (i = 0; i < NEXTRA; i++) {
		const struct extra *e = &s->extra[i];

		if (!e->pinned)
			continue;
		if (e->prefix || (extra_maps[i].trust_list && !e->count)) {
			json_arr(&j, extra_maps[i].key);
			for (k = 0; k < e->nprefix; k++)
				json_str(&j, NULL, e->prefix[k]);
			json_close(&j);
		} else {
			json_u64(&j, extra_maps[i].key, e->count);
		}
	}
	json_obj(&j, "host");
	json_bool(&j, "addr_local", s->addr_is_local);
	if (s->addr_is_local)
		json_str(&j, "addr_device", s->addr_dev);
	else
		json_null(&j, "addr_device");
	json_u64(&j, "lo_forwarding", s->lo_forwarding < 0 ? 0 : s->lo_forwarding);
	json_obj(&j, "rp_filter");
	json_u64(&j, "all", s->rp_all < 0 ? 0 : s->rp_all);
	for (i = 0; i < s->nfilters; i++) {
		for (k = 0; k < i; k++)
			if (s->ours[k] && !s->filters[k].egress && !strcmp(s->filters[k].dev, s->filters[i].dev))
				break;
		if (s->ours[i] && !s->filters[i].egress && k == i)
			json_u64(&j, s->filters[i].dev, rp_filter(s->filters[i].dev));
	}
	json_close(&j);
	json_close(&j);
	json_end(&j);
}

/* Exit 0 healthy, 3 needs attention (one "attention:" line per reason). */
static int cmd_status(const struct common_opts *o, const char *dir)
{
	struct status s = { .dir = dir, .rp_all = -1 };
	size_t i;
	int ret;

	ret = gather(&s);
	if (!ret) {
		if (o->json)
			status_json(&s, o->pretty);
		else
			status_text(&s);
		ret = s.r.n ? EXIT_ATTENTION : EXIT_OK;
	}
	for (i = 0; i < NEXTRA; i++)
		free(s.extra[i].prefix);
	free(s.filters);
	free(s.ours);
	return ret;
}

enum { OPT_GROUP = 256 };
static const struct option long_opts[] = {
	COMMON_LONG_OPTS,
	{ "group", required_argument, NULL, OPT_GROUP },
	{},
};

/* getopt_long over argv; returns -1 to go on, or the exit status. */
static int parse_opts(int argc, char **argv, struct common_opts *o, const char **group)
{
	int c, ret;

	while ((c = next_option(argc, argv, "+:" COMMON_SHORT_OPTS, long_opts)) != -1) {
		if (c == '?')
			return EXIT_USAGE;
		if (c == OPT_GROUP) {
			*group = optarg;
			continue;
		}
		ret = common_opt(c, optarg, o, usage);
		if (ret >= 0)
			return ret;
	}
	return -1;
}

/* The prefixes of sources|hops: freed in main, whichever way run returns. */
static struct trust_args trust;

static int run(int argc, char **argv)
{
	struct common_opts o = {};
	struct set_args set;
	const char *group = NULL;
	gid_t gid = 0;
	char dir[PATH_MAX];
	const char *cmd;
	int ret;

	prog_name = "cls-redirect-config";
	ret = parse_opts(argc, argv, &o, &group);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return errorf(EXIT_USAGE,
			      "missing command: show, status, set, clear, services, sources or hops "
			      "(see %s --help)",
			      prog_name);
	/* Options may follow the command word too: parse again from there. */
	argc -= optind;
	argv += optind;
	cmd = argv[0];
	optind = 0;
	ret = parse_opts(argc, argv, &o, &group);
	if (ret >= 0)
		return ret;
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "set")) {
		ret = parse_set(argc, argv, group, &set);
	} else if (!strcmp(cmd, "services")) {
		ret = services_parse(argc, argv);
	} else if (!strcmp(cmd, "sources") || !strcmp(cmd, "hops")) {
		ret = trust_parse(argc, argv, cmd, &trust);
	} else if (!strcmp(cmd, "show") || !strcmp(cmd, "clear") || !strcmp(cmd, "status")) {
		ret = argc ? errorf(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, argv[0]) : 0;
	} else if (!strcmp(cmd, "reset")) {
		/* Renamed: "reset" read as well as "zero the counters". */
		ret = errorf(EXIT_USAGE,
			     "'reset' is now 'clear' (back to unconfigured: cls-redirect-config "
			     "clear); to zero the counters: cls-redirect-stat --zero");
	} else {
		ret = errorf(EXIT_USAGE,
			     "unknown command '%s' (expected show, status, set, clear, services, sources "
			     "or hops)",
			     cmd);
	}
	if (!ret && o.json && strcmp(cmd, "show") && strcmp(cmd, "status"))
		ret = errorf(EXIT_USAGE, "%s: -j and -p apply to show and status only", cmd);
	if (!ret && group && strcmp(cmd, "set"))
		ret = errorf(EXIT_USAGE, "%s: --group applies to set only", cmd);
	if (!ret && group) {
		struct group *gr;

		errno = 0;
		gr = getgrnam(group);
		if (gr)
			gid = gr->gr_gid;
		else
			ret = errorf(EXIT_USAGE, "--group '%s': no such group (getent group %s)",
				     group, group);
	}
	if (ret)
		return ret;

	/* No capability check up front: read-only commands work for any user
	 * the pins' file modes allow (set --group); a refusal names its cause. */
	{
		/* Only a complete configuration may make the directory: a
		 * single field has nothing to change there. */
		ret = pin_dir_resolve(&o, (!strcmp(cmd, "set") && set.addr && set.port) || trust.add ||
					      (!strcmp(cmd, "services") && !strcmp(argv[0], "add")),
				      MISSING_HINT, dir, sizeof(dir));
	}
	if (ret)
		return ret;
	if (!strcmp(cmd, "show"))
		return cmd_show(&o, dir);
	if (!strcmp(cmd, "status"))
		return cmd_status(&o, dir);
	if (!strcmp(cmd, "services"))
		return services_run(dir, argc, argv);
	if (trust.list)
		return trust_write(dir, &trust);
	ret = cmd_write(dir, !strcmp(cmd, "set") ? &set : NULL, group, gid);
	if (!ret && !strcmp(cmd, "set"))
		trust_warn_empty(dir);
	return ret;
}

int main(int argc, char **argv)
{
	int ret;

	output_init();
	ret = run(argc, argv);
	free(trust.prefixes);
	return output_close(ret);
}
