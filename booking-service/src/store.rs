//! Seat state in Redis. Every change is one Lua script that checks it, makes it, numbers it and
//! appends its event to the venue's outbox stream, atomically; nothing here checks in one round
//! trip and acts in another. The relay (`relay.rs`) publishes the outbox to NATS.

use std::time::{Duration, Instant};

use fred::clients::Pool;
use fred::prelude::*;
use fred::types::config::{Options, ServerConfig};
use fred::types::scripts::Script;
use fred::types::ClusterHash;
use shared::{ErrorCode, Seat, SeatId, SeatStatus, VenueSpec};

use crate::error::ApiError;
use crate::metrics::Metrics;

const COMMON: &str = include_str!("lua/common.lua");
const WAITING_ROOM: &str = include_str!("lua/waiting_room.lua");

/// The venue's Redis keys. All carry the venue as a hash tag (`{main}`) so they share a slot.
#[derive(Debug, Clone)]
pub struct VenueKeys {
    venue: String,
    lock_prefix: String,
    state: String,
    holds: String,
    counts: String,
    seq: String,
    epoch: String,
    /// The outbox: a stream of events whose ids are their seqs.
    pub events: String,
    /// Which relay publishes this venue (a lease).
    pub relay_lease: String,
    /// The last seq NATS has taken.
    pub published: String,
    /// Every seat's lock key, declared by the reset script.
    all_locks: Vec<String>,
    /// Events kept in the outbox (`EVENT_HISTORY`).
    history: String,
    /// The waiting room's keys, in the order its scripts take them.
    queue: Vec<String>,
    shoppers: String,
    booked_at: String,
}

impl VenueKeys {
    pub fn new(spec: &VenueSpec, history: u64) -> Self {
        let venue = &spec.name;
        let lock_prefix = format!("seat:{{{venue}}}:");
        VenueKeys {
            venue: venue.clone(),
            all_locks: SeatId::all(spec.rows, spec.cols)
                .map(|id| format!("{lock_prefix}{id}"))
                .collect(),
            lock_prefix,
            state: format!("state:{{{venue}}}"),
            holds: format!("holds:{{{venue}}}"),
            counts: format!("holdcount:{{{venue}}}"),
            seq: format!("seq:{{{venue}}}"),
            epoch: format!("epoch:{{{venue}}}"),
            events: format!("events:{{{venue}}}"),
            relay_lease: format!("relay:{{{venue}}}"),
            published: format!("published:{{{venue}}}"),
            history: history.to_string(),
            queue: [
                "queue",
                "queue_seq",
                "queue_joined",
                "shoppers",
                "presence",
                "booked_at",
                "admissions",
                "holdcount",
            ]
            .iter()
            .map(|name| format!("{name}:{{{venue}}}"))
            .collect(),
            shoppers: format!("shoppers:{{{venue}}}"),
            booked_at: format!("booked_at:{{{venue}}}"),
        }
    }

    /// KEYS of the per-seat scripts: lock, state, holds, counts, seq, epoch, events, shoppers,
    /// booked_at.
    fn seat_keys(&self, seat: &str) -> Vec<String> {
        vec![
            format!("{}{seat}", self.lock_prefix),
            self.state.clone(),
            self.holds.clone(),
            self.counts.clone(),
            self.seq.clone(),
            self.epoch.clone(),
            self.events.clone(),
            self.shoppers.clone(),
            self.booked_at.clone(),
        ]
    }

    /// KEYS of the relay's scripts: lease, published, epoch.
    fn relay_keys(&self) -> Vec<String> {
        vec![
            self.relay_lease.clone(),
            self.published.clone(),
            self.epoch.clone(),
        ]
    }
}

/// Who is acting: the authority key that owns locks and counts, and the public id shown.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub owner: &'a str,
    pub user_id: &'a str,
}

/// What the history script found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub epoch: u64,
    /// The venue's current seq.
    pub to: u64,
    /// The NATS payloads after the asked seq, in order; `None` when they are no longer kept.
    pub payloads: Option<Vec<String>>,
}

