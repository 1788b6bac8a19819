"""`pip install benet` as a new user gets it: the wheel built from this checkout, installed into a fresh venv, used
from a folder outside the checkout. The venv reuses the running interpreter's installed dependencies (a `.pth` file
naming its site-packages: no download, no torch install, seconds), and the wheel goes in with `--no-deps --no-index`.

From there: `benet --version`, `benet demo` on a tiny override (the demo's end-to-end test: ED, the
configuration with every head and HECO, through the packaged papermill notebooks and parameters files, the report,
inference; the others run the same notebooks in test_experiments) and `benet test` on the run it
produced, from yet another folder and on the data moved elsewhere (`--data`). Everything the test writes is under its
temporary folders: the build works on a copy of the sources, and HOME and TMPDIR point into the temporary folder.
About a minute and a half on a 2-core CPU, nearly all of it the demo."""
import json, os, re, shutil, subprocess, sys, sysconfig
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = """# the smoke override: tiny model, 64 px inputs, a few records
data: {limit: 8, workers: 0}
model: {name: benet_tiny}
codec: {input_size: 64, output_sizes: [16, 32]}
train: {batch_size: 4, device: cpu}
"""
# one of the five, the one with the most code paths (every head, HECO): each configuration is two kernel starts and a
# training, and the others run the same packaged notebooks in test_experiments (two of them at once there, `jobs=2`)
CONFIGS = ('bu_det_pc_bg_ed',)

def _git_status():
    "The checkout's untracked and ignored files (what a build would leave: build/, *.egg-info), but bytecode caches."
    out = subprocess.run(['git', 'status', '--porcelain', '--ignored', '--untracked-files=all'], cwd=ROOT,
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l[:2] in ('??', '!!') and '__pycache__' not in l]

