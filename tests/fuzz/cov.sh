#!/bin/sh
# See LICENSE file for copyright and license details.
#
# tests/fuzz/cov.sh [DIR] - how much of spfpolicy.c each fuzz target's
# corpus reaches: every target is built with clang's source-based
# coverage, runs each input of its corpus once, and llvm-cov reports the
# lines, functions and regions of spfpolicy.c that ran.  One line each:
#
#	cov fuzz/NAME: N inputs, lines L%, functions F%, regions R%
#
# and a last line "cov fuzz/all: ..." for what the targets reach together.
#
# The corpus is the committed tests/fuzz/corpus/fuzz_NAME/, or with DIR
# (the FUZZ_OUT of a tests/fuzz/run.sh run) the one that run grew,
# DIR/work/fuzz_NAME/corpus.  Prints "skipped: ..." without clang and
# llvm-cov (Debian: clang llvm).
#
# Environment: FUZZ_CC, FUZZ_OUT, FUZZ_TARGETS as for run.sh.

cd "$(dirname "$0")/../.." || exit 1
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-${TMPDIR:-/tmp}/spfpolicy-fuzz}/cov
TARGETS=${FUZZ_TARGETS:-"fuzz_request fuzz_config fuzz_spf fuzz_dns fuzz_idn"}
CPPFLAGS="-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DVERSION=\"fuzz\" -Dmain=spfpolicy_main"

# Debian: "llvm" has the unversioned names, llvm-N (clang's N: 14 on
# Debian 12, 19 on Debian 13) the others
v=$("$CC" --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p;q')
PROFDATA=$(command -v llvm-profdata || command -v "llvm-profdata-$v")
LLVMCOV=$(command -v llvm-cov || command -v "llvm-cov-$v")
if ! command -v "$CC" >/dev/null 2>&1 || [ -z "$PROFDATA" ] || [ -z "$LLVMCOV" ]; then
	echo "skipped: clang, llvm-profdata or llvm-cov not installed"
	exit 0
fi
mkdir -p "$OUT/inc" || exit 1
[ -f config.h ] || cp config.def.h "$OUT/inc/config.h" || exit 1
# total NAME INPUTS REPORT: llvm-cov's TOTAL row (regions, missed,
# cover, functions, missed, executed, lines, missed, cover, ...)
total() {
	awk -v t="$1" -v n="$2" '$1 == "TOTAL" {
		printf "cov fuzz/%s: %d inputs, lines %s, functions %s, regions %s\n",
			t, n, $10, $7, $4 }' "$3"
}

# the oracle of fuzz_idn: libidn2 (libidn2-dev), for no other target
libs() {
	[ "$1" = fuzz_idn ] && echo -lidn2
}

objs=
profs=
nin=0
for t in $TARGETS; do
	corpus=${1:+$1/work/$t/corpus}
	corpus=${corpus:-tests/fuzz/corpus/$t}
	bin=$OUT/$t
	rm -f "$OUT/$t".prof*
	if ! "$CC" -g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	    $CPPFLAGS -I. -I"$OUT/inc" -o "$bin" "tests/fuzz/$t.c" -lcares $(libs "$t") \
	    > "$OUT/$t.build.log" 2>&1; then
		echo "FAIL fuzz/${t#fuzz_}: build (see $OUT/$t.build.log)"
		continue
	fi
	LLVM_PROFILE_FILE="$OUT/$t.profraw" "$bin" -runs=0 -rss_limit_mb=2048 "$corpus" \
		> "$OUT/$t.log" 2>&1
	"$PROFDATA" merge -o "$OUT/$t.profdata" "$OUT/$t.profraw" &&
	"$LLVMCOV" report "$bin" -instr-profile="$OUT/$t.profdata" spfpolicy.c \
		> "$OUT/$t.report" 2>&1 || {
		echo "FAIL fuzz/${t#fuzz_}: llvm-cov (see $OUT/$t.report)"
		continue
	}
	n=$(ls "$corpus" | wc -l)
	total "${t#fuzz_}" "$n" "$OUT/$t.report"
	objs="$objs${objs:+ -object }$bin"
	profs="$profs $OUT/$t.profraw"
	nin=$((nin + n))
done
[ -n "$objs" ] || exit 0
"$PROFDATA" merge -o "$OUT/all.profdata" $profs &&
"$LLVMCOV" report $objs -instr-profile="$OUT/all.profdata" spfpolicy.c > "$OUT/all.report" 2>&1 &&
total all "$nin" "$OUT/all.report"
