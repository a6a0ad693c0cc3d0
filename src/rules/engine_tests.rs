//! The replay engine against each point of the semantics `engine.rs`
//! lists, through its public API: rules parsed from the body of Datadog's
//! `POST /api/v2/security_monitoring/rules`, audit events as JSON text,
//! signals as the engine hands them out.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{LogEvent, ReplayTally, RuleEngine, Signal};
use crate::rules::file::{DetectionRule, Severity};
use crate::rules::replay::Replay;

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const DAY: i64 = 86_400_000;

// ---------------------------------------------------------------------
// Audit events

/// A Kubernetes audit event: `user` (none: no `user` at all) did `verb`
/// on `resource` (and `subresource`) in `namespace`, answered `code`.
fn audit(
    user: Option<&str>,
    verb: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: Option<&str>,
    code: u16,
) -> Value {
    let mut object_ref = json!({"resource": resource, "apiVersion": "v1"});
    if let Some(sub) = subresource {
        object_ref["subresource"] = json!(sub);
    }
    if let Some(ns) = namespace {
        object_ref["namespace"] = json!(ns);
    }
    let mut event = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "stage": "ResponseComplete",
        "verb": verb,
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.30.2",
        "objectRef": object_ref,
        "responseStatus": {"code": code},
    });
    if let Some(user) = user {
        event["user"] = json!({"username": user, "groups": ["system:authenticated"]});
    }
    event
}

/// `audit` with `value` at `path` (objects made on the way).
fn with(mut audit: Value, path: &[&str], value: Value) -> Value {
    let (last, parents) = path.split_last().expect("a path");
    let mut at = &mut audit;
    for name in parents {
        at = at
            .as_object_mut()
            .expect("an object")
            .entry(*name)
            .or_insert_with(|| json!({}));
    }
    at[*last] = value;
    audit
}

/// The log of `audit` at `time_ms`, from `source:kubernetes.audit`.
fn log(time_ms: i64, audit: &Value) -> LogEvent {
    LogEvent {
        time_ms,
        audit: audit.to_string(),
        source: "kubernetes.audit".into(),
        ..Default::default()
    }
}

/// The builder most tests use: who, what, where, the answer, and when.
fn ev(
    user: Option<&str>,
    verb: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: Option<&str>,
    code: u16,
    time_ms: i64,
) -> LogEvent {
    log(
        time_ms,
        &audit(user, verb, resource, subresource, namespace, code),
    )
}

/// `user` deletes a pod in `default` at `time_ms` (accepted).
fn delete_by(user: &str, time_ms: i64) -> LogEvent {
    ev(
        Some(user),
        "delete",
        "pods",
        None,
        Some("default"),
        200,
        time_ms,
    )
}

/// `user` lists secrets in `namespace` at `time_ms` (accepted).
fn list_secrets(user: &str, namespace: &str, time_ms: i64) -> LogEvent {
    ev(
        Some(user),
        "list",
        "secrets",
        None,
        Some(namespace),
        200,
        time_ms,
    )
}

// ---------------------------------------------------------------------
// Rules

