#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""rcache.py - the zone and the request stream of tests/rcache.sh (the
parsed-record cache of one long-lived spawn-mode process):

    /usr/bin/python3 tests/rcache.py DIR

writes DIR/zone.yml (for tests/dnsd.py), DIR/requests (the policy
requests, one after the other, as smtpd sends them on one connection)
and DIR/expect (a line per request: its part of the stream, the SPF
result it must get, the client address and the sender).  Everything is
made from a fixed seed: the same files every run.

Two families of chains, each record including the next one of its chain
between ip4: terms, so that a result often depends on the terms AFTER an
include (the outer record's terms are used again once the inner ones,
parsed meanwhile, are done):

    s<K>-<J>  6 chains of 8 small records: 48 records, more than the 32
              slots of the parsed-record cache (RCACHE_SIZE)
    b<K>-<J>  4 chains of 6 records of about 1100 bytes (several strings,
              answers under the 1232 bytes of EDNS and of a DNS cache
              entry; 113 of the pool's 2048 terms of 32 bytes with its text): 18
              fill the 64 KiB pool (RCACHE_POOL)

Record <K>-<J> is "v=spf1 ip4:A.K.J.1 include:<K>-<J+1> ip4:A.K.J.2
ip4:A.K.J.3 ... Q" with Q one of -all ~all ?all; the last of a chain has
no include.  A request names a chain and where it enters it (the sender's
domain) and a client address: a host of a record at or below the entry
(pass), or one of none (the entry's Q).  An include of a chain is at most
its 7th DNS term: no limit is reached.

The stream opens with two cases made for the bug of 702a23f, a full
cache emptied in the middle of a request (see full_slots, full_pool): an
outer record, parsed alone before, comes from the cache and its include's
records, new, no longer fit.  Then seeded random requests over the small
chains, the large ones, and both: they check the same more broadly (a
record not kept, the cache emptied between requests), though they seldom
meet the bug's exact order.
"""

import json
import os
import random
import sys

DOMAIN = 'rcache.test'
HELO = 'mail.' + DOMAIN		# no record: the HELO check says none
SMALL = ('s', 10, 6, 8)		# prefix, first octet, chains, depth
BIG = ('b', 11, 4, 6)
BIG_TEXT = 1100			# bytes of a large record, at most
QUALS = '-~?'
RESULTS = {'-': 'Fail', '~': 'Softfail', '?': 'Neutral'}
SENDERS = ('u1', 'u2', 'postmaster', 'bounce+x', 'a.b')


def name(fam, k, j):
    return '%s%d-%d.%s' % (fam[0], k, j, DOMAIN)


def host(fam, k, j, h):
    return '%d.%d.%d.%d' % (fam[1], k, j, h)


def qual(k, j):
    return QUALS[(k + j) % len(QUALS)]


def record(fam, k, j):
    """The record of fam's chain k, depth j: its text and its hosts."""
    big = fam is BIG
    depth = fam[3]
    terms = ['v=spf1', 'ip4:' + host(fam, k, j, 1)]
    if j + 1 < depth:
        terms.append('include:' + name(fam, k, j + 1))
    hosts = [1]
    h = 2
    while h < 250:
        t = 'ip4:' + host(fam, k, j, h)
        if not big and h > 3 or big and \
                len(' '.join(terms + [t, '-all'])) > BIG_TEXT:
            break
        terms.append(t)
        hosts.append(h)
        h += 1
    terms.append(qual(k, j) + 'all')
    return ' '.join(terms), hosts


def zone(out):
    hosts = {}
    out.write('# tests/rcache.sh: made by tests/rcache.py\n')
    for fam in (SMALL, BIG):
        for k in range(fam[2]):
            for j in range(fam[3]):
                text, hosts[fam, k, j] = record(fam, k, j)
                out.write('%s:\n  - TXT: %s\n' % (name(fam, k, j),
                                                 json.dumps(text)))
    out.write('%s:\n  - A: 192.0.2.25\n' % HELO)
    return hosts


class Stream(object):
    def __init__(self, hosts, seed):
        self.hosts = hosts
        self.rnd = random.Random(seed)
        self.reqs = []
        self.expect = []

    def add(self, part, fam, k, j0, client, local=None):
        """A request from client for local@<k>-<j0> and its result."""
        result = RESULTS[qual(k, j0)]
        for j in range(j0, fam[3]):
            if any(client == host(fam, k, j, h)
                   for h in self.hosts[fam, k, j]):
                result = 'Pass'
        sender = '%s@%s' % (local or self.rnd.choice(SENDERS),
                            name(fam, k, j0))
        self.reqs.append(''.join('%s=%s\n' % a for a in (
            ('request', 'smtpd_access_policy'),
            ('protocol_state', 'RCPT'), ('protocol_name', 'ESMTP'),
            ('client_address', client), ('client_name', 'unknown'),
            ('helo_name', HELO), ('sender', sender),
            ('recipient', 'rcpt@receiver.test'), ('queue_id', ''),
            ('size', '0'))) + '\n')
        self.expect.append('%s %s %s %s\n' % (part, result, client, sender))

    def full(self, part, fam, k):
        """Enter chain k at its top with a host of its last record: every
        record of the chain is parsed."""
        j = fam[3] - 1
        self.add(part, fam, k, 0, host(fam, k, j, 2), 'u1')

    def full_slots(self):
        """The slot limit crossed inside an include, from an empty
        process: s0-0 is the first record kept (the start of the pool);
        31 records fill the 32 slots (3 chains of 8, 7 records of a
        fourth: its host is before the include of the last one); s0-0
        comes again from the cache with a host after its include, whose
        records no longer fit.  Then s0-0 once more: 8 small records are
        kept (about 60 of the pool's 2048 terms of 32 bytes)."""
        part = 'full-slots'
        self.add(part, SMALL, 0, 0, host(SMALL, 0, 0, 1), 'u1')
        for k in (1, 2, 3):
            self.full(part, SMALL, k)
        self.add(part, SMALL, 4, 0, host(SMALL, 4, 6, 1), 'u1')
        self.add(part, SMALL, 0, 0, host(SMALL, 0, 0, 2), 'u1')
        self.add(part, SMALL, 0, 0, host(SMALL, 0, 0, 3), 'u2')

    def full_pool(self):
        """The pool limit crossed inside an include, after full_slots:
        b0-0 (113 terms of the pool with its text) kept alone, 2 chains
        of 6 and 4 records of a third (about 1985 of 2048 terms, 25
        slots), then b0-0 from the cache with a host after its include,
        whose records no longer fit."""
        part = 'full-pool'
        self.add(part, BIG, 0, 0, host(BIG, 0, 0, 1), 'u1')
        for k in (1, 2):
            self.full(part, BIG, k)
        self.add(part, BIG, 3, 0, host(BIG, 3, 3, 1), 'u1')
        self.add(part, BIG, 0, 0, host(BIG, 0, 0, 2), 'u1')

    def random(self, part, fams, n):
        """n requests for chains of fams: entered mostly at the top, the
        host before the entry's include, after one, of none, or the
        first of any record."""
        for _ in range(n):
            fam = self.rnd.choice(fams)
            k = self.rnd.randrange(fam[2])
            j0 = self.rnd.choice((0, 0, 0, 1, 2, 3))
            pick = self.rnd.random()
            k2 = k
            if pick < 0.4:	# before the entry's include: it alone
                j, h = j0, 1
            elif pick < 0.75:	# after an include, at or below the entry
                j = self.rnd.randrange(j0, fam[3])
                h = self.rnd.choice(self.hosts[fam, k, j][1:4])
            elif pick < 0.9:	# none of the chain's
                j, h = self.rnd.randrange(fam[3]), 250
            else:		# the first of any record of the family
                k2, j, h = self.rnd.randrange(fam[2]), \
                    self.rnd.randrange(fam[3]), 1
            self.add(part, fam, k, j0, host(fam, k2, j, h))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: rcache.py DIR\n')
        return 2
    d = argv[1]
    with open(os.path.join(d, 'zone.yml'), 'w') as f:
        hosts = zone(f)
    s = Stream(hosts, 7208)
    s.full_slots()
    s.full_pool()
    s.random('random-small', (SMALL,), 150)
    s.random('random-large', (BIG,), 120)
    s.random('random-mixed', (SMALL, BIG), 150)
    with open(os.path.join(d, 'requests'), 'w') as f:
        f.writelines(s.reqs)
    with open(os.path.join(d, 'expect'), 'w') as f:
        f.writelines(s.expect)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
