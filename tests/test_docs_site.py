"""The documentation site, as a reader sees it: built by tools/build_docs.py (what `make docs` runs), served
from 127.0.0.1 and opened in headless Chromium, driven over the DevTools protocol (`websockets`).

Each page must load with no console error, show its title, have a doc entry (with nbdev's anchor) for each
public name its module exports and none twice, every link to an API name or to another page must land on an existing entry, and
every source link must name the line of the package where its entry's name is defined, and no text output
(a printed line, an error message) may run past the right edge, out of sight. The learner
page must show the `create_cnn` signature table, the lesson page a rendered plot. A synthetic notebook made
here proves the same machinery for plots and signature tables whatever the notebooks of nbs/ hold today.
Screenshots go to docs/_build/screenshots/. Only where Chromium cannot be found or installed
(tools/install_chromium.sh) are these checks skipped."""
import base64, io, json, os, re, runpy, shutil, signal, subprocess, sys, tempfile, threading, time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
BUILD = ROOT/'docs'/'_build'
SHOTS = BUILD/'screenshots'
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402

# Pages whose notebooks are still being written. Their checks run as soon as the notebook exists; until
# then they skip. Once a notebook is committed, take its name out of PENDING: then a missing notebook fails.
PENDING = set()

# What each page must show, beyond what every page must (see `test_page`):
#   doc:   names whose show_doc entry must be there (anchor `#name.lower()`, as nbdev/Quarto name it)
#   signature: name -> parameters that its signature must list (nbdev 2.4's show_doc shows a `def` block with
#              one parameter a line and its docment; older renderers a table: either counts)
#   plots: how many rendered plots (loaded <img> in cell outputs) at least
#   links: backticked names in the prose that must link to their doc entry
#   shows: text the page must show (an Enum's entry lists its members, where a signature could not be called)
EXPECT = {
    'index':             dict(),
    '00_core':           dict(doc=['num_cpus', 'default_device', 'bf16_supported', 'Defaults', 'writable_dir',
                                   'atomic_save']),
    '07_vision_learner': dict(doc=['create_cnn'], signature={'create_cnn': ['data', 'arch']}, links=['create_cnn']),
    '03_data':           dict(shows=['class DatasetType(Enum):', 'Train, Valid, Test, Fix']),
    '03a_external':      dict(shows=['class URLs:', 'DOGSCATS, MNIST_SAMPLE']),
    '90_lesson1':        dict(plots=1),
}

def nb_names(): return [p.stem for p in build_docs.notebooks(NBS)]

def cases():
    "Every notebook of nbs/ (in the site's order), then the expected pages not written yet."
    names = nb_names()
    return names + [n for n in EXPECT if n not in names]

# --- the site, a server, a browser ------------------------------------------------------------------

@pytest.fixture(scope='session')
def site():
    "The project's site, built once per test session into docs/_build (as `make docs` does)."
    html = build_docs.build(NBS, BUILD)
    assert (html/'index.html').exists()
    return html

class Server:
    "A static file server for `folder` on 127.0.0.1 (a free port), in a thread."
    def __init__(self, folder):
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *a): pass
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), partial(Quiet, directory=str(folder)))
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
    def close(self): self.httpd.shutdown(); self.httpd.server_close()

@pytest.fixture(scope='session')
def server(site):
    s = Server(site)
    yield s
    s.close()

def find_chromium():
    for name in ('chromium', 'chromium-browser'):
        if exe := shutil.which(name): return exe

@pytest.fixture(scope='session')
def chromium_exe():
    exe = find_chromium()
    if not exe and not os.environ.get('CATDOG_NO_CHROMIUM_INSTALL'):
        r = subprocess.run(['bash', str(ROOT/'tools'/'install_chromium.sh')], capture_output=True, text=True)
        exe, msg = find_chromium(), (r.stdout + r.stderr).strip()
    if not exe:
        pytest.skip('the docs browser checks need Chromium, which is not installed and could not be '
                    f'(tools/install_chromium.sh said: {locals().get("msg", "not run")})')
    return exe

