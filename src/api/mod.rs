//! HTTP only: routes, request parsing and response shapes. Handlers parse, call domain code and
//! render; they hold no rules of their own.

mod access_keys;
mod auth;
mod catalog;
mod credentials;
mod extract;
mod groups;
mod health;
mod middleware;
mod pcu;
mod projects;
mod query;
mod render;
mod roles;
mod users;
mod versions;

pub use extract::{Caller, JsonBody};
pub use middleware::keystone_envelope;

use actix_web::{guard, web, HttpResponse};

use crate::error::Error;

/// Every route of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").route(web::get().to(versions::root)))
        .service(resource("/v3").route(web::get().to(versions::v3_doc)))
        .service(resource("/v3/").route(web::get().to(versions::v3_doc)))
        .service(resource("/healthcheck").route(web::get().to(health::check)))
        .configure(auth::routes)
        .configure(access_keys::routes)
        .configure(credentials::routes)
        .configure(users::routes)
        .configure(groups::routes)
        .configure(projects::routes)
        .configure(roles::routes)
        .configure(catalog::routes)
        .configure(pcu::routes);
}

/// A resource whose unsupported methods answer Keystone's 405.
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(Error::MethodNotAllowed)
    }))
}

/// Marks a HEAD request that the middleware routes as GET, so that HEAD is answered wherever GET is.
#[derive(Clone, Copy)]
pub(crate) struct HeadRequest;

/// A HEAD-only route, for the resources where Keystone's HEAD answer differs from its GET answer
/// (e.g. 204 instead of 200). Register it before the resource's GET route.
pub(crate) fn head() -> actix_web::Route {
    web::route().guard(guard::fn_guard(|ctx| {
        ctx.req_data().get::<HeadRequest>().is_some()
    }))
}

/// The answer for paths that match nothing.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, Error> {
    Err(Error::NotFoundMsg(format!(
        "The resource could not be found: {}",
        req.path()
    )))
}
