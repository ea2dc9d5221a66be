// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The trust lists of cls-redirect-config (man page: SECURITY): the LPM tries
 * pinned as <pin dir>/cls_redirect_sources (who may send us GUE) and
 * <pin dir>/cls_redirect_hops (where we may forward to).
 *
 * Every change is checked in full before the first map operation: a bad
 * prefix, a delete of a prefix not listed or a list that would overflow
 * changes nothing.  Each prefix is then one map operation, so the classifier
 * never sees a list with anything in it that the operator did not allow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common.h"
#include "trust.h"

#define TRUST_HINT "add a prefix first: cls-redirect-config sources|hops add PREFIX"

static void prefix_str(const struct cls_redirect_prefix *p, char *buf, size_t size)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &p->addr, addr, sizeof(addr));
	snprintf(buf, size, "%s/%u", addr, p->prefixlen);
}

static __be32 prefix_mask(__u32 len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

/* A.B.C.D or A.B.C.D/LEN (LEN 0..32, decimal digits only), host bits zero. */
static int parse_prefix(const char *list, const char *s, struct cls_redirect_prefix *p)
{
	char addr[INET_ADDRSTRLEN + 1], fixed[32];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len = 32;
	char *end;

	if (alen >= sizeof(addr))
		return errorf(EXIT_USAGE, "%s: '%s' is not an IPv4 prefix (A.B.C.D/LEN, as 192.0.2.0/24)",
			      list, s);
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, &p->addr) != 1)
		return errorf(EXIT_USAGE, "%s: '%s' is not an IPv4 prefix (A.B.C.D/LEN, as 192.0.2.0/24)",
			      list, s);
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 2 ||
		    (len = strtoul(slash + 1, &end, 10), *end) || len > 32)
			return errorf(EXIT_USAGE,
				      "%s: '%s': prefix length must be a number from 0 to 32",
				      list, s);
	}
	p->prefixlen = (__u32)len;
	if (p->addr & ~prefix_mask(p->prefixlen)) {
		struct cls_redirect_prefix ok = { p->prefixlen, p->addr & prefix_mask(p->prefixlen) };

		prefix_str(&ok, fixed, sizeof(fixed));
		return errorf(EXIT_USAGE, "%s: '%s' has host bits set: did you mean %s?", list, s,
			      fixed);
	}
	return EXIT_OK;
}

int trust_parse(int argc, char **argv, const char *list, struct trust_args *a)
{
	int i, ret;

	memset(a, 0, sizeof(*a));
	a->desc = !strcmp(list, "sources") ? &sources_map_desc : &hops_map_desc;
	a->list = list;
	if (argc < 1)
		return errorf(EXIT_USAGE, "%s: missing add or del (%s add|del PREFIX...)", list, list);
	if (!strcmp(argv[0], "add"))
		a->add = true;
	else if (strcmp(argv[0], "del"))
		return errorf(EXIT_USAGE, "%s: unknown action '%s' (expected add or del)", list,
			      argv[0]);
	if (argc < 2)
		return errorf(EXIT_USAGE, "%s %s: missing PREFIX (A.B.C.D/LEN or A.B.C.D)", list,
			      argv[0]);
	if (argc - 1 > CLS_REDIRECT_TRUST_ENTRIES)
		return errorf(EXIT_USAGE, "%s %s: %d prefixes, a list holds at most %d", list,
			      argv[0], argc - 1, CLS_REDIRECT_TRUST_ENTRIES);
	a->prefixes = calloc((size_t)argc - 1, sizeof(*a->prefixes));
	if (!a->prefixes)
		return syserr(ENOMEM, "%s: out of memory", list);
	for (i = 1; i < argc; i++) {
		ret = parse_prefix(list, argv[i], &a->prefixes[a->n]);
		if (ret)
			return ret;
		a->n++;
	}
	return EXIT_OK;
}

static bool listed(const struct cls_redirect_prefix *list, size_t n, const struct cls_redirect_prefix *p)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i].prefixlen == p->prefixlen && list[i].addr == p->addr)
			return true;
	return false;
}

/* Every prefix of the list at fd (fd < 0: none), sorted; *out malloc'ed. */
static int read_list(int fd, const char *dir, const struct map_desc *d,
		     struct cls_redirect_prefix **out, size_t *n)
{
	struct cls_redirect_prefix key, next, *all;
	size_t cap = 16;
	bool first = true;