fn rule(body: Value) -> DetectionRule {
    DetectionRule::parse(&body.to_string()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A threshold rule; windows in seconds.
fn threshold(
    queries: Value,
    cases: Value,
    window: u32,
    keep_alive: u32,
    max: u32,
) -> DetectionRule {
    rule(json!({
        "name": "threshold rule",
        "type": "log_detection",
        "isEnabled": true,
        "message": "m",
        "queries": queries,
        "cases": cases,
        "options": {
            "detectionMethod": "threshold",
            "evaluationWindow": window,
            "keepAlive": keep_alive,
            "maxSignalDuration": max
        }
    }))
}

/// One `count` query `a` grouped by `group_by`, one case `hit` (high).
fn count_rule(
    query: &str,
    group_by: &[&str],
    condition: &str,
    window: u32,
    keep_alive: u32,
    max: u32,
) -> DetectionRule {
    threshold(
        json!([{"query": query, "aggregation": "count", "groupByFields": group_by}]),
        json!([{"name": "hit", "status": "high", "condition": condition}]),
        window,
        keep_alive,
        max,
    )
}

/// One query `a` aggregating `aggregation` over `fields` (as
/// `distinctFields` for cardinality, `metrics` otherwise), per user.
fn measure_rule(aggregation: &str, fields: &[&str], condition: &str, window: u32) -> DetectionRule {
    let key = if aggregation == "cardinality" {
        "distinctFields"
    } else {
        "metrics"
    };
    let mut query = json!({
        "query": "source:kubernetes.audit",
        "aggregation": aggregation,
        "groupByFields": ["@usr.name"],
    });
    query[key] = json!(fields);
    threshold(
        json!([query]),
        json!([{"name": "hit", "status": "high", "condition": condition}]),
        window,
        3600,
        86400,
    )
}

/// A new value rule on `metrics` per `group_by`, with `newValueOptions`.
fn new_value_rule(
    query: &str,
    metrics: &[&str],
    group_by: &[&str],
    options: Value,
) -> DetectionRule {
    rule(json!({
        "name": "new value rule",
        "type": "log_detection",
        "isEnabled": true,
        "message": "m",
        "queries": [{
            "query": query,
            "aggregation": "new_value",
            "metrics": metrics,
            "groupByFields": group_by,
            "distinctFields": []
        }],
        "cases": [{"name": "new", "status": "medium"}],
        "options": {
            "detectionMethod": "new_value",
            "keepAlive": 3600,
            "maxSignalDuration": 86400,
            "newValueOptions": options
        }
    }))
}

const DELETES: &str = "source:kubernetes.audit @http.method:delete";
const SECRET_LISTS: &str = "source:kubernetes.audit @objectRef.resource:secrets @http.method:list";

// ---------------------------------------------------------------------
// Running

/// What one replay gave: the signals handed out while events were
/// observed, those `finish` closed, and the tally.
struct Run {
    during: Vec<Signal>,
    at_finish: Vec<Signal>,
    tally: ReplayTally,
}

impl Run {
    fn all(&self) -> Vec<Signal> {
        self.during.iter().chain(&self.at_finish).cloned().collect()
    }
}

fn run(rule: DetectionRule, events: &[LogEvent]) -> Run {
    let mut engine = RuleEngine::new(vec![rule]).expect("the rule compiles");
    let mut during = Vec::new();
    for event in events {
        engine.observe(event, &mut |s| during.push(s));
    }
    let mut at_finish = Vec::new();
    engine.finish(&mut |s| at_finish.push(s));
    Run {
        during,
        at_finish,
        tally: engine.tally().clone(),
    }
}

fn signals(rule: DetectionRule, events: &[LogEvent]) -> Vec<Signal> {
    run(rule, events).all()
}

/// Each signal as (first seen, last seen, events).
fn spans(signals: &[Signal]) -> Vec<(i64, i64, u64)> {
    signals
        .iter()
        .map(|s| (s.first_seen_ms, s.last_seen_ms, s.events))
        .collect()
}

/// Each signal's group, as (field, value) pairs.
fn groups(signals: &[Signal]) -> Vec<Vec<(&str, &str)>> {
    signals
        .iter()
        .map(|s| {
            s.group
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .collect()
}

/// Each new value signal as (value, time).
fn news(signals: &[Signal]) -> Vec<(&str, i64)> {
    signals
        .iter()
        .map(|s| {
            assert_eq!(s.first_seen_ms, s.last_seen_ms);
            assert_eq!(s.events, 1);
            (
                s.new_value.as_deref().expect("a new value"),
                s.first_seen_ms,
            )
        })
        .collect()
}

fn results(signal: &Signal) -> Vec<(&str, f64)> {
    signal
        .results
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

// ---------------------------------------------------------------------
// (1) The sliding evaluation window (t - W, t]

fn three_deletes_a_minute() -> DetectionRule {
    count_rule(DELETES, &["@usr.name"], "a >= 3", 60, 300, 3600)
}

#[test]
fn window_n_events_within_it_signal() {
    let s = signals(
        three_deletes_a_minute(),
        &[
            delete_by("alice", 0),
            delete_by("alice", 30 * SEC),
            delete_by("alice", MIN - 1),
        ],
    );
    assert_eq!(spans(&s), [(MIN - 1, MIN - 1, 1)]);
    assert_eq!(results(&s[0]), [("a", 3.0)]);
    assert_eq!(s[0].case, "hit");
    assert_eq!(s[0].status, Severity::High);
    assert_eq!(s[0].rule, "threshold rule");
    assert_eq!(s[0].rule_index, 0);
    assert_eq!(s[0].new_value, None);
}

#[test]
fn window_the_same_events_spread_beyond_it_do_not_signal() {
    let s = signals(
        three_deletes_a_minute(),
        &[
            delete_by("alice", 0),
            delete_by("alice", 40 * SEC),
            delete_by("alice", 80 * SEC),
        ],
    );
    assert_eq!(spans(&s), []);
}

#[test]
fn window_an_event_exactly_w_after_the_first_leaves_the_first_out() {
    let s = signals(
        three_deletes_a_minute(),
        &[
            delete_by("alice", 0),
            delete_by("alice", 30 * SEC),
            delete_by("alice", MIN),
        ],
    );
    assert_eq!(spans(&s), []);
}

/// Not tumbling windows: 50 s, 70 s and 100 s are in no aligned minute
/// together, but in the minute ending at 100 s.
#[test]
fn window_slides_with_each_event() {
    let s = signals(
        three_deletes_a_minute(),
        &[
            delete_by("alice", 50 * SEC),
            delete_by("alice", 70 * SEC),
            delete_by("alice", 100 * SEC),
        ],
    );
    assert_eq!(spans(&s), [(100 * SEC, 100 * SEC, 1)]);
}

/// Events that do not match the query are not counted.
#[test]
fn window_counts_only_matching_events() {
    let s = signals(
        three_deletes_a_minute(),
        &[
            delete_by("alice", 0),
            ev(
                Some("alice"),
                "get",
                "pods",
                None,
                Some("default"),
                200,
                SEC,
            ),
            delete_by("alice", 2 * SEC),
        ],
    );
    assert_eq!(spans(&s), []);
}

// ---------------------------------------------------------------------
// (2) Cases in order, the first that holds opens the signal

#[test]
fn cases_are_evaluated_in_order_and_the_first_that_holds_opens_the_signal() {
    let rule = threshold(
        json!([{"query": DELETES, "groupByFields": ["@usr.name"]}]),
        json!([
            {"name": "burst", "status": "high", "condition": "a >= 5"},
            {"name": "some", "status": "medium", "condition": "a >= 2"}
        ]),
        300,
        3600,
        86400,
    );
    let events: Vec<LogEvent> = (0..6).map(|i| delete_by("alice", i * 10 * SEC)).collect();
    let run = run(rule, &events);
    assert!(run.during.is_empty());
    let s = &run.at_finish;
    // Opened medium at the 2nd event; the 5th and 6th, where `burst`
    // holds, update it: it keeps the case it opened with.
    assert_eq!(spans(s), [(10 * SEC, 50 * SEC, 5)]);
    assert_eq!(s[0].case, "some");
    assert_eq!(s[0].status, Severity::Medium);
    assert_eq!(results(&s[0]), [("a", 2.0)]);
}

#[test]
fn cases_when_several_hold_the_first_written_wins() {
    let queries = json!([
        {"name": "deletes", "query": DELETES, "groupByFields": ["@usr.name"]},
        {"name": "any", "query": "source:kubernetes.audit", "groupByFields": ["@usr.name"]}
    ]);
    let deletes = json!({"name": "deletes", "status": "high", "condition": "deletes > 0"});
    let any = json!({"name": "any", "status": "low", "condition": "any > 0"});
    let event = [delete_by("alice", 0)];

    let s = signals(
        threshold(queries.clone(), json!([deletes, any]), 60, 60, 60),
        &event,
    );
    assert_eq!((s.len(), s[0].case.as_str()), (1, "deletes"));
    assert_eq!(s[0].status, Severity::High);

    let s = signals(
        threshold(queries, json!([any, deletes]), 60, 60, 60),
        &event,
    );
    assert_eq!((s.len(), s[0].case.as_str()), (1, "any"));
    assert_eq!(s[0].status, Severity::Low);
}

// ---------------------------------------------------------------------
// (3) keepAlive

#[test]
fn keep_alive_a_match_within_it_updates_the_signal_and_one_after_opens_another() {
    // Each delete is a match (a > 0); keep-alive 5 minutes.
    let rule = count_rule(DELETES, &["@usr.name"], "a > 0", 60, 300, 86400);
    let run = run(
        rule,
        &[
            delete_by("alice", 0),
            delete_by("alice", 200 * SEC),
            // Exactly keep-alive after the last match: still within.
            delete_by("alice", 500 * SEC),
            // Keep-alive and 1 ms after the last match: a new signal.
            delete_by("alice", 800 * SEC + 1),
            delete_by("alice", 900 * SEC),
        ],
    );
    assert_eq!(spans(&run.during), [(0, 500 * SEC, 3)]);
    assert_eq!(spans(&run.at_finish), [(800 * SEC + 1, 900 * SEC, 2)]);
}

/// An update is a match of a case: an event of the group whose result
/// no case accepts does not keep the signal alive.
#[test]
fn keep_alive_events_that_match_no_case_do_not_update_the_signal() {
    let rule = count_rule(DELETES, &["@usr.name"], "a >= 2", 60, 60, 86400);
    let s = signals(
        rule,
        &[
            delete_by("alice", 0),
            delete_by("alice", SEC),
            // Alone in its window (a = 1): no case holds.
            delete_by("alice", 61 * SEC + 500),
            // a = 2 again, 2 minutes after the last match: a new signal.
            delete_by("alice", 121 * SEC + 1),
        ],
    );
    assert_eq!(
        spans(&s),
        [(SEC, SEC, 1), (121 * SEC + 1, 121 * SEC + 1, 1)]
    );
}

// ---------------------------------------------------------------------
// (4) maxSignalDuration

#[test]
fn max_signal_duration_closes_a_continuously_matched_signal_and_a_later_match_opens_another() {
    // Keep-alive 5 minutes, maximum 10 minutes; a match every 250 s.
    let rule = count_rule(DELETES, &["@usr.name"], "a > 0", 60, 300, 600);
    let events: Vec<LogEvent> = (0..6).map(|i| delete_by("alice", i * 250 * SEC)).collect();
    let run = run(rule, &events);
    // 750 s is past 600 s from the first seen (0): the signal closed, the
    // match opened another, which 1000 and 1250 s update.
    assert_eq!(spans(&run.during), [(0, 500 * SEC, 3)]);
    assert_eq!(spans(&run.at_finish), [(750 * SEC, 1250 * SEC, 3)]);
}

// ---------------------------------------------------------------------
// (5) Group-by

#[test]
fn group_by_one_signal_per_group_value() {
    let rule = count_rule(DELETES, &["@usr.name"], "a >= 2", 60, 300, 3600);
    let mut s = signals(
        rule,
        &[
            delete_by("alice", 0),
            delete_by("bob", SEC),
            delete_by("alice", 2 * SEC),
            delete_by("bob", 3 * SEC),
            delete_by("carol", 4 * SEC),
            delete_by("alice", 5 * SEC),
        ],
    );
    s.sort_by_key(|s| s.first_seen_ms);
    assert_eq!(
        groups(&s),
        [vec![("@usr.name", "alice")], vec![("@usr.name", "bob")]]
    );
    assert_eq!(spans(&s), [(2 * SEC, 5 * SEC, 2), (3 * SEC, 3 * SEC, 1)]);
}

#[test]
fn group_by_an_event_missing_a_group_by_field_is_not_counted() {
    let rule = count_rule(DELETES, &["@usr.name"], "a >= 2", 60, 300, 3600);
    let nobody = |t| ev(None, "delete", "pods", None, Some("default"), 200, t);
    let run = run(
        rule,
        &[
            nobody(0),
            nobody(SEC),
            nobody(2 * SEC),
            delete_by("alice", 3 * SEC),
        ],
    );
    assert_eq!(spans(&run.all()), []);
    // They matched the query all the same.
    assert_eq!(run.tally.matched, [4]);
}

#[test]
fn group_by_several_fields_make_one_group() {
    let rule = count_rule(
        DELETES,
        &["@usr.name", "@objectRef.namespace"],
        "a >= 2",
        60,
        300,
        3600,
    );
    let del = |ns: Option<&str>, t| ev(Some("alice"), "delete", "pods", None, ns, 200, t);
    let s = signals(
        rule,
        &[
            del(Some("one"), 0),
            del(Some("two"), SEC),
            // Cluster-scoped: no namespace, not counted.
            del(None, 2 * SEC),
            del(None, 3 * SEC),
            del(Some("one"), 4 * SEC),
        ],
    );
    assert_eq!(
        groups(&s),
        [vec![
            ("@usr.name", "alice"),
            ("@objectRef.namespace", "one")
        ]]
    );
    assert_eq!(spans(&s), [(4 * SEC, 4 * SEC, 1)]);
}

// ---------------------------------------------------------------------
// (6) Two queries joined by a condition

#[test]
fn two_queries_joined_by_a_condition_in_one_group() {
    let rule = threshold(
        json!([
            {"query": DELETES, "groupByFields": ["@usr.name"]},
            {"query": "source:kubernetes.audit @http.status_code:403", "groupByFields": ["@usr.name"]}
        ]),
        json!([{"name": "both", "status": "high", "condition": "a > 0 && b > 0"}]),
        60,
        300,
        3600,
    );
    let denied = |user, t| ev(Some(user), "get", "secrets", None, Some("default"), 403, t);
    let mut s = signals(
        rule,
        &[
            delete_by("alice", 0),
            // bob: b = 1, a = 0.
            denied("bob", SEC),
            // alice: a = 1 and now b = 1.
            denied("alice", 2 * SEC),
            // carol: her delete has left the window when her 403 comes.
            delete_by("carol", 10 * SEC),
            denied("carol", 70 * SEC),
            // dave: one event matching both queries.
            ev(
                Some("dave"),
                "delete",
                "pods",
                None,
                Some("x"),
                403,
                80 * SEC,
            ),
        ],
    );
    s.sort_by_key(|s| s.first_seen_ms);
    assert_eq!(
        groups(&s),
        [vec![("@usr.name", "alice")], vec![("@usr.name", "dave")]]
    );
    assert_eq!(results(&s[0]), [("a", 1.0), ("b", 1.0)]);
    assert_eq!(s[0].first_seen_ms, 2 * SEC);
    assert_eq!(results(&s[1]), [("a", 1.0), ("b", 1.0)]);
}

// ---------------------------------------------------------------------
// (7) Cardinality, sum and max

fn on(user: &str, resource: &str, t: i64) -> LogEvent {
    ev(Some(user), "get", resource, None, Some("default"), 200, t)
}

#[test]
fn cardinality_counts_distinct_values_of_the_distinct_fields() {
    let rule = measure_rule("cardinality", &["@objectRef.resource"], "a >= 3", 60);
    let mut s = signals(
        rule,
        &[
            on("alice", "pods", 0),
            on("alice", "pods", SEC),
            on("alice", "pods", 2 * SEC),
            on("alice", "secrets", 3 * SEC),
            on("alice", "configmaps", 4 * SEC),
            // bob's first resource has left the window at the third.
            on("bob", "pods", 10 * SEC),
            on("bob", "secrets", 40 * SEC),
            on("bob", "configmaps", 70 * SEC),
            // A value seen twice leaves only when both have.
            on("carol", "pods", 100 * SEC),
            on("carol", "pods", 140 * SEC),
            on("carol", "secrets", 150 * SEC),
            on("carol", "configmaps", 161 * SEC),
        ],
    );
    s.sort_by_key(|s| s.first_seen_ms);
    assert_eq!(
        groups(&s),
        [vec![("@usr.name", "alice")], vec![("@usr.name", "carol")]]
    );
    assert_eq!(results(&s[0]), [("a", 3.0)]);
    assert_eq!(s[0].first_seen_ms, 4 * SEC);
    assert_eq!(s[1].first_seen_ms, 161 * SEC);
}

#[test]
fn cardinality_reads_metrics_when_there_are_no_distinct_fields() {
    let rule = threshold(
        json!([{"query": "source:kubernetes.audit", "aggregation": "cardinality",
                "metrics": ["@verb"], "groupByFields": ["@usr.name"]}]),
        json!([{"name": "hit", "status": "high", "condition": "a >= 2"}]),
        60,
        60,
        60,
    );
    let s = signals(
        rule,
        &[
            delete_by("alice", 0),
            delete_by("alice", SEC),
            on("alice", "pods", 2 * SEC),
        ],
    );
    assert_eq!(spans(&s), [(2 * SEC, 2 * SEC, 1)]);
}

/// alice creates a deployment of `replicas` at `t`.
fn scale(user: &str, replicas: Value, t: i64) -> LogEvent {
    let a = audit(
        Some(user),
        "create",
        "deployments",
        None,
        Some("default"),
        201,
    );
    log(
        t,
        &with(a, &["requestObject", "spec", "replicas"], replicas),
    )
}

#[test]
fn sum_adds_the_metric_over_the_window() {
    let rule = measure_rule("sum", &["@requestObject.spec.replicas"], "a > 10", 60);
    let mut s = signals(
        rule,
        &[
            scale("alice", json!(4), 0),
            scale("alice", json!(4), SEC),
            // Not a number: left out.
            scale("alice", json!("many"), 2 * SEC),
            scale("alice", json!(4), 3 * SEC),
            // bob's first has left the window at his second.
            scale("bob", json!(6), 10 * SEC),
            scale("bob", json!(6), 70 * SEC),
        ],
    );
    s.sort_by_key(|s| s.first_seen_ms);
    assert_eq!(groups(&s), [vec![("@usr.name", "alice")]]);
    assert_eq!(results(&s[0]), [("a", 12.0)]);
    assert_eq!(s[0].first_seen_ms, 3 * SEC);
}

#[test]
fn max_takes_the_largest_value_of_the_window() {
    let rule = measure_rule("max", &["@requestObject.spec.replicas"], "a > 5", 60);
    let s = signals(
        rule,
        &[
            // A sum would be 9 here; the max is 4.
            scale("alice", json!(3), 0),
            scale("alice", json!(4), SEC),
            scale("alice", json!(2), 2 * SEC),
            scale("alice", json!(6), 3 * SEC),
        ],
    );
    assert_eq!(spans(&s), [(3 * SEC, 3 * SEC, 1)]);
    assert_eq!(results(&s[0]), [("a", 6.0)]);

    // The largest leaves the window with its event.
    let rule = measure_rule("max", &["@requestObject.spec.replicas"], "a < 5", 60);
    let s = signals(
        rule,
        &[scale("bob", json!(9), 0), scale("bob", json!(1), MIN)],
    );
    assert_eq!(spans(&s), [(MIN, MIN, 1)]);
    assert_eq!(results(&s[0]), [("a", 1.0)]);
}

// ---------------------------------------------------------------------
// (8) An evaluation window of 0

#[test]
fn window_of_zero_keeps_only_the_same_millisecond() {
    let rule = count_rule(DELETES, &["@usr.name"], "a >= 2", 0, 60, 60);
    let mut s = signals(
        rule,
        &[
            delete_by("alice", 5 * SEC),
            delete_by("alice", 5 * SEC),
            delete_by("bob", 5 * SEC),
            delete_by("bob", 5 * SEC + 1),
            delete_by("bob", 5 * SEC + 2),
        ],
    );
    s.sort_by_key(|s| s.first_seen_ms);
    assert_eq!(groups(&s), [vec![("@usr.name", "alice")]]);
    assert_eq!(results(&s[0]), [("a", 2.0)]);
}

// ---------------------------------------------------------------------
// (9) The log search dialect: reserved attributes, tags, derived fields

/// Whether `query` matches `event`, by the tally of a rule on it.
fn matches(query: &str, event: &LogEvent) -> bool {
    let run = run(
        count_rule(query, &[], "a > 0", 60, 60, 60),
        std::slice::from_ref(event),
    );
    let matched = run.tally.matched == [1];
    assert_eq!(matched, run.all().len() == 1, "{query}");
    matched
}

#[test]
fn dialect_source_is_the_reserved_attribute_of_the_log() {
    let mut event = delete_by("alice", 0);
    assert!(matches("source:kubernetes.audit", &event));
    assert!(!matches("source:cloudtrail", &event));
    event.source = "cloudtrail".into();
    assert!(!matches("source:kubernetes.audit", &event));
    assert!(!matches(DELETES, &event));
    assert!(matches("source:cloudtrail", &event));
}

#[test]
fn dialect_a_tag_query_reads_the_log_tags() {
    let mut event = delete_by("alice", 0);
    event.tags = "kube_cluster_name:prod,env:x".into();
    assert!(matches("kube_cluster_name:prod", &event));
    assert!(matches("env:x", &event));
    assert!(matches(
        "source:kubernetes.audit kube_cluster_name:prod",
        &event
    ));
    assert!(!matches("kube_cluster_name:staging", &event));
    assert!(!matches("env:prod", &event));
    event.tags = "kube_cluster_name:staging,env:prod".into();
    assert!(!matches("kube_cluster_name:prod", &event));
    event.tags = String::new();
    assert!(!matches("kube_cluster_name:prod", &event));
    assert!(matches("-kube_cluster_name:prod", &event));
}

fn from_ips(ips: &[&str]) -> LogEvent {
    let a = audit(Some("alice"), "get", "pods", None, Some("default"), 200);
    log(0, &with(a, &["sourceIPs"], json!(ips)))
}

#[test]
fn dialect_network_client_ip_is_the_first_source_ip() {
    let first = from_ips(&["10.0.0.1", "192.168.1.1"]);
    let second = from_ips(&["192.168.1.1", "10.0.0.1"]);
    assert!(matches("@network.client.ip:10.0.0.1", &first));
    assert!(!matches("@network.client.ip:10.0.0.1", &second));
    assert!(matches("@network.client.ip:192.168.1.1", &second));
    assert!(matches("CIDR(@network.client.ip, 10.0.0.0/8)", &first));
    assert!(!matches("CIDR(@network.client.ip, 10.0.0.0/8)", &second));
    assert!(!matches("@network.client.ip:*", &from_ips(&[])));

    // As a group-by field too.
    let rule = count_rule(
        "source:kubernetes.audit",
        &["@network.client.ip"],
        "a > 0",
        60,
        60,
        60,
    );
    let s = signals(rule, &[first, from_ips(&[])]);
    assert_eq!(groups(&s), [vec![("@network.client.ip", "10.0.0.1")]]);
}

#[test]
fn dialect_http_method_is_the_verb() {
    let event = delete_by("alice", 0);
    assert!(matches("@http.method:delete", &event));
    assert!(matches("@verb:delete", &event));
    assert!(!matches("@http.method:get", &event));
    assert!(matches("@http.status_code:200", &event));
    assert!(matches("@usr.name:alice", &event));
}

/// Rules in one engine share a table of fields and one cache of their
/// values per event: each still reads its own fields.
#[test]
fn several_rules_in_one_engine_each_read_their_own_fields() {
    let deletes = count_rule("@verb:delete", &["@usr.name"], "a > 0", 60, 60, 60);
    let pod_gets = count_rule(
        "@objectRef.resource:pods @verb:get",
        &["@objectRef.namespace"],
        "a > 0",
        60,
        60,
        60,
    );
    let prod_gets = count_rule(
        "kube_cluster_name:prod @http.method:get",
        &["@network.client.ip"],
        "a > 0",
        60,
        60,
        60,
    );
    let mut engine = RuleEngine::new(vec![deletes, pod_gets, prod_gets]).unwrap();
    let mut get = ev(Some("bob"), "get", "pods", None, Some("ns"), 200, SEC);
    get.tags = "kube_cluster_name:prod".into();
    let mut out = Vec::new();
    for event in [delete_by("alice", 0), get] {
        engine.observe(&event, &mut |s| out.push(s));
    }
    engine.finish(&mut |s| out.push(s));
    out.sort_by_key(|s| s.rule_index);
    assert_eq!(engine.tally().matched, [1, 1, 1]);
    let rules: Vec<usize> = out.iter().map(|s| s.rule_index).collect();
    assert_eq!(rules, [0, 1, 2]);
    assert_eq!(
        groups(&out),
        [
            vec![("@usr.name", "alice")],
            vec![("@objectRef.namespace", "ns")],
            vec![("@network.client.ip", "10.0.0.1")]
        ]
    );
}

// ---------------------------------------------------------------------
// (10) to (15) New value

fn duration(days: u32, forget: u32) -> Value {
    json!({"learningMethod": "duration", "learningDuration": days, "forgetAfter": forget, "learningThreshold": 0})
}

fn learn_first(events: u32, forget: u32) -> Value {
    json!({"learningMethod": "threshold", "learningThreshold": events, "forgetAfter": forget, "learningDuration": 0})
}

#[test]
fn new_value_learning_duration_7_learns_the_first_week_then_signals_each_new_value_once() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], duration(7, 28));
    let run = run(
        rule,
        &[
            list_secrets("alice", "default", 0),
            // Not a match: not counted, not learned.
            ev(
                Some("erin"),
                "get",
                "secrets",
                None,
                Some("default"),
                200,
                DAY,
            ),
            list_secrets("bob", "default", 3 * DAY),
            list_secrets("carol", "default", 7 * DAY - 1),
            // 7 days after the first event: learning is over.
            list_secrets("dave", "default", 7 * DAY),
            list_secrets("alice", "default", 8 * DAY),
            list_secrets("carol", "default", 8 * DAY),
            list_secrets("dave", "default", 9 * DAY),
            list_secrets("erin", "default", 10 * DAY),
            list_secrets("erin", "default", 10 * DAY + 1),
        ],
    );
    assert!(run.at_finish.is_empty());
    let s = &run.during;
    assert_eq!(news(s), [("dave", 7 * DAY), ("erin", 10 * DAY)]);
    assert_eq!(s[0].case, "new");
    assert_eq!(s[0].status, Severity::Medium);
    assert_eq!(s[0].rule, "new value rule");
    assert!(s[0].group.is_empty());
    assert!(s[0].results.is_empty());
}

/// The learning period starts at the group's own first event.
#[test]
fn new_value_learning_duration_counts_from_the_group_s_first_event() {
    let rule = new_value_rule(
        SECRET_LISTS,
        &["@usr.name"],
        &["@objectRef.namespace"],
        duration(7, 28),
    );
    let s = signals(
        rule,
        &[
            list_secrets("alice", "one", 0),
            list_secrets("bob", "one", 8 * DAY),
            // "two" begins at day 10: learns until day 17.
            list_secrets("alice", "two", 10 * DAY),
            // dave, new everywhere, during "two"'s learning: learned.
            list_secrets("dave", "two", 16 * DAY),
            list_secrets("carol", "two", 17 * DAY),
            list_secrets("dave", "two", 18 * DAY),
        ],
    );
    assert_eq!(news(&s), [("bob", 8 * DAY), ("carol", 17 * DAY)]);
    assert_eq!(
        groups(&s),
        [
            vec![("@objectRef.namespace", "one")],
            vec![("@objectRef.namespace", "two")]
        ]
    );
}

#[test]
fn new_value_learning_duration_0_learns_the_first_value_then_signals_every_new_one() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], duration(0, 28));
    let s = signals(
        rule,
        &[
            list_secrets("alice", "default", 0),
            list_secrets("alice", "default", SEC),
            list_secrets("bob", "default", 2 * SEC),
            list_secrets("carol", "default", 3 * SEC),
            list_secrets("bob", "default", 4 * SEC),
            list_secrets("alice", "default", 5 * SEC),
        ],
    );
    assert_eq!(news(&s), [("bob", 2 * SEC), ("carol", 3 * SEC)]);
}

