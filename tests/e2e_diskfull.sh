# e2e_diskfull.sh — a full disk is a failure, never a wrong file. Every
# program that writes (-o) is run with its output on a small tmpfs of many
# sizes; at each size it must either succeed with exactly the output it
# writes on a roomy disk, or exit 1 with one line on stderr and leave
# nothing behind (no output, no temporary, no staging folder). Needs root
# to mount a tmpfs: skipped, saying so, where that is not allowed.
[ -n "${E2E_FILE-}" ] || exec bash "$(dirname "$0")/e2e.sh" "$0"  # run alone: see e2e_lib.sh

D="$TMP/diskfull"
mkdir -p "$D/ref" "$D/fs"

# Standard output on a full device (/dev/full): exit 1, one line with the
# reason, for every writer of tables and reports (one helper: outfile_write).
fixture "$D/kn" known
rw-rank -o "$D/kn.tsv" "$D/kn/known"
expect_error "rw-rank to a full stdout" '^rw-rank: stdout: write failed: No space left on device$' \
    bash -c 'rw-rank "$1" >/dev/full' _ "$D/kn/known"
expect_error "rw-compare to a full stdout" '^rw-compare: stdout: write failed: No space left on device$' \
    bash -c 'rw-compare "$1" >/dev/full' _ "$D/kn.tsv"
expect_error "rw-compare --format md to a full stdout" '^rw-compare: stdout: write failed: No space left on device$' \
    bash -c 'rw-compare --format md "$1" >/dev/full' _ "$D/kn.tsv"
expect_error "rw-diff to a full stdout" '^rw-diff: stdout: write failed: No space left on device$' \
    bash -c 'rw-diff "$1" "$1" >/dev/full' _ "$D/kn.tsv"
if ! mount -t tmpfs -o size=64k tmpfs "$D/fs" 2>/dev/null; then
    skip "disk full: cannot mount a tmpfs here (needs root)"
else
    umount "$D/fs"
    rw-fixture runs -o "$D/in" --layers 2 --steps 400 --every 100 >/dev/null
    runs=("$D/in/full-rank" "$D/in/relora")
    rw-spectra -o "$D/ref/sp.h5" "${runs[@]}" 2>/dev/null
    rw-rank "$D/ref/sp.h5" >"$D/ref/sp.rank.tsv"
    rw-metrics -o "$D/ref/m.tsv" "${runs[@]}" 2>/dev/null
    rw-compare -o "$D/ref/c.tsv" "$D/ref/m.tsv" 2>/dev/null
    fixture "$D/ref/fx" known

    # outcome NAME SIZE: judges the last command (rc in $rc, stderr in
    # $D/err); the reference check for a success is in $same (0 = equal).
    failed_at=() passed_at=()
    outcome() {
        local name=$1 size=$2
        if [ "$rc" -eq 0 ]; then
            passed_at+=("$name@$size")
            [ "$same" -eq 0 ] && ok || bad "$name at $size: exit 0 but the output differs from the reference"
        elif [ "$rc" -eq 1 ]; then
            failed_at+=("$name@$size")
            local lines left
            lines=$(wc -l <"$D/err")
            left=$(ls -A "$D/fs")
            if [ "$lines" -ne 1 ]; then bad "$name at $size: $lines lines on stderr: $(head -c 300 "$D/err")"
            elif [ -n "$left" ]; then bad "$name at $size: failed but left: $left"
            else ok; fi
        else
            bad "$name at $size: exit $rc; stderr: $(head -c 300 "$D/err")"
        fi
    }
    have_gp=0
    command -v gnuplot >/dev/null 2>&1 && have_gp=1
    for size in 4k 24k 96k 256k 512k 768k; do
        mount -t tmpfs -o size=$size tmpfs "$D/fs" || { bad "mount $size"; continue; }
        rw-spectra -o "$D/fs/sp.h5" "${runs[@]}" 2>"$D/err"; rc=$? same=1
        [ $rc -eq 0 ] && { rw-rank "$D/fs/sp.h5" 2>/dev/null | cmp -s - "$D/ref/sp.rank.tsv"; same=$?; }
        outcome rw-spectra $size; rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null

        rw-metrics -o "$D/fs/m.tsv" "${runs[@]}" 2>"$D/err"; rc=$? same=1
        [ $rc -eq 0 ] && { cmp -s "$D/fs/m.tsv" "$D/ref/m.tsv"; same=$?; }
        outcome rw-metrics $size; rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null

        rw-compare -o "$D/fs/c.tsv" "$D/ref/m.tsv" 2>"$D/err"; rc=$? same=1
        [ $rc -eq 0 ] && { cmp -s "$D/fs/c.tsv" "$D/ref/c.tsv"; same=$?; }
        outcome rw-compare $size; rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null

        # rw-fixture writes a folder of files: each must be whole (as on the
        # roomy disk) or absent, and no temporary may be left.
        rw-fixture known -o "$D/fs/fx" >/dev/null 2>"$D/err"; rc=$? same=0
        for f in $(cd "$D/fs" && find . -type f); do
            cmp -s "$D/fs/$f" "$D/ref/$f" || { same=1; [ $rc -eq 1 ] && bad "rw-fixture at $size: left $f"; }
        done
        [ $rc -eq 1 ] && rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null
        outcome rw-fixture $size; rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null

        if [ $have_gp = 1 ]; then
            for kind in trajectory heatmap spectrum; do
                src="$D/ref/m.tsv"; [ $kind = spectrum ] && src="$D/ref/sp.h5"
                rw-plot $kind -o "$D/fs/$kind.png" "$src" 2>"$D/err"; rc=$? same=1
                if [ $rc -eq 0 ]; then
                    # whole: the PNG ends with its IEND chunk, and its script
                    # matches the one written on the roomy disk
                    [ -f "$D/ref/$kind.gp" ] || rw-plot $kind -o "$D/ref/$kind.png" "$src" 2>/dev/null
                    tail -c 8 "$D/fs/$kind.png" | od -An -tx1 | tr -d ' \n' | grep -q '^49454e44ae426082$' &&
                        cmp -s "$D/fs/$kind.gp" "$D/ref/$kind.gp"
                    same=$?
                fi
                outcome "rw-plot $kind" $size; rm -rf "$D/fs"/* "$D/fs"/.[!.]* 2>/dev/null
            done
        fi
        umount "$D/fs"
    done
    # Both outcomes must occur, or the sizes test nothing.
    check "some writes failed for want of room (${#failed_at[@]})" test ${#failed_at[@]} -gt 0
    check "some writes succeeded (${#passed_at[@]})" test ${#passed_at[@]} -gt 0
    for p in rw-spectra rw-metrics rw-fixture; do
        check "$p failed at some size" bash -c "[[ ' ${failed_at[*]} ' == *' $p@'* ]]"
    done
    if [ $have_gp = 1 ]; then
        for kind in trajectory heatmap spectrum; do
            check "rw-plot $kind failed at some size" bash -c "[[ ' ${failed_at[*]} ' == *'$kind@'* ]]"
        done
    fi
fi