	*n = 0;
	*out = all = malloc(cap * sizeof(*all));
	if (!all)
		return syserr(ENOMEM, "%s/%s: out of memory", dir, d->name);
	if (fd < 0)
		return EXIT_OK;
	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		if (*n == cap) {
			cap *= 2;
			all = realloc(*out, cap * sizeof(*all));
			if (!all)
				return syserr(ENOMEM, "%s/%s: out of memory", dir, d->name);
			*out = all;
		}
		all[(*n)++] = next;
		key = next;
		first = false;
	}
	if (errno != ENOENT)
		return syserr(errno, "%s/%s: cannot read the list", dir, d->name);
	return EXIT_OK;
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct cls_redirect_prefix *x = a, *y = b;
	__u32 ax = ntohl(x->addr), ay = ntohl(y->addr);

	if (ax != ay)
		return ax < ay ? -1 : 1;
	return (int)x->prefixlen - (int)y->prefixlen;
}

int trust_read(const char *dir, const struct map_desc *d, struct trust_list *l)
{
	int fd, ret;

	memset(l, 0, sizeof(*l));
	ret = map_open(dir, d, true, true, TRUST_HINT, &fd);
	if (ret)
		return ret;
	ret = read_list(fd, dir, d, &l->prefixes, &l->n);
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	qsort(l->prefixes, l->n, sizeof(*l->prefixes), prefix_cmp);
	for (size_t i = 0; i < l->n && i < TRUST_SHOW_MAX; i++)
		prefix_str(&l->prefixes[i], l->str[i], sizeof(l->str[i]));
	return EXIT_OK;
}

void trust_free(struct trust_list *l)
{
	free(l->prefixes);
	l->prefixes = NULL;
}

/* After a delete, with the pin directory locked: a new trust_gen in the
 * config, so the classifier forgets every address it remembered as listed
 * (the man page, SECURITY).  Without a config map no classifier runs
 * configured, so nothing can have been remembered.  On failure the caller
 * lists the prefixes again. */
#define UNDONE "the prefixes are listed again; nothing changed"
static int next_generation(const char *dir, struct cls_redirect_config *cfg)
{
	if (cfg->version && cfg->version != CLS_REDIRECT_CONFIG_VERSION)
		return errorf(EXIT_SYSTEM, "%s/%s has config layout version %u, %s knows version %d "
			      "(use the cls-redirect-config of the attached classifier); " UNDONE,
			      dir, CLS_REDIRECT_CONFIG_MAP, cfg->version, prog_name,
			      CLS_REDIRECT_CONFIG_VERSION);
	cfg->trust_gen = config_next_trust_gen(cfg->trust_gen);
	return EXIT_OK;
}

static int new_generation(const char *dir, const char *list)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%s del: ", list);
	return config_edit(dir, prefix, ", whose trust_gen makes the classifier forget deleted "
			   "prefixes; " UNDONE, next_generation);
}

