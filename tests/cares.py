# See LICENSE file for copyright and license details.
"""cares.py - the c-ares a spfpolicy binary was built with, and the tests
whose result that c-ares is documented to change (tests/cares.txt).

c-ares carries every query and hands spfpolicy the answers it accepts:
where a version refuses a question (1.34 validates question names as
host names) or a whole message (1.34 never accepts a malformed one, and
re-encodes what it accepts), that version's result is the expected one.
spfpolicy.8 (DEVIATIONS) and the README list the same cases.
"""

import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
LIST = os.path.join(HERE, 'cares.txt')


def version(binary):
    """(major, minor, patch) from `BIN -V`, or None."""
    try:
        out = subprocess.run([binary, '-V'], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=10).stdout.decode('ascii', 'replace')
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'c-ares (\d+)\.(\d+)\.(\d+)', out)
    return tuple(int(x) for x in m.groups()) if m else None


def parse(text):
    """'1.34.5' -> (1, 34, 5); '1.34' -> (1, 34, 0)."""
    v = [int(x) for x in text.split('.')]
    return tuple((v + [0, 0])[:3])


def deviations(ver):
    """{'section/name': (result, why)} that apply to c-ares ver."""
    found = {}
    if ver is None:
        return found
    with open(LIST) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            since, test, result, why = line.split(None, 3)
            if ver >= parse(since):
                found[test] = (result, why)
    return found
