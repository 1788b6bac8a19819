"""Section: Bottom-up vs top-down, 1 to 32 people."""
from __future__ import annotations
import statistics

import numpy as np
import torch

from benchmarks.harness import Cfg, Models, timeit, fmt, table, image, person_boxes, benet_pipeline
from benet.codec import Codec
from benchmarks.baselines import TopDown

TITLE = 'Bottom-up vs top-down, 1 to 32 people'


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



def measure(c) -> dict:
    return section_people(c.cfg, c.models, c.echo)


def markdown(s: dict, R: dict) -> list[str]:
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
