#!/bin/bash
# See LICENSE file for copyright and license details.
#
# listener.sh - listener mode (spfpolicy -l): the same replies as spawn
# mode over inet (127.0.0.1, ::1) and unix sockets, many clients at once
# and in the backlog, Idle_Timeout, clients that go away mid-request,
# SIGHUP with good and broken config files, SIGTERM's grace, the
# privileges of the serving processes, and (tests/listener_abuse.py) a
# shared network: Request_Timeout, a full house of slow clients,
# Listen_Allow, sockets from systemd or a supervisor (-l systemd, fd:N).
#
#	tests/listener.sh			# ./spfpolicy
#	SPFPOLICY=/path/to/spfpolicy tests/listener.sh
#
# Needs root (a private network, mount, UTS and, where the kernel allows,
# PID namespace: lo is up, tests/dnsd.py serves a small zone on 127.0.0.1
# and the config names it with Nameservers; /dev is a small private tmpfs
# whose /dev/log is read into a file) and python3 with dnslib and yaml;
# without them it prints a "# skipped:" line and exits 0.  Listeners run
# with -d (log on stderr, one file each).  When strace is installed, the
# listener of the disconnect tests runs under it, to see how every child
# ended.
#
# Output: "ok listener/NAME" and "FAIL listener/NAME: reason" lines
# (details indented below a FAIL), "#" notes, and "N passed, N failed".
# Exit status 0 when everything passed (or the test was skipped), 1 when
# a check failed, 2 when the harness itself could not run.
#
# Environment:
#	SPFPOLICY	the binary (default: ./spfpolicy)
#	LISTENER_KEEP=1	keep the temporary directory (path printed)

set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/.." || exit 2
ROOT=$(pwd)
PY=/usr/bin/python3
TNAME=listener
. tests/lib.sh
. tests/ns.sh

