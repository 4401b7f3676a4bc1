#!/usr/bin/env bash
# Runs every xray-archive test. Installs what it needs itself: a Python venv (pyarrow, the
# independent Parquet reader; pytest; cfn-lint; moto, the AWS emulator, with boto3) and the
# CDK app's npm packages, and Debian's chromium (the evidence page's browser test), and starts moto on 127.0.0.1 for the AWS tests. Needs only Rust,
# Python 3.11 and Node 20.
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

step "Python venv (pyarrow, pytest, cfn-lint, moto, boto3, sqlglot)"
venv=$root/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt

step "chromium: a headless browser for the evidence page (Debian's package)"
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
XRAY_ARCHIVE_CHROMIUM=$(command -v chromium)
export XRAY_ARCHIVE_CHROMIUM
chromium --version

step "moto: the AWS emulator (X-Ray, S3) on 127.0.0.1"
moto_dir=$(mktemp -d)
"$venv/bin/python" tests/moto_server.py --ports-file "$moto_dir/ports" >"$moto_dir/log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true; rm -rf "$moto_dir"' EXIT
for _ in $(seq 100); do
  [ -s "$moto_dir/ports" ] && break
  kill -0 $moto_pid 2>/dev/null || { cat "$moto_dir/log"; echo "moto failed to start" >&2; exit 1; }
  sleep 0.2
done
[ -s "$moto_dir/ports" ] || { cat "$moto_dir/log"; echo "moto did not start in 20 s" >&2; exit 1; }
XRAY_ARCHIVE_MOTO=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["clean"])' "$moto_dir/ports")
XRAY_ARCHIVE_MOTO_FAULT=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["fault"])' "$moto_dir/ports")
export XRAY_ARCHIVE_MOTO XRAY_ARCHIVE_MOTO_FAULT
echo "moto: $XRAY_ARCHIVE_MOTO (fault-injecting: $XRAY_ARCHIVE_MOTO_FAULT)"

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

step "pytest: the archive read back with pyarrow and boto3; exports from moto; the DDL parsed as Athena SQL"
cargo build --quiet -p cli -p exporter -p payment-core --bins
XRAY_ARCHIVE_BIN=$target/debug/xray-archive XRAY_ARCHIVE_LAMBDA_BIN=$target/debug/exporter \
  XRAY_ARCHIVE_VAULTLINK_BIN=$target/debug/vaultlink \
  "$venv/bin/python" -m pytest tests/python -q
