#!/usr/bin/env python3
"""Independent (clean-room) checker of AgentLattice's documented formats.

Written from docs/audit-encoding.md and docs/policy-manifest.md only (plus
RFC 9162, C2SP tlog-checkpoint / signed-note and RFC 8032), without reading
the Rust code or the reference verifier of audit-encoding.md section 10.

    python3 docs/check/independent.py [--al target/debug/al] [--known FILE]
                                       [--mutations N] [--policy-cases N] [-v]

It checks every golden file under testdata/audit/, testdata/policies/ and
testdata/policy-digests.json against this implementation, then compares its
verdicts with the `al` command (black box) on deterministically generated
hostile inputs.  Every disagreement is printed with an id; ids listed in
docs/check/known-disagreements.json are reported as "known" and do not fail
the run.  Exit 0 when every disagreement is known, 1 otherwise.

Section references "A§n" are docs/audit-encoding.md, "P§n" are
docs/policy-manifest.md.
"""
import argparse
import base64
import hashlib
import json
import math
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TD = os.path.join(ROOT, "testdata")
AUD = os.path.join(TD, "audit")

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)
MiB = 1 << 20


class Err(Exception):
    """A refusal with the documented error code (A§9 / P§7)."""

    def __init__(self, code, msg="", check=None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.check = check  # PROOF_INVALID: the name of the failing check


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
class Report:
    def __init__(self, verbose=False):
        self.counts = {}
        self.disagreements = []  # (id, detail)
        self.verbose = verbose

    def ok(self, area, n=1):
        self.counts.setdefault(area, [0, 0])
        self.counts[area][0] += n

    def bad(self, area, did, detail):
        self.counts.setdefault(area, [0, 0])
        self.counts[area][1] += 1
        self.disagreements.append((did, detail))

    def check(self, area, did, cond, detail):
        if cond:
            self.ok(area)
        else:
            self.bad(area, did, detail)


# ---------------------------------------------------------------------------
# A§3 rules 3-5, A§6, P§2: a strict JSON reader.
# Integers and floats stay distinct (A§2 "Numbers"): a literal without
# fraction/exponent is a Python int (so `-0` is int 0), otherwise a float.
# ---------------------------------------------------------------------------
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WS = " \t\r\n"


class StrictJSON:
    def __init__(self, text, max_depth):
        self.s = text
        self.i = 0
        self.max_depth = max_depth

    def fail(self, code, msg):
        raise Err(code, f"at offset {self.i}: {msg}")

    def ws(self):
        s, i = self.s, self.i
        while i < len(s) and s[i] in _WS:
            i += 1
        self.i = i

    def parse(self):
        self.ws()
        v = self.value(0)
        self.ws()
        if self.i != len(self.s):
            self.fail("INVALID_JSON", "trailing text")  # A§3 rule 3
        return v

    def value(self, depth):
        if self.i >= len(self.s):
            self.fail("INVALID_JSON", "unexpected end")
        c = self.s[self.i]
        if c in "{[":
            if depth + 1 > self.max_depth:  # A§3 rule 5: the top object is level 1
                self.fail("TOO_DEEP", f"deeper than {self.max_depth}")
            return self.obj(depth + 1) if c == "{" else self.arr(depth + 1)
        if c == '"':
            return self.string()
        for lit, v in (("true", True), ("false", False), ("null", None)):
            if self.s.startswith(lit, self.i):
                self.i += len(lit)
                return v
        m = _NUM.match(self.s, self.i)
        if not m:
            self.fail("INVALID_JSON", "not a JSON value")  # NaN, Infinity, ...
        self.i = m.end()
        tok = m.group(0)
        if m.group(1) is None and m.group(2) is None:
            return int(tok)  # A§2: an integer; -0 is the integer 0
        f = float(tok)
        if math.isinf(f):  # A§2: a float literal beyond binary64
            self.fail("INVALID_JSON", "float out of range")
        return f

    def obj(self, depth):
        self.i += 1
        out = {}
        self.ws()
        if self.i < len(self.s) and self.s[self.i] == "}":
            self.i += 1
            return out
        while True:
            self.ws()
            if self.i >= len(self.s) or self.s[self.i] != '"':
                self.fail("INVALID_JSON", "expected a key")
            k = self.string()
            if k in out:  # A§3 rule 4: compared after unescaping
                self.fail("DUPLICATE_KEY", f"key {k!r} twice")
            self.ws()
            if self.i >= len(self.s) or self.s[self.i] != ":":
                self.fail("INVALID_JSON", "expected ':'")
            self.i += 1
            self.ws()
            out[k] = self.value(depth)
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < len(self.s) and self.s[self.i] == "}":
                self.i += 1
                return out
            self.fail("INVALID_JSON", "expected ',' or '}'")

    def arr(self, depth):
        self.i += 1
        out = []
        self.ws()
        if self.i < len(self.s) and self.s[self.i] == "]":
            self.i += 1
            return out
        while True:
            self.ws()
            out.append(self.value(depth))
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < len(self.s) and self.s[self.i] == "]":
                self.i += 1
                return out
            self.fail("INVALID_JSON", "expected ',' or ']'")

    _ESC = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

    def hex4(self):
        h = self.s[self.i:self.i + 4]
        if len(h) != 4 or not all(c in "0123456789abcdefABCDEF" for c in h):
            self.fail("INVALID_JSON", "bad \\u escape")
        self.i += 4
        return int(h, 16)

    def string(self):
        self.i += 1
        out = []
        s = self.s
        while True:
            if self.i >= len(s):
                self.fail("INVALID_JSON", "unterminated string")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if ord(c) < 0x20:
                self.fail("INVALID_JSON", "control character in string")
            if c != "\\":
                out.append(c)
                self.i += 1
                continue
            self.i += 1
            e = s[self.i:self.i + 1]
            self.i += 1
            if e in self._ESC:
                out.append(self._ESC[e])
            elif e == "u":
                u = self.hex4()
                if 0xD800 <= u < 0xDC00:  # a pair, or a lone surrogate (refused)
                    if s[self.i:self.i + 2] != "\\u":
                        self.fail("INVALID_JSON", "lone surrogate")
                    self.i += 2
                    lo = self.hex4()
                    if not 0xDC00 <= lo < 0xE000:
                        self.fail("INVALID_JSON", "lone surrogate")
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                elif 0xDC00 <= u < 0xE000:
                    self.fail("INVALID_JSON", "lone surrogate")
                out.append(chr(u))
            else:
                self.fail("INVALID_JSON", "bad escape")


def strict_json(data, max_depth, max_size=None):
    if max_size is not None and len(data) > max_size:
        raise Err("TOO_LARGE", f"{len(data)} bytes")
    try:
        text = data.decode("utf-8")  # invalid UTF-8 (also encoded surrogates)
    except UnicodeDecodeError as e:
        raise Err("INVALID_JSON", f"invalid UTF-8: {e}")
    return StrictJSON(text, max_depth).parse()


def walk_ints(v):
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, int):
        yield v
    elif isinstance(v, list):
        for x in v:
            yield from walk_ints(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from walk_ints(x)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------
# A§3: canonical RFC 3339 timestamps (UTC, `Z`, three fraction digits only
# when the milliseconds are not zero)
# ---------------------------------------------------------------------------
_TS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{3})?Z\Z")


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def parse_canonical_ts(s):
    """Returns milliseconds since the epoch, or None when not canonical."""
    if not isinstance(s, str):
        return None
    m = _TS.match(s)
    if not m:
        return None
    y, mo, d, h, mi, se = (int(m.group(k)) for k in range(1, 7))
    frac = m.group(7)
    if frac == ".000":
        return None
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 60):
        return None
    if civil_from_days(days_from_civil(y, mo, d)) != (y, mo, d):
        return None
    if y < 1:  # A§1: years 0001-9999
        return None
    ms = int(frac[1:]) if frac else 0
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + ms


def format_ts(ms):
    days, rem = divmod(ms, 86400000)
    y, m, d = civil_from_days(days)
    h, rem = divmod(rem, 3600000)
    mi, rem = divmod(rem, 60000)
    s, ms_ = divmod(rem, 1000)
    t = f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    return t + (f".{ms_:03d}Z" if ms_ else "Z")


# ---------------------------------------------------------------------------
# A§1 entries and A§2 canonical bytes
# ---------------------------------------------------------------------------
KINDS = {"action": 1, "approval": 2, "outcome": 3, "delegation": 4, "breaker": 5,
         "policy_change": 6, "key": 7}
KIND_NAMES = {v: k for k, v in KINDS.items()}
HEADER = ("row", "id", "kind", "agent_id", "timestamp", "prev_hash", "hash")
DOMAIN = b"agentlattice.audit.entry.v1\x00"
ZERO32 = bytes(32)
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_EVT = re.compile(r"evt_[0-9a-f]{16}\Z")


def entry_id(row):
    return f"evt_{row:016x}"


def check_fields(kind, fields):
    """A§1 "Kinds" and reserved names; INVALID_ENTRY."""
    for k in HEADER:
        if k in fields:
            raise Err("INVALID_ENTRY", f"reserved field {k}")
    if kind == "action":
        if not isinstance(fields.get("action_type"), str):
            raise Err("INVALID_ENTRY", "action_type")
        if fields.get("status") not in ("executed", "denied", "requested", "policy_not_found"):
            raise Err("INVALID_ENTRY", "action status")
        if "event_id" in fields and not isinstance(fields["event_id"], str):
            raise Err("INVALID_ENTRY", "event_id")
    elif kind == "outcome":
        a = fields.get("audit_event_id")
        if not (isinstance(a, str) and _EVT.match(a) and int(a[4:], 16) >= 1):
            raise Err("INVALID_ENTRY", "audit_event_id")
        if fields.get("status") not in ("success", "failure", "partial"):
            raise Err("INVALID_ENTRY", "outcome status")


def enc_str(s):
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def enc_value(v):
    if v is None:
        return b"\x00"
    if v is False:
        return b"\x01"
    if v is True:
        return b"\x02"
    if is_int(v):
        if v >= 0:
            return b"\x03" + struct.pack(">Q", v)
        return b"\x04" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\x05" + struct.pack(">d", v)
    if isinstance(v, str):
        return b"\x06" + enc_str(v)
    if isinstance(v, list):
        return b"\x07" + struct.pack(">I", len(v)) + b"".join(enc_value(x) for x in v)
    if isinstance(v, dict):
        return enc_object(v)
    raise TypeError(type(v))


def enc_object(d):
    keys = sorted(d, key=lambda k: k.encode("utf-8"))  # strictly ascending by UTF-8 bytes
    return b"\x08" + struct.pack(">I", len(d)) + b"".join(enc_str(k) + enc_value(d[k]) for k in keys)


def encode_entry(row, kind, agent, ts_ms, fields, prev_hash):
    """A§2 `entry`."""
    return (DOMAIN + b"\x01" + struct.pack(">Q", row) + bytes([KINDS[kind]])
            + (b"\x00" if agent is None else b"\x01" + enc_str(agent))
            + struct.pack(">q", ts_ms) + enc_object(fields) + prev_hash)


MIN_TS = days_from_civil(1, 1, 1) * 86400000
MAX_TS = (days_from_civil(10000, 1, 1)) * 86400000 - 1


class Decoder:
    """A§2 "Decoding": refuse anything that is not canonical."""

    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            raise Err("INVALID_ENCODING", "truncated")
        r = self.b[self.i:self.i + n]
        self.i += n
        return r

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def str_(self):
        try:
            return self.take(self.u32()).decode("utf-8")
        except UnicodeDecodeError:
            raise Err("INVALID_ENCODING", "invalid UTF-8")

    def value(self, level):
        t = self.take(1)[0]
        if t == 0:
            return None
        if t in (1, 2):
            return t == 2
        if t == 3:
            return struct.unpack(">Q", self.take(8))[0]
        if t == 4:
            v = struct.unpack(">q", self.take(8))[0]
            if v >= 0:
                raise Err("INVALID_ENCODING", "value >= 0 under 0x04")
            return v
        if t == 5:
            v = struct.unpack(">d", self.take(8))[0]
            if not math.isfinite(v):
                raise Err("INVALID_ENCODING", "non-finite float")
            return v
        if t == 6:
            return self.str_()
        if t == 7:
            if level + 1 > 32:
                raise Err("INVALID_ENCODING", "too deep")
            return [self.value(level + 1) for _ in range(self.u32())]
        if t == 8:
            if level + 1 > 32:
                raise Err("INVALID_ENCODING", "too deep")
            return self.obj_body(level + 1)
        raise Err("INVALID_ENCODING", f"unknown tag {t}")

    def obj_body(self, level):
        n = self.u32()
        out, last = {}, None
        for _ in range(n):
            k = self.str_()
            kb = k.encode()
            if last is not None and kb <= last:
                raise Err("INVALID_ENCODING", "keys not strictly ascending")
            last = kb
            out[k] = self.value(level)
        return out

    def entry(self):
        if len(self.b) > MiB:
            raise Err("INVALID_ENCODING", "more than 1 MiB")
        if self.take(len(DOMAIN)) != DOMAIN or self.take(1) != b"\x01":
            raise Err("INVALID_ENCODING", "domain/version")
        row = struct.unpack(">Q", self.take(8))[0]
        if row == 0:
            raise Err("INVALID_ENCODING", "row 0")
        k = self.take(1)[0]
        if k not in KIND_NAMES:
            raise Err("INVALID_ENCODING", "kind")
        flag = self.take(1)[0]
        if flag not in (0, 1):
            raise Err("INVALID_ENCODING", "agent flag")
        agent = self.str_() if flag else None
        ts = struct.unpack(">q", self.take(8))[0]
        if not MIN_TS <= ts <= MAX_TS:
            raise Err("INVALID_ENCODING", "timestamp range")
        if self.take(1) != b"\x08":
            raise Err("INVALID_ENCODING", "fields not an object")
        fields = self.obj_body(1)
        prev = self.take(32)
        if self.i != len(self.b):
            raise Err("INVALID_ENCODING", "trailing bytes")
        return dict(row=row, kind=KIND_NAMES[k], agent_id=agent, ts=ts, fields=fields, prev_hash=prev)


