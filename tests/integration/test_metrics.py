"""Prometheus /metrics (metrics_listen): scraped during and after exports, parsed with the
official client's parser (Debian python3-prometheus-client); every count matches /.stats."""
import json
import os
import socket
import subprocess
import threading
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from mount import ORDERFS, wait_for
from test_fs import FsTestCase, rng, sha


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(ss, name, **labels):
    want = {"provider": "vexora", "type": "orders", **labels}
    return ss[(name, frozenset(want.items()))]


class TestMetrics(FsTestCase):
    def mount_with_metrics(self):
        self.port = free_port()
        return self.mount(settings={"metrics_listen": f"127.0.0.1:{self.port}"})

    def scrape(self, path="/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
            return r.read().decode()

    @staticmethod
    def stats(m):
        with open(m.path(".stats")) as f:
            return json.load(f)

    def assert_matches_stats(self, ss, st):
        self.assertEqual(value(ss, "orderfs_exports_applied_total"), st["exports"]["applied"])
        self.assertEqual(value(ss, "orderfs_exports_in_flight"), st["exports"]["in_flight"])
        self.assertEqual(value(ss, "orderfs_exports_queued"), st["exports"]["queued"])
        self.assertEqual(value(ss, "orderfs_cache_hits_total"), st["cache"]["hits"])
        self.assertEqual(value(ss, "orderfs_cache_misses_total"), st["cache"]["misses"])
        self.assertEqual(value(ss, "orderfs_cache_size_bytes"), st["cache"]["size"])
        self.assertEqual(value(ss, "orderfs_cache_entries"), st["cache"]["entries"])
        self.assertEqual(value(ss, "orderfs_bytes_downloaded_total"),
                         st["bytes"]["downloaded"])
        self.assertEqual(ss[("orderfs_bytes_served_total",
                             frozenset({"provider": "vexora"}.items()))], st["bytes"]["served"])
        errors = sum(v for (n, _), v in ss.items() if n == "orderfs_errors_total")
        self.assertEqual(errors, st["errors"]["total"])
        self.assertEqual(value(ss, "orderfs_errors_total", kind="io"), st["errors"]["io"])
        self.assertEqual(value(ss, "orderfs_exports_total", outcome="no_data"),
                         st["errors"]["no_data"])

    def test_scrape_during_and_after_exports_matches_stats(self):
        self.sim.configure(generating_s=1.5)
        m = self.mount_with_metrics()
        r = rng(26, 26)
        result = {}
        reader = threading.Thread(target=lambda: result.update(
            data=open(m.path("exports", r, "orders.xlsx"), "rb").read()))
        reader.start()
        # Applied and generating (the simulator takes 1.5 s): a stable moment to scrape.
        wait_for(lambda: self.stats(m)["exports"] == {"applied": 1, "in_flight": 1,
                                                       "queued": 0},
                 what="an export applied for and in flight")
        during = samples(self.scrape())
        self.assertEqual(value(during, "orderfs_exports_in_flight"), 1)
        self.assertEqual(value(during, "orderfs_exports_applied_total"), 1)
        reader.join(60)
        self.assertFalse(reader.is_alive())
        # A hit, and a range with no data.
        nodata = rng(27, 27)
        self.sim.configure(outcomes={nodata: "nodata"}, generating_s=0.2)
        with open(m.path("exports", r, "orders.xlsx"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(result["data"]))
        with self.assertRaises(OSError):
            open(m.path("exports", nodata, "orders.xlsx"), "rb")
        text = self.scrape()
        after = samples(text)
        self.assert_matches_stats(after, self.stats(m))
        self.assertEqual(value(after, "orderfs_exports_total", outcome="ready"), 1)
        self.assertEqual(value(after, "orderfs_exports_total", outcome="no_data"), 1)
        self.assertEqual(value(after, "orderfs_exports_total", outcome="failed"), 0)
        self.assertEqual(value(after, "orderfs_export_duration_seconds_count"), 1)
        took = value(after, "orderfs_export_duration_seconds_sum")
        self.assertGreater(took, 1.0)  # the simulator took 1.6 s to generate it
        self.assertEqual(value(after, "orderfs_export_duration_seconds_bucket", le="5.0"), 1)
        self.assertEqual(value(after, "orderfs_export_duration_seconds_bucket", le="1.0"), 0)
        # Never a secret, a token or a download URL.
        self.assertNotIn(self.sim.secret, text)
        self.assertNotIn("/download/", text)
        self.assertNotIn(self.sim.merchant, text)
        m.close(self)

    def test_other_paths_are_not_found_and_the_mount_starts_without_metrics(self):
        m = self.mount_with_metrics()
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.scrape("/")
        self.assertEqual(cm.exception.code, 404)
        m.close(self)
        # Port taken: the mount still starts, with one error line saying why.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            self.port = s.getsockname()[1]
            m2 = self.mount(settings={"metrics_listen": f"127.0.0.1:{self.port}"})
            self.assertTrue(os.listdir(m2.path("exports")))
            self.assertIn("cannot listen", m2.log_text())
            m2.close(self, allowed=("metrics_listen",))

    def test_bad_address_refuses_the_mount(self):
        for bad in ("localhost:9464", "127.0.0.1", "127.0.0.1:0", "[::1:9464"):
            m = self.mount(start=False, settings={"metrics_listen": bad})
            p = subprocess.run([ORDERFS, "-f", m.config, m.mnt], capture_output=True,
                               text=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("metrics_listen", p.stderr)


if __name__ == "__main__":
    unittest.main()
