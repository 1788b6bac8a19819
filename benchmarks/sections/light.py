"""Section: light against faithful, optimised eager, timed in the same interleaved rounds (issue 19's 'light ≥ 4×')."""
from __future__ import annotations
import statistics

import torch

from benchmarks.light_candidates import prepared, time_rounds
from benchmarks.harness import fmt, table

TITLE = 'Light vs faithful, interleaved (optimised eager)'
PAIR = ('faithful', 'benet_light')


def measure(c) -> dict:
    "light_candidates' models and rounds: both through `optimize_for_inference`, one forward each per round, order rotating."
    models, rows = {}, {}
    for n in PAIR: models[n], rows[n] = prepared(n, c.cfg.size)
    x = torch.randn(1, 3, c.cfg.size, c.cfg.size)
    t = time_rounds(models, x, c.cfg.rounds, warmup=0 if c.cfg.tiny else 1)
    r = statistics.median(f / l for f, l in zip(t['faithful'], t['benet_light']))
    c.echo(f"  faithful / light: {r:.2f}× over {c.cfg.rounds} rounds")
    return dict(input=c.cfg.size, rounds=c.cfg.rounds, speedup=r, models={n: dict(rows[n], median_ms=1e3 * statistics.median(t[n]),
                min_ms=1e3 * min(t[n]), all_ms=[round(1e3 * v, 1) for v in t[n]]) for n in PAIR})


def markdown(s: dict, R: dict) -> list[str]:
    return [f"Input {s['input']}×{s['input']}, network forward only, both models through `optimize_for_inference` under "
            f"`inference_mode` (as `benchmarks/light_candidates.py` times them), {s['rounds']} rounds calling each once, the order "
            f"rotating; speed-up = median over rounds of faithful's time / light's in the same round: **{s['speedup']:.2f}×**.", '',
            table([[n, f"{v['params_m']:.3f}", fmt(v['gflops'], 2), fmt(v['median_ms'], 0), fmt(v['min_ms'], 0)] for n, v in s['models'].items()],
                  ['model', 'params (M)', 'GFLOPs inference', 'median ms', 'min ms'])]
