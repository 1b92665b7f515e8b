#!/usr/bin/python3
# See LICENSE file for copyright and license details.
"""dnsd.py - loopback DNS server for spfpolicy's tests.

Serves a zone given in the format of the openspf RFC 7208 test suite's
`zonedata` (a mapping: domain name -> list of records) over UDP and TCP on
a loopback address, behaving like a recursive resolver that knows nothing
but that zone.  Usable as a module (class Server) and as a command:

    /usr/bin/python3 tests/dnsd.py [-a ADDR] [-p PORT] [--ready FILE]
                                   [--stats FILE] ZONE.yml

ZONE.yml holds one zonedata mapping (a document with a `zonedata` key is
accepted too).  --ready FILE receives the bound port once the server
listens; --stats FILE receives the query counters (JSON) on SIGUSR1 and at
exit.  SIGHUP reloads ZONE.yml; SIGTERM/SIGINT stop the server.  Nothing is
written to stdout.

Records (each list item is a one-key mapping, or a bare word):

    A: 192.0.2.1            AAAA: 2001:db8::1
    MX: [10, mx.example.com]            (an empty name is the root: null MX)
    PTR: host.example.com   CNAME: target.example.com
    TXT: "text"             TXT: ["several", "strings"]
    SPF: "v=spf1 ..."       (type 99; also copied to TXT unless the name
                             has TXT entries of its own)
    TXT: NONE / SPF: NONE   the type is "present" (stops the SPF->TXT copy)
                            but has no record
    SPF: []                 a TXT/SPF RR with no character-strings at all

A record given as a list of strings is one RR with several
character-strings; a string longer than 255 octets is split into 255-octet
character-strings.  Strings made only of characters U+0000..U+00FF are sent
as those raw octets (so the suite's "\\xEF\\xBB\\xBF" is the UTF-8 BOM);
any other string is sent UTF-8 encoded.  Names are case-insensitive and a
trailing dot is ignored.

Semantics: a name absent from the zone gives NXDOMAIN (also a name that
only has names below it); a present name without records of the asked type
gives NOERROR with no answer (NODATA).
A CNAME is followed inside the zone like a recursive resolver does (at most
10 hops; a loop stops the chain): the answer holds the CNAME chain plus the
final records (NXDOMAIN if the chain ends on an absent name).  Answers have
AA set, RD echoed and RA = RD.  Supported query types: A AAAA MX PTR TXT
SPF(99) CNAME ANY; other types get NODATA.

Special entries, for fault tests:

    TIMEOUT           as in the openspf suite drivers: queries for a type
                      with no record listed before the TIMEOUT entry are
                      never answered (a TIMEOUT listed first: nothing is
                      ever answered for the name)
    TIMEOUT: TXT      (or a list of types) never answer those types only
    SERVFAIL          answer every query for the name with RCODE SERVFAIL
    REFUSED           answer with RCODE REFUSED
    MALFORMED         answer with garbage octets carrying the query's ID
    WRONGNAME         answer records under another owner name
                      (wrongname.invalid); `WRONGNAME: other.name` names it
    TCPSTALL          the UDP answer is truncated (TC set, no records) and
                      over TCP the query is accepted but never answered
    DELAY: 300        answer after 300 ms
    TTL: 0            the TTL of the name's records (default 300)
    SERVFAIL/REFUSED/MALFORMED/WRONGNAME/TCPSTALL also accept a type or list
    of types as value (`SERVFAIL: [TXT]`) to apply to those types only.

TIMEOUT, SERVFAIL and REFUSED met on a name further down a CNAME chain
apply to the whole query; the other special entries apply only to the
queried name.

UDP answers larger than 512 octets (or than the payload size advertised in
the query's EDNS0 OPT record) are sent with TC set and no records; TCP
(length-prefixed, several queries per connection) serves full answers.

Unparsable queries get FORMERR when their header can be read (otherwise
nothing), a question naming more than 255 octets or a label of more than 63
gets FORMERR, other opcodes NOTIMP; nothing a client sends stops the server.

Module use:

    srv = dnsd.Server(zonedata, addr='127.0.0.1', port=0).start()
    ... srv.port ... srv.set_zone(other) ... srv.reset_counts() ...
    srv.counts, srv.total_queries(), srv.log   # log: (proto, name, type)
    srv.stop()

Counters: Server.counts is {'udp': {...}, 'tcp': {...}} where each maps
'total' and query type names ('A', 'TXT', ..., 'INVALID' for unparsable
messages) to numbers of queries received.
"""

