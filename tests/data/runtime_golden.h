/* Golden vectors for the integer runtime, produced OUTSIDE tinyq by torch 1.13 (float64 conv2d /
 * matmul on exact small integers) and Python integer requantization floor((acc + 2^(n-1)) / 2^n).
 * Generator: kept in the comment at the end of this file. Do not edit by hand. */
#ifndef TQ_RUNTIME_GOLDEN_H
#define TQ_RUNTIME_GOLDEN_H
#include <stdint.h>

/* conv2d: N=1 H=7 W=6 C=3 OC=5 K=3x3 stride 2 pads t1 b2 l0 r1, z_X=-3, z_Y=4, out 4x3 */
#define GOLD_CONV_OH 4
#define GOLD_CONV_OW 3
#define GOLD_CONV_ZX -3
#define GOLD_CONV_ZY 4
static const int8_t gold_conv_x[126] = {-81, 83, -90, -75, 76, -12, 24, 121, 15, 49, -105, 105, 26, -98, 43, 30, 108, -4, -102, -10, 58, -8, -16, 92, -59, -48, 73, -1, 118, 126, 47, -78, 112, 123, -52, -91, -94, 38, 122, 67, 103, 11, 0, 105, -53, -48, -125, -126, -109, 12, 65, 75, -13, -21, 122, 81, -114, 115, 71, -68, 106, -21, 46, 28, -47, -41, -115, -12, -32, 12, 69, 125, -15, 95, 101, 31, 121, 124, -39, -44, -83, -112, -87, -56, 56, 108, -58, 56, -42, 44, 90, 83, -81, 49, -110, -43, 46, 98, -91, -19, -90, 7, 100, 67, 5, 110, -81, 118, 116, -10, 47, 15, -94, -118, -100, -124, -46, -25, -39, -73, 107, -50, 23, 50, 121, -66};
static const int8_t gold_conv_w_hwio[135] = {55, -44, -23, -128, -7, -30, 121, -38, 33, -14, -7, 113, -107, 71, 68, -9, 103, 81, 122, 52, 64, 85, -12, -23, -14, 41, -127, 14, -125, -98, 12, 117, 73, -19, -109, -102, 96, -60, -5, 100, -64, 22, 56, 84, 8, 44, 113, 24, 94, 105, -113, -56, 2, 16, -21, 2, 114, -49, 67, -82, 98, -71, 55, -92, -40, 33, -7, 42, -126, 87, -19, 84, -93, -110, -52, 69, -11, -47, 80, -120, 109, -53, -113, -108, -112, 64, -67, -15, -32, -2, 83, -71, -79, -66, 57, 83, 27, -41, 105, 35, 36, -44, -67, -100, -127, -117, 62, 125, 17, -98, -90, -30, 25, -72, 103, 24, -116, 76, -32, -120, -81, -41, -103, 109, -107, 22, 45, -109, -87, 47, 36, 103, -89, 17, -89};
static const int32_t gold_conv_bias[5] = {387, -950, -237, -595, -1382};
static const int8_t gold_conv_shift[5] = {9, 10, 8, 11, 0};
static const int8_t gold_conv_y[60] = {10, -23, 9, -11, -127, -61, -4, 20, 6, -127, 22, 22, 19, -9, -127, -13, -4, -78, 7, -127, 22, -19, 92, 4, -127, -31, 6, 94, 13, -127, 0, 57, 42, 2, 127, 41, -15, -127, 22, 127, 22, -21, 79, 3, -127, -45, 34, 111, 20, 127, 5, -2, 47, 4, -127, 50, 6, 86, -2, 127};

