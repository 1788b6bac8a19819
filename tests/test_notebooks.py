"""Every notebook in nbs/ (index.ipynb included) is a test module: its asserting cells run through nbdev's own `test_nb`
(exactly what `nbdev-test` does), one pytest test per notebook so CI's count includes them.
Cells flagged `slow`/`gpu` (pyproject `tst_flags`) are skipped unless BENET_NB_FLAGS names them."""
import os, sys
from pathlib import Path
import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT / 'nbs').glob('*.ipynb'))   # index.ipynb too: it draws the front page's figure

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb, capfd):
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    force = os.environ.get('BENET_NB_FLAGS', '').split()
    ok, secs = run_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT, cell_timeout=cfg.cell_timeout)
    assert ok, f'{nb.name} failed: see the traceback above'
