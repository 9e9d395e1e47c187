//! CONNECT admission (spec §3.2, §3.3 and the CONNACK codes decided in §13). Pure: the registry is read
//! through [`Lookup`], so every rule is tested without a socket or a database.

use crate::config::Profile;
use crate::mqtt::{Connect, ConnectReturnCode};
use crate::onenet::registry::{Device, Product};

/// Registry reads auth needs.
pub trait Lookup {
    type Error;
    fn product(&self, id: &str) -> Result<Option<Product>, Self::Error>;
    fn device(&self, id: &str) -> Result<Option<Device>, Self::Error>;
}

/// Which credential a OneNET device used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Method 1: password = the device's auth_info.
    AuthInfo,
    /// Method 2: password = the product's master API key.
    ApiKey,
    /// `mqtt` profile: no registry.
    Anonymous,
}

/// What to do with a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept. `namespace` scopes topics (the product id in `onenet`, empty in `mqtt`).
    Accept {
        namespace: String,
        method: AuthMethod,
        /// `auto_register`: register this device (id = client id, auth_info = password) before accepting.
        register: Option<(String, String)>,
    },
    /// Answer CONNACK with this code, then close.
    Refuse(ConnectReturnCode, String),
    /// Close without CONNACK: the CONNECT breaks a OneNET rule the platform treats as a protocol error.
    Close(String),
}

/// Decides admission for `connect` under `profile`.
pub fn decide<L: Lookup>(
    profile: Profile,
    connect: &Connect,
    auto_register: bool,
    lookup: &L,
) -> Result<Decision, L::Error> {
    let level_ok = match profile {
        Profile::OneNet => connect.level == 4 && connect.protocol_name == "MQTT",
        Profile::Mqtt => {
            (connect.level == 4 && connect.protocol_name == "MQTT")
                || (connect.level == 3 && connect.protocol_name == "MQIsdp")
        }
    };
    if !level_ok {
        return Ok(Decision::Refuse(
            ConnectReturnCode::UnacceptableProtocolVersion,
            format!(
                "protocol {} level {} is not supported: OneNET speaks MQTT 3.1.1 (level 4) only",
                connect.protocol_name, connect.level
            ),
        ));
    }
    match profile {
        Profile::Mqtt => {
            if connect.client_id.is_empty() && !connect.clean_session {
                return Ok(Decision::Refuse(
                    ConnectReturnCode::IdentifierRejected,
                    "[MQTT-3.1.3-8] an empty client id needs clean session 1".into(),
                ));
            }
            Ok(Decision::Accept {
                namespace: String::new(),
                method: AuthMethod::Anonymous,
                register: None,
            })
        }
        Profile::OneNet => decide_onenet(connect, auto_register, lookup),
    }
}

fn decide_onenet<L: Lookup>(
    connect: &Connect,
    auto_register: bool,
    lookup: &L,
) -> Result<Decision, L::Error> {
    let (Some(user), Some(password)) = (&connect.username, &connect.password) else {
        return Ok(Decision::Close(
            "user name and password flags must both be 1: OneNET does not allow anonymous login (§3.2)"
                .into(),
        ));
    };
    let refuse = |code, why: String| Ok(Decision::Refuse(code, why));
    let Some(product) = lookup.product(user)? else {
        return refuse(
            ConnectReturnCode::IdentifierRejected,
            format!("user name '{user}' is not a product id known here"),
        );
    };
    let password = String::from_utf8_lossy(password);
    // Both secrets are compared, each in constant time, before anything branches on either result, so
    // how long CONNACK takes tells a guesser neither how much of a secret was right nor which one matched.
    let (known, api_key_ok) = match lookup.device(&connect.client_id)? {
        Some(device) => {
            let a = constant_time_eq(password.as_bytes(), device.auth_info.as_bytes());
            let k = constant_time_eq(password.as_bytes(), product.api_key.as_bytes());
            (Some((device, a)), k)
        }
        None => (None, false),
    };
    let accept = |method| {
        Ok(Decision::Accept {
            namespace: product.id.clone(),
            method,
            register: None,
        })
    };
    match known {
        Some((device, _)) if device.product_id != product.id => refuse(
            ConnectReturnCode::IdentifierRejected,
            format!(
                "device {} belongs to product {}, not to product {}",
                device.id, device.product_id, product.id
            ),
        ),
        Some((_, true)) => accept(AuthMethod::AuthInfo),
        Some(_) if api_key_ok => accept(AuthMethod::ApiKey),
        Some((device, false)) => refuse(
            ConnectReturnCode::BadUserNameOrPassword,
            format!(
                "password is neither device {}'s auth_info nor product {}'s API key",
                device.id, product.id
            ),
        ),
        None if auto_register
            && crate::onenet::registry::validate_id("device", &connect.client_id).is_ok()
            && crate::onenet::registry::validate_secret("auth_info", &password).is_ok() =>
        {
            Ok(Decision::Accept {
                namespace: product.id.clone(),
                method: AuthMethod::AuthInfo,
                register: Some((connect.client_id.clone(), password.into_owned())),
            })
        }
        None => refuse(
            ConnectReturnCode::IdentifierRejected,
            format!(
                "client id '{}' is not a device of product {}",
                connect.client_id, product.id
            ),
        ),
    }
}

