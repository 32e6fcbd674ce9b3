"""Two 224 x 224 ImageNet-shaped convolution networks and their inputs, for the static int8 benchmark against ONNX Runtime's
quantize_static on compute-bound models (the shared UltraFace and MNIST models are small; these are not in ../shared).

Writes, into the folder given (default /tmp/calib-bench):
  resnet18.onnx, mobilenet_v2.onnx  torchvision's architectures, exported with a free batch dimension (opset 13,
                       BatchNormalization folded by the exporter); weights torchvision's random initialisation (seed 0,
                       no pretrained weights are reachable here), BatchNormalization running means U(-0.1, 0.1) and variances
                       U(0.5, 1.5) so that activations are not all of one scale. Latency and calibration cost are those of the
                       trained networks (the same shapes); the quality figures compare two quantizers of the same network.
  imagenet_calib.npy   float32 [N, 3, 224, 224]: square crops of 50-100% of the two shared UltraFace photos' shorter side,
                       resized bilinear, flipped at random, ImageNet mean/std normalised; seed 1.
  imagenet_eval.npy    float32 [64, 3, 224, 224]: the same with crops of 40-100%, seed 99 (held out, for output SQNR).

/usr/bin/python3 make_torchvision_models.py [OUT_DIR] [N]   (N default 500; needs Debian's python3-torch and
python3-torchvision, numpy and pillow: apt-get install python3-torch python3-torchvision python3-pil)
"""
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

SHARED = os.environ.get("CONDENSE_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared"))
MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def export(name, out):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), os.path.join(out, name + ".onnx"), input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


def crops(photos, count, seed, smallest, path):
    rng = np.random.default_rng(seed)
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, 3, 224, 224))
    for i in range(count):
        photo = photos[i % len(photos)]
        height, width, _ = photo.shape
        side = int(min(height, width) * rng.uniform(smallest, 1.0))
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((224, 224), Image.BILINEAR)
        pixels = np.asarray(crop, np.float32).transpose(2, 0, 1) / 255
        if rng.random() < 0.5:
            pixels = pixels[:, :, ::-1]
        data[i] = (pixels - MEAN) / STD
    data.flush()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/calib-bench"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    os.makedirs(out, exist_ok=True)
    for name in ("resnet18", "mobilenet_v2"):
        export(name, out)
    photos = [np.asarray(Image.open(os.path.join(SHARED, "models", "ultraface", f"{i}.jpg")).convert("RGB")) for i in (1, 2)]
    crops(photos, count, 1, 0.5, os.path.join(out, "imagenet_calib.npy"))
    crops(photos, 64, 99, 0.4, os.path.join(out, "imagenet_eval.npy"))
    print("wrote resnet18.onnx, mobilenet_v2.onnx, imagenet_calib.npy (%d), imagenet_eval.npy (64) in %s" % (count, out))


if __name__ == "__main__":
    main()
