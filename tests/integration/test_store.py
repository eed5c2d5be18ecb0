"""The shared store (issue 27) for real: a real radosgw on loopback (s3_server.py, which checks
SigV4 signatures and honours If-None-Match), the Vexora simulator, and real mounts with their
own cache_dir sharing one store_url.

A host that exported a range uploads the file and its pointer; a host with an empty cache_dir
then reads the range with no provider call at all. A corrupt object is never served (the host
falls back to the provider) and wrong credentials (403) show in /.stats while every file is
still served from the provider. radosgw killed (by pid) mid-upload and mid-download: the upload
is retried until the store is back, the download falls back to the provider, nothing partial
is shown. store_keep = DAYS keeps a closed range past the provider's expiry. Each test uses a
prefix of its own in the one bucket.
"""
import datetime
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import etcd
import s3_server
from mount import BUILD, ORDERFS, ROOT, Mount, wait_for
from mogujie_simulator import MogujieSimulator
from test_accounts import AccountsMount, read_json, vexora_keys
from store_proxy import StoreProxy
from simulator import Simulator


def rng(days_ago_start, days_ago_end=None):
    today = datetime.date.today()
    a = today - datetime.timedelta(days=days_ago_start)
    b = today - datetime.timedelta(days=days_ago_start if days_ago_end is None else
                                   days_ago_end)
    return f"{a.isoformat()}..{b.isoformat()}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def provider_calls(st):
    return st["apply"] + st["status"] + st["downloadUrl"] + st["download"]


class StoreCase(unittest.TestCase):
    """One radosgw and one simulator for the class; each test mounts its own hosts."""

    @classmethod
    def setUpClass(cls):
        if not s3_server.available():
            raise unittest.SkipTest("radosgw / ceph-mon / ceph-osd not installed (make deps)")
        if not os.access(ORDERFS, os.X_OK):
            raise unittest.SkipTest(f"{ORDERFS} not built")
        cls.s3 = s3_server.S3Server()
        try:
            cls.sim = cls.make_sim()
        except BaseException:
            cls.s3.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.s3.stop()

    @classmethod
    def make_sim(cls):
        return Simulator(args=("--rows", "200", "--pending-s", "0.1", "--generating-s", "0.3"))

    def setUp(self):
        self.sim.reset_stats()
        self.prefix = "t-" + uuid.uuid4().hex[:12]
        self.mounts = []
        self.cred = os.path.join(self.s3.dir, f"cred-{self.prefix}")
        self.s3.write_credentials(self.cred)

    def tearDown(self):
        for m in self.mounts:
            if m.proc is not None:
                m.umount()

    def mount(self, cred=None, endpoint=None, bucket=None, **settings):
        s = {"store_url": f"{endpoint or self.s3.endpoint}/{bucket or self.s3.bucket}/"
                          f"{self.prefix}",
             "store_credentials_file": cred or self.cred}
        s.update(settings)
        m = Mount(self.sim, settings=s)
        self.mounts.append(m)
        return m

    @staticmethod
    def stats(m):
        with open(m.path(".stats")) as f:
            return json.load(f)

    @staticmethod
    def status(m, r):
        with open(m.path("exports", r, ".status")) as f:
            return json.load(f)

    def wait_uploads(self, m, n=1):
        wait_for(lambda: self.stats(m)["store"]["uploads"] >= n, timeout=20,
                 what=f"{n} upload(s) to the store")


