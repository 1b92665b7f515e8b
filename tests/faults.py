#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""faults.py - the DNS fault matrix, run by tests/faults.sh (which says
what the three parts check), from the repository root:

    FAULTS_TMP=DIR FAULTS_BIN=BIN [FAULTS_OUT=FILE] /usr/bin/python3 tests/faults.py

DIR is a scratch directory (the generated suite documents, the config of
the raw cases, runs.log of tests/faults_timed.sh), BIN the binary.
Prints "ok faults/NAME", "FAIL faults/NAME: why" and "N passed, N
failed"; the table of every case goes to stderr (and FAULTS_OUT).
"""

import os, re, socket, struct, subprocess, sys, threading, time
import yaml

sys.dont_write_bytecode = True     # no tests/__pycache__ (run as root)
import cares  # noqa: E402
import policyclient  # noqa: E402

TMP = os.environ['FAULTS_TMP']
BIN = os.environ['FAULTS_BIN']
OUT = os.environ['FAULTS_OUT']
SLACK = float(os.environ.get('FAULTS_SLACK') or 0)
ONLY = os.environ.get('FAULTS_ONLY') or ''
PY = '/usr/bin/python3'
CONF = ['Default_Explanation = DEFAULT', 'Lookup_Time = 3',
        'DNS_Timeout_ms = 500', 'DNS_Tries = 2']
rows = []          # (name, expected, measured, seconds, maxtime, ok)
tally = policyclient.Tally('faults')
CARES = cares.version(BIN)
DEVIATIONS = cares.deviations(CARES)   # what this c-ares answers instead


def select(tests):
    return {k: v for k, v in tests.items() if ONLY in k}


# -- 1, 2: documents for spfsuite.py -----------------------------------------

def ip4_terms(first, n):
    """n ip4 terms of single-digit quads, the shortest (12 octets each)."""
    out = []
    for i in range(first, first + n):
        out.append('ip4:%d.%d.%d.%d' % (i // 1000, i // 100 % 10,
                                        i // 10 % 10, i % 10))
    return out


def bulk_document():
    z = 'bulk.faults.example.org'
    t5000 = ip4_terms(5000, 5000)     # 5.0.0.0 .. 9.9.9.9
    zone = {
        'ip4-5000.' + z: [{'TXT': 'v=spf1 ' + ' '.join(t5000) + ' -all'}],
        'ip4-10000.' + z: [{'TXT': 'v=spf1 include:h1.ip4-10000.%s '
                                   'include:h2.ip4-10000.%s -all' % (z, z)}],
        'h1.ip4-10000.' + z: [{'TXT': 'v=spf1 ' + ' '.join(ip4_terms(0, 5000))}],
        'h2.ip4-10000.' + z: [{'TXT': 'v=spf1 ' + ' '.join(t5000)}],
        'a-10000.' + z: [{'TXT': 'v=spf1' + ' a' * 10000 + ' -all'},
                         {'A': '192.0.2.99'}],
        'toobig.' + z: [{'TXT': 'v=spf1 ' + ' '.join(ip4_terms(0, 6000))
                                + ' -all'}],
    }
    tests = {
        'ip4-5000-terms': {
            'description': 'One record of 5000 ip4 terms (60 KB, over TCP); '
                           'the last one matches.',
            'spec': '4.6, 5.6', 'host': '9.9.9.9',
            'mailfrom': 'u@ip4-5000.' + z, 'result': 'pass'},
        'ip4-5000-terms-nomatch': {
            'description': 'The same record, no term matches: -all.',
            'spec': '4.6, 5.6', 'host': '192.0.2.1',
            'mailfrom': 'u@ip4-5000.' + z, 'result': 'fail'},
        'ip4-10000-terms': {
            'description': '10 000 ip4 terms in two included records of '
                           '5000; the last one matches.',
            'spec': '5.2, 5.6', 'host': '9.9.9.9',
            'mailfrom': 'u@ip4-10000.' + z, 'result': 'pass'},
        'a-10000-terms': {
            'description': '10 000 a terms, none matching: the eleventh '
                           'DNS-querying term is a permerror.',
            'spec': '4.6.4', 'host': '192.0.2.1',
            'mailfrom': 'u@a-10000.' + z, 'result': 'permerror',
            'maxqueries': 3},
        'a-10000-terms-first-matches': {
            'description': '10 000 a terms, the first matches: pass.',
            'spec': '4.6.4', 'host': '192.0.2.99',
            'mailfrom': 'u2@a-10000.' + z, 'result': 'pass'},
        'record-larger-than-dns-message': {
            'description': 'A 72 KB record cannot be sent (a DNS message '
                           'holds 65 535 octets): no answer comes, '
                           'temperror.',
            'spec': '4.4', 'host': '192.0.2.1',
            'mailfrom': 'u@toobig.' + z, 'result': 'temperror'},
    }
    for t in tests.values():
        t['helo'] = 'helo'
        t['maxtime'] = 4.5
    return {'description': 'DNS fault matrix, generated', 'config':
            ['Lookup_Time = 3', 'DNS_Timeout_ms = 500', 'DNS_Tries = 2'],
            'tests': tests, 'zonedata': zone}


def prepare():
    docs = []
    with open('tests/faults.yml', 'rb') as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    docs.append(bulk_document())
    for d in docs:
        d['tests'] = select(d['tests'])
        for t in d['tests'].values():
            if 'maxtime' in t:
                t['maxtime'] = float(t['maxtime']) + SLACK
    docs = [d for d in docs if d['tests']]
    paths = []
    for i, d in enumerate(docs):
        p = os.path.join(TMP, 'faults%d.yml' % i)
        with open(p, 'w') as f:
            yaml.safe_dump(d, f, width=1 << 30)
        paths.append(p)
    return docs, paths


def run_suite(docs, paths):
    if not paths:
        return
    p = subprocess.run([PY, 'tests/spfsuite.py', '-j', '1', '--bin',
                        os.path.abspath('tests/faults_timed.sh')] +
                       (['--cares', '.'.join(map(str, CARES))] if CARES else []) + paths,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    status = {}
    for line in p.stdout.decode('utf-8', 'replace').splitlines():
        m = re.match(r'(ok|FAIL) [^/ ]+/([^: ]+)(?::? (.*))?$', line)
        if m:
            status[m.group(2)] = (m.group(1) == 'ok', m.group(3) or '')
            tally.report(m.group(2), m.group(1) == 'ok', m.group(3))
        elif not re.match(r'\d+ passed, \d+ failed', line):
            print('# spfsuite: ' + line)
    runs = {}
    try:
        with open(os.path.join(TMP, 'runs.log')) as f:
            for line in f:
                ip, sender, rc, s, e, first = line.rstrip('\n').split('\t')
                runs[(ip, sender)] = (int(rc), float(e) - float(s), first)
    except OSError:
        pass
    for d in docs:
        for name, t in d['tests'].items():
            rc, secs, first = runs.get((str(t.get('host')),
                                        str(t.get('mailfrom'))),
                                       (None, None, ''))
            got = first or '-'
            if rc is not None and rc > 128:
                got = 'killed by signal %d' % (rc - 128)
            ok = status.get(name, (False, 'not run'))[0]
            exp = t['result'] if isinstance(t['result'], str) else \
                '|'.join(t['result'])
            rows.append((name, exp, got, secs, t.get('maxtime'), ok))
    if p.returncode not in (0, 1):
        tally.report('spfsuite', False, 'spfsuite.py exited %d' % p.returncode)


# -- 3: raw answers ----------------------------------------------------------

TTL = 300


def wire(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        b = label.encode('latin-1')
        out += bytes([len(b)]) + b
    return out + b'\0'


def rr(owner, rtype, rdata, ttl=TTL):
    return owner + struct.pack('!HHIH', rtype, 1, ttl, len(rdata)) + rdata


def txt(*strings):
    return b''.join(bytes([len(s)]) + s for s in strings)


class Query(object):
    def __init__(self, data):
        self.id, self.flags = struct.unpack('!HH', data[:4])
        o = 12
        labels = []
        while data[o]:
            labels.append(data[o + 1:o + 1 + data[o]])
            o += 1 + data[o]
        self.qname = b'.'.join(labels).decode('latin-1').lower()
        self.qtype = struct.unpack('!H', data[o + 1:o + 3])[0]
        self.question = data[12:o + 5]


def packet(q, answers=(), rcode=0, an=None, qid=None, tc=0, question=None):
    """An answer to q: header, q's question (or another), the RRs."""
    flags = 0x8400 | 0x0100 | 0x0080 | rcode | (0x0200 if tc else 0)
    answers = list(answers)
    return struct.pack('!HHHHHH', q.id if qid is None else qid, flags, 1,
                       len(answers) if an is None else an, 0, 0) + \
        (q.question if question is None else question) + b''.join(answers)


