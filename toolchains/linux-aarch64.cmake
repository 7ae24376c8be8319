# linux-aarch64 with Debian's cross gcc (apt-get install g++-aarch64-linux-gnu); tests run under
# qemu-user (apt-get install qemu-user) with the Debian aarch64 sysroot. On an aarch64 host the
# native compiler is used and tests run directly.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
if(CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  return()
endif()
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc CACHE FILEPATH "")
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++ CACHE FILEPATH "")
set(MEGFORGE_AARCH64_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "aarch64 runtime libraries for qemu")
set(CMAKE_FIND_ROOT_PATH ${MEGFORGE_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
find_program(MEGFORGE_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(MEGFORGE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MEGFORGE_QEMU_AARCH64} -L ${MEGFORGE_AARCH64_SYSROOT} CACHE STRING "")
else()  # builds still work; running a test says what to install
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/bin/no-qemu CACHE STRING "")
endif()
