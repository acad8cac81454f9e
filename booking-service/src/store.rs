//! Seat state in Redis. Every change is one Lua script that checks it, makes it, numbers it and
//! appends its event to the venue's outbox stream, atomically; nothing here checks in one round
//! trip and acts in another. The relay (`relay.rs`) publishes the outbox to NATS.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fred::clients::Pool;
use fred::prelude::*;
use fred::types::config::Options;
use fred::types::scripts::Script;
use fred::types::ClusterHash;
use shared::{Seat, VenueSeats};

use crate::metrics::Metrics;
use crate::seat_error::SeatError;

mod best;
mod group;
mod keys;
mod outbox;
mod redis_url;
mod replies;
mod resharding;
mod waiting_room;

pub use best::{BestOutcome, BestSearch};
pub use group::{GroupMode, GroupOutcome, GroupSeat, HoldLimits};
pub use keys::VenueKeys;
pub use outbox::{History, Lease};
use redis_url::redis_config;
use replies::{apply_stored_state, parse_field, parse_outcome, unexpected};
pub use replies::{ms_to_unix_seconds, ExpiryOutcome, ResetSeat, ScriptOutcome};
use resharding::evalsha_while_resharding;
pub use waiting_room::{ScriptStanding, WaitingRoomSettings, WaitingRoomView};

const COMMON: &str = include_str!("lua/common.lua");
const WAITING_ROOM: &str = include_str!("lua/waiting_room.lua");

/// Who is acting: the authority key that owns locks and counts, and the public id shown.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub owner: &'a str,
    pub user_id: &'a str,
}

/// The seat scripts, loaded once and run with EVALSHA (reloaded after a Redis restart).
struct Scripts {
    select: Script,
    book: Script,
    release: Script,
    group: Script,
    best: Script,
    best_index: Script,
    expire: Script,
    snapshot: Script,
    reset: Script,
    history: Script,
    waiting_room_report: Script,
    waiting_room_tick: Script,
    relay: Script,
    relay_commit: Script,
    relay_release: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_common = |body: &str| Script::from_lua(format!("{COMMON}\n{body}"));
        let with_waiting_room =
            |body: &str| Script::from_lua(format!("{COMMON}\n{WAITING_ROOM}\n{body}"));
        Scripts {
            select: with_common(include_str!("lua/select.lua")),
            book: with_common(include_str!("lua/book.lua")),
            release: with_common(include_str!("lua/release.lua")),
            group: with_common(include_str!("lua/group.lua")),
            best: with_common(include_str!("lua/best.lua")),
            best_index: with_common(include_str!("lua/best_index.lua")),
            expire: with_common(include_str!("lua/expire.lua")),
            snapshot: with_common(include_str!("lua/snapshot.lua")),
            reset: with_common(include_str!("lua/reset.lua")),
            history: with_common(include_str!("lua/history.lua")),
            waiting_room_report: with_waiting_room(include_str!("lua/waiting_room_report.lua")),
            waiting_room_tick: with_waiting_room(include_str!("lua/waiting_room_tick.lua")),
            relay: with_common(include_str!("lua/relay.lua")),
            relay_commit: with_common(include_str!("lua/relay_commit.lua")),
            relay_release: with_common(include_str!("lua/relay_release.lua")),
        }
    }
}

/// How the store talks to Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://host:port` (one server) or `redis-cluster://host:port,host:port,…` (a Redis
    /// Cluster: any reachable node is enough, the rest are discovered).
    pub url: String,
    /// Connections (per cluster node). Measured at 32 concurrent clients, 1, 4 and 16 gave the
    /// same throughput (docs/benchmarks.md); several keep one slow reply from holding up all.
    pub pool_size: usize,
    /// Replicas that must confirm a change (`WAIT`) before it is answered OK; 0 = don't wait.
    pub wait_replicas: u32,
    pub wait_timeout: Duration,
}

