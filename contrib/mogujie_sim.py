#!/usr/bin/env python3
"""Local simulator of Mogujie's xiaodian.trade.sold.encrypted.get API and its OAuth refresh
(shared/specs/mogujie-trade-sold-encrypted-get.txt). Used by orderfs integration tests and
benchmarks. Python 3 standard library only; AES comes from contrib/aes128.py.

What it simulates
-----------------
POST {any prefix}/invoke   the API gateway (application/x-www-form-urlencoded, UTF-8)
POST {any prefix}/token    OAuth refresh

/invoke fields: app_key (== --merchant), method=xiaodian.trade.sold.encrypted.get,
access_token, timestamp (unix seconds), format=json, sign_method=md5, version=1.0, Params (a
JSON object as a string) and sign. Every answer is HTTP 200 (unless a fault is injected):

  success  {"status": {"code": "0000000", "msg": "调用成功"}, "result": {"data": D},
            "dataEncrypted": E, "success": true}
           D = Base64(AES-128(UTF-8 JSON {"hasNext", "openApiOrderDetailResDtos",
           "totalNum"})) and E true; with encryption off D is that object and E false.
  error    {"status": {"code": C, "msg": M}, "result": {"data": {}}, "dataEncrypted": false,
            "success": false}

Checks run in this order and answer these codes:
  1010001  body not form-encoded UTF-8 (checked first: nothing else can be read without it)
  0000001  app_key is not --merchant
  0000002  sign missing or wrong (exact 32 uppercase hex, see below)
  0000004  timestamp missing, not an integer, or more than 600 s from the real clock
  1010001  method/format/sign_method/version not the fixed values
  0000011  access_token missing, unknown, replaced by a refresh, or its seller revoked
  0000010  access_token is the current one but expired (token_ttl_s after issue, or
           expire_token)
  1010001  Params missing/not a JSON object, startCreated/endCreated missing or not
           "yyyy-MM-dd HH:mm:ss", start after end, start/endUpdated given (not simulated),
           bad orderStatus/orderBy, page/pageSize/startOrderId not integers (numeric strings
           such as "1" are accepted), page < 1, pageSize outside 1..50
  1010003  startCreated before (today - 365 days) 00:00:00
  1010002  page mode with page * pageSize > 5000
  9999999  system busy (only injected, see fail_next)

Sign: every form field except sign (Params included, empty values included), sorted by ASCII
name, name+value concatenated without separators, the app secret prepended and appended, MD5,
32 uppercase hex digits.

Paging. Cursor mode is chosen when Params has startOrderId: orders created in
[startCreated, endCreated] with shopOrderId > startOrderId (orderBy "ASC", the default), or
< startOrderId for "DESC" (startOrderId <= 0 then means "from the newest"), sorted by
shopOrderId that way, at most pageSize (default 10). Page mode otherwise: page (default 1) of
the same sorted list. totalNum counts every order in the created range (and orderStatus, if
given); hasNext says more remain after this page. orderStatus filters like the real API.

Cipher: key = the first 16 bytes of the app secret (UTF-8); "ecb" (default) is AES-128-ECB,
"cbc" is AES-128-CBC with IV = key; both PKCS#5 padded.

OAuth: POST /token with form fields grant_type=refresh_token, refresh_token, app_key,
app_secret. Success: 200 {"access_token", "refresh_token", "expires_in": token_ttl_s,
"token_type": "bearer"}; the old access and refresh tokens stop working at once. Any failure
(wrong grant_type, app_key, app_secret or refresh token): 400 {"error": "invalid_grant",
"error_description": M}.

Sellers: the app serves --token's seller (number 0) and one more per --extra-seller
TOKEN[:REFRESH] (numbers 1, 2, ... in order; a left-out refresh token is random). Each has
its own access/refresh tokens, expiry and refresh (a refresh renews only the seller whose
refresh token it names), and its own orders: seller k >= 1 draws them from seed + 1000 * k
(seller 0 from seed, as when it is alone). shopOrderIds follow the same rule for every
seller, so sellers share IDs but not contents. expire_token applies to seller 0.

Orders are a pure function of (the seller's seed, day, orders_per_day): orders_per_day shop
orders per day up to --today (later days hold none), createdStr spread over the day and
strictly increasing, shopOrderId = 20000000000000 + (days since 2000-01-01) * 10^8 + index *
1000 + 100, so IDs grow with createdStr across days too. Titles, sku attributes and receiver
fields are Chinese; receiverName "收货人<n>", receiverMobile "13<9 digits>" and
receiverAddress "...<n>号" are unique per order (n = (day % 10000) * 100000 + index).

CLI
---
mogujie_sim.py --port 0 --port-file F --secret APPSECRET --merchant APPKEY --data-dir D
    [--host 127.0.0.1] [--token T] [--refresh-token R] [--extra-seller T[:R]]...
    [--token-ttl-s 86400]
    [--cipher ecb|cbc] [--no-encrypt] [--orders-per-day 30] [--seed 1] [--today YYYY-MM-DD]
    [--quiet]
--secret must be at least 16 bytes (it is the AES key source). --token/--refresh-token
default to random values (read them from /_sim/tokens). --data-dir is created but unused
(the orders are computed, never stored). After binding, the port is written to --port-file
(temp + rename) and "PORT <n>" is printed. One line per request goes to stderr: method, path
without query, HTTP status, API code and page facts - never a token, the secret or a sign.
--quiet turns the lines off. SIGTERM exits with status 0.

Control endpoints (no auth; tests only)
---------------------------------------
GET  /_sim/stats    {"requests", "pages_cursor", "pages_page_mode", "page_limit_errors",
                     "max_page_size", "bad_sign", "token_expired", "token_invalid",
                     "refreshes", "refresh_failures", "orders_served", "faults_injected"}
                    + {"auth_failures", "auth_failures_by_merchant", "requests_by_merchant"}
                    requests counts /invoke and /token calls; pages_* and orders_served count
                    successful pages; max_page_size is the largest pageSize served.
                    auth_failures counts calls refused for a credential: /invoke answers
                    0000001, 0000002 and 0000011 (not 0000010: expiry is routine), /token
                    failures for app_key, app_secret or refresh token. The two by_merchant
                    dicts are keyed by seller number as a string ("0", "1", ...; every seller
                    listed, 0 included) or "unknown" when the call's access token (refresh
                    token for /token) was never issued here; requests_by_merchant counts
                    every /invoke and /token call.
POST /_sim/reset    zero the stats (settings, queued faults and revocations are kept)
POST /_sim/revoke {"token": T}    the seller T was ever issued to (access or refresh) is
                    refused from now on: /invoke 0000011, /token 400 invalid_grant
POST /_sim/unrevoke {"token": T}  undo it; both answer {"ok": true, "revoked": [numbers as
                    strings]}, 400 for a token never issued here
GET  /_sim/tokens[?seller=N]   {"access_token", "refresh_token"} currently valid (seller 0
                    unless N; 400 for a seller not served)
GET  /_sim/orders?start=A&end=B[&seller=N]   plaintext list of seller N's (default 0) shop
                    orders in [A, B] in ascending shopOrderId order (A/B: yyyy-MM-dd or
                    yyyy-MM-dd HH:mm:ss; no year rule)
GET  /_sim/config   current settings
POST /_sim/config   JSON merged into the settings; answers them (400 on an unknown key or bad
                    value). Keys:
  orders_per_day N (1..86400), cipher "ecb"|"cbc", encrypt bool, today "YYYY-MM-DD"|"" (real)
  token_ttl_s S     access-token lifetime, measured from the current token's issue time
  expire_token true one-shot: the current access token counts as expired until a refresh
  fail_next [..]    replaces the queue; each /invoke call pops one entry: an HTTP status
                    (100..599, answered with a text body) or "busy" (200 with code 9999999)
  truncate_json_next N   next N /invoke answers carry the first half of their JSON
  garble_cipher_next N   next N encrypted answers carry ciphertext of the right length whose
                    last block decrypts to invalid PKCS#5 padding
  slow_ms N         sleep before answering each /invoke call
  retry_after_s N   injected 429 and 503 answers carry "Retry-After: N" (0 = no header)
  live bool         (extra) the simulator's clock is "now" for the orders: a query (and
                    /_sim/orders) holds only those created up to the clock (today's orders
                    exist up to it), and "today" is the clock's date unless today is set
  clock S           (extra) the simulator's clock, unix s (0 = the real one): tests move it
                    forward instead of sleeping; it only bounds the orders in live mode
                    (timestamps and token expiry stay on the real clock)
faults_injected counts every fired fail_next entry, truncation and garbling.
"""
import argparse
import base64
import bisect
import datetime
import functools
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aes128  # noqa: E402  (sibling module, found through the path set above)

