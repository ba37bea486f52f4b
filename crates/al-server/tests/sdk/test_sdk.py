"""Drive al-server with the real Python SDK (agentlattice 0.4.2).

Run by the Rust integration test `sdk::python_sdk_against_the_server`, which
starts the server on a free loopback port and passes:
  AL_BASE_URL     http://127.0.0.1:PORT
  AL_SERVICE_KEY  the bootstrap service key
Every SDK method is called and its parsed result checked. Prints one line per
check and a closing 'N passed, N failed' line; exits non-zero on any failure.
"""

import asyncio
import http.client
import http.server
import json
import os
import sys
import threading
import traceback
import urllib.parse
import uuid

import agentlattice
import httpx
from agentlattice import (
    ActionOptions,
    AgentLattice,
    AgentLatticeDeniedError,
    AgentLatticeError,
    ReportOutcome,
)

BASE = os.environ["AL_BASE_URL"].rstrip("/")
SVC = os.environ["AL_SERVICE_KEY"]
POLL_MS = 50

MANIFEST = """version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
  - name: read-data
    action_type: data.read
    effect: allow
  - name: write-results
    action_type: results.write
    effect: allow
  - name: prod-deploys
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 8h }
  - name: no-drops
    action_type: db.drop
    effect: deny
"""

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def svc_request(method, path, body=None, content_type="application/json"):
    headers = {"Authorization": f"Bearer {SVC}"}
    data = None
    if body is not None:
        headers["Content-Type"] = content_type
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    r = httpx.request(method, BASE + path, headers=headers, content=data, timeout=30)
    return r.status_code, (r.json() if r.content else None)


