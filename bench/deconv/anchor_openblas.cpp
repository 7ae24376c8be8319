// deconv_anchor: the aarch64 reference point for the NCHW baseline. One NCHW transposed
// convolution made of Debian's arm64 OpenBLAS cblas_sgemm (col = W^T x, per image and group;
// OpenBLAS packs both operands itself) + bias fill + the same col2im megforge's NCHW path uses,
// run between the instruction-count markers (same arguments as deconv_count).
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels.h"
#include "megforge/deconv.h"

namespace megforge::deconv::anchor {
void col2im_nchw(const Col2imArgs& a);
}

extern "C" __attribute__((noinline)) void mgf_count_begin(void) { __asm__ volatile("hint #0x70" ::: "memory"); }
extern "C" __attribute__((noinline)) void mgf_count_end(void) { __asm__ volatile("hint #0x71" ::: "memory"); }

int main(int argc, char** argv) {
  if (argc != 14) return 2;
  int v[12];
  for (int i = 0; i < 12; ++i) v[i] = std::atoi(argv[i + 2]);
  const int n = v[0], ci = v[1], co = v[2], h = v[3], w = v[4], kh = v[5], kw = v[6], s = v[7], p = v[8], d = v[9],
            g = v[10], op = v[11];
  const int oh = (h - 1) * s - 2 * p + d * (kh - 1) + op + 1, ow = (w - 1) * s - 2 * p + d * (kw - 1) + op + 1;
  const int icg = ci / g, ocg = co / g, m = ocg * kh * kw, hw = h * w;
  std::vector<float> x(size_t(n) * ci * hw), wt(size_t(ci) * m), bias(co), y(size_t(n) * co * oh * ow), col(size_t(m) * hw);
  unsigned state = 12345;
  for (auto* vec : {&x, &wt, &bias})
    for (float& f : *vec) f = float((state = state * 1664525u + 1013904223u) >> 8) / float(1 << 24) - 0.5f;
  openblas_set_num_threads(1);
  auto run = [&] {
    for (int b = 0; b < n; ++b)
      for (int grp = 0; grp < g; ++grp) {
        float* out = y.data() + (size_t(b) * co + size_t(grp) * ocg) * oh * ow;
        for (int oc = 0; oc < ocg; ++oc)
          for (int i = 0; i < oh * ow; ++i) out[size_t(oc) * oh * ow + i] = bias[grp * ocg + oc];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, hw, icg, 1.f, wt.data() + size_t(grp) * icg * m, m,
                    x.data() + (size_t(b) * ci + size_t(grp) * icg) * hw, hw, 0.f, col.data(), hw);
        megforge::deconv::Col2imArgs c{col.data(), hw, 0, ocg, out, 0, h, h, w, oh, ow, kh, kw, s, s, p, p, d, d};
        megforge::deconv::anchor::col2im_nchw(c);
      }
  };
  run();  // warm-up: lazy binding, OpenBLAS buffers
  mgf_count_begin();
  run();
  mgf_count_end();
  const double macs = double(n) * hw * ci * ocg * kh * kw;
  std::printf("kernel openblas-sgemm-col2im macs %.0f checksum %.6g\n", macs, double(y[y.size() / 3]));
  return 0;
}
