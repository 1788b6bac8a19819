"""nbdev's docs processing on every notebook of `nbs/`, without Quarto: exit 1 naming each notebook that fails.

    python tools/check_docs.py [NAME ...]        # e.g. 03_codec 12_viz; default: every notebook

`nbdev-proc-nbs` and `nbdev-docs` first install Quarto when it is missing (a download these machines cannot make),
then run nbdev's processors (`FilterDefaults`: the cells nbdev executes for the docs -- exported cells, cells with
an import, `show_doc` -- and the hide/echo filters) on each notebook and hand the result to Quarto. This runs that
same per-notebook step (`nbdev.serve_drv.exec_nb`, as `proc_nbs` does) into a temporary folder, so what passes
here passes in `nbdev-docs` wherever Quarto exists.
"""
import os, re, sys, tempfile, time
from pathlib import Path

def main(names):
    from nbdev.config import get_config
    from nbdev.processors import FilterDefaults
    from nbdev.serve_drv import exec_nb
    cfg = get_config()
    os.chdir(cfg.config_path)  # where nbdev-docs runs the processors from (`_pre_docs`)
    nbs = sorted(p for p in cfg.nbs_path.glob('*.ipynb') if not names or p.stem in names)
    if names and len(nbs) != len(set(names)): sys.exit(f'check_docs: no notebook named {sorted(set(names) - {p.stem for p in nbs})} in {cfg.nbs_path}')
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for nb in nbs:
            t0 = time.time()
            os.environ['IN_TEST'] = '1'  # as nbdev's worker sets it
            try: exec_nb(nb, Path(tmp)/nb.name, FilterDefaults)
            except Exception as e:
                # nbdev's message quotes the cell's source: name the cell by its first line
                msg, cell = str(e).strip().splitlines(), re.search(r' in cell \d+ :\n(.*)', str(e))
                where = f' (cell starting {cell.group(1)[:60]!r})' if cell else ''
                failed.append(nb.name); print(f'FAIL {nb.name}{where}: {msg[-1] if msg else type(e).__name__}', flush=True)
            else: print(f'ok   {nb.name} ({time.time() - t0:.0f} s)', flush=True)
            finally: os.environ.pop('IN_TEST', None)
    print(f'docs processing: {len(nbs) - len(failed)} of {len(nbs)} notebooks pass')
    return 1 if failed else 0

if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
