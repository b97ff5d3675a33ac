#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# fuzz/run.sh TARGET...: runs each libFuzzer target of $FUZZ_BUILD
# (build-fuzz) for $FUZZ_SECONDS (60) seconds, from a working copy of
# fuzz/corpus/TARGET (new inputs stay in $FUZZ_BUILD/corpus/TARGET, out of
# the source tree), and prints how many inputs each ran. A crash leaves
# its input in $FUZZ_BUILD/artifacts/TARGET/: turn it into a regression
# with `cp` to fuzz/regressions/TARGET/. Exits non-zero on any crash.
# Extra libFuzzer flags: FUZZ_ARGS (e.g. FUZZ_ARGS=-jobs=2).
set -u
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
export OTA_FUZZ_TOP=$PWD
# the sanitizers stop at the first report; leaks count as crashes
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=

for t in "$@"; do
    work=$build/corpus/$t
    art=$build/artifacts/$t
    log=$build/$t.log
    mkdir -p "$work" "$art"
    dict=
    [ -f "fuzz/dict/$t.dict" ] && dict=-dict=fuzz/dict/$t.dict
    extra=()
    [ -d "fuzz/regressions/$t" ] && extra+=("fuzz/regressions/$t")
    echo "== $t: ${seconds}s"
    # shellcheck disable=SC2086
    "$build/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" $dict \
        ${FUZZ_ARGS:-} "$work" "fuzz/corpus/$t" "${extra[@]}" >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
    units=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
    cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "   CRASH (exit $rc), log: $log, input: $(ls -t "$art" | head -1)"
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/   /'
    fi
    echo "   ${done_line:-no DONE line}"
    echo "   stat::number_of_executed_units: ${units:-?}"
    summary+=$(printf '%-14s %10s runs  cov %-6s %s' "$t" "${units:-?}" \
                      "${cov:-?}" "$([ $rc -eq 0 ] && echo ok || echo CRASH)")$'\n'
done
echo "== summary (${seconds}s each)"
printf '%s' "$summary"
exit $failed
