"""The `benet` subcommands end to end, as a user types them: train -> test -> calibrate -> infer -> show-maps -> export,
plus model-info and import-reference. Tiny model, 64-px inputs, the shared tiny synthetic set and the session's tiny run."""
import json, subprocess
from pathlib import Path
import pytest, torch

def run(bin_dir, *args, ok=True, cwd=None):
    r = subprocess.run([str(bin_dir/args[0]), *map(str, args[1:])], capture_output=True, text=True, timeout=600, cwd=cwd)
    if ok: assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r

@pytest.fixture(scope='module')
def trained(tiny_run):
    "The session's tiny run (tests/conftest.py): trained in its own folder with relative paths; the tests below use it from elsewhere."
    return tiny_run.dir

def test_train_writes_the_run(tiny_run, synth_root):
    run_dir, d = tiny_run.dir, tiny_run.folder
    assert f'run folder: {run_dir}' in tiny_run.out, tiny_run.out
    # its output went to a pipe, as a cluster job's goes to a file: a line per epoch, no progress bar redrawn with \r
    assert 'epoch 2/2: train ' in tiny_run.out and '\r' not in tiny_run.out, tiny_run.out
    p = json.loads((run_dir/'params.json').read_text())         # recorded absolute: the run works from any folder
    assert (p['data']['root'], p['data']['annotations'], p['run']['dir']) == (str(synth_root), str(synth_root/'annotations'), str(d/'runs'))
    assert p['train']['epochs'] == 2 and p['name'] == 'bu_det_pc_bg'
    for f in ('params.json', 'history.csv', 'log.txt', 'status.json', 'checkpoints/best.pth', 'checkpoints/final.pth', 'checkpoints/last.pth'):
        assert (run_dir/f).exists(), f
    assert json.loads((run_dir/'status.json').read_text())['state'] == 'complete'

def test_test_and_calibrate(bin_dir, trained):
    run(bin_dir, 'benet', 'test', '--run', trained, '--state', 'final')
    m = json.loads((trained/'metrics.json').read_text())
    assert m['split'] == 'test' and m['state'] == 'final' and 0 <= m['table1']['BU']['mAP'] <= 100
    # the reference protocol end to end: tests/test_protocol.py
    run(bin_dir, 'benet', 'calibrate', '--run', trained, '--state', 'final')
    th = json.loads((trained/'thresholds.json').read_text())['thresholds']
    assert len(th) == 26
    r = run(bin_dir, 'benet', 'test', '--run', trained.parent/'nope', ok=False)
    assert r.returncode == 2 and 'nope' in r.stderr

def test_infer_show_maps_export(bin_dir, trained, synth_root, tmp_path):
    img = next((synth_root/'EMOTIC/PAMI/emotic').rglob('*.jpg'))
    run(bin_dir, 'benet', 'infer', '--run', trained, '--img', img, '--out', tmp_path/'inf', '--emo-thr', '0.4')
    res = json.loads((tmp_path/'inf'/f'{img.stem}.json').read_text())
    assert {'image', 'people'} <= set(res) and (tmp_path/'inf'/f'{img.stem}_annotated.jpg').exists()
    out = run(bin_dir, 'benet', 'show-maps', '--run', trained, '--img', img, '--emo', 'Happiness', 'Anger', '--out', tmp_path/'maps.png').stdout
    assert (tmp_path/'maps.png').stat().st_size > 0, out
    out = run(bin_dir, 'benet', 'export', '--run', trained, '--onnx', tmp_path/'m.onnx', '--size', 64, 64).stdout
    assert (tmp_path/'m.onnx').exists() and 'max abs diff' in out
    r = run(bin_dir, 'benet', 'infer', '--run', trained, '--checkpoint', trained/'checkpoints/best.pth', '--img', img, ok=False)
    assert r.returncode != 0 and 'exactly one of --run or --checkpoint' in r.stderr

def test_model_info_and_import_reference(bin_dir, tmp_path):
    out = run(bin_dir, 'benet', 'model-info', '--config', 'bu_det_pc_bg').stdout
    assert '16.081' in out and '19.496' in out, out           # backbone and total (no fusion) in millions
    from benet.testing import seeded_state_dict
    keys = json.loads(Path('tests/fixtures/reference-state-dict.json').read_text())['emotic_acivs_1_no_fusion']['keys']
    torch.save(seeded_state_dict(keys, seed=1), tmp_path/'model_best.pth.tar')
    out = run(bin_dir, 'benet', 'import-reference', '--checkpoint', tmp_path/'model_best.pth.tar', '--runs', tmp_path/'runs').stdout
    assert 'reference-bu_det_pc_bg' in out and (tmp_path/'runs/reference-bu_det_pc_bg/checkpoints/best.pth').exists()
    (tmp_path/'junk.pth').write_bytes(b'junk')
    r = run(bin_dir, 'benet', 'import-reference', '--checkpoint', tmp_path/'junk.pth', '--runs', tmp_path/'runs', ok=False)
    assert r.returncode == 2 and 'junk.pth' in r.stderr, r.stderr

def test_lr_find_and_missing_weights(bin_dir, tiny_folder, synth_root):
    d = tiny_folder                      # not the shared run's folder: the test then runs beside it on the other worker
    where = ('--set', f'data.root={synth_root}', '--set', f"run.dir={d/'runs'}")      # tiny.yaml names no data root
    out = run(bin_dir, 'benet', 'lr-find', '--config', d/'tiny.yaml', *where, '--num-it', 20, '--run-id', 'lrf').stdout
    lrf = d/'runs'/'lrf'
    assert 'lr_find: valley' in out and str(lrf/'lr_find.png') in out, out
    assert (lrf/'lr_find.png').stat().st_size > 5000
    res = json.loads((lrf/'lr_find.json').read_text())
    assert len(res['lrs']) == 20 and res['lrs'][0] == 1e-7 and set(res['suggestions']) == {'valley', 'minimum', 'steep'}
    # the paper's initialisation file absent: a one-line refusal naming it, the parameter and where to get it; no run folder
    (d/'weights.yaml').write_text(f"model: {{pretrained: {d/'models'/'pose_higher_hrnet_w32_512.pth'}}}\n")
    for cmd in ('train', 'lr-find'):
        r = run(bin_dir, 'benet', cmd, '--params', d/'tiny.yaml', '--params', d/'weights.yaml', *where, '--run-id', f'nowts-{cmd}', ok=False)
        last = r.stderr.strip().splitlines()[-1]          # (library warnings may come before it)
        assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
        assert last.startswith(f"benet {cmd}: error: model.pretrained: {d/'models'/'pose_higher_hrnet_w32_512.pth'} does not exist"), r.stderr
        assert 'Download pretrained models and paper results' in r.stderr
        assert not (d/'runs'/f'nowts-{cmd}').exists()
