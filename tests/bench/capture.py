#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""capture.py - turn an strace log of a policy server into a DNS plan.

usage: /usr/bin/python3 tests/bench/capture.py STRACE_LOG PLAN_OUT

STRACE_LOG comes from
    strace -f -xx -s 65535 -e trace=connect,sendto,sendmsg,send,write,writev,\
recvfrom,recvmsg,recv,read,readv -o LOG drive ... SERVER ...
(the first process in the log is the driver and is ignored).  A socket
connected to port 53 (or a datagram sent to port 53) carries DNS: each
datagram sent on it is one query, each successful receive one answer.
Queries sent with no answer received in between form one batch (they were
in flight together); a write on fd 1 ending in a blank line (the end of a
reply) ends a request.

PLAN_OUT gets the plan read by cares_floor ("R", "B", "Q TYPE NAME"
lines).  Printed on stdout: "requests=N queries=N batches=N".
"""

import re
import sys

PORT53 = re.compile(r'sin6?_port=htons\(53\)')
BYTES = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def unhex(s):
    return bytes(int(s[i + 2:i + 4], 16) for i in range(0, len(s), 4))


def question(pkt):
    """(type, name) of a DNS query packet, or None."""
    if len(pkt) >= 2 and len(pkt) == 2 + (pkt[0] << 8 | pkt[1]):
        pkt = pkt[2:]           # TCP: length prefix
    if len(pkt) < 17:
        return None
    off, labels = 12, []
    while off < len(pkt) and pkt[off]:
        n = pkt[off]
        labels.append(pkt[off + 1:off + 1 + n].decode('latin-1'))
        off += 1 + n
    if off + 3 > len(pkt):
        return None
    return (pkt[off + 1] << 8 | pkt[off + 2], '.'.join(labels) or '.')


def capture(log, out=None):
    """Parse an strace log; write the plan to out (if given).  Returns the
    requests, each a list of batches, each a list of (type, name)."""
    driver = None
    dns = set()                 # (pid, fd) connected to port 53
    reqs = [[]]                 # requests -> batches -> queries
    open_batch = False
    pending = {}                # pid -> unfinished line
    with open(log, errors='replace') as f:
        for raw in f:
            raw = raw.rstrip('\n')
            m0 = re.match(r'^(\d+)\s+(.*)$', raw)
            if not m0:
                continue
            pid, rest = m0.group(1), m0.group(2)
            if driver is None:
                driver = pid
            if pid == driver:
                continue
            if rest.endswith('<unfinished ...>'):
                pending[pid] = rest[:-len('<unfinished ...>')]
                continue
            r = re.match(r'^<\.\.\. \w+ resumed>(.*)$', rest)
            if r:
                rest = pending.pop(pid, '') + r.group(1)
            m = re.match(r'^(\w+)\((\d+),\s*(.*)$', rest)
            if not m:
                continue
            call, fd, args = m.group(1), int(m.group(2)), m.group(3)
            res = re.findall(r'\)\s+=\s+(-?\d+)', args)
            ret = int(res[-1]) if res else -1
            key = (pid, fd)
            if call == 'connect':
                if PORT53.search(args) and (ret == 0 or 'EINPROGRESS' in args):
                    dns.add(key)
                else:
                    dns.discard(key)
                continue
            sends = ('sendto', 'send', 'write', 'writev', 'sendmsg')
            if call in sends and fd == 1 and ret > 0:
                data = BYTES.findall(args)
                if data and data[-1].endswith('\\x0a\\x0a'):
                    reqs.append([])     # a reply's end: the request is over
                    open_batch = False
                continue
            if call == 'sendto' and PORT53.search(args):
                dns.add(key)            # an unconnected socket
            if key not in dns:
                continue
            if call in sends and ret > 0:
                b = BYTES.search(args)
                qn = question(unhex(b.group(1))) if b else None
                if not qn:
                    continue
                if not open_batch:
                    reqs[-1].append([])
                    open_batch = True
                reqs[-1][-1].append(qn)
            elif call in ('recvfrom', 'recv', 'read', 'readv', 'recvmsg') and ret > 0:
                open_batch = False
    if not reqs[-1]:
        reqs.pop()
    if out:
        with open(out, 'w') as f:
            for batches in reqs:
                f.write('R\n')
                for b in batches:
                    f.write('B\n')
                    for t, name in b:
                        f.write('Q %d %s\n' % (t, name))
    return reqs


def main():
    reqs = capture(sys.argv[1], sys.argv[2])
    print('requests=%d queries=%d batches=%d' % (
        len(reqs), sum(len(q) for r in reqs for q in r), sum(len(r) for r in reqs)))


if __name__ == '__main__':
    main()
