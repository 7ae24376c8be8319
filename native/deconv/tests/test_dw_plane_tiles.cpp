// The column tiles the depthwise plane kernels cut an output row into (dw_plane_tile_widths, the
// cut the plan itself uses; neon/deconv_dw_plane_pack4.cpp). Every cut gives correct results
// (test_deconv checks those), so which cut runs is invisible there: this checks the choice. Rows
// of 14·n outputs for k3s1 / k4s2 take the equal 14-wide cut (the decoder and bilinear-upsampling
// rows of bench/deconv), other rows the edge / 16 / 8 / 4 / 2 / 1 cut; every cut covers its row
// exactly. Linked against the objects of one ISA variant (MGF_ISA), not the shared library.
#include <cstdio>
#include <string>
#include <vector>

#include "../src/neon/kernels_isa.h"
#include "check.h"

namespace {

namespace isa = megforge::deconv::MGF_ISA;

int output_width(int k, int s, int p, int op, int w) { return (w - 1) * s - 2 * p + k + op; }

// The cut of one row; empty where dw_plane does not take the geometry.
std::vector<int> cut(int k, int s, int p, int w, int ow) {
  std::vector<int> widths(isa::dw_plane_tile_widths(k, s, p, w, ow, nullptr, 0));
  const int n = isa::dw_plane_tile_widths(k, s, p, w, ow, widths.data(), int(widths.size()));
  CHECK(n == int(widths.size()), "k%d s%d p%d w%d: %d tiles, then %d", k, s, p, w, int(widths.size()), n);
  return widths;
}

std::string show(const std::vector<int>& widths) {
  std::string s = "{";
  for (size_t i = 0; i < widths.size(); ++i) s += (i ? "," : "") + std::to_string(widths[i]);
  return s + "}";
}

// The cuts of the benchmark's depthwise rows and their neighbours.
void test_named_rows() {
  struct Case {
    int k, s, p, w;
    std::vector<int> want;
  };
  const Case cases[] = {
      {3, 1, 1, 14, {14}},                  // one tile with both edges
      {3, 1, 1, 28, {14, 14}},              // dw-dec 128 28x28 (not 8 + 8 + 8 + 4)
      {3, 1, 1, 42, {14, 14, 14}},
      {3, 1, 1, 56, {14, 14, 14, 14}},
      {4, 2, 1, 7, {14}},                   // dw-bilinear 256 7x7
      {4, 2, 1, 14, {14, 14}},
      {4, 2, 1, 28, {14, 14, 14, 14}},
      {4, 2, 1, 32, {16, 16, 16, 16}},      // dw-bilinear 64 32x32: 16-wide edge and inner tiles
      {3, 1, 1, 32, {8, 8, 8, 8}},          // k3s1 row pairs: 8-wide tiles
      {3, 1, 1, 70, {14, 14, 14, 14, 14}},  // 5 tiles = ceil(70 / 16)
      {3, 1, 1, 21, {8, 4, 1, 8}},          // no equal cut: edges 8, then 4, 1 between them
      {3, 1, 1, 112, std::vector<int>(14, 8)},  // 112 = 14·8, but 7 16-wide tiles would do
  };
  for (const Case& c : cases) {
    const int ow = output_width(c.k, c.s, c.p, 0, c.w);
    const std::vector<int> got = cut(c.k, c.s, c.p, c.w, ow);
    CHECK(got == c.want, "k%d s%d p%d w%d (ow %d): cut %s, want %s", c.k, c.s, c.p, c.w, ow, show(got).c_str(),
          show(c.want).c_str());
  }
}

// Every geometry dw_plane takes: the tiles cover the row exactly, each of a compiled width;
// 14-wide tiles only in the equal cut of a 14·n row (n = the fewest tiles no wider than 16); and
// that cut is taken on every such row of this grid.
void test_cover_grid() {
  const int ks[][2] = {{2, 2}, {3, 1}, {3, 2}, {4, 2}, {5, 1}, {5, 2}};
  int covered = 0, equal_rows = 0, equal_cuts = 0;
  for (const auto& kv : ks) {
    const int k = kv[0], s = kv[1];
    const bool equal_geometry = (k == 3 && s == 1) || (k == 4 && s == 2);
    for (int p = 0; p < k; ++p)
      for (int op = 0; op < s; ++op)
        for (int w = 1; w <= 80; ++w) {
          const int ow = output_width(k, s, p, op, w);
          if (ow <= 0) continue;
          const std::vector<int> got = cut(k, s, p, w, ow);
          if (got.empty()) continue;
          ++covered;
          int sum = 0, fourteens = 0;
          for (int t : got) {
            sum += t;
            fourteens += t == 14;
            CHECK(t == 1 || t == 2 || t == 4 || t == 8 || t == 14 || t == 16, "k%d s%d p%d w%d: tile width %d", k, s,
                  p, w, t);
          }
          CHECK(sum == ow, "k%d s%d p%d op%d w%d: tiles %s cover %d of %d outputs", k, s, p, op, w, show(got).c_str(),
                sum, ow);
          const bool equal_row = equal_geometry && ow % 14 == 0 && ow / 14 == (ow + 15) / 16;
          CHECK(fourteens == 0 || (equal_row && fourteens == int(got.size())),
                "k%d s%d p%d op%d w%d: 14-wide tiles outside an equal cut: %s", k, s, p, op, w, show(got).c_str());
          equal_rows += equal_row;
          equal_cuts += equal_row && fourteens > 0;
        }
  }
  CHECK(covered > 1500, "too few geometries taken by dw_plane: %d", covered);
  CHECK(equal_rows > 0 && equal_cuts == equal_rows, "equal cut taken on %d of %d 14·n rows", equal_cuts,
        equal_rows);
  std::printf("dw_plane tile cuts: %d geometries, equal 14-wide cut on %d of %d 14·n rows\n", covered, equal_cuts,
              equal_rows);
}

// Geometries dw_plane does not take report no tiles.
void test_not_covered() {
  CHECK(cut(4, 3, 1, 10, output_width(4, 3, 1, 0, 10)).empty(), "k4 s3 cut");
  CHECK(cut(3, 1, 1, 1, 1).empty(), "k3s1 w1 ow1 (edge tiles do not fit) cut");
  CHECK(cut(3, 1, -1, 10, 14).empty(), "negative padding cut");
}

}  // namespace

int main() {
  test_named_rows();
  test_cover_grid();
  test_not_covered();
  if (check_report()) return 1;
  std::printf("test_dw_plane_tiles: ok\n");
  return 0;
}
