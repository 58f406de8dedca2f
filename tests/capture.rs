//! Packet capture: the pcapng file read back, and (on Linux, as root) a real connection
//! captured on a fresh namespace's loopback.

use std::borrow::Cow;

use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use tcplab::capture::parse::{packets, Frame};
use tcplab::capture::pcapng::{write_pcapng, PcapRun};
use tcplab::capture::PointInfo;
use tcplab::packet::{Packet, Way};

/// Every block of a pcapng file: (interface names, packets as (interface, flags, comment)).
type Read = (Vec<String>, Vec<(u32, Option<u32>, Option<String>)>);

fn read_back(bytes: &[u8]) -> Read {
    let mut r = PcapNgReader::new(bytes).expect("a section header");
    let mut packets = Vec::new();
    while let Some(b) = r.next_block() {
        if let Block::EnhancedPacket(e) = b.expect("a block") {
            let flags = e.options.iter().find_map(|o| match o {
                EnhancedPacketOption::Flags(f) => Some(*f),
                _ => None,
            });
            let comment = e.options.iter().find_map(|o| match o {
                EnhancedPacketOption::Comment(Cow::Borrowed(c)) => Some(c.to_string()),
                EnhancedPacketOption::Comment(Cow::Owned(c)) => Some(c.clone()),
                _ => None,
            });
            packets.push((e.interface_id, flags, comment));
        }
    }
    let names = r
        .interfaces()
        .iter()
        .map(|i| {
            i.options
                .iter()
                .find_map(|o| match o {
                    pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_default()
        })
        .collect();
    (names, packets)
}

/// Two data segments from a to b, seen leaving a and arriving at b.
fn wire_packets() -> Vec<Packet> {
    let frame = |seq: u32| {
        let mut bytes = Vec::new();
        etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 89, 0, 1], [10, 89, 0, 2], 64)
            .tcp(40000, 5000, seq, 1000)
            .ack(1)
            .write(&mut bytes, &[0; 100])
            .unwrap();
        bytes
    };
    let at = |point: &str, way: Way, seq: u32, at_ms: f64| Frame {
        point: point.to_owned(),
        way: Some(way),
        ts_ns: 1_700_000_000_000_000_000 + (at_ms * 1e6) as u64,
        at_ms,
        orig_len: 154,
        bytes: frame(seq),
    };
    let mut p = packets(&[
        at("a", Way::Out, 1, 1.0),
        at("a", Way::Out, 101, 1.1),
        at("b", Way::In, 101, 1.3),
    ]);
    p[0].wire = Some("dropped: loss #1".to_owned());
    p
}

// ---- pcapng ----

#[test]
fn a_pcapng_file_reads_back_with_its_interfaces_directions_and_wire_notes() {
    let points = [
        PointInfo {
            name: "a".into(),
            ifname: "veth-a".into(),
        },
        PointInfo {
            name: "b".into(),
            ifname: "veth-b".into(),
        },
    ];
    let p = wire_packets();
    let runs = [
        PcapRun {
            title: "wire-loss (engine std, repeat 1)",
            points: &points,
            packets: &p,
        },
        PcapRun {
            title: "wire-loss (engine std, repeat 2)",
            points: &points,
            packets: &p[1..],
        },
    ];
    let mut file = Vec::new();
    write_pcapng(&mut file, &runs).unwrap();
    // For a look with tcpdump or tshark by hand.
    if let Ok(path) = std::env::var("TCPLAB_PCAP_OUT") {
        std::fs::write(path, &file).unwrap();
    }
    let (names, packets) = read_back(&file);
    assert_eq!(names, ["run1:a", "run1:b", "run2:a", "run2:b"]);
    assert_eq!(
        packets,
        [
            (0, Some(0b10), Some("dropped: loss #1".to_owned())),
            (0, Some(0b10), None),
            (1, Some(0b01), None),
            (2, Some(0b10), None),
            (3, Some(0b01), None),
        ]
    );
}

