//! The HTML report: one self-contained file (inline CSS, no script, no external resource, and a
//! Content-Security-Policy that forbids both), from the template `report.html` beside this file. The
//! template engine escapes every value (auto-escaping for `.html` templates), so a login or a message
//! holding markup is shown as text; undefined variables are errors, not blanks.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, Value};

use super::{ReportError, View};

const TEMPLATE: &str = include_str!("report.html");

pub(super) fn render(view: &View) -> Result<String, ReportError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    // The name's `.html` turns on HTML auto-escaping.
    env.add_template("report.html", TEMPLATE)?;
    let template = env.get_template("report.html")?;
    Ok(template.render(Value::from(minijinja::value::Serde(view)))?)
}
