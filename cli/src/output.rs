//! How answers are printed: bodies as JSON on stdout, refusals as one readable line on stderr.

use std::fmt::Debug;
use std::io::Write as _;

use addressbook_client::cli::CliConfig;
use addressbook_client::reqwest::StatusCode;
use addressbook_client::reqwest::header::HeaderMap;
use addressbook_client::{Error, ResponseValue, types};
use schemars::JsonSchema;
use serde::Serialize;

/// The headers `--verbose` shows: what a caller needs for its next request.
const SHOWN_HEADERS: [&str; 3] = ["etag", "location", "x-request-id"];

pub struct Output {
    verbose: bool,
}

impl Output {
    pub fn new(verbose: bool) -> Self {
        Self { verbose }
    }

    /// With `--verbose`, the status and the headers a caller uses next, on stderr.
    pub fn headers(&self, status: StatusCode, headers: &HeaderMap) {
        if !self.verbose {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "< {status}");
        for name in SHOWN_HEADERS {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                let _ = writeln!(stderr, "< {name}: {value}");
            }
        }
    }

    /// Reports a failed call on stderr and returns it as the command's error.
    pub fn failed<E>(&self, error: Error<E>) -> anyhow::Error
    where
        E: Serialize + Debug + Send + Sync + 'static,
        Error<E>: std::error::Error + Send + Sync + 'static,
    {
        self.report(&error);
        anyhow::Error::new(error)
    }

    fn report<E: Serialize>(&self, error: &Error<E>) {
        if let Error::ErrorResponse(response) = error {
            self.headers(response.status(), response.headers());
        }
        eprintln!("addressbook: {}", describe(error));
    }
}

/// Whether `main` must still print this error: calls that reached the client were reported by
/// [`Output`] already.
pub fn already_reported(error: &anyhow::Error) -> bool {
    error.is::<Error<types::Problem>>()
        || error.is::<Error<types::NotReady>>()
        || error.is::<Error<()>>()
}

/// One line for a failed call. A problem document reads like the client's `describe`; anything
/// else says in words what happened rather than dumping the response.
fn describe<E: Serialize>(error: &Error<E>) -> String {
    match error {
        Error::ErrorResponse(response) => {
            let request_id = response
                .headers()
                .get("x-request-id")
                .and_then(|id| id.to_str().ok())
                .unwrap_or("none");
            let body = serde_json::to_value(response.as_ref()).unwrap_or_default();
            match serde_json::from_value::<types::Problem>(body.clone()) {
                Ok(problem) => format!("{problem} (request id {request_id})"),
                Err(_) => format!("{} {body} (request id {request_id})", response.status()),
            }
        }
        Error::UnexpectedResponse(response) if response.status() == StatusCode::NOT_MODIFIED => {
            "304 Not Modified: the entry still has the ETag given in --if-none-match".to_owned()
        }
        Error::UnexpectedResponse(response) => format!(
            "{} from {}, an answer this operation does not declare",
            response.status(),
            response.url()
        ),
        Error::InvalidRequest(reason) => format!("not sent: {reason}"),
        Error::CommunicationError(err) => format!("cannot reach the service: {}", chain(err)),
        Error::ResponseBodyError(err) => format!("the answer broke off: {}", chain(err)),
        Error::InvalidResponsePayload(_, err) => {
            format!("the answer is not what the contract describes: {err}")
        }
        Error::InvalidUpgrade(err) => format!("cannot upgrade the connection: {}", chain(err)),
        Error::Custom(reason) => reason.clone(),
    }
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn print_json<T: Serialize>(value: &T, pretty: bool) {
    let mut stdout = std::io::stdout().lock();
    let written = if pretty {
        serde_json::to_writer_pretty(&mut stdout, value)
    } else {
        serde_json::to_writer(&mut stdout, value)
    };
    if written.is_ok() {
        let _ = writeln!(stdout);
    }
}

impl CliConfig for Output {
    fn success_item<T>(&self, value: &ResponseValue<T>)
    where
        T: JsonSchema + Serialize + Debug,
    {
        self.headers(value.status(), value.headers());
        print_json(value.as_ref(), true);
    }

    fn success_no_item(&self, value: &ResponseValue<()>) {
        self.headers(value.status(), value.headers());
    }

    fn error<T>(&self, value: &Error<T>)
    where
        T: JsonSchema + Serialize + Debug,
    {
        self.report(value);
    }

    // No operation of the contract is paginated the way the generator's list hooks expect
    // (`entries list --all` walks pages itself), but they print one JSON object per line too.
    fn list_start<T>(&self)
    where
        T: JsonSchema + Serialize + Debug,
    {
    }

    fn list_item<T>(&self, value: &T)
    where
        T: JsonSchema + Serialize + Debug,
    {
        print_json(value, false);
    }

    fn list_end_success<T>(&self)
    where
        T: JsonSchema + Serialize + Debug,
    {
    }

    fn list_end_error<T>(&self, value: &Error<T>)
    where
        T: JsonSchema + Serialize + Debug,
    {
        self.report(value);
    }
}
