//! The outbound proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), for
//! functions in a VPC whose only way out is an HTTP proxy.
//!
//! The Datadog Forwarder's template turns `DdHttpProxyURL` into
//! `HTTPS_PROXY` and `HTTP_PROXY`, and `DdNoProxy` into `NO_PROXY`; its
//! Python libraries honour them for the intake and for AWS APIs. Both of our
//! clients (the intake's and the AWS SDK's) honour the same variables, read
//! once here and validated at start-up, instead of each library reading the
//! environment in its own way.

use aws_smithy_http_client::proxy::ProxyConfig;

/// A proxy URL: `http://` or `https://`, a host, an optional port and
/// optional credentials. Its `Debug` hides the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(String);

impl ProxyUrl {
    /// Why `text` is not a proxy URL, if it is not. The reason never
    /// repeats the text: it may hold a password.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let url = reqwest::Url::parse(text)
            .map_err(|_| "expected a proxy URL such as http://proxy.internal:3128")?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("expected an http:// or https:// proxy URL");
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("expected a proxy URL with a host");
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err("expected a proxy URL without a path or query");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match reqwest::Url::parse(&self.0) {
            Ok(mut url) => {
                let _ = url.set_password(None);
                let _ = url.set_username("");
                write!(f, "ProxyUrl({url})")
            }
            Err(_) => f.write_str("ProxyUrl(<invalid>)"),
        }
    }
}

/// Where outbound requests go: through a proxy per scheme, except to the
/// hosts `NO_PROXY` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// `HTTPS_PROXY`: for `https://` destinations (the intake, AWS APIs).
    pub https: Option<ProxyUrl>,
    /// `HTTP_PROXY`: for `http://` destinations (an intake with
    /// `DD_NO_SSL`, an S3-compatible endpoint).
    pub http: Option<ProxyUrl>,
    /// `NO_PROXY`: comma-separated hosts, domains (`.internal`), addresses
    /// and networks reached directly.
    pub no_proxy: Option<String>,
}

impl ProxySettings {
    pub fn is_active(&self) -> bool {
        self.https.is_some() || self.http.is_some()
    }

    /// Configures the intake's client. Without a proxy, environment
    /// variables the configuration did not read are ignored too, so
    /// what the client does is what the summary of the settings says.
    pub fn apply_to_reqwest(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, reqwest::Error> {
        let mut builder = builder.no_proxy();
        let no_proxy = || {
            self.no_proxy
                .as_deref()
                .and_then(reqwest::NoProxy::from_string)
        };
        if let Some(url) = &self.https {
            builder = builder.proxy(reqwest::Proxy::https(url.as_str())?.no_proxy(no_proxy()));
        }
        if let Some(url) = &self.http {
            builder = builder.proxy(reqwest::Proxy::http(url.as_str())?.no_proxy(no_proxy()));
        }
        Ok(builder)
    }

    /// The AWS SDK's proxy configuration, when a proxy is set. The SDK
    /// takes one proxy for both schemes or one scheme alone: with two
    /// different URLs, `HTTPS_PROXY` (every AWS API is HTTPS) is used.
    pub fn aws_proxy_config(&self) -> Option<ProxyConfig> {
        let config = match (&self.https, &self.http) {
            (Some(https), Some(http)) if https == http => ProxyConfig::all(https.as_str()),
            (Some(https), _) => ProxyConfig::https(https.as_str()),
            (None, Some(http)) => ProxyConfig::http(http.as_str()),
            (None, None) => return None,
        };
        // ProxyUrl::parse accepted it, so the SDK's own check does too; if
        // it ever did not, going direct would be a silent change of route.
        let config = config.expect("a validated proxy URL");
        Some(match &self.no_proxy {
            Some(rules) => config.no_proxy(rules),
            None => config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_validated_and_credentials_stay_hidden() {
        for good in [
            "http://proxy.internal:3128",
            "https://10.0.0.5:8443",
            "http://user:s3cret@proxy:3128",
            "http://[fd00::1]:3128/",
        ] {
            assert!(ProxyUrl::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "proxy:3128",
            "socks5://proxy:1080",
            "http://",
            "http://proxy:3128/path",
            "",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
        let shown = format!(
            "{:?}",
            ProxyUrl::parse("http://user:s3cret@proxy:3128").unwrap()
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("user"),
            "{shown}"
        );
    }

    #[test]
    fn the_sdk_gets_one_proxy() {
        let url = |s: &str| Some(ProxyUrl::parse(s).unwrap());
        assert!(ProxySettings::default().aws_proxy_config().is_none());
        let both = ProxySettings {
            https: url("http://p:3128"),
            http: url("http://p:3128"),
            no_proxy: Some("169.254.169.254,.internal".into()),
        };
        assert!(both.aws_proxy_config().is_some());
        let http_only = ProxySettings {
            http: url("http://p:3128"),
            ..Default::default()
        };
        assert!(http_only.is_active() && http_only.aws_proxy_config().is_some());
        assert!(both.apply_to_reqwest(reqwest::Client::builder()).is_ok());
    }
}
