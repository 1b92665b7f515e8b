#!/bin/bash
# Side-by-side test: pypolicyd-spf (Debian postfix-policyd-spf-python) and
# ./spfpolicy answer the same request streams against the same DNS zone;
# their replies (and, for some configs, their syslog lines) are compared.
#
# usage: tests/sidebyside/run.sh [--user] [--record | --golden] [--spfpolicy CMD]
#                                [-j JOBS] [--timeout SECS] [CONFIG[/REQFILE]...]
#
#   --user       the rootless mode (the default without root): see below
#   --record     run pypolicyd-spf only and rewrite expected-VERSION/*.out
#                and *.log, VERSION the installed pypolicyd-spf's
#   --golden     compare with expected-VERSION/ even if pypolicyd-spf is
#                installed (without pypolicyd-spf that is the default)
#   --ref VERSION  the golden files of this version (3.0.4, 3.1.0; default
#                the installed one's, else 3.1.0)
#   --spfpolicy  command to test instead of ./spfpolicy (also $SPFPOLICY);
#                e.g. --spfpolicy '/usr/bin/python3 /usr/bin/policyd-spf'
#                compares pypolicyd-spf with itself
#   CONFIG...    run only these configs or CONFIG/REQFILE pairs (globs)
#
# Environment: PYPOLICYD (the command, default /usr/bin/python3
# /usr/bin/policyd-spf), PYPOLICYD_PATH (its PYTHONPATH: another version's
# spf_engine unpacked from its .deb,
# DIR/usr/lib/python3/dist-packages).  Whatever else the caller's
# environment holds, pypolicyd-spf runs with PYTHONUNBUFFERED=1 (its Mock
# answers are never flushed).
#
# Needs root: everything runs in private network, mount, UTS (and, where
# the kernel allows, PID) namespaces (unshare, tests/ns.sh) where lo is
# up, /etc/resolv.conf says "nameserver 127.0.0.1", tests/dnsd.py serves
# zone.yml on 127.0.0.1:53, the host name is mx.sidebyside.test (for
# Authserv_Id = HOSTNAME) and /dev is a small private tmpfs whose
# /dev/log is read by the harness (syslog capture).
# Nothing outside the namespace is touched.
#
# Without root (or with --user) there is no namespace: tests/dnsd.py
# serves zone.yml on 127.0.0.1, a port of its own, and spfpolicy runs
# with a copy of each config that names it (Nameservers) and gives the
# namespace's host name where the config would take the machine's
# (sidebyside.py's overlay()).  pypolicyd-spf cannot be pointed at a
# port: the replies are compared with expected-VERSION/ only, as with --golden,
# byte for byte as in the namespace; the syslog lines are not (no
# private /dev/log; where the machine has one, spfpolicy logs there).
# Options in /etc/resolv.conf (timeout:, attempts:) still reach
# spfpolicy; the namespace's has none.
#
# Files: zone.yml (DNS), configs/*.conf, requests/*.txt (request streams;
# lines starting with '#' are not sent, "#@ name" names the next request),
# matrix.txt (which request files run with which config; `logs` lines pick
# the configs whose syslog lines are compared), deviations.txt (expected
# differences), expected-VERSION/ (each pypolicyd-spf version's replies and
# log lines; --record in a log's tracebacks, another version's unpacked
# path is written as /usr/lib/python3/dist-packages).
#
# Output: "ok sidebyside/CONFIG/REQFILE#N", "FAIL sidebyside/...: pypolicyd=<...>
# spfpolicy=<...>", the same for "sidebylog/CONFIG/REQFILE#N.K" (K-th log line
# of request N), "# note:" and "# summary" lines.  Exit 0 when nothing failed,
# 1 on differences, 2 when the harness itself could not run.

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2
PY=/usr/bin/python3
. tests/lib.sh		# dnsd_start, dnsd_stop
. tests/ns.sh

die() {
	echo "run.sh: $1" >&2
	[ -z "${2:-}" ] || cat "$2" >&2
	exit 2
}

# the rootless mode: asked for, or not root; --user is run.sh's alone
user=0
[ "$(id -u)" = 0 ] || user=1
args=()
for a in "$@"; do
	if [ "$a" = --user ]; then
		user=1
	else
		args+=("$a")
	fi
done

[ -f tests/dnsd.py ] || die "tests/dnsd.py is missing"
if [ "$user" = 0 ] && [ "${SIDEBYSIDE_NS:-}" != 1 ]; then
	export SIDEBYSIDE_NS=1
	ns_enter "$self" "$@"
	if [ -n "$ns_why" ]; then
		echo "skipped: sidebyside: $ns_why"
		exit 0
	fi
	die "unshare failed"
fi

# ---- inside the namespace, or rootless
T=$(mktemp -d "${TMPDIR:-/tmp}/sidebyside.XXXXXX") || exit 2
dnsd=
cleanup() {
	dnsd_stop
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$user" = 0 ]; then
	ip link set lo up || die "cannot bring lo up"
	hostname mx.sidebyside.test || die "cannot set the host name"
	printf 'nameserver 127.0.0.1\n' > "$T/resolv.conf"
	mount --bind "$T/resolv.conf" /etc/resolv.conf ||
		die "cannot bind /etc/resolv.conf"

	# a private /dev, so that /dev/log can be ours
	ns_dev "$T" sidebyside

	dnsd_start tests/sidebyside/zone.yml 53
else
	dnsd_start tests/sidebyside/zone.yml
	args=(--nameservers "$NS" "${args[@]}")
fi

$PY tests/sidebyside/sidebyside.py "${args[@]}"
rc=$?
dnsd_stop
dnsd=
if [ -s "$T/dnsd.err" ]; then
	sed 's/^/# note: dnsd: /' "$T/dnsd.err" | head -20
fi
exit $rc
