#!/usr/bin/python3
"""sidebyside.py - compare spfpolicy with pypolicyd-spf reply by reply.

Run through run.sh, which provides the private network/mount/UTS namespace
(resolver 127.0.0.1, tests/dnsd.py serving zone.yml on port 53, a private
/dev/log) and sets SIDEBYSIDE_NS=1.  Started from the repository root.

Without root, run.sh starts tests/dnsd.py on a port of its own and gives
it with --nameservers: the rootless mode.  Only the candidate runs (the
reference is expected-VERSION/: pypolicyd-spf cannot be pointed at a port, and
would ask the real DNS), through a copy of each config that names that
server and puts in the host name of the namespace (overlay()); with no
/dev/log of its own there is no log comparison.

For every (config, request file) pair of matrix.txt the request stream is
fed, one request at a time, to the reference (live pypolicyd-spf, or the
golden files in expected-VERSION/) and to the candidate (./spfpolicy), the replies
are compared, and for the configs named on `logs` lines of matrix.txt the
syslog lines each request produced are compared too.  Expected differences
are listed in deviations.txt.  Replies are recorded for each pypolicyd-spf
version of VERSIONS (Debian 12's 3.0.4, Debian 13's 3.1.0): a live run
compares with the installed one (PYPOLICYD, PYPOLICYD_PATH) and checks
its recording; the golden files are the installed version's, else --ref's,
else the last.  Output, one line per reply / log line:

    ok sidebyside/CONFIG/REQFILE#N [# deviation: reason]
    FAIL sidebyside/CONFIG/REQFILE#N: pypolicyd=<...> spfpolicy=<...> (@label)
    ok sidebylog/CONFIG/REQFILE#N.K
    FAIL sidebylog/CONFIG/REQFILE#N.K: pypolicyd=<...> spfpolicy=<...> (@label)

then "# summary ..." lines.  Exit status 0 when nothing FAILed.
"""

import argparse
import concurrent.futures
import difflib
import fnmatch
import os
import re
import selectors
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REL = os.path.relpath(HERE)                 # tests/sidebyside from the root
PYPOLICYD = shlex.split(os.environ.get('PYPOLICYD',
                                       '/usr/bin/python3 /usr/bin/policyd-spf'))
# where its spf_engine is, when not the system's (another version
# unpacked beside it: PYPOLICYD_PATH=DIR/usr/lib/python3/dist-packages)
PYPOLICYD_PATH = os.environ.get('PYPOLICYD_PATH', '')
# the pypolicyd-spf versions with recorded replies (expected-VERSION/):
# Debian 12's, and Debian 13's; spfpolicy follows the last (DEVIATIONS)
VERSIONS = ('3.0.4', '3.1.0')
REFVERSION = VERSIONS[-1]   # the one compared with (main())
REQUEST_TIMEOUT = 10.0      # s without a complete reply -> give up
EXIT_TIMEOUT = 5.0          # s to exit after stdin is closed
MARK = b'\0sidebyside-mark '
HOSTNAME = 'mx.sidebyside.test'     # the namespace's (run.sh)

# syscalls a process sits in while it waits for the next request
IDLE_SYSCALLS = {
    'x86_64': {0, 7, 17, 19, 23, 232, 270, 271, 281, 441},
    'aarch64': {63, 65, 67, 72, 73, 22, 441},
}.get(os.uname().machine)


# ---------------------------------------------------------------- input files

class Request(object):
    def __init__(self, num, label, data):
        self.num = num          # 1-based position in the file
        self.label = label      # from a "#@ label" line, or ''
        self.data = data        # bytes, including the terminating blank line


def read_requests(path):
    """Request file -> list of Request.  Lines starting with '#' are
    harness comments and are not sent; "#@ name" names the next request."""
    reqs = []
    cur = []
    label = ''
    with open(path, 'rb') as f:
        for line in f:
            if line.startswith(b'#'):
                if line.startswith(b'#@'):
                    label = line[2:].strip().decode()
                continue
            cur.append(line)
            if not line.rstrip():           # blank line ends a request
                reqs.append(Request(len(reqs) + 1, label, b''.join(cur)))
                cur = []
                label = ''
    if cur:
        reqs.append(Request(len(reqs) + 1, label, b''.join(cur)))
    return reqs


