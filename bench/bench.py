#!/usr/bin/env python3
"""orderfs benchmarks (`make bench`): orderfs against local disk, curl and rclone mount.

Every figure is a ratio measured in this one run (absolute times on shared machines are noisy;
ratios are what we track): the median of several runs, with min and max, warm-up runs
discarded. hyperfine runs the commands where it fits; the rest is timed here with
time.perf_counter_ns. Prints a table with the target and PASS/MISS per row and writes
bench/out/results.csv and bench/out/results.png (gnuplot).

The provider is contrib/vexora_sim.py (stored xlsx, ~448 bytes a row), one data dir for the
whole run so each file is generated once; orderfs runs with its default configuration except
the keys each item is about (max_exports) and log_level.

Item 10 (fleet mode) starts a real etcd (Debian's etcd-server) on loopback and mounts three
hosts of one fleet, each with its own cache_dir and fleet_host.

Item 12 (shared store) starts a real radosgw on loopback (tests/integration/s3_server.py):
provider downloads per range with three hosts of one fleet sharing the store, a new host's
first read of a stored file against curl's signed GET of the same object, and what the
background upload costs the exporting host's cold cp.

Item 11 (many merchants) mounts 200 accounts from accounts_dir: `ls MOUNT` and the resident
memory once all have started.

Environment: BUILD (build dir holding orderfs, default build/release), BENCH_QUICK=1 (fewer
runs, for development), BENCH_KEEP=1 (keep the temp dir).
"""
import csv
import datetime
import hashlib
import importlib.util
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build/release")
ORDERFS = os.path.join(ROOT, BUILD, "orderfs")
OUT = os.path.join(ROOT, "bench", "out")
PYTHON = sys.executable or "/usr/bin/python3"
QUICK = os.environ.get("BENCH_QUICK") == "1"
if QUICK:  # bench/out holds the full run's figures (quoted in the README): keep them
    OUT = os.path.join(ROOT, "build", "bench-quick")
SECRET = "bench-s3cr3t"
MERCHANT = "M4242"
ROW_BYTES = 448  # stored xlsx (every cell carries its reference), measured
MIB = 1024 * 1024
# Quick mode (BENCH_QUICK=1, run by `make test` so the benchmark cannot rot) measures the same
# rows on smaller files and a shorter export, in about a minute; its figures are not the ones
# the README quotes.
BIG = (64 if QUICK else 256) * MIB        # items 1-5
HUGE = (256 if QUICK else 1024) * MIB     # item 6, the flat-memory check
HUGE_LABEL = "256 MiB" if QUICK else "1 GiB"

# The simulator imports its siblings (sim_serve): contrib/ must be on the path, as when it runs
# as a script.
sys.path.insert(0, os.path.join(ROOT, "contrib"))
_spec = importlib.util.spec_from_file_location(
    "vexora_sim", os.path.join(ROOT, "contrib", "vexora_sim.py"))
vexora_sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vexora_sim)
# Item 10 starts a real etcd with the integration tests' helper.
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import etcd as etcd_server  # noqa: E402
import s3_server  # noqa: E402
from etcd_proxy import EtcdProxy  # noqa: E402
import baseline  # noqa: E402  (bench/, beside this file)

# The figures the README quotes, committed: every run prints its change against them.
BASELINE_CSV = os.path.join(ROOT, "bench", "out", "results.csv")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def now_s():
    return time.perf_counter_ns() / 1e9


def wait_for(cond, timeout=60, what="condition", interval=0.001):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_all(path, bufsize=128 * 1024):
    """Read a file to EOF like cat does; returns the byte count."""
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(bufsize)
            if not b:
                return n
            n += len(b)


def hyperfine(cmds, runs, warmup, shell=True):
    """Times of each command (seconds, warm-ups discarded) measured by hyperfine."""
    js = tempfile.mktemp(suffix=".json")
    args = ["hyperfine", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
            "--export-json", js]
    if not shell:
        args.append("-N")
    subprocess.run(args + list(cmds), check=True, stdout=subprocess.DEVNULL)
    with open(js) as f:
        res = json.load(f)["results"]
    os.unlink(js)
    return [r["times"] for r in res]


def timed(fn, runs, warmup):
    out = []
    for i in range(warmup + runs):
        t0 = time.perf_counter_ns()
        fn()
        dt = (time.perf_counter_ns() - t0) / 1e9
        if i >= warmup:
            out.append(dt)
    return out


def etcd_metrics(url):
    """etcd's own counters (/metrics): gRPC calls started, proposals committed (writes)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {"grpc": 0.0, "proposals": 0.0}
    for line in text.splitlines():
        if line.startswith("grpc_server_started_total"):
            out["grpc"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("etcd_server_proposals_committed_total"):
            out["proposals"] = float(line.rsplit(" ", 1)[1])
    return out


def cpu_s(pids):
    """CPU seconds (user + system) the processes pids have used so far (children waited
    for included); a process gone counts 0."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def provider_calls(before, after):
    """The simulator's requests between two /_sim/stats, by endpoint (counters only)."""
    return {k: after[k] - before.get(k, 0) for k in after
            if isinstance(after[k], int) and after[k] - before.get(k, 0) > 0}


def ratios(num, den):
    """Per-run ratios num[i]/den[i] (runs paired in order)."""
    return [a / b for a, b in zip(num, den) if b > 0]


# --------------------------------------------------------------------------- the simulator

