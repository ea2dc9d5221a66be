#!/bin/sh
# The tests of the kernel matrix, run inside each kernel (by the initramfs's
# /init under qemu) and on the host's own kernel, always the same way.
#
#   R=DIR TC_BTF=/path/tc TC_LEGACY=/path/tc-legacy [IP=/path/ip] sh guest-tests.sh
#
# R is a tree laid out like the repository: obj/cls_redirect_{btf,legacy}.o,
# obj/cls_redirect_xdp_btf.o (the XDP flavour, tc-cls-redirect.8, XDP),
# tools/cls-redirect-{config,stat}, selftests/bin/sendraw, and selftests/guest/
# (kload, check_mtu.bpf.o, gue_echo.hex, and test_prog_run when it exists),
# the static builds of selftests/kernels.mk.  It needs root and a mount
# namespace of its own (the guest's, or unshare -m on the host); it makes its
# own bpffs and network namespaces.
#
# Every line it prints starts with "@@ " (the host reads only those lines from
# the serial console, where kernel messages interleave):
#   @@ kernel RELEASE
#   @@ stat PROG verified_insns N processed N load_us N verify_us N
#   @@ fixture PASS|FAIL|SKIP ...   (test_prog_run's own lines)
#   @@ fixture NOTRUN NAME          (a fixture this kernel cannot run: its
#                                    "not run" line names a Linux release)
#   @@ fixtures-exit N
#   @@ pass NAME | @@ fail NAME: WHY
#   @@ xdploader dispatcher|alone ...  (which way xdp-loader attached)
#   @@ compat kload|tc accepted|rejected: MESSAGE
#   @@ done
set -u
: "${R:?}" "${TC_BTF:?}" "${TC_LEGACY:?}"
# Absolute paths: busybox sh prefers its own applets (ip, tc) to PATH.
IP=${IP:-$(command -v ip)}
G=$R/selftests/guest
SRV=192.0.2.1 CLI=192.0.2.2 PORT=19523
SRV_MAC=02:00:00:00:00:01 CLI_MAC=02:00:00:00:00:02
NS_SRV=kmx$$-srv NS_CLI=kmx$$-cli

say() { echo "@@ $*"; }
ok() { say "pass $1"; }
bad() { say "fail $1: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-2400)"; }
# run NAME CMD...: ok if CMD succeeds, else bad with CMD's output.
run() {
	_n=$1
	shift
	if _o=$("$@" 2>&1); then ok "$_n"; else bad "$_n" "${_o:-$* failed}"; fi
}
srv() { "$IP" netns exec $NS_SRV "$@"; }
cli() { "$IP" netns exec $NS_CLI "$@"; }

say "kernel $(uname -r)"

# A bpffs of our own for the pins, outside /sys: `ip netns exec` mounts a
# fresh sysfs, and with it an empty /sys/fs/bpf, in the commands it runs.
# tc and the tools follow TC_BPF_MNT (pins under $TC_BPF_MNT/tc/globals).
TC_BPF_MNT=$(mktemp -d)
export TC_BPF_MNT
mount -t bpf bpf "$TC_BPF_MNT" || say "fail bpffs: cannot mount a bpffs on $TC_BPF_MNT"

# ---- verifier statistics and load time of the classifier (BTF flavour:
# the one libbpf can open; both flavours hold the same code) ----
out=$("$G/kload" "$R/obj/cls_redirect_btf.o" 2>&1)
case $out in
PROG*) printf '%s\n' "$out" | sed 's/^PROG /@@ stat /' ;;
*) bad load "$(printf '%s\n' "$out" | grep -m1 '^REJECTED' | sed 's/^REJECTED //' | grep . || printf '%s' "$out")" ;;
esac

# ---- the BPF_PROG_TEST_RUN fixtures, run from the top of the tree as
# `make check` runs them ----
if [ -x "$G/test_prog_run" ]; then
	fx=$(mktemp)
	(cd "$R" && CLS_REDIRECT_IP="$IP" "$G/test_prog_run" 2>&1) >"$fx"
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$fx" | sed 's/^/@@ fixture /'
	say "fixtures-exit $rc"
	[ "$rc" = 0 ] || bad fixtures "test_prog_run exited $rc: $(grep -vE '^(PASS|SKIP) ' "$fx" | tail -n 3)"
	# The same fixtures against the XDP flavour (names "xdp:...").
	(cd "$R" && CLS_REDIRECT_IP="$IP" CLS_REDIRECT_OBJ=obj/cls_redirect_xdp_btf.o "$G/test_prog_run" 2>&1) >"$fx"
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$fx" | sed 's/^/@@ fixture /'
	sed -n 's/^# \([^ ]*\) not run: .*Linux [0-9].*/@@ fixture NOTRUN \1/p' "$fx"
	[ "$rc" = 0 ] || bad fixtures-xdp "test_prog_run (XDP) exited $rc: $(grep -vE '^(PASS|SKIP) ' "$fx" | tail -n 3)"
	rm -f "$fx"
