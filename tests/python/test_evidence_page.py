"""`lookup --format html`: the evidence page, opened in a real headless browser (Debian's
chromium). The page must draw one waterfall bar per span with no script error, and its
screenshot must show the ok and fault bars and the highlighted first failure."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest
from PIL import Image

from xray_support import payment_traces

ROOT = pathlib.Path(__file__).resolve().parents[2]
OK = (0x00, 0x73, 0xBB)
FAULT = (0xD1, 0x32, 0x12)


def chromium() -> str:
    path = os.environ.get("XRAY_ARCHIVE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is missing: tests/run.sh installs Debian's chromium package")
    return path


def browse(page: pathlib.Path, profile: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    # The flags keep chromium off this machine's closed network; a fresh profile each time.
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def rendered(page: pathlib.Path, tmp_path: pathlib.Path, name: str) -> str:
    res = browse(page, tmp_path / f"profile-{name}", "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def html_attr(dom: str, name: str) -> str | None:
    head = dom[: dom.index(">", dom.index("<html"))]
    marker = f'{name}="'
    if marker not in head:
        return None
    start = head.index(marker) + len(marker)
    return head[start: head.index('"', start)]


@pytest.fixture(scope="module")
def evidence(binary, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evidence")
    docs = payment_traces(1_772_409_600, hours=2, per_hour=3, tag=0x100E)
    failing = json.loads(docs[0])
    failing.update(trace_id="1-69a62a81-0000000000000000000000ee", id="00000000000000ee",
                   start_time=1_772_497_537.5, end_time=1_772_497_538.0, fault=True,
                   http={"response": {"status": 500}},
                   cause={"exceptions": [{"id": "00000000000000ef", "message": "ConditionalCheckFailed <b>"}]})
    src = tmp / "in.jsonl"
    src.write_text("\n".join(docs + [json.dumps(failing)]) + "\n")
    archive = tmp / "archive"
    subprocess.run([str(binary), "export", "--source", str(src), "--archive", str(archive)], check=True,
                   capture_output=True)
    pid = failing["annotations"]["PaymentId"]
    story = json.loads(subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", pid,
                                       "--format", "json"], check=True, capture_output=True, text=True).stdout)
    res = subprocess.run([str(binary), "lookup", "--archive", str(archive), "--payment-id", pid, "--format", "html"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    page = tmp / "evidence.html"
    page.write_text(res.stdout)
    return page, story, tmp


def test_page_is_self_contained_and_names_the_failure(evidence):
    page, story, _ = evidence
    html = page.read_text()
    for external in ('src="http', "href=\"http", "@import", "url("):
        assert external not in html
    assert story["payment_id"] in html
    for trace in story["traces"]:
        assert trace["trace_id"] in html
    # The exception text is escaped, never markup.
    assert "ConditionalCheckFailed &lt;b&gt;" in html and "ConditionalCheckFailed <b>" not in html


def test_browser_draws_one_bar_per_span_without_script_errors(evidence):
    page, story, tmp = evidence
    dom = rendered(page, tmp, "ok")
    assert html_attr(dom, "data-script-errors") is None, html_attr(dom, "data-script-errors")
    spans = sum(len(t["spans"]) for t in story["traces"])
    assert spans >= 3
    assert html_attr(dom, "data-waterfall-bars") == str(spans)
    assert dom.count('class="wf-bar') == spans
    assert dom.count('class="wf-row first"') == 1
    assert "first failure: ConditionalCheckFailed" in dom


def test_a_broken_script_is_caught(evidence):
    # The same check must fail on a page whose script throws.
    page, _, tmp = evidence
    broken = tmp / "broken.html"
    broken.write_text(page.read_text().replace("var first = story.first_failure;",
                                               "var first = story.first_failure.no.such;"))
    dom = rendered(broken, tmp, "broken")
    assert html_attr(dom, "data-waterfall-bars") is None
    assert "TypeError" in (html_attr(dom, "data-script-errors") or "")


def test_screenshot_shows_the_waterfall(evidence):
    page, _, tmp = evidence
    shot = tmp / "evidence.png"
    res = browse(page, tmp / "profile-shot", "--window-size=1280,1000", f"--screenshot={shot}",
                 "--hide-scrollbars")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    keep = ROOT / "target" / "evidence-screenshot.png"
    if keep.parent.is_dir():
        shutil.copy(shot, keep)
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1000)
    pixels = list(img.get_flattened_data())

    def near(color):
        return sum(1 for p in pixels if all(abs(a - b) <= 8 for a, b in zip(p, color)))

    # The ok bars (blue) and the failing bar (red) are drawn, each wider than a sliver.
    assert near(OK) > 2_000, near(OK)
    assert near(FAULT) > 500, near(FAULT)
    # Most of the page is still background: the chart did not flood it.
    assert near((255, 255, 255)) > len(pixels) // 2
