"""A cache directory written by the release before "one cache per mount" keeps being served
after the upgrade, with no re-export: the cache key's canonical string and its SHA-256 file
name are what that release wrote.

How the fixture was made (tests/integration/fixtures/upgrade/, one small range): the release
binary /work/orderfs-main-1b337a1, built from main at 1b337a1 (the last commit with one cache
per export type; to build it again: `git worktree add /tmp/old 1b337a1 && make -C /tmp/old
-j2`, then /tmp/old/build/release/orderfs), was mounted against each simulator with its files
expiring ~95 years on (Clover --file-ttl-s -> availableUntil, Vexora --file-ttl-s ->
fileExpires), every file of the range read through the mount, then unmounted and the cache
directory copied (its orderfs.lock left out):

    ORDERFS=/work/orderfs-main-1b337a1 /usr/bin/python3 \\
        tests/integration/make_upgrade_fixture.py 2026-11-20..2026-11-20

make_upgrade_fixture.py holds the simulator arguments (seed 1, 5 orders and 4 payments a day
for Clover, 10 rows for Vexora) and prints the SHA-256 of each file as that binary served it:
CLOVER_SHA256 and VEXORA_SHA256 below. Clover's directory holds the ORDERS and the PAYMENTS
bundle of the range; Vexora's its orders.xlsx.

The test copies a fixture to a fresh cache_dir, mounts the binary under test against a fresh
simulator seeded the same way, reads every file, and asserts the same bytes, no request that
starts or fetches an export, and no file added to or changed in the cache directory. A changed
key or file name makes the mount export the range again: the simulator counts it, the test
fails (checked once by adding a trailing '|' to key_format's string: both tests failed, on
the bytes read for Clover and on a new file in the cache directory for Vexora).
"""
import hashlib
import os
import shutil
import tempfile
import unittest

from clover_simulator import CloverSimulator
from make_upgrade_fixture import CLOVER_ARGS, VEXORA_ARGS, FIXTURES, clover_mount
from mount import Mount
from simulator import Simulator

RANGE = "2026-11-20..2026-11-20"

CLOVER_SHA256 = {
    "orders-0001.json": "ac09adba34dfeeb9c14ffcfbadb72d00a58ee36f8dfb372e3c57a3d4409bc9e6",
    "orders.csv": "a31b98bffeb38028382d4835ec93ee2acb1781fd51e6762edcff39c5dbdd231e",
    "orders.jsonl": "931ae0028a8e65bad0bdf0a866b973ecc3b379b0815ab264cbd8eef20740ecd3",
    "orders.xlsx": "cf9fb75b8340dc2ca8fd25cc255f7658af35481eb3f79c50056a809125d1fc02",
    "payments-0001.json": "097fc9119ea3f6181b1c4298dcceed6ef34f3e862a9f467ab4dcf78296c02413",
    "payments.csv": "a2d27fc593ab8c8ee6b8ea4d79971b21edeeaa83f253d019242016680f681ffe",
    "payments.jsonl": "7be20ec929b9e97c6af7431a5b5c54c652692021594588788b83382a6596ffbd",
    "payments.xlsx": "11d5c9528871db4ab5900363e809cbdf9e2800ad938c389c62f7a9f72c6c8c7b",
}

VEXORA_SHA256 = {
    "orders.xlsx": "b1af7d692d6f30ef036796553e7d520c9508ce90836f4b1f08a6797739ff0d0c",
}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def data_files(cache_dir):
    """The export files of a cache directory: name -> SHA-256 of the bytes."""
    v1 = os.path.join(cache_dir, "v1")
    out = {}
    for name in sorted(os.listdir(v1)):
        if name.endswith(".data"):
            with open(os.path.join(v1, name), "rb") as f:
                out[name] = sha(f.read())
    return out


class UpgradeTestCase(unittest.TestCase):
    def serve_fixture(self, sim, name, make_mount, want):
        """Mount over a copy of fixture `name`; the files read must be `want`."""
        work = tempfile.mkdtemp(prefix="orderfs-upgrade-")
        self.addCleanup(shutil.rmtree, work, True)
        cache = os.path.join(work, "cache")
        shutil.copytree(os.path.join(FIXTURES, name), cache)
        before = data_files(cache)
        self.assertEqual(len(before), 2 if name == "clover" else 1)
        sim.reset_stats()
        m = make_mount(sim, cache)
        try:
            d = m.path("exports", RANGE)
            got = {}
            for f in sorted(want):
                with open(os.path.join(d, f), "rb") as fh:
                    got[f] = sha(fh.read())
            listed = sorted(n for n in os.listdir(d) if not n.startswith("."))
        finally:
            m.close(self)
        self.assertEqual(got, want)
        self.assertEqual(listed, sorted(want))
        self.assertEqual(data_files(cache), before, "the cache's files changed")
        return sim.stats()


class TestUpgradeServesOldCache(UpgradeTestCase):
    def test_clover_orders_and_payments_served_without_export(self):
        sim = CloverSimulator(args=CLOVER_ARGS)
        self.addCleanup(sim.stop)
        stats = self.serve_fixture(sim, "clover", clover_mount, CLOVER_SHA256)
        self.assertEqual(stats["exports_created"], {"ORDERS": 0, "PAYMENTS": 0})
        self.assertEqual(stats["posts"], 0)
        self.assertEqual(stats["file_downloads"], 0)
        self.assertEqual(sim.exports(), [])

    def test_vexora_orders_served_without_export(self):
        sim = Simulator(args=VEXORA_ARGS)
        self.addCleanup(sim.stop)
        stats = self.serve_fixture(sim, "vexora", lambda s, c: Mount(s, cache_dir=c),
                                   VEXORA_SHA256)
        self.assertEqual(stats["apply"], 0)
        self.assertEqual(stats["status"] + stats["downloadUrl"] + stats["download"], 0)
        self.assertEqual(sim.tasks(), [])


if __name__ == "__main__":
    unittest.main()
