#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| al_breaker::fuzzing::config(data));
