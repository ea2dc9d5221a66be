/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * e2e-peer: the client and server ends of the end-to-end tests
 * (selftests/test_e2e.sh).  No dependency but libc.
 *
 *   e2e-peer tcp-server NAME 4|6 PORT    echo server; greets with its NAME
 *   e2e-peer udp-server NAME 4|6 PORT    echo server; answers each peer from
 *                                        a socket connected to it
 *   e2e-peer tcp-client 4|6 ADDR PORT    connects, then runs commands read
 *   e2e-peer udp-client 4|6 ADDR PORT    from stdin, one reply line each
 *   e2e-peer tcp-rst 4|6 ADDR PORT       sends a bare ACK of no connection,
 *                                        waits for the RST
 *   e2e-peer ping 4|6 ADDR COUNT         ICMP / ICMPv6 echo, one at a time
 *   e2e-peer udp-send 4|6 ADDR PORT HEX  sends one datagram
 *   e2e-peer udp-recv 4|6 PORT HEX       waits for that datagram (3 s)
 *
 * The servers fork into the background once they listen and print their pid,
 * so the test knows they are ready when the command returns.
 *
 * Client commands (stdin) and replies (stdout):
 *   x BYTES [CHUNK MS]  TCP: send BYTES of a pattern while reading the echo
 *                       back and checking it; with CHUNK and MS, pause MS
 *                       milliseconds after every CHUNK bytes (a transfer
 *                       that lasts).  UDP: BYTES datagrams of 1000 bytes, one
 *                       at a time, each echoed by the server.
 *                       -> "ok server NAME"
 *   ptb MTU             TCP, idle connection: send an ICMP fragmentation
 *                       needed (IPv4) / packet too big (IPv6) to the server,
 *                       quoting the server's next segment to us, as a router
 *                       between the two would.  -> "ok seq N"
 *   quit                close and exit 0
 * Any failure prints "err WHY" and exits 1, so the test never waits forever.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELLO_LEN 16
#define IO_TIMEOUT_MS 5000

static const char *prog_mode = "e2e-peer";

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	printf("err %s: ", prog_mode);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

struct addr {
	int family;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	};
	socklen_t len;
};

static int parse_family(const char *s)
{
	if (!strcmp(s, "4"))
		return AF_INET;
	if (!strcmp(s, "6"))
		return AF_INET6;
	die("family must be 4 or 6, not '%s'", s);
	return 0;
}

static struct addr make_addr(int family, const char *host, int port)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	if (family == AF_INET) {
		a.in.sin_family = AF_INET;
		a.in.sin_port = htons(port);
		if (host && inet_pton(AF_INET, host, &a.in.sin_addr) != 1)
			die("'%s' is not an IPv4 address", host);
		a.len = sizeof(a.in);
	} else {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_port = htons(port);
		if (host && inet_pton(AF_INET6, host, &a.in6.sin6_addr) != 1)
			die("'%s' is not an IPv6 address", host);
		a.len = sizeof(a.in6);
	}
	return a;
}

static int port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port
					      : ((struct sockaddr_in6 *)ss)->sin6_port);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int bound_socket(int family, int type, int port)
{
	struct addr a = make_addr(family, NULL, port);
	int one = 1, fd = socket(family, type, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a.sa, a.len))
		die("bind port %d: %s", port, strerror(errno));
	return fd;
}

/* Forks; the parent prints the child's pid and exits: the server is ready. */
static void background(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		printf("%d\n", (int)pid);
		exit(0);
	}
	setsid();
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
}

/* ---- servers ---- */

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			exit(1);
		p += n;
		len -= n;
	}
}

