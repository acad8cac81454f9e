use booking_service::{config, run, Config};

/// jemalloc instead of glibc's malloc: see `docs/benchmarks.md` ("Where the API's time goes").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if !service_runner::handle_args("booking-service", env!("CARGO_PKG_VERSION"), config::HELP)? {
        return Ok(());
    }
    service_runner::init_tracing();
    let config = Config::from_env().map_err(anyhow::Error::msg)?;
    let listener = service_runner::bind(&config.host, config.port).await?;
    run(listener, config, service_runner::shutdown_signal()).await
}
