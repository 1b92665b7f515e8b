#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""fair.py - listener mode with more clients than slots (issue 22): how
long a new connection waits for its first reply, and how often a client
that keeps its connection busy gets one.  A bounded load, run by hand (as
root, or as a user whose spfpolicy keeps its uid); it asserts nothing and
prints numbers.

    /usr/bin/python3 tests/bench/fair.py BIN [SECONDS [CLIENTS [KEPT [MAX [PACE_MS]]]]]

defaults: 60 s, 50 clients of which 40 keep their connection ("kept":
request after request, back to back, as a busy smtpd does), the other 10
one request a connection ("one-shot"), Max_Connections 20, PACE_MS 0
(back to back; 50: each client waits 50 ms between requests).  A client
whose connection is closed before a reply asks again once on a new one,
as Postfix's policy client does; a second failure is counted as lost.

DNS is tests/dnsd.py on 127.0.0.1 (a free port), 400 sender domains of
which 5% answer badly: SERVFAIL, never (Lookup_Time 3 s decides),
garbage, truncated with a TCP that stalls, 1.5 s late.  The listener
listens on 127.0.0.1 (a free port), with -d: its log goes to a temporary
file, summed up at the end (closes for new clients by kind).

Output: "first reply" (connect to first reply of every new connection:
median, p90, max, count; one still waiting at the end counts with its
wait so far, a lower bound), for the kept clients the mean and the longest
time between two replies, requests per client per minute (kept,
one-shot), and wrong / lost replies.
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import dnsd  # noqa: E402

NDOMAINS = 400
FAULTY = float(os.environ.get('FAIR_FAULTY', '0.05'))
FAULTS = [[{'SERVFAIL': ['TXT']}], ['TIMEOUT'], [{'MALFORMED': ['TXT']}],
          [{'TCPSTALL': ['TXT']}], [{'DELAY': 1500}, {'TXT': 'v=spf1 ip4:192.0.2.1 -all'}]]


def zone():
    z, rng = {}, random.Random(22)
    for i in range(NDOMAINS):
        if rng.random() < FAULTY:
            z['d%d.test' % i] = FAULTS[i % len(FAULTS)]
        else:
            z['d%d.test' % i] = [{'TXT': 'v=spf1 ip4:192.0.2.1 -all'}]
    return z


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def request(n, dom):
    return ('request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n'
            'client_address=192.0.2.1\nclient_name=unknown\nhelo_name=mail.example.org\n'
            'sender=u%d@%s\nrecipient=a@rcpt.test\ninstance=%d.1\n\n' % (n, dom, n)).encode()


GOOD = re.compile(rb'^action=(prepend Received-SPF: [A-Za-z]+ .*envelope-from=u(\d+)@|'
                  rb'defer_if_permit |dunno\n)')


