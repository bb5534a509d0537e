//! Cross-origin requests from browsers (CORS), for the origins `cors.allowed_origins` names. A
//! request from an allowed origin gets `Access-Control-Allow-Origin` and the headers it may read;
//! its preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 here, before
//! authentication, since a browser sends no credential with it. A request from any other origin
//! is served as if CORS were off: the browser, not the server, then keeps the page from reading
//! the answer, and callers that are not browsers are unaffected.

use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Request, Response};

use crate::config::CorsSettings;

pub struct Cors {
    any_origin: bool,
    origins: Vec<HeaderValue>,
    methods: Vec<Method>,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: HeaderValue,
    max_age: HeaderValue,
}

impl Cors {
    /// The rules `settings` give, or `None` while no origin is allowed.
    pub fn new(settings: &CorsSettings) -> anyhow::Result<Option<Self>> {
        if settings.allowed_origins.is_empty() {
            return Ok(None);
        }
        let value = |text: String, what: &str| {
            HeaderValue::from_str(&text).map_err(|_| anyhow::anyhow!("cors.{what}: {text:?}"))
        };
        let methods = settings
            .allowed_methods
            .iter()
            .map(|method| {
                method
                    .parse::<Method>()
                    .map_err(|_| anyhow::anyhow!("cors.allowed_methods: {method:?} is no method"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(Self {
            any_origin: settings.allowed_origins.iter().any(|origin| origin == "*"),
            origins: settings
                .allowed_origins
                .iter()
                .filter(|origin| *origin != "*")
                .map(|origin| value(origin.trim_end_matches('/').to_owned(), "allowed_origins"))
                .collect::<anyhow::Result<_>>()?,
            methods,
            allow_methods: value(settings.allowed_methods.join(", "), "allowed_methods")?,
            allow_headers: value(settings.allowed_headers.join(", "), "allowed_headers")?,
            expose_headers: value(settings.exposed_headers.join(", "), "exposed_headers")?,
            max_age: HeaderValue::from(settings.max_age_secs),
        }))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.any_origin || self.origins.contains(origin)
    }

    /// The request's origin, if it is one of the allowed.
    pub fn allowed_origin(&self, req: &Request) -> Option<HeaderValue> {
        req.headers()
            .get(header::ORIGIN)
            .filter(|origin| self.allows(origin))
            .cloned()
    }

    /// The answer to `req` from `origin` if it is a preflight for an allowed method.
    pub fn preflight(&self, req: &Request, origin: &HeaderValue) -> Option<Response> {
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|method| method.to_str().ok())
            .and_then(|method| method.parse::<Method>().ok());
        if req.method() != Method::OPTIONS || !asked.is_some_and(|m| self.methods.contains(&m)) {
            return None;
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            self.allow_methods.clone(),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            self.allow_headers.clone(),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        allow(headers, origin.clone(), self.any_origin);
        Some(response)
    }

    /// Marks what `origin` (when allowed) may read of `response`, whatever its status.
    pub fn decorate(&self, origin: Option<HeaderValue>, response: &mut Response) {
        let headers = response.headers_mut();
        match origin {
            Some(origin) => {
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    self.expose_headers.clone(),
                );
                allow(headers, origin, self.any_origin);
            }
            // The answer would differ for an allowed origin: caches must tell them apart.
            None if !self.any_origin => {
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
            None => {}
        }
    }
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue, any_origin: bool) {
    if any_origin {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        // The answer differs by origin, so caches must keep one per origin.
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}
