//! Turns the service's packet events into recording lines for one device.

use crate::events::{Direction, Event, EventReceiver, Received};
use crate::service::ServiceHandle;

use super::{Dir, Line};

/// Records one device's packets from the moment it is created.
pub struct Recorder {
    rx: EventReceiver,
    device: String,
    first_at: Option<i64>,
}

impl Recorder {
    pub fn new(service: &ServiceHandle, device: &str) -> Recorder {
        Recorder {
            rx: service.events(),
            device: device.to_string(),
            first_at: None,
        }
    }

    /// The next line of this device's session: a packet, or a gap if the recorder fell behind. `None` once
    /// the service stopped.
    pub async fn next(&mut self) -> Option<Line> {
        loop {
            match self.rx.recv().await? {
                Received::Event(Event::Packet {
                    at,
                    client_id: Some(c),
                    direction,
                    bytes,
                    ..
                }) if c == self.device => {
                    let first = *self.first_at.get_or_insert(at);
                    let dir = match direction {
                        Direction::In => Dir::Up,
                        Direction::Out => Dir::Down,
                    };
                    return Some(Line::packet((at - first).max(0) as u64, dir, &bytes));
                }
                Received::Missed(n) => {
                    return Some(Line {
                        t_ms: self
                            .first_at
                            .map_or(0, |f| (crate::store::now_millis() - f).max(0) as u64),
                        dir: None,
                        hex: String::new(),
                        summary: String::new(),
                        missed: Some(n),
                    });
                }
                _ => {}
            }
        }
    }
}