OWN = b'\xc0\x0c'      # the question's name
Z = 'raw.faults.example.org'
A_CLIENT = bytes([192, 0, 2, 1])
SPF_PASS = txt(b'v=spf1 ip4:192.0.2.1 -all')
T_A, T_CNAME, T_MX, T_PTR, T_TXT, T_AAAA = 1, 5, 15, 12, 16, 28


def answer(q, proto):
    """What the raw server sends for q (bytes, or None for nothing)."""
    n, t = q.qname, q.qtype
    if n == '1.2.0.192.in-addr.arpa' and t == T_PTR:
        return packet(q, [rr(OWN, T_PTR, b'\x07bad.ptr'
                             + wire('ptr-bad-name.' + Z)),
                          rr(OWN, T_PTR, wire('h.ptr-bad-name.' + Z))])
    sub = n[:-len(Z) - 1] if n.endswith('.' + Z) else None
    if sub is None:
        return packet(q, rcode=3)
    label = sub.split('.')[-1]
    # records of the sender domains that point at the faulty names
    refer = {
        'wt-a': 'v=spf1 a:host.wt-a.%s -all',
        'wt-a-txt': 'v=spf1 a:host.wt-a-txt.%s -all',
        'mx-bad-name': 'v=spf1 mx -all',
        'a-rdlen5': 'v=spf1 a:host.a-rdlen5.%s -all',
        'mx-short': 'v=spf1 mx -all',
        'ptr-bad-name': 'v=spf1 ptr -all',
    }
    if sub == label and label in refer and t == T_TXT:
        return packet(q, [rr(OWN, T_TXT,
                             txt(refer[label].replace('%s', Z).encode()))])
    if label == 'wt-txt':                  # TXT asked, A given
        return packet(q, [rr(OWN, T_A, A_CLIENT)])
    if label == 'wt-spf99':                # TXT asked, type SPF given
        return packet(q, [rr(OWN, 99, SPF_PASS)])
    if label == 'wt-a':                    # A asked, AAAA given
        return packet(q, [rr(OWN, T_AAAA, b'\0' * 10 + b'\xff\xff' + A_CLIENT)])
    if label == 'wt-a-txt':                # A asked, a 4-octet TXT given
        return packet(q, [rr(OWN, T_TXT, b'\x03abc')])
    if label == 'txt-overflow':            # a string longer than its RR
        return packet(q, [rr(OWN, T_TXT, b'\xc8v=spf1 +all'),
                          rr(OWN, T_TXT, SPF_PASS)])
    if label == 'txt-empty-rdata':         # an RR of no strings at all
        return packet(q, [rr(OWN, T_TXT, b''), rr(OWN, T_TXT, SPF_PASS)])
    if label == 'rdlen-past-end':
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)[:-5]])
    if label == 'owner-loop':              # a pointer to itself
        off = 12 + len(q.question)
        return packet(q, [rr(struct.pack('!H', 0xc000 | off), T_TXT,
                             SPF_PASS)])
    if label == 'owner-pointer-out':       # a pointer past the end
        return packet(q, [rr(b'\xc3\xff', T_TXT, SPF_PASS)])
    if label == 'ancount-lies':            # says 5 answers, has 1
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)], an=5)
    if label == 'nxdomain-with-answer':    # RCODE 3 with a record
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)], rcode=3)
    if label == 'wrong-id':
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)], qid=(q.id + 1) & 0xffff)
    if label == 'wrong-question':
        other = wire('other.' + Z) + struct.pack('!HH', T_TXT, 1)
        return packet(q, [rr(b'\xc0\x0c', T_TXT, SPF_PASS)], question=other)
    if sub == 'host.a-rdlen5':
        return packet(q, [rr(OWN, T_A, A_CLIENT + b'\0')])
    if label == 'mx-bad-name' and t == T_MX:
        return packet(q, [rr(OWN, T_MX, b'\0\x0a' + wire('evil') [:-1]
                             + b'\x03a.b\0'),
                          rr(OWN, T_MX, b'\0\x0a' + wire('mx.' + Z))])
    if label == 'mx-short' and t == T_MX:
        return packet(q, [rr(OWN, T_MX, b'\0\x0a'),
                          rr(OWN, T_MX, b'\0\x0a' + wire('mx.' + Z))])
    if sub == 'mx' and t == T_A:
        return packet(q, [rr(OWN, T_A, A_CLIENT)])
    if sub == 'h.ptr-bad-name' and t == T_A:
        return packet(q, [rr(OWN, T_A, A_CLIENT)])
    if label == 'cname-requery':           # the alias only; then the record
        if sub == label:
            return packet(q, [rr(OWN, T_CNAME, wire('target.' + Z))])
    if sub == 'target' and t == T_TXT:
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)])
    m = re.match(r'chain(\d+)$', label)
    if m:                                  # every answer: one more alias
        k = int(m.group(1))
        return packet(q, [rr(OWN, T_CNAME, wire('chain%d.%s' % (k + 1, Z)))])
    if label == 'tc-then-close' and proto == 'udp':
        return packet(q, tc=1)
    if label == 'tc-then-close':
        return b''                         # TCP: close at once
    if label == 'tc-garbage-tcp-ok' and proto == 'udp':
        return packet(q, tc=1, an=3) + b'\xff' * 7
    if label == 'tc-garbage-tcp-ok':
        return packet(q, [rr(OWN, T_TXT, SPF_PASS)])
    return packet(q)                       # NODATA