/// The only writer of seat state.
pub struct SeatStore {
    pool: Pool,
    scripts: Scripts,
    metrics: Metrics,
    settings: RedisSettings,
    waiting_room: Option<WaitingRoomSettings>,
    /// Seat commands (select, book, release) sent to Redis and not yet answered: at most
    /// `SCRIPTS_IN_FLIGHT_PER_CONNECTION` × `REDIS_POOL` for the whole service. fred's 2 s
    /// command timeout starts when a command enters its queue, so without this bound a rush
    /// (2,000 selects at once on a busy 2-core machine) waited in our own queue past the
    /// timeout and was answered 503 "Redis is unreachable" while Redis answered each script in
    /// well under a millisecond. Commands beyond the bound wait here instead, for as long as
    /// Redis keeps answering (`seat_command_slot`). The expiry timer, the relay and the waiting
    /// room's clock never wait for a slot.
    script_slots: tokio::sync::Semaphore,
    /// When a script last got an answer from Redis, and when one last timed out: ms since
    /// `started`, plus one (0: never).
    last_answer_ms: AtomicU64,
    last_timeout_ms: AtomicU64,
    started: Instant,
    /// A gate, guarding no data: one build of best available's index at a time, so a rush
    /// that finds none sends one build, not one each (`store/best.rs`).
    best_index_build: tokio::sync::Mutex<()>,
}

/// How long a seat command waits for a slot while no script gets any answer from Redis: the
/// same as the command timeout, so a frozen Redis is still answered 503 within seconds.
const SLOT_PATIENCE: Duration = Duration::from_secs(2);

/// See `SeatStore::script_slots`. Enough to keep every connection's pipeline full (pool sizes
/// 1, 4 and 16 gave the same throughput at 32 concurrent clients: docs/benchmarks.md).
const SCRIPTS_IN_FLIGHT_PER_CONNECTION: usize = 32;

impl SeatStore {
    /// Creates the connections and starts connecting in the background; they reconnect by
    /// themselves.
    pub fn connect(
        settings: RedisSettings,
        waiting_room: Option<WaitingRoomSettings>,
        metrics: Metrics,
    ) -> anyhow::Result<SeatStore> {
        let mut config = redis_config(&settings.url)?;
        // Start even when Redis is down; requests answer 503 until it is back.
        config.fail_fast = false;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                // A seat script is not retried on a new connection: if the first attempt ran
                // but its reply was lost, a retry would answer wrongly (e.g. SEAT_BOOKED to the
                // booker). The caller gets 503 instead and the edges' seq check heals any gap.
                c.max_command_attempts = 1;
                // Redirections (MOVED, ASK: a Redis Cluster slot moving) are not followed by
                // fred but handed back, and the script sent again (`store/resharding.rs`):
                // with one write attempt, fred cannot send a redirected command again, and an
                // ASK it tried to follow ended its connection task for good (every later
                // command on that connection timed out). fred still refreshes its slot map on
                // a MOVED before handing it back.
                c.max_redirections = 0;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(settings.pool_size.max(1))?;
        pool.prefer_connected(true);
        let _ = pool.connect_pool();
        Ok(SeatStore {
            pool,
            scripts: Scripts::new(),
            metrics,
            script_slots: tokio::sync::Semaphore::new(
                settings.pool_size.max(1) * SCRIPTS_IN_FLIGHT_PER_CONNECTION,
            ),
            last_answer_ms: AtomicU64::new(0),
            last_timeout_ms: AtomicU64::new(0),
            started: Instant::now(),
            best_index_build: tokio::sync::Mutex::new(()),
            settings,
            waiting_room,
        })
    }

