"""orderfs against a hostile provider: the Vexora simulator answers the API correctly, and one
twist at a time comes from a server of the test's own on loopback (hostile.py)."""
import errno
import os
import shutil
import subprocess
import tempfile
import threading
import time

from hostile import HostileServer
from mount import is_live
from test_faults import FaultCase, read
from test_fs import rng

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
