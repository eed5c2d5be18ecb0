"""AES-128 (FIPS-197) in pure Python, table based, with ECB and CBC modes and PKCS#5 padding.

Used by contrib/mogujie_sim.py to encrypt API answers the way Mogujie's gateway does, and by the
integration tests to decrypt them. It exists because Python's standard library has no AES and
the simulator must stay dependency-free; it also gives orderfs's OpenSSL-based client an
independent implementation to be checked against.

Usage:
    import aes128
    ct = aes128.encrypt_ecb(key16, plaintext)          # PKCS#5 padded
    pt = aes128.decrypt_ecb(key16, ct)                 # raises ValueError on bad padding
    ct = aes128.encrypt_cbc(key16, iv16, plaintext)
    pt = aes128.decrypt_cbc(key16, iv16, ct)
    aes128.encrypt_ecb(key16, data, pad=False)         # raw blocks (len % 16 == 0)

Speed: blocks are handled as four 32-bit words with the usual four T-tables (one lookup per
state byte per round), and whole messages are converted with one struct call, so ~100 KB
encrypts in well under 0.3 s on CPython 3.11. Not constant-time: for test tooling only.
"""
import struct

BLOCK = 16
ROUNDS = 10


def _xtime(b):
    b <<= 1
    return (b ^ 0x11B) if b & 0x100 else b


