#!/usr/bin/env bash
# e2e.sh — end-to-end tests: runs every tests/e2e_*.sh with the helpers of
# e2e_lib.sh and prints one summary line, "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
RW_BIN=${RW_BIN:-build/bin}
RW_BIN=$(cd "$RW_BIN" && pwd)
export PATH="$RW_BIN:$PATH"
REALDATA=""
[ -d ../shared/realdata ] && REALDATA=$(cd ../shared/realdata && pwd)
E2E_PASS=0 E2E_FAIL=0 E2E_SKIP=0
source tests/e2e_lib.sh
TOP=$(mktemp -d)
trap 'rm -rf "$TOP"' EXIT
for f in tests/e2e_*.sh; do
    [ "$f" = tests/e2e_lib.sh ] && continue
    E2E_FILE=$(basename "$f" .sh)
    TMP="$TOP/$E2E_FILE"
    mkdir -p "$TMP"
    before=$((E2E_PASS + E2E_FAIL))
    source "$f"
    echo "e2e: $E2E_FILE: $((E2E_PASS + E2E_FAIL - before)) checks"
done
echo "e2e: $E2E_PASS passed, $E2E_FAIL failed, $E2E_SKIP skipped"
[ "$E2E_FAIL" -eq 0 ]
