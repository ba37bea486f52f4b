//! Instruction counts from callgrind: unlike wall-clock time they do not
//! move with the load of a shared machine, so a hot path's cost can be
//! compared between runs and between commits.
//!
//! `perf-report` runs itself under `valgrind --tool=callgrind` with a loop
//! argument and `n` iterations, once with `n` and once with 0; the
//! difference of the two instruction totals divided by `n` is the cost of
//! one iteration (set-up, shared by both runs, cancels out).

/// Instructions per iteration of the loop that `perf-report ARGS… n` runs,
/// or `None` when valgrind is not installed (or the run failed).
pub fn instructions_per_iteration(args: &[&str], n: u64) -> Option<f64> {
    let (with, without) = (total_instructions(args, n)?, total_instructions(args, 0)?);
    Some((with - without) / n as f64)
}

/// The instruction total of one run of `perf-report ARGS… n` under
/// callgrind, or `None` when valgrind is not installed (or the run failed).
/// For several loops that share a baseline (run once with 0).
pub fn total_instructions(args: &[&str], n: u64) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!(
        "al-callgrind-{}-{}-{n}.out",
        std::process::id(),
        args.join("_").trim_start_matches('-')
    ));
    let status = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(&exe)
        .args(args)
        .arg(n.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    text?
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
