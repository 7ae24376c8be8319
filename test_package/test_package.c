/* Links megforge::deconv and runs one 2x upsampling transposed convolution. */
#include <stdio.h>

#include "megforge/deconv.h"

int main(void) {
  mgf_deconv_desc d = {1, 1, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 1};
  const float weight[4] = {1, 1, 1, 1}, src[1] = {3};
  float dst[4] = {0};
  mgf_deconv_plan* plan = NULL;
  if (mgf_deconv_plan_create(&d, weight, NULL, MGF_LAYOUT_NCHW, MGF_ALGO_AUTO, &plan) != MGF_OK ||
      mgf_deconv_plan_execute(plan, src, 1, 1, 1, dst) != MGF_OK) {
    fprintf(stderr, "megforge deconv failed: %s\n", mgf_last_error());
    return 1;
  }
  mgf_deconv_plan_free(plan);
  printf("megforge deconv %u: 1x1 -> 2x2 = [%g %g %g %g]\n", mgf_deconv_version_number(), dst[0], dst[1], dst[2], dst[3]);
  return dst[0] == 3 && dst[3] == 3 ? 0 : 1;
}
