//! The AWS SDK's configuration (region, credentials chain, `AWS_ENDPOINT_URL`), loaded once per process
//! and shared by every client built at cold start (Secrets Manager, SQS, SES).

static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> = tokio::sync::OnceCell::const_new();

pub async fn config() -> &'static aws_config::SdkConfig {
    CONFIG
        .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
        .await
}
