"""A real etcd (Debian's etcd-server) on loopback ports, for the fleet mode tests.

One member, data in a temp dir, client and peer ports picked free; waited for through
GET /health (never a fixed sleep) and stopped by its pid (SIGTERM, then SIGKILL). kill() and
restart(wipe=...) let a test take etcd away and bring it back with or without its data;
enable_auth() creates users with etcdctl (Debian's etcd-client) and turns auth on. tls=True
serves https with a server certificate from a throwaway CA (ca_file)."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    return os.access(ETCD, os.X_OK) and os.access(ETCDCTL, os.X_OK)


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1 in d; returns (ca, cert, key) paths."""
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for cmd in (["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
                 "-subj", "/CN=orderfs test CA"],
                ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                 "-out", cert, "-days", "2", "-extfile", ext]):
        subprocess.run(["openssl", *cmd], check=True, capture_output=True, timeout=30)
    return ca, cert, key


class Etcd:
    def __init__(self, auth_token_ttl_s=None, tls=False):
        self.dir = tempfile.mkdtemp(prefix="orderfs-etcd-")
        self.data = os.path.join(self.dir, "data")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.ca_file = None
        self.tls_args = []
        if tls:
            self.ca_file, cert, key = make_certs(self.dir)
            self.tls_args = ["--cert-file", cert, "--key-file", key]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.client_port}"
        self.auth_token_ttl_s = auth_token_ttl_s
        self.root_password = None
        self.proc = None
        self.log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.start()

    def start(self):
        peer = f"http://127.0.0.1:{self.peer_port}"
        cmd = [ETCD, "--name", "t", "--data-dir", self.data,
               "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
               "--initial-cluster", f"t={peer}", "--initial-cluster-state", "new",
               "--logger", "zap", "--log-outputs", "stderr", *self.tls_args]
        if self.auth_token_ttl_s:
            cmd += ["--auth-token-ttl", str(self.auth_token_ttl_s)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_healthy()

    def healthy(self):
        try:
            ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
            with urllib.request.urlopen(self.url + "/health", timeout=1, context=ctx) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def wait_healthy(self, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.proc.poll() is not None:
                raise RuntimeError("etcd exited: " + self.log_text())
            if time.monotonic() > deadline:
                raise RuntimeError("etcd did not become healthy: " + self.log_text())
            time.sleep(0.05)

    def log_text(self):
        with open(os.path.join(self.dir, "etcd.log"), errors="replace") as f:
            return f.read()[-3000:]

    def _stop_proc(self, sig):
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGTERM ignored for 20 s
            proc.wait()

    def kill(self):
        """SIGKILL: etcd is gone at once, its data stays for restart()."""
        self._stop_proc(signal.SIGKILL)

    def restart(self, wipe=False):
        """Stops etcd if it runs and starts it on the same ports; wipe=True starts from an
        empty data dir (every key and lease forgotten, auth off again)."""
        self._stop_proc(signal.SIGTERM)
        if wipe:
            shutil.rmtree(self.data, ignore_errors=True)
            self.root_password = None
        self.start()

    def ctl(self, *args, user=None):
        cmd = [ETCDCTL, "--endpoints", self.url, "--dial-timeout", "5s"]
        if self.ca_file:
            cmd += ["--cacert", self.ca_file]
        if user:
            cmd += ["--user", user]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, ETCDCTL_API="3"))
        if p.returncode != 0:
            raise RuntimeError(f"etcdctl {args[0]} failed: {p.stderr[-500:]}")
        return p.stdout

    def enable_auth(self, user, password, prefix="orderfs/", root_password="root-pw-etcd"):
        """Creates root and user (read-write on prefix) and turns auth on."""
        self.ctl("user", "add", f"root:{root_password}")
        self.ctl("user", "add", f"{user}:{password}")
        self.ctl("role", "add", "fleet")
        self.ctl("role", "grant-permission", "fleet", "--prefix=true", "readwrite", prefix)
        self.ctl("user", "grant-role", user, "fleet")
        self.ctl("auth", "enable")
        self.root_password = root_password

    def keys(self, prefix="orderfs/"):
        """Every key under prefix (as root when auth is on)."""
        user = f"root:{self.root_password}" if self.root_password else None
        out = self.ctl("get", "--prefix", "--keys-only", prefix, user=user)
        return [k for k in out.splitlines() if k]

    def stop(self):
        self._stop_proc(signal.SIGTERM)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
