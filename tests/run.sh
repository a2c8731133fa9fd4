#!/bin/sh
# Runs every test: the C test programs built in BUILD_DIR/tests, the
# command-line tests (tests/cli/*.sh), and the JavaScript conformance cases in tests/js (each NAME.js is run with
# `corral run` and compared with NAME.expected). Prints one line per
# failure and ends with "N passed, N failed".
#
# A .js case may start with comment lines that steer the run:
#   // args: --call greet --args ["x"]     extra `corral run` options
#   // exit: 1                             the expected exit status (default 0)
# NAME.expected holds stdout; after a line "--- stderr" it holds stderr.
#
# The .js cases run once with corral run's default isolation (pool: jailed
# worker processes, docs/jail.md) and then once in each of ISOLATION_MODES
# (default "inline tenant process"), expecting the same output in every
# mode. Under VALGRIND only inline runs: valgrind's own system calls inside
# a worker would meet the worker's seccomp filter.
set -u
DEFAULT_MODE=""
if [ -n "${VALGRIND:-}" ]; then
    ISOLATION_MODES=${ISOLATION_MODES-}
    DEFAULT_MODE="--isolation inline"
else
    ISOLATION_MODES=${ISOLATION_MODES-inline tenant process}
fi
VALGRIND=${VALGRIND:-}
B=${1:-build/release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
passed=0
failed=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for t in $(find "$B/tests" -type f -perm -u+x -name 'test_*' | sort) $(find tests -path tests/mcp/node_modules -prune -o -name '*.sh' -path '*/cli/*' -print | sort) $(ls tests/mcp/e2e.sh 2>/dev/null); do
    out="$TMP/out"
    case "$t" in
        *.sh) sh "$t" "$B" > "$out" 2>&1 ;;
        *) $VALGRIND "$t" > "$out" 2>&1 ;;
    esac
    status=$?
    line=$(grep '^cases: ' "$out" | tail -1)
    p=$(echo "$line" | sed -n 's/^cases: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^cases: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "FAIL $t (crashed or printed no summary, exit $status)"
        tail -20 "$out"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" != 0 ] || [ $status != 0 ]; then
        grep -B30 '^FAIL ' "$out" | head -60
        [ "$f" = 0 ] && failed=$((failed + 1))
    fi
done

for mode in default $ISOLATION_MODES; do
iso=$DEFAULT_MODE
[ "$mode" = default ] || iso="--isolation $mode"
for js in $(find tests/js -name '*.js' | sort); do
    exp="${js%.js}.expected"
    [ -f "$exp" ] || continue
    args="$iso $(sed -n '1,5s|^// args: ||p' "$js" | head -1)"
    want_exit=$(sed -n '1,5s|^// exit: ||p' "$js" | head -1)
    [ -n "$want_exit" ] || want_exit=0
    # shellcheck disable=SC2086
    eval "$VALGRIND \"$B/corral\" run $args \"$js\"" > "$TMP/stdout" 2> "$TMP/stderr" < /dev/null
    status=$?
    if grep -q '^--- stderr$' "$exp"; then
        sed '/^--- stderr$/,$d' "$exp" > "$TMP/want_out"
        sed '0,/^--- stderr$/d' "$exp" > "$TMP/want_err"
        cp "$TMP/stderr" "$TMP/got_err"
    else
        cp "$exp" "$TMP/want_out"
        : > "$TMP/want_err"
        : > "$TMP/got_err"
    fi
    if [ "$status" = "$want_exit" ] && cmp -s "$TMP/stdout" "$TMP/want_out" && cmp -s "$TMP/got_err" "$TMP/want_err"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $js [isolation $mode] (exit $status, want $want_exit)"
        diff "$TMP/want_out" "$TMP/stdout" | head -20
        diff "$TMP/want_err" "$TMP/got_err" | head -20
        [ -s "$TMP/stderr" ] && ! grep -q '^--- stderr$' "$exp" && head -5 "$TMP/stderr"
    fi
done
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
