# Licensed under the Apache License, Version 2.0 (see LICENSE).
# `make test-asan`: the module, the emulator and the unit tests built with
# gcc -fsanitize=address,undefined into build-asan/ (the Makefile's own
# rules, in a sub-make with BUILD and CC set; the normal build and the
# top-level mod_ota_enroll.so are not touched), then
#   - every unit test, ASan binaries, leak detection on, apr_palloc given
#     its own malloc block (fuzz/poolshim.c) so pool overflows are seen;
#   - every integration test, with apache2 loading build-asan's module
#     under the preloaded ASan runtime (fuzz/asan/apache2, first in PATH),
#     leak detection off there; any report in build-asan/logs fails it.

ASAN_BUILD ?= build-asan
ASAN_CC    ?= gcc -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_RT    ?= $(shell $(firstword $(ASAN_CC)) -print-file-name=libasan.so)
ASAN_LOGS   = $(ASAN_BUILD)/logs
ASAN_TESTS ?= $(filter-out t/unit_%,$(wildcard t/*.t))

# The module in the sub-make's BUILD (build-asan/mod_ota_enroll.so).
$(BUILD)/mod_ota_enroll.so: $(GLUE_OBJ) $(CORE_OBJ)
	@echo "  CC  $@"; $(CC) -shared -o $@ $^ $(LDLIBS)

# The unit tests link the shim through LDLIBS (below): relink when it
# changes.
$(UNITS:%=$(ASAN_BUILD)/t/%): $(ASAN_BUILD)/fuzz/poolshim.o

asan-build:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC="$(ASAN_CC)" \
	    $(ASAN_BUILD)/mod_ota_enroll.so $(ASAN_BUILD)/ota-device \
	    $(ASAN_BUILD)/fuzz/poolshim.o
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC="$(ASAN_CC)" \
	    LDLIBS='$$(PKG_LIBS) $$(APR_LIBS) $(ASAN_BUILD)/fuzz/poolshim.o -ldl' \
	    $(UNITS:%=$(ASAN_BUILD)/t/%)

test-asan: test-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan-build
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS) && chmod 1777 $(ASAN_LOGS)
	@echo "== unit tests (ASan+UBSan, detect_leaks=1)"
	ASAN_OPTIONS=detect_leaks=1:exitcode=23 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    prove --exec fuzz/asan/unit $(sort $(wildcard t/unit_*.t))
	@echo "== integration tests (apache2 + ASan module, detect_leaks=0)"
	PATH=$(CURDIR)/fuzz/asan:$$PATH \
	OTA_ASAN_MODULE=$(CURDIR)/$(ASAN_BUILD)/mod_ota_enroll.so \
	OTA_ASAN_RT=$(ASAN_RT) OTA_ASAN_LOGS=$(CURDIR)/$(ASAN_LOGS) \
	OTA_DEVICE=$(CURDIR)/$(ASAN_BUILD)/ota-device \
	ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/$(ASAN_LOGS)/client \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    prove $(ASAN_TESTS)
	@if [ -n "$$(ls -A $(ASAN_LOGS))" ]; then \
	    echo "sanitizer reports in $(ASAN_LOGS):"; \
	    head -n 40 $(ASAN_LOGS)/*; exit 1; \
	fi; echo "test-asan: no sanitizer report"

# Memory soak (fuzz/soak.sh; minutes, so not in `make test`): phase-1
# GETs with ab against one apache2 child, its RSS after each round.
# SOAK_REQUESTS (10000) x SOAK_ROUNDS (1) after SOAK_WARMUP (2000).
soak: test-deps
	@$(MAKE) --no-print-directory all
	bash fuzz/soak.sh

# The same against the ASan module, LeakSanitizer at the child's exit.
soak-asan: test-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan-build
	SOAK_ASAN=1 bash fuzz/soak.sh

asan-clean:
	rm -rf $(ASAN_BUILD)

.PHONY: asan-build test-asan soak soak-asan asan-clean
