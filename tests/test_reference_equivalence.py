"""benet's faithful configuration computes what the reference network computes, for any seed and any input size
that is a multiple of 32 -- checked against `reference_forward.py`, an independent functional re-implementation of
the reference (it never imports benet), which itself is first shown to reproduce the reference's shared numbers.

Rule (as the notebook's `check_close`): |a - b| <= max(1e-4 |b|, 1e-5); sums with 1e-3 absolute."""
import json, sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
FIX = HERE / 'fixtures'
sys.path.insert(0, str(HERE))
from reference_forward import reference_forward  # noqa: E402
from benet.vocab import TASK_CODE  # noqa: E402
from benet.testing import seeded_state_dict  # noqa: E402
from benet.weights import from_reference  # noqa: E402

torch.set_num_threads(1)
KEYS = json.loads((FIX / 'reference-state-dict.json').read_text())
PLAIN, HECO = 'emotic_acivs_1_no_fusion', 'emotic_and_heco_acivs_1_no_fusion'


def check_close(a, b, what, rel=1e-4, abs_=1e-5):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    bad = (a - b).abs() > torch.maximum(rel * b.abs(), torch.tensor(abs_, dtype=torch.float64))
    assert not bad.any(), (f"{what}: {bad.sum().item()} of {bad.numel()} values differ, e.g. {a[bad][:3].tolist()} vs "
                           f"{b[bad][:3].tolist()} (max |diff| {(a - b).abs().max().item():.3g})")


def images(n, h, w, seed):
    return torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def benet_model(config, seed):
    model, rep = from_reference(seeded_state_dict(KEYS[config]['keys'], seed))
    assert rep.complete
    return model.eval()


def compare_maps_and_logits(got, want, tag):
    for key in ('hm', 'hw', 'bu'):
        assert len(got[key]) == len(want[key]) == 2, f"{tag} {key}: two resolutions expected"
        for r, (a, b) in enumerate(zip(got[key], want[key])): check_close(a, b, f"{tag} {key}[{r}]")
    for key in ('pc', 'bg'): check_close(got[key], want[key], f"{tag} {key}")


def test_oracle_reproduces_the_shared_reference_numbers():
    "The oracle *is* the reference: seed 10, 1×3×256×256 (seed 11), the values in reference-outputs-seed10.json."
    keys = KEYS[PLAIN]['keys']
    sd = seeded_state_dict(keys, 10)
    ref = json.loads((FIX / 'reference-outputs-seed10.json').read_text())
    assert ref['config'] == PLAIN and ref['weights_seed'] == 10
    used = set()
    out = reference_forward(sd, images(1, 256, 256, 11), used)
    # the oracle, driven by the keys, reads every tensor but the fusion head's (not run by a no-fusion config)
    assert {k for k in sd if not k.endswith('num_batches_tracked')} - used == {k for k in sd if k.startswith('fusion.')}
    want = ref['outputs']
    for key in ('hm', 'hw', 'bu'):
        for r, w in enumerate(want[key]):
            assert list(out[key][r].shape[1:]) == w['shape']
            flat = out[key][r][0].double().flatten()
            check_close(flat[w['idx']], w['values'], f'{key}[{r}] values')
            check_close(flat.sum(), w['sum'], f'{key}[{r}] sum', abs_=1e-3)
            check_close(flat.abs().sum(), w['abs_sum'], f'{key}[{r}] abs_sum')
    check_close(out['pc'][0], want['pc'], 'pc'); check_close(out['bg'][0], want['bg'], 'bg')


@pytest.mark.parametrize('seed,n,h,w', [(3, 2, 224, 288),    # non-square, batch of 2
                                         (27, 1, 320, 256)])  # another seed, taller than wide
def test_benet_matches_the_oracle(seed, n, h, w):
    "Full hm/hw/BU maps at both resolutions and the PC/BG logits, other seeds and sizes than the shared point."
    x = images(n, h, w, 100 + seed)
    want = reference_forward(seeded_state_dict(KEYS[PLAIN]['keys'], seed), x)
    assert [t.shape[-2:] for t in want['hm']] == [(h // 4, w // 4), (h // 2, w // 2)]
    with torch.no_grad(): got = benet_model(PLAIN, seed).forward_heads(x, heads=('det', 'bu', 'pc', 'bg'))
    compare_maps_and_logits(got, want, f'seed {seed} {n}×{h}×{w}')


def test_benet_matches_the_oracle_heco():
    """HECO configuration. Its "mixed" layers do not touch the EMOTIC inference path (hm/hw/bu/pc/bg), but they do
    change what the reference outputs for a HECO sample's BU maps: bu_mixed[r](bu[r]). benet calls that `bu_heco`.
    For HECO PC/BG samples the reference outputs the raw 26 logits (its pc_mixed/context_mixed Linear layers are
    never applied); benet's `pc`/`bg` rows are those logits (its `pc_heco`/`bg_heco` apply the Linear layers: a
    documented deviation in 06_models, not compared here)."""
    seed, keys = 5, KEYS[HECO]['keys']
    assert [k for k, _ in keys[:len(KEYS[PLAIN]['keys'])]] == [k for k, _ in KEYS[PLAIN]['keys']]  # HECO keys appended
    sd = seeded_state_dict(keys, seed)
    x = images(4, 160, 192, 55)
    used = set()
    want = reference_forward(sd, x, used)
    never = {k for k in sd if k.startswith(('fusion.', 'pc_mixed.', 'context_mixed.', 'fusion_mixed.'))}
    assert {k for k in sd if not k.endswith('num_batches_tracked')} - used == never
    model = benet_model(HECO, seed)
    with torch.no_grad():
        got = model.forward_heads(x, heads=('det', 'bu', 'pc', 'bg'))
        tasks = torch.tensor([TASK_CODE['bu'], TASK_CODE['bu'], TASK_CODE['pc'], TASK_CODE['bg']])
        heco = torch.tensor([True, False, True, True])
        tr = model(x, tasks, heco=heco)
    compare_maps_and_logits(got, want, 'heco')
    hb = tr['rows_heco']['bu']
    assert hb.tolist() == [0] and tr['rows']['bu'].tolist() == [0, 1]
    for r in range(2):
        check_close(tr['bu_heco'][r], want['bu_mixed'][r][hb], f'heco bu_mixed[{r}]')
        check_close(tr['bu'][r], want['bu'][r][tr['rows']['bu']], f'heco training bu[{r}]')
    check_close(tr['pc'], want['pc'][tr['rows']['pc']], 'heco pc rows (the reference\'s pc_mixed output)')
    check_close(tr['bg'], want['bg'][tr['rows']['bg']], 'heco bg rows (the reference\'s context_mixed output)')
