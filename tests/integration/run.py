#!/usr/bin/env python3
"""Runs every tests/integration/test_*.py with unittest and writes "PASSED FAILED" to
--summary-file. Skipped tests are reported and never counted as passed."""
import argparse
import os
import sys
import time
import unittest

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


def report_durations(result, out):
    """The slowest tests and classes, so a slow change shows in every run's log."""
    for title, table in (("tests", result.durations), ("classes", result.class_durations)):
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:SLOWEST]
        out.write(f"\nslowest {len(rows)} {title}:\n")
        for name, secs in rows:
            out.write(f"  {secs:7.2f} s  {name}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--summary-file")
    ap.add_argument("-k", dest="pattern", help="only tests whose id contains this")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if args.modules:
        suite = unittest.TestSuite(loader.loadTestsFromName(m) for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.pattern:
        def flatten(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from flatten(t)
                else:
                    yield t
        suite = unittest.TestSuite(t for t in flatten(suite) if args.pattern in t.id())
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout,
                                     resultclass=TimedResult).run(suite)
    report_durations(result, sys.stdout)
    # A test can both fail and error (e.g. in tearDown): count each test once.
    failed = len({t.id() for t, _ in result.failures + result.errors}) + \
        len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
    print(f"integration: {passed} passed, {failed} failed, {len(result.skipped)} skipped")
    if args.summary_file:
        with open(args.summary_file, "w") as f:
            f.write(f"{passed} {failed}\n")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
