"""Build the documentation site offline: nbdev's own notebook processing, rendered by Sphinx + MyST-NB.

    python tools/build_docs.py [--nbs DIR] [--out DIR] [--force] [--strict]

`nbdev_docs` needs Quarto, which cannot be installed here, so this does the same job in three steps:

1. `nbdev.serve.proc_nbs` processes the notebooks into nbdev's cache (`_proc/`), exactly as `nbdev_docs`
   does before it calls Quarto: `show_doc` cells become markdown, `#| hide`/`#| export` cells go,
   backticked names are linked through `_modidx`, the title and summary become front matter.
2. Each processed notebook becomes a page in OUT/src (named like nbdev's: `00_core.ipynb` -> `core.html`),
   with what Quarto would have done by itself done here: `#| output: asis` outputs become part of the
   page, `#| echo/output/include: false` become MyST-NB tags, the front matter becomes the title.
3. Sphinx (configuration in docs/) renders OUT/src into OUT/html. No notebook is executed: the outputs
   saved in the notebooks are what the pages show (nbdev only runs the cells `show_doc` needs).

The navigation follows nbdev's sidebar order (index first, then by file name)."""
import argparse, configparser, contextlib, copy, fcntl, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

root = Path(__file__).resolve().parents[1]
docs_cfg = root/'docs'          # Sphinx configuration (conf.py, _ext/, _static/)
default_out = docs_cfg/'_build'

# --- 1. nbdev's processing ---------------------------------------------------------------------------

def settings():
    "The project's settings.ini."
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(root/'settings.ini')
    return cfg['DEFAULT']

def notebooks(nbs):
    "The notebooks nbdev documents, in its sidebar order: index first, then by path."
    from nbdev.doclinks import nbglob
    from nbdev.quarto import _sort
    files = nbglob(nbs, func=lambda d, name: (Path(d), name))
    return [d/name for d, name in sorted(files, key=_sort)]

def _env(**kw):
    "The environment of the build's subprocesses: `catdog` importable from the checkout, no plot windows."
    pp = os.pathsep.join(p for p in (str(root), os.environ.get('PYTHONPATH', '')) if p)
    return {**os.environ, 'MPLBACKEND': 'Agg', 'PYTHONPATH': pp, **kw}

def risky_cells(nbs):
    "Cells nbdev runs while it renders docs because they import something, though they also do other work."
    import ast
    out = []
    for nb_path in notebooks(nbs):
        cells = json.loads(nb_path.read_text(encoding='utf-8'))['cells']
        for i, c in enumerate(cells):
            if c['cell_type'] != 'code': continue
            d, code = directives(src(c))
            if d.get('eval') == 'false' or d.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: continue
            try: tree = ast.parse(code)
            except SyntaxError: continue  # magics: nbdev does not run them either
            nodes = list(ast.walk(tree))
            if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes) and \
               any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes):
                out.append(f'{nb_path.relative_to(nbs)}, cell {i} (from 0): {code.splitlines()[0][:70]}')
    return out

def proc_nbs(nbs, force=False):
    "Run `nbdev.serve.proc_nbs` on `nbs`; return the cache folder it wrote (`_proc` of the config root)."
    nbs = Path(nbs).resolve()
    cfg = settings()
    # the project's notebooks run from their folder, as `nbdev_test` runs them (relative paths then agree)
    if nbs == (root/cfg['nbs_path']).resolve(): cfg_root, cwd, tmp = root, nbs, None
    else:  # notebooks from elsewhere: a throw-away config root, so nbdev's cache is not the project's
        tmp = tempfile.TemporaryDirectory(prefix='catdog-docs-')
        cfg_root = cwd = Path(tmp.name)
        text = (root/'settings.ini').read_text(encoding='utf-8')
        text = re.sub(r'(?m)^nbs_path\s*=.*$', f'nbs_path = {nbs}', text)
        text = re.sub(r'(?m)^lib_path\s*=.*$', f'lib_path = {(root/cfg["lib_path"]).resolve()}', text)
        (cfg_root/'settings.ini').write_text(text, encoding='utf-8')
    cache = cfg_root/'_proc'
    # Links point at the names in `_modidx.py`: when that changed, nbdev's cache of unchanged notebooks is stale.
    modidx = root/cfg['lib_path']/'_modidx.py'
    if cache.exists() and modidx.exists() and modidx.stat().st_mtime > cache.stat().st_mtime: force = True
    # so is it when the mends to nbdev's processing changed
    if cache.exists() and (root/'tools'/'nbdev_proc.py').stat().st_mtime > cache.stat().st_mtime: force = True
    # nbdev's `proc_nbs`, with signatures shown as the source writes them (see tools/nbdev_proc.py)
    r = subprocess.run([sys.executable, str(root/'tools'/'nbdev_proc.py'), str(nbs), str(bool(force)), str(min(2, os.cpu_count() or 1))],
                       cwd=cwd, env=_env(PYTHONWARNINGS='ignore::UserWarning'),
                       capture_output=True, text=True)
    if r.returncode:
        err = r.stdout + r.stderr
        # the cause and the cell nbdev names, without the traceback of its worker pool
        last = '\n'.join(dict.fromkeys(re.findall(r'(?m)^\w+(?:Error|Exception|Exit): .*$', err))) or err[-3000:]
        if (i := err.rfind('\nException: Error in notebook')) >= 0: last += '\n' + err[i+1:err.find('\n"""', i)].strip()
        sys.stderr.write(err[-8000:] if os.environ.get('CATDOG_DOCS_VERBOSE') else last + '\n')
        risky = risky_cells(nbs)
        hint = ('\nTo render show_doc, nbdev runs every cell that has an import in it, with all its other code '
                '(nbdev FAQ): keep imports in cells of their own. Such cells:\n  ' + '\n  '.join(risky)) if risky else ''
        raise SystemExit(f'nbdev could not process the notebooks in {nbs} (error above).{hint}')
    return cache, tmp

