"""Whole files for tools that trust stat (issue 14): with exact_sizes = yes a stat waits for
the export, so tar and a Samba share of the mount get every byte; with the default (no), ls -l
never starts an export."""
import csv
import errno
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

from mount import wait_for
from test_fs import FsTestCase, api_calls, rng, sha
from test_fs_clover import CloverFsTestCase, day


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tar_members(m, r):
    """tar cf of exports/R, then every regular member's bytes by name."""
    out = os.path.join(m.dir, "x.tar")
    subprocess.run(["tar", "cf", out, "-C", m.path("exports"), r], check=True,
                   capture_output=True)
    with tarfile.open(out) as t:
        return {os.path.basename(i.name): t.extractfile(i).read()
                for i in t.getmembers() if i.isfile()}


class TestExactSizesVexora(FsTestCase):
    def test_tar_of_fresh_range_has_the_whole_file(self):
        m = self.mount(settings={"exact_sizes": "yes"})
        r = rng(30, 29)
        got = tar_members(m, r)
        self.assertEqual(sorted(got), [".status", "orders.xlsx"])
        want = self.task_bytes(r)
        self.assertGreater(len(want), 1000)
        self.assertEqual(sha(got["orders.xlsx"]), sha(want))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_default_ls_l_of_20_ranges_makes_no_api_call(self):
        m = self.mount()
        before = self.sim.stats()
        for back in range(20, 40):
            r = rng(back, back)
            out = subprocess.run(["ls", "-l", m.path("exports", r)], check=True,
                                 capture_output=True, text=True).stdout
            self.assertIn("orders.xlsx", out)
        self.assertEqual(api_calls(self.sim.stats()), api_calls(before))
        self.assertEqual(os.stat(m.path("exports", rng(20, 20), "orders.xlsx")).st_size, 0)
        m.close(self)

    def test_stat_failure_is_the_open_errno(self):
        r = rng(33, 33)
        self.sim.configure(outcomes={r: "failed"})
        m = self.mount(settings={"exact_sizes": "yes"})
        with self.assertRaises(OSError) as cm:
            os.stat(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO)  # what open gives
        m.close(self, allowed=(r.split("..")[0],))


class TestExactSizesClover(CloverFsTestCase):
    def test_tar_of_fresh_range_gets_every_member_whole(self):
        m = self.mount(settings={"exact_sizes": "yes"})
        r = day(6)
        got = tar_members(m, r)
        names = sorted(n for n in got if n != ".status")
        self.assertIn("orders.csv", names)
        self.assertIn("payments.jsonl", names)
        for name in names:
            self.assertGreater(len(got[name]), 0, name)
            self.assertEqual(sha(got[name]), sha(read(m.path("exports", r, name))), name)
        rows = list(csv.reader(io.StringIO(got["orders.csv"].decode(), newline="")))
        self.assertEqual(len(rows) - 1, 30)
        m.close(self)


@unittest.skipUnless(shutil.which("smbd") or os.path.exists("/usr/sbin/smbd"),
                     "Debian samba is not installed (make deps installs it)")
class TestSambaShare(FsTestCase):
    def setUp(self):
        super().setUp()
        self.smb = None

    def tearDown(self):
        if self.smb:
            self.smb.stop()
        super().tearDown()

    def test_smbclient_gets_whole_files_of_a_fresh_range(self):
        from samba import Samba
        m = self.mount(settings={"exact_sizes": "yes"})
        self.smb = Samba(m.mnt)
        r = rng(35, 34)
        local = os.path.join(m.dir, "via-smb.xlsx")
        p = self.smb.get(f"exports/{r}/orders.xlsx", local)
        self.assertEqual(p.returncode, 0, p.stderr.decode() + self.smb.log_text())
        want = self.task_bytes(r)
        self.assertEqual(sha(read(local)), sha(want))
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)


if __name__ == "__main__":
    unittest.main()
