#!/usr/bin/env python
"""benet benchmarks: size, speed and scaling of BENet against top-down pipelines, measured in one run.

    python benchmarks/bench.py                 # everything (about 10-15 min on a 2-core CPU) -> benchmarks/
    python benchmarks/bench.py --tiny          # every section end to end, small sizes, one round (seconds)
    python benchmarks/bench.py --only 2,3      # some sections; --out DIR writes elsewhere; --gpu asks for section 7
    python benchmarks/bench.py --demo-runs runs # the demo's targets read from `benet demo`'s runs folder

Writes `results.json` (every number), `results.md` (tables, ratios, targets met or missed) and the plots (`*.png`)
into `--out`. The machine is shared and noisy, so every comparison is measured in the same run, the candidates
interleaved round by round (the order rotates each round), and reported as ratios: the median over rounds of the
per-round ratio, beside each candidate's median and minimum time. Timings use `torch.set_num_threads(2)`.

The benchmarks are a small package: `harness` (settings, timing, memory, machine, shared networks), `baselines`
(the top-down pipelines), `sections/` (one module per section: TITLE, measure, markdown), `targets` (the targets as
data), `plots` (every figure). Adding a section = one module in `sections/` + one entry in SECTIONS below.
"""
from __future__ import annotations
import argparse, contextlib, datetime, json, os, sys, tempfile, time, traceback, warnings
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))   # run from a clone without an editable install too
os.environ.setdefault('KINETO_LOG_LEVEL', '5')      # the profiler's C++ start/stop chatter
from benchmarks import harness                        # first: it sets OpenMP's wait policy before torch loads
import torch

warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export.*')
warnings.filterwarnings('ignore', category=UserWarning, module='torch.onnx')

from benet.transforms import normalize
from benchmarks.harness import Cfg, Models, fmt, table, machine, image, jsonable
from benchmarks.sections import size, floor, people, loader, evaluation, folder, gpu, train, light, accuracy
from benchmarks.sections.people import PIPES
from benchmarks.targets import targets, light_map
from benchmarks.plots import plots

# The sections in run order (numbered from 1): key in results.json -> module (TITLE, measure(ctx), markdown(s, R)).
SECTIONS = dict(size=size, floor=floor, people=people, loader=loader, evaluation=evaluation, folder=folder, gpu=gpu, train=train,
                light=light, accuracy=accuracy)


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
    if R.get('demo'):
        L += ['Demo rows (`benchmarks/demo_results.py`):', '', table([[t['target'], t['value'], t['goal'],
              'not measured' if t['met'] is None else '**met**' if t['met'] else '**missed**'] for t in R['demo']],
              ['demo target', 'value', 'goal', '']), '']
    for i, (key, mod) in enumerate(SECTIONS.items(), 1):
        s = S.get(key)
        L += [f'## {i}. {mod.TITLE}', '']
        if s is None: L += ['not run (`--only`).', '']; continue
        if 'error' in s: L += [f"**failed**: `{s['error']}`", '']; continue
        L += mod.markdown(s, R) + ['']
    if R.get('profile'):
        L += ['## Profile: where the time goes (optimised eager, one forward, torch profiler)', '']
        for kind, tab in R['profile'].items(): L += [f'### {kind}', '', '```', tab.rstrip(), '```', '']
    if R.get('plots'): L += ['## Plots', ''] + [f'![{p}]({p})' for p in R['plots']] + ['']
    return '\n'.join(L)

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



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='every section end to end at small sizes, one round (seconds)')
    ap.add_argument('--out', default=str(ROOT / 'benchmarks'), help='folder for results.json, results.md and the plots')
    ap.add_argument('--only', default='', help=f'comma-separated section numbers (1-{len(SECTIONS)}); default all')
    ap.add_argument('--runs', default=str(ROOT / 'runs'), help='run folders for the accuracy-against-cost section')
    ap.add_argument('--demo-runs', default='runs', help="`benet demo`'s runs folder (its demo.json and one folder per configuration)")
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
    harness.WARMUP = 0 if a.tiny else 1
    if a.no_compile: cfg.compile = False
    only = {int(s) for s in a.only.split(',') if s.strip()} or set(range(1, len(SECTIONS) + 1))
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
        ctx = SimpleNamespace(cfg=cfg, models=models, echo=echo, work=work, args=a, R=R)
        for i, (key, mod) in enumerate(SECTIONS.items(), 1):
            if i not in only: continue
            echo(f"[{time.perf_counter() - t_start:6.0f} s] {i}. {mod.TITLE}")
            t0 = time.perf_counter()
            try: R['sections'][key] = mod.measure(ctx)
            except (Exception, SystemExit) as e:     # SystemExit: a reused script's one-line error
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
    (out / 'results.json').write_text(json.dumps(R, indent=1, default=jsonable) + '\n')
    (out / 'results.md').write_text(render_md(R) + '\n')
    echo(f"wrote {out / 'results.md'}, {out / 'results.json'} and {len(R['plots'])} plots in {R['seconds'] / 60:.1f} min")
    for t in R['targets']: echo(f"  [{'n/a' if t['met'] is None else 'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    if failed: echo(f"sections that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
