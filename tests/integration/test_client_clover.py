"""client/ against the Clover simulator, through the clover_fetch driver (no FUSE).

The bundle fetch() writes is read back here with an independent reader: the provider's files
must be byte-identical to what the simulator serves, the .jsonl and .csv derived from them."""
import csv
import datetime
import io
import json
import os
import re
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request

from simulator import ROOT, Simulator

BIN = os.path.join(ROOT, os.environ.get("BUILD", "build/release"), "tests/bin/clover_fetch")
TOKEN = "clover-tok-integration-7f3a9c"
MID = "MIDCLOVER0001"
MON_NOON_UTC_MS = 1779105600000  # Monday 2026-05-18 12:00 UTC
ORDER_COLS = ("id,currency,total,paymentState,state,payType,title,note,employee_id,device_id,"
              "orderType_id,taxRemoved,isVat,manualTransaction,groupLineItems,testMode,"
              "lineItems_count,createdTime,clientCreatedTime,modifiedTime").split(",")
PAYMENT_COLS = ("id,order_id,amount,tipAmount,taxAmount,cashbackAmount,cashTendered,result,"
                "offline,tender_id,tender_label,employee_id,device_id,externalPaymentId,"
                "card_type,card_last4,createdTime,clientCreatedTime,modifiedTime").split(",")
