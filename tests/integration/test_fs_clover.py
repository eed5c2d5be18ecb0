"""orderfs mounted for real against the Clover simulator: several files per export, derived
.jsonl/.csv, service hours, the concurrency limit and availableUntil expiry."""
import csv
import datetime
import errno
import io
import json
import os
import subprocess
import threading
import unittest
import urllib.request

import openpyxl

from clover_simulator import CloverSimulator
from mount import Mount, wait_for


def day(days_ago):
    d = datetime.date.today() - datetime.timedelta(days=days_ago)
    return f"{d.isoformat()}..{d.isoformat()}"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def clover_settings(sim, **extra):
    s = {"provider": "clover", "base_url": sim.url, "merchant_id": sim.merchant,
         "region": "sandbox", "retry_limit": "3"}
    s.update(extra)
    return s


class CloverFsTestCase(unittest.TestCase):
    sim_args = ("--pending-s", "0.1", "--progress-s", "0.2", "--orders-per-day", "30",
                "--payments-per-day", "20")

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(hours="always", max_concurrent=2, file_ttl_s=86400, pending_s=0.1,
                           progress_s=0.2, orders_per_day=30, payments_per_day=20,
                           fail_next=[], status_override=None)
        self.sim.reset_stats()
        self.mounts = []

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()

    def mount(self, **extra):
        settings = clover_settings(self.sim, **extra.pop("settings", {}))
        # The Bearer token goes in the file the harness writes from sim.secret.
        m = Mount(self.sim, settings=settings, start=False, **extra)
        with open(m.config, "a") as f:
            f.write(f"token_file = {m.secret_file}\n")
        m.start()
        self.mounts.append(m)
        return m

    @staticmethod
    def status(m, r):
        with open(m.path("exports", r, ".status")) as f:
            return json.load(f)

    @staticmethod
    def export_of(status, label):
        return next(f for f in status["files"] if f["file"] == label)

    def sim_files(self, export_id):
        """The bytes of an export's files, straight from the simulator's URLs."""
        ex = next(e for e in self.sim.exports() if e["id"] == export_id)
        urls = ex["urls"]
        out = []
        for u in urls:
            with urllib.request.urlopen(u, timeout=30) as r:
                out.append(r.read())
        return out


