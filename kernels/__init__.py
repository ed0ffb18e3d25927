"""heed.kernels: Triton kernels for the trainer, each beside a plain-PyTorch reference.

In the style of Liger-Kernel, every op has a file of its own holding the Triton kernel(s),
a `*_reference` function in plain PyTorch that states the maths, and a function (with, where
the model holds parameters, an nn.Module) that runs the kernel on CUDA tensors and the reference
elsewhere. The kernels are PyTorch custom ops (`torch.ops.heed.*`, forward and backward each
an op with its shape function and autograd formula), so torch.compile keeps each as one node:

* rmsnorm.py        RMSNorm (pre-norm, eps 1e-5), forward and backward with the weight gradient
* rope.py           QK-norm + RoPE: per-head RMSNorm then rotate-half RoPE (θ = 500k) on q and
                    k (GQA), positions as a tensor so packed documents restart them
* xielu.py          xIELU with its two learnable scalars per layer
* cross_entropy.py  fused linear cross-entropy: chunked over tokens, never the full logits,
                    per-token weights (Goldfish mask, padding) and ignore_index −100
* ademamix.py       one fused AdEMAMix step per parameter tensor, in place

`use_kernel=True` insists on the kernel: on CPU tensors that works only under Triton's
interpreter, i.e. with TRITON_INTERPRET=1 set before this package is imported (fp32 only),
which is how tests/test_kernels.py checks every kernel against its reference without a GPU.
benchmarks/kernels.py times them against eager PyTorch and torch.compile on a GPU.

Import the op from its module (`from heed.kernels.rmsnorm import rms_norm`): the package itself
imports nothing, so that `import kernels` costs nothing, and the function `xielu` does not
shadow the module `heed.kernels.xielu`. This package may import torch and triton only.
"""
