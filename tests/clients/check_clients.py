#!/usr/bin/env python3
"""make check-clients: every provider's xlsx and csv files, opened straight from a real mount
by the programs people use: gnumeric's ssconvert, LibreOffice (soffice --headless
--convert-to csv), xlsx2csv, pandas and openpyxl.

Each provider is mounted against its simulator; each file is read by every tool that reads its
format; the rows each tool sees are compared with the simulator's own data: the number of data
rows, and a sample of cells (first and last row: the id, a money amount, a piece of text).
Prints one table (provider, file, sheet, tool, rows) and exits 1 on any mismatch.
"""
import csv
import datetime
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import openpyxl  # noqa: E402
import pandas  # noqa: E402

from clover_simulator import CloverSimulator  # noqa: E402
from mogujie_simulator import MogujieSimulator  # noqa: E402
from mount import Mount  # noqa: E402
from simulator import Simulator  # noqa: E402

WORK = tempfile.mkdtemp(prefix="orderfs-clients-")
RESULTS = []  # (provider, file, sheet, tool, rows, ok, why)


def day(back):
    d = datetime.date.today() - datetime.timedelta(days=back)
    return d.isoformat(), f"{d.isoformat()}..{d.isoformat()}"


# ------------------------------------------------------------------ the tools, rows as text

def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f)]


def by_ssconvert(path, sheet):
    out = os.path.join(WORK, "ss.csv")
    for old in glob.glob(out + "*"):
        os.unlink(old)
    args = ["ssconvert", "--export-type=Gnumeric_stf:stf_csv"]
    if sheet is not None:
        args.append("--export-file-per-sheet")
    subprocess.run(args + [path, out], check=True, capture_output=True, timeout=300)
    return csv_rows(out if sheet is None else f"{out}.{sheet}")


def by_soffice(path, sheet):
    out = os.path.join(WORK, "so")
    shutil.rmtree(out, ignore_errors=True)
    # UTF-8 (76), comma, double quote; sheet -1 = one csv per sheet (Base-SheetName.csv).
    fmt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false"
    fmt += ",-1" if sheet is not None else ""
    # A CSV is read as UTF-8, as a user picks in LibreOffice's import dialog (no BOM to guess
    # from: see the README).
    infilter = ["--infilter=CSV:44,34,76,1"] if path.endswith(".csv") else []
    subprocess.run(["soffice", f"-env:UserInstallation=file://{WORK}/lo-profile", "--headless",
                    *infilter, "--convert-to", fmt, "--outdir", out, path],
                   check=True, capture_output=True, timeout=300)
    files = sorted(glob.glob(os.path.join(out, "*.csv")))
    if sheet is not None:
        files = [f for f in files if f.endswith(f"-{sheet_name(path, sheet)}.csv")]
    if len(files) != 1:
        raise RuntimeError(f"soffice wrote {files}")
    return csv_rows(files[0])


def sheet_name(path, index):
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return wb.sheetnames[index]
    finally:
        wb.close()  # read-only workbooks keep the file open (and the mount busy) until closed


def by_xlsx2csv(path, sheet):
    out = os.path.join(WORK, "x2c.csv")
    subprocess.run(["xlsx2csv", "-s", str((sheet or 0) + 1), path, out], check=True,
                   capture_output=True, timeout=300)
    return csv_rows(out)


def by_pandas(path, sheet):
    if path.endswith(".csv"):
        df = pandas.read_csv(path, dtype=str, keep_default_na=False)
    else:
        df = pandas.read_excel(path, sheet_name=sheet or 0, dtype=str, keep_default_na=False)
    return [list(df.columns)] + df.values.tolist()


