//! Maps between dotted key paths (`service[1].nodes[0]`) and places in the TOML source.
//!
//! serde reports a byte span but no key, and semantic validation knows the key but not the
//! place: toml_edit's `ImDocument` keeps the span of every key and value, so it answers both
//! questions without a second parser.

use std::fmt;
use std::ops::Range;
use toml_edit::{ImDocument, Item, TableLike, Value};

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// A dotted key path as operators write it: `node[0].health.interval`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// Parses the form `Display` prints. Keys in the schema never contain `.` or `[`.
    pub fn parse(path: &str) -> KeyPath {
        let mut segments = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                segments.push(Segment::Key(name.to_string()));
            }
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(index) = stripped[..end].parse() {
                    segments.push(Segment::Index(index));
                }
                rest = &stripped[end + 1..];
            }
        }
        KeyPath(segments)
    }

    pub fn push(&self, segment: Segment) -> KeyPath {
        let mut segments = self.0.clone();
        segments.push(segment);
        KeyPath(segments)
    }

    /// How to name the table this path points at in a message: `[dataplane]`,
    /// `[[service]] #2`, `node[0].health`, or "the top level".
    pub fn table_name(&self) -> String {
        match self.0.as_slice() {
            [] => "the top-level table".to_string(),
            [Segment::Key(name)] => format!("[{name}]"),
            [Segment::Key(name), Segment::Index(i)] => format!("[[{name}]] #{}", i + 1),
            _ => format!("`{self}`"),
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A place in the document tree: toml_edit has distinct types for the ways TOML nests.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    /// An element of an array of tables: a `Table` that is not wrapped in an `Item`.
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(item) => item.span(),
            Node::Table(table) => table.span(),
            Node::Value(value) => value.span(),
        }
    }

    fn table(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(table) => Some(table as &dyn TableLike),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    /// Whether this node's own span is only a header (`[table]`, `[[array]]`) rather than
    /// the whole of its contents, so a search must look inside regardless.
    fn span_is_header(self) -> bool {
        matches!(self, Node::Item(Item::Table(_)) | Node::Item(Item::ArrayOfTables(_)) | Node::Table(_))
    }

    /// The key's span (when the child is a keyed entry) and the child.
    fn child(self, segment: &Segment) -> Option<(Option<Range<usize>>, Node<'a>)> {
        match segment {
            Segment::Key(name) => {
                let (key, item) = self.table()?.get_key_value(name)?;
                Some((key.span(), Node::Item(item)))
            }
            Segment::Index(i) => match self {
                Node::Item(Item::ArrayOfTables(array)) => {
                    let table = array.get(*i)?;
                    Some((None, Node::Table(table)))
                }
                Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => {
                    Some((None, Node::Value(array.get(*i)?)))
                }
                _ => None,
            },
        }
    }

    fn children(self) -> Vec<Segment> {
        if let Some(table) = self.table() {
            return table.iter().map(|(k, _)| Segment::Key(k.to_string())).collect();
        }
        let len = match self {
            Node::Item(Item::ArrayOfTables(array)) => array.len(),
            Node::Item(Item::Value(Value::Array(array))) | Node::Value(Value::Array(array)) => array.len(),
            _ => 0,
        };
        (0..len).map(Segment::Index).collect()
    }
}


/// The parsed source with spans, for locating keys.
pub(crate) struct Locator<'a> {
    text: &'a str,
    document: Option<ImDocument<&'a str>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Locator<'a> {
        Locator { text, document: ImDocument::parse(text).ok() }
    }

    /// The source text of a span, empty when the span does not fit the text.
    pub fn text_at(&self, span: &Range<usize>) -> &'a str {
        self.text.get(span.clone()).unwrap_or("")
    }

    /// 1-based line of a byte offset.
    pub fn line_of_offset(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
    }

    /// The span of the key at `path` (or of the array element), else of the nearest
    /// ancestor that is written in the file: a key left at its default has no line of its
    /// own, so the error points at its table.
    pub fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let document = self.document.as_ref()?;
        let mut node = Node::Item(document.as_item());
        let mut best = None;
        for segment in &path.0 {
            let Some((key_span, child)) = node.child(segment) else { break };
            if let Some(span) = key_span.or_else(|| child.span()) {
                best = Some(span);
            }
            node = child;
        }
        best
    }

    pub fn line_of(&self, path: &KeyPath) -> Option<usize> {
        self.span_of(path).map(|span| self.line_of_offset(span.start))
    }

    /// The deepest key path whose key or value covers `offset`: turns a serde error's span
    /// into the key an operator must edit.
    pub fn path_at(&self, offset: usize) -> KeyPath {
        let Some(document) = self.document.as_ref() else { return KeyPath::default() };
        find(Node::Item(document.as_item()), offset, &KeyPath::default()).unwrap_or_default()
    }
}

fn covers(span: &Option<Range<usize>>, offset: usize) -> bool {
    span.as_ref().is_some_and(|s| s.start <= offset && (offset < s.end || s.is_empty() && offset == s.start))
}

fn find(node: Node<'_>, offset: usize, path: &KeyPath) -> Option<KeyPath> {
    for segment in node.children() {
        let Some((key_span, child)) = node.child(&segment) else { continue };
        let child_path = path.push(segment);
        if covers(&key_span, offset) {
            return Some(child_path);
        }
        let child_span = child.span();
        if covers(&child_span, offset) || child.span_is_header() {
            if let Some(deeper) = find(child, offset, &child_path) {
                return Some(deeper);
            }
            if covers(&child_span, offset) {
                return Some(child_path);
            }
        }
    }
    None
}
