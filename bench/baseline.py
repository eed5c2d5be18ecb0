"""The change of each bench row against the figures committed with the README table.

`bench/out/results.csv` is what the README quotes; a run compares its rows with it by
(item, measure) and marks any row that got more than WORSE_PCT worse, so a regression of that
size shows on the next run. It reports; it never fails the run (speeds are noisy on shared
machines, and `make test` must not turn red on a slow neighbour).

Which way is worse comes from the row's target (`>= x`: lower is worse, `<= x`: higher is
worse); a row with no target ("report") shows its change without a mark. A row whose baseline
is zero or missing shows "new".
"""
import csv
import os
import subprocess

WORSE_PCT = 15.0
MIN_POINTS = 2.0


def load(path):
    """Rows of a results.csv keyed by (item, measure); {} when the file is absent."""
    try:
        with open(path, newline="") as f:
            return {(r["item"], r["measure"]): r for r in csv.DictReader(f)}
    except (OSError, KeyError, csv.Error):
        return {}


def direction(target):
    """+1 when higher is better, -1 when lower is better, 0 when the row has no goal."""
    if target.startswith(">="):
        return 1
    if target.startswith("<="):
        return -1
    return 0


def change(row, base):
    """(text, worse) for one row against its baseline row (None: not in the baseline).

    A ratio or a time changes relative to the baseline's median. A row measured in % (an
    overhead over a floor, which can sit near 0) changes in percentage points, and counts as
    worse when it grew by more than WORSE_PCT of its old value and by more than
    MIN_POINTS points, so 14 % -> 30 % is marked and 0.5 % -> 1.5 % is not."""
    if base is None:
        return "new", False
    try:
        old = float(base["median"])
    except (TypeError, ValueError):
        return "new", False
    new = row["median"]
    sense = direction(row["target"])
    if row.get("unit") == "%":
        pts = new - old
        worse = sense != 0 and -sense * pts > max(MIN_POINTS, abs(old) * WORSE_PCT / 100)
        return f"{pts:+.1f} pp", worse
    if old == 0:
        return ("=" if new == 0 else "new"), False
    pct = (new - old) / abs(old) * 100.0
    worse = sense != 0 and -sense * pct > WORSE_PCT
    return f"{pct:+.1f} %", worse


def annotate(rows, baseline):
    """Sets row['vs_base'] and row['worse'] on every row; returns the rows marked worse."""
    worse = []
    for r in rows:
        text, bad = change(r, baseline.get((str(r["item"]), r["what"])))
        r["vs_base"] = text + (" WORSE" if bad else "")
        r["worse"] = bad
        if bad:
            worse.append(r)
    return worse


def from_csv(r):
    """A results.csv row in the form bench.py keeps its rows in."""
    t = r["target"]
    return {"item": r["item"], "what": r["measure"], "unit": r["unit"],
            "median": float(r["median"]), "min": float(r["min"]), "max": float(r["max"]),
            "runs": int(r["runs"]), "target": t, "result": r["result"], "note": r["note"],
            "goal": float(t[3:]) if t[:2] in (">=", "<=") else None,
            "higher": t.startswith(">=")}


def merge(rows, baseline):
    """The rows to write after a run of only some items: the baseline's rows of every item
    this run did not measure, then this run's rows, in item order. A partial run (`bench.py
    fleet`) thus updates its own rows of results.csv without dropping the others'."""
    run = {str(r["item"]) for r in rows}
    kept = [from_csv(b) for b in baseline.values() if b["item"] not in run]
    for r in kept:
        r["vs_base"], r["worse"] = "kept", False
    order = {}
    for i, r in enumerate(kept + rows):
        order[id(r)] = i
    key = (lambda r: (int(r["item"]) if str(r["item"]).isdigit() else 999, order[id(r)]))
    return sorted(kept + rows, key=key)


def describe(path):
    """A line saying what the comparison is against: the file and the commit that last
    changed it, when git knows."""
    try:
        rev = subprocess.run(["git", "log", "-1", "--format=%h %cs", "--", path],
                             cwd=os.path.dirname(path), capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = ""
    return f"change vs {os.path.basename(path)}" + (f" of {rev}" if rev else "") + \
        f" (rows more than {WORSE_PCT:.0f} % worse are marked WORSE)"
