"""What the provider simulators in contrib/ share: reading a request body by its
Content-Length, announcing the port and serving until SIGTERM.

The port goes to --port-file through a temp file and a rename, so a test waiting on that file
never reads half a number; "PORT n" also goes to stdout for a human starting one by hand."""
import os
import signal
import tempfile


def read_sized_body(handler, max_body, discard=None):
    """The body a BaseHTTPRequestHandler's request announces with Content-Length: b"" when
    there is none, or None after answering 400 (bad length) or 413 (over max_body). Either
    answer closes the connection, since an unread body would be taken for the next request;
    discard(n), if given, reads the refused body away first."""
    cl = handler.headers.get("Content-Length")
    if cl is None:
        return b""
    try:
        n = int(cl)
        if n < 0:
            raise ValueError
    except ValueError:
        handler.close_connection = True
        handler.send_bytes(400, b"bad Content-Length\n")
        return None
    if n > max_body:
        handler.close_connection = True
        handler.send_bytes(413, b"request body too large\n")
        if discard:
            discard(n)
        return None
    return handler.rfile.read(n)


def write_port_file(path, port):
    fd, tmp = tempfile.mkstemp(prefix=".port", dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def serve(server, port_file):
    """Announce server's port, then serve until SIGTERM or Ctrl-C; returns the exit status."""
    port = server.server_address[1]
    write_port_file(port_file, port)
    print(f"PORT {port}", flush=True)

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0
