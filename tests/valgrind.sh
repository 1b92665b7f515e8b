#!/bin/bash
# See LICENSE file for copyright and license details.
#
# valgrind.sh - "make check-valgrind": build spfpolicy for glibc (-O1 -g,
# Debian's libc-ares-dev) and run under memcheck the RFC 7208 suite and
# tests/cases/*.yml (tests/spfsuite.py), tests/faults.sh and
# tests/abuse.sh with a spawn-mode session of a few hundred requests.
# Passes when memcheck reports 0 errors and 0 definitely lost blocks in
# every run.  Still reachable blocks (the config strings, c-ares's
# channel) are fine.
#
#	tests/valgrind.sh
#
# Every run goes through a wrapper:
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=99 --log-fd=9 BIN ARGS 9> >(tee -a LOG)
# (a pipe, not --log-file: spfpolicy sets RLIMIT_FSIZE to 0).  The log is
# searched for "ERROR SUMMARY: N" with N > 0 and "definitely lost".
#
# Prints "ok NAME" / "FAIL NAME: why" lines and "N passed, N failed";
# exits 1 when anything failed.
#
# Environment:
#	SPF_SUITE	the RFC 7208 suite (default
#			../shared/spf-suite/rfc7208-tests.yml)
#	CC		compiler (default gcc)
#	VALGRIND_BIN	test this binary instead of building one (e.g. the
#			static musl ./spfpolicy)
#	VALGRIND_KEEP	a directory to keep the log in
#	FAULTS_SLACK	seconds added to the time limits of faults.sh and
#			tests/cases (default 3: a slower start-up)
#	ABUSE_REQUESTS	requests in abuse.sh's long session (default 300)
#	VALGRIND_JOBS	tests run at once by spfsuite.py (default 2)

cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3
SPF_SUITE=${SPF_SUITE:-$ROOT/../shared/spf-suite/rfc7208-tests.yml}
CC=${CC:-gcc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-valgrind.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
ulimit -c 0

TNAME=valgrind
. tests/lib.sh

if ! command -v valgrind > /dev/null 2>&1; then
	fail valgrind "not installed (apt-get install valgrind)"
	t_end 1
fi

BIN=${VALGRIND_BIN:-}
if [ -z "$BIN" ]; then
	BIN=$tmp/spfpolicy-g
	[ -f config.h ] || cp config.def.h "$tmp/config.h"
	if ! $CC -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
		-DVERSION='"valgrind"' -iquote "$tmp" -g -O1 -o "$BIN" \
		spfpolicy.c -lcares > "$tmp/build.log" 2>&1; then
		fail build "$(head -n 5 "$tmp/build.log") (needs libc-ares-dev)"
		echo "$npass passed, $nfail failed"
		exit 1
	fi
	ok build
fi
case $BIN in
/*)	;;
*)	BIN=$ROOT/$BIN ;;
esac

LOG=$tmp/valgrind.log
: > "$LOG"
export SPF_VG_BIN="$BIN" SPF_VG_LOG="$LOG"
cat > "$tmp/spfpolicy" <<'EOF'
#!/bin/bash
# valgrind's own output goes into the log through a pipe on fd 9
exec 9> >(exec tee -a "$SPF_VG_LOG" > /dev/null)
exec valgrind --leak-check=full --errors-for-leak-kinds=definite \
	--error-exitcode=99 --log-fd=9 "$SPF_VG_BIN" "$@"
EOF
chmod +x "$tmp/spfpolicy"
W=$tmp/spfpolicy

out=$("$W" -V 2>&1)
case $out in
*c-ares*)	ok version ;;
*)		fail version "-V said: $out" ;;
esac

jobs=${VALGRIND_JOBS:-2}
if [ -f "$SPF_SUITE" ]; then
	relay rfc7208 < <("$PY" tests/spfsuite.py -j "$jobs" --bin "$W" \
		"$SPF_SUITE" < /dev/null 2>&1)
else
	echo "# skipped: RFC 7208 suite not found at $SPF_SUITE (set SPF_SUITE)"
fi
relay cases < <("$PY" tests/spfsuite.py -j "$jobs" --bin "$W" \
	--slack "${FAULTS_SLACK:-3}" tests/cases/*.yml < /dev/null 2>&1)
relay faults < <(SPFPOLICY=$W FAULTS_SLACK=${FAULTS_SLACK:-3} \
	FAULTS_OUT=$tmp/faults.out sh tests/faults.sh < /dev/null 2>/dev/null)
relay abuse < <(SPFPOLICY=$W ABUSE_RSS_KB=0 ABUSE_REQUESTS=${ABUSE_REQUESTS:-300} \
	sh tests/abuse.sh < /dev/null 2>&1)

sleep 0.5	# the tee processes end with their valgrind
runs=$(grep -c 'ERROR SUMMARY:' "$LOG")
bad=$(grep -cE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$LOG")
if [ "$runs" -lt 10 ]; then
	fail memcheck "only $runs valgrind runs in the log"
elif [ "$bad" -gt 0 ]; then
	fail memcheck "$bad of $runs runs with errors or definite leaks; the first:"
	# runs write into the log at once: keep the lines of the first bad one
	pid=$(grep -m1 -E 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$LOG" |
		sed 's/^==\([0-9]*\)==.*/\1/')
	grep "^==$pid== " "$LOG" | grep -v -e 'Copyright' -e 'Using Valgrind' |
		sed 's/^/    /' | head -n 60
else
	ok "memcheck ($runs runs, 0 errors, 0 definitely lost)"
fi
if [ -n "${VALGRIND_KEEP:-}" ]; then
	mkdir -p "$VALGRIND_KEEP" && cp "$LOG" "$tmp/faults.out" "$VALGRIND_KEEP"/ 2>/dev/null
	echo "# kept in $VALGRIND_KEEP"
fi
t_end
