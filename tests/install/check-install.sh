#!/usr/bin/env bash
# Check what `meson install` puts on a machine, and that a program outside
# the tree builds against it with nothing but pkg-config (issue 8, item 5).
#
#   tests/install/check-install.sh BUILDDIR
#
# Installs BUILDDIR into a scratch DESTDIR (the configured prefix below it),
# then checks:
#   - every expected file is there: the header, libmtasts.so.1*, the
#     libmtasts.so link, libmtasts.a, pkgconfig/mtasts.pc, and, as the
#     build's options say, bin/mtasts-query, sbin/mtasts-socketmap,
#     every docs/*.md and the man pages of docs/man/;
#   - nothing else is installed (the whole list is printed);
#   - tests/install/consumer.c compiles with `pkg-config --cflags --libs
#     mtasts` (PKG_CONFIG_SYSROOT_DIR pointing at DESTDIR) and runs against
#     the staged shared library;
#   - it links against libmtasts.a with `pkg-config --static --libs` and
#     runs without the shared library;
#   - a fully static link (-static): Debian 12's ldns.pc leaves libssl and
#     libcrypto out of its Libs.private, so with pkg-config's flags alone
#     it fails; that is reported as KNOWN, and the link is retried with
#     -lssl -lcrypto added, which must work.
# Prints PASS/FAIL/KNOWN lines and exits 1 if any check failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${1:?usage: check-install.sh BUILDDIR}" && pwd) || exit 1
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/mtasts-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/dest
failures=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# prefix, libdir ... as configured, and whether docs and examples are on
eval "$(meson introspect --buildoptions "$builddir" | python3 -c '
import json, shlex, sys
names = {"prefix", "bindir", "sbindir", "libdir", "includedir", "datadir", "mandir",
         "docs", "examples"}
for o in json.load(sys.stdin):
    value = o["value"]
    if isinstance(value, bool):
        value = "true" if value else "false"
    if o["name"] in names:
        print("opt_" + o["name"] + "=" + shlex.quote(value))
')"
version=$(meson introspect --projectinfo "$builddir" |
          python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
under_prefix() {
    case $1 in
    /*) echo "${1#/}" ;;
    *) echo "${opt_prefix#/}/$1" ;;
    esac
}
libdir=$(under_prefix "$opt_libdir")

if meson install -C "$builddir" --destdir "$dest" --no-rebuild --quiet \
       >"$work/install.log" 2>&1; then
    pass "meson install --destdir (prefix $opt_prefix)"
else
    cat "$work/install.log"
    fail "meson install --destdir"
    exit 1
fi

expected=(
    "$(under_prefix "$opt_includedir")/mtasts/mtasts.h"
    "$libdir/libmtasts.so"
    "$libdir/libmtasts.so.1"
    "$libdir/libmtasts.so.$version"
    "$libdir/libmtasts.a"
    "$libdir/pkgconfig/mtasts.pc"
)
if [ "$opt_examples" = true ]; then
    expected+=("$(under_prefix "$opt_bindir")/mtasts-query")
    expected+=("$(under_prefix "$opt_sbindir")/mtasts-socketmap")
fi
if [ "$opt_docs" = true ]; then
    for f in "$top"/docs/*.md; do
        expected+=("$(under_prefix "$opt_datadir")/doc/libmtasts/${f##*/}")
    done
    for f in "$top"/docs/man/*.[1-8]; do
        expected+=("$(under_prefix "$opt_mandir")/man${f##*.}/${f##*/}")
    done
fi

echo "installed files:"
(cd "$dest" && find . -type f -o -type l) | sed 's|^\./||' | sort \
    >"$work/installed"
sed 's/^/    /' "$work/installed"
printf '%s\n' "${expected[@]}" | sort >"$work/expected"
missing=$(comm -23 "$work/expected" "$work/installed")
extra=$(comm -13 "$work/expected" "$work/installed")
if [ -z "$missing" ]; then
    pass "all ${#expected[@]} expected files installed"
