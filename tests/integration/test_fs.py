"""The filesystem, mounted for real against the Vexora simulator."""
import datetime
import errno
import hashlib
import json
import mmap
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from mount import Mount, is_mounted, wait_for
from simulator import Simulator


def rng(days_ago_start, days_ago_end):
    today = datetime.date.today()
    a = today - datetime.timedelta(days=days_ago_start)
    b = today - datetime.timedelta(days=days_ago_end)
    return f"{a.isoformat()}..{b.isoformat()}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def api_calls(stats):
    return stats["apply"] + stats["status"] + stats["downloadUrl"] + stats["download"]


class FsTestCase(unittest.TestCase):
    sim_args = ("--rows", "200", "--pending-s", "0.1", "--generating-s", "0.2")

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(args=cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(generating_s=0.2, pending_s=0.1, outcomes={}, rows=200)
        self.sim.reset_stats()
        self.mounts = []

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()

    def mount(self, **kw):
        m = Mount(self.sim, **kw)
        self.mounts.append(m)
        return m

    @staticmethod
    def status(m, r):
        with open(m.path("exports", r, ".status")) as f:
            return json.load(f)

    def task_bytes(self, r):
        start, end = r.split("..")
        tasks = [t for t in self.sim.tasks() if t["start"].startswith(start)
                 and t["end"].startswith(end) and t["status"] == "2"]
        self.assertTrue(tasks, f"simulator has no generated task for {r}")
        return self.sim.file_bytes(tasks[-1]["id"])


class TestReadPath(FsTestCase):
    def test_cp_fresh_range_matches_server_bytes(self):
        m = self.mount()
        r = rng(20, 19)
        dst = os.path.join(m.dir, "copy.xlsx")
        subprocess.run(["cp", m.path("exports", r, "orders.xlsx"), dst], check=True)
        with open(dst, "rb") as f:
            got = f.read()
        self.assertGreater(len(got), 1000)
        self.assertEqual(sha(got), sha(self.task_bytes(r)))
        st = self.sim.stats()
        self.assertEqual(st["apply"], 1)
        self.assertEqual(st["download_leaks"], 0)
        m.close(self)

    def test_sixteen_concurrent_readers_one_apply(self):
        m = self.mount()
        r = rng(30, 28)
        results = [None] * 16

        def reader(i):
            with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
                results[i] = f.read()

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(self.sim.stats()["apply"], 1)
        want = sha(self.task_bytes(r))
        for data in results:
            self.assertIsNotNone(data)
            self.assertEqual(sha(data), want)
        m.close(self)

    def test_second_read_makes_no_api_calls(self):
        m = self.mount()
        r = rng(25, 25)
        p = m.path("exports", r, "orders.xlsx")
        with open(p, "rb") as f:
            first = f.read()
        before = self.sim.stats()
        with open(p, "rb") as f:
            second = f.read()
        os.stat(p)
        self.assertEqual(first, second)
        self.assertEqual(api_calls(self.sim.stats()), api_calls(before))
        m.close(self)

    def test_ls_then_cp_within_attr_timeout_gets_whole_file(self):
        m = self.mount(settings={"attr_timeout": "30"})
        r = rng(40, 38)
        d = m.path("exports", r)
        subprocess.run(["ls", "-l", d], check=True, capture_output=True)
        self.assertEqual(os.stat(os.path.join(d, "orders.xlsx")).st_size, 0)
        dst = os.path.join(m.dir, "c.xlsx")
        subprocess.run(["cp", os.path.join(d, "orders.xlsx"), dst], check=True)
        want = self.task_bytes(r)
        with open(dst, "rb") as f:
            self.assertEqual(sha(f.read()), sha(want))
        # cat right after, still inside the 30 s attribute timeout: whole file again.
        out = subprocess.run(["cat", os.path.join(d, "orders.xlsx")], check=True,
                             capture_output=True).stdout
        self.assertEqual(sha(out), sha(want))
        # And stat now tells the real size.
        self.assertEqual(os.stat(os.path.join(d, "orders.xlsx")).st_size, len(want))
        m.close(self)

    def test_same_export_under_two_paths_never_reads_short(self):
        # A 7-day range and the first chunk of a longer range are the same export, but the
        # kernel caches their sizes separately (two inodes).
        m = self.mount(settings={"attr_timeout": "30"})
        today = datetime.date.today()
        a = today - datetime.timedelta(days=70)
        week = f"{a}..{a + datetime.timedelta(days=6)}"
        longer = f"{a}..{a + datetime.timedelta(days=15)}"
        p_week = m.path("exports", week, "orders.xlsx")
        p_chunk = m.path("exports", longer, f"orders-{week}.xlsx")
        self.assertEqual(os.stat(p_chunk).st_size, 0)  # the kernel now holds size 0 for it
        with open(p_week, "rb") as f:
            want = f.read()
        self.assertEqual(os.stat(p_week).st_size, len(want))
        out = subprocess.run(["cat", p_chunk], check=True, capture_output=True).stdout
        self.assertEqual(sha(out), sha(want))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_remount_reuses_cache(self):
        m = self.mount()
        r = rng(15, 14)
        with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
            first = f.read()
        m.umount()
        before = self.sim.stats()
        m2 = self.mount(cache_dir=m.cache_dir)
        with open(m2.path("exports", r, "orders.xlsx"), "rb") as f:
            self.assertEqual(f.read(), first)
        self.assertEqual(api_calls(self.sim.stats()), api_calls(before))
        self.assertEqual(os.stat(m2.path("exports", r, "orders.xlsx")).st_size, len(first))
        m2.close(self)

    def test_spreadsheet_library_reads_from_mount(self):
        import openpyxl
        m = self.mount()
        r = rng(12, 11)
        wb = openpyxl.load_workbook(m.path("exports", r, "orders.xlsx"), read_only=True)
        rows = list(wb.active.iter_rows(values_only=True))
        self.assertEqual(len(rows), 201)  # header + 200 orders
        self.assertIsNotNone(rows[0][0])
        wb.close()
        m.close(self)

    def test_mmap_read(self):
        m = self.mount()
        r = rng(13, 13)
        p = m.path("exports", r, "orders.xlsx")
        with open(p, "rb") as f:
            want = f.read()
        wait_for(lambda: os.stat(p).st_size == len(want), what="real size in stat")
        with open(p, "rb") as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                self.assertEqual(sha(mm[:]), sha(want))
        m.close(self)

    def test_slow_range_does_not_block_others(self):
        self.sim.configure(generating_s=60.0)
        m = self.mount()
        slow = rng(60, 60)
        cat = subprocess.Popen(["cat", m.path("exports", slow, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.sim.stats()["apply"] == 1, what="slow export to start")
        self.sim.configure(generating_s=0.1)
        fast = rng(61, 61)
        with open(m.path("exports", fast, "orders.xlsx"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(self.task_bytes(fast)))
        self.assertGreater(len(os.listdir(m.path("exports"))), 80)
        self.assertIsNone(cat.poll(), "the slow reader should still be waiting")
        cat.send_signal(signal.SIGINT)
        cat.wait(10)
        m.close(self)

    def test_long_range_split_into_chunks(self):
        m = self.mount()
        today = datetime.date.today()
        a = today - datetime.timedelta(days=40)
        b = a + datetime.timedelta(days=15)
        r = f"{a}..{b}"
        names = sorted(os.listdir(m.path("exports", r)))
        c1 = f"orders-{a}..{a + datetime.timedelta(days=6)}.xlsx"
        c3 = f"orders-{a + datetime.timedelta(days=14)}..{b}.xlsx"
        self.assertEqual(len(names), 4)  # 3 chunks + .status
        self.assertIn(c1, names)
        self.assertIn(c3, names)
        with open(m.path("exports", r, c3), "rb") as f:
            data = f.read()
        self.assertEqual(sha(data), sha(self.task_bytes(f"{a + datetime.timedelta(days=14)}..{b}")))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)


class TestTree(FsTestCase):
    def test_listing_and_stat_never_touch_network(self):
        m = self.mount()
        names = os.listdir(m.path("exports"))
        today = datetime.date.today()
        self.assertIn(f"{today}..{today}", names)
        ranges = [n for n in names if ".." in n]  # beside them: the named ranges' links
        self.assertGreaterEqual(len(ranges), 89)
        self.assertLessEqual(len(ranges), 93)
        self.assertIn("today", names)
        for n in names[:20]:
            os.listdir(m.path("exports", n))
            os.stat(m.path("exports", n, "orders.xlsx"))
            os.listxattr(m.path("exports", n, "orders.xlsx"))
            with open(m.path("exports", n, ".status")) as f:
                json.load(f)
        self.assertEqual(api_calls(self.sim.stats()), 0)
        m.close(self)

    def test_bad_names_enoent(self):
        m = self.mount()
        today = datetime.date.today()
        bad = [
            "2026-02-30..2026-03-01", "2026-13-01..2026-13-02", f"{today}..{today - datetime.timedelta(days=1)}",
            "garbage", "2026-5-1..2026-5-2", f"{today}...{today}", f"{today}..{today}x",
            "x" * 255, "\u00e9\u00e9-\u4e2d\u6587", f"{today + datetime.timedelta(days=1)}..{today + datetime.timedelta(days=1)}",
            "2020-01-01..2020-01-02",
        ]
        for name in bad:
            with self.subTest(name=name):
                with self.assertRaises(OSError) as cm:
                    os.stat(m.path("exports", name))
                self.assertIn(cm.exception.errno, (errno.ENOENT, errno.ENAMETOOLONG))
        r = rng(3, 3)
        for name in ["orders.csv", "orders-x.xlsx", "nope"]:
            with self.assertRaises(FileNotFoundError):
                os.stat(m.path("exports", r, name))
        with self.assertRaises(OSError) as cm:
            os.stat(m.path("exports", "x" * 300))
        self.assertIn(cm.exception.errno, (errno.ENOENT, errno.ENAMETOOLONG))
        self.assertEqual(api_calls(self.sim.stats()), 0)
        m.close(self)

    def test_read_only_everywhere(self):
        m = self.mount()
        r = rng(5, 5)
        p = m.path("exports", r, "orders.xlsx")
        for fn in (lambda: open(p, "wb"), lambda: open(m.path("exports", r, "new"), "w"),
                   lambda: os.unlink(p), lambda: os.rename(p, p + ".x"),
                   lambda: os.truncate(p, 0), lambda: os.chmod(p, 0o777),
                   lambda: os.symlink("x", m.path("exports", r, "l"))):
            with self.assertRaises(OSError) as cm:
                fn()
            self.assertIn(cm.exception.errno, (errno.EROFS, errno.EACCES, errno.EPERM))
        with self.assertRaises(OSError) as cm:
            os.mkdir(m.path("exports", "not-a-range"))
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(OSError) as cm:
            os.mkdir(m.path("exports", "2020-01-01..2020-01-02"))
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(api_calls(self.sim.stats()), 0)
        m.close(self)

    def test_used_range_listed_and_rmdir_forgets(self):
        m = self.mount()
        r = rng(50, 45)
        subprocess.run(["mkdir", "-p", m.path("exports", r)], check=True)
        self.assertIn(r, os.listdir(m.path("exports")))
        with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
            f.read()
        os.rmdir(m.path("exports", r))
        self.assertNotIn(r, os.listdir(m.path("exports")))
        with open(m.path("exports", r, ".status")) as f:
            self.assertEqual(json.load(f)["state"], "absent")
        m.close(self)

    def test_xattrs(self):
        m = self.mount()
        r = rng(8, 8)
        p = m.path("exports", r, "orders.xlsx")
        self.assertEqual(os.getxattr(p, "user.orderfs.state"), b"absent")
        with open(p, "rb") as f:
            data = f.read()
        self.assertEqual(os.getxattr(p, "user.orderfs.state"), b"ready")
        self.assertEqual(os.getxattr(p, "user.orderfs.sha256").decode(), sha(data))
        self.assertIn("user.orderfs.task_id", os.listxattr(p))
        m.close(self)


class TestStatusAndErrors(FsTestCase):
    def test_status_moves_through_states_without_exporting(self):
        self.sim.configure(generating_s=1.5)
        m = self.mount()
        r = rng(33, 33)
        status = m.path("exports", r, ".status")

        def state():
            with open(status) as f:
                return json.load(f)

        self.assertEqual(state()["state"], "absent")
        self.assertEqual(self.sim.stats()["apply"], 0)
        reader = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                                  stdout=subprocess.DEVNULL)
        seen = set()

        def watch():
            s = state()
            seen.add(s["state"])
            return s["state"] == "ready"

        wait_for(watch, what="ready state", interval=0.02)
        self.assertEqual(reader.wait(30), 0)
        self.assertTrue(seen & {"queued", "applied", "generating"}, seen)
        final = state()
        self.assertTrue(final["task_id"])
        self.assertTrue(final["server_file_name"].endswith(".xlsx"))
        self.assertGreater(final["size"], 0)
        self.assertIsNotNone(final["expires"])
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_no_data_is_enodata(self):
        r = rng(22, 22)
        self.sim.configure(outcomes={r: "nodata"})
        m = self.mount()
        with self.assertRaises(OSError) as cm:
            open(m.path("exports", r, "orders.xlsx"), "rb")
        self.assertEqual(cm.exception.errno, errno.ENODATA)
        # Remembered: a second open does not apply again.
        with self.assertRaises(OSError):
            open(m.path("exports", r, "orders.xlsx"), "rb")
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self, allowed=(r,))

    def test_generation_failed_is_eio_with_log_line(self):
        r = rng(23, 23)
        self.sim.configure(outcomes={r: "failed"})
        m = self.mount()
        with self.assertRaises(OSError) as cm:
            open(m.path("exports", r, "orders.xlsx"), "rb")
        self.assertEqual(cm.exception.errno, errno.EIO)
        lines = [l for l in m.log_text().splitlines() if " error: " in l and r.split("..")[0] in l]
        self.assertTrue(lines, "no error line naming the range")
        m.close(self, allowed=(r.split("..")[0],))

    def test_sigint_on_blocked_reader_returns_quickly_and_file_arrives_later(self):
        self.sim.configure(generating_s=3.0)
        m = self.mount()
        r = rng(35, 34)
        p = m.path("exports", r, "orders.xlsx")
        cat = subprocess.Popen(["cat", p], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: self.sim.stats()["apply"] == 1, what="export to start")
        t0 = time.monotonic()
        cat.send_signal(signal.SIGINT)
        cat.wait(10)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 1.0, f"blocked cat took {elapsed:.2f}s to die on SIGINT")
        # The export went on: the next open joins it, no second apply.
        with open(p, "rb") as f:
            data = f.read()
        self.assertEqual(sha(data), sha(self.task_bytes(r)))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_secret_never_in_debug_log(self):
        m = self.mount(args=("-d",))
        r = rng(9, 9)
        with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
            f.read()
        m.umount()
        self.assertNotIn(self.sim.secret, m.log_text())
        self.assertIn("DEBUG", m.log_text().upper())


