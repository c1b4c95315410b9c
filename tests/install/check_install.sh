#!/usr/bin/env bash
# Checks what `cmake --install` puts under a prefix (run by ctest as
# Install.TreeToolsAndPackageConfig; no container engine needed):
#   1. every tool of tools/ is in PREFIX/bin, runs from there (--version) and
#      finds every shared library it needs;
#   2. each library it links directly comes from a Debian package in the
#      Dockerfile's RUNTIME_PACKAGES, so the image's runtime stage can run them;
#   3. a separate CMake project finds the core library with
#      find_package(sp_toolkit), builds against the installed headers, and its
#      GPT-2 ids and dataset counts come out right.
#   check_install.sh BUILD_DIR SOURCE_DIR   (SP_GPT2_DIR: the GPT-2 vocab directory)
set -euo pipefail
build=$1
src=$2
: "${SP_GPT2_DIR:?SP_GPT2_DIR must name the GPT-2 vocab directory}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >/dev/null
for header in "$src"/include/sp/*.h; do
  [ -f "$work/prefix/include/sp/$(basename "$header")" ] || fail "header $(basename "$header") not installed"
done
[ -f "$work/prefix/lib/cmake/sp_toolkit/sp_toolkitConfig.cmake" ] || fail "no package config installed"
for script in slimpajama.sh submit.sh; do
  [ -x "$work/prefix/share/sp_toolkit/$script" ] || fail "share/sp_toolkit/$script not installed (scripts/bcp/submit.sh names it)"
done

runtime=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$src/Dockerfile")
[ -n "$runtime" ] || fail "no ARG RUNTIME_PACKAGES=\"...\" line in $src/Dockerfile"
tools=0
uses=()  # "tool lib" for each library a tool links directly (ELF NEEDED); theirs come with their packages' dependencies
for source in "$src"/tools/*.cc; do
  tool=$(basename "$source" .cc)
  bin="$work/prefix/bin/$tool"
  [ -x "$bin" ] || fail "$tool not installed in bin/"
  "$bin" --version | grep -q "^$tool " || fail "$tool --version from the installed tree failed"
  if ldd "$bin" | grep -q "not found"; then fail "$tool: $(ldd "$bin" | grep "not found")"; fi
  resolved=$(ldd "$bin")
  for soname in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    lib=$(awk -v so="$soname" '$1 == so && $3 ~ /^\// {print $3}' <<<"$resolved")
    [ -n "$lib" ] || fail "$tool needs $soname, which ldd does not resolve"
    uses+=("$tool $lib")
  done
  tools=$((tools + 1))
done
[ "$tools" -ge 4 ] || fail "only $tools tools found"

# Which package owns each library: one dpkg -S for them all (it takes ~1 s a
# call). Merged /usr: dpkg knows a library under one of /lib and /usr/lib, as
# its package listed it, so each library is asked under all its spellings.
declare -A package_of=() real_of=()
for use in "${uses[@]}"; do real_of[${use#* }]=$(realpath "${use#* }"); done
paths=()
for lib in "${!real_of[@]}"; do paths+=("$lib" "${real_of[$lib]}" "${real_of[$lib]#/usr}"); done
while IFS= read -r line; do
  case $line in diversion*) continue ;; esac
  path=${line##*: } package=${line%%: *}
  package_of[$path]=${package%%:*}
done < <(dpkg -S $(printf '%s\n' "${paths[@]}" | sort -u) 2>/dev/null || true)
for use in "${uses[@]}"; do
  tool=${use%% *} lib=${use#* } real=${real_of[${use#* }]}
  package=${package_of[$lib]:-${package_of[$real]:-${package_of[${real#/usr}]:-}}}
  [ -n "$package" ] || fail "$tool needs $lib, which no Debian package owns"
  case " $runtime " in
    *" $package "*) ;;
    *) fail "$tool needs $lib from package $package, missing from the Dockerfile's RUNTIME_PACKAGES" ;;
  esac
done

cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null || fail "find_package(sp_toolkit) failed"
cmake --build "$work/consumer" >/dev/null || fail "the consumer project did not build"
out=$("$work/consumer/consumer" "$SP_GPT2_DIR" "$work/ds")
expected=$'15496 995 \ndocuments 1 sequences 1'
[ "$out" = "$expected" ] || fail "consumer printed '$out', expected '$expected'"
[ "$(stat -c %s "$work/ds.bin")" = 4 ] || fail "consumer's dataset .bin is not 2 uint16 tokens"
echo "check_install: $tools tools, headers, package config and a consumer build: ok"
