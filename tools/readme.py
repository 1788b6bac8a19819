"""README.md from nbs/index.ipynb: `nbdev-readme` where Quarto is installed, the same result without it elsewhere.

    python tools/readme.py            # writes README.md (and README's figures into index_files/)

`nbdev-readme` runs nbdev's processors on the index notebook (hidden cells dropped, directives read, links added)
and asks Quarto to write GitHub markdown. Quarto cannot be installed on machines without internet access, so without
it this runs the same processors and writes the markdown itself: the front matter as title and description,
markdown cells as they are, code cells fenced with their outputs (text fenced, images as PNG files beside it).
"""
import base64, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

def _strip_dirs(src: str) -> tuple[str, dict]:
    "Source without its leading `#|` lines, and those directives as a dict."
    lines, dirs = src.split('\n'), {}
    while lines and lines[0].startswith('#|'):
        k, _, v = lines.pop(0)[2:].strip().partition(':'); dirs[k.strip()] = v.strip()
    return '\n'.join(lines).strip('\n'), dirs

def _outputs(c, i: int, files: Path) -> list[str]:
    out = []
    for j, o in enumerate(c.get('outputs', [])):
        if o['output_type'] == 'stream': out.append('```\n' + ''.join(o['text']).rstrip('\n') + '\n```')
        elif o['output_type'] in ('execute_result', 'display_data'):
            d = o['data']
            if 'image/png' in d:
                f = files/f'cell-{i}-output-{j + 1}.png'; f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(base64.b64decode(''.join(d['image/png'])))
                out.append(f'![]({f.relative_to(files.parents[1]).as_posix()})')
            elif 'text/markdown' in d: out.append(''.join(d['text/markdown']).strip())
            elif 'text/html' in d: out.append(''.join(d['text/html']).strip())
            elif 'text/plain' in d: out.append('```\n' + ''.join(d['text/plain']).rstrip('\n') + '\n```')
    return out

def render(nb: dict, files: Path, doc_url: str = '') -> str:
    "GitHub markdown of a processed notebook (what Quarto's `-t gfm --no-execute` gives, near enough)."
    from nbdev.readme_filter import doc_link   # links to notebooks -> the hosted pages, as nbdev-readme's filter does
    link = lambda md: re.sub(r'\]\(([^)\s]+)\)', lambda m: f']({doc_link(m.group(1), doc_url)})', md) if doc_url else md
    parts = []
    for i, c in enumerate(nb['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and src.startswith('---'):
            import yaml
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            parts += [f"# {fm['title']}"] if fm.get('title') else []
            parts += [f"> {fm['description']}"] if fm.get('description') else []
            continue
        body, dirs = _strip_dirs(src)
        if c['cell_type'] == 'markdown': parts += [link(body)] if body else []
        elif c['cell_type'] == 'code':
            if body and dirs.get('echo', 'true') != 'false': parts.append('```python\n' + body + '\n```')
            parts += _outputs(c, i, files)
    return '\n\n'.join(parts) + '\n'

def main() -> int:
    from nbdev.config import get_config
    cfg = get_config(); root = cfg.config_path; os.chdir(root)
    if shutil.which('quarto'): return subprocess.call([str(Path(sys.executable).parent/'nbdev-readme')])
    from nbdev.processors import FilterDefaults
    from nbdev.serve_drv import exec_nb
    src = cfg.nbs_path/cfg.readme_nb
    with tempfile.TemporaryDirectory() as tmp:
        os.environ['IN_TEST'] = '1'  # as nbdev's docs worker
        exec_nb(src, Path(tmp)/src.name, FilterDefaults)
        nb = json.loads((Path(tmp)/src.name).read_text())
    files = root/f'{src.stem}_files'/'figure-commonmark'
    shutil.rmtree(files, ignore_errors=True)
    (root/'README.md').write_text(render(nb, files, cfg.doc_url if cfg.get('doc_host') else ''))
    print(f'README.md written from {src.relative_to(root)} (no Quarto: tools/readme.py rendered it)')
    return 0

if __name__ == '__main__': sys.exit(main())
