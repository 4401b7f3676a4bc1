//! The `X-Amzn-Trace-Id` header, and trace and segment id generation.
//!
//! Written by hand: there is no maintained X-Ray SDK for Rust. The format is
//! `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1|?>`, in any order, with
//! other fields (`Lineage`, `Self`, vendor keys) passed on untouched.

use rand::Rng;

use crate::error::{Error, Result};

/// The sampling decision a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampled {
    /// `Sampled=1`.
    Yes,
    /// `Sampled=0`.
    No,
    /// `Sampled=?`: the receiver decides.
    Requested,
}

/// A parsed trace header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// The trace id.
    pub root: String,
    /// The caller's segment or subsegment id.
    pub parent: Option<String>,
    /// The sampling decision.
    pub sampled: Option<Sampled>,
    /// Other fields (`Lineage=...`, `Self=...`), in order, as written.
    pub other: Vec<(String, String)>,
}

impl TraceHeader {
    /// A new root for a trace starting now (`epoch` seconds), sampled or not.
    pub fn new_root(epoch: u64, rng: &mut impl Rng, sampled: bool) -> Self {
        Self {
            root: new_trace_id(epoch, rng),
            parent: None,
            sampled: Some(if sampled { Sampled::Yes } else { Sampled::No }),
            other: Vec::new(),
        }
    }

    /// Parses a header value (with or without the `X-Amzn-Trace-Id:` name).
    pub fn parse(text: &str) -> Result<Self> {
        let value = text
            .split_once(':')
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("x-amzn-trace-id"))
            .map_or(text, |(_, v)| v);
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        let mut other = Vec::new();
        for field in value.split(';').map(str::trim).filter(|f| !f.is_empty()) {
            let (key, val) = field.split_once('=').unwrap_or((field, ""));
            match key {
                "Root" => {
                    if !schema::is_trace_id(val) {
                        return Err(Error::TraceHeaderField {
                            field: "Root",
                            value: val.into(),
                        });
                    }
                    root = Some(val.to_owned());
                }
                "Parent" => {
                    if !schema::is_segment_id(val) {
                        return Err(Error::TraceHeaderField {
                            field: "Parent",
                            value: val.into(),
                        });
                    }
                    parent = Some(val.to_owned());
                }
                "Sampled" => {
                    sampled = match val {
                        "1" => Some(Sampled::Yes),
                        "0" => Some(Sampled::No),
                        "?" => Some(Sampled::Requested),
                        _ => {
                            return Err(Error::TraceHeaderField {
                                field: "Sampled",
                                value: val.into(),
                            });
                        }
                    }
                }
                _ => other.push((key.to_owned(), val.to_owned())),
            }
        }
        Ok(Self {
            root: root.ok_or_else(|| Error::TraceHeaderNoRoot {
                header: text.to_owned(),
            })?,
            parent,
            sampled,
            other,
        })
    }

    /// The same trace, continued under `parent`.
    pub fn child(&self, parent: &str) -> Self {
        Self {
            parent: Some(parent.to_owned()),
            ..self.clone()
        }
    }

    /// True unless the header says `Sampled=0`.
    pub fn is_sampled(&self) -> bool {
        self.sampled != Some(Sampled::No)
    }
}

impl std::fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(p) = &self.parent {
            write!(f, ";Parent={p}")?;
        }
        if let Some(s) = self.sampled {
            let v = match s {
                Sampled::Yes => "1",
                Sampled::No => "0",
                Sampled::Requested => "?",
            };
            write!(f, ";Sampled={v}")?;
        }
        for (k, v) in &self.other {
            if v.is_empty() {
                write!(f, ";{k}")?;
            } else {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// `1-<epoch as 8 hex>-<96 random bits as 24 hex>`.
pub fn new_trace_id(epoch: u64, rng: &mut impl Rng) -> String {
    let hi: u32 = rng.random();
    let lo: u64 = rng.random();
    format!("1-{:08x}-{hi:08x}{lo:016x}", epoch as u32)
}

/// 64 random bits as 16 hex digits.
pub fn new_segment_id(rng: &mut impl Rng) -> String {
    format!("{:016x}", rng.random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn round_trips_and_keeps_lineage() {
        let text = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5";
        let h = TraceHeader::parse(text).unwrap();
        assert_eq!(h.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(h.sampled, Some(Sampled::Yes));
        assert_eq!(h.to_string(), text);
        let named = TraceHeader::parse(&format!("X-Amzn-Trace-Id: {text}")).unwrap();
        assert_eq!(named, h);
    }

    #[test]
    fn order_does_not_matter_and_sampled_may_be_asked() {
        let h = TraceHeader::parse("Sampled=?;Self=1-abc;Root=1-5759e988-bd862e3fe1be46a994272793")
            .unwrap();
        assert_eq!(h.sampled, Some(Sampled::Requested));
        assert!(h.is_sampled());
        assert_eq!(h.other, vec![("Self".into(), "1-abc".into())]);
    }

    #[test]
    fn refuses_malformed_headers() {
        assert!(matches!(
            TraceHeader::parse("Parent=53995c3f42cd8ad8"),
            Err(Error::TraceHeaderNoRoot { .. })
        ));
        assert!(TraceHeader::parse("Root=1-xyz-abc").is_err());
        assert!(
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=short").is_err()
        );
        assert!(
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes").is_err()
        );
    }

    #[test]
    fn generated_ids_are_valid() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let h = TraceHeader::new_root(1_772_409_600, &mut rng, true);
        assert!(schema::is_trace_id(&h.root));
        assert!(h.root.starts_with("1-69a4d300-"));
        let child = h.child(&new_segment_id(&mut rng));
        assert_eq!(TraceHeader::parse(&child.to_string()).unwrap(), child);
    }
}
