"""Reliability campaign (issue 8): bad inputs, faults and resumption, one test per row of docs/reliability.md.

Every bad input must end in a clear error naming the file/record/field, or in a counted, reported skip -- never in
silence. Every fault must leave a run that can be resumed, with intact checkpoints. Trainings use the tiny model at
64 px on a few synthetic images (seconds each); the ones that must be killed run in subprocesses.
The papermill batch test is `slow` (about a minute and a half; its scenario is shared with test_experiments)."""
import errno, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
import yaml
import scipy.io as sio
import torch
from PIL import Image
from benet.convert import convert_emotic, convert_heco, load_coco, ConversionError, HECO_COLUMNS
from benet.params import load_params, ParamsError
from benet.vocab import ImageReadError
from benet.data import Record, BENetDataset, check_images, drop_bad_images, BadImageError, DataError
from benet.testing import synth_root, tiny_params, tiny_overrides, Poison, sarr, cell, person, image, write_mat
from benet.codec import Codec
from benet.models import create_model
from benet.runs import read_json, atomic_save
from benet.weights import load_checkpoint, load_model, CheckpointError
from benet.train import train, NonFiniteLoss
from benet.runs import read_history
from benet.infer import Predictor, read_image, infer

torch.set_num_threads(1)   # 2 shared cores: one thread each
ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT/'benet'/'configs'
QUIET = dict(echo=lambda *a: None, progress=False)
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')


# ---------------------------------------------------------------------------------------------------------------
# shared: a tiny converted synthetic set, and the tiny training configuration on it

@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    return synth_root(tmp_path_factory.mktemp('rel')/'synth', n_train=8, n_val=4, n_test=2, n_heco=0, min_size=96, max_size=160)

def tiny(root, runs, **train_kw): return tiny_params(PARAMS/'bu_det_pc_bg.yaml', root, runs, **train_kw)

def tiny_yaml(path, root, runs, epochs=3) -> Path:
    "The same configuration as a parameters file (what `benet train --params` reads)."
    path.write_text(yaml.safe_dump({'base': str(PARAMS/'bu_det_pc_bg.yaml'), **tiny_overrides(root, runs, epochs=epochs)}))
    return path

def same_weights(a: Path, b: Path) -> bool:
    x, y = load_checkpoint(a)['model'], load_checkpoint(b)['model']
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)

def python(code: str, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', code, *map(str, args)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# ---------------------------------------------------------------------------------------------------------------
# EMOTIC Annotations.mat: tiny files written with scipy (a dict is a struct, a record array a struct array)

def good_splits():
    return dict(train=[image('a.jpg', [person([10, 5, 50, 60])]), image('b.jpg', [person([1, 1, 30, 40], cell('Peace', 'Fear'))])],
                val=[image('c.jpg', [person([0, 0, 20, 20], 'Fear')])], test=[image('d.jpg', [person([5, 5, 25, 25], 'Pain')])])

def mat_with(tmp_path, **changes) -> Path:
    return write_mat(tmp_path/'Annotations.mat', **{**good_splits(), **changes})

def test_emotic_truncated_mat(tmp_path):
    raw = write_mat(tmp_path/'good.mat', **good_splits()).read_bytes()
    for frac in (0.9, 0.5, 0.02):
        (tmp_path/'Annotations.mat').write_bytes(raw[:int(len(raw) * frac)])
        with pytest.raises(ConversionError, match=r"Annotations.mat': not a readable MATLAB file"):
            convert_emotic(tmp_path/'Annotations.mat', tmp_path/'out')
    assert not (tmp_path/'out').exists()                     # nothing half-written

def test_emotic_wrong_top_level_variable(tmp_path):
    sio.savemat(tmp_path/'Annotations.mat', {'annotations': sarr(good_splits()['train'])})
    with pytest.raises(ConversionError, match=r"split 'train': missing split 'train' \(variables: annotations\)"):
        convert_emotic(tmp_path/'Annotations.mat', tmp_path/'out')

def test_emotic_split_missing(tmp_path):
    with pytest.raises(ConversionError, match=r"split 'test': missing split 'test' \(variables: train, val\)"):
        convert_emotic(mat_with(tmp_path, test=None), tmp_path/'out')

def test_emotic_person_without_box(tmp_path):
    p = person([10, 5, 50, 60]); del p['body_bbox']
    with pytest.raises(ConversionError, match=r"split 'train', record 0, person 0, field 'body_bbox': missing field 'body_bbox'"):
        convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [p])]), tmp_path/'out', splits=('train',))
    # an empty box: the person is skipped, counted and located; the image's other person is kept
    S = convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person([]), person([1, 1, 9, 9])])]), tmp_path/'out', splits=('train',))
    assert [(e['reason'], e['where']['person']) for e in S.skips] == [('box is not 4 numbers', 0)]
    assert len(load_coco(tmp_path/'out'/'EMOTIC_train_x1y1x2y2.json')['annotations']) == 1 and 'box is not 4 numbers: 1' in str(S)

@pytest.mark.parametrize('box, kind, reason', [
    ([np.nan, 2, 30, 40], 'skip', 'box with NaN or infinite coordinate'),
    ([10, 10, np.inf, 60], 'skip', 'box with NaN or infinite coordinate'),
    ([-10, -5, 40, 60], 'fix', 'box clipped to the image'),                                  # negative coordinates
    ([50, 5, 10, 60], 'skip', 'box of zero or negative area (after clipping to the image)'),  # x2 < x1
    ([10, 10, 10, 60], 'skip', 'box of zero or negative area (after clipping to the image)'), # zero width
    ([200, 100, 300, 160], 'skip', 'box of zero or negative area (after clipping to the image)'),  # outside the image
], ids=['nan', 'inf', 'negative-coordinates', 'negative-area', 'zero-area', 'outside-image'])
def test_emotic_bad_boxes(tmp_path, box, kind, reason):
    S = convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person(box), person([1, 1, 9, 9])])]), tmp_path/'out', splits=('train',))
    ev = [e for e in S.events if e['kind'] != 'note']
    assert [(e['kind'], e['reason']) for e in ev] == [(kind, reason)]
    assert ev[0]['where'] == dict(file=str(tmp_path/'Annotations.mat'), split='train', record=0, person=0, field='body_bbox')
    anns = load_coco(tmp_path/'out'/'EMOTIC_train_x1y1x2y2.json')['annotations']
    assert len(anns) == (2 if kind == 'fix' else 1) and f'{reason}: 1' in str(S)
    if kind == 'fix': assert anns[0]['bbox'] == [0, 0, 40, 60]
    with pytest.raises(ConversionError, match=r"record 0, person 0, field 'body_bbox': " + reason.split(' (')[0]):
        convert_emotic(tmp_path/'Annotations.mat', tmp_path/'o', splits=('train',), strict=True)

def test_emotic_image_size_zero(tmp_path):
    for size in (dict(n_col=100, n_row=0), dict(n_col=np.array([]), n_row=80)):
        S = convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person([1, 1, 9, 9])], image_size=size),
                                                     image('b.jpg', [person([1, 1, 9, 9])])]), tmp_path/'out', splits=('train',))
        assert [(e['reason'], e['where']) for e in S.skips] == [('image size zero or missing', dict(
            file=str(tmp_path/'Annotations.mat'), split='train', record=0, field='image_size'))]
        assert [im['file_name'] for im in load_coco(tmp_path/'out'/'EMOTIC_train_x1y1x2y2.json')['images']] == ['b.jpg']

