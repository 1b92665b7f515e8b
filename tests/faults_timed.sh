#!/bin/sh
# See LICENSE file for copyright and license details.
#
# faults_timed.sh - the binary tests/faults.py gives tests/spfsuite.py:
# runs $FAULTS_BIN with its arguments, and logs how long it took and the
# first line of its output to $FAULTS_TMP/runs.log, for the fault table.
#
# -q -c CONF -n NS IP SENDER HELO: $6 is IP, $7 SENDER
s=$(date +%s.%N)
out=$("$FAULTS_BIN" "$@")
rc=$?
e=$(date +%s.%N)
[ -z "$out" ] || printf '%s\n' "$out"
first=$(printf '%s\n' "$out" | head -n 1)
printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$6" "$7" "$rc" "$s" "$e" "$first" \
	>> "$FAULTS_TMP/runs.log"
exit $rc
