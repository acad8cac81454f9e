//! Request extractors that answer every rejection in the API's error format: JSON object bodies
//! (read within a deadline, parsed straight into the request's type) and path segments.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use shared::ErrorCode;

use crate::error::ApiError;

/// The whole request body must arrive within this, counted from when its reading starts: a
/// client that declares more than it sends, or trickles it, is answered 408.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON object body read into `T`. Refused: a body without a JSON content type (415), one
/// that is too large (413) or does not arrive in time (408), one that is not JSON (400), and
/// JSON of another shape (422): not an object (serde would fill a struct's fields from an array,
/// in order), a field of the wrong type, or a key given twice.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !has_json_content_type(request.headers()) {
            return Err(refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with 'Content-Type: application/json'".into(),
            ));
        }
        let body = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(request, state))
            .await
            .map_err(|_| {
                refused(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_READ_TIMEOUT.as_secs()
                    ),
                )
            })?
            .map_err(|rejection| refused(rejection.status(), rejection.body_text()))?;
        parse_object(&body).map(ApiJson)
    }
}

/// Path segments whose rejections (e.g. percent-encoded bytes that are not UTF-8) are answered
/// in the API's error format.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

fn refused(status: StatusCode, message: String) -> ApiError {
    ApiError {
        status: Some(status),
        ..ApiError::new(ErrorCode::ValidationError, message)
    }
}

/// `application/json`, or `application/<anything>+json`.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// `body` as a JSON object of type `T`; the error names the field that did not fit.
fn parse_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
        .map_err(|e| (e.path().to_string(), e.into_inner()))
        .and_then(|value| {
            deserializer
                .end()
                .map(|()| value)
                .map_err(|e| (String::new(), e))
        });
    let not_an_object = || {
        refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object".into(),
        )
    };
    match parsed {
        Ok(value) if is_object => Ok(value),
        Ok(_) => Err(not_an_object()),
        Err((_, error)) if error.is_syntax() || error.is_eof() => Err(refused(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {error}"),
        )),
        Err(_) if !is_object => Err(not_an_object()),
        Err((path, error)) => {
            let field = if path.is_empty() || path == "." {
                String::new()
            } else {
                format!("{path}: ")
            };
            Err(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the body does not fit this request: {field}{error}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Seat {
        seat_id: String,
    }

    fn status(body: &str) -> Option<StatusCode> {
        parse_object::<Seat>(body.as_bytes())
            .err()
            .and_then(|e| e.status)
    }

    #[test]
    fn only_a_json_object_of_the_right_shape_is_read() {
        assert_eq!(
            parse_object::<Seat>(b" {\"seat_id\":\"A1\"} ")
                .unwrap()
                .seat_id,
            "A1"
        );
        assert_eq!(status(r#"["A1"]"#), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(status(r#""A1""#), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(status("null"), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(
            status(r#"{"seat_id":1}"#),
            Some(StatusCode::UNPROCESSABLE_ENTITY)
        );
        assert_eq!(
            status(r#"{"seat_id":"A1","seat_id":"A2"}"#),
            Some(StatusCode::UNPROCESSABLE_ENTITY),
            "a key given twice"
        );
        assert_eq!(
            status(r#"{"seat_id":"A1"} x"#),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(status(r#"{"seat_id": "#), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status(""), Some(StatusCode::BAD_REQUEST));
        let message = parse_object::<Seat>(br#"{"seat_id":1}"#)
            .unwrap_err()
            .message;
        assert!(message.contains("seat_id"), "{message}");
    }

    #[test]
    fn json_content_types() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            has_json_content_type(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!has_json_content_type(&HeaderMap::new()));
    }
}
