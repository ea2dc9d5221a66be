#!/bin/sh
# test_kernels: the kernel matrix (tc-cls-redirect.8, KERNELS).  The classifier must
# load and behave identically on every long-term kernel Debian ships, so each
# one is booted under qemu with a small initramfs and the same tests run
# inside it as on the host's own kernel:
#
#   * the BPF_PROG_TEST_RUN fixtures (selftests/test_prog_run, linked
#     statically), every one with the same expected verdict, bytes and
#     counters, and the same set passing as on the host, against the tc
#     object and the XDP object (tc-cls-redirect.8, XDP);
#   * `tc filter add ... bpf da obj` of both flavours, each with its own tc
#     (the system tc for cls_redirect_btf.o, the tc without libbpf of
#     selftests/lib/legacy-tc.sh for cls_redirect_legacy.o);
#   * one GUE packet through a veth pair per flavour (and with the XDP
#     flavour attached by ip link, and by xdp-loader: through libxdp's
#     dispatcher next to a second program where the kernel has BTF, alone
#     where not; the line says which): accepted, decapsulated, delivered,
#     counted exactly once;
#   * the verifier's cost (verified_insns, or the processed-instruction count
#     where bpf_prog_info lacks it, before 5.16) and the load time.
#
# One line per kernel:  PASS|FAIL kernel-SERIES: ...   (kernel-current is
# the host's), and kernel-matrix-catches-regressions: a tiny program calling
# bpf_check_mtu (5.12) must be rejected by 5.10 and loaded by the others, so
# the matrix is shown to catch a helper newer than 5.10.
#
# Kernels come from selftests/lib/kernels/fetch.sh (Debian cloud images,
# cached in ${CLS_REDIRECT_CACHE:-/var/cache/cls-redirect}/kernels; the first
# run downloads about 60 MB).  qemu runs with software emulation (TCG).
#
#   CLS_REDIRECT_KERNELS="5.10 6.1 6.12"   the series to boot
#   CLS_REDIRECT_ACCEL=kvm|tcg             force an accelerator
#   CLS_REDIRECT_KERNEL_TIMEOUT=300        seconds per boot
#   CLS_REDIRECT_KERNEL_LOGS=DIR           keep each console log there
set -u
. "$(dirname "$0")/lib/common.sh"
require_root

KERNELS=${CLS_REDIRECT_KERNELS:-5.10 6.1 6.12}
TIMEOUT=${CLS_REDIRECT_KERNEL_TIMEOUT:-300}
K=$REPO/selftests/lib/kernels
G=$REPO/selftests/guest
QEMU=qemu-system-x86_64

fail_all() {
	for _k in current $KERNELS; do fail "kernel-$_k" "$1"; done
	exit 1
}

if ! command -v $QEMU >/dev/null; then
	for k in $KERNELS; do skip "kernel-$k" "$QEMU not installed (make deps installs qemu-system-x86)"; done
	exit 0
fi
for c in busybox cpio; do
	command -v $c >/dev/null || fail_all "$c not installed: run 'make deps' (busybox-static, cpio)"
