//! A small, honest timer: median of batch means.

use std::hint::black_box;
use std::time::Instant;

/// Median nanoseconds per call of `f`, over `batches` batches of `per_batch` calls.
pub fn median_ns(batches: usize, per_batch: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..per_batch {
        f();
    }
    let mut samples: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_batch as f64
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    black_box(samples[samples.len() / 2])
}

/// Median milliseconds of `runs` runs of `f`.
pub fn median_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// Round to 3 significant decimals for the report.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Median nanoseconds per call for several workloads measured in
/// interleaved rounds, so machine noise hits all of them alike and ratios
/// between them are fair.
pub fn median_ns_interleaved(
    rounds: usize,
    per_batch: usize,
    fs: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); fs.len()];
    for f in fs.iter_mut() {
        for _ in 0..per_batch {
            f();
        }
    }
    for _ in 0..rounds {
        for (i, f) in fs.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            samples[i].push(t.elapsed().as_nanos() as f64 / per_batch as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            s[s.len() / 2]
        })
        .collect()
}
