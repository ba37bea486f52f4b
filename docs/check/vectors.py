"""Cross-language check: the Python code in docs/ reproduces the golden vectors.

Run from the repository root: python3 docs/check/vectors.py
"""
import datetime, hashlib, json, struct, sys

def snippet(path):
    return open(path).read().split("```python")[1].split("```")[0]

ok = True
# Audit entries.
exec(snippet("docs/audit-encoding.md"))
v = json.load(open("testdata/audit/vectors.json"))
for e in v["entries"]:
    d = json.loads(e["json"])
    ts = datetime.datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00"))
    ok &= verify_line(e["json"], round(ts.timestamp() * 1000))
# Policy digests.
try:
    exec(snippet("docs/policy-manifest.md"))
except AssertionError:
    ok = False
print("docs/ Python verifiers agree with testdata/:", ok)
sys.exit(0 if ok else 1)
