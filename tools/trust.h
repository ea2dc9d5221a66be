/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The trust lists of cls-redirect-config (tools/trust.c; man page: SECURITY). */
#ifndef CLS_REDIRECT_TOOLS_TRUST_H
#define CLS_REDIRECT_TOOLS_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/* sources|hops add|del PREFIX... */
struct trust_args {
	const char *list; /* "sources" or "hops" */
	const struct map_desc *desc;
	bool add;
	struct cls_redirect_prefix *prefixes;
	size_t n;
};

/* argv = add|del PREFIX...; every prefix is checked (exit 1 on the first bad
 * one, with the corrected prefix when only host bits are wrong). */
int trust_parse(int argc, char **argv, const char *list, struct trust_args *a);

/* Apply under the pin directory lock: all or nothing.  add creates and pins
 * the map when it does not exist yet. */
int trust_write(const char *dir, const struct trust_args *a);

/* A list as show prints it: sorted by address, then length. */
#define TRUST_SHOW_MAX CLS_REDIRECT_TRUST_ENTRIES
struct trust_list {
	struct cls_redirect_prefix *prefixes;
	size_t n;
	char str[TRUST_SHOW_MAX][20]; /* "255.255.255.255/32" */
};

/* Read the list pinned in dir (missing = empty). */
int trust_read(const char *dir, const struct map_desc *d, struct trust_list *l);
void trust_free(struct trust_list *l);

/* "warning: ... is empty" on stderr for each empty list (after set). */
void trust_warn_empty(const char *dir);

#endif /* CLS_REDIRECT_TOOLS_TRUST_H */