from sim_serve import copy_stats, count_by, merchant_stats, read_sized_body, revoke_answer, serve

METHOD = "xiaodian.trade.sold.encrypted.get"
FIXED_FIELDS = {"method": METHOD, "format": "json", "sign_method": "md5", "version": "1.0"}
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INT_RE = re.compile(r"^-?\d{1,19}$")
MAX_BODY = 1024 * 1024
SKEW_S = 600
MAX_PAGE_SIZE = 50
PAGE_LIMIT = 5000
HISTORY_DAYS = 365
MAX_ORDERS_PER_DAY = 86400   # one created second each keeps createdStr strictly increasing
EPOCH_DAY = datetime.date(2000, 1, 1)
ID_BASE = 20000000000000
STATUSES = ("ORDER_CREATED", "ORDER_CANCELLED", "ORDER_PAID", "ORDER_SHIPPED",
            "ORDER_RECEIVED", "ORDER_COMPLETED", "ORDER_CLOSED")

MSG = {
    "0000000": "调用成功",
    "0000001": "无效的app_key",
    "0000002": "签名错误",
    "0000004": "时间戳超出允许范围",
    "0000010": "access_token已过期",
    "0000011": "无效的access_token",
    "1010001": "参数异常",
    "1010002": "分页超出限制:page*pageSize不能超过5000",
    "1010003": "只能查询最近一年的订单",
    "9999999": "系统繁忙,请稍后重试",
}
SELLER_SEED_STEP = 1000   # seller k >= 1 draws its orders from seed + k * this
STAT_KEYS = ("requests", "pages_cursor", "pages_page_mode", "page_limit_errors",
             "max_page_size", "bad_sign", "token_expired", "token_invalid", "refreshes",
             "refresh_failures", "orders_served", "faults_injected")


class ApiError(Exception):
    def __init__(self, code, detail=""):
        super().__init__(detail or MSG[code])
        self.code = code
        self.msg = MSG[code] + (":" + detail if detail else "")


# --------------------------------------------------------------------------------------------
# signing


def sign_string(fields, secret):
    """secret + name1value1name2value2... + secret, names sorted by their ASCII bytes."""
    body = "".join(k + fields[k] for k in sorted(fields, key=lambda s: s.encode("utf-8"))
                   if k != "sign")
    return secret + body + secret


def compute_sign(fields, secret):
    return hashlib.md5(sign_string(fields, secret).encode("utf-8")).hexdigest().upper()


# --------------------------------------------------------------------------------------------
# deterministic orders

