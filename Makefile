# Makefile: builds the shared library (pipeline/), the stage programs
# (stages/), the tests (tests/) and the benchmarks (bench/).
#
#   make experiment=NAME   install missing Debian packages, build, and run the
#                   stale stages of experiments/NAME.cfg into results/NAME/
#   make sweep sweep=NAME  the same for every variant of experiments/sweeps/NAME.cfg
#   make tables     tables (results/tables/: the models, sparsity and
#                   replacements tables and one per sweep) and plots
#                   (results/plots/) of every experiment under results/
#                   (TABLES_ONLY="A B": of those and the sweep variants)
#   make paper      the paper's grid, both sweeps, then the tables of those
#   make            build everything into build/ (build/san/ with SAN=1)
#   make check      install missing Debian packages, build, run every test
#   make bench      run the kernel benchmarks (prints GFLOP/s and ratios)
#   make SAN=1 check   the same tests under address and UB sanitizers
#   make check-torch   the models' logits against PyTorch's (needs python3-torch)
#   make cross      build/aarch64/gos_bench_graph for a 64-bit ARM device
#   make clean
#
# Dependencies come from pkg-config (openblas, hdf5, libconfig, gsl); HDF5's
# Debian headers live under /usr/include/hdf5/serial, which its .pc names.

CC      ?= gcc
SAN     ?= 0
ARCH    ?= -march=native
OPT     ?= -O3

# OpenBLAS: the OpenMP build (libopenblas-openmp-dev), so BLAS calls and the
# project's own OpenMP kernels share one thread pool instead of two pools
# spinning against each other (a tenfold slowdown on a busy 2-core machine).
# The rpath makes the program load that build whatever the system default is.
MULTIARCH      := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_OMP   := /usr/lib/$(MULTIARCH)/openblas-openmp
PKG_CONFIG     := PKG_CONFIG_PATH=$(OPENBLAS_OMP)/pkgconfig pkg-config
PKGS     := openblas hdf5 libconfig gsl
PKG_OK   := $(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && echo yes)
ifeq ($(PKG_OK),yes)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
# GSL's .pc adds its own reference CBLAS; OpenBLAS provides the symbols instead.
PKG_LIBS   := $(filter-out -lgslcblas,$(shell $(PKG_CONFIG) --libs $(PKGS)))
endif

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wwrite-strings -Wformat=2 -Wvla
CFLAGS  := -std=c11 $(OPT) $(ARCH) -g -fopenmp -D_GNU_SOURCE $(WARN) \
           -Ipipeline/core -Ipipeline/nn -Ipipeline/graph -Ipipeline/train \
           -Ipipeline/config -Ipipeline/io -Ipipeline/data -Ipipeline/models -Ipipeline/device -Ipipeline/profile -Ipipeline/gen -Ipipeline/graphgen -Ipipeline/search \
           -Ipipeline/report \
           $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lz -lm
LDFLAGS := -fopenmp -Wl,-rpath,$(OPENBLAS_OMP)

