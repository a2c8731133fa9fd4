#!/bin/sh
# Benchmarks of `corral mcp` (issue #4): per-call overhead of code mode against
# direct MCP client calls, and description sizes in o200k tokens.
# Prints markdown tables; asserts nothing. Needs `npm ci --prefix tests/mcp`.
# Usage: bench/mcp/run.sh [CORRAL_BIN] [--iterations N] [--upstream memory|fs|fake|both|all]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-build/release/corral}
if [ $# -gt 0 ]; then shift; fi
case "$BIN" in /*) ;; *) BIN="$(pwd)/$BIN" ;; esac
if [ -d "$BIN" ]; then BIN="$BIN/corral"; fi
if [ ! -d "$ROOT/tests/mcp/node_modules/@modelcontextprotocol/sdk" ]; then
    echo "bench/mcp: run 'npm ci --prefix tests/mcp' first" >&2
    exit 1
fi
echo "## corral mcp: description sizes"
node "$ROOT/bench/mcp/tokens.mjs" "$BIN"
echo
echo "## corral mcp: overhead per tool call"
node "$ROOT/bench/mcp/overhead.mjs" "$BIN" "$@"
