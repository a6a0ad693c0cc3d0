//! Replaying logs through detection rules: which signals they would have
//! raised, by the semantics Datadog documents for log detection rules.
//!
//! Each rule is evaluated on every event, in event-time order.
//!
//! **Threshold** (Datadog, "Log detection rules", time windows and cases):
//! - an event matching a query counts in its group, the values of the
//!   query's `groupByFields`. "If a group by value doesn't exist, the case
//!   will never be met": an event missing one is not counted;
//! - each query's result (`count`, `cardinality` of its distinct fields,
//!   `sum` or `max` of its metric) is taken over a sliding evaluation
//!   window ending at the event, `(t - evaluationWindow, t]`; a window of 0
//!   holds the events of the same millisecond;
//! - the cases are evaluated in order and "the first case to match
//!   generates the signal";
//! - a signal "remains open if a case is matched at least once within the
//!   keep alive window"; each match updates it (its `last_seen`, its event
//!   count) instead of raising another;
//! - it "closes once the time exceeds the maximum signal duration ...
//!   calculated from the first seen timestamp": a match more than
//!   `maxSignalDuration` after the first opens a new one;
//! - one signal per group-by value.
//!
//! **New value** (the API's `newValueOptions`):
//! - per group, the values of the query's `metrics` field (each item of a
//!   list; several fields make one combined value) that were not learned
//!   raise a signal, once each;
//! - `learningMethod: duration`: values seen during `learningDuration`
//!   days from the group's first event are learned silently. "If set to
//!   0, a signal will be generated for all new values after the first
//!   value is learned": the group's first event is learned;
//! - `learningMethod: threshold`: the group's first `learningThreshold`
//!   events are learned (0: none, so the first value signals too);
//! - `forgetAfter`: a value not seen for that many days is forgotten, and
//!   signals again when it comes back.
//!
//! Where the documentation is silent, this is what we chose (README,
//! "Detection rules"): a case is evaluated only when an event of its group
//! matches one of the rule's queries; a threshold signal keeps the case
//! that opened it; a new value signal is not updated by later events.

use std::collections::{HashMap, VecDeque};

use thiserror::Error;

use super::file::{Aggregation, DetectionMethod, DetectionRule, Severity};
use crate::audit::query::{AuditEvent, AuditQuery, FieldCache, LogContext, QueryError, field_path};
use crate::json::{Members, string_value};

const DAY_MS: i64 = 86_400_000;

/// Fields of the API's schema that change which events count or how
/// signals group, which the replay does not implement: a rule with one
/// is refused rather than replayed as a different rule.
const NOT_REPLAYED: &[&str] = &[
    "referenceTables",
    "groupSignalsBy",
    "hasOptionalGroupByFields",
    "schedulingOptions",
    "calculatedFields",
    "thirdPartyCases",
    "instantaneousBaseline",
    "anomalyDetectionOptions",
    "impossibleTravelOptions",
    "thirdPartyRuleOptions",
    "sequenceDetectionOptions",
    "correlatedByFields",
    "correlatedQueryIndex",
    "dataSource",
    "indexes",
];

/// Separates the parts of a group key or of a combined value: no audit
/// field holds U+001F.
const JOIN: char = '\u{1f}';

/// Why a rule cannot be evaluated.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("rule {rule:?}: queries[{query}].query: {source}")]
    Query {
        rule: String,
        query: usize,
        source: QueryError,
    },
    #[error("rule {rule:?}: filters[{filter}].query: {source}")]
    Filter {
        rule: String,
        filter: usize,
        source: QueryError,
    },
    #[error(
        "rule {rule:?}: {field} changes what the rule detects and this tool does not replay it; remove it to test the rule (rules export keeps it)"
    )]
    NotReplayed { rule: String, field: String },
    #[error("rule {rule:?}: queries[{query}] field {field:?}: {source}")]
    Field {
        rule: String,
        query: usize,
        field: String,
        source: QueryError,
    },
}

/// One log to evaluate: its time, its audit event, and what the log says
/// besides (its source, service, host and tags).
#[derive(Debug, Clone, Default)]
pub struct LogEvent {
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// The audit event, as JSON text.
    pub audit: String,
    pub source: String,
    pub service: String,
    pub host: String,
    pub tags: String,
}

