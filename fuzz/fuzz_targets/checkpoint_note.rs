#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| al_audit_chain::fuzzing::checkpoint_note(data));
