//! DTLS record headers: RFC 6347 §4.1 (DTLS 1.2) and RFC 9146 §4 (`tls12_cid` records).
//!
//! The balancer never decrypts: it reads the record header only. A `tls12_cid` record puts
//! the connection ID right after the sequence number, so byte 11 of the record starts the CID
//! the receiving node issued; its length is not on the wire (RFC 9146 §4: the receiver knows
//! it), so every CID accessor takes the service's configured `cid_len`.
#![forbid(unsafe_code)]

use super::be16;
use crate::counters::DropReason;

/// ```text
/// DTLSPlaintext (RFC 6347 §4.1), 13-byte header:
///  0      1      3      5                 11     13
/// +------+------+------+-----------------+------+----------- - -
/// | type | ver  |epoch |  sequence (48)  | len  | fragment
/// +------+------+------+-----------------+------+----------- - -
/// DTLSCiphertext with CID (RFC 9146 §4), type 25:
/// +------+------+------+-----------------+-----------+------+-------- - -
/// |  25  |fe fd |epoch |  sequence (48)  | CID (n)   | len  | encrypted_record
/// +------+------+------+-----------------+-----------+------+-------- - -
///                                         ^ byte 11
/// ```
pub mod field {
    use core::ops::Range;
    pub const CONTENT_TYPE: usize = 0;
    pub const VERSION: Range<usize> = 1..3;
    pub const EPOCH: Range<usize> = 3..5;
    pub const SEQUENCE_NUMBER: Range<usize> = 5..11;
    /// Plaintext records: the length. CID records: the CID starts here.
    pub const LENGTH: Range<usize> = 11..13;
    pub const CID_START: usize = 11;
    pub const HEADER_LEN: usize = 13;
}

pub mod content_type {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
    /// RFC 9146 §3.
    pub const TLS12_CID: u8 = 25;
}

pub const VERSION_DTLS_1_0: u16 = 0xfeff;
pub const VERSION_DTLS_1_2: u16 = 0xfefd;
/// Records read from one datagram before the walk stops.
pub const MAX_RECORDS: usize = 16;

/// A view of one record header at the start of `buffer`. `check_len` proves the 13 fixed
/// bytes; the CID accessors check `cid_len` themselves (it is not on the wire).
#[derive(Debug, Clone)]
pub struct DtlsRecord<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DtlsRecord<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        DtlsRecord { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, RecordError> {
        let r = Self::new_unchecked(buffer);
        r.check_len()?;
        Ok(r)
    }
    pub fn check_len(&self) -> Result<(), RecordError> {
        if self.buffer.as_ref().len() < field::HEADER_LEN {
            return Err(RecordError::HeaderTruncated);
        }
        Ok(())
    }
    pub fn content_type(&self) -> u8 {
        self.buffer.as_ref()[field::CONTENT_TYPE]
    }
    pub fn version(&self) -> u16 {
        be16(self.buffer.as_ref(), field::VERSION.start)
    }
    pub fn epoch(&self) -> u16 {
        be16(self.buffer.as_ref(), field::EPOCH.start)
    }
    /// The 48-bit record sequence number.
    pub fn sequence_number(&self) -> u64 {
        let b = &self.buffer.as_ref()[field::SEQUENCE_NUMBER];
        b.iter().fold(0u64, |n, &byte| (n << 8) | byte as u64)
    }
    pub fn is_cid_record(&self) -> bool {
        self.content_type() == content_type::TLS12_CID
    }
    /// Where the length field sits: after the CID for `tls12_cid` records.
    fn length_at(&self, cid_len: usize) -> usize {
        if self.is_cid_record() {
            field::CID_START + cid_len
        } else {
            field::CID_START
        }
    }
    /// Header length for this record: 13, or 13 + `cid_len` for `tls12_cid`.
    pub fn header_len(&self, cid_len: usize) -> usize {
        self.length_at(cid_len) + 2
    }
    /// The CID of a `tls12_cid` record; `None` for other types or when the record is too
    /// short to hold `cid_len` bytes of CID and the length after it.
    pub fn cid(&self, cid_len: usize) -> Option<&[u8]> {
        let b = self.buffer.as_ref();
        if !self.is_cid_record() || b.len() < self.header_len(cid_len) {
            return None;
        }
        Some(&b[field::CID_START..field::CID_START + cid_len])
    }
    /// The record's length field; `None` when it is not present.
    pub fn length(&self, cid_len: usize) -> Option<u16> {
        let at = self.length_at(cid_len);
        let b = self.buffer.as_ref();
        (b.len() >= at + 2).then(|| be16(b, at))
    }
}