class Sim:
    def __init__(self, work):
        self.dir = os.path.join(work, "sim")
        os.makedirs(self.dir)
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "sim.log"), "wb")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(ROOT, "contrib", "vexora_sim.py"), "--port", "0",
             "--port-file", port_file, "--secret", SECRET, "--merchant", MERCHANT,
             "--data-dir", os.path.join(self.dir, "data"), "--compression", "stored",
             "--quiet"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(port_file) or self.proc.poll() is not None,
                 what="simulator port")
        if self.proc.poll() is not None:
            raise RuntimeError("simulator did not start")
        self.url = "http://127.0.0.1:" + open(port_file).read().strip()
        self.settings = {}

    def _post(self, path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method="POST", headers=h)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def configure(self, **kw):
        self.settings.update(kw)
        return self._post("/_sim/config", kw)

    def stats(self):
        with urllib.request.urlopen(self.url + "/_sim/stats", timeout=30) as r:
            return json.loads(r.read())

    def gen_s(self):
        return self.settings["pending_s"] + self.settings["generating_s"]

    def api(self, name, **fields):
        body = dict(fields, timestamp=int(time.time() * 1000))
        body["sign"] = vexora_sim.compute_sign(body, SECRET)
        r = self._post("/nigeria/v1/vexora/orderExport/" + name, body,
                       {"merchantNo": MERCHANT})
        if not r.get("success"):
            raise RuntimeError(f"{name}: {r}")
        return r["data"]

    def export_url(self, day):
        """Apply for day..day, wait until generated, return a download URL."""
        d = self.api("apply", startTime=f"{day} 00:00:00", endTime=f"{day} 23:59:59",
                     reportType="order", language="en-US")
        tid = d["id"] if isinstance(d, dict) else d
        wait_for(lambda: self.api("status", id=tid)["status"] == "2", timeout=120,
                 what="simulated export", interval=0.05)
        return self.api("downloadUrl", id=tid)["downloadUrl"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


# --------------------------------------------------------------------------- orderfs mounts

class Orderfs:
    """One orderfs process in the foreground, its own config; cache_dir may be shared."""
    n = 0

    def __init__(self, work, sim, cache_dir, settings=None):
        Orderfs.n += 1
        self.dir = os.path.join(work, f"mount{Orderfs.n}")
        self.mnt = os.path.join(self.dir, "mnt")
        os.makedirs(self.mnt)
        self.cache_dir = cache_dir
        secret = os.path.join(self.dir, "secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        cfg = {"provider": "vexora", "base_url": sim.url + "/nigeria",
               "merchant_no": MERCHANT, "secret_file": secret, "cache_dir": cache_dir,
               "log_level": "notice"}
        cfg.update(settings or {})
        self.config = os.path.join(self.dir, "orderfs.conf")
        with open(self.config, "w") as f:
            for k, v in cfg.items():
                f.write(f"{k} = {v}\n")
        self.proc = None

    def start(self):
        """Start it; returns seconds from exec to the mount showing in /proc/mounts."""
        self.log = open(os.path.join(self.dir, "orderfs.log"), "ab")
        t0 = now_s()
        self.proc = subprocess.Popen([ORDERFS, "-f", self.config, self.mnt],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: is_mounted(self.mnt) or self.proc.poll() is not None,
                 what="orderfs mount", interval=0.0005)
        t = now_s() - t0
        if self.proc.poll() is not None:
            raise RuntimeError("orderfs did not mount: " + open(self.log.name).read())
        return t

    def path(self, day, name="orders.xlsx"):
        return os.path.join(self.mnt, "exports", f"{day}..{day}", name)

    def status(self, day):
        with open(self.path(day, ".status")) as f:
            return json.load(f)

    def data_file(self, day):
        """The cache's .data file of a ready day (from .status: the sha256 names no path, so
        find it by the key hash)."""
        key = f"vexora|{MERCHANT}|order|en-US|{day}|{day}"
        return os.path.join(self.cache_dir, "v1", hashlib.sha256(key.encode()).hexdigest()
                            + ".data")

    def hwm_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc is None:
            return
        subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.proc = None


# --------------------------------------------------------------------------- results

ROWS = []


def add_row(item, what, unit, vals, target, ok, note=""):
    med = statistics.median(vals)
    row = {"item": item, "what": what, "unit": unit, "median": med, "min": min(vals),
           "max": max(vals), "runs": len(vals), "target": target,
           "result": "-" if ok is None else "PASS" if ok(med) else "MISS", "note": note,
           "goal": None, "higher": True}
    ROWS.append(row)
    log(f"  {item} {what}: median {fmt(med)} {unit} (min {fmt(min(vals))}, max "
        f"{fmt(max(vals))}, n={len(vals)}) target {target} -> {row['result']} {note}")


def fmt(v):
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def table():
    head = ("#", "measure", "median", "min", "max", "n", "target", "result", "vs base",
            "note")
    lines = [head]
    for r in ROWS:
        lines.append((str(r["item"]), r["what"], (fmt(r["median"]) + " " + r["unit"]).strip(),
                      fmt(r["min"]), fmt(r["max"]), str(r["runs"]), r["target"],
                      r["result"], r.get("vs_base", "-"), r["note"]))
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(l) + " |" for l in lines[1:]]
    return "\n".join(out)


def write_outputs(header):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "measure", "unit", "median", "min", "max", "runs", "target",
                    "result", "note"])
        for r in ROWS:
            w.writerow([r["item"], r["what"], r["unit"], f"{r['median']:.4g}",
                        f"{r['min']:.4g}", f"{r['max']:.4g}", r["runs"], r["target"],
                        r["result"], r["note"]])
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(header + "\n\n" + table() + "\n")
    plot(header)


def plot(header):
    """One bar per row: the median as a fraction of its target (>= 1 is good), with min/max."""
    dat = os.path.join(OUT, ".results.dat")
    with open(dat, "w") as f:
        for i, r in enumerate(r for r in ROWS if r["goal"]):
            goal, higher = r["goal"], r["higher"]
            if higher:
                m, lo, hi = (r["median"] / goal, r["min"] / goal, r["max"] / goal)
            else:
                m, lo, hi = (goal / max(r["median"], 1e-9), goal / max(r["max"], 1e-9),
                             goal / max(r["min"], 1e-9))
            m, lo, hi = (min(max(v, 0.1), 100) for v in (m, lo, hi))
            label = f"{r['item']} {r['what']}".replace('"', "'")
            color = 0x4477AA if r["result"] == "PASS" else 0xCC3311
            f.write(f'{i} "{label}" {m:.4f} {lo:.4f} {hi:.4f} {color}\n')
    gp = f"""set terminal pngcairo size 1400,760 noenhanced font ',9'
set lmargin 24
set bmargin 14
set output '{os.path.join(OUT, "results.png")}'
set title "{header.splitlines()[0]}\\neach bar: median / target (>= 1 meets it; red: missed), whiskers: min..max"
set style fill solid 0.6
set boxwidth 0.6
set logscale y
set yrange [0.1:*]
set grid ytics
set xtics rotate by 30 right
set ylabel 'fraction of target (log)'
plot '{dat}' using 1:3:6:xtic(2) with boxes lc rgb variable notitle, \\
     '' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 notitle, \\
     1 with lines lc rgb 'red' dt 2 title 'target'
"""
    try:
        subprocess.run(["gnuplot"], input=gp.encode(), check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"gnuplot failed: {e}")
    finally:
        os.unlink(dat)


def target(item, what, unit, vals, goal, higher, note=""):
    """A row whose target is 'median >= goal' (higher) or 'median <= goal'."""
    t = (">= " if higher else "<= ") + fmt(goal)
    add_row(item, what, unit, vals, t, (lambda m: m >= goal) if higher else
            (lambda m: m <= goal), note)
    ROWS[-1]["goal"], ROWS[-1]["higher"] = goal, higher


# --------------------------------------------------------------------------- the items

def step_breakdown(steps, t0, t_cp):
    """One cold cp's time per step from .status steps_ms (README ".status"), in ms: from the
    cp's start to apply, between each step and the next, and from ready to the cp's end."""
    names = ["applied", "generated", "url", "first_byte", "last_byte", "synced", "ready"]
    marks = [("start", t0 * 1000)] + [(n, steps[n]) for n in names if steps.get(n)]
    marks.append(("cp end", (t0 + t_cp) * 1000))
    return ", ".join(f"{a}->{b} {tb - ta:.0f}" for (a, ta), (b, tb) in zip(marks, marks[1:]))


