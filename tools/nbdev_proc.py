"""nbdev's processing of the notebooks for the docs (`nbdev.serve.proc_nbs`), as tools/build_docs.py runs it:

    python tools/nbdev_proc.py NBS_DIR FORCE N_WORKERS

with a mend for the signature blocks of nbdev 2.4's `show_doc` (fastcore 1.12's `DocmentText`). nbdev's
workers are spawned processes that import this file again as their main module, so the mend is made at
import, in each of them. The notebooks and the package are untouched.

fastcore writes `**kwargs` as `kwargs:VAR_KEYWORD` (the kind of the parameter, taken for its annotation),
gives the comment on its line to the return annotation (`)->VisionLearner: # passed to the learner`),
and annotates a parameter whose default is None with a made-up `NoneType`. The site shows the signature
as the source has it: `**kwargs, # passed to the learner`, `*args`, `metrics=None`."""
from inspect import Parameter

from fastcore import docments as _docments

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

_docments._DocmentBase.__init__ = _init
_docments.DocmentText._fmt_param = _fmt_param_as_written

if __name__ == '__main__':
    import sys
    from nbdev.serve import proc_nbs
    proc_nbs(sys.argv[1], n_workers=int(sys.argv[3]), force=sys.argv[2] == 'True')
