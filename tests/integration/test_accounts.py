"""Many merchants in one mount (accounts_dir): MOUNT/NAME/exports/... per account, each with
its own credentials against simulators that serve several merchants; accounts added and
removed while mounted; a revoked token that stays one account's problem."""
import base64
import datetime
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import zoneinfo

import etcd
from clover_simulator import CloverSimulator
from mogujie_simulator import MogujieSimulator
from mount import ORDERFS, ROOT, Mount, wait_for
from simulator import Simulator

VEXORA = {"alpha": ("M100200", "s3cr3t"), "bravo": ("M200300", "bravo-secret"),
          "charlie": ("M300400", "charlie-secret")}


def day(days_ago):
    d = datetime.date.today() - datetime.timedelta(days=days_ago)
    return f"{d.isoformat()}..{d.isoformat()}"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_account(adir, name, keys, mode=0o600):
    path = os.path.join(adir, name + ".conf")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for k, v in keys.items():
            f.write(f"{k} = {v}\n")
    os.chmod(tmp, mode)
    os.rename(tmp, path)  # whole or not at all, as a careful admin would
    return path


def write_secret(directory, name, value):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return path


def threads_of(pid, name=None):
    """The threads of process pid now (named name only, when given: orderfs names its fill
    workers "fill" and its prefetch thread "prefetch")."""
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                n += name is None or f.read().strip() == name
        except FileNotFoundError:
            pass  # ended meanwhile
    return n


# libfuse keeps this many idle request threads after a burst (FS_IDLE_THREADS, fs/main.c).
FUSE_IDLE_THREADS = 10


class AccountsMount:
    """An orderfs mount whose merchants are files in accounts_dir."""

    def __init__(self, sim, provider_settings, accounts, key_of, extra=None, app_secret=False):
        # The main config keeps secret_file only where it is the app's (Mogujie).
        settings = {"merchant_no": None, "accounts_dir": None}
        if not app_secret:
            settings["secret_file"] = None
        settings.update(provider_settings)
        settings.update(extra or {})
        self.m = Mount(sim, settings=settings, start=False)
        self.adir = os.path.join(self.m.dir, "accounts")
        os.makedirs(self.adir)
        self.key_of = key_of
        with open(self.m.config, "a") as f:
            f.write(f"accounts_dir = {self.adir}\n")
        for name, cred in accounts.items():
            self.add(name, cred)
        self.m.start()

    def add(self, name, cred, mode=0o600):
        return write_account(self.adir, name, self.key_of(self, name, cred), mode)

    def remove(self, name):
        os.unlink(os.path.join(self.adir, name + ".conf"))

    def path(self, *parts):
        return self.m.path(*parts)


def vexora_keys(am, name, cred):
    merchant, secret = cred
    return {"merchant_no": merchant,
            "secret_file": write_secret(am.adir, "." + name + ".secret", secret)}


class VexoraAccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        extra = {m: s for n, (m, s) in VEXORA.items() if n != "alpha"}
        extra["M400500"] = "delta-secret"
        cls.sim = Simulator(secret=VEXORA["alpha"][1], merchant=VEXORA["alpha"][0],
                            extra_merchants=extra)

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.reset_stats()
        self.mounts = []

    def tearDown(self):
        for am in self.mounts:
            am.m.close(self, allowed=("auth", "cannot start", "skipped", "EIO", "refused",
                                      "Invalid", "sign"))

    def mount(self, accounts=None, extra=None):
        am = AccountsMount(self.sim, {"provider": "vexora"},
                           VEXORA if accounts is None else accounts, vexora_keys, extra)
        self.mounts.append(am)
        return am

    def sim_task(self, task_id):
        return next(t for t in self.sim.tasks() if t["id"] == task_id)

    def test_each_account_in_its_own_time_zone(self):
        zones = {"alpha": "Pacific/Kiritimati", "bravo": "Pacific/Pago_Pago"}

        def keys(am, name, cred):
            return dict(vexora_keys(am, name, cred), time_zone=zones[name])

        am = AccountsMount(self.sim, {"provider": "vexora"},
                           {n: VEXORA[n] for n in zones}, keys)
        self.mounts.append(am)
        for name, zone in zones.items():
            today = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()
            link = os.readlink(am.path(name, "exports", "today"))
            if link != f"{today}..{today}":  # midnight there meanwhile: look again
                today = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()
            self.assertEqual(link, f"{today}..{today}", name)
        self.assertNotEqual(os.readlink(am.path("alpha", "exports", "today")),
                            os.readlink(am.path("bravo", "exports", "today")))
        self.assertEqual(self.sim.stats()["apply"], 0)

    def test_tree_and_three_accounts_read_at_once(self):
        am = self.mount()
        self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha", "bravo", "charlie"])
        self.assertEqual(sorted(os.listdir(am.path("alpha"))), [".status", "exports"])
        r = day(2)
        got, errors = {}, []

        def reader(name):
            try:
                got[name] = read(am.path(name, "exports", r, "orders.xlsx"))
            except OSError as e:
                errors.append((name, e))

        threads = [threading.Thread(target=reader, args=(n,)) for n in VEXORA]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for name, (merchant, _) in VEXORA.items():
            st = read_json(am.path(name, "exports", r, ".status"))
            task = self.sim_task(st["task_id"])
            self.assertEqual(task["merchant"], merchant)
            self.assertEqual(task["sha256"], sha(got[name]))
        self.assertEqual(len({sha(b) for b in got.values()}), 3, "each merchant's own bytes")
        stats = self.sim.stats()
        self.assertEqual(stats["auth_failures"], 0)
        for name, (merchant, _) in VEXORA.items():
            self.assertGreater(stats["requests_by_merchant"][merchant], 0)
        top = read_json(am.path(".stats"))
        self.assertEqual(sorted(top["accounts"]), sorted(VEXORA))
        for name in VEXORA:
            self.assertEqual(top["accounts"][name]["state"], "running")
            self.assertEqual(top["accounts"][name]["applied"], 1)
        st = read_json(am.path("alpha", ".status"))
        self.assertEqual((st["state"], st["token"], st["credentials"]), ("running", "valid", "ok"))
        self.assertEqual(st["merchant"], "M100200")
        self.assertEqual(st["exports"]["ready"], 1)

    def test_revoked_merchant_gets_eio_and_the_others_do_not(self):
        am = self.mount()
        self.sim.revoke("M200300")
        try:
            r = day(3)
            with self.assertRaises(OSError) as cm:
                read(am.path("bravo", "exports", r, "orders.xlsx"))
            self.assertEqual(cm.exception.errno, errno.EIO)
            st = read_json(am.path("bravo", ".status"))
            self.assertEqual(st["token"], "refused")
            self.assertEqual(st["last_error"]["kind"], "auth")
            self.assertEqual(st["exports"]["failed"], 1)
            for name in ("alpha", "charlie"):
                data = read(am.path(name, "exports", r, "orders.xlsx"))
                self.assertTrue(data.startswith(b"PK"))
                self.assertEqual(read_json(am.path(name, ".status"))["token"], "valid")
            self.assertGreater(self.sim.stats()["auth_failures_by_merchant"]["M200300"], 0)
            self.assertEqual(self.sim.stats()["auth_failures_by_merchant"].get("M100200", 0), 0)
        finally:
            self.sim.unrevoke("M200300")
        # A restored token works at the account's next request: no remount.
        rmdir = am.path("bravo", "exports", day(3))
        os.rmdir(rmdir)  # forget the failure
        self.assertTrue(read(am.path("bravo", "exports", day(3), "orders.xlsx")).startswith(b"PK"))

    def assert_refused(self, am, name, r, theirs):
        """name's read of r fails EACCES, shows none of theirs and says "refused"."""
        with self.assertRaises(OSError) as cm:
            got = read(am.path(name, "exports", r, "orders.xlsx"))
            self.assertFalse(got == theirs, f"{name} was served another merchant's file")
        self.assertEqual(cm.exception.errno, errno.EACCES)
        self.assertEqual(read_json(am.path(name, ".status"))["token"], "refused")

    def test_a_merchant_id_without_its_credentials_gets_none_of_its_files(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"]})
        r = day(5)
        theirs = read(am.path("alpha", "exports", r, "orders.xlsx"))
        am.m.umount()
        # An app's customer writes an account file naming alpha's merchant with a made-up
        # secret: the cached file of that merchant must not be its.
        am.remove("alpha")
        am.add("mallory", (VEXORA["alpha"][0], "made-up"))
        am.m.start()
        applies = self.sim.stats()["apply"]
        self.assert_refused(am, "mallory", r, theirs)
        am.m.umount()
        am.remove("mallory")
        am.add("alpha", VEXORA["alpha"])
        am.m.start()
        self.assertEqual(read(am.path("alpha", "exports", r, "orders.xlsx")), theirs)
        self.assertEqual(self.sim.stats()["apply"], applies, "served from the cache")
        self.assertEqual(read_json(am.path("alpha", ".status"))["token"], "valid")
        # Once its token is revoked, not even the merchant's own account file gets them.
        am.m.umount()
        self.sim.revoke(VEXORA["alpha"][0])
        try:
            am.m.start()
            self.assert_refused(am, "alpha", r, theirs)
        finally:
            self.sim.unrevoke(VEXORA["alpha"][0])
        self.assertEqual(self.sim.stats()["apply"], applies)

    def test_one_unreadable_meta_breaks_no_listing(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"], "bravo": VEXORA["bravo"]})
        r = day(8)
        for name in ("alpha", "bravo"):
            read(am.path(name, "exports", r, "orders.xlsx"))
        am.m.umount()
        # A .meta that cannot be read (EISDIR) among good ones.
        os.mkdir(os.path.join(am.m.cache_dir, "v1", "ab" * 32 + ".meta"))
        am.m.start()
        for name in ("alpha", "bravo"):
            self.assertIn(r, os.listdir(am.path(name, "exports")))
            st = read_json(am.path(name, ".status"))
            self.assertNotIn("exports_error", st)
            self.assertEqual(st["exports"]["ready"], 1)
        self.assertIn("ab" * 32 + ".meta", am.m.log_text())

    def slow_exports(self, pending_s):
        """Exports of tasks created from now on take pending_s + a little; undone at the
        test's end (the class shares its simulator)."""
        old = self.sim.configure()
        self.addCleanup(self.sim.configure, pending_s=old["pending_s"],
                        generating_s=old["generating_s"])
        self.sim.configure(pending_s=pending_s, generating_s=0.1)

    def test_fill_threads_come_with_exports_and_go_after(self):
        # One pool of fill threads for every account: none while nothing is exported, one
        # per export at once (six here, three merchants x two days), gone again once idle.
        am = self.mount(extra={"max_exports_total": 16})
        for name in VEXORA:
            os.listdir(am.path(name, "exports"))  # every account started
        pid = am.m.proc.pid
        before = threads_of(pid)
        self.assertEqual(threads_of(pid, "fill"), 0, "no fill thread before any export")
        self.slow_exports(1.5)
        errors, peak = [], [0]

        def reader(name, r):
            try:
                read(am.path(name, "exports", r, "orders.xlsx"))
            except OSError as e:
                errors.append((name, r, e))

        readers = [threading.Thread(target=reader, args=(n, day(d)))
                   for n in VEXORA for d in (20, 21)]
        for t in readers:
            t.start()
        while any(t.is_alive() for t in readers):
            peak.append(threads_of(pid, "fill"))
            time.sleep(0.05)
        for t in readers:
            t.join()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(max(peak), 6, "a fill thread per export at once")
        # Idle fill workers exit after 2 s; libfuse keeps a few idle request threads.
        wait_for(lambda: threads_of(pid, "fill") == 0, timeout=15, what="fill threads gone")
        self.assertLessEqual(threads_of(pid), before + FUSE_IDLE_THREADS)

    def test_a_merchant_at_its_max_exports_does_not_starve_another(self):
        # Two slots for the mount, alpha fills both and queues two more; bravo's export,
        # queued last, takes the first slot that frees (alpha already runs one).
        am = self.mount(extra={"max_exports_total": 2})
        for name in ("alpha", "bravo"):
            os.listdir(am.path(name, "exports"))
        self.slow_exports(1.0)
        errors = []

        def reader(name, r):
            try:
                read(am.path(name, "exports", r, "orders.xlsx"))
            except OSError as e:
                errors.append((name, r, e))

        alpha = [threading.Thread(target=reader, args=("alpha", day(d))) for d in range(30, 34)]
        for t in alpha:
            t.start()
        wait_for(lambda: read_json(am.path("alpha", ".status"))["exports"]["queued"] == 2,
                 timeout=10, what="alpha: two running, two queued")
        bravo = threading.Thread(target=reader, args=("bravo", day(30)))
        bravo.start()
        for t in alpha + [bravo]:
            t.join()
        self.assertEqual(errors, [])
        order = [t["merchant"] for t in self.sim.tasks()
                 if t["merchant"] in ("M100200", "M200300")][-5:]
        self.assertEqual(order.count("M200300"), 1)
        self.assertLessEqual(order.index("M200300"), 2,
                             f"bravo waited for every alpha export: {order}")

    def test_two_hundred_accounts_with_prefetch_share_one_thread(self):
        # Every account's prefetch passes run on the mount's one prefetch thread: the thread
        # count of a mount with 200 started accounts is a small constant, not 200 more. (The
        # simulator knows none of these merchants: their exports are refused at once.)
        accounts = {f"m{i:03d}": (f"M9{i:05d}", "not-known") for i in range(200)}
        am = self.mount(accounts=accounts, extra={"prefetch": 1, "max_exports_total": 16})
        pid = am.m.proc.pid
        for name in accounts:
            os.listdir(am.path(name, "exports"))  # started, its prefetch scheduled
        counts = []
        for _ in range(10):
            counts.append(threads_of(pid))
            time.sleep(0.2)
        self.assertLessEqual(threads_of(pid, "prefetch"), 1)
        # fill workers (max_exports_total), libfuse's idle threads, and a few of the mount's
        self.assertLessEqual(max(counts), 16 + FUSE_IDLE_THREADS + 12, counts)
        # Every account's first pass ran: each asked the provider (and was refused).
        wait_for(lambda: len([m for m in self.sim.stats()["requests_by_merchant"]
                              if m.startswith("M9")]) == 200, timeout=60,
                 what="a request of every account's prefetch")

    def test_a_bar_in_the_merchant_id_is_named_as_such(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"], "pipe": ("M1|2", "x")})
        with self.assertRaises(OSError) as cm:
            os.listdir(am.path("pipe", "exports"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        st = read_json(am.path("pipe", ".status"))
        self.assertEqual(st["state"], "cannot start")
        self.assertIn("'|'", st["error"])
        self.assertNotIn("same merchant", st["error"])

    def test_a_secret_file_replaced_while_mounted_is_used_at_the_next_request(self):
        am = self.mount(accounts={"bravo": ("M200300", "an-old-secret")})
        r = day(9)
        with self.assertRaises(OSError) as cm:
            read(am.path("bravo", "exports", r, "orders.xlsx"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertEqual(read_json(am.path("bravo", ".status"))["token"], "refused")
        # The app writes the merchant's new secret the careful way: a new file renamed over.
        secret = os.path.join(am.adir, ".bravo.secret")
        write_secret(am.adir, ".bravo.secret.new", VEXORA["bravo"][1])
        os.rename(secret + ".new", secret)

        def readable():
            try:
                return read(am.path("bravo", "exports", r, "orders.xlsx")).startswith(b"PK")
            except OSError:
                return False
        wait_for(readable, timeout=10, interval=0.2, what="the new secret to be used")
        st = read_json(am.path("bravo", ".status"))
        self.assertEqual((st["credentials"], st["token"]), ("ok", "valid"))
        self.assertIn("changed: its new value is used", am.m.log_text())

    def test_a_foreign_account_never_resumes_a_merchants_task(self):
        generating_s = self.sim.configure()["generating_s"]
        self.sim.configure(generating_s=60.0)
        try:
            am = self.mount(accounts={"alpha": VEXORA["alpha"]})
            r = day(11)
            cat = subprocess.Popen(["cat", am.path("alpha", "exports", r, "orders.xlsx")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: read_json(am.path("alpha", "exports", r, ".status"))["task_id"],
                     what="alpha's export to be applied")
            cat.send_signal(signal.SIGINT)
            cat.wait(10)
            am.m.umount()
            v1 = os.path.join(am.m.cache_dir, "v1")

            def metas():
                return {n: read(os.path.join(v1, n)) for n in os.listdir(v1)
                        if n.endswith(".meta")}
            before = metas()
            am.remove("alpha")
            am.add("mallory", (VEXORA["alpha"][0], "made-up"))
            am.m.start()
            with self.assertRaises(OSError) as cm:
                read(am.path("mallory", "exports", r, "orders.xlsx"))
            self.assertEqual(cm.exception.errno, errno.EACCES)
            am.m.umount()
            self.assertEqual(metas(), before, "alpha's export left as it was")
        finally:
            self.sim.configure(generating_s=generating_s)

    def test_accounts_come_and_go_while_mounted(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"]})
        self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha"])
        am.add("delta", ("M400500", "delta-secret"))
        self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha", "delta"])
        r = day(4)
        p = am.path("delta", "exports", r, "orders.xlsx")
        first = read(p)
        applies = self.sim.stats()["apply"]
        f = open(p, "rb")
        try:
            am.remove("delta")
            self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha"])
            with self.assertRaises(FileNotFoundError):
                os.stat(am.path("delta", "exports", r, "orders.xlsx"))
            self.assertEqual(f.read(), first, "an open file stays readable")
        finally:
            f.close()
        # Back again: its cached file is served, not exported again.
        am.add("delta", ("M400500", "delta-secret"))
        self.assertEqual(read(p), first)
        self.assertEqual(self.sim.stats()["apply"], applies)
        self.assertIn("account delta: started", am.m.log_text())

    def test_files_of_an_account_removed_before_a_restart_stay_and_serve_again(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"], "bravo": VEXORA["bravo"]})
        r = day(7)
        first = read(am.path("bravo", "exports", r, "orders.xlsx"))
        read(am.path("alpha", "exports", r, "orders.xlsx"))
        am.m.umount()
        am.remove("bravo")
        am.m.start()
        self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha"])
        # Its file is still in the cache and counted in its size (so eviction can reach it).
        wait_for(lambda: read_json(am.path(".stats"))["cache"]["entries"] == 2,
                 what="the recovery scan to count both files")
        applies = self.sim.stats()["apply"]
        am.add("bravo", VEXORA["bravo"])
        self.assertEqual(read(am.path("bravo", "exports", r, "orders.xlsx")), first)
        self.assertEqual(self.sim.stats()["apply"], applies, "served from the cache")

    def test_bad_files_are_skipped_with_one_line_each(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"]})
        secret = write_secret(am.adir, ".s", "x")
        write_account(am.adir, "bad name", {"merchant_no": "M1", "secret_file": secret})
        write_account(am.adir, "open", {"merchant_no": "M1", "secret_file": secret}, 0o666)
        write_account(am.adir, "greedy", {"merchant_no": "M1", "secret_file": secret,
                                          "cache_dir": "/tmp"})
        with open(os.path.join(am.adir, "README"), "w") as f:
            f.write("not an account\n")
        for _ in range(3):
            self.assertEqual(sorted(os.listdir(am.path())), [".stats", "alpha"])
        log = am.m.log_text()
        for needle in ("bad name.conf skipped", "open.conf skipped", "greedy.conf skipped"):
            self.assertEqual(log.count(needle), 1, needle)
        self.assertIn("writable by group or others", log)
        self.assertIn("key 'cache_dir' is the mount's", log)
        self.assertNotIn("README", log)
        with self.assertRaises(FileNotFoundError):
            os.stat(am.path("open"))
        self.assertTrue(read(am.path("alpha", "exports", day(5), "orders.xlsx")).startswith(b"PK"))

    def test_probing_an_account_directory_starts_nothing(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"]})
        for probe in (".git", ".Trash-0", "desktop.ini", "exports.bak"):
            with self.assertRaises(FileNotFoundError):
                os.stat(am.path("alpha", probe))
        st = read_json(am.path("alpha", ".status"))
        self.assertEqual(st["state"], "not started")
        self.assertEqual(self.sim.stats()["requests_by_merchant"]["M100200"], 0)
        self.assertEqual(read_json(am.path(".stats"))["accounts"]["alpha"]["state"],
                         "not started")

    def test_unreadable_token_file_says_why_in_status(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"]})
        write_account(am.adir, "echo", {"merchant_no": "M400500",
                                        "secret_file": os.path.join(am.adir, "missing")})
        with self.assertRaises(OSError) as cm:
            os.listdir(am.path("echo", "exports"))
        self.assertEqual(cm.exception.errno, errno.EIO)
        st = read_json(am.path("echo", ".status"))
        self.assertEqual(st["state"], "cannot start")
        self.assertIn("missing", st["error"])
        self.assertNotEqual(st["credentials"], "ok")
        self.assertEqual(self.sim.stats()["auth_failures"], 0)
        # The fix is an edit of the file: the next lookup starts the account, no remount.
        am.add("echo", ("M400500", "delta-secret"))
        self.assertTrue(read(am.path("echo", "exports", day(8), "orders.xlsx")).startswith(b"PK"))
        st = read_json(am.path("echo", ".status"))
        self.assertEqual((st["state"], st["error"], st["credentials"]), ("running", None, "ok"))

    def test_orderfs_get_names_the_account(self):
        am = self.mount(accounts={"alpha": VEXORA["alpha"], "bravo": VEXORA["bravo"]})
        r = day(6)
        mounted = read(am.path("bravo", "exports", r, "orders.xlsx"))
        am.m.umount()
        out = os.path.join(am.m.dir, "got.xlsx")
        p = subprocess.run([ORDERFS, "get", am.m.config, f"bravo/{r}/orders.xlsx", "-o", out],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(read(out), mounted)  # from the cache: the same file
        p = subprocess.run([ORDERFS, "get", am.m.config, r], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("name the account", p.stderr)

    def test_main_config_with_a_merchant_key_is_refused(self):
        m = Mount(self.sim, settings={"accounts_dir": "/tmp"}, start=False)
        p = subprocess.run([ORDERFS, "-f", m.config, m.mnt], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("belongs in each account's NAME.conf", p.stderr)


class HostileAccountFilesTest(unittest.TestCase):
    """Account files an app writes from what its merchants submit: special files, huge ones,
    and faults while reading them never freeze or hide more than that one file."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(secret=VEXORA["alpha"][1], merchant=VEXORA["alpha"][0])

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.am = AccountsMount(self.sim, {"provider": "vexora"}, {"alpha": VEXORA["alpha"]},
                                vexora_keys)
        self.fifos = []

    def tearDown(self):
        # A mount stuck opening a FIFO is released by a writer, so the test can end.
        done = threading.Event()

        def release():
            while not done.wait(0.05):
                for path in self.fifos:
                    try:
                        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                    except OSError:
                        pass
        releaser = threading.Thread(target=release)
        releaser.start()
        try:
            self.am.m.close(self, allowed=("skipped",))
        finally:
            done.set()
            releaser.join()

    def fifo(self, path):
        os.mkfifo(path, 0o600)
        self.fifos.append(path)
        return path

    def ls_seconds(self):
        t0 = time.monotonic()
        try:
            subprocess.run(["ls", self.am.path()], capture_output=True, timeout=10, check=True)
        except subprocess.TimeoutExpired:
            return 10.0
        return time.monotonic() - t0

    def test_fifo_symlink_directory_and_huge_file_are_skipped_and_the_mount_answers(self):
        adir = self.am.adir
        self.fifo(os.path.join(adir, "pipe.conf"))
        os.symlink(self.fifo(os.path.join(self.am.m.dir, "elsewhere")),
                   os.path.join(adir, "link.conf"))
        os.mkdir(os.path.join(adir, "dir.conf"), 0o700)
        with open(os.path.join(adir, "huge.conf"), "wb") as f:
            f.truncate(1 << 30)
        os.chmod(os.path.join(adir, "huge.conf"), 0o600)
        self.assertLess(self.ls_seconds(), 1.0, "ls MOUNT answers within 1 s")
        self.assertEqual(sorted(os.listdir(self.am.path())), [".stats", "alpha"])
        for name in ("pipe", "link", "dir", "huge"):
            t0 = time.monotonic()
            with self.assertRaises(FileNotFoundError):
                os.stat(self.am.path(name))
            self.assertLess(time.monotonic() - t0, 1.0)
            self.assertEqual(self.am.m.log_text().count(f"{name}.conf skipped"), 1, name)
        self.assertTrue(read(self.am.path("alpha", "exports", day(2), "orders.xlsx"))
                        .startswith(b"PK"))

    def test_a_read_that_failed_for_want_of_descriptors_is_tried_at_the_next_lookup(self):
        import resource
        pid = self.am.m.proc.pid
        self.am.add("bravo", ("M200300", "bravo-secret"))
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (used, hard))
        try:
            # A new name whose file cannot be read now is there, saying why it cannot start.
            os.stat(self.am.path("bravo"))
            st = read_json(self.am.path("bravo", ".status"))
            with self.assertRaises(OSError) as cm:
                os.listdir(self.am.path("bravo", "exports"))
            self.assertEqual(cm.exception.errno, errno.EIO)
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(st["state"], "cannot start")
        self.assertIn("bravo.conf", st["error"])
        self.assertIn("Too many open files", st["error"])
        os.stat(self.am.path("bravo"))  # the next lookup reads it again
        self.assertEqual(sorted(os.listdir(self.am.path())), [".stats", "alpha", "bravo"])
        self.assertEqual(read_json(self.am.path("bravo", ".status"))["state"], "not started")
        self.assertTrue(os.listdir(self.am.path("bravo", "exports")) is not None)


class FleetAccountsTest(unittest.TestCase):
    """Two hosts, each mounting the same two merchants from accounts_dir, on one etcd: one
    export per merchant and range for the whole fleet, each under its own prefix."""

    @classmethod
    def setUpClass(cls):
        if not etcd.available():
            raise unittest.SkipTest("etcd-server / etcd-client not installed (make deps)")
        cls.etcd = etcd.Etcd()
        cls.sim = Simulator(secret=VEXORA["alpha"][1], merchant=VEXORA["alpha"][0],
                            extra_merchants={VEXORA["bravo"][0]: VEXORA["bravo"][1]},
                            args=("--pending-s", "0.2", "--generating-s", "0.5"))

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        cls.etcd.stop()

    def test_two_hosts_two_merchants_one_export_each(self):
        accounts = {"alpha": VEXORA["alpha"], "bravo": VEXORA["bravo"]}
        hosts = [AccountsMount(self.sim, {"provider": "vexora"}, accounts, vexora_keys,
                               {"fleet_etcd": self.etcd.url, "fleet_host": f"host{i}",
                                "fleet_lease_ttl": "2s"}) for i in (1, 2)]
        try:
            r = day(2)
            before = self.sim.stats()["apply"]
            got = {}
            threads = [threading.Thread(target=lambda h=h, n=n: got.__setitem__(
                (h, n), read(hosts[h].path(n, "exports", r, "orders.xlsx"))))
                for h in (0, 1) for n in accounts]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(len(got), 4)
            self.assertEqual(self.sim.stats()["apply"] - before, 2, "one export per merchant")
            for n in accounts:
                self.assertEqual(got[(0, n)], got[(1, n)])
            self.assertNotEqual(got[(0, "alpha")], got[(0, "bravo")])
            prefixes = {k.split("/")[3] for k in self.etcd.keys() if "/records/" in k}
            self.assertEqual(len(prefixes), 2, "a prefix per merchant")
            for n, (merchant, _) in accounts.items():
                self.assertNotIn(merchant, " ".join(self.etcd.keys()))
                st = read_json(hosts[0].path(n, ".status"))
                self.assertEqual(st["fleet"], "member")
            self.assertEqual(self.sim.stats()["auth_failures"], 0)
        finally:
            for h in hosts:
                h.m.close(self)


    def test_merchants_rejoin_on_one_new_lease_after_etcd_is_wiped(self):
        # The session's lease is gone with etcd's data: the keepalive grants one new lease
        # and every merchant's fleet puts its member key on it; exports still go through.
        accounts = {"alpha": VEXORA["alpha"], "bravo": VEXORA["bravo"]}
        am = AccountsMount(self.sim, {"provider": "vexora"}, accounts, vexora_keys,
                           {"fleet_etcd": self.etcd.url, "fleet_host": "phoenix",
                            "fleet_lease_ttl": "2s"})
        try:
            for name in accounts:
                os.listdir(am.path(name, "exports"))
            wait_for(lambda: len([k for k in self.etcd.keys() if "/members/" in k]) == 2,
                     timeout=10, what="both merchants' member keys")
            self.etcd.restart(wipe=True)
            wait_for(lambda: len([k for k in self.etcd.keys() if "/members/" in k]) == 2,
                     timeout=20, what="both member keys again, on the new lease")
            self.assertEqual(len(self.member_leases()), 1, "one new lease for the host")
            for name in accounts:
                self.assertTrue(read(am.path(name, "exports", day(3), "orders.xlsx"))
                                .startswith(b"PK"))
        finally:
            am.m.close(self, allowed=("lease lost", "etcd", "watch", "fleet"))

    def member_leases(self):
        """The distinct leases the members/ keys are bound to (a final record's sweep lease,
        left by another test's reads, is no host's)."""
        out = json.loads(self.etcd.ctl("get", "--prefix", "orderfs/", "-w", "json"))
        return {kv.get("lease") for kv in out.get("kvs", [])
                if b"/members/" in base64.b64decode(kv["key"])}

    def etcd_connections(self, pid):
        """ESTABLISHED TCP connections of process pid to etcd's client port."""
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        n = 0
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    port = int(cols[2].split(":")[1], 16)
                    n += port == self.etcd.client_port and cols[3] == "01" and cols[9] in inodes
        return n

    def etcd_metric(self, name):
        with urllib.request.urlopen(self.etcd.url + "/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.split()[-1])
        return 0.0

    def test_twenty_merchants_share_one_lease_one_watch_and_a_few_connections(self):
        # One fleet session per mount: the host's one lease and keepalive, one watch stream
        # over orderfs/v1/ for all its accounts, one reaper, the etcd client's few kept-alive
        # connections; none of them grows with the accounts.
        n = 20
        accounts = {f"m{i:02d}": (f"M8{i:05d}", "not-known") for i in range(n)}
        am = AccountsMount(self.sim, {"provider": "vexora"}, accounts, vexora_keys,
                           {"fleet_etcd": self.etcd.url, "fleet_host": "solo"})
        try:
            pid = am.m.proc.pid
            base = threads_of(pid)
            for name in accounts:
                os.listdir(am.path(name, "exports"))  # started: its fleet joined
            for name in accounts:
                self.assertEqual(read_json(am.path(name, ".status"))["fleet"], "member")
            wait_for(lambda: self.etcd_metric("etcd_debugging_mvcc_watcher_total") >= 1,
                     timeout=10, what="the watch stream")
            members = [k for k in self.etcd.keys() if "/members/" in k]
            self.assertEqual(len(members), n, "a member key per account")
            leases = self.member_leases()
            threads = threads_of(pid)
            conns = self.etcd_connections(pid)
            watchers = self.etcd_metric("etcd_debugging_mvcc_watcher_total")
            print(f"\n{n} accounts: threads {base} -> {threads}, leases {len(leases)}, "
                  f"etcd connections {conns}, watchers {watchers:.0f}", file=sys.stderr)
            self.assertEqual(len(leases), 1, "one lease for the host")
            self.assertLessEqual(watchers, 1, "one watch stream for the host")
            self.assertLessEqual(conns, 4, "a few kept-alive connections to etcd")
            self.assertLessEqual(threads - base, 8, "fleet threads independent of accounts")
        finally:
            am.m.close(self, allowed=("auth", "cannot start", "refused", "sign"))


def clover_keys(am, name, cred):
    merchant, token = cred
    return {"merchant_id": merchant,
            "token_file": write_secret(am.adir, "." + name + ".token", token)}


class CloverAccountsTest(unittest.TestCase):
    MERCHANTS = {"north": ("MCLOVER00001", "cl0ver-t0ken"), "south": ("MCLOVER00002", "tok-two"),
                 "west": ("MCLOVER00003", "tok-three")}

    @classmethod
    def setUpClass(cls):
        cls.sim = CloverSimulator(args=("--pending-s", "0.1", "--progress-s", "0.2"),
                                  extra_merchants={m: t for n, (m, t) in cls.MERCHANTS.items()
                                                   if n != "north"})

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def test_three_merchants_each_get_their_own_files(self):
        am = AccountsMount(self.sim, {"provider": "clover", "base_url": self.sim.url,
                                      "region": "sandbox"}, self.MERCHANTS, clover_keys)
        try:
            r = day(2)
            got = {}
            threads = [threading.Thread(target=lambda n=n: got.__setitem__(
                n, read(am.path(n, "exports", r, "orders-0001.json")))) for n in self.MERCHANTS]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(got), sorted(self.MERCHANTS))
            for name, (merchant, _) in self.MERCHANTS.items():
                st = read_json(am.path(name, "exports", r, ".status"))
                export_id = next(f for f in st["files"] if f["file"] == "orders")["task_id"]
                ex = next(e for e in self.sim.exports() if e["id"] == export_id)
                self.assertEqual(ex["merchant"], merchant)
                with urllib.request.urlopen(ex["urls"][0], timeout=30) as resp:
                    self.assertEqual(resp.read(), got[name], "the provider's own bytes")
            self.assertEqual(len({sha(b) for b in got.values()}), 3)
            self.assertEqual(self.sim.stats()["auth_failures"], 0)
        finally:
            am.m.close(self)

    def test_a_merchant_id_with_a_made_up_token_gets_none_of_its_files(self):
        settings = {"provider": "clover", "base_url": self.sim.url, "region": "sandbox"}
        am = AccountsMount(self.sim, settings, {"south": self.MERCHANTS["south"]}, clover_keys)
        try:
            r = day(6)
            member = "orders-0001.json"
            theirs = read(am.path("south", "exports", r, member))
            am.m.umount()
            am.remove("south")
            am.add("mallory", (self.MERCHANTS["south"][0], "made-up-token"))
            am.m.start()
            exports = len(self.sim.exports())
            with self.assertRaises(OSError) as cm:
                got = read(am.path("mallory", "exports", r, member))
                self.assertFalse(got == theirs, "mallory was served south's file")
            self.assertEqual(cm.exception.errno, errno.EACCES)
            self.assertEqual(read_json(am.path("mallory", ".status"))["token"], "refused")
            am.m.umount()
            am.remove("mallory")
            am.add("south", self.MERCHANTS["south"])
            am.m.start()
            self.assertEqual(read(am.path("south", "exports", r, member)), theirs)
            self.assertEqual(len(self.sim.exports()), exports, "served from the cache")
        finally:
            am.m.close(self, allowed=("refused", "auth", "401"))
            self.sim.reset_stats()  # the others count auth failures from zero

    def test_a_token_file_replaced_while_mounted_is_used_at_the_next_request(self):
        settings = {"provider": "clover", "base_url": self.sim.url, "region": "sandbox"}
        am = AccountsMount(self.sim, settings, {"west": ("MCLOVER00003", "an-old-token")},
                           clover_keys)
        try:
            r, member = day(10), "orders-0001.json"
            with self.assertRaises(OSError) as cm:
                read(am.path("west", "exports", r, member))
            self.assertEqual(cm.exception.errno, errno.EIO)
            self.assertEqual(read_json(am.path("west", ".status"))["token"], "refused")
            token = os.path.join(am.adir, ".west.token")
            write_secret(am.adir, ".west.token.new", self.MERCHANTS["west"][1])
            os.rename(token + ".new", token)

            def readable():
                try:
                    return len(read(am.path("west", "exports", r, member))) > 0
                except OSError:
                    return False
            wait_for(readable, timeout=10, interval=0.2, what="the new token to be used")
            st = read_json(am.path("west", ".status"))
            self.assertEqual((st["credentials"], st["token"]), ("ok", "valid"))
        finally:
            am.m.close(self, allowed=("refused", "auth", "401"))
            self.sim.reset_stats()


    def test_one_merchants_503s_never_hold_up_another(self):
        """north at Clover's concurrent-export cap (503 without Retry-After): its next export
        waits for Clover and its reader gets EAGAIN at once; south, same mount, same moment,
        gets its file: its exports never wait for north's provider."""
        # An export of north's left running by an earlier test would take north's one place
        # at Clover: the first read below would then get the 503 meant for the second.
        wait_for(lambda: not any(e["merchant"] == "MCLOVER00001" and e["status"] in
                                 ("PENDING", "IN_PROGRESS") for e in self.sim.exports()),
                 what="north's earlier exports finished at the provider")
        self.sim.configure(max_concurrent=1, pending_s=1.5, progress_s=0.5)
        merchants = {n: self.MERCHANTS[n] for n in ("north", "south")}
        am = AccountsMount(self.sim, {"provider": "clover", "base_url": self.sim.url,
                                      "region": "sandbox"}, merchants, clover_keys,
                           {"max_exports": "2"})
        got = {}
        first = threading.Thread(target=lambda: got.__setitem__(
            "north", read(am.path("north", "exports", day(10), "orders.jsonl"))))
        try:
            first.start()
            wait_for(lambda: any(e["merchant"] == "MCLOVER00001" and e["status"] in
                                 ("PENDING", "IN_PROGRESS") for e in self.sim.exports()),
                     what="north's first export at the provider")
            with self.assertRaises(OSError) as cm:
                read(am.path("north", "exports", day(11), "orders.jsonl"))
            self.assertEqual(cm.exception.errno, errno.EAGAIN)
            st = read_json(am.path("north", "exports", day(11), ".status"))
            self.assertEqual(st["files"][0]["state"], "waiting")
            data = read(am.path("south", "exports", day(12), "orders.jsonl"))
            self.assertEqual(len(data.splitlines()), 40)
            first.join()
            self.assertIn("north", got)
            self.assertGreater(self.sim.stats()["concurrency_503"], 0)
        finally:
            first.join()
            self.sim.configure(max_concurrent=2, pending_s=0.1, progress_s=0.2)
            am.m.close(self, allowed=("Too many concurrent",))


class MogujieAccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = MogujieSimulator(extra_sellers=["seller-two-token"])

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def test_two_sellers_of_one_app(self):
        sellers = {"first": self.sim.tokens()["access_token"], "second": "seller-two-token"}

        def keys(am, name, token):
            return {"token_file": write_secret(am.adir, "." + name + ".token", token)}

        settings = {"provider": "mogujie", "base_url": self.sim.url,
                    "app_key": self.sim.merchant, "oauth_url": self.sim.url + "/token"}
        am = AccountsMount(self.sim, settings, sellers, keys, app_secret=True)
        try:
            r = day(2)
            a = read(am.path("first", "exports", r, "orders.csv"))
            b = read(am.path("second", "exports", r, "orders.csv"))
            self.assertNotEqual(a, b)
            self.assertEqual(a.splitlines()[0], b.splitlines()[0])  # same columns
            self.assertEqual(self.sim.stats()["auth_failures"], 0)
        finally:
            am.m.close(self)

    def test_two_names_with_one_token_are_one_merchant(self):
        def keys(am, name, token):
            return {"token_file": write_secret(am.adir, "." + name + ".token", token)}

        token = self.sim.tokens()["access_token"]
        settings = {"provider": "mogujie", "base_url": self.sim.url,
                    "app_key": self.sim.merchant, "oauth_url": self.sim.url + "/token"}
        am = AccountsMount(self.sim, settings, {"shop": token, "store": token}, keys,
                           app_secret=True)
        try:
            r = day(4)
            read(am.path("shop", "exports", r, "orders.csv"))
            with self.assertRaises(OSError) as cm:
                read(am.path("store", "exports", r, "orders.csv"))
            self.assertEqual(cm.exception.errno, errno.EIO)
            st = read_json(am.path("store", ".status"))
            self.assertEqual(st["state"], "cannot start")
            self.assertIn("account shop has the same merchant", st["error"])
        finally:
            am.m.close(self, allowed=("cannot start",))

    def test_a_made_up_token_under_a_known_name_gets_none_of_its_files(self):
        def keys(am, name, token):
            return {"token_file": write_secret(am.adir, "." + name + ".token", token)}

        settings = {"provider": "mogujie", "base_url": self.sim.url,
                    "app_key": self.sim.merchant, "oauth_url": self.sim.url + "/token"}
        am = AccountsMount(self.sim, settings, {"shop": self.sim.tokens()["access_token"]},
                           keys, app_secret=True)
        try:
            r = day(3)
            theirs = read(am.path("shop", "exports", r, "orders.csv"))
            am.m.umount()
            am.add("shop", "a-made-up-token")
            am.m.start()
            with self.assertRaises(OSError) as cm:
                got = read(am.path("shop", "exports", r, "orders.csv"))
                self.assertFalse(got == theirs, "a made-up token was served the seller's file")
            self.assertEqual(cm.exception.errno, errno.EACCES)
            self.assertEqual(read_json(am.path("shop", ".status"))["token"], "refused")
        finally:
            am.m.close(self, allowed=("refused", "auth", "token"))
            self.sim.reset_stats()


    def test_a_name_reused_with_another_sellers_token_gets_none_of_its_files(self):
        def keys(am, name, token):
            return {"token_file": write_secret(am.adir, "." + name + ".token", token)}

        first = self.sim.tokens()["access_token"]
        settings = {"provider": "mogujie", "base_url": self.sim.url,
                    "app_key": self.sim.merchant, "oauth_url": self.sim.url + "/token"}
        am = AccountsMount(self.sim, settings, {"shop": first}, keys, app_secret=True)
        try:
            r = day(5)
            theirs = read(am.path("shop", "exports", r, "orders.csv"))
            am.m.umount()
            am.add("shop", "seller-two-token")  # a valid token, of another seller
            am.m.start()
            with self.assertRaises(OSError) as cm:
                got = read(am.path("shop", "exports", r, "orders.csv"))
                self.assertFalse(got == theirs, "another seller was served the first's file")
            self.assertEqual(cm.exception.errno, errno.EACCES)
            am.m.umount()
            am.add("shop", first)
            am.m.start()
            self.sim.reset_stats()
            self.assertEqual(read(am.path("shop", "exports", r, "orders.csv")), theirs)
            self.assertLessEqual(self.sim.stats()["max_page_size"], 1)  # a check, no sync
        finally:
            am.m.close(self, allowed=("refused", "auth", "token", "seller"))
            self.sim.reset_stats()


class DemoAccountsTest(unittest.TestCase):
    def test_demo_with_three_clover_merchants(self):
        """contrib/demo.sh with ACCOUNTS=3 (what `make demo ACCOUNTS=3` runs after building):
        three Clover merchants in one mount, each its own bytes, no token on a command line."""
        tmp = tempfile.mkdtemp(prefix="orderfs-demo-accounts-")
        env = dict(os.environ, DEMO_DIR=tmp, ORDERFS=ORDERFS, ACCOUNTS="3",
                   PYTHON=sys.executable or "/usr/bin/python3")
        env.pop("PROVIDER", None)
        demo = [os.path.join(ROOT, "contrib", "demo.sh")]
        try:
            r = subprocess.run(["sh", *demo, "start"], env=env, capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            mnt = os.path.join(tmp, "mnt")
            self.assertEqual(sorted(os.listdir(mnt)), [".stats", "shop1", "shop2", "shop3"])
            sums = [line.split()[2] for line in r.stdout.splitlines()
                    if line.strip().startswith("shop") and "sha256" in line]
            self.assertEqual(len(sums), 3)
            self.assertEqual(len(set(sums)), 3, "each merchant's own data")
            with open(os.path.join(tmp, "sim.pid")) as f:
                with open(f"/proc/{int(f.read())}/cmdline", "rb") as c:
                    cmdline = c.read().decode()
            for k in (1, 2, 3):
                with open(os.path.join(tmp, "accounts", f"shop{k}.token")) as t:
                    self.assertNotIn(t.read().strip(), cmdline, "a token in ps")
            st = read_json(os.path.join(mnt, "shop3", ".status"))
            self.assertEqual((st["merchant"], st["token"]), ("DEMO3", "valid"))
        finally:
            subprocess.run(["sh", *demo, "stop"], env=env, capture_output=True, timeout=120)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
