//! The checker on its own: the sample histories in `tests/lin-data/` (written for these
//! tests in porcupine's and Jepsen's formats), and one hand-written history per feature
//! of the imported formats (`:fail`, `:info`, `append`, empty-string reads), each of
//! which gets the wrong verdict if the feature is implemented wrong.

use procshare_harness::lin::cli::{run_with, EXIT_ILLEGAL, EXIT_OK};
use procshare_harness::lin::{check, Format, History, KeyValue, Outcome, Register};
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("lin-data")
        .join(name)
}

fn read(name: &str) -> (Format, History) {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let format = Format::detect(&text);
    (format, format.parse(&text).unwrap())
}

fn nil_register() -> Register {
    Register::new(Value::Null)
}

/// Runs `procshare-lin check FILE` (in process) and returns its status and output.
fn cli(name: &str) -> (u8, String) {
    let args: Vec<OsString> = vec!["procshare-lin".into(), "check".into(), data(name).into()];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(args, &mut out, &mut err);
    let out = String::from_utf8(out).unwrap() + &String::from_utf8(err).unwrap();
    (code, out)
}

#[test]
fn samples_are_detected_and_judged() {
    for (name, format, linearizable, witness) in [
        ("etcd-ok.log", Format::JepsenLog, true, 0),
        ("etcd-bad.log", Format::JepsenLog, false, 2),
        ("cas-register-ok.edn", Format::Edn, true, 0),
        ("cas-register-bad.edn", Format::Edn, false, 2),
        ("kv-c03-ok.txt", Format::Edn, true, 0),
        ("kv-c03-bad.txt", Format::Edn, false, 2),
        ("register-stale.json", Format::Json, false, 3),
    ] {
        let (detected, _) = read(name);
        assert_eq!(detected, format, "{name}");
        let (code, out) = cli(name);
        if linearizable {
            assert_eq!(code, EXIT_OK, "{name}:\n{out}");
            assert!(out.contains("verdict: linearizable"), "{name}:\n{out}");
        } else {
            assert_eq!(code, EXIT_ILLEGAL, "{name}:\n{out}");
            let line = out.lines().find(|l| l.starts_with("witness:")).unwrap();
            assert!(
                line.contains(&format!(" {witness} of ")),
                "{name}: expected a {witness}-operation witness:\n{out}"
            );
        }
    }
}

#[test]
fn kv_sample_fails_on_the_right_key() {
    let (_, h) = read("kv-c03-bad.txt");
    let o = check(&KeyValue, &h).unwrap();
    let v = o.violation().expect("illegal");
    assert_eq!(v.key.as_deref(), Some("2"));
    // The put, then a get that misses its value (no append can remove it).
    let ops: Vec<&str> = v.minimal.ops().iter().map(|o| o.op.as_str()).collect();
    assert_eq!(ops, ["put", "get"], "{v}");
}

fn edn_verdict(text: &str) -> Outcome {
    check(&nil_register(), &History::from_edn(text).unwrap()).unwrap()
}

/// `:fail` means the operation did not happen: its value can never be read. (Read as
/// `:ok`, the second history's stale read would be illegal; read as `:info`, the first
/// one's read of 1 would be legal.)
#[test]
fn edn_fail_did_not_happen() {
    let failed_write = "{:process 0, :type :invoke, :f :write, :value 1}\n\
                        {:process 0, :type :fail, :f :write, :value 1}\n";
    let o = edn_verdict(&format!(
        "{failed_write}{{:process 1, :type :invoke, :f :read, :value nil}}\n\
         {{:process 1, :type :ok, :f :read, :value 1}}"
    ));
    assert!(o.is_illegal(), "a failed write was read: {o}");
    let o = edn_verdict(&format!(
        "{failed_write}{{:process 1, :type :invoke, :f :read, :value nil}}\n\
         {{:process 1, :type :ok, :f :read, :value nil}}"
    ));
    assert!(o.is_ok(), "{o}");
}

