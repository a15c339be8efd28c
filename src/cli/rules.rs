//! `remedy rules list|show|init`: the shipped rulebooks, embedded in the binary
//! (`pipeline::catalogue`), listed, printed, or written out with their test cases and the rulebook
//! schema to start a new rulebook from.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{print, CliError, Exit, Output, RulesCommand};
use crate::pipeline::catalogue::{self, Shipped};

pub fn rules(command: &RulesCommand, output: Output) -> Result<Exit, CliError> {
    match command {
        RulesCommand::List => list(output)?,
        RulesCommand::Show { name } => {
            let shipped = named(name)?;
            match output {
                Output::Text => print::text(shipped.rulebook)?,
                Output::Json => print::json(
                    &json!({ "name": shipped.name, "rulebook": shipped.rulebook, "tests": shipped.tests }),
                )?,
            }
        }
        RulesCommand::Init { name, dir } => init(named(name)?, dir, output)?,
    }
    Ok(Exit::Ok)
}

fn named(name: &str) -> Result<&'static Shipped, CliError> {
    catalogue::find(name).ok_or_else(|| CliError::UnknownShipped {
        name: name.to_string(),
        known: catalogue::names(),
    })
}

fn list(output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => print::json(&json!(catalogue::CATALOGUE
            .iter()
            .map(|s| json!({ "name": s.name, "summary": s.summary() }))
            .collect::<Vec<_>>())),
        Output::Text => {
            let width = catalogue::CATALOGUE
                .iter()
                .map(|s| s.name.len())
                .max()
                .unwrap_or(0);
            let mut text = String::new();
            for s in catalogue::CATALOGUE {
                text.push_str(&format!("{:<width$}  {}\n", s.name, s.summary()));
            }
            text.push_str("\nUse a name wherever a rulebook path goes (`remedy plan --rules NAME`), or start your own with `remedy rules init NAME DIR`.\n");
            print::text(&text)
        }
    }
}

/// The schema the written rulebook's header points at, beside it.
const SCHEMA_FILE: &str = "rulebook.schema.json";

/// Writes `NAME.yaml`, `NAME.tests.yaml`, its reviewed decisions `NAME.snap` and the schema into
/// `dir`, refusing to overwrite a file.
fn init(shipped: &Shipped, dir: &Path, output: Output) -> Result<(), CliError> {
    let schema = serde_json::to_string_pretty(&crate::rulebook::schema::rulebook_schema())? + "\n";
    // The shipped header points into the repository (`../docs/...`); the copy points beside itself.
    let header = format!("# yaml-language-server: $schema={SCHEMA_FILE}");
    let rulebook = match shipped.rulebook.split_once('\n') {
        Some((first, rest)) if first.starts_with("# yaml-language-server:") => {
            format!("{header}\n{rest}")
        }
        _ => format!("{header}\n{}", shipped.rulebook),
    };
    // References to `rules/NAME.yaml` name the copy beside them.
    let (shipped_path, copy) = (
        format!("rules/{}.yaml", shipped.name),
        format!("{}.yaml", shipped.name),
    );
    let tests = shipped.tests.replace(&shipped_path, &copy);
    let decisions = shipped.decisions.replace(&shipped_path, &copy);
    let files: [(PathBuf, &str); 4] = [
        (dir.join(&copy), &rulebook),
        (dir.join(format!("{}.tests.yaml", shipped.name)), &tests),
        (dir.join(format!("{}.snap", shipped.name)), &decisions),
        (dir.join(SCHEMA_FILE), &schema),
    ];
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| CliError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    // The schema is shared by every rulebook in the directory: an existing one is kept.
    for (path, _) in &files[..3] {
        if path.exists() {
            return Err(CliError::Exists {
                path: path.display().to_string(),
            });
        }
    }
    let mut written = Vec::new();
    for (path, text) in &files {
        if path.exists() {
            continue;
        }
        std::fs::write(path, text).map_err(write_err(path))?;
        written.push(path.display().to_string());
    }
    match output {
        Output::Json => print::json(&json!({ "written": written })),
        Output::Text => print::text(&format!(
            "wrote {}\ncheck it with: remedy test {}\n",
            written.join(", "),
            files[0].0.display()
        )),
    }
}
