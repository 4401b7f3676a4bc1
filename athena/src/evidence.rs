//! `lookup --format html`: one self-contained evidence page for a disputed payment.
//!
//! The page carries everything inline (styles, the story as JSON, the script that draws the
//! waterfall), so an investigator can attach the single file to a dispute and open it
//! anywhere, offline. The summary, the trace table and the first failure are plain HTML;
//! the script draws one waterfall per trace from the embedded story, like the trace view
//! of the X-Ray console. When it has drawn, it sets `data-waterfall-bars` on `<html>` to
//! the number of bars; a script error sets `data-script-errors` instead, so a headless
//! browser can check the page.

use std::fmt::Write;

use crate::lookup::{PaymentStory, time_label};

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ms(us: Option<i64>) -> String {
    us.map_or_else(
        || "in progress".into(),
        |d| format!("{:.1} ms", d as f64 / 1000.0),
    )
}

const STYLE: &str = r#"
:root { --ok:#0073bb; --fault:#d13212; --error:#ff9900; --ink:#16191f; --muted:#5f6b7a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1200px; padding: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.muted { color: var(--muted); }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
.box { border-left: 5px solid var(--muted); background: #f4f6f8; padding: 10px 14px; margin: 12px 0; }
.box.failure { border-color: var(--fault); background: #fdf1ef; }
.box.missing { border-color: var(--error); background: #fff7ea; }
.box.clean { border-color: #1d8102; background: #f0f9ee; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e1e4e8; vertical-align: top; }
th { font-weight: 600; background: #fafbfc; }
.status-fault { color: var(--fault); font-weight: 600; }
.status-error { color: #b35c00; font-weight: 600; }
.status-ok { color: #1d8102; }
.trace { margin: 18px 0 26px; }
.trace h3 { font-size: 15px; margin: 0 0 6px; }
.wf-row { display: grid; grid-template-columns: 34% 66%; align-items: center; min-height: 24px;
          border-bottom: 1px solid #f0f1f3; }
.wf-row.first { background: #fdf1ef; outline: 2px solid var(--fault); }
.wf-name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; padding-right: 8px; }
.wf-track { position: relative; height: 18px; }
.wf-bar { position: absolute; top: 2px; height: 14px; min-width: 2px; border-radius: 2px;
          background: var(--ok); }
.wf-bar.fault { background: var(--fault); }
.wf-bar.error { background: var(--error); }
.wf-label { position: absolute; top: 0; font-size: 11.5px; white-space: nowrap; padding-left: 4px; }
.wf-label.on-bar { color: #fff; font-weight: 600; }
.wf-axis { display: grid; grid-template-columns: 34% 66%; font-size: 11.5px; color: var(--muted); }
.wf-axis div:last-child { display: flex; justify-content: space-between; }
.legend span { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
               vertical-align: -2px; margin: 0 4px 0 12px; }
@media print { body { padding: 0; } .wf-row.first { outline-width: 1px; } }
"#;

/// Draws the waterfalls from the embedded story. Plain ES5 and DOM calls only, so any
/// browser that opens the attachment draws it.
const SCRIPT: &str = r#"
(function () {
  var story = JSON.parse(document.getElementById('story').textContent);
  var first = story.first_failure;
  var bars = 0;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function ms(us) { return us === null ? 'in progress' : (us / 1000).toFixed(1) + ' ms'; }
  story.traces.forEach(function (t, n) {
    var host = document.getElementById('wf-' + n);
    var total = Math.max(t.duration_us || 0, 1);
    t.spans.forEach(function (s) {
      var row = el('div', 'wf-row');
      var isFirst = first && first.trace_id === t.trace_id && first.span_id === s.id;
      if (isFirst) { row.className += ' first'; }
      var name = el('div', 'wf-name');
      name.style.paddingLeft = (s.level * 16) + 'px';
      name.textContent = s.name + (s.aws_operation ? ' \u00b7 ' + s.aws_operation : '');
      name.title = s.name + ' (' + s.id + ')';
      var track = el('div', 'wf-track');
      var left = 100 * (s.start_us - t.start_us) / total;
      var width = 100 * (s.duration_us === null ? total - (s.start_us - t.start_us) : s.duration_us) / total;
      var bar = el('div', 'wf-bar' + (s.fault ? ' fault' : (s.error ? ' error' : '')));
      bar.style.left = Math.min(Math.max(left, 0), 100) + '%';
      bar.style.width = Math.min(Math.max(width, 0), 100 - Math.min(Math.max(left, 0), 100)) + '%';
      var label = [ms(s.duration_us)];
      if (s.http_status !== null) { label.push(String(s.http_status)); }
      if (s.fault) { label.push('fault'); }
      if (s.error) { label.push('error'); }
      if (isFirst) { label.push('\u2190 first failure' + (s.exception ? ': ' + s.exception : '')); }
      var text = el('div', 'wf-label', label.join(' \u00b7 '));
      // The label goes after the bar, else before it, else on it.
      if (left + width <= 72) {
        text.style.left = (left + width) + '%';
      } else if (left >= 28) {
        text.style.right = (100 - left) + '%';
        text.style.paddingRight = '4px';
      } else {
        text.style.left = left + '%';
        text.className += ' on-bar';
      }
      track.appendChild(bar);
      track.appendChild(text);
      row.appendChild(name);
      row.appendChild(track);
      host.appendChild(row);
      bars += 1;
    });
    var axis = el('div', 'wf-axis');
    axis.appendChild(el('div', '', ''));
    var ticks = el('div');
    for (var i = 0; i <= 4; i++) { ticks.appendChild(el('span', '', ms(Math.round(total * i / 4)))); }
    axis.appendChild(ticks);
    host.appendChild(axis);
  });
  document.documentElement.setAttribute('data-waterfall-bars', String(bars));
})();
"#;

/// The story as one self-contained HTML evidence page. `archive` names where it was read
/// from, and `generated` when (both are printed on the page as provenance).
pub fn render_html(story: &PaymentStory, archive: &str, generated: &str) -> String {
    let mut out = String::new();
    let title = format!("Payment evidence: {}", story.payment_id);
    // The story goes into a <script type="application/json"> block; escaping every `<`
    // keeps a span name such as `</script>` from ending it.
    let json = serde_json::to_string(story)
        .expect("a story serializes")
        .replace('<', "\\u003c");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n\
         <script>window.addEventListener('error', function (e) {{ var h = document.documentElement; \
         h.setAttribute('data-script-errors', (h.getAttribute('data-script-errors') || '') + e.message + '\\n'); }});</script>\n\
         </head>\n<body>\n<h1>{t}</h1>\n\
         <p class=\"muted\">Every archived trace of this payment, rebuilt from the xray-archive at \
         <code>{a}</code>. Generated {g}. Times are UTC.</p>\n",
        t = esc(&title),
        a = esc(archive),
        g = esc(generated),
    );
    match &story.first_failure {
        Some(f) => {
            let _ = writeln!(
                out,
                "<div class=\"box failure\" id=\"first-failure\"><strong>First failure:</strong> \
                 {} ({}) at {} in trace <code>{}</code>{}</div>",
                esc(&f.name),
                esc(&f.kind),
                esc(&time_label(f.start_us)),
                esc(&f.trace_id),
                f.exception
                    .as_ref()
                    .map(|e| format!(". Exception: <code>{}</code>", esc(e)))
                    .unwrap_or_default()
            );
        }
        None => out.push_str("<div class=\"box clean\">No span of this payment failed.</div>\n"),
    }
    for m in &story.missing {
        let _ = writeln!(
            out,
            "<div class=\"box missing\"><strong>Missing:</strong> {}</div>",
            esc(m)
        );
    }
    let _ = write!(
        out,
        "<h2>Traces ({n})</h2>\n<table id=\"traces\">\n<thead><tr><th>Stage</th><th>Trace id</th>\
         <th>Started (UTC)</th><th>Duration</th><th>Spans</th><th>Status</th></tr></thead>\n<tbody>\n",
        n = story.traces.len()
    );
    for t in &story.traces {
        let (class, status) = if t.fault {
            ("status-fault", "fault")
        } else if t.error {
            ("status-error", "error")
        } else {
            ("status-ok", "ok")
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{class}\">{status}</td></tr>",
            esc(&t.stage),
            esc(&t.trace_id),
            esc(&time_label(t.start_us)),
            ms(t.duration_us),
            t.spans.len()
        );
    }
    out.push_str("</tbody>\n</table>\n");
    // Exactly which archived bytes the page shows, so it can be checked years later.
    let _ = write!(
        out,
        "<h2>Sources</h2>\n<table id=\"sources\">\n<thead><tr><th>Trace id</th><th>Object</th>\
         <th>Version</th><th>SHA-256</th><th>Committed by</th></tr></thead>\n<tbody>\n"
    );
    for t in &story.traces {
        for c in &t.sources {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td>\
                 <td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&t.trace_id),
                esc(&c.key),
                esc(c.version_id.as_deref().unwrap_or("-")),
                esc(&c.sha256),
                esc(&c
                    .manifest
                    .as_ref()
                    .map_or("not committed by any manifest".into(), |m| {
                        format!("{} (SHA-256 {})", m.key, m.sha256)
                    }))
            );
        }
    }
    out.push_str("</tbody>\n</table>\n<h2>Waterfall</h2>\n<p class=\"legend muted\">Bars are scaled to each trace's duration.<span style=\"background:var(--ok)\"></span>ok<span style=\"background:var(--error)\"></span>error (4xx)<span style=\"background:var(--fault)\"></span>fault (5xx)</p>\n<noscript><p>Scripts are off: the waterfall is not drawn. The table above and the JSON story in this file hold the same times.</p></noscript>\n");
    for (n, t) in story.traces.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section class=\"trace\"><h3>{} <code>{}</code> <span class=\"muted\">{} · {}</span></h3>\
             <div class=\"waterfall\" id=\"wf-{n}\"></div></section>",
            esc(&t.stage),
            esc(&t.trace_id),
            esc(&time_label(t.start_us)),
            ms(t.duration_us)
        );
    }
    let _ = write!(
        out,
        "<p class=\"muted\">Read {} files, {} bytes: the payment index's roll-ups and uncovered day \
         parts, then the spans parts of each trace's day.</p>\n<script type=\"application/json\" id=\"story\">{json}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        story.read.files, story.read.bytes
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::{FailurePoint, ReadStats, SpanView, TraceView};

    fn story(name: &str) -> PaymentStory {
        let span = SpanView {
            id: "00000000000000aa".into(),
            parent_id: None,
            name: name.into(),
            level: 0,
            start_us: 1_772_409_600_000_000,
            duration_us: Some(1_500),
            http_status: Some(500),
            error: false,
            fault: true,
            aws_operation: None,
            exception: Some("boom".into()),
        };
        PaymentStory {
            payment_id: "pay_1".into(),
            traces: vec![TraceView {
                trace_id: "1-69a4d600-000000000000000000000001".into(),
                dt: "2026-03-02".into(),
                stage: "creation".into(),
                start_us: span.start_us,
                duration_us: span.duration_us,
                error: false,
                fault: true,
                spans: vec![span],
                sources: vec![crate::lookup::Citation {
                    key: "v1/spans/dt=2026-03-02/part-0000.parquet".into(),
                    version_id: Some("v1".into()),
                    sha256: "ab".repeat(32),
                    manifest: Some(exporter::ManifestLink {
                        key: "_manifests/0000000001.json".into(),
                        sha256: "cd".repeat(32),
                    }),
                }],
            }],
            missing: vec!["webhook: none".into()],
            first_failure: Some(FailurePoint {
                trace_id: "1-69a4d600-000000000000000000000001".into(),
                span_id: "00000000000000aa".into(),
                name: name.into(),
                kind: "fault".into(),
                start_us: 1_772_409_600_000_000,
                exception: Some("boom".into()),
            }),
            read: ReadStats {
                files: 2,
                bytes: 10,
            },
        }
    }

    #[test]
    fn markup_in_span_names_cannot_escape_the_page() {
        let html = render_html(&story("</script><b>x</b>"), "/a", "now");
        assert!(!html.contains("</script><b>"));
        assert!(html.contains("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"));
        assert!(html.contains("\\u003c/script>\\u003cb>"));
        // The embedded story parses back to the same story.
        let start = html.find("id=\"story\">").unwrap() + "id=\"story\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let back: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back["traces"][0]["spans"][0]["name"], "</script><b>x</b>");
    }

    #[test]
    fn the_page_cites_every_object_and_its_manifest() {
        let html = render_html(&story("PaymentService"), "s3://b/p", "now");
        assert!(html.contains("<table id=\"sources\">"));
        assert!(html.contains("v1/spans/dt=2026-03-02/part-0000.parquet"));
        assert!(html.contains(&"ab".repeat(32)));
        assert!(html.contains(&format!(
            "_manifests/0000000001.json (SHA-256 {})",
            "cd".repeat(32)
        )));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render_html(&story("PaymentService"), "s3://b/p", "now");
        for external in ["src=\"http", "href=\"http", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
        assert!(html.contains("id=\"first-failure\""));
        assert!(html.contains("id=\"wf-0\""));
    }
}
