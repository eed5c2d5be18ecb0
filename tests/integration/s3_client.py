"""A small S3 client for the tests, with its own AWS Signature Version 4 signer (hmac and
hashlib only: no boto), so that what the tests put into, read from or break in the store does
not depend on orderfs's own signing.

sign_v4() is pure (checked against AWS's published example in test_s3_server); S3Client
speaks path-style S3 over plain HTTP to one endpoint: put, get (ranged), head, delete,
list (ListObjectsV2, every page), create/delete bucket, and corrupt (other bytes under the same
key). Every call returns an S3Response; none raises on an HTTP error status."""
import datetime
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def uri_encode(s, keep_slash):
    """S3's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ (and / in a path) as %XX."""
    return urllib.parse.quote(s, safe="-_.~" + ("/" if keep_slash else ""))


def canonical_query(query):
    pairs = sorted((uri_encode(k, False), uri_encode(str(v), False))
                   for k, v in (query or {}).items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def sign_v4(method, path, query, headers, payload_hash, access_key, secret, region,
            amz_date, service="s3"):
    """The Authorization header value for one request. headers must hold host and
    x-amz-date (and x-amz-content-sha256 for S3); every header given is signed. path is
    the raw (unencoded) path; amz_date is YYYYMMDDTHHMMSSZ."""
    hdrs = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed = ";".join(sorted(hdrs))
    creq = "\n".join([method, uri_encode(path, True), canonical_query(query),
                      "".join(f"{k}:{hdrs[k]}\n" for k in sorted(hdrs)), signed,
                      payload_hash])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = _hmac(key, part)
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
            f"Signature={sig}")


class S3Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def error_code(self):
        """The <Code> of an S3 error body, or None."""
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError:
            return None
        code = root.find("Code")
        return code.text if code is not None else None

    def __repr__(self):
        return f"<S3Response {self.status} {self.body[:200]!r}>"


