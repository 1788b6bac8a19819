#!/usr/bin/env python
"""benet benchmarks: size, speed and scaling of BENet against top-down pipelines, measured in one run.

    python benchmarks/bench.py                 # everything (about 10-15 min on a 2-core CPU) -> benchmarks/
    python benchmarks/bench.py --tiny          # every section end to end, small sizes, one round (seconds)
    python benchmarks/bench.py --only 2,3      # some sections; --out DIR writes elsewhere; --gpu asks for section 7

Writes `results.json` (every number), `results.md` (tables, ratios, targets met or missed) and the plots (`*.png`)
into `--out`. The machine is shared and noisy, so every comparison is measured in the same run, the candidates
interleaved round by round (the order rotates each round), and reported as ratios: the median over rounds of the
per-round ratio, beside each candidate's median and minimum time. Timings use `torch.set_num_threads(2)`.
"""
from __future__ import annotations
import argparse, contextlib, copy, datetime, gc, json, math, os, platform, re, shutil, statistics, sys, tempfile, time, traceback, warnings
from pathlib import Path

import numpy as np
os.environ.setdefault('KINETO_LOG_LEVEL', '5')      # the profiler's C++ start/stop chatter
# Idle OpenMP threads sleep instead of spinning (set before torch loads its OpenMP runtime). On a shared machine a
# spinning thread waits for a partner that another process has descheduled: 2-thread timings then swing 4-10x.
# Every candidate runs under the same policy (onnxruntime's spinning is turned off likewise); --spin keeps the default.
SPIN = '--spin' in sys.argv
if not SPIN: os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))   # run from a clone without an editable install too

warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export.*')
warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')

import timm
from benet.models import create_model, model_info, n_params, HEADS
from benet.testing import seeded_state_dict
from benet.params import paper_params, PAPER_CONFIGS, DEFAULTS
from benet.codec import Codec
from benet.transforms import normalize
from benet.optimize import optimize_for_inference, keep_heads, fuse_bn, fast_attention, to_channels_last

SECTIONS = {1: 'size', 2: 'floor', 3: 'people', 4: 'loader', 5: 'evaluation', 6: 'folder', 7: 'gpu', 8: 'train'}
TITLES = {1: 'Size and cost per configuration', 2: 'The backbone floor and what each optimisation gains',
          3: 'Bottom-up vs top-down, 1 to 32 people', 4: 'Pipeline balance: data loader vs training step',
          5: 'Evaluation speed (EMOTIC-sized test set)', 6: 'Folder inference, and ONNX Runtime vs torch',
          7: 'GPU (bf16 autocast, channels-last vs fp32)', 8: 'Training throughput: fp32, bf16, channels-last, compile'}
WARMUP = 1   # warm-up calls per candidate (0 in --tiny)
BACKBONES = {'faithful': 'benet_hrnet_w32', 'light': 'benet_light'}


# ---------------------------------------------------------------------------------------------------- settings
class Cfg:
    "Sizes and repeats of a full run, or of `--tiny` (small sizes, one round: checks that everything runs)."
    def __init__(self, tiny: bool):
        self.tiny = tiny
        self.size = 64 if tiny else 512                 # BENet input (and the floor's)
        self.rounds = 1 if tiny else 5                  # interleaved timing rounds (after warm-up)
        self.people_rounds = 1 if tiny else 5
        self.people = (1, 2, 4, 8, 16, 32)
        self.crop = 32 if tiny else 128                 # top-down person crop
        self.image_side = 64 if tiny else 224           # top-down whole-image stream
        self.det_size = 64 if tiny else 512             # detector input (same pixels as BENet's)
        self.compile = not tiny                         # inductor compiles for minutes on 2 cores: off in --tiny
        self.loader_batch = 2 if tiny else 8
        self.loader_batches = 2 if tiny else 6
        self.train_steps = 1 if tiny else 3
        self.synth_train = 6 if tiny else 30
        self.eval_images = 150 if tiny else 4400
        self.folder_images = 2 if tiny else 6
        self.gpu_batch = 24
        # section 8 on CPU: benet_light at 128 px, batch 8 (the cpu_synth configuration's sizes); on CUDA the faithful
        # model at 512 px, batch 24 (the paper's); --tiny: benet_tiny at 64 px, batch 2
        self.train_cpu = ('benet_tiny', 64, 2) if tiny else ('benet_light', 128, 8)
        self.train_rounds = 1 if tiny else 5
        self.profile_rows = 12
        # --tiny runs the same code on small stand-ins: benet_tiny for both BENets, timm hrnet_w18_small as the floor
        self.backbones = {'faithful': 'benet_tiny', 'light': 'benet_tiny'} if tiny else dict(BACKBONES)
        self.floor = 'hrnet_w18_small' if tiny else 'hrnet_w32'


# ---------------------------------------------------------------------------------------------------- helpers
def timeit(fns: dict, rounds: int, warmup: int | None = None) -> dict:
    "Seconds per call of each function: warm-up calls, then `rounds` rounds calling each once, the order rotating."
    names = list(fns)
    if warmup is None: warmup = WARMUP
    for n in names:
        for _ in range(warmup): fns[n]()
    times = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            t0 = time.perf_counter(); fns[n](); times[n].append(time.perf_counter() - t0)
    return times

def stat(ts) -> dict:
    return dict(median=statistics.median(ts), min=min(ts), n=len(ts), all=[round(t, 5) for t in ts])

def ratio(times: dict, a: str, b: str) -> float:
    "Median over rounds of time(a)/time(b) measured in the same round."
    return statistics.median(x / y for x, y in zip(times[a], times[b]))

def _status_kb(key: str) -> int | None:
    try: return int(re.search(rf'{key}:\s+(\d+)', Path('/proc/self/status').read_text())[1])
    except (OSError, TypeError): return None

def peak_mb(fn) -> float | None:
    "Peak resident memory added while `fn()` runs (MB): Linux's high-water mark reset first (/proc/self/clear_refs)."
    gc.collect()
    with contextlib.suppress(Exception):      # hand freed heap pages back first, so the baseline is what is really in use
        import ctypes; ctypes.CDLL('libc.so.6').malloc_trim(0)
    try: Path('/proc/self/clear_refs').write_text('5')
    except OSError: return None
    base = _status_kb('VmRSS'); fn(); peak = _status_kb('VmHWM')
    return None if base is None or peak is None else (peak - base) / 1024

def fmt(v, nd=2, unit=''):
    if v is None or (isinstance(v, float) and math.isnan(v)): return 'n/a'
    return f'{v:.{nd}f}{unit}'

def table(rows: list[list], header: list[str]) -> str:
    out = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return '\n'.join(out)

def machine() -> dict:
    cpu = platform.processor() or ''
    with contextlib.suppress(OSError):
        m = re.search(r'model name\s*:\s*(.+)', Path('/proc/cpuinfo').read_text())
        if m: cpu = m[1].strip()
    mem = None
    with contextlib.suppress(OSError, TypeError):
        mem = round(int(re.search(r'MemTotal:\s+(\d+)', Path('/proc/meminfo').read_text())[1]) / 2**20, 1)
    vers = {}
    for mod in ('timm', 'torchvision', 'onnxruntime', 'onnx', 'numpy', 'fastai'):
        with contextlib.suppress(Exception): vers[mod] = __import__(mod).__version__
    return dict(cpu=cpu, cores=os.cpu_count(), memory_gb=mem, platform=platform.platform(), python=platform.python_version(),
                torch=torch.__version__, threads=torch.get_num_threads(), mkldnn=torch.backends.mkldnn.is_available(),
                cuda=torch.cuda.is_available(), versions=vers, omp_wait_policy=os.environ.get('OMP_WAIT_POLICY', 'default (spinning)'),
                load_start=list(os.getloadavg()) if hasattr(os, 'getloadavg') else None)

def seeded_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    "Plausible BatchNorm statistics (not the fresh 0/1), so folding them is real work and a wrong fold would show."
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(1 + 0.2 * torch.rand(m.num_features, generator=g))
    return model