static int tcp_server(const char *name, int family, int port)
{
	int fd = bound_socket(family, SOCK_STREAM, port);

	if (listen(fd, 128))
		die("listen: %s", strerror(errno));
	background();
	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() == 0) {
			char hello[HELLO_LEN] = {}, buf[65536];
			ssize_t n;

			/* Gone with the server, even if the peer never closes. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(fd);
			strncpy(hello, name, HELLO_LEN - 1);
			write_all(c, hello, HELLO_LEN);
			while ((n = read(c, buf, sizeof(buf))) > 0)
				write_all(c, buf, n);
			_exit(0);
		}
		close(c);
	}
}

#define MAX_PEERS 64

static int udp_server(const char *name, int family, int port)
{
	struct pollfd pfd[MAX_PEERS + 1];
	struct sockaddr_storage peer[MAX_PEERS + 1];
	int npeers = 0, one = 1;
	int fd = bound_socket(family, SOCK_DGRAM, port);
	size_t nlen = strlen(name);

	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	background();
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, npeers + 1, -1) <= 0)
			continue;
		for (int i = 0; i <= npeers; i++) {
			char buf[65536], cbuf[256];
			struct sockaddr_storage from;
			struct iovec iov = { buf + nlen + 1, sizeof(buf) - nlen - 1 };
			struct msghdr msg = { &from, sizeof(from), &iov, 1, cbuf, sizeof(cbuf), 0 };
			ssize_t n;
			int out = -1;

			if (!(pfd[i].revents & POLLIN))
				continue;
			n = recvmsg(pfd[i].fd, &msg, 0);
			if (n < 0)
				continue;
			memcpy(buf, name, nlen);
			buf[nlen] = ' ';
			if (i > 0) {
				out = pfd[i].fd;
			} else {
				/* A datagram on the unconnected socket: answer from
				 * a socket connected to this peer (as a QUIC server
				 * does), which from now on gets the peer's
				 * datagrams: the classifier's "connected UDP
				 * socket". */
				for (int j = 1; j <= npeers; j++)
					if (!memcmp(&peer[j], &from, msg.msg_namelen))
						out = pfd[j].fd;
				if (out < 0 && npeers < MAX_PEERS) {
					struct addr local = make_addr(family, NULL, port);
					struct cmsghdr *cm;

					for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
						if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO)
							local.in.sin_addr =
								((struct in_pktinfo *)CMSG_DATA(cm))->ipi_addr;
						if (cm->cmsg_level == IPPROTO_IPV6 &&
						    cm->cmsg_type == IPV6_PKTINFO)
							local.in6.sin6_addr =
								((struct in6_pktinfo *)CMSG_DATA(cm))->ipi6_addr;
					}
					out = socket(family, SOCK_DGRAM, 0);
					setsockopt(out, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
					if (family == AF_INET6)
						setsockopt(out, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
					if (bind(out, &local.sa, local.len) ||
					    connect(out, (struct sockaddr *)&from, msg.msg_namelen)) {
						close(out);
						out = -1;
					} else {
						npeers++;
						peer[npeers] = from;
						pfd[npeers].fd = out;
						pfd[npeers].events = POLLIN;
						pfd[npeers].revents = 0;
					}
				}
				if (out < 0) {
					sendto(fd, buf, n + nlen + 1, 0, (struct sockaddr *)&from,
					       msg.msg_namelen);
					continue;
				}
			}
			send(out, buf, n + nlen + 1, 0);
		}
	}
	return 0;
}

/* ---- clients ---- */

static unsigned char pattern(unsigned long off)
{
	return (unsigned char)(off % 251);
}

struct tcp_conn {
	int fd, family;
	struct addr local, remote;
	unsigned long sent, received;
	char server[HELLO_LEN];
};

