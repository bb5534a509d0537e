//! Makes the generated code speak to the person using it.
//!
//! * **Messages.** Input the schema refuses fails before anything is sent, and the message is
//!   what the caller sees. Left as generated, it names Rust types and regular expressions
//!   (``conversion to `:: std :: num :: NonZeroU32` for limit failed``, `doesn't match pattern
//!   "^[0-9]{1,8}$"`) and drops the reason. Here every such message becomes `<field>: <reason
//!   in words>`: each pattern of the contract has its meaning in [`PATTERN_MEANINGS`] (the build
//!   stops on a pattern that has none), an enum lists its values, and an operation's parameter
//!   setters keep the reason their conversion gave.
//! * **Docs.** The setters of the operation builders (`client.list_addresses().q(..)`) and of the
//!   type builders (`types::EntryInput::builder().full_name(..)`) are generated without doc
//!   comments. Each gets the description the contract gives that parameter or member, so that
//!   rustdoc and an editor's hover show it where it is used.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Parameter, ReferenceOr, SchemaKind, Type};
use syn::visit_mut::VisitMut;

/// What each `pattern` in the contract means, as the message a caller reads after the member's
/// name. The keys are the patterns exactly as the contract writes them.
const PATTERN_MEANINGS: [(&str, &str); 6] = [
    (
        r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$",
        "must contain a character other than white space, and no control characters \
         (U+0000 to U+001F, U+007F)",
    ),
    (
        r"^[^\x00-\x1F\x7F]*$",
        "must not contain control characters (U+0000 to U+001F, U+007F)",
    ),
    (r"^[0-9]{1,8}$", "must be 1 to 8 digits (0-9), nothing else"),
    (
        r"^[0-9]{1,15}$",
        "must be 1 to 15 digits (0-9), nothing else",
    ),
    (
        r"^[\x20-\x7E]+$",
        "must be printable ASCII characters (U+0020 to U+007E)",
    ),
    (
        r#"^(\*|[ \t,]*(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t,]*(W/)?"[\x21\x23-\x7E]*")*[ \t,]*)$"#,
        "must be `*` or a list of entity tags such as \"3\"",
    ),
];

/// Rewrites the messages and adds the docs described in the module comment.
pub fn apply(file: &mut syn::File, spec: &OpenAPI) -> Result<(), String> {
    let mut messages = Messages {
        enums: string_enums(spec),
        errors: Vec::new(),
    };
    messages.visit_file_mut(file);
    let mut setters = SetterMessages::default();
    setters.visit_file_mut(file);
    messages.errors.extend(setters.errors);
    if !messages.errors.is_empty() {
        return Err(messages.errors.join("; "));
    }
    document_builders(file, spec)
}

/// The contract's string enums by the name typify gives their type, with their values.
fn string_enums(spec: &OpenAPI) -> BTreeMap<String, Vec<String>> {
    let Some(components) = spec.components.as_ref() else {
        return BTreeMap::new();
    };
    components
        .schemas
        .iter()
        .filter_map(|(name, schema)| {
            let ReferenceOr::Item(schema) = schema else {
                return None;
            };
            let SchemaKind::Type(Type::String(string)) = &schema.schema_kind else {
                return None;
            };
            let values: Vec<String> = string.enumeration.iter().flatten().cloned().collect();
            (!values.is_empty()).then(|| (name.clone(), values))
        })
        .collect()
}

/// Rewrites the fixed messages typify writes into conversions and builders.
struct Messages {
    enums: BTreeMap<String, Vec<String>>,
    errors: Vec<String>,
}

