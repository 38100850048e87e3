//! The TOML config parser and validator over arbitrary text: an error or a config, never a
//! panic; a config it accepts builds a snapshot or explains why not.
#![no_main]

use cidlb_config::MacAddr;
use cidlb_dataplane::snapshot::{RuntimeState, Snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = cidlb_config::parse_all(text, "fuzz.toml");
    let Ok(config) = cidlb_config::parse(text, "fuzz.toml") else { return };
    let _ = config.summary();
    // Large Maglev tables are valid but slow to build; the parser is what is fuzzed here.
    if config.service.iter().any(|s| s.maglev_table_size > 100_000) {
        return;
    }
    let macs = vec![MacAddr([2, 0, 0, 0, 0, 1]); config.port.len()];
    let _ = Snapshot::build_with(&config, &macs, 1, [7; 16], &RuntimeState::default());
});