def agent_request(key, method, path):
    r = httpx.request(method, BASE + path, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return r.status_code, r.json()


class FlakyProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the server; answers the first POST /api/v1/actions with a
    503 *after* the server committed it, so the SDK retries."""

    target = None
    first_answer = None
    dropped = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def _forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        u = urllib.parse.urlparse(FlakyProxy.target)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        status = r.status
        c.close()
        with FlakyProxy.lock:
            drop = self.command == "POST" and self.path == "/api/v1/actions" and FlakyProxy.dropped == 0
            if drop:
                FlakyProxy.dropped = 1
                FlakyProxy.first_answer = (status, json.loads(data))
        if drop:
            status, data = 503, b'{"error":{"code":"UNAVAILABLE","message":"proxy dropped the answer"}}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _forward


async def main():
    check("sdk version", agentlattice.__version__ == "0.4.2", agentlattice.__version__)

    st, imp = svc_request("POST", "/api/v1/policies/import", MANIFEST, "application/yaml")
    check("import manifest (service key)", st == 200 and len(imp["added"]) == 5, f"{st} {imp}")

    # register
    al, cfg = await AgentLattice.register(
        SVC, "sdk-agent", description="drives every SDK method", base_url=BASE, gate_poll_interval_ms=POLL_MS
    )
    check("register returns a configured client", cfg["api_key"].startswith("al_live_") and cfg["name"] == "sdk-agent", cfg)
    check("register created_at", "T" in cfg["created_at"], cfg)
    al2, cfg2 = AgentLattice.register_sync(SVC, "sdk-agent-2", base_url=BASE)
    check("register_sync", cfg2["id"] != cfg["id"], cfg2)

    # execute: executed, denied with conditions, policy_not_found
    r = await al.execute("pr.merge", ActionOptions(metadata={"pr_size": 42, "repo": "acme/backend"}))
    check("execute executed", r.status == "executed" and r.policy_name == "merge-small-prs", r)
    executed_id = r.audit_event_id
    r = await al.execute(
        "pr.merge",
        ActionOptions(metadata={"pr_size": 420}, data_accessed=[{"type": "source_code", "count": 5, "sensitivity": "low"}]),
    )
    c = r.conditions_evaluated
    check(
        "execute denied with conditions_evaluated",
        r.status == "denied"
        and r.denial_reason == "CONDITIONS_DENIED"
        and len(c) == 1
        and c[0].field == "pr_size"
        and c[0].operator == "lt"
        and c[0].expected == 100
        and c[0].result is False,
        r,
    )
    r = await al.execute("unknown.thing")
    check("execute policy_not_found", r.status == "policy_not_found" and r.audit_event_id.startswith("evt_"), r)
    r = al.execute_sync("data.read")
    check("execute_sync", r.status == "executed", r)
    try:
        await al.gate("db.drop")
        check("gate on a deny policy raises", False)
    except AgentLatticeDeniedError as e:
        check("gate on a deny policy raises", e.reason == "POLICY_DENIED" and e.policy == "no-drops", vars(e))
    try:
        await al.gate("unknown.thing")
        check("gate policy_not_found raises", False)
    except AgentLatticeError as e:
        check("gate policy_not_found raises", e.code == "POLICY_NOT_FOUND", e.code)

    # gate: approved through the operator route while the SDK polls
    async def approve_when_requested(action, opts, decision):
        # The same event id and action replay the gate's own submission
        # (409 = the original result), which names the approval.
        await asyncio.sleep(0.2)
        for _ in range(200):
            await asyncio.sleep(0.02)
            try:
                orig = await al.execute(action, opts)
            except AgentLatticeError:
                continue
            if orig.status == "requested" and orig.approval_id:
                await asyncio.sleep(3 * POLL_MS / 1000)  # let the SDK poll a few times first
                st, view = svc_request(
                    "POST",
                    f"/api/v1/operator/approvals/{orig.approval_id}/decision",
                    {"decision": decision, "reviewer": "ops@example.com", "comment": "sdk test"},
                )
                return st, view, orig
        return None, None, None

    opts = ActionOptions(event_id=str(uuid.uuid4()), metadata={"env": "prod"})
    approver = asyncio.create_task(approve_when_requested("deploy.prod", opts, "approve"))
    await asyncio.wait_for(al.gate("deploy.prod", opts), 20)
    st, view, orig = await approver
    check("gate approved while polling", st == 200 and view["status"] == "approved" and view["reviewer"] == "ops@example.com", view)
    check("the replayed submission is the original (409 parsed as a result)", orig.status == "requested" and orig.timeout_at, orig)
    st, stat = agent_request(cfg["api_key"], "GET", f"/api/approvals/{orig.approval_id}/status")
    check("approval status route", st == 200 and stat["status"] == "approved", stat)

    opts = ActionOptions(event_id=str(uuid.uuid4()))
    denier = asyncio.create_task(approve_when_requested("deploy.staging", opts, "deny"))
    try:
        await asyncio.wait_for(al.gate("deploy.staging", opts), 20)
        check("gate denied while polling", False)
    except AgentLatticeDeniedError as e:
        st, view, _ = await denier
        check("gate denied while polling", e.reason == "DENIED_BY_REVIEWER" and e.approval_id and view["status"] == "denied", vars(e))

    # whoami, policies, can_i
    w = await al.whoami()
    check(
        "whoami",
        w.config_id == cfg["id"] and w.name == "sdk-agent" and w.is_active and w.cb_state == "CALIBRATING" and w.org_id,
        w,
    )
    check("whoami policies", {p.name for p in w.policies} >= {"merge-small-prs", "no-drops"}, [p.name for p in w.policies])
    w2 = al.whoami_sync()
    check("whoami_sync", w2.config_id == w.config_id, w2)
    p = await al.policies()
    check("policies own", p.scope == "own" and len(p.policies) == 5 and all(x.version >= 1 for x in p.policies), p)
    p = await al.policies(scope="org")
    check("policies org", p.scope == "org" and any(x.approval_required for x in p.policies) and any(x.has_conditions for x in p.policies), p)
    ci = await al.can_i("db.drop")
    check("can_i deny", ci.allowed is False and ci.needs_approval is False and ci.policy_name == "no-drops", ci)
    ci = await al.can_i("deploy.prod")
    check("can_i needs approval", ci.allowed is False and ci.needs_approval is True and ci.action_type == "deploy.prod", ci)
    ci = await al.can_i("data.read")
    check("can_i allowed", ci.allowed is True and ci.needs_approval is False, ci)

    # audit with a cursor
    a1 = await al.audit(limit=2)
    check("audit first page", len(a1.events) == 2 and a1.next_cursor, a1)
    a2 = await al.audit(limit=2, cursor=a1.next_cursor)
    ids1 = [e.id for e in a1.events]
    ids2 = [e.id for e in a2.events]
    check("audit second page continues", len(ids2) == 2 and not set(ids1) & set(ids2) and ids1[-1] > ids2[0], (ids1, ids2))
    allev = []
    cur = None
    while True:
        page = await al.audit(limit=3, cursor=cur)
        allev += page.events
        cur = page.next_cursor
        if not cur:
            break
    check("audit pages cover every action once", len({e.id for e in allev}) == len(allev) >= 8, len(allev))
    af = await al.audit(action_type="pr.merge")
    check("audit filter", len(af.events) == 2 and all(e.action_type == "pr.merge" for e in af.events), af)
    check("audit events parse", all(e.created_at and e.timestamp and e.status for e in allev))

    # verify
    v = await al.verify()
    check("verify", v.chain_valid and v.verified_through_row >= 10 and v.first_broken_at_row_id is None and v.org_id == w.org_id, v)

    # delegate: child acts within and outside scope, then revoke
    async with al.delegate("sub-reader", capabilities=["data.read"], ttl=300) as sub:
        r = await sub.execute("data.read")
        check("delegated child within scope", r.status == "executed", r)
        r = await sub.execute("results.write")
        check("delegated child outside scope", r.status == "denied" and r.denial_reason == "DELEGATION_SCOPE", r)
        d = await al.delegations(role="parent", active_only=True)
        check("delegations lists the active one", len(d.delegations) == 1 and d.delegations[0].id == sub._delegation_id and d.delegations[0].active, d)
        rv = await al.revoke(sub._delegation_id)
        check("revoke", rv.revoked and rv.delegation_id == sub._delegation_id, rv)
        try:
            await sub.execute("data.read")
            check("revoked child is refused", False)
        except AgentLatticeError as e:
            check("revoked child is refused", isinstance(e.code, dict) and e.code.get("code") == "DELEGATION_INACTIVE", e.code)
    d = await al.delegations()
    check("delegations after revoke", len(d.delegations) == 1 and not d.delegations[0].active and d.delegations[0].expires_at, d)
    d = await al.delegations(active_only=True)
    check("delegations active_only", d.delegations == [], d)
    try:
        al.revoke_sync("dlg_unknown")
        check("revoke of an unknown delegation is 404", False)
    except AgentLatticeError as e:
        check("revoke of an unknown delegation is 404", isinstance(e.code, dict) and e.code.get("code") == "NOT_FOUND", e.code)

    # report twice: last write wins, history kept
    r1 = await al.report(executed_id, ReportOutcome(status="success", message="merged"))
    check("report", r1.audit_event_id == executed_id and r1.status == "success" and r1.reported_at, r1)
    r2 = al.report_sync(executed_id, ReportOutcome(status="failure", message="reverted", metadata={"why": "flaky"}))
    check("report again (last write wins)", r2.status == "failure", r2)
    st, page = agent_request(cfg["api_key"], "GET", "/api/v1/audit?kind=outcome")
    outs = [e for e in page["events"] if e["kind"] == "outcome"]
    check("both reports are kept in the chain", st == 200 and len(outs) == 2, page)
    st, page = agent_request(cfg["api_key"], "GET", "/api/v1/audit?action_type=pr.merge")
    cur = [e.get("outcome") for e in page["events"] if e["id"] == executed_id]
    check("the action's current outcome is the last one", cur == ["failure"], page)

    # posture
    po = await al.posture()
    check(
        "posture",
        0 <= po.score <= 100
        and set(po.components) == {"policy_coverage", "approval_rate", "anomaly_frequency", "chain_integrity"}
        and all(c.max == 25 and 0 <= c.score <= 25 for c in po.components.values()),
        po,
    )
    po2 = al.posture_sync()
    check("posture_sync", po2.score == po.score, po2)

    # X-AL-Event-ID replay through the SDK's own retry: the proxy passes the
    # first submission to the server, then answers 503; the SDK retries with
    # the same event id and gets the original result (409).
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyProxy)
    FlakyProxy.target = BASE
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    via_proxy = AgentLattice(api_key=cfg["api_key"], base_url=f"http://127.0.0.1:{srv.server_address[1]}")
    r = await via_proxy.execute("data.read", ActionOptions(metadata={"n": 1}))
    srv.shutdown()
    first_status, first = FlakyProxy.first_answer
    check("the proxy dropped a committed answer", FlakyProxy.dropped == 1 and first_status == 200, FlakyProxy.first_answer)
    check("the SDK's retry got the original result", r.status == "executed" and r.audit_event_id == first["audit_event_id"], (r, first))
    st, page = agent_request(cfg["api_key"], "GET", "/api/v1/audit?action_type=data.read&limit=200")
    same = [e for e in page["events"] if e["id"] == first["audit_event_id"]]
    check("the retried action is in the chain once", len(same) == 1, page)
    v = await al.verify()
    check("chain still valid", v.chain_valid, v)

    # errors the SDK surfaces
    bad = AgentLattice(api_key="al_live_not_a_key", base_url=BASE)
    try:
        await bad.whoami()
        check("unknown key is 401", False)
    except AgentLatticeError as e:
        check("unknown key is 401", isinstance(e.code, dict) and e.code.get("code") == "UNAUTHORIZED", e.code)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception:
        traceback.print_exc()
        failed += 1
    print(f"sdk: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
