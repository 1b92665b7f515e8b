#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""resolver.py - the resolver protection tests (issue 20), run by
tests/resolver.sh (which says what is checked), from the repository root:

    RESOLVER_TMP=DIR RESOLVER_BIN=BIN /usr/bin/python3 tests/resolver.py

DIR is a scratch directory (config files), BIN the binary.  Every name
server is a UDP socket of this process on 127.0.0.1 (one silent one on
127.0.0.2, loopback too), built with dnslib.  Prints "ok resolver/NAME",
"FAIL resolver/NAME: why", "skipped: ..." and "# ..." notes (what was
measured), then "N passed, N failed".
"""

import os, re, select, signal, socket, statistics, subprocess, sys, \
    threading, time

sys.dont_write_bytecode = True     # no tests/__pycache__ (run as root)
import cares  # noqa: E402
import policyclient  # noqa: E402
from policyclient import note  # noqa: E402
from dnslib import (DNSHeader, DNSQuestion, DNSRecord, EDNS0,  # noqa: E402
                    EDNSOption, QTYPE, RR, TXT)

TMP = os.environ['RESOLVER_TMP']
BIN = os.environ['RESOLVER_BIN']
VER = cares.version(BIN)
D = 'resolver.test'
PASS, FAIL = 'v=spf1 +all', 'v=spf1 -all'
NIDS = 104          # requests of the ID test: 72 to learn from, 32 to guess
LEARN = 72          # IDs the general predictor learns from (needs >= 68)
XS_LEARN = 11       # IDs the xorshift64 predictor learns from
MAXHITS = 2         # predictions allowed (chance: 2^-16 each)
COOKIE_OPT = 10     # RFC 7873 COOKIE option
SCOOKIE = b'resolver-test-sc'   # our server cookie (16 octets)
tally = policyclient.Tally('resolver')


def vstr(v):
    return '.'.join(map(str, v)) if v else 'unknown'


# -- name servers --------------------------------------------------------------

class Server(object):
    """A UDP name server on ADDR (port of its own) whose handler(server,
    query, peer) answers; every query is logged as (seconds, ID, source
    port, name, type, client cookie or None)."""

    def __init__(self, handler, addr='127.0.0.1'):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 0))
        self.sock.settimeout(0.1)
        self.ns = '%s:%d' % (addr, self.sock.getsockname()[1])
        self.handler = handler
        self.log = []
        self.errors = []
        self.timers = []
        self.done = threading.Event()
        self.t0 = time.monotonic()
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.done.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            try:
                q = DNSRecord.parse(data)
                cookie = None
                for rr in q.ar:
                    if rr.rtype == QTYPE.OPT:
                        cookie = b''
                        for o in rr.rdata:
                            if o.code == COOKIE_OPT:
                                cookie = o.data
                self.log.append((time.monotonic() - self.t0, q.header.id,
                                 peer[1], str(q.q.qname).rstrip('.').lower(),
                                 QTYPE.get(q.q.qtype), cookie))
                self.handler(self, q, peer)
            except Exception as e:     # noqa: BLE001: shown, never fatal
                self.errors.append(repr(e))

    def send(self, data, peer, delay=0.0, sock=None):
        sock = sock or self.sock
        if not delay:
            sock.sendto(data, peer)
            return
        t = threading.Timer(delay, sock.sendto, (data, peer))
        t.daemon = True
        self.timers.append(t)
        t.start()

    def stop(self):
        self.done.set()
        for t in self.timers:
            t.cancel()
        for e in self.errors[:3]:
            note('server %s: %s' % (self.ns, e))

    def queries(self, suffix):
        """The logged queries for names under suffix."""
        return [e for e in self.log if e[3].endswith(suffix)]


def answer(q, text=FAIL, rcode=0, qid=None, qname=None, cookie=None):
    """An answer to q: its ID (or qid), its question (or qname), a TXT
    record text when TXT was asked, an OPT RR holding cookie when given."""
    name = qname or q.q.qname
    r = DNSRecord(DNSHeader(id=q.header.id if qid is None else qid, qr=1,
                            aa=1, ra=1, rd=q.header.rd, rcode=rcode),
                  q=DNSQuestion(name, q.q.qtype))
    if text and rcode == 0 and q.q.qtype == QTYPE.TXT:
        r.add_answer(RR(name, QTYPE.TXT, rdata=TXT(text), ttl=300))
    if cookie is not None:
        r.add_ar(EDNS0(udp_len=1232, opts=[EDNSOption(COOKIE_OPT, cookie)]))
    return r.pack()


def honest(srv, q, peer):
    srv.send(answer(q), peer)


# -- spfpolicy -----------------------------------------------------------------

def config(name, ns, **keys):
    """A config file with the Nameservers ns; keys override ours."""
    c = {'debugLevel': 1, 'TestOnly': 1, 'HELO_reject': 'No_Check',
         'Mail_From_reject': 'Fail', 'PermError_reject': 'False',
         'TempError_Defer': 'False', 'skip_addresses': '127.0.0.0/8',
         'Nameservers': ns, 'Lookup_Time': 10, 'DNS_Timeout_ms': 1000,
         'DNS_Tries': 2}
    c.update(keys)
    path = os.path.join(TMP, name + '.conf')
    with open(path, 'w') as f:
        f.write(''.join('%s = %s\n' % kv for kv in c.items()))
    return path


def result(reply):
    """The SPF result a spawn-mode reply gives."""
    if reply is None:
        return 'no reply'
    m = re.search(r'Received-SPF: (\w+)', reply)
    if m:
        return m.group(1).lower()
    return 'fail' if re.search(r'action=(550|5\d\d|reject)', reply) else \
        reply.strip()[:60]


class Spawn(object):
    """One spawn-mode process, asked one request at a time."""

    def __init__(self, conf):
        self.err = open(os.path.join(TMP, 'spawn.err'), 'ab')
        self.p = subprocess.Popen(
            [BIN] + (['-R'] if os.geteuid() == 0 else []) + [conf],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b''

    def ask(self, sender, timeout=15.0):
        """(reply or None, seconds) for a request from sender."""
        t0 = time.monotonic()
        try:
            self.p.stdin.write(policyclient.request([
                ('client_address', '192.0.2.1'), ('client_name', 'unknown'),
                ('helo_name', 'helo.' + D), ('sender', sender),
                ('recipient', 'postmaster@receiver.test')]))
            self.p.stdin.flush()
        except OSError:
            return None, 0.0
        while b'\n\n' not in self.buf:
            left = t0 + timeout - time.monotonic()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                return None, time.monotonic() - t0
            d = os.read(self.p.stdout.fileno(), 65536)
            if not d:
                return None, time.monotonic() - t0
            self.buf += d
        i = self.buf.index(b'\n\n') + 2
        r, self.buf = self.buf[:i], self.buf[i:]
        return r.decode('utf-8', 'replace'), time.monotonic() - t0

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        self.err.close()
        return self.p.returncode


def query(conf, sender, ns=None):
    """spfpolicy -q: (first output line, seconds)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([BIN, '-q', '-c', conf] + (['-n', ns] if ns else [])
                           + ['192.0.2.1', sender, 'helo.' + D],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=20)
        out = p.stdout.decode('utf-8', 'replace').split('\n')[0] or \
            'exit %d' % p.returncode
    except subprocess.TimeoutExpired:
        out = 'hung'
    return out, time.monotonic() - t0


