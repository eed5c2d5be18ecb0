#!/usr/bin/env python3
"""The house's import circles, measured from what the built objects call (`make
check-circles`; `make test` runs it with the unit tests). Exit 0 when every rule holds, else 1
with one line per broken rule.

A source file A "imports" B when A's object file uses a symbol B's object defines (nm -P:
undefined in A, defined in B). This is the real dependency: a shared internal header cannot
hide a circle, and a header that declares nothing used does not make one. A circle is a
strongly connected set of such files.

Rules, for the product's sources (common/, client/, cache/, fs/):
  1. No circle spans two folders: a folder's files may call another folder's, or be called by
     it, but not both; and the folders themselves call one way (the graph of folders, an edge
     where any file of one uses a symbol of the other, has no circle).
  2. No circle holds more than MAX_CIRCLE files.
  3. client/ holds no provider-specific file at its top level: every provider folder's files
     are its own, and no file at client/'s top level uses a symbol of a provider folder.
  4. A provider folder's files use only their own folder, client/'s top level and common/
     (no other provider, no room of client/), so a provider's unit tests link its folder,
     client/'s shared files and common/ alone.
Usage: check_circles.py BUILD [ROOT]  (BUILD: the build directory holding the .o files).
"""
import os
import subprocess
import sys

LAYERS = ["common", "client", "cache", "fs"]
MAX_CIRCLE = 4
# client/'s folders that are not providers: the fleet's room and the shared store client.
CLIENT_ROOMS = {"fleet", "store"}


def sources(root):
    """Every .c under the layers' folders, as paths relative to root (no extension)."""
    for layer in LAYERS:
        for d, _, files in os.walk(os.path.join(root, layer)):
            for f in sorted(files):
                if f.endswith(".c"):
                    yield os.path.relpath(os.path.join(d, f), root)[:-2]


def symbols(obj):
    """(defined, used) global symbol sets of one object file."""
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in "TDBRCVWG":
            defined.add(name)
    return defined, used


def import_graph(build, mods):
    """{module: set(modules it uses a symbol of)}; raises on a missing object."""
    owner, uses = {}, {}
    for m in mods:
        obj = os.path.join(build, m + ".o")
        if not os.path.exists(obj):
            raise FileNotFoundError(obj + ": not built (run make tests-build first)")
        defined, used = symbols(obj)
        for s in defined:
            owner.setdefault(s, m)
        uses[m] = used
    return {m: {owner[s] for s in used if s in owner and owner[s] != m}
            for m, used in uses.items()}


def circles(graph):
    """The strongly connected sets of more than one module (Tarjan, iterative)."""
    index, low, on, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


# The providers orderfs speaks today (fs/mount/providers.c's table); a new one's folder counts too.
KNOWN_PROVIDERS = {"vexora", "clover", "mogujie"}


def provider_folders(root):
    client = os.path.join(root, "client")
    return sorted(KNOWN_PROVIDERS | {d for d in os.listdir(client)
                                     if os.path.isdir(os.path.join(client, d)) and
                                     d not in CLIENT_ROOMS})


def folder_circles(graph):
    """Rule 1 between folders: a violation for each circle of folders, with (up to two of)
    the calls of each edge inside it."""
    folders = {}
    calls = {}
    for m, deps in graph.items():
        a = os.path.dirname(m)
        folders.setdefault(a, set())
        for d in deps:
            b = os.path.dirname(d)
            folders.setdefault(b, set())
            if a != b:
                folders[a].add(b)
                calls.setdefault((a, b), []).append("%s -> %s" % (m, d))
    bad = []
    for comp in circles(folders):
        inside = set(comp)
        edges = [c for (a, b), cs in sorted(calls.items())
                 if a in inside and b in inside for c in sorted(cs)[:2]]
        bad.append("folders call each other: %s (%s)" % (" ".join(comp), "; ".join(edges)))
    return bad


def check(root, build):
    mods = list(sources(root))
    graph = import_graph(build, mods)
    bad = []
    for comp in circles(graph):
        folders = sorted({os.path.dirname(m) for m in comp})
        if len(folders) > 1:
            bad.append("circle spans folders %s: %s" % (", ".join(folders), " ".join(comp)))
        if len(comp) > MAX_CIRCLE:
            bad.append("circle of %d files (at most %d): %s"
                       % (len(comp), MAX_CIRCLE, " ".join(comp)))
    bad += folder_circles(graph)
    providers = provider_folders(root)
    for m in mods:
        if os.path.dirname(m) != "client":
            continue
        base = os.path.basename(m)
        for p in providers:
            if base.startswith(p):
                bad.append("%s: a provider's file at client/'s top level (belongs in client/%s/)"
                           % (m, p))
        for dep in sorted(graph[m]):
            if os.path.dirname(dep).split("/")[:2] in [["client", p] for p in providers]:
                bad.append("%s uses %s: client/'s shared files know no provider" % (m, dep))
    for m in mods:
        parts = m.split("/")
        if len(parts) < 3 or parts[0] != "client" or parts[1] not in providers:
            continue
        for dep in sorted(graph[m]):
            d = dep.split("/")
            if d[:2] != parts[:2] and os.path.dirname(dep) != "client" and d[0] != "common":
                bad.append("%s uses %s: a provider uses only its folder, client/'s top level "
                           "and common/" % (m, dep))
    return len(mods), bad


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    build = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        count, bad = check(root, build)
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        print("check_circles: %s" % e)
        return 1
    for b in bad:
        print(b)
    print("check_circles: %d files, %d violations" % (count, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
