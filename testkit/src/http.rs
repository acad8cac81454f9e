//! A small client for the booking service's HTTP API.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Talks to one booking service.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

/// Status code and JSON body of one answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code, or "OK".
    pub fn code(&self) -> String {
        if self.body["ok"] == json!(true) {
            "OK".into()
        } else {
            self.body["error"]["code"]
                .as_str()
                .unwrap_or("<none>")
                .to_owned()
        }
    }
}

impl Api {
    pub fn new(base: impl Into<String>) -> Api {
        Api {
            base: base.into(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("http client"),
        }
    }

    /// `POST /api/seats/{verb}` with `{"seat_id","token"}`.
    pub async fn seat(&self, verb: &str, seat_id: &str, token: &str) -> Answer {
        self.post_json(
            &format!("/api/seats/{verb}"),
            json!({"seat_id": seat_id, "token": token}),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        Self::answer(response).await
    }

    /// A POST with a raw body and content type, for malformed-input tests.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        Self::answer(response).await
    }

    /// `POST /api/admin/reset?{query}` with `Authorization: Bearer {admin_token}`.
    pub async fn admin_reset(&self, query: &str, admin_token: &str) -> Answer {
        let response = self
            .client
            .post(format!("{}/api/admin/reset?{query}", self.base))
            .header("authorization", format!("Bearer {admin_token}"))
            .send()
            .await
            .expect("request sent");
        Self::answer(response).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request sent");
        Self::answer(response).await
    }

    /// Waits until the service's `/health` answers 200; fails the test after `within`.
    pub async fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.get("/health").await.status != 200 {
            assert!(
                Instant::now() < deadline,
                "{} never became healthy",
                self.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body }
    }
}

/// Seat id -> (status, held_by): a venue as a snapshot or a viewer shows it.
pub type Seats = HashMap<String, (u64, Value)>;

/// The seats of a `seats` array (a snapshot's or a `VENUE_STATE`'s).
pub fn seats_of(seats: &Value) -> Seats {
    seats
        .as_array()
        .expect("a seats array")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().expect("a seat id").to_owned(),
                (
                    s["status"].as_u64().expect("a seat status"),
                    s.get("held_by").cloned().unwrap_or(Value::Null),
                ),
            )
        })
        .collect()
}