MONEY_RE = re.compile(r"^-?\d+\.\d\d$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


def rng(a, b):
    return f"{day(a)}..{day(b)}"


def read_bundle(path):
    """{name: bytes} in index order, checking the layout independently of bundle.c."""
    with open(path, "rb") as f:
        data = f.read()
    magic, ioff, ilen = struct.unpack("<16sQQ", data[-32:])
    assert magic == b"ORDERFS-BUNDLE-1", magic
    assert ioff + ilen + 32 == len(data)
    members, expect = {}, 0
    for line in data[ioff:ioff + ilen].decode().splitlines():
        off, size, name = line.split(" ", 2)
        off, size = int(off), int(size)
        assert off == expect, (off, expect)
        members[name] = data[off:off + size]
        expect = off + size
    assert expect == ioff
    return members


def money(cents):
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def iso(ms):
    if ms is None:
        return ""
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


class CloverClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(script="clover_sim.py", secret=TOKEN, merchant=MID,
                            args=["--pending-s", "0.1", "--progress-s", "0.2", "--quiet"])
        cls.tmp = tempfile.mkdtemp(prefix="orderfs-clover-")
        cls.token_file = os.path.join(cls.tmp, "token")
        with open(cls.token_file, "w") as f:
            f.write(TOKEN + "\n")
        cls.wrong_token_file = os.path.join(cls.tmp, "wrong")
        with open(cls.wrong_token_file, "w") as f:
            f.write("not-the-token\n")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(hours="always", max_concurrent=100, file_ttl_s=86400,
                           status_override=None, orders_per_day=40, payments_per_day=40,
                           fail_next=[], truncate_json_next=0, drop_download_next=0)
        self.sim.reset_stats()

    # ---- helpers ----

    def run_cli(self, *args, token_file=None, merchant=MID, opts=(), timeout=120):
        cmd = [BIN, "--base-url", self.sim.url + "/", "--merchant", merchant,
               "--token-file", token_file or self.token_file, "--debug", "--poll-ms", "50",
               *opts, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        # The token must never reach a log line or an error message.
        self.assertNotIn(TOKEN, p.stderr)
        self.assertNotIn(TOKEN, p.stdout)
        return p

    def error_line(self, p):
        lines = [l for l in p.stderr.splitlines() if l.startswith("error: ")]
        self.assertEqual(len(lines), 1, p.stderr)
        return lines[0]

    def assert_fails(self, p, kind, http=None, rc=2):
        self.assertEqual(p.returncode, rc, p.stderr)
        line = self.error_line(p)
        self.assertTrue(line.startswith(f"error: {kind} "), line)
        if http is not None:
            self.assertIn(f" http={http} ", line)
        return line

    def retry_after(self, line):
        return int(re.search(r"retry_after_ms=(-?\d+)", line).group(1))

    def out(self):
        return os.path.join(self.tmp, f"{self.id().split('.')[-1]}.bundle")

    def api_export(self, eid):
        req = urllib.request.Request(f"{self.sim.url}/v3/merchants/{MID}/exports/{eid}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def served_files(self, eid):
        """The simulator's files of a DONE export, fetched as a client should (no auth)."""
        urls = [e["url"] for e in self.api_export(eid)["exportUrls"]["elements"]]
        out = []
        for u in urls:
            with urllib.request.urlopen(u, timeout=30) as r:
                out.append(r.read())
        return out

    def run_export(self, etype, r, *opts):
        out = self.out()
        p = self.run_cli("run", etype, r, out, opts=opts)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(res["size"], os.path.getsize(out))
        return res, read_bundle(out), p

    def assert_bundle(self, res, members, base, cols):
        """Files byte-identical, jsonl = their elements in order, csv = one row each."""
        want = self.served_files(res["task"])
        names = [f"{base}-{i:04d}.json" for i in range(1, len(want) + 1)]
        self.assertEqual(list(members), names + [f"{base}.jsonl", f"{base}.csv", f"{base}.xlsx"])
        elements = []
        for n, w in zip(names, want):
            self.assertEqual(members[n], w, n)
            elements += json.loads(w)["elements"]
        lines = members[f"{base}.jsonl"].decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "")  # every line ends in \n
        self.assertEqual(len(lines) - 1, len(elements))
        self.assertEqual([json.loads(l) for l in lines[:-1]], elements)
        raw = members[f"{base}.csv"]
        self.assertFalse(raw.startswith(b"\xef\xbb\xbf"))
        text = raw.decode("utf-8")
        self.assertTrue(text.startswith(",".join(cols) + "\r\n"))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(rows[0], cols)
        self.assertEqual(len(rows) - 1, len(elements))
        for row, el in zip(rows[1:], elements):
            self.assertEqual(len(row), len(cols))
            self.assertEqual(row[0], el["id"])
            self.assertEqual(row[cols.index("createdTime")], iso(el["createdTime"]))
            self.assertRegex(row[cols.index("modifiedTime")], TIME_RE)
        self.assertEqual(res["items"], len(elements))
        self.assertEqual(res["items_total"], len(elements))
        st = self.sim.stats()
        self.assertEqual(st["file_auth_header"], 0)
        self.assertEqual(st["access_token_query"], 0)
        self.assertEqual(st["unauthorized"], 0)
        return elements, rows

    # ---- full flows ----

    def test_orders_2500_three_files(self):
        self.sim.configure(orders_per_day=2500)
        res, members, p = self.run_export("ORDERS", rng(-2, -2))
        self.assertEqual(len(self.served_files(res["task"])), 3)
        elements, rows = self.assert_bundle(res, members, "orders", ORDER_COLS)
        self.assertEqual(len(elements), 2500)
        for row, el in zip(rows[1:], elements):
            self.assertEqual(row[ORDER_COLS.index("total")], money(el["total"]))
            self.assertEqual(row[ORDER_COLS.index("note")], el["note"])  # csv round trip
            self.assertEqual(row[ORDER_COLS.index("employee_id")], el["employee"]["id"])
            self.assertEqual(row[ORDER_COLS.index("lineItems_count")],
                             str(len(el["lineItems"]["elements"])))
            self.assertEqual(row[ORDER_COLS.index("testMode")], "false")
        # the awkward notes made it through: quotes, commas, newlines, non-ASCII
        notes = [el["note"] for el in elements]
        self.assertTrue(any("\n" in n and '"' in n and "," in n for n in notes))
        self.assertTrue(any(any(ord(c) > 127 for c in n) for n in notes))
        self.assertTrue(any(el["total"] < 0 for el in elements))
        st = self.sim.stats()
        self.assertEqual(st["posts"], 1)
        self.assertEqual(st["exports_created"]["ORDERS"], 1)
        # debug lines name API paths, never a file URL's path (a pre-signed credential)
        self.assertIn(f"/v3/merchants/{MID}/exports/", p.stderr)
        self.assertNotIn("/files/", p.stderr)

    def test_payments_bundle(self):
        res, members, _ = self.run_export("PAYMENTS", rng(-4, -3))
        elements, rows = self.assert_bundle(res, members, "payments", PAYMENT_COLS)
        self.assertEqual(len(elements), 80)
        c = PAYMENT_COLS.index
        for row, el in zip(rows[1:], elements):
            for k in ("amount", "tipAmount", "taxAmount", "cashbackAmount", "cashTendered"):
                self.assertEqual(row[c(k)], money(el.get(k)), k)
            self.assertEqual(row[c("order_id")], el["order"]["id"])
            self.assertEqual(row[c("tender_label")], el["tender"]["label"])
            card = el.get("cardTransaction") or {}
            self.assertEqual(row[c("card_last4")], card.get("last4", ""))
            self.assertEqual(row[c("externalPaymentId")], el.get("externalPaymentId") or "")
            self.assertIn(row[c("offline")], ("true", "false"))
        self.assertTrue(any(r[c("cashTendered")] == "" for r in rows[1:]))

    def test_empty_export(self):
        self.sim.configure(orders_per_day=0)
        res, members, _ = self.run_export("ORDERS", rng(-1, -1))
        self.assertEqual(list(members), ["orders.jsonl", "orders.csv", "orders.xlsx"])
        self.assertEqual(members["orders.jsonl"], b"")
        self.assertEqual(members["orders.csv"], (",".join(ORDER_COLS) + "\r\n").encode())
        self.assertEqual(res["items"], 0)

    def test_apply_then_status(self):
        # Pending long enough that the first status (a CLI start, slow under ASan and load)
        # always finds the export unfinished; then wait for "generated" on the condition.
        self.sim.configure(pending_s=2.0)
        self.addCleanup(self.sim.configure, pending_s=0.1)
        p = self.run_cli("apply", "ORDERS", rng(-2, -1))
        self.assertEqual(p.returncode, 0, p.stderr)
        eid = p.stdout.strip()
        self.assertRegex(eid, r"^[A-Z0-9]{13}$")
        s = self.run_cli("status", eid)
        self.assertEqual(s.returncode, 0, s.stderr)
        st = json.loads(s.stdout)
        self.assertEqual(st["id"], eid)
        self.assertIn(st["state"], ("pending", "generating"))
        deadline = time.monotonic() + 30
        while st["state"] != "generated" and time.monotonic() < deadline:
            time.sleep(0.1)
            st = json.loads(self.run_cli("status", eid).stdout)
        self.assertEqual(st["state"], "generated")
        self.assertEqual(st["progress"], 100)
        self.assertAlmostEqual(st["expires"], time.time() + 86400, delta=60)
        sent = [e for e in self.sim._call("GET", "/_sim/exports") if e["id"] == eid][0]
        # A..B inclusive days, in UTC ms
        start = datetime.datetime.fromisoformat(day(-2)).replace(tzinfo=datetime.timezone.utc)
        self.assertEqual(sent["startTime"], int(start.timestamp()) * 1000)
        self.assertEqual(sent["endTime"], sent["startTime"] + 2 * 86400000 - 1)
        u = self.run_cli("urls", eid)
        self.assertEqual(u.returncode, 0, u.stderr)
        self.assertEqual(len(json.loads(u.stdout)["urls"]), 1)

    # ---- errors ----

    def test_wrong_token_is_auth(self):
        p = self.run_cli("apply", "ORDERS", rng(-1, -1), token_file=self.wrong_token_file)
        self.assert_fails(p, "auth", http=401)
        p = self.run_cli("apply", "ORDERS", rng(-1, -1), merchant="MIDOTHER00001")
        self.assert_fails(p, "auth", http=401)
        st = self.sim.stats()
        self.assertEqual(st["unauthorized"], 2)
        self.assertEqual(st["access_token_query"], 0)

    def test_server_hours_503_retry_after(self):
        self.sim.configure(hours={"closed_for_s": 30})
        p = self.run_cli("apply", "ORDERS", rng(-1, -1))
        line = self.assert_fails(p, "unavailable", http=503)
        self.assertTrue(25000 <= self.retry_after(line) <= 30000, line)
        self.assertIn("available again", line)
        self.assertIn(" code=service_hours ", line)
        self.assertEqual(self.sim.stats()["hours_503"], 1)

    def test_client_hours_send_nothing(self):
        p = self.run_cli("apply", "ORDERS", "2026-05-10..2026-05-11",
                         opts=["--region", "eu", "--now-ms", str(MON_NOON_UTC_MS)])
        line = self.assert_fails(p, "unavailable", http=0)
        self.assertIn("outside service hours; opens 01:00 UTC", line)
        self.assertIn(" code=service_hours ", line)
        self.assertEqual(self.retry_after(line), 13 * 3600 * 1000)
        self.assertEqual(self.sim.stats()["posts"], 0)

    def test_concurrency_503_without_retry_after(self):
        self.sim.configure(max_concurrent=0)
        p = self.run_cli("apply", "ORDERS", rng(-1, -1))
        line = self.assert_fails(p, "unavailable", http=503)
        self.assertEqual(self.retry_after(line), -1)
        self.assertIn(" code= ", line)
        self.assertIn("Too many concurrent exports", line)

    def test_unknown_export_not_found(self):
        for cmd in (["status"], ["urls"], ["fetch", "ORDERS"]):
            with self.subTest(cmd=cmd[0]):
                p = self.run_cli(*cmd, "ZZZZZZZZZZZZZ", *([self.out()] if len(cmd) > 1 else []))
                self.assert_fails(p, "not-found", http=404)

    def test_range_refused_by_server_400(self):
        p = self.run_cli("apply", "ORDERS", rng(-40, -5), opts=["--no-check"])
        line = self.assert_fails(p, "invalid", http=400)
        self.assertIn("30 days", line)
        p = self.run_cli("apply", "ORDERS", rng(-40, -5))  # and locally, sending nothing
        self.assert_fails(p, "invalid", http=0)
        self.assertEqual(self.sim.stats()["posts"], 1)

    def test_expired_files(self):
        res, _, _ = self.run_export("ORDERS", rng(-3, -3))
        url = self.api_export(res["task"])["exportUrls"]["elements"][0]["url"]
        self.sim.configure(expire_files_now=True)
        p = self.run_cli("status", res["task"])
        self.assert_fails(p, "file-expired")
        p = self.run_cli("fetch", "ORDERS", res["task"], self.out())
        self.assert_fails(p, "file-expired")
        # the file URL itself now answers 404: also file-expired, not a dead URL to refresh
        p = self.run_cli("download", url, os.path.join(self.tmp, "gone.json"))
        self.assert_fails(p, "file-expired")
        self.assertNotIn("/files/", p.stderr)

    def test_unknown_status_is_failed(self):
        self.sim.configure(status_override="WEIRD")
        p = self.run_cli("run", "ORDERS", rng(-1, -1), self.out())
        line = self.assert_fails(p, "failed", rc=3)
        self.assertIn("WEIRD", line)

    def test_api_faults(self):
        cases = [([500], "transient", 500), ([429], "rate-limited", 429),
                 ([403], "auth", 403), ([502], "transient", 502)]
        for codes, kind, http in cases:
            with self.subTest(code=codes[0]):
                self.sim.configure(fail_next=codes)
                p = self.run_cli("apply", "ORDERS", rng(-1, -1))
                self.assert_fails(p, kind, http=http)
        self.sim.configure(truncate_json_next=1)
        p = self.run_cli("apply", "ORDERS", rng(-1, -1))
        line = self.assert_fails(p, "protocol")
        self.assertIn("malformed JSON", line)

    def test_fetch_retries_from_scratch(self):
        res, first, _ = self.run_export("ORDERS", rng(-5, -5))
        self.sim.configure(drop_download_next=1, fail_next=[500])
        p = self.run_cli("fetch", "ORDERS", res["task"], self.out(), opts=["--tries", "4"])
        self.assertEqual(p.returncode, 0, p.stderr)
        again = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(again["begins"], 2)  # the failed GET begins nothing
        self.assertEqual(again["size"], res["size"])
        members = read_bundle(self.out())
        self.assert_bundle(again, members, "orders", ORDER_COLS)
        self.assertEqual(members["orders.xlsx"], first["orders.xlsx"])  # one export, one file

    def test_fetch_type_mismatch(self):
        res, _, _ = self.run_export("ORDERS", rng(-6, -6))
        p = self.run_cli("fetch", "PAYMENTS", res["task"], self.out())
        self.assert_fails(p, "protocol")


if __name__ == "__main__":
    unittest.main()
