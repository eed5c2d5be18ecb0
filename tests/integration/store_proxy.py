#!/usr/bin/env python3
"""A fault proxy on loopback in front of an S3 store (plain HTTP), for the shared store tests.

Every request is relayed to the store as it came (Host header included, so SigV4 signatures
still match), bodies streamed both ways, keep-alive kept. A rule changes that:
  {"method": "GET",            # absent = any method
   "path": "/bucket/prefix/*", # exact request path (query string excluded), or a prefix
                               # ending in "*"; absent = any
   "every": 3,                 # fires on the 3rd, 6th, ... request that matches
   "limit": 1,                 # fires at most this many times (absent = no limit)
   "header": "If-None-Match",  # only requests that carry this header (absent = any); with
                               # status 501: a store without conditional PUT (Swift s3api)
   "action": "cut",            # cut:    forward, relay the status, headers and the first
                               #         "after" bytes of the body, then close ("rst": true:
                               #         a TCP reset instead of a close): a truncated download
                               # cut_request: forward the request with only the first "after"
                               #         bytes of its body, then close both connections: an
                               #         upload the store never sees the end of
                               # reset:  a TCP reset before anything reaches the store
                               # status: answer "status" (503) with an S3 XML error whose
                               #         <Code> is "code" (by default from the status:
                               #         500 InternalError, 501 NotImplemented, 503 SlowDown,
                               #         403 AccessDenied, 404 NoSuchKey); not forwarded
                               # delay:  hold the request "delay_s" seconds, then forward
                               # stall:  forward, relay the headers and the first "after"
                               #         bytes, then send nothing for "delay_s" seconds and
                               #         close: a download that hangs mid-body
                               # flip:   forward, but the body byte at "at" (0) is flipped
                               #         (a corrupt download with the store's own headers)
   "after": 1024, "delay_s": 2.0, "at": 0,
   "rate_bps": 1048576}         # any forwarded rule: relay the answer's body at this rate
                               # (a transfer long enough to kill the store in its middle;
                               # bytes relayed so far: "slow_bytes" in the stats)
Rules are tried in order; each counts the requests that match it, and the first that fires
decides. Control requests (never forwarded, never counted) go to /_proxy/ on the proxy's port:
  POST /_proxy/rules  {"rules": [...]}   replaces the rules (heal: {"rules": []})
  GET  /_proxy/stats  {"requests": [[method, target, status], ...] in order (status 0: the
                      proxy cut, reset or lost the store), "fired": {action: n}}
  POST /_proxy/reset-stats

Run: store_proxy.py --upstream http://127.0.0.1:PORT --port-file F (binds a free port,
writes it to F once it listens). StoreProxy below starts it for a test and stops it by pid."""
import argparse
import http.client
import http.server
import json
import os
import select
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

CHUNK = 65536
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade")
S3_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey",
            500: "InternalError", 501: "NotImplemented", 503: "SlowDown"}


