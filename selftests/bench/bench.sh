#!/bin/sh
# The driver of `make bench` (root).  Three parts, one table, one JSON file:
#
# 1. selftests/bench/bench run: per-packet cost of every packet class through
#    BPF_PROG_TEST_RUN, next to an empty tc program (the floor) in the same
#    rounds, the same for the kernel calls the paths are built from
#    (selftests/progs/parts.bpf.c), plus the verifier's cost and the program sizes
#    (libbpf, pinning off).  With BENCH_BASE=REV (make bench BASE=REV), the
#    classifier of git revision REV is built in a temporary worktree (with
#    that revision's Makefile, obj/ and include/; the worktree is removed
#    right after) and timed in the same rounds as a second program: the
#    table gives, per class, the current / base ratio and its spread.
#    The XDP flavour (tc-cls-redirect.8, XDP) is timed the same way next to
#    an empty XDP program (bench run -X), in its own table.
# 2. Load time of each object flavour with the loader that reads it: the
#    system tc (libbpf) for obj/cls_redirect_btf.o, a tc without libbpf
#    (selftests/lib/legacy-tc.sh) for obj/cls_redirect_legacy.o.
#    obj/cls_redirect.o is a copy of one of the two.
# 3. Real traffic: a veth pair between two namespaces; in "gen",
#    selftests/progs/xdpgen.bpf.o transmits one packet class as fast as it can
#    (XDP live frames, XDP_TX); in "srv" the frames arrive in a threaded
#    NAPI on the other CPU, pass tc ingress and the stack drops them (inner
#    and plain destinations are not local, forwarding is off; forwarded
#    packets go back to "gen" and are dropped there).  Every class runs with
#    no filter, with the empty program and with the classifier, one after
#    the other, and reports received packets per second.  With the BPF
#    run-time statistics held on for the part (bench stats: a
#    BPF_ENABLE_STATS fd, never the sysctl), the classifier's
#    run_time_ns / run_cnt gives its cost per run in the real datapath
#    (decapsulated IPv6 packets run it twice: the re-entry pass is cheap).
#    Then every class again with the XDP flavour on s0 (native XDP, 3b),
#    BENCH_XDP_PAIRS times (3) back to back with the tc classifier, which
#    one first alternating: xdp/tc is the median of the pairs' ratios.
#    No filter, the classifier and XDP also report the receiving side's
#    CPU time per packet: what the NAPI thread of s0 and ksoftirqd on its
#    CPU spent (schedstat), over the packets received.
#    3c. A TCP upload of BENCH_UPLOAD bytes (1 GiB; 0 skips it) accepted
#    through second chance in the topology of test_e2e
#    (selftests/lib/topology.sh), BENCH_UPLOAD_ROUNDS times (3) with each
#    flavour on both servers: the accepting server's CPU time (its NAPI
#    thread and the receiving application), XDP over tc per round.
#
#   sh selftests/bench/bench.sh [RESULTS.json]     (default bench/results.json;
#                                             the text goes next to it, .txt)
# BENCH_BASE=REV: also time the classifier of git revision REV (see 1.);
# BENCH_ROUNDS (default 10000), BENCH_PASSES (20), BENCH_COPIES (8): rounds
# of part 1, passes they are split into, fresh loads of each program per
# pass (selftests/bench/bench.c says what they are);
# BENCH_SERVICES=N (default 0): N services listed, none a class's destination
# (tc-cls-redirect.8, CONTAINERS), in the tc flavour's part 1;
# BENCH_BASE_SERVICES=M: the base lists M services instead of N (bench run
# -s), so that BASE=HEAD BENCH_SERVICES=64 BENCH_BASE_SERVICES=0 times what
# 64 services cost against none, in the same rounds;
# BENCH_SECONDS (default 2) traffic per class and setup in part 3;
# BENCH_TRAFFIC=0 skips part 3; BENCH_TRAFFIC=upload runs only its 3c;
# BENCH_TRUST=N (make bench TRUST=N): each trust list holds N prefixes in
# part 1 instead of 0.0.0.0/0 (bench run -T).
set -u
CLS_REDIRECT_REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$CLS_REDIRECT_REPO/selftests/lib/common.sh"
cd "$REPO" || exit 2
[ "$(id -u)" = 0 ] || { echo "make bench must run as root (sudo make bench): it loads BPF programs and creates network namespaces" >&2; exit 2; }
private_bpffs "$@"
# Our own namespace prefix: other runs clean up clsr* namespaces.
ns() { echo "clsbench$$-$1"; }

