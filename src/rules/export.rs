//! `rules export`: the file that was tested, in the two forms that deploy
//! it: the exact body of `POST /api/v2/security_monitoring/rules`, and a
//! Terraform `datadog_security_monitoring_rule` resource in Terraform's
//! JSON syntax (`.tf.json`), whose blocks and attributes are the
//! provider's names for the same fields.
//!
//! The API body is the rule file as written (YAML becomes JSON), unknown
//! fields included, with one addition: a new value rule's
//! `newValueOptions` are written out whole, with the values the replay
//! used where the file left them out, because the provider's defaults
//! differ from the API's (`learning_duration` 1 where the API's is 0). The
//! resource carries every field the provider has a name for; a field it
//! has none for is listed, and the export refuses the rule. Strings are
//! escaped for Terraform's templates (`${` and `%{`).

use serde_json::{Map, Value, json};

use super::file::{DetectionRule, NewValueOptions};

/// The API request body: the file, with its new value options resolved.
pub fn api_body(rule: &DetectionRule) -> Value {
    let mut body = rule.body.clone();
    if let (Some(options), Some(object)) = (
        rule.options.new_value,
        body.get_mut("options").and_then(Value::as_object_mut),
    ) {
        let resolved = object.entry("newValueOptions").or_insert_with(|| json!({}));
        if let Some(resolved) = resolved.as_object_mut() {
            for (key, value) in resolved_new_value(options) {
                resolved.entry(key).or_insert(value);
            }
        }
    }
    body
}

fn resolved_new_value(o: NewValueOptions) -> [(&'static str, Value); 4] {
    [
        ("learningDuration", json!(o.learning_duration_days)),
        (
            "learningMethod",
            json!(if o.learning_method_threshold {
                "threshold"
            } else {
                "duration"
            }),
        ),
        ("learningThreshold", json!(o.learning_threshold)),
        ("forgetAfter", json!(o.forget_after_days)),
    ]
}

/// `value` with every string escaped for Terraform's JSON syntax, which
/// reads `${...}` and `%{...}` in strings as templates.
fn escape_templates(value: &mut Value) {
    match value {
        Value::String(s) if s.contains("${") || s.contains("%{") => {
            *s = s.replace("${", "$${").replace("%{", "%%{");
        }
        Value::Array(items) => items.iter_mut().for_each(escape_templates),
        Value::Object(map) => map.values_mut().for_each(escape_templates),
        _ => {}
    }
}

/// Fields of each object and the provider's name for them.
const TOP: &[(&str, &str)] = &[
    ("name", "name"),
    ("message", "message"),
    ("tags", "tags"),
    ("isEnabled", "enabled"),
    ("type", "type"),
    ("hasExtendedTitle", "has_extended_title"),
    ("groupSignalsBy", "group_signals_by"),
];
const QUERY: &[(&str, &str)] = &[
    ("name", "name"),
    ("query", "query"),
    ("aggregation", "aggregation"),
    ("groupByFields", "group_by_fields"),
    ("distinctFields", "distinct_fields"),
    ("metric", "metric"),
    ("metrics", "metrics"),
    ("dataSource", "data_source"),
];
const CASE: &[(&str, &str)] = &[
    ("name", "name"),
    ("status", "status"),
    ("condition", "condition"),
    ("notifications", "notifications"),
];
const OPTIONS: &[(&str, &str)] = &[
    ("detectionMethod", "detection_method"),
    ("evaluationWindow", "evaluation_window"),
    ("keepAlive", "keep_alive"),
    ("maxSignalDuration", "max_signal_duration"),
    (
        "decreaseCriticalityBasedOnEnv",
        "decrease_criticality_based_on_env",
    ),
];
const NEW_VALUE: &[(&str, &str)] = &[
    ("learningDuration", "learning_duration"),
    ("learningMethod", "learning_method"),
    ("learningThreshold", "learning_threshold"),
    ("forgetAfter", "forget_after"),
];
const FILTER: &[(&str, &str)] = &[("action", "action"), ("query", "query")];

/// Copies `object`'s fields named in `names` under the provider's names;
/// others go to `left` with their path.
fn rename(
    object: &Value,
    names: &[(&str, &str)],
    path: &str,
    skip: &[&str],
    left: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(fields) = object.as_object() else {
        return out;
    };
    for (key, value) in fields {
        if skip.contains(&key.as_str()) {
            continue;
        }
        match names.iter().find(|(api, _)| api == key) {
            Some((_, tf)) => {
                out.insert((*tf).to_owned(), value.clone());
            }
            None => left.push(format!("{path}{key}")),
        }
    }
    out
}

fn blocks(
    value: Option<&Value>,
    names: &[(&str, &str)],
    path: &str,
    left: &mut Vec<String>,
) -> Vec<Value> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    Value::Object(rename(item, names, &format!("{path}[{i}]."), &[], left))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A Terraform resource name: letters, digits, `_` and `-`, not starting
/// with a digit.
pub fn resource_name(stem: &str) -> String {
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'r');
        name.insert(1, '_');
    }
    name
}

/// The Terraform resource (`.tf.json`), and the fields it has no name for.
pub fn terraform(rule: &DetectionRule, resource: &str) -> (Value, Vec<String>) {
    let body = &api_body(rule);
    let mut left = Vec::new();
    let mut top = rename(
        body,
        TOP,
        "",
        &["queries", "cases", "options", "filters"],
        &mut left,
    );
    top.insert(
        "query".into(),
        Value::Array(blocks(body.get("queries"), QUERY, "queries", &mut left)),
    );
    top.insert(
        "case".into(),
        Value::Array(blocks(body.get("cases"), CASE, "cases", &mut left)),
    );
    let filters = blocks(body.get("filters"), FILTER, "filters", &mut left);
    if !filters.is_empty() {
        top.insert("filter".into(), Value::Array(filters));
    }
    if let Some(options) = body.get("options") {
        let mut out = rename(
            options,
            OPTIONS,
            "options.",
            &["newValueOptions"],
            &mut left,
        );
        if let Some(nv) = options.get("newValueOptions") {
            let nv = rename(nv, NEW_VALUE, "options.newValueOptions.", &[], &mut left);
            out.insert("new_value_options".into(), json!([nv]));
        }
        top.insert("options".into(), json!([out]));
    }
    let mut top = Value::Object(top);
    escape_templates(&mut top);
    let resource = json!({
        "resource": {
            "datadog_security_monitoring_rule": {
                resource: top
            }
        }
    });
    (resource, left)
}
