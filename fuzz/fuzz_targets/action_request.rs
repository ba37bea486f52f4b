#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| al_policy::fuzzing::action_request(data));
