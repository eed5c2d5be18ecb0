"""Self-test of contrib/vexora_sim.py: the API rules, the download endpoint and fault injection.

Signs requests with an independent implementation of the Vexora rule so a simulator bug
cannot hide behind a shared helper."""
import hashlib
import http.client
import io
import json
import shutil
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from simulator import Simulator

TODAY = "2026-05-31"  # three months back is 2026-02-28 (day clamped)


def vexora_sign(body, secret):
    parts = []
    for k in sorted(body):
        v = body[k]
        if k == "sign" or v is None or v == "":
            continue
        if isinstance(v, bool):
            v = "true" if v else "false"
        parts.append(f"{k}={v}")
    return hashlib.md5(("".join(parts) + secret).encode()).hexdigest()


class SimulatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(args=["--pending-s", "0.05", "--generating-s", "0.1",
                                  "--rows", "200", "--today", TODAY, "--seed", "7"])

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.sim.tmp, ignore_errors=True)

    def setUp(self):
        self.sim.configure(outcomes={}, skew_ms=300000, pending_s=0.05, generating_s=0.1,
                           url_ttl_ms=600000, ignore_range=False, api_500_rate=0.0,
                           redirect_download_to=None, download_url_override=None,
                           file_name_override=None, rows=200)
        self.sim.reset_stats()

    # ---- helpers ------------------------------------------------------------------------

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)

    def raw_api(self, endpoint, body, headers=None, prefix="/nigeria", conn=None):
        hdrs = {"Content-Type": "application/json", "merchantNo": self.sim.merchant}
        if headers is not None:
            hdrs = headers
        c = conn or self.conn()
        c.request("POST", f"{prefix}/v1/vexora/orderExport/{endpoint}",
                  json.dumps(body).encode(), hdrs)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r, data

    def api(self, endpoint, conn=None, secret=None, ts=None, **fields):
        body = dict(fields)
        body["timestamp"] = int(time.time() * 1000) if ts is None else ts
        body["sign"] = vexora_sign(body, secret or self.sim.secret)
        r, data = self.raw_api(endpoint, body, conn=conn)
        self.assertEqual(r.status, 200, data[:200])
        resp = json.loads(data)
        self.assertEqual(list(resp), ["msg", "code", "timestamp", "success", "data"])
        self.assertIsInstance(resp["timestamp"], int)
        return resp

    def apply(self, start, end, **kw):
        return self.api("apply", reportType="order", startTime=start, endTime=end, **kw)

    def assert_code(self, resp, code):
        self.assertEqual(resp["code"], code, resp["msg"])
        if code == "0000":
            self.assertTrue(resp["success"])
        else:
            self.assertFalse(resp["success"])
            self.assertIsNone(resp["data"])

    def wait_status(self, tid, want, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            resp = self.api("status", id=tid)
            self.assert_code(resp, "0000")
            st = resp["data"]["status"]
            self.assertIsInstance(st, str)
            if st == want or time.monotonic() > deadline:
                self.assertEqual(st, want)
                return resp["data"]
            time.sleep(0.02)

    def generated(self, start="2026-05-18", end="2026-05-19"):
        resp = self.apply(start, end)
        self.assert_code(resp, "0000")
        tid = resp["data"]["id"]
        self.wait_status(tid, "2")
        return tid

    def url_for(self, tid):
        resp = self.api("downloadUrl", id=tid)
        self.assert_code(resp, "0000")
        return resp["data"]

    def get(self, url, headers=None, method="GET"):
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request(method, u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        r = c.getresponse()
        try:
            data = r.read()
        finally:
            c.close()
        return r, data

    # ---- tests --------------------------------------------------------------------------

    def test_signature_vector(self):
        body = {"reportType": "order", "language": "en-US", "startTime": "2026-05-18 00:00:00",
                "endTime": "2026-05-19 23:59:59", "timestamp": 1779172654161}
        self.assertEqual(vexora_sign(body, "s3cr3t"), "dd7de636938d0ea016032d71f69f4b51")
        self.sim.configure(skew_ms=10 ** 13)  # the vector's timestamp is not "now"
        good = dict(body, sign="dd7de636938d0ea016032d71f69f4b51")
        r, data = self.raw_api("apply", good)
        self.assert_code(json.loads(data), "0000")
        bad = dict(body, sign="dd7de636938d0ea016032d71f69f4b52")
        r, data = self.raw_api("apply", bad)
        self.assert_code(json.loads(data), "1003")
        # null and empty fields are left out of the signing string
        r, data = self.raw_api("apply", dict(good, note="", extra=None))
        self.assert_code(json.loads(data), "0000")
        self.assertEqual(self.sim.stats()["bad_sign"], 1)
        self.assert_code(self.apply("2026-05-18", "2026-05-19", secret="wrong"), "1003")

    def test_auth_errors(self):
        body = {"reportType": "order", "startTime": "2026-05-18", "endTime": "2026-05-19",
                "timestamp": int(time.time() * 1000)}
        body["sign"] = vexora_sign(body, self.sim.secret)
        _, data = self.raw_api("apply", body, headers={"Content-Type": "application/json",
                                                        "merchantNo": "M999"})
        self.assert_code(json.loads(data), "1002")
        _, data = self.raw_api("apply", body, headers={"Content-Type": "application/json"})
        self.assert_code(json.loads(data), "1002")
        _, data = self.raw_api("apply", body, headers={"Content-Type": "text/plain",
                                                        "merchantNo": self.sim.merchant})
        self.assert_code(json.loads(data), "1001")
        self.assert_code(self.apply("2026-05-18", "2026-05-19",
                                    ts=int(time.time() * 1000) - 301000), "1004")
        self.assert_code(self.api("apply", startTime="2026-05-18", endTime="2026-05-19"), "1001")
        r, data = self.raw_api("apply", {"reportType": "order"})
        resp = json.loads(data)
        self.assert_code(resp, "1001")
        self.assertIn("timestamp", resp["msg"])

    def test_time_rules(self):
        cases = [
            ("2026-05-19", "2026-05-18", "2001"),
            ("2026-02-27", "2026-03-01", "2002"),
            ("2026-02-28", "2026-03-01", "0000"),
            ("2026-05-30", "2026-06-01", "2002"),
            ("2026-05-18", "2026-05-25", "2003"),
            ("2026-05-18", "2026-05-24", "0000"),
            ("2026-05-18 12:00:00", "2026-05-24 08:00:00", "0000"),
            ("2026-05-18 12:00:00", "2026-05-18 11:59:59", "2001"),
            ("2026/05/18", "2026-05-19", "2004"),
            ("2026-05-18", "2026-05-19T00:00:00", "2004"),
            ("2026-02-30", "2026-03-01", "2004"),
        ]
        for start, end, code in cases:
            with self.subTest(start=start, end=end):
                self.assert_code(self.apply(start, end), code)
        self.assert_code(self.api("apply", reportType="refund", startTime="2026-05-18",
                                  endTime="2026-05-19"), "2005")
        self.assert_code(self.apply("2026-05-18", "2026-05-19", language="fr"), "2006")
        self.assert_code(self.apply("2026-05-18", "2026-05-19", language="ZH-cn"), "0000")
        self.assert_code(self.api("apply", reportType="order", endTime="2026-05-19"), "1001")
        self.assert_code(self.api("status", id="0" * 32), "3001")
        self.assert_code(self.api("status"), "1001")
        tasks = {t["start"]: t for t in self.sim.tasks()}
        self.assertEqual(tasks["2026-05-18 12:00:00"]["end"], "2026-05-24 08:00:00")

    def test_full_flow(self):
        self.sim.configure(pending_s=0.1, generating_s=0.15)
        resp = self.apply("2026-05-18", "2026-05-19")
        self.assert_code(resp, "0000")
        d = resp["data"]
        self.assertRegex(d["id"], r"^[0-9a-f]{32}$")
        self.assertRegex(d["fileName"], r"^Merchant Order List-\d{14}-\d{10}\.xlsx$")
        self.assertEqual(d["status"], "0")
        tid = d["id"]
        st = self.api("status", id=tid)["data"]
        self.assertEqual((st["status"], st["msg"]), ("0", "Pending"))
        self.assertNotIn("finishTime", st)
        self.assert_code(self.api("downloadUrl", id=tid), "3002")
        self.wait_status(tid, "1")
        st = self.wait_status(tid, "2")
        self.assertEqual(st["msg"], "Generated")
        fmt = "%Y-%m-%d %H:%M:%S"
        self.assertRegex(st["finishTime"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        delta = time.mktime(time.strptime(st["fileExpires"], fmt)) - \
            time.mktime(time.strptime(st["finishTime"], fmt))
        self.assertEqual(delta, 604800)
        u = self.url_for(tid)
        self.assertEqual(u["expire"], 600000)
        self.assertRegex(u["downloadUrl"],
                         rf"^http://127\.0\.0\.1:{self.sim.port}/download/[A-Za-z0-9_-]+$")
        self.assertNotEqual(u["downloadUrl"], self.url_for(tid)["downloadUrl"])
        r, data = self.get(u["downloadUrl"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        self.assertEqual(int(r.getheader("Content-Length")), len(data))
        ref = self.sim.file_bytes(tid)
        task = [t for t in self.sim.tasks() if t["id"] == tid][0]
        self.assertEqual(hashlib.sha256(data).hexdigest(), hashlib.sha256(ref).hexdigest())
        self.assertEqual(task["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(task["size"], len(data))
        self.assertEqual(task["status"], "2")
        # HEAD: headers only
        r, body = self.get(u["downloadUrl"], method="HEAD")
        self.assertEqual((r.status, body, int(r.getheader("Content-Length"))),
                         (200, b"", len(data)))
        stats = self.sim.stats()
        self.assertEqual((stats["apply"], stats["download"], stats["download_bytes"],
                          stats["download_leaks"]), (1, 1, len(data), 0))
        self.assertEqual(stats["downloadUrl"], 3)
        # same inputs, same bytes
        tid2 = self.generated()
        self.assertEqual(self.sim.file_bytes(tid2), ref)

    def test_range(self):
        tid = self.generated()
        ref = self.sim.file_bytes(tid)
        url = self.url_for(tid)["downloadUrl"]
        r, data = self.get(url, {"Range": "bytes=10-19"})
        self.assertEqual((r.status, data), (206, ref[10:20]))
        self.assertEqual(r.getheader("Content-Range"), f"bytes 10-19/{len(ref)}")
        r, data = self.get(url, {"Range": "bytes=100-"})
        self.assertEqual((r.status, data), (206, ref[100:]))
        r, data = self.get(url, {"Range": f"bytes={len(ref)}-"})
        self.assertEqual(r.status, 416)
        self.assertEqual(r.getheader("Content-Range"), f"bytes */{len(ref)}")
        self.sim.configure(ignore_range=True)
        r, data = self.get(url, {"Range": "bytes=10-19"})
        self.assertEqual((r.status, data), (200, ref))

    def test_outcomes(self):
        self.sim.configure(outcomes={"2026-05-10..2026-05-11": "failed",
                                     "2026-05-12..2026-05-12": "nodata",
                                     "2026-05-13..2026-05-14": "failed_once"})
        ids = [self.apply(s, e)["data"]["id"] for s, e in
               (("2026-05-10", "2026-05-11"), ("2026-05-12", "2026-05-12 10:00:00"),
                ("2026-05-13", "2026-05-14"))]
        self.assertEqual(self.wait_status(ids[0], "3")["msg"], "Generation Failed")
        self.assertEqual(self.wait_status(ids[1], "4")["msg"], "No Data")
        self.wait_status(ids[2], "3")
        self.assert_code(self.api("downloadUrl", id=ids[0]), "3002")
        again = self.apply("2026-05-13", "2026-05-14")["data"]["id"]
        self.wait_status(again, "2")

    def test_download_errors(self):
        tid = self.generated()
        u = self.url_for(tid)["downloadUrl"]
        r, _ = self.get(u.rsplit("/", 1)[0] + "/nope")
        self.assertEqual(r.status, 404)
        r, _ = self.get(u, {"merchantNo": self.sim.merchant})
        self.assertEqual(r.status, 200)
        r, _ = self.get(u + "?sign=abc")
        self.assertEqual(self.sim.stats()["download_leaks"], 2)
        self.sim.configure(url_ttl_ms=1)
        short = self.url_for(tid)
        self.assertEqual(short["expire"], 1)
        time.sleep(0.02)
        r, _ = self.get(short["downloadUrl"])
        self.assertEqual(r.status, 403)
        self.sim.configure(redirect_download_to="ftp://example.invalid/x")
        r, _ = self.get(u)
        self.assertEqual((r.status, r.getheader("Location")), (302, "ftp://example.invalid/x"))
        self.sim.configure(redirect_download_to=None, download_url_override="file:///etc/passwd",
                           file_name_override="../../x")
        self.assertEqual(self.url_for(tid)["downloadUrl"], "file:///etc/passwd")
        self.assertEqual(self.apply("2026-05-18", "2026-05-19")["data"]["fileName"], "../../x")
        self.sim.configure(expire_files_now=True, download_url_override=None)
        self.assert_code(self.api("downloadUrl", id=tid), "3003")
        r, _ = self.get(u)
        self.assertEqual(r.status, 410)

    def test_drop_download_after(self):
        tid = self.generated()
        ref = self.sim.file_bytes(tid)
        url = urllib.parse.urlsplit(self.url_for(tid)["downloadUrl"])
        self.sim.configure(drop_download_after=1000, drop_download_count=1)
        c = http.client.HTTPConnection("127.0.0.1", url.port, timeout=10)
        c.request("GET", url.path)
        r = c.getresponse()
        self.assertEqual(int(r.getheader("Content-Length")), len(ref))
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        self.assertEqual(len(cm.exception.partial), 1000)
        c.close()
        r, data = self.get(url.geturl())
        self.assertEqual(data, ref)
        self.sim.configure(content_length_delta=-10)
        r, data = self.get(url.geturl())
        self.assertEqual((int(r.getheader("Content-Length")), data), (len(ref) - 10, ref[:-10]))
        stats = self.sim.stats()
        self.assertEqual(stats["faults_injected"], 2)
        self.assertEqual(stats["download_bytes"], 1000 + len(ref) + len(ref) - 10)

    def test_api_faults(self):
        self.sim.configure(api_500_next=1, rate_limit_next=1, truncate_json_next=1,
                           oversize_json_next=1, retry_after_s=2)
        body = {"id": "x", "timestamp": int(time.time() * 1000)}
        body["sign"] = vexora_sign(body, self.sim.secret)
        c = self.conn()  # one keep-alive connection for all of them
        r, data = self.raw_api("status", body, conn=c)
        self.assertEqual(r.status, 500)
        r, data = self.raw_api("status", body, conn=c)
        self.assertEqual((r.status, r.getheader("Retry-After")), (429, "2"))
        r, data = self.raw_api("status", body, conn=c)
        self.assertEqual(r.status, 200)
        self.assertGreater(len(data), 5 * 1024 * 1024)
        self.assertEqual(json.loads(data)["code"], "3001")
        r, data = self.raw_api("status", body, conn=c)
        self.assertEqual(int(r.getheader("Content-Length")), len(data))
        with self.assertRaises(ValueError):
            json.loads(data)
        r, data = self.raw_api("status", body, conn=c)
        self.assertEqual(json.loads(data)["code"], "3001")
        c.close()
        stats = self.sim.stats()
        self.assertEqual((stats["status"], stats["faults_injected"]), (5, 4))
        settings = self.sim.configure()
        self.assertEqual(settings["api_500_next"], 0)
        with self.assertRaises(Exception):
            self.sim.configure(no_such_setting=1)
        c = self.conn()
        c.request("POST", "/v1/vexora/orderExport/apply", b"x" * (1024 * 1024 + 1),
                  {"Content-Type": "application/json", "merchantNo": self.sim.merchant})
        self.assertEqual(c.getresponse().status, 413)
        c.close()

    def test_xlsx_opens(self):
        try:
            import openpyxl
        except ImportError:
            self.skipTest("python3-openpyxl is not installed")
        tid = self.generated("2026-05-20", "2026-05-21 12:00:00")
        wb = openpyxl.load_workbook(io.BytesIO(self.sim.file_bytes(tid)))
        rows = list(wb.active.iter_rows(values_only=True))
        self.assertEqual(rows[0][:3], ("Order No", "Order Time", "Merchant Order No"))
        self.assertEqual(len(rows), 201)
        times = [r[1] for r in rows[1:]]
        self.assertTrue(all("2026-05-20 00:00:00" <= t <= "2026-05-21 12:00:00" for t in times))
        self.assertEqual(times, sorted(times))
        self.assertEqual(len({r[0] for r in rows[1:]}), 200)


class MultiMerchantTest(unittest.TestCase):
    """Several merchants in one simulator: own secrets, own tasks, own file bytes."""

    ARGS = ["--pending-s", "0.05", "--generating-s", "0.1", "--rows", "200", "--today", TODAY,
            "--seed", "7"]

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(args=cls.ARGS, extra_merchants={"M2": "secret2", "M3": "secret3"})

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.sim.tmp, ignore_errors=True)

    def setUp(self):
        self.sim.reset_stats()

    def api(self, endpoint, merchant, secret=None, **fields):
        """The parsed answer of a call as merchant, signed with secret (default: its own)."""
        body = dict(fields, timestamp=int(time.time() * 1000))
        if secret is None:
            secret = self.sim.secret if merchant == self.sim.merchant else \
                self.sim.extra_merchants[merchant]
        body["sign"] = vexora_sign(body, secret)
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        try:
            c.request("POST", f"/v1/vexora/orderExport/{endpoint}", json.dumps(body).encode(),
                      {"Content-Type": "application/json", "merchantNo": merchant})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            return json.loads(r.read())
        finally:
            c.close()

    def generated(self, merchant, start="2026-05-18", end="2026-05-19"):
        resp = self.api("apply", merchant, reportType="order", startTime=start, endTime=end)
        self.assertEqual(resp["code"], "0000", resp["msg"])
        tid = resp["data"]["id"]
        deadline = time.monotonic() + 5
        while self.api("status", merchant, id=tid)["data"]["status"] != "2":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        return tid, resp["data"]["fileName"]

    def test_merchants_get_their_own_files(self):
        t1, name1 = self.generated(self.sim.merchant)
        t2, name2 = self.generated("M2")
        t3, _ = self.generated("M3")
        files = [self.sim.file_bytes(t) for t in (t1, t2, t3)]
        self.assertEqual(len({hashlib.sha256(f).hexdigest() for f in files}), 3)
        self.assertNotEqual(name1[-16:], name2[-16:])  # the merchant's 10 digits
        owners = {t["id"]: t["merchant"] for t in self.sim.tasks()}
        self.assertEqual((owners[t1], owners[t2], owners[t3]), (self.sim.merchant, "M2", "M3"))
        # the default merchant's bytes are those of a simulator serving it alone
        alone = Simulator(args=self.ARGS)
        try:
            resp = None
            body = {"reportType": "order", "startTime": "2026-05-18", "endTime": "2026-05-19",
                    "timestamp": int(time.time() * 1000)}
            body["sign"] = vexora_sign(body, alone.secret)
            req = urllib.request.Request(
                alone.url + "/v1/vexora/orderExport/apply", json.dumps(body).encode(),
                {"Content-Type": "application/json", "merchantNo": alone.merchant})
            with urllib.request.urlopen(req, timeout=10) as r:
                resp = json.loads(r.read())
            tid = resp["data"]["id"]
            deadline = time.monotonic() + 5
            while not any(t["id"] == tid and t["status"] == "2" for t in alone.tasks()):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            self.assertEqual(alone.file_bytes(tid), files[0])
        finally:
            alone.stop()
            shutil.rmtree(alone.tmp, ignore_errors=True)
        stats = self.sim.stats()
        self.assertEqual(stats["auth_failures"], 0)
        self.assertEqual(set(stats["requests_by_merchant"]), {self.sim.merchant, "M2", "M3"})
        self.assertGreaterEqual(stats["requests_by_merchant"]["M2"], 2)

    def test_tasks_belong_to_their_merchant(self):
        tid, _ = self.generated("M2")
        for endpoint in ("status", "downloadUrl"):
            resp = self.api(endpoint, self.sim.merchant, id=tid)
            self.assertEqual((resp["code"], resp["data"]), ("3001", None))
        self.assertEqual(self.api("downloadUrl", "M2", id=tid)["code"], "0000")

    def test_credentials_of_another_merchant_are_refused(self):
        resp = self.api("apply", "M2", secret=self.sim.secret, reportType="order",
                        startTime="2026-05-18", endTime="2026-05-19")
        self.assertEqual(resp["code"], "1003")
        resp = self.api("apply", "M9", secret="secret2", reportType="order",
                        startTime="2026-05-18", endTime="2026-05-19")
        self.assertEqual(resp["code"], "1002")
        stats = self.sim.stats()
        self.assertEqual((stats["auth_failures"], stats["bad_sign"]), (2, 1))
        self.assertEqual(stats["auth_failures_by_merchant"],
                         {self.sim.merchant: 0, "M2": 1, "M3": 0, "M9": 1})
        self.assertEqual(stats["requests_by_merchant"]["M9"], 1)

    def test_revoke_and_unrevoke(self):
        self.assertEqual(self.sim.revoke("M3"), ["M3"])
        try:
            resp = self.api("apply", "M3", reportType="order", startTime="2026-05-18",
                            endTime="2026-05-19")
            self.assertEqual((resp["code"], resp["data"]), ("1003", None))
            self.generated("M2")  # the others are untouched
        finally:
            self.assertEqual(self.sim.unrevoke("M3"), [])
        self.generated("M3")
        stats = self.sim.stats()
        self.assertEqual((stats["auth_failures"], stats["bad_sign"]), (1, 0))
        self.assertEqual(stats["auth_failures_by_merchant"]["M3"], 1)
        for path, body in (("/_sim/revoke", {"merchant": "M9"}), ("/_sim/unrevoke", {})):
            with self.subTest(path=path):
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    self.sim._call("POST", path, body)
                self.assertEqual(cm.exception.code, 400)


if __name__ == "__main__":
    unittest.main()
