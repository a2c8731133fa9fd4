#!/bin/sh
# Installs what corral needs on Debian 12 (run as root, or with sudo
# available) and fetches QuickJS. Safe to run again.
set -eu
PKGS="build-essential pkg-config xz-utils dpkg-dev libjansson-dev libseccomp-dev libcurl4-openssl-dev clang valgrind"
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
"$(dirname "$0")/fetch-quickjs.sh"
