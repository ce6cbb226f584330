//! The Kestra flows in examples/kestra: each parses as YAML and uses current plugin type names,
//! the flows chain into one pipeline (produce_data → load_postgres → dbt_run →
//! marketing_roi_chart) whose triggers pass only inputs and outputs that exist, and every
//! `aladdin` command they run is one the README documents — and actually runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use test_support::tools::repo_root;
use yaml_rust2::{Yaml, YamlLoader};

/// The plugin types the flows may use: today's names (Kestra 0.17+), none of the legacy
/// `io.kestra.core.tasks.*` / `io.kestra.core.models.*` aliases the blog used.
const KNOWN_TYPES: [&str; 8] = [
    "io.kestra.plugin.scripts.shell.Commands",
    "io.kestra.plugin.core.runner.Process",
    "io.kestra.plugin.core.debug.Return",
    "io.kestra.plugin.core.trigger.Schedule",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.plugin.jdbc.postgresql.Queries",
    "io.kestra.plugin.jdbc.postgresql.CopyIn",
    "io.kestra.plugin.dbt.cli.DbtCLI",
];
/// pluginDefaults name a plugin package (a prefix of task types).
const PLUGIN_DEFAULT_PREFIXES: [&str; 1] = ["io.kestra.plugin.jdbc.postgresql"];
const INPUT_TYPES: [&str; 2] = ["STRING", "FILE"];

struct Flow {
    file: PathBuf,
    doc: Yaml,
}

impl Flow {
    fn id(&self) -> &str {
        self.doc["id"].as_str().expect("id")
    }
    fn ids(&self, key: &str) -> BTreeSet<String> {
        self.doc[key]
            .as_vec()
            .map(|v| {
                v.iter()
                    .map(|x| x["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn flows() -> Vec<Flow> {
    let dir = repo_root().join("examples/kestra");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let mut docs = YamlLoader::load_from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
            assert_eq!(docs.len(), 1, "{}: one document", file.display());
            Flow {
                file,
                doc: docs.remove(0),
            }
        })
        .collect()
}

/// Every string value under a `type` key, with the path to it.
fn types(y: &Yaml, at: &str, out: &mut Vec<(String, String)>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = k.as_str().unwrap_or("?");
                if key == "type"
                    && let Some(t) = v.as_str()
                {
                    out.push((at.to_string(), t.to_string()));
                }
                types(v, &format!("{at}.{key}"), out);
            }
        }
        Yaml::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                types(v, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every command line of every `commands:` list.
fn commands(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                if k.as_str() == Some("commands") {
                    out.extend(
                        v.as_vec()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_str().unwrap().to_string()),
                    );
                }
                commands(v, out);
            }
        }
        Yaml::Array(a) => a.iter().for_each(|v| commands(v, out)),
        _ => {}
    }
}

/// The names after `prefix` in `{{ prefix.NAME … }}` expressions of a text.
fn references(text: &str, prefix: &str) -> BTreeSet<String> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn flows_parse_and_use_current_plugin_types() {
    let flows = flows();
    assert!(flows.len() >= 4, "the four pipeline flows");
    for f in &flows {
        let name = f.file.display();
        assert_eq!(
            Some(f.id()),
            f.file.file_stem().and_then(|s| s.to_str()),
            "{name}: id is the file name"
        );
        assert_eq!(f.doc["namespace"].as_str(), Some("shiny_rocks"), "{name}");
        let tasks = f.doc["tasks"]
            .as_vec()
            .unwrap_or_else(|| panic!("{name}: tasks"));
        assert!(!tasks.is_empty());
        for t in tasks {
            assert!(
                t["id"].as_str().is_some() && t["type"].as_str().is_some(),
                "{name}: task {t:?}"
            );
        }
        let mut found = Vec::new();
        types(&f.doc, "", &mut found);
        for (at, t) in found {
            let ok = if at.starts_with(".pluginDefaults") {
                PLUGIN_DEFAULT_PREFIXES.contains(&t.as_str())
            } else if at.starts_with(".inputs") || at.starts_with(".outputs") {
                INPUT_TYPES.contains(&t.as_str())
            } else {
                KNOWN_TYPES.contains(&t.as_str())
            };
            assert!(ok, "{name}: {at}.type = {t} is not a current Kestra type");
        }
    }
}