RAW = [
    # name, sender label, ip, expected, what
    ('wrongtype-txt-gets-a', 'wt-txt', '192.0.2.1', 'none',
     'TXT asked, an A record given: no TXT record, none'),
    ('wrongtype-txt-gets-spf99', 'wt-spf99', '192.0.2.1', 'none',
     'TXT asked, a type 99 record given: not a TXT record, none'),
    ('wrongtype-a-gets-aaaa', 'wt-a', '192.0.2.1', 'fail',
     'A asked, an AAAA record holding ::ffff:192.0.2.1 given: no match'),
    ('wrongtype-a-gets-txt', 'wt-a-txt', '192.0.2.1', 'fail',
     'A asked, a 4-octet TXT record given: no address'),
    ('txt-string-overflows-rr', 'txt-overflow', '192.0.2.1', 'pass',
     'a TXT RR whose string runs past its RDATA is skipped; the next '
     'RR is the record'),
    ('txt-rr-without-strings', 'txt-empty-rdata', '192.0.2.1', 'pass',
     'a TXT RR of no strings beside the record'),
    ('rdlength-past-end', 'rdlen-past-end', '192.0.2.1', 'temperror',
     'an RR whose RDLENGTH runs past the message: malformed'),
    ('owner-pointer-loop', 'owner-loop', '192.0.2.1', 'temperror',
     'an owner name that is a compression pointer to itself'),
    ('owner-pointer-past-end', 'owner-pointer-out', '192.0.2.1', 'temperror',
     'an owner name pointing past the message'),
    ('ancount-lies', 'ancount-lies', '192.0.2.1', 'temperror',
     'ANCOUNT 5, one RR'),
    ('nxdomain-with-answer', 'nxdomain-with-answer', '192.0.2.1', 'none',
     'RCODE 3 beside a record: the RCODE counts'),
    ('answer-with-wrong-id', 'wrong-id', '192.0.2.1', 'temperror',
     'only answers with another ID: never an answer'),
    ('answer-for-other-question', 'wrong-question', '192.0.2.1', 'temperror',
     'only answers to another question: never an answer'),
    ('a-rdlength-5', 'a-rdlen5', '192.0.2.1', 'fail',
     'an A RR of 5 octets is no address'),
    ('mx-name-with-dot-in-label', 'mx-bad-name', '192.0.2.1', 'pass',
     'an MX name with a "." inside a label is skipped, the next host '
     'matches'),
    ('mx-rdata-too-short', 'mx-short', '192.0.2.1', 'pass',
     'an MX RR of 2 octets is skipped, the next host matches'),
    ('ptr-name-with-dot-in-label', 'ptr-bad-name', '192.0.2.1', 'pass',
     'a PTR name with a "." inside a label is skipped, the next '
     'validates'),
    ('cname-then-requery', 'cname-requery', '192.0.2.1', 'pass',
     'the answer holds only the alias: the target is asked for'),
    ('cname-chain-over-answers', 'chain0', '192.0.2.1', 'temperror',
     'every answer is one more alias, without end: a DNS error as for a '
     'chain in one answer'),
    ('truncated-then-tcp-closed', 'tc-then-close', '192.0.2.1', 'temperror',
     'UDP says TC, the TCP connection is closed at once'),
    ('truncated-garbage-then-tcp', 'tc-garbage-tcp-ok', '192.0.2.1', 'pass',
     'a truncated UDP answer with garbage after its question, a good TCP '
     'one'),
]