/// A signal a rule raised.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The rule's index in the set, and its name.
    pub rule_index: usize,
    pub rule: String,
    pub case: String,
    pub status: Severity,
    /// Each group-by field, as the rule writes it, and its value.
    pub group: Vec<(String, String)>,
    /// The value that was new (new value rules).
    pub new_value: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Case matches folded into the signal, the one that opened it
    /// included (a new value signal: 1).
    pub events: u64,
    /// Each query's result when the signal opened (threshold rules).
    pub results: Vec<(String, f64)>,
}

/// A field the rule reads, as written and as a path.
struct FieldRef {
    written: String,
    path: Vec<String>,
}

struct CompiledQuery {
    query: AuditQuery,
    aggregation: Aggregation,
    group_by: Vec<FieldRef>,
    /// `distinctFields` (cardinality) or `metrics` (sum, max, new value).
    measured: Vec<FieldRef>,
}

struct CompiledRule {
    rule: DetectionRule,
    queries: Vec<CompiledQuery>,
    /// `filters`: each with whether it suppresses.
    filters: Vec<(AuditQuery, bool)>,
    state: RuleState,
}

enum RuleState {
    Threshold(HashMap<String, ThresholdGroup>),
    /// Per query, per group.
    NewValue(Vec<HashMap<String, Learner>>),
}

/// What a query's window holds for one group.
#[derive(Default)]
struct Window {
    entries: VecDeque<(i64, Entry)>,
    distinct: HashMap<String, u32>,
}

enum Entry {
    Count,
    Distinct(String),
    Number(f64),
}

struct ThresholdGroup {
    group: Vec<(String, String)>,
    windows: Vec<Window>,
    open: Option<Signal>,
}

/// A new value query's memory for one group.
struct Learner {
    first_seen_ms: i64,
    events: u64,
    /// Each value and when it was last seen.
    seen: HashMap<Box<str>, i64>,
}

/// Counts of one replay.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayTally {
    pub events: u64,
    /// Events that are not a JSON object.
    pub unreadable: u64,
    /// Events older than one already evaluated: evaluated at that time.
    pub late: u64,
    /// Per rule, the events that matched one of its queries.
    pub matched: Vec<u64>,
}

/// A set of rules being replayed.
pub struct RuleEngine {
    rules: Vec<CompiledRule>,
    clock_ms: i64,
    tally: ReplayTally,
}

