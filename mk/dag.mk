# mk/dag.mk: the experiment DAG, run by `make experiment=NAME` (and by
# `make sweep`) after the programs are built. Not meant to be run by hand.
#
#   make -f mk/dag.mk CFG=experiments/NAME.cfg OUT=results/NAME BUILD=build STORE=results/store
#
# Each stage's artifact in OUT depends on
#   - OUT/<stage>.fp: the fingerprint of the config keys that stage reads
#     (`gos_config fingerprint`), rewritten only when its content changes, so
#     comments, whitespace and keys of other stages never make it stale;
#   - the stage's program;
#   - its input artifacts.
# A stale stage runs through scripts/run-stage.sh, which keys the result by
# the fingerprint, the program and the inputs' keys, and keeps it in STORE:
# experiments and sweep variants whose stage inputs are identical share one
# artifact (a baseline is never trained twice). Only the stages that exist
# are in the DAG. A stage that runs first removes its artifact and the
# later ones (LATER_<stage>), so a failure leaves no stale result behind.

CFG   ?= $(error CFG is required)
OUT   ?= $(error OUT is required)
BUILD ?= build
STORE ?= results/store

LATER_validate :=
LATER_finetune := --later $(OUT)/validate.h5 $(LATER_validate)
LATER_search   := --later $(OUT)/adapted.h5 $(LATER_finetune)
LATER_graphgen := --later $(OUT)/search.h5 $(LATER_search)
LATER_profile  := --later $(OUT)/graphs.h5 $(LATER_graphgen)
LATER_train    := --later $(OUT)/profile.h5 $(LATER_profile)

.DELETE_ON_ERROR:
.PHONY: all FORCE
all: $(OUT)/validate.h5

$(OUT) $(STORE):
	@mkdir -p $@

# Always recomputed, but only rewritten when the text changes.
$(OUT)/%.fp: FORCE | $(OUT)
	@$(BUILD)/gos_config fingerprint $(CFG) $* > $@.new && \
	  { cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@; } || { rm -f $@.new; exit 1; }

# ---- train ----------------------------------------------------------------
$(OUT)/baseline.h5: $(OUT)/train.fp $(BUILD)/train | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage train --fingerprint $< --out $@ $(LATER_train)

# ---- profile ----------------------------------------------------------------
$(OUT)/profile.h5: $(OUT)/profile.fp $(BUILD)/profile $(OUT)/baseline.h5 | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage profile --fingerprint $< --out $@ $(LATER_profile) --input $(OUT)/baseline.h5

# ---- graphgen ---------------------------------------------------------------
$(OUT)/graphs.h5: $(OUT)/graphgen.fp $(BUILD)/graphgen $(OUT)/baseline.h5 $(OUT)/profile.h5 | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage graphgen --fingerprint $< --out $@ $(LATER_graphgen) --input $(OUT)/baseline.h5 \
	  --input $(OUT)/profile.h5

# ---- search -----------------------------------------------------------------
$(OUT)/search.h5: $(OUT)/search.fp $(BUILD)/search $(OUT)/baseline.h5 $(OUT)/graphs.h5 | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage search --fingerprint $< --out $@ $(LATER_search) --input $(OUT)/baseline.h5 \
	  --input $(OUT)/graphs.h5

# ---- finetune ---------------------------------------------------------------
$(OUT)/adapted.h5: $(OUT)/finetune.fp $(BUILD)/finetune $(OUT)/search.h5 $(OUT)/baseline.h5 \
                   | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage finetune --fingerprint $< --out $@ $(LATER_finetune) --input $(OUT)/search.h5 \
	  --input $(OUT)/baseline.h5

# ---- validate ---------------------------------------------------------------
$(OUT)/validate.h5: $(OUT)/validate.fp $(BUILD)/validate $(OUT)/baseline.h5 $(OUT)/adapted.h5 \
                    $(OUT)/search.h5 | $(STORE)
	@scripts/run-stage.sh --build $(BUILD) --store $(STORE) --cfg $(CFG) \
	  --stage validate --fingerprint $< --out $@ $(LATER_validate) --input $(OUT)/baseline.h5 \
	  --input $(OUT)/adapted.h5 --input $(OUT)/search.h5
