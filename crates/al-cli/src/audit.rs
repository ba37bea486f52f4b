//! The audit commands: `verify`, `prove`, `proof …`. Reading and checking
//! is the library's (`al-audit-chain`'s strict reader); this module reads
//! files, reports and maps outcomes to exit codes.
//!
//! Why one file (681 lines): the three audit commands (`verify`, `prove`,
//! `proof …`) share the file readers, the thread runner, the report shapes
//! and the exit-code mapping; each command body is short.

use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use al_audit_chain::{
    AuditLog, ChainVerifier, Ed25519Signer, Ed25519Verifier, Error, FailureCode, JsonlVerifier,
    LINE_BUFFER_BYTES, LineReader, LogConfig, NoteVerifier, Proof, ProofError, SignedCheckpoint,
    Verification, VerifiedCheckpoint, merkle,
};
use al_types::{Digest, EntryId, ErrorCode, Timestamp};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cmd::{Answer, answer, print_json};
use crate::io::{self, UsageError};

/// Which checkpoint to trust, and why.
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// A checkpoint you hold: a C2SP signed note (`al checkpoint sign`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A verifier key trusted to sign checkpoints (`name+id+base64`, as
    /// `al keygen` prints), or a file holding one; repeatable.
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Accept a checkpoint no given key signed (unsigned, or signed by
    /// other keys): you vouch for where it came from. A checkpoint whose
    /// trusted signature fails is refused even so.
    #[arg(long)]
    pub trust_unsigned: bool,
}

/// `al verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The log (JSON Lines).
    pub log: PathBuf,
    /// Checkpoint and keys; against a checkpoint, truncation and rewritten
    /// history are detected too.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Threads for parsing lines (default 1).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// The org the log belongs to; must match the checkpoint's when both
    /// are given (default: the checkpoint's, else `default`).
    #[arg(long)]
    pub org: Option<String>,
}

/// `al prove …`
#[derive(Subcommand, Debug)]
pub enum ProveCommand {
    /// Prove that row N is in the log.
    Inclusion {
        /// The log (JSON Lines).
        log: PathBuf,
        /// 1-based row.
        #[arg(long)]
        row: u64,
        /// Org id recorded in the checkpoint.
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Prove that the log extends its first SIZE entries.
    Consistency {
        /// The log (JSON Lines).
        log: PathBuf,
        /// The earlier size.
        #[arg(long)]
        from: u64,
        /// Org id recorded in the checkpoint.
        #[arg(long, default_value = "default")]
        org: String,
    },
}

/// `al proof …`
#[derive(Subcommand, Debug)]
pub enum ProofCommand {
    /// Verify a proof file made by `al prove` against a checkpoint you trust.
    Verify {
        /// Proof (JSON).
        file: PathBuf,
        /// The trusted checkpoint (or `--trust-unsigned` to check the proof
        /// against the checkpoint it carries).
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Verify a raw inclusion proof (RFC 9162 §2.1.3.2).
    VerifyInclusion {
        /// The leaf hash (hex or base64); or give --entry-hash.
        #[arg(
            long,
            conflicts_with = "entry_hash",
            required_unless_present = "entry_hash"
        )]
        leaf_hash: Option<String>,
        /// The entry hash; the leaf is SHA-256(0x00 || entry hash).
        #[arg(long)]
        entry_hash: Option<String>,
        /// 0-based leaf index.
        #[arg(long)]
        index: u64,
        /// Tree size.
        #[arg(long)]
        size: u64,
        /// Expected root.
        #[arg(long)]
        root: String,
        /// Path hashes, comma-separated, leaf to root (no empty element).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        path: Vec<String>,
    },
    /// Verify a raw consistency proof (RFC 9162 §2.1.4.2).
    VerifyConsistency {
        /// Earlier size.
        #[arg(long)]
        first: u64,
        /// Later size.
        #[arg(long)]
        second: u64,
        /// Earlier root.
        #[arg(long)]
        first_root: String,
        /// Later root.
        #[arg(long)]
        second_root: String,
        /// Proof hashes, comma-separated (no empty element).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        path: Vec<String>,
    },
}

