//! `al simulate`: what a policy change would have done to the traffic an
//! audit log recorded. Reading files and printing is here; verifying,
//! decoding, re-deciding and the report are `al_engine::simulate`'s.

use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use al_audit_chain::{LINE_BUFFER_BYTES, LineReader};
use al_engine::simulate::{
    DEFAULT_EXAMPLES_PER_CELL, RenderStyle, SimulationError, SimulationOptions, SimulationReport,
    Simulator,
};
use al_policy::PolicySet;
use al_store::segment::{FrameEnd, Reader, ReaderError};
use al_types::{Digest, ErrorCode, Timestamp};
use clap::Args;
use serde_json::json;

use crate::OutFormat;
use crate::cmd::{Answer, print_json};
use crate::io::{self, UsageError};

/// `al simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The audit log: JSON Lines (an export, as `al verify` reads it) or an
    /// al-server segment file.
    #[arg(long)]
    pub log: PathBuf,
    /// The proposed manifest (YAML or JSON).
    #[arg(long)]
    pub policies: PathBuf,
    /// Compare with this manifest, re-decided the same way, instead of the
    /// decisions recorded in the log.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Only entries at or after this time (RFC 3339, or a date: `2026-11-21`).
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this agent's actions.
    #[arg(long)]
    pub agent: Option<String>,
    /// Example entries shown per changed cell and per held reason.
    #[arg(long, default_value_t = DEFAULT_EXAMPLES_PER_CELL)]
    pub examples: usize,
}

/// A time argument: RFC 3339, or a date meaning its midnight UTC.
fn time_arg(flag: &str, s: &str) -> Result<Timestamp, UsageError> {
    let full = if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    Timestamp::parse_rfc3339(&full).map_err(|e| {
        UsageError(format!(
            "`--{flag} {s}` is not an RFC 3339 time or a date: {e}"
        ))
    })
}

fn policy_set(path: &Path) -> Result<PolicySet, UsageError> {
    Ok(PolicySet::compile(&io::manifest(path)?))
}

/// `al simulate --log L --policies NEW [--baseline OLD] [--since T]
/// [--until T] [--agent ID] [--examples N]`: exit 0 when no decision
/// changes, 3 when some do, 1 for a broken chain, 2 for bad input.
pub fn simulate(args: &SimulateArgs, format: OutFormat) -> Result<Answer, UsageError> {
    let since = args
        .since
        .as_deref()
        .map(|s| time_arg("since", s))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| time_arg("until", s))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(UsageError(format!(
            "`--since {s}` is not before `--until {u}`: the window is empty"
        )));
    }
    let new = policy_set(&args.policies)?;
    let baseline = args.baseline.as_deref().map(policy_set).transpose()?;
    // The agent table's hash key: agent ids are whatever the log says.
    let mut hash_seed = [0u8; 16];
    crate::io::random(&mut hash_seed)?;
    let mut sim = Simulator::new(
        &new,
        baseline.as_ref(),
        SimulationOptions {
            since,
            until,
            agent_id: args.agent.clone(),
            examples_per_cell: args.examples,
            ..SimulationOptions::new(hash_seed)
        },
    );
    let log = args.log.as_path();
    let unreadable =
        |e: std::io::Error| UsageError(format!("cannot read `{}`: {e}", log.display()));
    let file = std::fs::File::open(log).map_err(unreadable)?;
    let fed = if crate::segment::is_segment(log)? {
        feed_segment(&mut sim, file, log)?
    } else {
        feed_lines(&mut sim, file, log)?
    };
    let report = match fed.and_then(|()| sim.finish()) {
        Ok(r) => r,
        Err(e @ SimulationError::ChainBroken { .. }) => {
            if format == OutFormat::Json {
                print_json(&json!({
                    "chain_valid": false,
                    "error": {"code": e.code(), "row": e.row(), "message": e.to_string()},
                }));
            }
            errln!("{}: {}: {e}", log.display(), e.code());
            return Ok(Answer::No);
        }
        Err(e) => {
            return Err(UsageError(format!("{}: {}: {e}", log.display(), e.code())));
        }
    };
    print_report(&report, format, args);
    Ok(if report.has_changes() {
        Answer::Changes
    } else {
        Answer::Yes
    })
}

fn print_report(r: &SimulationReport, format: OutFormat, args: &SimulateArgs) {
    let new = args.policies.display().to_string();
    let baseline = args.baseline.as_ref().map(|b| b.display().to_string());
    match format {
        OutFormat::Json => outln!("{}", r.to_json()),
        OutFormat::Text => out!("{}", r.render(RenderStyle::Text, &new, baseline.as_deref())),
        OutFormat::Markdown => {
            out!(
                "{}",
                r.render(RenderStyle::Markdown, &new, baseline.as_deref())
            );
        }
    }
}

fn progress(size: u64) -> Option<indicatif::ProgressBar> {
    (std::io::stderr().is_terminal() && size > 8 << 20).then(|| {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

/// Feed JSON Lines, each handed over in place from the reader's buffer; a
/// line longer than the reader's limit is cut there (memory stays bounded)
/// and then refused by it.
fn feed_lines(
    sim: &mut Simulator<'_>,
    file: std::fs::File,
    log: &Path,
) -> Result<Result<(), SimulationError>, UsageError> {
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress(size);
    let mut lines = LineReader::new(BufReader::with_capacity(LINE_BUFFER_BYTES, file));
    let result = loop {
        let line = lines
            .next_line()
            .map_err(|e| UsageError(format!("cannot read `{}`: {e}", log.display())))?;
        let Some(line) = line else { break Ok(()) };
        if let Err(e) = sim.push_line(line) {
            break Err(e);
        }
        if let Some(b) = &bar {
            b.inc(line.len() as u64);
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(result)
}

/// Feed an al-server segment file's sealed entries.
fn feed_segment(
    sim: &mut Simulator<'_>,
    file: std::fs::File,
    log: &Path,
) -> Result<Result<(), SimulationError>, UsageError> {
    let read_err = |e: std::io::Error| UsageError(format!("cannot read `{}`: {e}", log.display()));
    let mut r = Reader::new(BufReader::with_capacity(1 << 20, file)).map_err(|e| match e {
        ReaderError::Io(e) => read_err(e),
        ReaderError::Header(h) => UsageError(format!("`{}`: {h}", log.display())),
    })?;
    while let Some((_, entry, hash)) = r.next_frame().map_err(read_err)? {
        if let Err(e) = sim.push_entry(entry, Some(&Digest(*hash))) {
            return Ok(Err(e));
        }
    }
    match r.end() {
        Some(FrameEnd::Torn { offset, len }) => {
            errln!(
                "note: torn tail of {len} bytes at byte {offset} (an interrupted write, never acknowledged) is not part of the chain"
            );
        }
        Some(FrameEnd::Bad { offset, reason }) => {
            return Ok(Err(SimulationError::ChainBroken {
                row: sim.rows() + 1,
                failure: al_audit_chain::FailureCode::Undecodable,
                message: format!("{reason} at byte {offset}"),
            }));
        }
        _ => {}
    }
    Ok(Ok(()))
}
