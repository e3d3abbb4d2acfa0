"""Regenerates the tiny ONNX fixtures in tests/fixtures/onnx/ used by the ONNX importer tests.

Run from the repository root:  /usr/bin/python3 scripts/onnx-fixtures.py
(needs torch and numpy; onnx, if installed, is used to mark the batch axis dynamic as
insightface's torch2onnx.py does and to run onnx.checker). CI never runs this: the outputs
are committed, so CI needs no Python.

The models copy the module structure of insightface's recognition/arcface_torch backbones
(iresnet.py, mobilefacenet.py) with fp16/checkpointing removed and small widths; weights are
random (fixed seed) and every BatchNorm's statistics/affine and every PReLU slope is randomised
so that folding BN into the convs is not trivial. Export matches arcface_torch/torch2onnx.py:
torch.onnx.export(net, img[1,3,112,112], path, input_names=["data"],
keep_initializers_as_inputs=False, verbose=False, opset_version=11), then input dim 0 is set
to dim_param 'None'.

For each <name> it writes <name>.onnx, <name>.input.npy (float32 [4,3,112,112] NCHW in
[-1,1]) and <name>.output.npy (float32 [4,64], the PyTorch eval-mode output).
With --full OUTDIR it writes the same three files for full-size iresnet50 (layers [3,4,14,3],
planes 64..512) and mobilefacenet (get_model('mbf'): scale 2, blocks (1,4,6,2)), embedding 512,
into OUTDIR instead (for a realism check of the importer; these are large, do not commit them).

Last run (torch 1.13.0a0, onnx 1.12.0); all other BatchNorms were folded into the Conv before them:
  iresnet-tiny.onnx (layers [2,1,1,1], planes 8/16/32/64, fc 64*7*7 -> 64), 1128974 bytes:
    Add 5, BatchNormalization 7, Conv 15, Flatten 1, Gemm 1, PRelu 6
    BN kept: each block's bn1 (5), bn2 (before Flatten), features (after Gemm)
  mobilefacenet-tiny.onnx (scale 2, blocks (1,4,6,2), all widths/groups / 8), 194635 bytes:
    Add 12, BatchNormalization 1, Constant 1, Conv 49, MatMul 1, PRelu 33, Reshape 1
    BN kept: the final BatchNorm1d only. Flatten's x.view(x.size(0), -1) is traced at batch 1
    into Reshape(shape=Constant [1,-1]), so despite the 'None' input dim the graph as written only
    runs at batch 1 (as with insightface's own export under this torch); feed images one by one.
"""
import argparse
import os
from collections import Counter

import numpy as np
import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'onnx')
EMB = 64


