// Entry points of one ISA variant (declared inside its namespace; see neon.h).
#pragma once

#include "../kernels.h"
#include "neon.h"

namespace megforge::deconv::MGF_ISA {

void dense_row(const DenseRowArgs& a);
void dw_row(const DwRowArgs& a);
bool dw_plane(const DwPlaneArgs& a);
// The widths of the column tiles dw_plane cuts every output row of (k, s, p, w, ow) into, left
// to right: returns their number (at most `cap` written); 0 where dw_plane does not take the
// geometry. For tests (tests/test_dw_plane_tiles.cpp): the plan itself uses the same cut.
int dw_plane_tile_widths(int k, int s, int p, int w, int ow, int* widths, int cap);
void sgemm_pack_b(const float* b, ptrdiff_t ldb, int k, int n, float* packed);
void sgemm_8xn(int k, const float* a_panel, const float* b_packed, int n, float* c, ptrdiff_t ldc, int rows);
void col2im_nchw(const Col2imArgs& a);
void nchw_to_nc4hw4(const float* src, int32_t c, size_t hw, float* dst);
void nc4hw4_to_nchw(const float* src, int32_t c, size_t hw, float* dst);
const KernelTable& table();

}  // namespace megforge::deconv::MGF_ISA
