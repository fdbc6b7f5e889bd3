# e2e_hostile.sh — names read from files are data, never code. Tensor and run
# names that hold newlines, quotes of both kinds, backquotes, ';', system(...)
# and '\' go through every figure kind (and every format) and through error
# messages; gnuplot must draw them as text, run nothing (marker files), and
# every message stays on one line.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

H="$TMP/hostile"
mkdir -p "$H"
# What a hostile name tries: break out of a quoted string ('), substitute a
# command (backquotes, which gnuplot expands in double-quoted strings), end
# a comment line and start a command (newline), continue a comment onto the
# next line (a trailing backslash). Each payload touches a marker file: an
# absolute one, and a relative one (gnuplot runs in the figure's folder).
payload() { # $1: marker stem, $2: newline allowed (1) or not (0)
    local m=$1 nl=$'\n'
    [ "$2" = 1 ] || nl=' '
    printf '%s' "q'd\"b\`touch $m.bq\`;s${nl}system('touch $m.sys')${nl}print \`touch $m.bq2\`;\\${nl}#"
}

if ! command -v gnuplot >/dev/null 2>&1; then
    skip "hostile names: gnuplot not installed"
else
    # Safetensors checkpoints: every tensor name carries the payload, with
    # newlines (reaches figures through the spectra file) ...
    rw-fixture runs -o "$H/nl" --safetensors --layers 2 --steps 200 --every 100 \
        --prefix "$(payload "$H/M1" 1)." >/dev/null 2>&1
    # ... and a run whose folder name carries it (relative markers).
    mv "$H/nl/relora" "$H/nl/$(payload R1 1)"
    expect_exit 0 "spectra of hostile names" rw-spectra --keep-prefix -o "$H/sp.h5" "$H/nl"/*
    for fmt in png svg pdf; do
        expect_exit 0 "spectrum ($fmt) of hostile names" \
            rw-plot spectrum "$H/sp.h5" -o "$H/spec.$fmt"
        expect_exit 0 "esd ($fmt) of hostile names" \
            rw-plot esd "$H/sp.h5" -o "$H/esd.$fmt"
    done

    # Tables: the names go through TSV too.
    expect_exit 0 "metrics of hostile names" rw-metrics --keep-prefix -o "$H/m.tsv" "$H/nl"/*
    check "every table row has the header's fields" \
        awk -F'\t' 'NR==1{n=NF} NF!=n{exit 1}' "$H/m.tsv"
    for kind in trajectory heatmap; do
        for fmt in png svg pdf; do
            expect_exit 0 "$kind ($fmt) of hostile names" \
                rw-plot $kind --metric cond "$H/m.tsv" -o "$H/$kind.$fmt"
        done
    done
    expect_exit 0 "per-layer trajectory of hostile names" \
        rw-plot trajectory --per-layer "$H/m.tsv" -o "$H/perlayer.png"
    # A figure asked for a hostile module that is not there: the error names
    # it on one line.
    expect_error "no module matches a hostile glob: one line" "no module matches" \
        rw-plot trajectory --modules "$(payload X 1)" "$H/m.tsv" -o "$H/none.png"

    # Nothing ran: no marker file (M1.*, R1.*, X.*) anywhere, however named.
    check "no payload ran (no marker files)" \
        test -z "$(find "$H" / -maxdepth 1 \( -name 'M1.*' -o -name 'R1.*' -o -name 'X.*' \) 2>/dev/null)"
    check "no payload ran in the figures' folder" \
        test -z "$(find "$H" \( -name 'M1.*' -o -name 'R1.*' -o -name 'X.*' \) 2>/dev/null)"
    # The figures exist and show the names as text, escaped, on one line each.
    check "spectrum drawn" test -s "$H/spec.png"
    check "the script shows the name escaped on one line" \
        grep -q "q''d\"b\`touch .*M1\.bq\`;s\\\\nsystem(''touch .*M1\.sys'')\\\\nprint" "$H/spec.gp"
    check "no script line starts with the payload's command" \
        bash -c '! grep -hE "^[[:space:]]*(system|print)" "$@"' _ "$H"/*.gp
    check "no temporaries left" test -z "$(find "$H" -name '.*.rw[0-9]*.??????')"
fi

# A figure name with a control character is refused (usage), nothing written.
expect_exit 2 "figure name with a newline" rw-plot trajectory "$H/m.tsv" -o "$H/a"$'\n'"b.png"