JSON=${1:-bench/results.json}
TXT=${JSON%.json}.txt
ROUNDS=${BENCH_ROUNDS:-10000}
PASSES=${BENCH_PASSES:-20}
COPIES=${BENCH_COPIES:-8}
SECONDS_PER=${BENCH_SECONDS:-2}
BASE_REV=${BENCH_BASE:-}
BENCH=$REPO/selftests/bench/bench
mkdir -p "$(dirname "$JSON")" || exit 2
for f in selftests/bench/bench selftests/progs/floor.bpf.o selftests/progs/floor_xdp.bpf.o selftests/progs/parts.bpf.o selftests/progs/xdpgen.bpf.o \
	obj/cls_redirect_btf.o obj/cls_redirect_xdp_btf.o obj/cls_redirect_xdp.o \
	obj/cls_redirect_legacy.o tools/cls-redirect-config tools/cls-redirect-stat; do
	[ -e "$f" ] || { echo "bench: $f missing: run make (make bench builds everything)" >&2; exit 2; }
done
tmpdir T

say() { echo "$*" | tee -a "$T/out.txt"; }
# The flavours of the Nth pair of a tc/XDP comparison, in the order they
# run: the first of each pair takes turns, so neither always runs first.
pair_order() { if [ $(($1 % 2)) = 0 ]; then echo "xdp tc"; else echo "tc xdp"; fi; }
# sched_ns PID: ns PID has been on a CPU so far.
sched_ns() { awk '{print $1}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }
# spread: "median lowest highest" of the numbers on stdin, two decimals.
spread() {
	sort -n | awk '{v[NR] = $1} END {
		if (!NR) { print "0 0 0"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}

# ---- the base: REV's classifier, built in a temporary worktree ----
set --
if [ -n "$BASE_REV" ]; then
	base_sha=$(git -C "$REPO" rev-parse -q --verify "$BASE_REV^{commit}" 2>/dev/null) || {
		echo "bench: BASE=$BASE_REV is not a revision of the git repository $REPO: give a commit, tag or branch (git log --oneline)" >&2
		exit 1
	}
	base_wt=$T/base-worktree
	cleanup_add "git -C '$REPO' worktree remove --force '$base_wt' 2>/dev/null; git -C '$REPO' worktree prune"
	git -C "$REPO" worktree add -q --detach "$base_wt" "$base_sha" >"$T/base.log" 2>&1 || {
		echo "bench: cannot check out BASE=$BASE_REV in a temporary worktree (git worktree add):" >&2
		cat "$T/base.log" >&2
		exit 2
	}
	[ -f "$base_wt/obj/cls_redirect.c" ] || { echo "bench: BASE=$BASE_REV has no obj/cls_redirect.c to compare with" >&2; exit 1; }
	# That revision's own Makefile builds its classifier, as `make` there would.
	make -C "$base_wt" --no-print-directory obj/cls_redirect_btf.o >"$T/base.log" 2>&1 || {
		echo "bench: building obj/cls_redirect_btf.o of BASE=$BASE_REV failed:" >&2
		tail -n 20 "$T/base.log" >&2
		exit 2
	}
	cp "$base_wt/obj/cls_redirect_btf.o" "$T/base.o" || exit 2
	# Its XDP flavour too, where it has one (section 1b).
	if [ -f "$base_wt/obj/cls_redirect_xdp.c" ] &&
		make -C "$base_wt" --no-print-directory obj/cls_redirect_xdp_btf.o >"$T/base.log" 2>&1; then
		cp "$base_wt/obj/cls_redirect_xdp_btf.o" "$T/base_xdp.o" || exit 2
	fi
	git -C "$REPO" worktree remove --force "$base_wt" || exit 2
	base_label="$BASE_REV ($(git -C "$REPO" rev-parse --short "$base_sha"))"
	set -- -B "$T/base.o" -L "$base_label"
fi

# ---- 1. BPF_PROG_TEST_RUN ----
"$BENCH" run -n "$ROUNDS" -p "$PASSES" -c "$COPIES" -T "${BENCH_TRUST:-0}" -S "${BENCH_SERVICES:-0}" \
	-s "${BENCH_BASE_SERVICES:--1}" -o "$T/run.json" "$@" >"$T/run.txt" || exit 2
{
	echo "cls-redirect benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
		"$(awk '/MemTotal/ {printf "%d GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)," \
		"$(systemd-detect-virt 2>/dev/null || echo unknown virtualisation)," \
		"SRSO: $(cat /sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow 2>/dev/null || echo n/a)"
	echo "object: obj/cls_redirect.c at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"$(git -C "$REPO" diff --quiet HEAD -- obj include 2>/dev/null || echo '(modified)')"
	[ -z "$BASE_REV" ] || echo "base: obj/cls_redirect.c at $base_label"
	echo
	echo "== 1. per-packet cost, BPF_PROG_TEST_RUN"
	cat "$T/run.txt"
} >"$T/out.txt"
cat "$T/out.txt"

# ---- 1b. the XDP flavour, BPF_PROG_TEST_RUN ----
xbase=
if [ -e "$T/base_xdp.o" ]; then xbase="-B $T/base_xdp.o"; fi
"$BENCH" run -X -n "$ROUNDS" -p "$PASSES" -c "$COPIES" -o "$T/run_xdp.json" $xbase ${xbase:+-L "$base_label"} >"$T/run_xdp.txt" || exit 2
say ""
say "== 1b. per-packet cost of the XDP flavour, BPF_PROG_TEST_RUN (floor: an empty XDP program)"
tee -a "$T/out.txt" <"$T/run_xdp.txt"

# ---- 2. load time with tc ----
# load_with TC OBJ: median of 3 loads in a fresh namespace, in ms; sets
# LOAD_MS and LOAD_INFO ("verified_insns xlated jited ...").
netns_add load
in_ns load tc qdisc add dev lo clsact
load_with() {
	_ms=
	for _i in 1 2 3; do
		bpffs_reset
		_t0=$(date +%s%N)
		in_ns load "$1" filter replace dev lo ingress pref 1 bpf da obj "$2" sec classifier >/dev/null 2>&1 || return 1
		_t1=$(date +%s%N)
		_ms="$_ms $(((_t1 - _t0) / 10000))"
	done
	LOAD_MS=$(printf '%s\n' $_ms | sort -n | sed -n 2p | awk '{printf "%.1f", $1 / 100}')
	_id=$(in_ns load bpftool net -j | jq '.[0].tc[0].id')
	LOAD_INFO=$("$BENCH" proginfo "$_id")
	in_ns load tc filter del dev lo ingress pref 1
	bpffs_reset
}
echo "[]" >"$T/loads.json"
say ""
say "== 2. load time with tc (median of 3, tc process included)"
printf '%-28s %-22s %14s %10s %10s %9s\n' object loader verified_insns xlated jited load | tee -a "$T/out.txt"
legacy_tc=$(sh selftests/lib/legacy-tc.sh 2>/dev/null) || legacy_tc=
for flavour in btf legacy; do
	obj=obj/cls_redirect_$flavour.o
	if [ $flavour = btf ]; then tcbin=tc loader="tc (libbpf $(tc -V | sed -n 's/.*libbpf \([0-9.]*\).*/\1/p'))"
	else tcbin=$legacy_tc loader="tc (legacy ELF loader)"; fi
	if [ -z "$tcbin" ] || ! load_with "$tcbin" "$obj"; then
		say "$obj: not loaded (no $loader available)"
		continue
	fi
	set -- $LOAD_INFO
	printf '%-28s %-22s %14s %8s B %8s B %6s ms\n' "$obj" "$loader" "$1" "$2" "$3" "$LOAD_MS" | tee -a "$T/out.txt"
	jq --arg o "$obj" --arg l "$loader" --argjson v "$1" --argjson x "$2" --argjson j "$3" --argjson ms "$LOAD_MS" \
		'. + [{object: $o, loader: $l, verified_insns: $v, xlated_bytes: $x, jited_bytes: $j, load_ms: $ms}]' \
		"$T/loads.json" >"$T/l" && mv "$T/l" "$T/loads.json"
done
say "obj/cls_redirect.o is a copy of obj/cls_redirect_$(cmp -s obj/cls_redirect.o obj/cls_redirect_btf.o && echo btf || echo legacy).o"

# ---- 3. real traffic ----
echo "[]" >"$T/traffic.json"
if [ "${BENCH_TRAFFIC:-1}" != 0 ] && [ "${BENCH_TRAFFIC:-1}" != upload ]; then
	netns_add gen
	netns_add srv
	veth_pair gen g0 192.0.2.2 srv s0 192.0.2.1
	# NAPI on s0 (GRO on) is what lets veth accept XDP frames from g0;
	# threaded NAPI on the other CPU keeps receiving apart from sending.
	in_ns srv ethtool -K s0 gro on >/dev/null 2>&1
	# Other tests name their interfaces s0 too: ours is the NAPI thread that
	# turning threaded NAPI on creates.
	napis() { ps -eo pid=,comm= | awk '$2 ~ /^napi\/s0-/ {print $1}' | sort; }
	napis >"$T/napi.before"
	in_ns srv sh -c 'echo 1 >/sys/class/net/s0/threaded'
	napi=$(napis | comm -13 "$T/napi.before" - | head -n 1)
	[ -n "$napi" ] || { echo "bench: no threaded NAPI thread appeared for s0 (Linux 5.12 or later has them)" >&2; exit 2; }
	taskset -pc 1 "$napi" >/dev/null
	mac=$(mac_of srv s0)
	in_ns srv tc qdisc add dev s0 clsact
	"$REPO/tools/cls-redirect-config" set addr 192.0.2.1 port 19523 >/dev/null 2>&1 || exit 2
	"$REPO/tools/cls-redirect-config" sources add 0.0.0.0/0 || exit 2
	"$REPO/tools/cls-redirect-config" hops add 0.0.0.0/0 || exit 2

	# The known flow, held open in srv for the whole run.
	# (ip netns exec execs bench: $! is the pid to kill.)
	ip netns exec "$(ns srv)" "$BENCH" tcpflow >"$T/flow" 2>/dev/null </dev/null &
	flowpid=$!
	cleanup_add "kill $flowpid"
	for _i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/flow" ] && break; sleep 0.1; done
	read -r cport sport <"$T/flow" || exit 2

	# run_time_ns and run_cnt count while a BPF_ENABLE_STATS fd is held
	# (bench stats): the kernel turns them off again when the last holder
	# exits, and kernel.bpf_stats_enabled is never written (two benchmarks
	# saving and restoring it in turn could leave it on for good).
	"$BENCH" stats >"$T/stats" 2>&1 &
	statspid=$!
	cleanup_add "kill $statspid"
	for _i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/stats" ] && break; sleep 0.1; done
	[ "$(cat "$T/stats")" = on ] || { echo "bench: $(cat "$T/stats")" >&2; exit 2; }

	rx() { in_ns srv ip -s -j link show s0 2>/dev/null | jq '.[0].stats64.rx.packets'; }
	# cpu_ns: ns on CPU of s0's NAPI thread and of ksoftirqd/1 so far.
	ksoftirqd=$(ps -eo pid=,comm= | awk '$2 == "ksoftirqd/1" {print $1; exit}')
	cpu_ns() { cat "/proc/$napi/schedstat" "/proc/$ksoftirqd/schedstat" 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
	# per_pkt NS_BEFORE RX_BEFORE: CPU ns per packet received since.
	per_pkt() { awk -v c="$(($(cpu_ns) - $1))" -v p="$(($(rx) - $2))" 'BEGIN {printf "%.0f", p ? c / p : 0}'; }
	progid() { in_ns srv bpftool net -j | jq '.[0].tc[0].id'; }
	# run CLASS: traffic for SECONDS_PER; sets SENT, RX_PPS, TX_PPS.
	run() {
		_a=$(rx)
		set -- $(in_ns gen taskset -c 0 "$BENCH" gen g0 "$1" "$SECONDS_PER" "$mac" "$cport" "$sport")
		_b=$(rx)
		RX_PPS=$(((_b - _a) * 1000000000 / $2))
		TX_PPS=$(($1 * 1000000000 / $2))
	}
	say ""
	say "== 3. real traffic: veth, XDP generator on CPU 0, threaded NAPI receiver on CPU 1, ${SECONDS_PER} s per run"
	say "pps received by s0; ns/pkt = run_time_ns delta / packets received (BPF run-time statistics);"
	say "runs/pkt = run_cnt / packets (decapsulated IPv6 packets pass the classifier a second time);"
	say "cpu/pkt: ns the receiving side (NAPI thread of s0 + ksoftirqd/1) spent per packet received,"
	say "with no filter, the floor and the classifier (they do not count time other work takes from that CPU)"
	printf '%-17s %9s %9s %9s %10s %7s %12s %10s %8s %18s\n' class offered no-filter floor classifier "cls/nf" \
		"floor ns/pkt" "cls ns/pkt" "runs/pkt" "cpu/pkt nf/fl/cls" | tee -a "$T/out.txt"
	for class in $("$BENCH" classes | cut -f1); do
		# Route mode needs routes and a neighbour on the receiving side, the
		# pod class a pod with its flow: their classes are measured by
		# BPF_PROG_TEST_RUN only (section 1).
		case $class in *_route | *_pod) continue ;; esac
		[ -e "/var/run/netns/$(ns srv)" ] && [ -e "/var/run/netns/$(ns gen)" ] || {
			say "bench: namespace $(ns srv) or $(ns gen) vanished (removed by someone else): traffic part stopped"
			break
		}
		c0=$(cpu_ns) r0=$(rx)
		run "$class"; nf=$RX_PPS; offered=$TX_PPS
		nf_cpu=$(per_pkt "$c0" "$r0")

		in_ns srv tc filter add dev s0 ingress pref 1 bpf da obj selftests/progs/floor.bpf.o sec classifier
		id=$(progid); set -- $("$BENCH" proginfo "$id"); t0=$4 c0=$5
		_a=$(rx) cpu0=$(cpu_ns)
		run "$class"; fl=$RX_PPS
		fl_cpu=$(per_pkt "$cpu0" "$_a")
		_b=$(rx)
		set -- $("$BENCH" proginfo "$id"); fl_ns=$(((($4 - t0) * 10 / (_b - _a + (_a == _b))) ))
		in_ns srv tc filter del dev s0 ingress pref 1

		in_ns srv tc filter add dev s0 ingress pref 1 bpf da obj obj/cls_redirect.o sec classifier
		id=$(progid); set -- $("$BENCH" proginfo "$id"); t0=$4 c0=$5
		_a=$(rx) cpu0=$(cpu_ns)
		run "$class"; cl=$RX_PPS
		cl_cpu=$(per_pkt "$cpu0" "$_a")
		_b=$(rx)
		set -- $("$BENCH" proginfo "$id")
		runs=$(($5 - c0)) cl_ns=$(((($4 - t0) * 10 / (_b - _a + (_a == _b))) ))
		in_ns srv tc filter del dev s0 ingress pref 1


		ratio=$(awk -v a="$cl" -v b="$nf" 'BEGIN {printf "%.2f", b ? a / b : 0}')
		rpp=$(awk -v r="$runs" -v p="$((_b - _a))" 'BEGIN {printf "%.2f", p ? r / p : 0}')
		fl_ns=$(awk -v v="$fl_ns" 'BEGIN {printf "%.1f", v / 10}')
		cl_ns=$(awk -v v="$cl_ns" 'BEGIN {printf "%.1f", v / 10}')
		printf '%-17s %9s %9s %9s %10s %7s %12s %10s %8s %18s\n' "$class" "$offered" "$nf" "$fl" "$cl" "$ratio" \
			"$fl_ns" "$cl_ns" "$rpp" "$nf_cpu/$fl_cpu/$cl_cpu" | tee -a "$T/out.txt"
		jq --arg c "$class" --argjson o "$offered" --argjson nf "$nf" --argjson fl "$fl" --argjson cl "$cl" \
			--argjson fns "$fl_ns" --argjson cns "$cl_ns" --argjson rpp "$rpp" \
			--argjson nfc "$nf_cpu" --argjson flc "$fl_cpu" --argjson clc "$cl_cpu" \
			'. + [{class: $c, offered_pps: $o, no_filter_pps: $nf, floor_pps: $fl, classifier_pps: $cl,
			       floor_ns_per_packet: $fns, classifier_ns_per_packet: $cns, classifier_runs_per_packet: $rpp,
			       no_filter_cpu_ns_per_packet: $nfc, floor_cpu_ns_per_packet: $flc,
			       classifier_cpu_ns_per_packet: $clc}]' \
			"$T/traffic.json" >"$T/t" && mv "$T/t" "$T/traffic.json"
	done

	# 3b. The XDP flavour on s0 (native), after all the tc runs.  GRO on g0
	# (NAPI) lets it take the frames sent back with XDP_TX, as it takes
	# what tc redirects.  Each class is run XDP_PAIRS times with the tc
	# classifier and with the XDP flavour, back to back, which one first
	# alternating, all with GRO on g0: the xdp/tc ratio of a class is the
	# median of the pairs' ratios (lowest-highest), never a comparison of
	# runs minutes apart: on this machine those differ by more than the two
	# flavours do.
	in_ns gen ethtool -K g0 gro on >/dev/null 2>&1
	XDP_PAIRS=${BENCH_XDP_PAIRS:-3}
	# one tc|xdp CLASS: a run with that flavour on s0; sets ONE_CPU (cpu/pkt),
	# ONE_NS (the program's ns/pkt), ONE_PPS.
	one() {
		if [ "$1" = xdp ]; then
			in_ns srv ip link set dev s0 xdp obj obj/cls_redirect_xdp.o sec xdp
			_id=$(in_ns srv ip -j link show dev s0 | jq '.[0].xdp.prog.id')
		else
			in_ns srv tc filter add dev s0 ingress pref 1 bpf da obj obj/cls_redirect.o sec classifier
			_id=$(progid)
		fi
		set -- "$1" "$2" $("$BENCH" proginfo "$_id")
		_t0=$6 _a=$(rx) _c0=$(cpu_ns)
		run "$2"
		ONE_PPS=$RX_PPS ONE_CPU=$(per_pkt "$_c0" "$_a")
		_b=$(rx)
		set -- "$1" "$2" $("$BENCH" proginfo "$_id")
		ONE_NS=$(awk -v t="$(($6 - _t0))" -v p="$((_b - _a))" 'BEGIN {printf "%.1f", p ? t / p : 0}')
		if [ "$1" = xdp ]; then
			in_ns srv ip link set dev s0 xdp off
		else
			in_ns srv tc filter del dev s0 ingress pref 1
		fi
	}
	say ""
	say "== 3b. real traffic with the XDP flavour on s0 (native XDP), same setup, GRO on g0"
	say "each class $XDP_PAIRS times with the tc classifier and with the XDP flavour, back to back; xdp ns/pkt ="
	say "run_time_ns delta / packets received; cpu/pkt as above (medians); xdp/tc: the median over the pairs of"
	say "the XDP flavour's cpu/pkt over the tc classifier's in the same pair (lowest-highest)"
	printf '%-17s %9s %10s %10s %9s %9s %8s %11s\n' class offered xdp "xdp ns/pkt" "tc cpu" "xdp cpu" "xdp/tc" "spread" |
		tee -a "$T/out.txt"
	for class in $("$BENCH" classes | cut -f1); do
		case $class in *_route | *_pod) continue ;; esac
		[ -e "/var/run/netns/$(ns srv)" ] && [ -e "/var/run/netns/$(ns gen)" ] || break
		: >"$T/pairs"
		_p=0
		while [ $_p -lt "$XDP_PAIRS" ]; do
			_p=$((_p + 1))
			for _f in $(pair_order $_p); do
				one $_f "$class"
				eval "_${_f}_cpu=\$ONE_CPU _${_f}_ns=\$ONE_NS _${_f}_pps=\$ONE_PPS"
			done
			echo "$_tc_cpu $_xdp_cpu $_xdp_ns $_xdp_pps" >>"$T/pairs"
		done
		offered=$TX_PPS
		set -- $(awk '$1 > 0 {print $2 / $1}' "$T/pairs" | spread) \
			$(cut -d' ' -f1 "$T/pairs" | spread) $(cut -d' ' -f2 "$T/pairs" | spread) \
			$(cut -d' ' -f3 "$T/pairs" | spread) $(cut -d' ' -f4 "$T/pairs" | spread)
		rel=$1 lo=$2 hi=$3 tc_cpu=${4%.*} xd_cpu=${7%.*} xd_ns=${10} xd=${13%.*}
		printf '%-17s %9s %10s %10s %9s %9s %8s %11s\n' "$class" "$offered" "$xd" "$xd_ns" "$tc_cpu" "$xd_cpu" \
			"${rel}x" "$lo-$hi" | tee -a "$T/out.txt"
		jq --arg c "$class" --argjson xd "$xd" --argjson xns "$xd_ns" --argjson xdc "$xd_cpu" --argjson tcc "$tc_cpu" \
			--argjson r "[$rel, $lo, $hi]" \
			'map(if .class == $c then . + {xdp_pps: $xd, xdp_ns_per_packet: $xns, xdp_cpu_ns_per_packet: $xdc,
			      paired_tc_cpu_ns_per_packet: $tcc, xdp_over_tc_cpu: $r} else . end)' \
			"$T/traffic.json" >"$T/t" && mv "$T/t" "$T/traffic.json"
	done
	say "classifier outcome counters over the whole traffic run (tc and XDP):"
	"$REPO/tools/cls-redirect-stat" | awk '$2 != 0' | sed 's/^/  /' | tee -a "$T/out.txt"
