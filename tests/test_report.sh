#!/bin/sh
# test_report.sh: build/report (`make tables`) on the tiny experiment, run
# end to end into a private results folder and store:
#   the nine table files exist, none left as a temporary; models.md holds
#   tiny's row with the speedup and the latencies the validate stage printed,
#   and says measured; the CSVs have their header and one row for tiny
#   (replacements: one per searched operator, as in search.h5); the chosen
#   DAG reads like "conv2d(3x3,s1)>..."; the sparsity table says predicted;
#   an empty folder is skipped with a note, one with only graphs.h5 is noted
#   and in the sparsity table only; the plots are written when gnuplot is
#   installed, skipped with a note when not (GOS_GNUPLOT=none); a failing
#   gnuplot is an error naming its script; a truncated validate.h5 makes the
#   report fail naming the file. Sweep tables: two variants of tiny that
#   differ in search.epsilon (experiments/gos_test_sweep_PID@{a,b}.cfg,
#   written for the test and removed on exit; `make sweep` writes such files
#   from experiments/sweeps/) are run into the same results folder and store
#   (the baseline is shared): they are rows of sweep_gos_test_sweep_PID.
#   {md,csv,tex} with a search.epsilon column, not of the models table,
#   which says they are left out and still holds tiny; the variants' graphs.h5
#   (tiny's own, one stored artifact) is one set of rows in the sparsity
#   table, with a note; a sweep whose variants have no validate.h5 gets no
#   table, with a note. Named experiments (`report RESULTS NAME...`): the
#   tables hold those and the sweep variants, the rest listed as left out.
# Run from the repository root (make check sets GOS_BUILD, the build folder,
# and GOS_MAKE_ARGS, e.g. SAN=1). Prints "test_report: N passed, N failed".
set -u
build=${GOS_BUILD:-build}
make_args=${GOS_MAKE_ARGS:-}
tmp=$(mktemp -d /tmp/gos_test_report.XXXXXX)
res="$tmp/results"
# The sweep's variants are experiment files of their own (they @include
# tiny.cfg from experiments/); the PID keeps concurrent runs apart.
sweep="gos_test_sweep_$$"
cleanup() { rm -rf "$tmp" "experiments/$sweep@"*.cfg; }
trap cleanup EXIT

test_name=test_report
. "$(dirname "$0")/check.sh"

make --no-print-directory $make_args experiment=tiny RESULTS="$res" STORE="$tmp/store" \
    > "$tmp/make.out" 2>&1
rc=$?
cp "$tmp/make.out" "$tmp/out"
check "make experiment=tiny succeeds" test $rc -eq 0
check "make builds build/report" test -x "$build/report"
# "validate: tiny on host (measured): latency A -> B ms (S.SSx), ..."
line=$(grep '^validate: tiny on host (measured): latency' "$tmp/make.out")
speedup=$(echo "$line" | sed -n 's/.* ms (\([0-9.]*x\)).*/\1/p')
lat_a=$(echo "$line" | sed -n 's/.*: latency \([0-9.e+-]*\) -> .*/\1/p')
lat_b=$(echo "$line" | sed -n 's/.* -> \([0-9.e+-]*\) ms .*/\1/p')
check "the validate stage printed its line" test -n "$speedup" -a -n "$lat_a" -a -n "$lat_b"

mkdir -p "$res/empty" "$res/only_graphs"
cp "$res/tiny/graphs.h5" "$res/only_graphs/graphs.h5"
GOS_GNUPLOT=none "$build/report" "$res" > "$tmp/out" 2>&1
check "report succeeds" test $? -eq 0
t="$res/tables"
all=1
for n in models sparsity replacements; do
    for e in md csv tex; do test -s "$t/$n.$e" || all=0; done
