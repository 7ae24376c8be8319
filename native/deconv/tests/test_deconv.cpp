// Kernels vs the float64 gather-form oracle over a seeded grid of random shapes, both layouts,
// every algorithm this build has; relayout round trips. Failures print every parameter.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "check.h"
#include "deconv_reference.h"
#include "megforge/deconv.h"

namespace {

std::set<std::string> g_kernels_seen;  // loop nests the grid exercised

std::string describe(const mgf_deconv_desc& d, int32_t n, int32_t h, int32_t w, int layout, int algo, bool bias) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "n=%d cin=%d cout=%d h=%d w=%d k=%dx%d s=%dx%d p=%dx%d d=%dx%d op=%dx%d g=%d layout=%d algo=%d bias=%d",
                n, d.in_channels, d.out_channels, h, w, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.pad_h,
                d.pad_w, d.dilation_h, d.dilation_w, d.output_padding_h, d.output_padding_w, d.groups, layout, algo,
                int(bias));
  return buf;
}

std::vector<float> random_vector(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// max |got - expect| / max |expect|; infinite if any output is not finite. (Kept out of line: gcc 12's aarch64 vectoriser ICEs on
// an inlined fmax reduction here.)
#if defined(__GNUC__) && !defined(__clang__)
#define MGF_NO_VECTORIZE __attribute__((noinline, optimize("no-tree-vectorize")))
#else
#define MGF_NO_VECTORIZE __attribute__((noinline))
#endif
MGF_NO_VECTORIZE double max_relative_error(
    const std::vector<float>& got, const std::vector<double>& expect) {
  double scale = 1e-30, worst = 0;
  for (double e : expect) scale = std::fmax(scale, std::fabs(e));
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;  // (fmax would skip a NaN, e.g. an output never written)
    worst = std::fmax(worst, std::fabs(got[i] - expect[i]));
  }
  return worst / scale;
}

// Runs one case through a plan and compares with the oracle (relative to the output's max magnitude).
void check_case(const mgf_deconv_desc& d, int32_t n, int32_t h, int32_t w, int layout, int algo, bool with_bias,
                std::mt19937& rng) {
  const std::string what = describe(d, n, h, w, layout, algo, with_bias);
  int32_t oh = 0, ow = 0;
  if (mgf_deconv_output_size(&d, h, w, &oh, &ow) != MGF_OK) {
    CHECK(false, "output_size failed: %s (%s)", mgf_last_error(), what.c_str());
    return;
  }
  const auto x = random_vector(rng, size_t(n) * d.in_channels * h * w);
  const auto weight = random_vector(rng, size_t(d.in_channels) * (d.out_channels / d.groups) * d.kernel_h * d.kernel_w);
  const auto bias = random_vector(rng, size_t(d.out_channels));
  const auto expect = megforge::test::deconv_reference(d, x, n, h, w, weight, with_bias ? bias.data() : nullptr, oh, ow);

  mgf_deconv_plan* plan = nullptr;
  int rc = mgf_deconv_plan_create(&d, weight.data(), with_bias ? bias.data() : nullptr, layout, algo, &plan);
  if (rc == MGF_ERR_UNSUPPORTED) {
    mgf_deconv_plan_free(plan);
    return;  // this build lacks the algorithm; AUTO and NAIVE always exist
  }
  CHECK(rc == MGF_OK && plan, "plan_create: %s (%s)", mgf_last_error(), what.c_str());
  if (rc != MGF_OK) return;
  CHECK(algo == MGF_ALGO_AUTO || mgf_deconv_plan_algo(plan) == algo, "plan runs algo %d (%s)", mgf_deconv_plan_algo(plan),
        what.c_str());
  g_kernels_seen.insert(mgf_deconv_plan_kernel_name(plan, h, w));

  const int32_t cb_in = (d.in_channels + 3) / 4, cb_out = (d.out_channels + 3) / 4;
  std::vector<float> src = x, got(size_t(n) * d.out_channels * oh * ow);
  std::vector<float> dst(layout == MGF_LAYOUT_NC4HW4 ? size_t(n) * cb_out * 4 * oh * ow : got.size(), NAN);
  if (layout == MGF_LAYOUT_NC4HW4) {
    src.assign(size_t(n) * cb_in * 4 * h * w, NAN);
    CHECK(mgf_nchw_to_nc4hw4(x.data(), n, d.in_channels, h, w, src.data()) == MGF_OK, "relayout in");
    // Padding lanes of an NC4HW4 input are "ignored": garbage there must not reach the output.
    for (size_t i = 0; i < src.size(); ++i)
      if ((i / (4 * size_t(h) * w)) % size_t(cb_in) * 4 + i % 4 >= size_t(d.in_channels)) src[i] = NAN;
  }
  rc = mgf_deconv_plan_execute(plan, src.data(), n, h, w, dst.data());
  CHECK(rc == MGF_OK, "execute: %s (%s)", mgf_last_error(), what.c_str());
  if (layout == MGF_LAYOUT_NC4HW4) {
    CHECK(mgf_nc4hw4_to_nchw(dst.data(), n, d.out_channels, oh, ow, got.data()) == MGF_OK, "relayout out");
    // padding lanes must be exact zeros
    for (size_t i = 0; i < dst.size(); ++i) {
      const size_t lane = i % 4, cb = (i / (4 * size_t(oh) * ow)) % size_t(cb_out);
      if (cb * 4 + lane >= size_t(d.out_channels) && dst[i] != 0.f) {
        CHECK(false, "padding lane %zu not zero (%s)", i, what.c_str());
        break;
      }
    }
  } else {
    got = dst;
  }
  const double worst = max_relative_error(got, expect);
  CHECK(worst <= 1e-5, "max relative error %.3g > 1e-5 (%s)", worst, what.c_str());
  mgf_deconv_plan_free(plan);
}

