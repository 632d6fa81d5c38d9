//! Short builders for the schemas: each resource lists its attributes and blocks in
//! a few lines instead of struct literals.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};

pub fn string() -> AttributeType {
    AttributeType::String
}
pub fn number() -> AttributeType {
    AttributeType::Number
}
pub fn boolean() -> AttributeType {
    AttributeType::Bool
}
pub fn list_of(t: AttributeType) -> AttributeType {
    AttributeType::List(Box::new(t))
}
pub fn set_of(t: AttributeType) -> AttributeType {
    AttributeType::Set(Box::new(t))
}
pub fn map_of(t: AttributeType) -> AttributeType {
    AttributeType::Map(Box::new(t))
}

fn attr(t: AttributeType, c: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type: t,
        description: Description::plain(doc),
        constraint: c,
        ..Default::default()
    }
}
pub fn required(t: AttributeType, doc: &str) -> Attribute {
    attr(t, AttributeConstraint::Required, doc)
}
pub fn optional(t: AttributeType, doc: &str) -> Attribute {
    attr(t, AttributeConstraint::Optional, doc)
}
/// Optional, and the provider fills it in when the configuration leaves it out.
pub fn defaulted(t: AttributeType, doc: &str) -> Attribute {
    attr(t, AttributeConstraint::OptionalComputed, doc)
}
pub fn computed(t: AttributeType, doc: &str) -> Attribute {
    attr(t, AttributeConstraint::Computed, doc)
}
pub fn sensitive(mut a: Attribute) -> Attribute {
    a.sensitive = true;
    a
}

pub fn block<const A: usize, const B: usize>(
    doc: &str,
    attributes: [(&str, Attribute); A],
    blocks: [(&str, NestedBlock); B],
) -> Block {
    Block {
        version: 1,
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<HashMap<_, _>>(),
        blocks: blocks
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<HashMap<_, _>>(),
        description: Description::plain(doc),
        deprecated: false,
    }
}

/// A block that may appear at most once (`versioning { ... }`).
pub fn at_most_once(b: Block) -> NestedBlock {
    NestedBlock::Optional(b)
}
/// A block that may repeat (`lifecycle_rule { ... }`).
pub fn repeated(b: Block) -> NestedBlock {
    NestedBlock::List(b)
}

pub fn schema(b: Block) -> Option<Schema> {
    Some(Schema {
        version: 1,
        block: b,
    })
}
