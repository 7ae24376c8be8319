// Out-of-line libstdc++ helpers that gcc 12's headers call from code built here, defined in
// this library because the manylinux2014 libstdc++ (GLIBCXX 3.4.19) lacks them. Hidden: they
// satisfy references of this library's own (old-ABI) code and nothing else.
#include <new>

namespace std {

// GLIBCXX_3.4.29; reached from std::allocator<T>::allocate for an impossible size. It throws
// std::bad_alloc (std::bad_array_new_length derives from it but is CXXABI_1.3.8).
__attribute__((visibility("hidden"), noreturn)) void __throw_bad_array_new_length() { throw std::bad_alloc(); }

}  // namespace std
