"""Section: accuracy against cost, section 3's latencies at 1/8/32 people beside the mAP of run folders (when they exist)."""
from __future__ import annotations
from pathlib import Path

from benchmarks import accuracy_cost as ac

TITLE = 'Accuracy against cost'


def measure(c) -> dict:
    runs, s3 = Path(c.args.runs), c.R['sections'].get('people') or {}
    if 'seconds' not in s3: return dict(measured=False, note='not measured: section 3 (people) did not run')
    if not runs.is_dir(): return dict(measured=False, note=f'not measured: no run folders ({runs} does not exist)')
    lat = {m: {n: float(s3['seconds'][pipe][s3['people'].index(n)]) for n in ac.PEOPLE} for m, (pipe, _) in ac.METHODS.items()}
    rows, missing = {}, []
    for method in ac.METHODS:
        rd = ac.pick_run(runs, method)
        if rd is None: missing.append(method)
        else: rows[method] = ac.run_numbers(rd)
    if not rows: return dict(measured=False, note=f'not measured: no trained and evaluated run folder in {runs}')
    return dict(measured=True, runs=str(runs), rows=rows, latency=lat, missing=missing)


def markdown(s: dict, R: dict) -> list[str]:
    if not s.get('measured'): return [f"**{s['note']}**. With run folders (`--runs`), this section plots each method's mAP against "
                                      "section 3's latency at 1, 8 and 32 people (`benchmarks/accuracy_cost.py`)."]
    md = ac.markdown(s['rows'], s['latency'], Path('results.json'), Path('accuracy_cost.png'), s['missing'])
    return md.split('\n', 2)[2].rstrip().split('\n')     # without its own '# title' line
