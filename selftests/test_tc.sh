#!/bin/sh
# test_tc: the classifier loaded by a real tc, on a veth pair between two
# throwaway network namespaces, configured and read by the real tools.
#
#   srv (server under test)                       cli (the "director")
#   srv0 192.0.2.1, clsact, cls_redirect  <-veth->  cli0 192.0.2.2, sendraw
#
# Every case runs twice (tc-cls-redirect.8, LEGACY TC):
#   btf     obj/cls_redirect_btf.o     with the system tc (libbpf loader)
#   legacy  obj/cls_redirect_legacy.o  with a tc built without libbpf
#           (selftests/lib/legacy-tc.sh; legacy ELF loader)
# Pins live in a private bpffs (TC_BPF_MNT), never in the host's.
#
# Packets are hand-made frames sent from cli with selftests/bin/sendraw, so the
# counter deltas are exact: IPv6 is off and neighbours are static, nothing
# else crosses the link.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

. "$REPO/selftests/lib/frames.sh"
# A second filter behind the classifier (see behind.c below).
BEHIND_PREF=65000

require_present test_tc obj/cls_redirect_btf.o obj/cls_redirect_legacy.o selftests/bin/sendraw \
	tools/cls-redirect-config tools/cls-redirect-stat -- bpftool jq cc

tmpdir T

# The layouts of include/cls_redirect.h, as the compiler sees them, and the
# counter names in their order.
cat >"$T/layout.c" <<'EOF'
#include <stdio.h>
#include "cls_redirect.h"
int main(void)
{
	printf("%zu %zu\n", sizeof(struct cls_redirect_config), sizeof(struct cls_redirect_metrics));
	return 0;
}
EOF
cc -I"$REPO/include" -o "$T/layout" "$T/layout.c" || { fail test_tc "cannot compile against include/cls_redirect.h"; exit 1; }
read -r CONFIG_SIZE METRICS_SIZE <<EOF
$("$T/layout")
EOF

