// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A minimal sk_lookup dispatcher for selftests/test_sk_lookup (the shape of
 * Cloudflare's tubular, reduced to one rule): TCP and UDP packets for
 * 10.99.0.1 port 80 go to the socket in slot 0 (TCP) or 1 (UDP) of
 * steer_socks, whatever address and port that socket is bound to.
 * Everything else is left to the normal socket lookup.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define STEER_VIP 0x0a630001 /* 10.99.0.1 */
#define STEER_PORT 80
#define STEER_AF_INET 2

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} steer_socks SEC(".maps");

SEC("sk_lookup")
int steer(struct bpf_sk_lookup *ctx)
{
	__u32 slot = ctx->protocol == IPPROTO_TCP ? 0 : 1;
	struct bpf_sock *sk;
	long err;

	if (ctx->family != STEER_AF_INET || ctx->local_ip4 != bpf_htonl(STEER_VIP) ||
	    ctx->local_port != STEER_PORT)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&steer_socks, &slot);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return err ? SK_DROP : SK_PASS;
}

char _license[] SEC("license") = "Dual BSD/GPL";
