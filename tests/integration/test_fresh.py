"""Fresh data: the time_zone key, ranges that include today, named ranges (README
"Freshness", "Time zones")."""
import datetime
import errno
import io
import json
import os
import threading
import time
import shutil
import subprocess
import tempfile
import unittest
import zipfile
import zoneinfo

from clover_simulator import CloverSimulator
from mogujie_simulator import MogujieSimulator
from mount import ORDERFS, Mount, wait_for
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
        self.sim.configure(outcomes={}, today="", live=False, clock=0)
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
        with open(os.path.join(exports, day(today), ".status")) as f:
            status = json.load(f)
        # .status shows times in the zone: the offset is the zone's
        offset = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).strftime("%z")
        self.assertTrue(status["ready_time"].endswith(offset), status["ready_time"])
        self.assertTrue(status["as_of"].startswith(today.isoformat()), status["as_of"])
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


def order_rows(data):
    """Orders in an export (rows of its sheet but the header)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml").count(b"<row ") - 1


def xattr(path, name):
    return os.getxattr(path, "user.orderfs." + name).decode()


class TestFreshness(FreshTestCase):
    """Vexora in live mode: today's orders exist up to the simulator's clock."""

    def setUp(self):
        super().setUp()
        midnight = datetime.datetime.combine(datetime.date.today(), datetime.time())
        # The simulator's day at 08:00, then 16:00 once "the day went on": today's orders are
        # 1/3 of the day's, then 2/3, whatever the hour the test runs at (at 00:03 the
        # halfway point of the day so far held no order at all).
        self.t0 = midnight.timestamp() + 8 * 3600
        self.later = midnight.timestamp() + 16 * 3600
        self.today = day(datetime.date.today())
        self.sim.configure(live=True, clock=self.t0, rows=2000)

    def tearDown(self):
        self.sim.configure(rows=40)
        super().tearDown()

    def read(self, m, rng=None):
        with open(m.path("exports", rng or self.today, "orders.xlsx"), "rb") as f:
            return f.read()

    def test_today_read_across_open_ttl_has_more_orders(self):
        m = self.mount(settings={"open_ttl": "1s"})
        first = order_rows(self.read(m))
        self.assertGreater(first, 0)
        f = m.path("exports", self.today, "orders.xlsx")
        self.assertEqual(xattr(f, "complete"), "0")
        fresh_until = int(xattr(f, "fresh_until"))
        as_of = int(xattr(f, "as_of"))
        self.assertEqual(fresh_until, as_of + 1)
        self.sim.configure(clock=self.later)  # the day went on: more orders
        wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
        second = order_rows(self.read(m))
        self.assertGreater(second, first)
        self.assertEqual(self.sim.stats()["apply"], 2)
        with open(m.path(".stats")) as st:
            self.assertEqual(json.load(st)["freshness"], {"refreshes": 1})
        with open(m.path("exports", self.today, ".status")) as st:
            status = json.load(st)
        text = json.dumps(status)
        self.assertIn('"complete": false', text)
        self.assertIn('"as_of"', text)
        m.close(self)

    def test_within_open_ttl_no_new_export(self):
        m = self.mount(settings={"open_ttl": "1h"})
        a = self.read(m)
        self.sim.configure(clock=self.later)
        b = self.read(m)
        self.assertEqual(a, b)
        self.assertEqual(self.sim.stats()["apply"], 1)
        with open(m.path(".stats")) as st:
            self.assertEqual(json.load(st)["freshness"], {"refreshes": 0})
        m.close(self)

    def test_reader_of_the_old_file_reads_it_unchanged(self):
        m = self.mount(settings={"open_ttl": "1s"})
        old = self.read(m)
        f = m.path("exports", self.today, "orders.xlsx")
        fresh_until = int(xattr(f, "fresh_until"))
        with open(f, "rb") as held:
            head = held.read(1000)
            self.sim.configure(clock=self.later)
            wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
            new = self.read(m)  # replaced while held is open
            self.assertEqual(self.sim.stats()["apply"], 2)
            self.assertNotEqual(new, old)
            rest = held.read()
        self.assertEqual(head + rest, old)
        m.close(self)

    def test_page_cache_reader_of_the_old_file_reads_it_whole_when_the_new_one_is_smaller(self):
        """A reader through the page cache (its open came after a stat showed the size) holds
        the old export while a refresh brings a smaller one, read and stat'ed meanwhile: it
        still reads the old file to its end, not cut at the new size (the kernel keeps one
        size per path and cuts page-cache reads there)."""
        m = self.mount(settings={"open_ttl": "1s"})
        self.sim.configure(clock=self.later)
        old = self.read(m)
        f = m.path("exports", self.today, "orders.xlsx")
        self.assertEqual(os.stat(f).st_size, len(old))  # the kernel holds the size now
        fresh_until = int(xattr(f, "fresh_until"))
        with open(f, "rb") as held:
            head = held.read(1000)
            self.sim.configure(clock=self.t0)  # an earlier clock: fewer orders, a smaller file
            wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
            with open(f, "rb") as newer:  # the new export, read with direct I/O
                new = newer.read()
                # While held is open the size shown stays the old one (a stat of the path and
                # an fstat of the new file: either would set the kernel's size for the path)
                self.assertEqual(os.fstat(newer.fileno()).st_size, len(old))
                self.assertEqual(os.stat(f).st_size, len(old))
            self.assertEqual(self.sim.stats()["apply"], 2)
            self.assertLess(len(new), len(old))
            self.assertEqual(new, self.read(m))
            rest = held.read()
        self.assertEqual(len(head + rest), len(old))
        self.assertEqual(head + rest, old)
        # the old reader gone, the path shows the new export's size (once the kernel's
        # attributes of it time out)
        wait_for(lambda: os.stat(f).st_size == len(new), what="the new size")
        m.close(self)

    def test_background_answers_at_once_then_the_new_file(self):
        m = self.mount(settings={"open_ttl": "1s", "open_refresh": "background"})
        old = self.read(m)
        f = m.path("exports", self.today, "orders.xlsx")
        fresh_until = int(xattr(f, "fresh_until"))
        as_of = xattr(f, "as_of")
        self.sim.configure(clock=self.later, pending_s=3)  # the next export takes a while
        wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
        t = time.monotonic()
        self.assertEqual(self.read(m), old)  # at once, while the export runs
        self.assertLess(time.monotonic() - t, 2.5)
        self.assertEqual(self.sim.stats()["apply"], 2)
        old_as_of = as_of
        # done behind it: a new as_of, and a file again (ready, or already past open_ttl)
        wait_for(lambda: xattr(f, "as_of") != old_as_of
                 and xattr(f, "state") in ("ready", "expired"), timeout=30,
                 what="the export behind it")
        new = self.read(m)
        self.assertGreater(order_rows(new), order_rows(old))
        self.sim.configure(pending_s=0.05)
        m.close(self)

    def test_provider_down_at_refresh_serves_the_old_file_stale(self):
        m = self.mount(settings={"open_ttl": "1s", "retry_limit": "1"})
        old = self.read(m)
        f = m.path("exports", self.today, "orders.xlsx")
        fresh_until = int(xattr(f, "fresh_until"))
        self.sim.configure(clock=self.later, outcomes={self.today: "failed"})
        wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
        self.assertEqual(self.read(m), old)  # the export failed: the old file, not an error
        with open(m.path("exports", self.today, ".status")) as st:
            status = json.load(st)
        self.assertIs(status["stale"], True)
        self.assertEqual(status["state"], "ready")
        self.assertIsNotNone(status["last_error"])
        self.assertEqual(self.sim.stats()["apply"], 2)
        m.close(self, allowed=("failed",))

    def test_prefetch_keeps_today_fresh_without_a_reader(self):
        m = self.mount(settings={"open_ttl": "4s", "prefetch": "1"})
        stats = lambda: json.load(open(m.path(".stats")))  # noqa: E731
        # yesterday and today at start, then today again once its file is past open_ttl:
        # a pass comes every open_ttl, and nobody read anything
        wait_for(lambda: stats()["freshness"]["refreshes"] >= 1, timeout=30,
                 what="prefetch to refresh today")
        wait_for(lambda: stats()["exports"]["in_flight"] == 0, what="the refresh to finish")
        applied = self.sim.stats()["apply"]
        self.assertEqual(applied, 2 + stats()["freshness"]["refreshes"])
        f = m.path("exports", self.today, "orders.xlsx")
        self.assertEqual(xattr(f, "complete"), "0")
        self.assertGreater(int(xattr(f, "fresh_until")), time.time())
        self.read(m)  # the morning's cp: served from the cache, no export to wait for
        self.assertEqual(self.sim.stats()["apply"], applied)
        m.close(self)

    def test_past_day_is_complete_and_never_refreshed(self):
        yesterday = day(datetime.date.today() - datetime.timedelta(days=1))
        m = self.mount(settings={"open_ttl": "1s", "settle_delay": "0"})
        self.read(m, yesterday)
        f = m.path("exports", yesterday, "orders.xlsx")
        self.assertEqual(xattr(f, "complete"), "1")
        self.assertEqual(xattr(f, "fresh_until"), "0")
        as_of = int(xattr(f, "as_of"))
        wait_for(lambda: time.time() >= as_of + 1.1, what="a second to pass")
        self.read(m, yesterday)
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)


class LiveProviderMixin:
    """The freshness rule through another provider's simulator in live mode: today's
    orders exist up to the simulator's clock. Subclasses set how to mount, how many
    exports (syncs) the simulator made, and today's range in the provider's days."""
    file = "orders.jsonl"

    def setUp(self):
        self.sim.reset_stats()
        self.mounts = []
        midnight = datetime.datetime.combine(self.day0, datetime.time(),
                                             tzinfo=self.zone).timestamp()
        # 08:00 of the provider's day, then 16:00 (self.later) once the day went on: orders
        # before and after whatever the hour the test runs at (see TestFreshness.setUp)
        self.t0 = midnight + 8 * 3600
        self.later = midnight + 16 * 3600
        self.today = day(self.day0)
        self.sim.configure(live=True, clock=self.t0)

    def tearDown(self):
        self.sim.configure(live=False, clock=0)
        for m in self.mounts:
            if m.proc is not None:
                m.umount()

    def read_rows(self, m):
        with open(m.path("exports", self.today, self.file), "rb") as f:
            return f.read().count(b"\n")

    def test_today_read_across_open_ttl_has_more_orders(self):
        m = self.mount({"open_ttl": "1s"})
        first = self.read_rows(m)
        self.assertEqual(self.exports_made(), 1)
        f = m.path("exports", self.today, self.file)
        self.assertEqual(xattr(f, "complete"), "0")
        fresh_until = int(xattr(f, "fresh_until"))
        self.sim.configure(clock=self.later)  # the day went on: more orders
        wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
        second = self.read_rows(m)
        self.assertGreater(second, first)
        self.assertEqual(self.exports_made(), 2)
        with open(m.path(".stats")) as st:
            self.assertEqual(json.load(st)["freshness"], {"refreshes": 1})
        m.close(self)

    def test_background_gives_the_old_file_then_the_new_one(self):
        m = self.mount({"open_ttl": "1s", "open_refresh": "background"})
        first = self.read_rows(m)
        f = m.path("exports", self.today, self.file)
        fresh_until = int(xattr(f, "fresh_until"))
        as_of = xattr(f, "as_of")
        self.sim.configure(clock=self.later)
        wait_for(lambda: time.time() >= fresh_until + 0.05, what="open_ttl to pass")
        self.assertEqual(self.read_rows(m), first)  # the old file; the export goes behind it
        # done behind it: a new as_of, and a file again (ready, or already past open_ttl)
        wait_for(lambda: xattr(f, "as_of") != as_of
                 and xattr(f, "state") in ("ready", "expired"), timeout=30,
                 what="the export behind it")
        self.assertEqual(self.exports_made(), 2)
        m.close(self)

    def test_within_open_ttl_no_new_export(self):
        m = self.mount({"open_ttl": "1h"})
        first = self.read_rows(m)
        self.sim.configure(clock=self.later)
        self.assertEqual(self.read_rows(m), first)
        self.assertEqual(self.exports_made(), 1)
        with open(m.path(".stats")) as st:
            self.assertEqual(json.load(st)["freshness"], {"refreshes": 0})
        m.close(self)


class TestCloverFreshness(LiveProviderMixin, unittest.TestCase):
    """Clover's days are UTC days; one ORDERS export per read of orders.jsonl."""
    zone = datetime.timezone.utc

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=("--pending-s", "0.05", "--progress-s", "0.05",
                                        "--orders-per-day", "2000"))
        cls.day0 = datetime.datetime.now(datetime.timezone.utc).date()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.day0 = datetime.datetime.now(datetime.timezone.utc).date()
        super().setUp()

    def exports_made(self):
        return self.sim.stats()["exports_created"]["ORDERS"]

    def mount(self, settings):
        m = Mount(self.sim, start=False, settings={
            "provider": "clover", "base_url": self.sim.url, "merchant_id": self.sim.merchant,
            "region": "sandbox", **settings})
        with open(m.config, "a") as f:
            f.write(f"token_file = {m.secret_file}\n")
        m.start()
        self.mounts.append(m)
        return m