impl RuleEngine {
    /// Compiles `rules`; every query is checked here, before any event.
    pub fn new(rules: Vec<DetectionRule>) -> Result<Self, EngineError> {
        let mut table = Vec::new();
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            // Fields that change which events count or how signals group:
            // a replay without them would not be the rule Datadog runs.
            if let Some(w) = rule.warnings.iter().find(|w| {
                let last = w.field.rsplit('.').next().unwrap_or(&w.field);
                NOT_REPLAYED.contains(&last)
            }) {
                return Err(EngineError::NotReplayed {
                    rule: rule.name.clone(),
                    field: w.field.clone(),
                });
            }
            let mut filters = Vec::with_capacity(rule.filters.len());
            for (i, f) in rule.filters.iter().enumerate() {
                let mut query = AuditQuery::parse_log_search(&f.query).map_err(|source| {
                    EngineError::Filter {
                        rule: rule.name.clone(),
                        filter: i,
                        source,
                    }
                })?;
                query.share_fields(&mut table);
                filters.push((query, f.suppress));
            }
            let mut queries = Vec::with_capacity(rule.queries.len());
            for (i, q) in rule.queries.iter().enumerate() {
                let mut query = AuditQuery::parse_log_search(&q.query).map_err(|source| {
                    EngineError::Query {
                        rule: rule.name.clone(),
                        query: i,
                        source,
                    }
                })?;
                query.share_fields(&mut table);
                let field = |written: &String| {
                    field_path(written, true)
                        .map(|path| FieldRef {
                            written: written.clone(),
                            path,
                        })
                        .map_err(|source| EngineError::Field {
                            rule: rule.name.clone(),
                            query: i,
                            field: written.clone(),
                            source,
                        })
                };
                let group_by = q
                    .group_by_fields
                    .iter()
                    .map(field)
                    .collect::<Result<_, _>>()?;
                let measured_names = match q.aggregation {
                    Aggregation::Cardinality if !q.distinct_fields.is_empty() => &q.distinct_fields,
                    _ => &q.metrics,
                };
                let measured = measured_names.iter().map(field).collect::<Result<_, _>>()?;
                queries.push(CompiledQuery {
                    query,
                    aggregation: q.aggregation,
                    group_by,
                    measured,
                });
            }
            let state = match rule.options.detection_method {
                DetectionMethod::Threshold => RuleState::Threshold(HashMap::new()),
                DetectionMethod::NewValue => {
                    RuleState::NewValue(queries.iter().map(|_| HashMap::new()).collect())
                }
            };
            compiled.push(CompiledRule {
                rule,
                queries,
                filters,
                state,
            });
        }
        // Every query numbers its fields in the final table.
        for rule in &mut compiled {
            for q in &mut rule.queries {
                q.query.share_fields(&mut table);
            }
            for (f, _) in &mut rule.filters {
                f.share_fields(&mut table);
            }
        }
        let tally = ReplayTally {
            matched: vec![0; compiled.len()],
            ..ReplayTally::default()
        };
        Ok(Self {
            rules: compiled,
            clock_ms: i64::MIN,
            tally,
        })
    }

    pub fn tally(&self) -> &ReplayTally {
        &self.tally
    }

    /// Evaluates one event; `emit` receives the signals that closed or
    /// were raised.
    pub fn observe(&mut self, log: &LogEvent, emit: &mut impl FnMut(Signal)) {
        self.tally.events += 1;
        let mut t = log.time_ms;
        if t < self.clock_ms {
            self.tally.late += 1;
            t = self.clock_ms;
        }
        self.clock_ms = t;
        // The event is split once: the derived attributes are read from
        // its members, which then go to the queries.
        let Some(split) = Members::of(&log.audit) else {
            self.tally.unreadable += 1;
            return;
        };
        let derived = Derived::of(&split);
        let context = LogContext {
            source: &log.source,
            service: &log.service,
            host: &log.host,
            tags: &log.tags,
        };
        let members = context.members(derived.client_ip.as_deref(), derived.path.as_deref());
        let Some(event) = AuditEvent::with_log(split, &members) else {
            self.tally.unreadable += 1;
            return;
        };
        let mut cache = FieldCache::default();
        for (index, rule) in self.rules.iter_mut().enumerate() {
            if rule.observe(index, t, &event, &mut cache, emit) {
                self.tally.matched[index] += 1;
            }
        }
    }

    /// Closes every open signal (the replay is over) and hands it out.
    pub fn finish(&mut self, emit: &mut impl FnMut(Signal)) {
        for rule in &mut self.rules {
            if let RuleState::Threshold(groups) = &mut rule.state {
                let mut open: Vec<Signal> =
                    groups.values_mut().filter_map(|g| g.open.take()).collect();
                open.sort_by_key(|s| s.first_seen_ms);
                open.into_iter().for_each(&mut *emit);
            }
        }
    }

    /// Hands out the signals that can no longer be updated at the current
    /// time and forgets groups with nothing left in their windows, so
    /// memory follows the active groups.
    pub fn sweep(&mut self, emit: &mut impl FnMut(Signal)) {
        let now = self.clock_ms;
        for rule in &mut self.rules {
            let options = &rule.rule.options;
            let (window, keep_alive, max) = (
                i64::from(options.evaluation_window) * 1000,
                i64::from(options.keep_alive) * 1000,
                i64::from(options.max_signal_duration) * 1000,
            );
            if let RuleState::Threshold(groups) = &mut rule.state {
                groups.retain(|_, g| {
                    if let Some(open) = &g.open
                        && !still_open(open, now, keep_alive, max)
                    {
                        emit(g.open.take().expect("checked above"));
                    }
                    g.windows.iter_mut().for_each(|w| w.evict(now, window));
                    g.open.is_some() || g.windows.iter().any(|w| !w.entries.is_empty())
                });
            }
        }
    }
}

/// Whether a match at `now` still updates `signal`. Times come from the
/// logs, so the arithmetic saturates rather than overflow.
fn still_open(signal: &Signal, now: i64, keep_alive: i64, max: i64) -> bool {
    now.saturating_sub(signal.last_seen_ms) <= keep_alive
        && now.saturating_sub(signal.first_seen_ms) <= max
}

/// The attributes Datadog's `kubernetes.audit` pipeline derives from more
/// than one field: the client's address (the first of `sourceIPs`) and
/// the path (`requestURI` without its query string).
struct Derived {
    client_ip: Option<String>,
    path: Option<String>,
}

