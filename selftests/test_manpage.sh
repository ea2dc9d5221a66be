#!/bin/sh
# Checks of the man page tc-cls-redirect.8 against the code: it formats
# without a warning (groff, mandoc), its METRICS section lists exactly the
# counters of include/cls_redirect.h in layout order, every option of each
# tool's --help is documented and every option it documents exists, and its
# version is the Makefile's.
set -u
cd "$(dirname "$0")/.." || exit 2

MAN=${MAN:-tc-cls-redirect.8}
C=tools/cls-redirect-config
S=tools/cls-redirect-stat
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

for t in "$C" "$S" examples/deploy.sh examples/undeploy.sh; do
	[ -x "$t" ] || { echo "FAIL build: $t missing (make ${t})"; exit 1; }
done

# The formatters must have nothing to say.
if command -v groff >/dev/null; then
	out=$(groff -man -ww -z "$MAN" 2>&1)
	if [ -z "$out" ]; then pass "groff -man -ww -z"; else fail "groff -man -ww -z" "$out"; fi
else
	fail "groff -man -ww -z" "groff not installed (make deps)"
fi
if command -v mandoc >/dev/null; then
	out=$(mandoc -T lint "$MAN" 2>&1)
	if [ -z "$out" ]; then pass "mandoc -T lint"; else fail "mandoc -T lint" "$out"; fi
else
	fail "mandoc -T lint" "mandoc not installed (make deps)"
fi

# METRICS: a ".TP" / ".B name" pair per counter, nothing else in bold-tagged
# paragraphs, same order as the X-macro.
printf '#include <stdio.h>\n#include "cls_redirect.h"\n#define N(id, name, help) puts(#name);\nint main(void) { CLS_REDIRECT_METRICS(N) return 0; }\n' |
	cc -Iinclude -x c -o "$tmp/names" - && "$tmp/names" >"$tmp/header"
awk '/^\.SH / { in_sec = ($2 == "METRICS") }
	in_sec && prev == ".TP" && /^\.B / { print $2 }
	{ prev = $0 }' "$MAN" >"$tmp/man"
if [ ! -s "$tmp/header" ]; then
	fail "METRICS lists the counters of cls_redirect.h" "no counters found in include/cls_redirect.h"
elif cmp -s "$tmp/header" "$tmp/man"; then
	pass "METRICS lists the $(wc -l <"$tmp/header") counters of cls_redirect.h, in order"
else
	fail "METRICS lists the counters of cls_redirect.h" \
		"differences (< header, > man page): $(diff "$tmp/header" "$tmp/man" | grep '^[<>]' | tr '\n' ' ')"
fi

# METRICS: each counter's text is its help text in the header (which is
# also Prometheus' # HELP), plus a full stop.
if ! cc -Iinclude -o "$tmp/helps" -x c - <<'EOF'
#include <stdio.h>
#include "cls_redirect.h"
int main(void)
{
#define HELP(id, name, help) printf("%s\t%s.\n", #name, help);
	CLS_REDIRECT_METRICS(HELP)
	return 0;
}
EOF
then
	fail "METRICS texts are the header's help texts" "cannot compile the help-text printer"
else
	"$tmp/helps" >"$tmp/helps.h"
	awk '/^\.SH / { m = ($2 == "METRICS") }
		m && prev == ".TP" && /^\.B / { if (name) print name "\t" txt; name = $2; txt = ""; prev = $0; next }
		m && name && !/^\./ { txt = (txt ? txt " " : "") $0 }
		{ prev = $0 }
		END { if (name) print name "\t" txt }' "$MAN" | sed 's/\\-/-/g' >"$tmp/helps.man"
	if cmp -s "$tmp/helps.h" "$tmp/helps.man"; then
		pass "METRICS texts are the header's help texts"
	else
		fail "METRICS texts are the header's help texts" \
			"differences (< header, > man page): $(diff "$tmp/helps.h" "$tmp/helps.man" | grep '^[<>]' | tr '\n' ' ')"
	fi
fi

# The man page source with "\-" as "-", to search for options.
sed 's/\\-/-/g' "$MAN" >"$tmp/plain"

options() { # the options a --help text names, one per line
	grep -o -- '\(^\|[ ,[]\)--*[a-zA-Z][a-z-]*' | sed 's/^[ ,[]//' | sort -u
}
for t in "$C" "$S" examples/deploy.sh examples/undeploy.sh; do
	n=${t##*/}
	"$t" --help | options >"$tmp/opts"
	missing=
	while read -r o; do
		grep -q -- "$o\([^a-z-]\|$\)" "$tmp/plain" || missing="$missing $o"
	done <"$tmp/opts"
	if [ ! -s "$tmp/opts" ]; then
		fail "man page documents every option of $n" "no options found in $n --help"
	elif [ -z "$missing" ]; then
		pass "man page documents every option of $n ($(tr '\n' ' ' <"$tmp/opts"))"
	else
		fail "man page documents every option of $n" "missing:$missing"
	fi
done

# The other way round: every long option of the man page exists.
# --now belongs to systemctl, in the DEPLOYMENT example.
{ "$C" --help; "$S" --help; examples/deploy.sh --help; examples/undeploy.sh --help; echo " --now"; } | options >"$tmp/all"
extra=
for o in $(grep -o -- '--[a-z][a-z-]*' "$tmp/plain" | sort -u); do
	grep -qx -- "$o" "$tmp/all" || extra="$extra $o"
done
if [ -z "$extra" ]; then
	pass "every long option in the man page exists"
else
	fail "every long option in the man page exists" "not in any --help:$extra"
fi

# set's keywords and the commands of cls-redirect-config.
missing=
for k in show set clear addr port forward no-forward mtu; do
	grep -q -- "^\.B.*$k" "$tmp/plain" || missing="$missing $k"
done
if [ -z "$missing" ]; then pass "man page documents every command and keyword"
else fail "man page documents every command and keyword" "missing:$missing"; fi

# Sections the operator looks for, and the exit status of the tools.
missing=
for s in NAME SYNOPSIS DESCRIPTION "WIRE FORMAT" "DECISION TABLE" MAPS METRICS CONFIGURATION \
	CLS-REDIRECT-CONFIG CLS-REDIRECT-STAT "EXIT STATUS" EXAMPLES UPGRADING "LEGACY TC" \
	LIMITATIONS "SEE ALSO"; do
	grep -qx "\.SH $s" "$MAN" || missing="$missing '$s'"
done
if [ -z "$missing" ]; then pass "man page sections"; else fail "man page sections" "missing:$missing"; fi
if awk '/^\.SH / { in_sec = ($0 == ".SH EXIT STATUS") } in_sec && prev == ".TP" { print } { prev = $0 }' \
	"$MAN" | tr '\n' ' ' | grep -qx '\.B 0 \.B 1 \.B 2 '; then
	pass "EXIT STATUS documents 0, 1 and 2"
else
	fail "EXIT STATUS documents 0, 1 and 2" "no .TP entries .B 0/1/2"
fi

version=$(sed -n 's/^VERSION := //p' Makefile)
if grep -q "^\.TH .*\"cls-redirect $version\"" "$MAN"; then
	pass "man page version is $version"
else
	fail "man page version is $version" "$(grep '^\.TH' "$MAN")"
fi
exit 0
