"""One point of the demo's recipe frontier: train configurations of the demo with a recipe (the CPU override plus
`--set` values), then append one row per configuration to `benchmarks/demo_frontier.csv`: process CPU time (this
process and every child it waited for: the papermill kernels and their data-loader workers), wall time, the load
average, Table 1 BU mAP, the prevalence baseline's mAP on the same test people, detection AP50/AP.

The machine is shared, so wall time alone says little: `quiet_min` estimates the wall time on an idle 2-core machine
as CPU seconds / 2 cores (training keeps both cores busy; an upper bound on the speed-up, so a lower bound on minutes).

    python benchmarks/demo_frontier.py --name p01_e8 --configs bu_det --set model.prior_bias=0.01 --set train.epochs=8
    python benchmarks/demo_frontier.py --plot          # benchmarks/demo_frontier.png from the CSV
    python benchmarks/demo_frontier.py --name NAME --from-demo runs   # rows of a finished `benet demo` runs folder

A `--from-demo` row is one configuration of a whole demo: `cpu_s`, `wall_s` and `load1` are then the whole demo's
(`demo.json`: all five configurations, data, report and inference), and the plot places it at its measured minutes.
"""
import argparse, csv, json, os, resource, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CSV = HERE/'demo_frontier.csv'
COLS = ['trial', 'config', 'recipe', 'model', 'cpu_s', 'wall_s', 'quiet_min', 'load1', 'people', 'mAP', 'prevalence_mAP',
        'mAP_above_prev', 'AP50', 'AP', 'when']


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def prevalence_map(params: dict) -> tuple[float, int]:
    "mAP (%) of scoring every test person with the training split's label prevalence (both under the run's `limit`)."
    import numpy as np
    from benet.evaluate import load_ground_truth
    from benet.metrics import emotion_ap, mean_ap
    d = params['data']; ann, fmt, lim = Path(d['annotations']), d['format'], d.get('limit')
    # the EMOTIC training file even for the +ED configuration: HECO's people carry only 8 of the 26 categories
    tr = load_ground_truth(ann/d['train'].replace('EMOTIC_and_HECO', 'EMOTIC').format(format=fmt), fmt, lim)['labels']
    te = load_ground_truth(ann/d['test'].format(format=fmt), fmt, lim)['labels']
    return 100 * mean_ap(emotion_ap(te, np.broadcast_to(tr.mean(0), te.shape))), len(te)


def row_of(run_dir: Path) -> dict:
    "The frontier's numbers of one finished run folder (metrics.json + params.json)."
    m, p = json.loads((run_dir/'metrics.json').read_text()), json.loads((run_dir/'params.json').read_text())
    prev, n = prevalence_map(p)
    t1, t2 = m['table1']['BU']['mAP'], m.get('table2') or {}
    det = (p['train'].get('losses') or {}).get('hm', 0) > 0
    return dict(config=p['name'], model=p['model']['name'], people=n, mAP=round(t1, 2), prevalence_mAP=round(prev, 2),
                mAP_above_prev=round(t1 - prev, 2), AP50=round(t2['AP50'], 2) if det and t2 else '', AP=round(t2['AP'], 2) if det and t2 else '')


def run(name: str, configs: list[str], sets: list[str], data: Path, runs: Path, override: str):
    from benet.experiments import run_batch
    from benet.params import parse_sets
    for cfg in configs:
        c0, t0, load = _cpu(), time.time(), os.getloadavg()[0]
        res = run_batch([cfg], data, override=override, runs_dir=runs/name, report=False, sets=parse_sets(sets) or None)
        cpu, wall = _cpu() - c0, time.time() - t0
        if res.get(cfg) not in ('complete', 'skipped'): print(f'{name} {cfg}: {res.get(cfg)}'); continue
        r = dict(trial=name, recipe=' '.join(sets) or '(cpu_synth as is)', cpu_s=round(cpu), wall_s=round(wall),
                 quiet_min=round(cpu / 2 / 60, 2), load1=round(load, 2), when=time.strftime('%Y-%m-%d %H:%M'), **row_of(runs/name/cfg))
        new = not CSV.exists()
        with CSV.open('a', newline='') as f:
            w = csv.DictWriter(f, COLS)
            if new: w.writeheader()
            w.writerow(r)
        print(' '.join(f'{k}={r[k]}' for k in COLS))


