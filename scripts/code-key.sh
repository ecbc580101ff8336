#!/bin/sh
# code-key.sh: the code key of a stage program, which scripts/run-stage.sh
# puts into the store key of the stage's results in place of the program's
# bytes.
#
#   code-key.sh PROGRAM BUILD_DIR      (reads PROGRAM.map, the linker's map)
#
# The key is a hash of the code (debug information stripped: it describes
# every type a file includes, used or not) of the stage's own object and of
# every library object the linker pulled into the program, except two
# modules whose effect on a result is already in its key:
#   - pipeline/config (loading, schema, text): a stage sees the config only
#     through the resolved values, whose text is the stage's fingerprint;
#   - h5io_schema.o (the artifacts' schema tables): they accept or reject an
#     artifact and change no value in it, and a stored artifact is reused
#     only after check_artifact validated it against the current tables.
# So a new config key or artifact field for one stage does not retrain the
# baselines; any change to code a stage runs still reruns it.
set -eu
program=$1
build=$2
members=$(grep -o 'libgos\.a([A-Za-z0-9_]*\.o)' "$program.map" | sort -u |
          sed 's/libgos\.a(\(.*\))/\1/')
stripped=$(mktemp /tmp/gos_code_key.XXXXXX)
trap 'rm -f "$stripped"' EXIT
code_hash() { # code_hash OBJECT: the hash of its code without debug information
    objcopy --strip-debug "$1" "$stripped" && sha256sum < "$stripped"
}
parts=$(code_hash "$build/stages/$(basename "$program").o")
for member in $members; do
    case "$member" in
        cfg_*.o|h5io_schema.o) continue ;;
    esac
    set -- "$build"/pipeline/*/"$member"
    if [ ! -f "$1" ]; then
        echo "code-key.sh: $program links $member, which is not under $build/pipeline" >&2
        exit 1
    fi
    parts="$parts
$member $(code_hash "$1")"
done
printf '%s\n' "$parts" | sha256sum | cut -d' ' -f1
