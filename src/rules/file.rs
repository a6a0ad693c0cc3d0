//! A rule file: the JSON body of Datadog's
//! `POST /api/v2/security_monitoring/rules` for a log detection rule, read
//! and checked against the constraints the API's schema publishes
//! (`SecurityMonitoringStandardRuleCreatePayload` in Datadog's OpenAPI
//! spec): required fields, allowed values, and case conditions that name
//! the rule's queries. Every error names its field by path
//! (`options.keepAlive`). Fields the schema has and this tool does not read
//! are kept as they are, for the export, and listed as warnings.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use thiserror::Error;

use super::condition::{Condition, ConditionError};

/// Why a rule file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    #[error("the rule file is not JSON: {0}")]
    NotJson(String),
    #[error("the rule file is not YAML: {0}")]
    NotYaml(String),
    #[error("{field} is required")]
    Missing { field: String },
    #[error("{field} must be {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("{field} is {value}; it accepts {accepts}")]
    NotAllowed {
        field: String,
        value: String,
        accepts: &'static str,
    },
    #[error("{field} is not a condition: {error}")]
    BadCondition { field: String, error: String },
    #[error(
        "{field} names the query {name:?}, which the rule does not have (its queries: {known})"
    )]
    UnknownQuery {
        field: String,
        name: String,
        known: String,
    },
    #[error("{field}: {problem}")]
    Inconsistent {
        field: String,
        problem: &'static str,
    },
}

/// A field kept but not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWarning {
    pub field: String,
}

impl std::fmt::Display for RuleWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not read by this tool; it is kept in the export",
            self.field
        )
    }
}

/// How a rule detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectionMethod {
    Threshold,
    NewValue,
}

/// What a query computes over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Count,
    Cardinality,
    Sum,
    Max,
    NewValue,
}

/// A signal's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleQuery {
    /// Its name in conditions: `name`, or `a`, `b`, ... by position.
    pub name: String,
    pub query: String,
    pub group_by_fields: Vec<String>,
    pub distinct_fields: Vec<String>,
    pub aggregation: Aggregation,
    /// The field a `cardinality`, `sum`, `max` or `new_value` reads
    /// (`metrics`, or the older `metric`).
    pub metrics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleCase {
    pub name: String,
    pub status: Severity,
    /// `None` for a new value rule's case.
    pub condition: Option<Condition>,
}

/// Days; the schema's allowed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewValueOptions {
    pub learning_duration_days: u32,
    pub learning_method_threshold: bool,
    pub learning_threshold: u32,
    pub forget_after_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleOptions {
    pub detection_method: DetectionMethod,
    /// Seconds.
    pub evaluation_window: u32,
    pub keep_alive: u32,
    pub max_signal_duration: u32,
    pub new_value: Option<NewValueOptions>,
}

/// A rule-wide filter: "Only generate a signal if there is a match"
/// (`require`) or "This rule will not generate a signal if there is a
/// match" (`suppress`), a query on each event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFilter {
    pub suppress: bool,
    pub query: String,
}

/// A rule file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionRule {
    pub name: String,
    pub message: String,
    pub tags: Vec<String>,
    pub is_enabled: bool,
    pub queries: Vec<RuleQuery>,
    pub cases: Vec<RuleCase>,
    pub options: RuleOptions,
    pub filters: Vec<RuleFilter>,
    /// The file as written: what the export sends.
    pub body: Value,
    pub warnings: Vec<RuleWarning>,
}

/// The schema's allowed windows, in seconds (`SecurityMonitoringRuleEvaluationWindow`,
/// `...KeepAlive`, `...MaxSignalDuration`: the same list).
const WINDOWS: [u32; 12] = [
    0, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];
const WINDOWS_ACCEPT: &str =
    "one of 0, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400 (seconds)";

