#!/usr/bin/env python3
"""The layering the README promises, checked from the sources' #include lines (`make
check-layers`; `make test` runs it first). Exit 0 when every rule holds, else 1 with one line
per violation: file:line, the include, the rule it breaks.

Rules, for the product's sources (common/, client/, cache/, fs/; tests and bench may reach
a module's internals):
  1. Dependencies point one way, fs -> cache -> client -> common: no layer includes a header
     of a layer above it.
  2. Only fs/ includes FUSE; cache/ and fs/ include no curl (client/ speaks HTTP).
  3. The fleet is one room, client/fleet/, with one public header: outside client/fleet/, the
     only header of the room included is client/fleet/fleet.h.
  4. The etcd gateway client (client/fleet/etcd/) knows nothing of the fleet: it includes
     only its own folder, client/'s shared headers and common/; and its code (comments and
     strings left out) names no fleet concept (fleet, claim, slot, record, member, export,
     account). "range" is not checked: it is etcd's own word (/v3/kv/range, range_end).
  5. The coordination reaches the gateway only through client/fleet/etcd/etcd.h.
Usage: check_layers.py [ROOT] (default: the repository this script sits in).
"""
import os
import re
import sys

LAYERS = ["common", "client", "cache", "fs"]  # bottom to top
ROOM = "client/fleet"
GATEWAY = "client/fleet/etcd"
PUBLIC = "client/fleet/fleet.h"
GATEWAY_PUBLIC = "client/fleet/etcd/etcd.h"
FLEET_WORDS = re.compile(r"fleet|claim|slot|record|member|export|account", re.IGNORECASE)
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def sources(root):
    """Every .c and .h under the layers' folders, as paths relative to root."""
    for layer in LAYERS:
        for d, _, files in os.walk(os.path.join(root, layer)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def under(path, folder):
    return path == folder or path.startswith(folder + "/")


def layer_of(path):
    return path.split("/", 1)[0]


def code_only(text):
    """text without comments and string or character literals (newlines kept)."""
    pat = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return pat.sub(lambda m: "\n" * m.group(0).count("\n") + " ", text)


def check_file(root, path):
    """The violations of one source file, as strings."""
    bad = []
    with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
        text = f.read()
    src_layer = layer_of(path)
    for n, line in enumerate(text.split("\n"), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        where = "%s:%d: #include %s%s%s" % (path, n, kind, name, ">" if kind == "<" else '"')
        if kind == "<":
            if name.startswith("fuse") and src_layer != "fs":
                bad.append(where + ": only fs/ includes FUSE")
            if name.startswith("curl/") and src_layer in ("cache", "fs"):
                bad.append(where + ": cache/ and fs/ include no curl")
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(path), name))
        if layer_of(target) in LAYERS and \
                LAYERS.index(layer_of(target)) > LAYERS.index(src_layer):
            bad.append(where + ": %s/ may not include %s/ (fs -> cache -> client -> common)"
                       % (src_layer, layer_of(target)))
        if under(target, ROOM) and not under(path, ROOM) and target != PUBLIC:
            bad.append(where + ": outside %s/ include only %s" % (ROOM, PUBLIC))
        if under(path, GATEWAY) and not (under(target, GATEWAY) or
                                         os.path.dirname(target) == "client" or
                                         layer_of(target) == "common"):
            bad.append(where + ": the etcd client includes only its folder, client/*.h, "
                       "common/")
        if under(path, ROOM) and not under(path, GATEWAY) and under(target, GATEWAY) and \
                target != GATEWAY_PUBLIC:
            bad.append(where + ": the coordination reaches etcd through " + GATEWAY_PUBLIC)
    if under(path, GATEWAY):
        for n, line in enumerate(code_only(text).split("\n"), 1):
            m = FLEET_WORDS.search(line)
            if m:
                bad.append("%s:%d: '%s': the etcd client names no fleet concept"
                           % (path, n, m.group(0)))
    return bad


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = []
    count = 0
    for path in sources(root):
        count += 1
        bad += check_file(root, path)
    for b in bad:
        print(b)
    if count == 0:
        print("check_layers: no sources under " + root)
        return 1
    print("check_layers: %d files, %d violations" % (count, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