def read_matrix(path):
    """matrix.txt -> ([(config, [reqfile, ...]), ...], set of log configs)."""
    pairs = []
    logs = set()
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].split()
            if not line:
                continue
            if line[0] == 'logs':
                logs.update(line[1:])
                continue
            pairs.append((line[0], line[1:]))
    return pairs, logs


class Deviation(object):
    """kind@VERSION: for that pypolicyd-spf version only."""
    def __init__(self, kind, args, reason, lineno):
        self.kind = kind
        self.args = args
        self.reason = reason
        self.lineno = lineno
        self.used = 0
        if kind == 'norm':
            self.rx = re.compile(args[0])
            self.repl = '' if args[1] in ('""', "''") else args[1]
        elif kind == 'pair':
            self.rx = (re.compile(args[0]), re.compile(args[1]))
        elif kind == 'case':
            # case GLOB... [spf=REGEX]: the candidate's text must match
            self.globs = [a for a in args if not a.startswith('spf=')]
            spf = [a[4:] for a in args if a.startswith('spf=')]
            self.rx = re.compile(spf[0]) if spf else None


def read_deviations(path):
    """deviations.txt -> list of Deviation.  Fields are separated by
    white space; a field starting with '#' starts the reason comment."""
    devs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].startswith('#'):
                continue
            words = []
            reason = ''
            for i, w in enumerate(fields):
                if w.startswith('#'):
                    reason = ' '.join(fields[i:]).lstrip('#').strip()
                    break
                words.append(w)
            kind, args = words[0], words[1:]
            kind, _, ver = kind.partition('@')
            if ver and ver not in VERSIONS:
                raise SystemExit('%s:%d: no recorded pypolicyd-spf %s'
                                 % (path, n, ver))
            if ver and ver != REFVERSION:
                continue
            want = {'norm': 2, 'pair': 2}.get(kind)
            if kind not in ('norm', 'pair', 'case') or \
                    (want and len(args) != want) or not args:
                raise SystemExit('%s:%d: bad deviation line' % (path, n))
            if not reason:
                raise SystemExit('%s:%d: deviation without a reason' % (path, n))
            devs.append(Deviation(kind, args, reason, n))
    return devs


def conf_keys(path):
    """A config file's keys -> values (the last wins, as in spfpolicy)."""
    keys = {}
    with open(path, 'rb') as f:
        for line in f:
            line = decode(line).split('#', 1)[0]
            if '=' in line:
                name, value = line.split('=', 1)
                keys[name.strip()] = value.strip()
    return keys


def overlay(conf, ns, dirpath):
    """The rootless mode's copy of configs/CONF.conf in dirpath, its path:
    the config with Nameservers = NS and, where it falls back on the host
    name, the namespace's (HOSTNAME) given: Authserv_Id = HOSTNAME, or
    an AR header without Authserv_Id; %{r} without Receiver_Domain.  The
    keys come last: the last of a key wins."""
    src = os.path.join(REL, 'configs', conf + '.conf')
    keys = conf_keys(src)
    add = ['Nameservers = ' + ns]
    aid = keys.get('Authserv_Id', '')
    if aid == 'HOSTNAME' or (not aid and 'AR' in keys.get('Header_Type', '')):
        add.append('Authserv_Id = ' + HOSTNAME)
    if not keys.get('Receiver_Domain'):
        add.append('Receiver_Domain = ' + HOSTNAME)
    with open(src, 'rb') as f:
        data = f.read()
    if data and not data.endswith(b'\n'):
        data += b'\n'
    path = os.path.join(dirpath, conf + '.conf')
    with open(path, 'wb') as f:
        f.write(data + ''.join(a + '\n' for a in add).encode())
    return path


# ---------------------------------------------------------------- text helpers

