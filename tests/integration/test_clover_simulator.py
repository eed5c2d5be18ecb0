"""Self-test of contrib/clover_sim.py over real HTTP: auth, request validation, the export
timeline, files of at most 1000 elements, expiry, service hours, concurrency, determinism and
fault injection. Waits poll a condition with a deadline; sleeps are only poll intervals."""
import calendar
import http.client
import json
import re
import shutil
import time
import unittest
import threading
import urllib.error
import urllib.parse
import urllib.request

from clover_simulator import CloverSimulator

DAY = 86400000
ID_RE = re.compile(r"^[A-Z0-9]{13}$")


def day_ms(date):
    """UTC midnight of YYYY-MM-DD in ms."""
    return calendar.timegm(time.strptime(date, "%Y-%m-%d")) * 1000


def day_range(first, last):
    """The range orderfs sends for the inclusive days first..last."""
    return day_ms(first), day_ms(last) + DAY - 1


def wait_for(cond, timeout=10, what="condition"):
    """Poll cond() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) \
        else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Response(e.code, e.headers, e.read())


class CloverCase(unittest.TestCase):
    sim_args = ("--pending-s", "0.05", "--progress-s", "0.1", "--seed", "7")

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=cls.sim_args)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.sim.tmp, ignore_errors=True)

    def setUp(self):
        # every knob back to a known state so one test's leftovers cannot help the next
        self.sim.configure(hours="always", max_concurrent=20, file_ttl_s=86400, pending_s=0.05,
                           progress_s=0.1, orders_per_day=40, payments_per_day=40,
                           fail_next=[], truncate_json_next=0, slow_ms=0,
                           drop_download_next=0, status_override=None, live=False, clock=0)
        self.sim.reset_stats()

    # ---- helpers ------------------------------------------------------------------------

    def auth(self, token=None):
        return {"Authorization": "Bearer " + (token or self.sim.secret),
                "Content-Type": "application/json"}

    def post(self, etype="ORDERS", start=None, end=None, headers=None, suffix="/", body=None):
        if start is None:
            start, end = day_range("2026-05-18", "2026-05-18")
        if body is None:
            body = {"type": etype, "startTime": start, "endTime": end}
        return request(self.sim.exports_url + suffix, "POST", body,
                       self.auth() if headers is None else headers)

    def create(self, etype="ORDERS", start=None, end=None):
        r = self.post(etype, start, end)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def get_export(self, eid, headers=None):
        return request(f"{self.sim.exports_url}/{eid}",
                       headers=self.auth() if headers is None else headers)

    def wait_done(self, eid, timeout=10):
        def done():
            r = self.get_export(eid)
            self.assertEqual(r.status, 200, r.body)
            obj = r.json()
            return obj if obj["status"] == "DONE" else None
        return wait_for(done, timeout, f"export {eid} DONE")

    def urls(self, export):
        return [u["url"] for u in export["exportUrls"]["elements"]]

    def fetch(self, url, headers=None):
        return request(url, headers=headers or {})

    def elements_of(self, export):
        out = []
        for url in self.urls(export):
            r = self.fetch(url)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(int(r.headers["Content-Length"]), len(r.body))
            doc = r.json()
            self.assertEqual(list(doc), ["elements"])
            out.append(doc["elements"])
        return out


class AuthAndValidationTest(CloverCase):
    def test_auth_refused(self):
        start, end = day_range("2026-05-18", "2026-05-18")
        body = {"type": "ORDERS", "startTime": start, "endTime": end}
        cases = [
            ("no header", self.sim.exports_url + "/", {"Content-Type": "application/json"}),
            ("wrong token", self.sim.exports_url + "/", self.auth("nope")),
            ("not bearer", self.sim.exports_url + "/",
             {"Authorization": "Basic " + self.sim.secret}),
            ("wrong mId", f"{self.sim.url}/v3/merchants/OTHER/exports/", self.auth()),
            ("query token", f"{self.sim.exports_url}/?access_token={self.sim.secret}",
             self.auth()),
        ]
        for name, url, headers in cases:
            with self.subTest(name):
                r = request(url, "POST", body, headers)
                self.assertEqual(r.status, 401)
                self.assertEqual(r.json(), {"message": "401 Unauthorized"})
        r = self.get_export("ABCDEFGHIJKLM", headers={})
        self.assertEqual(r.status, 401)
        stats = self.sim.stats()
        self.assertEqual((stats["unauthorized"], stats["access_token_query"], stats["posts"],
                          stats["gets"]), (6, 1, 5, 1))
        self.assertEqual(stats["exports_created"], {"ORDERS": 0, "PAYMENTS": 0})

    def test_post_validation(self):
        start = day_ms("2026-05-01")
        bad = [
            {"type": "REFUNDS", "startTime": start, "endTime": start + DAY},
            {"type": "orders", "startTime": start, "endTime": start + DAY},
            {"startTime": start, "endTime": start + DAY},
            {"type": "ORDERS", "startTime": start, "endTime": start},
            {"type": "ORDERS", "startTime": start + 1, "endTime": start},
            {"type": "ORDERS", "startTime": start, "endTime": start + 30 * DAY + 1},
            {"type": "ORDERS", "startTime": str(start), "endTime": start + DAY},
            {"type": "ORDERS", "startTime": start},
            ["ORDERS"],
        ]
        for body in bad:
            with self.subTest(body=body):
                r = self.post(body=body)
                self.assertEqual(r.status, 400)
                self.assertIsInstance(r.json()["message"], str)
        r = self.post(body=b"{not json")
        self.assertEqual(r.status, 400)
        # exactly 30 days is allowed, and the trailing slash is optional
        r = self.post(start=start, end=start + 30 * DAY)
        self.assertEqual(r.status, 200, r.body)
        r = self.post("PAYMENTS", start, start + DAY, suffix="")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.sim.stats()["exports_created"], {"ORDERS": 1, "PAYMENTS": 1})
        r = self.get_export("NOSUCHEXPORT1")
        self.assertEqual((r.status, r.json()), (404, {"message": "Not Found"}))


class TimelineTest(CloverCase):
    def test_pending_progress_done(self):
        self.sim.configure(pending_s=0.3, progress_s=0.6)
        start, end = day_range("2026-05-18", "2026-05-19")
        created = self.create(start=start, end=end)
        self.assertEqual(list(created), ["id", "type", "status", "percentComplete", "startTime",
                                         "endTime", "createdTime", "modifiedTime",
                                         "merchantRef"])
        self.assertRegex(created["id"], ID_RE)
        self.assertEqual((created["status"], created["percentComplete"], created["type"]),
                         ("PENDING", 0, "ORDERS"))
        self.assertEqual((created["startTime"], created["endTime"]), (start, end))
        self.assertEqual(created["merchantRef"], {"id": self.sim.merchant})
        self.assertLess(abs(created["createdTime"] - time.time() * 1000), 5000)
        seen = []

        def poll():
            obj = self.get_export(created["id"]).json()
            seen.append((obj["status"], obj["percentComplete"]))
            return obj if obj["status"] == "DONE" else None
        done = wait_for(poll, 10, "DONE")
        statuses = [s for s, _ in seen]
        order = {"PENDING": 0, "IN_PROGRESS": 1, "DONE": 2}
        self.assertEqual([order[s] for s in statuses], sorted(order[s] for s in statuses))
        self.assertIn("PENDING", statuses)
        progress = [p for s, p in seen if s == "IN_PROGRESS"]
        self.assertGreaterEqual(len(set(progress)), 3, seen)
        self.assertTrue(all(isinstance(p, int) and 0 <= p < 100 for p in progress))
        self.assertEqual(progress, sorted(progress))
        self.assertTrue(all(p == 0 for s, p in seen if s == "PENDING"))
        self.assertEqual(done["percentComplete"], 100)
        self.assertEqual(done["modifiedTime"], created["createdTime"] + 900)
        self.assertEqual(done["availableUntil"], done["modifiedTime"] + 86400 * 1000)
        for u in done["exportUrls"]["elements"]:
            self.assertEqual(u["export"], {"id": created["id"]})
            self.assertRegex(u["url"], rf"^http://127\.0\.0\.1:{self.sim.port}/files/"
                                       rf"[A-Za-z0-9_-]+/{created['id']}-\d+\.json$")
            self.assertNotIn(self.sim.secret, u["url"])
        self.assertEqual(len(done["exportUrls"]["elements"]), 1)  # 80 orders

    def test_empty_export_has_no_urls(self):
        self.sim.configure(orders_per_day=0)
        done = self.wait_done(self.create()["id"])
        self.assertEqual(done["exportUrls"], {"elements": []})
        listed = self.sim.exports()[-1]
        self.assertEqual((listed["elements"], listed["files"], listed["urls"]), (0, 0, []))


class FilesTest(CloverCase):
    def check_day(self, etype, key):
        self.sim.configure(**{key: 2500})
        start, end = day_range("2026-05-18", "2026-05-18")
        done = self.wait_done(self.create(etype, start, end)["id"])
        urls = self.urls(done)
        self.assertEqual(len(urls), 3)
        t0 = time.monotonic()
        files = self.elements_of(done)
        per_file = (time.monotonic() - t0) / 3
        self.assertLess(per_file, 1.0, "a file took longer than a second")
        self.assertEqual([len(f) for f in files], [1000, 1000, 500])
        elements = [e for f in files for e in f]
        ids = [e["id"] for e in elements]
        self.assertEqual(len(set(ids)), 2500)
        self.assertTrue(all(ID_RE.match(i) for i in ids))
        times = [e["createdTime"] for e in elements]
        self.assertTrue(all(start <= t <= end for t in times))
        self.assertEqual(times, sorted(times))
        stats = self.sim.stats()
        self.assertEqual(stats["file_downloads"], 3)
        self.assertEqual(stats["file_auth_header"], 0)
        return elements

    def test_orders_of_a_busy_day(self):
        orders = self.check_day("ORDERS", "orders_per_day")
        o = orders[0]
        self.assertEqual(list(o), ["id", "currency", "employee", "total", "paymentState",
                                   "title", "note", "orderType", "taxRemoved", "isVat",
                                   "state", "manualTransaction", "groupLineItems", "testMode",
                                   "payType", "createdTime", "clientCreatedTime",
                                   "modifiedTime", "device", "lineItems"])
        self.assertTrue(any(x["total"] < 0 for x in orders))
        self.assertTrue(all(x["total"] < 0 for x in orders if x["paymentState"] == "REFUNDED"
                            and x["lineItems"]["elements"]))
        self.assertTrue(any("\n" in x["note"] and '"' in x["note"] and "," in x["note"]
                            for x in orders))
        self.assertTrue(any(ord(c) > 127 for x in orders for c in x["note"]))
        self.assertEqual({x["paymentState"] for x in orders}, {"PAID", "OPEN", "REFUNDED"})
        for item in o["lineItems"]["elements"]:
            self.assertEqual(set(item), {"id", "name", "price", "unitQty"})

    def test_payments_of_a_busy_day(self):
        payments = self.check_day("PAYMENTS", "payments_per_day")
        for p in payments:
            cash = p["tender"]["label"] == "Cash"
            self.assertEqual("cashTendered" in p, cash)
            self.assertEqual("cardTransaction" in p, not cash)
            self.assertIn(p["result"], ("SUCCESS", "FAIL"))
        self.assertEqual({p["tender"]["label"] for p in payments}, {"Cash", "Credit Card"})
        self.assertTrue(any(p["externalPaymentId"] is None for p in payments))
        self.assertTrue(any(p["amount"] < 0 for p in payments))

    def test_range_boundaries_and_partial_days(self):
        # half a day: only elements with createdTime inside [start, end]
        start = day_ms("2026-05-18") + DAY // 4
        end = start + DAY // 2
        done = self.wait_done(self.create(start=start, end=end)["id"])
        elements = self.elements_of(done)[0]
        self.assertTrue(20 - 2 <= len(elements) <= 20 + 2, len(elements))
        self.assertTrue(all(start <= e["createdTime"] <= end for e in elements))
        # the same orders as in the whole-day export
        whole = self.wait_done(self.create()["id"])
        ids = {e["id"] for e in self.elements_of(whole)[0]}
        self.assertTrue({e["id"] for e in elements} <= ids)

    def test_live_mode_holds_elements_up_to_the_clock(self):
        start, end = day_range("2026-05-18", "2026-05-18")
        clock_ms = start + DAY // 2
        self.sim.configure(live=True, clock=clock_ms / 1000)
        created = self.create(start=start, end=end)
        self.assertEqual(created["endTime"], end)  # the export keeps the asked range
        half = self.elements_of(self.wait_done(created["id"]))[0]
        self.assertTrue(20 - 2 <= len(half) <= 20 + 2, len(half))
        self.assertTrue(all(e["createdTime"] <= clock_ms for e in half))
        self.sim.configure(clock=(end + 1) / 1000)  # the day is over: all of it
        whole = self.elements_of(self.wait_done(self.create(start=start, end=end)["id"]))[0]
        self.assertEqual(len(whole), 40)
        self.assertEqual(whole[:len(half)], half)  # the clock moved on: more, same prefix
        self.sim.configure(clock=(start - 1) / 1000)  # before the range: none yet
        none = self.wait_done(self.create(start=start, end=end)["id"])
        self.assertEqual(self.urls(none), [])
        with self.assertRaises(Exception):
            self.sim.configure(clock=-1)

    def test_file_with_authorization_refused(self):
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[0]
        r = self.fetch(url, {"Authorization": "Bearer " + self.sim.secret})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.sim.stats()["file_auth_header"], 1)
        self.assertEqual(self.fetch(url).status, 200)
        r = self.fetch(url.replace("-1.json", "-2.json"))
        self.assertEqual(r.status, 404)
        token = url.split("/files/")[1].split("/")[0]
        forged = ("y" if token[0] == "x" else "x") + token[1:]  # never the token itself
        self.assertEqual(self.fetch(url.replace(token, forged)).status, 404)

    def test_range_requests(self):
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[0]
        whole = self.fetch(url).body
        r = self.fetch(url, {"Range": "bytes=10-19"})
        self.assertEqual((r.status, r.body), (206, whole[10:20]))
        self.assertEqual(r.headers["Content-Range"], f"bytes 10-19/{len(whole)}")
        r = self.fetch(url, {"Range": "bytes=100-"})
        self.assertEqual((r.status, r.body), (206, whole[100:]))
        r = self.fetch(url, {"Range": "bytes=-7"})
        self.assertEqual((r.status, r.body), (206, whole[-7:]))
        r = self.fetch(url, {"Range": f"bytes={len(whole)}-"})
        self.assertEqual((r.status, r.headers["Content-Range"]), (416, f"bytes */{len(whole)}"))
        r = self.fetch(url, {"Range": "bytes=0-1,5-6"})
        self.assertEqual((r.status, r.body), (200, whole))
        r = self.fetch(url, {"Range": "bytes=0-9", "If-Range": '"stale"'})
        self.assertEqual((r.status, r.body), (200, whole))
        self.assertEqual(self.sim.stats()["bytes_served"], 4 * len(whole) - 100 + 10 + 7)

    def test_expiry(self):
        self.sim.configure(file_ttl_s=0.5)
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[0]
        self.assertEqual(done["availableUntil"], done["modifiedTime"] + 500)
        if time.time() * 1000 < done["availableUntil"] - 100:
            self.assertEqual(self.fetch(url).status, 200)
        wait_for(lambda: self.fetch(url).status == 404, 10, "file URL 404")
        again = self.get_export(done["id"]).json()
        self.assertEqual(again["status"], "DONE")
        self.assertEqual(again["availableUntil"], done["availableUntil"])
        self.assertLess(again["availableUntil"], time.time() * 1000)
        self.assertEqual(self.urls(again), [url])

    def test_expire_files_now(self):
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[0]
        self.assertEqual(self.fetch(url).status, 200)
        self.sim.configure(expire_files_now=True)
        self.assertEqual(self.fetch(url).status, 404)
        again = self.get_export(done["id"]).json()
        self.assertEqual(again["status"], "DONE")
        self.assertLessEqual(again["availableUntil"], time.time() * 1000)


class ServiceLimitsTest(CloverCase):
    def test_hours_closed_then_open(self):
        self.sim.configure(hours={"closed_for_s": 1.5})
        r = self.post()
        self.assertEqual(r.status, 503)
        self.assertIn(r.headers["Retry-After"], ("1", "2"))
        self.assertIn("available", r.json()["message"])
        eid = None

        def accepted():
            res = self.post()
            if res.status == 503:
                self.assertGreaterEqual(int(res.headers["Retry-After"]), 1)
                return None
            self.assertEqual(res.status, 200, res.body)
            return res.json()["id"]
        eid = wait_for(accepted, 10, "service hours to open")
        self.assertRegex(eid, ID_RE)
        self.assertGreaterEqual(self.sim.stats()["hours_503"], 1)

    def test_daily_window(self):
        done = self.wait_done(self.create()["id"])
        # a window that opens two hours from now (to the minute), so it is closed now
        now = time.time()
        opens = (int(now // 60) + 120) * 60
        closes = opens + 3600
        win = "%s-%s" % (time.strftime("%H:%M", time.gmtime(opens)),
                         time.strftime("%H:%M", time.gmtime(closes)))
        self.sim.configure(hours=win)
        r = self.post()
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json(), {"message": f"Exports are available {win} UTC"})
        self.assertLessEqual(abs(int(r.headers["Retry-After"]) - (opens - now)), 2)
        r = self.get_export("NOSUCHEXPORT1")  # the whole API is closed, polls too
        self.assertEqual(r.status, 503)
        # files are served outside the hours (they are already made)
        self.assertEqual(self.fetch(self.urls(done)[0]).status, 200)
        self.assertEqual(self.sim.stats()["hours_503"], 2)
        bad = request(f"{self.sim.url}/_sim/config", "POST", {"hours": "10:00-10:00"})
        self.assertEqual(bad.status, 400)

    def test_concurrency_limit(self):
        self.sim.configure(max_concurrent=2, pending_s=1, progress_s=0.2)
        first = [self.create()["id"], self.create("PAYMENTS")["id"]]
        r = self.post()
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json(), {"message": "Too many concurrent exports"})
        self.assertIsNone(r.headers.get("Retry-After"))
        stats = self.sim.stats()
        self.assertEqual((stats["concurrency_503"], stats["max_active_seen"]), (1, 2))
        self.sim.configure(pending_s=0.05, progress_s=0.05)
        # accepted again once one of the first two is DONE
        wait_for(lambda: self.post().status == 200, 10, "a free export slot")
        statuses = {e["id"]: e["status"] for e in self.sim.exports()}
        self.assertIn("DONE", [statuses[i] for i in first])
        self.assertEqual(self.sim.stats()["max_active_seen"], 2)

    def test_concurrent_clients(self):
        self.sim.configure(orders_per_day=1500)
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[1]
        want = self.fetch(url).body
        results = []

        def fetch():
            results.append(self.fetch(url).body)
        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results, [want] * 8)


class DeterminismTest(CloverCase):
    def files_of(self, sim, etype, start, end):
        r = request(sim.exports_url + "/", "POST",
                    {"type": etype, "startTime": start, "endTime": end},
                    {"Authorization": "Bearer " + sim.secret})
        self.assertEqual(r.status, 200, r.body)
        eid = r.json()["id"]

        def done():
            obj = request(f"{sim.exports_url}/{eid}",
                          headers={"Authorization": "Bearer " + sim.secret}).json()
            return obj if obj["status"] == "DONE" else None
        export = wait_for(done, 10, "DONE")
        return [self.fetch(u["url"]).body for u in export["exportUrls"]["elements"]]

    def test_same_seed_same_bytes(self):
        self.sim.configure(orders_per_day=700)
        start, end = day_range("2026-05-10", "2026-05-11")
        a = self.files_of(self.sim, "ORDERS", start, end)
        self.assertEqual(len(a), 2)
        self.assertEqual(self.files_of(self.sim, "ORDERS", start, end), a)
        twin = CloverSimulator(args=self.sim_args + ("--orders-per-day", "700"))
        other = CloverSimulator(args=("--pending-s", "0.05", "--progress-s", "0.1",
                                      "--seed", "8", "--orders-per-day", "700"))
        try:
            self.assertEqual(self.files_of(twin, "ORDERS", start, end), a)
            b = self.files_of(other, "ORDERS", start, end)
            self.assertEqual(len(b), 2)
            self.assertNotEqual(b, a)
        finally:
            for s in (twin, other):
                s.stop()
                shutil.rmtree(s.tmp, ignore_errors=True)


class FaultsTest(CloverCase):
    def test_fail_next(self):
        before = len(self.sim.exports())
        self.sim.configure(fail_next=[500, 429, 503])
        self.assertEqual(self.post().status, 500)
        r = self.get_export("NOSUCHEXPORT1")
        self.assertEqual((r.status, r.json()["message"]), (429, "Too Many Requests"))
        r = self.post()
        self.assertEqual(r.status, 503)
        self.assertIsNone(r.headers.get("Retry-After"))
        self.assertEqual(len(self.sim.exports()), before)  # failed calls create nothing
        self.assertEqual(self.post().status, 200)
        self.assertEqual(self.sim.config()["fail_next"], [])
        # an unauthorized call does not use up a fault
        self.sim.configure(fail_next=[500])
        self.assertEqual(self.post(headers={}).status, 401)
        self.assertEqual(self.post().status, 500)

    def test_truncate_and_status_override(self):
        self.sim.configure(truncate_json_next=1)
        r = self.post()
        self.assertEqual(r.status, 200)
        with self.assertRaises(ValueError):
            json.loads(r.body)
        eid = self.sim.exports()[-1]["id"]  # the call was processed
        self.wait_done(eid)
        for status in ("FAILED", "WEIRD"):
            self.sim.configure(status_override=status)
            obj = self.get_export(eid).json()
            self.assertEqual(obj["status"], status)
            self.assertNotIn("exportUrls", obj)
            self.assertNotIn("availableUntil", obj)
        self.sim.configure(status_override=None)
        self.assertEqual(self.get_export(eid).json()["status"], "DONE")

    def test_drop_download_and_slow(self):
        done = self.wait_done(self.create()["id"])
        url = self.urls(done)[0]
        whole = self.fetch(url).body
        self.sim.configure(drop_download_next=1)
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        c.request("GET", u.path)
        r = c.getresponse()
        self.assertEqual(int(r.getheader("Content-Length")), len(whole))
        with self.assertRaises(http.client.IncompleteRead) as cm:
            r.read()
        self.assertEqual(len(cm.exception.partial), len(whole) // 2)
        c.close()
        self.assertEqual(self.fetch(url).body, whole)
        self.sim.configure(slow_ms=300)
        t0 = time.monotonic()
        self.assertEqual(self.get_export(done["id"]).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)

    def test_reset_and_config_errors(self):
        self.sim.configure(fail_next=[500], drop_download_next=2)
        self.assertEqual(self.post(headers={}).status, 401)
        self.sim.reset_stats()
        stats = self.sim.stats()
        self.assertEqual(set(stats), {"posts", "gets", "file_downloads", "unauthorized",
                                      "access_token_query", "file_auth_header", "hours_503",
                                      "concurrency_503", "max_active_seen",
                                      "exports_created", "bytes_served", "auth_failures",
                                      "auth_failures_by_merchant", "requests_by_merchant"})
        self.assertEqual(stats["unauthorized"], 0)
        cfg = self.sim.config()
        self.assertEqual((cfg["fail_next"], cfg["drop_download_next"]), ([], 0))
        for bad in ({"no_such": 1}, {"fail_next": 500}, {"max_concurrent": -1},
                    {"hours": "25:00-26:00"}, {"hours": {"closed_for_s": "x"}}):
            with self.subTest(bad=bad):
                r = request(f"{self.sim.url}/_sim/config", "POST", bad)
                self.assertEqual(r.status, 400)


class ProcessTest(unittest.TestCase):
    def test_log_has_no_token_and_sigterm_exits(self):
        sim = CloverSimulator(secret="Sup3r-S3cret-Bearer")
        try:
            start, end = day_range("2026-05-18", "2026-05-18")
            body = {"type": "ORDERS", "startTime": start, "endTime": end}
            hdrs = {"Authorization": "Bearer " + sim.secret}
            self.assertEqual(request(sim.exports_url, "POST", body, hdrs).status, 200)
            r = request(f"{sim.exports_url}/?access_token={sim.secret}", "POST", body, hdrs)
            self.assertEqual(r.status, 401)
            r = request(f"{sim.exports_url}/{sim.secret}", headers=hdrs)
            self.assertEqual(r.status, 404)
            sim.proc.terminate()
            self.assertEqual(sim.proc.wait(10), 0)
        finally:
            sim.stop()
        with open(sim.log_path, encoding="utf-8") as f:
            log = f.read()
        shutil.rmtree(sim.tmp, ignore_errors=True)
        self.assertNotIn(sim.secret, log)
        self.assertIn("access_token=REDACTED", log)
        self.assertEqual(len([ln for ln in log.splitlines() if "/v3/merchants/" in ln]), 3)


class MultiMerchantTest(CloverCase):
    """Several mIds in one simulator: own tokens, own exports, own elements."""
    EXTRA = {"MCLOVER00002": "t0ken-two", "MCLOVER00003": "t0ken-three"}

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=cls.sim_args, extra_merchants=cls.EXTRA)

    def export_as(self, mid, etype="ORDERS", token=None):
        """(status, body) of a POST to mId's exports with token (default: its own)."""
        start, end = day_range("2026-05-18", "2026-05-18")
        r = request(self.sim.exports_url_of(mid) + "/", "POST",
                    {"type": etype, "startTime": start, "endTime": end},
                    self.auth(token or self.EXTRA.get(mid) or self.sim.secret))
        return r.status, r.json()

    def files_as(self, mid, etype):
        status, obj = self.export_as(mid, etype)
        self.assertEqual(status, 200, obj)
        self.assertEqual(obj["merchantRef"], {"id": mid})
        url = f"{self.sim.exports_url_of(mid)}/{obj['id']}"
        token = self.EXTRA.get(mid) or self.sim.secret

        def done():
            r = request(url, headers=self.auth(token))
            self.assertEqual(r.status, 200, r.body)
            return r.json() if r.json()["status"] == "DONE" else None
        export = wait_for(done, 10, "DONE")
        return [self.fetch(u).body for u in self.urls(export)]

    def test_merchants_get_their_own_elements(self):
        mids = [self.sim.merchant, *self.EXTRA]
        for etype in ("ORDERS", "PAYMENTS"):
            with self.subTest(etype):
                files = [self.files_as(mid, etype) for mid in mids]
                self.assertTrue(all(len(f) == 1 for f in files))
                self.assertEqual(len({f[0] for f in files}), 3)
        # the default merchant's bytes are those of a simulator serving it alone
        alone = CloverSimulator(args=self.sim_args)
        try:
            self.assertEqual(DeterminismTest.files_of(self, alone, "ORDERS",
                                                      *day_range("2026-05-18", "2026-05-18")),
                             self.files_as(self.sim.merchant, "ORDERS"))
        finally:
            alone.stop()
            shutil.rmtree(alone.tmp, ignore_errors=True)
        owners = {e["merchant"] for e in self.sim.exports()}
        self.assertEqual(owners, set(mids))
        stats = self.sim.stats()
        self.assertEqual(stats["auth_failures"], 0)
        self.assertEqual(set(stats["requests_by_merchant"]), set(mids))

    def test_token_of_another_merchant_refused(self):
        two, three = self.EXTRA
        status, obj = self.export_as(two, token=self.sim.secret)
        self.assertEqual((status, obj), (401, {"message": "401 Unauthorized"}))
        status, _ = self.export_as(self.sim.merchant, token=self.EXTRA[two])
        self.assertEqual(status, 401)
        status, _ = self.export_as("MNOSUCH", token=self.EXTRA[two])
        self.assertEqual(status, 401)
        # an export is found only under its own mId
        status, obj = self.export_as(two)
        self.assertEqual(status, 200)
        r = request(f"{self.sim.exports_url_of(three)}/{obj['id']}",
                    headers=self.auth(self.EXTRA[three]))
        self.assertEqual((r.status, r.json()), (404, {"message": "Not Found"}))
        stats = self.sim.stats()
        self.assertEqual((stats["auth_failures"], stats["unauthorized"]), (3, 3))
        self.assertEqual(stats["auth_failures_by_merchant"],
                         {self.sim.merchant: 1, two: 1, three: 0, "MNOSUCH": 1})
        self.assertEqual(stats["requests_by_merchant"],
                         {self.sim.merchant: 1, two: 2, three: 1, "MNOSUCH": 1})

    def test_concurrency_is_per_merchant(self):
        self.sim.configure(max_concurrent=1, pending_s=1, progress_s=0.2)
        two, three = self.EXTRA
        for mid in (self.sim.merchant, two, three):
            self.assertEqual(self.export_as(mid)[0], 200)
        status, obj = self.export_as(two, "PAYMENTS")
        self.assertEqual((status, obj), (503, {"message": "Too many concurrent exports"}))
        stats = self.sim.stats()
        self.assertEqual((stats["concurrency_503"], stats["max_active_seen"]), (1, 1))

    def test_revoke_and_unrevoke(self):
        two, three = self.EXTRA
        self.assertEqual(self.sim.revoke(three), [three])
        try:
            self.assertEqual(self.export_as(three), (401, {"message": "401 Unauthorized"}))
            self.assertEqual(self.export_as(two)[0], 200)
        finally:
            self.assertEqual(self.sim.unrevoke(three), [])
        self.assertEqual(self.export_as(three)[0], 200)
        stats = self.sim.stats()
        self.assertEqual(stats["auth_failures"], 1)
        self.assertEqual(stats["auth_failures_by_merchant"][three], 1)
        for path, body in (("/_sim/revoke", {"merchant": "MNOSUCH"}), ("/_sim/unrevoke", {})):
            with self.subTest(path=path):
                r = request(self.sim.url + path, "POST", body)
                self.assertEqual(r.status, 400)


if __name__ == "__main__":
    unittest.main()
