"""Faults a provider, a network or a disk can throw at a mounted orderfs (issue 5).

For each fault the reader ends with the server's exact bytes (SHA-256 against /_sim/file) or a
specific errno; the log says what happened; the API call counts stay bounded (no apply storms).
Kill -9 mid-export and mid-download, unclean unmounts and "no data" live in test_fs.py.
"""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from mount import SANITIZED, VALGRIND, Mount, vm_rss_kb, wait_for
from simulator import Simulator
from test_fs import FsTestCase, api_calls, rng, sha


def read(path):
    with open(path, "rb") as f:
        return f.read()


def figure(text):
    """A measured figure, shown in the verbose test output (for the record, not a check)."""
    print("\n  " + text, end=" ")


class FaultCase(FsTestCase):
    sim_args = ("--rows", "200", "--pending-s", "0.1", "--generating-s", "0.2")

    def setUp(self):
        super().setUp()
        # Every fault knob back to "off" so one test's leftovers cannot help the next.
        self.sim.configure(api_500_next=0, api_500_rate=0.0, truncate_json_next=0,
                           rate_limit_next=0, unavailable_next=0, oversize_json_next=0,
                           drop_download_count=0, drop_download_after=0, ignore_range=False,
                           content_length_delta=0, content_length_count=0, api_delay_ms=0,
                           download_rate_bps=0, download_delay_ms=0, url_ttl_ms=600000,
                           download_url_override="", file_name_override="",
                           redirect_download_to="", retry_after_s=1, compression="deflate")
        self.sim.reset_stats()

    def assert_server_bytes(self, r, data):
        want = self.task_bytes(r)
        self.assertEqual(len(data), len(want))
        self.assertEqual(sha(data), sha(want))

    def log_lines(self, m, *needles):
        return [l for l in m.log_text().splitlines() if all(n in l for n in needles)]

    def tasks_for(self, r):
        start, end = r.split("..")
        return [t for t in self.sim.tasks() if t["start"].startswith(start)
                and t["end"].startswith(end)]