class TestNewHostFromStore(StoreCase):
    def test_empty_cache_reads_what_another_host_exported(self):
        r = rng(20, 19)
        a = self.mount()
        first = read(a.path("exports", r, "orders.xlsx"))
        self.assertGreater(len(first), 1000)
        st_a = self.status(a, r)
        self.assertEqual(st_a["source"], "provider", st_a)
        self.wait_uploads(a)
        self.assertEqual(self.stats(a)["store"]["errors"], 0)
        before = self.sim.stats()
        b = self.mount()  # a new host: its own, empty cache_dir
        second = read(b.path("exports", r, "orders.xlsx"))
        after = self.sim.stats()
        self.assertEqual(provider_calls(after) - provider_calls(before), 0,
                         (before, after))
        self.assertEqual(sha(second), sha(first))
        st_b = self.status(b, r)
        self.assertEqual(st_b["source"], "store", st_b)
        self.assertEqual(st_b["sha256"], sha(first))
        self.assertTrue(st_b["store_key"].startswith("vexora/"), st_b)
        self.assertTrue(st_b["store_key"].endswith("/" + sha(first)), st_b)
        sb = self.stats(b)["store"]
        self.assertEqual((sb["hits"], sb["errors"]), (1, 0), sb)
        # What the store holds: the object under its SHA-256 and one pointer, nothing
        # that names the merchant in clear.
        keys = [k for k in self.s3.client().list(prefix=self.prefix + "/")]
        self.assertEqual(len(keys), 2, keys)
        self.assertTrue(any(k.endswith("/" + sha(first)) for k in keys), keys)
        self.assertTrue(any("/ranges/" + r + "/" in k for k in keys), keys)
        self.assertFalse(any(self.sim.merchant in k for k in keys), keys)
        a.close(self)
        b.close(self)


class TestStoreKeep(StoreCase):
    """store_keep = DAYS: a closed, complete range outlives the provider's expiry in the
    store and on the hosts that hold it."""

    @staticmethod
    def expires(m, r):
        return int(os.getxattr(m.path("exports", r, "orders.xlsx"), "user.orderfs.expires"))

    def pointer(self, r):
        keys = [k for k in self.s3.client().list(prefix=self.prefix + "/")
                if "/ranges/" + r + "/" in k]
        self.assertEqual(len(keys), 1, keys)
        resp = self.s3.client().get(keys[0])
        self.assertEqual(resp.status, 200, resp)
        return json.loads(resp.body)

    def test_kept_range_outlives_the_providers_expiry(self):
        r = rng(30, 29)  # two closed days: listed only while a host holds the range
        self.sim.configure(file_ttl_s=6)
        try:
            # Host B (store_keep = provider) exports first: its pointer ends with the file.
            b = self.mount()
            first = read(b.path("exports", r, "orders.xlsx"))
            self.wait_uploads(b)
            provider_expiry = self.expires(b, r)
            self.assertLess(provider_expiry, time.time() + 60)
            self.assertEqual(self.pointer(r)["expires"], provider_expiry)
            # Host A keeps 30 days: it reads B's file from the store and keeps the pointer.
            a = self.mount(store_keep="30")
            before = self.sim.stats()
            self.assertEqual(sha(read(a.path("exports", r, "orders.xlsx"))), sha(first))
            self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
            self.assertEqual(self.status(a, r)["source"], "store")
            kept = self.expires(a, r)
            self.assertGreaterEqual(kept, time.time() + 29 * 86400)
            wait_for(lambda: self.pointer(r)["expires"] == kept, timeout=20,
                     what="the kept pointer")
            # Past the provider's expiry: A still lists and serves its copy; B's copy has
            # expired and B reads it back from the store, no new export.
            wait_for(lambda: time.time() > provider_expiry + 1, timeout=30,
                     what="the provider's expiry")
            self.assertIn(r, os.listdir(a.path("exports")))
            before = self.sim.stats()
            self.assertEqual(sha(read(a.path("exports", r, "orders.xlsx"))), sha(first))
            self.assertEqual(sha(read(b.path("exports", r, "orders.xlsx"))), sha(first))
            self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
            self.assertEqual(self.status(b, r)["source"], "store")
            self.assertEqual(self.expires(b, r), kept)
            self.assertIn(r, os.listdir(b.path("exports")))
            a.close(self)
            b.close(self)
        finally:
            self.sim.configure(file_ttl_s=604800)  # the simulator's default

    def test_open_range_is_not_kept(self):
        r = rng(0)  # today: open, its file is never kept past the provider's expiry
        a = self.mount(store_keep="30")
        read(a.path("exports", r, "orders.xlsx"))
        self.wait_uploads(a)
        expiry = self.expires(a, r)  # the provider's (7 days in the simulator)
        self.assertLess(expiry, time.time() + 8 * 86400)
        self.assertEqual(self.pointer(r)["expires"], expiry)
        a.close(self)


