//! A log group's own tags, added to `ddtags` (`DD_FETCH_LOG_GROUP_TAGS`).
//!
//! Tags are read with `ListTagsForResource` and kept in memory across warm
//! invocations for the configured time. Reading them is an extra: a failure
//! (no permission, throttling, a timeout) is logged once per log group,
//! counted, remembered for the same time so a denied permission does not
//! cost a call per invocation, and the logs go out without the tags.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata};
use tokio::time::Instant;

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

    /// From the standard AWS environment; the region is the function's own,
    /// where its subscriptions' log groups are.
    pub async fn from_env(ttl: Duration) -> Self {
        let sdk = crate::aws::sdk_config(None).await;
        let region = sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
        let client = crate::aws::logs_client(&sdk, limits::TAGS_FETCH_TIMEOUT);
        Self::new(client, region, ttl)
    }

    /// The tags of `log_group` in account `owner`. `partition` comes from
    /// the function's ARN (`aws`, `aws-cn`, `aws-us-gov`).
    pub async fn lookup(&self, partition: &str, owner: &str, log_group: &str) -> GroupTags {
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

/// `key:value` as Datadog accepts it: lower case; letters, digits, `_`,
/// `-`, `:`, `.` and `/` kept, anything else one `_`; at most 200
/// characters. An empty value gives the key alone.
pub fn datadog_tag(key: &str, value: &str) -> String {
    let raw = if value.is_empty() {
        key.to_owned()
    } else {
        format!("{key}:{value}")
    };
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars().flat_map(char::to_lowercase) {
        let keep = c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '/');
        if keep {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    match out.char_indices().nth(limits::MAX_TAG_CHARS) {
        Some((cut, _)) => out[..cut].to_owned(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_datadog_tags() {
        assert_eq!(datadog_tag("Team", "Platform"), "team:platform");
        assert_eq!(
            datadog_tag("cost center", "R&D / EU"),
            "cost_center:r_d_/_eu"
        );
        assert_eq!(datadog_tag("Env", ""), "env");
        assert_eq!(datadog_tag("Ünïcode", "Ça"), "ünïcode:ça");
        assert_eq!(datadog_tag("a", "b\"c,d"), "a:b_c_d");
        assert_eq!(datadog_tag("k", &"v".repeat(300)).chars().count(), 200);
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
