//! The README keeps up with the code: every drop reason is explained and the configuration
//! reference is the example file the config tests parse.

use cidlb_dataplane::counters::DropReason;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

#[test]
fn every_drop_reason_is_in_the_readme_table() {
    let readme = readme();
    for reason in DropReason::ALL {
        assert!(readme.contains(&format!("| `{}` |", reason.name())), "README's drop reason table lacks `{}`", reason.name());
    }
}

#[test]
fn the_configuration_reference_is_the_example_file() {
    let readme = readme();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples/cidlb.toml")).expect("example");
    let start = readme.find("<!-- config:start -->\n```toml\n").expect("config markers in README") + "<!-- config:start -->\n```toml\n".len();
    let end = readme[start..].find("```\n<!-- config:end -->").expect("end marker") + start;
    assert_eq!(readme[start..end].trim_end(), example.trim_end(), "README's configuration reference is stale: run scripts/readme-config.sh");
}
