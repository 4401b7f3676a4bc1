//! The X-Ray segment document model: segments, subsegments and every documented block.
//!
//! Parsing is lenient and keeps everything:
//! - unknown top-level fields are kept in [`SegmentDocument::extra`] as raw JSON;
//! - the `aws`, `cause`, `sql`, `service` and `metadata` blocks keep their raw JSON text next
//!   to the typed view ([`Raw`]), so nothing an SDK wrote is dropped;
//! - the number forms X-Ray emits are accepted (`1.478293361449E9`, integers, numbers
//!   written as strings).
//!
//! Parsing never decides validity; [`crate::validate`] does, with a precise reason.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One X-Ray segment document, or a subsegment nested inside one.
///
/// The larger blocks (`http`, `aws`, `cause`, `sql`) are boxed, so a document without them,
/// and each nested subsegment, stays small: an export holds tens of thousands at once.
///
/// Fields that X-Ray requires are `Option` here: a document is parsed first and validated
/// second, so a missing field gets a precise quarantine reason instead of a parse error.
///
/// ```
/// let doc: schema::SegmentDocument = serde_json::from_str(
///     r#"{"name":"example.com","id":"70de5b6f19ff9a0a","start_time":1.478293361271E9,
///         "trace_id":"1-581cf771-a006649127e371903a2de979","end_time":1.478293361449E9}"#,
/// ).unwrap();
/// assert_eq!(doc.name.as_deref(), Some("example.com"));
/// assert_eq!(doc.start_time, Some(1478293361.271));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentDocument {
    /// 16 hex digits, unique within the trace.
    pub id: Option<String>,
    /// The logical name of the service or operation (up to 200 characters in X-Ray).
    pub name: Option<String>,
    /// `1-<8 hex epoch>-<24 hex>`; only on top-level documents.
    pub trace_id: Option<String>,
    /// Epoch seconds with fractional microseconds, as X-Ray wrote it.
    pub start_time: Option<f64>,
    /// Epoch seconds; absent while `in_progress` is true.
    pub end_time: Option<f64>,
    /// True when the work has started and not yet finished.
    pub in_progress: Option<bool>,
    /// The calling segment or subsegment.
    pub parent_id: Option<String>,
    /// `subsegment` on an independently sent subsegment.
    pub kind: Option<String>,
    /// `aws` for AWS SDK calls, `remote` for other downstream calls.
    pub namespace: Option<String>,
    /// Resource type, such as `AWS::Lambda::Function` or `AWS::EC2::Instance`.
    pub origin: Option<String>,
    /// The user who made the request.
    pub user: Option<String>,
    /// ARN of the resource that ran the work.
    pub resource_arn: Option<String>,
    /// Ids of subsegments that completed before this one started.
    pub precursor_ids: Vec<String>,
    /// True on segments that X-Ray inferred from a downstream call.
    pub inferred: Option<bool>,
    /// True when the downstream call was itself traced.
    pub traced: Option<bool>,
    /// Information about the service (`version`, compiler, ...), kept as written.
    pub service: Option<RawJson>,
    /// The HTTP request served or made.
    pub http: Option<Box<Http>>,
    /// AWS resource information (service-specific keys kept in the raw text).
    pub aws: Option<Box<Raw<Aws>>>,
    /// A client error (4xx).
    pub error: Option<bool>,
    /// A request was throttled (429).
    pub throttle: Option<bool>,
    /// A server error (5xx).
    pub fault: Option<bool>,
    /// The exception behind an error or fault.
    pub cause: Option<Box<Raw<Cause>>>,
    /// Indexed key-value pairs (string, number or boolean values), in document order.
    pub annotations: Vec<(String, AnnotationValue)>,
    /// Any JSON the application attached, kept as written.
    pub metadata: Option<RawJson>,
    /// A SQL query made by the work.
    pub sql: Option<Box<Raw<Sql>>>,
    /// Nested subsegments.
    pub subsegments: Vec<SegmentDocument>,
    /// Fields this model does not know, in document order, kept as raw JSON.
    pub extra: Vec<(String, RawJson)>,
}

impl SegmentDocument {
    /// Parses one segment document from JSON text (no validation).
    pub fn parse(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(text)
    }

    /// True when this document was sent as an independent subsegment (`type: subsegment`).
    pub fn is_subsegment(&self) -> bool {
        self.kind.as_deref() == Some("subsegment")
    }

