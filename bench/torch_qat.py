"""Eager-mode QAT wrapping (torch.ao.quantization, torch 1.13) of the reference models in torch_models.py.

Outside reference only: nothing in tinyq imports it.

  * fusion (training mode, fuse_modules_qat): conv+BN+ReLU -> ConvBnReLU2d, conv+BN -> ConvBn2d,
    Linear+BN1d -> LinearBn1d (BN folded into the weights with batch-statistics correction while
    training). There is no Linear+BN1d+ReLU fusion in 1.13, so the AE's ReLUs stay separate modules;
    nor conv+BN+ReLU6/SiLU, so MobileNetV2's ReLU6 and EfficientNet-B0's swish follow a ConvBn2d.
  * QuantStub at the input, DeQuantStub at the output (torch.ao.quantization.QuantWrapper).
  * qconfig = get_default_qat_qconfig('fbgemm'): weights per-channel symmetric int8 fake-quant,
    activations per-tensor uint8 fake-quant (FusedMovingAvgObsFakeQuantize with moving-average min/max;
    note fbgemm's qconfig sets reduce_range=True, i.e. activations use 7 of the 8 bits' range).
    Eager mode puts an activation fake-quant on the output of every leaf module in its propagation
    list (fused modules, QAT conv/linear, ReLU6, FloatFunctional add/mul; nn.Sigmoid gets its fixed
    0..1 fake-quant). nn.SiLU is not in 1.13's list (there is no quantized SiLU), so it is added here:
    otherwise EfficientNet-B0's swish outputs, which tinyq quantizes, would go unquantized.
  * The residual adds (ResNet-8's add+ReLU, MobileNetV2's and EfficientNet-B0's adds) and the
    squeeze-excite multiply go through nn.quantized.FloatFunctional (in the models) so their outputs
    get their own activation fake-quant.
"""

import warnings

import torch.ao.quantization as tq
import torch.nn as nn
from torch.ao.quantization.quantization_mappings import (get_default_qat_module_mappings,
                                                         get_default_qconfig_propagation_list)

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
    # tq.prepare_qat's three steps, with nn.SiLU added to the modules whose outputs get a fake-quant.
    mapping = get_default_qat_module_mappings()
    tq.propagate_qconfig_(wrapped)
    tq.convert(wrapped, mapping=mapping, inplace=True, remove_qconfig=False)
    tq.prepare(wrapped, inplace=True, allow_list=get_default_qconfig_propagation_list() | {nn.SiLU},
               observer_non_leaf_module_list=set(mapping.values()))
    return wrapped
