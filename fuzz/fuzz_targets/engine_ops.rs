#![no_main]
// Inputs are capped so every step's restore checks stay fast.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let data = data.get(..data.len().min(1024)).unwrap_or(data);
    let _ = al_engine::fuzzing::run_checked(&al_engine::fuzzing::decode(data));
});
