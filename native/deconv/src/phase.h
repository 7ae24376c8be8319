// Stride-phase (sub-pixel) decomposition of one axis of a transposed convolution.
//
// Output o receives input i through kernel tap k when o = i*s - p + k*d. Write q = o + p and
// r = q mod s: only taps with (k*d) mod s == r reach o, from input i = q/s - m with
// m = (k*d - r)/s. So the outputs of one residue r (o = s*j + r - p) form an ordinary
// correlation of the input with that residue's taps: out[j] = sum_k w[k] * in[j - m_k].
// Every kernel tap belongs to exactly one residue, and every output to exactly one.
#pragma once

#include <vector>

namespace megforge::deconv {

struct AxisTaps {
  int s = 1;
  std::vector<std::vector<int>> k;  // k[r]: kernel indices of residue r (ascending)
  std::vector<std::vector<int>> m;  // m[r][t]: input offset of tap t (in = j - m)
  std::vector<int> index;           // index[k]: position of tap k in k[r]
  int m_max = 0;
  size_t max_taps = 0;

  AxisTaps(int kernel, int stride, int dilation) : s(stride), k(stride), m(stride), index(kernel) {
    for (int kk = 0; kk < kernel; ++kk) {
      const int r = (kk * dilation) % stride;
      index[kk] = int(k[r].size());
      k[r].push_back(kk);
      m[r].push_back((kk * dilation - r) / stride);
      if (m[r].back() > m_max) m_max = m[r].back();
    }
    for (auto& v : k) max_taps = v.size() > max_taps ? v.size() : max_taps;
  }
};

// Outputs of residue r along an axis of length `out`: o = s*j + r - p for j in [j_lo, j_lo + n).
struct PhaseRange {
  int j_lo = 0, n = 0;
  PhaseRange(int out, int s, int p, int r) {
    const int lo_num = p - r, hi_num = out - 1 + p - r;  // s*j >= lo_num, s*j <= hi_num
    j_lo = lo_num <= 0 ? 0 : (lo_num + s - 1) / s;
    const int j_hi = hi_num < 0 ? -1 : hi_num / s;
    n = j_hi >= j_lo ? j_hi - j_lo + 1 : 0;
  }
};

}  // namespace megforge::deconv