def session(conf, senders):
    """Each sender's request to one spawn-mode process: [(result, s)]."""
    sp = Spawn(conf)
    out = []
    for s in senders:
        r, secs = sp.ask(s)
        out.append((result(r), secs))
        if r is None:
            break
    rc = sp.close()
    if rc:
        note('spawn-mode process exited %s' % rc)
    return out


def answered(name, got, want='fail'):
    """ok/FAIL: every request got want."""
    bad = [(i + 1, r) for i, (r, _) in enumerate(got) if r != want]
    return tally.report(name, not bad,
                        'expected %s, got %s' % (want, ', '.join(
                            'request %d: %s' % b for b in bad[:4])))


def ms(secs):
    return '%.1f' % (secs * 1000)


# -- 1, 2: query IDs and source ports ----------------------------------------

def gf2_solve(rows):
    """rows: (mask, rhs) equations over GF(2), a mask's bit i the
    coefficient of x_i.  A solution (free variables 0) as an int, or None
    when the rows contradict each other."""
    basis = {}
    for m, r in rows:
        while m:
            t = m.bit_length() - 1
            if t not in basis:
                basis[t] = (m, r)
                break
            bm, br = basis[t]
            m, r = m ^ bm, r ^ br
        else:
            if r:
                return None
    x = 0
    for t in sorted(basis):
        m, r = basis[t]
        if r ^ (bin(m & x).count('1') & 1):
            x |= 1 << t
    return x


