"""Issue 19, decode at 512 px: the decode before the issue (every map built at the input size, `max_pool2d` NMS) against
`Codec.decode` (heatmap only at full size, sizes and emotions read at the k peaks), timed interleaved in one run.
Batch 1, Codec(512, (128, 256)), 26 emotions, projected to the input, random raw outputs. Prints a markdown table. Usage: `python benchmarks/decode_before_after.py [rounds] [threads]`.
`nbs/03_codec.ipynb` checks that both give the same detections."""
import datetime, os, statistics, sys
from pathlib import Path
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')            # as bench.py, before torch starts OpenMP
import torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).parent))
from harness import timeit, ratio
from benet.codec import Codec

def whole_maps_decode(cod, out, flip_out=None, k=15, nms_kernel=5, project=True):
    "The decode before issue 19 (float protocol, det_thr 0.1): the same work, whole maps."
    m = cod.maps(out, flip_out, project)
    hm, s = m['hm'][:, 0], m['stride']
    N, H, W = hm.shape
    peaks = hm * (F.max_pool2d(hm[:, None], nms_kernel, 1, nms_kernel // 2)[:, 0] == hm)
    score, ind = peaks.reshape(N, -1).topk(min(k, H * W), dim=1)
    x, y = ind % W, ind // W
    flat = hm.reshape(N, -1)
    at = lambda yy, xx: flat.gather(1, yy * W + xx)
    cx = (x + 0.5 + torch.where(at(y, (x + 1).clamp(max=W - 1)) > at(y, (x - 1).clamp(min=0)), 0.25, -0.25)) * s
    cy = (y + 0.5 + torch.where(at((y + 1).clamp(max=H - 1), x) > at((y - 1).clamp(min=0), x), 0.25, -0.25)) * s
    hw = m['hw'].reshape(N, 2, -1).gather(2, ind[:, None].expand(-1, 2, -1))
    bu = m['bu'].reshape(N, m['bu'].shape[1], -1).gather(2, ind[:, None].expand(-1, m['bu'].shape[1], -1)).transpose(1, 2)
    boxes = torch.stack([cx - hw[:, 1] / 2, cy - hw[:, 0] / 2, cx + hw[:, 1] / 2, cy + hw[:, 0] / 2], -1)
    keep = score > 0.1
    return [dict(boxes=boxes[i][keep[i]], scores=score[i][keep[i]], emotions=bu[i][keep[i]]) for i in range(N)]

if __name__ == '__main__':
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)      # 2 as bench.py
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    g = torch.Generator().manual_seed(0)
    cod = Codec(512, (128, 256))
    rnd = lambda: dict(hm=[torch.randn(1, 1, n, n, generator=g) * 3 for n in (128, 256)],
                       hw=[torch.rand(1, 2, n, n, generator=g) * 30 for n in (128, 256)],
                       bu=[torch.randn(1, 26, n, n, generator=g) for n in (128, 256)])
    o, fo = rnd(), rnd()
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, load average at start {os.getloadavg()[0]:.2f}, "
          f"{rounds} interleaved rounds, torch {torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY {os.environ['OMP_WAIT_POLICY']}\n")
    print('| k | flip test | before (ms) | now (ms) | speed-up (median of per-round ratios) |\n|---|---|---|---|---|')
    with torch.inference_mode():
        for k in (15, 32):
            for flip in (None, fo):
                t = timeit({'old': lambda: whole_maps_decode(cod, o, flip, k=k), 'new': lambda: cod.decode(o, flip, k=k)}, rounds, 2)
                print(f"| {k} | {'yes' if flip else 'no'} | {statistics.median(t['old']) * 1e3:.1f} | "
                      f"{statistics.median(t['new']) * 1e3:.1f} | {ratio(t, 'old', 'new'):.1f}× |")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