/// `al keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Key name, e.g. `log.example.com/acme` (no spaces, no `+`).
    #[arg(long)]
    pub name: String,
    /// Write PREFIX.key (secret, mode 0600) and PREFIX.pub; without it both
    /// key lines are printed.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `al checkpoint …`
#[derive(Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Take a checkpoint of a log (verifying it) and sign it.
    Sign {
        /// The log (JSON Lines).
        log: PathBuf,
        /// Signer key file (`PRIVATE+KEY+…`, from `al keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Org id (the checkpoint's origin line).
        #[arg(long, default_value = "default")]
        org: String,
        /// Write the signed checkpoint here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a signed checkpoint against trusted keys and print it.
    Verify {
        /// The checkpoint file.
        file: PathBuf,
        /// Trusted verifier key(s) or files holding them.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
        /// The org it must be for.
        #[arg(long)]
        org: Option<String>,
    },
}

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

/// A verifier key given inline or as a file.
fn verifier(arg: &str) -> Result<Ed25519Verifier, UsageError> {
    let text = if Path::new(arg).is_file() {
        io::read(Path::new(arg))?
    } else {
        arg.to_owned()
    };
    Ed25519Verifier::from_text(text.trim())
        .map_err(|e| UsageError(format!("`--key {arg}`: {}: {e}", e.code())))
}