impl Derived {
    /// From the event's members. A repeated key counts once, its last
    /// value, as the queries read it.
    fn of(members: &Members<'_>) -> Self {
        let client_ip = members.last("sourceIPs").and_then(|raw| {
            let ips: Vec<serde_json::Value> = serde_json::from_str(raw).ok()?;
            ips.first()?.as_str().map(str::to_owned)
        });
        let path = members.last("requestURI").and_then(|raw| {
            let uri = string_value(raw)?;
            Some(
                uri.split_once('?')
                    .map_or(uri.as_ref(), |(p, _)| p)
                    .to_owned(),
            )
        });
        Self { client_ip, path }
    }
}

impl CompiledQuery {
    /// The group key and its fields' values; `None` when a group-by field
    /// is missing.
    fn group(&self, event: &AuditEvent<'_>) -> Option<(String, Vec<(String, String)>)> {
        let mut key = String::new();
        let mut group = Vec::with_capacity(self.group_by.len());
        for field in &self.group_by {
            let value = event.values(&field.path).into_iter().next()?;
            key.push_str(&value);
            key.push(JOIN);
            group.push((field.written.clone(), value.into_owned()));
        }
        Some((key, group))
    }

    /// The values the query measures: each item of a single field, or the
    /// first values of several fields joined into one.
    fn measured(&self, event: &AuditEvent<'_>) -> Vec<String> {
        match self.measured.as_slice() {
            [] => Vec::new(),
            [one] => event
                .values(&one.path)
                .into_iter()
                .map(|v| v.into_owned())
                .collect(),
            several => {
                let mut joined = String::new();
                for (i, field) in several.iter().enumerate() {
                    let Some(v) = event.values(&field.path).into_iter().next() else {
                        return Vec::new();
                    };
                    if i > 0 {
                        joined.push(JOIN);
                    }
                    joined.push_str(&v);
                }
                vec![joined]
            }
        }
    }
}

