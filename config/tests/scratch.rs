#[test]
fn scratch() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cidlb.toml")).unwrap();
    match cidlb_config::parse_all(&text, "cidlb.toml") {
        Ok(c) => println!("{}", c.summary()),
        Err(es) => for e in es { println!("{e}") },
    }
}
