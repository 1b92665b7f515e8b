#!/bin/bash
# See LICENSE file for copyright and license details.
#
# postfix-e2e.sh - end-to-end test through a real Postfix: a throwaway
# Postfix instance runs the policy server from master.cf's spawn entry
# exactly as the README documents it (user=nobody), swaks sends mail from
# several 127.0.0.x clients, and the SMTP replies and the delivered
# messages' headers are checked.  With --listener (or E2E_LISTENER=1) the
# policy server runs in listener mode instead, "spfpolicy -l
# inet:127.0.0.1:PORT CONFIG" started as root (it becomes nobody), and
# Postfix asks it with check_policy_service inet:127.0.0.1:PORT; a config
# switch between phases is a SIGHUP to the listener (Postfix is restarted
# as well, so that no smtpd keeps a connection made under the old one),
# and a last phase sends mail from more smtpd processes at once than
# Max_Connections (they take turns: issue 22).
#
#	tests/postfix-e2e.sh				# ./spfpolicy
#	tests/postfix-e2e.sh --listener			# ./spfpolicy -l
#	SPFPOLICY=/usr/bin/policyd-spf tests/postfix-e2e.sh	# pypolicyd-spf
#
# Needs root and the Debian packages postfix, swaks, python3-dnslib,
# python3-yaml, iproute2 and util-linux; without them it prints a
# "# skipped:" line and exits 0.  Everything runs in a private network,
# mount, UTS and (where possible) PID namespace: lo is up, 127.0.0.0/8 is
# local, /etc/resolv.conf says "nameserver 127.0.0.1" where tests/dnsd.py
# serves the zone below, and /dev is a small private tmpfs whose /dev/log
# is read into the instance's log.  The system's Postfix is not touched:
# the instance has its own config, queue and data directories in one
# mktemp -d directory that is removed at exit.
#
# Output: "ok e2e/NAME" and "FAIL e2e/NAME: reason" lines (details indented
# below a FAIL), "#" notes, and "N passed, N failed".  Exit status 0 when
# everything passed (or the test was skipped), 1 when a check failed, 2
# when the harness itself could not run.
#
# Environment:
#	SPFPOLICY	policy server (default: ./spfpolicy); copied into the
#			temporary directory when user nobody cannot run it
#	E2E_KEEP=1	keep the temporary directory (path printed)
#	E2E_PORT	SMTP port of the instance (default 2525)
#	E2E_LISTENER=1	as --listener
#	E2E_POLICY_PORT	the listener's port (default 10040)

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3
TNAME=e2e
. tests/lib.sh
. tests/ns.sh
PORT=${E2E_PORT:-2525}
LISTENER=${E2E_LISTENER:-0}
[ "${1:-}" = --listener ] && LISTENER=1
LPORT=${E2E_POLICY_PORT:-10040}

# ---- outside the namespace: prerequisites, then re-run inside one
if [ "${POSTFIX_E2E_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skipped "needs root (private namespaces, postfix)"
	missing=
	for p in postfix swaks python3-dnslib python3-yaml iproute2 util-linux; do
		st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null)
		[ "$st" = installed ] || missing="$missing $p"
	done
	[ -z "$missing" ] ||
		skipped "Debian packages not installed:$missing" \
			"(apt-get install postfix swaks python3-dnslib python3-yaml iproute2 util-linux)"
	for c in /usr/sbin/postfix /usr/sbin/postconf swaks ip unshare setpriv ss "$PY"; do
		command -v "$c" >/dev/null || skipped "command $c not found"
	done
	[ -f tests/dnsd.py ] || skipped "tests/dnsd.py is missing"
	t_binary
	export POSTFIX_E2E_NS=1 SPFPOLICY="$BIN" E2E_LISTENER=$LISTENER
	ns_enter "$self" "$@"
	[ -z "$ns_why" ] || skipped "$ns_why"
	die "unshare failed"
fi

# ---- inside the namespace
T=
dnsd=
logd=
lpid=
started=0

