"""How fast does catdog's loader turn image files into normalised batches, against what PIL alone can do?

    python tools/bench_data.py [PATH] [--sz 224] [--bs 64] [--num_workers 2]

The limit: JPEG decode (draft mode) + resize of the short side to `sz`, one file after another in one
process, times the number of workers. The loader: files -> normalised float `sz x sz` batches with
`num_workers` worker processes (validation transforms: resize + centre crop), over train+valid.
Numbers on a shared machine are rough; the ratio, measured in the same run, is what to look at.
"""
import argparse, os, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from catdog.data import DeviceLoader, ImageDataset
from catdog.images import get_image_files, open_image
from catdog.transforms import imagenet_stats, resize_short, tfms_from_stats

def _files(path):
    path = Path(path)
    return get_image_files(path/'train') + get_image_files(path/'valid')

def bench_limit(fnames, sz=224) -> float:
    "Images/second of PIL decode (draft) + short-side resize alone, in this one process."
    t = time.perf_counter()
    for f in fnames: resize_short(open_image(f, sz), sz)
    return len(fnames)/(time.perf_counter() - t)

def _decode_resize(args):
    fnames, sz = args
    for f in fnames: resize_short(open_image(f, sz), sz)
    return len(fnames)

def bench_limit_parallel(fnames, sz=224, n_proc=2) -> float:
    "Images/second of the same work split over `n_proc` processes at once (what the machine gives right now)."
    from concurrent.futures import ProcessPoolExecutor
    chunks = [(fnames[i::n_proc], sz) for i in range(n_proc)]
    with ProcessPoolExecutor(n_proc) as ex:
        list(ex.map(_decode_resize, [(c[:2], sz) for c, _ in chunks]))  # start the processes first
        t = time.perf_counter()
        n = sum(ex.map(_decode_resize, chunks))
    return n/(time.perf_counter() - t)

def bench_loader(path, # dataset folder with train/ and valid/
                 sz:int=224, bs:int=64, num_workers:int=2, epochs:int=2) -> dict:
    "Images/second from file to normalised `sz x sz` batch with `num_workers` workers, and the PIL limit."
    fnames = _files(path)
    _, val_tfms = tfms_from_stats(imagenet_stats, sz)
    ds = ImageDataset(fnames, [0]*len(fnames), ['x'], val_tfms, val_tfms.norm)
    dl = DeviceLoader(ds, bs=bs, num_workers=num_workers, device='cpu')
    rates = []
    for _ in range(epochs):  # the first pass includes starting the (persistent) workers
        t = time.perf_counter(); n = 0
        for x, _ in dl: n += len(x)
        rates.append(n/(time.perf_counter() - t))
    limit1 = bench_limit(fnames[:300], sz)
    limit_par = bench_limit_parallel(fnames, sz, max(1, num_workers))
    res = dict(n_images=len(fnames), sz=sz, bs=bs, num_workers=num_workers,
               loader_ips=rates[-1], loader_first_epoch_ips=rates[0], limit_ips_1proc=limit1,
               limit_ips=limit1*max(1, num_workers), limit_ips_parallel=limit_par)
    res['ratio'] = res['loader_ips']/res['limit_ips']
    res['ratio_parallel'] = res['loader_ips']/limit_par
    return res

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('path', nargs='?', default=os.environ.get('CATDOG_SAMPLE', str(Path(__file__).resolve().parents[2]/'shared'/'data'/'dogscats')))
    p.add_argument('--sz', type=int, default=224); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--num_workers', type=int, default=2)
    a = p.parse_args()
    r = bench_loader(a.path, a.sz, a.bs, a.num_workers)
    n = r['n_images']
    print(f"{n} images, sz={r['sz']}, bs={r['bs']}, {r['num_workers']} workers")
    print(f"PIL decode+resize, 1 process : {r['limit_ips_1proc']:7.1f} img/s ({n/r['limit_ips_1proc']:5.2f} s per pass)")
    print(f"limit x {max(1, r['num_workers'])} cores               : {r['limit_ips']:7.1f} img/s ({n/r['limit_ips']:5.2f} s per pass)")
    print(f"loader (steady epoch)        : {r['loader_ips']:7.1f} img/s ({n/r['loader_ips']:5.2f} s per pass)")
    print(f"loader (first epoch)         : {r['loader_first_epoch_ips']:7.1f} img/s ({n/r['loader_first_epoch_ips']:5.2f} s per pass)")
    print(f"limit run in {max(1, r['num_workers'])} processes at once : {r['limit_ips_parallel']:7.1f} img/s ({n/r['limit_ips_parallel']:5.2f} s per pass)")
    print(f"ratio loader / (limit x cores): {r['ratio']:.2f}  (goal >= 0.90)")
    print(f"ratio loader / parallel limit : {r['ratio_parallel']:.2f}  (the same, against what the shared machine gave in this run)")
