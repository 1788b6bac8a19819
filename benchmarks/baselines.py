"""Top-down baselines: an EMOTIC-style two-stream network, and the detector pipeline that feeds it."""
from __future__ import annotations
import torch
import torch.nn as nn
import torch.nn.functional as F
import timm

from benet.transforms import normalize
from benet.optimize import fuse_bn, to_channels_last
from benchmarks.harness import Cfg, seeded_bn, cl


class TwoStream(nn.Module):
    "EMOTIC-baseline-style top-down emotion network: ResNet-18 on the person crop + ResNet-18 on the whole image, fused → 26."
    def __init__(self):
        super().__init__()
        self.body = timm.create_model('resnet18', pretrained=False, num_classes=0)
        self.image = timm.create_model('resnet18', pretrained=False, num_classes=0)
        f = self.body.num_features + self.image.num_features
        self.fuse = nn.Sequential(nn.Linear(f, 256), nn.BatchNorm1d(256), nn.ReLU(inplace=True), nn.Linear(256, 26))

    def forward(self, crops, images):
        b, i = self.body(crops), self.image(images)
        if i.shape[0] != b.shape[0]: i = i.expand(b.shape[0], -1)     # image stream once per image: shared by everyone
        return torch.sigmoid(self.fuse(torch.cat([b, i], 1)))


class TopDown:
    "Top-down pipelines on one image: ground-truth boxes (image stream per person or once), or a detector first."
    def __init__(self, cfg: Cfg):
        from torchvision.models.detection import fasterrcnn_resnet50_fpn
        self.cfg = cfg
        torch.manual_seed(0)
        # the same treatment BENet gets: eval, BN folded where our rules find it, channels-last
        self.net = to_channels_last(fuse_bn(seeded_bn(TwoStream()).eval()))
        small = dict(rpn_pre_nms_top_n_test=100, rpn_post_nms_top_n_test=50) if cfg.tiny else {}   # defaults: 1000 proposals
        self.det = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=cfg.det_size, max_size=cfg.det_size, **small).eval()
        self.det = self.det.to(memory_format=torch.channels_last)

    def stage(self, img: torch.Tensor, boxes: torch.Tensor, per_person: bool):
        "The two-stream stage: crops (ROI-align crop + resize) at `crop` px and the image at `image_side` px, then the network."
        from torchvision.ops import roi_align
        x = normalize(img)[None]
        rois = torch.cat([torch.zeros(len(boxes), 1), boxes], 1)
        crops = roi_align(x, rois, output_size=(self.cfg.crop, self.cfg.crop), spatial_scale=1.0, sampling_ratio=2, aligned=True)
        whole = F.interpolate(x, size=(self.cfg.image_side, self.cfg.image_side), mode='bilinear', align_corners=False, antialias=True)
        if per_person: whole = whole.expand(len(boxes), -1, -1, -1)
        return self.net(cl(crops), cl(whole.contiguous()))

    def deployed(self, img: torch.Tensor, boxes: torch.Tensor):
        "Detector, then the two-stream network per person. Random-weight detections are arbitrary: the stage gets the GT boxes."
        self.det([img])
        return self.stage(img, boxes, per_person=True)