/// Reads one object's fields, each at most once, and lists the ones left.
struct Fields<'v> {
    path: String,
    map: &'v Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'v> Fields<'v> {
    fn of(value: &'v Value, path: &str) -> Result<Self, RuleError> {
        let map = value.as_object().ok_or_else(|| RuleError::WrongType {
            field: if path.is_empty() {
                "the rule".into()
            } else {
                path.into()
            },
            expected: "an object",
        })?;
        Ok(Self {
            path: path.to_owned(),
            map,
            read: Vec::new(),
        })
    }

    fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&mut self, name: &'static str) -> Option<&'v Value> {
        self.read.push(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn required(&mut self, name: &'static str) -> Result<&'v Value, RuleError> {
        self.get(name).ok_or_else(|| RuleError::Missing {
            field: self.field(name),
        })
    }

    fn string(&mut self, name: &'static str) -> Result<Option<String>, RuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RuleError::WrongType {
                field: self.field(name),
                expected: "a string",
            }),
        }
    }

    fn required_string(&mut self, name: &'static str) -> Result<String, RuleError> {
        self.required(name)?;
        Ok(self.string(name)?.unwrap_or_default())
    }

    fn strings(&mut self, name: &'static str) -> Result<Vec<String>, RuleError> {
        let field = self.field(name);
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or(RuleError::WrongType {
                        field: format!("{field}[{i}]"),
                        expected: "a string",
                    })
                })
                .collect(),
            Some(_) => Err(RuleError::WrongType {
                field,
                expected: "a list of strings",
            }),
        }
    }

    fn number(&mut self, name: &'static str) -> Result<Option<u64>, RuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or(RuleError::WrongType {
                field: self.field(name),
                expected: "a whole number",
            }),
        }
    }

    /// The fields present and not read, as warnings.
    fn unread(&self, warnings: &mut Vec<RuleWarning>) {
        for key in self.map.keys() {
            if !self.read.contains(&key.as_str()) {
                warnings.push(RuleWarning {
                    field: self.field(key),
                });
            }
        }
    }
}

fn one_of<T: Copy>(
    field: String,
    value: &str,
    choices: &[(&str, T)],
    accepts: &'static str,
) -> Result<T, RuleError> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, t)| *t)
        .ok_or(RuleError::NotAllowed {
            field,
            value: format!("{value:?}"),
            accepts,
        })
}

fn window(fields: &mut Fields<'_>, name: &'static str) -> Result<Option<u32>, RuleError> {
    match fields.number(name)? {
        None => Ok(None),
        Some(n) => WINDOWS
            .iter()
            .copied()
            .find(|w| u64::from(*w) == n)
            .map(Some)
            .ok_or(RuleError::NotAllowed {
                field: fields.field(name),
                value: n.to_string(),
                accepts: WINDOWS_ACCEPT,
            }),
    }
}

impl DetectionRule {
    /// Reads and checks a rule file's text.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let body: Value =
            serde_json::from_str(text).map_err(|e| RuleError::NotJson(e.to_string()))?;
        Self::from_body(body)
    }

    /// Reads and checks a rule written in YAML: the same body, in YAML's
    /// syntax.
    pub fn parse_yaml(text: &str) -> Result<Self, RuleError> {
        Self::from_body(yaml_value(text).map_err(RuleError::NotYaml)?)
    }

    pub fn from_body(body: Value) -> Result<Self, RuleError> {
        let mut warnings = Vec::new();
        let mut top = Fields::of(&body, "")?;
        let name = top.required_string("name")?;
        let message = top.required_string("message")?;
        let tags = top.strings("tags")?;
        let is_enabled = match top.required("isEnabled")? {
            Value::Bool(b) => *b,
            _ => {
                return Err(RuleError::WrongType {
                    field: "isEnabled".into(),
                    expected: "true or false",
                });
            }
        };
        if let Some(kind) = top.string("type")?
            && kind != "log_detection"
        {
            return Err(RuleError::NotAllowed {
                field: "type".into(),
                value: format!("{kind:?}"),
                accepts: "log_detection (the only type this tool runs)",
            });
        }
        let options = read_options(top.required("options")?, &mut warnings)?;
        let queries = read_queries(
            top.required("queries")?,
            options.detection_method,
            &mut warnings,
        )?;
        let cases = read_cases(
            top.required("cases")?,
            &queries,
            options.detection_method,
            &mut warnings,
        )?;
        let filters = match top.get("filters") {
            Some(value) => read_filters(value)?,
            None => Vec::new(),
        };
        top.unread(&mut warnings);
        Ok(Self {
            name,
            message,
            tags,
            is_enabled,
            queries,
            cases,
            options,
            filters,
            body,
            warnings,
        })
    }
}

