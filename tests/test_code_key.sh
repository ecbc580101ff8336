#!/bin/sh
# test_code_key.sh: scripts/code-key.sh on a made-up build folder and linker
# map: the key depends on the stage's object and on every library member the
# map lists, not on members it does not list, and not on the config module
# (cfg_*.o) or the artifact schema tables (h5io_schema.o); the same inputs
# give the same key. The real link (the Makefile writes BUILD/<stage>.code
# beside each stage) is exercised by every `make experiment=...` in
# test_dag.sh. Prints "test_code_key: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/gos_test_code_key.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
test_name=test_code_key
. "$(dirname "$0")/check.sh"
: > "$tmp/out"

b="$tmp/build"
mkdir -p "$b/stages" "$b/pipeline/train" "$b/pipeline/config" "$b/pipeline/io" \
         "$b/pipeline/search"
echo main > "$b/stages/train.o"
echo trainer > "$b/pipeline/train/trainer.o"
echo schema > "$b/pipeline/config/cfg_schema.o"
echo load > "$b/pipeline/config/cfg_load.o"
echo tables > "$b/pipeline/io/h5io_schema.o"
echo search > "$b/pipeline/search/search.o"
cat > "$b/train.map" <<'MAP'
Archive member included to satisfy reference by file (symbol)

build/libgos.a(trainer.o)     build/stages/train.o (train_run)
build/libgos.a(cfg_schema.o)  build/libgos.a(cfg_load.o) (cfg_schema)
build/libgos.a(cfg_load.o)    build/stages/train.o (cfg_load)
build/libgos.a(h5io_schema.o) build/libgos.a(trainer.o) (h5io_schema_find)
MAP

key() { scripts/code-key.sh "$b/train" "$b" 2>"$tmp/out"; }
k0=$(key)
check "a key is a sha256" sh -c "echo '$k0' | grep -qx '[0-9a-f]\{64\}'"
check "the same inputs give the same key" test "$(key)" = "$k0"

echo "schema with a new key" > "$b/pipeline/config/cfg_schema.o"
echo "loader" > "$b/pipeline/config/cfg_load.o"
echo "tables with a new field" > "$b/pipeline/io/h5io_schema.o"
check "the config module and the schema tables leave the key alone" test "$(key)" = "$k0"

echo "search changed" > "$b/pipeline/search/search.o"
check "a library object the stage does not link leaves the key alone" test "$(key)" = "$k0"

echo "trainer changed" > "$b/pipeline/train/trainer.o"
k1=$(key)
check "a linked library object changes the key" test "$k1" != "$k0"

echo "main changed" > "$b/stages/train.o"
check "the stage's own object changes the key" test "$(key)" != "$k1"

rm "$b/pipeline/train/trainer.o"
check "a member missing from the build is an error" sh -c "! scripts/code-key.sh '$b/train' '$b' >/dev/null 2>&1"

check_summary
