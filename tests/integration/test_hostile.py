"""orderfs against a hostile provider: the Vexora simulator answers the API correctly, and one
twist at a time comes from a server of the test's own on loopback (hostile.py)."""
import errno
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from clover_simulator import CloverSimulator
from hostile import HostileServer
from mount import SANITIZED, VALGRIND, Mount, is_live, wait_for
from test_faults import FaultCase, read
from test_fs import rng
from test_fs_clover import clover_settings, day

MiB = 1024 * 1024


class TmpfsCache:
    """A small tmpfs for cache_dir, unmounted after; peak() is the most it ever held, sampled
    every few milliseconds by a thread until stop()."""

    def __init__(self, testcase, size_mib):
        self.dir = tempfile.mkdtemp(prefix="orderfs-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs",
                        self.dir], check=True)
        testcase.addCleanup(self.cleanup)
        self.cache = os.path.join(self.dir, "cache")
        self.max_used = 0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def used(self):
        st = os.statvfs(self.dir)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def _sample(self):
        while self.running:
            self.max_used = max(self.max_used, self.used())
            time.sleep(0.002)

    def peak(self):
        return max(self.max_used, self.used())

    def cleanup(self):
        self.running = False
        self.thread.join()
        subprocess.run(["umount", "-l", self.dir], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class HostileCase(FaultCase):
    def setUp(self):
        super().setUp()
        self.sim.configure(download_url_override="", redirect_download_to="",
                           compression="deflate")
        self.hostile = HostileServer()
        self.addCleanup(self.hostile.stop)
        self.addCleanup(lambda: self.sim.configure(download_url_override=""))

    def assert_no_partial(self, cache):
        for _, _, files in os.walk(cache):
            for n in files:
                self.assertFalse(n.endswith(".part"), n)


class TestDownloadSize(HostileCase):
    """Defect 1: no download fills the disk under cache_dir."""
    CAP = 16 * MiB

    def mount_small(self, extra=None):
        self.disk = TmpfsCache(self, 64)
        settings = {"cache_max_size": "16M"}
        settings.update(extra or {})
        return self.mount(cache_dir=self.disk.cache, settings=settings)

    def read_good(self, m, r):
        self.sim.configure(download_url_override="")
        self.assert_server_bytes(r, read(m.path("exports", r, "orders.xlsx")))

    def read_hostile(self, m, r, eno):
        self.sim.configure(download_url_override=self.hostile.url)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, eno, m.log_text()[-3000:])
        self.assertTrue(is_live(m.mnt))

    def never_ending(self, twist):
        self.hostile.twist = twist
        self.sim.configure(rows=3000, compression="stored")  # about 1 MB
        m = self.mount_small()
        ready = rng(70, 70)
        self.read_good(m, ready)
        bad = rng(71, 71)
        self.read_hostile(m, bad, errno.EFBIG)
        # The cache plus the download in progress stayed within the cap (plus one buffer):
        # the ready file made room for it.
        self.assertLessEqual(self.disk.peak(), self.CAP + MiB // 2,
                             f"cache held {self.disk.peak()} bytes")
        self.assertTrue(self.log_lines(m, bad, "max_file_size", str(self.CAP)),
                        m.log_text()[-3000:])
        self.assert_no_partial(self.disk.cache)
        self.sim.configure(rows=200, compression="deflate")
        self.read_good(m, rng(72, 72))
        m.close(self, allowed=(bad,))

    def test_close_delimited_body_stops_at_the_cap(self):
        self.never_ending("close")

    def test_chunked_body_stops_at_the_cap(self):
        self.never_ending("chunked")

    def test_huge_content_length_refused_before_a_byte(self):
        self.hostile.twist = "huge"
        m = self.mount_small()
        bad = rng(73, 73)
        self.read_hostile(m, bad, errno.EFBIG)
        self.assertLess(self.disk.peak(), MiB, f"cache held {self.disk.peak()} bytes")
        self.assertTrue(self.log_lines(m, bad, "100000000000", str(self.CAP)),
                        m.log_text()[-3000:])
        self.assert_no_partial(self.disk.cache)
        self.read_good(m, rng(74, 74))
        m.close(self, allowed=(bad,))

    def test_declared_length_over_free_space_is_enospc(self):
        self.hostile.twist = "huge"
        self.hostile.length = 500 * MiB
        m = self.mount_small({"max_file_size": "1G", "cache_max_size": "0"})
        bad = rng(75, 75)
        self.read_hostile(m, bad, errno.ENOSPC)
        self.assertLess(self.disk.peak(), MiB, f"cache held {self.disk.peak()} bytes")
        lines = self.log_lines(m, bad, str(500 * MiB), "cache_min_free")
        self.assertTrue(lines, m.log_text()[-3000:])
        self.read_good(m, rng(76, 76))
        m.close(self, allowed=(bad,))


