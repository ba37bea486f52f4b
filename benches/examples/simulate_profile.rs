//! Profile `al simulate`'s streaming path: `simulate_profile gen FILE ROWS`
//! writes an engine-generated log, `simulate_profile run FILE` streams it
//! through the simulator (e.g. under `valgrind --tool=callgrind`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use al_benches::simulate::{NEW, set, simulate_file, verify_file, write_log};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = Path::new(
        args.get(2)
            .map_or("/tmp/al-simulate-profile.jsonl", String::as_str),
    );
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let rows: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
            println!("{} rows", write_log(path, rows));
        }
        Some("verify") => println!("{} bytes", verify_file(path)),
        _ => {
            let r = simulate_file(path, &set(NEW));
            println!("{} rows, {} changed", r.log.rows, r.totals.changed);
        }
    }
}
