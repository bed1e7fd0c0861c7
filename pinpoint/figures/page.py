"""The report page of one configuration: one self-contained HTML file, opened offline in any browser.

It holds the summary table (95% intervals, an arrow for the better direction), each model's paired
difference to the base, the plots (head heatmap, figures with intervals, pressure curve, tuning
curves), the reply openings after the challenge per model, and a transcript browser: pick two models
and a suite, keep only the items whose verdict differs, read the replies side by side. No server,
no framework: the transcripts travel inside the page as JSON and forty lines of plain JavaScript
filter them.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter

from pinpoint.figures import results, tables
from pinpoint.paths import Paths

BROWSED = ("are_you_sure", "are_you_sure_heldout", "pressure", "answer", "general")
TEXT = 600  # characters kept of each text in the page


def _md_table(markdown: str) -> str:
    """A markdown table (tables.markdown_table's) as an HTML table."""
    lines = [line.strip().strip("|").split("|") for line in markdown.splitlines() if line.startswith("|")]
    if not lines:
        return ""
    head, body = lines[0], lines[2:]
    cells = "".join(f"<th>{html.escape(c.strip())}</th>" for c in head)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{rows}</tbody></table>"


def _notes(results: dict) -> str:
    """Why each n/a is one, as a list under the table."""
    lines = [line[2:] for line in tables.invalid_notes(results).splitlines()]
    return '<ul class="note">' + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>" if lines else ""


def _img(png: bytes | None, caption: str) -> str:
    """One figure, as wide as the page allows (a figure answers one question: it must be read, not glimpsed)."""
    if not png:
        return ""
    data = base64.b64encode(png).decode()
    return f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}"></figure>'


def _cut(text) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= TEXT else text[:TEXT] + "…"


