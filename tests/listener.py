#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""listener.py - policy clients for tests/listener.sh (and the ask of
tests/syscalls.sh), one command a run (listener.py COMMAND ARGS...: the
cmd_ functions below); commands print ok/FAIL lines.  The connection is
tests/policyclient.py's."""

import errno, os, re, signal, socket, sys, threading, time

sys.dont_write_bytecode = True     # no tests/__pycache__ (run as root)
from policyclient import Conn, report  # noqa: E402

def requests(path):
    data = open(path, 'rb').read()
    return [r + b'\n\n' for r in data.split(b'\n\n') if r.strip()]

def replies(path):
    return [r + b'\n\n' for r in open(path, 'rb').read().split(b'\n\n')[:-1]]

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

def cmd_fair(spec, m, n, secs, bound, reqfile, expfile):
    """Max_Connections = m and n clients that each send request after
    request, back to back, for secs (issue 22): every client gets its
    first reply within bound of connecting and then one at least every
    bound (a connection closed between requests to give another a turn
    is asked again on a new one, as smtpd does); none is lost or wrong.
    One still waiting at the end counts with its wait so far.  reqfile
    holds pairs, two recipients of one message: a turn must not come
    between them (a new process would answer the second as the first,
    and Postfix add a second header)."""
    m, n, secs, bound = int(m), int(n), float(secs), float(bound)
    reqs, exp = requests(reqfile), replies(expfile)
    lock, stop = threading.Lock(), threading.Event()
    res = {'wrong': [], 'err': [], 'again': 0, 'count': 0}
    first, gaps = [None] * n, [0.0] * n
    serial = [0]

    def ask(cs, q):             # as smtpd: once more on a new connection
        try:
            return cs[0].ask(q, 30)
        except (EOFError, ConnectionResetError, BrokenPipeError):
            cs[0].close()
            cs[0] = Conn(spec, 30)
            with lock:
                res['again'] += 1
            return cs[0].ask(q, 30)

    def client(i):
        t0 = last = time.time()
        cs, j = [None], 0
        try:
            cs[0] = Conn(spec, 30)
            while not stop.is_set():
                x = (i + j) % (len(reqs) // 2)
                j += 1
                with lock:
                    serial[0] += 1
                    k = serial[0]
                r = b''.join(ask(cs, re.sub(rb'instance=[^\n]*', b'instance=900.%d' % k, q))
                             for q in reqs[2 * x:2 * x + 2])
                now = time.time()
                with lock:
                    res['count'] += 1
                    if r != b''.join(exp[2 * x:2 * x + 2]):
                        res['wrong'].append('client %d: %s' % (i, short(r)))
                if first[i] is None:
                    first[i] = now - t0
                gaps[i], last = max(gaps[i], now - last), now
        except Exception as e:
            if not stop.is_set():
                with lock:
                    res['err'].append('client %d: %r' % (i, e))
        if cs[0]:
            cs[0].close()
        gaps[i] = max(gaps[i], time.time() - last)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in ts:
        t.start()
    time.sleep(secs)
    stop.set()
    waited = time.time() - t0
    for t in ts:
        t.join(40)
    firsts = [waited if f is None else f for f in first]
    print('# fair%d-%d: %d messages (2 requests each) in %.0f s, %d asked again on a new '
          'connection; first reply after %s s; longest wait between replies %s s'
          % (m, n, res['count'], waited, res['again'], ' '.join('%.1f' % f for f in firsts),
             ' '.join('%.1f' % g for g in gaps)), flush=True)
    report('fair%d-%d-right' % (m, n), not res['wrong'] and not res['err'],
           '%d wrong, %d clients failed; first: %s'
           % (len(res['wrong']), len(res['err']), (res['wrong'] + res['err'] + [''])[0]))
    late = [i for i, f in enumerate(firsts) if f > bound]
    report('fair%d-%d-first-reply' % (m, n), not late,
           'clients %r had no reply within %g s of connecting (%s s)'
           % (late, bound, ' '.join('%.1f' % firsts[i] for i in late)))
    late = [i for i, g in enumerate(gaps) if g > bound]
    report('fair%d-%d-no-starving' % (m, n), not late,
           'clients %r waited more than %g s for a reply (%s s)'
           % (late, bound, ' '.join('%.1f' % gaps[i] for i in late)))

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

def cmd_term(spec, pid, errfile, reqfile, expfile, slowfile, stallfile, grace):
    """SIGTERM (issue 24: a container engine kills after 10 s, and smtpd
    keeps its connection open between requests): no new connections; an
    idle connection and a partial request are closed at once; a request
    being evaluated is answered, then its connection closed; one whose
    evaluation outlasts the grace is killed then; the server exits."""
    pid, grace = int(pid), float(grace)
    reqs, exp = requests(reqfile), replies(expfile)
    idle = Conn(spec)
    idle.ask(reqs[0])
    partial = Conn(spec)
    partial.send(reqs[1][:len(reqs[1]) // 2])
    slow = Conn(spec)           # its DNS answer comes 400 ms late
    slow.send(requests(slowfile)[0])
    stall = Conn(spec)          # its DNS answers never come
    stall.send(requests(stallfile)[0])
    time.sleep(0.15)            # both being evaluated
    off = os.path.getsize(errfile)
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.2)             # no probe taken as the signal comes: the counts are exact
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
    for name, c in (('idle', idle), ('partial-request', partial)):
        e = c.eof(3)
        report('term-%s-closed-at-once' % name, e is not None and time.time() - t0 < 1,
               'closed %s s after SIGTERM' % (e and '%.2f' % (time.time() - t0)))
    try:
        r = slow.reply(3)
    except Exception as e:
        r = repr(e).encode()
    report('term-in-flight-answered', r.startswith(b'action=prepend Received-SPF: Pass'), short(r))
    e = slow.eof(2)
    report('term-in-flight-then-closed', e is not None, 'still open 2 s after its reply')
    e = stall.eof(grace + 5)
    if e is not None:
        e = time.time() - t0
    report('term-stalled-killed-after-grace', e is not None and grace - 0.5 <= e <= grace + 1.5,
           'closed %s s after SIGTERM (grace %g s)' % (e and '%.2f' % e, grace))
    ok = gone(pid, grace + 3)
    took = time.time() - t0
    report('term-exit-within-grace', ok and took <= grace + 1.5,
           'still running %.1f s after SIGTERM' % took if not ok else 'exited after %.1f s' % took)
    print('# term: connections refused %.2f s after SIGTERM, exit after %.1f s' % (refused or -1, took))
    log = wait_log(errfile, off, r'stopping: 4 connections open: 2 closed at once '
                   r'\(between requests\), 2 requests being answered$', 1)
    tail = open(errfile, 'rb').read()[off:].decode('utf-8', 'replace')[-600:]
    report('term-logged', log is not None,
           'no "stopping: 4 connections open: 2 closed at once" line: %r' % tail)
    log = wait_log(errfile, off, r'stopped in [0-9.]+ s: 1 request answered, 1 connection '
                   r'killed after 10 s$', 1)
    report('term-logged-end', log is not None,
           'no "stopped ...: 1 request answered, 1 killed" line: %r' % tail)

def cmd_term_idle(spec, pid, reqfile):
    """SIGTERM with only an idle connection open (smtpd between
    requests): gone in well under a second, not after the grace."""
    pid = int(pid)
    c = Conn(spec)
    c.ask(requests(reqfile)[0])
    t0 = time.time()
    os.kill(pid, signal.SIGTERM)
    e = c.eof(3)
    ok = gone(pid, 3)
    took = time.time() - t0
    report('term-idle-exit-at-once', e is not None and ok and took < 1,
           'connection closed: %s, exited: %s, after %.2f s' % (e is not None, ok, took))
    print('# term-idle: exit %.3f s after SIGTERM' % took)

def cmd_term_quick(spec, pid, slowfile):
    """SIGTERM with a request being evaluated: it is answered, and the
    server exits as soon as that connection is closed, without waiting
    out the grace."""
    pid = int(pid)
    c = Conn(spec)
    c.send(requests(slowfile)[0])
    time.sleep(0.1)
    os.kill(pid, signal.SIGTERM)
    try:
        r = c.reply(3)
    except Exception as e:
        r = repr(e).encode()
    report('term-last-request', r.startswith(b'action=prepend Received-SPF: Pass'), short(r))
    t0 = time.time()
    ok = gone(pid, 5)
    took = time.time() - t0
    report('term-exit-when-done', ok and took < 1.5, 'exited %.1f s after the reply' % took)
    print('# term-quick: exit %.3f s after the reply' % took)

def cmd_hold(spec, reqfile, secs, readyfile):
    """A Postfix-like client (tests/container.sh): one request answered,
    then the connection kept open, idle, until the server closes it;
    prints the reply's first line, then "closed after S s" or "open"."""
    c = Conn(spec)
    r = c.ask(requests(reqfile)[0])
    print(r.split(b'\n', 1)[0].decode('utf-8', 'replace'), flush=True)
    open(readyfile, 'w').write('ready\n')
    e = c.eof(float(secs))
    print('open' if e is None else 'closed after %.2f s' % e, flush=True)

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
    log = wait_log(errfile, off, r'stopping: ', 1) or ''
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

def cmd_spawn_check(wantfile, gotfile):
    """Spawn mode's replies (gotfile) against wantfile's "NAME<TAB>REGEX"
    lines, one a request: they must be right before they are the
    yardstick of the listener's."""
    want = [l.rstrip('\n').split('\t', 1) for l in open(wantfile)]
    got = open(gotfile, 'rb').read().decode().split('\n\n')[:-1]
    if len(got) != len(want):
        report('spawn-replies', False,
               '%d replies for %d requests' % (len(got), len(want)))
    for (name, rx), r in zip(want, got):
        report('spawn-' + name, re.search(rx, r),
               '%r does not match %s' % (r, rx))

def cmd_refused(spec):
    try:
        Conn(spec, 2).close()
        return 1
    except OSError:
        return 0

if __name__ == '__main__':
    cmd = globals()['cmd_' + sys.argv[1].replace('-', '_')]
    sys.exit(cmd(*sys.argv[2:]) or 0)
