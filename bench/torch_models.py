"""PyTorch reference versions of tinyq's zoo models (SPEC §2), for the training-throughput benchmark.

This file is an outside reference only: nothing in tinyq imports it. Run with Debian's /usr/bin/python3
(torch 1.13). Layouts are NCHW (tinyq is NHWC); the math is the same.

Conventions chosen to match the Keras models of the study (and tinyq), layer for layer:
  * biases where tinyq has them: every conv/dense of the MLPerf Tiny models (ResNet-8, DS-CNN,
    FC-AutoEncoder, MobileNetV1); only the squeeze-excite convs and the classifier of the Keras
    applications (MobileNetV2, EfficientNet-B0);
  * batch norm uses Keras' defaults: epsilon 1e-3, momentum 0.99 (PyTorch momentum = 1 - 0.99 = 0.01);
    MobileNetV2's momentum is Keras applications' 0.999;
  * "same" padding is TensorFlow's: where the total padding is odd the extra row/column goes at the
    bottom/right, done with an explicit F.pad before a padding=0 convolution (Keras applications'
    ZeroPadding2D + 'valid' before a stride-2 conv is the same padding);
  * dropout as tinyq trains: EfficientNet-B0's drop-connect (one draw per sample, Keras Dropout with
    noise_shape (None, 1, 1, 1)) before each residual add and its Dropout(0.2) before the classifier.
Weight initialisation is PyTorch's default (irrelevant for throughput).
`python3 bench/torch_models.py --check [--tinyq build/tinyq]` checks every parameter count (see check()).

Each model exposes `fuse_groups()`: the lists of submodule names that eager-mode QAT fuses
(conv+bn+relu -> ConvBnReLU2d, conv+bn -> ConvBn2d, linear+bn -> LinearBn1d); see torch_qat.py.
In float mode the modules are used unfused.
"""

import argparse
import re
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3        # Keras BatchNormalization epsilon
BN_MOMENTUM = 0.01   # Keras momentum 0.99


def bn2d(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def bn1d(c):
    return nn.BatchNorm1d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def param_count(model):
    """Trainable parameters + buffers, without BN's num_batches_tracked (BN counts 4 per channel)."""
    n = sum(p.numel() for p in model.parameters())
    n += sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    return n


# --------------------------------------------------------------------------------------------------
# ResNet-8 (MLPerf Tiny image classification), input 3x32x32, 10 classes.

class ResStage(nn.Module):
    """conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN; + shortcut; ReLU.

    The shortcut is the identity for stride 1 with equal channels, otherwise a 1x1 stride-2 conv with
    bias and no BN (TF 'same' for a 1x1 stride-2 kernel on an even input needs no padding).
    The add and the ReLU after it use FloatFunctional.add_relu so that eager QAT puts one activation
    fake-quant on the block output (the same math as add followed by ReLU).
    """

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        # stride 2 on an even input: TF 'same' pads 0 top/left and 1 bottom/right -> explicit F.pad.
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1 if stride == 1 else 0, bias=True)
        self.bn1 = bn2d(cout)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=True)
        self.bn2 = bn2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, padding=0, bias=True)
        else:
            self.shortcut = None
        self.skip_add = nn.quantized.FloatFunctional()

    def forward(self, x):
        y = F.pad(x, (0, 1, 0, 1)) if self.stride == 2 else x
        y = self.relu1(self.bn1(self.conv1(y)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.skip_add.add_relu(y, s)

    def fuse_groups(self, prefix):
        return [[prefix + "conv1", prefix + "bn1", prefix + "relu1"],
                [prefix + "conv2", prefix + "bn2"]]


class ResNet8(nn.Module):
    input_shape = (3, 32, 32)
    num_classes = 10

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=True)
        self.bn = bn2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.stage1 = ResStage(16, 16, 1)
        self.stage2 = ResStage(16, 32, 2)
        self.stage3 = ResStage(32, 64, 2)
        self.pool = nn.AvgPool2d(8)          # whole 8x8 map
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)          # softmax is inside the cross-entropy loss

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(self.flatten(self.pool(x)))

    def fuse_groups(self):
        g = [["conv", "bn", "relu"]]
        for s in ("stage1", "stage2", "stage3"):
            g += getattr(self, s).fuse_groups(s + ".")
        return g


