"""Sphinx configuration of catdog's offline documentation site (built by `make docs`, see tools/build_docs.py).

The pages are nbdev's processed notebooks; MyST-NB renders them with the outputs saved in them (nothing
is executed), Furo gives the navigation and Sphinx's own client-side search, and the local extension
`nbdev_links` makes nbdev's links to API names (`_modidx.py`) point into this site."""
import configparser, sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here/'_ext'))
_cfg = configparser.ConfigParser(interpolation=None)
_cfg.read(here.parent/'settings.ini')
_s = _cfg['DEFAULT']

project = _s.get('title', _s['lib_name'])
author = _s.get('author', '')
copyright = _s.get('copyright', '')
release = version = _s.get('version', '')

extensions = ['myst_nb', 'nbdev_links']
# Where nbdev's links point (`doc_host` + `doc_baseurl`, as in `_modidx.py`): rewritten to pages of this site.
nbdev_doc_url = _s.get('doc_host', '').rstrip('/') + '/' + _s.get('doc_baseurl', '').strip('/') + '/'

nb_execution_mode = 'off'          # the docs show the outputs saved in the notebooks
nb_merge_streams = True
nb_render_markdown_format = 'myst'
myst_enable_extensions = ['colon_fence', 'dollarmath', 'attrs_inline', 'attrs_block']
myst_heading_anchors = 0
# nbdev's `show_doc` headings sit under whatever heading the notebook has (often the title); its signature
# blocks may hold reprs (`<class ...>`) that Pygments then lexes in relaxed mode.
suppress_warnings = ['myst.header', 'misc.highlighting_failure']

html_theme = 'furo'
html_title = f'{project} {version}'
html_static_path = ['_static']
html_css_files = ['catdog.css']
html_favicon = '_static/favicon.svg'
html_show_sourcelink = False
html_copy_source = False
pygments_style = 'friendly'
pygments_dark_style = 'monokai'
