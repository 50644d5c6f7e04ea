//! Rendering a history as a per-client table.

use super::history::{History, Operation};
use std::collections::BTreeSet;

/// Renders `history` with one column per client (in client order) and one row per
/// operation, in order of call time; the first column gives the operation's
/// `call..return` times (`call..?` if indeterminate), so overlapping rows are concurrent
/// operations. Cells read as [`Operation`]'s `Display`: `write(1) → ok`, `read → 3`,
/// `cas(1, 2) → ?`.
///
/// ```text
/// time | client 0      | client 1
/// -----+---------------+---------
/// 0..1 | write(1) → ok |
/// 2..3 |               | read → 0
/// ```
pub fn render_table(history: &History) -> String {
    let clients: Vec<u32> = history
        .ops()
        .iter()
        .map(|op| op.client)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut ops: Vec<&Operation> = history.ops().iter().collect();
    ops.sort_by_key(|op| (op.call, op.ret.unwrap_or(u64::MAX), op.client));

    let mut rows: Vec<Vec<String>> = Vec::with_capacity(ops.len() + 1);
    let mut header = vec!["time".to_owned()];
    header.extend(clients.iter().map(|c| format!("client {c}")));
    rows.push(header);
    for op in ops {
        let mut row = vec![String::new(); clients.len() + 1];
        row[0] = match op.ret {
            Some(ret) => format!("{}..{}", op.call, ret),
            None => format!("{}..?", op.call),
        };
        if let Ok(column) = clients.binary_search(&op.client) {
            row[column + 1] = op.to_string();
        }
        rows.push(row);
    }

    let widths: Vec<usize> = (0..=clients.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join(" | ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
            out.push_str(&rule.join("-+-"));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_layout() {
        let h = History::from(vec![
            Operation::completed(1, "read", json!(null), 2, 3, json!(0)),
            Operation::completed(0, "write", json!(1), 0, 1, json!(null)),
            Operation::indeterminate(7, "cas", json!([1, 2]), 1),
        ]);
        let expected = "\
time | client 0      | client 1 | client 7
-----+---------------+----------+--------------
0..1 | write(1) → ok |          |
1..? |               |          | cas(1, 2) → ?
2..3 |               | read → 0 |
";
        assert_eq!(render_table(&h), expected);
    }

    #[test]
    fn empty_table() {
        assert_eq!(render_table(&History::new()), "time\n----\n");
    }
}