# ---- outside the namespace: prerequisites, then re-run inside one
if [ "${LISTENER_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skipped "needs root (private namespaces, privilege drop)"
	for c in unshare ip setpriv "$PY"; do
		command -v "$c" >/dev/null || skipped "command $c not found"
	done
	"$PY" -c 'import dnslib, yaml' 2>/dev/null ||
		skipped "python3 modules dnslib and yaml (apt-get install python3-dnslib python3-yaml)"
	getent passwd nobody >/dev/null || skipped "no user nobody"
	[ -f tests/dnsd.py ] || skipped "tests/dnsd.py is missing"
	[ -f tests/listener_abuse.py ] || skipped "tests/listener_abuse.py is missing"
	t_binary
	export LISTENER_NS=1 SPFPOLICY="$BIN"
	ns_enter "$self" "$@"
	[ -z "$ns_why" ] || skipped "$ns_why"
	die "unshare failed"
fi

# ---- inside the namespace
BIN=$SPFPOLICY
T=
dnsd=
logd=
lpid=
tracer=
lrc=

cleanup() {
	trap - EXIT INT TERM
	[ -n "$T" ] || return
	[ -n "$lpid" ] && kill -KILL "$lpid" 2>/dev/null
	[ -n "$tracer" ] && kill "$tracer" 2>/dev/null
	[ -n "$dnsd" ] && kill "$dnsd" 2>/dev/null
	[ -n "$logd" ] && kill "$logd" 2>/dev/null
	wait 2>/dev/null
	if [ "${LISTENER_KEEP:-}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/listener.XXXXXX) || die "mktemp failed"
chmod 755 "$T"		# nobody must read the config files (SIGHUP)
mkdir "$T/req" || die "mkdir failed"

ip link set lo up || die "cannot bring lo up"
hostname mx.listener.test || die "cannot set the host name"

# a private /dev whose /dev/log goes to $T/syslog: spawn mode and the
# listener without -d log there, not to the host
ns_dev "$T" listener
ns_syslog "$T"

# ---- DNS
cat > "$T/zone.yml" <<'EOF'
pass.test:
  - TXT: "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all"
fail.test:
  - TXT: "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all"
soft.test:
  - TXT: "v=spf1 ip4:192.0.2.1 ~all"
neutral.test:
  - TXT: "v=spf1 ip4:192.0.2.1 ?all"
none.test:
  - A: 192.0.2.99
perm.test:
  - TXT: "v=spf1 foo:bar -all"
temp.test:
  - SERVFAIL
helo-pass.test:
  - TXT: "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all"
helo-fail.test:
  - TXT: "v=spf1 -all"
slow.test:
  - DELAY: 400
  - TXT: "v=spf1 ip4:192.0.2.1 -all"
EOF
setsid $PY tests/dnsd.py -a 127.0.0.1 -p 0 --ready "$T/dnsd.ready" \
	"$T/zone.yml" 2> "$T/dnsd.err" &
dnsd=$!
ns_ready 10 "$T/dnsd.ready" "$T/logd.ready"
[ -s "$T/dnsd.ready" ] || die "tests/dnsd.py did not start" "$T/dnsd.err"
[ -s "$T/logd.ready" ] || die "the /dev/log reader did not start" "$T/logd.err"
read -r DNSPORT < "$T/dnsd.ready"

# ---- config files (readable by nobody: SIGHUP re-reads them as nobody)

# conf FILE LINES...: the base config plus LINES
conf() {
	local f=$T/$1
	shift
	{
		echo "# listener.sh"
		echo "debugLevel = 1"
		echo "HELO_reject = Fail"
		echo "Mail_From_reject = Fail"
		echo "PermError_reject = False"
		echo "TempError_Defer = True"
		echo "Lookup_Time = 5"
		echo "Nameservers = 127.0.0.1:$DNSPORT"
		printf '%s\n' "$@"
	} > "$f"
	chmod 644 "$f"
}
conf base.conf

# ---- requests

# req IP HELO SENDER RCPT INSTANCE: one request as smtpd sends it
req() {
	printf '%s\n' request=smtpd_access_policy protocol_state=RCPT \
		protocol_name=ESMTP "client_address=$1" client_name=unknown \
		client_port=54321 reverse_client_name=unknown \
		server_address=192.0.2.25 server_port=25 "helo_name=$2" \
		"sender=$3" "recipient=$4" recipient_count=0 queue_id= \
		"instance=$5" size=0 etrn_domain= stress= sasl_method= \
		sasl_username= sasl_sender= encryption_protocol= \
		policy_context= ''
}

# the cases, in order: NAME, then the ERE its reply must match in spawn mode
case_() {	# NAME ERE IP HELO SENDER RCPT INSTANCE
	printf '%s\t%s\n' "$1" "$2" >> "$T/req/cases.want"
	req "$3" "$4" "$5" "$6" "$7" >> "$T/req/cases.txt"
}
case_ pass '^action=prepend Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=192\.0\.2\.1; helo=mail\.example\.org; envelope-from=user@pass\.test; receiver=rcpt\.test $' \
	192.0.2.1 mail.example.org user@pass.test a@rcpt.test 100.1
case_ fail '^action=550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@fail\.test;ip=203\.0\.113\.5;r=rcpt\.test$' \
	203.0.113.5 mail.example.org user@fail.test a@rcpt.test 100.2
case_ softfail '^action=prepend Received-SPF: Softfail \(mailfrom\) identity=mailfrom; client-ip=203\.0\.113\.5;' \
	203.0.113.5 mail.example.org user@soft.test a@rcpt.test 100.3
case_ neutral '^action=prepend Received-SPF: Neutral \(mailfrom\) identity=mailfrom; client-ip=203\.0\.113\.5;' \
	203.0.113.5 mail.example.org user@neutral.test a@rcpt.test 100.4
case_ none '^action=prepend Received-SPF: None \(mailfrom\) identity=mailfrom; client-ip=203\.0\.113\.5;' \
	203.0.113.5 mail.example.org user@none.test a@rcpt.test 100.5
case_ permerror '^action=prepend Received-SPF: Permerror \(mailfrom\) identity=mailfrom; client-ip=203\.0\.113\.5;' \
	203.0.113.5 mail.example.org user@perm.test a@rcpt.test 100.6
case_ temperror '^action=defer_if_permit 4\.7\.24 Message deferred due to: SPF Temporary Error: .*Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@temp\.test;' \
	203.0.113.5 mail.example.org user@temp.test a@rcpt.test 100.7
case_ null-sender-pass '^action=prepend Received-SPF: Pass \(sender SPF authorized\) identity=helo; client-ip=192\.0\.2\.1; helo=helo-pass\.test; envelope-from=<>;' \
	192.0.2.1 helo-pass.test '' a@rcpt.test 100.8
case_ null-sender-fail '^action=550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=helo;id=helo-fail\.test;' \
	203.0.113.5 helo-fail.test '' a@rcpt.test 100.9
case_ multi-rcpt-1 '^action=550 5\.7\.23 Message rejected due to: SPF fail' \
	203.0.113.5 mail.example.org user@fail.test a@rcpt.test 100.10
case_ multi-rcpt-2 '^action=550 5\.7\.23 Message rejected due to: SPF fail' \
	203.0.113.5 mail.example.org user@fail.test b@rcpt.test 100.10
case_ multi-pass-1 '^action=prepend Received-SPF: Pass \(mailfrom\)' \
	192.0.2.1 mail.example.org user@pass.test a@rcpt.test 100.11
case_ multi-pass-2 '^action=dunno$' \
	192.0.2.1 mail.example.org user@pass.test b@rcpt.test 100.11
case_ ipv6-pass '^action=prepend Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=2001:db8::1;' \
	2001:db8::1 mail.example.org user@pass.test a@rcpt.test 100.12
case_ ipv6-fail '^action=550 5\.7\.23 Message rejected due to: SPF fail - not authorized\. Please see http://www\.openspf\.net/Why\?s=mfrom;id=user@fail\.test;ip=2001:db8::bad;' \
	2001:db8::bad mail.example.org user@fail.test a@rcpt.test 100.13
case_ bad-client '^action=dunno$' \
	not-an-ip mail.example.org user@pass.test a@rcpt.test 100.14

# independent requests (an instance each) for the load tests
for i in 1 2 3 4; do
	req 192.0.2.1 mail.example.org user@pass.test a@rcpt.test "200.$i" >> "$T/req/load.txt"
	req 203.0.113.5 mail.example.org user@fail.test a@rcpt.test "201.$i" >> "$T/req/load.txt"
	req 2001:db8::1 mail.example.org user@pass.test a@rcpt.test "202.$i" >> "$T/req/load.txt"
done
req 203.0.113.5 mail.example.org user@fail.test a@rcpt.test 300.1 > "$T/req/fail1.txt"
req 192.0.2.1 mail.example.org user@slow.test a@rcpt.test 300.2 > "$T/req/slow.txt"

# ---- the client
cat > "$T/client.py" <<'EOF'
"""Policy clients for listener.sh; commands print ok/FAIL lines."""
import errno, os, re, signal, socket, struct, sys, threading, time

def address(spec):
    kind, rest = spec.split(':', 1)
    if kind == 'unix':
        return socket.AF_UNIX, rest
    host, port = rest.rsplit(':', 1)
    host = host.strip('[]')
    return (socket.AF_INET6 if ':' in host else socket.AF_INET), (host, int(port))

def requests(path):
    data = open(path, 'rb').read()
    return [r + b'\n\n' for r in data.split(b'\n\n') if r.strip()]

def replies(path):
    return [r + b'\n\n' for r in open(path, 'rb').read().split(b'\n\n')[:-1]]

class Conn(object):
    def __init__(self, spec, timeout=10.0, rcvbuf=0):
        fam, addr = address(spec)
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def reply(self, timeout=10.0):
        """The next reply (up to and with its empty line); EOFError at
        end of input, socket.timeout when none comes in time."""
        end = time.time() + timeout
        while b'\n\n' not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise socket.timeout('no reply in %.1f s' % timeout)
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed (%r pending)' % self.buf[:60])
            self.buf += d
        i = self.buf.index(b'\n\n') + 2
        r, self.buf = self.buf[:i], self.buf[i:]
        return r

    def ask(self, req, timeout=10.0):
        self.send(req)
        return self.reply(timeout)

    def eof(self, timeout):
        """Seconds until the server closes, None if it does not in time."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            self.s.settimeout(max(0.01, timeout - (time.time() - t0)))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return time.time() - t0
            if not d:
                return time.time() - t0
            self.buf += d
        return None

    def close(self, rst=False):
        if rst:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.s.close()

def report(name, good, why=''):
    print(('ok listener/%s' % name) if good else ('FAIL listener/%s: %s' % (name, why)),
          flush=True)
    return good

def children(ppid):
    """Living children of ppid, and zombies among them."""
    live, zombies = [], []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        f = st.rsplit(')', 1)[1].split()
        if int(f[1]) == ppid:
            (zombies if f[0] == 'Z' else live).append(int(d))
    return live, zombies

def gone(pid, timeout):
    """Wait until pid has exited (zombie or reaped)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open('/proc/%d/stat' % pid) as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False

def new_child(ppid, before, timeout=3.0):
    end = time.time() + timeout
    while time.time() < end:
        new = set(children(ppid)[0]) - before
        if new:
            return new.pop()
        time.sleep(0.01)
    return None

def wait_log(path, offset, rx, timeout=5.0):
    """The log text from offset once rx matches in it (None: never)."""
    end = time.time() + timeout
    while True:
        with open(path, 'rb') as f:
            f.seek(offset)
            text = f.read().decode('utf-8', 'replace')
        if re.search(rx, text, re.M):
            return text
        if time.time() > end:
            return None
        time.sleep(0.05)

def short(b):
    return repr(b[:160])

# ---- commands

def cmd_ask(spec, reqfile, mode='one'):
    """Replies to the requests of reqfile, on one connection, on stdout:
    one request at a time, or (burst) all at once then EOF."""
    out = sys.stdout.buffer
    c = Conn(spec)
    if mode == 'burst':
        c.send(b''.join(requests(reqfile)))
        c.s.shutdown(socket.SHUT_WR)
        while True:
            d = c.s.recv(65536)
            if not d:
                break
            c.buf += d
        out.write(c.buf)
    else:
        for r in requests(reqfile):
            out.write(c.ask(r))
    c.close()

def cmd_load(name, spec, n, k, reqfile, expfile, ppid, barrier=None, limit=0):
    """n clients at once, k requests each; barrier: all n connections
    must be open and answered at the same time; limit: at most that
    many children at once."""
    n, k, ppid, limit = int(n), int(k), int(ppid), int(limit)
    reqs, exp = requests(reqfile), replies(expfile)
    assert len(reqs) == len(exp) >= k
    res = {'ok': 0, 'wrong': 0, 'err': 0, 'first': '', 'again': 0}
    lock = threading.Lock()
    peak, together = [0], [0]

    def count():                # all n clients answered, none gone yet
        together[0] = len(children(ppid)[0])
    bar = threading.Barrier(n, action=count) if barrier == 'barrier' else None
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], len(children(ppid)[0]))
            time.sleep(0.005)

    def client(i):
        try:
            c = Conn(spec, 30)
            for j in range(k):
                x = (i + j) % len(reqs)
                try:
                    r = c.ask(reqs[x], 30)
                except (EOFError, ConnectionResetError):
                    # closed between requests to make room for a new
                    # client: smtpd asks again on a new connection
                    c.close()
                    c = Conn(spec, 30)
                    r = c.ask(reqs[x], 30)
                    with lock:
                        res['again'] += 1
                with lock:
                    if r == exp[x]:
                        res['ok'] += 1
                    else:
                        res['wrong'] += 1
                        res['first'] = res['first'] or 'client %d: %s' % (i, short(r))
                if j == 0 and bar:
                    bar.wait(30)
            c.close()
        except Exception as e:
            with lock:
                res['err'] += 1
                res['first'] = res['first'] or 'client %d: %r' % (i, e)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.time()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.time() - t0
    done.set()
    sampler.join()
    print('# %s: %d clients x %d requests in %.1f s, at most %d children at once, '
          '%d asked again on a new connection'
          % (name, n, k, took, max(peak[0], together[0]), res['again']), flush=True)
    report(name, res['ok'] == n * k,
           '%d right, %d wrong, %d clients failed; first: %s'
           % (res['ok'], res['wrong'], res['err'], res['first']))
    if bar:
        report(name + '-concurrent', together[0] == n,
               '%d children while %d clients were connected' % (together[0], n))
    if limit:
        report(name + '-limit', 0 < peak[0] <= limit,
               '%d children at once, Max_Connections = %d' % (peak[0], limit))

def cmd_backlog(spec, m, reqfile, expfile):
    """Max_Connections = m: m connections are served and left idle; the
    next one is served within about a second, the one idle longest being
    closed for it (issue 13), the others kept."""
    m = int(m)
    reqs, exp = requests(reqfile), replies(expfile)
    conns = []
    for i in range(m):
        c = Conn(spec)
        r = c.ask(reqs[i % len(reqs)])
        if r != exp[i % len(reqs)]:
            return report('backlog%d' % m, False, 'connection %d: %s' % (i, short(r)))
        conns.append(c)
    extra = Conn(spec)          # connect() succeeds: the kernel queues it
    t0 = time.time()
    extra.send(reqs[0])
    try:                        # "within a second", with room for a busy machine
        r = extra.reply(1.5)
        report('backlog%d-served' % m, r == exp[0], short(r))
        print('# backlog%d: connection %d served after %.2f s' % (m, m + 1, time.time() - t0))
    except Exception as e:
        report('backlog%d-served' % m, False,
               'connection %d not answered within 1.5 s while %d idle ones were open: %r'
               % (m + 1, m, e))
    # the first connection is the one idle longest
    report('backlog%d-idle-longest-closed' % m, conns[0].eof(1.0) is not None,
           'the connection idle longest was not closed for the new one')
    kept = [i for i, c in enumerate(conns[1:], 1) if c.eof(0.01) is not None]
    report('backlog%d-others-kept' % m, not kept, 'connections %r closed too' % kept[:10])
    for c in conns + [extra]:
        c.close()

def cmd_idle(spec, secs, reqfile, expfile):
    """Idle_Timeout = secs: a half request and a silent connection are
    closed after secs; others are served meanwhile; a client that asks
    more often than every secs keeps its connection."""
    secs = float(secs)
    reqs, exp = requests(reqfile), replies(expfile)
    half = Conn(spec)
    half.send(reqs[0][:len(reqs[0]) // 2])
    silent = Conn(spec)
    active = Conn(spec)
    result = {}

    def watch(name, c):
        result[name] = c.eof(secs + 5)
    ws = [threading.Thread(target=watch, args=a) for a in (('half', half), ('silent', silent))]
    kept = [True, '']

    def keep():                 # a request every 0.6 x secs, 1.8 x secs in all
        for i in range(4):
            try:
                r = active.ask(reqs[i % len(reqs)])
                if r != exp[i % len(reqs)]:
                    kept[:] = False, short(r)
            except Exception as e:
                kept[:] = False, 'request %d: %r' % (i + 1, e)
                break
            if i < 3:
                time.sleep(secs * 0.6)
    ws.append(threading.Thread(target=keep))
    for w in ws:
        w.start()
    served, why = True, ''
    for i in range(3):          # others meanwhile
        time.sleep(secs / 4)
        try:
            r = Conn(spec).ask(reqs[i % len(reqs)])
            if r != exp[i % len(reqs)]:
                served, why = False, short(r)
        except Exception as e:
            served, why = False, repr(e)
    for w in ws:
        w.join()
    for name in ('half', 'silent'):
        e = result[name]
        report('idle-' + name, e is not None and secs - 0.3 <= e <= secs + 1.5,
               'closed after %s s, Idle_Timeout = %g' % (None if e is None else '%.2f' % e, secs))
        if e is not None:
            print('# idle-%s: closed after %.2f s' % (name, e))
    report('idle-others-served', served, why)
    report('idle-active-kept', kept[0], kept[1])
    for c in (half, silent, active):
        c.close()

def cmd_cut(spec, ppid, reqfile, expfile, slowfile):
    """Clients that go away mid-request: each time the child exits and
    the server goes on serving."""
    ppid = int(ppid)
    reqs, exp = requests(reqfile), replies(expfile)
    slow = requests(slowfile)[0]
    req = reqs[0]

    def half_fin(c): c.send(req[:len(req) // 2]); c.close()
    def half_rst(c): c.send(req[:len(req) // 2]); c.close(rst=True)
    def mid_line(c): c.send(req[:len(req) // 2 - 3]); c.close()
    def long_line(c): c.send(b'x' * 20000); c.close()
    def before_reply(c): c.send(slow); c.close()
    def before_reply_rst(c): c.send(slow); c.close(rst=True)
    def pipelined(c): c.send(b''.join(reqs) * 5); c.close()
    def pipelined_rst(c): c.send(b''.join(reqs) * 5); c.close(rst=True)
    def no_bytes(c): c.close()
    for f in (half_fin, half_rst, mid_line, long_line, before_reply,
              before_reply_rst, pipelined, pipelined_rst, no_bytes):
        name = 'disconnect-' + f.__name__.replace('_', '-')
        before = set(children(ppid)[0])
        c = Conn(spec)
        kid = new_child(ppid, before)
        if kid is None:
            report(name, False, 'no child process for the connection')
            continue
        f(c)
        if not gone(kid, 5):
            report(name, False, 'child %d still there 5 s after the client left' % kid)
            continue
        time.sleep(0.1)
        live, zombies = children(ppid)
        if kid in zombies:
            time.sleep(1.2)
            live, zombies = children(ppid)
        try:
            r = Conn(spec).ask(reqs[0])
        except Exception as e:
            r = repr(e).encode()
        report(name, r == exp[0] and kid not in zombies,
               'next client got %s%s' % (short(r), ', child not reaped' if kid in zombies else ''))

def cmd_stall(spec, ppid, secs, reqfile):
    """A client that sends requests and reads no replies: once the
    socket buffers are full the child can only wait to write; after
    Idle_Timeout it should give up like a silent connection."""
    ppid, secs = int(ppid), float(secs)
    req = requests(reqfile)[0]
    before = set(children(ppid)[0])
    c = Conn(spec, rcvbuf=4096)
    kid = new_child(ppid, before)
    c.s.setblocking(False)
    chunk, t_full = req * 200, None
    end = time.time() + 20
    while time.time() < end:
        try:
            c.s.send(chunk)
            t_full = None
        except BlockingIOError:
            t_full = t_full or time.time()
            if time.time() - t_full > 0.5:      # the child stopped reading
                break
            time.sleep(0.02)
    t0 = time.time()
    ok = gone(kid, 3 * secs + 3)    # each write() gets secs: a reply written in part, more
    took = time.time() - t0
    report('idle-unread-replies', ok,
           'child %d still there %.1f s after it stopped reading (Idle_Timeout = %g)'
           % (kid, took, secs))
    if ok:
        print('# idle-unread-replies: closed %.1f s after it stopped reading' % took)
    c.close(rst=True)

def cmd_hup(spec, pid, conffile, errfile, failfile):
    """SIGHUP: a good new file is used for new connections, a broken one
    is not (and the log says why)."""
    pid = int(pid)
    fail = requests(failfile)[0]
    base = open(conffile).read()
    reject = re.compile(rb'^action=550 5\.7\.23 Message rejected due to: SPF fail')
    prepend = re.compile(rb'^action=prepend Received-SPF: Fail \(mailfrom\)')
    n = [0]

    def ask(c=None):            # a fresh instance each time
        n[0] += 1
        r = fail.replace(b'instance=300.1', b'instance=400.%d' % n[0])
        return (c or Conn(spec)).ask(r)

    def install(text, mode=0o644):
        tmp = conffile + '.new'
        with open(tmp, 'w') as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, conffile)

    def hup(rx):
        off = os.path.getsize(errfile)
        os.kill(pid, signal.SIGHUP)
        return wait_log(errfile, off, rx)

    old = Conn(spec)
    r = ask(old)
    if not report('hup-before', reject.match(r), short(r)):
        return
    install(base + 'Mail_From_reject = False\n')
    log = hup(r'configuration reloaded|keeping the running')
    report('hup-good-logged', log and 'configuration reloaded' in log, 'log: %r' % log)
    r = ask()
    report('hup-good-new-connection', prepend.match(r), short(r))
    r = ask(old)
    report('hup-good-open-connection-unchanged', reject.match(r), short(r))
    old.close()
    good = base + 'Mail_From_reject = False\n'
    # broken files: each would bring the reject back if it were used
    broken = [
        ('unknown-key', 'Bogus_Key = 1\n', r'ERROR: Unknown name "Bogus_Key"'),
        ('lookup-time-not-integer', 'Lookup_Time = soon\n',
         r'ERROR: Lookup_Time = "soon" .*not an integer'),
        ('max-connections-range', 'Max_Connections = 0\n',
         r'ERROR: Max_Connections = "0" .*not an integer in 1\.\.'),
        ('header-type-both', 'Header_Type = SPF,AR\n', r'Header_Type includes both SPF and AR'),
        ('reason-message', 'Reason_Message = {bogus}\n', r'Reason_Message'),
        ('long-line', 'Whitelist = ' + '1' * 9000 + '\n', r'line longer than'),
        ('nameservers', 'Nameservers = no.such.server!\n', r'Nameservers "no\.such\.server!"'),
        ('unreadable', None, r'ERROR opening ".*": Permission denied'),
        ('missing', None, r'ERROR stating ".*": No such file'),
    ]
    for name, line, rx in broken:
        if name == 'unreadable':
            install(base, 0o600)
        elif name == 'missing':
            os.unlink(conffile)
        else:
            install(base + line)
        log = hup(r'configuration reloaded|keeping the running')
        why = 'no log line'
        if log is not None:
            why = 'log: %r' % log[-300:]
        kept = log is not None and 'keeping the running configuration' in log
        report('hup-broken-%s-logged' % name, kept and re.search(rx, log), why)
        try:
            r = ask()
        except Exception as e:
            r = repr(e).encode()
        report('hup-broken-%s-old-config' % name, prepend.match(r), short(r))
        install(good)
        if not kept:            # taken after all: back to the good one
            hup(r'configuration reloaded|keeping the running')
    # and a good one after all that is still taken
    install(base)
    log = hup(r'configuration reloaded|keeping the running')
    r = ask()
    report('hup-good-again', log and 'configuration reloaded' in log and reject.match(r),
           'log: %r reply: %s' % (log, short(r)))

def cmd_term(spec, pid, errfile, reqfile, expfile, grace):
    """SIGTERM: no new connections, an open one finishes its request,
    a silent one is killed after the grace, the server exits."""
    pid, grace = int(pid), float(grace)
    reqs, exp = requests(reqfile), replies(expfile)
    busy = Conn(spec)
    busy.ask(reqs[0])
    silent = Conn(spec)
    silent.ask(reqs[1])
    off = os.path.getsize(errfile)
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    refused = None
    while time.time() - t0 < 3:
        try:
            c = Conn(spec, 1)
            c.close()
        except ConnectionRefusedError:
            refused = time.time() - t0
            break
        except OSError as e:
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
                refused = time.time() - t0
                break
        time.sleep(0.05)
    report('term-refuses-new', refused is not None,
           'connections still accepted 3 s after SIGTERM')
    time.sleep(0.5)
    try:
        r = busy.ask(reqs[2])
    except Exception as e:
        r = repr(e).encode()
    report('term-open-connection-finishes', r == exp[2], short(r))
    busy.close()
    e = silent.eof(grace + 5)
    if e is not None:
        e = time.time() - t0
    report('term-silent-killed-after-grace', e is not None and grace - 0.5 <= e <= grace + 1.5,
           'closed %s s after SIGTERM (grace %g s)' % (e and '%.2f' % e, grace))
    ok = gone(pid, grace + 3)
    took = time.time() - t0
    report('term-exit-within-grace', ok and took <= grace + 1.5,
           'still running %.1f s after SIGTERM' % took if not ok else 'exited after %.1f s' % took)
    print('# term: connections refused %.2f s after SIGTERM, exit after %.1f s' % (refused or -1, took))
    # (a probe that came with the signal may have been taken: then 3)
    log = wait_log(errfile, off, r'^stopping: [23] connections open$', 1)
    report('term-logged', log is not None, 'no "stopping: 2 connections open" line')

def cmd_term_quick(spec, pid, reqfile, expfile):
    """SIGTERM with a connection that finishes: the server exits as soon
    as it closes, without waiting out the grace."""
    pid = int(pid)
    reqs, exp = requests(reqfile), replies(expfile)
    c = Conn(spec)
    c.ask(reqs[0])
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.3)
    r = c.ask(reqs[1])
    report('term-last-request', r == exp[1], short(r))
    t0 = time.time()
    c.close()
    ok = gone(pid, 5)
    took = time.time() - t0
    report('term-exit-when-done', ok and took < 1.5, 'exited %.1f s after the last connection closed' % took)

def cmd_term_ended(spec, pid, errfile, reqfile):
    """A child that ended just before SIGTERM, not yet collected, is not
    counted as an open connection.  The listener is stopped while its
    child ends, so SIGCHLD and SIGTERM reach it together."""
    pid = int(pid)
    c = Conn(spec)
    c.ask(requests(reqfile)[0])
    kid = children(pid)[0]
    off = os.path.getsize(errfile)
    os.kill(pid, signal.SIGSTOP)
    c.close()
    zombie = len(kid) == 1 and gone(kid[0], 3)  # none collects it now
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGCONT)
    ok = gone(pid, 3)
    log = wait_log(errfile, off, r'^stopping: ', 1) or ''
    report('term-ended-not-counted', zombie and ok and 'stopping: 0 connections open' in log,
           'child %r a zombie: %s; exited: %s; log: %r' % (kid, zombie, ok, log))

def status(pid):
    st = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, v = line.split(':', 1)
            st[k] = v.split()
    return st

def cmd_privs(name, spec, pid, uid, gid, groups, reqfile):
    """The server and every child run as uid/gid with groups ('-': none),
    no capabilities, no_new_privs."""
    pid = int(pid)
    groups = [] if groups == '-' else groups.split(',')
    cs = [Conn(spec) for _ in range(3)]
    reqs = requests(reqfile)
    for c in cs:
        c.ask(reqs[0])
    kids = children(pid)[0]
    report(name + '-children', len(kids) == 3, 'children: %r' % kids)
    for i, p in enumerate([pid] + kids):
        st = status(p)
        want = {'Uid': [uid] * 4, 'Gid': [gid] * 4, 'Groups': groups,
                'CapEff': ['0000000000000000'], 'CapPrm': ['0000000000000000'],
                'NoNewPrivs': ['1']}
        bad = ['%s: %s' % (k, ' '.join(st.get(k, []))) for k in want if st.get(k, []) != want[k]]
        report('%s-%s' % (name, 'child%d' % i if i else 'parent'), not bad,
               'pid %d: %s' % (p, '; '.join(bad)))
    for c in cs:
        c.close()

def cmd_refused(spec):
    try:
        Conn(spec, 2).close()
        return 1
    except OSError:
        return 0

if __name__ == '__main__':
    cmd = globals()['cmd_' + sys.argv[1].replace('-', '_')]
    sys.exit(cmd(*sys.argv[2:]) or 0)
EOF

client() { "$PY" "$T/client.py" "$@"; }

# tally FILE: count the ok/FAIL lines a client printed, pass the rest on
tally() {
	local line show=0
	while IFS= read -r line; do
		case $line in
		"ok "*)		npass=$((npass + 1)); show=0; echo "$line" ;;
		"FAIL "*)	nfail=$((nfail + 1)); show=1; echo "$line" ;;
		"#"*)		echo "$line" ;;
		*)		[ "$show" = 0 ] || echo "    $line" ;;
		esac
	done < "$1"
}

# pyrun NAME COMMAND ARGS...: a client command whose lines are tallied;
# a traceback or a non-zero exit is a failure of NAME
pyrun() {
	local name=$1 rc
	shift
	client "$@" > "$T/py.out" 2> "$T/py.err"
	rc=$?
	tally "$T/py.out"
	if [ "$rc" != 0 ] || [ -s "$T/py.err" ]; then
		fail "$name" "client exited $rc" "$T/py.err"
	fi
}

# start NAME SPEC CONF [OPTIONS...]: a listener with -d, its stderr in
# $T/NAME.err, its PID in $lpid
start() {
	local name=$1 spec=$2 conf=$3 i
	shift 3
	lpid=
	: > "$T/$name.err"
	"$BIN" -l "$spec" -d "$@" "$T/$conf" 2>> "$T/$name.err" &
	lpid=$!
	for i in $(seq 100); do
		grep -q '^listening on ' "$T/$name.err" && return 0
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.05
	done
	fail "$name-start" "the listener did not start" "$T/$name.err"
	kill -KILL "$lpid" 2>/dev/null
	wait "$lpid" 2>/dev/null
	lpid=
	return 1
}

# stop [SIGNAL]: SIGNAL (default TERM; "-": none, one was sent) to $lpid,
# its exit status into $lrc
stop() {
	lrc=
	[ -n "$lpid" ] || return
	[ "${1:-TERM}" = - ] || kill -"${1:-TERM}" "$lpid" 2>/dev/null
	wait "$lpid"
	lrc=$?
	lpid=
}

# stop_checked NAME [SIGNAL]: stop, and it must exit 0
stop_checked() {
	stop "${2:-TERM}"
	if [ "$lrc" = 0 ]; then
		ok "$1-exit"
	else
		fail "$1-exit" "exit status $lrc after SIG${2:-TERM}" "$T/$1.err"
	fi
}

started_at=$(date +%s.%N)
echo "# listener: $("$BIN" -V 2>&1)"

# ======== 1. the same replies as spawn mode
"$BIN" -R "$T/base.conf" < "$T/req/cases.txt" > "$T/cases.spawn" 2> "$T/spawn.err"
"$BIN" -R "$T/base.conf" < "$T/req/load.txt" > "$T/load.spawn" 2>> "$T/spawn.err"
"$BIN" -R "$T/base.conf" < "$T/req/fail1.txt" > "$T/fail1.spawn" 2>> "$T/spawn.err"
# spawn mode's replies must be the right ones before they are the yardstick
$PY - "$T/req/cases.want" "$T/cases.spawn" > "$T/spawn.check" <<'EOF'
import re, sys
want = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[1])]
got = open(sys.argv[2], 'rb').read().decode().split('\n\n')[:-1]
if len(got) != len(want):
    print('FAIL listener/spawn-replies: %d replies for %d requests' % (len(got), len(want)))