def bit(v, j):
    return v >> j & 1


def predict_recurrence(ids, learn=LEARN, order=64):
    """Any linear generator over GF(2) of at most `order` bits of state
    (any linear step, IDs any linear function of the state) makes all 16
    bit streams of its IDs obey one linear recurrence of that order: its
    step's minimal polynomial.  Solve for it from the first `learn` IDs
    (16 equations a window) and count the later IDs it predicts exactly.
    Returns (hits, tries, whether a recurrence fit at all)."""
    rows = []
    for n in range(learn - order):
        for j in range(16):
            m = sum(bit(ids[n + i], j) << i for i in range(order))
            rows.append((m, bit(ids[n + order], j)))
    c = gf2_solve(rows)
    if c is None:
        return 0, len(ids) - learn, False
    hits = 0
    for n in range(learn, len(ids)):
        guess = 0
        for j in range(16):
            m = sum(bit(ids[n - order + i], j) << i for i in range(order))
            guess |= (bin(m & c).count('1') & 1) << j
        hits += guess == ids[n]
    return hits, len(ids) - learn, True


M64 = (1 << 64) - 1


def xorshift64(s):
    """The old dns_rand(): the state after one step and the ID."""
    s ^= s << 13 & M64
    s ^= s >> 7
    s ^= s << 17 & M64
    return s, s >> 32 & 0xffff


def predict_xorshift(ids, learn=XS_LEARN):
    """The old generator itself (xorshift64 13/7/17, ID = state bits
    32-47): solve for the state before the first ID from the first
    `learn` IDs, count the later IDs it predicts.  (hits, tries, fit)."""
    form = [1 << b for b in range(64)]     # state bits as forms of s0
    rows = []
    for n in range(learn):
        for sh in (13, -7, 17):
            form = [f ^ (form[b - sh] if 0 <= b - sh < 64 else 0)
                    for b, f in enumerate(form)]
        rows += [(form[32 + j], bit(ids[n], j)) for j in range(16)]
    s = gf2_solve(rows)
    if s is None:
        return 0, len(ids) - learn, False
    hits = 0
    for n in range(len(ids)):
        s, guess = xorshift64(s)
        hits += n >= learn and guess == ids[n]
    return hits, len(ids) - learn, True


def predictor_sound():
    """The predictors on IDs of known make: a simulated old generator
    must be predicted, urandom's must not."""
    s, sim = int.from_bytes(os.urandom(8), 'big') | 1, []
    for _ in range(NIDS):
        s, i = xorshift64(s)
        sim.append(i)
    rnd = [int.from_bytes(os.urandom(2), 'big') for _ in range(NIDS)]
    a, b = predict_recurrence(sim), predict_xorshift(sim)
    c, d = predict_recurrence(rnd), predict_xorshift(rnd)
    note('predictors on simulated xorshift64 IDs: recurrence %d/%d, '
         'xorshift64 %d/%d; on urandom IDs: %d/%d, %d/%d' %
         (a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1]))
    tally.report('ids-predictor-sound', a[0] == a[1] and b[0] == b[1] and
                 c[0] <= MAXHITS and d[0] <= MAXHITS,
                 'the predictors cannot tell a linear generator from urandom')


