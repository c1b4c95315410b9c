#!/usr/bin/env python3
"""Deliberately unreliable HTTP/1.1 file server for sp_download's tests.

Serves the files of --root on two loopback addresses (127.0.0.1 and
127.0.0.2, so a redirect can change host). The first path component picks a
misbehaviour; the rest names the file under --root:

  /ok/NAME           200/206 with Range support
  /norange/NAME      ignores Range, always 200 with the whole file
  /r429/NAME         first request: 429 + Retry-After: 1, then ok
  /rl429/NAME        first request: 429 + RateLimit: "api";r=0;t=1, then ok
  /e503/NAME         first two requests: 503 (no Retry-After), then ok
  /reset/NAME        first request: half the body, then a TCP reset; then ok
  /short/NAME        first request: half the body, then a clean close; then ok
  /shortnr/NAME      first request: half the body and close; later: like norange
  /stall/NAME        first request: half the body, then silence (up to 10 s); then ok
  /redirect/NAME     302 to /ok/NAME on the same server (relative Location)
  /xredirect/NAME    307 to http://127.0.0.2:PORT2/ok/NAME (another host)
  /hub/NAME          like the Hub: 302 to /ok/NAME with X-Linked-Etag (the
                     file's SHA-256) and X-Linked-Size
  /hubbad/NAME       the same, but X-Linked-Etag is the SHA-256 of other bytes
  /corrupt/NAME      always serves the file with one byte changed
  /missing/NAME      always 404
  /slow/NAME         ok, but 64 KiB every 20 ms
  /flip/NAME         first request: half the body of NAME, then a clean close;
                     later requests serve NAME.v2 (the file changed on the server)
  /cut503/NAME       first request: half the body and close; second: 503; then ok
                     (so a run with --retries 0 leaves a .part for the next run)
  /extra/NAME        ok, but 0.1 s after the body some junk bytes beyond
                     Content-Length follow on the kept-alive connection
  /loop/NAME         302 to itself, forever
  /climit/NAME       a server that allows few transfers at once: 429 with
                     Retry-After: 1 while `limit` (query, default 2) /climit/
                     transfers are in flight; served at 64 KiB every 20 ms.

Validators: 200/206 answers carry a strong ETag and a Last-Modified derived
from the bytes served (so a changed file changes them), and a Range request
with an If-Range that matches neither gets the whole file (200), as RFC 9110
says. The query string changes that: validators=etag|lm|weak|none sends only
a strong ETag, only Last-Modified, only a weak ETag, or nothing;
ifrange=ignore answers Range whatever If-Range says (a server that would join
an old head to a new tail).

With --tls-cert/--tls-key both addresses serve HTTPS instead of HTTP.

Every request is appended to --log as one JSON line (t, server, method, path,
range, if_range, authorization), so tests can count requests. The server exits by
itself after --lifetime seconds, so a crashed test never leaves it running.
Standard library only.
"""
import argparse
import email.utils
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

LOCK = threading.Lock()
COUNTS = {}
IN_FLIGHT = [0]
ARGS = None
PORTS = {}


def log(entry):
    with LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def validators_of(data, style):
    """ETag / Last-Modified headers for these bytes, in the given style."""
    digest = hashlib.sha256(data).hexdigest()
    out = {}
    if style in ("both", "etag"):
        out["ETag"] = '"%s"' % digest[:16]
    elif style == "weak":
        out["ETag"] = 'W/"%s"' % digest[:16]
    if style in ("both", "lm"):
        out["Last-Modified"] = email.utils.formatdate(1500000000 + int(digest[:7], 16), usegmt=True)
    return out