class TestApiFaults(FaultCase):
    def test_http_500_on_30_percent_of_calls(self):
        self.sim.configure(api_500_rate=0.3)
        m = self.mount(settings={"retry_limit": "8"})
        ranges = [rng(51, 51), rng(52, 52), rng(53, 53)]
        results = {}

        def reader(r):
            results[r] = read(m.path("exports", r, "orders.xlsx"))

        threads = [threading.Thread(target=reader, args=(r,)) for r in ranges]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.sim.configure(api_500_rate=0.0)
        st = self.sim.stats()
        self.assertGreater(st["faults_injected"], 0, st)
        for r in ranges:
            self.assert_server_bytes(r, results[r])
            # A 500 is answered before the task is created: one task per range, never more.
            self.assertEqual(len(self.tasks_for(r)), 1)
        self.assertLessEqual(st["apply"], 3 * 4, st)  # 3 ranges, a few 500s each at most
        figure(f"30% HTTP 500: {st['faults_injected']} injected, {st['apply']} apply calls "
               f"for 3 ranges, {api_calls(st)} calls in all")
        self.assertTrue(self.log_lines(m, "HTTP 500", "retrying in"), "no retry log line")
        m.close(self)

    def test_truncated_json_is_retried(self):
        # The first two answers are cut in half (the apply was processed by the server).
        self.sim.configure(truncate_json_next=2)
        m = self.mount()
        r = rng(54, 54)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        st = self.sim.stats()
        self.assertLessEqual(st["apply"], 3, st)  # each truncated apply answer costs one task
        self.assertTrue(self.log_lines(m, "malformed JSON", "retrying in"))
        m.close(self)

    def test_slow_api_just_under_the_timeout(self):
        self.sim.configure(api_delay_ms=700)
        m = self.mount(settings={"request_timeout": "1"})
        r = rng(55, 55)
        self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_api_slower_than_the_timeout_is_eio_with_log_line(self):
        self.sim.configure(api_delay_ms=1600)
        m = self.mount(settings={"request_timeout": "1", "retry_limit": "1"})
        r = rng(56, 56)
        t0 = time.monotonic()
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        elapsed = time.monotonic() - t0
        self.sim.configure(api_delay_ms=0)
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertLess(elapsed, 10, f"took {elapsed:.1f}s")
        lines = self.log_lines(m, "export " + r, "failed", "unreachable")
        self.assertTrue(lines, m.log_text()[-2000:])
        self.assertIn("timeout", lines[0].lower())
        m.close(self, allowed=(r,))

    def test_oversized_json_is_refused_with_bounded_memory(self):
        m = self.mount()
        r = rng(57, 57)
        rss0 = vm_rss_kb(m.proc.pid)
        self.sim.configure(oversize_json_next=1)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertTrue(self.log_lines(m, "export " + r, "response larger than"),
                        m.log_text()[-2000:])
        # The 5 MiB answer was never held: the cap is 1 MiB. (Under valgrind RSS also counts
        # the code it translates, and under ASan its quarantine keeps every freed buffer:
        # ~4 MB here for this release and the one before alike, so the figure means nothing
        # there; ASan's own checks stand in, as in the soak.)
        grown = vm_rss_kb(m.proc.pid) - rss0
        figure(f"RSS grew {grown} kB refusing a 5 MiB answer")
        if not VALGRIND and not SANITIZED:
            self.assertLess(grown, 4096)
        # The next open works.
        self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))
        self.assertLessEqual(self.sim.stats()["apply"], 2)
        m.close(self, allowed=(r,))

    def test_429_and_503_retry_after_honoured(self):
        self.sim.configure(rate_limit_next=1, unavailable_next=1, retry_after_s=1)
        m = self.mount()
        r = rng(58, 58)
        t0 = time.monotonic()
        data = read(m.path("exports", r, "orders.xlsx"))
        elapsed = time.monotonic() - t0
        self.assert_server_bytes(r, data)
        # Two answers asked for 1 s each: we waited them out, and did not hammer meanwhile.
        self.assertGreaterEqual(elapsed, 1.9)
        figure(f"429 + 503 with Retry-After 1 s: file after {elapsed:.1f} s")
        st = self.sim.stats()
        self.assertEqual(st["apply"], 3, st)  # 429, 503, then the real apply
        self.assertEqual(len(self.tasks_for(r)), 1)
        self.assertTrue(self.log_lines(m, "HTTP 429", "as the server asked"))
        self.assertTrue(self.log_lines(m, "HTTP 503", "as the server asked"))
        m.close(self)

    def test_global_request_rate_cap(self):
        # Eight exports polling every 50-200 ms would make ~40 calls/s; the cap holds them.
        self.sim.configure(generating_s=4.0)
        m = self.mount(settings={"max_requests_per_second": "5", "max_exports": "8"})
        ranges = [rng(60 + i, 60 + i) for i in range(8)]
        procs = [subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                                  stdout=subprocess.DEVNULL) for r in ranges]
        wait_for(lambda: self.sim.stats()["apply"] == 8, what="eight applies")
        c0, t0 = api_calls(self.sim.stats()), time.monotonic()
        time.sleep(2.0)  # a measuring window, not a wait for correctness
        c1, t1 = api_calls(self.sim.stats()), time.monotonic()
        rate = (c1 - c0) / (t1 - t0)
        figure(f"rate cap 5/s with 8 exports polling: {rate:.1f} requests/s measured")
        self.assertLessEqual(rate, 5 * 1.3, f"{rate:.1f} requests/s with a cap of 5")
        self.assertGreater(rate, 1.0)  # still polling
        for p in procs:
            self.assertEqual(p.wait(60), 0)
        self.assertEqual(self.sim.stats()["apply"], 8)
        m.close(self)


