"""The demo's targets (issue 19) read back from a `benet demo` runs folder, as markdown rows for `benchmarks/results.md`:
detection AP50 ≥ 50 for every configuration with a Det head, Table 1 emotion mAP ≥ prevalence baseline + 10 points for
every configuration, and the whole demo ≤ 12 minutes (from `demo.json`, which `benet demo` writes at the end).

    python benchmarks/demo_results.py runs            # prints the rows
    from demo_results import demo_rows; rows = demo_rows('runs')   # list of markdown table lines (header first)
"""
import json, sys
from pathlib import Path

AP50_MIN, ABOVE_PREV_MIN, MINUTES_MAX = 50.0, 10.0, 12.0


def demo_targets(runs_dir) -> list[dict]:
    "One dict per target: `target`, `value` (str), `goal` (str), `met` (bool or None when not measured)."
    from benet.experiments import CONFIGS, LABELS, people_scores, prevalence_map, table1_map
    from benet.params import trains_detection
    runs_dir, out = Path(runs_dir), []
    for cfg in CONFIGS:
        rd = runs_dir/cfg
        if not (rd/'metrics.json').is_file():
            out.append(dict(target=f'{LABELS[cfg]}: evaluated', value='no metrics.json', goal='run complete', met=False)); continue
        m, p = json.loads((rd/'metrics.json').read_text()), json.loads((rd/'params.json').read_text())
        if trains_detection(p):
            ap50 = (m.get('table2') or {}).get('AP50')
            out.append(dict(target=f'{LABELS[cfg]}: detection AP50', value='n/a' if ap50 is None else f'{ap50:.1f}',
                            goal=f'≥ {AP50_MIN:g}', met=None if ap50 is None else ap50 >= AP50_MIN))
        ppl, mAP = people_scores(rd), table1_map(m)
        prev = prevalence_map(ppl['labels']) if isinstance(ppl, dict) else None
        out.append(dict(target=f'{LABELS[cfg]}: Table 1 mAP − prevalence', goal=f'≥ {ABOVE_PREV_MIN:g} points',
                        value=f'{mAP:.1f} − {prev:.1f} = {mAP - prev:+.1f}' if prev is not None else f'{mAP:.1f} − ? ({ppl})',
                        met=None if prev is None else mAP - prev >= ABOVE_PREV_MIN))
    d = json.loads((runs_dir/'demo.json').read_text()) if (runs_dir/'demo.json').is_file() else None
    out.append(dict(target='benet demo wall time', goal=f'≤ {MINUTES_MAX:g} min',
                    value='not recorded (no demo.json)' if d is None else
                    f"{d['minutes']:.1f} min (load {d['load_start']:.1f} → {d['load_end']:.1f}; CPU {d['cpu_minutes']:.1f} min)",
                    met=None if d is None else d['minutes'] <= MINUTES_MAX))
    return out


def demo_rows(runs_dir) -> list[str]:
    "Markdown table lines (header first) of `demo_targets`."
    mark = {True: 'met', False: '**missed**', None: 'not measured'}
    return ['| demo target | value | goal | |', '|---|---|---|---|'] + [
        f"| {t['target']} | {t['value']} | {t['goal']} | {mark[t['met']]} |" for t in demo_targets(runs_dir)]


if __name__ == '__main__':
    print('\n'.join(demo_rows(sys.argv[1] if len(sys.argv) > 1 else 'runs')))