fi

# ---- both flavours with their tc, one packet through a veth pair each ----

# count NAME: a counter of cls-redirect-stat's table, 0 if absent.
count() { "$R/tools/cls-redirect-stat" 2>/dev/null | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'; }
in_echos() {
	srv cat /proc/net/snmp | awk '$1 == "Icmp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }'
}

topology() {
	"$IP" netns add $NS_SRV && "$IP" netns add $NS_CLI || return 1
	for n in $NS_SRV $NS_CLI; do
		# No IPv6: no router solicitation or MLD report reaches a counter.
		"$IP" netns exec $n sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6;
			echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null
		"$IP" netns exec $n "$IP" link set lo up || return 1
	done
	"$IP" link add srv0 netns $NS_SRV address $SRV_MAC type veth peer name cli0 netns $NS_CLI address $CLI_MAC || return 1
	srv "$IP" addr add $SRV/24 dev srv0 && srv "$IP" link set srv0 up &&
		cli "$IP" addr add $CLI/24 dev cli0 && cli "$IP" link set cli0 up &&
		srv "$IP" neigh replace $CLI lladdr $CLI_MAC dev srv0 nud permanent &&
		cli "$IP" neigh replace $SRV lladdr $SRV_MAC dev cli0 nud permanent
}
teardown() {
	"$IP" netns del $NS_SRV 2>/dev/null
	"$IP" netns del $NS_CLI 2>/dev/null
	rm -rf "$TC_BPF_MNT/tc"
}

# fresh_pair NAME: a new veth pair between new namespaces, or bad and 1.
fresh_pair() {
	teardown
	o=$(topology 2>&1) && return 0
	bad "$1: veth pair" "$o"
	teardown
	return 1
}

# flavour NAME TC OBJ
flavour() {
	fresh_pair "$1" || return
	run "$1: tc qdisc add clsact" srv "$TC_BTF" qdisc add dev srv0 clsact
	run "$1: cls-redirect-config set" "$R/tools/cls-redirect-config" set addr $SRV port $PORT
	# The fleet: the client sends the GUE (tc-cls-redirect.8, SECURITY).
	run "$1: cls-redirect-config sources add" "$R/tools/cls-redirect-config" sources add $CLI
	if ! o=$(srv "$2" filter add dev srv0 ingress bpf da obj "$3" 2>&1); then
		bad "$1: tc filter add ingress bpf da obj $(basename "$3")" "$(printf '%s\n' "$o" | tail -n 8)"
		teardown
		return
	fi
	ok "$1: tc filter add ingress bpf da obj $(basename "$3")"
	packet "$1"
	if [ "$1" = btf ]; then
		compat_tc
	fi
	teardown
}

# xdp_flavour OBJ: the XDP flavour attached with ip link, native XDP.
xdp_flavour() {
	fresh_pair "xdp" || return
	run "xdp: cls-redirect-config set" "$R/tools/cls-redirect-config" set addr $SRV port $PORT
	run "xdp: cls-redirect-config sources add" "$R/tools/cls-redirect-config" sources add $CLI
	if ! o=$(srv "$IP" link set dev srv0 xdp obj "$1" sec xdp 2>&1); then
		bad "xdp: ip link set dev srv0 xdp obj $(basename "$1") sec xdp" "$(printf '%s\n' "$o" | tail -n 8)"
		teardown
		return
	fi
	ok "xdp: ip link set dev srv0 xdp obj $(basename "$1") sec xdp"
	packet xdp
	teardown
}

# xdp_loader OBJ: the XDP flavour attached with xdp-loader (xdp-tools), maps
# pinned with tc's; through libxdp's dispatcher, next to a second program,
# where the kernel has BTF; alone where it has none.
xdp_loader() {
	XLBIN=$(command -v xdp-loader) || { bad "xdp-loader" "not in the initramfs"; return; }
	fresh_pair "xdp-loader" || return
	run "xdp-loader: cls-redirect-config set" "$R/tools/cls-redirect-config" set addr $SRV port $PORT
	run "xdp-loader: cls-redirect-config sources add" "$R/tools/cls-redirect-config" sources add $CLI
	# XL BPFFS ARGS...: xdp-loader in srv, libxdp's bpffs at BPFFS.
	XL() { _f=$1; shift; srv env LIBXDP_BPFFS="$_f" "$XLBIN" "$@"; }
	if o=$(XL "$TC_BPF_MNT" load -v -m native -p "$TC_BPF_MNT/tc/globals" srv0 "$1" 2>&1); then
		if printf '%s\n' "$o" | grep -q 'Falling back to loading single prog'; then
			say "xdploader alone ($(printf '%s\n' "$o" | grep -m1 'libxdp: .*dispatcher' | sed 's/^ *libxdp: //'))"
		else
			run "xdp-loader: a second program" XL "$TC_BPF_MNT" load -m native srv0 "$R/selftests/progs/xdp_pass.bpf.o"
			# And a second copy of the classifier, as while one copy
			# replaces another: the packet below must still be counted
			# once (the later copy passes what the earlier one marked).
			run "xdp-loader: a second copy of the classifier" XL "$TC_BPF_MNT" load -m native \
				-p "$TC_BPF_MNT/tc/globals" srv0 "$1"
			n=$(XL "$TC_BPF_MNT" status srv0 2>&1 | grep -cE 'cls_redirect_xdp|xdp_pass')
			say "xdploader dispatcher, $n programs"
		fi
	else
		# Newer kernels (Debian's 6.12 here) refuse an extension program
		# that changes packet data in place of one that does not, and the
		# dispatcher of Debian 12's xdp-tools (1.3.1) has such stubs:
		# libxdp does not fall back by itself, but does where it finds no
		# bpffs.
		o=$(XL "$TC_BPF_MNT" load -vv -m native -p "$TC_BPF_MNT/tc/globals" srv0 "$1" 2>&1 |
			grep -iE "packet data|libxdp: Failed" | tail -n 4)
		if ! printf '%s\n' "$o" | grep -q 'changes packet data'; then
			bad "xdp-loader: load" "$o"
			teardown
			return
		fi
		if ! o=$(XL /nonexistent load -v -m native -p "$TC_BPF_MNT/tc/globals" srv0 "$1" 2>&1); then
			bad "xdp-loader: load alone" "$(printf '%s\n' "$o" | tail -n 4)"
			teardown
			return
		fi
		say "xdploader alone (the dispatcher is refused: extension program changes packet data, while original does not)"
	fi
	packet xdp-loader
	teardown
}

# packet NAME: one GUE echo request through the veth pair, accepted,
# delivered and counted once.
packet() {
	echos=$(in_echos)
	if ! o=$(cli "$R/selftests/bin/sendraw" cli0 - <"$G/gue_echo.hex" 2>&1); then
		bad "$1: sendraw" "$o"
	fi
	# The frame is handled in softirq, after sendto returns.
	i=0
	while [ "$(count accepted_packets_total_icmp_echo_request)" != 1 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.2
	got="processed=$(count processed_packets_total) accepted_echo=$(count accepted_packets_total_icmp_echo_request) passed=$(count passed_packets_total) in_echos=+$(($(in_echos) - echos))"
	want="processed=1 accepted_echo=1 passed=0 in_echos=+1"
	if [ "$got" = "$want" ]; then
		ok "$1: GUE echo request through the veth pair accepted and delivered"
	else
		bad "$1: GUE echo request through the veth pair" "expected $want, got $got"
	fi
}

# ---- the deliberately incompatible object: bpf_check_mtu (Linux 5.12) ----
compat_tc() {
	if o=$(srv "$TC_BTF" filter add dev srv0 ingress pref 7 bpf da obj "$G/check_mtu.bpf.o" 2>&1); then
		say "compat tc accepted: tc filter add … check_mtu.bpf.o"
	else
		m=$(printf '%s\n' "$o" | grep -m1 -iE 'invalid func|unknown func|helper') ||
			m=$(printf '%s\n' "$o" | tail -n 1)
		say "compat tc rejected: $m"
	fi
}
o=$("$G/kload" "$G/check_mtu.bpf.o" 2>&1)
case $o in
PROG*) say "compat kload accepted: $o" ;;
*) say "compat kload rejected: $(printf '%s\n' "$o" | grep -m1 '^REJECTED' | sed 's/^REJECTED //')" ;;
esac

flavour btf "$TC_BTF" "$R/obj/cls_redirect_btf.o"
flavour legacy "$TC_LEGACY" "$R/obj/cls_redirect_legacy.o"
xdp_flavour "$R/obj/cls_redirect_xdp_btf.o"
xdp_loader "$R/obj/cls_redirect_xdp_btf.o"
umount "$TC_BPF_MNT" && rmdir "$TC_BPF_MNT"
say "done"
