#!/usr/bin/python3
"""An outside reference for tinyq import/predict: a numpy forward pass of a Keras HDF5 model, written
from Keras' documented layer semantics (not from tinyq's code), reading the file with h5py.
Computes in float64, so its outputs are the exact values float32 implementations approximate.

  keras_reference.py inputs H,W,C N SEED SCALE OUT.f32      fixed random inputs U(0, SCALE)
  keras_reference.py predict MODEL.h5 IN.f32 OUT.f32 [--logits]
  keras_reference.py compare TINYQ.f32 REF.f32 K TOL          per-sample relative error, exit 1 above TOL
  keras_reference.py mutate MODEL.h5 KIND OUT.h5              bad inputs for the importer's tests:
      no_config | lambda | wrong_shape | missing_weight | absurd_shape
"""
import json
import shutil
import sys

import h5py
import numpy as np


def tf_same_pads(size, k, s):
    # TensorFlow 'same': out = ceil(size / s); the odd padding element goes after (bottom/right)
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def pad_input(x, kh, kw, sh, sw, padding, value=0.0):
    n, h, w, c = x.shape
    if padding == "valid":
        return x, (h - kh) // sh + 1, (w - kw) // sw + 1, None
    oh, pt, pb = tf_same_pads(h, kh, sh)
    ow, pl, pr = tf_same_pads(w, kw, sw)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)
    mask = np.pad(np.ones((1, h, w, 1)), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    return xp, oh, ow, mask


def windows(xp, kh, kw, sh, sw, oh, ow):
    # yields (i, j, slice) with slice[n, y, x, c] = xp[n, y*sh + i, x*sw + j, c]
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


ACTS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def weights(f, layer):
    g = f["model_weights"][layer]
    out = {}
    for wn in g.attrs["weight_names"]:
        wn = wn.decode() if isinstance(wn, bytes) else wn
        out[wn.split("/")[-1].split(":")[0]] = np.array(g[wn], dtype=np.float64)
    return out


def layer_forward(cls, cfg, w, xs):
    x = xs[0]
    if cls in ("Conv2D", "DepthwiseConv2D"):
        kh, kw = pair(cfg["kernel_size"])
        sh, sw = pair(cfg["strides"])
        xp, oh, ow, _ = pad_input(x, kh, kw, sh, sw, cfg["padding"])
        if cls == "Conv2D":
            k = w["kernel"]  # (kh, kw, cin, cout)
            y = np.zeros((x.shape[0], oh, ow, k.shape[3]))
            for i, j, win in windows(xp, kh, kw, sh, sw, oh, ow):
                y += win @ k[i, j]
        else:
            k = w["depthwise_kernel"]  # (kh, kw, cin, mult): output channel c*mult + m
            cin, mult = k.shape[2], k.shape[3]
            y = np.zeros((x.shape[0], oh, ow, cin, mult))
            for i, j, win in windows(xp, kh, kw, sh, sw, oh, ow):
                y += win[..., :, None] * k[i, j]
            y = y.reshape(x.shape[0], oh, ow, cin * mult)
        if cfg.get("use_bias", True):
            y = y + w["bias"]
        return ACTS[cfg.get("activation", "linear")](y)
    if cls == "Dense":
        y = x @ w["kernel"]
        if cfg.get("use_bias", True):
            y = y + w["bias"]
        return ACTS[cfg.get("activation", "linear")](y)
    if cls == "BatchNormalization":
        gamma = w.get("gamma", 1.0)
        beta = w.get("beta", 0.0)
        return gamma * (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) + beta
    if cls == "Activation":
        return ACTS[cfg["activation"]](x)
    if cls == "Softmax":
        return ACTS["softmax"](x)
    if cls == "ReLU":
        y = np.maximum(x, 0)
        return y if cfg.get("max_value") is None else np.minimum(y, cfg["max_value"])
    if cls in ("AveragePooling2D", "MaxPooling2D"):
        kh, kw = pair(cfg["pool_size"])
        sh, sw = pair(cfg["strides"] or cfg["pool_size"])
        fill = -np.inf if cls == "MaxPooling2D" else 0.0
        xp, oh, ow, mask = pad_input(x, kh, kw, sh, sw, cfg["padding"], fill)
        if cls == "MaxPooling2D":
            return np.max([win for _, _, win in windows(xp, kh, kw, sh, sw, oh, ow)], axis=0)
        total = sum(win for _, _, win in windows(xp, kh, kw, sh, sw, oh, ow))
        if mask is None:
            return total / (kh * kw)
        # Keras' 'same' average pooling divides by the number of real (unpadded) inputs
        count = sum(win for _, _, win in windows(mask, kh, kw, sh, sw, oh, ow))
        return total / count
    if cls == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    if cls == "GlobalMaxPooling2D":
        return x.max(axis=(1, 2))
    if cls == "Add":
        return sum(xs)
    if cls == "Multiply":
        return xs[0] * xs[1]
    if cls == "Flatten":
        return x.reshape(x.shape[0], -1)  # row-major over (H, W, C), as Keras' channels_last Flatten
    if cls == "Dropout":
        return x  # inference
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    raise SystemExit(f"keras_reference: layer class {cls} not implemented")


def predict(path, x, logits):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        layers = cfg["config"]["layers"]
        outputs = {}
        out_name = cfg["config"]["output_layers"][0][0]
        for L in layers:
            cls, c, name = L["class_name"], L["config"], L["name"]
            if cls == "InputLayer":
                outputs[name] = x.reshape((x.shape[0],) + tuple(c["batch_input_shape"][1:]))
                continue
            ins = [outputs[e[0]] for e in L["inbound_nodes"][0]]
            if logits and name == out_name:  # the output's softmax left out: compare the logits
                if cls == "Activation" and c["activation"] == "softmax":
                    outputs[name] = ins[0]
                    continue
                if c.get("activation") == "softmax":
                    c = dict(c, activation="linear")
            outputs[name] = layer_forward(cls, c, weights(f, name) if len(f["model_weights"][name].attrs["weight_names"]) else {}, ins)
        return outputs[out_name]


def input_size(path):
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        shape = cfg["config"]["layers"][0]["config"]["batch_input_shape"][1:]
        return int(np.prod(shape))


def mutate(src, kind, dst):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        if kind == "no_config":
            del f.attrs["model_config"]
        elif kind in ("lambda", "absurd_shape"):
            cfg = json.loads(f.attrs["model_config"])
            for L in cfg["config"]["layers"]:
                if kind == "lambda" and L["name"] == "flatten":
                    L["class_name"] = "Lambda"
                if kind == "absurd_shape" and L["class_name"] == "InputLayer":
                    L["config"]["batch_input_shape"] = [None, 1000000, 1000000, 3]
            f.attrs["model_config"] = json.dumps(cfg).encode()
        elif kind == "wrong_shape":
            g = f["model_weights"]["conv2d_1"]["conv2d_1"]
            del g["kernel:0"]
            g["kernel:0"] = np.zeros((3, 3, 16, 15), dtype=np.float32)
        elif kind == "missing_weight":
            del f["model_weights"]["batch_normalization_2"]["batch_normalization_2"]["moving_variance:0"]
        else:
            raise SystemExit(f"keras_reference: unknown mutation {kind}")


def main(argv):
    cmd = argv[1]
    if cmd == "inputs":
        shape = [int(v) for v in argv[2].split(",")]
        n, seed, scale = int(argv[3]), int(argv[4]), float(argv[5])
        x = np.random.default_rng(seed).uniform(0, scale, size=[n] + shape)
        x.astype("<f4").tofile(argv[6])
    elif cmd == "predict":
        x = np.fromfile(argv[3], dtype="<f4").astype(np.float64)
        x = x.reshape(-1, input_size(argv[2]))
        y = predict(argv[2], x, "--logits" in argv)
        y.astype("<f4").tofile(argv[4])
    elif cmd == "compare":
        k = int(argv[4])
        a = np.fromfile(argv[2], dtype="<f4").astype(np.float64).reshape(-1, k)
        b = np.fromfile(argv[3], dtype="<f4").astype(np.float64).reshape(-1, k)
        if a.shape != b.shape:
            raise SystemExit(f"compare: {a.shape} vs {b.shape}")
        # relative to each sample's largest output: probabilities near 0 compare absolutely
        rel = (np.abs(a - b).max(axis=1) / np.maximum(np.abs(b).max(axis=1), 1e-30)).max()
        top1 = (a.argmax(1) == b.argmax(1)).mean()
        print(f"{a.shape[0]} samples: max relative error {rel:.3g}, max abs error {np.abs(a - b).max():.3g}, "
              f"top-1 agreement {100 * top1:.1f} %")
        sys.exit(0 if rel <= float(argv[5]) and top1 == 1.0 else 1)
    elif cmd == "mutate":
        mutate(argv[2], argv[3], argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
