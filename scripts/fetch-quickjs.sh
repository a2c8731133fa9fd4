#!/bin/sh
# Fetches QuickJS 2025-04-26 from Debian trixie's source package into
# third_party/ (git-ignored) and verifies the upstream tarball's SHA-256.
#
# Debian 12 has no QuickJS package, so we read the archive address this
# machine's apt already uses and hand apt a private sources list: the
# machine's own apt configuration and package lists are never touched.
set -eu

VERSION=2025.04.26
SHA256=ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/third_party"
SRC_DIR="$DEST/quickjs"
TARBALL="quickjs_${VERSION}.orig.tar.xz"

# Bump when the adjustments below change, so existing checkouts re-prepare.
PREPARED="$SRC_DIR/.prepared-1"
if [ -f "$PREPARED" ]; then
    exit 0
fi

mkdir -p "$DEST/apt/lists/partial" "$DEST/download"

archive_uri() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
        case "$uri" in
            */debian) echo "$uri"; return 0 ;;
        esac
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit } }' "$f")
        case "$uri" in
            */debian) echo "$uri"; return 0 ;;
        esac
    done
    return 1
}

if [ ! -f "$DEST/download/$TARBALL" ]; then
    URI=$(archive_uri) || { echo "fetch-quickjs: no Debian archive found in /etc/apt" >&2; exit 1; }
    LIST="$DEST/apt/trixie-src.list"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $URI trixie main" > "$LIST"
    APT_OPTS="-o Dir::Etc::SourceList=$LIST -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$DEST/apt/lists -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    apt-get -q $APT_OPTS update >/dev/null
    # shellcheck disable=SC2086
    (cd "$DEST/download" && apt-get -q $APT_OPTS source --download-only "quickjs=${VERSION}-1" >/dev/null)
fi

echo "$SHA256  $DEST/download/$TARBALL" | sha256sum -c --quiet - || {
    echo "fetch-quickjs: checksum mismatch for $TARBALL" >&2
    rm -f "$DEST/download/$TARBALL"
    exit 1
}

rm -rf "$SRC_DIR" "$DEST/quickjs-$VERSION"
tar -C "$DEST" -xJf "$DEST/download/$TARBALL"
mv "$DEST/quickjs-$VERSION" "$SRC_DIR"

# corral's one adjustment to the engine: running out of JavaScript stack is
# the RangeError every other engine throws (Workers code catches it by that
# name), not QuickJS's InternalError. Applied by pattern and checked, so a
# different upstream fails loudly instead of silently keeping the old name.
sed -i 's/return JS_ThrowInternalError(ctx, "stack overflow");/return JS_ThrowRangeError(ctx, "Maximum call stack size exceeded");/' "$SRC_DIR/quickjs.c"
if ! grep -q 'JS_ThrowRangeError(ctx, "Maximum call stack size exceeded")' "$SRC_DIR/quickjs.c"; then
    echo "fetch-quickjs: could not adjust the stack-overflow error in quickjs.c" >&2
    exit 1
fi
touch "$PREPARED"
echo "fetch-quickjs: QuickJS $VERSION ready in $SRC_DIR"