    /// A slot for one seat command. Waits while Redis answers other scripts; answers 503 at
    /// once while Redis is unresponsive (a script timed out after the last answer, within
    /// `SLOT_PATIENCE`), and once nothing has been answered for `SLOT_PATIENCE`. Checked again
    /// after the wait: slots also come free when the scripts holding them time out.
    async fn seat_command_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SeatError> {
        loop {
            if self.redis_unresponsive() {
                return Err(SeatError::unavailable("Redis"));
            }
            match tokio::time::timeout(SLOT_PATIENCE, self.script_slots.acquire()).await {
                Ok(_) if self.redis_unresponsive() => return Err(SeatError::unavailable("Redis")),
                Ok(permit) => return permit.map_err(|_| SeatError::Internal),
                Err(_) if self.ms_since(&self.last_answer_ms) < SLOT_PATIENCE => continue,
                Err(_) => return Err(SeatError::unavailable("Redis")),
            }
        }
    }

    /// A script timed out after the last answer, and recently: the next seat commands would
    /// only time out too. After `SLOT_PATIENCE` without a new timeout, commands are tried again.
    fn redis_unresponsive(&self) -> bool {
        let answered = self.last_answer_ms.load(Ordering::Relaxed);
        let timed_out = self.last_timeout_ms.load(Ordering::Relaxed);
        timed_out > answered && self.ms_since(&self.last_timeout_ms) < SLOT_PATIENCE
    }

