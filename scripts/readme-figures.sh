#!/usr/bin/env bash
# readme-figures.sh — regenerates the fixture figures the README shows
# (docs/figures/*.png) from the current build: ./analyze.sh on the fixture
# runs, then copies the figures the README names. Run it after a change
# that changes a figure, and view the new PNGs before committing them.
#
#   scripts/readme-figures.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd -P)
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
"$here/analyze.sh" -o "$tmp/out" >/dev/null
n=0
for f in "$here"/docs/figures/*.png; do
    name=$(basename -- "$f")
    [ -f "$tmp/out/figures/$name" ] || { echo "readme-figures.sh: analyze.sh drew no $name" >&2; exit 1; }
    if cmp -s -- "$tmp/out/figures/$name" "$f"; then continue; fi
    cp -- "$tmp/out/figures/$name" "$f"
    echo "readme-figures.sh: docs/figures/$name regenerated"
    n=$((n + 1))
done
echo "readme-figures.sh: $n of $(ls "$here"/docs/figures/*.png | wc -l) figures changed"
