# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Fuzzing (fuzz/README.md). Included by the Makefile.
#
#   make fuzz           libFuzzer targets (clang, -fsanitize=fuzzer,address,
#                       undefined) in build-fuzz/, each run FUZZ_SECONDS
#                       (60) from fuzz/corpus/TARGET; prints run counts
#   make fuzz-build     the same, without running them
#   make fuzz-replay    plain replay drivers (gcc, -fsanitize=address,
#                       undefined, no clang) in build-asan/fuzz/, which
#                       t/95-fuzz-corpus.t feeds the corpus and regressions
#   make fuzz-seeds     regenerates fuzz/corpus/*/gen-* and copies the real
#                       fixtures in as fixture-*
#
# The core objects are built by the Makefile's own rules, in a sub-make
# with BUILD and CC set for each flavour.

FUZZ_TARGETS  = phase2 device_plist scep_pki scep_get final template status
FUZZ_SECONDS ?= 60
FUZZ_BUILD    = build-fuzz
FUZZ_CLANG   ?= clang-14
FUZZ_CC       = $(FUZZ_CLANG) -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# the replay drivers share mk/asan.mk's build (defined there too)
ASAN_BUILD   ?= build-asan
ASAN_CC      ?= gcc -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -fno-omit-frame-pointer

# In a sub-make, BUILD is build-fuzz or build-asan. ota_scepmsg is core
# code the Makefile's CORE may not list yet.
FUZZ_CORE_OBJ = $(sort $(CORE_OBJ) $(BUILD)/ota_scepmsg.o)
FUZZ_SHIM_OBJ = $(BUILD)/fuzz/poolshim.o
FUZZ_HDRS     = fuzz/fuzz.h $(wildcard include/*.h)

# The fuzz sources are the module's code: same flags, -Werror included.
$(BUILD)/fuzz/%.o: fuzz/%.c $(FUZZ_HDRS) t/unit/tap.h | $(BUILD)
	@mkdir -p $(BUILD)/fuzz
	@echo "  CC  $@"; $(CC) $(CFLAGS) -Ifuzz -c -o $@ $<

# fuzz_scep_get.c includes fuzz_scep_pki.c
$(BUILD)/fuzz/fuzz_scep_get.o: fuzz/fuzz_scep_pki.c

# libFuzzer binaries (BUILD=build-fuzz, CC=FUZZ_CC)
$(BUILD)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(FUZZ_CORE_OBJ) $(FUZZ_SHIM_OBJ)
	@echo "  LD  $@"; $(CC) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) -ldl

# replay drivers (BUILD=build-asan, CC=ASAN_CC)
$(BUILD)/fuzz/replay_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/replay.o \
                        $(FUZZ_CORE_OBJ) $(FUZZ_SHIM_OBJ)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(LDLIBS) -ldl

$(BUILD)/fuzz/scepmsg_check: $(BUILD)/fuzz/scepmsg_check.o \
                             $(BUILD)/ota_scepmsg.o $(FUZZ_SHIM_OBJ)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(LDLIBS) -ldl

$(BUILD)/fuzz/seedgen: $(BUILD)/fuzz/seedgen.o $(FUZZ_CORE_OBJ)
	@echo "  LD  $@"; $(CC) -o $@ $^ $(LDLIBS)

# kept: they are shared by the targets and their replay drivers
.PRECIOUS: $(BUILD)/fuzz/%.o

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)
fuzz-replay-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%) \
                  $(BUILD)/fuzz/scepmsg_check

fuzz-build:
	@command -v $(FUZZ_CLANG) >/dev/null || { echo "make fuzz needs" \
	    "clang-14 and libclang-rt-14-dev (see .ci/packages-test)" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC="$(FUZZ_CC)" \
	    fuzz-bins

fuzz: deps fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) \
	    bash fuzz/run.sh $(FUZZ_TARGETS)

fuzz-replay:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC="$(ASAN_CC)" \
	    fuzz-replay-bins

fuzz-seeds:
	@$(MAKE) --no-print-directory $(BUILD)/fuzz/seedgen
	$(BUILD)/fuzz/seedgen . fuzz/corpus
	cp t/fixtures/apple-real/phase2-macos13-zentral.der \
	    fuzz/corpus/phase2/fixture-phase2-macos13-zentral.der
	openssl cms -verify -noverify -inform DER -binary \
	    -in t/fixtures/apple-real/phase2-macos13-zentral.der \
	    -out fuzz/corpus/device_plist/fixture-macos13-zentral.plist
	for f in t/fixtures/scep/*.der; do \
	    cp $$f fuzz/corpus/scep_pki/fixture-$${f##*/}; done
	for f in t/fixtures/profiles/*; do \
	    case $$f in *.md) ;; *) cp $$f fuzz/corpus/final/fixture-$${f##*/};; \
	    esac; done

fuzz-clean:
	rm -rf $(FUZZ_BUILD) $(ASAN_BUILD)/fuzz

.PHONY: fuzz fuzz-build fuzz-bins fuzz-replay fuzz-replay-bins fuzz-seeds \
        fuzz-clean
