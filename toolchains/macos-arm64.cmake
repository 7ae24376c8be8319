# macos-arm64, deployment target 11.0. On a Mac: AppleClang. On Linux: zig's clang from PyPI
# (pip install ziglang) through the wrappers in bin/, plus llvm-14 tools for install names.
set(CMAKE_SYSTEM_NAME Darwin)
set(CMAKE_SYSTEM_PROCESSOR arm64)
set(CMAKE_OSX_ARCHITECTURES arm64 CACHE STRING "")
set(CMAKE_OSX_DEPLOYMENT_TARGET 11.0 CACHE STRING "")
if(CMAKE_HOST_APPLE)
  return()
endif()
get_filename_component(_megforge_bin "${CMAKE_CURRENT_LIST_DIR}/bin" ABSOLUTE)
set(CMAKE_C_COMPILER "${_megforge_bin}/zig-cc" CACHE FILEPATH "")
set(CMAKE_CXX_COMPILER "${_megforge_bin}/zig-c++" CACHE FILEPATH "")
set(CMAKE_AR "${_megforge_bin}/zig-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${_megforge_bin}/zig-ranlib" CACHE FILEPATH "")
set(CMAKE_INSTALL_NAME_TOOL llvm-install-name-tool-14 CACHE FILEPATH "")
# zig brings its own libc++ and macOS stubs: no SDK, no sysroot lookups.
set(CMAKE_OSX_SYSROOT "" CACHE PATH "")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# CMake's Darwin platform files call sw_vers; bin/sw_vers answers 11.0 on Linux hosts.
set(ENV{PATH} "${_megforge_bin}:$ENV{PATH}")
