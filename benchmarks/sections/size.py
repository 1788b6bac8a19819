"""Section: Size and cost per configuration."""
from __future__ import annotations

import torch

from benchmarks.harness import Cfg, Models, timeit, stat, peak_mb, fmt, table, image, benet_pipeline
from benet.models import create_model, model_info, n_params, HEADS
from benet.params import PAPER_CONFIGS, DEFAULTS
from benet.codec import Codec
from benet.transforms import normalize

TITLE = 'Size and cost per configuration'


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



def measure(c) -> dict:
    return section_size(c.cfg, c.models, c.echo)


def markdown(s: dict, R: dict) -> list[str]:
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