def from_demo(name: str, runs: Path):
    "Append one row per configuration of a finished `benet demo` runs folder; cost columns: the whole demo's."
    from benet.experiments import CONFIGS
    d = json.loads((runs/'demo.json').read_text())
    with CSV.open('a', newline='') as f:
        w = csv.DictWriter(f, COLS)
        for cfg in CONFIGS:
            if not (runs/cfg/'metrics.json').is_file(): print(f'{name} {cfg}: no metrics.json'); continue
            r = dict(trial=name, recipe=f"whole demo, --jobs {d.get('jobs', 1)}: cpu_synth as is", cpu_s=round(60 * d['cpu_minutes']),
                     wall_s=round(60 * d['minutes']), quiet_min=round(d['cpu_minutes'] / 2, 2), load1=round(d['load_start'], 2),
                     when=time.strftime('%Y-%m-%d %H:%M', time.gmtime((runs/'demo.json').stat().st_mtime)), **row_of(runs/cfg))
            w.writerow(r); print(' '.join(f'{k}={r[k]}' for k in COLS))


def plot(out: Path = HERE/'demo_frontier.png'):
    "Per configuration: estimated quiet minutes of one configuration vs AP50 and vs mAP above prevalence."
    import pandas as pd, matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    df = pd.read_csv(CSV)
    # the demo as `make demo` runs it now (--jobs 3, no loader workers: both cores busy to the end): data, report and
    # inference (~1 min) + five configurations' CPU on two cores (s5_demo_workers0_jobs3: 1 + 2.5 × 3.9 = 10.75, measured 10.7)
    df['demo_min'] = 1 + 2.5 * df['cpu_s'] / 60
    whole = df['recipe'].str.startswith('whole demo')      # --from-demo rows: the demo's own measured wall minutes
    df.loc[whole, 'demo_min'] = df.loc[whole, 'wall_s'] / 60
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, col, target, lab in ((axes[0], 'AP50', 50, 'detection AP50 (%)'), (axes[1], 'mAP_above_prev', 10, 'Table 1 mAP − prevalence (points)')):
        for i, (cfg, g) in enumerate(df.groupby('config')):
            g, c = g.dropna(subset=[col]), f'C{i}'
            if not len(g): continue
            w = g['recipe'].str.startswith('whole demo')
            ax.scatter(g.loc[~w, 'demo_min'], g.loc[~w, col], color=c, label=f'{cfg}: one configuration')
            ax.scatter(g.loc[w, 'demo_min'], g.loc[w, col], color=c, marker='*', s=90, label=f'{cfg}: in a whole demo')
            # the trial names of single-configuration rows only: a whole demo's five rows share one name and one x
            for r in g[~w].itertuples(): ax.annotate(r.trial, (r.demo_min, getattr(r, col)), fontsize=7, alpha=.8)
        lo, hi = ax.get_ylim(); ax.set_ylim(lo, max(hi, target + .06 * (hi - lo)))   # the target line inside the frame
        ax.axhline(target, color='k', ls='--', lw=1); ax.axvline(12, color='k', ls='--', lw=1); ax.set_xlim(0, max(30, df['demo_min'].max() + 3))
        ax.set_xlabel('demo minutes: measured (★ whole demos) or estimated for --jobs 3\n(1 + 2.5 × one configuration\'s CPU minutes)')
        ax.set_ylabel(lab); ax.grid(alpha=.3)
    fig.legend(*axes[1].get_legend_handles_labels(), loc='lower center', ncol=5, fontsize=7)
    fig.suptitle('Demo recipes tried (benchmarks/demo_frontier.csv); dashed: the issue-19 targets')
    fig.set_size_inches(12, 5.5); fig.tight_layout(rect=(0, .1, 1, 1)); fig.savefig(out, dpi=110); print(out)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--name'); ap.add_argument('--configs', nargs='+', default=['bu_det'])
    ap.add_argument('--set', dest='sets', action='append', default=[])
    ap.add_argument('--override', default='cpu_synth'); ap.add_argument('--data', type=Path, default=Path('data/synth'))
    ap.add_argument('--runs', type=Path, default=Path('runs/frontier')); ap.add_argument('--plot', action='store_true')
    ap.add_argument('--from-demo', type=Path, help='a finished `benet demo` runs folder: append its rows instead of training')
    a = ap.parse_args()
    if a.plot: plot()
    elif a.from_demo: from_demo(a.name, a.from_demo)
    else: run(a.name, a.configs, a.sets, a.data, a.runs, a.override)
