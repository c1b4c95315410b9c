# Cross build for aarch64 Linux (BCP's Grace nodes) with Debian's
# g++-aarch64-linux-gnu against the arm64 multiarch packages
# (/usr/lib/aarch64-linux-gnu, headers shared in /usr/include), with test
# binaries run under qemu-aarch64. scripts/cross_aarch64.sh installs all of it.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# SP_AARCH64_DEPS: an extra prefix holding arm64 -dev packages unpacked rather
# than installed (scripts/cross_aarch64.sh puts the ones that cannot sit
# beside their amd64 copies there).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# qemu-user runs the aarch64 test binaries (gtest discovery at build time and
# ctest); the arm64 loader and libraries are the multiarch ones in /lib and
# /usr/lib/aarch64-linux-gnu, which the host's ld.so.cache lists.
find_program(SP_QEMU_AARCH64 qemu-aarch64 REQUIRED)
# -cpu max: every extension qemu emulates (SVE and SVE2 too), so each SIMD target of the build runs.
set(CMAKE_CROSSCOMPILING_EMULATOR ${SP_QEMU_AARCH64} -cpu max)

# Packages come from the aarch64 multiarch directories (and SP_AARCH64_DEPS),
# programs from the host.
set(SP_AARCH64_DEPS "" CACHE PATH "Prefix of arm64 -dev packages unpacked outside /usr")
set(CMAKE_FIND_ROOT_PATH / ${SP_AARCH64_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config: the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
if(SP_AARCH64_DEPS)
  set(ENV{PKG_CONFIG_PATH} "${SP_AARCH64_DEPS}/usr/lib/aarch64-linux-gnu/pkgconfig")
endif()
