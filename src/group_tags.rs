//! A log group's own tags, added to `ddtags` (`DD_FETCH_LOG_GROUP_TAGS`).
//!
//! Tags are read with `ListTagsForResource` and kept in memory across warm
//! invocations for the configured time. Reading them is an extra: a failure
//! (no permission, throttling, a timeout) is logged once per log group,
//! counted, remembered for the same time so a denied permission does not
//! cost a call per invocation, and the logs go out without the tags.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};
use tokio::time::Instant;

use regex::Regex;

use crate::limits;

/// What a lookup found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTags {
    /// Datadog tags, sorted.
    pub tags: Arc<[String]>,
    /// This lookup called the API, and the call failed.
    pub fetch_failed: bool,
}

#[derive(Debug)]
struct Cached {
    fetched: Instant,
    tags: Arc<[String]>,
}

/// The cache, shared by all invocations of the process.
#[derive(Debug)]
pub struct GroupTagCache {
    client: aws_sdk_cloudwatchlogs::Client,
    region: String,
    ttl: Duration,
    entries: Mutex<HashMap<String, Cached>>,
    /// Log groups whose failure was already logged.
    warned: Mutex<HashSet<String>>,
}

impl GroupTagCache {
    pub fn new(client: aws_sdk_cloudwatchlogs::Client, region: String, ttl: Duration) -> Self {
        Self {
            client,
            region,
            ttl,
            entries: Mutex::new(HashMap::new()),
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// With a client of the process's SDK configuration; the region is the
    /// function's own, where its subscriptions' log groups are.
    pub fn for_sdk(sdk: &aws_config::SdkConfig, ttl: Duration) -> Self {
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        let client = crate::aws::logs_client(sdk);
        Self::new(client, region, ttl)
    }

    /// The tags of `log_group` in account `owner`. `partition` comes from
    /// the function's ARN (`aws`, `aws-cn`, `aws-us-gov`). The call ends by
    /// `deadline` at the latest (and after `TAGS_FETCH_TIMEOUT` anyway).
    pub async fn lookup(
        &self,
        partition: &str,
        owner: &str,
        log_group: &str,
        deadline: tokio::time::Instant,
    ) -> GroupTags {
        if log_group.is_empty() || owner.is_empty() {
            return GroupTags::default();
        }
        // No trailing `:*`: ListTagsForResource wants the group's own ARN.
        let arn = format!(
            "arn:{partition}:logs:{}:{owner}:log-group:{log_group}",
            self.region
        );
        if let Some(tags) = self.cached(&arn) {
            return GroupTags {
                tags,
                fetch_failed: false,
            };
        }
        let (tags, fetch_failed): (Arc<[String]>, bool) = match self
            .client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .customize()
            .config_override(crate::aws::logs_call_until(
                deadline.min(tokio::time::Instant::now() + limits::TAGS_FETCH_TIMEOUT),
            ))
            .send()
            .await
        {
            Ok(out) => {
                let mut tags: Vec<String> = out
                    .tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| datadog_tag(k, v))
                    .collect();
                tags.sort();
                (Arc::from(tags), false)
            }
            Err(e) => {
                let first_time = self
                    .warned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(arn.clone());
                if first_time {
                    tracing::warn!(
                        log_group,
                        code = e.code().unwrap_or("none"),
                        error = %DisplayErrorContext(&e),
                        "reading the log group's tags failed; its logs go out without them (logged once per log group)"
                    );
                }
                (Arc::from(Vec::new()), true)
            }
        };
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                arn,
                Cached {
                    fetched: Instant::now(),
                    tags: tags.clone(),
                },
            );
        GroupTags { tags, fetch_failed }
    }

    fn cached(&self, arn: &str) -> Option<Arc<[String]>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(arn)
            .filter(|c| c.fetched.elapsed() < self.ttl)
            .map(|c| c.tags.clone())
    }
}

