"""The figures (a)–(e) of ``gfgd report ec21`` (:mod:`proofs_check.reports.ec21`), each PNG and SVG,
every data curve tagged through :func:`proofs_check.reports.figures.curve` and counted in the JSON."""

from __future__ import annotations

import os

import numpy as np

from . import figures


def draw_all(out: dict, out_dir: str) -> dict:
    """Draw every figure of the report ``out`` into ``out_dir``; the per-figure JSON entries."""
    return {"ec21_loss": _draw_loss(out, out_dir), "ec21_distance": _draw_distance(out, out_dir),
            "ec21_curvature": _draw_curvature(out, out_dir), "ec21_sharpness": _draw_sharpness(out, out_dir),
            "ec21_a1": _draw_a1(out, out_dir)}


def _panels(out: dict, height: float = 3.6):
    plt = figures.pyplot()
    k = len(out["nets"])
    fig, axes = plt.subplots(1, k, figsize=(5.6 * k, height), squeeze=False)
    return fig, list(axes[0])


def _title(net: dict) -> str:
    return f"{net['net']} {'-'.join(map(str, net['widths']))} ({net['parameters']} params)"


def _save(fig, out_dir, name, reg) -> dict:
    paths = figures.save(fig, out_dir, name)
    return {"files": [os.path.basename(p) for p in paths], "curves": len(reg), "registry": reg}


def _draw_loss(out, out_dir):
    fig, axes = _panels(out)
    reg: list = []
    for ax, net in zip(axes, out["nets"]):
        figures.curve(ax, net["grid_t"], net["gf"]["loss"], f"{net['net']} GF", reg, label="GF", color="k", lw=2.2)
        for run_ in net["runs"]:
            lab = "GD η₀" if run_["r"] == 1 else f"GD η₀/{run_['r']}"
            figures.curve(ax, run_["t"], run_["loss"], f"{net['net']} {lab}", reg, label=f"{lab} = {run_['eta']:.3g}",
                          ls="--", lw=1)
        e = net["eos_run"]
        if e is not None:
            figures.curve(ax, e["t"], e["loss"], f"{net['net']} GD eos", reg,
                          label=f"GD {e['multiple']}η₀ (edge of stability)", ls=":", color="r")
        ax.set_yscale("log")
        ax.set_xlabel("t = kη")
        ax.set_title(_title(net), fontsize=10)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"loss ({out['settings']['loss']})")
    return _save(fig, out_dir, "ec21_loss", reg)


def _draw_distance(out, out_dir):
    fig, axes = _panels(out)
    reg: list = []
    for ax, net in zip(axes, out["nets"]):
        x = np.array(net["gf"]["distance_from_init"])
        for run_ in net["runs"]:
            lab = "η₀" if run_["r"] == 1 else f"η₀/{run_['r']}"
            line = figures.curve(ax, x[1:], run_["gf_gd_distance"][1:], f"{net['net']} GD {lab} vs GF", reg,
                                 label=f"‖θ_GD − θ_GF‖, {lab}")
            if run_["gd_gd_distance"] is not None:
                figures.curve(ax, x[1:], run_["gd_gd_distance"][1:], f"{net['net']} GD eta0 vs {lab}", reg,
                              label=f"‖θ_η₀ − θ_{lab}‖", ls=":", color=line.get_color())
        err = net["gf"]["error_estimate"]
        ax.axhline(err, color="k", lw=0.8, ls="-.")
        ax.text(x[1], err, "GF error estimate", fontsize=7, va="bottom")
        ax.set_yscale("log")
        ax.set_xlabel("distance from init ‖θ_GF(t) − θ(0)‖")
        ax.set_title(_title(net), fontsize=10)
        ax.legend(fontsize=6, ncol=2)
    axes[0].set_ylabel("distance at equal t")
    return _save(fig, out_dir, "ec21_distance", reg)


def _draw_curvature(out, out_dir):
    plt = figures.pyplot()
    k = len(out["nets"])
    fig, axes = plt.subplots(2, k, figsize=(5.6 * k, 5.6), squeeze=False)
    reg: list = []
    for j, net in enumerate(out["nets"]):
        c = net["curvature"]
        ax = axes[0][j]
        figures.curve(ax, c["t"], c["lambda_min"], f"{net['net']} lambda_min along GF", reg,
                      label="λ_min(∇²f) along GF", marker="o", ms=3)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(_title(net), fontsize=10)
        ax.legend(fontsize=7)
        ax = axes[1][j]
        figures.curve(ax, c["t"], c["negativity"], f"{net['net']} I- along GF", reg,
                      label="I₋(t) = ∫ max(0, −λ_min)", marker="o", ms=3)
        lo = np.array(c["negativity"]) - np.array(c["negativity_error"])
        hi = np.array(c["negativity"]) + np.array(c["negativity_error"])
        ax.fill_between(c["t"], lo, hi, alpha=0.2)
        ax.set_xlabel("t")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("λ_min")
    axes[1][0].set_ylabel("I₋(t)")
    return _save(fig, out_dir, "ec21_curvature", reg)


def _draw_sharpness(out, out_dir):
    fig, axes = _panels(out)
    reg: list = []
    for ax, net in zip(axes, out["nets"]):
        for key, s in net["sharpness"].items():
            lab = ("η₀" if key == "eta0" else f"{net['eos_run']['multiple']}η₀ (edge of stability)" if key == "eos"
                   else key.replace("eta0", "η₀"))
            figures.curve(ax, s["t"], s["eta_lambda_max"], f"{net['net']} eta lambda_max {key}", reg,
                          label=f"GD {lab}", marker="o", ms=3)
            t, v = np.array(s["t"]), np.array(s["eta_lambda_max"])
            if np.any(v > 2):
                ax.scatter(t[v > 2], v[v > 2], s=40, facecolors="none", edgecolors="r")
        ax.axhline(1, color="g", lw=0.8, ls="--")
        ax.axhline(2, color="r", lw=0.8, ls="--")
        ax.text(0, 1, "A1: ηλ_max ≤ 1", fontsize=7, va="bottom", color="g")
        ax.text(0, 2, "stability edge 2 (circled: above)", fontsize=7, va="bottom", color="r")
        ax.set_xlabel("t = kη")
        ax.set_title(_title(net), fontsize=10)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("η·λ_max(∇²f) along GD")
    return _save(fig, out_dir, "ec21_sharpness", reg)


def _draw_a1(out, out_dir):
    fig, axes = _panels(out)
    reg: list = []
    for ax, net in zip(axes, out["nets"]):
        a = net["a1"]
        figures.curve(ax, np.array(a["k"][1:]) * a["eta"], a["b"][1:], f"{net['net']} A1 bound b_k", reg,
                      label="A1 bound b_k (sampled m_k, M_k)", color="k")
        figures.curve(ax, np.array(a["k_measured"][1:]) * a["eta"], a["measured"][1:],
                      f"{net['net']} measured GF-GD distance", reg, label="measured ‖θ(kη₀) − θ_k‖", marker="o", ms=3)
        ax.set_yscale("log")
        ax.set_xlabel("t = kη₀")
        note = "" if a["applies"] else f" — A1 needs f C²: {a['kinks_crossed_by_gf']} kinks crossed"
        ax.set_title(f"{_title(net)}: tightness {a['tightness']:.2g}{note}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("distance")
    return _save(fig, out_dir, "ec21_a1", reg)
