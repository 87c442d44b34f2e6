//! Configuration from AWS Secrets Manager, against the moto server (`AWS_ENDPOINT_URL`).

use secrecy::ExposeSecret;
use studio::Config;
use studio::config::{ConfigError, Source};

async fn client() -> aws_sdk_secretsmanager::Client {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "AWS_ENDPOINT_URL is not set: run the suite with scripts/test.sh, which starts the moto server"
    );
    let sdk = studio::aws::load().await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

#[tokio::test]
async fn when_app_secrets_arn_is_set_the_secrets_values_win_over_the_environment() {
    let sm = client().await;
    let name = format!("studio-test-{}", uuid::Uuid::new_v4());
    let created = sm
        .create_secret()
        .name(&name)
        .secret_string(r#"{"JWT_SECRET":"from-the-secret-from-the-secret-0123456","DATABASE_URL":"postgres://app:pw@proxy:5432/studio","DATABASE_POOL_SIZE":3}"#)
        .send()
        .await
        .expect("create secret in moto");
    let arn = created.arn().expect("arn").to_owned();

    let mut source = Source::from_pairs([
        ("JWT_SECRET", "from-the-environment-from-the-env-0000"),
        ("JWT_ISSUER", "env-issuer"),
    ]);
    source.set("APP_SECRETS_ARN", &arn);
    let cfg =
        Config::from_source(&source.with_secret().await.expect("secret loads")).expect("config");
    assert_eq!(
        cfg.jwt.secret.expose_secret(),
        "from-the-secret-from-the-secret-0123456"
    );
    assert_eq!(cfg.database_url(), "postgres://app:pw@proxy:5432/studio");
    assert_eq!(cfg.database.pool_size, 3);
    assert_eq!(
        cfg.jwt.issuer, "env-issuer",
        "values the secret does not hold still come from the environment"
    );
}

#[tokio::test]
async fn when_the_secret_is_missing_or_not_a_json_object_start_up_fails_naming_it() {
    let sm = client().await;
    let mut source = Source::default();
    source.set(
        "APP_SECRETS_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist",
    );
    let err = source.with_secret().await.expect_err("no such secret");
    assert!(matches!(err, ConfigError::Secret { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist"), "{err}");

    let name = format!("studio-test-{}", uuid::Uuid::new_v4());
    sm.create_secret()
        .name(&name)
        .secret_string("not json")
        .send()
        .await
        .expect("create");
    let mut source = Source::default();
    source.set("APP_SECRETS_ARN", &name);
    let err = source.with_secret().await.expect_err("not an object");
    assert!(err.to_string().contains("JSON object"), "{err}");
}

#[tokio::test]
async fn when_the_secret_lacks_a_required_value_the_error_names_the_variable() {
    let sm = client().await;
    let name = format!("studio-test-{}", uuid::Uuid::new_v4());
    sm.create_secret()
        .name(&name)
        .secret_string(r#"{"DATABASE_URL":"postgres://x@y/z"}"#)
        .send()
        .await
        .expect("create");
    let mut source = Source::default();
    source.set("APP_SECRETS_ARN", &name);
    let err = Config::from_source(&source.with_secret().await.expect("loads"))
        .expect_err("no JWT_SECRET");
    assert!(err.to_string().contains("JWT_SECRET"), "{err}");
}