# --------------------------------------------------------------------------------------------------
# DS-CNN small (MLPerf Tiny keyword spotting), input 1x49x10, 12 classes.

class DSCNN(nn.Module):
    input_shape = (1, 49, 10)
    num_classes = 12

    def __init__(self, filters=64, blocks=4):
        super().__init__()
        self.blocks = blocks
        # conv 10x4 stride 2 'same' on 49x10 -> 25x5: pad top 4 bottom 5 (h), left 1 right 1 (w).
        self.conv = nn.Conv2d(1, filters, (10, 4), stride=2, padding=0, bias=True)
        self.bn = bn2d(filters)
        self.relu = nn.ReLU(inplace=True)
        for i in range(blocks):
            setattr(self, f"dw{i}", nn.Conv2d(filters, filters, 3, padding=1, groups=filters, bias=True))
            setattr(self, f"dwbn{i}", bn2d(filters))
            setattr(self, f"dwrelu{i}", nn.ReLU(inplace=True))
            setattr(self, f"pw{i}", nn.Conv2d(filters, filters, 1, bias=True))
            setattr(self, f"pwbn{i}", bn2d(filters))
            setattr(self, f"pwrelu{i}", nn.ReLU(inplace=True))
        self.pool = nn.AvgPool2d((25, 5))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(filters, 12)

    def forward(self, x):
        x = F.pad(x, (1, 1, 4, 5))           # (left, right, top, bottom)
        x = self.relu(self.bn(self.conv(x)))
        for i in range(self.blocks):
            x = getattr(self, f"dwrelu{i}")(getattr(self, f"dwbn{i}")(getattr(self, f"dw{i}")(x)))
            x = getattr(self, f"pwrelu{i}")(getattr(self, f"pwbn{i}")(getattr(self, f"pw{i}")(x)))
        return self.fc(self.flatten(self.pool(x)))

    def fuse_groups(self):
        g = [["conv", "bn", "relu"]]
        for i in range(self.blocks):
            g += [[f"dw{i}", f"dwbn{i}", f"dwrelu{i}"], [f"pw{i}", f"pwbn{i}", f"pwrelu{i}"]]
        return g


# --------------------------------------------------------------------------------------------------
# FC-AutoEncoder (MLPerf Tiny anomaly detection), input 640.

class FCAutoEncoder(nn.Module):
    input_shape = (640,)
    num_classes = None                       # reconstruction, MSE loss
    UNITS = (128, 128, 128, 128, 8, 128, 128, 128, 128)

    def __init__(self, n_in=640):
        super().__init__()
        prev = n_in
        for i, u in enumerate(self.UNITS):
            setattr(self, f"fc{i}", nn.Linear(prev, u))
            setattr(self, f"bn{i}", bn1d(u))
            setattr(self, f"relu{i}", nn.ReLU(inplace=True))
            prev = u
        self.out = nn.Linear(prev, n_in)     # linear output

    def forward(self, x):
        for i in range(len(self.UNITS)):
            x = getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"fc{i}")(x)))
        return self.out(x)

    def fuse_groups(self):
        # torch 1.13 eager fusion has Linear+BatchNorm1d (-> nni.LinearBn1d, supported in QAT) but no
        # Linear+BatchNorm1d+ReLU pattern, so the ReLU stays a separate module after the fused pair.
        return [[f"fc{i}", f"bn{i}"] for i in range(len(self.UNITS))]


# --------------------------------------------------------------------------------------------------
# Building blocks of the vision models (MobileNetV1, MobileNetV2, EfficientNet-B0), input 3x96x96, 2 classes.