/// The checkpoint the user trusts, if they gave one: signed by a given
/// key, or vouched for with `--trust-unsigned`; for `org` when given.
fn trusted_checkpoint(
    t: &TrustArgs,
    org: Option<&str>,
) -> Result<Option<VerifiedCheckpoint>, UsageError> {
    let Some(path) = &t.checkpoint else {
        if !t.keys.is_empty() {
            return Err(UsageError("`--key` needs `--checkpoint`".into()));
        }
        return Ok(None);
    };
    let bytes = std::fs::read(path)
        .map_err(|e| UsageError(format!("cannot read `{}`: {e}", path.display())))?;
    let signed = SignedCheckpoint::parse_bytes(&bytes).map_err(|e| file_error(path, &e))?;
    let keys = t
        .keys
        .iter()
        .map(|k| verifier(k))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&dyn NoteVerifier> = keys.iter().map(|k| k as &dyn NoteVerifier).collect();
    let res = if refs.is_empty() {
        Err(Error::CheckpointUnverified {
            reason: "no `--key` was given to check it with".into(),
        })
    } else {
        signed.clone().verify(&refs, org)
    };
    match res {
        Ok(v) => Ok(Some(v)),
        Err(Error::CheckpointUnverified { reason }) if t.trust_unsigned => {
            errln!(
                "warning: trusting checkpoint `{}` unverified ({reason}) because of --trust-unsigned",
                path.display()
            );
            signed
                .trust_unsigned(org)
                .map(Some)
                .map_err(|e| file_error(path, &e))
        }
        Err(e @ Error::CheckpointUnverified { .. }) => Err(UsageError(format!(
            "{}: {}: {e}; give `--key` with a key you trust, or `--trust-unsigned`",
            path.display(),
            e.code()
        ))),
        Err(e) => Err(file_error(path, &e)),
    }
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

/// `al verify LOG [--checkpoint FILE --key KEY | --trust-unsigned] [--threads N] [--org ORG]`.
pub fn verify(args: &VerifyArgs, json: bool) -> Result<Answer, UsageError> {
    let (log, threads) = (args.log.as_path(), args.threads);
    let cp = trusted_checkpoint(&args.trust, args.org.as_deref())?;
    let org = match (&cp, &args.org) {
        (Some(c), _) => c.checkpoint().org_id.as_str(),
        (None, Some(o)) => o.as_str(),
        (None, None) => "default",
    };
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
    let mut lines = LineReader::new(BufReader::with_capacity(LINE_BUFFER_BYTES, file));
    let unreadable =
        |e: std::io::Error| UsageError(format!("cannot read `{}`: {e}", log.display()));
    let v = if threads <= 1 {
        let mut v = JsonlVerifier::new(chain);
        while let Some(line) = lines.next_line().map_err(unreadable)? {
            if !v.push_line(line) {
                break;
            }
            if let Some(b) = &bar {
                b.inc(line.len() as u64);
            }
        }
        v.finish(now()?)
    } else {
        verify_threaded(&mut lines, chain, threads, bar.as_ref(), log)?
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
    // The library's line reader: its fast path for the writer's layout,
    // the strict reader for anything else (same bytes, same errors).
    let mut buf = Vec::with_capacity(text.len() + text.len() / 2);
    al_audit_chain::encode_line(text, &mut buf).map(|h| (buf, h))
}

/// Parse lines in parallel batches on this command's own threads (parsing
/// dominates), then chain them in order. Memory stays bounded by one batch
/// per thread.
fn verify_threaded(
    reader: &mut LineReader<impl BufRead>,
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
            let l = reader
                .next_line()
                .map_err(|e| UsageError(format!("cannot read `{}`: {e}", log.display())))?;
            let Some(l) = l else { break };
            if let Some(b) = bar {
                b.inc(l.len() as u64);
            }
            lines.push(l.to_vec());
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
                    chain.fail(FailureCode::Undecodable, e.at_line(line_no).to_string());
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
                &json!({"valid": false, "proof": what, "check": e.check(), "reason": e.to_string(), "code": e.code()}),
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
        ProofCommand::Verify { file, trust } => {
            let text = io::read(file)?;
            let p = Proof::from_json(&text).map_err(|e| file_error(file, &e))?;
            let trusted = match trusted_checkpoint(trust, None)? {
                Some(c) => c,
                // Without a checkpoint, only the one the proof carries.
                None if trust.trust_unsigned => VerifiedCheckpoint::trust(p.checkpoint().clone()),
                None => {
                    return Err(UsageError(
                        "no trusted checkpoint: give `--checkpoint FILE --key KEY`, or \
                         `--trust-unsigned` to check the proof against the checkpoint it carries"
                            .into(),
                    ));
                }
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

fn write_secret(path: &Path, data: &[u8]) -> Result<(), UsageError> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| UsageError(format!("cannot write `{}`: {e}", path.display())))
}

/// `al keygen --name NAME [--out PREFIX]`.
pub fn keygen(args: &KeygenArgs, json: bool) -> Result<Answer, UsageError> {
    let mut seed = [0u8; 32];
    crate::io::random(&mut seed)?;
    let signer =
        Ed25519Signer::from_seed(&args.name, seed).map_err(|e| UsageError(e.to_string()))?;
    seed.fill(0);
    let vkey = signer.verifier().to_text();
    match &args.out {
        Some(prefix) => {
            let key = prefix.with_extension("key");
            let public = prefix.with_extension("pub");
            write_secret(&key, (signer.to_text() + "\n").as_bytes())?;
            crate::cmd::write_file(&public, (vkey.clone() + "\n").as_bytes())?;
            if json {
                print_json(
                    &json!({"verifier_key": vkey, "signer_key_file": key, "verifier_key_file": public}),
                );
            } else {
                outln!("{vkey}");
                errln!("wrote {} (secret) and {}", key.display(), public.display());
            }
        }
        None if json => print_json(&json!({"verifier_key": vkey, "signer_key": signer.to_text()})),
        None => {
            outln!("{}", signer.to_text());
            outln!("{vkey}");
        }
    }
    Ok(Answer::Yes)
}

/// `al checkpoint sign|verify …`.
pub fn checkpoint(what: &CheckpointCommand) -> Result<Answer, UsageError> {
    match what {
        CheckpointCommand::Sign { log, key, org, out } => {
            let signer = Ed25519Signer::from_text(io::read(key)?.trim())
                .map_err(|e| UsageError(format!("{}: {e}", key.display())))?;
            let l = load_log(log, org)?;
            let note = l
                .checkpoint(now()?)
                .checkpoint()
                .sign(&[&signer])
                .map_err(|e| UsageError(e.to_string()))?;
            match out {
                Some(p) => crate::cmd::write_file(p, note.as_bytes())?,
                None => out!("{note}"),
            }
            Ok(Answer::Yes)
        }
        CheckpointCommand::Verify { file, keys, org } => {
            let t = TrustArgs {
                checkpoint: Some(file.clone()),
                keys: keys.clone(),
                trust_unsigned: false,
            };
            let cp = trusted_checkpoint(&t, org.as_deref())?;
            if let Some(c) = cp {
                print_json(&serde_json::to_value(c.checkpoint()).unwrap_or_default());
            }
            Ok(Answer::Yes)
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
