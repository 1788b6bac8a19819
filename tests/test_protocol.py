"""`benet test --protocol reference` end to end on the synthetic data, against the default protocol: the numbers differ
exactly where docs/reference.md says they do. Tiny model, 64-px inputs, the session's tiny run (two epochs) on the shared
tiny synthetic set."""
import contextlib, io, json, shutil
from pathlib import Path
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from test_cli_run import run

@pytest.fixture(scope='module')
def evaluated(bin_dir, tiny_run, tmp_path_factory):
    "The session's tiny run (tests/conftest.py), an untouched copy of it, evaluated with every detection kept (det_thr 0)."
    rd = tmp_path_factory.mktemp('protocol')/'tiny'
    shutil.copytree(tiny_run.pristine, rd)
    p = json.loads((rd/'params.json').read_text()); p['test']['det_thr'] = 0.0
    (rd/'params.json').write_text(json.dumps(p))
    outs = {p: run(bin_dir, 'benet', 'test', '--run', rd, '--state', 'final', '--protocol', p) for p in ('benet', 'reference')}
    m = json.loads((rd/'metrics.json').read_text())
    load = lambda name: dict(np.load(rd/'predictions'/name, allow_pickle=False))
    return dict(run=rd, outs=outs, m=m, benet=m['evaluations']['test/final/true'], ref=m['evaluations']['test/final/reference'],
                pb=load('test_final.npz'), pr=load('test_final_reference.npz'))

def test_recorded(evaluated):
    b, r = evaluated['benet'], evaluated['ref']
    assert (b['protocol'], b['iou'], r['protocol'], r['iou']) == ('benet', 'true', 'reference', 'reference')
    assert evaluated['m']['protocol'] == 'benet'                                  # the top level stays the default
    assert json.loads(str(evaluated['pr']['meta']))['protocol'] == 'reference'
    assert json.loads(str(evaluated['pb']['meta']))['protocol'] == 'benet'
    assert 'reference protocol' in evaluated['outs']['reference'].stdout and 'benet protocol' in evaluated['outs']['benet'].stdout
    for f in ('per_category_test_final_protocol-reference.csv', 'figures/pr_test_final_protocol-reference.png'):
        assert (evaluated['run']/f).exists(), f
    num = lambda e: (e['table1']['BU']['mAP'], e['table1']['PC']['mAP'], e['table2']['AP'], e['table2']['AP50'], e['table3']['mean']['mAP'])
    print('\nBU, PC mAP, AP, AP50, Table 3 mean mAP: benet', num(b), 'reference', num(r))   # shown with -s

def test_same_network_outputs(evaluated):
    "PC, BG and the detection scores do not depend on the protocol; the boxes do (truncated corners, heatmap clip)."
    pb, pr = evaluated['pb'], evaluated['pr']
    np.testing.assert_array_equal(pb['det_count'], pr['det_count'])
    for k in ('pc', 'bg', 'det_scores', 'det_emotions'): np.testing.assert_allclose(pb[k], pr[k], rtol=0, atol=1e-6, err_msg=k)
    assert pb['det_count'].sum() > 0 and not np.array_equal(pb['det_boxes'], pr['det_boxes'])

def test_table1(evaluated):
    "Per category, PC and BG are the same APs; the reference's mAP averages all 26, a category without positives as 0."
    b, r = evaluated['benet']['table1'], evaluated['ref']['table1']
    for row in ('PC', 'BG'):
        for c, ap in b[row]['AP'].items():
            assert r[row]['AP'][c] == (0.0 if ap is None else pytest.approx(ap, abs=1e-9)), (row, c)
        assert r[row]['mAP'] == pytest.approx(sum(a for a in b[row]['AP'].values() if a is not None) / 26, abs=1e-9)
    pos = evaluated['benet']['counts']['positives']
    assert any(n == 0 for n in pos.values())                 # the tiny split has categories without positives
    for row in r:
        assert all(r[row]['AP'][c] == 0.0 for c, n in pos.items() if n == 0), row

def test_table2_is_the_reference_formula(evaluated, synth_root):
    """Table 2's AP recomputed as the reference's `MixedDataset._do_python_bbox_eval` does, written out here from the
    per-split file: ground-truth ids from 0 (benet's converter writes them from 1) and x1y1x2y2 boxes handed to COCOeval
    as they are (area = bbox[2]·bbox[3]); the detections through `loadRes` (area = bbox[2]·bbox[3], ids from 1)."""
    split = json.loads((synth_root/'annotations'/'EMOTIC_test_x1y1x2y2.json').read_text())
    pr = evaluated['pr']
    keys = [str(k) for k in pr['image_keys']]
    img_id = {f"{im.get('database', 'EMOTIC')}/{im.get('folder', '')}/{im['file_name']}": im['id'] for im in split['images']}
    ids = {img_id[k] for k in keys}
    anns = [dict(a, id=a['id'] - 1, area=float(a['bbox'][2] * a['bbox'][3]), iscrowd=0) for a in split['annotations'] if a['image_id'] in ids]
    assert min(a['id'] for a in anns) == 0
    cg = COCO()
    cg.dataset = dict(images=[{'id': i} for i in sorted(ids)], annotations=anns, categories=[{'id': 1, 'name': 'person'}])
    dets, dcut = [], np.cumsum(pr['det_count'])[:-1]
    for k, bb, sc in zip(keys, np.split(pr['det_boxes'], dcut), np.split(pr['det_scores'], dcut)):
        dets += [dict(image_id=img_id[k], category_id=1, bbox=[float(v) for v in b], score=float(s)) for b, s in zip(bb, sc)]
    with contextlib.redirect_stdout(io.StringIO()):
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(dets), 'bbox'); ev.evaluate(); ev.accumulate(); ev.summarize()
    # AP over all areas and AP50: the reference's other change (area-ignore of unmatched detections) does not touch them
    assert evaluated['ref']['table2']['AP'] == pytest.approx(100 * ev.stats[0], abs=1e-9)
    assert evaluated['ref']['table2']['AP50'] == pytest.approx(100 * ev.stats[1], abs=1e-9)

def test_deprecated_iou(bin_dir, evaluated):
    r = run(bin_dir, 'benet', 'test', '--run', evaluated['run'], '--state', 'final', '--iou', 'reference')
    assert '--iou is deprecated' in r.stderr and 'use --protocol reference' in r.stderr
    m = json.loads((evaluated['run']/'metrics.json').read_text())['evaluations']['test/final/reference']
    assert m['reused_predictions'] and m['table2'] == evaluated['ref']['table2']
    r = run(bin_dir, 'benet', 'test', '--run', evaluated['run'], '--protocol', 'benet', '--iou', 'reference', ok=False)
    assert r.returncode == 2 and 'contradicts' in r.stderr