import argparse
import copy
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from dnslib import (AAAA, CNAME, DNSHeader, DNSLabel, DNSRecord, EDNS0, MX,
                    PTR, QTYPE, RR, TXT, A)

__all__ = ['Server', 'compile_zone', 'load_zone_file']

T_A, T_NS, T_CNAME, T_PTR, T_MX, T_TXT = 1, 2, 5, 12, 15, 16
T_AAAA, T_OPT, T_SPF, T_ANY = 28, 41, 99, 255

TYPES = {'A': T_A, 'AAAA': T_AAAA, 'MX': T_MX, 'PTR': T_PTR,
         'CNAME': T_CNAME, 'TXT': T_TXT, 'SPF': T_SPF}
FAULTS = ('SERVFAIL', 'REFUSED', 'MALFORMED', 'WRONGNAME', 'TCPSTALL')
TTL = 300
MAX_CNAME_HOPS = 10
DEFAULT_WRONGNAME = (b'wrongname', b'invalid')


def to_bytes(s):
    """Text from the zone to octets (see the module docstring)."""
    if isinstance(s, bytes):
        return s
    s = str(s)
    try:
        return s.encode('latin-1')
    except UnicodeEncodeError:
        return s.encode('utf-8')


def name_labels(name):
    """Zone name (str) -> tuple of label octets, trailing dot ignored."""
    b = to_bytes(name)
    if b.endswith(b'.'):
        b = b[:-1]
    if not b:
        return ()
    return tuple(b.split(b'.'))


def name_key(labels):
    return b'.'.join(labels).lower()


def txt_strings(value):
    """A TXT/SPF value -> list of character-strings (octets, <= 255)."""
    if isinstance(value, (list, tuple)):
        parts = [to_bytes(v) for v in value]
    else:
        parts = [to_bytes(value)]
    out = []
    for p in parts:
        if len(p) <= 255:
            out.append(p)
        else:
            out.extend(p[i:i + 255] for i in range(0, len(p), 255))
    return out


def _types(value):
    """Value of a fault entry -> set of qtypes or None (= all types)."""
    if value is None or value is True:
        return None
    if not isinstance(value, (list, tuple)):
        value = [value]
    out = set()
    for v in value:
        v = str(v).upper()
        if v not in TYPES:
            raise ValueError('unknown record type %r' % v)
        out.add(TYPES[v])
    return out


class Node(object):
    """Compiled records of one owner name."""

    def __init__(self, labels):
        self.labels = labels
        self.rrs = {}          # qtype -> [(rtype, rdata)]
        self.txt_listed = False
        self.cname = None      # target labels
        self.timeout = None    # None: no TIMEOUT; else set of answered types
        self.timeout_types = set()  # from `TIMEOUT: TYPE` entries
        self.faults = {}       # fault -> None (all types) or set of types
        self.wrongname = None
        self.delay_ms = 0
        self.ttl = TTL


def compile_zone(zonedata):
    """Turn a zonedata mapping into {name key: Node}; raises ValueError."""
    zone = {}
    if zonedata is None:
        zonedata = {}
    if not isinstance(zonedata, dict):
        raise ValueError('zonedata must be a mapping')
    for name, records in zonedata.items():
        try:
            _compile_name(zone, name, records)
        except (ValueError, TypeError, AttributeError) as e:
            raise ValueError('%s: %s' % (name, e))
    return zone


