//! Parsing and validation: TOML through serde, then the rules serde cannot express. Every
//! error names the file, the dotted key path and the line of that key, because the operator
//! reading it is about to edit that line.

use crate::locate::{KeyPath, Locator, Segment};
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

/// Parses and validates a configuration; `origin` names the file in errors. Returns the
/// first error in file order; [`parse_all`] returns every semantic error at once.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_all(text, origin).map_err(|mut errors| errors.swap_remove(0))
}

/// Like [`parse`], but reports every semantic error, sorted by line (for `cidlb check`).
/// A syntax or type error stops serde, so it comes alone. The vector is never empty.
pub fn parse_all(text: &str, origin: &str) -> Result<Config, Vec<ConfigError>> {
    let locator = Locator::new(text);
    let config: Config = toml::from_str(text).map_err(|e| vec![serde_error(&e, &locator, origin)])?;
    let mut problems = Vec::new();
    crate::rules::check(&config, &locator, &mut problems);
    if problems.is_empty() {
        return Ok(config);
    }
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|(key, message)| {
            let line = locator.line_of(&key);
            ConfigError { file: origin.to_string(), key: key.to_string(), line, message }
        })
        .collect();
    // File order: the operator fixes top to bottom. Errors without a line go last.
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    Err(errors)
}

/// Reads and parses a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_all(path).map_err(|mut errors| errors.swap_remove(0))
}

/// Reads a configuration file and reports every semantic error, as [`parse_all`].
pub fn load_all(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        vec![ConfigError { file: file.clone(), key: String::new(), line: None, message: format!("cannot read: {e}") }]
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        vec![ConfigError {
            file: file.clone(),
            key: String::new(),
            line: None,
            message: format!("not UTF-8 text (invalid byte at offset {}); TOML files are UTF-8", e.utf8_error().valid_up_to()),
        }]
    })?;
    parse_all(&text, &file)
}

/// Turns a toml/serde error into one with a key path: serde knows the span, toml_edit's
/// spans know which key covers it.
fn serde_error(error: &toml::de::Error, locator: &Locator<'_>, origin: &str) -> ConfigError {
    // toml's syntax messages span lines ("invalid table header\nexpected ..."): one line reads
    // better after the `file:line:` prefix.
    let mut message = error.message().trim_end().lines().map(str::trim).collect::<Vec<_>>().join("; ");
    if message.is_empty() {
        // toml has no words for some syntax errors (a key at the end of the file with no
        // value); still tell the operator what to look for.
        message = "invalid TOML here: a key without a value, or an unclosed bracket or quote?".to_string();
    }
    let Some(span) = error.span() else {
        return ConfigError { file: origin.to_string(), key: String::new(), line: None, message };
    };
    let mut line = Some(locator.line_of_offset(span.start));
    let path = locator.path_at(span.start);
    let (path, message) = if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde: "unknown field `x`, expected one of `a`, `b`". The span is the key itself.
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected.trim_start_matches(',').trim();
        let table = match path.0.last() {
            Some(Segment::Key(last)) if last == name => KeyPath(path.0[..path.0.len() - 1].to_vec()),
            _ => path.clone(),
        };
        let hint = match expected.strip_prefix("expected ") {
            Some(list) => format!("; expected {list}"),
            None if !expected.is_empty() => format!("; {expected}"),
            None => String::new(),
        };
        (table.push(Segment::Key(name.to_string())), format!("unknown key `{name}` in {}{hint}", table.table_name()))
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        // The span covers the table that lacks the key; point at its header.
        let name = rest.split('`').next().unwrap_or(rest);
        let table = path;
        if let Some(header) = locator.span_of(&table) {
            line = Some(locator.line_of_offset(header.start));
        }
        (table.push(Segment::Key(name.to_string())), format!("missing key `{name}` in {}: it is required", table.table_name()))
    } else if message.starts_with("invalid IP address syntax") || message.starts_with("invalid socket address syntax") {
        // ipnet/std name no value and no expected form: say both.
        let written = locator.text_at(&span).trim().trim_matches(|c| c == '"' || c == '\'');
        (path.clone(), format!("`{written}` is not {}", expected_address_form(&path)))
    } else {
        (path, message)
    };
    ConfigError { file: origin.to_string(), key: path.to_string(), line, message }
}

/// What an address-typed key expects, by its name in the schema.
fn expected_address_form(path: &KeyPath) -> &'static str {
    match path.0.last() {
        Some(Segment::Key(k)) if k == "ipv4" => "an IPv4 address with prefix length, like \"192.0.2.1/24\"",
        Some(Segment::Key(k)) if k == "ipv6" => "an IPv6 address with prefix length, like \"2001:db8::1/64\"",
        Some(Segment::Key(k)) if k == "gateway4" => "an IPv4 address, like \"192.0.2.254\"",
        Some(Segment::Key(k)) if k == "gateway6" => "an IPv6 address, like \"2001:db8::fe\"",
        Some(Segment::Key(k)) if k == "metrics" => "an address and port, like \"127.0.0.1:9781\" or \"[::1]:9781\"",
        _ => "an IP address, like \"192.0.2.10\" or \"2001:db8::10\"",
    }
}