class TestStoreFaults(StoreCase):
    def test_corrupt_object_is_never_served(self):
        r = rng(30, 29)
        a = self.mount()
        good = read(a.path("exports", r, "orders.xlsx"))
        self.wait_uploads(a)
        obj = [k for k in self.s3.client().list(prefix=self.prefix + "/")
               if k.endswith("/" + sha(good))][0]
        self.assertEqual(self.s3.client().corrupt(obj).status, 200)
        before = self.sim.stats()
        b = self.mount()
        got = read(b.path("exports", r, "orders.xlsx"))
        self.assertEqual(sha(got), sha(good))
        after = self.sim.stats()
        self.assertEqual(after["download"] - before["download"], 1, (before, after))
        st_b = self.status(b, r)
        self.assertEqual(st_b["source"], "provider", st_b)
        self.assertGreaterEqual(self.stats(b)["store"]["errors"], 1)
        a.close(self)
        b.close(self, allowed=("shared store",))

    def test_wrong_credentials_counted_files_still_served(self):
        r = rng(40, 39)
        bad = os.path.join(os.path.dirname(self.cred), f"bad-{self.prefix}")
        with open(bad, "w") as f:
            f.write(f"{self.s3.access_key}:not-the-secret\n")
        os.chmod(bad, 0o600)
        m = self.mount(cred=bad)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(self.sim.stats()["download"], 1)
        self.assertGreater(len(data), 1000)
        wait_for(lambda: self.stats(m)["store"]["auth_errors"] >= 2, timeout=30,
                 what="the 403s of the read and of the upload")
        text = m.log_text()
        self.assertNotIn("not-the-secret", text)
        self.assertIn("HTTP 403", text)
        m.close(self, allowed=("shared store",))


