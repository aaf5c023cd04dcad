"""Published numbers beside ours (``memorybench.references``): the leaderboard's published
columns, and the tables and Markdown of the numbers matched and not matched."""

from __future__ import annotations

from typing import Any

from memorybench.errors import DataError
from memorybench.report.format import fmt, md_table, md_text, text
from memorybench.report.labels import Block


def attach_published(rows: list[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """Match every row with the reference table (``references.compare``) and fill the
    published columns; returns ``(matched, unmatched)``."""
    from memorybench import references

    try:
        refs = references.load()
    except DataError:  # a broken reference table must not cost the leaderboard
        return [], []
    for row in rows:
        row["scaled"] = row.get("scale") or ""
        matched, _ = references.compare([row], refs)
        if matched:
            row.update(
                published="; ".join(fmt(m["published"]) for m in matched),
                published_metric="; ".join(
                    m["metric"] + (f" ({m['unit']})" if m["unit"] else "") for m in matched),
                ours_in_paper_units="; ".join(fmt(m["ours"]) for m in matched),
                ratio="; ".join(fmt(m["ratio"], 3) for m in matched),
                reference="; ".join(f"{m['source']}, {m['where']}" for m in matched),
                match="; ".join(m["match"] for m in matched),
                differences=" | ".join(m["differences"] for m in matched),
            )
    return references.compare(rows, refs) if rows else ([], [])


SCALED_WARNING = ("SCALED RUN, NOT A REPRODUCTION: these runs are a reproduction profile scaled "
                  "down ({scale}); their numbers check the pipeline, they do not reproduce the "
                  "papers.")


def published_blocks(df) -> list[Block]:
    """The published numbers beside ours and the references no run matched (from
    ``leaderboard``'s ``df.attrs``): Markdown and HTML share them. Empty when neither has rows."""
    matched, unmatched = getattr(df, "attrs", {}).get("published", ([], []))
    blocks = []
    if matched:
        title = "Published numbers beside ours"
        if df.attrs.get("scale"):
            title += " (SCALED RUN)"
        header = ["task", "variant", "T", "model", "params", "seeds", "metric", "ours",
                  "published", "ours / published", "match", "source", "differences"]
        rows = [[text(m["task"]), text(m["variant"]) or "-", fmt(m["length"]),
                 text(m["model"]), fmt(m["params"]), fmt(m["n_seeds"]),
                 m["metric"] + (f" ({m['unit']})" if m["unit"] else ""), fmt(m["ours"]),
                 fmt(m["published"]), fmt(m["ratio"], 3), m["match"],
                 f"{m['source']}, {m['where']}", m["differences"]] for m in matched]
        blocks.append(Block(title, header, rows))
    if unmatched:
        header = ["task", "variant", "T", "model", "params", "metric", "published", "source"]
        rows = [[text(u["task"]), text(u["variant"]) or "-", fmt(u["length"]), text(u["model"]),
                 text(u["params"]), u["metric"] + (f" ({u['unit']})" if u.get("unit") else ""),
                 fmt(u["value"]), f"{u['source']}, {u['where']}"] for u in unmatched]
        blocks.append(Block("Published numbers with no matching run", header, rows))
    return blocks


PUBLISHED_NOTE = (
    "A run matches a published number when task, variant, length and model are the paper's and "
    "it measures the paper's metric (`memorybench references`). 'same': parameter count within "
    "10 % of the published one; 'approximate': not, or other data; 'scaled': a scaled-down run. "
    "The differences, the training budget always, are spelled out. References with no matching "
    "run are listed for the tasks these runs have.")


def published_markdown(df) -> str:
    """``published_blocks`` as Markdown sections ('' when there are none)."""
    blocks = published_blocks(df)
    if not blocks:
        return ""
    parts = []
    if df.attrs.get("scale"):
        parts += [f"**{md_text(SCALED_WARNING.format(scale=df.attrs['scale']))}**", ""]
    parts += [PUBLISHED_NOTE, ""]
    for b in blocks:
        parts += [f"## {md_text(b.title)}", "", md_table(b.header, b.rows), ""]
    return "\n".join(parts)