class TestTrickle(HostileCase):
    """Defect 4: a download that trickles does not hold an export slot forever."""
    STALL_S = 2
    RETRIES = 2

    def test_trickling_download_frees_its_slot(self):
        self.hostile.twist = "trickle"
        self.hostile.length = MiB
        self.hostile.trickle_bps = 100  # far under download_min_rate's 16k default
        m = self.mount(settings={"max_exports": "1", "retry_limit": str(self.RETRIES),
                                 "download_stall_timeout": f"{self.STALL_S}s"})
        slow, other = rng(77, 77), rng(78, 78)
        self.sim.configure(download_url_override=self.hostile.url)
        results = {}

        def reader(r):
            t0 = time.monotonic()
            try:
                results[r] = len(read(m.path("exports", r, "orders.xlsx")))
            except OSError as e:
                results[r] = e.errno
            results[r + "-s"] = time.monotonic() - t0

        ta = threading.Thread(target=reader, args=(slow,), daemon=True)
        ta.start()
        wait_for(lambda: self.hostile.sent > 0, what="the trickle to start")
        self.sim.configure(download_url_override="")  # the other range downloads for real
        tb = threading.Thread(target=reader, args=(other,), daemon=True)
        tb.start()
        # The slot is free after retry_limit stalls (plus their backoff); then the other
        # range's own time, which is well under a second here. Slack for a loaded machine.
        bound = self.RETRIES * self.STALL_S + 2 + 8
        tb.join(bound)
        self.assertFalse(tb.is_alive(), f"{other} still queued after {bound} s: "
                         + m.log_text()[-2000:])
        ta.join(bound)  # the other range may well be done first: its export needs no slot
        self.assertFalse(ta.is_alive(), f"{slow} still downloading after {bound} s")
        self.assertEqual(results[slow], errno.ETIMEDOUT, m.log_text()[-2000:])
        self.assertTrue(self.log_lines(m, slow, "download_min_rate"), m.log_text()[-3000:])
        self.assert_server_bytes(other, read(m.path("exports", other, "orders.xlsx")))
        m.close(self, allowed=(slow,))


class MogujieFake:
    """What Mount needs of a simulator, for a hostile Mogujie server."""

    def __init__(self, url):
        self.url = url
        self.secret = "hostile-app-secret"
        self.merchant = "hostile-app-key"


