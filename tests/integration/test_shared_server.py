"""Safe on a shared server (issue 29): paths another local user controls, files orderfs
writes for the user, core dumps and the systemd unit's hardening.

A second local user is made with useradd for the tests of this module and removed after;
what that user does runs under runuser, as it would from that user's own shell."""
import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from mount import ORDERFS, ROOT, Mount, is_mounted, wait_for
from simulator import Simulator
from test_fs import rng

SECRET = "Zq9-shared-server-secret-4410"


class OtherUser:
    """A throwaway local user (no home, no login shell), removed by remove()."""

    made = 0

    def __init__(self, groups=()):
        OtherUser.made += 1
        self.name = f"ofs{os.getpid() % 100000}u{OtherUser.made}"
        subprocess.run(["userdel", self.name], capture_output=True)  # a leftover of a crash
        extra = ["-G", ",".join(groups)] if groups else []
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", *extra, self.name],
                       check=True, capture_output=True)
        out = subprocess.run(["id", "-u", self.name], check=True, capture_output=True,
                             text=True).stdout
        self.uid = int(out)
        self.gid = int(subprocess.run(["id", "-g", self.name], check=True,
                                      capture_output=True, text=True).stdout)

    def run(self, *cmd, **kw):
        """cmd as this user (runuser), its CompletedProcess; text and captured by default."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(["runuser", "-u", self.name, "--", *cmd], **kw)

    def remove(self):
        p = subprocess.run(["userdel", self.name], capture_output=True, text=True)
        if p.returncode != 0:  # a process of the test still runs as the user: a test bug
            raise AssertionError(f"userdel {self.name}: {p.stderr}")


def shared_workdir(prefix):
    """A temp directory like /tmp (mkdtemp makes it 0700): sticky, every user may add to it."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o1777)
    return d


class SharedServerCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.other = OtherUser()
        cls.sim = Simulator(secret=SECRET, args=("--rows", "50", "--pending-s", "0.1",
                                                  "--generating-s", "0.2"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.other.remove()

    def setUp(self):
        self.dir = shared_workdir("orderfs-shared-")
        self.mounts = []

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()
        shutil.rmtree(self.dir, ignore_errors=True)

    def mount(self, **kw):
        m = Mount(self.sim, **kw)
        self.mounts.append(m)
        return m

    def refused(self, settings):
        """Start orderfs in the foreground with settings; it must refuse: its stderr."""
        m = Mount(self.sim, workdir=tempfile.mkdtemp(dir=self.dir), settings=settings,
                  start=False)
        p = subprocess.Popen([ORDERFS, "-f", m.config, m.mnt], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        wait_for(lambda: is_mounted(m.mnt) or p.poll() is not None, what="orderfs to answer")
        if is_mounted(m.mnt):
            subprocess.run(["fusermount3", "-u", m.mnt], capture_output=True)
        out, err = p.communicate(timeout=30)
        self.assertNotEqual(p.returncode, 0, "orderfs mounted: " + out + err)
        self.assertNotIn(SECRET, out + err)
        return err


class TestPathsOfOthers(SharedServerCase):
    def test_cache_dir_made_by_another_user_is_refused(self):
        planted = os.path.join(self.dir, "orderfs-cache")
        p = self.other.run("mkdir", "-m", "0777", planted)
        self.assertEqual(p.returncode, 0, p.stderr)
        err = self.refused({"cache_dir": planted})
        self.assertIn(planted, err)
        self.assertIn("owned by uid", err)
        # The same path only writable by others, owned by root: refused as well.
        shutil.rmtree(planted)
        os.mkdir(planted)
        os.chmod(planted, 0o777)
        err = self.refused({"cache_dir": planted})
        self.assertIn(planted, err)
        self.assertIn("chmod go-w", err)
        # orderfs get reads the same cache: the same rule.
        m = Mount(self.sim, workdir=tempfile.mkdtemp(dir=self.dir),
                  settings={"cache_dir": planted}, start=False)
        p = subprocess.run([ORDERFS, "get", m.config, rng(3, 3)], capture_output=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(planted.encode(), p.stderr)

    def test_cache_subdirectory_made_by_another_user_is_refused(self):
        for sub in ("v1", "work"):  # the cache's own, the providers' scratch space
            cache = os.path.join(self.dir, "cache-" + sub)
            os.mkdir(cache, 0o755)
            planted = os.path.join(cache, sub)
            os.mkdir(planted, 0o777)
            os.chown(planted, self.other.uid, self.other.gid)
            err = self.refused({"cache_dir": cache})
            self.assertIn(planted, err)

    def test_secret_file_of_another_user_is_refused(self):
        secret = os.path.join(self.dir, "their.secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        os.chown(secret, self.other.uid, self.other.gid)
        err = self.refused({"secret_file": secret})
        self.assertIn(secret, err)
        self.assertIn(f"owned by uid {self.other.uid}", err)

    def test_accounts_dir_of_another_user_is_refused(self):
        adir = os.path.join(self.dir, "accounts")
        os.mkdir(adir, 0o755)
        os.chown(adir, self.other.uid, self.other.gid)
        err = self.refused({"merchant_no": None, "secret_file": None, "accounts_dir": adir})
        self.assertIn(adir, err)
        self.assertIn(f"owned by uid {self.other.uid}", err)


class TestFilesWeWrite(SharedServerCase):
    def get(self, config, r, out, umask):
        p = subprocess.run([ORDERFS, "get", config, r, "-o", out], capture_output=True,
                           text=True, timeout=60, preexec_fn=lambda: os.umask(umask))
        self.assertEqual(p.returncode, 0, p.stderr)
        return os.stat(out).st_mode & 0o7777

    def test_get_output_honours_umask_and_keeps_the_mode_it_replaces(self):
        m = Mount(self.sim, workdir=tempfile.mkdtemp(dir=self.dir), start=False)
        r = rng(5, 5)
        new = os.path.join(self.dir, "new.xlsx")
        self.assertEqual(self.get(m.config, r, new, 0o077), 0o600)
        self.assertEqual(self.get(m.config, r, os.path.join(self.dir, "n2.xlsx"), 0o022),
                         0o644)
        kept = os.path.join(self.dir, "kept.xlsx")
        for mode in (0o600, 0o640):
            with open(kept, "w") as f:
                f.write("old")
            os.chmod(kept, mode)
            self.assertEqual(self.get(m.config, r, kept, 0o022), mode)
            with open(kept, "rb") as f:
                self.assertNotEqual(f.read(), b"old")


class LocalGroup:
    """A throwaway local group, removed by remove()."""
    made = 0

    def __init__(self):
        LocalGroup.made += 1
        self.name = f"ofs{os.getpid() % 100000}g{LocalGroup.made}"
        subprocess.run(["groupdel", self.name], capture_output=True)
        subprocess.run(["groupadd", self.name], check=True, capture_output=True)

    def remove(self):
        subprocess.run(["groupdel", self.name], capture_output=True)


ACME = ("M100200", SECRET)
GLOBEX = ("M300400", "globex-secret-77")


class TestWhoReadsWhat(unittest.TestCase):
    """allow_other with two accounts of two groups: the kernel (default_permissions) lets
    each group read its own account only, and a user of neither reads nothing."""

    @classmethod
    def setUpClass(cls):
        cls.g_acme, cls.g_globex = LocalGroup(), LocalGroup()
        cls.other = OtherUser()
        cls.member = OtherUser(groups=(cls.g_acme.name,))
        cls.sim = Simulator(secret=ACME[1], merchant=ACME[0],
                            extra_merchants={GLOBEX[0]: GLOBEX[1]},
                            args=("--rows", "50", "--pending-s", "0.1", "--generating-s", "0.2"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.other.remove()
        cls.member.remove()
        cls.g_acme.remove()
        cls.g_globex.remove()

    def setUp(self):
        self.dir = shared_workdir("orderfs-perm-")
        self.mounts = []

    def tearDown(self):
        for m in self.mounts:
            m.close(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def accounts_mount(self, main_settings, accounts):
        work = os.path.join(self.dir, "work")
        os.mkdir(work, 0o755)
        m = Mount(self.sim, workdir=work, args=("-o", "allow_other"),
                  settings={"merchant_no": None, "secret_file": None, **main_settings},
                  start=False)
        adir = os.path.join(work, "accounts")
        os.mkdir(adir, 0o700)
        with open(m.config, "a") as f:
            f.write(f"accounts_dir = {adir}\n")
        for name, ((merchant, secret), keys) in accounts.items():
            sf = os.path.join(adir, "." + name + ".secret")
            with open(sf, "w") as f:
                f.write(secret + "\n")
            os.chmod(sf, 0o600)
            with open(os.path.join(adir, name + ".conf"), "w") as f:
                f.write(f"merchant_no = {merchant}\nsecret_file = {sf}\n")
                for k, v in keys.items():
                    f.write(f"{k} = {v}\n")
            os.chmod(os.path.join(adir, name + ".conf"), 0o600)
        m.start()
        self.mounts.append(m)
        return m

    def can(self, user, *cmd):
        return user.run(*cmd, text=False).returncode == 0

    def test_each_group_reads_its_own_account_only(self):
        r = rng(4, 4)
        m = self.accounts_mount({"mode": "0755"}, {
            "acme": (ACME, {"group": self.g_acme.name, "mode": "0750"}),
            "globex": (GLOBEX, {"group": self.g_globex.name, "mode": "0750"})})
        for name in ("acme", "globex"):  # root fetches both, so the files are there to read
            with open(m.path(name, "exports", r, "orders.xlsx"), "rb") as f:
                self.assertTrue(f.read())
        self.assertEqual(sorted(n for n in os.listdir(m.mnt) if n[0] != "."), ["acme", "globex"])
        self.assertTrue(self.can(self.other, "ls", m.mnt))  # the mount's root is 0755
        for name in ("acme", "globex"):
            st = os.stat(m.path(name))
            self.assertEqual(st.st_mode & 0o7777, 0o750)
            self.assertEqual(st.st_uid, 0)
            f = m.path(name, "exports", r, "orders.xlsx")
            self.assertEqual(os.stat(f).st_mode & 0o7777, 0o640)
            for who in (self.other, self.member if name == "globex" else None):
                if who is None:
                    continue
                self.assertFalse(self.can(who, "ls", m.path(name, "exports")), (who.name, name))
                self.assertFalse(self.can(who, "cat", f), (who.name, name))
                self.assertFalse(self.can(who, "cat", m.path(name, "exports", r, ".status")))
                self.assertFalse(self.can(who, "cat", m.path(name, ".status")))
                self.assertFalse(self.can(who, "getfattr", "-d", f))
        # The acme group reads acme and may make and forget a range there.
        acme = m.path("acme", "exports", r, "orders.xlsx")
        self.assertTrue(self.can(self.member, "cat", acme))
        self.assertTrue(self.can(self.member, "cat", m.path("acme", "exports", r, ".status")))
        r2 = rng(20, 15)  # a range of several days: listed only once used
        self.assertTrue(self.can(self.member, "mkdir", "-p", m.path("acme", "exports", r2)))
        self.assertIn(r2, os.listdir(m.path("acme", "exports")))
        p = self.member.run("rmdir", m.path("acme", "exports", r2))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(r2, os.listdir(m.path("acme", "exports")))
        os.stat(m.path("globex", "exports", r2))  # root uses it: listed
        self.assertFalse(self.can(self.member, "rmdir", m.path("globex", "exports", r2)))
        self.assertIn(r2, os.listdir(m.path("globex", "exports")))

    def test_defaults_keep_other_users_out(self):
        r = rng(4, 4)
        m = self.accounts_mount({}, {"acme": (ACME, {})})
        with open(m.path("acme", "exports", r, "orders.xlsx"), "rb") as f:
            self.assertTrue(f.read())
        st = os.stat(m.mnt)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid), (0o750, 0, 0))
        self.assertFalse(self.can(self.other, "ls", m.mnt))
        self.assertFalse(self.can(self.other, "cat", m.path("acme", "exports", r,
                                                             "orders.xlsx")))
        # root (the owner) still makes ranges: the exports directory is 0770.
        self.assertEqual(os.stat(m.path("acme", "exports")).st_mode & 0o7777, 0o770)


SLOWLORIS = r"""
import socket, sys, time
host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conns = []
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    conns.append(s)
open(ready, "w").write(str(time.monotonic()))
while True:  # a header byte every 5 s on each, never the end of the headers
    time.sleep(5)
    for s in conns:
        try:
            s.sendall(b"X")
        except OSError:
            pass
"""


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def scrape_s(host, port, timeout=3):
    """Seconds a GET /metrics took, or None when it failed or took longer than timeout."""
    start = time.monotonic()
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://{host}:{port}/metrics", timeout=timeout) as r:
            r.read()
    except (OSError, urllib.error.URLError):
        return None
    took = time.monotonic() - start
    return took if took <= timeout else None


class TestMetricsUnderAttack(SharedServerCase):
    def test_slow_connections_of_another_user_do_not_silence_metrics(self):
        port = free_port()
        self.mount(settings={"metrics_listen": f"127.0.0.1:{port}"})
        self.assertIsNotNone(scrape_s("127.0.0.1", port))
        script = os.path.join(self.dir, "slowloris.py")
        with open(script, "w") as f:
            f.write(SLOWLORIS)
        ready = os.path.join(self.dir, "ready")
        attack = subprocess.Popen(["runuser", "-u", self.other.name, "--", sys.executable,
                                   script, "127.0.0.1", str(port), "100", ready],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready), timeout=30,
                     what="100 slow connections")
            opened = time.monotonic()
            late = []
            while time.monotonic() < opened + 16:  # 10 s in, and two byte rounds after
                started = time.monotonic()
                took = scrape_s("127.0.0.1", port)
                if started >= opened + 10 and took is None:
                    late.append(round(started - opened, 1))
            self.assertEqual(late, [], "scrapes that failed or took over 3 s, s after attack")
        finally:
            kids = proc_children(attack.pid)
            for k in kids:
                os.kill(k, 9)
            attack.kill()
            attack.wait()
            for k in kids:
                wait_for(lambda: not os.path.exists(f"/proc/{k}"), what=f"pid {k} to exit")

    def test_connections_per_non_loopback_address_are_capped(self):
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
        addrs = [a for a in out if "." in a and not a.startswith("127.")]
        if not addrs:
            self.skipTest("no non-loopback IPv4 address on this host")
        host = addrs[0]
        port = free_port(host)
        self.mount(settings={"metrics_listen": f"{host}:{port}", "metrics_public": "yes"})
        held = [socket.create_connection((host, port)) for _ in range(8)]
        try:
            start = time.monotonic()
            with socket.create_connection((host, port)) as ninth:
                ninth.settimeout(2)
                self.assertEqual(ninth.recv(1), b"")  # closed at once
            self.assertLess(time.monotonic() - start, 2)
            held[0].settimeout(0.2)  # the first eight are still open
            with self.assertRaises(socket.timeout):
                held[0].recv(1)
        finally:
            for c in held:
                c.close()
        wait_for(lambda: scrape_s(host, port), what="a scrape once the eight are closed")

    def test_non_loopback_listen_needs_metrics_public(self):
        err = self.refused({"metrics_listen": "0.0.0.0:9464"})
        self.assertIn("metrics_public", err)


HOARDER = r"""
import errno, json, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
report = open(out + ".tmp", "w")  # before our own descriptors run out
held, errs = [], {}
for _ in range(n):
    try:
        held.append(open(path, "rb"))
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        errs[name] = errs.get(name, 0) + 1
json.dump({"held": len(held), "errors": errs}, report)
report.close()
os.rename(out + ".tmp", out)
sys.stdin.read()  # hold them until told to go
"""


class TestOpenHandles(SharedServerCase):
    def test_twenty_thousand_opens_of_another_user_leave_root_reading(self):
        m = self.mount(args=("-o", "allow_other"), settings={"mode": "0755"})
        os.chmod(m.dir, 0o755)
        mine, theirs = rng(8, 8), rng(9, 9)
        want = {}
        for r in (mine, theirs):  # both ready in the cache
            with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
                want[r] = f.read()
        script = os.path.join(self.dir, "hoard.py")
        with open(script, "w") as f:
            f.write(HOARDER)
        out = os.path.join(self.dir, "hoard.json")
        hoard = subprocess.Popen(["runuser", "-u", self.other.name, "--", sys.executable, script,
                                  m.path("exports", theirs, "orders.xlsx"), "20000", out],
                                 stdin=subprocess.PIPE)
        try:
            wait_for(lambda: os.path.exists(out) and os.path.getsize(out), timeout=120,
                     what="20,000 opens")
            with open(out) as f:
                got = json.load(f)
            fds = len(os.listdir(f"/proc/{m.proc.pid}/fd"))
            # root opens and reads another file while they are all held
            with open(m.path("exports", mine, "orders.xlsx"), "rb") as f:
                self.assertEqual(f.read(), want[mine])
            self.assertEqual(list(got["errors"]), ["EMFILE"], got)  # that user alone
            self.assertEqual(got["held"], 4096, got)  # max_open_per_user's default
            self.assertLess(fds, 200, "one descriptor per open handle")
            uid = str(self.other.uid)
            self.assertTrue([l for l in m.log_text().splitlines()
                             if "max_open_per_user" in l and uid in l], m.log_text()[-2000:])
        finally:
            hoard.stdin.close()
            hoard.wait(60)


WAITERS = r"""
import errno, json, os, sys, threading
mnt, out, ranges = sys.argv[1], sys.argv[2], sys.argv[3:]
errs, lock = {}, threading.Lock()
def reader(r):
    try:
        with open(os.path.join(mnt, "exports", r, "orders.xlsx"), "rb") as f:
            f.read()
    except OSError as e:
        with lock:
            name = errno.errorcode.get(e.errno, str(e.errno))
            errs[name] = errs.get(name, 0) + 1
            with open(out + ".tmp", "w") as f:
                json.dump(errs, f)
            os.rename(out + ".tmp", out)
for r in ranges:
    threading.Thread(target=reader, args=(r,), daemon=True).start()
threading.Event().wait()  # until killed
"""


class TestQueuedExports(SharedServerCase):
    def stats(self, m):
        with open(m.path(".stats")) as f:
            return json.load(f)["exports"]

    def test_killed_readers_exports_are_dropped_and_capped_per_user(self):
        self.sim.configure(generating_s=2.0)
        m = self.mount(args=("-o", "allow_other"), settings={"mode": "0755",
                                                              "max_exports": "1"})
        os.chmod(m.dir, 0o755)
        script = os.path.join(self.dir, "waiters.py")
        with open(script, "w") as f:
            f.write(WAITERS)
        out = os.path.join(self.dir, "waiters.json")
        ranges = [rng(10 + i, 10 + i) for i in range(40)]
        readers = subprocess.Popen(["runuser", "-u", self.other.name, "--", sys.executable,
                                    script, m.mnt, out, *ranges])
        try:
            # 16 exports wait for that user (one runs, 15 queue); the 24 others: EAGAIN.
            wait_for(lambda: self.stats(m)["queued"] == 15 and os.path.exists(out) and
                     json.load(open(out)).get("EAGAIN") == 24, timeout=30,
                     what="16 waiting exports and 24 EAGAIN")
            self.assertTrue([l for l in m.log_text().splitlines() if "max_queued_per_user" in l
                             and f"uid {self.other.uid}" in l])
        finally:
            kids = proc_children(readers.pid)
            for k in kids:
                os.kill(k, 9)
            readers.kill()
            readers.wait()
        wait_for(lambda: self.stats(m)["queued"] == 0, timeout=10,
                 what="the killed readers' exports to leave the queue")
        applied = len(self.sim.tasks())
        self.assertLessEqual(applied, 2)  # the one running when they were killed (+ a race)
        # root's range starts as soon as the running export ends, and is the only one after.
        start = time.monotonic()
        with open(m.path("exports", rng(3, 3), "orders.xlsx"), "rb") as f:
            self.assertTrue(f.read())
        self.assertLess(time.monotonic() - start, 12)
        wait_for(lambda: self.stats(m)["in_flight"] == 0, what="no export in flight")
        self.assertEqual(len(self.sim.tasks()), applied + 1)
        self.sim.configure(generating_s=0.2)


def timed(fn):
    """Seconds fn() took (it must not raise)."""
    start = time.monotonic()
    fn()
    return time.monotonic() - start


class TestBlockedOpens(SharedServerCase):
    def test_300_waiting_opens_leave_the_mount_answering(self):
        self.sim.configure(generating_s=0.2)
        m = self.mount(args=("-o", "allow_other"), settings={"mode": "0755",
                                                              "max_exports": "1"})
        os.chmod(m.dir, 0o755)
        cached = rng(2, 2)
        with open(m.path("exports", cached, "orders.xlsx"), "rb") as f:
            want = f.read()
        self.sim.configure(generating_s=60)
        script = os.path.join(self.dir, "waiters.py")
        with open(script, "w") as f:
            f.write(WAITERS)
        out = os.path.join(self.dir, "waiters.json")
        # 300 opens of 10 ranges: within max_queued_per_user, so each holds a FUSE thread.
        ranges = [rng(20 + i % 10, 20 + i % 10) for i in range(300)]
        readers = subprocess.Popen(["runuser", "-u", self.other.name, "--", sys.executable,
                                    script, m.mnt, out, *ranges])
        pid = m.proc.pid
        try:
            def settled():  # every open is waiting in orderfs or was answered
                eagain = json.load(open(out)).get("EAGAIN", 0) if os.path.exists(out) else 0
                return eagain + len(os.listdir(f"/proc/{pid}/task")) >= 300
            try:
                wait_for(settled, timeout=10, what="the 300 opens to arrive")
            except AssertionError:
                pass  # every FUSE thread taken: what the checks below are about
            slow = {}
            ops = {
                "stat": lambda: os.stat(m.path("exports", cached, "orders.xlsx")),
                "ls": lambda: os.listdir(m.path("exports")),
                "status": lambda: open(m.path("exports", cached, ".status")).read(),
                "cat": lambda: open(m.path("exports", cached, "orders.xlsx"), "rb").read(),
                "stats": lambda: open(m.path(".stats")).read(),
            }
            for name, fn in ops.items():
                result = []
                t = threading.Thread(target=lambda: result.append(fn()), daemon=True)
                start = time.monotonic()
                t.start()
                t.join(1.5)
                took = time.monotonic() - start
                if not result or took > 1:
                    slow[name] = round(took, 2)
                elif name == "cat":
                    self.assertEqual(result[0], want)
            self.assertEqual(slow, {}, "operations that took over 1 s")
        finally:
            kids = proc_children(readers.pid)
            for k in kids:
                os.kill(k, 9)
            readers.kill()
            readers.wait()
            for k in kids:
                wait_for(lambda: not os.path.exists(f"/proc/{k}"), what=f"pid {k} to exit")
            self.sim.configure(generating_s=0.2)

    def stats_of(self, m):
        with open(m.path(".stats")) as f:
            return json.load(f)["exports"]


def proc_children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


class TestCoreDumps(SharedServerCase):
    def test_no_core_dumps(self):
        """The mount and orderfs get: core limit 0 and not dumpable (a non-dumpable process's
        /proc/PID/* belong to root, whoever runs it)."""
        m = self.mount()
        with open(f"/proc/{m.proc.pid}/limits") as f:
            core = [l for l in f if l.startswith("Max core file size")][0].split()
        self.assertEqual(core[4:6], ["0", "0"], core)
        # orderfs get as the other user, held in a slow export while its /proc is looked at.
        home = os.path.join(self.dir, "home")
        os.mkdir(home, 0o700)
        os.chown(home, self.other.uid, self.other.gid)
        g = Mount(self.sim, workdir=home, settings={"cache_dir": os.path.join(home, "c")},
                  start=False)
        for p in (g.config, g.secret_file, g.mnt):
            os.chown(p, self.other.uid, self.other.gid)
        self.sim.configure(generating_s=30)
        runner = subprocess.Popen(["runuser", "-u", self.other.name, "--", ORDERFS, "get",
                                   g.config, rng(7, 7), "-o", os.path.join(home, "o.xlsx")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def get_pid():
                kids = [k for k in [runner.pid] + proc_children(runner.pid)
                        if os.path.exists(f"/proc/{k}/exe")
                        and os.path.basename(os.readlink(f"/proc/{k}/exe")) == "orderfs"]
                if not kids:
                    return None
                with open(f"/proc/{kids[0]}/status") as f:
                    uid = [l for l in f if l.startswith("Uid:")][0].split()[1]
                # After exec and before orderfs's first line /proc shows the user's own uid.
                return kids[0] if int(uid) == self.other.uid and self.sim.tasks() else None
            pid = wait_for(get_pid, what="orderfs get to start its export")
            self.assertEqual(os.stat(f"/proc/{pid}/status").st_uid, 0, "orderfs get is dumpable")
            with open(f"/proc/{pid}/limits") as f:
                core = [l for l in f if l.startswith("Max core file size")][0].split()
            self.assertEqual(core[4:6], ["0", "0"], core)
        finally:
            kids = proc_children(runner.pid)  # before runuser dies and they move to init
            for k in kids:
                os.kill(k, 9)
            runner.kill()
            runner.wait()
            for k in kids:
                wait_for(lambda: not os.path.exists(f"/proc/{k}"), what=f"pid {k} to exit")
            self.sim.configure(generating_s=0.2)


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


class TestUnitHardening(unittest.TestCase):
    @unittest.skipUnless(SYSTEMD_ANALYZE, "systemd-analyze is not installed")
    def test_unit_exposure_at_most_4_5(self):
        unit = os.path.join(ROOT, "contrib", "orderfs@.service")
        p = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", unit],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        self.assertLessEqual(float(m.group(1)), 4.5, p.stdout)
        # No directive that makes a mount namespace: the FUSE mount must stay visible.
        with open(unit) as f:
            lines = [l.split("=")[0].strip() for l in f if "=" in l and not l.startswith("#")]
        for key in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateMounts",
                    "ReadWritePaths", "ProtectKernelTunables", "ProtectKernelModules",
                    "ProtectKernelLogs", "PrivateDevices"):
            self.assertNotIn(key, lines)


if __name__ == "__main__":
    unittest.main()
