#!/usr/bin/env bash
# deps.sh — install the Debian packages rankwatch builds, runs and tests with,
# when any is missing. Used by analyze.sh, `make check` and .ci/run.
# Set RW_NO_INSTALL=1 to only report what is missing.
#   deps.sh --fuzz   also the fuzzing tool chain, for `make fuzz` only: clang
#                    with libFuzzer and the sanitizer runtimes
#                    (libclang-rt-dev), and llvm for llvm-symbolizer, which
#                    names the source lines in a crash's stack
#   deps.sh --mpi    also Open MPI (libopenmpi-dev: mpicc and the library;
#                    openmpi-bin: mpirun), for `make MPI=1` (rw-spectra-mpi)
#                    and its test in `make check`; RW_MPI=1 asks the same.
#                    Nothing else needs them.
set -euo pipefail

pkgs=(build-essential pkg-config liblapacke-dev libopenblas-dev libhdf5-dev
      libpng-dev libcjson-dev libcmocka-dev gnuplot-nox libzip-dev zlib1g-dev)
mpi=${RW_MPI:-0}
for a in "$@"; do
    case $a in
        --fuzz) pkgs+=(clang libclang-rt-dev llvm) ;;
        --mpi) mpi=1 ;;
        *) echo "deps.sh: unknown option $a (--fuzz, --mpi)" >&2; exit 2 ;;
    esac
done
if [ "$mpi" = 1 ]; then
    pkgs+=(libopenmpi-dev openmpi-bin)
fi

# One dpkg-query for all of them (one each took 0.45 s, paid by every
# analyze.sh run); a package dpkg does not know is left out of its output.
declare -A ok=()
while read -r name status; do
    [ "$status" = "install ok installed" ] && ok[$name]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null || true)
missing=()
for p in "${pkgs[@]}"; do
    [ -n "${ok[$p]:-}" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${RW_NO_INSTALL:-0}" = 1 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "deps.sh: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
        exit 1
    fi
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
