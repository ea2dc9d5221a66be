/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What cls-redirect-config and cls-redirect-stat share: exit status, error
 * reporting, strict number parsing, finding and checking the pin directory,
 * opening and validating the pinned maps, the pin-directory lock, and a small
 * JSON writer.
 *
 * Every function that can fail prints one line to stderr naming the file or
 * value at fault and returns the exit status the tool should end with, so a
 * caller can simply "return" it.
 */
#ifndef CLS_REDIRECT_TOOLS_COMMON_H
#define CLS_REDIRECT_TOOLS_COMMON_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/bpf.h>

#include "cls_redirect.h"

/* Exit status (cls-redirect-config.8, cls-redirect-stat.8: EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,  /* bad command line or bad value */
	EXIT_SYSTEM = 2, /* environment, pinned map, bpf() */
	EXIT_ATTENTION = 3, /* cls-redirect-config status: needs attention */
};

/* Set by each tool's main() before anything else; prefixes every message. */
extern const char *prog_name;

/* Print "prog: <message>" to stderr and return status. */
int errorf(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: <message>: <strerror(err)>" plus a hint for common errnos. */
int syserr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decimal digits only (no sign, blanks, base prefix or trailing junk), within
 * [min, max].  "what" names the value in the error ("port", "-w"). */
int parse_ulong(const char *what, const char *s, unsigned long min, unsigned long max,
		unsigned long *out);

void print_version(void);

/* The end of every tool's main(): flush and close stdout, and turn a failed
 * write (a full disk, a closed pipe, /dev/full) into exit status 2 with one
 * line on stderr, never a silent 0.  Returns the status to exit with. */
int output_close(int status);
/* Flush stdout now (a long-running -w); false when a write failed. */
bool output_flush(void);
/* The start of every tool's main(): stdout fully buffered in a buffer
 * larger than anything a command prints, so a failed write shows in
 * output_flush() with its errno, not in a flush inside printf(). */
void output_init(void);

/* Options every tool takes; each tool's getopt table starts with these. */
#define COMMON_SHORT_OPTS "d:hVjp"
#define COMMON_LONG_OPTS                                                                           \
	{ "pin-dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },           \
		{ "version", no_argument, NULL, 'V' }, { "json", no_argument, NULL, 'j' },         \
		{ "pretty", no_argument, NULL, 'p' }

struct common_opts {
	const char *pin_dir; /* -d, or NULL */
	bool json;
	bool pretty;
};

/* Handle one option of COMMON_SHORT_OPTS.  Returns -1 if c was consumed and
 * parsing goes on, EXIT_OK after -h/-V (printed), EXIT_USAGE for anything
 * unknown (getopt has printed why). */
int common_opt(int c, const char *arg, struct common_opts *o, void (*usage)(FILE *));

/* getopt_long (shortopts starting with "+:") that takes a long option only
 * by its whole name, never an abbreviation ("--res" is not --reset).  On a
 * bad option it prints one line naming it, the word in a cluster ("-x" of
 * "-xj") or the long option, and returns '?'; the tool then exits 1. */
int next_option(int argc, char *const argv[], const char *shortopts,
		const struct option *longopts);

/* A permission error on path, with its real cause, returns 2: EACCES names
 * the component (ancestor directory or the pin) whose file mode stops this
 * uid, with owner, group and mode; EPERM without CAP_BPF / CAP_SYS_ADMIN
 * names the missing capability.  "what" starts the line ("map"). */
int access_error(int err, const char *path, bool write, const char *what);

/*
 * The pin directory: -d DIR, else ${TC_BPF_MNT:-/sys/fs/bpf}/tc/globals.
 * With create (cls-redirect-config set only) and no -d, make tc/globals when
 * the bpffs root is mounted; otherwise the directory must exist on a bpffs,
 * and "hint" says what to do when it does not.
 */
int pin_dir_resolve(const struct common_opts *o, bool create, const char *hint, char *dir,
		    size_t size);

/* flock(LOCK_EX) on the pin directory around every write; the lock is
 * released when the process exits or pin_dir_unlock() closes the fd. */
int pin_dir_lock(const char *dir, int *lock_fd);
void pin_dir_unlock(int lock_fd);

/* What a pinned map must look like for this build of the tools. */
struct map_desc {
	const char *name; /* pin name under the pin directory */
	enum bpf_map_type type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 map_flags;
};

/* The pinned maps (tools/common.c). */
extern const struct map_desc config_map_desc, metrics_map_desc;
extern const struct map_desc sources_map_desc, hops_map_desc, services_map_desc;

/* The classifier's own test (man page: DECISION TABLE, check 1): an
 * address set in a layout this build knows. */
bool config_is_configured(const struct cls_redirect_config *cfg);
__u32 config_next_trust_gen(__u32 gen);
int config_edit(const char *dir, const char *prefix, const char *why,
		int (*change)(const char *dir, struct cls_redirect_config *cfg));

/* The config value must be of a layout this build knows before it is shown
 * or overwritten: version 0 (never written, or cleared) or ours, no unknown
 * flags, reserved bytes zero.  EXIT_OK, or EXIT_SYSTEM with the reason. */
int config_check_value(const char *dir, const struct cls_redirect_config *cfg);
/* Reads the config map's value at fd and checks it (config_check_value). */
int config_read(int fd, const char *dir, struct cls_redirect_config *cfg);

/* Open <dir>/<desc->name> (read-only with BPF_F_RDONLY when rdonly) and
 * check it against desc.  *fd = -1 and status 0 when missing_ok and the pin
 * does not exist.  A missing pin otherwise fails with "hint" appended. */
int map_open(const char *dir, const struct map_desc *desc, bool rdonly, bool missing_ok,
	     const char *hint, int *fd);

/* A bpf filter on a clsact hook of an interface of this network namespace,
 * as tc filter show prints it, or (xdp set) the XDP program attached to the
 * interface, as ip link shows it (pref, handle, name and tag then empty). */
struct tc_filter {
	int ifindex;
	char dev[16]; /* IF_NAMESIZE */
	bool egress;
	const char *xdp; /* NULL for tc; else "xdp", "xdpgeneric", "xdpoffload" */
	__u32 pref;
	__u32 handle;
	__u32 prog_id;
	__u8 tag[8];
	char name[128]; /* TCA_BPF_NAME: "cls_redirect.o:[classifier]" */
	bool direct_action;
};

/* Every bpf filter on the ingress and egress hooks of every interface of the
 * current network namespace (rtnetlink dumps: the same view as tc), then
 * every XDP program attached to one (IFLA_XDP; with libxdp's multi-program
 * dispatcher that is the dispatcher, not ours).  *list is malloc'ed;
 * returns 0 or a negative errno. */
int tc_bpf_filters(struct tc_filter **list, size_t *n);

/* Whether the filter's program uses map id (bpf_prog_info.map_ids).
 * Without CAP_SYS_ADMIN a program cannot be read by id: then a filter whose
 * tc name is that of one of our objects ("cls_redirect*.o:[...]") counts
 * (man page: PERMISSIONS). */
bool filter_uses_map(const struct tc_filter *f, __u32 map_id);

/* The id of an open map, 0 if it cannot be read. */
__u32 map_id_of(int fd);

/* A classifier attached in this network namespace (a sched_cls program
 * named cls_redirect, or unnamed as tc's legacy loader leaves it, using a
 * config and a metrics map of our shapes) whose maps are not both pinned in
 * a bpffs this mount namespace sees: one whose pins were removed.  Only
 * such a program can be the one a missing pin belonged to: a classifier of
 * another deployment (another netns, or maps pinned elsewhere) is none of
 * this pin directory's business (man page: EXIT STATUS). */
struct loaded_classifier {
	__u32 prog_id;
	__u32 config_id;
	__u32 metrics_id;
	char dev[16];
};

bool find_loaded_classifier(struct loaded_classifier *lc);

/* "<path> not found, but cls_redirect program id N is attached on DEV with
 * maps X, Y: ..." with the bpftool commands that pin them back in dir;
 * returns 2. */
int classifier_unpinned(const char *dir, const char *path, const struct loaded_classifier *lc);

/* Create an unpinned map as described (flags 0, no BTF: tc's loaders reuse
 * a pinned map when type, sizes, entries and flags match). */
int map_create(const struct map_desc *desc, int *fd);

/* A minimal JSON writer: one top-level object, nested objects and arrays
 * (key NULL inside an array), 4-space indentation when pretty. */
#define JSON_MAX_DEPTH 8
struct json {
	FILE *f;
	bool pretty;
	int depth;
	int members[JSON_MAX_DEPTH];
	bool array[JSON_MAX_DEPTH]; /* the level is an array, not an object */
};

void json_begin(struct json *j, FILE *f, bool pretty);
void json_u64(struct json *j, const char *key, unsigned long long v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
void json_str(struct json *j, const char *key, const char *v);
void json_obj(struct json *j, const char *key); /* opens {, closed by json_close */
void json_arr(struct json *j, const char *key); /* opens [, closed by json_close */
void json_close(struct json *j);
void json_end(struct json *j); /* closes the top-level object, newline */

#endif /* CLS_REDIRECT_TOOLS_COMMON_H */
