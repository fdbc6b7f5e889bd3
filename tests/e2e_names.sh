# e2e_names.sh — tensor and run names holding a tab, a newline, a backslash,
# a quote and a comma, through every table format (table.h's escape rule,
# docs/reliability.md "Names in output files"): every row keeps the header's
# fields, and the names come back byte for byte through rw-compare and
# rw-diff. Sourced by tests/e2e.sh (helpers: e2e_lib.sh).
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

# Every tensor name starts with P (rw-fixture --prefix), kept by
# --keep-prefix (without it, P is the prefix stripped: rw-ls says so in its
# prefix column); the embeddings have no layer, so their module is the
# whole name too. The full-rank run's label
# L ends in a backslash.
P=$'odd\tname\nwith\\back"quote,comma.'
L=$'full\trun,"x"\n\\'
# The same, as the TSV writes them (single quotes: backslashes literal).
P_TSV='odd\tname\nwith\\back"quote,comma.'
L_TSV='full\trun,"x"\n\\'
fx="$TMP/fx"
rw-fixture runs -o "$fx" --layers 1 --steps 100 --every 100 --prefix "$P" >/dev/null 2>&1 ||
    bad "rw-fixture with a hostile --prefix"

# same_fields TSV: every line has as many tab-separated fields as the header.
same_fields() { awk -F'\t' 'NR == 1 { n = NF } NF != n { exit 1 }' "$1"; }
# unescaped TEXT: the TSV escapes undone by printf %b (independent of table.c).
unescaped() { printf '%b' "$1"; }

expect_exit 0 "rw-ls on hostile names" rw-ls --keep-prefix "$fx/full-rank"
check "rw-ls: every row has the header's fields" same_fields "$TMP/out"
check "rw-ls: one line per tensor and step (2 x 12)" [ "$(wc -l <"$TMP/out")" -eq 25 ]
expect_exit 0 "rw-ls strips the hostile prefix" rw-ls "$fx/full-rank"
check "rw-ls: every row has the header's fields (prefix stripped)" same_fields "$TMP/out"
check "rw-ls: the stripped prefix unescapes to P" \
    [ "$(unescaped "$(col "$TMP/out" prefix | sort -u)")" = "$P" ]
check "rw-ls: the names lose it (de_embedding_proj.weight at both steps)" \
    [ "$(col "$TMP/out" tensor | grep -c '^de_embedding_proj.weight$')" -eq 2 ]

expect_exit 0 "rw-rank on hostile names" rw-rank --keep-prefix -o "$TMP/rank.tsv" "$L=$fx/full-rank" "relora=$fx/relora"
check "rw-rank: every row has the header's fields" same_fields "$TMP/rank.tsv"
check "rw-rank: 36 rows (2 runs x 2 steps x 9 matrices)" [ "$(wc -l <"$TMP/rank.tsv")" -eq 37 ]
check "rw-rank: tensor name escaped as documented" \
    grep -qF "	${P_TSV}de_embedding_proj.weight	-1	${P_TSV}de_embedding_proj.weight	weight	" "$TMP/rank.tsv"
t=$(col "$TMP/rank.tsv" tensor | head -1)
check "rw-rank: tensor name unescapes to the original bytes" [ "$(unescaped "$t")" = "${P}de_embedding_proj.weight" ]
r=$(col "$TMP/rank.tsv" run | head -1)
check "rw-rank: run label unescapes to the original bytes" [ "$(unescaped "$r")" = "$L" ]

# rw-compare reads the names back and writes them again: same bytes.
expect_exit 0 "rw-compare on hostile names" rw-compare -o "$TMP/cmp.tsv" "$TMP/rank.tsv"
check "rw-compare: every row has the header's fields" same_fields "$TMP/cmp.tsv"
check "rw-compare: hostile module and run kept" \
    grep -qF "${P_TSV}de_embedding_proj.weight	per	100	${L_TSV}	1	" "$TMP/cmp.tsv"
expect_exit 0 "rw-compare --summary on hostile names" rw-compare --summary -o "$TMP/sum.tsv" "$TMP/rank.tsv"
check "rw-compare --summary: every row has the header's fields" same_fields "$TMP/sum.tsv"
check "rw-compare --summary: the reference run is the hostile label" \
    [ "$(col "$TMP/sum.tsv" ref | sort -u)" = "$L_TSV" ]

# rw-diff: a table against itself is equal; a changed value in a hostile row
# is reported on one line under its escaped key.
expect_exit 0 "rw-diff: rank table against itself" rw-diff "$TMP/rank.tsv" "$TMP/rank.tsv"
check "rw-diff: every row matched" grep -q 'rows: 36 matched, 0 only' "$TMP/out"
expect_exit 0 "rw-diff: rw-compare table against itself" rw-diff "$TMP/cmp.tsv" "$TMP/cmp.tsv"
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 2 { $11 = $11 / 2 } { print }' "$TMP/rank.tsv" >"$TMP/mod.tsv"
expect_exit 1 "rw-diff: a changed value in a hostile row" rw-diff "$TMP/rank.tsv" "$TMP/mod.tsv"
check "rw-diff: the difference on one line, names escaped" \
    grep -qF "  mod.tsv: run=$L_TSV step=0 tensor=${P_TSV}de_embedding_proj.weight component=weight: per: baseline" "$TMP/out"