static void tcp_exchange(struct tcp_conn *c, unsigned long bytes, unsigned long chunk, long pause_ms)
{
	unsigned long send_end = c->sent + bytes, recv_end = c->received + bytes;
	unsigned long next_pause = chunk ? c->sent + chunk : ~0UL;
	long resume = 0, last = now_ms();
	char buf[65536];

	while (c->received < recv_end) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		long t = now_ms();

		if (c->sent < send_end && t >= resume)
			p.events |= POLLOUT;
		if (t - last > IO_TIMEOUT_MS)
			die("no progress for %d ms: sent %lu of %lu, received %lu of %lu", IO_TIMEOUT_MS,
			    c->sent, send_end, c->received, recv_end);
		if (poll(&p, 1, 20) < 0)
			die("poll: %s", strerror(errno));
		if (p.revents & (POLLERR | POLLHUP) && !(p.revents & POLLIN)) {
			int err = 0;
			socklen_t l = sizeof(err);

			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			die("connection lost: %s", strerror(err ? err : EPIPE));
		}
		if (p.revents & POLLIN) {
			ssize_t n = read(c->fd, buf, sizeof(buf));

			if (n == 0)
				die("connection closed by the server after %lu bytes", c->received);
			if (n < 0 && errno != EAGAIN)
				die("read: %s", strerror(errno));
			for (ssize_t i = 0; i < n; i++)
				if ((unsigned char)buf[i] != pattern(c->received + i))
					die("byte %lu of the echo is wrong", c->received + i);
			if (n > 0) {
				c->received += n;
				last = now_ms();
			}
		}
		if (p.revents & POLLOUT) {
			unsigned long want = send_end - c->sent;

			if (want > sizeof(buf))
				want = sizeof(buf);
			if (c->sent + want > next_pause)
				want = next_pause - c->sent;
			for (unsigned long i = 0; i < want; i++)
				buf[i] = pattern(c->sent + i);
			ssize_t n = write(c->fd, buf, want);

			if (n < 0 && errno != EAGAIN)
				die("write: %s", strerror(errno));
			if (n > 0) {
				c->sent += n;
				last = now_ms();
				if (c->sent == next_pause) {
					next_pause += chunk;
					resume = now_ms() + pause_ms;
				}
			}
		}
	}
}

static uint16_t csum(const void *data, size_t len, uint32_t sum)
{
	const unsigned char *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* An ICMP error quoting the server's next segment to us, sent to the server:
 * what a router with a smaller MTU between the server and us would send.  The
 * sequence number must be inside the server's send window for its TCP to act
 * on it (RFC 5927), so we ask our own socket for rcv_nxt through TCP_REPAIR. */
static void tcp_ptb(struct tcp_conn *c, unsigned int mtu)
{
	int on = 1, off = -1 /* TCP_REPAIR_OFF_NO_WP */, q = TCP_RECV_QUEUE, raw;
	unsigned int seq;
	socklen_t l = sizeof(seq);
	unsigned char pkt[128] = {};
	size_t len;
	struct tcphdr *th;

	if (setsockopt(c->fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(c->fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &l) ||
	    setsockopt(c->fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)))
		die("TCP_REPAIR: %s", strerror(errno));

	if (c->family == AF_INET) {
		struct icmphdr *icmp = (void *)pkt;
		struct iphdr *ip = (void *)(icmp + 1);

		icmp->type = ICMP_DEST_UNREACH;
		icmp->code = ICMP_FRAG_NEEDED;
		icmp->un.frag.mtu = htons(mtu);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(mtu + 100);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 63;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = c->remote.in.sin_addr.s_addr;
		ip->daddr = c->local.in.sin_addr.s_addr;
		ip->check = csum(ip, sizeof(*ip), 0);
		th = (void *)(ip + 1);
		len = sizeof(*icmp) + sizeof(*ip) + sizeof(*th);
		raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	} else {
		struct icmp6_hdr *icmp = (void *)pkt;
		struct ip6_hdr *ip6 = (void *)(icmp + 1);

		icmp->icmp6_type = ICMP6_PACKET_TOO_BIG;
		icmp->icmp6_mtu = htonl(mtu);
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(mtu + 100);
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 63;
		ip6->ip6_src = c->remote.in6.sin6_addr;
		ip6->ip6_dst = c->local.in6.sin6_addr;
		th = (void *)(ip6 + 1);
		len = sizeof(*icmp) + sizeof(*ip6) + sizeof(*th);
		/* The kernel fills in the ICMPv6 checksum of raw sockets. */
		raw = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	}
	th->source = c->family == AF_INET ? c->remote.in.sin_port : c->remote.in6.sin6_port;
	th->dest = c->family == AF_INET ? c->local.in.sin_port : c->local.in6.sin6_port;
	th->seq = htonl(seq);
	th->doff = 5;
	th->ack = 1;
	th->window = htons(65535);
	if (c->family == AF_INET)
		((struct icmphdr *)pkt)->checksum = csum(pkt, len, 0);
	if (raw < 0)
		die("raw socket: %s", strerror(errno));
	struct addr dst = c->remote;

	if (c->family == AF_INET)
		dst.in.sin_port = 0;
	else
		dst.in6.sin6_port = 0;
	if (sendto(raw, pkt, len, 0, &dst.sa, dst.len) != (ssize_t)len)
		die("sendto: %s", strerror(errno));
	close(raw);
	printf("ok seq %u\n", seq);
}

static int tcp_client(int family, const char *host, int port)
{
	struct tcp_conn c = { .family = family };
	char line[256];
	size_t got = 0;

	c.remote = make_addr(family, host, port);
	c.local = make_addr(family, NULL, 0);
	c.fd = socket(family, SOCK_STREAM, 0);
	if (c.fd < 0)
		die("socket: %s", strerror(errno));
	struct timeval tv = { IO_TIMEOUT_MS / 1000, 0 };

	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c.fd, &c.remote.sa, c.remote.len))
		die("connect: %s", errno == EINPROGRESS ? "no answer within 5 s" : strerror(errno));
	getsockname(c.fd, &c.local.sa, &c.local.len);
	while (got < HELLO_LEN) {
		ssize_t n = read(c.fd, c.server + got, HELLO_LEN - got);

		if (n <= 0)
			die("no greeting from the server: %s", n ? strerror(errno) : "closed");
		got += n;
	}
	c.server[HELLO_LEN - 1] = 0;
	set_nonblock(c.fd);
	printf("ok server %s port %d\n", c.server, port_of(&c.local.ss));
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		unsigned long a = 0, b = 0;
		long ms = 0;

		if (sscanf(line, "x %lu %lu %ld", &a, &b, &ms) >= 1) {
			tcp_exchange(&c, a, b, ms);
			printf("ok server %s\n", c.server);
		} else if (sscanf(line, "ptb %lu", &a) == 1) {
			tcp_ptb(&c, a);
		} else if (!strncmp(line, "quit", 4)) {
			shutdown(c.fd, SHUT_WR);
			printf("ok\n");
			return 0;
		} else {
			die("unknown command '%s'", line);
		}
		fflush(stdout);
	}
	return 0;
}