# ours: processes of this network namespace other than this shell and
# the helpers named in $1, into $procs as "PID:NAME ..." (no subshells,
# so that nothing of the scan itself shows up)
procs=
ours() {
	local p n
	procs=
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case " $$ $BASHPID $1 " in *" $p "*) continue ;; esac
		[ /proc/"$p"/ns/net -ef /proc/$$/ns/net ] || continue
		read -r n < /proc/"$p"/comm 2>/dev/null || continue
		procs="$procs $p:$n"
	done
}

# killall_ours HELPERS: TERM, then KILL, every process of ours by PID
killall_ours() {
	local i e
	for i in 1 2 3 4 5 6 7 8 9 10; do
		ours "$1"
		[ -z "$procs" ] && return 0
		[ "$i" = 10 ] && break
		[ "$i" = 1 ] || sleep 0.2
	done
	echo "# note: leftover processes after postfix stop:$procs"
	for e in $procs; do kill -TERM "${e%%:*}" 2>/dev/null; done
	sleep 0.5
	ours "$1"
	for e in $procs; do kill -KILL "${e%%:*}" 2>/dev/null; done
}

pf_stop() {
	local pid="" i
	[ "$started" = 1 ] || return 0
	started=0
	[ -s "$T/queue/pid/master.pid" ] && read -r pid < "$T/queue/pid/master.pid"
	/usr/sbin/postfix -c "$T/etc" stop >> "$T/postfix-ctl.log" 2>&1
	if [ -n "$pid" ]; then
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	# spawned policy servers (and the listener's children) end when
	# smtpd closes their socket
	killall_ours "$dnsd $logd $lpid"
}

