"""Round-trip a notebook and a percent-format script, for editing notebooks as text.

    python tools/nbpy.py to-nb  src.py  nbs/NN_topic.ipynb   # script -> clean notebook (no outputs)
    python tools/nbpy.py to-py  nbs/NN_topic.ipynb  src.py   # notebook -> script

`to-nb` onto an existing notebook keeps the outputs of every code cell whose source is unchanged (as
`jupytext --update` does); edited and new cells come back without outputs: re-run them (`make docs-outputs NBS=...`).

Cells start with `# %%` (code), `# %% [markdown]` (markdown; each line prefixed with `# `) or
`# %% tags=["parameters"]` (code cell with papermill tags).
"""
import hashlib, json, re, sys
from pathlib import Path

_HDR = re.compile(r'^# %%(?: \[(markdown)\])?(?: tags=(\[.*\]))?\s*$')

def py2nb(src: str) -> dict:
    cells, cur = [], None
    for line in src.splitlines():
        m = _HDR.match(line)
        if m:
            cur = dict(kind='markdown' if m.group(1) else 'code', tags=json.loads(m.group(2)) if m.group(2) else None, lines=[])
            cells.append(cur); continue
        if cur is None: continue
        if cur['kind'] == 'markdown': line = line[2:] if line.startswith('# ') else line.lstrip('#')
        cur['lines'].append(line)
    out = []
    for i, c in enumerate(cells):
        ls = c['lines']
        while ls and not ls[-1].strip(): ls.pop()
        text = '\n'.join(ls)
        src_lines = [l + '\n' for l in text.split('\n')]
        if src_lines: src_lines[-1] = src_lines[-1][:-1]
        meta = {'tags': c['tags']} if c['tags'] else {}
        # deterministic ids keep regenerated notebooks diff-free (nbdev-clean would otherwise assign random ones)
        cid = hashlib.sha1(f'{i}:{text}'.encode()).hexdigest()[:8]
        cell = dict(cell_type=c['kind'], id=cid, metadata=meta, source=src_lines)
        if c['kind'] == 'code': cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return dict(cells=out, metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')),
                nbformat=4, nbformat_minor=5)

def keep_outputs(new: dict, old: dict) -> dict:
    "Outputs (and ids) of `old`'s code cells carried to the cells of `new` with the same source, in order."
    pool = {}
    for c in old['cells']:
        if c['cell_type'] == 'code' and c.get('outputs'): pool.setdefault(''.join(c['source']), []).append(c)
    for c in new['cells']:
        if c['cell_type'] == 'code' and (olds := pool.get(''.join(c['source']))):
            o = olds.pop(0); c.update(outputs=o['outputs'], id=o.get('id', c['id']))
    return new

def nb2py(nb: dict) -> str:
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        tags = c.get('metadata', {}).get('tags')
        t = f' tags={json.dumps(tags)}' if tags else ''
        if c['cell_type'] == 'markdown':
            parts.append('# %% [markdown]' + t + '\n' + '\n'.join(('# ' + l) if l else '#' for l in src.split('\n')))
        else: parts.append('# %%' + t + '\n' + src)
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    cmd, a, b = sys.argv[1:4]
    if cmd == 'to-nb':
        nb = py2nb(Path(a).read_text())
        if Path(b).exists(): nb = keep_outputs(nb, json.loads(Path(b).read_text()))
        Path(b).write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + '\n')
    elif cmd == 'to-py': Path(b).write_text(nb2py(json.loads(Path(a).read_text())))
    else: sys.exit(f'unknown command {cmd!r}: use to-nb or to-py')
