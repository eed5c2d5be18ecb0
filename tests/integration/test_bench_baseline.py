"""bench/baseline.py: a bench run's change against the committed results.csv, and a partial
run (`bench.py fleet`) that keeps the other items' rows instead of dropping them."""
import csv
import importlib.util
import os
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    "baseline", os.path.join(ROOT, "bench", "baseline.py"))
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)

FIELDS = ["item", "measure", "unit", "median", "min", "max", "runs", "target", "result", "note"]


def row(item, what, median, target, unit=""):
    return {"item": item, "what": what, "unit": unit, "median": median, "min": median,
            "max": median, "runs": 3, "target": target, "result": "PASS", "note": ""}


class BaselineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="orderfs-bench-base-")
        self.csv = os.path.join(self.dir, "results.csv")
        with open(self.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(FIELDS)
            w.writerow(["5", "download: orderfs / curl -o", "x", "1.0", "0.9", "1.1", "4",
                        ">= 0.950", "PASS", ""])
            w.writerow(["4", "cold cp overhead", "%", "10", "8", "12", "4", "<= 10.0",
                        "PASS", ""])
            w.writerow(["8", "mount start", "ms", "30", "29", "31", "4", "report", "-", ""])
            w.writerow(["11", "200 accounts: ls MOUNT", "ms", "6", "5", "7", "21",
                        "<= 50.0", "PASS", ""])

    def tearDown(self):
        for n in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, n))
        os.rmdir(self.dir)

    def test_worse_by_direction_of_the_target(self):
        base = baseline.load(self.csv)
        rows = [row("5", "download: orderfs / curl -o", 0.8, ">= 0.950"),   # -20 %: worse
                row("4", "cold cp overhead", 11.0, "<= 10.0", "%"),         # +1 point: within
                row("8", "mount start", 60.0, "report"),                    # no goal: no mark
                row("11", "200 accounts: ls MOUNT", 4.0, "<= 50.0"),        # better
                row("12", "a new row", 1.0, ">= 1.00")]
        worse = baseline.annotate(rows, base)
        self.assertEqual([r["what"] for r in worse], ["download: orderfs / curl -o"])
        self.assertEqual(rows[0]["vs_base"], "-20.0 % WORSE")
        self.assertEqual(rows[1]["vs_base"], "+1.0 pp")
        self.assertEqual(rows[2]["vs_base"], "+100.0 %")
        self.assertEqual(rows[3]["vs_base"], "-33.3 %")
        self.assertEqual(rows[4]["vs_base"], "new")

    def test_overhead_marked_in_points(self):
        base = baseline.load(self.csv)
        grew = [row("4", "cold cp overhead", 21.0, "<= 10.0", "%")]    # +11 points: worse
        self.assertEqual(len(baseline.annotate(grew, base)), 1)
        self.assertEqual(grew[0]["vs_base"], "+11.0 pp WORSE")
        near = [row("4", "cold cp overhead", 11.9, "<= 10.0", "%")]    # +1.9 points: noise
        self.assertEqual(baseline.annotate(near, base), [])
        fell = [row("4", "cold cp overhead", 2.0, "<= 10.0", "%")]
        self.assertEqual(baseline.annotate(fell, base), [])

    def test_lower_is_better_time_marked_when_it_grows(self):
        base = baseline.load(self.csv)
        rows = [row("11", "200 accounts: ls MOUNT", 7.0, "<= 50.0")]   # +16.7 %
        self.assertEqual(len(baseline.annotate(rows, base)), 1)

    def test_partial_run_keeps_the_other_items(self):
        base = baseline.load(self.csv)
        rows = [row("4", "cold cp overhead", 9.0, "<= 10.0")]
        baseline.annotate(rows, base)
        merged = baseline.merge(rows, base)
        self.assertEqual([(str(r["item"]), r["median"]) for r in merged],
                         [("4", 9.0), ("5", 1.0), ("8", 30.0), ("11", 6.0)])

    def test_missing_baseline_is_empty(self):
        self.assertEqual(baseline.load(os.path.join(self.dir, "none.csv")), {})


if __name__ == "__main__":
    unittest.main()