for (name, rx), r in zip(want, got):
    if re.search(rx, r):
        print('ok listener/spawn-%s' % name)
    else:
        print('FAIL listener/spawn-%s: %r does not match %s' % (name, r, rx))
EOF
tally "$T/spawn.check"

if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	have6=1
else
	have6=0
	echo "# note: no ::1 in this namespace: IPv6 listener skipped"
fi

# same NAME SPEC: the cases through the listener SPEC, one request at a
# time and as one burst, compared with spawn mode byte for byte
same() {
	local name=$1 spec=$2 m
	for m in one burst; do
		if ! client ask "$spec" "$T/req/cases.txt" "$m" > "$T/cases.$name.$m" 2> "$T/ask.err"; then
			fail "same-$name-$m" "client failed" "$T/ask.err"
		elif cmp -s "$T/cases.spawn" "$T/cases.$name.$m"; then
			ok "same-$name-$m"
		else
			diff "$T/cases.spawn" "$T/cases.$name.$m" > "$T/diff"
			fail "same-$name-$m" "replies differ from spawn mode (< spawn, > listener)" "$T/diff"
		fi
	done
}
if start inet4 inet:127.0.0.1:10040 base.conf; then
	same inet4 inet:127.0.0.1:10040
	stop_checked inet4
fi
if [ "$have6" = 1 ] && start inet6 'inet:[::1]:10041' base.conf; then
	same inet6 'inet:[::1]:10041'
	stop_checked inet6