static int udp_client(int family, const char *host, int port)
{
	struct addr remote = make_addr(family, host, port), local = make_addr(family, NULL, 0);
	char line[256], server[64] = "";
	unsigned long seq = 0;
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0 || connect(fd, &remote.sa, remote.len))
		die("connect: %s", strerror(errno));
	getsockname(fd, &local.sa, &local.len);
	printf("ok port %d\n", port_of(&local.ss));
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		unsigned long count;

		if (!strncmp(line, "quit", 4)) {
			printf("ok\n");
			return 0;
		}
		if (sscanf(line, "x %lu", &count) != 1)
			die("unknown command '%s'", line);
		for (unsigned long i = 0; i < count; i++, seq++) {
			char out[1000], in[1200];
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t n;
			char *sp;

			for (size_t k = 0; k < sizeof(out); k++)
				out[k] = pattern(seq + k);
			snprintf(out, 32, "datagram %lu", seq);
			if (send(fd, out, sizeof(out), 0) != sizeof(out))
				die("send: %s", strerror(errno));
			if (poll(&p, 1, IO_TIMEOUT_MS) != 1)
				die("no answer to datagram %lu", seq);
			n = recv(fd, in, sizeof(in), 0);
			if (n < 0)
				die("recv: %s", strerror(errno));
			sp = memchr(in, ' ', n);
			if (!sp || (size_t)(n - (sp + 1 - in)) != sizeof(out) ||
			    memcmp(sp + 1, out, sizeof(out)))
				die("wrong answer to datagram %lu", seq);
			*sp = 0;
			if (server[0] && strcmp(server, in))
				die("answer to datagram %lu came from %s, earlier ones from %s", seq, in,
				    server);
			snprintf(server, sizeof(server), "%.32s", in);
		}
		printf("ok server %s\n", server);
		fflush(stdout);
	}
	return 0;
}

