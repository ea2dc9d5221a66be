#!/bin/sh
# test_xdp: the XDP flavour (tc-cls-redirect.8, XDP).
#
#   1. Every BPF_PROG_TEST_RUN fixture of selftests/test_prog_run against
#      obj/cls_redirect_xdp_btf.o: same counter deltas, the XDP verdict and
#      output of each, and the mark for the tc flavour in the metadata of
#      what goes up the stack.
#   2. On a veth pair (as test_tc.sh): attached with
#      `ip link set dev srv0 xdp obj obj/cls_redirect_xdp.o sec xdp`, native
#      XDP, then generic XDP (xdpgeneric); the maps are pinned where tc pins
#      them, the tools drive it, a GUE echo request (IPv4 and IPv6 inside) is
#      accepted and answered, a plain datagram passed.
#   3. tc flavour and XDP flavour both attached: each packet counted once,
#      whichever flavour decided; XDP taken away, tc decides again.
#   4. obj/cls_redirect_xdp_legacy.o attached by an ip built without libbpf
#      (selftests/lib/legacy-tc.sh builds it next to its tc).
#   5. xdp-loader load with the pin path of tc's maps: through libxdp's
#      dispatcher next to a second program where the kernel has BTF, alone
#      where it has none (this names the case that ran).
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
private_bpffs "$@"

. "$REPO/selftests/lib/frames.sh"
XDP_OBJ=$REPO/obj/cls_redirect_xdp.o
TC_OBJ=$REPO/obj/cls_redirect.o

require_present test_xdp obj/cls_redirect_xdp_btf.o obj/cls_redirect_xdp.o obj/cls_redirect.o \
	selftests/test_prog_run selftests/test_fuzz selftests/bin/sendraw tools/cls-redirect-config tools/cls-redirect-stat -- bpftool jq

# ---- 1. the fixtures ----

