"""orderfs mounted for real against the Mogujie simulator: a range synced page by page through
the encrypted order query into orders.jsonl, orders.csv and orders.xlsx."""
import csv
import datetime
import errno
import io
import json
import os
import stat
import threading
import unittest

import openpyxl

from mogujie_simulator import MogujieSimulator
from mount import Mount, wait_for


def day(days_ago):
    d = datetime.date.today() - datetime.timedelta(days=days_ago)
    return d.isoformat(), f"{d.isoformat()}..{d.isoformat()}"


def read(path):
    with open(path, "rb") as f:
        return f.read()


RECEIVER_FIELDS = ("receiverName", "receiverPhone", "receiverMobile", "receiverAddress")


class MogujieFsTestCase(unittest.TestCase):
    sim_args = ("--orders-per-day", "40")

    @classmethod
    def setUpClass(cls):
        cls.sim = MogujieSimulator(args=cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(orders_per_day=40, cipher="ecb", encrypt=True, fail_next=[],
                           slow_ms=0, expire_token=False, token_ttl_s=86400)
        self.sim.reset_stats()
        self.mounts = []

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()

    def mount(self, refresh=False, settings=None):
        m = Mount(self.sim, start=False, settings={
            "provider": "mogujie", "base_url": self.sim.url, "app_key": self.sim.merchant,
            "oauth_url": self.sim.url + "/token", "retry_limit": "2", **(settings or {})})
        tokens = self.sim.tokens()
        m.token_file = os.path.join(m.dir, "token")
        m.refresh_file = os.path.join(m.dir, "refresh")
        for path, value in ((m.token_file, tokens["access_token"]),
                            (m.refresh_file, tokens["refresh_token"])):
            with open(path, "w") as f:
                f.write(value + "\n")
            os.chmod(path, 0o600)
        with open(m.config, "a") as f:
            f.write(f"token_file = {m.token_file}\n")
            if refresh:
                f.write(f"refresh_token_file = {m.refresh_file}\n")
        m.start()
        self.mounts.append(m)
        return m

    @staticmethod
    def status(m, r):
        with open(m.path("exports", r, ".status")) as f:
            return json.load(f)

    def check_no_secrets(self, m):
        text = m.log_text()
        for secret in self.sim.tokens().values():
            self.assertNotIn(secret, text)


class TestMogujieSync(MogujieFsTestCase):
    def test_1234_orders_in_every_file(self):
        self.sim.configure(orders_per_day=1234)
        m = self.mount()
        d, r = day(2)
        self.assertEqual(sorted(os.listdir(m.path("exports", r))),
                         [".status", "orders.csv", "orders.jsonl", "orders.xlsx"])
        expected = self.sim.orders(d, d)
        self.assertEqual(len(expected), 1234)
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual([json.loads(x) for x in lines], expected)
        items = [(o["shopOrderId"], i["itemOrderId"]) for o in expected
                 for i in o["itemOrderInfos"]]
        rows = list(csv.DictReader(io.StringIO(read(m.path("exports", r, "orders.csv"))
                                               .decode(), newline="")))
        self.assertEqual([(int(x["shopOrderId"]), int(x["itemOrderId"])) for x in rows], items)
        wb = openpyxl.load_workbook(io.BytesIO(read(m.path("exports", r, "orders.xlsx"))),
                                    read_only=True)
        sheet = wb[wb.sheetnames[0]]
        xrows = list(sheet.iter_rows(values_only=True))
        header = list(xrows[0])
        self.assertEqual(len(xrows) - 1, len(items))
        first = expected[0]
        row1 = dict(zip(header, xrows[1]))
        self.assertEqual(str(row1["title"]), first["itemOrderInfos"][0]["title"])
        self.assertEqual(row1["receiverName"], first["receiverName"])
        self.assertAlmostEqual(float(row1["shopOrderPrice"]), first["shopOrderPrice"] / 100)
        self.assertEqual(len(wb.sheetnames), 2)
        self.assertEqual(sum(1 for _ in wb[wb.sheetnames[1]].iter_rows()) - 1, 1234)
        st = self.sim.stats()
        self.assertEqual(st["pages_page_mode"], 0)
        self.assertEqual(st["page_limit_errors"], 0)
        self.assertEqual(st["max_page_size"], 50)
        self.assertEqual(st["pages_cursor"], 25)  # ceil(1234 / 50)
        s = self.status(m, r)
        self.assertEqual(s["state"], "ready")
        self.assertEqual((s["items_done"], s["items_total"]), (1234, 1234))
        self.check_no_secrets(m)
        m.close(self)

    def test_cbc_mode(self):
        self.sim.configure(cipher="cbc")
        m = self.mount(settings={"decrypt_mode": "cbc"})
        d, r = day(3)
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual([json.loads(x) for x in lines], self.sim.orders(d, d))
        m.close(self)

    def test_redaction_leaves_no_receiver_data(self):
        m = self.mount(settings={"redact": "receiver"})
        d, r = day(4)
        blobs = [read(m.path("exports", r, n)) for n in ("orders.jsonl", "orders.csv",
                                                          "orders.xlsx")]
        xlsx_text = b""
        wb = openpyxl.load_workbook(io.BytesIO(blobs[2]), read_only=True)
        for ws in wb:
            for row in ws.iter_rows(values_only=True):
                xlsx_text += "\t".join("" if v is None else str(v) for v in row).encode()
        orders = self.sim.orders(d, d)
        self.assertEqual(len(orders), 40)
        for o in orders:
            for field in RECEIVER_FIELDS:
                value = str(o[field]).encode()
                for blob in (blobs[0], blobs[1], xlsx_text):
                    self.assertNotIn(value, blob, f"{field} {o[field]!r} leaked")
        # Everything else is still there.
        self.assertIn(str(orders[0]["shopOrderId"]).encode(), blobs[1])
        m.close(self)

    def test_page_failing_mid_sync_is_retried(self):
        self.sim.configure(orders_per_day=300, slow_ms=100)
        m = self.mount()
        d, r = day(5)
        result = {}
        reader = threading.Thread(target=lambda: result.update(
            data=read(m.path("exports", r, "orders.jsonl"))))
        reader.start()
        # Once two pages are in, the next page fails twice (HTTP 500, then "system busy").
        wait_for(lambda: self.sim.stats()["pages_cursor"] >= 2, what="two pages synced")
        self.sim.configure(fail_next=[500, "busy"], slow_ms=0)
        reader.join(60)
        self.assertFalse(reader.is_alive())
        lines = result["data"].decode().splitlines()
        self.assertEqual([json.loads(x) for x in lines], self.sim.orders(d, d))
        self.assertEqual(self.sim.stats()["faults_injected"], 2)
        self.assertEqual(self.status(m, r)["state"], "ready")
        m.close(self)

    def test_persistent_failure_gives_eio_and_no_partial_file(self):
        self.sim.configure(orders_per_day=200)
        m = self.mount()
        d, r = day(6)
        self.sim.configure(fail_next=[500] * 400)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.csv"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertEqual(self.status(m, r)["state"], "failed")
        v1 = os.path.join(m.cache_dir, "v1")
        self.assertEqual([n for n in os.listdir(v1) if n.endswith((".data", ".part"))], [])
        self.sim.configure(fail_next=[])
        self.assertEqual(len(read(m.path("exports", r, "orders.jsonl")).decode().splitlines()),
                         200)
        m.close(self, allowed=("failed",))


class TestMogujieTokens(MogujieFsTestCase):
    def test_expired_token_is_refreshed_and_written_back(self):
        m = self.mount(refresh=True)
        old = read(m.token_file).decode().strip()
        self.sim.configure(expire_token=True)
        d, r = day(7)
        lines = read(m.path("exports", r, "orders.jsonl")).decode().splitlines()
        self.assertEqual(len(lines), 40)
        now = self.sim.tokens()
        self.assertNotEqual(now["access_token"], old)
        self.assertEqual(read(m.token_file).decode().strip(), now["access_token"])
        self.assertEqual(read(m.refresh_file).decode().strip(), now["refresh_token"])
        for path in (m.token_file, m.refresh_file):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(self.sim.stats()["refreshes"], 1)
        self.check_no_secrets(m)
        m.close(self)

    def test_expired_token_without_refresh_is_a_clear_error(self):
        m = self.mount(refresh=False)
        self.sim.configure(expire_token=True)
        d, r = day(8)
        with self.assertRaises(OSError) as cm:
            read(m.path("exports", r, "orders.jsonl"))
        self.assertIn(cm.exception.errno, (errno.EACCES, errno.EIO, errno.EPERM))
        err = self.status(m, r)["last_error"]
        self.assertEqual(err["kind"], "auth")
        self.assertIn("token_file", err["msg"])
        self.assertEqual(self.sim.stats()["refreshes"], 0)
        self.check_no_secrets(m)
        m.close(self, allowed=("failed",))


class TestMogujieExpiry(MogujieFsTestCase):
    def test_range_touching_today_expires_after_sync_ttl(self):
        m = self.mount(settings={"sync_ttl": "2s"})
        today = datetime.date.today().isoformat()
        r = f"{today}..{today}"
        first = read(m.path("exports", r, "orders.jsonl"))
        self.assertEqual(self.status(m, r)["state"], "ready")
        wait_for(lambda: self.status(m, r)["state"] == "expired", timeout=20,
                 what="today's range to expire")
        self.assertEqual(read(m.path("exports", r, "orders.jsonl")), first)
        self.assertEqual(self.sim.stats()["pages_cursor"], 2)
        # A closed past day never expires on its own.
        _, past = day(9)
        read(m.path("exports", past, "orders.jsonl"))
        self.assertIsNone(self.status(m, past)["expires"])
        m.close(self)


if __name__ == "__main__":
    unittest.main()
