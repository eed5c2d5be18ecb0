"""The short soak inside `make test`: SOAK_SECONDS (default 30) of 64 readers across 20
ranges with faults on. `make soak` runs the same thing for longer (tests/soak.sh)."""
import os
import unittest

from soak import Soak


class TestSoak(unittest.TestCase):
    def test_soak_short(self):
        seconds = float(os.environ.get("SOAK_SECONDS", "30"))
        lines = []
        s = Soak(seconds, log=lines.append)
        ok = s.run()
        print("\n  " + "\n  ".join(lines), end=" ")
        self.assertTrue(ok, "\n".join(s.failures[:20]))
        self.assertGreater(s.figures["rounds"], 0)


if __name__ == "__main__":
    unittest.main()
