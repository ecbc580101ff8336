#!/bin/sh
# test_code_key.sh: scripts/code-key.sh on a small build folder of real
# objects (cc -g) and a linker map: the key depends on the code of the
# stage's object and of every library member the map lists; not on members
# it does not list, not on the config module (cfg_*.o) or the artifact schema
# tables (h5io_schema.o), and not on debug information alone (a type added
# to an included header); the same inputs give the same key; a listed member
# missing from the build is an error. The real link (the Makefile writes
# BUILD/<stage>.code beside each stage) runs in every `make experiment=...`
# of test_dag.sh. Prints "test_code_key: N passed, N failed".
set -u
tmp=$(mktemp -d /tmp/gos_test_code_key.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
test_name=test_code_key
. "$(dirname "$0")/check.sh"
: > "$tmp/out"

b="$tmp/build"
mkdir -p "$b/stages" "$b/pipeline/train" "$b/pipeline/config" "$b/pipeline/io" \
         "$b/pipeline/search" "$tmp/src"
# obj OUTPUT BODY: compiles a one-function C file (including a shared
# header) with debug information.
obj() {
    printf '#include "shared.h"\n%s\n' "$2" > "$tmp/src/$(basename "$1" .o).c"
    cc -g -c -I"$tmp/src" "$tmp/src/$(basename "$1" .o).c" -o "$1"
}
echo 'struct config { int epochs; };' > "$tmp/src/shared.h"
build_all() {
    obj "$b/stages/train.o" 'int main(void) { return 0; }'
    obj "$b/pipeline/train/trainer.o" 'int train(struct config *c) { return c->epochs; }'
    obj "$b/pipeline/config/cfg_schema.o" 'const char *doc = "epochs";'
    obj "$b/pipeline/io/h5io_schema.o" 'const char *table = "/steps";'
    obj "$b/pipeline/search/search.o" 'int search(void) { return 1; }'
}
build_all
cat > "$b/train.map" <<'MAP'
Archive member included to satisfy reference by file (symbol)

build/libgos.a(trainer.o)     build/stages/train.o (train)
build/libgos.a(cfg_schema.o)  build/stages/train.o (doc)
build/libgos.a(h5io_schema.o) build/libgos.a(trainer.o) (table)
MAP

key() { scripts/code-key.sh "$b/train" "$b" 2>"$tmp/out"; }
k0=$(key)
check "a key is a sha256" sh -c "echo '$k0' | grep -qx '[0-9a-f]\{64\}'"
check "the same inputs give the same key" test "$(key)" = "$k0"

obj "$b/pipeline/config/cfg_schema.o" 'const char *doc = "epochs, a new key";'
obj "$b/pipeline/io/h5io_schema.o" 'const char *table = "/steps/new_field";'
check "the config module and the schema tables leave the key alone" test "$(key)" = "$k0"

obj "$b/pipeline/search/search.o" 'int search(void) { return 2; }'
check "a library object the stage does not link leaves the key alone" test "$(key)" = "$k0"

echo 'struct config { int epochs; }; struct search_config { double lr; };' > "$tmp/src/shared.h"
build_all
check "a type added to a header changes debug information only, not the key" \
    test "$(key)" = "$k0"

obj "$b/pipeline/train/trainer.o" 'int train(struct config *c) { return 2 * c->epochs; }'
k1=$(key)
check "a linked library object's code changes the key" test "$k1" != "$k0"

obj "$b/stages/train.o" 'int main(void) { return 1; }'
check "the stage's own code changes the key" test "$(key)" != "$k1"

rm "$b/pipeline/train/trainer.o"
check "a member missing from the build is an error" \
    sh -c "! scripts/code-key.sh '$b/train' '$b' >/dev/null 2>&1"

check_summary