/// YAML text as the JSON value it writes. serde-saphyr bounds what a
/// document may cost (aliases, depth, size), so a hostile file is refused
/// rather than expanded.
pub fn yaml_value(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
}

fn read_filters(value: &Value) -> Result<Vec<RuleFilter>, RuleError> {
    let items = value.as_array().ok_or(RuleError::WrongType {
        field: "filters".into(),
        expected: "a list of filters",
    })?;
    let mut filters = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut fields = Fields::of(item, &format!("filters[{i}]"))?;
        let action = fields.required_string("action")?;
        let suppress = one_of(
            fields.field("action"),
            &action,
            &[("require", false), ("suppress", true)],
            "require or suppress",
        )?;
        let query = fields.required_string("query")?;
        let mut ignored = Vec::new();
        fields.unread(&mut ignored);
        if let Some(extra) = ignored.first() {
            return Err(RuleError::Inconsistent {
                field: extra.field.clone(),
                problem: "a filter has only action and query",
            });
        }
        filters.push(RuleFilter { suppress, query });
    }
    Ok(filters)
}

fn read_options(value: &Value, warnings: &mut Vec<RuleWarning>) -> Result<RuleOptions, RuleError> {
    let mut fields = Fields::of(value, "options")?;
    let method = fields
        .string("detectionMethod")?
        .unwrap_or_else(|| "threshold".into());
    let detection_method = one_of(
        fields.field("detectionMethod"),
        &method,
        &[
            ("threshold", DetectionMethod::Threshold),
            ("new_value", DetectionMethod::NewValue),
        ],
        "threshold or new_value (the methods this tool runs)",
    )?;
    let evaluation_window = window(&mut fields, "evaluationWindow")?;
    let keep_alive = window(&mut fields, "keepAlive")?.ok_or(RuleError::Missing {
        field: "options.keepAlive".into(),
    })?;
    let max_signal_duration =
        window(&mut fields, "maxSignalDuration")?.ok_or(RuleError::Missing {
            field: "options.maxSignalDuration".into(),
        })?;
    let new_value = match fields.get("newValueOptions") {
        Some(v) => Some(read_new_value_options(v, warnings)?),
        None => None,
    };
    fields.unread(warnings);
    let evaluation_window = match (detection_method, evaluation_window) {
        (DetectionMethod::Threshold, None) => {
            return Err(RuleError::Missing {
                field: "options.evaluationWindow".into(),
            });
        }
        (_, w) => w.unwrap_or(0),
    };
    // "The evaluation window must be less than or equal to the keep alive
    // and maximum signal duration" (Datadog, log detection rules).
    if evaluation_window > keep_alive || evaluation_window > max_signal_duration {
        return Err(RuleError::Inconsistent {
            field: "options.evaluationWindow".into(),
            problem: "it must be no longer than options.keepAlive and options.maxSignalDuration",
        });
    }
    if detection_method == DetectionMethod::Threshold && new_value.is_some() {
        return Err(RuleError::Inconsistent {
            field: "options.newValueOptions".into(),
            problem: "only a new_value rule takes it",
        });
    }
    let new_value = match detection_method {
        DetectionMethod::NewValue => Some(new_value.unwrap_or(NewValueOptions {
            learning_duration_days: 0,
            learning_method_threshold: false,
            learning_threshold: 0,
            forget_after_days: 28,
        })),
        DetectionMethod::Threshold => None,
    };
    Ok(RuleOptions {
        detection_method,
        evaluation_window,
        keep_alive,
        max_signal_duration,
        new_value,
    })
}

