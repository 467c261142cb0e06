#!/usr/bin/env python3
"""fashion_subset.py DIR N: the first N Fashion-MNIST training images and labels as an IDX set of
their own in DIR (train and t10k alike), so that end-to-end tests train, test and calibrate in
seconds (use it as --data fashion-mnist:DIR). Python standard library only."""
import gzip
import os
import sys

SRC = "/usr/share/datasets/fashion-mnist"


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    os.makedirs(d, exist_ok=True)
    for kind, head, size in (("images-idx3-ubyte", 16, 784), ("labels-idx1-ubyte", 8, 1)):
        with gzip.open(f"{SRC}/train-{kind}.gz") as f:
            raw = f.read(head + n * size)
        data = raw[:4] + n.to_bytes(4, "big") + raw[8:head] + raw[head:head + n * size]
        for split in ("train", "t10k"):
            with open(f"{d}/{split}-{kind}", "wb") as out:
                out.write(data)


if __name__ == "__main__":
    main()
