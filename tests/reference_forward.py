"""An independent, functional re-implementation of the reference BENet forward pass (TristanCladiere/BENet,
`lib/models/BENet.py`, configuration `emotic_acivs_1_no_fusion`, optionally `emotic_and_heco_acivs_1_no_fusion`).

It never imports benet: it is the oracle benet is checked against. Weights come from a state dict in the
*reference's own key names* (those of tests/fixtures/reference-state-dict.json); the architecture (number of blocks,
modules, branches, deconvolution stages) is read off the keys, and every operation is a torch.nn.functional call
in the reference's order. Eval mode only (BatchNorm uses its running statistics).

    out = reference_forward(sd, images)   # images N×3×H×W, H and W multiples of 32
    out['hm'], out['hw'], out['bu']       # lists of raw maps, low resolution (H/4) first, then H/2
    out['pc'], out['bg']                  # N×26 raw logits of the PC head and of the context (BG) head
    out['bu_mixed']                       # HECO state dicts only: the reference's `bu_mixed` 1×1 convs on `bu`
"""
import torch
import torch.nn.functional as F

BN_EPS = 1e-5   # every BatchNorm2d of the reference uses the default eps (momentum is irrelevant in eval mode)


def _count(sd, fmt):
    "How many consecutive indices i = 0, 1, ... have `fmt.format(i)` in the state dict."
    n = 0
    while fmt.format(n) in sd: n += 1
    return n


def _bn(x, sd, p):
    return F.batch_norm(x, sd[p + '.running_mean'], sd[p + '.running_var'], sd[p + '.weight'], sd[p + '.bias'],
                        training=False, eps=BN_EPS)