cleanup() {
	trap - EXIT INT TERM
	[ -n "$T" ] || return
	pf_stop
	[ -n "$lpid" ] && kill -KILL "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
	[ -n "$dnsd" ] && kill "$dnsd" 2>/dev/null && wait "$dnsd" 2>/dev/null
	[ -n "$logd" ] && kill "$logd" 2>/dev/null && wait "$logd" 2>/dev/null
	ours ""
	for e in $procs; do kill -KILL "${e%%:*}" 2>/dev/null; done
	if [ "${E2E_KEEP:-}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/postfix-e2e.XXXXXX) || die "mktemp failed"
chmod 755 "$T"		# nobody must reach the policy config (and binary)
mkdir "$T/etc" "$T/queue" "$T/swaks" "$T/vmail" || die "mkdir failed"
chown nobody:nogroup "$T/vmail"

ip link set lo up || die "cannot bring lo up"
hostname mx.rcpt.test || die "cannot set the host name"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' > "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || die "cannot bind /etc/resolv.conf"
# the host name resolves without DNS (swaks looks it up for its headers)
printf '127.0.0.1\tlocalhost\n127.0.0.1\tmx.rcpt.test mx\n' > "$T/hosts"
mount --bind "$T/hosts" /etc/hosts || die "cannot bind /etc/hosts"

# a private /dev with our own /dev/log: Postfix's and the policy server's
# syslog lines land in $T/syslog
ns_dev "$T" e2e
ns_syslog "$T"

# ---- DNS: the zone the test mail is judged against
cat > "$T/zone.yml" <<'EOF'
client.test:                    # the test clients' HELO name: SPF None
  - A: 127.0.0.10
pass.test:
  - TXT: "v=spf1 ip4:127.0.0.10 ip4:127.0.0.17 -all"
fail.test:
  - TXT: "v=spf1 ip4:127.0.0.10 -all"
soft.test:
  - TXT: "v=spf1 ip4:127.0.0.10 ~all"
neutral.test:
  - TXT: "v=spf1 ip4:127.0.0.10 ?all"
none.test:
  - A: 127.0.0.10
perm.test:
  - TXT: "v=spf1 foo:bar -all"
temp.test:
  - TXT: "v=spf1 include:timeout.test -all"
timeout.test:
  - TIMEOUT
helo-pass.test:
  - TXT: "v=spf1 ip4:127.0.0.16 -all"
helo-fail.test:
  - TXT: "v=spf1 -all"
busy.test:                      # evaluated anew each message, 300 ms
  - DELAY: 300
  - TTL: 0
  - TXT: "v=spf1 ip4:127.0.0.0/8 -all"
EOF
setsid $PY tests/dnsd.py -a 127.0.0.1 -p 53 --ready "$T/dnsd.ready" \
	--stats "$T/dnsd.stats" "$T/zone.yml" 2> "$T/dnsd.err" &
dnsd=$!
ns_ready 10 "$T/dnsd.ready" "$T/logd.ready"
[ -s "$T/dnsd.ready" ] || die "tests/dnsd.py did not start" "$T/dnsd.err"
[ -s "$T/logd.ready" ] || die "the /dev/log reader did not start" "$T/logd.err"

# ---- the policy server: user nobody must be able to run it and read
# its config
if setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	test -r "$SPFPOLICY" -a -x "$SPFPOLICY" 2>/dev/null; then
	BIN=$SPFPOLICY
else
	mkdir -m 755 "$T/bin" && cp "$SPFPOLICY" "$T/bin/" || die "cannot copy $SPFPOLICY"
	BIN=$T/bin/$(basename "$SPFPOLICY")
	chmod 755 "$BIN"
fi
CONF=$T/policyd-spf.conf
if [ "$LISTENER" = 1 ]; then
	POLICY=inet:127.0.0.1:$LPORT
	mode=", listener mode on $POLICY"
else
	POLICY=unix:private/policyd-spf
	mode=
fi
echo "# postfix-e2e: policy server $BIN (from $SPFPOLICY)$mode, $(/usr/sbin/postconf -d -h mail_version 2>/dev/null | sed 's/^/Postfix /')"

# policy_conf LINES...: the policy server's config file
policy_conf() {
	{
		echo "# postfix-e2e.sh"
		echo "debugLevel = 1"
		echo "TestOnly = 1"
		echo "skip_addresses = ::1"		# the default skips 127/8
		echo "Lookup_Time = 3"
		printf '%s\n' "$@"
	} > "$CONF"
	chmod 644 "$CONF"
}

# ---- the Postfix instance
cat > "$T/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $T/queue
data_directory = $T/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.rcpt.test
mydomain = rcpt.test
myorigin = \$myhostname
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost =
default_transport = error:5.3.0 no outbound mail from the e2e test
alias_maps =
alias_database =
biff = no
in_flow_delay = 0
smtpd_banner = \$myhostname ESMTP e2e
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service $POLICY
virtual_mailbox_domains = rcpt.test
virtual_mailbox_base = $T/vmail
virtual_mailbox_maps = inline:{ alice@rcpt.test=alice/, bob@rcpt.test=bob/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
EOF
[ "$LISTENER" = 1 ] || echo "policyd-spf_time_limit = 3600" >> "$T/etc/main.cf"

cat > "$T/etc/master.cf" <<EOF
127.0.0.1:$PORT inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
EOF
[ "$LISTENER" = 1 ] || cat >> "$T/etc/master.cf" <<EOF
policyd-spf  unix  -       n       n       -       0       spawn
    user=nobody argv=$BIN $CONF
EOF

pf_start() {
	local i
	/usr/sbin/postfix -c "$T/etc" start >> "$T/postfix-ctl.log" 2>&1 || {
		tail -n 20 "$T/syslog" >> "$T/postfix-ctl.log"
		die "postfix start failed" "$T/postfix-ctl.log"
	}
	started=1
	for i in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ] &&
			{ [ "$LISTENER" = 1 ] || [ -S "$T/queue/private/policyd-spf" ]; } &&
			return 0
		sleep 0.1
	done
	tail -n 20 "$T/syslog" >> "$T/postfix-ctl.log"
	die "postfix did not listen on 127.0.0.1:$PORT" "$T/postfix-ctl.log"
}

# ---- listener mode: the policy server runs on its own and Postfix asks
# it over inet; it logs to syslog as the spawned one does

# listener_start: as root, as the README's systemd unit starts it
listener_start() {
	local i
	setsid "$BIN" -l "$POLICY" "$CONF" > "$T/listener.out" 2>&1 &
	lpid=$!
	for i in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$LPORT" 2>/dev/null)" ] && return 0
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.05
	done
	tail -n 20 "$T/syslog" >> "$T/listener.out"
	die "the listener did not listen on $POLICY" "$T/listener.out"
}

# policy_reload NAME: SIGHUP; the listener must take the new file
policy_reload() {
	local rx='configuration reloaded|keeping the running configuration' n0 i
	[ "$LISTENER" = 1 ] || return 0
	n0=$(grep -c -E "$rx" "$T/syslog")
	kill -HUP "$lpid"
	for i in $(seq 100); do
		[ "$(grep -c -E "$rx" "$T/syslog")" -gt "$n0" ] && break
		sleep 0.05
	done
	if grep -E "$rx" "$T/syslog" | tail -n 1 | grep -q 'configuration reloaded'; then
		ok "listener-reload-$1"
	else
		tail -n 20 "$T/syslog" > "$T/reload.log"
		fail "listener-reload-$1" "SIGHUP: the new config was not taken" "$T/reload.log"
	fi
}

# ---- sending and checking

# send NAME CLIENT-IP HELO SENDER RCPT[,RCPT...]: swaks transcript in
# $T/swaks/NAME
send() {
	swaks --server 127.0.0.1 --port "$PORT" --local-interface "$2" \
		--ehlo "$3" --from "$4" --to "$5" --timeout 30 \
		--header "Subject: e2e $1" --add-header "X-E2E-Id: $1" \
		--body "postfix-e2e.sh test message $1" \
		> "$T/swaks/$1" 2>&1 &
	wait $!		# (swaks ignores ^C; wait returns on it, then the trap)
}

# dialogue NAME: the SMTP dialogue of a transcript without the message
# text, into $T/dialogue.NAME (a failure's detail)
dialogue() {
	grep -v -E '^(<-  250-| -> ($|[^EHMRDQ.]|[A-Z][a-z]))' "$T/swaks/$1" > "$T/dialogue.$1"
}

# reply NAME RCPT: the server's answer to RCPT TO:<RCPT> into $reply
reply=
rcpt_reply() {
	reply=$(awk -v r=" -> RCPT TO:<$2>" '
		f && /^(<-|<\*\*) / { print; exit }
		index($0, r) == 1 { f = 1 }' "$T/swaks/$1")
}

# message NAME MAILBOX: wait for the delivered message, its file into $msg
msg=
message() {
	local i
	msg=
	for i in $(seq 100); do
		msg=$(grep -l -x -F "X-E2E-Id: $1" "$T/vmail/$2/new/"* 2>/dev/null | head -n 2)
		[ -n "$msg" ] && break
		sleep 0.1
	done
	[ -n "$msg" ] || return 1
	case $msg in
	*"
"*)	return 2 ;;
	esac
	return 0
}

# headers FILE: the unfolded header lines of a message
headers() {
	awk '/^$/ { exit }
		/^[ \t]/ { h = h $0; next }
		{ if (n++) print h; h = $0 }
		END { if (n) print h }' "$1"
}

# accepted NAME MAILBOX HEADER-ERE: the message was accepted, delivered
# once into MAILBOX, and carries exactly one SPF header (Received-SPF,
# X-Comment or Authentication-Results), matching HEADER-ERE, above the
# Received: line Postfix added
accepted() {
	local name=$1 box=$2 want=$3 h n
	rcpt_reply "$name" "$box@rcpt.test"
	case $reply in
	"<-  250 "*) ;;
	*)	dialogue "$name"
		fail "$name" "RCPT $box@rcpt.test not accepted: ${reply:-no reply}" "$T/dialogue.$name"
		return 1 ;;
	esac
	if ! grep -q '^<-  250 .*queued as' "$T/swaks/$name"; then
		dialogue "$name"
		fail "$name" "message not queued" "$T/dialogue.$name"
		return 1
	fi
	message "$name" "$box"
	case $? in
	1)	fail "$name" "not delivered into $box within 10 s" "$T/syslog"
		return 1 ;;
	2)	fail "$name" "delivered more than once into $box"
		return 1 ;;
	esac
	headers "$msg" > "$T/hdr.$name.$box"
	n=$(grep -c -E '^(Received-SPF|X-Comment|Authentication-Results):' "$T/hdr.$name.$box")
	if [ "$n" != 1 ]; then
		fail "$name" "$n SPF headers in $box's copy, want 1" "$T/hdr.$name.$box"
		return 1
	fi
	h=$(grep -E '^(Received-SPF|X-Comment|Authentication-Results):' "$T/hdr.$name.$box")
	if ! printf '%s\n' "$h" | grep -q -E -x "$want ?"; then
		fail "$name" "header: $h; want: $want"
		return 1
	fi
	# PREPEND puts the header above smtpd's own Received: line
	n=$(awk '/^Received: from / { print "r"; exit }
		/^(Received-SPF|X-Comment|Authentication-Results):/ { print "s"; exit }' "$T/hdr.$name.$box")
	if [ "$n" != s ]; then
		fail "$name" "SPF header below Postfix's Received: line" "$T/hdr.$name.$box"
		return 1
	fi
	return 0
}