    /// The value of annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&AnnotationValue> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Number of spans this document flattens to: itself plus every nested subsegment.
    pub fn span_count(&self) -> usize {
        1 + self
            .subsegments
            .iter()
            .map(SegmentDocument::span_count)
            .sum::<usize>()
    }
}

/// An annotation value: X-Ray allows strings, numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationValue {
    /// A string annotation.
    String(String),
    /// A number annotation, exactly as JSON gave it.
    Number(serde_json::Number),
    /// A boolean annotation.
    Bool(bool),
}

impl fmt::Display for AnnotationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl From<&str> for AnnotationValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for AnnotationValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for AnnotationValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<i64> for AnnotationValue {
    fn from(n: i64) -> Self {
        Self::Number(n.into())
    }
}

impl AnnotationValue {
    /// The value as a string slice, when it is a string annotation.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

/// HTTP information on a segment or subsegment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    /// The request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// An HTTP request as X-Ray records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Full URL, including scheme, host, path and query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The caller's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// True when `client_ip` came from `X-Forwarded-For` and may be forged.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub x_forwarded_for: Option<bool>,
    /// True on a downstream call to a service that is itself traced.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub traced: Option<bool>,
}

/// An HTTP response as X-Ray records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code.
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    /// Body length in bytes; SDKs write `-1` for unknown and sometimes a string.
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_length: Option<i64>,
}

/// The typed view of an `aws` block. Service-specific keys (`function_name`, `topic_arn`,
/// `api_gateway`, ...) stay in the raw text of the enclosing [`Raw`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aws {
    /// The API operation called (`PutItem`, `SendMessage`, `Invoke`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Region of the called resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The AWS request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// URL of the SQS queue called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// Name of the DynamoDB table called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// The account that ran the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How many times the SDK retried the call.
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub retries: Option<i64>,
    /// X-Ray SDK information (`sdk`, `sdk_version`, `sampling_rule_name`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray: Option<RawJson>,
    /// EC2 instance information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<RawJson>,
    /// ECS container information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<RawJson>,
    /// EKS pod information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<RawJson>,
    /// Elastic Beanstalk environment information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic_beanstalk: Option<RawJson>,
    /// CloudWatch Logs groups the work wrote to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs: Option<RawJson>,
}

/// The `cause` of an error or fault: an exception id pointing elsewhere in the trace, or the
/// exceptions themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cause {
    /// A 16-hex exception id recorded on another subsegment.
    ExceptionId(String),
    /// Exceptions, with the working directory and source paths.
    Details(CauseDetails),
}

impl<'de> Deserialize<'de> for Cause {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Hand-written instead of `#[serde(untagged)]`, which buffers the whole value and
        // reports only "data did not match any variant".
        struct CauseVisitor;
        impl<'de> Visitor<'de> for CauseVisitor {
            type Value = Cause;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an exception id string or a cause object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cause, E> {
                Ok(Cause::ExceptionId(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Cause, A::Error> {
                CauseDetails::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Cause::Details)
            }
        }
        d.deserialize_any(CauseVisitor)
    }
}

impl Cause {
    /// The first exception, if the cause carries any.
    pub fn first_exception(&self) -> Option<&Exception> {
        match self {
            Self::Details(d) => d.exceptions.first(),
            Self::ExceptionId(_) => None,
        }
    }
}

/// Exceptions behind an error or fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseDetails {
    /// Working directory when the exception happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// Libraries or modules in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The exceptions, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

/// One exception in a [`CauseDetails`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// 16-hex id, unique in the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The exception message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The exception type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// True when the exception came from a downstream service.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub remote: Option<bool>,
    /// Stack frames left out of `stack`.
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub truncated: Option<i64>,
    /// Exceptions skipped between this one and its child.
    #[serde(
        default,
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub skipped: Option<i64>,
    /// Id of the exception's parent (the one that caused it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Stack frames (`path`, `line`, `label`), kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<RawJson>,
}

/// The typed view of a `sql` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sql {
    /// Connection string without password (for example a JDBC url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// Connection url without password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The query, with user values replaced by placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// Database engine name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// Database version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// Driver name and version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// Database user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `call` or `statement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

