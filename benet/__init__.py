"""BENet: a lightweight bottom-up framework for context-aware emotion recognition (notebook-driven, nbdev)

An open, notebook-driven implementation of **BENet** (ACIVS 2023), a lightweight *bottom-up* framework for
context-aware emotion recognition: one network looks at the whole image, finds every person (a center heatmap plus
box height/width maps) and predicts EMOTIC's 26 emotions for all of them at once through per-emotion *emotion maps*.

Modules:

- `benet.codec`: The target format, owned in one place: `encode` turns people (boxes + labels) into training targets, `decode` turns the network's maps back into people. Nothing else in benet knows how targets are laid out.
- `benet.convert`: EMOTIC's `Annotations.mat` → COCO-style JSON per split, the person-centric ("tdpc") files, HECO's CSV → the same person-centric schema, the EMOTIC+HECO merge, and a `Summary` of every count, fix and skip.
- `benet.data`: Person-centric records read from the converted JSON, the training and validation datasets (pre-transform → augmentation → `Codec.sample`), a seeded epoch-dependent sampler that also shards for data-parallel ranks, and fastai `DataLoaders` over plain PyTorch loaders.
- `benet.evaluate`: A run's split → predictions (saved, reusable without the model) → the paper's Tables 1-3 in `metrics.json`, per-category CSVs and figures; per-emotion thresholds calibrated on the validation split.
- `benet.experiments`: Run a batch of configurations with papermill (`train.ipynb` then `sweep.ipynb` per configuration, into `runs/<configuration>/`), and read every run folder back into the paper's three tables, per-category APs, IoU curves and training curves (`report.ipynb` → `runs/report.html`).
- `benet.export`: The eval network (detection and bottom-up emotion maps, both resolutions) as an ONNX file, and a parity check with onnxruntime.
- `benet.infer`: A trained BENet on images, folders and videos: people with boxes in original-image pixels, a detection score, the 26 emotion scores and the emotions above their thresholds; annotated images and videos beside the JSON.
- `benet.losses`: BENet's training objective as named parts — `hm`, `hw`, `bu`, `pc`, `bg` (+ the HECO parts, + `vad`) — so the trainer logs each one, and their weighted sum.
- `benet.metrics`: Emotion AP (scikit-learn's definition, vectorised), human-detection AP with stock pycocotools, and the IoU-threshold sweep of emotion mAP on detected people (the paper's Table 3).
- `benet.models`: The BENet network: an HRNet backbone from timm with the reference's attention block in every residual block, the two-resolution Det and BU heads, the PC and BG classification heads, the optional fusion head and HECO "mixed" layers; a timm-style registry of named variants; the reference's key names (its checkpoints load through `benet.weights`).
- `benet.optimize`: A faster eval-mode BENet on CPU that computes the same maps: only the Det and BU heads kept, BatchNorm folded into the convolutions, an attention block that does the same arithmetic in fewer passes, channels-last memory, and (optionally) `torch.compile` with frozen weights.
- `benet.synth`: A small, deterministic stand-in for EMOTIC and HECO, written in the *real* file formats (MATLAB v5 `Annotations.mat`, `HECO_Labels.csv`, JPEG images in the real folder layout), whose emotions are learnable by a small CNN and need both the person and the scene.
- `benet.topdown`: The EMOTIC two-stream network (Kosti et al.) as a baseline trained and scored in benet's own protocol: a body stream on each person's crop, a context stream on the whole image, fused into the 26 emotions; the same records, augmentation, fastai Learner, run folder and evaluation tables as BENet's configurations.
- `benet.train`: `train(params)`: codec, data, model, loss and a fastai `Learner` with Adam; the run folder (parameters, log, per-part history, TensorBoard, atomic checkpoints, status); exact resume; a stop on NaN/Inf naming the batch; data-parallel training under `torchrun`.
- `benet.transforms`: Pre-transforms (which head a training sample trains), the random affine and photometric augmentation of an image with its boxes, the inference resize and its inverse, and a robust image loader.
- `benet.viz`: What the network sees and says: the image with its predicted (and annotated) people, the detection heatmap and the emotion maps; and a training batch with its targets.
- `benet.vocab`: EMOTIC's 26 categories (the order is the channel order of every emotion map), the continuous VAD dimensions, HECO's 8 categories, how HECO maps onto EMOTIC, and the misspellings met in the wild."""

__version__ = "0.1.0"