fi
# unix socket, name servers from -n (the file's are overridden)
conf other-ns.conf "Nameservers = 127.0.0.1:9"
if start unix unix:"$T/policy.sock" other-ns.conf -n 127.0.0.1:"$DNSPORT"; then
	same unix unix:"$T/policy.sock"
	# a SIGHUP keeps -n in force
	kill -HUP "$lpid"
	for i in $(seq 100); do
		grep -q 'configuration reloaded' "$T/unix.err" && break
		sleep 0.05
	done
	if client ask unix:"$T/policy.sock" "$T/req/cases.txt" > "$T/cases.unix.hup" 2> "$T/ask.err" &&
		cmp -s "$T/cases.spawn" "$T/cases.unix.hup"; then
		ok same-unix-after-hup
	else
		diff "$T/cases.spawn" "$T/cases.unix.hup" > "$T/diff" 2>&1
		cat "$T/ask.err" "$T/unix.err" >> "$T/diff"
		fail same-unix-after-hup "replies differ from spawn mode after SIGHUP (-n given)" "$T/diff"
	fi
	stop_checked unix
fi

# ======== 2. many clients at once; Max_Connections (default 100)
if start max100 inet:127.0.0.1:10042 base.conf; then
	pyrun load100 load load-100x4-max100 inet:127.0.0.1:10042 100 4 \
		"$T/req/load.txt" "$T/load.spawn" "$lpid" barrier 100
	pyrun backlog100 backlog inet:127.0.0.1:10042 100 "$T/req/load.txt" "$T/load.spawn"
	stop_checked max100
