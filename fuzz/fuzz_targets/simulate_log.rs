#![no_main]
// JSON lines: each one the strict reader accepts is re-appended to a fresh
// audit log (valid chain), which is simulated as lines and as canonical
// bytes under four comparisons (see `al_engine::fuzzing::simulate_log`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = al_engine::fuzzing::simulate_log(data);
});