def read_line(raw):
    """A§3 "Reading a line" rules 1-7, then build and encode the entry.
    Returns a dict with row, hash (stated), computed hash, prev_hash, bytes."""
    if raw.strip(b" \t\r") == b"":  # rule 1
        raise Err("INVALID_AUDIT_LOG", "blank line")
    if len(raw) > 8 * MiB:  # rule 2
        raise Err("TOO_LARGE", "line longer than 8 MiB")
    v = strict_json(raw, 32)  # rules 3-5
    # rule 6
    if not isinstance(v, dict):
        raise Err("INVALID_AUDIT_LOG", "not an object")
    for k in HEADER:
        if k not in v:
            raise Err("INVALID_AUDIT_LOG", f"missing {k}")
    for i in walk_ints(v):
        if not I64_MIN <= i <= U64_MAX:
            raise Err("INVALID_AUDIT_LOG", "integer out of range")
    row = v["row"]
    if not is_int(row) or row < 1:
        raise Err("INVALID_AUDIT_LOG", "row")
    if v["id"] != entry_id(row):
        raise Err("INVALID_AUDIT_LOG", "id")
    if not isinstance(v["kind"], str) or v["kind"] not in KINDS:
        raise Err("INVALID_AUDIT_LOG", "kind")
    if v["agent_id"] is not None and not isinstance(v["agent_id"], str):
        raise Err("INVALID_AUDIT_LOG", "agent_id")
    ts = parse_canonical_ts(v["timestamp"])
    if ts is None:
        raise Err("INVALID_AUDIT_LOG", "timestamp")
    for k in ("prev_hash", "hash"):
        if not isinstance(v[k], str) or not _HEX64.match(v[k]):
            raise Err("INVALID_AUDIT_LOG", k)
    fields = {k: x for k, x in v.items() if k not in HEADER}
    check_fields(v["kind"], fields)  # rule 7
    b = encode_entry(row, v["kind"], v["agent_id"], ts, fields, bytes.fromhex(v["prev_hash"]))
    if len(b) > MiB:  # A§1 "Size"
        raise Err("INVALID_ENTRY", "canonical bytes above 1 MiB")
    return dict(row=row, stated=v["hash"], hash=hashlib.sha256(b).hexdigest(),
                prev_hash=v["prev_hash"], bytes=b)


def split_lines(data):
    """A§3: one entry per line, each ending with \\n (the last may lack it)."""
    if data == b"":
        return []
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    return parts


# ---------------------------------------------------------------------------
# A§4 Merkle tree, RFC 9162 section 2.1
# ---------------------------------------------------------------------------
def H(b):
    return hashlib.sha256(b).digest()


def leaf_hash(entry_hash):
    return H(b"\x00" + entry_hash)


def node(l, r):
    return H(b"\x01" + l + r)


def split_point(n):  # largest power of two < n
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m, leaves):  # RFC 9162 2.1.3.1 PATH(m, D[n])
    n = len(leaves)
    if n <= 1:
        return []
    k = split_point(n)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def consistency_path(m, leaves):  # RFC 9162 2.1.4.1 PROOF(m, D[n])
    def sub(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = split_point(n)
        if m <= k:
            return sub(m, d[:k], b) + [mth(d[k:])]
        return sub(m - k, d[k:], False) + [mth(d[:k])]
    return sub(m, leaves, True)


def decomp(index, size):
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def verify_inclusion(index, size, leaf, path, root):
    """A§4 table, left column; RFC 9162 2.1.3.2. Raises Err(check=...)."""
    if size == 0:
        raise Err("PROOF_INVALID", "size 0", "size_zero")
    if index >= size:
        raise Err("PROOF_INVALID", "index >= size", "index")
    inner, border = decomp(index, size)
    if len(path) != inner + border:
        raise Err("PROOF_INVALID", "path length", "path_length")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if r != root:
        raise Err("PROOF_INVALID", "root", "root")


def verify_consistency(first, second, first_root, second_root, path):
    """A§4 table, right column; RFC 9162 2.1.4.2."""
    if first == 0 or first > second:
        raise Err("PROOF_INVALID", "sizes", "size_order")
    if first == second:
        if path or first_root != second_root:
            raise Err("PROOF_INVALID", "equal sizes", "equal_sizes")
        return
    inner, border = decomp(first - 1, second)
    shift = (first & -first).bit_length() - 1
    inner -= shift
    pow2 = first & (first - 1) == 0
    if len(path) != (0 if pow2 else 1) + inner + border:
        raise Err("PROOF_INVALID", "path length", "path_length")
    if pow2:
        path = [first_root] + list(path)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != first_root:
        raise Err("PROOF_INVALID", "first root", "first_root")
    if sr != second_root:
        raise Err("PROOF_INVALID", "second root", "root")


# ---------------------------------------------------------------------------
# A§5 keys and Ed25519 (RFC 8032) with the small-order check done by hand
# ---------------------------------------------------------------------------
_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRTM1 = pow(2, (_P - 1) // 4, _P)


def _ed_decode(b):
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    y %= _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRTM1 % _P
    if (x * x - x2) % _P:
        return None
    if x & 1 != sign:
        x = (_P - x) % _P
    return x, y


def _ed_add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % _P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, _P - 2, _P) % _P,
            (y1 * y2 + x1 * x2) * pow(1 - t, _P - 2, _P) % _P)


def small_order(pub):
    pt = _ed_decode(pub)
    if pt is None:
        return False
    for _ in range(3):
        pt = _ed_add(pt, pt)
    return pt == (0, 1)


def key_id(name, pub):
    return H(name.encode() + b"\n" + b"\x01" + pub)[:4]


_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")


def b64dec(s):
    if not _B64.match(s) or len(s) % 4:
        return None
    try:
        return base64.b64decode(s, validate=True)
    except Exception:
        return None


def parse_verifier_key(text):
    """`<name>+<8 hex id>+<base64(0x01 || pub)>`; INVALID_KEY otherwise."""
    parts = text.strip().split("+")
    if len(parts) != 3:
        raise Err("INVALID_KEY", "not name+id+key")
    name, hid, k = parts
    if not name or not re.fullmatch(r"[0-9a-f]{8}", hid):
        raise Err("INVALID_KEY", "name or id")
    raw = b64dec(k)
    if raw is None or len(raw) != 33 or raw[0] != 1:
        raise Err("INVALID_KEY", "key bytes")
    pub = raw[1:]
    if key_id(name, pub).hex() != hid:
        raise Err("INVALID_KEY", "id does not match")
    if small_order(pub):
        raise Err("INVALID_KEY", "small-order point")
    return name, bytes.fromhex(hid), pub


def parse_signer_key(text):
    parts = text.strip().split("+")
    assert parts[:2] == ["PRIVATE", "KEY"] and len(parts) == 5
    name, hid, k = parts[2:]
    raw = base64.b64decode(k)
    assert raw[0] == 1 and len(raw) == 33
    return name, bytes.fromhex(hid), raw[1:]


def ed25519_verify(pub, sig, msg):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def ed25519_sign(seed, msg):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


# ---------------------------------------------------------------------------
# A§5 checkpoints: C2SP signed note around a C2SP tlog-checkpoint body
# ---------------------------------------------------------------------------
EM = "\u2014"


