"""Section: Training throughput: fp32, bf16, channels-last, compile."""
from __future__ import annotations
import contextlib, os, statistics, time
from pathlib import Path

import torch

from benchmarks.harness import Cfg, Models, timeit, stat, ratio, fmt, table
from benet.models import create_model
from benet.params import paper_params
from benet.codec import Codec

TITLE = 'Training throughput: fp32, bf16, channels-last, compile'


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



def measure(c) -> dict:
    return section_train(c.cfg, c.models, c.echo, c.work)


def markdown(s: dict, R: dict) -> list[str]:
    return [f"{s['device']}: {s['model']} at {s['input']} px, batch {s['batch']}; a training step = forward + BENetLoss + backward + "
            f"Adam on batches already in memory (the synthetic data), as `benet.train` runs it with `train.precision` / "
            f"`train.channels_last` / `train.compile`. {s['rounds']} interleaved rounds after one warm-up; speed-up = median over "
            f"rounds of fp32's time / the mode's, in the same round. Load average {s['load_start'][0]:.1f} at the start, "
            f"{s['load_end'][0]:.1f} at the end." + (f" {s['compile_note']}." if s.get('compile_note') else ''), '',
            table([[c, m, fmt(v['images_per_s'][m], 2), f"{v['speedup_vs_fp32'][m]:.2f}×"] for c, v in s['configs'].items() for m in s['modes']],
                  ['configuration', 'mode', 'images/s', 'speed-up vs fp32'])]
