"""Section: The backbone floor and what each optimisation gains."""
from __future__ import annotations
import copy, statistics

import torch

from benchmarks.harness import Cfg, Models, timeit, stat, ratio, fmt, table, seeded_bn, image, call, cl
import timm
from benet.models import model_info, n_params
from benet.transforms import normalize
from benet.optimize import keep_heads, fuse_bn, fast_attention, to_channels_last

TITLE = 'The backbone floor and what each optimisation gains'


def section_floor(cfg: Cfg, models: Models, echo) -> dict:
    x = normalize(image(cfg.size))[None]
    xcl = cl(x)
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
        last = to_channels_last(att)
        cl_only = to_channels_last(naive)
        variants = {'naive (all heads, no_grad, NCHW)': (naive, torch.no_grad, x),
                    '+ inference mode, Det+BU heads only': (heads, torch.inference_mode, x),
                    '+ BN folded': (fused, torch.inference_mode, x)}
        if kind == 'faithful': variants['+ fast attention'] = (att, torch.inference_mode, x)
        variants['+ channels-last (= optimize_for_inference)'] = (last, torch.inference_mode, x)
        variants['channels-last alone'] = (cl_only, torch.no_grad, x)
        comp = models.compiled(kind, x) if cfg.compile else None
        if comp is not None: variants['compiled, frozen (BN folded, channels-last)'] = (comp, torch.inference_mode, x)
        fns = {'floor': lambda: call(floor, torch.no_grad, x), 'floor channels-last': lambda: call(floor_cl, torch.no_grad, xcl)}
        for k, (m, ctx, xx) in variants.items(): fns[k] = (lambda m=m, ctx=ctx, xx=xx: call(m, ctx, xx))
        t = timeit(fns, cfg.rounds)
        gf = dict(floor=floor_gflops, **{'floor channels-last': floor_gflops})
        inf_gf = model_info(naive, cfg.size, as_frame=False)['inference']['gflops']
        res['steps'][kind] = {k: dict(stat(v), vs_floor=ratio(t, k, 'floor'), vs_floor_of_minima=min(v) / min(t['floor']),
                                      gflops_per_s=gf.get(k, inf_gf) / statistics.median(v)) for k, v in t.items()}
        steps = [k for k in t if not k.startswith('floor') and k != 'channels-last alone' and not k.startswith('compiled')]
        for a, b in zip(steps, steps[1:]): res['steps'][kind][b]['gain_vs_previous'] = 1 - ratio(t, b, a)
        if comp is not None: res['steps'][kind]['compiled, frozen (BN folded, channels-last)']['gain_vs_previous'] = 1 - ratio(t, list(variants)[-1], steps[-1])
        for k, v in res['steps'][kind].items(): echo(f"  {kind} {k}: {v['median']:.3f} s, {v['vs_floor']:.2f}× floor")
        del heads, fused, att, last, cl_only
    if not cfg.compile: res['compile_note'] = 'not compiled in --tiny (inductor needs minutes on 2 cores)'
    return res



def measure(c) -> dict:
    return section_floor(c.cfg, c.models, c.echo)


def markdown(s: dict, R: dict) -> list[str]:
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
