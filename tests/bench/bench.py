#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""bench.py - the measurements of tests/bench.sh, run by it inside its
private network and mount namespace (lo up, /etc/resolv.conf saying
"nameserver 127.0.0.1").

usage: /usr/bin/python3 tests/bench/bench.py WORKDIR SPFPOLICY

WORKDIR holds what gen.py wrote, bin/ (drive, dunno, cares_floor) and
policyd-spf.conf.  This script starts nsd on 127.0.0.1:53 and a
spfpolicy listener on 127.0.0.1:PORT, then:

 1. counts: each program under strace (plans for the c-ares floor, and
    the sequential round trips) while nsd counts the queries it receives;
 2. timings, interleaved program by program (A B C D A B C D ...):
    spawn + first answer, steady streams, peak RSS, 50 processes at once;
 3. instruction counts under callgrind, sizes;
and prints the table.  Progress goes to stderr, the table to stdout.

Environment: BENCH_SPAWNS (100), BENCH_ROUNDS (7), BENCH_CALLGRIND (1; 0
skips the callgrind rows), BENCH_PORT (10025), BENCH_RAW (1: every sample,
as JSON, to stderr).
"""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture  # noqa: E402
import json  # noqa: E402

W = os.path.abspath(sys.argv[1])
BIN = os.path.abspath(sys.argv[2])
CONF = os.path.join(W, 'policyd-spf.conf')
DRIVE = os.path.join(W, 'bin', 'drive')
FLOOR = os.path.join(W, 'bin', 'cares_floor')
DUNNO = os.path.join(W, 'bin', 'dunno')
NSDCONF = os.path.join(W, 'nsd.conf')
REQ = os.path.join(W, 'req')
PLAN = os.path.join(W, 'plan')
LOG = os.path.join(W, 'log')
ERR = os.path.join(W, 'stderr.txt')
PYPOLICYD = ['/usr/bin/python3', '/usr/bin/policyd-spf']
NSPAWN = int(os.environ.get('BENCH_SPAWNS', '100'))
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '7'))
CALLGRIND = os.environ.get('BENCH_CALLGRIND', '1') != '0'
PORT = int(os.environ.get('BENCH_PORT', '10025'))
NCONC = 50
STRACE = ['strace', '-f', '-xx', '-s', '65535', '-e',
          'trace=connect,sendto,sendmsg,send,write,writev,'
          'recvfrom,recvmsg,recv,read,readv']

SPF, PY, CARES, DUNNOF = 'spfpolicy', 'pypolicyd-spf', 'c-ares floor', 'dunno floor'
PROGS = [SPF, PY, CARES, DUNNOF]
LISTEN = 'spfpolicy -l'


def say(msg):
    sys.stderr.write('# bench: %s\n' % msg)
    sys.stderr.flush()


def cmd(prog, plan=None):
    """The argv of a program; plan: the c-ares floor's plan file."""
    if prog == SPF:
        return [BIN, '-R', CONF]
    if prog == PY:
        return PYPOLICYD + [CONF]
    if prog == CARES:
        return [FLOOR, plan]
    return [DUNNO]