#[test]
fn loopback_packets_carry_no_direction_flag() {
    let mut p = wire_packets();
    for q in &mut p {
        q.point = "lo".into();
        q.way = None;
    }
    let points = [PointInfo {
        name: "lo".into(),
        ifname: "lo".into(),
    }];
    let mut file = Vec::new();
    write_pcapng(
        &mut file,
        &[PcapRun {
            title: "t",
            points: &points,
            packets: &p,
        }],
    )
    .unwrap();
    let (names, packets) = read_back(&file);
    assert_eq!(names, ["run1:lo"]);
    assert_eq!(packets.len(), 3);
    assert!(packets.iter().all(|(i, f, _)| *i == 0 && f.is_none()));
}

// ---- a real capture (Linux, root) ----

#[cfg(target_os = "linux")]
// AF_PACKET and network namespaces are Linux's.
mod live {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use tcplab::capture::figures::FigureValue;
    use tcplab::capture::{Capture, CapturePoint, NetnsFd};
    use tcplab::packet::Packet;

    /// Every wait of the test is bounded by this.
    const LIMIT: Duration = Duration::from_secs(10);
    const DATA: &[u8] = b"0123456789";

    fn count(p: &[Packet], flags: &str) -> usize {
        p.iter().filter(|p| p.flags == flags).count()
    }