void test_random_grid() {
  std::mt19937 rng(20221);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  int cases = 0;
  for (int i = 0; i < 120; ++i) {
    mgf_deconv_desc d{};
    const bool depthwise = i % 5 == 0;
    d.groups = depthwise ? 1 + pick(rng) % 8 : (i % 3 == 0 ? 2 : 1);
    d.in_channels = d.groups * (depthwise ? 1 : 1 + pick(rng) % 9);
    d.out_channels = d.groups * (depthwise ? 1 : 1 + pick(rng) % 9);
    d.kernel_h = 1 + pick(rng) % 5;
    d.kernel_w = i % 4 == 0 ? d.kernel_h : 1 + pick(rng) % 5;
    d.stride_h = 1 + pick(rng) % 3;
    d.stride_w = i % 2 ? d.stride_h : 1 + pick(rng) % 3;
    d.dilation_h = 1 + (i % 7 == 0);
    d.dilation_w = 1 + (i % 11 == 0);
    d.pad_h = pick(rng) % d.kernel_h;
    d.pad_w = pick(rng) % d.kernel_w;
    d.output_padding_h = pick(rng) % std::max(d.stride_h, d.dilation_h);
    d.output_padding_w = pick(rng) % std::max(d.stride_w, d.dilation_w);
    const int32_t n = 1 + i % 2, h = 1 + pick(rng) % 9, w = 1 + pick(rng) % 9;
    int32_t oh, ow;
    if (mgf_deconv_output_size(&d, h, w, &oh, &ow) != MGF_OK) continue;  // output too small: covered elsewhere
    for (int layout : {MGF_LAYOUT_NCHW, MGF_LAYOUT_NC4HW4})
      for (int algo : {MGF_ALGO_AUTO, MGF_ALGO_NAIVE, MGF_ALGO_NCHW, MGF_ALGO_NC4HW4}) {
        check_case(d, n, h, w, layout, algo, i % 2 == 0, rng);
        ++cases;
      }
  }
  CHECK(cases > 500, "too few cases ran: %d", cases);
}

