#![doc = include_str!("../README.md")]
//!
//! `main` parses, dispatches and maps outcomes to exit codes; all logic
//! lives in the libraries (and, for `demo`, in the small host module).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod io;
mod cmd;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// AgentLattice core: policies, audit chain and circuit breaker, offline.
#[derive(Parser, Debug)]
#[command(name = "al", version, about, long_about = None)]
pub struct Cli {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// Human text.
    Text,
    /// A stable JSON document on stdout.
    Json,
}

/// Manifest formats for export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate one action (a `POST /actions` body) against a manifest, as a dry run.
    Check {
        /// Policy manifest (YAML or JSON).
        #[arg(long)]
        policies: PathBuf,
        /// Action request body (JSON or YAML).
        #[arg(long)]
        action: PathBuf,
        /// Acting agent id.
        #[arg(long, default_value = "cli")]
        agent: String,
    },
    /// Every error and warning of a manifest, with locations.
    Lint {
        /// Policy manifest.
        file: PathBuf,
    },
    /// What importing NEW over OLD would change (the import dry run).
    Diff {
        /// Current manifest.
        old: PathBuf,
        /// Proposed manifest.
        new: PathBuf,
    },
    /// Print the deterministic normal form of a manifest.
    Export {
        /// Policy manifest.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum)]
        to: ManifestFormat,
        /// Include `id`, `version`, `created_at` and `digest`.
        #[arg(long)]
        server_fields: bool,
    },
    /// Verify an audit log (JSON Lines) in constant memory.
    Verify {
        /// The log.
        log: PathBuf,
        /// A checkpoint you hold (text form); detects truncation and rewrites.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Threads for parsing lines (default 1).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Workspace id for the report when no checkpoint is given.
        #[arg(long, default_value = "default")]
        org: String,
    },
    /// Emit a Merkle proof with the checkpoint it refers to.
    Prove {
        /// Which proof.
        #[command(subcommand)]
        what: ProveCommand,
    },
    /// Check proofs offline.
    Proof {
        /// Which check.
        #[command(subcommand)]
        what: ProofCommand,
    },
    /// Run the built-in end-to-end scenario (no arguments, no files needed).
    Demo {
        /// Also write the manifest, audit log, checkpoint and a proof here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
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
        /// Workspace id recorded in the checkpoint.
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
        /// Workspace id recorded in the checkpoint.
        #[arg(long, default_value = "default")]
        org: String,
    },
}

/// `al proof …`
#[derive(Subcommand, Debug)]
pub enum ProofCommand {
    /// Verify a proof file made by `al prove`, optionally against a checkpoint you hold.
    Verify {
        /// Proof (JSON).
        file: PathBuf,
        /// Trusted checkpoint (text form); the proof must refer to it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
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
        /// Path hashes, comma-separated, leaf to root.
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
        /// Proof hashes, comma-separated.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        path: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(&cli) {
        Ok(cmd::Answer::Yes) => ExitCode::SUCCESS,
        Ok(cmd::Answer::No) => ExitCode::from(1),
        Err(e) => {
            errln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
