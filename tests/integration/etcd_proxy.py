#!/usr/bin/env python3
"""A fault proxy on loopback in front of etcd's JSON gateway (plain HTTP), for the fleet tests.

Every request is forwarded to etcd unless a rule says otherwise. A rule is a JSON object:
  {"path": "/v3/kv/txn",   # exact path, or a prefix ending in "*" ("/v3/kv/*"); absent = any
   "every": 7,             # fires on the 7th, 14th, ... request that matches the path
   "action": "drop",       # drop:  forward, then close the connection without the reply
                           #        (etcd did the work, the client sees no answer)
                           # reset: send a TCP reset before forwarding (nothing reached etcd)
                           # delay: forward, then hold the reply for "delay_s" seconds
                           # stall: hold the request "delay_s" seconds, then forward (etcd
                           #        busy electing a leader: nothing happens meanwhile)
                           # 503:   answer 503 with a gRPC "unavailable" body, not forwarded
                           # error: answer "status" (403) with gRPC "code" (7) and
                           #        "message" ("etcdserver: permission denied"), not forwarded
   "delay_s": 3.0,
   "limit": 2}             # fires at most this many times (absent = no limit)
Rules are tried in order; each counts the requests that match its path, and the first that
fires decides. "v36": true rewrites every error body to etcd 3.6's shape: {"code":N,
"message":"..."} without the "error" field etcd 3.4 adds.

Control, on the proxy's own port (never forwarded):
  POST /_proxy/rules  {"rules": [...], "v36": bool}  replaces the rules (heal: {"rules": []})
  GET  /_proxy/stats  {"requests", "connections" (accepted that sent a forwarded request),
                       "paths": {path: n}, "kinds": {kind: n}, "fired": {action: n},
                       "opened_by": {path: n} (the first request of each connection)}
                       (a kind is the call and the kind of key it names: "range records",
                       "txn claims: put claims", "txn slots: delete slots", ...)
  POST /_proxy/reset-stats
Streams (/v3/watch) are relayed chunk by chunk as etcd sends them.

Run: etcd_proxy.py --upstream http://127.0.0.1:2379 --port-file F  (binds a free port, writes
it to F once it listens). EtcdProxy below starts it for a test and stops it by its pid."""
import argparse
import base64
import http.client
import http.server
import json
import os
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

HOP_HEADERS = ("content-type", "authorization")


class State:
    """Rules and counters, shared by the handler threads under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.seen = []  # per rule: requests that matched its path
        self.v36 = False
        self.reset_stats()

    def reset_stats(self):
        self.requests = 0
        self.connections = 0
        self.opened_by = {}
        self.paths = {}
        self.kinds = {}
        self.fired = {}

    def set_rules(self, rules, v36):
        with self.lock:
            self.rules = [dict(r) for r in rules]
            self.seen = [0] * len(self.rules)
            self.v36 = bool(v36)

    def decide(self, path, body=b""):
        """Counts a request to path; returns the rule that fires for it, or None."""
        kind = call_kind(path, body)
        with self.lock:
            self.requests += 1
            self.paths[path] = self.paths.get(path, 0) + 1
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            chosen = None
            for i, r in enumerate(self.rules):
                want = r.get("path")
                if want and not (path == want or (want.endswith("*") and
                                                  path.startswith(want[:-1]))):
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
            return chosen

    def stats(self):
        with self.lock:
            return {"requests": self.requests, "connections": self.connections,
                    "paths": dict(self.paths), "kinds": dict(self.kinds),
                    "opened_by": dict(self.opened_by),
                    "fired": dict(self.fired)}


def key_kind(b64):
    """The kind of an orderfs key (base64, as the gateway carries it): the path segment after
    the account's hash ("claims", "records", "slots", "members"), else "other"."""
    try:
        key = base64.b64decode(b64 or "").decode("utf-8", "replace")
    except ValueError:
        return "other"
    parts = key.split("/")
    return parts[4] if len(parts) > 5 and parts[0] == "orderfs" else "other"


def call_kind(path, body):
    """What a request does, by its path and body: "range records", "txn claims: put claims"
    (the compare's key, then the success branch's ops), "lease/keepalive", ..."""
    name = path.rsplit("/v3/", 1)[-1]
    try:
        j = json.loads(body) if body else {}
    except ValueError:
        return name
    if not isinstance(j, dict):
        return name
    if name == "kv/txn":
        cmp = (j.get("compare") or [{}])[0]
        ops = []
        for op in j.get("success") or []:
            for verb, arg in op.items():
                ops.append(verb.replace("request_", "").replace("_range", "") + " " +
                           key_kind(arg.get("key")))
        return f"txn {key_kind(cmp.get('key'))}: {', '.join(ops)}"
    if name.startswith("kv/") and "key" in j:
        return f"{name[3:]} {key_kind(j['key'])}"
    return name


