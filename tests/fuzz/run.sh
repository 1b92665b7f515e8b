#!/bin/sh
# See LICENSE file for copyright and license details.
#
# tests/fuzz/run.sh [SECONDS] - build the libFuzzer targets, replay their
# regression inputs, and fuzz each for SECONDS (default 10).
#
# Everything is built and run in a directory outside the tree (FUZZ_OUT,
# default ${TMPDIR:-/tmp}/spfpolicy-fuzz); each target starts from a copy
# of its committed corpus, which is never grown by a run.  One line per
# target:
#
#	ok fuzz/NAME: N execs, cov C, ft F
#	FAIL fuzz/NAME: crash (REPRODUCER)	(or timeout, leak, oom, build,
#						 regression)
#
# NAME is the target without "fuzz_" (tests/fuzz/fuzz_NAME.c).  Inputs in
# tests/fuzz/regress/fuzz_NAME/ (crashes found before, minimised) are run
# first: each must pass.
#
# then "N passed, N failed"; the exit status is 1 when anything failed.
# Without clang and libFuzzer (Debian: clang libclang-rt-dev) or the
# c-ares headers (libc-ares-dev) it says "skipped: ..." and exits 0.
#
# Environment:
#	FUZZ_CC		compiler (default clang)
#	FUZZ_OUT	build and work directory
#	FUZZ_TARGETS	targets to run (default: all)
#	FUZZ_ARGS	more libFuzzer options for the runs

secs=${1:-10}
case $secs in
''|*[!0-9]*)
	echo "usage: tests/fuzz/run.sh [SECONDS]" >&2
	exit 64
	;;
esac
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-${TMPDIR:-/tmp}/spfpolicy-fuzz}
TARGETS=${FUZZ_TARGETS:-"fuzz_request fuzz_config fuzz_spf fuzz_dns fuzz_idn"}
SAN="-fsanitize=fuzzer,address,undefined"
CPPFLAGS="-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DVERSION=\"fuzz\" -Dmain=spfpolicy_main"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "skipped: clang/libFuzzer not installed"
	exit 0
fi
mkdir -p "$OUT/inc" || exit 1
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return d && n; }' \
	> "$OUT/probe.c"
if ! "$CC" $SAN -o "$OUT/probe" "$OUT/probe.c" >/dev/null 2>&1; then
	echo "skipped: clang/libFuzzer not installed"
	exit 0
fi
echo '#include <ares.h>' > "$OUT/probe.c"
if ! "$CC" -fsyntax-only "$OUT/probe.c" >/dev/null 2>&1; then
	echo "skipped: c-ares headers (libc-ares-dev) not installed"
	exit 0
fi
# config.h as "make" would make it, without writing into the tree
[ -f config.h ] || cp config.def.h "$OUT/inc/config.h" || exit 1

TNAME=fuzz
. tests/lib.sh

# the oracle of fuzz_idn: libidn2 (libidn2-dev), for no other target
libs() {
	[ "$1" = fuzz_idn ] && echo -lidn2
}

# per-target options: inputs large enough to pass the limits under test
maxlen() {
	case $1 in
	fuzz_request)	echo 20000 ;;	# lines over LINE_MAX_LEN (4096)
	fuzz_config)	echo 20000 ;;	# lines over CONF_LINE_MAX (8192)
	fuzz_spf)	echo 12000 ;;	# records and expansions over MACRO_MAX
	fuzz_idn)	echo 2048 ;;	# names past 255 code points, ignored ones
	*)		echo 4096 ;;
	esac
}

for t in $TARGETS; do
	bin=$OUT/$t
	work=$OUT/work/$t
	if ! "$CC" -g -O1 $SAN $CPPFLAGS -I. -I"$OUT/inc" -o "$bin" "tests/fuzz/$t.c" -lcares $(libs "$t") \
	    > "$OUT/$t.build.log" 2>&1; then
		fail "${t#fuzz_}" "build (see $OUT/$t.build.log)"
		continue
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus" || exit 1
	# regression inputs: each must run clean
	bad=
	for f in "tests/fuzz/regress/$t"/*; do
		[ -f "$f" ] || continue
		if ! (cd "$work" && "$bin" -timeout=10 -rss_limit_mb=2048 "$ROOT/$f") \
		    > "$work/regress.log" 2>&1; then
			bad=$f
			break
		fi
	done
	if [ -n "$bad" ]; then
		fail "${t#fuzz_}" "regression ($bad; see $work/regress.log)"
		continue
	fi
	[ -d "tests/fuzz/corpus/$t" ] && cp "tests/fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict=-dict=$ROOT/tests/fuzz/$t.dict
	(cd "$work" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(maxlen "$t")" -print_final_stats=1 -artifact_prefix="$work/" \
		$dict ${FUZZ_ARGS:-} corpus) > "$work/log" 2>&1
	rc=$?
	art=$(ls "$work"/crash-* "$work"/timeout-* "$work"/leak-* "$work"/oom-* \
		"$work"/slow-unit-* 2>/dev/null | head -n 1)
	if [ -n "$art" ] || [ "$rc" != 0 ]; then
		kind=${art##*/}
		kind=${kind%%-*}
		[ -n "$art" ] || kind="exit $rc"
		[ "$kind" = slow ] && kind=timeout
		fail "${t#fuzz_}" "$kind (${art:-see $work/log})"
		continue
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$work/log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	ok "${t#fuzz_}: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}"
done
t_end