def tf_same_pad(x, k, stride):
    """F.pad's (left, right, top, bottom) for TensorFlow's 'same' k x k window at `stride` on x (NCHW)."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((-(-n // stride) - 1) * stride + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class ConvBNAct(nn.Module):
    """conv k x k (TF 'same'; depthwise when groups == cin) -> BN -> activation (nn.ReLU, nn.ReLU6, nn.SiLU
    or None). Stride 1 pads symmetrically inside the conv; a stride-2 window on an even side needs the
    extra row/column at the bottom/right, so it gets an explicit F.pad."""

    def __init__(self, cin, cout, k, stride=1, groups=1, bias=False, act=None, momentum=BN_MOMENTUM):
        super().__init__()
        self.k, self.stride = k, stride
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2 if stride == 1 else 0,
                              groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=momentum)
        self.act = act(inplace=True) if act else None

    def forward(self, x):
        if self.stride != 1:
            x = F.pad(x, tf_same_pad(x, self.k, self.stride))
        x = self.bn(self.conv(x))
        return x if self.act is None else self.act(x)

    def fuse_groups(self, prefix):
        # torch 1.13 eager fusion knows conv+bn+relu and conv+bn only: ReLU6 and SiLU stay separate
        # modules after the fused ConvBn2d.
        group = [prefix + "conv", prefix + "bn"]
        return [group + [prefix + "act"]] if isinstance(self.act, nn.ReLU) else [group]


class PooledClassifier(nn.Module):
    """features (a list of modules whose conv+BN pairs are all ConvBNAct blocks) -> global average pool ->
    flatten -> [dropout] -> dense with num_classes units (softmax is inside the cross-entropy loss)."""
    num_classes = 2

    def __init__(self, features, channels, dropout=0.0):
        super().__init__()
        self.features = nn.Sequential(*features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.fc = nn.Linear(channels, self.num_classes)

    def forward(self, x):
        x = self.flatten(self.pool(self.features(x)))
        return self.fc(x if self.dropout is None else self.dropout(x))

    def fuse_groups(self):
        return [g for name, m in self.named_modules() if isinstance(m, ConvBNAct) for g in m.fuse_groups(name + ".")]


# --------------------------------------------------------------------------------------------------
# MobileNetV1 width 0.25 (MLPerf Tiny visual wake words; tinyq src/models/mobilenetv1.c).

class MobileNetV1(PooledClassifier):
    """conv 3x3/2 (8 filters), 13 depthwise-separable blocks (depthwise 3x3, pointwise 1x1), every conv with
    bias, BN and ReLU; average pool over the whole map (tinyq's AveragePooling2D), dense."""
    input_shape = (3, 96, 96)
    FILTERS = (16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256)
    STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)

    def __init__(self):
        layers, c = [ConvBNAct(3, 8, 3, 2, bias=True, act=nn.ReLU)], 8
        for f, s in zip(self.FILTERS, self.STRIDES):
            layers += [ConvBNAct(c, c, 3, s, groups=c, bias=True, act=nn.ReLU),
                       ConvBNAct(c, f, 1, bias=True, act=nn.ReLU)]
            c = f
        super().__init__(layers, c)


# --------------------------------------------------------------------------------------------------
# MobileNetV2 (Keras applications; tinyq src/models/mobilenetv2.c), width 1.0 by default.

V2_BN_MOMENTUM = 0.001   # Keras applications' MobileNetV2: momentum 0.999


