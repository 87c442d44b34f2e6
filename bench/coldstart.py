#!/usr/bin/env python3
"""Cold start and memory of every function, against a local implementation of the Lambda Runtime API.

For each release binary (and, in the same run, a hello-world `lambda_runtime` binary built with the same
profile) the harness starts the process with AWS_LAMBDA_RUNTIME_API pointing at itself and measures:

  init    process start -> the first `GET /runtime/invocation/next` (the runtime is ready for work)
  first   process start -> the first invocation's response (init + one real invocation)
  rss     peak resident memory (VmHWM) after the first response

Each function is started `--runs` times (median reported). Init must not wait on the network: the
configuration secret is not used (APP_SECRETS_ARN unset), the vendor URLs point at addresses nobody is asked
at init; the one network call at init, the Secrets Manager fetch, is measured on its own (`--secret`) against
the moto server when AWS_ENDPOINT_URL is set.

Usage: python3 bench/coldstart.py [--runs 15] [--target-dir target/release] [--secret] [--tls]
Build first: cargo build --release -p hello-lambda -p auth-api ... (see BENCHMARKS.md).
"""

import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def http_event(path):
    """An API Gateway HTTP API (v2) event for GET `path`."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "host": "api.example.com", "x-forwarded-for": "203.0.113.9"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "coldstart"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1795000000000,
        },
        "isBase64Encoded": False,
    }


# name -> (binary, the first event, whether it loads the cl100k tokenizer)
FUNCTIONS = {
    "hello-lambda": ("hello-lambda", {"hello": "world"}, False),
    "auth-api": ("auth-api", http_event("/api/v1/auth/health"), False),
    "workspaces-api": ("workspaces-api", http_event("/api/v1/workspaces/health"), False),
    "stripe-webhook": ("stripe-webhook", http_event("/api/v1/stripe/health"), False),
    "agents-api": ("agents-api", http_event("/api/v1/agents/health"), True),
    "agents-stream": ("agents-stream", http_event("/api/v1/agents/stream/health"), True),
    "admin-api": ("admin-api", http_event("/api/v1/admin/health"), True),
    "ingest-worker": ("ingest-worker", {"Records": []}, True),
    "email-worker": ("email-worker", {"Records": []}, False),
    "cron": ("cron", {"job": "purge-expired-tokens"}, True),
}


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The Runtime API: hands out one event, records when it was asked and when it was answered."""

    protocol_version = "HTTP/1.1"
    server_version = "coldstart"

    def log_message(self, *args):
        pass

    def _reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        run = self.server.run
        if self.path.endswith("/runtime/invocation/next"):
            now = time.monotonic()
            if run["polled"] is None:
                run["polled"] = now
            if run["served"]:
                # Park later polls until the harness ends the process.
                run["done"].wait(30)
                return self._reply(204)
            run["served"] = True
            body = json.dumps(run["event"]).encode()
            return self._reply(200, body, {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": run["request_id"],
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:coldstart",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            })
        self._reply(404)

    def do_POST(self):
        run = self.server.run
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)  # a response-streaming function
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        if self.path.endswith("/response") or self.path.endswith("/error"):
            run["answered"] = time.monotonic()
            run["ok"] = self.path.endswith("/response")
            run["body"] = body[:400].decode(errors="replace")
            run["done"].set()
            return self._reply(202, b"{}", {"Content-Type": "application/json"})
        if self.path.endswith("/init/error"):
            run["answered"] = time.monotonic()
            run["ok"] = False
            run["body"] = body[:400].decode(errors="replace")
            run["done"].set()
            return self._reply(202, b"{}", {"Content-Type": "application/json"})
        self._reply(404)


def read_chunked(stream):
    body = b""
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return body
        body += stream.read(size)
        stream.readline()


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def environment(port, name, secret_arn=None, tls=False):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": f"coldstart-{name}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/coldstart",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RUST_LOG": "warn",
        # What the secret would hold, from the environment (no network at init).
        "DATABASE_URL": os.environ.get("COLDSTART_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/studio"),
        "JWT_SECRET": "coldstart-secret-coldstart-secret-0123456789",
        "ADMIN_API_KEY": "coldstart-admin-key-0123456789",
        "STRIPE_WEBHOOK_SECRET": "whsec_coldstart",
        # Vendors: configured (Lambda requires them) but never asked at init or by these first events.
        "UPSTASH_REDIS_REST_URL": "http://127.0.0.1:9",
        "UPSTASH_REDIS_REST_TOKEN": "coldstart",
        "OPENAI_API_KEY": "sk-coldstart",
        "QDRANT_URL": "http://127.0.0.1:9",
        "SQS_INGEST_QUEUE_URL": "http://127.0.0.1:9/000000000000/ingest",
        "SQS_EMAIL_QUEUE_URL": "http://127.0.0.1:9/000000000000/email",
        "EMAIL_FROM": "Studio <no-reply@example.com>",
        # Every function requires it on Lambda.
        "APP_URL": "https://app.example.com",
    }
    if tls:
        # As in AWS (RDS Proxy): TLS required. The roots load on the first connection, not at init; the
        # local server's self-signed certificate is refused, so the health answer is a 503 here.
        env["DATABASE_URL"] += "?sslmode=require"
    if secret_arn:
        env["APP_SECRETS_ARN"] = secret_arn
        env["AWS_ENDPOINT_URL"] = os.environ["AWS_ENDPOINT_URL"]
    return env


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The harness kills each function after its first response: its parked connections reset.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def measure(binary, event, name, port_holder, secret_arn=None, tls=False):
    server = Server(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    server.run = {"event": event, "request_id": str(uuid.uuid4()), "polled": None, "served": False,
                  "answered": None, "ok": None, "body": "", "done": threading.Event()}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=environment(port, name, secret_arn, tls),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = server.run["done"].wait(30)
    rss = peak_rss_kb(proc.pid) if proc.poll() is None else 0
    proc.kill()
    _, stderr = proc.communicate()
    server.shutdown()
    run = server.run
    if not finished or not run["ok"]:
        raise RuntimeError(f"{name}: no successful first response ({run['body']!r}); stderr: {stderr[-800:].decode(errors='replace')}")
    return {
        "init_ms": (run["polled"] - started) * 1000,
        "first_ms": (run["answered"] - started) * 1000,
        "rss_mb": rss / 1024,
    }


def create_secret():
    """A secret in the moto server, for the secret-fetch measurement."""
    import boto3  # from the test venv
    client = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    name = f"coldstart-{uuid.uuid4().hex}"
    arn = client.create_secret(Name=name, SecretString=json.dumps({"JWT_SECRET": "coldstart-secret-coldstart-secret-0123456789"}))["ARN"]
    return arn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-dir", default=os.path.join(ROOT, "target", "release"))
    parser.add_argument("--secret", action="store_true", help="also measure auth-api's init with the secret fetched from AWS_ENDPOINT_URL")
    parser.add_argument("--tls", action="store_true", help="also measure auth-api with DATABASE_URL?sslmode=require")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--only", nargs="*", help="measure only these functions (and hello-lambda)")
    args = parser.parse_args()

    results = {}
    for name, (binary, event, tokenizer) in FUNCTIONS.items():
        path = os.path.join(args.target_dir, binary)
        if not os.path.exists(path):
            print(f"{name}: {path} not built; skipped", file=sys.stderr)
            continue
        if args.only and name not in args.only and name != "hello-lambda":
            continue
        try:
            runs = [measure(path, event, name, None) for _ in range(args.runs)]
        except RuntimeError as e:
            print(f"FAILED {e}", file=sys.stderr)
            results[name] = {"error": str(e)[:200], "tokenizer": tokenizer}
            continue
        results[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results[name]["tokenizer"] = tokenizer
    if args.secret and "auth-api" in results:
        arn = create_secret()
        runs = [measure(os.path.join(args.target_dir, "auth-api"), FUNCTIONS["auth-api"][1], "auth-api", None, arn)
                for _ in range(args.runs)]
        results["auth-api + secret"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results["auth-api + secret"]["tokenizer"] = False

    if args.tls and "auth-api" in results:
        runs = [measure(os.path.join(args.target_dir, "auth-api"), FUNCTIONS["auth-api"][1], "auth-api", None, tls=True)
                for _ in range(args.runs)]
        results["auth-api + TLS to db"] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results["auth-api + TLS to db"]["tokenizer"] = False

    hello = results.get("hello-lambda")
    print(f"{'function':<20} {'init ms':>8} {'x hello':>8} {'first ms':>9} {'peak RSS MB':>12} {'RSS target':>11}  verdict")
    failed = False
    for name, r in results.items():
        if "error" in r:
            failed = True
            print(f"{name:<20} failed: {r['error']}")
            continue
        ratio = r["init_ms"] / hello["init_ms"] if hello else float("nan")
        target = 64 if r["tokenizer"] else 30
        ok_rss = r["rss_mb"] <= target
        ok_init = name in ("hello-lambda", "auth-api + secret") or ratio <= 2.0
        verdict = "ok" if ok_rss and ok_init else ("init over 2x hello" if not ok_init else "RSS over target")
        failed |= verdict != "ok"
        print(f"{name:<20} {r['init_ms']:>8.1f} {ratio:>8.2f} {r['first_ms']:>9.1f} {r['rss_mb']:>12.1f} {target:>11}  {verdict}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
