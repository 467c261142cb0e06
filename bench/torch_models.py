"""PyTorch reference versions of three tinyq zoo models (SPEC §2), for the training-throughput benchmark.

This file is an outside reference only: nothing in tinyq imports it. Run with Debian's /usr/bin/python3
(torch 1.13). Layouts are NCHW (tinyq is NHWC); the math is the same.

Conventions chosen to match the Keras models of the study (and tinyq):
  * every conv/dense has a bias;
  * batch norm uses Keras' defaults: epsilon 1e-3, momentum 0.99 (PyTorch momentum = 1 - 0.99 = 0.01);
  * "same" padding is TensorFlow's: where the total padding is odd the extra row/column goes at the
    bottom/right, done with an explicit F.pad before a padding=0 convolution.
Weight initialisation is PyTorch's default (irrelevant for throughput).

Each model exposes `fuse_groups()`: the lists of submodule names that eager-mode QAT fuses
(conv+bn+relu -> ConvBnReLU2d, conv+bn -> ConvBn2d, linear+bn -> LinearBn1d); see torch_qat.py.
In float mode the modules are used unfused.
"""

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


MODELS = {
    "resnet8": ResNet8,
    "dscnn": DSCNN,
    "fc_autoencoder": FCAutoEncoder,
}

EXPECTED_PARAMS = {"resnet8": 78666, "dscnn": 24908, "fc_autoencoder": 269992}


def build(name):
    return MODELS[name]()
