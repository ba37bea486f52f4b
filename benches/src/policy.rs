//! Policy workloads: manifests of N policies and requests that hit an
//! exact policy, a prefix policy, the `*` policy, or nothing.

use al_policy::{ActionRequest, Agent, Limits, Timestamp};

/// Policy counts measured.
pub const SIZES: [usize; 6] = [1, 10, 100, 1_000, 10_000, 100_000];

/// What a request hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    Exact,
    Prefix,
    Star,
    Miss,
}

impl Hit {
    pub const ALL: [Hit; 4] = [Hit::Exact, Hit::Prefix, Hit::Star, Hit::Miss];
    pub fn name(self) -> &'static str {
        match self {
            Hit::Exact => "exact",
            Hit::Prefix => "prefix",
            Hit::Star => "star",
            Hit::Miss => "miss",
        }
    }
}

const CONDITIONS: [&str; 10] = [
    "{field: pr_size, operator: lt, value: 100}",
    "{field: repo.owner, operator: in, value: [acme, globex, initech]}",
    "{field: \"@data.max_sensitivity\", operator: lte, value: medium}",
    "{field: branch, operator: starts_with, value: \"release/\"}",
    "{field: \"@data.count\", operator: lte, value: 1000}",
    "{field: env, operator: ne, value: prod}",
    "{field: \"@time.hour\", operator: gte, value: 0}",
    "{field: title, operator: contains, value: fix}",
    "{field: reviewer, operator: exists}",
    "{field: \"@data.types\", operator: not_in, value: [pii, phi]}",
];

fn conds(k: usize) -> String {
    format!("[{}]", CONDITIONS[..k].join(", "))
}

/// A YAML manifest of exactly `n` policies (n >= 1). The target policies
/// (`hit.exact.op`, `hit.prefix.*`, and `*` when `star`) carry `k`
/// conditions; the rest are fillers spread over exact and prefix patterns.
pub fn manifest_yaml(n: usize, k: usize, star: bool) -> String {
    let mut s = String::with_capacity(n * 96);
    s.push_str("version: 1\npolicies:\n");
    let mut targets = vec![format!(
        "  - {{name: t-exact, action_type: hit.exact.op, effect: allow, conditions: {}}}\n",
        conds(k)
    )];
    targets.push(format!(
        "  - {{name: t-prefix, action_type: hit.prefix.*, effect: allow, conditions: {}}}\n",
        conds(k)
    ));
    if star {
        targets.push(format!(
            "  - {{name: t-star, action_type: \"*\", effect: allow, conditions: {}}}\n",
            conds(k)
        ));
    }
    let mut count = 0;
    for t in targets.into_iter().take(n) {
        s.push_str(&t);
        count += 1;
    }
    let mut i = 0;
    while count < n {
        let line = match i % 3 {
            0 => format!(
                "  - {{name: f{i}, action_type: svc{}.op{}, effect: allow}}\n",
                i / 7,
                i % 7
            ),
            1 => format!(
                "  - {{name: f{i}, action_type: grp{}.*, effect: deny}}\n",
                i
            ),
            _ => format!(
                "  - {{name: f{i}, action_type: app{}.x.y, effect: require_approval, conditions: [{{field: a, operator: eq, value: 1}}]}}\n",
                i
            ),
        };
        s.push_str(&line);
        i += 1;
        count += 1;
    }
    s
}

/// The JSON form of the same manifest.
pub fn manifest_json(n: usize, k: usize, star: bool) -> String {
    al_policy::Manifest::parse_auto(&manifest_yaml(n, k, star))
        .unwrap()
        .to_json(Default::default())
        .unwrap()
}

/// A request that satisfies every condition of the targets.
pub fn request(hit: Hit) -> ActionRequest {
    let at = match hit {
        Hit::Exact => "hit.exact.op",
        Hit::Prefix => "hit.prefix.deep.op",
        Hit::Star | Hit::Miss => "nothing.matches.here",
    };
    let body = format!(
        r#"{{"action_type": "{at}", "metadata": {{"pr_size": 42, "repo": {{"owner": "acme"}}, "branch": "release/7",
            "env": "staging", "title": "hotfix: flaky test", "reviewer": "ana"}},
            "data_accessed": [{{"type": "source_code", "count": 5, "sensitivity": "low"}}]}}"#
    );
    let now = Timestamp::parse_rfc3339("2026-11-28T12:00:00Z").unwrap();
    ActionRequest::from_json(&body, now, &Limits::default()).unwrap()
}

pub const AGENT: Agent<'static> = Agent {
    id: "agt_bench",
    name: "bench",
};