def check_ids_ports():
    predictor_sound()
    srv = Server(honest)
    try:
        got = session(config('ids', srv.ns),
                      ['u@d%d.ids.%s' % (i, D) for i in range(NIDS)])
    finally:
        srv.stop()
    answered('ids-answers', got)
    log, seen = [], set()       # each name's first query (not a resend)
    for e in srv.queries('.ids.' + D):
        if e[4] == 'TXT' and e[3] not in seen:
            seen.add(e[3])
            log.append(e)
    ids = [e[1] for e in log]
    ports = [e[2] for e in log]
    note('%d requests, %d TXT queries (%d queries in all); first IDs: %s' %
         (len(got), len(log), len(srv.log),
          ' '.join('%04x' % i for i in ids[:8])))
    if len(ids) < NIDS:
        tally.report('ids-unpredictable', False,
                     'only %d queries for %d requests' % (len(ids), NIDS))
    else:
        r, x = predict_recurrence(ids), predict_xorshift(ids)
        note('IDs predicted by a linear recurrence of order 64 (any linear '
             'generator of <= 64 bits of state), learnt from the first %d: '
             '%d of %d%s' % (LEARN, r[0], r[1],
                             '' if r[2] else ' (no such recurrence fits)'))
        note('IDs predicted by xorshift64 (the old dns_rand), state solved '
             'from the first %d: %d of %d%s' % (XS_LEARN, x[0], x[1],
                                               '' if x[2] else ' (no state fits)'))
        nid = len(set(ids))
        note('%d distinct IDs in %d queries%s' % (
            nid, len(ids), '' if nid > 1 else ': every query has ID %04x'
            % ids[0]))
        tally.report('ids-unpredictable', r[0] <= MAXHITS and x[0] <= MAXHITS,
                     'predicted %d/%d (linear recurrence), %d/%d (xorshift64)'
                     '; %d distinct IDs' % (r[0], r[1], x[0], x[1], nid))
    distinct = len(set(ports))
    note('source ports: %d distinct for %d queries (c-ares %s)' %
         (distinct, len(ports), vstr(VER)))
    if VER and VER >= (1, 20):      # ARES_OPT_UDP_MAX_QUERIES = 1
        tally.report('source-ports', ports and distinct >= 0.9 * len(ports),
                     '%d distinct source ports for %d queries, expected a '
                     'fresh one for each (>= 90%%)' % (distinct, len(ports)))
    else:     # 1.18: one socket while queries are in flight, closed after
        tally.report('source-ports', distinct > 1,
                     'one source port for all %d sequential queries'
                     % len(ports))


# -- 3: forged answers -------------------------------------------------------

def check_forged():
    spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoof.bind(('127.0.0.1', 0))
    forgeries = {
        'other-question': lambda s, q, p: s.send(
            answer(q, PASS, qname='evil.' + D), p),
        'other-port': lambda s, q, p: s.send(answer(q, PASS), p, sock=spoof),
        'wrong-id': lambda s, q, p: s.send(
            answer(q, PASS, qid=q.header.id ^ 0x0101), p),
    }
    three = list(forgeries.values())
    forgeries['all-three'] = lambda s, q, p: [f(s, q, p) for f in three]

    def handler(forge):
        def h(srv, q, peer):
            forge(srv, q, peer)
            srv.send(answer(q), peer, delay=0.1)
        return h
    try:
        for name, forge in forgeries.items():
            srv = Server(handler(forge))
            try:
                got, secs = query(config('forged', srv.ns),
                                  'u@%s.forged.%s' % (name, D))
            finally:
                srv.stop()
            note('forged %s (+all) then the real answer (-all) 100 ms '
                 'later: %s in %s ms' % (name, got, ms(secs)))
            tally.report('forged-' + name, got == 'fail',
                         'expected fail (the real answer), got %s' % got)
    finally:
        spoof.close()


# -- 4: a dead first name server ---------------------------------------------