BUILD   ?= build
ifeq ($(SAN),1)
override BUILD := $(BUILD)/san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRCS   := $(wildcard pipeline/*/*.c)
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libgos.a
STAGE_SRCS := $(wildcard stages/*.c)
STAGES     := $(STAGE_SRCS:stages/%.c=$(BUILD)/%)
TEST_SRCS  := $(wildcard tests/test_*.c)
TESTS      := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TEST_SHS   := $(wildcard tests/test_*.sh)
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCHES    := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.DEFAULT_GOAL := all
ifdef experiment
.DEFAULT_GOAL := run-experiment
endif
.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps check bench clean run-experiment sweep clean-results tables

all: $(LIB) $(STAGES) $(TESTS) $(BENCHES)

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Stage programs also get their code key (scripts/code-key.sh, from the
# linker's map), which keys their results in the store.
$(BUILD)/%: $(BUILD)/stages/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -Wl,-Map=$@.map -o $@
	@scripts/code-key.sh $@ $(BUILD) > $@.code

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The tests: install what is missing, build, then run every test program.
# Each prints "name: N passed, N failed" and exits non-zero on failure; the
# runner prints the total and fails when any program failed. The shell tests
# (tests/test_*.sh) drive `make experiment=...` itself.
# The tests need the aarch64 cross toolchain and qemu-user too
# (tests/test_cross.sh), so check installs them (--cross).
check:
	@scripts/install-deps.sh --cross
	@$(MAKE) --no-print-directory all
	@GOS_BUILD=$(BUILD) GOS_MAKE_ARGS="SAN=$(SAN)" scripts/run-tests.sh $(TESTS) $(TEST_SHS)

# Benchmarks run with the best OpenBLAS kernel for this CPU: the environment
# may pin an older one for tests (left as it is everywhere else); this command
# alone unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE and names the kernel
# scripts/blas-coretype.sh picks (OpenBLAS 0.3.21 would fall back to Prescott
# on CPUs it does not know). bench_conv prints the kernel actually used.
# bench_models compares with ONNX Runtime when `make bench-peers` has
# installed it in $(PEERS).
PEERS ?= $(BUILD)/peers
bench: deps
	@$(MAKE) --no-print-directory all
	@core=$$(scripts/blas-coretype.sh); \
	for b in $(BENCHES); do \
	  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $${core:+OPENBLAS_CORETYPE=$$core} \
	    GOS_PEERS=$(PEERS) $$b || exit 1; \
	done

# Not part of check (needs python3-torch, Node.js and the npm registry):
# installs ONNX Runtime (npm package onnxruntime-node 1.30.0) and exports
# bench_models' inference models to ONNX in $(PEERS)
# (scripts/install-peers.sh), then runs bench_models, whose table shows
# gos beside PyTorch and ONNX Runtime.
.PHONY: bench-peers
bench-peers: deps
	@scripts/install-deps.sh --torch --peers
	@$(MAKE) --no-print-directory all
	@scripts/install-peers.sh $(PEERS) $(BUILD)/bench/bench_models
	@core=$$(scripts/blas-coretype.sh); \
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $${core:+OPENBLAS_CORETYPE=$$core} \
	  GOS_PEERS=$(PEERS) $(BUILD)/bench/bench_models $(BENCH_ARGS)

# Not part of check (needs Debian's python3-torch and python3-torchvision):
# for each model, scripts/torchvision-to-gos.py writes a randomly initialised
# torchvision model's weights, an input batch and PyTorch's logits, and
# build/tests/torch_check imports the weights into the project's model and
# compares its logits (max |gos - torch| / max |torch| < 1e-4).
TORCH_MODELS ?= resnet18 mobilenetv3_small mobilenetv3_large inceptionv3
.PHONY: check-torch
check-torch:
	@scripts/install-deps.sh --torch
	@$(MAKE) --no-print-directory $(BUILD)/tests/torch_check
	@mkdir -p $(BUILD)/torch-check; fail=0; \
	for m in $(TORCH_MODELS); do \
	  out=$(BUILD)/torch-check/$$m; \
	  /usr/bin/python3 scripts/torchvision-to-gos.py --model $$m --seed 1 --random-bn \
	    --out $$out.h5 --input $$out-ref.h5 || exit 1; \
	  $(BUILD)/tests/torch_check $$m $$out.h5 $$out-ref.h5 || fail=1; \
	done; exit $$fail

# ---- experiments -----------------------------------------------------------
# The DAG itself is mk/dag.mk; it runs after the programs are built and the
# experiment file is validated (errors name the file and line). A pinned
# OPENBLAS_CORETYPE is kept; when none is set, scripts/blas-coretype.sh picks
# the kernel (see bench). The kernel is part of each result's store key.
STORE   ?= results/store
RESULTS ?= results

run-experiment: deps
	@test -f experiments/$(experiment).cfg || { echo "no such experiment: experiments/$(experiment).cfg" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(STAGES)
	@$(BUILD)/gos_config check experiments/$(experiment).cfg
	@OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-$$(scripts/blas-coretype.sh)} \
	  $(MAKE) --no-print-directory -f mk/dag.mk CFG=experiments/$(experiment).cfg \
	  OUT=$(RESULTS)/$(experiment) BUILD=$(BUILD) STORE=$(STORE)

# Every variant of experiments/sweeps/$(sweep).cfg is an experiment of its own
# (experiments/$(sweep)@VARIANT.cfg, generated); variants share the artifacts
# of the stages whose config they do not change.
sweep: deps
	@test -n "$(sweep)" || { echo "usage: make sweep sweep=NAME (experiments/sweeps/NAME.cfg)" >&2; exit 2; }
	@$(MAKE) --no-print-directory $(STAGES)
	@$(BUILD)/gos_config sweep experiments/sweeps/$(sweep).cfg > $(BUILD)/sweep-$(sweep).list
	@export OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-$$(scripts/blas-coretype.sh)}; \
	for v in $$(cat $(BUILD)/sweep-$(sweep).list); do \
	  echo "sweep $(sweep): $$v"; \
	  $(MAKE) --no-print-directory -f mk/dag.mk CFG=experiments/$$v.cfg OUT=$(RESULTS)/$$v \
	    BUILD=$(BUILD) STORE=$(STORE) || exit 1; \
	done

# ---- tables and plots --------------------------------------------------------
# `make tables` reads every $(RESULTS)/NAME/{validate,search,graphs}.h5 and
# writes $(RESULTS)/tables/{models,sparsity,replacements}.{md,csv,tex} and,
# with gnuplot (scripts/install-deps.sh --plots installs gnuplot-nox as root;
# otherwise the plots are skipped with a note), $(RESULTS)/plots/*.png.
# The paper's grid (three models on three devices), the epsilon and
# instruction-set sweeps (experiments/sweeps/), then every table and plot.
PAPER_EXPERIMENTS := $(foreach m,resnet18 mobilenetv3 inceptionv3,$(foreach d,host rpi3 redmi7s,$(m)_$(d)))
.PHONY: paper
paper:
	@for e in $(PAPER_EXPERIMENTS); do \
	  $(MAKE) --no-print-directory experiment=$$e || exit 1; done
	@$(MAKE) --no-print-directory sweep sweep=epsilon
	@$(MAKE) --no-print-directory sweep sweep=isets
	@$(MAKE) --no-print-directory tables TABLES_ONLY="$(PAPER_EXPERIMENTS)"

# TABLES_ONLY names the experiments the tables cover (with every sweep
# variant); empty: every folder under $(RESULTS).
TABLES_ONLY ?=
tables: deps
	@scripts/install-deps.sh --plots || echo "tables: gnuplot-nox not installed: tables only"
	@$(MAKE) --no-print-directory $(BUILD)/report
	@$(BUILD)/report $(RESULTS) $(TABLES_ONLY)

# ---- cross build for aarch64 -------------------------------------------------
# `make cross` builds $(BUILD)/aarch64/gos_bench_graph for a 64-bit ARM device
# with Debian's aarch64-linux-gnu-gcc and the arm64 libraries of multiarch
# (scripts/install-deps.sh --cross installs them). Only the library parts the
# program needs: core, nn, graph, io, and device without the calibration (no
# libconfig, no GSL: ig_graph.c includes GSL's header for ig_graph_init_params,
# which the program never calls, and --gc-sections drops that function with
# its GSL references).
# HDF5's headers are the amd64 ones (libhdf5-dev is not Multi-Arch: same; both
# LP64 little-endian, the same public types); its arm64 runtime is linked by
# its full name. The AVX-512 kernels are behind #ifdef __AVX512F__.
CROSS_CC     ?= aarch64-linux-gnu-gcc
CROSS_BUILD  := $(BUILD)/aarch64
CROSS_LIBDIR := /usr/lib/aarch64-linux-gnu
CROSS_SRCS   := $(wildcard pipeline/core/*.c pipeline/nn/*.c pipeline/graph/*.c pipeline/io/*.c) \
                $(addprefix pipeline/device/,dev_device.c dev_measure.c dev_model.c dev_stats.c \
                  dev_timings.c dev_remote.c) stages/gos_bench_graph.c
CROSS_OBJS   := $(CROSS_SRCS:%.c=$(CROSS_BUILD)/%.o)
CROSS_CFLAGS := -std=c11 -O3 -march=armv8-a -g -fopenmp -D_GNU_SOURCE $(WARN) \
                -ffunction-sections -fdata-sections \
                -Ipipeline/core -Ipipeline/nn -Ipipeline/graph -Ipipeline/config -Ipipeline/io \
                -Ipipeline/device -I/usr/include/aarch64-linux-gnu/openblas-openmp \
                -I/usr/include/hdf5/serial -MMD -MP
CROSS_LDFLAGS := -fopenmp -Wl,--gc-sections -Wl,-rpath,$(CROSS_LIBDIR)/openblas-openmp \
                 -Wl,-rpath-link,$(CROSS_LIBDIR)
CROSS_LDLIBS := $(CROSS_LIBDIR)/openblas-openmp/libopenblas.so \
                $(CROSS_LIBDIR)/libhdf5_serial.so.103 -lz -lm

.PHONY: cross
cross:
	@scripts/install-deps.sh --cross
	@$(MAKE) --no-print-directory $(CROSS_BUILD)/gos_bench_graph

$(CROSS_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(CROSS_CFLAGS) -c $< -o $@

$(CROSS_BUILD)/gos_bench_graph: $(CROSS_OBJS)
	$(CROSS_CC) $(CROSS_LDFLAGS) $^ $(CROSS_LDLIBS) -o $@

clean:
	rm -rf build

# Removes every experiment's results and the shared store.
clean-results:
	rm -rf results/*/ results/store

-include $(LIB_OBJS:.o=.d) $(TESTS:%=%.d) $(BENCHES:%=%.d) $(STAGES:$(BUILD)/%=$(BUILD)/stages/%.d)
-include $(BUILD)/tests/torch_check.d
-include $(CROSS_OBJS:.o=.d)
