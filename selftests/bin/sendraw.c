// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sendraw: put one hand-made Ethernet frame on the wire of an interface.
 *
 *   sendraw IFNAME HEX [COUNT]
 *   sendraw IFNAME - [COUNT]        (hex read from stdin)
 *
 * HEX is the whole frame from the destination MAC on, as hex digits; spaces,
 * newlines, ':' and '.' between bytes are ignored, so a frame can be written
 * header by header.  The frame is sent COUNT times (default 1) through an
 * AF_PACKET socket bound to IFNAME, exactly as given: no checksum or length
 * is fixed up, which is what lets tests send malformed packets.  Sent on one
 * end of a veth pair, it arrives on the other end's ingress hook, as a
 * packet from the wire would.
 *
 * Exit status: 0 sent, 1 usage or bad hex, 2 socket error.
 */
#include <errno.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkt.h"

#define MAX_FRAME 65536

/* Appends the bytes spelled by text to frame; -1 on a stray character or an
 * odd number of digits (carried in *half between calls). */
static int parse_hex(const char *text, unsigned char *frame, size_t *len, int *half)
{
	for (; *text; text++) {
		int v = hexval((unsigned char)*text);

		if (v < 0) {
			if (strchr(" \t\r\n:.", *text) && *half < 0)
				continue;
			fprintf(stderr, "sendraw: bad hex character '%c' at byte %zu\n", *text, *len);
			return -1;
		}
		if (*half < 0) {
			*half = v;
			continue;
		}
		if (*len >= MAX_FRAME) {
			fprintf(stderr, "sendraw: frame longer than %d bytes\n", MAX_FRAME);
			return -1;
		}
		frame[(*len)++] = (unsigned char)(*half << 4 | v);
		*half = -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char frame[MAX_FRAME];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	size_t len = 0;
	int half = -1;
	long count = 1;
	int fd;

	if (argc < 3 || argc > 4 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: sendraw IFNAME HEX|- [COUNT]\n"
				"sends the Ethernet frame HEX (or hex read from stdin) COUNT times on IFNAME\n");
		return 1;
	}
	if (argc == 4) {
		char *end;

		count = strtol(argv[3], &end, 10);
		if (*end || count < 1) {
			fprintf(stderr, "sendraw: COUNT must be a positive integer, not '%s'\n", argv[3]);
			return 1;
		}
	}
	if (!strcmp(argv[2], "-")) {
		char buf[4096];

		while (fgets(buf, sizeof(buf), stdin))
			if (parse_hex(buf, frame, &len, &half))
				return 1;
	} else if (parse_hex(argv[2], frame, &len, &half)) {
		return 1;
	}
	if (half >= 0) {
		fprintf(stderr, "sendraw: odd number of hex digits\n");
		return 1;
	}
	if (len < ETH_HLEN) {
		fprintf(stderr, "sendraw: frame of %zu bytes is shorter than an Ethernet header\n", len);
		return 1;
	}

	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "sendraw: no interface '%s' in this network namespace\n", argv[1]);
		return 2;
	}
	/* Protocol 0: a send-only socket, so no frame is ever queued to it. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "sendraw: AF_PACKET socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
		return 2;
	}
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, frame, ETH_ALEN);
	for (long i = 0; i < count; i++) {
		ssize_t n = sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll));

		if (n != (ssize_t)len) {
			fprintf(stderr, "sendraw: sending %zu bytes on %s: %s\n", len, argv[1],
				n < 0 ? strerror(errno) : "short write");
			close(fd);
			return 2;
		}
	}
	close(fd);
	return 0;
}