class TestLifecycle(FsTestCase):
    def test_unmount_with_file_open_leaves_clean_state(self):
        m = self.mount()
        r = rng(44, 44)
        p = m.path("exports", r, "orders.xlsx")
        f = open(p, "rb")
        head = f.read(100)
        subprocess.run(["fusermount3", "-u", "-z", m.mnt], check=True)
        wait_for(lambda: not is_mounted(m.mnt), what="mount detached")
        rest = f.read()
        f.close()
        self.assertEqual(m.proc.wait(30), 0, m.log_text())
        m.proc = None
        m.log.close()
        want = self.task_bytes(r)
        self.assertEqual(sha(head + rest), sha(want))
        before = self.sim.stats()
        m2 = self.mount(cache_dir=m.cache_dir)
        with open(m2.path("exports", r, "orders.xlsx"), "rb") as g:
            self.assertEqual(sha(g.read()), sha(want))
        self.assertEqual(api_calls(self.sim.stats()), api_calls(before))
        m2.close(self)

    def test_unmount_with_fill_in_flight(self):
        self.sim.configure(generating_s=2.0)
        m = self.mount()
        r = rng(46, 46)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.sim.stats()["apply"] == 1, what="export to start")
        subprocess.run(["fusermount3", "-u", "-z", m.mnt], check=True)
        cat.wait(30)
        self.assertEqual(m.proc.wait(30), 0, m.log_text())
        m.proc = None
        m.log.close()
        self.assertFalse(is_mounted(m.mnt))
        # The next mount on the same cache finishes the same export: no second apply.
        m2 = self.mount(cache_dir=m.cache_dir)
        with open(m2.path("exports", r, "orders.xlsx"), "rb") as g:
            self.assertEqual(sha(g.read()), sha(self.task_bytes(r)))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m2.close(self)

    def test_restart_mid_generation_does_not_apply_again(self):
        self.sim.configure(generating_s=2.0)
        m = self.mount()
        r = rng(47, 47)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill only once orderfs has persisted the task id (what a crash must not lose).
        wait_for(lambda: self.status(m, r)["task_id"], what="task id persisted")
        self.assertIn(self.status(m, r)["state"], ("applied", "generating"))
        m.kill9()
        cat.wait(30)
        m2 = self.mount(cache_dir=m.cache_dir)
        with open(m2.path("exports", r, "orders.xlsx"), "rb") as g:
            self.assertEqual(sha(g.read()), sha(self.task_bytes(r)))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m2.close(self)

    def test_restart_mid_download_resumes(self):
        self.sim.configure(rows=20000, download_rate_bps=400000)
        m = self.mount()
        r = rng(48, 48)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The simulator counts bytes when a response ends; orderfs's own progress is live.
        wait_for(lambda: self.status(m, r)["bytes_done"] > 200000, what="download under way")
        self.assertEqual(self.status(m, r)["state"], "downloading")
        m.kill9()
        cat.wait(30)
        self.sim.configure(download_rate_bps=0)
        size = len(self.task_bytes(r))
        m2 = self.mount(cache_dir=m.cache_dir)
        with open(m2.path("exports", r, "orders.xlsx"), "rb") as g:
            self.assertEqual(sha(g.read()), sha(self.task_bytes(r)))
        st = self.sim.stats()
        self.assertEqual(st["apply"], 1)
        # Resumed, not restarted: a Range request, and total bytes sent close to one file.
        self.assertRegex(m2.log_text(), r"download from [1-9][0-9]*\)")
        self.assertLess(st["download_bytes"], size * 1.25, st)
        m2.close(self)

    def test_killed_daemon_leaves_no_dead_mount(self):
        m = self.mount()
        m.kill9()  # waits until auto_unmount has removed the mount
        with self.assertRaises(OSError) as cm:
            os.listdir(m.path("exports"))
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        m2 = self.mount(cache_dir=m.cache_dir, workdir=m.dir)
        os.listdir(m2.path("exports"))
        m2.close(self)

    def test_dead_mount_is_cleared_on_next_mount(self):
        m = self.mount(args=("-o", "no_auto_unmount"))
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait()
        m.proc = None
        m.log.close()
        with self.assertRaises(OSError) as cm:
            os.listdir(m.path("exports"))
        self.assertEqual(cm.exception.errno, errno.ENOTCONN)
        m2 = self.mount(cache_dir=m.cache_dir, workdir=m.dir)
        self.assertTrue(is_mounted(m2.mnt))
        os.listdir(m2.path("exports"))
        self.assertIn("dead", m2.log_text())
        m2.close(self)

if __name__ == "__main__":
    unittest.main()