class TestDownloadFaults(FaultCase):
    def test_dropped_connection_resumes_with_range(self):
        self.sim.configure(rows=3000, drop_download_after=20000, drop_download_count=2)
        m = self.mount()
        r = rng(70, 70)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        st = self.sim.stats()
        self.assertGreaterEqual(st["download"], 3, st)
        self.assertLess(st["download_bytes"], len(data) * 1.1, st)  # resumed, not restarted
        self.assertEqual(st["apply"], 1)
        figure(f"2 drops: {st['download']} GETs, {st['download_bytes']} bytes sent for a "
               f"{len(data)}-byte file")
        m.close(self)

    def test_url_expiring_mid_download_gets_new_url_and_resumes(self):
        self.sim.configure(rows=3000, url_ttl_ms=300, download_rate_bps=100000,
                           drop_download_after=40000, drop_download_count=1)
        m = self.mount()
        r = rng(71, 71)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        st = self.sim.stats()
        self.assertGreaterEqual(st["downloadUrl"], 2, st)
        self.assertLess(st["download_bytes"], len(data) * 1.1, st)
        self.assertEqual(st["apply"], 1)
        m.close(self)

    def test_content_length_larger_than_body(self):
        self.sim.configure(rows=1000, content_length_delta=5000, content_length_count=1)
        m = self.mount()
        r = rng(72, 72)
        self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))
        self.assertLessEqual(self.sim.stats()["download"], 4)
        m.close(self)

    def test_content_length_smaller_than_file_never_served_short(self):
        self.sim.configure(rows=1000, content_length_delta=-3000, content_length_count=1)
        m = self.mount()
        r = rng(73, 73)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        self.assertTrue(self.log_lines(m, r, "retrying in"), m.log_text()[-3000:])
        m.close(self)

    def test_server_ignoring_range_starts_over_without_corruption(self):
        self.sim.configure(rows=3000, drop_download_after=30000, drop_download_count=1,
                           ignore_range=True)
        m = self.mount()
        r = rng(74, 74)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        st = self.sim.stats()
        self.assertGreaterEqual(st["faults_injected"], 2, st)  # the drop and the ignored Range
        self.assertEqual(st["apply"], 1)
        m.close(self)

    def test_generation_failed_then_succeeds_on_retry(self):
        r = rng(75, 75)
        self.sim.configure(outcomes={r: "failed_once"})
        m = self.mount()
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertTrue(self.log_lines(m, "export " + r, "failed"))
        self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))
        self.assertEqual(self.sim.stats()["apply"], 2)
        m.close(self, allowed=(r,))

    def test_sigkill_mid_download_then_remount_resumes(self):
        # test_fs.py covers a kill while generating; here the kill lands mid-body for sure
        # (bytes_done from .status, not the simulator's end-of-response counter).
        self.sim.configure(rows=3000, download_rate_bps=40000)
        m = self.mount()
        r = rng(80, 80)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.status(m, r)["bytes_done"] > 20000, what="download under way")
        m.kill9()
        cat.wait(30)
        self.sim.configure(download_rate_bps=0)
        size = len(self.task_bytes(r))
        parts = [os.path.getsize(os.path.join(d, n)) for d, _, fs in os.walk(m.cache_dir)
                 for n in fs if n.endswith(".part")]
        self.assertTrue(parts and max(parts) > 20000, parts)  # the partial file survived
        m2 = self.mount(cache_dir=m.cache_dir)
        self.assert_server_bytes(r, read(m2.path("exports", r, "orders.xlsx")))
        st = self.sim.stats()
        self.assertEqual(st["apply"], 1, st)
        self.assertLess(st["download_bytes"], size * 1.2, st)  # resumed, not restarted
        m2.close(self)

    def test_file_expired_between_status_and_download(self):
        # A download under way when orderfs dies; the server file expires meanwhile; the next
        # mount finds the task generated but its file gone, applies once more and gets it.
        self.sim.configure(rows=3000, download_rate_bps=30000)
        m = self.mount()
        r = rng(76, 76)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.xlsx")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.status(m, r)["bytes_done"] > 5000, what="download under way")
        m.kill9()
        cat.wait(30)
        self.sim.configure(download_rate_bps=0, expire_files_now=True)
        m2 = self.mount(cache_dir=m.cache_dir)
        data = read(m2.path("exports", r, "orders.xlsx"))
        self.assert_server_bytes(r, data)
        self.assertEqual(self.sim.stats()["apply"], 2)
        self.assertTrue(self.log_lines(m2, r, "applying again"), m2.log_text()[-3000:])
        m2.close(self)


