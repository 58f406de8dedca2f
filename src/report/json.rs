//! JSON: one record as an object, several as an array; pretty, with a trailing newline.

use std::collections::BTreeMap;

use super::Exporter;
use crate::record::Record;
use crate::scenario::Scenario;

pub struct Json;

impl Exporter for Json {
    fn export(&self, records: &[Record], _: &BTreeMap<String, Scenario>) -> String {
        let text = match records {
            [one] => serde_json::to_string_pretty(one),
            many => serde_json::to_string_pretty(many),
        };
        // Serialising plain data with string keys cannot fail.
        let mut text = text.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}
