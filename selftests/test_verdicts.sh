#!/bin/sh
# test_verdicts: no decision of the classifier depends on where a counter
# sits in the list.  The classifier and the BPF_PROG_TEST_RUN fixtures are
# built once more with a counter inserted among the accepted ones and the
# echo request counter moved to the end, after the errors (where the next
# accepted_* counter would land, the list being append-only).  Every fixture
# must still give the same verdict, bytes and counter deltas (echo requests
# accepted, not dropped), and the inserted counter never moves.
. "$(dirname "$0")/lib/common.sh"

for f in selftests/prog_run_extra selftests/cls_redirect_extra.o; do
	[ -e "$f" ] || { fail "verdicts: $f" "missing (run make tests)"; exit 1; }
done
out=$(selftests/prog_run_extra 2>&1)
rc=$?
n=$(printf '%s\n' "$out" | grep -c '^PASS ')
if [ "$rc" = 0 ] && [ "$n" -ge 399 ]; then
	pass "verdicts: $n fixtures unchanged with a counter inserted and the echo counter moved after the errors"
else
	printf '%s\n' "$out" | grep -v '^PASS ' | sed 's/^/# /'
	fail "verdicts: counters reordered" "prog_run_extra exited $rc with $n fixtures passing (see above)"
fi
