#!/usr/bin/env python3
"""Local simulator of the Clover merchant data export API
(shared/specs/clover-merchant-data-export.txt).

Used by orderfs integration tests. Python 3 standard library only.

What it simulates
-----------------
POST {any prefix}/v3/merchants/{mId}/exports[/]      create an export
GET  {any prefix}/v3/merchants/{mId}/exports/{id}    poll it
GET/HEAD {prefix}/files/<token>/<exportId>-<n>.json  one file of a DONE export (n = 1, 2, ...)

API calls need `Authorization: Bearer <token>` where the path's mId is --merchant (token
--secret) or an --extra-merchant mId (its own token), and the mId is not revoked (see
/_sim/revoke); otherwise 401 {"message": "401 Unauthorized"}: a merchant's valid token on
another merchant's path is refused too. A request carrying an `access_token` query parameter is
refused with the same 401 even when the token is right (and counted as access_token_query).
Every API error is JSON {"message": ...}.

POST body: {"type": "ORDERS"|"PAYMENTS", "startTime": ms, "endTime": ms} (UTC, integers).
400 for a body that is not a JSON object, a bad type, non-integer times, startTime >= endTime
or endTime - startTime > 30 days (30*86400000 ms). Unknown export id, or one of another
merchant: 404 {"message": "Not Found"}.

Export timeline (wall clock, ms): PENDING (percentComplete 0) for pending_s, IN_PROGRESS for
progress_s with an integer percentComplete rising from 0 (capped at 99 until done), then DONE
with percentComplete 100, availableUntil = doneTime + file_ttl_s and exportUrls.elements[] =
{"url", "export": {"id"}}, one URL per 1000 elements; no elements -> an empty list. Settings
are captured when the export is created. After availableUntil the file URLs answer 404 while
GET of the export still answers DONE with the (past) availableUntil.

Files: {"elements": [...]} as compact UTF-8 JSON, generated on demand (nothing is stored), with
Content-Length, ETag, Accept-Ranges and Range support ("bytes=N-", "bytes=N-M", "bytes=-S" ->
206 + Content-Range; 416 when N >= size; malformed or several ranges -> 200 whole file;
If-Range honoured). A file request with an Authorization header is refused with 400 (counted
as file_auth_header): the URLs are pre-signed and must not carry the API token.

Elements are a pure function of (mId, type, seed, UTC day, index in the day, per-day
count): orders_per_day / payments_per_day elements per day, createdTime spread over the day and
strictly increasing, ids 13 chars [A-Z0-9] unique by construction. The mId is mixed into
every key, so each merchant has its own elements (--merchant's are those of a simulator
serving it alone). An export holds those with
startTime <= createdTime <= endTime, so the same seed and range give byte-identical files.

Service hours (all API calls; file URLs are always served): outside them 503
{"message": "Exports are available HH:MM-HH:MM UTC"} with `Retry-After: <whole seconds until
the window opens, >= 1>`. Concurrency: a POST while max_concurrent exports are PENDING or
IN_PROGRESS gets 503 {"message": "Too many concurrent exports"} without Retry-After;
the limit holds for each merchant on its own (another merchant's exports do not count).
Checks run in this order: auth, fail_next, hours, request body, concurrency.

CLI
---
clover_sim.py --port 0 --port-file F --secret TOKEN [--secret-file F] --merchant MID
    [--extra-merchant MID=TOKEN]... --data-dir D [--host 127.0.0.1] [--seed 1]
    [--hours always|HH:MM-HH:MM]
    [--max-concurrent 2] [--file-ttl-s 86400] [--pending-s 0.3] [--progress-s 0.6]
    [--orders-per-day 40] [--payments-per-day 40] [--quiet]
After binding, the port is written to --port-file (temp + rename) and "PORT <n>" is printed.
--secret is the Bearer token it accepts (--secret-file, first line, wins). --data-dir is
created but unused (files are generated on demand); it keeps the CLI shape of the other
simulators. One log line per request goes to stderr, never the token (access_token query
values and every merchant's token are redacted); --quiet turns them off. SIGTERM exits cleanly.

Control endpoints (no auth; tests only)
---------------------------------------
GET  /_sim/stats    {"posts", "gets", "file_downloads", "unauthorized", "access_token_query",
                     "file_auth_header", "hours_503", "concurrency_503", "max_active_seen",
                     "exports_created": {"ORDERS", "PAYMENTS"}, "bytes_served",
                     "auth_failures", "auth_failures_by_merchant", "requests_by_merchant"}
                    posts/gets count every API POST/GET (refused ones too), file_downloads
                    every file GET, unauthorized every 401 (access_token ones included),
                    bytes_served the file body bytes written, max_active_seen the most
                    exports one merchant had active at once. auth_failures counts the 401s
                    too; the two by_merchant dicts are keyed by the path's mId (every served
                    mId listed, 0 included), requests_by_merchant counting every API POST/GET.
POST /_sim/reset    zero the stats and the one-shot faults (fail_next, truncate_json_next,
                    drop_download_next); revocations stay
POST /_sim/revoke {"merchant": MID}    MID's calls answer 401 from now on, even with its token
POST /_sim/unrevoke {"merchant": MID}  undo it; both answer {"ok": true, "revoked": [...]},
                    400 for an mId not served here
GET  /_sim/exports  [{"id", "merchant", "type", "status", "percentComplete", "startTime", "endTime",
                     "createdTime", "doneTime", "availableUntil", "elements", "files",
                     "urls"}, ...]  (true status, status_override ignored)
GET  /_sim/config   current settings
POST /_sim/config   JSON merged into the settings; answers them all (400 on an unknown key or
                    a bad value). Keys:
  hours               "always", "HH:MM-HH:MM" (daily, UTC, end exclusive, may wrap midnight)
                      or {"closed_for_s": S}: closed from now for S seconds, then open
  max_concurrent, file_ttl_s, pending_s, progress_s, orders_per_day, payments_per_day
                      exports created afterwards
  fail_next [codes]   the next API calls (after auth) answer these HTTP statuses, one each,
                      with {"message": <reason>}; replaces the list
  truncate_json_next N  the next N API answers carry the first half of their JSON (the call
                      is processed: e.g. the export is created)
  slow_ms N           sleep N ms before answering every API call and file request
  drop_download_next N  the next N file GETs send the true headers, half the body, then close
  status_override S   GET of an export reports status S (e.g. "FAILED", "WEIRD") without
                      availableUntil/exportUrls unless S is "DONE"; null or "" clears it
  expire_files_now    one-shot: the files of every DONE export expire now
  file_url_override S every exportUrls url is S (a server of a test's own); null or "" clears
  live                (extra) true: the simulator's clock is "now" for the elements: an export
                      created holds only those with createdTime <= the clock (today's
                      elements exist up to it), as a provider answers for a day not over yet
  clock               (extra) the simulator's clock, unix s (0 = the real one): tests move
                      it forward instead of sleeping; it only bounds the elements in live
                      mode (export timelines and availableUntil stay on the real clock)
"""
import argparse
import hashlib
import http.server
import json
import math
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse

