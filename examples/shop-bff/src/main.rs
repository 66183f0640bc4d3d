//! A team's own BFF in a dozen lines: `cargo run -p shop-bff -- bff.toml 127.0.0.1:4200`.
//! `bff.toml` names the supergraph config, the client's contract and its manifest.

use tributary_bff::{Bff, BffFile};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| "bff.toml".to_owned());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:4200".to_owned());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let served = Bff::new("shop")
        .file(BffFile::load(file.as_ref())?)
        .serve(
            tokio::net::TcpListener::bind(&listen).await?,
            shutdown.clone(),
        )
        .await?;
    println!("shop BFF on http://{listen}/graphql");
    tokio::signal::ctrl_c().await?;
    shutdown.cancel();
    served.await??;
    Ok(())
}