class TestCloverTree(CloverFsTestCase):
    def test_2500_orders_give_three_json_files_jsonl_and_csv(self):
        self.sim.configure(orders_per_day=2500)
        m = self.mount()
        r = day(3)
        before = sorted(os.listdir(m.path("exports", r)))
        self.assertEqual(before, [".status", "orders.csv", "orders.jsonl", "orders.xlsx",
                                  "payments.csv", "payments.jsonl", "payments.xlsx"])
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual(len(lines), 2500)
        names = sorted(os.listdir(m.path("exports", r)))
        self.assertEqual([n for n in names if n.startswith("orders-")],
                         ["orders-0001.json", "orders-0002.json", "orders-0003.json"])
        counts = [len(json.loads(read(m.path("exports", r, f"orders-000{i}.json")))["elements"])
                  for i in (1, 2, 3)]
        self.assertEqual(counts, [1000, 1000, 500])
        # Byte-identical to the provider's files, and the .jsonl holds them all in order.
        st = self.status(m, r)
        export_id = self.export_of(st, "orders")["task_id"]
        served = self.sim_files(export_id)
        self.assertEqual(len(served), 3)
        ids = []
        for i, body in enumerate(served, 1):
            self.assertEqual(read(m.path("exports", r, f"orders-000{i}.json")), body)
            ids += [e["id"] for e in json.loads(body)["elements"]]
        self.assertEqual([json.loads(line)["id"] for line in lines], ids)
        self.assertEqual(len(set(ids)), 2500)
        rows = list(csv.reader(io.StringIO(read(m.path("exports", r, "orders.csv")).decode(),
                                           newline="")))
        self.assertEqual(rows[0][:3], ["id", "currency", "total"])
        self.assertEqual(len(rows), 2501)
        self.assertEqual([row[0] for row in rows[1:]], ids)
        # The xlsx: the csv's columns, ids as text, money as numbers, times as date-times.
        wb = openpyxl.load_workbook(io.BytesIO(read(m.path("exports", r, "orders.xlsx"))))
        ws = wb.active
        self.assertEqual(ws.freeze_panes, "A2")
        self.assertEqual(ws.auto_filter.ref, f"A1:T{len(ids) + 1}")
        xrows = list(ws.iter_rows(values_only=True))
        self.assertEqual(len(xrows), 2501)
        self.assertEqual(xrows[0][:3], ("id", "currency", "total"))
        self.assertEqual(xrows[0][17], "createdTime (UTC)")
        self.assertEqual([x[0] for x in xrows[1:]], ids)
        first = json.loads(lines[0])
        self.assertIsInstance(xrows[1][2], float)
        self.assertAlmostEqual(xrows[1][2], first["total"] / 100, places=2)
        self.assertEqual(xrows[1][2], float(rows[1][2]))
        created = xrows[1][17]
        self.assertIsInstance(created, datetime.datetime)
        self.assertEqual(created.isoformat(timespec="milliseconds") + "Z", rows[1][17])
        # Reading orders never exported payments.
        self.assertEqual(self.sim.stats()["exports_created"], {"ORDERS": 1, "PAYMENTS": 0})
        self.assertEqual(os.stat(m.path("exports", r, "orders-0002.json")).st_size,
                         len(served[1]))
        m.close(self)

    def test_csv_money_and_times(self):
        m = self.mount()
        r = day(4)
        elements = [json.loads(line) for line in
                    read(m.path("exports", r, "payments.jsonl")).decode().splitlines()]
        rows = list(csv.DictReader(io.StringIO(read(m.path("exports", r, "payments.csv"))
                                               .decode(), newline="")))
        self.assertEqual(len(rows), len(elements))
        self.assertEqual(len(rows), 20)
        for e, row in zip(elements, rows):
            self.assertEqual(row["id"], e["id"])
            self.assertEqual(row["order_id"], e["order"]["id"])
            cents = e["amount"]
            sign = "-" if cents < 0 else ""
            self.assertEqual(row["amount"], f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}")
            t = datetime.datetime.fromtimestamp(e["createdTime"] / 1000, datetime.timezone.utc)
            self.assertEqual(row["createdTime"],
                             t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{e['createdTime'] % 1000:03d}Z")
        self.assertEqual(self.sim.stats()["exports_created"], {"ORDERS": 0, "PAYMENTS": 1})
        m.close(self)

    def test_numbered_file_past_the_last_is_enoent_and_progress_xattr(self):
        m = self.mount()
        r = day(5)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders-0002.json"))
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertTrue(read(m.path("exports", r, "orders-0001.json")))
        out = subprocess.run(["getfattr", "-n", "user.orderfs.progress", "--only-values",
                              m.path("exports", r, "orders-0001.json")],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.strip(), "100")
        self.assertEqual(self.export_of(self.status(m, r), "orders")["progress"], 100)
        self.assertEqual(self.sim.stats()["exports_created"]["ORDERS"], 1)
        m.close(self)

    def test_empty_export_has_empty_jsonl_and_header_only_csv(self):
        self.sim.configure(orders_per_day=0)
        m = self.mount()
        r = day(6)
        self.assertEqual(read(m.path("exports", r, "orders.jsonl")), b"")
        rows = read(m.path("exports", r, "orders.csv")).decode().splitlines()
        self.assertEqual(len(rows), 1)
        self.assertEqual(sorted(n for n in os.listdir(m.path("exports", r))
                                if n.startswith("orders")),
                         ["orders.csv", "orders.jsonl", "orders.xlsx"])
        wb = openpyxl.load_workbook(io.BytesIO(read(m.path("exports", r, "orders.xlsx"))))
        self.assertEqual(len(list(wb.active.iter_rows())), 1)  # the header alone
        m.close(self)

    def test_long_range_is_split_into_30_day_exports(self):
        self.sim.configure(orders_per_day=2)
        m = self.mount()
        a = datetime.date.today() - datetime.timedelta(days=45)
        b = a + datetime.timedelta(days=39)
        r = f"{a}..{b}"
        first = f"{a}..{a + datetime.timedelta(days=29)}"
        second = f"{a + datetime.timedelta(days=30)}..{b}"
        names = os.listdir(m.path("exports", r))
        for n in (f"orders-{first}.csv", f"orders-{second}.jsonl", f"payments-{second}.csv"):
            self.assertIn(n, names)
        lines = read(m.path("exports", r, f"orders-{second}.jsonl")).decode().splitlines()
        self.assertEqual(len(lines), 20)
        self.assertIn(f"orders-{second}-0001.json", os.listdir(m.path("exports", r)))
        m.close(self)


class TestCloverServiceLimits(CloverFsTestCase):
    def test_closed_hours_eagain_at_once_then_ready_when_window_opens(self):
        self.sim.configure(hours={"closed_for_s": 3})
        m = self.mount()
        r = day(7)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.csv"))
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        st = self.export_of(self.status(m, r), "orders")
        if st["state"] == "waiting":
            self.assertRegex(st["message"], r"^waiting for service hours \(opens \d\d:\d\d UTC\)$")
        self.assertIn("provider closed for now", m.log_text())
        # The export was queued: it runs when the window opens, with no further read.
        wait_for(lambda: self.export_of(self.status(m, r), "orders")["state"] == "ready",
                 timeout=30, what="queued export to finish after the window opened")
        self.assertGreaterEqual(self.sim.stats()["hours_503"], 1)
        posts = self.sim.stats()["posts"]
        rows = list(csv.reader(io.StringIO(read(m.path("exports", r, "orders.csv")).decode(),
                                           newline="")))
        self.assertEqual(len(rows), 31)  # header + 30 orders (notes may hold line breaks)
        self.assertEqual(self.sim.stats()["posts"], posts, "a later read is served from cache")
        m.close(self)

    def test_status_says_waiting_for_service_hours(self):
        self.sim.configure(hours={"closed_for_s": 60})
        m = self.mount()
        r = day(8)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "payments.jsonl"))
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        st = self.export_of(self.status(m, r), "payments")
        self.assertEqual(st["state"], "waiting")
        self.assertRegex(st["message"], r"^waiting for service hours \(opens \d\d:\d\d UTC\)$")
        # A second read while closed fails at once too, without another export.
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "payments.csv"))
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        self.assertEqual(self.sim.stats()["exports_created"]["PAYMENTS"], 0)
        # Another range queued behind the waiting export (one payments export at a time by
        # default) is told EAGAIN at once too, and says it waits.
        other = day(9)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", other, "payments.csv"))
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        st = self.export_of(self.status(m, other), "payments")
        self.assertEqual(st["state"], "waiting")
        self.assertRegex(st["message"], r"^waiting for service hours \(opens \d\d:\d\d UTC\)$")
        with open(m.path(".stats")) as f:
            self.assertGreaterEqual(json.load(f)["errors"]["unavailable"], 3)
        m.close(self)

    def test_concurrency_limit_with_several_ranges(self):
        self.sim.configure(max_concurrent=1, progress_s=0.5)
        m = self.mount(settings={"max_exports": "8"})
        ranges = [day(d) for d in (10, 11, 12, 13)]
        results = {}

        def reader(r):
            # EAGAIN means "queued, come back later": wait for the export, then read.
            try:
                results[r] = read(m.path("exports", r, "orders.jsonl"))
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    results[r] = e
                    return
                wait_for(lambda: self.export_of(self.status(m, r), "orders")["state"]
                         == "ready", timeout=60, what=f"export of {r}")
                results[r] = read(m.path("exports", r, "orders.jsonl"))

        threads = [threading.Thread(target=reader, args=(r,)) for r in ranges]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in ranges:
            self.assertIsInstance(results[r], bytes, f"{r}: {results[r]!r}")
            self.assertEqual(len(results[r].decode().splitlines()), 30)
        st = self.sim.stats()
        self.assertEqual(st["max_active_seen"], 1)
        self.assertEqual(st["exports_created"]["ORDERS"], 4)
        m.close(self)

    def test_expiry_after_available_until_reexports(self):
        self.sim.configure(file_ttl_s=3)
        m = self.mount()
        r = day(14)
        first = read(m.path("exports", r, "orders.jsonl"))
        self.assertEqual(self.export_of(self.status(m, r), "orders")["state"], "ready")
        wait_for(lambda: self.export_of(self.status(m, r), "orders")["state"] == "expired",
                 timeout=20, what="export to expire")
        second = read(m.path("exports", r, "orders.jsonl"))
        self.assertEqual(first, second)
        self.assertEqual(self.sim.stats()["exports_created"]["ORDERS"], 2)
        m.close(self)

    def test_token_stays_out_of_log_ps_and_file_downloads(self):
        m = self.mount()
        r = day(15)
        read(m.path("exports", r, "orders.jsonl"))
        with open(f"/proc/{m.proc.pid}/cmdline", "rb") as f:
            self.assertNotIn(self.sim.secret.encode(), f.read())
        st = self.sim.stats()
        self.assertEqual(st["file_auth_header"], 0)
        self.assertEqual(st["access_token_query"], 0)
        self.assertEqual(st["unauthorized"], 0)
        m.close(self)  # check_log: the token never reaches the log

    def test_failed_file_download_keeps_nothing_partial(self):
        m = self.mount(settings={"retry_limit": "1"})
        r = day(16)
        self.sim.configure(orders_per_day=1500, drop_download_next=50)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.jsonl"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertEqual(self.export_of(self.status(m, r), "orders")["state"], "failed")
        self.assertEqual([n for n in os.listdir(m.cache_dir + "/v1") if n.endswith(".data")], [])
        self.sim.configure(drop_download_next=0)
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual(len(lines), 1500)
        m.close(self, allowed=("failed",))


if __name__ == "__main__":
    unittest.main()