fi
conf max5.conf "Max_Connections = 5"
if start max5 inet:127.0.0.1:10043 max5.conf; then
	pyrun load5 load load-100x3-max5 inet:127.0.0.1:10043 100 3 \
		"$T/req/load.txt" "$T/load.spawn" "$lpid" nobarrier 5
	pyrun backlog backlog inet:127.0.0.1:10043 5 "$T/req/load.txt" "$T/load.spawn"
	stop_checked max5
fi

# what up to 100 children logged to the one stderr at once: a line each,
# none cut into or run together
for f in max100 max5; do
	if [ -s "$T/$f.err" ] && ! grep -n -E '^$|.: (prepend|550) ' "$T/$f.err" > "$T/$f.odd"; then
		ok "log-lines-$f"
	else
		fail "log-lines-$f" "log lines run together" "$T/$f.odd"
	fi
done

# ======== 3. Idle_Timeout
conf idle.conf "Idle_Timeout = 2"
if start idle inet:127.0.0.1:10044 idle.conf; then
	pyrun idle idle inet:127.0.0.1:10044 2 "$T/req/load.txt" "$T/load.spawn"
	if grep -q '^closing a connection idle for 2 s$' "$T/idle.err"; then
		ok idle-logged
	else
		fail idle-logged 'no "closing a connection idle for 2 s" line' "$T/idle.err"
	fi
	pyrun stall stall inet:127.0.0.1:10044 "$lpid" 2 "$T/req/load.txt"
	stop_checked idle
