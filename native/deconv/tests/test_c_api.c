/* The C API from plain C: NULL safety, argument errors name the field, status names. */
#include <stdio.h>
#include <string.h>

#include "megforge/deconv.h"

static int failures = 0;
#define CHECK(cond, msg)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, msg, mgf_last_error()); \
      ++failures;                                                      \
    }                                                                  \
  } while (0)

static mgf_deconv_desc good_desc(void) {
  mgf_deconv_desc d;
  memset(&d, 0, sizeof d);
  d.in_channels = 4; d.out_channels = 8; d.kernel_h = d.kernel_w = 3;
  d.stride_h = d.stride_w = 2; d.pad_h = d.pad_w = 1; d.dilation_h = d.dilation_w = 1; d.groups = 1;
  return d;
}

int main(void) {
  float weight[4 * 8 * 9] = {0}, src[4 * 4 * 4] = {0}, dst[8 * 7 * 7];
  mgf_deconv_desc d = good_desc();
  mgf_deconv_plan* plan = NULL;
  int32_t oh = 0, ow = 0;

  CHECK(mgf_deconv_version_number() == MGF_DECONV_VERSION_NUMBER, "header and library versions differ");
  CHECK(strcmp(mgf_status_name(MGF_ERR_INVALID_ARGUMENT), "MGF_ERR_INVALID_ARGUMENT") == 0, "status name");
  CHECK(strcmp(mgf_status_name(12345), "MGF_ERR_UNKNOWN") == 0, "unknown status name");

  CHECK(mgf_deconv_output_size(&d, 4, 4, &oh, &ow) == MGF_OK && oh == 7 && ow == 7, "output size 7x7");
  CHECK(mgf_deconv_check(NULL) == MGF_ERR_INVALID_ARGUMENT, "NULL desc");
  CHECK(strstr(mgf_last_error(), "desc") != NULL, "message names desc");

  d.groups = 3;
  CHECK(mgf_deconv_check(&d) == MGF_ERR_INVALID_ARGUMENT, "groups not dividing channels");
  CHECK(strstr(mgf_last_error(), "groups=3") != NULL, "message names groups=3");
  d = good_desc(); d.stride_w = 0;
  CHECK(mgf_deconv_check(&d) == MGF_ERR_INVALID_ARGUMENT && strstr(mgf_last_error(), "stride"), "stride 0");
  d = good_desc(); d.output_padding_h = 2;
  CHECK(mgf_deconv_check(&d) == MGF_ERR_INVALID_ARGUMENT && strstr(mgf_last_error(), "output_padding"), "op >= stride");
  d = good_desc(); d.pad_h = 10;
  CHECK(mgf_deconv_output_size(&d, 2, 2, &oh, &ow) == MGF_ERR_INVALID_ARGUMENT && strstr(mgf_last_error(), "height"),
        "output height <= 0");

  d = good_desc();
  CHECK(mgf_deconv_plan_create(&d, weight, NULL, 7, MGF_ALGO_AUTO, &plan) == MGF_ERR_INVALID_ARGUMENT && plan == NULL,
        "bad layout");
  CHECK(mgf_deconv_plan_create(&d, weight, NULL, MGF_LAYOUT_NCHW, 99, &plan) == MGF_ERR_INVALID_ARGUMENT, "bad algo");
  CHECK(mgf_deconv_plan_create(&d, NULL, NULL, MGF_LAYOUT_NCHW, MGF_ALGO_AUTO, &plan) == MGF_ERR_INVALID_ARGUMENT,
        "NULL weight");
  CHECK(mgf_deconv_plan_create(&d, weight, NULL, MGF_LAYOUT_NCHW, MGF_ALGO_AUTO, &plan) == MGF_OK && plan, "create");
  CHECK(mgf_deconv_plan_algo(plan) != MGF_ALGO_AUTO && mgf_deconv_plan_algo(NULL) == -1, "resolved algo");
  CHECK(mgf_deconv_plan_execute(plan, src, 1, 4, 4, dst) == MGF_OK, "execute");
  CHECK(mgf_deconv_plan_execute(plan, src, 0, 4, 4, dst) == MGF_ERR_INVALID_ARGUMENT, "batch 0");
  CHECK(mgf_deconv_plan_execute(plan, src, 1, 4, 4, src) == MGF_ERR_INVALID_ARGUMENT && strstr(mgf_last_error(), "overlap"),
        "in-place rejected");
  CHECK(mgf_deconv_plan_execute(NULL, src, 1, 4, 4, dst) == MGF_ERR_INVALID_ARGUMENT, "NULL plan");
  mgf_deconv_plan_free(plan);
  mgf_deconv_plan_free(NULL);

  CHECK(mgf_nchw_to_nc4hw4(src, 1, 0, 4, 4, dst) == MGF_ERR_INVALID_ARGUMENT, "relayout c=0");
  CHECK(mgf_nchw_to_nc4hw4(src, 1, 4, 4, 4, src) == MGF_ERR_INVALID_ARGUMENT, "relayout in place");

  if (failures) return 1;
  printf("test_deconv_c_api: all passed\n");
  return 0;
}
