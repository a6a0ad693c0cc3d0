//! Which log groups are forwarded (`DD_LOG_GROUP_PREFIXES`).
//!
//! An account-level subscription filter policy sends every log group of an
//! account to the forwarder, and such a policy can only leave groups out,
//! not name the ones to take. So the forwarder itself passes over the
//! documents of other groups, before it inflates them when it can
//! ([`crate::decode::peek_header`]), and counts each one. By default it
//! takes the groups EKS writes, `/aws/eks/...`.

/// The default: the log groups of EKS clusters' control planes.
pub const EKS_LOG_GROUP_PREFIX: &str = "/aws/eks/";

/// The log groups whose documents are forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogGroupSelection {
    /// Every log group (`*`), as the Datadog Forwarder does.
    All,
    /// The groups whose names start with one of these.
    Prefixes(Vec<String>),
}

impl Default for LogGroupSelection {
    fn default() -> Self {
        Self::Prefixes(vec![EKS_LOG_GROUP_PREFIX.to_owned()])
    }
}

impl LogGroupSelection {
    /// What `DD_LOG_GROUP_PREFIXES` accepts.
    pub const ACCEPTS: &'static str =
        "* for every log group, or log group name prefixes separated by commas, such as /aws/eks/";

    /// A comma-separated list of prefixes, or `*` (which takes every
    /// group, whatever else is listed: the template adds `LogGroupName` to
    /// `LogGroupPrefixes`). Empty entries are dropped; `None` when nothing
    /// is left.
    pub fn parse(value: &str) -> Option<Self> {
        let entries: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if entries.is_empty() {
            None
        } else if entries.contains(&"*") {
            Some(Self::All)
        } else {
            Some(Self::Prefixes(
                entries.into_iter().map(str::to_owned).collect(),
            ))
        }
    }

    /// Whether the documents of `log_group` are forwarded.
    pub fn admits(&self, log_group: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefixes(prefixes) => prefixes.iter().any(|p| log_group.starts_with(p.as_str())),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_takes_eks_groups_only() {
        let eks = LogGroupSelection::default();
        assert!(eks.admits("/aws/eks/prod/cluster"));
        assert!(!eks.admits("/aws/lambda/eks-audit-forwarder"));
        assert!(!eks.admits("/aws/ekS/prod/cluster"));
        assert!(!eks.admits(""));
    }

    #[test]
    fn prefixes_and_star_parse() {
        assert_eq!(
            LogGroupSelection::parse(" * "),
            Some(LogGroupSelection::All)
        );
        assert_eq!(
            LogGroupSelection::parse("/aws/eks/, /custom/audit,"),
            Some(LogGroupSelection::Prefixes(vec![
                "/aws/eks/".into(),
                "/custom/audit".into()
            ]))
        );
        for refused in ["", " , "] {
            assert_eq!(LogGroupSelection::parse(refused), None, "{refused:?}");
        }
        // As the template writes LogGroupPrefixes=* with a LogGroupName.
        assert_eq!(
            LogGroupSelection::parse("*,/custom/audit"),
            Some(LogGroupSelection::All)
        );
        let custom = LogGroupSelection::parse("/aws/eks/,/custom/audit").unwrap();
        assert!(custom.admits("/custom/audit-2"));
        assert!(!custom.admits("/custom/other"));
        assert!(LogGroupSelection::All.admits("anything"));
    }
}
