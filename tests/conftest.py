import os, shutil, signal, subprocess, sys, time
from pathlib import Path
from types import SimpleNamespace
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# One torch/OpenMP thread per process, here (before any test imports torch) and in every child the tests start (the
# `benet` commands, papermill's kernels): `make test` runs two workers on two cores, and a process with two threads
# spin-waits for a core the other worker holds. Measured on this loaded machine: `benet lr-find` (tiny, 20 steps) 91
# CPU s with two threads, 24 with one; test_cli_run + test_protocol 493 -> 226 CPU s (benchmarks/suite_profile.md,
# "Session 3 cuts"). An OMP_NUM_THREADS set by the caller is kept.
os.environ.setdefault('OMP_NUM_THREADS', '1')

@pytest.fixture(scope='session')
def bin_dir():
    "Folder of the venv's console scripts (`benet`, `benet-data`, `torchrun`)."
    return BIN

@pytest.fixture(scope='session')
def synth_root(tmp_path_factory):
    "A tiny synthetic EMOTIC + HECO, converted as a user converts the real data (shared by the integration tests)."
    from benet.synth import make_synth
    from benet.cli import prepare
    root = tmp_path_factory.mktemp('synth')
    make_synth(root, seed=0, n_train=16, n_val=6, n_test=6, n_heco=6, progress=False)
    prepare(root, root/'annotations', echo=lambda *a: None)
    return root


# ---------------------------------------------------------------------------------------------------------------
# One tiny trained run per session: training is the expensive part, and what the tests check of it (the CLI's
# relative paths, the two protocols) does not need a training of its own each.

TINY_TRAIN = """base: bu_det_pc_bg
data: {workers: 0}
model: {name: benet_tiny}
codec: {input_size: 64, output_sizes: [16, 32]}
train: {batch_size: 8, device: cpu}
"""

@pytest.fixture
def tiny_folder(tmp_path):
    "A folder with the tiny run's `tiny.yaml`, for a test that trains from it but needs no trained run (lr-find)."
    (tmp_path/'tiny.yaml').write_text(TINY_TRAIN)
    return tmp_path

@pytest.fixture(scope='session')
def tiny_run(bin_dir, synth_root, tmp_path_factory):
    """`benet train` as a user types it, in its own folder with relative paths (data root, run folder), 2 epochs.
    `.dir` the run (test_cli_run works in it and checks what the training wrote, from `.out`), `.folder` where it was
    trained (with `tiny.yaml`), `.pristine` an untouched copy taken before any test wrote into the run (test_protocol)."""
    d = tmp_path_factory.mktemp('cli')
    (d/'tiny.yaml').write_text(TINY_TRAIN)
    r = subprocess.run([str(bin_dir/'benet'), 'train', '--config', 'tiny.yaml', '--set', f'data.root={os.path.relpath(synth_root, d)}',
                        '--set', 'train.epochs=2', '--set', 'run.dir=runs', '--run-id', 'tiny'],
                       capture_output=True, text=True, timeout=600, cwd=d)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pristine = tmp_path_factory.mktemp('tiny_pristine')/'tiny'
    shutil.copytree(d/'runs'/'tiny', pristine)
    return SimpleNamespace(dir=d/'runs'/'tiny', folder=d, out=r.stdout, pristine=pristine)


# ---------------------------------------------------------------------------------------------------------------
# One papermill batch scenario per session (test_experiments and test_reliability's killed batch): a real SIGKILL of
# a batch while its second configuration trains, then the same batch again with a configuration that fails, two at a
# time, and the report. Each papermill configuration costs a kernel start and a training: one scenario serves both.

TINY_BATCH = """# the smoke override: tiny model, 64 px inputs, one epoch, a few records
data: {limit: 8, workers: 0}
model: {name: benet_tiny}
codec: {input_size: 64, output_sizes: [16, 32]}
train: {epochs: 1, batch_size: 4, device: cpu}
"""
BATCH = r'''
import sys
from benet.experiments import run_batch
run_batch(sys.argv[1].split(','), data=sys.argv[2], override=sys.argv[3], runs_dir=sys.argv[4], report=False)
'''

def files_mtimes(d: Path) -> dict:
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in d.rglob('*') if p.is_file()}