def parse_note(data):
    """Returns (body_text, [(name, keyid, sig)]). INVALID_CHECKPOINT if malformed."""
    if len(data) > MiB:
        raise Err("INVALID_CHECKPOINT", "note above 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Err("INVALID_CHECKPOINT", "not UTF-8")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in text):
        raise Err("INVALID_CHECKPOINT", "control character")
    j = text.rfind("\n\n")
    if j < 0:  # no blank line: a bare body, unsigned (testdata checkpoint-unsigned.txt)
        return text, []
    body, sigtext = text[:j + 1], text[j + 2:]
    if not sigtext.endswith("\n"):
        raise Err("INVALID_CHECKPOINT", "signature block must end with a newline")
    lines = sigtext[:-1].split("\n")
    if len(lines) > 100:
        raise Err("INVALID_CHECKPOINT", "more than 100 signatures")
    sigs = []
    for ln in lines:
        m = re.fullmatch(EM + r" ([^ +]+) (\S+)", ln)
        if not m:
            raise Err("INVALID_CHECKPOINT", f"bad signature line {ln!r}")
        raw = b64dec(m.group(2))
        if raw is None or len(raw) <= 4:
            raise Err("INVALID_CHECKPOINT", "bad signature base64")
        sigs.append((m.group(1), raw[:4], raw[4:]))
    return body, sigs


def parse_body(body):
    """A§5 "Body": five lines, each in its one spelling."""
    if not body.endswith("\n"):
        raise Err("INVALID_CHECKPOINT", "body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) != 5:
        raise Err("INVALID_CHECKPOINT", f"{len(lines)} lines, not 5")
    origin, size, root, head, ts = lines
    if not origin or any(c.isspace() or c == "+" or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in origin):
        raise Err("INVALID_CHECKPOINT", "line 1: origin")
    if not re.fullmatch(r"0|[1-9][0-9]*", size) or int(size) > U64_MAX:
        raise Err("INVALID_CHECKPOINT", "line 2: size")
    r = b64dec(root)
    if r is None or len(r) != 32 or base64.b64encode(r).decode() != root:
        raise Err("INVALID_CHECKPOINT", "line 3: root")
    if not head.startswith("head_hash: ") or not _HEX64.match(head[11:]):
        raise Err("INVALID_CHECKPOINT", "line 4: head_hash")
    if not ts.startswith("timestamp: ") or parse_canonical_ts(ts[11:]) is None:
        raise Err("INVALID_CHECKPOINT", "line 5: timestamp")
    if int(size) == 0 and (r != H(b"") or head[11:] != "0" * 64):
        # "An empty log's checkpoint has the empty tree's root and a zero head
        # hash." The doc does not say what else happens; read as a body rule
        # (what `al` does: INVALID_CHECKPOINT naming line 3).
        raise Err("INVALID_CHECKPOINT", "line 3: an empty log's root/head")
    return dict(org_id=origin, size=int(size), root=r.hex(), head_hash=head[11:], timestamp=ts[11:])


def verify_checkpoint(data, keys, org=None, trust_unsigned=False):
    """A§5 "Trust". keys: list of (name, id, pub). Returns the checkpoint dict."""
    body, sigs = parse_note(data)
    cp = parse_body(body)
    trusted = False
    for name, kid, sig in sigs:
        for kname, kkid, pub in keys:
            if name == kname and kid == kkid:
                if len(sig) != 64 or not ed25519_verify(pub, sig, body.encode()):
                    raise Err("CHECKPOINT_SIGNATURE_INVALID", "a trusted signature does not verify")
                trusted = True
    if not trusted and not trust_unsigned:
        raise Err("CHECKPOINT_UNVERIFIED", "no trusted key signed")
    if org is not None and cp["org_id"] != org:
        raise Err("CHECKPOINT_ORG_MISMATCH", f"{cp['org_id']} is not {org}")
    return cp


def make_note(cp, signers):
    body = (f"{cp['org_id']}\n{cp['size']}\n{base64.b64encode(bytes.fromhex(cp['root'])).decode()}\n"
            f"head_hash: {cp['head_hash']}\ntimestamp: {cp['timestamp']}\n")
    if not signers:
        return body.encode()
    sl = "".join(f"{EM} {name} {base64.b64encode(kid + ed25519_sign(seed, body.encode())).decode()}\n"
                 for name, kid, seed in signers)
    return (body + "\n" + sl).encode()


# ---------------------------------------------------------------------------
# A§7: verifying a chain, optionally against a trusted checkpoint
# ---------------------------------------------------------------------------
def verify_chain(data, cp=None):
    """Returns dict(chain_valid, verified_through_row, chain_hash, failure=(row, code)|None)."""
    prev_row, prev_hash, leaves = 0, "0" * 64, []
    res = dict(chain_valid=True, verified_through_row=0, chain_hash=None, failure=None)

    def fail(row, code, msg=""):
        res.update(chain_valid=False, failure=(row, code, msg))
        return res

    for raw in split_lines(data):
        pos = prev_row + 1
        try:
            e = read_line(raw)
        except Err as x:
            return fail(pos, "UNDECODABLE", x.code + " " + x.msg)
        if e["hash"] != e["stated"]:
            return fail(pos, "HASH_MISMATCH")
        if e["row"] != pos:
            return fail(pos, "ROW_MISMATCH")
        if e["prev_hash"] != prev_hash:
            return fail(pos, "BROKEN_LINK")
        prev_row, prev_hash = pos, e["stated"]
        leaves.append(leaf_hash(bytes.fromhex(prev_hash)))
        if cp is not None and pos == cp["size"]:
            if prev_hash != cp["head_hash"] or mth(leaves).hex() != cp["root"]:
                return fail(pos, "CHECKPOINT_MISMATCH")
        res.update(verified_through_row=pos, chain_hash=prev_hash)
    if cp is not None and prev_row < cp["size"]:
        return fail(prev_row + 1, "TRUNCATED")
    return res


# ---------------------------------------------------------------------------
# A§6 proof files
# ---------------------------------------------------------------------------
CP_KEYS = {"org_id", "size", "root", "head_hash", "timestamp"}
INCL_KEYS = {"type", "checkpoint", "row", "entry_id", "entry_hash", "leaf_index", "leaf_hash", "path"}
CONS_KEYS = {"type", "first", "checkpoint", "path"}


def read_proof(data):
    if len(data) > MiB:
        raise Err("TOO_LARGE", "proof file above 1 MiB")
    v = strict_json(data, 8)

    def bad(msg):
        raise Err("INVALID_PROOF_FILE", msg)

    def u64(x):
        if not is_int(x) or not 0 <= x <= U64_MAX:
            bad("not an integer 0..2^64-1")
        return x

    def hx(x):
        if not isinstance(x, str) or not _HEX64.match(x):
            bad("not 64 lowercase hex digits")
        return x

    def obj(x, keys):
        if not isinstance(x, dict) or set(x) != keys:
            bad("members")
        return x

    if not isinstance(v, dict):
        bad("not an object")
    t = v.get("type")
    if t not in ("inclusion", "consistency"):
        bad("type")
    obj(v, INCL_KEYS if t == "inclusion" else CONS_KEYS)
    c = obj(v["checkpoint"], CP_KEYS)
    if not isinstance(c["org_id"], str):
        bad("org_id")
    u64(c["size"]), hx(c["root"]), hx(c["head_hash"])
    if parse_canonical_ts(c["timestamp"]) is None:
        bad("timestamp")
    if not isinstance(v["path"], list):
        bad("path")
    for p in v["path"]:
        hx(p)
    if t == "inclusion":
        u64(v["row"]), u64(v["leaf_index"]), hx(v["entry_hash"]), hx(v["leaf_hash"])
        # A§6: rows start at 1; entry_id must be a well-formed id (A§1).
        if v["row"] < 1:
            bad("row")
        if not isinstance(v["entry_id"], str) or not re.fullmatch(r"evt_[0-9a-f]{16}", v["entry_id"]):
            bad("entry_id")
    else:
        f = obj(v["first"], {"size", "root"})
        u64(f["size"]), hx(f["root"])
    return v


def verify_proof(p, cp):
    """A§6 table: the first failing check, with the trusted checkpoint cp."""
    if p["type"] == "inclusion":
        if p["entry_id"] != entry_id(p["row"]):
            raise Err("PROOF_INVALID", "entry_id", "entry_id")
        if p["leaf_index"] != p["row"] - 1 or p["leaf_hash"] != leaf_hash(bytes.fromhex(p["entry_hash"])).hex():
            raise Err("PROOF_INVALID", "leaf", "leaf")
    if p["checkpoint"]["org_id"] != cp["org_id"]:
        raise Err("PROOF_INVALID", "org", "org")
    if p["checkpoint"]["size"] != cp["size"] or p["checkpoint"]["root"] != cp["root"]:
        raise Err("PROOF_INVALID", "checkpoint", "checkpoint")
    path = [bytes.fromhex(x) for x in p["path"]]
    root = bytes.fromhex(cp["root"])
    if p["type"] == "inclusion":
        verify_inclusion(p["leaf_index"], cp["size"], bytes.fromhex(p["leaf_hash"]), path, root)
    else:
        verify_consistency(p["first"]["size"], cp["size"], bytes.fromhex(p["first"]["root"]), root, path)


# ===========================================================================
# Golden data: testdata/audit/
# ===========================================================================
def rd(path):
    with open(path, "rb") as f:
        return f.read()


def golden_audit(rep):
    A = "audit-golden"
    vec = json.load(open(os.path.join(AUD, "vectors.json")))
    leaves = []
    prev = "0" * 64
    for i, e in enumerate(vec["entries"]):
        try:
            got = read_line(e["json"].encode())
        except Err as x:
            rep.bad(A, "audit-golden:vector-refused", f"vectors.json entry {i}: {x}")
            continue
        rep.check(A, "audit-golden:canonical-bytes", got["bytes"].hex() == e["canonical_hex"],
                  f"vectors.json entry {i}: canonical bytes differ")
        rep.check(A, "audit-golden:hash", got["hash"] == e["hash"] == got["stated"],
                  f"vectors.json entry {i}: hash {got['hash']} != {e['hash']}")
        lh = leaf_hash(bytes.fromhex(e["hash"])).hex()
        rep.check(A, "audit-golden:leaf-hash", lh == e["leaf_hash"], f"entry {i}: leaf hash")
        rep.check(A, "audit-golden:chain", got["prev_hash"] == prev and got["row"] == i + 1,
                  f"entry {i}: chain link")
        prev = got["stated"]
        # A§2 Decoding: the canonical bytes decode and re-encode to themselves
        try:
            d = Decoder(bytes.fromhex(e["canonical_hex"])).entry()
            re_ = encode_entry(d["row"], d["kind"], d["agent_id"], d["ts"], d["fields"], d["prev_hash"])
            rep.check(A, "audit-golden:decode-roundtrip", re_.hex() == e["canonical_hex"], f"entry {i}: roundtrip")
        except Err as x:
            rep.bad(A, "audit-golden:decode-roundtrip", f"entry {i}: decoder refused: {x}")
        leaves.append(bytes.fromhex(e["leaf_hash"]))
    for n, root in enumerate(vec["merkle_roots_by_size"]):
        rep.check(A, "audit-golden:merkle-root", mth(leaves[:n]).hex() == root, f"MTH size {n}")
    # A§2 Decoding refusals, built from vector 0's bytes
    b0 = bytes.fromhex(vec["entries"][0]["canonical_hex"])
    bad_bytes = {
        "wrong domain": b"x" + b0[1:],
        "version 2": b0[:28] + b"\x02" + b0[29:],
        "row 0": b0[:29] + bytes(8) + b0[37:],
        "kind 9": b0[:37] + b"\x09" + b0[38:],
        "agent flag 2": b0[:38] + b"\x02" + b0[39:],
        "trailing byte": b0 + b"\x00",
        "truncated": b0[:-1],
    }
    for why, b in bad_bytes.items():
        try:
            Decoder(b).entry()
            rep.bad(A, "audit-golden:decoder-accepts", f"decoder accepted {why}")
        except Err as x:
            rep.check(A, "audit-golden:decoder-code", x.code == "INVALID_ENCODING", f"{why}: {x.code}")
    # log.jsonl is the same 16 entries
    log = rd(os.path.join(AUD, "log.jsonl"))
    lines = split_lines(log)
    rep.check(A, "audit-golden:log", [l.decode() for l in lines] == [e["json"] for e in vec["entries"]],
              "log.jsonl lines differ from vectors.json json")
    r = verify_chain(log)
    rep.check(A, "audit-golden:log-verifies", r["chain_valid"] and r["verified_through_row"] == 16, f"log.jsonl: {r}")
    # lines.json (A§3)
    lj = json.load(open(os.path.join(AUD, "lines.json")))
    try:  # the deepest accepted value (its fields differ, so only acceptance is checked)
        read_line(lj["depth_32_accepted"].encode())
        rep.ok(A)
    except Err as x:
        rep.bad(A, "audit-golden:depth32-refused", f"depth_32_accepted refused: {x}")
    for c in lj["accepted"]:
        try:
            got = read_line(c["line"].encode())
            rep.check(A, "audit-golden:accepted-line-hash", got["hash"] == lj["hash"],
                      f"lines.json accepted {c['why']!r}: hash {got['hash']}")
        except Err as x:
            rep.bad(A, "audit-golden:accepted-line-refused", f"lines.json accepted {c['why']!r} refused: {x}")
    for c in lj["rejected"]:
        try:
            got = read_line(c["line"].encode())
            code = "OK" if got["hash"] == got["stated"] else "INVALID_AUDIT_LOG(hash)"
        except Err as x:
            code = x.code
        rep.check(A, "audit-golden:rejected-line-code", code == c["code"],
                  f"lines.json rejected {c['why']!r}: expected {c['code']}, mine {code}")
    # checkpoints (A§5)
    cj = json.load(open(os.path.join(AUD, "checkpoints.json")))
    key = parse_verifier_key(cj["verifier_key"])
    rep.check(A, "audit-golden:test.pub", rd(os.path.join(AUD, "test.pub")).decode().strip() == cj["verifier_key"],
              "test.pub differs from checkpoints.json verifier_key")
    sname, sid, seed = parse_signer_key(rd(os.path.join(AUD, "test.key")).decode())
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rep.check(A, "audit-golden:keypair", (sname, sid, pub) == key and key_id(sname, pub) == sid,
              "test.key does not match test.pub")
    v = cj["valid"]
    try:
        cp = verify_checkpoint(v["note"].encode(), [key], org=cj["org_id"])
        rep.check(A, "audit-golden:checkpoint", cp == v["checkpoint"], f"checkpoint parsed as {cp}")
    except Err as x:
        rep.bad(A, "audit-golden:checkpoint", f"valid checkpoint refused: {x}")
    rep.check(A, "audit-golden:checkpoint-files", rd(os.path.join(AUD, "checkpoint.txt")).decode() == v["note"]
              and rd(os.path.join(AUD, "checkpoint-unsigned.txt")).decode() == v["body"], "checkpoint files")
    rep.check(A, "audit-golden:checkpoint-regenerate",
              make_note(v["checkpoint"], [(sname, sid, seed)]).decode() == v["note"],
              "re-signing the checkpoint gives another note (Ed25519 is deterministic)")
    cp16 = dict(org_id="acme", size=16, root=mth(leaves).hex(), head_hash=vec["entries"][-1]["hash"],
                timestamp="2025-11-28T13:00:00Z")
    rep.check(A, "audit-golden:checkpoint-content", cp16 == v["checkpoint"], "checkpoint content vs log")
    for c in cj["invalid"]:
        try:
            verify_checkpoint(c["note"].encode(), [key], org=cj["org_id"])
            code = "OK"
        except Err as x:
            code = x.code
        rep.check(A, "audit-golden:checkpoint-invalid", code == c["code"],
                  f"checkpoints.json {c['why']!r}: expected {c['code']}, mine {code}")
    # Proofs (A§6)
    pj = json.load(open(os.path.join(AUD, "proofs.json")))
    for name in ("proof-inclusion.json", "proof-consistency.json"):
        p = read_proof(rd(os.path.join(AUD, name)))
        try:
            verify_proof(p, pj["checkpoint"])
            rep.ok(A)
        except Err as x:
            rep.bad(A, "audit-golden:proof-file", f"{name}: {x} ({x.check})")
    for p in pj["valid"]:
        try:
            verify_proof(read_proof(json.dumps(p).encode()), pj["checkpoint"])
            rep.ok(A)
        except Err as x:
            rep.bad(A, "audit-golden:proof-valid", f"valid proof refused: {x} ({x.check})")
        # and it is the proof RFC 9162 defines for this log
        if p["type"] == "inclusion":
            exp = [h.hex() for h in inclusion_path(p["leaf_index"], leaves)]
        else:
            exp = [h.hex() for h in consistency_path(p["first"]["size"], leaves)]
        rep.check(A, "audit-golden:proof-path", exp == p["path"], f"proof path differs for {p.get('row', p.get('first'))}")
    for c in pj["invalid"]:
        try:
            verify_proof(read_proof(json.dumps(c["proof"]).encode()), pj["checkpoint"])
            chk = "OK"
        except Err as x:
            chk = x.check or x.code
        rep.check(A, "audit-golden:proof-invalid", chk == c["check"],
                  f"proofs.json {c['why']!r}: expected {c['check']}, mine {chk}")
    for c in pj["refused_files"]:
        try:
            read_proof(c["text"].encode())
            code = "OK"
        except Err as x:
            code = x.code
        rep.check(A, "audit-golden:proof-refused", code == c["code"],
                  f"proofs.json refused {c.get('why')!r}: expected {c['code']}, mine {code}")
    # Merkle proofs at every size and index agree with RFC 9162 verification
    for n in range(1, 17):
        for m in range(n):
            verify_inclusion(m, n, leaves[m], inclusion_path(m, leaves[:n]), mth(leaves[:n]))
        for m in range(1, n + 1):
            verify_consistency(m, n, mth(leaves[:m]), mth(leaves[:n]), consistency_path(m, leaves[:n]))
    rep.ok(A)
    return leaves


def _selftest(rep):
    """Small self-checks of rules stated in prose (A§2, A§3)."""
    A = "audit-doc-examples"
    rep.check(A, "doc:id", entry_id(42) == "evt_000000000000002a", "evt id of row 42")
    rep.check(A, "doc:neg0", enc_value(strict_json(b"-0", 5)) == b"\x03" + bytes(8), "-0 is integer 0")
    rep.check(A, "doc:neg0.0", enc_value(strict_json(b"-0.0", 5)).hex() == "058000000000000000", "-0.0 keeps sign")
    rep.check(A, "doc:float", is_int(strict_json(b"1", 5)) and isinstance(strict_json(b"1e2", 5), float), "1 vs 1e2")
    for bad, code in ((b"1e400", "INVALID_JSON"), (b'"\\ud800"', "INVALID_JSON"), (b"NaN", "INVALID_JSON"),
                      (b'{"a":1,"\\u0061":2}', "DUPLICATE_KEY"), (b"[" * 33 + b"]" * 33, "TOO_DEEP")):
        try:
            strict_json(bad, 32)
            rep.bad(A, "doc:strict-json", f"{bad[:20]!r} accepted")
        except Err as x:
            rep.check(A, "doc:strict-json", x.code == code, f"{bad[:20]!r}: {x.code} != {code}")
    for ts, ok in (("2026-11-28T12:00:00Z", True), ("2026-11-28T12:00:00.250Z", True),
                   ("2026-11-28T12:00:00.000Z", False), ("2026-11-28t12:00:00Z", False),
                   ("2026-11-28T12:00:00z", False), ("2026-11-28T13:00:00+01:00", False),
                   ("2026-11-28T12:00:00.2500Z", False)):
        rep.check(A, "doc:timestamp", (parse_canonical_ts(ts) is not None) == ok, ts)
    rep.check(A, "doc:ts-roundtrip", format_ts(parse_canonical_ts("2025-11-28T12:00:01.500Z")) == "2025-11-28T12:00:01.500Z", "ts")


# ===========================================================================
# Differential testing against `al` (black box)
# ===========================================================================
class Al:
    def __init__(self, exe, tmp):
        self.exe = exe
        self.tmp = tmp
        self.calls = 0
        self.n = 0

    def file(self, data, suffix):
        self.n += 1
        p = os.path.join(self.tmp, f"in{self.n % 8}{suffix}")
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return p

    def run(self, *args):
        self.calls += 1
        p = subprocess.run([self.exe, *args], capture_output=True, timeout=120)
        out = None
        if p.stdout.strip():
            try:
                out = json.loads(p.stdout)
            except ValueError:
                out = None
        m = re.search(rb"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b", p.stderr)
        return p.returncode, out, (m.group(1).decode() if m else None), p.stderr.decode(errors="replace")


def al_verify(al, log, cp_note=None, keys=(), org=None, trust_unsigned=False):
    args = ["verify", "--format", "json"]
    if cp_note is not None:
        args += ["--checkpoint", al.file(cp_note, ".cp")]
    for k in keys:
        args += ["--key", k]
    if org:
        args += ["--org", org]
    if trust_unsigned:
        args += ["--trust-unsigned"]
    rc, out, code, err = al.run(*args, al.file(log, ".jsonl"))
    if rc in (0, 1) and out is not None:
        f = out.get("failure")
        return dict(verdict=("ok",) if out["chain_valid"] else ("fail", f["code"], f["row"]),
                    through=out["verified_through_row"], chain_hash=out["chain_hash"],
                    broken=out["first_broken_at_row_id"], msg=f and f.get("message"))
    return dict(verdict=("error", code), msg=err.strip()[:300])


def my_verify(log, cp_note=None, keys=(), org=None, trust_unsigned=False):
    cp = None
    if cp_note is not None:
        try:
            cp = verify_checkpoint(cp_note, [parse_verifier_key(k) for k in keys], org=org,
                                   trust_unsigned=trust_unsigned)
        except Err as x:
            return dict(verdict=("error", x.code), msg=x.msg)
    r = verify_chain(log, cp)
    f = r["failure"]
    return dict(verdict=("ok",) if r["chain_valid"] else ("fail", f[1], f[0]),
                through=r["verified_through_row"], chain_hash=r["chain_hash"],
                broken=entry_id(f[0]) if f else None, msg=f and f[2])


# al's PROOF_INVALID JSON has a free-text `reason`, not the check name of A§6;
# these patterns map the reasons seen to the check names.
REASON_CHECK = [
    (r"does not name row", "entry_id"),
    (r"leaf_index|leaf_hash", "leaf"),
    (r"proof is for org", "org"),
    (r"proof refers to size", "checkpoint"),
    (r"path has \d+ hash", "path_length"),
    (r"leads to first root", "first_root"),
    (r"leads to (second )?root", "root"),
    (r"not below the tree size", "index"),
    (r"are not 1 <= first <= second", "size_order"),
    (r"size (is )?0|empty tree", "size_zero"),
    (r"equal|same size", "equal_sizes"),
]


def reason_check(reason):
    for pat, chk in REASON_CHECK:
        if re.search(pat, reason or ""):
            return chk
    return "?" + (reason or "")


def al_proof(al, proof_bytes, cp_note, keys, trust_unsigned=False):
    args = ["proof", "verify", "--format", "json", "--checkpoint", al.file(cp_note, ".cp")]
    for k in keys:
        args += ["--key", k]
    if trust_unsigned:
        args += ["--trust-unsigned"]
    rc, out, code, err = al.run(*args, al.file(proof_bytes, ".json"))
    if rc == 0 and out and out.get("valid"):
        return ("ok",), ""
    if rc == 1 and out:
        return ("fail", out.get("code"), reason_check(out.get("reason"))), out.get("reason")
    return ("error", code), err.strip()[:300]


def my_proof(proof_bytes, cp_note, keys, trust_unsigned=False):
    try:
        cp = verify_checkpoint(cp_note, [parse_verifier_key(k) for k in keys], trust_unsigned=trust_unsigned)
        p = read_proof(proof_bytes)
    except Err as x:
        return ("error", x.code), x.msg
    try:
        verify_proof(p, cp)
        return ("ok",), ""
    except Err as x:
        return ("fail", x.code, x.check), x.msg


def al_checkpoint(al, note, keys, org=None):
    args = ["checkpoint", "verify", "--format", "json"]
    for k in keys:
        args += ["--key", k]
    if org:
        args += ["--org", org]
    rc, out, code, err = al.run(*args, al.file(note, ".cp"))
    if rc == 0 and out:
        return ("ok", out.get("org_id"), out.get("size"), out.get("root"), out.get("head_hash"), out.get("timestamp")), ""
    return ("error", code), err.strip()[:300]


def my_checkpoint(note, keys, org=None):
    try:
        cp = verify_checkpoint(note, [parse_verifier_key(k) for k in keys], org=org)
        return ("ok", cp["org_id"], cp["size"], cp["root"], cp["head_hash"], cp["timestamp"]), ""
    except Err as x:
        return ("error", x.code), x.msg


# ---------------------------------------------------------------------------
# Building hostile logs
# ---------------------------------------------------------------------------
def jdump(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def write_line(d):
    """The writer's layout (A§3): header, fields sorted by UTF-8 bytes, prev_hash, hash."""
    parts = [f'"{k}":{jdump(d[k])}' for k in ("row", "id", "kind", "agent_id", "timestamp")]
    fields = sorted((k for k in d if k not in HEADER), key=lambda k: k.encode())
    parts += [f"{jdump(k)}:{jdump(d[k])}" for k in fields]
    parts += [f'"prev_hash":{jdump(d["prev_hash"])}', f'"hash":{jdump(d["hash"])}']
    return "{" + ",".join(parts) + "}"


def rehash(d):
    fields = {k: v for k, v in d.items() if k not in HEADER}
    b = encode_entry(d["row"], d["kind"], d["agent_id"], parse_canonical_ts(d["timestamp"]), fields,
                     bytes.fromhex(d["prev_hash"]))
    d["hash"] = hashlib.sha256(b).hexdigest()


def rechain(objs, start):
    for i in range(start, len(objs)):
        if i > 0:
            objs[i]["prev_hash"] = objs[i - 1]["hash"]
        rehash(objs[i])


def join(lines, final_nl=True):
    return ("\n".join(lines) + ("\n" if final_nl and lines else "")).encode()


def escape_some(s, rng):
    """Re-spell a JSON string literal's characters with \\u escapes (A§3 re-formattings)."""
    out = []
    for ch in s:
        if ch.isalnum() and rng.random() < 0.3 and ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch) if rng.random() < 0.5 else "\\u%04X" % ord(ch))
        elif ch == "/" and rng.random() < 0.5:
            out.append("\\/")
        else:
            out.append(ch)
    return "".join(out)


def log_mutations(lines, rng):
    """Yields (kind, description, log bytes). Deterministic for a seeded rng."""
    objs0 = [strict_json(l.encode(), 32) for l in lines]
    n = len(lines)

    def objs():
        return [dict(o) for o in json.loads(json.dumps(objs0))]  # deep copy keeps int/float (json round trip)

    yield "identity", "unchanged", join(lines)
    yield "no-final-newline", "last line without \\n", join(lines, False)
    yield "empty-file", "empty file", b""
    yield "only-newline", "a single \\n", b"\n"
    for _ in range(6):
        k = rng.randrange(n)
        os_ = objs()
        fld = rng.choice(["status", "metadata", "action_type", "policy_version", "agent_id", "timestamp"])
        d = os_[k]
        if fld == "metadata" and isinstance(d.get("metadata"), dict):
            d["metadata"]["n"] = 12345
        elif fld == "agent_id":
            d["agent_id"] = None if d["agent_id"] else "agt_x"
        elif fld == "timestamp":
            d["timestamp"] = format_ts(parse_canonical_ts(d["timestamp"]) + 1)
        elif fld in d and isinstance(d[fld], str):
            d[fld] = {"status": "denied" if d[fld] != "denied" else "executed"}.get(fld, d[fld] + "x")
        else:
            d["extra_field"] = 1
        L = list(lines)
        L[k] = write_line(d)
        yield "edit-keep-hash", f"row {k+1}: {fld} edited, stored hash kept", join(L)
        rehash(d)
        L[k] = write_line(d)
        yield "edit-rehash", f"row {k+1}: {fld} edited, its hash recomputed", join(L)
        rechain(os_, k)
        yield "edit-rechain", f"row {k+1}: {fld} edited, all later hashes recomputed", join([write_line(o) for o in os_])
    for _ in range(4):
        k = rng.randrange(n)
        yield "delete", f"row {k+1} deleted", join(lines[:k] + lines[k + 1:])
        k = rng.randrange(n)
        yield "duplicate", f"row {k+1} duplicated", join(lines[:k + 1] + lines[k:])
        a, b = sorted(rng.sample(range(n), 2))
        L = list(lines)
        L.insert(b, L.pop(a))
        yield "move", f"row {a+1} moved after row {b+1}", join(L)
        L = list(lines)
        L[a], L[b] = L[b], L[a]
        yield "swap", f"rows {a+1} and {b+1} swapped", join(L)
    k = rng.randrange(1, n)
    os_ = objs()
    del os_[k]
    for i in range(k, len(os_)):
        os_[i]["row"] -= 1
        os_[i]["id"] = entry_id(os_[i]["row"])
    rechain(os_, k)
    yield "delete-rechain", f"row {k+1} deleted, later rows renumbered and rehashed", join([write_line(o) for o in os_])
    # blank lines (A§3 rule 1)
    for _ in range(3):
        k = rng.randrange(n + 1)
        blank = rng.choice(["", " ", "\t", "\r", " \t \r"])
        yield "blank-line", f"blank line {blank!r} before line {k+1}", join(lines[:k] + [blank] + lines[k:])
    yield "blank-at-end", "file ends with \\n\\n", join(lines) + b"\n"
    yield "crlf", "CRLF line ends", join([l + "\r" for l in lines])
    yield "trailing-space", "trailing spaces and tabs", join([l + " \t" for l in lines])
    # re-formattings that keep the entry (A§3 "Re-formattings")
    for _ in range(8):
        k = rng.randrange(n)
        d = objs0[k]
        keys = list(d)
        rng.shuffle(keys)
        sp = rng.choice(["", " ", "\t", " \r "])
        text = "{" + ("," + sp).join(f"{sp}{jdump(kk)}{sp}:{sp}{jdump(d[kk])}" for kk in keys) + "}"
        L = list(lines)
        L[k] = text
        yield "reorder-whitespace", f"row {k+1}: members shuffled, whitespace {sp!r}", join(L)
        L[k] = re.sub(r'"((?:[^"\\]|\\.)*)"', lambda m: '"' + escape_some(m.group(1), rng) + '"', lines[k])
        yield "escapes", f"row {k+1}: characters re-spelled as \\u escapes", join(L)
    for k in range(n):
        if '"f":0.5' in lines[k]:
            for alt in ("5e-1", "0.50", "50E-2", "0.5e0", "5.0e-1"):
                L = list(lines)
                L[k] = lines[k].replace('"f":0.5', '"f":' + alt)
                yield "float-respell", f"row {k+1}: 0.5 written {alt}", join(L)
            break
    for k in range(n):
        if '"n":0' in lines[k] or '"neg":-1' in lines[k]:
            L = list(lines)
            L[k] = lines[k].replace('"n":0,', '"n":-0,')
            yield "neg-zero", f"row {k+1}: 0 written -0", join(L)
            L[k] = lines[k].replace('"n":0,', '"n":0.0,')
            yield "int-to-float", f"row {k+1}: 0 written 0.0 (class change)", join(L)
            L[k] = lines[k].replace('"n":0,', '"n":-0.0,')
            yield "neg-zero-float", f"row {k+1}: 0 written -0.0", join(L)
            break
    for k in rng.sample(range(n), 3):
        if '"policy_version":1' in lines[k]:
            L = list(lines)
            L[k] = lines[k].replace('"policy_version":1', '"policy_version":1.0')
            yield "one-to-one-point-zero", f"row {k+1}: policy_version 1 written 1.0", join(L)
            os_ = objs()
            os_[k]["policy_version"] = 1.0
            rehash(os_[k])
            L[k] = write_line(os_[k]).replace('"policy_version":1.0', '"policy_version":1.0')
            yield "float-rehash", f"row {k+1}: policy_version 1.0 with hash recomputed", join(L)
        L = list(lines)
        L[k] = lines[k].replace('"row":%d,' % (k + 1), '"row":%d.0,' % (k + 1))
        yield "row-float", f"row {k+1}: row written as a float", join(L)
        L[k] = lines[k].replace('"row":%d,' % (k + 1), '"row":%de0,' % (k + 1))
        yield "row-exp", f"row {k+1}: row written with an exponent", join(L)
    # repeated keys (A§3 rule 4)
    for _ in range(4):
        k = rng.randrange(n)
        L = list(lines)
        L[k] = lines[k][:-1] + ',"kind":"action"}'
        yield "dup-top", f"row {k+1}: kind repeated", join(L)
        L[k] = lines[k].replace('"row":', '"r\\u006fw":%d,"row":' % (k + 1), 1)
        yield "dup-escaped", f"row {k+1}: row repeated as r\\u006fw", join(L)
        if '"data_accessed":[{' in lines[k]:
            L[k] = lines[k].replace('"data_accessed":[{', '"data_accessed":[{"type":"x",', 1)
            yield "dup-deep", f"row {k+1}: type repeated inside data_accessed", join(L)
        L[k] = lines[k][:-1] + ',"kind":"action"} x'
        yield "dup-and-trailing", f"row {k+1}: kind repeated and trailing text", join(L)
    # nesting (A§1 Nesting, A§3 rule 5)
    for depth in (30, 31, 32, 33):
        k = rng.randrange(n)
        os_ = objs()
        v = 1
        for _ in range(depth):
            v = [v]
        os_[k]["deep"] = v
        rechain(os_, k)
        yield f"deep-{depth}", f"row {k+1}: a field nested {depth} brackets, hashes recomputed", join([write_line(o) for o in os_])
    k = rng.randrange(n)
    L = list(lines)
    L[k] = lines[k][:-1] + ',"deep":' + "[" * 40 + "1" + "]" * 40 + ',"kind":"x"}'
    yield "deep-and-dup", f"row {k+1}: 40 brackets deep then a repeated key", join(L)
    L[k] = lines[k][:-1] + ',"kind":"x","deep":' + "[" * 40 + "1" + "]" * 40 + "}"
    yield "dup-and-deep", f"row {k+1}: a repeated key then 40 brackets", join(L)
    # numbers at the edges (A§2 Numbers)
    for lit in ("18446744073709551615", "18446744073709551616", "-9223372036854775808",
                "-9223372036854775809", "1e400", "-1e400", "1e-400", "4.9e-324", "1.7976931348623157e308",
                "00", "01", "1.", ".5", "+1", "0x10", "Infinity", "-NaN", "1E2", "-0e0"):
        k = rng.randrange(n)
        L = list(lines)
        L[k] = lines[k][:-1] + ',"num":' + lit + "}"
        yield "number-" + lit, f"row {k+1}: field num = {lit} appended (hash kept)", join(L)
        try:
            v = strict_json(lit.encode(), 32)
            if I64_MIN <= (v if is_int(v) else 0) <= U64_MAX:
                os_ = objs()
                os_[k]["num"] = v
                rechain(os_, k)
                L = [write_line(o) for o in os_]
                L[k] = L[k].replace('"num":' + jdump(v), '"num":' + lit)
                yield "number-rehash-" + lit, f"row {k+1}: num = {lit}, hashes recomputed", join(L)
        except Err:
            pass
    # header rules (A§3 rule 6)
    k = rng.randrange(n)
    hdr = [("id-upper", '"id":"evt_%016X"' % (k + 1)), ("kind-case", None), ("agent-num", '"agent_id":7'),
           ("ts-offset", None), ("ts-lower", None), ("ts-000", None), ("hash-upper", None), ("prev-short", None),
           ("missing-hash", None), ("not-object", None), ("row-zero", None), ("row-neg", None)]
    for name, _ in hdr:
        L = list(lines)
        l = lines[k]
        d = objs0[k]
        if name == "id-upper":
            l = l.replace('"id":"%s"' % d["id"], '"id":"evt_%016X"' % (k + 11))
        elif name == "kind-case":
            l = l.replace('"kind":"%s"' % d["kind"], '"kind":"%s"' % d["kind"].upper())
        elif name == "agent-num":
            l = re.sub(r'"agent_id":(null|"[^"]*")', '"agent_id":7', l)
        elif name == "ts-offset":
            l = l.replace(d["timestamp"], d["timestamp"][:-1] + "+00:00")
        elif name == "ts-lower":
            l = l.replace(d["timestamp"], d["timestamp"].replace("T", "t"))
        elif name == "ts-000":
            l = l.replace(d["timestamp"], d["timestamp"][:-1] + ".000Z" if "." not in d["timestamp"] else d["timestamp"][:-1] + "0Z")
        elif name == "hash-upper":
            l = l.replace(d["hash"], d["hash"].upper())
        elif name == "prev-short":
            l = l.replace('"prev_hash":"' + d["prev_hash"], '"prev_hash":"' + d["prev_hash"][:-2])
        elif name == "missing-hash":
            l = l.replace(',"hash":"%s"' % d["hash"], "")
        elif name == "not-object":
            l = "[" + l + "]"
        elif name == "row-zero":
            l = l.replace('"row":%d,' % (k + 1), '"row":0,')
        elif name == "row-neg":
            l = l.replace('"row":%d,' % (k + 1), '"row":-1,')
        L[k] = l
        yield "header-" + name, f"row {k+1}: {name}", join(L)
    # kind rules with recomputed hashes (A§1 Kinds, rule 7)
    for k in range(n):
        d = objs0[k]
        os_ = objs()
        if d["kind"] == "action":
            for mut in ("no-status", "bad-status", "type-int", "event-id-int", "policy_not_found"):
                os_ = objs()
                e = os_[k]
                if mut == "no-status":
                    del e["status"]
                elif mut == "bad-status":
                    e["status"] = "Executed"
                elif mut == "type-int":
                    e["action_type"] = 5
                elif mut == "event-id-int":
                    e["event_id"] = 5
                else:
                    e["status"] = "policy_not_found"
                rechain(os_, k)
                yield "action-" + mut, f"row {k+1}: action {mut}, hashes recomputed", join([write_line(o) for o in os_])
            break
    for k in range(n):
        if objs0[k]["kind"] == "outcome":
            for mut, val in (("aid-zero", "evt_0000000000000000"), ("aid-upper", "evt_000000000000000A"),
                             ("aid-short", "evt_1"), ("aid-future", "evt_00000000000000ff")):
                os_ = objs()
                os_[k]["audit_event_id"] = val
                rechain(os_, k)
                yield "outcome-" + mut, f"row {k+1}: audit_event_id {val}, hashes recomputed", join([write_line(o) for o in os_])
            os_ = objs()
            os_[k]["status"] = "executed"
            rechain(os_, k)
            yield "outcome-status", f"row {k+1}: outcome status executed", join([write_line(o) for o in os_])
            break
    # outcome entries (log.jsonl has none): row k turned into an outcome, rehashed
    k = rng.randrange(1, n)
    for mut, val, st in (("valid", "evt_0000000000000001", "success"), ("aid-zero", "evt_0000000000000000", "success"),
                         ("aid-upper", "evt_000000000000000A", "failure"), ("aid-short", "evt_1", "partial"),
                         ("aid-forward", "evt_00000000000000ff", "partial"), ("status", "evt_0000000000000001", "executed"),
                         ("aid-int", 1, "success")):
        os_ = objs()
        e = os_[k]
        for f in [f for f in e if f not in HEADER]:
            del e[f]
        e.update(kind="outcome", audit_event_id=val, status=st, message="m")
        rechain(os_, k)
        yield "outcome-" + mut, f"row {k+1} made an outcome: audit_event_id {val!r}, status {st}, rehashed", join([write_line(o) for o in os_])
    # timestamp range and edges, hashes recomputed (A§1 timestamp, A§3)
    for ts in ("0001-01-01T00:00:00Z", "0000-12-31T23:59:59Z", "9999-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z",
               "2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2025-11-28T24:00:00Z", "2025-11-28T23:59:60Z"):
        k = rng.randrange(n)
        os_ = objs()
        ms = parse_canonical_ts(ts)
        if ms is None:
            L = list(lines)
            L[k] = lines[k].replace(objs0[k]["timestamp"], ts)
            yield "ts-" + ts, f"row {k+1}: timestamp {ts}", join(L)
        else:
            os_[k]["timestamp"] = ts
            rechain(os_, k)
            yield "ts-" + ts, f"row {k+1}: timestamp {ts}, hashes recomputed", join([write_line(o) for o in os_])
    # bytes that are not JSON / not UTF-8 (A§3 rule 3)
    for name, frag in (("lone-surrogate", '"\\ud800"'), ("pair", '"\\ud83d\\ude00"'), ("raw-tab", '"a\tb"'),
                       ("bad-escape", '"\\x"'), ("comment", "1 /* c */"), ("single-quote", "'a'")):
        k = rng.randrange(n)
        L = list(lines)
        L[k] = lines[k][:-1] + ',"s2":' + frag + "}"
        yield "json-" + name, f"row {k+1}: field s2 = {frag}", join(L)
    k = rng.randrange(n)
    raw = join(lines)
    for name, bad in (("invalid-utf8", b"\xff"), ("overlong", b"\xc0\xaf"), ("encoded-surrogate", b"\xed\xa0\x80")):
        pos = raw.find(b"agt_")
        yield "bytes-" + name, f"byte(s) {bad!r} inserted in an agent id", raw[:pos] + bad + raw[pos:]
    yield "two-objects", "two entries on one line", join(lines[:2] + [lines[2] + lines[3]] + lines[4:])
    yield "bom", "a UTF-8 BOM before the first line", b"\xef\xbb\xbf" + join(lines)
    # truncated tails
    for _ in range(6):
        cut = rng.randrange(1, len(raw))
        yield "truncate", f"file cut at byte {cut}", raw[:cut]
    for m in rng.sample(range(1, n), 3):
        yield "truncate-lines", f"only the first {m} lines", join(lines[:m])
    # a line longer than 8 MiB, and canonical bytes just over 1 MiB (A§1 Size, A§3 rule 2)
    os_ = objs()
    os_[0]["big"] = "x" * (MiB - 200)
    rechain(os_, 0)
    size0 = len(encode_entry(1, os_[0]["kind"], os_[0]["agent_id"], parse_canonical_ts(os_[0]["timestamp"]),
                             {k: v for k, v in os_[0].items() if k not in HEADER}, ZERO32))
    for extra in (MiB - size0, MiB - size0 + 1):
        os_ = objs()
        os_[0]["big"] = "x" * (MiB - 200 + extra)
        rechain(os_, 0)
        yield f"size-{'1MiB' if extra == MiB - size0 else '1MiB+1'}", f"row 1 canonical bytes {size0 + extra}, hashes recomputed", join([write_line(o) for o in os_])
    L = list(lines)
    L[0] = lines[0][:-1] + "," + " " * (8 * MiB) + '"pad":1}'
    yield "line-over-8MiB", "row 1 padded with spaces past 8 MiB", join(L)


def checkpoint_variants(leaves, heads, signer, rng):
    """Yields (kind, description, note bytes, log_should_use) for A§5."""
    name, kid, seed = signer
    other_seed = bytes(range(32))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    other_pub = Ed25519PrivateKey.from_private_bytes(other_seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    other_id = key_id(name, other_pub)

    def cp(size, org="acme", root=None, head=None, ts="2025-11-28T13:00:00Z"):
        return dict(org_id=org, size=size, root=root or mth(leaves[:size]).hex(),
                    head_hash=head or (heads[size - 1] if 0 < size <= len(heads) else "0" * 64), timestamp=ts)

    for s in (0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 20):
        yield "size", f"signed checkpoint of size {s}", make_note(cp(s), [signer])
    for s in (1, 5, 16):
        yield "wrong-root", f"size {s}, signed, another root", make_note(cp(s, root="11" * 32), [signer])
        yield "wrong-head", f"size {s}, signed, head of another row", make_note(cp(s, head=heads[s % 16 - 1 if s > 1 else 5]), [signer])
    yield "zero-wrong-root", "size 0 with a non-empty root", make_note(cp(0, root="22" * 32), [signer])
    yield "zero-wrong-head", "size 0 with a non-zero head", make_note(cp(0, head=heads[0]), [signer])
    good = make_note(cp(16), [signer])
    body = good.decode().split("\n\n")[0] + "\n"
    yield "unsigned", "the bare body", body.encode()
    yield "unsigned-blank", "the body and a blank line, no signatures", (body + "\n").encode()
    yield "org-globex", "signed for org globex", make_note(cp(16, org="globex"), [signer])
    yield "unknown-key", "signed by another key of the same name (other id)", make_note(cp(16), [(name, other_id, other_seed)])
    yield "forged-id", "signed by another key claiming the trusted id", make_note(cp(16), [(name, kid, other_seed)])
    yield "two-sigs", "an unknown signature then the trusted one", make_note(cp(16), [(name, other_id, other_seed), signer])
    yield "two-sigs-one-bad", "the trusted one and a forged one with the trusted id", make_note(cp(16), [signer, (name, kid, other_seed)])
    yield "other-name", "signed by the trusted key under another name", make_note(cp(16), [("example.com/other", key_id("example.com/other", b"") , seed)])
    t = good.decode()
    sig = t.split(" ")[-1].strip()
    raw = base64.b64decode(sig)
    for i in (4, 20, 67):
        flipped = base64.b64encode(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:]).decode()
        yield "bad-sig", f"signature byte {i} flipped", t.replace(sig, flipped).encode()
    yield "short-sig", "trusted key id with a 63-byte signature", t.replace(sig, base64.b64encode(raw[:-1]).decode()).encode()
    yield "sig-4-bytes", "signature base64 of exactly 4 bytes", t.replace(sig, base64.b64encode(raw[:4]).decode()).encode()
    yield "sig-no-pad", "signature base64 without padding", t.replace(sig, sig.rstrip("=")).encode()
    yield "sig-line-garbage", "a garbage line after the signature", (t + "signature: 00ff\n").encode()
    yield "sig-no-final-nl", "signature line without final newline", t.rstrip("\n").encode()
    yield "sig-hyphen", "signature line with '-' instead of the em dash", t.replace(EM, "-").encode()
    yield "sig-name-plus", "signature key name containing '+'", t.replace(EM + " " + name, EM + " a+b").encode()
    yield "sig-double-space", "two spaces after the em dash", t.replace(EM + " ", EM + "  ").encode()
    yield "101-sigs", "101 signature lines (unknown keys)", (t + (EM + " x " + base64.b64encode(bytes(68)).decode() + "\n") * 100).encode()
    yield "100-sigs", "100 signature lines", (t + (EM + " x " + base64.b64encode(bytes(68)).decode() + "\n") * 99).encode()
    yield "crlf", "CRLF line ends", t.replace("\n", "\r\n").encode()
    yield "two-blank", "two blank lines before the signatures", t.replace("\n\n", "\n\n\n").encode()
    yield "control", "a control character in the origin", make_note(cp(16, org="ac\x01me"), [signer])
    for org in ("acme corp", "ac+me", "", "acme\u00a0x", "example.com/acme", "Acme"):
        yield "origin", f"origin {org!r}", make_note(cp(16, org=org), [signer])
    b = body.split("\n")
    for i, repl, why in ((1, "016", "size 016"), (1, "+16", "size +16"), (1, "16 ", "size with a space"),
                         (1, "18446744073709551616", "size 2^64"),
                         (2, b[2][:-2] + "Q=", "root base64 with non-zero padding bits"),
                         (2, b[2].rstrip("="), "root base64 without padding"),
                         (2, base64.b64encode(bytes.fromhex(mth(leaves).hex())[:31]).decode(), "root of 31 bytes"),
                         (3, b[3].upper().replace("HEAD_HASH", "head_hash"), "uppercase head hash"),
                         (3, b[3].replace(": ", ":"), "head_hash without the space"),
                         (4, "timestamp: 2025-11-28T13:00:00.000Z", "timestamp .000"),
                         (4, "timestamp: 2025-11-28T14:00:00+01:00", "timestamp with an offset"),
                         (4, "timestamp: 2025-11-28T13:00:00.5Z", "timestamp one fraction digit")):
        bb = list(b)
        bb[i] = repl
        nb = "\n".join(bb)
        sigl = f"{EM} {name} {base64.b64encode(kid + ed25519_sign(seed, nb.encode())).decode()}\n"
        yield "body", why + " (signed)", (nb + "\n" + sigl).encode()
    nb = body + "extra: 1\n"
    yield "body-6-lines", "a sixth body line (signed)", (nb + "\n" + f"{EM} {name} {base64.b64encode(kid + ed25519_sign(seed, nb.encode())).decode()}\n").encode()
    yield "old-format", "the old text format", b"agentlattice checkpoint v1\norg_id: acme\n"
    yield "not-utf8", "invalid UTF-8 in the origin", good.replace(b"acme", b"ac\xffe", 1)


def proof_variants(leaves, heads, rng):
    """Yields (kind, description, proof bytes) for A§6, against the size-16 checkpoint."""
    cp = dict(org_id="acme", size=16, root=mth(leaves).hex(), head_hash=heads[-1], timestamp="2025-11-28T13:00:00Z")

    def incl(row):
        return dict(type="inclusion", checkpoint=dict(cp), row=row, entry_id=entry_id(row), entry_hash=heads[row - 1],
                    leaf_index=row - 1, leaf_hash=leaves[row - 1].hex(),
                    path=[h.hex() for h in inclusion_path(row - 1, leaves)])

    def cons(first):
        return dict(type="consistency", first=dict(size=first, root=mth(leaves[:first]).hex()), checkpoint=dict(cp),
                    path=[h.hex() for h in consistency_path(first, leaves)])

    for row in (1, 2, 3, 8, 9, 16):
        yield "incl-valid", f"inclusion of row {row}", jdump(incl(row)).encode()
    for first in (1, 2, 3, 4, 7, 8, 15, 16):
        yield "cons-valid", f"consistency from {first}", jdump(cons(first)).encode()
    for _ in range(12):
        row = rng.randrange(1, 17)
        p = incl(row)
        m = rng.choice(["drop", "add", "flip", "empty", "upper", "row+1", "index", "org", "size", "root",
                        "entry_hash", "swap"])
        if m == "drop" and p["path"]:
            p["path"].pop(rng.randrange(len(p["path"])))
        elif m == "add":
            p["path"].insert(rng.randrange(len(p["path"]) + 1), "ab" * 32)
        elif m == "flip" and p["path"]:
            i = rng.randrange(len(p["path"]))
            p["path"][i] = ("0" if p["path"][i][0] != "0" else "1") + p["path"][i][1:]
        elif m == "empty":
            p["path"].insert(0, "")
        elif m == "upper":
            p["entry_hash"] = p["entry_hash"].upper()
        elif m == "row+1":
            p["row"] += 1
            p["entry_id"] = entry_id(p["row"])
        elif m == "index":
            p["leaf_index"] += 1
        elif m == "org":
            p["checkpoint"]["org_id"] = "globex"
        elif m == "size":
            p["checkpoint"]["size"] = 15
        elif m == "root":
            p["checkpoint"]["root"] = "00" * 32
        elif m == "entry_hash":
            p["entry_hash"] = heads[row % 16]
            p["leaf_hash"] = leaf_hash(bytes.fromhex(p["entry_hash"])).hex()
        elif m == "swap" and len(p["path"]) > 1:
            p["path"][0], p["path"][1] = p["path"][1], p["path"][0]
        yield "incl-" + m, f"inclusion of row {row}, mutation {m}", jdump(p).encode()
    for _ in range(10):
        first = rng.randrange(1, 17)
        p = cons(first)
        m = rng.choice(["drop", "add", "flip", "first-root", "first+1", "first0", "first17", "equal-nonempty"])
        if m == "drop" and p["path"]:
            p["path"].pop()
        elif m == "add":
            p["path"].append("cd" * 32)
        elif m == "flip" and p["path"]:
            p["path"][-1] = "ef" * 32
        elif m == "first-root":
            p["first"]["root"] = "00" * 32
        elif m == "first+1":
            p["first"]["size"] = min(first + 1, 16)
        elif m == "first0":
            p["first"] = dict(size=0, root=H(b"").hex())
        elif m == "first17":
            p["first"]["size"] = 17
        elif m == "equal-nonempty":
            p = cons(16)
            p["path"] = ["ab" * 32]
        yield "cons-" + m, f"consistency from {first}, mutation {m}", jdump(p).encode()
    p = cons(16)
    p["first"]["root"] = "00" * 32
    yield "cons-equal-other-root", "consistency 16 to 16 with another first root", jdump(p).encode()
    # edge values in the file (A§6 reading rules)
    p = incl(3)
    t = jdump(p)
    edits = {
        "extra-member": t[:-1] + ',"extra":1}',
        "missing-member": t.replace(',"leaf_hash":"%s"' % p["leaf_hash"], ""),
        "dup-key": t[:-1] + ',"row":3}',
        "dup-key-nested": t.replace('"checkpoint":{', '"checkpoint":{"size":16,'),
        "size-float": t.replace('"size":16', '"size":16.0'),
        "row-float": t.replace('"row":3', '"row":3.0'),
        "row-neg": t.replace('"row":3', '"row":-3'),
        "row-2^64": t.replace('"row":3', '"row":18446744073709551616'),
        "row-zero": t.replace('"row":3', '"row":0').replace(p["entry_id"], entry_id(0)),
        "ts-noncanonical": t.replace("13:00:00Z", "13:00:00.000Z"),
        "ts-offset": t.replace("13:00:00Z", "14:00:00+01:00"),
        "type-upper": t.replace('"inclusion"', '"Inclusion"'),
        "type-missing": t.replace('"type":"inclusion",', ""),
        "path-not-list": t.replace('"path":[', '"path":{"x":[').replace("],", "]},", 1) if False else t.replace('"path":[', '"path":"').replace('"],', '",', 1),
        "deep-9": t[:-1] + ',"x":' + "[" * 8 + "]" * 8 + "}",
        "deep-path": t.replace('"path":[', '"path":' + "[" * 8, 1),
        "trailing": t + " x",
        "whitespace": json.dumps(p, indent=3),
        "escaped-keys": t.replace('"row"', '"r\\u006fw"'),
        "checkpoint-extra": t.replace('"checkpoint":{', '"checkpoint":{"extra":1,'),
        "entry-id-upper": t.replace(p["entry_id"], p["entry_id"].upper()),
        "not-object": "[" + t + "]",
        "bom": "\ufeff" + t,
        "too-large": t[:-1] + ',"pad":"' + "x" * MiB + '"}',
        "too-large-ws": t + " " * MiB,
    }
    for m, txt in edits.items():
        yield "file-" + m, f"inclusion of row 3: {m}", txt.encode()
    q = cons(7)
    t = jdump(q)
    for m, txt in {"first-extra": t.replace('"first":{', '"first":{"x":1,'),
                   "first-missing-root": t.replace(',"root":"%s"' % q["first"]["root"], "", 1),
                   "cons-with-row": t[:-1] + ',"row":3}'}.items():
        yield "file-" + m, f"consistency from 7: {m}", txt.encode()


def key_variants(trusted_text, seed):
    name, hid, b64 = trusted_text.split("+")
    pub = base64.b64decode(b64)[1:]
    yield "key-valid", trusted_text, None
    yield "key-wrong-id", f"{name}+00000000+{b64}", "INVALID_KEY"
    t2 = base64.b64encode(b"\x02" + pub).decode()
    short = base64.b64encode(b"\x01" + pub[:31]).decode()
    yield "key-type-2", f"{name}+{hid}+{t2}", "INVALID_KEY"
    yield "key-short", f"{name}+{hid}+{short}", "INVALID_KEY"
    yield "key-bad-b64", f"{name}+{hid}+{b64[:-1]}*", "INVALID_KEY"
    yield "key-upper-id", f"{name}+{hid.upper()}+{b64}", None
    for so in ("0100000000000000000000000000000000000000000000000000000000000000",
               "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
               "0000000000000000000000000000000000000000000000000000000000000000",
               "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"):
        p = bytes.fromhex(so)
        kb = base64.b64encode(b"\x01" + p).decode()
        yield "key-small-order", f"{name}+{key_id(name, p).hex()}+{kb}", "INVALID_KEY"


def diff_audit(rep, al, rng, leaves, limit, dump):
    A = "audit-vs-al"
    lines = [l.decode() for l in split_lines(rd(os.path.join(AUD, "log.jsonl")))]
    heads = [json.loads(l)["hash"] for l in lines]
    keytext = rd(os.path.join(AUD, "test.pub")).decode().strip()
    signer = parse_signer_key(rd(os.path.join(AUD, "test.key")).decode())
    cp_good = rd(os.path.join(AUD, "checkpoint.txt"))
    seen = {}

    def record(did, desc, mine, theirs, inputs):
        if mine == theirs:
            rep.ok(A)
            return
        seen[did] = seen.get(did, 0) + 1
        detail = f"{desc}: doc/mine {mine} vs al {theirs}"
        if dump and seen[did] <= 2:
            d = os.path.join(dump, f"{did.replace(':', '_').replace('/', '_')}-{seen[did]}")
            os.makedirs(d, exist_ok=True)
            for nm, data in inputs.items():
                with open(os.path.join(d, nm), "wb") as f:
                    f.write(data if isinstance(data, bytes) else data.encode())
            detail += f" [inputs in {d}]"
        rep.bad(A, did, detail)

    def cmp_verify(kind, desc, log, **kw):
        m = my_verify(log, **kw)
        a = al_verify(al, log, **kw)
        inputs = {"log.jsonl": log}
        if kw.get("cp_note") is not None:
            inputs["checkpoint.txt"] = kw["cp_note"]
        tag = "verify+cp" if kw.get("cp_note") is not None else "verify"
        record(f"audit-diff:{tag}:{kind}", desc + (f" (al says: {a.get('msg')})" if m["verdict"] != a["verdict"] else ""),
               m["verdict"], a["verdict"], inputs)
        if m["verdict"] == a["verdict"] and m["verdict"][0] != "error":
            record(f"audit-diff:{tag}-fields:{kind}", desc + " (verified_through_row, chain_hash, first_broken_at_row_id)",
                   (m["through"], m["chain_hash"], m["broken"]), (a["through"], a["chain_hash"], a["broken"]), inputs)

    muts = list(log_mutations(lines, rng))
    if limit:
        muts = muts[:limit]
    for i, (kind, desc, log) in enumerate(muts):
        cmp_verify(kind, desc, log)
        if i % 2 == 0 or kind.startswith(("edit", "delete", "trunc", "dup", "identity")):
            cmp_verify(kind, desc + " [against checkpoint.txt]", log, cp_note=cp_good, keys=[keytext])
    ncp = 0
    for kind, desc, note in checkpoint_variants(leaves, heads, signer, rng):
        ncp += 1
        m, mm = my_checkpoint(note, [keytext])
        a, am = al_checkpoint(al, note, [keytext])
        record(f"audit-diff:checkpoint:{kind}", f"{desc} (mine: {mm}; al: {am})", m, a, {"checkpoint.txt": note})
        m, mm = my_checkpoint(note, [keytext], org="acme")
        a, am = al_checkpoint(al, note, [keytext], org="acme")
        record(f"audit-diff:checkpoint-org:{kind}", f"{desc}, --org acme (mine: {mm}; al: {am})", m, a, {"checkpoint.txt": note})
        log = rd(os.path.join(AUD, "log.jsonl"))
        cmp_verify("cp-" + kind, f"log.jsonl against: {desc}", log, cp_note=note, keys=[keytext])
        if kind in ("unsigned", "unknown-key", "bad-sig", "org-globex", "size", "forged-id"):
            cmp_verify("cp-trust-unsigned-" + kind, f"log.jsonl against: {desc}, --trust-unsigned", log,
                       cp_note=note, keys=[keytext], trust_unsigned=True)
        if kind == "org-globex":
            cmp_verify("cp-org-" + kind, f"log.jsonl --org acme against: {desc}", log, cp_note=note, keys=[keytext], org="acme")
    for kind, ktext, _ in key_variants(keytext, signer[2]):
        m, mm = my_checkpoint(cp_good, [ktext])
        a, am = al_checkpoint(al, cp_good, [ktext])
        record(f"audit-diff:key:{kind}", f"checkpoint.txt with --key {ktext} (mine: {mm}; al: {am})", m, a, {"key": ktext})
    for kind, desc, proof in proof_variants(leaves, heads, rng):
        m, mm = my_proof(proof, cp_good, [keytext])
        a, am = al_proof(al, proof, cp_good, [keytext])
        record(f"audit-diff:proof:{kind}", f"{desc} (mine: {mm}; al: {am})", m, a, {"proof.json": proof})
    # `al prove` writes the proofs of RFC 9162 (A§4, A§6)
    log = os.path.join(AUD, "log.jsonl")
    for row in (1, 5, 16):
        rc, out, code, err = al.run("prove", "inclusion", "--format", "json", "--org", "acme", "--row", str(row), log)
        exp = [h.hex() for h in inclusion_path(row - 1, leaves)]
        record("audit-diff:prove-inclusion", f"al prove inclusion --row {row}", exp, out and out.get("path"), {})
    for first in (1, 6, 16):
        rc, out, code, err = al.run("prove", "consistency", "--format", "json", "--org", "acme", "--from", str(first), log)
        exp = [h.hex() for h in consistency_path(first, leaves)]
        record("audit-diff:prove-consistency", f"al prove consistency --from {first}", exp, out and out.get("path"), {})
    return len(muts), ncp


# ===========================================================================
# Policies: docs/policy-manifest.md
# ===========================================================================
def yaml_loader():
    """P§1.1: YAML scalars read with the YAML 1.2 JSON schema (PyYAML is YAML 1.1,
    so its implicit resolvers are replaced). The ambiguity refusals
    (AMBIGUOUS_SCALAR) are not implemented: only used on golden files."""
    import yaml

    class L(yaml.SafeLoader):
        pass
    L.yaml_implicit_resolvers = {}
    L.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))
    L.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:null|~|)$"), ["n", "~", ""])
    L.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^-?(?:0|[1-9][0-9]*)$"), list("-0123456789"))
    L.add_implicit_resolver("tag:yaml.org,2002:float",
                            re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"), list("-0123456789"))
    L.add_constructor("tag:yaml.org,2002:int", lambda l, n: int(l.construct_scalar(n)))
    L.add_constructor("tag:yaml.org,2002:float", lambda l, n: float(l.construct_scalar(n)))
    return lambda text: yaml.load(text, Loader=L)


LEVELS = ["public", "low", "medium", "high", "critical"]
EFFECT_RANK = {"deny": 3, "require_approval": 2, "conditional": 1, "allow": 0}
FACTS = {"@agent.id", "@agent.name", "@data.count", "@data.max_sensitivity", "@data.types", "@time.hour", "@time.weekday"}
OPERATORS = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "starts_with", "ends_with",
             "matches", "exists", "not_exists"]
