#![no_main]
// First byte: the `BufReader`'s capacity (1..=64); second: the cut limit
// (1..=96); the rest: the stream.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    al_audit_chain::fuzzing::line_reader(data);
});