class RawServer(object):
    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(('127.0.0.1', 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(('127.0.0.1', self.port))
        self.tcp.listen(16)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.stop = threading.Event()
        self.errors = []
        for f in (self.udp_loop, self.tcp_loop):
            threading.Thread(target=f, daemon=True).start()

    def reply(self, data, proto):
        try:
            return answer(Query(data), proto)
        except Exception as e:
            self.errors.append(repr(e))
            return None

    def udp_loop(self):
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            out = self.reply(data, 'udp')
            if out:
                self.udp.sendto(out, peer)

    def tcp_loop(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.tcp.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self.tcp_conn, args=(conn,),
                             daemon=True).start()

    def tcp_conn(self, conn):
        conn.settimeout(5)
        try:
            while True:
                hdr = conn.recv(2)
                if len(hdr) < 2:
                    break
                n = struct.unpack('!H', hdr)[0]
                data = b''
                while len(data) < n:
                    chunk = conn.recv(n - len(data))
                    if not chunk:
                        return
                    data += chunk
                out = self.reply(data, 'tcp')
                if out == b'':
                    break
                if out:
                    conn.sendall(struct.pack('!H', len(out)) + out)
        except OSError:
            pass
        finally:
            conn.close()


def run_raw():
    cases = [c for c in RAW if ONLY in 'raw-' + c[0]]
    if not cases:
        return
    srv = RawServer()
    conf = os.path.join(TMP, 'raw.conf')
    with open(conf, 'w') as f:
        f.write('\n'.join(CONF) + '\n')
    maxtime = 4.5 + SLACK
    try:
        for name, label, ip, want, what in cases:
            want = DEVIATIONS.get('faults/raw-' + name, (want,))[0]
            cmd = [BIN, '-q', '-c', conf, '-n', '127.0.0.1:%d' % srv.port,
                   ip, 'u@%s.%s' % (label, Z), 'helo']
            start = time.monotonic()
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=30)
                out, rc = p.stdout.decode('utf-8', 'replace'), p.returncode
            except subprocess.TimeoutExpired:
                out, rc = '', None
            secs = time.monotonic() - start
            lines = out.split('\n')
            got = lines[0] if lines and lines[0] else '-'
            why = []
            if rc is None:
                got = 'hung (30 s)'
            elif rc < 0 or rc > 128:
                got = 'killed by signal %d' % (-rc if rc < 0 else rc - 128)
            if got != want:
                why.append('expected %s got %s' % (want, got))
            if rc is not None and rc >= 0 and len(lines) != 4:
                why.append('%d output lines, not 3' % (len(lines) - 1))
            if secs > maxtime:
                why.append('took %.1fs > maxtime %.1f' % (secs, maxtime))
            tally.report('raw-' + name, not why, '; '.join(why))
            rows.append(('raw-' + name, want, got, secs, maxtime, not why))
    finally:
        srv.stop.set()
    for e in srv.errors[:5]:
        print('# raw server: ' + e)


def table():
    w = max([len(r[0]) for r in rows] + [4])
    lines = ['%-*s  %-9s  %-20s  %7s  %7s  %s' % (
        w, 'case', 'expected', 'measured', 'time s', 'max s', 'status')]
    for name, exp, got, secs, maxt, ok in rows:
        lines.append('%-*s  %-9s  %-20s  %7s  %7s  %s' % (
            w, name, exp, got[:20], '-' if secs is None else '%.2f' % secs,
            '-' if maxt is None else '%.1f' % float(maxt),
            'ok' if ok else 'FAIL'))
    text = '\n'.join(lines) + '\n'
    sys.stdout.flush()
    sys.stderr.write(text)
    sys.stderr.flush()
    if not OUT:
        return
    try:
        with open(OUT, 'w') as f:
            f.write(text)
        print('# fault table: %s' % OUT)
    except OSError as e:
        print('# fault table not written: %s' % e)


def main():
    docs, paths = prepare()
    run_suite(docs, paths)
    run_raw()
    table()
    return tally.end()


if __name__ == '__main__':
    sys.exit(main())
