"""The shared store's test harness is real: radosgw (s3_server.py) checks the signatures of
s3_client.py's independent SigV4 signer, refuses a wrong secret, honours If-None-Match: *,
serves ranges and lists by prefix; the signer matches AWS's published example; and the
server leaves no daemon behind. The store fault proxy (store_proxy.py) relays signed
requests unchanged, counts them, and each of its faults does what it says."""
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import s3_server
from s3_client import EMPTY_SHA256, S3Client, sign_v4
from store_proxy import StoreProxy

HERE = os.path.dirname(os.path.abspath(__file__))


class TestSigner(unittest.TestCase):
    def test_aws_get_object_example(self):
        # "Example: GET Object" of AWS's "Signature Calculations for the Authorization
        # Header" (Amazon S3 API reference), its inputs and its published signature.
        headers = {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
                   "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": "20130524T000000Z"}
        auth = sign_v4("GET", "/test.txt", None, headers, EMPTY_SHA256,
                       "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                       "us-east-1", "20130524T000000Z")
        self.assertEqual(
            auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


class TestS3Server(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not s3_server.available():
            raise unittest.SkipTest("radosgw / ceph-mon / ceph-osd not installed (make deps)")
        cls.s3 = s3_server.S3Server()
        cls.c = cls.s3.client()

    @classmethod
    def tearDownClass(cls):
        pids = [p.pid for p in cls.s3.procs.values()]
        cls.s3.stop()
        left = [pid for pid in pids if s3_server.running(pid)]
        assert not left, f"daemons {left} still run after stop()"
        assert not os.path.exists(cls.s3.dir)

    def test_round_trip(self):
        data = os.urandom(300_000)
        r = self.c.put("rt/one", data)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["etag"].strip('"'), hashlib.md5(data).hexdigest())
        self.assertEqual(self.c.put("rt/two", b"2").status, 200)
        self.assertEqual(self.c.put("other/three", b"3").status, 200)
        got = self.c.get("rt/one")
        self.assertEqual(got.status, 200)
        self.assertEqual(hashlib.sha256(got.body).hexdigest(), hashlib.sha256(data).hexdigest())
        h = self.c.head("rt/one")
        self.assertEqual((h.status, int(h.headers["content-length"])), (200, len(data)))
        self.assertEqual(self.c.list("rt/"), {"rt/one": len(data), "rt/two": 1})
        self.assertEqual(self.c.delete("rt/one").status, 204)
        self.assertEqual(self.c.head("rt/one").status, 404)
        self.assertEqual(self.c.get("rt/one").error_code(), "NoSuchKey")
        self.assertEqual(self.c.list("rt/"), {"rt/two": 1})

    def test_list_pages(self):
        for i in range(5):
            self.assertEqual(self.c.put(f"pages/{i}", b"x").status, 200)
        r = self.c.request("GET", f"/{self.s3.bucket}",
                           query={"list-type": "2", "prefix": "pages/", "max-keys": "2"})
        self.assertIn(b"<IsTruncated>true</IsTruncated>", r.body)
        self.assertEqual(sorted(self.c.list("pages/")), [f"pages/{i}" for i in range(5)])

    def test_wrong_secret_is_403(self):
        self.assertEqual(self.c.put("auth/k", b"v").status, 200)
        bad = self.s3.client(secret="not-the-secret")
        for r in (bad.get("auth/k"), bad.put("auth/k", b"evil"), bad.head("auth/k")):
            self.assertEqual(r.status, 403, r)
        self.assertEqual(bad.get("auth/k").error_code(), "SignatureDoesNotMatch")
        unknown = self.s3.client(access_key="NOSUCHKEY")
        self.assertEqual(unknown.get("auth/k").error_code(), "InvalidAccessKeyId")
        self.assertEqual(self.c.get("auth/k").body, b"v")

    def test_tampered_payload_is_refused(self):
        # The signature covers x-amz-content-sha256, and radosgw checks the body against it.
        r = self.c.request("PUT", f"/{self.s3.bucket}/tamper/k", body=b"abc",
                           headers={"x-amz-content-sha256": hashlib.sha256(b"abd").hexdigest()})
        self.assertIn(r.status, (400, 403), r)
        self.assertEqual(self.c.head("tamper/k").status, 404)

    def test_put_if_none_match_on_existing_key_is_412(self):
        self.assertEqual(self.c.put("cond/k", b"first", headers={"If-None-Match": "*"}).status,
                         200)
        r = self.c.put("cond/k", b"second", headers={"If-None-Match": "*"})
        self.assertEqual(r.status, 412, r)
        self.assertEqual(self.c.get("cond/k").body, b"first")

    def test_ranged_get(self):
        data = bytes(range(256)) * 40
        self.assertEqual(self.c.put("range/k", data).status, 200)
        r = self.c.get("range/k", (100, 1099))
        self.assertEqual(r.status, 206)
        self.assertEqual(r.body, data[100:1100])
        self.assertEqual(r.headers["content-range"], f"bytes 100-1099/{len(data)}")
        self.assertEqual(self.c.get("range/k", (len(data), len(data) + 5)).status, 416)

    def test_corrupt_keeps_size_changes_bytes(self):
        data = b"orderfs " * 1000
        self.assertEqual(self.c.put("corrupt/k", data).status, 200)
        self.assertEqual(self.c.corrupt("corrupt/k").status, 200)
        got = self.c.get("corrupt/k").body
        self.assertEqual(len(got), len(data))
        self.assertNotEqual(got, data)

    def test_requests_are_counted_by_method(self):
        mark = self.s3.mark()
        self.c.put("count/a", b"1")
        self.c.get("count/a")
        self.c.get("count/a")
        self.c.head("count/missing")
        self.s3.client(secret="wrong").get("count/a")
        self.assertEqual(self.s3.count("GET", since=mark), 3)
        self.assertEqual(self.s3.count("PUT", f"/{self.s3.bucket}/count/", since=mark), 1)
        # radosgw logs a request when its thread finishes it, so two requests sent one after
        # the other may be logged in either order: both must be there, with their outcomes.
        self.assertCountEqual([r[:4] for r in self.s3.requests(since=mark)[-2:]],
                              [("HEAD", f"/{self.s3.bucket}/count/missing", 404, "orderfs"),
                               ("GET", f"/{self.s3.bucket}/count/a", 403, "-")])

    def test_bytes_sent(self):
        self.assertEqual(self.c.put("count/kb", b"k" * 1000).status, 200)
        mark = self.s3.mark()
        self.c.get("count/kb")
        self.c.get("count/kb", (0, 9))
        self.c.head("count/kb")
        self.assertEqual(self.s3.bytes_sent(prefix=f"/{self.s3.bucket}/count/kb", since=mark),
                         1010)

    def test_user_without_rights_is_403_access_denied(self):
        self.assertEqual(self.c.put("rights/k", b"v").status, 200)
        self.s3.create_user("stranger", "STRANGERKEY0001", "stranger-secret")
        other = self.s3.client(access_key="STRANGERKEY0001", secret="stranger-secret")
        for r in (other.get("rights/k"), other.put("rights/k", b"w")):
            self.assertEqual((r.status, r.error_code()), (403, "AccessDenied"))
        self.assertEqual(self.c.get("rights/k").body, b"v")

    def test_virtual_host_style(self):
        vh = self.s3.client(virtual_host=True)
        mark = self.s3.mark()
        self.assertEqual(vh.put("vhost/k", b"by host").status, 200)
        self.assertEqual(self.c.get("vhost/k").body, b"by host")
        self.assertEqual(vh.list("vhost/"), {"vhost/k": 7})
        self.assertEqual([r[:2] for r in self.s3.requests(since=mark)],
                         [("PUT", "/vhost/k"), ("GET", "/orderfs/vhost/k"),
                          ("GET", "/?list-type=2&prefix=vhost%2F")])

    def test_multipart_upload(self):
        part1, part2 = os.urandom(5 << 20), os.urandom(1000)  # 5 MiB: S3's smallest part
        uid = self.c.create_multipart("mp/k")
        self.assertEqual(self.c.multipart_uploads("mp/"), [("mp/k", uid)])
        r1 = self.c.upload_part("mp/k", uid, 1, part1)
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(self.c.parts("mp/k", uid), [(1, len(part1))])
        r2 = self.c.upload_part("mp/k", uid, 2, part2)
        r = self.c.complete_multipart("mp/k", uid, [r1.headers["etag"], r2.headers["etag"]])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.c.get("mp/k").body, part1 + part2)
        self.assertEqual(self.c.multipart_uploads("mp/"), [])
        uid2 = self.c.create_multipart("mp/aborted")
        self.assertEqual(self.c.abort_multipart("mp/aborted", uid2).status, 204)
        self.assertEqual(self.c.multipart_uploads("mp/"), [])
        self.assertEqual(self.c.head("mp/aborted").status, 404)

    def test_credentials_file_and_mount_settings(self):
        p = os.path.join(self.s3.dir, "creds")
        got = self.s3.settings(p, endpoint="http://127.0.0.1:1")
        self.assertEqual(got, {"store_url": f"http://127.0.0.1:1/{self.s3.bucket}/shared",
                               "store_credentials_file": p})
        self.assertEqual(self.s3.settings(p)["store_url"], self.s3.url)
        self.assertEqual(os.stat(p).st_mode & 0o777, 0o600)
        with open(p) as f:
            self.assertEqual(f.read(), f"{self.s3.access_key}:{self.s3.secret}\n")

    def curl(self, *args, secret=None):
        """curl (the libcurl orderfs links) with CURLOPT_AWS_SIGV4; returns (status, body)."""
        p = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "--aws-sigv4",
                            "aws:amz:us-east-1:s3", "--user",
                            f"{self.s3.access_key}:{secret or self.s3.secret}", *args],
                           capture_output=True, timeout=30)
        body, _, status = p.stdout.rpartition(b"\n")
        return int(status), body

    def test_libcurl_sigv4_is_accepted_with_payload_hash(self):
        # What orderfs's client does: libcurl signs, orderfs sends x-amz-content-sha256.
        src = os.path.join(self.s3.dir, "curl-upload")
        with open(src, "wb") as f:
            f.write(b"signed by libcurl")
        url = f"{self.s3.endpoint}/{self.s3.bucket}/curl/k"
        sha = "x-amz-content-sha256: " + hashlib.sha256(b"signed by libcurl").hexdigest()
        unsigned = "x-amz-content-sha256: UNSIGNED-PAYLOAD"
        self.assertEqual(self.curl("-H", sha, "-T", src, url), (200, b""))
        self.assertEqual(self.curl("-H", unsigned, url), (200, b"signed by libcurl"))
        self.assertEqual(self.curl("-H", unsigned, "-r", "7-8", url), (206, b"by"))
        status, body = self.curl("-H", unsigned, f"{self.s3.endpoint}/{self.s3.bucket}"
                                 "?list-type=2&prefix=curl%2F")
        self.assertEqual(status, 200)
        self.assertIn(b"<Key>curl/k</Key>", body)
        # Without the header radosgw cannot check the signature: 403, as the issue warns.
        self.assertEqual(self.curl(url)[0], 403)
        self.assertEqual(self.curl("-H", unsigned, url, secret="wrong")[0], 403)

    def test_missing_bucket(self):
        r = self.c.get("k", bucket="no-such-bucket")
        self.assertEqual((r.status, r.error_code()), (404, "NoSuchBucket"))

    def test_zz_gateway_killed_and_restarted_keeps_objects(self):
        # Last in the class: the gateway restarts (about a second).
        self.assertEqual(self.c.put("restart/k", b"kept").status, 200)
        self.s3.kill_gateway()
        with self.assertRaises(ConnectionRefusedError):
            self.c.get("restart/k")
        self.s3.start_gateway()
        self.assertEqual(self.c.get("restart/k").body, b"kept")