impl Messages {
    fn rewrite(&mut self, text: &str) -> Option<String> {
        if let Some(pattern) = text
            .strip_prefix("doesn't match pattern \"")
            .and_then(|rest| rest.strip_suffix('"'))
        {
            return match PATTERN_MEANINGS.iter().find(|(known, _)| *known == pattern) {
                Some((_, meaning)) => Some((*meaning).to_owned()),
                None => {
                    self.errors.push(format!(
                        "the contract has the pattern {pattern:?}, which PATTERN_MEANINGS in \
                         build/readable.rs does not explain; add what it means in words"
                    ));
                    None
                }
            };
        }
        if text == "shorter than 1 characters" {
            return Some("must not be empty".to_owned());
        }
        // The builders' `TryFrom`: "error converting supplied value for full_name: {e}".
        if let Some(rest) = text.strip_prefix("error converting supplied value for ") {
            return Some(rest.to_owned());
        }
        // An operation's body setter: "conversion to `EntryInput` for body failed: {}".
        if text.starts_with("conversion to `") && text.ends_with(" for body failed: {}") {
            return Some("body: {}".to_owned());
        }
        None
    }
}

impl VisitMut for Messages {
    // Doc comments are the contract's prose and stay as they are.
    fn visit_attribute_mut(&mut self, _: &mut syn::Attribute) {}

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let implements_from_str = item
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .is_some_and(|segment| segment.ident == "FromStr");
        let values = match (&*item.self_ty, implements_from_str) {
            (syn::Type::Path(ty), true) => ty
                .path
                .get_ident()
                .and_then(|ident| self.enums.get(&ident.to_string()))
                .cloned(),
            _ => None,
        };
        if let Some(values) = values {
            let message = format!("must be one of: {}", values.join(", "));
            let mut invalid = ReplaceLiteral {
                from: "invalid value",
                to: &message,
            };
            invalid.visit_item_impl_mut(item);
        }
        syn::visit_mut::visit_item_impl_mut(self, item);
    }

    fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
        if let Some(text) = self.rewrite(&lit.value()) {
            *lit = syn::LitStr::new(&text, lit.span());
        }
    }

    // `format!("error converting supplied value for full_name: {e}")` is a macro call, whose
    // arguments syn keeps as tokens rather than expressions.
    fn visit_macro_mut(&mut self, call: &mut syn::Macro) {
        call.tokens = std::mem::take(&mut call.tokens)
            .into_iter()
            .map(|token| match &token {
                proc_macro2::TokenTree::Literal(literal) => {
                    match syn::parse_str::<syn::LitStr>(&literal.to_string()) {
                        Ok(lit) => match self.rewrite(&lit.value()) {
                            Some(text) => proc_macro2::TokenTree::Literal(
                                syn::LitStr::new(&text, lit.span()).token(),
                            ),
                            None => token,
                        },
                        Err(_) => token,
                    }
                }
                _ => token,
            })
            .collect();
    }
}

struct ReplaceLiteral<'a> {
    from: &'a str,
    to: &'a str,
}

impl VisitMut for ReplaceLiteral<'_> {
    fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
        if lit.value() == self.from {
            *lit = syn::LitStr::new(self.to, lit.span());
        }
    }
}

/// The parameter setters of the operation builders drop the conversion's reason:
///
/// ```text
/// pub fn limit<V>(mut self, value: V) -> Self
/// where V: std::convert::TryInto<::std::num::NonZeroU32>,
/// { self.limit = value.try_into().map(Some)
///       .map_err(|_| "conversion to `:: std :: num :: NonZeroU32` for limit failed".to_string());
/// ```
///
/// They are made to keep it (`limit: ...`), which needs the conversion's error to be
/// `Display`; every conversion a caller can use here has such an error (typify's own,
/// `TryFromIntError`, `uuid::Error`, `Infallible`). A zero `NonZeroU32` says so in words,
/// since the standard library's reason ("out of range integral type conversion attempted")
/// does not.
#[derive(Default)]
struct SetterMessages {
    errors: Vec<String>,
}

