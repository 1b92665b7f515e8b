#!/bin/bash
# See LICENSE file for copyright and license details.
#
# container.sh - spfpolicy as the README's sidecar container runs it
# (issue 24): no /dev/log, no /etc/passwd, standard error the container's
# log, a stop within the engine's 10 s grace while Postfix keeps its
# connection open.
#
#	tests/container.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/container.sh
#
# Two parts:
#
# 1. Without an engine, in private network, mount, UTS and PID namespaces
#    (root; lo is up, tests/dnsd.py serves a zone on 127.0.0.1, /dev is a
#    private tmpfs without /dev/log, setpriv(1) runs it as 65534:65534 as
#    the README's USER line does): the start line and a decision on
#    standard error, each failed start's reason there with exit 111
#    (address in use, a socket directory it cannot write, an unknown
#    Listen_User, a config file it cannot read), -t failing on that file,
#    a missing file still served with the defaults, SIGTERM with an idle
#    connection (gone in under 2 s, exit 0) and with a request in flight
#    (answered), numeric Listen_User and Listen_Owner with no /etc/passwd,
#    the socket file removed at exit, spawn mode still silent on stderr.
# 2. With podman (and runc): the image of the README's Dockerfile, as
#    written there, built FROM scratch (no registry), run with
#    --network=host inside the test's network namespace (loopback only,
#    nothing published); the same checks through "podman logs" and
#    "podman stop", and the unix-socket recipe for a non-root host user.
#    Where podman is missing or cannot run a container here, the part
#    says "skipped:" with the reason.
#
# Output: "ok container/NAME" and "FAIL container/NAME: reason" lines
# (details indented below a FAIL), "# " notes with the measured times,
# and "N passed, N failed, N skipped"; exit 0 when nothing failed.

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3
TNAME=container
. tests/lib.sh
. tests/ns.sh

# ---- outside the namespace: prerequisites, then re-run inside one
if [ "${CONTAINER_NS:-}" != 1 ]; then
	ns_need "private namespaces, setpriv" unshare ip mount setpriv timeout "$PY"
	"$PY" -c 'import dnslib, yaml' 2>/dev/null ||
		skipped "python3 modules dnslib and yaml (apt-get install python3-dnslib python3-yaml)"
	ns_rerun CONTAINER_NS "$self" "$@"
fi

# ---- inside the namespace
BIN=$SPFPOLICY
T=
dnsd=
logd=
lpid=
ENGINE=

