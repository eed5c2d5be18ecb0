"""Defects found in review (issue 13), each checked through a real mount: a kept over-cap file
must not empty the cache, unmount must not wait on a sleeping retry, and per-path memory stays
bounded however many paths a script stats."""
import datetime
import json
import os
import signal
import subprocess
import time
import unittest

from mount import SANITIZED, VALGRIND, Mount, is_mounted, vm_rss_kb, wait_for
from test_fs import FsTestCase, api_calls, rng, sha
from test_fs_mogujie import MogujieFsTestCase, day


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TestEvictionWithOverCapFile(FsTestCase):
    def test_small_files_stay_beside_a_kept_big_one(self):
        # The big file (3000 rows, ~90 KB compressed) alone exceeds the cap, the two small
        # ones (200 rows, under 20 KB each) fit it together with room to spare.
        # max_file_size above the cap: its default (the cap) would refuse the big file.
        m = self.mount(settings={"cache_max_size": "50K", "max_file_size": "1M"})
        big, small1, small2 = rng(40, 40), rng(41, 41), rng(42, 42)
        self.sim.configure(rows=3000)
        big_data = read(m.path("exports", big, "orders.xlsx"))
        self.assertGreater(len(big_data), 50 * 1024)
        self.sim.configure(rows=200)
        first = {r: read(m.path("exports", r, "orders.xlsx")) for r in (small1, small2)}
        for r in (small1, small2):
            self.assertLess(len(first[r]), 20 * 1024)
        self.assertIn("exceeds cache_max_size", m.log_text())
        before = self.sim.stats()
        for r in (small1, small2, big, small1, small2):
            data = read(m.path("exports", r, "orders.xlsx"))
            self.assertEqual(sha(data), sha(big_data if r == big else first[r]))
        self.assertEqual(api_calls(self.sim.stats()), api_calls(before))
        self.assertNotIn("evicted", m.log_text())
        m.close(self)


class TestUnmountDuringRetrySleep(MogujieFsTestCase):
    def test_unmount_during_failing_sync_is_prompt_and_next_mount_resumes(self):
        # Every page answers 429 with Retry-After: 5, so the client sleeps 5 s between its
        # page retries (the ~15 s an unmount used to wait).
        self.sim.configure(orders_per_day=200, retry_after_s=5)
        m = self.mount()
        d, r = day(11)
        self.sim.configure(fail_next=[429] * 400)
        cat = subprocess.Popen(["cat", m.path("exports", r, "orders.jsonl")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: "retry 1 of" in m.log_text(), timeout=20, what="a page retry sleep")
        # Ctrl-C: the reader goes, the export goes on in the background (as for prefetch).
        cat.send_signal(signal.SIGINT)
        cat.wait(10)
        t0 = time.monotonic()
        subprocess.run(["fusermount3", "-u", m.mnt], check=True, capture_output=True)
        m.proc.wait(30)
        took = time.monotonic() - t0
        self.assertLess(took, 2.0, f"orderfs took {took:.1f} s to exit after the unmount")
        print(f"\n  unmount during a 5 s retry sleep: orderfs exited in {took:.2f} s", end=" ")
        m.umount()
        # The next mount resumes: the range syncs once the provider answers again.
        self.sim.configure(fail_next=[], retry_after_s=0)
        m.start()
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual([json.loads(x) for x in lines], self.sim.orders(d, d))
        # The task the first mount applied for is the one that finished: no second apply
        # (resumed by the recovery scan or by the open that raced it to the .meta).
        self.assertEqual(m.log_text().count("applied for export task"), 1)
        m.close(self)



def every_range_path(today, window_days=360):
    """Distinct file paths of Mogujie's window: every range A..B, three files for each of its
    31-day chunks (the files of a longer range are named after their chunk). Far more than
    200,000 paths."""
    for span in range(0, window_days):
        for back in range(span + 1, window_days + 2):
            a = today - datetime.timedelta(days=back)
            b = a + datetime.timedelta(days=span)
            if span < 31:
                chunks = [""]
            else:
                chunks = []
                c = a
                while c <= b:
                    e = min(c + datetime.timedelta(days=30), b)
                    chunks.append(f"-{c}..{e}")
                    c = e + datetime.timedelta(days=1)
            for chunk in chunks:
                for ext in (".csv", ".jsonl", ".xlsx"):
                    yield f"{a}..{b}/orders{chunk}{ext}"


def alternate(paths):
    """Two interleaved halves of paths, so both have the same mix of name lengths."""
    first, second = [], []
    for i, p in enumerate(paths):
        (first if i % 2 == 0 else second).append(p)
    return first, second


class TestPerPathMemory(MogujieFsTestCase):
    """stat of 100,000 distinct range paths must not grow orderfs's memory without bound.

    libfuse keeps a node for every path the kernel holds a dentry for, and its node tables
    keep their largest size; the kernel lets go of dentries under memory pressure (here:
    drop_caches). So the test first stats 100,000 paths and has the kernel drop them, which
    sizes libfuse's tables and threads; what grows after that over 100,000 other paths of the
    same shapes, once the kernel has dropped those too, is orderfs's own per-path memory."""

    def stat_all(self, m, paths):
        for p in paths:
            os.stat(m.path("exports", p))

    @staticmethod
    def drop_kernel_dentries():
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")

    @staticmethod
    def settled_rss(pid):
        """RSS once libfuse has worked through the kernel's FORGETs (they come after
        drop_caches returns): three readings 100 ms apart within 128 KiB of each other."""
        readings = [vm_rss_kb(pid)]

        def settled():
            readings.append(vm_rss_kb(pid))
            last = readings[-3:]
            return len(last) == 3 and max(last) - min(last) < 128
        wait_for(settled, timeout=20, what="orderfs's RSS to settle", interval=0.1)
        return readings[-1]

    def stats(self, m):
        with open(m.path(".stats")) as f:
            return json.load(f)

    def test_stat_100000_paths_bounded_memory(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to have the kernel drop its dentries (drop_caches)")
        # A fixed number of FUSE threads: each new one costs a buffer and a malloc arena,
        # which is not per-path memory and would make the figure depend on the load.
        m = self.mount(settings={"log_level": "info", "max_threads": "4"})
        gen = every_range_path(datetime.date.today())
        warm, measured = alternate(next(gen) for _ in range(200000))
        self.stat_all(m, warm)
        self.drop_kernel_dentries()
        before = self.settled_rss(m.proc.pid)
        self.stat_all(m, measured)
        self.drop_kernel_dentries()
        grown = self.settled_rss(m.proc.pid) - before
        st = self.stats(m)
        self.assertLessEqual(st["paths"]["remembered"], 4096)
        # Every stat'ed file lies in a range directory the kernel looked up: one pin each.
        self.assertGreater(st["paths"]["pinned_ranges"], 20000)
        print(f"\n  RSS grew {grown} KiB over 100,000 stats; {st['paths']}", end=" ")
        if not (SANITIZED or VALGRIND):  # their allocators keep freed memory on purpose
            self.assertLess(grown, 4096, f"RSS grew {grown} KiB over 100,000 stats")
        self.assertEqual(self.sim.stats()["requests"], 0)
        m.close(self)


if __name__ == "__main__":
    unittest.main()
