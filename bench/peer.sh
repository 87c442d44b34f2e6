#!/usr/bin/env bash
# The authenticated read against the peer users would pick: GET /api/v1/auth/me of the release devserver
# and the same read written the way the old TypeScript system would (Express + pg + jsonwebtoken, from
# ../shared/peers/node-express, installed into a temporary directory), side by side on one machine, the
# same PostgreSQL, a pool of 10 connections each. Each is loaded in turn (two rounds, alternating) with
# wrk; memory is the process's resident set (VmRSS) after its last round, and its peak (VmHWM) while it
# served the reads: each process's peak is reset (/proc/PID/clear_refs) once both are set up, because the
# set-up is not the read (ours registers the user through argon2, whose 19 MiB working memory is freed
# right after; that set-up peak is printed apart).
# Needs wrk, node and npm, and the local PostgreSQL. bench/load.sh runs it last.
# Usage: [DEVSERVER_BIN=path] bench/peer.sh [seconds=10] [connections=50] [peer folder]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-50}
PEER_SRC=${3:-../shared/peers/node-express}
for tool in wrk node npm; do
  command -v "$tool" >/dev/null || { echo "peer: $tool is not installed" >&2; exit 1; }
done
[ -f "$PEER_SRC/server.js" ] || { echo "peer: no peer at $PEER_SRC (pass its folder as the third argument)" >&2; exit 1; }
SERVER=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
OURS_DB="studio_peer_ours_$$"
PEER_DB="studio_peer_node_$$"
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
OURS_PORT=$(free_port)
PEER_PORT=$(free_port)
cleanup() {
  for pid in "${OURS_PID:-}" "${PEER_PID:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$SERVER" -qc "DROP DATABASE IF EXISTS $OURS_DB" >/dev/null 2>&1 || true
  psql "$SERVER" -qc "DROP DATABASE IF EXISTS $PEER_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# DEVSERVER_BIN runs another build of the devserver (e.g. the previous commit's, for a before/after).
OURS_BIN=${DEVSERVER_BIN:-${CARGO_TARGET_DIR:-target}/release/devserver}
[ -n "${DEVSERVER_BIN:-}" ] || cargo build -q --release --locked -p devserver
cp -r "$PEER_SRC"/. "$WORK/peer"
(cd "$WORK/peer" && npm install --silent --no-audit --no-fund >/dev/null)
psql "$SERVER" -qc "CREATE DATABASE $PEER_DB" >/dev/null

env -u AWS_ENDPOINT_URL PORT="$OURS_PORT" DATABASE_URL="${SERVER%/*}/$OURS_DB" DATABASE_POOL_SIZE=10 \
  RATE_LIMIT_AUTH_PER_MINUTE=100000000 RATE_LIMIT_API_PER_IP_PER_MINUTE=100000000 \
  RATE_LIMIT_API_PER_TENANT_PER_MINUTE=100000000 MAIL_DIR="$WORK/mail" VECTOR_DATA_DIR="$WORK/vectors" \
  RUST_LOG=error "$OURS_BIN" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!
(cd "$WORK/peer" && DATABASE_URL="${SERVER%/*}/$PEER_DB" PORT="$PEER_PORT" exec node server.js) >"$WORK/peer.log" 2>&1 &
PEER_PID=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$OURS_PORT/api/v1/health" >/dev/null 2>&1 && grep -q '"ready"' "$WORK/peer.log" && break
  sleep 0.5
done
OURS_TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$OURS_PORT/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"peer@example.com","password":"correct horse battery","name":"Peer"}' |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["accessToken"])')
PEER_TOKEN=$(python3 -c 'import sys, json; print(json.loads(open(sys.argv[1]).readline())["token"])' "$WORK/peer.log")
# Both answer the read before they are loaded.
curl -fsS "http://127.0.0.1:$OURS_PORT/api/v1/auth/me" -H "authorization: Bearer $OURS_TOKEN" >/dev/null
curl -fsS "http://127.0.0.1:$PEER_PORT/api/v1/auth/me" -H "authorization: Bearer $PEER_TOKEN" >/dev/null

kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
OURS_SETUP_HWM=$(kb "$OURS_PID" VmHWM); PEER_SETUP_HWM=$(kb "$PEER_PID" VmHWM)
echo 5 >"/proc/$OURS_PID/clear_refs"
echo 5 >"/proc/$PEER_PID/clear_refs"

rps() { # port, token
  WRK_TOKEN=$2 wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s -s bench/get.lua "http://127.0.0.1:$1/api/v1/auth/me" |
    awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "errors:" $NF > "/dev/stderr"}'
}
declare -a OURS_RPS PEER_RPS
for round in 1 2; do
  OURS_RPS+=("$(rps "$OURS_PORT" "$OURS_TOKEN")")
  PEER_RPS+=("$(rps "$PEER_PORT" "$PEER_TOKEN")")
done
median2() { python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print(round(sum(v)/len(v)))' "$@"; }
OURS_MEAN=$(median2 "${OURS_RPS[@]}")
PEER_MEAN=$(median2 "${PEER_RPS[@]}")
OURS_RSS=$(kb "$OURS_PID" VmRSS); OURS_HWM=$(kb "$OURS_PID" VmHWM)
PEER_RSS=$(kb "$PEER_PID" VmRSS); PEER_HWM=$(kb "$PEER_PID" VmHWM)
echo "| GET /api/v1/auth/me ($CONNS connections, ${SECS} s, 2 rounds) | requests/s (rounds) | RSS after | peak RSS while reading | peak RSS of the set-up |"
echo "|---|---|---|---|---|"
printf '| release devserver (Rust) | %s (%s) | %s MB | %s MB | %s MB |\n' "$OURS_MEAN" "${OURS_RPS[*]}" $((OURS_RSS / 1024)) $((OURS_HWM / 1024)) $((OURS_SETUP_HWM / 1024))
printf '| Express + pg + jsonwebtoken peer | %s (%s) | %s MB | %s MB | %s MB |\n' "$PEER_MEAN" "${PEER_RPS[*]}" $((PEER_RSS / 1024)) $((PEER_HWM / 1024)) $((PEER_SETUP_HWM / 1024))
python3 -c 'import sys; o,p,om,pm=map(float,sys.argv[1:]); print(f"throughput {o/p:.1f}x the peer (target >= 5x); memory {om/pm:.2f} of the peer (target <= 0.33)")' \
  "$OURS_MEAN" "$PEER_MEAN" "$OURS_HWM" "$PEER_HWM"