# ---------------------------------------------------------------------------------------------------- models
class Models:
    "The networks every section shares, built once: naive (as trained: all heads, NCHW), optimised eager, compiled."
    def __init__(self, cfg: Cfg, echo):
        self.cfg, self.echo, self._m, self.compile_info = cfg, echo, {}, {}

    def naive(self, kind: str) -> nn.Module:
        if (kind, 'naive') not in self._m:
            m = create_model(self.cfg.backbones[kind]).eval()
            # trained-like magnitudes (the reference init's N(0, 0.001) weights give near-zero activations)
            m.load_state_dict(seeded_state_dict([(k, v.shape) for k, v in m.state_dict().items()], seed=0))
            self._m[kind, 'naive'] = m
        return self._m[kind, 'naive']

    def optimized(self, kind: str) -> nn.Module:
        if (kind, 'opt') not in self._m:
            x = torch.randn(1, 3, 64, 64)
            self._m[kind, 'opt'] = optimize_for_inference(self.naive(kind), check=x)   # raises if the maps change
        return self._m[kind, 'opt']

    def compiled(self, kind: str, x: torch.Tensor):
        "The compiled model (None when compiling fails: the error is kept in compile_info)."
        if (kind, 'compiled') not in self._m:
            from torch._inductor.runtime.cache_dir_utils import cache_dir
            cd = Path(cache_dir())
            warm = cd.is_dir() and any(cd.iterdir())
            m = optimize_for_inference(self.naive(kind), compile=True)
            t0 = time.perf_counter()
            try:
                with torch.inference_mode(): out = m(x)
                want = self.optimized(kind)
                with torch.inference_mode(): ref = want(x)
                diff = max(float((a - b).abs().max()) for k in ref for a, b in zip(ref[k], out[k]))
                self.compile_info[kind] = dict(seconds=time.perf_counter() - t0, cache='warm' if warm else 'cold',
                                               max_abs_diff_vs_eager=diff, error=None)
            except Exception as e:   # no C++ compiler, an inductor bug...: reported, the rest of the run goes on
                self.compile_info[kind] = dict(seconds=time.perf_counter() - t0, cache='warm' if warm else 'cold', error=f'{type(e).__name__}: {e}'[:400])
                m = None
            self._m[kind, 'compiled'] = m
            self.echo(f"  compiled {kind}: {self.compile_info[kind]}")
        return self._m[kind, 'compiled']


def image(size: int, seed: int = 0) -> torch.Tensor:
    "A 3×size×size float image in [0, 1] (smooth random content)."
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(size // 16, 2), max(size // 16, 2), generator=g)
    return (F.interpolate(low, size=(size, size), mode='bilinear', align_corners=False)[0] * 0.8
            + 0.2 * torch.rand(3, size, size, generator=g)).clamp(0, 1)

def person_boxes(n: int, size: int) -> torch.Tensor:
    "n person boxes (x1y1x2y2, portrait 1:2) on a grid covering a size×size image."
    cols = math.ceil(math.sqrt(n / 2)) * 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    cw, ch = size / cols, size / rows
    w, h = min(cw, ch / 2) * 0.9, min(cw, ch / 2) * 1.8
    i = torch.arange(n)
    cx, cy = (i % cols + 0.5) * cw, (i // cols + 0.5) * ch
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).float()

def benet_pipeline(model, codec: Codec, img: torch.Tensor, n: int, det_thr: float = 0.1):
    "One image through BENet: normalise, Det+BU forward, decode (k = max(15, n) peaks)."
    out = model(normalize(img)[None])
    return codec.decode(out, det_thr=det_thr, k=max(15, n), project=True)


# ---------------------------------------------------------------------------------------------------- top-down
class TwoStream(nn.Module):
    "EMOTIC-baseline-style top-down emotion network: ResNet-18 on the person crop + ResNet-18 on the whole image, fused → 26."
    def __init__(self):
        super().__init__()
        self.body = timm.create_model('resnet18', pretrained=False, num_classes=0)
        self.image = timm.create_model('resnet18', pretrained=False, num_classes=0)
        f = self.body.num_features + self.image.num_features
        self.fuse = nn.Sequential(nn.Linear(f, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True), nn.Linear(256, 26))

    def forward(self, crops, images):
        b, i = self.body(crops), self.image(images)
        if i.shape[0] != b.shape[0]: i = i.expand(b.shape[0], -1)     # image stream once per image: shared by everyone
        return torch.sigmoid(self.fuse(torch.cat([b, i], 1)))

def _cl(x): return x.contiguous(memory_format=torch.channels_last)

class TopDown:
    "Top-down pipelines on one image: ground-truth boxes (image stream per person or once), or a detector first."
    def __init__(self, cfg: Cfg):
        from torchvision.models.detection import fasterrcnn_resnet50_fpn
        self.cfg = cfg
        torch.manual_seed(0)
        # the same treatment BENet gets: eval, BN folded where our rules find it, channels-last
        self.net = to_channels_last(fuse_bn(seeded_bn(TwoStream()).eval()))
        small = dict(rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=50) if cfg.tiny else {}   # defaults: 1000 proposals
        self.det = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=cfg.det_size, max_size=cfg.det_size, **small).eval()
        self.det = self.det.to(memory_format=torch.channels_last)

    def stage(self, img: torch.Tensor, boxes: torch.Tensor, per_person: bool):
        "The two-stream stage: crops (ROI-align crop + resize) at `crop` px and the image at `image_side` px, then the network."
        from torchvision.ops import roi_align
        x = normalize(img)[None]
        rois = torch.cat([torch.zeros(len(boxes), 1), boxes], 1)
        crops = roi_align(x, rois, output_size=(self.cfg.crop, self.cfg.crop), spatial_scale=1.0, sampling_ratio=2, aligned=True)
        whole = F.interpolate(x, size=(self.cfg.image_side, self.cfg.image_side), mode='bilinear', align_corners=False, antialias=True)
        if per_person: whole = whole.expand(len(boxes), -1, -1, -1)
        return self.net(_cl(crops), _cl(whole.contiguous()))

    def deployed(self, img: torch.Tensor, boxes: torch.Tensor):
        "Detector, then the two-stream network per person. Random-weight detections are arbitrary: the stage gets the GT boxes."
        self.det([img])
        return self.stage(img, boxes, per_person=True)


