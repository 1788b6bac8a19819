"""Execute notebooks in place and keep their outputs (figures, tables) as documentation, then clean them.

    python tools/docs_outputs.py [NAME ...]      # e.g. 03_codec 12_viz; default: every notebook of nbs/

Each notebook runs in a kernel started from this venv's interpreter (`benet.experiments.kernel_manager_class`: no
Jupyter kernelspec is installed anywhere), with `nbs/` as working directory as `nbdev-test` does, cell by cell:
cells flagged with a `tst_flags` flag (`slow`, `gpu`) or `#| eval: false` are left without outputs, as
`nbdev-test` skips them. Figures are drawn at 72 dpi (modest PNGs). Outputs that would change from run to run or
machine to machine (an absolute path, a temporary folder) are reported per cell: fix the cell (seed it, print
relative paths) before committing. Finally `nbdev-clean` removes execution counts and metadata but keeps outputs.
"""
import os, re, sys, time
from pathlib import Path

# the inline backend shows the `matplotlib.figure.Figure`s benet returns (built without pyplot) as PNGs, at 72 dpi
# tqdm.auto's "IProgress not found" (no ipywidgets in this venv) and torch's "`torch.jit.script` is deprecated" (raised
# while a library is imported, in whichever notebook imports it first) name the venv's path: not documentation
# (the inline backend prints a figure at its own dpi, set when it is created: rcParams, not InlineBackend.rc, which
# `%matplotlib inline` has already applied)
SETUP = ("%matplotlib inline\nimport matplotlib; matplotlib.rcParams.update({'figure.dpi': 72, 'savefig.dpi': 72})\n"
         "import warnings; warnings.filterwarnings('ignore', message='IProgress not found')\n"
         "warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated')")

def _skipped(src: str, flags: set) -> bool:
    dirs = [l[2:].strip() for l in src.split('\n') if l.startswith('#|')]
    return any(d.split(':')[0].strip() in flags or re.fullmatch(r'eval:\s*false', d, re.I) for d in dirs)

def _unstable(cell, patterns) -> list[str]:
    text = ''.join(''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', '')) for o in cell.get('outputs', []))
    return [p for p in patterns if re.search(p, text)]

def run(nb_path: Path, flags: set, timeout: int, root: Path) -> int:
    "Execute `nb_path` in place; returns the number of cells with unstable outputs."
    import nbformat
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell
    from benet.experiments import kernel_manager_class
    nb = nbformat.read(nb_path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_manager_class=kernel_manager_class(),
                            resources={'metadata': {'path': str(nb_path.parent)}})
    patterns = [re.escape(str(root)), re.escape(sys.prefix), r'/tmp/\S+', r'/var/folders/\S+']
    bad = 0
    with client.setup_kernel(env={**os.environ, 'PYTHONHASHSEED': '0'}):
        nb.cells.insert(0, new_code_cell(SETUP))      # nbclient writes outputs into nb.cells[index]: a real, removed cell
        client.execute_cell(nb.cells[0], 0)
        for i, cell in enumerate(nb.cells[1:], 1):
            if cell.cell_type != 'code': continue
            if _skipped(cell.source, flags): cell.outputs = []; continue
            client.execute_cell(cell, i)
            if (u := _unstable(cell, patterns)):
                bad += 1; print(f'  {nb_path.name}: cell {i - 1} ({cell.source.splitlines()[0][:50]!r}) prints {u}: not reproducible')
    nb.cells.pop(0)
    nbformat.write(nb, nb_path)
    return bad

def main(names) -> int:
    from nbdev.config import get_config
    from nbdev.clean import nbdev_clean
    cfg = get_config(); root = cfg.config_path
    flags = set(cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else cfg.tst_flags)
    nbs = sorted(p for p in cfg.nbs_path.glob('*.ipynb') if not names or p.stem in names)
    if names and len(nbs) != len(set(names)): sys.exit(f'docs_outputs: no notebook named {sorted(set(names) - {p.stem for p in nbs})}')
    bad = 0
    for p in nbs:
        t0, size = time.time(), p.stat().st_size
        bad += run(p, flags, int(cfg.cell_timeout), root)
        nbdev_clean.__wrapped__(fname=str(p))
        print(f'{p.name}: executed in {time.time() - t0:.0f} s, {size:,} -> {p.stat().st_size:,} bytes', flush=True)
    if bad: print(f'{bad} cells print paths that differ between machines: fix them before committing the outputs')
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
