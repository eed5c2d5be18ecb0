"""Fresh data: the time_zone key, ranges that include today, named ranges (README
"Freshness", "Time zones")."""
import datetime
import errno
import os
import shutil
import subprocess
import tempfile
import unittest
import zoneinfo

from mount import ORDERFS, Mount
from simulator import Simulator


def zone_today(name):
    return datetime.datetime.now(zoneinfo.ZoneInfo(name)).date()


def day(d):
    return f"{d.isoformat()}..{d.isoformat()}"


class FreshTestCase(unittest.TestCase):
    sim_args = ("--rows", "40", "--pending-s", "0.05", "--generating-s", "0.05")

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(args=cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(outcomes={}, today="")
        self.sim.reset_stats()
        self.mounts = []
        self.tmp = tempfile.mkdtemp(prefix="orderfs-fresh-")

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def mount(self, **kw):
        m = Mount(self.sim, **kw)
        self.mounts.append(m)
        return m


class TestTimeZone(FreshTestCase):
    def far_zone(self):
        """A zone whose date differs from UTC's right now (UTC+14 late in the UTC day,
        UTC-11 early in it)."""
        utc = datetime.datetime.now(datetime.timezone.utc)
        return "Pacific/Kiritimati" if utc.hour >= 11 else "Pacific/Pago_Pago"

    def test_today_is_the_zones_today(self):
        zone = self.far_zone()
        today = zone_today(zone)
        utc_today = datetime.datetime.now(datetime.timezone.utc).date()
        if today == utc_today:  # the hour turned between the two calls
            today = zone_today(zone)
        self.assertNotEqual(today, utc_today)
        self.sim.configure(today=today.isoformat())  # the provider's clock is the zone's
        m = self.mount(settings={"time_zone": zone})
        exports = m.path("exports")
        self.assertTrue(os.path.isdir(os.path.join(exports, day(today))))
        self.assertIn(day(today), os.listdir(exports))
        with open(os.path.join(exports, day(today), "orders.xlsx"), "rb") as f:
            self.assertEqual(f.read(2), b"PK")
        if today < utc_today:  # UTC's today is tomorrow there: not yet exportable
            with self.assertRaises(OSError) as cm:
                os.stat(os.path.join(exports, day(utc_today)))
            self.assertEqual(cm.exception.errno, errno.ENOENT)
            self.assertNotIn(day(utc_today), os.listdir(exports))
        m.close(self)

    def test_unknown_zone_refused_at_start(self):
        m = Mount(self.sim, settings={"time_zone": "Mars/Olympus_Mons"}, start=False)
        r = subprocess.run([ORDERFS, "-f", m.config, m.mnt], capture_output=True, text=True,
                           timeout=20)
        shutil.rmtree(m.dir, ignore_errors=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("'time_zone'", r.stderr)
        self.assertIn("Mars/Olympus_Mons", r.stderr)


if __name__ == "__main__":
    unittest.main()
