// GCC >= 11 headers make every std::vector allocation reference
// std::__throw_bad_array_new_length, which libstdc++ exports only from GLIBCXX_3.4.29 (newer
// than the manylinux_2_24 baseline, GLIBCXX_3.4.22). A local definition (not exported: see
// exports.map) keeps our binaries within the baseline; it throws what libstdc++'s would.
#include <new>

#if defined(__GLIBCXX__) && defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE >= 11
namespace std {
void __throw_bad_array_new_length() { throw std::bad_array_new_length(); }
}  // namespace std
#endif
