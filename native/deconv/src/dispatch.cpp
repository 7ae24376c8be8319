// Run-time choice of the kernel variant. CMake compiles src/neon/ once per ISA and defines
// MGF_HAVE_ISA_<name> for each variant it built (arm64: neon; x86: sse2 + avx2).
#include <cstdlib>
#include <cstring>

#include "kernels.h"

namespace megforge::deconv {

#define MGF_DECLARE_ISA(name) \
  namespace name {            \
  const KernelTable& table(); \
  }
#ifdef MGF_HAVE_ISA_neon
MGF_DECLARE_ISA(neon)
#endif
#ifdef MGF_HAVE_ISA_sse2
MGF_DECLARE_ISA(sse2)
#endif
#ifdef MGF_HAVE_ISA_avx2
MGF_DECLARE_ISA(avx2)
#endif
#undef MGF_DECLARE_ISA

namespace {

struct Variant {
  const KernelTable* (*get)();
  bool (*cpu_has)();
};

bool always() { return true; }
#if defined(MGF_HAVE_ISA_avx2) && (defined(__GNUC__) || defined(__clang__))
bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

// Best first.
const Variant kVariants[] = {
#ifdef MGF_HAVE_ISA_avx2
    {[] { return &avx2::table(); }, cpu_has_avx2_fma},
#endif
#ifdef MGF_HAVE_ISA_sse2
    {[] { return &sse2::table(); }, always},
#endif
#ifdef MGF_HAVE_ISA_neon
    {[] { return &neon::table(); }, always},
#endif
};

const KernelTable* choose() {
  const char* forced = std::getenv("MGF_DECONV_ISA");
  const KernelTable* best = nullptr;
  for (const Variant& v : kVariants) {
    if (!v.cpu_has()) continue;
    const KernelTable* t = v.get();
    if (!best) best = t;
    if (forced && std::strcmp(forced, t->isa) == 0) return t;
  }
  return best;
}

}  // namespace

const KernelTable& kernel_table() {
  static const KernelTable* const table = choose();
  return *table;
}

}  // namespace megforge::deconv
