"""Calibration and evaluation inputs for the static int8 benchmark against ONNX Runtime's quantize_static.

Writes, into the folder given (default /tmp/calib-bench):
  ultraface_calib.npy  float32 [N, 3, 240, 320]: the two shared UltraFace photos augmented (random crop of 55-100% of the
                       side, horizontal flip, brightness and contrast jitter, Gaussian noise), resized to 320x240 bilinear,
                       (x - 127) / 128, NCHW; seed 20.
  ultraface_eval.npy   float32 [64, 3, 240, 320]: the same augmentation with seed 21 (held out, for output SQNR).
  mnist_calib.npy      float32 [N, 1, 28, 28]: the first N shared MNIST digits, raw 0..255 (pytorch_cnn_mnist's input).
  mnist_eval.npy / mnist_eval_labels.npy: digits 1000..9999 and their labels, for accuracy.

python3 make_calibration_data.py [OUT_DIR] [N]   (needs numpy and pillow)
"""
import os
import sys

import numpy as np
from PIL import Image, ImageEnhance

SHARED = os.environ.get("CONDENSE_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared"))


def augmented(photos, count, seed):
    rng = np.random.default_rng(seed)
    result = np.empty((count, 3, 240, 320), dtype=np.float32)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        width, height = photo.size
        share = rng.uniform(0.55, 1.0)
        crop_w, crop_h = int(width * share), int(height * share)
        left = int(rng.integers(0, width - crop_w + 1))
        top = int(rng.integers(0, height - crop_h + 1))
        image = photo.crop((left, top, left + crop_w, top + crop_h)).resize((320, 240), Image.BILINEAR)
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
        image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.7, 1.3))
        pixels = np.asarray(image, dtype=np.float32)
        pixels = np.clip(pixels + rng.normal(0, 3, pixels.shape), 0, 255)
        result[i] = ((pixels - 127) / 128).transpose(2, 0, 1)
    return result


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/calib-bench"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    os.makedirs(out, exist_ok=True)
    photos = [Image.open(os.path.join(SHARED, "models", "ultraface", name)).convert("RGB") for name in ("1.jpg", "2.jpg")]
    np.save(os.path.join(out, "ultraface_calib.npy"), augmented(photos, count, 20))
    np.save(os.path.join(out, "ultraface_eval.npy"), augmented(photos, 64, 21))
    images = idx(os.path.join(SHARED, "data", "mnist-digits", "images-idx3-ubyte")).astype(np.float32)
    labels = idx(os.path.join(SHARED, "data", "mnist-digits", "labels-idx1-ubyte")).astype(np.int64)
    np.save(os.path.join(out, "mnist_calib.npy"), images[:count].reshape(count, 1, 28, 28))
    np.save(os.path.join(out, "mnist_eval.npy"), images[1000:].reshape(-1, 1, 28, 28))
    np.save(os.path.join(out, "mnist_eval_labels.npy"), labels[1000:])


if __name__ == "__main__":
    main()
