"""Section: GPU (bf16 autocast, channels-last vs fp32)."""
from __future__ import annotations
import contextlib, time

import torch

from benchmarks.harness import Cfg, Models, fmt, table, cl
from benet.models import create_model

TITLE = 'GPU (bf16 autocast, channels-last vs fp32)'


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
        if mode != 'fp32': m = m.to(memory_format=torch.channels_last); xx = cl(x)
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



def measure(c) -> dict:
    return section_gpu(c.cfg, c.models, c.echo, c.args.gpu)


def markdown(s: dict, R: dict) -> list[str]:
    if not s.get('measured'): return [f"**{s['note']}**. The code path (`section_gpu`: faithful model, batch 24, 512 px, inference and "
                                      "training images/s, fp32 against bf16 autocast + channels-last) runs when a CUDA device is present."]
    return [f"{s['device']}, batch {s['batch']}, {s['input']} px.", '',
            table([[k, fmt(s['inference'][k], 1), fmt(s['training'][k], 1)] for k in s['inference']], ['mode', 'inference img/s', 'training img/s'])]