/// Why a record walk stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer than 13 bytes left for a record header.
    HeaderTruncated,
    /// A `tls12_cid` record too short for `cid_len` bytes of CID plus its length field.
    CidTruncated,
    /// The declared length runs past the end of the datagram.
    LengthOverrun,
    /// More than [`MAX_RECORDS`] records in the datagram.
    TooManyRecords,
}

impl RecordError {
    /// The drop reason a CID-routing caller counts, if the error warrants a drop.
    pub const fn drop_reason(self) -> Option<DropReason> {
        match self {
            RecordError::CidTruncated => Some(DropReason::CidTruncated),
            _ => None,
        }
    }
}

/// One record of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub content_type: u8,
    pub version: u16,
    pub epoch: u16,
    pub sequence_number: u64,
    /// The CID for `tls12_cid` records, empty otherwise.
    pub cid: &'a [u8],
    /// The record body (fragment or encrypted record), exactly `length` bytes.
    pub body: &'a [u8],
}

impl Record<'_> {
    pub fn is_cid_record(&self) -> bool {
        self.content_type == content_type::TLS12_CID
    }
}

/// The records of one UDP payload, at most [`MAX_RECORDS`]. Yields `Ok(record)` for each
/// complete record, then at most one `Err` describing the truncation, then `None`.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    cid_len: usize,
    count: usize,
}

impl<'a> Records<'a> {
    pub fn new(payload: &'a [u8], cid_len: usize) -> Self {
        Records { rest: payload, cid_len, count: 0 }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        // Any error ends the walk.
        self.rest = &[];
        if self.count == MAX_RECORDS {
            return Some(Err(RecordError::TooManyRecords));
        }
        self.count += 1;
        let view = DtlsRecord::new_unchecked(b);
        let header_len = view.header_len(self.cid_len);
        if b.len() < header_len {
            // RFC 9146 §4: the CID and the length after it must both be there.
            return Some(Err(if view.is_cid_record() && b.len() >= field::CID_START {
                RecordError::CidTruncated
            } else {
                RecordError::HeaderTruncated
            }));
        }
        let length = be16(b, header_len - 2) as usize;
        let end = header_len + length;
        if end > b.len() {
            return Some(Err(RecordError::LengthOverrun));
        }
        let cid = if view.is_cid_record() { &b[field::CID_START..header_len - 2] } else { &[][..] };
        let record = Record {
            content_type: view.content_type(),
            version: view.version(),
            epoch: view.epoch(),
            sequence_number: view.sequence_number(),
            cid,
            body: &b[header_len..end],
        };
        self.rest = &b[end..];
        Some(Ok(record))
    }
}

/// The CID of the first `tls12_cid` DTLS 1.2 record in a datagram.
///
/// `Ok(None)`: no CID record (handshake, alert, other version): the session path takes it.
/// `Err(CidTruncated)`: a CID record too short to hold `cid_len` bytes of CID and length.
/// A CID record whose body overruns the datagram still names its node, but we drop it: the
/// node would discard it anyway (RFC 6347 §4.1.2.7 — invalid records are silently discarded).
pub fn first_cid(payload: &[u8], cid_len: usize) -> Result<Option<&[u8]>, DropReason> {
    // Fast path: the datagram starts with a DTLS 1.2 `tls12_cid` record that fits (the common
    // case by far once a connection is established). Same answer as the walk below, which
    // settles everything else (a `tls12_cid` record that overruns the datagram included).
    match leading_cid(payload, cid_len) {
        Some(cid) => Ok(Some(cid)),
        None => first_cid_by_walk(payload, cid_len),
    }
}