/// A JSON value kept as its exact text (compared by text).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// The exact JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Wraps JSON text that is known to be valid.
    pub fn from_string(json: String) -> serde_json::Result<Self> {
        RawValue::from_string(json).map(Self)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// A JSON block kept as its exact raw text, with a typed view parsed from it.
///
/// Serializing writes the raw text back unchanged, so a block round-trips byte for byte even
/// when it holds keys the typed view does not know.
#[derive(Debug, Clone)]
pub struct Raw<T> {
    raw: Box<RawValue>,
    value: T,
}

impl<T> Raw<T> {
    /// The exact JSON text of the block.
    pub fn raw(&self) -> &str {
        self.raw.get()
    }

    /// The typed view.
    pub fn value(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Raw<T> {
    /// Builds a block from a typed value (used when writing documents, not reading them).
    pub fn new(value: T) -> serde_json::Result<Self> {
        let raw = serde_json::value::to_raw_value(&value)?;
        Ok(Self { raw, value })
    }
}

impl<T: PartialEq> PartialEq for Raw<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get() && self.value == other.value
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Raw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let value = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
        Ok(Self { raw, value })
    }
}

impl<T> Serialize for Raw<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// Field names of a segment document, matched without allocating.
enum Field {
    Id,
    Name,
    TraceId,
    StartTime,
    EndTime,
    InProgress,
    ParentId,
    Type,
    Namespace,
    Origin,
    User,
    ResourceArn,
    PrecursorIds,
    Inferred,
    Traced,
    Service,
    Http,
    Aws,
    Error,
    Throttle,
    Fault,
    Cause,
    Annotations,
    Metadata,
    Sql,
    Subsegments,
    Other(String),
}

impl Field {
    fn from_name(name: &str) -> Self {
        match name {
            "id" => Self::Id,
            "name" => Self::Name,
            "trace_id" => Self::TraceId,
            "start_time" => Self::StartTime,
            "end_time" => Self::EndTime,
            "in_progress" => Self::InProgress,
            "parent_id" => Self::ParentId,
            "type" => Self::Type,
            "namespace" => Self::Namespace,
            "origin" => Self::Origin,
            "user" => Self::User,
            "resource_arn" => Self::ResourceArn,
            "precursor_ids" => Self::PrecursorIds,
            "inferred" => Self::Inferred,
            "traced" => Self::Traced,
            "service" => Self::Service,
            "http" => Self::Http,
            "aws" => Self::Aws,
            "error" => Self::Error,
            "throttle" => Self::Throttle,
            "fault" => Self::Fault,
            "cause" => Self::Cause,
            "annotations" => Self::Annotations,
            "metadata" => Self::Metadata,
            "sql" => Self::Sql,
            "subsegments" => Self::Subsegments,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(Field::from_name(v))
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// Reads the next map value, naming the field in the error.
fn field<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    name: &str,
) -> Result<T, A::Error> {
    map.next_value::<T>()
        .map_err(|e| de::Error::custom(format_args!("field `{name}`: {e}")))
}

impl<'de> Deserialize<'de> for SegmentDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Hand-written so unknown fields can be kept as raw JSON: `#[serde(flatten)]` buffers
        // every field and cannot hold `RawValue`, and it is several times slower.
        struct DocVisitor;
        impl<'de> Visitor<'de> for DocVisitor {
            type Value = SegmentDocument;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a segment document (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut doc = SegmentDocument::default();
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::Id => doc.id = field(&mut map, "id")?,
                        Field::Name => doc.name = field(&mut map, "name")?,
                        Field::TraceId => doc.trace_id = field(&mut map, "trace_id")?,
                        Field::StartTime => {
                            doc.start_time = field::<_, Lenient<f64>>(&mut map, "start_time")?.0
                        }
                        Field::EndTime => {
                            doc.end_time = field::<_, Lenient<f64>>(&mut map, "end_time")?.0
                        }
                        Field::InProgress => {
                            doc.in_progress = field::<_, Lenient<bool>>(&mut map, "in_progress")?.0
                        }
                        Field::ParentId => doc.parent_id = field(&mut map, "parent_id")?,
                        Field::Type => doc.kind = field(&mut map, "type")?,
                        Field::Namespace => doc.namespace = field(&mut map, "namespace")?,
                        Field::Origin => doc.origin = field(&mut map, "origin")?,
                        Field::User => doc.user = field(&mut map, "user")?,
                        Field::ResourceArn => doc.resource_arn = field(&mut map, "resource_arn")?,
                        Field::PrecursorIds => {
                            doc.precursor_ids =
                                field::<_, Option<Vec<String>>>(&mut map, "precursor_ids")?
                                    .unwrap_or_default()
                        }
                        Field::Inferred => {
                            doc.inferred = field::<_, Lenient<bool>>(&mut map, "inferred")?.0
                        }
                        Field::Traced => {
                            doc.traced = field::<_, Lenient<bool>>(&mut map, "traced")?.0
                        }
                        Field::Service => doc.service = field(&mut map, "service")?,
                        Field::Http => doc.http = field(&mut map, "http")?,
                        Field::Aws => doc.aws = field(&mut map, "aws")?,
                        Field::Error => doc.error = field::<_, Lenient<bool>>(&mut map, "error")?.0,
                        Field::Throttle => {
                            doc.throttle = field::<_, Lenient<bool>>(&mut map, "throttle")?.0
                        }
                        Field::Fault => doc.fault = field::<_, Lenient<bool>>(&mut map, "fault")?.0,
                        Field::Cause => doc.cause = field(&mut map, "cause")?,
                        Field::Annotations => {
                            doc.annotations =
                                field::<_, Option<Annotations>>(&mut map, "annotations")?
                                    .map(|a| a.0)
                                    .unwrap_or_default()
                        }
                        Field::Metadata => doc.metadata = field(&mut map, "metadata")?,
                        Field::Sql => doc.sql = field(&mut map, "sql")?,
                        Field::Subsegments => {
                            doc.subsegments =
                                field::<_, Option<Vec<SegmentDocument>>>(&mut map, "subsegments")?
                                    .unwrap_or_default()
                        }
                        Field::Other(name) => {
                            let value: RawJson = field(&mut map, &name)?;
                            doc.extra.push((name, value));
                        }
                    }
                }
                Ok(doc)
            }
        }
        d.deserialize_map(DocVisitor)
    }
}