class S3Client:
    """Signed requests to http://HOST:PORT; bucket is the default bucket. Path style
    (/bucket/key) unless virtual_host: then the bucket is in the Host header
    (bucket.HOST:PORT, the connection still goes to HOST)."""

    def __init__(self, endpoint, bucket, access_key, secret, region="us-east-1", timeout=30,
                 virtual_host=False):
        u = urllib.parse.urlsplit(endpoint)
        if u.scheme != "http":
            raise ValueError("S3Client speaks plain http only")
        self.host, self.port = u.hostname, u.port or 80
        self.bucket, self.access_key, self.secret = bucket, access_key, secret
        self.region, self.timeout = region, timeout
        self.virtual_host = virtual_host

    def request(self, method, path, query=None, body=b"", headers=None, sign_payload=True):
        """One signed request to path ("/bucket/key", also with virtual_host); returns an
        S3Response."""
        amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload_hash = hashlib.sha256(body).hexdigest() if sign_payload else UNSIGNED
        host = f"{self.host}:{self.port}"
        if self.virtual_host:
            bucket, _, rest = path[1:].partition("/")
            host, path = f"{bucket}.{host}", "/" + rest
        hdrs = {"host": host, "x-amz-date": amz_date,
                "x-amz-content-sha256": payload_hash}
        hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
        hdrs["authorization"] = sign_v4(method, path, query, hdrs, payload_hash,
                                        self.access_key, self.secret, self.region, amz_date)
        target = uri_encode(path, True)
        if query:
            target += "?" + canonical_query(query)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            if (body or method in ("PUT", "POST")) and "transfer-encoding" not in hdrs:
                hdrs["content-length"] = str(len(body))
            conn.request(method, target, body=body or None, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return S3Response(r.status, r.getheaders(), data)
        finally:
            conn.close()

    def _key_path(self, key, bucket=None):
        return f"/{bucket or self.bucket}/{key}"

    def put(self, key, data, headers=None, bucket=None):
        return self.request("PUT", self._key_path(key, bucket), body=data, headers=headers)

    def get(self, key, byte_range=None, bucket=None):
        """byte_range: (first, last) inclusive, as in an HTTP Range header."""
        h = {"range": f"bytes={byte_range[0]}-{byte_range[1]}"} if byte_range else None
        return self.request("GET", self._key_path(key, bucket), headers=h)

    def head(self, key, bucket=None):
        return self.request("HEAD", self._key_path(key, bucket))

    def delete(self, key, bucket=None):
        return self.request("DELETE", self._key_path(key, bucket))

    def corrupt(self, key, bucket=None):
        """Replaces the object with other bytes of the same size (the first byte flipped);
        returns the PUT's response. The object must exist."""
        r = self.get(key, bucket=bucket)
        if r.status != 200:
            return r
        data = bytearray(r.body) or bytearray(b"\0")
        data[0] ^= 0xFF
        return self.put(key, bytes(data), bucket=bucket)

    def list(self, prefix="", bucket=None):
        """Every key under prefix (ListObjectsV2, all pages) as {key: size}; raises
        RuntimeError on an error status."""
        out, token = {}, None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            r = self.request("GET", f"/{bucket or self.bucket}", query=q)
            if r.status != 200:
                raise RuntimeError(f"ListObjectsV2 {prefix!r}: {r}")
            root = ET.fromstring(r.body)
            for c in root.iter(S3_NS + "Contents"):
                out[c.find(S3_NS + "Key").text] = int(c.find(S3_NS + "Size").text)
            token_el = root.find(S3_NS + "NextContinuationToken")
            if root.findtext(S3_NS + "IsTruncated") != "true" or token_el is None:
                return out
            token = token_el.text

    # -- multipart upload ------------------------------------------------------------------

    def create_multipart(self, key, bucket=None):
        """Starts a multipart upload; returns its UploadId (raises RuntimeError on error)."""
        r = self.request("POST", self._key_path(key, bucket), query={"uploads": ""})
        if r.status != 200:
            raise RuntimeError(f"CreateMultipartUpload {key!r}: {r}")
        return ET.fromstring(r.body).findtext(S3_NS + "UploadId")

    def upload_part(self, key, upload_id, number, data, bucket=None):
        """Uploads part number (from 1); returns the response (its ETag names the part)."""
        return self.request("PUT", self._key_path(key, bucket), body=data,
                            query={"partNumber": str(number), "uploadId": upload_id})

    def complete_multipart(self, key, upload_id, etags, bucket=None):
        """Completes the upload from its parts' ETags, in part order."""
        parts = "".join(f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>"
                        for i, e in enumerate(etags, 1))
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        return self.request("POST", self._key_path(key, bucket), body=body,
                            query={"uploadId": upload_id})

    def abort_multipart(self, key, upload_id, bucket=None):
        return self.request("DELETE", self._key_path(key, bucket),
                            query={"uploadId": upload_id})

    def multipart_uploads(self, prefix="", bucket=None):
        """[(key, upload_id)] of the uploads started and neither completed nor aborted."""
        r = self.request("GET", f"/{bucket or self.bucket}",
                         query={"uploads": "", "prefix": prefix})
        if r.status != 200:
            raise RuntimeError(f"ListMultipartUploads {prefix!r}: {r}")
        return [(u.findtext(S3_NS + "Key"), u.findtext(S3_NS + "UploadId"))
                for u in ET.fromstring(r.body).iter(S3_NS + "Upload")]

    def parts(self, key, upload_id, bucket=None):
        """[(part number, size)] uploaded so far to an unfinished multipart upload."""
        r = self.request("GET", self._key_path(key, bucket), query={"uploadId": upload_id})
        if r.status != 200:
            raise RuntimeError(f"ListParts {key!r}: {r}")
        return [(int(p.findtext(S3_NS + "PartNumber")), int(p.findtext(S3_NS + "Size")))
                for p in ET.fromstring(r.body).iter(S3_NS + "Part")]

    def create_bucket(self, bucket=None):
        return self.request("PUT", f"/{bucket or self.bucket}")

    def delete_bucket(self, bucket=None):
        """Deletes every object in the bucket, then the bucket."""
        for key in self.list(bucket=bucket):
            self.delete(key, bucket=bucket)
        return self.request("DELETE", f"/{bucket or self.bucket}")
