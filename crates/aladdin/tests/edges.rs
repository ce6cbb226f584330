//! The rough edges a new user hit in the first hour (issue 14), each pinned by a test.

mod common;

use common::ok;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scenario_show_describes_every_tunable() {
    let text = stdout(&ok(&["scenario", "show", "ecommerce"]));
    let tunables = text
        .split("\ntunables\n")
        .nth(1)
        .expect("a tunables section");
    let lines: Vec<&str> = tunables.lines().collect();
    let mut blank = Vec::new();
    for pair in lines.chunks(2) {
        let name = pair[0].trim().split(" = ").next().unwrap();
        if pair.get(1).is_none_or(|d| d.trim().is_empty()) {
            blank.push(name);
        }
    }
    assert!(lines.len() > 80, "{} lines of tunables", lines.len());
    assert!(
        blank.is_empty(),
        "tunables without a description: {blank:?}"
    );
}