#[test]
fn new_value_learning_threshold_0_signals_the_first_value() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], learn_first(0, 28));
    let s = signals(
        rule,
        &[
            list_secrets("alice", "default", 0),
            list_secrets("alice", "default", SEC),
            list_secrets("bob", "default", 2 * SEC),
        ],
    );
    assert_eq!(news(&s), [("alice", 0), ("bob", 2 * SEC)]);
}

#[test]
fn new_value_learning_threshold_1_learns_the_first_event() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], learn_first(1, 28));
    let s = signals(
        rule,
        &[
            list_secrets("alice", "default", 0),
            // The second event already signals its new value.
            list_secrets("bob", "default", SEC),
            list_secrets("alice", "default", 2 * SEC),
            list_secrets("bob", "default", 3 * SEC),
        ],
    );
    assert_eq!(news(&s), [("bob", SEC)]);
}

#[test]
fn new_value_forget_after_a_value_unseen_longer_signals_again() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], learn_first(0, 1));
    let s = signals(
        rule,
        &[
            list_secrets("alice", "default", 0),
            // Exactly a day later: still known.
            list_secrets("alice", "default", DAY),
            // A day and 1 ms after it was last seen: forgotten.
            list_secrets("alice", "default", 2 * DAY + 1),
            // bob, seen every 0.9 days, is never forgotten, though 1.8 days
            // pass since he was first seen.
            list_secrets("bob", "default", 3 * DAY),
            list_secrets("bob", "default", 3 * DAY + 9 * DAY / 10),
            list_secrets("bob", "default", 3 * DAY + 18 * DAY / 10),
        ],
    );
    assert_eq!(
        news(&s),
        [("alice", 0), ("alice", 2 * DAY + 1), ("bob", 3 * DAY)]
    );
}

