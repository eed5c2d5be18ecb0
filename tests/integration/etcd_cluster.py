"""A 3-member etcd cluster on loopback (three etcd processes), for the fleet tests that take a
member away. Ports picked free, data in a temp dir, waited for through GET /health on every
member (never a fixed sleep), stopped by pid. leader() names the member etcd elected;
kill(i) SIGKILLs one."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from etcd import ETCD, ETCDCTL, free_port


class EtcdCluster:
    def __init__(self, n=3):
        self.dir = tempfile.mkdtemp(prefix="orderfs-etcd-cluster-")
        self.names = [f"e{i}" for i in range(n)]
        self.client = [f"http://127.0.0.1:{free_port()}" for _ in range(n)]
        self.peer = [f"http://127.0.0.1:{free_port()}" for _ in range(n)]
        self.procs = [None] * n
        self.logs = [open(os.path.join(self.dir, f"{name}.log"), "ab") for name in self.names]
        self.urls = ",".join(self.client)
        initial = ",".join(f"{nm}={p}" for nm, p in zip(self.names, self.peer))
        for i, name in enumerate(self.names):
            cmd = [ETCD, "--name", name, "--data-dir", os.path.join(self.dir, name),
                   "--listen-client-urls", self.client[i],
                   "--advertise-client-urls", self.client[i],
                   "--listen-peer-urls", self.peer[i],
                   "--initial-advertise-peer-urls", self.peer[i],
                   "--initial-cluster", initial, "--initial-cluster-state", "new",
                   "--initial-cluster-token", os.path.basename(self.dir),
                   "--logger", "zap", "--log-outputs", "stderr"]
            self.procs[i] = subprocess.Popen(cmd, stdout=self.logs[i], stderr=subprocess.STDOUT,
                                             start_new_session=True)
        try:
            self.wait_healthy(range(n))
        except BaseException:
            self.stop()
            raise

    def healthy(self, i):
        try:
            with urllib.request.urlopen(self.client[i] + "/health", timeout=1) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def wait_healthy(self, members, timeout=60):
        deadline = time.monotonic() + timeout
        for i in members:
            while not self.healthy(i):
                if self.procs[i].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"etcd member {i} did not become healthy")
                time.sleep(0.05)

    def ctl(self, *args, endpoints=None):
        p = subprocess.run([ETCDCTL, "--endpoints", endpoints or self.urls, "--dial-timeout",
                            "5s", *args], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, ETCDCTL_API="3"))
        if p.returncode != 0:
            raise RuntimeError(f"etcdctl {args[0]} failed: {p.stderr[-500:]}")
        return p.stdout

    def leader(self):
        """The index of the member that is leader now."""
        for i, url in enumerate(self.client):
            if self.procs[i] is None or self.procs[i].poll() is not None:
                continue
            st = json.loads(self.ctl("endpoint", "status", "-w", "json", endpoints=url))[0]
            if st["Status"]["leader"] == st["Status"]["header"]["member_id"]:
                return i
        raise RuntimeError("no etcd leader")

    def kill(self, i):
        proc, self.procs[i] = self.procs[i], None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self):
        for i, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.procs[i] = None
        for f in self.logs:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)