# ---------------------------------------------------------------------------------------------------- 1. size
def section_size(cfg: Cfg, models: Models, echo) -> dict:
    rows = []
    arch = {}
    for kind, name in cfg.backbones.items():
        for heco in (False, True):   # the five configurations differ only by the HECO layers (ED) in architecture
            m = create_model(name, heads=tuple(DEFAULTS['model']['heads']), heco=heco)
            info = model_info(m, cfg.size, as_frame=False)
            full = n_params(create_model(name, heads=HEADS, heco=heco))
            arch[kind, heco] = dict(params=info['total']['params'], params_with_fusion=full, inference_params=info['inference']['params'],
                                    gflops_inference=info['inference']['gflops'], gflops_total=info['total']['gflops'],
                                    parts={k: v for k, v in info.items()})
            del m
    codec = Codec(cfg.size, [cfg.size // 4, cfg.size // 2])
    img = image(cfg.size)
    lat, mem = {}, {}
    for kind in cfg.backbones:
        naive, opt = models.naive(kind), models.optimized(kind)
        def run_naive(m=naive):
            with torch.no_grad(): benet_pipeline(m, codec, img, 15)
        def run_opt(m=opt):
            with torch.inference_mode(): benet_pipeline(m, codec, img, 15)
        with torch.inference_mode(): maps = opt(normalize(img)[None])
        def run_decode(maps=maps):
            with torch.inference_mode(): codec.decode(maps, k=15, project=True)
        t = timeit({'naive': run_naive, 'optimized': run_opt, 'decode': run_decode}, cfg.rounds)
        lat[kind] = {k: stat(v) for k, v in t.items()}
        mem[kind] = dict(naive=peak_mb(run_naive), optimized=peak_mb(run_opt),
                         weights_mb=sum(p.numel() * p.element_size() for p in naive.parameters()) / 2**20,
                         weights_mb_optimized=sum(p.numel() * p.element_size() for p in opt.parameters()) / 2**20)
        echo(f"  {kind}: {lat[kind]['naive']['median']:.3f} s naive, {lat[kind]['optimized']['median']:.3f} s optimised "
             f"(decode {lat[kind]['decode']['median'] * 1e3:.1f} ms); peak +{fmt(mem[kind]['naive'], 0)} MB")
    for c in PAPER_CONFIGS:
        heco = bool(PAPER_CONFIGS[c].get('heco'))
        for kind in cfg.backbones:
            a = arch[kind, heco]
            rows.append(dict(config=c, backbone=kind, model=cfg.backbones[kind], params=a['params'], params_M=a['params'] / 1e6,
                             params_with_fusion=a['params_with_fusion'], inference_params=a['inference_params'],
                             gflops_inference=a['gflops_inference'], gflops_total=a['gflops_total'],
                             latency_naive_s=lat[kind]['naive']['median'], latency_optimized_s=lat[kind]['optimized']['median'],
                             decode_ms=lat[kind]['decode']['median'] * 1e3,
                             peak_mb_naive=mem[kind]['naive'], peak_mb_optimized=mem[kind]['optimized'],
                             weights_mb=mem[kind]['weights_mb']))
    return dict(rows=rows, latency=lat, memory=mem, parts={f'{k}{"+heco" if h else ""}': v['parts'] for (k, h), v in arch.items()},
                input=cfg.size)


# ---------------------------------------------------------------------------------------------------- 2. floor
def section_floor(cfg: Cfg, models: Models, echo) -> dict:
    x = normalize(image(cfg.size))[None]
    xcl = _cl(x)
    torch.manual_seed(0)
    floor = seeded_bn(timm.create_model(cfg.floor, pretrained=False, features_only=True)).eval()
    floor_cl = copy.deepcopy(floor).to(memory_format=torch.channels_last)
    with torch.no_grad():
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as fc: floor(torch.zeros(1, 3, cfg.size, cfg.size))
    floor_gflops = fc.get_total_flops() / 1e9
    res = dict(input=cfg.size, floor=dict(model=f'timm {cfg.floor} features_only', params=n_params(floor), gflops=floor_gflops),
               steps={}, compile=models.compile_info)
    for kind in cfg.backbones:
        naive = models.naive(kind)
        # cumulative steps, each a copy; the last equals optimize_for_inference's eager result
        heads = keep_heads(naive)
        fused = fuse_bn(heads)
        att = fast_attention(fused)
        cl = to_channels_last(att)
        cl_only = to_channels_last(naive)
        variants = {'naive (all heads, no_grad, NCHW)': (naive, torch.no_grad, x),
                    '+ inference mode, Det+BU heads only': (heads, torch.inference_mode, x),
                    '+ BN folded': (fused, torch.inference_mode, x)}
        if kind == 'faithful': variants['+ fast attention'] = (att, torch.inference_mode, x)
        variants['+ channels-last (= optimize_for_inference)'] = (cl, torch.inference_mode, x)
        variants['channels-last alone'] = (cl_only, torch.no_grad, x)
        comp = models.compiled(kind, x) if cfg.compile else None
        if comp is not None: variants['compiled, frozen (BN folded, channels-last)'] = (comp, torch.inference_mode, x)
        fns = {'floor': lambda: _call(floor, torch.no_grad, x), 'floor channels-last': lambda: _call(floor_cl, torch.no_grad, xcl)}
        for k, (m, ctx, xx) in variants.items(): fns[k] = (lambda m=m, ctx=ctx, xx=xx: _call(m, ctx, xx))
        t = timeit(fns, cfg.rounds)
        gf = dict(floor=floor_gflops, **{'floor channels-last': floor_gflops})
        inf_gf = model_info(naive, cfg.size, as_frame=False)['inference']['gflops']
        res['steps'][kind] = {k: dict(stat(v), vs_floor=ratio(t, k, 'floor'), vs_floor_of_minima=min(v) / min(t['floor']),
                                      gflops_per_s=gf.get(k, inf_gf) / statistics.median(v)) for k, v in t.items()}
        steps = [k for k in t if not k.startswith('floor') and k != 'channels-last alone' and not k.startswith('compiled')]
        for a, b in zip(steps, steps[1:]): res['steps'][kind][b]['gain_vs_previous'] = 1 - ratio(t, b, a)
        if comp is not None: res['steps'][kind]['compiled, frozen (BN folded, channels-last)']['gain_vs_previous'] = 1 - ratio(t, list(variants)[-1], steps[-1])
        for k, v in res['steps'][kind].items(): echo(f"  {kind} {k}: {v['median']:.3f} s, {v['vs_floor']:.2f}× floor")
        del heads, fused, att, cl, cl_only
    if not cfg.compile: res['compile_note'] = 'not compiled in --tiny (inductor needs minutes on 2 cores)'
    return res

def _call(m, ctx, x):
    with ctx(): return m(x)


# ---------------------------------------------------------------------------------------------------- 3. people
PIPES = ('benet faithful', 'benet light', 'top-down GT, image stream per person', 'top-down GT, image stream once per image',
         'top-down deployed (detector + per person)')

def section_people(cfg: Cfg, models: Models, echo) -> dict:
    td = TopDown(cfg)
    codec = Codec(cfg.size, [cfg.size // 4, cfg.size // 2])
    img = image(cfg.size, seed=1)
    opt = {k: models.optimized(k) for k in cfg.backbones}
    boxes = {n: person_boxes(n, cfg.size) for n in cfg.people}
    run = {PIPES[0]: lambda n: benet_pipeline(opt['faithful'], codec, img, n),
           PIPES[1]: lambda n: benet_pipeline(opt['light'], codec, img, n),
           PIPES[2]: lambda n: td.stage(img, boxes[n], per_person=True),
           PIPES[3]: lambda n: td.stage(img, boxes[n], per_person=False),
           PIPES[4]: lambda n: td.deployed(img, boxes[n])}
    # grouped by pipeline: a pipeline's 6 people counts run back to back in each round (its flatness is read per round)
    fns = {(n, p): (lambda p=p, n=n: run[p](n)) for p in PIPES for n in cfg.people}
    fns['detector'] = lambda: td.det([img])
    with torch.inference_mode(): t = timeit(fns, cfg.people_rounds)
    med = {k: statistics.median(v) for k, v in t.items()}
    curves = {p: [med[n, p] for n in cfg.people] for p in PIPES}
    det = med['detector']
    curves['top-down deployed, image stream once (derived: detector + GT-once stage)'] = [det + med[n, PIPES[3]] for n in cfg.people]
    ratios, crossover = {}, {}
    for bp in PIPES[:2]:
        for tp in PIPES[2:]:
            r = [statistics.median(a / c for a, c in zip(t[n, bp], t[n, tp])) for n in cfg.people]
            key = f'{bp} / {tp}'
            ratios[key] = r
            crossover[key] = _crossover(cfg.people, r, curves[bp], curves[tp])
    # flatness: in each round, the slowest people count over the fastest (same round, back to back); median over rounds
    flat = {bp: statistics.median(max(t[n, bp][r] for n in cfg.people) / min(t[n, bp][r] for n in cfg.people) - 1
                                  for r in range(cfg.people_rounds)) for bp in PIPES[:2]}
    flat_medians = {bp: max(curves[bp]) / min(curves[bp]) - 1 for bp in PIPES[:2]}
    # growth: a line fitted to every round's time against n, read from 1 to 32 people. The spreads above also hold the
    # machine's noise (a slow round at any n counts); the fit asks whether the cost *rises with the people*
    growth = {}
    for bp in PIPES[:2]:
        n_all = np.array([n for n in cfg.people for _ in t[n, bp]], float)
        a, b = np.polyfit(n_all, np.array([v for n in cfg.people for v in t[n, bp]]), 1)
        lo, hi = a * min(cfg.people) + b, a * max(cfg.people) + b
        growth[bp] = dict(growth=float(hi / lo - 1), ms_per_person=float(a * 1e3))
    for k, r in ratios.items(): echo(f"  {k}: " + ', '.join(f'{n}:{v:.2f}' for n, v in zip(cfg.people, r)) + f"; crossover {crossover[k]['measured']}")
    return dict(people=list(cfg.people), seconds=curves, ratios=ratios, crossover=crossover, detector_seconds=det,
                benet_spread=flat, benet_spread_of_medians=flat_medians, benet_growth=growth, detector_detections=_n_detections(td, img),
                settings=dict(input=cfg.size, crop=cfg.crop, image_side=cfg.image_side, detector_input=cfg.det_size,
                              rounds=cfg.people_rounds))

def _n_detections(td: TopDown, img) -> int:
    with torch.inference_mode(): return int(len(td.det([img])[0]['boxes']))

def _crossover(people, r, bu, tdc) -> dict:
    "First measured people count from which BENet stays cheaper (ratio < 1), and the linear-fit estimate."
    measured = next((n for i, n in enumerate(people) if all(v < 1 for v in r[i:])), None)
    a, b = np.polyfit(np.array(people, float), np.array(tdc), 1)     # top-down ≈ a·n + b, BENet ≈ its mean (flat)
    est = (float(np.mean(bu)) - b) / a if a > 0 else None
    return dict(measured=measured, estimated=None if est is None else max(est, 0.), td_seconds_per_person=float(a), td_fixed_seconds=float(b))


# ---------------------------------------------------------------------------------------------------- 4. loader
def section_loader(cfg: Cfg, models: Models, echo, work: Path) -> dict:
    from benet.data import make_dataloaders
    from benet.testing import synth_root
    from benet.losses import BENetLoss
    root = work / 'synth'
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(open(os.devnull, 'w')):
        synth_root(root, seed=0, n_train=cfg.synth_train, n_val=2, n_test=1, n_heco=0)
    synth_s = time.perf_counter() - t0
    S = cfg.size
    p = paper_params('bu_det_pc_bg', data=dict(root=str(root), annotations=str(root / 'annotations'), workers=2),
                     model=dict(name='benet_light'), codec=dict(input_size=S, output_sizes=[S // 4, S // 2]),
                     train=dict(batch_size=cfg.loader_batch, device='cpu'))
    codec = Codec(S, [S // 4, S // 2])
    dls = make_dataloaders(p, codec, echo=lambda *a, **k: None)
    n_records = len(dls.train.dataset)
    # loader alone: the first batch includes the workers' start-up, reported apart
    t0 = time.perf_counter(); it = iter(dls.train); first = next(it); startup = time.perf_counter() - t0
    batches, t0 = [first], time.perf_counter()
    for _ in range(cfg.loader_batches):
        try: batches.append(next(it))
        except StopIteration: it = iter(dls.train); batches.append(next(it))
    loader_s = time.perf_counter() - t0
    del it
    loader_ips = cfg.loader_batches * cfg.loader_batch / loader_s
    # training step alone (forward, loss, backward, Adam) on batches already in memory
    torch.manual_seed(0)
    model = create_model('benet_light', heads=tuple(p['model']['heads'])).train()
    w = p['train']['losses']
    crit = BENetLoss(weights={k: float(w.get(k, 0.)) for k in ('hm', 'hw', 'bu', 'pc', 'bg')})
    opt = torch.optim.Adam(model.parameters(), lr=p['train']['lr'])
    def step(batch):
        xb, tasks, heco, yb = batch
        loss = crit(model(xb, tasks, heco), yb)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        return loss.detach().item()
    step(batches[0])                                           # warm-up
    t0 = time.perf_counter()
    for i in range(cfg.train_steps): step(batches[1 + i % (len(batches) - 1)])
    step_s = (time.perf_counter() - t0) / cfg.train_steps
    step_ips = cfg.loader_batch / step_s
    # both together, as training runs them: the loader's 2 workers and the step share the cores (start-up excluded)
    it = iter(dls.train); step(next(it))
    t0 = time.perf_counter(); n = 0
    for i in range(cfg.train_steps):
        try: step(next(it)); n += 1
        except StopIteration: it = iter(dls.train)
    live_ips = n * cfg.loader_batch / (time.perf_counter() - t0)
    del it
    echo(f"  loader {loader_ips:.1f} img/s (start-up {startup:.1f} s), training step {step_ips:.2f} img/s, together {live_ips:.2f} img/s")
    return dict(loader_images_per_s=loader_ips, loader_startup_s=startup, step_images_per_s=step_ips, step_seconds=step_s,
                with_live_loader_images_per_s=live_ips, ratio=loader_ips / step_ips, batch_size=cfg.loader_batch, workers=2,
                input=S, config='bu_det_pc_bg (all four pre-transforms), benet_light', records=n_records,
                synth_seconds=synth_s, timed_batches=cfg.loader_batches, timed_steps=cfg.train_steps)


# ---------------------------------------------------------------------------------------------------- 5. evaluation
def synthetic_test_set(n_images: int, seed: int = 7):
    "An EMOTIC-test-sized ground truth and predictions in benet.evaluate's saved format (geometric people counts, mean ≈ 1.7)."
    rng = np.random.default_rng(seed)
    cnt = np.minimum(rng.geometric(.6, n_images), 8)
    P = int(cnt.sum())
    xy = rng.random((P, 2)) * 500; wh = 20 + rng.random((P, 2)) * 200
    gt = dict(image_keys=np.array([f'img{i}' for i in range(n_images)]), count=cnt, boxes=np.concatenate([xy, xy + wh], 1),
              labels=(rng.random((P, 26)) < .1).astype(np.uint8), person_ids=np.arange(P),
              width=np.full(n_images, 640), height=np.full(n_images, 480))
    dcount = np.clip(cnt + rng.integers(-1, 3, n_images), 0, 15)
    gidx = np.repeat(np.cumsum(cnt) - cnt, dcount) + (rng.random(dcount.sum()) * np.repeat(cnt, dcount)).astype(int)
    D = int(dcount.sum())
    preds = dict(det_count=dcount, det_boxes=(gt['boxes'][gidx] + rng.normal(0, 6, (D, 4))).astype(np.float32),
                 det_scores=rng.random(D).astype(np.float32), det_emotions=rng.random((D, 26)).astype(np.float32),
                 bu=rng.random((P, 26)).astype(np.float32), pc=rng.random((P, 26)).astype(np.float32),
                 bg=rng.random((n_images, 26)).astype(np.float32), image_keys=gt['image_keys'], person_ids=gt['person_ids'],
                 has_det=np.array(True), meta={})
    return gt, preds

def section_evaluation(cfg: Cfg, models: Models, echo) -> dict:
    from benet.evaluate import evaluate_predictions, table1, per_image
    from benet.metrics import detection_ap, emotion_map_sweep
    gt, preds = synthetic_test_set(cfg.eval_images)
    parts = {}
    t0 = time.perf_counter(); table1(preds, gt); parts['Table 1: emotion mAP (BU, PC, BG and their averages)'] = time.perf_counter() - t0
    g, d = per_image(gt, preds)
    t0 = time.perf_counter(); detection_ap(g, d); parts['Table 2: detection AP (pycocotools)'] = time.perf_counter() - t0
    t0 = time.perf_counter(); emotion_map_sweep(g, d); parts['Table 3: emotion mAP sweep, 10 IoU thresholds'] = time.perf_counter() - t0
    t = timeit({'all': lambda: evaluate_predictions(preds, gt)}, rounds=1 if cfg.tiny else 2, warmup=0)
    total = statistics.median(t['all'])
    echo(f"  {cfg.eval_images} images, {len(gt['boxes'])} people, {int(preds['det_count'].sum())} detections: {total:.2f} s")
    return dict(images=cfg.eval_images, people=int(len(gt['boxes'])), detections=int(preds['det_count'].sum()),
                seconds=total, all=t['all'], parts=parts)


# ---------------------------------------------------------------------------------------------------- 6. folder + ONNX
def section_folder(cfg: Cfg, models: Models, echo, work: Path) -> dict:
    from PIL import Image
    from benet.infer import Predictor, infer
    from benet.export import export_onnx
    import onnxruntime as ort
    folder = work / 'folder'; folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    H, W = (48, 64) if cfg.tiny else (480, 640)                  # EMOTIC's typical 640×480 photos
    for i in range(cfg.folder_images):
        low = rng.random((H // 16, W // 16, 3))
        im = np.asarray(Image.fromarray((low * 255).astype(np.uint8)).resize((W, H), Image.BILINEAR)).astype(float)
        Image.fromarray(np.clip(im + rng.normal(0, 20, im.shape), 0, 255).astype(np.uint8)).save(folder / f'img{i:02d}.jpg', quality=90)
    params = {'codec': {'input_size': cfg.size, 'output_sizes': [cfg.size // 4, cfg.size // 2]}}
    res = dict(images=cfg.folder_images, image_size=[W, H], flip_test=True, modes={}, onnx={})
    for kind in cfg.backbones:
        for variant, m in (('naive', models.naive(kind)), ('optimized', models.optimized(kind))):
            pr = Predictor(m, params=params)                     # the paper's test settings: flip test on
            out = work / f'out_{kind}_{variant}'
            infer(folder, out, predictor=pr, annotated=False, progress=False, echo=lambda *a: None)   # warm-up
            t0 = time.perf_counter()
            s = infer(folder, out, predictor=pr, annotated=False, progress=False, echo=lambda *a: None)
            dt = time.perf_counter() - t0
            res['modes'][f'{kind} {variant}'] = dict(images_per_s=s['n_images'] / dt, seconds=dt, people=s['n_people'])
            echo(f"  folder {kind} {variant}: {s['n_images'] / dt:.2f} img/s")
    # ONNX Runtime vs torch on one input (no flip test, no decode): the network alone
    x = normalize(image(cfg.size))[None]
    for kind in cfg.backbones:
        path = work / f'{kind}.onnx'
        t0 = time.perf_counter(); export_onnx(models.naive(kind), path, input_size=(cfg.size, cfg.size), dynamic=False); exp_s = time.perf_counter() - t0
        so = ort.SessionOptions(); so.intra_op_num_threads = torch.get_num_threads(); so.inter_op_num_threads = 1; so.log_severity_level = 3
        so.add_session_config_entry('session.intra_op.allow_spinning', '1' if SPIN else '0')
        sess = ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])
        xn = x.numpy()
        naive, opt = models.naive(kind), models.optimized(kind)
        with torch.inference_mode():
            ref = [t for k in ('hm', 'hw', 'bu') for t in opt(x)[k]]
        got = sess.run(None, {sess.get_inputs()[0].name: xn})
        diff = max(float(np.abs(np.asarray(a) - b.numpy()).max()) for a, b in zip(got, ref))
        t = timeit({'onnxruntime': lambda: sess.run(None, {'image': xn}),
                    'torch naive': lambda: _call(naive, torch.no_grad, x),
                    'torch optimized': lambda: _call(opt, torch.inference_mode, x)}, cfg.rounds)
        res['onnx'][kind] = dict(export_seconds=exp_s, max_abs_diff=diff, size_mb=path.stat().st_size / 2**20,
                                 times={k: stat(v) for k, v in t.items()},
                                 ort_vs_torch_naive=ratio(t, 'onnxruntime', 'torch naive'),
                                 ort_vs_torch_optimized=ratio(t, 'onnxruntime', 'torch optimized'))
        echo(f"  ONNX {kind}: ort {statistics.median(t['onnxruntime']):.3f} s, {res['onnx'][kind]['ort_vs_torch_naive']:.2f}× torch naive, "
             f"{res['onnx'][kind]['ort_vs_torch_optimized']:.2f}× torch optimised (|Δ| {diff:.1e})")
    return res


# ---------------------------------------------------------------------------------------------------- 7. GPU
def section_gpu(cfg: Cfg, models: Models, echo, requested: bool) -> dict:
    if not torch.cuda.is_available():
        return dict(measured=False, note='not measured: no CUDA device on this machine (torch.cuda.is_available() is False)'
                    + ('; --gpu was given' if requested else ''))
    dev = torch.device('cuda')
    B, S = cfg.gpu_batch, 512
    x = torch.randn(B, 3, S, S, device=dev)
    res = dict(measured=True, device=torch.cuda.get_device_name(0), batch=B, input=S, inference={}, training={})
    torch.backends.cudnn.benchmark = True
    def sync_time(fn, n=5):
        fn(); fn(); torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n): fn()
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n
    for mode in ('fp32', 'bf16 + channels-last'):
        torch.manual_seed(0)
        m = create_model('benet_hrnet_w32').to(dev)
        xx = x
        if mode != 'fp32': m = m.to(memory_format=torch.channels_last); xx = _cl(x)
        ac = (lambda: torch.autocast('cuda', dtype=torch.bfloat16)) if mode != 'fp32' else contextlib.nullcontext
        m.eval()
        def inf():
            with torch.inference_mode(), ac(): m(xx)
        res['inference'][mode] = B / sync_time(inf)
        m.train()
        tasks = torch.arange(B, device=dev) % 4
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        def tr():
            with ac(): out = m(xx, tasks)
            loss = sum(t.float().mean() for k in ('hm', 'hw', 'bu') for t in out.get(k, [])) + out['pc'].float().mean() + out['bg'].float().mean()
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        res['training'][mode] = B / sync_time(tr, n=3)
        echo(f"  GPU {mode}: inference {res['inference'][mode]:.1f} img/s, training {res['training'][mode]:.1f} img/s")
        del m, opt
        torch.cuda.empty_cache()
    return res


# ---------------------------------------------------------------------------------------------------- 8. training throughput
TRAIN_CONFIGS = ('bu', 'bu_det_pc_bg')   # one head per batch vs all four mixed (the backbone runs once per image in both)

def section_train(cfg: Cfg, models: Models, echo, work: Path) -> dict:
    "Training steps (forward + BENetLoss + backward + Adam) per second, fp32 vs bf16 autocast (+ channels-last, + compile)."
    from benet.data import make_dataloaders
    from benet.testing import synth_root
    from benet.train import make_loss
    cuda = torch.cuda.is_available()
    dev = torch.device('cuda' if cuda else 'cpu')
    name, S, B = ('benet_hrnet_w32', 512, cfg.gpu_batch) if cuda else cfg.train_cpu
    root = work / 'synth'
    if not (root / 'annotations').exists():
        with contextlib.redirect_stdout(open(os.devnull, 'w')): synth_root(root, seed=0, n_train=cfg.synth_train, n_val=2, n_test=1, n_heco=0)
    modes = ['fp32', 'bf16', 'bf16 + channels-last'] + (['bf16 + channels-last + compile'] if cuda else [])
    res = dict(device=torch.cuda.get_device_name(0) if cuda else f"CPU, {torch.get_num_threads()} threads", model=name, input=S,
               batch=B, rounds=cfg.train_rounds, modes=modes, configs={}, load_start=list(os.getloadavg()),
               compile_note=None if cuda else 'compile: CUDA only here (inductor compiles a training graph for many minutes on 2 CPU cores)')
    if cuda: torch.backends.cudnn.benchmark = True
    for config in TRAIN_CONFIGS:
        p = paper_params(config, data=dict(root=str(root), annotations=str(root / 'annotations'), workers=0),
                         model=dict(name=name), codec=dict(input_size=S, output_sizes=[S // 4, S // 2]),
                         train=dict(batch_size=B, device=dev.type))
        dls = make_dataloaders(p, Codec(S, [S // 4, S // 2]), device=dev, echo=lambda *a, **k: None)
        it = iter(dls.train)
        batches = [next(it) for _ in range(min(3, len(dls.train)))]   # in memory: the loader is section 4's subject
        del it
        crit = make_loss(p)
        def make_step(mode):
            torch.manual_seed(0)
            m = create_model(name, heads=tuple(p['model']['heads'])).to(dev).train()
            if 'channels-last' in mode: m = m.to(memory_format=torch.channels_last)
            fwd = torch.compile(m) if 'compile' in mode else m
            opt = torch.optim.Adam(m.parameters(), lr=1e-3)
            ac = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if 'bf16' in mode else contextlib.nullcontext
            k = [0]
            def step():   # what benet.train's DeviceMixedPrecision does: the forward and the loss under autocast
                xb, tasks, heco, yb = batches[k[0] % len(batches)]; k[0] += 1
                with ac(): loss = crit(fwd(xb, tasks, heco), yb)
                opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
                if cuda: torch.cuda.synchronize()
            return step
        steps = {m: make_step(m) for m in modes}
        compile_s = None
        if cuda and 'bf16 + channels-last + compile' in steps:
            t0 = time.perf_counter(); steps['bf16 + channels-last + compile'](); compile_s = time.perf_counter() - t0
        t = timeit(steps, cfg.train_rounds, warmup=1)    # one warm-up each (oneDNN/cuDNN pick their kernels on the first call)
        res['configs'][config] = dict(images_per_s={m: B / statistics.median(v) for m, v in t.items()},
                                      times={m: stat(v) for m, v in t.items()},
                                      speedup_vs_fp32={m: 1 / ratio(t, m, 'fp32') for m in modes},
                                      compile_seconds=compile_s)
        echo(f"  {config}: " + ', '.join(f"{m} {B / statistics.median(v):.2f} img/s ({1 / ratio(t, m, 'fp32'):.2f}×)" for m, v in t.items()))
        del steps, batches, dls
        if cuda: torch.cuda.empty_cache()
    res['load_end'] = list(os.getloadavg())
    return res


# ---------------------------------------------------------------------------------------------------- profile
def profile_tables(cfg: Cfg, models: Models) -> dict:
    "torch profiler: the ops that cost most in one optimised eager forward of each backbone."
    from torch.profiler import profile, ProfilerActivity
    x = normalize(image(cfg.size))[None]
    out = {}
    for kind in cfg.backbones:
        m = models.optimized(kind)
        with torch.inference_mode():
            m(x)
            with profile(activities=[ProfilerActivity.CPU]) as prof: m(x)
        out[kind] = prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=cfg.profile_rows, max_name_column_width=40)
    return out


# ---------------------------------------------------------------------------------------------------- targets
def light_map() -> dict:
    "The synthetic-data BU mAP a benet_light run reached, from runs/*/metrics.json (the newest), if any."
    found = []
    for mj in sorted(ROOT.glob('runs/*/metrics.json')):
        with contextlib.suppress(Exception):
            pj = json.loads((mj.parent / 'params.json').read_text())
            if pj.get('model', {}).get('name') != 'benet_light': continue
            m = json.loads(mj.read_text())
            found.append(dict(run=str(mj.parent.relative_to(ROOT)), data=pj.get('data', {}).get('root'), split=m.get('split'),
                              state=m.get('state'), mAP=m['table1']['BU']['mAP'], time=m.get('time', '')))
    if not found: return dict(available=False, note='not available: no runs/*/metrics.json of a benet_light run in this clone')
    return dict(available=True, **max(found, key=lambda f: f['time']))

def targets(R: dict) -> list[dict]:
    T = []
    def add(name, measured, met, note=''): T.append(dict(target=name, measured=measured, met=met, note=note))
    s1, s2, s3, s4, s5 = (R['sections'].get(k, {}) for k in ('size', 'floor', 'people', 'loader', 'evaluation'))
    if s1.get('rows'):
        f = next(r for r in s1['rows'] if r['backbone'] == 'faithful' and r['config'] == 'bu_det_pc_bg')
        add('Faithful: parameters within 1% of 19.50 M', f"{f['params_with_fusion'] / 1e6:.3f} M with the fusion head (as the reference builds it), "
            f"{f['params'] / 1e6:.3f} M without", abs(f['params_with_fusion'] / 19.50e6 - 1) <= 0.01)
        dec = {r['backbone']: r['decode_ms'] for r in s1['rows'] if r['config'] == 'bu_det_pc_bg'}   # one timing per backbone
        add("Decode ≤ 10 ms at 512 px", f"{', '.join(f'{k} {v:.1f} ms' for k, v in dec.items())} at {s1['input']} px "
            "(projected to the input, 15 peaks, no flip test, median)", max(dec.values()) <= 10 and s1['input'] == 512,
            'the maps differ by backbone, the work does not')
    if s2.get('steps'):
        st = s2['steps']['faithful']
        e = st['+ channels-last (= optimize_for_inference)']['vs_floor']
        n = st['naive (all heads, no_grad, NCHW)']['vs_floor']
        add('Faithful eager ≤ 1.0× the plain eager hrnet_w32 features pass', f'{e:.2f}× optimised eager (naive: {n:.2f}×)', e <= 1.0)
        c = st.get('compiled, frozen (BN folded, channels-last)')
        ci = s2['compile'].get('faithful', {})
        add('Faithful compiled ≤ 0.8× the floor, compile time reported',
            f"{c['vs_floor']:.2f}×, compile {ci.get('seconds', float('nan')):.0f} s ({ci.get('cache')} inductor cache)" if c else
            ('not compiled: ' + (ci.get('error') or s2.get('compile_note', 'compilation off'))), bool(c) and c['vs_floor'] <= 0.8)
        lf, ll = st, s2['steps']['light']
        sp_naive = lf['naive (all heads, no_grad, NCHW)']['median'] / ll['naive (all heads, no_grad, NCHW)']['median']
        key = '+ channels-last (= optimize_for_inference)'
        sp_opt = lf[key]['median'] / ll[key]['median']
        ck = 'compiled, frozen (BN folded, channels-last)'
        sp_c = lf[ck]['median'] / ll[ck]['median'] if ck in lf and ck in ll else None
        lm = R.get('light_map', {})
        mp = f"synthetic-data BU mAP {lm['mAP']:.2f} ({lm['run']})" if lm.get('available') else 'mAP ' + lm.get('note', 'not available')
        add('Light ≥ 4× faster than faithful on CPU', f"{sp_naive:.2f}× naive, {sp_opt:.2f}× optimised eager" +
            (f", {sp_c:.2f}× compiled" if sp_c else '') + f"; {mp}", max(sp_naive, sp_opt) >= 4.0)
    if s3.get('seconds'):
        ppl = s3['people']
        sp, gr = s3['benet_spread'], s3.get('benet_growth', {})
        add('benet latency flat (within 10%) from 1 to 32 people, decode included',
            ', '.join(f"{k.split()[-1]} {gr[k]['growth'] * 100:+.1f}% fitted ({gr[k]['ms_per_person']:+.2f} ms/person), "
                      f"{v * 100:.1f}% max/min spread" for k, v in sp.items()),
            all(abs(g['growth']) <= 0.10 for g in gr.values()),
            'judged on the fitted growth from 1 to 32 people; the max/min spread within a round also holds the shared '
            "machine's noise")
        rd = s3['ratios']
        i32, i16, i8 = ppl.index(32), ppl.index(16), ppl.index(8)
        k = f'{PIPES[0]} / {PIPES[4]}'
        add('Against top-down deployed: faithful ≤ 0.5× at 32 people', f'{rd[k][i32]:.2f}×', rd[k][i32] <= 0.5)
        k = f'{PIPES[1]} / {PIPES[4]}'
        add('Against top-down deployed: light ≤ 0.25× at 16 people', f'{rd[k][i16]:.2f}×', rd[k][i16] <= 0.25)
        k = f'{PIPES[1]} / {PIPES[2]}'
        co = s3['crossover'][k]
        add('Against top-down with GT boxes (image stream per person): light cheaper from 8 people on',
            f"ratio at 8 people {rd[k][i8]:.2f}×; cheaper from {co['measured']} people (linear fit: {fmt(co['estimated'], 1)})",
            co['measured'] is not None and co['measured'] <= 8)
    if s4.get('ratio') is not None:
        add('Loader ≥ 2× the training step throughput, 2 workers', f"{s4['ratio']:.1f}× ({s4['loader_images_per_s']:.1f} vs {s4['step_images_per_s']:.2f} img/s)",
            s4['ratio'] >= 2)
    if s5.get('seconds') is not None:
        add('Evaluation of the EMOTIC-sized set in < 10 s', f"{s5['seconds']:.2f} s ({s5['images']} images, {s5['people']} people)",
            s5['seconds'] < 10 and s5['images'] >= 4000, '' if s5['images'] >= 4000 else '--tiny: a small set, not the target size')
    if R.get('tiny'):   # small stand-in models and sizes: the figures say nothing about the targets
        for t in T: t.update(met=None, note='--tiny: stand-in models and sizes')
    return T


# ---------------------------------------------------------------------------------------------------- plots
def plots(R: dict, out: Path) -> list[str]:
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    files = []
    s3 = R['sections'].get('people')
    if s3 and s3.get('seconds'):
        ppl = s3['people']
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for name, ys in s3['seconds'].items():
            ax.plot(ppl, np.array(ys) * 1e3, marker='o' if 'benet' in name else 's', ls='--' if 'derived' in name else '-',
                    lw=2.5 if 'benet' in name else 1.5, label=name)
        ax.set_xscale('log', base=2); ax.set_yscale('log'); ax.set_xticks(ppl); ax.set_xticklabels(ppl)
        ax.set_xlabel('people in the image'); ax.set_ylabel('latency per image (ms, log)')
        ax.set_title(f"Bottom-up vs top-down on CPU ({R['machine']['threads']} threads), {s3['settings']['input']} px")
        ax.grid(alpha=.3, which='both'); ax.legend(fontsize=7.5)
        fig.tight_layout(); fig.savefig(out / 'people_latency.png', dpi=110); plt.close(fig); files.append('people_latency.png')
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for name, r in s3['ratios'].items(): ax.plot(ppl, r, marker='o', label=name)
        ax.axhline(1, color='k', lw=1)
        ax.set_xscale('log', base=2); ax.set_yscale('log'); ax.set_xticks(ppl); ax.set_xticklabels(ppl)
        ax.set_xlabel('people in the image'); ax.set_ylabel('cost ratio benet / top-down (log; < 1: benet cheaper)')
        ax.set_title('Cost ratio per people count'); ax.grid(alpha=.3, which='both'); ax.legend(fontsize=7)
        fig.tight_layout(); fig.savefig(out / 'people_ratio.png', dpi=110); plt.close(fig); files.append('people_ratio.png')
    s2 = R['sections'].get('floor')
    if s2 and s2.get('steps'):
        # one y axis per panel: the configurations have different steps, and a shared axis showed the last panel's
        # step names on every panel's bars
        fig, axes = plt.subplots(1, len(s2['steps']), figsize=(11, 4.6))
        for ax, (kind, st) in zip(np.atleast_1d(axes), s2['steps'].items()):
            names = list(st)
            v = [st[n]['vs_floor'] for n in names]
            ax.barh(range(len(names)), v, color=['#999' if n.startswith('floor') else '#3a7' for n in names])
            ax.set_yticks(range(len(names))); ax.set_yticklabels(names, fontsize=7.5); ax.invert_yaxis()
            ax.axvline(1, color='k', lw=1); ax.set_title(f'{kind}: latency / hrnet_w32 floor'); ax.set_xlabel('× floor (median of per-round ratios)')
            for i, x in enumerate(v): ax.text(x, i, f' {x:.2f}', va='center', fontsize=7)
        fig.tight_layout(); fig.savefig(out / 'optimize_steps.png', dpi=110); plt.close(fig); files.append('optimize_steps.png')
    return files


# ---------------------------------------------------------------------------------------------------- markdown
def render_md(R: dict) -> str:
    m, S = R['machine'], R['sections']
    L = [f"# benet benchmarks{' (--tiny: small sizes, one round; not the real figures)' if R['tiny'] else ''}", '',
         f"Measured {R['date']} in one run of `benchmarks/bench.py{' --tiny' if R['tiny'] else ''}` ({R['seconds'] / 60:.1f} min). "
         f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['platform']}; Python {m['python']}, torch {m['torch']}, "
         f"{m['threads']} threads, OpenMP wait policy {m['omp_wait_policy']}; " + ', '.join(f'{k} {v}' for k, v in m['versions'].items()) +
         f". Load average at start {fmt(m['load_start'][0] if m['load_start'] else None)}, at end {fmt(m['load_end'][0] if m.get('load_end') else None)} "
         "(the machine is shared: absolute times move, the interleaved ratios much less).", '',
         'Method: every comparison is timed in this run, candidates interleaved round by round (rotating order) after a warm-up; '
         'times are medians over rounds, ratios the median of per-round ratios. Random weights of trained-like magnitude '
         '(`benet.testing.seeded_state_dict`; timm/torchvision initialisations for the others, with plausible BatchNorm statistics): '
         'speed does not depend on the values, but folding BatchNorm is then real work.', '']
    T = R.get('targets', [])
    if T:
        L += ['## Targets', '', table([[t['target'], t['measured'], 'n/a' if t['met'] is None else '**met**' if t['met'] else '**missed**', t['note']] for t in T],
                                      ['target', 'measured', '', 'note']), '']
        if R.get('headline'): L += ['Headline: ' + R['headline'], '']
    for i, key in SECTIONS.items():
        s = S.get(key)
        L += [f'## {i}. {TITLES[i]}', '']
        if s is None: L += ['not run (`--only`).', '']; continue
        if 'error' in s: L += [f"**failed**: `{s['error']}`", '']; continue
        L += _md_section(key, s, R) + ['']
    if R.get('profile'):
        L += ['## Profile: where the time goes (optimised eager, one forward, torch profiler)', '']
        for kind, tab in R['profile'].items(): L += [f'### {kind}', '', '```', tab.rstrip(), '```', '']
    if R.get('plots'): L += ['## Plots', ''] + [f'![{p}]({p})' for p in R['plots']] + ['']
    return '\n'.join(L)

def _md_section(key: str, s: dict, R: dict) -> list[str]:
    if key == 'size':
        rows = [[r['config'], r['backbone'], f"{r['params'] / 1e6:.3f}", f"{r['params_with_fusion'] / 1e6:.3f}", f"{r['inference_params'] / 1e6:.3f}",
                 fmt(r['gflops_inference'], 2), fmt(r['gflops_total'], 2), fmt(r['latency_naive_s'] * 1e3, 0), fmt(r['latency_optimized_s'] * 1e3, 0),
                 fmt(r['decode_ms'], 1), fmt(r['peak_mb_naive'], 0), fmt(r['peak_mb_optimized'], 0)] for r in s['rows']]
        return [f"Input {s['input']}×{s['input']}, one image. Parameters as trained (Det, BU, PC, BG heads; ED adds the HECO layers), "
                "with the fusion head (as the reference builds every configuration), and on the inference path (backbone + Det + BU). "
                "GFLOPs from `model_info` (2 per multiply-add). Latency: normalise + Det+BU forward + `Codec.decode` "
                "(projected to the input, 15 peaks), no flip test, median after warm-up; naive = the model as trained under "
                "`no_grad`, optimised = `optimize_for_inference` under `inference_mode`. The inference graph is the same for the "
                "five configurations (the HECO layers only act on HECO training samples), so latency and memory are measured once per "
                "backbone. Peak memory: resident memory added during one inference (Linux high-water mark).", '',
                table(rows, ['configuration', 'backbone', 'params (M)', 'with fusion (M)', 'inference (M)', 'GFLOPs inference', 'GFLOPs all heads',
                             'latency naive (ms)', 'latency optimised (ms)', 'decode (ms)', 'peak MB naive', 'peak MB optimised'])]
    if key == 'floor':
        out = [f"Input {s['input']}×{s['input']}, one image, network forward only (decode: section 1). Floor: {s['floor']['model']} "
               f"({s['floor']['params'] / 1e6:.2f} M parameters, {s['floor']['gflops']:.1f} GFLOPs), eager, NCHW, `no_grad`. "
               "Steps are cumulative from the naive model; '× floor' is the median of per-round ratios to the floor timed in the same round; "
               "'× floor (minima)' compares the fastest run of each (the least disturbed by other processes); 'gain' is the time saved "
               "against the step before; GFLOP/s = the model's inference GFLOPs / median time.", '']
        for kind, st in s['steps'].items():
            out += [f'**{kind}**', '', table([[k, fmt(v['median'] * 1e3, 0), fmt(v['min'] * 1e3, 0), f"{v['vs_floor']:.2f}×",
                                                 f"{v['vs_floor_of_minima']:.2f}×",
                                                 f"{v['gain_vs_previous'] * 100:+.0f}%" if 'gain_vs_previous' in v else '',
                                                 fmt(v['gflops_per_s'], 0)]
                                                for k, v in st.items()], ['variant', 'median ms', 'min ms', '× floor', '× floor (minima)',
                                                                          'gain', 'GFLOP/s']), '']
        for kind, ci in s.get('compile', {}).items():
            out.append(f"- compile ({kind}): {ci['seconds']:.0f} s, {ci['cache']} inductor cache" +
                       (f", max |Δ| vs eager {ci['max_abs_diff_vs_eager']:.1e}" if ci.get('error') is None else f", failed: {ci['error']}"))
        if s.get('compile_note'): out.append(f"- compile: {s['compile_note']}")
        return out
    if key == 'people':
        ppl = s['people']
        st = s['settings']
        out = [f"One {st['input']}×{st['input']} image holding n people (boxes on a grid). BENet: normalise + optimised Det+BU forward + "
               f"decode with k = max(15, n) peaks. Top-down two-stream network (EMOTIC baseline style): timm ResNet-18 on each person "
               f"crop at {st['crop']} px (ROI-align crop + resize, batched) + ResNet-18 on the whole image at {st['image_side']} px, "
               "fused (1024→256→26), run either with the image stream once per person (as the baseline's per-sample inference) or once "
               f"per image. Deployed: torchvision Faster R-CNN ResNet-50-FPN (random weights) at {st['detector_input']} px, then the "
               "two-stream network per person. Random-weight detections are arbitrary (this one found "
               f"{s['detector_detections']} boxes), so the two-stream stage is fed the ground-truth boxes: its cost scales with the "
               "people, as a trained detector's would. Every network gets the same treatment: eval, BN folded, channels-last, "
               f"`inference_mode`. {st['rounds']} interleaved rounds; medians. Detector alone: {s['detector_seconds'] * 1e3:.0f} ms.", '',
               '**Latency per image (ms)**', '',
               table([[k] + [fmt(v * 1e3, 0) for v in ys] for k, ys in s['seconds'].items()], ['pipeline'] + [str(n) for n in ppl]), '',
               '**Cost ratio benet / top-down** (< 1: benet cheaper) and crossover (people count from which benet stays cheaper; '
               'estimate from a linear fit of the top-down cost against n)', '',
               table([[k] + [f'{v:.2f}' for v in r] + [str(s['crossover'][k]['measured'] or 'none ≤ 32'), fmt(s['crossover'][k]['estimated'], 1)]
                      for k, r in s['ratios'].items()], ['pair'] + [str(n) for n in ppl] + ['crossover', 'fit']), '',
               'BENet spread over 1–32 people (slowest / fastest people count − 1, within each round, median over rounds): '
               + ', '.join(f'{k} {v * 100:.1f}%' for k, v in s['benet_spread'].items()) + '; of the medians above: '
               + ', '.join(f'{k} {v * 100:.1f}%' for k, v in s['benet_spread_of_medians'].items()) + '. '
               'Growth from 1 to 32 people of a line fitted to every round (what the people add, not the noise): '
               + ', '.join(f"{k} {g['growth'] * 100:+.1f}% ({g['ms_per_person']:+.2f} ms per person)" for k, g in s.get('benet_growth', {}).items()) + '.']
        return out
    if key == 'loader':
        return [f"Configuration {s['config']}, input {s['input']} px, batch {s['batch_size']}, {s['workers']} workers, the synthetic "
                f"data ({s['records']} training records, generated in {s['synth_seconds']:.0f} s). Loader: {s['timed_batches']} batches after the first "
                f"(start-up {s['loader_startup_s']:.1f} s, reported apart), training transforms and target encoding included. Training step: "
                f"forward + BENetLoss + backward + Adam on batches already in memory, {s['timed_steps']} steps after one warm-up.", '',
                table([['data loader alone', fmt(s['loader_images_per_s'], 1)], ['training step alone', fmt(s['step_images_per_s'], 2)],
                       ['training fed by the live loader', fmt(s['with_live_loader_images_per_s'], 2)]], ['', 'images/s']), '',
                f"Loader / step: **{s['ratio']:.1f}×**."]
    if key == 'evaluation':
        return [f"`evaluate_predictions` (Tables 1–3: emotion mAP with the PC/BG rows, COCO detection AP, the 10-threshold emotion mAP sweep) "
                f"on {s['images']} images, {s['people']} people, {s['detections']} detections of synthetic predictions: **{s['seconds']:.2f} s** "
                f"(median of {len(s['all'])}).", '',
                table([[k, fmt(v, 2)] for k, v in s['parts'].items()], ['part (timed alone)', 's'])]
    if key == 'folder':
        out = [f"`benet.infer.infer` on a folder of {s['images']} JPEG photos ({s['image_size'][0]}×{s['image_size'][1]}), the paper's test "
               "settings (flip test on: two forwards per image), JSON written, no annotated copies; after one warm-up pass.", '',
               table([[k, fmt(v['images_per_s'], 2), fmt(v['seconds'], 1)] for k, v in s['modes'].items()], ['model', 'images/s', 's']), '',
               'ONNX Runtime (CPU, same thread count, TorchScript export of the model as trained) against torch on one normalised input, '
               'network only:', '',
               table([[k, fmt(v['times']['onnxruntime']['median'] * 1e3, 0), fmt(v['times']['torch naive']['median'] * 1e3, 0),
                       fmt(v['times']['torch optimized']['median'] * 1e3, 0), f"{v['ort_vs_torch_naive']:.2f}×", f"{v['ort_vs_torch_optimized']:.2f}×",
                       f"{v['max_abs_diff']:.1e}", f"{v['export_seconds']:.0f}", f"{v['size_mb']:.1f}"] for k, v in s['onnx'].items()],
                     ['backbone', 'ORT ms', 'torch naive ms', 'torch optimised ms', 'ORT / naive', 'ORT / optimised', 'max |Δ|', 'export s', 'MB'])]
        return out
    if key == 'gpu':
        if not s.get('measured'): return [f"**{s['note']}**. The code path (`section_gpu`: faithful model, batch 24, 512 px, inference and "
                                          "training images/s, fp32 against bf16 autocast + channels-last) runs when a CUDA device is present."]
        return [f"{s['device']}, batch {s['batch']}, {s['input']} px.", '',
                table([[k, fmt(s['inference'][k], 1), fmt(s['training'][k], 1)] for k in s['inference']], ['mode', 'inference img/s', 'training img/s'])]
    if key == 'train':
        return [f"{s['device']}: {s['model']} at {s['input']} px, batch {s['batch']}; a training step = forward + BENetLoss + backward + "
                f"Adam on batches already in memory (the synthetic data), as `benet.train` runs it with `train.precision` / "
                f"`train.channels_last` / `train.compile`. {s['rounds']} interleaved rounds after one warm-up; speed-up = median over "
                f"rounds of fp32's time / the mode's, in the same round. Load average {s['load_start'][0]:.1f} at the start, "
                f"{s['load_end'][0]:.1f} at the end." + (f" {s['compile_note']}." if s.get('compile_note') else ''), '',
                table([[c, m, fmt(v['images_per_s'][m], 2), f"{v['speedup_vs_fp32'][m]:.2f}×"] for c, v in s['configs'].items() for m in s['modes']],
                      ['configuration', 'mode', 'images/s', 'speed-up vs fp32'])]
    return ['```', json.dumps(s, indent=1)[:3000], '```']

def headline(R: dict) -> str:
    S, parts = R['sections'], []
    st = S.get('floor', {}).get('steps', {})
    if st:
        f = st['faithful']
        parts.append(f"faithful BENet (Det+BU) runs at {f['naive (all heads, no_grad, NCHW)']['vs_floor']:.2f}× a plain hrnet_w32 features pass "
                     f"as trained and {f['+ channels-last (= optimize_for_inference)']['vs_floor']:.2f}× optimised in eager mode"
                     + (f", {f['compiled, frozen (BN folded, channels-last)']['vs_floor']:.2f}× compiled" if 'compiled, frozen (BN folded, channels-last)' in f else ''))
    p = S.get('people', {})
    if p.get('ratios'):
        ppl = p['people']; i = ppl.index(32)
        r = p['ratios']
        parts.append(f"at 32 people faithful costs {r[f'{PIPES[0]} / {PIPES[4]}'][i]:.2f}× a detector + two-stream pipeline and light "
                     f"{r[f'{PIPES[1]} / {PIPES[4]}'][i]:.2f}×; against ground-truth boxes light is cheaper from "
                     f"{p['crossover'][f'{PIPES[1]} / {PIPES[2]}']['measured']} people (image stream per person)")
    return '; '.join(parts) + '.' if parts else ''


# ---------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='every section end to end at small sizes, one round (seconds)')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks'), help='folder for results.json, results.md and the plots')
    ap.add_argument('--only', default='', help='comma-separated section numbers (1-8); default all')
    ap.add_argument('--threads', type=int, default=None, help='torch threads for every timing (default 2; 1 with --tiny, '
                    'whose timings mean nothing and which must stay quick on a busy machine)')
    ap.add_argument('--gpu', action='store_true', help='ask for section 7 (it runs anyway when CUDA is available)')
    ap.add_argument('--no-compile', action='store_true', help='skip torch.compile (section 2)')
    ap.add_argument('--no-profile', action='store_true')
    ap.add_argument('--warm-cache', action='store_true', help="compile with inductor's shared on-disk cache (default: a fresh one, a cold compile)")
    ap.add_argument('--spin', action='store_true', help="keep OpenMP's spinning waits (default: OMP_WAIT_POLICY=PASSIVE, see the top of this file)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads or (1 if a.tiny else 2))
    cfg = Cfg(a.tiny)
    global WARMUP
    WARMUP = 0 if a.tiny else 1
    if a.no_compile: cfg.compile = False
    only = {int(s) for s in a.only.split(',') if s.strip()} or set(SECTIONS)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    echo = lambda *s: print(*s, flush=True)
    t_start = time.perf_counter()
    R = dict(tiny=cfg.tiny, date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'), machine=machine(),
             args=vars(a), sections={})
    models = Models(cfg, echo)
    failed = []
    with tempfile.TemporaryDirectory(prefix='benet-bench-') as tmp:
        work = Path(tmp)
        # a cold compile by default, as on a fresh machine: inductor's on-disk cache in this run's temporary folder
        if not a.warm_cache: os.environ['TORCHINDUCTOR_CACHE_DIR'] = str(work / 'inductor-cache')
        runners = {1: lambda: section_size(cfg, models, echo), 2: lambda: section_floor(cfg, models, echo),
                   3: lambda: section_people(cfg, models, echo), 4: lambda: section_loader(cfg, models, echo, work),
                   5: lambda: section_evaluation(cfg, models, echo), 6: lambda: section_folder(cfg, models, echo, work),
                   7: lambda: section_gpu(cfg, models, echo, a.gpu), 8: lambda: section_train(cfg, models, echo, work)}
        for i, key in SECTIONS.items():
            if i not in only: continue
            echo(f"[{time.perf_counter() - t_start:6.0f} s] {i}. {TITLES[i]}")
            t0 = time.perf_counter()
            try: R['sections'][key] = runners[i]()
            except Exception as e:
                traceback.print_exc(); failed.append(key)
                R['sections'][key] = dict(error=f'{type(e).__name__}: {e}'[:500])
            R['sections'][key]['section_seconds'] = time.perf_counter() - t0
        if not a.no_profile and only & {1, 2, 3}:
            with contextlib.suppress(Exception): R['profile'] = profile_tables(cfg, models)
    R['light_map'] = light_map()
    R['targets'] = targets(R)
    R['headline'] = headline(R)
    R['machine']['load_end'] = list(os.getloadavg()) if hasattr(os, 'getloadavg') else None
    R['seconds'] = time.perf_counter() - t_start
    R['plots'] = plots(R, out)
    (out / 'results.json').write_text(json.dumps(R, indent=1, default=_jsonable) + '\n')
    (out / 'results.md').write_text(render_md(R) + '\n')
    echo(f"wrote {out / 'results.md'}, {out / 'results.json'} and {len(R['plots'])} plots in {R['seconds'] / 60:.1f} min")
    for t in R['targets']: echo(f"  [{'n/a' if t['met'] is None else 'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    if failed: echo(f"sections that failed: {', '.join(failed)}")
    return 1 if failed else 0

def _jsonable(o):
    if isinstance(o, (np.integer,)): return int(o)
    if isinstance(o, (np.floating,)): return float(o)
    if isinstance(o, np.ndarray): return o.tolist()
    if isinstance(o, Path): return str(o)
    return str(o)

if __name__ == '__main__':
    sys.exit(main())
