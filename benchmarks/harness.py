"""The benchmarks' harness: run settings, interleaved timing, peak memory, the machine, and the networks every section shares."""
from __future__ import annotations
import contextlib, gc, math, os, platform, re, statistics, sys, time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (set before torch loads its OpenMP runtime). On a shared machine a
# spinning thread waits for a partner that another process has descheduled: 2-thread timings then swing 4-10x.
# Every candidate runs under the same policy (onnxruntime's spinning is turned off likewise); --spin keeps the default.
SPIN = '--spin' in sys.argv
if not SPIN: os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benet.models import create_model
from benet.testing import seeded_state_dict
from benet.codec import Codec
from benet.transforms import normalize
from benet.optimize import optimize_for_inference

WARMUP = 1   # warm-up calls per candidate (0 in --tiny; bench.py sets it)
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


def cl(x): return x.contiguous(memory_format=torch.channels_last)

def call(m, ctx, x):
    with ctx(): return m(x)

def jsonable(o):
    if isinstance(o, (np.integer,)): return int(o)
    if isinstance(o, (np.floating,)): return float(o)
    if isinstance(o, np.ndarray): return o.tolist()
    if isinstance(o, Path): return str(o)
    return str(o)

