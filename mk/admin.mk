# Licensed under the Apache License, Version 2.0 (see LICENSE).
# The admin command (admin/, README "The admin command"): build/ota-enroll,
# linked from the core objects the module and the emulator use
# ($(CORE_OBJ)), what it shares with the emulator ($(CLI_OBJ), cli/) and
# the key generation (ota_keygen.c) only it needs.
# Included by the Makefile.

ADMIN_OBJ   = $(patsubst admin/%.c,$(BUILD)/admin/%.o,$(wildcard admin/*.c))
KEYGEN_OBJ  = $(BUILD)/ota_keygen.o
OTA_VERSION ?= $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' \
                 debian/changelog 2>/dev/null)

all: $(BUILD)/ota-enroll

$(BUILD)/admin/%.o: admin/%.c $(wildcard admin/*.h) $(wildcard cli/*.h) \
                    $(wildcard include/*.h) | $(BUILD)
	@mkdir -p $(BUILD)/admin
	@echo "  CC  $@"; $(CC) $(CFLAGS) -DOTA_VERSION='"$(OTA_VERSION)"' \
	    -Icli -c -o $@ $<

$(BUILD)/ota-enroll: $(ADMIN_OBJ) $(CLI_OBJ) $(KEYGEN_OBJ) $(CORE_OBJ)
	@echo "  CC  $@"; $(CC) -o $@ $^ $(LDLIBS)
