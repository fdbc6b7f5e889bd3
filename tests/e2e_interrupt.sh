# e2e_interrupt.sh — an interrupted program leaves nothing behind: SIGTERM
# or SIGHUP during rw-spectra -o or rw-plot removes the temporary output and
# the figure's staging folder (and stops gnuplot), and the program ends by
# that signal; what a killed program (SIGKILL) leaves, the next run writing
# the same output removes, while the temporaries of live programs stay.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

I="$TMP/interrupt"
mkdir -p "$I/out"
# wait_for DIR PATTERN: until an entry of DIR matches the grep PATTERN (5 s at most).
wait_for() {
    local i
    for i in $(seq 250); do
        ls -A "$1" 2>/dev/null | grep -q -- "$2" && return 0
        sleep 0.02
    done
    return 1
}
# A run large enough that rw-spectra -j 1 takes seconds.
rw-fixture runs -o "$I/in" --layers 8 --steps 3000 --every 100 >/dev/null

for sig in TERM HUP; do
    rw-spectra -j 1 -o "$I/out/sp.h5" "$I/in/full-rank" "$I/in/relora" 2>"$TMP/err" &
    pid=$!
    if wait_for "$I/out" '^\.sp\.h5\.rw'"$pid"'\.'; then
        kill -$sig $pid
        wait $pid
        rc=$?
        want=$((128 + $(kill -l $sig)))
        [ $rc -eq $want ] && ok || bad "rw-spectra on SIG$sig: exit $rc, expected $want"
        check "rw-spectra on SIG$sig left nothing: $(ls -A "$I/out")" test -z "$(ls -A "$I/out")"
    else
        wait $pid
        bad "rw-spectra: no temporary .sp.h5.rw$pid.* appeared"
    fi
done

if command -v gnuplot >/dev/null 2>&1; then
    # A heatmap that keeps gnuplot busy: 48 layers x 300 steps, PDF (one
    # rectangle per cell).
    awk 'BEGIN{OFS="\t"; print "run","step","tensor","layer","module","component","rows","cols","dtype","per"
      for (r = 1; r <= 2; r++) for (s = 0; s < 300; s++) for (l = 0; l < 48; l++)
        print "run" r, s, "layers." l ".w", l, "w", "weight", 8, 8, "float32", (s * l % 97) / 97 }' \
        >"$I/big.tsv"
    rw-plot heatmap -o "$I/out/h.pdf" "$I/big.tsv" 2>"$TMP/err" &
    pid=$!
    if wait_for "$I/out" '^\.h\.pdf\.rw'"$pid"'\.'; then
        # gnuplot's turn: the script is staged
        gp=""
        for i in $(seq 250); do gp=$(pgrep -P $pid gnuplot) && break; sleep 0.02; done
        kill -TERM $pid
        wait $pid
        rc=$?
        [ $rc -eq 143 ] && ok || bad "rw-plot on SIGTERM: exit $rc, expected 143"
        sleep 0.2
        check "rw-plot on SIGTERM left nothing: $(ls -A "$I/out")" test -z "$(ls -A "$I/out")"
        # This rw-plot's gnuplot, not any (other tests, run at the same
        # time, draw an h.gp too): gone or a zombie (no command line).
        gp_stopped() { [ -z "$gp" ] || ! pgrep -f 'gnuplot -d [h].gp' | grep -qx -- "$gp"; }
        for i in $(seq 250); do gp_stopped && break; sleep 0.02; done
        check "rw-plot on SIGTERM stopped gnuplot" gp_stopped
    else
        wait $pid
        bad "rw-plot: no staging folder .h.pdf.rw$pid.* appeared"
    fi
else
    skip "interrupting rw-plot: gnuplot not installed"
fi

# What killed programs left: a temporary file and a staging folder of a pid
# that no longer exists, and the same of a live pid (this shell's).
sh -c 'exit 0' & dead=$!
wait $dead
: >"$I/out/.m.tsv.rw$dead.AbCdEf"
mkdir "$I/out/.f.png.rw$dead.AbCdEf"
: >"$I/out/.f.png.rw$dead.AbCdEf/f.gp"
: >"$I/out/.m.tsv.rw$$.AbCdEf"
: >"$I/out/.other.tsv.rw$dead.AbCdEf"
expect_exit 0 "rw-metrics after a killed one" rw-metrics -o "$I/out/m.tsv" "$I/in/full-rank"
check "the killed program's temporary is gone" test ! -e "$I/out/.m.tsv.rw$dead.AbCdEf"
check "a live program's temporary stays" test -e "$I/out/.m.tsv.rw$$.AbCdEf"
check "another output's temporary stays" test -e "$I/out/.other.tsv.rw$dead.AbCdEf"
if command -v gnuplot >/dev/null 2>&1; then
    expect_exit 0 "rw-plot after a killed one" rw-plot trajectory -o "$I/out/f.png" "$I/out/m.tsv"
    check "the killed rw-plot's staging folder is gone" test ! -e "$I/out/.f.png.rw$dead.AbCdEf"
fi