/* Called with the pin directory locked; fd is the list's map. */
static int apply(int fd, const char *dir, const struct trust_args *a)
{
	struct cls_redirect_trust zero = {};
	struct cls_redirect_prefix *cur = NULL;
	size_t ncur = 0, fresh = 0, i, done;
	bool *skip;
	char s[32];
	int ret;

	skip = calloc(a->n ? a->n : 1, sizeof(*skip));
	if (!skip)
		return syserr(ENOMEM, "%s: out of memory", a->list);
	ret = read_list(fd, dir, a->desc, &cur, &ncur);
	if (ret)
		goto out;
	/* Check everything first: nothing changes unless all of it can.  A
	 * prefix named twice counts once; adding a listed one changes nothing. */
	for (i = 0; i < a->n; i++) {
		bool have = listed(cur, ncur, &a->prefixes[i]);

		skip[i] = listed(a->prefixes, i, &a->prefixes[i]) || (a->add && have);
		prefix_str(&a->prefixes[i], s, sizeof(s));
		if (!a->add && !have) {
			ret = errorf(EXIT_USAGE, "%s del: %s is not listed in %s/%s; nothing changed",
				     a->list, s, dir, a->desc->name);
			goto out;
		}
		fresh += a->add && !skip[i];
	}
	if (a->add && ncur + fresh > CLS_REDIRECT_TRUST_ENTRIES) {
		ret = errorf(EXIT_USAGE,
			     "%s add: %s/%s is full: it holds at most %d prefixes, %zu are listed "
			     "and %zu would be new; nothing changed",
			     a->list, dir, a->desc->name, CLS_REDIRECT_TRUST_ENTRIES, ncur, fresh);
		goto out;
	}
	for (done = 0; done < a->n; done++) {
		if (skip[done])
			continue;
		if (a->add ? bpf_map_update_elem(fd, &a->prefixes[done], &zero, BPF_NOEXIST) :
			     bpf_map_delete_elem(fd, &a->prefixes[done]))
			break;
	}
	/* A prefix deleted is not gone for the classifier before this. */
	if (done == a->n && !a->add) {
		ret = new_generation(dir, a->list);
		for (i = 0; ret && i < done; i++)
			if (!skip[i])
				bpf_map_update_elem(fd, &a->prefixes[i], &zero, BPF_NOEXIST);
		goto out;
	}
	if (done < a->n) {
		int saved = errno;

		/* Undo what was done, so a failure changes nothing either. */
		for (i = 0; i < done; i++) {
			if (skip[i])
				continue;
			if (a->add)
				bpf_map_delete_elem(fd, &a->prefixes[i]);
			else
				bpf_map_update_elem(fd, &a->prefixes[i], &zero, BPF_NOEXIST);
		}
		prefix_str(&a->prefixes[done], s, sizeof(s));
		ret = syserr(saved, "%s/%s: cannot %s %s (nothing changed)", dir, a->desc->name,
			     a->add ? "add" : "delete", s);
	}
out:
	free(cur);
	free(skip);
	return ret;
}

int trust_write(const char *dir, const struct trust_args *a)
{
	char path[PATH_MAX];
	struct loaded_classifier lc;
	int lock_fd, fd, ret;

	ret = pin_dir_lock(dir, &lock_fd);
	if (ret)
		return ret;
	ret = map_open(dir, a->desc, false, true, TRUST_HINT, &fd);
	if (ret)
		goto unlock;
	if (fd < 0 && !a->add) {
		ret = errorf(EXIT_USAGE, "%s del: %s/%s does not exist: nothing is listed; nothing "
			     "changed", a->list, dir, a->desc->name);
	} else if (fd < 0) {
		/* As set does: make it, fill it, then publish it, unless the
		 * classifier still runs with this list unpinned. */
		snprintf(path, sizeof(path), "%s/%s", dir, a->desc->name);
		if (find_loaded_classifier(&lc)) {
			ret = classifier_unpinned(dir, path, &lc);
			goto unlock;
		}
		ret = map_create(a->desc, &fd);
		if (ret)
			goto unlock;
		ret = apply(fd, dir, a);
		if (!ret && bpf_obj_pin(fd, path)) {
			if (errno != EEXIST) {
				ret = syserr(errno, "cannot pin the list at %s", path);
			} else {
				/* tc pinned its own meanwhile: fill that one. */
				close(fd);
				ret = map_open(dir, a->desc, false, false, TRUST_HINT, &fd);
				if (!ret)
					ret = apply(fd, dir, a);
			}
		}
	} else {
		ret = apply(fd, dir, a);
	}
	if (fd >= 0)
		close(fd);
unlock:
	pin_dir_unlock(lock_fd);
	return ret;
}

void trust_warn_empty(const char *dir)
{
	static const struct {
		const struct map_desc *d;
		const char *what;
	} lists[] = {
		{ &sources_map_desc, "every GUE packet is dropped as untrusted" },
		{ &hops_map_desc, "nothing is forwarded" },
	};
	struct trust_list l;
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (trust_read(dir, lists[i].d, &l))
			continue;
		if (!l.n)
			errorf(EXIT_OK,
			       "warning: %s/%s is empty: %s (cls-redirect-config %s add PREFIX...; "
			       "0.0.0.0/0 allows every address)",
			       dir, lists[i].d->name, lists[i].what,
			       lists[i].d == &sources_map_desc ? "sources" : "hops");
		trust_free(&l);
	}
}