class TestEndlessSync(unittest.TestCase):
    """Defect 3: a Mogujie sync ends, whatever totalNum and hasNext say."""

    def setUp(self):
        self.hostile = HostileServer("mogujie")
        self.addCleanup(self.hostile.stop)

    def mount(self, settings):
        fake = MogujieFake(self.hostile.base)
        m = Mount(fake, start=False, settings={
            "provider": "mogujie", "base_url": fake.url, "app_key": fake.merchant,
            "retry_limit": "1", "max_file_size": "1G", **settings})
        m.token_file = os.path.join(m.dir, "token")
        with open(m.token_file, "w") as f:
            f.write("hostile-token\n")
        os.chmod(m.token_file, 0o600)
        with open(m.config, "a") as f:
            f.write(f"token_file = {m.token_file}\n")
        m.start()
        self.addCleanup(lambda: m.proc is not None and m.umount())
        return m

    def read_fails(self, m, r, eno, within_s):
        got = []

        def reader():
            try:
                read(m.path("exports", r, "orders.jsonl"))
                got.append(0)
            except OSError as e:
                got.append(e.errno)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(within_s)
        if t.is_alive():  # the sync would go on: let the unmount end it
            self.addCleanup(lambda: m.umount(lazy=True))
            self.fail(f"read of {r} still running after {within_s} s: "
                      + m.log_text()[-1500:])
        self.assertEqual(got, [eno], m.log_text()[-3000:])
        self.assertTrue(is_live(m.mnt))

    def test_export_timeout_bounds_the_sync(self):
        m = self.mount({"export_timeout": "3s"})
        r = rng(3, 3)
        self.read_fails(m, r, errno.ETIMEDOUT, 3 + 5)
        self.assertTrue([l for l in m.log_text().splitlines()
                         if r in l and "export_timeout" in l], m.log_text()[-3000:])
        m.close(self, allowed=(r,))

    def test_growing_total_is_a_protocol_error(self):
        self.hostile.total_num = 500
        self.hostile.total_step = 50
        m = self.mount({"export_timeout": "60s"})
        r = rng(4, 4)
        self.read_fails(m, r, errno.EPROTO, 20)
        lines = [l for l in m.log_text().splitlines() if "totalNum" in l and "500" in l]
        self.assertTrue(lines, m.log_text()[-3000:])
        m.close(self, allowed=(r,))


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class TestCloverFileMemory(unittest.TestCase):
    """Defect 2: a Clover export file is converted element by element, in bounded memory."""
    MB = 10**6

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=("--pending-s", "0.1", "--progress-s", "0.2"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.hostile = HostileServer("clover_file")
        self.addCleanup(self.hostile.stop)
        self.sim.configure(file_url_override=self.hostile.url)
        self.addCleanup(lambda: self.sim.configure(file_url_override=None))

    def mount(self):
        m = Mount(self.sim, start=False, settings=clover_settings(self.sim))
        with open(m.config, "a") as f:
            f.write(f"token_file = {m.secret_file}\n")
        m.start()
        self.addCleanup(lambda: m.proc is not None and m.umount())
        return m

    def test_big_file_converts_in_bounded_memory(self):
        # 32 MB keeps make test fast; ORDERFS_TEST_CLOVER_MB=250 is the size of the issue (README).
        size_mb = int(os.environ.get("ORDERFS_TEST_CLOVER_MB", "32"))
        pad = 124_990  # about 250 kB an element; 1000 elements (the API's page) per file
        self.hostile.clover_pads = [pad] * (size_mb * 4)
        m = self.mount()
        idle = vm_hwm_kb(m.proc.pid)
        r = day(2)
        try:
            with open(m.path("exports", r, "orders.jsonl"), "rb") as f:
                lines = sum(1 for _ in f)
        except OSError as e:
            self.fail(f"{e}: " + m.log_text()[-3000:])
        self.assertEqual(lines, size_mb * 4)
        grew_mib = (vm_hwm_kb(m.proc.pid) - idle) / 1024
        print(f"\n  {size_mb} MB Clover file: VmHWM {grew_mib:.1f} MiB over the idle mount")
        if not (SANITIZED or VALGRIND):  # their allocators keep freed memory on purpose
            self.assertLess(grew_mib, 64)
        m.close(self)

    def test_element_over_the_cap_is_eproto(self):
        self.hostile.clover_pads = [10, 600_000, 10]  # the second element is about 1.2 MB
        m = self.mount()
        r = day(3)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.jsonl"))
        self.assertEqual(cm.exception.errno, errno.EPROTO, m.log_text()[-3000:])
        self.assertIn("larger than", m.log_text())
        m.close(self, allowed=(r,))


class TestEpochExpiry(HostileCase):
    """Point 5: a fileExpires at the Unix epoch means expired, in any zone, never "kept
    forever". A proxy of the test's own rewrites the simulator's status answers."""

    def expiry_1970(self, tz):
        self.hostile.twist = "proxy"
        self.hostile.upstream = self.sim.url
        self.hostile.rewrite = lambda path, body: re.sub(
            rb'"fileExpires":\s*"[^"]*"', b'"fileExpires":"1970-01-01 00:00:00"', body)
        old = os.environ.get("TZ")
        os.environ["TZ"] = tz
        try:
            m = self.mount(settings={"base_url": self.hostile.base + "/nigeria"})
        finally:
            if old is None:
                del os.environ["TZ"]
            else:
                os.environ["TZ"] = old
        r = rng(79, 79)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO, m.log_text()[-3000:])
        self.assertTrue(self.log_lines(m, r, "expired"), m.log_text()[-3000:])
        self.assert_no_partial(m.cache_dir)
        self.assertEqual(self.sim.stats()["download"], 0)  # an expired file is not fetched
        m.close(self, allowed=(r,))

    def test_epoch_expiry_in_utc(self):
        self.expiry_1970("UTC0")

    def test_epoch_expiry_east_of_utc(self):
        self.expiry_1970("Asia/Shanghai")


