"""client/fleet/fleet.h and client/fleet/etcd/etcd.h against a real etcd, through the
fleet_probe driver (no FUSE): one holder per range, fencing of a holder that lost its lease,
export slots, members, endpoint failover, auth (and that no secret reaches stderr), etcd going
away and back."""
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import etcd
from etcd_proxy import EtcdProxy
from simulator import ROOT

BIN = os.path.join(ROOT, os.environ.get("BUILD", "build/release"), "tests/bin/fleet_probe")
PASSWORD = "fl33t-pa55word-xyz"
EXPORT_KEY = "vexora|{acct}|order|en-US|2026-05-18|2026-05-19"


def skip_unless_ready():
    if not os.access(BIN, os.X_OK):
        raise unittest.SkipTest(f"{BIN} not built")
    if not etcd.available():
        raise unittest.SkipTest("etcd-server / etcd-client not installed (make deps)")



def take_once_free(probe, timeout=10):
    """slot-take until it is not EBUSY: a take skips the slots its watch saw taken, so it may
    say EBUSY until the event of a release (or a revoked lease) reaches that watch."""
    deadline = time.monotonic() + timeout
    took = probe.cmd("slot-take")
    while not took["ok"] and took.get("errno") == "EBUSY" and time.monotonic() < deadline:
        time.sleep(0.05)
        took = probe.cmd("slot-take")
    return took

