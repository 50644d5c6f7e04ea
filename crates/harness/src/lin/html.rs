//! A self-contained HTML page drawing a violation, in the manner of porcupine's
//! visualisation.
//!
//! [`render_html`] draws the minimal witness of a [`Violation`]: one lane per client,
//! each operation a bar from its call to its return (times are ranks: every distinct
//! call or return time gets one column, so short and long gaps take the same room), the
//! operations of the *longest linearizable prefix* numbered in their linearization order
//! and drawn green, and the operation that cannot be placed next drawn red. Hovering a
//! bar shows the whole operation (values are never elided there), its times and its role.
//! An operation that never returned extends, dashed, to the right edge; one that returned
//! with an unknown outcome is solid up to its return and dashed after it (it may still
//! take effect). Below the drawing the witness is repeated as the text table of
//! [`render_table`](super::render_table).
//!
//! The page has no external assets: the data is embedded as JSON in a
//! `<script type="application/json">` element and drawn into an inline SVG by a small
//! script in the page. The prefix comes from [`explain`], which re-runs the search on the
//! witness and keeps the deepest configuration it reached.
//!
//! Tested by `tests/lin_html.rs`, which renders a page, opens it in headless Chromium
//! and checks the lanes and the highlighted operation in the resulting DOM.

use super::check::Violation;
use super::error::LinError;
use super::history::History;
use super::model::Model;
use super::render::render_table;
use super::search::{search_recording, Budget, Deepest, SearchResult};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// How far a non-linearizable history gets: see [`explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// Positions (in the history's operation order) of the longest linearizable prefix
    /// the search found, in linearization order. Operations of unknown outcome appear if
    /// they were applied.
    pub prefix: Vec<usize>,
    /// The completed operation that must come next after `prefix` (no other completed
    /// operation returned before it) and that the model refuses, if any.
    pub blocked: Option<usize>,
    /// True if the history turned out linearizable after all (then `prefix` is a whole
    /// linearization of its completed operations and `blocked` is `None`).
    pub linearizable: bool,
}

/// Step limit of [`explain`]'s search: witnesses are small, but a huge unminimised one
/// must not hang the page's rendering.
const EXPLAIN_STEPS: u64 = 20_000_000;

/// Re-runs the search on `history` (one object: no partitioning) and reports the deepest
/// configuration it reached: the longest sequence of operations it could linearize and
/// the operation it then could not place. `None` if the search ran out of its step limit
/// (twenty million steps).
pub fn explain<M: Model>(model: &M, history: &History) -> Result<Option<Explanation>, LinError> {
    let prepared = super::check::prepare(model, history)?;
    let refs: Vec<_> = prepared.iter().collect();
    let mut budget = Budget::new(None, Some(EXPLAIN_STEPS));
    let mut deepest = Deepest::default();
    let result = search_recording(model, &refs, None, &mut budget, Some(&mut deepest));
    Ok(match result {
        SearchResult::Exhausted(_) => None,
        SearchResult::Linearizable => Some(Explanation {
            prefix: deepest.order,
            blocked: None,
            linearizable: true,
        }),
        SearchResult::Illegal => Some(Explanation {
            prefix: deepest.order,
            blocked: deepest.blocked,
            linearizable: false,
        }),
    })
}

/// The page's data: what the script draws.
fn page_data(title: &str, violation: &Violation, explanation: Option<&Explanation>) -> Value {
    let h = &violation.minimal;
    let clients: Vec<u32> = h
        .ops()
        .iter()
        .map(|o| o.client)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let position =
        |i: usize| explanation.and_then(|e| e.prefix.iter().position(|&p| p == i).map(|p| p + 1));
    let ops: Vec<Value> = h
        .ops()
        .iter()
        .enumerate()
        .map(|(i, op)| {
            json!({
                "client": op.client,
                "call": op.call,
                "ret": op.ret,
                "pending": op.ret.is_none(),
                "unknown": op.unknown,
                "label": op.describe(24),
                "full": op.to_string(),
                "order": position(i),
                "blocked": explanation.is_some_and(|e| e.blocked == Some(i)),
            })
        })
        .collect();
    let summary = match explanation {
        Some(e) if !e.linearizable => {
            let blocked = e
                .blocked
                .map(|b| {
                    format!(
                        "; then `{}` (client {}) cannot be placed",
                        h.ops()[b],
                        h.ops()[b].client
                    )
                })
                .unwrap_or_default();
            format!(
                "The longest linearizable prefix has {} operation{}{blocked}.",
                e.prefix.len(),
                if e.prefix.len() == 1 { "" } else { "s" }
            )
        }
        Some(_) => "This sub-history is linearizable on its own (it was not minimised).".to_owned(),
        None => "The prefix search ran out of steps; no prefix is marked.".to_owned(),
    };
    json!({
        "title": title,
        "key": violation.key,
        "shown": h.len(),
        "total": violation.partition.len(),
        "minimized": violation.minimized,
        "clients": clients,
        "ops": ops,
        "summary": summary,
    })
}

