#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""listener_abuse.py - listener mode on a shared network (issue 13).

Run by tests/listener.sh inside its private namespaces; alone it only says
"# skipped" (it adds addresses to lo, which is for a private network
namespace only):

    LISTENER_NS=1 /usr/bin/python3 tests/listener_abuse.py BIN DIR

BIN is the spfpolicy binary, DIR a scratch directory (config files and a
stderr log per listener, abuse-NAME.err).  DNS comes from tests/dnsd.py,
run in this process, so that the queries a refused client caused can be
counted.  It adds 192.0.2.10, 2001:db8::10 and 2001:db8::11 to lo to play
clients outside the loopback networks; nothing leaves the namespace.

What is checked:
  - Request_Timeout: a request must be complete within it of its first
    byte (a trickle cannot stretch it); silence and the time between
    requests are Idle_Timeout's; one log line per closed connection.
  - A full house: four (and a hundred, at the default Max_Connections)
    clients that send a byte a second do not keep a complete request
    waiting more than about a second; the connection idle longest between
    requests is closed for a new client, else the partial request begun
    earliest, never one being evaluated.
  - Listen_Allow: refused clients are closed before anything is read
    (no DNS query), logged at most 10 times a minute plus a summary;
    loopback only when unset, IPv4-mapped addresses as IPv4; unix sockets
    are not filtered; -t warns about a listener open to others.
  - Inherited sockets: -l systemd (systemd-socket-activate, and LISTEN_PID
    set by a shell), -l fd:N (fd 0 as s6-tcpserver-socketbinder and inetd
    "wait" give it), the errors of both (exit 111), and spawn mode behind
    an inetd-style supervisor (systemd-socket-activate --inetd -a).

Output: "ok listener/NAME" and "FAIL listener/NAME: reason" lines, "#"
notes.  Timing bounds are generous (a shared 2-core machine): "within a
second" of the issue is checked as SOON = 1.5 s.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True     # no tests/__pycache__ from importing dnsd
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsd  # noqa: E402
import policyclient  # noqa: E402
from policyclient import note, report  # noqa: E402

SOON = 1.5      # s: "within a second" of the issue, with room for a busy machine
BIN = DIR = None
DNS = None      # the dnsd.Server
PORT = 10060    # listener.sh uses 10040..10054

ZONE = {
    'pass.test': [{'TXT': 'v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all'}],
    'slow.test': [{'DELAY': 1500}, {'TXT': 'v=spf1 ip4:192.0.2.1 -all'}],
    'outsider.test': [{'TXT': 'v=spf1 ip4:192.0.2.1 -all'}],
    'flood.test': [{'TXT': 'v=spf1 ip4:192.0.2.1 -all'}],
}
PASS = re.compile(rb'^action=prepend Received-SPF: Pass \(mailfrom\)')

# ---- reporting


def short(b):
    return repr(b[:120]) if isinstance(b, bytes) else str(b)[:200]

# ---- requests and clients


_inst = [0]


def request(domain='pass.test', ip='192.0.2.1'):
    """One request as smtpd sends it, with an instance of its own."""
    _inst[0] += 1
    return policyclient.request([
        ('client_address', ip), ('client_name', 'unknown'),
        ('helo_name', 'mail.example.org'), ('sender', 'user@' + domain),
        ('recipient', 'a@rcpt.test'), ('instance', '900.%d' % _inst[0])])


class Conn(policyclient.Conn):
    TIMEOUT = 5.0

    def trickle(self, n):
        """A request sent a byte a second (n bytes at most) until the
        server closes: seconds from the first byte, None if it did not."""
        body = request()[:-2]
        t0 = time.time()
        for i in range(n):
            try:
                self.send(body[i:i + 1])
            except OSError:
                break
            if self.eof(1.0) is not None:
                break
        return time.time() - t0 if self.closed() else None


def timed_ask(spec, req, limit, source=None):
    """(seconds, reply) of a new connection asking req; (None, why) when
    there is no reply within limit."""
    t0 = time.time()
    c = None
    try:
        c = Conn(spec, limit + 1, source)
        r = c.ask(req, limit)
        return time.time() - t0, r
    except Exception as e:
        return None, repr(e)
    finally:
        if c:
            c.close()