class Browser:
    "Headless Chromium driven over the DevTools protocol: one page (tab) at a time."
    def __init__(self, exe):
        from websockets.sync.client import connect
        self.tmp = tempfile.TemporaryDirectory(prefix='catdog-chromium-')
        self.log = open(Path(self.tmp.name)/'chromium.log', 'wb')
        profile = Path(self.tmp.name)/'profile'
        self.proc = subprocess.Popen(
            [exe, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', f'--user-data-dir={profile}',
             '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', '--window-size=1280,900',
             'about:blank'], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)  # its own process group
        port_file, deadline = profile/'DevToolsActivePort', time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f'Chromium did not start: {self.log_tail()}')
            time.sleep(0.1)
        port, path = port_file.read_text().split()[:2]
        self.ws = connect(f'ws://127.0.0.1:{port}{path}', max_size=None, open_timeout=30).__enter__()
        self.n, self.events = 0, []

    def log_tail(self):
        p = Path(self.tmp.name)/'chromium.log'
        return p.read_text(errors='replace')[-2000:] if p.exists() else ''

    def send(self, method, session=None, timeout=60, **params):
        "Send one DevTools command and return its result (events that come meanwhile are kept)."
        self.n += 1
        msg = {'id': self.n, 'method': method, 'params': params}
        if session: msg['sessionId'] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            m = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if m.get('id') == self.n:
                if 'error' in m: raise RuntimeError(f'{method}: {m["error"]}')
                return m['result']
            self.events.append(m)

    def wait_event(self, method, session, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get('method') == method and e.get('sessionId') == session: return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, url):
        "A fresh tab at `url`, loaded with its images; returns a `Page`."
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        s = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        for m in ('Page.enable', 'Runtime.enable', 'Log.enable'): self.send(m, s)
        self.send('Emulation.setDeviceMetricsOverride', s, width=1280, height=900, deviceScaleFactor=1, mobile=False)
        self.send('Page.navigate', s, url=url)
        self.wait_event('Page.loadEventFired', s)
        page = Page(self, s, target)
        page.eval('Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => {i.onload = i.onerror = r})))')
        return page

    def signal_all(self, sig):
        "Send `sig` to Chromium's whole process group (the browser and its renderer, GPU and utility processes)."
        try: os.killpg(self.proc.pid, sig)
        except ProcessLookupError: pass  # none left

    def close(self):
        if getattr(self, 'ws', None): self.ws.__exit__(None, None, None)
        if self.proc.poll() is None:
            self.signal_all(signal.SIGTERM)
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: self.signal_all(signal.SIGKILL); self.proc.wait()
        # a child can outlive the browser process for a moment and still write into the profile: end them all,
        # then remove the profile, again while a dying child leaves a file behind ('Directory not empty')
        self.signal_all(signal.SIGKILL)
        self.log.close()
        for attempt in range(50):
            try: self.tmp.cleanup(); break
            except OSError:
                if attempt == 49: raise
                time.sleep(0.1)

class Page:
    def __init__(self, b, session, target): self.b, self.s, self.target = b, session, target
    def eval(self, js):
        r = self.b.send('Runtime.evaluate', self.s, expression=js, awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in r: raise RuntimeError(f'{js}: {r["exceptionDetails"]}')
        return r['result'].get('value')
    def errors(self):
        "Console errors, uncaught exceptions and failed loads that this page reported."
        self.eval('0')  # let pending events arrive
        out = []
        for e in [e for e in self.b.events if e.get('sessionId') == self.s]:
            m, p = e.get('method'), e.get('params', {})
            if m == 'Runtime.exceptionThrown': out.append(p['exceptionDetails'].get('exception', {}).get('description') or p['exceptionDetails'].get('text'))
            elif m == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                out.append(' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', [])))
            elif m == 'Log.entryAdded' and p['entry'].get('level') == 'error':
                out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out
    def screenshot(self, fname):
        fname.parent.mkdir(parents=True, exist_ok=True)
        fname.write_bytes(base64.b64decode(self.b.send('Page.captureScreenshot', self.s, format='png')['data']))
        return fname
    def close(self):
        self.b.send('Target.closeTarget', targetId=self.target)
        self.b.events = [e for e in self.b.events if e.get('sessionId') != self.s]

@pytest.fixture(scope='session')
def browser(chromium_exe):
    b = Browser(chromium_exe)
    yield b
    b.close()

# --- what a page must show ----------------------------------------------------------------------------

def page_of(nb):
    "The page nbdev's site gives notebook `nb` (its front matter's output-file, else the name less its number)."
    return build_docs.page_name(NBS/f'{nb}.ipynb', NBS, {}).with_suffix('.html').as_posix() if nb != 'index' else 'index.html'

def nb_title(nb):
    "The `# Title` of a notebook, which nbdev makes the page title."
    cells = json.loads((NBS/f'{nb}.ipynb').read_text(encoding='utf-8'))['cells']
    for c in cells:
        s = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'markdown' and s.lstrip().startswith('# '): return s.lstrip()[2:].splitlines()[0].strip()