fi

# ======== 4. clients that go away mid-request
if start cut inet:127.0.0.1:10045 base.conf; then
	if command -v strace >/dev/null; then
		# how each child ends: "+++ exited with N +++" / "+++ killed by SIG +++"
		strace -f -q -e trace=none -o "$T/strace.out" -p "$lpid" 2> "$T/strace.err" &
		tracer=$!
		for i in $(seq 50); do
			grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/"$lpid"/status && break
			sleep 0.05
		done
	else
		echo "# note: no strace: the children's exit statuses are not seen"
	fi
	pyrun cut cut inet:127.0.0.1:10045 "$lpid" "$T/req/load.txt" "$T/load.spawn" "$T/req/slow.txt"
	kill -0 "$lpid" 2>/dev/null && ok disconnect-server-alive ||
		fail disconnect-server-alive "the listener is gone" "$T/cut.err"
	stop_checked cut
	if [ -n "$tracer" ]; then
		wait "$tracer" 2>/dev/null
		tracer=
		grep -E '\+\+\+ (exited with|killed by)' "$T/strace.out" > "$T/exits"
		grep -v -E '\+\+\+ exited with 0 \+\+\+' "$T/exits" > "$T/badexits"
		nexit=$(wc -l < "$T/exits")
		if [ "$nexit" -lt 10 ]; then
			fail disconnect-exit-status "only $nexit exits seen by strace" "$T/strace.out"
		elif [ -s "$T/badexits" ]; then
			fail disconnect-exit-status "children that did not exit 0" "$T/badexits"
		else
			ok disconnect-exit-status
			echo "# disconnect: $nexit processes, every one exited 0"
		fi
	fi
	# what the children logged: nothing but their answers and the
	# complaint about the over-long line
	grep -v -E '^(listening on |stopping: |([^ ]*: )?(prepend|550|dunno) |ERROR: line longer than 4096 bytes)' \
		"$T/cut.err" > "$T/cut.odd"
	if [ -s "$T/cut.odd" ]; then
		fail disconnect-log "unexpected log lines" "$T/cut.odd"
	else
		ok disconnect-log
	fi
