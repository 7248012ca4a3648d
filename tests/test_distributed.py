"Multi-process training: the same script under `torch.distributed.run --nproc_per_node 2` (gloo, CPU) and as one process."
import json, os, random, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest
import torch

N_TRN, N_VAL = 100, 50  # per class, from the shared sample
SZ, BS = 128, 32        # BS is the total batch: each of 2 processes gets BS//2

SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import torch
    import catdog.learner, catdog.vision_learner
    from catdog.distributed import setup_distributed, rank0, world_size
    from catdog.learner import Callback, accuracy
    from catdog.data import ImageClassifierData
    from catdog.models import efficientnet_lite0, tfms_from_model
    from catdog.vision_learner import create_cnn, load_learner
    from catdog.tracker import SaveModelCallback

    data_path, out, bs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    rank, ws = setup_distributed()
    sys.stdout = open(out/f'stdout_{rank}.txt', 'w', buffering=1)  # what this rank prints (progress, tables)
    writes = []
    def spy(f):
        def _f(obj, fname): writes.append(str(fname)); return f(obj, fname)
        return _f
    catdog.learner.atomic_save = spy(catdog.learner.atomic_save)
    catdog.vision_learner.atomic_save = spy(catdog.vision_learner.atomic_save)

    class Shards(Callback):
        "Which training items this rank saw, per epoch."
        order = 0
        def __init__(self): self.idxs, self.n = [], []
        def before_train(self):
            dl = self.learn.data.train_dl
            self.idxs.append(dl.sampler.indices() if hasattr(dl, 'sampler') else None); self.n.append(0)
        def after_batch(self):
            if self.learn.training: self.n[-1] += len(self.learn.yb)

    torch.manual_seed(rank + 1)  # a different random head on each rank: DDP must start from rank 0's
    data = ImageClassifierData.from_paths(data_path, bs=bs, tfms=tfms_from_model(efficientnet_lite0, %d))
    learn = create_cnn(data, efficientnet_lite0, metrics=[accuracy], ps=0.25).to_distributed(seed=1)
    shards = Shards()
    learn.fit_one_cycle(1, 2e-3, callbacks=shards)
    frozen_vals = learn.recorder.values
    learn.save('stage1')
    learn.load('stage1')  # every rank reads the file rank 0 wrote
    learn.freeze_to(1)  # the body's second half trains too: DDP wraps it with the head, BatchNorm layers included
    learn.fit_one_cycle(1, slice(1e-5, 1e-3), callbacks=[shards, SaveModelCallback(monitor='accuracy', name='best')])  # saved by rank 0, loaded by all
    exp = learn.export()
    inf = load_learner(exp)
    probs, y = learn.get_preds()
    torch.save({k: v.float() for k, v in learn.model.state_dict().items()}, out/f'weights_{rank}.pt')
    (out/f'result_{rank}.json').write_text(json.dumps(dict(
        rank=rank, world_size=ws, is_rank0=rank0(), frozen=frozen_vals, unfrozen=learn.recorder.values,
        shards=shards.idxs, n_seen=shards.n, n_train=len(data.train_ds), writes=writes,
        get_preds_acc=float(accuracy(probs, y)), n_valid=len(y), export_classes=inf.data.classes,
        train_dl_restored=type(learn.data.train_dl).__name__)))
