"""The CUDA path, checked on a machine with a GPU (CI has none, so this is not part of `make test`).

Status: written on 2026-11-23 in a session that was lent no GPU. Its DDP script ran under torchrun on a
CPU (gloo, 98.0%); the CUDA steps below have not run yet: the first session with a GPU runs it and mends it.

    python tools/cuda_check.py DATA OUT

DATA has the lesson's layout (train/, valid/ with cats/ and dogs/). Each step asserts what it checks and adds its
figures to OUT/cuda_check.json; OUT/gpu_export.pth is a model exported on the GPU, for a CPU machine to load.

1. the seed's quick start (`from_paths`, `ConvLearner.pretrained(precompute=False)`, `fit(0.01, 1)`): the model on
   CUDA, bf16 autocast, pinned host memory in the loader; then the same with precision='fp32' (same seed): the fast
   path's accuracy within noise of the plain one
2. fp16 with loss scaling (GradScaler): `create_cnn`, `fit_one_cycle`, `lr_find` (weights restored), unfreeze,
   differential rates, `TTA`, `export`; `load_learner` of that file in a process that sees no GPU
3. `precompute=True` on the GPU
4. raw throughput of the model (bf16 + channels_last vs fp32), inference and training step
5. `catdog train` under `torchrun --nproc_per_node 1` (DistributedDataParallel over NCCL), and the clear error
   for more processes than GPUs
"""
import json, os, subprocess, sys, time
from pathlib import Path

import torch

DDP_SCRIPT = """
import json, sys
import torch, torch.distributed as dist
from catdog.all import ImageClassifierData, create_cnn, tfms_from_model, efficientnet_lite0, accuracy
from catdog.distributed import setup_distributed
rank, ws = setup_distributed()
data = ImageClassifierData.from_paths(sys.argv[1], bs=64, tfms=tfms_from_model(efficientnet_lite0, 224))
from catdog.learner import Callback
class Spy(Callback):
    "What wraps the trained part of the model while training."
    wrapper = None
    def after_batch(self):
        t = next(cb for cb in self.learn.cbs if type(cb).__name__ == 'DistributedTrainer')
        if self.learn.training and t.ddp is not None: Spy.wrapper = type(t.ddp).__name__
learn = create_cnn(data, efficientnet_lite0, metrics=[accuracy]).to_distributed(seed=1)
learn.fit_one_cycle(1, 1e-2, callbacks=Spy())
print(json.dumps(dict(backend=dist.get_backend(), world_size=ws, device=str(next(learn.model.parameters()).device),
                      ddp=Spy.wrapper == 'DistributedDataParallel', accuracy=learn.recorder.values[-1][-1])))
"""