def show(text):
    """Reply/log text -> one printable line (control characters escaped)."""
    if text is None:
        return '<none>'
    out = []
    for ch in text:
        o = ord(ch)
        if ch == '\n':
            out.append('\\n')
        elif ch == '\r':
            out.append('\\r')
        elif ch == '\t':
            out.append('\\t')
        elif o < 0x20 or o == 0x7f or 0xdc80 <= o <= 0xdcff:
            out.append('\\x%02x' % (o & 0xff))
        else:
            out.append(ch)
    return ''.join(out)


def decode(b):
    return b.decode('utf-8', 'surrogateescape')


def take_reply(buf, start):
    """Next complete reply in buf from start -> (text, end) or (None, start).
    A reply is every line up to the next empty line."""
    pos = start
    while True:
        j = buf.find(b'\n', pos)
        if j < 0:
            return None, start
        if j == pos:                        # the empty line
            return decode(buf[start:max(start, pos - 1)]), j + 1
        pos = j + 1


def split_replies(out):
    """stdout bytes -> list of replies; a trailing incomplete reply is
    returned with an '<incomplete>' marker."""
    replies = []
    pos = 0
    while True:
        reply, pos2 = take_reply(out, pos)
        if reply is None:
            break
        replies.append(reply)
        pos = pos2
    if out[pos:]:
        replies.append('<incomplete> ' + decode(out[pos:]))
    return replies


def normalise(text, devs):
    if text is None:
        return None
    for d in devs:
        if d.kind == 'norm':
            text = d.rx.sub(d.repl, text)
    return text


LOGRX = re.compile(r'^<(\d+)>(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )?'
                   r'([^\s\[\]:]+)\[(\d+)\]: ?(.*)$', re.S)


def log_line(data):
    """Syslog datagram -> (pid or None, normalised line)."""
    text = decode(data).rstrip('\n')
    m = LOGRX.match(text)
    if not m:
        return None, show(text)
    pri, ident, pid, msg = m.groups()
    return int(pid), '<%s>%s[PID]: %s' % (pri, ident, show(msg))


# ---------------------------------------------------------------- syslog

class SyslogListener(object):
    """Collects datagrams sent to a unix socket (the namespace's /dev/log),
    grouped by the PID in the message."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.lock = threading.Lock()
        self.bypid = {}
        self.unattributed = []
        self.marks = {}
        self.seq = 0
        self.out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        t = threading.Thread(target=self.loop, daemon=True)
        t.start()

    def loop(self):
        while True:
            data = self.sock.recv(1 << 20)
            if data.startswith(MARK):
                with self.lock:
                    ev = self.marks.pop(data[len(MARK):], None)
                if ev:
                    ev.set()
                continue
            pid, line = log_line(data)
            with self.lock:
                if pid is None:
                    self.unattributed.append(line)
                else:
                    self.bypid.setdefault(pid, []).append(line)

    def sync(self):
        """Wait until every datagram sent before this call was read."""
        ev = threading.Event()
        with self.lock:
            self.seq += 1
            token = str(self.seq).encode()
            self.marks[token] = ev
        self.out.sendto(MARK + token, self.path)
        if not ev.wait(10):
            raise RuntimeError('syslog listener does not answer')

    def take(self, pid):
        self.sync()
        with self.lock:
            return self.bypid.pop(pid, [])


# ---------------------------------------------------------------- processes

def wait_idle(pid, limit=2.0):
    """Wait until the process blocks waiting for input (so that whatever
    it logs after writing a reply has been sent).  Linux only; elsewhere a
    short sleep."""
    deadline = time.time() + limit
    if IDLE_SYSCALLS is None:
        time.sleep(0.05)
        return
    while time.time() < deadline:
        try:
            with open('/proc/%d/syscall' % pid) as f:
                s = f.read().split()
        except OSError:
            return              # gone
        if s and s[0] not in ('running', '-1'):
            try:
                if int(s[0]) in IDLE_SYSCALLS:
                    return
            except ValueError:
                pass
        time.sleep(0.001)


class Run(object):
    """Result of feeding one request stream to one program."""

    def __init__(self):
        self.replies = []       # per request: text or None (no reply)
        self.logs = []          # per request: list of log lines
        self.endlogs = []       # logged after the last reply
        self.raw = b''          # complete stdout
        self.leftover = None    # output after the reply to the last request
        self.notes = []
        self.error = None       # could not run at all


def ref_env():
    """The environment of both programs: the caller's, but PYTHONPATH is
    ours, and Python's stdout unbuffered (its Mock branch never flushes: without
    this it answers only where the caller happened to set it)."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    if PYPOLICYD_PATH:
        env['PYTHONPATH'] = PYPOLICYD_PATH
    env['PYTHONUNBUFFERED'] = '1'
    return env


