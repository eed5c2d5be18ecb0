"""client/ against the Mogujie simulator, through the mogujie_fetch driver (no FUSE).

The driver runs check, apply and fetch into a file sink that can read back, then verify, and
prints the bundle's members. Dates are relative to today: Mogujie only serves the last year."""
import csv
import datetime
import io
import json
import os
import stat
import subprocess
import tempfile
import time
import unittest

from simulator import ROOT, Simulator

BIN = os.path.join(ROOT, os.environ.get("BUILD", "build/release"), "tests/bin/mogujie_fetch")
SECRET = "MGJ-secret-0123456789abcdef"
APP_KEY = "100234"
RECEIVER = ("receiverName", "receiverMobile", "receiverPhone", "receiverAddress")
BIG_PER_DAY = 617  # two days -> 1,234 orders, 25 pages of at most 50


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


def rng(a, b):
    return f"{day(a)}..{day(b)}"


def fen(v):
    """Fen (int or numeric string) -> yuan with two decimals, as the client writes it."""
    v = int(v)
    sign = "-" if v < 0 else ""
    return f"{sign}{abs(v) // 100}.{abs(v) % 100:02d}"


def read_bundle(path):
    """{member name: bytes} of a bundle file (layout in common/bundle.h)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[-32:-16] == b"ORDERFS-BUNDLE-1", "no bundle trailer"
    ioff = int.from_bytes(data[-16:-8], "little")
    ilen = int.from_bytes(data[-8:], "little")
    assert ioff + ilen + 32 == len(data)
    out = {}
    for line in data[ioff:ioff + ilen].decode().splitlines():
        off, size, name = line.split(" ", 2)
        out[name] = data[int(off):int(off) + int(size)]
    return out


class MogujieClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise unittest.SkipTest(f"{BIN} not built")
        cls.sim = Simulator(script="mogujie_sim.py", secret=SECRET, merchant=APP_KEY,
                            args=["--quiet"])
        cls.tmp = tempfile.mkdtemp(prefix="orderfs-mogujie-")
        cls.secret_file = os.path.join(cls.tmp, "secret")
        with open(cls.secret_file, "w") as f:
            f.write(SECRET + "\n")
        cls.token_file = os.path.join(cls.tmp, "tokens", "access")
        cls.refresh_file = os.path.join(cls.tmp, "tokens", "refresh")
        os.makedirs(os.path.dirname(cls.token_file))
        cls.work_dir = os.path.join(cls.tmp, "work")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(orders_per_day=30, cipher="ecb", encrypt=True, fail_next=[],
                           truncate_json_next=0, garble_cipher_next=0, slow_ms=0,
                           expire_token=False, token_ttl_s=86400)
        self.sim.reset_stats()
        self.write_tokens()

    def write_tokens(self):
        t = self.sim._call("GET", "/_sim/tokens")
        for path, value in ((self.token_file, t["access_token"]),
                            (self.refresh_file, t["refresh_token"])):
            with open(path, "w") as f:
                f.write(value + "\n")
        return t

    # ---- helpers ----

    def run_cli(self, *args, opts=(), secret_file=None, refresh=False, timeout=300):
        cmd = [BIN, "--base-url", self.sim.url + "/", "--app-key", APP_KEY,
               "--secret-file", secret_file or self.secret_file,
               "--token-file", self.token_file, "--oauth-url", self.sim.url + "/token",
               "--work-dir", self.work_dir, "--debug", *opts]
        if refresh:
            cmd += ["--refresh-token-file", self.refresh_file]
        tokens = self.sim._call("GET", "/_sim/tokens")
        p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        # No secret, token or refresh token ever reaches a log line or an error message.
        for s in (SECRET, tokens["access_token"], tokens["refresh_token"]):
            self.assertNotIn(s, p.stderr)
            self.assertNotIn(s, p.stdout)
        return p

    def fetch(self, r, opts=(), refresh=False):
        out = os.path.join(self.tmp, f"out-{self.id().split('.')[-1]}.bundle")
        p = self.run_cli("fetch", r, out, opts=opts, refresh=refresh)
        return p, out

    def assert_fails(self, p, out, kind, code=None):
        self.assertEqual(p.returncode, 2, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.startswith("error: ")]
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith(f"error: {kind} "), lines[0])
        if code is not None:
            self.assertIn(f"code={code} ", lines[0])
        if out is not None:
            self.assertFalse(os.path.exists(out), "a failed fetch left a bundle behind")
        # the xlsx temp file never outlives a fetch
        if os.path.isdir(self.work_dir):
            self.assertEqual(os.listdir(self.work_dir), [])
        return lines[0]

    def assert_fetched(self, p, out, r):
        self.assertEqual(p.returncode, 0, p.stderr)
        res = json.loads(p.stdout.strip().splitlines()[-1])
        members = read_bundle(out)
        self.assertEqual(set(members), {"orders.jsonl", "orders.csv", "orders.xlsx"})
        a, b = r.split("..")
        want = self.sim._call("GET", f"/_sim/orders?start={a}&end={b}")
        lines = members["orders.jsonl"].decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "")  # every line ends in \n
        got = [json.loads(l) for l in lines[:-1]]
        self.assertEqual(res["items_done"], len(want))
        self.assertEqual(res["items_total"], len(want))
        self.assertEqual(os.listdir(self.work_dir), [])
        return res, members, got, want

    # ---- the full sync ----

    def test_many_pages_all_three_files(self):
        self.sim.configure(orders_per_day=BIG_PER_DAY)
        r = rng(-2, -1)
        p, out = self.fetch(r)
        res, members, got, want = self.assert_fetched(p, out, r)
        self.assertEqual(len(want), 1234)
        self.assertEqual(got, want)  # every order, in order, exactly as decrypted
        self.assertEqual(res["items_calls"], 25)
        st = self.sim.stats()
        self.assertEqual(st["pages_page_mode"], 0)
        self.assertEqual(st["pages_cursor"], 25)
        self.assertEqual(st["max_page_size"], 50)
        self.assertEqual(st["orders_served"], 1234)
        self.assertEqual(st["bad_sign"], 0)

        # csv: RFC 4180 with CRLF, one row per item order carrying its shop order
        text = members["orders.csv"].decode("utf-8")
        self.assertTrue(text.endswith("\r\n"))
        self.assertNotIn("\n", text.replace("\r\n", ""))
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header, rows = rows[0], rows[1:]
        items = [(o, it) for o in want for it in o["itemOrderInfos"]]
        self.assertEqual(len(rows), sum(len(o["itemOrderInfos"]) for o in want))
        for row, (o, it) in zip(rows, items):
            d = dict(zip(header, row))
            self.assertEqual(d["shopOrderId"], str(o["shopOrderId"]))
            self.assertEqual(d["itemOrderId"], str(it["itemOrderId"]))
            self.assertEqual(d["buyerName"], o["buyerName"])
            self.assertEqual(d["receiverName"], o["receiverName"])
            self.assertEqual(d["receiverAddress"], o["receiverAddress"])
            self.assertEqual(d["title"], it["title"])
            self.assertEqual(d["shopOrderPrice"], fen(o["shopOrderPrice"]))
            self.assertEqual(d["shipExpense"], fen(o["shipExpense"]))
            self.assertEqual(d["nowPrice"], fen(it["nowPrice"]))
            self.assertEqual(d["price"], fen(it["price"]))
            self.assertEqual(d["number"], str(it["number"]))
            self.assertEqual(d["itemOrderStatus"], it["orderStatus"])
            self.assertEqual(d["skuAttributes"], "; ".join(
                f"{a['key']}:{a['value']}" for a in it["skuAttributes"]))
        self.assertIn("颜色:", text)

        # xlsx read back with openpyxl: both sheets, numbers as numbers, Chinese intact
        import openpyxl
        xpath = os.path.join(self.tmp, "check.xlsx")
        with open(xpath, "wb") as f:
            f.write(members["orders.xlsx"])
        wb = openpyxl.load_workbook(xpath, read_only=True)
        self.assertEqual(wb.sheetnames, ["items", "shop_orders"])
        xrows = list(wb["items"].iter_rows(values_only=True))
        self.assertEqual(list(xrows[0]), header)
        self.assertEqual(len(xrows) - 1, len(rows))
        for xr, row in zip(xrows[1:], rows):
            d = dict(zip(header, xr))
            c = dict(zip(header, row))
            self.assertEqual(d["title"], c["title"])
            self.assertEqual(d["receiverName"], c["receiverName"])
            self.assertEqual(d["skuAttributes"], c["skuAttributes"])
            self.assertEqual(d["shopOrderId"], c["shopOrderId"])
            self.assertAlmostEqual(d["nowPrice"], float(c["nowPrice"]), places=6)
            self.assertAlmostEqual(d["shopOrderPrice"], float(c["shopOrderPrice"]), places=6)
            self.assertEqual(d["number"], int(c["number"]))
        srows = list(wb["shop_orders"].iter_rows(values_only=True))
        self.assertEqual(len(srows) - 1, 1234)
        sh = list(srows[0])
        for sr, o in zip(srows[1:], want):
            d = dict(zip(sh, sr))
            self.assertEqual(d["shopOrderId"], str(o["shopOrderId"]))
            self.assertEqual(d["buyerName"], o["buyerName"])
            self.assertEqual(d["itemCount"], len(o["itemOrderInfos"]))
        wb.close()

    def test_cbc_mode(self):
        self.sim.configure(cipher="cbc")
        r = rng(-3, -3)
        p, out = self.fetch(r, opts=["--mode", "cbc"])
        _, _, got, want = self.assert_fetched(p, out, r)
        self.assertEqual(got, want)

    def test_wrong_mode_is_protocol_error(self):
        self.sim.configure(cipher="cbc")
        p, out = self.fetch(rng(-3, -3))  # client decrypts ECB
        self.assert_fails(p, out, "protocol")

    def test_unencrypted_data(self):
        self.sim.configure(encrypt=False)
        r = rng(-4, -4)
        p, out = self.fetch(r)
        _, _, got, want = self.assert_fetched(p, out, r)
        self.assertEqual(got, want)

    def test_apply_and_status_need_no_network(self):
        p = self.run_cli("apply", rng(-5, -1))
        self.assertEqual(p.returncode, 0, p.stderr)
        t = json.loads(p.stdout)
        self.assertEqual(t["id"], "sync:" + rng(-5, -1))
        self.assertEqual(t["state"], "generated")
        self.assertEqual(t["expires"], 0)  # past days do not change
        p = self.run_cli("apply", rng(-1, 0))
        t = json.loads(p.stdout)
        # today's orders keep arriving, but the cache's freshness rule (open_ttl) re-syncs
        # such a range: a provider expiry would delete the file it serves meanwhile
        self.assertEqual(t["expires"], 0)
        s = self.run_cli("status", t["id"])
        self.assertEqual(json.loads(s.stdout)["id"], t["id"])
        s = self.run_cli("status", "nope")
        self.assert_fails(s, None, "not-found")
        self.assertEqual(self.sim.stats()["requests"], 0)

    # ---- tokens ----

    def test_token_expired_refreshed_and_written_back(self):
        old = self.write_tokens()
        self.sim.configure(expire_token=True)
        r = rng(-6, -6)
        p, out = self.fetch(r, refresh=True)
        self.assert_fetched(p, out, r)
        new = self.sim._call("GET", "/_sim/tokens")
        self.assertNotEqual(new["access_token"], old["access_token"])
        with open(self.token_file) as f:
            self.assertEqual(f.read().strip(), new["access_token"])
        with open(self.refresh_file) as f:
            self.assertEqual(f.read().strip(), new["refresh_token"])
        for path in (self.token_file, self.refresh_file):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        # no temp file left next to them
        self.assertEqual(sorted(os.listdir(os.path.dirname(self.token_file))),
                         ["access", "refresh"])
        st = self.sim.stats()
        self.assertEqual(st["refreshes"], 1)
        self.assertEqual(st["token_expired"], 1)

    def test_token_expired_without_refresh_is_auth(self):
        self.sim.configure(expire_token=True)
        p, out = self.fetch(rng(-6, -6))
        line = self.assert_fails(p, out, "auth", "0000010")
        self.assertIn("token_file", line)
        self.assertEqual(self.sim.stats()["refreshes"], 0)

    def test_refresh_refused_is_auth(self):
        self.sim.configure(expire_token=True)
        with open(self.refresh_file, "w") as f:
            f.write("not-the-refresh-token\n")
        p, out = self.fetch(rng(-6, -6), refresh=True)
        line = self.assert_fails(p, out, "auth")
        self.assertIn("renew token_file", line)
        self.assertEqual(self.sim.stats()["refresh_failures"], 1)

    def test_invalid_token_is_auth(self):
        with open(self.token_file, "w") as f:
            f.write("stale\n")
        p, out = self.fetch(rng(-6, -6))
        self.assert_fails(p, out, "auth", "0000011")

    def test_wrong_secret_is_auth(self):
        wrong = os.path.join(self.tmp, "wrong")
        with open(wrong, "w") as f:
            f.write("WRONG-secret-0123456789\n")
        out = os.path.join(self.tmp, "wrong.bundle")
        p = self.run_cli("fetch", rng(-6, -6), out, secret_file=wrong)
        self.assert_fails(p, out, "auth", "0000002")
        self.assertEqual(self.sim.stats()["bad_sign"], 1)

    # ---- redaction ----

    def test_redaction_masks_receiver_everywhere(self):
        r = rng(-7, -6)
        p, out = self.fetch(r, opts=["--redact"])
        self.assertEqual(p.returncode, 0, p.stderr)
        a, b = r.split("..")
        plain = self.sim._call("GET", f"/_sim/orders?start={a}&end={b}")
        self.assertEqual(len(plain), 60)
        with open(out, "rb") as f:
            data = f.read()
        members = read_bundle(out)
        # the xlsx is compressed: grep its unzipped XML too
        import zipfile
        xml = b"".join(zipfile.ZipFile(io.BytesIO(members["orders.xlsx"])).read(n)
                       for n in zipfile.ZipFile(io.BytesIO(members["orders.xlsx"])).namelist())
        for o in plain:
            for k in RECEIVER:
                v = o[k].encode("utf-8")
                self.assertNotIn(v, data, k)
                self.assertNotIn(v, xml, k)
            self.assertIn(o["receiverCity"].encode("utf-8"), xml)
        got = [json.loads(l) for l in members["orders.jsonl"].decode().splitlines()]
        for g, o in zip(got, plain):
            for k in RECEIVER:
                self.assertEqual(g[k], "***")
                o[k] = "***"
            self.assertEqual(g, o)  # nothing else changed

    # ---- faults ----

    def fetch_with_fault_mid_sync(self, r, faults):
        """Start a fetch and queue faults once two pages were served, so they hit a later
        page of the same sync."""
        out = os.path.join(self.tmp, f"out-{self.id().split('.')[-1]}.bundle")
        cmd = [BIN, "--base-url", self.sim.url, "--app-key", APP_KEY, "--secret-file",
               self.secret_file, "--token-file", self.token_file, "--work-dir",
               self.work_dir, "--debug", "fetch", r, out]
        self.sim.configure(slow_ms=100)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while self.sim.stats()["pages_cursor"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.sim.configure(fail_next=faults)
        stdout, stderr = proc.communicate(timeout=120)
        self.sim.configure(slow_ms=0)
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr), out

    def test_failing_page_mid_sync_retried_in_place(self):
        self.sim.configure(orders_per_day=200)
        r = rng(-2, -1)
        p, out = self.fetch_with_fault_mid_sync(r, [500, "busy", 503])
        _, _, got, want = self.assert_fetched(p, out, r)
        self.assertEqual(got, want)
        self.assertEqual(len(want), 400)
        self.assertRegex(p.stderr, r"page [3-8] \(after order \d+\) failed: .*retry 1 of 3")
        self.assertEqual(self.sim.stats()["faults_injected"], 3)

    def test_truncated_json_retried(self):
        self.sim.configure(truncate_json_next=2)
        r = rng(-3, -2)
        p, out = self.fetch(r)
        _, _, got, want = self.assert_fetched(p, out, r)
        self.assertEqual(got, want)

    def test_persistent_failure_gives_error_and_no_bundle(self):
        self.sim.configure(fail_next=[500] * 4)
        p, out = self.fetch(rng(-3, -2))
        line = self.assert_fails(p, out, "transient")
        self.assertIn("page 1 failed 4 times", line)
        self.assertEqual(self.sim.stats()["faults_injected"], 4)

    def test_persistent_failure_mid_sync_no_bundle(self):
        self.sim.configure(orders_per_day=200)
        p, out = self.fetch_with_fault_mid_sync(rng(-2, -1), ["busy"] * 4)
        line = self.assert_fails(p, out, "transient")
        self.assertRegex(line, r"page [3-8] failed 4 times, last: Mogujie code 9999999")

    def test_garbled_cipher_is_protocol(self):
        self.sim.configure(garble_cipher_next=1)
        p, out = self.fetch(rng(-3, -3))
        self.assert_fails(p, out, "protocol")

    # ---- range rules ----

    def test_range_rules(self):
        p = self.run_cli("apply", rng(-40, -1))  # 40 days
        self.assert_fails(p, None, "invalid")
        p = self.run_cli("apply", rng(-370, -360))  # older than a year
        self.assert_fails(p, None, "invalid")
        p = self.run_cli("apply", rng(-365, -335))  # exactly a year back, 31 days
        self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(self.tmp, "old.bundle")
        p = self.run_cli("fetch", rng(-370, -369), out, opts=["--no-check"])
        line = self.assert_fails(p, out, "invalid", "1010003")
        self.assertIn("1010003", line)


if __name__ == "__main__":
    unittest.main()