def main(data:Path, out:Path):
    assert torch.cuda.is_available(), "no CUDA device"
    out.mkdir(parents=True, exist_ok=True)
    from catdog.all import (ImageClassifierData, ConvLearner, create_cnn, load_learner, tfms_from_model, efficientnet_lite0,
                            transforms_side_on, accuracy, MixedPrecision, DatasetType)
    rep = dict(torch=torch.__version__, gpu=torch.cuda.get_device_name(), bf16=torch.cuda.is_bf16_supported())
    save = lambda: (out/'cuda_check.json').write_text(json.dumps(rep, indent=1))
    print(rep, flush=True)

    # 1. quick start, default precision, then fp32 with the same seed
    for prec in ('auto', 'fp32'):
        torch.manual_seed(0)
        t = time.time()
        d = ImageClassifierData.from_paths(data, tfms=tfms_from_model(efficientnet_lite0, 224))
        learn = ConvLearner.pretrained(efficientnet_lite0, d, precompute=False, precision=prec)
        learn.fit(0.01, 1)
        torch.cuda.synchronize()
        mp = next(cb for cb in learn.cbs if isinstance(cb, MixedPrecision))
        p = next(learn.model.parameters())
        dl = learn.data.trn_dl._loader(learn.data.trn_dl._workers())
        rep[f'quickstart_{prec}'] = dict(seconds=round(time.time() - t, 1), accuracy=learn.recorder.values[-1][-1],
                                          param_device=str(p.device), autocast=str(mp.dtype), pin_memory=dl.pin_memory)
        print(rep[f'quickstart_{prec}'], flush=True); save()
        assert p.device.type == 'cuda' and dl.pin_memory
        assert mp.dtype == (None if prec == 'fp32' else torch.bfloat16)
    a, b = rep['quickstart_auto']['accuracy'], rep['quickstart_fp32']['accuracy']
    assert a >= 0.97 and abs(a - b) <= 0.015, (a, b)

    # 2. fp16 with a GradScaler: the v1 API end to end
    torch.manual_seed(0)
    d = ImageClassifierData.from_paths(data, tfms=tfms_from_model(efficientnet_lite0, 224, aug_tfms=transforms_side_on, max_zoom=1.1))
    learn = create_cnn(d, efficientnet_lite0, metrics=[accuracy], precision='fp16')
    sd0 = {k: v.clone() for k, v in learn.model.state_dict().items()}
    sugg = learn.lr_find()
    assert all(torch.equal(v, learn.model.state_dict()[k]) for k, v in sd0.items()), "lr_find moved the weights"
    learn.fit_one_cycle(1, 1e-2)
    mp = next(cb for cb in learn.cbs if isinstance(cb, MixedPrecision))
    assert mp.dtype is torch.float16 and mp.scaler is not None and 0 < mp.scaler.get_scale() < float('inf')
    head = learn.recorder.values[-1][-1]
    learn.unfreeze()
    learn.fit_one_cycle(1, slice(1e-5, 1e-3))
    unfrozen = learn.recorder.values[-1][-1]
    probs, y = learn.TTA()
    tta = float(accuracy(probs, y))
    learn.export(out/'gpu_export.pth')
    rep['fp16'] = dict(lr_find=[float(s) for s in sugg], head=head, unfrozen=unfrozen, tta=tta, scale=mp.scaler.get_scale())
    print(rep['fp16'], flush=True); save()
    assert head >= 0.95 and unfrozen >= 0.95 and tta >= 0.95, rep['fp16']
    cpu = subprocess.run([sys.executable, '-c', f'''
import json, torch
from catdog.all import load_learner, accuracy, DatasetType
inf = load_learner({str(out/'gpu_export.pth')!r})
c, i, p = inf.predict({str(sorted((data/'valid'/'dogs').iterdir())[0])!r})
print(json.dumps(dict(device=str(next(inf.model.parameters()).device), cuda=torch.cuda.is_available(), pred=str(c))))
'''], env=dict(os.environ, CUDA_VISIBLE_DEVICES=''), capture_output=True, text=True)
    assert cpu.returncode == 0, cpu.stderr[-3000:]
    rep['load_on_cpu'] = json.loads(cpu.stdout.strip().splitlines()[-1]); print(rep['load_on_cpu'], flush=True); save()
    assert rep['load_on_cpu']['device'] == 'cpu' and not rep['load_on_cpu']['cuda']

    # 3. precompute=True
    t = time.time()
    learn = ConvLearner.pretrained(efficientnet_lite0, d, precompute=True)
    learn.fit(1e-2, 2)
    rep['precompute'] = dict(seconds=round(time.time() - t, 1), accuracy=learn.recorder.values[-1][-1])
    print(rep['precompute'], flush=True); save()
    assert rep['precompute']['accuracy'] >= 0.97

    # 4. raw throughput
    from torch import nn
    from catdog.models import create_body, create_head
    rep['raw'] = {}
    for bs in (64, 256):
        for name, ac, cl in (('fp32', False, False), ('bf16_channels_last', True, True)):
            model = nn.Sequential(create_body(efficientnet_lite0), create_head(2560, 2)).cuda()
            x = torch.randn(bs, 3, 224, 224, device='cuda'); y = torch.randint(0, 2, (bs,), device='cuda')
            if cl: model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
            def infer():
                with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16, enabled=ac): model(x)
            def train():
                with torch.autocast('cuda', dtype=torch.bfloat16, enabled=ac): loss = nn.functional.cross_entropy(model(x).float(), y)
                loss.backward(); opt.step(); opt.zero_grad()
            for what, f, mode in (('inference', infer, 'eval'), ('train_step', train, 'train')):
                getattr(model, mode)()
                for _ in range(3): f()
                torch.cuda.synchronize(); t = time.time()
                for _ in range(10): f()
                torch.cuda.synchronize()
                rep['raw'][f'{what}_{name}_bs{bs}_img_s'] = round(10*bs/(time.time() - t))
    print(rep['raw'], flush=True); save()

    # 5. DDP over NCCL under torchrun: a v1 fit, then `catdog train`; then 2 processes on 1 GPU
    run = [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1', '--master_addr', '127.0.0.1', '--master_port', '29533']
    (out/'ddp.py').write_text(DDP_SCRIPT)
    p = subprocess.run(run + ['--nproc_per_node', '1', str(out/'ddp.py'), str(data)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    rep['ddp_fit'] = json.loads(p.stdout.strip().splitlines()[-1]); print(rep['ddp_fit'], flush=True); save()
    assert rep['ddp_fit']['backend'] == 'nccl' and rep['ddp_fit']['ddp'] and rep['ddp_fit']['accuracy'] >= 0.95
    args = ['-m', 'catdog.cli', 'train', str(data), '--epochs', '1', '--unfreeze-epochs', '1', '--tta', '--out', str(out/'cli.pth')]
    t = time.time()
    p = subprocess.run(run + ['--nproc_per_node', '1'] + args, capture_output=True, text=True)
    rep['cli_torchrun'] = dict(rc=p.returncode, seconds=round(time.time() - t, 1), stdout=p.stdout[-1200:])
    print(p.stdout[-3000:], p.stderr[-3000:], flush=True); save()
    assert p.returncode == 0 and (out/'cli.pth').is_file()
    if torch.cuda.device_count() == 1:
        p = subprocess.run(run + ['--nproc_per_node', '2', str(out/'ddp.py'), str(data)], capture_output=True, text=True)
        rep['two_procs_one_gpu'] = dict(rc=p.returncode, err=[l for l in p.stderr.splitlines() if 'LOCAL_RANK' in l][:2])
        print(rep['two_procs_one_gpu'], flush=True); save()
        assert p.returncode != 0 and rep['two_procs_one_gpu']['err']
    print('all CUDA checks passed', flush=True)

if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