def run_program(cmd, conf, reqs, listener):
    """Feed reqs one by one to `cmd conf`; collect replies and log lines."""
    run = Run()
    env = ref_env()
    try:
        p = subprocess.Popen(cmd + [conf], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env)
    except OSError as e:
        run.error = '%s: %s' % (cmd[0], e.strerror)
        return run
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, 'out')
    sel.register(p.stderr, selectors.EVENT_READ, 'err')
    outbuf = b''
    errbuf = b''
    eof = False

    def pump(timeout):
        nonlocal outbuf, errbuf, eof
        for key, _ in sel.select(timeout):
            data = os.read(key.fileobj.fileno(), 65536)
            if key.data == 'err':
                if not data:
                    sel.unregister(key.fileobj)
                errbuf += data
                continue
            if not data:
                eof = True
                sel.unregister(key.fileobj)
            outbuf += data

    consumed = 0
    for r in reqs:
        if eof or p.poll() is not None:
            run.replies.append(None)
            run.logs.append([])
            continue
        try:
            p.stdin.write(r.data)
            p.stdin.flush()
        except OSError:
            pass
        deadline = time.time() + REQUEST_TIMEOUT
        reply = None
        while True:
            reply, consumed = take_reply(outbuf, consumed)
            if reply is not None:
                break
            if eof or time.time() > deadline:
                break
            pump(0.2)
        if reply is None and not eof:
            run.notes.append('no reply to request #%d within %gs: killed'
                             % (r.num, REQUEST_TIMEOUT))
            p.kill()
        elif reply is None:
            try:                # died: let it finish logging
                p.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        else:
            wait_idle(p.pid)
        run.replies.append(reply)
        run.logs.append(listener.take(p.pid) if listener else [])
    try:
        p.stdin.close()
    except OSError:
        pass
    deadline = time.time() + EXIT_TIMEOUT
    while p.poll() is None and time.time() < deadline:
        pump(0.1)
    if p.poll() is None:
        run.notes.append('did not exit within %gs of EOF on stdin: killed'
                         % EXIT_TIMEOUT)
        p.kill()
    p.wait()
    while sel.get_map():
        pump(0.1)
        if p.poll() is not None and not sel.select(0):
            break
    sel.close()
    p.stdout.close()
    p.stderr.close()
    if outbuf[consumed:]:
        run.leftover = decode(outbuf[consumed:])
    if p.returncode != 0:
        run.notes.append('exit status %d' % p.returncode
                         if p.returncode > 0 else
                         'killed by signal %d' % -p.returncode)
    if errbuf:
        run.notes.append('stderr: %s' % show(decode(errbuf)[:300]))
    run.raw = outbuf
    if listener:
        run.endlogs = listener.take(p.pid)
    return run


# ---------------------------------------------------------------- golden files

