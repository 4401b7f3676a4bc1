//! The string and number tokens of a JSON text, each with its byte span, its decoded value
//! and where it sits (the keys above it), and [`splice`], which replaces some tokens and
//! leaves every other byte as it was.
//!
//! Redaction must look at values (escapes decoded, object keys included), yet a document
//! with nothing to redact must keep its exact bytes, and one with something to redact must
//! keep its key order, spacing and number spellings everywhere else. A parse into
//! `serde_json::Value` and back re-spells numbers and escapes; `RawValue` gives spans only of
//! whole values, not of keys or of the scalars inside them; no maintained crate edits
//! scalars of a JSON text in place. So this small tokenizer is written by hand. It does not
//! validate: the document is parsed properly after redaction, and a text this tokenizer
//! cannot follow is redacted as plain text instead.

use std::borrow::Cow;
use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An object key.
    Key,
    /// A string value.
    String,
    /// A number.
    Number,
}

/// One open object or array around a token.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'t> {
    /// For an object: the key whose value is being read (raw, escapes not decoded). For an
    /// array: the key the array is the value of.
    pub key: Option<&'t str>,
    /// True for an object, false for an array.
    pub is_object: bool,
    /// The object's number in document order, from 1 (for an array: its object's).
    pub object: usize,
}

/// A key, string or number token.
#[derive(Debug)]
pub struct Token<'a, 't> {
    /// What it is.
    pub kind: TokenKind,
    /// Its bytes in the text, quotes included.
    pub span: Range<usize>,
    /// The decoded string, or the number as written.
    pub value: Cow<'t, str>,
    /// The token as written, without quotes.
    pub raw: &'t str,
    /// The open objects and arrays around it, outermost first.
    pub path: &'a [Frame<'t>],
}

impl Token<'_, '_> {
    /// The key a value is under (for an array element, the array's key); `None` for keys.
    pub fn key(&self) -> Option<&str> {
        self.path.last().and_then(|f| f.key)
    }

    /// True when it is an element of an array.
    pub fn in_array(&self) -> bool {
        self.path.last().is_some_and(|f| !f.is_object)
    }

    /// The object it belongs to (its number in document order).
    pub fn object(&self) -> usize {
        self.path.last().map_or(0, |f| f.object)
    }
}

/// The text is not JSON this tokenizer can follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not JSON the card and email scanner can follow (at byte {at})")]
pub struct SyntaxError {
    /// Byte offset.
    pub at: usize,
}

/// Calls `f` with every key, string and number token of `text`, in order.
pub fn tokens<'t>(text: &'t str, f: &mut dyn FnMut(&Token<'_, 't>)) -> Result<(), SyntaxError> {
    let b = text.as_bytes();
    let mut stack: Vec<Frame<'t>> = Vec::with_capacity(16);
    let mut objects = 0;
    let mut expect_key = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\n' | b'\r' | b'\t' | b':' => i += 1,
            b',' => {
                expect_key = stack.last().is_some_and(|f| f.is_object);
                i += 1;
            }
            b'{' => {
                objects += 1;
                stack.push(Frame {
                    key: None,
                    is_object: true,
                    object: objects,
                });
                expect_key = true;
                i += 1;
            }
            b'[' => {
                let (key, object) = stack.last().map_or((None, 0), |f| (f.key, f.object));
                stack.push(Frame {
                    key,
                    is_object: false,
                    object,
                });
                expect_key = false;
                i += 1;
            }
            c @ (b'}' | b']') => {
                match stack.pop() {
                    Some(f) if f.is_object == (c == b'}') => {}
                    _ => return Err(SyntaxError { at: i }),
                }
                expect_key = false;
                i += 1;
            }
            b'"' => {
                let mut j = i + 1;
                let mut escaped = false;
                loop {
                    match memchr::memchr2(b'"', b'\\', &b[j..]) {
                        Some(n) if b[j + n] == b'\\' => {
                            escaped = true;
                            j += n + 2;
                            if j > b.len() {
                                return Err(SyntaxError { at: i });
                            }
                        }
                        Some(n) => {
                            j += n;
                            break;
                        }
                        None => return Err(SyntaxError { at: i }),
                    }
                }
                let span = i..j + 1;
                let raw = &text[i + 1..j];
                let value = if escaped {
                    Cow::Owned(
                        serde_json::from_str::<String>(&text[span.clone()])
                            .map_err(|_| SyntaxError { at: i })?,
                    )
                } else {
                    Cow::Borrowed(raw)
                };
                let kind = if expect_key {
                    if let Some(top) = stack.last_mut() {
                        top.key = None;
                    }
                    TokenKind::Key
                } else {
                    TokenKind::String
                };
                f(&Token {
                    kind,
                    span,
                    value,
                    raw,
                    path: &stack,
                });
                if expect_key && let Some(top) = stack.last_mut() {
                    top.key = Some(raw);
                }
                expect_key = false;
                i = j + 1;
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && matches!(b[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    j += 1;
                }
                let raw = &text[i..j];
                f(&Token {
                    kind: TokenKind::Number,
                    span: i..j,
                    value: Cow::Borrowed(raw),
                    raw,
                    path: &stack,
                });
                i = j;
            }
            b't' | b'f' | b'n' => {
                let word = [&b"true"[..], b"false", b"null"]
                    .into_iter()
                    .find(|w| b[i..].starts_with(w))
                    .ok_or(SyntaxError { at: i })?;
                i += word.len();
            }
            _ => return Err(SyntaxError { at: i }),
        }
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(SyntaxError { at: b.len() })
    }
}

