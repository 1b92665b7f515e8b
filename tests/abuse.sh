#!/bin/sh
# See LICENSE file for copyright and license details.
#
# abuse.sh - protocol abuse on the standard input of spawn mode: lines of
# 1 MB, NUL bytes, invalid UTF-8, requests without request= or without
# the final blank line, 100 000 requests on one connection, repeated
# attributes, lines without '=', CRLF line ends, 10 000 attributes, and
# a reject text too long for a reply after a longer one.
#
#	SPFPOLICY=./spfpolicy tests/abuse.sh
#
# Checks that every well-formed request gets exactly one reply, that the
# over-long and NUL-holding ones get the Error_Action reply (action=dunno),
# that no reply holds a CR, a control, an embedded newline or what an
# earlier reply left behind, that the process always exits 0 (never a
# signal), and that its peak RSS stays under 8 MiB.  A small zone is
# served by tests/dnsd.py on 127.0.0.1.
# The sessions and checks are tests/abuse.py's; this script gives it the
# binary and a scratch directory.
# Prints "ok NAME" / "FAIL NAME: why", "# rss ..." notes and
# "N passed, N failed"; exits 1 when anything failed.
#
# Environment:
#	SPFPOLICY	binary (default ./spfpolicy); may be a wrapper that
#			execs it (the PID is measured)
#	ABUSE_REQUESTS	requests in the long session (default 100000)
#	ABUSE_RSS_KB	peak RSS limit in KiB (default 8192; 0: only
#			report, for ASan or valgrind builds)
#	ABUSE_TIMEOUT	seconds a session may take (default 300)

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=abuse
. tests/lib.sh
t_binary
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spfpolicy-abuse.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
export ABUSE_TMP="$tmp" ABUSE_BIN="$BIN"

"$PY" tests/abuse.py