/// Escapes text for HTML element content.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `violation` (found against `model`) as one self-contained HTML page; see the
/// [module docs](self). `title` heads the page (the file checked, the scenario).
///
/// ```
/// use procshare_harness::lin::{check, render_html, History, Operation, Register};
/// use serde_json::json;
///
/// let history = History::from(vec![
///     Operation::completed(0, "write", json!(1), 0, 1, json!(null)),
///     Operation::completed(1, "read", json!(null), 2, 3, json!(0)),
/// ]);
/// let outcome = check(&Register::default(), &history).unwrap();
/// let page = render_html(&Register::default(), outcome.violation().unwrap(), "stale read").unwrap();
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("stale read") && !page.contains("src=") && !page.contains("href="));
/// ```
pub fn render_html<M: Model>(
    model: &M,
    violation: &Violation,
    title: &str,
) -> Result<String, LinError> {
    let explanation = explain(model, &violation.minimal)?;
    let data = page_data(title, violation, explanation.as_ref());
    // No `<` at all in the data element, so nothing (`</script>`, `<!--`) can end it
    // early: `<` only occurs inside JSON strings, where `\u003c` means the same.
    let data = data.to_string().replace('<', "\\u003c");
    let table = escape(&render_table(&violation.minimal));
    Ok(PAGE
        .replace("{title}", &escape(title))
        .replace("{table}", &table)
        .replace("{data}", &data))
}

