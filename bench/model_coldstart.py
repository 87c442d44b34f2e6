#!/usr/bin/env python3
"""The local embedding model's cold start, on bench/coldstart.py's Runtime API: the `model_coldstart`
example (loads all-MiniLM-L6-v2 at init, embeds one sentence per invocation) beside `hello-lambda`, both
built with the same profile. The harness's own measurement (`coldstart.measure`), with one addition to its
Lambda environment: EMBEDDINGS_MODEL_DIR, which the model binary reads.

Usage (see bench/model_coldstart.rs):
  EMBEDDINGS_MODEL_DIR=... python3 bench/model_coldstart.py [--runs 15] [--target-dir target/bench]
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coldstart  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--target-dir", default=os.path.join(coldstart.ROOT, "target", "bench"))
    args = parser.parse_args()
    model_dir = os.environ.get("EMBEDDINGS_MODEL_DIR")
    if not model_dir or not os.path.isdir(model_dir):
        print("EMBEDDINGS_MODEL_DIR must name the all-MiniLM-L6-v2 folder", file=sys.stderr)
        return 2

    base = coldstart.environment

    def environment(port, name, secret_arn=None, tls=False):
        env = base(port, name, secret_arn, tls)
        env["EMBEDDINGS_MODEL_DIR"] = os.path.abspath(model_dir)
        return env

    coldstart.environment = environment
    binaries = {
        "hello-lambda": (os.path.join(args.target_dir, "hello-lambda"), {"hello": "world"}),
        "model_coldstart": (
            os.path.join(args.target_dir, "examples", "model_coldstart"),
            {"text": "How long do refunds take once the parcel is back at the warehouse?"},
        ),
    }
    results = {}
    for name, (path, event) in binaries.items():
        if not os.path.exists(path):
            print(f"{path} not built", file=sys.stderr)
            return 1
        runs = [coldstart.measure(path, event, name, None) for _ in range(args.runs)]
        results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results[name]["min_init_ms"] = min(r["init_ms"] for r in runs)
        results[name]["max_init_ms"] = max(r["init_ms"] for r in runs)
        results[name]["size_mb"] = os.path.getsize(path) / 1e6
    hello = results["hello-lambda"]["init_ms"]
    print(f"{'binary':<16} {'size MB':>8} {'init ms':>8} {'(min-max)':>15} {'x hello':>8} {'first ms':>9} {'peak RSS MB':>12}")
    for name, r in results.items():
        span = f"{r['min_init_ms']:.1f}-{r['max_init_ms']:.1f}"
        print(f"{name:<16} {r['size_mb']:>8.1f} {r['init_ms']:>8.1f} {span:>15} {r['init_ms'] / hello:>8.1f} {r['first_ms']:>9.1f} {r['rss_mb']:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