def modidx():
    "nbdev's index of the package's names (read from the file: the checkout, not an installed copy)."
    return runpy.run_path(str(ROOT/build_docs.settings()['lib_path']/'_modidx.py'))['d']

def exported_names(page):
    "Top-level public names that nbdev's `_modidx` places on `page` (each must have a doc entry there)."
    d, out = modidx(), []
    for syms in d['syms'].values():
        for qual, (url, _) in syms.items():
            mod, _, name = qual.rpartition('.')
            if url.split('#')[0] == page and mod in d['syms'] and not name.startswith('_'): out.append(name)
    return out

# a heading's text, less Sphinx's permalink mark
HEAD_JS = "(h) => { if (!h) return ''; const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove()); return c.textContent.trim(); }"

DOC_JS = '''(name) => {
  const e = document.getElementById(name.toLowerCase());
  if (!e) return null;
  const sec = e.closest('section') || e;
  const h = sec.querySelector('h1,h2,h3,h4,h5,h6');
  return {heading: (''' + HEAD_JS + ''')(h),
          sig: (sec.querySelector('pre') || {}).textContent || '',
          tables: [...sec.querySelectorAll('table')].map(
            t => [...t.querySelectorAll('tbody tr')].map(r => r.cells[0] ? r.cells[0].textContent.trim() : ''))};
}'''

# each nbdev source link, and the first heading after it (its doc entry's: the link stands just above the entry)
SOURCE_JS = '''(() => {
  const hs = [...document.querySelectorAll('article h1, article h2, article h3, article h4, article h5, article h6')];
  return [...document.querySelectorAll('a.nbdev-source')].map(a => {
    const h = hs.find(h => a.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING);
    return [a.getAttribute('href'), h ? h.firstChild.textContent.trim() : null];
  });
})()'''

# the heading of each doc entry: show_doc's output begins with a rule (`hr.nbdev-sep`), then the entry's heading
ENTRY_JS = '''(() => {
  const hs = [...document.querySelectorAll('article h1, article h2, article h3, article h4, article h5, article h6')];
  return [...document.querySelectorAll('article hr.nbdev-sep')].map(r => {
    const h = hs.find(h => r.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING);
    return h ? h.firstChild.textContent.trim() : null;
  });
})()'''

def doc_entry(page, name): return page.eval(f'({DOC_JS})({json.dumps(name)})')

def signature_params(name, entry):
    "Parameter names a doc entry shows: in nbdev 2.4's `def name(...)` block, or an older renderer's table."
    if entry['tables']: return entry['tables'][0]
    m = re.search(rf'(?:def|class)\s+{re.escape(name.split(".")[-1])}\s*\((.*?)\)\s*(?:->[^:]*)?:', entry['sig'], re.S)
    if not m: return []
    return re.findall(r'(?m)^\s*\**(\w+)\s*(?=[:=,#]|$)', re.sub(r'#.*', '', m[1]).replace(',', ',\n'))