/// The CID of a datagram that opens with a DTLS 1.2 `tls12_cid` record holding `cid_len`
/// bytes of CID and fitting in the datagram: [`first_cid`]'s answer for it, in a few
/// comparisons. `None` for every other datagram (whatever `first_cid` makes of it). The
/// worker's CID lane takes a record only when this names its CID.
#[inline(always)]
pub fn leading_cid(payload: &[u8], cid_len: usize) -> Option<&[u8]> {
    let header = payload.get(..field::CID_START + cid_len + 2)?;
    if header[field::CONTENT_TYPE] != content_type::TLS12_CID {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([header[field::CID_START + cid_len], header[field::CID_START + cid_len + 1]]));
    let fits = u16::from_be_bytes([header[field::VERSION.start], header[field::VERSION.start + 1]]) == VERSION_DTLS_1_2 && header.len() + length <= payload.len();
    fits.then(|| &header[field::CID_START..field::CID_START + cid_len])
}

/// [`first_cid`] by the record walk alone (its answer for every datagram the fast path does not
/// settle; the tests hold the fast path to it). The walk of [`Records`], reading only what the
/// answer needs (type, version, length; no [`Record`] built): a ClientHello's walk costs ~170
/// instructions through the iterator. The tests hold it to `first_cid_by_records`, which uses
/// the iterator, and the `dtls_records` fuzz target to [`Records`] itself.
fn first_cid_by_walk(payload: &[u8], cid_len: usize) -> Result<Option<&[u8]>, DropReason> {
    let mut rest = payload;
    for _ in 0..MAX_RECORDS {
        let Some(&kind) = rest.first() else {
            return Ok(None);
        };
        let is_cid = kind == content_type::TLS12_CID;
        let length_at = if is_cid { field::CID_START + cid_len } else { field::LENGTH.start };
        let Some(length) = rest.get(length_at..length_at + 2) else {
            // RFC 9146 §4: the CID and the length after it must both be there.
            return if is_cid && rest.len() >= field::CID_START { Err(DropReason::CidTruncated) } else { Ok(None) };
        };
        let end = length_at + 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
        if end > rest.len() {
            // A CID record cut short of its declared length: dropped as promised above (it
            // must not fall to the session path, where it would create a session).
            return if is_cid { Err(DropReason::CidTruncated) } else { Ok(None) };
        }
        if is_cid && be16(rest, field::VERSION.start) == VERSION_DTLS_1_2 {
            return Ok(Some(&rest[field::CID_START..length_at]));
        }
        rest = &rest[end..];
    }
    // More than MAX_RECORDS records: the walk stops there.
    Ok(None)
}

/// [`first_cid_by_walk`] through the [`Records`] iterator: the reference the tests hold the
/// walk to.
// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
fn first_cid_by_records(payload: &[u8], cid_len: usize) -> Result<Option<&[u8]>, DropReason> {
    let mut records = Records::new(payload, cid_len);
    loop {
        let at = records.rest;
        match records.next() {
            None => return Ok(None),
            Some(Ok(r)) if r.is_cid_record() && r.version == VERSION_DTLS_1_2 => return Ok(Some(r.cid)),
            Some(Ok(_)) => {}
            Some(Err(RecordError::CidTruncated)) => return Err(DropReason::CidTruncated),
            // A CID record cut short of its declared length: dropped as promised above (it
            // must not fall to the session path, where it would create a session).
            Some(Err(RecordError::LengthOverrun)) if at.first() == Some(&content_type::TLS12_CID) => {
                return Err(DropReason::CidTruncated)
            }
            Some(Err(_)) => return Ok(None),
        }
    }
}

