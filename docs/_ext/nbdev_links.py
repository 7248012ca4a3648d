"""Sphinx extension: nbdev's anchors and links, so a site rendered without Quarto links like nbdev's.

- Every section gets, besides Sphinx's own id, the id Quarto (pandoc) would give it: `show_doc`'s
  `### Learner.fit` is `#learner.fit`, which is what nbdev's `_modidx.py` records for that name.
- nbdev's `add_links` turns a backticked API name into a link to `doc_host + doc_baseurl + page#anchor`
  (the published site); links to a page of this site are made relative, so they work offline, and one
  whose page or anchor does not exist is reported (not for private names) and left as plain code.
- A markdown link to a page as Quarto names it, `[Lesson 1](lesson1.html)` or `(page.html#anchor)`, leads to
  that page of this site (MyST would take it for a cross-reference it cannot find and link to `#lesson1.html`)."""
import posixpath, re
from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
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

_re_page = re.compile(r'^([^:#?]+)\.html(?:#(.*))?$')

class PageLinks(SphinxPostTransform):
    "Markdown links to `page.html` (Quarto's file names, as nbdev's pages write them) as links to this site's pages."
    default_priority = 8  # before MyST's resolver (9), which would make them links to a missing local anchor

    def run(self, **kwargs):
        env, ids = self.env, getattr(self.env, 'nbdev_ids', {})
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get('reftype') != 'myst' or node.get('refdomain') == 'doc': continue
            m = _re_page.match(node.get('reftarget', ''))
            if not m: continue
            refdoc = node.get('refdoc', env.docname)
            target = posixpath.normpath(posixpath.join(posixpath.dirname(refdoc), m[1]))
            anchor = m[2] or ''
            if target not in env.found_docs: continue  # MyST reports it
            if anchor and anchor not in ids.get(target, ()):
                logger.warning(f'link to {m[0]}: page {target} has no #{anchor}', location=node)
                anchor = ''
            ref = nodes.reference('', '', internal=True,
                                  refuri=self.app.builder.get_relative_uri(refdoc, target) + (f'#{anchor}' if anchor else ''))
            ref += node.children
            node.replace_self(ref)

def setup(app):
    app.add_config_value('nbdev_doc_url', '', 'env')
    app.connect('doctree-read', add_ids)
    app.connect('env-purge-doc', purge)
    app.connect('env-merge-info', merge)
    app.connect('doctree-resolved', localise)
    app.add_post_transform(PageLinks)
    return {'version': '1.0', 'parallel_read_safe': True, 'parallel_write_safe': True, 'env_version': 1}
