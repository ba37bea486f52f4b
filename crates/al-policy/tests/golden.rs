//! Runs every case under `testdata/policies/` (format: its README).

use al_policy::{ActionRequest, Agent, Limits, Manifest, PolicySet, Timestamp, reference};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    manifest: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    agent: Option<String>,
    request: serde_json::Value,
    status: String,
    policy: Option<String>,
    #[serde(default)]
    denial_reason: Option<String>,
    #[serde(default)]
    conditions: Option<Vec<bool>>,
    #[serde(default)]
    unknown: Option<Vec<Option<String>>>,
}

#[test]
fn golden_policy_cases() {
    let dir = crate::workspace_root().join("testdata/policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let now = Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
    let mut total = 0;
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let file: File =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let manifest = Manifest::parse_auto(&file.manifest)
            .unwrap_or_else(|e| panic!("{}: manifest: {e}", path.display()));
        let set = PolicySet::compile(&manifest);
        for case in &file.cases {
            total += 1;
            let id = format!(
                "{}: {}",
                path.file_name().unwrap().to_string_lossy(),
                case.name
            );
            let req = ActionRequest::from_value(&case.request, now, &Limits::default())
                .unwrap_or_else(|e| panic!("{id}: request: {e}"));
            let agent = Agent {
                id: case.agent.as_deref().unwrap_or("agt_1"),
                name: "bot",
            };
            let d = set.evaluate(&req, &agent);
            let e = set.explain(&req, &agent);
            let r = reference::evaluate(&manifest, &req, &agent);
            let got = (
                d.status.as_str().to_owned(),
                d.policy.map(|p| p.name().to_owned()),
                d.denial_reason.map(|r| r.code().to_owned()),
            );
            let want = (
                case.status.clone(),
                case.policy.clone(),
                case.denial_reason.clone(),
            );
            if got != want {
                failures.push(format!("{id}: got {got:?}, want {want:?}"));
                continue;
            }
            if (r.status, r.denial_reason, r.policy.clone())
                != (
                    d.status,
                    d.denial_reason,
                    d.policy.map(|p| p.name().to_owned()),
                )
            {
                failures.push(format!("{id}: reference disagrees: {r:?}"));
            }
            if e.status != d.status || e.policy.as_ref().map(|p| &p.name) != case.policy.as_ref() {
                failures.push(format!("{id}: explain disagrees"));
            }
            if let Some(want) = &case.conditions {
                let got: Vec<bool> = e.conditions_evaluated.iter().map(|c| c.result).collect();
                if &got != want {
                    failures.push(format!("{id}: conditions {got:?}, want {want:?}"));
                }
            }
            if let Some(want) = &case.unknown {
                let got: Vec<Option<String>> = e
                    .condition_traces
                    .iter()
                    .map(|t| {
                        t.unknown.map(|u| {
                            serde_json::to_value(u)
                                .unwrap()
                                .as_str()
                                .unwrap()
                                .to_owned()
                        })
                    })
                    .collect();
                if &got != want {
                    failures.push(format!("{id}: unknown {got:?}, want {want:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} golden cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 80, "only {total} golden cases");
}

#[test]
fn conditions_evaluated_has_exactly_the_sdk_shape() {
    let set = PolicySet::from_text(
        "version: 1\npolicies:\n- {name: p, action_type: a, effect: allow, conditions: [{field: n, operator: in, value: [1, 2]}, {field: x, operator: exists}]}\n",
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(0).unwrap();
    let req = ActionRequest::from_json(
        r#"{"action_type":"a","metadata":{"n":2}}"#,
        now,
        &Limits::default(),
    )
    .unwrap();
    let e = set.explain(&req, &Agent { id: "a", name: "a" });
    assert_eq!(
        serde_json::to_value(&e.conditions_evaluated).unwrap(),
        serde_json::json!([
            {"field": "n", "operator": "in", "expected": [1, 2], "result": true},
            {"field": "x", "operator": "exists", "expected": null, "result": false}
        ])
    );
    let check = serde_json::to_value(e.to_check("a")).unwrap();
    assert_eq!(check["allowed"], false);
    assert_eq!(check["policy_name"], "p");
    assert!(
        check["reason"].as_str().unwrap().contains("`x` is missing"),
        "{check}"
    );
}

#[test]
fn explain_lists_losers_with_roles() {
    let set = PolicySet::from_text(
        r#"version: 1
policies:
  - {name: star, action_type: "*", effect: deny}
  - {name: pre, action_type: "a.*", effect: allow}
  - {name: exact-allow, action_type: a.b, effect: allow}
  - {name: exact-deny-cond, action_type: a.b, effect: deny, conditions: [{field: x, operator: eq, value: 1}]}
  - {name: exact-approve, action_type: a.b, effect: require_approval, agents: [agt_2]}
"#,
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(0).unwrap();
    let req = ActionRequest::from_json(
        r#"{"action_type":"a.b","metadata":{"x":0}}"#,
        now,
        &Limits::default(),
    )
    .unwrap();
    let e = set.explain(
        &req,
        &Agent {
            id: "agt_1",
            name: "a",
        },
    );
    let roles: Vec<(String, String)> = e
        .matched
        .iter()
        .map(|m| {
            (
                m.name.clone(),
                serde_json::to_value(m.role)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let want = [
        ("exact-deny-cond", "not_applicable"),
        ("exact-allow", "decided"),
        ("pre", "less_specific"),
        ("star", "less_specific"),
    ];
    assert_eq!(
        roles,
        want.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec()
    );
    let e2 = set.explain(
        &req,
        &Agent {
            id: "agt_2",
            name: "a",
        },
    );
    assert_eq!(e2.matched[0].name, "exact-approve");
    assert_eq!(e2.status, al_policy::Status::Requested);
    let allow = e2.matched.iter().find(|m| m.name == "exact-allow").unwrap();
    assert_eq!(allow.role, al_policy::MatchRole::AgentLimitedWins);
}

/// Digest golden vectors (`testdata/policy-digests.json`, specified in
/// `docs/policy-manifest.md`). `AL_BLESS=1` fills in missing fields.
#[test]
fn policy_digest_vectors() {
    let path = crate::workspace_root().join("testdata/policy-digests.json");
    let mut vectors: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let bless = std::env::var("AL_BLESS").is_ok();
    for v in &mut vectors {
        let m = Manifest::parse_auto(v["manifest"].as_str().unwrap()).unwrap();
        let p = &m.policies()[0];
        let canonical = al_policy::canonical_policy_json(p);
        let digest = al_policy::policy_digest(p).to_string();
        let set = PolicySet::compile(&m).digest().to_string();
        for (k, got) in [
            ("canonical", canonical),
            ("digest", digest),
            ("set_digest", set),
        ] {
            match v.get(k).and_then(|x| x.as_str()) {
                Some(want) => assert_eq!(got, want, "{k} of {}", p.name),
                None if bless => {
                    v.insert(k.into(), got.into());
                }
                None => panic!("vector for {} lacks `{k}`; run with AL_BLESS=1", p.name),
            }
        }
    }
    if bless {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&vectors).unwrap() + "\n",
        )
        .unwrap();
    }
}