def check_page(browser, base, html_dir, page_file, nav, title=None, doc=(), signature=None, plots=0, links=(), shot=None):
    "Open `page_file` of the site at `base` and check what every page (`nav`: the pages in order) and this one must show."
    page = browser.open(base + page_file)
    try:
        if shot: page.screenshot(shot)
        assert page.eval('document.readyState') == 'complete'
        errors = page.errors()
        assert not errors, f'{page_file}: console errors: {errors}'
        h1 = page.eval(f"({HEAD_JS})(document.querySelector('article h1'))")
        if title: assert h1 == title, f'{page_file}: title {h1!r}, notebook says {title!r}'
        # navigation: the sidebar lists every page, in notebook order
        links_in_nav = page.eval("[...document.querySelectorAll('.sidebar-tree a.reference')].map(a => a.getAttribute('href'))")
        got = [urlsplit(h).path.split('/')[-1] or page_file for h in links_in_nav]
        got = [g for g in got if g != 'index.html']
        assert got == nav, f'{page_file}: sidebar {got}, notebooks give {nav}'
        # doc entries with nbdev's anchors, and their signature tables
        for name in doc:
            e = doc_entry(page, name)
            assert e, f'{page_file}: no doc entry #{name.lower()} for {name}'
            assert name in e['heading'], f'{page_file}: #{name.lower()} is headed {e["heading"]!r}'
        for name, params in (signature or {}).items():
            e = doc_entry(page, name)
            assert e, f'{page_file}: no doc entry for {name}'
            got = signature_params(name, e)
            assert got, f'{page_file}: the doc entry of {name} shows no signature: {e}'
            assert all(p in got for p in params), f'{page_file}: {name} signature lists {got}, not all of {params}'
        # source links: each names a line of the package, where the entry's name is defined
        entries = page.eval(ENTRY_JS)
        twice = sorted({name for name in entries if name and entries.count(name) > 1})
        assert not twice, f'{page_file}: doc entries shown twice: {twice}'
        for href, name in page.eval(SOURCE_JS):
            assert name, f'{page_file}: a source link ({href}) with no entry heading after it'
            m = re.search(r'/blob/[^/]+/(.+\.py)#L(\d+)$', href)
            assert m, f'{page_file}: the source link of {name} names no line: {href}'
            lines = (ROOT/m[1]).read_text(encoding='utf-8').splitlines()[int(m[2]) - 1:int(m[2]) + 3]
            last = re.escape(name.split('.')[-1])
            assert any(re.match(rf'\s*(async\s+)?(def|class)\s+{last}\b', l) for l in lines), \
                f'{page_file}: the source link of {name} goes to {m[1]} line {m[2]}: {lines[:1]}'
        # text outputs (printed lines, error messages, reprs) wrap: none hides its end past the right edge
        cut = page.eval("[...document.querySelectorAll('.cell_output pre, .output pre')].filter(p => p.scrollWidth > p.clientWidth + 1)"
                        ".map(p => p.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 100))")
        assert not cut, f'{page_file}: {len(cut)} outputs run past the right edge, as {cut[:3]}'
        # plots: images in cell outputs that the browser decoded
        imgs = page.eval("[...document.querySelectorAll('.cell_output img, .output img')].map(i => [i.getAttribute('src').slice(0,60), i.complete, i.naturalWidth])")
        assert all(ok and w > 0 for _, ok, w in imgs), f'{page_file}: images that did not load: {imgs}'
        assert len(imgs) >= plots, f'{page_file}: {len(imgs)} rendered plots, want at least {plots}'
        # links to API names land on a doc entry (same page: in the DOM; other pages: in their HTML)
        doclinks = page.eval("[...document.querySelectorAll('a.nbdev-doclink')].map(a => [a.textContent.trim(), a.getAttribute('href')])")
        # and so does every other link within the site (a markdown link to `lesson1.html`, a section's anchor)
        others = page.eval("[...document.querySelectorAll('article a[href]:not(.nbdev-doclink)')].map(a => [a.textContent.trim(), a.getAttribute('href')])")
        for text, href in doclinks + [(t, h) for t, h in others if not re.match(r'^(https?|mailto|javascript):', h)]:
            target, _, anchor = href.partition('#')
            target = target or page_file
            assert (html_dir/target).exists(), f'{page_file}: link {text} -> {href}: no page {target}'
            if anchor:
                ids = page.eval(f'!!document.getElementById({json.dumps(anchor)})') if target == page_file \
                    else f'id="{anchor}"' in (html_dir/target).read_text(encoding='utf-8')
                assert ids, f'{page_file}: link {text} -> {href}: {target} has no #{anchor}'
        for name in links:
            want = f'{page_of_name(name)}#{name.lower()}'
            hrefs = [(h if h.split('#')[0] else page_file + h) for t, h in doclinks if t == name]
            assert want in hrefs, f'{page_file}: `{name}` in the prose does not link to {want} (links: {doclinks})'
        return page.eval('document.body.innerText')
    finally: page.close()

def page_of_name(name):
    for syms in modidx()['syms'].values():
        for qual, (url, _) in syms.items():
            if qual.rpartition('.')[2] == name and qual.count('.') == 2: return url.split('#')[0]
    return '?'

@pytest.mark.parametrize('nb', cases())
def test_page(nb, site, server, browser):
    "Each notebook's page: loads clean, right title, nav in notebook order, doc entries, plots, working links."
    if not (NBS/f'{nb}.ipynb').exists():
        if nb in PENDING: pytest.skip(f'pending: nbs/{nb}.ipynb is not written yet (see PENDING)')
        pytest.fail(f'nbs/{nb}.ipynb is missing, so its page cannot be checked')
    exp = EXPECT.get(nb, {})
    page_file = page_of(nb)
    doc = list(dict.fromkeys(list(exp.get('doc', [])) + exported_names(page_file)))
    nav = [page_of(n) for n in nb_names() if n != 'index']
    text = check_page(browser, server.url, site, page_file, nav, title=nb_title(nb), doc=doc, signature=exp.get('signature'),
                      plots=exp.get('plots', 0), links=exp.get('links', ()), shot=SHOTS/f'{Path(page_file).stem}.png')
    for t in exp.get('shows', ()): assert t in text, f'{page_file} does not show {t!r}'