impl VisitMut for SetterMessages {
    fn visit_impl_item_fn_mut(&mut self, function: &mut syn::ImplItemFn) {
        let mut closures = DroppedReasons::default();
        closures.visit_block_mut(&mut function.block);
        if closures.rewritten == 0 {
            return;
        }
        if closures.rewritten > 1 {
            self.errors.push(format!(
                "setter {} converts more than one value; build/readable.rs expects one",
                function.sig.ident
            ));
            return;
        }
        if !closures.keeps_reason {
            return;
        }
        let target = function
            .sig
            .generics
            .where_clause
            .iter()
            .flat_map(|clause| &clause.predicates)
            .find_map(|predicate| match predicate {
                syn::WherePredicate::Type(bound) => bound.bounds.iter().find_map(|b| match b {
                    syn::TypeParamBound::Trait(t)
                        if t.path.segments.last().is_some_and(|s| s.ident == "TryInto") =>
                    {
                        Some((bound.bounded_ty.clone(), t.path.clone()))
                    }
                    _ => None,
                }),
                _ => None,
            });
        let Some((value, try_into)) = target else {
            self.errors.push(format!(
                "setter {} has no `V: TryInto<T>` bound; build/readable.rs expects one",
                function.sig.ident
            ));
            return;
        };
        let predicate: syn::WherePredicate =
            syn::parse_quote!(<#value as #try_into>::Error: ::std::fmt::Display);
        function
            .sig
            .generics
            .make_where_clause()
            .predicates
            .push(predicate);
    }
}

#[derive(Default)]
struct DroppedReasons {
    rewritten: usize,
    keeps_reason: bool,
}

impl VisitMut for DroppedReasons {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        if call.method != "map_err" || call.args.len() != 1 {
            return;
        }
        let Some(syn::Expr::Closure(closure)) = call.args.first() else {
            return;
        };
        if !matches!(closure.inputs.first(), Some(syn::Pat::Wild(_))) {
            return;
        }
        let mut found = FindLiteral::default();
        syn::visit::Visit::visit_expr(&mut found, &closure.body);
        let Some(text) = found.text else {
            return;
        };
        let Some((target, field)) = text
            .strip_prefix("conversion to `")
            .and_then(|rest| rest.strip_suffix(" failed"))
            .and_then(|rest| rest.split_once("` for "))
        else {
            return;
        };
        let replacement: syn::Expr = if target.replace(' ', "").ends_with("NonZeroU32") {
            let message = format!("{field}: must be at least 1");
            syn::parse_quote!(|_| #message.to_string())
        } else {
            self.keeps_reason = true;
            let format = format!("{field}: {{e}}");
            syn::parse_quote!(|e| format!(#format))
        };
        call.args[0] = replacement;
        self.rewritten += 1;
    }
}

#[derive(Default)]
struct FindLiteral {
    text: Option<String>,
}

impl<'ast> syn::visit::Visit<'ast> for FindLiteral {
    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.text.get_or_insert_with(|| lit.value());
    }
}

/// Gives every setter of the operation builders (`mod builder`) and of the type builders
/// (`mod types::builder`) the contract's description of what it sets.
fn document_builders(file: &mut syn::File, spec: &OpenAPI) -> Result<(), String> {
    let operations = operation_docs(spec);
    let mut missing = Vec::new();
    let mut field_docs = BTreeMap::new();
    for item in &mut file.items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        let Some((_, items)) = module.content.as_mut() else {
            continue;
        };
        if module.ident == "types" {
            collect_field_docs(items, spec, &mut field_docs);
            document_builder_constructors(items);
            for item in items.iter_mut() {
                if let syn::Item::Mod(builders) = item
                    && builders.ident == "builder"
                    && let Some((_, items)) = builders.content.as_mut()
                {
                    document_type_builders(items, &field_docs);
                }
            }
        } else if module.ident == "builder" {
            document_operation_builders(items, &operations, &mut missing);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "these builder methods have no description in the contract to document them with: \
             {}",
            missing.join(", ")
        ))
    }
}