done
missing=
for f in obj/cls_redirect_btf.o obj/cls_redirect_legacy.o obj/cls_redirect_xdp_btf.o selftests/progs/xdp_pass.bpf.o tools/cls-redirect-config \
	tools/cls-redirect-stat selftests/bin/sendraw; do
	[ -e "$REPO/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] || fail_all "missing:$missing (run 'make')"
# The static programs for the guests (selftests/kernels.mk); cheap when built.
out=$(make -s -C "$REPO" -f selftests/kernels.mk kernels-guest 2>&1) ||
	fail_all "building selftests/guest/ failed: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
TC_LEGACY=$(sh "$REPO/selftests/lib/legacy-tc.sh") || fail_all "no legacy tc (selftests/lib/legacy-tc.sh failed)"

# Software emulation by default: it boots each kernel in seconds, and KVM is
# not dependable where this runs nested (a cloud VM whose KVM rejects MSRs or
# fails to emulate cmpxchg16b for these guests).
accel=${CLS_REDIRECT_ACCEL:-tcg}

tmpdir T

# The packet of the veth case: an ICMP echo request from cli to srv,
# GUE-encapsulated with an empty hop list (N = 0: the last hop), between the
# fixed MAC and IPv4 addresses of guest-tests.sh, to UDP port 19523.
icmp_data="1234 0001 636c737265646972"
icmp="0800 $(csum16 "0800 0000 $icmp_data") $icmp_data"
echo "020000000001 020000000002 0800 $(ipv4_header 72 17 2 192.0.2.2 192.0.2.1)" \
	"3039 4c43 0034 0000 01040000 00000000 $(ipv4_header 36 1 1 192.0.2.2 192.0.2.1) $icmp" \
	>"$G/gue_echo.hex"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

t0=$(now_ms)
sh "$K/initramfs.sh" common "$T/common.cpio" "$REPO" "$TC_LEGACY" ||
	fail_all "building the initramfs failed"
echo "initramfs: common part $(($(wc -c <"$T/common.cpio") / 1024)) KiB, built in $(secs "$t0" "$(now_ms)") s; qemu accel $accel"

HOST_FIXTURES=$T/host-fixtures
COMPAT=$T/compat
: >"$COMPAT"

# verdict NAME LOG SECONDS: the result line of one kernel from its "@@ " lines.
verdict() {
	_name=$1 _log=$2 _secs=$3
	tr -d '\r' <"$_log" | sed -n 's/^@@ //p' >"$T/at"
	_rel=$(sed -n 's/^kernel //p' "$T/at" | head -n 1)
	if [ -z "$_rel" ]; then
		fail "$_name" "the kernel did not run the tests ($(tr -d '\r' <"$_log" | grep -v '^[[:space:]]*$' | tail -n 3 | tr '\n' ' '))"
		return
	fi
	# The compat lines, for kernel-matrix-catches-regressions.
	sed -n "s/^compat /$_name $_rel /p" "$T/at" >>"$COMPAT"
	_why=$(sed -n 's/^fail //p' "$T/at" | head -n 3 | paste -sd';' -)
	if ! grep -q '^done$' "$T/at"; then
		fail "$_name" "$_rel: ${_why:+$_why; }the tests did not finish ($(tr -d '\r' <"$_log" | grep -v '^@@' | grep -v '^[[:space:]]*$' | tail -n 3 | tr '\n' ' '))"
		return
	fi
	_fx_pass=$(grep -c '^fixture PASS ' "$T/at")
	_fx_bad=$(grep -E '^fixture (FAIL|SKIP) ' "$T/at" | sed 's/^fixture //' | head -n 3 | paste -sd';' -)
	[ -z "$_fx_bad" ] || _why="${_why:+$_why; }fixtures: $_fx_bad"
	sed -n 's/^fixture PASS //p' "$T/at" | sort >"$T/fx"
	if [ "$_name" = kernel-current ]; then
		cp "$T/fx" "$HOST_FIXTURES"
	elif [ -f "$HOST_FIXTURES" ]; then
		# A fixture the kernel says it cannot run (its "not run" line names
		# the Linux release of the missing test-run feature) is no
		# difference; any other is.
		sed -n 's/^fixture NOTRUN //p' "$T/at" | sort >"$T/notrun"
		_diff=$(comm -3 "$HOST_FIXTURES" "$T/fx" | tr -d '\t' | sort | comm -23 - "$T/notrun" |
			head -n 3 | paste -sd';' -)
		[ -z "$_diff" ] || _why="${_why:+$_why; }fixtures passing differ from the host's: $_diff"
		[ ! -s "$T/notrun" ] || _fx_pass="$_fx_pass (+$(wc -l <"$T/notrun") it cannot run)"
	fi
	_stat=$(awk '$1 == "stat" && $2 == "cls_redirect" { print $4, $6, $8, $10; exit }' "$T/at")
	if [ -z "$_stat" ]; then
		_cost="no verifier statistics"
	else
		set -- $_stat
		if [ "$1" != 0 ]; then
			_cost="verified_insns $1"
		else
			_cost="processed insns $2 (no verified_insns before 5.16)"
		fi
		_cost="$_cost, load $(awk -v u="$3" 'BEGIN { printf "%.1f", u / 1000 }') ms"
	fi
	_xl=$(sed -n 's/^xdploader //p' "$T/at" | head -n 1)
	[ -n "$_xl" ] || _why="${_why:+$_why; }xdp-loader did not run"
	if [ -n "$_why" ]; then
		fail "$_name" "$_rel: $_why"
	else
		pass "$_name: $_rel, $_fx_pass fixtures, $_cost, tc load + veth packet ok for btf and legacy, ip link xdp + veth packet ok, xdp-loader + veth packet ok ($_xl), $_secs s"
	fi
}

# ---- the host's own kernel, in a private mount namespace (its own bpffs,
# its own /run for ip netns) ----
t0=$(now_ms)
R=$REPO TC_BTF=$(command -v tc) TC_LEGACY=$TC_LEGACY \
	unshare -m --propagation private sh -c '
		mount -t bpf bpf /sys/fs/bpf && mount -t tmpfs tmpfs /run && exec sh "$0"' \
	"$K/guest-tests.sh" >"$T/current.log" 2>&1
verdict kernel-current "$T/current.log" "$(secs "$t0" "$(now_ms)")"

# ---- each Debian kernel under qemu ----
if [ "$accel" = kvm ]; then cpu=host; else cpu=max; fi
for k in $KERNELS; do
	t0=$(now_ms)
	if ! kdir=$(sh "$K/fetch.sh" "$k" 2>"$T/fetch.err"); then
		fail "kernel-$k" "cannot fetch the kernel: $(tail -n 2 "$T/fetch.err" | tr '\n' ' ')"
		continue
	fi
	t1=$(now_ms)
	if ! sh "$K/initramfs.sh" modules "$T/modules-$k.cpio" "$kdir" ||
		! cat "$T/common.cpio" "$T/modules-$k.cpio" >"$T/initrd-$k"; then
		fail "kernel-$k" "cannot build its initramfs"
		continue
	fi
	timeout "$TIMEOUT" $QEMU -accel "$accel" -cpu $cpu -smp 1 -m 512 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot \
		-kernel "$kdir/vmlinuz" -initrd "$T/initrd-$k" \
		-append "console=ttyS0 panic=-1 quiet loglevel=1" </dev/null >"$T/$k.log" 2>&1
	[ $? = 124 ] && echo "timed out after $TIMEOUT s (CLS_REDIRECT_KERNEL_TIMEOUT)" >>"$T/$k.log"
	t2=$(now_ms)
	verdict "kernel-$k" "$T/$k.log" "$(secs "$t1" "$t2")"
	[ -n "${CLS_REDIRECT_KERNEL_LOGS:-}" ] && cp "$T/$k.log" "$CLS_REDIRECT_KERNEL_LOGS/kernel-$k.log"
	echo "kernel-$k: fetch $(secs "$t0" "$t1") s (about 0 when cached), boot and tests $(secs "$t1" "$t2") s ($accel)"
done

# ---- the deliberately incompatible build: bpf_check_mtu is Linux 5.12 ----
# Each kernel older than 5.12 must reject it, through kload (libbpf) and
# through tc alike; each newer one must load it.
why='' older='' newer=''
while read -r name rel tool result msg; do
	case $rel in
	[0-4].* | 5.[0-9].* | 5.1[01].*) want=rejected older="$older ${name#kernel-}" ;;
	*) want=accepted newer="$newer ${name#kernel-}" ;;
	esac
	[ "$result" = "$want:" ] || why="${why:+$why; }$name ($rel) $tool: ${result%:}, expected $want ($msg)"
	[ "$result" = rejected: ] && echo "check_mtu.bpf.o on $name ($rel), $tool: $msg"
done <"$COMPAT"
older=$(echo "$older" | tr ' ' '\n' | sed '/^$/d' | sort -u | paste -sd' ' -)
newer=$(echo "$newer" | tr ' ' '\n' | sed '/^$/d' | sort -u | paste -sd' ' -)
if [ ! -s "$COMPAT" ]; then
	fail kernel-matrix-catches-regressions "no kernel ran the check_mtu test"
elif [ -n "$why" ]; then
	fail kernel-matrix-catches-regressions "$why"
elif [ -z "$older" ]; then
	fail kernel-matrix-catches-regressions "no kernel older than 5.12 ran: nothing shows that a newer helper is caught"
else
	pass "kernel-matrix-catches-regressions: bpf_check_mtu (5.12) rejected by tc and the verifier on $older, loaded on $newer"
fi
test_done
