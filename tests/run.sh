#!/usr/bin/env bash
# Runs every xray-archive test. Installs what it needs itself: a Python venv (pyarrow, the
# independent Parquet reader; pytest; cfn-lint) and the CDK app's npm packages. Needs only
# Rust, Python 3.11 and Node 20.
#
#   tests/run.sh
#
# Environment:
#   CARGO_TARGET_DIR   reuse a build directory (optional; defaults to ./target)
#   XRAY_TESTDATA      X-Ray samples to test against (default ../shared/testdata/xray when
#                      present, else the bundled tests/fixtures/xray)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}

step() { printf '\n== %s\n' "$*"; }

step "Python venv (pyarrow, pytest, cfn-lint)"
venv=$root/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (unit, doc, end-to-end)"
cargo test --workspace

step "infra: CDK synth offline, assertion tests, cfn-lint"
(
  cd infra
  npm ci --no-audit --no-fund --loglevel=error
  # No AWS account, no network: version checks, notices and telemetry are off (cdk.json).
  CDK_DISABLE_VERSION_CHECK=1 npx cdk synth --no-notices --quiet
  npm test
)
# W3005 flags a DependsOn that CDK itself adds next to a GetAtt; only that check is ignored.
"$venv/bin/cfn-lint" --ignore-checks W3005 -- infra/cdk.out/*.template.json
echo "cfn-lint: no findings"

step "pytest: the archive read back with pyarrow; the DDL parsed as Athena SQL"
cargo build --quiet -p cli
XRAY_ARCHIVE_BIN=$target/debug/xray-archive "$venv/bin/python" -m pytest tests/python -q