/* depthwise: H=6 W=5 C=3 M=2 K=3x3 stride 2 pads t0 b1 l1 r1, z_X=7, z_Y=-10, ReLU, out 3x3 */
#define GOLD_DW_OH 3
#define GOLD_DW_OW 3
#define GOLD_DW_ZX 7
#define GOLD_DW_ZY -10
static const int8_t gold_dw_x[90] = {-41, 114, -90, 8, 54, 17, -87, -81, 19, 43, 44, -93, 42, 20, -102, -39, -21, 23, 2, 104, -63, 89, -101, 78, -60, 91, -68, -22, -125, 81, 47, 61, 63, -96, -9, 13, -72, -80, -23, -70, -34, 35, 57, -68, -45, 121, -16, 117, 9, -68, 50, -77, 49, -22, 71, 81, -124, 119, -125, -1, -40, -82, -34, 125, 47, -65, -44, -123, 83, -4, -56, -56, 63, 56, -114, -47, 99, -68, -26, -120, -87, 33, -59, 88, -65, -19, -12, -111, 126, -127};
static const int8_t gold_dw_w[54] = {-7, -6, -5, 5, 5, -4, -6, 5, 6, 5, 5, 7, 3, -7, 5, 1, -4, -8, -8, -6, -7, 7, 4, 7, 5, 2, 6, 3, -6, -3, 1, 0, 0, 6, 7, -1, -3, -1, 7, 2, -8, -8, -2, -2, -7, 6, 1, -4, 6, 3, -2, -1, -6, -8};
static const int32_t gold_dw_bias[6] = {-129, -120, 74, -112, 54, 124};
static const int8_t gold_dw_shift[6] = {3, 4, 2, 5, 3, 0};
static const int8_t gold_dw_y[54] = {-10, -10, 99, 31, -10, -10, 106, -10, -10, -8, -10, 127, -10, 0, -10, -10, -10, -10, 77, 82, 127, -10, 33, 127, 8, 16, 127, -10, 25, 127, 0, 11, -10, -10, -10, -10, 16, -10, 63, -10, -10, 127, -10, -10, -10, -10, -10, 127, -10, 16, 127, -10, -10, -10};

/* dense: N=2 I=7 O=3, s16 x s8 -> s16, z_X=-1000, z_Y=100 */
#define GOLD_DENSE_ZX -1000
#define GOLD_DENSE_ZY 100
static const int16_t gold_dense_x[14] = {14760, -23309, -13395, -26878, -31044, -21740, -32153, -7721, 11722, 9723, -6324, -11462, -13952, 27178};
static const int8_t gold_dense_w_io[21] = {17, 49, -112, 48, -48, -47, 76, -33, 106, 63, -79, -113, 25, 84, -23, 25, -59, -78, -18, 15, -44};
static const int32_t gold_dense_bias[3] = {-18963, -44914, -58597};
static const int8_t gold_dense_shift[3] = {10, 11, 10};
static const int16_t gold_dense_y[6] = {-3907, 1313, 4509, -32, -198, 1902};

#endif