def divisible8(v):
    """Keras applications' _make_divisible(v, 8), as tinyq's tq_zoo_divisible8."""
    r = max(int(v + 4) // 8 * 8, 8)
    return r + 8 if r < 0.9 * v else r


class InvertedResidual(nn.Module):
    """Keras' _inverted_res_block: [1x1 expand, BN, ReLU6] (not in the first block), depthwise 3x3, BN,
    ReLU6, 1x1 project, BN; + the input when the shape is kept. No conv has a bias."""

    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        hidden = cin * expansion
        self.expand = (ConvBNAct(cin, hidden, 1, act=nn.ReLU6, momentum=V2_BN_MOMENTUM)
                       if expansion != 1 else None)
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6,
                                   momentum=V2_BN_MOMENTUM)
        self.project = ConvBNAct(hidden, cout, 1, momentum=V2_BN_MOMENTUM)
        self.skip_add = nn.quantized.FloatFunctional() if cin == cout and stride == 1 else None

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return y if self.skip_add is None else self.skip_add.add(x, y)


class MobileNetV2(PooledClassifier):
    input_shape = (3, 96, 96)
    # expansion, output filters (before the width), stride of the 17 blocks
    BLOCKS = ((1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2),
              (6, 64, 1), (6, 64, 1), (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2),
              (6, 160, 1), (6, 160, 1), (6, 320, 1))

    def __init__(self, width=1.0):
        alpha = round(width * 100.0) / 100.0
        c = divisible8(32 * alpha)
        layers = [ConvBNAct(3, c, 3, 2, act=nn.ReLU6, momentum=V2_BN_MOMENTUM)]
        for e, f, s in self.BLOCKS:
            f = divisible8(int(f * alpha))
            layers.append(InvertedResidual(c, f, e, s))
            c = f
        last = divisible8(1280 * alpha) if alpha > 1.0 else 1280
        layers.append(ConvBNAct(c, last, 1, act=nn.ReLU6, momentum=V2_BN_MOMENTUM))
        super().__init__(layers, last)


# --------------------------------------------------------------------------------------------------
# EfficientNet-B0 (Keras applications without its Rescaling/Normalization input layers; tinyq
# src/models/efficientnetb0.c).

