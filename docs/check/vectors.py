"""Cross-language check: the Python code in docs/ reproduces the golden vectors.

Run from the repository root: python3 docs/check/vectors.py
The audit part execs the reference code of docs/audit-encoding.md (all its
python blocks: the verifier of section 10 and the record reader of section
8.1) and runs it over every file of testdata/audit/ and over the engine's
record vectors, testdata/engine/records.json; the policy part execs the
python block of docs/policy-manifest.md.
"""
import hashlib, json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))

def snippet(path):
    return open(path).read().split("```python")[1].split("```")[0]

def snippets(path):
    """Every python block of a document, in order."""
    return "\n".join(b.split("```")[0] for b in open(path).read().split("```python")[1:])

failures = []
def check(ok, what):
    if not ok:
        failures.append(what)

def raises(f, code=None, check_name=None):
    try:
        f()
    except Invalid as e:  # noqa: F821 (defined by the exec'd snippet)
        return (code is None or e.code == code) and (check_name is None or e.check == check_name)
    return False

A = "testdata/audit/"
exec(snippets("docs/audit-encoding.md"))

# Entries: canonical bytes, hashes, leaves, roots.
v = json.load(open(A + "vectors.json"))
hashes = []
for e in v["entries"]:
    b, row, prev, stored = read_line(e["json"])
    check(b.hex() == e["canonical_hex"], f"vectors.json row {row}: canonical bytes")
    h = hashlib.sha256(b).digest()
    check(h.hex() == e["hash"] == stored, f"vectors.json row {row}: hash")
    check(leaf(h).hex() == e["leaf_hash"], f"vectors.json row {row}: leaf")
    hashes.append(h)
for n, root in enumerate(v["merkle_roots_by_size"]):
    check(mth([leaf(h) for h in hashes[:n]]).hex() == root, f"vectors.json root at size {n}")

# The line rules.
lines = json.load(open(A + "lines.json"))
for c in lines["accepted"]:
    try:
        b, _, _, _ = read_line(c["line"])
        check(hashlib.sha256(b).hexdigest() == lines["hash"], "lines.json accepted: " + c["why"])
    except Invalid as e:  # noqa: F821
        check(False, f"lines.json accepted: {c['why']} refused with {e.code}")
for c in lines["rejected"]:
    check(raises(lambda: read_line(c["line"]), c["code"]), "lines.json rejected: " + c["why"])
read_line(lines["depth_32_accepted"])

# The whole log, its checkpoint and the trust rules.
log_hashes = [bytes.fromhex(h) for h in verify_jsonl(open(A + "log.jsonl").read())]
check(log_hashes == hashes, "log.jsonl is the vectors' log")
cps = json.load(open(A + "checkpoints.json"))
trusted = [parse_verifier_key(cps["verifier_key"])]
check(parse_verifier_key(open(A + "test.pub").read().strip()) == trusted[0], "test.pub")
cp = open_checkpoint(open(A + "checkpoint.txt").read(), trusted, "acme")
check(cp == cps["valid"]["checkpoint"], "checkpoint.txt reads as checkpoints.json says")
check(cp["size"] == len(hashes) and cp["root"] == mth([leaf(h) for h in hashes]).hex()
      and cp["head_hash"] == hashes[-1].hex(), "checkpoint.txt matches log.jsonl")
check(parse_checkpoint_body(open(A + "checkpoint-unsigned.txt").read()) == cp, "checkpoint-unsigned.txt")
for c in cps["invalid"]:
    check(raises(lambda: open_checkpoint(c["note"], trusted, "acme"), c["code"]), "checkpoints.json: " + c["why"])

# Proof files.
proofs = json.load(open(A + "proofs.json"))
tcp = proofs["checkpoint"]
check(tcp == cp, "proofs.json checkpoint")
for p in proofs["valid"] + [json.load(open(A + f)) for f in ("proof-inclusion.json", "proof-consistency.json")]:
    try:
        verify_proof(read_proof(json.dumps(p)), tcp)
    except Invalid as e:  # noqa: F821
        check(False, f"proofs.json valid proof refused: {e.code} {e.check}")
for c in proofs["invalid"]:
    check(raises(lambda: verify_proof(read_proof(json.dumps(c["proof"])), tcp), "PROOF_INVALID", c["check"]),
          "proofs.json invalid: " + c["why"])
for c in proofs["refused_files"]:
    check(raises(lambda: read_proof(c["text"]), c["code"]), "proofs.json refused: " + c["why"])

# Ed25519 itself: the Go sumdb/note vector.
import base64
from ed25519 import verify as _ed
_pub = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
_msg = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
_sig = base64.b64decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")[4:]
check(_ed(_pub, _msg, _sig) and not _ed(_pub, _msg + b"!", _sig), "Ed25519 Go vector")
check(key_id("PeterNeumann", _pub) == 0xc74f20a3, "Go key id")

# The engine's records (section 8.1): each vector's record fits its layout,
# and header + record encode to the vector's canonical bytes and hash.
rv = json.load(open("testdata/engine/records.json"))
kinds_seen = set()
for x in rv["vectors"]:
    what = f"records.json {x['name']}"
    try:
        check_record(x["kind"], x["record"])  # noqa: F821
    except Invalid as e:  # noqa: F821
        check(False, f"{what}: refused with {e.code}")
    line = json.dumps(dict({"row": x["row"], "id": "evt_%016x" % x["row"], "kind": x["kind"],
                            "agent_id": x["agent_id"], "timestamp": x["timestamp"],
                            "prev_hash": x["prev_hash"], "hash": x["hash"]}, **x["record"]))
    b, row, prev, stored = read_line(line)
    check(b.hex() == x["canonical_hex"], f"{what}: canonical bytes")
    check(hashlib.sha256(b).hexdigest() == x["hash"], f"{what}: hash")
    check(read_line(x["json_line"])[0] == b, f"{what}: json_line")
    kinds_seen.add(x["kind"])
check(kinds_seen == set(KINDS), "records.json covers every kind")  # noqa: F821
for x in rv["refused"]:
    check(raises(lambda: check_record(x["kind"], x["record"]), "INVALID_RECORD"),  # noqa: F821
          "records.json refused: " + x["why"])

# Policy digests.
try:
    exec(snippet("docs/policy-manifest.md"))
except AssertionError as e:
    failures.append(f"policy-manifest.md: {e}")

for f in failures:
    print("FAILED:", f)
print("docs/ Python verifiers agree with testdata/:", not failures)
sys.exit(0 if not failures else 1)
