#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = al_breaker::fuzzing::run_checked(&al_breaker::fuzzing::decode(data));
});
