//! Builds the HTTP server around a `State`. Binding happens first, so that a server on port 0
//! (tests) knows its public URL before anything renders it.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::state::State;
use crate::store::Store;

pub struct Application {
    server: Server,
    port: u16,
    state: web::Data<State>,
    /// The `/metrics` listener (`[metrics] bind`), when configured.
    metrics: Option<(Server, u16)>,
}

impl Application {
    pub fn build(mut config: Config, store: Store) -> Result<Application> {
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| Error::validation(format!("cannot listen on {}: {e}", config.bind)))?;
        let addr = listener.local_addr().map_err(Error::internal)?;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        // Bound before the state is built, like the API listener, so that a bad address stops
        // the start before anything else happens.
        let metrics_listener = match &config.metrics.bind {
            Some(bind) => Some(TcpListener::bind(bind).map_err(|e| {
                Error::validation(format!("cannot listen on {bind} (metrics.bind): {e}"))
            })?),
            None => None,
        };
        let state = web::Data::new(State::new(config, store)?);
        let metrics = match metrics_listener {
            Some(listener) => Some(metrics_server(listener, state.clone())?),
            None => None,
        };
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(crate::api::keystone_envelope))
                .configure(crate::api::routes)
                .configure(crate::web::routes)
                .default_service(web::to(crate::api::not_found))
        })
        .shutdown_timeout(30)
        .listen(listener)
        .map_err(|e| Error::validation(format!("cannot serve on {addr}: {e}")))?
        .run();
        Ok(Application {
            server,
            port: addr.port(),
            state,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when the metrics listener is configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    pub fn state(&self) -> web::Data<State> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (up to 30 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(false).await;
        }
        result
    }
}

/// The metrics listener: `/metrics` and nothing else, one worker, no request middleware (its
/// requests are not counted among the API's). Installs the process's metrics recorder.
fn metrics_server(listener: TcpListener, state: web::Data<State>) -> Result<(Server, u16)> {
    let addr = listener.local_addr().map_err(Error::internal)?;
    crate::telemetry::install();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(crate::telemetry::routes)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .map_err(|e| Error::validation(format!("cannot serve metrics on {addr}: {e}")))?
    .run();
    Ok((server, addr.port()))
}
