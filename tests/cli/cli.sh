#!/bin/sh
# End-to-end tests of the corral command: options, output formats, config
# files and exit statuses. Prints "cases: N passed, N failed" like the C
# tests so tests/run.sh can add it up.
set -u
B=${1:-build/release}
CORRAL="$B/corral"
F=tests/cli/fixtures
passed=0
failed=0
OUT=$(mktemp)
ERR=$(mktemp)
trap 'rm -f "$OUT" "$ERR"' EXIT

# run NAME WANT_EXIT ARGS... : runs corral with ARGS, checks the exit status
run() {
    name=$1
    want=$2
    shift 2
    "$CORRAL" "$@" > "$OUT" 2> "$ERR" < /dev/null
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: exit $got, want $want"
        sed 's/^/  stdout: /' "$OUT" | head -5
        sed 's/^/  stderr: /' "$ERR" | head -5
        failed=$((failed + 1))
        return 1
    fi
    return 0
}

# has NAME FILE TEXT : FILE contains TEXT
has() {
    if grep -qF -- "$3" "$2"; then
        passed=$((passed + 1))
    else
        echo "FAIL $1: missing '$3'"
        sed 's/^/  | /' "$2" | head -8
        failed=$((failed + 1))
    fi
}

run default-fetch 0 run $F/echo.js && {
    has default-fetch "$OUT" '"method":"GET","url":"http://localhost/"'
    has default-fetch "$OUT" '"hasLoader":"object"'
    has wait-until "$ERR" '[log] after the response'
}
run request-options 0 run --request "POST /path?q=1" --header "X-Test: yes" --data "payload" $F/echo.js && {
    has request-options "$OUT" '"method":"POST","url":"http://localhost/path?q=1","header":"yes","body":"payload"'
}
printf 'from a file' > /tmp/corral-cli-body.txt
run data-file 0 run --request "PUT /" --data @/tmp/corral-cli-body.txt $F/echo.js && has data-file "$OUT" '"body":"from a file"'
run var 0 run --var GREETING=hi $F/echo.js && has var "$OUT" '"greeting":"hi"'
run call 0 run --call add --args '[2, 40]' $F/echo.js && has call "$OUT" '42'
run entrypoint 0 run --call who --entrypoint other $F/echo.js && has entrypoint "$OUT" '"other"'
run json 0 run --json $F/echo.js && {
    has json "$OUT" '"ok":true'
    has json "$OUT" '"status":201'
    has json "$OUT" '"x-out":"1"'
    has json "$OUT" '"logs":[{"level":"log","message":"after the response"'
}
run json-error 1 run --json $F/throws.js && has json-error "$OUT" '"ok":false,"error":{"name":"TypeError","message":"thrown here"'
run config 0 run -c $F/wrangler.jsonc && {
    has config "$OUT" '"greeting":"hello from vars"'
    has config "$OUT" '"hasLoader":"object"'
}
run config-bad-flag 1 run -c $F/bad_flag.jsonc && has config-bad-flag "$ERR" 'Error: No such compatibility flag: nope'
run throws 1 run $F/throws.js && has throws "$ERR" 'TypeError: thrown here'
run escape 1 run $F/escape.js && has escape "$ERR" 'goes above the root of the module map'
run no-main 2 run && has no-main "$ERR" 'give MAIN.js or -c CONFIG'
run missing-main 2 run $F/does-not-exist.js && has missing-main "$ERR" 'cannot open'
run missing-config 2 run -c $F/nope.jsonc && has missing-config "$ERR" 'cannot read'
run bad-args 2 run --call add --args '{"not":"an array"}' $F/echo.js && has bad-args "$ERR" '--args must be a JSON array'
run bad-cpu 2 run --cpu-ms abc $F/echo.js && has bad-cpu "$ERR" '--cpu-ms takes a positive whole number'
run bad-request 2 run --request "GET" $F/echo.js && has bad-request "$ERR" '--request takes'
run bad-header 2 run --header novalue $F/echo.js && has bad-header "$ERR" '--header takes K:V'
run unknown-command 2 frobnicate && has unknown-command "$ERR" "unknown command 'frobnicate'"
run example-agent 0 run examples/agent/main.js && {
    has example-agent "$OUT" '"history":["agent: hello from the sandbox","agent: task was: summarise the lobby"]'
    has example-agent "$OUT" '"blocked":"This worker is not permitted to access the internet via global functions like fetch(). It must use capabilities (such as bindings in '"'"'env'"'"') to talk to the outside world."'
}
# corral exec: Code Mode programs in their usual forms
run exec-arrow 0 exec 'async () => { console.log("hi", {a: 1}); return [1, 2].map((x) => x * 2); }' && {
    has exec-arrow "$OUT" '{"result":[2,4],"logs":["hi { a: 1 }"]}'
}
run exec-expression 0 exec 'const x = 10;
x * 2' && has exec-expression "$OUT" '{"result":20,"logs":[]}'
run exec-undefined 0 exec 'async () => {}' && has exec-undefined "$OUT" '{"logs":[]}'
run exec-throw 1 exec 'throw new TypeError("bad")' && has exec-throw "$OUT" '{"error":"bad","logs":[]}'
run exec-throw-string 1 exec 'throw "boom"' && has exec-throw-string "$OUT" '"error":"Uncaught boom"'
run exec-cpu 1 exec --cpu-ms 100 'while (true) {}' && has exec-cpu "$OUT" 'CPU time limit of 100 ms'
run exec-no-network 1 exec 'await fetch("https://example.com")' && has exec-no-network "$OUT" 'not permitted to access the internet'
printf 'return 6 * 7' > /tmp/corral-cli-prog.js
run exec-file 0 exec @/tmp/corral-cli-prog.js && has exec-file "$OUT" '{"result":42'
run exec-stdin 0 exec - && has exec-stdin "$OUT" '{"logs":[]}'
run exec-no-program 2 exec && has exec-no-program "$ERR" 'give exactly one program'
run exec-bad-file 2 exec @/nonexistent/prog.js && has exec-bad-file "$ERR" 'cannot read'

# doctor: the table and a verdict on any machine; exit 0 when the minimum
# jail works here, 1 when it does not — never a crash or a usage error.
"$CORRAL" doctor > "$OUT" 2> "$ERR" < /dev/null
st=$?
if [ "$st" = 0 ] || [ "$st" = 1 ]; then
    has doctor "$OUT" 'layer'
    has doctor "$OUT" 'seccomp '
    has doctor "$OUT" 'no-new-privs'
    has doctor "$OUT" 'rlimits'
else
    echo "FAIL doctor: exit $st"
    failed=$((failed + 1))
fi
run help 0 run --help && has help "$OUT" 'usage: corral run'
run version 0 version && has version "$OUT" 'corral '

echo "cases: $passed passed, $failed failed"
[ "$failed" = 0 ]
