#!/usr/bin/env python3
"""Every sample in events/ through cargo-lambda's emulator: `cargo lambda invoke --data-file`.

For each function the harness starts `cargo lambda watch --only-lambda-apis` (the Lambda Runtime API
emulator), runs the function's binary against it with Lambda's environment, and sends each of the
function's sample events with `cargo lambda invoke --data-file events/<name>.json`. An event passes when
the invocation succeeds (the runtime accepted and deserialised the event and the function answered, no
invocation error) and the answer is the one expected for a sample run against an empty database: the
status of an HTTP event, the shape of an SQS or schedule answer. The expectations are below, each with
its reason; a sample that stops being accepted, or a handler that starts to fail, fails the run.

What the functions talk to: a fresh, migrated database on the test PostgreSQL (TEST_DATABASE_URL), the
moto server (AWS_ENDPOINT_URL) for SQS, SES and Secrets Manager, Upstash's REST protocol in front of the
test Redis (TEST_REDIS_URL; a small shim below), and vendor addresses nobody answers at for OpenAI and
Qdrant (the knowledge routes answer 503 then, which is what is expected of them here).

Usage: scripts/invoke-events.py [--target-dir target/debug] [--venv .venv]   (part of scripts/test.sh)
"""

import argparse
import glob
import http.server
import json
import os
import secrets
import socket
import subprocess
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import redis  # from the test venv (scripts/requirements-test.txt)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENDER = "no-reply@example.com"
ADMIN_KEY = "dev-admin-key-change-me-0123456789"  # the key in events/admin-*.json
# Statuses of the HTTP samples against an empty database, and why.
UNAUTHENTICATED = 401  # the samples carry a placeholder bearer token: the token check answers first
EXPECTED = {
    "auth-api": {
        "auth-health.json": 200,
        "auth-register.json": 201,  # a new account (the database is fresh)
        "auth-login.json": 200,  # the account the register sample just made
        "auth-token.json": 401,  # the sample's refresh token was never issued
        "auth-logout.json": 204,  # logging out an unknown refresh token is not an error
        "auth-me.json": UNAUTHENTICATED,
        "auth-identities.json": UNAUTHENTICATED,
        "auth-identities-link.json": UNAUTHENTICATED,
        "auth-erase-account.json": UNAUTHENTICATED,
        "auth-export.json": UNAUTHENTICATED,
        "auth-password-forgot.json": 202,  # the same answer whether or not the address exists
        "auth-password-reset.json": 400,  # the sample's reset token was never issued
    },
    "workspaces-api": {
        "workspaces-health.json": 200,
        "workspaces-create.json": UNAUTHENTICATED,
        "workspaces-list.json": UNAUTHENTICATED,
        "workspaces-invite.json": UNAUTHENTICATED,
        "invitations-accept.json": UNAUTHENTICATED,
        "workspaces-api-key-create.json": UNAUTHENTICATED,
        "workspaces-identity-secret.json": UNAUTHENTICATED,
        "workspaces-widget.json": UNAUTHENTICATED,
        "workspaces-export.json": UNAUTHENTICATED,
        "workspaces-retention.json": UNAUTHENTICATED,
        "workspaces-usage.json": UNAUTHENTICATED,
        "workspaces-audit-log.json": UNAUTHENTICATED,
    },
    "agents-api": {
        "agents-ingest.json": UNAUTHENTICATED,
        "agents-uploads.json": UNAUTHENTICATED,
        "agents-document-update.json": UNAUTHENTICATED,
        "agents-run.json": UNAUTHENTICATED,
        "agents-search.json": UNAUTHENTICATED,
        "agents-escalate.json": UNAUTHENTICATED,
        "agents-inbox.json": UNAUTHENTICATED,
        "agents-visitor-export.json": UNAUTHENTICATED,
        "agents-sources-create.json": UNAUTHENTICATED,
        "agents-sources-list.json": UNAUTHENTICATED,
        "agents-source-sync.json": UNAUTHENTICATED,
    },
    # The public samples carry a placeholder key or session token: refused before anything is read.
    "public-api": {
        "public-session.json": UNAUTHENTICATED,
        "public-message.json": UNAUTHENTICATED,
        "public-conversations.json": UNAUTHENTICATED,
        "public-widget-loader.json": 200,  # the widget's loader: a static script, no key needed
        # A bundle name from an earlier build (the real one changes with every bundle): a JSON 404.
        "public-widget-stale.json": 404,
    },
    "stripe-webhook": {
        "stripe-webhook.json": 400,  # the sample's signature is not made with this run's secret
    },
    "admin-api": {
        "admin-stats.json": 200,  # the sample's admin key is this run's key
        "admin-workspaces.json": 200,
        "admin-workspaces-by-cost.json": 200,  # this month's costliest: the live samples' workspaces, if any
        # A re-index of every workspace: the job recorded and its first step queued (moto's SQS), nothing
        # open of that scope yet in this run's database; the ingest worker does not run it here.
        "admin-reindex.json": 202,
    },
}
# The same samples made live: once the auth samples have registered and signed in, the samples that only
# lack a token or a workspace id are written again with the real ones (to a temporary directory) and sent
# with `cargo lambda invoke --data-file` too, reaching the handlers behind authentication and tenancy.
LIVE = {
    "auth-api": {
        "auth-me.json": 200,
        "auth-identities.json": 200,  # a password account: no identity linked, an empty list
        # No identity provider is configured in this run: the placeholder token is refused as a body
        # field (400 invalid_token), not as the caller's session.
        "auth-identities-link.json": 400,
        # Erasure asks for the account's password again: the sample's is not it (403, nothing erased).
        "auth-erase-account.json": 403,
        # The account's data, asked for: built by the cron's build-exports sample below.
        "auth-export.json": 202,
        "auth-token.json": 200,  # the login's refresh token, spent once here
    },
    "workspaces-api": {
        "workspaces-list.json": 200,
        "workspaces-invite.json": 201,  # the registered user owns the workspace
        "workspaces-create.json": 201,
        "workspaces-api-key-create.json": 201,  # a publishable key, shown once
        "workspaces-identity-secret.json": 201,  # the workspace's first identity secret
        "workspaces-widget.json": 200,
        # The whole workspace, asked for by its owner: built by the cron's build-exports sample below.
        "workspaces-export.json": 202,
        "workspaces-retention.json": 200,  # conversations kept a year
        "workspaces-usage.json": 200,  # the last 12 months, all empty: nothing was asked of a model yet
        "workspaces-audit-log.json": 200,  # the key, the secret and the settings just recorded
    },
    "agents-api": {
        "agents-ingest.json": 202,  # accepted and queued (moto's SQS); the worker is not running here
        "agents-uploads.json": 201,  # an upload URL signed for moto's bucket
        "agents-document-update.json": 404,  # the sample's document is not in the new workspace
        "agents-search.json": 503,  # the embeddings API is unreachable in this run
        "agents-run.json": 503,
        "agents-inbox.json": 200,  # nobody is waiting yet: an empty page
        "agents-visitor-export.json": 404,  # the sample's visitor does not exist
        "agents-sources-list.json": 200,  # the new workspace has no website source yet: an empty list
        "agents-source-sync.json": 404,  # the sample's source is not in the new workspace
        # agents-sources-create.json is not made live: its URL is checked by resolving the site's name,
        # which needs DNS and the internet, and the crawl it announces would fetch the site.
    },
    "public-api": {
        "public-session.json": 201,  # the live publishable key, from its allowed origin
        "public-conversations.json": 200,  # the new visitor has none yet
        "public-message.json": 503,  # the embeddings API is unreachable in this run
    },
}
# Response-streaming functions (a Function URL with RESPONSE_STREAM): the emulator answers the invoke with
# the streamed status and body. `cargo lambda invoke` 1.9.2 reads any non-2xx streamed answer as a malformed
# error payload, so these samples are posted to the emulator's invoke endpoint directly — the request
# `cargo lambda invoke --data-file` sends — and the streamed status and body are checked.
STREAMING = {
    ("agents-stream", "agents-stream.json"): (UNAUTHENTICATED, "unauthorized"),
    ("agents-stream", "public-stream.json"): (UNAUTHENTICATED, "unauthorized"),
}
# Non-HTTP samples: (binary, event) -> a check of the answer.
OTHER = {
    # The sample's ids are placeholders, not UUIDs: the worker refuses the message and reports it failed, so
    # SQS redelivers it and, after three receives, moves it to the dead-letter queue (nothing is dropped).
    ("ingest-worker", "sqs-ingest.json"): ("the sample's message reported failed (its ids are placeholders)",
                                           lambda r: r == {"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]}),
    # The sample announces a file whose document does not exist (a deleted one's): the worker deletes the
    # orphan from the bucket (moto's) and reports no failure.
    ("extract-worker", "sqs-extract.json"): ("an SQS batch answer with no failure (the orphan deleted)",
                                             lambda r: r == {"batchItemFailures": []}),
    # The sample's mail is sent through SES (moto, the sender verified for this run): no failure.
    ("email-worker", "sqs-email.json"): ("an SQS batch answer with no failure (the mail sent)",
                                         lambda r: r == {"batchItemFailures": []}),
    # The sample's step names a source that does not exist (a deleted one's, or a crawl already over): the
    # worker claims nothing, fetches nothing, and reports no failure.
    ("crawl-worker", "sqs-crawl.json"): ("an SQS batch answer with no failure (no such source: nothing to do)",
                                         lambda r: r == {"batchItemFailures": []}),
    ("cron", "cron-purge-expired-tokens.json"): ("the job's report", lambda r: r.get("job") == "purge-expired-tokens"),
    ("cron", "cron-resend-outbox.json"): ("the job's report", lambda r: r.get("job") == "resend-outbox"),
    ("cron", "cron-sync-sources.json"): ("the job's report", lambda r: r.get("job") == "sync-sources"),
    # No previous collection configured and no job open: nothing started, nothing resumed.
    # The two exports the live auth and workspaces samples asked for, built into moto's bucket.
    ("cron", "cron-build-exports.json"): ("the job's report, both exports built",
                                          lambda r: r.get("job") == "build-exports"
                                          and r.get("counts") == {"built": 2, "expired": 0, "failed": 0}),
    ("cron", "cron-reindex.json"): ("the job's report, nothing to do",
                                    lambda r: r.get("job") == "reindex"
                                    and r.get("counts") == {"resumed": 0, "started": 0}),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstash(http.server.BaseHTTPRequestHandler):
    """Upstash's REST protocol (a command as a JSON array on POST /, several on POST /pipeline)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return self._reply(401, {"error": "Unauthorized"})
        self._reply(200, [self._run(c) for c in body] if self.path == "/pipeline" else self._run(body))

    def _run(self, command):
        # Keys are namespaced per run, so limits counted by earlier runs on the shared Redis do not apply.
        command = list(command)
        verb = str(command[0]).upper() if command else ""
        if verb in ("EVAL", "EVALSHA") and len(command) > 2:
            n = int(command[2])
            command[3:3 + n] = [f"{self.server.prefix}{k}" for k in command[3:3 + n]]
        elif len(command) > 1:
            command[1] = f"{self.server.prefix}{command[1]}"
        try:
            return {"result": decode(self.server.redis.execute_command(*command))}
        except redis.RedisError as e:
            return {"error": str(e)}

    def _reply(self, code, value):
        out = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def decode(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def fresh_database(server_url):
    name = f"invoke_{secrets.token_hex(6)}"
    subprocess.run(["psql", server_url, "-qAtc", f'CREATE DATABASE "{name}"'], check=True)
    parts = urllib.parse.urlsplit(server_url)
    url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    for path in sorted(glob.glob(os.path.join(ROOT, "migrations", "V*.sql")),
                       key=lambda p: int(os.path.basename(p)[1:].split("__")[0])):
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-f", path], check=True, stdout=subprocess.DEVNULL)
    return name, url


def moto_queues():
    """The ingest, email, extract and crawl queues (and the crawl queue's dead-letter queue) and the uploads
    bucket, made in the moto server for this run, and the sender verified in SES."""
    import boto3  # from the test venv (moto's dependency)
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    suffix = secrets.token_hex(4)
    ses = boto3.client("sesv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    ses.create_email_identity(EmailIdentity=SENDER)
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket=f"invoke-uploads-{suffix}")
    queues = {name: sqs.create_queue(QueueName=f"invoke-{name}-{suffix}")["QueueUrl"]
              for name in ("ingest", "email", "extract", "crawl", "crawl-dlq")}
    queues["bucket"] = f"invoke-uploads-{suffix}"
    return queues


def environment(rt_port, db_url, upstash_url, upstash_token, queues):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{rt_port}/.rt",
        "AWS_LAMBDA_FUNCTION_NAME": "_",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "RUST_LOG": "info",
        "DATABASE_URL": db_url,
        "JWT_SECRET": "invoke-events-secret-invoke-events-secret-0123",
        "ADMIN_API_KEY": ADMIN_KEY,
        "STRIPE_WEBHOOK_SECRET": "whsec_invoke_events",
        "STRIPE_SECRET_KEY": "sk_test_invoke_events",
        "UPSTASH_REDIS_REST_URL": upstash_url,
        "UPSTASH_REDIS_REST_TOKEN": upstash_token,
        "OPENAI_API_KEY": "sk-invoke-events",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_MAX_RETRIES": "0",
        "QDRANT_URL": "http://127.0.0.1:9",
        "EMAIL_FROM": f"Studio <{SENDER}>",
        "APP_URL": "https://app.example.com",
        "SQS_INGEST_QUEUE_URL": queues["ingest"],
        "SQS_EMAIL_QUEUE_URL": queues["email"],
        "SQS_EXTRACT_QUEUE_URL": queues["extract"],
        # Required on Lambda by crawl-worker, agents-api and cron; admin-api reads both queues' depths.
        "SQS_CRAWL_QUEUE_URL": queues["crawl"],
        "SQS_CRAWL_DLQ_URL": queues["crawl-dlq"],
        "UPLOADS_BUCKET": queues["bucket"],
    }
    return env


def remember(event, answer, session):
    """Keeps the token pair and workspace id the auth samples' answers carry, the publishable key the live
    key sample made, and the visitor session the live session sample opened with it."""
    if event not in ("auth-register.json", "auth-login.json", "live:auth-token.json",
                     "live:workspaces-api-key-create.json", "live:public-session.json"):
        return
    try:
        body = json.loads(answer.get("body") or "{}")
    except ValueError:
        return
    if event == "live:workspaces-api-key-create.json" and body.get("key"):
        session["PUBLISHABLE_KEY"] = body["key"]
        return
    if event == "live:public-session.json" and body.get("sessionToken"):
        session["SESSION_TOKEN"] = body["sessionToken"]
        return
    for key, name in (("accessToken", "ACCESS_TOKEN"), ("refreshToken", "REFRESH_TOKEN")):
        if body.get(key):
            session[name] = body[key]
    if isinstance(body.get("workspace"), dict):
        session["WORKSPACE_ID"] = body["workspace"]["id"]


def live_sample(event, session, tmp):
    """The sample with its placeholders replaced by this run's token and workspace id, as a file."""
    with open(os.path.join(ROOT, "events", event)) as f:
        text = f.read()
    for name, value in session.items():
        text = text.replace(f"REPLACE_WITH_{name}", value)
    if "REPLACE_WITH_" in text:
        return None
    path = os.path.join(tmp, event)
    with open(path, "w") as f:
        f.write(text)
    return path


def invoke_streaming(rt_port, event):
    """POSTs the sample to the emulator's invoke endpoint; returns the streamed status and JSON body."""
    with open(os.path.join(ROOT, "events", event), "rb") as f:
        data = f.read()
    request = urllib.request.Request(f"http://127.0.0.1:{rt_port}/2015-03-31/functions/_/invocations", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-dir", default=os.path.join(ROOT, "target", "debug"))
    parser.add_argument("--venv", default=os.path.join(ROOT, ".venv"))
    args = parser.parse_args()
    cargo_lambda = os.path.join(args.venv, "bin", "cargo-lambda")

    server_url = os.environ["TEST_DATABASE_URL"]
    db_name, db_url = fresh_database(server_url)

    upstash = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstash)
    upstash.daemon_threads = True
    upstash.token = secrets.token_hex(16)
    upstash.prefix = f"invoke-events:{secrets.token_hex(4)}:"
    upstash.redis = redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    threading.Thread(target=upstash.serve_forever, daemon=True).start()
    upstash_url = f"http://127.0.0.1:{upstash.server_address[1]}"

    queues = moto_queues()
    rt_port = free_port()
    watch = subprocess.Popen([cargo_lambda, "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(rt_port)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    failures, passed = [], 0
    session = {}
    tmp = tempfile.mkdtemp(prefix="invoke-events-")
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", rt_port), timeout=0.2).close()
                break
            except OSError:
                if watch.poll() is not None:
                    sys.exit(f"cargo lambda watch stopped: {watch.stderr.read().decode(errors='replace')[-800:]}")
                time.sleep(0.1)

        plan = {}
        for binary, events in EXPECTED.items():
            for event, status in events.items():
                plan.setdefault(binary, []).append((event, f"HTTP {status}", lambda r, s=status: r.get("statusCode") == s))
        for (binary, event), (what, check) in OTHER.items():
            plan.setdefault(binary, []).append((event, what, check))
        for binary, events in LIVE.items():
            for event, status in events.items():
                plan.setdefault(binary, []).append((f"live:{event}", f"HTTP {status}", lambda r, s=status: r.get("statusCode") == s))
        for (binary, event), (status, code) in STREAMING.items():
            plan.setdefault(binary, []).append((event, f"a streamed HTTP {status} ({code})", (status, code)))
        covered = {e for runs in plan.values() for e, _, _ in runs if not e.startswith("live:")}
        missing = sorted(set(os.listdir(os.path.join(ROOT, "events"))) - covered)
        if missing:
            failures.append(f"samples in events/ that no function here replays: {missing}")

        for binary, runs in plan.items():
            path = os.path.join(args.target_dir, binary)
            if not os.path.exists(path):
                failures.append(f"{binary}: {path} is not built")
                continue
            failed_before = len(failures)
            proc = subprocess.Popen([path], env=environment(rt_port, db_url, upstash_url, upstash.token, queues),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                time.sleep(0.5)
                if proc.poll() is not None:
                    failures.append(f"{binary}: stopped at start-up: {proc.stdout.read().decode(errors='replace')[-800:]}")
                    continue
                for event, what, check in runs:
                    if isinstance(check, tuple):
                        got = invoke_streaming(rt_port, event)
                        if got[0] == check[0] and got[1].get("error", {}).get("code") == check[1]:
                            passed += 1
                            print(f"ok    {binary:<15} {event:<32} {got[0]} (streamed)")
                        else:
                            failures.append(f"{binary} {event}: expected {what}, got {got}")
                        continue
                    data_file = os.path.join("events", event)
                    if event.startswith("live:"):
                        data_file = live_sample(event[len("live:"):], session, tmp)
                        if data_file is None:
                            failures.append(f"{binary} {event}: the auth samples gave no token to make it live")
                            continue
                    try:
                        out = subprocess.run([cargo_lambda, "lambda", "invoke", "-A", "127.0.0.1", "-P", str(rt_port),
                                              "--data-file", data_file, "--output-format", "json"],
                                             cwd=ROOT, capture_output=True, timeout=60)
                    except subprocess.TimeoutExpired:
                        failures.append(f"{binary} {event}: no answer within 60 s")
                        continue
                    if out.returncode != 0:
                        failures.append(f"{binary} {event}: invocation failed: {out.stderr.decode(errors='replace')[-600:]}")
                        continue
                    text = out.stdout.decode(errors="replace")
                    try:
                        answer = json.loads(text)
                    except ValueError:
                        failures.append(f"{binary} {event}: the answer is not JSON: {text[:300]!r}")
                        continue
                    remember(event, answer, session)
                    if check(answer):
                        passed += 1
                        shown = answer.get("statusCode", "ok") if isinstance(answer, dict) else "ok"
                        print(f"ok    {binary:<15} {event:<32} {shown}")
                    else:
                        failures.append(f"{binary} {event}: expected {what}, got {text[:400]}")
                        print(f"FAIL  {binary:<15} {event:<32} {text[:200]}")
            finally:
                proc.kill()
                logs, _ = proc.communicate()
                if len(failures) > failed_before and logs:
                    print(f"--- {binary}'s log (last lines) ---\n{logs.decode(errors='replace')[-6000:]}")
    finally:
        watch.terminate()
        try:
            watch.wait(10)
        except subprocess.TimeoutExpired:
            watch.kill()
        upstash.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["psql", server_url, "-qAtc", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'], check=False)

    print(f"\n{passed} sample events accepted and answered as expected through cargo lambda invoke")
    if failures:
        print("\n".join(["", "FAILED:"] + failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
