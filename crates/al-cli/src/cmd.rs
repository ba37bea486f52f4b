//! Command implementations: read, call the libraries, print.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::Path;

use al_audit_chain::{
    AuditLog, ChainVerifier, Checkpoint, Hash, JsonlVerifier, LogConfig, Verification,
    VerifiedCheckpoint, merkle,
};
use al_policy::{
    ActionRequest, Agent, ExportOptions, Format, Limits, PolicySet, Severity, Status, Timestamp,
};
use serde_json::{Value, json};

use crate::io::{self, UsageError};
use crate::{Cli, Command, ManifestFormat, OutFormat, ProofCommand, ProveCommand};

/// A command's answer.
pub enum Answer {
    /// Exit 0.
    Yes,
    /// Exit 1.
    No,
}

fn answer(yes: bool) -> Answer {
    if yes { Answer::Yes } else { Answer::No }
}

fn print_json(v: &Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run the parsed command.
pub fn run(cli: &Cli) -> Result<Answer, UsageError> {
    let json = cli.format == OutFormat::Json;
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
        Command::Verify {
            log,
            checkpoint,
            threads,
            org,
        } => verify(log, checkpoint.as_deref(), *threads, org, json),
        Command::Prove { what } => prove(what),
        Command::Proof { what } => proof(what, json),
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

fn read_checkpoint(path: &Path) -> Result<VerifiedCheckpoint, UsageError> {
    let text = io::read(path)?;
    let (cp, _sig) = Checkpoint::parse(&text)
        .map_err(|e| UsageError(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
    // The user vouches for a checkpoint file they hold; signatures are the host's business.
    Ok(VerifiedCheckpoint::trust(cp))
}

fn print_verification(v: &Verification, json: bool) {
    if json {
        let mut out = serde_json::to_value(&v.result).unwrap_or_default();
        if let (Some(f), Some(o)) = (&v.failure, out.as_object_mut()) {
            o.insert(
                "failure".into(),
                serde_json::to_value(f).unwrap_or_default(),
            );
        }
        print_json(&out);
    } else if v.result.chain_valid {
        outln!(
            "chain valid: {} entries verified through row {} (head {})",
            v.entries_read,
            v.result.verified_through_row,
            v.result
                .chain_hash
                .map(|h| h.to_string())
                .unwrap_or_else(|| "-".into())
        );
    } else if let Some(f) = &v.failure {
        outln!(
            "chain INVALID at row {} ({}): {:?}: {}",
            f.row,
            v.result.first_broken_at_row_id.as_deref().unwrap_or("-"),
            f.code,
            f.message
        );
        outln!("verified through row {}", v.result.verified_through_row);
    }
}

fn verify(
    log: &Path,
    checkpoint: Option<&Path>,
    threads: usize,
    org: &str,
    json: bool,
) -> Result<Answer, UsageError> {
    let cp = checkpoint.map(read_checkpoint).transpose()?;
    let org = cp.as_ref().map_or(org, |c| c.checkpoint().org_id.as_str());
    let file = std::fs::File::open(log)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", log.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut chain = ChainVerifier::new(org);
    if let Some(c) = &cp {
        chain = chain.against(c);
    }
    let bar = (std::io::stderr().is_terminal() && size > 8 << 20).then(|| {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let v = if threads <= 1 {
        let mut v = JsonlVerifier::new(chain);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| UsageError(format!("cannot read `{}`: {e}", log.display())))?;
            if n == 0 || !v.push_line(&line) {
                break;
            }
            if let Some(b) = &bar {
                b.inc(n as u64);
            }
        }
        v.finish(now_ms())
    } else {
        verify_threaded(&mut reader, chain, threads, bar.as_ref(), log)?
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_verification(&v, json);
    Ok(answer(v.result.chain_valid))
}

/// One JSONL line: blank, or canonical bytes and stored hash, or an error.
type ParsedLine = Result<Option<(Vec<u8>, Hash)>, String>;

/// Parse lines in parallel batches (parsing dominates), then chain them in
/// order. Memory stays bounded by one batch per thread.
fn verify_threaded(
    reader: &mut dyn BufRead,
    mut chain: ChainVerifier,
    threads: usize,
    bar: Option<&indicatif::ProgressBar>,
    log: &Path,
) -> Result<Verification, UsageError> {
    const BATCH: usize = 8192;
    let threads = threads.clamp(1, 64);
    let mut line_no = 0u64;
    'outer: loop {
        let mut lines: Vec<String> = Vec::with_capacity(BATCH * threads);
        for _ in 0..BATCH * threads {
            let mut l = String::new();
            let n = reader
                .read_line(&mut l)
                .map_err(|e| UsageError(format!("cannot read `{}`: {e}", log.display())))?;
            if n == 0 {
                break;
            }
            if let Some(b) = bar {
                b.inc(n as u64);
            }
            lines.push(l);
        }
        if lines.is_empty() {
            break;
        }
        let chunk = lines.len().div_ceil(threads);
        let parsed: Vec<Vec<ParsedLine>> = std::thread::scope(|s| {
            let hs: Vec<_> = lines
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|l| {
                                let t = l.trim_end_matches(['\n', '\r']);
                                if t.trim().is_empty() {
                                    return Ok(None);
                                }
                                al_audit_chain::parse_line(t).map(|(e, h)| Some((e.encode(), h)))
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter()
                // A failed parser thread must not drop its lines silently.
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err("a parser thread failed".to_owned())])
                })
                .collect()
        });
        for r in parsed.into_iter().flatten() {
            line_no += 1;
            match r {
                Ok(None) => {}
                Ok(Some((bytes, h))) => {
                    if !chain.push(&bytes, Some(&h)) {
                        break 'outer;
                    }
                }
                Err(m) => {
                    chain.fail(
                        al_audit_chain::FailureCode::Undecodable,
                        format!("line {line_no}: {m}"),
                    );
                    break 'outer;
                }
            }
        }
    }
    Ok(chain.finish(now_ms()))
}

fn load_log(path: &Path, org: &str) -> Result<AuditLog, UsageError> {
    let file = std::fs::File::open(path)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", path.display())))?;
    AuditLog::import_jsonl(org, LogConfig { index: false }, &mut BufReader::new(file)).map_err(
        |e| {
            UsageError(format!(
                "{}:{}: {}: {}",
                path.display(),
                e.line,
                e.code(),
                e.message
            ))
        },
    )
}

fn checkpoint_json(c: &Checkpoint) -> Value {
    serde_json::to_value(c).unwrap_or_default()
}

fn hexes(v: &[Hash]) -> Vec<String> {
    v.iter().map(Hash::to_string).collect()
}

fn prove(what: &ProveCommand) -> Result<Answer, UsageError> {
    match what {
        ProveCommand::Inclusion { log, row, org } => {
            let l = load_log(log, org)?;
            let cp = l.checkpoint(now_ms());
            let size = cp.checkpoint().size;
            let proof = row
                .checked_sub(1)
                .and_then(|i| l.tree().inclusion_proof(i, size))
                .ok_or_else(|| UsageError(format!("row {row} is not in the log (1..={size})")))?;
            let entry_hash = l.hash(*row).unwrap_or_default();
            print_json(&json!({
                "type": "inclusion",
                "checkpoint": checkpoint_json(cp.checkpoint()),
                "row": row,
                "entry_id": al_audit_chain::EntryId(*row).to_string(),
                "entry_hash": entry_hash.to_string(),
                "leaf_index": row - 1,
                "leaf_hash": merkle::leaf_hash(&entry_hash).to_string(),
                "path": hexes(&proof),
            }));
            Ok(Answer::Yes)
        }
        ProveCommand::Consistency { log, from, org } => {
            let l = load_log(log, org)?;
            let cp = l.checkpoint(now_ms());
            let size = cp.checkpoint().size;
            let proof = l.tree().consistency_proof(*from, size).ok_or_else(|| {
                UsageError(format!(
                    "`--from` must be between 1 and the log size {size}"
                ))
            })?;
            print_json(&json!({
                "type": "consistency",
                "first": {"size": from, "root": l.tree().root_at(*from).unwrap_or_default().to_string()},
                "checkpoint": checkpoint_json(cp.checkpoint()),
                "path": hexes(&proof),
            }));
            Ok(Answer::Yes)
        }
    }
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, UsageError> {
    path.split('.')
        .try_fold(v, |cur, k| cur.get(k))
        .ok_or_else(|| UsageError(format!("proof file lacks `{path}`")))
}

fn hash_field(v: &Value, path: &str) -> Result<Hash, UsageError> {
    let s = field(v, path)?
        .as_str()
        .ok_or_else(|| UsageError(format!("`{path}` must be a string")))?;
    io::hash_arg(path, s)
}

fn u64_field(v: &Value, path: &str) -> Result<u64, UsageError> {
    field(v, path)?
        .as_u64()
        .ok_or_else(|| UsageError(format!("`{path}` must be a whole number")))
}

fn path_field(v: &Value) -> Result<Vec<Hash>, UsageError> {
    field(v, "path")?
        .as_array()
        .ok_or_else(|| UsageError("`path` must be an array".into()))?
        .iter()
        .map(|h| {
            h.as_str()
                .ok_or_else(|| UsageError("`path` items must be strings".into()))
                .and_then(|s| io::hash_arg("path", s))
        })
        .collect()
}

/// `--path` hashes (empty items from a trailing comma are ignored).
fn path_arg(path: &[String]) -> Result<Vec<Hash>, UsageError> {
    path.iter()
        .filter(|p| !p.is_empty())
        .map(|p| io::hash_arg("path", p))
        .collect()
}

fn report(ok: bool, what: &str, json: bool) -> Answer {
    if json {
        print_json(&json!({"valid": ok, "proof": what}));
    } else {
        outln!("{what} proof {}", if ok { "valid" } else { "INVALID" });
    }
    answer(ok)
}

fn proof(what: &ProofCommand, json: bool) -> Result<Answer, UsageError> {
    match what {
        ProofCommand::Verify { file, checkpoint } => {
            let v = io::document(file)?;
            let size = u64_field(&v, "checkpoint.size")?;
            let root = hash_field(&v, "checkpoint.root")?;
            if let Some(cp) = checkpoint.as_deref().map(read_checkpoint).transpose()? {
                let c = cp.checkpoint();
                if c.size != size || c.root != root {
                    errln!(
                        "the proof refers to size {size}, root {root}; the checkpoint holds size {}, root {}",
                        c.size,
                        c.root
                    );
                    return Ok(report(false, "checkpoint", json));
                }
            }
            match field(&v, "type")?.as_str() {
                Some("inclusion") => {
                    let idx = u64_field(&v, "leaf_index")?;
                    let entry = hash_field(&v, "entry_hash")?;
                    let leaf = merkle::leaf_hash(&entry);
                    let ok = leaf == hash_field(&v, "leaf_hash")?
                        && merkle::verify_inclusion(idx, size, &leaf, &path_field(&v)?, &root);
                    Ok(report(ok, "inclusion", json))
                }
                Some("consistency") => {
                    let first = u64_field(&v, "first.size")?;
                    let first_root = hash_field(&v, "first.root")?;
                    let ok = merkle::verify_consistency(
                        first,
                        size,
                        &first_root,
                        &root,
                        &path_field(&v)?,
                    );
                    Ok(report(ok, "consistency", json))
                }
                _ => Err(UsageError(format!(
                    "{}: `type` must be `inclusion` or `consistency`",
                    file.display()
                ))),
            }
        }
        ProofCommand::VerifyInclusion {
            leaf_hash,
            entry_hash,
            index,
            size,
            root,
            path,
        } => {
            let leaf = match (leaf_hash, entry_hash) {
                (Some(l), _) => io::hash_arg("leaf-hash", l)?,
                (None, Some(e)) => merkle::leaf_hash(&io::hash_arg("entry-hash", e)?),
                (None, None) => {
                    return Err(UsageError("give `--leaf-hash` or `--entry-hash`".into()));
                }
            };
            let root = io::hash_arg("root", root)?;
            let path = path_arg(path)?;
            Ok(report(
                merkle::verify_inclusion(*index, *size, &leaf, &path, &root),
                "inclusion",
                json,
            ))
        }
        ProofCommand::VerifyConsistency {
            first,
            second,
            first_root,
            second_root,
            path,
        } => {
            let a = io::hash_arg("first-root", first_root)?;
            let b = io::hash_arg("second-root", second_root)?;
            let path = path_arg(path)?;
            Ok(report(
                merkle::verify_consistency(*first, *second, &a, &b, &path),
                "consistency",
                json,
            ))
        }
    }
}

/// Write a file, naming it on failure.
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), UsageError> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| UsageError(format!("cannot write `{}`: {e}", path.display())))
}
