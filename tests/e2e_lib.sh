# e2e_lib.sh — helpers for the end-to-end tests (sourced by tests/e2e.sh).
# tests/e2e.sh runs each tests/e2e_*.sh file in a bash of its own, several at
# once: a file uses these functions and the variables RW_BIN (the programs),
# TMP (a scratch directory of its own: a file writes nowhere else) and
# REALDATA (../shared/realdata, or empty when absent), and shares nothing
# with the other files but the fixtures below. Each file starts with
#     [ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"
# so that `bash tests/e2e_NAME.sh` runs it (through e2e.sh) on its own.

ok() { E2E_PASS=$((E2E_PASS + 1)); }
bad() { E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL [$E2E_FILE]: $*" >&2; }
skip() { E2E_SKIP=$((E2E_SKIP + 1)); echo "SKIP [$E2E_FILE]: $*" >&2; }

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }

# expect_exit CODE DESCRIPTION COMMAND...: runs COMMAND (stdout and stderr
# to $TMP/out, $TMP/err) and passes when it exits with CODE.
expect_exit() {
    local code=$1 d=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq "$code" ]; then ok; else
        bad "$d: exit $rc, expected $code; stderr: $(head -c 300 "$TMP/err")"; fi
}

# expect_error DESCRIPTION PATTERN COMMAND...: exit 1, exactly one line on
# stderr, matching the grep -E PATTERN.
expect_error() {
    local d=$1 pat=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$? lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne 1 ]; then bad "$d: exit $rc, expected 1; stderr: $(head -c 300 "$TMP/err")"
    elif [ "$lines" -ne 1 ]; then bad "$d: $lines lines on stderr, expected 1: $(head -c 300 "$TMP/err")"
    elif ! grep -qE -- "$pat" "$TMP/err"; then bad "$d: stderr '$(cat "$TMP/err")' lacks /$pat/"
    else ok; fi
}

# col TABLE NAME: prints the column NAME of a TSV table (no header).
col() { awk -F'\t' -v n="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==n) c=i; next} {print $c}' "$1"; }

# close_tol A B RTOL ATOL: |A-B| <= ATOL + RTOL*max(|A|,|B|).
close_tol() {
    awk -v a="$1" -v b="$2" -v t="$3" -v at="$4" 'BEGIN{
        if (a==b) exit 0;
        if (a ~ /nan/ || b ~ /nan/ || a ~ /inf/ || b ~ /inf/) exit 1;
        d=a-b; if(d<0)d=-d; m=(a<0?-a:a); n=(b<0?-b:b); if(n>m)m=n;
        exit !(d <= at + t*m) }'
}

# close_rel A B TOL: |A-B| <= TOL*max(|A|,|B|) (nan equals nan, inf equals inf).
close_rel() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN{
        if (a==b) exit 0;
        if (a ~ /nan/ || b ~ /nan/ || a ~ /inf/ || b ~ /inf/) exit 1;
        d=a-b; if(d<0)d=-d; m=(a<0?-a:a); n=(b<0?-b:b); if(n>m)m=n;
        exit !(d <= t*m) }'
}

# fixture DIR ARGS...: DIR (a path in $TMP) becomes a link to the output of
# `rw-fixture ARGS -o ...`, made once per run of e2e.sh and shared by every
# file asking for the same ARGS: the first to ask makes it (under a lock), the
# others wait for it. Shared, so only to be read (it is made read-only: copy
# what a test changes). No output on success, as `rw-fixture >/dev/null`.
fixture() {
    local dir=$1 key fx
    shift
    key=$*
    key=${key// /_}
    fx="$E2E_TOP/fixtures/${key//\//%}"
    {
        flock 9
        if [ ! -e "$fx.done" ]; then
            rm -rf "$fx"
            rw-fixture "$@" -o "$fx" >/dev/null && chmod -R a-w "$fx" && : >"$fx.done"
        fi
    } 9>"$fx.lock"
    ln -s "$fx" "$dir"
}
