"""Eager-mode QAT wrapping (torch.ao.quantization, torch 1.13) of the reference models in torch_models.py.

Outside reference only: nothing in tinyq imports it.

  * fusion (training mode, fuse_modules_qat): conv+BN+ReLU -> ConvBnReLU2d, conv+BN -> ConvBn2d,
    Linear+BN1d -> LinearBn1d (BN folded into the weights with batch-statistics correction while
    training). There is no Linear+BN1d+ReLU fusion in 1.13, so the AE's ReLUs stay separate modules.
  * QuantStub at the input, DeQuantStub at the output (torch.ao.quantization.QuantWrapper).
  * qconfig = get_default_qat_qconfig('fbgemm'): weights per-channel symmetric int8 fake-quant,
    activations per-tensor uint8 fake-quant (FusedMovingAvgObsFakeQuantize with moving-average min/max;
    note fbgemm's qconfig sets reduce_range=True, i.e. activations use 7 of the 8 bits' range).
  * ResNet-8's residual add+ReLU goes through nn.quantized.FloatFunctional.add_relu (in the model) so the
    block output gets its own activation fake-quant.
"""

import warnings

import torch.ao.quantization as tq

# fbgemm's default QAT qconfig still passes reduce_range=True; silence 1.13's deprecation notice about it.
warnings.filterwarnings("ignore", message="Please use quant_min and quant_max", category=UserWarning)


def make_qat(model, backend="fbgemm"):
    """Return the prepared QAT model (training mode) built from a float model."""
    model.train()
    groups = model.fuse_groups()
    model = tq.fuse_modules_qat(model, groups, inplace=False)
    wrapped = tq.QuantWrapper(model)
    wrapped.qconfig = tq.get_default_qat_qconfig(backend)
    wrapped.train()
    tq.prepare_qat(wrapped, inplace=True)
    return wrapped