/// A value learned in the learning period is forgotten too.
#[test]
fn new_value_forget_after_applies_to_learned_values() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], duration(7, 7));
    let s = signals(
        rule,
        &[
            list_secrets("alice", "default", 0),
            list_secrets("bob", "default", DAY),
            list_secrets("bob", "default", 7 * DAY),
            // alice: 8 days since day 0.
            list_secrets("alice", "default", 8 * DAY),
            // bob: 6 days since day 7.
            list_secrets("bob", "default", 13 * DAY),
        ],
    );
    assert_eq!(news(&s), [("alice", 8 * DAY)]);
}

#[test]
fn new_value_is_per_group_a_value_known_in_one_group_is_new_in_another() {
    let rule = new_value_rule(
        SECRET_LISTS,
        &["@usr.name"],
        &["@objectRef.namespace"],
        learn_first(0, 28),
    );
    let s = signals(
        rule,
        &[
            list_secrets("alice", "one", 0),
            list_secrets("alice", "two", SEC),
            list_secrets("alice", "one", 2 * SEC),
            list_secrets("alice", "two", 3 * SEC),
        ],
    );
    assert_eq!(news(&s), [("alice", 0), ("alice", SEC)]);
    assert_eq!(
        groups(&s),
        [
            vec![("@objectRef.namespace", "one")],
            vec![("@objectRef.namespace", "two")]
        ]
    );

    // With learningDuration 0 each group learns its own first value.
    let rule = new_value_rule(
        SECRET_LISTS,
        &["@usr.name"],
        &["@objectRef.namespace"],
        duration(0, 28),
    );
    let s = signals(
        rule,
        &[
            list_secrets("alice", "one", 0),
            list_secrets("bob", "two", SEC),
            list_secrets("bob", "one", 2 * SEC),
            list_secrets("alice", "two", 3 * SEC),
        ],
    );
    assert_eq!(news(&s), [("bob", 2 * SEC), ("alice", 3 * SEC)]);
}