def to_v36(body):
    """etcd 3.4's error body {"error","message","code"} in 3.6's shape; others unchanged."""
    try:
        j = json.loads(body)
    except ValueError:
        return body
    if not isinstance(j, dict) or "error" not in j:
        return body
    if isinstance(j["error"], dict):  # a stream's error: {"error":{"grpc_code",..}}
        e = j["error"]
        j = {"code": e.get("grpc_code", 2), "message": e.get("message", "")}
    else:
        j = {"code": j.get("code", 2), "message": j.get("message", j["error"])}
    return json.dumps(j).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client may reuse its connection
    # A reply goes out as two writes (headers, body), a watch event as one chunk each: with
    # Nagle's algorithm the second waits for the client's delayed ACK of the first, about
    # 40 ms a call, which no host without this proxy pays (measured: 48 ms a put through the
    # proxy, 1.6 ms direct). The proxy counts; it must not slow what it counts.
    disable_nagle_algorithm = True

    counted = False  # this connection is in the counters (control ones never are)

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self, body):
        st = self.server.state
        if self.path == "/_proxy/stats":
            return self.reply(200, json.dumps(st.stats()).encode())
        if self.path == "/_proxy/reset-stats":
            with st.lock:
                st.reset_stats()
            return self.reply(200, b"{}")
        if self.path == "/_proxy/rules":
            j = json.loads(body or b"{}")
            st.set_rules(j.get("rules", []), j.get("v36", False))
            return self.reply(200, b"{}")
        return self.reply(404, b"{}")

    def reset(self):
        """A TCP reset: SO_LINGER 0, then close."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def forward(self, body):
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() in HOP_HEADERS}
        conn.request(self.command, self.path, body=body, headers=headers)
        return conn, conn.getresponse()

    def relay_stream(self, resp):
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            data = resp.read1(65536)
            if not data:
                break
            if self.server.state.v36:
                data = to_v36(data)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/_proxy/"):
            return self.control(body)
        if not self.counted:
            self.counted = True
            with self.server.state.lock:
                st = self.server.state
                st.connections += 1
                st.opened_by[self.path] = st.opened_by.get(self.path, 0) + 1
        rule = self.server.state.decide(self.path, body)
        action = rule["action"] if rule else None
        if action == "reset":
            return self.reset()
        if action == "503":
            return self.reply(503, json.dumps({
                "error": "etcdserver: too many requests", "code": 14,
                "message": "etcdserver: too many requests"}).encode())
        if action == "stall":
            time.sleep(float(rule.get("delay_s", 10)))
        if action == "error":
            msg = rule.get("message", "etcdserver: permission denied")
            data = json.dumps({"error": msg, "message": msg, "code": rule.get("code", 7)})
            return self.reply(int(rule.get("status", 403)),
                              to_v36(data.encode()) if self.server.state.v36 else data.encode())
        try:
            conn, resp = self.forward(body)
        except OSError:
            return self.reply(502, b"etcd unreachable", "text/plain")
        try:
            if resp.getheader("Transfer-Encoding", "").lower() == "chunked" and \
                    self.path == "/v3/watch":
                return self.relay_stream(resp)
            data = resp.read()
        finally:
            conn.close()
        if action == "drop":
            self.close_connection = True
            return self.connection.shutdown(socket.SHUT_RDWR)
        if action == "delay":
            time.sleep(float(rule.get("delay_s", 10)))
        if self.server.state.v36:
            data = to_v36(data)
        self.reply(resp.status, data, resp.getheader("Content-Type", "application/json"))

    def handle_quietly(self):
        try:
            self.handle_any()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (its timeout): nothing to say

    do_POST = handle_quietly
    do_GET = handle_quietly


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


class EtcdProxy:
    """The proxy as a process of its own for a test: url, rules(), heal(), stats(), stop()."""

    def __init__(self, upstream):
        self.dir = tempfile.mkdtemp(prefix="orderfs-etcdproxy-")
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--upstream",
                                      upstream, "--port-file", port_file],
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("etcd proxy did not start")
            time.sleep(0.01)
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{int(f.read())}"

    def _post(self, path, obj):
        req = urllib.request.Request(self.url + path, data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def rules(self, rules, v36=False):
        self._post("/_proxy/rules", {"rules": rules, "v36": v36})

    def heal(self):
        self.rules([])

    def stats(self):
        with urllib.request.urlopen(self.url + "/_proxy/stats", timeout=10) as r:
            return json.loads(r.read())

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
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


if __name__ == "__main__":
    main()
