/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * encapctl: steers the test director (selftests/progs/encap.bpf.c) through its
 * pinned maps.
 *
 *   encapctl DIR set vip4 A vip6 A6 saddr S port P first F [hops H...]
 *                    [next-hop K] [forward-syn]
 *   encapctl DIR off                   director passes everything
 *   encapctl DIR stats                 "ipv4 N ipv6 N errors N"
 *   encapctl DIR reset-stats
 *
 * DIR is the directory holding the pins (…/tc/globals).  "set" writes the
 * whole configuration in one map update, so the director switches from one
 * forwarding-table row to the next between two packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "encap.h"

static int open_map(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "encapctl: %s: %s (is selftests/progs/encap.bpf.o attached?)\n", path,
			strerror(errno));
		exit(2);
	}
	return fd;
}

static __be32 addr4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "encapctl: '%s' is not an IPv4 address\n", s);
		exit(1);
	}
	return a.s_addr;
}

static int usage(void)
{
	fprintf(stderr, "usage: encapctl DIR set vip4 A vip6 A6 saddr S port P first F [hops H...]\n"
			"                        [next-hop K] [forward-syn] [last-hop-gre]\n"
			"       encapctl DIR off | stats | reset-stats\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct encap_config cfg;
	__u32 key = 0;
	int fd;

	if (argc < 3)
		return usage();
	memset(&cfg, 0, sizeof(cfg));

	if (!strcmp(argv[2], "stats") || !strcmp(argv[2], "reset-stats")) {
		int reset = !strcmp(argv[2], "reset-stats");
		__u64 v[ENCAP_STAT_COUNT] = {};

		fd = open_map(argv[1], ENCAP_STATS_MAP);
		for (key = 0; key < ENCAP_STAT_COUNT; key++) {
			if (reset ? bpf_map_update_elem(fd, &key, &v[key], 0)
				  : bpf_map_lookup_elem(fd, &key, &v[key])) {
				fprintf(stderr, "encapctl: %s: %s\n", ENCAP_STATS_MAP, strerror(errno));
				return 2;
			}
		}
		if (!reset)
			printf("ipv4 %llu ipv6 %llu errors %llu\n", (unsigned long long)v[ENCAP_STAT_IPV4],
			       (unsigned long long)v[ENCAP_STAT_IPV6],
			       (unsigned long long)v[ENCAP_STAT_ERRORS]);
		return 0;
	}

	if (!strcmp(argv[2], "set")) {
		for (int i = 3; i < argc; i++) {
			const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

			if (!strcmp(k, "forward-syn")) {
				cfg.priv_flags |= PRIV_F_FORWARD_SYN;
				continue;
			}
			if (!strcmp(k, "last-hop-gre")) {
				cfg.priv_flags |= PRIV_F_LAST_HOP_GRE;
				continue;
			}
			if (!v)
				return usage();
			i++;
			if (!strcmp(k, "vip4")) {
				cfg.vip4 = addr4(v);
			} else if (!strcmp(k, "vip6")) {
				if (inet_pton(AF_INET6, v, cfg.vip6) != 1) {
					fprintf(stderr, "encapctl: '%s' is not an IPv6 address\n", v);
					return 1;
				}
			} else if (!strcmp(k, "saddr")) {
				cfg.saddr = addr4(v);
			} else if (!strcmp(k, "port")) {
				cfg.port = htons(atoi(v));
			} else if (!strcmp(k, "first")) {
				cfg.first = addr4(v);
			} else if (!strcmp(k, "next-hop")) {
				cfg.next_hop = atoi(v);
			} else if (!strcmp(k, "hops")) {
				for (i--; i + 1 < argc && strchr(argv[i + 1], '.'); i++) {
					if (cfg.hop_count == GUE_MAX_HOPS) {
						fprintf(stderr, "encapctl: more than %d hops\n", GUE_MAX_HOPS);
						return 1;
					}
					cfg.hops[cfg.hop_count++] = addr4(argv[i + 1]);
				}
			} else {
				return usage();
			}
		}
	} else if (strcmp(argv[2], "off")) {
		return usage();
	}

	fd = open_map(argv[1], ENCAP_CONFIG_MAP);
	if (bpf_map_update_elem(fd, &key, &cfg, 0)) {
		fprintf(stderr, "encapctl: %s: %s\n", ENCAP_CONFIG_MAP, strerror(errno));
		return 2;
	}
	return 0;
}
