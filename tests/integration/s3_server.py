#!/usr/bin/env python3
"""A real S3-compatible server on loopback for the shared store tests: Ceph's radosgw (Debian's
radosgw, ceph-mon, ceph-osd) over a one-monitor, one-OSD cluster whose OSD keeps its objects
in memory (memstore), all in a temp dir.

radosgw checks SigV4 signatures (a wrong secret gets 403) and honours If-None-Match: * on
PUT (412), which a fake would not. Ceph's own authentication is off (auth none, crc mode on
the wire): only S3's matters here. Pools get one PG each and ceph's background threads that a
test never needs (gc, lifecycle, quota, resharding) are off, so a start takes seconds.

Start: S3Server() (mon, then OSD and radosgw together; waited for by radosgw answering on its
port, then a user with a known key and a bucket are created). Use: .endpoint, .bucket,
.access_key, .secret, .url (endpoint/bucket/prefix for store_url), .client() (an S3Client,
path or virtual-host style), .settings() (store_url and store_credentials_file for a mount),
.write_credentials() (a store_credentials_file), .create_user()
(signs right, owns nothing: 403), .mark(), .requests(), .count() and .bytes_sent() (what
radosgw served, from its log). Faults: .kill_gateway() (SIGKILL radosgw: the store is
unreachable, its objects stay) and .start_gateway() (same port); store_proxy.py for the rest.
.stop() kills every daemon by its pid and removes the temp dir.

Run alone (a demo, a manual test): s3_server.py --info-file F starts one, writes
{"endpoint", "url", "bucket", "access_key", "secret", "dir"} as JSON to F once it serves,
and stops it on SIGTERM or SIGINT.

A run killed before stop() leaves daemons behind: each server writes its owner's pid and the
daemons' pids into its dir, and the next S3Server() kills those of a dead owner (checking the
pid still runs a daemon of that dir) and removes the dir."""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from s3_client import S3Client

CEPH_MON = shutil.which("ceph-mon") or "/usr/bin/ceph-mon"
CEPH_OSD = shutil.which("ceph-osd") or "/usr/bin/ceph-osd"
RADOSGW = shutil.which("radosgw") or "/usr/bin/radosgw"
RADOSGW_ADMIN = shutil.which("radosgw-admin") or "/usr/bin/radosgw-admin"
MONMAPTOOL = shutil.which("monmaptool") or "/usr/bin/monmaptool"
CEPH = shutil.which("ceph") or "/usr/bin/ceph"
DIR_PREFIX = "orderfs-s3-"
PROBE = b"_orderfs_"  # paths of the harness's own requests, left out of requests()

# One radosgw access-log line: client, user, "METHOD TARGET HTTP/x" status, body bytes sent.
BEAST_LINE = re.compile(r'beast: \S+ \S+ - (\S+) \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d+) (\d+|-)')
# A request radosgw answered, from its log.
Request = collections.namedtuple("Request", "method path status user sent")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    return all(os.access(p, os.X_OK) for p in (CEPH_MON, CEPH_OSD, RADOSGW, RADOSGW_ADMIN,
                                                MONMAPTOOL, CEPH))


def running(pid):
    """The pid runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def reap_leftovers(tmp=None):
    """Kills the daemons of servers whose owner process is gone and removes their dirs."""
    tmp = tmp or tempfile.gettempdir()
    for name in os.listdir(tmp):
        d = os.path.join(tmp, name)
        if not name.startswith(DIR_PREFIX) or not os.path.isdir(d):
            continue
        try:
            with open(os.path.join(d, "owner")) as f:
                owner = int(f.read())
        except (OSError, ValueError):
            continue  # being created right now, or not one of ours
        if running(owner):
            continue
        killed = []
        for pid in _read_pids(d):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    mine = d.encode() in f.read()
            except OSError:
                continue
            if mine:  # the pid was not reused by an unrelated process
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        deadline = time.monotonic() + 10  # SIGKILL is delivered, not yet acted on
        while any(running(pid) for pid in killed) and time.monotonic() < deadline:
            time.sleep(0.01)
        shutil.rmtree(d, ignore_errors=True)


def _read_pids(d):
    try:
        with open(os.path.join(d, "pids")) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


class S3Server:
    def __init__(self, bucket="orderfs", access_key="ORDERFSTESTKEY0001",
                 secret="orderfs-test-secret-0001", prefix="shared",
                 memstore_bytes=1 << 30):
        # memstore_bytes: what the OSD may hold. A full OSD does not refuse a write, it
        # holds it until space frees (never, with gc off): size it for every object a run
        # puts, or its uploads stall.
        reap_leftovers()
        self.memstore_bytes = memstore_bytes
        self.dir = tempfile.mkdtemp(prefix=DIR_PREFIX)
        with open(os.path.join(self.dir, "owner"), "w") as f:
            f.write(str(os.getpid()))
        self.bucket, self.access_key, self.secret = bucket, access_key, secret
        self.mon_port, self.port = free_port(), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.endpoint}/{bucket}/{prefix}"
        self.conf = os.path.join(self.dir, "ceph.conf")
        self.procs = {}
        self.log = open(os.path.join(self.dir, "daemons.out"), "ab")
        t0 = time.monotonic()
        try:
            self._write_conf()
            self._start_mon()
            self._start_osd_and_gateway()
            self._create_user()
            self._create_bucket()
            self.ready_mark = self.mark()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0

    # -- configuration and daemons --------------------------------------------------------

    def _write_conf(self):
        d = self.dir
        for sub in ("mon", "osd/osd.0", "run", "log"):
            os.makedirs(os.path.join(d, sub))
        self.fsid = str(uuid.uuid4())
        with open(self.conf, "w") as f:
            f.write(f"""[global]
