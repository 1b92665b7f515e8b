# See LICENSE file for copyright and license details.
"""policyclient.py - what the Python test runners share (tests/listener.py,
tests/listener_abuse.py, tests/abuse.py, tests/faults.py): policy
requests, socket addresses, a connection that reads replies, and the
ok/FAIL lines.

    request(ATTRS, EXTRA, END)  one request as bytes (see there)
    address(SPEC)       "unix:PATH", "inet:HOST:PORT" or "inet:[V6]:PORT"
                        as (family, address)
    Conn(SPEC, ...)     a connection; TIMEOUT is the default of its
                        connect and of a reply (a subclass may change it)
    Tally(PREFIX)       "ok PREFIX/NAME" and "FAIL PREFIX/NAME: WHY" lines,
                        counted; end() prints "N passed, N failed"
    report(NAME, GOOD, WHY)  "ok listener/NAME" or "FAIL listener/NAME: WHY"
    note(TEXT)          "# TEXT"
"""

import socket
import struct
import time


def address(spec):
    kind, rest = spec.split(':', 1)
    if kind == 'unix':
        return socket.AF_UNIX, rest
    host, port = rest.rsplit(':', 1)
    host = host.strip('[]')
    return (socket.AF_INET6 if ':' in host else socket.AF_INET), (host, int(port))


def request(attrs, extra=(), end=b'\n'):
    """One request as smtpd sends it (bytes, its blank line included):
    request=, protocol_state=RCPT, protocol_name=ESMTP, then ATTRS, the
    (name, value) pairs in order (str or bytes), then the EXTRA lines as
    they are (bytes: they may be malformed); END ends every line."""
    lines = [b'request=smtpd_access_policy', b'protocol_state=RCPT',
             b'protocol_name=ESMTP']
    for name, value in attrs:
        if not isinstance(value, bytes):
            value = value.encode()
        lines.append(name.encode() + b'=' + value)
    lines += list(extra)
    return b''.join(l + end for l in lines) + end


class Tally(object):
    """The ok/FAIL lines of one runner, counted for its last line."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.npass = self.nfail = 0

    def report(self, name, good, why=''):
        """Print ok or FAIL for NAME; returns GOOD."""
        if good:
            self.npass += 1
            print('ok %s/%s' % (self.prefix, name), flush=True)
        else:
            self.nfail += 1
            print('FAIL %s/%s: %s' % (self.prefix, name, why), flush=True)
        return good

    def end(self):
        """The runner's last line; its exit status (1: something failed)."""
        print('%d passed, %d failed' % (self.npass, self.nfail), flush=True)
        return 1 if self.nfail else 0


# the listener runners' lines are counted by tests/listener.sh
report = Tally('listener').report


def note(text):
    print('# ' + text, flush=True)


class Conn(object):
    TIMEOUT = 10.0      # s: connect, and a reply by default

    def __init__(self, spec, timeout=None, source=None, rcvbuf=0):
        """source: the local address to bind; rcvbuf: SO_RCVBUF (small:
        a client that does not read)."""
        fam, addr = address(spec)
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(self.TIMEOUT if timeout is None else timeout)
        if source:
            self.s.bind((source, 0))
        self.s.connect(addr)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def reply(self, timeout=None):
        """The next reply (up to and with its empty line); EOFError at
        end of input (a reset too), socket.timeout when none comes in
        time."""
        timeout = self.TIMEOUT if timeout is None else timeout
        end = time.time() + timeout
        while b'\n\n' not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise socket.timeout('no reply in %.1f s' % timeout)
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b''
            if not d:
                raise EOFError('connection closed (%r pending)' % self.buf[:60])
            self.buf += d
        i = self.buf.index(b'\n\n') + 2
        r, self.buf = self.buf[:i], self.buf[i:]
        return r

    def ask(self, req, timeout=None):
        self.send(req)
        return self.reply(timeout)

    def eof(self, timeout):
        """Seconds until the server closes, None if it does not in time."""
        t0 = time.time()
        while time.time() - t0 < timeout:
            self.s.settimeout(max(0.01, timeout - (time.time() - t0)))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                return time.time() - t0
            if not d:
                return time.time() - t0
            self.buf += d
        return None

    def closed(self):
        """Whether the server has closed the connection (not waiting);
        what it sent meanwhile is read."""
        t = self.s.gettimeout()
        self.s.settimeout(0)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (BlockingIOError, socket.timeout):
            return False
        except OSError:
            return True
        finally:
            self.s.settimeout(t)

    def close(self, rst=False):
        """rst: close with a reset (SO_LINGER 0), not a FIN."""
        try:
            if rst:
                self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  struct.pack('ii', 1, 0))
            self.s.close()
        except OSError:
            pass