impl Serialize for SegmentDocument {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        macro_rules! opt {
            ($key:literal, $value:expr) => {
                if let Some(v) = &$value {
                    m.serialize_entry($key, v)?;
                }
            };
        }
        opt!("name", self.name);
        opt!("id", self.id);
        opt!("trace_id", self.trace_id);
        opt!("start_time", self.start_time);
        opt!("end_time", self.end_time);
        opt!("in_progress", self.in_progress);
        opt!("parent_id", self.parent_id);
        opt!("type", self.kind);
        opt!("namespace", self.namespace);
        opt!("origin", self.origin);
        opt!("user", self.user);
        opt!("resource_arn", self.resource_arn);
        if !self.precursor_ids.is_empty() {
            m.serialize_entry("precursor_ids", &self.precursor_ids)?;
        }
        opt!("inferred", self.inferred);
        opt!("traced", self.traced);
        opt!("service", self.service);
        opt!("http", self.http);
        opt!("aws", self.aws);
        opt!("error", self.error);
        opt!("throttle", self.throttle);
        opt!("fault", self.fault);
        opt!("cause", self.cause);
        if !self.annotations.is_empty() {
            m.serialize_entry("annotations", &AnnotationsRef(&self.annotations))?;
        }
        opt!("metadata", self.metadata);
        opt!("sql", self.sql);
        if !self.subsegments.is_empty() {
            m.serialize_entry("subsegments", &self.subsegments)?;
        }
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Annotations in document order.
struct Annotations(Vec<(String, AnnotationValue)>);

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AnnotationsVisitor;
        impl<'de> Visitor<'de> for AnnotationsVisitor {
            type Value = Annotations;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of annotations")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotations, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(key) = map.next_key::<String>()? {
                    let value: AnnotationValue = map
                        .next_value()
                        .map_err(|e| de::Error::custom(format_args!("annotation `{key}`: {e}")))?;
                    out.push((key, value));
                }
                Ok(Annotations(out))
            }
        }
        d.deserialize_map(AnnotationsVisitor)
    }
}

struct AnnotationsRef<'a>(&'a [(String, AnnotationValue)]);

impl Serialize for AnnotationsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for AnnotationValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Number(n) => n.serialize(s),
            Self::Bool(b) => s.serialize_bool(*b),
        }
    }
}