/// `user` in `groups` lists secrets at `t`.
fn member_of(user: &str, groups: &[&str], t: i64) -> LogEvent {
    let a = audit(Some(user), "list", "secrets", None, Some("default"), 200);
    log(t, &with(a, &["user", "groups"], json!(groups)))
}

#[test]
fn new_value_each_item_of_a_list_field_is_a_value() {
    let rule = new_value_rule(SECRET_LISTS, &["@user.groups"], &[], learn_first(0, 28));
    let s = signals(
        rule,
        &[
            member_of("alice", &["dev", "ops"], 0),
            member_of("bob", &["ops", "admins"], SEC),
            member_of("carol", &["admins", "dev"], 2 * SEC),
        ],
    );
    assert_eq!(news(&s), [("dev", 0), ("ops", 0), ("admins", SEC)]);

    // Learned items are all of the first event's.
    let rule = new_value_rule(SECRET_LISTS, &["@user.groups"], &[], duration(0, 28));
    let s = signals(
        rule,
        &[
            member_of("alice", &["dev", "ops"], 0),
            member_of("bob", &["ops", "admins"], SEC),
        ],
    );
    assert_eq!(news(&s), [("admins", SEC)]);
}

/// An event without the metric is neither learned nor signalled, and
/// does not start the group's learning.
#[test]
fn new_value_an_event_without_the_metric_is_passed_over() {
    let rule = new_value_rule(SECRET_LISTS, &["@usr.name"], &[], duration(0, 28));
    let nobody = ev(None, "list", "secrets", None, Some("default"), 200, 0);
    let s = signals(
        rule,
        &[
            nobody,
            list_secrets("alice", "default", SEC),
            list_secrets("bob", "default", 2 * SEC),
        ],
    );
    assert_eq!(news(&s), [("bob", 2 * SEC)]);
}