def _compile_name(zone, name, records):
    """Add the records of one zonedata name to zone."""
    labels = name_labels(str(name))
    key = name_key(labels)
    node = zone.get(key)
    if node is None:
        node = zone[key] = Node(labels)
    spf = []
    listed = set()         # types with records before TIMEOUT
    spf_before = False     # an SPF record before TIMEOUT
    for rec in records or []:
        if isinstance(rec, str):
            word = rec.strip().upper()
            if word == 'TIMEOUT':
                if node.timeout is None:
                    node.timeout = set(listed)
            elif word in FAULTS:
                node.faults[word] = None
            else:
                raise ValueError('unknown entry %r' % (rec,))
            continue
        if not isinstance(rec, dict):
            raise ValueError('bad record %r' % (rec,))
        for rtype, value in rec.items():
            rtype = str(rtype).upper()
            if rtype == 'TIMEOUT':
                node.timeout_types |= _types(value) or set(TYPES.values())
                continue
            if rtype == 'DELAY':
                node.delay_ms = int(value)
                continue
            if rtype == 'TTL':
                node.ttl = int(value)
                continue
            if rtype == 'WRONGNAME':
                if isinstance(value, str) and value.upper() not in TYPES:
                    node.wrongname = name_labels(value)
                    node.faults[rtype] = None
                else:
                    node.faults[rtype] = _types(value)
                continue
            if rtype in FAULTS:
                node.faults[rtype] = _types(value)
                continue
            if rtype not in TYPES:
                raise ValueError('unknown record type %r' % rtype)
            t = TYPES[rtype]
            if rtype == 'TXT':
                node.txt_listed = True
            if rtype in ('TXT', 'SPF') and value == 'NONE':
                continue
            if node.timeout is None:
                listed.add(t)
                spf_before = spf_before or rtype == 'SPF'
            if rtype in ('TXT', 'SPF'):
                rd = TXT(txt_strings(value))
                if rtype == 'SPF':
                    spf.append(rd)
            elif rtype == 'A':
                rd = A(tuple(ipaddress.IPv4Address(str(value)).packed))
            elif rtype == 'AAAA':
                rd = AAAA(tuple(ipaddress.IPv6Address(str(value)).packed))
            elif rtype == 'MX':
                if not isinstance(value, (list, tuple)) or len(value) != 2:
                    raise ValueError('MX needs [prio, name]')
                rd = MX(DNSLabel(name_labels(str(value[1]))),
                        int(value[0]))
            elif rtype == 'PTR':
                rd = PTR(DNSLabel(name_labels(str(value))))
            else:   # CNAME
                node.cname = name_labels(str(value))
                rd = CNAME(DNSLabel(node.cname))
            node.rrs.setdefault(t, []).append((t, rd))
    if not node.txt_listed and spf:
        # the suite drivers' "auto-magic duplication of SPF to TXT"
        node.rrs.setdefault(T_TXT, []).extend((T_TXT, rd) for rd in spf)
        if node.timeout is not None and spf_before:
            node.timeout.add(T_TXT)


def load_zone_file(path):
    import yaml
    with open(path, 'rb') as f:
        data = yaml.safe_load(f)
    if isinstance(data, dict) and isinstance(data.get('zonedata'), dict):
        data = data['zonedata']
    return data


class Answer(object):
    def __init__(self):
        self.rcode = 0
        self.rrs = []
        self.action = None     # None, 'drop', 'malformed', 'tcpstall'
        self.delay_ms = 0


def _qtype_name(t):
    try:
        return QTYPE.get(t)
    except Exception:
        return 'TYPE%d' % t


def resolve(zone, qlabels, qtype):
    """Look qlabels/qtype up in a compiled zone -> Answer."""
    ans = Answer()
    owner = qlabels
    labels = qlabels
    seen = set()
    for hop in range(MAX_CNAME_HOPS + 1):
        key = name_key(labels)
        seen.add(key)
        node = zone.get(key)
        if node is None:
            ans.rcode = 3
            return ans
        # TIMEOUT
        if qtype in node.timeout_types or (
                node.timeout is not None and qtype not in node.timeout):
            ans.action = 'drop'
            return ans

        def fault(f):
            return f in node.faults and (node.faults[f] is None
                                         or qtype in node.faults[f])
        if fault('SERVFAIL'):
            ans.rcode = 2
            return ans
        if fault('REFUSED'):
            ans.rcode = 5
            return ans
        wrong = None
        if hop == 0:
            ans.delay_ms = node.delay_ms
            if fault('MALFORMED'):
                ans.action = 'malformed'
                return ans
            if fault('TCPSTALL'):
                ans.action = 'tcpstall'
            if fault('WRONGNAME'):
                wrong = node.wrongname or DEFAULT_WRONGNAME
        rname = wrong or owner
        if node.cname is not None and qtype not in (T_CNAME, T_ANY):
            ans.rrs.append(RR(DNSLabel(rname), T_CNAME, ttl=node.ttl,
                              rdata=CNAME(DNSLabel(node.cname))))
            labels = owner = node.cname
            if name_key(labels) in seen or hop == MAX_CNAME_HOPS:
                return ans      # loop or too long: stop the chain
            continue
        if qtype == T_ANY:
            rrsets = [node.rrs[t] for t in sorted(node.rrs)]
        else:
            rrsets = [node.rrs.get(qtype, [])]
        for rrset in rrsets:
            for rtype, rd in rrset:
                ans.rrs.append(RR(DNSLabel(rname), rtype, ttl=node.ttl, rdata=rd))
        return ans
    return ans


def malformed(qid):
    """Garbage that claims to be a response to query qid."""
    return (struct.pack('!HHHHHH', qid, 0x8580, 1, 4, 0, 0)
            + b'\x07garbage\xc0\xff\x00\x10' + b'\xff\x00\x3f' * 7)


