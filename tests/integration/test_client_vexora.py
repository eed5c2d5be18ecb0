"""client/ against the Vexora simulator, through the vexora_fetch driver (no FUSE).

Dates are relative to today: Vexora only exports the last 3 months."""
import datetime
import hashlib
import json
import os
import subprocess
import tempfile
import time
import unittest

from simulator import ROOT, Simulator

BIN = os.path.join(ROOT, os.environ.get("BUILD", "build/release"), "tests/bin/vexora_fetch")
SECRET = "s3cr3t-integration"
MERCHANT = "M100200"
ROWS = 3000  # big enough that a dropped download has something to resume


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


def rng(a, b):
    return f"{day(a)}..{day(b)}"


def months_ago(n, extra_days=0):
    t = datetime.date.today()
    m = t.year * 12 + t.month - 1 - n
    y, mo = divmod(m, 12)
    mo += 1
    last = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31, 30,
            31, 31, 30, 31, 30, 31][mo - 1]
    return datetime.date(y, mo, min(t.day, last)) + datetime.timedelta(days=extra_days)


def sha(data):
    return hashlib.sha256(data).hexdigest()


class VexoraClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(BIN, os.X_OK):
            raise unittest.SkipTest(f"{BIN} not built")
        cls.sim = Simulator(args=["--rows", str(ROWS), "--pending-s", "0.1",
                                  "--generating-s", "0.3"],
                            secret=SECRET, merchant=MERCHANT)
        cls.tmp = tempfile.mkdtemp(prefix="orderfs-client-")
        cls.secret_file = os.path.join(cls.tmp, "secret")
        with open(cls.secret_file, "w") as f:
            f.write(SECRET + "\n")
        cls.wrong_secret_file = os.path.join(cls.tmp, "wrong")
        with open(cls.wrong_secret_file, "w") as f:
            f.write("not-the-secret\n")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.sim.configure(outcomes={}, ignore_range=False, download_url_override="",
                           url_ttl_ms=600000, content_length_delta=0, drop_download_count=0,
                           api_500_next=0, truncate_json_next=0, rate_limit_next=0,
                           unavailable_next=0, oversize_json_next=0)
        self.sim.reset_stats()

    # ---- helpers ----

    def run_cli(self, *args, secret_file=None, opts=(), timeout=120):
        cmd = [BIN, "--base-url", self.sim.url + "/", "--merchant", MERCHANT,
               "--secret-file", secret_file or self.secret_file, "--debug", *opts, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        # The secret must never reach a log line or an error message.
        self.assertNotIn(SECRET, p.stderr)
        self.assertNotIn(SECRET, p.stdout)
        return p

    def error_line(self, p):
        lines = [l for l in p.stderr.splitlines() if l.startswith("error: ")]
        self.assertEqual(len(lines), 1, p.stderr)
        return lines[0]

    def assert_fails(self, p, kind, code=None, rc=2):
        self.assertEqual(p.returncode, rc, p.stderr)
        line = self.error_line(p)
        self.assertTrue(line.startswith(f"error: {kind} "), line)
        if code is not None:
            self.assertIn(f"code={code} ", line)
        return line

    def fetch(self, r, *extra, opts=()):
        out = os.path.join(self.tmp, f"out-{self.id().split('.')[-1]}.xlsx")
        p = self.run_cli("fetch", r, out, "--poll-ms", "50", *extra, opts=opts)
        return p, out

    def assert_fetched(self, p, out):
        self.assertEqual(p.returncode, 0, p.stderr)
        res = json.loads(p.stdout.strip().splitlines()[-1])
        with open(out, "rb") as f:
            got = f.read()
        want = self.sim.file_bytes(res["task"])
        self.assertEqual(len(got), len(want))
        self.assertEqual(sha(got), sha(want))
        self.assertEqual(res["size"], len(want))
        self.assertTrue(res["file_name"].endswith(".xlsx"))
        self.assertEqual(self.sim.stats()["download_leaks"], 0)
        return res, want

    def generated_url(self, r):
        """Apply r, wait for the file, and return (task id, url, file bytes)."""
        p, out = self.fetch(r)
        res, want = self.assert_fetched(p, out)
        u = self.run_cli("urls", res["task"])
        self.assertEqual(u.returncode, 0, u.stderr)
        return res["task"], json.loads(u.stdout)["url"], want

    # ---- full flow ----

    def test_full_flow_byte_identical(self):
        p, out = self.fetch(rng(-1, 0))
        res, want = self.assert_fetched(p, out)
        st = self.sim.stats()
        self.assertEqual(st["apply"], 1)
        self.assertEqual(st["downloadUrl"], 1)
        self.assertEqual(st["download"], 1)
        self.assertEqual(st["bad_sign"], 0)
        self.assertEqual(st["download_bytes"], len(want))
        # debug logs name hosts and API paths, never the download path (it holds a token)
        self.assertIn("/v1/vexora/orderExport/apply", p.stderr)
        self.assertNotIn("/download/", p.stderr)

    def test_apply_then_status(self):
        p = self.run_cli("apply", rng(-2, -1))
        self.assertEqual(p.returncode, 0, p.stderr)
        task = p.stdout.strip()
        self.assertRegex(task, r"^\S+$")
        s = self.run_cli("status", task)
        self.assertEqual(s.returncode, 0, s.stderr)
        st = json.loads(s.stdout)
        self.assertEqual(st["id"], task)
        self.assertIn(st["state"], ("pending", "generating", "generated"))

    def test_unknown_task_not_found(self):
        p = self.run_cli("status", "0123456789abcdef")
        self.assert_fails(p, "not-found", "3001")

    # ---- auth and clock ----

    def test_wrong_secret_is_auth_1003(self):
        p = self.run_cli("apply", rng(-1, 0), secret_file=self.wrong_secret_file)
        self.assert_fails(p, "auth", "1003")
        self.assertEqual(self.sim.stats()["bad_sign"], 1)

    def test_clock_skew_is_1004(self):
        p = self.run_cli("apply", rng(-1, 0), opts=["--clock-offset-ms", str(3600 * 1000)])
        self.assert_fails(p, "refused", "1004")

    # ---- range rules ----

    def bad_ranges(self):
        t = datetime.date.today()
        return {
            "2001": f"{day(0)}..{day(-1)}",                     # start after end
            "2003": rng(-7, 0),                                  # 8 days
            "2002": f"{months_ago(3, -1)}..{months_ago(3, 1)}",  # before the window
        }

    def test_range_rules_refused_locally(self):
        for code, r in self.bad_ranges().items():
            with self.subTest(code=code):
                p = self.run_cli("apply", r)
                line = self.assert_fails(p, "invalid")
                self.assertIn("code= ", line)
        p = self.run_cli("apply", rng(0, 1))  # ends in the future
        self.assert_fails(p, "invalid")
        self.assertEqual(self.sim.stats()["apply"], 0)

    def test_range_rules_refused_by_server(self):
        for code, r in self.bad_ranges().items():
            with self.subTest(code=code):
                p = self.run_cli("apply", r, opts=["--no-check"])
                self.assert_fails(p, "refused", code)
        self.assertEqual(self.sim.stats()["apply"], 3)

    def test_range_boundaries_accepted(self):
        # exactly 7 days, and a start exactly 3 months back
        for r in (rng(-6, 0), f"{months_ago(3)}..{months_ago(3, 1)}"):
            with self.subTest(r=r):
                p = self.run_cli("apply", r)
                self.assertEqual(p.returncode, 0, p.stderr)

    # ---- outcomes ----

    def test_failed_outcome(self):
        r = rng(-3, -2)
        self.sim.configure(outcomes={r: "failed"})
        p, _ = self.fetch(r)
        self.assert_fails(p, "failed", rc=2)

    def test_nodata_outcome(self):
        r = rng(-4, -3)
        self.sim.configure(outcomes={r: "nodata"})
        p, _ = self.fetch(r)
        self.assert_fails(p, "no-data", rc=3)

    # ---- transport faults on the API ----

    def test_http_500_is_transient(self):
        self.sim.configure(api_500_next=1)
        p = self.run_cli("apply", rng(-1, 0))
        line = self.assert_fails(p, "transient")
        self.assertIn("HTTP 500", line)

    def test_truncated_json_is_transient(self):
        self.sim.configure(truncate_json_next=1)
        p = self.run_cli("apply", rng(-1, 0))
        line = self.assert_fails(p, "transient")
        self.assertIn("malformed JSON from apply", line)

    def test_rate_limit(self):
        self.sim.configure(rate_limit_next=1)
        p = self.run_cli("apply", rng(-1, 0))
        self.assert_fails(p, "rate-limited")

    def test_unavailable_is_rate_limited(self):
        self.sim.configure(unavailable_next=1)
        p = self.run_cli("apply", rng(-1, 0))
        self.assert_fails(p, "rate-limited")

    def test_oversize_response_refused(self):
        self.sim.configure(oversize_json_next=1)
        p = self.run_cli("apply", rng(-1, 0))
        line = self.assert_fails(p, "protocol")
        self.assertIn("response larger than", line)

    def test_fetch_retries_api_faults(self):
        self.sim.configure(api_500_next=1, truncate_json_next=1)
        p, out = self.fetch(rng(-1, 0))
        self.assert_fetched(p, out)

    # ---- downloads ----

    def test_dropped_download_resumes(self):
        _, _, want = self.generated_url(rng(-1, 0))
        self.assertGreater(len(want), 40000)
        self.sim.reset_stats()
        self.sim.configure(drop_download_after=len(want) // 3, drop_download_count=1)
        p, out = self.fetch(rng(-1, 0))
        self.assert_fetched(p, out)
        st = self.sim.stats()
        self.assertEqual(st["download"], 2)
        # the resume asked only for the rest: nothing was fetched twice
        self.assertLessEqual(st["download_bytes"], len(want) + 1024)
        self.assertIn("resuming download at", p.stderr)

    def test_download_command_resume_from_offset(self):
        _, url, want = self.generated_url(rng(-1, 0))
        out = os.path.join(self.tmp, "resume.xlsx")
        if os.path.exists(out):
            os.unlink(out)
        self.sim.configure(drop_download_after=10000, drop_download_count=1)
        p = self.run_cli("download", url, "0", out)
        self.assert_fails(p, "transient")
        have = os.path.getsize(out)
        self.assertEqual(have, 10000)  # the sink kept every byte received
        p = self.run_cli("download", url, str(have), out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(sha(f.read()), sha(want))

    def test_ignore_range_restarts_whole_file(self):
        _, url, want = self.generated_url(rng(-1, 0))
        out = os.path.join(self.tmp, "ignored.xlsx")
        with open(out, "wb") as f:
            f.write(b"\0garbage" * 1000)
        self.sim.configure(ignore_range=True)
        p = self.run_cli("download", url, "5000", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(sha(f.read()), sha(want))

    def test_range_past_end_restarts_from_zero(self):
        _, url, want = self.generated_url(rng(-1, 0))
        out = os.path.join(self.tmp, "past-end.xlsx")
        with open(out, "wb") as f:
            f.write(b"x" * (len(want) + 10))
        p = self.run_cli("download", url, str(len(want) + 10), out)  # 416, then from 0
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(sha(f.read()), sha(want))

    def test_redirect_to_file_url_refused(self):
        _, url, _ = self.generated_url(rng(-1, 0))
        self.sim.configure(redirect_download_to="file:///etc/passwd")
        try:
            p = self.run_cli("download", url, "0", os.path.join(self.tmp, "redir.xlsx"))
        finally:
            self.sim.configure(redirect_download_to="")
        self.assert_fails(p, "protocol")

    def test_ignore_range_during_resume(self):
        _, _, want = self.generated_url(rng(-1, 0))
        self.sim.configure(ignore_range=True, drop_download_after=len(want) // 2,
                           drop_download_count=1)
        p, out = self.fetch(rng(-1, 0))
        self.assert_fetched(p, out)

    def test_content_length_lie_resumes(self):
        self.sim.configure(content_length_delta=100)
        p, out = self.fetch(rng(-1, 0))
        self.assert_fetched(p, out)

    def test_expired_url(self):
        task, _, _ = self.generated_url(rng(-1, 0))
        self.sim.configure(url_ttl_ms=1)
        u = self.run_cli("urls", task)
        self.assertEqual(u.returncode, 0, u.stderr)
        url = json.loads(u.stdout)["url"]
        time.sleep(0.05)
        # The driver passes no expiry for a bare URL, so this is the server's 403.
        p = self.run_cli("download", url, "0", os.path.join(self.tmp, "expired.xlsx"))
        self.assert_fails(p, "url-expired")

    def test_file_url_refused(self):
        task, _, _ = self.generated_url(rng(-1, 0))
        self.sim.configure(download_url_override="file:///etc/passwd")
        p = self.run_cli("urls", task)
        line = self.assert_fails(p, "protocol")
        self.assertNotIn("passwd", line)
        p = self.run_cli("download", "file:///etc/passwd", "0",
                         os.path.join(self.tmp, "passwd"))
        self.assert_fails(p, "protocol")


if __name__ == "__main__":
    unittest.main()