def _conv(x, sd, p, stride=1):
    "Conv2d with 'same' padding (all convs of the reference are 1×1 pad 0 or 3×3 pad 1); bias when the key exists."
    w = sd[p + '.weight']
    return F.conv2d(x, w, sd.get(p + '.bias'), stride=stride, padding=w.shape[-1] // 2)


def _conv_bn(x, sd, p, stride=1, relu=True):
    "nn.Sequential(Conv2d, BatchNorm2d[, ReLU]) at prefix p (sub-modules .0 and .1)."
    x = _bn(_conv(x, sd, p + '.0', stride), sd, p + '.1')
    return F.relu(x) if relu else x


def _attention(x, sd, p):
    "The reference's AttentionBlock: channel attention (shared MLP on avg- and max-pool), then spatial attention."
    def mlp(v): return F.linear(F.relu(F.linear(v, sd[p + '.mlp.0.weight'], sd[p + '.mlp.0.bias'])),
                                sd[p + '.mlp.2.weight'], sd[p + '.mlp.2.bias'])
    # the reference calls `.squeeze()` on the N×C×1×1 pools (N=1 gives a C vector, broadcast back the same way);
    # flatten(1) gives the same numbers for every N
    ca = torch.sigmoid(mlp(F.adaptive_avg_pool2d(x, 1).flatten(1)) + mlp(F.adaptive_max_pool2d(x, 1).flatten(1)))
    t = x * ca[:, :, None, None]
    # spatial attention: 1×1 conv (no bias) on [channel max, channel mean] -- max first
    s = torch.cat([t.max(dim=1).values[:, None], t.mean(dim=1)[:, None]], 1)
    return t * torch.sigmoid(F.conv2d(s, sd[p + '.conv2d.weight']))


def _block(x, sd, p):
    """BasicBlock (conv1-2), Bottleneck (layer1, expansion 4) and HeadBlock (PC/BG heads, expansion 1; conv1-3): each conv
    followed by its BN (and a ReLU but the last), the attention block before the residual add, + x, ReLU."""
    n = 3 if p + '.conv3.weight' in sd else 2
    out = x
    for i in range(1, n + 1):
        out = _bn(_conv(out, sd, f'{p}.conv{i}'), sd, f'{p}.bn{i}')
        if i < n: out = F.relu(out)
    out = _attention(out, sd, p + '.attention_block')
    res = _conv_bn(x, sd, p + '.downsample', relu=False) if p + '.downsample.0.weight' in sd else x
    return F.relu(out + res)


def _transition(xs, sd, t):
    "transition{t}: per new branch i, a stride-1 conv (channel change), a chain of stride-2 convs (new branch) or nothing."
    out = []
    for i in range(_n_branches(sd, t + 1)):
        p = f'transition{t}.{i}'
        # the reference applies transition1 to the single layer1 output, but transition2/3 to the *last* branch
        # y_list[-1] whenever the transition is not None (HRNet quirk; here only new branches have one)
        src = xs[0] if t == 1 else xs[-1]
        if p + '.0.weight' in sd: out.append(_conv_bn(src, sd, p))                 # Sequential(conv s1, bn, relu)
        elif p + '.0.0.weight' in sd:                                              # Sequential of (conv s2, bn, relu)
            y = src
            for k in range(_count(sd, p + '.{}.0.weight')): y = _conv_bn(y, sd, f'{p}.{k}', stride=2)
            out.append(y)
        else: out.append(xs[i])
    return out


def _n_branches(sd, s): return _count(sd, f'stage{s}.0.branches.{{}}.0.conv1.weight')


def _fuse(x, sd, p, i, j):
    "fuse_layers[i][j]: bring branch j to branch i's resolution and width."
    q = f'{p}.fuse_layers.{i}.{j}'
    if j > i:  # 1×1 conv + BN (default BatchNorm2d), then nearest upsampling by 2^(j-i)
        return F.interpolate(_conv_bn(x, sd, q, relu=False), scale_factor=2 ** (j - i), mode='nearest')
    for k in range(i - j):  # i-j stride-2 3×3 conv + BN, ReLU after all but the last
        x = _conv_bn(x, sd, f'{q}.{k}', stride=2, relu=k < i - j - 1)
    return x


def _hr_module(xs, sd, p):
    "HighResolutionModule: BASIC blocks per branch, then SUM fusion (summed in the reference's order), ReLU."
    nb = len(xs)
    xs = list(xs)
    for b in range(nb):
        for k in range(_count(sd, f'{p}.branches.{b}.{{}}.conv1.weight')): xs[b] = _block(xs[b], sd, f'{p}.branches.{b}.{k}')
    out = []
    for i in range(nb):
        y = xs[0] if i == 0 else _fuse(xs[0], sd, p, i, 0)
        for j in range(1, nb): y = y + (xs[j] if i == j else _fuse(xs[j], sd, p, i, j))
        out.append(F.relu(y))
    return out


def backbone(sd, x):
    "Stem, layer1 (Bottlenecks), stages 2-4: the four branch outputs (strides 4, 8, 16, 32)."
    x = F.relu(_bn(_conv(x, sd, 'conv1', stride=2), sd, 'bn1'))
    x = F.relu(_bn(_conv(x, sd, 'conv2', stride=2), sd, 'bn2'))
    for k in range(_count(sd, 'layer1.{}.conv1.weight')): x = _block(x, sd, f'layer1.{k}')
    ys = [x]
    for s in (2, 3, 4):
        xs = _transition(ys, sd, s - 1)
        for m in range(_count(sd, f'stage{s}.{{}}.branches.0.0.conv1.weight')): xs = _hr_module(xs, sd, f'stage{s}.{m}')
        ys = xs
    return ys


def _pred(x, sd, p):
    "Prediction layers: conv3×3 (bias) to (C+out)/2, BN, ReLU, conv (final kernel 1, bias) to out (Sequential .0 .1 .3)."
    return _conv(F.relu(_bn(_conv(x, sd, p + '.0'), sd, p + '.1')), sd, p + '.3')


def _deconv_cfg(k): return {4: (1, 0), 3: (1, 1), 2: (0, 0)}[k]   # (padding, output_padding), as the reference


def two_res_head(x, sd, name):
    "hm / hw / bu head: [low-res prediction, prediction after each HigherHRNet deconvolution stage]."
    fin, dec = f'{name}_final_layers', f'{name}_deconv_layers'
    nb = _count(sd, fin + '.0.{}.0.conv1.weight')
    y = x
    for k in range(nb): y = _block(y, sd, f'{fin}.0.{k}.0')
    y = _pred(y, sd, f'{fin}.0.{nb}')
    outs = [y]
    n_dec = _count(sd, dec + '.{}.0.0.weight')
    # with one deconvolution stage (CAT_OUTPUT True, the only configuration), the Det heads' `cat(x_det, y)` and the
    # BU head's `cat(x_bu, y)` are the same; with more stages the reference's Det heads would reuse x_det
    assert n_dec == 1, 'the reference configurations have exactly one deconvolution stage'
    for i in range(n_dec):
        x = torch.cat([x, y], 1)                       # features first, then the previous prediction
        w = sd[f'{dec}.{i}.0.0.weight']                # ConvTranspose2d weight: in × out × k × k, no bias
        pad, opad = _deconv_cfg(w.shape[-1])
        x = F.relu(_bn(F.conv_transpose2d(x, w, None, stride=2, padding=pad, output_padding=opad), sd, f'{dec}.{i}.0.1'))
        k = 1                                          # then the BasicBlocks, sub-modules 1, 2, 3 of the stage
        while f'{dec}.{i}.{k}.0.conv1.weight' in sd: x = _block(x, sd, f'{dec}.{i}.{k}.0'); k += 1
        y = _pred(x, sd, f'{fin}.{i + 1}')
        outs.append(y)
    return outs


def cls_head(ys, sd, pre):
    "PC (pre='pc_') / context-BG (pre='') head over the 4 branches: HeadBlocks, stride-2 merges, 1×1 conv, avg pool, MLP."
    y = _block(ys[0], sd, f'{pre}incre_modules.0.0')
    for i in range(len(ys) - 1):
        # incre(branch i+1) + downsample(running sum): the reference adds in this order
        y = _block(ys[i + 1], sd, f'{pre}incre_modules.{i + 1}.0') + _conv_bn(y, sd, f'{pre}downsamp_modules.{i}', stride=2)
    y = _conv_bn(y, sd, f'{pre}final_layer')
    y = F.avg_pool2d(y, kernel_size=y.shape[2:]).view(y.shape[0], -1)   # global average pool, as the reference
    c = f'{pre}classifier'
    return F.linear(F.relu(F.linear(y, sd[c + '.0.weight'], sd[c + '.0.bias'])), sd[c + '.2.weight'], sd[c + '.2.bias'])


class _Reads(dict):
    "A dict that records which keys were read (to check that the oracle consumes the whole state dict)."
    def __init__(self, *a):
        super().__init__(*a); self.read = set()
    def __getitem__(self, k):
        self.read.add(k); return super().__getitem__(k)
    def get(self, k, default=None):
        if k in self: return self[k]
        return default


@torch.no_grad()
def reference_forward(sd, images, used=None):
    """Every head of the reference on every image of the batch (the reference runs each head on the rows drawn
    for it; rows are independent in eval mode, so running all of them on all rows gives the same numbers).
    `used`, a set, receives the state-dict keys that were read."""
    dt = images.dtype if images.dtype == torch.float64 else torch.float32   # float64 images: a float64 oracle
    sd = _Reads({k: v.to(dt) if v.is_floating_point() else v for k, v in sd.items()})
    H, W = images.shape[-2:]
    assert H % 32 == 0 and W % 32 == 0, 'H and W must be multiples of 32'
    ys = backbone(sd, images.to(dt))
    out = {h: two_res_head(ys[0], sd, h) for h in ('hm', 'hw', 'bu')}   # Det and BU heads: on the stride-4 branch only
    out['pc'] = cls_head(ys, sd, 'pc_')
    out['bg'] = cls_head(ys, sd, '')   # the reference calls the BG head "context" (unprefixed keys)
    if 'bu_mixed.0.weight' in sd:
        # HECO ("mixed") samples: the reference replaces their BU maps by bu_mixed[r](bu[r]) (conv, final kernel 1).
        # Its pc_mixed / context_mixed / fusion_mixed Linear layers are built but never applied to PC/BG outputs: a
        # HECO sample's "pc_mixed"/"context_mixed" output is the raw 26-logit pc/bg vector (out['pc'], out['bg']).
        out['bu_mixed'] = [_conv(b, sd, f'bu_mixed.{r}') for r, b in enumerate(out['bu'])]
    if used is not None: used |= sd.read
    return out
