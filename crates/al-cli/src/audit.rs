//! The audit commands: `verify`, `prove`, `proof …`. Reading and checking
//! is the library's (`al-audit-chain`'s strict reader); this module reads
//! files, reports and maps outcomes to exit codes.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

use al_audit_chain::{
    AuditLog, ChainVerifier, Checkpoint, Error, FailureCode, JsonlVerifier, LogConfig, Proof,
    ProofError, Verification, VerifiedCheckpoint, merkle,
};
use al_types::{Digest, EntryId, ErrorCode, Timestamp};
use serde_json::{Value, json};

use crate::cmd::{Answer, answer, print_json};
use crate::io::{self, UsageError};
use crate::{ProofCommand, ProveCommand};

/// The wall clock: the CLI is a host, and hosts own time.
pub fn now() -> Result<Timestamp, UsageError> {
    Timestamp::from_unix_millis(chrono::Utc::now().timestamp_millis())
        .ok_or_else(|| UsageError("the system clock is out of range".into()))
}

/// An audit-library error about a file, as `FILE[:LINE]: CODE: message`.
fn file_error(path: &Path, e: &Error) -> UsageError {
    let at = match (e.line(), e.location()) {
        (_, Some(l)) if e.line().is_some_and(|x| x != u64::from(l.line)) => {
            format!(":{}:{}", e.line().unwrap_or(0), l.column)
        }
        (_, Some(l)) => format!(":{}:{}", l.line, l.column),
        (Some(line), None) => format!(":{line}"),
        (None, None) => String::new(),
    };
    UsageError(format!("{}{at}: {}: {e}", path.display(), e.code()))
}

fn read_checkpoint(path: &Path) -> Result<VerifiedCheckpoint, UsageError> {
    let text = io::read(path)?;
    let (cp, _sig) = Checkpoint::parse(&text).map_err(|e| file_error(path, &e))?;
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
        let code = serde_json::to_value(f.code).unwrap_or_default();
        outln!(
            "chain INVALID at row {} ({}): {}: {}",
            f.row,
            v.result
                .first_broken_at_row_id
                .map_or_else(|| "-".to_owned(), |i| i.to_string()),
            code.as_str().unwrap_or("-"),
            f.message
        );
        outln!("verified through row {}", v.result.verified_through_row);
    }
}

/// `al verify LOG [--checkpoint FILE] [--threads N] [--org ORG]`.
pub fn verify(
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
    if crate::segment::is_segment(log)? {
        let v = crate::segment::verify(file, log, cp.as_ref(), now()?)?;
        print_verification(&v, json);
        return Ok(answer(v.result.chain_valid));
    }
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
    let unreadable =
        |e: std::io::Error| UsageError(format!("cannot read `{}`: {e}", log.display()));
    let v = if threads <= 1 {
        let mut v = JsonlVerifier::new(chain);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(unreadable)?;
            if n == 0 || !v.push_line(&line) {
                break;
            }
            if let Some(b) = &bar {
                b.inc(n as u64);
            }
        }
        v.finish(now()?)
    } else {
        verify_threaded(&mut reader, chain, threads, bar.as_ref(), log)?
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_verification(&v, json);
    Ok(answer(v.result.chain_valid))
}

/// One JSONL line: canonical bytes and stored hash, or the reader's error.
type ParsedLine = Result<(Vec<u8>, Digest), Error>;

fn parse_one(line: &[u8]) -> ParsedLine {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    al_audit_chain::parse_line_bytes(text).map(|(e, h)| (e.encode(), h))
}

/// Parse lines in parallel batches on this command's own threads (parsing
/// dominates), then chain them in order. Memory stays bounded by one batch
/// per thread.
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
        let mut lines: Vec<Vec<u8>> = Vec::with_capacity(BATCH * threads);
        for _ in 0..BATCH * threads {
            let mut l = Vec::new();
            let n = reader
                .read_until(b'\n', &mut l)
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
                .map(|part| s.spawn(move || part.iter().map(|l| parse_one(l)).collect()))
                .collect();
            hs.into_iter()
                // A failed parser thread must not drop its lines silently.
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(Error::Chain {
                            row: 0,
                            reason: "a parser thread failed".into(),
                        })]
                    })
                })
                .collect()
        });
        for r in parsed.into_iter().flatten() {
            line_no += 1;
            match r {
                Ok((bytes, h)) => {
                    if !chain.push(&bytes, Some(&h)) {
                        break 'outer;
                    }
                }
                Err(e) => {
                    chain.fail(FailureCode::Undecodable, format!("line {line_no}: {e}"));
                    break 'outer;
                }
            }
        }
    }
    Ok(chain.finish(now()?))
}

fn load_log(path: &Path, org: &str) -> Result<AuditLog, UsageError> {
    let file = std::fs::File::open(path)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", path.display())))?;
    AuditLog::import_jsonl(org, LogConfig { index: false }, &mut BufReader::new(file))
        .map_err(|e| file_error(path, &e))
}

