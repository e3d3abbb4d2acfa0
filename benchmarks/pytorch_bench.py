#!/usr/bin/env python3
"""PyTorch reference for `npm run bench`: the same two steps on the same network, on CPU.

MobileFaceNet in insightface's layout (arcface_torch `backbones/mobilefacenet.py`, scale 1,
blocks [1, 4, 6, 2], 512-d; width and input size as arcinvert's `width` / `inputSize`), built exactly as arcinvert's `src/backbone/mobilefacenet.ts`
(PReLU per channel with slope 0.25, BN eps 1e-5), so parameter counts match. Two steps, timed
per image as in `src/bench/steps.ts`:

  - inversion: input gradient in eval mode of the cosine identity loss + the DeepInversion BN
    prior (L2 norms of mean / variance differences at every BN input, first layer x10) + TV-L2
    + pixel L2 on a jittered, flipped batch, then an Adam step on the pixels and a clip;
  - training: train-mode forward, sub-center ArcFace head (1000 classes, K = 3, s = 64,
    m = 0.5), softmax cross-entropy, backward through all weights, SGD with momentum 0.9.

Not part of `npm ci` or CI; needs `torch` (Debian: `apt-get install python3-torch`).
Compare at batch >= 16: with one thread and a smaller batch, torch 1.13 sends 1x1 convs to
its slow im2col path (`_slow_conv2d_forward/backward`) instead of oneDNN.

  python3 benchmarks/pytorch_bench.py [--batches 8,32] [--steps 3] [--threads 1] [--width 64] [--size 112] [--json]
  python3 benchmarks/pytorch_bench.py --kernels [--threads 1] [--json]   (single kernels, as npm run bench -- --kernels)
"""
import argparse
import json
import math
import platform
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Module):
    """Conv -> BN -> PReLU (insightface ConvBlock); `linear` drops the PReLU (LinearBlock)."""

    def __init__(self, cin, cout, k, s, groups=1, linear=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2 if k > 1 else 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
        self.act = None if linear else nn.PReLU(cout, init=0.25)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return y if self.act is None else self.act(y)


class Bottleneck(nn.Module):
    """Expand 1x1 -> depthwise 3x3 (stride) -> project 1x1, residual when asked."""

    def __init__(self, cin, cout, expand, stride, residual):
        super().__init__()
        self.residual = residual
        self.expand = ConvBlock(cin, expand, 1, 1)
        self.dw = ConvBlock(expand, expand, 3, stride, groups=expand)
        self.project = ConvBlock(expand, cout, 1, 1, linear=True)

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    def __init__(self, width=64, blocks=(1, 4, 6, 2), embedding=512, head=512, size=112):
        super().__init__()
        w = width
        layers = [ConvBlock(3, w, 3, 2), ConvBlock(w, w, 3, 1, groups=w)]
        cin = w
        for out, down_expand, res_expand, n in [(w, 2 * w, 2 * w, blocks[1]), (2 * w, 4 * w, 4 * w, blocks[2]), (2 * w, 8 * w, 4 * w, blocks[3])]:
            layers.append(Bottleneck(cin, out, down_expand, 2, False))
            layers += [Bottleneck(out, out, res_expand, 1, True) for _ in range(n)]
            cin = out
        layers.append(ConvBlock(2 * w, head, 1, 1))
        self.features = nn.Sequential(*layers)
        g = size // 16
        self.gdc = nn.Conv2d(head, head, g, 1, 0, groups=head, bias=False)
        self.gdc_bn = nn.BatchNorm2d(head, eps=1e-5)
        self.fc = nn.Linear(head, embedding, bias=False)
        self.fc_bn = nn.BatchNorm1d(embedding, eps=1e-5)

    def forward(self, x):
        x = self.gdc_bn(self.gdc(self.features(x)))
        return self.fc_bn(self.fc(torch.flatten(x, 1)))


def bn_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def time_inversion(model, batch, steps, size=112, warmup=2):
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    stats = []

    def hook(module, inputs, _output):
        x = inputs[0]
        dims = [0, 2, 3] if x.dim() == 4 else [0]
        stats.append((x.mean(dims), x.var(dims, unbiased=False), module))

    handles = [m.register_forward_hook(hook) for m in bn_layers(model)]
    gen = torch.Generator().manual_seed(0)
    target = F.normalize(torch.randn(batch, 512, generator=gen), dim=1)
    x = (torch.randn(batch, 3, size, size, generator=gen) * 0.25).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.25, betas=(0.5, 0.9), eps=1e-8)
    lo, hi = -127.5 / 128, 127.5 / 128
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        stats.clear()
        opt.zero_grad(set_to_none=True)
        dy, dx = (int(v) for v in torch.randint(-4, 5, (2,), generator=gen))
        img = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        if step % 2 == 0:
            img = torch.flip(img, dims=(3,))
        emb = model(img)
        identity = (1 - (F.normalize(emb, dim=1) * target).sum(1)).mean()
        bn = 0.0
        for i, (mean, var, m) in enumerate(stats):
            term = torch.sqrt(((mean - m.running_mean) ** 2).sum() + 1e-8) + torch.sqrt(((var - m.running_var) ** 2).sum() + 1e-8)
            bn = bn + (10 if i == 0 else 1) * term
        tv = ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean((1, 2, 3)) + ((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).mean((1, 2, 3))
        loss = identity + 0.003 * bn + 0.2 * tv.mean() + 1e-4 * (x ** 2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(lo, hi)
        float(loss)
    ms = (time.perf_counter() - start) * 1000 / steps
    for h in handles:
        h.remove()
    for p in model.parameters():
        p.requires_grad_(True)
    return ms


class SubcenterArcFace(nn.Module):
    def __init__(self, dim=512, classes=1000, k=3, s=64.0, m=0.5):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, classes * k) * 0.01)
        self.classes, self.k, self.s, self.m = classes, k, s, m

    def forward(self, emb, labels):
        cos = F.normalize(emb, dim=1) @ F.normalize(self.weight, dim=0)
        cos = cos.view(-1, self.classes, self.k).max(2).values.clamp(-1, 1)
        target = cos.gather(1, labels[:, None])
        theta = torch.acos(target.clamp(-1 + 1e-7, 1 - 1e-7))
        marged = torch.where(theta + self.m < math.pi, torch.cos(theta + self.m), target - self.m * math.sin(self.m))
        logits = cos.scatter(1, labels[:, None], marged) * self.s
        return F.cross_entropy(logits, labels)


