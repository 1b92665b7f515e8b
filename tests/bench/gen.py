#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""gen.py - zone files, nsd.conf and request streams for tests/bench.sh.

usage: /usr/bin/python3 tests/bench/gen.py OUTDIR [NDOMAINS [NSPAWN]]

Writes into OUTDIR:
  zone/test.zone, zone/*.in-addr.arpa.zone   the DNS data (nsd zone files)
  nsd.conf                                   nsd on 127.0.0.1:53, no RRL
  req/warm.txt        one request for a domain outside the set (warm-up)
  req/distinct.txt    one request per sender domain, shuffled
  req/repeat.txt      the same request NDOMAINS times, a new instance each
  req/repeat-warm.txt that request once more (warm-up)
  req/rss.txt         the first 100 requests of distinct.txt
  req/spawn/NNN.txt   NSPAWN single requests, one per spawn run
  req/conc/NN.txt     50 streams of 20 requests (distinct.txt cut in 50)
  domains.txt         "domain shape" per sender domain

Sender domains (dNNNN.test, all in the one zone "test.") have realistic
SPF shapes, cycling through:
  ip4      ip4/ip6 lists only, no further lookup
  google   include of a provider whose record includes three netblocks
  msft     ip4 + include of a provider that includes another
  amx      "a mx": A, then MX and the MX hosts' addresses (concurrently)
  esp      mx + includes of two flat bulk-mail providers
  exists   exists with macros (%{i}, %{d})
  redir    redirect= to a hosting provider with ip4, a: and mx:
  mixed    a: + ip4 + include of a flat provider + the google chain
  ptr      (every 50th domain) ptr:, with reverse zones for the clients
HELO names are mail.DOMAIN (an A record; every fifth also "v=spf1 a -all").
Clients come from 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
2001:db8::/32; about 70% are authorised by the sender's record.
"""

import os
import random
import sys

TTL = 3600
SHAPES = ['ip4', 'google', 'ip4', 'msft', 'amx', 'esp', 'exists',
          'redir', 'mixed', 'google']
RSS_REQS = 100
CONC_PROCS = 50
CONC_REQS = 20


def q(txt):
    """A TXT RDATA: strings of at most 255 octets."""
    parts = [txt[i:i + 255] for i in range(0, len(txt), 255)] or ['']
    return ' '.join('"%s"' % p for p in parts)


class Zone(object):
    def __init__(self, origin):
        self.origin = origin
        self.rr = []

    def add(self, name, rtype, data):
        self.rr.append('%s. %d IN %s %s' % (name, TTL, rtype, data))

    def text(self):
        head = ['$ORIGIN %s.' % self.origin,
                '@ %d IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300' % TTL,
                '@ %d IN NS ns.test.' % TTL]
        return '\n'.join(head + self.rr) + '\n'


def main():
    out = sys.argv[1]
    ndom = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    nspawn = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    rnd = random.Random(7208)
    z = Zone('test')
    rev = {}            # reverse zone origin -> Zone
    z.add('ns.test', 'A', '127.0.0.1')

    def ip4(net, host):
        return '%s.%d' % (net, host)

    def ptr(ip, name):
        a = ip.split('.')
        origin = '%s.%s.%s.in-addr.arpa' % (a[2], a[1], a[0])
        zr = rev.setdefault(origin, Zone(origin))
        zr.add('%s.%s' % (a[3], origin), 'PTR', name + '.')

    # ---- providers: shared include chains (as the big mail providers)
    gnets = []
    for k, name in enumerate(['_netblocks.gm.test', '_netblocks2.gm.test',
                              '_netblocks3.gm.test']):
        terms = []
        for j in range(8):
            net = ['192.0.2', '198.51.100', '203.0.113'][j % 3]
            terms.append('ip4:%s.%d/30' % (net, 64 + k * 32 + j * 4))
        terms += ['ip6:2001:db8:%x::/48' % (0x100 + k * 8 + j) for j in range(4)]
        z.add(name, 'TXT', q('v=spf1 ' + ' '.join(terms) + ' ~all'))
        gnets.append(terms)
    z.add('_spf.gm.test', 'TXT', q('v=spf1 include:_netblocks.gm.test '
                                   'include:_netblocks2.gm.test '
                                   'include:_netblocks3.gm.test ~all'))
    z.add('spfd.protection.ms.test', 'TXT',
          q('v=spf1 ip4:198.51.100.128/27 ip6:2001:db8:200::/40 -all'))
    z.add('spf.protection.ms.test', 'TXT',
          q('v=spf1 ip4:192.0.2.160/27 ip4:203.0.113.160/27 '
            'ip6:2001:db8:210::/44 include:spfd.protection.ms.test -all'))
    z.add('sendgrid.test', 'TXT', q('v=spf1 ip4:198.51.100.192/28 '
                                    'ip4:203.0.113.192/28 ~all'))
    z.add('servers.mcsv.test', 'TXT', q('v=spf1 ip4:192.0.2.208/28 '
                                        'ip4:198.51.100.208/28 ~all'))
    z.add('amazonses.test', 'TXT', q('v=spf1 ip4:203.0.113.224/28 -all'))
    z.add('_spf.hostco.test', 'TXT', q('v=spf1 ip4:198.51.100.0/28 '
                                       'a:relay.hostco.test mx:hostco.test -all'))
    z.add('relay.hostco.test', 'A', '203.0.113.240')
    z.add('hostco.test', 'MX', '10 mx1.hostco.test.')
    z.add('hostco.test', 'MX', '20 mx2.hostco.test.')
    z.add('mx1.hostco.test', 'A', '203.0.113.241')
    z.add('mx2.hostco.test', 'A', '203.0.113.242')
    # warm-up domain (outside the set)
    z.add('warmup.test', 'TXT', q('v=spf1 ip4:192.0.2.250 -all'))

    # ---- sender domains
    nets = ['192.0.2', '198.51.100', '203.0.113']
    domains = []        # (domain, shape, good clients)
    for i in range(ndom):
        d = 'd%04d.test' % i
        shape = 'ptr' if i % 50 == 49 else SHAPES[i % len(SHAPES)]
        net = nets[i % 3]
        h = 1 + i % 60          # a host number in the low part of the /24
        good = []
        if shape == 'ip4':
            rec = ('v=spf1 ip4:%s.%d ip4:%s.%d/31 ip4:%s.%d ip6:2001:db8:%x::/48 -all'
                   % (net, h, nets[(i + 1) % 3], h & ~1, nets[(i + 2) % 3], h,
                      0x1000 + i))
            good = [ip4(net, h), ip4(nets[(i + 1) % 3], h & ~1),
                    '2001:db8:%x::25' % (0x1000 + i)]
        elif shape == 'google':
            rec = 'v=spf1 include:_spf.gm.test ~all'
            t = gnets[i % 3][i % 8]
            b = t[4:].split('/')[0]
            good = [b[:b.rindex('.') + 1] + str(int(b.rsplit('.', 1)[1]) + 1),
                    '2001:db8:%x::1' % (0x100 + (i % 3) * 8 + 1)]
        elif shape == 'msft':
            rec = 'v=spf1 ip4:%s.%d include:spf.protection.ms.test -all' % (net, h)
            good = [ip4(net, h), '198.51.100.%d' % (130 + i % 20),
                    '192.0.2.%d' % (170 + i % 20)]
        elif shape == 'amx':
            rec = 'v=spf1 a mx -all'
            z.add(d, 'A', ip4(net, h))
            z.add(d, 'MX', '10 mx1.%s.' % d)
            z.add(d, 'MX', '20 mx2.%s.' % d)
            z.add('mx1.' + d, 'A', ip4(nets[(i + 1) % 3], h))
            z.add('mx2.' + d, 'A', ip4(nets[(i + 2) % 3], h))
            good = [ip4(net, h), ip4(nets[(i + 2) % 3], h)]
        elif shape == 'esp':
            rec = 'v=spf1 mx include:sendgrid.test include:servers.mcsv.test ~all'
            z.add(d, 'MX', '10 mail.%s.' % d)
            good = ['198.51.100.%d' % (209 + i % 6), '192.0.2.%d' % (210 + i % 6),
                    ip4(net, h)]
        elif shape == 'exists':
            rec = 'v=spf1 exists:%{i}._spf.%{d} -all'
            for c in (ip4(net, h), ip4(nets[(i + 1) % 3], h + 1)):
                z.add('%s._spf.%s' % (c, d), 'A', '127.0.0.2')
                good.append(c)
        elif shape == 'redir':
            rec = 'v=spf1 redirect=_spf.hostco.test'
            good = ['198.51.100.%d' % (1 + i % 14), '203.0.113.240', '203.0.113.242']
        elif shape == 'mixed':
            rec = ('v=spf1 a:mail.%s ip4:%s.%d include:amazonses.test '
                   'include:_spf.gm.test -all' % (d, nets[(i + 1) % 3], h))
            good = [ip4(net, h), ip4(nets[(i + 1) % 3], h), '203.0.113.%d' % (225 + i % 10)]
        else:       # ptr
            rec = 'v=spf1 ptr:%s -all' % d
            c = ip4(net, 100 + i // 50)
            ptr(c, 'host%d.%s' % (i, d))
            z.add('host%d.%s' % (i, d), 'A', c)
            good = [c]
        z.add(d, 'TXT', q(rec))
        # the HELO host: an A record; every fifth has its own SPF record
        z.add('mail.' + d, 'A', ip4(net, h))
        if i % 5 == 0:
            z.add('mail.' + d, 'TXT', q('v=spf1 a -all'))
        domains.append((d, shape, good))

    os.makedirs(os.path.join(out, 'zone'), exist_ok=True)
    with open(os.path.join(out, 'zone', 'test.zone'), 'w') as f:
        f.write(z.text())
    zones = [('test', 'test.zone')]
    for origin, zr in sorted(rev.items()):
        fn = origin + '.zone'
        with open(os.path.join(out, 'zone', fn), 'w') as f:
            f.write(zr.text())
        zones.append((origin, fn))
    with open(os.path.join(out, 'nsd.conf'), 'w') as f:
        f.write(NSD_CONF % {'dir': out})
        for origin, fn in zones:
            f.write('zone:\n  name: "%s"\n  zonefile: "%s"\n' % (origin, fn))
    with open(os.path.join(out, 'domains.txt'), 'w') as f:
        for d, shape, _ in domains:
            f.write('%s %s\n' % (d, shape))

    # ---- requests
    serial = [0]

    def pick(good):
        """About 70% authorised clients, the rest not (some IPv6)."""
        if good and rnd.random() < 0.7:
            return rnd.choice(good)
        if rnd.random() < 0.1:
            return '2001:db8:ffff::%x' % rnd.randrange(1, 0xffff)
        return '203.0.113.%d' % rnd.randrange(100, 160)

    def request(d, client, k):
        """A Postfix RCPT request from client for sender domain d."""
        serial[0] += 1
        return ('request=smtpd_access_policy\n'
                'protocol_state=RCPT\n'
                'protocol_name=ESMTP\n'
                'client_address=%s\n'
                'client_name=unknown\n'
                'client_port=%d\n'
                'reverse_client_name=unknown\n'
                'server_address=192.0.2.25\n'
                'server_port=25\n'
                'helo_name=mail.%s\n'
                'sender=user%d@%s\n'
                'recipient=rcpt%d@mx.receiver.test\n'
                'recipient_count=0\n'
                'queue_id=\n'
                'instance=%x.5f5e100.%x.0\n'
                'size=%d\n'
                'etrn_domain=\n'
                'stress=\n'
                'sasl_method=\n'
                'sasl_username=\n'
                'sasl_sender=\n'
                'ccert_subject=\n'
                'ccert_issuer=\n'
                'ccert_fingerprint=\n'
                'ccert_pubkey_fingerprint=\n'
                'encryption_protocol=\n'
                'encryption_cipher=\n'
                'encryption_keysize=0\n'
                'policy_context=\n'
                '\n' % (client, 1024 + serial[0] % 60000, d, k, d, k,
                        0x1000 + serial[0], serial[0], 1000 + k * 7))

    req = os.path.join(out, 'req')
    os.makedirs(os.path.join(req, 'spawn'), exist_ok=True)
    os.makedirs(os.path.join(req, 'conc'), exist_ok=True)

    def write(path, reqs):
        with open(os.path.join(req, path), 'w') as f:
            f.write(''.join(reqs))

    write('warm.txt', [request('warmup.test', '192.0.2.250', 0)])
    order = list(range(ndom))
    rnd.shuffle(order)
    distinct = [request(domains[i][0], pick(domains[i][2]), i) for i in order]
    write('distinct.txt', distinct)
    write('rss.txt', distinct[:RSS_REQS])
    for p in range(CONC_PROCS):
        write('conc/%02d.txt' % p,
              [distinct[(p * CONC_REQS + j) % ndom] for j in range(CONC_REQS)])
    # one request repeated (a google-include sender), one message each:
    # the same instance would be answered from the instance cache
    d, _, good = domains[1]
    write('repeat-warm.txt', [request(d, good[0], 1)])
    write('repeat.txt', [request(d, good[0], 1) for k in range(ndom)])
    # spawn runs: a spread of domains over all shapes
    step = max(1, ndom // nspawn)
    for s in range(nspawn):
        i = (s * step + s) % ndom
        write('spawn/%03d.txt' % s, [request(domains[i][0], pick(domains[i][2]), i)])


NSD_CONF = '''server:
  ip-address: 127.0.0.1
  port: 53
  username: ""
  chroot: ""
  zonesdir: "%(dir)s/zone"
  database: ""
  pidfile: "%(dir)s/nsd.pid"
  xfrdfile: "%(dir)s/xfrd.state"
  zonelistfile: "%(dir)s/zone.list"
  logfile: "%(dir)s/nsd.log"
  server-count: 1
  rrl-ratelimit: 0
  minimal-responses: yes
  refuse-any: yes
  verbosity: 1
remote-control:
  control-enable: yes
  control-interface: "%(dir)s/nsd.ctl"
'''

if __name__ == '__main__':
    main()
