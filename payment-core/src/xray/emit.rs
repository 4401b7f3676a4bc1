//! Where finished segment documents go.
//!
//! - [`UdpEmitter`]: the X-Ray daemon's UDP protocol (`AWS_XRAY_DAEMON_ADDRESS`), as a Lambda
//!   function sends them: one datagram per document, `{"format":"json","version":1}\n` then
//!   the document.
//! - [`ApiEmitter`]: `PutTraceSegments` through `aws-sdk-xray`, for code outside Lambda.
//! - [`FileEmitter`]: files in the BatchGetTraces response shape, the embedded default;
//!   `xray-archive export --source DIR` reads them as it reads X-Ray's own answers.
//! - [`MemoryEmitter`]: kept in memory, for tests and the simulator.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use schema::SegmentDocument;

use crate::error::{Error, Result};
use crate::otel::TraceFormat;

/// A sink for finished documents.
pub trait Emitter: Send + Sync {
    /// Sends the documents of one request.
    fn emit(&self, docs: Vec<SegmentDocument>) -> impl Future<Output = Result<()>> + Send;
}

/// The daemon's UDP protocol.
#[derive(Debug)]
pub struct UdpEmitter {
    socket: std::net::UdpSocket,
    daemon: std::net::SocketAddr,
}

const DAEMON_HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

impl UdpEmitter {
    /// From `AWS_XRAY_DAEMON_ADDRESS` (`127.0.0.1:2000` when unset, as in the X-Ray SDKs).
    pub fn from_env() -> Result<Self> {
        let addr =
            std::env::var("AWS_XRAY_DAEMON_ADDRESS").unwrap_or_else(|_| "127.0.0.1:2000".into());
        Self::new(&addr)
    }

    /// To the daemon at `address`: `HOST:PORT`, or `tcp:HOST:PORT udp:HOST:PORT` (the UDP
    /// one is used).
    pub fn new(address: &str) -> Result<Self> {
        let udp = address
            .split_whitespace()
            .find_map(|p| p.strip_prefix("udp:"))
            .or_else(|| (!address.contains("tcp:")).then_some(address.trim()))
            .ok_or_else(|| Error::DaemonAddress {
                address: address.into(),
            })?;
        let daemon = std::net::ToSocketAddrs::to_socket_addrs(udp)
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::DaemonAddress {
                address: address.into(),
            })?;
        let bind = if daemon.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = std::net::UdpSocket::bind(bind).map_err(|source| Error::Io {
            what: "binding a UDP socket".into(),
            source,
        })?;
        Ok(Self { socket, daemon })
    }
}

impl Emitter for UdpEmitter {
    async fn emit(&self, docs: Vec<SegmentDocument>) -> Result<()> {
        for doc in docs {
            let packet = format!(
                "{DAEMON_HEADER}{}",
                serde_json::to_string(&doc).expect("a document serializes")
            );
            // Fire and forget, as the SDKs do: a datagram never blocks the request.
            self.socket
                .send_to(packet.as_bytes(), self.daemon)
                .map_err(|source| Error::Io {
                    what: format!("sending a segment to the X-Ray daemon at {}", self.daemon),
                    source,
                })?;
        }
        Ok(())
    }
}

/// `PutTraceSegments`, 50 documents a call.
#[derive(Debug, Clone)]
pub struct ApiEmitter {
    client: aws_sdk_xray::Client,
}

impl ApiEmitter {
    /// Over an X-Ray client (which honours `AWS_ENDPOINT_URL`).
    pub fn new(client: aws_sdk_xray::Client) -> Self {
        Self { client }
    }
}

