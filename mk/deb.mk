# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Installing and packaging (debian/, README "Debian package"). Included by
# the Makefile.
#
#   make install-files  the module, Apple's device CA chain, the
#                       mods-available files (conf/ota_enroll.load and
#                       .conf), /etc/apache2/ota-enroll/site.conf,
#                       ota-enroll and ota-device with their man pages
#                       (man/); without DESTDIR also the state directory
#                       /var/lib/ota-enroll, owned by www-data. `make
#                       install` builds first. DESTDIR, PREFIX (/usr).
#   make deb            build/deb/libapache2-mod-ota-enroll_VERSION_ARCH.deb
#                       (dpkg-buildpackage -b in a copy of the tree,
#                       build/deb/src), then lintian on it: its report in
#                       build/deb/lintian.txt; fails on a lintian error.

PREFIX      ?= /usr
STATE_DIR    = /var/lib/ota-enroll
DEB_BUILD    = $(BUILD)/deb
DEB_NAME     = libapache2-mod-ota-enroll
DEB_VERSION  = $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
DEB_ARCH     = $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE     = $(DEB_BUILD)/$(DEB_NAME)_$(DEB_VERSION)_$(DEB_ARCH).deb
DEB_SRC      = $(DEB_BUILD)/src/$(DEB_NAME)-$(DEB_VERSION)
DEB_TOOLS    = dpkg-buildpackage dh dh_apache2 fakeroot lintian

install-files:
	install -d $(DESTDIR)$(AP_LIBEXECDIR) \
	    $(DESTDIR)/etc/apache2/mods-available \
	    $(DESTDIR)/etc/apache2/ota-enroll \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 644 mod_ota_enroll.so $(DESTDIR)$(AP_LIBEXECDIR)/
	install -m 644 apple/apple-device-ca-chain.pem \
	    $(DESTDIR)$(DEVICE_CA_DEFAULT)
	install -m 644 conf/ota_enroll.load conf/ota_enroll.conf \
	    $(DESTDIR)/etc/apache2/mods-available/
	install -m 644 conf/site.conf $(DESTDIR)/etc/apache2/ota-enroll/
	install -m 755 $(BUILD)/ota-device $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/ota-enroll $(DESTDIR)$(PREFIX)/sbin/
	install -m 644 man/ota-device.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 man/ota-enroll.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	@if [ -z "$(DESTDIR)" ]; then \
	    install -d -o www-data -g www-data -m 750 $(STATE_DIR) && \
	    echo "installed: now a2enmod ota_enroll, then ota-enroll init" \
	         "(README.md, Quick start on Debian)"; \
	fi

deb:
	@for t in $(DEB_TOOLS); do command -v $$t >/dev/null || { \
	    echo "make deb needs $$t: apt-get install debhelper dh-apache2" \
	         "dpkg-dev fakeroot lintian" >&2; exit 1; }; done
	rm -rf $(DEB_BUILD) && mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./.git --exclude='./$(BUILD)' --exclude=./build-asan \
	    --exclude=./build-fuzz --exclude='*.o' --exclude=./mod_ota_enroll.so \
	    . | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc -j$$(nproc) \
	    >../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
	mv $(DEB_BUILD)/src/$(DEB_NAME)_*.deb $(DEB_BUILD)/
	@echo "built $(DEB_FILE)"
	lintian --fail-on error $(DEB_FILE) >$(DEB_BUILD)/lintian.txt 2>&1; \
	    rc=$$?; cat $(DEB_BUILD)/lintian.txt; exit $$rc

.PHONY: install-files deb
