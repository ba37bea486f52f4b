#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| al_store::fuzzing::segment_read(data));
