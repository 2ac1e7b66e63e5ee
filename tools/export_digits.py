#!/usr/bin/python3
"""Export scikit-learn's handwritten digits as .npy files for `typenet-zoo train lenet5`.

  /usr/bin/python3 tools/export_digits.py OUTDIR

The data: sklearn.datasets.load_digits(), 1,797 grey 8x8 images of the digits 0-9 with values 0..16
(Debian: python3-sklearn; the data ships with the package, nothing is downloaded). Each image is scaled to
[0, 1] (divided by 16) and enlarged to lenet5's 32x32 by repeating every pixel as a 4x4 block (nearest
neighbour: no interpolation choice to document or reproduce).

The split is fixed: image i is a test image when i % 5 == 0 (360 test images), a training image otherwise
(1,437). Writes to OUTDIR:
  train_images.npy  float32 [1437, 1, 32, 32]    train_labels.npy  int64 [1437]
  test_images.npy   float32 [360, 1, 32, 32]     test_labels.npy   int64 [360]
Exit status 77 (with the reason) when scikit-learn or numpy cannot be imported.
"""
import os
import sys


def export(outdir):
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0                  # [1797, 8, 8] in [0, 1]
    images = np.kron(images, np.ones((1, 4, 4), dtype=np.float32))    # [1797, 32, 32]
    images = images[:, None, :, :].astype("<f4")
    labels = digits.target.astype("<i8")
    test = np.arange(len(labels)) % 5 == 0
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "train_images.npy"), images[~test])
    np.save(os.path.join(outdir, "train_labels.npy"), labels[~test])
    np.save(os.path.join(outdir, "test_images.npy"), images[test])
    np.save(os.path.join(outdir, "test_labels.npy"), labels[test])
    return int((~test).sum()), int(test.sum())


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        import numpy  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as e:
        print(f"SKIP: exporting the digits needs numpy and scikit-learn (python3-sklearn) in {sys.executable}: {e}")
        return 77
    train, test = export(argv[1])
    print(f"digits: {train} training and {test} test images of 1x32x32 in {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
