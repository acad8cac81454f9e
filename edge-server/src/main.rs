use edge_server::{config, run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if !service_runner::handle_args("edge-server", env!("CARGO_PKG_VERSION"), config::HELP)? {
        return Ok(());
    }
    service_runner::init_tracing();
    let config = Config::from_env().map_err(anyhow::Error::msg)?;
    let listener = service_runner::bind(&config.host, config.port).await?;
    run(listener, config, service_runner::shutdown_signal()).await
}