class TestHttpsToHttp(HostileCase):
    """Point 6: a download that started as https is never redirected to http."""

    def test_redirect_from_https_to_http_refused(self):
        d = tempfile.mkdtemp(prefix="orderfs-tls-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "1", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        tls = HostileServer("redirect", tls=(cert, key))
        self.addCleanup(tls.stop)
        self.hostile.twist = "body"
        self.hostile.body = b"served over plain http"
        tls.location = self.hostile.url
        self.sim.configure(download_url_override=tls.url)
        # The test's certificate is its own: TLS checks off, the scheme rule still on.
        m = self.mount(settings={"tls_insecure": "yes"})
        r = rng(69, 69)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO, m.log_text()[-3000:])
        self.assertGreater(tls.requests, 0)
        self.assertEqual(self.hostile.requests, 0, "the http URL was fetched")
        self.assertTrue(self.log_lines(m, r, "https to another scheme"), m.log_text()[-3000:])
        m.close(self, allowed=(r,))


class TestMisleadingReplies(HostileCase):
    """Point 7: a reply that will be wrong every time is said for what it is, once."""

    def test_gzip_file_is_named_and_not_retried(self):
        self.hostile.twist = "body"
        self.hostile.body = gzip.compress(b"PK\x03\x04 not really an xlsx" * 100)
        self.hostile.headers = {"Content-Encoding": "gzip"}
        self.sim.configure(download_url_override=self.hostile.url)
        m = self.mount(settings={"retry_limit": "3"})
        r = rng(68, 68)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO, m.log_text()[-3000:])
        self.assertTrue(self.log_lines(m, r, "gzip-compressed"), m.log_text()[-3000:])
        self.assertEqual(self.hostile.requests, 1)
        m.close(self, allowed=(r,))

    def test_html_reply_is_named_and_not_retried(self):
        page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        self.hostile.twist = "proxy"
        self.hostile.upstream = self.sim.url
        self.hostile.rewrite = lambda path, body: page if path.endswith("/status") else body
        self.hostile.proxy_ctype = ("/status", "text/html; charset=utf-8")
        m = self.mount(settings={"base_url": self.hostile.base + "/nigeria"})
        r = rng(67, 67)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO, m.log_text()[-3000:])
        lines = self.log_lines(m, r, "HTTP 200", "text/html", "<html><head><title>502")
        self.assertTrue(lines, m.log_text()[-3000:])
        self.assertNotIn("unreachable", lines[0])
        self.assertEqual(self.sim.stats()["status"], 1)  # not asked again: it would be HTML
        m.close(self, allowed=(r,))
