"""Starts a provider simulator from contrib/ for a test and talks to its control endpoints.

The simulator binds port 0 and writes its port to a file when it is ready; we wait on that
file, never on a fixed sleep."""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")


class Simulator:
    """extra_merchants {merchant: secret} become --extra-merchant M=SECRET (Vexora, Clover:
    there the secret is the merchant's Bearer token)."""

    def __init__(self, script="vexora_sim.py", args=(), secret="s3cr3t", merchant="M100200",
                 extra_merchants=None):
        self.secret = secret
        self.merchant = merchant
        self.extra_merchants = dict(extra_merchants or {})
        extra = [a for m, s in self.extra_merchants.items()
                 for a in ("--extra-merchant", f"{m}={s}")]
        self.tmp = tempfile.mkdtemp(prefix="orderfs-sim-")
        port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "sim.log")
        self.log = open(self.log_path, "wb")
        cmd = [PYTHON, os.path.join(ROOT, "contrib", script), "--port", "0",
               "--port-file", port_file, "--secret", secret, "--merchant", merchant,
               "--data-dir", os.path.join(self.tmp, "data"), *extra, *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None:
                raise RuntimeError("simulator exited: " + open(self.log_path).read())
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not report its port")
            time.sleep(0.02)
        self.port = int(open(port_file).read().strip())
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw and path != "/_sim/file" else raw

    def stats(self):
        return self._call("GET", "/_sim/stats")

    def configure(self, **settings):
        return self._call("POST", "/_sim/config", settings)

    def reset_stats(self):
        return self._call("POST", "/_sim/reset", {})

    def revoke(self, merchant):
        """From now on the merchant's credentials are refused (as the provider refuses a
        revoked one); the list of revoked merchants."""
        return self._call("POST", "/_sim/revoke", {"merchant": merchant})["revoked"]

    def unrevoke(self, merchant):
        return self._call("POST", "/_sim/unrevoke", {"merchant": merchant})["revoked"]

    def tasks(self):
        return self._call("GET", "/_sim/tasks")

    def file_bytes(self, task_id):
        with urllib.request.urlopen(f"{self.url}/_sim/file?id={task_id}", timeout=60) as r:
            return r.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
