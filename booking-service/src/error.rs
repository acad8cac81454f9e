//! The HTTP layer's error: what a client is answered (status, code, message), and the one place
//! where the domain's `SeatError` becomes an answer.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared::api::ErrorResponse;
use shared::ErrorCode;

use crate::seat_error::SeatError;

/// An error answered to a client: a code from the contract and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Overrides the code's usual HTTP status (e.g. 413 or 415 for body problems).
    pub status: Option<StatusCode>,
    /// A refusal about several seats: every seat that stood in the way.
    pub seat_ids: Option<Vec<String>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: None,
            seat_ids: None,
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error; it has been logged")
    }

    fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorResponse::new(self.code, self.message).with_seats(self.seat_ids);
        (status, Json(body)).into_response()
    }
}

/// A domain failure answered with its code's usual status: 503 `UNAVAILABLE`, 500 `INTERNAL`,
/// or the refusal's code (e.g. 409 `SEAT_BOOKED`, 404 `UNKNOWN_VENUE`).
impl From<SeatError> for ApiError {
    fn from(error: SeatError) -> Self {
        match error {
            SeatError::Unavailable(message) => ApiError::new(ErrorCode::Unavailable, message),
            SeatError::Internal => ApiError::internal(),
            SeatError::Refused { code, message } => ApiError::new(code, message),
            SeatError::RefusedSeats {
                code,
                message,
                seat_ids,
            } => ApiError {
                seat_ids: Some(seat_ids),
                ..ApiError::new(code, message)
            },
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(ErrorCode::ValidationError, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::ValidationError, rejection.body_text())
    }
}

impl From<shared::TokenError> for ApiError {
    fn from(error: shared::TokenError) -> Self {
        ApiError::new(ErrorCode::Unauthorized, error.to_string())
    }
}

impl From<shared::SeatIdError> for ApiError {
    fn from(error: shared::SeatIdError) -> Self {
        let code = match error {
            shared::SeatIdError::Malformed | shared::SeatIdError::MalformedChartId => {
                ErrorCode::ValidationError
            }
            shared::SeatIdError::OutOfRange(_) => ErrorCode::UnknownSeat,
            shared::SeatIdError::NotForSale(_) => ErrorCode::SeatNotForSale,
        };
        ApiError::new(code, error.to_string())
    }
}