check "rw-diff: text report of 6 lines" [ "$(wc -l <"$TMP/out")" -eq 6 ]
expect_exit 1 "rw-diff --format md on hostile names" rw-diff --format md "$TMP/rank.tsv" "$TMP/mod.tsv"
check "rw-diff md: a table of one difference (3 rows)" [ "$(grep -c '^|.*|$' "$TMP/out")" -eq 3 ]

# CSV: quoted fields that span lines, read back by rw-diff itself.
expect_exit 0 "rw-metrics --format csv" rw-metrics --keep-prefix --format csv -o "$TMP/metrics.csv" "$L=$fx/full-rank"
expect_exit 0 "rw-metrics tsv" rw-metrics --keep-prefix -o "$TMP/metrics.tsv" "$L=$fx/full-rank"
expect_exit 0 "rw-diff: the CSV table equals the TSV one" rw-diff "$TMP/metrics.tsv" "$TMP/metrics.csv"
check "rw-diff: CSV rows all matched" grep -q 'rows: 18 matched, 0 only' "$TMP/out"

# md and tex: one line per row, whatever the names.
expect_exit 0 "rw-rank --format md" rw-rank --keep-prefix --format md "$L=$fx/full-rank"
check "rw-rank md: 18 rows, each one line between pipes" \
    [ "$(grep -c '^| .* |$' "$TMP/out")" -eq 20 -a "$(wc -l <"$TMP/out")" -eq 20 ]
check "rw-rank md: the name's specials escaped" grep -qF "| ${P_TSV}de_embedding_proj.weight |" "$TMP/out"
expect_exit 0 "rw-compare --format tex" rw-compare --format tex "$TMP/rank.tsv"
check "rw-compare tex: the comment naming the reference run is one line" \
    [ "$(sed -n 2p "$TMP/out")" = '\begin{tabular}{llrlrrr}' ]
check "rw-compare tex: every body line is one row" \
    awk '/^\\midrule$/ { b = 1; next } /^\\bottomrule$/ { b = 0 } b && !/ \\\\$/ && !/^\\addlinespace$/ { exit 1 }' "$TMP/out"

# Messages name the row with its control bytes escaped: still one line.
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 2 { $11 = "abc" } { print }' "$TMP/rank.tsv" >"$TMP/abc.tsv"
expect_error "rw-diff: a message naming a hostile row is one line" \
    'abc\.tsv: row 1 \(run=full\\trun,"x"\\n\\ step=0 tensor=odd\\tname\\nwith\\back"quote,comma\.de_embedding_proj\.weight component=weight\): per .abc. is not a number' \
    rw-diff "$TMP/rank.tsv" "$TMP/abc.tsv"
expect_error "rw-compare: a message naming a hostile row is one line" 'abc\.tsv: row 1 \(run full\\trun,' \
    rw-compare "$TMP/abc.tsv"

# A TSV escape that the writer never makes is refused, naming line and field.
printf 'run\tstep\nok\t1\na\\q\t2\n' >"$TMP/badesc.tsv"
expect_error "rw-diff: a malformed escape" 'badesc\.tsv:3: field 1: malformed escape' \
    rw-diff "$TMP/badesc.tsv" "$TMP/badesc.tsv"

# The CSV and JSON parse with other parsers, names intact (only with Python;
# the project itself needs none).
if command -v python3 >/dev/null 2>&1 && python3 -c 'import csv, json' 2>/dev/null; then
    expect_exit 0 "rw-metrics --format json" rw-metrics --keep-prefix --format json -o "$TMP/metrics.json" "$L=$fx/full-rank"
    expect_exit 1 "rw-diff --format json" rw-diff --format json -o "$TMP/diff.json" "$TMP/rank.tsv" "$TMP/mod.tsv"
    check "csv and json parse; names and field counts intact" python3 -c '
import csv, json, sys
p, l, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
name = p + "de_embedding_proj.weight"
rows = list(csv.reader(open(tmp + "/metrics.csv", newline="")))
assert len(rows) == 19 and all(len(r) == len(rows[0]) for r in rows), "csv shape"
assert rows[1][0] == l and rows[1][2] == name, "csv names"
js = json.load(open(tmp + "/metrics.json"))
assert len(js) == 18 and js[0]["run"] == l and js[0]["tensor"] == name, "json names"
d = json.load(open(tmp + "/diff.json"))["differences"][0]["key"]
assert d["tensor"] == name and d["run"] == l, "rw-diff json key"
' "$P" "$L" "$TMP"
else
    skip "csv/json parsed by another reader: python3 not installed"
fi
