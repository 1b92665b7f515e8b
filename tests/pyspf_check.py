#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""pyspf_check.py - run SPF YAML test files through pyspf (python3-spf)
against the loopback DNS server of dnsd.py.

    /usr/bin/python3 tests/pyspf_check.py [-v] FILE.yml...

A cross-check of the test data, not of spfpolicy: run on the official
openspf suite it validates dnsd.py's semantics; run on tests/cases/*.yml
it shows where pyspf agrees with the expected (RFC 7208) results.  A test
may carry `pyspf: RESULT` (pyspf's known, documented deviation); the check
then expects that result from pyspf instead of `result`, and says "known".

pyspf uses pydns (python3-dns) here, pointed at the in-process server,
with labels taken as octets (not IDNA).
Per-lookup timeout: DNS_Timeout_ms from the test's config (default 2 s);
overall limit: Lookup_Time (querytime) when the test's config sets it.
`minqueries`/`maxqueries`/`maxtime` are checked too, but a mismatch is
only a note (pyspf caches and queries differently).

Output: `ok S/N`, `known S/N: ...`, `DIFF S/N: ...` per test, then
`N passed, N failed` (DIFF counts as failed); exit 0 iff no DIFF.
"""

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True    # no __pycache__ in the work tree

import dnsd  # noqa: E402
from spfsuite import (as_list, expected_results, field,  # noqa: E402
                      load_documents)

try:
    import spf
    import DNS
except ImportError as e:
    sys.stderr.write('pyspf_check: %s (apt-get install python3-spf)\n' % e)
    sys.exit(2)


def conf_value(doc, test, key, default):
    v = default
    for line in as_list(doc.get('config')) + as_list(test.get('config')):
        k, _, val = str(line).partition('=')
        if k.strip().lower() == key.lower():
            v = val.strip()
    return v


def run(doc, test):
    timeout = float(conf_value(doc, test, 'DNS_Timeout_ms', 2000)) / 1000
    querytime = float(conf_value(doc, test, 'Lookup_Time', 0))
    strict = test.get('strict', True)
    start = time.monotonic()
    try:
        q = spf.query(i=field(test, 'host'), s=field(test, 'mailfrom'),
                      h=field(test, 'helo'), strict=strict,
                      timeout=max(timeout, 0.1), querytime=0)
        if querytime:
            # pyspf's querytime also sets the per-lookup timeout; keep ours
            q.querytime = querytime
        q.set_default_explanation('DEFAULT')
        res, _code, exp = q.check()
    except spf.TempError as e:
        res, exp = 'temperror', str(e)
    except spf.PermError as e:
        res, exp = 'permerror', str(e)
    except Exception as e:
        res, exp = 'exception', repr(e)
    return res.lower(), exp, time.monotonic() - start


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Cross-check SPF YAML test files with pyspf.')
    ap.add_argument('-v', '--verbose', action='count', default=0,
                    help='-v: details of differences and notes; -vv: of '
                    'every test')
    ap.add_argument('files', nargs='+', metavar='FILE.yml')
    args = ap.parse_args(argv)

    server = dnsd.Server({}).start()
    DNS.defaults['server'] = ['127.0.0.1']
    DNS.defaults['port'] = server.port
    # pydns decodes answer names as IDNA ("xn--zckzah" comes back as
    # Unicode), so pyspf's cache misses them (the suite's
    # a-dash-in-toplabel); octets 1:1 is also dnsd.py's convention.
    DNS.LABEL_ENCODING = 'latin-1'
    passed = failed = 0
    try:
        for path in args.files:
            for section, doc in load_documents(path):
                server.set_zone(doc.get('zonedata') or {})
                for name, test in (doc.get('tests') or {}).items():
                    server.reset_counts()
                    res, exp, elapsed = run(doc, test)
                    nq = server.total_queries()
                    tag = '%s/%s' % (section, name)
                    rfc = expected_results(test)
                    want = rfc
                    if 'pyspf' in test:
                        want = [str(test['pyspf']).lower()]
                    notes = []
                    ok = res in want
                    if 'explanation' in test and 'pyspf' not in test \
                            and res in rfc and exp != test['explanation']:
                        ok = False
                        notes.append('explanation %r, expected %r'
                                     % (exp, test['explanation']))
                    if 'explanation_match' in test and 'pyspf' not in test \
                            and res in rfc and not re.fullmatch(
                                str(test['explanation_match']), exp):
                        ok = False
                        notes.append('explanation %r does not match /%s/'
                                     % (exp, test['explanation_match']))
                    if 'minqueries' in test and nq < int(test['minqueries']):
                        notes.append('note: %d queries < minqueries %s'
                                     % (nq, test['minqueries']))
                    if 'maxqueries' in test and nq > int(test['maxqueries']):
                        notes.append('note: %d queries > maxqueries %s'
                                     % (nq, test['maxqueries']))
                    if 'maxtime' in test and elapsed > float(test['maxtime']):
                        notes.append('note: took %.1fs > maxtime %s'
                                     % (elapsed, test['maxtime']))
                    extra = (' (%s)' % '; '.join(notes)) if notes else ''
                    if ok and 'pyspf' in test:
                        print('known %s: RFC %s, pyspf %s (documented)%s'
                              % (tag, '|'.join(rfc), res, extra))
                    elif ok:
                        print('ok %s%s' % (tag, extra))
                    else:
                        print('DIFF %s: expected %s, pyspf %s%s'
                              % (tag, '|'.join(want), res, extra))
                    if args.verbose > 1 or (args.verbose and
                                            (not ok or notes)):
                        print('    pyspf explanation: %r' % (exp,))
                        print('    queries: %d  time: %.2fs'
                              % (nq, elapsed))
                    sys.stdout.flush()
                    if ok:
                        passed += 1
                    else:
                        failed += 1
    finally:
        server.stop()
    print('%d passed, %d failed' % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