class Tricklers(object):
    """n clients that each send a request one byte a second and never
    finish it.  One that the server closes connects again at once, as a
    hostile neighbour would (not after stop())."""

    def __init__(self, spec, n, reconnect=True):
        self.spec, self.n, self.reconnect = spec, n, reconnect
        self.body = request()[:-2]          # never the final empty line
        self.socks = [None] * n
        self.sent = [0] * n
        self.due = [0.0] * n
        self.first = [0.0] * n              # time of each one's first byte
        self.lifetimes = []                 # first byte to close, seconds
        self.connects = 0
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i):
        try:
            c = Conn(self.spec, 2)
            c.s.setblocking(False)
        except OSError:
            self.socks[i] = None
            return
        self.socks[i], self.sent[i], self.due[i] = c, 0, time.time()
        self.connects += 1

    def _tick(self, i, now):
        c = self.socks[i]
        if now < self.due[i]:
            return
        try:
            c.s.send(self.body[self.sent[i] % len(self.body):][:1])
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if self.sent[i] == 0:
            self.first[i] = now
        self.sent[i] += 1
        self.due[i] = now + 1.0

    def start(self):
        """All n connected and a first byte sent before it returns."""
        for i in range(self.n):
            self._open(i)
            if self.socks[i]:
                self._tick(i, time.time())
        self.thread.start()
        return self

    def _run(self):
        while not self.halt.is_set():
            live = [c.s for c in self.socks if c]
            if live:
                try:
                    readable = select.select(live, [], [], 0.05)[0]
                except (OSError, ValueError):
                    readable = []
            else:
                readable = []
                time.sleep(0.05)
            now = time.time()
            for i, c in enumerate(self.socks):
                if c is None:
                    if self.reconnect:
                        self._open(i)
                    continue
                if c.s in readable and c.closed():     # what it sent is read
                    if self.sent[i]:
                        self.lifetimes.append(now - self.first[i])
                    c.close()
                    self.socks[i] = None
                    if self.reconnect:
                        self._open(i)
                    continue
                self._tick(i, now)

    def stop(self):
        self.halt.set()
        self.thread.join(5)
        for c in self.socks:
            if c:
                c.close()

# ---- listeners


def write_conf(name, lines):
    path = os.path.join(DIR, 'abuse-%s.conf' % name)
    with open(path, 'w') as f:
        f.write('# listener_abuse.py\ndebugLevel = 1\nLookup_Time = 5\n'
                'Nameservers = 127.0.0.1:%d\n' % DNS.port)
        for line in lines:
            f.write(line + '\n')
    os.chmod(path, 0o644)
    return path


def log_text(path, offset=0):
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def wait_log(path, rx, timeout=5.0, offset=0):
    end = time.time() + timeout
    while True:
        text = log_text(path, offset)
        if re.search(rx, text, re.M):
            return text
        if time.time() > end:
            return None
        time.sleep(0.05)


def log_lines(path, rx):
    return [l for l in log_text(path).splitlines() if re.search(rx, l)]