def test_emotic_unknown_or_misspelled_category(tmp_path):
    S = convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person([1, 1, 9, 9], 'Hapiness'), person([20, 1, 29, 9], 'happiness'),
                                                                 person([40, 1, 49, 9], cell('Doubt', 'Peace'))])]),
                       tmp_path/'out', splits=('train',))
    assert [(e['kind'], e['reason'], e['where']['person'], e['detail']) for e in S.events if e['kind'] != 'note'] == [
        ('skip', 'unknown category', 0, "unknown category 'Hapiness'; did you mean 'Happiness'?"),
        ('fix', 'category name fixed', 1, "'happiness' -> 'Happiness'"),
        ('fix', 'category name fixed', 2, "'Doubt' -> 'Doubt/Confusion'")]
    anns = load_coco(tmp_path/'out'/'EMOTIC_train_x1y1x2y2.json')['annotations']
    assert [a['annotations_categories'] for a in anns] == [['Happiness'], ['Doubt/Confusion', 'Peace']]
    with pytest.raises(ConversionError, match="person 0, field 'annotations_categories': unknown category: unknown category 'Hapiness'"):
        convert_emotic(tmp_path/'Annotations.mat', tmp_path/'o', splits=('train',), strict=True)

def test_emotic_annotator_list_of_unexpected_shape(tmp_path):
    cases = [(dict(annotations_categories=np.array([1, 2, 3])), "field 'annotations_categories': expected a MATLAB struct, got int64"),
             (dict(annotations_categories=dict(categories=np.array([1., 2.]))),
              "field 'annotations_categories.categories': expected a string or a cell of strings"),
             (dict(combined_categories=np.array([3., 4.]), combined_continuous=dict(valence=5., arousal=6., dominance=7.)),
              "field 'combined_categories': expected a string or a cell of strings"),
             (dict(annotations_continuous=np.array([5., 6., 7.])), "field 'annotations_continuous': expected a MATLAB struct, got float64"),
             (dict(annotations_continuous=dict(valence=np.array([1., 2.]), arousal=3., dominance=4.)),
              "field 'annotations_continuous.valence': expected one number, got 2")]
    for kw, msg in cases:
        with pytest.raises(ConversionError, match="split 'train', record 0, person 0, " + msg.replace('(', r'\(').replace(')', r'\)')):
            convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person([1, 1, 9, 9], **kw)])]), tmp_path/'out', splits=('train',))
    # a 2x2 annotator array on a train person: flattened, the union of the 4 annotators used, and said so
    grid = np.empty((2, 2), dtype=[('categories', object)])
    for (i, j), c in zip(np.ndindex(2, 2), ('Anger', 'Fear', 'Pain', 'Anger')): grid[i, j]['categories'] = c
    S = convert_emotic(mat_with(tmp_path, train=[image('a.jpg', [person([1, 1, 9, 9], annotations_categories=grid)])]),
                       tmp_path/'out', splits=('train',))
    assert S.n('note', 'several annotators and no combined_categories: union used') == 1
    assert load_coco(tmp_path/'out'/'EMOTIC_train_x1y1x2y2.json')['annotations'][0]['annotations_categories'] == ['Anger', 'Fear', 'Pain']


# ---------------------------------------------------------------------------------------------------------------
# HECO CSV

HECO_OK = [['h1.jpg', 1, 2, 20, 25, 'Happiness', 5, 6, 7], ['h1.jpg', 22, 3, 39, 29, 'Anger', 2, 8, 4],
           ['h2.jpg', 0, 0, 30, 30, 'Disgust', 3, 5, 5]]

def heco_root(tmp_path, rows, header=HECO_COLUMNS) -> Path:
    import csv
    root = tmp_path/'HECO'; (root/'Labels').mkdir(parents=True, exist_ok=True); (root/'Data').mkdir(exist_ok=True)
    for im in ('h1.jpg', 'h2.jpg'): Image.new('RGB', (40, 30)).save(root/'Data'/im)
    with open(root/'Labels'/'HECO_Labels.csv', 'w', newline='') as f: csv.writer(f).writerows([list(header), *rows])
    return root

def test_heco_missing_column(tmp_path):
    with pytest.raises(ConversionError, match=r"HECO_Labels.csv', line 1: missing column\(s\) 'Dominance'"):
        convert_heco(heco_root(tmp_path, [r[:8] for r in HECO_OK], HECO_COLUMNS[:8]), tmp_path/'out')
    assert not (tmp_path/'out').exists()

def test_heco_extra_column(tmp_path):
    S = convert_heco(heco_root(tmp_path, [r + ['a comment'] for r in HECO_OK], HECO_COLUMNS + ('Comment',)), tmp_path/'out')
    assert S.of('note', 'extra columns ignored')[0]['detail'] == 'Comment' and 'extra columns ignored: 1' in str(S)
    assert len(load_coco(tmp_path/'out'/'HECO_x1y1x2y2_tdpc.json')['annotations']) == 3

@pytest.mark.parametrize('row, reason, field', [
    (['h1.jpg', 'abc', 3, 39, 29, 'Anger', 2, 8, 4], 'bad number', 'xmin'),
    (['h1.jpg', 5, 5, 9, 20, 'Fear', 'high', 5, 5], 'bad number', 'Valence'),
    (['h2.jpg', 0, 0, 30, 30, 'Boredom', 3, 5, 5], 'unknown category', 'Category'),
    (HECO_OK[0], 'duplicated row', None),
    (['h9.jpg', 0, 0, 10, 10, 'Fear', 3, 5, 5], 'image absent or unreadable', 'Image'),
], ids=['bad-box-number', 'bad-vad-number', 'unknown-category', 'duplicated-row', 'image-absent'])
def test_heco_bad_row(tmp_path, row, reason, field):
    S = convert_heco(heco_root(tmp_path, HECO_OK + [row]), tmp_path/'out')
    assert [(e['reason'], e['where']['line'], e['where'].get('field')) for e in S.skips] == [(reason, 5, field)]
    assert f'{reason}: 1' in str(S)
    assert len(load_coco(tmp_path/'out'/'HECO_x1y1x2y2_tdpc.json')['annotations']) == 3      # the good rows are all there
    with pytest.raises(ConversionError, match=f"line 5{', field ' + repr(field) if field else ''}: {reason}"):
        convert_heco(tmp_path/'HECO', tmp_path/'o', strict=True)


# ---------------------------------------------------------------------------------------------------------------
# Images, through the training data path (check_images -> dataset item) and the inference path (read_image, folder)

SCENE = np.full((120, 160, 3), 40, np.uint8); SCENE[20:100, 30:70] = 230        # a bright "person" at x 30-70, y 20-100
BOX = (30, 20, 70, 100)