out=$(cd "$REPO" && CLS_REDIRECT_OBJ=obj/cls_redirect_xdp_btf.o selftests/test_prog_run 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -q '^FAIL ' || fail "xdp: test_prog_run" "exited $rc"

# The packet fuzzer against the XDP object (as make check runs it for tc).
out=$(cd "$REPO" && CLS_REDIRECT_OBJ=obj/cls_redirect_xdp_btf.o selftests/test_fuzz 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^\(PASS\|FAIL\|SKIP\) /\1 xdp: /'
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -q '^FAIL ' || fail "xdp: test_fuzz" "exited $rc"

# ---- 2. attached with ip link ----

tmpdir T
srv_cli_pair "$DEV" "$SRV" "$CLI"

# xdp_mode: the XDP attachment of srv0 as ip -d link shows it: xdp (native),
# xdpgeneric, or empty.
xdp_mode() {
	in_ns srv ip -j -d link show dev "$DEV" |
		jq -r '.[0].xdp.mode // empty | if . == 1 then "xdp" elif . == 2 then "xdpgeneric" else . end'
}
xdp_attach() { in_ns srv ip link set dev "$DEV" "$1" obj "$XDP_OBJ" sec xdp; }
xdp_detach() { in_ns srv ip link set dev "$DEV" xdp off 2>/dev/null; in_ns srv ip link set dev "$DEV" xdpgeneric off 2>/dev/null; }
tc_attach() {
	in_ns srv tc qdisc replace dev "$DEV" clsact &&
		in_ns srv tc filter add dev "$DEV" ingress bpf da obj "$TC_OBJ"
}
tc_detach() { in_ns srv tc qdisc del dev "$DEV" clsact 2>/dev/null || :; }
cleanup_add xdp_detach

# expect_deltas NAME FRAME WANT: sends FRAME, compares the counter deltas.
expect_deltas() {
	snap "$T/before"
	send_and_wait "$2"
	snap "$T/after"
	expect_eq "$1" "$3" "$(deltas "$T/before" "$T/after")" "counter deltas"
}

for mode in xdp xdpgeneric; do
	bpffs_reset
	if ! check "$mode: ip link set dev $DEV $mode obj $(basename "$XDP_OBJ") sec xdp" xdp_attach "$mode"; then
		continue
	fi
	expect_eq "$mode: attached in $mode mode" "$mode" "$(xdp_mode)" "ip -d link show"
	expect_eq "$mode: $CONFIG pinned where tc pins it" "array" "$(map_info $CONFIG | cut -d' ' -f1)" \
		"type of $PIN/$CONFIG"
	expect_eq "$mode: $METRICS pinned where tc pins it" "percpu_array" "$(map_info $METRICS | cut -d' ' -f1)" \
		"type of $PIN/$METRICS"
	check "$mode: cls-redirect-config set" configure
	expect_gue "$mode" "XDP alone"
	expect_deltas "$mode: XDP alone: IPv6 inside accepted once" "$(gue_echo6_frame)" "$GUE6_DELTAS"
	expect_deltas "$mode: XDP alone: plain UDP passed" "$(plain_udp_frame)" "$PASS_DELTAS"

	# -- 3. both attached: tc reuses the maps, XDP decides, tc counts nothing --
	ids=$(both_ids)
	check "$mode: tc flavour attached as well" tc_attach
	expect_eq "$mode: both: tc reused the maps" "$ids" "$(both_ids)" "config and metrics map ids"
	expect_gue "$mode" "both attached"
	expect_deltas "$mode: both attached: IPv6 inside counted once" "$(gue_echo6_frame)" "$GUE6_DELTAS"
	expect_deltas "$mode: both attached: plain UDP counted once" "$(plain_udp_frame)" "$PASS_DELTAS"

	# -- XDP taken away: tc decides alone, no gap in between --
	check "$mode: ip link set dev $DEV $mode off" in_ns srv ip link set dev "$DEV" "$mode" off
	expect_eq "$mode: detached" "" "$(xdp_mode)" "ip -d link show"
	expect_gue "$mode" "tc after XDP"
	expect_deltas "$mode: tc after XDP: plain UDP counted once" "$(plain_udp_frame)" "$PASS_DELTAS"
	tc_detach
done

# ---- 4. the legacy map flavour, with an ip built without libbpf ----

if LEGACY_TC=$(sh "$REPO/selftests/lib/legacy-tc.sh" 2>"$T/legacy.log"); then
	LEGACY_IP=$(dirname "$LEGACY_TC")/ip
	bpffs_reset
	if check "legacy: $LEGACY_IP link set dev $DEV xdp obj cls_redirect_xdp_legacy.o sec xdp" \
		in_ns srv env TC_BPF_MNT="$TC_BPF_MNT" "$LEGACY_IP" link set dev "$DEV" xdp \
		obj "$REPO/obj/cls_redirect_xdp_legacy.o" sec xdp; then
		expect_eq "legacy: attached in xdp mode" xdp "$(xdp_mode)" "ip -d link show"
		expect_eq "legacy: $METRICS pinned where tc pins it" "percpu_array" \
			"$(map_info $METRICS | cut -d' ' -f1)" "type of $PIN/$METRICS"
		check "legacy: cls-redirect-config set" configure
		expect_gue legacy "XDP alone"
		expect_deltas "legacy: plain UDP passed" "$(plain_udp_frame)" "$PASS_DELTAS"
		xdp_detach
	fi
else
	skip "legacy: XDP flavour with legacy maps" "no ip without libbpf: $(tail -n 1 "$T/legacy.log")"
fi

# ---- 5. xdp-loader (xdp-tools), maps pinned with tc's ----

# libxdp's multi-program dispatcher needs kernel BTF (freplace); without it
# xdp-loader loads the program alone.  The case that ran is in the names.
XL() { in_ns srv env LIBXDP_BPFFS="$TC_BPF_MNT" xdp-loader "$@"; }
if command -v xdp-loader >/dev/null; then
	bpffs_reset
	mkdir -p "$PIN"
	cleanup_add "in_ns srv env LIBXDP_BPFFS='$TC_BPF_MNT' xdp-loader unload -a '$DEV'"
	out=$(XL load -v -m native -p "$PIN" "$DEV" "$REPO/obj/cls_redirect_xdp_btf.o" 2>&1)
	rc=$?
	refused=
	if [ $rc != 0 ] && XL load -vv -m native -p "$PIN" "$DEV" "$REPO/obj/cls_redirect_xdp_btf.o" 2>&1 |
		grep -q 'changes packet data'; then
		# The kernel refuses the program in place of a dispatcher stub
		# that does not change packet data (tc-cls-redirect.8, XDP):
		# libxdp falls back to loading it alone where it finds no bpffs.
		refused=1
		out=$(in_ns srv env LIBXDP_BPFFS=/nonexistent xdp-loader load -v -m native -p "$PIN" "$DEV" \
			"$REPO/obj/cls_redirect_xdp_btf.o" 2>&1)
		rc=$?
	fi
	if [ $rc = 0 ]; then
		if [ -n "$refused" ]; then
			how="alone, the dispatcher refused (extension program changes packet data)"
			multi=
		elif printf '%s\n' "$out" | grep -q 'Falling back to loading single prog'; then
			how="alone, no dispatcher ($(printf '%s\n' "$out" | grep -m1 'libxdp: .*dispatcher' | sed 's/^ *libxdp: //'))"
			multi=
		else
			how="through libxdp's dispatcher"
			multi=1
		fi
		pass "xdp-loader: load -m native -p PIN $DEV cls_redirect_xdp_btf.o: loaded $how"
		expect_eq "xdp-loader: $METRICS pinned where tc pins it" "percpu_array" \
			"$(map_info $METRICS | cut -d' ' -f1)" "type of $PIN/$METRICS"
		check "xdp-loader: cls-redirect-config set" configure
		expect_gue xdp-loader "$how"
		if [ -n "$multi" ]; then
			check "xdp-loader: a second program on $DEV" XL load -m native "$DEV" "$REPO/selftests/progs/xdp_pass.bpf.o"
			expect_gue xdp-loader "next to a second program"
		fi
		check "xdp-loader: unload -a" XL unload -a "$DEV"
		expect_eq "xdp-loader: detached" "" "$(xdp_mode)" "ip -d link show"
	else
		fail "xdp-loader: load -m native -p PIN $DEV cls_redirect_xdp_btf.o" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	fi
else
	fail "xdp-loader" "not installed (make deps installs xdp-tools)"
fi

test_done
