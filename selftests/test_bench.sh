#!/bin/sh
# test_bench: `make bench` still works, briefly (200 rounds, 0.2 s of
# traffic per class and setup), and `make bench BASE=HEAD` too.  Nothing
# here judges a timing: the benchmark itself refuses to time a class whose
# packet does not take the path it is named for (verdict and outcome
# counter, and the base's output bytes), and this test checks what
# bench.sh writes: every class, part, split, tc load and traffic run is in
# the JSON with its spread; decapsulated IPv6 packets, and only those, pass
# the classifier twice in real traffic; the XDP flavour is timed per class
# and in real traffic, with the receiving side's CPU time per packet for no
# filter, tc and XDP, and its ratio to tc's from paired runs; a TCP upload
# through second chance (16 MiB here) ran with both flavours, the accepting
# server's CPU time measured; kernel.bpf_stats_enabled is never written;
# with a base, every class of both flavours has its current / base ratio
# and the temporary worktree is gone (that run does only the upload of
# part 3: BENCH_TRAFFIC=upload); a base that is not a revision is refused.
# known_tcp_pod, the known flow in a pod listed as a service, is timed,
# takes its path (checked by bench itself: accepted as established,
# redirected to the pod) and is set against known_tcp; with
# BENCH_SERVICES=3 BENCH_BASE_SERVICES=0 the base lists none and every
# class the base runs has its ns more than the base.  A floor made dearer
# than the part "call" (selftests/progs/floor_dear.bpf.c) is taken for the
# floor's slow mode, pass by pass.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
tmpdir T
cd "$REPO" || exit 2
BRIEF="BENCH_ROUNDS=200 BENCH_PASSES=2 BENCH_COPIES=2"

stats_before=$(sysctl -n kernel.bpf_stats_enabled)
if env $BRIEF BENCH_SECONDS=0.2 BENCH_XDP_PAIRS=1 BENCH_UPLOAD=16777216 BENCH_UPLOAD_ROUNDS=1 sh selftests/bench/bench.sh "$T/r.json" >"$T/out" 2>&1; then
	pass "bench: bench.sh runs to the end"
else
	fail "bench: bench.sh runs to the end" "$(tail -n 5 "$T/out" | tr '\n' ' ')"
	exit 1
fi
expect_eq "bench: kernel.bpf_stats_enabled is never written" "$stats_before" "$(sysctl -n kernel.bpf_stats_enabled)"
check "bench: the text table is written next to the JSON" test -s "$T/r.txt"

# jq_is NAME FILTER WANT [FILE]: FILTER, applied to the JSON, prints WANT.
jq_is() { expect_eq "bench: $1" "$3" "$(jq -r "$2" "${4:-$T/r.json}" 2>&1)" "jq $2"; }

classes=$(selftests/bench/bench classes | cut -f1 | sort | tr '\n' ' ')
nclasses=$(selftests/bench/bench classes | wc -l)
jq_is "every class is timed" '[.classes[].name] | sort | join(" ")' "${classes% }"
jq_is "every class has a time, a floor and a ratio within its spread" \
	'[.classes[] | select(.ns > 0 and .floor_ns > 0 and .ratio_q25 <= .ratio and .ratio <= .ratio_q75
	  and .ratio_pass_lo <= .ratio_pass_hi)] | length' "$nclasses"
jq_is "the five parts are timed" '[.parts[] | select(.floor_ns > 0) | .name] | join(" ")' \
	"call decap redirect lookup_hit lookup_miss"
jq_is "the classes with a target are split into parts and rest" \
	'[.splits[] | .class + ":" + (.parts | join("+"))] | join(" ")' \
	"not_ours: last_hop_v4:decap last_hop_v6:decap+redirect known_tcp:decap+lookup_hit syn:decap forward:call+redirect+lookup_miss"
jq_is "without a base no class has a current / base ratio" '[.classes[] | select(has("cur_over_base"))] | length' 0
jq_is "the known flow in a pod is accepted as established and redirected into the pod" \
	'.classes[] | select(.name == "known_tcp_pod") | "\(.counter) \(.retval) \(.ns > 0)"' \
	"accepted_packets_total_established 7 true"
jq_is "the known flow in a pod is set against the same flow in the host namespace" \
	'.pod_over_host | "\(.classes | join(" ")) \(.ratio > 0) \(.ratio_pass_lo <= .ratio_pass_hi) \(.ns_more | type)"' \
	"known_tcp_pod known_tcp true true number"
jq_is "the XDP flavour hands the known flow in a pod to tc (pass)" \
	'.xdp.classes[] | select(.name == "known_tcp_pod") | .retval' 2
jq_is "verifier cost is reported" '.objects[0].verified_insns > 0 and .objects[0].jited_bytes > 0' true
jq_is "both flavours load with their tc" '[.tc_loads[].object] | join(" ")' \
	"obj/cls_redirect_btf.o obj/cls_redirect_legacy.o"
