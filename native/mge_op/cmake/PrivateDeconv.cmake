# cmake -P script: the static megforge_deconv library plus its own private copy of libstdc++,
# partially linked (ld -r) into one object whose only global definitions are the mgf_* C API.
#
# Why: the op library ships in MegEngine's manylinux2014 wheel (glibc 2.17, GLIBCXX 3.4.19),
# while the deconv code, built by the host gcc with the default libstdc++ ABI, needs newer
# libstdc++ (std::__cxx11::string, the GCC 5 std::thread). Its private libstdc++ copy is
# invisible outside this object, so the op code (old ABI, sharing the process's libstdc++ with
# libmegengine_shared.so) never binds to it, and no C++ object crosses between the two: they
# meet only at the C API of megforge/deconv.h.
#
# Inputs (-D): CXX, NM, OBJCOPY, ARCHIVE (libmegforge_deconv.a), STDCXX (libstdc++.a), OUT.
foreach(var CXX NM OBJCOPY ARCHIVE STDCXX OUT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "PrivateDeconv.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "PrivateDeconv.cmake: `${cmd}` failed (${rc}):\n${out}${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# Names of the symbols of `object` whose nm type letter matches `types` (a regex class).
function(symbols object types result)
  run("${NM}" --format=posix "${object}")
  string(REPLACE "\n" ";" lines "${run_output}")
  set(names "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([^ ]+) (${types})( |$)")
      list(APPEND names "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${result} "${names}" PARENT_SCOPE)
endfunction()

get_filename_component(dir "${OUT}" DIRECTORY)
set(step "${dir}/megforge_deconv_private")
# Section groups (COMDAT) become plain sections: otherwise the final link would discard this
# object's copy of an inline function in favour of the op code's old-ABI one.
set(relocatable "${CXX}" -r -nostdlib "-Wl,--force-group-allocation")

# 1. All of the deconv library.
run(${relocatable} -o "${step}.1.o" -Wl,--whole-archive "${ARCHIVE}" -Wl,--no-whole-archive)
# __cxa_thread_atexit (thread_local destructors) comes from the shared libstdc++ (CXXABI_1.3.7,
# with its own fallback on glibc < 2.18), not from the static copy, whose version needs
# glibc 2.18's __cxa_thread_atexit_impl.
run("${OBJCOPY}" --redefine-sym __cxa_thread_atexit=mgf_shared___cxa_thread_atexit "${step}.1.o")
# 2. The libstdc++ members it needs.
run(${relocatable} -o "${step}.2.o" "${step}.1.o" "${STDCXX}")
# 3. Everything but the C API becomes local. objcopy cannot localize STB_GNU_UNIQUE symbols
#    (e.g. the COW string's empty representation), so they are made weak first.
symbols("${step}.2.o" "u" unique)
set(weaken "")
foreach(name IN LISTS unique)
  list(APPEND weaken "--weaken-symbol=${name}")
endforeach()
if(weaken)
  run("${OBJCOPY}" ${weaken} "${step}.2.o")
endif()
run("${OBJCOPY}" --wildcard "--keep-global-symbol=mgf_*" "${step}.2.o" "${step}.3.o")
# 4. Undefined references bound to what glibc 2.17 has (src/baseline_compat.c).
run("${OBJCOPY}"
  --redefine-sym mgf_shared___cxa_thread_atexit=__cxa_thread_atexit
  --redefine-sym pthread_create=mgf_compat_pthread_create
  --redefine-sym pthread_join=mgf_compat_pthread_join
  --redefine-sym pthread_detach=mgf_compat_pthread_detach
  --redefine-sym getentropy=mgf_compat_getentropy
  --redefine-sym arc4random=mgf_compat_arc4random
  # transactional-memory clones of new/delete: unused, and GLIBCXX_3.4.22 if bound
  --redefine-sym _ZGTtnam=mgf_unused_ZGTtnam
  --redefine-sym _ZGTtdlPv=mgf_unused_ZGTtdlPv
  "${step}.3.o" "${OUT}")

symbols("${OUT}" "[A-TV-Zu]" global)
list(FILTER global EXCLUDE REGEX "^mgf_")
if(global)
  message(FATAL_ERROR "PrivateDeconv.cmake: ${OUT} still defines global symbols besides mgf_*: ${global}")
endif()
file(REMOVE "${step}.1.o" "${step}.2.o" "${step}.3.o")
