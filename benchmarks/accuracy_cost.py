#!/usr/bin/env python
"""Accuracy against cost: emotion mAP against latency per image at 1, 8 and 32 people, for BENet faithful, BENet
light and the top-down baseline (benet.topdown).

    python benchmarks/accuracy_cost.py --runs runs                       # runs picked from the folder (see below)
    python benchmarks/accuracy_cost.py --faithful runs/a --light runs/b --topdown runs/c --out benchmarks

Latencies are `bench.py`'s section 3 (`results.json`, "Bottom-up vs top-down": one image, 1-32 people, measured
interleaved on one machine): BENet faithful and light, and the deployed top-down pipeline (a detector, then the
two-stream network per person). mAP comes from run folders' `metrics.json` (test split, best checkpoint): Table 1
(ground-truth people) and the Table-3 average (detected people; the baseline scores the detections of the BENet run
named by its `test.det_run`). Without an explicit folder, each method's run is the complete one in `--runs` with that
network (`model.name` benet_hrnet_w32 / benet_light, `model.topdown` for the baseline), the BU + Det + PC + BG
configuration first, then the most recent. Writes `accuracy_cost.png` and `accuracy_cost.md` into `--out`.
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = (1, 8, 32)
# method -> (results.json section-3 pipeline, how a run folder of that method is recognised)
METHODS = {
    'BENet faithful': ('benet faithful', lambda m: not m.get('topdown') and m['name'] == 'benet_hrnet_w32'),
    'BENet light': ('benet light', lambda m: not m.get('topdown') and m['name'] == 'benet_light'),
    'top-down baseline': ('top-down deployed (detector + per person)', lambda m: bool(m.get('topdown'))),
}
PREFERRED = 'bu_det_pc_bg'


def fail(msg: str):
    sys.exit(f'accuracy_cost: {msg}')


def read_json(path: Path) -> dict:
    try: return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e: fail(f'{path}: cannot read it ({type(e).__name__}: {e})')


def latencies(results: Path) -> dict[str, dict[int, float]]:
    "{pipeline: {people: seconds}} of results.json's section 3 at 1, 8 and 32 people."
    sec = (read_json(results).get('sections') or {}).get('people')
    if not sec or 'seconds' not in sec: fail(f'{results}: no section 3 ("people") timings: run `python benchmarks/bench.py --only 3`')
    missing = [n for n in PEOPLE if n not in sec['people']]
    if missing: fail(f'{results}: section 3 has no timing at {missing} people (it has {sec["people"]})')
    out = {}
    for method, (pipe, _) in METHODS.items():
        if pipe not in sec['seconds']: fail(f'{results}: section 3 has no pipeline {pipe!r} (has: {", ".join(sec["seconds"])})')
        out[method] = {n: float(sec['seconds'][pipe][sec['people'].index(n)]) for n in PEOPLE}
    return out


def run_numbers(rd: Path) -> dict:
    "Table 1 mAP, the Table-3 average and what the run is, from a run folder."
    for f in ('params.json', 'metrics.json'):
        if not (rd/f).is_file(): fail(f'{rd}: no {f} (a trained and evaluated run folder is needed)')
    p, m = read_json(rd/'params.json'), read_json(rd/'metrics.json')
    t1 = ((m.get('table1') or {}).get('BU') or {}).get('mAP')
    if t1 is None: fail(f'{rd}/metrics.json: no Table 1 mAP (table1.BU.mAP)')
    t3 = ((m.get('table3') or {}).get('mean') or {}).get('mAP')
    return dict(run=str(rd), name=p.get('name'), model=p['model'].get('topdown') or p['model']['name'], table1=float(t1),
                table3=None if t3 is None else float(t3), data=p['data']['root'], epochs=p['train']['epochs'],
                input_size=p['codec']['input_size'], det_run=p['test'].get('det_run'))


def pick_run(runs: Path, method: str) -> Path | None:
    "The run of `method` in `runs` (see the module's docstring), or None."
    test = METHODS[method][1]
    cands = [d for d in sorted(runs.iterdir()) if (d/'params.json').is_file() and (d/'metrics.json').is_file()
             and test(read_json(d/'params.json')['model'])]
    if not cands: return None
    cands.sort(key=lambda d: (read_json(d/'params.json').get('name') != PREFERRED, -(d/'metrics.json').stat().st_mtime))
    return cands[0]


def plot(rows: dict, lat: dict, path: Path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    marks = dict(zip(PEOPLE, ('o', 's', '^')))
    for ax, key, title in zip(axes, ('table1', 'table3'), ('Table 1: ground-truth people', 'Table 3 average: detected people')):
        for k, (method, r) in enumerate(rows.items()):
            if r[key] is None: continue
            xs = [lat[method][n] for n in PEOPLE]
            ax.plot(xs, [r[key]] * len(xs), '-', color=f'C{k}', lw=1, alpha=.6)
            for n, x in zip(PEOPLE, xs):
                ax.plot(x, r[key], marks[n], color=f'C{k}', ms=7, label=f'{method}, {n} people')
        ax.set_xscale('log'); ax.set_xlabel('latency per image (s, log scale)'); ax.set_ylabel('emotion mAP (%)')
        ax.set_title(title); ax.grid(alpha=.3, which='both')
    axes[0].legend(fontsize=7, ncol=1)
    fig.suptitle('Accuracy against cost: each marker is one people count (1, 8, 32) at the method\'s mAP')
    fig.tight_layout(); path.parent.mkdir(parents=True, exist_ok=True); fig.savefig(path, dpi=100); plt.close(fig)
    return path


TIMED_TOPDOWN = 'topdown_resnet18'   # the two-stream network bench.py's section 3 times


def markdown(rows: dict, lat: dict, results: Path, png: Path, missing: list[str], note: str | None = None) -> str:
    fmt = lambda v: 'n/a' if v is None else f'{v:.2f}'
    lines = ['# Accuracy against cost', '', *([f'**What is measured here.** {note}', ''] if note else []),
             f'Latency per image from `{results.name}` (bench.py section 3); mAP (percent, test split, best checkpoint) from '
             'the run folders below. The top-down latency is the deployed pipeline as bench.py measures it (a detector, '
             'then the ResNet-18 two-stream network per person); its accuracy is the baseline run\'s, on the detections '
             'of the BENet run named by its `test.det_run`.', '',
             f'![accuracy against cost]({png.name})', '',
             '| method | run | network | Table 1 mAP | Table 3 avg mAP | ' + ' | '.join(f'latency @{n} (s)' for n in PEOPLE) + ' |',
             '|---|---|---|---|---|' + '---|' * len(PEOPLE)]
    for method, r in rows.items():
        lines.append(f"| {method} | `{r['run']}` | {r['model']} | {fmt(r['table1'])} | {fmt(r['table3'])} | "
                     + ' | '.join(f'{lat[method][n]:.3f}' for n in PEOPLE) + ' |')
    data = sorted({f"{r['model']} at {r['input_size']} px, {r['epochs']} epoch(s), data {r['data']}" for r in rows.values()})
    lines += ['', 'Runs: ' + '; '.join(data) + '. Numbers from synthetic data or few epochs show the protocol working, '
              'not the methods\' accuracy on EMOTIC.']
    td = rows.get('top-down baseline')
    if td and td['model'] != TIMED_TOPDOWN:      # accuracy and latency of two different networks: say so, do not blur it
        lines += ['', f"The top-down baseline's mAP is a `{td['model']}` run's, its latency the `{TIMED_TOPDOWN}` pipeline's: "
                  'two different networks, so its point mixes the two.']
    if missing: lines += ['', f'No run folder for: {", ".join(missing)}: not plotted, and no mAP is given for it (none measured, none estimated).']
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--results', type=Path, default=ROOT/'benchmarks'/'results.json', help="bench.py's results.json")
    ap.add_argument('--runs', type=Path, default=Path('runs'), help='folder of run folders to pick from')
    ap.add_argument('--faithful', type=Path, help='run folder of BENet faithful'); ap.add_argument('--light', type=Path, help='run folder of BENet light')
    ap.add_argument('--topdown', type=Path, help='run folder of the top-down baseline')
    ap.add_argument('--out', type=Path, default=ROOT/'benchmarks', help='where accuracy_cost.png and .md go')
    ap.add_argument('--note', help='what was measured (hardware, data, budget), written at the top of the markdown')
    a = ap.parse_args(argv)
    lat = latencies(a.results)
    given = {'BENet faithful': a.faithful, 'BENet light': a.light, 'top-down baseline': a.topdown}
    if any(v is None for v in given.values()) and not a.runs.is_dir(): fail(f'--runs {a.runs}: no such folder (or give every run folder)')
    rows, missing = {}, []
    for method, rd in given.items():
        rd = rd or pick_run(a.runs, method)
        if rd is None: missing.append(method); continue
        rows[method] = run_numbers(Path(rd))
    if not rows: fail(f'no run folder for any method in {a.runs}: train and evaluate them first (benet experiments run)')
    png = plot(rows, lat, a.out/'accuracy_cost.png')
    md = a.out/'accuracy_cost.md'
    md.write_text(markdown(rows, lat, a.results, png, missing, a.note))
    print(f'{png}\n{md}' + (f'\n(no run for: {", ".join(missing)})' if missing else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
