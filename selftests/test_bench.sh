#!/bin/sh
# test_bench: `make bench` still works, briefly (200 samples per class, 0.2 s
# of traffic per class and setup).  Nothing here judges a timing: the
# benchmark itself refuses to time a class whose packet does not take the
# path it is named for (verdict and outcome counter), and this test checks
# what bench.sh writes: every class, part, split, tc load and traffic run is
# in the JSON, each judged ratio within the spread of its passes;
# decapsulated IPv6 packets, and only those, pass the classifier twice in
# real traffic; kernel.bpf_stats_enabled is put back.
set -u
. "$(dirname "$0")/lib/common.sh"
require_root
tmpdir T
cd "$REPO" || exit 2

stats_before=$(sysctl -n kernel.bpf_stats_enabled)
if BENCH_SAMPLES=200 BENCH_SECONDS=0.2 sh selftests/bench.sh "$T/r.json" >"$T/out" 2>&1; then
	pass "bench: bench.sh runs to the end"
else
	fail "bench: bench.sh runs to the end" "$(tail -n 5 "$T/out" | tr '\n' ' ')"
	exit 1
fi
expect_eq "bench: kernel.bpf_stats_enabled is put back" "$stats_before" "$(sysctl -n kernel.bpf_stats_enabled)"
check "bench: the text table is written next to the JSON" test -s "$T/r.txt"

# jq_is NAME FILTER WANT: FILTER, applied to the JSON, prints WANT.
jq_is() { expect_eq "bench: $1" "$3" "$(jq -r "$2" "$T/r.json" 2>&1)" "jq $2"; }

classes=$(selftests/bench classes | cut -f1 | sort | tr '\n' ' ')
jq_is "every class is timed" '[.classes[].name] | sort | join(" ")' "${classes% }"
jq_is "every class has a positive tmean and floor" \
	'[.classes[] | select(.tmean_ns > 0 and .floor_tmean_ns > 0)] | length' "$(selftests/bench classes | wc -l)"
jq_is "the five parts are timed" '[.parts[] | select(.tmean_ns > 0) | .name] | join(" ")' \
	"call decap redirect lookup_hit lookup_miss"
jq_is "the classes with a target are split into parts and rest" \
	'[.splits[] | .class + ":" + (.parts | join("+"))] | join(" ")' \
	"not_ours: last_hop_v4:decap last_hop_v6:decap+redirect known_tcp:decap+lookup_hit syn:decap forward:call+redirect+lookup_miss"
jq_is "each judged ratio lies within the spread of its passes" \
	'[.classes[] | select(.tmean_ratio_min <= .tmean_ratio and .tmean_ratio <= .tmean_ratio_max)] | length' \
	"$(selftests/bench classes | wc -l)"
jq_is "verifier cost is reported" '.objects[0].verified_insns > 0 and .objects[0].jited_bytes > 0' true
jq_is "both flavours load with their tc" '[.tc_loads[].object] | join(" ")' \
	"obj/cls_redirect_btf.o obj/cls_redirect_legacy.o"
jq_is "real traffic ran for every class" '[.traffic[] | select(.classifier_pps > 0) | .class] | sort | join(" ")' \
	"${classes% }"
jq_is "in real traffic only decapsulated IPv6 passes the classifier twice" \
	'[.traffic[] | select(.classifier_runs_per_packet > 1.5) | .class] | join(" ")' "last_hop_v6"
test_done