fi

# ======== 5. SIGHUP
conf hup.conf
if start hup inet:127.0.0.1:10046 hup.conf; then
	pyrun hup hup inet:127.0.0.1:10046 "$lpid" "$T/hup.conf" "$T/hup.err" "$T/req/fail1.txt"
	stop_checked hup
fi

# ======== 6. SIGTERM
if start term unix:"$T/term.sock" base.conf; then
	t0=$(date +%s.%N)
	pyrun term term unix:"$T/term.sock" "$lpid" "$T/term.err" "$T/req/load.txt" "$T/load.spawn" 10
	stop_checked term -
	echo "# term: $(t_since "$t0") s from start to exit"
fi
if start term-quick inet:127.0.0.1:10047 base.conf; then
	pyrun term-quick term-quick inet:127.0.0.1:10047 "$lpid" "$T/req/load.txt" "$T/load.spawn"
	stop_checked term-quick -
fi
if start term-ended inet:127.0.0.1:10047 base.conf; then
	pyrun term-ended term-ended inet:127.0.0.1:10047 "$lpid" "$T/term-ended.err" "$T/req/load.txt"
	stop_checked term-ended -
fi
if start sigint inet:127.0.0.1:10048 base.conf; then
	stop_checked sigint INT
	if client refused inet:127.0.0.1:10048; then
		ok sigint-closed
	else
		fail sigint-closed "port 10048 still accepts"
	fi
fi

# ======== 7. privileges
if start privs inet:127.0.0.1:10049 base.conf; then
	pyrun privs privs privs-nobody inet:127.0.0.1:10049 "$lpid" 65534 65534 65534 "$T/req/load.txt"
	stop_checked privs
fi
conf group.conf "Listen_Group = daemon"
if start group inet:127.0.0.1:10050 group.conf; then
	pyrun group privs privs-listen-group inet:127.0.0.1:10050 "$lpid" 65534 1 1 "$T/req/load.txt"
	stop_checked group
fi

