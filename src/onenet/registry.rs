//! Products and devices as OneNET knows them (spec §3.2): a product (项目) has a numeric id and a master
//! API key; a device has a numeric id, belongs to one product and carries an `auth_info` that is unique
//! within that product. Users type the ids their firmware already carries; generated ones are numeric
//! like the platform's.

use rand::Rng;
use serde::Serialize;

/// A product: the `username` a device sends in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// Master API key: auth method 2 password, and the HTTP `api-key`.
    pub api_key: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// A device: the `client_id` a device sends in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub id: String,
    pub product_id: String,
    pub name: String,
    /// Auth method 1 password; unique within the product.
    pub auth_info: String,
    pub created_at: i64,
    /// Registered by `auto_register` on its first connection rather than by a person.
    pub auto_registered: bool,
}

/// Why an id, key or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidField(pub String);

/// OneNET ids are decimal numbers; firmware stores them as strings, so they are kept as typed (no leading
/// zeros are stripped) but must be 1–20 ASCII digits.
pub fn validate_id(what: &str, id: &str) -> Result<(), InvalidField> {
    if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidField(format!(
            "{what} id '{id}' is not valid: OneNET ids are 1 to 20 decimal digits"
        )));
    }
    Ok(())
}

/// auth_info and API keys travel as the MQTT password: printable ASCII, no spaces, 1–64 bytes.
pub fn validate_secret(what: &str, s: &str) -> Result<(), InvalidField> {
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidField(format!(
            "{what} is not valid: use 1 to 64 printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

pub fn validate_name(what: &str, s: &str) -> Result<(), InvalidField> {
    if s.chars().count() > 128 || s.chars().any(char::is_control) {
        return Err(InvalidField(format!(
            "{what} name is not valid: at most 128 characters, no control characters"
        )));
    }
    Ok(())
}

/// A fresh numeric id in the range the platform hands out (8 digits for devices, 6 for products).
pub fn generate_id(digits: u32) -> String {
    let lo = 10u64.pow(digits - 1);
    rand::rng().random_range(lo..lo * 10).to_string()
}

/// A fresh secret of `len` letters and digits (auth_info, API keys).
pub fn generate_secret(len: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_digits() {
        assert!(validate_id("device", "9277").is_ok());
        assert!(validate_id("device", "").is_err());
        assert!(
            validate_id("device", "92a7")
                .unwrap_err()
                .0
                .contains("92a7")
        );
        assert!(validate_id("device", &"1".repeat(21)).is_err());
    }

    #[test]
    fn secrets_are_printable() {
        assert!(validate_secret("auth_info", "abc123").is_ok());
        assert!(validate_secret("auth_info", "a b").is_err());
        assert!(validate_secret("auth_info", "").is_err());
    }

    #[test]
    fn generated_values_validate() {
        for _ in 0..100 {
            let id = generate_id(8);
            assert_eq!(id.len(), 8);
            validate_id("device", &id).unwrap();
            validate_secret("key", &generate_secret(28)).unwrap();
        }
    }
}