@pytest.fixture(scope='session')
def killed_batch(tmp_path_factory):
    """1. `run_batch(['bu', 'bu_det'])` in a child process, SIGKILLed (its whole process group) once `bu` is complete
    and `bu_det` trains; a half-written file is left in `bu_det` as well;
    2. `run_batch(['bu', 'bu_det', broken.yaml], jobs=2)` in this process, with the report: `bu` must be skipped
    untouched, `bu_det` restarted cleanly, `broken` (validates, fails inside train.ipynb) reported without stopping
    the others. What the kill left is recorded here; the tests check it."""
    psutil = pytest.importorskip('psutil')
    from benet.experiments import run_batch, run_state
    from benet.synth import make_synth
    d = tmp_path_factory.mktemp('experiments')
    # not converted: the runner converts the root itself (once) before the configurations start
    make_synth(d/'synth', n_train=8, n_val=4, n_test=4, n_heco=0, min_size=96, max_size=160, progress=False)
    (d/'tiny.yaml').write_text(TINY_BATCH)
    (d/'broken.yaml').write_text(f"base: {ROOT/'benet'/'configs'/'bu_det.yaml'}\nname: broken\n"
                                 f"model: {{pretrained: {d/'no_such_weights.pth'}}}\n")
    runs, t = d/'runs', {}
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    t0 = time.time()
    pr = subprocess.Popen([sys.executable, '-c', BATCH, 'bu,bu_det', str(d/'synth'), str(d/'tiny.yaml'), str(runs)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    while not (run_state(runs/'bu') == 'complete' and (runs/'bu_det'/'log.txt').exists()):
        assert pr.poll() is None, (f"the batch ended early: bu {run_state(runs/'bu')}", *(x[-3000:] for x in pr.communicate()))
        assert time.time() - t0 < 900, 'the batch never reached bu_det'        # (a hang guard: minutes on a loaded machine)
        time.sleep(0.2)
    kids = psutil.Process(pr.pid).children(recursive=True)                 # papermill's kernel runs in its own session
    os.killpg(pr.pid, signal.SIGKILL); pr.communicate()
    gone, alive = psutil.wait_procs(kids, timeout=15)                        # the kernel notices its parent died and exits
    for p in alive: p.kill()
    t['first'] = time.time() - t0
    killed = dict(alive=alive, bu=run_state(runs/'bu'), bu_det=run_state(runs/'bu_det'))
    (runs/'bu_det'/'debris.txt').write_text('half-written')
    before = files_mtimes(runs/'bu')
    time.sleep(0.05)
    log2, t0 = [], time.time()
    r2 = run_batch(['bu', 'bu_det', d/'broken.yaml'], data=d/'synth', override=d/'tiny.yaml', jobs=2, runs_dir=runs, echo=log2.append)
    t['second'] = time.time() - t0
    print('\n'.join(log2), f"\ntimings: {t}")
    return SimpleNamespace(d=d, runs=runs, killed=killed, r2=r2, log2=log2, before=before, t=t)


# ---------------------------------------------------------------------------------------------------------------
# Two workers (`make test` runs `pytest -n 2`, pytest-xdist). A session or module fixture is built once per worker that
# uses it, so the tests sharing one must stay together on one worker: the scheduler below sends each group whole.
# xdist's own `--dist loadgroup` cannot do it here (its `xdist_group` marks rename the node id, which pytest 9 ignores),
# and the controller has node ids only, no fixtures: the groups are named by file, and the collection hook checks that
# every test of a shared fixture is in its group. The longest groups go first, so that the last one to start is a
# short one (a long one started last would run alone on one core at the end).
SHARED = {'test_cli_run.py': 'tiny_run', 'test_protocol.py': 'tiny_run', 'test_experiments.py': 'killed_batch',
          'test_reliability.py::test_papermill_batch_killed_then_rerun': 'killed_batch',
          # these two need the synthetic set but no trained run: their own group, beside the run on the other worker
          'test_cli_run.py::test_model_info_and_import_reference': 'cli_untrained',
          'test_cli_run.py::test_lr_find_and_missing_weights': 'cli_untrained'}
# longest first, measured (one whole `make test`, session 5: wall s per group): killed_batch 197, tiny_run 157,
# test_reliability 155, test_wheel 100, test_benchmarks 74, 08_train 67, test_ddp 65, cli_untrained 62, 14_experiments
# 50, 02_synth 35, 06_models 35, 10_evaluate 27, 11_infer 20; the rest (< 20 s each) in file order
LONGEST_FIRST = ('killed_batch', 'tiny_run', 'test_reliability.py', 'test_wheel.py', 'test_benchmarks.py', '08_train', 'test_ddp.py',
                 'cli_untrained', '14_experiments', '02_synth', '06_models', '10_evaluate', '11_infer', '13a_optimize', '16_topdown')

def _group_of(nodeid: str) -> str:
    "A notebook is a group of its own (its name); any other test is in its file's group, unless SHARED names another."
    file, _, name = nodeid.partition('::')
    file = Path(file).name
    if file == 'test_notebooks.py': return name.partition('[')[2].rstrip(']')
    return SHARED.get(f'{file}::{name}', SHARED.get(file, file))

def pytest_collection_modifyitems(config, items):
    for it in items:
        for f in ('tiny_run', 'killed_batch'):
            if f in it.fixturenames and _group_of(it.nodeid) != f:
                raise pytest.UsageError(f'{it.nodeid} uses the session fixture {f}: add it to tests/conftest.py SHARED')
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda it: rank.get(_group_of(it.nodeid), len(rank)))  # stable: a file's order is kept

@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    "xdist's scope scheduling (a scope goes whole to one worker, new scopes to whichever worker is free), by _group_of."
    from xdist.scheduler import LoadScopeScheduling
    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid): return _group_of(nodeid)
        def _reschedule(self, node):
            # xdist tops a worker up once it has 2 tests left, however long they are: a long group's last two tests then
            # hold the next group on that worker while the other one runs dry (measured: a 43 s gap at the end). Top up
            # at 1, the test running now (a worker needs its next test queued before it runs its last one).
            if node.shutting_down: return
            if not self.workqueue: node.shutdown(); return
            if self._pending_of(self.assigned_work[node]) <= 1: self._assign_work_unit(node)
    config.option.loadscopereorder = False                                   # keep LONGEST_FIRST's order
    return GroupScheduling(config, log)


