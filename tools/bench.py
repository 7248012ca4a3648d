"""catdog benchmarks on this machine: seconds, and ratios to limits measured in the same run.

Sections (all by default; pick with --only):
- raw:        the model's own throughput at 224x224, batch 32 (random tensors), as PyTorch runs it and as catdog
              runs it (fold_bn + unpad_same + fuse_conv_act, fast_depthwise, reuse_heap): the latter is the limit
              for the rest, measured again right before and after each epoch section (the machine's speed drifts)
- loader:     images/second from file to normalised batch vs PIL decode+resize x cores (tools/bench_data.py)
- quickstart: the seed's three lines (from_paths, ConvLearner.pretrained(precompute=False), fit(0.01, 1))
              as one fresh process on a fresh copy of the sample: wall seconds, accuracy, peak memory
- epochs:     a frozen epoch, an unfrozen epoch and TTA, as a fraction of the raw throughput
- lesson:     seed 000 end to end (tools/lesson1_flow.py) as one process on a fresh copy

Numbers are written to bench_out/bench.json (the README's figures come from there)."""
import argparse, datetime, json, os, platform, shutil, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get('CATDOG_SAMPLE', ROOT.parent/'shared'/'data'/'dogscats'))
LIMITS = dict(quickstart_s=20., quickstart_acc=0.985, quickstart_mem_gb=2., throughput_ratio=0.85, lesson_s=600.)

def fresh_copy(tmp):
    "A fresh copy of the sample: no caches from an earlier run."
    dst = Path(tmp)/'dogscats'
    shutil.copytree(SAMPLE, dst)
    for p in dst.rglob('*'): os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return dst

def _tree_pss_kb(pid):
    "Proportional set size of `pid` and its descendants (shared pages counted once overall)."
    kids = {}
    for d in Path('/proc').iterdir():
        if not d.name.isdigit(): continue
        try: ppid = int((d/'stat').read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError): continue
        kids.setdefault(ppid, []).append(int(d.name))
    todo, total = [pid], 0
    while todo:
        p = todo.pop(); todo += kids.get(p, [])
        try:
            for line in Path(f'/proc/{p}/smaps_rollup').read_text().splitlines():
                if line.startswith('Pss:'): total += int(line.split()[1]); break
        except OSError: pass
    return total

def run_timed(cmd, **kw):
    "Run `cmd`; wall seconds, peak PSS of its process tree (GB), and its stdout."
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **kw)
    peak = [0]
    def watch():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_pss_kb(proc.pid)); time.sleep(1.)  # reading smaps costs CPU: once a second
    th = threading.Thread(target=watch, daemon=True); th.start()
    out, _ = proc.communicate()
    dt = time.time() - t0
    th.join()
    if proc.returncode: sys.exit(f'{cmd} failed ({proc.returncode}):\n{out[-3000:]}')
    return dt, peak[0]/1e6, out

QUICKSTART = """
import json, sys
from catdog.all import *
PATH, sz = sys.argv[1], 224
data = ImageClassifierData.from_paths(PATH, tfms=tfms_from_model(efficientnet_lite0, sz))
learn = ConvLearner.pretrained(efficientnet_lite0, data, precompute=False)
learn.fit(0.01, 1)
print(json.dumps(dict(accuracy=learn.recorder.values[-1][-1])))
"""