/// Whether a datagram opens with a client's *first* ClientHello: a DTLS handshake record of
/// epoch 0 whose handshake message is a whole-or-first fragment of a `client_hello` (type 1)
/// with an empty cookie (RFC 6347 §4.2.1: the cookie comes in the second ClientHello, after
/// the server's HelloVerifyRequest). The session ID must be at most 32 bytes (RFC 5246 §7.4.1.2)
/// and the cookie length byte inside both the record and the fragment; anything else is `false`
/// (the caller treats the packet as it always did). DTLS 1.3 (RFC 9147 §5.3) carries its cookie
/// in an extension and leaves this field empty, so every DTLS 1.3 ClientHello counts as first.
///
/// ```text
/// record header (13) | handshake header (12): msg_type 1 | length (3) | message_seq (2) |
///   fragment_offset (3) = 0 | fragment_length (3) | client_version (2) | random (32) |
///   session_id length (1) + session_id | cookie length (1) = 0 | ...
/// ```
pub fn is_first_client_hello(payload: &[u8]) -> bool {
    const HANDSHAKE_HEADER: usize = 12;
    const CLIENT_HELLO: u8 = 1;
    let Some(header) = payload.get(..field::HEADER_LEN) else {
        return false;
    };
    if header[field::CONTENT_TYPE] != content_type::HANDSHAKE || header[1] != 0xfe || be16(header, field::EPOCH.start) != 0 {
        return false;
    }
    let record_len = be16(header, field::LENGTH.start) as usize;
    let Some(record) = payload.get(field::HEADER_LEN..field::HEADER_LEN + record_len) else {
        return false;
    };
    let Some(handshake) = record.get(..HANDSHAKE_HEADER) else {
        return false;
    };
    let be24 = |at: usize| (usize::from(handshake[at]) << 16) | (usize::from(handshake[at + 1]) << 8) | usize::from(handshake[at + 2]);
    if handshake[0] != CLIENT_HELLO || be24(6) != 0 {
        return false;
    }
    let Some(body) = record.get(HANDSHAKE_HEADER..HANDSHAKE_HEADER + be24(9)) else {
        return false;
    };
    // client_version (2) and random (32), then the session ID's length.
    let Some(&session_id_len) = body.get(34) else {
        return false;
    };
    if session_id_len > 32 {
        return false;
    }
    body.get(35 + usize::from(session_id_len)) == Some(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled RFC 9146 §4 record (not a capture): type 25, DTLS 1.2, epoch 1,
    /// sequence 0x000000000005, 6-byte Californium-style CID whose first byte is node id 2,
    /// length 0x0021 (33 bytes: 8-byte explicit nonce + 9-byte ciphertext + 16-byte tag,
    /// the AES-CCM-8/GCM shape), then the encrypted record.
    const CID_RECORD: &str = "19 fefd 0001 000000000005 02a1b2c3d4e5 0021 \
        0001000000000005 8f1e2d3c4b5a697887 00112233445566778899aabbccddeeff";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn golden_cid_record() {
        let rec = hex(CID_RECORD);
        assert_eq!(rec.len(), 13 + 6 + 33);
        let v = DtlsRecord::new_checked(&rec[..]).unwrap();
        assert_eq!(v.content_type(), 25);
        assert_eq!(v.version(), VERSION_DTLS_1_2);
        assert_eq!(v.epoch(), 1);
        assert_eq!(v.sequence_number(), 5);
        assert_eq!(v.cid(6), Some(&[0x02, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5][..]));
        assert_eq!(v.length(6), Some(33));
        let all: Vec<_> = Records::new(&rec, 6).collect();
        assert_eq!(all.len(), 1);
        let r = all[0].unwrap();
        assert_eq!(r.cid[0], 2);
        assert_eq!(r.body.len(), 33);
        assert_eq!(first_cid(&rec, 6), Ok(Some(&rec[11..17])));
    }

    #[test]
    fn every_truncation_of_a_cid_record() {
        let rec = hex(CID_RECORD);
        for n in 1..rec.len() {
            let got: Vec<_> = Records::new(&rec[..n], 6).collect();
            let expected = if n < 11 {
                RecordError::HeaderTruncated
            } else if n < 19 {
                RecordError::CidTruncated
            } else {
                RecordError::LengthOverrun
            };
            assert_eq!(got, vec![Err(expected)], "prefix {n}");
            let first = first_cid(&rec[..n], 6);
            if n >= 11 {
                // Cut inside the CID, or short of the declared length: dropped, never routed.
                assert_eq!(first, Err(DropReason::CidTruncated), "prefix {n}");
            } else {
                assert_eq!(first, Ok(None));
            }
        }
        assert_eq!(Records::new(&[], 6).next(), None);
    }

    #[test]
    fn walks_handshake_then_cid_records_and_stops_at_sixteen() {
        let mut d = hex("16 fefd 0000 000000000000 0003 010203");
        d.extend(hex(CID_RECORD));
        let rs: Vec<_> = Records::new(&d, 6).map(Result::unwrap).collect();
        assert_eq!(rs.len(), 2);
        assert_eq!((rs[0].content_type, rs[0].epoch, rs[0].cid, rs[0].body), (22, 0, &[][..], &[1, 2, 3][..]));
        assert!(rs[1].is_cid_record());
        assert_eq!(first_cid(&d, 6).unwrap().map(|c| c[0]), Some(2));

        let one = hex("17 fefd 0001 000000000001 0000");
        let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 20).collect();
        let got: Vec<_> = Records::new(&many, 6).collect();
        assert_eq!(got.len(), MAX_RECORDS + 1);
        assert_eq!(got[MAX_RECORDS], Err(RecordError::TooManyRecords));
        // A CID record behind 15 others is found; behind 16, the walk has stopped.
        for (before, expected) in [(MAX_RECORDS - 1, Some(2u8)), (MAX_RECORDS, None)] {
            let mut d: Vec<u8> = one.iter().copied().cycle().take(one.len() * before).collect();
            d.extend(hex(CID_RECORD));
            assert_eq!(first_cid(&d, 6).unwrap().map(|c| c[0]), expected, "{before} records before");
            assert_eq!(first_cid_by_records(&d, 6).unwrap().map(|c| c[0]), expected, "{before} records before");
        }
        // An overrunning handshake record is the session path's; an overrunning CID record
        // behind a complete handshake record is dropped.
        let mut overrun = hex("16 fefd 0000 000000000000 0003 010203");
        overrun.extend(&hex(CID_RECORD)[..30]);
        assert_eq!(first_cid(&overrun, 6), Err(DropReason::CidTruncated));
        assert_eq!(first_cid(&hex("16 fefd 0000 000000000000 0009 010203"), 6), Ok(None));
        // Other versions are not routed by CID.
        let mut old = hex(CID_RECORD);
        old[2] = 0xff;
        assert_eq!(first_cid(&old, 6), Ok(None));
    }

    proptest::proptest! {
        /// The fast path gives the walk's answer for any bytes: a record-shaped prefix (type
        /// 25 or 22, DTLS 1.2 or another version, any length field) and arbitrary tails.
        #[test]
        fn fast_path_agrees_with_the_walk(
            content_type in proptest::sample::select(vec![22u8, 23, 25]),
            version in proptest::sample::select(vec![0xfefdu16, 0xfeff, 0x0303]),
            length in 0u16..80,
            cid_len in 0usize..10,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
            cut in 0usize..200,
        ) {
            let mut d = vec![content_type];
            d.extend(version.to_be_bytes());
            d.extend([0u8; 8]);
            d.extend((0..cid_len).map(|i| i as u8 + 1));
            d.extend(length.to_be_bytes());
            d.extend(tail);
            d.truncate(cut.min(d.len()));
            proptest::prop_assert_eq!(first_cid(&d, cid_len), first_cid_by_walk(&d, cid_len));
            proptest::prop_assert_eq!(first_cid_by_walk(&d, cid_len), first_cid_by_records(&d, cid_len));
        }

        /// The walk gives the record iterator's answer on datagrams of many records (up to
        /// past MAX_RECORDS, any mix of types and versions, lengths that fit or overrun),
        /// cut anywhere.
        #[test]
        fn walk_agrees_with_the_record_iterator(
            records in proptest::collection::vec(
                (
                    proptest::sample::select(vec![20u8, 21, 22, 23, 25, 0]),
                    proptest::sample::select(vec![0xfefdu16, 0xfeff, 0x0303]),
                    0usize..12,
                    proptest::bool::weighted(0.9),
                ),
                0..20,
            ),
            cid_len in 0usize..10,
            cut in proptest::option::of(0usize..400),
        ) {
            let mut d = Vec::new();
            for (kind, version, body, honest) in records {
                d.push(kind);
                d.extend(version.to_be_bytes());
                d.extend([0u8; 8]);
                if kind == content_type::TLS12_CID {
                    d.extend((0..cid_len).map(|i| i as u8 + 7));
                }
                let declared = if honest { body } else { body + 50 };
                d.extend((declared as u16).to_be_bytes());
                d.extend(std::iter::repeat_n(0xab, body));
            }
            if let Some(cut) = cut {
                d.truncate(cut.min(d.len()));
            }
            proptest::prop_assert_eq!(first_cid_by_walk(&d, cid_len), first_cid_by_records(&d, cid_len));
            proptest::prop_assert_eq!(first_cid(&d, cid_len), first_cid_by_records(&d, cid_len));
        }
    }

    #[test]
    fn first_client_hello_is_one_without_a_cookie() {
        use crate::wire::build::dtls as build;
        assert!(is_first_client_hello(&build::client_hello_with(&[], &[])));
        assert!(is_first_client_hello(&build::client_hello_with(&[7; 32], &[])), "a resuming client's first ClientHello");
        assert!(!is_first_client_hello(&build::client_hello_with(&[], &[9; 20])), "the second ClientHello carries the cookie");
        assert!(!is_first_client_hello(&build::client_hello_with(&[7; 32], &[9; 32])));
        // Opaque filler where the session ID length would be (90 > 32): not readable, so not one.
        assert!(!is_first_client_hello(&build::client_hello(60)));
        let first = build::client_hello_with(&[], &[]);
        let with = |at: usize, byte: u8| {
            let mut d = first.clone();
            d[at] = byte;
            d
        };
        assert!(!is_first_client_hello(&with(0, content_type::ALERT)), "not a handshake record");
        assert!(!is_first_client_hello(&with(1, 0x03)), "not DTLS");
        assert!(!is_first_client_hello(&with(4, 1)), "epoch 1: encrypted, not a first flight");
        assert!(!is_first_client_hello(&with(13, 2)), "a ServerHello");
        assert!(!is_first_client_hello(&with(19, 1)), "a later fragment of the message");
        // Every truncation: never a panic, and `true` only once the cookie length byte is in.
        let cookie_length_at = 13 + 12 + 2 + 32 + 1;
        for cut in 0..first.len() {
            let mut d = first[..cut].to_vec();
            assert!(!is_first_client_hello(&d), "cut at {cut}");
            // The same bytes with the record and fragment lengths shrunk to fit.
            if cut > cookie_length_at {
                let record = (cut - 13) as u16;
                d[11..13].copy_from_slice(&record.to_be_bytes());
                let fragment = (cut - 25) as u32;
                d[22..25].copy_from_slice(&fragment.to_be_bytes()[1..]);
                assert!(is_first_client_hello(&d), "shrunk to {cut}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn first_client_hello_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = is_first_client_hello(&data);
        }
    }
}
