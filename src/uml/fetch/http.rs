//! A plain-HTTP GET of the archive's files, with redirects and progress on stderr.
//!
//! Debian's archive is served over HTTP; what comes back is trusted only after the
//! signature and hash checks (`verify.rs`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::FetchError;

/// How long one read from the archive may take before the download is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// A plain-HTTP GET (Debian's archive is served over HTTP; apt authenticates the files
/// by signature and hash, as this fetch does). Follows redirects to other `http://`
/// addresses. With a label, prints progress to stderr.
pub fn http_get(url: &str, label: Option<&str>) -> Result<Vec<u8>, FetchError> {
    let mut url = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        match get_once(&url, label)? {
            Got::Body(b) => return Ok(b),
            Got::Redirect(to) => url = to,
        }
    }
    Err(FetchError::Http {
        url,
        why: format!("more than {MAX_REDIRECTS} redirects"),
    })
}

enum Got {
    Body(Vec<u8>),
    Redirect(String),
}

fn get_once(url: &str, label: Option<&str>) -> Result<Got, FetchError> {
    let http = |why: String| FetchError::Http {
        url: url.to_owned(),
        why,
    };
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        http("only http:// archives are supported (apt's default for deb.debian.org)".into())
    })?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:80")
    };
    let stream = TcpStream::connect(&addr).map_err(|e| http(format!("cannot connect: {e}")))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| http(e.to_string()))?;
    let mut w = &stream;
    write!(
        w,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: tcplab/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| http(e.to_string()))?;
    let mut r = BufReader::new(&stream);
    let mut status = String::new();
    r.read_line(&mut status).map_err(|e| http(e.to_string()))?;
    let code: u16 = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| http(format!("not an HTTP answer: {:?}", status.trim())))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut location = None;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| http(e.to_string()))?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "content-length" => length = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "location" => location = Some(v.to_owned()),
                _ => {}
            }
        }
    }
    if (300..400).contains(&code) {
        let to = location.ok_or_else(|| http(format!("HTTP {code} without a Location")))?;
        let to = if to.starts_with('/') {
            format!("http://{hostport}{to}")
        } else {
            to
        };
        return Ok(Got::Redirect(to));
    }
    if code != 200 {
        return Err(http(status.trim().to_owned()));
    }
    let mut body = Vec::with_capacity(length.unwrap_or(0));
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).map_err(|e| http(e.to_string()))?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| http(format!("bad chunk size {:?}", line.trim())))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])
                .map_err(|e| http(e.to_string()))?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).map_err(|e| http(e.to_string()))?;
        }
    } else {
        let mut buf = vec![0u8; 256 * 1024];
        let mut next_report = 0.25;
        loop {
            let n = r.read(&mut buf).map_err(|e| http(e.to_string()))?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
            if let (Some(label), Some(total)) = (label, length) {
                let done = body.len() as f64 / total.max(1) as f64;
                if done >= next_report && done < 1.0 {
                    eprintln!("{label}: {:.0}%", done * 100.0);
                    next_report += 0.25;
                }
            }
            if length.is_some_and(|l| body.len() >= l) {
                break;
            }
        }
        if let Some(l) = length.filter(|&l| body.len() < l) {
            return Err(http(format!(
                "the connection closed after {} of {l} bytes",
                body.len()
            )));
        }
    }
    if let Some(label) = label {
        eprintln!("{label}: done");
    }
    Ok(Got::Body(body))
}