/// `:info` means unknown: the write may land after the `:info` event (so a read of the
/// old value and then a read of the new one are fine), or never; once seen it stays.
#[test]
fn edn_info_may_take_effect_after_it_returned() {
    let info_write = "{:process 0, :type :invoke, :f :write, :value 1}\n\
                      {:process 0, :type :info, :f :write, :value 1}\n";
    let read = |v: &str| {
        format!(
            "{{:process 1, :type :invoke, :f :read, :value nil}}\n\
             {{:process 1, :type :ok, :f :read, :value {v}}}\n"
        )
    };
    for (reads, legal) in [
        (vec!["nil", "1"], true),   // took effect after it "returned"
        (vec!["nil", "nil"], true), // never took effect
        (vec!["1", "1"], true),
        (vec!["1", "nil"], false), // seen, then unseen
    ] {
        let text = format!(
            "{info_write}{}",
            reads.iter().map(|v| read(v)).collect::<String>()
        );
        let o = edn_verdict(&text);
        assert_eq!(o.is_ok(), legal, "reads {reads:?}: {o}");
    }
    // Unknown is not "returned null": a read that timed out claims nothing, a read that
    // returned nil claims the register was empty.
    let written = "{:process 0, :type :invoke, :f :write, :value 1}\n\
                   {:process 0, :type :ok, :f :write, :value 1}\n\
                   {:process 1, :type :invoke, :f :read, :value nil}\n";
    let o = edn_verdict(&format!(
        "{written}{{:process 1, :type :info, :f :read, :value nil}}"
    ));
    assert!(o.is_ok(), "{o}");
    let o = edn_verdict(&format!(
        "{written}{{:process 1, :type :ok, :f :read, :value nil}}"
    ));
    assert!(o.is_illegal(), "{o}");
}

/// In porcupine's etcd logs a `:fail` cas reports a failed comparison: it did not happen
/// *and* the value was not the expected one.
#[test]
fn jepsen_log_fail_cas_is_a_failed_comparison() {
    let log = |cas: &str| {
        format!(
            "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
             INFO  jepsen.util - 0\t:ok\t:write\t1\n\
             INFO  jepsen.util - 1\t:invoke\t:cas\t{cas}\n\
             INFO  jepsen.util - 1\t:fail\t:cas\t{cas}\n\
             INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
             INFO  jepsen.util - 2\t:ok\t:read\t1\n"
        )
    };
    let verdict =
        |text: &str| check(&nil_register(), &History::from_jepsen_log(text).unwrap()).unwrap();
    assert!(verdict(&log("[2 3]")).is_ok());
    // The value was 1 throughout: a comparison with 1 cannot have failed.
    assert!(verdict(&log("[1 3]")).is_illegal());
}

/// Appends concatenate, and an absent key reads as "": porcupine's kv model.
#[test]
fn kv_append_and_empty_reads() {
    let line = |p: u32, t: &str, f: &str, v: &str| {
        format!("{{:process {p}, :type :{t}, :f :{f}, :key \"k\", :value {v}}}\n")
    };
    let verdict = |text: String| check(&KeyValue, &History::from_edn(&text).unwrap()).unwrap();
    let base = line(0, "invoke", "get", "nil") + &line(0, "ok", "get", "\"\"");
    assert!(
        verdict(base.clone()).is_ok(),
        "an absent key reads as the empty string"
    );
    let appended = base
        + &line(1, "invoke", "append", "\"a\"")
        + &line(1, "ok", "append", "\"a\"")
        + &line(1, "invoke", "append", "\"b\"")
        + &line(1, "ok", "append", "\"b\"")
        + &line(2, "invoke", "get", "nil");
    assert!(verdict(appended.clone() + &line(2, "ok", "get", "\"ab\"")).is_ok());
    for wrong in ["\"b\"", "\"ba\"", "\"\"", "\"a\""] {
        let o = verdict(appended.clone() + &line(2, "ok", "get", wrong));
        assert!(o.is_illegal(), "read {wrong} after append a, b: {o}");
    }
}

#[test]
fn malformed_files_are_errors_not_verdicts() {
    let dir = std::env::temp_dir().join(format!("procshare-lin-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, message) in [
        (
            "a.edn",
            "{:process 0 :type :invoke :f :read",
            "EDN history, line 1: unexpected end",
        ),
        (
            "b.log",
            "INFO  jepsen.util - 0\t:invoke\t:read\n",
            "Jepsen log history, line 1: not a Jepsen log line",
        ),
        (
            "c.json",
            "[{\"client\":0,\"call\":5,\"return\":4,\"op\":\"read\"}]",
            "return time 4 is before call time 5",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let args: Vec<OsString> = vec!["procshare-lin".into(), "check".into(), path.into()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_with(args, &mut out, &mut err);
        let err = String::from_utf8(err).unwrap();
        assert_eq!(code, 3, "{name}: {err}");
        assert!(err.contains(message), "{name}: {err}");
    }
}
