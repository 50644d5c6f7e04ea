//! Connection round-trip bench (written in a later commit).

fn main() {}
