"""The experiment runner end to end with the real notebooks (benet/notebooks/train.ipynb, sweep.ipynb, report.ipynb)
through papermill, on a handful of synthetic images with the tiny model for one epoch.

One scenario serves every test (training is the expensive part), the session's `killed_batch` (tests/conftest.py,
shared with test_reliability's killed-batch test):
1. a first batch is killed (SIGKILL) during its second configuration: `bu` finished, `bu_det` left interrupted,
   with debris;
2. the same batch again, plus a configuration that fails inside its notebook, two at a time: `bu` must be skipped
   untouched, `bu_det` restarted cleanly, the failure reported without stopping the others, and the report written
   with both rows.
About 1 minute on a 2-core CPU."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
import nbformat
from benet.experiments import run_batch, run_state, collect, PAPER, LABELS
from benet.runs import read_json
from conftest import files_mtimes

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

@pytest.fixture(scope='module')
def batch(killed_batch): return killed_batch

def test_smoke_batch_report(batch):
    runs = batch.runs
    assert batch.killed['bu'] == 'complete'                             # the first batch finished bu before the kill
    assert batch.r2['bu_det'] == 'complete' and batch.r2['report.html'] == 'complete', batch.r2
    for name in ('bu', 'bu_det'):
        rd = runs/name
        assert run_state(rd) == 'complete'
        for f in ('train.ipynb', 'sweep.ipynb', 'params.json', 'metrics.json', 'history.csv', 'log.txt', 'status.json',
                  'figures/det_thr_sweep.png', 'figures/table3_true_vs_reference.png'):
            assert (rd/f).exists(), f'{name}: {f}'
        p, m = read_json(rd/'params.json'), read_json(rd/'metrics.json')
        assert (p['name'], p['run']['id'], p['model']['name'], p['train']['epochs']) == (name, name, 'benet_tiny', 1)
        assert (m['split'], m['state'], m['iou']) == ('test', 'best', 'true')
        assert {'test/best/true', 'test/best/reference'} <= set(m['evaluations'])
        assert [r['det_thr'] for r in m['det_thr_sweep']['rows']] == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]
        # the executed notebooks carry the injected parameters
        nb = nbformat.read(rd/'train.ipynb', as_version=4)
        assert nb.cells[1].metadata.tags == ['injected-parameters'] and f'run_id = "{name}"' in nb.cells[1].source
    t = collect(runs)
    t1 = t['table1']
    assert list(t1.index) == ['bu', 'bu_det'] and list(t1.columns[:3]) == ['label', 'ours', 'paper']
    assert t1['paper'].tolist() == [PAPER['table1']['bu'], PAPER['table1']['bu_det']]
    assert t1['ours'].notna().all()
    assert list(t['table2'].index) == ['bu_det']                       # bu trains no detection loss
    assert list(t['table3'].index) == [(LABELS['bu_det'], 'ours'), (LABELS['bu_det'], 'paper')]
    html = (runs/'report.html').read_text()
    for s in ('Table 1', 'Table 2', 'Table 3', 'BU + Det', '23.10', '27.22', 'What each addition did', '<img'):
        assert s in html, s
    rep = nbformat.read(runs/'report.ipynb', as_version=4)
    assert rep.cells[0].metadata.tags == ['parameters']
    # Table 1 printed at the end of the batch, with the paper's numbers beside ours
    assert any('Table 1' in l and 'BU + Det' in l and '27.22' in l for l in batch.log2)

def test_resume_skips_finished_and_restarts_interrupted(batch):
    assert batch.r2['bu'] == 'skipped'
    assert files_mtimes(batch.runs/'bu') == batch.before                # nothing of the finished run was rewritten
    assert not (batch.runs/'bu_det'/'debris.txt').exists()               # the interrupted one restarted from scratch
    assert any(l.startswith('bu_det: found an interrupted run') and 'wiping it' in l for l in batch.log2), batch.log2
    prog = [l for l in batch.log2 if l.startswith('[')]
    assert len(prog) == 3 and any(l.startswith('[1/3] bu ') and 'skipped' in l for l in prog), prog
    assert any(l.startswith('[2/3] bu_det') and 'complete' in l and 'T1 mAP' in l for l in prog), prog

def test_failing_configuration_is_reported(batch):
    err = batch.r2['broken']
    assert err.startswith('failed: FileNotFoundError') and 'no_such_weights.pth' in err and 'train.ipynb' in err, err
    assert run_state(batch.runs/'broken') == 'failed'
    assert read_json(batch.runs/'broken'/'status.json')['error'] == err[len('failed: '):]
    assert (batch.runs/'broken'/'train.ipynb').exists()                 # the failing notebook is there to read
    assert 'broken' not in collect(batch.runs)['table1'].index
    summary = batch.log2[-1]
    assert '1 failed' in summary and 'broken: failed:' in summary, summary

def test_parameters_tag_survives_nbdev_clean(tmp_path):
    "The papermill `parameters` tag must survive `nbdev-clean` (pyproject: allowed_cell_metadata_keys = ['tags'])."
    src = sorted((ROOT/'benet'/'notebooks').glob('*.ipynb'))
    assert [p.stem for p in src] == ['report', 'sweep', 'train']
    for p in src:
        nb = nbformat.read(p, as_version=4)
        code = [c for c in nb.cells if c.cell_type == 'code']
        assert code[0] is nb.cells[0] and code[0].metadata.get('tags') == ['parameters'], p.name
        assert sum('parameters' in c.metadata.get('tags', []) for c in code) == 1, p.name
        assert not any(l.lstrip().startswith(('def ', 'class ')) for c in code for l in c.source.splitlines()), p.name
        shutil.copy(p, tmp_path/p.name)
        # a dirty copy, as after running it in Jupyter: execution counts, extra cell metadata
        for c in code: c.outputs = [nbformat.v4.new_output('stream', text='x')]; c.execution_count = 3; c.metadata['collapsed'] = True
        nbformat.write(nb, tmp_path/f'dirty_{p.name}')
    subprocess.run([str(BIN/'nbdev-clean'), '--fname', str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    for p in src:
        assert (tmp_path/p.name).read_bytes() == p.read_bytes(), f'nbdev-clean would change {p.name}'
        nb = nbformat.read(tmp_path/f'dirty_{p.name}', as_version=4)
        assert nb.cells[0].metadata == {'tags': ['parameters']}, p.name
        assert all(c.execution_count is None and 'collapsed' not in c.metadata for c in nb.cells if c.cell_type == 'code')

def test_topdown_baseline_row(batch, tmp_path):
    "The top-down baseline through the same runner: trained, scored on bu_det's detections, its row in the report marked as a baseline."
    import numpy as np
    from benet.evaluate import load_predictions
    runs = tmp_path/'runs'
    shutil.copytree(batch.runs/'bu_det', runs/'bu_det')        # the BENet run whose Det head finds the people
    log = []
    r = run_batch(['topdown_light'], data=batch.d/'synth', override=batch.d/'tiny.yaml', runs_dir=runs, echo=log.append,
                  sets={'test': {'det_run': 'bu_det'}})
    assert r == {'topdown_light': 'complete', 'report.html': 'complete'}, '\n'.join(log)
    rd = runs/'topdown_light'
    p, m = read_json(rd/'params.json'), read_json(rd/'metrics.json')
    assert (p['model']['topdown'], p['train']['losses'], p['test']['det_run']) == ('topdown_light', {'td': 1.0}, 'bu_det')
    assert {'test/best/true', 'test/best/reference'} <= set(m['evaluations'])
    assert len(m['det_thr_sweep']['rows']) == 8 and m['table3'] is not None
    # the same detections feed both approaches; per-person scores saved as for BENet runs
    td, bd = load_predictions(rd/'predictions'/'test_best.npz'), load_predictions(runs/'bu_det'/'predictions'/'test_best.npz')
    assert np.array_equal(td['det_count'], bd['det_count']) and np.allclose(td['det_boxes'], bd['det_boxes'])
    assert td['bu'].shape == bd['bu'].shape and np.array_equal(td['person_ids'], bd['person_ids'])
    assert m['table2'] == read_json(runs/'bu_det'/'metrics.json')['table2']
    t = collect(runs)
    label = LABELS['topdown_light']
    assert t['runs'].loc['topdown_light', 'kind'] == 'baseline' and t['runs'].loc['bu_det', 'kind'] == 'BENet'
    assert t['runs'].loc['topdown_light', 'model'] == 'topdown_light'
    assert list(t['table1'].index) == ['bu_det', 'topdown_light'] and t['table1'].loc['topdown_light', 'label'] == label
    assert abs(t['table1'].loc['topdown_light', 'ours'] - m['table1']['BU']['mAP']) < 1e-9
    assert (label, 'ours') in t['table3'].index
    html = (runs/'report.html').read_text()
    assert label in html and 'baselines, not BENet configurations' in html
    # its per-person scores read as a BENet run's: the comparison with bu_det has an interval, in the report's paragraph too
    from benet.experiments import read_people, baseline_vs_benet
    vs = baseline_vs_benet(t, read_people(runs, t), n_boot=50)
    assert list(vs['benet']) == ['bu_det'] and vs['verdict'].iloc[0] != 'n/a' and vs['people'].iloc[0] == m['counts']['people'], vs
    assert 'Against the top-down baseline' in html and f"BU + Det vs {label}" in html
