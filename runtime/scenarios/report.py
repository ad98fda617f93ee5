"""``scenario report RUN``: report.json and a self-contained report.html with charts.

The page needs nothing beside it: the charts are drawn with matplotlib (Agg, offscreen) as
inline SVG. Three charts: the key points against their limits (out-of-bounds stretches shaded,
the scenario's events as vertical lines), the event timeline (scenario events, trainee actions,
alarms, limits, expectations; each lane labelled, each kind its own marker shape, not only a
colour), and the score breakdown (each component's weighted share, penalties).
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Any

from runtime.scenarios.run_folder import RunFolder

MAX_CHART_POINTS = 3000
"""Points per line in a chart (the page stays small for an hour-long run)."""

LANES = (
    ("scenario", ("start", "trigger", "action", "end", "abort", "stopped"), "s"),
    ("to trainee", ("message", "hint"), "D"),
    ("trainee actions", ("command", "autopilot"), "^"),
    ("alarms", ("alarm",), "v"),
    ("limits", ("limit_out", "limit_back"), "o"),
    ("expectations", ("expectation_met", "expectation_missed", "expectation_unscored"), "P"),
    ("instructor", ("instructor", "paused", "resumed", "snapshot", "restore", "backtrack",
                    "freeze", "run", "speed"), "X"),
)


def build_report(run_dir: Path) -> dict[str, Any]:
    folder = RunFolder(run_dir)
    meta = folder.read_json("scenario.json")
    score = folder.read_json("score.json")
    samples = folder.read_json("samples.json")
    events = folder.events()
    summary = {}
    for point, values in samples.get("values", {}).items():
        vals = [v for v in values if v is not None]
        if vals:
            summary[point] = {"min": min(vals), "max": max(vals), "last": vals[-1]}
    actions = [e for e in events if e["kind"] in ("command", "autopilot")]
    return {"format": "twinstage.scenario-report/1", "run": str(run_dir), "scenario": meta,
            "score": score, "points": summary, "events": events, "trainee_actions": actions,
            "alarms": [e for e in events if e["kind"] == "alarm"]}


def write_report(run_dir: Path, out: Path | None = None) -> tuple[Path, Path]:
    import json

    report = build_report(run_dir)
    samples = RunFolder(run_dir).read_json("samples.json")
    target = Path(out) if out else Path(run_dir)
    target.mkdir(parents=True, exist_ok=True)
    json_path = target / "report.json"
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    html_path = target / "report.html"
    html_path.write_text(render_html(report, samples))
    return json_path, html_path


# -- charts ---------------------------------------------------------------------------------

def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "svg.fonttype": "none", "axes.edgecolor": "#555",
                         "axes.grid": True, "grid.color": "#ddd"})
    return plt


def chart_points(report: dict[str, Any], samples: dict[str, Any]) -> str:
    plt = _pyplot()
    meta = report["scenario"]
    limits = {}
    for lim in meta.get("limits", []):
        limits.setdefault(lim["point"], []).append(lim)
    points = list(dict.fromkeys([*limits, *meta.get("charts", [])]))
    points = [p for p in points if p in samples.get("values", {})] or \
        list(samples.get("values", {}))[:4]
    t = samples.get("t_s", [])
    step = max(1, len(t) // MAX_CHART_POINTS)  # a long run: every step-th sample is enough
    t = t[::step]
    fig, axes = plt.subplots(len(points), 1, figsize=(9, 1.9 * max(1, len(points))),
                             sharex=True, squeeze=False)
    triggers = [e for e in report["events"] if e["kind"] in ("trigger", "paused", "restore",
                                                             "backtrack")]
    for ax, point in zip(axes[:, 0], points, strict=True):
        ys = [float("nan") if v is None else v for v in samples["values"][point][::step]]
        ax.plot(t, ys, color="#222", linewidth=1.4, label=point)
        for lim in limits.get(point, []):
            for key, style in (("low", "--"), ("high", ":")):
                if lim.get(key) is not None:
                    ax.axhline(lim[key], color="#666", linestyle=style, linewidth=1,
                               label=f"{key} limit {lim[key]:g}")
                    if key == "low":
                        ax.fill_between(t, [lim[key]] * len(t), ys,
                                        where=[y < lim[key] for y in ys], color="#bbb",
                                        step="mid", label="out of bounds")
                    else:
                        ax.fill_between(t, ys, [lim[key]] * len(t),
                                        where=[y > lim[key] for y in ys], color="#bbb",
                                        step="mid")
        for ev in triggers:
            ax.axvline(ev["t_s"], color="#999", linewidth=0.8)
        ax.set_ylabel(point, rotation=0, ha="right", va="center")
        ax.legend(loc="best", fontsize=7, frameon=False)
    span = max([t[-1] if t else 1.0] + [1.0])
    last = -span
    for k, ev in enumerate(triggers):
        if ev["t_s"] - last < 0.08 * span:
            continue  # labels must not overlap; the lines are all drawn
        last = ev["t_s"]
        label = ev.get("id") if ev["kind"] == "trigger" else ev["kind"]
        axes[0, 0].annotate(str(label)[:20], (ev["t_s"], 1.0), xycoords=("data", "axes fraction"),
                            fontsize=7, va="bottom", xytext=(2, 2 + 8 * (k % 2)),
                            textcoords="offset points")
    axes[-1, 0].set_xlabel("scenario time (s)")
    fig.suptitle("Key points against their limits", x=0.01, ha="left")
    return _svg(fig)


def chart_timeline(report: dict[str, Any]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    span = max([e["t_s"] for e in report["events"]] + [1.0])
    labels = []
    for lane, (name, kinds, marker) in enumerate(LANES):
        evs = [e for e in report["events"] if e["kind"] in kinds]
        labels.append(name)
        if not evs:
            continue
        ax.scatter([e["t_s"] for e in evs], [lane] * len(evs), marker=marker, s=36,
                   color="#333", facecolors="none" if lane % 2 else "#333", zorder=3)
        last = -span
        for k, e in enumerate(evs):
            if e["t_s"] - last < 0.12 * span:
                continue  # no label on top of the last one: the events table has them all
            last = e["t_s"]
            ax.annotate(e["text"][:34], (e["t_s"], lane), textcoords="offset points",
                        xytext=(3, 5 if k % 2 == 0 else -11), fontsize=6.5, color="#333")
    ax.set_yticks(range(len(LANES)), labels)
    ax.set_ylim(-0.7, len(LANES) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("scenario time (s)")
    ax.set_title("Events, trainee actions and alarms", loc="left")
    return _svg(fig)


def chart_score(report: dict[str, Any]) -> str:
    plt = _pyplot()
    score = report["score"]
    rows = [r for r in score["components"] if r["weight"] > 0]
    total_w = sum(r["weight"] for r in rows) or 1.0
    names = [f"{r['kind']}: {r['id']}" for r in rows] + ["hints", "warnings"]
    got = [100 * r["weight"] * r["score"] / total_w for r in rows] + \
        [-score["hint_penalty"], -score["warning_penalty"]]
    full = [100 * r["weight"] / total_w for r in rows] + [0, 0]
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(names) + 1.2))
    y = range(len(names))
    ax.barh(y, full, color="none", edgecolor="#888", hatch="//", label="available")
    ax.barh(y, got, color="#444", label="earned (penalties below 0)")
    for i, (g, f) in enumerate(zip(got, full, strict=True)):
        ax.annotate(f"{g:.1f} / {f:.1f}" if f else f"{g:.1f}", (max(g, f, 0), i),
                    textcoords="offset points", xytext=(4, -3), fontsize=7)
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.axvline(0, color="#222", linewidth=0.8)
    ax.set_xlabel("points of 100")
    verdict = "ABORTED" if score["aborted"] else ("passed" if score["passed"] else "not passed")
    ax.set_title(f"Score {score['score']:.1f} / 100 ({verdict}; pass mark "
                 f"{score['pass_mark']:g})", loc="left")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return _svg(fig)


# -- page -----------------------------------------------------------------------------------

def render_html(report: dict[str, Any], samples: dict[str, Any]) -> str:
    meta = report["scenario"]
    score = report["score"]
    e = html.escape
    rows = "".join(
        f"<tr><td>{ev['t_s']:.1f}</td><td>{e(ev['kind'])}</td><td>{e(str(ev['text']))}</td></tr>"
        for ev in report["events"])
    comps = "".join(
        f"<tr><td>{e(r['kind'])}</td><td>{e(r['id'])}</td><td>{r['weight']:g}</td>"
        f"<td>{100 * r['score']:.0f} %</td><td>{e(_detail(r))}</td></tr>"
        for r in score["components"])
    verdict = "ABORTED" if score["aborted"] else ("passed" if score["passed"] else "not passed")
    charts = [chart_points(report, samples), chart_timeline(report), chart_score(report)]
    charts = [re.sub(r"<svg ", '<svg role="img" ', c, count=1) for c in charts]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(meta['name'])}: training report</title>
<style>
body {{ font-family: sans-serif; color: #222; background: #f4f4f4; margin: 2em; max-width: 70em; }}
section {{ background: #fff; padding: 1em 1.5em; margin-bottom: 1em; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; }}
.score {{ font-size: 2em; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{e(meta['name'])}</h1>
<section><p class="score">Score {score['score']:.1f} / 100: {verdict}</p>
<p>Base {score['base']:.1f}; hints {score['hints']} (&minus;{score['hint_penalty']:g}),
out-of-bounds warnings {score['warnings']} (&minus;{score['warning_penalty']:g});
pass mark {score['pass_mark']:g}; ended: {e(str(score.get('ended', '')))} after
{score.get('duration_s', 0):.0f} s of plant time.</p>
<p><b>Why this scenario:</b> {e(meta['rationale'])}</p>
<p>Run: {e(report['run'])}; autopilot: {e(str(meta.get('autopilot') or 'none (trainee)'))};
recording: {e(str(meta.get('recording') or 'none'))}</p></section>
<section><h2>Key points against their limits</h2>{charts[0]}</section>
<section><h2>Timeline</h2>{charts[1]}</section>
<section><h2>Score breakdown</h2>{charts[2]}
<table><tr><th>kind</th><th>id</th><th>weight</th><th>score</th><th>detail</th></tr>{comps}</table>
</section>
<section><h2>Events</h2><table><tr><th>time (s)</th><th>kind</th><th>what</th></tr>{rows}</table>
</section></body></html>
"""


def _detail(r: dict[str, Any]) -> str:
    if r["kind"] == "limit":
        bounds = " ".join(f"{k} {r[k]:g}" for k in ("low", "high") if r.get(k) is not None)
        worst = f", worst {r['worst']:.3g}" if r.get("worst") is not None else ""
        return f"{r['point']} {bounds}: {r['seconds']} s scored, {r['warnings']} warnings{worst}"
    when = f" at {r['t_s']:.0f} s" if r.get("t_s") is not None else ""
    return f"{r['text']}: {r['status']}{when}"