/// `text` with each span in `edits` replaced by its text. Spans must not overlap; they may
/// come in any order.
pub fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let grow: usize = edits.iter().map(|(_, s)| s.len()).sum();
    let mut out = String::with_capacity(text.len() + grow);
    let mut at = 0;
    for (r, replacement) in edits {
        out.push_str(&text[at..r.start]);
        out.push_str(&replacement);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A string as a JSON string token (quoted, escaped).
pub fn quote(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<(TokenKind, String, Option<String>, bool, String)> {
        let mut out = Vec::new();
        tokens(text, &mut |t| {
            out.push((
                t.kind,
                t.value.to_string(),
                t.key().map(str::to_owned),
                t.in_array(),
                text[t.span.clone()].to_owned(),
            ))
        })
        .unwrap();
        out
    }

    #[test]
    fn tokens_with_their_keys_spans_and_decoded_values() {
        let text = r#"{"a": "x\u0034y", "n": [1.5e3, -2, {"k": true}], "e": {}, "q\"": null}"#;
        let t = all(text);
        use TokenKind::*;
        assert_eq!(t[0], (Key, "a".into(), None, false, r#""a""#.into()));
        assert_eq!(
            t[1],
            (
                String,
                "x4y".into(),
                Some("a".into()),
                false,
                r#""x\u0034y""#.into()
            )
        );
        assert_eq!(
            t[3],
            (
                Number,
                "1.5e3".into(),
                Some("n".into()),
                true,
                "1.5e3".into()
            )
        );
        assert_eq!(t[4].1, "-2");
        assert_eq!(t[5], (Key, "k".into(), None, false, r#""k""#.into()));
        assert_eq!(t[6], (Key, "e".into(), None, false, r#""e""#.into()));
        assert_eq!(t[7], (Key, "q\"".into(), None, false, r#""q\"""#.into()));
        assert_eq!(t.len(), 8);
    }

    #[test]
    fn what_it_cannot_follow_is_an_error() {
        for text in [
            r#"{"a": "x"#,
            r#"{"a": [1}"#,
            r#"{"a": tru}"#,
            "{'a': 1}",
            r#"{"a":"\q"}"#,
        ] {
            assert!(tokens(text, &mut |_| {}).is_err(), "{text}");
        }
    }

    fn expected(v: &serde_json::Value, out: &mut Vec<(TokenKind, String)>) {
        use serde_json::Value;
        match v {
            Value::String(s) => out.push((TokenKind::String, s.clone())),
            Value::Number(n) => out.push((TokenKind::Number, n.to_string())),
            Value::Array(a) => a.iter().for_each(|x| expected(x, out)),
            Value::Object(m) => {
                for (k, x) in m {
                    out.push((TokenKind::Key, k.clone()));
                    expected(x, out);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
            "[\"\\\\/\n\t\u{1}a-z0-9 ]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Every token of any JSON text, compact or pretty, in order, decoded as serde_json
        /// decodes it; and a splice without edits gives the same bytes back.
        #[test]
        fn tokens_of_any_json(v in json_value(), pretty in proptest::prelude::any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { v.to_string() };
            let mut got = Vec::new();
            tokens(&text, &mut |t| got.push((t.kind, t.value.to_string()))).unwrap();
            let mut want = Vec::new();
            expected(&v, &mut want);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(splice(&text, Vec::new()), text);
        }
    }

    #[test]
    fn splice_replaces_only_the_spans() {
        let text = r#"{ "a" : 1,  "b":"c" }"#;
        let out = splice(text, vec![(16..19, quote("d\"")), (8..9, quote("x"))]);
        assert_eq!(out, r#"{ "a" : "x",  "b":"d\"" }"#);
    }
}
