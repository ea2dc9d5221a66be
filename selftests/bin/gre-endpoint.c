/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * gre-endpoint: the receiving end of a plain GRE tunnel (RFC 2784, no
 * checksum, key or sequence number: what the classifier sends to a final hop
 * with last_hop_gre; tc-cls-redirect.8, DECISION TABLE), in user space, for
 * kernels built without GRE (no ip_gre: `ip link add ... type gre` is an
 * unknown device type).  No dependency but libc.
 *
 *   gre-endpoint TUN LOCAL REMOTE STATS
 *
 * Creates the tun device TUN, then reads every GRE packet delivered to this
 * namespace (a raw IPPROTO_GRE socket) and checks its bytes: outer IPv4
 * header valid (version, IHL 5, header checksum, total length = what
 * arrived, not a fragment), from REMOTE to LOCAL, a GRE header of exactly 4
 * bytes (flags and version 0) with protocol 0x0800 or 0x86DD, and an inner
 * IPv4 or IPv6 packet of that version whose length fields fill the rest.  A
 * packet that passes is decapsulated: its inner packet is written to TUN, so
 * the stack receives it there as from a kernel GRE device.  One that does not
 * is counted as bad, with the reason, and dropped.
 *
 * After each packet STATS holds one line, replaced whole (rename):
 *   gre4 N gre6 N bad N[ last_bad WHY]
 * Forks into the background once TUN exists and the socket is open, and
 * prints its pid.  Exits when killed (TUN goes with it).  Errors before that
 * print "err WHY" and exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define GRE_HLEN 4

static unsigned long n_gre4, n_gre6, n_bad;
static char last_bad[160];

static uint16_t csum16(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)(b[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* NULL if pkt (len bytes, from the outer IPv4 header on) is a plain GRE
 * packet from remote to local carrying one whole IPv4 or IPv6 packet; else
 * why not.  *inner, *inner_len, *v6: the inner packet. */
static const char *check(const uint8_t *pkt, size_t len, struct in_addr local, struct in_addr remote,
			 const uint8_t **inner, size_t *inner_len, int *v6)
{
	static char why[128];
	const struct iphdr *ip = (const struct iphdr *)pkt;
	const uint8_t *gre, *in;
	size_t n, want;
	uint16_t proto;

	if (len < sizeof(*ip))
		return "shorter than an IPv4 header";
	if (ip->version != 4 || ip->ihl != 5)
		return "outer IPv4 version not 4 or IHL not 5";
	if (csum16(ip, sizeof(*ip)) != 0)
		return "outer IPv4 header checksum wrong";
	if (ntohs(ip->tot_len) != len) {
		snprintf(why, sizeof(why), "outer total length %u, %zu bytes arrived", ntohs(ip->tot_len), len);
		return why;
	}
	if (ntohs(ip->frag_off) & (IP_MF | IP_OFFMASK))
		return "outer fragment";
	if (ip->protocol != IPPROTO_GRE)
		return "outer protocol not GRE (47)";
	if (ip->saddr != remote.s_addr || ip->daddr != local.s_addr) {
		snprintf(why, sizeof(why), "from %s", inet_ntoa(*(const struct in_addr *)&ip->saddr));
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " to %s, not from the remote to the local address",
			 inet_ntoa(*(const struct in_addr *)&ip->daddr));
		return why;
	}
	gre = pkt + sizeof(*ip);
	n = len - sizeof(*ip);
	if (n < GRE_HLEN)
		return "shorter than a GRE header";
	if (gre[0] || gre[1]) {
		snprintf(why, sizeof(why), "GRE flags and version 0x%02x%02x, not 0 (no checksum, key, sequence)", gre[0],
			 gre[1]);
		return why;
	}
	proto = (uint16_t)(gre[2] << 8 | gre[3]);
	in = gre + GRE_HLEN;
	n -= GRE_HLEN;
	if (proto == 0x0800) {
		if (n < sizeof(struct iphdr) || in[0] >> 4 != 4)
			return "GRE protocol 0x0800 but no IPv4 packet inside";
		want = (size_t)(in[2] << 8 | in[3]);
		*v6 = 0;
	} else if (proto == 0x86dd) {
		if (n < sizeof(struct ip6_hdr) || in[0] >> 4 != 6)
			return "GRE protocol 0x86DD but no IPv6 packet inside";
		want = sizeof(struct ip6_hdr) + (size_t)(in[4] << 8 | in[5]);
		*v6 = 1;
	} else {
		snprintf(why, sizeof(why), "GRE protocol 0x%04x, neither IPv4 nor IPv6", proto);
		return why;
	}
	if (want != n) {
		snprintf(why, sizeof(why), "inner packet says %zu bytes, %zu follow the GRE header", want, n);
		return why;
	}
	*inner = in;
	*inner_len = n;
	return NULL;
}

static void write_stats(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "gre4 %lu gre6 %lu bad %lu%s%s\n", n_gre4, n_gre6, n_bad, n_bad ? " last_bad " : "",
		n_bad ? last_bad : "");
	if (fclose(f) == 0)
		rename(tmp, path);
}

int main(int argc, char **argv)
{
	static uint8_t buf[65536];
	struct in_addr local, remote;
	struct ifreq ifr;
	int tun, raw, null, rcvbuf = 32 << 20;
	pid_t pid;

	if (argc != 5) {
		printf("err usage: gre-endpoint TUN LOCAL REMOTE STATS\n");
		return 1;
	}
	if (inet_pton(AF_INET, argv[2], &local) != 1 || inet_pton(AF_INET, argv[3], &remote) != 1) {
		printf("err LOCAL '%s' and REMOTE '%s' must be IPv4 addresses\n", argv[2], argv[3]);
		return 1;
	}
	if (strlen(argv[1]) >= IFNAMSIZ) {
		printf("err TUN '%s': longer than %d characters\n", argv[1], IFNAMSIZ - 1);
		return 1;
	}
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun < 0) {
		printf("err /dev/net/tun: %s\n", strerror(errno));
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, argv[1]);
	if (ioctl(tun, TUNSETIFF, &ifr)) {
		printf("err TUNSETIFF %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_GRE);
	if (raw < 0) {
		printf("err raw IPPROTO_GRE socket: %s\n", strerror(errno));
		return 1;
	}
	/* Room for a TCP window's worth of packets: a packet the socket has no
	 * room for is lost before it is seen, and the counts would fall short. */
	if (setsockopt(raw, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf))) {
		printf("err SO_RCVBUFFORCE %d: %s\n", rcvbuf, strerror(errno));
		return 1;
	}
	write_stats(argv[4]);

	pid = fork();
	if (pid < 0) {
		printf("err fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid > 0) {
		printf("%d\n", (int)pid);
		return 0;
	}
	setsid();
	null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);

	for (;;) {
		const uint8_t *inner = NULL;
		const char *why;
		size_t inner_len = 0;
		ssize_t n = recv(raw, buf, sizeof(buf), 0);
		int v6 = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		why = check(buf, (size_t)n, local, remote, &inner, &inner_len, &v6);
		if (!why && write(tun, inner, inner_len) != (ssize_t)inner_len)
			why = "writing the inner packet to the tun device failed";
		if (why) {
			n_bad++;
			snprintf(last_bad, sizeof(last_bad), "%s", why);
		} else if (v6) {
			n_gre6++;
		} else {
			n_gre4++;
		}
		write_stats(argv[4]);
	}
}