def _build_sbox():
    """The S-box from its definition (inverse in GF(2^8) + affine map), so no table of 256
    magic numbers has to be trusted; FIPS-197 vectors in the tests confirm it."""
    # log/antilog tables over generator 3 give inverses cheaply
    exp, log = [0] * 512, [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= _xtime(x)          # multiply by 3
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    sbox = [0] * 256
    for a in range(256):
        inv = 0 if a == 0 else exp[255 - log[a]]
        s = inv
        for shift in (1, 2, 3, 4):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox[a] = s ^ 0x63
    inv_sbox = [0] * 256
    for a, s in enumerate(sbox):
        inv_sbox[s] = a
    return sbox, inv_sbox


def _mul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _ror8(w):
    return ((w >> 8) | (w << 24)) & 0xFFFFFFFF


def _build_tables():
    te0, td0 = [], []
    for a in range(256):
        s = SBOX[a]
        te0.append((_mul(s, 2) << 24) | (s << 16) | (s << 8) | _mul(s, 3))
        i = INV_SBOX[a]
        td0.append((_mul(i, 14) << 24) | (_mul(i, 9) << 16) | (_mul(i, 13) << 8) | _mul(i, 11))
    te = [te0]
    td = [td0]
    for _ in range(3):
        te.append([_ror8(w) for w in te[-1]])
        td.append([_ror8(w) for w in td[-1]])
    return te, td


SBOX, INV_SBOX = _build_sbox()
(TE0, TE1, TE2, TE3), (TD0, TD1, TD2, TD3) = _build_tables()
# S-box values pre-shifted into each byte lane, for the last round
SB24 = [s << 24 for s in SBOX]
SB16 = [s << 16 for s in SBOX]
SB8 = [s << 8 for s in SBOX]
ISB24 = [s << 24 for s in INV_SBOX]
ISB16 = [s << 16 for s in INV_SBOX]
ISB8 = [s << 8 for s in INV_SBOX]


def expand_key(key):
    """44 round-key words for encryption (FIPS-197 section 5.2)."""
    if not isinstance(key, (bytes, bytearray)) or len(key) != 16:
        raise ValueError("AES-128 key must be 16 bytes")
    w = list(struct.unpack(">4I", key))
    rcon = 1
    for i in range(4, 4 * (ROUNDS + 1)):
        t = w[i - 1]
        if i % 4 == 0:
            t = ((t << 8) | (t >> 24)) & 0xFFFFFFFF            # RotWord
            t = (SB24[t >> 24] | SB16[(t >> 16) & 255] | SB8[(t >> 8) & 255]
                 | SBOX[t & 255]) ^ (rcon << 24)
            rcon = _xtime(rcon)
        w.append(w[i - 4] ^ t)
    return w


def _decrypt_key(w):
    """Round keys for the equivalent inverse cipher (FIPS-197 5.3.5): reversed round order,
    InvMixColumns applied to the middle ones so decryption can use the Td tables too."""
    out = list(w[40:44])
    for r in range(ROUNDS - 1, 0, -1):
        for k in w[4 * r:4 * r + 4]:
            out.append(TD0[SBOX[k >> 24]] ^ TD1[SBOX[(k >> 16) & 255]]
                       ^ TD2[SBOX[(k >> 8) & 255]] ^ TD3[SBOX[k & 255]])
    out.extend(w[0:4])
    return out


def _crypt_words(words, rk, cbc_iv, t0, t1, t2, t3, s24, s16, s8, s0, inverse):
    """Run every 4-word block of `words` through the cipher and return the output words.
    One function serves both directions: only the tables, the round keys and the byte
    sources of ShiftRows (rotated left for encryption, right for decryption) differ.
    cbc_iv: None for ECB, else 4 words (chained on ciphertext for either direction)."""
    out = [0] * len(words)
    k = rk
    inner = range(4, 4 * ROUNDS, 4)
    if cbc_iv is not None:
        p0, p1, p2, p3 = cbc_iv
    for i in range(0, len(words), 4):
        a, b, c, d = words[i], words[i + 1], words[i + 2], words[i + 3]
        if cbc_iv is not None and not inverse:
            a ^= p0
            b ^= p1
            c ^= p2
            d ^= p3
        a ^= k[0]
        b ^= k[1]
        c ^= k[2]
        d ^= k[3]
        if not inverse:
            for r in inner:
                a, b, c, d = (
                    t0[a >> 24] ^ t1[(b >> 16) & 255] ^ t2[(c >> 8) & 255] ^ t3[d & 255] ^ k[r],
                    t0[b >> 24] ^ t1[(c >> 16) & 255] ^ t2[(d >> 8) & 255] ^ t3[a & 255] ^ k[r + 1],
                    t0[c >> 24] ^ t1[(d >> 16) & 255] ^ t2[(a >> 8) & 255] ^ t3[b & 255] ^ k[r + 2],
                    t0[d >> 24] ^ t1[(a >> 16) & 255] ^ t2[(b >> 8) & 255] ^ t3[c & 255] ^ k[r + 3])
            o0 = (s24[a >> 24] | s16[(b >> 16) & 255] | s8[(c >> 8) & 255] | s0[d & 255]) ^ k[40]
            o1 = (s24[b >> 24] | s16[(c >> 16) & 255] | s8[(d >> 8) & 255] | s0[a & 255]) ^ k[41]
            o2 = (s24[c >> 24] | s16[(d >> 16) & 255] | s8[(a >> 8) & 255] | s0[b & 255]) ^ k[42]
            o3 = (s24[d >> 24] | s16[(a >> 16) & 255] | s8[(b >> 8) & 255] | s0[c & 255]) ^ k[43]
            if cbc_iv is not None:
                p0, p1, p2, p3 = o0, o1, o2, o3
        else:
            for r in inner:
                a, b, c, d = (
                    t0[a >> 24] ^ t1[(d >> 16) & 255] ^ t2[(c >> 8) & 255] ^ t3[b & 255] ^ k[r],
                    t0[b >> 24] ^ t1[(a >> 16) & 255] ^ t2[(d >> 8) & 255] ^ t3[c & 255] ^ k[r + 1],
                    t0[c >> 24] ^ t1[(b >> 16) & 255] ^ t2[(a >> 8) & 255] ^ t3[d & 255] ^ k[r + 2],
                    t0[d >> 24] ^ t1[(c >> 16) & 255] ^ t2[(b >> 8) & 255] ^ t3[a & 255] ^ k[r + 3])
            o0 = (s24[a >> 24] | s16[(d >> 16) & 255] | s8[(c >> 8) & 255] | s0[b & 255]) ^ k[40]
            o1 = (s24[b >> 24] | s16[(a >> 16) & 255] | s8[(d >> 8) & 255] | s0[c & 255]) ^ k[41]
            o2 = (s24[c >> 24] | s16[(b >> 16) & 255] | s8[(a >> 8) & 255] | s0[d & 255]) ^ k[42]
            o3 = (s24[d >> 24] | s16[(c >> 16) & 255] | s8[(b >> 8) & 255] | s0[a & 255]) ^ k[43]
            if cbc_iv is not None:
                o0 ^= p0
                o1 ^= p1
                o2 ^= p2
                o3 ^= p3
                p0, p1, p2, p3 = words[i], words[i + 1], words[i + 2], words[i + 3]
        out[i], out[i + 1], out[i + 2], out[i + 3] = o0, o1, o2, o3
    return out


def pad(data):
    """PKCS#5/#7 padding to a multiple of 16 (always adds 1..16 bytes)."""
    n = BLOCK - len(data) % BLOCK
    return bytes(data) + bytes([n]) * n


def unpad(data):
    if not data or len(data) % BLOCK:
        raise ValueError("ciphertext length is not a multiple of 16")
    n = data[-1]
    if not 1 <= n <= BLOCK or data[-n:] != bytes([n]) * n:
        raise ValueError("bad PKCS#5 padding")
    return data[:-n]


def _words(data):
    if len(data) % BLOCK:
        raise ValueError("data length is not a multiple of 16")
    return struct.unpack(">%dI" % (len(data) // 4), data)


def _bytes(words):
    return struct.pack(">%dI" % len(words), *words)


def _iv_words(iv):
    if not isinstance(iv, (bytes, bytearray)) or len(iv) != 16:
        raise ValueError("IV must be 16 bytes")
    return struct.unpack(">4I", iv)


def _encrypt(key, data, iv, do_pad):
    data = pad(data) if do_pad else bytes(data)
    out = _crypt_words(_words(data), expand_key(key), iv and _iv_words(iv),
                       TE0, TE1, TE2, TE3, SB24, SB16, SB8, SBOX, False)
    return _bytes(out)


def _decrypt(key, data, iv, do_unpad):
    if len(data) % BLOCK or (do_unpad and not data):
        raise ValueError("ciphertext length is not a multiple of 16")
    out = _bytes(_crypt_words(_words(bytes(data)), _decrypt_key(expand_key(key)),
                              iv and _iv_words(iv), TD0, TD1, TD2, TD3,
                              ISB24, ISB16, ISB8, INV_SBOX, True))
    return unpad(out) if do_unpad else out


def encrypt_block(key, block):
    """One raw 16-byte block (FIPS-197 Cipher())."""
    return _encrypt(key, block, None, False)


def decrypt_block(key, block):
    return _decrypt(key, block, None, False)


def encrypt_ecb(key, data, pad=True):
    return _encrypt(key, data, None, pad)


def decrypt_ecb(key, data, pad=True):
    return _decrypt(key, data, None, pad)


def encrypt_cbc(key, iv, data, pad=True):
    return _encrypt(key, data, iv, pad)


def decrypt_cbc(key, iv, data, pad=True):
    return _decrypt(key, data, iv, pad)