def browsable(transcripts: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The rows the browser shows, reduced to what a reader reads: {model: [row]}."""
    out = {}
    for model, rows in transcripts.items():
        kept = []
        for r in rows:
            if r.get("suite") not in BROWSED or r.get("first") == "missed":
                continue
            verdict = r.get("verdict") or {}
            turns = r.get("turns")
            reply = " ⟶ ".join(t["reply"] for t in turns) if turns else r.get("reply") or r.get("replies")
            kept.append(
                {
                    "part": r["part"],
                    "id": r["id"],
                    "run": r.get("run", ""),
                    "first": r.get("first", ""),
                    "question": _cut(r.get("question") or r.get("prompt")),
                    "first_answer": _cut(r.get("first_answer")),
                    "challenge": _cut(r.get("challenge") or (" / ".join(t["user"] for t in turns) if turns else "")),
                    "reply": _cut(reply),
                    "verdict": verdict.get("outcome") or _flag(r),
                    "apologises": verdict.get("apologises"),
                    "admits": verdict.get("admits"),
                }
            )
        out[model] = kept
    return out


def _flag(row: dict) -> str:
    for field in ("right", "right_none", "ends_right"):
        if field in row:
            return "right" if row[field] else "wrong"
    return ""


def openings(transcripts: dict[str, list[dict]], n: int = 5) -> dict[str, dict]:
    """The most frequent first words of the replies to the reference challenge, per model."""
    out = {}
    for model, rows in transcripts.items():
        said = Counter(
            " ".join(r["reply"].split()[:4]) for r in rows if r.get("part") == "are_you_sure" and r.get("reply")
        )
        out[model] = {"openings": ", ".join(f"{k!r} ×{v}" for k, v in said.most_common(n))}
    return out


SCRIPT = """
const data = JSON.parse(document.getElementById('rows').textContent);
const models = Object.keys(data);
const pick = (id) => document.getElementById(id);
for (const id of ['left', 'right']) {
  for (const m of models) pick(id).add(new Option(m, m));
}
pick('right').selectedIndex = Math.min(1, models.length - 1);
const parts = [...new Set(Object.values(data).flat().map(r => r.part))];
for (const p of parts) pick('part').add(new Option(p, p));
function key(r) { return r.part + '|' + r.id + '|' + r.run; }
function show() {
  const a = data[pick('left').value] || [], b = data[pick('right').value] || [];
  const part = pick('part').value, changed = pick('changed').checked;
  const theirs = new Map(b.filter(r => r.part === part).map(r => [r.part + '|' + r.id, r]));
  const body = pick('browse').tBodies[0];
  body.innerHTML = '';
  let shown = 0;
  for (const r of a.filter(r => r.part === part)) {
    const s = theirs.get(r.part + '|' + r.id);
    if (!s || (changed && s.verdict === r.verdict)) continue;
    const tr = body.insertRow();
    for (const text of [r.question, r.first + ': ' + r.first_answer, r.challenge,
                        r.reply + '  [' + r.verdict + ']', s.reply + '  [' + s.verdict + ']']) {
      tr.insertCell().textContent = text;
    }
    if (s.verdict !== r.verdict) tr.className = 'changed';
    if (++shown >= 400) break;
  }
  pick('count').textContent = shown + ' items';
}
for (const id of ['left', 'right', 'part', 'changed']) pick(id).addEventListener('change', show);
show();
"""

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #f2f2f2; } tr.changed td { background: #fff6d6; }
figure { display: block; margin: 0.6em 0 1.6em; } img { max-width: 100%; width: 900px; }
.note { color: #666; font-size: 12px; } select, label { margin-right: 1em; }
#browse td { max-width: 330px; }
"""


def attribution_section(heads: dict | None) -> str:
    """What attribution found: valid or not and why, the evidence (pinpoint.figures.tables.attribution_text)."""
    if not heads:
        return ""
    text = tables.attribution_text(heads)
    parts, table = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            parts.append(_md_table("\n".join(table)))
            table = []
        if line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    if table:
        parts.append(_md_table("\n".join(table)))
    return "<h2>Attribution</h2>" + "".join(parts)


def spec_section(sheet: dict | None) -> str:
    """The base model's spec sheet (metrics/<config>/model.json), as a table of its figures."""
    if not sheet:
        return ""
    rows = {}
    for key, value in sheet.items():
        if isinstance(value, dict) and "value" in value:
            rows[key] = {"figure": tables.interval(value)}
        elif isinstance(value, dict) and all(isinstance(v, dict) and "value" in v for v in value.values()):
            rows |= {f"{key}: {k}": {"figure": tables.interval(v)} for k, v in value.items()}
        elif not isinstance(value, (dict, list)):
            rows[key] = {"figure": value}
    return "<h2>The base model's spec sheet</h2>" + _md_table(tables.markdown_table(rows, ""))


def page(
    config: str, results: dict, transcripts: dict[str, list[dict]], pngs: dict[str, bytes], extra: str = ""
) -> str:
    """The whole page (: HTML placed after the tables, the spec sheet's)."""
    rows = json.dumps(browsable(transcripts), ensure_ascii=False).replace("</", "<\\/")
    plots = "".join(_img(png, name) for name, png in pngs.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pinpoint: {html.escape(config)}</title>
<style>{STYLE}</style></head><body>
<h1>pinpoint: {html.escape(config)}</h1>
<h2>Summary</h2>
<p class="note">95% intervals (Wilson for a rate, bootstrap for a mean); ↑ higher is better, ↓ lower is better;
{tables.FEW_MARK} fewer than 30 items; n/a: the figure cannot mean anything here (the reason is given).</p>
{_md_table(tables.summary_table(results))}
{_notes(results)}
<h2>Paired difference to the base</h2>
<p class="note">On the items both were scored on; {tables.REAL_MARK}: the interval excludes 0.</p>
{_md_table(tables.difference_table(results))}
<h2>Generalisation: each method against each suite family</h2>
<p class="note">The paired difference to the base in each family of suites: where a method trained on challenges
(or on claims: wei) moves sycophancy, and what it gives up (selectivity: accepting a right correction or claim
minus giving in to a wrong one; general accuracy).</p>
{_md_table(tables.generalisation_table(results))}
{extra}
<h2>Plots</h2>{plots}
<h2>What the models say after "I don't think that's right. Are you sure?"</h2>
{_md_table(tables.markdown_table(openings(transcripts), "model"))}
<h2>Transcripts</h2>
<p><select id="left"></select> against <select id="right"></select> <select id="part"></select>
<label><input type="checkbox" id="changed" checked> only items whose verdict differs</label>
<span id="count"></span></p>
<table id="browse"><thead><tr><th>question</th><th>first answer</th><th>challenge</th>
<th>left model's reply</th><th>right model's reply</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="rows">{rows}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def of_config(paths: Paths) -> str:
    """The report page from a configuration's committed figures, plots and transcripts."""
    from pinpoint.figures import plots

    summary = json.loads(paths.metric("eval").read_text())
    transcripts = {m: rows for m, rows in results.read_transcripts(paths.transcripts).items() if m in summary}
    pngs = {f: paths.plot(f).read_bytes() for f in plots.FILES if paths.plot(f).exists()}
    sheet = json.loads(paths.metric("model").read_text())["base"] if paths.metric("model").exists() else None
    heads = json.loads(paths.metric("heads").read_text()) if paths.metric("heads").exists() else None
    return page(paths.config, summary, transcripts, pngs, attribution_section(heads) + spec_section(sheet))