class Stats(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.first = []         # s: connect to first reply, every new connection
        self.connect = []       # s: connect() itself
        self.replies = {}       # client -> times of its replies
        self.wrong, self.lost, self.again, self.temp = [], 0, 0, 0
        self.serial = 0

    def next(self):
        with self.lock:
            self.serial += 1
            return self.serial


class Client(object):
    def __init__(self, i, kept, port, stop, st, pace):
        self.i, self.kept, self.port, self.stop, self.st = i, kept, port, stop, st
        self.pace, self.s, self.buf = pace, None, b''
        st.replies[i] = []
        self.fresh = False

    def connect(self):
        self.t0, self.buf, self.fresh = time.time(), b'', True
        self.s = socket.create_connection(('127.0.0.1', self.port), 120)
        with self.st.lock:
            self.st.connect.append(time.time() - self.t0)

    def close(self):
        if self.s:
            self.s.close()
        self.s = None

    def ask(self, req):
        """The reply; raises on a connection closed before it."""
        self.s.sendall(req)
        while b'\n\n' not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError
            self.buf += d
        r, self.buf = self.buf.split(b'\n\n', 1)
        return r + b'\n'

    def once(self, n, req):
        now = time.time()
        r = self.ask(req)
        t = time.time()
        if self.fresh:
            with self.st.lock:
                self.st.first.append(t - self.t0)
            self.fresh = False
        return r, t

    def run(self):
        rng = random.Random(self.i)
        while not self.stop.is_set():
            n = self.st.next()
            req = request(n, 'd%d.test' % rng.randrange(NDOMAINS))
            try:
                if not self.s:
                    self.connect()
                try:
                    r, t = self.once(n, req)
                except (EOFError, OSError):
                    self.close()            # smtpd: once more, on a new one
                    with self.st.lock:
                        self.st.again += 1
                    self.connect()
                    r, t = self.once(n, req)
            except (EOFError, OSError) as e:
                self.close()
                if not self.stop.is_set():
                    with self.st.lock:
                        self.st.lost += 1
                continue
            if r.startswith(b'action=defer_if_permit'):
                with self.st.lock:
                    self.st.temp += 1
            m = GOOD.match(r)
            if not m or (m.group(2) and int(m.group(2)) != n):
                with self.st.lock:
                    self.st.wrong.append(r[:120])
            self.st.replies[self.i].append(t)
            if not self.kept:
                self.close()
            if self.pace:
                self.stop.wait(self.pace)
        self.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float('nan')


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    binary = os.path.abspath(a[0])
    secs, n, kept, maxc, pace = [float(x) for x in (a[1:] + ['60', '50', '40', '20', '0'][len(a) - 1:])[:5]]
    n, kept, maxc = int(n), int(kept), int(maxc)
    d = tempfile.mkdtemp(prefix='fair.')
    os.chmod(d, 0o755)
    dns = dnsd.Server(zone()).start()
    conf = os.path.join(d, 'fair.conf')
    with open(conf, 'w') as f:
        f.write('debugLevel = 1\nLookup_Time = 3\nTempError_Defer = True\n'
                'Max_Connections = %d\nNameservers = 127.0.0.1:%d\n' % (maxc, dns.port))
    os.chmod(conf, 0o644)
    port = free_port()
    log = open(os.path.join(d, 'listener.err'), 'wb')
    lst = subprocess.Popen([binary, '-l', 'inet:127.0.0.1:%d' % port, '-d', conf],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    st, stop = Stats(), threading.Event()
    cs = [Client(i, i < kept, port, stop, st, pace / 1000.0) for i in range(n)]
    ts = [threading.Thread(target=c.run, daemon=True) for c in cs]
    t0 = time.time()
    for t in ts:
        t.start()
    time.sleep(secs)
    stop.set()
    took = time.time() - t0
    waiting = [t0 + took - c.t0 for c in cs if c.fresh]   # no first reply yet
    lst.send_signal(signal.SIGTERM)
    for t in ts:
        t.join(15)
    rc = lst.wait(30)
    dns.stop()
    log.close()
    text = open(os.path.join(d, 'listener.err'), 'rb').read().decode('utf-8', 'replace')
    shutil.rmtree(d)
    f = st.first + waiting
    print('# %s: %d clients (%d kept, %d one-shot), Max_Connections %d, %s, %.0f s'
          % (os.path.basename(binary), n, kept, n - kept, maxc,
             'paced %g ms' % pace if pace else 'back to back', took))
    print('first reply: median %.2f s, p90 %.2f s, max %.2f s (%d new connections, '
          'of which %d still waiting at the end: counted with their wait so far)'
          % (pct(f, 0.5), pct(f, 0.9), max(f) if f else float('nan'), len(f), len(waiting)))
    c = st.connect
    print('  of which connect(): median %.2f s, p90 %.2f s, max %.2f s'
          % (pct(c, 0.5), pct(c, 0.9), max(c) if c else float('nan')))
    gaps, means = [], []
    for i in range(kept):
        ts_ = [t0] + st.replies[i] + [t0 + took]
        g = [b - a_ for a_, b in zip(ts_, ts_[1:])]
        gaps.append(max(g))
        means.append(took / max(1, len(st.replies[i])))
    if kept:
        print('kept clients: s between replies: mean of means %.2f, worst mean %.2f, '
              'longest gap %.2f' % (sum(means) / kept, max(means), max(gaps)))
    for label, idx in (('kept', range(kept)), ('one-shot', range(kept, n))):
        if len(idx):
            per = [len(st.replies[i]) * 60.0 / took for i in idx]
            print('requests per client per minute, %s: mean %.1f, min %.1f, max %.1f'
                  % (label, sum(per) / len(per), min(per), max(per)))
    print('replies %d (temperror %d), wrong %d, lost %d, asked again on a new connection %d, '
          'listener exit %s' % (sum(len(v) for v in st.replies.values()), st.temp, len(st.wrong),
                                st.lost, st.again, rc))
    for w in st.wrong[:3]:
        print('  wrong: %r' % w)
    kinds = {}
    for line in text.splitlines():
        m = re.search(r'^(?:[^ ]+\[\d+\]: )?closing the connection (idle|with a partial|after its next)|'
                      r'(closed [0-9]+ more connections)', line)
        if m:
            k = m.group(1) or m.group(2)
            kinds[k] = kinds.get(k, 0) + 1
    print('log: closes for new clients by kind %r' % kinds)


if __name__ == '__main__':
    main()
