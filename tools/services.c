// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cls-redirect-config services add|del, and the services part of show: the
 * cls_redirect_services map (tc-cls-redirect.8, MAPS and CONTAINERS;
 * cls-redirect-config.8, services).
 *
 * The operator names the host-side veth; the entry needs its ifindex and the
 * netnsid of the namespace its peer lives in, as this namespace sees it.
 * Both come from one RTM_GETLINK: ifi_index, and IFLA_LINK_NETNSID, which
 * the kernel reports for a link whose other end is in another namespace.
 * A namespace that has no netnsid here yet gets one then: the kernel
 * allocates it while filling in the reply (rtnl_fill_link_netnsid calls
 * peernet2id_alloc), the same id `ip netns set` would make with
 * RTM_NEWNSID.  No attribute at all means the peer is in this namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>

#include "common.h"
#include "services.h"

#define SERVICES_HINT "add one with cls-redirect-config services add ADDR PORT tcp|udp dev IFNAME"

/* ---- the key: ADDR PORT tcp|udp ---- */

static int parse_key(int argc, char **argv, struct cls_redirect_service_key *k)
{
	unsigned long port;
	int ret;

	memset(k, 0, sizeof(*k));
	if (argc < 3)
		return errorf(EXIT_USAGE, "services: expected ADDR PORT tcp|udp (see %s --help)", prog_name);
	if (inet_pton(AF_INET, argv[0], k->addr) == 1)
		k->family = CLS_REDIRECT_SERVICE_V4;
	else if (inet_pton(AF_INET6, argv[0], k->addr) == 1)
		k->family = CLS_REDIRECT_SERVICE_V6;
	else
		return errorf(EXIT_USAGE,
			      "services: address '%s' is neither IPv4 nor IPv6 (as 10.99.0.1 or fd00:99::1)",
			      argv[0]);
	ret = parse_ulong("port", argv[1], 0, 65535, &port);
	if (ret)
		return ret;
	k->port = htons((__u16)port);
	if (!strcmp(argv[2], "tcp"))
		k->proto = IPPROTO_TCP;
	else if (!strcmp(argv[2], "udp"))
		k->proto = IPPROTO_UDP;
	else
		return errorf(EXIT_USAGE, "services: protocol '%s': expected tcp or udp", argv[2]);
	return EXIT_OK;
}

/* "10.99.0.1 8080 tcp" */
static void key_text(const struct cls_redirect_service_key *k, char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(k->family == CLS_REDIRECT_SERVICE_V6 ? AF_INET6 : AF_INET, k->addr, a, sizeof(a));
	snprintf(out, size, "%s %u %s", a, ntohs(k->port),
		 k->proto == IPPROTO_TCP ? "tcp" : k->proto == IPPROTO_UDP ? "udp" : "?");
}

/* ---- the value: the veth, from rtnetlink ---- */

struct veth_info {
	int ifindex;
	bool is_veth;
	bool has_netnsid;
	__s32 netnsid;
};

static void parse_linkinfo(struct rtattr *info, int len, struct veth_info *v)
{
	struct rtattr *a;

	for (a = RTA_DATA(info); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND)
			v->is_veth = RTA_PAYLOAD(a) >= 5 && !strncmp(RTA_DATA(a), "veth", 5);
}

/* 0, or -errno (-ENODEV: no such interface). */
static int get_link(const char *ifname, struct veth_info *v)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req = {};
	char buf[16384];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct rtattr *a;
	struct nlmsghdr *h;
	ssize_t n;
	int fd, len, err = -EIO;

	memset(v, 0, sizeof(*v));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))));
	a->rta_type = IFLA_IFNAME;
	a->rta_len = RTA_LENGTH(strlen(ifname) + 1);
	memcpy(RTA_DATA(a), ifname, strlen(ifname) + 1);
	req.nh.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))) + RTA_ALIGN(a->rta_len);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct ifinfomsg *ifi;

		if (h->nlmsg_type == NLMSG_ERROR) {
			err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			goto out;
		}
		if (h->nlmsg_type != RTM_NEWLINK)
			continue;
		ifi = NLMSG_DATA(h);
		v->ifindex = ifi->ifi_index;
		len = IFLA_PAYLOAD(h);
		for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			if (a->rta_type == IFLA_LINKINFO)
				parse_linkinfo(a, RTA_PAYLOAD(a), v);
			else if (a->rta_type == IFLA_LINK_NETNSID && RTA_PAYLOAD(a) >= 4) {
				memcpy(&v->netnsid, RTA_DATA(a), 4);
				v->has_netnsid = true;
			}
		}
		err = 0;
		break;
	}
out:
	close(fd);
	return err;
}

