//! Parsing and validation. (Filled in by the config work: see README.)
use crate::schema::Config;
use std::fmt;
use std::path::Path;

/// A rejected configuration: which file, which key (dotted path), which line, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    /// Dotted key path, e.g. `service[1].nodes`; empty when the whole file is at fault.
    pub key: String,
    /// 1-based line of the key in the file, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: ", self.file, l)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError {
        file: origin.to_string(),
        key: String::new(),
        line: e.span().map(|s| text[..s.start].matches('\n').count() + 1),
        message: e.message().to_string(),
    })
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        key: String::new(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, &path.display().to_string())
}
