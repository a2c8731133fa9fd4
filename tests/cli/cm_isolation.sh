#!/bin/sh
# `corral exec` and `corral mcp` with --isolation, --tenant and --busy-poll-us: a program
# gives the same answer in every mode (jailed worker processes included),
# and a bad mode or an empty tenant key is a usage error (exit 2) that names
# the value and what is allowed. Prints "cases: N passed, N failed".
set -u
B=${1:-build/release}
CORRAL="$B/corral"
passed=0
failed=0
OUT=$(mktemp)
ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT

# check NAME WANT_EXIT WANT_STDOUT WANT_STDERR_TEXT ARGS... : runs corral; the
# exit status must match, stdout must equal WANT_STDOUT (unless it is "-"),
# stderr must contain WANT_STDERR_TEXT (unless it is "").
check() {
    name=$1 want_exit=$2 want_out=$3 want_err=$4
    shift 4
    "$CORRAL" "$@" > "$OUT" 2> "$ERR" < /dev/null
    got=$?
    ok=1
    [ "$got" = "$want_exit" ] || { echo "FAIL $name: exit $got, want $want_exit"; ok=0; }
    if [ "$want_out" != "-" ] && [ "$(cat "$OUT")" != "$want_out" ]; then
        echo "FAIL $name: stdout"
        echo "  want: $want_out"
        echo "  got:  $(head -c 600 "$OUT")"
        ok=0
    fi
    if [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$ERR"; then
        echo "FAIL $name: stderr lacks '$want_err'"
        sed 's/^/  | /' "$ERR" | head -5
        ok=0
    fi
    if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

PROG='async () => {
  console.log("sum", [1, 2, 3].reduce((a, b) => a + b));
  console.warn("careful");
  const out = { typeofProcess: typeof process, typeofFetch: typeof fetch, big: "x".repeat(5).length };
  try { await fetch("http://127.0.0.1:9/"); out.fetch = "reached"; } catch (e) { out.fetch = e.name; }
  return out;
}'
# What inline gives is the reference every other mode must match.
"$CORRAL" exec --isolation inline "$PROG" > "$OUT" 2> "$ERR" < /dev/null
inline_status=$?
INLINE=$(cat "$OUT")
case "$INLINE" in
    *'"result":{"typeofProcess":"undefined"'*'"logs":["sum 6","[warn] careful"]'*)
        [ $inline_status = 0 ] && passed=$((passed + 1)) || { echo "FAIL inline: exit $inline_status"; failed=$((failed + 1)); } ;;
    *) echo "FAIL inline: unexpected output: $INLINE"; sed 's/^/  | /' "$ERR" | head -5; failed=$((failed + 1)) ;;
esac
for mode in pool tenant process; do
    check "exec --isolation $mode" 0 "$INLINE" "" exec --isolation "$mode" "$PROG"
done
check "exec --isolation tenant --tenant" 0 "$INLINE" "" exec --isolation tenant --tenant acme "$PROG"
check "exec --tenant alone" 0 "$INLINE" "" exec --tenant acme "$PROG"

# A failing program fails the same way in a jailed worker.
check "exec error inline" 1 '{"error":"no luck","logs":[]}' "" exec --isolation inline 'throw new Error("no luck")'
check "exec error process" 1 '{"error":"no luck","logs":[]}' "" exec --isolation process 'throw new Error("no luck")'
check "exec cpu limit process" 1 '{"error":"The worker exceeded its CPU time limit of 300 ms.","logs":[]}' "" \
    exec --isolation process --cpu-ms 300 'for (;;) {}'

# Busy-polling changes latency only: the same answer with it off and high,
# and `corral run` takes the option too.
for us in 0 5000; do
    check "exec --busy-poll-us $us" 0 "$INLINE" "" exec --busy-poll-us "$us" "$PROG"
done
check "run --busy-poll-us 0" 0 - "" run --busy-poll-us 0 tests/js/badinput/nul_in_names.js
check "run --busy-poll-us bad" 2 "" "corral run: --busy-poll-us takes a whole number of µs from 0 to 100000, got 'x'" run --busy-poll-us x tests/js/badinput/nul_in_names.js

# Usage errors: exit 2, the bad value and the allowed ones named.
for cmd in exec mcp; do
    check "$cmd --isolation bogus" 2 "" "corral $cmd: --isolation takes inline, pool, tenant or process, got 'bogus'" \
        $cmd --isolation bogus 'return 1'
    check "$cmd --isolation empty" 2 "" "corral $cmd: --isolation takes inline, pool, tenant or process, got ''" \
        $cmd --isolation '' 'return 1'
    check "$cmd --tenant empty" 2 "" "corral $cmd: --tenant takes a non-empty key" $cmd --tenant '' 'return 1'
    for bad in -1 100001 5x ''; do
        check "$cmd --busy-poll-us '$bad'" 2 "" \
            "corral $cmd: --busy-poll-us takes a whole number of µs from 0 to 100000, got '$bad'" \
            $cmd --busy-poll-us "$bad" 'return 1'
    done
    check "$cmd --help" 0 - "" $cmd --help
    grep -qF -- '--isolation MODE' "$OUT" && grep -qF -- '--tenant KEY' "$OUT" &&
        grep -qF -- '--busy-poll-us N' "$OUT" && passed=$((passed + 1)) || {
        echo "FAIL $cmd --help does not document --isolation, --tenant and --busy-poll-us"
        failed=$((failed + 1))
    }
done

echo "cases: $passed passed, $failed failed"
[ "$failed" = 0 ]
