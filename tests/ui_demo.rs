//! `onenet-desk demo` (README "Try it without hardware"): the console opens with a group of virtual devices
//! that register themselves, log in and upload `$dp` as soon as the broker runs, with nothing clicked.
#![cfg(feature = "gui")]

mod common;

use common::ui::{has_part, live_app, live_config, step_until};

#[test]
fn demo_starts_virtual_devices_that_upload_without_a_click() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = live_app(live_config(dir.path()));
    h.state_mut().panels.simulator.start_demo("339", 3);
    step_until(&mut h, "3 virtual devices online", |h| {
        let m = &h.state().model;
        m.sessions
            .iter()
            .filter(|s| s.online && !["9277", "9278", "9279"].contains(&s.client_id.as_str()))
            .count()
            == 3
    });
    step_until(&mut h, "datapoints from each virtual device", |h| {
        let m = &h.state().model;
        m.sessions
            .iter()
            .filter(|s| s.online)
            .all(|s| m.streams.get(&s.client_id).is_some_and(|st| !st.is_empty()))
    });
    // Registered in the data dir's registry as virtual devices of the product.
    let svc = h.state().service().unwrap().clone();
    let virtual_devices: Vec<_> = common::open_db(&svc)
        .devices(Some("339"))
        .unwrap()
        .into_iter()
        .filter(|d| d.name.starts_with("virtual "))
        .collect();
    assert_eq!(virtual_devices.len(), 3, "{virtual_devices:?}");
    assert!(
        has_part(&h, "group 1"),
        "the Simulator window is open with the group listed"
    );
    h.state_mut().shutdown();
}
