#![no_main]
// Inputs are capped at 1 024 bytes (256 operations); restore is checked
// every 16 steps and at the end (the stable replay checks every step).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let data = data.get(..data.len().min(1024)).unwrap_or(data);
    let _ = al_engine::fuzzing::run_checked_every(&al_engine::fuzzing::decode(data), 16);
});