class TestStoreFaultsProxy(StoreCase):
    """Faults between a host and the store, injected by a proxy of the tests' own: every
    file served is the provider's file, byte for byte."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.proxy = StoreProxy(cls.s3.endpoint)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.proxy.heal()
        self.proxy.reset_stats()

    def export_on_a(self, r):
        """Host a exports r straight to the store: (its bytes, the object's request path)."""
        a = self.mount()
        data = read(a.path("exports", r, "orders.xlsx"))
        self.wait_uploads(a)
        key = self.status(a, r)["store_key"]
        a.close(self)
        return data, f"/{self.s3.bucket}/{self.prefix}/{key}"

    def test_download_cut_mid_body_falls_back_to_provider(self):
        r = rng(60, 59)
        good, path = self.export_on_a(r)
        self.proxy.rules([{"method": "GET", "path": path, "action": "cut", "after": 1000}])
        before = self.sim.stats()
        b = self.mount(endpoint=self.proxy.endpoint)
        got = read(b.path("exports", r, "orders.xlsx"))
        self.assertEqual(sha(got), sha(good))
        self.assertEqual(self.sim.stats()["download"] - before["download"], 1)
        self.assertGreaterEqual(self.proxy.count("GET", path), 1)
        st = self.status(b, r)
        self.assertEqual(st["source"], "provider", st)
        self.assertFalse([n for n in os.listdir(b.cache_dir) if n.endswith(".part")])
        b.close(self, allowed=("shared store",))

    def test_upload_cut_is_retried_and_then_serves_others(self):
        r = rng(61, 60)
        obj_prefix = f"/{self.s3.bucket}/{self.prefix}/vexora/"
        self.proxy.rules([{"method": "PUT", "path": obj_prefix + "*", "action": "cut_request",
                           "after": 1000, "limit": 1}])
        a = self.mount(endpoint=self.proxy.endpoint)
        good = read(a.path("exports", r, "orders.xlsx"))  # never waits for the upload
        self.wait_uploads(a)
        self.assertGreaterEqual(self.stats(a)["store"]["errors"], 1)
        before = self.sim.stats()
        b = self.mount()
        got = read(b.path("exports", r, "orders.xlsx"))
        self.assertEqual(sha(got), sha(good))
        self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
        a.close(self)
        b.close(self)

    def test_multipart_upload_cut_resumes(self):
        """A file above 64 MiB goes up in parts; the third part's upload is cut: the retry
        lists the parts the store has and sends only the others."""
        r = rng(66, 65)
        self.sim.configure(rows=(66 << 20) // 448, compression="stored")
        try:
            obj_prefix = f"/{self.s3.bucket}/{self.prefix}/vexora/"
            self.proxy.rules([{"method": "PUT", "path": obj_prefix + "*", "every": 3,
                               "limit": 1, "action": "cut_request", "after": 1 << 20}])
            a = self.mount(endpoint=self.proxy.endpoint)
            good = read(a.path("exports", r, "orders.xlsx"))
            self.assertGreater(len(good), 64 << 20)
            self.wait_uploads(a)
            parts = [t for m_, t, _ in self.proxy.requests() if m_ == "PUT" and "partNumber=" in t]
            numbers = sorted(int(t.split("partNumber=")[1].split("&")[0]) for t in parts)
            # 5 parts of 16 MiB; part 3 sent twice (cut, then resumed), 1 and 2 once.
            self.assertEqual(numbers, [1, 2, 3, 3, 4, 5], numbers)
            self.assertEqual(self.s3.client().multipart_uploads(prefix=self.prefix + "/"), [])
            a.close(self, allowed=("shared store",))
            before = self.sim.stats()
            b = self.mount()
            got = read(b.path("exports", r, "orders.xlsx"))
            self.assertEqual(sha(got), sha(good))
            self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
            b.close(self)
        finally:
            self.sim.configure(rows=200, compression="deflate")

    def test_store_without_conditional_put(self):
        """A store that answers 501 to If-None-Match (Swift's s3api): the upload goes as a
        plain PUT, and another host reads it."""
        r = rng(67, 66)
        self.proxy.rules([{"method": "PUT", "header": "If-None-Match", "action": "status",
                           "status": 501}])
        a = self.mount(endpoint=self.proxy.endpoint)
        good = read(a.path("exports", r, "orders.xlsx"))
        self.wait_uploads(a)
        puts = [t for m_, t, st in self.proxy.requests() if m_ == "PUT"]
        self.assertGreaterEqual(len(puts), 3, puts)  # 501, then the object, then the pointer
        a.close(self)
        before = self.sim.stats()
        b = self.mount()
        self.assertEqual(sha(read(b.path("exports", r, "orders.xlsx"))), sha(good))
        self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
        b.close(self)

    def test_store_down_serves_from_provider(self):
        r = rng(62, 61)
        self.proxy.rules([{"action": "status", "status": 503, "code": "ServiceUnavailable"}])
        m = self.mount(endpoint=self.proxy.endpoint)
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assertEqual(self.sim.stats()["download"], 1)
        self.assertEqual(sha(data), sha(self.sim.file_bytes(self.status(m, r)["task_id"])))
        self.assertIn("HTTP 503", self.status(m, r).get("store_error", ""))
        # A second range while the store still fails: served, and the outage logged once.
        r2 = rng(65, 64)
        self.assertGreater(len(read(m.path("exports", r2, "orders.xlsx"))), 1000)
        lines = [ln for ln in m.log_text().splitlines()
                 if "shared store" in ln and "HTTP 503" in ln and "warning" in ln]
        self.assertEqual(len(lines), 1, lines)
        m.close(self, allowed=("shared store",))

    def test_missing_bucket_and_403_are_shown(self):
        r = rng(63, 62)
        m = self.mount(bucket="no-such-bucket")
        data = read(m.path("exports", r, "orders.xlsx"))
        self.assertGreater(len(data), 1000)
        self.assertIn("NoSuchBucket", self.status(m, r).get("store_error", ""))
        m.close(self, allowed=("shared store",))
        bad = os.path.join(self.s3.dir, f"bad-{self.prefix}")
        self.s3.write_credentials(bad, secret="not-the-secret")
        m = self.mount(cred=bad)
        data2 = read(m.path("exports", rng(64, 63), "orders.xlsx"))
        self.assertGreater(len(data2), 1000)
        st = self.status(m, rng(64, 63))
        self.assertIn("HTTP 403", st.get("store_error", ""), st)
        self.assertGreaterEqual(self.stats(m)["store"]["auth_errors"], 1)
        m.close(self, allowed=("shared store",))


class TestStoreKilled(StoreCase):
    """radosgw really killed (SIGKILL by pid, s3_server.kill_gateway) while a host uploads to
    it or downloads from it, then started again on the same port (its OSD keeps the objects).
    A proxy of the tests' own only holds or slows the transfer so the kill lands in its
    middle."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.proxy = StoreProxy(cls.s3.endpoint)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.proxy.heal()
        self.proxy.reset_stats()

    def obj_prefix(self):
        return f"/{self.s3.bucket}/{self.prefix}/vexora/"

    def test_killed_mid_upload_is_retried_once_back(self):
        r = rng(70, 69)
        # The object's PUT is held at the proxy: the store dies while the upload is open.
        self.proxy.rules([{"method": "PUT", "path": self.obj_prefix() + "*",
                           "action": "delay", "delay_s": 2, "limit": 1}])
        a = self.mount(endpoint=self.proxy.endpoint)
        good = read(a.path("exports", r, "orders.xlsx"))  # never waits for the upload
        wait_for(lambda: self.proxy.count("PUT", self.obj_prefix()) >= 1, timeout=20,
                 what="the upload under way")
        self.s3.kill_gateway()
        try:
            # Down through five tries (the uploader used to give up there for good); the
            # reader is never blocked meanwhile.
            wait_for(lambda: self.stats(a)["store"]["errors"] >= 5, timeout=60,
                     what="five failed tries")
            self.assertEqual(sha(read(a.path("exports", r, "orders.xlsx"))), sha(good))
            self.assertEqual(self.stats(a)["store"]["uploads"], 0)
        finally:
            self.s3.start_gateway()
        wait_for(lambda: self.stats(a)["store"]["uploads"] >= 1, timeout=60,
                 what="the upload once the store is back")
        before = self.sim.stats()
        b = self.mount()
        self.assertEqual(sha(read(b.path("exports", r, "orders.xlsx"))), sha(good))
        self.assertEqual(provider_calls(self.sim.stats()) - provider_calls(before), 0)
        self.assertEqual(self.status(b, r)["source"], "store")
        a.close(self, allowed=("shared store",))
        b.close(self)

    def test_killed_mid_download_falls_back_to_provider(self):
        r = rng(72, 71)
        self.sim.configure(rows=16 * 1024 * 1024 // 448, compression="stored")  # 16 MiB
        try:
            a = self.mount()
            good = read(a.path("exports", r, "orders.xlsx"))
            self.wait_uploads(a)
            # B's GET of the object relayed at 2 MiB/s: the store dies in its middle.
            obj = f"/{self.s3.bucket}/{self.prefix}/{self.status(a, r)['store_key']}"
            self.proxy.rules([{"method": "GET", "path": obj,
                               "action": "delay", "delay_s": 0, "rate_bps": 2 << 20,
                               "limit": 1}])
            b = self.mount(endpoint=self.proxy.endpoint)
            before = self.sim.stats()
            got = {}
            t = threading.Thread(target=lambda: got.update(
                data=read(b.path("exports", r, "orders.xlsx"))))
            t.start()
            wait_for(lambda: self.proxy.stats()["slow_bytes"] >= 1 << 20, timeout=60,
                     what="the download from the store under way")
            self.assertNotEqual(self.status(b, r)["state"], "ready")  # nothing partial shown
            self.s3.kill_gateway()
            try:
                t.join(120)
                self.assertFalse(t.is_alive())
                self.assertEqual(len(got["data"]), len(good))
                self.assertEqual(sha(got["data"]), sha(good))
                st = self.status(b, r)
                self.assertEqual(st["source"], "provider", st)
                self.assertEqual(self.sim.stats()["download"] - before["download"], 1)
                sb = self.stats(b)["store"]
                self.assertEqual(sb["hits"], 0, sb)
                self.assertGreaterEqual(sb["errors"], 1, sb)
                parts = [f for _, _, fs in os.walk(b.cache_dir) for f in fs
                         if f.endswith(".part")]
                self.assertEqual(parts, [])
            finally:
                self.s3.start_gateway()
            a.close(self)
            b.close(self, allowed=("shared store",))
        finally:
            self.sim.configure(rows=200, compression="deflate")


class TestStoreAccounts(StoreCase):
    """accounts_dir with a store: the store never vouches for an account's credentials."""

    def accounts_mount(self, accounts):
        am = AccountsMount(self.sim, {"provider": "vexora"}, accounts, vexora_keys, {
            "store_url": f"{self.s3.endpoint}/{self.s3.bucket}/{self.prefix}",
            "store_credentials_file": self.cred})
        self.mounts.append(am.m)
        return am

    def test_a_made_up_account_never_reads_a_merchants_file_from_the_store(self):
        r = rng(70, 69)
        a = self.mount()
        theirs = read(a.path("exports", r, "orders.xlsx"))
        self.wait_uploads(a)
        a.close(self)
        # Someone writes an account file naming the merchant with a made-up secret: the
        # merchant's file is in the store under the same prefix, but is not theirs to read.
        am = self.accounts_mount({"mallory": (self.sim.merchant, "made-up")})
        with self.assertRaises(OSError) as cm:
            got = read(am.path("mallory", "exports", r, "orders.xlsx"))
            self.assertFalse(got == theirs, "a made-up account was served the merchant's file")
        self.assertEqual(cm.exception.errno, errno.EACCES)
        self.assertEqual(read_json(am.path("mallory", ".status"))["token"], "refused")
        am.m.close(self, allowed=("refused", "auth", "signature", "credentials"))
        # The merchant's own account file reads it from the store, credentials checked.
        am = self.accounts_mount({"alpha": (self.sim.merchant, self.sim.secret)})
        before = self.sim.stats()
        self.assertEqual(read(am.path("alpha", "exports", r, "orders.xlsx")), theirs)
        after = self.sim.stats()
        self.assertEqual((after["apply"], after["download"]),
                         (before["apply"], before["download"]), (before, after))
        am.m.close(self)


class FleetStoreCase(StoreCase):
    """A real etcd for the class too: hosts in fleet mode sharing one store."""

    @classmethod
    def setUpClass(cls):
        if not etcd.available():
            raise unittest.SkipTest("etcd-server / etcd-client not installed (make deps)")
        super().setUpClass()
        try:
            cls.etcd = etcd.Etcd()
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.etcd.stop()
        super().tearDownClass()


class TestFleetWithStore(FleetStoreCase):
    """Three hosts in fleet mode on a real etcd, one store: one apply and one provider
    download in all; the followers' bytes come from the store."""

    def test_three_hosts_one_provider_download(self):
        r = rng(50, 49)
        ms = [self.mount(fleet_etcd=self.etcd.url, fleet_host=f"host{i + 1}",
                         fleet_lease_ttl="2s") for i in range(3)]
        out = [None] * 3

        def cat(i):
            out[i] = read(ms[i].path("exports", r, "orders.xlsx"))

        readers = [threading.Thread(target=cat, args=(i,)) for i in range(3)]
        for t in readers:
            t.start()
        for t in readers:
            t.join(60)
        st = self.sim.stats()
        self.assertEqual((st["apply"], st["download"]), (1, 1), st)
        self.assertGreater(len(out[0]), 1000)
        self.assertEqual({sha(d) for d in out}, {sha(out[0])}, "hosts differ")
        sources = sorted(self.status(m, r)["source"] for m in ms)
        self.assertEqual(sources, ["provider", "store", "store"], sources)
        for m in ms:
            m.close(self)


class TestMogujieFleetWithStore(FleetStoreCase):
    """Mogujie has no server-side task: each host would sync the range page by page. With a
    store and fleet mode, one host syncs and the others read its files from the store."""

    @classmethod
    def make_sim(cls):
        return MogujieSimulator(args=("--orders-per-day", "40"))

    def mogujie_mount(self, host):
        m = Mount(self.sim, start=False, settings={
            "provider": "mogujie", "base_url": self.sim.url, "app_key": self.sim.merchant,
            "oauth_url": self.sim.url + "/token", "fleet_etcd": self.etcd.url,
            "fleet_host": host, "fleet_lease_ttl": "2s",
            "store_url": f"{self.s3.endpoint}/{self.s3.bucket}/{self.prefix}",
            "store_credentials_file": self.cred})
        token = os.path.join(m.dir, "token")
        with open(token, "w") as f:
            f.write(self.sim.tokens()["access_token"] + "\n")
        os.chmod(token, 0o600)
        with open(m.config, "a") as f:
            f.write(f"token_file = {token}\n")
        m.start()
        self.mounts.append(m)
        return m

    def test_one_sync_serves_three_hosts(self):
        day = (datetime.date.today() - datetime.timedelta(days=3)).isoformat()
        r = f"{day}..{day}"
        ms = [self.mogujie_mount(f"mhost{i + 1}") for i in range(3)]
        self.sim.reset_stats()
        out = {}

        def cat(i, name):
            out[(i, name)] = read(ms[i].path("exports", r, name))

        readers = [threading.Thread(target=cat, args=(i, "orders.csv")) for i in range(3)]
        for t in readers:
            t.start()
        for t in readers:
            t.join(60)
        st = self.sim.stats()
        self.assertEqual(st["orders_served"], 40, st)  # one paged sync in all
        for name in ("orders.csv", "orders.jsonl", "orders.xlsx"):
            datas = [read(m.path("exports", r, name)) for m in ms]
            self.assertGreater(len(datas[0]), 100)
            self.assertEqual({sha(d) for d in datas}, {sha(datas[0])}, name)
        self.assertEqual(self.sim.stats()["orders_served"], 40)
        sources = sorted(self.status(m, r)["source"] for m in ms)
        self.assertEqual(sources, ["provider", "store", "store"], sources)
        for m in ms:
            m.close(self)


class TestDemo(unittest.TestCase):
    def test_demo_fleet_of_three_with_a_store(self):
        """contrib/demo.sh with FLEET=3 STORE=1 (what `make demo FLEET=3 STORE=1` runs after
        building): one export and one provider download serve three hosts."""
        if not s3_server.available() or not etcd.available():
            raise unittest.SkipTest("radosgw or etcd not installed (make deps)")
        tmp = tempfile.mkdtemp(prefix="orderfs-demo-store-")
        env = dict(os.environ, DEMO_DIR=tmp, ORDERFS=ORDERFS, FLEET="3", STORE="1",
                   PYTHON=sys.executable or "/usr/bin/python3")
        env.pop("PROVIDER", None)
        env.pop("ACCOUNTS", None)
        demo = [os.path.join(ROOT, "contrib", "demo.sh")]
        try:
            r = subprocess.run(["sh", *demo, "start"], env=env, capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("export tasks: 0 before, 1 after", r.stdout)
            self.assertIn("file downloads: 0 before, 1 after", r.stdout)
            hosts = [line for line in r.stdout.splitlines() if "sha256" in line]
            self.assertEqual(len(hosts), 3, r.stdout)
            self.assertEqual(len({line.split()[2] for line in hosts}), 1, r.stdout)
            self.assertEqual(sorted(line.split("(from the ")[1] for line in hosts),
                             ["provider)", "store)", "store)"], r.stdout)
        finally:
            subprocess.run(["sh", *demo, "stop"], env=env, capture_output=True, timeout=120)
            shutil.rmtree(tmp, ignore_errors=True)


STORE_TOOL = os.path.join(ROOT, BUILD, "tests", "bin", "store_tool")


class TestStoreClient(StoreCase):
    """client/store/s3.c against radosgw through store_tool: what a real store answers."""

    def tool(self, *args, cred=None, url=None, extra=()):
        p = subprocess.run([STORE_TOOL, "--url", url or f"{self.s3.url}-{self.prefix}",
                            "--credentials-file", cred or self.cred, *extra, *args],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def file_of(self, size):
        path = os.path.join(self.s3.dir, f"f-{self.prefix}-{size}")
        data = os.urandom(size)
        with open(path, "wb") as f:
            f.write(data)
        return path, sha(data)

    def test_put_once_get_verified(self):
        path, digest = self.file_of(1 << 20)
        key = "vexora/abc/" + digest
        self.assertEqual(self.tool("put", key, path, digest), (0, '{"existed":0}', ""))
        # If-None-Match: * gets 412 from radosgw: the object is there, nothing sent twice.
        self.assertEqual(self.tool("put", key, path, digest), (0, '{"existed":1}', ""))
        self.assertEqual(self.tool("head", key)[1], '{"size":1048576}')
        out = path + ".got"
        self.assertEqual(self.tool("get", key, str(1 << 20), digest, out)[0], 0)
        self.assertEqual(sha(read(out)), digest)
        rc, _, err = self.tool("get", key, str(1 << 20), "0" * 64, out)
        self.assertEqual(rc, 2)
        self.assertIn("SHA-256 mismatch", err)
        self.assertEqual(self.tool("delete", key)[0], 0)
        rc, _, err = self.tool("head", key)
        self.assertIn("not-found status=404", err)

    def test_multipart_above_64_mib(self):
        path, digest = self.file_of((64 << 20) + 4096)
        key = "vexora/abc/" + digest
        self.assertEqual(self.tool("put", key, path, digest), (0, '{"existed":0}', ""))
        posts = [q for q in self.s3.requests() if q.method == "POST" and digest in q.path]
        self.assertGreaterEqual(len(posts), 2, "create and complete a multipart upload")
        out = path + ".got"
        self.assertEqual(self.tool("get", key, str((64 << 20) + 4096), digest, out)[0], 0)
        self.assertEqual(sha(read(out)), digest)
        self.assertEqual(self.tool("put", key, path, digest)[1], '{"existed":1}')

    def test_refusals_are_told_apart(self):
        bad = os.path.join(self.s3.dir, f"bad-{self.prefix}")
        self.s3.write_credentials(bad, secret="not-the-secret")
        rc, _, err = self.tool("get-small", "x", cred=bad)
        self.assertEqual(rc, 2)
        self.assertIn("auth status=403", err)
        self.assertNotIn("not-the-secret", err)
        rc, _, err = self.tool("get-small", "x", url=f"{self.s3.endpoint}/no-such-bucket")
        self.assertIn("code=NoSuchBucket", err)
        self.assertEqual(self.tool("put-small", "p.json", '{"a":1}')[0], 0)
        vurl = f"http://localhost:{self.s3.port}/{self.s3.bucket}/shared-{self.prefix}"
        self.assertEqual(self.tool("get-small", "p.json", url=vurl, extra=("--virtual-host",)),
                         (0, '{"a":1}', ""))


if __name__ == "__main__":
    unittest.main()
