//! Command implementations: read, call the libraries, print.

use std::io::Write;
use std::path::Path;

use al_policy::{
    ActionRequest, Agent, ExportOptions, Format, Limits, PolicySet, Severity, Status, Timestamp,
};
use serde_json::{Value, json};

use crate::io::{self, UsageError};
use crate::{Cli, Command, ManifestFormat, OutFormat};

/// A command's answer.
pub enum Answer {
    /// Exit 0.
    Yes,
    /// Exit 1.
    No,
    /// Exit 3: `al simulate` found decisions that change.
    Changes,
}

pub fn answer(yes: bool) -> Answer {
    if yes { Answer::Yes } else { Answer::No }
}

pub fn print_json(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run the parsed command.
pub fn run(cli: &Cli) -> Result<Answer, UsageError> {
    let json = cli.format == OutFormat::Json;
    if cli.format == OutFormat::Markdown && !matches!(cli.command, Command::Simulate(_)) {
        return Err(UsageError(
            "`--format markdown` is only for `al simulate`; use `text` or `json`".into(),
        ));
    }
    match &cli.command {
        Command::Check {
            policies,
            action,
            agent,
        } => check(policies, action, agent, json),
        Command::Lint { file } => lint(file, json),
        Command::Diff { old, new } => diff(old, new, json),
        Command::Export {
            file,
            to,
            server_fields,
        } => {
            let m = io::manifest(file)?;
            let f = match to {
                ManifestFormat::Yaml => Format::Yaml,
                ManifestFormat::Json => Format::Json,
            };
            let out = m
                .export(
                    f,
                    ExportOptions {
                        include_server_fields: *server_fields,
                    },
                )
                .map_err(|e| UsageError(e.to_string()))?;
            out!("{out}");
            Ok(Answer::Yes)
        }
        Command::Verify(args) => crate::audit::verify(args, json),
        Command::Prove { what } => crate::audit::prove(what),
        Command::Proof { what } => crate::audit::proof(what, json),
        Command::Keygen(args) => crate::audit::keygen(args, json),
        Command::Checkpoint { what } => crate::audit::checkpoint(what),
        Command::Simulate(args) => crate::simulate::simulate(args, cli.format),
        Command::Demo { out } => crate::demo::run(out.as_deref(), json).map(answer),
    }
}

fn check(policies: &Path, action: &Path, agent: &str, json: bool) -> Result<Answer, UsageError> {
    let m = io::manifest(policies)?;
    let set = PolicySet::compile(&m);
    let body = io::document(action)?;
    let now = Timestamp::from_unix_millis(now_ms())
        .ok_or_else(|| UsageError("the system clock is out of range".into()))?;
    let req = ActionRequest::from_value(&body, now, &Limits::default())
        .map_err(|e| UsageError(format!("{}: INVALID_REQUEST: {e}", action.display())))?;
    let e = set.explain(
        &req,
        &Agent {
            id: agent,
            name: agent,
        },
    );
    let check = e.to_check(req.action_type());
    if json {
        print_json(&json!({
            "action_type": check.action_type,
            "status": e.status,
            "allowed": check.allowed,
            "needs_approval": check.needs_approval,
            "policy_name": check.policy_name,
            "denial_reason": e.denial_reason,
            "reason": check.reason,
            "conditions_evaluated": check.conditions_evaluated,
        }));
    } else {
        let code = e
            .denial_reason
            .map(|r| format!(" ({})", r.code()))
            .unwrap_or_default();
        outln!("{} {}{code}", req.action_type(), e.status);
        outln!("  {}", e.reason);
        for c in &e.conditions_evaluated {
            outln!(
                "  {} {} {} -> {}",
                c.field,
                c.operator,
                c.expected,
                if c.result { "pass" } else { "fail" }
            );
        }
    }
    Ok(answer(e.status == Status::Executed))
}

fn lint(file: &Path, json: bool) -> Result<Answer, UsageError> {
    let text = io::read(file)?;
    let parsed = al_policy::Manifest::parse(&text, io::manifest_format(file, &text));
    let diags = match &parsed {
        Ok(m) => al_policy::lint(m),
        Err(e) => e.diagnostics().to_vec(),
    };
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    if json {
        print_json(
            &json!({"file": file.display().to_string(), "valid": parsed.is_ok(), "errors": errors, "warnings": warnings, "diagnostics": diags}),
        );
    } else {
        for d in &diags {
            outln!("{}:{d}", file.display());
        }
        outln!("{}: {errors} errors, {warnings} warnings", file.display());
    }
    Ok(answer(errors == 0))
}

fn diff(old: &Path, new: &Path, json: bool) -> Result<Answer, UsageError> {
    let (a, b) = (io::manifest(old)?, io::manifest(new)?);
    let d = al_policy::diff(&a, &b);
    if json {
        print_json(&serde_json::to_value(&d).unwrap_or_default());
    } else {
        outln!("+ {} added", d.added.len());
        for n in &d.added {
            outln!("    + {n}");
        }
        outln!("~ {} modified", d.modified.len());
        for m in &d.modified {
            outln!("    ~ {} ({})", m.name, m.fields.join(", "));
        }
        outln!("= {} unchanged", d.unchanged.len());
        outln!(
            "- {} removed (only with --prune on import)",
            d.removed.len()
        );
        for n in &d.removed {
            outln!("    - {n}");
        }
    }
    Ok(Answer::Yes)
}

/// Write a file, naming it on failure.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), UsageError> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| UsageError(format!("cannot write `{}`: {e}", path.display())))
}
