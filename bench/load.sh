#!/usr/bin/env bash
# Load against the devserver (release build): 200 concurrent connections for 30 s on each of the liveness
# route (no auth, no database: the anchor), the health route (one database round trip), an authenticated read (token + membership check + a row), a
# search (embedding + vector search) and the ingest path (validation, quota, documents + outbox in one
# transaction, queue send). Rate limits are raised for the run; the pool is sized for one process serving
# 200 connections (a Lambda container serves one request at a time and keeps 2).
# Needs wrk (Debian: apt-get install wrk) and the local PostgreSQL.
# Usage: bench/load.sh [seconds=30] [connections=200]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
CONNS=${2:-200}
command -v wrk >/dev/null || { echo "load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
SERVER=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB="studio_load_$$"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE="http://127.0.0.1:$PORT"
cargo build -q --release --locked -p devserver
cleanup() {
  [ -n "${DEV_PID:-}" ] && kill "$DEV_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  psql "$SERVER" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
env -u AWS_ENDPOINT_URL PORT="$PORT" DATABASE_URL="${SERVER%/*}/$DB" DATABASE_POOL_SIZE=16 \
  RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_API_PER_IP_PER_MINUTE=100000000 \
  RATE_LIMIT_API_PER_TENANT_PER_MINUTE=100000000 MAIL_DIR="$WORK/mail" VECTOR_DATA_DIR="$WORK/vectors" \
  RUST_LOG=error "${CARGO_TARGET_DIR:-target}/release/devserver" >"$WORK/devserver.log" 2>&1 &
DEV_PID=$!
for _ in $(seq 1 120); do curl -fsS "$BASE/api/v1/health" >/dev/null 2>&1 && break; sleep 0.5; done
register=$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"load@example.com","password":"correct horse battery","name":"Load"}')
TOKEN=$(echo "$register" | python3 -c 'import sys, json; print(json.load(sys.stdin)["accessToken"])')
WS=$(echo "$register" | python3 -c 'import sys, json; print(json.load(sys.stdin)["workspace"]["id"])')
# The business plan: the ingest run must not meet the free plan's 1,000 documents.
psql "${SERVER%/*}/$DB" -qc "UPDATE workspaces SET plan = 'business' WHERE id = '$WS'"
for i in $(seq 1 20); do
  curl -fsS -X POST "$BASE/api/v1/agents/ingest" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"documents\":[{\"title\":\"Policy $i\",\"content\":\"Refunds are issued within $i business days. Shipping takes two weeks.\"}]}" >/dev/null
done
sleep 2

run() { # name, then wrk arguments
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s --latency "$@")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF} /Socket errors/ {print}' | tr '\n' ' ')
  printf '| %-34s | %10s | %8s | %8s | %s |\n' "$name" "$rps" "$p50" "$p99" "${errors:-none}"
}
echo "| route ($CONNS connections, ${SECS} s) | requests/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
export WRK_TOKEN="$TOKEN"
WRK_TOKEN="" run "GET /api/v1/health/live (anchor)" -s bench/get.lua "$BASE/api/v1/health/live"
WRK_TOKEN="" run "GET /api/v1/health (one SELECT 1)" -s bench/get.lua "$BASE/api/v1/health"
run "GET /api/v1/workspaces/{id} (auth)" -s bench/get.lua "$BASE/api/v1/workspaces/$WS"
WRK_BODY='{"query":"how long do refunds take","limit":5}' run "POST /api/v1/agents/search" -s bench/post.lua "$BASE/api/v1/agents/search"
# allowDuplicates: the same body every time, stored every time (otherwise all but the first are skipped).
WRK_BODY='{"documents":[{"title":"Load","content":"A short document written by the load test."}],"allowDuplicates":true}' \
  run "POST /api/v1/agents/ingest" -s bench/post.lua "$BASE/api/v1/agents/ingest"

# Last, the authenticated read against the Express peer (its own devserver and database, pool of 10 each).
echo
bash bench/peer.sh