done
check "the nine table files exist" test $all = 1
check "no temporary file is left" sh -c "! ls $t | grep -q tmp"
check "an empty folder is skipped with a note" grep -q "skipping $res/empty: no validate.h5, search.h5 or graphs.h5" "$tmp/out"
check "a folder with only graphs.h5 is noted" grep -q "$res/only_graphs: no validate.h5, search.h5" "$tmp/out"
check "GOS_GNUPLOT=none skips the plots with a note" grep -q "^report: GOS_GNUPLOT=none: no plots$" "$tmp/out"
cp "$t/models.md" "$tmp/out"
check "models.md has tiny's row" grep -q '^| tiny | convnet | host | measured | ' "$t/models.md"
check "models.md has the speedup the validate stage printed ($speedup)" grep -qF "| $speedup |" "$t/models.md"
check "models.md has the latencies it printed ($lat_a, $lat_b)" grep -qF "| $lat_a | $lat_b |" "$t/models.md"
check "models.md's latency columns say measured" grep -qF "original latency (ms, measured)" "$t/models.md"
check "models.md has the average and minimum speedup" grep -q "average $speedup, minimum $speedup (tiny)" "$t/models.md"
check "models.md is a GitHub table" grep -q '^|---|---|' "$t/models.md"
cp "$t/models.csv" "$tmp/out"
check "models.csv has its header and one row" test "$(wc -l < "$t/models.csv")" = 2
check "models.csv's header" grep -q '^experiment,model,device,latency_kind,original_latency_ms_measured,adapted_latency_ms_measured,speedup,' "$t/models.csv"
check "models.csv's row is tiny's" grep -q '^tiny,convnet,host,measured,' "$t/models.csv"
check "models.csv ends with the minutes of the stages after train" sh -c "head -1 $t/models.csv | grep -q ',within_epsilon,stage_minutes$' && sed -n 2p $t/models.csv | grep -q ',[0-9][0-9.e+-]*$'"
speed_csv=$(sed -n '2p' "$t/models.csv" | cut -d, -f7)
check "models.csv's speedup rounds to the printed one" test "$(printf '%.2fx' "$speed_csv")" = "$speedup"
cp "$t/models.tex" "$tmp/out"
check "models.tex is a tabular with hlines" sh -c "grep -q '^.begin{tabular}' $t/models.tex && grep -q '^.hline' $t/models.tex && grep -q '^tiny & convnet' $t/models.tex"
steps=$(h5dump -d /steps/names "$res/tiny/search.h5" | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\) ).*/\1/p')
cp "$t/replacements.csv" "$tmp/out"
check "replacements.csv has one row per searched operator ($steps)" test "$(grep -c '^tiny,' "$t/replacements.csv")" = "$steps"
check "replacements.csv's latency columns say measured" grep -q '^experiment,operator,latency_kind,replaced,latency_before_ms_measured,latency_after_ms_measured,' "$t/replacements.csv"
check "the chosen DAGs read like conv2d(3x3,s1)>..." grep -q '| conv2d([0-9]x[0-9],s[0-9])>' "$t/replacements.md"
check "replacements.csv has the accuracy before and after recovery" grep -q ',validation_accuracy_pct,recovered_accuracy_pct,chosen_dag$' "$t/replacements.csv"
cp "$t/sparsity.md" "$tmp/out"
check "the sparsity table says predicted" grep -q "median latency ratio (predicted)" "$t/sparsity.md"
check "the sparsity table has tiny and only_graphs" sh -c "grep -q '^| tiny | ' $t/sparsity.md && grep -q '^| only_graphs | ' $t/sparsity.md"
check "only_graphs is in no other table" sh -c "! grep -q only_graphs $t/models.md $t/replacements.md"

if command -v gnuplot > /dev/null 2>&1; then
    "$build/report" "$res" > "$tmp/out" 2>&1
    check "with gnuplot the report succeeds" test $? -eq 0
    check "the plots are PNGs" sh -c "for f in tiny-fronts tiny-operators sparsity; do file $res/plots/\$f.png 2>/dev/null | grep -q PNG || head -c 4 $res/plots/\$f.png | grep -q PNG || exit 1; done"
    check "no temporary plot is left" sh -c "! ls $res/plots | grep -q tmp"
else
    echo "test_report: gnuplot not installed, plots not tested"
fi
GOS_GNUPLOT=false TMPDIR="$tmp" "$build/report" "$res" > "$tmp/out" 2>&1
check "a failing gnuplot fails the report" test $? -ne 0
check "and the error names the script" grep -q "gnuplot failed (exit status 1) on $tmp/gos_report.*/tiny-fronts.gp" "$tmp/out"

# A corrupt artifact: a truncated copy of validate.h5 (a copy: the original
# is a hard link into the store).
mkdir -p "$tmp/bad/tiny"
head -c 4000 "$res/tiny/validate.h5" > "$tmp/bad/tiny/validate.h5"
GOS_GNUPLOT=none "$build/report" "$tmp/bad" > "$tmp/out" 2>&1
check "a truncated validate.h5 fails the report" test $? -ne 0
check "the error names the file" grep -q "report: error: $tmp/bad/tiny/validate.h5: " "$tmp/out"
check "and writes no tables" test ! -e "$tmp/bad/tables/models.md"
GOS_GNUPLOT=none "$build/report" "$tmp/nowhere" > "$tmp/out" 2>&1
check "a missing results folder is an error naming it" sh -c "test $? -ne 0 && grep -q '$tmp/nowhere' $tmp/out"

# Two sweep variants of tiny, differing only in search.epsilon, as `make
# sweep` would write them; only search, finetune and validate run for them.
for variant in a:0.5 b:2.0; do
    cat > "experiments/$sweep@${variant%%:*}.cfg" <<CFG
@include "tiny.cfg"

