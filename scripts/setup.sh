#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12, and only what is
# missing: CI and `npm start`/`npm test` run this on every fresh clone, so the
# common case (everything present) must take well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake pkg-config gcc clang emscripten libcjson-dev libutf8proc-dev
          chromium libclang-rt-14-dev dpkg-dev libmicrohttpd-dev)
# The wasm build compiles these libraries from their Debian sources.
SOURCE_PACKAGES=(cjson utf8proc)
DEPS_DIR=.deps
SOURCES_LIST=/etc/apt/sources.list.d/debian.sources

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            echo "$pkg"
    done
}

# The unpacked source tree of a package, e.g. .deps/cjson-1.7.15.
source_dir() {
    find "$DEPS_DIR" -maxdepth 1 -mindepth 1 -type d -name "$1-*" -print -quit 2>/dev/null
}

enable_deb_src() {
    [ -f "$SOURCES_LIST" ] || return 0
    grep -q '^Types:.*deb-src' "$SOURCES_LIST" && return 0
    echo "setup: enabling deb-src in $SOURCES_LIST"
    as_root sed -i 's/^Types: *deb *$/Types: deb deb-src/' "$SOURCES_LIST"
}

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
}

install_packages() {
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    echo "setup: installing" $missing
    apt_update_once
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

fetch_sources() {
    local pkg need=()
    for pkg in "${SOURCE_PACKAGES[@]}"; do
        [ -n "$(source_dir "$pkg")" ] || need+=("$pkg")
    done
    [ "${#need[@]}" -eq 0 ] && return 0
    echo "setup: fetching Debian sources of ${need[*]} into $DEPS_DIR/"
    if ! grep -q '^Types:.*deb-src' "$SOURCES_LIST" 2>/dev/null; then
        enable_deb_src
        apt_updated=0
    fi
    apt_update_once
    mkdir -p "$DEPS_DIR"
    (cd "$DEPS_DIR" && apt-get source -qq "${need[@]}")
}

# npm records what it installed in node_modules/.package-lock.json: a lock
# file changed since (a pull that added a package) installs again.
install_node_modules() {
    [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ] &&
        return 0
    echo "setup: installing node modules"
    # Not `npm ci`: npm 11 refuses this lock file because it lists only the
    # optional node-llama-cpp binaries of platforms npm resolved on (Linux);
    # `npm install` still follows the lock's versions.
    npm install --no-audit --no-fund
}

install_packages
fetch_sources
install_node_modules