def drive(args, prefix=()):
    """Run the driver; its output line as a dict (and 'reply')."""
    p = subprocess.run(list(prefix) + [DRIVE] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode:
        sys.stderr.write(p.stderr)
        raise SystemExit('bench: drive %s failed' % ' '.join(args[:2]))
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ''
    out = {}
    for word in line.split(' '):
        if '=' not in word:
            break
        k, v = word.split('=', 1)
        if k == 'action':
            break
        out[k] = int(v)
    out['reply'] = line[line.find('action='):] if 'action=' in line else ''
    return out


def nsd_queries():
    out = subprocess.run(['nsd-control', '-c', NSDCONF, 'stats_noreset'],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    m = re.search(r'^num\.queries=(\d+)', out, re.M)
    if not m:
        raise SystemExit('bench: nsd-control gave no num.queries')
    return int(m.group(1))


def wait_for(test, what, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if test():
            return
        time.sleep(0.05)
    raise SystemExit('bench: %s did not start' % what)


def dns_up():
    q = bytes.fromhex('beef01000001000000000000') + b'\x02ns\x04test\x00\x00\x01\x00\x01'
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ('127.0.0.1', 53))
        return s.recv(512)[:2] == b'\xbe\xef'
    except OSError:
        return False
    finally:
        s.close()


def tcp_up():
    try:
        socket.create_connection(('127.0.0.1', PORT), 0.2).close()
        return True
    except OSError:
        return False


def spawn_req(i):
    return os.path.join(REQ, 'spawn', '%03d.txt' % i)


def med(xs):
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- 1. counts

def traced(name, args, prog, plan=None):
    """Run the driver under strace; returns capture's request list."""
    log = os.path.join(LOG, name.replace('/', '-') + '.strace')
    drive(args + cmd(prog, plan), prefix=STRACE + ['-o', log])
    reqs = capture.capture(log, os.path.join(PLAN, name + '.plan') if prog == SPF else None)
    os.unlink(log)
    return reqs


def per_req(reqs):
    """(queries, batches) per request."""
    n = max(len(reqs), 1)
    return (sum(len(b) for r in reqs for b in r) / n, sum(len(r) for r in reqs) / n)


def counts(res):
    """Queries the server received and round trips, per request; plans."""
    for prog in (SPF, PY):
        say('counting %s: %d fresh processes under strace' % (prog, NSPAWN))
        q0, allreqs = nsd_queries(), []
        for i in range(NSPAWN):
            allreqs += traced('spawn/%03d' % i, ['spawn', spawn_req(i), ERR], prog)
        res['q_fresh'][prog] = (nsd_queries() - q0) / NSPAWN
        res['rt_fresh'][prog] = per_req(allreqs)[1]
        res['cq_fresh'][prog] = per_req(allreqs)[0]
        say('counting %s: warm-up + 1000 distinct in one process under strace' % prog)
        q0 = nsd_queries()
        reqs = traced('distinct', ['stream', os.path.join(REQ, 'distinct.txt'),
                                   os.path.join(REQ, 'warm.txt'), ERR], prog)
        warmq = sum(len(b) for b in reqs[0])
        res['q_stream'][prog] = (nsd_queries() - q0 - warmq) / (len(reqs) - 1)
        res['rt_stream'][prog] = per_req(reqs[1:])[1]
        res['cq_stream'][prog] = per_req(reqs[1:])[0]
    say('capturing spfpolicy\'s DNS for the other streams (c-ares floor plans)')
    traced('repeat', ['stream', os.path.join(REQ, 'repeat.txt'),
                      os.path.join(REQ, 'repeat-warm.txt'), ERR], SPF)
    traced('rss', ['stream', os.path.join(REQ, 'rss.txt'), '-', ERR], SPF)
    for k in range(NCONC):
        traced('conc/%02d' % k, ['stream', os.path.join(REQ, 'conc', '%02d.txt' % k),
                                 '-', ERR], SPF)
    say('counting the floors')
    for prog in (CARES, DUNNOF):
        q0 = nsd_queries()
        for i in range(NSPAWN):
            drive(['spawn', spawn_req(i), ERR] +
                  cmd(prog, os.path.join(PLAN, 'spawn', '%03d.plan' % i)))
        res['q_fresh'][prog] = (nsd_queries() - q0) / NSPAWN
        q0 = nsd_queries()
        drive(['stream', os.path.join(REQ, 'distinct.txt'), os.path.join(REQ, 'warm.txt'),
               ERR] + cmd(prog, os.path.join(PLAN, 'distinct.plan')))
        res['q_stream'][prog] = nsd_queries() - q0
    # the floors replay spfpolicy's plan: the same round trips
    warm = capture_warm_queries()
    res['q_stream'][CARES] = (res['q_stream'][CARES] - warm) / 1000.0
    res['q_stream'][DUNNOF] = res['q_stream'][DUNNOF] / 1000.0
    for key in ('rt_fresh', 'rt_stream'):
        res[key][CARES] = res[key][SPF]
        res[key][DUNNOF] = 0.0


def capture_warm_queries():
    """Queries of the warm-up request in spfpolicy's distinct plan."""
    n, r = 0, -1
    with open(os.path.join(PLAN, 'distinct.plan')) as f:
        for line in f:
            if line.startswith('R'):
                r += 1
            elif line.startswith('Q') and r == 0:
                n += 1
    return n


# --------------------------------------------------------------- 2. timings

def timings(res, listener):
    say('spawn + first answer: %d runs x %d programs, interleaved' % (NSPAWN, len(PROGS)))
    for i in range(NSPAWN):
        for prog in PROGS:
            o = drive(['spawn', spawn_req(i), ERR] +
                      cmd(prog, os.path.join(PLAN, 'spawn', '%03d.plan' % i)))
            res['spawn'][prog].append(o['us'] / 1000.0)
            res['minflt'][prog].append(o['minflt'])
        o = drive(['tcp1', spawn_req(i), str(PORT)])
        res['spawn'][LISTEN].append(o['us'] / 1000.0)
        if (i + 1) % 10 == 0:
            say('  %d/%d' % (i + 1, NSPAWN))
    for r in range(ROUNDS):
        say('round %d/%d: streams, RSS, %d processes at once' % (r + 1, ROUNDS, NCONC))
        for prog in PROGS:
            o = drive(['stream', os.path.join(REQ, 'distinct.txt'),
                       os.path.join(REQ, 'warm.txt'), ERR] +
                      cmd(prog, os.path.join(PLAN, 'distinct.plan')))
            res['rate_distinct'][prog].append(o['n'] / (o['us'] / 1e6))
        for prog in PROGS:
            o = drive(['stream', os.path.join(REQ, 'repeat.txt'),
                       os.path.join(REQ, 'repeat-warm.txt'), ERR] +
                      cmd(prog, os.path.join(PLAN, 'repeat.plan')))
            res['rate_repeat'][prog].append(o['n'] / (o['us'] / 1e6))
        for prog in PROGS:
            o = drive(['stream', os.path.join(REQ, 'rss.txt'), '-', ERR] +
                      cmd(prog, os.path.join(PLAN, 'rss.plan')))
            res['rss'][prog].append(o['hwm_kb'])
        for prog in PROGS + [LISTEN]:
            if prog == LISTEN:
                o = drive(['connect', os.path.join(REQ, 'conc'), str(NCONC), str(PORT),
                           str(listener.pid)])
                if o.get('kids') != NCONC:
                    say('warning: %s children seen for %d connections' % (o.get('kids'), NCONC))
            else:
                o = drive(['conc', os.path.join(REQ, 'conc'), str(NCONC), ERR] +
                          cmd(prog, os.path.join(PLAN, 'conc', '{k}.plan')))
            res['conc_ms'][prog].append(o['us'] / 1000.0)
            res['conc_rss'][prog].append(o['hwm_kb'] / 1024.0)
            res['conc_rss_max'][prog].append(o['hwm_max_kb'])
            res['conc_pss'][prog].append(o['pss_kb'] / 1024.0)


# ------------------------------------------------------- 3. callgrind, sizes

def instructions(args, prog, plan):
    """Instructions the program executed, start to exit (callgrind)."""
    out = os.path.join(LOG, 'callgrind.out')
    vg = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out]
    drive(args + vg + cmd(prog, plan))
    with open(out) as f:
        for line in f:
            if line.startswith(('summary:', 'totals:')):
                os.unlink(out)
                return int(line.split()[1])
    raise SystemExit('bench: no callgrind total')


def callgrind(res):
    k = min(5, NSPAWN)
    say('callgrind: spawn + first answer (%d requests), 1000 distinct, 1000 repeats' % k)
    for prog in PROGS:
        ins = [instructions(['spawn', spawn_req(i), ERR], prog,
                            os.path.join(PLAN, 'spawn', '%03d.plan' % i)) for i in range(k)]
        res['ins_spawn'][prog] = statistics.mean(ins) / 1e6
        if prog == PY:
            continue    # too slow under valgrind for the streams
        for key, req, warm, plan in (
                ('ins_distinct', 'distinct.txt', 'warm.txt', 'distinct.plan'),
                ('ins_repeat', 'repeat.txt', 'repeat-warm.txt', 'repeat.plan')):
            # the stream, less start-up, warm-up and exit (the same run
            # without the timed requests)
            runs = [instructions(['stream', r, os.path.join(REQ, warm), ERR], prog,
                                 os.path.join(PLAN, plan))
                    for r in (os.path.join(REQ, req), '-')]
            n = open(os.path.join(REQ, req)).read().count('\n\n')
            res[key][prog] = (runs[0] - runs[1]) / 1e3 / n     # k per request


def code_size(prog):
    """Bytes of code loaded from disk: the executable, and for the
    interpreter the shared objects and modules it opens (an strace of one
    spawn run)."""
    log = os.path.join(LOG, 'open.strace')
    drive(['spawn', spawn_req(0), ERR] + cmd(prog, os.path.join(PLAN, 'spawn', '000.plan')),
          prefix=['strace', '-f', '-e', 'trace=openat,open,execve', '-o', log])
    files, first = set(), None
    with open(log) as f:
        for line in f:
            m = re.match(r'^(\d+)\s+(openat|open|execve)\((?:AT_FDCWD, )?"([^"]+)".*= (\d+)', line)
            if not m:
                continue
            if first is None:
                first = m.group(1)
            if m.group(1) == first:
                continue        # the driver
            path = m.group(3)
            if m.group(2) == 'execve' or path.startswith(('/usr/', '/lib')):
                files.add(os.path.realpath(path))
    os.unlink(log)
    return sum(os.path.getsize(p) for p in files if os.path.isfile(p))


# ------------------------------------------------------------------- table

def fmt(v, unit):
    if v is None:
        return '-'
    if unit == 'int':
        return '%d' % round(v)
    if unit == 'f0':
        return '%.0f' % v
    if unit == 'f1':
        return '%.1f' % v
    return '%.2f' % v


def ratio(a, b):
    if a is None or b is None or not b:
        return '-'
    r = a / b
    return '%.1fx' % r if r >= 10 else '%.2fx' % r if r >= 0.01 else '%.4fx' % r


def table(res, sizes):
    rows = [
        # key, label, unit, better
        ('spawn', 'spawn + first answer, median ms (%d runs)' % NSPAWN, 'f2', 'lower'),
        ('minflt', 'minor page faults, spawn + first answer + exit', 'int', 'lower'),
        ('rate_distinct', 'steady req/s, 1000 distinct domains', 'f0', 'higher'),
        ('rate_repeat', 'steady req/s, 1000 repeats of one request', 'f0', 'higher'),
        ('rss', 'peak RSS after 100 requests, KiB', 'int', 'lower'),
        ('q_fresh', 'DNS queries/request, fresh process', 'f2', 'lower'),
        ('q_stream', 'DNS queries/request, 1000 distinct, one process', 'f2', 'lower'),
        ('rt_fresh', 'sequential DNS round trips/request, fresh', 'f2', 'lower'),
        ('rt_stream', 'sequential DNS round trips/request, 1000 distinct', 'f2', 'lower'),
        ('conc_ms', '%d processes x 20 requests: wall ms' % NCONC, 'f1', 'lower'),
        ('conc_rss', '%d processes x 20 requests: total peak RSS, MiB' % NCONC, 'f1', 'lower'),
        ('conc_pss', '%d processes x 20 requests: total PSS at the end, MiB' % NCONC, 'f1',
         'lower'),
        ('size', 'binary size, KiB (pypolicyd-spf: code loaded)', 'int', 'lower'),
    ]
    if CALLGRIND:
        rows += [
            ('ins_spawn', 'instructions, spawn + first answer, M (5 runs)', 'f2', 'lower'),
            ('ins_distinct', 'instructions/request, 1000 distinct, k', 'f1', 'lower'),
            ('ins_repeat', 'instructions/request, 1000 repeats, k', 'f1', 'lower'),
        ]
    val = {}
    for key, _, _, _ in rows:
        val[key] = {}
        for prog in PROGS:
            v = sizes[prog] / 1024.0 if key == 'size' else res[key].get(prog)
            val[key][prog] = med(v) if isinstance(v, list) else v
    lw = max(len(r[1]) for r in rows) + 1
    cols = ['spfpolicy', 'pypolicyd-spf', 'c-ares floor', 'dunno floor',
            'spf/py', 'spf/c-ares', 'spf/dunno', 'better']
    cw = [10, 13, 12, 11, 8, 10, 9, 6]
    print('%-*s' % (lw, '') + ' '.join('%*s' % (w, c) for w, c in zip(cw, cols)))
    for key, label, unit, better in rows:
        v = val[key]
        cells = [fmt(v[p], unit) for p in PROGS]
        cells += [ratio(v[SPF], v[PY]), ratio(v[SPF], v[CARES]), ratio(v[SPF], v[DUNNOF]), better]
        print('%-*s' % (lw, label) + ' '.join('%*s' % (w, c) for w, c in zip(cw, cells)))

    print()
    print('listener mode (spfpolicy -l inet:127.0.0.1:%d, a child per connection)'
          ' vs spawn mode' % PORT)
    lrows = [
        ('spawn', 'first answer, median ms (connect vs spawn)', 'f2'),
        ('conc_ms', '%d connections x 20 requests: wall ms' % NCONC, 'f1'),
        ('conc_rss', '%d connections x 20 requests: total peak RSS, MiB' % NCONC, 'f1'),
        ('conc_pss', '%d connections x 20 requests: total PSS at the end, MiB' % NCONC, 'f1'),
    ]
    lw2 = max(len(r[1]) for r in lrows) + 1
    print('%-*s%10s %10s %15s' % (lw2, '', 'listener', 'spawn', 'listener/spawn'))
    for key, label, unit in lrows:
        a, b = med(res[key][LISTEN]), med(res[key][SPF])
        print('%-*s%10s %10s %15s' % (lw2, label, fmt(a, unit), fmt(b, unit), ratio(a, b)))

    print()
    print('targets')
    s, p, c = val['spawn'][SPF], val['spawn'][PY], val['spawn'][CARES]

    def target(ok, text):
        print('  %-7s %s' % ('met' if ok else 'NOT met', text))
    target(p / s >= 50, 'spawn + first answer: pypolicyd-spf / spfpolicy = %.1fx (>= 50x)' % (p / s))
    target(s / c <= 1.5, 'spawn + first answer: spfpolicy / c-ares floor = %.2fx (<= 1.5x)' % (s / c))
    target(val['rss'][SPF] <= 1024, 'peak RSS after 100 requests: %d KiB (<= 1024 KiB)'
           % val['rss'][SPF])
    mx = max(res['conc_rss_max'][SPF])
    target(mx <= 1024, 'peak RSS of the biggest of %d concurrent processes: %d KiB (<= 1024 KiB)'
           % (NCONC, mx))
    for key, what in (('q_fresh', 'fresh process'), ('q_stream', '1000 distinct')):
        target(val[key][SPF] <= val[key][PY], 'DNS queries/request, %s: %.2f vs pypolicyd-spf %.2f'
               ' (never more)' % (what, val[key][SPF], val[key][PY]))
    for key, what in (('rt_fresh', 'fresh process'), ('rt_stream', '1000 distinct')):
        target(val[key][SPF] < val[key][PY], 'sequential round trips/request, %s: %.2f vs'
               ' pypolicyd-spf %.2f (fewer)' % (what, val[key][SPF], val[key][PY]))
    target(sizes[SPF] <= 256 * 1024, 'binary size: %d bytes (<= 262144)' % sizes[SPF])


def main():
    for d in (PLAN, os.path.join(PLAN, 'spawn'), os.path.join(PLAN, 'conc'), LOG):
        os.makedirs(d, exist_ok=True)
    keys = ['spawn', 'minflt', 'rate_distinct', 'rate_repeat', 'rss', 'q_fresh', 'q_stream',
            'rt_fresh', 'rt_stream', 'cq_fresh', 'cq_stream', 'conc_ms', 'conc_rss',
            'conc_rss_max', 'conc_pss', 'ins_spawn', 'ins_distinct', 'ins_repeat']
    res = {k: {} for k in keys}
    for k in ('spawn', 'minflt', 'rate_distinct', 'rate_repeat', 'rss', 'conc_ms', 'conc_rss',
              'conc_rss_max', 'conc_pss'):
        res[k] = {p: [] for p in PROGS + [LISTEN]}
    t0, load0 = time.time(), os.getloadavg()[0]
    nsd = subprocess.Popen(['nsd', '-d', '-c', NSDCONF], stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(LOG, 'nsd.err'), 'w'))
    listener = None
    try:
        wait_for(dns_up, 'nsd')
        listener = subprocess.Popen([BIN, '-l', 'inet:127.0.0.1:%d' % PORT, CONF],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=open(ERR, 'a'))
        wait_for(tcp_up, 'the spfpolicy listener')
        # every program answers, and all alike
        replies = {}
        for prog in (SPF, PY):
            replies[prog] = drive(['spawn', spawn_req(0), ERR] + cmd(prog))['reply']
        if replies[SPF] != replies[PY]:
            say('note: the first replies differ:\n  spfpolicy:     %s\n  pypolicyd-spf: %s'
                % (replies[SPF], replies[PY]))
        counts(res)
        timings(res, listener)
        if CALLGRIND:
            if shutil.which('valgrind'):
                callgrind(res)
            else:
                say('no valgrind: no instruction counts')
        sizes = {prog: code_size(prog) for prog in PROGS}
    finally:
        if listener:
            listener.send_signal(signal.SIGTERM)
            listener.wait()
        nsd.terminate()
        nsd.wait()
    if os.environ.get('BENCH_RAW') == '1':
        sys.stderr.write(json.dumps(res, indent=1, sort_keys=True) + '\n')
    load1 = os.getloadavg()[0]
    print('spfpolicy bench: %s; nsd on 127.0.0.1:53, %s sender domains; %d spawn runs,'
          ' medians of %d rounds; %.0f s'
          % (BIN, sum(1 for _ in open(os.path.join(W, 'domains.txt'))), NSPAWN, ROUNDS,
             time.time() - t0))
    print('load average (1 min) %.2f at the start, %.2f at the end (%d CPUs)%s'
          % (load0, load1, os.cpu_count(), ': timings disturbed by other work'
             if min(load0, load1) > 1.0 else ''))
    print('ratio columns: spfpolicy\'s value / the other\'s; "better" says which way is good')
    print()
    table(res, sizes)


if __name__ == '__main__':
    main()