/* A bare ACK from a port with no connection, then the RST the server owes
 * us (RFC 9293 3.10.7.1: seq of the RST = our ack). */
static int tcp_rst(int family, const char *host, int port)
{
	struct addr remote = make_addr(family, host, port), local = make_addr(family, NULL, 0);
	unsigned char pkt[20] = {}, ph[40] = {}, buf[2048];
	struct tcphdr *th = (void *)pkt;
	int fd = socket(family, SOCK_DGRAM, 0), raw, sport = 20000 + getpid() % 20000;
	unsigned int ack = 0x5eed0000u + getpid();
	long deadline;

	/* The source address the kernel would pick. */
	if (fd < 0 || connect(fd, &remote.sa, remote.len) || getsockname(fd, &local.sa, &local.len))
		die("no route to %s: %s", host, strerror(errno));
	close(fd);
	th->source = htons(sport);
	th->dest = htons(port);
	th->seq = htonl(1);
	th->ack_seq = htonl(ack);
	th->doff = 5;
	th->ack = 1;
	th->window = htons(1024);
	if (family == AF_INET) {
		memcpy(ph, &local.in.sin_addr, 4);
		memcpy(ph + 4, &remote.in.sin_addr, 4);
		ph[9] = IPPROTO_TCP;
		ph[11] = sizeof(pkt);
		memcpy(ph + 12, pkt, sizeof(pkt));
		th->check = csum(ph, 12 + sizeof(pkt), 0);
	} else {
		memcpy(ph, &local.in6.sin6_addr, 16);
		memcpy(ph + 16, &remote.in6.sin6_addr, 16);
		ph[35] = sizeof(pkt);
		ph[39] = IPPROTO_TCP;
		unsigned char full[60];

		memcpy(full, ph, 40);
		memcpy(full + 40, pkt, sizeof(pkt));
		th->check = csum(full, sizeof(full), 0);
	}
	raw = socket(family, SOCK_RAW, IPPROTO_TCP);
	if (raw < 0)
		die("raw socket: %s", strerror(errno));
	remote.in.sin_port = 0;
	if (family == AF_INET6)
		remote.in6.sin6_port = 0;
	if (sendto(raw, pkt, sizeof(pkt), 0, &remote.sa, remote.len) != sizeof(pkt))
		die("sendto: %s", strerror(errno));
	deadline = now_ms() + 3000;
	while (now_ms() < deadline) {
		struct pollfd p = { raw, POLLIN, 0 };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		size_t off = 0;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = recvfrom(raw, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		if (family == AF_INET) {
			if (memcmp(&((struct sockaddr_in *)&from)->sin_addr, &remote.in.sin_addr, 4))
				continue;
			off = (buf[0] & 0xf) * 4; /* IPv4 raw sockets see the IP header */
		} else if (memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr, &remote.in6.sin6_addr, 16)) {
			continue;
		}
		if ((size_t)n < off + sizeof(struct tcphdr))
			continue;
		struct tcphdr *r = (void *)(buf + off);

		if (ntohs(r->source) != port || ntohs(r->dest) != sport)
			continue;
		if (!r->rst)
			die("answer from %s:%d has no RST flag", host, port);
		if (ntohl(r->seq) != ack)
			die("RST seq %u, expected %u", ntohl(r->seq), ack);
		printf("ok rst port %d\n", sport);
		return 0;
	}
	die("no RST from %s:%d to port %d within 3 s", host, port, sport);
	return 1;
}

