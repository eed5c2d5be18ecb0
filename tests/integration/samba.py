"""A real smbd (Debian's samba) on a loopback port, sharing one directory read-only to guests,
for tests that read the mount as a Windows desktop would; smbclient is the client.

It runs in the foreground with every file of its own in a temp dir, is waited for by
connecting to its port (never a fixed sleep) and stopped by its pid."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SMBD = shutil.which("smbd") or "/usr/sbin/smbd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Samba:
    def __init__(self, share_path, share="orders"):
        self.dir = tempfile.mkdtemp(prefix="orderfs-smb-")
        self.port = free_port()
        self.share = share
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
            os.makedirs(os.path.join(self.dir, sub))
        self.conf = os.path.join(self.dir, "smb.conf")
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""[global]
  server role = standalone server
  smb ports = {self.port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  map to guest = Bad User
  guest account = nobody
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  log file = {d}/smbd.log
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  disable netbios = yes
[{share}]
  path = {share_path}
  read only = yes
  guest ok = yes
  force user = root
""")
        self.log = open(os.path.join(d, "smbd.out"), "wb")
        # Its own session: on shutdown smbd signals its whole process group, which must not
        # be the test runner's.
        self.proc = subprocess.Popen([SMBD, "--foreground", "--no-process-group",
                                      "--configfile", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("smbd exited: " + self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("smbd did not listen: " + self.log_text())
                time.sleep(0.02)

    def log_text(self):
        out = ""
        for name in ("smbd.out", "smbd.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()[-3000:]
        return out

    def get(self, remote, local, timeout=120):
        """smbclient -c 'get REMOTE LOCAL' as a guest; returns the CompletedProcess."""
        remote = remote.replace("/", "\\")
        return subprocess.run(
            ["smbclient", f"//127.0.0.1/{self.share}", "-p", str(self.port), "-N",
             "-c", f'get "{remote}" "{local}"'],
            capture_output=True, timeout=timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
