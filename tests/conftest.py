import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

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