impl CompiledRule {
    /// Returns whether the event matched one of the rule's queries.
    fn observe<'a>(
        &mut self,
        index: usize,
        t: i64,
        event: &AuditEvent<'a>,
        cache: &mut FieldCache<'a>,
        emit: &mut impl FnMut(Signal),
    ) -> bool {
        // "Only generate a signal if there is a match" / "will not
        // generate a signal if there is a match": on each event.
        for (filter, suppress) in &self.filters {
            if filter.matches_cached(event, cache) == *suppress {
                return false;
            }
        }
        let mut matched = false;
        match &mut self.state {
            RuleState::Threshold(groups) => {
                let options = &self.rule.options;
                let window = i64::from(options.evaluation_window) * 1000;
                let mut touched: Vec<String> = Vec::new();
                for (qi, q) in self.queries.iter().enumerate() {
                    if !q.query.matches_cached(event, cache) {
                        continue;
                    }
                    matched = true;
                    let Some((key, group)) = q.group(event) else {
                        continue;
                    };
                    let entries: Vec<Entry> = match q.aggregation {
                        Aggregation::Count => vec![Entry::Count],
                        Aggregation::Cardinality => {
                            q.measured(event).into_iter().map(Entry::Distinct).collect()
                        }
                        Aggregation::Sum | Aggregation::Max => q
                            .measured(event)
                            .iter()
                            .filter_map(|v| v.parse::<f64>().ok().filter(|n| n.is_finite()))
                            .map(Entry::Number)
                            .collect(),
                        Aggregation::NewValue => Vec::new(),
                    };
                    let state = groups.entry(key.clone()).or_insert_with(|| ThresholdGroup {
                        group,
                        windows: self.queries.iter().map(|_| Window::default()).collect(),
                        open: None,
                    });
                    for entry in entries {
                        state.windows[qi].push(t, entry);
                    }
                    if !touched.contains(&key) {
                        touched.push(key);
                    }
                }
                for key in touched {
                    let state = groups.get_mut(&key).expect("touched groups exist");
                    state.windows.iter_mut().for_each(|w| w.evict(t, window));
                    let results: Vec<(String, f64)> = self
                        .queries
                        .iter()
                        .zip(&self.rule.queries)
                        .zip(&state.windows)
                        .map(|((q, written), w)| (written.name.clone(), w.result(q.aggregation)))
                        .collect();
                    let value = |name: &str| {
                        results
                            .iter()
                            .find(|(n, _)| n == name)
                            .map_or(0.0, |(_, v)| *v)
                    };
                    let Some(case) = self.rule.cases.iter().find(|c| {
                        c.condition
                            .as_ref()
                            .is_some_and(|condition| condition.holds(&value))
                    }) else {
                        continue;
                    };
                    let keep_alive = i64::from(options.keep_alive) * 1000;
                    let max = i64::from(options.max_signal_duration) * 1000;
                    if let Some(open) = &mut state.open {
                        if still_open(open, t, keep_alive, max) {
                            open.last_seen_ms = t;
                            open.events += 1;
                            continue;
                        }
                        emit(state.open.take().expect("checked above"));
                    }
                    state.open = Some(Signal {
                        rule_index: index,
                        rule: self.rule.name.clone(),
                        case: case.name.clone(),
                        status: case.status,
                        group: state.group.clone(),
                        new_value: None,
                        first_seen_ms: t,
                        last_seen_ms: t,
                        events: 1,
                        results,
                    });
                }
            }
            RuleState::NewValue(per_query) => {
                let options = self
                    .rule
                    .options
                    .new_value
                    .expect("a new value rule has them");
                let Some(case) = self.rule.cases.first() else {
                    return false;
                };
                let forget = i64::from(options.forget_after_days) * DAY_MS;
                for (q, learners) in self.queries.iter().zip(per_query.iter_mut()) {
                    if !q.query.matches_cached(event, cache) {
                        continue;
                    }
                    matched = true;
                    let Some((key, group)) = q.group(event) else {
                        continue;
                    };
                    let values = q.measured(event);
                    if values.is_empty() {
                        continue;
                    }
                    let learner = learners.entry(key).or_insert_with(|| Learner {
                        first_seen_ms: t,
                        events: 0,
                        seen: HashMap::new(),
                    });
                    learner.events += 1;
                    let learning = if options.learning_method_threshold {
                        learner.events <= u64::from(options.learning_threshold)
                    } else if options.learning_duration_days == 0 {
                        learner.events == 1
                    } else {
                        t.saturating_sub(learner.first_seen_ms)
                            < i64::from(options.learning_duration_days) * DAY_MS
                    };
                    for value in values {
                        let known = match learner.seen.get_mut(value.as_str()) {
                            Some(last) => {
                                let known = t.saturating_sub(*last) <= forget;
                                *last = t;
                                known
                            }
                            None => {
                                learner.seen.insert(value.clone().into_boxed_str(), t);
                                false
                            }
                        };
                        if known || learning {
                            continue;
                        }
                        emit(Signal {
                            rule_index: index,
                            rule: self.rule.name.clone(),
                            case: case.name.clone(),
                            status: case.status,
                            group: group.clone(),
                            new_value: Some(value.replace(JOIN, ",")),
                            first_seen_ms: t,
                            last_seen_ms: t,
                            events: 1,
                            results: Vec::new(),
                        });
                    }
                }
            }
        }
        matched
    }
}

impl Window {
    fn push(&mut self, t: i64, entry: Entry) {
        if let Entry::Distinct(v) = &entry {
            *self.distinct.entry(v.clone()).or_default() += 1;
        }
        self.entries.push_back((t, entry));
    }

    /// Drops what is outside `(now - window, now]` (a window of 0 keeps
    /// the current millisecond).
    fn evict(&mut self, now: i64, window: i64) {
        while let Some((t, _)) = self.entries.front() {
            let inside = if window == 0 {
                *t >= now
            } else {
                *t > now.saturating_sub(window)
            };
            if inside {
                break;
            }
            let (_, entry) = self.entries.pop_front().expect("front exists");
            if let Entry::Distinct(v) = entry
                && let Some(n) = self.distinct.get_mut(&v)
            {
                *n -= 1;
                if *n == 0 {
                    self.distinct.remove(&v);
                }
            }
        }
    }

    fn numbers(&self) -> impl Iterator<Item = f64> + '_ {
        self.entries.iter().filter_map(|(_, e)| match e {
            Entry::Number(n) => Some(*n),
            _ => None,
        })
    }

    fn result(&self, aggregation: Aggregation) -> f64 {
        match aggregation {
            Aggregation::Count => self.entries.len() as f64,
            Aggregation::Cardinality => self.distinct.len() as f64,
            // Summed afresh: a running total drifts as values leave
            // (0.1 + 0.2 - 0.1 is not 0.2).
            Aggregation::Sum => self.numbers().sum(),
            // Of an empty window, 0, as a count of nothing.
            Aggregation::Max => self.numbers().reduce(f64::max).unwrap_or(0.0),
            Aggregation::NewValue => 0.0,
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