# Route mode's classes and the pod's run in BPF_PROG_TEST_RUN only (bench.sh).
traffic=$(selftests/bench/bench classes | cut -f1 | grep -v '_route$\|_pod$' | sort | tr '\n' ' ')
jq_is "real traffic ran for every class but route mode's and the pod's" '[.traffic[] | select(.classifier_pps > 0) | .class] | sort | join(" ")' \
	"${traffic% }"
jq_is "in real traffic only decapsulated IPv6 passes the classifier twice" \
	'[.traffic[] | select(.classifier_runs_per_packet > 1.5) | .class] | join(" ")' "last_hop_v6"
jq_is "the XDP flavour is timed for every class, with its own floor" \
	'[.xdp.classes[] | select(.ns > 0 and .floor_ns > 0) | .name] | sort | join(" ")' "${classes% }"
jq_is "the XDP flavour's verdicts are XDP's (pass 2, drop 1, tx 3)" \
	'[.xdp.classes[].retval] | unique | join(" ")' "1 2 3"
jq_is "real traffic ran with the XDP flavour for every class but route mode's and the pod's" \
	'[.traffic[] | select(.xdp_pps > 0) | .class] | sort | join(" ")' "${traffic% }"
jq_is "the receiving side's CPU time per packet is there for no filter, the floor, tc and XDP" \
	'[.traffic[] | select([.no_filter_cpu_ns_per_packet, .floor_cpu_ns_per_packet, .classifier_cpu_ns_per_packet,
	  .xdp_cpu_ns_per_packet] | all(type == "number" and . >= 0))] | length' "$(echo $traffic | wc -w)"
jq_is "every class's XDP cpu/pkt has its ratio to tc's, from runs back to back" \
	'[.traffic[] | select(.xdp_over_tc_cpu | length == 3 and .[1] <= .[0] and .[0] <= .[2])] | length' \
	"$(echo $traffic | wc -w)"
jq_is "the upload through second chance ran with both flavours, server CPU measured" \
	'[.upload.rounds[] | select(.b_napi_ms > 0 and .b_app_ms > 0 and .seconds > 0) | .flavour] | sort | join(" ")' \
	"tc xdp"
jq_is "the upload's XDP over tc ratio is there" '.upload.xdp_over_tc.b_cpu | length == 3 and .[0] > 0' true
jq_is "the method says how many rounds and passes were used" \
	'.method.passes_used > 0 and .method.passes_used <= .method.passes and .method.rounds_left_out >= 0
	 and .method.passes >= .method.passes_asked and .method.passes <= 3 * .method.passes_asked
	 and .method.rounds_with_bpf_stats >= 0' true
# The speed probes (README, Performance: CPU speed): their fastest, and how
# many class-round shares they left out as run slowed down, never all of
# them; and whether the floor was in its slow mode.
jq_is "the speed probes are reported, and the shares they left out" \
	'.method.speed_probe_ns > 0 and .method.speed_limit_ns > .method.speed_probe_ns
	 and .method.memory_probe_ns > 0 and .method.memory_limit_ns > .method.memory_probe_ns
	 and .method.units_slowed >= 0 and .method.units_slowed < .method.units
	 and (.method.floor_slow_mode | type) == "boolean"' true
check "bench: the text says what the speed probe left out" grep -q '^CPU speed: ' "$T/r.txt"
jq_is "the passes with the floor in its slow mode are counted" \
	'.method.floor_slow_passes >= 0 and .method.floor_slow_passes <= .method.passes' true

# The floor's slow mode, made: a floor dearer than the part "call" (40
# multiplies) is what it looks like, in every pass that has enough rounds at
# full speed to tell; those are left out, or all kept if all are in it, and
# the run as a whole is flagged.  A pass tells only with 16 rounds at full
# speed in each part: while the host slows this CPU down nearly all the time
# (in 2 of 20 runs here, 98 % of the shares were slowed) no pass can tell,
# so a run in which none could is made again, up to 5 times (2-3 s each).
dear='.method.floor_slow_passes > 0 and .method.floor_slow_mode'
tries=0
while [ $tries -lt 5 ]; do
	tries=$((tries + 1))
	rm -f "$T/dear.json"
	selftests/bench/bench run -n 600 -p 3 -c 2 -F selftests/progs/floor_dear.bpf.o -o "$T/dear.json" \
		>"$T/dear.txt" 2>&1 || break
	[ "$(jq -r .method.floor_slow_passes "$T/dear.json")" = 0 ] || break
	grep -E '^CPU speed|around [0-9]+ of' "$T/dear.txt" | sed "s/^/# dear floor, run $tries: /"
