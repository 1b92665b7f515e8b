#!/bin/sh
# See LICENSE file for copyright and license details.
#
# resolver.sh - what protects spfpolicy's DNS answers from forgery and
# its lookups from a bad name server, now that c-ares sends the queries
# (issue 20).  Each check measures through the wire (query IDs, source
# ports, cookies, queries counted, times), not through c-ares' internals,
# and prints what it measured as "# ..." notes:
#
#   ids-unpredictable  one spawn-mode process answers 104 requests for
#		distinct domains: the IDs of its 104 queries are not
#		predictable by a linear generator over GF(2) of at most 64
#		bits of state (a recurrence learnt from the first 72 IDs, and
#		the old xorshift64 solved from the first 11, each predict at
#		most 2 of the rest; ids-predictor-sound: both predict all of
#		a simulated xorshift64 sequence and none of urandom's)
#   source-ports	those queries' source ports: with c-ares >= 1.20
#		(ARES_OPT_UDP_MAX_QUERIES = 1) a fresh one each (>= 90%
#		distinct); 1.18 keeps a socket while queries are in flight and
#		closes it when none is, so more than one over sequential
#		requests
#   forged-*	spfpolicy -q, where every query first gets a "+all"
#		answer with the right ID but another question, from another
#		source port, or with another ID (and all three), then the
#		real "-all" 100 ms later: fail
#   dead-first-server-*	Nameservers: a silent 127.0.0.2 first, then a
#		working one, DNS_Timeout_ms 500; 7 requests in one process
#		and -q once answer right; with c-ares >= 1.34 (failover) the
#		median of requests 3-7 is under 250 ms (the timeout paid
#		every time: ~500); with 1.18 the times are a note
#   cookies-*	(c-ares >= 1.34; skipped before) a server that answers
#		RFC 7873 cookies: every query carries one client cookie,
#		with the server's after the first answer; a forged "+all"
#		without the cookie, sent before the real answer, is dropped:
#		fail
#   servfail-*	the only name server answers SERVFAIL (DNS_Tries 3):
#		one query a lookup (ARES_FLAG_NOCHECKRESP), temperror;
#		the first of two does: c-ares asks the second, fail
#
#	SPFPOLICY=./spfpolicy tests/resolver.sh
#
# Needs python3 with dnslib and yaml; without them prints a "skipped:"
# line and exits 0.  The name servers are this test's UDP sockets on
# 127.0.0.1 (and 127.0.0.2: loopback on Linux).  About 10 s with c-ares 1.18
# (every lookup of the dead-server check waits 500 ms), 3 s with 1.34.
# Prints "ok resolver/NAME" / "FAIL resolver/NAME: why" lines, notes and
# "N passed, N failed"; exits 1 when anything failed.

cd "$(dirname "$0")/.." || exit 2
PY=/usr/bin/python3
TNAME=resolver
. tests/lib.sh
dnsd_scratch resolver	# its own name servers: no dnsd.py started
export RESOLVER_TMP="$T" RESOLVER_BIN="$BIN"

"$PY" tests/resolver.py
