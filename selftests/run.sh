#!/bin/sh
# The test runner of `make check`.
#
# Runs every selftests/test_* (shell scripts and C binaries built by make).
# A test prints one line per case:  PASS <name> | FAIL <name>: <why> |
# SKIP <name>: <missing kernel feature>.  A test that exits non-zero without
# printing FAIL counts as one failure.  The last line is the summary.
#
# TESTS="test_foo test_bar" runs a subset.
set -u
cd "$(dirname "$0")/.." || exit 2
[ "$(id -u)" = 0 ] || { echo "make check must run as root (sudo make check): the tests load BPF programs and create network namespaces" >&2; exit 2; }

pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ -n "${TESTS:-}" ]; then
	list=$TESTS
else
	list=$(cd selftests && for f in test_*; do
		case $f in *.c|*.h|*.o) continue ;; esac
		[ -x "$f" ] || [ "${f%.sh}" != "$f" ] && echo "$f"
	done)
fi

for t in $list; do
	case $t in
	*.sh) set -- sh "selftests/$t" ;;
	*) set -- "selftests/$t" ;;
	esac
	echo "== $t"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $t: exited with status $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