MASK64 = (1 << 64) - 1
TITLES = ("纯棉宽松短袖T恤女夏季新款", "高腰显瘦直筒牛仔裤", "韩版百搭小白鞋", "法式复古碎花连衣裙",
          "秋冬加厚羊羔毛外套", "简约帆布双肩包", "气质珍珠耳环", "真丝印花方巾", "针织开衫外搭",
          "防晒冰丝阔腿裤", "ins风马克杯", "北欧风格抱枕套")
COLORS = ("黑色", "白色", "杏色", "雾霾蓝", "焦糖色", "酒红色", "浅灰", "牛油果绿")
SIZES = ("S", "M", "L", "XL", "均码", "36码", "37码", "38码")
BUYERS = ("蘑菇小仙女", "爱穿搭的猫", "晴天娃娃", "小鹿乱撞", "甜甜圈", "夏日微风", "橘子汽水",
          "momo酱")
PLACES = (("浙江省", "杭州市", "西湖区", "310000", "文三路"),
          ("浙江省", "杭州市", "余杭区", "311100", "文一西路"),
          ("上海市", "上海市", "徐汇区", "200030", "漕溪北路"),
          ("广东省", "广州市", "天河区", "510620", "天河路"),
          ("北京市", "北京市", "朝阳区", "100020", "建国路"),
          ("四川省", "成都市", "武侯区", "610041", "人民南路"))
EXPRESS = (("YTO", "圆通速递"), ("ZTO", "中通快递"), ("STO", "申通快递"), ("SF", "顺丰速运"))
# status by hash: mostly paid or further along, like a live shop
STATUS_WEIGHTS = ("ORDER_PAID",) * 4 + ("ORDER_SHIPPED",) * 3 + ("ORDER_RECEIVED",) * 2 + \
    ("ORDER_COMPLETED",) * 3 + ("ORDER_CREATED", "ORDER_CANCELLED", "ORDER_CLOSED")
SHIP_EXPENSES = ("0", "0", "0", "600", "1000", "123")
UNSET_TIME = "1970-01-01 08:00:00"   # what the real API shows for a time not reached yet