@pytest.fixture(scope='module')
def images(tmp_path_factory):
    "Every kind of image file, 160x120 as stored (except the 1x1 one), and the broken ones."
    d = tmp_path_factory.mktemp('images')
    Image.fromarray(SCENE).save(d/'ok.jpg', quality=95)
    Image.fromarray(SCENE[..., 0]).save(d/'gray.jpg', quality=95)
    Image.fromarray(np.dstack([SCENE, np.full((120, 160), 77, np.uint8)])).save(d/'rgba.png')
    Image.fromarray(SCENE).convert('CMYK').save(d/'cmyk.jpg', quality=95)
    Image.fromarray(SCENE[..., 0].astype(np.uint16) * 257).save(d/'gray16.png')
    ex = Image.Exif(); ex[0x0112] = 6                                          # displayed rotated by 90°
    Image.fromarray(SCENE).save(d/'exif.jpg', exif=ex, quality=95)
    Image.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(d/'one.png')
    (d/'empty.jpg').write_bytes(b'')
    raw = (d/'ok.jpg').read_bytes(); (d/'truncated.jpg').write_bytes(raw[:len(raw) // 2])
    (d/'notes.jpg').write_text('meeting notes, not a picture')
    return d

def rec(path, w=160, h=120, box=BOX, rid=1):
    return Record(id=rid, path=str(path), width=w, height=h, database='EMOTIC', boxes=np.array([box], np.float32),
                  labels=np.eye(26, dtype=np.float32)[[3]], vad=np.full((1, 3), .5, np.float32))

BROKEN = {'missing.jpg': 'missing', 'empty.jpg': 'empty file (0 bytes)', 'truncated.jpg': 'truncated or corrupt image data',
          'notes.jpg': 'unreadable header (UnidentifiedImageError'}

def test_images_unreadable_training_path(images):
    recs = [rec(images/n, rid=i) for i, n in enumerate(['ok.jpg', *BROKEN], 1)]
    msgs = []
    kept = drop_bad_images(recs, skip=True, name='train', echo=msgs.append)   # what make_dataloaders does, before training
    assert [r.path for r in kept] == [str(images/'ok.jpg')]
    report = '\n'.join(msgs)
    assert 'train: 4 unreadable image(s), used by 4 of 5 record(s)' in report and 'skipped 4 record(s)' in report
    for name, why in BROKEN.items(): assert f'{images/name}: {why}' in report, (name, report)
    with pytest.raises(BadImageError, match='set data.skip_bad_images: true') as e: drop_bad_images(recs, skip=False)
    assert all(str(images/n) in str(e.value) for n in BROKEN)

@pytest.mark.parametrize('name', ['ok.jpg', 'gray.jpg', 'rgba.png', 'cmyk.jpg', 'gray16.png', 'exif.jpg'])
def test_images_any_kind_training_path(images, name):
    "Readable, in the frame of its boxes: the bright block lies where the record's box says (validation fit: 160 -> 64 px)."
    r = rec(images/name)
    assert check_images([r.path], sizes={r.path: (160, 120)}) == {}
    x, task, heco, tg = BENetDataset([r], Codec(64, (16, 32)), {'det': 1.0}, train=False)[0]
    assert x.shape == (3, 64, 64) and torch.isfinite(x).all()
    ys, xs = torch.nonzero(x[0] > 1, as_tuple=True)                         # bright after normalisation
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], [12, 16, 28, 48], atol=1.5)   # 0.4 scale, 8 px pad
    ind, w = tg['ind'][1][0][tg['mask'][1][0]], 32                           # the target centre, on the 32x32 map
    np.testing.assert_allclose([(ind % w).item(), (ind // w).item()], [(12 + 28) / 4, (16 + 48) / 4], atol=1)

@pytest.mark.parametrize('name', ['ok.jpg', 'gray16.png'])
def test_images_reduced_keep_their_boxes(images, name):
    "Above `max_pixels` the image is reduced while decoded and the record's boxes scaled with it: same block, same target."
    x, task, heco, tg = BENetDataset([rec(images/name)], Codec(64, (16, 32)), {'det': 1.0}, train=False, max_pixels=4800)[0]
    ys, xs = torch.nonzero(x[0] > 1, as_tuple=True)                         # 160x120 read as 80x60, then fit to 64 px
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], [12, 16, 28, 48], atol=1.5)
    ind, w = tg['ind'][1][0][tg['mask'][1][0]], 32
    np.testing.assert_allclose([(ind % w).item(), (ind // w).item()], [(12 + 28) / 4, (16 + 48) / 4], atol=1)

def test_images_one_pixel_training_path(images):
    r = rec(images/'one.png', 1, 1, (0, 0, 1, 1))
    assert check_images([r.path], sizes={r.path: (1, 1)}) == {}
    from benet.codec import TASK_CODE
    for t in TASK_CODE:                                      # each pre-transform drawn alone: all four give valid items
        ds = BENetDataset([r], Codec(64, (16, 32)), {t: 1.0})
        for e in range(2):
            x, task, heco, tg = ds[(e, 0)]
            assert int(task) == TASK_CODE[t] and x.shape == (3, 64, 64) and torch.isfinite(x).all(), (t, e)
            maps = [a for v in tg.values() for a in (v if isinstance(v, (list, tuple)) else [v]) if a.is_floating_point()]
            assert len(maps) >= 8 and all(torch.isfinite(a).all() for a in maps), t      # every target finite

def test_images_exif_rotated_on_disk_is_reported(images, tmp_path):
    "An image whose stored size is not the annotated one (here: re-saved upright) is a reported skip, with the EXIF hint."
    ex = Image.Exif(); ex[0x0112] = 6
    Image.fromarray(SCENE).transpose(Image.Transpose.ROTATE_90).save(tmp_path/'turned.jpg', exif=ex)
    msgs = []
    assert drop_bad_images([rec(tmp_path/'turned.jpg')], echo=msgs.append) == []
    assert 'size 120x160 is not the annotated 160x120 (the EXIF orientation turns it to the annotated size' in msgs[0]
    # swapped on disk after the check: the item refuses it, naming the record
    Image.fromarray(SCENE[:, :100]).save(tmp_path/'later.jpg')
    with pytest.raises(DataError, match=r"record 1: image .*later.jpg is 100x120 but the record was annotated on 160x120"):
        BENetDataset([rec(tmp_path/'later.jpg')], Codec(64, (16, 32)), {'det': 1.0}, train=False)[0]

def test_images_inference_path(images, tmp_path):
    "Folder mode: every readable kind predicted (EXIF turned upright for display), every unreadable one listed, none silent."
    p = tiny_params(None)
    torch.manual_seed(0)
    pr = Predictor(create_model('benet_tiny', heads=('det', 'bu')), p, flip=False)
    s = infer(images, tmp_path/'out', predictor=pr, annotated=False, **QUIET)
    assert s['n_images'] == 7 and s['n_skipped'] == 3
    assert {Path(x['path']).name for x in s['skipped']} == {'empty.jpg', 'truncated.jpg', 'notes.jpg'}
    assert all(Path(x['path']).name in x['error'] for x in s['skipped'])     # the error names the file
    lines = [json.loads(l) for l in (tmp_path/'out'/'predictions.jsonl').read_text().splitlines()]
    assert len(lines) == 10 and sum('error' in l for l in lines) == 3
    sizes = {Path(l['image']).name: (l['width'], l['height']) for l in lines if 'error' not in l}
    assert sizes == {'ok.jpg': (160, 120), 'gray.jpg': (160, 120), 'rgba.png': (160, 120), 'cmyk.jpg': (160, 120),
                     'gray16.png': (160, 120), 'exif.jpg': (120, 160), 'one.png': (1, 1)}
    assert read_image(images/'exif.jpg').image.shape == (160, 120, 3)
    with pytest.raises(FileNotFoundError, match='input not found'): infer(images/'missing.jpg', tmp_path/'o', predictor=pr, **QUIET)
    with pytest.raises(ImageReadError, match='truncated.jpg'): read_image(images/'truncated.jpg')

HUGE = r'''
import sys, json, numpy as np, torch
from PIL import Image
torch.set_num_threads(1)
from benet.data import Record, BENetDataset
from benet.codec import Codec
from benet.infer import Predictor
from benet.models import create_model
from benet.testing import tiny_params, PerfectNet
def status(key): return next(int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith(key + ':'))
def reset(): open('/proc/self/clear_refs', 'w').write('5'); return status('VmRSS')   # peak RSS := current RSS
d = sys.argv[1]
probs = {'det': .25, 'bu': .25, 'pc': .25, 'bg': .25}
def rec(p, w, h, box): return Record(id=1, path=p, width=w, height=h, database='EMOTIC', boxes=np.array([box], np.float32),
                                     labels=np.zeros((1, 26), np.float32), vad=np.zeros((1, 3), np.float32))
Image.new('RGB', (640, 480), (90, 90, 90)).save(d + '/small.jpg')
p = tiny_params(None)
pr = Predictor(create_model('benet_tiny', heads=('det', 'bu')), p, flip=False)
for e in range(4): BENetDataset([rec(d + '/small.jpg', 640, 480, (10, 10, 300, 400))], Codec(64, (16, 32)), probs)[(e, 0)]
pr.predict_image(d + '/small.jpg')
bx = [[1000, 2000, 3000, 8000], [6000, 1000, 9000, 9500]]                    # a stand-in network that finds these two people
Predictor(PerfectNet(bx, torch.zeros(2, 26), (480, 640))).predict_image(d + '/small.jpg')
out = {}
for f in ('big.jpg', 'big.png'):
    before = reset()
    ds = BENetDataset([rec(d + '/' + f, 10000, 10000, (1000, 2000, 3000, 8000))], Codec(64, (16, 32)), probs)
    items = [ds[(e, 0)] for e in range(4)]                                     # all four pre-transforms' draws
    out['train ' + f] = status('VmHWM') - before
    assert all(tuple(x[0].shape) == (3, 64, 64) for x in items)
before = reset(); res = pr.predict_image(d + '/big.jpg'); out['infer big.jpg'] = status('VmHWM') - before
assert (res['width'], res['height']) == (10000, 10000)
before = reset(); res = Predictor(PerfectNet(bx, torch.zeros(2, 26), (10000, 10000))).predict_image(d + '/big.jpg')
out['infer big.jpg, two people'] = status('VmHWM') - before
out['boxes'] = sorted(p['box'] for p in res['people'])
print(json.dumps(out))
'''

@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='peak memory is read from /proc (Linux)')
def test_images_huge_memory_bounded(tmp_path):
    "10,000 x 10,000 images (100 Mpixels; a float copy is 1.2 GB): peak memory growth per item, training and inference."
    Image.new('RGB', (10000, 10000), (90, 90, 90)).save(tmp_path/'big.jpg', quality=80)
    Image.new('RGB', (10000, 10000), (90, 90, 90)).save(tmp_path/'big.png', compress_level=1)
    r = subprocess.run([sys.executable, '-c', HUGE, str(tmp_path)], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    mb = json.loads(r.stdout.strip().splitlines()[-1]); print(mb)
    # before bounding, one training item of the JPEG grew the process by 1.7 GB
    assert mb['train big.jpg'] < 350 and mb['infer big.jpg'] < 250, mb     # JPEG: decoded at 1/2 scale at most
    assert mb['train big.png'] < 800, mb                                    # PNG: one 8-bit decode (300 MB), then bounded
    # the people found on the huge image come back in its own pixels (within a 512-px network's cell, rounding),
    # without a full-size copy (a float one would be 1.2 GB)
    assert mb['infer big.jpg, two people'] < 150, mb
    assert np.allclose(mb['boxes'], [[1000, 2000, 3000, 8000], [6000, 1000, 9000, 9500]], atol=2 * 10000 / 512 + 8), mb


# ---------------------------------------------------------------------------------------------------------------
# Parameters files: every error before anything is written

@pytest.mark.parametrize('text, msg', [
    ('train: {epoch: 3}\n', r"unknown key 'train.epoch' .*did you mean 'train.epochs'\?"),
    ('train: {lr: fast}\n', r"'train.lr' must be float, got str 'fast'"),
    ('name: ???\n', r"missing required value 'name'"),
    ('train: {epochs: 0}\n', r"'train.epochs' must be an integer >= 1, got 0 \(from .*bad.yaml\)"),
    ('train: {epochs: -2}\n', r"'train.epochs' must be an integer >= 1, got -2 \(from .*bad.yaml\)"),
    ('train: {lr: -0.01}\n', r"'train.lr' must be a number > 0, got -0.01 \(from .*bad.yaml\)"),
    ('train: {batch_size: 0}\n', r"'train.batch_size' must be an integer >= 1, got 0 \(from .*bad.yaml\)"),
    ('train: {augment: {scale: [1.5, 0.5]}}\n', r"'train.augment.scale' must be two numbers \[low, high\] with 0 < low <= high"),
    ('codec: {output_sizes: [16, 32, 64]}\n', r"'codec.output_sizes' must be two integers, low resolution first"),
    ('base: bad.yaml\n', r"bad.yaml: circular 'base:' chain"),
    ('train:\n  epochs: 2\n  epochs: 3\n', r"bad.yaml: not valid YAML: .*key 'epochs' given twice \(lines 3 and 4\)"),
    ('name: caf\udce9\n', r"bad.yaml: not UTF-8 text \(byte 0xe9 at offset \d+\): save it as UTF-8"),
], ids=['unknown-key', 'wrong-type', 'missing-required', 'epochs-0', 'epochs-negative', 'lr-negative', 'batch-size-0',
        'augment-scale-reversed', 'three-output-sizes', 'circular-base', 'duplicate-key', 'not-utf8'])
def test_params_errors_before_training(tmp_path, monkeypatch, capsys, synth, text, msg):
    from benet.cli import benet_main
    monkeypatch.chdir(tmp_path)                                             # where a default 'runs/' would appear
    good = tiny_yaml(tmp_path/'good.yaml', synth, tmp_path/'runs')
    # base.yaml instead of good.yaml when the case sets its own base (a surrogate escape is the byte 0xE9 on disk)
    (tmp_path/'bad.yaml').write_text(text if text.startswith('base:') else f'base: good.yaml\n{text}', errors='surrogateescape')
    with pytest.raises(ParamsError, match=msg): train([tmp_path/'bad.yaml'], **QUIET)
    assert benet_main(['train', '--params', str(good), '--params', str(tmp_path/'bad.yaml')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('benet train: error:') and 'bad.yaml' in err and 'Traceback' not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.yaml', 'good.yaml']   # no run folder, no checkpoint


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints

@pytest.fixture(scope='module')
def run3(synth, tmp_path_factory):
    "A finished 3-epoch run of the tiny configuration (used as the uninterrupted reference too)."
    runs = tmp_path_factory.mktemp('runs')
    return train(tiny(synth, runs), run_dir=runs/'whole', **QUIET)

def test_checkpoint_from_another_configuration(run3, synth, tmp_path):
    # another architecture (two heads fewer) where the run expects four: load_model names the file and the keys
    run = tmp_path/'run'; shutil.copytree(run3, run)
    atomic_save({'model': create_model('benet_tiny', heads=('det', 'bu')).state_dict()}, run/'checkpoints'/'best.pth')
    with pytest.raises(CheckpointError, match=r"best.pth: does not fit BENet .* missing: pc\."):
        load_model(run, 'best')
    # resuming with parameters that change the trajectory: refused, naming what changed; the run is untouched
    before = {p: p.stat().st_mtime_ns for p in run.rglob('*') if p.is_file()}
    with pytest.raises(ValueError, match=r"cannot resume from .*last.pth: the parameters differ .*train.lr: 0.001 -> 0.01"):
        train(tiny(synth, tmp_path, epochs=4, lr=0.01), resume=run, **QUIET)
    assert before == {p: p.stat().st_mtime_ns for p in run.rglob('*') if p.is_file()}

def test_checkpoint_truncated(run3, synth, tmp_path):
    run = tmp_path/'run'; shutil.copytree(run3, run)
    raw = (run/'checkpoints'/'last.pth').read_bytes()
    for n in (len(raw) // 2, 100, 0):
        (run/'checkpoints'/'last.pth').write_bytes(raw[:n])
        with pytest.raises(CheckpointError, match=r"last.pth: (not a readable PyTorch checkpoint|empty file)"):
            train(tiny(synth, tmp_path, epochs=4), resume=run, **QUIET)
    assert read_json(run/'status.json')['state'] == 'complete'              # a refused resume writes nothing

def test_checkpoint_not_a_checkpoint(tmp_path):
    (tmp_path/'hello.pth').write_text('hello'); (tmp_path/'notes.pth').write_text('not a checkpoint')
    (tmp_path/'params.pth').write_text('{"a": 1}'); torch.save([1, 2, 3], tmp_path/'list.pth')
    unreadable = 'not a readable PyTorch checkpoint'
    for name, msg in (('hello.pth', unreadable), ('notes.pth', unreadable), ('params.pth', unreadable),
                      ('list.pth', r'expected a dict \(state dict or checkpoint\), got list')):
        with pytest.raises(CheckpointError, match=f'{name}: {msg}') as e: load_checkpoint(tmp_path/name)
        assert 'would run code' not in str(e.value), str(e.value)       # only a pickle naming a global to call is that

class Payload:
    "Unpickling this would run a shell command that creates a file."
    def __init__(self, target): self.target = target
    def __reduce__(self): return (os.system, (f'touch {self.target}',))

def test_checkpoint_code_running_pickle_refused(tmp_path):
    torch.save({'model': {'w': torch.zeros(2)}, 'extra': Payload(tmp_path/'pwned')}, tmp_path/'evil.pth')
    with pytest.raises(CheckpointError, match='evil.pth: refused to load'): load_checkpoint(tmp_path/'evil.pth')
    assert not (tmp_path/'pwned').exists()                                   # the payload never ran
    run = tmp_path/'run'; (run/'checkpoints').mkdir(parents=True)
    save_p = load_params(overrides=dict(name='t', data=dict(root='x'), model=dict(name='benet_tiny')))
    (run/'params.json').write_text(json.dumps(save_p))
    shutil.copy(tmp_path/'evil.pth', run/'checkpoints'/'best.pth')
    with pytest.raises(CheckpointError, match='refused to load'): load_model(run, 'best')
    assert not (tmp_path/'pwned').exists()


# ---------------------------------------------------------------------------------------------------------------
# Faults: SIGKILL mid-epoch, kills during checkpoint saves, a killed papermill batch, disk full, read-only, NaN/Inf

STALL = r'''
import sys, time
from pathlib import Path
import torch; torch.set_num_threads(1)
from fastai.callback.core import Callback
from benet.train import train
params, run, marker = sys.argv[1:4]
class Stall(Callback):
    "Once epoch 2 has taken a step, say so and wait to be killed."
    def before_batch(self):
        if self.training and self.epoch == 1 and self.iter == 1:
            Path(marker).write_text('epoch 2 started'); time.sleep(600)
train([params], run_dir=Path(run), echo=lambda *a: None, progress=False, cbs=[Stall()])
'''

def stalled_in_epoch_2(synth, tmp_path, name):
    "`(run folder, process)`: a tiny training in a child process, held inside epoch 2 (epoch 1 checkpointed)."
    yaml = tiny_yaml(tmp_path/'tiny.yaml', synth, tmp_path/'runs')
    run, marker = tmp_path/'runs'/name, tmp_path/'marker'
    pr = python(STALL, yaml, run, marker)
    t0 = time.time()
    while not marker.exists():
        assert pr.poll() is None, pr.communicate()[1][-3000:]
        assert time.time() - t0 < 240, 'training never reached epoch 2'
        time.sleep(0.1)
    return run, pr

def test_sigkill_mid_epoch_then_resume_is_exact(synth, run3, tmp_path, bin_dir):
    run, pr = stalled_in_epoch_2(synth, tmp_path, 'killed')
    assert (run/'checkpoints'/'last.pth').exists()
    os.kill(pr.pid, signal.SIGKILL); pr.communicate()
    assert pr.returncode == -signal.SIGKILL
    assert load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1 and not (run/'checkpoints'/'final.pth').exists()
    assert read_json(run/'status.json')['state'] == 'running'               # what a kill leaves: a stale 'running'
    # resume as a user does, in a new process
    r = subprocess.run([str(bin_dir/'benet'), 'train', '--params', str(tmp_path/'tiny.yaml'), '--resume', str(run/'checkpoints'/'last.pth')],
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resumed from' in (run/'log.txt').read_text() and read_json(run/'status.json')['state'] == 'complete'
    # exactly the weights of the uninterrupted run (same seed, CPU), and the same history
    assert same_weights(run/'checkpoints'/'final.pth', run3/'checkpoints'/'final.pth')
    ha, hb = read_history(run/'history.csv'), read_history(run3/'history.csv')
    assert [{k: v for k, v in r.items() if k != 'time'} for r in ha] == [{k: v for k, v in r.items() if k != 'time'} for r in hb]

DIE_IN_SAVE = r'''
import io, os, signal, sys
from pathlib import Path
import torch; torch.set_num_threads(1)
from benet.train import train
params, run, target, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
real, seen = torch.save, []
def dying_save(obj, f, *a, **k):
    name = Path(os.readlink(f'/proc/self/fd/{f.fileno()}')).name     # atomic_save writes '.<target>.pth.<random>.tmp'
    if name.split('.')[1:2] == [target]:
        seen.append(name)
        if len(seen) == nth:                                       # half the bytes reach the disk, then the kill
            buf = io.BytesIO(); real(obj, buf); f.write(buf.getvalue()[:len(buf.getvalue()) // 2]); f.flush(); os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
    return real(obj, f, *a, **k)
torch.save = dying_save
train([params], run_dir=Path(run), echo=lambda *a: None, progress=False)
'''

@pytest.mark.parametrize('target, nth, left', [('best', 1, {}), ('last', 2, {'last': 1}), ('final', 1, {'last': 2})],
                         ids=['best', 'last', 'final'])
def test_kill_during_checkpoint_save(synth, tmp_path, target, nth, left):
    "SIGKILL in the middle of writing a checkpoint: every checkpoint present loads; the one being written is its old self."
    yaml = tiny_yaml(tmp_path/'tiny.yaml', synth, tmp_path/'runs', epochs=2)
    run = tmp_path/'runs'/'r'
    pr = python(DIE_IN_SAVE, yaml, run, target, nth); pr.communicate(timeout=300)
    assert pr.returncode == -signal.SIGKILL
    ck = run/'checkpoints'
    assert len(list(ck.glob(f'.{target}.pth.*.tmp'))) == 1                   # the half-written temporary, under another name
    present = {p.stem: load_checkpoint(p)['epoch'] for p in ck.glob('*.pth')}   # every checkpoint present loads
    assert {k: present[k] for k in left} == left                             # (last: still epoch 1's)
    if target not in left: assert target not in present                     # its first save: no file rather than half a one
    if 'last' in present: train(None, resume=run, **QUIET)                   # resume: completes, cleans the temporary,
    else:                                                                    # (killed during final.pth: writes final.pth)
        with pytest.raises(FileNotFoundError, match='cannot resume: .*last.pth does not exist'): train(None, resume=run, **QUIET)
        train([yaml], run_dir=run, **QUIET)                                  # nothing to resume from: start again in place
    assert sorted(p.name for p in ck.iterdir()) == ['best.pth', 'final.pth', 'last.pth']
    assert load_checkpoint(ck/'final.pth')['epoch'] == 2 and read_json(run/'status.json')['state'] == 'complete'
    assert 'removed 1 temporary file(s)' in (run/'log.txt').read_text()

@pytest.mark.slow
def test_papermill_batch_killed_then_rerun(killed_batch):
    """Kill a batch (SIGKILL, the whole process group) while its second configuration trains; rerun the same batch.
    The scenario is the session's `killed_batch` (tests/conftest.py, shared with test_experiments: its rerun adds a
    failing configuration and the report)."""
    from benet.experiments import run_state
    from conftest import files_mtimes
    runs, res, log = killed_batch.runs, killed_batch.r2, killed_batch.log2
    assert not killed_batch.killed['alive'], f"processes left running after the kill: {killed_batch.killed['alive']}"
    assert killed_batch.killed['bu_det'] == 'interrupted'
    assert {k: res[k] for k in ('bu', 'bu_det')} == {'bu': 'skipped', 'bu_det': 'complete'}, (res, log)
    assert files_mtimes(runs/'bu') == killed_batch.before                   # kept, untouched
    assert any('found an interrupted run' in l and 'wiping it and starting again' in l for l in log), log
    assert run_state(runs/'bu_det') == 'complete'
    assert (runs/'bu_det'/'log.txt').read_text().count('== benet train') == 1   # restarted cleanly, not appended to
    assert not list((runs/'bu_det').glob('.*partial*'))

def _no_data(*a, **k): raise AssertionError('data loading started: the check came too late')

def test_disk_full_before_training(synth, tmp_path, monkeypatch):
    import benet.runs, benet.train
    monkeypatch.setattr(benet.train, 'make_dataloaders', _no_data)
    real = shutil.disk_usage
    # no room at all, then room for everything but the checkpoints of this model (shutil.disk_usage as benet.runs sees it)
    for free_mb in (10, 50 + benet.train.checkpoint_mb(create_model('benet_tiny')) - 1):
        monkeypatch.setattr(benet.runs.shutil, 'disk_usage', lambda p: real(p)._replace(free=int(free_mb * 2**20)))
        with pytest.raises(OSError, match=rf"output folder .*runs.r: only \d+ MB free, need at least \d+ MB"):
            train(tiny(synth, tmp_path/'runs'), run_dir=tmp_path/'runs'/'r', **QUIET)
    assert [p.name for p in (tmp_path/'runs'/'r').iterdir()] == []           # nothing written: no params, no checkpoint
    # room for exactly what it needs: accepted, and training goes on to load its data
    need = 50 + benet.train.checkpoint_mb(create_model('benet_tiny'))
    monkeypatch.setattr(benet.runs.shutil, 'disk_usage', lambda p: real(p)._replace(free=int((need + 1) * 2**20)))
    with pytest.raises(AssertionError, match='data loading started'): train(tiny(synth, tmp_path/'runs'), run_dir=tmp_path/'runs'/'r', **QUIET)
    # a resume counts the checkpoints already there (overwritten in place) and a kill's stale temporary is removed first
    ck = tmp_path/'runs'/'r2'/'checkpoints'; ck.mkdir(parents=True)
    (ck/'best.pth').write_bytes(b'\0' * 2**20); (ck/'.last.pth.123.tmp').write_bytes(b'\0' * 2**20)
    monkeypatch.setattr(benet.runs.shutil, 'disk_usage', lambda p: real(p)._replace(free=int((need - 0.5) * 2**20)))
    with pytest.raises(AssertionError, match='data loading started'):        # (force: a folder with checkpoints is refused otherwise)
        train(tiny(synth, tmp_path/'runs'), run_dir=tmp_path/'runs'/'r2', force=True, **QUIET)
    assert not (ck/'.last.pth.123.tmp').exists()

def test_read_only_output_before_training(synth, tmp_path, monkeypatch):
    import benet.train
    monkeypatch.setattr(benet.train, 'make_dataloaders', _no_data)
    # root ignores chmod, so: (1) the output folder would have to live under a regular file (mkdir fails), and
    (tmp_path/'a_file').write_text('x')
    with pytest.raises(OSError, match=r"output folder .*a_file/runs/r is not writable"):
        train(tiny(synth, tmp_path/'a_file'/'runs'), run_dir=tmp_path/'a_file'/'runs'/'r', **QUIET)
    # (2) a read-only file system, simulated where the write test creates its file (EROFS, as a ro mount answers)
    import tempfile
    def erofs(*a, **k): raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(tempfile, 'NamedTemporaryFile', erofs)
    with pytest.raises(OSError, match=r"output folder .*ro is not writable: Read-only file system"):
        train(tiny(synth, tmp_path/'runs'), run_dir=tmp_path/'runs'/'ro', **QUIET)
    monkeypatch.undo()
    if os.geteuid() != 0:                                                    # (3) for other users, a plain chmod
        (tmp_path/'locked').mkdir(); (tmp_path/'locked').chmod(0o500)
        with pytest.raises(OSError, match='is not writable'):
            train(tiny(synth, tmp_path/'locked'), run_dir=tmp_path/'locked'/'r', **QUIET)

def test_disk_full_during_training(synth, tmp_path, monkeypatch):
    "ENOSPC while writing epoch 2's last.pth: the run fails, says so, and keeps epoch 1's checkpoint; no temporary left."
    real, calls = torch.save, []
    def full(obj, f, *a, **k):
        if Path(os.readlink(f'/proc/self/fd/{f.fileno()}')).name.startswith('.last.pth.'):   # the file behind atomic_save's fd
            calls.append(1)
            if len(calls) == 2: f.write(b'partial'); raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, f, *a, **k)
    monkeypatch.setattr(torch, 'save', full)
    run = tmp_path/'runs'/'r'
    with pytest.raises(OSError, match='No space left on device'): train(tiny(synth, tmp_path/'runs'), run_dir=run, **QUIET)
    monkeypatch.undo()
    st = read_json(run/'status.json')
    assert st['state'] == 'failed' and 'No space left on device' in st['error'] and st['last_checkpoint'].endswith('last.pth')
    assert load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1 and not list((run/'checkpoints').glob('.*'))
    train(None, resume=run, **QUIET)                                         # room again: resume finishes the run
    assert load_checkpoint(run/'checkpoints'/'final.pth')['epoch'] == 3

@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_loss_stops_with_image_ids(synth, tmp_path, value):
    run = tmp_path/'runs'/'r'
    with pytest.raises(NonFiniteLoss) as e:
        train(tiny(synth, tmp_path/'runs'), run_dir=run, cbs=[Poison(1, 1, value, on='loss')], **QUIET)
    msg = str(e.value)
    assert f"non-finite loss at epoch 2, training batch 1 (loss {value}" in msg and 'records [' in msg and '.jpg' in msg, msg
    ids = json.loads(msg.split('records ')[1].split(';')[0])
    assert len(ids) == 4 and all(isinstance(i, int) for i in ids)           # the batch's record ids...
    assert msg.split('images ')[1].count('.jpg') == 4                        # ...and its image files
    st = read_json(run/'status.json')
    assert st['state'] == 'failed' and 'NonFiniteLoss' in st['error']
    assert load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1 and not (run/'checkpoints'/'final.pth').exists()
    assert load_checkpoint(run/'checkpoints'/'best.pth')['epoch'] == 1 and len(read_history(run/'history.csv')) == 1


# ---------------------------------------------------------------------------------------------------------------

def test_docs_table_names_existing_tests():
    "Every test docs/reliability.md names exists here (with its parameter id), and every test here is in the table."
    import re
    named = set(re.findall(r'`(test_\w+(?:\[[\w.\-]+\])?)`', (ROOT/'docs'/'reliability.md').read_text()))
    def ids(f):
        for m in getattr(f, 'pytestmark', []):
            if m.name == 'parametrize':
                return set(m.kwargs['ids']) if 'ids' in m.kwargs else {str(v) for v in m.args[1]}
        return None
    here = {k: v for k, v in globals().items() if k.startswith('test_') and callable(v)}
    for n in named:
        base, _, pid = n.partition('[')
        assert base in here, f'docs/reliability.md names {base}, which does not exist'
        if pid: assert pid[:-1] in (ids(here[base]) or ()), f'docs/reliability.md names {n}: no such parameter'
    assert set(here) - {'test_docs_table_names_existing_tests'} <= {n.partition('[')[0] for n in named}


# ---------------------------------------------------------------------------------------------------------------
# Round 2 (issue 16): no silent wrong result, no run on nothing, nothing overwritten, no traceback, quiet omissions

def copy_data(synth, tmp_path) -> Path:
    "A private copy of the synthetic set (the module's one is shared), whose files a test may break."
    shutil.copytree(synth, tmp_path/'data', ignore=shutil.ignore_patterns('runs*'))
    return tmp_path/'data'

def split_images(root, split) -> list[Path]:
    from benet.data import read_records, dataset_roots
    recs = read_records(root/'annotations'/f'EMOTIC_{split}_x1y1x2y2_tdpc.json', dataset_roots(root))
    return sorted({Path(r.path) for r in recs})

def run_on(run3, data, tmp_path, **data_kw) -> Path:
    "A copy of the finished run whose parameters point at `data`."
    run = tmp_path/'run'; shutil.copytree(run3, run)
    p = read_json(run/'params.json'); p['data'].update(root=str(data), annotations=str(data/'annotations'), **data_kw)
    (run/'params.json').write_text(json.dumps(p))
    return run

def test_evaluation_image_of_another_size(run3, synth, tmp_path, capsys):
    "A test image re-saved at another size: skipped, counted and named (skip_bad_images), else refused; never scored."
    from benet.evaluate import evaluate, calibrate
    from benet.cli import benet_main
    data = copy_data(synth, tmp_path)
    img = split_images(data, 'test')[0]
    with Image.open(img) as im: w, h = im.size; im.resize((w // 2, h // 2)).save(img)          # downscaled by a photo tool
    run, msgs = run_on(run3, data, tmp_path), []
    e = evaluate(run, echo=msgs.append, progress=False)
    report = '\n'.join(msgs)
    assert f"1 of 2 image(s) skipped (data.skip_bad_images)" in report and f"image {img} is {w // 2}x{h // 2} but was annotated on {w}x{h}" in report, report
    assert e['counts']['unreadable'] == 1
    msgs.clear(); calibrate(run, split='test', echo=msgs.append, progress=False)   # calibrate reads the same predictions
    assert any(f"image {img} is {w // 2}x{h // 2}" in m for m in msgs), msgs
    run2 = run_on(run3, data, tmp_path/'strict', skip_bad_images=False)      # no skipping: an error naming the image
    assert benet_main(['test', '--run', str(run2)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('benet test: error: ') and f"image {img} is {w // 2}x{h // 2} but was annotated on {w}x{h}" in err, err
    for im in split_images(data, 'test'): im.write_bytes(b'')                 # nothing left to score: refused
    with pytest.raises(ValueError, match=r"none of its 2 image\(s\) can be scored .*nothing to evaluate"):
        evaluate(run, echo=lambda *a: None, progress=False, reuse=False)

@pytest.mark.parametrize('split', ['train', 'val'])
def test_all_images_unreadable_refused(synth, tmp_path, split):
    "Every image of a split unreadable (skipping on): refused before training, with the split and the counts."
    data = copy_data(synth, tmp_path)
    imgs = split_images(data, split)
    for im in imgs: im.write_bytes(b'not an image')
    run = tmp_path/'runs'/'r'
    with pytest.raises(BadImageError, match=rf"{split} \(.*\): none of its \d+ record\(s\) has a readable image \(\d+ "
                                            rf"image\(s\) checked.*nothing to (train|validate) on"):
        train(tiny(data, tmp_path/'runs'), run_dir=run, **QUIET)
    assert read_json(run/'status.json')['state'] == 'failed' and not (run/'checkpoints').exists()

def test_train_refuses_to_overwrite_a_run(run3, synth, tmp_path, capsys):
    "`benet train --run-id X` on a finished X: refused (nothing touched) unless --resume or --force (which starts clean)."
    from benet.cli import benet_main
    runs = tmp_path/'runs'; shutil.copytree(run3, runs/'whole')
    run = runs/'whole'; (run/'metrics.json').write_text('{"from": "the old run"}')
    yaml = tiny_yaml(tmp_path/'tiny.yaml', synth, runs, epochs=1)
    before = {p: p.stat().st_mtime_ns for p in run.rglob('*') if p.is_file()}
    assert benet_main(['train', '--params', str(yaml), '--run-id', 'whole']) == 2
    err = capsys.readouterr().err
    assert f"benet train: error: {run} already holds a complete run (checkpoints: best, final, last): continue it (--resume" in err, err
    assert before == {p: p.stat().st_mtime_ns for p in run.rglob('*') if p.is_file()}
    assert benet_main(['train', '--params', str(yaml), '--run-id', 'whole', '--force']) == 0
    assert not (run/'metrics.json').exists() and read_json(run/'status.json')['state'] == 'complete'
    assert load_checkpoint(run/'checkpoints'/'final.pth')['epoch'] == 1 and len(read_history(run/'history.csv')) == 1
    assert '--force: replaced a complete run' in (run/'log.txt').read_text()

def test_cli_thresholds_checked(capsys):
    from benet.cli import benet_main
    for opt in ('--det-thr', '--emo-thr'):
        for v in ('-1', '2', 'nan'):
            with pytest.raises(SystemExit) as e: benet_main(['infer', '--img', 'x.jpg', '--run', 'r', opt, v])
            assert e.value.code == 2
            assert f"argument {opt}: must be a number in [0, 1], got {v}" in capsys.readouterr().err

def test_non_finite_loss_at_the_command_line(synth, tmp_path, monkeypatch, capsys):
    "The NaN stop through `benet train`: one line, the report's own words, no traceback and no fastai wrapper."
    import benet.train as T
    from benet.cli import benet_main
    monkeypatch.setattr(T, 'train', lambda *a, **k: train(*a, cbs=[Poison(1, 1, on='loss')], **k))
    assert benet_main(['train', '--params', str(tiny_yaml(tmp_path/'tiny.yaml', synth, tmp_path/'runs')), '--run-id', 'nan']) == 2
    err = capsys.readouterr().err
    assert err.startswith('benet train: error: non-finite loss at epoch 2, training batch 1 (loss nan') and err.count('\n') == 1, err
    assert 'Exception occured' not in err and 'Traceback' not in err
    assert read_json(tmp_path/'runs'/'nan'/'status.json')['error'].startswith('NonFiniteLoss: non-finite loss at epoch 2')

@pytest.mark.parametrize('kind', ['utf-16', 'cp1252', 'semicolon', 'tab'])
def test_heco_spreadsheet_csv(tmp_path, kind):
    "What a spreadsheet program saves: UTF-16 (with its mark) or Windows-1252 read and noted; another separator: a hint."
    root = heco_root(tmp_path, [r + ['café'] for r in HECO_OK], HECO_COLUMNS + ('Comment',))
    csv_file = root/'Labels'/'HECO_Labels.csv'; text = csv_file.read_text()
    if kind in ('utf-16', 'cp1252'):
        csv_file.write_bytes(text.encode(kind))
        S = convert_heco(root, tmp_path/'out')
        assert len(load_coco(tmp_path/'out'/'HECO_x1y1x2y2_tdpc.json')['annotations']) == 3
        assert ('read as utf-16 (byte-order mark)' if kind == 'utf-16' else 'not UTF-8: read as Windows-1252 (cp1252)') in str(S)
    else:
        sep = {'semicolon': ';', 'tab': '\t'}[kind]
        csv_file.write_text(text.replace(',', sep))
        with pytest.raises(ConversionError, match=f"line 1: missing column.*the header is separated by {re.escape(repr(sep))}, not ','"):
            convert_heco(root, tmp_path/'out')

def test_cli_out_is_an_existing_file(tmp_path, capsys):
    from benet.cli import benet_main, data_main
    (tmp_path/'f').write_text('a file')
    assert data_main(['synth', '--out', str(tmp_path/'f')]) == 2
    assert data_main(['emotic', '--annotations', str(tmp_path), '--out', str(tmp_path/'f')]) == 2
    assert benet_main(['infer', '--img', str(tmp_path), '--checkpoint', 'c.pth', '--out', str(tmp_path/'f')]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f'benet-data synth: error: --out {tmp_path/"f"} is an existing file, not a folder',
                   f'benet-data emotic: error: --out {tmp_path/"f"} is an existing file, not a folder',
                   f'benet infer: error: --out {tmp_path/"f"} is an existing file, not a folder'], err

def test_inference_folder_omissions_reported(images, tmp_path):
    "A broken symbolic link is listed as skipped (with its target); images in subfolders are counted when not read."
    folder = tmp_path/'in'; (folder/'sub'/'deeper').mkdir(parents=True)
    shutil.copy(images/'ok.jpg', folder/'a.jpg'); shutil.copy(images/'ok.jpg', folder/'sub'/'b.jpg')
    shutil.copy(images/'gray.jpg', folder/'sub'/'deeper'/'c.jpg')
    (folder/'link.jpg').symlink_to(tmp_path/'moved.jpg')
    p = tiny_params(None)
    torch.manual_seed(0)
    pr, msgs = Predictor(create_model('benet_tiny', heads=('det', 'bu')), p, flip=False), []
    s = infer(folder, tmp_path/'out', predictor=pr, annotated=False, echo=msgs.append, progress=False)
    assert (s['n_images'], s['n_skipped'], s['in_subfolders']) == (1, 1, 2)
    assert s['skipped'][0]['error'] == f"{folder/'link.jpg'}: broken symbolic link (its target {tmp_path/'moved.jpg'} does not exist)"
    assert any('not read: 2 image(s) in subfolders' in m for m in msgs), msgs
    s = infer(folder, tmp_path/'out2', predictor=pr, annotated=False, recursive=True, echo=msgs.append, progress=False)
    assert (s['n_images'], s['n_skipped'], s['in_subfolders']) == (3, 1, 0)

def test_sigterm_is_recorded(synth, tmp_path):
    "SIGTERM during epoch 2: status.json says 'interrupted' (not a stale 'running'), exit status 143, epoch 1 kept."
    run, pr = stalled_in_epoch_2(synth, tmp_path, 'term')
    os.kill(pr.pid, signal.SIGTERM); err = pr.communicate(timeout=60)[1]
    assert pr.returncode == 143 and 'Traceback' not in err, err[-2000:]
    st = read_json(run/'status.json')
    assert st['state'] == 'interrupted' and st['error'] == 'Terminated: terminated by SIGTERM', st
    assert load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1 and st['last_checkpoint'].endswith('last.pth')
    assert 'INTERRUPTED: Terminated: terminated by SIGTERM' in (run/'log.txt').read_text()

GRAY16 = r"""
import sys, json, resource
import numpy as np
from PIL import Image
from benet.infer import read_image
path, mode = sys.argv[1:3]
a = (np.arange(4000 * 4000, dtype=np.uint32).reshape(4000, 4000) % 65536).astype(np.uint16)
Image.fromarray(a if mode == '16' else (a >> 8).astype(np.uint8)).save(path, compress_level=1)
del a
read_image(path, short=64)                                    # warm up (imports, first allocations)
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
open('/proc/self/clear_refs', 'w').write('5'); before = [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmRSS')][0]
ld = read_image(path)
hwm = [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(json.dumps(dict(growth=hwm - before, shape=list(ld.image.shape))))
"""

@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='peak memory is read from /proc (Linux)')
@pytest.mark.parametrize('bits', ['16', '8'])
def test_images_16bit_inference_memory_bounded(tmp_path, bits):
    "A 4000x4000 greyscale PNG (16 or 8 bits) for inference: peak growth stays within a few times its decoded size."
    r = subprocess.run([sys.executable, '-c', GRAY16, str(tmp_path/'g.png'), bits], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1]); print(out)
    raw = 4000 * 4000 * int(bits) / 8 / 2**20                                # the decoded image: 30.5 MB (16 bits)
    assert out['shape'] == [572, 572, 3]                                     # reduced by 7
    # a full-size float64 copy alone is 4 x raw (16 bits): before the fix the growth was 427 MB, 14 x raw
    assert out['growth'] < raw + 30, (out, raw)                               # measured: 2 MB (16 bits), 4 MB (8)