class DropConnect(nn.Module):
    """Keras Dropout(rate, noise_shape=(None, 1, 1, 1)) as tinyq trains it: one draw per sample keeps the
    sample's whole tensor (scaled by 1 / (1 - rate)) or zeroes it; identity outside training."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate <= 0:
            return x
        keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.rate
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.rate))


class SqueezeExcite(nn.Module):
    """global average pool -> 1x1 conv (bias) -> swish -> 1x1 conv (bias) -> sigmoid -> times the input."""

    def __init__(self, c, reduced):
        super().__init__()
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(c, reduced, 1, bias=True)
        self.reduce_act = nn.SiLU(inplace=True)
        self.expand = nn.Conv2d(reduced, c, 1, bias=True)
        self.gate = nn.Sigmoid()
        self.excite = nn.quantized.FloatFunctional()

    def forward(self, x):
        s = self.gate(self.expand(self.reduce_act(self.reduce(self.squeeze(x)))))
        return self.excite.mul(x, s)


class MBConv(nn.Module):
    """Keras' efficientnet.block: [1x1 expand, BN, swish] (expansion != 1), depthwise k x k, BN, swish,
    squeeze-excite (cin / 4 channels), 1x1 project, BN; when the shape is kept, drop-connect then + input.
    No conv outside the squeeze-excite has a bias."""

    def __init__(self, cin, cout, k, stride, expansion, drop_rate):
        super().__init__()
        hidden = cin * expansion
        self.expand = ConvBNAct(cin, hidden, 1, act=nn.SiLU) if expansion != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU)
        self.se = SqueezeExcite(hidden, max(cin // 4, 1))
        self.project = ConvBNAct(hidden, cout, 1)
        residual = stride == 1 and cin == cout
        self.drop = DropConnect(drop_rate) if residual and drop_rate > 0 else None
        self.skip_add = nn.quantized.FloatFunctional() if residual else None

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.se(self.depthwise(y)))
        if self.skip_add is None:
            return y
        return self.skip_add.add(y if self.drop is None else self.drop(y), x)


class EfficientNetB0(PooledClassifier):
    input_shape = (3, 96, 96)
    # kernel, repeats, filters in, filters out, expansion, stride of the 7 stages
    STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
              (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
    DROP_CONNECT = 0.2   # block b of 16 drops at 0.2 * b / 16

    def __init__(self):
        blocks = [ConvBNAct(3, 32, 3, 2, act=nn.SiLU)]
        total = sum(s[1] for s in self.STAGES)
        for k, repeats, cin, cout, e, stride in self.STAGES:
            for r in range(repeats):
                rate = self.DROP_CONNECT * (len(blocks) - 1) / total
                blocks.append(MBConv(cout if r else cin, cout, k, 1 if r else stride, e, rate))
        blocks.append(ConvBNAct(320, 1280, 1, act=nn.SiLU))
        super().__init__(blocks, 1280, dropout=0.2)   # Keras' top_dropout


MODELS = {
    "resnet8": ResNet8,
    "dscnn": DSCNN,
    "fc_autoencoder": FCAutoEncoder,
    "mobilenetv1": MobileNetV1,
    "mobilenetv2": MobileNetV2,
    "efficientnetb0": EfficientNetB0,
}

# tinyq summary's "Total params" at each model's input_shape and num_classes (BN counts 4 per channel).
# EfficientNet-B0: Keras' own count is 7 higher (its Normalization input layer, which tinyq leaves out).
EXPECTED_PARAMS = {"resnet8": 78666, "dscnn": 24908, "fc_autoencoder": 269992,
                   "mobilenetv1": 221794, "mobilenetv2": 2260546, "efficientnetb0": 4052126}


def build(name):
    return MODELS[name]()


def tinyq_params(tinyq, name, cls):
    """`tinyq summary`'s total parameter count for the same model, input shape and classes."""
    shape = cls.input_shape
    c, h, w = shape if len(shape) == 3 else (shape[0], 1, 1)
    cmd = [tinyq, "summary", "--model", name, "--input", f"{h}x{w}x{c}"]
    if cls.num_classes:
        cmd += ["--classes", str(cls.num_classes)]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    m = re.search(r"Total params: ([\d,]+)", out)
    return int(m.group(1).replace(",", "")) if m else None


def check(tinyq=None):
    """Builds every model, runs a float and a QAT-prepared forward pass on a batch of 2, and compares
    its parameter count with EXPECTED_PARAMS (and with `tinyq summary` given the binary).
    Returns the number of failures."""
    import torch_qat
    failures = 0
    for name, cls in MODELS.items():
        torch.manual_seed(0)
        model = cls()
        n, want = param_count(model), EXPECTED_PARAMS[name]
        got = {"EXPECTED_PARAMS": want}
        if tinyq:
            got["tinyq summary"] = tinyq_params(tinyq, name, cls)
        x = torch.randn((2,) + tuple(cls.input_shape))
        shape = tuple(model(x).shape)
        qshape = tuple(torch_qat.make_qat(model)(x).shape)
        wanted_shape = (2, cls.num_classes or cls.input_shape[0])
        bad = [f"{k} {v}" for k, v in got.items() if v != n]
        if shape != wanted_shape or qshape != wanted_shape:
            bad.append(f"output {shape} float, {qshape} QAT, want {wanted_shape}")
        print(f"{name:15} {n:>9,} params  {'ok' if not bad else 'MISMATCH: ' + '; '.join(bad)}")
        failures += bool(bad)
    return failures


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Checks the reference models' parameter counts against tinyq's.")
    ap.add_argument("--check", action="store_true", required=True,
                    help="build every model, run a float and a QAT forward pass, compare parameter counts")
    ap.add_argument("--tinyq", help="also compare with this tinyq binary's `tinyq summary`")
    a = ap.parse_args()
    torch.set_num_threads(2)
    sys.exit(1 if check(a.tinyq) else 0)