// ---------------------------------------------------------------------
// (16) Replay: the reorder buffer

/// Events pushed through a `Replay` of `capacity`: its signals and tally.
fn replay(rule: DetectionRule, capacity: usize, events: &[LogEvent]) -> (Vec<Signal>, ReplayTally) {
    let mut engine = RuleEngine::new(vec![rule]).expect("the rule compiles");
    let mut out = Vec::new();
    let tally = {
        let mut replay = Replay::new(&mut engine, capacity, |s| out.push(s));
        for e in events {
            replay.push(e.clone());
        }
        replay.finish()
    };
    (out, tally)
}

#[test]
fn replay_puts_events_disordered_within_its_capacity_in_time_order() {
    let rule = || count_rule(DELETES, &["@usr.name"], "a >= 2", 60, 300, 3600);
    let shuffled = [
        delete_by("alice", 200 * SEC),
        delete_by("alice", 100 * SEC),
        delete_by("alice", 110 * SEC),
    ];
    // In time order: a = 2 at 110 s; 200 s is alone in its window.
    let (s, tally) = replay(rule(), 3, &shuffled);
    assert_eq!(spans(&s), [(110 * SEC, 110 * SEC, 1)]);
    assert_eq!((tally.events, tally.late), (3, 0));
    // The engine alone, in arrival order, evaluates both late events at
    // 200 s.
    let direct = run(rule(), &shuffled);
    assert_eq!(direct.tally.late, 2);
    assert_eq!(spans(&direct.all()), [(200 * SEC, 200 * SEC, 2)]);
}

#[test]
fn replay_an_event_older_than_the_buffer_is_late_and_evaluated_at_the_clock() {
    let rule = count_rule(DELETES, &["@usr.name"], "a >= 2", 60, 300, 3600);
    // Capacity 1: 100 s is evaluated when 200 s comes, 200 s when 300 s
    // comes; then 10 s comes, older than the clock (200 s).
    let (s, tally) = replay(
        rule,
        1,
        &[
            delete_by("alice", 100 * SEC),
            delete_by("alice", 200 * SEC),
            delete_by("alice", 300 * SEC),
            delete_by("alice", 10 * SEC),
        ],
    );
    assert_eq!(tally.late, 1);
    assert_eq!(tally.events, 4);
    // At 200 s the window holds 200 s and the late event: a = 2. At its
    // own time (10 s) it would have been alone.
    assert_eq!(spans(&s), [(200 * SEC, 200 * SEC, 1)]);
    assert_eq!(results(&s[0]), [("a", 2.0)]);
}

/// One event of the property: when, who (or nobody), and whether it is
/// a delete (the rule's query) or a get.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    time_ms: i64,
    user: Option<&'static str>,
    delete: bool,
}

impl Arrival {
    fn log(&self) -> LogEvent {
        let verb = if self.delete { "delete" } else { "get" };
        ev(
            self.user,
            verb,
            "pods",
            None,
            Some("default"),
            200,
            self.time_ms,
        )
    }
}

/// A signal as the property compares it: user, first and last seen,
/// events folded in, and the count when it opened.
type Norm = (String, i64, i64, u64, u64);