/* COUNT echo requests, each answered within 2 s (no ping in the base system). */
static int ping(int family, const char *host, int count)
{
	struct addr dst = make_addr(family, host, 0);
	int raw = socket(family, SOCK_RAW, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	uint16_t id = getpid() & 0xffff;

	if (raw < 0)
		die("raw socket: %s", strerror(errno));
	for (int seq = 0; seq < count; seq++) {
		unsigned char req[64] = {}, buf[2048];
		long deadline = now_ms() + 2000;
		int answered = 0;

		/* type, code, checksum, id, seq: the same layout in v4 and v6 */
		req[0] = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
		req[4] = id >> 8;
		req[5] = id & 0xff;
		req[7] = seq;
		memcpy(req + 8, "cls-redirect e2e", 16);
		if (family == AF_INET) {
			uint16_t c = csum(req, sizeof(req), 0);

			memcpy(req + 2, &c, 2);
		}
		if (sendto(raw, req, sizeof(req), 0, &dst.sa, dst.len) != sizeof(req))
			die("sendto: %s", strerror(errno));
		while (!answered && now_ms() < deadline) {
			struct pollfd p = { raw, POLLIN, 0 };
			ssize_t n;
			size_t off = 0;

			if (poll(&p, 1, 100) != 1)
				continue;
			n = recv(raw, buf, sizeof(buf), 0);
			if (n > 0 && family == AF_INET)
				off = (buf[0] & 0xf) * 4;
			if (n < (ssize_t)(off + 8))
				continue;
			answered = buf[off] == (family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY) &&
				   buf[off + 4] == req[4] && buf[off + 5] == req[5] && buf[off + 7] == req[7];
		}
		if (!answered)
			die("no reply to echo request %d from %s", seq, host);
	}
	printf("ok %d replies\n", count);
	return 0;
}

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		unsigned int v;

		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		if (sscanf(s, "%2x", &v) != 1)
			die("bad hex '%s'", s);
		out[n++] = v;
		s += 2;
	}
	return n;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		goto usage;
	prog_mode = argv[1];
	if (!strcmp(argv[1], "tcp-server") && argc == 5)
		return tcp_server(argv[2], parse_family(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "udp-server") && argc == 5)
		return udp_server(argv[2], parse_family(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "tcp-client") && argc == 5)
		return tcp_client(parse_family(argv[2]), argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "udp-client") && argc == 5)
		return udp_client(parse_family(argv[2]), argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "tcp-rst") && argc == 5)
		return tcp_rst(parse_family(argv[2]), argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "ping") && argc == 5)
		return ping(parse_family(argv[2]), argv[3], atoi(argv[4]));
	if (!strcmp(argv[1], "udp-send") && argc == 6) {
		int family = parse_family(argv[2]);
		struct addr a = make_addr(family, argv[3], atoi(argv[4]));
		unsigned char buf[2048];
		size_t n = unhex(argv[5], buf, sizeof(buf));
		int fd = socket(family, SOCK_DGRAM, 0);

		if (fd < 0 || sendto(fd, buf, n, 0, &a.sa, a.len) != (ssize_t)n)
			die("sendto: %s", strerror(errno));
		return 0;
	}
	if (!strcmp(argv[1], "udp-recv") && argc == 5) {
		/* Bound before it prints "ready", so the sender cannot be early. */
		int family = parse_family(argv[2]), fd = bound_socket(family, SOCK_DGRAM, atoi(argv[3]));
		unsigned char want[2048], buf[2048];
		size_t n = unhex(argv[4], want, sizeof(want));
		struct pollfd p = { fd, POLLIN, 0 };

		printf("ready\n");
		fflush(stdout);
		if (poll(&p, 1, 3000) != 1)
			die("nothing arrived on port %s", argv[3]);
		ssize_t got = recv(fd, buf, sizeof(buf), 0);

		if (got != (ssize_t)n || memcmp(buf, want, n))
			die("the datagram arrived changed (%zd bytes, %zu expected)", got, n);
		printf("ok\n");
		return 0;
	}
usage:
	fprintf(stderr, "usage: e2e-peer tcp-server|udp-server NAME 4|6 PORT\n"
			"       e2e-peer tcp-client|udp-client|tcp-rst 4|6 ADDR PORT\n"
			"       e2e-peer ping 4|6 ADDR COUNT\n"
			"       e2e-peer udp-send 4|6 ADDR PORT HEX | udp-recv 4|6 PORT HEX\n");
	return 1;
}
