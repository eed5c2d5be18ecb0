"""Operations: /.stats, xattrs, SIGUSR1, prefetch, sd_notify, the daemonizing parent,
mount -t fuse.orderfs, `orderfs get`, the man page and `make demo`."""
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from mount import BUILD, ORDERFS, ROOT, Mount, is_live, is_mounted, wait_for
from simulator import PYTHON, Simulator


def day_range(days_ago):
    d = datetime.date.today() - datetime.timedelta(days=days_ago)
    return f"{d.isoformat()}..{d.isoformat()}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read_stats(m):
    with open(m.path(".stats")) as f:
        return json.load(f)


def sim_task(sim, rng):
    """The simulator's newest generated task for a range, or None."""
    a, b = rng.split("..")
    tasks = [t for t in sim.tasks() if t["start"].startswith(a) and t["end"].startswith(b)
             and t.get("sha256")]
    return tasks[-1] if tasks else None


class OpsTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(args=("--rows", "150", "--pending-s", "0.1",
                                  "--generating-s", "0.2"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(outcomes={}, generating_s=0.2, pending_s=0.1)
        self.sim.reset_stats()
        self.mounts = []
        self.tmp = tempfile.mkdtemp(prefix="orderfs-ops-")

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def mount(self, **kw):
        m = Mount(self.sim, **kw)
        self.mounts.append(m)
        return m


class TestStats(OpsTestCase):
    def test_stats_counts_after_a_known_sequence(self):
        ok, nodata, failed = day_range(3), day_range(4), day_range(5)
        self.sim.configure(outcomes={nodata: "nodata", failed: "failed"})
        m = self.mount()
        self.assertIn(".stats", os.listdir(m.mnt))
        s0 = read_stats(m)
        self.assertEqual(s0["exports"], {"applied": 0, "in_flight": 0, "queued": 0})
        self.assertEqual((s0["cache"]["hits"], s0["cache"]["misses"]), (0, 0))

        with open(m.path("exports", ok, "orders.xlsx"), "rb") as f:
            data = f.read()
        s1 = read_stats(m)
        self.assertEqual(s1["exports"]["applied"], 1)
        self.assertEqual((s1["cache"]["hits"], s1["cache"]["misses"]), (0, 1))
        self.assertEqual(s1["bytes"]["downloaded"], len(data))
        self.assertGreaterEqual(s1["bytes"]["served"], len(data))
        self.assertEqual(s1["cache"]["size"], len(data))
        self.assertEqual(s1["cache"]["entries"], 1)

        with open(m.path("exports", ok, "orders.xlsx"), "rb") as f:
            self.assertEqual(f.read(), data)
        with self.assertRaises(OSError) as cm:
            open(m.path("exports", nodata, "orders.xlsx"), "rb")
        self.assertEqual(cm.exception.errno, 61)  # ENODATA
        with self.assertRaises(OSError) as cm:
            open(m.path("exports", failed, "orders.xlsx"), "rb")
        self.assertEqual(cm.exception.errno, 5)  # EIO

        s2 = read_stats(m)
        self.assertEqual(s2["exports"], {"applied": 3, "in_flight": 0, "queued": 0})
        self.assertEqual((s2["cache"]["hits"], s2["cache"]["misses"]), (1, 3))
        self.assertEqual(s2["bytes"]["downloaded"], len(data))
        self.assertEqual(s2["errors"]["total"], 1)
        self.assertEqual(s2["errors"]["io"], 1)
        self.assertEqual(s2["errors"]["no_data"], 1)
        self.assertEqual(s2["cache"]["entries"], 3)  # ready, no-data, failed
        self.assertEqual(s2["cache"]["size"], len(data))
        self.assertEqual(s2["prefetch"]["days"], 0)
        self.assertEqual(self.sim.stats()["apply"], 3)
        m.close(self, allowed=(f"export {failed} failed",))

    def test_sigusr1_writes_the_stats_to_the_log(self):
        m = self.mount()
        rng = day_range(2)
        with open(m.path("exports", rng, "orders.xlsx"), "rb") as f:
            size = len(f.read())
        m.proc.send_signal(signal.SIGUSR1)
        line = wait_for(lambda: next((ln for ln in m.log_text().splitlines()
                                      if "stats: {" in ln), None), what="stats log line")
        stats = json.loads(line.split("stats: ", 1)[1])
        self.assertEqual(stats["exports"]["applied"], 1)
        self.assertEqual(stats["bytes"]["downloaded"], size)
        # One finish line with range, size and seconds for the export.
        self.assertRegex(m.log_text(), rf"{re.escape(rng)}: export ready: {size} bytes in "
                                       r"[0-9.]+ s")
        self.assertTrue(is_live(m.mnt), "SIGUSR1 must not stop orderfs")
        m.close(self)


class TestXattrs(OpsTestCase):
    def test_getfattr_shows_every_attribute(self):
        m = self.mount()
        rng = day_range(6)
        path = m.path("exports", rng, "orders.xlsx")
        out = subprocess.run(["getfattr", "-d", path], capture_output=True, text=True,
                             check=True).stdout
        self.assertIn('user.orderfs.state="absent"', out)
        with open(path, "rb") as f:
            data = f.read()
        out = subprocess.run(["getfattr", "-d", path], capture_output=True, text=True,
                             check=True).stdout
        attrs = dict(re.findall(r'^user\.orderfs\.(\w+)="(.*)"$', out, re.M))
        task = sim_task(self.sim, rng)
        self.assertEqual(set(attrs), {"state", "task_id", "server_name", "sha256", "expires",
                                      "progress", "size", "step", "as_of", "complete",
                                      "fresh_until"})
        self.assertEqual(attrs["state"], "ready")
        self.assertEqual(attrs["step"], "ready")
        self.assertEqual(attrs["task_id"], task["id"])
        self.assertEqual(attrs["server_name"], task["fileName"])
        self.assertEqual(attrs["sha256"], sha(data))
        self.assertEqual(attrs["size"], str(len(data)))
        with open(m.path("exports", rng, ".status")) as f:
            st = json.load(f)
        self.assertEqual(st["bytes_done"], len(data))
        self.assertGreater(int(attrs["expires"]), int(datetime.datetime.now().timestamp()))
        m.close(self)


class TestProgress(OpsTestCase):
    def test_status_and_xattrs_show_download_progress(self):
        # Big enough and slow enough to be seen half-way: ~200 KB at 100 KB/s.
        self.sim.configure(rows=600, compression="stored", download_rate_bps=100000)
        try:
            m = self.mount()
            rng = day_range(13)
            path = m.path("exports", rng, "orders.xlsx")
            cat = subprocess.Popen(["cat", path], stdout=subprocess.DEVNULL)

            def status():
                with open(m.path("exports", rng, ".status")) as f:
                    return json.load(f)
            st = wait_for(lambda: (lambda s: s if s["state"] == "downloading" and
                                   0 < s["bytes_done"] < (s["size"] or 0) else None)(status()),
                          what="a download half-way")
            attrs = subprocess.run(["getfattr", "-d", path], capture_output=True,
                                   text=True).stdout
            self.assertIn('user.orderfs.state="downloading"', attrs)
            self.assertRegex(st["step"], r"^downloading [0-9.]+ of [0-9.]+ MiB$")
            self.assertRegex(attrs, r'user\.orderfs\.step="(downloading [0-9.]+ of|verifying)')
            self.assertEqual(cat.wait(60), 0)
            final = status()
            self.assertEqual(final["state"], "ready")
            self.assertEqual(st["size"], final["size"])
            self.assertEqual(final["bytes_done"], final["size"])
            m.close(self)
        finally:
            self.sim.configure(rows=150, compression="deflate", download_rate_bps=0)

    def test_status_steps_time_the_fill_in_order(self):
        # ~200 KB at 100 KB/s: the download alone takes ~2 s, so its step times must span it.
        rate = 100000
        self.sim.configure(rows=600, compression="stored", download_rate_bps=rate)
        try:
            m = self.mount()
            rng = day_range(14)
            path = m.path("exports", rng, "orders.xlsx")
            t0 = datetime.datetime.now().timestamp() * 1000
            with open(path, "rb") as f:
                data = f.read()
            t1 = datetime.datetime.now().timestamp() * 1000
            with open(m.path("exports", rng, ".status")) as f:
                st = json.load(f)
            names = ["applied", "generated", "url", "first_byte", "last_byte", "synced",
                     "ready"]
            steps = st["steps_ms"]
            self.assertEqual(list(steps), names)
            times = [steps[n] for n in names]
            self.assertTrue(all(isinstance(t, (int, float)) for t in times), steps)
            self.assertEqual(times, sorted(times), "steps out of order")
            # Within the read (1 s of slack for clocks rounding), ready before it returned.
            self.assertGreaterEqual(times[0], t0 - 1000)
            self.assertLessEqual(times[-1], t1 + 1)
            # The simulator's own pending + generating time lies between apply and generated.
            self.assertGreaterEqual(steps["generated"] - steps["applied"], 300 * 0.9)
            # The download of this very file at the simulator's rate: bytes / rate.
            self.assertGreaterEqual(steps["last_byte"] - steps["url"],
                                    len(data) / rate * 1000 * 0.8)
            self.assertEqual(st["size"], len(data))
            m.close(self)
        finally:
            self.sim.configure(rows=150, compression="deflate", download_rate_bps=0)


class TestPrefetch(OpsTestCase):
    def test_prefetch_exports_the_last_days_and_repeats(self):
        m = self.mount(settings={"prefetch": "2", "prefetch_interval": "1s"})
        y1, y2 = day_range(1), day_range(2)
        wait_for(lambda: sim_task(self.sim, y1) and sim_task(self.sim, y2),
                 what="prefetch of the last 2 days")
        # today's range too: prefetch keeps it fresh (README "Prefetch")
        wait_for(lambda: read_stats(m)["cache"]["entries"] == 3 and
                 read_stats(m)["exports"]["in_flight"] == 0, what="prefetched files ready")
        s = read_stats(m)
        self.assertEqual(s["prefetch"]["days"], 2)
        self.assertGreaterEqual(s["prefetch"]["runs"], 1)
        self.assertEqual(s["prefetch"]["started"], 3)
        self.assertEqual(self.sim.stats()["apply"], 3)
        # Today was prefetched too, and within open_ttl (15m) never again.
        self.assertIsNotNone(sim_task(self.sim, day_range(0)))
        # The morning's cp is a hit: no new export.
        with open(m.path("exports", y1, "orders.xlsx"), "rb") as f:
            self.assertEqual(sha(f.read()), sim_task(self.sim, y1)["sha256"])
        self.assertEqual(read_stats(m)["cache"]["hits"], 1)
        self.assertEqual(self.sim.stats()["apply"], 3)
        # A later pass exports again what went missing (the midnight pass, on a short clock).
        runs = read_stats(m)["prefetch"]["runs"]
        os.rmdir(m.path("exports", y2))
        wait_for(lambda: read_stats(m)["prefetch"]["started"] == 4, what="a second pass")
        self.assertGreater(read_stats(m)["prefetch"]["runs"], runs)
        wait_for(lambda: self.sim.stats()["apply"] == 4, what="the re-export")
        m.close(self)


class TestNotify(OpsTestCase):
    def test_sd_notify_ready_and_status(self):
        sock_path = os.path.join(self.tmp, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(20)
        os.environ["NOTIFY_SOCKET"] = sock_path
        try:
            m = self.mount()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        msgs = [s.recv(4096).decode(), s.recv(4096).decode()]
        self.assertIn("READY=1", msgs)
        self.assertTrue(any(x.startswith("STATUS=mounted on ") for x in msgs), msgs)
        m.umount()
        s.settimeout(5)
        rest = []
        try:
            while "STOPPING=1" not in rest:
                rest.append(s.recv(4096).decode())
        except socket.timeout:
            pass
        self.assertIn("STOPPING=1", rest)
        s.close()


class TestDaemon(OpsTestCase):
    def write_config(self, **extra):
        secret = os.path.join(self.tmp, "secret")
        with open(secret, "w") as f:
            f.write(self.sim.secret + "\n")
        os.chmod(secret, 0o600)
        cfg = {"provider": "vexora", "base_url": self.sim.url + "/nigeria",
               "merchant_no": self.sim.merchant, "secret_file": secret,
               "cache_dir": os.path.join(self.tmp, "cache"), "poll_initial_ms": "50",
               "poll_max_ms": "200"}
        cfg.update(extra)
        path = os.path.join(self.tmp, "shop.conf")
        with open(path, "w") as f:
            for k, v in cfg.items():
                if v is not None:
                    f.write(f"{k} = {v}\n")
        return path

    def test_parent_returns_once_the_mount_is_live(self):
        conf = self.write_config()
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        r = subprocess.run([ORDERFS, conf, mnt], capture_output=True, text=True, timeout=30)
        try:
            self.assertEqual(r.returncode, 0, r.stderr)
            # No waiting: the parent has returned, so the mount must be live now.
            self.assertTrue(is_live(mnt))
            self.assertIn("exports", os.listdir(mnt))
        finally:
            subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        wait_for(lambda: not is_mounted(mnt), what="unmount")

    def test_parent_fails_with_a_message(self):
        conf = self.write_config()
        r = subprocess.run([ORDERFS, conf, os.path.join(self.tmp, "no", "such", "dir")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot mount", r.stderr)
        bad = self.write_config(base_url="ftp://example.com")
        mnt = os.path.join(self.tmp, "mnt")
        os.makedirs(mnt, exist_ok=True)
        r = subprocess.run([ORDERFS, bad, mnt], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("base_url", r.stderr)
        self.assertFalse(is_mounted(mnt))

    def test_mount_t_fuse_orderfs_like_fstab(self):
        """mount(8) -> mount.fuse3 -> `orderfs` from the default PATH (mount(8) drops the
        caller's PATH). In a private mount namespace, /usr/local/sbin is replaced by a folder
        holding our orderfs, so nothing outside the test sees it."""
        conf = self.write_config()
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        bindir = os.path.join(self.tmp, "sbin")
        os.mkdir(bindir)
        shutil.copy(ORDERFS, os.path.join(bindir, "orderfs"))
        rng = day_range(8)
        script = f"""
set -u
mount --bind {bindir} /usr/local/sbin || exit 90
mount -t fuse.orderfs {conf} {mnt} -o defaults,_netdev; echo "rc=$?"
grep " {mnt} fuse.orderfs " /proc/mounts >/dev/null && echo live=yes
cat {mnt}/exports/{rng}/orders.xlsx | sha256sum
mount -t fuse.orderfs {conf}.missing {mnt}2 -o defaults,_netdev 2>&1; echo "rc2=$?"
umount {mnt}; echo "urc=$?"
"""
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout
        self.assertIn("rc=0", out, out + r.stderr)
        self.assertIn("live=yes", out)
        task = sim_task(self.sim, rng)
        self.assertIsNotNone(task)
        self.assertIn(task["sha256"], out)
        m = re.search(r"rc2=(\d+)", out)
        self.assertNotEqual(m.group(1), "0")
        self.assertIn("shop.conf.missing", out)
        self.assertIn("urc=0", out)


class TestGet(OpsTestCase):
    def config(self):
        m = Mount(self.sim, workdir=self.tmp, start=False)
        return m.config

    def test_get_to_file_and_stdout(self):
        conf = self.config()
        rng = day_range(9)
        out = os.path.join(self.tmp, "out.xlsx")
        r = subprocess.run([ORDERFS, "get", conf, rng, "-o", out], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        task = sim_task(self.sim, rng)
        with open(out, "rb") as f:
            data = f.read()
        self.assertEqual(sha(data), sha(self.sim.file_bytes(task["id"])))
        self.assertIn(sha(data), r.stderr)
        self.assertEqual([n for n in os.listdir(self.tmp) if "orderfs-" in n], [])
        # Again, to stdout: from the cache, no second export.
        r = subprocess.run([ORDERFS, "get", conf, rng], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha(r.stdout), sha(data))
        self.assertEqual(self.sim.stats()["apply"], 1)
        self.assertNotIn(self.sim.secret.encode(), r.stderr)

    def run_on_a_terminal(self, argv):
        """argv with stderr (and stdin, stdout) on a pseudo-terminal: what it wrote there."""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_get_shows_its_progress_on_a_terminal_only(self):
        # ~200 KB at 200 KB/s after a 1 s export: several redraws of the line.
        self.sim.configure(rows=600, compression="stored", download_rate_bps=200000)
        try:
            conf = self.config()
            rng, rng2 = day_range(14), day_range(15)
            out = os.path.join(self.tmp, "tty.xlsx")
            rc, text = self.run_on_a_terminal([ORDERFS, "get", conf, rng, "-o", out])
            self.assertEqual(rc, 0, text)
            steps = re.findall(r"\rorderfs get: " + re.escape(rng) + r": ([^\r\x1b]*)\x1b\[K",
                               text)
            self.assertTrue(any(s.startswith(("applied", "generating")) for s in steps), steps)
            self.assertTrue(any(re.match(r"downloading [0-9.]+ of [0-9.]+ MiB at \d+ MiB/s", s)
                                for s in steps), steps)
            self.assertIn("\r\x1b[K", text)  # the line is cleared before the last message
            self.assertIn("bytes, sha256", text)
            # -q on a terminal, and stderr not a terminal: no progress line at all.
            rc, text = self.run_on_a_terminal([ORDERFS, "get", "-q", conf, rng2, "-o", out])
            self.assertEqual(rc, 0, text)
            self.assertNotIn("\x1b[K", text)
            r = subprocess.run([ORDERFS, "get", conf, rng2, "-o", out], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("\r", r.stderr)
        finally:
            self.sim.configure(rows=150, compression="deflate", download_rate_bps=0)

    def test_get_no_data(self):
        conf = self.config()
        rng = day_range(10)
        self.sim.configure(outcomes={rng: "nodata"})
        out = os.path.join(self.tmp, "out.xlsx")
        r = subprocess.run([ORDERFS, "get", conf, rng, "-o", out], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(f"{rng}: no data in that range", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_get_failed_export(self):
        conf = self.config()
        rng = day_range(11)
        self.sim.configure(outcomes={rng: "failed"})
        out = os.path.join(self.tmp, "out.xlsx")
        r = subprocess.run([ORDERFS, "get", conf, rng, "-o", out], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Input/output error", r.stderr)
        self.assertFalse(os.path.exists(out))

    def test_get_refuses_a_cache_in_use(self):
        m = Mount(self.sim, workdir=self.tmp)
        try:
            rng = day_range(12)
            r = subprocess.run([ORDERFS, "get", m.config, rng], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("in use by a running orderfs", r.stderr)
            # A second mount on the same cache is refused the same way.
            mnt2 = os.path.join(self.tmp, "mnt2")
            os.mkdir(mnt2)
            r = subprocess.run([ORDERFS, m.config, mnt2], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("in use by another orderfs", r.stderr)
            self.assertFalse(is_mounted(mnt2))
        finally:
            m.umount()
        self.assertEqual(self.sim.stats()["apply"], 0)
        r = subprocess.run([ORDERFS, "get", m.config, rng], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_get_bad_range(self):
        conf = self.config()
        today = datetime.date.today()
        old = today - datetime.timedelta(days=200)
        for rng, why in [("2026-02-30..2026-03-01", "bad range"),
                         ("yesterday", "bad range"),
                         (f"{today}..{today - datetime.timedelta(days=1)}", "bad range"),
                         (f"{today - datetime.timedelta(days=9)}..{today}", "at most 7 days"),
                         (f"{old}..{old}", "window")]:
            r = subprocess.run([ORDERFS, "get", conf, rng], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 2, rng)
            self.assertIn(why, r.stderr, rng)
            self.assertEqual(r.stdout, "")
        self.assertEqual(self.sim.stats()["apply"], 0)
        r = subprocess.run([ORDERFS, "get", conf], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", r.stderr)


class TestManPage(unittest.TestCase):
    MAN = os.path.join(ROOT, "man", "orderfs.1")

    def test_renders_without_warnings(self):
        r = subprocess.run(["man", "--warnings", "-l", self.MAN], capture_output=True,
                           text=True, env=dict(os.environ, MANWIDTH="80", MANPAGER="cat",
                                               PAGER="cat"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertIn("orderfs get", r.stdout)

    def test_lists_every_config_key_and_option(self):
        with open(os.path.join(ROOT, "fs", "mount", "config.c")) as f:
            keys = re.findall(r'^\s*\{"(\w+)", K_', f.read(), re.M)
        self.assertGreater(len(keys), 20)
        with open(self.MAN) as f:
            man = f.read().replace("\\-", "-").replace("\\(aq", "'")
        for k in keys:
            self.assertRegex(man, rf"\.B {k}\b|\\fB{k}\\fR", f"config key {k} not in man page")
        for opt in ["-f", "-d", "-s", "-o", "-h", "-V", "SIGUSR1", "SIGTERM", "/.stats",
                    "ENOENT", "ENODATA", "EIO", "ETIMEDOUT", "ENOSPC", "EINTR", "EROFS",
                    "EINVAL", "EEXIST", "user.orderfs.state", "NOTIFY_SOCKET"]:
            self.assertIn(opt, man)


class TestDemo(unittest.TestCase):
    def test_make_demo_and_demo_stop_in_a_copy(self):
        """`make demo` in a copy of the tree (its own ./demo/, a free port), then
        `make demo-stop`; both twice to show they are idempotent. The copy gets this test
        run's build so make has nothing to compile."""
        tmp = tempfile.mkdtemp(prefix="orderfs-demo-")
        tree = os.path.join(tmp, "orderfs")
        ignore = shutil.ignore_patterns("build", "demo", "orderfs", "__pycache__", ".git")
        shutil.copytree(ROOT, tree, ignore=ignore, symlinks=True)
        shutil.copytree(os.path.join(ROOT, BUILD), os.path.join(tree, "build", "release"),
                        symlinks=True)
        env = {k: v for k, v in os.environ.items() if k not in ("BUILD", "MAKEFLAGS", "MFLAGS")}
        env["PYTHON"] = PYTHON
        mnt = os.path.join(tree, "demo", "mnt")

        def make(target):
            return subprocess.run(["make", "-s", "-C", tree, target], env=env,
                                  capture_output=True, text=True, timeout=300)
        try:
            r = make("demo")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(is_live(mnt), r.stdout + r.stderr)
            y = day_range(1)
            copied = os.path.join(tree, "demo", f"orders-{y}.xlsx")
            with open(copied, "rb") as f:
                data = f.read()
            self.assertEqual(data[:2], b"PK")
            with open(os.path.join(mnt, "exports", y, "orders.xlsx"), "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertIn("Try next", r.stdout)
            self.assertIn("make demo-stop", r.stdout)
            # ls -l exports/ with the named ranges, and one read through today
            today = datetime.date.today().isoformat()
            self.assertIn(f"today -> {today}..{today}", r.stdout)
            with open(os.path.join(tree, "demo", "orders-today.xlsx"), "rb") as f:
                self.assertEqual(f.read(2), b"PK")
            self.assertEqual(os.stat(os.path.join(tree, "demo", "secret")).st_mode & 0o077, 0)
            r2 = make("demo")
            self.assertEqual(r2.returncode, 0, r2.stdout + r2.stderr)
            self.assertIn("already running", r2.stdout)
            with open(os.path.join(tree, "demo", "sim.pid")) as f:
                sim_pid = int(f.read())
            r = make("demo-stop")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertFalse(is_mounted(mnt))
            wait_for(lambda: not os.path.exists(f"/proc/{sim_pid}") or
                     open(f"/proc/{sim_pid}/stat").read().split()[2] == "Z",
                     what="simulator to stop")
            r = make("demo-stop")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            if is_mounted(mnt):
                subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            subprocess.run(["sh", os.path.join(tree, "contrib", "demo.sh"), "stop"],
                           capture_output=True, env=env)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
