#!/usr/bin/env python3
"""Times epochs of torchvision's ImageFolder through a DataLoader: what a training script does
with a folder of images, minus the model. Prints one line per epoch: "epoch N SECONDS IMAGES".

  imagefolder_epochs.py ROOT [--epochs N] [--workers W] [--batch B] [--shuffle]

Each image is decoded and resized to 224x224 and made a tensor (the usual transforms); a checksum
of the pixels is summed so that no read is skipped.
"""
import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--shuffle", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tf = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])
    data = datasets.ImageFolder(a.root, transform=tf)
    loader = DataLoader(data, batch_size=a.batch, shuffle=a.shuffle, num_workers=a.workers,
                        generator=torch.Generator().manual_seed(1))
    for epoch in range(1, a.epochs + 1):
        start = time.monotonic()
        images, total = 0, 0.0
        for x, _ in loader:
            images += x.shape[0]
            total += float(x.sum())
        print(f"epoch {epoch} {time.monotonic() - start:.3f} {images}", flush=True)
    if images != len(data):
        raise SystemExit(f"read {images} images of {len(data)}")


if __name__ == "__main__":
    main()
