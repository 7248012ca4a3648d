"""Sphinx extension: nbdev's anchors and links, so a site rendered without Quarto links like nbdev's.

- Every section gets, besides Sphinx's own id, the id Quarto (pandoc) would give it: `show_doc`'s
  `### Learner.fit` is `#learner.fit`, which is what nbdev's `_modidx.py` records for that name.
- nbdev's `add_links` turns a backticked API name into a link to `doc_host + doc_baseurl + page#anchor`
  (the published site); links to a page of this site are made relative, so they work offline, and one
  whose page or anchor does not exist is reported (not for private names) and left as plain code."""
import re
from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

def pandoc_id(text):
    "The identifier pandoc (so Quarto) gives a heading."
    s = re.sub(r'[^\w\s.-]', '', text.strip().lower())
    s = re.sub(r'\s+', '-', s)
    s = re.sub(r'^[^a-z]+', '', s)
    return s or 'section'

def add_ids(app, doctree):
    "Give each section its pandoc id too; record the ids of every page."
    env = app.env
    if not hasattr(env, 'nbdev_ids'): env.nbdev_ids = {}
    ids = set()
    for node in doctree.findall(nodes.Element):
        ids.update(node.get('ids', []))
    for sec in doctree.findall(nodes.section):
        pid = pandoc_id(sec[0].astext()) if sec.children and isinstance(sec[0], nodes.title) else None
        if pid and pid not in ids:
            sec['ids'].insert(0, pid)
            doctree.ids[pid] = sec
            ids.add(pid)
    env.nbdev_ids[env.docname] = ids

def purge(app, env, docname):
    getattr(env, 'nbdev_ids', {}).pop(docname, None)

def merge(app, env, docnames, other):
    if not hasattr(env, 'nbdev_ids'): env.nbdev_ids = {}
    env.nbdev_ids.update({d: other.nbdev_ids[d] for d in docnames if d in getattr(other, 'nbdev_ids', {})})

def localise(app, doctree, docname):
    "Point nbdev's links to the published site at this site's pages."
    base = app.config.nbdev_doc_url
    if not base or base == '/': return
    ids = getattr(app.env, 'nbdev_ids', {})
    for ref in doctree.findall(nodes.reference):
        uri = ref.get('refuri', '')
        if not uri.startswith(base): continue
        page, _, anchor = uri[len(base):].partition('#')
        target = re.sub(r'\.html$', '', page) or 'index'
        missing = (f'no page {target} in this site' if target not in app.env.found_docs else
                   f'page {target} has no #{anchor}' if anchor and anchor not in ids.get(target, ()) else None)
        if missing:  # a dead link would lead nowhere offline: keep the name, drop the link
            if not anchor.rpartition('.')[2].startswith('_'):  # nbdev links private names too: no doc entry
                logger.warning(f'link to {uri}: {missing}', location=(docname, ref.line))
            ref.replace_self(ref.children)
            continue
        ref['refuri'] = app.builder.get_relative_uri(docname, target) + (f'#{anchor}' if anchor else '')
        ref['classes'].append('nbdev-doclink')
        ref['internal'] = True

def setup(app):
    app.add_config_value('nbdev_doc_url', '', 'env')
    app.connect('doctree-read', add_ids)
    app.connect('env-purge-doc', purge)
    app.connect('env-merge-info', merge)
    app.connect('doctree-resolved', localise)
    return {'version': '1.0', 'parallel_read_safe': True, 'parallel_write_safe': True, 'env_version': 1}
