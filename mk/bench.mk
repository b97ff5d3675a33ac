# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Benchmarks (bench/run.sh, bench/profile.sh). Included by the Makefile.
#
#   make bench          starts apache2 with production-like settings
#                       (mpm_event, then mpm_prefork; sqlite3 by mod_dbd;
#                       the built-in CA; a final profile), drives phases 1,
#                       2, 3 and SCEP PKIOperation with `ota-device load`,
#                       measures the crypto floor (bench/floor.c, `openssl
#                       speed`) and micromdm's scepserver in the same run,
#                       profiles phase 2 once (bench-profile), and writes
#                       build/bench/results.txt, ending with a Markdown
#                       summary table
#   make bench-profile  one profile of the phase-2 path (perf when the
#                       machine has hardware counters, else callgrind on
#                       apache2 -X): build/bench/profile.txt
#   make bench-floor    builds build/bench/floor only
#   make bench-revocation  ota-ocsp against openssl ocsp -index (with and
#                       without a nonce), a CRL of 100,000 entries:
#                       build/bench/revocation.txt (also run by make bench)
#   make bench-scale    the registry at 1,000 and 1,000,000 devices on
#                       sqlite3 and PostgreSQL (bench/scale.sh): every
#                       phase and every status view at both sizes, one
#                       table in build/bench/scale.txt; not part of make
#                       bench (about 30 minutes on 2 CPUs). Knobs:
#                       BENCH_SCALE_SIZES, BENCH_SCALE_DBS,
#                       BENCH_SCALE_VIEWS, BENCH_SCALE_PURGE
#
# Knobs (environment): BENCH_N (requests per phase, 2000), BENCH_C
# (concurrency, 8), BENCH_MPMS ("event prefork"), BENCH_BASE_MPM (prefork:
# the side experiments), BENCH_LONG=1 (the RSS run: 100,000 phase-1
# requests; default 20,000), BENCH_DEADLINE (25: seconds a run may send
# for), BENCH_TIMEOUT (10: seconds a request may take), BENCH_PROFILE=0
# (no profile), BENCH_PROFILE_N (phase-2 requests profiled, 200),
# BENCH_PROFILER (perf or callgrind), KEEP=1 (keep the work directory).
#
# The floor links the core objects (the Makefile's CORE: every build/*.o
# but the httpd glue mod_*.o; the emulator's objects are build/device/*.o).

BENCH_BUILD = $(BUILD)/bench

$(BENCH_BUILD)/floor: bench/floor.c $(CORE_OBJ) $(wildcard include/*.h) | $(BUILD)
	@mkdir -p $(BENCH_BUILD)
	@echo "  CC  $@"; $(CC) $(CFLAGS) -o $@ bench/floor.c $(CORE_OBJ) $(LDLIBS)

bench-floor: $(BENCH_BUILD)/floor

bench:
	@$(MAKE) --no-print-directory all $(BENCH_BUILD)/floor
	@bash bench/run.sh
	@bash bench/revocation.sh

bench-profile:
	@$(MAKE) --no-print-directory all $(BENCH_BUILD)/floor
	@bash bench/profile.sh

# The OCSP responder against openssl ocsp, and a CRL of 100,000 entries
# (bench/revocation.sh; build/bench/revocation.txt).
bench-revocation:
	@$(MAKE) --no-print-directory all
	@bash bench/revocation.sh

# The registry at a million devices (bench/scale.sh).
bench-scale:
	@$(MAKE) --no-print-directory all $(BENCH_BUILD)/floor
	@bash bench/scale.sh

.PHONY: bench bench-floor bench-profile bench-revocation bench-scale
