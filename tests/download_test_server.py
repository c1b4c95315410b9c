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

Every request is appended to --log as one JSON line (t, server, method, path,
range, authorization), so tests can count requests. The server exits by
itself after --lifetime seconds, so a crashed test never leaves it running.
Standard library only.
"""
import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}
ARGS = None
PORTS = {}


def log(entry):
    with LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def count(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        server_name = self.server.server_address[0]
        log({"t": "%.6f" % time.time(), "server": server_name, "method": "GET", "path": self.path,
             "range": self.headers.get("Range", ""),
             "authorization": self.headers.get("Authorization", "")})
        parts = self.path.split("?")[0].lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.simple(404, b"bad path\n")
        mode, name = parts
        n = count((server_name, mode, name))
        if mode == "missing":
            return self.simple(404, b"not here\n")
        if mode == "redirect":
            return self.redirect(302, "/ok/" + name)
        if mode in ("hub", "hubbad"):
            with open(os.path.join(ARGS.root, name), "rb") as f:
                data = f.read()
            digest = hashlib.sha256(data + (b"x" if mode == "hubbad" else b"")).hexdigest()
            return self.redirect(302, "/ok/" + name, {"X-Linked-Etag": '"%s"' % digest,
                                                      "X-Linked-Size": str(len(data))})
        if mode == "xredirect":
            return self.redirect(307, "http://127.0.0.2:%d/ok/%s" % (PORTS["127.0.0.2"], name))
        if mode == "r429" and n == 1:
            return self.simple(429, b"slow down\n", {"Retry-After": "1"})
        if mode == "rl429" and n == 1:
            return self.simple(429, b"slow down\n", {"RateLimit": '"api";r=0;t=1'})
        if mode == "e503" and n <= 2:
            return self.simple(503, b"busy\n")
        path = os.path.join(ARGS.root, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.simple(404, b"no such file\n")
        if mode == "corrupt":
            data = bytes([data[0] ^ 1]) + data[1:] if data else b"x"
        first = n == 1
        honor_range = mode not in ("norange",) and not (mode == "shortnr" and not first)
        start = 0
        rng = self.headers.get("Range", "")
        if honor_range and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        half = len(body) // 2
        if first and mode in ("reset", "short", "shortnr", "stall"):
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
                time.sleep(0.02)
            return
        self.wfile.write(body)

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
    ARGS = p.parse_args()
    servers = []
    for host in ("127.0.0.1", "127.0.0.2"):
        s = ThreadingHTTPServer((host, 0), Handler)
        s.daemon_threads = True
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
