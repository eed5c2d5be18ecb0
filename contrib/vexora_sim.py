#!/usr/bin/env python3
"""Local simulator of the Vexora order export API (shared/specs/vexora-order-export.txt).

Used by orderfs integration tests and benchmarks. Python 3 standard library only.

What it simulates
-----------------
POST {any prefix}/v1/vexora/orderExport/apply        create an export task
POST {any prefix}/v1/vexora/orderExport/status       poll it: "0" Pending, "1" Generating,
                                                     "2" Generated, "3" Generation Failed,
                                                     "4" No Data
POST {any prefix}/v1/vexora/orderExport/downloadUrl  temporary URL of the generated file
GET/HEAD /download/<token>                           the .xlsx file (Range supported)

API calls need the header `merchantNo` (--merchant or an --extra-merchant number),
`Content-Type: application/json`
and a JSON object body with `timestamp` (integer ms) and `sign`. Every API answer is HTTP 200
with {"msg", "code", "timestamp", "success", "data"}; success is code "0000". A business
error has success false, data null and one of these codes:

  1001  missing/invalid parameter (msg names it: body, Content-Type, timestamp, sign, id,
        reportType, startTime, endTime)
  1002  invalid merchantNo (header missing or not a merchant served here)
  1003  sign verification failed (signed with another secret than the merchantNo's, or
        the merchant is revoked, see /_sim/revoke)
  1004  timestamp outside the allowed skew (--skew-ms, against the real clock)
  2001  startTime cannot be later than endTime
  2002  Only data within the last 3 months can be exported (start date before today minus 3
        calendar months, day clamped to the month's end; or end date after today)
  2003  Maximum export range is 7 days (inclusive, by date)
  2004  invalid time format (must be yyyy-MM-dd or yyyy-MM-dd HH:mm:ss, or not a string)
  2005  unsupported reportType (only "order")
  2006  unsupported language (en, en-us, english, zh, zh-cn, chinese; case-insensitive)
  3001  export task not found
  3002  export task not generated (status is not "2")
  3003  The file has expired, please re-export it

Checks run in this order: Content-Type, merchantNo, body JSON, timestamp/sign present,
sign (1003), skew (1004), then the endpoint's own fields.

Signature: every body field except `sign` whose value is neither null nor "", names sorted by
ASCII, `name=value` concatenated with no separator (strings verbatim, booleans true/false,
integers in plain decimal), secret appended, MD5, lowercase hex.

Merchants: each merchantNo has its own secret and its own tasks; status and downloadUrl of
another merchant's task id answer 3001 like an unknown id. The file's rows and fileName
digits are derived from the task's merchant, so merchants get different bytes for a range.

Tasks: status is "0" for pending_s after apply, then "1" for generating_s, then "2" (with
finishTime and fileExpires = finish + file_ttl_s) once the file is also written; a file that
takes longer than generating_s keeps the task at "1". The file is generated in a background
thread into --data-dir, identical inputs (merchant, range, language, rows, seed,
compression) share one byte-identical file. fileName is
"Merchant Order List-<yyyyMMddHHmmss of apply>-<10 digits derived from the merchant>.xlsx",
so two applies in the same second get the same fileName (like the real service's examples).
A task keeps status "2" after its file expires; downloadUrl then answers 3003.
downloadUrl answers {downloadUrl: http://HOST:PORT/download/<token>, expire: url_ttl_ms};
each call makes a new token valid for url_ttl_ms.

The file is a real OOXML workbook (sheet "Orders": a header row, then `rows` orders sorted by
Order Time inside the requested range; columns Order No, Order Time, Merchant Order No,
Customer, Product, Quantity, Amount, Currency, Status, Payment Method; Chinese headers and
labels for zh languages). Bytes are deterministic: fixed entry order, date 1980-01-01, fixed
compression. The sheet is streamed (constant memory): about 448 bytes a row when stored and
about 30 when deflated, so --rows 700000 --compression stored is ~300 MB and 2400000 ~1 GB.

/download/<token> needs no merchantNo or sign: unknown token 404, expired token 403,
expired file 410; Range "bytes=N-", "bytes=N-M", "bytes=-S" -> 206 + Content-Range, 416 when
N >= size; several ranges or malformed Range -> 200 whole file; If-Range is honoured (ETag).
Responses carry ETag, Last-Modified, Accept-Ranges and Content-Disposition.

CLI
---
vexora_sim.py --port 0 --port-file F --secret S [--secret-file F] --merchant M --data-dir D
    [--extra-merchant MERCHANT_NO=SECRET]...
    [--host 127.0.0.1] [--rows N] [--pending-s 0.2] [--generating-s 0.5]
    [--file-ttl-s 604800] [--url-ttl-ms 600000] [--skew-ms 300000] [--today YYYY-MM-DD]
    [--seed 1] [--compression deflate|stored] [--quiet]
After binding, the port is written to --port-file (temp + rename) and "PORT <n>" is printed.
--secret-file (first line, without newline) wins over --secret; one of them is required.
Defaults: --rows 100, --compression deflate, --seed 1, --today = the local date. One log
line per request goes to stderr (never the secret); --quiet turns them off. SIGTERM exits.
Other answers: 413 for a request body over 1 MiB, 405 for a non-POST API call, 404 else.

Control endpoints (no auth; tests only)
---------------------------------------
GET  /_sim/stats   {"apply","status","downloadUrl","download","download_bytes","bad_sign",
                    "faults_injected","download_leaks","auth_failures",
                    "auth_failures_by_merchant","requests_by_merchant"}
                   auth_failures counts API calls refused with 1002 or 1003 (bad_sign only
                   the wrong signatures of unrevoked merchants); the two by_merchant dicts
                   are keyed by the merchantNo header ("" when missing) and list every
                   served merchant, 0 included; requests_by_merchant counts every API call.
POST /_sim/reset   zero the stats and the one-shot fault counters (revocations stay)
POST /_sim/revoke {"merchant": M}    M's calls answer 1003 from now on, whatever the sign
POST /_sim/unrevoke {"merchant": M}  undo it; both answer {"ok": true, "revoked": [...]},
                   400 for a merchant not served here
GET  /_sim/tasks   [{"id","merchant","start","end","status","fileName","size","sha256"}, ...]
GET  /_sim/file?id=T   the exact bytes of task T's file, whatever its merchant (404 if not
                   generated)
GET  /_sim/config  current settings
POST /_sim/config  JSON merged into the settings; answers the full settings (400 on an
                   unknown key or bad value). Keys:
  outcomes            {"YYYY-MM-DD..YYYY-MM-DD": "ok"|"failed"|"nodata"|"failed_once"} by the
                      request's start/end dates; replaces the whole map (and re-arms
                      failed_once). failed -> "3", nodata -> "4", failed_once -> "3" the first
                      time that range is applied, normal afterwards.
  rows, compression, pending_s, generating_s     tasks created afterwards
  file_ttl_s          tasks finishing afterwards;   url_ttl_ms: URLs issued afterwards
  skew_ms, today      (extra) runtime overrides of --skew-ms / --today ("" = real date)
  live                (extra) true: today's orders exist only up to the simulator's clock;
                      an export of a range that ends later holds the orders placed until
                      the clock at apply time (fewer rows), and "today" is the clock's date
  clock               (extra) the simulator's clock, unix s (0 = the real one): tests move
                      it forward instead of sleeping
  api_500_next N      next N API calls answer HTTP 500 (text body)
  api_500_rate p      each API call answers 500 with probability p (random.Random(seed))
  rate_limit_next N   next N API calls answer 429 with Retry-After: retry_after_s (default 1)
  unavailable_next N  same with 503
  truncate_json_next N  next N API responses carry the first half of their JSON (the call is
                      processed: e.g. the task is created)
  oversize_json_next N  next N API responses are valid JSON of 5 MiB (huge msg; processed)
  api_delay_ms N      sleep before answering API calls
  drop_download_after B, drop_download_count K (default 1)  the next K GET downloads send the
                      true headers then close after B body bytes
  ignore_range        answer Range requests with 200 and the whole file
  content_length_delta N, content_length_count (default 1)  declare real length + N on the
                      next GET downloads (N>0: send the real bytes then close; N<0: send only
                      the declared bytes then close)
  download_rate_bps N throttle download bodies;  download_delay_ms N before the response
  download_url_override S  returned as downloadUrl;  file_name_override S  returned as
                      fileName (apply and status);  redirect_download_to S  /download answers
                      302 to S.  null or "" clears these three.
  expire_files_now    one-shot: every generated file expires now
Counters decrement as they fire. Priority for API calls: api_500_next, rate_limit_next,
unavailable_next, api_500_rate. faults_injected counts every fired fault (500/429/503,
truncate, oversize, drop, content-length lie, ignored Range, redirect).
download_leaks counts /download requests carrying a merchantNo or Authorization header, a
header whose name contains "sign", a "sign" query parameter, or any merchant's secret anywhere.
"""
import argparse
import datetime
import hashlib
import http.server
import json
import os
import random
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile

