//! The API key from Secrets Manager or SSM (moto's server on 127.0.0.1),
//! read at start-up by the real binary, then used against the intake emulator.

mod support;

use std::process::Output;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use support::intake::{IntakeContract, IntakeEmulator};
use support::moto::{ACCESS_KEY, Moto, REGION, SECRET_KEY};

async fn create_secret(moto: &Moto, name: &str, value: &str) -> String {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
        .http_client(eks_audit_forwarder::aws::https_client(&Default::default()))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let out = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    out.arn().unwrap().to_owned()
}

async fn put_parameter(moto: &Moto, name: &str, value: &str) {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto"))
        .http_client(eks_audit_forwarder::aws::https_client(&Default::default()))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
}

/// `invoke` on one sample event, sending to `intake`.
async fn invoke(intake: &IntakeEmulator, moto: &Moto, vars: &[(&str, &str)]) -> Output {
    let mut all: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    all.push(("DD_URL".into(), intake.url()));
    all.push(("DD_NO_SSL".into(), "true".into()));
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let sample = support::repo_root().join("events/eks-kube-scheduler.json");
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        support::forwarder_command(&vars)
            .arg("invoke")
            .arg(sample)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_comes_from_secrets_manager_plain_or_json_before_ssm_and_env() {
    let moto = Moto::start();
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let key = intake.api_key().to_owned();
    let plain = create_secret(&moto, "dd-api-key-plain", &key).await;
    let json = create_secret(
        &moto,
        "dd-api-key-json",
        &format!("{{\"DD_API_KEY\":\"{key}\"}}"),
    )
    .await;
    put_parameter(&moto, "/datadog/wrong-key", "wrong-key-from-ssm").await;

    for arn in [&plain, &json] {
        let before = intake.accepted_logs().len();
        // The secret wins over both SSM and DD_API_KEY.
        let out = invoke(
            &intake,
            &moto,
            &[
                ("DD_API_KEY_SECRET_ARN", arn),
                ("DD_API_KEY_SSM_NAME", "/datadog/wrong-key"),
                ("DD_API_KEY", "wrong"),
            ],
        )
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(intake.accepted_logs().len(), before + 3);
        assert!(!stderr.contains(&key), "the key leaked: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_comes_from_an_ssm_secure_string_before_env() {
    let moto = Moto::start();
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let key = intake.api_key().to_owned();
    put_parameter(&moto, "/datadog/api-key", &key).await;
    let out = invoke(
        &intake,
        &moto,
        &[
            ("DD_API_KEY_SSM_NAME", "/datadog/api-key"),
            ("DD_API_KEY", "wrong"),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(intake.accepted_logs().len(), 3);
    assert!(!stderr.contains(&key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_cannot_be_read_stops_start_up_with_the_variable_and_code() {
    let moto = Moto::start();
    let intake = IntakeEmulator::start(IntakeContract::default()).await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf";
    let out = invoke(&intake, &moto, &[("DD_API_KEY_SECRET_ARN", missing)]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "DD_API_KEY_SECRET_ARN: reading the API key failed: ResourceNotFoundException"
        ),
        "{stderr}"
    );
    let out = invoke(
        &intake,
        &moto,
        &[("DD_API_KEY_SSM_NAME", "/datadog/missing")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DD_API_KEY_SSM_NAME: reading the API key failed: ParameterNotFound"),
        "{stderr}"
    );
    let secret = create_secret(&moto, "not-a-key", "{\"password\":\"hunter2\"}").await;
    let out = invoke(&intake, &moto, &[("DD_API_KEY_SECRET_ARN", &secret)]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JSON without a string DD_API_KEY field") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    assert!(intake.requests().is_empty());
}