impl<'de> Deserialize<'de> for AnnotationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl Visitor<'_> for ValueVisitor {
            type Value = AnnotationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnnotationValue, E> {
                Ok(AnnotationValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<AnnotationValue, E> {
                Ok(AnnotationValue::String(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<AnnotationValue, E> {
                Ok(AnnotationValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnnotationValue, E> {
                Ok(AnnotationValue::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnnotationValue, E> {
                Ok(AnnotationValue::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnnotationValue, E> {
                serde_json::Number::from_f64(v)
                    .map(AnnotationValue::Number)
                    .ok_or_else(|| E::custom("a finite number"))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// A number or boolean that SDKs sometimes write as a string; `null` reads as absent.
struct Lenient<T>(Option<T>);

impl<'de> Deserialize<'de> for Lenient<f64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lenient<f64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // A number that was a card number is the redaction marker now: no value.
                if v == crate::pii::CARD_MARKER {
                    return Ok(Lenient(None));
                }
                v.trim()
                    .parse::<f64>()
                    .map(|n| Lenient(Some(n)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Lenient<i64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lenient<i64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(|n| Lenient(Some(n)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Lenient(Some(v as i64)))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // A number that was a card number is the redaction marker now: no value.
                if v == crate::pii::CARD_MARKER {
                    return Ok(Lenient(None));
                }
                v.trim()
                    .parse::<i64>()
                    .map(|n| Lenient(Some(n)))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Lenient<bool> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lenient<bool>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Lenient(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "true" => Ok(Lenient(Some(true))),
                    "false" => Ok(Lenient(Some(false))),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Lenient::<i64>::deserialize(d).map(|l| l.0)
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Lenient::<bool>::deserialize(d).map(|l| l.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields_and_raw_blocks() {
        let text = r#"{"trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","id":"5cc4a447f5d4d696",
            "name":"n","start_time":1595437651.680097,"end_time":1595437652,
            "aws":{"operation":"PutItem","table_name":"t","function_name":"f"},
            "Dummy":false,"zzz":{"a":[1,2]}}"#;
        let doc = SegmentDocument::parse(text).unwrap();
        assert_eq!(doc.end_time, Some(1595437652.0));
        let aws = doc.aws.as_ref().unwrap();
        assert_eq!(aws.value().operation.as_deref(), Some("PutItem"));
        assert!(aws.raw().contains("function_name"));
        let extra: Vec<_> = doc
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.get()))
            .collect();
        assert_eq!(extra, vec![("Dummy", "false"), ("zzz", r#"{"a":[1,2]}"#)]);
    }

    #[test]
    fn accepts_number_forms() {
        let doc = SegmentDocument::parse(
            r#"{"start_time":"1.478293361271E9","end_time":1478293362,
                "http":{"response":{"status":"200","content_length":"861"}}}"#,
        )
        .unwrap();
        assert_eq!(doc.start_time, Some(1478293361.271));
        let resp = doc.http.unwrap().response.unwrap();
        assert_eq!((resp.status, resp.content_length), (Some(200), Some(861)));
    }

    #[test]
    fn cause_can_be_an_exception_id_or_details() {
        let id = SegmentDocument::parse(r#"{"cause":"abcdefghijklmnop"}"#).unwrap();
        assert_eq!(
            id.cause.unwrap().value(),
            &Cause::ExceptionId("abcdefghijklmnop".into())
        );
        let d = SegmentDocument::parse(
            r#"{"cause":{"working_directory":"/w","exceptions":[{"id":"x","type":"T","message":"m","remote":true}]}}"#,
        )
        .unwrap();
        let cause = d.cause.unwrap();
        let ex = cause.value().first_exception().unwrap();
        assert_eq!((ex.kind.as_deref(), ex.remote), (Some("T"), Some(true)));
    }

    #[test]
    fn bad_field_types_name_the_field() {
        let err = SegmentDocument::parse(r#"{"start_time":true}"#).unwrap_err();
        assert!(err.to_string().contains("field `start_time`"), "{err}");
        let err = SegmentDocument::parse(r#"{"annotations":{"a":{"b":1}}}"#).unwrap_err();
        assert!(err.to_string().contains("annotation `a`"), "{err}");
    }

    #[test]
    fn serializes_back_to_equal_document() {
        let text = r#"{"name":"n","id":"5cc4a447f5d4d696","trace_id":"1-5f187253-6a106696d56b1f4ef9eba2ed","start_time":1.5,"in_progress":true,"annotations":{"PaymentId":"pay_1","n":3,"b":true},"metadata":{"x":{"y":[1]}},"subsegments":[{"name":"c","id":"5cc4a447f5d4d697","start_time":1.6,"end_time":1.7}],"Dummy":false}"#;
        let doc = SegmentDocument::parse(text).unwrap();
        let back = serde_json::to_string(&doc).unwrap();
        assert_eq!(SegmentDocument::parse(&back).unwrap(), doc);
        assert_eq!(doc.span_count(), 2);
    }
}
