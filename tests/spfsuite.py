#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""spfsuite.py - run SPF test files (openspf RFC 7208 suite format) through
spfpolicy's query mode against the loopback DNS server of dnsd.py.

    /usr/bin/python3 tests/spfsuite.py [--bin BIN] [-j N] [-a ADDR] [-v]
                                       [--slack SECONDS]
                                       FILE.yml...

Each YAML document has `description`, `tests` and `zonedata`.  For every
test the runner executes

    BIN -q -c CONF -n 127.0.0.1:PORT IP SENDER HELO

(IP = host, SENDER = mailfrom, possibly empty; HELO = helo) and compares
the first output line (the result) with `result` (a string or a list of
acceptable results) and, if the test has `explanation`, the second output
line with it.  CONF holds DEFAULT_CONFIG below, then the document's and
then the test's `config:` lines (a later `Key = Value` replaces an earlier
one with the same key).

Extension keys for our own cases (tests/cases/*.yml):
    config: [ "Key = Value", ... ]   (document or test level)
    maxtime: SECONDS      the query must finish within that wall time
                          (plus --slack: start-up of slow builds, valgrind)
    minqueries: N / maxqueries: N
                          bounds on the DNS queries the server received
                          for this test (UDP + TCP)
    header: REGEX         the third output line (Received-SPF) must match
                          (re.search)
    explanation_match: REGEX
                          the second output line must match (re.fullmatch),
                          for explanations that are not fixed text (%{t})
    pyspf: RESULT         pyspf's result where it differs from `result`
                          (used by pyspf_check.py only)

Where the binary's c-ares (from `BIN -V`, or --cares) is documented to
answer a test differently (tests/cares.txt), that result is expected
instead, and the ok line says so.

Output: `ok SECTION/NAME` or `FAIL SECTION/NAME: expected X got Y ...`
per test, then `N passed, N failed`; exit status 0 iff all passed.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True    # no __pycache__ in the work tree

import cares  # noqa: E402
import dnsd  # noqa: E402

DEFAULT_CONFIG = [
    'Default_Explanation = DEFAULT',
    'Lookup_Time = 20',
    'DNS_Timeout_ms = 500',
    'DNS_Tries = 2',
]
RESULTS = ('pass', 'fail', 'softfail', 'neutral', 'none', 'permerror',
           'temperror')
RUN_TIMEOUT = 30


# -- shared with pyspf_check.py ----------------------------------------------

def load_documents(path):
    """Yield (section slug, document) for each YAML document of path."""
    import yaml
    with open(path, 'rb') as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        if not isinstance(doc, dict) or 'tests' not in doc:
            raise ValueError('%s: document without tests' % path)
        yield slug(doc.get('description') or os.path.basename(path)), doc


def slug(text, maxlen=40):
    s = re.sub(r'[^a-z0-9]+', '-', str(text).lower()).strip('-')
    if len(s) > maxlen:
        s = s[:maxlen].rsplit('-', 1)[0]
    return s or 'section'


def expected_results(test):
    r = test.get('result')
    if isinstance(r, (list, tuple)):
        return [str(x).lower() for x in r]
    return [str(r).lower()]


def config_lines(doc, test, base=DEFAULT_CONFIG):
    """Merged `Key = Value` lines: later keys replace earlier ones."""
    merged = {}
    order = []
    for line in list(base) + as_list(doc.get('config')) + \
            as_list(test.get('config')):
        line = str(line).strip()
        key = line.split('=', 1)[0].strip().lower()
        if key not in merged:
            order.append(key)
        merged[key] = line
    return [merged[k] for k in order]


def as_list(v):
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def field(test, key):
    v = test.get(key)
    return '' if v is None else str(v)


# -- runner ----------------------------------------------------------------

class Outcome(object):
    def __init__(self):
        self.ok = False
        self.msg = ''
        self.lines = []
        self.stderr = ''
        self.elapsed = 0.0
        self.queries = None
        self.note = ''


def run_one(args, server, conf, section, name, test):
    o = Outcome()
    cmd = [args.bin, '-q', '-c', conf, '-n', args.ns % server.port,
           field(test, 'host'), field(test, 'mailfrom'), field(test, 'helo')]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, err, rc = e.stdout or b'', e.stderr or b'', None
    o.elapsed = time.monotonic() - start
    o.stderr = err.decode('utf-8', 'replace')
    o.lines = out.decode('utf-8', 'replace').split('\n')
    if o.lines and o.lines[-1] == '':
        o.lines.pop()
    want = expected_results(test)
    dev = args.deviations.get(section + '/' + name)
    if dev:
        want = [dev[0]]
        o.note = ' (c-ares %s: %s, tests/cares.txt)' % (args.cares, dev[0])
    got = o.lines[0].strip().lower() if o.lines else ''
    problems = []
    if rc is None:
        got_s = '<timeout after %ds>' % RUN_TIMEOUT
    elif not o.lines:
        got_s = ('<no output, killed by signal %d>' % -rc if rc < 0
                 else '<no output, exit status %d>' % rc)
    else:
        got_s = got or '<empty>'
    if got not in want or rc is None:
        problems.append('result')
    if 'explanation' in test:
        want_exp = field(test, 'explanation')
        got_exp = o.lines[1] if len(o.lines) > 1 else ''
        if got_exp != want_exp:
            problems.append('(explanation: expected %r got %r)'
                            % (want_exp, got_exp))
    if 'explanation_match' in test:
        got_exp = o.lines[1] if len(o.lines) > 1 else ''
        if not re.fullmatch(str(test['explanation_match']), got_exp):
            problems.append('(explanation %r does not match /%s/)'
                            % (got_exp, test['explanation_match']))
    if 'maxtime' in test and o.elapsed > float(test['maxtime']) + args.slack:
        problems.append('(took %.1fs > maxtime %s)'
                        % (o.elapsed, test['maxtime']))
    if 'header' in test:
        hdr = o.lines[2] if len(o.lines) > 2 else ''
        if not re.search(str(test['header']), hdr):
            problems.append('(header %r does not match /%s/)'
                            % (hdr, test['header']))
    if 'minqueries' in test or 'maxqueries' in test:
        o.queries = server.total_queries()
        if 'minqueries' in test and o.queries < int(test['minqueries']):
            problems.append('(%d DNS queries < minqueries %s)'
                            % (o.queries, test['minqueries']))
        if 'maxqueries' in test and o.queries > int(test['maxqueries']):
            problems.append('(%d DNS queries > maxqueries %s)'
                            % (o.queries, test['maxqueries']))
    o.ok = not problems
    if not o.ok:
        extra = ' '.join(x for x in problems if x != 'result')
        o.msg = 'expected %s got %s%s' % ('|'.join(want), got_s,
                                          ' ' + extra if extra else '')
    return o


def report(args, section, name, o):
    if o.ok:
        print('ok %s/%s%s' % (section, name, o.note))
    else:
        print('FAIL %s/%s: %s' % (section, name, o.msg))
        if args.verbose:
            for i, label in enumerate(('result', 'explanation', 'header')):
                print('    %-11s %s' % (label + ':', o.lines[i]
                                        if i < len(o.lines) else '<missing>'))
            for extra in o.lines[3:]:
                print('    extra:      %s' % extra)
            if o.queries is not None:
                print('    queries:    %d' % o.queries)
            print('    time:       %.2fs' % o.elapsed)
            for line in o.stderr.splitlines():
                print('    stderr:     %s' % line)
    sys.stdout.flush()


def measured(test):
    return any(k in test for k in ('maxtime', 'minqueries', 'maxqueries'))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Run SPF YAML test files through spfpolicy -q.')
    ap.add_argument('--bin', default=os.path.join(ROOT, 'spfpolicy'),
                    help='spfpolicy binary (default: spfpolicy in the '
                    'directory above tests/)')
    ap.add_argument('-j', '--jobs', type=int, default=4,
                    help='tests run at once within a document (default 4)')
    ap.add_argument('-a', '--addr', default='127.0.0.1',
                    help='address for the DNS server (127.0.0.1 or ::1)')
    ap.add_argument('--slack', type=float, default=0.0,
                    help='seconds added to every maxtime (default 0)')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='show output lines and stderr of failures')
    ap.add_argument('--cares', metavar='VERSION',
                    help='the c-ares of the binary (default: from BIN -V)')
    ap.add_argument('files', nargs='+', metavar='FILE.yml')
    args = ap.parse_args(argv)
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.stderr.write('spfsuite: %s: not an executable\n' % args.bin)
        return 2
    ver = cares.parse(args.cares) if args.cares else cares.version(args.bin)
    args.cares = '.'.join(map(str, ver)) if ver else '?'
    args.deviations = cares.deviations(ver)
    args.ns = ('[%s]:%%d' if ':' in args.addr else '%s:%%d') % args.addr

    try:
        docs = [(path, sec, doc) for path in args.files
                for sec, doc in load_documents(path)]
    except Exception as e:
        sys.stderr.write('spfsuite: %s\n' % e)
        return 2

    passed = failed = 0
    server = dnsd.Server({}, args.addr, 0).start()
    tmp = tempfile.TemporaryDirectory(prefix='spfsuite.')
    confs = {}

    def conf_for(doc, test):
        text = '\n'.join(config_lines(doc, test)) + '\n'
        if text not in confs:
            path = os.path.join(tmp.name, 'spfpolicy%d.conf' % len(confs))
            with open(path, 'w') as f:
                f.write(text)
            confs[text] = path
        return confs[text]

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for path, section, doc in docs:
                try:
                    server.set_zone(doc.get('zonedata') or {})
                except Exception as e:
                    sys.stderr.write('spfsuite: %s: %s: bad zonedata: %s\n'
                                     % (path, section, e))
                    return 2
                tests = list((doc.get('tests') or {}).items())
                # unmeasured tests run concurrently, results in file order
                futures = {}
                for name, test in tests:
                    if not measured(test):
                        futures[name] = pool.submit(
                            run_one, args, server, conf_for(doc, test),
                            section, name, test)
                for name, test in tests:
                    if name in futures:
                        o = futures[name].result()
                    else:
                        # measured tests run alone (wall time, counters)
                        for f in futures.values():
                            f.result()
                        server.reset_counts()
                        o = run_one(args, server, conf_for(doc, test),
                                    section, name, test)
                    report(args, section, name, o)
                    if o.ok:
                        passed += 1
                    else:
                        failed += 1
    finally:
        server.stop()
        tmp.cleanup()
    print('%d passed, %d failed' % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
