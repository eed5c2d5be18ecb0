"""Secrets, permissions, refused configurations and hostile path names (issue 5).

The signing secret is grepped for in every log (-d included), .status, error messages, the
process's command line and environment, and every cache file."""
import datetime
import errno
import json
import os
import stat
import subprocess
import tempfile
import unittest

from mount import BUILD, ORDERFS, ROOT, Mount, is_mounted
from test_fs import FsTestCase, rng

SECRET = "Zq9-very-secret-signing-key-7781"


class TestSecrets(FsTestCase):
    @classmethod
    def setUpClass(cls):
        from simulator import Simulator
        cls.sim = Simulator(args=cls.sim_args, secret=SECRET)

    def test_secret_never_leaves_the_secret_file(self):
        ok, failed = rng(60, 60), rng(61, 61)
        self.sim.configure(outcomes={failed: "failed"}, api_500_next=1, truncate_json_next=1)
        m = self.mount(args=("-d",))
        with open(m.path("exports", ok, "orders.xlsx"), "rb") as f:
            f.read()
        with self.assertRaises(OSError) as cm:
            open(m.path("exports", failed, "orders.xlsx"), "rb")
        self.assertEqual(cm.exception.errno, errno.EIO)
        self.assertNotIn(SECRET, str(cm.exception))
        texts = {}
        for r in (ok, failed):
            with open(m.path("exports", r, ".status")) as f:
                texts[".status " + r] = f.read()
            for name in os.listxattr(m.path("exports", r, "orders.xlsx")):
                texts["xattr " + name] = os.getxattr(m.path("exports", r, "orders.xlsx"),
                                                     name).decode("utf-8", "replace")
        pid = m.proc.pid
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            texts["cmdline"] = f.read().decode("utf-8", "replace")
        with open(f"/proc/{pid}/environ", "rb") as f:
            texts["environ"] = f.read().decode("utf-8", "replace")
        # What ps shows of orderfs (the simulator's own command line carries the secret).
        texts["ps"] = "\n".join(l for l in subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
            if "orderfs" in l and "vexora_sim" not in l)
        self.assertIn(m.config, texts["ps"])
        m.umount()
        texts["log"] = m.log_text()
        self.assertIn("DEBUG", texts["log"].upper())
        self.assertIn("POST", texts["log"])  # -d really logged HTTP detail
        for dirpath, _, files in os.walk(m.cache_dir):
            for n in files:
                with open(os.path.join(dirpath, n), "rb") as f:
                    data = f.read()
                self.assertNotIn(SECRET.encode(), data, os.path.join(dirpath, n))
        for where, text in texts.items():
            self.assertNotIn(SECRET, text, f"secret leaked into {where}")
        self.assertEqual(self.sim.stats()["download_leaks"], 0)
        m.check_log(self, allowed=(failed, "unique:"))

    def test_cache_modes_and_default_mount_options(self):
        m = self.mount()
        with open(m.path("exports", rng(62, 62), "orders.xlsx"), "rb") as f:
            f.read()
        for dirpath, dirs, files in os.walk(m.cache_dir):
            self.assertEqual(stat.S_IMODE(os.stat(dirpath).st_mode), 0o700, dirpath)
            for n in files:
                p = os.path.join(dirpath, n)
                self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600, p)
        with open("/proc/mounts") as f:
            opts = [l.split()[3] for l in f if l.split()[1] == os.path.realpath(m.mnt)]
        self.assertEqual(len(opts), 1)
        self.assertIn("default_permissions", opts[0].split(","))
        self.assertNotIn("allow_other", opts[0].split(","))
        m.close(self)

    def test_tls_insecure_is_loud(self):
        m = self.mount(settings={"tls_insecure": "yes"})
        m.umount()
        lines = [l for l in m.log_text().splitlines() if "TLS" in l and "DISABLED" in l]
        self.assertTrue(lines)
        self.assertIn("warning", lines[0])