# rejected NAME RCPT REPLY-ERE: RCPT TO was answered with REPLY-ERE
rejected() {
	rcpt_reply "$1" "$2"
	if printf '%s\n' "$reply" | grep -q -E "^<\*\* $3"; then
		return 0
	fi
	dialogue "$1"
	fail "$1" "RCPT $2: ${reply:-no reply}; want: $3" "$T/dialogue.$1"
	return 1
}

no_spf_header() {	# NAME MAILBOX: delivered without any SPF header
	rcpt_reply "$1" "$2@rcpt.test"
	case $reply in
	"<-  250 "*) ;;
	*)	dialogue "$1"
		fail "$1" "RCPT not accepted: ${reply:-no reply}" "$T/dialogue.$1"
		return 1 ;;
	esac
	if ! message "$1" "$2"; then
		fail "$1" "not delivered (once) into $2" "$T/syslog"
		return 1
	fi
	headers "$msg" > "$T/hdr.$1.$2"
	if grep -q -E '^(Received-SPF|X-Comment|Authentication-Results):' "$T/hdr.$1.$2"; then
		fail "$1" "SPF header on mail from mynetworks" "$T/hdr.$1.$2"
		return 1
	fi
	return 0
}

hdr_tail() {	# IP HELO SENDER: the fixed tail of a pypolicyd-spf header
	local ip=${1//./\\.} helo=${2//./\\.} from=${3//./\\.}
	printf '%s' "client-ip=$ip; helo=$helo; envelope-from=$from; receiver=rcpt\\.test"
}

dns_counts() {		# the queries dnsd answered, by type, into $dnsq
	local i
	rm -f "$T/dnsd.stats"
	kill -USR1 "$dnsd" 2>/dev/null
	for i in $(seq 30); do
		[ -s "$T/dnsd.stats" ] && break
		sleep 0.1
	done
	dnsq=$($PY -c 'import json, sys
c = json.load(open(sys.argv[1]))
t = {}
for proto in c.values():
    for k, v in proto.items():
        if k != "total":
            t[k] = t.get(k, 0) + v
print(", ".join("%d %s" % (v, k) for k, v in sorted(t.items())))' \
		"$T/dnsd.stats" 2>/dev/null)
}

started_at=$(date +%s.%N)

# ======== phase 1: Mail_From_reject = Fail (default), TempError_Defer,
# a whitelisted relay
policy_conf "HELO_reject = Fail" "Mail_From_reject = Fail" \
	"PermError_reject = False" "TempError_Defer = True" \
	"Whitelist = 127.0.0.30"
[ "$LISTENER" = 1 ] && listener_start
pf_start

# mail from mynetworks never reaches the policy server
send mynetworks 127.0.0.1 client.test user@fail.test alice@rcpt.test
no_spf_header mynetworks alice && ok mynetworks

n=pass
send $n 127.0.0.10 client.test user@pass.test alice@rcpt.test
accepted $n alice "Received-SPF: Pass \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.10 client.test user@pass.test)" &&
	ok $n

# spawn(8) runs the policy server as user=nobody, and it stays up while
# the smtpd process that asked it waits for the next client
if [ "$LISTENER" = 1 ]; then
	# the listener and its child for that smtpd's connection: nobody
	n=listener-user
	ids=
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$lpid" ] ||
			[ "$(awk '/^PPid:/ { print $2 }' /proc/"$p"/status 2>/dev/null)" = "$lpid" ] ||
			continue
		ids="$ids $(awk '/^Uid:/ { u = $2 "," $3 "," $4 "," $5 }
			/^Gid:/ { g = $2 "," $3 "," $4 "," $5 } END { print u "/" g }' /proc/"$p"/status 2>/dev/null)"
	done
	w=" 65534,65534,65534,65534/65534,65534,65534,65534"
	case $ids in
	"$w$w")	ok $n ;;
	*)	fail $n "uid/gid of the listener and its children:$ids (want 65534 for the listener and one child)" ;;
	esac