# sockmode NAME CONF WANT: the unix socket's mode and owner (stat %a %U:%G)
sockmode() {
	local got
	start "$1" unix:"$T/$1.sock" "$2" || return 1
	got=$(stat -c '%a %U:%G' "$T/$1.sock")
	if [ "$got" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "socket is $got, want $3"
	fi
}
sockmode unix-default base.conf "666 root:root" && stop_checked unix-default
conf mode.conf "Listen_Mode = 0660" "Listen_Owner = nobody"
if sockmode unix-mode-owner mode.conf "660 nobody:nogroup"; then
	# the owner may connect, a user outside the group may not
	if setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" "$T/client.py" ask unix:"$T/unix-mode-owner.sock" "$T/req/fail1.txt" > "$T/owner.out" 2>&1 &&
		cmp -s "$T/owner.out" "$T/fail1.spawn"; then
		ok unix-owner-connects
	else
		fail unix-owner-connects "nobody could not use the socket" "$T/owner.out"
	fi
	if setpriv --reuid=daemon --regid=daemon --clear-groups \
		"$PY" "$T/client.py" ask unix:"$T/unix-mode-owner.sock" "$T/req/fail1.txt" > "$T/other.out" 2>&1; then
		fail unix-other-refused "user daemon could use a 0660 nobody:nogroup socket" "$T/other.out"
	elif grep -q PermissionError "$T/other.out"; then
		ok unix-other-refused
	else
		fail unix-other-refused "not a permission error" "$T/other.out"
	fi
	stop_checked unix-mode-owner
fi

# refuse NAME CONF ERE: started as root with CONF it must exit non-zero,
# saying ERE, without serving
refuse() {
	local name=$1 i rc
	conf "$name.conf" "$2"
	"$BIN" -l inet:127.0.0.1:10051 -d "$T/$name.conf" 2> "$T/$name.err" &
	lpid=$!
	for i in $(seq 50); do
		kill -0 "$lpid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$lpid" 2>/dev/null; then
		fail "$name" "still running after 5 s" "$T/$name.err"
		stop
		return
	fi
	wait "$lpid"
	rc=$?
	lpid=
	if [ "$rc" = 0 ]; then
		fail "$name" "exit status 0" "$T/$name.err"
	elif grep -q -E "$3" "$T/$name.err" && ! grep -q '^listening on' "$T/$name.err"; then
		ok "$name"
	else
		fail "$name" "exit status $rc, log not matching $3" "$T/$name.err"
	fi
}
refuse refuse-user-root "Listen_User = root" 'refusing to serve as root'
refuse refuse-group-root "Listen_Group = root" 'refusing to serve as root'
refuse refuse-user-unknown "Listen_User = no-such-user" 'Listen_User "no-such-user": no such user'

# a listen address that cannot be used: an error naming it, at start-up
long=$T/$(printf '%0120d' 0).sock	# over sun_path's 108 bytes
i=0
for spec in unix: "unix:$long" inet:127.0.0.1 inet:192.0.2.300:10052 inet:127.0.0.1:x \
	tcp:127.0.0.1:10052 ''; do
	i=$((i + 1))
	timeout 5 "$BIN" -l "$spec" -d "$T/base.conf" > /dev/null 2> "$T/spec$i.err"
	rc=$?
	if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
		fail "bad-address-$i" "-l '$spec': exit status $rc" "$T/spec$i.err"
	elif ! grep -q -F "$spec: " "$T/spec$i.err" || grep -q '^listening on' "$T/spec$i.err"; then
		fail "bad-address-$i" "-l '$spec': no error naming it" "$T/spec$i.err"
	else
		ok "bad-address-$i"
	fi
done

# started as another user it stays that user (Listen_User is for root)
conf user.conf
UBIN=$BIN
if ! setpriv --reuid=daemon --regid=daemon --clear-groups test -x "$BIN"; then
	mkdir -m 755 "$T/bin" && cp "$BIN" "$T/bin/spfpolicy" && chmod 755 "$T/bin/spfpolicy"
	UBIN=$T/bin/spfpolicy
fi
: > "$T/user.err"
setpriv --reuid=daemon --regid=daemon --clear-groups \
	"$UBIN" -l inet:127.0.0.1:10052 -d "$T/user.conf" 2>> "$T/user.err" &
lpid=$!
for i in $(seq 100); do
	grep -q '^listening on ' "$T/user.err" && break
	sleep 0.05
done
pyrun user privs privs-started-as-daemon inet:127.0.0.1:10052 "$lpid" 1 1 - "$T/req/load.txt"
stop_checked user

# ======== 8. a shared network: Request_Timeout, a full house, Listen_Allow,
# inherited sockets (systemd, fd:N) and spawn mode behind an inetd-style
# supervisor; tests/listener_abuse.py starts its own listeners and DNS
"$PY" tests/listener_abuse.py "$BIN" "$T" > "$T/abuse.out" 2> "$T/abuse.err"
rc=$?
tally "$T/abuse.out"
if [ "$rc" != 0 ] || [ -s "$T/abuse.err" ]; then
	fail abuse "tests/listener_abuse.py exited $rc" "$T/abuse.err"
fi

# ======== syslog: without -d the listener and its children log to syslog
# (tagged with the program's name)
conf syslog.conf
ident=$(basename "$BIN")
n0=$(wc -l < "$T/syslog")
"$BIN" -l inet:127.0.0.1:10053 "$T/syslog.conf" 2> "$T/syslog.err" &
lpid=$!
# waitlog TEXT: until the listener has logged TEXT
waitlog() {
	local i
	for i in $(seq 100); do
		grep -q -F "$ident[$spid]: $1" "$T/syslog" && return 0
		sleep 0.05
	done
	return 1
}
spid=$lpid
waitlog "listening on inet:127.0.0.1:10053"
client ask inet:127.0.0.1:10053 "$T/req/fail1.txt" > /dev/null 2>&1
kill -HUP "$lpid"
waitlog "$T/syslog.conf: configuration reloaded"
stop
waitlog "stopping: 0 connections open"
tail -n +"$((n0 + 1))" "$T/syslog" | grep -F "$ident[" | grep -v -F "$ident[$spid]" > "$T/syslog.kids"
if ! grep -q -F "$ident[$spid]: listening on inet:127.0.0.1:10053" "$T/syslog" ||
   ! grep -q -F "$ident[$spid]: $T/syslog.conf: configuration reloaded" "$T/syslog" ||
   ! grep -q -F "$ident[$spid]: stopping: 0 connections open" "$T/syslog"; then
	fail syslog "the listener's lines are not in syslog" "$T/syslog"
elif ! grep -q ': 550 5\.7\.23 Message rejected' "$T/syslog.kids"; then
	fail syslog "no answer logged by a child" "$T/syslog"
elif [ -s "$T/syslog.err" ] || [ "$lrc" != 0 ]; then
	fail syslog "exit $lrc, something on stderr" "$T/syslog.err"
else
	ok syslog
fi

echo "# listener: $(t_since "$started_at") s"
t_end