class State:
    """Rules and counters, shared by the handler threads under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.seen = []  # per rule: requests that matched it
        self.reset_stats()

    def reset_stats(self):
        self.log = []
        self.fired = {}
        self.slow_bytes = 0

    def set_rules(self, rules):
        with self.lock:
            self.rules = [dict(r) for r in rules]
            self.seen = [0] * len(self.rules)

    def decide(self, method, path, headers):
        """Logs a request; returns (its log entry, the rule that fires for it or None)."""
        with self.lock:
            entry = [method, path, 0]
            self.log.append(entry)
            bare = path.split("?", 1)[0]
            chosen = None
            for i, r in enumerate(self.rules):
                want = r.get("path")
                if want and not (bare == want or (want.endswith("*") and
                                                  bare.startswith(want[:-1]))):
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                if r.get("header") and r["header"] not in headers:
                    continue
                self.seen[i] += 1
                if chosen is None and self.seen[i] % int(r.get("every", 1)) == 0 and \
                        r.get("limit", 1) > 0:
                    chosen = r
            if chosen is not None:
                if "limit" in chosen:
                    chosen["limit"] -= 1
                a = chosen["action"]
                self.fired[a] = self.fired.get(a, 0) + 1
            return entry, chosen

    def stats(self):
        with self.lock:
            return {"requests": [list(e) for e in self.log], "fired": dict(self.fired),
                    "slow_bytes": self.slow_bytes}


class Cut(Exception):
    """The proxy ended the client's connection on purpose."""


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream_conn = None  # one connection to the store per client connection

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def control(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/_proxy/stats":
            return self.reply(200, json.dumps(st.stats()).encode(), "application/json")
        if self.path == "/_proxy/reset-stats":
            with st.lock:
                st.reset_stats()
            return self.reply(200, b"{}", "application/json")
        if self.path == "/_proxy/rules":
            st.set_rules(json.loads(body or b"{}").get("rules", []))
            return self.reply(200, b"{}", "application/json")
        return self.reply(404, b"{}", "application/json")

    def end_connection(self, rst):
        """Closes the client's connection: a FIN, or a TCP reset (SO_LINGER 0)."""
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        else:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        self.drop_upstream()
        raise Cut()

    def drop_upstream(self):
        if self.upstream_conn is not None:
            self.upstream_conn.close()
            self.upstream_conn = None

    def s3_error(self, rule):
        status = int(rule.get("status", 503))
        code = rule.get("code", S3_CODES.get(status, "InternalError"))
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected by the test proxy</Message></Error>").encode()
        self.reply(status, body)

    def send_request(self, rule):
        """Sends the request line, headers and body to the store, streaming the body; with
        a cut_request rule only its first "after" bytes, then ends both connections."""
        if self.upstream_conn is not None and self.upstream_conn.sock is not None and \
                select.select([self.upstream_conn.sock], [], [], 0)[0]:
            self.drop_upstream()  # the store closed the idle connection: not a fault
        if self.upstream_conn is None:
            up = self.server.upstream
            self.upstream_conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        conn = self.upstream_conn
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP_BY_HOP:
                conn.putheader(k, v)
        conn.endheaders()
        budget = int(rule["after"]) if rule and rule["action"] == "cut_request" else None
        for data in self.request_body():
            if budget is not None and len(data) >= budget:
                conn.send(data[:budget])
                self.end_connection(rule.get("rst", True))
            conn.send(data)
            if budget is not None:
                budget -= len(data)
        if budget is not None:
            self.end_connection(rule.get("rst", True))

    def request_body(self):
        """The request's body in pieces as it came on the wire (chunked framing kept)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0], 16)
                yield line
                if size == 0:
                    while True:  # trailers, up to the empty line
                        t = self.rfile.readline()
                        yield t
                        if t in (b"\r\n", b"\n", b""):
                            return
                left = size + 2  # the data and its CRLF
                while left:
                    data = self.rfile.read(min(CHUNK, left))
                    if not data:
                        return
                    left -= len(data)
                    yield data
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            data = self.rfile.read(min(CHUNK, n))
            if not data:
                return
            n -= len(data)
            yield data

    def relay_response(self, resp, rule):
        """Relays the store's status, headers and body (applying cut or flip)."""
        chunked = resp.getheader("Transfer-Encoding", "").lower() == "chunked"
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "transfer-encoding":
                self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        action = rule["action"] if rule else None
        budget = int(rule.get("after", 0)) if action in ("cut", "stall") else None
        flip_at = int(rule.get("at", 0)) if action == "flip" else None
        rate = float(rule.get("rate_bps", 0)) if rule else 0
        sent = 0
        while True:
            data = resp.read(CHUNK)
            if not data:
                break
            if rate:
                self.wfile.flush()
                time.sleep(len(data) / rate)
                with self.server.state.lock:
                    self.server.state.slow_bytes += len(data)
            if flip_at is not None and sent <= flip_at < sent + len(data):
                i = flip_at - sent
                data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:]
            if budget is not None and sent + len(data) >= budget:
                self.write_piece(data[:budget - sent], chunked)
                self.cut_here(rule)
            self.write_piece(data, chunked)
            sent += len(data)
        if budget is not None:  # a body shorter than "after": cut at its end
            self.cut_here(rule)
        if resp.length:
            # The store's connection ended before its Content-Length (the store was
            # killed): http.client says so only by a short read. The client's connection
            # ends there too, as the store's own would have.
            self.end_connection(True)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        if resp.will_close:
            self.drop_upstream()
            self.close_connection = True

    def cut_here(self, rule):
        if rule["action"] == "stall":
            self.wfile.flush()
            time.sleep(float(rule.get("delay_s", 30)))
        self.end_connection(rule.get("rst", False))

    def write_piece(self, data, chunked):
        if chunked and data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        elif data:
            self.wfile.write(data)

    def handle_any(self):
        if self.path.startswith("/_proxy/"):
            return self.control()
        entry, rule = self.server.state.decide(self.command, self.path, self.headers)
        action = rule["action"] if rule else None
        if action == "reset":
            self.end_connection(True)
        if action == "status":
            for _ in self.request_body():
                pass
            entry[2] = int(rule.get("status", 503))
            return self.s3_error(rule)
        if action == "delay":
            time.sleep(float(rule.get("delay_s", 5)))
        try:
            self.send_request(rule)
            resp = self.upstream_conn.getresponse()
        except OSError:  # the store is gone: so is the answer
            self.end_connection(True)
        entry[2] = resp.status
        self.relay_response(resp, rule)

    def handle_quietly(self):
        try:
            self.handle_any()
        except Cut:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.drop_upstream()
            self.close_connection = True  # the client gave up: nothing to say
        except http.client.HTTPException:
            # The store died in the middle of its answer (killed): the client's answer ends
            # there too, with a reset, as the store's own would.
            self.drop_upstream()
            try:
                self.end_connection(True)
            except Cut:
                pass
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_quietly

    def finish(self):
        self.drop_upstream()
        super().finish()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State()
    srv.upstream = urllib.parse.urlparse(args.upstream)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


class StoreProxy:
    """The proxy as a process of its own for a test: endpoint, rules(), heal(), requests(),
    count(), reset_stats(), stop()."""

    def __init__(self, upstream):
        self.dir = tempfile.mkdtemp(prefix="orderfs-storeproxy-")
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--upstream",
                                      upstream, "--port-file", port_file],
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("store proxy did not start")
            time.sleep(0.01)
        with open(port_file) as f:
            self.endpoint = f"http://127.0.0.1:{int(f.read())}"

    def _post(self, path, obj):
        req = urllib.request.Request(self.endpoint + path, data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def rules(self, rules):
        self._post("/_proxy/rules", {"rules": rules})

    def heal(self):
        self.rules([])

    def stats(self):
        with urllib.request.urlopen(self.endpoint + "/_proxy/stats", timeout=10) as r:
            return json.loads(r.read())

    def requests(self):
        """[(method, target, status)] of every request since the last reset_stats()."""
        return [tuple(e) for e in self.stats()["requests"]]

    def count(self, method=None, prefix=""):
        """Requests (of method, to a target starting with prefix) since reset_stats()."""
        return sum(1 for m, p, _ in self.requests()
                   if (method is None or m == method) and p.startswith(prefix))

    def reset_stats(self):
        self._post("/_proxy/reset-stats", {})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