#[test]
fn flows_chain_into_one_pipeline() {
    let flows = flows();
    let by_id: BTreeMap<&str, &Flow> = flows.iter().map(|f| (f.id(), f)).collect();
    let mut upstream_of = BTreeMap::new();
    for f in &flows {
        let text = std::fs::read_to_string(&f.file).unwrap();
        // flow outputs only read tasks of the flow
        let tasks = f.ids("tasks");
        if let Some(outputs) = f.doc["outputs"].as_vec() {
            for o in outputs {
                let value = o["value"].as_str().unwrap();
                for t in references(value, "outputs.") {
                    assert!(
                        tasks.contains(&t),
                        "{}: output reads unknown task {t}",
                        f.id()
                    );
                }
            }
        }
        for trigger in f.doc["triggers"].as_vec().into_iter().flatten() {
            if trigger["type"].as_str() != Some("io.kestra.plugin.core.trigger.Flow") {
                continue;
            }
            let pre = trigger["preconditions"]["flows"]
                .as_vec()
                .expect("preconditions.flows");
            assert_eq!(pre.len(), 1, "{}: one upstream flow", f.id());
            assert_eq!(pre[0]["namespace"].as_str(), Some("shiny_rocks"));
            assert_eq!(pre[0]["states"][0].as_str(), Some("SUCCESS"));
            let up_id = pre[0]["flowId"].as_str().unwrap();
            let up = by_id
                .get(up_id)
                .unwrap_or_else(|| panic!("{}: unknown upstream {up_id}", f.id()));
            upstream_of.insert(f.id().to_string(), up_id.to_string());
            // the trigger fills exactly the flow's inputs, from outputs the upstream declares
            let given: BTreeSet<String> = trigger["inputs"]
                .as_hash()
                .expect("trigger inputs")
                .keys()
                .map(|k| k.as_str().unwrap().to_string())
                .collect();
            assert_eq!(given, f.ids("inputs"), "{}: trigger inputs", f.id());
            let up_outputs = up.ids("outputs");
            for name in references(&text, "trigger.outputs.") {
                assert!(
                    up_outputs.contains(&name),
                    "{} reads {up_id}'s output {name}, which it lacks",
                    f.id()
                );
            }
        }
    }
    let chain: Vec<(&str, &str)> = upstream_of
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        chain,
        [
            ("dbt_run", "load_postgres"),
            ("load_postgres", "produce_data"),
            ("marketing_roi_chart", "dbt_run"),
        ]
    );
}

#[test]
fn flows_run_the_commands_the_readme_documents() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut aladdin_lines = Vec::new();
    for f in flows() {
        assert!(
            readme.contains(&format!(
                "examples/kestra/{}",
                f.file.file_name().unwrap().to_str().unwrap()
            )),
            "README does not mention {}",
            f.file.display()
        );
        let mut cmds = Vec::new();
        commands(&f.doc, &mut cmds);
        for c in cmds.into_iter().filter(|c| c.starts_with("aladdin ")) {
            assert!(
                readme.contains(&c),
                "README lacks the command of {}: {c}",
                f.id()
            );
            aladdin_lines.push(c);
        }
    }
    assert!(
        aladdin_lines
            .iter()
            .any(|c| c.starts_with("aladdin generate "))
    );
    assert!(
        aladdin_lines
            .iter()
            .any(|c| c.starts_with("aladdin chart "))
    );

    // and the producer's command, rendered for a date, writes the four files of that date
    let produce = aladdin_lines
        .iter()
        .find(|c| c.starts_with("aladdin generate "))
        .unwrap();
    let rendered = produce.replace(
        r#"{{ trigger.date ?? execution.startDate | date("yyyy-MM-dd") }}"#,
        "2024-05-17",
    );
    assert!(
        !rendered.contains("{{"),
        "unrendered template in {rendered}"
    );
    let dir = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(common::BIN)
        .args(rendered.split_whitespace().skip(1))
        .arg("-q")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::stderr(&run));
    for table in common::tables_of("shiny-rocks") {
        let (_, rows) = common::read_csv(&dir.path().join(format!("{table}.csv")));
        assert!(!rows.is_empty(), "{table}.csv is empty");
    }
    let (_, orders) = common::read_csv(&dir.path().join("orders.csv"));
    assert!(orders.iter().all(|r| r[2] == "2024-05-17"));
}