static int find_veth(const char *ifname, struct cls_redirect_service *val)
{
	struct veth_info v;
	int err;

	if (strlen(ifname) >= IF_NAMESIZE)
		return errorf(EXIT_USAGE, "services: interface name '%s' is longer than %d characters", ifname,
			      IF_NAMESIZE - 1);
	err = get_link(ifname, &v);
	if (err == -ENODEV)
		return errorf(EXIT_USAGE, "services: no interface '%s' in this network namespace (ip link show)",
			      ifname);
	if (err)
		return syserr(-err, "services: cannot ask the kernel about interface '%s' (RTM_GETLINK)", ifname);
	if (!v.is_veth)
		return errorf(EXIT_USAGE,
			      "services: '%s' is not a veth: name the host-side end of the veth pair whose "
			      "other end is in the service's namespace",
			      ifname);
	if (!v.has_netnsid)
		return errorf(EXIT_USAGE,
			      "services: the peer of '%s' is in this network namespace, not in a service's "
			      "(ip link set PEER netns NS moves it)",
			      ifname);
	if (v.netnsid < 0)
		return errorf(EXIT_SYSTEM,
			      "services: the kernel reports no netnsid for the peer of '%s'; give its namespace "
			      "one (ip netns set NAME auto) and try again",
			      ifname);
	val->ifindex = (__u32)v.ifindex;
	val->netnsid = (__u32)v.netnsid;
	return EXIT_OK;
}

static void value_text(const struct cls_redirect_service *v, char *out, size_t size)
{
	char dev[IF_NAMESIZE];

	snprintf(out, size, "dev %s ifindex %u netnsid %u",
		 if_indextoname(v->ifindex, dev) ? dev : "(gone)", v->ifindex, v->netnsid);
}

/* ---- the map ---- */

/* Opens the services map for writing; creates and pins it when it is not
 * pinned and create is set (tc then reuses it, as the config map).  *fd is
 * -1 with status 0 when it is missing and create is not set. */
static int open_map(const char *dir, bool create, int *fd)
{
	char path[PATH_MAX];
	int ret;

	ret = map_open(dir, &services_map_desc, false, true, SERVICES_HINT, fd);
	if (ret || *fd >= 0 || !create)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", dir, CLS_REDIRECT_SERVICES_MAP);
	ret = map_create(&services_map_desc, fd);
	if (ret)
		return ret;
	if (bpf_obj_pin(*fd, path) == 0)
		return EXIT_OK;
	close(*fd);
	*fd = -1;
	if (errno != EEXIST)
		return syserr(errno, "cannot pin the services map at %s", path);
	/* tc pinned its own in the meantime. */
	return map_open(dir, &services_map_desc, false, false, SERVICES_HINT, fd);
}

/* The words after add / del: the key, and for add the veth, asked of the
 * kernel.  Everything an operator typed is checked here, before the pin
 * directory or a map is touched (bad input changes nothing). */
static int parse_args(bool add, int argc, char **argv, struct cls_redirect_service_key *k,
		      struct cls_redirect_service *v)
{
	int ret;

	ret = parse_key(argc, argv, k);
	if (ret)
		return ret;
	if (!add)
		return argc == 3 ? EXIT_OK :
				   errorf(EXIT_USAGE,
					  "services del: expected ADDR PORT tcp|udp, then nothing ('%s')",
					  argv[3]);
	if (argc != 5 || strcmp(argv[3], "dev"))
		return errorf(EXIT_USAGE, "services add: expected ADDR PORT tcp|udp dev IFNAME");
	return find_veth(argv[4], v);
}

static int cmd_add(const char *dir, int argc, char **argv)
{
	struct cls_redirect_service_key k;
	struct cls_redirect_service v = {}, old;
	char kt[96], vt[96], ot[96];
	bool replaced;
	int fd, ret;

	ret = parse_args(true, argc, argv, &k, &v);
	if (ret)
		return ret;
	ret = open_map(dir, true, &fd);
	if (ret)
		return ret;
	replaced = !bpf_map_lookup_elem(fd, &k, &old);
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
		ret = errno == E2BIG ? errorf(EXIT_SYSTEM, "services: the map is full (%u entries): delete some first",
					      CLS_REDIRECT_SERVICES_MAX)
				     : syserr(errno, "cannot write %s/%s", dir, CLS_REDIRECT_SERVICES_MAP);
		close(fd);
		return ret;
	}
	close(fd);
	key_text(&k, kt, sizeof(kt));
	value_text(&v, vt, sizeof(vt));
	if (replaced) {
		value_text(&old, ot, sizeof(ot));
		printf("service %s: %s (replaced %s)\n", kt, vt, ot);
	} else {
		printf("service %s: %s (added)\n", kt, vt);
	}
	return EXIT_OK;
}

