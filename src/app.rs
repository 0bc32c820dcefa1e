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
}

impl Application {
    pub fn build(mut config: Config, store: Store) -> Result<Application> {
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| Error::validation(format!("cannot listen on {}: {e}", config.bind)))?;
        let addr = listener.local_addr().map_err(Error::internal)?;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        let state = web::Data::new(State::new(config, store)?);
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(crate::api::keystone_envelope))
                .configure(crate::api::routes)
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
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<State> {
        self.state.clone()
    }

    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (up to 30 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
