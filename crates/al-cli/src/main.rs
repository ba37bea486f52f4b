#![doc = include_str!("../README.md")]
//!
//! `main` parses, dispatches and maps outcomes to exit codes; all logic
//! lives in the libraries (`demo` is a thin client of `al-engine`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod io;
mod audit;
mod cmd;
mod demo;
mod segment;
mod simulate;

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
    /// A Markdown summary for a pull-request comment (`al simulate` only).
    Markdown,
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
    /// Verify an audit log (JSON Lines, or an al-server segment file) in constant memory.
    Verify(audit::VerifyArgs),
    /// Emit a Merkle proof with the checkpoint it refers to.
    Prove {
        /// Which proof.
        #[command(subcommand)]
        what: audit::ProveCommand,
    },
    /// Check proofs offline.
    Proof {
        /// Which check.
        #[command(subcommand)]
        what: audit::ProofCommand,
    },
    /// Make an Ed25519 key pair for signing checkpoints (C2SP signed-note keys).
    Keygen(audit::KeygenArgs),
    /// Checkpoints: sign one for a log.
    Checkpoint {
        /// Which operation.
        #[command(subcommand)]
        what: audit::CheckpointCommand,
    },
    /// Replay an audit log's actions through a new manifest: which decisions change
    /// (exit 0: none, 3: some, 1: broken chain, 2: bad input).
    Simulate(simulate::SimulateArgs),
    /// Run the built-in end-to-end scenario (no arguments, no files needed).
    Demo {
        /// Also write the manifest, audit log, checkpoint and a proof here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(&cli) {
        Ok(cmd::Answer::Yes) => ExitCode::SUCCESS,
        Ok(cmd::Answer::No) => ExitCode::from(1),
        Ok(cmd::Answer::Changes) => ExitCode::from(3),
        Err(e) => {
            errln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