# --- 2. processed notebook -> MyST-NB page ----------------------------------------------------------

_re_fm = re.compile(r'^---\s*\n(.*?)\n---\s*$', re.S)
_re_dir = re.compile(r'^\s*#\|\s*([\w-]+):?\s*(.*?)\s*$')
# nbdev's source link carries Quarto attributes: `[source](url){target="_blank" style=...}`
_re_qattrs = re.compile(r'(\[source\]\([^)\s]+\))\{[^}\n]*\}')
_re_callout = re.compile(r'^(\s*:{3,})\s*\{\.callout-(note|tip|warning|important|caution)[^}]*\}', re.M)
_py_meta = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
            'language_info': {'name': 'python', 'pygments_lexer': 'ipython3'}}

def src(cell):
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s

def md_cell(text): return {'cell_type': 'markdown', 'metadata': {}, 'source': text}

def directives(code):
    "The `#|` directives at the top of a code cell, and the code without them."
    d, lines = {}, code.splitlines()
    i = 0
    while i < len(lines) and (m := _re_dir.match(lines[i])): d[m[1]] = m[2].strip('\'" ').lower(); i += 1
    return d, '\n'.join(lines[i:]).strip('\n')

_re_fence = re.compile(r'(^```.*?^```)', re.M | re.S)
_re_mdlink = re.compile(r'\[(`[^`\n]+`)\]\([^)\s]+\)')

def clean_md(text):
    "Quarto's markdown as MyST: source links, callouts, and no markdown links inside code blocks."
    # nbdev's add_links also links names inside show_doc's signature block, where markdown is not markdown
    text = _re_fence.sub(lambda m: _re_mdlink.sub(r'\1', m[1]), text)
    text = _re_qattrs.sub(r'\1{.nbdev-source}', text)
    return _re_callout.sub(r'\1{\2}', text)

def out_md(o):
    data = o.get('data', {})
    md = data.get('text/markdown')
    return clean_md(''.join(md) if isinstance(md, list) else md) if md is not None else None

def page_name(nb_path, nbs, fm):
    "Where nbdev's Quarto site puts a notebook: its `output-file`, else the name less its number prefix."
    rel = nb_path.relative_to(nbs)
    name = fm.get('output-file') or re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.name.lower())
    return (rel.parent/name).with_suffix('')

def convert(nb, title_md=True):
    "A MyST-NB notebook from one of nbdev's processed notebooks."
    nb = copy.deepcopy(nb)
    cells, fm = [], {}
    for i, c in enumerate(nb['cells']):
        s = src(c)
        if c['cell_type'] == 'raw' and i == 0 and (m := _re_fm.match(s.strip())):
            import yaml
            fm = yaml.safe_load(m[1]) or {}
            continue
        if c['cell_type'] == 'markdown':
            if s.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            cells.append({**c, 'source': clean_md(s)})
            continue
        if c['cell_type'] != 'code': cells.append(c); continue
        d, code = directives(s)
        if d.get('include') == 'false': continue
        outs = [] if d.get('output') == 'false' else c.get('outputs', [])
        if d.get('output') == 'asis':  # Quarto puts markdown outputs into the page itself
            # show_doc's leading rule as HTML: docutils allows no section to begin with a transition
            mds = [re.sub(r'^\s*---\s*\n', '<hr class="nbdev-sep">\n\n', m) for m in map(out_md, outs) if m is not None]
            if code and d.get('echo') != 'false': cells.append({**c, 'source': code, 'outputs': []})
            cells += [md_cell(m) for m in mds]
            continue
        if not code and not outs: continue  # exported cells: nbdev removed their source
        tags = [t for t in c.get('metadata', {}).get('tags', []) if t not in ('remove-input', 'remove-output')]
        if d.get('echo') == 'false' or not code: tags.append('remove-input')
        meta = {k: v for k, v in c.get('metadata', {}).items() if k not in ('tags', 'language')}
        if tags: meta['tags'] = tags
        for o in outs:
            if o.get('output_type') in ('display_data', 'execute_result') and 'text/markdown' in o.get('data', {}):
                o['data']['text/markdown'] = out_md(o)
        cells.append({**c, 'source': code, 'outputs': outs, 'metadata': meta})
    if title_md and fm.get('title'):
        head = f"# {fm['title']}\n"
        if fm.get('description'): head += f"\n{{.lead}}\n{fm['description']}\n"
        cells.insert(0, md_cell(head))
    for i, c in enumerate(cells): c['id'] = f'c{i}'
    nb['cells'] = cells
    nb['metadata'] = {**nb.get('metadata', {}), **{k: v for k, v in _py_meta.items() if k not in nb.get('metadata', {})}}
    nb['nbformat'], nb['nbformat_minor'] = 4, 5
    return nb, fm