class TestConfigRefused(unittest.TestCase):
    """orderfs refuses to start, exit status non-zero, stderr naming the problem."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="orderfs-cfg-")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        self.secret = os.path.join(self.dir, "secret")
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(self.secret, 0o600)
        self.base = {"provider": "vexora", "base_url": "http://127.0.0.1:9/nigeria",
                     "merchant_no": "M1", "secret_file": self.secret,
                     "cache_dir": os.path.join(self.dir, "cache")}

    def run_with(self, cfg, extra_lines=()):
        path = os.path.join(self.dir, "orderfs.conf")
        with open(path, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k} = {v}\n")
            for l in extra_lines:
                f.write(l + "\n")
        p = subprocess.run([ORDERFS, "-f", path, self.mnt], capture_output=True, text=True,
                           timeout=30)
        self.assertFalse(is_mounted(self.mnt))
        self.assertNotIn(SECRET, p.stdout + p.stderr)
        return p

    def assert_refused(self, cfg, *needles, extra_lines=()):
        p = self.run_with(cfg, extra_lines)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        for n in needles:
            self.assertIn(n, p.stderr)

    def test_missing_keys(self):
        for key in ("provider", "base_url", "merchant_no", "secret_file", "cache_dir"):
            with self.subTest(key=key):
                cfg = dict(self.base)
                del cfg[key]
                self.assert_refused(cfg, key)

    def test_unknown_key(self):
        self.assert_refused(self.base, "colour", extra_lines=("colour = blue",))

    def test_bad_urls(self):
        for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "http://", ""):
            with self.subTest(url=url):
                self.assert_refused(dict(self.base, base_url=url), "base_url")

    def test_bad_values(self):
        for key, value in (("retry_limit", "lots"), ("max_requests_per_second", "-1"),
                           ("cache_max_size", "4X"), ("tls_insecure", "maybe")):
            with self.subTest(key=key):
                self.assert_refused(dict(self.base, **{key: value}), key)

    def test_secret_file_group_or_world_readable(self):
        for mode in (0o644, 0o640, 0o604, 0o620):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.secret, mode)
                self.assert_refused(self.base, self.secret)

    def test_secret_file_missing(self):
        self.assert_refused(dict(self.base, secret_file=self.secret + ".nope"),
                            self.secret + ".nope")

    def test_secret_file_is_a_directory(self):
        self.assert_refused(dict(self.base, secret_file=self.dir), self.dir)


class TestHostilePaths(FsTestCase):
    def test_malformed_user_paths_never_crash(self):
        m = self.mount()
        today = datetime.date.today()
        good = rng(3, 3)
        names = ["..", ".", "...", "....", f"{today}..", f"..{today}",
                 "2026-02-29..2026-03-01", "0000-00-00..0000-00-00", "9999-12-31..9999-12-31",
                 "2026-05-18..2026-05-19\n", " 2026-05-18..2026-05-19", "%s..%s%n",
                 "\u202e2026-05-18..2026-05-19", "\uff12\uff10\uff12\uff16-05-18..2026-05-19",
                 "2026-05-18\u2025 2026-05-19", "\U0001F4A9" * 60, "a" * 255,
                 f"{today}..{today}" + "\u0301", "-1-01-01..2026-01-01",
                 "+2026-05-18..2026-05-19", "2026-05-18..2026-05-19.xlsx",
                 "99999999999999999999-01-01..2026-01-01"]
        for name in names:
            for sub in ("", "orders.xlsx", ".status"):
                with self.subTest(name=name, sub=sub):
                    p = m.path("exports", name, sub) if sub else m.path("exports", name)
                    if name in ("..", "."):
                        continue  # resolved by the kernel, not by orderfs
                    with self.assertRaises(OSError) as cm:
                        os.stat(p)
                    self.assertIn(cm.exception.errno, (errno.ENOENT, errno.ENAMETOOLONG,
                                                       errno.EINVAL))
        for sub in ("..", "../..", "orders.xlsx/..", "orders.xlsx/x", "\x01", "x" * 255):
            with self.subTest(sub=sub):
                try:
                    os.stat(m.path("exports", good, sub))
                    self.assertIn(sub, ("..", "../.."))
                except OSError as e:
                    self.assertIn(e.errno, (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG))
        with self.assertRaises(OSError) as cm:
            os.mkdir(m.path("exports", "\U0001F4A9"))
        self.assertIn(cm.exception.errno, (errno.EINVAL, errno.ENOENT))
        self.assertEqual(self.sim.stats()["apply"], 0)
        os.listdir(m.path("exports"))  # still alive
        m.close(self)


if __name__ == "__main__":
    unittest.main()