def raw_meter(bs=32, sz=224):
    """A function that measures, each time it is called, the images/second of the bare model on random tensors,
    inference (eval, no grad) and a training step (SGD), in bf16 + channels_last: as PyTorch runs it (`plain_*`),
    and as catdog's Learner runs it (the limits for the ratios: BatchNorm folded, TF padding unpadded and each
    convolution run with its ReLU6 as one oneDNN kernel for inference, `fast_depthwise` and the body's frozen
    BatchNorm folded into its convolutions (`fold_frozen_bn`) for training, and freed
    memory kept for the next batch by `reuse_heap`). The machine's speed drifts by up to a third within minutes,
    so `bench_epochs` measures the limits again next to each section it times.

    One plain training step runs first: the plain inference figure depends on what the process did before. Right
    at the start of a process the plain model ran at 90 to 107 images/s, and at 160 to 175 after one training
    step, in a process of its own that never used catdog's `reuse_heap` as this one does. Why is not known
    (raising glibc's malloc thresholds through the environment did not change the figure at the start)."""
    import torch
    from catdog.core import bf16_supported, reuse_heap
    from catdog.models import efficientnet_lite0, create_body, create_head, fold_bn
    from catdog.fastconv import fast_depthwise, plain_depthwise, unpad_same, fuse_conv_act, fold_frozen_bn, unfold_frozen_bn
    from torch import nn
    body = create_body(efficientnet_lite0)
    model = nn.Sequential(body, create_head(2560, 2)).to(memory_format=torch.channels_last)
    x = torch.randn(bs, 3, sz, sz).contiguous(memory_format=torch.channels_last); y = torch.randint(0, 2, (bs,))
    ac = lambda: torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16_supported('cpu'))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    fast = fuse_conv_act(unpad_same(fold_bn(model.eval())))
    def train_mode():
        model.train()
        for m in body.modules():
            if isinstance(m, nn.BatchNorm2d): m.eval()  # Lite0's bn_eval, as the Learner trains it
    def infer(m):
        with torch.no_grad(), ac(): m(x)
    def train():
        with ac(): loss = nn.functional.cross_entropy(model(x).float(), y)
        loss.backward(); opt.step(); opt.zero_grad()
    def rate(f, n):
        f(); t = time.time()
        for _ in range(n): f()
        return round(n*bs/(time.time() - t), 1)
    train_mode(); train()  # the process as it is after training (see above)
    def measure() -> dict:
        res = {}
        model.eval(); res['plain_inference_img_s'] = rate(lambda: infer(model), 6)
        train_mode(); res['plain_train_step_img_s'] = rate(train, 3)
        with reuse_heap():
            res['inference_img_s'] = rate(lambda: infer(fast), 6)
            train_mode(); fast_depthwise(model); fold_frozen_bn(model); train()  # the first backward of each shape picks its kernels
            for _ in range(3): train()  # the heap settles in a few steps
            res['train_step_img_s'] = rate(train, 3)
            unfold_frozen_bn(model); plain_depthwise(model)
        return res
    return measure