fsid = {self.fsid}
mon host = [v2:127.0.0.1:{self.mon_port}]
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
ms bind msgr1 = false
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
pid file = {d}/run/$name.pid
crash dir = {d}/crash
keyring = {d}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail crit = 0
mon data avail warn = 0
paxos propose interval = 0.01
mon cluster log file = {d}/log/cluster.$channel.log
[mon]
mon data = {d}/mon/$name
[osd]
osd data = {d}/osd/$name
osd objectstore = memstore
memstore device bytes = {self.memstore_bytes}
osd op num shards = 1
osd op num threads per shard = 2
[client]
rgw rados pool pg num min = 1
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{self.port}
rgw dns name = localhost
rgw thread pool size = 16
rgw enable gc threads = false
rgw enable lc threads = false
rgw enable quota threads = false
rgw dynamic resharding = false
rgw enable usage log = false
""")

    def _spawn(self, name, cmd):
        """Starts a daemon in the foreground in its own session and records its pid."""
        p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs[name] = p
        with open(os.path.join(self.dir, "pids"), "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def _run(self, *cmd):
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, CEPH_CONF=self.conf))
        if p.returncode != 0:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed: {p.stderr[-1500:]}")
        return p.stdout

    def _start_mon(self):
        monmap = os.path.join(self.dir, "monmap")
        self._run(MONMAPTOOL, "--create", "--clobber", "--fsid", self.fsid, "--addv", "a",
                  f"[v2:127.0.0.1:{self.mon_port}]", monmap)
        self._run(CEPH_MON, "-c", self.conf, "--mkfs", "-i", "a", "--monmap", monmap)
        self._spawn("mon", [CEPH_MON, "-c", self.conf, "-f", "-i", "a"])

    def _start_osd_and_gateway(self):
        """Registers osd.0 with the monitor while its store is made, then starts the OSD and
        radosgw together: radosgw's first requests simply wait for the OSD to come up."""
        osd_uuid = str(uuid.uuid4())
        env = dict(os.environ, CEPH_CONF=self.conf)
        new = subprocess.Popen([CEPH, "-c", self.conf, "osd", "new", osd_uuid, "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
        self._run(CEPH_OSD, "-c", self.conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        out, err = new.communicate(timeout=60)
        if new.returncode != 0:
            raise RuntimeError(f"ceph osd new failed: {err[-1500:]}")
        self._spawn("osd", [CEPH_OSD, "-c", self.conf, "-f", "-i", "0"])
        self.start_gateway()

    def _create_user(self):
        self.create_user("orderfs", self.access_key, self.secret)

    def create_user(self, uid, access_key, secret):
        """Another S3 user (radosgw-admin): its requests are signed right but it owns no
        bucket, so the test bucket answers it 403 AccessDenied."""
        self._run(RADOSGW_ADMIN, "-c", self.conf, "user", "create", "--uid", uid,
                  "--display-name", uid, "--access-key", access_key, "--secret", secret)

    def write_credentials(self, path, access_key=None, secret=None):
        """The store_credentials_file line ACCESS_KEY:SECRET, mode 0600; returns path."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{access_key or self.access_key}:{secret or self.secret}\n")
        return path

    def _create_bucket(self):
        """Creates the bucket, then writes and deletes one object: the data pool exists before
        a test's first PUT, which then takes the usual milliseconds."""
        c = self.client()
        for r in (c.create_bucket(), c.put("_warm", b"x"), c.delete("_warm")):
            if r.status not in (200, 204):
                raise RuntimeError(f"preparing bucket {self.bucket}: {r}")

    def start_gateway(self, timeout=60):
        """Starts radosgw on self.port and waits until it answers an HTTP request."""
        p = self._spawn("rgw", [RADOSGW, "-c", self.conf, "-f", "-n", "client.rgw"])
        deadline = time.monotonic() + timeout
        while not self._answers():
            if p.poll() is not None:
                raise RuntimeError("radosgw exited: " + self.log_text())
            if time.monotonic() > deadline:
                raise RuntimeError("radosgw did not answer: " + self.log_text())
            time.sleep(0.05)

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"GET /" + PROBE + b"probe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
                return s.recv(12).startswith(b"HTTP/1.1 ")
        except OSError:
            return False

    def _stop_proc(self, name, sig):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def kill_gateway(self):
        """SIGKILL radosgw: the endpoint refuses connections; the objects stay."""
        self._stop_proc("rgw", signal.SIGKILL)

    def stop(self):
        """Stops radosgw, the OSD and the monitor by pid and removes the temp dir."""
        # The objects live in memory and the dir is removed: nothing to shut down cleanly.
        for name in ("rgw", "osd", "mon"):
            self._stop_proc(name, signal.SIGKILL)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what tests read ------------------------------------------------------------------

    def settings(self, credentials_file, endpoint=None, prefix="shared"):
        """Mount settings (mount.Mount's settings=) for this store: store_url and
        store_credentials_file, the latter written (0600) at credentials_file. endpoint: a
        StoreProxy's, to reach the store through it."""
        self.write_credentials(credentials_file)
        return {"store_url": f"{endpoint or self.endpoint}/{self.bucket}/{prefix}",
                "store_credentials_file": credentials_file}

    def client(self, secret=None, access_key=None, virtual_host=False):
        """An S3Client for the bucket, signed with the user's key unless told otherwise;
        virtual_host: bucket.localhost:PORT (radosgw's dns name is localhost)."""
        endpoint = f"http://localhost:{self.port}" if virtual_host else self.endpoint
        return S3Client(endpoint, self.bucket, access_key or self.access_key,
                        secret or self.secret, virtual_host=virtual_host)

    def _gateway_log(self):
        return os.path.join(self.dir, "log", "client.rgw.log")

    def mark(self, timeout=10):
        """A position in radosgw's log after every request answered so far: an anonymous
        request of the harness's own is sent and waited for in the log (radosgw logs each
        request as it completes, in order)."""
        marker = f"_orderfs_mark_{uuid.uuid4().hex}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"GET /{marker} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Connection: close\r\n\r\n".encode())
            while s.recv(65536):
                pass
        deadline = time.monotonic() + timeout
        while True:
            with open(self._gateway_log(), "rb") as f:
                data = f.read()
            i = data.find(marker.encode())
            if i >= 0:
                return data.index(b"\n", i) + 1 if b"\n" in data[i:] else len(data)
            if time.monotonic() > deadline:
                raise RuntimeError("radosgw did not log a request")
            time.sleep(0.01)

    def requests(self, since=None):
        """[Request(method, path, status, user, sent)] of every request radosgw answered
        after the log position since (from mark(); default: since the server became ready),
        in order, the harness's own left out. path is the request target as sent (query
        string included; no bucket in it when the request named the bucket in its Host
        header, virtual-host style); user is "-" or "anonymous" when the request was refused
        or unsigned; sent counts the body bytes radosgw sent."""
        since = self.ready_mark if since is None else since
        end = self.mark()
        with open(self._gateway_log(), "rb") as f:
            f.seek(since)
            text = f.read(end - since).decode(errors="replace")
        out = []
        for line in text.splitlines():
            m = BEAST_LINE.search(line)
            if m and not m.group(3).startswith("/" + PROBE.decode()):
                sent = 0 if m.group(5) == "-" else int(m.group(5))
                out.append(Request(m.group(2), m.group(3), int(m.group(4)), m.group(1), sent))
        return out

    def count(self, method=None, prefix="", since=None):
        """How many requests (of method, to a path starting with prefix) radosgw answered
        after since."""
        return sum(1 for r in self.requests(since)
                   if (method is None or r.method == method) and r.path.startswith(prefix))

    def bytes_sent(self, method="GET", prefix="", since=None):
        """Body bytes radosgw sent in answer to requests of method to paths under prefix
        after since (a download cut by a client or a proxy still counts what was sent)."""
        return sum(r.sent for r in self.requests(since)
                   if r.method == method and r.path.startswith(prefix))

    def log_text(self):
        out = ""
        for name in ("daemons.out", "log/mon.a.log", "log/osd.0.log", "log/client.rgw.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f"--- {name}\n" + f.read()[-2000:]
        return out


def main():
    ap = argparse.ArgumentParser(description="a radosgw on loopback until SIGTERM/SIGINT")
    ap.add_argument("--info-file", required=True)
    args = ap.parse_args()
    stop = threading.Event()  # set by the handler: no window between a check and a wait
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    srv = S3Server()
    try:
        info = {"endpoint": srv.endpoint, "url": srv.url, "bucket": srv.bucket,
                "access_key": srv.access_key, "secret": srv.secret, "dir": srv.dir}
        tmp = args.info_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.rename(tmp, args.info_file)
        stop.wait()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
