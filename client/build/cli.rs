//! The command-line client's commands (feature `cli`), generated from the same adjusted contract
//! and settings as the client itself, into `OUT_DIR/cli.rs`.
//!
//! progenitor's CLI generator writes `todo!()` where an operation's success body is not JSON; such
//! operations are left out here and written by hand in the `addressbook-cli` crate, and the build
//! stops if the set left out is not exactly [`HAND_WRITTEN`] or if any `todo!` remains. It also
//! adds a `--json-body-template` flag to every command that takes a body, which does nothing;
//! that flag is removed.

use openapiv3::{OpenAPI, ReferenceOr, Response};
use progenitor::{GenerationSettings, Generator};
use syn::visit_mut::VisitMut;

/// The operations whose success is not a JSON body, which the CLI crate writes by hand.
pub const HAND_WRITTEN: [&str; 1] = ["getMetrics"];

pub fn generate(spec: &OpenAPI, settings: &GenerationSettings) -> Result<String, String> {
    let mut spec = spec.clone();
    let left_out = leave_out_non_json_operations(&mut spec);
    if left_out != HAND_WRITTEN {
        return Err(format!(
            "the operations whose success is not JSON are {left_out:?}, but the CLI crate writes \
             {HAND_WRITTEN:?} by hand; write the new ones in cli/src/ and list them in \
             build/cli.rs"
        ));
    }
    let tokens = Generator::new(settings)
        .cli(&spec, "crate")
        .map_err(|e| format!("progenitor cannot generate the CLI: {e}"))?;
    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor produced CLI code that does not parse: {e}"))?;
    DropTemplateFlag.visit_file_mut(&mut file);
    let code = prettyplease::unparse(&file);
    if code.contains("json-body-template") {
        return Err("the generated CLI still has its --json-body-template flag".to_owned());
    }
    if code.contains("todo!") {
        return Err(
            "the generated CLI has a todo!(); an operation it cannot write is left in".to_owned(),
        );
    }
    Ok(code)
}

/// Removes every operation whose 2xx answers carry a body that is not JSON, and returns their
/// ids in the contract's order.
fn leave_out_non_json_operations(spec: &mut OpenAPI) -> Vec<String> {
    let shared = spec
        .components
        .as_ref()
        .map(|c| c.responses.clone())
        .unwrap_or_default();
    let json_or_empty = |response: &ReferenceOr<Response>| {
        let response = match response {
            ReferenceOr::Item(response) => Some(response),
            ReferenceOr::Reference { reference } => reference
                .strip_prefix("#/components/responses/")
                .and_then(|name| shared.get(name))
                .and_then(|r| r.as_item()),
        };
        response.is_none_or(|r| {
            r.content.is_empty() || r.content.keys().any(|k| super::essence(k) == super::JSON)
        })
    };
    let mut left_out = Vec::new();
    for item in spec.paths.paths.values_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (_, slot) in super::operations_mut(item) {
            let Some(operation) = slot else {
                continue;
            };
            let json = operation
                .responses
                .responses
                .iter()
                .filter(|(status, _)| status.to_string().starts_with('2'))
                .all(|(_, response)| json_or_empty(response));
            if !json {
                left_out.push(operation.operation_id.clone().unwrap_or_default());
            }
        }
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ] {
            if operation
                .as_ref()
                .is_some_and(|o| left_out.contains(&o.operation_id.clone().unwrap_or_default()))
            {
                *operation = None;
            }
        }
    }
    left_out
}

/// `command.arg(Arg::new("json-body-template")...)` becomes `command`.
struct DropTemplateFlag;

impl VisitMut for DropTemplateFlag {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let syn::Expr::MethodCall(call) = expr
            && call.method == "arg"
            && call.args.iter().any(|arg| {
                let mut found = Mentions::default();
                syn::visit::Visit::visit_expr(&mut found, arg);
                found.template
            })
        {
            *expr = (*call.receiver).clone();
        }
    }
}

#[derive(Default)]
struct Mentions {
    template: bool,
}

impl<'ast> syn::visit::Visit<'ast> for Mentions {
    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.template |= lit.value() == "json-body-template";
    }
}