ORDERINGS = ("lt", "lte", "gt", "gte")
_SEG = r"[A-Za-z0-9_-]+"
_ACTION = re.compile(rf"{_SEG}(?:\.{_SEG})*\Z")


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def pattern_ok(p):  # P§1.4
    if p == "*":
        return True
    if p.endswith(".*"):
        return bool(_ACTION.match(p[:-2])) and len(p) <= 128
    return bool(_ACTION.match(p)) and len(p) <= 128


def pattern_matches(p, at):
    if p == "*":
        return True
    if p.endswith(".*"):
        return at.startswith(p[:-1]) and len(at) > len(p) - 1
    return p == at


def specificity(p):  # P§3 step 2: exact, then prefixes from the longest, then `*`
    if p == "*":
        return (2, 0)
    if p.endswith(".*"):
        return (1, -len(p))
    return (0, 0)


_DUR = re.compile(r"(?:([0-9]+)([smhd]))+\Z")


def duration(v):  # P§1.3 approval durations
    if is_int(v):
        secs = v
    elif isinstance(v, str) and re.fullmatch(r"(?:[0-9]+[smhd])+", v):
        secs = sum(int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in re.findall(r"([0-9]+)([smhd])", v))
    elif isinstance(v, str) and re.fullmatch(r"[0-9]+", v):
        secs = int(v)
    else:
        raise Err("INVALID_DURATION", repr(v))
    if not 1 <= secs <= 30 * 86400:
        raise Err("INVALID_DURATION", repr(v))
    return secs