static int cmd_del(const char *dir, int argc, char **argv)
{
	struct cls_redirect_service_key k;
	char kt[96];
	int fd, ret;

	ret = parse_args(false, argc, argv, &k, NULL);
	if (ret)
		return ret;
	key_text(&k, kt, sizeof(kt));
	ret = open_map(dir, false, &fd);
	if (ret)
		return ret;
	if (fd < 0)
		return errorf(EXIT_USAGE, "services del: %s is not listed (no services map in %s)", kt, dir);
	if (bpf_map_delete_elem(fd, &k)) {
		ret = errno == ENOENT ? errorf(EXIT_USAGE, "services del: %s is not listed (cls-redirect-config show)", kt)
				      : syserr(errno, "cannot delete from %s/%s", dir, CLS_REDIRECT_SERVICES_MAP);
		close(fd);
		return ret;
	}
	close(fd);
	printf("service %s: deleted\n", kt);
	return EXIT_OK;
}

int services_flag(const char *dir, struct cls_redirect_config *cfg)
{
	struct cls_redirect_service_key k, next, *prev = NULL;
	__u16 bits = 0;
	int fd, ret;

	ret = map_open(dir, &services_map_desc, true, true, SERVICES_HINT, &fd);
	if (ret)
		return ret;
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		bits |= next.port ? CLS_REDIRECT_F_SERVICES : CLS_REDIRECT_F_SERVICES_ANY_PORT;
		k = next;
		prev = &k;
	}
	if (fd >= 0)
		close(fd);
	cfg->flags = (cfg->flags & ~(CLS_REDIRECT_F_SERVICES | CLS_REDIRECT_F_SERVICES_ANY_PORT)) | bits;
	return EXIT_OK;
}

/* After add or del: the configuration's services flag follows the map, so
 * the classifier looks services up exactly when some are listed.  Nothing
 * to do while unconfigured (set sets it). */
static int flag_follows_map(const char *dir, struct cls_redirect_config *cfg)
{
	return config_is_configured(cfg) ? services_flag(dir, cfg) : EXIT_OK;
}

static int update_flag(const char *dir)
{
	return config_edit(dir, "", ": the classifier may not look services up; run "
			   "cls-redirect-config set with any field to retry", flag_follows_map);
}

int services_parse(int argc, char **argv)
{
	struct cls_redirect_service_key k;
	struct cls_redirect_service v = {};

	if (argc < 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		return errorf(EXIT_USAGE, "services: expected add or del (see %s --help)", prog_name);
	return parse_args(!strcmp(argv[0], "add"), argc - 1, argv + 1, &k, &v);
}

int services_run(const char *dir, int argc, char **argv)
{
	struct cls_redirect_config cfg;
	int lock_fd, cfg_fd, ret;

	ret = pin_dir_lock(dir, &lock_fd);
	if (ret)
		return ret;
	/* update_flag rewrites the config: a map or a value it would refuse
	 * is refused before the services map changes. */
	ret = map_open(dir, &config_map_desc, true, true, "", &cfg_fd);
	if (ret)
		goto out;
	if (cfg_fd >= 0) {
		ret = config_read(cfg_fd, dir, &cfg);
		close(cfg_fd);
		if (ret)
			goto out;
	}
	if (!strcmp(argv[0], "add"))
		ret = cmd_add(dir, argc - 1, argv + 1);
	else
		ret = cmd_del(dir, argc - 1, argv + 1);
	if (!ret)
		ret = update_flag(dir);
out:
	pin_dir_unlock(lock_fd);
	return ret;
}

/* ---- show ---- */

int services_show(const char *dir, struct json *j)
{
	struct cls_redirect_service_key k, next, *prev = NULL;
	struct cls_redirect_service v;
	int fd, ret;

	ret = map_open(dir, &services_map_desc, true, true, SERVICES_HINT, &fd);
	if (ret)
		return ret;
	/* Nothing at all when none is listed: show prints what it always did. */
	if (fd < 0 || bpf_map_get_next_key(fd, NULL, &next)) {
		if (fd >= 0)
			close(fd);
		return EXIT_OK;
	}
	if (j)
		json_arr(j, "services");
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
		char a[INET6_ADDRSTRLEN] = "?", dev[IF_NAMESIZE];
		bool have_dev;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue; /* deleted meanwhile */
		inet_ntop(k.family == CLS_REDIRECT_SERVICE_V6 ? AF_INET6 : AF_INET, k.addr, a, sizeof(a));
		have_dev = if_indextoname(v.ifindex, dev) != NULL;
		if (j) {
			json_obj(j, NULL);
			json_str(j, "addr", a);
			json_u64(j, "port", ntohs(k.port));
			json_str(j, "proto", k.proto == IPPROTO_TCP ? "tcp" : k.proto == IPPROTO_UDP ? "udp" : "?");
			if (have_dev)
				json_str(j, "dev", dev);
			else
				json_null(j, "dev");
			json_u64(j, "ifindex", v.ifindex);
			json_u64(j, "netnsid", v.netnsid);
			json_close(j);
		} else {
			char kt[96], vt[96];

			key_text(&k, kt, sizeof(kt));
			value_text(&v, vt, sizeof(vt));
			printf("service %s %s\n", kt, vt);
		}
	}
	if (j)
		json_close(j);
	if (fd >= 0)
		close(fd);
	return EXIT_OK;
}
