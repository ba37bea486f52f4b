//! `al-server`: the AgentLattice API over HTTP on durable storage.
//!
//! ```text
//! al-server --data ./al-data [--listen 127.0.0.1:8080] [--org default]
//!           [--bootstrap-service-key-file FILE] [--log-format text|json]
//! ```
//! Exit codes: 0 stopped cleanly, 1 stopped after a storage failure, 2 bad
//! arguments, 3 refused to start (corrupt storage, a chain that does not
//! restore, a locked data directory, an address in use).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use al_server::{DataDir, ServerConfig};
use al_types::ErrorCode as _;
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The AgentLattice API over HTTP, on durable storage.
#[derive(Parser, Debug)]
#[command(name = "al-server", version, about)]
struct Args {
    /// Data directory (created when missing): one segment file per org, snapshots, webhooks.json.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The org created on first start.
    #[arg(long, default_value = "default")]
    org: String,
    /// Write the first start's service key to this new file (mode 0600) instead of stdout.
    #[arg(long)]
    bootstrap_service_key_file: Option<PathBuf>,
    /// Snapshot an org every this many entries (0: only at shutdown).
    #[arg(long, default_value_t = 100_000)]
    snapshot_every: u64,
    /// Log format on stderr (level from `RUST_LOG`, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.with_ansi(false).init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("al-server: cannot start the runtime: {e}");
            return std::process::ExitCode::from(3);
        }
    };
    rt.block_on(async move {
        let mut config = ServerConfig::new(DataDir::Files(args.data.clone()));
        config.listen = args.listen;
        config.org_id = args.org.clone();
        config.bootstrap_key_file = args.bootstrap_service_key_file.clone();
        config.snapshot_every = args.snapshot_every;
        let running = match al_server::start(config).await {
            Ok(r) => r,
            Err(e) => {
                let (code, message) = (e.code(), e.to_string());
                tracing::error!(code = %code, "{message}");
                eprintln!("al-server: {code}: {message}");
                return std::process::ExitCode::from(3);
            }
        };
        let mut out = std::io::stdout().lock();
        if let Some((org, key)) = &running.bootstrap
            && args.bootstrap_service_key_file.is_none()
        {
            let _ = writeln!(
                out,
                "created org `{org}`; its service key (shown once, keep it safe):"
            );
            let _ = writeln!(out, "{key}");
        }
        let _ = writeln!(out, "al-server listening on http://{}", running.addr);
        let _ = out.flush();
        drop(out);
        let app = std::sync::Arc::clone(running.app());
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("signal received; stopping");
            app.request_shutdown();
        });
        match running.wait().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("al-server: {}: {e}", e.code());
                std::process::ExitCode::from(1)
            }
        }
    })
}