def never_decidable(field, op, value):
    """P§1.5 table: a condition unknown for every request is refused (VALUE_TYPE)."""
    strs = lambda v: isinstance(v, list) and v and not any(isinstance(x, str) for x in v)
    nums = lambda v: isinstance(v, list) and v and not any(is_num(x) for x in v)
    if field in ("@agent.id", "@agent.name"):
        return ((op in ("eq", "ne", "contains", "starts_with", "ends_with") and not isinstance(value, str))
                or (op in ("in", "not_in") and strs(value)) or op in ORDERINGS)
    if field in ("@data.count", "@time.hour", "@time.weekday"):
        return ((op in ("eq", "ne") + ORDERINGS and not is_num(value)) or (op in ("in", "not_in") and nums(value))
                or op in ("contains", "starts_with", "ends_with", "matches"))
    if field == "@data.max_sensitivity":
        return op in ("contains", "starts_with", "ends_with", "matches")
    if field == "@data.types":
        return ((op in ("eq", "ne") and not (isinstance(value, list) and all(isinstance(x, str) for x in value)))
                or (op in ("in", "not_in") and strs(value)) or (op == "contains" and not isinstance(value, str))
                or op in ORDERINGS + ("starts_with", "ends_with", "matches"))
    return op in ORDERINGS and isinstance(value, str)  # a metadata path


