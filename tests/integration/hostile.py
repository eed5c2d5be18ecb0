"""A hostile download server for tests: answers GET with one twist at a time.

It binds 127.0.0.1 port 0 in a thread of the test's own process; the twist is a plain
attribute the test sets before orderfs asks. Counts what it sent so a test can wait on it."""
import http.server
import json
import socketserver
import ssl
import threading
import urllib.error
import urllib.request
import time

CHUNK = 64 * 1024


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server.owner
        srv.requests += 1
        twist = getattr(self, "twist_" + srv.twist)
        try:
            twist(srv)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # orderfs hung up: what a hostile body is for

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.posted = self.rfile.read(n)
        self.do_GET()

    def _json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def twist_mogujie(self, srv):
        """A Mogujie order query that never ends: 50 new orders a page, hasNext always
        true, totalNum srv.total_num on the first page, then srv.total_step more a page."""
        with srv.lock:
            srv.pages += 1
            first = srv.next_id
            srv.next_id += 50
            total = srv.total_num + (srv.pages - 1) * srv.total_step
        orders = [{"shopOrderId": i} for i in range(first, first + 50)]
        self._json({"status": {"code": "0000000", "msg": "ok"}, "success": True,
                    "dataEncrypted": False,
                    "result": {"data": {"hasNext": True, "totalNum": total,
                                        "openApiOrderDetailResDtos": orders}}})

    def twist_clover_file(self, srv):
        """A Clover export file of len(srv.clover_pads) order elements, element i carrying an
        array of srv.clover_pads[i] numbers: big, and costly as a tree of small nodes."""
        def element(i, pad):
            return (b'{"id":"E%06d","total":100,"padding":[' % i +
                    b",".join([b"1"] * pad) + b"]}")
        cache = {}

        def el(i):
            pad = srv.clover_pads[i]
            if pad not in cache:
                cache[pad] = element(0, pad)
            return cache[pad][:8] + b"%06d" % i + cache[pad][14:]
        n = len(srv.clover_pads)
        length = len(b'{"elements":[]}') + max(0, n - 1) + sum(len(el(i)) for i in range(n))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(b'{"elements":[')
        for i in range(n):
            self.wfile.write((b"," if i else b"") + el(i))
        self.wfile.write(b"]}")

    def twist_proxy(self, srv):
        """Forward the request to srv.upstream and pass the answer through srv.rewrite."""
        n = getattr(self, "posted", b"")
        req = urllib.request.Request(srv.upstream + self.path, data=n or None,
                                     method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"):
                req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        body = srv.rewrite(self.path, body)
        if srv.proxy_ctype and srv.proxy_ctype[0] in self.path:
            ctype = srv.proxy_ctype[1]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forever(self, srv, write):
        """Send zero bytes until the client goes away (or the server stops)."""
        block = b"\0" * CHUNK
        while not srv.stopping:
            write(block)
            srv.sent += len(block)

    def twist_close(self, srv):
        """200, no Content-Length, close-delimited, never ends."""
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self._forever(srv, self.wfile.write)

    def twist_chunked(self, srv):
        """200, chunked, never ends."""
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self._forever(srv, chunk)

    def twist_huge(self, srv):
        """200 with a Content-Length of srv.length (100 GB by default), then zeros."""
        self.send_response(200)
        self.send_header("Content-Length", str(srv.length))
        self.end_headers()
        self._forever(srv, self.wfile.write)

    def twist_trickle(self, srv):
        """200 with a large Content-Length, then srv.trickle_bps bytes a second."""
        self.send_response(200)
        self.send_header("Content-Length", str(srv.length))
        self.end_headers()
        while not srv.stopping:
            self.wfile.write(b"\0" * max(1, srv.trickle_bps // 10))
            self.wfile.flush()
            srv.sent += max(1, srv.trickle_bps // 10)
            time.sleep(0.1)

    def twist_redirect(self, srv):
        """302 to srv.location."""
        self.send_response(302)
        self.send_header("Location", srv.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def twist_body(self, srv):
        """200 with srv.body, as srv.content_type."""
        self.send_response(200)
        self.send_header("Content-Type", srv.content_type)
        for k, v in srv.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(srv.body)))
        self.end_headers()
        self.wfile.write(srv.body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HostileServer:
    """start() binds and serves; url is http://127.0.0.1:PORT/file; stop() ends every
    connection and the thread."""

    def __init__(self, twist="close", tls=None):
        """tls: (certfile, keyfile) to speak https instead of http."""
        self.twist = twist
        self.length = 100 * 10**9
        self.trickle_bps = 10
        self.location = ""
        self.body = b""
        self.content_type = "application/octet-stream"
        self.total_num = 10_000_000
        self.total_step = 0
        self.pages = 0
        self.next_id = 1000
        self.lock = threading.Lock()
        self.headers = {}
        self.clover_pads = []
        self.upstream = ""
        self.rewrite = lambda path, body: body
        self.proxy_ctype = None  # (path part, Content-Type) to answer with instead
        self.requests = 0
        self.sent = 0
        self.stopping = False
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.base + "/file"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.httpd.shutdown()
        self.httpd.server_close()
