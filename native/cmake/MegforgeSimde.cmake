# megforge::neon - an INTERFACE target giving NEON intrinsics on every target:
# native <arm_neon.h> on arm64, SIMDe's NEON emulation (SSE/AVX) elsewhere.
# SIMDe is looked up as a CMake package first (Conan's simde recipe), then as headers in
# SIMDE_INCLUDE_DIR, the system include path (Debian libsimde-dev) or the simde-py wheel.

add_library(megforge_neon INTERFACE)
add_library(megforge::neon ALIAS megforge_neon)

if(NOT MEGFORGE_TARGET_ARM)
  find_package(simde CONFIG QUIET)
  if(TARGET simde::simde)
    target_link_libraries(megforge_neon INTERFACE simde::simde)
  else()
    set(_simde_hints "")
    find_package(Python COMPONENTS Interpreter QUIET)
    if(Python_Interpreter_FOUND)
      execute_process(COMMAND "${Python_EXECUTABLE}" -c "import simde_py; print(simde_py.get_include())"
                      OUTPUT_VARIABLE _simde_py_dir OUTPUT_STRIP_TRAILING_WHITESPACE
                      RESULT_VARIABLE _simde_py_rc ERROR_QUIET)
      if(_simde_py_rc EQUAL 0)
        list(APPEND _simde_hints "${_simde_py_dir}")
      endif()
    endif()
    find_path(SIMDE_INCLUDE_DIR simde/arm/neon.h HINTS ${_simde_hints})
    if(NOT SIMDE_INCLUDE_DIR)
      message(FATAL_ERROR "SIMDe headers not found (needed to build NEON kernels for ${CMAKE_SYSTEM_PROCESSOR}). "
                          "Install one of: 'pip install simde-py', 'apt-get install libsimde-dev', "
                          "or 'conan create recipes/simde/all --version 0.8.2', or pass -DSIMDE_INCLUDE_DIR=...")
    endif()
    target_include_directories(megforge_neon SYSTEM INTERFACE "$<BUILD_INTERFACE:${SIMDE_INCLUDE_DIR}>")
  endif()
  target_compile_definitions(megforge_neon INTERFACE SIMDE_ENABLE_NATIVE_ALIASES)
endif()
# Link it as $<BUILD_INTERFACE:megforge::neon>: it is a build-time detail, never exported.
