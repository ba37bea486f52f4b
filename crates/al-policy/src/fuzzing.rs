//! Entry points shared by the fuzz targets and the seed-corpus regression
//! test, so both run exactly the same code (behind the `fuzzing` feature;
//! not part of the stable API).
#![allow(clippy::panic)]

use crate::{ActionRequest, Agent, Format, Limits, Manifest, PolicySet, Timestamp, reference};

/// Read an action request body; when it is accepted, its JSON form reads
/// back to the same request, and a body with a repeated key never is.
pub fn action_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits::default();
    let Some(now) = Timestamp::from_unix_seconds(1_764_331_200) else {
        return;
    };
    let Ok(req) = ActionRequest::from_json(text, now, &limits) else {
        return;
    };
    let again = match ActionRequest::from_value(&req.to_json(), now, &limits) {
        Ok(r) => r,
        Err(e) => panic!("an accepted request does not re-read: {e}"),
    };
    assert_eq!(again, req, "request changed through its JSON form");
    let Some(first) = text.find('{') else {
        panic!("an accepted body without an object")
    };
    // Repeating the first key must be refused.
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(text)
        && let Some((k, v)) = o.iter().next()
    {
        let dup = format!(
            "{{{}:{},{}",
            serde_json::Value::String(k.clone()),
            v,
            text.get(first + 1..).unwrap_or("")
        );
        assert!(
            ActionRequest::from_json(&dup, now, &limits).is_err(),
            "a repeated key was accepted: {dup}"
        );
    }
}

/// Parse a manifest; when it parses, export it and check the export is a
/// fixed point and compiles. Panics on any broken invariant.
pub fn manifest(data: &[u8], format: Format) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Manifest::parse(text, format) else {
        return;
    };
    let set = PolicySet::compile(&m);
    let _ = crate::lint(&m);
    for f in [Format::Yaml, Format::Json] {
        let Ok(out) = m.export(f, Default::default()) else {
            panic!("export failed")
        };
        let again = match Manifest::parse(&out, f) {
            Ok(a) => a,
            Err(e) => panic!("export does not re-import: {e}\n{out}"),
        };
        assert_eq!(
            PolicySet::compile(&again).digest(),
            set.digest(),
            "digest changed through {f}"
        );
        assert_eq!(
            again.export(f, Default::default()).ok().as_deref(),
            Some(out.as_str())
        );
    }
}

/// Input layout: a manifest, a line `---request---`, a request body,
/// optionally a line `---agent---` and an agent id.
pub fn evaluate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((manifest, rest)) = text.split_once("\n---request---\n") else {
        return;
    };
    let (body, agent_id) = rest
        .split_once("\n---agent---\n")
        .unwrap_or((rest, "agent-1"));
    let Ok(m) = Manifest::parse_auto(manifest) else {
        return;
    };
    let limits = Limits::default();
    let Some(now) = Timestamp::from_unix_seconds(1_764_331_200) else {
        return;
    };
    let Ok(req) = ActionRequest::from_json(body, now, &limits) else {
        return;
    };
    let set = PolicySet::compile(&m);
    let agent = Agent {
        id: agent_id.trim(),
        name: "fuzz",
    };
    let d = set.evaluate(&req, &agent);
    let r = reference::evaluate(&m, &req, &agent);
    assert_eq!(
        (
            d.status,
            d.denial_reason,
            d.policy.map(|p| p.name().to_owned())
        ),
        (r.status, r.denial_reason, r.policy),
        "indexed and reference evaluators disagree"
    );
    let e = set.explain(&req, &agent);
    assert_eq!(e.status, d.status);
}
