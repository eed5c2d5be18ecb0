"""Mounts a real orderfs against a simulator for a test, and checks its log afterwards.

Waits on conditions (the mount in /proc/mounts, the process exiting), never fixed sleeps."""
import os
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build/release")
ORDERFS = os.path.join(ROOT, BUILD, "orderfs")
# VALGRIND=1 (make check-valgrind): orderfs runs under memcheck; an error or a definite leak
# makes it exit 99, which umount() turns into a failure with the valgrind report.
VALGRIND = os.environ.get("VALGRIND") == "1"
# SANITIZE=1 (make check-asan): orderfs is built with ASan/UBSan; reports land in its log.
SANITIZED = os.environ.get("SANITIZE") == "1"
VALGRIND_EXIT = 99

# Log lines that are expected in some tests and never a sign of a bug by themselves.
EXPECTED_ERRORS = ()


def vm_rss_kb(pid):
    """Resident memory of a process, from /proc (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(cond, timeout=20, what="condition", interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def is_live(path):
    """Mounted and answering. statfs always reaches the daemon; stat may be answered from
    cached attributes even when the mount is dead."""
    if not is_mounted(path):
        return False
    try:
        os.statvfs(path)
        return True
    except OSError:
        return False


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Mount:
    """One orderfs process in the foreground (-f) with its own config, cache and log."""

    def __init__(self, sim, cache_dir=None, settings=None, args=(), workdir=None, start=True):
        self.sim = sim
        self.dir = workdir or tempfile.mkdtemp(prefix="orderfs-test-")
        self.mnt = os.path.join(self.dir, "mnt")
        self.cache_dir = cache_dir or os.path.join(self.dir, "cache")
        os.makedirs(self.mnt, exist_ok=True)
        self.secret_file = os.path.join(self.dir, "secret")
        with open(self.secret_file, "w") as f:
            f.write(sim.secret + "\n")
        os.chmod(self.secret_file, 0o600)
        cfg = {
            "provider": "vexora",
            "base_url": sim.url + "/nigeria",
            "merchant_no": sim.merchant,
            "secret_file": self.secret_file,
            "cache_dir": self.cache_dir,
            "poll_initial_ms": "50",
            "poll_max_ms": "200",
            "connect_timeout": "3",
            "request_timeout": "10",
            "log_level": "debug",
        }
        cfg.update(settings or {})
        cfg = {k: v for k, v in cfg.items() if v is not None}  # None: leave the key out
        self.config = os.path.join(self.dir, "orderfs.conf")
        with open(self.config, "w") as f:
            f.write("# written by the orderfs test suite\n")
            for k, v in cfg.items():
                f.write(f"{k} = {v}\n")
        self.args = list(args)
        self.log_path = os.path.join(self.dir, "orderfs.log")
        self.proc = None
        self.logs = []
        if start:
            self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        wrap = []
        if VALGRIND:
            self.valgrind_log = os.path.join(self.dir, "valgrind.log")
            wrap = ["valgrind", "--quiet", f"--error-exitcode={VALGRIND_EXIT}",
                    "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--log-file=" + self.valgrind_log]
        self.proc = subprocess.Popen([*wrap, ORDERFS, "-f", *self.args, self.config, self.mnt],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: is_live(self.mnt) or self.proc.poll() is not None,
                 timeout=120 if VALGRIND else 20, what="mount to appear")
        if not is_live(self.mnt):
            raise AssertionError("orderfs did not mount: " + self.log_text())

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def umount(self, lazy=False):
        if self.proc is None:
            return
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u"] + (["-z"] if lazy else []) + [self.mnt],
                           check=False, capture_output=True)
        try:
            self.proc.wait(120 if VALGRIND else 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("orderfs did not exit after unmount")
        finally:
            self.log.close()
        rc = self.proc.returncode
        self.proc = None
        if VALGRIND and rc == VALGRIND_EXIT:
            with open(self.valgrind_log, errors="replace") as f:
                raise AssertionError("valgrind found errors in orderfs:\n" + f.read()[-6000:])
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        self.proc = None
        # auto_unmount: fusermount3 notices the dead daemon and detaches the mount.
        wait_for(lambda: not is_mounted(self.mnt), what="dead mount to be cleaned up")

    def check_log(self, testcase, allowed=()):
        """The secret never appears; errors appear only where the test expects them."""
        text = self.log_text()
        testcase.assertNotIn(self.sim.secret, text, "signing secret leaked into the log")
        for line in text.splitlines():
            if " error: " in line or "Sanitizer" in line or "runtime error" in line:
                if not any(a in line for a in allowed):
                    testcase.fail("unexpected error in orderfs log: " + line)

    def close(self, testcase=None, allowed=()):
        self.umount()
        if testcase is not None:
            self.check_log(testcase, allowed)
