//! A reader that stops early (`xray-archive query ... | head -1`) ends the command quietly,
//! with status 0; any other failure to write the output is still an error.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_xray-archive");

/// Runs `xray-archive args`, reads the first line of its output and closes the pipe, then
/// waits: returns that line, the exit code and stderr.
fn first_line_then_close(args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xray-archive starts");
    let mut line = String::new();
    {
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).expect("a first line");
        // Dropped here: the read end closes with most of the output unread, as `head -1`
        // does.
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut stderr)
        .expect("stderr is text");
    let status = child.wait().expect("xray-archive ends");
    (line, status.code(), stderr)
}

/// An archive directory with nothing sealed yet: enough for SQL that reads no table.
fn empty_archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("v1")).unwrap();
    dir
}

#[test]
fn a_query_read_by_a_reader_that_stops_after_one_line_ends_quietly_with_status_0() {
    let archive = empty_archive();
    // About 1.3 MB of CSV, far more than a pipe buffers, so writes fail once the reader has
    // gone.
    let (line, code, stderr) = first_line_then_close(&[
        "query",
        "--archive",
        archive.path().to_str().unwrap(),
        "--sql",
        "SELECT value FROM generate_series(1, 200000)",
        "--format",
        "csv",
    ]);
    assert_eq!(line, "value\n");
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "stderr: {stderr}");
    assert!(stderr.is_empty(), "nothing on stderr, got: {stderr}");
}

#[test]
fn help_read_by_a_reader_that_stops_after_one_line_ends_quietly_with_status_0() {
    let (line, code, stderr) = first_line_then_close(&["--help"]);
    assert!(
        line.starts_with("Keeps AWS X-Ray traces for years"),
        "{line}"
    );
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "nothing on stderr, got: {stderr}");
}

#[test]
fn output_that_cannot_be_written_for_another_reason_is_an_error() {
    let archive = empty_archive();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full, a device that is always full");
    let out = Command::new(BIN)
        .args(["query", "--archive"])
        .arg(archive.path())
        .args(["--sql", "SELECT value FROM generate_series(1, 200000)"])
        .stdout(full)
        .output()
        .expect("xray-archive runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}
