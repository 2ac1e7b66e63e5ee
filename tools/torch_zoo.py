#!/usr/bin/python3
"""PyTorch twins of the typenet zoo networks (include/typenet/zoo/networks.hpp).

seed_alexnet, caffe_alexnet and lenet5 are flat nn.Sequential modules with the same layers in the same
order as the typenet declaration, so their state_dict keys ("3.weight") are typenet's default names.
torchvision_alexnet has torchvision.models.alexnet()'s structure and keys (features.N, avgpool,
classifier.N); torchvision itself is not needed for it. resnet18, resnet50, mobilenet_v2 and squeezenet1_1
are torchvision's own models (Debian's python3-torchvision), built without pretrained weights.

  import torch_zoo
  model = torch_zoo.build("lenet5").eval()
  torch_zoo.INPUT_SHAPES["lenet5"]   # (1, 32, 32)
"""
import torch
from torch import nn


def seed_alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(),                      # 0, 1
        nn.MaxPool2d(3, 2),                                             # 2
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(),                    # 3, 4
        nn.MaxPool2d(3, 2),                                             # 5
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),                   # 6, 7
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),                   # 8, 9
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),                   # 10, 11
        nn.MaxPool2d(3, 2),                                             # 12
        nn.Flatten(),                                                   # 13
        nn.Dropout(0.5), nn.Linear(9216, 4096), nn.ReLU(),              # 14-16
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),              # 17-19
        nn.Linear(4096, 1000), nn.Softmax(dim=1))                       # 20, 21


class TorchvisionAlexNet(nn.Module):
    """torchvision.models.alexnet() (v0.14), written out: same submodules, same state_dict keys."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def torchvision_alexnet():
    return TorchvisionAlexNet()


def _lrn():
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


def caffe_alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), _lrn(),                      # 0-2
        nn.MaxPool2d(3, 2, ceil_mode=True),                                     # 3
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), _lrn(),          # 4-6
        nn.MaxPool2d(3, 2, ceil_mode=True),                                     # 7
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),                           # 8, 9
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),                 # 10, 11
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(),                 # 12, 13
        nn.MaxPool2d(3, 2, ceil_mode=True),                                     # 14
        nn.Flatten(),                                                           # 15
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),                      # 16-18
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),                      # 19-21
        nn.Linear(4096, 1000), nn.Softmax(dim=1))                               # 22, 23


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(),          # 0, 1
        nn.MaxPool2d(2, 2),                     # 2
        nn.Conv2d(6, 16, 5), nn.ReLU(),         # 3, 4
        nn.MaxPool2d(2, 2),                     # 5
        nn.Flatten(),                           # 6
        nn.Linear(400, 120), nn.ReLU(),         # 7, 8
        nn.Linear(120, 84), nn.ReLU(),          # 9, 10
        nn.Linear(84, 10))                      # 11


def _torchvision(name):
    def build():
        import torchvision  # only the graph networks need it
        return getattr(torchvision.models, name)()
    build.__name__ = name
    return build


GRAPH_NETWORKS = ("resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1")

NETWORKS = {
    **{name: _torchvision(name) for name in GRAPH_NETWORKS},
    "seed_alexnet": seed_alexnet,
    "torchvision_alexnet": torchvision_alexnet,
    "caffe_alexnet": caffe_alexnet,
    "lenet5": lenet5,
}

INPUT_SHAPES = {
    "seed_alexnet": (3, 227, 227),
    "torchvision_alexnet": (3, 224, 224),
    "caffe_alexnet": (3, 227, 227),
    "lenet5": (1, 32, 32),
    **{name: (3, 224, 224) for name in GRAPH_NETWORKS},
}

ENDS_IN_SOFTMAX = {"seed_alexnet": True, "torchvision_alexnet": False, "caffe_alexnet": True, "lenet5": False,
                   **{name: False for name in GRAPH_NETWORKS}}


def build(name):
    if name not in NETWORKS:
        raise KeyError(f"unknown network '{name}' (known: {', '.join(NETWORKS)})")
    return NETWORKS[name]()


def logits_module(model):
    """The model without a final Softmax (itself when it has none): what --huge scales."""
    if isinstance(model, nn.Sequential) and isinstance(model[-1], nn.Softmax):
        return model[:-1]
    return model