/* Generator (python3 with torch 1.13):
# Generates tests/data/runtime_golden.h with torch (float64 conv on exact small integers) as the oracle.
import torch, torch.nn.functional as F, random
random.seed(1234); torch.manual_seed(1234)
def arr(name, ctype, vals):
    vals = [int(v) for v in vals]
    body = ", ".join(str(v) for v in vals)
    return f"static const {ctype} {name}[{len(vals)}] = {{{body}}};\n"
def rshift_round(v, n):  # python ints: exact floor semantics
    if n > 0: return (v + (1 << (n - 1))) >> n
    return v << (-n)
def rq(acc, n, zy, lo, hi):
    return max(lo, min(hi, zy + rshift_round(acc, n)))
out = ["/ * Golden vectors for the integer runtime, produced OUTSIDE tinyq by torch 1.13 (float64 conv2d /\n"
       " * matmul on exact small integers) and Python integer requantization floor((acc + 2^(n-1)) / 2^n).\n"
       " * Generator: kept in the comment at the end of this file. Do not edit by hand. * /\n",
       "#ifndef TQ_RUNTIME_GOLDEN_H\n#define TQ_RUNTIME_GOLDEN_H\n#include <stdint.h>\n\n"]
# ---- conv2d: N=1, H=7, W=6, C=3, OC=5, K=3x3, stride 2, pads t1 b2 l0 r1 (asymmetric)
N,H,W,C,OC,KH,KW,S = 1,7,6,3,5,3,3,2
pt,pb,pl,pr = 1,2,0,1
zx = -3
x = torch.randint(-128, 128, (N,H,W,C), dtype=torch.int64)
w = torch.randint(-128, 128, (KH,KW,C,OC), dtype=torch.int64)   # Keras HWIO
b = torch.randint(-3000, 3000, (OC,), dtype=torch.int64)
shift = [9, 10, 8, 11, 0]; zy = 4; lo, hi = -127, 127
xr = (x - zx).permute(0,3,1,2).double()
xr = F.pad(xr, (pl, pr, pt, pb))                               # real zeros in the padding
wt = w.permute(3,2,0,1).double()                               # OIHW
acc = F.conv2d(xr, wt, stride=S).permute(0,2,3,1).round().long() + b   # NHWC
OH, OW = acc.shape[1], acc.shape[2]
y = [rq(int(acc[0,i,j,o]), shift[o], zy, lo, hi) for i in range(OH) for j in range(OW) for o in range(OC)]
out.append(f"/ * conv2d: N={N} H={H} W={W} C={C} OC={OC} K={KH}x{KW} stride {S} pads t{pt} b{pb} l{pl} r{pr}, z_X={zx}, z_Y={zy}, out {OH}x{OW} * /\n")
out.append(f"#define GOLD_CONV_OH {OH}\n#define GOLD_CONV_OW {OW}\n#define GOLD_CONV_ZX {zx}\n#define GOLD_CONV_ZY {zy}\n")
out.append(arr("gold_conv_x", "int8_t", x.flatten().tolist()))
out.append(arr("gold_conv_w_hwio", "int8_t", w.flatten().tolist()))
out.append(arr("gold_conv_bias", "int32_t", b.tolist()))
out.append(arr("gold_conv_shift", "int8_t", shift))
out.append(arr("gold_conv_y", "int8_t", y))
# ---- depthwise: H=6, W=5, C=3, M=2, K=3x3, stride 2, 'same' (pads t0 b1 l1 r1)
H,W,C,M,KH,KW,S = 6,5,3,2,3,3,2
pt,pb,pl,pr = 0,1,1,1
zx = 7
x = torch.randint(-128, 128, (1,H,W,C), dtype=torch.int64)
w = torch.randint(-8, 8, (KH,KW,C,M), dtype=torch.int64)      # Keras (KH,KW,C,M), 4-bit values
b = torch.randint(-200, 200, (C*M,), dtype=torch.int64)
shift = [3, 4, 2, 5, 3, 0]; zy = -10; lo, hi = -10, 127     # fused ReLU (act_min = z_Y)
xr = F.pad((x - zx).permute(0,3,1,2).double(), (pl, pr, pt, pb))
wt = w.permute(2,3,0,1).reshape(C*M, 1, KH, KW).double()      # out channel c*M + m
acc = F.conv2d(xr, wt, stride=S, groups=C).permute(0,2,3,1).round().long() + b
OH, OW = acc.shape[1], acc.shape[2]
y = [rq(int(acc[0,i,j,o]), shift[o], zy, lo, hi) for i in range(OH) for j in range(OW) for o in range(C*M)]
out.append(f"\n/ * depthwise: H={H} W={W} C={C} M={M} K={KH}x{KW} stride {S} pads t{pt} b{pb} l{pl} r{pr}, z_X={zx}, z_Y={zy}, ReLU, out {OH}x{OW} * /\n")
out.append(f"#define GOLD_DW_OH {OH}\n#define GOLD_DW_OW {OW}\n#define GOLD_DW_ZX {zx}\n#define GOLD_DW_ZY {zy}\n")
out.append(arr("gold_dw_x", "int8_t", x.flatten().tolist()))
out.append(arr("gold_dw_w", "int8_t", w.flatten().tolist()))
out.append(arr("gold_dw_bias", "int32_t", b.tolist()))
out.append(arr("gold_dw_shift", "int8_t", shift))
out.append(arr("gold_dw_y", "int8_t", y))
# ---- dense: 2 x 7 -> 3, int16 activations, int8 weights, int16 output
I,O = 7,3; zx = -1000
x = torch.randint(-32768, 32768, (2,I), dtype=torch.int64)
w = torch.randint(-128, 128, (I,O), dtype=torch.int64)        # Keras IO
b = torch.randint(-100000, 100000, (O,), dtype=torch.int64)
shift = [10, 11, 10]; zy = 100; lo, hi = -32767, 32767
acc = ((x - zx).double() @ w.double()).round().long() + b
y = [rq(int(acc[i,o]), shift[o], zy, lo, hi) for i in range(2) for o in range(O)]
out.append(f"\n/ * dense: N=2 I={I} O={O}, s16 x s8 -> s16, z_X={zx}, z_Y={zy} * /\n")
out.append(f"#define GOLD_DENSE_ZX {zx}\n#define GOLD_DENSE_ZY {zy}\n")
out.append(arr("gold_dense_x", "int16_t", x.flatten().tolist()))
out.append(arr("gold_dense_w_io", "int8_t", w.flatten().tolist()))
out.append(arr("gold_dense_bias", "int32_t", b.tolist()))
out.append(arr("gold_dense_shift", "int8_t", shift))
out.append(arr("gold_dense_y", "int16_t", y))
out.append("\n#endif\n\n/ * Generator (python3 with torch 1.13):\n" + open(__file__).read().replace("*" + "/", "* /").replace("/" + "*", "/ *") + "* /\n")
open("/work/main/tests/data/runtime_golden.h", "w").write("".join(out))
print("ok", OH, OW)
*/
