# Licensed under the Apache License, Version 2.0 (see LICENSE).
# mod_ota_enroll: `make` builds the module and the device emulator,
# `make test` runs every test, `make demo` runs the whole flow locally.

APXS     ?= apxs
PKGS      = libplist-2.0 openssl libcurl jansson
CC       ?= cc
BUILD     = build

# Without apache2-dev, pkg-config or a -dev library every query below
# fails: say once what to install instead (deps, test and demo install
# .ci/packages first, as root).
BUILD_TOOLS := $(shell for t in $(APXS) apr-1-config apu-1-config pkg-config; \
                 do command -v $$t >/dev/null || exit 1; done; \
                 pkg-config --exists $(PKGS) 2>/dev/null && echo found)
ifeq ($(BUILD_TOOLS),found)
AP_INCLUDEDIR := $(shell $(APXS) -q INCLUDEDIR)
AP_LIBEXECDIR := $(shell $(APXS) -q LIBEXECDIR)
AP_CFLAGS     := $(shell $(APXS) -q CFLAGS)
APR_CFLAGS    := $(shell apr-1-config --cflags --cppflags --includes) \
                 $(shell apu-1-config --includes)
APR_LIBS      := $(shell apu-1-config --link-ld --libs) \
                 $(shell apr-1-config --link-ld --libs)
PKG_CFLAGS    := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS      := $(shell pkg-config --libs $(PKGS))
else ifeq ($(filter deps test-deps test demo clean,$(MAKECMDGOALS)),)
$(error apxs (apache2-dev), pkg-config or a -dev library is missing: \
  run `make deps` as root, or apt-get install $(shell cat .ci/packages))
endif

# Where `make install` puts the Apple device CA chain: beside the module,
# which is also the compiled-in default of OTAEnrollDeviceCA.
DEVICE_CA_DEFAULT = $(AP_LIBEXECDIR)/ota_enroll-apple-device-ca.pem

WARN     = -Wall -Wextra -Werror -Werror=implicit-function-declaration \
           -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  += $(AP_CFLAGS) $(WARN) -fPIC -Iinclude $(APR_CFLAGS) $(PKG_CFLAGS) \
           -DOTA_DEVICE_CA_DEFAULT='"$(DEVICE_CA_DEFAULT)"'
LDLIBS   = $(PKG_LIBS) $(APR_LIBS)

CORE     = ota_pool ota_thread ota_cms ota_plist ota_challenge ota_store ota_store_revoke ota_store_approval ota_action ota_profile ota_ca ota_san ota_crl ota_ocsp \
           ota_scep ota_scepmsg scep_payload ota_getcacaps ota_final ota_status \
           ota_store_scale ota_store_list ota_status_registry \
           ota_dbfile ota_status_store \
           ota_status_admin
CORE_OBJ = $(CORE:%=$(BUILD)/%.o)
# httpd glue: the only files that call httpd
GLUE     = mod_ota_enroll mod_ota_enroll_profile mod_ota_enroll_phase2 \
           mod_ota_enroll_final mod_ota_enroll_scep mod_ota_enroll_status \
           mod_ota_enroll_action mod_ota_enroll_revoke mod_ota_enroll_ocsp \
           mod_ota_enroll_request mod_ota_enroll_dbcheck mod_ota_enroll_registry \
           mod_ota_enroll_check \
           mod_ota_enroll_config
GLUE_OBJ = $(GLUE:%=$(BUILD)/%.o)
UNITS    = $(patsubst t/unit/%.c,%,$(wildcard t/unit/unit_*.c))
UNIT_BIN = $(UNITS:%=$(BUILD)/t/%)

all: mod_ota_enroll.so $(BUILD)/ota-device $(UNIT_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h) | $(BUILD)
	@echo "  CC  $@"; $(CC) $(CFLAGS) -c -o $@ $<

$(GLUE_OBJ): $(BUILD)/%.o: %.c $(wildcard include/*.h) | $(BUILD)
	@echo "  CC  $@"; $(CC) $(CFLAGS) -I$(AP_INCLUDEDIR) -c -o $@ $<

mod_ota_enroll.so: $(GLUE_OBJ) $(CORE_OBJ)
	@echo "  CC  $@"; $(CC) -shared -o $@ $^ $(LDLIBS)

# what the emulator and the admin command share: cli/*.c
CLI_OBJ = $(patsubst cli/%.c,$(BUILD)/cli/%.o,$(wildcard cli/*.c))

$(BUILD)/cli/%.o: cli/%.c $(wildcard cli/*.h) | $(BUILD)
	@mkdir -p $(BUILD)/cli
	@echo "  CC  $@"; $(CC) $(CFLAGS) -Icli -c -o $@ $<

# the device emulator: device/*.c on the core, its objects in build/device/
DEVICE_SRC = $(wildcard device/*.c)
DEVICE_OBJ = $(DEVICE_SRC:device/%.c=$(BUILD)/device/%.o)

$(BUILD)/device/%.o: device/%.c $(wildcard device/*.h) $(wildcard cli/*.h) \
                     $(wildcard include/*.h) | $(BUILD)
	@mkdir -p $(BUILD)/device
	@echo "  CC  $@"; $(CC) $(CFLAGS) -Idevice -Icli -c -o $@ $<

$(BUILD)/ota-device: $(DEVICE_OBJ) $(CLI_OBJ) $(CORE_OBJ)
	@echo "  CC  $@"; $(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/t/%: t/unit/%.c $(wildcard t/unit/*.h) $(CORE_OBJ) | $(BUILD)
	@echo "  CC  $@"; $(CC) $(CFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)

$(BUILD):
	mkdir -p $(BUILD)/t

# .ci/packages: to build and run (make, make demo); .ci/packages-test:
# what the tests add.
deps:
	@bash .ci/deps .ci/packages

test-deps: deps
	@bash .ci/deps .ci/packages-test

test: test-deps
	@$(MAKE) --no-print-directory all
	prove t/

demo: deps
	@$(MAKE) --no-print-directory all
	@bash demo/run.sh

# The module, its Apache files, the commands: mk/deb.mk's install-files
# (DESTDIR for packaging).
install: all
	@$(MAKE) --no-print-directory install-files

clean:
	rm -rf $(BUILD) build-asan build-fuzz mod_ota_enroll.so

.PHONY: all deps test-deps test demo install clean

# Further targets (bench, fuzz, sanitizers) live in mk/*.mk.
-include mk/*.mk