fi

# ---- 3c. a TCP upload accepted through second chance, tc against XDP ----

# upload_once tc|xdp: the classifier of that flavour on both servers (fresh
# maps), a connection opened on B while the director sends to B only, then
# the director sends to A first: A forwards every segment, B accepts it as
# the last hop.  Sets U_LINE "secs A_napi_ms B_napi_ms B_app_ms" or returns 1.
upload_once() {
	if [ "$1" = xdp ]; then
		TOPO_FLAVOUR=xdp topo_attach "$REPO/obj/cls_redirect_xdp_btf.o"
	else
		TOPO_FLAVOUR=tc topo_attach "$REPO/obj/cls_redirect_btf.o"
	fi || { echo "bench: 3c: attaching the $1 flavour failed" >&2; return 1; }
	topo_director b
	rm -f "$T/go"
	: >"$T/up"
	mkfifo "$T/go" || return 1
	in_ns cli timeout 300 "$BENCH" upload $TOPO_VIP4 9000 "$UPLOAD_BYTES" <"$T/go" >"$T/up" 2>&1 &
	_up=$!
	exec 9>"$T/go"
	_i=0
	while ! grep -q connected "$T/up" && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	topo_director a b
	settle
	_a0=$(sched_ns "$unapi_a") _b0=$(sched_ns "$unapi_b") _s0=$(sched_ns "$sink")
	echo go >&9
	exec 9>&-
	wait $_up || { echo "bench: 3c: the upload with the $1 flavour failed: $(tail -n 1 "$T/up")" >&2; return 1; }
	_a1=$(sched_ns "$unapi_a") _b1=$(sched_ns "$unapi_b") _s1=$(sched_ns "$sink")
	settle
	_fwd=$(srv_stat a | jq '.forwarded_packets_total_gue // 0')
	_acc=$(srv_stat b | jq '.accepted_packets_total_last_hop // 0')
	[ "$_fwd" -gt 0 ] && [ "$_acc" -gt 0 ] ||
		{ echo "bench: 3c: $1: A forwarded $_fwd, B accepted $_acc as last hop: not a second chance" >&2; return 1; }
	U_LINE=$(awk -v ns="$(tail -n 1 "$T/up" | cut -d' ' -f2)" -v a=$((_a1 - _a0)) -v b=$((_b1 - _b0)) -v s=$((_s1 - _s0)) \
		'BEGIN {printf "%.2f %.0f %.0f %.0f", ns / 1e9, a / 1e6, b / 1e6, s / 1e6}')
}

