//! Differential test of the data path's common-case shortcuts: every bench profile's traffic,
//! and damaged copies of it, through `Worker::process` (fixed-offset parse, `classify_common`)
//! and through `Worker::process_reference` (the general parse and classifier) on two workers
//! built alike. Every decision, every output byte and every counter must agree.

use cidlb_dataplane::frame::{Frame, VecFrame};
use cidlb_dataplane::worker::Worker;
use cidlb_perf::bench::BENCH_PROFILES;
use cidlb_perf::micro::worker_for;
use cidlb_perf::profiles::generate;
use cidlb_perf::Rng;

fn counters(w: &Worker) -> String {
    format!("{:?}", w.counters)
}

#[test]
fn shortcuts_decide_exactly_as_the_reference_path() {
    let mut rng = Rng::new(7);
    let mut compared = 0;
    let mut fast_forwarded = 0;
    for profile in BENCH_PROFILES {
        let mut params = profile.params();
        params.packets = params.packets.min(3000);
        params.flows = params.flows.min(2000);
        let packets = generate(profile.generator, &params).unwrap();
        let (mut fast, _c1) = worker_for(profile).unwrap();
        let (mut reference, _c2) = worker_for(profile).unwrap();
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            // One packet in four damaged in its headers: the shortcuts must hand those on.
            if i % 4 == 3 {
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(bytes.len().min(90) as u64) as usize;
                    bytes[at] = rng.next_u64() as u8;
                }
                if rng.below(4) == 0 {
                    bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
                }
            }
            let mut a = VecFrame::from_bytes(&bytes);
            let mut b = VecFrame::from_bytes(&bytes);
            let action_a = fast.process(now, 0, &mut a);
            let action_b = reference.process_reference(now, 0, &mut b);
            assert_eq!(action_a, action_b, "{}: packet {i} decided differently", profile.name);
            assert_eq!(a.data(), b.data(), "{}: packet {i} rewritten differently", profile.name);
            if matches!(action_a, cidlb_dataplane::worker::Action::Transmit { .. }) && i % 4 != 3 {
                fast_forwarded += 1;
            }
            compared += 1;
            now += 20_000;
            if i % 32 == 31 {
                fast.housekeeping(now);
                reference.housekeeping(now);
            }
        }
        assert_eq!(counters(&fast), counters(&reference), "{}: counters differ", profile.name);
    }
    assert!(compared > 20_000 && fast_forwarded > 10_000, "{compared} compared, {fast_forwarded} forwarded");
}
