#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""abuse.py - protocol abuse on the standard input of spawn mode, run by
tests/abuse.sh (which says what is checked), from the repository root:

    ABUSE_TMP=DIR ABUSE_BIN=BIN /usr/bin/python3 tests/abuse.py

DIR is a scratch directory (the config files), BIN the binary.  The
zone is served by tests/dnsd.py in this process.  Prints "ok abuse/NAME",
"FAIL abuse/NAME: why", "# rss ..." notes and "N passed, N failed".
"""

import os, re, subprocess, sys, threading, time

sys.dont_write_bytecode = True     # no tests/__pycache__ (run as root)
import dnsd  # noqa: E402
import policyclient  # noqa: E402
from policyclient import note  # noqa: E402

TMP = os.environ['ABUSE_TMP']
BIN = os.environ['ABUSE_BIN']
NREQ = int(os.environ.get('ABUSE_REQUESTS') or 100000)
RSS_KB = int(os.environ.get('ABUSE_RSS_KB') or 8192) \
    if os.environ.get('ABUSE_RSS_KB') != '0' else 0
TIMEOUT = float(os.environ.get('ABUSE_TIMEOUT') or 300)
D = 'abuse.example.org'


def ip4_terms(first, n):
    return ' '.join('ip4:%d.%d.%d.%d' % (i // 1000, i // 100 % 10,
                                         i // 10 % 10, i % 10)
                    for i in range(first, first + n))


ZONE = {
    'pass.' + D: [{'TXT': 'v=spf1 ip4:192.0.2.1 -all'}],
    'fail.' + D: [{'TXT': 'v=spf1 -all'}],
    'mx.' + D: [{'A': '192.0.2.1'}],
    # large answers: two 60 KB records over TCP (too big for the cache:
    # fetched again for every request), 10 000 ip4 terms in one check
    'big.' + D: [{'TXT': 'v=spf1 include:b1.%s include:b2.%s '
                         'mx:many.%s -all' % (D, D, D)}],
    'b1.' + D: [{'TXT': 'v=spf1 ' + ip4_terms(0, 5000)}],
    'b2.' + D: [{'TXT': 'v=spf1 ' + ip4_terms(5000, 5000)}],
    'many.' + D: [{'MX': [10, 'mx.' + D]}],
}
tally = policyclient.Tally('abuse')


def request(sender='u@pass.' + D, client='192.0.2.1', helo='helo',
            extra=(), instance=None, end=b'\n'):
    """One well-formed request (bytes), blank line included."""
    attrs = [('client_address', client), ('client_name', 'unknown'),
             ('helo_name', helo), ('sender', sender),
             ('recipient', 'rcpt@receiver.test'), ('queue_id', ''),
             ('size', '0')]
    if instance:
        attrs.append(('instance', instance))
    return policyclient.request(attrs, extra, end)


PASS_REPLY = re.compile(rb'action=prepend Received-SPF: Pass \(mailfrom\) '
                        rb'identity=mailfrom; ')


class Session(object):
    """One spawn-mode process fed data; replies, exit status, peak RSS."""

    def __init__(self, conf, chunks, hold_for=None):
        self.conf = conf
        self.chunks = chunks
        self.hold_for = hold_for     # keep stdin open until this many replies
        self.out = b''
        self.err = b''
        self.rc = None
        self.maxrss_kb = None
        self.hwm_kb = None
        self.secs = None
        self.timed_out = False

    def run(self):
        args = [BIN] + (['-R'] if os.geteuid() == 0 else []) + [self.conf]
        start = time.monotonic()
        p = subprocess.Popen(args, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        replies_seen = threading.Event()
        out = []
        err = []

        def writer():
            try:
                for c in self.chunks:   # each its own write: lines split across reads
                    p.stdin.write(c)
                    p.stdin.flush()
                if self.hold_for is not None:
                    replies_seen.wait(TIMEOUT)
                    self.hwm_kb = vmhwm(p.pid)
                p.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        def reader(stream, sink, count):
            n = 0
            while True:
                b = stream.read1(1 << 16) if hasattr(stream, 'read1') \
                    else stream.read(1 << 16)
                if not b:
                    break
                sink.append(b)
                if count and self.hold_for is not None and \
                        not replies_seen.is_set():
                    n += b.count(b'\n\n')
                    if n >= self.hold_for:
                        replies_seen.set()
            replies_seen.set()

        threads = [threading.Thread(target=writer),
                   threading.Thread(target=reader, args=(p.stdout, out, 1)),
                   threading.Thread(target=reader, args=(p.stderr, err, 0))]
        for t in threads:
            t.daemon = True
            t.start()
        deadline = start + TIMEOUT
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.timed_out = True
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        self.rc = p.returncode
        self.maxrss_kb = ru.ru_maxrss
        for t in threads:
            t.join(10)
        self.secs = time.monotonic() - start
        self.out = b''.join(out)
        self.err = b''.join(err)
        return self

    def replies(self):
        """The replies (without their blank line) and what trails them."""
        parts = self.out.split(b'\n\n')
        return parts[:-1], parts[-1]


def vmhwm(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def check(name, s, want, match=None, every=None):
    """want: number of replies; match: list of regexes, one per reply (or
    None); every: a regex every reply must match."""
    why = []
    replies, rest = s.replies()
    if s.timed_out:
        why.append('no exit within %d s' % TIMEOUT)
    elif s.rc != 0:
        why.append('exit status %s%s' % (
            s.rc, ' (signal %d)' % -s.rc if s.rc < 0 else ''))
    if len(replies) != want:
        why.append('%d replies, not %d' % (len(replies), want))
    if rest:
        why.append('output after the last reply: %r' % rest[:80])
    for i, r in enumerate(replies):
        if b'\r' in r or b'\n' in r:
            why.append('reply %d holds a CR or newline: %r' % (i, r[:120]))
            break
        if any(c < 0x20 or c == 0x7f for c in r):
            why.append('reply %d holds a control: %r' % (i, r[:120]))
            break
        if not r.startswith(b'action='):
            why.append('reply %d is not an action: %r' % (i, r[:120]))
            break
        if every is not None and not re.match(every, r):
            why.append('reply %d: %r does not match %r' % (i, r[:160],
                                                          every))
            break
    if match is not None:
        for i, (r, m) in enumerate(zip(replies, match)):
            if m is not None and not re.match(m, r):
                why.append('reply %d: %r does not match %r' % (i, r[:160],
                                                              m))
                break
    if b'runtime error' in s.err or b'Sanitizer' in s.err:
        why.append('sanitizer report on stderr')
    tally.report(name, not why, '; '.join(why))
    return not why


def rss_check(name, s):
    """Peak RSS: VmHWM, read once every reply has come, before EOF.
    (ru_maxrss from wait4 is no use: Linux carries the RSS of the forked
    Python over exec into it.)"""
    note('rss %s: VmHWM %s KiB (%.2f s)' % (
        name, s.hwm_kb if s.hwm_kb is not None else '?', s.secs))
    if not RSS_KB:
        return
    if s.hwm_kb is None:
        tally.report('rss-' + name, False, 'no VmHWM read from /proc')
        return
    tally.report('rss-' + name, s.hwm_kb <= RSS_KB,
                 'peak RSS %d KiB > %d KiB' % (s.hwm_kb, RSS_KB))


DUNNO = rb'action=dunno$'
PASS = PASS_REPLY
FAILR = rb'action=550 5\.7\.23 '
MARK = rb'action=DEFER_IF_PERMIT bad input$'


def main():
    srv = dnsd.Server(ZONE, '127.0.0.1', 0).start()
    base = ['Nameservers = 127.0.0.1:%d' % srv.port, 'Lookup_Time = 5',
            'DNS_Timeout_ms = 500', 'DNS_Tries = 2',
            'Receiver_Domain = receiver.test']
    confs = {}
    for name, extra in (('quiet', ['debugLevel = 0']),
                        ('debug', ['debugLevel = 4']),
                        ('mark', ['debugLevel = 0',
                                  'Error_Action = DEFER_IF_PERMIT bad input']),
                        ('long', ['debugLevel = 0', 'Explanation_URL = '
                                  '{ip:>9999}{ip:>9999}{receiver:>4560}'])):
        confs[name] = os.path.join(TMP, name + '.conf')
        with open(confs[name], 'w') as f:
            f.write('\n'.join(base + extra) + '\n')
    Q, DBG, MK, LONG = (confs[k] for k in ('quiet', 'debug', 'mark', 'long'))
    R = request

    try:
        s = Session(DBG, [R(), R(sender='u@fail.' + D)]).run()
        check('basic', s, 2, [PASS, FAILR])

        big = b'sender=' + b'a' * (1 << 20)
        s = Session(Q, [R(extra=[big]), R()], hold_for=2).run()
        check('line-1mb', s, 2, [DUNNO, PASS])
        rss_check('line-1mb', s)

        s = Session(Q, [R(extra=[b'x' * (10 << 20)]), R()], hold_for=2).run()
        check('line-10mb', s, 2, [DUNNO, PASS])
        rss_check('line-10mb', s)

        s = Session(DBG, [R(extra=[b'sender=a\0b@pass.' + D.encode()]),
                          R(extra=[b'\0']), R()]).run()
        check('nul-byte', s, 3, [DUNNO, DUNNO, PASS])

        s = Session(Q, [R(extra=[b'helo_name=\xff\xfe\xc3(\xed\xa0\x80'
                                 b'.example'])]).run()
        check('invalid-utf8', s, 1, [PASS])

        s = Session(Q, [R(extra=[b'sender=\xff\xc0\x80u@pass.' + D.encode(),
                                 b'recipient=\xe9@receiver.test'])]).run()
        check('invalid-utf8-sender', s, 1)

        body = R().replace(b'request=smtpd_access_policy\n', b'')
        s = Session(Q, [body]).run()
        check('no-request-attribute', s, 1, [PASS])

        s = Session(Q, [R()[:-1]]).run()
        check('no-blank-line-at-eof', s, 0)

        s = Session(Q, [R(), b'request=smtpd_access_policy\nsender=u@pa']).run()
        check('eof-mid-line', s, 1, [PASS])

        s = Session(Q, [R(), b'sender=' + b'a' * (1 << 20)]).run()
        check('eof-in-long-line', s, 1, [PASS])

        s = Session(Q, [R(extra=[b'sender=x@fail.' + D.encode(),
                                 b'sender=y@fail.' + D.encode(),
                                 b'sender=z@pass.' + D.encode(),
                                 b'client_address=not-an-address',
                                 b'client_address=192.0.2.1'])]).run()
        check('repeated-attributes', s, 1,
              [rb'action=prepend Received-SPF: Pass .*envelope-from='
               rb'z@pass\.abuse\.example\.org;'])

        s = Session(DBG, [R(extra=[b'no equals sign', b'=', b'=value',
                                   b'name only', b'\t=', b' = ',
                                   b'sender'])]).run()
        check('lines-without-name-or-equals', s, 1, [PASS])

        # pypolicyd-spf right-strips a line before it looks for the end
        s = Session(Q, [R(extra=[b' \t ']) + R()]).run()
        check('blank-looking-line-ends-request', s, 3, [PASS, DUNNO, PASS])

        s = Session(Q, [R(end=b'\r\n'), R(end=b'\r\n')]).run()
        check('crlf', s, 2, [PASS, PASS])

        s = Session(Q, [R(extra=[b'helo_name=a\rb\x01c\x1bd\x7fe.example',
                                 b'queue_id=Q\rID\x08'])]).run()
        check('controls-in-values', s, 1, [PASS])

        many = [b'x%d=%d' % (i, i) for i in range(10000)]
        s = Session(Q, [R(extra=many), R()]).run()
        check('attributes-10000', s, 2, [PASS, PASS])

        many = [b'sender=u%d@pass.%s' % (i, D.encode()) for i in range(10000)]
        s = Session(Q, [R(extra=many)]).run()
        check('sender-10000-times', s, 1,
              [rb'action=prepend .*envelope-from=u9999@pass'])

        # the limit is 4096 octets a line, '\n' not counted
        v = b'x' * (4096 - len(b'helo_name='))
        s = Session(MK, [R(extra=[b'helo_name=' + v]),
                         R(extra=[b'helo_name=' + v + b'y'])]).run()
        check('line-4096-kept-4097-refused', s, 2, [PASS, MARK])

        s = Session(Q, [b'\n' * 5]).run()
        check('blank-lines', s, 5, every=DUNNO)

        s = Session(Q, [R(instance='i%d' % i) for i in range(1000)]).run()
        check('pipelined-1000', s, 1000, every=PASS)

        s = Session(Q, [bytes([b]) for b in R() + R()]).run()
        check('byte-by-byte', s, 2, [PASS, PASS])

        long_local = 'l' * 4000
        s = Session(Q, [R(sender=long_local + '@fail.' + D,
                          helo='h' * 4000,
                          extra=[b'recipient=' + b'r' * 2000 + b'@' +
                                 b'd' * 2000,
                                 b'queue_id=' + b'q' * 4000,
                                 b'instance=' + b'i' * 4000])]).run()
        check('longest-values-reject', s, 1, [FAILR])

        # an {url} too long for Reason_Message's default: the parts that
        # fit, and nothing of the longer text the request before left
        s = Session(LONG, [R(sender='l' * 4000 + '@pass.' + D),
                           R(sender='u@fail.' + D)]).run()
        check('reject-text-cut-to-fit', s, 2,
              [None, FAILR + rb'Message rejected due to: SPF fail - not '
               rb'authorized\. Please see $'])

        s = Session(Q, [R(client='::ffff:192.0.2.1'),
                        R(client='192.0.2.1%eth0'),
                        R(client='x' * 4000), R(client='')]).run()
        check('odd-client-addresses', s, 4)

        s = Session(Q, [R(sender='u%d@big.%s' % (i, D),
                          instance='big%d' % i) for i in range(50)],
                    hold_for=50).run()
        check('large-dns-answers', s, 50, every=PASS)
        rss_check('large-dns-answers', s)

        chunks = []
        batch = []
        for i in range(NREQ):
            batch.append(R(instance='%x.%d' % (i, i % 7)))
            if len(batch) == 1000:
                chunks.append(b''.join(batch))
                batch = []
        if batch:
            chunks.append(b''.join(batch))
        s = Session(Q, chunks, hold_for=NREQ).run()
        check('requests-%d' % NREQ, s, NREQ, every=PASS)
        rss_check('requests-%d' % NREQ, s)
        if s.secs:
            note('%d requests in %.2f s (%.0f/s)' % (NREQ, s.secs,
                                                     NREQ / s.secs))
    finally:
        srv.stop()
    return tally.end()


if __name__ == '__main__':
    sys.exit(main())
