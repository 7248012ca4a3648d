"""The `catdog` command line, run as real subprocesses on a small slice of the Dogs vs Cats sample.

One model is trained (module fixture) and then evaluated, used for predictions and fed bad input.
Each bad input must give exactly one `catdog: error:` line on stderr, a non-zero exit and no traceback.
"""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

N_TRN, N_VAL, SZ = 80, 20, 128  # per class
CLASSES = ['cats', 'dogs']


def catdog(*args, cwd=None, timeout=600):
    "Run `python -m catdog.cli *args`; the `CompletedProcess` with text stdout/stderr."
    env = dict(os.environ, MPLBACKEND='Agg')
    return subprocess.run([sys.executable, '-m', 'catdog.cli', *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def assert_one_error(r, *names):
    "Exactly one `catdog: error:` line on stderr naming each of `names`, a non-zero exit, no traceback."
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith('catdog: error: '), r.stderr
    assert 'Traceback' not in r.stderr + r.stdout
    for n in names: assert str(n) in lines[0], (n, lines[0])


@pytest.fixture(scope='module')
def work(sample_path, tmp_path_factory) -> Path:
    "A temp dir with `data/` (a copy of the first N_TRN/N_VAL photos of each class) and a trained model."
    root = tmp_path_factory.mktemp('cli')
    for split, n in (('train', N_TRN), ('valid', N_VAL)):
        for c in CLASSES:
            d = root/'data'/split/c
            d.mkdir(parents=True)
            for f in sorted((sample_path/split/c).iterdir())[:n]: shutil.copy(f, d/f.name)
    return root


@pytest.fixture(scope='module')
def trained(work):
    "`(model file, completed train run)`: 1 precomputed + 2 augmented head epochs at sz 128, with TTA."
    model = work/'models'/'lite0.pth'
    # 80 photos a class and 2 augmented epochs: with 40 and 1 (6 SGD steps) accuracy once came out at 0.725
    r = catdog('train', work/'data', '--sz', SZ, '--bs', 32, '--epochs', 2, '--lr', 1e-2, '--tta',
               '--num-workers', 1, '--seed', 0, '--out', model, cwd=work)
    assert r.returncode == 0, r.stderr
    return model, r


def test_train(trained):
    model, r = trained
    assert model.is_file() and model.stat().st_size > 1_000_000  # the weights of efficientnet_lite0 are in it
    res = last_json(r.stdout)
    assert res['n'] == 2*N_VAL and res['tta'] is True and res['classes'] == CLASSES
    assert res['accuracy'] > 0.75, res  # chance is 0.5; a pretrained lite0 scores about 0.9 here
    assert 'train_loss' in r.stdout and 'valid_loss' in r.stdout  # the epoch table
    assert f"validation accuracy (TTA): {res['accuracy']:.4f}" in r.stdout
    assert 'Traceback' not in r.stderr


def test_eval_matches_predict(trained, work):
    model, _ = trained
    r = catdog('eval', model, work/'data'/'valid', cwd=work)
    assert r.returncode == 0, r.stderr
    res = last_json(r.stdout)
    assert res['n'] == 2*N_VAL
    assert {k: v['n'] for k, v in res['per_class'].items()} == {c: N_VAL for c in CLASSES}
    assert res['accuracy'] == pytest.approx(res['correct']/res['n'])
    assert res['correct'] == sum(res['confusion'][i][i] for i in range(2)) == sum(v['correct'] for v in res['per_class'].values())
    assert sum(map(sum, res['confusion'])) == 2*N_VAL
    assert res['accuracy'] > 0.75
    assert 'confusion matrix' in r.stdout

    # predict on the same folder, same batches: the same answers, so the same accuracy
    p = catdog('predict', model, work/'data'/'valid', '--json', cwd=work)
    assert p.returncode == 0, p.stderr
    preds = [json.loads(l) for l in p.stdout.strip().splitlines()]
    assert len(preds) == 2*N_VAL
    right = sum(Path(d['file']).parent.name == d['class'] for d in preds)
    assert right == res['correct']
    for d in preds:
        assert d['class'] in CLASSES and sum(d['probs'].values()) == pytest.approx(1, abs=1e-4)
        assert d['prob'] == max(d['probs'].values()) >= 0.5

    # a folder with one class of the model's two is a fair question
    only_cats = work/'only_cats'
    shutil.copytree(work/'data'/'valid'/'cats', only_cats/'cats')
    r = catdog('eval', model, only_cats, cwd=work)
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)['n'] == N_VAL and last_json(r.stdout)['correct'] == res['per_class']['cats']['correct']


def test_predict_plain(trained, work):
    model, _ = trained
    one = sorted((work/'data'/'valid'/'dogs').iterdir())[0]
    r = catdog('predict', model, one, work/'data'/'valid'/'cats', cwd=work)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 + N_VAL
    assert lines[0].split('\t')[0] == str(one)
    for l in lines:
        f, c, p = l.split('\t')
        assert Path(f).is_file() and c in CLASSES and 0.5 <= float(p) <= 1
    assert sum(l.split('\t')[1] == 'cats' for l in lines[1:]) > N_VAL//2


def test_verify(work):
    d = work/'verify'
    shutil.copytree(work/'data'/'valid', d)
    cut = sorted((d/'cats').iterdir())[3]
    cut.write_bytes(cut.read_bytes()[:2000])  # a truncated JPEG: the header is fine, the pixels stop
    empty = d/'dogs'/'empty.jpg'; empty.write_bytes(b'')
    r = catdog('verify', d)
    assert r.returncode == 1
    listed = r.stdout.strip().splitlines()[:-1]
    assert sorted(listed) == sorted([str(cut), str(empty)])
    assert f"2 of {2*N_VAL + 1} images cannot be read" in r.stdout
    assert catdog('verify', d, '--delete').returncode == 1
    assert not cut.exists() and not empty.exists()
    r = catdog('verify', d)
    assert r.returncode == 0 and f"all {2*N_VAL - 1} images can be read" in r.stdout


def test_help_and_script():
    r = catdog('--help')
    assert r.returncode == 0 and all(c in r.stdout for c in ('train', 'eval', 'predict', 'verify'))
    script = Path(sys.executable).parent/'catdog'
    assert script.is_file(), "the console script is missing: pip install -e ."
    r = subprocess.run([str(script), 'train', '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and '--unfreeze-epochs' in r.stdout and '--tta' in r.stdout


def test_train_under_torchrun(work):
    "`torchrun -m catdog.cli train`: two processes train together; rank 0 alone prints and writes the model."
    model = work/'ddp'/'model.pth'
    env = dict(os.environ, MPLBACKEND='Agg')
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        '-m', 'catdog.cli', 'train', work/'data', '--sz', '64', '--bs', '16', '--epochs', '0',
                        '--num-workers', '0', '--out', model], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert '; 2 processes' in r.stdout and 'Traceback' not in r.stderr
    assert r.stdout.count('train_loss') == 1 and r.stdout.count('"accuracy"') == 1  # one table, one result: rank 0's
    res = last_json(r.stdout)
    assert res['n'] == 2*N_VAL and model.is_file() and res['model'] == str(model)
    assert [p.name for p in model.parent.iterdir()] == ['model.pth']  # no temp file left by a second writer


# --- bad input: one line, non-zero exit, no traceback

def test_bad_arguments(work):
    data = work/'data'
    cases = [(('train', data, '--out', work/'m.pth', '--sz', 'big'), ['--sz', 'big']),
             (('train', data, '--out', work/'m.pth', '--lr', '-1'), ['--lr', '-1']),
             (('train', data, '--out', work/'m.pth', '--epochs', '2.5'), ['--epochs']),
             (('train', data), ['--out']),
             (('eval', work/'m.pth'), ['DATA']),
             (('predict', work/'m.pth', data, '--colour'), ['--colour']),
             (('frobnicate',), ['frobnicate']),
             ((), ['COMMAND'])]
    for args, names in cases: assert_one_error(catdog(*args), *names)
    assert catdog('train', data, '--out', work/'m.pth', '--sz', 'big').returncode == 2  # argparse's status


def test_bad_paths(work):
    data = work/'data'
    assert_one_error(catdog('train', work/'nowhere', '--out', work/'m.pth'), 'nowhere')
    no_valid = work/'no_valid'
    shutil.copytree(data/'train', no_valid/'train')
    assert_one_error(catdog('train', no_valid, '--out', work/'m.pth', '--sz', 64), 'valid', no_valid)
    assert_one_error(catdog('train', data, '--out', data), '--out', data)  # a folder, caught before training
    assert_one_error(catdog('train', data, '--out', work/'m.pth', '--arch', 'nosuchnet'), 'nosuchnet')
    assert_one_error(catdog('verify', work/'nowhere'), 'nowhere')
    assert_one_error(catdog('eval', work/'missing.pth', data/'valid'), 'missing.pth')


def test_train_on_class_folders(work):
    "Photos in one folder per class, no train/valid: an error that says what to add, then `--valid-pct` splits them."
    flat = work/'flat'
    for c in CLASSES: shutil.copytree(work/'data'/'train'/c, flat/c)
    assert_one_error(catdog('train', flat, '--out', work/'flat.pth'), 'no train/ folder', flat, 'cats, dogs', '--valid-pct 0.2')
    r = catdog('train', flat, '--valid-pct', 0.25, '--sz', SZ, '--epochs', 0, '--num-workers', 1, '--seed', 0,
               '--out', work/'flat.pth', cwd=work)
    assert r.returncode == 0, r.stderr
    res = last_json(r.stdout)
    assert res['n'] == 2*N_TRN//4 and res['classes'] == CLASSES, res  # a quarter of each class held out
    assert f'cats {N_TRN*3//4}/{N_TRN//4}, dogs {N_TRN*3//4}/{N_TRN//4}' in r.stdout
    assert res['accuracy'] > 0.75, res  # chance is 0.5
    assert_one_error(catdog('train', flat, '--out', work/'flat.pth', '--valid-pct', '1'), '--valid-pct', "'1'")
    # eval --valid-pct scores the photos train held out: the same count per class, the same answers within bf16 noise
    r = catdog('eval', work/'flat.pth', flat, '--valid-pct', 0.25, cwd=work)
    assert r.returncode == 0, r.stderr
    ev = last_json(r.stdout)
    assert {k: v['n'] for k, v in ev['per_class'].items()} == {c: N_TRN//4 for c in CLASSES}
    assert abs(ev['correct'] - round(res['accuracy']*res['n'])) <= 1, (ev, res)
    # without it, every photo of the class folders; the tmp/ folder train wrote into flat/ is not a class
    assert (flat/'tmp').is_dir()
    r = catdog('eval', work/'flat.pth', flat, cwd=work)
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)['n'] == 2*N_TRN


def test_bad_model_files(trained, work):
    model, _ = trained
    junk = work/'junk.pth'; junk.write_bytes(b'\x80\x7e' + os.urandom(4094))  # starts like a pickle: torch warns before failing
    half = work/'half.pth'; half.write_bytes(model.read_bytes()[:model.stat().st_size//2])
    for m in (junk, half): assert_one_error(catdog('eval', m, work/'data'/'valid'), m)
    assert_one_error(catdog('predict', work/'models', work/'data'/'valid'), 'models')  # a folder is no model


def test_classes_do_not_match(trained, work):
    model, _ = trained
    birds = work/'birds'
    shutil.copytree(work/'data'/'valid'/'cats', birds/'birds')
    assert_one_error(catdog('eval', model, birds), "'birds'", 'cats, dogs')


def test_unreadable_images(trained, work):
    model, _ = trained
    d = work/'broken'
    shutil.copytree(work/'data'/'valid', d)
    bad = sorted((d/'dogs').iterdir())[5]
    bad.write_bytes(bad.read_bytes()[:1500])
    # in a loader worker process: the worker's traceback must not leak out
    assert_one_error(catdog('eval', model, d, '--num-workers', 1), bad, 'catdog verify')
    assert_one_error(catdog('predict', model, bad, '--num-workers', 0), bad)
    assert_one_error(catdog('predict', model, work/'nope.jpg'), 'nope.jpg')
