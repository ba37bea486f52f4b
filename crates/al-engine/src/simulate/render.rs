//! The report for people: `text` for terminals, `markdown` for a
//! pull-request comment. Strings from the log are untrusted: control
//! characters are escaped in text (no terminal escape sequences get
//! through) and code spans in Markdown are fenced so no input can break
//! out of them or out of a table cell.
//!
//! One file for both formats on purpose: they render the same sections in
//! the same order from the same helpers (escaping, alignment, sides), and
//! a reader checking that text and Markdown say the same thing wants them
//! side by side.

use std::fmt::Write as _;

use super::report::{
    ApprovalFates, Cell, Change, Comparison, Example, FailingCondition, HeldExample, PolicyChanges,
    STATUSES, Side, SimulationReport, idx,
};
use crate::records::ActionStatus;

/// How to render a report for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenderStyle {
    /// Plain text for a terminal.
    Text,
    /// A short GitHub-flavoured Markdown summary for a pull-request comment.
    Markdown,
}

/// Rows of a Markdown table before the rest is left to the JSON report.
const MD_ROWS: usize = 10;

/// A string from the log, safe to print on a terminal.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// An inline code span that no content can break out of, safe in a table
/// cell: pipes escaped, newlines folded, a fence longer than any backtick
/// run inside.
fn code(s: &str) -> String {
    let s = clean(s).replace('|', "\\|");
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Rows of (name, count, details) with the first two columns aligned.
fn aligned(o: &mut String, rows: &[(String, u64, String)]) {
    let wa = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let wb = rows
        .iter()
        .map(|r| r.1.to_string().len())
        .max()
        .unwrap_or(0);
    for (a, b, c) in rows {
        let pad = wa - a.chars().count();
        let line = format!("  {a}{:pad$}  {b:>wb$}  {c}", "");
        let _ = writeln!(o, "{}", line.trim_end());
    }
}

fn policy_or_none(p: Option<&str>) -> String {
    p.map_or_else(|| "(no policy)".to_owned(), clean)
}

fn arrow(c: &Cell) -> String {
    format!("{} -> {}", c.from.as_str(), c.to.as_str())
}

fn condition(c: &FailingCondition) -> String {
    format!("{} {} {}", c.field, c.operator, c.expected)
}

fn side_text(s: &Side) -> String {
    let mut out = s.status.as_str().to_owned();
    if let Some(r) = s.denial_reason {
        let _ = write!(out, " {}", r.code());
    }
    if let Some(p) = &s.policy {
        let _ = write!(out, " by `{}`", clean(p));
    }
    if let Some(a) = &s.decided_as {
        let _ = write!(out, " as delegator {}", clean(a));
    }
    if !s.failing.is_empty() {
        let f: Vec<String> = s.failing.iter().map(|c| clean(&condition(c))).collect();
        let _ = write!(out, "; failing: {}", f.join(", "));
    }
    out
}

fn fates_text(f: &ApprovalFates) -> String {
    let parts: Vec<String> = [
        (f.approved, "approved by a reviewer"),
        (f.denied, "denied by a reviewer"),
        (f.timed_out, "timed out"),
        (f.pending, "still pending"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    parts.join(", ")
}

fn transitions_text(cells: &[Cell]) -> String {
    cells
        .iter()
        .map(|c| format!("{} {}", arrow(c), c.count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn what_against(r: &SimulationReport, new: &str, baseline: Option<&str>) -> String {
    match (r.compared_with, baseline) {
        (Comparison::Recorded, _) => {
            format!("{new} compared with the decisions recorded in the log")
        }
        (Comparison::Baseline, Some(b)) => format!("{new} compared with {b}"),
        (Comparison::Baseline, None) => format!("{new} compared with the baseline"),
    }
}

fn window_text(r: &SimulationReport) -> Option<String> {
    let w = &r.window;
    let mut parts = Vec::new();
    if let Some(s) = w.since {
        parts.push(format!("since {s}"));
    }
    if let Some(u) = w.until {
        parts.push(format!("until {u}"));
    }
    if let Some(a) = &w.agent_id {
        parts.push(format!("agent {}", clean(a)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

impl SimulationReport {
    /// Render for people. `new` and `baseline` name the manifests (e.g.
    /// their file names).
    #[must_use]
    pub fn render(&self, style: RenderStyle, new: &str, baseline: Option<&str>) -> String {
        match style {
            RenderStyle::Text => self.to_text(new, baseline),
            RenderStyle::Markdown => self.to_markdown(new, baseline),
        }
    }

    fn to_text(&self, new: &str, baseline: Option<&str>) -> String {
        let mut o = String::new();
        let t = &self.totals;
        let _ = writeln!(
            o,
            "simulated {}",
            what_against(self, &clean(new), baseline.map(clean).as_deref())
        );
        let _ = writeln!(
            o,
            "log: {} rows, chain verified{}{}; {} action entries",
            self.log.rows,
            self.log
                .head_hash
                .map(|h| format!(" (head {h})"))
                .unwrap_or_default(),
            self.org_id
                .as_deref()
                .map(|o| format!(", org {}", clean(o)))
                .unwrap_or_default(),
            self.log.actions
        );
        if let Some(w) = window_text(self) {
            let _ = writeln!(o, "window: {w}");
        }
        let _ = writeln!(
            o,
            "{} action entries in the window: {} unchanged, {} changed, {} held (not re-decided)",
            t.in_window, t.unchanged, t.changed, t.held
        );
        if t.same_status_other_policy > 0 {
            let _ = writeln!(
                o,
                "{} unchanged decisions are now made by another policy",
                t.same_status_other_policy
            );
        }
        if let Some(m) = t.baseline_mismatches.filter(|m| *m > 0) {
            let _ = writeln!(
                o,
                "warning: the baseline decides {m} entries differently from what the log recorded"
            );
        }
        if !self.changes.is_empty() {
            let _ = writeln!(o, "\nchanges");
            let rows: Vec<(String, u64, String)> = self
                .changes
                .iter()
                .map(|c| (arrow(&cell_of(c)), c.count, String::new()))
                .collect();
            aligned(&mut o, &rows);
            for c in &self.changes {
                let _ = writeln!(o, "\n{}: {}", arrow(&cell_of(c)), c.count);
                for e in &c.examples {
                    example_text(&mut o, e);
                }
                if let Some(f) = &c.approvals {
                    let _ = writeln!(
                        o,
                        "  approvals of the entries recorded as requested: {}",
                        fates_text(f)
                    );
                }
            }
            for (title, list) in [
                ("by policy before", &self.by_old_policy),
                ("by policy after", &self.by_new_policy),
            ] {
                let _ = writeln!(o, "\n{title}");
                policies_text(&mut o, list);
            }
            let _ = writeln!(o, "\nby agent");
            let rows: Vec<(String, u64, String)> = self
                .by_agent
                .iter()
                .map(|a| {
                    (
                        clean(&a.agent_id),
                        a.changed,
                        transitions_text(&a.transitions),
                    )
                })
                .collect();
            aligned(&mut o, &rows);
        }
        if !self.held.is_empty() {
            let _ = writeln!(o, "\nheld (not re-decided)");
            for h in &self.held {
                aligned(
                    &mut o,
                    &[(
                        h.reason.as_str().to_owned(),
                        h.count,
                        h.reason.describe().to_owned(),
                    )],
                );
                for e in &h.examples {
                    held_text(&mut o, e);
                }
            }
        }
        if !self.throttled.is_empty() {
            let _ = writeln!(
                o,
                "\ndecided under THROTTLE (the requests it refused are not in the log)"
            );
            let rows: Vec<(String, u64, String)> = self
                .throttled
                .iter()
                .map(|a| (clean(&a.agent_id), a.entries, String::new()))
                .collect();
            aligned(&mut o, &rows);
        }
        o
    }

    fn to_markdown(&self, new: &str, baseline: Option<&str>) -> String {
        let mut o = String::new();
        let t = &self.totals;
        let headline = if t.changed == 0 {
            format!("no decision changes ({} re-decided)", t.simulated)
        } else {
            format!("{} of {} decisions change", t.changed, t.simulated)
        };
        let _ = writeln!(o, "### Policy simulation: {headline}\n");
        let mut intro = format!(
            "Replayed {} `action` entries of an audit log ({} rows, chain verified{})",
            t.in_window,
            self.log.rows,
            self.org_id
                .as_deref()
                .map(|o| format!(", org {}", code(o)))
                .unwrap_or_default()
        );
        if let (Some(a), Some(b)) = (self.window.first_action_at, self.window.last_action_at) {
            let _ = write!(intro, " from {a} to {b}");
        }
        if let Some(w) = window_text(self) {
            let _ = write!(intro, " ({w})");
        }
        let _ = writeln!(
            o,
            "{intro}: {}.\n",
            what_against(self, &code(new), baseline.map(code).as_deref())
        );
        if t.changed > 0 {
            let _ = writeln!(
                o,
                "| before \\ after | {} |",
                STATUSES.map(ActionStatus::as_str).join(" | ")
            );
            let _ = writeln!(o, "|---|---:|---:|---:|---:|");
            for from in STATUSES {
                let counts: Vec<String> = STATUSES
                    .iter()
                    .map(|&to| {
                        let n = self
                            .matrix
                            .iter()
                            .find(|c| c.from == from && c.to == to)
                            .map_or(0, |c| c.count);
                        match n {
                            0 => String::new(),
                            n if idx(from) == idx(to) => n.to_string(),
                            n => format!("**{n}**"),
                        }
                    })
                    .collect();
                let _ = writeln!(o, "| **{}** | {} |", from.as_str(), counts.join(" | "));
            }
            let _ = writeln!(o);
            if !self.by_new_policy.is_empty() {
                let _ = writeln!(o, "| policy deciding now | changed | transitions |");
                let _ = writeln!(o, "|---|---:|---|");
                for p in self.by_new_policy.iter().take(MD_ROWS) {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} |",
                        p.policy
                            .as_deref()
                            .map_or_else(|| "*(no policy)*".to_owned(), code),
                        p.changed,
                        transitions_text(&p.transitions).replace("->", "→")
                    );
                }
                if self.by_new_policy.len() > MD_ROWS {
                    let _ = writeln!(o, "| … {} more | | |", self.by_new_policy.len() - MD_ROWS);
                }
                let _ = writeln!(o);
            }
            let approved: u64 = self
                .changes
                .iter()
                .filter(|c| c.to.is_refusal() || c.to == ActionStatus::Requested)
                .filter_map(|c| c.approvals.map(|f| f.approved))
                .sum();
            if approved > 0 {
                let _ = writeln!(
                    o,
                    "> **Note:** {approved} of the changed entries had been approved by a reviewer and ran.\n"
                );
            }
            let _ = writeln!(o, "<details><summary>Examples</summary>\n");
            for c in &self.changes {
                let _ = writeln!(
                    o,
                    "**{} → {}** ({})\n",
                    c.from.as_str(),
                    c.to.as_str(),
                    c.count
                );
                for e in &c.examples {
                    let _ = writeln!(
                        o,
                        "- row {} {} by {} at {}{}: {} → {}{}",
                        e.row,
                        code(e.action_type.as_str()),
                        code(&e.agent_id),
                        e.timestamp,
                        requested(e),
                        side_md(&e.old),
                        side_md(&e.new),
                        e.approval
                            .map(|a| format!(" (approval: {})", a.as_str()))
                            .unwrap_or_default()
                    );
                }
                let _ = writeln!(o);
            }
            let _ = writeln!(o, "</details>\n");
        }
        if t.held > 0 {
            let parts: Vec<String> = self
                .held
                .iter()
                .map(|h| format!("{} {}", h.count, h.reason.describe()))
                .collect();
            let _ = writeln!(
                o,
                "{} entries were not re-decided: {}.\n",
                t.held,
                parts.join("; ")
            );
        }
        if !self.throttled.is_empty() {
            let n: u64 = self.throttled.iter().map(|a| a.entries).sum();
            let _ = writeln!(
                o,
                "{n} entries of {} agent(s) were decided under THROTTLE; the requests it refused are not in the log.\n",
                self.throttled.len()
            );
        }
        if t.same_status_other_policy > 0 {
            let _ = writeln!(
                o,
                "{} unchanged decisions are now made by another policy.\n",
                t.same_status_other_policy
            );
        }
        if let Some(m) = t.baseline_mismatches.filter(|m| *m > 0) {
            let _ = writeln!(
                o,
                "> **Warning:** the baseline decides {m} entries differently from what the log recorded.\n"
            );
        }
        let _ = writeln!(
            o,
            "<sub>new set {} · `al simulate --format json` has every count</sub>",
            self.new_set_digest
        );
        o
    }
}

fn cell_of(c: &Change) -> Cell {
    Cell {
        from: c.from,
        to: c.to,
        count: c.count,
    }
}

fn side_md(s: &Side) -> String {
    let mut out = format!("**{}**", s.status.as_str());
    if let Some(r) = s.denial_reason {
        let _ = write!(out, " `{}`", r.code());
    }
    match &s.policy {
        Some(p) => {
            let _ = write!(out, " by {}", code(p));
        }
        None => out.push_str(" (no policy)"),
    }
    if let Some(a) = &s.decided_as {
        let _ = write!(out, " as delegator {}", code(a));
    }
    if !s.failing.is_empty() {
        let f: Vec<String> = s.failing.iter().map(|c| code(&condition(c))).collect();
        let _ = write!(out, ", failing {}", f.join(", "));
    }
    out
}

fn requested(e: &Example) -> String {
    if e.requested_at == e.timestamp {
        String::new()
    } else {
        format!(" (requested at {})", e.requested_at)
    }
}

fn example_text(o: &mut String, e: &Example) {
    let _ = writeln!(
        o,
        "  row {} ({}) {} {} at {}{}",
        e.row,
        e.id,
        clean(&e.agent_id),
        clean(&e.action_type),
        e.timestamp,
        requested(e)
    );
    let _ = writeln!(o, "    before: {}", side_text(&e.old));
    let _ = writeln!(o, "    after:  {}", side_text(&e.new));
    if let Some(a) = e.approval {
        let _ = writeln!(o, "    approval: {}", a.as_str());
    }
}

fn held_text(o: &mut String, e: &HeldExample) {
    let _ = writeln!(
        o,
        "    row {} ({}) {} {} at {}: {}{}{}",
        e.row,
        e.id,
        e.agent_id.as_deref().map_or_else(|| "-".to_owned(), clean),
        clean(&e.action_type),
        e.timestamp,
        e.status.as_str(),
        e.denial_reason
            .map(|r| format!(" {}", r.code()))
            .unwrap_or_default(),
        e.detail
            .as_deref()
            .map(|d| format!(" ({})", clean(d)))
            .unwrap_or_default()
    );
}

fn policies_text(o: &mut String, list: &[PolicyChanges]) {
    let rows: Vec<(String, u64, String)> = list
        .iter()
        .map(|p| {
            (
                policy_or_none(p.policy.as_deref()),
                p.changed,
                transitions_text(&p.transitions),
            )
        })
        .collect();
    aligned(o, &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_cannot_be_broken_out_of() {
        assert_eq!(code("pr.merge"), "`pr.merge`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("a\nb"), "`a\\u{a}b`");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("agt\u{1b}[31m"), "agt\\u{1b}[31m");
        assert_eq!(clean("ok é"), "ok é");
    }
}
