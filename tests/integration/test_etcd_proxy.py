"""The etcd fault proxy (etcd_proxy.py) itself, against a real etcd: each rule does what it
says, only on its path and every k-th request, and healing it restores plain forwarding."""
import base64
import http.client
import json
import time
import unittest
import urllib.parse

import etcd
from etcd_proxy import EtcdProxy


def b64(s):
    return base64.b64encode(s.encode()).decode()


class TestEtcdProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not etcd.available():
            raise unittest.SkipTest("etcd-server / etcd-client not installed (make deps)")
        cls.etcd = etcd.Etcd()
        try:
            cls.proxy = EtcdProxy(cls.etcd.url)
        except BaseException:
            cls.etcd.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.etcd.stop()

    def setUp(self):
        self.proxy.heal()
        self.proxy.reset_stats()
        u = urllib.parse.urlparse(self.proxy.url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)

    def tearDown(self):
        self.conn.close()

    def post(self, path, obj):
        """(status, parsed body) over the test's one keep-alive connection."""
        self.conn.request("POST", path, body=json.dumps(obj),
                          headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")

    def put(self, key, value):
        return self.post("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def value(self, key):
        got = self.etcd.ctl("get", "--print-value-only", key).strip()
        return got

    def test_forwards_on_one_connection(self):
        for i in range(5):
            self.assertEqual(self.put("proxy/a", f"v{i}")[0], 200)
        self.assertEqual(self.value("proxy/a"), "v4")
        st = self.proxy.stats()
        self.assertEqual((st["requests"], st["connections"]), (5, 1), st)

    def test_drop_every_third_reply_on_its_path_only(self):
        self.proxy.rules([{"path": "/v3/kv/put", "every": 3, "action": "drop"}])
        self.assertEqual(self.post("/v3/kv/range", {"key": b64("x")})[0], 200)
        self.assertEqual(self.put("proxy/d", "1")[0], 200)
        self.assertEqual(self.put("proxy/d", "2")[0], 200)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.put("proxy/d", "3")
        self.assertEqual(self.value("proxy/d"), "3")  # etcd did it; the reply was lost
        self.conn.close()
        self.assertEqual(self.put("proxy/d", "4")[0], 200)
        self.assertEqual(self.proxy.stats()["fired"], {"drop": 1})

    def test_reset_before_forwarding(self):
        self.proxy.rules([{"path": "/v3/kv/*", "action": "reset", "limit": 1}])
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected)):
            self.put("proxy/r", "lost")
        self.assertEqual(self.value("proxy/r"), "")  # nothing reached etcd
        self.conn.close()
        self.assertEqual(self.put("proxy/r", "kept")[0], 200)  # the limit is spent
        self.assertEqual(self.value("proxy/r"), "kept")

    def test_delay_past_the_timeout_and_503(self):
        self.proxy.rules([{"path": "/v3/kv/put", "action": "delay", "delay_s": 1.5},
                          {"path": "/v3/kv/range", "action": "503"}])
        self.conn.timeout = 0.5
        t0 = time.monotonic()
        with self.assertRaises(OSError):  # socket.timeout
            self.put("proxy/t", "late")
        self.assertLess(time.monotonic() - t0, 1.4)
        self.assertEqual(self.value("proxy/t"), "late")
        self.conn.close()
        self.conn.timeout = 5
        status, body = self.post("/v3/kv/range", {"key": b64("proxy/t")})
        self.assertEqual((status, body["code"]), (503, 14))
        self.proxy.heal()
        self.assertEqual(self.post("/v3/kv/range", {"key": b64("proxy/t")})[0], 200)

    def test_v36_error_bodies(self):
        status, body = self.post("/v3/lease/keepalive", {"ID": "12345"})
        plain = self.post("/v3/auth/authenticate", {"name": "x", "password": "y"})[1]
        self.assertIn("error", plain)  # etcd 3.4's shape
        self.proxy.rules([], v36=True)
        status, body = self.post("/v3/auth/authenticate", {"name": "x", "password": "y"})
        self.assertNotIn("error", body)
        self.assertEqual(body, {"code": plain["code"], "message": plain["message"]})
        ok = self.put("proxy/v", "1")
        self.assertEqual(ok[0], 200)
        self.assertIn("header", ok[1])
