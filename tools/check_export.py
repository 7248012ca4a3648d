"""Fail when `nbdev_export` would change the package: the notebooks are the source of `catdog/`."""
import filecmp, shutil, subprocess, sys, tempfile
from pathlib import Path

root = Path(__file__).resolve().parents[1]
lib = root/'catdog'

def snapshot(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))

def diff(a, b):
    "Relative paths that differ between two folder trees."
    cmp = filecmp.dircmp(a, b, ignore=['__pycache__'])
    out = [f for f in cmp.left_only + cmp.right_only + cmp.diff_files]
    for d, sub in cmp.subdirs.items(): out += [f'{d}/{f}' for f in diff(Path(a)/d, Path(b)/d)]
    return out

with tempfile.TemporaryDirectory() as tmp:
    before = Path(tmp)/'before'
    snapshot(lib, before)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_export')], cwd=root, check=True)
    changed = diff(before, lib)
    if changed:
        sys.exit('nbdev_export changed the package, so catdog/ and nbs/ disagree: '
                 + ', '.join(sorted(changed)) + '. Commit the exported files (they are now on disk).')
print('export in sync: catdog/ is what nbs/ exports')
