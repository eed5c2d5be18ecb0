"""Starts contrib/mogujie_sim.py for a test and speaks its wire protocol.

MogujieSimulator extends simulator.Simulator (same start-up: port file, no fixed sleeps) with
helpers that build signed /invoke calls, refresh tokens and read the control endpoints. The
signing here is written independently of the simulator's, so a bug in one cannot hide in the
other; decrypt() uses contrib/aes128.py.

    sim = MogujieSimulator(args=["--today", "2026-05-31"])
    status, resp = sim.invoke({"startCreated": ..., "endCreated": ..., "startOrderId": 0,
                               "orderBy": "ASC", "pageSize": 50})
    data = sim.decrypt(resp["result"]["data"])          # ECB; cipher="cbc" for CBC
"""
import base64
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse

from simulator import ROOT, Simulator

sys.path.insert(0, os.path.join(ROOT, "contrib"))
import aes128  # noqa: E402

METHOD = "xiaodian.trade.sold.encrypted.get"
SECRET = "MogujieTestSecret0123456789"     # >= 16 bytes: its first 16 are the AES key
APP_KEY = "100123"


def mogujie_sign(fields, secret):
    """Uppercase MD5 of secret + sorted name+value pairs (sign left out) + secret."""
    text = "".join(k + fields[k] for k in sorted(fields) if k != "sign")
    return hashlib.md5((secret + text + secret).encode("utf-8")).hexdigest().upper()


class MogujieSimulator(Simulator):
    def __init__(self, args=(), secret=SECRET, merchant=APP_KEY, extra_sellers=None):
        """extra_sellers: access tokens ("TOKEN" or "TOKEN:REFRESH") of sellers 1, 2, ...
        served besides seller 0 (--token's)."""
        self.extra_sellers = [t.partition(":")[0] for t in extra_sellers or ()]
        extra = [a for t in extra_sellers or () for a in ("--extra-seller", t)]
        super().__init__(script="mogujie_sim.py", args=[*extra, *args], secret=secret,
                         merchant=merchant)
        self.key = secret.encode("utf-8")[:16]

    # ---- HTTP plumbing ------------------------------------------------------------------

    def post_form(self, path, fields, content_type="application/x-www-form-urlencoded"):
        """(HTTP status, raw body) of a form POST."""
        body = urllib.parse.urlencode(fields).encode("ascii")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("POST", path, body, {"Content-Type": content_type})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def fields(self, params, token=None, ts=None, secret=None, **extra):
        """Signed /invoke fields; extra overrides or adds fields before signing (None drops
        one)."""
        f = {"app_key": self.merchant, "method": METHOD,
             "access_token": token if token is not None else self.tokens()["access_token"],
             "timestamp": str(int(time.time()) if ts is None else ts), "format": "json",
             "sign_method": "md5", "version": "1.0",
             "Params": params if isinstance(params, str)
             else json.dumps(params, ensure_ascii=False)}
        for k, v in extra.items():
            if v is None:
                f.pop(k, None)
            else:
                f[k] = v
        f["sign"] = mogujie_sign(f, secret or self.secret)
        return f

    def invoke(self, params, sign=None, **kw):
        """(HTTP status, parsed JSON or raw bytes when not JSON) of a signed /invoke call;
        sign replaces the computed signature."""
        f = self.fields(params, **kw)
        if sign is not None:
            f["sign"] = sign
        status, raw = self.post_form("/invoke", f)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def refresh(self, refresh_token, app_secret=None, **extra):
        f = {"grant_type": "refresh_token", "refresh_token": refresh_token,
             "app_key": self.merchant, "app_secret": app_secret or self.secret}
        f.update(extra)
        status, raw = self.post_form("/token", f)
        return status, json.loads(raw)

    # ---- control ------------------------------------------------------------------------

    def tokens(self, seller=0):
        return self._call("GET", f"/_sim/tokens?seller={seller}")

    def orders(self, start, end, seller=0):
        q = urllib.parse.urlencode({"start": start, "end": end, "seller": seller})
        return self._call("GET", "/_sim/orders?" + q)

    def revoke(self, token):
        """From now on the seller token was issued to is refused (0000011, invalid_grant);
        the revoked sellers' numbers as strings."""
        return self._call("POST", "/_sim/revoke", {"token": token})["revoked"]

    def unrevoke(self, token):
        return self._call("POST", "/_sim/unrevoke", {"token": token})["revoked"]

    # ---- payload ------------------------------------------------------------------------

    def decrypt(self, data, cipher="ecb"):
        ct = base64.b64decode(data, validate=True)
        if cipher == "cbc":
            plain = aes128.decrypt_cbc(self.key, self.key, ct)
        else:
            plain = aes128.decrypt_ecb(self.key, ct)
        return json.loads(plain.decode("utf-8"))