from sim_serve import (copy_stats, count_by, merchant_stats, name_value, read_sized_body,
                       revoke_answer, serve)

DAY_MS = 86400000
MAX_RANGE_MS = 30 * DAY_MS
PER_FILE = 1000
MAX_BODY = 1024 * 1024
CHUNK = 256 * 1024
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
TYPES = ("ORDERS", "PAYMENTS")
ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

API_RE = re.compile(r"^(?P<prefix>(?:/.*)?)/v3/merchants/(?P<mid>[^/]+)/exports"
                    r"(?:/(?P<eid>[^/]*))?/?$")
FILE_RE = re.compile(r"^(?:/.*)?/files/(?P<token>[A-Za-z0-9_-]+)/"
                     r"(?P<eid>[A-Z0-9]+)-(?P<n>[1-9][0-9]*)\.json$")
HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")

# One-shot faults that /_sim/reset disarms.
ONE_SHOT = {"fail_next": [], "truncate_json_next": 0, "drop_download_next": 0}


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------------
# deterministic elements


def mix64(z):
    """splitmix64 finalizer: a bijection on 64-bit integers, so distinct inputs give
    distinct outputs (that is what makes element ids unique without bookkeeping)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def key64(*parts):
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def base36_id(n):
    """13 chars [A-Z0-9]; 36**13 > 2**64, so every 64-bit value has its own id."""
    out = []
    for _ in range(13):
        n, r = divmod(n, 36)
        out.append(ID_CHARS[r])
    return "".join(reversed(out))


class Stream:
    """A tiny splitmix64 generator: stable across Python versions, unlike random.Random's
    helper methods, so files stay byte-identical wherever the simulator runs."""

    __slots__ = ("state",)

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + GOLDEN) & MASK64
        return mix64(self.state)

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.next() % len(seq)]


MENU = [("Espresso", 325), ("Crème brûlée", 750), ("日本茶", 400), ("Bagel, toasted", 295),
        ('Cookie "XL"', 250), ("Club sandwich", 1095), ("Extra napkin", 5),
        ("Soup of the day", 675), ("Sparkling water", 199), ("Cheesecake", 525)]
TITLES = ["", "Table 3", "Table 12", "Takeout", "Café counter", "Delivery"]
NOTES = ["", "", "", "No onions", "Crème brûlée for table 5", "日本茶 ×2",
         'Allergy: nuts, "severe"\nCall before delivery', "Split, please"]
PAYMENT_STATES = ["PAID"] * 8 + ["OPEN", "REFUNDED"]
CARD_TYPES = ["VISA", "VISA", "MC", "AMEX", "DISCOVER"]


class Catalog:
    """Everything elements are derived from: the merchant, the seed and the ids of the
    merchant's employees, devices, order types and tenders."""

    def __init__(self, merchant, seed):
        self.merchant = merchant
        self.seed = seed
        self.keys = {t: key64("clover-id", merchant, t, seed) for t in TYPES}
        self.time_keys = {t: key64("clover-time", merchant, t, seed) for t in TYPES}

        def pool(kind, n):
            return [base36_id(mix64(key64("clover-pool", merchant, seed, kind, k)))
                    for k in range(n)]
        self.employees = pool("employee", 5)
        self.devices = pool("device", 3)
        self.order_types = pool("orderType", 3)
        self.tenders = list(zip(pool("tender", 2), ("Credit Card", "Cash")))

    @staticmethod
    def _slot(day, i, per_day):
        return day * DAY_MS + i * DAY_MS // per_day, day * DAY_MS + (i + 1) * DAY_MS // per_day

    def _x(self, etype, day, i):
        # (day, index) packed into distinct 64-bit inputs; i < 2**22 per day is plenty
        return ((day << 22) | i) ^ self.keys[etype]

    def element_id(self, etype, day, i):
        return base36_id(mix64(self._x(etype, day, i)))

    def created(self, etype, day, i, per_day):
        """createdTime of element i of a day: inside its own slot of the day, so the times
        are strictly increasing with i and every one falls inside the day."""
        lo, hi = self._slot(day, i, per_day)
        return lo + mix64(self._x(etype, day, i) ^ self.time_keys[etype]) % (hi - lo)

    def index_range(self, etype, day, per_day, start, end):
        """[lo, hi) of the day's element indexes with start <= createdTime <= end."""
        def first(pred):  # first i in 0..per_day with pred true (pred is monotonic)
            a, b = 0, per_day
            while a < b:
                m = (a + b) // 2
                if pred(m):
                    b = m
                else:
                    a = m + 1
            return a
        lo = first(lambda i: self.created(etype, day, i, per_day) >= start)
        hi = first(lambda i: self.created(etype, day, i, per_day) > end)
        return lo, hi

    def segments(self, etype, per_day, start, end):
        """[(day, lo, hi)] covering the export's elements, in createdTime order."""
        if per_day <= 0:
            return []
        per_day = min(per_day, DAY_MS)
        out = []
        for day in range(start // DAY_MS, end // DAY_MS + 1):
            if day * DAY_MS >= start and (day + 1) * DAY_MS - 1 <= end:
                lo, hi = 0, per_day  # the whole day is inside: no search needed
            else:
                lo, hi = self.index_range(etype, day, per_day, start, end)
            if hi > lo:
                out.append((day, lo, hi))
        return out

    def order(self, day, i, per_day):
        r = Stream(mix64(self._x("ORDERS", day, i)) ^ 0x5A5A)
        created = self.created("ORDERS", day, i, per_day)
        items = []
        total = 0
        for j in range(r.below(4) + (r.below(20) != 0)):  # 0..4 line items, rarely 0
            name, price = r.pick(MENU)
            qty = 1 + r.below(3)
            total += price * qty
            items.append({"id": base36_id(mix64((r.next() + j) & MASK64)), "name": name,
                          "price": price, "unitQty": qty * 1000})
        state = r.pick(PAYMENT_STATES)
        if state == "REFUNDED":
            total = -total
        return {
            "id": self.element_id("ORDERS", day, i), "currency": "USD",
            "employee": {"id": r.pick(self.employees)}, "total": total,
            "paymentState": state, "title": r.pick(TITLES), "note": r.pick(NOTES),
            "orderType": {"id": r.pick(self.order_types)},
            "taxRemoved": r.below(10) == 0, "isVat": r.below(4) == 0,
            "state": "open" if state == "OPEN" else "locked",
            "manualTransaction": r.below(8) == 0, "groupLineItems": r.below(2) == 0,
            "testMode": False, "payType": "SPLIT_GUEST" if r.below(10) == 0 else "FULL",
            "createdTime": created, "clientCreatedTime": created - r.below(5000),
            "modifiedTime": created + r.below(3600000),
            "device": {"id": r.pick(self.devices)},
            "lineItems": {"elements": items},
        }

    def payment(self, day, i, per_day, orders_per_day):
        r = Stream(mix64(self._x("PAYMENTS", day, i)) ^ 0xA5A5)
        created = self.created("PAYMENTS", day, i, per_day)
        # payments point at that day's orders when there are any
        order_id = (self.element_id("ORDERS", day, r.below(orders_per_day))
                    if orders_per_day > 0 else base36_id(r.next()))
        tender_id, label = self.tenders[0] if r.below(10) < 7 else self.tenders[1]
        roll = r.below(25)
        if roll == 0:
            amount = -5  # a tiny refund: money formatting of "-0.05"
        elif roll < 3:
            amount = -(100 + r.below(5000))
        else:
            amount = 100 + r.below(20000)
        sign = -1 if amount < 0 else 1
        p = {"id": self.element_id("PAYMENTS", day, i), "order": {"id": order_id},
             "device": {"id": r.pick(self.devices)}, "tender": {"id": tender_id, "label": label},
             "amount": amount, "tipAmount": r.below(amount // 5 + 1) if amount > 0 else 0,
             "taxAmount": sign * (abs(amount) * 8 // 100),
             "cashbackAmount": 2000 if label == "Credit Card" and r.below(20) == 0 else 0}
        if label == "Cash":
            p["cashTendered"] = (amount + 499) // 500 * 500 if amount > 0 else amount
        p.update({
            "externalPaymentId": None if r.below(2) else "EXT-%010d" % r.below(10 ** 10),
            "employee": {"id": r.pick(self.employees)},
            "createdTime": created, "clientCreatedTime": created - r.below(5000),
            "modifiedTime": created + r.below(3600000),
            "offline": r.below(20) == 0,
            "result": "FAIL" if r.below(20) == 0 else "SUCCESS"})
        if label == "Credit Card":
            p["cardTransaction"] = {"cardType": r.pick(CARD_TYPES),
                                    "last4": "%04d" % r.below(10000),
                                    "type": "AUTH", "state": "CLOSED"}
        return p


# --------------------------------------------------------------------------------------------
# state


class ApiError(Exception):
    def __init__(self, code, message, headers=()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = list(headers)


class Export:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.total = sum(hi - lo for _, lo, hi in self.segments)
        self.nfiles = (self.total + PER_FILE - 1) // PER_FILE
        self.pending_ms = int(round(self.pending_s * 1000))
        self.progress_ms = int(round(self.progress_s * 1000))
        self.done_ms = self.created_ms + self.pending_ms + self.progress_ms
        self.available_until = self.done_ms + int(round(self.ttl_s * 1000))

    def state(self, t):
        """(status, percentComplete, modifiedTime) at wall time t (ms)."""
        el = t - self.created_ms
        if el < self.pending_ms:
            return "PENDING", 0, self.created_ms
        if el < self.pending_ms + self.progress_ms:
            # 100 is kept for DONE so a client never sees IN_PROGRESS at 100 %
            pct = min(99, (el - self.pending_ms) * 100 // self.progress_ms)
            return "IN_PROGRESS", int(pct), t
        return "DONE", 100, self.done_ms

    def active(self, t):
        return t < self.done_ms

    def file_range(self, n):
        """Element positions [lo, hi) of file n (1-based)."""
        return (n - 1) * PER_FILE, min(n * PER_FILE, self.total)

    def positions(self, lo, hi):
        """(day, index) of the export's elements lo..hi-1."""
        pos = 0
        for day, a, b in self.segments:
            size = b - a
            if pos + size > lo and pos < hi:
                for i in range(a + max(0, lo - pos), a + min(size, hi - pos)):
                    yield day, i
            pos += size
            if pos >= hi:
                return


def parse_hours(v):
    """Normalised hours setting, or ValueError."""
    if v == "always":
        return v
    if isinstance(v, str):
        m = HOURS_RE.match(v)
        if not m or m.group(1, 2) == m.group(3, 4):
            raise ValueError('hours must be "always", "HH:MM-HH:MM" (start != end) '
                             'or {"closed_for_s": S}')
        return v
    if isinstance(v, dict) and list(v) == ["closed_for_s"]:
        s = v["closed_for_s"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or s < 0:
            raise ValueError("closed_for_s must be a non-negative number")
        return {"closed_for_s": s}
    raise ValueError('hours must be "always", "HH:MM-HH:MM" or {"closed_for_s": S}')


class Sim:
    def __init__(self, args, secret):
        self.secret = secret
        self.merchant = args.merchant
        # mId -> its Bearer token, the --merchant one first; a revoked mId answers 401
        self.tokens = {args.merchant: secret, **dict(args.extra_merchant)}
        self.revoked = set()
        # Catalog mixes the mId into every key, so each merchant has its own elements
        self.catalogs = {m: Catalog(m, args.seed) for m in self.tokens}
        self.lock = threading.Lock()
        self.public_host = "127.0.0.1"
        self.port = 0
        self.settings = {
            "hours": "always", "max_concurrent": args.max_concurrent,
            "file_ttl_s": args.file_ttl_s, "pending_s": args.pending_s,
            "progress_s": args.progress_s, "orders_per_day": args.orders_per_day,
            "payments_per_day": args.payments_per_day,
            "fail_next": [], "truncate_json_next": 0, "slow_ms": 0, "drop_download_next": 0,
            "status_override": None, "file_url_override": None, "live": False, "clock": 0,
        }
        self.closed_until = 0.0    # wall time, for hours {"closed_for_s": S}
        self.configure({"hours": args.hours})
        self.exports = {}
        self.by_token = {}
        self.reset_stats()

    def reset_stats(self):
        self.stats = {"posts": 0, "gets": 0, "file_downloads": 0, "unauthorized": 0,
                      "access_token_query": 0, "file_auth_header": 0, "hours_503": 0,
                      "concurrency_503": 0, "max_active_seen": 0,
                      "exports_created": {t: 0 for t in TYPES}, "bytes_served": 0}
        self.stats.update(merchant_stats(self.tokens))

    def stats_json(self):
        with self.lock:
            return copy_stats(self.stats)

    def token_ok(self, mid, token):
        """Whether token is mId's own Bearer token and mId is not revoked; caller holds the
        lock."""
        want = self.tokens.get(mid)
        return (want is not None and mid not in self.revoked
                and secrets.compare_digest(token.encode(), want.encode()))

    def set_revoked(self, m, revoked):
        """Revoke (or restore) mId m for /_sim/revoke; the revoked list."""
        if m not in self.tokens:
            raise ValueError("body must be {\"merchant\": M} with a served mId")
        with self.lock:
            (self.revoked.add if revoked else self.revoked.discard)(m)
            return sorted(self.revoked)

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def reset(self):
        with self.lock:
            self.reset_stats()
            for k, v in ONE_SHOT.items():
                self.settings[k] = type(v)()

    def setting(self, key):
        with self.lock:
            return self.settings[key]

    def take(self, key):
        """Consume one unit of a one-shot counter; True if it fired."""
        with self.lock:
            if self.settings[key] > 0:
                self.settings[key] -= 1
                return True
            return False

    def take_failure(self):
        with self.lock:
            codes = self.settings["fail_next"]
            return codes.pop(0) if codes else None

    # ---- config -------------------------------------------------------------------------

    def configure(self, body):
        if not isinstance(body, dict):
            raise ValueError("config must be a JSON object")
        ints = {"max_concurrent", "orders_per_day", "payments_per_day", "truncate_json_next",
                "slow_ms", "drop_download_next"}
        floats = {"file_ttl_s", "pending_s", "progress_s"}
        new = {}
        for k, v in body.items():
            if k in ints:
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"{k} must be a non-negative integer")
            elif k in floats:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError(f"{k} must be a non-negative number")
            elif k == "hours":
                v = parse_hours(v)
            elif k == "fail_next":
                if not isinstance(v, list) or not all(
                        isinstance(c, int) and not isinstance(c, bool) and 400 <= c <= 599
                        for c in v):
                    raise ValueError("fail_next must be a list of HTTP statuses 400..599")
                v = list(v)
            elif k in ("status_override", "file_url_override"):
                if v is not None and not isinstance(v, str):
                    raise ValueError(f"{k} must be a string or null")
                v = v or None
            elif k in ("expire_files_now", "live"):
                if not isinstance(v, bool):
                    raise ValueError(f"{k} must be a boolean")
            elif k == "clock":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise ValueError("clock must be unix seconds (0 = the real clock)")
            else:
                raise ValueError(f"unknown setting {k!r}")
            new[k] = v
        with self.lock:
            expire = new.pop("expire_files_now", False)
            if isinstance(new.get("hours"), dict):
                self.closed_until = time.time() + new["hours"]["closed_for_s"]
            self.settings.update(new)
            if expire:
                t = now_ms()
                for e in self.exports.values():
                    if not e.active(t):
                        e.available_until = min(e.available_until, t)
            return self.public_settings()

    def public_settings(self):
        """Settings as JSON; caller holds the lock."""
        out = dict(self.settings)
        out["fail_next"] = list(out["fail_next"])
        return out

    # ---- service hours ------------------------------------------------------------------

    def closed(self, t):
        """None when the service is open at wall time t (s), else (message, retry_after)."""
        with self.lock:
            hours = self.settings["hours"]
            closed_until = self.closed_until
        if hours == "always":
            return None
        if isinstance(hours, dict):
            if t >= closed_until:
                return None
            msg = "Exports are available again from %s UTC" % time.strftime(
                "%H:%M:%S", time.gmtime(math.ceil(closed_until)))
            return msg, max(1, math.ceil(closed_until - t))
        m = HOURS_RE.match(hours)
        a = (int(m.group(1)) * 60 + int(m.group(2))) * 60
        b = (int(m.group(3)) * 60 + int(m.group(4))) * 60
        sod = t % 86400
        inside = a <= sod < b if a < b else (sod >= a or sod < b)
        if inside:
            return None
        return f"Exports are available {hours} UTC", max(1, math.ceil((a - sod) % 86400))

    # ---- API ----------------------------------------------------------------------------

    def create(self, raw, prefix, mid):
        """The export object of a new export, or ApiError."""
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        etype = body.get("type")
        if etype not in TYPES:
            raise ApiError(400, "type must be ORDERS or PAYMENTS")
        start, end = body.get("startTime"), body.get("endTime")
        for name, v in (("startTime", start), ("endTime", end)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ApiError(400, f"{name} must be a time in milliseconds since the epoch")
        if start >= end:
            raise ApiError(400, "startTime must be before endTime")
        if end - start > MAX_RANGE_MS:
            raise ApiError(400, "The maximum time range is 30 days")
        with self.lock:
            s = dict(self.settings)
        per_day = s["orders_per_day"] if etype == "ORDERS" else s["payments_per_day"]
        upto = end
        if s["live"]:
            # elements created after the clock do not exist yet (the export keeps its endTime)
            upto = min(end, int((s["clock"] or time.time()) * 1000))
        # computed outside the lock: a 30-day range costs a few binary searches
        segments = self.catalogs[mid].segments(etype, per_day, start, upto) if upto >= start \
            else []
        with self.lock:
            t = now_ms()
            # max_concurrent holds for each merchant on its own
            active = sum(1 for e in self.exports.values() if e.merchant == mid and e.active(t))
            if active >= self.settings["max_concurrent"]:
                self.stats["concurrency_503"] += 1
                raise ApiError(503, "Too many concurrent exports")
            eid = self._new_id()
            e = Export(id=eid, merchant=mid, type=etype, start=start, end=end, created_ms=t,
                       pending_s=float(s["pending_s"]), progress_s=float(s["progress_s"]),
                       ttl_s=float(s["file_ttl_s"]), per_day=per_day,
                       orders_per_day=s["orders_per_day"], segments=segments, prefix=prefix,
                       token=secrets.token_urlsafe(24))
            self.exports[eid] = e
            self.by_token[e.token] = e
            self.stats["exports_created"][etype] += 1
            self.stats["max_active_seen"] = max(self.stats["max_active_seen"], active + 1)
            return self.export_json(e, t, override=False)

    def _new_id(self):
        while True:
            eid = "".join(secrets.choice(ID_CHARS) for _ in range(13))
            if eid not in self.exports:
                return eid

    def lookup(self, eid, mid):
        """mId's export eid; another merchant's export is not found."""
        with self.lock:
            e = self.exports.get(eid)
            if e is None or e.merchant != mid:
                raise ApiError(404, "Not Found")
            return self.export_json(e, now_ms(), override=True)

    def file_url(self, e, n):
        if self.settings["file_url_override"]:
            return self.settings["file_url_override"]
        return f"http://{self.public_host}:{self.port}{e.prefix}/files/{e.token}/{e.id}-{n}.json"

    def export_json(self, e, t, override):
        """The export object at wall time t; caller holds the lock."""
        status, pct, modified = e.state(t)
        done = status == "DONE"
        if override and self.settings["status_override"]:
            status = self.settings["status_override"]
            done = done and status == "DONE"
        obj = {"id": e.id, "type": e.type, "status": status, "percentComplete": pct}
        if done:
            obj["availableUntil"] = e.available_until
        obj.update({"startTime": e.start, "endTime": e.end, "createdTime": e.created_ms,
                    "modifiedTime": modified})
        if done:
            obj["exportUrls"] = {"elements": [
                {"url": self.file_url(e, n), "export": {"id": e.id}}
                for n in range(1, e.nfiles + 1)]}
        obj["merchantRef"] = {"id": e.merchant}
        return obj

    def list_exports(self):
        with self.lock:
            t = now_ms()
            out = []
            for e in self.exports.values():
                status, pct, _ = e.state(t)
                out.append({"id": e.id, "merchant": e.merchant, "type": e.type, "status": status,
                            "percentComplete": pct, "startTime": e.start, "endTime": e.end,
                            "createdTime": e.created_ms, "doneTime": e.done_ms,
                            "availableUntil": e.available_until, "elements": e.total,
                            "files": e.nfiles,
                            "urls": [self.file_url(e, n) for n in range(1, e.nfiles + 1)]})
            return out

    # ---- files --------------------------------------------------------------------------

    def file_export(self, token, eid, n):
        """The export whose file n this URL names, if it is downloadable now, else None."""
        with self.lock:
            e = self.by_token.get(token)
            t = now_ms()
            if e is None or e.id != eid or n > e.nfiles or e.active(t) \
                    or t >= e.available_until:
                return None
            return e

    def file_bytes(self, e, n):
        lo, hi = e.file_range(n)
        cat = self.catalogs[e.merchant]
        if e.type == "ORDERS":
            elements = [cat.order(day, i, e.per_day) for day, i in e.positions(lo, hi)]
        else:
            elements = [cat.payment(day, i, e.per_day, e.orders_per_day)
                        for day, i in e.positions(lo, hi)]
        return json.dumps({"elements": elements}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CloverSim/1.0"
    timeout = 300  # idle keep-alive connections are closed after this long

    def version_string(self):
        return self.server_version

    @property
    def sim(self):
        return self.server.sim

    # ---- logging (never the token) ------------------------------------------------------

    def redact(self, text):
        text = re.sub(r"(access_token=)[^&\s]*", r"\1REDACTED", text, flags=re.I)
        tokens = self.sim.tokens.values()
        # The token may also sit elsewhere in a buggy request line; the split keeps a short
        # token from mangling the redacted parameter's own name.
        parts = re.split(r"(access_token=REDACTED)", text, flags=re.I)
        for i in range(0, len(parts), 2):
            for s in {v for t in tokens for v in (t, urllib.parse.quote(t, safe=""))}:
                parts[i] = parts[i].replace(s, "REDACTED")
        return "".join(parts)

    def log_message(self, fmt, *args):
        if self.server.quiet:
            return
        line = self.redact("%s %s" % (self.address_string(), fmt % args))
        sys.stderr.write("clover_sim: %s\n" % line)

    def log_request(self, code="-", size="-"):
        if isinstance(code, http.HTTPStatus):
            code = code.value
        self.log_message('"%s" %s', self.requestline, str(code))

    # ---- plumbing -----------------------------------------------------------------------

    def _guard(self, method):
        try:
            self._dispatch(method)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                socket.timeout):
            self.close_connection = True

    def do_GET(self):
        self._guard("GET")

    def do_HEAD(self):
        self._guard("HEAD")

    def do_POST(self):
        self._guard("POST")

    def do_PUT(self):
        self._guard("PUT")

    def do_DELETE(self):
        self._guard("DELETE")

    def send_bytes(self, code, body, ctype="text/plain; charset=utf-8", headers=(),
                   head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def send_json(self, code, obj, head=False, headers=(), truncate=False):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        if truncate:
            body = body[:len(body) // 2]
        self.send_bytes(code, body, "application/json; charset=utf-8", headers, head)

    def read_body(self):
        """The request body (at most MAX_BODY), or None after answering 400/413."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        return read_sized_body(self, MAX_BODY)

    def _read_chunked(self):
        data = bytearray()
        while True:
            try:
                n = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self.send_bytes(400, b"bad chunked encoding\n")
                return None
            if n == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(data)
            if len(data) + n > MAX_BODY:
                self.close_connection = True
                self.send_bytes(413, b"request body too large\n")
                return None
            data += self.rfile.read(n)
            self.rfile.readline(1024)

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        raw = self.read_body()
        if raw is None:
            return
        head = method == "HEAD"
        if url.path.startswith("/_sim/"):
            return self.handle_control(method, url.path, raw)
        m = FILE_RE.match(url.path)
        if m:
            if method not in ("GET", "HEAD"):
                return self.send_json(405, {"message": "Method Not Allowed"})
            return self.handle_file(m.group("token"), m.group("eid"), int(m.group("n")), head)
        m = API_RE.match(url.path)
        if m:
            return self.handle_api(method, m, url.query, raw)
        self.send_json(404, {"message": "Not Found"}, head)

    # ---- API ----------------------------------------------------------------------------

    def authorized(self, query, mid):
        """True, or False after counting why (the caller answers 401)."""
        sim = self.sim
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        with sim.lock:
            auth = self.headers.get("Authorization") or ""
            scheme, _, token = auth.partition(" ")
            if "access_token" in q:
                # the token belongs in the header, never in a URL that ends up in logs
                sim.stats["access_token_query"] += 1
                ok = False
            else:
                ok = scheme.lower() == "bearer" and sim.token_ok(mid, token.strip())
            if not ok:
                sim.stats["unauthorized"] += 1
                sim.stats["auth_failures"] += 1
                count_by(sim.stats, "auth_failures_by_merchant", mid)
            return ok

    def handle_api(self, method, m, query, raw):
        sim = self.sim
        eid = m.group("eid")
        creating = not eid  # ".../exports" or ".../exports/"
        if (method, creating) in (("POST", True), ("GET", False)):
            with sim.lock:
                sim.stats["posts" if creating else "gets"] += 1
                count_by(sim.stats, "requests_by_merchant", m.group("mid"))
        else:
            return self.send_json(405, {"message": "Method Not Allowed"},
                                  headers=[("Allow", "POST" if creating else "GET")])
        if not self.authorized(query, m.group("mid")):
            return self.send_json(401, {"message": "401 Unauthorized"})
        slow = sim.setting("slow_ms")
        if slow:
            time.sleep(slow / 1000.0)
        try:
            code = sim.take_failure()
            if code is not None:
                raise ApiError(code, http.HTTPStatus(code).phrase
                               if code in http.HTTPStatus._value2member_map_ else "Error")
            closed = sim.closed(time.time())
            if closed:
                sim.bump("hours_503")
                raise ApiError(503, closed[0], [("Retry-After", str(closed[1]))])
            if creating:
                code, obj = 200, sim.create(raw, m.group("prefix"), m.group("mid"))
            else:
                code, obj = 200, sim.lookup(eid, m.group("mid"))
        except ApiError as e:
            return self.send_json(e.code, {"message": e.message}, headers=e.headers,
                                  truncate=sim.take("truncate_json_next"))
        self.send_json(code, obj, truncate=sim.take("truncate_json_next"))

    # ---- files --------------------------------------------------------------------------

    def handle_file(self, token, eid, n, head):
        sim = self.sim
        if not head:
            sim.bump("file_downloads")
        if self.headers.get("Authorization") is not None:
            sim.bump("file_auth_header")
            return self.send_json(400, {"message": "File URLs are pre-signed; do not send "
                                                   "an Authorization header"}, head)
        slow = sim.setting("slow_ms")
        if slow:
            time.sleep(slow / 1000.0)
        e = sim.file_export(token, eid, n)
        if e is None:
            return self.send_json(404, {"message": "Not Found"}, head)
        body = sim.file_bytes(e, n)
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
        rng = self.parse_range(len(body), etag)
        if rng == "416":
            return self.send_bytes(416, b"range not satisfiable\n", head=head,
                                   headers=[("Content-Range", f"bytes */{len(body)}")])
        start, end = rng if rng else (0, len(body) - 1)
        part = body[start:end + 1]
        headers = [("Accept-Ranges", "bytes"), ("ETag", etag)]
        if rng:
            headers.append(("Content-Range", f"bytes {start}-{end}/{len(body)}"))
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(part)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if head:
            return
        if sim.take("drop_download_next"):
            part = part[:len(part) // 2]
            self.close_connection = True  # the declared length is not delivered
        self.send_body(part)

    def send_body(self, data):
        for off in range(0, len(data), CHUNK):
            chunk = data[off:off + CHUNK]
            # counted before the write so a client that has the bytes never sees a stale
            # counter; taken back if the write fails
            self.sim.bump("bytes_served", len(chunk))
            try:
                self.wfile.write(chunk)
            except OSError:
                self.sim.bump("bytes_served", -len(chunk))
                raise

    def parse_range(self, size, etag):
        """None for the whole body, (start, end) inclusive, or "416"."""
        rng = self.headers.get("Range")
        if not rng or size == 0:
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            return None
        m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", rng)
        if not m or m.group(1, 2) == ("", ""):
            return None  # malformed or several ranges: the whole body
        if m.group(1) == "":
            n = int(m.group(2))
            return "416" if n == 0 else (max(0, size - n), size - 1)
        a = int(m.group(1))
        if a >= size:
            return "416"
        b = int(m.group(2)) if m.group(2) else size - 1
        if b < a:
            return None
        return a, min(b, size - 1)

    # ---- control ------------------------------------------------------------------------

    def handle_control(self, method, path, raw):
        sim = self.sim
        get = method in ("GET", "HEAD")
        head = method == "HEAD"
        if path == "/_sim/stats" and get:
            return self.send_json(200, sim.stats_json(), head)
        if path in ("/_sim/revoke", "/_sim/unrevoke") and method == "POST":
            return self.send_json(*revoke_answer(path, raw, "merchant", sim.set_revoked))
        if path == "/_sim/reset" and method == "POST":
            sim.reset()
            return self.send_json(200, {"ok": True})
        if path == "/_sim/exports" and get:
            return self.send_json(200, sim.list_exports(), head)
        if path == "/_sim/config" and get:
            with sim.lock:
                return self.send_json(200, sim.public_settings(), head)
        if path == "/_sim/config" and method == "POST":
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
                return self.send_json(200, sim.configure(body))
            except (ValueError, UnicodeDecodeError) as e:
                return self.send_json(400, {"error": str(e)})
        self.send_json(404, {"message": "Not Found"}, head)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    quiet = False

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return  # clients that hang up are normal here (drop tests, timeouts)
        super().handle_error(request, client_address)




def parse_args(argv):
    ap = argparse.ArgumentParser(description="Clover merchant data export API simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--secret", help="the Bearer token accepted")
    ap.add_argument("--secret-file")
    ap.add_argument("--merchant", required=True, help="the mId accepted")
    ap.add_argument("--extra-merchant", action="append", default=[], type=name_value,
                    metavar="MID=TOKEN", help="another mId and its Bearer token (repeatable)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", default="always")
    ap.add_argument("--max-concurrent", type=int, default=2)
    ap.add_argument("--file-ttl-s", type=float, default=86400)
    ap.add_argument("--pending-s", type=float, default=0.3)
    ap.add_argument("--progress-s", type=float, default=0.6)
    ap.add_argument("--orders-per-day", type=int, default=40)
    ap.add_argument("--payments-per-day", type=int, default=40)
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = ap.parse_args(argv)
    if args.secret_file:
        with open(args.secret_file, encoding="utf-8") as f:
            args.secret = f.readline().rstrip("\r\n")
    if not args.secret:
        ap.error("--secret or --secret-file is required")
    extra = [m for m, _ in args.extra_merchant]
    if args.merchant in extra or len(set(extra)) != len(extra):
        ap.error("--extra-merchant mIds must differ from --merchant and each other")
    if args.hours != "always":
        try:
            parse_hours(args.hours)
        except ValueError as e:
            ap.error(str(e))
    for name in ("max_concurrent", "orders_per_day", "payments_per_day"):
        if getattr(args, name) < 0:
            ap.error(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("file_ttl_s", "pending_s", "progress_s"):
        if getattr(args, name) < 0:
            ap.error(f"--{name.replace('_', '-')} must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.data_dir, exist_ok=True)
    sim = Sim(args, args.secret)
    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    server = Server((args.host, args.port), Handler)
    server.sim = sim
    server.quiet = args.quiet
    sim.port = server.server_address[1]
    if args.host not in ("", "0.0.0.0", "::"):
        sim.public_host = f"[{args.host}]" if ":" in args.host else args.host
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
