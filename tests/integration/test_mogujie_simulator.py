"""Self-test of contrib/mogujie_sim.py over real HTTP, and of contrib/aes128.py against the
FIPS-197 / NIST SP 800-38A vectors and the openssl CLI.

Requests are signed by tests/integration/mogujie_simulator.py, written independently of the
simulator, so a signing bug cannot hide behind a shared helper."""
import base64
import datetime
import json
import os
import re
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

from mogujie_simulator import MogujieSimulator, aes128, mogujie_sign

TODAY = "2026-05-31"
DAY = "2026-05-20"


def day_params(start=DAY, end=DAY, **kw):
    p = {"startCreated": f"{start} 00:00:00", "endCreated": f"{end} 23:59:59"}
    p.update(kw)
    return p


def cursor_params(after=0, page_size=50, **kw):
    return day_params(**dict({"startOrderId": after, "orderBy": "ASC", "pageSize": page_size},
                             **kw))


def wait_for(cond, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Aes128Test(unittest.TestCase):
    KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    PLAIN = bytes.fromhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")

    def test_fips197_c1(self):
        key = bytes(range(16))
        pt = bytes.fromhex("00112233445566778899aabbccddeeff")
        ct = aes128.encrypt_block(key, pt)
        self.assertEqual(ct.hex(), "69c4e0d86a7b0430d8cdb78070b4c55a")
        self.assertEqual(aes128.decrypt_block(key, ct), pt)

    def test_sp800_38a_ecb(self):  # F.1.1 / F.1.2
        want = ("3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
                "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4")
        self.assertEqual(aes128.encrypt_ecb(self.KEY, self.PLAIN, pad=False).hex(), want)
        self.assertEqual(aes128.decrypt_ecb(self.KEY, bytes.fromhex(want), pad=False),
                         self.PLAIN)

    def test_sp800_38a_cbc(self):  # F.2.1 / F.2.2
        iv = bytes(range(16))
        want = ("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
                "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")
        self.assertEqual(aes128.encrypt_cbc(self.KEY, iv, self.PLAIN, pad=False).hex(), want)
        self.assertEqual(aes128.decrypt_cbc(self.KEY, iv, bytes.fromhex(want), pad=False),
                         self.PLAIN)

    def openssl(self, mode, key, data, decrypt=False):
        cmd = ["openssl", "enc", f"-aes-128-{mode}", "-K", key.hex()]
        if mode == "cbc":
            cmd += ["-iv", key.hex()]     # the Mogujie convention: IV = key
        if decrypt:
            cmd.append("-d")
        return subprocess.run(cmd, input=data, capture_output=True, check=True).stdout

    def test_matches_openssl(self):
        key = b"MogujieTestSecre"
        for n in (0, 1, 15, 16, 17, 1000, 4099):
            data = os.urandom(n)
            with self.subTest(n=n):
                ours = aes128.encrypt_ecb(key, data)
                self.assertEqual(ours, self.openssl("ecb", key, data))
                self.assertEqual(self.openssl("ecb", key, ours, decrypt=True), data)
                ours = aes128.encrypt_cbc(key, key, data)
                self.assertEqual(ours, self.openssl("cbc", key, data))
                self.assertEqual(aes128.decrypt_cbc(key, key, self.openssl("cbc", key, data)),
                                 data)

    def test_bad_input(self):
        key = bytes(16)
        with self.assertRaises(ValueError):
            aes128.decrypt_ecb(key, b"x" * 15)
        with self.assertRaises(ValueError):
            # last byte 0x0f claims 15 padding bytes, but they are 0x00..0x0e
            aes128.decrypt_ecb(key, aes128.encrypt_ecb(key, bytes(range(16)), pad=False))
        with self.assertRaises(ValueError):
            aes128.decrypt_cbc(key, key, aes128.encrypt_cbc(key, key, b"\x11" * 16, pad=False))
        with self.assertRaises(ValueError):
            aes128.encrypt_ecb(b"short", b"")

    def test_100k_round_trip(self):
        # A page-sized payload both ways. How fast the simulator ciphers is not a property of
        # orderfs: a wall-clock bound here failed under a loaded CI (0.333 s for 0.3).
        data = os.urandom(100 * 1024)
        ct = aes128.encrypt_ecb(self.KEY, data)
        self.assertEqual(len(ct), len(data) + 16)  # PKCS#7 adds a whole block to 16*k bytes
        self.assertEqual(aes128.decrypt_ecb(self.KEY, ct), data)


class MogujieSimulatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = MogujieSimulator(args=["--today", TODAY, "--seed", "5"])

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(orders_per_day=30, cipher="ecb", encrypt=True, expire_token=False,
                           token_ttl_s=86400, fail_next=[], truncate_json_next=0,
                           garble_cipher_next=0, slow_ms=0, live=False, clock=0, today=TODAY)
        self.sim.reset_stats()

    # ---- helpers ------------------------------------------------------------------------

    def call(self, params, code="0000000", cipher="ecb", **kw):
        """A call that must answer HTTP 200 with this code; the decrypted data on success."""
        status, resp = self.sim.invoke(params, **kw)
        self.assertEqual(status, 200, resp)
        self.assertEqual(resp["status"]["code"], code, resp["status"]["msg"])
        self.assertEqual(resp["success"], code == "0000000")
        if code != "0000000":
            self.assertEqual(resp["result"], {"data": {}})
            self.assertFalse(resp["dataEncrypted"])
            return resp
        self.assertEqual(resp["status"]["msg"], "调用成功")
        if not resp["dataEncrypted"]:
            return resp["result"]["data"]
        return self.sim.decrypt(resp["result"]["data"], cipher)

    def cursor_all(self, params, page_size=50):
        """Every order of a cursor walk, checking each page's shape."""
        after, out, pages = 0, [], 0
        while True:
            data = self.call(dict(params, startOrderId=after, orderBy="ASC",
                                  pageSize=page_size))
            self.assertEqual(list(data), ["hasNext", "openApiOrderDetailResDtos", "totalNum"])
            rows = data["openApiOrderDetailResDtos"]
            self.assertLessEqual(len(rows), page_size)
            out += rows
            pages += 1
            if not data["hasNext"]:
                return out, data["totalNum"], pages
            after = rows[-1]["shopOrderId"]

    # ---- gateway ------------------------------------------------------------------------

    def test_sign_vector(self):
        fields = {"access_token": "TESTACCESSTOKEN", "app_key": "10011", "format": "json",
                  "itemId": "95i27", "method": "xiaodian.item.get", "sign_method": "md5",
                  "timestamp": "1367819523", "version": "1.0"}
        self.assertEqual(mogujie_sign(fields, "TESTAPPSECRET"),
                         "34619030B487EC1B49B9EF564A877925")
        import mogujie_sim   # the simulator's own implementation agrees
        self.assertEqual(mogujie_sim.compute_sign(fields, "TESTAPPSECRET"),
                         "34619030B487EC1B49B9EF564A877925")

    def test_bad_sign_refused(self):
        good = self.sim.fields(day_params())
        self.call(day_params())
        flipped = good["sign"][:-1] + ("0" if good["sign"][-1] != "0" else "1")
        self.call(day_params(), code="0000002", sign=flipped)
        self.call(day_params(), code="0000002", sign=good["sign"].lower())
        self.call(day_params(), code="0000002", secret="WrongSecret0123456789")
        status, raw = self.sim.post_form("/invoke", dict(good, extra="x"))
        self.assertIn(b'"0000002"', raw)
        self.assertEqual(self.sim.stats()["bad_sign"], 4)

    def test_gateway_errors(self):
        self.call(day_params(), code="0000001", app_key="999")
        self.call(day_params(), code="0000004", ts=int(time.time()) - 601)
        self.call(day_params(), ts=int(time.time()) - 590)
        self.call(day_params(), code="0000004", ts=int(time.time() * 1000))   # ms, not s
        self.call(day_params(), code="1010001", method="xiaodian.item.get")
        self.call(day_params(), code="0000011", token="not-a-token")
        self.call(day_params(), code="1010001", Params=None)
        self.call("{not json", code="1010001")
        status, raw = self.sim.post_form("/invoke", self.sim.fields(day_params()),
                                         content_type="application/json")
        self.assertIn(b'"1010001"', raw)
        self.assertEqual(self.sim.stats()["token_invalid"], 1)

    # ---- paging -------------------------------------------------------------------------

    def test_cursor_paging_1234_orders(self):
        self.sim.configure(orders_per_day=1234)
        rows, total, pages = self.cursor_all(day_params())
        ids = [r["shopOrderId"] for r in rows]
        self.assertEqual(total, 1234)
        self.assertEqual(len(ids), 1234)
        self.assertEqual(len(set(ids)), 1234)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(pages, 25)
        self.assertEqual(rows, self.sim.orders(DAY, DAY))
        st = self.sim.stats()
        self.assertEqual((st["pages_cursor"], st["orders_served"], st["max_page_size"]),
                         (25, 1234, 50))

    def test_cursor_goes_past_page_limit(self):
        # 4 days x 1500 = 6000 orders: more than page mode may ever reach
        self.sim.configure(orders_per_day=1500, encrypt=False)
        params = day_params("2026-05-10", "2026-05-13")
        self.call(dict(params, page=121, pageSize=50), code="1010002")
        rows, total, pages = self.cursor_all(params)
        ids = [r["shopOrderId"] for r in rows]
        self.assertEqual((total, len(ids), len(set(ids)), pages), (6000, 6000, 6000, 120))
        self.assertEqual(ids, sorted(ids))
        created = [r["createdStr"] for r in rows]
        self.assertEqual(created, sorted(created))
        self.assertTrue(created[0] >= "2026-05-10" and created[-1] < "2026-05-14")

    def test_live_mode_holds_orders_up_to_the_clock(self):
        noon = datetime.datetime.fromisoformat(f"{DAY} 12:00:00").timestamp()  # local
        self.sim.configure(today="", live=True, clock=noon)  # today is the clock's date
        half, total, _ = self.cursor_all(day_params())
        self.assertEqual(total, len(half))
        self.assertTrue(12 <= len(half) <= 18, len(half))
        self.assertTrue(all(r["createdStr"] <= f"{DAY} 12:00:00" for r in half))
        self.assertEqual(half, self.sim.orders(DAY, DAY))
        self.sim.configure(clock=noon + 6 * 3600)
        later, _, _ = self.cursor_all(day_params())
        self.assertGreater(len(later), len(half))
        self.assertEqual(later[:len(half)], half)  # the same orders, more of them
        self.sim.configure(clock=noon - 13 * 3600)  # the day before: DAY is in the future
        self.assertEqual(self.cursor_all(day_params())[0], [])
        with self.assertRaises(Exception):
            self.sim.configure(clock="soon")

    def test_partial_day_range_and_desc(self):
        params = {"startCreated": f"{DAY} 06:00:00", "endCreated": f"{DAY} 17:59:59"}
        want = [o for o in self.sim.orders(DAY, DAY)
                if "06:00:00" <= o["createdStr"][11:] <= "17:59:59"]
        rows, total, _ = self.cursor_all(params, page_size=7)
        self.assertEqual(rows, want)
        self.assertEqual(total, len(want))
        data = self.call(dict(params, startOrderId=0, orderBy="DESC", pageSize=50))
        self.assertEqual(data["openApiOrderDetailResDtos"], want[::-1])

    def test_page_mode(self):
        all_rows = self.sim.orders("2026-05-18", "2026-05-20")
        params = day_params("2026-05-18", "2026-05-20")
        data = self.call(dict(params, page="2", pageSize="7"))   # numeric strings accepted
        self.assertEqual(data["openApiOrderDetailResDtos"], all_rows[7:14])
        self.assertEqual((data["totalNum"], data["hasNext"]), (90, True))
        data = self.call(dict(params, page=100, pageSize=50))     # 5000: still allowed
        self.assertEqual((data["openApiOrderDetailResDtos"], data["hasNext"]), ([], False))
        resp = self.call(dict(params, page=101, pageSize=50), code="1010002")
        self.assertIn("5000", resp["status"]["msg"])
        self.call(dict(params, page=5001, pageSize=1), code="1010002")
        data = self.call(dict(params, pageSize=50))               # page defaults to 1
        self.assertEqual(data["openApiOrderDetailResDtos"], all_rows[:50])
        st = self.sim.stats()
        self.assertEqual((st["pages_page_mode"], st["page_limit_errors"]), (3, 2))

    def test_page_size_limit(self):
        self.call(cursor_params(page_size=51), code="1010001")
        self.call(cursor_params(page_size=0), code="1010001")
        self.call(cursor_params(page_size="ten"), code="1010001")
        self.call(day_params(page=1, pageSize=51), code="1010001")
        self.assertEqual(len(self.call(cursor_params(page_size=50))
                             ["openApiOrderDetailResDtos"]), 30)
        data = self.call(day_params(startOrderId=0))               # pageSize defaults to 10
        self.assertEqual(len(data["openApiOrderDetailResDtos"]), 10)

    def test_only_last_year(self):
        today = datetime.date.fromisoformat(TODAY)
        oldest = (today - datetime.timedelta(days=365)).isoformat()
        too_old = (today - datetime.timedelta(days=366)).isoformat()
        self.call(cursor_params(start=too_old, end=TODAY), code="1010003")
        self.call({"startCreated": f"{oldest} 00:00:00", "endCreated": f"{oldest} 23:59:59",
                   "startOrderId": 0, "pageSize": 1})
        data = self.call(cursor_params(start=oldest, end=TODAY, page_size=1))
        self.assertEqual(data["totalNum"], 366 * 30)
        # days after "today" hold no orders
        self.assertEqual(self.call(cursor_params(start=TODAY, end="2026-06-30"))["totalNum"], 30)
        self.call(cursor_params(start="2026-05-21", end=DAY), code="1010001")
        self.call({"startCreated": DAY, "endCreated": f"{DAY} 23:59:59"}, code="1010001")
        self.call({"endCreated": f"{DAY} 23:59:59"}, code="1010001")

    # ---- payload ------------------------------------------------------------------------

    def test_decrypt_ecb_and_cbc(self):
        params = cursor_params(page_size=20)
        self.sim.configure(encrypt=False)
        status, plain = self.sim.invoke(params)
        self.assertFalse(plain["dataEncrypted"])
        expect = plain["result"]["data"]
        self.assertEqual(len(expect["openApiOrderDetailResDtos"]), 20)
        for cipher in ("ecb", "cbc"):
            with self.subTest(cipher=cipher):
                self.sim.configure(encrypt=True, cipher=cipher)
                status, resp = self.sim.invoke(params)
                self.assertEqual(list(resp), ["status", "result", "dataEncrypted", "success"])
                self.assertTrue(resp["dataEncrypted"])
                self.assertIsInstance(resp["result"]["data"], str)
                self.assertEqual(self.sim.decrypt(resp["result"]["data"], cipher), expect)
        # CBC with IV = key differs from ECB from the second block on
        self.sim.configure(cipher="ecb")
        ecb = base64.b64decode(self.sim.invoke(params)[1]["result"]["data"])
        self.sim.configure(cipher="cbc")
        cbc = base64.b64decode(self.sim.invoke(params)[1]["result"]["data"])
        self.assertEqual(len(ecb), len(cbc))
        self.assertNotEqual(ecb[16:32], cbc[16:32])

    def test_order_content(self):
        rows = self.sim.orders("2026-05-14", DAY)
        self.assertEqual(len(rows), 7 * 30)
        for key in ("receiverName", "receiverMobile", "receiverAddress", "shopOrderId"):
            self.assertEqual(len({r[key] for r in rows}), len(rows), key)
        cjk = re.compile(r"[\u4e00-\u9fff]")
        for r in rows:
            self.assertRegex(r["receiverMobile"], r"^13\d{9}$")
            self.assertTrue(cjk.search(r["receiverAddress"]) and r["receiverAddress"].endswith("号"))
            self.assertIsInstance(r["shipExpense"], str)
            self.assertIsInstance(r["shopOrderPrice"], int)
            self.assertEqual(r["extraMap"], {})
            self.assertTrue(1 <= len(r["itemOrderInfos"]) <= 3)
            for it in r["itemOrderInfos"]:
                self.assertTrue(cjk.search(it["title"]))
                self.assertEqual([a["key"] for a in it["skuAttributes"]], ["颜色", "尺码"])
                self.assertIsInstance(it["nowPrice"], int)
        self.assertEqual([r["createdStr"] for r in rows], sorted(r["createdStr"] for r in rows))
        self.assertEqual([r["shopOrderId"] for r in rows], sorted(r["shopOrderId"] for r in rows))

    def test_determinism(self):
        params = cursor_params(page_size=50)
        first = self.sim.invoke(params)[1]["result"]["data"]
        self.assertEqual(self.sim.invoke(params)[1]["result"]["data"], first)
        same = MogujieSimulator(args=["--today", TODAY, "--seed", "5"])
        other = MogujieSimulator(args=["--today", TODAY, "--seed", "6"])
        try:
            # ECB of the same JSON under the same key is byte-identical
            self.assertEqual(same.invoke(params)[1]["result"]["data"], first)
            self.assertEqual(same.orders(DAY, DAY), self.sim.orders(DAY, DAY))
            self.assertNotEqual(other.orders(DAY, DAY), self.sim.orders(DAY, DAY))
        finally:
            same.stop()
            other.stop()

    # ---- tokens -------------------------------------------------------------------------

    def test_token_expiry_and_refresh(self):
        old = self.sim.tokens()
        self.call(cursor_params())
        self.sim.configure(expire_token=True)
        self.call(cursor_params(), code="0000010")
        status, body = self.sim.refresh(old["refresh_token"])
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(body), ["access_token", "expires_in", "refresh_token",
                                        "token_type"])
        self.assertEqual((body["expires_in"], body["token_type"]), (86400, "bearer"))
        self.assertNotEqual(body["access_token"], old["access_token"])
        self.assertNotEqual(body["refresh_token"], old["refresh_token"])
        self.assertEqual(self.sim.tokens(), {"access_token": body["access_token"],
                                             "refresh_token": body["refresh_token"]})
        self.call(cursor_params(), token=body["access_token"])
        self.call(cursor_params(), code="0000011", token=old["access_token"])
        status, err = self.sim.refresh(old["refresh_token"])
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        status, err = self.sim.refresh(body["refresh_token"], app_secret="WrongSecret01234567")
        self.assertEqual((status, err["error"]), (400, "invalid_grant"))
        status, err = self.sim.refresh(body["refresh_token"], grant_type="password")
        self.assertEqual(status, 400)
        # lifetime counts from issue: a zero TTL expires the current token at once
        self.sim.configure(token_ttl_s=0)
        self.call(cursor_params(), code="0000010")
        st = self.sim.stats()
        self.assertEqual((st["token_expired"], st["token_invalid"], st["refreshes"],
                          st["refresh_failures"]), (2, 1, 1, 3))

    # ---- several sellers ----------------------------------------------------------------

    def test_sellers_get_their_own_orders(self):
        multi = MogujieSimulator(args=["--today", TODAY, "--seed", "5"],
                                 extra_sellers=["sellerOneToken", "sellerTwoToken:sellerTwoRT"])
        try:
            mine = self.sim.orders(DAY, DAY)
            self.assertEqual(multi.orders(DAY, DAY), mine)   # seller 0 as when alone
            orders = [multi.orders(DAY, DAY, seller=k) for k in (1, 2)]
            self.assertEqual({len(o) for o in orders}, {len(mine)})
            self.assertNotEqual(orders[0], mine)
            self.assertNotEqual(orders[0], orders[1])
            params = cursor_params(page_size=50)
            datas = [multi.invoke(params, token=t)[1]["result"]["data"]
                     for t in (multi.tokens()["access_token"], *multi.extra_sellers)]
            self.assertEqual(len(set(datas)), 3)
            self.assertEqual(datas[0], self.sim.invoke(params)[1]["result"]["data"])
            self.assertEqual(multi.decrypt(datas[1])["openApiOrderDetailResDtos"], orders[0])
            self.assertEqual(multi.tokens(seller=2), {"access_token": "sellerTwoToken",
                                                      "refresh_token": "sellerTwoRT"})
            # a refresh renews only its own seller
            status, body = multi.refresh("sellerTwoRT")
            self.assertEqual(status, 200, body)
            self.assertEqual(multi.tokens(seller=1)["access_token"], "sellerOneToken")
            status, resp = multi.invoke(params, token="sellerTwoToken")
            self.assertEqual(resp["status"]["code"], "0000011")
            status, resp = multi.invoke(params, token=body["access_token"])
            self.assertEqual(resp["result"]["data"], datas[2])
            st = multi.stats()
            self.assertEqual(st["requests_by_merchant"], {"0": 1, "1": 1, "2": 4})
            self.assertEqual(st["auth_failures"], 1)
            self.assertEqual(st["auth_failures_by_merchant"], {"0": 0, "1": 0, "2": 1})
        finally:
            multi.stop()

    def test_credentials_refused_and_counted(self):
        multi = MogujieSimulator(args=["--today", TODAY], extra_sellers=["sellerOneToken"])
        try:
            params = cursor_params()
            for kw, code in (({"token": "neverIssued"}, "0000011"),
                             ({"token": "sellerOneToken", "secret": "WrongSecret01234567"},
                              "0000002"),
                             ({"token": "sellerOneToken", "app_key": "999"}, "0000001")):
                with self.subTest(kw=kw):
                    status, resp = multi.invoke(params, **kw)
                    self.assertEqual((status, resp["status"]["code"]), (200, code))
            status, err = multi.refresh("sellerOneToken")   # an access token is no refresh
            self.assertEqual((status, err["error"]), (400, "invalid_grant"))
            status, resp = multi.invoke(params, token="sellerOneToken")
            self.assertEqual(resp["status"]["code"], "0000000")
            st = multi.stats()
            self.assertEqual(st["auth_failures"], 4)
            self.assertEqual(st["auth_failures_by_merchant"], {"0": 0, "1": 3, "unknown": 1})
            self.assertEqual(st["requests_by_merchant"], {"0": 0, "1": 4, "unknown": 1})
        finally:
            multi.stop()

    def test_revoke_and_unrevoke(self):
        multi = MogujieSimulator(args=["--today", TODAY],
                                 extra_sellers=["sellerOneToken:sellerOneRT"])
        try:
            params = cursor_params()
            self.assertEqual(multi.revoke("sellerOneRT"), ["1"])
            status, resp = multi.invoke(params, token="sellerOneToken")
            self.assertEqual(resp["status"]["code"], "0000011")
            status, err = multi.refresh("sellerOneRT")
            self.assertEqual((status, err["error"]), (400, "invalid_grant"))
            status, resp = multi.invoke(params)   # seller 0 is untouched
            self.assertEqual(resp["status"]["code"], "0000000")
            self.assertEqual(multi.unrevoke("sellerOneToken"), [])
            status, resp = multi.invoke(params, token="sellerOneToken")
            self.assertEqual(resp["status"]["code"], "0000000")
            st = multi.stats()
            self.assertEqual((st["auth_failures"], st["token_invalid"]), (2, 1))
            self.assertEqual(st["auth_failures_by_merchant"], {"0": 0, "1": 2})
            for path, body in (("/_sim/revoke", {"token": "neverIssued"}),
                               ("/_sim/unrevoke", {})):
                with self.subTest(path=path):
                    req = urllib.request.Request(multi.url + path, json.dumps(body).encode(),
                                                 method="POST")
                    with self.assertRaises(urllib.error.HTTPError) as cm:
                        urllib.request.urlopen(req, timeout=10)
                    self.assertEqual(cm.exception.code, 400)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                multi.tokens(seller=2)
            self.assertEqual(cm.exception.code, 400)
        finally:
            multi.stop()

    # ---- faults -------------------------------------------------------------------------

    def test_busy_and_http_faults(self):
        self.sim.configure(fail_next=["busy", 503])
        resp = self.call(cursor_params(), code="9999999")
        self.assertFalse(resp["success"])
        status, raw = self.sim.invoke(cursor_params())
        self.assertEqual(status, 503)
        self.call(cursor_params())
        self.assertEqual(self.sim.stats()["faults_injected"], 2)

    def test_truncate_and_garble(self):
        self.sim.configure(truncate_json_next=1)
        status, raw = self.sim.invoke(cursor_params())
        self.assertEqual(status, 200)
        self.assertIsInstance(raw, bytes)      # not parseable JSON
        self.call(cursor_params())
        self.sim.configure(garble_cipher_next=1)
        status, resp = self.sim.invoke(cursor_params())
        ct = base64.b64decode(resp["result"]["data"])
        self.assertEqual(len(ct) % 16, 0)
        with self.assertRaises(ValueError):
            self.sim.decrypt(resp["result"]["data"])
        self.call(cursor_params())

    def test_slow(self):
        self.sim.configure(slow_ms=300)
        t0 = time.monotonic()
        self.call(cursor_params(page_size=1))
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)

    def test_config_validation(self):
        import urllib.error
        for bad in ({"nope": 1}, {"cipher": "gcm"}, {"fail_next": [42]},
                    {"orders_per_day": 0}, {"encrypt": "yes"}):
            with self.subTest(bad=bad), self.assertRaises(urllib.error.HTTPError) as cm:
                self.sim._call("POST", "/_sim/config", bad)
            self.assertEqual(cm.exception.code, 400)

    # ---- process ------------------------------------------------------------------------

    def test_concurrent_calls(self):
        errors = []

        def worker():
            try:
                for _ in range(3):
                    self.assertEqual(len(self.call(cursor_params())["openApiOrderDetailResDtos"]),
                                     30)
            except Exception as e:   # reported below: assertions in threads do not fail tests
                errors.append(e)
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.sim.stats()["pages_cursor"], 18)

    def test_log_has_no_credentials(self):
        f = self.sim.fields(cursor_params())
        self.sim.post_form("/invoke", f)
        self.sim.refresh(self.sim.tokens()["refresh_token"])
        self.sim.post_form("/invoke", self.sim.fields(cursor_params()))
        marker = "refresh=ok"
        wait_for(lambda: marker in open(self.sim.log_path, encoding="utf-8").read(),
                 what="the refresh log line")
        log = open(self.sim.log_path, encoding="utf-8").read()
        self.assertIn("POST /invoke 200", log)
        tokens = self.sim.tokens()
        for secret in (self.sim.secret, f["sign"], f["access_token"], tokens["access_token"],
                       tokens["refresh_token"]):
            self.assertNotIn(secret, log)

    def test_sigterm_exits_cleanly(self):
        sim = MogujieSimulator()
        sim.stop()
        self.assertEqual(sim.proc.returncode, 0)


if __name__ == "__main__":
    unittest.main()