def rows_for(size):
    return max(1, size // ROW_BYTES)


class Bench:
    def __init__(self, work):
        self.work = work
        self.sim = Sim(work)
        self.today = datetime.date.today()
        self.runs = 3 if QUICK else 7
        self.cold_runs = 2 if QUICK else 4
        # the provider's export time
        self.pending_s, self.generating_s = (0.1, 0.4) if QUICK else (0.5, 2.5)

    def day(self, back):
        return (self.today - datetime.timedelta(days=back)).isoformat()

    def settle(self):
        """Between items: remove what the last one left in the work directory (its caches,
        copies, servers' files: every item makes its own) and write back what is dirty, so the
        next item's rows do not pay for the last one's files (memory they hold, writeback)."""
        t0 = time.monotonic()
        freed = 0
        for name in os.listdir(self.work):
            p = os.path.join(self.work, name)
            if name == "sim" or os.path.ismount(p):
                continue
            for d, _, files in os.walk(p):
                freed += sum(os.path.getsize(os.path.join(d, f)) for f in files
                             if os.path.isfile(os.path.join(d, f)))
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        os.sync()
        log(f"  (settled: {freed / MIB:.0f} MiB of the item's files removed, synced, "
            f"{time.monotonic() - t0:.2f} s)")

    def new_cache(self, name):
        d = os.path.join(self.work, "cache-" + name)
        shutil.rmtree(d, ignore_errors=True)
        return d

    def mount(self, cache_dir, **settings):
        m = Orderfs(self.work, self.sim, cache_dir, settings)
        m.start()
        return m

    def fill(self, m, day, size, dest=os.devnull):
        self.sim.configure(rows=rows_for(size))
        shutil.copyfile(m.path(day), dest)
        st = m.status(day)
        if st.get("state") != "ready":
            raise RuntimeError(f"{day} not ready: {st}")
        return st["size"]

    # 1, 2, 3: reads of a ready 256 MiB file
    def reads(self):
        day = self.day(20)
        self.sim.configure(pending_s=0.1, generating_s=0.1)
        cache = self.new_cache("reads")
        m = self.mount(cache)
        try:
            size = self.fill(m, day, BIG)
            log(f"1 warm read: {size / MIB:.0f} MiB file ready")
            data, path = m.data_file(day), m.path(day)
            read_all(path)
            read_all(data)
            t_mnt, t_dir = hyperfine([f"cat {path} > /dev/null", f"cat {data} > /dev/null"],
                                     self.runs, 3)
            target("1", "warm read: mount / cache file", "x", ratios(t_dir, t_mnt), 0.8, True,
                   f"{size / MIB / statistics.median(t_mnt):.0f} MiB/s via mount")
        finally:
            m.stop()

        log("2 first read on a fresh mount, same cache")
        rs = []
        for i in range(self.runs + 1):
            m = self.mount(cache)
            try:
                read_all(data)  # the cache file itself is warm for both readers
                t0 = now_s()
                subprocess.run(["cat", m.path(day)], stdout=subprocess.DEVNULL, check=True)
                t_m = now_s() - t0
            finally:
                m.stop()
            # The mount's splice may have moved the cache file's pages into the mount's own
            # page cache (SPLICE_MOVE): warm it again so both readers start alike.
            read_all(data)
            t0 = now_s()
            subprocess.run(["cat", data], stdout=subprocess.DEVNULL, check=True)
            t_d = now_s() - t0
            if i:
                rs.append(t_d / t_m)
        target("2", "first read, fresh mount: mount / cache file", "x", rs, 0.5, True)

        log("3 rclone mount --vfs-cache-mode full of the same file served by nginx")
        m = self.mount(cache)
        ng = rc = None
        try:
            www = os.path.join(self.work, "www")
            os.makedirs(www)
            os.link(data, os.path.join(www, "orders.xlsx"))
            ng, url = self.nginx(www)
            rc, rmnt = self.rclone(url)
            rpath = os.path.join(rmnt, "orders.xlsx")
            path = m.path(day)
            if read_all(rpath) != size:
                raise RuntimeError("rclone served a different size")
            read_all(path)
            t_mnt, t_rc = hyperfine([f"cat {path} > /dev/null", f"cat {rpath} > /dev/null"],
                                    self.runs, 3)
            target("3", "warm read: orderfs / rclone", "x", ratios(t_rc, t_mnt), 5.0, True,
                   f"rclone {size / MIB / statistics.median(t_rc):.0f} MiB/s")
        finally:
            if rc:
                subprocess.run(["fusermount3", "-u", rmnt], capture_output=True)
                rc.wait(30)
            if ng:
                ng.terminate()
                ng.wait(10)
            m.stop()

    def nginx(self, www):
        d = os.path.join(self.work, "nginx")
        os.makedirs(d)
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off; master_process off; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{ listen 127.0.0.1:{port}; root {www}; autoindex on; }}
}}
""")
        p = subprocess.Popen(["nginx", "-c", conf, "-p", d + "/", "-e", d + "/error.log"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return p.poll() is not None
        wait_for(up, what="nginx")
        if p.poll() is not None:
            raise RuntimeError("nginx did not start: " + open(d + "/error.log").read())
        return p, f"http://127.0.0.1:{port}/"

    def rclone(self, url):
        d = os.path.join(self.work, "rclone")
        mnt = os.path.join(d, "mnt")
        os.makedirs(mnt)
        env = dict(os.environ, RCLONE_CONFIG=os.path.join(d, "none.conf"))
        p = subprocess.Popen(["rclone", "mount", ":http:", mnt, "--http-url", url,
                              "--vfs-cache-mode", "full", "--cache-dir", d + "/cache",
                              "--read-only"], env=env,
                             stdout=open(d + "/rclone.log", "wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: is_mounted(mnt) or p.poll() is not None, what="rclone mount")
        if p.poll() is not None:
            raise RuntimeError("rclone did not mount: " + open(d + "/rclone.log").read())
        return p, mnt

    # 4, 5: cold end-to-end and the download path
    def cold(self):
        day = self.day(23)
        size = BIG
        self.sim.configure(pending_s=self.pending_s, generating_s=self.generating_s,
                           rows=rows_for(size))
        gen = self.sim.gen_s()
        log(f"4/5 cold cp of {size // MIB} MiB, provider export time {gen:.1f} s "
            f"(first run is a warm-up: the simulator generates the file)")
        over, dl, mibs, polls, curls, dl_sync = [], [], [], [], [], []
        for i in range(self.cold_runs + 1):
            m = self.mount(self.new_cache("cold"))
            dest = os.path.join(self.work, "cold.xlsx")
            try:
                before = self.sim.stats()
                wall0 = time.time()  # the steps are unix ms
                t0 = now_s()
                subprocess.run(["cp", m.path(day), dest], check=True)
                t_cp = now_s() - t0
                got = os.path.getsize(dest)
                polls.append(self.sim.stats()["status"] - before["status"])
                # orderfs's own step times, read once after the cp: watching .status while
                # it runs would take CPU from the download it measures.
                steps = m.status(day).get("steps_ms") or {}
            finally:
                m.stop()
            if got != size and abs(got - size) > 1 * MIB:
                log(f"  note: file is {got} bytes")
            size = got
            url = self.sim.export_url(day)
            t0 = now_s()
            subprocess.run(["curl", "-sS", "-o", dest, url], check=True)
            t_curl = now_s() - t0
            # Not part of the floor (curl -o ends with its data in the page cache; orderfs's
            # download ends with the file fsynced): the fsync curl's file would need, for the
            # note of row 5. Also leaves no writeback of it behind for the next run.
            fd = os.open(dest, os.O_RDONLY)
            try:
                t0 = now_s()
                os.fsync(fd)
                t_fsync = now_s() - t0
            finally:
                os.close(fd)
            os.unlink(dest)
            if i == 0:
                continue
            curls.append(t_curl)
            over.append((t_cp / (gen + t_curl) - 1) * 100)
            # Row 5: from the request to the download host (the URL is in) to the verified,
            # fsynced file, against curl -o's whole run (connect, transfer, close).
            if steps.get("url") and steps.get("synced"):
                t_dl = (steps["synced"] - steps["url"]) / 1000
                dl.append(t_curl / t_dl)
                dl_sync.append((t_curl + t_fsync) / t_dl)
                mibs.append((size / MIB / t_dl, size / MIB / t_curl))
            log(f"  run {i}: cp {t_cp:.2f} s, floor {gen:.2f} + curl {t_curl:.2f} s "
                f"(its fsync after: {t_fsync:.2f} s); "
                f"{step_breakdown(steps, wall0, t_cp)}")
        target("4", "cold cp overhead vs export + curl", "%", over, 10.0, False,
               f"floor: export {gen:.1f} s + curl {statistics.median(curls):.2f} s; "
               f"{statistics.median(polls[1:]):.0f} polls/export")
        if dl:
            target("5", "download: orderfs / curl -o", "x", dl, 0.95, True,
                   f"orderfs {statistics.median(m[0] for m in mibs):.0f} MiB/s, curl "
                   f"{statistics.median(m[1] for m in mibs):.0f} MiB/s; against curl -o "
                   f"plus an fsync of its file {statistics.median(dl_sync):.2f}x")

    # 6: memory
    def memory(self):
        self.sim.configure(pending_s=0.1, generating_s=0.1)
        res = {}
        for label, size, day, runs in (("10 MiB", 10 * MIB, self.day(22), 3),
                                       (HUGE_LABEL, HUGE, self.day(21), 2)):
            log(f"6 peak RSS filling and serving {label}")
            vals = []
            for _ in range(runs):
                m = self.mount(self.new_cache("mem"))
                try:
                    self.fill(m, day, size)
                    read_all(m.path(day), 1024 * 1024)
                    vals.append(m.hwm_kib() / 1024)
                finally:
                    m.stop()
            res[label] = vals
            target("6", f"peak RSS, {label} file", "MiB", vals, 16.0, False)
        target("6", f"peak RSS {HUGE_LABEL} / 10 MiB (flat)", "x",
               ratios(res[HUGE_LABEL], res["10 MiB"]), 1.1, False)

    # 7: metadata
    def metadata(self):
        day = self.day(22)
        m = self.mount(self.new_cache("meta"))
        try:
            self.sim.configure(pending_s=0.1, generating_s=0.1)
            self.fill(m, day, 10 * MIB)
            ex = os.path.join(m.mnt, "exports")
            names = os.listdir(ex)
            local = os.path.join(self.work, "local-exports")
            os.makedirs(local)
            for n in names:
                os.mkdir(os.path.join(local, n))
            lfile = os.path.join(local, "orders.xlsx")
            shutil.copyfile(m.path(day), lfile)
            log(f"7 metadata: ls -l of {len(names)} entries, stat of a ready file")
            t_m, t_l = hyperfine([f"ls -l {ex}", f"ls -l {local}"], self.runs * 3, 3,
                                 shell=False)
            target("7", f"ls -l exports/ ({len(names)}): mount / local", "x",
                   ratios(t_l, t_m), 0.3, True,
                   f"{1 / statistics.median(t_m):.0f} ls/s via mount")
            n = 2000
            p = m.path(day)
            t_m = timed(lambda: [os.stat(p) for _ in range(n)], self.runs, 2)
            t_l = timed(lambda: [os.stat(lfile) for _ in range(n)], self.runs, 2)
            target("7", "stat of a ready file: mount / local", "x", ratios(t_l, t_m), 0.3,
                   True, f"{n / statistics.median(t_m):.0f} stat/s via mount")
        finally:
            m.stop()

    # 8: scale
    def make_cache(self, n):
        """A cache dir with n READY entries, written in the cache's own on-disk format."""
        d = self.new_cache(f"scale{n}")
        v1 = os.path.join(d, "v1")
        os.makedirs(v1, mode=0o700)
        body = b"PK bench entry\n"
        sha = hashlib.sha256(body).hexdigest()
        now = int(time.time())
        base = self.today - datetime.timedelta(days=7)
        i = 0
        back = 0
        while i < n:
            start = base - datetime.timedelta(days=back)
            for span in range(7):
                if i == n:
                    break
                end = start + datetime.timedelta(days=span)
                a, b = start.isoformat(), end.isoformat()
                key = f"vexora|{MERCHANT}|order|en-US|{a}|{b}"
                h = hashlib.sha256(key.encode()).hexdigest()
                with open(os.path.join(v1, h + ".data"), "wb") as f:
                    f.write(body)
                meta = {"version": 1, "provider": "vexora", "account": MERCHANT,
                        "report_type": "order", "language": "en-US", "start": a, "end": b,
                        "state": "ready", "task_id": "%032x" % i,
                        "server_name": "Merchant Order List.xlsx", "finish_time": now,
                        "expires": now + 7 * 86400, "ready_time": now, "learned_time": now,
                        "last_access_ms": now * 1000, "size": len(body), "total": len(body),
                        "sha256": sha, "last_errno": 0, "err_kind": "ok", "err_code": "",
                        "err_msg": ""}
                with open(os.path.join(v1, h + ".meta"), "w") as f:
                    json.dump(meta, f)
                i += 1
            back += 1
        for root, dirs, files in os.walk(d):
            os.chmod(root, 0o700)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o600)
        return d

    def scale(self):
        """Mount start, first `ls`, the background recovery scan (until orderfs logs that it
        is done: from then on every lookup is answered from memory) and `ls` afterwards."""
        res = {}
        for n in (10, 1000, 10000):
            cache = self.make_cache(n)
            starts, usable, scans, lss = [], [], [], []
            for i in range(self.runs // 2 + 2):
                m = Orderfs(self.work, self.sim, cache, {"log_level": "info"})
                logf = os.path.join(m.dir, "orderfs.log")
                try:
                    t0 = now_s()
                    t_up = m.start()
                    out = subprocess.run(["ls", os.path.join(m.mnt, "exports")],
                                         capture_output=True, check=True).stdout
                    t_use = now_s() - t0
                    listed = out.count(b"\n")
                    if listed < n:
                        raise RuntimeError(f"ls listed {listed} of {n} cache entries")
                    wait_for(lambda: b"cache: scan of" in open(logf, "rb").read(),
                             what="recovery scan")
                    t_scan = now_s() - t0
                    t_ls = timed(lambda: subprocess.run(
                        ["ls", os.path.join(m.mnt, "exports")], stdout=subprocess.DEVNULL,
                        check=True), 5, 1)
                finally:
                    m.stop()
                if i:
                    starts.append(t_up * 1000)
                    usable.append(t_use * 1000)
                    scans.append(t_scan * 1000)
                    lss.append(statistics.median(t_ls) * 1000)
            log(f"8 scale {n} entries ({listed} names): mount {statistics.median(starts):.0f}"
                f" ms, usable {statistics.median(usable):.0f} ms, scan done "
                f"{statistics.median(scans):.0f} ms, ls {statistics.median(lss):.1f} ms")
            res[n] = (starts, usable, scans, lss)
            shutil.rmtree(cache)
        for n in (10, 1000, 10000):
            add_row("8", f"mount start, {n} entries", "ms", res[n][0], "report", None)
        target("8", "mount + first ls, 10,000 entries", "ms", res[10000][1], 1000.0, False)
        for n in (10, 1000, 10000):
            add_row("8", f"cache scan done, {n} entries", "ms", res[n][2], "report", None)
        for n in (10, 1000, 10000):
            add_row("8", f"ls exports/, {n} entries", "ms", res[n][3], "report", None)
        # Growth exponent from 1,000 to 10,000 entries: 1 is linear.
        for what, idx in (("mount+ls", 1), ("scan", 2), ("ls", 3)):
            k = [math.log10(b / a) for a, b in zip(res[1000][idx], res[10000][idx])]
            target("8", f"{what} growth exponent 1k->10k", "", k, 1.1, False,
                   "1.0 = linear")

    # 9: parallel ranges
    def parallel(self):
        self.sim.configure(pending_s=self.pending_s, generating_s=self.generating_s,
                           rows=rows_for(1 * MIB))
        gen = self.sim.gen_s()
        days = [self.day(40 + i) for i in range(8)]
        log(f"9 eight ranges at once, export time {gen:.1f} s")
        for mx in (None, 2, 4):  # None: warm-up that has the simulator generate the files
            vals, polls = [], []
            for _ in range(1 if mx is None else self.cold_runs):
                m = self.mount(self.new_cache("par"), max_exports=mx or 8)
                try:
                    before = self.sim.stats()
                    t0 = now_s()
                    ps = [subprocess.Popen(["cat", m.path(d)], stdout=subprocess.DEVNULL)
                          for d in days]
                    if any(p.wait() for p in ps):
                        raise RuntimeError("a parallel read failed")
                    t = now_s() - t0
                    polls.append((self.sim.stats()["status"] - before["status"]) / len(days))
                finally:
                    m.stop()
                if mx:
                    vals.append(math.ceil(8 / mx) * gen / t)
            if mx:
                target("9", f"8 ranges, max_exports={mx}: ideal / actual", "x", vals, 0.9,
                       True, f"ideal {math.ceil(8 / mx) * gen:.1f} s, "
                       f"{statistics.median(polls):.1f} polls/export")

    # 10: fleet mode
    def fleet(self):
        """Three hosts of one fleet (one etcd) copy the same cold range at once, next to one
        host alone copying it: the provider's applies per range (the fleet makes one export)
        and the slowest host's cp against the lone host's, run by run."""
        size = (4 if QUICK else 16) * MIB
        day = self.day(24)
        self.sim.configure(pending_s=0.05, generating_s=0.05, rows=rows_for(size))
        self.sim.export_url(day)  # the simulator writes the file once, before any timing
        self.sim.configure(pending_s=self.pending_s, generating_s=self.generating_s)
        gen = self.sim.gen_s()
        log(f"10 fleet: 3 hosts and 1 host alone, cold cp of {size // MIB} MiB, export "
            f"{gen:.1f} s (first pair is a warm-up)")
        server = etcd_server.Etcd()
        applies, over, holder_over = [], [], []
        try:
            for i in range(self.cold_runs + 1):
                m = self.mount(self.new_cache("fleet-alone"))
                try:
                    (t_alone,), (sum_alone,) = self.cps([m], day)
                finally:
                    m.stop()
                server.ctl("del", "--prefix", "orderfs/")  # no record: the fleet exports
                hosts = []
                try:
                    for h in (1, 2, 3):
                        hosts.append(self.mount(self.new_cache(f"fleet-{h}"),
                                                fleet_etcd=server.url, fleet_host=f"host{h}",
                                                fleet_lease_ttl="3s"))
                    a0 = self.sim.stats()["apply"]
                    times, sums = self.cps(hosts, day)
                    n_apply = self.sim.stats()["apply"] - a0
                    roles = [m.status(day).get("fleet_role") for m in hosts]
                finally:
                    for m in hosts:
                        m.stop()
                if set(sums) != {sum_alone}:
                    raise RuntimeError("the fleet's hosts served other bytes than one host")
                fleet_s = ", ".join(f"{t:.2f}" for t in times)
                log(f"  run {i}: alone {t_alone:.2f} s, fleet {fleet_s} s, {n_apply} apply, "
                    f"roles {roles}")
                if i == 0:
                    continue
                applies.append(n_apply)
                over.append((max(times) / t_alone - 1) * 100)
                if "holder" in roles:
                    holder_over.append((times[roles.index("holder")] / t_alone - 1) * 100)
        finally:
            server.stop()
        target("10", "fleet of 3: applies per range", "", applies, 1.0, False)
        note = (f"holder {statistics.median(holder_over):+.1f} %" if holder_over else
                "no holder seen")
        target("10", "fleet of 3 (slowest host) cold cp overhead vs 1 host", "%", over, 5.0,
               False, note)

    # 10: fleet mode at scale
    def fleet_load(self):
        """H hosts (quick 6, full 20), each through a counting proxy of its own in front of one
        etcd, read the same R cold ranges (quick 12, full 50) all at once, short exports; next
        to one host alone reading them. Rows: applies per range, etcd requests per host-range
        (the proxies), etcd writes per range (etcd's proposals committed), idle requests per
        host per minute after the reads, TCP connections opened per host, and the slowest
        host's time over the lone host's."""
        n_hosts, n_ranges = (6, 12) if QUICK else (20, 50)
        # days 30.. (not 40..47, the parallel item's): within the provider's 90 days
        ttl = 3
        days = [d for d in range(30, 90) if d not in range(40, 48)][:n_ranges]
        days = [self.day(d) for d in days]
        self.sim.configure(pending_s=0.1, generating_s=0.5, rows=rows_for(64 * 1024))
        # The provider's request cap is shared by the fleet (each host takes cap / members):
        # lifted here, so the row measures the coordination, not the cap's share.
        # (max_queued_per_user spares the mounting user, who reads here.)
        extra = {"max_exports": 64, "max_requests_per_second": 1000}
        log(f"10 fleet load: {n_hosts} hosts x {n_ranges} ranges at once, export "
            f"{self.sim.gen_s():.1f} s")
        m = self.mount(self.new_cache("load-alone"), **extra)
        try:
            s0, c0 = self.sim.stats(), cpu_s([m.proc.pid, self.sim.proc.pid])
            t_alone = self.read_ranges(m, days)
            alone_calls = provider_calls(s0, self.sim.stats())
            alone_cpu = cpu_s([m.proc.pid, self.sim.proc.pid]) - c0
        finally:
            m.stop()
        server = etcd_server.Etcd()
        proxies, hosts = [], []
        try:
            server.ctl("del", "--prefix", "orderfs/")
            proxies = [EtcdProxy(server.url) for _ in range(n_hosts)]
            for i, p in enumerate(proxies):
                hosts.append(self.mount(self.new_cache(f"load-{i}"), fleet_etcd=p.url,
                                        fleet_host=f"load{i}", fleet_lease_ttl=f"{ttl}s",
                                        **extra))
            before = [p.stats()["requests"] for p in proxies]  # the mounts' own calls
            s0 = self.sim.stats()
            a0, m0 = s0["apply"], etcd_metrics(server.url)
            groups = {"orderfs": [h.proc.pid for h in hosts], "simulator": [self.sim.proc.pid],
                      "etcd": [server.proc.pid], "proxies": [p.proc.pid for p in proxies]}
            cpu0 = {k: cpu_s(v) for k, v in groups.items()}
            times = [None] * n_hosts

            def host(i):
                times[i] = self.read_ranges(hosts[i], days)
            threads = [threading.Thread(target=host, args=(i,)) for i in range(n_hosts)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if None in times:
                raise RuntimeError("a host's reads failed")
            s1 = self.sim.stats()
            applies = (s1["apply"] - a0) / n_ranges
            m1 = etcd_metrics(server.url)
            cpu = {k: cpu_s(v) - cpu0[k] for k, v in groups.items()}
            got = [p.stats() for p in proxies]
            # Idle: every claim and slot given back, then a window of 2 TTLs.
            wait_for(lambda: not [k for k in server.keys() if "/claims/" in k or "/slots/" in k],
                     timeout=30, what="claims and slots given back", interval=0.1)
            for p in proxies:
                p.reset_stats()
            t0 = now_s()
            time.sleep(2 * ttl)  # a measuring window
            idle = [p.stats()["requests"] * 60 / (now_s() - t0) for p in proxies]
        finally:
            for m in hosts:
                m.stop()
            for p in proxies:
                p.stop()
            server.stop()
        reqs = (sum(g["requests"] for g in got) - sum(before)) / (n_hosts * n_ranges)
        writes = (m1["proposals"] - m0["proposals"]) / n_ranges
        grpc = (m1["grpc"] - m0["grpc"]) / (n_hosts * n_ranges)
        kinds = {}
        for g in got:
            for k, n in g.get("kinds", {}).items():
                kinds[k] = kinds.get(k, 0) + n
        log("  etcd calls per host-range by kind (the mounts' own included): " + ", ".join(
            f"{k} {n / (n_hosts * n_ranges):.2f}"
            for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])))
        # Where the slowest host's time goes: the CPU the fleet's processes used over its
        # reads (2 cores: at most 2 s of CPU per second), and the provider's work, next to
        # the lone host's.
        log(f"  CPU over the reads: alone {alone_cpu:.1f} s (orderfs and simulator) in "
            f"{t_alone:.2f} s; fleet " + ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items()) +
            f" in {max(times):.2f} s ({sum(cpu.values()) / max(times):.2f} cores busy)")
        log(f"  provider requests: alone {alone_calls}; fleet {provider_calls(s0, s1)}")
        log(f"  alone {t_alone:.2f} s, hosts {min(times):.2f}..{max(times):.2f} s, "
            f"{applies:.2f} applies/range, {reqs:.1f} requests/host-range ({grpc:.1f} gRPC "
            f"started), {writes:.1f} writes/range, idle {statistics.median(idle):.0f}/host/min")
        what = f"fleet load {n_hosts} hosts x {n_ranges} ranges"
        target("10", f"{what}: applies per range", "", [applies], 1.0, False)
        target("10", f"{what}: etcd requests per host-range", "", [reqs], 6.0, False,
               f"{grpc:.1f} gRPC calls started per host-range (etcd /metrics)")
        target("10", f"{what}: etcd writes per range", "", [writes], 8.0 + n_hosts, False,
               "proposals committed (etcd /metrics)")
        target("10", f"{what}: idle etcd requests per host", "/min", idle,
               3 * 60 / ttl, False, f"lease TTL {ttl} s: keepalives alone are {60 / ttl * 3:.0f}")
        target("10", f"{what}: TCP connections opened per host", "",
               [g["connections"] for g in got], 4.0, False, "from mount to the last read")
        target("10", f"{what}: slowest host vs 1 host alone", "x", [max(times) / t_alone], 1.2,
               False, f"alone {t_alone:.2f} s")

    def read_ranges(self, m, days):
        """Read every day's file from mount m at once; seconds until the last is read."""
        errors = []

        def one(day):
            try:
                read_all(m.path(day))
            except OSError as e:
                errors.append(f"{day}: {e}")
        t0 = now_s()
        threads = [threading.Thread(target=one, args=(d,)) for d in days]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError("reads failed: " + "; ".join(errors[:3]))
        return now_s() - t0

    # 11: many merchants in one mount
    def accounts(self):
        """200 accounts in one mount (accounts_dir): `ls MOUNT` (each one re-reads the
        directory of account files), and the mount's resident memory once every account has
        started (its exports listed) and one of them has served a file."""
        n = 200
        cache = self.new_cache("accounts")
        adir = os.path.join(self.work, "accounts")
        shutil.rmtree(adir, ignore_errors=True)
        os.makedirs(adir)
        secret = os.path.join(adir, ".secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        for i in range(n):
            # a000 is the simulator's merchant; the others start but are not asked for files
            merchant = MERCHANT if i == 0 else f"M9{i:05d}"
            with open(os.path.join(adir, f"a{i:03d}.conf"), "w") as f:
                f.write(f"merchant_no = {merchant}\nsecret_file = {secret}\n")
        m = Orderfs(self.work, self.sim, cache, {"accounts_dir": adir})
        with open(m.config) as f:
            lines = [ln for ln in f if not ln.startswith(("merchant_no", "secret_file"))]
        with open(m.config, "w") as f:
            f.writelines(lines)
        m.start()
        try:
            names = os.listdir(m.mnt)
            if len(names) != n + 1:
                raise RuntimeError(f"{len(names)} names in the mount, not {n} accounts + .stats")
            ls = timed(lambda: subprocess.run(["ls", m.mnt], stdout=subprocess.DEVNULL,
                                              check=True), self.runs * 3, 2)
            target("11", f"{n} accounts: ls MOUNT", "ms", [t * 1000 for t in ls], 50.0, False)
            for i in range(n):
                os.listdir(os.path.join(m.mnt, f"a{i:03d}", "exports"))
            self.sim.configure(pending_s=0.05, generating_s=0.05, rows=rows_for(MIB))
            read_all(os.path.join(m.mnt, "a000", "exports", f"{self.day(25)}..{self.day(25)}",
                                  "orders.xlsx"))
            with open(os.path.join(m.mnt, ".stats")) as f:
                running = sum(a["state"] == "running" for a in json.load(f)["accounts"].values())
            if running != n:
                raise RuntimeError(f"{running} of {n} accounts running")
            rss = self.rss_kib(m.proc.pid) / 1024
            target("11", f"{n} accounts, all started: RSS", "MiB", [rss], 32.0, False,
                   f"peak {m.hwm_kib() / 1024:.1f} MiB")
        finally:
            m.stop()

    def accounts_cache(self, n_acc, n_ent):
        """A cache dir with n_ent READY entries spread over n_acc Vexora merchants (M9xxxxx),
        written in the cache's own on-disk format (as make_cache)."""
        d = self.new_cache(f"acc{n_acc}x{n_ent}")
        v1 = os.path.join(d, "v1")
        os.makedirs(v1, mode=0o700)
        body = b"PK bench entry\n"
        sha = hashlib.sha256(body).hexdigest()
        now = int(time.time())
        base = self.today - datetime.timedelta(days=7)
        per = n_ent // n_acc
        for a in range(n_acc):
            merchant = f"M9{a:05d}"
            for i in range(per):
                start = base - datetime.timedelta(days=i // 7)
                end = start + datetime.timedelta(days=i % 7)
                s, e = start.isoformat(), end.isoformat()
                key = f"vexora|{merchant}|order|en-US|{s}|{e}"
                h = hashlib.sha256(key.encode()).hexdigest()
                with open(os.path.join(v1, h + ".data"), "wb") as f:
                    f.write(body)
                meta = {"version": 1, "provider": "vexora", "account": merchant,
                        "report_type": "order", "language": "en-US", "start": s, "end": e,
                        "state": "ready", "task_id": "%032x" % (a * per + i),
                        "server_name": "Merchant Order List.xlsx", "finish_time": now,
                        "expires": now + 7 * 86400, "ready_time": now, "learned_time": now,
                        "last_access_ms": now * 1000, "size": len(body), "total": len(body),
                        "sha256": sha, "last_errno": 0, "err_kind": "ok", "err_code": "",
                        "err_msg": ""}
                with open(os.path.join(v1, h + ".meta"), "w") as f:
                    json.dump(meta, f)
        for root, dirs, files in os.walk(d):
            os.chmod(root, 0o700)
            for fn in files:
                os.chmod(os.path.join(root, fn), 0o600)
        return d

    def accounts_scale(self):
        """Many merchants x many cached files in one mount (1,000 x 100,000; quick mode 200 x
        10,000): the cache holds every account's files from an earlier run. Start and adopt
        (exec until the recovery scan is done and every account has started, i.e. listed its
        exports/, adopting its files), then one account's `ls exports/` and `.status`, `cat
        /.stats`, `/metrics`, the resident memory, and what an account costs before it starts
        (the RSS growth of the first `ls MOUNT`, which reads every account file, per account)."""
        n_acc, n_ent = (200, 10000) if QUICK else (1000, 100000)
        label = f"{n_acc} accounts x {n_ent} entries"
        cache = self.accounts_cache(n_acc, n_ent)
        adir = os.path.join(self.work, "accounts-scale")
        shutil.rmtree(adir, ignore_errors=True)
        os.makedirs(adir)
        secret = os.path.join(adir, ".secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        for a in range(n_acc):
            with open(os.path.join(adir, f"a{a:04d}.conf"), "w") as f:
                f.write(f"merchant_no = M9{a:05d}\nsecret_file = {secret}\n")
        port = free_port()
        m = Orderfs(self.work, self.sim, cache, {"accounts_dir": adir, "log_level": "info",
                                                 "metrics_listen": f"127.0.0.1:{port}"})
        with open(m.config) as f:
            lines = [ln for ln in f if not ln.startswith(("merchant_no", "secret_file"))]
        with open(m.config, "w") as f:
            f.writelines(lines)
        logf = os.path.join(m.dir, "orderfs.log")
        t0 = now_s()
        m.start()
        try:
            wait_for(lambda: b"cache: scan of" in open(logf, "rb").read(), timeout=900,
                     what="recovery scan", interval=0.01)
            t_scan = now_s() - t0
            rss0 = self.rss_kib(m.proc.pid)
            names = os.listdir(m.mnt)
            unstarted = (self.rss_kib(m.proc.pid) - rss0) * 1024 / n_acc
            if len(names) != n_acc + 1:
                raise RuntimeError(f"{len(names)} names in the mount, not {n_acc} + .stats")
            per = n_ent // n_acc
            for a in range(n_acc):
                got = len(os.listdir(os.path.join(m.mnt, f"a{a:04d}", "exports")))
                if got < min(per, 1):
                    raise RuntimeError(f"a{a:04d}: {got} ranges listed, not {per}")
            t_start = now_s() - t0
            log(f"11 {label}: start and adopt {t_start:.2f} s (recovery scan {t_scan:.2f} s)")
            one = os.path.join(m.mnt, "a0000")
            ls = timed(lambda: os.listdir(os.path.join(one, "exports")), self.runs * 3, 2)
            st = timed(lambda: read_all(os.path.join(one, ".status")), self.runs * 3, 2)
            stats = timed(lambda: read_all(os.path.join(m.mnt, ".stats")), self.runs, 1)
            url = f"http://127.0.0.1:{port}/metrics"
            met = timed(lambda: urllib.request.urlopen(url, timeout=60).read(), self.runs, 1)
            rss = self.rss_kib(m.proc.pid) / 1024
        finally:
            m.stop()
            shutil.rmtree(cache, ignore_errors=True)
        target("11", f"{label}: start and adopt", "s", [t_start], 5.0, False,
               f"of which the recovery scan {t_scan:.2f} s")
        target("11", f"{label}: ls NAME/exports", "ms", [t * 1000 for t in ls], 20.0, False)
        target("11", f"{label}: NAME/.status", "ms", [t * 1000 for t in st], 10.0, False)
        target("11", f"{label}: cat /.stats", "ms", [t * 1000 for t in stats], 200.0, False)
        target("11", f"{label}: /metrics", "ms", [t * 1000 for t in met], 200.0, False)
        target("11", f"{label}, all started: RSS", "MiB", [rss], 64.0, False)
        target("11", f"{label}: an unstarted account", "bytes", [unstarted], 400.0, False,
               "RSS growth of the first ls MOUNT / accounts")

    @staticmethod
    def rss_kib(pid):
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # 12: the shared store
    def store(self):
        """A real radosgw on loopback. (a) Three hosts of one fleet sharing it copy one cold
        range at once: provider downloads per range. (b) A host with an empty cache_dir copies
        a BIG file another host stored, against curl's signed GET of the same object. (c) The
        exporting host's cold cp with a store against without (the upload runs behind it)."""
        srv = s3_server.S3Server(memstore_bytes=self.store_bytes())
        server = etcd_server.Etcd()
        cred = srv.write_credentials(os.path.join(self.work, "store.cred"))
        try:
            self.store_fleet(srv, server, cred)
            self.store_reads(srv, cred)
        finally:
            server.stop()
            srv.stop()

    def store_reads_alone(self):
        """Item 12's reads and upload cost without the fleet half (`bench/run.sh
        store_reads`): the same measurement, for chasing one row."""
        srv = s3_server.S3Server(memstore_bytes=self.store_bytes())
        cred = srv.write_credentials(os.path.join(self.work, "store.cred"))
        try:
            self.store_reads(srv, cred)
        finally:
            srv.stop()

    def store_bytes(self):
        """The radosgw OSD's memory for item 12: every run stores its own BIG object (a fresh
        prefix) and nothing is freed (rgw gc off). The default 1 GiB filled up at the fifth
        256 MiB run of a full bench: Ceph then holds writes instead of failing them and
        the upload never came (that was the "timed out waiting for the upload")."""
        return 2 * (self.cold_runs + 1) * BIG + 512 * MIB

    def store_settings(self, srv, cred, prefix):
        return {"store_url": f"{srv.endpoint}/{srv.bucket}/{prefix}",
                "store_credentials_file": cred}

    def store_fleet(self, srv, server, cred):
        size = (4 if QUICK else 16) * MIB
        day = self.day(25)
        self.sim.configure(pending_s=0.05, generating_s=0.05, rows=rows_for(size))
        self.sim.export_url(day)
        log(f"12 store: 3 hosts of a fleet with a store, cold cp of {size // MIB} MiB")
        downloads = []
        for i in range(self.cold_runs):
            server.ctl("del", "--prefix", "orderfs/")
            hosts = []
            try:
                for h in (1, 2, 3):
                    hosts.append(self.mount(self.new_cache(f"store-fleet-{h}"),
                                            fleet_etcd=server.url, fleet_host=f"host{h}",
                                            fleet_lease_ttl="3s",
                                            **self.store_settings(srv, cred, f"fleet{i}")))
                d0 = self.sim.stats()["download"]
                _, sums = self.cps(hosts, day)
                downloads.append(self.sim.stats()["download"] - d0)
            finally:
                for m in hosts:
                    m.stop()
            if len(set(sums)) != 1:
                raise RuntimeError("the fleet's hosts served different bytes")
            log(f"  run {i}: {downloads[-1]} provider download(s)")
        target("12", "fleet of 3 with a store: provider downloads per range", "", downloads,
               1.0, False)

    def store_cp(self, m, day):
        t0 = now_s()
        shutil.copyfile(m.path(day), os.devnull)
        return now_s() - t0

    def store_reads(self, srv, cred):
        day = self.day(26)
        self.sim.configure(pending_s=self.pending_s, generating_s=self.generating_s,
                           rows=rows_for(BIG))
        self.sim.export_url(day)
        log(f"12 store: a new host's first read of a stored {BIG // MIB} MiB file vs curl; "
            f"cold cp with and without the upload")
        ratio, over = [], []
        for i in range(self.cold_runs + 1):
            prefix = f"reads{i}"
            m = self.mount(self.new_cache("store-plain"))
            try:
                t_plain = self.store_cp(m, day)
            finally:
                m.stop()
            a = self.mount(self.new_cache("store-a"), **self.store_settings(srv, cred, prefix))
            try:
                t_upload = self.store_cp(a, day)
                wait_for(lambda: json.load(open(os.path.join(a.mnt, ".stats")))["store"]
                         ["uploads"] >= 1, timeout=120, what="the upload")
                key = a.status(day)["store_key"]
            finally:
                a.stop()
            b = self.mount(self.new_cache("store-b"), **self.store_settings(srv, cred, prefix))
            try:
                wall0 = time.time() * 1000
                t_store = self.store_cp(b, day)
                wall1 = time.time() * 1000
                st = b.status(day)
                if st.get("source") != "store":
                    raise RuntimeError(f"not from the store: {st}")
            finally:
                b.stop()
            steps = st.get("steps_ms", {})
            marks = [wall0] + [steps.get(k) for k in ("first_byte", "last_byte", "synced",
                                                      "ready")] + [wall1]
            if None not in marks:  # where the new host's time went (not a measured row)
                d = [(b_ - a_) / 1000 for a_, b_ in zip(marks, marks[1:])]
                log(f"  new host: to first byte {d[0]:.2f} s, download {d[1]:.2f} s, sync "
                    f"{d[2]:.2f} s, commit {d[3]:.2f} s, read through FUSE {d[4]:.2f} s")
            url = f"{srv.endpoint}/{srv.bucket}/{prefix}/{key}"
            t0 = now_s()
            subprocess.run(["curl", "-sf", "-o", "/dev/null", "--aws-sigv4",
                            "aws:amz:us-east-1:s3", "-u", f"{srv.access_key}:{srv.secret}",
                            "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", url], check=True)
            t_curl = now_s() - t0
            log(f"  run {i}: plain cold cp {t_plain:.2f} s, with upload {t_upload:.2f} s, "
                f"new host from the store {t_store:.2f} s, curl {t_curl:.2f} s")
            if i == 0:
                continue  # warm-up: the simulator generates the file
            ratio.append(t_curl / t_store)
            over.append((t_upload / t_plain - 1) * 100)
        target("12", f"new host's first read of a stored {BIG // MIB} MiB file vs curl", "x",
               ratio, 0.9, True)
        target("12", "exporting host's cold cp with the upload vs without", "%", over, 5.0,
               False)

    def cps(self, mounts, day):
        """cp of day's file from every mount at once: (seconds each, SHA-256 each)."""
        times = [None] * len(mounts)
        dests = [os.path.join(self.work, f"fleet-cp{i}.xlsx") for i in range(len(mounts))]

        def cp(i):
            t0 = now_s()
            subprocess.run(["cp", mounts[i].path(day), dests[i]], check=True)
            times[i] = now_s() - t0
        threads = [threading.Thread(target=cp, args=(i,)) for i in range(len(mounts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if None in times:
            raise RuntimeError("a cp failed")
        sums = []
        for d in dests:
            with open(d, "rb") as f:
                sums.append(hashlib.file_digest(f, "sha256").hexdigest())
            os.unlink(d)
        return times, sums


def header():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = platform.uname()
    return (f"orderfs bench {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{os.cpu_count()} cores, {cpu}, kernel {u.release}")


def replot():
    """bench.py --replot: redraw the plot and table from bench/out/results.csv."""
    with open(os.path.join(OUT, "table.md")) as f:
        h = f.readline().strip()
    ROWS.extend(baseline.from_csv(r) for r in baseline.load(os.path.join(OUT, "results.csv"))
                .values())
    write_outputs(h)


def main():
    if sys.argv[1:] == ["--replot"]:
        return replot()
    if not os.access(ORDERFS, os.X_OK):
        sys.exit(f"bench: {ORDERFS} not built")
    h = header()
    print(h, flush=True)
    base = baseline.load(BASELINE_CSV)  # read before this run writes bench/out
    work = tempfile.mkdtemp(prefix="orderfs-bench-", dir="/var/tmp")
    t_start = time.monotonic()
    b = None
    failed = []
    try:
        b = Bench(work)
        only = sys.argv[1:]
        for name in ("reads", "cold", "memory", "metadata", "scale", "parallel", "fleet",
                     "fleet_load", "accounts", "accounts_scale", "store", "store_reads"):
            if (not only and name != "store_reads") or name in only:
                try:
                    getattr(b, "store_reads_alone" if name == "store_reads" else name)()
                except Exception:  # report it, go on with the other items
                    traceback.print_exc()
                    failed.append(name)
                b.settle()
    finally:
        if b:
            b.sim.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    worse = baseline.annotate(ROWS, base)
    if sys.argv[1:] and not QUICK:  # a partial run keeps the other items' committed rows
        ROWS[:] = baseline.merge(ROWS, base)
    write_outputs(h)
    print()
    print(h)
    print(baseline.describe(BASELINE_CSV) + (" (quick mode: smaller files, not comparable)"
                                              if QUICK else ""))
    print(table())
    miss = sum(r["result"] == "MISS" for r in ROWS)
    for r in worse if not QUICK else []:
        print(f"bench: WORSE than the committed figures: {r['item']} {r['what']} "
              f"{fmt(r['median'])} {r['unit']} ({r['vs_base']})")
    print(f"\nbench: {len(ROWS)} rows, {miss} missed their target, {len(worse)} worse than "
          f"the committed figures; "
          f"{time.monotonic() - t_start:.0f} s; {os.path.relpath(OUT, ROOT)}/results.csv, "
          f"results.png")
    if failed:
        sys.exit(f"bench: these items could not be measured: {', '.join(failed)}")
    # Every row must carry a measured number (speeds are judged in the full run, not here).
    empty = [f"{r['item']} {r['what']}" for r in ROWS
             if not (isinstance(r["median"], (int, float)) and math.isfinite(r["median"]))]
    if not sys.argv[1:]:
        have = {r["item"] for r in ROWS}
        empty += [f"item {i}: no row" for i in map(str, range(1, 11)) if i not in have]
    if empty:
        sys.exit(f"bench: rows without a number: {', '.join(empty)}")


if __name__ == "__main__":
    main()