def compile_manifest(doc):
    """P§1 (the subset needed for valid manifests) -> list of policy dicts; raises Err."""
    if not isinstance(doc, dict) or set(doc) - {"version", "policies"}:
        raise Err("UNKNOWN_KEY", "top level")
    if doc.get("version") != 1 or not is_int(doc.get("version")):
        raise Err("UNSUPPORTED_VERSION", "version")
    out, names = [], set()
    for i, p in enumerate(doc.get("policies") or []):
        for k in ("name", "action_type", "effect"):
            if k not in p:
                raise Err("MISSING_FIELD", f"policies[{i}].{k}")
        if p["name"] in names:
            raise Err("DUPLICATE_NAME", p["name"])
        names.add(p["name"])
        if not pattern_ok(p["action_type"]):
            raise Err("INVALID_PATTERN", p["action_type"])
        if p["effect"] not in EFFECT_RANK:
            raise Err("INVALID_EFFECT", p["effect"])
        conds = []
        for j, c in enumerate(p.get("conditions") or []):
            f, op, v = c["field"], c["operator"], c.get("value")
            if op not in OPERATORS:
                raise Err("UNKNOWN_OPERATOR", op)
            if f.startswith("@") and f not in FACTS:
                raise Err("INVALID_FIELD", f)
            # P§1.5: orderings and eq/ne on @data.max_sensitivity take a level.
            if op in ("lt", "lte", "gt", "gte", "eq", "ne") and f == "@data.max_sensitivity":
                if v not in LEVELS:
                    raise Err("VALUE_TYPE", f"policies[{i}].conditions[{j}]")
            elif op in ORDERINGS and not (is_num(v) or (isinstance(v, str))):
                raise Err("VALUE_TYPE", f"policies[{i}].conditions[{j}]")
            if never_decidable(f, op, v):
                raise Err("VALUE_TYPE", f"policies[{i}].conditions[{j}]: can never be decided")
            cc = {"field": f, "operator": op}
            if op not in ("exists", "not_exists"):
                cc["value"] = v
            conds.append(cc)
        pol = dict(name=p["name"], action_type=p["action_type"], effect=p["effect"], conditions=conds,
                   enabled=p.get("enabled", True) if p.get("enabled") is not None else True)
        if p.get("description") is not None:
            pol["description"] = p["description"]
        if p.get("agents") is not None:
            pol["agents"] = sorted(set(p["agents"]), key=lambda a: a.encode())
        ap = p.get("approval")
        if ap is not None:
            t = duration(ap.get("timeout", 28800))
            a = {"timeout": t}
            if ap.get("escalate_after") is not None:
                a["escalate_after"] = duration(ap["escalate_after"])
                if a["escalate_after"] >= t:
                    raise Err("INVALID_DURATION", "escalate_after >= timeout")
            if a != {"timeout": 28800}:
                pol["approval"] = a
        pol["canonical"] = canonical_json(canonical_object(pol))
        pol["digest"] = hashlib.sha256(b"agentlattice.policy.v1\n" + pol["canonical"].encode()).hexdigest()
        pol["tampered"] = p.get("digest") is not None and p["digest"] != pol["digest"]
        out.append(pol)
    return out