impl Emitter for ApiEmitter {
    async fn emit(&self, docs: Vec<SegmentDocument>) -> Result<()> {
        let texts: Vec<String> = docs
            .iter()
            .map(|d| serde_json::to_string(d).expect("a document serializes"))
            .collect();
        for chunk in texts.chunks(50) {
            let out = self
                .client
                .put_trace_segments()
                .set_trace_segment_documents(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::PutTraceSegments {
                    message: aws_sdk_xray::error::DisplayErrorContext(&e).to_string(),
                })?;
            if let Some(bad) = out.unprocessed_trace_segments().first() {
                return Err(Error::PutTraceSegments {
                    message: format!(
                        "X-Ray refused segment {:?}: {} {}",
                        bad.id().unwrap_or_default(),
                        bad.error_code().unwrap_or_default(),
                        bad.message().unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Documents kept in memory.
#[derive(Debug, Default)]
pub struct MemoryEmitter {
    docs: Mutex<Vec<SegmentDocument>>,
}

impl MemoryEmitter {
    /// Takes everything emitted so far.
    pub fn take(&self) -> Vec<SegmentDocument> {
        std::mem::take(&mut self.docs.lock().expect("emitter lock"))
    }

    /// Takes everything emitted so far as BatchGetTraces response bodies of up to
    /// `per_body` traces each, as the exporter reads X-Ray's answers.
    pub fn take_batches(&self, per_body: usize) -> Vec<String> {
        let mut traces = BTreeMap::new();
        add_docs(&mut traces, self.take());
        let all: Vec<_> = traces.into_iter().collect();
        all.chunks(per_body.max(1)).map(batch_get_traces).collect()
    }
}

type ByTrace = BTreeMap<String, Vec<(String, String)>>;

/// Files each document under its trace id, as `(segment id, JSON text)`.
fn add_docs(traces: &mut ByTrace, docs: Vec<SegmentDocument>) {
    for doc in docs {
        let trace = doc.trace_id.clone().unwrap_or_default();
        let id = doc.id.clone().unwrap_or_default();
        let text = serde_json::to_string(&doc).expect("a document serializes");
        traces.entry(trace).or_default().push((id, text));
    }
}

impl Emitter for MemoryEmitter {
    async fn emit(&self, docs: Vec<SegmentDocument>) -> Result<()> {
        self.docs.lock().expect("emitter lock").extend(docs);
        Ok(())
    }
}

/// Files of the documents, grouped by trace, in the chosen format (BatchGetTraces responses,
/// `aws/spans` JSON Lines or OTLP/JSON exports), written by [`FileEmitter::flush`].
#[derive(Debug)]
pub struct FileEmitter {
    dir: PathBuf,
    docs: Mutex<Vec<SegmentDocument>>,
    per_file: usize,
    format: TraceFormat,
}

impl FileEmitter {
    /// Into `dir`, `per_file` traces a file, in `format`.
    pub fn new(dir: &Path, per_file: usize, format: TraceFormat) -> Self {
        Self {
            dir: dir.to_owned(),
            docs: Mutex::new(Vec::new()),
            per_file: per_file.max(1),
            format,
        }
    }

    /// Writes every buffered trace as `traces-NNNNN.json` (X-Ray), `spans-NNNNN.jsonl`
    /// (`aws/spans`) or `otlp-NNNNN.jsonl`; returns the files written.
    pub fn flush(&self) -> Result<Vec<PathBuf>> {
        let docs = std::mem::take(&mut *self.docs.lock().expect("emitter lock"));
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            what: format!("creating {}", self.dir.display()),
            source,
        })?;
        let (stem, ext) = match self.format {
            TraceFormat::Xray => ("traces", "json"),
            TraceFormat::AwsSpans => ("spans", "jsonl"),
            TraceFormat::Otlp => ("otlp", "jsonl"),
        };
        let mut files = Vec::new();
        for (n, body) in crate::otel::bodies(docs, self.format, self.per_file)
            .into_iter()
            .enumerate()
        {
            let path = self.dir.join(format!("{stem}-{n:05}.{ext}"));
            std::fs::write(&path, body).map_err(|source| Error::Io {
                what: format!("writing {}", path.display()),
                source,
            })?;
            files.push(path);
        }
        Ok(files)
    }
}

/// One BatchGetTraces response body for `(trace id, [(segment id, document)])` pairs.
pub fn batch_get_traces(traces: &[(String, Vec<(String, String)>)]) -> String {
    let traces: Vec<serde_json::Value> = traces
        .iter()
        .map(|(id, segments)| {
            serde_json::json!({
                "Id": id,
                "LimitExceeded": false,
                "Segments": segments.iter().map(|(sid, doc)| serde_json::json!({"Id": sid, "Document": doc})).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({"Traces": traces, "UnprocessedTraceIds": []}).to_string()
}

impl Emitter for FileEmitter {
    async fn emit(&self, docs: Vec<SegmentDocument>) -> Result<()> {
        self.docs.lock().expect("emitter lock").extend(docs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xray::Span;

    fn doc(n: u8) -> SegmentDocument {
        Span::new("svc", format!("{n:016x}"), 1.5e9)
            .in_trace("1-5759e988-bd862e3fe1be46a994272793", None)
            .end(1.5e9 + 1.0)
            .into_doc()
    }

    #[tokio::test]
    async fn udp_datagrams_carry_the_daemon_header() {
        let daemon = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let addr = daemon.local_addr().unwrap();
        let e = UdpEmitter::new(&format!("tcp:127.0.0.1:9 udp:{addr}")).unwrap();
        e.emit(vec![doc(1), doc(2)]).await.unwrap();
        for n in [1u8, 2] {
            let mut buf = [0u8; 65_536];
            let len = daemon.recv(&mut buf).unwrap();
            let text = std::str::from_utf8(&buf[..len]).unwrap();
            let (header, body) = text.split_once('\n').unwrap();
            assert_eq!(header, "{\"format\":\"json\",\"version\":1}");
            let back = SegmentDocument::parse(body).unwrap();
            assert_eq!(back.id, Some(format!("{n:016x}")));
            schema::validate_document(&back).unwrap();
        }
        assert!(matches!(
            UdpEmitter::new("tcp:127.0.0.1:2000"),
            Err(Error::DaemonAddress { .. })
        ));
    }

    #[tokio::test]
    async fn files_take_the_batch_get_traces_shape() {
        let dir = tempfile::tempdir().unwrap();
        let e = FileEmitter::new(dir.path(), 10, TraceFormat::Xray);
        e.emit(vec![doc(1), doc(2)]).await.unwrap();
        let files = e.flush().unwrap();
        assert_eq!(files.len(), 1);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(v["Traces"][0]["Id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(v["Traces"][0]["Segments"].as_array().unwrap().len(), 2);
        let e = FileEmitter::new(dir.path(), 10, TraceFormat::AwsSpans);
        e.emit(vec![doc(1), doc(2)]).await.unwrap();
        let files = e.flush().unwrap();
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(files[0].ends_with("spans-00000.jsonl"));
        let records: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["traceId"], "5759e988bd862e3fe1be46a994272793");
    }
}