/// The page template: `{title}`, `{data}` and `{table}` are filled in.
const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} — not linearizable</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta, .summary { margin: 4px 0; }
  .summary { font-weight: 600; }
  svg { display: block; margin: 16px 0; overflow: visible; }
  .lane-label { font: 13px ui-monospace, monospace; fill: #333; }
  .lane-line { stroke: #ddd; stroke-width: 1; }
  .bar { stroke-width: 1.5; rx: 4; cursor: default; }
  .bar.linearized { fill: #cfeccf; stroke: #2e8b2e; }
  .bar.unplaceable { fill: #f8c6c6; stroke: #c62828; stroke-width: 3; }
  .bar.other { fill: #e8e8e8; stroke: #888; }
  .bar:hover { filter: brightness(0.92); }
  .bar.pending { stroke-dasharray: 6 4; fill-opacity: 0.6; }
  .tail { stroke-dasharray: 5 4; stroke-width: 2; fill: none; }
  .tail.linearized { stroke: #2e8b2e; } .tail.unplaceable { stroke: #c62828; } .tail.other { stroke: #888; }
  .op-label { font: 12px ui-monospace, monospace; fill: #111; pointer-events: none; }
  .order { font: bold 11px system-ui, sans-serif; fill: #fff; pointer-events: none; }
  .badge { fill: #2e8b2e; }
  .tick { stroke: #eee; }
  .legend span { display: inline-block; margin-right: 16px; }
  .swatch { display: inline-block; width: 14px; height: 10px; border: 1.5px solid; border-radius: 3px; vertical-align: middle; margin-right: 4px; }
  #tip { position: fixed; display: none; background: #222; color: #fff; padding: 6px 8px; border-radius: 4px; font: 12px ui-monospace, monospace; white-space: pre; max-width: 80vw; overflow-wrap: anywhere; pointer-events: none; }
  pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
</style>
</head>
<body>
<h1>{title}: not linearizable</h1>
<div class="meta" id="meta"></div>
<div class="summary" id="summary"></div>
<div class="legend">
  <span><i class="swatch" style="background:#cfeccf;border-color:#2e8b2e"></i>in the longest linearizable prefix (numbered in order)</span>
  <span><i class="swatch" style="background:#f8c6c6;border-color:#c62828"></i>cannot be placed next</span>
  <span><i class="swatch" style="background:#e8e8e8;border-color:#888"></i>other</span>
  <span>dashed: may still take effect (never returned, or returned with an unknown outcome)</span>
</div>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="tip"></div>
<details open><summary>witness table</summary><pre>{table}</pre></details>
<script type="application/json" id="data">{data}</script>
<script>
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("timeline");
  var tip = document.getElementById("tip");
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  document.getElementById("meta").textContent =
    (data.key !== null ? "key " + data.key + ": " : "") + data.shown + " of " + data.total +
    " operations of the failing partition shown" + (data.minimized ? " (a 1-minimal witness)" : "");
  document.getElementById("summary").textContent = data.summary;

  // Time ranks: each distinct call or return time is one column.
  var times = [];
  data.ops.forEach(function (op) { times.push(op.call); if (op.ret !== null) { times.push(op.ret); } });
  times = times.filter(function (t, i, a) { return a.indexOf(t) === i; }).sort(function (a, b) { return a - b; });
  var rank = {}; times.forEach(function (t, i) { rank[t] = i; });
  var LEFT = 90, COL = 70, LANE = 44, BAR = 26, TOP = 10;
  var end = times.length; // the column after the last event
  var width = LEFT + COL * (end + 1) + 20;
  var lanes = {};
  data.clients.forEach(function (c, i) { lanes[c] = i; });
  svg.setAttribute("width", width);
  svg.setAttribute("height", TOP + LANE * data.clients.length + 10);
  function x(col) { return LEFT + COL * col + COL / 2; }
  for (var i = 0; i <= end; i++) { el("line", { "class": "tick", x1: x(i), x2: x(i), y1: 0, y2: TOP + LANE * data.clients.length }, svg); }
  data.clients.forEach(function (c, i) {
    var g = el("g", { "class": "lane", "data-client": c }, svg);
    var y = TOP + LANE * i + LANE / 2;
    el("line", { "class": "lane-line", x1: LEFT - 6, x2: width - 10, y1: y, y2: y }, g);
    el("text", { "class": "lane-label", x: 4, y: y + 4 }, g).textContent = "client " + c;
  });
  data.ops.forEach(function (op, i) {
    var lane = svg.querySelector('g.lane[data-client="' + op.client + '"]');
    var role = op.blocked ? "unplaceable" : (op.order !== null ? "linearized" : "other");
    var g = el("g", { "class": "op " + role, "data-op": i }, lane);
    var y = TOP + LANE * lanes[op.client] + (LANE - BAR) / 2;
    var x0 = x(rank[op.call]) - COL / 2 + 6;
    var tailEnd = x(end) + COL / 2 - 6;
    // Solid up to the return; an operation that never returned is a dashed box to the
    // right edge; one of unknown outcome gets a dashed tail after its return.
    var x1 = op.ret !== null ? x(rank[op.ret]) + COL / 2 - 6 : tailEnd;
    el("rect", { "class": "bar " + role + (op.pending ? " pending" : ""), x: x0, y: y, width: Math.max(x1 - x0, 8), height: BAR }, g);
    if (op.unknown && tailEnd > x1) {
      el("line", { "class": "tail " + role, x1: x1, x2: tailEnd, y1: y + BAR / 2, y2: y + BAR / 2 }, g);
    }
    var textX = x0 + 6;
    if (op.order !== null) {
      el("circle", { "class": "badge", cx: x0 + 10, cy: y + BAR / 2, r: 8 }, g);
      el("text", { "class": "order", x: x0 + 10, y: y + BAR / 2 + 4, "text-anchor": "middle" }, g).textContent = op.order;
      textX = x0 + 22;
    }
    // Cut the label to its bar (about 7.3 px per character of the monospace font).
    var fits = Math.max(1, Math.floor((x1 - textX - 4) / 7.3));
    var label = op.label.length > fits ? op.label.slice(0, Math.max(fits - 1, 1)) + "…" : op.label;
    el("text", { "class": "op-label", x: textX, y: y + BAR / 2 + 4 }, g).textContent = label;
    var role_text = op.blocked ? "cannot be placed after the prefix" :
      (op.order !== null ? "linearized as #" + op.order : "not in the longest linearizable prefix");
    var when = "call " + op.call + ", " + (op.ret === null ? "never returned" : "return " + op.ret) +
      (op.unknown ? " (outcome unknown)" : "");
    var text = "client " + op.client + ": " + op.full + "\n" + when + "\n" + role_text;
    el("title", {}, g).textContent = text;
    g.addEventListener("mousemove", function (ev) {
      tip.textContent = text; tip.style.display = "block";
      tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px";
    });
    g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });
  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::super::test_ops::{r, w};
    use super::super::{check, Register};
    use super::*;

    #[test]
    fn stale_read_explained() {
        // write 1; write 2; read → 1: the prefix is the two writes, the read is blocked.
        let h = History::from(vec![w(0, 1, 0, 1), w(0, 2, 2, 3), r(1, 1, 4, 5)]);
        let e = explain(&Register::default(), &h).unwrap().unwrap();
        assert_eq!(e.prefix, vec![0, 1]);
        assert_eq!(e.blocked, Some(2));
        assert!(!e.linearizable);
        let ok = History::from(vec![w(0, 1, 0, 1), r(1, 1, 2, 3)]);
        let e = explain(&Register::default(), &ok).unwrap().unwrap();
        assert!(e.linearizable && e.blocked.is_none());
        assert_eq!(e.prefix, vec![0, 1]);
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let mut h = History::from(vec![w(0, 1, 0, 1), r(1, 0, 2, 3)]);
        let mut sneaky = w(2, 5, 4, 5);
        sneaky.input = json!("</script><!-- <b>x</b>");
        h.push(sneaky);
        let o = check(&Register::default(), &h).unwrap();
        let v = o.violation().unwrap().clone();
        let v = Violation {
            minimal: h.clone(),
            ..v
        };
        let page = render_html(&Register::default(), &v, "t<i>").unwrap();
        assert!(!page.contains("<b>x</b>"), "unescaped value in the page");
        assert!(page.contains("t&lt;i&gt;"));
        assert_eq!(
            page.matches("</script>").count(),
            2,
            "the data ends its element early"
        );
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!page.contains(external), "external asset: {external}");
        }
        let data = page
            .split("id=\"data\">")
            .nth(1)
            .and_then(|s| s.split("</script>").next())
            .unwrap();
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data["clients"], json!([0, 1, 2]));
        assert_eq!(data["ops"][1]["blocked"], json!(true));
        assert_eq!(data["ops"][0]["order"], json!(1));
    }
}