else
	n=spawn-user
	ours "$dnsd $logd"
	uids=
	for e in $procs; do
		p=${e%%:*}
		[ "${e#*:}" = spawn ] && continue	# spawn(8) itself runs as root
		tr '\0' ' ' < /proc/"$p"/cmdline 2>/dev/null | grep -q -F " $CONF" || continue
		uids="$uids $(awk '/^Uid:/ { print $2 }' /proc/"$p"/status 2>/dev/null)"
	done
	case $uids in
	" 65534")	ok $n ;;
	"")		fail $n "no policy server process left after the pass message" ;;
	*)		fail $n "policy server processes with uids:$uids (want one, 65534)" ;;
	esac
fi

n=pass-2rcpt
send $n 127.0.0.10 client.test user@pass.test alice@rcpt.test,bob@rcpt.test
w="Received-SPF: Pass \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.10 client.test user@pass.test)"
if accepted $n alice "$w"; then
	m1=$msg
	if accepted $n bob "$w"; then
		id1=$(grep -m1 -i '^Message-Id:' "$m1")
		id2=$(grep -m1 -i '^Message-Id:' "$msg")
		if [ "$(grep -c 'queued as' "$T/swaks/$n")" != 1 ]; then
			dialogue $n
			fail $n "not one transaction" "$T/dialogue.$n"
		elif [ "$id1" != "$id2" ]; then
			fail $n "the two copies differ: $id1 / $id2"
		else
			ok $n
		fi
	fi