def pyversion():
    """The version of the pypolicyd-spf that PYPOLICYD runs; None when it
    cannot run (not installed, or spf, authres missing)."""
    if not os.path.exists(PYPOLICYD[-1]):
        return None
    try:
        out = subprocess.run(
            [PYPOLICYD[0], '-c', 'import spf_engine, spf, authres; '
             'print(spf_engine.__version__)'], env=ref_env(),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    v = out.stdout.decode('ascii', 'replace').strip()
    return v if out.returncode == 0 and v else None


def golden_paths(config, reqfile):
    base = os.path.join(HERE, 'expected-' + REFVERSION,
                        '%s__%s' % (config, reqfile))
    return base + '.out', base + '.log'


def unpacked(line):
    """A log line of PYPOLICYD_PATH's spf_engine as an installed one's."""
    if PYPOLICYD_PATH:
        line = line.replace(PYPOLICYD_PATH.rstrip('/') + '/',
                            '/usr/lib/python3/dist-packages/')
    return line


def write_golden(config, reqfile, reqs, run, withlog):
    out, log = golden_paths(config, reqfile)
    with open(out, 'wb') as f:
        f.write(run.raw)
    if withlog:
        with open(log, 'w') as f:
            for r, lines in zip(reqs, run.logs):
                if lines:
                    f.write('== #%d %s\n' % (r.num, r.label))
                    for l in lines:
                        f.write(unpacked(l) + '\n')
            if run.endlogs:
                f.write('== end\n')
                for l in run.endlogs:
                    f.write(unpacked(l) + '\n')


def read_golden(config, reqfile, reqs, withlog):
    out, log = golden_paths(config, reqfile)
    run = Run()
    try:
        with open(out, 'rb') as f:
            run.raw = f.read()
    except OSError as e:
        run.error = 'golden file %s: %s' % (os.path.relpath(out), e.strerror)
        return run
    replies = split_replies(run.raw)
    run.replies = (replies + [None] * len(reqs))[:len(reqs)]
    if len(replies) > len(reqs):
        run.leftover = '\n\n'.join(replies[len(reqs):]) + '\n\n'
    run.logs = [[] for _ in reqs]
    if withlog:
        try:
            with open(log) as f:
                cur = None
                for line in f:
                    line = line.rstrip('\n')
                    if line.startswith('== #'):
                        n = int(line[4:].split()[0])
                        cur = run.logs[n - 1]
                    elif line == '== end':
                        cur = run.endlogs
                    elif cur is not None:
                        cur.append(line)
        except OSError as e:
            run.notes.append('golden log %s: %s'
                             % (os.path.relpath(log), e.strerror))
            run.logs = None
    return run


# ---------------------------------------------------------------- comparison

class Report(object):
    def __init__(self, devs):
        self.devs = devs
        self.lines = []
        self.count = {}         # group -> [ok, normalised, deviation, fail]

    def tally(self, group, i):
        self.count.setdefault(group, [0, 0, 0, 0])[i] += 1

    def case_dev(self, ids, cand):
        for d in self.devs:
            if d.kind != 'case':
                continue
            if d.rx is not None and (cand is None or not d.rx.search(cand)):
                continue
            for pat in d.globs:
                if any(fnmatch.fnmatchcase(i, pat) for i in ids):
                    return d
        return None

    def pair_dev(self, ref, cand):
        if ref is None or cand is None:
            return None
        for d in self.devs:
            if d.kind == 'pair' and d.rx[0].search(ref) and \
                    d.rx[1].search(cand):
                return d
        return None

    def compare(self, group, ids, label, ref, cand, cand_missing=None):
        """One comparison.  ids[0] is printed; all ids (with @label
        forms) are tried against `case` deviations."""
        ident = ids[0]
        suffix = ' (@%s)' % label if label else ''
        if cand_missing is not None:
            self.tally(group, 3)
            self.lines.append('FAIL %s: pypolicyd=<%s> spfpolicy=<%s>%s'
                              % (ident, show(ref), cand_missing, suffix))
            return
        if ref == cand:
            self.tally(group, 0)
            self.lines.append('ok %s' % ident)
            return
        nref, ncand = normalise(ref, self.devs), normalise(cand, self.devs)
        if nref == ncand and ref is not None and cand is not None:
            self.tally(group, 1)
            self.lines.append('ok %s' % ident)
            return
        d = self.case_dev(ids, ncand) or self.pair_dev(nref, ncand)
        if d and (cand is not None or group == 'sidebylog'):
            d.used += 1
            self.tally(group, 2)
            self.lines.append('ok %s # deviation: %s' % (ident, d.reason))
            return
        self.tally(group, 3)
        self.lines.append('FAIL %s: pypolicyd=<%s> spfpolicy=<%s>%s'
                          % (ident, show(ref), show(cand), suffix))


def compare_logs(rep, base, reqs, ref, cand, cand_missing):
    groups = [(r.num, r.label, a, b) for r, a, b in
              zip(reqs, ref.logs, cand.logs or [[]] * len(reqs))]
    groups.append(('end', '', ref.endlogs, cand.endlogs))
    for num, label, a, b in groups:
        if cand_missing:
            for k, line in enumerate(a, 1):
                rep.compare('sidebylog', ['%s#%s.%d' % (base, num, k)], label,
                            line, None, cand_missing)
            continue
        na = [normalise(x, rep.devs) for x in a]
        nb = [normalise(x, rep.devs) for x in b]
        sm = difflib.SequenceMatcher(None, na, nb, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == 'equal':
                for k in range(i1, i2):
                    rep.compare('sidebylog', ['%s#%s.%d' % (base, num, k + 1)],
                                label, a[k], a[k])
                continue
            n = max(i2 - i1, j2 - j1)
            for k in range(n):
                x = a[i1 + k] if i1 + k < i2 else None
                y = b[j1 + k] if j1 + k < j2 else None
                if x is not None:
                    cid = '%s#%s.%d' % (base, num, i1 + k + 1)
                else:
                    cid = '%s#%s.+%d' % (base, num, j1 + k + 1)
                ids = [cid, '%s@%s' % (base, label) if label else cid]
                rep.compare('sidebylog', ids, label, x, y)


# ---------------------------------------------------------------- main

def main():
    global REQUEST_TIMEOUT
    ap = argparse.ArgumentParser()
    ap.add_argument('--record', action='store_true',
                    help='run pypolicyd-spf only and rewrite expected-VERSION/')
    ap.add_argument('--golden', action='store_true',
                    help='use expected-VERSION/ even if pypolicyd-spf is installed')
    ap.add_argument('--spfpolicy', default=os.environ.get('SPFPOLICY',
                                                          './spfpolicy'),
                    help='candidate command (default ./spfpolicy, or $SPFPOLICY)')
    ap.add_argument('--ref', choices=VERSIONS,
                    help='the pypolicyd-spf version of the golden files '
                    '(default: the installed one, else %s)' % VERSIONS[-1])
    ap.add_argument('-j', '--jobs', type=int, default=8)
    ap.add_argument('--timeout', type=float, default=REQUEST_TIMEOUT,
                    help='seconds to wait for one reply')
    ap.add_argument('--nameservers', metavar='ADDR:PORT',
                    help='rootless mode (run.sh without root): the '
                    'candidate asks the DNS server at ADDR:PORT, against '
                    'expected-VERSION/ (see overlay())')
    ap.add_argument('only', nargs='*',
                    help='CONFIG or CONFIG/REQFILE globs to run')
    args = ap.parse_args()
    REQUEST_TIMEOUT = args.timeout

    pairs, logconfs = read_matrix(os.path.join(HERE, 'matrix.txt'))
    work = []
    for conf, files in pairs:
        for rf in files:
            name = '%s/%s' % (conf, rf)
            if args.only and not any(fnmatch.fnmatchcase(name, o) or
                                     fnmatch.fnmatchcase(conf, o)
                                     for o in args.only):
                continue
            work.append((conf, rf))
    if not work:
        raise SystemExit('nothing to run')

    global REFVERSION
    have_py = pyversion()
    REFVERSION = have_py if (have_py in VERSIONS and not args.ref) or \
        args.record else args.ref or VERSIONS[-1]
    devs = read_deviations(os.path.join(HERE, 'deviations.txt'))
    if args.record and not have_py:
        raise SystemExit('--record needs pypolicyd-spf (%s)' % PYPOLICYD[-1])
    if args.record and args.nameservers:
        raise SystemExit('--record needs root (pypolicyd-spf asks the '
                         'resolver of resolv.conf)')
    live = have_py and not args.golden and not args.nameservers
    if live and have_py != REFVERSION:
        print('# note: pypolicyd-spf %s has no recorded replies: against '
              'the deviations of %s' % (have_py, REFVERSION))
    listener = None
    if args.nameservers:
        print('# note: rootless mode: spfpolicy only, against %s/expected; '
              'no private /dev/log: the syslog comparison (sidebylog) is '
              'skipped' % REL)
    elif os.environ.get('SIDEBYSIDE_NS') == '1':
        try:
            listener = SyslogListener('/dev/log')
        except OSError as e:
            print('# note: cannot listen on /dev/log (%s): no log comparison'
                  % e.strerror)
    else:
        print('# note: not inside run.sh\'s namespace: no log comparison')

    cand = shlex.split(args.spfpolicy)
    cand_missing = None
    exe = shutil.which(cand[0]) if '/' not in cand[0] else \
        (cand[0] if os.access(cand[0], os.X_OK) else None)
    if not exe:
        cand_missing = 'not run: %s not found or not executable' % cand[0]
    # the candidate runs under the name policyd-spf (as an admin replacing
    # /usr/bin/policyd-spf would install it), so that a syslog ident
    # taken from argv[0] can be compared
    tmpdir = tempfile.mkdtemp(prefix='sidebyside.')
    cconf = {}                  # config -> the candidate's (an overlay)
    for conf, _ in work:
        if conf not in cconf:
            cconf[conf] = overlay(conf, args.nameservers, tmpdir) \
                if args.nameservers else \
                os.path.join(REL, 'configs', conf + '.conf')
    if exe:
        link = os.path.join(tmpdir, 'policyd-spf')
        os.symlink(os.path.abspath(exe), link)
        cand = [link] + cand[1:]

    print('# sidebyside: reference = %s' % (
        'live pypolicyd-spf %s (%s)' % (have_py, ' '.join(PYPOLICYD)) if live
        else 'golden files of pypolicyd-spf %s (%s/expected-%s)'
        % (REFVERSION, REL, REFVERSION)))
    if not args.record:
        print('# sidebyside: candidate = %s%s' % (
            args.spfpolicy, ' (MISSING)' if cand_missing else ''))
    sys.stdout.flush()

    reqcache = {}

    def requests_of(rf):
        if rf not in reqcache:
            reqcache[rf] = read_requests(os.path.join(HERE, 'requests',
                                                      rf + '.txt'))
        return reqcache[rf]

    def job(conf, rf):
        reqs = requests_of(rf)
        cpath = os.path.join(REL, 'configs', conf + '.conf')
        withlog = conf in logconfs
        lis = listener          # also for runs whose logs are not compared
        box = {}
        t = None
        if not cand_missing and not args.record:
            # the candidate runs at the same time as the reference
            def cand_run():
                try:
                    box['c'] = run_program(cand, cconf[conf], reqs, lis)
                except Exception as e:
                    box['c'] = Run()
                    box['c'].error = 'harness error: %r' % (e,)
            t = threading.Thread(target=cand_run)
            t.start()
        if live:
            ref = run_program(PYPOLICYD, cpath, reqs, lis)
        else:
            ref = read_golden(conf, rf, reqs, withlog)
        if t:
            t.join()
        if args.record:
            return reqs, ref, None, None
        c = box.get('c')
        golden = read_golden(conf, rf, reqs, withlog) \
            if live and have_py == REFVERSION else None
        return reqs, ref, c, golden

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        futs = [ex.submit(job, conf, rf) for conf, rf in work]
        results = [f.result() for f in futs]

    if args.record:
        exp = os.path.join(HERE, 'expected-' + have_py)
        os.makedirs(exp, exist_ok=True)
        keep = set()
        n = 0
        for (conf, rf), (reqs, ref, _, _) in zip(work, results):
            write_golden(conf, rf, reqs, ref, conf in logconfs)
            keep.update(os.path.basename(p) for p in golden_paths(conf, rf))
            n += len(reqs)
            for note in ref.notes:
                print('# note: pypolicyd-spf %s/%s: %s' % (conf, rf, note))
        if not args.only:           # a full run: drop files of old pairs
            for name in os.listdir(exp):
                if name not in keep and name.endswith(('.out', '.log')):
                    os.unlink(os.path.join(exp, name))
                    print('# removed %s/%s' % (REL, name))
        print('# recorded %d request files (%d requests) of pypolicyd-spf %s '
              'in %s in %.1fs' % (len(work), n, have_py, os.path.relpath(exp),
                                  time.time() - t0))
        shutil.rmtree(tmpdir, ignore_errors=True)
        return 0

    rep = Report(devs)
    notes = []
    for (conf, rf), (reqs, ref, c, golden) in zip(work, results):
        base = '%s/%s' % (conf, rf)
        if ref.error:
            notes.append('%s: reference: %s' % (base, ref.error))
        for note in ref.notes:
            notes.append('%s: pypolicyd-spf: %s' % (base, note))
        missing = cand_missing
        if c is not None:
            if c.error:
                missing = 'not run: ' + c.error
            for note in c.notes:
                notes.append('%s: spfpolicy: %s' % (base, note))
        if golden is not None and not golden.error:
            a = [normalise(x, devs) for x in ref.replies]
            b = [normalise(x, devs) for x in golden.replies]
            if a != b:
                k = next(i for i in range(len(a)) if a[i] != b[i]) + 1
                notes.append('%s: golden file differs from live pypolicyd-spf '
                             'at #%d (run.sh --record?)' % (base, k))
        elif golden is not None:
            notes.append('%s: %s' % (base, golden.error))
        refreplies = ref.replies if not ref.error else [None] * len(reqs)
        for r, a in zip(reqs, refreplies):
            ids = ['sidebyside/%s#%d' % (base, r.num)]
            if r.label:
                ids.append('sidebyside/%s@%s' % (base, r.label))
            b = None if missing else c.replies[r.num - 1]
            if not missing and a is not None and b is None:
                rep.compare('sidebyside', ids, r.label, a, None,
                            'no reply')
                continue
            rep.compare('sidebyside', ids, r.label, a, b, missing)
        if not missing and (ref.leftover or c.leftover):
            rep.compare('sidebyside', ['sidebyside/%s#after-last' % base], '',
                        ref.leftover, c.leftover)
        if conf in logconfs and not ref.error and ref.logs is not None:
            if listener is None:
                if not args.nameservers:    # that one said it once
                    notes.append('%s: log comparison skipped (no /dev/log)'
                                 % base)
                continue
            compare_logs(rep, 'sidebylog/' + base, reqs, ref,
                         c if c else Run(), missing)
    if listener is not None:
        listener.sync()
        with listener.lock:
            stray = sorted(listener.bypid.items())
            if stray:
                notes.append('%d log line(s) from %d PID(s) the harness did not '
                             'start (child processes?), first: %s'
                             % (sum(len(l) for _, l in stray), len(stray),
                                stray[0][1][0][:200]))
            for line in listener.unattributed:
                rep.tally('sidebylog', 3)
                rep.lines.append('FAIL sidebylog/unattributed: pypolicyd=<none> '
                                 'spfpolicy=<%s>' % line)
    for line in rep.lines:
        print(line)
    for n in notes:
        print('# note: %s' % n)
    for d in devs:
        if listener is None and d.kind == 'case' and \
                all(g.startswith('sidebylog/') for g in d.globs):
            continue                # for the log lines, not compared here
        if d.kind in ('case', 'pair') and not d.used and cand_missing is None \
                and not args.only:
            print('# note: deviation on deviations.txt line %d never seen: %s'
                  % (d.lineno, d.reason))
    fails = 0
    for group in ('sidebyside', 'sidebylog'):
        if group not in rep.count:
            continue
        ok, norm, dev, fail = rep.count[group]
        fails += fail
        print('# summary %s: %d compared, %d matched (%d after '
              'normalisation), %d listed deviations, %d differ'
              % (group, ok + norm + dev + fail, ok + norm, norm, dev, fail))
    print('# summary: %d request files, %.1fs, reference %s pypolicyd-spf %s'
          % (len(work), time.time() - t0, 'live' if live else 'golden',
             have_py if live else REFVERSION))
    shutil.rmtree(tmpdir, ignore_errors=True)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