class TestMogujieFreshness(LiveProviderMixin, unittest.TestCase):
    """Mogujie's days are the process's local days; 40 orders a day fit one page, so one
    sync is one cursor page."""
    zone = None

    @classmethod
    def setUpClass(cls):
        cls.sim = MogujieSimulator(args=("--orders-per-day", "40"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.day0 = datetime.date.today()
        super().setUp()

    def exports_made(self):
        return self.sim.stats()["pages_cursor"]

    def mount(self, settings):
        m = Mount(self.sim, start=False, settings={
            "provider": "mogujie", "base_url": self.sim.url, "app_key": self.sim.merchant,
            "oauth_url": self.sim.url + "/token", **settings})
        token_file = os.path.join(m.dir, "token")
        with open(token_file, "w") as f:
            f.write(self.sim.tokens()["access_token"] + "\n")
        os.chmod(token_file, 0o600)
        with open(m.config, "a") as f:
            f.write(f"token_file = {token_file}\n")
        m.start()
        self.mounts.append(m)
        return m


def rng(a, b):
    return f"{a.isoformat()}..{b.isoformat()}"


def expected_links(today):
    """What each named range means on date today (window: Vexora's 3 months)."""
    monday = today - datetime.timedelta(days=today.weekday())
    first = today.replace(day=1)
    prev_last = first - datetime.timedelta(days=1)
    return {
        "today": rng(today, today),
        "yesterday": rng(today - datetime.timedelta(days=1), today - datetime.timedelta(days=1)),
        "this-week": rng(monday, today),
        "last-week": rng(monday - datetime.timedelta(days=7), monday - datetime.timedelta(days=1)),
        "this-month": rng(first, today),
        "last-month": rng(prev_last.replace(day=1), prev_last),
        f"{first:%Y-%m}": rng(first, today),
        f"{prev_last:%Y-%m}": rng(prev_last.replace(day=1), prev_last),
    }


class TestNamedRanges(FreshTestCase):
    def check_links(self, zone):
        today = zone_today(zone)
        self.sim.configure(today=today.isoformat())
        m = self.mount(settings={"time_zone": zone})
        exports = m.path("exports")
        names = os.listdir(exports)
        want = expected_links(today)
        if zone_today(zone) != today:  # midnight passed meanwhile: look again
            m.close(self)
            return self.check_links(zone)
        for name, target in want.items():
            self.assertIn(name, names)
            p = os.path.join(exports, name)
            self.assertTrue(os.path.islink(p), name)
            self.assertEqual(os.readlink(p), target, name)
            self.assertTrue(os.path.isdir(p), name)  # resolves to the dated directory
        self.assertEqual(self.sim.stats()["apply"], 0, "listing started an export")
        with open(os.path.join(exports, "today", "orders.xlsx"), "rb") as f:
            data = f.read()
        with open(os.path.join(exports, want["today"], "orders.xlsx"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)
        return today

    def test_links_move_at_a_simulated_midnight(self):
        zone = zoneinfo.ZoneInfo("Asia/Tokyo")
        today = zone_today("Asia/Tokyo")
        self.sim.configure(today=today.isoformat())
        eve = datetime.date.fromordinal(today.toordinal() - 1)
        midnight = datetime.datetime.combine(today, datetime.time(), tzinfo=zone).timestamp()
        clock = os.path.join(self.tmp, "clock")

        def set_clock(t):
            with open(clock + ".tmp", "w") as f:
                f.write(f"{int(t)}\n")
            os.rename(clock + ".tmp", clock)
        set_clock(midnight - 2)  # 23:59:58 the evening before
        m = self.mount(settings={"time_zone": "Asia/Tokyo", "test_clock_file": clock})
        exports = m.path("exports")
        self.assertEqual(os.readlink(os.path.join(exports, "today")), day(eve))
        self.assertIn("today", os.listdir(exports))
        set_clock(midnight + 1)  # midnight passed
        want = expected_links(today)
        for name in ("today", "yesterday", "this-week", "this-month"):
            self.assertEqual(os.readlink(os.path.join(exports, name)), want[name], name)
        with open(os.path.join(exports, "today", "orders.xlsx"), "rb") as f:
            self.assertEqual(f.read(2), b"PK")
        self.assertEqual(self.sim.stats()["apply"], 1)
        m.close(self)

    def test_links_in_two_zones(self):
        a = self.check_links("Pacific/Kiritimati")
        self.sim.reset_stats()
        b = self.check_links("Pacific/Pago_Pago")
        self.assertNotEqual(a, b)  # 25 hours apart: never the same date


if __name__ == "__main__":
    unittest.main()
