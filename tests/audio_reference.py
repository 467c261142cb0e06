#!/usr/bin/python3
"""Outside reference of tinyq's audio features, written from SPEC section 3 alone, in float64 numpy
(Debian's python3-numpy; run it with /usr/bin/python3). It shares nothing with the C code: its own
RIFF reader, numpy's FFT, the mel scales and DCT from their textbook definitions.

  audio_reference.py mfcc|logmel IN.wav OUT.f64 [IN.wav OUT.f64 ...]

mfcc:   the keyword pipeline: samples / max(samples) (left as they are when the max is not
        positive), zero-padded or cut to 16000; 480-sample periodic Hann frames, hop 320, no padding
        (49 frames); |rfft| of 512 points; 40 HTK-mel triangles 20-4000 Hz, peak 1, DC weight 0;
        ln(x + 1e-6); DCT-II scaled by sqrt(2/40), first 10 -> 49 x 10.
logmel: samples as read; 1024-point periodic Hann, hop 512, centred (reflect padding of 512);
        |rfft|^2; 128 Slaney mel bands 0-8000 Hz, area-normalised; 10 log10(x + 2.22e-16);
        frames 50..249; five consecutive frames per vector -> 196 x 640.
OUT is the features as little-endian float64, row-major.
"""
import struct
import sys

import numpy as np

RATE = 16000


def read_wav(path):
    """Mono 16 kHz 16-bit PCM (as int16 / 32768) or 32-bit float (format 3, or extensible)."""
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SystemExit(f"{path}: not a RIFF WAVE file")
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    tag, channels, rate, bits = fmt
    assert channels == 1 and rate == RATE, (path, fmt)
    if tag == 1 and bits == 16:
        n = len(samples) // 2
        return np.frombuffer(samples[:2 * n], "<i2").astype(np.float64) / 32768.0
    if tag == 3 and bits == 32:
        n = len(samples) // 4
        return np.frombuffer(samples[:4 * n], "<f4").astype(np.float64)
    raise SystemExit(f"{path}: format {fmt} is not 16-bit PCM or 32-bit float")


def hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic


def htk_mel_bank(n_mels, n_fft, lo, hi):
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)
    edges = np.linspace(mel(lo), mel(hi), n_mels + 2)
    bin_mel = mel(np.arange(n_fft // 2 + 1) * RATE / n_fft)
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, centre, right = edges[m:m + 3]
        rise = (bin_mel - left) / (centre - left)
        fall = (right - bin_mel) / (right - centre)
        bank[m] = np.maximum(0.0, np.minimum(rise, fall))
    bank[:, 0] = 0.0  # no DC
    return bank


def slaney_hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def slaney_mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


def slaney_mel_bank(n_mels, n_fft, lo, hi):
    edges = slaney_mel_to_hz(np.linspace(slaney_hz_to_mel(lo), slaney_hz_to_mel(hi), n_mels + 2))
    hz = np.arange(n_fft // 2 + 1) * RATE / n_fft
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, centre, right = edges[m:m + 3]
        tri = np.maximum(0.0, np.minimum((hz - left) / (centre - left), (right - hz) / (right - centre)))
        bank[m] = tri * 2.0 / (right - left)  # area-normalised ("slaney" norm)
    return bank


def mfcc(x):
    peak = x[:16000].max() if len(x) else 0.0
    if peak > 0:
        x = x / peak
    clip = np.zeros(16000)
    clip[:min(len(x), 16000)] = x[:16000]
    win, hop, n_fft = 480, 320, 512
    frames = 1 + (16000 - win) // hop
    w = hann(win)
    spec = np.stack([np.abs(np.fft.rfft(clip[t * hop:t * hop + win] * w, n_fft)) for t in range(frames)])
    logmel = np.log(spec @ htk_mel_bank(40, n_fft, 20.0, 4000.0).T + 1e-6)
    n = 40
    k, j = np.meshgrid(np.arange(10), np.arange(n), indexing="ij")
    dct = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * j + 1) / (2 * n))
    return logmel @ dct.T  # (49, 10)


def logmel(x):
    n_fft, hop = 1024, 512
    padded = np.pad(x, n_fft // 2, mode="reflect")
    frames = 1 + len(x) // hop
    assert frames >= 250, f"{len(x)} samples give {frames} frames"
    w = hann(n_fft)
    spec = np.stack([np.abs(np.fft.rfft(padded[t * hop:t * hop + n_fft] * w)) ** 2 for t in range(50, 250)])
    db = 10.0 * np.log10(spec @ slaney_mel_bank(128, n_fft, 0.0, 8000.0).T + 2.220446049250313e-16)
    return np.stack([db[i:i + 5].reshape(-1) for i in range(196)])  # (196, 640)


def main():
    kind, pairs = sys.argv[1], sys.argv[2:]
    fn = {"mfcc": mfcc, "logmel": logmel}[kind]
    for i in range(0, len(pairs), 2):
        fn(read_wav(pairs[i])).astype("<f8").tofile(pairs[i + 1])


if __name__ == "__main__":
    main()
