//! The bodies of a chat turn and of feedback on an answer: one definition for the member routes and the
//! public ones.

use crate::text::{free_text, free_text_not_blank};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

#[derive(Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunRequest {
    #[validate(
        length(min = 1, max = 4000, message = "must be 1 to 4000 characters"),
        custom(function = "free_text_not_blank")
    )]
    pub message: String,
    /// Continue this conversation; omit to start a new one.
    pub conv_id: Option<Uuid>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FeedbackRequest {
    /// up or down
    #[validate(custom(function = "known_rating"))]
    pub rating: String,
    #[validate(
        length(max = 2000, message = "must be at most 2000 characters"),
        custom(function = "free_text")
    )]
    pub comment: Option<String>,
}

/// `up` or `down`.
pub fn known_rating(value: &str) -> Result<(), ValidationError> {
    if value == "up" || value == "down" {
        Ok(())
    } else {
        Err(ValidationError::new("rating").with_message("must be up or down".into()))
    }
}
