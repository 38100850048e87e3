//! The whole packet path: `Worker::process` over a sequence of arbitrary frames, with one of
//! a fixed set of valid configs and arbitrary node health (see `cidlb_fuzz` for the input
//! format and the invariants checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cidlb_fuzz::run_pipeline(data));