# What a client sees when a connection ends early (the proxy's cut, reset, cut_request).
BROKEN = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionResetError,
          BrokenPipeError)


class TestStoreProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not s3_server.available():
            raise unittest.SkipTest("radosgw / ceph-mon / ceph-osd not installed (make deps)")
        cls.s3 = s3_server.S3Server()
        try:
            cls.proxy = StoreProxy(cls.s3.endpoint)
        except BaseException:
            cls.s3.stop()
            raise
        cls.direct = cls.s3.client()
        cls.c = S3Client(cls.proxy.endpoint, cls.s3.bucket, cls.s3.access_key, cls.s3.secret)
        cls.data = os.urandom(200_000)
        assert cls.direct.put("p/obj", cls.data).status == 200

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.s3.stop()

    def setUp(self):
        self.proxy.heal()
        self.proxy.reset_stats()
        self.mark = self.s3.mark()

    def store_requests(self):
        return self.s3.count(since=self.mark)

    def test_relays_signed_requests_and_counts_them(self):
        b = self.s3.bucket
        self.assertEqual(self.c.put("p/relay/a", b"abc").status, 200)
        self.assertEqual(self.c.get("p/relay/a").body, b"abc")
        self.assertEqual(self.c.get("p/obj", (10, 19)).body, self.data[10:20])
        self.assertEqual(self.c.head("p/relay/a").status, 200)
        self.assertEqual(self.c.list("p/relay/"), {"p/relay/a": 3})
        self.assertEqual(self.c.delete("p/relay/a").status, 204)
        self.assertEqual(self.c.get("p/obj").body, self.data)
        self.assertEqual(S3Client(self.proxy.endpoint, b, self.s3.access_key, "wrong")
                         .get("p/obj").status, 403)
        self.assertEqual(self.proxy.count("GET"), 5)
        self.assertEqual(self.proxy.count("GET", f"/{b}/p/obj"), 3)
        self.assertEqual(self.proxy.count(prefix=f"/{b}/p/relay/"), 4)
        self.assertEqual(self.proxy.requests()[0], ("PUT", f"/{b}/p/relay/a", 200))
        self.assertEqual(self.store_requests(), 8)
        self.proxy.reset_stats()
        self.assertEqual(self.proxy.requests(), [])

    def test_chunked_upload_is_relayed_as_framed(self):
        # radosgw, like S3, wants a Content-Length on PUT (orderfs must send one): a chunked
        # upload gets 411 directly and through the proxy alike, not a hang or a 400 from
        # broken framing.
        body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        for client in (self.direct, self.c):
            r = client.request("PUT", f"/{self.s3.bucket}/p/chunked", body=body,
                               headers={"transfer-encoding": "chunked"}, sign_payload=False)
            self.assertEqual((r.status, r.error_code()), (411, "MissingContentLength"))
        self.assertEqual(self.proxy.requests(), [("PUT", f"/{self.s3.bucket}/p/chunked", 411)])

    def test_cut_truncates_the_body(self):
        self.proxy.rules([{"method": "GET", "path": "/*", "action": "cut", "after": 1000,
                           "limit": 1}])
        with self.assertRaises(http.client.IncompleteRead) as cm:
            self.c.get("p/obj")
        self.assertEqual(len(cm.exception.partial), 1000)
        self.assertEqual(cm.exception.partial, self.data[:1000])
        self.assertEqual(self.c.get("p/obj").body, self.data)  # limit 1: fired once
        self.assertEqual(self.proxy.stats()["fired"], {"cut": 1})

    def test_cut_with_reset(self):
        self.proxy.rules([{"action": "cut", "after": 70_000, "rst": True}])
        with self.assertRaises(BROKEN):
            self.c.get("p/obj")

    def test_cut_request_leaves_no_object(self):
        self.proxy.rules([{"method": "PUT", "action": "cut_request", "after": 50_000}])
        with self.assertRaises(BROKEN):
            self.c.put("p/cut-upload", os.urandom(1_000_000))
        self.assertEqual(self.direct.head("p/cut-upload").status, 404)
        self.assertEqual(self.c.get("p/obj").body, self.data)  # other methods unaffected

    def test_reset_reaches_no_store(self):
        self.proxy.rules([{"action": "reset"}])
        with self.assertRaises(BROKEN):
            self.c.get("p/obj")
        self.assertEqual(self.store_requests(), 0)
        self.assertEqual(self.proxy.requests(), [("GET", f"/{self.s3.bucket}/p/obj", 0)])

    def test_status_answers_without_the_store(self):
        self.proxy.rules([{"method": "PUT", "action": "status", "status": 503},
                          {"method": "GET", "action": "status", "status": 403}])
        r = self.c.put("p/status", b"x")
        self.assertEqual((r.status, r.error_code()), (503, "SlowDown"))
        r = self.c.get("p/obj")
        self.assertEqual((r.status, r.error_code()), (403, "AccessDenied"))
        self.assertEqual(self.store_requests(), 0)
        self.assertEqual(self.direct.head("p/status").status, 404)

    def test_delay_holds_the_request(self):
        self.proxy.rules([{"method": "HEAD", "action": "delay", "delay_s": 0.5}])
        t0 = time.monotonic()
        self.assertEqual(self.c.head("p/obj").status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)

    def test_stall_holds_the_body(self):
        self.proxy.rules([{"action": "stall", "after": 4096, "delay_s": 5}])
        c = self.c
        path = f"/{self.s3.bucket}/p/obj"
        conn = http.client.HTTPConnection(c.host, c.port, timeout=30)
        try:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            hdrs = {"host": f"{c.host}:{c.port}", "x-amz-date": amz_date,
                    "x-amz-content-sha256": EMPTY_SHA256}
            hdrs["authorization"] = sign_v4("GET", path, None, hdrs, EMPTY_SHA256,
                                            c.access_key, c.secret, c.region, amz_date)
            conn.request("GET", path, headers=hdrs)
            r = conn.getresponse()
            self.assertEqual((r.status, int(r.getheader("content-length"))),
                             (200, len(self.data)))
            self.assertEqual(r.read(4096), self.data[:4096])
            conn.sock.settimeout(1)
            with self.assertRaises(TimeoutError):  # nothing more comes: not a close
                r.read(1)
        finally:
            conn.close()

    def test_conditional_put_refused_like_swift(self):
        self.proxy.rules([{"method": "PUT", "header": "If-None-Match", "action": "status",
                           "status": 501}])
        r = self.c.put("p/cond", b"x", headers={"If-None-Match": "*"})
        self.assertEqual((r.status, r.error_code()), (501, "NotImplemented"))
        self.assertEqual(self.c.put("p/cond", b"x").status, 200)  # a plain PUT passes
        self.assertEqual(self.store_requests(), 1)

    def test_flip_corrupts_one_byte(self):
        self.proxy.rules([{"action": "flip", "at": 150_000}])
        got = self.c.get("p/obj")
        self.assertEqual((got.status, len(got.body)), (200, len(self.data)))
        diff = [i for i in range(len(self.data)) if got.body[i] != self.data[i]]
        self.assertEqual(diff, [150_000])

    def test_every_and_path_select_requests(self):
        self.assertEqual(self.direct.put("p/other", b"o").status, 200)
        self.proxy.rules([{"path": "/" + self.s3.bucket + "/p/obj", "every": 2,
                           "action": "status", "status": 500}])
        got = [self.c.head("p/obj").status for _ in range(4)]
        self.assertEqual(got, [200, 500, 200, 500])
        self.assertEqual([self.c.head("p/other").status for _ in range(2)], [200, 200])
        self.assertEqual(self.proxy.stats()["fired"], {"status": 2})

    def test_store_gone_resets_the_client(self):
        self.s3.kill_gateway()
        try:
            with self.assertRaises(BROKEN):
                self.c.get("p/obj")
        finally:
            self.s3.start_gateway()
        self.assertEqual(self.c.get("p/obj").body, self.data)