/// For each operation, by the name of its builder (`ListAddresses`): what each setter sets.
fn operation_docs(spec: &OpenAPI) -> BTreeMap<String, BTreeMap<String, String>> {
    let shared = spec.components.as_ref().map(|c| &c.parameters);
    let mut docs = BTreeMap::new();
    for item in spec.paths.paths.values() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        for (_, operation) in item.iter() {
            let Some(id) = operation.operation_id.as_deref() else {
                continue;
            };
            let mut setters = BTreeMap::new();
            for parameter in item.parameters.iter().chain(&operation.parameters) {
                let parameter = match parameter {
                    ReferenceOr::Item(parameter) => Some(parameter),
                    ReferenceOr::Reference { reference } => reference
                        .strip_prefix("#/components/parameters/")
                        .and_then(|name| shared?.get(name))
                        .and_then(|p| p.as_item()),
                };
                let Some(parameter) = parameter else {
                    continue;
                };
                let data = parameter.parameter_data_ref();
                let place = match parameter {
                    Parameter::Query { .. } => "query parameter",
                    Parameter::Header { .. } => "header",
                    Parameter::Path { .. } => "path parameter",
                    Parameter::Cookie { .. } => "cookie",
                };
                let need = if data.required {
                    "Required"
                } else {
                    "Optional"
                };
                let text = data.description.as_deref().unwrap_or_default();
                setters.insert(
                    data.name.to_ascii_lowercase().replace('-', "_"),
                    format!("Sets the `{}` {place}. {need}.\n\n{text}", data.name),
                );
            }
            let body = match &operation.request_body {
                Some(ReferenceOr::Item(body)) => Some(body),
                Some(ReferenceOr::Reference { reference }) => reference
                    .strip_prefix("#/components/requestBodies/")
                    .and_then(|name| spec.components.as_ref()?.request_bodies.get(name))
                    .and_then(|b| b.as_item()),
                None => None,
            };
            if let Some(body) = body {
                let text = body.description.as_deref().unwrap_or_default();
                setters.insert(
                    "body".to_owned(),
                    format!(
                        "Sets the request body. Required.\n\n{text}\n\nTakes the body or its \
                         builder; a builder that misses a required member, or a member the \
                         schema refuses, makes `send` fail with `Error::InvalidRequest` \
                         naming it, before anything is sent."
                    ),
                );
                setters.insert(
                    "body_map".to_owned(),
                    "Changes the body set so far (which starts as an empty builder) with a \
                     function of its builder, e.g. `.body_map(|b| b.full_name(\"Irene \
                     Adler\"))`."
                        .to_owned(),
                );
            }
            let mut name = id.to_owned();
            if let Some(first) = name.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            docs.insert(name, setters);
        }
    }
    docs
}

fn document_operation_builders(
    items: &mut [syn::Item],
    operations: &BTreeMap<String, BTreeMap<String, String>>,
    missing: &mut Vec<String>,
) {
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let Some(name) = type_name(&block.self_ty) else {
            continue;
        };
        let Some(setters) = operations.get(&name) else {
            continue;
        };
        for member in &mut block.items {
            let syn::ImplItem::Fn(function) = member else {
                continue;
            };
            if has_doc(&function.attrs) {
                continue;
            }
            let method = function.sig.ident.to_string();
            let doc = if method == "new" {
                Some(format!(
                    "A request with nothing set; `Client::{}` is the usual way to start one.",
                    to_snake(&name)
                ))
            } else {
                setters.get(&method).cloned()
            };
            match doc {
                Some(doc) => prepend_doc(&mut function.attrs, &doc),
                None => missing.push(format!("builder::{name}::{method}")),
            }
        }
    }
}