// Realistic channel counts (full 8-pixel x 8-channel tiles, several input blocks), the small-input
// shapes that make the NC4HW4 plan take its GEMM + col2im loop nest, and depthwise.
void test_named_shapes() {
  std::mt19937 rng(99);
  struct Shape {
    int32_t cin, cout, h, w, k, s, p, d, g, op;
  };
  const Shape shapes[] = {
      {32, 32, 9, 11, 4, 2, 1, 1, 1, 0},  {48, 40, 7, 7, 3, 2, 1, 1, 1, 1}, {16, 24, 10, 9, 3, 1, 1, 2, 1, 0},
      {24, 16, 8, 8, 5, 2, 2, 1, 1, 1},   {40, 40, 12, 10, 2, 2, 0, 1, 1, 0}, {32, 16, 1, 1, 4, 1, 0, 1, 1, 0},
      {20, 12, 2, 3, 5, 1, 0, 1, 1, 0},   {32, 32, 16, 12, 4, 2, 1, 1, 32, 0}, {12, 12, 9, 13, 3, 1, 1, 1, 12, 0},
      {36, 36, 6, 6, 3, 2, 1, 1, 36, 1},  {32, 64, 6, 7, 3, 2, 1, 1, 4, 1},  {24, 24, 8, 8, 4, 2, 1, 2, 3, 0},
  };
  for (const Shape& sh : shapes) {
    mgf_deconv_desc d{sh.cin, sh.cout, sh.k, sh.k, sh.s, sh.s, sh.p, sh.p, sh.d, sh.d, sh.op, sh.op, sh.g};
    for (int algo : {MGF_ALGO_NCHW, MGF_ALGO_NC4HW4})
      check_case(d, 2, sh.h, sh.w, algo == MGF_ALGO_NCHW ? MGF_LAYOUT_NCHW : MGF_LAYOUT_NC4HW4, algo, true, rng);
  }
  for (const char* name : {"nc4hw4-direct-phase", "nc4hw4-gemm-col2im", "nc4hw4-depthwise-phase", "nchw-gemm-col2im",
                           "naive-scatter"})
    CHECK(g_kernels_seen.count(name), "loop nest %s never ran", name);
}

// Depthwise NC4HW4 plane kernels (dw_plane) over every (k, s) they cover, every padding and
// output padding, widths 1..20 (edge tiles on one side, both sides, none; tiles of every width)
// and 28, 42 (with 14, the rows cut into equal 14-wide tiles for k3s1 / k4s2, whose left-edge k3s1
// tile reads one input column of its neighbour; 21 is not such a row),
// a partial channel block, with and without bias; plus geometries they do not cover.
void test_depthwise_planes() {
  std::mt19937 rng(4242);
  const int ks[][2] = {{2, 2}, {3, 1}, {3, 2}, {4, 2}, {5, 1}, {5, 2}};
  int cases = 0;
  for (const auto& kv : ks) {
    const int k = kv[0], s = kv[1];
    for (int p = 0; p < k; ++p)
      for (int op = 0; op < s; ++op)
        for (int w : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 28, 42}) {
          const int c = (w % 3 == 0) ? 6 : 8, h = 1 + (w * 7 + p) % 6;
          mgf_deconv_desc d{c, c, k, k, s, s, p, p, 1, 1, op, op, c};
          int32_t oh, ow;
          if (mgf_deconv_output_size(&d, h, w, &oh, &ow) != MGF_OK) continue;
          check_case(d, 1 + w % 2, h, w, MGF_LAYOUT_NC4HW4, MGF_ALGO_NC4HW4, (w + p) % 2 == 0, rng);
          ++cases;
        }
  }
  // Not covered by dw_plane: dilation 2, non-square kernel, stride 3.
  const mgf_deconv_desc others[] = {{8, 8, 3, 3, 2, 2, 1, 1, 2, 2, 1, 1, 8},
                                    {8, 8, 3, 4, 2, 2, 1, 1, 1, 1, 0, 0, 8},
                                    {8, 8, 4, 4, 3, 3, 1, 1, 1, 1, 2, 2, 8}};
  for (const auto& d : others)
    for (int w : {1, 5, 17}) check_case(d, 2, 4, w, MGF_LAYOUT_NC4HW4, MGF_ALGO_NC4HW4, true, rng), ++cases;
  CHECK(cases > 400, "too few depthwise plane cases ran: %d", cases);
}