# bench_upload: section 3c (README.md, Performance).  The topology of
# test_e2e (selftests/lib/topology.sh).  Server CPU is what B's eth0 NAPI
# thread (threaded NAPI: the receive path up to the socket, the ACKs sent)
# and the receiving application (bench sink) spent, from schedstat; A's NAPI
# thread (the forward) is shown apart.  The director's veths run threaded
# NAPI too, so the director's work never runs in a server's thread, and
# without TSO, so that a server's veth takes their packets in its NAPI
# (a veth hands skbs from a TSO device to the backlog instead).  Each round
# uploads once per flavour, which goes first alternating.
bench_upload() {
	TOPO_FLAVOUR=xdp
	topo_up || { say "not measured: the test_e2e topology did not come up"; return; }
	napis() { ps -eo pid=,comm= | awk '$2 ~ /^napi\/eth0-/ {print $1}' | sort; }
	unapi_a= unapi_b=
	for _s in a b; do
		in_ns dir ethtool -K "dir$_s" tso off >/dev/null 2>&1
		in_ns dir sh -c "echo 1 >/sys/class/net/dir$_s/threaded"
		in_ns "srv$_s" ethtool -K eth0 gro on >/dev/null 2>&1
		napis >"$T/napi.before"
		in_ns "srv$_s" sh -c 'echo 1 >/sys/class/net/eth0/threaded'
		eval "unapi_$_s=\$(napis | comm -13 '$T/napi.before' - | head -n 1)"
	done
	[ -n "$unapi_a" ] && [ -n "$unapi_b" ] || { say "not measured: no threaded NAPI thread appeared for a server's eth0"; return; }
	sink=$(in_ns srvb "$BENCH" sink 9000) || { say "not measured: bench sink did not start in server B"; return; }
	cleanup_add "kill $sink"
	say "client -> director (GUE, A first, then B) -> A forwards -> B accepts as last hop; veth, both servers"
	say "with the flavour named; B = B's eth0 NAPI thread + the receiving application; A = A's NAPI thread"
	printf '%-6s %-7s %8s %10s %10s %10s %10s\n' round flavour seconds "B ms" "B napi ms" "B app ms" "A napi ms" | tee -a "$T/out.txt"
	: >"$T/up.rows"
	_r=0
	while [ $_r -lt "$UPLOAD_ROUNDS" ]; do
		_r=$((_r + 1))
		for _f in $(pair_order $_r); do
			upload_once $_f || { say "round $_r: $_f failed (see above): 3c stopped"; return; }
			set -- $U_LINE
			printf '%-6s %-7s %8s %10s %10s %10s %10s\n' $_r $_f "$1" $(($3 + $4)) "$3" "$4" "$2" | tee -a "$T/out.txt"
			echo "$_r $_f $U_LINE" >>"$T/up.rows"
		done
	done
	# Per round, XDP over tc; the median and the range over the rounds.
	ratio() { # COLUMN-EXPRESSION
		awk "{ v[\$1 \" \" \$2] = $1 } END { for (r = 1; v[r \" tc\"] != \"\"; r++) if (v[r \" tc\"] > 0) print v[r \" xdp\"] / v[r \" tc\"] }" "$T/up.rows" | spread
	}
	set -- $(ratio '$5 + $6') $(ratio '$5') $(ratio '$4') $(ratio '$3')
	say "XDP over tc, median of the $UPLOAD_ROUNDS rounds (lowest-highest): B $1x ($2-$3; target 0.7x)," \
		"B's NAPI thread $4x ($5-$6), A's NAPI thread $7x ($8-$9), seconds ${10}x (${11}-${12})"
	jq -n --argjson bytes "$UPLOAD_BYTES" --rawfile rows "$T/up.rows" \
		--argjson b "[$1, $2, $3]" --argjson bn "[$4, $5, $6]" --argjson an "[$7, $8, $9]" --argjson s "[${10}, ${11}, ${12}]" \
		'{bytes: $bytes, rounds: [$rows | split("\n")[] | select(. != "") | split(" ") |
		   {round: (.[0] | tonumber), flavour: .[1], seconds: (.[2] | tonumber), a_napi_ms: (.[3] | tonumber),
		    b_napi_ms: (.[4] | tonumber), b_app_ms: (.[5] | tonumber)}],
		  xdp_over_tc: {b_cpu: $b, b_napi: $bn, a_napi: $an, seconds: $s}}' >"$T/upload.json"
}