# ---------------------------------------------------------------------------------------------------------------
# The suite's own time, for benchmarks/bench.py (issue 19: the suite within 10 minutes on 2 cores). Written only when
# the whole suite ran (`make test`: no paths, -k, -m, --deselect, --lf or -x), into an ignored file (.gitignore): never a diff.

SUITE_TIME = ROOT/'benchmarks'/'suite_time.json'

def _cpu_seconds(children: bool = True) -> float:
    "CPU seconds of this process and (`children`) of the children it waited for (the CLI, torchrun, papermill's kernels)."
    import resource
    kinds = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if children else (resource.RUSAGE_SELF,)
    return sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, kinds))

def pytest_sessionstart(session):
    session.config._benet_start = (time.time(), _cpu_seconds(), os.getloadavg(), _cpu_seconds(children=False))
    session.config._benet_worker_cpu = {}

# Under pytest-xdist (`make test`: -n 2) the tests run in worker processes: each worker reports its own CPU seconds
# (its children's included), and only the controller writes suite_time.json. By then the controller may or may not
# have reaped the workers (and counted them among its children): the larger of the two, not their sum.
def _is_worker(config): return hasattr(config, 'workerinput')

@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    cpu = getattr(node, 'workeroutput', {}).get('benet_cpu_s')
    if cpu is not None: node.config._benet_worker_cpu[node.gateway.id] = cpu

def pytest_sessionfinish(session, exitstatus):
    c = session.config
    if _is_worker(c):
        c.workeroutput['benet_cpu_s'] = _cpu_seconds() - c._benet_start[1]; return
    whole = (c.args_source == pytest.Config.ArgsSource.TESTPATHS and not c.option.keyword and not c.option.markexpr
             and not c.option.deselect and not getattr(c.option, 'lf', False) and not c.option.collectonly and hasattr(c, '_benet_start'))
    if not whole or exitstatus not in (0, 1) or c.option.maxfail: return      # (interrupted, or stopped at a failure)
    import datetime, json, platform
    t0, cpu0, load0, self0 = c._benet_start
    stats = getattr(c.pluginmanager.get_plugin('terminalreporter'), 'stats', {})
    count = lambda k: len(stats.get(k, []))
    workers = c._benet_worker_cpu                                             # {} when the suite ran in this process
    tests = session.testscollected or sum(count(k) for k in ('passed', 'failed', 'error', 'skipped'))
    cpu = _cpu_seconds() - cpu0
    if workers:     # this process's own + the workers' (already reaped and among its children, or not: the larger)
        own = _cpu_seconds(children=False) - self0
        cpu = own + max(cpu - own, sum(workers.values()))
    res = dict(wall_s=round(time.time() - t0, 1), cpu_s=round(cpu, 1), tests=tests,
               passed=count('passed'), failed=count('failed'), errors=count('error'), skipped=count('skipped'),
               exitstatus=int(exitstatus), load_start=[round(x, 2) for x in load0], load_end=[round(x, 2) for x in os.getloadavg()],
               workers=len(workers), cpus=os.cpu_count(), python=platform.python_version(),
               finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))
    tmp = SUITE_TIME.with_suffix('.json.tmp')
    tmp.write_text(json.dumps(res, indent=1) + '\n'); tmp.replace(SUITE_TIME)
