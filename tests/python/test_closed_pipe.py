"""A reader that stops early, as `head` does, ends the command quietly with status 0."""

import subprocess


def piped_into_head(binary, *args):
    """Runs `xray-archive ARGS | head -1` under `set -o pipefail`, so the status is the CLI's."""
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", '"$@" | head -1', "bash", str(binary), *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_a_long_query_piped_into_head_ends_quietly_with_status_0(binary, archive):
    root, _ = archive
    # About 1.3 MB of CSV: far more than the pipe holds once head has gone.
    sql = "SELECT value FROM generate_series(1, 200000)"
    res = piped_into_head(binary, "query", "--archive", root, "--sql", sql, "--format", "csv")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "value\n"
    assert "panicked" not in res.stderr and "Broken pipe" not in res.stderr, res.stderr


def test_help_piped_into_head_ends_quietly_with_status_0(binary):
    res = piped_into_head(binary, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Keeps AWS X-Ray traces for years")
    assert res.stderr == ""
