//! `procshare-lin check FILE [options]`: the linearizability checker on its own (run as
//! `cargo xtask lin check FILE`). Everything is in `procshare_harness::lin::cli`; exit
//! status 0 linearizable, 1 not, 2 unknown, 3 error.

fn main() -> std::process::ExitCode {
    procshare_harness::lin::cli::run()
}
