// This ISA variant's entry in the run-time kernel table (see dispatch.cpp).
#include "kernels_isa.h"

#define MGF_STR2(x) #x
#define MGF_STR(x) MGF_STR2(x)

namespace megforge::deconv::MGF_ISA {

namespace {
const KernelTable kTable = {MGF_STR(MGF_ISA), dense_row,   dw_row, dw_plane,         sgemm_pack_b, sgemm_8xn,
                            col2im_nchw,      nchw_to_nc4hw4, nc4hw4_to_nchw};
}  // namespace

const KernelTable& table() { return kTable; }

}  // namespace megforge::deconv::MGF_ISA
