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
/// optional credentials, kept as the URL parser writes it (credentials
/// percent-encoded, the host in ASCII), so the intake's client and the
/// SDK's read the same proxy. Its `Debug` hides the credentials.
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
        // The SDK's own parser is stricter than the URL parser; what it
        // refuses is refused here, at start-up, with the variable's name.
        let normalised = url.as_str().trim_end_matches('/').to_owned();
        ProxyConfig::all(normalised.as_str()).map_err(
            |_| "expected a proxy URL the AWS SDK can use (percent-encode the credentials)",
        )?;
        Ok(Self(normalised))
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
/// hosts `NO_PROXY` names. Its `Debug` shows no credentials (the SDK's
/// configuration would print its URL whole).
#[derive(Clone, Default)]
pub struct ProxySettings {
    /// `HTTPS_PROXY`: for `https://` destinations (the intake, AWS APIs).
    https: Option<ProxyUrl>,
    /// `HTTP_PROXY`: for `http://` destinations (an intake with
    /// `DD_NO_SSL`, an S3-compatible endpoint).
    http: Option<ProxyUrl>,
    /// `NO_PROXY`: comma-separated hosts, domains (`.internal`), addresses
    /// and networks reached directly.
    no_proxy: Option<String>,
    /// The same for the AWS SDK, which takes one proxy for both schemes or
    /// for one: with two different URLs, `HTTPS_PROXY` (every AWS API is
    /// HTTPS).
    aws: Option<ProxyConfig>,
}

impl std::fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySettings")
            .field("https", &self.https)
            .field("http", &self.http)
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

impl ProxySettings {
    pub fn new(https: Option<ProxyUrl>, http: Option<ProxyUrl>, no_proxy: Option<String>) -> Self {
        // Each URL passed the SDK's check in ProxyUrl::parse, which is the
        // same for every scheme; the error arms cannot be reached.
        let aws = match (&https, &http) {
            (Some(s), Some(h)) if s == h => ProxyConfig::all(s.as_str()).ok(),
            (Some(s), _) => ProxyConfig::https(s.as_str()).ok(),
            (None, Some(h)) => ProxyConfig::http(h.as_str()).ok(),
            (None, None) => None,
        }
        .map(|config| match &no_proxy {
            Some(rules) => config.no_proxy(rules),
            None => config,
        });
        Self {
            https,
            http,
            no_proxy,
            aws,
        }
    }

    pub fn is_active(&self) -> bool {
        self.https.is_some() || self.http.is_some()
    }

    /// Configures the intake's client. Without a proxy, environment
    /// variables the configuration did not read are ignored too, so the
    /// client goes where `Config` says and nowhere else.
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

    /// The AWS SDK's proxy configuration, when a proxy is set.
    pub fn aws_proxy_config(&self) -> Option<ProxyConfig> {
        self.aws.clone()
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
            // Characters the SDK's parser refuses unencoded are encoded.
            "http://us er:p@ss{w}rd@proxy:3128",
            "http://prôxy.example:3128",
        ] {
            let url = ProxyUrl::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
            // What is kept works for both clients.
            assert!(ProxyConfig::all(url.as_str()).is_ok(), "{good}");
            assert!(reqwest::Proxy::all(url.as_str()).is_ok(), "{good}");
        }
        assert_eq!(
            ProxyUrl::parse("http://u:p@ss@proxy:3128")
                .unwrap()
                .as_str(),
            "http://u:p%40ss@proxy:3128",
            "one reading of the credentials for both clients"
        );
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
    fn the_sdk_gets_a_proxy_when_one_is_set() {
        let url = |s: &str| Some(ProxyUrl::parse(s).unwrap());
        let none = ProxySettings::new(None, None, None);
        assert!(!none.is_active() && none.aws_proxy_config().is_none());
        for (https, http) in [
            (url("http://p:3128"), url("http://p:3128")),
            (url("http://p:3128"), url("http://q:3128")),
            (url("http://p:3128"), None),
            (None, url("http://p:3128")),
        ] {
            let settings = ProxySettings::new(https, http, Some(".internal".into()));
            assert!(settings.is_active() && settings.aws_proxy_config().is_some());
            assert!(
                settings
                    .apply_to_reqwest(reqwest::Client::builder())
                    .is_ok()
            );
        }
    }
}
