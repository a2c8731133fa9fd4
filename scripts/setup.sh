#!/bin/sh
# Installs what corral needs on Debian 12 (run as root, or with sudo
# available) and fetches QuickJS. Safe to run again.
set -eu
PKGS="build-essential pkg-config xz-utils dpkg-dev libjansson-dev libseccomp-dev libcurl4-openssl-dev libyaml-dev clang valgrind"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi
# Node.js runs the end-to-end tests (the official MCP SDK drives `corral mcp`);
# a machine that already has node keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q nodejs npm
fi
"$(dirname "$0")/fetch-quickjs.sh"
# The test tools, exactly as the lockfile pins them (integrity hashes only).
if [ -f "$(dirname "$0")/../tests/mcp/package-lock.json" ]; then
    (cd "$(dirname "$0")/../tests/mcp" && npm ci --no-audit --no-fund --loglevel=error)
fi
