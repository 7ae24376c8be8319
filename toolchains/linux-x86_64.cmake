# linux-x86_64: the host gcc. Kept explicit so every target is built through a toolchain file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER gcc CACHE FILEPATH "")
set(CMAKE_CXX_COMPILER g++ CACHE FILEPATH "")
