//! The cidlb configuration: a TOML file whose names are the contract in DESIGN.md.
//!
//! `parse` turns text into a validated [`Config`]; every error names the offending key
//! (as a dotted path such as `service[1].nodes`) and its line in the file, so an operator can
//! run `cidlb check` before a reload and fix what it says. [`parse_all`] reports every
//! semantic error at once; [`Config::summary`] is what `cidlb check` prints on success.
//!
//! ```
//! let text = r#"
//! [dataplane]
//! worker = [1]
//! "#;
//! let error = cidlb_config::parse(text, "cidlb.toml").unwrap_err();
//! assert_eq!(error.key, "dataplane.worker");
//! assert_eq!(error.line, Some(3));
//! assert!(error.to_string().starts_with("cidlb.toml:3: `dataplane.worker`: unknown key `worker` in [dataplane]"));
//! ```
#![forbid(unsafe_code)]

mod locate;
mod rules;
mod schema;
mod summary;
mod types;
mod validate;

pub use schema::*;
pub use types::{DurationValue, MacAddr};
pub use validate::{load, load_all, parse, parse_all, ConfigError};
