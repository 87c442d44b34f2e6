#!/usr/bin/env bash
# Fuzzes the whole API with schemathesis against the OpenAPI document the devserver serves: every
# operation, as an authenticated user and with the admin key, checking that no answer is a 5xx and that
# every answer (status, content type, body, SSE events) matches the document. Fails under 2,000 requests.
# Needs: PostgreSQL at TEST_DATABASE_URL's server, the venv with schemathesis (scripts/test.sh sets both up).
# Usage: scripts/fuzz.sh [path-to-venv]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
SERVER=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB="studio_fuzz_$$"
DB_URL="${SERVER%/*}/$DB"
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
WORK=$(mktemp -d)
ADMIN_KEY="fuzz-admin-key-$$-0123456789"
MIN_REQUESTS=${FUZZ_MIN_REQUESTS:-2000}

cargo build -q --locked -p devserver
cleanup() {
  [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$SERVER" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Limits raised for the run: the fuzzer is one client sending thousands of requests. No widget demo
# (its port, PORT+1, may be taken; the fuzzer reads only the API).
env -u AWS_ENDPOINT_URL -u SQS_INGEST_QUEUE_URL -u SQS_EMAIL_QUEUE_URL -u SQS_CRAWL_QUEUE_URL \
  PORT="$PORT" DEMO_PORT=0 DATABASE_URL="$DB_URL" ADMIN_API_KEY="$ADMIN_KEY" STRIPE_WEBHOOK_SECRET=whsec_fuzz \
  RATE_LIMIT_AUTH_PER_MINUTE=1000000 RATE_LIMIT_API_PER_IP_PER_MINUTE=1000000 \
  RATE_LIMIT_API_PER_TENANT_PER_MINUTE=1000000 MAIL_DIR="$WORK/mail" VECTOR_DATA_DIR="$WORK/vectors" \
  RUST_LOG=warn target/debug/devserver >"$WORK/devserver.log" 2>&1 &
DEV_PID=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$DEV_PID" 2>/dev/null || { cat "$WORK/devserver.log"; echo "fuzz: the devserver did not start" >&2; exit 1; }
  sleep 0.5
done
TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"correct horse battery","name":"Fuzz"}' |
  "$VENV/bin/python" -c 'import sys, json; print(json.load(sys.stdin)["accessToken"])')

set +e
# NUL and the other control characters go into about half the bodies, queries and path parameters
# (scripts/fuzz_hooks.py), besides the generator's own strings (NUL allowed, any UTF-8).
SCHEMATHESIS_HOOKS="$PWD/scripts/fuzz_hooks.py" FUZZ_HOOKS_REPORT="$WORK/poisoned" \
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --generation-allow-x00 true --generation-codec utf-8 \
  --header "Authorization: Bearer $TOKEN" --header "X-Admin-Key: $ADMIN_KEY" \
  --max-examples 30 --generation-deterministic --no-color 2>&1 | tee "$WORK/schemathesis.log"
status=${PIPESTATUS[0]}
set -e
generated=$(grep -oE '[0-9]+ generated' "$WORK/schemathesis.log" | tail -1 | grep -oE '[0-9]+' || echo 0)
if [ "$status" -ne 0 ]; then
  echo "fuzz: schemathesis found failures (above); the devserver's log:" >&2
  tail -50 "$WORK/devserver.log" >&2
  exit 1
fi
if [ "$generated" -lt "$MIN_REQUESTS" ]; then
  echo "fuzz: only $generated requests were generated (at least $MIN_REQUESTS wanted)" >&2
  exit 1
fi
poisoned=$(cat "$WORK/poisoned" 2>/dev/null || echo 0)
if [ "$poisoned" -lt 500 ]; then
  echo "fuzz: only $poisoned generated values carried control characters (scripts/fuzz_hooks.py not loaded?)" >&2
  exit 1
fi
echo "fuzz: $generated generated requests ($poisoned values with control characters), no 5xx, every answer as documented"
