#!/bin/sh
# End-to-end tests of `corral mcp` and `corral exec`, driven by the official
# MCP TypeScript SDK client against the real server-filesystem and
# server-memory (installed with `npm ci` in this directory).
# Usage: tests/mcp/e2e.sh [CORRAL_BIN]   (default build/release/corral)
# Prints one ok/FAIL line per case and ends with "cases: N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-build/release/corral}
case "$BIN" in
    /*) ;;
    *) BIN="$(pwd)/$BIN" ;;
esac
# A build directory (as tests/run.sh passes) means its corral.
if [ -d "$BIN" ]; then BIN="$BIN/corral"; fi
HERE="$ROOT/tests/mcp"
if ! command -v node > /dev/null 2>&1; then
    echo "FAIL tests/mcp: node is not installed"
    echo "cases: 0 passed, 1 failed"
    exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
    echo "FAIL tests/mcp: these tests need Node.js 20 or newer (the SDK's HTTP server and the upstreams require it); found $(node --version)"
    echo "cases: 0 passed, 1 failed"
    exit 1
fi
if [ ! -d "$HERE/node_modules/@modelcontextprotocol/sdk" ]; then
    echo "FAIL tests/mcp: run 'npm ci --prefix tests/mcp' first (scripts/setup.sh does)"
    echo "cases: 0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$BIN" ]; then
    echo "FAIL tests/mcp: no corral binary at $BIN"
    echo "cases: 0 passed, 1 failed"
    exit 1
fi
cd "$HERE" && exec node run.mjs "$BIN"