# ---- iresnet.py (insightface), planes scaled by `width` (64 in insightface) -----------------
def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes, eps=1e-05)
        self.conv1 = conv3x3(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes, eps=1e-05)
        self.prelu = nn.PReLU(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes, eps=1e-05)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.bn1(x)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.prelu(out)
        out = self.conv2(out)
        out = self.bn3(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return out


class IResNet(nn.Module):
    fc_scale = 7 * 7

    def __init__(self, layers, width=64, num_features=512, dropout=0.0):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-05)
        self.prelu = nn.PReLU(width)
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1])
        self.layer3 = self._make_layer(width * 4, layers[2])
        self.layer4 = self._make_layer(width * 8, layers[3])
        self.bn2 = nn.BatchNorm2d(width * 8, eps=1e-05)
        self.dropout = nn.Dropout(p=dropout, inplace=True)
        self.fc = nn.Linear(width * 8 * self.fc_scale, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-05)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)

    def _make_layer(self, planes, blocks, stride=2):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride),
                                       nn.BatchNorm2d(planes, eps=1e-05))
        layers = [IBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.prelu(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.bn2(x)
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        x = self.fc(x)
        x = self.features(x)
        return x


# ---- mobilefacenet.py (insightface); every hard-coded width/groups count divided by `div` ----
class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class ConvBlock(nn.Module):
    def __init__(self, in_c, out_c, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_c, out_c, kernel, groups=groups, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(num_features=out_c),
            nn.PReLU(num_parameters=out_c))

    def forward(self, x):
        return self.layers(x)


class LinearBlock(nn.Module):
    def __init__(self, in_c, out_c, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(num_features=out_c))

    def forward(self, x):
        return self.layers(x)


class DepthWise(nn.Module):
    def __init__(self, in_c, out_c, residual=False, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=1):
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(
            ConvBlock(in_c, out_c=groups, kernel=(1, 1), padding=(0, 0), stride=(1, 1)),
            ConvBlock(groups, groups, groups=groups, kernel=kernel, padding=padding, stride=stride),
            LinearBlock(groups, out_c, kernel=(1, 1), padding=(0, 0), stride=(1, 1)))

    def forward(self, x):
        return x + self.layers(x) if self.residual else self.layers(x)


class Residual(nn.Module):
    def __init__(self, c, num_block, groups, kernel=(3, 3), stride=(1, 1), padding=(1, 1)):
        super().__init__()
        self.layers = nn.Sequential(*[DepthWise(c, c, True, kernel, stride, padding, groups)
                                      for _ in range(num_block)])

    def forward(self, x):
        return self.layers(x)


class GDC(nn.Module):
    def __init__(self, c, embedding_size):
        super().__init__()
        self.layers = nn.Sequential(
            LinearBlock(c, c, groups=c, kernel=(7, 7), stride=(1, 1), padding=(0, 0)),
            Flatten(),
            nn.Linear(c, embedding_size, bias=False),
            nn.BatchNorm1d(embedding_size))

    def forward(self, x):
        return self.layers(x)


class MobileFaceNet(nn.Module):
    def __init__(self, num_features=512, blocks=(1, 4, 6, 2), scale=2, div=1):
        super().__init__()
        c64, c128 = 64 * scale // div, 128 * scale // div
        g = lambda n: n // div  # noqa: E731
        self.layers = nn.ModuleList()
        self.layers.append(ConvBlock(3, c64, kernel=(3, 3), stride=(2, 2), padding=(1, 1)))
        if blocks[0] == 1:
            self.layers.append(ConvBlock(c64, c64, kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=g(64)))
        else:
            self.layers.append(Residual(c64, num_block=blocks[0], groups=g(128)))
        self.layers.extend([
            DepthWise(c64, c64, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g(128)),
            Residual(c64, num_block=blocks[1], groups=g(128)),
            DepthWise(c64, c128, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g(256)),
            Residual(c128, num_block=blocks[2], groups=g(256)),
            DepthWise(c128, c128, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=g(512)),
            Residual(c128, num_block=blocks[3], groups=g(256)),
        ])
        self.conv_sep = ConvBlock(c128, g(512), kernel=(1, 1), stride=(1, 1), padding=(0, 0))
        self.features = GDC(g(512), num_features)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def forward(self, x):
        for func in self.layers:
            x = func(x)
        x = self.conv_sep(x)
        return self.features(x)


# ---- randomise, export, record ------------------------------------------------------------
def randomise(net):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.4)
    return net.eval()


def make(name, net, seed, out=OUT):
    torch.manual_seed(seed)
    randomise(net)
    path = os.path.join(out, name + '.onnx')
    rng = np.random.default_rng(seed)
    # torch2onnx.py's dummy input: random uint8 pixels, (x/255 - 0.5)/0.5, one image.
    img = torch.from_numpy(((rng.integers(0, 256, (1, 3, 112, 112)) / 255. - 0.5) / 0.5).astype(np.float32))
    torch.onnx.export(net, img, path, input_names=['data'], keep_initializers_as_inputs=False,
                      verbose=False, opset_version=11)
    x = ((rng.integers(0, 256, (4, 3, 112, 112)) / 255. - 0.5) / 0.5).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).numpy().astype(np.float32)
    np.save(os.path.join(out, name + '.input.npy'), x, allow_pickle=False)
    np.save(os.path.join(out, name + '.output.npy'), y, allow_pickle=False)
    try:
        import onnx
    except ImportError:
        print(name, 'onnx not installed: batch axis left static, graph not checked')
        return
    model = onnx.load(path)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = 'None'
    onnx.checker.check_model(model)
    onnx.save(model, path)
    ops = Counter(n.op_type for n in model.graph.node)
    print('%s: %d bytes, output %s %s, |y| mean %.3f' % (
        name, os.path.getsize(path), y.shape, model.graph.output[0].name, np.abs(y).mean()))
    print('  ops:', ', '.join('%s %d' % kv for kv in sorted(ops.items())))
    print('  BatchNormalization kept:', ', '.join(n.name for n in model.graph.node if n.op_type == 'BatchNormalization'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--full', metavar='OUTDIR',
                    help='instead write full-size random-weight models (never committed): iresnet50 '
                         "and mobilefacenet as arcface_torch get_model('r50'/'mbf'), embedding 512")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.full:
        os.makedirs(args.full, exist_ok=True)
        torch.manual_seed(0)
        make('iresnet50', IResNet([3, 4, 14, 3], width=64, num_features=512), 1, args.full)
        torch.manual_seed(0)
        make('mobilefacenet', MobileFaceNet(num_features=512, blocks=(1, 4, 6, 2), scale=2), 2, args.full)
        return
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    make('iresnet-tiny', IResNet([2, 1, 1, 1], width=8, num_features=EMB), 1)
    torch.manual_seed(0)
    make('mobilefacenet-tiny', MobileFaceNet(num_features=EMB, blocks=(1, 4, 6, 2), scale=2, div=8), 2)


if __name__ == '__main__':
    main()
