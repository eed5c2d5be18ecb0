"""What the provider simulators in contrib/ share: reading a request body by its
Content-Length, the per-merchant bookkeeping (--extra-merchant pairs, auth stats,
/_sim/revoke), announcing the port and serving until SIGTERM.

The port goes to --port-file through a temp file and a rename, so a test waiting on that file
never reads half a number; "PORT n" also goes to stdout for a human starting one by hand."""
import argparse
import json
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


def name_value(text):
    """NAME=VALUE of a repeatable option such as --extra-merchant, as a (name, value) pair;
    NAME=@FILE takes the value from FILE's first line, so a secret stays out of ps. argparse
    reports the error when either side is empty or "/" is in the name."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value or "/" in name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE (both non-empty)")
    if value.startswith("@"):
        try:
            with open(value[1:]) as f:
                value = f.readline().strip()
        except OSError as e:
            raise argparse.ArgumentTypeError(f"{value[1:]}: {e.strerror}")
        if not value:
            raise argparse.ArgumentTypeError(f"{text}: the file's first line is empty")
    return name, value


def merchant_stats(names):
    """The per-merchant stats every simulator keeps, names (the merchants it serves) listed
    at 0: auth_failures (requests refused for their credentials), auth_failures_by_merchant
    and requests_by_merchant."""
    return {"auth_failures": 0, "auth_failures_by_merchant": dict.fromkeys(names, 0),
            "requests_by_merchant": dict.fromkeys(names, 0)}


def count_by(stats, key, name):
    """One more in stats[key][name] (a by_merchant dict); the caller holds its lock."""
    by = stats[key]
    by[name] = by.get(name, 0) + 1


def copy_stats(stats):
    """A copy of stats whose dict values are copied too, safe to serialise once the caller
    has released the lock the counters change under."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in stats.items()}


def revoke_answer(path, raw, field, set_revoked):
    """(HTTP status, JSON object) for POST /_sim/revoke or /_sim/unrevoke with body
    {field: name}: set_revoked(name, revoked) answers the revoked list or raises ValueError
    for a name the simulator does not serve."""
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        revoked = set_revoked(body.get(field), path.endswith("/revoke"))
    except (ValueError, UnicodeDecodeError) as e:
        return 400, {"error": str(e)}
    return 200, {"ok": True, "revoked": revoked}


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
