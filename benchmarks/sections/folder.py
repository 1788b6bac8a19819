"""Section: Folder inference, and ONNX Runtime vs torch."""
from __future__ import annotations
import statistics, time
from pathlib import Path

import numpy as np
import torch

from benchmarks.harness import Cfg, Models, timeit, stat, ratio, fmt, table, image, call, SPIN
from benet.transforms import normalize

TITLE = 'Folder inference, and ONNX Runtime vs torch'


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
                    'torch naive': lambda: call(naive, torch.no_grad, x),
                    'torch optimized': lambda: call(opt, torch.inference_mode, x)}, cfg.rounds)
        res['onnx'][kind] = dict(export_seconds=exp_s, max_abs_diff=diff, size_mb=path.stat().st_size / 2**20,
                                 times={k: stat(v) for k, v in t.items()},
                                 ort_vs_torch_naive=ratio(t, 'onnxruntime', 'torch naive'),
                                 ort_vs_torch_optimized=ratio(t, 'onnxruntime', 'torch optimized'))
        echo(f"  ONNX {kind}: ort {statistics.median(t['onnxruntime']):.3f} s, {res['onnx'][kind]['ort_vs_torch_naive']:.2f}× torch naive, "
             f"{res['onnx'][kind]['ort_vs_torch_optimized']:.2f}× torch optimised (|Δ| {diff:.1e})")
    return res



def measure(c) -> dict:
    return section_folder(c.cfg, c.models, c.echo, c.work)


def markdown(s: dict, R: dict) -> list[str]:
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
