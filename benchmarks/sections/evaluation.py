"""Section: Evaluation speed (EMOTIC-sized test set)."""
from __future__ import annotations
import statistics, time

import numpy as np

from benchmarks.harness import Cfg, Models, timeit, fmt, table

TITLE = 'Evaluation speed (EMOTIC-sized test set)'


def synthetic_test_set(n_images: int, seed: int = 7):
    "An EMOTIC-test-sized ground truth and predictions in benet.evaluate's saved format (geometric people counts, mean ≈ 1.7)."
    rng = np.random.default_rng(seed)
    cnt = np.minimum(rng.geometric(.6, n_images), 8)
    P = int(cnt.sum())
    xy = rng.random((P, 2)) * 500; wh = 20 + rng.random((P, 2)) * 200
    gt = dict(image_keys=np.array([f'img{i}' for i in range(n_images)]), count=cnt, boxes=np.concatenate([xy, xy + wh], 1),
              labels=(rng.random((P, 26)) < .1).astype(np.uint8), person_ids=np.arange(P),
              width=np.full(n_images, 640), height=np.full(n_images, 480))
    dcount = np.clip(cnt + rng.integers(-1, 3, n_images), 0, 15)
    gidx = np.repeat(np.cumsum(cnt) - cnt, dcount) + (rng.random(dcount.sum()) * np.repeat(cnt, dcount)).astype(int)
    D = int(dcount.sum())
    preds = dict(det_count=dcount, det_boxes=(gt['boxes'][gidx] + rng.normal(0, 6, (D, 4))).astype(np.float32),
                 det_scores=rng.random(D).astype(np.float32), det_emotions=rng.random((D, 26)).astype(np.float32),
                 bu=rng.random((P, 26)).astype(np.float32), pc=rng.random((P, 26)).astype(np.float32),
                 bg=rng.random((n_images, 26)).astype(np.float32), image_keys=gt['image_keys'], person_ids=gt['person_ids'],
                 has_det=np.array(True), meta={})
    return gt, preds

def section_evaluation(cfg: Cfg, models: Models, echo) -> dict:
    from benet.evaluate import evaluate_predictions, table1, per_image
    from benet.metrics import detection_ap, emotion_map_sweep
    gt, preds = synthetic_test_set(cfg.eval_images)
    parts = {}
    t0 = time.perf_counter(); table1(preds, gt); parts['Table 1: emotion mAP (BU, PC, BG and their averages)'] = time.perf_counter() - t0
    g, d = per_image(gt, preds)
    t0 = time.perf_counter(); detection_ap(g, d); parts['Table 2: detection AP (pycocotools)'] = time.perf_counter() - t0
    t0 = time.perf_counter(); emotion_map_sweep(g, d); parts['Table 3: emotion mAP sweep, 10 IoU thresholds'] = time.perf_counter() - t0
    t = timeit({'all': lambda: evaluate_predictions(preds, gt)}, rounds=1 if cfg.tiny else 2, warmup=0)
    total = statistics.median(t['all'])
    echo(f"  {cfg.eval_images} images, {len(gt['boxes'])} people, {int(preds['det_count'].sum())} detections: {total:.2f} s")
    return dict(images=cfg.eval_images, people=int(len(gt['boxes'])), detections=int(preds['det_count'].sum()),
                seconds=total, all=t['all'], parts=parts)



def measure(c) -> dict:
    return section_evaluation(c.cfg, c.models, c.echo)


def markdown(s: dict, R: dict) -> list[str]:
    return [f"`evaluate_predictions` (Tables 1–3: emotion mAP with the PC/BG rows, COCO detection AP, the 10-threshold emotion mAP sweep) "
            f"on {s['images']} images, {s['people']} people, {s['detections']} detections of synthetic predictions: **{s['seconds']:.2f} s** "
            f"(median of {len(s['all'])}).", '',
            table([[k, fmt(v, 2)] for k, v in s['parts'].items()], ['part (timed alone)', 's'])]
