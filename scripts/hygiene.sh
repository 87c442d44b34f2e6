#!/usr/bin/env bash
# Repository hygiene, as the old system's pre-commit scripts did it. Fails when:
#   - a .env file (other than .env.example) is tracked;
#   - anything that looks like a secret is tracked and not in the reviewed baseline (.secrets.baseline,
#     every entry audited as a test fixture or an example; review new ones with
#     `.venv/bin/detect-secrets audit .secrets.baseline` after `detect-secrets scan --baseline .secrets.baseline`);
#   - a variable the README documents is missing from .env.example, or the code reads a variable the
#     README does not document.
# Usage: scripts/hygiene.sh [path-to-venv]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
fail=0

tracked_env=$(git ls-files | grep -E '(^|/)\.env(\..*)?$' | grep -vE '(^|/)\.env\.example$' || true)
if [ -n "$tracked_env" ]; then
  echo "hygiene: a .env file is committed; remove it from git (keep secrets out of the repository): $tracked_env" >&2
  fail=1
fi

# Against a copy of the baseline: the hook rewrites moved line numbers in place (exit 3, no new secret),
# which must neither dirty the checkout nor fail the run; exit 1 is a new secret.
baseline_copy=$(mktemp)
cp .secrets.baseline "$baseline_copy"
set +e
# shellcheck disable=SC2046
"$VENV/bin/detect-secrets-hook" --baseline "$baseline_copy" $(git ls-files | grep -vE '^(Cargo\.lock|\.secrets\.baseline)$') |
  grep -v -e 'The baseline file was updated' -e 'Probably to keep line numbers' -e 'Please `git add'
hook_status=${PIPESTATUS[0]}
set -e
rm -f "$baseline_copy"
if [ "$hook_status" -ne 0 ] && [ "$hook_status" -ne 3 ]; then
  echo "hygiene: detect-secrets found a possible secret that is not in .secrets.baseline (see above)." >&2
  echo "         If it is a real secret: remove it and rotate it. If it is a fixture: add it to the baseline and audit it." >&2
  fail=1
fi

# Variables documented in the README's configuration tables (rows under a "| variable |" header).
readme_vars=$(awk '/^\| variable \|/{t=1; next} t && /^\|/{print; next} {t=0}' README.md |
  cut -d'|' -f2 | grep -oE '`[A-Z][A-Z0-9_]+`' | tr -d '`' | sort -u)
example_vars=$(grep -oE '^#? ?[A-Z][A-Z0-9_]+=' .env.example | grep -oE '[A-Z][A-Z0-9_]+' | sort -u)
missing=$(comm -23 <(echo "$readme_vars") <(echo "$example_vars"))
if [ -n "$missing" ]; then
  echo "hygiene: .env.example lacks variables the README documents: $(echo "$missing" | tr '\n' ' ')" >&2
  fail=1
fi
# Every variable the configuration code reads is documented.
code_vars=$(grep -rhoE '(get|parsed|required|set_default)\("[A-Z][A-Z0-9_]+"' shared/src devserver/src |
  grep -oE '"[A-Z0-9_]+"' | tr -d '"' | grep -vE '^AWS_LAMBDA_FUNCTION_NAME$' | sort -u)
undocumented=$(comm -23 <(echo "$code_vars") <(echo "$readme_vars"))
if [ -n "$undocumented" ]; then
  echo "hygiene: the code reads variables the README does not document: $(echo "$undocumented" | tr '\n' ' ')" >&2
  fail=1
fi

if [ "$fail" -ne 0 ]; then exit 1; fi
echo "hygiene: no .env committed, no unreviewed secrets, .env.example and README agree with the code"
