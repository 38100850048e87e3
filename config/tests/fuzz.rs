//! No input panics: mutated copies of the example and random TOML-ish text all come back
//! as `Ok` or as an error with a sensible line.

mod support;
use support::*;

const EXAMPLE: &str = include_str!("../examples/cidlb.toml");

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "[", "]", "[[", "]]", "=", "\"", "'", "\n", "#", ",", "{", "}", ".", "0", "-1", "99999999999", "\"\"", "[[service]]\n",
    "[node.health]\n", "port", "vip", "nodes", "é", "\\", "\"\"\"", "1e9", "true", "::", "/", "0x", "inf", "nan",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(chars.len() + 1).min(chars.len());
        match rng.below(5) {
            0 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(20)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            2 if at < chars.len() => chars[at] = char::from(b' ' + rng.below(95) as u8),
            3 => {
                // Duplicate a line: duplicate keys and tables.
                let lines: Vec<&str> = text.lines().collect();
                let line = lines[rng.below(lines.len())];
                chars.splice(at..at, format!("\n{line}\n").chars());
            }
            _ => {
                let digit = char::from(b'0' + rng.below(10) as u8);
                chars.splice(at..at, [digit]);
            }
        }
    }
    chars.into_iter().collect()
}

fn check(text: &str) {
    let lines = text.lines().count() + 1;
    match parse_all(text, "fuzz.toml") {
        Ok(config) => {
            let _ = config.summary();
            let _ = config.dataplane.hash_key_bytes();
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.line.is_none_or(|l| (1..=lines).contains(&l)), "line {:?} of {} in {e}\n{text}", e.line, lines);
                assert!(!e.message.is_empty(), "empty message: {e:?}\n{text:?}");
                let _ = e.to_string();
            }
        }
    }
}

#[test]
fn mutated_example_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1500 {
        check(&mutate(&mut rng, EXAMPLE));
    }
}

#[test]
fn mutated_base_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..1500 {
        check(&mutate(&mut rng, BASE));
    }
}

#[test]
fn random_text_never_panics() {
    let mut rng = Rng(7);
    for _ in 0..1500 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        check(&text);
    }
}