def test_search(site, server, browser):
    "Sphinx's client-side search finds a documented name and links to its page."
    names = exported_names('core.html')
    assert 'writable_dir' in names
    page = browser.open(server.url + 'search.html?q=writable_dir')
    try:
        found = []
        for _ in range(100):  # the index loads and the results fill in asynchronously
            found = page.eval("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.getAttribute('href'))")
            if found: break
            page.eval('new Promise(r => setTimeout(r, 100))')
        assert page.errors() == []
        assert any(h.split('#')[0].endswith('core.html') for h in found), f'search results: {found}'
        page.screenshot(SHOTS/'search.png')
    finally: page.close()

# --- the machinery on a synthetic notebook (a plot and a docments table), whatever nbs/ holds ----------

def _png():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2, 3], [1, 3, 2, 4]); ax.set_title('a saved plot')
    buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()

def _nb(cells):
    def cell(kind, src, outputs=None):
        c = {'cell_type': kind, 'metadata': {}, 'source': src}
        if kind == 'code': c.update(execution_count=None, outputs=outputs or [])
        return c
    return {'cells': [cell(*c) for c in cells], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}

def test_synthetic_site(tmp_path, browser):
    "A plot saved in a notebook shows as a loaded <img>; show_doc of a documented function shows its signature as written."
    nbs = tmp_path/'nbs'; nbs.mkdir()
    index = _nb([('markdown', '# Demo site\n> A site made by the test'), ('markdown', 'Made by the test.')])
    demo = _nb([
        ('markdown', '# Demo\n> A plot and a documented function'),
        ('code', '#| default_exp demo'),
        ('code', '#| export\ndef scale(x:float, # the number to scale\n          by:float=2, # the factor\n          base=None, # added first\n'
                 '          **kwargs, # left alone\n         )->float:\n    "`x` times `by`."\n    return ((base or 0) + x)*by'),
        ('code', '#| export\nfrom fastcore.basics import patch'),
        ('code', '#| export\nclass Box:\n    "Holds `x`."\n    def __init__(self, x): self.x = x'),
        ('code', '#| export\n@patch\ndef grow(self:Box, by:float=2, # the factor\n        ):\n    "`x` times `by`."\n    self.x *= by'),
        ('code', 'show_doc(Box.grow)'),  # documented where the notebook wants it: once (nbdev 2.4 added it again)
        ('code', '#| hide\nraise RuntimeError("a hidden cell must not show")'),
        ('code', '#| echo: false\nprint("only the output shows")', [{'output_type': 'stream', 'name': 'stdout', 'text': 'only the output shows\n'}]),
        ('code', 'say_long_line()', [{'output_type': 'stream', 'name': 'stdout',  # wraps within the page (check_page)
                                       'text': 'the end of a long line, ' * 12 + 'shows: ' + '/a_long_path' * 20 + '\n'}]),
        ('code', 'plot_it()', [{'output_type': 'display_data', 'metadata': {},
                                'data': {'image/png': _png(), 'text/plain': '<Figure size 400x300 with 1 Axes>'}}]),
    ])
    (nbs/'index.ipynb').write_text(json.dumps(index)); (nbs/'01_demo.ipynb').write_text(json.dumps(demo))
    html = build_docs.build(nbs, tmp_path/'_build')
    srv = Server(html)
    try:
        text = check_page(browser, srv.url, html, 'demo.html', ['demo.html'], title='Demo', doc=['scale', 'Box.grow'],
                          signature={'scale': ['x', 'by']}, plots=1, shot=SHOTS/'synthetic_demo.png')
        assert 'only the output shows' in text and 'print(' not in text
        # the signature as the source writes it (tools/nbdev_proc.py), not as fastcore 1.12 would: `kwargs:VAR_KEYWORD`
        # with its comment after `->float:`, `base:NoneType=None`
        assert 'base=None, # added first' in text and '**kwargs, # left alone' in text and ')->float:\n' in text, text
        assert 'VAR_KEYWORD' not in text and 'NoneType' not in text
        assert 'a hidden cell' not in text
        assert 'shows: /a_long_path' in text
        check_page(browser, srv.url, html, 'index.html', ['demo.html'], title='Demo site')
    finally: srv.close()