fi

n=fail
send $n 127.0.0.11 client.test user@fail.test alice@rcpt.test
rejected $n alice@rcpt.test '550 5\.7\.23 <alice@rcpt\.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@fail\.test;ip=127\.0\.0\.11;r=rcpt\.test$' &&
	ok $n

n=softfail
send $n 127.0.0.12 client.test user@soft.test alice@rcpt.test
accepted $n alice "Received-SPF: Softfail \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.12 client.test user@soft.test)" &&
	ok $n

n=neutral
send $n 127.0.0.18 client.test user@neutral.test alice@rcpt.test
accepted $n alice "Received-SPF: Neutral \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.18 client.test user@neutral.test)" &&
	ok $n

n=none
send $n 127.0.0.13 client.test user@none.test alice@rcpt.test
accepted $n alice "Received-SPF: None \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.13 client.test user@none.test)" &&
	ok $n

n=permerror
send $n 127.0.0.14 client.test user@perm.test alice@rcpt.test
accepted $n alice "Received-SPF: Permerror \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.14 client.test user@perm.test)" &&
	ok $n

n=temperror
t0=$(date +%s.%N)
send $n 127.0.0.15 client.test user@temp.test alice@rcpt.test
t1=$(date +%s.%N)
if rejected $n alice@rcpt.test '4[0-9][0-9] 4\.7\.24 <alice@rcpt\.test>: Recipient address rejected: Message deferred due to: SPF Temporary Error: .*\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@temp\.test;ip=127\.0\.0\.15;r=rcpt\.test$'; then
	ok $n
	echo "# note: temperror answered after $(t_since "$t0" "$t1") s (Lookup_Time = 3)"
