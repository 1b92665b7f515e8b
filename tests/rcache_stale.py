#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""rcache_stale.py - a loopback DNS server for tests/rcache.sh's stale
record case: alias.stale.test's TXT answer holds only a CNAME (TTL 300,
so it is cached), to target.stale.test, whose TXT answers have TTL 0 (so
they are not): "v=spf1 -all" the first time, "v=spf1 +all" after.  A
process that kept the target's parsed record with the alias's cache
entry answers fail twice; one that keeps it with its own answer (none
here) answers fail, then pass.

    /usr/bin/python3 tests/rcache_stale.py PORTFILE

writes its UDP port to PORTFILE and serves until it is killed.
"""

import os
import socket
import sys

from dnslib import CNAME, DNSRecord, QTYPE, RR, TXT

ALIAS, TARGET = 'alias.stale.test.', 'target.stale.test.'


def answer(q, asked):
    r = q.reply()
    name = str(q.q.qname).lower()
    if q.q.qtype == QTYPE.TXT and name == ALIAS:
        r.add_answer(RR(ALIAS, QTYPE.CNAME, rdata=CNAME(TARGET), ttl=300))
    elif q.q.qtype == QTYPE.TXT and name == TARGET:
        rec = 'v=spf1 -all' if asked[TARGET] == 0 else 'v=spf1 +all'
        asked[TARGET] += 1
        r.add_answer(RR(TARGET, QTYPE.TXT, rdata=TXT(rec), ttl=0))
    return r.pack()


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    with open(sys.argv[1] + '.tmp', 'w') as f:
        f.write('%d\n' % s.getsockname()[1])
    os.rename(sys.argv[1] + '.tmp', sys.argv[1])
    asked = {TARGET: 0}

    while True:
        data, peer = s.recvfrom(4096)
        try:
            s.sendto(answer(DNSRecord.parse(data), asked), peer)
        except Exception:   # what it cannot read gets no answer
            pass


if __name__ == '__main__':
    main()