    #[test]
    fn a_short_connection_on_loopback_shows_its_handshake_data_and_both_fins() {
        let ns = match NetnsFd::fresh() {
            Ok(ns) => Arc::new(ns),
            Err(e) => {
                println!("SKIPPED: no network namespace here ({e})");
                return;
            }
        };
        let t0 = Instant::now();
        let point = CapturePoint {
            name: "lo".into(),
            ifname: "lo".into(),
            netns: Some(Arc::clone(&ns)),
            loopback: true,
        };
        let cap = match Capture::start(vec![point], t0) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                println!("SKIPPED: packet sockets not permitted ({e})");
                return;
            }
            Err(e) => panic!("unexpected error {e:?}"),
        };
        let listener = ns
            .run(|| TcpListener::bind("127.0.0.1:0"))
            .unwrap()
            .unwrap();
        let to = listener.local_addr().unwrap();
        let client = ns
            .run(|| TcpStream::connect_timeout(&to, LIMIT))
            .unwrap()
            .unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server.set_read_timeout(Some(LIMIT)).unwrap();
        let (client_addr, server_addr) = (client.local_addr().unwrap(), to);
        (&client).write_all(DATA).unwrap();
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < DATA.len() {
            let n = server.read(&mut buf[got..]).unwrap();
            assert_ne!(n, 0, "EOF before the data");
            got += n;
        }
        assert_eq!(got, DATA.len());
        drop(client);
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        drop(server);
        drop(listener);

        let out = cap.stop().unwrap();
        let p = &out.packets;
        assert_eq!(out.kernel_drops, 0);
        assert_eq!(out.truncated, 0);
        assert_eq!(out.points.len(), 1);
        assert!(p.iter().all(|p| p.point == "lo" && p.way.is_none()));
        assert!(p.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(p.iter().all(|p| p.at_ms >= 0.0), "{p:?}");

        assert_eq!(count(p, "SYN"), 1, "{p:#?}");
        assert_eq!(count(p, "SYN|ACK"), 1, "{p:#?}");
        let syn = p.iter().find(|p| p.flags == "SYN").unwrap();
        assert_eq!(syn.src, client_addr.to_string());
        assert_eq!(syn.dst, server_addr.to_string());
        assert_eq!(syn.seq, Some(0));
        let synack = p.iter().find(|p| p.flags == "SYN|ACK").unwrap();
        assert_eq!((synack.seq, synack.ack), (Some(0), Some(1)));

        let data: Vec<&Packet> = p.iter().filter(|p| p.len > 0).collect();
        assert_eq!(data.len(), 1, "{p:#?}");
        assert_eq!(data[0].len, DATA.len() as u32);
        assert_eq!((data[0].seq, data[0].ack), (Some(1), Some(1)));
        assert!(!data[0].retransmission);

        let fins: Vec<&Packet> = p.iter().filter(|p| p.flags.contains("FIN")).collect();
        assert_eq!(fins.len(), 2, "{p:#?}");
        let from_client = fins
            .iter()
            .find(|f| f.src == client_addr.to_string())
            .expect("the client's FIN");
        let from_server = fins
            .iter()
            .find(|f| f.src == server_addr.to_string())
            .expect("the server's FIN");
        assert_eq!(from_client.seq, Some(1 + DATA.len() as u32));
        assert_eq!(from_server.seq, Some(1));
        assert_eq!(from_server.ack, Some(2 + DATA.len() as u32));
        assert!(p.iter().all(|p| p.frame.len() <= 128 && p.orig_len >= 54));
    }

    /// Sends `total` bytes from a client to a server in `ns` and reads them all; the time
    /// the transfer took.
    fn transfer(ns: &NetnsFd, total: usize) -> Duration {
        let listener = ns
            .run(|| TcpListener::bind("127.0.0.1:0"))
            .unwrap()
            .unwrap();
        let to = listener.local_addr().unwrap();
        let started = Instant::now();
        let writer = {
            let client = ns
                .run(|| TcpStream::connect_timeout(&to, LIMIT))
                .unwrap()
                .unwrap();
            std::thread::spawn(move || {
                let chunk = vec![7u8; 64 << 10];
                let mut client = client;
                let mut sent = 0;
                while sent < total {
                    let n = chunk.len().min(total - sent);
                    client.write_all(&chunk[..n]).unwrap();
                    sent += n;
                }
            })
        };
        let (mut server, _) = listener.accept().unwrap();
        server.set_read_timeout(Some(LIMIT)).unwrap();
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0;
        loop {
            let n = server.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        writer.join().unwrap();
        assert_eq!(got, total);
        started.elapsed()
    }

    #[test]
    fn a_32_mib_transfer_is_captured_whole() {
        const TOTAL: usize = 32 << 20;
        let Ok(ns) = NetnsFd::fresh() else {
            println!("SKIPPED: no network namespace here");
            return;
        };
        let ns = Arc::new(ns);
        let bare = transfer(&ns, TOTAL);
        let point = CapturePoint {
            name: "lo".into(),
            ifname: "lo".into(),
            netns: Some(Arc::clone(&ns)),
            loopback: true,
        };
        let cap = match Capture::start(vec![point], Instant::now()) {
            Ok(c) => c,
            Err(e) => {
                println!("SKIPPED: no packet socket here ({e})");
                return;
            }
        };
        let captured = transfer(&ns, TOTAL);
        let stopping = Instant::now();
        let out = cap.stop().unwrap();
        let stop = stopping.elapsed();
        let data = tcplab::capture::figures::Figure::parse("bytes(lo, any)")
            .unwrap()
            .compute(&out.packets, &[]);
        println!(
            "32 MiB on loopback: {bare:?} bare, {captured:?} captured, stop and parse {stop:?}; \
             {} packets, {} kernel drops",
            out.packets.len(),
            out.kernel_drops
        );
        if let Ok(path) = std::env::var("TCPLAB_PCAP_OUT") {
            let points = out.points.clone();
            let file = std::fs::File::create(path).unwrap();
            tcplab::capture::pcapng::write_pcapng(
                std::io::BufWriter::new(file),
                &[tcplab::capture::pcapng::PcapRun {
                    title: "a_32_mib_transfer_is_captured_whole",
                    points: &points,
                    packets: &out.packets,
                }],
            )
            .unwrap();
        }
        assert_eq!(out.truncated, 0);
        // A drop (the capture thread starved for the whole transfer) loses segments; only
        // a capture without drops must account for every byte. Segments the loopback's
        // backlog dropped before the capture saw them are retransmitted, and count once.
        if out.kernel_drops == 0 {
            assert_eq!(data, Some(FigureValue::Count(TOTAL as u64)));
        }
    }
}