def check_dead_first():
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        dead.bind(('127.0.0.2', 0))     # never read: no answer, no ICMP
    except OSError as e:
        print('skipped: resolver: dead-first-server: cannot bind '
              '127.0.0.2: %s' % e)
        return
    timeout = 500
    srv = Server(honest)
    try:
        ns = '127.0.0.2:%d,%s' % (dead.getsockname()[1], srv.ns)
        conf = config('dead', ns, DNS_Timeout_ms=timeout, DNS_Tries=2)
        got = session(conf, ['u@d%d.dead.%s' % (i, D) for i in range(7)])
        q, qsecs = query(conf, 'u@q.dead.' + D)
    finally:
        srv.stop()
        dead.close()
    times = [s for _, s in got]
    note('first server silent (DNS_Timeout_ms %d), the second answers: '
         'one process, request times %s ms; -q once: %s in %s ms' %
         (timeout, ' '.join(ms(s) for s in times), q, ms(qsecs)))
    answered('dead-first-server-answers', got + [(q, qsecs)])
    later = times[2:]
    med = statistics.median(later) if later else None
    if VER and VER >= (1, 34):
        tally.report('dead-first-server-failover',
                     med is not None and med < timeout / 2000.0,
                     'median of requests 3-%d: %s ms, not under %d ms: every '
                     'lookup waits for the dead server' %
                     (len(times), ms(med or 0), timeout // 2))
    else:
        note('c-ares %s: median of requests 3-%d %s ms: %s' %
             (vstr(VER), len(times), ms(med or 0),
              'every lookup asks the dead server first and waits its '
              'timeout (no failover in this version)'
              if med and med >= timeout / 2000.0 else 'no timeout paid'))


# -- 5: DNS cookies ----------------------------------------------------------

def check_cookies():
    forge = 'forge.cookie.' + D

    def handler(srv, q, peer):
        c = srv.log[-1][5]
        back = c[:8] + SCOOKIE if c and len(c) >= 8 else None
        if str(q.q.qname).rstrip('.').lower() == forge:
            srv.send(answer(q, PASS), peer)     # no cookie
            srv.send(answer(q, cookie=back), peer, delay=0.1)
        else:
            srv.send(answer(q, cookie=back), peer)
    srv = Server(handler)
    try:
        got = session(config('cookie', srv.ns),
                      ['u@d%d.cookie.%s' % (i, D) for i in range(4)] +
                      ['u@' + forge])
    finally:
        srv.stop()
    seen = [e[5] for e in srv.queries('.cookie.' + D)]
    desc = ', '.join('no OPT' if c is None else 'OPT without cookie' if not c
                     else 'cookie %d octets%s' % (
                         len(c), ' (client + our server cookie)'
                         if c[8:] == SCOOKIE else '') for c in seen)
    note('c-ares %s, cookies in the queries: %s%s' % (
        vstr(VER), desc, '; client cookie %s' % seen[0][:8].hex()
        if seen and seen[0] else ''))
    if not VER or VER < (1, 34):
        note('with no cookie, the forged +all answer sent before the real '
             'one gave: %s' % got[-1][0])
        print('skipped: resolver: cookies: c-ares %s sends no DNS cookies '
              '(RFC 7873; checked with the c-ares 1.34 that does)'
              % vstr(VER))
        return
    clients = set(c[:8] for c in seen if c)
    good = len(seen) >= 5 and all(c and len(c) >= 8 for c in seen) and \
        len(clients) == 1 and all(c[8:] == SCOOKIE for c in seen[1:])
    tally.report('cookies-sent', good,
                 'expected one client cookie in every query, with our server '
                 'cookie after the first answer; seen: %s' % desc)
    answered('cookies-forged-answer', got)


# -- 6: SERVFAIL from the only name server -----------------------------------

def check_servfail():
    srv = Server(lambda s, q, p: s.send(answer(q, rcode=2), p))
    try:
        got = session(config('servfail', srv.ns, DNS_Tries=3),
                      ['u@d%d.servfail.%s' % (i, D) for i in range(4)])
    finally:
        srv.stop()
    per = {}
    for e in srv.queries('.servfail.' + D):
        per.setdefault(e[3], []).append(e[0])
    counts = [len(per.get('d%d.servfail.%s' % (i, D), ())) for i in range(4)]
    spans = [ms(v[-1] - v[0]) for v in per.values() if len(v) > 1]
    note('SERVFAIL, one name server, DNS_Tries 3: queries per lookup %s%s; '
         'results %s' % (' '.join(map(str, counts)),
                         ' (the repeats within %s ms)' % '/'.join(spans)
                         if spans else '', ' '.join(r for r, _ in got)))
    answered('servfail-answers', got, 'temperror')
    tally.report('servfail-one-query', counts and max(counts) <= 1 and
                 min(counts) == 1, 'queries per lookup: %s, expected 1 each'
                 % ' '.join(map(str, counts)))

    # with two, c-ares asks the other: the lookup is answered
    bad = Server(lambda s, q, p: s.send(answer(q, rcode=2), p))
    good = Server(honest)
    try:
        got = session(config('servfail2', '%s,%s' % (bad.ns, good.ns)),
                      ['u@d%d.servfail2.%s' % (i, D) for i in range(3)])
    finally:
        bad.stop()
        good.stop()
    note('SERVFAIL from the first of two name servers: results %s, queries '
         'to the second %d' % (' '.join(r for r, _ in got),
                               len(good.queries('.servfail2.' + D))))
    answered('servfail-next-server', got)


def main():
    signal.alarm(110)       # the whole section stays bounded
    note('binary %s, c-ares %s' % (BIN, vstr(VER)))
    for check in (check_ids_ports, check_forged, check_dead_first,
                  check_cookies, check_servfail):
        try:
            check()
        except Exception as e:     # noqa: BLE001: one check, not the rest
            tally.report(check.__name__[6:].replace('_', '-'), False,
                         'harness error: %r' % e)
    return tally.end()


if __name__ == '__main__':
    sys.exit(main())