overrides = {
    search = { epsilon = ${variant#*:}; };
    validate = { only_report = true; };
};
CFG
    make --no-print-directory $make_args experiment="$sweep@${variant%%:*}" RESULTS="$res" \
        STORE="$tmp/store" > "$tmp/out" 2>&1
    check "make experiment=$sweep@${variant%%:*} succeeds" test $? -eq 0
    check "and shares tiny's baseline" sh -c "! grep -q '^train: epoch' $tmp/out"
done
mkdir -p "$res/${sweep}_unvalidated@x"
cp "$res/tiny/graphs.h5" "$res/${sweep}_unvalidated@x/graphs.h5"
# Tables of a sweep whose variants are gone, and a file that is no table.
for e in md csv tex; do echo stale > "$t/sweep_${sweep}_gone.$e"; done
echo keep > "$t/sweep_notes.txt"
GOS_GNUPLOT=none "$build/report" "$res" > "$tmp/out" 2>&1
check "the report with sweep variants succeeds" test $? -eq 0
check "it removes a gone sweep's tables" sh -c "! ls $t/sweep_${sweep}_gone.* 2>/dev/null"
check "and says so" grep -q "^report: removed $t/sweep_${sweep}_gone.md (its sweep has no validated variant here)$" "$tmp/out"
check "but keeps a file that is no table" test -e "$t/sweep_notes.txt"
check "it names the sweep tables" grep -q "^report: 2 validated sweep variants: $t/sweep_SWEEP.{md,csv,tex}" "$tmp/out"
check "a sweep without a validate.h5 gets a note" grep -q "^report: sweep ${sweep}_unvalidated: no variant has a validate.h5" "$tmp/out"
check "and no table" test ! -e "$t/sweep_${sweep}_unvalidated.md"
all=1
for e in md csv tex; do test -s "$t/sweep_$sweep.$e" || all=0; done
check "sweep_$sweep.{md,csv,tex} exist" test $all = 1
cp "$t/sweep_$sweep.csv" "$tmp/out"
check "the sweep CSV's header has the varied key, search.epsilon, alone" grep -q '^variant,search.epsilon,model,device,latency_kind,original_latency_ms_measured,adapted_latency_ms_measured,speedup,' "$t/sweep_$sweep.csv"
check "the sweep CSV has the two variants' rows" test "$(wc -l < "$t/sweep_$sweep.csv")" = 3
check "with their epsilons" sh -c "sed -n 2p $t/sweep_$sweep.csv | grep -q '^a,0.5,convnet,host,measured,' && sed -n 3p $t/sweep_$sweep.csv | grep -q '^b,2.0,convnet,host,measured,'"
cp "$t/sweep_$sweep.md" "$tmp/out"
check "the sweep table says what it varies" grep -q "^The sweep (experiments/sweeps/$sweep.cfg) varies, .*: search.epsilon.$" "$t/sweep_$sweep.md"
check "and the variants' average and minimum speedup" grep -q "^Speedup over 2 variants: average [0-9.]*x, minimum [0-9.]*x ([ab])." "$t/sweep_$sweep.md"
check "the sweep .tex is a tabular" grep -q '^b & 2.0 & convnet & host & measured & ' "$t/sweep_$sweep.tex"
cp "$t/sparsity.md" "$tmp/out"
check "the variants' shared graphs.h5 is listed once, under tiny" sh -c "! grep -q '^| $sweep@' $t/sparsity.md && grep -q '^| tiny | ' $t/sparsity.md"
check "with a note naming both" grep -q "^$sweep@a: the same graphs.h5 as tiny (one stored artifact): listed once.$" "$t/sparsity.md"
cp "$t/replacements.csv" "$tmp/out"
check "the variants' own searches are listed" grep -q "^$sweep@a,.*" "$t/replacements.csv"
cp "$t/models.csv" "$tmp/out"
check "the models CSV still has tiny's row alone" sh -c "test \$(wc -l < $t/models.csv) = 2 && grep -q '^tiny,convnet,host,measured,' $t/models.csv"
cp "$t/models.md" "$tmp/out"
check "the models table has no variant" sh -c "! grep -q '$sweep' $t/models.md $t/models.tex"
check "its speedup note is tiny's alone" grep -q "^Speedup over 1 experiment: average $speedup, minimum $speedup (tiny).$" "$t/models.md"
check "it says the variants are left out" grep -q "^2 sweep variants (folders SWEEP@VARIANT) are left out: see the sweep_SWEEP tables.$" "$t/models.md"

# Named experiments (`make tables TABLES_ONLY=...`, as `make paper` names
# its grid): only those and the sweep variants.
GOS_GNUPLOT=none "$build/report" "$res" only_graphs nowhere > "$tmp/out" 2>&1
check "the report of named experiments succeeds" test $? -eq 0
check "it lists what it left out" grep -q "^report: left out, not named: tiny$" "$tmp/out"
check "and a name without a folder" grep -q "^report: nowhere: named, but no artifacts of it were found$" "$tmp/out"
check "the models table then has no row, and says so" sh -c "! grep -q '^| tiny ' $t/models.md && test \$(wc -l < $t/models.csv) = 1"
check "the sparsity table has only_graphs alone" sh -c "grep -q '^| only_graphs | ' $t/sparsity.md && ! grep -q '^| tiny | ' $t/sparsity.md"
check "the sweep table keeps its variants" test "$(wc -l < "$t/sweep_$sweep.csv")" = 3
"$build/report" "$res" --grid > "$tmp/out" 2>&1
check "an option is a usage error" test $? -eq 2

check_summary