fn norm(s: &Signal) -> Norm {
    assert_eq!(s.case, "hit");
    assert_eq!(s.status, Severity::High);
    let [(field, user)] = s.group.as_slice() else {
        panic!("one group-by field: {:?}", s.group);
    };
    assert_eq!(field, "@usr.name");
    let [(name, count)] = s.results.as_slice() else {
        panic!("one result: {:?}", s.results);
    };
    assert_eq!(name, "a");
    (
        user.clone(),
        s.first_seen_ms,
        s.last_seen_ms,
        s.events,
        *count as u64,
    )
}

/// The semantics by brute force: events in time order (ties in arrival
/// order); at each delete with a user, the deletes of that user so far
/// in `(t - w, t]` (`t` itself when `w` is 0); when `count >= n`, the
/// user's open signal is updated if the match is within `keep_alive` of
/// its last match and no more than `max` has passed since its first
/// ("closes once the time exceeds the maximum signal duration"), else
/// another opens.
fn reference(arrivals: &[Arrival], w: i64, keep_alive: i64, max: i64, n: u64) -> Vec<Norm> {
    let mut order = arrivals.to_vec();
    order.sort_by_key(|a| a.time_ms);
    let mut open: BTreeMap<&str, Norm> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, e) in order.iter().enumerate() {
        let (true, Some(user)) = (e.delete, e.user) else {
            continue;
        };
        let t = e.time_ms;
        let count = order[..=i]
            .iter()
            .filter(|o| o.delete && o.user == Some(user))
            .filter(|o| {
                if w == 0 {
                    o.time_ms == t
                } else {
                    o.time_ms > t - w
                }
            })
            .count() as u64;
        if count < n {
            continue;
        }
        match open.get_mut(user) {
            Some(s) if t - s.2 <= keep_alive && t - s.1 <= max => {
                s.2 = t;
                s.3 += 1;
            }
            _ => {
                if let Some(old) = open.remove(user) {
                    out.push(old);
                }
                open.insert(user, (user.to_owned(), t, t, 1, count));
            }
        }
    }
    out.extend(open.into_values());
    out.sort();
    out
}

fn arrival() -> impl Strategy<Value = (Arrival, u16)> {
    (
        0i64..120,
        prop::sample::select(vec![0i64, 1, 999, 4_999]),
        prop::sample::select(vec![Some("alice"), Some("bob"), None]),
        prop::bool::weighted(0.8),
        any::<u16>(),
    )
        .prop_map(|(coarse, fine, user, delete, key)| {
            (
                Arrival {
                    time_ms: coarse * 5_000 + fine,
                    user,
                    delete,
                },
                key,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Events disordered no more than the buffer holds come out of
    /// `Replay` in time order: the signals of a count rule are those of
    /// the brute-force model, with no late event; with a buffer as large
    /// as the input, any order does.
    #[test]
    fn replay_signals_equal_the_brute_force_model(
        events in prop::collection::vec(arrival(), 0..40),
        capacity in 1usize..6,
        window in prop::sample::select(vec![0u32, 60]),
        keep_alive in prop::sample::select(vec![60u32, 300]),
        max in prop::sample::select(vec![60u32, 300, 600]),
        n in 1u64..4,
    ) {
        let rule = || count_rule(
            DELETES,
            &["@usr.name"],
            &format!("a >= {n}"),
            window,
            keep_alive,
            max,
        );
        let arrivals: Vec<Arrival> = events.iter().map(|(a, _)| *a).collect();
        let expected = reference(
            &arrivals,
            i64::from(window) * 1000,
            i64::from(keep_alive) * 1000,
            i64::from(max) * 1000,
            n,
        );

        // Sorted, then shuffled within chunks of `capacity`: no event
        // comes after one later than it that the buffer let go.
        let mut sorted = events.clone();
        sorted.sort_by_key(|(a, _)| a.time_ms);
        let mut disordered = Vec::with_capacity(sorted.len());
        for chunk in sorted.chunks(capacity) {
            let mut chunk = chunk.to_vec();
            chunk.sort_by_key(|(_, key)| *key);
            disordered.extend(chunk.into_iter().map(|(a, _)| a));
        }
        // The model orders ties by arrival, as the buffer does.
        let expected_disordered = reference(
            &disordered,
            i64::from(window) * 1000,
            i64::from(keep_alive) * 1000,
            i64::from(max) * 1000,
            n,
        );
        let logs: Vec<LogEvent> = disordered.iter().map(Arrival::log).collect();
        let (got, tally) = replay(rule(), capacity, &logs);
        let mut got: Vec<Norm> = got.iter().map(norm).collect();
        got.sort();
        prop_assert_eq!(tally.late, 0);
        prop_assert_eq!(tally.events, logs.len() as u64);
        prop_assert_eq!(&got, &expected_disordered);

        let logs: Vec<LogEvent> = arrivals.iter().map(Arrival::log).collect();
        let (got, tally) = replay(rule(), logs.len(), &logs);
        let mut got: Vec<Norm> = got.iter().map(norm).collect();
        got.sort();
        prop_assert_eq!(tally.late, 0);
        prop_assert_eq!(&got, &expected);
    }

    /// Any text: no panic; unreadable exactly when it is not a JSON object.
    #[test]
    fn any_audit_text_is_read_or_counted_unreadable(
        text in prop_oneof![
            "[{}\\[\\]\":,a-z0-9 ]{0,24}",
            "\\{(\"[a-c]{1,2}\": ?(1|\"x\"|\\[\\]|null|\\{\\}|\\[1,\"y\"\\]),?){0,3}\\}",
        ],
    ) {
        let rule = count_rule("source:kubernetes.audit", &[], "a > 0", 60, 60, 60);
        let mut engine = RuleEngine::new(vec![rule]).unwrap();
        let event = LogEvent { audit: text.clone(), source: "kubernetes.audit".into(), ..Default::default() };
        engine.observe(&event, &mut |_| {});
        let object = serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object());
        prop_assert_eq!(engine.tally().unreadable, u64::from(!object));
        prop_assert_eq!(engine.tally().matched.clone(), vec![u64::from(object)]);
    }
}

// ---------------------------------------------------------------------
// (17) Unreadable events

#[test]
fn an_audit_text_that_is_not_a_json_object_is_counted_unreadable() {
    let texts = [
        "",
        "   ",
        "not json",
        "[]",
        "[1, 2]",
        "[{\"verb\": \"delete\"}]",
        "null",
        "42",
        "\"text\"",
        "{\"verb\":",
        "{\"verb\": \"delete\"} trailing",
        "{\"verb\": \"delete\",}",
        "\u{0}",
    ];
    let rule = count_rule(DELETES, &[], "a > 0", 60, 60, 60);
    let mut events: Vec<LogEvent> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| LogEvent {
            time_ms: i as i64,
            audit: (*text).to_owned(),
            source: "kubernetes.audit".into(),
            ..Default::default()
        })
        .collect();
    events.push(delete_by("alice", 100));
    let run = run(rule, &events);
    assert_eq!(run.tally.events, texts.len() as u64 + 1);
    assert_eq!(run.tally.unreadable, texts.len() as u64);
    assert_eq!(run.tally.matched, [1]);
    assert_eq!(run.tally.late, 0);
    assert_eq!(spans(&run.all()), [(100, 100, 1)]);
}

// ---------------------------------------------------------------------
// Regressions found by the tests above

/// The sum was a running total: 0.1 + 0.2 - 0.1 left 0.20000000000000004
/// in the window, over a threshold of 0.2.
#[test]
fn a_sum_is_exact_after_values_leave_the_window() {
    let rule = measure_rule("sum", &["@requestObject.spec.replicas"], "a > 0.2", 60);
    let s = signals(
        rule,
        &[
            scale("alice", json!(0.1), 0),
            scale("alice", json!(0.2), SEC),
            scale("alice", json!(0), MIN),
        ],
    );
    assert_eq!(spans(&s), [(SEC, SEC, 1)]);
}

/// The max started from 0, so negative values could never be it.
#[test]
fn a_max_of_negative_values_is_negative() {
    let rule = measure_rule("max", &["@requestObject.spec.replicas"], "a < 0", 60);
    let s = signals(rule, &[scale("alice", json!(-3), 0)]);
    assert_eq!(spans(&s), [(0, 0, 1)]);
    assert_eq!(results(&s[0]), [("a", -3.0)]);
}

/// A repeated key made the whole event unreadable; the last value counts,
/// as the queries read it.
#[test]
fn an_event_with_a_repeated_key_is_read_with_its_last_value() {
    let rule = count_rule(
        "source:kubernetes.audit @verb:delete",
        &["@network.client.ip"],
        "a > 0",
        60,
        300,
        600,
    );
    let text = r#"{"verb":"delete","user":{"username":"alice"},"sourceIPs":["10.0.0.1"],"sourceIPs":["10.0.0.2"],"requestURI":"/a","requestURI":"/b"}"#;
    let event = LogEvent {
        time_ms: 0,
        audit: text.to_owned(),
        source: "kubernetes.audit".into(),
        ..Default::default()
    };
    let mut engine = RuleEngine::new(vec![rule]).unwrap();
    let mut out = Vec::new();
    engine.observe(&event, &mut |s| out.push(s));
    engine.finish(&mut |s| out.push(s));
    assert_eq!(engine.tally().unreadable, 0);
    assert_eq!(groups(&out), [vec![("@network.client.ip", "10.0.0.2")]]);
}

proptest! {
    /// Times come from the logs: any of them, however extreme, is
    /// evaluated without overflow (a panic in debug builds, a wrap in
    /// release ones).
    #[test]
    fn extreme_times_never_overflow(times in proptest::collection::vec(
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()], 1..6)
    ) {
        let threshold = count_rule("source:kubernetes.audit @verb:delete", &["@usr.name"], "a > 0", 60, 300, 600);
        let learner = new_value_rule(
            "source:kubernetes.audit @verb:delete",
            &["@usr.name"],
            &[],
            json!({"learningMethod": "duration", "learningDuration": 7, "forgetAfter": 7}),
        );
        let mut engine = RuleEngine::new(vec![threshold, learner]).unwrap();
        let mut out = Vec::new();
        for (i, t) in times.iter().enumerate() {
            engine.observe(&delete_by(&format!("u{}", i % 2), *t), &mut |s| out.push(s));
            engine.sweep(&mut |s| out.push(s));
        }
        engine.finish(&mut |s| out.push(s));
        prop_assert_eq!(engine.tally().events, times.len() as u64);
    }
}

