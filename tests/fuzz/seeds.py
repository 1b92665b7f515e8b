#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""seeds.py - write the seed corpora of the fuzz targets.

    /usr/bin/python3 tests/fuzz/seeds.py [SUITE.yml]

Rewrites tests/fuzz/corpus/<target>/ from scratch: hand-made request
streams and config files, SPF records from the RFC 7208 test suite
(default ../shared/spf-suite/rfc7208-tests.yml beside the tree), and DNS
answers captured from tests/dnsd.py over loopback.  Run it by hand when
the formats change; tests/fuzz/run.sh only reads the result.  Without
the suite or python3-dnslib, fuzz_spf or fuzz_dns is left as it is.  File names
are the first 12 hex digits of the content's SHA-1, as libFuzzer names.
"""

import hashlib
import os
import shutil
import socket
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests'))


def write(target, blobs):
    d = os.path.join(HERE, 'corpus', target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for b in blobs:
        if isinstance(b, str):
            b = b.encode('latin-1')
        h = hashlib.sha1(b).hexdigest()[:12]
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, h), 'wb') as f:
            f.write(b)
    print('%s: %d files, %d bytes' % (target, len(seen),
          sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))))


# fuzz_request: a variant byte (see fuzz_request.c), then the stream

def request(client='192.0.2.1', helo='helo.test', sender='user@pass.test',
            rcpt='user@receiver.test', instance='1a2b.5f3c4d2e.1', extra=''):
    r = ('request=smtpd_access_policy\nprotocol_state=RCPT\n'
         'protocol_name=ESMTP\n')
    if client is not None:
        r += 'client_address=%s\nclient_name=mail.pass.test\n' % client
        r += 'reverse_client_name=mail.pass.test\n'
    if helo is not None:
        r += 'helo_name=%s\n' % helo
    if sender is not None:
        r += 'sender=%s\n' % sender
    if rcpt is not None:
        r += 'recipient=%s\n' % rcpt
    r += 'recipient_count=0\nqueue_id=8045F2AB23\n'
    if instance is not None:
        r += 'instance=%s\n' % instance
    r += 'size=12345\nccert_subject=\nsasl_method=\n' + extra + '\n'
    return r


def request_seeds():
    out = []
    domains = ['pass.test', 'fail.test', 'softfail.test', 'neutral.test',
               'perm.test', 'two.test', 'temp.test', 'slow.test',
               'none.test', 'nomail.test', 'include.test',
               'includetemp.test', 'includenone.test', 'redirect.test',
               'redirnone.test', 'macro.test', 'macro2.test', 'cname.test',
               'cname2.test', 'loop.test', 'limit.test', 'void.test',
               'manymx.test', 'nullmx.test', 'ip6.test', 'long.test',
               'rnp.test', 'ptrwl.test', 'nx.test']
    for i, d in enumerate(domains):
        v = [0, 1, 2, 4, 8, 16, 32, 64, 128, 3, 5, 6, 7][i % 13]
        ip = ['192.0.2.1', '2001:db8::1', '198.51.100.7'][i % 3]
        out.append(chr(v) + request(client=ip, sender='user@' + d,
                                    instance='inst.%d' % i))
    # several requests on one connection, one instance, several recipients
    out.append('\x00' + request() + request(rcpt='other@receiver.test') +
               request(instance='2.2.2', sender='x@fail.test'))
    out.append('\x10' + request(rcpt='postmaster@receiver.test', sender='') +
               request(rcpt='strict@receiver.test', sender='a@neutral.test',
                       instance='s') +
               request(rcpt='bad@receiver.test', instance='b'))
    # HELO only, bounces, odd clients, skipped and whitelisted clients
    out.append('\x00' + request(sender='', helo='helo.test'))
    out.append('\x20' + request(sender='<>', helo='fail.test'))
    out.append('\x00' + request(helo='', sender='user@pass.test'))
    out.append('\x00' + request(client='127.0.0.1'))
    out.append('\x00' + request(client='::ffff:192.0.2.1'))
    out.append('\x08' + request(client='192.0.2.130', helo='helo.wl.test'))
    out.append('\x08' + request(client='198.51.100.9'))
    out.append('\x00' + request(client='not-an-ip'))
    out.append('\x00' + request(client=None))
    out.append('\x00' + request(client='192.0.2.1', helo=None, sender=None))
    out.append('\x00' + request(sender='User@PASS.TEST', helo='[192.0.2.1]'))
    out.append('\x00' + request(sender='postmaster', helo='single'))
    out.append('\x00' + request(sender='a@b@pass.test'))
    out.append('\x40' + request(sender='quote"back\\slash@fail.test'))
    # protocol edge cases: long lines, NUL, garbage, CR, no final newline
    out.append('\x00' + request(extra='x=' + 'a' * 4100 + '\n'))
    out.append('\x00' + 'helo_name=' + 'h' * 4094 + '\n\n')
    out.append('\x00' + request(extra='bad=nul\x00inside\n'))
    out.append('\x00' + 'garbage line\n =x\nname =value\n\t\n' + request())
    out.append('\x00' + request().replace('\n', '\r\n'))
    out.append('\x00' + request()[:-1])
    out.append('\x00\n\n\n')
    out.append('\xff' + request(sender='user@fail.test'))
    out.append('\x81' + request(sender='user@softfail.test'))
    return out


# fuzz_config

CONF_KEYS = '''debugLevel = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
Whitelist = 192.0.2.0/24, 2001:db8::/32
Domain_Whitelist = pass.test,example.com
HELO_Whitelist = helo.example.com
Domain_Whitelist_PTR = example.org
Reject_Not_Pass_Domains = gmail.com,aol.com
No_Mail = False
HELO_pass_restriction = helo_passed_spf
Mail_From_pass_restriction = mfrom_passed_spf
Prospective = 192.0.2.1
TestOnly = 1
SPF_Enhanced_Status_Codes = Yes
Header_Type = SPF
Hide_Receiver = No
Authserv_Id = HOSTNAME
Lookup_Time = 20
Whitelist_Lookup_Time = 10
Void_Limit = 2
Reason_Message = Message {rejectdefer} due to: {spf}. Please see {url}
Mock = False
Per_User = text,/etc/postfix/spf-per-user
Nameservers = 127.0.0.1:5353,[::1]:53
Default_Explanation = SPF fail - not authorized
Explanation_URL = http://www.openspf.net/Why?s={scope};id={identity};ip={ip};r={receiver}
Receiver_Domain = mx.example.com
DNS_Timeout_ms = 2000
DNS_Tries = 3
Error_Action = dunno
Listen_User = nobody
Listen_Group = nogroup
Listen_Mode = 0660
Listen_Owner = postfix
Max_Connections = 100
Idle_Timeout = 300
defaultSeedOnly = 1
Socket = inet:127.0.0.1:8890
PidFile = /run/spf.pid
UserID = nobody
UMask = 007
InternalHosts = 127.0.0.1
IntHosts = 127.0.0.1
MacroList = daemon_name|{daemon_name}
'''


def config_seeds():
    out = []
    for p in ['/etc/postfix-policyd-spf-python/policyd-spf.conf',
              '/etc/python-policyd-spf/policyd-spf.conf']:
        if os.path.exists(p):
            out.append(open(p, 'rb').read())
    out.append(CONF_KEYS)
    lines = CONF_KEYS.splitlines(True)
    for i in range(0, len(lines), 6):
        out.append(''.join(lines[i:i + 6]))
    out += [
        'debugLevel = 9\nVoid_Limit = -1\nDNS_Tries = 0\nTestOnly = x\n'
        'Lookup_Time = 99999999999999999999\nIdle_Timeout = \n',
        'Header_Type = SPF,AR\nAuthserv_Id = \n',
        'Header_Type = AR\nAuthserv_Id = mx.example.com\n',
        'Reason_Message = {rejectdefer:*^30} {{x}} {spf:.5} {url:>80s}\n'
        'Explanation_URL = {scope}{identity}{ip}{receiver}\n',
        'Reason_Message = {nope}\nExplanation_URL = {scope\n',
        'Reason_Message = }{\nExplanation_URL = {ip:!r}\n',
        'Whitelist = 192.0.2.1/24, 10.0.0.0/8 , fe80::/10, ::/129, x\n'
        'skip_addresses = \n',
        'Per_User = text,/a,b\nPer_User = sql,x\n',
        'Unknown_Key = 1\n# comment\n   # indented comment\nnoequals\n=\n'
        ' = value\nHELO_reject=Fail # trailing comment\n',
        'Mock = Yes\nMock = off\nMock = 0\nMock = TRUE\n',
        'TestOnly = -5\nTestOnly = 4294967296\n',
        'Domain_Whitelist = a.test,,b.test, ,\n'
        'Reject_Not_Pass_Domains = Example.COM.\n',
        'HELO_reject = x' + 'y' * 8200 + '\nDebugLevel = 1\n',
        'Reason_Message = ' + '{spf:>9999}' * 3 + '\n',
        # as a Per_User file too
        'user@example.com,HELO_reject=False|Mail_From_reject=No_Check|'
        'Whitelist=192.0.2.0/24|debugLevel=3\n'
        'postmaster@example.com , Header_Type=AR|Nameservers=x|=|Void_Limit\n',
        '\n', '', '\x00\xff\r\n',
    ]
    return out


# fuzz_spf: lines TXT(top), TXT(others), DNS bytes, local part

def suite_records(path):
    docs = list(yaml.safe_load_all(open(path)))
    recs = {}
    tests = []
    for d in docs:
        zone = d.get('zonedata') or {}
        for name, rrs in zone.items():
            for rr in rrs:
                if isinstance(rr, dict):
                    for k, v in rr.items():
                        if k in ('SPF', 'TXT') and v != 'NONE':
                            if isinstance(v, list):
                                v = ''.join(str(x) for x in v)
                            recs.setdefault(name.lower(), []).append(str(v))
        for t in (d.get('tests') or {}).values():
            tests.append(t)
    return recs, tests


def spf_seeds(suite):
    out = []
    if not os.path.exists(suite):
        print('fuzz_spf: left as it is: no suite at %s' % suite)
        return None
    if True:
        recs, tests = suite_records(suite)
        used = set()
        for t in tests:
            mf = str(t.get('mailfrom', ''))
            dom = mf.split('@')[-1].lower()
            local = mf.split('@')[0] if '@' in mf else 'postmaster'
            top = [r for r in recs.get(dom, []) if r.lower().startswith('v=spf1')]
            if not top or top[0] in used:
                continue
            used.add(top[0])
            other = ''
            for tok in top[0].split():
                for pfx in ('include:', 'redirect=', 'exp='):
                    if tok.lower().startswith(pfx):
                        o = recs.get(tok[len(pfx):].lower())
                        if o:
                            other = o[0]
            dns = bytes([0, 0x10, 0x14, 0x04, 0x91, 0x10])
            b = (top[0].encode('latin-1', 'replace') + b'\n' +
                 other.encode('latin-1', 'replace') + b'\n' + dns + b'\n' +
                 local.encode('latin-1', 'replace'))
            out.append(b)
    own = [
        ('v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all', '', b''),
        ('v=spf1 a mx ptr exists:%{i}.x.test -all', '', b'\x00\x10\x04\x10\x10\x10'),
        ('v=spf1 include:i.test -all', 'v=spf1 ?all', b'\x00\x00'),
        ('v=spf1 redirect=r.test', 'v=spf1 mx/24//64 ~all', b'\x00\x00\x08\x30'),
        ('v=spf1 -all exp=e.test', '%{i} %{c} %{r} %{t} %{S} %{l1r-} %_%%%-', b''),
        ('v=spf1 exists:%{ir}.%{l1r-}.%{d2}._spf.%{v}.%{o}.%{h}.%{p} -all', '', b'\x00\x14\x10'),
        ('v=spf1 ptr:d.test -all', '', b'\x00\x10\x10\x10'),
        ('v=spf1 a:%{d100r+-.,/_=}x.test -all', '', b'\x80\x81'),
        ('v=spf1 mx -all', '', b'\x00\x40'),
        ('v=spf1 mx:m.test/0 a//0 ?all', '', b'\x00\x3c\x11'),
        ('v=spf1 ' + 'a:a%d.test ' % 1 * 11 + '-all', '', b''),
        ('v=spf1 include:a.test include:b.test', 'v=spf1 include:c.test', b'\x00\x00\x00\x05\x05\x05'),
        ('v=spf1 unknown=%{x} foo=bar -all', '', b''),
        ('v=spf1 +all', 'v=spf1 -all', b'\x07'),
        ('v=spf1 ip6:::ffff:192.0.2.1 ip4:192.0.2.1/32 -all', '', b''),
        ('spf2.0/pra -all', '', b''),
        ('v=spf1 ' + 'ip4:198.51.100.1 ' * 40 + '-all', '', b'\x08'),
    ]
    for top, other, dns in own:
        out.append(top.encode() + b'\n' + other.encode() + b'\n' + dns + b'\nuser')
    return out


# fuzz_dns: answers captured from tests/dnsd.py

def dns_seeds():
    try:
        import dnsd
        from dnslib import DNSRecord, EDNS0
    except ImportError as e:
        print('fuzz_dns: left as it is: no capture (%s; run /usr/bin/python3 '
              'with python3-dnslib)' % e)
        return None
    zone = {
        'd.test': [{'A': '192.0.2.1'}, {'A': '192.0.2.2'}, {'AAAA': '2001:db8::1'},
                   {'MX': [10, 'mx.d.test']}, {'MX': [20, 'mx2.d.test']},
                   {'TXT': 'v=spf1 a mx -all'}, {'TXT': ['v=spf1 ', 'ip4:192.0.2.0/24 ', '-all']},
                   {'TXT': 'x' * 300}],
        'mx.d.test': [{'A': '192.0.2.10'}],
        'c.test': [{'CNAME': 'd.test'}],
        'c2.test': [{'CNAME': 'c.test'}],
        'loop.test': [{'CNAME': 'loop2.test'}],
        'loop2.test': [{'CNAME': 'loop.test'}],
        'dangling.test': [{'CNAME': 'nx.test'}],
        '1.2.0.192.in-addr.arpa': [{'PTR': 'd.test'}, {'PTR': 'mx.d.test'}],
        'null.test': [{'MX': [0, '']}],
        'empty.test': [{'TXT': []}],
        'bin.test': [{'TXT': '\x00\x01\xff\"\\'}],
        'sf.test': ['SERVFAIL'],
        'wrong.test': ['WRONGNAME', {'A': '192.0.2.9'}, {'TXT': 'v=spf1 -all'}],
        'bad.test': ['MALFORMED'],
    }
    srv = dnsd.Server(zone, addr='127.0.0.1', port=0).start()
    out = []
    try:
        for name in zone:
            for qt in ('A', 'AAAA', 'MX', 'PTR', 'TXT', 'CNAME'):
                if name in ('loop2.test',) or (name.endswith('arpa') and qt != 'PTR'):
                    continue
                q = DNSRecord.question(name, qt)
                q.header.id = 0x5350	# fixed: the same seeds each time
                q.add_ar(EDNS0(udp_len=1232))
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(2)
                try:
                    s.sendto(q.pack(), ('127.0.0.1', srv.port))
                    out.append(s.recv(65535))
                except socket.timeout:
                    pass
                finally:
                    s.close()
    finally:
        srv.stop()
    return out


# fuzz_idn: the first 400 of the names tests/idn.sh compares with idn2(1)
# (the hand-picked ones, then random ones)

def idn_seeds():
    import subprocess
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'idn', 'gen.py'), '400'],
                         capture_output=True, check=True).stdout
    return [n for n in out.split(b'\n') if n]


def main():
    suite = (sys.argv[1] if len(sys.argv) > 1 else
             os.path.join(ROOT, '..', 'shared', 'spf-suite', 'rfc7208-tests.yml'))
    write('fuzz_request', request_seeds())
    write('fuzz_config', config_seeds())
    write('fuzz_idn', idn_seeds())
    for target, blobs in (('fuzz_spf', spf_seeds(suite)), ('fuzz_dns', dns_seeds())):
        if blobs is not None:	# never shrink a corpus for want of a tool
            write(target, blobs)


if __name__ == '__main__':
    main()
