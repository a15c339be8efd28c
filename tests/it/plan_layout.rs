//! Plan format 3's layout: each subject's steps on the subject's own line. A plan written as it is
//! made (`remedy plan --subjects ... --out`, streamed) is byte for byte the same plan written from
//! memory (`Plan::to_json`, as live plans, the demo and `serve` write theirs), and reads back equal.
//! A plan put together by hand whose steps do not follow their subjects loses none: those are listed
//! apart, after the subjects, and read back in the same order. `show` and `apply`'s reading see every
//! step of a plan whose subjects have several each.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use okta_remedy::apply::journal::{Journal, StepState};
use okta_remedy::apply::units::{self, ToApply};
use okta_remedy::pipeline::{plan_file_to, plan_from_file, PlanFileError};
use okta_remedy::plan::stream::{Item, Opened, PlanItems, Want};
use okta_remedy::plan::{Plan, Step};
use okta_remedy::rulebook;
use serde_json::Value;

use crate::cli::{crate_root, relative, remedy, NOW};

/// A plan's steps as its JSON holds them, in file order: each subject's `steps` (format 3), then
/// the top-level `steps` array (format 2, or format 3's steps listed apart).
pub fn plan_steps(plan: &Value) -> Vec<Value> {
    let inline = plan["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("steps"));
    inline
        .chain(plan.get("steps"))
        .flat_map(|steps| steps.as_array().unwrap().iter().cloned())
        .collect()
}

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The most steps any one subject of `plan` has.
fn most_steps_per_subject(plan: &Plan) -> usize {
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for st in &plan.steps {
        *per.entry(&st.subject).or_default() += 1;
    }
    per.into_values().max().unwrap_or(0)
}

/// Every step `items` hands over when asked for steps only, in order.
fn streamed_steps(items: &dyn PlanItems) -> Vec<Step> {
    let mut out = Vec::new();
    let want = Want {
        subjects: false,
        steps: true,
    };
    items
        .each(want, &mut |item| {
            if let Item::Step(st) = item {
                out.push(st);
            }
            Ok(true)
        })
        .unwrap();
    out
}

/// Plans `subjects` with `rules` (both relative to the crate root) at `now` in memory and as a
/// stream into a file; asserts the two are the same bytes and read back as the plan in memory.
/// Returns the plan (the refused one when it is over a guard).
fn same_in_memory_and_streamed(rules: &str, subjects: &str, now: DateTime<Utc>) -> Plan {
    let rb = rulebook::load(Path::new(rules)).unwrap();
    let memory = match plan_from_file(&rb, Path::new(subjects), Some(now)) {
        Ok(p) => p,
        Err(PlanFileError::Plan(e)) => e.refused_plan().cloned().unwrap(),
        Err(e) => panic!("{rules}: {e}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    let (head, refused) = plan_file_to(&rb, Path::new(subjects), Some(now), &out).unwrap();
    assert_eq!(refused.is_some(), memory.refused.is_some(), "{rules}");
    assert!(
        std::fs::read_to_string(&out).unwrap() == memory.to_json(),
        "{rules}: the streamed plan is not the plan written from memory"
    );
    assert_eq!(head, memory.head(), "{rules}");
    assert!(Plan::read(&out).unwrap() == memory, "{rules}: read back");
    // Read as a stream (what `show`, reports and `apply` do), the steps are the plan's, in order.
    assert_eq!(
        streamed_steps(&Opened::open(&out).unwrap()),
        memory.steps,
        "{rules}"
    );
    // Every step is on its subject's line: none listed apart.
    let json = json_of(&out);
    assert!(json.get("steps").is_none(), "{rules}: steps listed apart");
    assert_eq!(plan_steps(&json).len(), memory.steps.len());
    memory
}

/// Every scenario of tests/cases (guards over included) and the seed rulebook: streamed and written
/// from memory, the same bytes.
#[test]
fn a_plan_written_as_it_is_made_is_the_plan_written_from_memory() {
    let mut several = 0;
    let mut cases: Vec<_> = std::fs::read_dir(crate_root().join("tests/cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| d.join("rulebook.yaml").exists())
        .collect();
    cases.sort();
    for dir in &cases {
        let rules = relative(&dir.join("rulebook.yaml"));
        let subjects = crate::cases::subjects_file(dir);
        let plan = same_in_memory_and_streamed(&rules, &subjects, crate::cases::now_of(dir));
        several += usize::from(most_steps_per_subject(&plan) >= 2);
    }
    let now = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    let seed = same_in_memory_and_streamed(
        "rules/org2org-password-sync.yaml",
        "examples/subjects/org2org-failures.jsonl",
        now,
    );
    assert_eq!(most_steps_per_subject(&seed), 3);
    assert!(
        several >= 3,
        "{several} scenarios have a subject with 2+ steps"
    );
}

/// `remedy plan --subjects --out` (the binary, streamed) writes the bytes the library writes from
/// memory for the seed rulebook, whose federated subjects have three steps each on their line.
#[test]
fn remedy_plan_out_writes_the_in_memory_plan_byte_for_byte() {
    let (rules, subjects) = (
        "rules/org2org-password-sync.yaml",
        "examples/subjects/org2org-failures.jsonl",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.json");
    let run = remedy(&[
        "plan",
        "--rules",
        rules,
        "--subjects",
        subjects,
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let rb = rulebook::load(Path::new(rules)).unwrap();
    let now = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    let memory = plan_from_file(&rb, Path::new(subjects), Some(now)).unwrap();
    assert!(std::fs::read_to_string(&out).unwrap() == memory.to_json());
    let text = std::fs::read_to_string(&out).unwrap();
    // Three steps on the first subject's line, in order; no top-level `steps`.
    let first = text
        .lines()
        .find(|l| l.starts_with("    {\"key\":"))
        .unwrap();
    let first: Value = serde_json::from_str(first.trim_end_matches(',')).unwrap();
    let ids: Vec<&str> = first["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s0001", "s0002", "s0003"]);
    assert!(!text.contains("\n  \"steps\": "));
    assert!(json_of(&out).get("steps").is_none());
}

/// The seed plan in memory, with its steps rearranged by `edit`, sealed again.
fn rearranged(edit: impl FnOnce(&mut Vec<Step>)) -> Plan {
    let rb = rulebook::load(Path::new("rules/org2org-password-sync.yaml")).unwrap();
    let now = DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc);
    let path = Path::new("examples/subjects/org2org-failures.jsonl");
    let mut plan = plan_from_file(&rb, path, Some(now)).unwrap();
    edit(&mut plan.steps);
    plan.seal();
    plan
}

/// A rearrangement of a plan's steps.
type Edit = Box<dyn FnOnce(&mut Vec<Step>)>;

/// A plan put together by hand whose steps do not all follow their subject, in memory: written with
/// `to_json`, those are listed apart after the subjects, and `Plan::read` and the stream give every
/// step back in the plan's order.
#[test]
fn steps_that_do_not_follow_their_subject_are_listed_apart_and_read_back() {
    let stranger = |steps: &mut Vec<Step>| {
        let mut st = steps[4].clone();
        st.id = "s9999".into();
        st.subject = "nobody@example.com".into();
        steps.insert(2, st);
    };
    let cases: [(&str, Edit); 5] = [
        ("reversed", Box::new(|s: &mut Vec<Step>| s.reverse())),
        (
            "last subject's steps first",
            Box::new(|s: &mut Vec<Step>| s.rotate_right(1)),
        ),
        (
            "a chain broken",
            Box::new(|s: &mut Vec<Step>| s[1].depends_on.clear()),
        ),
        ("a step of a subject not listed", Box::new(stranger)),
        (
            "a subject's step moved to the end",
            Box::new(|s: &mut Vec<Step>| {
                let st = s.remove(0);
                s.push(st);
            }),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, edit) in cases {
        let plan = rearranged(edit);
        let path = dir.path().join("plan.json");
        std::fs::write(&path, plan.to_json()).unwrap();
        let json = json_of(&path);
        let apart = json["steps"].as_array();
        assert!(apart.is_some_and(|a| !a.is_empty()), "{name}: none apart");
        let ids = |steps: &[Step]| steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        let in_file: Vec<String> = plan_steps(&json)
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(in_file, ids(&plan.steps), "{name}: in the file");
        let read = Plan::read(&path).unwrap();
        assert!(read == plan, "{name}: read back differs");
        let opened = Opened::open(&path).unwrap();
        assert_eq!(streamed_steps(&opened), plan.steps, "{name}: streamed");
    }
    // Unchanged, the plan lists none apart.
    let plan = rearranged(|_| {});
    let path = dir.path().join("plan.json");
    std::fs::write(&path, plan.to_json()).unwrap();
    assert!(json_of(&path).get("steps").is_none());
}

/// Locked-out users whose rule has three steps (report, unlock, report).
const THREE_STEPS: &str = "version: 1\nname: three-steps\ndescription: Three steps a subject.\n\
subjects: { kind: user, org: hub }\nrules:\n  - id: unlock-and-say-so\n\
\x20   description: Locked for more than an hour; say so, unlock, say so.\n\
\x20   when:\n      all:\n        - { path: $.user.status, equals: LOCKED_OUT }\n\
\x20       - { path: $.user.statusChanged, older_than: 1h }\n\
\x20   then:\n      - { action: report, message: \"unlocking {{ $.user.profile.login }}\" }\n\
\x20     - { action: unlock, org: hub }\n\
\x20     - { action: report, message: \"unlocked {{ $.user.profile.login }}\" }\n";

/// Step ids of `show` text lines (`  = s0001 ...`).
fn shown_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.get(2..).and_then(|l| l.split_whitespace().nth(1)))
        .filter(|w| w.len() == 5 && w.starts_with('s'))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

/// A plan whose every subject has three steps: `show` (text and markdown) lists every step,
/// `apply`'s reading hands each subject its three, and `apply` runs them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_and_apply_see_every_step_of_subjects_with_several() {
    let env = crate::plans_at_scale::locked_out(12).await;
    std::fs::write(&env.rules, THREE_STEPS).unwrap();
    let path = env.plan().await;
    let json = json_of(&path);
    let total = json["summary"]["steps"].as_u64().unwrap() as usize;
    assert_eq!(total, 36);
    let subjects = json["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 12);
    assert!(subjects
        .iter()
        .all(|s| s["steps"].as_array().unwrap().len() == 3));
    let mut all: Vec<String> = (1..=total).map(|i| format!("s{i:04}")).collect();
    all.sort();

    let show = env.remedy(&["show", "plan.json", "--all"]).await;
    assert_eq!(show.code, 0, "{}", show.transcript());
    assert_eq!(shown_ids(&show.stdout), all, "{}", show.stdout);
    let markdown = env
        .remedy(&["show", "plan.json", "--all", "--format", "markdown"])
        .await;
    assert_eq!(markdown.code, 0, "{}", markdown.transcript());
    for id in &all {
        assert!(markdown.stdout.contains(id.as_str()), "{id} not shown");
    }

    // What `apply` reads: each subject with its own three steps, in the plan's order.
    let opened = Opened::open(&path).unwrap();
    let to_apply = ToApply::File(&opened);
    units::check(&to_apply).unwrap();
    let mut seen = Vec::new();
    for unit in to_apply.units() {
        let (subject, steps) = unit.unwrap();
        assert_eq!(steps.len(), 3, "{}", subject.key);
        assert!(steps.iter().all(|st| st.subject == subject.key));
        seen.extend(steps.into_iter().map(|st| st.id));
    }
    assert_eq!(seen.len(), total);

    let run = env.apply(&[]).await;
    assert_eq!(run.code, 0, "{}", run.transcript());
    let journal = Journal::open_existing(&env.path("plan.journal.sqlite")).unwrap();
    let steps = journal.steps().unwrap();
    let done: Vec<String> = steps
        .iter()
        .filter(|s| s.state == StepState::Done)
        .map(|s| s.step_id.clone())
        .collect();
    assert_eq!(done, all, "{steps:?}");
    let unlocks = env
        .sim
        .requests(okta_remedy::sim::OrgName::Hub)
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/lifecycle/unlock"))
        .count();
    assert_eq!(unlocks, 12);
}

/// Two subjects with one key (possible in a subjects file, or two assignments of one login): the
/// first protected, the second matched with two steps. Streamed, the steps are on the matched
/// subject's line; from memory, `Plan::write_to` gives them to the first subject of that key that
/// has none yet, the protected one, so the two files differ.
#[test]
fn steps_stay_with_their_subject_when_two_subjects_share_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let subjects = dir.path().join("subjects.jsonl");
    let line = |department: &str, id: &str| {
        format!(
            "{{\"spoke_user\":{{\"profile\":{{\"login\":\"dup@example.com\",\"department\":\"{department}\"}}}},\
             \"user\":{{\"id\":\"{id}\",\"status\":\"ACTIVE\",\"profile\":{{\"login\":\"dup@example.com\"}},\
             \"credentials\":{{\"provider\":{{\"type\":\"FEDERATION\"}}}}}}}}\n"
        )
    };
    let text = format!("{}{}", line("Security", "00u7"), line("IT", "00u8"));
    std::fs::write(&subjects, text).unwrap();
    let plan = same_in_memory_and_streamed(
        "tests/cases/protect-guards/rulebook.yaml",
        subjects.to_str().unwrap(),
        DateTime::parse_from_rfc3339(NOW)
            .unwrap()
            .with_timezone(&Utc),
    );
    assert_eq!(plan.steps.len(), 2);
}