fn read_new_value_options(
    value: &Value,
    warnings: &mut Vec<RuleWarning>,
) -> Result<NewValueOptions, RuleError> {
    let mut fields = Fields::of(value, "options.newValueOptions")?;
    let mut allowed =
        |name: &'static str,
         choices: &[u32],
         default: u32,
         accepts: &'static str|
         -> Result<u32, RuleError> {
            match fields.number(name)? {
                None => Ok(default),
                Some(n) => choices.iter().copied().find(|c| u64::from(*c) == n).ok_or(
                    RuleError::NotAllowed {
                        field: fields.field(name),
                        value: n.to_string(),
                        accepts,
                    },
                ),
            }
        };
    // The schema's enums: SecurityMonitoringRuleNewValueOptionsLearningDuration,
    // ...LearningThreshold, ...ForgetAfter.
    let learning_duration_days = allowed("learningDuration", &[0, 1, 7], 0, "0, 1 or 7 (days)")?;
    let learning_threshold = allowed("learningThreshold", &[0, 1], 0, "0 or 1")?;
    let forget_after_days = allowed(
        "forgetAfter",
        &[1, 2, 7, 14, 21, 28],
        28,
        "1, 2, 7, 14, 21 or 28 (days)",
    )?;
    let method = fields
        .string("learningMethod")?
        .unwrap_or_else(|| "duration".into());
    let learning_method_threshold = one_of(
        fields.field("learningMethod"),
        &method,
        &[("duration", false), ("threshold", true)],
        "duration or threshold",
    )?;
    fields.unread(warnings);
    Ok(NewValueOptions {
        learning_duration_days,
        learning_method_threshold,
        learning_threshold,
        forget_after_days,
    })
}

fn read_queries(
    value: &Value,
    method: DetectionMethod,
    warnings: &mut Vec<RuleWarning>,
) -> Result<Vec<RuleQuery>, RuleError> {
    let items = value.as_array().ok_or(RuleError::WrongType {
        field: "queries".into(),
        expected: "a list of queries",
    })?;
    if items.is_empty() {
        return Err(RuleError::Missing {
            field: "queries[0]".into(),
        });
    }
    let mut queries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("queries[{i}]");
        let mut fields = Fields::of(item, &path)?;
        let query = fields.required_string("query")?;
        let group_by_fields = fields.strings("groupByFields")?;
        let distinct_fields = fields.strings("distinctFields")?;
        let mut metrics = fields.strings("metrics")?;
        if let Some(metric) = fields.string("metric")?
            && !metric.is_empty()
            && metrics.is_empty()
        {
            metrics.push(metric);
        }
        let aggregation = fields
            .string("aggregation")?
            .unwrap_or_else(|| "count".into());
        let aggregation = one_of(
            fields.field("aggregation"),
            &aggregation,
            &[
                ("count", Aggregation::Count),
                ("cardinality", Aggregation::Cardinality),
                ("sum", Aggregation::Sum),
                ("max", Aggregation::Max),
                ("new_value", Aggregation::NewValue),
            ],
            "count, cardinality, sum, max or new_value (the aggregations this tool runs)",
        )?;
        // Letters by position, as Datadog names unnamed queries.
        let name = fields
            .string("name")?
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| char::from(b'a' + (i % 26) as u8).to_string());
        match (method, aggregation) {
            (DetectionMethod::NewValue, Aggregation::NewValue)
            | (DetectionMethod::Threshold, Aggregation::Count) => {}
            (DetectionMethod::NewValue, _) => {
                return Err(RuleError::Inconsistent {
                    field: fields.field("aggregation"),
                    problem: "a new_value rule's queries aggregate by new_value",
                });
            }
            (DetectionMethod::Threshold, Aggregation::NewValue) => {
                return Err(RuleError::Inconsistent {
                    field: fields.field("aggregation"),
                    problem: "new_value needs options.detectionMethod new_value",
                });
            }
            (DetectionMethod::Threshold, _) => {}
        }
        if aggregation == Aggregation::NewValue && metrics.len() > 1 {
            // Datadog signals when each of several attributes is new
            // (a new device and a new country); this tool replays one.
            return Err(RuleError::Inconsistent {
                field: fields.field("metrics"),
                problem: "this tool replays a new value of one field; give one metric",
            });
        }
        let needs_field = !matches!(aggregation, Aggregation::Count);
        let distinct =
            matches!(aggregation, Aggregation::Cardinality) && !distinct_fields.is_empty();
        if needs_field && metrics.is_empty() && !distinct {
            return Err(RuleError::Missing {
                field: fields.field("metrics"),
            });
        }
        fields.unread(warnings);
        queries.push(RuleQuery {
            name,
            query,
            group_by_fields,
            distinct_fields,
            aggregation,
            metrics,
        });
    }
    Ok(queries)
}