fi

n=null-sender
send $n 127.0.0.16 helo-pass.test '<>' alice@rcpt.test
accepted $n alice "Received-SPF: Pass \(sender SPF authorized\) identity=helo; $(hdr_tail 127.0.0.16 helo-pass.test '<>')" &&
	ok $n

n="helo-fail"
send $n 127.0.0.17 helo-fail.test user@pass.test alice@rcpt.test
rejected $n alice@rcpt.test '550 5\.7\.23 <alice@rcpt\.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=helo;id=helo-fail\.test;ip=127\.0\.0\.17;r=rcpt\.test$' &&
	ok $n

n=whitelist
send $n 127.0.0.30 client.test user@fail.test alice@rcpt.test
accepted $n alice "X-Comment: SPF skipped for whitelisted relay - $(hdr_tail 127.0.0.30 client.test user@fail.test)" &&
	ok $n

pf_stop

# ======== phase 2: Mail_From_reject = False
policy_conf "Mail_From_reject = False" "TempError_Defer = True"
policy_reload mfrom-false
pf_start

n=fail-noreject
send $n 127.0.0.11 client.test user@fail.test alice@rcpt.test
accepted $n alice "Received-SPF: Fail \(mailfrom\) identity=mailfrom; $(hdr_tail 127.0.0.11 client.test user@fail.test)" &&
	ok $n

pf_stop

# ======== phase 3: PermError_reject = True
policy_conf "PermError_reject = True"
policy_reload permerror-true
pf_start

n=permerror-reject
send $n 127.0.0.14 client.test user@perm.test alice@rcpt.test,bob@rcpt.test
rejected $n alice@rcpt.test '550 5\.7\.24 <alice@rcpt\.test>: Recipient address rejected: Message rejected due to: SPF Permanent Error: .*\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@perm\.test;ip=127\.0\.0\.14;r=rcpt\.test$' &&
	rejected $n bob@rcpt.test '550 5\.7\.2[34] <bob@rcpt\.test>: Recipient address rejected: Message rejected due to: SPF Permanent Error: ' &&
	ok $n

pf_stop