class TestLeftovers(unittest.TestCase):
    def test_daemons_of_a_killed_run_are_reaped(self):
        if not s3_server.available():
            raise unittest.SkipTest("radosgw / ceph-mon / ceph-osd not installed (make deps)")
        # A run killed before stop(): its daemons outlive it.
        code = ("import os, signal, s3_server\n"
                "s = s3_server.S3Server()\n"
                "print(s.dir, *[p.pid for p in s.procs.values()], flush=True)\n"
                "os.kill(os.getpid(), signal.SIGKILL)\n")
        p = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr)
        d, *pids = p.stdout.split()
        pids = [int(x) for x in pids]
        self.assertTrue(os.path.isdir(d))
        self.assertTrue(all(s3_server.running(pid) for pid in pids))
        s3_server.reap_leftovers()
        self.assertFalse(os.path.exists(d))
        self.assertFalse(any(s3_server.running(pid) for pid in pids))


if __name__ == "__main__":
    unittest.main()


class TestStandalone(unittest.TestCase):
    def test_runs_until_sigterm(self):
        if not s3_server.available():
            raise unittest.SkipTest("radosgw / ceph-mon / ceph-osd not installed (make deps)")
        with tempfile.TemporaryDirectory() as tmp:
            info_file = os.path.join(tmp, "info.json")
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "s3_server.py"),
                                  "--info-file", info_file])
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(info_file):
                    self.assertIsNone(p.poll(), "s3_server.py exited before it served")
                    self.assertLess(time.monotonic(), deadline, "no info file")
                    time.sleep(0.05)
                with open(info_file) as f:
                    info = json.load(f)
                c = S3Client(info["endpoint"], info["bucket"], info["access_key"],
                             info["secret"])
                self.assertEqual(c.put("k", b"v").status, 200)
                self.assertEqual(info["url"], info["endpoint"] + "/orderfs/shared")
                with open(os.path.join(info["dir"], "pids")) as f:
                    pids = [int(x) for x in f.read().split()]
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(30), 0)
        self.assertFalse(os.path.exists(info["dir"]))
        self.assertFalse(any(s3_server.running(pid) for pid in pids))
