// 3x3 convolutions (stride 1, dilation 1, one group) in f32 through Winograd's F(4x4, 3x3)
// (Lavin & Gray, 2015): each 4x4 output tile costs 36 products per channel pair instead of 144,
// as 36 GEMMs over the transformed tiles, run by our sgemm. The forward, the data gradient
// (a forward with the weights flipped and transposed) and the weight gradient (the exact
// gradient of the same tile algebra) all take it. AVX2+FMA only (compiled with those flags);
// callers check cpu_capability() first.
#pragma once

#include <cstdint>

namespace deepseek::cpu::gemm {

// x (N, C, H, W), w (OC, C, 3, 3) contiguous, y (N, OC, OH, OW), where y[oy, ox] = sum over c,
// ky, kx of x[oy - pad_top + ky, ox - pad_left + kx] * w[ky, kx] and x is zero outside its extent
// (any pads and output sizes, as long as they are >= 0). x and y are dense, each either NCHW
// (row-major) or NHWC (channels_last) as its flag says; for the weight gradient, y is dy.
struct Conv3x3 {
  int64_t N, C, H, W, OC, OH, OW, pad_top, pad_left;
  bool x_nhwc = false, y_nhwc = false;
  // The forward's w is given as (C, OC, 3, 3) holding the kernel flipped: w[c, o, 2 - ky, 2 - kx]
  // (a data gradient, run as this forward, reads the original convolution's weights as they are).
  bool w_flipped = false;
};

// Whether the Winograd path is expected to beat a direct convolution on this shape.
bool winograd_pays(const Conv3x3& g);

// Floats of workspace each call needs; ws must be 64-byte aligned.
int64_t winograd_forward_workspace(const Conv3x3& g);
int64_t winograd_backward_weights_workspace(const Conv3x3& g);

// y = conv(x, w) (+ bias[oc] when bias is not null).
void winograd_forward(const Conv3x3& g, const float* x, const float* w, const float* bias, float* y, float* ws);
// dw (OC, C, 3, 3) = the weight gradient of that convolution for output gradient dy.
void winograd_backward_weights(const Conv3x3& g, const float* dy, const float* x, float* dw, float* ws);

}  // namespace deepseek::cpu::gemm
