# Makefile: builds the shared library (pipeline/), the stage programs
# (stages/), the tests (tests/) and the benchmarks (bench/).
#
#   make            build everything into build/ (build/san/ with SAN=1)
#   make check      install missing Debian packages, build, run every test
#   make bench      run the kernel benchmarks (prints GFLOP/s and ratios)
#   make SAN=1 check   the same tests under address and UB sanitizers
#   make clean
#
# Dependencies come from pkg-config (openblas, hdf5, libconfig, gsl); HDF5's
# Debian headers live under /usr/include/hdf5/serial, which its .pc names.

CC      ?= gcc
SAN     ?= 0
ARCH    ?= -march=native
OPT     ?= -O3

PKGS     := openblas hdf5 libconfig gsl
PKG_OK   := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)
ifeq ($(PKG_OK),yes)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
# GSL's .pc adds its own reference CBLAS; OpenBLAS provides the symbols instead.
PKG_LIBS   := $(filter-out -lgslcblas,$(shell pkg-config --libs $(PKGS)))
endif

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wwrite-strings -Wformat=2 -Wvla
CFLAGS  := -std=c11 $(OPT) $(ARCH) -g -fopenmp -D_GNU_SOURCE $(WARN) \
           -Ipipeline/core -Ipipeline/nn -Ipipeline/graph -Ipipeline/train \
           -Ipipeline/config -Ipipeline/io -Ipipeline/data -Ipipeline/models \
           $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lz -lm
LDFLAGS := -fopenmp

BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := $(BUILD)/san
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
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCHES    := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps check bench clean

all: $(LIB) $(STAGES) $(TESTS) $(BENCHES)

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%: $(BUILD)/stages/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The tests: install what is missing, build, then run every test program.
# Each prints "name: N passed, N failed" and exits non-zero on failure; the
# runner prints the total and fails when any program failed.
check: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-tests.sh $(TESTS)

# Benchmarks run with OpenBLAS free to pick its best kernel for this CPU (the
# environment may pin it to an older one for tests); only this command unsets it.
bench: deps
	@$(MAKE) --no-print-directory all
	@for b in $(BENCHES); do env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $$b || exit 1; done

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(TESTS:%=%.d) $(BENCHES:%=%.d) $(STAGES:$(BUILD)/%=$(BUILD)/stages/%.d)