/// The doc comments of every struct member in `types`, by struct and member name.
fn collect_field_docs(
    items: &[syn::Item],
    spec: &OpenAPI,
    docs: &mut BTreeMap<String, BTreeMap<String, Vec<syn::Attribute>>>,
) {
    // A type written by hand in place of the generated one (`EntryPatch`) is not among the
    // items: the contract's own description of its schema says what it holds.
    let mut type_docs: BTreeMap<String, Vec<syn::Attribute>> = spec
        .components
        .iter()
        .flat_map(|components| &components.schemas)
        .filter_map(|(name, schema)| match schema {
            ReferenceOr::Item(schema) => {
                let text = schema.schema_data.description.as_deref()?.trim_end();
                Some((name.clone(), vec![syn::parse_quote!(#[doc = #text])]))
            }
            ReferenceOr::Reference { .. } => None,
        })
        .collect();
    type_docs.extend(items.iter().filter_map(|item| match item {
        syn::Item::Struct(item) => Some((item.ident.to_string(), doc_attributes(&item.attrs))),
        syn::Item::Enum(item) => Some((item.ident.to_string(), doc_attributes(&item.attrs))),
        _ => None,
    }));
    for item in items {
        let syn::Item::Struct(item) = item else {
            continue;
        };
        let syn::Fields::Named(fields) = &item.fields else {
            continue;
        };
        let members = fields
            .named
            .iter()
            .filter_map(|field| {
                let mut doc = doc_attributes(&field.attrs);
                if doc.is_empty() {
                    // A member that is only a `$ref` (`kind`) has no description of its own;
                    // its type's description says what it holds.
                    doc = innermost_type(&field.ty)
                        .and_then(|name| type_docs.get(&name))
                        .cloned()
                        .unwrap_or_default();
                }
                let name = field.ident.as_ref()?.to_string();
                (!doc.is_empty()).then_some((name, doc))
            })
            .collect();
        docs.insert(item.ident.to_string(), members);
    }
}

/// Document every type's `builder()` constructor.
fn document_builder_constructors(items: &mut [syn::Item]) {
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        if block.trait_.is_some() {
            continue;
        }
        let Some(name) = type_name(&block.self_ty) else {
            continue;
        };
        for member in &mut block.items {
            if let syn::ImplItem::Fn(function) = member
                && function.sig.ident == "builder"
                && !has_doc(&function.attrs)
            {
                prepend_doc(
                    &mut function.attrs,
                    &format!(
                        "Starts a [`builder::{name}`] with nothing set; set the members, then \
                         convert it with `{name}::try_from`, or hand it to a request's `body`."
                    ),
                );
            }
        }
    }
}

fn doc_attributes(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// `Option<Vec<PhoneKind>>` → `PhoneKind`.
fn innermost_type(ty: &syn::Type) -> Option<String> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if let syn::PathArguments::AngleBracketed(arguments) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = arguments.args.first()
    {
        return innermost_type(inner);
    }
    Some(last.ident.to_string())
}

fn document_type_builders(
    items: &mut [syn::Item],
    docs: &BTreeMap<String, BTreeMap<String, Vec<syn::Attribute>>>,
) {
    for item in items {
        match item {
            syn::Item::Struct(item) if !has_doc(&item.attrs) => {
                let name = item.ident.to_string();
                prepend_doc(
                    &mut item.attrs,
                    &format!(
                        "Builds a [`{name}`](super::{name}), which `{name}::builder()` starts. \
                         Converting it (`{name}::try_from(builder)`, or handing it to a \
                         request's `body`) checks every member and names the first one that \
                         is missing or refused."
                    ),
                );
            }
            syn::Item::Impl(block) => {
                let Some(members) = type_name(&block.self_ty).and_then(|name| docs.get(&name))
                else {
                    continue;
                };
                for member in &mut block.items {
                    if let syn::ImplItem::Fn(function) = member
                        && !has_doc(&function.attrs)
                        && let Some(doc) = members.get(&function.sig.ident.to_string())
                    {
                        function.attrs.splice(0..0, doc.iter().cloned());
                    }
                }
            }
            _ => {}
        }
    }
}

fn type_name(ty: &syn::Type) -> Option<String> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    path.path.segments.last().map(|s| s.ident.to_string())
}

fn has_doc(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("doc"))
}

fn prepend_doc(attrs: &mut Vec<syn::Attribute>, text: &str) {
    let text = text.trim_end();
    attrs.insert(0, syn::parse_quote!(#[doc = #text]));
}

/// `ListAddresses` → `list_addresses`.
fn to_snake(pascal: &str) -> String {
    let mut snake = String::new();
    for (i, c) in pascal.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}