/// `al prove inclusion|consistency …`: print a proof file.
pub fn prove(what: &ProveCommand) -> Result<Answer, UsageError> {
    let proof: Value = match what {
        ProveCommand::Inclusion { log, row, org } => {
            let l = load_log(log, org)?;
            let id = EntryId::from_row(*row).ok_or_else(|| {
                UsageError(format!("row {row} is not in the log (1..={})", l.len()))
            })?;
            let p = l.prove_inclusion(id, now()?).map_err(|_| {
                UsageError(format!("row {row} is not in the log (1..={})", l.len()))
            })?;
            serde_json::to_value(&p).unwrap_or_default()
        }
        ProveCommand::Consistency { log, from, org } => {
            let l = load_log(log, org)?;
            let p = l.prove_consistency(*from, now()?).map_err(|_| {
                UsageError(format!(
                    "`--from` must be between 1 and the log size {}",
                    l.len()
                ))
            })?;
            serde_json::to_value(&p).unwrap_or_default()
        }
    };
    print_json(&proof);
    Ok(Answer::Yes)
}

/// Parse a hash given in hex (64 digits, either case) or base64 (standard
/// or URL-safe), for hashes typed on the command line.
pub fn hash_arg(name: &str, s: &str) -> Result<Digest, UsageError> {
    let s = s.trim();
    if let Some(h) = Digest::from_hex(&s.to_ascii_lowercase()) {
        return Ok(h);
    }
    if let Some(bytes) = base64_decode(s)
        && let Ok(arr) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(Digest(arr));
    }
    Err(UsageError(format!(
        "`--{name}` must be a 32-byte hash in hex (64 digits) or base64, got `{s}`"
    )))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let e = base64::engine::general_purpose::STANDARD;
    let u = base64::engine::general_purpose::URL_SAFE;
    e.decode(s).or_else(|_| u.decode(s)).ok()
}

/// `--path` hashes. An empty element (`--path ,A,B`, `A,,B`, a trailing
/// comma) is refused: a proof with a hash missing is not the proof given.
fn path_arg(path: &[String]) -> Result<Vec<Digest>, UsageError> {
    path.iter()
        .enumerate()
        .map(|(i, p)| {
            if p.trim().is_empty() {
                Err(UsageError(format!(
                    "`--path` element {} is empty (check for stray commas)",
                    i + 1
                )))
            } else {
                hash_arg("path", p)
            }
        })
        .collect()
}

fn report(res: Result<(), ProofError>, what: &str, json: bool) -> Answer {
    let ok = res.is_ok();
    if json {
        match &res {
            Ok(()) => print_json(&json!({"valid": true, "proof": what})),
            Err(e) => print_json(
                &json!({"valid": false, "proof": what, "reason": e.to_string(), "code": e.code()}),
            ),
        }
    } else {
        match &res {
            Ok(()) => outln!("{what} proof valid"),
            Err(e) => outln!("{what} proof INVALID: {e}"),
        }
    }
    answer(ok)
}

/// `al proof verify|verify-inclusion|verify-consistency …`.
pub fn proof(what: &ProofCommand, json: bool) -> Result<Answer, UsageError> {
    match what {
        ProofCommand::Verify { file, checkpoint } => {
            let text = io::read(file)?;
            let p = Proof::from_json(&text).map_err(|e| file_error(file, &e))?;
            let trusted = match checkpoint {
                Some(c) => read_checkpoint(c)?,
                // Without a checkpoint the proof can only be checked against its own.
                None => VerifiedCheckpoint::trust(p.checkpoint().clone()),
            };
            Ok(report(p.verify(&trusted), p.kind(), json))
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
                (Some(l), _) => hash_arg("leaf-hash", l)?,
                (None, Some(e)) => merkle::leaf_hash(&hash_arg("entry-hash", e)?),
                (None, None) => {
                    return Err(UsageError("give `--leaf-hash` or `--entry-hash`".into()));
                }
            };
            let root = hash_arg("root", root)?;
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
            let a = hash_arg("first-root", first_root)?;
            let b = hash_arg("second-root", second_root)?;
            let path = path_arg(path)?;
            Ok(report(
                merkle::verify_consistency(*first, *second, &a, &b, &path),
                "consistency",
                json,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_in_hex_and_base64() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(
            super::hash_arg("x", hex).unwrap(),
            super::hash_arg("x", b64).unwrap()
        );
        assert!(super::hash_arg("x", "abc").is_err());
        assert!(super::path_arg(&["".into(), hex.into()]).is_err());
        assert!(super::path_arg(&[hex.into(), " ".into()]).is_err());
        assert_eq!(super::path_arg(&[hex.into()]).unwrap().len(), 1);
    }
}
