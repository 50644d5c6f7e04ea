//! Rendering a history as a per-client table (through [`procshare_table`], like every
//! report).

use super::history::{History, Operation};
use procshare_table::Table;
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
    render_table_elided(history, usize::MAX)
}

/// [`render_table`] with every value longer than `max_value` characters elided (see
/// [`Operation::describe`]), for terminals. An operation that returned with an unknown
/// outcome shows its times as `call..return?`.
pub fn render_table_elided(history: &History, max_value: usize) -> String {
    let clients: Vec<u32> = history
        .ops()
        .iter()
        .map(|op| op.client)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut ops: Vec<&Operation> = history.ops().iter().collect();
    ops.sort_by_key(|op| (op.call, op.ret.unwrap_or(u64::MAX), op.client));

    let mut table = Table::new(
        std::iter::once("time".to_owned()).chain(clients.iter().map(|c| format!("client {c}"))),
    );
    for op in ops {
        let mut row = vec![String::new(); clients.len() + 1];
        row[0] = match op.ret {
            Some(ret) if op.unknown => format!("{}..{}?", op.call, ret),
            Some(ret) => format!("{}..{}", op.call, ret),
            None => format!("{}..?", op.call),
        };
        if let Ok(column) = clients.binary_search(&op.client) {
            row[column + 1] = op.describe(max_value);
        }
        table.row(row);
    }
    table.render_plain()
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