def bench_epochs(path, measure):
    """Frozen epoch, unfrozen epoch and TTA on the sample, against the raw throughput measured right before and
    right after each (their mean): `ratio` to the model as catdog runs it (the limit), `plain_ratio` to the model
    as PyTorch runs it."""
    from catdog.all import ImageClassifierData, ConvLearner, tfms_from_model, efficientnet_lite0, transforms_side_on
    data = ImageClassifierData.from_paths(path, tfms=tfms_from_model(efficientnet_lite0, 224, aug_tfms=transforms_side_on, max_zoom=1.1))
    n_trn, n_val = len(data.trn_ds), len(data.val_ds)
    learn = ConvLearner.pretrained(efficientnet_lite0, data, quiet=True)
    res = dict(n_trn=n_trn, n_val=n_val)
    limits = [measure()]
    def timed(name, f, ideal_s):
        t = time.time(); f(); dt = time.time() - t
        limits.append(measure())
        raw = {k: round((limits[-2][k] + limits[-1][k])/2, 1) for k in limits[-1]}
        ideal, plain = ideal_s(raw['inference_img_s'], raw['train_step_img_s']), ideal_s(raw['plain_inference_img_s'], raw['plain_train_step_img_s'])
        res[name] = dict(seconds=round(dt, 1), ideal_seconds=round(ideal, 1), ratio=round(ideal/dt, 3),
                         plain_ideal_seconds=round(plain, 1), plain_ratio=round(plain/dt, 3), raw=raw)
        print(f'  {name}: {dt:.1f}s; at raw throughput {ideal:.1f}s (as PyTorch runs it: {plain:.1f}s); ratio {ideal/dt:.2f} ({plain/dt:.2f}); raw {raw}', flush=True)
    timed('frozen_epoch', lambda: learn.fit(1e-2, 1), lambda inf, trn: (n_trn + n_val)/inf)
    timed('frozen_epoch_2', lambda: learn.fit(1e-2, 1), lambda inf, trn: (n_trn + n_val)/inf)
    learn.unfreeze()
    timed('unfrozen_epoch', lambda: learn.fit([1e-4, 1e-3, 1e-2], 1), lambda inf, trn: n_trn/trn + n_val/inf)
    timed('tta', lambda: learn.TTA(), lambda inf, trn: 5*n_val/inf)
    res['accuracy_after'] = round(learn.recorder.values[-1][-1], 4)
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='raw,loader,quickstart,epochs,lesson', help='comma-separated sections')
    ap.add_argument('--out', default=str(ROOT/'bench_out'))
    args = ap.parse_args()
    only = args.only.split(',')
    out = Path(args.out); out.mkdir(exist_ok=True)
    res = dict(date=datetime.date.today().isoformat(), machine=f'{platform.processor() or platform.machine()}, '
               f'{os.cpu_count()} cores, {platform.python_version()}', limits=LIMITS)
    prev = out/'bench.json'
    if prev.exists() and set(only) != set(ap.get_default('only').split(',')): res = {**json.loads(prev.read_text()), **res}
    if 'raw' in only or 'epochs' in only:
        print('raw model throughput (efficientnet_lite0, 224, bs 32) ...', flush=True)
        measure = raw_meter()
        res['raw'] = measure(); print(' ', res['raw'], flush=True)
    if 'loader' in only:
        sys.path.insert(0, str(ROOT/'tools'))
        from bench_data import bench_loader
        print('loader ...', flush=True)
        res['loader'] = bench_loader(SAMPLE)
    if 'quickstart' in only:
        print('quick start (fresh process, fresh copy) ...', flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = fresh_copy(tmp)
            dt, mem, stdout = run_timed([sys.executable, '-c', QUICKSTART, str(path)])
        acc = json.loads(stdout.strip().splitlines()[-1])['accuracy']
        res['quickstart'] = dict(seconds=round(dt, 1), accuracy=round(acc, 4), peak_memory_gb=round(mem, 2),
                                 time_ratio=round(dt/LIMITS['quickstart_s'], 3), memory_ratio=round(mem/LIMITS['quickstart_mem_gb'], 3))
        print(' ', res['quickstart'], flush=True)
    if 'epochs' in only:
        print('epochs and TTA vs raw throughput ...', flush=True)
        with tempfile.TemporaryDirectory() as tmp: res['epochs'] = bench_epochs(fresh_copy(tmp), measure)
    if 'lesson' in only:
        print('lesson 1 end to end (fresh process, fresh copy) ...', flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = fresh_copy(tmp)
            dt, mem, stdout = run_timed([sys.executable, str(ROOT/'tools'/'lesson1_flow.py'), str(path)])
        lesson = json.loads(stdout.strip().splitlines()[-1])
        res['lesson'] = dict(seconds=round(dt, 1), time_ratio=round(dt/LIMITS['lesson_s'], 3), peak_memory_gb=round(mem, 2),
                             final_tta_accuracy=lesson['final_tta_accuracy'], stages=lesson['stages'])
        print(' ', {k: v for k, v in res['lesson'].items() if k != 'stages'}, flush=True)
    prev.write_text(json.dumps(res, indent=1))
    print(f'\nwritten {prev}')
    print(summary(res))

def summary(res) -> str:
    "A markdown table of the figures, with their limits."
    rows = [('figure', 'this machine', 'limit', 'ratio')]
    if 'raw' in res:
        r = res['raw']
        rows += [('raw inference, as PyTorch runs it (img/s)', r.get('plain_inference_img_s', ''), '', ''),
                 ('raw training step, as PyTorch runs it (img/s)', r.get('plain_train_step_img_s', ''), '', ''),
                 ('raw inference, as catdog runs it (img/s): the limit', r['inference_img_s'], '', ''),
                 ('raw training step, as catdog runs it (img/s): the limit', r['train_step_img_s'], '', '')]
    if 'loader' in res and isinstance(res['loader'], dict):
        l = res['loader']; rows.append(('loader (img/s) vs PIL decode+resize x cores', round(l.get('loader_ips', 0), 1), round(l.get('limit_ips', 0), 1), round(l.get('ratio', 0), 3)))
    if 'quickstart' in res:
        q = res['quickstart']
        rows += [('quick start (s, whole process)', q['seconds'], LIMITS['quickstart_s'], q['time_ratio']),
                 ('quick start accuracy', q['accuracy'], LIMITS['quickstart_acc'], ''),
                 ('quick start peak memory (GB)', q['peak_memory_gb'], LIMITS['quickstart_mem_gb'], q['memory_ratio'])]
    if 'epochs' in res:
        for k in ('frozen_epoch', 'frozen_epoch_2', 'unfrozen_epoch', 'tta'):
            e = res['epochs'][k]
            rows.append((f'{k} (s) vs raw throughput as catdog runs it (measured next to it)', e['seconds'], e['ideal_seconds'], e['ratio']))
            if 'plain_ratio' in e: rows.append((f'{k} (s) vs raw throughput, as PyTorch runs it', e['seconds'], e['plain_ideal_seconds'], e['plain_ratio']))
    if 'lesson' in res:
        rows += [('lesson 1 end to end (s)', res['lesson']['seconds'], LIMITS['lesson_s'], res['lesson']['time_ratio']),
                 ('lesson 1 final TTA accuracy', res['lesson']['final_tta_accuracy'], '', '')]
    return '\n'.join('| ' + ' | '.join(str(c) for c in r) + ' |' + ('\n|---|---|---|---|' if i == 0 else '') for i, r in enumerate(rows))

if __name__ == '__main__': main()
