#!/usr/bin/env python3
"""Writes the cache directories test_upgrade.py serves: a release's orderfs (ORDERFS=path)
mounted against the simulators reads every file of one small range (Clover: orders and
payments; Vexora: orders), unmounts, and the cache directory it left is copied under
tests/integration/fixtures/upgrade/<provider>/. Prints the SHA-256 of each file as that binary
served it, for test_upgrade.py. The simulators' files expire ~95 years on, so the fixture
never does. Usage (from the top of the tree):

    ORDERFS=/work/orderfs-main-1b337a1 /usr/bin/python3 \
        tests/integration/make_upgrade_fixture.py 2026-11-20..2026-11-20
"""
import hashlib
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mount  # noqa: E402
from clover_simulator import CloverSimulator  # noqa: E402
from simulator import Simulator  # noqa: E402

FIXTURES = os.path.join(HERE, "fixtures", "upgrade")
TTL_S = "3000000000"  # ~95 years: the fixture's files never expire
CLOVER_ARGS = ("--seed", "1", "--file-ttl-s", TTL_S, "--pending-s", "0.1", "--progress-s",
               "0.2", "--orders-per-day", "5", "--payments-per-day", "4")
VEXORA_ARGS = ("--seed", "1", "--file-ttl-s", TTL_S, "--rows", "10", "--pending-s", "0.1",
               "--generating-s", "0.2")


def clover_mount(sim, cache_dir):
    m = mount.Mount(sim, cache_dir=cache_dir, start=False, settings={
        "provider": "clover", "base_url": sim.url, "merchant_id": sim.merchant,
        "region": "sandbox", "retry_limit": "3"})
    with open(m.config, "a") as f:
        f.write(f"token_file = {m.secret_file}\n")
    m.start()
    return m


def read_all(m, r):
    """Read every file of the range (members appear once the exports are READY)."""
    d = m.path("exports", r)
    for _ in range(2):
        shas = {}
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                continue
            with open(os.path.join(d, name), "rb") as f:
                shas[name] = hashlib.sha256(f.read()).hexdigest()
    return shas


def make(name, sim, make_mount, r):
    cache = os.path.join(sim.tmp, "cache")
    m = make_mount(sim, cache)
    try:
        shas = read_all(m, r)
    finally:
        m.umount()
    out = os.path.join(FIXTURES, name)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(cache, out, ignore=shutil.ignore_patterns("orderfs.lock"))
    return shas


def main():
    mount.ORDERFS = os.environ["ORDERFS"]
    r = sys.argv[1]
    result = {"range": r}
    sim = CloverSimulator(args=CLOVER_ARGS)
    try:
        result["clover"] = make("clover", sim, clover_mount, r)
    finally:
        sim.stop()
    sim = Simulator(args=VEXORA_ARGS)
    try:
        result["vexora"] = make("vexora", sim, lambda s, c: mount.Mount(s, cache_dir=c), r)
    finally:
        sim.stop()
    print(json.dumps(result, indent=4, sort_keys=True))


if __name__ == "__main__":
    main()