''' % SZ)

@pytest.fixture(scope='module')
def runs(sample_path, tmp_path_factory):
    "Train once with 2 processes and once with 1, on the same slice of the sample; the results of each rank."
    root = tmp_path_factory.mktemp('ddp')
    rng = random.Random(0)
    for split, n in (('train', N_TRN), ('valid', N_VAL)):
        for c in ('cats', 'dogs'):
            fs = sorted((sample_path/split/c).iterdir())
            (root/'data'/split/c).mkdir(parents=True)
            for f in rng.sample(fs, n): shutil.copy(f, root/'data'/split/c/f.name)
    (root/'train.py').write_text(SCRIPT)
    env = dict(os.environ, MPLBACKEND='Agg', CATDOG_HOME=str(root/'home'), OMP_NUM_THREADS='1')
    res = {}
    for nproc in (2, 1):
        data, out = root/f'data{nproc}', root/f'out{nproc}'
        shutil.copytree(root/'data', data); out.mkdir()
        if nproc == 1: cmd = [sys.executable, str(root/'train.py')]
        else: cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(nproc), str(root/'train.py')]
        p = subprocess.run(cmd + [str(data), str(out), str(BS // nproc)], env=env, cwd=root, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"{nproc} process(es) failed:\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}"
        res[nproc] = dict(data=data, out=out, ranks=[json.loads((out/f'result_{r}.json').read_text()) for r in range(nproc)])
    return res

def test_ranks_agree(runs):
    r0, r1 = runs[2]['ranks']
    assert (r0['rank'], r1['rank'], r0['world_size'], r1['world_size']) == (0, 1, 2, 2)
    assert r0['is_rank0'] and not r1['is_rank0']
    # whole-set numbers on both ranks: train loss, valid loss and accuracy, epoch by epoch
    assert r0['frozen'] == r1['frozen'] and r0['unfrozen'] == r1['unfrozen']
    assert len(r0['frozen']) == len(r0['unfrozen']) == 1
    # the gathered accuracy is the whole validation set's: what get_preds (no sharding) gives after the fit
    assert r0['get_preds_acc'] == pytest.approx(r0['unfrozen'][-1][2], abs=1e-6)
    assert r0['n_valid'] == 2 * N_VAL
    # DDP kept the models in step (rank 1 started from another random head)
    w0, w1 = (torch.load(runs[2]['out']/f'weights_{r}.pt') for r in (0, 1))
    assert w0.keys() == w1.keys()
    for k in w0: torch.testing.assert_close(w0[k], w1[k], rtol=1e-5, atol=1e-6, msg=k)
    assert r0['train_dl_restored'] == r1['train_dl_restored'] == 'DeviceLoader'

def test_shards(runs):
    r0, r1 = runs[2]['ranks']
    n = r0['n_train']
    assert n == 2 * N_TRN and len(r0['shards']) == 2
    for e, (a, b) in enumerate(zip(r0['shards'], r1['shards'])):
        assert len(a) == len(b) == n // 2 and not set(a) & set(b), f"epoch {e}: the ranks' shards overlap"
        assert sorted(a + b) == list(range(n))
    assert r0['shards'][0] != r0['shards'][1], "the second fit's epoch repeated the first fit's shuffle"
    assert r0['n_seen'] == r1['n_seen'] == [n // 2] * 2
    # one process: the whole training set each epoch, no sharding
    one = runs[1]['ranks'][0]
    assert one['world_size'] == 1 and one['shards'] == [None] * 2 and one['n_seen'] == [n] * 2

def test_same_accuracy_as_one_process(runs):
    "The lesson's case (pretrained body frozen, head trained) and the partly unfrozen one: 2 processes of bs 16 vs 1 of bs 32."
    for phase in ('frozen', 'unfrozen'):
        acc2, acc1 = runs[2]['ranks'][0][phase][-1][2], runs[1]['ranks'][0][phase][-1][2]
        assert acc1 > 0.85 and acc2 > 0.85, (phase, acc1, acc2)  # a pretrained body: far above chance (0.5)
        assert abs(acc2 - acc1) <= 0.08, (phase, acc1, acc2)    # 100 validation photos: a few images of noise

def test_only_rank0_writes(runs):
    r0, r1 = runs[2]['ranks']
    assert r1['writes'] == []
    assert [Path(f).name for f in r0['writes']] == ['stage1.pth', 'best.pth', 'export.pth']
    data = runs[2]['data']
    assert sorted(p.name for p in (data/'models').iterdir()) == ['best.pth', 'stage1.pth']
    assert (data/'export.pth').is_file()
    assert r0['export_classes'] == r1['export_classes'] == ['cats', 'dogs']
    out = runs[2]['out']
    shown0, shown1 = (out/'stdout_0.txt').read_text(), (out/'stdout_1.txt').read_text()
    assert 'valid_loss' in shown0 and 'accuracy' in shown0 and 'Better model found at epoch 0 with accuracy value' in shown0
    assert shown1.strip() == ''
