"""Execute notebooks in place and save their outputs (plots, tables), so the docs site shows them.

`nbdev_test` runs notebooks but keeps no outputs; the docs render the outputs saved in `nbs/`. Run this
after changing a notebook whose outputs matter (the course notebooks, plots in library notebooks):
    python tools/run_nbs.py nbs/90_lesson1.ipynb
Cells run from the notebook's folder, as nbdev_test runs them; the first error stops and is reported."""
import argparse, os, time
from pathlib import Path
os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

def run_nb(fn):
    fn = Path(fn).resolve()
    nb = read_nb(fn)
    cwd = os.getcwd()
    os.chdir(fn.parent)
    t = time.time()
    try:
        sh = CaptureShell(mpl_format='png')
        sh.run_all(nb, exc_stop=True)
    finally: os.chdir(cwd)
    write_nb(nb, fn)
    print(f'{fn.name}: ran in {time.time() - t:.0f}s, outputs saved')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('nbs', nargs='+')
    for f in ap.parse_args().nbs: run_nb(f)
