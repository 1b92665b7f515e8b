#!/bin/bash
# Side-by-side test: pypolicyd-spf (Debian postfix-policyd-spf-python) and
# ./spfpolicy answer the same request streams against the same DNS zone;
# their replies (and, for some configs, their syslog lines) are compared.
#
# usage: tests/sidebyside/run.sh [--record | --golden] [--spfpolicy CMD]
#                                [-j JOBS] [--timeout SECS] [CONFIG[/REQFILE]...]
#
#   --record     run pypolicyd-spf only and rewrite expected/*.out and *.log
#   --golden     compare with expected/ even if pypolicyd-spf is installed
#                (without pypolicyd-spf that is the default)
#   --spfpolicy  command to test instead of ./spfpolicy (also $SPFPOLICY);
#                e.g. --spfpolicy '/usr/bin/python3 /usr/bin/policyd-spf'
#                compares pypolicyd-spf with itself
#   CONFIG...    run only these configs or CONFIG/REQFILE pairs (globs)
#
# Needs root: everything runs in private network, mount, UTS (and, where
# the kernel allows, PID) namespaces (unshare, tests/ns.sh) where lo is
# up, /etc/resolv.conf says "nameserver 127.0.0.1", tests/dnsd.py serves
# zone.yml on 127.0.0.1:53, the host name is mx.sidebyside.test (for
# Authserv_Id = HOSTNAME) and /dev is a small private tmpfs whose
# /dev/log is read by the harness (syslog capture).
# Nothing outside the namespace is touched.
#
# Files: zone.yml (DNS), configs/*.conf, requests/*.txt (request streams;
# lines starting with '#' are not sent, "#@ name" names the next request),
# matrix.txt (which request files run with which config; `logs` lines pick
# the configs whose syslog lines are compared), deviations.txt (expected
# differences), expected/ (pypolicyd-spf's replies and log lines).
#
# Output: "ok sidebyside/CONFIG/REQFILE#N", "FAIL sidebyside/...: pypolicyd=<...>
# spfpolicy=<...>", the same for "sidebylog/CONFIG/REQFILE#N.K" (K-th log line
# of request N), "# note:" and "# summary" lines.  Exit 0 when nothing failed,
# 1 on differences, 2 when the harness itself could not run.

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2
PY=/usr/bin/python3
. tests/ns.sh

if [ "${SIDEBYSIDE_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "run.sh: must run as root (needs unshare --net --mount --uts)" >&2
		exit 2
	fi
	if [ ! -f tests/dnsd.py ]; then
		echo "run.sh: tests/dnsd.py is missing" >&2
		exit 2
	fi
	export SIDEBYSIDE_NS=1
	ns_enter "$self" "$@"
	if [ -n "$ns_why" ]; then
		echo "skipped: sidebyside: $ns_why"
		exit 0
	fi
	echo "run.sh: unshare failed" >&2
	exit 2
fi

# ---- inside the namespace
tmp=$(mktemp -d /tmp/sidebyside.XXXXXX) || exit 2
dnsd=
cleanup() {
	[ -n "$dnsd" ] && kill "$dnsd" 2>/dev/null && wait "$dnsd" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "run.sh: $*" >&2; exit 2; }

ip link set lo up || die "cannot bring lo up"
hostname mx.sidebyside.test || die "cannot set the host name"
printf 'nameserver 127.0.0.1\n' > "$tmp/resolv.conf"
mount --bind "$tmp/resolv.conf" /etc/resolv.conf || die "cannot bind /etc/resolv.conf"

# a private /dev, so that /dev/log can be ours
ns_dev "$tmp" sidebyside

$PY tests/dnsd.py -a 127.0.0.1 -p 53 --ready "$tmp/ready" \
	tests/sidebyside/zone.yml 2> "$tmp/dnsd.err" &
dnsd=$!
for i in $(seq 100); do
	[ -s "$tmp/ready" ] && break
	kill -0 "$dnsd" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$tmp/ready" ]; then
	cat "$tmp/dnsd.err" >&2
	die "tests/dnsd.py did not start"
fi

$PY tests/sidebyside/sidebyside.py "$@"
rc=$?
kill "$dnsd" 2>/dev/null && wait "$dnsd" 2>/dev/null
dnsd=
if [ -s "$tmp/dnsd.err" ]; then
	sed 's/^/# note: dnsd: /' "$tmp/dnsd.err" | head -20
fi
exit $rc
