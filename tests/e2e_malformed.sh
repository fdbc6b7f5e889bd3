# e2e_malformed.sh — the malformed-input corpus (tests/malformed/): each
# file is given to the command its line of tests/malformed/EXPECT names, which
# must exit with the code given there and print at most one line on stderr,
# matching the line's pattern; a failed command must leave nothing in its
# output directory, a successful one no temporary file. Lines marked pending
# (the fix belongs to another part of the work) are reported as skipped,
# with the reason. Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
#
# EXPECT: at least one line per file, tab-separated:
#   FILE  COMMAND  EXIT  PATTERN  [pending: REASON]
# FILE is relative to tests/malformed/. In COMMAND (split at spaces, never
# through a shell) {} is the file's path, {dir} its directory and {o} a fresh
# empty directory for outputs. PATTERN is an extended regex ({} in it: the
# path, quoted) that the single stderr line must match; `-` means stderr
# must be empty (exit 0 only).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

MAL=tests/malformed

# re_quote S: sets mal_q to S with every character special in an extended regex
# escaped (in the shell: a fork per line costs more than the check itself).
re_quote() {
    local s=$1 c i
    mal_q=
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        '[' | ']' | '.' | '*' | '^' | '$' | '+' | '?' | '(' | ')' | '{' | '}' | '|' | '\')
            mal_q+="\\$c" ;;
        *) mal_q+=$c ;;
        esac
    done
}

# leftovers DIR: sets the array mal_left to the entries of DIR, hidden ones
# too, without a fork (the glob options are restored as they were).
leftovers() {
    local ng=0 dg=0
    shopt -q nullglob && ng=1
    shopt -q dotglob && dg=1
    shopt -s nullglob dotglob
    mal_left=("$1"/*)
    ((ng)) || shopt -u nullglob
    ((dg)) || shopt -u dotglob
}

# expect_outcome CODE DESCRIPTION PATTERN COMMAND...: like expect_error,
# for any exit code, and with PATTERN `-` for an empty stderr.
expect_outcome() {
    local code=$1 d=$2 pat=$3; shift 3
    if [ "$code" -eq 1 ] && [ "$pat" != - ]; then
        expect_error "$d" "$pat" "$@"
        return
    fi
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$? lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne "$code" ]; then bad "$d: exit $rc, expected $code; stderr: $(head -c 300 "$TMP/err")"
    elif [ "$pat" = - ]; then
        if [ -s "$TMP/err" ]; then bad "$d: stderr not empty: $(head -c 300 "$TMP/err")"; else ok; fi
    elif [ "$lines" -ne 1 ]; then bad "$d: $lines lines on stderr, expected 1: $(head -c 300 "$TMP/err")"
    elif ! grep -qE -- "$pat" "$TMP/err"; then bad "$d: stderr '$(cat "$TMP/err")' lacks /$pat/"
    else ok; fi
}

# The pickles of pt-global-os-system.pt, pt-stack-global-eval.pt and
# pt-inst.pt, were they run (Python's pickle.load runs them), would create
# /tmp/rankwatch-malformed-ran-<what>: none may exist after the corpus ran.
mal_ran=/tmp/rankwatch-malformed-ran-
rm -f "$mal_ran"*

declare -A mal_listed=()
mal_n=0
mal_lines=$(grep -c . "$MAL/EXPECT")
eval "mkdir -p \"\$TMP\"/o{1..$mal_lines}"
# EXPECT on descriptor 3: the commands' stdin stays the test's own.
while IFS=$'\t' read -r -u 3 file cmd code pat pending; do
    case $file in '' | '#'*) continue ;; esac
    mal_listed[$file]=1
    path=$MAL/$file
    if [ ! -e "$path" ]; then
        bad "EXPECT names $file, which is not in $MAL"
        continue
    fi
    if [ -n "${pending:-}" ]; then
        skip "$file: $pending"
        continue
    fi
    mal_n=$((mal_n + 1))
    odir="$TMP/o$mal_n"
    read -ra words <<<"$cmd"
    for i in "${!words[@]}"; do
        w=${words[$i]}
        w=${w//\{dir\}/"${path%/*}"}
        w=${w//\{o\}/"$odir"}
        words[$i]=${w//\{\}/"$path"}
    done
    re_quote "$path"
    [ "$pat" = - ] || pat=${pat//\{\}/"$mal_q"}
    expect_outcome "$code" "$file: $cmd" "$pat" timeout 20 "${words[@]}"
    leftovers "$odir"
    if [ "$code" -ne 0 ] && [ "${#mal_left[@]}" -gt 0 ]; then
        bad "$file: $cmd: failed, yet left in its output directory: ${mal_left[*]##*/}"
    elif [[ " ${mal_left[*]##*/}" == *" ."* ]]; then
        bad "$file: $cmd: left a temporary file: ${mal_left[*]##*/}"
    else
        ok
    fi
done 3<"$MAL/EXPECT"

ran=$(compgen -G "$mal_ran*")
if [ -n "$ran" ]; then
    bad "a pickle of the corpus ran code: $ran exists"
    rm -f "$mal_ran"*
else
    ok
fi

# Every file of the corpus has its line (ok-* files are helpers of others).
while IFS= read -r f; do
    f=${f#"$MAL"/}
    case ${f##*/} in ok-* | make_corpus.sh | EXPECT) continue ;; esac
    [ -n "${mal_listed[$f]:-}" ] || bad "$MAL/$f has no line in $MAL/EXPECT"
done < <(find "$MAL" -type f | sort)