def by_openpyxl(path, sheet):
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        ws = wb.worksheets[sheet or 0]
        return [["" if v is None else str(v) for v in row]
                for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


XLSX_TOOLS = (("ssconvert", by_ssconvert), ("soffice", by_soffice),
              ("xlsx2csv", by_xlsx2csv), ("pandas", by_pandas), ("openpyxl", by_openpyxl))
CSV_TOOLS = (("ssconvert", by_ssconvert), ("soffice", by_soffice), ("pandas", by_pandas))


# ------------------------------------------------------------------ comparing

def same_number(got, want):
    try:
        return abs(float(got) - float(want)) < 0.005
    except ValueError:
        return False


def check(provider, name, sheet, path, want):
    """want: {"rows": n, "cells": [(row index from 0 = first data row, column name, value,
    "text"|"number")]}. Every tool for the file's format reads it from the mount."""
    tools = CSV_TOOLS if name.endswith(".csv") else XLSX_TOOLS
    for tool, fn in tools:
        why = ""
        try:
            rows = fn(path, sheet)
        except Exception as e:  # a tool that fails is a failed check, with its reason
            RESULTS.append((provider, name, sheet, tool, "-", False, f"{type(e).__name__}: {e}"))
            continue
        header, data = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
        if len(data) != want["rows"]:
            why = f"{len(data)} data rows, want {want['rows']}"
        for idx, col, value, kind in want["cells"]:
            if why:
                break
            col_i = next((i for i, h in enumerate(header) if h.split(" (")[0] == col), None)
            if col_i is None:
                why = f"no column {col} in {header[:6]}..."
                break
            got = data[idx][col_i] if col_i < len(data[idx]) else ""
            ok = same_number(got, value) if kind == "number" else got == str(value)
            if not ok:
                why = f"row {idx} {col}: {got!r}, want {value!r}"
        RESULTS.append((provider, name, sheet, tool, len(data), not why, why))


def read_json(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


# ------------------------------------------------------------------ the providers

def vexora():
    sim = Simulator(args=("--rows", "777", "--pending-s", "0.1", "--generating-s", "0.2"))
    m = Mount(sim, settings={"log_level": "info"})
    try:
        _, r = day(12)
        path = m.path("exports", r, "orders.xlsx")
        with open(path, "rb"):
            pass  # export it once: the tools then read a ready file
        task = [t for t in sim.tasks() if t["status"] == "2"][-1]
        ref = openpyxl.load_workbook(io.BytesIO(sim.file_bytes(task["id"])))
        rows = list(ref.active.iter_rows(values_only=True))
        head, first, last = rows[0], rows[1], rows[-1]
        cell = lambda row, col: row[head.index(col)]  # noqa: E731
        check("vexora", "orders.xlsx", None, path, {"rows": len(rows) - 1, "cells": [
            (0, "Order No", cell(first, "Order No"), "text"),
            (0, "Amount", cell(first, "Amount"), "number"),
            (0, "Customer", cell(first, "Customer"), "text"),
            (-1, "Order No", cell(last, "Order No"), "text"),
            (-1, "Amount", cell(last, "Amount"), "number")]})
    finally:
        m.umount()
        sim.stop()


def clover():
    sim = CloverSimulator(args=("--pending-s", "0.1", "--progress-s", "0.2",
                                "--orders-per-day", "1234", "--payments-per-day", "321"))
    m = Mount(sim, start=False, settings={
        "provider": "clover", "base_url": sim.url, "merchant_id": sim.merchant,
        "region": "sandbox", "log_level": "info"})
    with open(m.config, "a") as f:
        f.write(f"token_file = {m.secret_file}\n")
    m.start()
    try:
        _, r = day(13)
        for base, money in (("orders", "total"), ("payments", "amount")):
            with open(m.path("exports", r, f"{base}.jsonl"), "rb") as f:
                elements = [json.loads(line) for line in f.read().decode().splitlines()]
            ex = [e for e in sim.exports() if e.get("type", "").lower() == base]
            served = [el for u in ex[-1]["urls"] for el in read_json(u)["elements"]]
            if [e["id"] for e in served] != [e["id"] for e in elements]:
                raise RuntimeError(f"clover {base}.jsonl differs from the simulator's files")
            first, last = served[0], served[-1]
            cells = [(0, "id", first["id"], "text"),
                     (0, money, first[money] / 100, "number"),
                     (-1, "id", last["id"], "text"),
                     (-1, money, last[money] / 100, "number")]
            for ext in ("xlsx", "csv"):
                check("clover", f"{base}.{ext}", None, m.path("exports", r, f"{base}.{ext}"),
                      {"rows": len(served), "cells": cells})
    finally:
        m.umount()
        sim.stop()


def mogujie():
    sim = MogujieSimulator(args=("--orders-per-day", "321",))
    m = Mount(sim, start=False, settings={
        "provider": "mogujie", "base_url": sim.url, "app_key": sim.merchant,
        "oauth_url": sim.url + "/token", "log_level": "info"})
    token = os.path.join(m.dir, "token")
    with open(token, "w") as f:
        f.write(sim.tokens()["access_token"] + "\n")
    os.chmod(token, 0o600)
    with open(m.config, "a") as f:
        f.write(f"token_file = {token}\n")
    m.start()
    try:
        d, r = day(14)
        orders = sim.orders(d, d)
        items = [(o, i) for o in orders for i in o["itemOrderInfos"]]
        (fo, fi), (lo, li) = items[0], items[-1]
        item_cells = [(0, "shopOrderId", fo["shopOrderId"], "number"),
                      (0, "itemOrderId", fi["itemOrderId"], "number"),
                      (0, "title", fi["title"], "text"),
                      (0, "shopOrderPrice", fo["shopOrderPrice"] / 100, "number"),
                      (-1, "itemOrderId", li["itemOrderId"], "number"),
                      (-1, "title", li["title"], "text")]
        xlsx = m.path("exports", r, "orders.xlsx")
        check("mogujie", "orders.xlsx", 0, xlsx, {"rows": len(items), "cells": item_cells})
        check("mogujie", "orders.xlsx", 1, xlsx, {"rows": len(orders), "cells": [
            (0, "shopOrderId", orders[0]["shopOrderId"], "number"),
            (-1, "shopOrderId", orders[-1]["shopOrderId"], "number"),
            (-1, "receiverCity", orders[-1]["receiverCity"], "text")]})
        check("mogujie", "orders.csv", None, m.path("exports", r, "orders.csv"),
              {"rows": len(items), "cells": item_cells})
    finally:
        m.umount()
        sim.stop()


def main():
    failed = []
    for fn in (vexora, clover, mogujie):
        try:
            fn()
        except Exception as e:
            failed.append(f"{fn.__name__}: {type(e).__name__}: {e}")
    print("| provider | file | sheet | tool | rows read from the mount | result |")
    print("|---|---|---|---|---|---|")
    for prov, name, sheet, tool, n, ok, why in RESULTS:
        sheet = "" if sheet is None else str(sheet + 1)
        print(f"| {prov} | {name} | {sheet} | {tool} | {n} | {'ok' if ok else 'FAIL: ' + why} |")
    bad = [r for r in RESULTS if not r[5]]
    shutil.rmtree(WORK, ignore_errors=True)
    for f in failed:
        print("check-clients: " + f)
    print(f"check-clients: {len(RESULTS) - len(bad)} passed, {len(bad) + len(failed)} failed")
    return 1 if bad or failed or not RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