/// Compares two secrets in time that depends only on their lengths, not on where they first differ: every
/// byte position up to the longer length is visited and the differences are OR-ed, with no early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    // Keeps the optimiser from turning the loop back into a comparison that stops at the first difference.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::collections::HashMap;

    struct Fake(HashMap<String, Product>, HashMap<String, Device>);
    impl Lookup for Fake {
        type Error = ();
        fn product(&self, id: &str) -> Result<Option<Product>, ()> {
            Ok(self.0.get(id).cloned())
        }
        fn device(&self, id: &str) -> Result<Option<Device>, ()> {
            Ok(self.1.get(id).cloned())
        }
    }

    fn registry() -> Fake {
        let p = |id: &str, key: &str| Product {
            id: id.into(),
            name: id.into(),
            api_key: key.into(),
            created_at: 0,
        };
        let d = |id: &str, product: &str, auth: &str| Device {
            id: id.into(),
            product_id: product.into(),
            name: id.into(),
            auth_info: auth.into(),
            created_at: 0,
            auto_registered: false,
        };
        Fake(
            [
                ("339".into(), p("339", "KEY339")),
                ("400".into(), p("400", "KEY400")),
            ]
            .into(),
            [
                ("9277".into(), d("9277", "339", "abc123")),
                ("5".into(), d("5", "400", "x")),
            ]
            .into(),
        )
    }

    fn connect(client: &str, user: Option<&str>, pass: Option<&str>) -> Connect {
        Connect {
            protocol_name: "MQTT".into(),
            level: 4,
            clean_session: true,
            keep_alive: 120,
            client_id: client.into(),
            will: None,
            username: user.map(Into::into),
            password: pass.map(|p| Bytes::copy_from_slice(p.as_bytes())),
        }
    }

    fn code(d: Decision) -> Option<ConnectReturnCode> {
        match d {
            Decision::Refuse(c, _) => Some(c),
            Decision::Accept { .. } => Some(ConnectReturnCode::Accepted),
            Decision::Close(_) => None,
        }
    }

    #[test]
    fn onenet_codes() {
        let r = registry();
        let run = |c: &Connect| code(decide(Profile::OneNet, c, false, &r).unwrap());
        use ConnectReturnCode::*;
        assert_eq!(
            run(&connect("9277", Some("339"), Some("abc123"))),
            Some(Accepted)
        );
        assert_eq!(
            run(&connect("9277", Some("339"), Some("KEY339"))),
            Some(Accepted)
        );
        assert_eq!(
            run(&connect("9277", Some("339"), Some("nope"))),
            Some(BadUserNameOrPassword)
        );
        assert_eq!(
            run(&connect("9999", Some("339"), Some("abc123"))),
            Some(IdentifierRejected)
        );
        assert_eq!(
            run(&connect("9277", Some("1"), Some("abc123"))),
            Some(IdentifierRejected)
        );
        // a device of another product, even with that product's key
        assert_eq!(
            run(&connect("5", Some("339"), Some("KEY339"))),
            Some(IdentifierRejected)
        );
        assert_eq!(run(&connect("9277", None, None)), None);
        assert_eq!(run(&connect("9277", Some("339"), None)), None);
        let mut old = connect("9277", Some("339"), Some("abc123"));
        old.level = 3;
        assert_eq!(run(&old), Some(UnacceptableProtocolVersion));
    }

    #[test]
    fn secrets_compare_whole_and_exact() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc123", b"abc123"));
        for wrong in [
            &b"abc12"[..],
            b"abc1234",
            b"abc124",
            b"xbc123",
            b"",
            b"abc123\0",
        ] {
            assert!(!constant_time_eq(b"abc123", wrong), "{wrong:?}");
            assert!(!constant_time_eq(wrong, b"abc123"), "{wrong:?}");
        }
        // through CONNECT: a prefix or an extension of either secret is refused with code 4
        let r = registry();
        let run = |p: &str| {
            code(
                decide(
                    Profile::OneNet,
                    &connect("9277", Some("339"), Some(p)),
                    false,
                    &r,
                )
                .unwrap(),
            )
        };
        for p in [
            "abc12",
            "abc1234",
            "abc12\u{0}",
            "KEY33",
            "KEY3399",
            "key339",
        ] {
            assert_eq!(
                run(p),
                Some(ConnectReturnCode::BadUserNameOrPassword),
                "{p:?}"
            );
        }
        assert_eq!(run("abc123"), Some(ConnectReturnCode::Accepted));
        assert_eq!(run("KEY339"), Some(ConnectReturnCode::Accepted));
    }

    #[test]
    fn auto_register_takes_the_password_as_auth_info() {
        let r = registry();
        let d = decide(
            Profile::OneNet,
            &connect("777", Some("339"), Some("s3cret")),
            true,
            &r,
        )
        .unwrap();
        assert_eq!(
            d,
            Decision::Accept {
                namespace: "339".into(),
                method: AuthMethod::AuthInfo,
                register: Some(("777".into(), "s3cret".into())),
            }
        );
        // unknown product is still refused
        let d = decide(
            Profile::OneNet,
            &connect("777", Some("1"), Some("s")),
            true,
            &r,
        )
        .unwrap();
        assert_eq!(code(d), Some(ConnectReturnCode::IdentifierRejected));
    }

    #[test]
    fn mqtt_profile_is_anonymous() {
        let r = registry();
        let d = decide(Profile::Mqtt, &connect("anything", None, None), false, &r).unwrap();
        assert!(matches!(
            d,
            Decision::Accept {
                method: AuthMethod::Anonymous,
                ..
            }
        ));
        let mut c = connect("", None, None);
        c.clean_session = false;
        assert_eq!(
            code(decide(Profile::Mqtt, &c, false, &r).unwrap()),
            Some(ConnectReturnCode::IdentifierRejected)
        );
    }
}