@pytest.fixture(scope='module')
def user(tmp_path_factory):
    "A fresh venv with the wheel installed, and a helper running its commands in a folder outside the checkout."
    d = tmp_path_factory.mktemp('wheel')
    before = _git_status()
    # setuptools writes build/ and benet.egg-info beside the sources: build from a copy, never in the checkout
    src = d/'src'
    shutil.copytree(ROOT/'benet', src/'benet', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    for f in ('pyproject.toml', 'README.md', 'LICENSE', 'MANIFEST.in'): shutil.copy(ROOT/f, src/f)
    home, tmp, work = d/'home', d/'tmp', d/'work'
    for p in (home, tmp, work): p.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONNOUSERSITE='1', PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT='1', MPLBACKEND='Agg',
               # the dependencies' data files (nbconvert's HTML templates) are in the running interpreter's prefix
               JUPYTER_PATH=str(Path(sys.prefix)/'share'/'jupyter'))
    env.pop('XDG_CACHE_HOME', None); env.pop('XDG_DATA_HOME', None); env.pop('XDG_CONFIG_HOME', None)
    def sh(*cmd, cwd=d, ok=True, timeout=300):
        r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        if ok: assert r.returncode == 0, f'{cmd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
        return r
    sh(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '--no-cache-dir', '-q',
       '-w', d/'dist', src)
    wheel, = (d/'dist').glob('benet-*.whl')
    venv = d/'venv'
    sh(sys.executable, '-m', 'venv', '--without-pip', venv)
    py = venv/'bin'/'python'
    site = Path(sh(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip())
    # the dependencies (torch, fastai, papermill, pip itself...) from the running interpreter's site-packages
    outer = dict.fromkeys(sysconfig.get_paths()[k] for k in ('purelib', 'platlib'))
    (site/'_benet_test_deps.pth').write_text(''.join(f'{p}\n' for p in outer))
    # --ignore-installed: the outer site-packages may hold an (editable) benet of its own
    sh(py, '-m', 'pip', 'install', '--no-deps', '--no-index', '--no-cache-dir', '--ignore-installed', '-q', wheel)
    yield dict(d=d, work=work, home=home, venv=venv, wheel=wheel, sh=sh, benet=lambda *a, **kw: sh(venv/'bin'/'benet', *a, **kw))
    after = _git_status()
    assert after == before, f'the wheel test changed the checkout:\n{after}'

def test_installed_from_the_wheel(user):
    sh, venv = user['sh'], user['venv']
    r = sh(venv/'bin'/'python', '-c', 'import benet, benet.params as P; print(benet.__file__); print(P.configs_dir()); '
           'print(*sorted(p.name for p in P.configs_dir().parent.joinpath("notebooks").glob("*.ipynb")))', cwd=user['work'])
    mod, configs, nbs = r.stdout.split('\n')[:3]
    assert mod.startswith(str(venv)) and configs.startswith(str(venv)), r.stdout       # not the checkout's benet
    assert nbs == 'report.ipynb sweep.ipynb train.ipynb'
    version = re.match(r'benet-([^-]+)-', user['wheel'].name).group(1)
    assert user['benet']('--version', cwd=user['work']).stdout == f'benet {version}\n'
    h = user['benet']('demo', '--help', cwd=user['work']).stdout
    assert 'minutes' in h and 'cpu_synth' in h, h
    r = user['benet']('test', cwd=user['work'], ok=False)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and '--run' in r.stderr and 'Traceback' not in r.stderr, r.stderr

@pytest.fixture(scope='module')
def demo(user):
    "`benet demo` (the README's main command) from a folder outside the checkout, tiny override, relative paths."
    work = user['work']
    (work/'tiny.yaml').write_text(TINY)
    r = user['benet']('demo', '--small', '--out', 'demo', '--runs', 'runs', '--override', 'tiny.yaml', '--jobs', 2,
                      '--configs', *CONFIGS, cwd=work, timeout=900)
    return dict(user, out=r.stdout, err=r.stderr, runs=work/'runs', data=work/'demo')

def test_demo_small(demo):
    out, runs = demo['out'], demo['runs']
    assert 'EMOTIC_and_HECO_train_x1y1x2y2_tdpc.json' in out, out
    for c in CONFIGS:
        assert json.loads((runs/c/'status.json').read_text())['state'] == 'complete', c
        m = json.loads((runs/c/'metrics.json').read_text())
        assert 0 <= m['table1']['BU']['mAP'] <= 100, c
        p = json.loads((runs/c/'params.json').read_text())
        assert p['model']['name'] == 'benet_tiny' and p['train']['epochs'] == 1    # the override took; --small: one epoch
        assert p['data']['root'] == str(demo['data']) and p['run']['dir'] == str(runs)   # absolute paths recorded
        # the batch talks while the notebooks run: the kernel's epoch line, with its loss parts, named by configuration
        assert re.search(rf'^  {c}: epoch 1/1: train \d+\.\d+ \(.*\) \| valid ', out, re.M), (c, out[-3000:])
    assert '2 ok, 0 failed' in out, out[-2000:]                              # the configuration + the report
    assert (runs/'report.html').stat().st_size > 10_000 and 'Table 1' in out
    for c in CONFIGS: assert c in out.split('Table 1')[-1], c              # every configuration is a row of Table 1
    infer = sorted((runs/CONFIGS[-1]/'infer').glob('*.json'))                # bu_det_pc_bg did not run: the last Det configuration
    assert infer and all('people' in json.loads(f.read_text()) for f in infer)
    assert f'report: {runs/"report.html"}' in out
    for c in CONFIGS: assert f'  {c}: training (' in out, c                # each configuration says when it starts
    d = json.loads((runs/'demo.json').read_text())                           # the demo's cost, for benchmarks/demo_results.py
    assert d['jobs'] == 2 and 0 < d['cpu_minutes'] and 0 < d['minutes'] and f"done in {d['minutes']:.1f} min" in out
    html = (runs/'report.html').read_text()
    assert 'prevalence' in html and 'bootstrap' in html                      # Table 1's baseline, the heads' intervals
    assert 'without encryption' not in demo['err'] and 'Traceback' not in demo['err'], demo['err'][-3000:]
    # the notebooks ran in the venv's own interpreter, and no Jupyter kernel was installed anywhere
    nb = json.loads((runs/CONFIGS[0]/'train.ipynb').read_text())
    assert not (demo['home']/'.local'/'share'/'jupyter'/'kernels').exists() and not (demo['home']/'.ipython').exists()
    assert not list((demo['d']/'tmp').glob('benet-kernel-*'))              # the kernels' temporary folders are gone
    assert nb['metadata']['kernelspec']['name'] == 'python3'

def test_test_on_the_run_from_elsewhere(demo):
    "The run folder works from any folder (its paths are absolute); `--data` points it at the data once it moved."
    run = demo['runs']/CONFIGS[-1]
    elsewhere = demo['d']/'elsewhere'; elsewhere.mkdir()
    moved = demo['d']/'moved'
    shutil.move(demo['data'], moved)
    r = demo['benet']('test', '--run', run, '--split', 'val', cwd=elsewhere, ok=False)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and str(demo['data']) in r.stderr, r.stderr   # names the file
    demo['benet']('test', '--run', run, '--split', 'val', '--data', moved, cwd=elsewhere)
    e = json.loads((run/'metrics.json').read_text())['evaluations']['val/best/true']
    assert e['annotations'] == str(moved/'annotations'/'EMOTIC_val_x1y1x2y2_tdpc.json')
    assert (run/'per_category_val_best.csv').exists() and (run/'figures'/'pr_val_best.png').exists()
    assert json.loads((run/'params.json').read_text())['data']['root'] == str(demo['data'])   # --data changes no file