cleanup() {
	trap - EXIT INT TERM
	[ -n "$lpid" ] && kill -KILL "$lpid" 2>/dev/null
	[ -n "$ENGINE" ] && $ENGINE rm -f -t 0 spfpolicy-test > /dev/null 2>&1
	[ -n "$ENGINE" ] && $ENGINE rmi -f spfpolicy-test > /dev/null 2>&1
	[ -n "$dnsd" ] && kill "$dnsd" 2>/dev/null
	wait 2>/dev/null
	mountpoint -q /etc 2>/dev/null && umount /etc
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/container.XXXXXX) || die "mktemp failed"
chmod 755 "$T"
# 65534 runs the binary and reads the configs from here: the tree may be
# where it cannot enter (a clone in /root, mode 0700)
mkdir -m 755 "$T/bin" && cp "$BIN" "$T/bin/spfpolicy" && chmod 755 "$T/bin/spfpolicy" &&
	cp tests/listener.py tests/policyclient.py "$T/bin" && chmod 644 "$T/bin"/*.py ||
	die "cannot copy to $T/bin"
BIN=$T/bin/spfpolicy
ip link set lo up || die "cannot bring lo up"
ns_dev "$T" container	# no /dev/log in it, as in a scratch container
[ ! -e /dev/log ] || die "/dev/log exists in the private /dev"

cat > "$T/zone.yml" <<'EOF'
pass.container.test:
  - TXT: "v=spf1 ip4:198.51.100.7 -all"
slow.container.test:
  - DELAY: 1000
  - TXT: "v=spf1 ip4:198.51.100.7 -all"
EOF
$PY tests/dnsd.py -a 127.0.0.1 -p 53 --ready "$T/dnsd.ready" "$T/zone.yml" 2> "$T/dnsd.err" &
dnsd=$!
ns_ready 10 "$T/dnsd.ready" || die "tests/dnsd.py did not start" "$T/dnsd.err"

# what Postfix sends: one request for each name
request() {
	printf '%s\n' request=smtpd_access_policy client_address=198.51.100.7 \
		helo_name=mail.example.net "sender=user@$1.container.test" \
		recipient=postmaster@example.org "instance=$1" ''
}
request pass > "$T/pass.req"
request slow > "$T/slow.req"
ACTION='action=prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=198.51.100.7; helo=mail.example.net; envelope-from=user@pass.container.test; receiver=example.org '
printf '%s\n' 'debugLevel = 1' 'Nameservers = 127.0.0.1' 'Receiver_Domain = example.org' > "$T/good.conf"
chmod 644 "$T/good.conf"
cp "$T/good.conf" "$T/private.conf" && chmod 600 "$T/private.conf"	# as COPY leaves it

U=65534
AS_U="setpriv --reuid=$U --regid=$U --clear-groups"	# numeric: as USER 65534:65534
PORT=10040
client() { $AS_U "$PY" "$T/bin/listener.py" "$@"; }

# launch NAME [ROOT] ARGS...: spfpolicy ARGS as 65534 (ROOT: as root), its
# stderr in T/NAME.err, its PID in lpid
launch() {
	local name=$1
	shift
	: > "$T/$name.err"
	if [ "$1" = ROOT ]; then
		shift
		"$BIN" "$@" < /dev/null > "$T/$name.out" 2>> "$T/$name.err" &
	else
		$AS_U "$BIN" "$@" < /dev/null > "$T/$name.out" 2>> "$T/$name.err" &
	fi
	lpid=$!
}

# up NAME: until the listener said it listens (5 s); 1 when it did not
up() {
	local i
	for i in $(seq 100); do
		grep -q -E "^spfpolicy\\[$lpid\\]: listening on " "$T/$1.err" && return 0
		kill -0 "$lpid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ended NAME: wait for lpid (5 s), its exit status in lrc
ended() {
	local i
	for i in $(seq 50); do
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$lpid" 2>/dev/null && kill -KILL "$lpid"
	wait "$lpid"
	lrc=$?
	lpid=
}

# has NAME FILE ERE: FILE has a line matching ERE
has() {
	if grep -q -E -- "$3" "$2"; then
		ok "$1"
	else
		fail "$1" "no line matching '$3' in $(basename "$2")" "$2"
	fi
}

# refused NAME ERE [ROOT] ARGS...: the listener exits 111 at once, saying
# ERE on standard error (with its ident and PID), without listening
refused() {
	local name=$1 ere=$2
	shift 2
	launch "$name" "$@"
	ended "$name"
	if [ "$lrc" != 111 ]; then
		fail "$name" "exit status $lrc, want 111" "$T/$name.err"
	elif grep -q 'listening on' "$T/$name.err"; then
		fail "$name" "it listened" "$T/$name.err"
	else
		has "$name" "$T/$name.err" "^spfpolicy\\[[0-9]+\\]: .*$ere"
	fi
	echo "# $name: $(tail -n 1 "$T/$name.err")"
}

# ======== 1. without an engine
echo "# container: $("$BIN" -V 2>&1); no /dev/log; as $U:$U"

# ---- a good start: the start line and a decision on stderr
launch good -l inet:127.0.0.1:$PORT "$T/good.conf"
if ! up good; then
	fail start "the listener did not start" "$T/good.err"
else
	ok start
	has start-line-on-stderr "$T/good.err" "^spfpolicy\\[$lpid\\]: listening on inet:127\\.0\\.0\\.1:$PORT\$"
	client ask inet:127.0.0.1:$PORT "$T/pass.req" > "$T/good.reply" 2>&1
	has answer "$T/good.reply" "^$(printf '%s' "$ACTION" | sed 's/[][\.*^$(){}+?|/]/\\&/g')\$"
	sleep 0.2
	has decision-on-stderr "$T/good.err" \
		"^spfpolicy\\[[0-9]+\\]: prepend Received-SPF: Pass \\(mailfrom\\) identity=mailfrom; client-ip=198\\.51\\.100\\.7;"
	kill -HUP "$lpid"
	sleep 0.5
	has hup-on-stderr "$T/good.err" "^spfpolicy\\[$lpid\\]: $T/good\\.conf: configuration reloaded\$"

	# ---- SIGTERM with Postfix's idle connection open: gone at once
	: > "$T/hold.ready" && chmod 666 "$T/hold.ready"	# 65534 writes it
	client hold inet:127.0.0.1:$PORT "$T/pass.req" 15 "$T/hold.ready" > "$T/hold.out" 2>&1 &
	hold=$!
	ns_ready 5 "$T/hold.ready"
	t0=$(date +%s.%N)
	kill -TERM "$lpid"
	ended good
	took=$(t_since "$t0")
	wait "$hold"
	if [ "$lrc" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 2) }'; then
		ok stop-idle
	else
		fail stop-idle "exit $lrc after $took s (want 0, under 2 s)" "$T/good.err"
	fi
	has stop-idle-client-closed "$T/hold.out" '^closed after'
	has stop-idle-logged "$T/good.err" \
		'^spfpolicy\[[0-9]+\]: stopping: 1 connection open: 1 closed at once \(between requests\), 0 requests being answered$'
	echo "# stop with an idle connection: $took s, exit $lrc"
fi

# ---- SIGTERM with a request in flight (its DNS answer 1 s late): answered
launch inflight -l inet:127.0.0.1:$PORT "$T/good.conf"
if up inflight; then
	client ask inet:127.0.0.1:$PORT "$T/slow.req" > "$T/inflight.reply" 2>&1 &
	asker=$!
	sleep 0.3
	t0=$(date +%s.%N)
	kill -TERM "$lpid"
	ended inflight
	took=$(t_since "$t0")
	wait "$asker"
	has stop-in-flight-answered "$T/inflight.reply" '^action=prepend Received-SPF: Pass'
	if [ "$lrc" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 2) }'; then
		ok stop-in-flight
	else
		fail stop-in-flight "exit $lrc after $took s (want 0, under 2 s)" "$T/inflight.err"
	fi
	has stop-in-flight-logged "$T/inflight.err" \
		'^spfpolicy\[[0-9]+\]: stopped in [0-9.]+ s: 1 request answered, 0 connections killed after 10 s$'
	echo "# stop with a request in flight (0.7 s of its lookup left): $took s, exit $lrc"
else
	fail stop-in-flight "the listener did not start" "$T/inflight.err"
fi

# ---- failed starts: the reason on stderr, exit 111
launch holder -l inet:127.0.0.1:$PORT "$T/good.conf"
if up holder; then
	holder=$lpid
	refused fail-address-in-use "inet:127\\.0\\.0\\.1:$PORT: Address (already )?in use" \
		-l inet:127.0.0.1:$PORT "$T/good.conf"
	lpid=$holder
	kill -TERM "$lpid"
	ended holder
fi
mkdir -m 755 "$T/rootdir"
refused fail-socket-directory "unix:$T/rootdir/spfpolicy\\.sock: Permission denied" \
	-l "unix:$T/rootdir/spfpolicy.sock" "$T/good.conf"
printf '%s\n' 'Listen_User = no-such-user' >> "$T/nouser.conf" && chmod 644 "$T/nouser.conf"
refused fail-listen-user 'Listen_User "no-such-user": no such user in /etc/passwd$' \
	ROOT -l inet:127.0.0.1:$PORT "$T/nouser.conf"
refused fail-config-unreadable "$T/private\\.conf: cannot be read \\(Permission denied\\): not serving without it\$" \
	-l inet:127.0.0.1:$PORT "$T/private.conf"
has fail-config-unreadable-why "$T/fail-config-unreadable.err" \
	"ERROR opening \"$T/private\\.conf\": Permission denied"
$AS_U "$BIN" -t "$T/private.conf" > "$T/check.out" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'Permission denied' "$T/check.out"; then
	ok check-config-unreadable
else
	fail check-config-unreadable "-t exit $rc, want 1 saying Permission denied" "$T/check.out"
fi

# ---- a missing file: the defaults, as pypolicyd-spf (logged)
launch missing -l inet:127.0.0.1:$PORT "$T/no-such.conf"
if up missing; then
	ok missing-config-served
	has missing-config-logged "$T/missing.err" "ERROR stating \"$T/no-such\\.conf\": No such file"
	kill -TERM "$lpid"
	ended missing
else
	fail missing-config-served "did not start" "$T/missing.err"
fi

# ---- spawn mode: its stderr is the policy socket, never written to
$AS_U "$BIN" "$T/good.conf" < "$T/pass.req" > "$T/spawn.out" 2> "$T/spawn.err"
has spawn-answer "$T/spawn.out" '^action=prepend Received-SPF: Pass'
if [ -s "$T/spawn.err" ]; then
	fail spawn-stderr-silent "spawn mode wrote on stderr without /dev/log" "$T/spawn.err"
else
	ok spawn-stderr-silent
fi

# ---- no /etc/passwd or /etc/group (a scratch image): numeric ids
mkdir "$T/etc" && cp -a /etc/. "$T/etc/" && rm -f "$T/etc/passwd" "$T/etc/group" &&
	mount --bind "$T/etc" /etc || die "cannot put a copy of /etc without passwd in place"
mkdir -m 750 "$T/sock" && chown $U:$U "$T/sock"
printf '%s\n' "Listen_User = $U:$U" "Listen_Owner = $U:$U" 'Listen_Mode = 0660' > "$T/ids.conf"
cat "$T/good.conf" >> "$T/ids.conf" && chmod 644 "$T/ids.conf"
launch ids ROOT -l "unix:$T/sock/spfpolicy.sock" "$T/ids.conf"
if up ids; then
	ok numeric-ids-start
	got=$(stat -c '%u:%g %a' "$T/sock/spfpolicy.sock")
	if [ "$got" = "$U:$U 660" ]; then
		ok numeric-listen-owner
	else
		fail numeric-listen-owner "socket is $got, want $U:$U 660"
	fi
	got=$(awk '/^Uid:|^Gid:/ { printf "%s ", $2 }' /proc/"$lpid"/status)
	if [ "$got" = "$U $U " ]; then
		ok numeric-listen-user
	else
		fail numeric-listen-user "serving as uid/gid $got, want $U $U"
	fi
	client ask "unix:$T/sock/spfpolicy.sock" "$T/pass.req" > "$T/ids.reply" 2>&1
	has numeric-ids-answer "$T/ids.reply" '^action=prepend Received-SPF: Pass'
	kill -TERM "$lpid"
	ended ids
	if [ "$lrc" = 0 ] && [ ! -e "$T/sock/spfpolicy.sock" ]; then
		ok socket-removed-at-exit
	else
		fail socket-removed-at-exit "exit $lrc; socket file: $(ls -l "$T/sock")" "$T/ids.err"
	fi
else
	fail numeric-ids-start "did not start" "$T/ids.err"
fi
printf '%s\n' "Listen_User = $U" "Listen_Group = 4242" > "$T/gid.conf" && chmod 644 "$T/gid.conf"
launch gid ROOT -l inet:127.0.0.1:$PORT "$T/gid.conf"
if up gid; then
	got=$(awk '/^Uid:|^Gid:|^Groups:/ { printf "%s ", $2 }' /proc/"$lpid"/status)
	if [ "$got" = "$U 4242 4242 " ]; then
		ok numeric-listen-group
	else
		fail numeric-listen-group "uid, gid, groups: $got, want $U 4242 4242"
	fi
	kill -TERM "$lpid"
	ended gid
else
	fail numeric-listen-group "did not start" "$T/gid.err"
fi
printf '%s\n' 'Listen_User = nobody' > "$T/name.conf" && chmod 644 "$T/name.conf"
refused fail-user-name-no-passwd 'Listen_User "nobody": no /etc/passwd to look the name up in \(a numeric uid\[:gid\] needs none\)$' \
	ROOT -l inet:127.0.0.1:$PORT "$T/name.conf"
printf '%s\n' 'Listen_Owner = postfix' > "$T/owner.conf" && chmod 644 "$T/owner.conf"
refused fail-owner-name-no-passwd 'Listen_Owner "postfix": no /etc/passwd to look the name up in' \
	-l "unix:$T/sock/owner.sock" "$T/owner.conf"
printf '%s\n' "Listen_User = $U" > "$T/nogid.conf" && chmod 644 "$T/nogid.conf"
refused fail-uid-without-group "Listen_User \"$U\": no group: not in /etc/passwd; give uid:gid, or Listen_Group\$" \
	ROOT -l inet:127.0.0.1:$PORT "$T/nogid.conf"
umount /etc

# ======== 2. with an engine: the README's image, as written there
# the Dockerfile of README's "As a sidecar container": from its FROM
# scratch line to the blank line after it, without the indent
dockerfile() {
	awk '/^    FROM scratch$/ { on = 1 } on && /^$/ { exit } on { print substr($0, 5) }' README
}

# eng ARGS...: podman with its images and containers in T (removed at exit;
# podman keeps only its blob cache, /var/lib/containers/cache),
# no systemd (cgroupfs, events to a file), runc where there is one
eng() {
	podman --root "$T/pm/storage" --runroot "$T/pm/run" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file ${RUNC:+--runtime "$RUNC"} "$@"
}

# erun NAME ARGS...: a detached container NAME of the image, with the
# network namespace of this test (loopback only, tests/dnsd.py on it)
erun() {
	local name=$1
	shift
	eng rm -f -t 0 "$name" > /dev/null 2>&1
	eng run -d --name "$name" --network host --read-only $ULIMITS "$@" > "$T/$name.cid" 2> "$T/$name.run"
}

# elogs NAME: podman logs NAME into T/NAME.logs
elogs() { eng logs "$1" > "$T/$1.logs" 2>&1; }

# eup NAME: until podman logs NAME says it listens (5 s)
eup() {
	local i
	for i in $(seq 50); do
		elogs "$1"
		grep -q ']: listening on ' "$T/$1.logs" && return 0
		sleep 0.1
	done
	return 1
}

# eexit NAME: until container NAME has exited (10 s); its exit code in erc
eexit() {
	local i
	for i in $(seq 100); do
		[ "$(eng inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = false ] && break
		sleep 0.1
	done
	erc=$(eng inspect -f '{{.State.ExitCode}}' "$1" 2>/dev/null)
	elogs "$1"
}

# erefused NAME ERE ARGS...: a container that must exit 111 at once, with
# ERE in podman logs
erefused() {
	local name=$1 ere=$2
	shift 2
	erun "$name" "$@"
	eexit "$name"
	if [ "$erc" != 111 ]; then
		fail "engine/$name" "exit code $erc, want 111" "$T/$name.logs"
	else
		has "engine/$name" "$T/$name.logs" "^spfpolicy\\[1\\]: .*$ere"
	fi
	echo "# engine/$name: podman logs: $(tail -n 1 "$T/$name.logs")"
	eng rm -f -t 0 "$name" > /dev/null 2>&1
}

engine_checks() {
	local ctx=$T/ctx n hard gid
	command -v podman > /dev/null || { skip "engine: podman is not installed (apt-get install podman runc)"; return; }
	RUNC=$(command -v runc) || RUNC=
	n=1024	# the container's limits within this machine's (podman asks for more)
	hard=$(ulimit -Hn); [ "$hard" = unlimited ] || [ "$hard" -ge "$n" ] || n=$hard
	hard=$(ulimit -Hu); [ "$hard" = unlimited ] || [ "$hard" -ge "$n" ] || n=$hard
	ULIMITS="--ulimit nofile=$n:$n --ulimit nproc=$n:$n"
	mkdir -p "$ctx" "$T/pm" && dockerfile > "$ctx/Dockerfile" && cp "$BIN" "$ctx/spfpolicy" &&
		cp "$T/good.conf" "$ctx/policyd-spf.conf" && chmod 600 "$ctx/policyd-spf.conf" ||
		die "cannot make the build context"
	grep -q '^FROM scratch$' "$ctx/Dockerfile" || die "no FROM scratch Dockerfile in README" "$ctx/Dockerfile"
	ENGINE=eng
	if ! eng build -t spfpolicy-test "$ctx" > "$T/build.out" 2>&1; then
		skip "engine: podman cannot build the image here: $(grep -i -m1 error "$T/build.out")"
		return
	fi
	if ! eng run --rm --network host $ULIMITS spfpolicy-test -V > "$T/engine-v.out" 2>&1; then
		skip "engine: podman cannot run a container here: $(head -n 1 "$T/engine-v.out")"
		return
	fi
	ok engine/build-readme-image
	echo "# engine: $(podman --version), runtime ${RUNC:-default}; image $(eng image inspect -f '{{.Size}}' spfpolicy-test) bytes"

	# ---- a good start: podman logs has the start line and a decision
	erun spfpolicy-test spfpolicy-test
	if ! eup spfpolicy-test; then
		fail engine/start "no start line in podman logs" "$T/spfpolicy-test.logs"
		return
	fi
	has engine/logs-start-line "$T/spfpolicy-test.logs" '^spfpolicy\[1\]: listening on inet:0\.0\.0\.0:10040$'
	client ask inet:127.0.0.1:10040 "$T/pass.req" > "$T/engine.reply" 2>&1
	has engine/answer "$T/engine.reply" '^action=prepend Received-SPF: Pass'
	sleep 0.3
	elogs spfpolicy-test
	has engine/logs-decision "$T/spfpolicy-test.logs" '^spfpolicy\[[0-9]+\]: prepend Received-SPF: Pass \(mailfrom\)'
	sed 's/^/# engine: podman logs: /' "$T/spfpolicy-test.logs"

	# ---- podman stop with Postfix's idle connection open
	: > "$T/ehold.ready" && chmod 666 "$T/ehold.ready"
	client hold inet:127.0.0.1:10040 "$T/pass.req" 15 "$T/ehold.ready" > "$T/ehold.out" 2>&1 &
	hold=$!
	ns_ready 5 "$T/ehold.ready"
	t0=$(date +%s.%N)
	eng stop spfpolicy-test > /dev/null 2>&1
	took=$(t_since "$t0")
	wait "$hold"
	eexit spfpolicy-test
	if [ "$erc" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 2) }'; then
		ok engine/stop-idle
	else
		fail engine/stop-idle "podman stop took $took s, exit code $erc (want 0, under 2 s)" "$T/spfpolicy-test.logs"
	fi
	has engine/stop-idle-client-closed "$T/ehold.out" '^closed after'
	has engine/stop-idle-logged "$T/spfpolicy-test.logs" \
		'^spfpolicy\[1\]: stopping: 1 connection open: 1 closed at once \(between requests\), 0 requests being answered$'
	echo "# engine: podman stop with an idle connection: $took s, exit code $erc"

	# ---- podman stop with a request in flight
	erun spfpolicy-test spfpolicy-test
	if eup spfpolicy-test; then
		client ask inet:127.0.0.1:10040 "$T/slow.req" > "$T/eslow.reply" 2>&1 &
		asker=$!
		sleep 0.3
		t0=$(date +%s.%N)
		eng stop spfpolicy-test > /dev/null 2>&1
		took=$(t_since "$t0")
		wait "$asker"
		eexit spfpolicy-test
		has engine/stop-in-flight-answered "$T/eslow.reply" '^action=prepend Received-SPF: Pass'
		if [ "$erc" = 0 ] && awk -v t="$took" 'BEGIN { exit !(t < 2) }'; then
			ok engine/stop-in-flight
		else
			fail engine/stop-in-flight "podman stop took $took s, exit code $erc" "$T/spfpolicy-test.logs"
		fi
		echo "# engine: podman stop with a request in flight (0.7 s of its lookup left): $took s, exit code $erc"
		grep -E ']: stopp' "$T/spfpolicy-test.logs" | sed 's/^/# engine: podman logs: /'
	fi
	eng rm -f -t 0 spfpolicy-test > /dev/null 2>&1

	# ---- failed starts: the reason in podman logs, exit code 111
	launch eholder -l inet:127.0.0.1:10040 "$T/good.conf"
	if up eholder; then
		erefused fail-address-in-use 'inet:0\.0\.0\.0:10040: Address (already )?in use' spfpolicy-test
		kill -TERM "$lpid"
		ended eholder
	fi
	erefused fail-config-0600 'policyd-spf\.conf: cannot be read \(Permission denied\): not serving without it$' \
		-v "$T/private.conf:/etc/python-policyd-spf/policyd-spf.conf:ro" spfpolicy-test
	printf '%s\n' 'Listen_User = postfix' > "$T/epostfix.conf" && chmod 644 "$T/epostfix.conf"
	erefused fail-root-listen-user 'Listen_User "postfix": no (such user in /etc/passwd|/etc/passwd to look the name up in)' \
		--user 0:0 -v "$T/epostfix.conf:/etc/python-policyd-spf/policyd-spf.conf:ro" spfpolicy-test
	mkdir -m 755 "$T/eroot"
	erefused fail-socket-directory 'unix:/run/spfpolicy/spfpolicy\.sock: Permission denied' \
		-v "$T/eroot:/run/spfpolicy" spfpolicy-test -l unix:/run/spfpolicy/spfpolicy.sock
	eng run --rm --network host $ULIMITS -v "$T/private.conf:/etc/python-policyd-spf/policyd-spf.conf:ro" \
		spfpolicy-test -t > "$T/echeck.out" 2>&1
	erc=$?
	if [ "$erc" = 1 ] && grep -q 'Permission denied' "$T/echeck.out"; then
		ok engine/check-config-0600
	else
		fail engine/check-config-0600 "-t exit $erc, want 1 saying Permission denied" "$T/echeck.out"
	fi

	# ---- the unix-socket recipe: the directory shared with a Postfix on
	# the host, whose user (here daemon) is in its group; others are refused
	gid=$(id -g daemon) || { skip "engine: no user daemon for the unix-socket recipe"; return; }
	install -d -m 0750 -o 65534 -g "$gid" "$T/unix-dir" || die "cannot make the socket directory"
	eunix unix-dir "666 65534:65534" -v "$T/unix-dir:/run/spfpolicy" spfpolicy-test
	# the other way: --user 65534:GID and Listen_Mode = 0660, the socket
	# in a directory 65534 may write and anyone may enter
	install -d -m 0755 -o 65534 -g "$gid" "$T/unix-mode" || die "cannot make the socket directory"
	{ cat "$T/good.conf"; echo 'Listen_Mode = 0660'; } > "$T/e0660.conf" && chmod 644 "$T/e0660.conf"
	eunix unix-mode "660 65534:$gid" --user "65534:$gid" -v "$T/unix-mode:/run/spfpolicy" \
		-v "$T/e0660.conf:/etc/python-policyd-spf/policyd-spf.conf:ro" spfpolicy-test
}

# eunix NAME MODE ARGS...: a container of ARGS serving the unix socket
# T/NAME/spfpolicy.sock: its mode and owner MODE (stat %a %u:%g), the
# host user daemon (of group gid) answered, the user bin refused, and
# after podman stop, exit code 0 and the socket file gone
eunix() {
	local name=$1 want=$2 sock=$T/$1/spfpolicy.sock got
	shift 2
	erun "$name" "$@" -l unix:/run/spfpolicy/spfpolicy.sock
	if ! eup "$name"; then
		fail "engine/$name-start" "no start line" "$T/$name.logs"
		return
	fi
	got=$(stat -c '%a %u:%g' "$sock")
	if [ "$got" = "$want" ]; then
		ok "engine/$name-socket"
	else
		fail "engine/$name-socket" "socket is $got, want $want"
	fi
	setpriv --reuid=daemon --regid="$gid" --clear-groups \
		"$PY" "$T/bin/listener.py" ask "unix:$sock" "$T/pass.req" > "$T/$name.host" 2>&1
	has "engine/$name-host-user-answered" "$T/$name.host" '^action=prepend Received-SPF: Pass'
	if setpriv --reuid=bin --regid=bin --clear-groups \
		"$PY" "$T/bin/listener.py" ask "unix:$sock" "$T/pass.req" > "$T/$name.other" 2>&1; then
		fail "engine/$name-other-user-refused" "user bin could use the socket" "$T/$name.other"
	else
		has "engine/$name-other-user-refused" "$T/$name.other" 'PermissionError'
	fi
	eng stop "$name" > /dev/null 2>&1
	eexit "$name"
	if [ "$erc" = 0 ] && [ ! -e "$sock" ]; then
		ok "engine/$name-stop-socket-removed"
	else
		fail "engine/$name-stop-socket-removed" "exit code $erc; $(ls -l "$T/$name")" "$T/$name.logs"
	fi
	eng rm -f -t 0 "$name" > /dev/null 2>&1
}
engine_checks

t_end
