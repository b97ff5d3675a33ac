#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Replays the fuzz corpus and the regression inputs (fuzz/corpus/TARGET,
# fuzz/regressions/TARGET) through each fuzz target's entry point, built
# without libFuzzer by gcc with -fsanitize=address,undefined (`make
# fuzz-replay`, in build-asan/fuzz/): no clang needed. Any sanitizer
# report, leak, or failed check of a target fails it. Also runs the known
# answers of the GET message= decoding (fuzz/scepmsg_check.c).

. "$(dirname "$0")/lib.sh"
cd "$T_TOP" || exit 1

TARGETS="phase2 device_plist scep_pki scep_get final template status"
t_workdir ota-fuzz-replay || { echo "Bail out! work directory"; exit 1; }
OUT=$T_WORK
trap t_cleanup EXIT

if ! make --no-print-directory -C "$T_TOP" fuzz-replay >"$OUT/build" 2>&1; then
    echo "Bail out! make fuzz-replay failed"
    sed 's/^/# /' "$OUT/build" | tail -20
    exit 1
fi

export OTA_FUZZ_TOP=$T_TOP
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in $TARGETS; do
    inputs=("fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && inputs+=("fuzz/regressions/$t")
    REPLAY_VERBOSE=1 "build-asan/fuzz/replay_$t" "${inputs[@]}" \
        >"$OUT/$t.out" 2>"$OUT/$t.err"
    rc=$?
    count=$(sed -n 's/^replayed \([0-9]*\) inputs$/\1/p' "$OUT/$t.out")
    if [ "$rc" -ne 0 ] || grep -Eq 'Sanitizer|runtime error' "$OUT/$t.err"; then
        rc=1
        # the last input named is the one that failed
        grep '^replay: ' "$OUT/$t.err" | tail -1 | sed 's/^/# /'
        grep -Ev '^replay: ' "$OUT/$t.err" | head -30 | sed 's/^/#   /'
    fi
    [ "${count:-0}" -gt 0 ] || rc=1
    ok $rc "$t: ${count:-0} inputs replayed under ASan+UBSan (${inputs[*]})"
done

build-asan/fuzz/scepmsg_check >"$OUT/scepmsg" 2>&1
rc=$?
grep '^not ok\|^#' "$OUT/scepmsg" | sed 's/^/# /'
ok $rc "GET message= decoding: known answers ($(grep -c '^ok' "$OUT/scepmsg") checks)"

done_testing