fn read_cases(
    value: &Value,
    queries: &[RuleQuery],
    method: DetectionMethod,
    warnings: &mut Vec<RuleWarning>,
) -> Result<Vec<RuleCase>, RuleError> {
    let items = value.as_array().ok_or(RuleError::WrongType {
        field: "cases".into(),
        expected: "a list of cases",
    })?;
    if items.is_empty() {
        return Err(RuleError::Missing {
            field: "cases[0]".into(),
        });
    }
    let known: BTreeMap<&str, ()> = queries.iter().map(|q| (q.name.as_str(), ())).collect();
    let mut cases = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("cases[{i}]");
        let mut fields = Fields::of(item, &path)?;
        let name = fields.string("name")?.unwrap_or_default();
        let status = fields.required_string("status")?;
        let status = one_of(
            fields.field("status"),
            &status,
            &[
                ("info", Severity::Info),
                ("low", Severity::Low),
                ("medium", Severity::Medium),
                ("high", Severity::High),
                ("critical", Severity::Critical),
            ],
            "info, low, medium, high or critical",
        )?;
        let condition = match fields.string("condition")?.filter(|c| !c.trim().is_empty()) {
            None if method == DetectionMethod::Threshold => {
                return Err(RuleError::Missing {
                    field: fields.field("condition"),
                });
            }
            None => None,
            Some(text) => {
                let condition = Condition::parse(&text).map_err(|e: ConditionError| {
                    RuleError::BadCondition {
                        field: fields.field("condition"),
                        error: e.to_string(),
                    }
                })?;
                if let Some(missing) = condition
                    .query_names()
                    .into_iter()
                    .find(|n| !known.contains_key(n))
                {
                    return Err(RuleError::UnknownQuery {
                        field: fields.field("condition"),
                        name: missing.to_owned(),
                        known: queries
                            .iter()
                            .map(|q| q.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                Some(condition)
            }
        };
        fields.unread(warnings);
        cases.push(RuleCase {
            name,
            status,
            condition,
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The guide's rule: the first exec into a pod by each user.
    fn pod_exec_new_value() -> Value {
        json!({
            "name": "Kubernetes: first exec into a pod by a user",
            "type": "log_detection",
            "isEnabled": true,
            "message": "{{@usr.name}} ran exec in a pod for the first time.",
            "tags": ["source:kubernetes.audit", "tactic:TA0002-execution"],
            "queries": [{
                "query": "source:kubernetes.audit @objectRef.resource:pods @objectRef.subresource:exec @http.method:create @http.status_code:[101 TO 299]",
                "aggregation": "new_value",
                "metrics": ["@usr.name"],
                "groupByFields": [],
                "distinctFields": []
            }],
            "cases": [{"name": "", "status": "medium"}],
            "options": {
                "detectionMethod": "new_value",
                "keepAlive": 3600,
                "maxSignalDuration": 86400,
                "newValueOptions": {"learningDuration": 0, "forgetAfter": 28, "learningMethod": "duration", "learningThreshold": 0}
            }
        })
    }

    fn threshold() -> Value {
        json!({
            "name": "Kubernetes: burst of 403s from one user",
            "isEnabled": true,
            "message": "Many denied requests.",
            "queries": [
                {"name": "denied", "query": "source:kubernetes.audit @http.status_code:403", "groupByFields": ["@usr.name"]},
                {"query": "source:kubernetes.audit", "aggregation": "cardinality", "metrics": ["@objectRef.resource"], "groupByFields": ["@usr.name"]}
            ],
            "cases": [
                {"name": "many", "status": "high", "condition": "denied > 50 && b > 3"},
                {"name": "some", "status": "low", "condition": "denied > 10"}
            ],
            "options": {"detectionMethod": "threshold", "evaluationWindow": 300, "keepAlive": 3600, "maxSignalDuration": 86400}
        })
    }

    #[test]
    fn a_new_value_rule_reads_as_written() {
        let rule = DetectionRule::from_body(pod_exec_new_value()).unwrap();
        assert_eq!(rule.options.detection_method, DetectionMethod::NewValue);
        assert_eq!(rule.queries[0].name, "a");
        assert_eq!(rule.queries[0].metrics, ["@usr.name"]);
        assert_eq!(rule.cases[0].condition, None);
        assert_eq!(rule.options.new_value.unwrap().forget_after_days, 28);
        assert!(rule.warnings.is_empty(), "{:?}", rule.warnings);
        assert_eq!(rule.body, pod_exec_new_value());
    }

    #[test]
    fn a_threshold_rule_names_its_queries_by_name_or_letter() {
        let rule = DetectionRule::from_body(threshold()).unwrap();
        let names: Vec<&str> = rule.queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["denied", "b"]);
        assert_eq!(rule.cases.len(), 2);
        assert_eq!(rule.cases[0].status, Severity::High);
        assert_eq!(rule.options.evaluation_window, 300);
    }

    #[test]
    fn unknown_fields_are_kept_and_warned_about() {
        let mut body = threshold();
        body["filters"] = json!([{"action": "suppress", "query": "@usr.name:system\\:*"}]);
        body["queries"][0]["hasOptionalGroupByFields"] = json!(false);
        body["options"]["decreaseCriticalityBasedOnEnv"] = json!(true);
        let rule = DetectionRule::from_body(body.clone()).unwrap();
        let warned: Vec<&str> = rule.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(
            warned,
            [
                "options.decreaseCriticalityBasedOnEnv",
                "queries[0].hasOptionalGroupByFields",
            ]
        );
        // Filters are read: the replay applies them.
        assert_eq!(rule.filters.len(), 1);
        assert!(rule.filters[0].suppress);
        assert_eq!(rule.body, body);
    }

    /// A rule body, a change that breaks it, and the start of the error.
    type Breakage = (Value, fn(&mut Value), &'static str);

    /// Each constraint of the schema refuses a wrong value, naming the
    /// field.
    #[test]
    fn each_wrong_value_names_its_field() {
        let cases: Vec<Breakage> = vec![
            (
                threshold(),
                |b| {
                    b.as_object_mut().unwrap().remove("name");
                },
                "name is required",
            ),
            (
                threshold(),
                |b| {
                    b.as_object_mut().unwrap().remove("isEnabled");
                },
                "isEnabled is required",
            ),
            (
                threshold(),
                |b| b["isEnabled"] = json!("yes"),
                "isEnabled must be true or false",
            ),
            (
                threshold(),
                |b| b["type"] = json!("signal_correlation"),
                "type is \"signal_correlation\"",
            ),
            (
                threshold(),
                |b| b["options"]["keepAlive"] = json!(120),
                "options.keepAlive is 120",
            ),
            (
                threshold(),
                |b| b["options"]["evaluationWindow"] = json!(7),
                "options.evaluationWindow is 7",
            ),
            (
                threshold(),
                |b| {
                    b["options"]
                        .as_object_mut()
                        .unwrap()
                        .remove("evaluationWindow");
                },
                "options.evaluationWindow is required",
            ),
            (
                threshold(),
                |b| {
                    b["options"]
                        .as_object_mut()
                        .unwrap()
                        .remove("maxSignalDuration");
                },
                "options.maxSignalDuration is required",
            ),
            (
                threshold(),
                |b| b["options"]["detectionMethod"] = json!("anomaly_detection"),
                "options.detectionMethod is \"anomaly_detection\"",
            ),
            (
                threshold(),
                |b| b["queries"][1]["aggregation"] = json!("geo_data"),
                "queries[1].aggregation is \"geo_data\"",
            ),
            (
                threshold(),
                |b| b["queries"][1]["aggregation"] = json!("new_value"),
                "queries[1].aggregation: new_value needs",
            ),
            (
                threshold(),
                |b| {
                    b["queries"][1].as_object_mut().unwrap().remove("metrics");
                },
                "queries[1].metrics is required",
            ),
            (
                threshold(),
                |b| b["queries"][0]["groupByFields"] = json!("@usr.name"),
                "queries[0].groupByFields must be a list of strings",
            ),
            (
                threshold(),
                |b| b["queries"] = json!([]),
                "queries[0] is required",
            ),
            (
                threshold(),
                |b| b["cases"][0]["status"] = json!("severe"),
                "cases[0].status is \"severe\"",
            ),
            (
                threshold(),
                |b| {
                    b["cases"][1].as_object_mut().unwrap().remove("condition");
                },
                "cases[1].condition is required",
            ),
            (
                threshold(),
                |b| b["cases"][0]["condition"] = json!("denied >"),
                "cases[0].condition is not a condition",
            ),
            (
                threshold(),
                |b| b["cases"][0]["condition"] = json!("c > 1"),
                "cases[0].condition names the query \"c\"",
            ),
            (
                threshold(),
                |b| b["options"]["newValueOptions"] = json!({}),
                "options.newValueOptions: only a new_value rule",
            ),
            (
                threshold(),
                |b| b["options"]["evaluationWindow"] = json!(7200),
                "options.evaluationWindow: it must be no longer",
            ),
            (
                threshold(),
                |b| b["options"]["maxSignalDuration"] = json!(60),
                "options.evaluationWindow: it must be no longer",
            ),
            (
                threshold(),
                |b| b["cases"][0]["condition"] = json!("50 < denied"),
                "cases[0].condition is not a condition",
            ),
            (
                pod_exec_new_value(),
                |b| b["options"]["newValueOptions"]["learningDuration"] = json!(3),
                "options.newValueOptions.learningDuration is 3",
            ),
            (
                pod_exec_new_value(),
                |b| b["options"]["newValueOptions"]["forgetAfter"] = json!(30),
                "options.newValueOptions.forgetAfter is 30",
            ),
            (
                pod_exec_new_value(),
                |b| b["options"]["newValueOptions"]["learningThreshold"] = json!(2),
                "options.newValueOptions.learningThreshold is 2",
            ),
            (
                pod_exec_new_value(),
                |b| b["options"]["newValueOptions"]["learningMethod"] = json!("smart"),
                "options.newValueOptions.learningMethod is \"smart\"",
            ),
            (
                pod_exec_new_value(),
                |b| b["queries"][0]["aggregation"] = json!("count"),
                "queries[0].aggregation: a new_value rule",
            ),
            (
                pod_exec_new_value(),
                |b| b["queries"][0]["metrics"] = json!([]),
                "queries[0].metrics is required",
            ),
        ];
        for (mut body, change, expected) in cases {
            change(&mut body);
            let e = DetectionRule::from_body(body).unwrap_err().to_string();
            assert!(e.starts_with(expected), "expected {expected:?}, got {e:?}");
        }
        assert!(
            DetectionRule::parse("{")
                .unwrap_err()
                .to_string()
                .starts_with("the rule file is not JSON")
        );
    }
}
