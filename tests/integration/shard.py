"""Runs the integration suite in N processes (run.py --jobs N).

Most tests wait on I/O (a simulated export, etcd, a mount), so two processes on two cores
finish the suite in a little over half the time. Each unit of work (a module, or one class of
a module named in SPLIT) runs in its own `run.py` process; every test already binds port 0 and
works in its own mkdtemp directory, so processes share nothing. Units start longest first
(SECONDS, measured) and each free process takes the next one, so a stale figure costs balance,
never correctness. A unit's output is printed whole when it ends, never interleaved.

Tests that measure memory or a timing bound a neighbour could disturb (SERIAL) run afterwards,
alone. A failure anywhere fails the run; one summary line counts every test once."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

# Seconds of each module's parallel part, and of the longest classes of SPLIT modules, from
# a run with 2 processes on the CI machine (loaded: only their order matters much). A module
# missing here is assumed slow (DEFAULT_SECONDS) so that it starts early.
SECONDS = {
    "test_fleet": 285,
    "test_fleet.TestHolderLoss": 34,
    "test_fleet.TestFaultProxy": 30,
    "test_fleet.TestEtcdFaults": 28,
    "test_fleet.TestEtcdDown": 23,
    "test_fleet.TestThreeMembers": 23,
    "test_fleet.TestAuthExpiry": 22,
    "test_fleet.TestStaleRecord": 21,
    "test_accounts": 80,
    "test_fs": 71,
    "test_fleet_client": 65,
    "test_mogujie_simulator": 62,
    "test_faults": 58,
    "test_shared_server": 46,
    "test_ops": 31,
    "test_hostile": 29,
    "test_fs_clover": 26,
    "test_fresh": 24,
    "test_client_mogujie": 19,
    "test_fs_mogujie": 18,
    "test_clover_simulator": 17,
    "test_client_vexora": 12,
    "test_defects": 8,
    "test_client_clover": 6,
    "test_sizes": 6,
    "test_simulator": 5,
    "test_security": 5,
    "test_etcd_proxy": 4,
    "test_metrics": 3,
    "test_upgrade": 2,
    "test_bench_baseline": 0,
}
DEFAULT_SECONDS = 60.0
# Modules whose classes are separate units: they are long enough alone to unbalance the run.
SPLIT = {"test_fleet"}
# RSS growth, CPU speed, a bound on how fast orderfs exits, a ratio of read times, 1 s TTLs and
# a stopped or killed fleet holder (these two failed once each beside a neighbour on a machine
# loaded 15 deep), and the soak (64 readers: it would load its neighbour) run afterwards, alone.
SERIAL = (
    "test_defects.TestPerPathMemory",
    "test_defects.TestUnmountDuringRetrySleep",
    "test_fleet.TestFaultProxy",
    "test_fleet.TestHolderLoss",
    "test_faults.TestApiFaults.test_oversized_json_is_refused_with_bounded_memory",
    "test_fresh.TestFreshness",
    "test_hostile.TestCloverFileMemory",
    "test_mogujie_simulator.Aes128Test",
    "test_soak",
)


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def module_of(test_id):
    # A module that failed to import is a unittest.loader._FailedTest named after it.
    if test_id.startswith("unittest.loader._FailedTest."):
        return test_id.rsplit(".", 1)[1]
    return test_id.split(".", 1)[0]


def class_of(test_id):
    return test_id.rsplit(".", 1)[0]


def is_serial(test_id):
    return any(test_id == s or test_id.startswith(s + ".") for s in SERIAL)


def names_of(ids):
    """The fewest run.py names for these tests of one module, in order: a class where all of
    its tests are here, else the tests one by one (their class is set up once all the same)."""
    names = []
    for cls in dict.fromkeys(class_of(i) for i in ids):
        mine = [i for i in ids if class_of(i) == cls]
        names += [cls] if len(mine) == CLASS_SIZE[cls] else mine
    return names


CLASS_SIZE = {}


def units_of(tests):
    """(weight, [names for run.py]) for the parallel part, and the serial part's names. A unit
    is a whole module where possible (a class of a SPLIT module), less its serial tests."""
    ids = [t.id() for t in tests]
    by_module = {}
    for i in ids:
        by_module.setdefault(module_of(i), []).append(i)
        CLASS_SIZE[class_of(i)] = CLASS_SIZE.get(class_of(i), 0) + 1
    units, serial = [], []
    for mod, mids in by_module.items():
        weight = SECONDS.get(mod, DEFAULT_SECONDS)
        if mids[0].startswith("unittest.loader."):  # it failed to import: run.py says why
            units.append((weight, [mod]))
            continue
        ser = [i for i in mids if is_serial(i)]
        par = [i for i in mids if not is_serial(i)]
        serial += names_of(ser)
        if not par:
            continue
        if mod in SPLIT:
            classes = list(dict.fromkeys(class_of(i) for i in mids))
            for cls in dict.fromkeys(class_of(i) for i in par):
                units.append((SECONDS.get(cls, weight / len(classes)),
                              names_of([i for i in par if class_of(i) == cls])))
        elif ser:
            units.append((weight, names_of(par)))
        else:
            units.append((weight, [mod]))
    units.sort(key=lambda u: -u[0])
    return units, serial


def run_unit(names, out_dir, index):
    """One run.py process; (its output, its results dict, seconds)."""
    res_file = os.path.join(out_dir, f"unit{index}.json")
    log_file = os.path.join(out_dir, f"unit{index}.log")
    start = time.monotonic()
    with open(log_file, "wb") as log:
        rc = subprocess.call([sys.executable, os.path.join(HERE, "run.py"),
                              "--results-file", res_file, *names],
                             stdout=log, stderr=subprocess.STDOUT)
    took = time.monotonic() - start
    with open(log_file, errors="replace") as f:
        text = f.read()
    try:
        with open(res_file) as f:
            res = json.load(f)
    except (OSError, ValueError):
        res = None
    if res is None or (rc != 0 and res["failed"] == 0):
        # It died before reporting, or exited non-zero without a failure: one failure.
        res = res or {"passed": 0, "failed": 0, "skipped": 0, "durations": {},
                      "class_durations": {}}
        res["failed"] += 1
        res.setdefault("failed_ids", []).append("run.py " + " ".join(names))
        text += f"\nrun.py {' '.join(names)} exited with status {rc} without reporting it\n"
    return text, res, took


def run_sharded(tests, jobs, out):
    """Runs the tests in jobs processes, then the serial ones; returns the merged results."""
    units, serial = units_of(tests)
    total = {"passed": 0, "failed": 0, "skipped": 0, "durations": {}, "class_durations": {},
             "failed_ids": []}
    lock = threading.Lock()
    queue = list(enumerate(units))
    out_dir = tempfile.mkdtemp(prefix="orderfs-itest-")

    def report(names, text, res, took):
        with lock:
            out.write(f"\n=== {' '.join(names)} ({took:.1f} s) ===\n{text}")
            out.flush()
            for k in ("passed", "failed", "skipped"):
                total[k] += res[k]
            total["durations"].update(res["durations"])
            total["failed_ids"] += res.get("failed_ids", [])
            for cls, secs in res["class_durations"].items():  # a class may run in both parts
                total["class_durations"][cls] = total["class_durations"].get(cls, 0) + secs

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, (_, names) = queue.pop(0)
            report(names, *run_unit(names, out_dir, index))

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.write(f"\nparallel part ({jobs} processes): {time.monotonic() - start:.1f} s\n")
    if serial:
        start = time.monotonic()
        report(serial, *run_unit(serial, out_dir, len(units)))
        out.write(f"serial part: {time.monotonic() - start:.1f} s\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    return total