from sim_serve import (copy_stats, count_by, merchant_stats, name_value, read_sized_body,
                       revoke_answer, serve)

API_RE = re.compile(r"^(?:/.*)?/v1/vexora/orderExport/(apply|status|downloadUrl)$")
DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
DATETIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
RANGE_KEY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}$")
LANGUAGES = {"en": "en", "en-us": "en", "english": "en",
             "zh": "zh", "zh-cn": "zh", "chinese": "zh"}
STATUS_MSG = {"0": "Pending", "1": "Generating", "2": "Generated",
              "3": "Generation Failed", "4": "No Data"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BODY = 1024 * 1024
OVERSIZE = 5 * 1024 * 1024
CHUNK = 256 * 1024

# Settings a test may change at runtime, with their initial values (CLI fills the first ones).
COUNTERS = ("api_500_next", "truncate_json_next", "rate_limit_next", "unavailable_next",
            "oversize_json_next", "drop_download_count", "content_length_count")


def now_ms():
    return int(time.time() * 1000)


def fmt_local(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def sign_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def sign_string(body):
    parts = []
    for k in sorted(body, key=lambda s: s.encode("utf-8")):
        v = body[k]
        if k == "sign" or v is None or v == "":
            continue
        parts.append(f"{k}={sign_value(v)}")
    return "".join(parts)


def compute_sign(body, secret):
    return hashlib.md5((sign_string(body) + secret).encode("utf-8")).hexdigest()


def minus_months(d, n):
    y, m = d.year, d.month - n
    while m < 1:
        m += 12
        y -= 1
    # day clamped to the target month's end
    nxt = datetime.date(y + (m == 12), m % 12 + 1, 1)
    last = (nxt - datetime.timedelta(days=1)).day
    return datetime.date(y, m, min(d.day, last))


def parse_time(value, is_end):
    """A datetime for yyyy-MM-dd[ HH:mm:ss], or None if the format is invalid."""
    if not isinstance(value, str):
        return None
    try:
        m = DATETIME_RE.match(value)
        if m:
            return datetime.datetime(*map(int, m.groups()))
        m = DATE_RE.match(value)
        if m:
            d = datetime.datetime(*map(int, m.groups()))
            return d.replace(hour=23, minute=59, second=59) if is_end else d
    except ValueError:
        return None
    return None


class ApiError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


# --------------------------------------------------------------------------------------------
# xlsx generation

HEADERS = {
    "en": ["Order No", "Order Time", "Merchant Order No", "Customer", "Product", "Quantity",
           "Amount", "Currency", "Status", "Payment Method"],
    "zh": ["订单号", "下单时间", "商户订单号", "客户", "商品", "数量", "金额", "币种", "状态",
           "支付方式"],
}
STATUSES = {"en": ["Paid", "Paid", "Paid", "Paid", "Paid", "Paid", "Refunded", "Cancelled"],
            "zh": ["已支付", "已支付", "已支付", "已支付", "已支付", "已支付", "已退款", "已取消"]}
PAYMENTS = {"en": ["Card", "Bank Transfer", "USSD", "Wallet"],
            "zh": ["银行卡", "银行转账", "USSD", "钱包"]}
CUSTOMERS = ["Adaeze Okafor", "Babajide Adeyemi", "Chiamaka Nwosu", "Damilola Bello",
             "Emeka Eze", "Funmilayo Ogun", "Gbenga Alabi", "Halima Musa", "Ifeanyi Obi",
             "Jumoke Ade", "Kelechi Umeh", "Lola Bakare", "Musa Danjuma", "Ngozi Iwu",
             "Oluwaseun Ojo", "Patience Etim", "Quadri Lawal", "Rukayat Sani", "Segun Ayo",
             "Temitope Oni", "Uche Nnaji", "Victoria Akpan", "Wale Adebayo", "Yetunde Cole",
             "Zainab Yusuf", "Li Wei", "Wang Fang", "Zhang Min", "Chen Jie", "Liu Yang",
             "O'Brien & Sons", "<Anonymous>"]
# (name, unit price in minor units)
PRODUCTS = [("Wireless Earbuds", 1899950), ("Phone Case", 350000), ("USB-C Cable", 249999),
            ("Power Bank 20000mAh", 2450000), ("Smart Watch", 4599900),
            ("Bluetooth Speaker", 2999900), ("Laptop Stand", 1500000),
            ("Mechanical Keyboard", 3800000), ("Gaming Mouse", 1750025),
            ("Screen Protector", 120000), ("Ankara Tote Bag", 900000),
            ("Shea Butter 250g", 450000), ("Coffee Beans 1kg", 1200000),
            ("Running Shoes", 5500000), ("Desk Lamp", 1100000), ("Water Bottle", 400000)]
CURRENCIES = ["NGN", "NGN", "NGN", "USD", "GHS", "KES"]

MASK64 = (1 << 64) - 1


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def col_letter(n):  # 1-based
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    '</Relationships>')
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def _zinfo(name, compress_type):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = compress_type
    zi.create_system = 3
    zi.external_attr = 0o100644 << 16
    return zi


def row_hash(base, i):
    """splitmix64 of (base, i): a pure function of the row index."""
    z = (base + (i + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def write_xlsx(path, merchant, start, end, language, rows, seed, compression, until_s=None):
    """Write the export file to path. Row values are functions of (merchant, start, end, row
    index, seed) only; the bytes depend only on the arguments (no clock, no randomness).
    until_s (live mode): only the orders placed up to that local time (seconds since
    1970-01-01 00:00 local) exist yet; the rows are in time order, so they are a prefix."""
    ctype = zipfile.ZIP_DEFLATED if compression == "deflate" else zipfile.ZIP_STORED
    lang = language
    key = f"{merchant}|{start:%Y-%m-%d %H:%M:%S}|{end:%Y-%m-%d %H:%M:%S}|{seed}"
    base = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    currency = CURRENCIES[int.from_bytes(hashlib.sha256(merchant.encode()).digest()[:2], "big")
                          % len(CURRENCIES)]

    # shared strings: headers, customers, products, statuses, payments, currency
    sst = list(HEADERS[lang])
    cust0 = len(sst)
    sst += CUSTOMERS
    prod0 = len(sst)
    sst += [p[0] for p in PRODUCTS]
    stat0 = len(sst)
    stat_names = list(dict.fromkeys(STATUSES[lang]))
    sst += stat_names
    stat_idx = [stat0 + stat_names.index(s) for s in STATUSES[lang]]
    pay0 = len(sst)
    sst += PAYMENTS[lang]
    cur_idx = len(sst)
    sst.append(currency)
    sst_xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               f'count="{len(sst)}" uniqueCount="{len(sst)}">'
               + "".join(f"<si><t>{xml_escape(s)}</t></si>" for s in sst) + "</sst>")

    ncols = len(HEADERS[lang])
    start_s = int((start - datetime.datetime(1970, 1, 1)).total_seconds())
    span = int((end - start).total_seconds()) + 1
    step = max(1, span // max(rows, 1))
    day_cache = {}
    epoch0 = datetime.date(1970, 1, 1)
    order_prefix = f"VX{start:%y%m%d}{base % 1000:03d}"
    ncust, nprod, nstat, npay = len(CUSTOMERS), len(PRODUCTS), len(stat_idx), len(PAYMENTS[lang])
    full_rows = rows
    if until_s is not None:
        rows = sum(1 for i in range(full_rows)
                   if start_s + min(span - 1, (i * span) // full_rows
                                    + (row_hash(base, i) & 0xFFFFFF) % step) <= until_s)

    # Every cell carries its reference (r="B7"): gnumeric reads cells without one as
    # "Invalid cell" and drops the row.
    row_fmt = ('<row r="%(n)d"><c r="A%(n)d" t="inlineStr"><is><t>%(order)s</t></is></c>'
               '<c r="B%(n)d" t="inlineStr"><is><t>%(time)s</t></is></c>'
               '<c r="C%(n)d" t="inlineStr"><is><t>MO%(mo)012d</t></is></c>'
               '<c r="D%(n)d" t="s"><v>%(cust)d</v></c><c r="E%(n)d" t="s"><v>%(prod)d</v></c>'
               '<c r="F%(n)d"><v>%(qty)d</v></c>'
               '<c r="G%(n)d" s="1"><v>%(amount)s</v></c><c r="H%(n)d" t="s"><v>%(cur)d</v></c>'
               '<c r="I%(n)d" t="s"><v>%(stat)d</v></c><c r="J%(n)d" t="s"><v>%(pay)d</v></c>'
               '</row>')

    with zipfile.ZipFile(path, "w") as zf:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK),
                           ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/styles.xml", STYLES), ("xl/sharedStrings.xml", sst_xml)):
            zf.writestr(_zinfo(name, ctype), text.encode("utf-8"))
        with zf.open(_zinfo("xl/worksheets/sheet1.xml", ctype), "w", force_zip64=True) as out:
            head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    f'<dimension ref="A1:{col_letter(ncols)}{rows + 1}"/>'
                    '<cols><col min="1" max="3" width="22" customWidth="1"/></cols><sheetData>'
                    '<row r="1">'
                    + "".join(f'<c r="{col_letter(i + 1)}1" t="s" s="2"><v>{i}</v></c>'
                              for i in range(ncols))
                    + "</row>")
            out.write(head.encode("utf-8"))
            batch = []
            for i in range(rows):
                h = row_hash(base, i)
                off = min(span - 1, (i * span) // full_rows + (h & 0xFFFFFF) % step)
                t = start_s + off
                day, sod = divmod(t, 86400)
                ds = day_cache.get(day)
                if ds is None:
                    ds = (epoch0 + datetime.timedelta(days=day)).isoformat()
                    day_cache[day] = ds
                prod = (h >> 24) % nprod
                qty = 1 + (h >> 28) % 4
                cents = PRODUCTS[prod][1] * qty
                batch.append(row_fmt % {
                    "n": i + 2, "order": "%s%09d" % (order_prefix, i),
                    "time": "%s %02d:%02d:%02d" % (ds, sod // 3600, sod // 60 % 60, sod % 60),
                    "mo": (h >> 12) % 1000000000000, "cust": cust0 + (h >> 32) % ncust,
                    "prod": prod0 + prod, "qty": qty,
                    "amount": "%d.%02d" % (cents // 100, cents % 100), "cur": cur_idx,
                    "stat": stat_idx[(h >> 40) % nstat], "pay": pay0 + (h >> 48) % npay})
                if len(batch) >= 2000:
                    out.write("".join(batch).encode("utf-8"))
                    batch.clear()
            if batch:
                out.write("".join(batch).encode("utf-8"))
            out.write(b"</sheetData></worksheet>")


# --------------------------------------------------------------------------------------------
# state


class Task:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.path = None
        self.size = None
        self.sha256 = None
        self.done = False          # file written (or generation failed)
        self.gen_failed = False
        self.finish_wall = None
        self.expires_wall = None


class Sim:
    def __init__(self, args, secret):
        self.secret = secret
        self.merchant = args.merchant
        # merchantNo -> signing secret, the --merchant one first; revoked ones answer 1003
        self.secrets = {args.merchant: secret, **dict(args.extra_merchant)}
        self.revoked = set()
        self.data_dir = os.path.abspath(args.data_dir)
        self.seed = args.seed
        self.lock = threading.Lock()
        self.rng = random.Random(args.seed)
        self.public_host = "127.0.0.1"
        self.port = 0
        self.settings = {
            "rows": args.rows, "compression": args.compression,
            "pending_s": args.pending_s, "generating_s": args.generating_s,
            "file_ttl_s": args.file_ttl_s, "url_ttl_ms": args.url_ttl_ms,
            "skew_ms": args.skew_ms, "today": args.today or "",
            "live": False, "clock": 0,
            "outcomes": {},
            "api_500_next": 0, "api_500_rate": 0.0, "truncate_json_next": 0,
            "api_delay_ms": 0, "rate_limit_next": 0, "unavailable_next": 0,
            "retry_after_s": 1, "oversize_json_next": 0,
            "drop_download_after": 0, "drop_download_count": 0, "ignore_range": False,
            "content_length_delta": 0, "content_length_count": 0,
            "download_rate_bps": 0, "download_delay_ms": 0,
            "download_url_override": None, "file_name_override": None,
            "redirect_download_to": None, "expire_files_now": False,
        }
        self.seen_ranges = set()
        self.tasks = {}
        self.tokens = {}
        self.files = {}            # content key -> {"lock", "path", "size", "sha256"}
        self.files_lock = threading.Lock()
        self.file_digits = {m: int.from_bytes(hashlib.sha256(
            ("vexora-file|" + m).encode()).digest()[:8], "big") % 10 ** 10
            for m in self.secrets}
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"apply": 0, "status": 0, "downloadUrl": 0, "download": 0,
                      "download_bytes": 0, "bad_sign": 0, "faults_injected": 0,
                      "download_leaks": 0}
        self.stats.update(merchant_stats(self.secrets))

    def stats_json(self):
        with self.lock:
            return copy_stats(self.stats)

    def auth_failed(self, merchant, bad_sign=False):
        with self.lock:
            self.stats["auth_failures"] += 1
            count_by(self.stats, "auth_failures_by_merchant", merchant)
            if bad_sign:
                self.stats["bad_sign"] += 1

    def set_revoked(self, m, revoked):
        """Revoke (or restore) merchantNo m for /_sim/revoke; the revoked list."""
        if m not in self.secrets:
            raise ValueError("body must be {\"merchant\": M} with a served merchantNo")
        with self.lock:
            (self.revoked.add if revoked else self.revoked.discard)(m)
            return sorted(self.revoked)

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def take(self, key):
        """Consume one unit of a counter; True if it fired."""
        with self.lock:
            if self.settings[key] > 0:
                self.settings[key] -= 1
                self.stats["faults_injected"] += 1
                return True
            return False

    def clock(self):
        """The simulator's wall clock (unix s): the control endpoint's "clock", else real."""
        return self.settings["clock"] or time.time()

    def today(self):
        t = self.settings["today"]
        if t:
            return datetime.date.fromisoformat(t)
        if self.settings["live"]:
            return datetime.date.fromtimestamp(self.clock())
        return datetime.date.today()

    def live_until(self, end):
        """Live mode: the local time (s since 1970-01-01 local) up to which orders exist,
        when the range ends after it; None when every order of the range exists."""
        if not self.settings["live"]:
            return None
        lt = time.localtime(self.clock())
        now = datetime.datetime(*lt[:6])
        if end <= now:
            return None
        return int((now - datetime.datetime(1970, 1, 1)).total_seconds())

    # ---- config -------------------------------------------------------------------------

    def configure(self, body):
        if not isinstance(body, dict):
            raise ValueError("config must be a JSON object")
        ints = {"rows", "url_ttl_ms", "skew_ms", "api_500_next", "truncate_json_next",
                "api_delay_ms", "rate_limit_next", "unavailable_next", "oversize_json_next",
                "drop_download_after", "drop_download_count", "content_length_count",
                "download_rate_bps", "download_delay_ms"}
        floats = {"pending_s", "generating_s", "file_ttl_s", "retry_after_s"}
        strs = {"download_url_override", "file_name_override", "redirect_download_to"}
        new = {}
        for k, v in body.items():
            if k in ints:
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"{k} must be a non-negative integer")
            elif k in floats:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError(f"{k} must be a non-negative number")
            elif k == "api_500_rate":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                    raise ValueError("api_500_rate must be within 0..1")
                v = float(v)
            elif k == "content_length_delta":
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError("content_length_delta must be an integer")
            elif k == "clock":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError("clock must be unix seconds (0 = the real clock)")
            elif k in ("ignore_range", "expire_files_now", "live"):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be a boolean")
            elif k in strs:
                if v is not None and not isinstance(v, str):
                    raise ValueError(f"{k} must be a string or null")
                v = v or None
            elif k == "compression":
                if v not in ("deflate", "stored"):
                    raise ValueError("compression must be deflate or stored")
            elif k == "today":
                if v is None:
                    v = ""
                if not isinstance(v, str) or (v and not DATE_RE.match(v)):
                    raise ValueError("today must be YYYY-MM-DD or empty")
                if v:
                    datetime.date.fromisoformat(v)
            elif k == "outcomes":
                if v is None:
                    v = {}
                if not isinstance(v, dict):
                    raise ValueError("outcomes must be an object")
                for rk, rv in v.items():
                    if not RANGE_KEY_RE.match(rk):
                        raise ValueError(f"outcomes key {rk!r} is not YYYY-MM-DD..YYYY-MM-DD")
                    if rv not in ("ok", "failed", "nodata", "failed_once"):
                        raise ValueError(f"outcomes value {rv!r} is not ok/failed/nodata/failed_once")
                v = dict(v)
            else:
                raise ValueError(f"unknown setting {k!r}")
            new[k] = v
        with self.lock:
            if "drop_download_after" in new and "drop_download_count" not in new:
                new["drop_download_count"] = 1
            if "content_length_delta" in new and "content_length_count" not in new:
                new["content_length_count"] = 1 if new["content_length_delta"] else 0
            if "outcomes" in new:
                self.seen_ranges.clear()
            expire = new.pop("expire_files_now", False)
            self.settings.update(new)
            if expire:
                t = time.time()
                for task in self.tasks.values():
                    if task.done and not task.gen_failed and task.path:
                        task.expires_wall = min(task.expires_wall or t, t)
            return dict(self.settings)

    def reset(self):
        with self.lock:
            self.reset_stats()
            for k in COUNTERS:
                self.settings[k] = 0

    # ---- tasks --------------------------------------------------------------------------

    def task_status(self, task):
        """Status code string; caller holds the lock."""
        el = time.monotonic() - task.apply_mono
        if el < task.pending_s:
            return "0"
        if task.outcome == "failed":
            return "1" if el < task.pending_s + task.generating_s else "3"
        if task.outcome == "nodata":
            return "1" if el < task.pending_s + task.generating_s else "4"
        if not task.done or el < task.pending_s + task.generating_s:
            return "1"
        return "3" if task.gen_failed else "2"

    def file_expired(self, task):
        return task.expires_wall is not None and time.time() >= task.expires_wall

    def generate(self, task):
        time.sleep(task.pending_s)
        key = hashlib.sha256(json.dumps(
            [task.merchant, task.start_s, task.end_s, task.lang, task.rows, self.seed,
             task.compression, task.until_s]).encode()).hexdigest()[:24]
        with self.files_lock:
            entry = self.files.setdefault(key, {"lock": threading.Lock(), "path": None})
        ok = False
        try:
            with entry["lock"]:
                if entry["path"] is None:
                    path = os.path.join(self.data_dir, key + ".xlsx")
                    fd, tmp = tempfile.mkstemp(prefix=key, suffix=".tmp", dir=self.data_dir)
                    os.close(fd)
                    try:
                        write_xlsx(tmp, task.merchant, task.start_dt, task.end_dt, task.lang,
                                   task.rows, self.seed, task.compression, task.until_s)
                        h = hashlib.sha256()
                        with open(tmp, "rb") as f:
                            for chunk in iter(lambda: f.read(1 << 20), b""):
                                h.update(chunk)
                        os.chmod(tmp, 0o644)
                        os.replace(tmp, path)
                    except BaseException:
                        try:
                            os.unlink(tmp)
                        except OSError:
                            pass
                        raise
                    entry.update(path=path, size=os.path.getsize(path), sha256=h.hexdigest())
            ok = True
        except Exception as e:  # generation failure -> status "3"
            print(f"vexora_sim: generating task {task.id} failed: {e!r}", file=sys.stderr,
                  flush=True)
        with self.lock:
            wall = time.time()
            task.finish_wall = max(wall, task.apply_wall + task.pending_s + task.generating_s)
            if ok:
                task.path, task.size, task.sha256 = entry["path"], entry["size"], entry["sha256"]
                task.expires_wall = task.finish_wall + self.settings["file_ttl_s"]
            else:
                task.gen_failed = True
            task.done = True

    # ---- API ----------------------------------------------------------------------------

    def api(self, endpoint, headers, raw):
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError("1001", "Content-Type must be application/json")
        merchant = headers.get("merchantNo")
        secret = self.secrets.get(merchant)
        if secret is None:
            self.auth_failed(merchant or "")
            raise ApiError("1002", "Invalid merchantNo")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError("1001", "Request body is not valid JSON")
        if not isinstance(body, dict):
            raise ApiError("1001", "Request body must be a JSON object")
        ts = body.get("timestamp")
        if ts is None or ts == "":
            raise ApiError("1001", "timestamp is required")
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise ApiError("1001", "timestamp must be an integer number of milliseconds")
        sign = body.get("sign")
        if sign is None or sign == "":
            raise ApiError("1001", "sign is required")
        if not isinstance(sign, str):
            raise ApiError("1001", "sign must be a string")
        with self.lock:
            revoked = merchant in self.revoked
        if revoked:  # the merchant's secret no longer verifies anything
            self.auth_failed(merchant)
            raise ApiError("1003", "Sign verification failed")
        if not secrets.compare_digest(sign.encode(), compute_sign(body, secret).encode()):
            self.auth_failed(merchant, bad_sign=True)
            raise ApiError("1003", "Sign verification failed")
        with self.lock:
            skew = self.settings["skew_ms"]
        if abs(now_ms() - ts) > skew:
            raise ApiError("1004", "Request timestamp is outside the allowed time window")
        return getattr(self, "api_" + endpoint)(body, merchant)

    def api_apply(self, body, merchant):
        rt = body.get("reportType")
        if rt is None or rt == "":
            raise ApiError("1001", "reportType is required")
        if rt != "order":
            raise ApiError("2005", "Unsupported reportType")
        lang = body.get("language")
        if lang is None or lang == "":
            lang = "en-US"
        if not isinstance(lang, str) or lang.lower() not in LANGUAGES:
            raise ApiError("2006", "Unsupported language")
        for f in ("startTime", "endTime"):
            if body.get(f) is None or body.get(f) == "":
                raise ApiError("1001", f"{f} is required")
        start = parse_time(body["startTime"], False)
        if start is None:
            raise ApiError("2004", "Invalid startTime format, expected yyyy-MM-dd or "
                                   "yyyy-MM-dd HH:mm:ss")
        end = parse_time(body["endTime"], True)
        if end is None:
            raise ApiError("2004", "Invalid endTime format, expected yyyy-MM-dd or "
                                   "yyyy-MM-dd HH:mm:ss")
        if start > end:
            raise ApiError("2001", "startTime cannot be later than endTime")
        today = self.today()
        if start.date() < minus_months(today, 3) or end.date() > today:
            raise ApiError("2002", "Only data within the last 3 months can be exported")
        if (end.date() - start.date()).days + 1 > 7:
            raise ApiError("2003", "Maximum export range is 7 days")
        rkey = f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
        wall = time.time()
        with self.lock:
            s = self.settings
            outcome = s["outcomes"].get(rkey, "ok")
            if outcome == "failed_once":
                if rkey in self.seen_ranges:
                    outcome = "ok"
                else:
                    self.seen_ranges.add(rkey)
                    outcome = "failed"
            task = Task(id=secrets.token_hex(16), merchant=merchant, start_dt=start, end_dt=end,
                        start_s=f"{start:%Y-%m-%d %H:%M:%S}", end_s=f"{end:%Y-%m-%d %H:%M:%S}",
                        lang=LANGUAGES[lang.lower()], outcome=outcome,
                        apply_mono=time.monotonic(), apply_wall=wall,
                        pending_s=float(s["pending_s"]), generating_s=float(s["generating_s"]),
                        rows=s["rows"], compression=s["compression"],
                        until_s=self.live_until(end),
                        file_name="Merchant Order List-%s-%010d.xlsx" % (
                            time.strftime("%Y%m%d%H%M%S", time.localtime(wall)),
                            self.file_digits[merchant]))
            self.tasks[task.id] = task
            name = s["file_name_override"] or task.file_name
        if outcome == "ok":
            threading.Thread(target=self.generate, args=(task,), daemon=True,
                             name="gen-" + task.id[:8]).start()
        return {"id": task.id, "fileName": name, "status": "0"}

    def _task(self, body, merchant):
        """The merchant's task named by body's id; another merchant's task is not found."""
        tid = body.get("id")
        if tid is None or tid == "":
            raise ApiError("1001", "id is required")
        if not isinstance(tid, str):
            raise ApiError("1001", "id must be a string")
        task = self.tasks.get(tid)
        if task is None or task.merchant != merchant:
            raise ApiError("3001", "Export task not found")
        return task

    def api_status(self, body, merchant):
        with self.lock:
            task = self._task(body, merchant)
            st = self.task_status(task)
            data = {"id": task.id,
                    "fileName": self.settings["file_name_override"] or task.file_name,
                    "status": st}
            if st == "2":
                data["finishTime"] = fmt_local(task.finish_wall)
                data["fileExpires"] = fmt_local(task.expires_wall)
            data["msg"] = STATUS_MSG[st]
        return data

    def api_downloadUrl(self, body, merchant):
        with self.lock:
            task = self._task(body, merchant)
            if self.task_status(task) != "2":
                raise ApiError("3002", "Export task not generated")
            if self.file_expired(task):
                raise ApiError("3003", "The file has expired, please re-export it")
            ttl = self.settings["url_ttl_ms"]
            token = secrets.token_urlsafe(24)
            self.tokens[token] = (task.id, time.time() + ttl / 1000.0)
            url = self.settings["download_url_override"] or \
                f"http://{self.public_host}:{self.port}/download/{token}"
        return {"downloadUrl": url, "expire": ttl}


# --------------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "VexoraSim/1.0"
    timeout = 300  # idle keep-alive connections are closed after this long
    # TCP_NODELAY, as production HTTP servers set it: every reply is written as headers, then
    # body. With Nagle on, a small body waits for the ACK of the headers, and a client that
    # just sent its request delays that ACK by up to 40 ms: a downloadUrl asked right after
    # the poll that saw the file generated took 44 ms instead of 1 (row 4 of make bench).
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    @property
    def sim(self):
        return self.server.sim

    def log_message(self, fmt, *args):
        if self.server.quiet:
            return
        sys.stderr.write("vexora_sim: %s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        if isinstance(code, http.HTTPStatus):
            code = code.value
        self.log_message('"%s" %s', self.requestline, str(code))

    # ---- plumbing -----------------------------------------------------------------------

    def _guard(self, fn):
        try:
            fn()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                socket.timeout):
            self.close_connection = True

    def do_GET(self):
        self._guard(lambda: self._dispatch("GET"))

    def do_HEAD(self):
        self._guard(lambda: self._dispatch("HEAD"))

    def do_POST(self):
        self._guard(lambda: self._dispatch("POST"))

    def do_PUT(self):
        self._guard(lambda: self._dispatch("PUT"))

    def do_DELETE(self):
        self._guard(lambda: self._dispatch("DELETE"))

    def send_bytes(self, code, body, ctype="text/plain; charset=utf-8", headers=(),
                   head=False, length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def send_json(self, code, obj, head=False):
        self.send_bytes(code, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                        "application/json; charset=utf-8", head=head)

    def read_body(self):
        """The request body (bounded), or None after answering 413/400."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    self.send_bytes(400, b"bad chunked encoding\n")
                    return None
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + n > MAX_BODY:
                    self.close_connection = True
                    self.send_bytes(413, b"request body too large\n")
                    return None
                data += self.rfile.read(n)
                self.rfile.readline(1024)
        return read_sized_body(self, MAX_BODY, self._discard)

    def _discard(self, n):
        """Read and drop up to n body bytes (never more than 64 MiB, a few seconds at most)
        so the client gets to read our early answer instead of a reset connection."""
        n = min(n, 64 * 1024 * 1024)
        deadline = time.monotonic() + 5
        try:
            self.connection.settimeout(1)
            while n > 0 and time.monotonic() < deadline:
                got = self.rfile.read1(min(n, CHUNK)) if hasattr(self.rfile, "read1") \
                    else self.rfile.read(min(n, CHUNK))
                if not got:
                    break
                n -= len(got)
        except OSError:
            pass

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        m = API_RE.match(path)
        if m:
            if method != "POST":
                body = self.read_body()
                if body is not None:
                    self.send_bytes(405, b"method not allowed\n", headers=[("Allow", "POST")],
                                    head=method == "HEAD")
                return
            return self.handle_api(m.group(1))
        if path.startswith("/download/"):
            if method in ("GET", "HEAD"):
                return self.handle_download(path[len("/download/"):], url.query,
                                            method == "HEAD")
        elif path.startswith("/_sim/"):
            return self.handle_control(method, path, url.query)
        body = self.read_body()
        if body is not None:
            self.send_bytes(404, b"not found\n", head=method == "HEAD")

    # ---- API ----------------------------------------------------------------------------

    def handle_api(self, endpoint):
        sim = self.sim
        with sim.lock:
            sim.stats[endpoint] += 1
            count_by(sim.stats, "requests_by_merchant", self.headers.get("merchantNo") or "")
        raw = self.read_body()
        if raw is None:
            return
        with sim.lock:
            delay = sim.settings["api_delay_ms"]
        if delay:
            time.sleep(delay / 1000.0)
        if sim.take("api_500_next"):
            return self.send_bytes(500, b"Internal Server Error\n")
        for key, code in (("rate_limit_next", 429), ("unavailable_next", 503)):
            if sim.take(key):
                with sim.lock:
                    ra = sim.settings["retry_after_s"]
                ra = int(ra) if float(ra).is_integer() else ra
                return self.send_bytes(code, b"Too Many Requests\n" if code == 429
                                       else b"Service Unavailable\n",
                                       headers=[("Retry-After", str(ra))])
        with sim.lock:
            rate = sim.settings["api_500_rate"]
            fire = rate > 0 and sim.rng.random() < rate
            if fire:
                sim.stats["faults_injected"] += 1
        if fire:
            return self.send_bytes(500, b"Internal Server Error\n")
        try:
            data = sim.api(endpoint, self.headers, raw)
            resp = {"msg": "success", "code": "0000", "timestamp": now_ms(), "success": True,
                    "data": data}
        except ApiError as e:
            resp = {"msg": e.msg, "code": e.code, "timestamp": now_ms(), "success": False,
                    "data": None}
        # at most one of these two per response; oversize first
        oversize = sim.take("oversize_json_next")
        if oversize:
            resp["msg"] = resp["msg"] + " " + "x" * OVERSIZE
        body = json.dumps(resp, ensure_ascii=False).encode("utf-8")
        if not oversize and sim.take("truncate_json_next"):
            body = body[:len(body) // 2]
        self.send_bytes(200, body, "application/json;charset=UTF-8")

    # ---- downloads ----------------------------------------------------------------------

    def _leaks(self, query):
        keys = [s for s in self.sim.secrets.values() if s]
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in ("merchantno", "authorization") or "sign" in lk:
                return True
            if any(s in v for s in keys):
                return True
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        if any(k.lower() == "sign" for k in q):
            return True
        path = urllib.parse.unquote(self.path)
        return any(s in path for s in keys)

    def handle_download(self, token, query, head):
        sim = self.sim
        raw = self.read_body()
        if raw is None:
            return
        leak = self._leaks(query)
        with sim.lock:
            if not head:
                sim.stats["download"] += 1
            if leak:
                sim.stats["download_leaks"] += 1
            s = dict(sim.settings)
            ent = sim.tokens.get(token)
            task = sim.tasks.get(ent[0]) if ent else None
            if s["redirect_download_to"]:
                sim.stats["faults_injected"] += 1
                loc = s["redirect_download_to"]
                code = 302
            elif task is None:
                code = 404
            elif time.time() >= ent[1]:
                code = 403
            elif sim.file_expired(task):
                code = 410
            else:
                code = 200
        if s["download_delay_ms"]:
            time.sleep(s["download_delay_ms"] / 1000.0)
        if code == 302:
            return self.send_bytes(302, b"", headers=[("Location", loc)], head=head)
        if code != 200:
            msg = {404: b"unknown download token\n", 403: b"download URL expired\n",
                   410: b"file expired\n"}[code]
            return self.send_bytes(code, msg, head=head)
        try:
            f = open(task.path, "rb")
        except OSError:
            return self.send_bytes(500, b"file missing\n", head=head)
        with f:
            self._send_file(f, task, s, head)

    def _parse_range(self, size, etag):
        """None for the whole file, (start, end) inclusive, or "416"."""
        rng = self.headers.get("Range")
        if not rng:
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            return None
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", rng)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None  # malformed or several ranges: ignore Range
        if m.group(1) == "":
            n = int(m.group(2))
            if n == 0:
                return "416"
            return (max(0, size - n), size - 1)
        a = int(m.group(1))
        if a >= size:
            return "416"
        b = int(m.group(2)) if m.group(2) else size - 1
        if b < a:
            return None
        return (a, min(b, size - 1))

    def _send_file(self, f, task, s, head):
        sim = self.sim
        size = os.fstat(f.fileno()).st_size
        etag = '"%s"' % task.sha256[:32]
        rng = self._parse_range(size, etag)
        if rng is not None and s["ignore_range"]:
            sim.bump("faults_injected")
            rng = None
        if rng == "416":
            return self.send_bytes(416, b"range not satisfiable\n",
                                   headers=[("Content-Range", f"bytes */{size}")], head=head)
        start, end = rng if rng else (0, size - 1)
        length = end - start + 1
        declared, limit = length, length
        if not head:
            if sim.take("drop_download_count"):
                limit = min(limit, s["drop_download_after"])
            if s["content_length_delta"] and sim.take("content_length_count"):
                declared = max(0, length + s["content_length_delta"])
                limit = min(limit, declared)
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", XLSX_TYPE)
        self.send_header("Content-Length", str(declared))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", self.date_time_string(int(task.finish_wall)))
        self.send_header("Content-Disposition", "attachment; filename*=UTF-8''"
                         + urllib.parse.quote(task.file_name))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        f.seek(start)
        rate = s["download_rate_bps"]
        chunk = CHUNK if not rate else max(1, min(CHUNK, rate // 20))
        t0 = time.monotonic()
        sent = 0
        while sent < limit:
            data = f.read(min(chunk, limit - sent))
            if not data:
                break
            # Count before handing bytes to the socket, so a client that has received them
            # never sees a stale counter; take them back if the write fails.
            sim.bump("download_bytes", len(data))
            try:
                self.wfile.write(data)
            except OSError:
                sim.bump("download_bytes", -len(data))
                raise
            sent += len(data)
            if rate:
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        if limit != length or declared != length:
            self.close_connection = True  # the declared length was not (or over-) delivered

    # ---- control ------------------------------------------------------------------------

    def handle_control(self, method, path, query):
        sim = self.sim
        raw = self.read_body()
        if raw is None:
            return
        head = method == "HEAD"
        if path == "/_sim/stats" and method in ("GET", "HEAD"):
            return self.send_json(200, sim.stats_json(), head)
        if path in ("/_sim/revoke", "/_sim/unrevoke") and method == "POST":
            return self.send_json(*revoke_answer(path, raw, "merchant", sim.set_revoked))
        if path == "/_sim/reset" and method == "POST":
            sim.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_sim/config":
            if method in ("GET", "HEAD"):
                with sim.lock:
                    return self.send_json(200, dict(sim.settings), head)
            if method == "POST":
                try:
                    body = json.loads(raw.decode("utf-8") or "{}")
                    return self.send_json(200, sim.configure(body))
                except (ValueError, UnicodeDecodeError) as e:
                    return self.send_json(400, {"error": str(e)})
        if path == "/_sim/tasks" and method in ("GET", "HEAD"):
            with sim.lock:
                out = [{"id": t.id, "merchant": t.merchant, "start": t.start_s, "end": t.end_s,
                        "status": sim.task_status(t), "fileName": t.file_name,
                        "size": t.size, "sha256": t.sha256} for t in sim.tasks.values()]
            return self.send_json(200, out, head)
        if path == "/_sim/file" and method in ("GET", "HEAD"):
            tid = urllib.parse.parse_qs(query).get("id", [""])[0]
            with sim.lock:
                task = sim.tasks.get(tid)
                p = task.path if task else None
            if not p:
                return self.send_bytes(404, b"no generated file for that task\n", head=head)
            with open(p, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", XLSX_TYPE)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if not head:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        self.wfile.write(chunk)
            return
        self.send_bytes(404, b"not found\n", head=head)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    quiet = False

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Vexora order export API simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--secret")
    ap.add_argument("--secret-file")
    ap.add_argument("--merchant", required=True)
    ap.add_argument("--extra-merchant", action="append", default=[], type=name_value,
                    metavar="MERCHANT_NO=SECRET", help="another merchant and its secret "
                    "(repeatable)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--pending-s", type=float, default=0.2)
    ap.add_argument("--generating-s", type=float, default=0.5)
    ap.add_argument("--file-ttl-s", type=float, default=604800)
    ap.add_argument("--url-ttl-ms", type=int, default=600000)
    ap.add_argument("--skew-ms", type=int, default=300000)
    ap.add_argument("--today")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--compression", choices=("deflate", "stored"), default="deflate")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = ap.parse_args(argv)

    secret = args.secret
    if args.secret_file:
        with open(args.secret_file, encoding="utf-8") as f:
            secret = f.readline().rstrip("\r\n")
    if not secret:
        ap.error("--secret or --secret-file is required")
    extra = [m for m, _ in args.extra_merchant]
    if args.merchant in extra or len(set(extra)) != len(extra):
        ap.error("--extra-merchant numbers must differ from --merchant and each other")
    if args.rows < 0:
        ap.error("--rows must be >= 0")
    if args.today:
        try:
            datetime.date.fromisoformat(args.today)
        except ValueError:
            ap.error("--today must be YYYY-MM-DD")
    os.makedirs(args.data_dir, exist_ok=True)

    sim = Sim(args, secret)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    Server.address_family = family
    server = Server((args.host, args.port), Handler)
    server.sim = sim
    server.quiet = args.quiet
    sim.port = server.server_address[1]
    if args.host not in ("", "0.0.0.0", "::"):
        sim.public_host = f"[{args.host}]" if ":" in args.host else args.host

    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
