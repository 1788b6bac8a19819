"""Section: Pipeline balance: data loader vs training step."""
from __future__ import annotations
import contextlib, os, time
from pathlib import Path

import torch

from benchmarks.harness import Cfg, Models, fmt, table
from benet.models import create_model
from benet.params import paper_params
from benet.codec import Codec

TITLE = 'Pipeline balance: data loader vs training step'


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



def measure(c) -> dict:
    return section_loader(c.cfg, c.models, c.echo, c.work)


def markdown(s: dict, R: dict) -> list[str]:
    return [f"Configuration {s['config']}, input {s['input']} px, batch {s['batch_size']}, {s['workers']} workers, the synthetic "
            f"data ({s['records']} training records, generated in {s['synth_seconds']:.0f} s). Loader: {s['timed_batches']} batches after the first "
            f"(start-up {s['loader_startup_s']:.1f} s, reported apart), training transforms and target encoding included. Training step: "
            f"forward + BENetLoss + backward + Adam on batches already in memory, {s['timed_steps']} steps after one warm-up.", '',
            table([['data loader alone', fmt(s['loader_images_per_s'], 1)], ['training step alone', fmt(s['step_images_per_s'], 2)],
                   ['training fed by the live loader', fmt(s['with_live_loader_images_per_s'], 2)]], ['', 'images/s']), '',
            f"Loader / step: **{s['ratio']:.1f}×**."]