echo "{}" >"$T/upload.json"
UPLOAD_BYTES=${BENCH_UPLOAD:-1073741824}
UPLOAD_ROUNDS=${BENCH_UPLOAD_ROUNDS:-3}
if [ "${BENCH_TRAFFIC:-1}" != 0 ] && [ "$UPLOAD_BYTES" != 0 ]; then
	. "$REPO/selftests/lib/topology.sh"
	missing=$(topo_missing)
	say ""
	say "== 3c. a $UPLOAD_BYTES-byte TCP upload accepted through second chance: tc flavour against XDP flavour"
	if [ -n "$missing" ]; then
		say "not measured: missing $missing (make; make deps)"
	else
		bench_upload
	fi
fi

# ---- results ----
jq --slurpfile l "$T/loads.json" --slurpfile t "$T/traffic.json" --slurpfile x "$T/run_xdp.json" --slurpfile u "$T/upload.json" \
	--arg machine "$(sed -n 2p "$T/out.txt" | sed 's/^machine: //')" \
	--arg date "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" \
	'. + {date: $date, machine: $machine, tc_loads: $l[0], traffic: $t[0], xdp: $x[0], upload: $u[0]}' "$T/run.json" >"$JSON" || exit 2
cp "$T/out.txt" "$TXT"
echo
echo "bench: wrote $TXT and $JSON"
