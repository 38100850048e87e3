//! The DTLS record walk (RFC 6347 §4.1, RFC 9146 §4) over an arbitrary UDP payload with an
//! arbitrary CID length (the first byte): bounded, in bounds, and `first_cid` agrees with it.
#![no_main]

use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::wire::dtls::{first_cid, RecordError, Records, MAX_RECORDS, VERSION_DTLS_1_2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, payload)) = data.split_first() else { return };
    let cid_len = (first % 33) as usize;
    let mut records = 0;
    let mut errors = 0;
    let mut expected_first: Option<Result<Option<&[u8]>, DropReason>> = None;
    let mut consumed = 0usize;
    for item in Records::new(payload, cid_len) {
        match item {
            Ok(record) => {
                records += 1;
                assert_eq!(errors, 0, "a record after an error");
                let header = 13 + if record.is_cid_record() { cid_len } else { 0 };
                assert_eq!(record.cid.len(), if record.is_cid_record() { cid_len } else { 0 });
                consumed += header + record.body.len();
                assert!(consumed <= payload.len());
                if expected_first.is_none() && record.is_cid_record() && record.version == VERSION_DTLS_1_2 {
                    expected_first = Some(Ok(Some(record.cid)));
                }
            }
            Err(error) => {
                errors += 1;
                if expected_first.is_none() {
                    // The record that failed starts where the complete ones ended.
                    let cid_record_cut = error == RecordError::LengthOverrun && payload.get(consumed) == Some(&25);
                    expected_first = Some(if error == RecordError::CidTruncated || cid_record_cut {
                        Err(DropReason::CidTruncated)
                    } else {
                        Ok(None)
                    });
                }
                if error == RecordError::TooManyRecords {
                    assert_eq!(records, MAX_RECORDS);
                }
            }
        }
        assert!(records <= MAX_RECORDS && errors <= 1, "the walk is bounded");
    }
    assert_eq!(first_cid(payload, cid_len), expected_first.unwrap_or(Ok(None)));
});