/// The waiting room's settings (`MAX_SHOPPERS` > 0 turns it on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingRoomSettings {
    pub max_shoppers: u32,
    pub shopping: Duration,
    /// A shopper without a socket for this long frees its slot.
    pub shopper_idle: Duration,
    /// A waiting identity without a socket for this long loses its place.
    pub waiting_idle: Duration,
    /// A shopper that booked and holds nothing frees its slot after this long.
    pub done_grace: Duration,
}

/// Where one identity stands, as the queue scripts say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Admitted {
        until_ms: u64,
    },
    Waiting {
        position: u64,
        estimated_wait_s: u64,
    },
    /// Neither waiting nor admitted (not joined, or dropped).
    Outside,
}

/// What a queue script saw: sizes, the waits of those it admitted, and standings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueReport {
    pub waiting: u64,
    pub shoppers: u64,
    pub admitted_waits_ms: Vec<u64>,
    pub standings: Vec<Standing>,
}

/// The relay's view after taking or renewing its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    Held { published: u64, epoch: u64 },
    HeldByAnother,
}

/// What a seat script did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// The seat changed; `seq` numbers the change.
    Changed {
        seq: u64,
        user: String,
        expires_ms: Option<u64>,
    },
    /// Nothing to do (selecting a seat you already hold).
    Unchanged {
        user: String,
        expires_ms: Option<u64>,
    },
    /// Refused, with the code to answer and the current holder if any.
    Refused { code: ErrorCode, holder: String },
}

/// What the expiry script did with a due hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryOutcome {
    Expired {
        seq: u64,
        user: String,
    },
    /// Not due yet; look again at this time (unix ms).
    Later(u64),
    /// Nothing to expire (booked, released, or already announced).
    Gone,
}

/// A seat released by an admin reset, numbered in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetSeat {
    pub seq: u64,
    pub seat: String,
    pub user: String,
}

/// The seat scripts, loaded once and run with EVALSHA (reloaded after a Redis restart).
struct Scripts {
    select: Script,
    book: Script,
    release: Script,
    expire: Script,
    snapshot: Script,
    reset: Script,
    history: Script,
    queue_presence: Script,
    queue_tick: Script,
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
            expire: with_common(include_str!("lua/expire.lua")),
            snapshot: with_common(include_str!("lua/snapshot.lua")),
            reset: with_common(include_str!("lua/reset.lua")),
            history: with_common(include_str!("lua/history.lua")),
            queue_presence: with_waiting_room(include_str!("lua/queue_presence.lua")),
            queue_tick: with_waiting_room(include_str!("lua/queue_tick.lua")),
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
}