class TestHostileServer(FaultCase):
    def assert_cache_confined(self, m):
        """Every file orderfs wrote is inside cache_dir and named by orderfs, not the server."""
        for dirpath, dirnames, filenames in os.walk(m.dir):
            if os.path.realpath(dirpath).startswith(os.path.realpath(m.mnt)):
                dirnames[:] = []
                continue
            for n in filenames:
                p = os.path.join(dirpath, n)
                if p.startswith(m.cache_dir + os.sep):
                    self.assertRegex(n, r"^[A-Za-z0-9._-]+$", p)
                    self.assertNotIn("Merchant", n)
                else:
                    self.assertIn(n, ("secret", "orderfs.conf", "orderfs.log",
                                      "valgrind.log"), p)

    def test_server_file_names_never_become_paths(self):
        names = ["../../../evil.xlsx", "/tmp/orderfs-evil.xlsx", "a/b/c.xlsx",
                 "bell\x07\x1b[31mred\n.xlsx", "nul\x00byte.xlsx", "L" * 5000 + ".xlsx", ".."]
        m = self.mount()
        for i, name in enumerate(names):
            with self.subTest(name=name[:40]):
                self.sim.configure(file_name_override=name)
                r = rng(77 + i, 77 + i)
                self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))
                with open(m.path("exports", r, ".status")) as f:
                    st = json.load(f)
                self.assertEqual(st["state"], "ready")
        self.assertFalse(os.path.exists("/tmp/orderfs-evil.xlsx"))
        self.assertFalse(os.path.exists(os.path.join(os.path.dirname(m.dir), "evil.xlsx")))
        self.assert_cache_confined(m)
        m.close(self)

    def test_download_urls_with_other_schemes_refused(self):
        m = self.mount()
        cases = [("download_url_override", "file:///etc/passwd"),
                 ("download_url_override", "ftp://127.0.0.1/orders.xlsx"),
                 ("download_url_override", "gopher://127.0.0.1/x"),
                 ("redirect_download_to", "file:///etc/passwd"),
                 ("redirect_download_to", "ftp://127.0.0.1/orders.xlsx")]
        for i, (key, url) in enumerate(cases):
            with self.subTest(key=key, url=url):
                self.sim.configure(**{key: url})
                self.sim.reset_stats()
                r = rng(51 + i, 51 + i) if i < 3 else rng(85, 85 - (i - 3))
                t0 = time.monotonic()
                with self.assertRaises(OSError) as cm:
                    read(m.path("exports", r, "orders.xlsx"))
                self.assertEqual(cm.exception.errno, errno.EIO)
                self.assertLess(time.monotonic() - t0, 10)
                lines = self.log_lines(m, "export " + r, "failed")
                self.assertTrue(lines, m.log_text()[-2000:])
                self.assertNotIn("/etc/passwd", lines[0])  # URLs (tokens) are never logged
                st = self.sim.stats()
                self.assertEqual(st["apply"], 1, st)
                self.assertLessEqual(st["downloadUrl"], 2, st)
                self.sim.configure(**{key: ""})
        self.assert_cache_confined(m)
        m.close(self, allowed=tuple(rng(51 + i, 51 + i) for i in range(3)) +
                (rng(85, 85), rng(85, 84)))


class TestDiskAndNetwork(FaultCase):
    def test_disk_full_is_enospc_and_recovers(self):
        tmp = tempfile.mkdtemp(prefix="orderfs-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", tmp],
                       check=True)
        self.addCleanup(lambda: (subprocess.run(["umount", "-l", tmp]), shutil.rmtree(
            tmp, ignore_errors=True)))
        cache = os.path.join(tmp, "cache")
        filler = os.path.join(tmp, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (1536 * 1024))
        self.sim.configure(rows=3000, compression="stored")  # ~1 MB file, 0.5 MB free
        m = self.mount(cache_dir=cache)
        r = rng(81, 81)
        p = m.path("exports", r, "orders.xlsx")
        with self.assertRaises(OSError) as cm:
            read(p)
        self.assertEqual(cm.exception.errno, errno.ENOSPC)
        self.assertTrue(self.log_lines(m, "export " + r, "No space left"), m.log_text()[-2000:])
        with open(m.path("exports", r, ".status")) as f:
            self.assertEqual(json.load(f)["state"], "failed")
        for dirpath, _, files in os.walk(cache):
            for n in files:  # nothing partial kept, nothing marked complete
                self.assertFalse(n.endswith(".part") or n.endswith(".data"), n)
        os.unlink(filler)
        data = read(p)
        self.assert_server_bytes(r, data)
        self.assertEqual(self.sim.stats()["apply"], 1)  # the task was kept
        m.close(self, allowed=(r,))

    def test_provider_unreachable_serves_ready_and_fails_new_fast(self):
        sim = Simulator(args=self.sim_args)
        try:
            m = Mount(sim)  # default retry settings: the bound below is the real one
            self.mounts.append(m)
            ready = rng(82, 82)
            want = read(m.path("exports", ready, "orders.xlsx"))
        finally:
            sim.stop()  # the port is closed from now on
        self.assertEqual(read(m.path("exports", ready, "orders.xlsx")), want)
        new = rng(83, 83)
        t0 = time.monotonic()
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", new, "orders.xlsx"))
        elapsed = time.monotonic() - t0
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertLess(elapsed, 25, f"EIO took {elapsed:.1f}s")
        lines = self.log_lines(m, "export " + new, "failed", "unreachable")
        self.assertTrue(lines, m.log_text()[-2000:])
        self.assertIn("connect", lines[0].lower())
        figure(f"unreachable provider: EIO after {elapsed:.1f}s")
        # The ready file is still served after the failure.
        self.assertEqual(read(m.path("exports", ready, "orders.xlsx")), want)
        m.close(self, allowed=(new,))


if __name__ == "__main__":
    unittest.main()