def canonical_object(pol):  # P§6 table
    o = {"action_type": pol["action_type"], "conditions": pol["conditions"], "effect": pol["effect"],
         "enabled": pol["enabled"], "name": pol["name"]}
    for k in ("agents", "approval", "description"):
        if k in pol:
            o[k] = pol[k]
    return o


def canonical_float(x):
    """P§6 "Numbers": shortest round-trip digits, positional when -5 <= e <= 15."""
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    x = abs(x)
    if x == 0:
        return sign + "0.0"
    r = repr(x)
    m = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?(?:e([+-][0-9]+))?", r)
    ip, fp, ex = m.group(1), m.group(2) or "", int(m.group(3) or 0)
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    e = len(ip) - 1 + ex - lead_zeros
    digits = digits.rstrip("0") or "0"
    if -5 <= e <= 15:
        if e >= 0:
            intpart = (digits[:e + 1]).ljust(e + 1, "0")
            frac = digits[e + 1:] or "0"
        else:
            intpart = "0"
            frac = "0" * (-e - 1) + digits
        return f"{sign}{intpart}.{frac}"
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'+' if e >= 0 else '-'}{abs(e)}"


def canonical_json(v):
    """P§6 "Canonical JSON"."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if is_int(v):
        return str(v)
    if isinstance(v, float):
        return canonical_float(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ch in "\b\t\n\f\r":
                out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
            elif ord(ch) < 0x20:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        return "".join(out) + '"'
    if isinstance(v, list):
        return "[" + ",".join(canonical_json(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode())
    return "{" + ",".join(canonical_json(k) + ":" + canonical_json(v[k]) for k in keys) + "}"


def set_digest(pols):
    h = hashlib.sha256(b"agentlattice.policyset.v1\n")
    for p in sorted(pols, key=lambda p: p["name"].encode()):
        n = p["name"].encode()
        h.update(struct.pack(">I", len(n)) + n + bytes.fromhex(p["digest"]))
    return h.hexdigest()


# --- P§2 action requests -----------------------------------------------------
_RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")


def rfc3339_ms(s):
    m = _RFC3339.match(s)
    if not m:
        raise Err("INVALID_REQUEST", "timestamp")
    y, mo, d, h, mi, se = (int(m.group(k)) for k in range(1, 7))
    frac = (m.group(7) or ".")[1:]
    ms = int((frac + "000")[:3])  # digits past the millisecond dropped toward the past
    off = m.group(8)
    offm = 0 if off in "Zz" else (1 if off[0] == "+" else -1) * (int(off[1:3]) * 60 + int(off[4:6]))
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + ms - offm * 60000


def norm_request_numbers(v):
    """P§2: an integer literal beyond 64 bits is read as the nearest double."""
    if is_int(v) and not I64_MIN <= v <= U64_MAX:
        return float(v)
    if isinstance(v, list):
        return [norm_request_numbers(x) for x in v]
    if isinstance(v, dict):
        return {k: norm_request_numbers(x) for k, x in v.items()}
    return v


def facts_of(req, agent, agent_name=None, default_ts="2026-11-28T12:00:00Z"):
    ts = rfc3339_ms(req.get("timestamp") or default_ts)
    items = req.get("data_accessed") or []
    count = min(sum(it.get("count", 1) if it.get("count") is not None else 1 for it in items), U64_MAX)
    sens = [LEVELS.index(it["sensitivity"]) for it in items if it.get("sensitivity") is not None]
    days, rem = divmod(ts, 86400000)
    f = {"@agent.id": agent, "@data.count": count, "@data.types": sorted({it["type"] for it in items}),
         "@time.hour": rem // 3600000, "@time.weekday": (days + 3) % 7 + 1}
    if agent_name is not None:
        f["@agent.name"] = agent_name
    if sens:
        f["@data.max_sensitivity"] = LEVELS[max(sens)]
    return f


# --- P§4 evaluation of one condition -----------------------------------------
MISSING = object()


def t_not(t):
    return None if t is None else not t


def eq3(a, b):  # P§4.1
    if a is None and b is None:
        return True
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if is_num(a) and is_num(b):
        return a == b  # Python compares int and float exactly (P§4.2)
    if isinstance(a, list) and isinstance(b, list):
        rs = [eq3(x, y) for x, y in zip(a, b)]
        if None in rs:
            return None
        return len(a) == len(b) and all(rs)
    if isinstance(a, dict) and isinstance(b, dict):
        rs = [eq3(a[k], b[k]) for k in a if k in b]
        if None in rs:
            return None
        return set(a) == set(b) and all(rs)
    return None


def or3(results):
    if True in results:
        return True
    if None in results:
        return None
    return False


def lookup(meta, path):
    cur = meta
    for seg in path.split("."):
        if not isinstance(cur, dict) or seg not in cur:
            return MISSING
        cur = cur[seg]
    return cur


def eval_condition(c, facts, meta):
    """Returns (result True/False/None, reason None/'missing_field'/'type_mismatch')."""
    f, op, v = c["field"], c["operator"], c.get("value")
    a = facts.get(f, MISSING) if f.startswith("@") else lookup(meta, f)
    if op == "exists":
        return a is not MISSING, None
    if op == "not_exists":
        return a is MISSING, None
    if a is MISSING:
        return None, "missing_field"
    r = None
    if f == "@data.max_sensitivity":
        lv = lambda x: LEVELS.index(x) if isinstance(x, str) and x in LEVELS else None
        la = LEVELS.index(a)
        if op in ("eq", "ne"):
            r = None if lv(v) is None else (la == lv(v))
            r = r if op == "eq" else t_not(r)
        elif op in ORDERINGS:
            lb = lv(v)
            r = None if lb is None else {"lt": la < lb, "lte": la <= lb, "gt": la > lb, "gte": la >= lb}[op]
        elif op in ("in", "not_in"):
            r = or3([None if lv(m) is None else la == lv(m) for m in v])
            r = r if op == "in" else t_not(r)
    elif f == "@data.types":
        types = set(a)
        if op in ("eq", "ne"):
            r = set(x for x in v if isinstance(x, str)) == types
            r = r if op == "eq" else not r
        elif op == "in":
            r = types <= set(x for x in v if isinstance(x, str))
        elif op == "not_in":
            r = not (types & set(x for x in v if isinstance(x, str)))
        elif op == "contains":
            r = v in types if isinstance(v, str) else None
    elif op in ("eq", "ne"):
        r = eq3(a, v)
        r = r if op == "eq" else t_not(r)
    elif op in ORDERINGS:
        if is_num(a) and is_num(v):
            r = {"lt": a < v, "lte": a <= v, "gt": a > v, "gte": a >= v}[op]
    elif op in ("in", "not_in"):
        r = or3([eq3(a, m) for m in v])
        r = r if op == "in" else t_not(r)
    elif op == "contains":
        if isinstance(a, str):
            r = (v in a) if isinstance(v, str) else None
        elif isinstance(a, list):
            r = or3([eq3(x, v) for x in a])
    elif op in ("starts_with", "ends_with"):
        if isinstance(a, str) and isinstance(v, str):
            r = a.startswith(v) if op == "starts_with" else a.endswith(v)
    elif op == "matches":
        if isinstance(a, str):
            r = re.search(v, a) is not None
    return r, (None if r is not None else "type_mismatch")


def decide(pols, req, agent, agent_name=None, default_ts="2026-11-28T12:00:00Z"):
    """P§3. Returns dict(status, policy, denial_reason, conditions[bool], unknown[reason])."""
    at = req["action_type"]
    facts = facts_of(req, agent, agent_name, default_ts)
    meta = req.get("metadata") or {}
    cands = [p for p in pols if pattern_matches(p["action_type"], at) and (p["tampered"] or p["enabled"])]
    specs = sorted({specificity(p["action_type"]) for p in cands})
    nobody = dict(status="policy_not_found", policy=None, denial_reason=None, conditions=[], unknown=[])
    for sp in specs:
        here = [p for p in cands if specificity(p["action_type"]) == sp]
        limited = [p for p in here if not p["tampered"] and "agents" in p and agent in p["agents"]]
        orgwide = [p for p in here if p["tampered"] or "agents" not in p]
        for group in (limited, orgwide):
            if not group:
                continue
            tam = sorted((p for p in group if p["tampered"]), key=lambda p: p["name"].encode())
            if tam:
                return dict(status="denied", policy=tam[0]["name"], denial_reason="POLICY_TAMPERED",
                            conditions=None, unknown=None)
            applicable = []
            for p in group:
                ev = [eval_condition(c, facts, meta) for c in p["conditions"]]
                rs = [r for r, _ in ev]
                conj = False if False in rs else (None if None in rs else True)
                eff = p["effect"]
                if eff == "deny":
                    if conj is False:
                        continue
                    out = ("denied", "POLICY_DENIED", 1)
                elif eff == "require_approval":
                    if conj is False:
                        continue
                    out = ("requested", None, 1)
                elif eff == "conditional":
                    out = ("executed", None, 0) if conj else ("requested", None, 1)
                else:
                    out = ("executed", None, 0) if conj else ("denied", "CONDITIONS_DENIED", 1)
                applicable.append((-EFFECT_RANK[eff], -out[2], p["name"].encode(), p, out, ev))
            if applicable:
                _, _, _, p, out, ev = min(applicable, key=lambda t: t[:3])
                return dict(status=out[0], policy=p["name"], denial_reason=out[1],
                            conditions=[r is True for r, _ in ev], unknown=[u for _, u in ev])
    return nobody


def golden_policies(rep):
    A = "policy-golden"
    load = yaml_loader()
    # P§6 digests
    for v in json.load(open(os.path.join(TD, "policy-digests.json"))):
        try:
            pols = compile_manifest(load(v["manifest"]))
        except Err as x:
            rep.bad(A, "policy-golden:digest-manifest-refused", f"{v['manifest'][:60]!r}: {x}")
            continue
        p = pols[0]
        rep.check(A, "policy-golden:canonical", p["canonical"] == v["canonical"],
                  f"canonical form differs:\n   mine   {p['canonical']}\n   golden {v['canonical']}")
        rep.check(A, "policy-golden:digest", p["digest"] == v["digest"], f"digest of {p['name']}")
        rep.check(A, "policy-golden:set-digest", set_digest(pols) == v["set_digest"], f"set digest of {p['name']}")
    # float layout examples of P§6
    for x, t in ((0.25, "0.25"), (100.0, "100.0"), (1.5, "1.5"), (0.00001, "0.00001"), (123456789.125, "123456789.125"),
                 (1e15, "1000000000000000.0"), (-0.0, "-0.0"), (1e16, "1e+16"), (1e100, "1e+100"), (1.5e100, "1.5e+100"),
                 (1e-6, "1e-6"), (-1.5e-7, "-1.5e-7"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308")):
        rep.check(A, "policy-golden:float-layout", canonical_float(x) == t, f"{x!r}: {canonical_float(x)} != {t}")
    # testdata/policies/*.yaml
    names = {"agt_1": "bot"}  # README: default agent agt_1 (name "bot")
    for fn in sorted(os.listdir(os.path.join(TD, "policies"))):
        if not fn.endswith(".yaml"):
            continue
        doc = load(open(os.path.join(TD, "policies", fn)).read())
        pols = compile_manifest(load(doc["manifest"]))
        for c in doc["cases"]:
            agent = c.get("agent", "agt_1")
            req = norm_request_numbers(c["request"])
            got = decide(pols, req, agent, names.get(agent))
            exp = dict(status=c["status"], policy=c.get("policy"), denial_reason=c.get("denial_reason"))
            mine = dict(status=got["status"], policy=got["policy"], denial_reason=got["denial_reason"])
            if "conditions" in c:
                exp["conditions"], mine["conditions"] = c["conditions"], got["conditions"]
            if "unknown" in c:
                exp["unknown"], mine["unknown"] = c["unknown"], got["unknown"]
            rep.check(A, f"policy-golden:{fn}", mine == exp, f"{fn} {c['name']!r}: expected {exp}, mine {mine}")


# ---------------------------------------------------------------------------
# Generated manifests and requests, against `al check` and `al export`
# ---------------------------------------------------------------------------
ACTIONS = ["a.b", "a.c", "a.b.c", "b.x", "c", "d.e.f"]
PATTERNS = ["*", "a.*", "a.b.*", "a.b", "a.c", "a.b.c", "b.*", "b.x", "c", "d.*", "d.e.*", "d.e.f"]
AGENTS = ["agt_1", "agt_2", "agt_3"]
MFIELDS = ["x", "y", "s", "l", "o.p", "o"]
SCALARS = [0, 1, -1, 2, 1.0, 0.5, -0.0, 1e16, 2.5e-7, 18446744073709551615, -9223372036854775808, 9007199254740993,
           "a", "b", "ab", "", "é/\\\"", True, False, None]


def gen_value(rng, depth=0):
    r = rng.random()
    if depth < 2 and r < 0.12:
        return [gen_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if depth < 2 and r < 0.2:
        return {rng.choice(["k", "p", "z"]): gen_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return rng.choice(SCALARS)


def gen_condition(rng):
    f = rng.choice(MFIELDS + ["@agent.id", "@data.count", "@data.max_sensitivity", "@data.types", "@time.hour",
                              "@time.weekday"])
    op = rng.choice(OPERATORS)
    c = {"field": f, "operator": op}
    if op in ("exists", "not_exists"):
        if rng.random() < 0.3:
            c["value"] = None
        return c
    if f == "@data.max_sensitivity":
        v = rng.choice(LEVELS) if op not in ("in", "not_in") else rng.sample(LEVELS, rng.randrange(3))
        if op in ("eq", "ne") and rng.random() < 0.2:
            v = rng.choice([1, "a", None])
    elif f == "@data.types":
        v = rng.sample(["pii", "docs", "code"], rng.randrange(3)) if op in ("eq", "ne", "in", "not_in") else rng.choice(["pii", "docs"])
    elif f == "@agent.id":
        v = rng.choice(AGENTS) if op not in ("in", "not_in") else rng.sample(AGENTS + [1], rng.randrange(3))
        if op == "matches":
            v = rng.choice(["^agt_[12]$", "3", "^x"])
    elif f in ("@data.count", "@time.hour", "@time.weekday"):
        v = rng.choice([0, 1, 3, 5, 6, 12, 2.5, 100]) if op not in ("in", "not_in") else rng.sample([1, 3, 6, 12, "x"], rng.randrange(3))
    else:
        if op in ORDERINGS:
            v = rng.choice([0, 1, 2, 0.5, -1, 1e16, 18446744073709551615, 9007199254740992.0])
        elif op in ("in", "not_in"):
            v = [rng.choice(SCALARS) for _ in range(rng.randrange(4))]
        elif op == "contains":
            v = rng.choice(SCALARS)
        elif op in ("starts_with", "ends_with"):
            v = rng.choice(["a", "", "b", "é"])
        elif op == "matches":
            v = rng.choice(["^a", "b$", "[0-9]", "a|b", "^$"])
        else:
            v = gen_value(rng)
    c["value"] = v
    return c


def gen_decidable(rng):
    """Mostly conditions that load; one in ten may be one P§1.5 refuses."""
    c = gen_condition(rng)
    while rng.random() < 0.9 and never_decidable(c["field"], c["operator"], c.get("value")):
        c = gen_condition(rng)
    return c


def gen_manifest(rng):
    pols = []
    for i in range(rng.randrange(1, 7)):
        p = {"name": f"p{i}-{rng.choice(['a', 'b', 'c'])}", "action_type": rng.choice(PATTERNS),
             "effect": rng.choice(list(EFFECT_RANK))}
        if rng.random() < 0.3:
            p["agents"] = rng.sample(AGENTS, rng.randrange(1, 3))
        if rng.random() < 0.6:
            p["conditions"] = [gen_decidable(rng) for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.1:
            p["enabled"] = False
        if rng.random() < 0.15:
            p["description"] = rng.choice(["d", "ünï \"q\"\n\t\x01/"])
        if rng.random() < 0.15:
            p["approval"] = rng.choice([{"timeout": "2h", "escalate_after": "30m"}, {"timeout": 3600},
                                        {"timeout": "1h30m"}, {"escalate_after": "15m"}, {"timeout": "8h"}])
        pols.append(p)
    names = [p["name"] for p in pols]
    pols = [p for i, p in enumerate(pols) if p["name"] not in names[:i]]
    return {"version": 1, "policies": pols}


def gen_request(rng, doc=None):
    at = rng.choice(ACTIONS)
    if doc and doc["policies"] and rng.random() < 0.85:  # mostly an action some policy matches
        pat = rng.choice(doc["policies"])["action_type"]
        at = at if pat == "*" else pat[:-1] + rng.choice(["b", "c", "b.c", "q"]) if pat.endswith(".*") else pat
    r = {"action_type": at,
         "timestamp": rng.choice(["2026-11-28T12:00:00Z", "2026-11-30T08:59:59.999Z", "2026-12-01T23:30:00+02:00",
                                  "2026-11-29T03:00:00.123456-05:00"])}
    if rng.random() < 0.6:
        r["data_accessed"] = [dict({"type": rng.choice(["pii", "docs", "code"])},
                                   **({"count": rng.randrange(4)} if rng.random() < 0.5 else {}),
                                   **({"sensitivity": rng.choice(LEVELS)} if rng.random() < 0.5 else {}))
                              for _ in range(rng.randrange(3))]
    if rng.random() < 0.85:
        r["metadata"] = {f: gen_value(rng) for f in rng.sample(["x", "y", "s", "l", "o"], rng.randrange(5))}
        if "o" in r["metadata"] and rng.random() < 0.5:
            r["metadata"]["o"] = {"p": gen_value(rng)}
    return r


def policy_text(doc):
    return json.dumps(doc, ensure_ascii=False)


def diff_policies(rep, al, rng, n):
    A = "policy-vs-al"
    checked = rejected = 0
    for i in range(n):
        doc = gen_manifest(rng)
        try:
            pols = compile_manifest(doc)
            mine_err = None
        except Err as x:
            pols, mine_err = None, x.code
        # sometimes record digests: the right one, or a wrong one (tampered, P§6)
        if pols and rng.random() < 0.3:
            for p, src in zip(pols, doc["policies"]):
                if rng.random() < 0.5:
                    src["digest"] = p["digest"] if rng.random() < 0.6 else "ab" * 32
            pols = compile_manifest(doc)
        mpath = al.file(policy_text(doc), ".json")
        agent = rng.choice(AGENTS)
        req = gen_request(rng, doc)
        rpath = al.file(json.dumps(req, ensure_ascii=False), ".req.json")
        rc, out, code, err = al.run("check", "--format", "json", "--policies", mpath, "--action", rpath, "--agent", agent)
        repro = f"manifest {policy_text(doc)}\n   request {json.dumps(req, ensure_ascii=False)} agent {agent}"
        if mine_err or rc == 2:
            rejected += 1
            al_err = re.findall(r"error\[([A-Z_]+)\]", err) or [code]
            did = ("policy-diff:manifest-refusal:" + (f"doc-accepts-al-{al_err[0]}" if mine_err is None else
                   f"doc-{mine_err}-al-" + ("accepts" if rc != 2 else str(al_err[0]))))
            rep.check(A, did, mine_err is not None and mine_err in al_err,
                      f"manifest refusal: mine {mine_err}, al {al_err} ({err.strip()[:200]})\n   {repro}")
            continue
        checked += 1
        got = decide(pols, norm_request_numbers(req), agent, default_ts=req["timestamp"])
        mine = (got["status"], got["policy"], got["denial_reason"],
                got["conditions"] if got["denial_reason"] != "POLICY_TAMPERED" else None)
        theirs = (out["status"], out["policy_name"], out["denial_reason"],
                  [c["result"] for c in out["conditions_evaluated"]] if got["denial_reason"] != "POLICY_TAMPERED" else None)
        rep.check(A, "policy-diff:decision", mine == theirs, f"decision: mine {mine}, al {theirs}\n   {repro}")
        # P§6 digests: `al export --server-fields` prints each policy's digest
        if i % 3 == 0:
            rc, out, code, err = al.run("export", "--to", "json", "--server-fields", mpath)
            if out:
                d_al = {p["name"]: p.get("digest") for p in out["policies"]}
                d_me = {p["name"]: p["digest"] for p in pols}
                # a tampered policy keeps its recorded digest in an export; compare the untampered ones
                d_me = {k: v for k, v in d_me.items() if not next(p for p in pols if p["name"] == k)["tampered"]}
                rep.check(A, "policy-diff:digest", all(d_al.get(k) == v for k, v in d_me.items()),
                          f"digest: mine {d_me}, al {d_al}\n   manifest {policy_text(doc)}")
    return checked, rejected


# ===========================================================================
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--al", default=os.path.join(ROOT, "target", "debug", "al"), help="the `al` binary (black box)")
    ap.add_argument("--no-al", action="store_true", help="check the golden data only")
    ap.add_argument("--known", default=os.path.join(HERE, "known-disagreements.json"),
                    help="allowlist of known disagreement ids")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--mutations", type=int, default=0, help="cap on log mutations (0: all)")
    ap.add_argument("--policy-cases", type=int, default=300)
    ap.add_argument("--dump", help="write the inputs of disagreements to this directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print each known disagreement")
    a = ap.parse_args()
    known = {}
    if a.known and os.path.exists(a.known):
        text = open(a.known).read().strip()
        known = {k["id"]: k for k in (json.loads(text) if text else [])}
    rep = Report(a.verbose)
    leaves = golden_audit(rep)
    _selftest(rep)
    golden_policies(rep)
    stats = {}
    if not a.no_al:
        if not os.path.exists(a.al):
            print(f"no `al` at {a.al} (build it, or pass --al or --no-al)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            al = Al(os.path.abspath(a.al), tmp)
            stats["log mutations"], stats["checkpoint variants"] = diff_audit(
                rep, al, random.Random(a.seed), leaves, a.mutations, a.dump)
            stats["policy cases decided"], stats["policy manifests refused"] = diff_policies(
                rep, al, random.Random(a.seed + 1), a.policy_cases)
            stats["al invocations"] = al.calls
    print("independent checker (docs/audit-encoding.md, docs/policy-manifest.md)")
    for area, (good, bad) in rep.counts.items():
        print(f"  {area:20s} {good:6d} agree {bad:5d} disagree")
    for k, v in stats.items():
        print(f"  {k}: {v}")
    new, old = [], []
    for did, detail in rep.disagreements:
        (old if did in known else new).append((did, detail))
    if old:
        ids = sorted({d for d, _ in old})
        print(f"\n{len(old)} known disagreement(s), {len(ids)} id(s) in {os.path.relpath(a.known, ROOT)}:")
        for did in ids:
            print(f"  [known] {did}: {known[did].get('summary', '')}")
            if a.verbose:
                for d, detail in old:
                    if d == did:
                        print(f"      {detail}")
    if new:
        print(f"\n{len(new)} NEW disagreement(s):")
        for did, detail in new:
            print(f"  {did}: {detail}")
    unused = sorted(set(known) - {d for d, _ in rep.disagreements})
    if unused and not a.no_al:
        print(f"\nknown ids that no longer occur (fixed? remove them): {', '.join(unused)}")
    print("\nRESULT:", "OK" if not new else "DISAGREEMENTS")
    return 0 if not new else 1


if __name__ == "__main__":
    sys.exit(main())
