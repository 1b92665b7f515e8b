#!/bin/sh
# See LICENSE file for copyright and license details.
#
# faults.sh - the DNS fault matrix: spfpolicy -q against answers that
# time out, fail, come truncated, stall, are garbage, are for another
# name or type, are huge, loop, or come slowly.
#
#	SPFPOLICY=./spfpolicy tests/faults.sh
#
# Three parts:
#   1. tests/faults.yml through tests/spfsuite.py (dnsd.py's fault entries);
#   2. generated cases through spfsuite.py: records too large to write in
#      faults.yml (5000 ip4 terms in 60 KB, 10 000 ip4 terms through two
#      includes, 10 000 a terms, a record larger than a DNS message);
#   3. "raw" cases against a small server in tests/faults.py that sends
#      what dnsd.py cannot: records of the wrong type, broken RDATA, name
#      compression loops, lying counts, wrong IDs, CNAME chains spread over
#      many answers.
# The cases and checks are tests/faults.py's (spfsuite.py runs the binary
# through tests/faults_timed.sh, which times it); this script gives it the
# binary and a scratch directory.
# Each case checks the RFC 7208 result and that the query ended within
# its maxtime (Lookup_Time + 1.5 s).  Prints "ok NAME" / "FAIL NAME: why"
# lines and "N passed, N failed"; exits 1 when anything failed.
#
# The table of every case (expected, measured result, wall time) goes to
# stderr, and to $FAULTS_OUT when it is set (by default no file is left).
#
# Environment:
#	SPFPOLICY	binary (default ./spfpolicy); may be a wrapper script
#	FAULTS_SLACK	seconds added to every maxtime (slow builds:
#			valgrind); default 0
#	FAULTS_OUT	a file for the table too
#	FAULTS_ONLY	run only the cases whose name contains this string

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=faults
. tests/lib.sh
t_binary
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-faults.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export FAULTS_TMP="$tmp" FAULTS_BIN="$BIN"
export FAULTS_OUT="${FAULTS_OUT:-}"

"$PY" tests/faults.py
