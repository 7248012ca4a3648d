"""nbdev's processing of the notebooks for the docs (`nbdev.serve.proc_nbs`), as tools/build_docs.py runs it:

    python tools/nbdev_proc.py NBS_DIR FORCE N_WORKERS

with a mend for the signature blocks of nbdev 2.4's `show_doc` (fastcore 1.12's `DocmentText`). nbdev's
workers are spawned processes that import this file again as their main module, so the mend is made at
import, in each of them. The notebooks and the package are untouched.

fastcore writes `**kwargs` as `kwargs:VAR_KEYWORD` (the kind of the parameter, taken for its annotation),
gives the comment on its line to the return annotation (`)->VisionLearner: # passed to the learner`),
and annotates a parameter whose default is None with a made-up `NoneType`. The site shows the signature
as the source has it: `**kwargs, # passed to the learner`, `*args`, `metrics=None`.

Two more mends. A class that takes no arguments shows what it holds, where fastcore writes a signature that
cannot be called: an Enum its members (`class DatasetType(Enum): Train, Valid, Test, Fix`, not
`def DatasetType(*args, **kwds)`), a namespace of constants its names (`URLs`). And nbdev 2.4 finds the line
of `create_cnn` for the source link, but not of `catdog.vision_learner.create_cnn`, the name it looks up on a
page that imports what it documents (the vision.learner page): its links ended in `#LNone`.

Last, nbdev adds a `show_doc` cell after each exported definition that the notebook does not document itself,
but it compares the notebook's `show_doc(Learner.save)` with the bare name `save` of the `@patch`ed function:
every patched method a notebook documents where it wants came out twice on its page. It now compares the name
`show_doc` would be given (`Learner.save`) too."""
import enum, textwrap
from inspect import Parameter

from fastcore import docments as _docments
from nbdev import doclinks as _doclinks
from nbdev import processors as _processors

_stars = {Parameter.VAR_POSITIONAL: '*', Parameter.VAR_KEYWORD: '**'}

def _init(self, obj):
    self.obj, self.dm = obj, _docments.docments(obj, full=True, args_kwargs=True)  # each comment to its own parameter
    if 'self' in self.dm: del self.dm['self']

_fmt_param = _docments.DocmentText._fmt_param

def _fmt_param_as_written(self, nm, p):
    anno, default = p.get('anno', Parameter.empty), p.get('default', Parameter.empty)
    if isinstance(anno, type(Parameter.VAR_KEYWORD)): return _stars.get(anno, '') + nm  # a kind, not an annotation
    if anno is type(None) and default is None: p = {**p, 'anno': Parameter.empty}  # `metrics=None`, not `metrics:NoneType=None`
    return _fmt_param(self, nm, p)

def _held(o) -> list[str]|None:
    "The names a class that takes no arguments holds: an Enum's members, a namespace class's constants; else None."
    if isinstance(o, enum.EnumMeta): return list(o.__members__)
    if isinstance(o, type) and o.__init__ is object.__init__ and o.__new__ is object.__new__:
        names = [k for k, v in vars(o).items() if not k.startswith('_') and not callable(v)
                 and not isinstance(v, (property, classmethod, staticmethod))]
        return names or None

_str = _docments.DocmentText.__str__

def _str_held(self):
    names = _held(self.obj)
    if names is None: return _str(self)
    base = '(Enum)' if isinstance(self.obj, enum.EnumMeta) else ''
    body = textwrap.fill(', '.join(names), min(self.maxline, 80), initial_indent='    ', subsequent_indent='    ')  # the site's code width
    return f"class {self.obj.__name__}{base}:\n{body}\n"

_lineno = _doclinks._lineno

def _lineno_qualified(sym, fname):
    "The line of `sym` in `fname`, also where `sym` is written with its module (`catdog.vision_learner.create_cnn`)."
    res = _lineno(sym, fname)
    mod = fname[:-3].replace('/', '.') + '.' if fname and fname.endswith('.py') else None
    if res is None and mod and sym.startswith(mod): res = _lineno(sym[len(mod):], fname)
    return res

_def_names_nbdev = _processors._def_names

def _def_names(cell, shown):
    "nbdev's `_def_names` (a `show_doc` name for each public definition of `cell` not shown yet), less those shown by their qualified name."
    return [nm for nm in _def_names_nbdev(cell, shown) if nm not in shown]

_docments._DocmentBase.__init__ = _init
_docments.DocmentText._fmt_param = _fmt_param_as_written
_docments.DocmentText.__str__ = _docments.DocmentText.__repr__ = _str_held
_doclinks._lineno = _lineno_qualified
_processors._def_names = _def_names

if __name__ == '__main__':
    import sys
    from nbdev.serve import proc_nbs
    proc_nbs(sys.argv[1], n_workers=int(sys.argv[3]), force=sys.argv[2] == 'True')
