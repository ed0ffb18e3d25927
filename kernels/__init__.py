"""heed.kernels: Triton kernels for the trainer, each beside a plain-PyTorch reference.

Empty until the kernels issue lands; it may import torch and triton only."""
