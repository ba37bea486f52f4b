#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    al_audit_chain::fuzzing::jsonl_fast(data);
});
