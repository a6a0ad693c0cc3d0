use super::*;
use crate::ship::BodyEncoding;

fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

#[test]
fn defaults_point_at_datadog_us1_with_zstd_and_gzip_6_as_fallback() {
    let c = parse(&[]).unwrap();
    assert_eq!(
        c.intake.url,
        "https://http-intake.logs.datadoghq.com/api/v2/logs"
    );
    assert_eq!(c.intake.encoding, BodyEncoding::Zstd { level: 1 });
    assert_eq!(c.intake.fallback, Some(BodyEncoding::Gzip { level: 6 }));
    assert_eq!(c.api_key, ApiKeySource::Unset);
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.max_decompressed_bytes, 64 * 1024 * 1024);
    assert_eq!(c.metrics.function_name, "eks-audit-forwarder");
    assert_eq!(c.intake.storage_tag, Some("s3,cloudwatch"));
    assert!(!c.proxy.is_active());
    assert_eq!(c.spill, None);
    assert_eq!(c.metrics.namespace, "EksAuditForwarder");
    assert_eq!(c.intake.request_timeout, Duration::from_secs(10));
}

#[test]
fn site_and_url_forms() {
    assert_eq!(
        parse(&[("DD_SITE", "datadoghq.eu")]).unwrap().intake.url,
        "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    );
    assert_eq!(
        parse(&[("DD_URL", "intake.example.com"), ("DD_PORT", "8443")])
            .unwrap()
            .intake
            .url,
        "https://intake.example.com:8443/api/v2/logs"
    );
    assert_eq!(
        parse(&[
            ("DD_URL", "localhost"),
            ("DD_PORT", "8080"),
            ("DD_NO_SSL", "true")
        ])
        .unwrap()
        .intake
        .url,
        "http://localhost:8080/api/v2/logs"
    );
    assert_eq!(
        parse(&[("DD_URL", "http://127.0.0.1:9000/"), ("DD_NO_SSL", "TRUE")])
            .unwrap()
            .intake
            .url,
        "http://127.0.0.1:9000/api/v2/logs"
    );
}

/// Regression: `DD_URL` was split by hand, so ports out of range and
/// query strings passed start-up and an IPv6 literal was refused.
#[test]
fn dd_url_is_parsed_as_a_url() {
    let url = |v: &str| {
        parse(&[("DD_URL", v), ("DD_NO_SSL", "true")])
            .map(|c| c.intake.url)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        url("https://[::1]:8443").unwrap(),
        "https://[::1]:8443/api/v2/logs"
    );
    assert_eq!(
        url("HTTPS://Intake.Example.com:443/").unwrap(),
        "https://intake.example.com/api/v2/logs"
    );
    assert_eq!(
        url("https://proxy.example.com/datadog/").unwrap(),
        "https://proxy.example.com/datadog/api/v2/logs",
        "a path is a prefix"
    );
    assert_eq!(
        url("http://127.0.0.1:65535").unwrap(),
        "http://127.0.0.1:65535/api/v2/logs"
    );
    assert_eq!(url("10.0.0.7").unwrap(), "http://10.0.0.7:443/api/v2/logs");
    assert_eq!(url("[::1]").unwrap(), "http://[::1]:443/api/v2/logs");
    assert_eq!(
        url("https://h:8443/api/v2/logs").unwrap(),
        "https://h:8443/api/v2/logs",
        "the endpoint is not appended twice"
    );
    for bad in [
        "https://127.0.0.1:99999",
        "https://host:notaport",
        "https://host:0x50",
        "https://h/p?x=1",
        "https://h/p?",
        "https://h#f",
        "https://",
        "https://[::1",
        "h:8443",
        "h:443",
        "h/",
        "https://h:0",
        "::1",
        "h\\x",
    ] {
        let err = url(bad).expect_err(bad);
        assert!(err.starts_with("DD_URL is not valid"), "{bad}: {err}");
    }
    for secret in [
        "https://user:hunter2@h",
        "https://u:hunter2@h:99999",
        "u:hunter2@h",
    ] {
        let err = url(secret).unwrap_err();
        assert!(err.contains("user name or password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn plain_http_needs_no_ssl() {
    let err = parse(&[("DD_URL", "http://127.0.0.1:9000")]).unwrap_err();
    assert!(err.to_string().contains("DD_NO_SSL=true"), "{err}");
}

#[test]
fn bad_values_name_the_variable_and_what_it_accepts() {
    for (var, value, accepts) in [
        ("DD_PORT", "http", "port number"),
        ("DD_PORT", "0", "port number"),
        ("DD_NO_SSL", "maybe", "true or false"),
        ("DD_USE_COMPRESSION", "gzip", "true or false"),
        ("DD_COMPRESSION_LEVEL", "13", "0 to 12"),
        ("DD_COMPRESSION", "brotli", "gzip or zstd"),
        ("DD_FETCH_LOG_GROUP_TAGS", "maybe", "true or false"),
        ("DD_TAGS_CACHE_TTL_SECONDS", "-1", "0 to 86400"),
        ("DD_REDACT_SECRETS", "perhaps", "true or false"),
        (
            "DD_REDACT_RESOURCES",
            "config maps",
            "Kubernetes resource names",
        ),
        ("DD_LOG_LEVEL", "loud", "error, warn, info, debug"),
        ("DD_SITE", "datadog hq", "Datadog site"),
        ("DD_URL", "ftp://x", "https://"),
        ("DD_URL", "https://127.0.0.1:99999", "port from 1 to 65535"),
        ("DD_URL", "https://host:notaport", "port from 1 to 65535"),
        ("DD_URL", "https://h/p?x=1", "no query"),
        ("DD_URL", "https://h/p#top", "no query, fragment"),
        ("DD_URL", "https:///api", "with a host"),
        ("DD_URL", "https://h/a b", "https://"),
        ("DD_URL", "intake.example.com:8443", "bare host name"),
        ("DD_URL", "intake.example.com/path", "bare host name"),
        ("DD_MAX_DECOMPRESSED_BYTES", "lots", "number of bytes"),
        ("DD_STORE_FAILED_EVENTS", "y", "true or false"),
        ("DD_REQUEST_TIMEOUT_SECONDS", "0", "0.1 to 900"),
        ("DD_METRICS_NAMESPACE", "a:b", "no colon"),
    ] {
        let msg = parse(&[(var, value)]).unwrap_err().to_string();
        assert!(msg.starts_with(var), "{msg}");
        assert!(msg.contains(accepts), "{msg}");
    }
    let msg = parse(&[("DD_COMPRESSION", "zstd"), ("DD_COMPRESSION_LEVEL", "0")])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("zstd level from 1 to 19"), "{msg}");
}

#[test]
fn secret_redaction_is_on_unless_turned_off() {
    assert_eq!(
        parse(&[])
            .unwrap()
            .audit
            .redactor
            .map(|r| r.extra_resources()),
        Some(vec![])
    );
    assert_eq!(
        parse(&[(
            "DD_REDACT_RESOURCES",
            "ConfigMaps, ,leases.coordination.k8s.io"
        )])
        .unwrap()
        .audit
        .redactor
        .map(|r| r.extra_resources()),
        Some(vec![
            "configmaps".to_owned(),
            "leases.coordination.k8s.io".to_owned()
        ])
    );
    assert_eq!(
        parse(&[("DD_REDACT_SECRETS", "false")])
            .unwrap()
            .audit
            .redactor
            .map(|r| r.extra_resources()),
        None
    );
}

#[test]
fn match_and_scrubbing_patterns() {
    let c = parse(&[
        ("INCLUDE_AT_MATCH", "verb\":\"create"),
        ("REDACT_IP", "true"),
        ("DD_SCRUBBING_RULE", "password=(\\S+)"),
        ("DD_SCRUBBING_RULE_REPLACEMENT", "password=*** (was \\1)"),
    ])
    .unwrap();
    assert!(c.audit.match_filter.include.is_some() && c.audit.match_filter.exclude.is_none());
    assert_eq!(c.audit.scrubber.rules.len(), 1);
    assert!(c.audit.scrubber.serialized.is_some());
    for (var, value, accepts) in [
        ("EXCLUDE_AT_MATCH", "(unclosed", "regular expression"),
        ("INCLUDE_AT_MATCH", "  ", "non-empty"),
        ("DD_SCRUBBING_RULE", "", "non-empty"),
        ("REDACT_EMAIL", "sure", "true or false"),
        ("DD_ENRICH_S3_TAGS", "on", "true or false"),
        ("DD_ENRICH_CLOUDWATCH_TAGS", "off", "true or false"),
        ("HTTPS_PROXY", "proxy:3128", "proxy URL"),
        ("HTTP_PROXY", "socks5://p:1080", "http:// or https://"),
    ] {
        let msg = parse(&[(var, value)]).unwrap_err().to_string();
        assert!(msg.starts_with(var) && msg.contains(accepts), "{msg}");
    }
    let msg = parse(&[
        ("DD_SCRUBBING_RULE", "a(b)"),
        ("DD_SCRUBBING_RULE_REPLACEMENT", "\\2"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        msg.starts_with("DD_SCRUBBING_RULE_REPLACEMENT") && msg.contains("group"),
        "{msg}"
    );
    // A proxy's credentials never show in an error or in Debug.
    let msg = parse(&[("HTTPS_PROXY", "http://u:s3cret@p:3128/path")])
        .unwrap_err()
        .to_string();
    assert!(!msg.contains("s3cret"), "{msg}");
    let c = parse(&[("HTTPS_PROXY", "http://u:s3cret@p:3128")]).unwrap();
    assert!(c.proxy.is_active() && !format!("{c:?}").contains("s3cret"));
}

#[test]
fn storage_tag_follows_the_two_enrichment_switches() {
    for (s3, cloudwatch, expected) in [
        ("true", "true", Some("s3,cloudwatch")),
        ("true", "false", Some("s3")),
        ("false", "true", Some("cloudwatch")),
        ("false", "false", None),
    ] {
        let c = parse(&[
            ("DD_ENRICH_S3_TAGS", s3),
            ("DD_ENRICH_CLOUDWATCH_TAGS", cloudwatch),
        ])
        .unwrap();
        assert_eq!(c.intake.storage_tag, expected, "{s3} {cloudwatch}");
    }
}

#[test]
fn audit_filters() {
    assert!(!parse(&[]).unwrap().audit.audit_filter.is_active());
    let c = parse(&[
        (
            "DD_AUDIT_EXCLUDE",
            r"@verb:watch @user.username:system\:node\:*",
        ),
        ("DD_AUDIT_NOISE_FILTER", "Aggressive"),
    ])
    .unwrap();
    assert!(c.audit.audit_filter.is_active());
    assert!(
        parse(&[("DD_AUDIT_NOISE_FILTER", "off")])
            .map(|c| !c.audit.audit_filter.is_active())
            .unwrap()
    );
    for (var, value, expected) in [
        (
            "DD_AUDIT_NOISE_FILTER",
            "loud",
            "expected off, standard or aggressive",
        ),
        ("DD_AUDIT_INCLUDE", "@verb:(get OR", "at character 14"),
        ("DD_AUDIT_EXCLUDE", "watch", "free-text search"),
        ("DD_AUDIT_EXCLUDE", "", "the query is empty"),
        (
            "DD_AUDIT_INTERNAL_NETWORKS",
            "10.0.0.0/8, 52.95.110.7/33",
            "comma-separated IPv4 or IPv6 networks",
        ),
        (
            "DD_AUDIT_SYSTEM_CLIENTS",
            "system:serviceaccount:argocd:*",
            "entries USER=AGENT separated by ';'",
        ),
        (
            "DD_AUDIT_SYSTEM_CLIENTS",
            "*=argocd/*",
            "each starting with a name",
        ),
        (
            "DD_AUDIT_SYSTEM_CLIENTS",
            "system:serviceaccount:argocd:*=*/*",
            "each starting with a name",
        ),
        (
            "DD_AUDIT_SYSTEM_CLIENTS",
            "system:serviceaccount:argocd:a=argocd/*|*",
            "such as system:serviceaccount:argocd:*=argocd-*/*",
        ),
    ] {
        let msg = parse(&[(var, value)]).unwrap_err().to_string();
        assert!(msg.starts_with(var) && msg.contains(expected), "{msg}");
    }
}

#[test]
fn compression_choices() {
    let encoding = |vars: &[(&str, &str)]| parse(vars).unwrap().intake.encoding;
    // zstd towards a Datadog site; gzip 6, as the Datadog Forwarder sends,
    // to any other intake, when a gzip level is set, or when asked for.
    assert_eq!(encoding(&[]), BodyEncoding::Zstd { level: 1 });
    assert_eq!(
        encoding(&[("DD_SITE", "datadoghq.eu")]),
        BodyEncoding::Zstd { level: 1 }
    );
    for vars in [
        &[("DD_URL", "https://intake.example.com")][..],
        &[("DD_COMPRESSION", "gzip")],
    ] {
        let c = parse(vars).unwrap();
        assert_eq!(
            c.intake.encoding,
            BodyEncoding::Gzip { level: 6 },
            "{vars:?}"
        );
        assert_eq!(c.intake.fallback, None, "{vars:?}");
    }
    assert_eq!(
        parse(&[
            ("DD_URL", "https://intake.example.com"),
            ("DD_COMPRESSION", "zstd")
        ])
        .unwrap()
        .intake
        .fallback,
        Some(BodyEncoding::Gzip { level: 6 })
    );
    assert_eq!(
        encoding(&[("DD_COMPRESSION_LEVEL", "9")]),
        BodyEncoding::Gzip { level: 9 }
    );
    assert_eq!(
        encoding(&[("DD_COMPRESSION", "zstd")]),
        BodyEncoding::Zstd { level: 1 }
    );
    assert_eq!(
        encoding(&[("DD_COMPRESSION", "zstd"), ("DD_COMPRESSION_LEVEL", "19")]),
        BodyEncoding::Zstd { level: 19 }
    );
    assert_eq!(
        encoding(&[("DD_COMPRESSION", "zstd"), ("DD_USE_COMPRESSION", "false")]),
        BodyEncoding::Identity
    );
}

#[test]
fn api_key_stores_and_their_precedence() {
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd-api-key-AbCdEf";
    let c = parse(&[
        ("DD_API_KEY_SECRET_ARN", arn),
        ("DD_API_KEY_SSM_NAME", "/dd/key"),
        ("DD_API_KEY", "k"),
    ])
    .unwrap();
    assert_eq!(
        c.api_key,
        ApiKeySource::Store(ApiKeyStore::SecretsManager {
            arn: arn.to_owned(),
            region: "eu-west-1".to_owned()
        })
    );
    let c = parse(&[("DD_API_KEY_SSM_NAME", "/dd/key"), ("DD_API_KEY", "k")]).unwrap();
    assert_eq!(
        c.api_key,
        ApiKeySource::Store(ApiKeyStore::Ssm {
            name: "/dd/key".into()
        })
    );
    assert!(c.require_api_key().is_ok());
    let err = parse(&[("DD_API_KEY_SECRET_ARN", "0123456789abcdef0123456789abcdef")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "DD_API_KEY_SECRET_ARN is not valid: expected a Secrets Manager secret ARN"
        ),
        "{err}"
    );
    assert!(!err.contains("0123456789abcdef"), "{err}");
}

#[test]
fn spill_needs_a_valid_bucket() {
    assert_eq!(parse(&[("DD_S3_BUCKET_NAME", "b")]).unwrap().spill, None);
    let c = parse(&[
        ("DD_STORE_FAILED_EVENTS", "true"),
        ("DD_S3_BUCKET_NAME", "my-bucket"),
    ])
    .unwrap();
    let spill = c.spill.unwrap();
    assert_eq!(spill.bucket, "my-bucket");
    assert_eq!(spill.forwarder_name, "eks-audit-forwarder");
    let err = parse(&[("DD_STORE_FAILED_EVENTS", "true")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "DD_S3_BUCKET_NAME is required when DD_STORE_FAILED_EVENTS=true"
    );
    let err = parse(&[
        ("DD_STORE_FAILED_EVENTS", "true"),
        ("DD_S3_BUCKET_NAME", "My_Bucket"),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("DD_S3_BUCKET_NAME=\"My_Bucket\""),
        "{err}"
    );
}

#[test]
fn api_key_never_shows_in_debug_or_errors() {
    let c = parse(&[("DD_API_KEY", "abcdef0123456789")]).unwrap();
    assert!(!format!("{c:?}").contains("abcdef0123456789"));
    let err = parse(&[("DD_API_KEY", "abc def")]).unwrap_err().to_string();
    assert!(!err.contains("abc def"), "{err}");
    assert!(err.contains("DD_API_KEY"));
}

#[test]
fn tags_source_and_compression_switch() {
    let c = parse(&[
        ("DD_TAGS", "env:prod, team:platform,,"),
        ("DD_SOURCE", "custom"),
        ("DD_USE_COMPRESSION", "false"),
        ("AWS_LAMBDA_FUNCTION_NAME", "My-Forwarder"),
    ])
    .unwrap();
    assert_eq!(c.shape.tags, vec!["env:prod", "team:platform"]);
    assert_eq!(c.shape.source_override.as_deref(), Some("custom"));
    assert_eq!(c.intake.encoding, BodyEncoding::Identity);
    assert_eq!(c.metrics.function_name, "My-Forwarder");
    assert_eq!(c.shape.forwarder_name, "my-forwarder");
    assert_eq!(
        c.require_api_key().unwrap_err().to_string(),
        "DD_API_KEY is required when running as a Lambda function (or DD_API_KEY_SECRET_ARN, or DD_API_KEY_SSM_NAME)"
    );
}
