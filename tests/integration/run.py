#!/usr/bin/env python3
"""Runs every tests/integration/test_*.py with unittest and writes "PASSED FAILED" to
--summary-file. Skipped tests are reported and never counted as passed. --jobs N runs them in
N processes (shard.py). The slowest tests and classes are listed at the end."""
import argparse
import json
import os
import signal
import sys
import time
import unittest

import shard

HERE = os.path.dirname(os.path.abspath(__file__))
SLOWEST = 25


class TimedResult(unittest.TextTestResult):
    """Records each test's wall time, and each class's from the end of the class before it
    to its own last test, so setUpClass (servers, mounts) counts where it is spent."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.durations = {}
        self.class_durations = {}
        self._mark = time.monotonic()
        self._started = None

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        now = time.monotonic()
        self.durations[test.id()] = now - (self._started or now)
        cls = test.id().rsplit(".", 1)[0]
        self.class_durations[cls] = self.class_durations.get(cls, 0) + now - self._mark
        self._mark = now


def report_durations(durations, class_durations, out):
    """The slowest tests and classes, so a slow change shows in every run's log."""
    for title, table in (("tests", durations), ("classes", class_durations)):
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:SLOWEST]
        out.write(f"\nslowest {len(rows)} {title}:\n")
        for name, secs in rows:
            out.write(f"  {secs:7.2f} s  {name}\n")


def run_here(suite):
    """Runs the suite in this process; the counts and durations as a dict."""
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout,
                                     resultclass=TimedResult).run(suite)
    # A test can both fail and error (e.g. in tearDown): count each test once.
    failed_ids = sorted({t.id() for t, _ in result.failures + result.errors} |
                        {t.id() for t in result.unexpectedSuccesses})
    failed = len(failed_ids)
    passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
    return {"passed": passed, "failed": failed, "skipped": len(result.skipped),
            "failed_ids": failed_ids, "durations": result.durations,
            "class_durations": result.class_durations}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--summary-file")
    ap.add_argument("--results-file", help="counts and durations as JSON (for shard.py)")
    ap.add_argument("--jobs", type=int, default=1,
                    help="processes to run the tests in (shard.py); 1: this one")
    ap.add_argument("-k", dest="pattern", help="only tests whose id contains this")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    # Tests interrupt the readers they start with SIGINT. Started in the background by a
    # non-interactive shell, we would inherit SIGINT ignored and pass that on to every reader,
    # which would then never die: its default is restored for them.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if args.modules:
        suite = unittest.TestSuite(loader.loadTestsFromName(m) for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.pattern:
        suite = unittest.TestSuite(t for t in shard.flatten(suite) if args.pattern in t.id())
    start = time.monotonic()
    if args.jobs > 1 and not args.pattern:
        res = shard.run_sharded(list(shard.flatten(suite)), args.jobs, sys.stdout)
    else:
        res = run_here(suite)
    passed, failed, skipped = res["passed"], res["failed"], res["skipped"]
    if args.results_file:
        # A unit of shard.py: its parent reports the whole run, once.
        with open(args.results_file, "w") as f:
            json.dump(res, f)
        return 0 if failed == 0 else 1
    report_durations(res["durations"], res["class_durations"], sys.stdout)
    if args.jobs > 1:
        # The processes' reports are far apart in the log: the failures once more, together.
        for name in res["failed_ids"]:
            print(f"failed: {name}")
        print(f"integration wall time: {time.monotonic() - start:.1f} s")
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped")
    if args.summary_file:
        with open(args.summary_file, "w") as f:
            f.write(f"{passed} {failed}\n")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
