//! Evaluate a few actions against a built-in manifest and print the
//! decisions with their explanations.
//!
//! `cargo run --release -p al-policy --example check`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use al_policy::{ActionRequest, Agent, Limits, Manifest, PolicySet, Timestamp, lint};

const MANIFEST: &str = r#"version: 1
policies:
  - name: merge-small-prs
    action_type: pr.merge
    effect: allow
    conditions:
      - { field: pr_size, operator: lt, value: 100 }
      - { field: repo.owner, operator: eq, value: acme }
  - name: prod-deploys
    action_type: deploy.*
    effect: require_approval
    approval: { timeout: 8h, escalate_after: 2h }
  - name: no-pii-export
    action_type: data.export
    effect: deny
    conditions:
      - { field: "@data.types", operator: contains, value: pii }
  - name: exports
    action_type: data.*
    effect: allow
"#;

fn main() {
    let manifest = Manifest::parse_auto(MANIFEST).expect("built-in manifest is valid");
    for w in lint(&manifest) {
        println!("lint: {w}");
    }
    let set = PolicySet::compile(&manifest);
    println!("policy set digest {}\n", set.digest());
    let now = Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
    let agent = Agent {
        id: "agt_release_bot",
        name: "release-bot",
    };
    for body in [
        r#"{"action_type": "pr.merge", "metadata": {"pr_size": 42, "repo": {"owner": "acme"}}}"#,
        r#"{"action_type": "pr.merge", "metadata": {"pr_size": 420, "repo": {"owner": "acme"}}}"#,
        r#"{"action_type": "deploy.production"}"#,
        r#"{"action_type": "data.export", "data_accessed": [{"type": "pii", "count": 10, "sensitivity": "high"}]}"#,
        r#"{"action_type": "data.export", "data_accessed": [{"type": "metrics", "count": 10}]}"#,
        r#"{"action_type": "email.send"}"#,
    ] {
        let req = ActionRequest::from_json(body, now, &Limits::default()).unwrap();
        let e = set.explain(&req, &agent);
        println!(
            "{:<20} {:<17} {}",
            req.action_type(),
            e.status.as_str(),
            e.reason
        );
        for c in &e.conditions_evaluated {
            println!(
                "{:>24} {} {} {} -> {}",
                "", c.field, c.operator, c.expected, c.result
            );
        }
    }
}
