# Target ISA detection and the per-target compile options every megforge library gets.

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64|armv8.*)$" OR CMAKE_OSX_ARCHITECTURES STREQUAL "arm64")
  set(MEGFORGE_TARGET_ARM ON)
else()
  set(MEGFORGE_TARGET_ARM OFF)
endif()

# megforge_setup_target(<target>): warnings, reproducibility, sanitizers.
function(megforge_setup_target target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Wall -Wextra -Wno-unused-parameter>
    # Reproducible objects: no build paths in the binary.
    $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-ffile-prefix-map=${PROJECT_SOURCE_DIR}=native -ffile-prefix-map=${PROJECT_BINARY_DIR}=build>)
  if(MEGFORGE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(APPLE)
    # No debug stabs in linked images: their N_OSO entries carry object-file mtimes, which
    # makes two builds of one commit differ.
    get_target_property(_type ${target} TYPE)
    if(_type MATCHES "SHARED_LIBRARY|MODULE_LIBRARY|EXECUTABLE")
      target_link_options(${target} PRIVATE "LINKER:-S")
    endif()
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "@loader_path")
  else()
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
endfunction()

# megforge_add_test(<name> SOURCES ... LIBS ...): a ctest executable. Cross builds run it through
# CMAKE_CROSSCOMPILING_EMULATOR (qemu-aarch64 for linux-aarch64), set by the toolchain file.
function(megforge_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  megforge_setup_target(${name})
  add_test(NAME ${name} COMMAND ${name})
endfunction()
