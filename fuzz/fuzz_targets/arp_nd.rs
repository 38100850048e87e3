//! ARP and neighbour-discovery summaries, and the in-place answers built from them: never
//! panic, and an answer is a well-formed message of the same kind.
#![no_main]

use cidlb_dataplane::{rewrite, wire};
use libfuzzer_sys::fuzz_target;

const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fuzz_target!(|frame: &[u8]| {
    if let Some(arp) = wire::arp_summary(frame) {
        let mut reply = frame.to_vec();
        if rewrite::arp_reply(&mut reply, OUR_MAC) {
            assert!(arp.is_request, "only requests are answered");
            let answer = wire::arp_summary(&reply).expect("an ARP reply parses");
            assert!(!answer.is_request);
            assert_eq!((answer.sender_ip, answer.target_ip, answer.sender_mac), (arp.target_ip, arp.sender_ip, OUR_MAC));
        }
    }
    let Ok(parsed) = wire::parse(frame) else { return };
    let summary = wire::nd_summary(&parsed, frame);
    let _ = wire::nd_target(&parsed, frame);
    let mut answer = frame.to_vec();
    if let Some(len) = rewrite::nd_advertisement(&mut answer, &parsed, OUR_MAC) {
        assert!(summary.is_some_and(|s| !s.is_advertisement), "only a solicitation is answered");
        assert!(len <= frame.len());
        answer.truncate(len);
        let out = wire::parse(&answer).expect("the advertisement parses");
        assert!(wire::checksum::verify_frame(&answer, &out), "the advertisement's checksum");
        let nd = wire::nd_summary(&out, &answer).expect("an advertisement");
        assert!(nd.is_advertisement);
    }
});
