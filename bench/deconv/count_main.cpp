// deconv_count: runs one transposed convolution through the megforge C API between two
// instruction-count markers (bench/deconv/qemu_count.c), for counting under qemu-aarch64.
//
//   deconv_count <nchw|nc4hw4> n cin cout h w kh kw stride pad dilation groups output_padding
//
// The plan (weight packing) and one warm-up run happen before the first marker, so the region
// holds exactly one mgf_deconv_plan_execute on a tensor already in the path's own layout.
// Prints the loop nest name and the MAC count (N*H*W*C_in*C_out/groups*KH*KW).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "megforge/deconv.h"

extern "C" __attribute__((noinline)) void mgf_count_begin(void) { __asm__ volatile("hint #0x70" ::: "memory"); }
extern "C" __attribute__((noinline)) void mgf_count_end(void) { __asm__ volatile("hint #0x71" ::: "memory"); }

int main(int argc, char** argv) {
  if (argc != 14) {
    std::fprintf(stderr, "usage: %s <nchw|nc4hw4> n cin cout h w kh kw stride pad dilation groups output_padding\n",
                 argv[0]);
    return 2;
  }
  const bool nc4 = std::strcmp(argv[1], "nc4hw4") == 0;
  int v[12];
  for (int i = 0; i < 12; ++i) v[i] = std::atoi(argv[i + 2]);
  const int n = v[0], h = v[3], w = v[4];
  mgf_deconv_desc d{};
  d.in_channels = v[1];
  d.out_channels = v[2];
  d.kernel_h = v[5];
  d.kernel_w = v[6];
  d.stride_h = d.stride_w = v[7];
  d.pad_h = d.pad_w = v[8];
  d.dilation_h = d.dilation_w = v[9];
  d.groups = v[10];
  d.output_padding_h = d.output_padding_w = v[11];
  int32_t oh = 0, ow = 0;
  if (mgf_deconv_output_size(&d, h, w, &oh, &ow) != MGF_OK) {
    std::fprintf(stderr, "bad shape: %s\n", mgf_last_error());
    return 2;
  }
  const int layout = nc4 ? MGF_LAYOUT_NC4HW4 : MGF_LAYOUT_NCHW;
  const size_t cin = nc4 ? size_t((d.in_channels + 3) / 4 * 4) : size_t(d.in_channels);
  const size_t cout = nc4 ? size_t((d.out_channels + 3) / 4 * 4) : size_t(d.out_channels);
  std::vector<float> x(size_t(n) * cin * h * w), y(size_t(n) * cout * oh * ow);
  std::vector<float> wt(size_t(d.in_channels) * (d.out_channels / d.groups) * d.kernel_h * d.kernel_w);
  std::vector<float> bias(size_t(d.out_channels));
  unsigned state = 12345;
  auto next = [&] { state = state * 1664525u + 1013904223u; return float(state >> 8) / float(1 << 24) - 0.5f; };
  for (auto* vec : {&x, &wt, &bias})
    for (float& f : *vec) f = next();
  mgf_set_num_threads(1);
  mgf_deconv_plan* plan = nullptr;
  if (mgf_deconv_plan_create(&d, wt.data(), bias.data(), layout, nc4 ? MGF_ALGO_NC4HW4 : MGF_ALGO_NCHW, &plan) !=
      MGF_OK) {
    std::fprintf(stderr, "plan: %s\n", mgf_last_error());
    return 1;
  }
  if (mgf_deconv_plan_execute(plan, x.data(), n, h, w, y.data()) != MGF_OK) return 1;  // warm-up
  mgf_count_begin();
  const int rc = mgf_deconv_plan_execute(plan, x.data(), n, h, w, y.data());
  mgf_count_end();
  if (rc != MGF_OK) return 1;
  const double macs = double(n) * h * w * d.in_channels * (d.out_channels / d.groups) * d.kernel_h * d.kernel_w;
  std::printf("kernel %s macs %.0f checksum %.6g\n", mgf_deconv_plan_kernel_name(plan, h, w), macs, double(y[y.size() / 3]));
  mgf_deconv_plan_free(plan);
  return 0;
}
