//! Scripts during a live resharding of their slot: sent again while Redis Cluster refuses them
//! without running them (TRYAGAIN, MOVED, ASK).

use std::time::{Duration, Instant};

use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{MultipleKeys, MultipleValues};

/// How long a script is sent again while its slot moves, counted from the first attempt:
/// within the 2 s command timeout, so a resharding that stalls is still answered 503 within
/// the time a frozen Redis is.
const RESHARDING_PATIENCE: Duration = Duration::from_millis(1_500);

/// Runs a script, again while its slot is moving between Redis Cluster masters, for at most
/// `RESHARDING_PATIENCE`. Only refusals are sent again, answers that say the script did not
/// run, so nothing is applied twice:
/// - TRYAGAIN: the script's keys are split between the two masters (some moved, some not, or
///   some that do not exist yet, such as a free seat's lock), until the move completes.
/// - MOVED: the slot has a new master. fred refreshed its slot map before handing the
///   redirection back (the store follows none: `max_redirections = 0`), so the next attempt
///   goes to the new master.
/// - ASK: every key has moved but the slot is not handed over yet. The new master would
///   refuse most seat scripts anyway (TRYAGAIN: a free seat's lock does not exist), so the
///   script waits for the handover rather than following it.
pub(super) async fn evalsha_while_resharding(
    client: &Client,
    script: &Script,
    keys: Vec<String>,
    args: Vec<String>,
) -> Result<Vec<String>, fred::error::Error> {
    // Converted once: each attempt then clones reference-counted bytes, not the strings.
    let keys = MultipleKeys::from(keys);
    let args = MultipleValues::try_from(args)?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let result = script
            .evalsha_with_reload::<Vec<String>, _, _>(client, keys.clone(), args.clone())
            .await;
        match result {
            Err(error)
                if refused_while_resharding(&error)
                    && started.elapsed() + pause < RESHARDING_PATIENCE =>
            {
                tracing::debug!(%error, "slot being resharded; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// The error says Redis did not run the script because its slot is moving: TRYAGAIN, or a
/// MOVED or ASK redirection that fred handed back ("Too many redirections.").
pub(super) fn refused_while_resharding(error: &fred::error::Error) -> bool {
    error.details().starts_with("TRYAGAIN")
        || (*error.kind() == ErrorKind::Routing && error.details() == "Too many redirections.")
}