else
    fail "missing: $(echo $missing)"
fi
if [ -z "$extra" ]; then
    pass "nothing unexpected installed"
else
    fail "unexpected: $(echo $extra)"
fi
if [ -L "$dest/$libdir/libmtasts.so" ] &&
   [ "$(readlink "$dest/$libdir/libmtasts.so")" = libmtasts.so.1 ]; then
    pass "libmtasts.so -> libmtasts.so.1"
else
    fail "libmtasts.so is not a link to libmtasts.so.1"
fi
soname=$(readelf -d "$dest/$libdir/libmtasts.so.$version" 2>/dev/null |
         sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" = libmtasts.so.1 ]; then
    pass "SONAME libmtasts.so.1"
else
    fail "SONAME is '$soname', not libmtasts.so.1"
fi

# pkg-config puts DESTDIR in front of every -I and -L of the installed
# mtasts.pc (and of ldns.pc and zlib.pc, harmlessly).
export PKG_CONFIG_PATH=$dest/$libdir/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$dest
consumer=$top/tests/install/consumer.c
cflags=$(pkg-config --cflags mtasts) || fail "pkg-config --cflags mtasts"
libs=$(pkg-config --libs mtasts) || fail "pkg-config --libs mtasts"
static_libs=$(pkg-config --static --libs mtasts) ||
    fail "pkg-config --static --libs mtasts"
echo "pkg-config --cflags --libs: $cflags $libs"
echo "pkg-config --static --libs: $static_libs"

# shellcheck disable=SC2086
if $cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer" "$consumer" \
       $cflags $libs &&
   LD_LIBRARY_PATH=$dest/$libdir "$work/consumer" "$version"; then
    if readelf -d "$work/consumer" | grep -q 'NEEDED.*libmtasts\.so\.1'; then
        pass "consumer, shared: built with pkg-config, runs"
    else
        fail "consumer, shared: not linked to libmtasts.so.1"
    fi
else
    fail "consumer, shared: build or run"
fi

# libmtasts.a, the rest shared, as an MTA would link it
archive_libs=${static_libs/-lmtasts/-Wl,-Bstatic -lmtasts -Wl,-Bdynamic}
# shellcheck disable=SC2086
if $cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer-a" "$consumer" \
       $cflags $archive_libs &&
   ! readelf -d "$work/consumer-a" | grep -q 'NEEDED.*libmtasts' &&
   "$work/consumer-a" "$version"; then
    pass "consumer, libmtasts.a: built with pkg-config --static, runs"
else
    fail "consumer, libmtasts.a: build or run"
fi

# everything static
# shellcheck disable=SC2086
if $cc -std=c11 -static -o "$work/consumer-static" "$consumer" \
       $cflags $static_libs >"$work/static.log" 2>&1; then
    pass "consumer, -static: links with pkg-config --static alone"
elif grep -q 'undefined reference to .\(RAND_\|ERR_\|EVP_\|d2i_\)' \
         "$work/static.log"; then
    echo "KNOWN: consumer, -static: ldns.pc does not name libssl/libcrypto" \
         "(ldns needs OpenSSL), so pkg-config --static is not enough"
    # shellcheck disable=SC2086
    if $cc -std=c11 -static -o "$work/consumer-static" "$consumer" \
           $cflags $static_libs -lssl -lcrypto >"$work/static.log" 2>&1 &&
       "$work/consumer-static" "$version"; then
        pass "consumer, -static: with -lssl -lcrypto added, runs"
    else
        grep -v 'warning: Using' "$work/static.log" | head -n 20
        fail "consumer, -static: with -lssl -lcrypto added"
    fi
else
    grep -v 'warning: Using' "$work/static.log" | head -n 20
    fail "consumer, -static"
fi

if [ "$failures" -eq 0 ]; then
    echo "install check: PASS"
    exit 0
fi
echo "install check: FAIL ($failures)"
exit 1
