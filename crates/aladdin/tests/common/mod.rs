//! Helpers shared by the CLI tests: run the real binary, read output trees back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_aladdin");

/// The table names of a built-in scenario, read from faux (tests list no tables of their own).
pub fn tables_of(scenario: &str) -> Vec<&'static str> {
    faux::Scenario::by_name(scenario, faux::DEFAULT_SEED)
        .unwrap()
        .tables()
        .iter()
        .map(|t| t.name)
        .collect()
}

/// Runs `aladdin ARGS…` and returns its output (never panics on a non-zero exit).
pub fn aladdin(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ALADDIN_LOG")
        .output()
        .expect("aladdin runs")
}

/// Runs `aladdin ARGS…` and panics with its stderr unless it succeeds.
pub fn ok(args: &[&str]) -> Output {
    let out = aladdin(args);
    assert!(
        out.status.success(),
        "aladdin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file below `dir`, by `/`-separated relative path, with its bytes. For a finished run:
/// a listed file that cannot be read panics.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    file_names(dir)
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, bytes)
        })
        .collect()
}

/// The `/`-separated relative paths of the files below `dir`. Safe to poll while a run still
/// writes there: a file or folder that vanishes between listing and looking (a temporary
/// renamed into place) is absent, not a panic.
pub fn file_names(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => walk(root, &entry.path(), out),
                Ok(_) => out.push(
                    entry
                        .path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                ),
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts two trees hold the same files with the same bytes, naming the first difference.
pub fn assert_same_tree(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let names_a: Vec<_> = a.keys().collect();
    let names_b: Vec<_> = b.keys().collect();
    assert_eq!(names_a, names_b, "the trees hold different files");
    for (name, bytes) in a {
        assert!(bytes == &b[name], "{name} differs");
    }
}

/// A CSV file's data rows (header dropped), each split into fields. Our ids, dates and
/// enums never need quoting, which the tests below rely on and check.
pub fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(!text.contains('"'), "unexpected quoting");
    let mut lines = text.split_terminator("\r\n");
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    csv_rows(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// An RFC 4180 CSV file (quoted fields allowed): header and rows.
pub fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "file does not end with CRLF"
    );
    let mut it = records.into_iter();
    (it.next().expect("header"), it.collect())
}
