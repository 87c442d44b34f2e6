#!/usr/bin/env bash
# Cross-builds Lambda functions for arm64 with cargo-lambda (from the venv, with its pinned Zig) and
# reports each zip's size, failing when one is over the 8 MB target. Default: agents-api, the function with
# the most native code (ring, zstd), so a broken cross build fails the test command.
# Usage: scripts/cross-build.sh [path-to-venv] [package ...]   (all functions: pass --all)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(cd "${1:-.venv}" && pwd)
shift || true
packages=("$@")
if [ "${#packages[@]}" -eq 0 ]; then packages=(agents-api); fi
if [ "${packages[0]}" = "--all" ]; then
  packages=(auth-api workspaces-api agents-api agents-stream ingest-worker extract-worker crawl-worker stripe-webhook admin-api email-worker cron public-api)
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
PATH="$VENV/bin:$PATH" cargo lambda build --release --arm64 --output-format zip "${args[@]}"
over=0
for p in "${packages[@]}"; do
  zip="target/lambda/$p/bootstrap.zip"
  bytes=$(stat -c %s "$zip")
  awk -v p="$p" -v b="$bytes" 'BEGIN { printf "%-16s %6.2f MB zipped%s\n", p, b / 1e6, (b > 8e6 ? "  (over the 8 MB target)" : "") }'
  if [ "$bytes" -gt 8000000 ]; then over=1; fi
done
if [ "$over" = 1 ]; then
  echo "a bundle is over the 8 MB target (BENCHMARKS.md says what makes them large and what keeps them small)" >&2
  exit 1
fi