class Listener(object):
    """spfpolicy -l SPEC -d CONF (or argv), stderr into DIR/abuse-NAME.err."""

    def __init__(self, name, spec, conf=(), argv=None, ready=r'^\S+\[\d+\]: listening on ', **kw):
        self.name = name
        self.log = os.path.join(DIR, 'abuse-%s.err' % name)
        self.conf = write_conf(name, conf)
        argv = argv or [BIN, '-l', spec, '-d', self.conf]
        argv = [a.replace('@CONF@', self.conf) for a in argv]
        with open(self.log, 'wb') as err:
            self.p = subprocess.Popen(argv, stdin=kw.pop('stdin', subprocess.DEVNULL),
                                      stdout=subprocess.DEVNULL, stderr=err, **kw)
        self.up = ready is None or wait_log(self.log, ready, 5) is not None
        if not self.up:
            report(name + '-start', False, 'not started: %s' % log_text(self.log)[-300:])

    def stop(self):
        """SIGTERM; the exit status (None: still running after 15 s)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None

    def lines(self, rx):
        """The log lines matching rx once it listens (not the
        complaints about the config file at start-up)."""
        text = log_text(self.log)
        i = text.find('listening on ')
        return [l for l in text[max(i, 0):].splitlines() if re.search(rx, l)]


def port():
    global PORT
    PORT += 1
    return PORT

# ======== -t: the new keys, and the warning about who may connect


def check(lines, listen=None):
    """(exit status, output) of spfpolicy -t [-l listen] on a file of lines."""
    path = os.path.join(DIR, 'abuse-check.conf')
    with open(path, 'w') as f:
        f.write('Nameservers = 127.0.0.1:%d\n' % DNS.port)
        f.write(''.join(l + '\n' for l in lines))
    argv = [BIN, '-t'] + (['-l', listen] if listen else []) + [path]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    return p.returncode, p.stdout.decode('utf-8', 'replace')


def test_check():
    for name, lines in (('request-timeout-valid', ['Request_Timeout = 1', 'Request_Timeout = 3600']),
                        ('listen-allow-valid', ['Listen_Allow = 192.0.2.0/24, 2001:db8::/32 127.0.0.1 ::1'])):
        rc, out = check(lines)
        report('check-' + name, rc == 0, 'exit %d: %s' % (rc, out.strip()[-300:]))
    for name, lines, key in (
            ('request-timeout-0', ['Request_Timeout = 0'], 'Request_Timeout'),
            ('request-timeout-3601', ['Request_Timeout = 3601'], 'Request_Timeout'),
            ('request-timeout-text', ['Request_Timeout = soon'], 'Request_Timeout'),
            ('listen-allow-prefix', ['Listen_Allow = 192.0.2.0/33'], 'Listen_Allow'),
            ('listen-allow-name', ['Listen_Allow = mx.example.org'], 'Listen_Allow')):
        rc, out = check(lines)
        # an unknown key is a problem too: the message must be the value's
        report('check-' + name, rc == 1 and key in out and 'Unknown name' not in out,
               'exit %d: %s' % (rc, out.strip()[-300:]))
    warn = re.compile(r'(?i)loopback.*Listen_Allow|Listen_Allow.*loopback')
    for name, listen, lines, want in (
            ('warns-any-address', 'inet:0.0.0.0:10040', [], True),
            ('warns-any-address-v6', 'inet:[::]:10040', [], True),
            ('warns-other-address', 'inet:192.0.2.25:10040', [], True),
            ('quiet-loopback', 'inet:127.0.0.1:10040', [], False),
            ('quiet-loopback-v6', 'inet:[::1]:10040', [], False),
            ('quiet-unix', 'unix:/run/spfpolicy.sock', [], False),
            ('quiet-allow-set', 'inet:0.0.0.0:10040', ['Listen_Allow = 192.0.2.0/24'], False)):
        rc, out = check(lines, listen)
        said = bool(warn.search(out))
        report('check-' + name, said == want,
               ('no line saying only loopback clients may connect (Listen_Allow unset): %r'
                if want else 'a loopback warning where none is due: %r') % out.strip()[-300:])
        if want and said:
            note('check-%s: exit %d, %r' % (name, rc, [l for l in out.splitlines() if warn.search(l)][0]))

# ======== Request_Timeout


def test_request_timeout():
    spec = 'inet:127.0.0.1:%d' % port()
    lst = Listener('rt', spec, ['Request_Timeout = 2'])
    dspec = 'inet:127.0.0.1:%d' % port()
    dflt = Listener('rt-default', dspec)
    if not (lst.up and dflt.up):
        lst.stop(), dflt.stop()
        return
    res = {}

    def trickle(key, spec, limit):
        """A byte a second until closed: seconds from the first byte."""
        c = Conn(spec)
        res[key] = c.trickle(int(limit) + 4)
        c.close()

    def silent():
        """Connected, sends nothing: Request_Timeout does not start."""
        c = Conn(spec)
        res['silent'] = c.eof(3.5)
        c.close()

    def between():
        """A request, 3.5 s of silence, a request: both answered."""
        c = Conn(spec)
        try:
            r1 = c.ask(request())
            time.sleep(3.5)
            r2 = c.ask(request())
            res['between'] = (PASS.match(r1) and PASS.match(r2), short(r1) + ' / ' + short(r2))
        except Exception as e:
            res['between'] = (False, repr(e))
        c.close()

    def slow_whole():
        """A request in four parts over 1.2 s: within Request_Timeout."""
        c = Conn(spec)
        try:
            r = request()
            q = len(r) // 4
            for i in range(4):
                c.send(r[i * q:] if i == 3 else r[i * q:(i + 1) * q])
                if i < 3:
                    time.sleep(0.4)
            r = c.reply()
            res['slow-whole'] = (PASS.match(r), short(r))
        except Exception as e:
            res['slow-whole'] = (False, repr(e))
        c.close()

    def second():
        """A request answered, 2.5 s idle, then a second one trickled:
        the time counts from the second request's first byte."""
        c = Conn(spec)
        try:
            c.ask(request())
        except Exception as e:
            res['second'] = repr(e)
            return
        time.sleep(2.5)
        res['second'] = c.trickle(8)
        c.close()

    def stream():
        """Header lines every 50 ms, never the blank line: however fast
        the bytes come, the request is cut at Request_Timeout."""
        c = Conn(spec)
        c.send(b'request=smtpd_access_policy\n')
        t0 = time.time()
        while time.time() - t0 < 8:
            try:
                c.send(b'x_filler=%d\n' % int((time.time() - t0) * 1000))
            except OSError:
                break
            if c.eof(0.05) is not None:
                break
        res['stream'] = time.time() - t0 if c.closed() else None
        c.close()

    ts = [threading.Thread(target=trickle, args=('trickle', spec, 2)),
          threading.Thread(target=stream),
          threading.Thread(target=trickle, args=('default', dspec, 5)),
          threading.Thread(target=silent), threading.Thread(target=between),
          threading.Thread(target=slow_whole), threading.Thread(target=second)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    for key, name, limit in (('trickle', 'request-timeout-trickle', 2),
                             ('stream', 'request-timeout-stream', 2),
                             ('second', 'request-timeout-second-request', 2),
                             ('default', 'request-timeout-default', 5)):
        e = res.get(key)
        # closed no sooner than the limit, at most a second after it
        good = isinstance(e, float) and limit - 0.3 <= e <= limit + 1
        report(name, good, 'closed %s after the first byte (Request_Timeout = %d)'
               % ('%.2f s' % e if isinstance(e, float) else 'never (%s)' % e, limit))
        if good:
            note('%s: closed %.2f s after the first byte' % (name, e))
    report('request-timeout-silent-kept', res.get('silent') is None,
           'a connection that sent nothing was closed after %s s' % res.get('silent'))
    for key in ('between', 'slow-whole'):
        good, why = res.get(key, (False, 'no result'))
        report('request-timeout-' + key, bool(good), why)
    time.sleep(0.3)
    n = len(lst.lines('Request_Timeout'))
    report('request-timeout-logged-once', n == 3,
           '%d lines with "Request_Timeout" for 3 connections closed' % n)
    n = len(dflt.lines('Request_Timeout'))
    report('request-timeout-default-logged-once', n == 1,
           '%d lines with "Request_Timeout" for 1 connection closed' % n)
    lst.stop(), dflt.stop()

# ======== a full house


def full_house(name, n, max_conn, hostile='trickle', seconds=6):
    """n hostile clients (trickle: a byte a second, connecting again when
    closed; silent: connected, nothing sent); a complete request then
    answered within SOON, and one a second on a new connection for
    seconds, each within SOON."""
    spec = 'inet:127.0.0.1:%d' % port()
    lst = Listener(name, spec, ['Max_Connections = %d' % max_conn] if max_conn else [])
    if not lst.up:
        return
    if hostile == 'trickle':
        bad = Tricklers(spec, n).start()
        time.sleep(2)           # all mid-request, none at Request_Timeout yet
    else:
        bad = [Conn(spec) for _ in range(n)]
        time.sleep(0.5)
    took, r = timed_ask(spec, request(), SOON)
    report(name + '-answered', took is not None and PASS.match(r),
           'a complete request with %d %s clients holding the %d slots: %s'
           % (n, hostile, max_conn or 100, short(r)))
    if took is not None:
        note('%s: answered in %.2f s' % (name, took))
    worst, late, asked = 0.0, [], 0
    end = time.time() + seconds
    while hostile == 'trickle' and time.time() < end:
        t0 = time.time()
        took, r = timed_ask(spec, request(), SOON)
        asked += 1
        if took is None or not PASS.match(r):
            late.append(short(r))
        else:
            worst = max(worst, took)
        time.sleep(max(0, 1 - (time.time() - t0)))
    if hostile == 'trickle':
        bad.stop()
        report(name + '-sustained', not late,
               '%d of %d requests over %d s not answered within %.1f s: %s'
               % (len(late), asked, seconds, SOON, late[0] if late else ''))
        note('%s: %d requests, slowest %.2f s; the tricklers connected %d times'
             % (name, asked, worst, bad.connects))
    else:
        for c in bad:
            c.close()
    lst.stop()


def test_evict_idle_longest():
    """Three idle connections, B's last request the oldest (A connected
    first): a new client is answered, B is closed, A and C are kept."""
    name = 'evict-idle-longest'
    spec = 'inet:127.0.0.1:%d' % port()
    lst = Listener(name, spec, ['Max_Connections = 3'])
    if not lst.up:
        return
    a, b, c = Conn(spec), Conn(spec), Conn(spec)
    for x in (a, b, c):
        x.ask(request())
    time.sleep(0.3)
    b.ask(request())
    time.sleep(0.3)
    a.ask(request())
    time.sleep(0.3)
    c.ask(request())
    time.sleep(0.3)
    off = os.path.getsize(lst.log)
    took, r = timed_ask(spec, request(), SOON)
    report(name + '-answered', took is not None and PASS.match(r),
           'a new client with 3 idle connections open (Max_Connections = 3): %s' % short(r))
    e = b.eof(1.0)
    report(name + '-closed', e is not None, 'the connection idle longest was not closed')
    kept = []
    for label, x in (('A (connected first)', a), ('C', c)):
        try:
            if not PASS.match(x.ask(request(), SOON + 1)):
                kept.append(label + ': wrong reply')
        except Exception as ex:
            kept.append('%s: %r' % (label, ex))
    report(name + '-others-kept', not kept, '; '.join(kept))
    log = [l for l in log_text(lst.log, off).splitlines()
           if 'closing' in l and 'for a new client' in l]
    report(name + '-logged', len(log) == 1,
           '%d lines with "closing" and "for a new client": %r' % (len(log), log[:3]))
    if log:
        note('%s: %r' % (name, log[0]))
    for x in (a, b, c):
        x.close()
    lst.stop()


def two_slots(name):
    """(spec, Listener) of a listener with room for two clients, and a
    Request_Timeout (10 s) that leaves a partial request alone."""
    spec = 'inet:127.0.0.1:%d' % port()
    return spec, Listener(name, spec, ['Max_Connections = 2', 'Request_Timeout = 10'])


def half(spec, req, pause):
    """A new connection that has sent the first half of req, pause
    seconds ago."""
    c = Conn(spec)
    c.send(req[:len(req) // 2])
    time.sleep(pause)
    return c


def evicted(lst, name, spec, holding, closed, kept):
    """Both slots held (holding says by what): a complete request on a new
    connection is answered within SOON, closed = (LABEL, CONN, WHAT) is
    closed for it, and kept = (LABEL, CONN, REST, WHAT) can still finish
    its request with REST.  Then both are closed and lst stopped."""
    took, r = timed_ask(spec, request(), SOON)
    report(name + '-answered', took is not None and PASS.match(r),
           'a complete request with %s: %s' % (holding, short(r)))
    label, c, what = closed
    report(name + '-' + label, c.eof(1.0) is not None, '%s was not closed' % what)
    label, c, rest, what = kept
    try:
        r = c.ask(rest, SOON + 1)
        report(name + '-' + label, PASS.match(r), short(r))
    except Exception as e:
        report(name + '-' + label, False, '%s: %r' % (what, e))
    closed[1].close(), c.close()
    lst.stop()


def test_evict_partial():
    """Two partial requests (Request_Timeout 10): a new complete one is
    answered, the one begun first is closed, the other can finish."""
    name = 'evict-partial'
    spec, lst = two_slots(name)
    if not lst.up:
        return
    r1, r2 = request(), request()
    p1 = half(spec, r1, 0.4)
    p2 = half(spec, r2, 0.4)
    evicted(lst, name, spec, '2 partial ones holding the slots',
            ('earliest-closed', p1, 'the partial request begun first'),
            ('later-finishes', p2, r2[len(r2) // 2:], 'the later partial request'))


def test_evict_idle_before_partial():
    """A partial request begun first and an idle connection: the idle
    one is closed for a new client; the partial one can finish.  Idle is
    silent half a second at least (sooner, the next recipient of a
    message may come: issue 22)."""
    name = 'evict-idle-first'
    spec, lst = two_slots(name)
    if not lst.up:
        return
    r1 = request()
    p = half(spec, r1, 0.3)
    idle = Conn(spec)
    idle.ask(request())
    time.sleep(0.8)
    evicted(lst, name, spec, 'a partial and an idle connection open',
            ('idle-closed', idle, 'the idle connection'),
            ('partial-finishes', p, r1[len(r1) // 2:], 'the partial request'))


def test_evaluating_kept():
    """Both slots evaluating (an answer 1.5 s away): a new client waits,
    neither evaluation is cut, and the new client is answered after."""
    name = 'evict-never-evaluating'
    spec = 'inet:127.0.0.1:%d' % port()
    lst = Listener(name, spec, ['Max_Connections = 2'])
    if not lst.up:
        return
    slow = [Conn(spec), Conn(spec)]
    for c in slow:
        c.send(request('slow.test'))
    time.sleep(0.3)
    res = {}

    def newcomer():
        res['new'] = timed_ask(spec, request(), 5)
    t = threading.Thread(target=newcomer)
    t.start()
    got = []
    for c in slow:
        try:
            got.append(c.reply(5))
        except Exception as e:
            got.append(repr(e).encode())
    t.join(10)
    good = all(PASS.match(r) for r in got)
    report(name + '-answers', good, 'the requests being evaluated: %s' % [short(r) for r in got])
    took, r = res.get('new', (None, 'no result'))
    report(name + '-newcomer-answered', took is not None and PASS.match(r), short(r))
    for c in slow:
        c.close()
    lst.stop()

# ======== Listen_Allow


def refused(spec, source, domain='outsider.test'):
    """A client from source that sends a request at once: seconds until
    it is closed with nothing sent back (None: it was not)."""
    try:
        c = Conn(spec, 2, source)
    except OSError as e:        # refused at connect: closed at once too
        return 0.0 if isinstance(e, ConnectionError) else None
    try:
        c.send(request(domain))
    except OSError:
        pass
    e = c.eof(1.0)
    got = c.buf
    c.close()
    return e if e is not None and not got else None


LABEL = {'127.0.0.1': 'loopback4', '::1': 'loopback6', '192.0.2.10': 'net4',
         '2001:db8::10': 'net6', '2001:db8::11': 'net6-other'}


def client_spec(src, spec):
    """Where a client from src connects to the listener spec: to src."""
    return 'inet:%s:%s' % ('[%s]' % src if ':' in src else src, spec.rsplit(':', 1)[1])


def served(spec, source):
    took, r = timed_ask(spec, request(), 3, source)
    return took is not None and PASS.match(r), short(r)


def dns_asked(word):
    DNS.total_queries()
    return [q for q in DNS.log if word in str(q[1])]


def test_allow():
    have6 = True
    try:
        with open('/proc/sys/net/ipv6/bindv6only') as f:
            dual = f.read().strip() == '0'
    except OSError:
        have6 = dual = False
    cases = [           # name, listen address, Listen_Allow lines, [(client, served?)]
        ('allow-default-v4', '0.0.0.0', [], [('127.0.0.1', True), ('192.0.2.10', False)]),
        ('allow-set-v4', '0.0.0.0', ['Listen_Allow = 192.0.2.0/24'],
         [('192.0.2.10', True), ('127.0.0.1', False)]),
    ]
    if have6:
        cases += [
            ('allow-default-v6', '[::]', [], [('::1', True), ('2001:db8::10', False)]
             + ([('127.0.0.1', True), ('192.0.2.10', False)] if dual else [])),
            ('allow-set-v6', '[::]', ['Listen_Allow = 192.0.2.0/24 2001:db8::10'],
             [('2001:db8::10', True), ('2001:db8::11', False), ('::1', False)]
             + ([('192.0.2.10', True), ('127.0.0.1', False)] if dual else [])),
        ]
        if not dual:
            note('allow: bindv6only is set: IPv4-mapped clients not tried')
    for name, host, lines, clients in cases:
        spec = 'inet:%s:%d' % (host, port())
        lst = Listener(name, spec, lines)
        if not lst.up:
            continue
        DNS.reset_counts()
        for src, want in clients:
            tag = '%s-%s' % (name, LABEL[src])
            # to its own address: the listener sees src (IPv4-mapped on [::])
            cs = client_spec(src, spec)
            if want:
                good, why = served(cs, src)
                report(tag + '-served', good, 'client %s: %s' % (src, why))
            else:
                e = refused(cs, src)
                report(tag + '-refused', e is not None,
                       'client %s was not closed within 1 s, or got a reply' % src)
        asked = dns_asked('outsider')
        report(name + '-no-evaluation', not asked,
               'a refused client caused DNS queries: %r' % asked[:3])
        nref = sum(1 for _, w in clients if not w)
        lines_ = lst.lines('refused')
        report(name + '-logged', len(lines_) == nref,
               '%d lines with "refused" for %d refused clients: %r' % (len(lines_), nref, lines_[:3]))
        if lines_:
            note('%s: %r' % (name, lines_[0]))
        lst.stop()


def test_allow_flood():
    """50 refused connections at once: at most 10 log lines and a
    summary, no evaluation, and a good client still served."""
    name = 'allow-flood'
    spec = 'inet:0.0.0.0:%d' % port()
    lst = Listener(name, spec)
    if not lst.up:
        return
    cspec = client_spec('192.0.2.10', spec)
    DNS.reset_counts()
    t0 = time.time()
    conns = []
    for i in range(50):     # all at once: each one sends its request
        try:
            c = Conn(cspec, 2, '192.0.2.10')
            conns.append(c)
            c.send(request('flood.test'))
        except OSError:
            pass
    note('%s: 50 connections in %.1f s' % (name, time.time() - t0))
    end, closed = time.time() + 2, 0
    for c in conns:
        if c.eof(max(0.05, end - time.time())) is not None and not c.buf:
            closed += 1
        c.close()
    report(name + '-closed', closed == 50, '%d of 50 refused clients were closed' % closed)
    good, why = served(client_spec('127.0.0.1', spec), '127.0.0.1')
    report(name + '-good-served', good, why)
    asked = dns_asked('flood')
    report(name + '-no-evaluation', not asked, 'refused clients caused DNS queries: %r' % asked[:3])
    n = len(lst.lines('refused'))
    report(name + '-log-limited', 1 <= n <= 11,
           '%d lines with "refused" for 50 refused clients (at most 10 + 1)' % n)
    note('%s: %d log lines' % (name, n))
    lst.stop()


def test_allow_unix():
    """Listen_Allow does not apply to a unix socket (its mode does)."""
    path = os.path.join(DIR, 'abuse-allow.sock')
    lst = Listener('allow-unix', 'unix:' + path, ['Listen_Allow = 192.0.2.0/24'])
    if lst.up:
        good, why = served('unix:' + path, None)
        report('allow-unix-not-filtered', good, why)
    lst.stop()

# ======== inherited sockets


def listening(fam=socket.AF_INET, kind=socket.SOCK_STREAM, host='127.0.0.1', listen=True):
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    p = port()
    if fam == socket.AF_UNIX:
        host = os.path.join(DIR, 'abuse-%d.sock' % p)
        if os.path.exists(host):
            os.unlink(host)
        s.bind(host)
        spec = 'unix:' + host
    else:
        s.bind((host, p))
        spec = 'inet:%s:%d' % ('[%s]' % host if ':' in host else host, p)
    if listen:
        s.listen(16)
    return s, spec


def fdmove(sock, target, env='', args=()):
    """A launcher: sh moves sock's descriptor to target (as s6's fdmove
    or inetd would give it), sets env, and execs spfpolicy args."""
    n = sock.fileno() if hasattr(sock, 'fileno') else sock
    cmd = 'exec env %s "$0" "$@" %d<&%d %d<&-' % (env, target, n, n)
    if target == n:
        cmd = 'exec env %s "$0" "$@"' % env
    return ['sh', '-c', cmd, BIN] + list(args), (n,)


def inherited(name, fd, env='', lines=(), **where):
    """(Listener, spec) of spfpolicy given a listening socket (where:
    listening's arguments) as descriptor fd, with env: -l systemd when env sets
    LISTEN_FDS, else -l fd:FD.  The socket is closed here: the listener
    has its own."""
    s, spec = listening(**where)
    mode = 'systemd' if 'LISTEN_FDS' in env else 'fd:%d' % fd
    argv, fds = fdmove(s, fd, env, ['-l', mode, '-d', '@CONF@'])
    lst = Listener(name, spec, lines, argv=argv, pass_fds=fds)
    s.close()
    return lst, spec


def test_systemd():
    ssa = shutil.which('systemd-socket-activate')
    if not ssa:
        note('skipped: systemd-socket-activate: not installed (apt-get install systemd)')
    else:
        p = port()
        spec = 'inet:127.0.0.1:%d' % p
        # it execs spfpolicy in place when the first client connects
        lst = Listener('systemd', spec, argv=[ssa, '-l', '127.0.0.1:%d' % p, BIN, '-l',
                                              'systemd', '-d', '@CONF@'],
                       ready=r'Listening on 127\.0\.0\.1:%d' % p)
        if lst.up:
            res = [timed_ask(spec, request(), 5) for _ in range(2)]
            good = all(t is not None and PASS.match(r) for t, r in res)
            report('systemd-socket-activate', good, '%s; log: %s'
                   % ([short(r) for _, r in res], log_text(lst.log)[-300:]))
            rc = lst.stop()
            report('systemd-socket-activate-exit', rc == 0, 'exit status %s after SIGTERM' % rc)
    # LISTEN_PID set by a shell that execs spfpolicy: its own PID
    lst, spec = inherited('systemd-sh', 3, 'LISTEN_FDS=1 LISTEN_PID=$$')
    if lst.up:
        good, why = served(spec, None)
        report('systemd-listen-pid', good, why)
    lst.stop()


def expect_die(name, argv, spec, **kw):
    """spfpolicy must exit 111 at once, saying spec, without listening."""
    log = os.path.join(DIR, 'abuse-%s.err' % name)
    conf = write_conf(name, [])
    argv = [a.replace('@CONF@', conf) for a in argv]
    try:
        with open(log, 'wb') as err:
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=err, timeout=5,
                               stdin=kw.pop('stdin', subprocess.DEVNULL), **kw)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = 'still running after 5 s'
    text = log_text(log)
    report(name, rc == 111 and spec in text and 'listening on' not in text,
           'exit status %s, log: %r' % (rc, text[-300:]))


def test_inherited_errors():
    env = dict(os.environ)
    env.pop('LISTEN_FDS', None)
    env.pop('LISTEN_PID', None)
    expect_die('systemd-no-listen-fds', [BIN, '-l', 'systemd', '-d', '@CONF@'], 'systemd', env=env)
    s, _ = listening()
    argv, fds = fdmove(s, 3, 'LISTEN_FDS=1 LISTEN_PID=1', ['-l', 'systemd', '-d', '@CONF@'])
    expect_die('systemd-other-pid', argv, 'systemd', pass_fds=fds)
    argv, fds = fdmove(s, 3, 'LISTEN_FDS=0 LISTEN_PID=$$', ['-l', 'systemd', '-d', '@CONF@'])
    expect_die('systemd-zero-fds', argv, 'systemd', pass_fds=fds)
    s.close()
    with open(os.path.join(DIR, 'abuse-file'), 'w') as f:
        argv, fds = fdmove(f, 3, 'LISTEN_FDS=1 LISTEN_PID=$$', ['-l', 'systemd', '-d', '@CONF@'])
        expect_die('systemd-not-a-socket', argv, 'systemd', pass_fds=fds)
        argv, fds = fdmove(f, 7, '', ['-l', 'fd:7', '-d', '@CONF@'])
        expect_die('fd-not-a-socket', argv, 'fd:7', pass_fds=fds)
    expect_die('fd-not-open', [BIN, '-l', 'fd:9', '-d', '@CONF@'], 'fd:9')
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', 0))
    argv, fds = fdmove(u, 7, '', ['-l', 'fd:7', '-d', '@CONF@'])
    expect_die('fd-datagram', argv, 'fd:7', pass_fds=fds)
    u.close()
    s, _ = listening(listen=False)
    argv, fds = fdmove(s, 7, '', ['-l', 'fd:7', '-d', '@CONF@'])
    expect_die('fd-not-listening', argv, 'fd:7', pass_fds=fds)
    s.close()
    for i, spec in enumerate(('fd:', 'fd:x', 'fd:-1')):
        expect_die('fd-bad-spec-%d' % (i + 1), [BIN, '-l', spec, '-d', '@CONF@'], spec + ': ')


def test_fd():
    # a supervisor's descriptor 7 (as s6's fdmove would give it)
    lst, spec = inherited('fd7', 7)
    if lst.up:
        good, why = served(spec, None)
        report('fd-inet', good, why)
        rc = lst.stop()
        report('fd-inet-exit', rc == 0, 'exit status %s after SIGTERM' % rc)
    # fd 0: s6-tcpserver-socketbinder and inetd "wait" give the socket as stdin
    s, spec = listening()
    lst = Listener('fd0', spec, argv=[BIN, '-l', 'fd:0', '-d', '@CONF@'], stdin=s.fileno())
    s.close()
    if lst.up:
        good, why = served(spec, None)
        report('fd-stdin', good, why)
    lst.stop()
    # a unix socket: Listen_Allow does not apply
    lst, spec = inherited('fd-unix', 7, lines=['Listen_Allow = 192.0.2.0/24'], fam=socket.AF_UNIX)
    if lst.up:
        good, why = served(spec, None)
        report('fd-unix', good, why)
    lst.stop()
    # an inherited inet socket: Listen_Allow applies
    lst, spec = inherited('fd-allow', 7, lines=['Listen_Allow = 192.0.2.0/24'], host='0.0.0.0')
    if lst.up:
        DNS.reset_counts()
        report('fd-allow-refused', refused(client_spec('127.0.0.1', spec), '127.0.0.1') is not None,
               'a client outside Listen_Allow was not closed within 1 s, or got a reply')
        good, why = served(client_spec('192.0.2.10', spec), '192.0.2.10')
        report('fd-allow-served', good, why)
        report('fd-allow-no-evaluation', not dns_asked('outsider'), 'the refused client was evaluated')
    lst.stop()
    # the default when inherited: loopback only
    lst, spec = inherited('fd-default', 7, host='0.0.0.0')
    if lst.up:
        report('fd-default-refused', refused(client_spec('192.0.2.10', spec), '192.0.2.10') is not None,
               'a client from 192.0.2.10 was not closed within 1 s, or got a reply')
    lst.stop()


def test_inetd_spawn():
    """inetd "nowait" style: spawn mode with the connection as stdin and
    stdout, a process per connection (what the README says fits)."""
    ssa = shutil.which('systemd-socket-activate')
    if not ssa:
        note('skipped: inetd-spawn: no systemd-socket-activate')
        return
    p = port()
    spec = 'inet:127.0.0.1:%d' % p
    lst = Listener('inetd-spawn', spec, argv=[ssa, '--inetd', '-a', '-l', '127.0.0.1:%d' % p,
                                              BIN, '-R', '@CONF@'],
                   ready=r'Listening on 127\.0\.0\.1:%d' % p)
    if lst.up:
        res = []
        for _ in range(2):
            c = Conn(spec)
            try:
                r = c.ask(request()) + c.ask(request('slow.test'))
                res.append((PASS.match(r) and r.count(b'\n\n') == 2, short(r)))
            except Exception as e:
                res.append((False, repr(e)))
            c.close()
        report('inetd-spawn', all(g for g, _ in res), '; '.join(w for _, w in res))
    lst.stop()


def ip_addrs():
    """The test clients' addresses on lo (the namespace's own)."""
    for cmd in (['ip', 'addr', 'add', '192.0.2.10/32', 'dev', 'lo'],
                ['ip', '-6', 'addr', 'add', '2001:db8::10/128', 'dev', 'lo', 'nodad'],
                ['ip', '-6', 'addr', 'add', '2001:db8::11/128', 'dev', 'lo', 'nodad']):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    global BIN, DIR, DNS
    if os.environ.get('LISTENER_NS') != '1' or len(sys.argv) != 3:
        print('# skipped: listener_abuse.py runs under tests/listener.sh (private namespace)')
        return 0
    BIN, DIR = os.path.abspath(sys.argv[1]), sys.argv[2]
    ip_addrs()
    DNS = dnsd.Server(ZONE).start()
    t0 = time.time()
    try:
        test_check()
        test_request_timeout()
        full_house('trickle4', 4, 4)
        full_house('silent4', 4, 4, hostile='silent')
        full_house('trickle100', 100, 0)
        test_evict_idle_longest()
        test_evict_partial()
        test_evict_idle_before_partial()
        test_evaluating_kept()
        test_allow()
        test_allow_flood()
        test_allow_unix()
        test_inherited_errors()
        test_systemd()
        test_fd()
        test_inetd_spawn()
    finally:
        DNS.stop()
    note('listener_abuse: %.1f s' % (time.time() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