# ======== phase 4 (listener mode): more smtpd processes than
# Max_Connections, all sending mail at once (issue 22).  BURST_CLIENTS
# SMTP sessions from as many addresses, each BURST_MESSAGES messages to
# alice and bob, back to back; every smtpd keeps its policy connection,
# so the listener must close one for the next (after a reply, between
# messages: smtpd asks again on a new connection, smtpd_policy_service_
# try_limit 2).  Every message must be accepted and delivered to both
# with its one Received-SPF header, and the log (checked below) must have
# no "problem talking to server" or 4.3.5.
burst() {
	"$PY" - "$PORT" "$T/vmail" "$T/burst.out" 12 3 <<'PYEOF'
import os, re, smtplib, sys, threading, time
port, vmail, out, n, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
bad, lock = [], threading.Lock()

def session(i):
    ip = '127.0.0.%d' % (40 + i)
    try:
        s = smtplib.SMTP('127.0.0.1', int(port), 'client.test', 120, (ip, 0))
        s.ehlo()
        for j in range(k):
            s.mail('user@busy.test')
            for r in ('alice', 'bob'):
                code, text = s.rcpt('%s@rcpt.test' % r)
                if code != 250:
                    with lock:
                        bad.append('burst-%d-%d RCPT %s: %d %r' % (i, j, r, code, text))
            code, text = s.data(('Subject: burst\r\nX-E2E-Id: burst-%d-%d\r\n\r\nburst\r\n'
                                 % (i, j)).encode())
            if code != 250:
                with lock:
                    bad.append('burst-%d-%d DATA: %d %r' % (i, j, code, text))
        s.quit()
    except Exception as e:
        with lock:
            bad.append('session %d: %r' % (i, e))

t0 = time.time()
ts = [threading.Thread(target=session, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join(300)
took = time.time() - t0
want = {'burst-%d-%d' % (i, j) for i in range(n) for j in range(k)}
hdr = re.compile(r'^Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=127\.0\.0\.\d+; '
                 r'helo=client\.test; envelope-from=user@busy\.test; receiver=rcpt\.test ?$')
for box in ('alice', 'bob'):
    end, got = time.time() + 20, {}
    while time.time() < end:
        got = {}
        d = os.path.join(vmail, box, 'new')
        for f in os.listdir(d) if os.path.isdir(d) else []:
            text = open(os.path.join(d, f), errors='replace').read().split('\n\n', 1)[0]
            text = re.sub(r'\n[ \t]+', ' ', text)
            m = re.search(r'^X-E2E-Id: (burst-\d+-\d+)$', text, re.M)
            if m:
                got.setdefault(m.group(1), []).append(
                    [l for l in text.split('\n') if re.match(r'(Received-SPF|X-Comment|Authentication-Results):', l)])
        if want <= set(got):
            break
        time.sleep(0.2)
    for m in sorted(want):
        if m not in got:
            bad.append('%s: not delivered to %s' % (m, box))
        elif len(got[m]) != 1:
            bad.append('%s: delivered %d times to %s' % (m, len(got[m]), box))
        elif len(got[m][0]) != 1 or not hdr.match(got[m][0][0]):
            bad.append('%s to %s: SPF headers %r' % (m, box, got[m][0]))
with open(out, 'w') as f:
    f.write('%d sessions x %d messages in %.1f s\n' % (n, k, took))
    f.write(''.join(b + '\n' for b in bad))
sys.exit(1 if bad else 0)
PYEOF
}
if [ "$LISTENER" = 1 ]; then
	policy_conf "Max_Connections = 3"
	policy_reload max-connections-3
	pf_start
	n0=$(grep -c 'for a new client' "$T/syslog")
	n=full-house
	if burst; then
		ok $n
	else
		fail $n "12 smtpd sessions on Max_Connections 3" "$T/burst.out"
	fi
	echo "# $n: $(head -n 1 "$T/burst.out"); $(($(grep -c 'for a new client' "$T/syslog") - n0)) closes for a new client logged, $(grep -c 'after its next reply' "$T/syslog") of them after a reply"
	n=full-house-turns
	if [ "$(grep -c 'for a new client' "$T/syslog")" -gt "$n0" ]; then
		ok $n
	else
		fail $n "no connection was closed for a new client: the house was never full"
	fi
	pf_stop
fi

if [ "$LISTENER" = 1 ]; then
	# SIGTERM with no connection open: out at once, status 0
	pid=$lpid
	kill -TERM "$lpid"
	wait "$lpid"
	rc=$?
	lpid=
	if [ "$rc" = 0 ] && grep -q -F "$(basename "$BIN")[$pid]: stopping: 0 connections open" "$T/syslog"; then
		ok listener-stop
	else
		tail -n 20 "$T/syslog" > "$T/stop.log"
		fail listener-stop "exit status $rc after SIGTERM" "$T/stop.log"
	fi
fi
dns_counts
# PTR: smtpd's reverse lookups of the clients (the policy server makes none
# with these configs)
[ -z "$dnsq" ] || echo "# note: DNS queries answered: $dnsq"

# ---- the instance's log: no warnings or errors from Postfix (e.g. about
# the policy server's answers) or from the policy server
awk '{ pri = substr($0, 2, index($0, ">") - 2) + 0 }
	pri % 8 <= 4 || /Traceback|\]: ERROR|Ouch, caught exc/' \
	"$T/syslog" > "$T/warnings"
if [ -s "$T/warnings" ]; then
	fail log "warnings or errors in the log" "$T/warnings"
else
	ok log
fi

echo "# postfix-e2e: $(t_since "$started_at") s"
t_end