/// Reads `redis://…` and `redis-cluster://host:port,host:port,…` (the contract's form; fred's
/// own `?node=` form is accepted too).
fn redis_config(url: &str) -> anyhow::Result<Config> {
    let Some(rest) = url.strip_prefix("redis-cluster://") else {
        return Ok(Config::from_url(url)?);
    };
    if !rest.contains(',') {
        return Ok(Config::from_url_clustered(url)?);
    }
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (Some(credentials), hosts),
        None => (None, rest),
    };
    let hosts = hosts
        .trim_end_matches('/')
        .split(',')
        .map(|host| {
            let (name, port) = host
                .trim()
                .rsplit_once(':')
                .ok_or_else(|| anyhow::anyhow!("REDIS_URL: '{host}' needs host:port"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("REDIS_URL: '{host}' has no valid port"))?;
            Ok((name.to_owned(), port))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut config = Config {
        server: ServerConfig::new_clustered(hosts),
        ..Config::default()
    };
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
        config.username = (!user.is_empty()).then(|| user.to_owned());
        config.password = Some(password.to_owned());
    }
    Ok(config)
}

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
            settings,
            waiting_room,
        })
    }

    pub fn waiting_room(&self) -> Option<WaitingRoomSettings> {
        self.waiting_room
    }

    pub fn is_connected(&self) -> bool {
        self.pool.next_connected().is_connected()
    }

    /// Round trip to Redis, for health checks.
    pub async fn ping(&self) -> bool {
        let client = self.pool.next_connected();
        client.is_connected()
            && tokio::time::timeout(Duration::from_secs(1), client.ping::<String>(None))
                .await
                .is_ok_and(|r| r.is_ok())
    }

    pub async fn quit(&self) {
        let _ = self.pool.quit().await;
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        self.run_on(self.pool.next_connected(), script, keys, args)
            .await
    }

    async fn run_on(
        &self,
        client: &Client,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        if !client.is_connected() {
            return Err(ApiError::unavailable("Redis"));
        }
        let started = Instant::now();
        let result = script
            .evalsha_with_reload::<Vec<String>, _, _>(client, keys, args)
            .await;
        self.metrics.observe_redis(started.elapsed());
        result.map_err(|error| match error.kind() {
            // A connection that broke mid-command can surface as several kinds; if it is not
            // connected now, Redis is what is missing, not the script.
            _ if !client.is_connected() => {
                tracing::warn!(%error, "redis connection lost");
                ApiError::unavailable("Redis")
            }
            ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Canceled
            | ErrorKind::Backpressure
            | ErrorKind::Routing
            | ErrorKind::Cluster => {
                tracing::warn!(%error, "redis unavailable");
                ApiError::unavailable("Redis")
            }
            // fred's router found no connection to send on (it had just closed): kind Unknown,
            // but Redis is what is missing.
            ErrorKind::Unknown if error.details().starts_with("Failed to route command") => {
                tracing::warn!(%error, "redis connection lost");
                ApiError::unavailable("Redis")
            }
            _ if [
                "LOADING",
                "OOM",
                "BUSY",
                "MASTERDOWN",
                "TRYAGAIN",
                "CLUSTERDOWN",
            ]
            .iter()
            .any(|p| error.details().starts_with(p)) =>
            {
                tracing::warn!(%error, "redis cannot take writes right now");
                ApiError::unavailable("Redis")
            }
            _ => {
                tracing::error!(%error, "redis script failed");
                ApiError::internal()
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
    ) -> Result<ScriptOutcome, ApiError> {
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
    ) -> Result<ScriptOutcome, ApiError> {
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
    async fn confirm_replicated(&self, client: &Client, keys: &VenueKeys) -> Result<(), ApiError> {
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
                Err(ApiError::new(
                    ErrorCode::Unavailable,
                    format!("the change was made but only {acked} of {wanted} replicas confirmed it in time; check the seat before retrying"),
                ))
            }
            Err(error) => {
                tracing::warn!(%error, "WAIT for replicas failed");
                Err(ApiError::unavailable("Redis"))
            }
        }
    }

    pub async fn book(
        &self,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, ApiError> {
        self.holder_step(&self.scripts.book, keys, seat, actor)
            .await
    }

    pub async fn release(
        &self,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, ApiError> {
        self.holder_step(&self.scripts.release, keys, seat, actor)
            .await
    }

    /// ARGV of the per-seat scripts: seat, owner, user_id, venue, history length, waiting room.
    fn actor_args(&self, keys: &VenueKeys, seat: &str, actor: Actor<'_>) -> Vec<String> {
        vec![
            seat.into(),
            actor.owner.into(),
            actor.user_id.into(),
            keys.venue.clone(),
            keys.history.clone(),
            if self.waiting_room.is_some() {
                "1"
            } else {
                "0"
            }
            .into(),
        ]
    }

    /// Refreshes the presence of `owners` (joining them to the queue when `join`), admits while
    /// slots are free, and says where each stands.
    pub async fn queue_presence(
        &self,
        keys: &VenueKeys,
        owners: &[String],
        join: bool,
    ) -> Result<QueueReport, ApiError> {
        let room = self.waiting_room.ok_or_else(ApiError::internal)?;
        let mut args = vec![
            room.max_shoppers.to_string(),
            room.shopping.as_millis().to_string(),
            if join { "1" } else { "0" }.to_string(),
        ];
        args.extend(owners.iter().cloned());
        let reply = self
            .run(&self.scripts.queue_presence, keys.queue.clone(), args)
            .await?;
        let mut report = parse_queue_report(&reply)?;
        let rest = &reply[3 + report.admitted_waits_ms.len()..];
        for triple in rest.chunks_exact(3) {
            report.standings.push(match triple[0].as_str() {
                "A" => Standing::Admitted {
                    until_ms: triple[1].parse().map_err(|_| unexpected(&reply))?,
                },
                "W" => Standing::Waiting {
                    position: triple[1].parse().map_err(|_| unexpected(&reply))?,
                    estimated_wait_s: triple[2].parse().map_err(|_| unexpected(&reply))?,
                },
                _ => Standing::Outside,
            });
        }
        Ok(report)
    }

    /// The waiting room's clock: frees slots, drops absent waiters, admits.
    pub async fn queue_tick(&self, keys: &VenueKeys) -> Result<QueueReport, ApiError> {
        let room = self.waiting_room.ok_or_else(ApiError::internal)?;
        let ms = |d: Duration| d.as_millis().to_string();
        let reply = self
            .run(
                &self.scripts.queue_tick,
                keys.queue.clone(),
                vec![
                    room.max_shoppers.to_string(),
                    ms(room.shopping),
                    ms(room.shopper_idle),
                    ms(room.waiting_idle),
                    ms(room.done_grace),
                ],
            )
            .await?;
        parse_queue_report(&reply)
    }

    /// A step only the seat's current holder may take (book, release).
    async fn holder_step(
        &self,
        script: &Script,
        keys: &VenueKeys,
        seat: &str,
        actor: Actor<'_>,
    ) -> Result<ScriptOutcome, ApiError> {
        self.change(script, keys, seat, self.actor_args(keys, seat, actor))
            .await
    }

    pub async fn expire(&self, keys: &VenueKeys, seat: &str) -> Result<ExpiryOutcome, ApiError> {
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
    ) -> Result<Vec<String>, ApiError> {
        let client = self.pool.next_connected();
        if !client.is_connected() {
            return Err(ApiError::unavailable("Redis"));
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
                ApiError::unavailable("Redis")
            })
    }

    /// Every seat of the venue, the venue's epoch and the seq of the last change included,
    /// read atomically.
    pub async fn snapshot(
        &self,
        keys: &VenueKeys,
        venue: &VenueSpec,
    ) -> Result<(u64, u64, Vec<Seat>), ApiError> {
        let reply = self
            .run(
                &self.scripts.snapshot,
                vec![keys.state.clone(), keys.seq.clone(), keys.epoch.clone()],
                vec![],
            )
            .await?;
        let epoch = parse_field(&reply, 0)?;
        let seq = parse_field(&reply, 1)?;
        let mut seats: Vec<Seat> = SeatId::all(venue.rows, venue.cols)
            .map(Seat::available)
            .collect();
        for pair in reply[2..].chunks_exact(2) {
            let Ok(id) = venue.parse_seat(&pair[0]) else {
                tracing::warn!(seat = %pair[0], "ignoring a seat outside the venue in Redis");
                continue;
            };
            let seat =
                &mut seats[usize::from(id.row) * usize::from(venue.cols) + usize::from(id.col)];
            apply_stored_state(seat, &pair[1]);
        }
        Ok((epoch, seq, seats))
    }

    /// The outbox's events after `after` (at most `limit`), the epoch and the current seq.
    pub async fn history(
        &self,
        keys: &VenueKeys,
        after: u64,
        limit: u64,
    ) -> Result<History, ApiError> {
        let reply = self
            .run(
                &self.scripts.history,
                vec![keys.events.clone(), keys.seq.clone(), keys.epoch.clone()],
                vec![after.to_string(), limit.to_string()],
            )
            .await?;
        let epoch = parse_field(&reply, 1)?;
        let to = parse_field(&reply, 2)?;
        let payloads = match reply.first().map(String::as_str) {
            Some("OK") => Some(reply[3..].to_vec()),
            Some("GONE") => None,
            _ => return Err(unexpected(&reply)),
        };
        Ok(History {
            epoch,
            to,
            payloads,
        })
    }

    /// Takes or renews the relay lease of a venue for `relay_id`.
    pub async fn relay_lease(
        &self,
        keys: &VenueKeys,
        relay_id: &str,
        lease: Duration,
    ) -> Result<Lease, ApiError> {
        let reply = self
            .run(
                &self.scripts.relay,
                keys.relay_keys(),
                vec![relay_id.into(), lease.as_millis().to_string()],
            )
            .await?;
        match reply.first().map(String::as_str) {
            Some("1") => Ok(Lease::Held {
                published: parse_field(&reply, 1)?,
                epoch: parse_field(&reply, 2)?,
            }),
            Some("0") => Ok(Lease::HeldByAnother),
            _ => Err(unexpected(&reply)),
        }
    }

    /// Records that NATS took every event up to `seq` of `epoch`; false when the lease was lost
    /// or the venue's epoch changed meanwhile.
    pub async fn relay_commit(
        &self,
        keys: &VenueKeys,
        relay_id: &str,
        seq: u64,
        epoch: u64,
    ) -> Result<bool, ApiError> {
        let reply = self
            .run(
                &self.scripts.relay_commit,
                keys.relay_keys(),
                vec![relay_id.into(), seq.to_string(), epoch.to_string()],
            )
            .await?;
        Ok(reply.first().map(String::as_str) == Some("1"))
    }

    /// Gives the lease back (clean shutdown).
    pub async fn relay_release(&self, keys: &VenueKeys, relay_id: &str) {
        let _ = self
            .run(
                &self.scripts.relay_release,
                vec![keys.relay_lease.clone()],
                vec![relay_id.into()],
            )
            .await;
    }

    /// A connection of its own, for blocking reads (the relay's XREAD) that must not stall
    /// seat commands.
    pub fn blocking_client(&self) -> Client {
        self.pool.next().clone_new()
    }

    /// Releases every held and booked seat of the venue.
    pub async fn reset(&self, keys: &VenueKeys) -> Result<Vec<ResetSeat>, ApiError> {
        let mut script_keys = vec![
            keys.state.clone(),
            keys.holds.clone(),
            keys.counts.clone(),
            keys.seq.clone(),
            keys.epoch.clone(),
            keys.events.clone(),
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

/// Fills a seat from its stored encoding: `h|user_id|expires_ms|owner` or `b|user_id||owner`.
fn apply_stored_state(seat: &mut Seat, stored: &str) {
    let mut parts = stored.split('|');
    let (kind, user, expires) = (parts.next(), parts.next(), parts.next());
    match kind {
        Some("h") => {
            seat.status = SeatStatus::Held;
            seat.expires_at = expires.and_then(|e| e.parse().ok()).map(ms_to_unix_seconds);
        }
        Some("b") => seat.status = SeatStatus::Booked,
        _ => return,
    }
    seat.held_by = user.map(str::to_owned);
}

/// `expires_at` is in whole seconds; round up so a hold never looks shorter than it is.
pub fn ms_to_unix_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn parse_outcome(reply: &[String]) -> Result<ScriptOutcome, ApiError> {
    let user = reply.get(1).cloned().unwrap_or_default();
    let expires_ms = reply.get(2).and_then(|e| e.parse().ok());
    let refused = |code| {
        Ok(ScriptOutcome::Refused {
            code,
            holder: user.clone(),
        })
    };
    match reply.first().map(String::as_str) {
        Some("CHANGED") => Ok(ScriptOutcome::Changed {
            seq: parse_field(reply, 3)?,
            user,
            expires_ms,
        }),
        Some("UNCHANGED") => Ok(ScriptOutcome::Unchanged { user, expires_ms }),
        Some("SEAT_BOOKED") => refused(ErrorCode::SeatBooked),
        Some("SEAT_UNAVAILABLE") => refused(ErrorCode::SeatUnavailable),
        Some("NOT_HOLDER") => refused(ErrorCode::NotHolder),
        Some("MAX_HOLDS_EXCEEDED") => refused(ErrorCode::MaxHoldsExceeded),
        Some("NOT_ADMITTED") => refused(ErrorCode::NotAdmitted),
        _ => Err(unexpected(reply)),
    }
}

/// `{waiting, shoppers, admitted_count, wait...}`, the start of both queue scripts' replies.
fn parse_queue_report(reply: &[String]) -> Result<QueueReport, ApiError> {
    let admitted: usize = parse_field(reply, 2)?;
    let admitted_waits_ms = reply
        .get(3..3 + admitted)
        .ok_or_else(|| unexpected(reply))?
        .iter()
        .map(|w| w.parse().map_err(|_| unexpected(reply)))
        .collect::<Result<_, _>>()?;
    Ok(QueueReport {
        waiting: parse_field(reply, 0)?,
        shoppers: parse_field(reply, 1)?,
        admitted_waits_ms,
        standings: Vec::new(),
    })
}

fn parse_field<T: std::str::FromStr>(reply: &[String], index: usize) -> Result<T, ApiError> {
    reply
        .get(index)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| unexpected(reply))
}

fn unexpected(reply: &[String]) -> ApiError {
    tracing::error!(?reply, "unexpected reply from a seat script");
    ApiError::internal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_venue_hash_tag() {
        let spec = VenueSpec::parse("main:2x2").unwrap();
        let keys = VenueKeys::new(&spec, 100);
        assert_eq!(keys.all_locks.len(), 4);
        for key in keys.all_locks.iter().chain(&keys.relay_keys()) {
            assert!(key.contains("{main}"), "{key}");
        }
        for key in keys.seat_keys("A1") {
            assert!(key.contains("{main}"), "{key}");
        }
    }

    #[test]
    fn redis_urls_select_a_single_server_or_a_cluster() {
        let single = redis_config("redis://127.0.0.1:6379").unwrap();
        assert!(matches!(single.server, ServerConfig::Centralized { .. }));
        let cluster =
            redis_config("redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002").unwrap();
        let ServerConfig::Clustered { hosts, .. } = cluster.server else {
            panic!("a clustered config");
        };
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2].port, 7002);
        let one = redis_config("redis-cluster://127.0.0.1:7000").unwrap();
        assert!(matches!(one.server, ServerConfig::Clustered { .. }));
        let secret = redis_config("redis-cluster://app:pw@10.0.0.1:7000,10.0.0.2:7000").unwrap();
        assert_eq!(
            (secret.username.as_deref(), secret.password.as_deref()),
            (Some("app"), Some("pw"))
        );
        assert!(redis_config("redis-cluster://127.0.0.1:7000,nope").is_err());
    }

    #[test]
    fn stored_states_become_seats() {
        let id = SeatId { row: 0, col: 0 };
        let mut seat = Seat::available(id);
        apply_stored_state(&mut seat, "h|u-abc|1763723456001|0123abcd");
        assert_eq!(seat.status, SeatStatus::Held);
        assert_eq!(seat.held_by.as_deref(), Some("u-abc"));
        assert_eq!(seat.expires_at, Some(1763723457));
        let mut seat = Seat::available(id);
        apply_stored_state(&mut seat, "b|u-abc||0123abcd");
        assert_eq!(seat.status, SeatStatus::Booked);
        assert_eq!(seat.expires_at, None);
    }

    #[test]
    fn script_replies_map_to_outcomes() {
        let reply = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_outcome(&reply(&["CHANGED", "u-1", "5000", "7"])).unwrap(),
            ScriptOutcome::Changed {
                seq: 7,
                user: "u-1".into(),
                expires_ms: Some(5000)
            }
        );
        assert_eq!(
            parse_outcome(&reply(&["SEAT_BOOKED", "u-2"])).unwrap(),
            ScriptOutcome::Refused {
                code: ErrorCode::SeatBooked,
                holder: "u-2".into()
            }
        );
        assert!(parse_outcome(&reply(&["WHAT"])).is_err());
    }
}
