//! Debug aid: decode an `engine_ops` input and run it step by step, printing
//! each operation before it runs (the last one printed is the failing one).
//!
//! `cargo run -p al-engine --features fuzzing --example replay_ops FILE`

use std::process::ExitCode;

use al_engine::fuzzing::{Harness, Op, decode};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: replay_ops FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut h = Harness::new();
    let start = [Op::CreateOrg(0), Op::Register(0), Op::Register(0)];
    for op in start.iter().chain(&decode(&bytes)) {
        eprintln!("{op:?}");
        h.step(op);
    }
    eprintln!("ok: {} steps succeeded, {} refused", h.ok, h.errors);
    ExitCode::SUCCESS
}