/// The partition of an ARN (`arn:<partition>:...`), `aws` when there is none.
pub fn partition_of(arn: &str) -> &str {
    arn.strip_prefix("arn:")
        .and_then(|rest| rest.split(':').next())
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// A log group tag as the Datadog Forwarder writes it into `ddtags`, so
/// that facets and monitors keep working after the switch. Both parts are
/// lower-cased; every character but a letter, a digit, `_`, `:`, `-`, `.`
/// and `/` becomes `_`, and runs of `_` become one; trailing `_` go. In
/// the key, `:` becomes `_` first (`aws:cloudformation:stack-name` is
/// `aws_cloudformation_stack-name`), and leading digits and `_` go. An
/// empty value gives the key alone. Nothing is cut: Datadog keeps the
/// first 200 characters of a tag itself.
pub fn datadog_tag(key: &str, value: &str) -> String {
    let key = sanitize_tag_part(key, true);
    if value.is_empty() {
        return key;
    }
    format!("{key}:{}", sanitize_tag_part(value, false))
}

fn sanitize_tag_part(text: &str, is_key: bool) -> String {
    // Python's `\w` (the Forwarder's) is a letter, a number or `_`.
    static OTHER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[^\p{L}\p{N}_:./-]+").expect("a valid pattern"));
    static UNDERSCORES: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"_{2,}").expect("a valid pattern"));
    static LEADING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[_\p{Nd}]*").expect("a valid pattern"));
    let lowered = if is_key {
        text.replace(':', "_").to_lowercase()
    } else {
        text.to_lowercase()
    };
    let replaced = OTHER.replace_all(&lowered, "_");
    let mut tag = UNDERSCORES.replace_all(&replaced, "_").into_owned();
    // Only when it starts with `_` or an ASCII digit, as the Forwarder
    // checks; then any run of `_` and digits goes.
    if is_key && tag.starts_with(|c: char| c == '_' || c.is_ascii_digit()) {
        tag = LEADING.replace(&tag, "").into_owned();
    }
    tag.truncate(tag.trim_end_matches('_').len());
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12 (a): the Datadog Forwarder's normalisation
    /// (`caching/common.py`, `sanitize_aws_tag_string`), worked through on
    /// its code with these inputs.
    #[test]
    fn tags_are_written_as_the_datadog_forwarder_writes_them() {
        for (key, value, expected) in [
            (
                "aws:cloudformation:stack-name",
                "my-stack",
                "aws_cloudformation_stack-name:my-stack",
            ),
            ("123abc", "v", "abc:v"),
            ("_x_", "y", "x:y"),
            ("Team Name", "Platform Team", "team_name:platform_team"),
            ("kube:cluster", "prod-eks", "kube_cluster:prod-eks"),
            ("Ünïcode", "Ünïcode Välue", "ünïcode:ünïcode_välue"),
            ("env", "", "env"),
            ("url", "https://a.b:8080/x", "url:https://a.b:8080/x"),
            ("list", "a,b,c", "list:a_b_c"),
            (
                "Owner",
                "john.doe@example.com",
                "owner:john.doe_example.com",
            ),
            ("k", "123value", "k:123value"),
            ("k", "_lead_and_trail__", "k:_lead_and_trail"),
            ("k", "___", "k:"),
            ("123", "v", ":v"),
            ("Key=With+Symbols#", "v@l=u+e#!", "key_with_symbols:v_l_u_e"),
            ("key", "value::with::colons", "key:value::with::colons"),
            ("\u{663}abc", "v", "\u{663}abc:v"),
            ("Name", "EKS/Audit Logs (prod)", "name:eks/audit_logs_prod"),
            (
                "kubernetes.io/cluster/my-cluster",
                "owned",
                "kubernetes.io/cluster/my-cluster:owned",
            ),
            ("\u{130}stanbul", "", "i_stanbul"),
            ("Cafe\u{301}", "", "cafe"),
            ("x\u{b2}", "", "x\u{b2}"),
            ("emoji\u{1f680}x", "", "emoji_x"),
            ("-dash", "", "-dash"),
            ("a__b", "c__d", "a_b:c_d"),
        ] {
            assert_eq!(datadog_tag(key, value), expected, "{key:?} {value:?}");
        }
        // Nothing is cut.
        assert_eq!(datadog_tag(&"k".repeat(210), "v").chars().count(), 212);
    }

    #[test]
    fn partitions_from_arns() {
        assert_eq!(
            partition_of("arn:aws-cn:lambda:cn-north-1:1:function:f"),
            "aws-cn"
        );
        assert_eq!(partition_of("arn:aws:lambda:us-east-1:1:function:f"), "aws");
        assert_eq!(partition_of(""), "aws");
    }
}