done
if [ -s "$T/dear.json" ]; then
	jq_is "a floor dearer than the part call is taken for the slow mode, pass by pass" "$dear" true "$T/dear.json"
	check "bench: the text says in how many passes the floor was in its slow mode" \
		grep -q "cheaper than the floor in [1-9][0-9]* of [0-9]* passes" "$T/dear.txt"
else
	fail "bench: bench run with a dear floor runs" "$(tail -n 3 "$T/dear.txt" | tr '\n' ' ')"
fi

# BASE=HEAD: the classifier of HEAD, built in a temporary worktree, timed
# as a second program.  Needs the git history.
if ! git -C "$REPO" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	skip "bench: BASE=HEAD" "$REPO is not a git checkout"
	test_done
	exit $?
fi
# bench.sh makes its temporary worktree under TMPDIR: here, under $T.
mkdir "$T/tmp" || exit 2
# BENCH_TRAFFIC=upload: of part 3, only the upload (8 MiB here).
if env $BRIEF TMPDIR="$T/tmp" BENCH_TRAFFIC=upload BENCH_UPLOAD=8388608 BENCH_UPLOAD_ROUNDS=1 \
	BENCH_BASE=HEAD BENCH_SERVICES=3 BENCH_BASE_SERVICES=0 \
	sh selftests/bench/bench.sh "$T/b.json" >"$T/bout" 2>&1; then
	pass "bench: BASE=HEAD runs to the end"
else
	fail "bench: BASE=HEAD runs to the end" "$(tail -n 5 "$T/bout" | tr '\n' ' ')"
	exit 1
fi
jq_is "BENCH_TRAFFIC=upload: no class ran in real traffic, the upload ran with both flavours" \
	'"\(.traffic | length) \([.upload.rounds[].flavour] | sort | join(" "))"' "0 tc xdp" "$T/b.json"
jq_is "BASE=HEAD: the base is named with its commit" '.base.label' \
	"HEAD ($(git -C "$REPO" rev-parse --short HEAD))" "$T/b.json"
# Route mode's classes and the pod's have no base (bench.c: a revision
# without route would only swap MAC addresses, as forward and gre do, one
# without services would forward the pod's flow).
jq_is "BASE=HEAD: every class but route mode's and the pod's has its current / base ratio within its spread" \
	'[.classes[] | select(.base_ns > 0 and .cur_over_base_q25 <= .cur_over_base
	  and .cur_over_base <= .cur_over_base_q75) | .name] | sort | join(" ")' "${traffic% }" "$T/b.json"
jq_is "BASE=HEAD: route mode's classes and the pod's have no base figures" \
	'[.classes[] | select(.name | endswith("_route") or endswith("_pod")) | select(has("base_ns"))] | length' 0 \
	"$T/b.json"
jq_is "BASE=HEAD BENCH_SERVICES=3 BENCH_BASE_SERVICES=0: 3 services listed in the program, none in the base" \
	'"\(.method.services) \(.method.base_services)"' "3 0" "$T/b.json"
jq_is "BASE=HEAD: every class with a base has its ns more than the base within its spread" \
	'[.classes[] | select(has("base_ns")) | select(.cur_minus_base_ns_q25 <= .cur_minus_base_ns
	  and .cur_minus_base_ns <= .cur_minus_base_ns_q75) | .name] | sort | join(" ")' "${traffic% }" "$T/b.json"
check "bench: the table names the services listed" grep -q 'Services listed, none a class.s destination: 3 in the program, 0 in the base' "$T/b.txt"
jq_is "BASE=HEAD: every class of the XDP flavour but route mode's and the pod's has its current / base ratio" \
	'[.xdp.classes[] | select(.base_ns > 0 and .cur_over_base > 0) | .name] | sort | join(" ")' "${traffic% }" "$T/b.json"
jq_is "BASE=HEAD: the base's verifier cost is reported" '.objects[2].verified_insns > 0' true "$T/b.json"
check "bench: BASE=HEAD: the table has the cur/base column" grep -q 'cur/base' "$T/b.txt"
expect_eq "bench: BASE=HEAD: the temporary worktree is removed" "" \
	"$(git -C "$REPO" worktree list --porcelain | grep "^worktree $T/")"
check "bench: BASE=HEAD leaves nothing in TMPDIR" test -z "$(ls -A "$T/tmp")"
if env BENCH_TRAFFIC=0 BENCH_BASE=no-such-revision-here sh selftests/bench/bench.sh "$T/n.json" >"$T/nout" 2>&1; then
	fail "bench: a base that is no revision is refused" "exit 0"
else
	expect_eq "bench: a base that is no revision exits 1 and says why" "1 yes" \
		"$? $(grep -q 'BASE=no-such-revision-here is not a revision' "$T/nout" && echo yes)"
fi
check "bench: a refused base writes no results" test ! -e "$T/n.json"
test_done