class Probe:
    """One fleet_probe process: a command line in, one JSON line out."""

    def __init__(self, endpoints, host="host-a", account="M100", ttl=3, max_exports=0,
                 auth_file=None, ca_file=None, raw=False, debug=False, base_url=None):
        self.err = tempfile.NamedTemporaryFile(prefix="orderfs-probe-", suffix=".err",
                                               delete=False)
        cmd = [BIN, "--endpoints", endpoints, "--host", host, "--account", account,
               "--ttl", str(ttl), "--max-exports", str(max_exports),
               "--connect-ms", "500", "--request-ms", "2000"]
        if auth_file:
            cmd += ["--auth-file", auth_file]
        if base_url:
            cmd += ["--base-url", base_url]
        if ca_file:
            cmd += ["--ca-file", ca_file]
        if raw:
            cmd.append("--raw")
        if debug:
            cmd.append("--debug")
        self.host = host
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, bufsize=1)
        self.ready = self.read()

    def read(self, timeout=20):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise AssertionError(f"fleet_probe {self.host} did not answer: {self.stderr()}")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"fleet_probe {self.host} exited: {self.stderr()}")
        return json.loads(line)

    def cmd(self, line, timeout=20):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def stderr(self):
        with open(self.err.name, errors="replace") as f:
            return f.read()

    def close(self):
        """Quits; returns the exit status and stderr."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        err = self.stderr()
        os.unlink(self.err.name)
        return self.proc.returncode, err


def wait_for(fn, timeout=15, step=0.1):
    """Polls fn until it returns something true; returns it (fails on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(step)


class FleetTestBase(unittest.TestCase):
    etcd_args = {}

    @classmethod
    def setUpClass(cls):
        skip_unless_ready()
        cls.etcd = etcd.Etcd(**cls.etcd_args)

    @classmethod
    def tearDownClass(cls):
        cls.etcd.stop()

    def setUp(self):
        # Each test its own merchant: its own key prefix, members and slots.
        self.account = "M" + uuid.uuid4().hex[:10]
        self.key = EXPORT_KEY.format(acct=self.account)
        self.probes = []

    def tearDown(self):
        for p in self.probes:
            if p.proc.poll() is None:
                try:
                    os.kill(p.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            rc, err = p.close()
            # 2 is a failed start some tests ask for; a sanitizer report fails the test.
            self.assertIn(rc, (0, 2), err[-2000:])
            self.assertNotIn("Sanitizer", err)

    def probe(self, host="host-a", endpoints=None, **kw):
        p = Probe(endpoints or self.etcd.url, host=host, account=self.account, **kw)
        self.probes.append(p)
        return p

    def joined(self, host, **kw):
        p = self.probe(host, **kw)
        self.assertTrue(p.ready.get("ok"), p.ready)
        return p


class TestClaims(FleetTestBase):
    def test_two_probes_one_holder(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        # Both at once: etcd's txn decides.
        for p in (a, b):
            p.proc.stdin.write(f"claim {self.key}\n")
            p.proc.stdin.flush()
        ra, rb = a.read(), b.read()
        self.assertTrue(ra["ok"] and rb["ok"], (ra, rb))
        roles = sorted([ra["role"], rb["role"]])
        self.assertEqual(roles, ["follower", "holder"])
        holder, follower = (ra, rb) if ra["role"] == "holder" else (rb, ra)
        holder_probe = a if holder is ra else b
        self.assertEqual(follower["holder"], holder_probe.host)
        self.assertGreater(holder["token"], 0)
        # Claiming again on the same lease keeps the same claim.
        again = holder_probe.cmd(f"claim {self.key}")
        self.assertEqual((again["role"], again["token"]), ("holder", holder["token"]))
        stats = holder_probe.cmd("stats")
        self.assertEqual(stats["claims_won"], 2)
        other = b if holder_probe is a else a
        self.assertEqual(other.cmd("stats")["claims_lost"], 1)

    def test_keys_hide_the_account_and_export_key(self):
        a = self.joined("host-a")
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")
        keys = self.etcd.keys()
        mine = [k for k in keys if "/vexora/" in k and k.endswith(tuple("0123456789abcdef"))
                and "/claims/" in k]
        self.assertTrue(mine, keys)
        for k in keys:
            self.assertNotIn(self.account, k)
            self.assertNotIn("2026-05-18", k)
        self.assertTrue(any(k.endswith("/members/host-a") for k in keys), keys)

    def test_one_account_id_at_two_sites_are_two_fleets(self):
        # 128 bits over provider, base URL and account id: the same id at two provider sites
        # is two merchants, each with its own prefix.
        a = self.joined("host-a", base_url="https://one.example/api")
        b = self.joined("host-b", base_url="https://two.example/api")
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")
        self.assertEqual(b.cmd(f"claim {self.key}")["role"], "holder")
        prefixes = {k.split("/")[3] for k in self.etcd.keys() if "/claims/" in k}
        self.assertEqual(len(prefixes), 2, prefixes)
        for p in prefixes:
            self.assertRegex(p, r"^[0-9a-f]{32}$")

    def test_record_round_trip_to_follower(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        c = a.cmd(f"claim {self.key}")
        self.assertEqual(c["role"], "holder")
        self.assertEqual(b.cmd(f"record-get {self.key}")["errno"], "ENOENT")
        sha = "ab" * 32
        r = a.cmd(f"record-put {self.key} {c['token']} T-42 generated 123456 {sha}")
        self.assertTrue(r["ok"], r)
        got = b.cmd(f"record-get {self.key}")
        self.assertTrue(got["ok"], got)
        self.assertEqual(got["record"], {"task_id": "T-42", "state": "generated",
                                         "expires": 0, "size": 123456, "sha256": sha,
                                         "holder": "host-a"})
        # An invalid record is refused before any write.
        bad = a.cmd(f"record-put {self.key} {c['token']} T-43 done")
        self.assertEqual(bad["errno"], "EINVAL")

    def test_release_lets_the_next_host_claim(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        c = a.cmd(f"claim {self.key}")
        self.assertEqual(b.cmd(f"claim {self.key}")["role"], "follower")
        # A stale token releases nothing.
        self.assertTrue(a.cmd(f"release {self.key} {c['token'] + 1000}")["ok"])
        self.assertEqual(b.cmd(f"claim {self.key}")["role"], "follower")
        self.assertTrue(a.cmd(f"release {self.key} {c['token']}")["ok"])
        self.assertEqual(b.cmd(f"claim {self.key}")["role"], "holder")


class TestFencing(FleetTestBase):
    def test_revoked_holder_is_fenced_and_next_holder_takes_over(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        admin = self.probe("admin", raw=True)
        ca = a.cmd(f"claim {self.key}")
        self.assertEqual(ca["role"], "holder")
        self.assertTrue(a.cmd(f"record-put {self.key} {ca['token']} T-1 generating")["ok"])
        # A's lease goes away (as if A stalled past its TTL): its claim key vanishes.
        self.assertTrue(admin.cmd(f"revoke {a.ready['lease']}")["ok"])
        cb = b.cmd(f"claim {self.key}")
        self.assertEqual(cb["role"], "holder", cb)
        self.assertGreater(cb["token"], ca["token"])
        self.assertTrue(cb["takeover"])
        self.assertEqual(cb["record"]["task_id"], "T-1")
        self.assertEqual(cb["record"]["holder"], "host-a")
        late = a.cmd(f"record-put {self.key} {ca['token']} T-1 generated 10")
        self.assertEqual(late["errno"], "ESTALE", late)
        self.assertTrue(b.cmd(f"record-put {self.key} {cb['token']} T-1 generated 99")["ok"])
        rec = a.cmd(f"record-get {self.key}")["record"]
        self.assertEqual((rec["holder"], rec["size"]), ("host-b", 99))
        self.assertEqual(a.cmd("stats")["fenced_refused"], 1)
        self.assertEqual(b.cmd("stats")["takeovers"], 1)
        # A's keepalive notices the lost lease and joins again with a new one.
        wait_for(lambda: a.cmd("stats")["lease_regrants"] >= 1, timeout=10)
        self.assertNotEqual(a.cmd("lease")["lease"], a.ready["lease"])

    def test_stalled_holder_loses_its_claim(self):
        ttl = 2
        a = self.joined("host-a", ttl=ttl)
        b = self.joined("host-b", ttl=ttl)
        ca = a.cmd(f"claim {self.key}")
        self.assertEqual(ca["role"], "holder")
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            cb = wait_for(lambda: (lambda r: r if r["role"] == "holder" else None)(
                b.cmd(f"claim {self.key}")), timeout=ttl + 10, step=0.3)
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        self.assertGreater(cb["token"], ca["token"])
        self.assertEqual(a.cmd(f"record-put {self.key} {ca['token']} T-9 applied")["errno"],
                         "ESTALE")
        self.assertTrue(b.cmd(f"record-put {self.key} {cb['token']} T-9 applied")["ok"])
        wait_for(lambda: a.cmd("stats")["lease_regrants"] >= 1, timeout=10)
        wait_for(lambda: a.cmd("members")["count"] == 2, timeout=10)


class TestSlotsAndMembers(FleetTestBase):
    def test_two_slots_three_takers(self):
        ps = [self.joined(h, max_exports=2) for h in ("host-a", "host-b", "host-c")]
        got = [p.cmd("slot-take") for p in ps]
        won = [g for g in got if g["ok"]]
        self.assertEqual(len(won), 2, got)
        self.assertEqual(sorted(g["slot"] for g in won), [0, 1])
        loser = ps[[g["ok"] for g in got].index(False)]
        self.assertEqual(got[[g["ok"] for g in got].index(False)]["errno"], "EBUSY")
        first = ps[[g["ok"] for g in got].index(True)]
        slot = got[[g["ok"] for g in got].index(True)]["slot"]
        self.assertTrue(first.cmd(f"slot-release {slot}")["ok"])
        # A take skips the slots its watch saw taken: until the release's event reaches the
        # loser's watch it may still say EBUSY; then it gets the freed slot.
        self.assertEqual(take_once_free(loser), {"ok": True, "slot": slot})
        self.assertEqual(first.cmd(f"slot-release {slot}")["errno"], "EINVAL")

    def test_slot_lost_with_the_lease(self):
        a, b = self.joined("host-a", max_exports=1), self.joined("host-b", max_exports=1)
        admin = self.probe("admin", raw=True)
        self.assertEqual(a.cmd("slot-take"), {"ok": True, "slot": 0})
        self.assertEqual(b.cmd("slot-take")["errno"], "EBUSY")
        self.assertTrue(admin.cmd(f"revoke {a.ready['lease']}")["ok"])
        self.assertEqual(take_once_free(b), {"ok": True, "slot": 0})  # once b's watch saw it
        # A's late release is harmless: B keeps the slot.
        self.assertTrue(a.cmd("slot-release 0")["ok"])
        self.assertEqual(a.cmd("slot-take")["errno"], "EBUSY")

    def test_members_come_and_go(self):
        a = self.joined("host-a")
        self.assertEqual(a.cmd("members")["count"], 1)
        b = self.joined("host-b")
        self.assertEqual(a.cmd("members")["count"], 2)
        self.probes.remove(b)
        self.assertEqual(b.close()[0], 0)
        # fleet_free revokes the lease: B is gone at once, not after its TTL.
        self.assertEqual(a.cmd("members")["count"], 1)
        self.assertTrue(a.cmd("reachable")["reachable"])


class TestFailover(FleetTestBase):
    def test_dead_first_endpoint(self):
        dead = f"http://127.0.0.1:{etcd.free_port()}"
        a = self.joined("host-a", endpoints=f"{dead},{self.etcd.url}")
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")
        self.assertTrue(a.cmd("reachable")["reachable"])

    def test_only_dead_endpoints_fail_transient(self):
        # A host starts while etcd is down (a mount must); its calls fail as transient
        # until etcd answers.
        dead = f"http://127.0.0.1:{etcd.free_port()}"
        p = self.probe("host-a", endpoints=f"{dead},{dead}")
        self.assertTrue(p.ready["ok"], p.ready)
        r = p.cmd(f"claim {self.key}")
        self.assertEqual((r["ok"], r["errno"], r["kind"]), (False, "EIO", "transient"))
        self.assertFalse(p.cmd("reachable")["reachable"])

    def test_joins_once_etcd_answers(self):
        a = self.probe("host-a", ttl=3, endpoints=self.etcd.url)
        self.assertTrue(a.ready["ok"], a.ready)
        self.etcd.kill()
        b = self.probe("host-b", ttl=3, endpoints=self.etcd.url)
        try:
            self.assertTrue(b.ready["ok"], b.ready)
            self.assertFalse(b.cmd("reachable")["reachable"])
        finally:
            self.etcd.restart()
        c = wait_for(lambda: (lambda r: r if r["ok"] else None)(b.cmd(f"claim {self.key}")),
                     timeout=15, step=0.3)
        self.assertIn(c["role"], ("holder", "follower"))
        # b registered itself once etcd answered: both hosts are members.
        wait_for(lambda: b.cmd("members").get("count") == 2, timeout=15, step=0.3)
        self.assertTrue(b.cmd("reachable")["reachable"])

    def test_bad_endpoint_refused(self):
        p = self.probe("host-a", endpoints="ftp://127.0.0.1:1")
        self.assertEqual((p.ready["ok"], p.ready["kind"]), (False, "invalid"))


class TestEtcdOutage(FleetTestBase):
    def test_calls_fail_transient_while_down_and_recover(self):
        a = self.joined("host-a", ttl=3)
        self.etcd.kill()
        try:
            r = a.cmd(f"claim {self.key}")
            self.assertEqual((r["ok"], r["errno"], r["kind"]), (False, "EIO", "transient"))
            self.assertFalse(a.cmd("reachable")["reachable"])
        finally:
            self.etcd.restart()
        c = wait_for(lambda: (lambda r: r if r["ok"] else None)(a.cmd(f"claim {self.key}")),
                     timeout=15, step=0.3)
        self.assertEqual(c["role"], "holder")
        self.assertTrue(a.cmd("reachable")["reachable"])
        self.assertGreaterEqual(a.cmd("stats")["etcd_errors"], 1)

    def test_wiped_etcd_loses_the_lease_and_the_host_rejoins(self):
        a = self.joined("host-a", ttl=3)
        self.etcd.restart(wipe=True)
        wait_for(lambda: a.cmd("stats")["lease_regrants"] >= 1, timeout=15)
        self.assertEqual(a.cmd("members")["count"], 1)
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")


class TestTls(FleetTestBase):
    etcd_args = {"tls": True}

    def test_https_with_the_ca_bundle(self):
        a = self.joined("host-a", ca_file=self.etcd.ca_file)
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")
        self.assertTrue(a.cmd("reachable")["reachable"])

    def test_https_verifies_the_certificate(self):
        p = self.probe("host-a")  # system CAs do not know the test CA
        self.assertEqual((p.ready["ok"], p.ready["kind"]), (False, "protocol"), p.ready)


class TestAuth(FleetTestBase):
    # Simple tokens live 2 s idle, so a test can see one expire and be replaced.
    etcd_args = {"auth_token_ttl_s": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etcd.enable_auth("fleet", PASSWORD)
        cls.tmp = tempfile.mkdtemp(prefix="orderfs-fleet-auth-")
        cls.good = os.path.join(cls.tmp, "good")
        cls.bad = os.path.join(cls.tmp, "bad")
        with open(cls.good, "w") as f:
            f.write(f"fleet:{PASSWORD}\n")
        with open(cls.bad, "w") as f:
            f.write("fleet:wrong-" + PASSWORD + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def assert_no_secret(self, p):
        err = p.stderr()
        self.assertNotIn(PASSWORD, err)

    def test_password_works_and_expired_token_is_replaced(self):
        a = self.joined("host-a", auth_file=self.good, debug=True)
        self.assertEqual(a.cmd(f"claim {self.key}")["role"], "holder")
        # Past the token's TTL (keepalives every ttl/3 keep it in use, so use a raw probe
        # that sits idle).
        raw = self.probe("admin", raw=True, auth_file=self.good, debug=True)
        self.assertTrue(raw.cmd("put orderfs/t/x 1")["ok"])
        raw.cmd("sleep 3.5")
        got = raw.cmd("get orderfs/t/x")
        self.assertEqual((got["ok"], got["value"]), (True, "1"), got)
        self.assertIn("token refused", raw.stderr())
        self.assert_no_secret(a)
        self.assert_no_secret(raw)
        self.assertNotIn("Authorization", a.stderr())

    def test_wrong_password_is_auth_error_without_secret(self):
        p = self.probe("host-a", auth_file=self.bad, debug=True)
        self.assertFalse(p.ready["ok"])
        self.assertEqual(p.ready["kind"], "auth", p.ready)
        self.assertEqual(p.proc.wait(10), 2)
        self.assertNotIn(PASSWORD, json.dumps(p.ready))
        self.assert_no_secret(p)

    def test_no_credentials_is_auth_error(self):
        p = self.probe("host-a")
        self.assertEqual((p.ready["ok"], p.ready["kind"]), (False, "auth"), p.ready)

    def test_outside_the_granted_prefix_is_auth_error(self):
        raw = self.probe("admin", raw=True, auth_file=self.good)
        r = raw.cmd("put elsewhere/x 1")
        self.assertEqual((r["ok"], r["kind"]), (False, "auth"), r)


class ProxyBase(FleetTestBase):
    """The probes reach etcd through the fault proxy, healed before each test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.proxy = EtcdProxy(cls.etcd.url)
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

    def probe(self, host="host-a", endpoints=None, **kw):
        return super().probe(host, endpoints or self.proxy.url, **kw)



class TestNoLeaks(ProxyBase):
    """A claim or slot txn whose reply is lost, or a release that never reached etcd, must
    not leave a key bound to the host's live lease that nobody will free (issue 24, defect
    1)."""

    def once(self, action):
        """The next txn gets action ("drop": done, reply lost; "reset": never reached). Twice:
        on a kept-alive connection the transport sends a request again, once, when the
        connection dies without a reply; the test heals the proxy after the failed call."""
        self.proxy.rules([{"path": "/v3/kv/txn", "action": action, "limit": 2}])

    def test_slot_txn_reply_lost_is_still_ours(self):
        a = self.joined("host-a", max_exports=1)
        self.once("drop")
        self.assertEqual(a.cmd("slot-take")["errno"], "EIO")
        self.proxy.heal()
        self.assertEqual(a.cmd("slot-take"), {"ok": True, "slot": 0})
        self.assertTrue(a.cmd("slot-release 0")["ok"])
        self.assertEqual(self.joined("host-b", max_exports=1).cmd("slot-take"),
                         {"ok": True, "slot": 0})

    def test_slot_txn_reply_lost_then_given_up_is_freed(self):
        a, b = self.joined("host-a", max_exports=1), self.joined("host-b", max_exports=1)
        self.once("drop")
        self.assertEqual(a.cmd("slot-take")["errno"], "EIO")
        self.proxy.heal()
        wait_for(lambda: b.cmd("slot-take").get("ok"), timeout=10)

    def test_failed_slot_release_is_retried(self):
        a, b = self.joined("host-a", max_exports=1), self.joined("host-b", max_exports=1)
        self.assertEqual(a.cmd("slot-take"), {"ok": True, "slot": 0})
        self.once("reset")
        self.assertEqual(a.cmd("slot-release 0")["errno"], "EIO")
        self.proxy.heal()
        self.assertEqual(b.cmd("slot-take")["errno"], "EBUSY")
        wait_for(lambda: b.cmd("slot-take").get("ok"), timeout=10)

    def test_failed_claim_release_is_retried(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        c = a.cmd(f"claim {self.key}")
        self.assertEqual(c["role"], "holder")
        self.once("reset")
        self.assertEqual(a.cmd(f"release {self.key} {c['token']}")["errno"], "EIO")
        self.proxy.heal()
        wait_for(lambda: b.cmd(f"claim {self.key}").get("role") == "holder", timeout=10)

    def test_claim_txn_reply_lost_then_given_up_is_freed(self):
        a, b = self.joined("host-a"), self.joined("host-b")
        self.once("drop")
        self.assertEqual(a.cmd(f"claim {self.key}")["errno"], "EIO")
        self.proxy.heal()
        wait_for(lambda: b.cmd(f"claim {self.key}").get("role") == "holder", timeout=10)


class TestSlowKeepalive(ProxyBase):
    """One keepalive answered slowly (a leader election takes seconds) must not lose the
    lease: the keepalive works to the lease's deadline, retrying quickly (issue 24, defect
    3). TTL 3 s, request timeout 2 s, one keepalive held 4 s before it reaches etcd."""

    def test_one_slow_keepalive_keeps_the_lease(self):
        a = self.joined("host-a", ttl=3)
        lease = a.ready["lease"]
        self.proxy.rules([{"path": "/v3/lease/keepalive", "action": "stall", "delay_s": 4,
                           "limit": 1}])
        wait_for(lambda: self.proxy.stats()["fired"].get("stall"), timeout=10)
        after = self.proxy.stats()["paths"]["/v3/lease/keepalive"]
        # Four keepalives later the lease's fate is known either way.
        wait_for(lambda: self.proxy.stats()["paths"]["/v3/lease/keepalive"] >= after + 4,
                 timeout=15)
        self.assertEqual(a.cmd("stats")["lease_regrants"], 0, a.stderr()[-1500:])
        self.assertEqual(a.cmd("lease")["lease"], lease)


class TestSlowKeepaliveConnection(ProxyBase):
    """A keepalive answered slowly, but well before the lease ends, keeps its connection
    (issue 24, scale: at most 4 connections per host): a try cut off at half the time the
    lease has left made curl drop the connection, and the retry opened a fifth. TTL 3 s: a
    keepalive leaves ~2 s before the lease's end; its reply held 1.25 s."""

    def test_slow_keepalive_reply_keeps_its_connection(self):
        a = self.joined("host-a", ttl=3)
        lease = a.ready["lease"]
        # The keepalive's own connection is open before the count starts.
        wait_for(lambda: self.proxy.stats()["paths"].get("/v3/lease/keepalive", 0) >= 1,
                 timeout=10)
        self.proxy.reset_stats()
        self.proxy.rules([{"path": "/v3/lease/keepalive", "action": "delay", "delay_s": 1.25,
                           "limit": 1}])
        wait_for(lambda: self.proxy.stats()["fired"].get("delay"), timeout=10)
        after = self.proxy.stats()["paths"]["/v3/lease/keepalive"]
        wait_for(lambda: self.proxy.stats()["paths"]["/v3/lease/keepalive"] >= after + 3,
                 timeout=15)
        s = self.proxy.stats()
        self.assertEqual(s["connections"], 0, s)
        self.assertEqual(a.cmd("stats")["lease_regrants"], 0, a.stderr()[-1500:])
        self.assertEqual(a.cmd("lease")["lease"], lease)


class Etcd36Base(FleetTestBase):
    """Every probe reaches etcd through the fault proxy, which answers errors in etcd 3.6's
    shape ({"code", "message"} without "error")."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_etcd()
        try:
            cls.proxy = EtcdProxy(cls.etcd.url)
            cls.proxy.rules([], v36=True)
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def setup_etcd(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        super().tearDownClass()

    def probe(self, host="host-a", endpoints=None, **kw):
        return super().probe(host, endpoints or self.proxy.url, **kw)

    def write_auth_file(self, text):
        fd, path = tempfile.mkstemp(prefix="orderfs-fleet-auth-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path


class TestAuthEtcd36(Etcd36Base):
    etcd_args = {"auth_token_ttl_s": 2}

    @classmethod
    def setup_etcd(cls):
        cls.etcd.enable_auth("fleet", PASSWORD)

    def test_expired_token_is_replaced(self):
        good = self.write_auth_file(f"fleet:{PASSWORD}\n")
        raw = self.probe("admin", raw=True, auth_file=good, debug=True)
        self.assertTrue(raw.cmd("put orderfs/t/x 1")["ok"])
        raw.cmd("sleep 3.5")  # past the token's 2 s TTL
        got = raw.cmd("get orderfs/t/x")
        self.assertEqual((got["ok"], got.get("value")), (True, "1"), got)
        self.assertIn("token refused", raw.stderr())
        self.assertGreaterEqual(self.proxy.stats()["paths"]["/v3/auth/authenticate"], 2)

    def test_permission_denied_is_auth_error(self):
        good = self.write_auth_file(f"fleet:{PASSWORD}\n")
        raw = self.probe("admin", raw=True, auth_file=good)
        r = raw.cmd("put elsewhere/x 1")
        self.assertEqual((r["ok"], r["kind"]), (False, "auth"), r)


class TestNoAuthEtcd36(Etcd36Base):
    def test_credentials_while_auth_is_off_join(self):
        creds = self.write_auth_file(f"fleet:{PASSWORD}\n")
        p = self.joined("host-a", auth_file=creds)
        self.assertEqual(p.cmd(f"claim {self.key}")["role"], "holder")


if __name__ == "__main__":
    unittest.main()