def write_if_changed(path, text):
    "Write only what changed, so Sphinx rebuilds only what changed."
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding='utf-8') != text: path.write_text(text, encoding='utf-8')

def make_pages(nbs, cache, srcdir):
    "Write the site's sources into `srcdir`; return the page names in navigation order."
    nbs = Path(nbs).resolve()
    site = {}
    for nb_path in notebooks(nbs):
        proc = cache/nb_path.relative_to(nbs)
        if not proc.exists(): raise SystemExit(f'nbdev did not process {nb_path} (no {proc})')
        nb, fm = convert(json.loads(proc.read_text(encoding='utf-8')))
        name = page_name(nb_path, nbs, fm)
        if name in site: raise SystemExit(f'two notebooks give the same page {name}.html: rename {nb_path}')
        site[name] = nb
    index = Path('index')
    toc = '```{toctree}\n:hidden:\n:maxdepth: 1\n\n' + ''.join(f'{p}\n' for p in site if p != index) + '```\n'
    if index in site: site[index]['cells'].append({**md_cell(toc), 'id': 'toctree'})
    else:  # a site needs a front page
        site = {index: None, **site}
        title = settings().get('title', 'catdog')
        write_if_changed(srcdir/'index.md', f'# {title}\n\n' + toc.replace(':hidden:\n', ''))
    written = {f'{name}.md' if nb is None else f'{name}.ipynb' for name, nb in site.items()}
    for name, nb in site.items():
        if nb is not None: write_if_changed(srcdir/f'{name}.ipynb', json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    for f in list(srcdir.rglob('*')):  # pages of notebooks that are gone
        if f.is_file() and f.suffix in ('.ipynb', '.md') and str(f.relative_to(srcdir)) not in written: f.unlink()
    return list(site)

# --- 3. Sphinx --------------------------------------------------------------------------------------

def sphinx(srcdir, out, force=False, strict=False):
    "Render `srcdir` with Sphinx into OUT/html."
    import importlib.util
    if missing := [m for m in ('sphinx', 'myst_nb', 'furo') if importlib.util.find_spec(m) is None]:
        raise SystemExit(f'the docs need {", ".join(missing)} (the renderer): run `make docs-deps`, or '
                         '`pip install "sphinx>=8" "myst-nb>=1.1" "furo>=2024.8"`')
    html = out/'html'
    # -a: every page is written again, as each one's sidebar lists all pages (Sphinx re-reads only what changed)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-a', '-q', '-c', str(docs_cfg),
           '-d', str(out/'doctrees'), str(srcdir), str(html)]
    if force: cmd.insert(3, '-E')
    if strict: cmd[3:3] = ['-W', '--keep-going']
    r = subprocess.run(cmd, cwd=root, env=_env())
    if r.returncode: raise SystemExit(f'Sphinx failed to build {html} (see its messages above)')
    return html

@contextlib.contextmanager
def build_lock():
    "One docs build at a time on this checkout (nbdev's `_proc` cache and docs/_build are shared)."
    default_out.mkdir(parents=True, exist_ok=True)
    with open(default_out/'.lock', 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try: yield
        finally: fcntl.flock(f, fcntl.LOCK_UN)

def build(nbs=None, out=None, force=False, strict=False):
    "Build the site; return the folder of its HTML (with `index.html`)."
    nbs = Path(nbs or root/settings()['nbs_path']).resolve()
    if not nbs.is_dir(): raise SystemExit(f'no notebook folder {nbs}')
    out = Path(out or default_out).resolve()
    with build_lock():
        cache, tmp = proc_nbs(nbs, force=force)
        try: pages = make_pages(nbs, cache, out/'src')
        finally:
            if tmp: tmp.cleanup()
        if (nbs/'images').is_dir():  # pictures the notebooks' prose shows, e.g. ![...](images/top_losses.png)
            shutil.copytree(nbs/'images', out/'src'/'images', dirs_exist_ok=True)
        html = sphinx(out/'src', out, force=force, strict=strict)
    print(f'docs: {len(pages)} pages ({", ".join(str(p) for p in pages)}) in {html}')
    return html

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--nbs', help='notebook folder (default: nbs_path of settings.ini)')
    p.add_argument('--out', help=f'build folder; the site goes in OUT/html (default: {default_out.relative_to(root)})')
    p.add_argument('--force', action='store_true', help='ignore the caches of nbdev and Sphinx')
    p.add_argument('--strict', action='store_true', help="fail on any of Sphinx's warnings")
    a = p.parse_args()
    build(a.nbs, a.out, a.force, a.strict)

if __name__ == '__main__': main()