# behind.o, loaded after the classifier on the same hook: it sees whatever the
# classifier passes on (TC_ACT_UNSPEC), so it proves that a decapsulated
# packet really came through the hook a second time, and with which tc_index.
# (A program rather than matchall + gact: kernels built without those exist.)
cat >"$T/behind.c" <<'EOF'
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 2);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cls_redirect_test_behind SEC(".maps");
/* Slot 0: packets with tc_index 0; slot 1: with any other tc_index. */
SEC("classifier")
int behind(struct __sk_buff *skb)
{
	__u32 slot = skb->tc_index != 0;
	__u64 *n = bpf_map_lookup_elem(&cls_redirect_test_behind, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return -1; /* TC_ACT_UNSPEC */
}
char _license[] SEC("license") = "GPL";
EOF
clang -O2 -g -target bpf -I"/usr/include/$(cc -dumpmachine)" -c "$T/behind.c" -o "$T/behind.o" ||
	{ fail test_tc "cannot compile the helper BPF program $T/behind.c"; exit 1; }

srv_cli_pair "$DEV" "$SRV" "$CLI"


# ---- tc, pins, counters ----

tc_attach() { # TC OBJ: clsact + the classifier, no sec, no pref
	in_ns srv tc qdisc replace dev "$DEV" clsact &&
		in_ns srv "$1" filter add dev "$DEV" ingress bpf da obj "$2"
}
detach() { in_ns srv tc qdisc del dev "$DEV" clsact 2>/dev/null || :; }
fresh() { detach; bpffs_reset; }

# bpf_filter: "pref handle prog_id" of the bpf filter on srv0 ingress.
bpf_filter() {
	in_ns srv tc -j filter show dev "$DEV" ingress |
		jq -r '.[] | select(.kind == "bpf" and .options.prog.id) |
			"\(.pref) \(.options.handle) \(.options.prog.id)"'
}
behind_attach() {
	in_ns srv tc filter add dev "$DEV" ingress pref $BEHIND_PREF bpf da obj "$T/behind.o"
}
# behind_count: "packets with tc_index 0, packets with another tc_index" seen
# by behind.o.
behind_count() {
	for _k in 0 1; do
		bpftool -j map lookup pinned "$PIN/cls_redirect_test_behind" key $_k 0 0 0 |
			jq -r .formatted.value
	done | paste -sd' '
}

# ---- the cases, for one loader/flavour ----

run_flavour() {
	F=$1 TC=$2 OBJ=$REPO/obj/cls_redirect_$1.o

	# -- filter first, config after --
	fresh
	check "$F: tc filter add (no sec) loads $(basename "$OBJ")" tc_attach "$TC" "$OBJ"
	set -- $(bpf_filter)
	if [ $# != 3 ]; then
		fail "$F: filter attached" "no bpf filter with a program on $DEV ingress after tc filter add"
		return
	fi
	pref=$1 handle=$2 prog=$3
	expect_eq "$F: $CONFIG pinned" "array 4 $CONFIG_SIZE 1" "$(map_info $CONFIG | cut -d' ' -f1-4)" \
		"type key value entries of $PIN/$CONFIG"
	expect_eq "$F: $METRICS pinned" "percpu_array 4 $METRICS_SIZE 1" "$(map_info $METRICS | cut -d' ' -f1-4)" \
		"type key value entries of $PIN/$METRICS"
	ids=$(both_ids)

	snap "$T/before"
	send_and_wait "$(gue_echo_frame)"
	snap "$T/after"
	expect_eq "$F: unconfigured classifier passes a GUE packet" "$PASS_DELTAS" "$(deltas "$T/before" "$T/after")" "counter deltas"

	check "$F: filter first: cls-redirect-config set" configure
	expect_eq "$F: filter first: the tool writes tc's maps" "$ids" "$(both_ids)" "config and metrics map ids"
	expect_eq "$F: config readable" "$SRV $PORT" "$(config_shown)" "cls-redirect-config show -j"
	expect_gue "$F" "filter first"

	# -- re-entry: an IPv4 inner packet goes straight on to the stack; an
	# IPv6 one comes through the hook again (skb->protocol must change) --
	behind_attach || fail "$F: test filter behind the classifier" "tc filter add pref $BEHIND_PREF bpf obj behind.o failed"
	set -- $(behind_count)
	b0=$1 b1=$2
	snap "$T/before"
	send_and_wait "$(gue_echo_frame)"
	snap "$T/after"
	expect_eq "$F: decapsulated IPv4 packet counted once" "$GUE_DELTAS" "$(deltas "$T/before" "$T/after")" "counter deltas"
	expect_eq "$F: decapsulated IPv4 packet does not come round the hook again" "$b0 $b1" "$(behind_count)" \
		"packets with tc_index 0 / other seen by the next filter on the hook"
	snap "$T/before"
	send_and_wait "$(gue_echo6_frame)"
	snap "$T/after"
	d=$(deltas "$T/before" "$T/after")
	if [ "$d" = "$GUE6_DELTAS" ]; then
		pass "$F: re-entering decapsulated IPv6 packet not counted again"
	else
		fail "$F: re-entering decapsulated IPv6 packet not counted again" \
			"deltas '$d', want '$GUE6_DELTAS' (processed +2 and passed +1 would mean the tc_index 0xc15d mark did not survive bpf_redirect(BPF_F_INGRESS) on $(uname -r))"
	fi
	expect_eq "$F: decapsulated IPv6 packet passed on once, tc_index cleared" "$((b0 + 1)) $b1" "$(behind_count)" \
		"packets with tc_index 0 / other seen by the next filter on the hook"
	in_ns srv tc filter del dev "$DEV" ingress pref $BEHIND_PREF

	snap "$T/before"
	send_and_wait "$(plain_udp_frame)"
	snap "$T/after"
	expect_eq "$F: plain UDP passed" "$PASS_DELTAS" "$(deltas "$T/before" "$T/after")" "counter deltas"

	# -- replace: new program, same maps, same config and counters --
	snap "$T/before"
	check "$F: tc filter replace pref $pref handle $handle" \
		in_ns srv "$TC" filter replace dev "$DEV" ingress pref "$pref" handle "$handle" bpf da obj "$OBJ"
	set -- $(bpf_filter)
	if [ $# = 3 ] && [ "$1 $2" = "$pref $handle" ] && [ "$3" != "$prog" ]; then
		pass "$F: replace swapped the program"
	else
		fail "$F: replace swapped the program" "filter before '$pref $handle $prog', after '$*'"
	fi
	expect_eq "$F: replace kept the maps" "$ids" "$(both_ids)" "config and metrics map ids"
	expect_eq "$F: replace kept the config" "$SRV $PORT" "$(config_shown)" "cls-redirect-config show -j"
	snap "$T/after"
	expect_eq "$F: replace kept the counters" "" "$(deltas "$T/before" "$T/after")" "counter changes"
	expect_gue "$F" "after replace"

	# -- del leaves the pins, a later add reuses them --
	snap "$T/before"
	check "$F: tc filter del" in_ns srv tc filter del dev "$DEV" ingress pref "$pref" handle "$handle" bpf
	expect_eq "$F: del removed the filter" "" "$(bpf_filter)" "bpf filters left"
	expect_eq "$F: del left the pins" "$ids" "$(both_ids)" "config and metrics map ids"
	check "$F: tc filter add after del" in_ns srv "$TC" filter add dev "$DEV" ingress bpf da obj "$OBJ"
	expect_eq "$F: add after del reused the pins" "$ids" "$(both_ids)" "config and metrics map ids"
	snap "$T/after"
	expect_eq "$F: add after del kept the counters" "" "$(deltas "$T/before" "$T/after")" "counter changes"
	expect_gue "$F" "after del and add"

	# -- config first, filter after --
	fresh
	check "$F: config first: cls-redirect-config set on an empty bpffs" configure
	cid=$(map_id $CONFIG)
	expect_eq "$F: config first: the tool pinned $CONFIG" "array 4 $CONFIG_SIZE 1" \
		"$(map_info $CONFIG | cut -d' ' -f1-4)" "type key value entries"
	check "$F: config first: tc filter add" tc_attach "$TC" "$OBJ"
	expect_eq "$F: config first: tc reused the tool's map" "$cid" "$(map_id $CONFIG)" "config map id"
	expect_gue "$F" "config first"

	# -- a pinned map of another layout is refused --
	refused "$F" "$CONFIG with a 16-byte value" $CONFIG "type array key 4 value 16 entries 1"
	refused "$F" "$CONFIG with 2 entries" $CONFIG "type array key 4 value $CONFIG_SIZE entries 2"
	refused "$F" "$METRICS of type array (not per-CPU)" $METRICS "type array key 4 value $METRICS_SIZE entries 1"
	fresh
}

# refused F WHAT NAME SPEC: with a foreign map pinned as NAME, tc must fail,
# attach nothing, and leave the foreign map as it was.
refused() {
	fresh
	mkdir -p "$PIN" && bpftool map create "$PIN/$3" $4 name "$3" ||
		{ fail "$1: incompatible $2 refused" "bpftool map create $4 failed"; return; }
	_before=$(map_info "$3")
	if _out=$(tc_attach "$TC" "$OBJ" 2>&1); then
		fail "$1: incompatible $2 refused" "tc filter add succeeded"
	elif [ -n "$(bpf_filter)" ]; then
		fail "$1: incompatible $2 refused" "tc failed but a bpf filter is attached"
	elif [ "$(map_info "$3")" != "$_before" ]; then
		fail "$1: incompatible $2 refused" "the pinned map changed: '$_before' -> '$(map_info "$3")'"
	else
		pass "$1: incompatible $2 refused"
	fi
}

# ---- the two loaders ----

SYS_TC=$(command -v tc)
if "$SYS_TC" -V | grep -q libbpf; then
	run_flavour btf "$SYS_TC"
else
	skip "btf flavour" "the system tc ($("$SYS_TC" -V)) has no libbpf: it cannot load BTF-defined maps"
fi

if LEGACY_TC=$(sh "$REPO/selftests/lib/legacy-tc.sh"); then
	if "$LEGACY_TC" -V | grep -qi libbpf; then
		fail "legacy tc" "$LEGACY_TC links libbpf: $("$LEGACY_TC" -V)"
	else
		pass "legacy tc has no libbpf: $("$LEGACY_TC" -V)"
		run_flavour legacy "$LEGACY_TC"
		# The libbpf loader must refuse the legacy "maps" section: proof that
		# the passes above needed the legacy tc.
		if "$SYS_TC" -V | grep -q libbpf; then
			fresh
			if tc_attach "$SYS_TC" "$REPO/obj/cls_redirect_legacy.o" >"$T/out" 2>&1; then
				fail "legacy: the system tc refuses the legacy object" "it loaded it"
			elif ! grep -q "legacy map definitions" "$T/out"; then
				fail "legacy: the system tc refuses the legacy object" "for another reason: $(tr '\n' ' ' <"$T/out")"
			else
				pass "legacy: the system tc refuses the legacy object"
			fi
			fresh
		fi
	fi
else
	fail "legacy tc" "selftests/lib/legacy-tc.sh could not build a tc without libbpf (see above)"
fi

test_done
