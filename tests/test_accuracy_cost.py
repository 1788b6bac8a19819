"`benchmarks/accuracy_cost.py`: mAP from run folders against bench.py's section-3 latencies, figure and markdown written."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPES = ('benet faithful', 'benet light', 'top-down deployed (detector + per person)')

def _run(d: Path, name, model, t1, t3, topdown=None):
    d.mkdir(parents=True)
    (d/'params.json').write_text(json.dumps(dict(name=name, model=dict(name=model, topdown=topdown), train=dict(epochs=2),
                                                 codec=dict(input_size=128), data=dict(root='data/synth'), test=dict(det_run=None))))
    (d/'metrics.json').write_text(json.dumps(dict(table1=dict(BU=dict(mAP=t1)), table3=dict(mean=dict(mAP=t3)))))

def test_accuracy_cost(tmp_path):
    people = [1, 2, 4, 8, 16, 32]
    secs = {p: [0.1 * (k + 1) * (i + 1) for i in range(6)] for k, p in enumerate(PIPES)}
    (tmp_path/'results.json').write_text(json.dumps(dict(sections=dict(people=dict(people=people, seconds=secs)))))
    runs = tmp_path/'runs'
    _run(runs/'faithful', 'bu_det_pc_bg', 'benet_hrnet_w32', 30.5, 25.25)
    _run(runs/'light_old', 'bu_det', 'benet_light', 11.0, 9.0)
    _run(runs/'light', 'bu_det_pc_bg', 'benet_light', 21.5, 18.0)       # the preferred configuration wins
    _run(runs/'td', 'topdown', 'benet_light', 27.75, 20.5, topdown='topdown_resnet18')   # model.topdown decides
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'accuracy_cost.py'), '--results', str(tmp_path/'results.json'),
                        '--runs', str(runs), '--out', str(tmp_path/'out')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    md = (tmp_path/'out'/'accuracy_cost.md').read_text()
    rows = {l.split('|')[1].strip(): [c.strip() for c in l.split('|')[2:-1]] for l in md.splitlines() if l.startswith('| ') and 'method' not in l}
    # latencies at 1, 8 and 32 people: positions 0, 3 and 5 of the pipeline's list
    assert rows['BENet faithful'][0].endswith("faithful`") and rows['BENet faithful'][2:] == ['30.50', '25.25', '0.100', '0.400', '0.600']
    assert rows['BENet light'][0].endswith("/light`") and rows['BENet light'][2:] == ['21.50', '18.00', '0.200', '0.800', '1.200']
    assert rows['top-down baseline'][1:] == ['topdown_resnet18', '27.75', '20.50', '0.300', '1.200', '1.800']
    assert (tmp_path/'out'/'accuracy_cost.png').stat().st_size > 1000 and '(accuracy_cost.png)' in md
    assert 'two different networks' not in md and 'No run folder' not in md
    # no faithful run and a light baseline: said, not invented; --note at the top
    (runs/'faithful'/'metrics.json').unlink(); (runs/'td'/'params.json').write_text((runs/'td'/'params.json').read_text().replace('topdown_resnet18', 'topdown_light'))
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'accuracy_cost.py'), '--results', str(tmp_path/'results.json'),
                        '--runs', str(runs), '--out', str(tmp_path/'out3'), '--note', 'CPU, synthetic data.'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    md = (tmp_path/'out3'/'accuracy_cost.md').read_text()
    assert '**What is measured here.** CPU, synthetic data.' in md and '| BENet faithful |' not in md
    assert 'No run folder for: BENet faithful: not plotted, and no mAP is given for it' in md
    assert "mAP is a `topdown_light` run's, its latency the `topdown_resnet18` pipeline's" in md
    # a results file without section 3: one line naming the file
    (tmp_path/'bad.json').write_text('{"sections": {}}')
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'accuracy_cost.py'), '--results', str(tmp_path/'bad.json'),
                        '--runs', str(runs), '--out', str(tmp_path/'out2')], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and 'bad.json' in r.stderr and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1
