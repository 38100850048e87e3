//! `wire::parse` over arbitrary bytes: never panics, and whatever it accepts has its offsets
//! inside the frame; the helpers that read parsed frames stay inside them too.
#![no_main]

use cidlb_dataplane::wire::{self, L3};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    // The fast parse of the common shapes answers exactly as the general walk.
    assert_eq!(wire::parse(frame), wire::parse_general(frame), "fast and general parse differ");
    let Ok(parsed) = wire::parse(frame) else { return };
    assert!(parsed.ip_end() <= frame.len(), "IP packet past the frame: {parsed:?}");
    assert!(parsed.l3_offset as usize >= 14 && (parsed.l3_offset as usize) <= frame.len());
    if parsed.l3 != L3::Arp {
        assert!(parsed.l4_offset as usize <= parsed.ip_end(), "L4 offset past the packet: {parsed:?}");
        assert!(parsed.l4_offset >= parsed.l3_offset + if parsed.is_ipv4() { 20 } else { 40 });
    }
    if parsed.l4_present && matches!(parsed.proto, wire::protocol::UDP) && parsed.is_whole() {
        assert!(parsed.l4(frame).len() >= 8, "UDP accepted without its header");
    }
    let payload = parsed.udp_payload(frame);
    assert!(payload.len() <= frame.len());
    let _ = wire::dtls::first_cid(payload, 6);
    let _ = wire::checksum::verify_frame(frame, &parsed);
    let _ = wire::nd_summary(&parsed, frame);
    // Parsing is deterministic and the same on a copy.
    assert_eq!(wire::parse(&frame.to_vec()), Ok(parsed));
});