class Server(object):
    """Threaded UDP+TCP DNS server for a zonedata mapping."""

    def __init__(self, zonedata, addr='127.0.0.1', port=0):
        self.addr = addr
        self.port = port
        self.family = socket.AF_INET6 if ':' in addr else socket.AF_INET
        self._lock = threading.Lock()
        self._zone = compile_zone(zonedata)
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self._udp = self._tcp = None
        self.errors = []        # exceptions met while answering (strings)
        self.log = []           # (proto, qname, qtype name), last 10000
        self.reset_counts()

    # -- public API ---------------------------------------------------------

    def set_zone(self, zonedata):
        zone = compile_zone(zonedata)
        with self._lock:
            self._zone = zone

    def reset_counts(self):
        with self._lock:
            self._counts = {'udp': {'total': 0}, 'tcp': {'total': 0}}
            self.log = []

    @property
    def counts(self):
        with self._lock:
            return copy.deepcopy(self._counts)

    def total_queries(self):
        """Queries received, once those still queued are read: a client
        may send one just before it exits."""
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                if not select.select([self._udp], [], [], 0)[0]:
                    break
            except (OSError, ValueError):
                break
            time.sleep(0.005)
        time.sleep(0.02)        # the one read last: counted
        with self._lock:
            return self._counts['udp']['total'] + self._counts['tcp']['total']

    def start(self):
        self._bind()
        for target in (self._udp_loop, self._tcp_loop):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for s in [self._udp, self._tcp] + list(self._conns):
            if s is None:
                continue
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(2)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- internals ----------------------------------------------------------

    def _bind(self):
        last = None
        for attempt in range(50):
            udp = socket.socket(self.family, socket.SOCK_DGRAM)
            tcp = socket.socket(self.family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                udp.bind((self.addr, self.port))
                port = udp.getsockname()[1]
                tcp.bind((self.addr, port))
                tcp.listen(64)
            except OSError as e:
                udp.close()
                tcp.close()
                last = e
                if self.port:
                    raise
                continue
            udp.settimeout(0.2)
            tcp.settimeout(0.2)
            self._udp, self._tcp, self.port = udp, tcp, port
            return
        raise last

    def _count(self, proto, qtype, qname):
        with self._lock:
            c = self._counts[proto]
            c['total'] += 1
            c[qtype] = c.get(qtype, 0) + 1
            if len(self.log) < 10000:
                self.log.append((proto, qname, qtype))

    def _answer(self, data, proto):
        """Query octets -> (reply octets or None, action, delay seconds)."""
        try:
            q = DNSRecord.parse(data)
        except Exception:
            self._count(proto, 'INVALID', '')
            if len(data) >= 12 and not data[2] & 0x80:
                qid = struct.unpack('!H', data[:2])[0]
                return struct.pack('!HHHHHH', qid, 0x8001, 0, 0, 0, 0), \
                    None, 0
            return None, None, 0
        h = q.header
        if h.qr:
            self._count(proto, 'INVALID', '')
            return None, None, 0
        if len(q.questions) != 1 or h.opcode != 0:
            self._count(proto, 'INVALID', '')
            rcode = 4 if h.opcode != 0 else 1
            r = DNSRecord(DNSHeader(id=h.id, qr=1, opcode=h.opcode,
                                    rd=h.rd, ra=h.rd, rcode=rcode))
            return r.pack(), None, 0
        question = q.questions[0]
        qtype = question.qtype
        qlabels = tuple(question.qname.label)
        try:
            qname = b'.'.join(qlabels).decode('latin-1')
        except Exception:
            qname = repr(qlabels)
        self._count(proto, _qtype_name(qtype), qname)

        def bare(rcode):        # header only, for unanswerable questions
            return DNSRecord(DNSHeader(id=h.id, qr=1, rd=h.rd, ra=h.rd,
                                       rcode=rcode)).pack()
        if any(len(x) > 63 for x in qlabels) or \
                sum(len(x) + 1 for x in qlabels) + 1 > 255:
            return bare(1), None, 0     # FORMERR, as real servers do
        edns = [r for r in q.ar if r.rtype == T_OPT]
        limit = 512
        if edns:
            limit = max(512, edns[0].rclass)
        with self._lock:
            zone = self._zone
        try:
            ans = resolve(zone, qlabels, qtype)
        except Exception as e:           # never crash on a query
            self.errors.append('resolve %s/%s: %r' % (qname, qtype, e))
            ans = Answer()
            ans.rcode = 2
        delay = ans.delay_ms / 1000.0
        if ans.action == 'drop':
            return None, 'drop', delay
        if ans.action == 'malformed':
            return malformed(h.id), None, delay
        if ans.action == 'tcpstall' and proto == 'tcp':
            return None, 'drop', delay

        def build(rrs, tc=0):
            r = DNSRecord(DNSHeader(id=h.id, qr=1, aa=1, tc=tc, rd=h.rd,
                                    ra=h.rd, rcode=ans.rcode),
                          q=question)
            for rr in rrs:
                r.add_answer(rr)
            if edns:
                r.add_ar(EDNS0(udp_len=1232))
            return r.pack()
        try:
            out = build(ans.rrs)
            if proto == 'udp' and (len(out) > limit
                                   or ans.action == 'tcpstall'):
                out = build([], tc=1)
        except Exception as e:
            self.errors.append('pack %s/%s: %r' % (qname, qtype, e))
            out = bare(2)
        return out, None, delay

    def _udp_loop(self):
        sock = self._udp
        while not self._stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                continue
            try:
                out, action, delay = self._answer(data, 'udp')
            except Exception as e:
                self.errors.append('udp: %r' % (e,))
                continue
            if out is None:
                continue
            if delay > 0:
                t = threading.Timer(delay, self._udp_send, (out, peer))
                t.daemon = True
                t.start()
            else:
                self._udp_send(out, peer)

    def _udp_send(self, out, peer):
        try:
            self._udp.sendto(out, peer)
        except OSError:
            pass

    def _tcp_loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self._tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                continue
            t = threading.Thread(target=self._tcp_conn, args=(conn,),
                                 daemon=True)
            t.start()

    def _recv_exact(self, conn, n):
        buf = b''
        while len(buf) < n:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(n - len(buf))
            except socket.timeout:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def _tcp_conn(self, conn):
        with self._lock:
            self._conns.add(conn)
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():
                hdr = self._recv_exact(conn, 2)
                if hdr is None:
                    break
                n = struct.unpack('!H', hdr)[0]
                data = self._recv_exact(conn, n)
                if data is None:
                    break
                try:
                    out, action, delay = self._answer(data, 'tcp')
                except Exception as e:
                    self.errors.append('tcp: %r' % (e,))
                    continue
                if out is None:
                    continue
                if delay > 0 and self._stop.wait(delay):
                    break
                try:
                    conn.sendall(struct.pack('!H', len(out)) + out)
                except OSError:
                    break
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


# -- command line -------------------------------------------------------------

def _write_atomic(path, text):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description='Loopback DNS server serving a zonedata YAML file.')
    ap.add_argument('-a', '--addr', default='127.0.0.1',
                    help='address to listen on (127.0.0.1, ::1, ...)')
    ap.add_argument('-p', '--port', type=int, default=0,
                    help='port (0: ephemeral, see --ready)')
    ap.add_argument('--ready', metavar='FILE',
                    help='write the bound port into FILE once listening')
    ap.add_argument('--stats', metavar='FILE',
                    help='write query counts (JSON) on SIGUSR1 and at exit')
    ap.add_argument('zone', metavar='ZONE.yml')
    args = ap.parse_args(argv)

    try:
        server = Server(load_zone_file(args.zone), args.addr, args.port)
        server.start()
    except Exception as e:
        sys.stderr.write('dnsd: %s\n' % e)
        return 1

    done = threading.Event()
    pending = []

    def on_signal(signum, frame):
        pending.append(signum)
        done.set()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1,
                signal.SIGHUP):
        signal.signal(sig, on_signal)

    def write_stats():
        if args.stats:
            try:
                _write_atomic(args.stats, json.dumps(
                    server.counts, sort_keys=True, indent=1) + '\n')
            except OSError as e:
                sys.stderr.write('dnsd: %s: %s\n' % (args.stats, e))

    if args.ready:
        _write_atomic(args.ready, '%d\n' % server.port)
    rc = 0
    while True:
        done.wait(1.0)
        done.clear()
        stop = False
        while pending:
            sig = pending.pop(0)
            if sig == signal.SIGUSR1:
                write_stats()
            elif sig == signal.SIGHUP:
                try:
                    server.set_zone(load_zone_file(args.zone))
                except Exception as e:
                    sys.stderr.write('dnsd: reload: %s\n' % e)
            else:
                stop = True
        if stop:
            break
    server.stop()
    write_stats()
    for e in server.errors[:20]:
        sys.stderr.write('dnsd: %s\n' % e)
    return rc


if __name__ == '__main__':
    sys.exit(main())