def splitmix(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def day_number(day):
    return (day - EPOCH_DAY).days


@functools.lru_cache(maxsize=64)
def day_base(seed, dn):
    return int.from_bytes(hashlib.sha256(f"mogujie|{seed}|{dn}".encode()).digest()[:8], "big")


def order_hash(seed, dn, i, salt=0):
    return splitmix(day_base(seed, dn) + (i + 1) * 0x9E3779B97F4A7C15 + salt * 0xD1B54A32D192ED03)


@functools.lru_cache(maxsize=2048)
def day_index(seed, dn, n):
    """(created second of day, status) of each of the day's n orders. The second is
    floor(i*86400/n) plus jitter below the slot width, so it strictly increases with i."""
    step = max(1, 86400 // n)
    secs, stats = [], []
    for i in range(n):
        h = order_hash(seed, dn, i)
        secs.append((i * 86400) // n + h % step)
        stats.append(STATUS_WEIGHTS[(h >> 20) % len(STATUS_WEIGHTS)])
    return tuple(secs), tuple(stats)


def shop_order_id(dn, i):
    return ID_BASE + dn * 100000000 + i * 1000 + 100


def ordinal(dn, i):
    """Per-order number for the receiver fields: unique within any 10000 days."""
    return (dn % 10000) * 100000 + i


def fmt_time(day, sec):
    return "%s %02d:%02d:%02d" % (day.isoformat(), sec // 3600, sec // 60 % 60, sec % 60)


def later(day, sec, delta):
    t = datetime.datetime.combine(day, datetime.time()) + datetime.timedelta(seconds=sec + delta)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        n, r = divmod(n, 36)
        s = digits[r] + s
        if not n:
            return s


def make_item(seed, dn, i, k, shop_id, status):
    h = order_hash(seed, dn, i, salt=k + 1)
    item_num = 10000000 + h % 90000000
    price = 1990 + (h >> 8) % 40000
    now_price = price - price * ((h >> 24) % 30) // 100
    img = "/p2/%s/%d_%s_640x960.jpg" % ("%06d" % ((h >> 32) % 1000000), 100000000 + dn,
                                         b36(h >> 16))
    return {
        "img": img,
        "imgUrl": "http://s11.mogucdn.com" + img,
        "itemCode": "",
        "itemId": b36(item_num),
        "itemOrderId": shop_id + 100 + k,
        "nowPrice": now_price,
        "number": 1 + (h >> 40) % 3,
        "orderStatus": status,
        "price": price,
        "refundStatus": "",
        "skuAttributes": [{"key": "颜色", "value": COLORS[(h >> 44) % len(COLORS)]},
                          {"key": "尺码", "value": SIZES[(h >> 48) % len(SIZES)]}],
        "skuCode": "SKU%08d" % ((h >> 12) % 100000000),
        "skuId": b36(item_num * 7 + k),
        "title": TITLES[(h >> 52) % len(TITLES)],
    }


def make_order(seed, day, n, i):
    """The full shop order i of a day, a pure function of its arguments."""
    dn = day_number(day)
    secs, stats = day_index(seed, dn, n)
    sec, status = secs[i], stats[i]
    h = order_hash(seed, dn, i, salt=99)
    shop_id = shop_order_id(dn, i)
    items = [make_item(seed, dn, i, k, shop_id, status) for k in range(1 + h % 3)]
    goods = sum(it["nowPrice"] * it["number"] for it in items)
    ship = SHIP_EXPENSES[(h >> 4) % len(SHIP_EXPENSES)]
    shop_promo = (goods // 10) if (h >> 8) % 4 == 0 else 0
    price = goods - shop_promo + int(ship)
    paid = status not in ("ORDER_CREATED", "ORDER_CANCELLED")
    shipped = status in ("ORDER_SHIPPED", "ORDER_RECEIVED", "ORDER_COMPLETED")
    received = status in ("ORDER_RECEIVED", "ORDER_COMPLETED")
    n_ord = ordinal(dn, i)
    mobile = "13%09d" % ((n_ord * 738261943 + seed * 7919) % 1000000000)
    prov, city, area, zipc, road = PLACES[(h >> 12) % len(PLACES)]
    express_id, express_name = EXPRESS[(h >> 16) % len(EXPRESS)] if shipped else ("", "")
    return {
        "buyerAccountId": "mgj%010d" % ((h >> 20) % 10000000000),
        "buyerFinalPrice": price,
        "buyerName": BUYERS[(h >> 24) % len(BUYERS)],
        "buyerUserId": 100000000 + (h >> 28) % 900000000,
        "createdStr": fmt_time(day, sec),
        "extraMap": {},
        "isRate": status == "ORDER_COMPLETED" and (h >> 40) % 2 == 0,
        "itemOrderInfos": items,
        "modifyPrice": 0,
        "number": len(items),
        "orderStatus": status,
        "orderTags": ["WAREHOUSE"] if (h >> 42) % 5 == 0 else [],
        "payOrderId": shop_id - 100,
        "payTimeStr": later(day, sec, 13 + (h >> 44) % 600) if paid else UNSET_TIME,
        "platformPromotionAmount": 0,
        "processResponseDTO": {"inputTag": "0", "itemTag": "0", "itemTypeTag": "NORMAL",
                               "marketTag": "8", "sellerTag": "0", "userTag": "0"},
        "promotionAmount": 0,
        "receiveTimeStr": later(day, sec, 3 * 86400) if received else UNSET_TIME,
        "receiverAddress": "%s%s%s%s%d号" % (prov, city, area, road, n_ord),
        "receiverArea": area,
        "receiverCity": city,
        "receiverMobile": mobile,
        "receiverName": "收货人%d" % n_ord,
        "receiverPhone": mobile[:5] + "xxx" + mobile[8:],
        "receiverProvince": prov,
        "receiverZip": zipc,
        "sellerAccountId": "小店%d" % seed,
        "sellerName": "蘑菇小店%d" % seed,
        "sellerUserId": 126900000 + seed,
        "shipExpense": ship,
        "shipExpressId": ("%s%012d" % (express_id, h % 10 ** 12)) if shipped else "",
        "shipExpressName": express_name,
        "shipTimeStr": later(day, sec, 86400) if shipped else UNSET_TIME,
        "shipType": 0,
        "shopOrderId": shop_id,
        "shopOrderPrice": price,
        "shopOrderType": "MOGUJIE_MARKET",
        "shopPromotionAmount": shop_promo,
        "stageStatus": status,
    }


def segments(seed, n, start, end, today, status=None, until=None):
    """[(day, indices)] of the orders created in [start, end] (datetimes) in ascending order;
    indices is a range, or a list when filtered by status. Days after today hold no orders,
    nor (live mode) times after until. Whole days in the middle need no index, so a
    year-long range stays cheap to count."""
    out = []
    if until is not None and end > until:
        end = until
        if end < start:
            return out
    day = start.date()
    last = min(end.date(), today)
    while day <= last:
        lo_s = start.hour * 3600 + start.minute * 60 + start.second if day == start.date() else 0
        hi_s = end.hour * 3600 + end.minute * 60 + end.second if day == end.date() else 86399
        dn = day_number(day)
        if lo_s == 0 and hi_s == 86399 and status is None:
            idx = range(n)
        else:
            secs, stats = day_index(seed, dn, n)
            idx = range(bisect.bisect_left(secs, lo_s), bisect.bisect_right(secs, hi_s))
            if status is not None:
                idx = [i for i in idx if stats[i] == status]
        if len(idx):
            out.append((day, idx))
        day += datetime.timedelta(days=1)
    return out


def select(segs, after_id, desc, offset, limit):
    """Up to limit (day, i) pairs from the sorted segments, skipping IDs not beyond after_id
    (cursor mode; None in page mode) and then offset more. Returns (picked, more_remain)."""
    picked = []
    order = reversed(segs) if desc else segs
    for day, idx in order:
        dn = day_number(day)
        if after_id is not None:
            # i values whose ID is <= after_id (ascending IDs within the day)
            cut = bisect.bisect_right(idx, (after_id - shop_order_id(dn, 0)) // 1000) \
                if after_id >= shop_order_id(dn, 0) else 0
            if desc:
                cutd = bisect.bisect_left(idx, -(-(after_id - shop_order_id(dn, 0)) // 1000)) \
                    if after_id > 0 else len(idx)
                idx = idx[:max(0, cutd)]
            else:
                idx = idx[cut:]
        seq = idx[::-1] if desc else idx
        if offset >= len(seq):
            offset -= len(seq)
            continue
        for i in seq[offset:]:
            if len(picked) == limit:
                return picked, True
            picked.append((day, i))
        offset = 0
    return picked, False


# --------------------------------------------------------------------------------------------
# request parsing


def parse_int(v, name):
    """JSON number or numeric string -> int; refuses booleans, fractions and junk."""
    if isinstance(v, bool):
        raise ApiError("1010001", f"{name}必须是整数")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and INT_RE.match(v.strip()):
        return int(v.strip())
    raise ApiError("1010001", f"{name}必须是整数")


def parse_dt(v, name):
    if not isinstance(v, str) or not DATETIME_RE.match(v):
        raise ApiError("1010001", f"{name}格式应为yyyy-MM-dd HH:mm:ss")
    try:
        return datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ApiError("1010001", f"{name}不是有效时间")


class Query:
    """The validated Params of one call."""

    def __init__(self, raw, today):
        try:
            p = json.loads(raw) if raw is not None else None
        except ValueError:
            p = None
        if not isinstance(p, dict):
            raise ApiError("1010001", "Params必须是JSON对象")
        p = {k: v for k, v in p.items() if v is not None}   # the spec's example sends nulls
        if "startUpdated" in p or "endUpdated" in p:
            raise ApiError("1010001", "模拟器只支持startCreated/endCreated")
        for f in ("startCreated", "endCreated"):
            if f not in p:
                raise ApiError("1010001", f"缺少{f}")
        self.start = parse_dt(p["startCreated"], "startCreated")
        self.end = parse_dt(p["endCreated"], "endCreated")
        if self.start > self.end:
            raise ApiError("1010001", "startCreated不能晚于endCreated")
        self.status = p.get("orderStatus")
        if self.status is not None and self.status not in STATUSES:
            raise ApiError("1010001", "orderStatus取值无效")
        order_by = p.get("orderBy", "ASC")
        if not isinstance(order_by, str) or order_by.upper() not in ("ASC", "DESC"):
            raise ApiError("1010001", "orderBy只能是ASC或DESC")
        self.desc = order_by.upper() == "DESC"
        self.page_size = parse_int(p.get("pageSize", 10), "pageSize")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ApiError("1010001", "pageSize必须在1到50之间")
        self.cursor = "startOrderId" in p
        self.after = parse_int(p["startOrderId"], "startOrderId") if self.cursor else None
        self.page = parse_int(p.get("page", 1), "page")
        if self.page < 1:
            raise ApiError("1010001", "page必须大于0")
        if self.start.date() < today - datetime.timedelta(days=HISTORY_DAYS):
            raise ApiError("1010003")
        if not self.cursor and self.page * self.page_size > PAGE_LIMIT:
            raise ApiError("1010002")


# --------------------------------------------------------------------------------------------
# state


class Seller:
    """One seller authorised under the app: its OAuth tokens and the seed of its orders."""

    def __init__(self, index, seed, access, refresh):
        self.key = str(index)      # its name in the by_merchant stats
        self.seed = seed
        self.access = access
        self.refresh = refresh
        self.issued = time.time()
        self.forced_expiry = False
        self.revoked = False
        self.issued_tokens = {access, refresh}   # every token it ever had, for /_sim/revoke

    def renew(self):
        self.access = "mgjat" + secrets.token_hex(16)
        self.refresh = "mgjrt" + secrets.token_hex(16)
        self.issued_tokens.update((self.access, self.refresh))
        self.issued = time.time()
        self.forced_expiry = False


class Sim:
    def __init__(self, args, secret):
        self.secret = secret
        self.key = secret.encode("utf-8")[:16]
        self.app_key = args.merchant
        self.lock = threading.Lock()
        self.settings = {
            "orders_per_day": args.orders_per_day, "cipher": args.cipher,
            "encrypt": not args.no_encrypt, "token_ttl_s": args.token_ttl_s,
            "today": args.today or "", "fail_next": [], "truncate_json_next": 0,
            "garble_cipher_next": 0, "slow_ms": 0, "retry_after_s": 0,
            "live": False, "clock": 0,
        }
        first = Seller(0, args.seed, args.token or "mgjat" + secrets.token_hex(16),
                       args.refresh_token or "mgjrt" + secrets.token_hex(16))
        self.sellers = [first] + [
            Seller(k, args.seed + k * SELLER_SEED_STEP, token,
                   refresh or "mgjrt" + secrets.token_hex(16))
            for k, (token, refresh) in enumerate(args.extra_seller, 1)]
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = dict.fromkeys(STAT_KEYS, 0)
            self.stats.update(merchant_stats([s.key for s in self.sellers]))

    def stats_json(self):
        with self.lock:
            return copy_stats(self.stats)

    def seller_of(self, token, current=None):
        """The seller whose current "access" or "refresh" token this is (current), or to
        whom it was ever issued (current None), or None; caller holds the lock."""
        if not token:
            return None
        for s in self.sellers:
            if current and secrets.compare_digest(token.encode(),
                                                  getattr(s, current).encode()):
                return s
            if not current and token in s.issued_tokens:
                return s
        return None

    def seller_key(self, token):
        """The by_merchant stats name of the seller token was ever issued to, or "unknown"."""
        with self.lock:
            s = self.seller_of(token)
            return s.key if s else "unknown"

    def seller_at(self, index):
        """Seller number index ("0" is --token's) for the control endpoints, or ValueError."""
        if not INT_RE.match(index or "") or not 0 <= int(index) < len(self.sellers):
            raise ValueError(f"seller must be 0..{len(self.sellers) - 1}")
        return self.sellers[int(index)]

    def count_request(self, key):
        with self.lock:
            count_by(self.stats, "requests_by_merchant", key)

    def auth_failed(self, key):
        with self.lock:
            self.stats["auth_failures"] += 1
            count_by(self.stats, "auth_failures_by_merchant", key)

    def set_revoked(self, token, revoked):
        """Revoke (or restore) the seller token was ever issued to, for /_sim/revoke; the
        revoked sellers' names."""
        with self.lock:
            s = self.seller_of(token if isinstance(token, str) else "")
            if s is None:
                raise ValueError('body must be {"token": T} with a token issued here')
            s.revoked = revoked
            return [x.key for x in self.sellers if x.revoked]

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def snapshot(self):
        with self.lock:
            return dict(self.settings)

    def today(self, s=None):
        s = s or self.settings
        t = s["today"]
        if t:
            return datetime.date.fromisoformat(t)
        if s["live"]:
            return self.until(s).date()
        return datetime.date.today()

    @staticmethod
    def until(s):
        """Live mode: the local time up to which orders exist (the clock); None otherwise."""
        if not s["live"]:
            return None
        return datetime.datetime.fromtimestamp(int(s["clock"] or time.time()))

    def take(self, key):
        """Consume one unit of a one-shot fault counter; True if it fired."""
        with self.lock:
            if self.settings[key] > 0:
                self.settings[key] -= 1
                self.stats["faults_injected"] += 1
                return True
            return False

    def take_failure(self):
        with self.lock:
            if self.settings["fail_next"]:
                self.stats["faults_injected"] += 1
                return self.settings["fail_next"].pop(0)
            return None

    # ---- config -------------------------------------------------------------------------

    @staticmethod
    def _check_setting(k, v):
        def nonneg_int():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{k} must be a non-negative integer")
        if k == "orders_per_day":
            nonneg_int()
            if not 1 <= v <= MAX_ORDERS_PER_DAY:
                raise ValueError(f"orders_per_day must be within 1..{MAX_ORDERS_PER_DAY}")
        elif k in ("truncate_json_next", "garble_cipher_next", "slow_ms", "retry_after_s"):
            nonneg_int()
        elif k == "token_ttl_s":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError("token_ttl_s must be a non-negative number")
        elif k == "cipher":
            if v not in ("ecb", "cbc"):
                raise ValueError("cipher must be ecb or cbc")
        elif k == "clock":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError("clock must be unix seconds (0 = the real clock)")
        elif k in ("encrypt", "expire_token", "live"):
            if not isinstance(v, bool):
                raise ValueError(f"{k} must be a boolean")
        elif k == "today":
            if v is None:
                v = ""
            if not isinstance(v, str) or (v and not DATE_RE.match(v)):
                raise ValueError("today must be YYYY-MM-DD or empty")
            if v:
                datetime.date.fromisoformat(v)
        elif k == "fail_next":
            if not isinstance(v, list) or not all(
                    e == "busy" or (isinstance(e, int) and not isinstance(e, bool)
                                    and 100 <= e <= 599) for e in v):
                raise ValueError('fail_next must be a list of HTTP statuses or "busy"')
            v = list(v)
        else:
            raise ValueError(f"unknown setting {k!r}")
        return v

    def configure(self, body):
        if not isinstance(body, dict):
            raise ValueError("config must be a JSON object")
        new = {k: self._check_setting(k, v) for k, v in body.items()}
        with self.lock:
            expire = new.pop("expire_token", None)
            if expire is not None:
                self.sellers[0].forced_expiry = expire
            self.settings.update(new)
            return dict(self.settings)

    def tokens(self, seller):
        with self.lock:
            return {"access_token": seller.access, "refresh_token": seller.refresh}

    # ---- API ----------------------------------------------------------------------------

    def check_token(self, token):
        """The seller whose current access token this is; 0000011 when there is none (or it
        is revoked), 0000010 when the token has expired."""
        with self.lock:
            seller = self.seller_of(token, "access")
            if seller is None or seller.revoked:
                self.stats["token_invalid"] += 1
                raise ApiError("0000011")
            ttl = self.settings["token_ttl_s"]
            if seller.forced_expiry or time.time() >= seller.issued + ttl:
                self.stats["token_expired"] += 1
                raise ApiError("0000010")
            return seller

    def authenticate(self, f):
        """The calling seller, or ApiError after the gateway checks shared by every method,
        in the documented order; refusals for a credential (app_key, sign, unknown or
        revoked token; not an expired one) count as auth failures of the token's seller."""
        try:
            return self._gateway_checks(f)
        except ApiError as e:
            if e.code in ("0000001", "0000002", "0000011"):
                self.auth_failed(self.seller_key(f.get("access_token")))
            raise

    def _gateway_checks(self, f):
        if f.get("app_key") != self.app_key:
            raise ApiError("0000001")
        sign = f.get("sign", "")
        if not secrets.compare_digest(sign.encode(), compute_sign(f, self.secret).encode()):
            self.bump("bad_sign")
            raise ApiError("0000002")
        ts = f.get("timestamp", "")
        if not INT_RE.match(ts) or abs(time.time() - int(ts)) > SKEW_S:
            raise ApiError("0000004")
        for name, want in FIXED_FIELDS.items():
            if f.get(name) != want:
                raise ApiError("1010001", f"{name}必须是{want}")
        return self.check_token(f.get("access_token"))

    def invoke(self, f, s):
        """Answer one authenticated-or-not call: (response object, log note)."""
        seed = self.authenticate(f).seed
        q = Query(f.get("Params"), self.today(s))
        n = s["orders_per_day"]
        segs = segments(seed, n, q.start, q.end, self.today(s), q.status, self.until(s))
        total = sum(len(idx) for _, idx in segs)
        offset = 0 if q.cursor else (q.page - 1) * q.page_size
        picked, more = select(segs, q.after, q.desc, offset, q.page_size)
        orders = [make_order(seed, day, n, i) for day, i in picked]
        with self.lock:
            self.stats["pages_cursor" if q.cursor else "pages_page_mode"] += 1
            self.stats["max_page_size"] = max(self.stats["max_page_size"], q.page_size)
            self.stats["orders_served"] += len(orders)
        data = {"hasNext": more, "openApiOrderDetailResDtos": orders, "totalNum": total}
        note = "%s n=%d total=%d" % ("cursor" if q.cursor else "page", len(orders), total)
        return self.wrap(data, s), note

    def encrypt(self, plain, cipher):
        """Base64 of the AES ciphertext; a queued garble_cipher_next replaces the last
        plaintext block by bytes that cannot be valid PKCS#5 padding, so decryption is sure
        to fail while the length stays plausible."""
        padded = aes128.pad(plain)
        if self.take("garble_cipher_next"):
            padded = padded[:-16] + b"\xa5" * 16
        if cipher == "cbc":
            ct = aes128.encrypt_cbc(self.key, self.key, padded, pad=False)
        else:
            ct = aes128.encrypt_ecb(self.key, padded, pad=False)
        return base64.b64encode(ct).decode("ascii")

    def wrap(self, data, s):
        enc = s["encrypt"]
        if enc:
            plain = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            data = self.encrypt(plain, s["cipher"])
        return {"status": {"code": "0000000", "msg": MSG["0000000"]}, "result": {"data": data},
                "dataEncrypted": enc, "success": True}

    @staticmethod
    def error(code, msg):
        return {"status": {"code": code, "msg": msg}, "result": {"data": {}},
                "dataEncrypted": False, "success": False}

    # ---- OAuth --------------------------------------------------------------------------

    def do_refresh(self, f):
        """(HTTP status, body object) for a refresh request. A wrong app_key, app_secret or
        refresh token (or a revoked seller's) counts as an auth failure of the refresh
        token's seller."""
        rt = f.get("refresh_token", "")
        key = self.seller_key(rt)

        def fail(desc, credential=True):
            with self.lock:
                self.stats["refresh_failures"] += 1
            if credential:
                self.auth_failed(key)
            return 400, {"error": "invalid_grant", "error_description": desc}
        if f.get("grant_type") != "refresh_token":
            return fail("grant_type must be refresh_token", credential=False)
        if f.get("app_key") != self.app_key:
            return fail("unknown app_key")
        if not secrets.compare_digest(f.get("app_secret", "").encode(), self.secret.encode()):
            return fail("app_secret mismatch")
        with self.lock:
            seller = self.seller_of(rt, "refresh")
            if seller is not None and not seller.revoked:
                seller.renew()
                self.stats["refreshes"] += 1
                ttl = self.settings["token_ttl_s"]
                return 200, {"access_token": seller.access, "refresh_token": seller.refresh,
                             "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
                             "token_type": "bearer"}
        return fail("refresh_token is invalid or was replaced")

    # ---- control ------------------------------------------------------------------------

    def orders_in(self, start, end, seller):
        s = self.snapshot()
        n = s["orders_per_day"]
        segs = segments(seller.seed, n, start, end, self.today(s), until=self.until(s))
        return [make_order(seller.seed, day, n, i) for day, idx in segs for i in idx]


def parse_form(headers, raw):
    """The form fields of an /invoke or /token body (last value wins), or ApiError."""
    ctype = (headers.get("Content-Type") or "").split(";")
    if ctype[0].strip().lower() != "application/x-www-form-urlencoded":
        raise ApiError("1010001", "Content-Type必须是application/x-www-form-urlencoded")
    charset = [p.split("=", 1)[1].strip().strip('"').lower() for p in ctype[1:]
               if p.strip().lower().startswith("charset=")]
    if charset and charset[0] not in ("utf-8", "utf8"):
        raise ApiError("1010001", "只支持UTF-8编码")
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True,
                                       encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ApiError("1010001", "请求体不是有效的UTF-8表单")
    return dict(pairs)


def parse_sim_time(v, is_end):
    if DATETIME_RE.match(v or ""):
        return datetime.datetime.strptime(v, "%Y-%m-%d %H:%M:%S")
    if DATE_RE.match(v or ""):
        d = datetime.datetime.strptime(v, "%Y-%m-%d")
        return d.replace(hour=23, minute=59, second=59) if is_end else d
    raise ValueError("start/end must be yyyy-MM-dd[ HH:mm:ss]")


# --------------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MogujieSim/1.0"
    timeout = 300   # idle keep-alive connections are closed after this long
    note = ""

    def version_string(self):
        return self.server_version

    @property
    def sim(self):
        return self.server.sim

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("mogujie_sim: %s %s\n" % (self.address_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        # The path only: a misbehaving client could put a token or sign in the query string.
        if isinstance(code, http.HTTPStatus):
            code = code.value
        path = urllib.parse.urlsplit(getattr(self, "path", "")).path
        self.log_message("%s %s %s%s", getattr(self, "command", "-"), path, code,
                         " " + self.note if self.note else "")

    def _guard(self, method):
        self.note = ""
        try:
            self._dispatch(method)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
            self.close_connection = True

    def do_GET(self):
        self._guard("GET")

    def do_POST(self):
        self._guard("POST")

    def do_HEAD(self):
        self._guard("HEAD")

    def send_bytes(self, code, body, ctype="text/plain; charset=utf-8", head=False,
                   headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def send_json(self, code, obj, head=False):
        self.send_bytes(code, json.dumps(obj, ensure_ascii=False).encode("utf-8"),
                        "application/json;charset=UTF-8", head=head)

    def read_body(self):
        """The request body, or None after answering 400/411/413 (chunked is not needed by
        any client of this simulator)."""
        if self.headers.get("Content-Length") is None and \
                "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self.send_bytes(411, b"Content-Length required\n")
            return None
        return read_sized_body(self, MAX_BODY)

    def _dispatch(self, method):
        path = urllib.parse.urlsplit(self.path).path
        raw = self.read_body()
        if raw is None:
            return
        if path.startswith("/_sim/"):
            return self.handle_control(method, path, raw)
        for suffix, fn in (("/invoke", self.handle_invoke), ("/token", self.handle_token)):
            if path == suffix or path.endswith(suffix):
                if method != "POST":
                    return self.send_bytes(405, b"method not allowed\n", head=method == "HEAD")
                self.sim.bump("requests")
                return fn(raw)
        self.send_bytes(404, b"not found\n", head=method == "HEAD")

    # ---- API ----------------------------------------------------------------------------

    def handle_invoke(self, raw):
        sim = self.sim
        try:
            fields, form_error = parse_form(self.headers, raw), None
        except ApiError as e:
            fields, form_error = {}, e
        sim.count_request(sim.seller_key(fields.get("access_token")))
        s = sim.snapshot()
        if s["slow_ms"]:
            time.sleep(s["slow_ms"] / 1000.0)
        failure = sim.take_failure()
        if isinstance(failure, int):
            self.note = "fault=http"
            extra = ()
            if failure in (429, 503) and s["retry_after_s"]:
                extra = (("Retry-After", str(s["retry_after_s"])),)
            return self.send_bytes(failure, b"injected failure\n", headers=extra)
        try:
            if failure == "busy":
                raise ApiError("9999999")
            if form_error:
                raise form_error
            resp, self.note = sim.invoke(fields, s)
        except ApiError as e:
            resp = sim.error(e.code, e.msg)
            self.note = "code=" + e.code
            if e.code == "1010002":
                sim.bump("page_limit_errors")
        body = json.dumps(resp, ensure_ascii=False).encode("utf-8")
        if sim.take("truncate_json_next"):
            body = body[:len(body) // 2]
            self.note += " truncated"
        self.send_bytes(200, body, "application/json;charset=UTF-8")

    def handle_token(self, raw):
        try:
            fields = parse_form(self.headers, raw)
        except ApiError as e:
            self.sim.count_request("unknown")
            self.sim.bump("refresh_failures")
            code, body = 400, {"error": "invalid_grant", "error_description": e.msg}
        else:
            self.sim.count_request(self.sim.seller_key(fields.get("refresh_token")))
            code, body = self.sim.do_refresh(fields)
        self.note = "refresh=" + ("ok" if code == 200 else "failed")
        self.send_json(code, body)

    # ---- control ------------------------------------------------------------------------

    def handle_control(self, method, path, raw):
        sim = self.sim
        head = method == "HEAD"
        get = method in ("GET", "HEAD")
        if path == "/_sim/stats" and get:
            return self.send_json(200, sim.stats_json(), head)
        if path in ("/_sim/revoke", "/_sim/unrevoke") and method == "POST":
            return self.send_json(*revoke_answer(path, raw, "token", sim.set_revoked))
        if path == "/_sim/reset" and method == "POST":
            sim.reset()
            return self.send_json(200, {"ok": True})
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            seller = sim.seller_at(query.get("seller", ["0"])[0])
        except ValueError as e:
            return self.send_json(400, {"error": str(e)})
        if path == "/_sim/tokens" and get:
            return self.send_json(200, sim.tokens(seller), head)
        if path == "/_sim/config" and get:
            return self.send_json(200, sim.snapshot(), head)
        if path == "/_sim/config" and method == "POST":
            try:
                return self.send_json(200, sim.configure(json.loads(raw.decode("utf-8")
                                                                    or "{}")))
            except (ValueError, UnicodeDecodeError) as e:
                return self.send_json(400, {"error": str(e)})
        if path == "/_sim/orders" and get:
            try:
                start = parse_sim_time(query.get("start", [""])[0], False)
                end = parse_sim_time(query.get("end", [""])[0], True)
            except ValueError as e:
                return self.send_json(400, {"error": str(e)})
            return self.send_json(200, sim.orders_in(start, end, seller), head)
        self.send_bytes(404, b"not found\n", head=head)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    quiet = False

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def token_pair(text):
    """TOKEN[:REFRESH] of --extra-seller, as (token, refresh or None)."""
    token, _, refresh = text.partition(":")
    if not token or (_ and not refresh):
        raise argparse.ArgumentTypeError("expected TOKEN or TOKEN:REFRESH")
    return token, refresh or None


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Mogujie xiaodian.trade.sold.encrypted.get "
                                             "simulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--secret", required=True, help="app secret (>= 16 bytes)")
    ap.add_argument("--merchant", required=True, help="app_key")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token")
    ap.add_argument("--refresh-token")
    ap.add_argument("--extra-seller", action="append", default=[], type=token_pair,
                    metavar="TOKEN[:REFRESH]", help="another seller's access token (and "
                    "refresh token, random if left out); repeatable")
    ap.add_argument("--token-ttl-s", type=float, default=86400)
    ap.add_argument("--cipher", choices=("ecb", "cbc"), default="ecb")
    ap.add_argument("--no-encrypt", action="store_true")
    ap.add_argument("--orders-per-day", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--today")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = ap.parse_args(argv)
    if len(args.secret.encode("utf-8")) < 16:
        ap.error("--secret must be at least 16 bytes (the AES key is its first 16)")
    if not 1 <= args.orders_per_day <= MAX_ORDERS_PER_DAY:
        ap.error(f"--orders-per-day must be within 1..{MAX_ORDERS_PER_DAY}")
    tokens = [t for pair in args.extra_seller for t in pair if t]
    tokens += [t for t in (args.token, args.refresh_token) if t]
    if len(set(tokens)) != len(tokens):
        ap.error("--extra-seller tokens must differ from each other and --token")
    if args.token_ttl_s < 0:
        ap.error("--token-ttl-s must be >= 0")
    if args.today:
        try:
            datetime.date.fromisoformat(args.today)
        except ValueError:
            ap.error("--today must be YYYY-MM-DD")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.data_dir, exist_ok=True)
    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    server = Server((args.host, args.port), Handler)
    server.sim = Sim(args, args.secret)
    server.quiet = args.quiet
    return serve(server, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
