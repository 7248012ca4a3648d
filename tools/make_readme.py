"""Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which is not available offline).

Honours the nbdev directives a README needs: `#| hide`, `#| include: false`, `#| echo: false`, `#| output: false`.
`--check` exits non-zero when README.md is not what the notebook gives."""
import argparse, json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def cell_src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def directives(src):
    "nbdev `#|` directives at the top of a code cell, as a dict."
    out = {}
    for line in src.splitlines():
        if not line.startswith('#|'): break
        k, *v = line[2:].strip().split(maxsplit=1)
        out[k.rstrip(':')] = v[0] if v else ''
    return out

def strip_directives(src): return '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()

def output_md(o):
    "Markdown for one saved output: text in a fence, markdown as is, images by their saved path."
    if o['output_type'] == 'stream': return '```\n' + ''.join(o['text']).rstrip() + '\n```'
    data = o.get('data', {})
    if 'text/markdown' in data: return ''.join(data['text/markdown']).strip()
    if 'text/plain' in data: return '```\n' + ''.join(data['text/plain']).rstrip() + '\n```'
    return ''

def _links(md):
    "Links as the README at the repo root needs them: images under nbs/, pages of the docs site as notebooks."
    md = re.sub(r'\]\((images/[^)]+)\)', r'](nbs/\1)', md)
    for nb in (root/'nbs').glob('*.ipynb'):
        page = re.sub(r'^[0-9]+[a-z]?_', '', nb.stem)
        md = md.replace(f']({page}.html)', f'](nbs/{nb.name})')
    return md

def render(nb):
    parts = []
    for c in nb['cells']:
        src = cell_src(c)
        if c['cell_type'] == 'markdown': parts.append(_links(src.strip())); continue
        if c['cell_type'] != 'code': continue
        d = directives(src)
        if 'hide' in d or d.get('include', '').strip() == 'false': continue
        code = strip_directives(src)
        if code and d.get('echo', '').strip() != 'false': parts.append('```python\n' + code + '\n```')
        if d.get('output', '').strip() != 'false':
            parts += [m for m in map(output_md, c.get('outputs', [])) if m]
    return '\n\n'.join(p for p in parts if p) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--check', action='store_true', help='fail if README.md is out of date')
    args = p.parse_args()
    text = render(json.loads((root/'nbs'/'index.ipynb').read_text(encoding='utf-8')))
    readme = root/'README.md'
    if args.check:
        if not readme.exists() or readme.read_text(encoding='utf-8') != text:
            sys.exit('README.md is not what nbs/index.ipynb gives: run `make readme` and commit it.')
        print('README.md is current with nbs/index.ipynb')
    else:
        readme.write_text(text, encoding='utf-8')
        print('wrote README.md')

if __name__ == '__main__': main()
