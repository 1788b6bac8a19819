"""The one renderer of the benchmarks' plots: every figure results.md shows, drawn from the run's results `R`."""
from __future__ import annotations
from pathlib import Path

import numpy as np


def plots(R: dict, out: Path) -> list[str]:
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    files = []
    s3 = R['sections'].get('people')
    if s3 and s3.get('seconds'):
        ppl = s3['people']
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for name, ys in s3['seconds'].items():
            ax.plot(ppl, np.array(ys) * 1e3, marker='o' if 'benet' in name else 's', ls='--' if 'derived' in name else '-',
                    lw=2.5 if 'benet' in name else 1.5, label=name)
        ax.set_xscale('log', base=2); ax.set_yscale('log'); ax.set_xticks(ppl); ax.set_xticklabels(ppl)
        ax.set_xlabel('people in the image'); ax.set_ylabel('latency per image (ms, log)')
        ax.set_title(f"Bottom-up vs top-down on CPU ({R['machine']['threads']} threads), {s3['settings']['input']} px")
        ax.grid(alpha=.3, which='both'); ax.legend(fontsize=7.5)
        fig.tight_layout(); fig.savefig(out / 'people_latency.png', dpi=110); plt.close(fig); files.append('people_latency.png')
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for name, r in s3['ratios'].items(): ax.plot(ppl, r, marker='o', label=name)
        ax.axhline(1, color='k', lw=1)
        ax.set_xscale('log', base=2); ax.set_yscale('log'); ax.set_xticks(ppl); ax.set_xticklabels(ppl)
        ax.set_xlabel('people in the image'); ax.set_ylabel('cost ratio benet / top-down (log; < 1: benet cheaper)')
        ax.set_title('Cost ratio per people count'); ax.grid(alpha=.3, which='both'); ax.legend(fontsize=7)
        fig.tight_layout(); fig.savefig(out / 'people_ratio.png', dpi=110); plt.close(fig); files.append('people_ratio.png')
    s2 = R['sections'].get('floor')
    if s2 and s2.get('steps'):
        # one y axis per panel: the configurations have different steps, and a shared axis showed the last panel's
        # step names on every panel's bars
        fig, axes = plt.subplots(1, len(s2['steps']), figsize=(11, 4.6))
        for ax, (kind, st) in zip(np.atleast_1d(axes), s2['steps'].items()):
            names = list(st)
            v = [st[n]['vs_floor'] for n in names]
            ax.barh(range(len(names)), v, color=['#999' if n.startswith('floor') else '#3a7' for n in names])
            ax.set_yticks(range(len(names))); ax.set_yticklabels(names, fontsize=7.5); ax.invert_yaxis()
            ax.axvline(1, color='k', lw=1); ax.set_title(f'{kind}: latency / hrnet_w32 floor'); ax.set_xlabel('× floor (median of per-round ratios)')
            for i, x in enumerate(v): ax.text(x, i, f' {x:.2f}', va='center', fontsize=7)
        fig.tight_layout(); fig.savefig(out / 'optimize_steps.png', dpi=110); plt.close(fig); files.append('optimize_steps.png')
    s10 = R['sections'].get('accuracy')
    if s10 and s10.get('measured'):
        from benchmarks.accuracy_cost import plot
        plot(s10['rows'], s10['latency'], out / 'accuracy_cost.png'); files.append('accuracy_cost.png')
    return files