def time_training(model, batch, steps, size=112, warmup=1):
    model.train()
    head = SubcenterArcFace()
    opt = torch.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.1, momentum=0.9)
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
    labels = torch.tensor([(i * 7) % 1000 for i in range(batch)])
    start = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = head(model(x), labels)
        loss.backward()
        opt.step()
        float(loss)
    return (time.perf_counter() - start) * 1000 / steps


def time_kernels(reps=10):
    """The single kernels of `src/bench/kernels.ts` (same names, shapes and work), NCHW."""
    n = 8
    cases = [
        ('pointwise conv 1\u00d71, 128 \u2192 64', [(n, 128, 28, 28), (64, 128, 1, 1)], 2 * n * 28 * 28 * 128 * 64, 'GFLOP/s', lambda x, w: F.conv2d(x, w)),
        ('pointwise conv 1\u00d71, 32 \u2192 64', [(n, 32, 56, 56), (64, 32, 1, 1)], 2 * n * 56 * 56 * 32 * 64, 'GFLOP/s', lambda x, w: F.conv2d(x, w)),
        ('depthwise conv 3\u00d73, 64 channels', [(n, 64, 56, 56), (64, 1, 3, 3)], 2 * 9 * n * 56 * 56 * 64, 'GFLOP/s', lambda x, w: F.conv2d(x, w, padding=1, groups=64)),
        ('matMul (weight gradient of a 1\u00d71 conv)', [(64, 25088), (25088, 32)], 2 * 64 * 25088 * 32, 'GFLOP/s', lambda a, b: a @ b),
        ('element-wise multiply', [(n, 64, 56, 56), (n, 64, 56, 56)], 3 * n * 56 * 56 * 64 * 4, 'GB/s', lambda a, b: a * b),
        ('per-channel sum (BN statistics, gradients)', [(n, 64, 56, 56)], n * 56 * 56 * 64 * 4, 'GB/s', lambda x: x.sum((0, 2, 3))),
    ]
    rows = []
    with torch.no_grad():
        for name, shapes, work, unit, run in cases:
            bases = [torch.randn(*s) for s in shapes]
            total = 0.0
            for r in range(reps + 2):
                xs = [b + 0 for b in bases]
                t0 = time.perf_counter()
                run(*xs)
                if r >= 2:
                    total += time.perf_counter() - t0
            ms = total * 1000 / reps
            rows.append({'name': name, 'ms': ms, 'rate': work / (ms * 1e6), 'unit': unit})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batches', default='8,32')
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1, help='intra-op threads (1 = like one wasm instance)')
    parser.add_argument('--width', type=int, default=64, help='MobileFaceNet width (channels of the first layers)')
    parser.add_argument('--size', type=int, default=112, help='input height and width (a multiple of 16)')
    parser.add_argument('--json', action='store_true', help='one JSON object on stdout instead of a table')
    parser.add_argument('--kernels', action='store_true', help='time the single kernels of src/bench/kernels.ts instead of the steps')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    machine = f'{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)'
    if args.kernels:
        rows = time_kernels()
        if args.json:
            print(json.dumps({'machine': machine, 'kernels': rows}))
        else:
            for r in rows:
                print(f"{r['name']:<45} {r['ms']:8.2f} ms {r['rate']:7.1f} {r['unit']}")
        return
    torch.manual_seed(1)
    model = MobileFaceNet(width=args.width, size=args.size)
    # Weights plus BN running statistics, as tf.LayersModel.countParams() counts them.
    params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if 'running' in n)
    rows = []
    for b in (int(v) for v in args.batches.split(',')):
        ms = time_inversion(model, b, args.steps, args.size)
        rows.append({'step': 'inversion', 'batch': b, 'msPerStep': ms, 'msPerImage': ms / b})
    for b in (int(v) for v in args.batches.split(',')):
        ms = time_training(model, b, args.steps, args.size)
        rows.append({'step': 'training', 'batch': b, 'msPerStep': ms, 'msPerImage': ms / b})
    if args.json:
        print(json.dumps({'machine': machine, 'parameters': params, 'bnLayers': len(bn_layers(model)), 'rows': rows}))
        return
    print(f'PyTorch reference: {machine}; MobileFaceNet {params:,} parameters, {len(bn_layers(model))} BN layers')
    for r in rows:
        print(f"{r['step']:>9} batch {r['batch']:>3}: {r['msPerStep']:8.0f} ms/step {r['msPerImage']:7.1f} ms/image-step")


if __name__ == '__main__':
    main()