// An infinite weight must reach only the outputs its tap reaches: every other output of a
// depthwise NC4HW4 plan stays finite and correct (the plane kernels multiply weights by zero
// rows, so such plans take another loop nest).
void test_depthwise_nonfinite_weight() {
  std::mt19937 rng(77);
  const mgf_deconv_desc d{8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 8};
  const int32_t n = 1, h = 6, w = 10, oh = 6, ow = 10;
  const std::string what = describe(d, n, h, w, MGF_LAYOUT_NC4HW4, MGF_ALGO_NC4HW4, false) + " weight[c=3][ky=2][kx=1]=inf";
  const auto x = random_vector(rng, size_t(n) * 8 * h * w);
  auto weight = random_vector(rng, size_t(8) * 9);
  weight[3 * 9 + 2 * 3 + 1] = INFINITY;
  const auto expect = megforge::test::deconv_reference(d, x, n, h, w, weight, nullptr, oh, ow);
  mgf_deconv_plan* plan = nullptr;
  CHECK(mgf_deconv_plan_create(&d, weight.data(), nullptr, MGF_LAYOUT_NC4HW4, MGF_ALGO_NC4HW4, &plan) == MGF_OK,
        "plan_create: %s (%s)", mgf_last_error(), what.c_str());
  if (!plan) return;
  std::vector<float> src(x.size()), dst(x.size()), got(x.size());
  mgf_nchw_to_nc4hw4(x.data(), n, 8, h, w, src.data());
  CHECK(mgf_deconv_plan_execute(plan, src.data(), n, h, w, dst.data()) == MGF_OK, "execute (%s)", what.c_str());
  mgf_nc4hw4_to_nchw(dst.data(), n, 8, oh, ow, got.data());
  int wrong = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool finite = std::isfinite(expect[i]);
    if (finite != bool(std::isfinite(got[i])) || (finite && std::fabs(got[i] - expect[i]) > 1e-4)) ++wrong;
  }
  CHECK(wrong == 0, "%d outputs differ from the reference in value or finiteness (%s)", wrong, what.c_str());
  mgf_deconv_plan_free(plan);
}

void test_threads_agree() {
  std::mt19937 rng(7);
  mgf_deconv_desc d{8, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1};
  const mgf_deconv_desc dw{10, 10, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 10};  // depthwise planes, partial last block
  for (int threads : {1, 3}) {
    CHECK(mgf_set_num_threads(threads) == MGF_OK, "set_num_threads(%d)", threads);
    CHECK(mgf_get_num_threads() == threads, "get_num_threads");
    for (int algo : {MGF_ALGO_NAIVE, MGF_ALGO_NCHW, MGF_ALGO_NC4HW4})
      for (int layout : {MGF_LAYOUT_NCHW, MGF_LAYOUT_NC4HW4}) check_case(d, 3, 10, 7, layout, algo, true, rng);
    check_case(dw, 3, 9, 13, MGF_LAYOUT_NC4HW4, MGF_ALGO_NC4HW4, true, rng);
  }
  CHECK(mgf_set_num_threads(-1) == MGF_ERR_INVALID_ARGUMENT, "negative thread count accepted");
  CHECK(mgf_set_num_threads(1) == MGF_OK, "reset threads");
}

void test_relayout_round_trip() {
  std::mt19937 rng(3);
  for (int c : {1, 3, 4, 5, 8, 13}) {
    const int n = 2, h = 3, w = 5;
    const auto x = random_vector(rng, size_t(n) * c * h * w);
    std::vector<float> packed(size_t(n) * ((c + 3) / 4) * 4 * h * w, NAN), back(x.size(), NAN);
    CHECK(mgf_nchw_to_nc4hw4(x.data(), n, c, h, w, packed.data()) == MGF_OK, "to nc4hw4 c=%d", c);
    CHECK(mgf_nc4hw4_to_nchw(packed.data(), n, c, h, w, back.data()) == MGF_OK, "to nchw c=%d", c);
    CHECK(back == x, "round trip differs for c=%d", c);
    // spot-check the layout: element (1, c-1, 2, 4)
    const int b = 1, ch = c - 1, y = 2, xx = 4;
    const float want = x[((size_t(b) * c + ch) * h + y) * w + xx];
    const float have = packed[((size_t(b) * ((c + 3) / 4) + ch / 4) * h * w + size_t(y) * w + xx) * 4 + ch % 4];
    CHECK(want == have, "nc4hw4 index formula broken for c=%d", c);
  }
}

}  // namespace

int main() {
  test_random_grid();
  test_named_shapes();
  test_depthwise_planes();
  test_depthwise_nonfinite_weight();
  test_threads_agree();
  test_relayout_round_trip();
  if (check_report()) return 1;
  std::printf("test_deconv (%s kernels): all passed\n", mgf_deconv_isa());
  return 0;
}
