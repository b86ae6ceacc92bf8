#!/usr/bin/env bash
# tests/install_example.sh BUILD_DIR SOURCE_DIR CC [FLAGS...]: the ctest test install_example. Installs
# the build into a temporary prefix (cmake --install), then builds examples/user_test/ against it
# the two ways a user would, and runs each binary:
#   pkg-config:    make -f examples/user_test/Makefile (cc, pkg-config --cflags --libs lpcert)
#   find_package:  a fresh cmake configure of examples/user_test/ (liblpcert.so and liblpcert.a)
# FLAGS go to every compile and link (the sanitizer build passes its -fsanitize flags: the
# installed library is instrumented, so its users must be too).
set -euo pipefail
build=$1 src=$2 cc=$3
shift 3
flags="$*"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lpcert-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
for f in lib/liblpcert.so lib/liblpcert.a include/lpcert.h include/lpcert_plugin.h \
         include/lpcert_version.h include/lpcert_check.h lib/pkgconfig/lpcert.pc lib/cmake/lpcert/lpcertConfig.cmake \
         lib/cmake/lpcert/lpcertConfigVersion.cmake lib/cmake/lpcert/lpcertTargets.cmake bin/lpcert; do
    [ -e "$prefix/$f" ] || { echo "install_example: $prefix/$f not installed" >&2; exit 1; }
done

# The shared library exports exactly the functions the public headers declare (cmake/liblpcert.map).
want=$(cat "$prefix/include/lpcert.h" "$prefix/include/lpcert_check.h" |
       grep -oE '\blp_[a-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:]]*(//' | sort -u)
have=$(nm -D --defined-only "$prefix/lib/liblpcert.so" | awk '$2 == "T" || $2 == "i" {print $3}' |
       sed 's/@.*//' | sort -u)
if [ "$want" != "$have" ]; then
    echo "install_example: liblpcert.so exports differ from the public headers' functions:" >&2
    diff <(echo "$want") <(echo "$have") >&2 || true
    exit 1
fi
echo "== liblpcert.so exports the $(echo "$want" | wc -l) functions of the public headers, nothing else"

echo "== pkg-config: $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs lpcert)"
mkdir "$tmp/pc"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -s -C "$tmp/pc" -f "$src/examples/user_test/Makefile" \
    CC="$cc" CFLAGS="-O2 -std=c11 -Wall -Wextra -Werror $flags" LDFLAGS="$flags"
"$tmp/pc/user_test"

echo "== find_package"
cmake -S "$src/examples/user_test" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror $flags" \
      -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$tmp/cm.log" || { cat "$tmp/cm.log"; exit 1; }
cmake --build "$tmp/cm" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/cm/user_test"
"$tmp/cm/user_test_static" >/dev/null
echo "install_example: ok"