def count(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    tls = None  # ssl.SSLContext when serving HTTPS

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls:  # handshake in the handler's thread, so one bad client cannot block the others
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            return  # failed handshakes (the client refused our certificate) are expected in the tests
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def log_message(self, fmt, *args):  # quiet
        pass

    def limited(self, name, limit):
        with LOCK:
            busy = IN_FLIGHT[0] >= limit
            if not busy:
                IN_FLIGHT[0] += 1
        if busy:
            return self.simple(429, b"too many at once\n", {"Retry-After": "1"})
        try:
            with open(os.path.join(ARGS.root, name), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(0, len(data), 65536):
                self.wfile.write(data[i:i + 65536])
                self.wfile.flush()
                time.sleep(0.02)
        finally:
            with LOCK:
                IN_FLIGHT[0] -= 1

    def do_GET(self):
        server_name = self.server.server_address[0]
        log({"t": "%.6f" % time.time(), "server": server_name, "method": "GET", "path": self.path,
             "range": self.headers.get("Range", ""), "if_range": self.headers.get("If-Range", ""),
             "authorization": self.headers.get("Authorization", "")})
        query = parse_qs(self.path.split("?", 1)[1]) if "?" in self.path else {}
        style = query.get("validators", ["both"])[0]
        parts = self.path.split("?")[0].lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.simple(404, b"bad path\n")
        mode, name = parts
        n = count((server_name, mode, name))
        if mode == "missing":
            return self.simple(404, b"not here\n")
        if mode == "redirect":
            return self.redirect(302, "/ok/" + name)
        if mode == "loop":
            return self.redirect(302, self.path)
        if mode in ("hub", "hubbad"):
            with open(os.path.join(ARGS.root, name), "rb") as f:
                data = f.read()
            digest = hashlib.sha256(data + (b"x" if mode == "hubbad" else b"")).hexdigest()
            return self.redirect(302, "/ok/" + name, {"X-Linked-Etag": '"%s"' % digest,
                                                      "X-Linked-Size": str(len(data))})
        if mode == "xredirect":
            return self.redirect(307, "http://127.0.0.2:%d/ok/%s" % (PORTS["127.0.0.2"], name))
        if mode == "climit":
            return self.limited(name, int(query.get("limit", ["2"])[0]))
        if mode == "r429" and n == 1:
            return self.simple(429, b"slow down\n", {"Retry-After": query.get("wait", ["1"])[0]})
        if mode == "rl429" and n == 1:
            return self.simple(429, b"slow down\n", {"RateLimit": '"api";r=0;t=1'})
        if (mode == "e503" and n <= 2) or (mode == "cut503" and n == 2):
            return self.simple(503, b"busy\n")
        path = os.path.join(ARGS.root, name + (".v2" if mode == "flip" and n > 1 else ""))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.simple(404, b"no such file\n")
        if mode == "corrupt":
            data = bytes([data[0] ^ 1]) + data[1:] if data else b"x"
        first = n == 1
        honor_range = mode not in ("norange",) and not (mode == "shortnr" and not first)
        validators = validators_of(data, style)
        if_range = self.headers.get("If-Range")
        if if_range is not None and query.get("ifrange", [""])[0] != "ignore":
            strong = [v for v in validators.values() if not v.startswith("W/")]
            honor_range = honor_range and if_range in strong
        start = 0
        rng = self.headers.get("Range", "")
        if honor_range and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                for k, v in validators.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in validators.items():
            self.send_header(k, v)
        self.end_headers()
        half = len(body) // 2
        if first and mode in ("reset", "short", "shortnr", "stall", "flip", "cut503"):
            self.wfile.write(body[:half])
            self.wfile.flush()
            if mode == "stall":
                time.sleep(10)
            if mode == "reset":  # RST instead of FIN, once the client has had time to read the half
                time.sleep(0.3)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if mode == "slow":
            for i in range(0, len(body), 65536):
                self.wfile.write(body[i:i + 65536])
                self.wfile.flush()
                time.sleep(float(query.get("delay", ["0.02"])[0]))
            return
        self.wfile.write(body)
        if mode == "extra":  # late enough that the client has put the connection back in its pool
            self.wfile.flush()
            time.sleep(0.1)
            self.wfile.write(b"junk after the body\r\n")

    def simple(self, code, body, headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, code, location, headers=None):
        self.send_response(code)
        self.send_header("Location", location)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--lifetime", type=float, default=120)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    ARGS = p.parse_args()
    tls = None
    if ARGS.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
    servers = []
    for host in ("127.0.0.1", "127.0.0.2"):
        s = Server((host, 0), Handler)
        s.tls = tls
        PORTS[host] = s.server_address[1]
        servers.append(s)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (PORTS["127.0.0.1"], PORTS["127.0.0.2"]))
    os.rename(tmp, ARGS.port_file)
    time.sleep(ARGS.lifetime)
    sys.exit(0)


if __name__ == "__main__":
    main()
