"""Notebook rules that nbdev's doc processing relies on, checked (and with --fix, mended).

1. A code cell with an import holds only imports: nbdev runs import cells on their own while making the
   docs, so code beside an import there runs without the cells before it and fails.
2. One `show_doc` per cell: nbdev renders only the last one of a cell.
`--fix` splits such cells (imports first, then the rest; one show_doc per cell), keeping directives."""
import argparse, ast, json, sys, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def _cell(src, like):
    c = {k: v for k, v in like.items() if k not in ('id', 'source', 'outputs', 'execution_count')}
    c.update(id=uuid.uuid4().hex[:8], source=src.splitlines(keepends=True), outputs=[], execution_count=None)
    return c

def _split(c):
    "The cell as a list of cells that follow the rules."
    src = _src(c)
    lines = src.splitlines()
    head = [l for l in lines[:3] if l.startswith('#|')]
    if any('export' in l for l in head): return [c]
    body = lines[len(head):]
    code = '\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in body)
    try: tree = ast.parse(code)
    except SyntaxError: return [c]
    imps = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    if {n.lineno for n in imps} & {l for n in rest for l in range(n.lineno, n.end_lineno + 1)}:
        raise SystemExit(f"an import shares a line with other code (put it on its own line): {src.splitlines()[len(head)][:70]}")
    out = []
    if imps and rest:
        imp_lines = {i for n in imps for i in range(n.lineno - 1, n.end_lineno)}
        out.append(_cell('\n'.join(head + [body[i] for i in sorted(imp_lines)]), c))
        body = [l for i, l in enumerate(body) if i not in imp_lines]
        tree = ast.parse('\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in body))
        rest = list(tree.body)
    shows = [n for n in rest if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and getattr(n.value.func, 'id', None) == 'show_doc']
    if len(shows) > 1 and len(shows) == len(rest):
        for n in shows: out.append(_cell('\n'.join(head + body[n.lineno - 1:n.end_lineno]), c))
        return out
    if not out: return [c]
    if ''.join(body).strip():
        out.append(_cell('\n'.join(head + body).strip('\n'), c))
        out[-1]['outputs'], out[-1]['execution_count'] = c.get('outputs', []), c.get('execution_count')
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('nbs', nargs='*', help='notebooks (default: nbs/*.ipynb)')
    ap.add_argument('--fix', action='store_true')
    args = ap.parse_args()
    bad = []
    for f in [Path(n) for n in args.nbs] or sorted((ROOT/'nbs').glob('*.ipynb')):
        nb = json.loads(f.read_text(encoding='utf-8'))
        cells = []
        for i, c in enumerate(nb['cells']):
            new = _split(c) if c['cell_type'] == 'code' else [c]
            if len(new) > 1: bad.append(f'{f.name} cell {i}: ' + _src(c).strip().splitlines()[0][:70])
            cells += new
        if args.fix and len(cells) != len(nb['cells']):
            nb['cells'] = cells
            f.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    if bad and not args.fix:
        sys.exit('Cells that mix imports with code, or hold several show_doc calls (python tools/check_nbs.py --fix '
                 'splits them):\n  ' + '\n  '.join(bad))
    print(f"notebook cells {'fixed' if bad else 'ok'}" + (f': {len(bad)}' if bad else ''))

if __name__ == '__main__': main()
