#!/usr/bin/env python3
"""Writes a tiny Keras 2.x .h5 in the layout of Keras' EfficientNet (its layer names, swish
activations, squeeze-excite with Reshape and 1x1 convolutions, Multiply), with random weights, for
tests/cli_deploy_se.sh: the file tinyq import reads, written with h5py alone (no TensorFlow here).

usage: se_keras.py OUT.h5 [SEED]
"""
import json
import sys

import h5py
import numpy as np

H, W, C = 12, 12, 3


def layer(cls, name, inbound, **cfg):
    nodes = [[[i, 0, 0, {}] for i in inbound]] if inbound else []
    return {"class_name": cls, "name": name, "config": {"name": name, **cfg}, "inbound_nodes": nodes}


def conv(name, inbound, filters, k, stride=1, padding="same", activation="linear", use_bias=False):
    return layer("Conv2D", name, inbound, filters=filters, kernel_size=[k, k], strides=[stride, stride],
                 padding=padding, activation=activation, use_bias=use_bias)


def model():
    L = [layer("InputLayer", "input_1", [], batch_input_shape=[None, H, W, C]),
         layer("ZeroPadding2D", "stem_conv_pad", ["input_1"], padding=[[0, 1], [0, 1]]),
         conv("stem_conv", ["stem_conv_pad"], 8, 3, 2, "valid"),
         layer("BatchNormalization", "stem_bn", ["stem_conv"], axis=3, epsilon=1e-3),
         layer("Activation", "stem_activation", ["stem_bn"], activation="swish"),
         layer("DepthwiseConv2D", "block1a_dwconv", ["stem_activation"], kernel_size=[3, 3], strides=[1, 1],
               padding="same", depth_multiplier=1, activation="linear", use_bias=False),
         layer("BatchNormalization", "block1a_bn", ["block1a_dwconv"], axis=3, epsilon=1e-3),
         layer("Activation", "block1a_activation", ["block1a_bn"], activation="swish"),
         layer("GlobalAveragePooling2D", "block1a_se_squeeze", ["block1a_activation"]),
         layer("Reshape", "block1a_se_reshape", ["block1a_se_squeeze"], target_shape=[1, 1, 8]),
         conv("block1a_se_reduce", ["block1a_se_reshape"], 2, 1, activation="swish", use_bias=True),
         conv("block1a_se_expand", ["block1a_se_reduce"], 8, 1, activation="sigmoid", use_bias=True),
         layer("Multiply", "block1a_se_excite", ["block1a_activation", "block1a_se_expand"]),
         conv("block1a_project_conv", ["block1a_se_excite"], 4, 1),
         layer("BatchNormalization", "block1a_project_bn", ["block1a_project_conv"], axis=3, epsilon=1e-3),
         conv("top_conv", ["block1a_project_bn"], 16, 1),
         layer("BatchNormalization", "top_bn", ["top_conv"], axis=3, epsilon=1e-3),
         layer("Activation", "top_activation", ["top_bn"], activation="swish"),
         layer("GlobalAveragePooling2D", "avg_pool", ["top_activation"]),
         layer("Dense", "predictions", ["avg_pool"], units=2, activation="softmax", use_bias=True)]
    return {"class_name": "Functional",
            "config": {"name": "se_block", "layers": L, "input_layers": [["input_1", 0, 0]],
                       "output_layers": [["predictions", 0, 0]]}}


def weights(cfg, rng):
    chans, out = {"input_1": C}, {}
    for L in cfg["config"]["layers"]:
        c, name = L["config"], L["name"]
        cin = chans[L["inbound_nodes"][0][0][0]] if L["inbound_nodes"] else C
        chans[name] = cin
        w = {}
        if L["class_name"] == "Conv2D":
            k = c["kernel_size"][0]
            w["kernel"] = rng.normal(0, (2.0 / (k * k * cin)) ** 0.5, (k, k, cin, c["filters"]))
            chans[name] = c["filters"]
        elif L["class_name"] == "DepthwiseConv2D":
            w["depthwise_kernel"] = rng.normal(0, 0.4, (3, 3, cin, 1))
        elif L["class_name"] == "Dense":
            w["kernel"] = rng.normal(0, (1.0 / cin) ** 0.5, (cin, c["units"]))
            chans[name] = c["units"]
        elif L["class_name"] == "BatchNormalization":
            w = {"gamma": rng.uniform(0.7, 1.3, cin), "beta": rng.normal(0, 0.3, cin),
                 "moving_mean": rng.normal(0, 0.1, cin), "moving_variance": rng.uniform(0.5, 1.5, cin)}
        if c.get("use_bias"):
            w["bias"] = rng.normal(0.5 if name.endswith("se_expand") else 0, 0.5, chans[name])
        out[name] = w
    return out


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cfg = model()
    ws = weights(cfg, np.random.default_rng(int(argv[2]) if len(argv) > 2 else 1))
    with h5py.File(argv[1], "w") as f:
        f.attrs["model_config"] = json.dumps(cfg).encode()
        f.attrs["keras_version"] = b"2.11.0"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [n.encode() for n in ws]
        for name, w in ws.items():
            g = mw.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{k}:0".encode() for k in w]
            for k, v in w.items():
                g[f"{name}/{k}:0"] = np.asarray(v, dtype="<f4")


if __name__ == "__main__":
    main(sys.argv)