/// "Closes once the time exceeds the maximum signal duration": a match
/// exactly that long after the first still updates the signal.
#[test]
fn a_match_exactly_at_the_maximum_duration_updates_the_signal() {
    let rule = count_rule(DELETES, &["@usr.name"], "a > 0", 60, 300, 600);
    let events = [
        delete_by("alice", 0),
        delete_by("alice", 300 * SEC),
        delete_by("alice", 600 * SEC),
        delete_by("alice", 600 * SEC + 1),
    ];
    let s = signals(rule, &events);
    assert_eq!(
        spans(&s),
        [(0, 600 * SEC, 3), (600 * SEC + 1, 600 * SEC + 1, 1)]
    );
}

/// `filters`: `require` keeps only matching events, `suppress` drops
/// matching ones, before any query counts them.
#[test]
fn filters_require_and_suppress_events() {
    let mut body = json!({
        "name": "filtered", "type": "log_detection", "isEnabled": true, "message": "m",
        "queries": [{"query": DELETES, "aggregation": "count", "groupByFields": ["@usr.name"]}],
        "cases": [{"name": "hit", "status": "high", "condition": "a > 0"}],
        "options": {"evaluationWindow": 60, "keepAlive": 60, "maxSignalDuration": 60},
        "filters": [
            {"action": "suppress", "query": "@usr.name:bob"},
            {"action": "require", "query": "@objectRef.namespace:default"},
        ],
    });
    let events = [
        delete_by("alice", 0),
        delete_by("bob", SEC),
        ev(
            Some("carol"),
            "delete",
            "pods",
            None,
            Some("prod"),
            200,
            2 * SEC,
        ),
    ];
    let s = signals(rule(body.clone()), &events);
    assert_eq!(groups(&s), [vec![("@usr.name", "alice")]]);
    body["filters"] = json!([]);
    assert_eq!(signals(rule(body), &events).len(), 3);
}

/// Fields that change detection and are not replayed refuse the rule.
#[test]
fn fields_the_replay_does_not_run_refuse_the_rule() {
    for (path, value) in [
        (vec!["groupSignalsBy"], json!(["@usr.name"])),
        (
            vec!["options", "newValueOptions", "instantaneousBaseline"],
            json!(true),
        ),
        (
            vec!["queries", "0", "hasOptionalGroupByFields"],
            json!(true),
        ),
    ] {
        let mut body = json!({
            "name": "r", "type": "log_detection", "isEnabled": true, "message": "m",
            "queries": [{"query": DELETES, "aggregation": "new_value", "metrics": ["@usr.name"]}],
            "cases": [{"status": "high"}],
            "options": {"detectionMethod": "new_value", "keepAlive": 60, "maxSignalDuration": 60,
                        "newValueOptions": {"forgetAfter": 7}},
        });
        let mut at = &mut body;
        for name in &path[..path.len() - 1] {
            at = match name.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*name],
            };
        }
        at[path[path.len() - 1]] = value;
        let error = RuleEngine::new(vec![rule(body)]).err().expect("refused");
        assert!(error.to_string().contains(path[path.len() - 1]), "{error}");
    }
}