    fn ms_since(&self, mark: &AtomicU64) -> Duration {
        let at = Duration::from_millis(mark.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(at)
    }

    fn mark_now(&self, mark: &AtomicU64) {
        // +1: a mark of 0 means never.
        let now_ms = self.started.elapsed().as_millis() as u64 + 1;
        mark.fetch_max(now_ms, Ordering::Relaxed);
    }

    pub fn waiting_room(&self) -> Option<WaitingRoomSettings> {
        self.waiting_room
    }

    pub fn is_connected(&self) -> bool {
        self.pool.next_connected().is_connected()
    }

    /// Round trip to Redis, for health checks. An answer also ends `redis_unresponsive`.
    pub async fn ping(&self) -> bool {
        let client = self.pool.next_connected();
        let answered = client.is_connected()
            && tokio::time::timeout(Duration::from_secs(1), client.ping::<String>(None))
                .await
                .is_ok_and(|r| r.is_ok());
        if answered {
            self.mark_now(&self.last_answer_ms);
        }
        answered
    }

    pub async fn quit(&self) {
        let _ = self.pool.quit().await;
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Vec<String>, SeatError> {
        self.run_on(self.pool.next_connected(), script, keys, args)
            .await
    }

    async fn run_on(
        &self,
        client: &Client,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Vec<String>, SeatError> {
        if !client.is_connected() {
            return Err(SeatError::unavailable("Redis"));
        }
        let started = Instant::now();
        let result = evalsha_while_resharding(client, script, keys, args).await;
        self.metrics.observe_redis(started.elapsed());
        match &result {
            Ok(_) => self.mark_now(&self.last_answer_ms),
            Err(error) if *error.kind() == ErrorKind::Timeout => {
                self.mark_now(&self.last_timeout_ms)
            }
            Err(_) => {}
        }
        result.map_err(|error| match error.kind() {
            // A connection that broke mid-command can surface as several kinds; if it is not
            // connected now, Redis is what is missing, not the script.
            _ if !client.is_connected() => {
                tracing::warn!(%error, "redis connection lost");
                SeatError::unavailable("Redis")
            }
            // Its slot was still moving when `evalsha_while_resharding` gave up.
            _ if resharding::refused_while_resharding(&error) => {
                tracing::warn!(%error, "the venue's slot is still moving");
                SeatError::unavailable("Redis")
            }
            ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Canceled
            | ErrorKind::Backpressure
            | ErrorKind::Routing
            | ErrorKind::Cluster => {
                tracing::warn!(%error, "redis unavailable");
                SeatError::unavailable("Redis")
            }
            // fred's router found no connection to send on (it had just closed), or gave up
            // after every attempt to write the command failed (a cluster node's connections
            // breaking during a failover): kind Unknown, but Redis is what is missing.
            ErrorKind::Unknown
                if error.details().starts_with("Failed to route command")
                    || error
                        .details()
                        .starts_with("Too many failed write attempts") =>
            {
                tracing::warn!(%error, "redis connection lost");
                SeatError::unavailable("Redis")
            }
            _ if ["LOADING", "OOM", "BUSY", "MASTERDOWN", "CLUSTERDOWN"]
                .iter()
                .any(|p| error.details().starts_with(p)) =>
            {
                tracing::warn!(%error, "redis cannot take writes right now");
                SeatError::unavailable("Redis")
            }
            _ => {
                tracing::error!(%error, "redis script failed");
                SeatError::Internal
            }
        })
    }

    pub async fn select(
        &self,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
        hold_seconds: u64,
        max_holds: u32,
    ) -> Result<ScriptOutcome, SeatError> {
        let mut args = self.actor_args(keys, seat, actor);
        args.extend([hold_seconds.to_string(), max_holds.to_string()]);
        self.change(&self.scripts.select, keys, seat, args).await
    }

    /// Runs a seat script that may change the seat and, when it did and replicas must confirm
    /// changes, waits for them on the same connection (`WAIT` counts that connection's writes).
    async fn change(
        &self,
        script: &Script,
        keys: &VenueKeys,
        seat: &str,
        args: Vec<String>,
    ) -> Result<ScriptOutcome, SeatError> {
        let _slot = self.seat_command_slot().await?;
        let client = self.pool.next_connected();
        let reply = self
            .run_on(client, script, keys.seat_keys(seat), args)
            .await?;
        let outcome = parse_outcome(&reply)?;
        if matches!(outcome, ScriptOutcome::Changed { .. }) {
            self.confirm_replicated(client, keys).await?;
        }
        Ok(outcome)
    }

    /// With `REDIS_WAIT_REPLICAS=n`, waits until n replicas of the venue's master have every
    /// write this connection sent. A change that is not confirmed in time is committed on the
    /// master but answered 503: it may be lost if the master fails before its replicas catch up.
    async fn confirm_replicated(&self, client: &Client, keys: &VenueKeys) -> Result<(), SeatError> {
        let wanted = self.settings.wait_replicas;
        if wanted == 0 {
            return Ok(());
        }
        let slot = fred::util::redis_keyslot(keys.seq.as_bytes());
        let options = Options {
            cluster_hash: Some(ClusterHash::Custom(slot)),
            ..Options::default()
        };
        let timeout_ms = self.settings.wait_timeout.as_millis() as i64;
        match client
            .with_options(&options)
            .wait::<i64>(i64::from(wanted), timeout_ms)
            .await
        {
            Ok(acked) if acked >= i64::from(wanted) => Ok(()),
            Ok(acked) => {
                tracing::warn!(venue = %keys.venue, acked, wanted, "replicas did not confirm a change in time");
                Err(SeatError::Unavailable(format!(
                    "the change was made but only {acked} of {wanted} replicas confirmed it in time; check the seat before retrying"
                )))
            }
            Err(error) => {
                tracing::warn!(%error, "WAIT for replicas failed");
                Err(SeatError::unavailable("Redis"))
            }
        }
    }

    pub async fn book(
        &self,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, SeatError> {
        self.holder_step(&self.scripts.book, keys, seat, actor)
            .await
    }

    pub async fn release(
        &self,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, SeatError> {
        self.holder_step(&self.scripts.release, keys, seat, actor)
            .await
    }

    /// ARGV of the per-seat scripts: seat, owner, user_id, venue, history length, waiting room.
    fn actor_args(&self, keys: &VenueKeys, seat: &str, actor: Actor<'_>) -> Vec<String> {
        let mut args = vec![seat.to_owned()];
        self.push_actor_args(&mut args, keys, actor);
        args
    }

    /// What every seat script takes about who acts and where: owner, user_id, venue, history
    /// length, waiting room (1/0).
    fn push_actor_args(&self, args: &mut Vec<String>, keys: &VenueKeys, actor: Actor<'_>) {
        let waiting_room = if self.waiting_room.is_some() {
            "1"
        } else {
            "0"
        };
        args.extend([
            actor.owner.to_owned(),
            actor.user_id.to_owned(),
            keys.venue.clone(),
            keys.history.clone(),
            waiting_room.to_owned(),
        ]);
    }

    /// A step only the seat's current holder may take (book, release).
    async fn holder_step(
        &self,
        script: &Script,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, SeatError> {
        self.change(script, keys, seat, self.actor_args(keys, seat, actor))
            .await
    }

    pub async fn expire(&self, keys: &VenueKeys, seat: &str) -> Result<ExpiryOutcome, SeatError> {
        let reply = self
            .run(
                &self.scripts.expire,
                keys.seat_keys(seat),
                vec![seat.into(), keys.venue.clone(), keys.history.clone()],
            )
            .await?;
        match reply.first().map(String::as_str) {
            Some("CHANGED") => Ok(ExpiryOutcome::Expired {
                seq: parse_field(&reply, 3)?,
                user: reply.get(1).cloned().unwrap_or_default(),
            }),
            Some("LATER") => Ok(ExpiryOutcome::Later(parse_field(&reply, 1)?)),
            Some("GONE") => Ok(ExpiryOutcome::Gone),
            _ => Err(unexpected(&reply)),
        }
    }

    /// Seats whose hold expiry (per the index) is at or before `now_ms`.
    pub async fn due_holds(
        &self,
        keys: &VenueKeys,
        now_ms: u64,
        limit: i64,
    ) -> Result<Vec<String>, SeatError> {
        let client = self.pool.next_connected();
        if !client.is_connected() {
            return Err(SeatError::unavailable("Redis"));
        }
        client
            .zrangebyscore::<Vec<String>, _, _, _>(
                &keys.holds,
                "-inf",
                now_ms as f64,
                false,
                Some((0, limit)),
            )
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading the expiry index failed");
                SeatError::unavailable("Redis")
            })
    }

    /// Every seat of the venue, the venue's epoch and the seq of the last change included,
    /// read atomically.
    pub async fn snapshot(
        &self,
        keys: &VenueKeys,
        venue: &VenueSeats,
    ) -> Result<(u64, u64, Vec<Seat>), SeatError> {
        let reply = self
            .run(
                &self.scripts.snapshot,
                vec![keys.state.clone(), keys.seq.clone(), keys.epoch.clone()],
                vec![],
            )
            .await?;
        let epoch = parse_field(&reply, 0)?;
        let seq = parse_field(&reply, 1)?;
        let mut seats = venue.all_available();
        for pair in reply[2..].chunks_exact(2) {
            let Ok(position) = venue.lookup(&pair[0]) else {
                tracing::warn!(seat = %pair[0], "ignoring a seat in Redis that the venue does not sell");
                continue;
            };
            apply_stored_state(&mut seats[position], &pair[1]);
        }
        Ok((epoch, seq, seats))
    }

    /// Releases every held and booked seat of the venue.
    pub async fn reset(&self, keys: &VenueKeys) -> Result<Vec<ResetSeat>, SeatError> {
        let mut script_keys = vec![
            keys.state.clone(),
            keys.holds.clone(),
            keys.counts.clone(),
            keys.seq.clone(),
            keys.epoch.clone(),
            keys.events.clone(),
            keys.free.clone(),
            keys.best_index.clone(),
        ];
        script_keys.extend(keys.all_locks.iter().cloned());
        let reply = self
            .run(
                &self.scripts.reset,
                script_keys,
                vec![
                    keys.venue.clone(),
                    keys.history.clone(),
                    keys.lock_prefix.clone(),
                ],
            )
            .await?;
        let first_seq: u64 = parse_field(&reply, 0)?;
        Ok(reply[1..]
            .chunks_exact(2)
            .enumerate()
            .map(|(i, pair)| ResetSeat {
                seq: first_seq + i as u64,
                seat: pair[0].clone(),
                user: pair[1].clone(),
            })
            .collect())
    }
}
