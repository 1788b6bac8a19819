"`benchmarks/bench.py --tiny` end to end: every section runs and is reported, the plots exist (timings are not checked)."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_bench_tiny(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'bench.py'), '--tiny', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    md = (tmp_path/'results.md').read_text()
    for i, title in enumerate(('Size and cost per configuration', 'The backbone floor', 'Bottom-up vs top-down',
                               'Pipeline balance', 'Evaluation speed', 'Folder inference', 'GPU', 'Training throughput',
                               'Light vs faithful, interleaved', 'Accuracy against cost'), start=1):
        assert f'## {i}. {title}' in md, title
    assert '## Targets' in md and '**failed**' not in md and 'not run (`--only`)' not in md
    assert 'torch ' in md and ' threads' in md                  # the machine description
    res = json.loads((tmp_path/'results.json').read_text())
    assert set(res['sections']) == {'size', 'floor', 'people', 'loader', 'evaluation', 'folder', 'gpu', 'train', 'light', 'accuracy'}
    lt = res['sections']['light']      # faithful and light in the same rounds: the ratio is of their own medians' order
    assert lt['speedup'] > 0 and set(lt['models']) == {'faithful', 'benet_light'}
    tr = res['sections']['train']
    assert set(tr['configs']) == {'bu', 'bu_det_pc_bg'} and tr['modes'][:3] == ['fp32', 'bf16', 'bf16 + channels-last']
    assert all(v > 0 for c in tr['configs'].values() for v in c['images_per_s'].values())
    assert not any('error' in s for s in res['sections'].values())
    assert len(res['targets']) >= 11 and any(t['target'].startswith('Decode ≤ 10 ms') for t in res['targets'])
    names = ' '.join(t['target'] for t in res['targets'])
    assert all(s in names for s in ('Light ≥ 4×', 'Demo ≤ 12 min', 'Test suite ≤ 10 min'))
    assert res['sections']['people']['people'] == [1, 2, 4, 8, 16, 32]
    if not res['machine']['cuda']: assert 'not measured' in md
    for png in ('people_latency.png', 'people_ratio.png', 'optimize_steps.png'):
        assert (tmp_path/png).stat().st_size > 1000, png
        assert f'({png})' in md

    # the notebook that renders the results runs on them as they are (papermill, as a user runs it; the kernel is this
    # interpreter, as benet's own batches run it, whatever `python3` kernelspec the machine has)
    import papermill as pm
    from benet.experiments import kernel_manager_class
    pm.execute_notebook(str(ROOT/'benchmarks'/'report.ipynb'), str(tmp_path/'report.ipynb'), cwd=str(tmp_path),
                        parameters=dict(results=str(tmp_path/'results.json')), progress_bar=False, kernel_name='python3',
                        kernel_manager_class=kernel_manager_class())
    import nbformat
    nb = nbformat.read(tmp_path/'report.ipynb', as_version=4)
    text = '\n'.join(str(o.get('text', '')) + str(o.get('data', {}).get('text/plain', '')) + str(o.get('data', {}).get('text/markdown', ''))
                     for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', []))
    assert 'Headline' in text and '--tiny run' in text          # the targets table and the tiny-run warning are shown
    assert sum('image/png' in o.get('data', {}) for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])) >= 2
    assert 'not run' not in text and 'Error' not in text, text[-2000:]


def test_targets_demo_and_suite(tmp_path, monkeypatch):
    "The demo and suite targets read other jobs' files: absent -> 'not measured' (met None); present -> met/missed with the figure."
    sys.path.insert(0, str(ROOT))
    from benchmarks import targets as tg
    R = dict(tiny=False, sections={}, args=dict(demo_runs=str(tmp_path / 'runs')))
    monkeypatch.setattr(tg, 'SUITE_TIME', tmp_path / 'suite_time.json')
    got = {t['target']: t for t in tg.targets(R)}
    demo, suite = got['Demo ≤ 12 min with AP50 ≥ 50 (Det configurations) and mAP ≥ prevalence + 10 (all)'], got['Test suite ≤ 10 min']
    assert demo['met'] is None and demo['measured'].startswith('not measured') and 'demo.json' in demo['measured']
    assert suite['met'] is None and suite['measured'].startswith('not measured')
    assert len(got) == 2                     # no section ran: the section targets are left out, not reported empty
    base = dict(tests=500, passed=500, failed=0, errors=0, skipped=0, load_start=[2.0, 2, 2], load_end=[3.0, 3, 3], finished='x')
    for wall, met in ((540, True), (600, True), (660, False)):          # 9, 10 and 11 minutes against ≤ 10
        (tmp_path / 'suite_time.json').write_text(json.dumps(dict(base, wall_s=wall)))
        t = next(t for t in tg.targets(R) if t['target'] == 'Test suite ≤ 10 min')
        assert t['met'] is met and t['measured'].startswith(f'{wall / 60:.1f} min'), t
    (tmp_path / 'suite_time.json').write_text(json.dumps(dict(base, wall_s=300, failed=1)))
    assert next(t for t in tg.targets(R) if t['target'] == 'Test suite ≤ 10 min')['met'] is False     # fast but red is not met
    # a demo that wrote demo.json in 11 minutes but whose configurations left no metrics: missed, every row said
    (tmp_path / 'runs').mkdir()
    (tmp_path / 'runs' / 'demo.json').write_text(json.dumps(dict(minutes=11.0, load_start=1.0, load_end=2.0, cpu_minutes=20.0)))
    demo = next(t for t in tg.targets(R) if t['target'].startswith('Demo'))
    assert demo['met'] is False and '11.0 min' in demo['measured'] and 'no metrics.json' in demo['measured']
