"The console scripts as a user runs them: installed entry points, exit codes, messages."
import json, subprocess
import pytest
from pycocotools.coco import COCO

def run(bin_dir, *args, ok=True, timeout=300):
    r = subprocess.run([str(bin_dir/args[0]), *map(str, args[1:])], capture_output=True, text=True, timeout=timeout)
    if ok: assert r.returncode == 0, r.stdout + r.stderr
    return r

def test_help(bin_dir):
    for exe in ('benet', 'benet-data'):
        assert 'usage' in run(bin_dir, exe, '--help').stdout

def test_synth_then_convert_step_by_step(bin_dir, tmp_path):
    root = tmp_path/'s'
    out = run(bin_dir, 'benet-data', 'synth', '--out', root, '--n-train', 6, '--n-val', 3, '--n-test', 3, '--n-heco', 4).stdout
    assert 'synthetic EMOTIC + HECO written' in out
    ann = tmp_path/'ann'
    run(bin_dir, 'benet-data', 'emotic', '--annotations', root/'EMOTIC/PAMI/Annotations', '--out', ann, '--format', 'xywh')
    run(bin_dir, 'benet-data', 'person-centric', '--annotations', ann, '--out', ann, '--format', 'xywh')
    r = run(bin_dir, 'benet-data', 'heco', '--heco', root/'HECO', '--out', ann, '--format', 'xywh')
    assert 'Happinesst' in r.stdout, r.stdout          # the typo fix is counted in the summary
    run(bin_dir, 'benet-data', 'merge', '--annotations', ann, '--out', ann, '--format', 'xywh')
    for name in ('EMOTIC_train_xywh.json', 'EMOTIC_test_xywh_tdpc.json', 'EMOTIC_and_HECO_train_xywh_tdpc.json'):
        assert len(COCO(str(ann/name)).getAnnIds()) > 0
    merged = json.loads((ann/'EMOTIC_and_HECO_train_xywh_tdpc.json').read_text())
    ids = [i['id'] for i in merged['images']]
    assert len(ids) == len(set(ids)) and {i['database'] for i in merged['images']} == {'EMOTIC', 'HECO'}

def test_errors_name_the_file(bin_dir, tmp_path):
    r = run(bin_dir, 'benet-data', 'emotic', '--annotations', tmp_path/'missing.mat', '--out', tmp_path, ok=False)
    assert r.returncode == 2 and 'missing.mat' in r.stderr, r.stderr
    (tmp_path/'bad.mat').write_text('not a matlab file')
    r = run(bin_dir, 'benet-data', 'emotic', '--annotations', tmp_path/'bad.mat', '--out', tmp_path, ok=False)
    assert r.returncode == 2 and 'bad.mat' in r.stderr, r.stderr
    r = run(bin_dir, 'benet-data', 'emotic', '--out', tmp_path, ok=False)
    assert r.returncode == 2 and '--annotations' in r.stderr
